//! Per-face inboxes: how received frames travel from face tasks to the core task.
//!
//! Every face has its own bounded queue of frames (its *inbox*). A face task pushes what it
//! reads into it; when the inbox is full the face task waits, so back-pressure stops that
//! face only (a stream face stops reading its socket, a UDP face leaves datagrams in its own
//! socket buffer, where the kernel drops that peer's excess). A face announces itself to the
//! core task once, by putting its id on the shared *ready queue*, and not again until the
//! core task has emptied its inbox: a `scheduled` flag says whether the id is (or is about to
//! be) in the core task's hands. The core task serves ready faces in rounds (see
//! `Engine::serve_faces`), a quantum each, so a busy face cannot crowd out the others the way
//! it could in one shared FIFO.
//!
//! Per frame this costs one push and one pop on the face's queue, as the shared channel did;
//! the flag and the ready queue cost one atomic swap (and, at most, one ready-queue push) per
//! batch of frames a face task read at once, not per frame.
//!
//! **The flag protocol.** The face task pushes, then (after a fence) sets the flag and, if it
//! was clear, sends its id. The core task, finding the inbox empty, clears the flag, then
//! (after a fence) looks at the inbox again; if something arrived meanwhile and it wins the
//! flag back, it keeps the face in its round. The two fences order "push, then read flag"
//! against "clear flag, then read queue", so a frame is never left in an inbox that nobody
//! will serve.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::core::dispatch::Dispatcher;
use crate::core::{FaceId, Frame};

/// Frames an inbox holds. A face that reads more than this before the core task serves it
/// waits. Larger than the core task's quantum (`engine::QUANTUM`), so a busy face always has
/// a full quantum waiting while the next batch is read; small, because the memory faces can
/// hold in their inboxes grows with the number of faces (at most `INBOX` frames of at most
/// `MAX_FRAME` bytes each, each in a buffer of its own size).
pub(super) const INBOX: usize = 64;

/// The sending side of the ready queue: ids of faces with frames waiting. Unbounded, but
/// each face is in it at most once (the flag), so it never holds more ids than there are
/// faces.
pub(super) type ReadyTx = mpsc::UnboundedSender<FaceId>;
/// The core task's side of the ready queue.
pub(super) type ReadyRx = mpsc::UnboundedReceiver<FaceId>;

/// The core task dropped the face: its task should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Gone;

/// A new inbox for `face`.
pub(super) fn inbox(face: FaceId, ready: &ReadyTx) -> (InboxTx, InboxRx) {
    let (lane, rx) = lane(face, ready);
    (
        InboxTx {
            lanes: vec![lane],
            dispatcher: None,
            touched: AtomicU64::new(0),
            pushed: None,
        },
        rx,
    )
}

/// A new inbox for `face` on a sharded forwarder: a lane per shard, the leader's announced
/// on `leader` and follower k's on `followers[k - 1]`, and the face task hands each frame to
/// the shard `dispatcher` says owns it. The leader's lane, then the followers' in order.
pub(super) fn sharded_inbox(
    face: FaceId,
    leader: &ReadyTx,
    followers: &[ReadyTx],
    dispatcher: Dispatcher,
    pushed: Arc<AtomicU64>,
) -> (InboxTx, InboxRx, Vec<InboxRx>) {
    let (first, leader_rx) = lane(face, leader);
    let (rest, follower_rxs): (Vec<Lane>, Vec<InboxRx>) =
        followers.iter().map(|ready| lane(face, ready)).unzip();
    let mut lanes = Vec::with_capacity(1 + rest.len());
    lanes.push(first);
    lanes.extend(rest);
    (
        InboxTx {
            lanes,
            dispatcher: Some(dispatcher),
            touched: AtomicU64::new(0),
            pushed: Some(pushed),
        },
        leader_rx,
        follower_rxs,
    )
}

fn lane(face: FaceId, ready: &ReadyTx) -> (Lane, InboxRx) {
    let (tx, rx) = mpsc::channel(INBOX);
    let scheduled = Arc::new(AtomicBool::new(false));
    (
        Lane {
            face,
            queue: tx,
            scheduled: Arc::clone(&scheduled),
            ready: ready.clone(),
        },
        InboxRx {
            queue: rx,
            scheduled,
        },
    )
}

/// The face task's side of an inbox: a lane per shard (one unless sharded).
#[derive(Debug)]
pub(super) struct InboxTx {
    lanes: Vec<Lane>,
    /// Which shard owns a frame; `None` with one shard.
    dispatcher: Option<Dispatcher>,
    /// Lanes pushed to since the last announcement, a bit each (at most 64 shards). Atomic
    /// only so that the face task's future stays `Send`; one task uses it.
    touched: AtomicU64,
    /// Frames pushed, counted for the leader when sharded: it decides when a face is idle,
    /// and may not see the frames its followers get.
    pushed: Option<Arc<AtomicU64>>,
}

/// One shard's queue of a face's inbox.
#[derive(Debug)]
struct Lane {
    face: FaceId,
    queue: mpsc::Sender<Frame>,
    scheduled: Arc<AtomicBool>,
    ready: ReadyTx,
}

impl InboxTx {
    /// Queues a frame for the shard that owns it, waiting while that shard's queue is full.
    /// The caller must call [`InboxTx::announce`] after its batch of pushes (before it waits
    /// on anything else).
    pub(super) async fn push(&self, frame: Frame) -> Result<(), Gone> {
        let shard = self
            .dispatcher
            .as_ref()
            .map_or(0, |d| usize::from(d.shard_of_frame(&frame)));
        let Some(lane) = self.lanes.get(shard) else {
            return Err(Gone);
        };
        if let Some(pushed) = &self.pushed {
            // One task writes both (the face task owns this side): plain loads and stores,
            // no read-modify-write on the per-frame path.
            let touched = self.touched.load(Ordering::Relaxed);
            self.touched.store(touched | 1 << shard, Ordering::Relaxed);
            pushed.store(
                pushed.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
        match lane.queue.try_send(frame) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(frame)) => {
                // The shard must hear of us before we wait for it to make room.
                lane.announce();
                lane.queue.send(frame).await.map_err(|_| Gone)
            }
            // A follower shard lets go of the face only after the leader did.
            Err(TrySendError::Closed(_)) => Err(Gone),
        }
    }

    /// Tells the shards that frames are waiting, unless they already know.
    pub(super) fn announce(&self) {
        if self.dispatcher.is_none() {
            if let Some(lane) = self.lanes.first() {
                lane.announce();
            }
            return;
        }
        let mut touched = self.touched.load(Ordering::Relaxed);
        self.touched.store(0, Ordering::Relaxed);
        while touched != 0 {
            let shard = touched.trailing_zeros() as usize;
            touched &= touched - 1;
            if let Some(lane) = self.lanes.get(shard) {
                lane.announce();
            }
        }
    }

    /// Whether the core task (the leader's, when sharded) dropped the face.
    pub(super) fn is_closed(&self) -> bool {
        self.lanes.first().is_none_or(|l| l.queue.is_closed())
    }
}

impl Lane {
    fn announce(&self) {
        // Orders the pushes before the flag read; pairs with the fence in `InboxRx::idle`.
        fence(Ordering::SeqCst);
        if !self.scheduled.swap(true, Ordering::Relaxed) {
            // Fails only when the core task is gone, which the next push reports.
            let _ = self.ready.send(self.face);
        }
    }
}

/// The core task's side of an inbox.
#[derive(Debug)]
pub(super) struct InboxRx {
    queue: mpsc::Receiver<Frame>,
    scheduled: Arc<AtomicBool>,
}

impl InboxRx {
    /// Hands up to `quantum` waiting frames to `receive`: how many, and whether the face keeps
    /// its place in the round. A full quantum may have left frames; an empty inbox is handed
    /// back to the face task, unless a frame slipped in meanwhile ([`Self::idle`]).
    pub(super) fn serve(
        &mut self,
        quantum: usize,
        mut receive: impl FnMut(Frame),
    ) -> (usize, bool) {
        let mut served = 0;
        while served < quantum {
            let Some(frame) = self.pop() else {
                break;
            };
            receive(frame);
            served += 1;
        }
        (served, served == quantum || self.idle())
    }

    /// The next waiting frame, without waiting.
    pub(super) fn pop(&mut self) -> Option<Frame> {
        self.queue.try_recv().ok()
    }

    /// Called when [`InboxRx::pop`] found the inbox empty: hands the face back to its task.
    /// Returns true if a frame arrived meanwhile and the core task must keep serving the face
    /// (it then holds the flag again and must not expect the id on the ready queue).
    pub(super) fn idle(&mut self) -> bool {
        self.scheduled.store(false, Ordering::Relaxed);
        // Orders the flag store before the queue read; pairs with the fence in `announce`.
        fence(Ordering::SeqCst);
        !self.queue.is_empty() && !self.scheduled.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_face_is_announced_once_until_served() {
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        let (tx, mut rx) = inbox(FaceId(7), &ready_tx);
        for i in 0..3u8 {
            tx.push(Frame::copy_from(&[i])).await.unwrap();
            tx.announce();
        }
        assert_eq!(ready.try_recv().ok(), Some(FaceId(7)));
        assert!(ready.try_recv().is_err(), "announced twice");
        for i in 0..3u8 {
            assert_eq!(rx.pop().unwrap()[0], i);
        }
        assert!(rx.pop().is_none());
        assert!(!rx.idle());
        // Handed back: the next push announces again.
        tx.push(Frame::copy_from(b"x")).await.unwrap();
        tx.announce();
        assert_eq!(ready.try_recv().ok(), Some(FaceId(7)));
    }

    #[tokio::test]
    async fn a_frame_pushed_while_the_engine_looks_away_is_not_lost() {
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        let (tx, mut rx) = inbox(FaceId(1), &ready_tx);
        tx.push(Frame::copy_from(b"a")).await.unwrap();
        tx.announce();
        assert_eq!(ready.try_recv().ok(), Some(FaceId(1)));
        assert!(rx.pop().is_some());
        // The face pushes after the engine's last pop but before it clears the flag: its
        // announce sees the flag still set and sends nothing, so `idle` must keep the face.
        tx.push(Frame::copy_from(b"b")).await.unwrap();
        tx.announce();
        assert!(ready.try_recv().is_err());
        assert!(rx.idle());
        assert!(rx.pop().is_some());
        assert!(!rx.idle());
    }

    #[tokio::test]
    async fn a_full_inbox_announces_before_waiting_and_a_dropped_one_says_gone() {
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        let (tx, mut rx) = inbox(FaceId(2), &ready_tx);
        for _ in 0..INBOX {
            tx.push(Frame::copy_from(b"f")).await.unwrap();
        }
        // No announce yet: the push that finds the inbox full must make it.
        let pusher = tokio::spawn(async move {
            tx.push(Frame::copy_from(b"g")).await.unwrap();
            tx
        });
        let id = tokio::time::timeout(std::time::Duration::from_secs(5), ready.recv())
            .await
            .unwrap();
        assert_eq!(id, Some(FaceId(2)));
        assert!(rx.pop().is_some());
        let tx = pusher.await.unwrap();
        drop(rx);
        assert_eq!(tx.push(Frame::copy_from(b"h")).await, Err(Gone));
        assert!(tx.is_closed());
    }

    #[tokio::test]
    async fn a_sharded_inbox_hands_each_frame_to_its_shard_and_announces_each_shard_once() {
        use nfwd_tlv::{DataBuilder, InterestBuilder, Signer};
        let (leader_tx, mut leader_ready) = mpsc::unbounded_channel();
        let followers: Vec<_> = (0..3).map(|_| mpsc::unbounded_channel()).collect();
        let readies: Vec<ReadyTx> = followers.iter().map(|(tx, _)| tx.clone()).collect();
        let dispatcher = Dispatcher::new(4, nfwd_tlv::NameHasher::new()).unwrap();
        let pushed = Arc::new(AtomicU64::new(0));
        let (tx, mut leader_rx, mut follower_rxs) = sharded_inbox(
            FaceId(9),
            &leader_tx,
            &readies,
            dispatcher.clone(),
            Arc::clone(&pushed),
        );
        let mut expected = [0usize; 4];
        for k in 0..40 {
            let wire = InterestBuilder::new(format!("/n{k}/x").parse().unwrap())
                .build()
                .unwrap()
                .wire()
                .clone();
            expected[usize::from(dispatcher.shard_of_frame(&wire))] += 1;
            tx.push(Frame::copy_from(&wire)).await.unwrap();
        }
        // A Data naming shard 2 in its token goes there, whatever its name.
        let data = DataBuilder::new("/n0/x".parse().unwrap(), b"d".to_vec())
            .build(&Signer::digest_sha256())
            .unwrap();
        let frame = nfwd_tlv::lp::LpPacket::from_fragment(data.wire().clone())
            .with_pit_token(nfwd_tlv::lp::PitToken::from_u64(2 << 56))
            .encode();
        tx.push(Frame::copy_from(&frame)).await.unwrap();
        expected[2] += 1;
        tx.announce();
        tx.announce();
        assert_eq!(pushed.load(Ordering::Relaxed), 41);
        let mut got = [0usize; 4];
        while leader_rx.pop().is_some() {
            got[0] += 1;
        }
        for (k, rx) in follower_rxs.iter_mut().enumerate() {
            while rx.pop().is_some() {
                got[k + 1] += 1;
            }
        }
        assert_eq!(got, expected);
        // Each shard with frames heard of the face once; the others not at all.
        let heard = |ready: &mut ReadyRx| std::iter::from_fn(|| ready.try_recv().ok()).count();
        assert_eq!(heard(&mut leader_ready), usize::from(expected[0] > 0));
        for (k, (_, ready)) in followers.into_iter().enumerate() {
            let mut ready = ready;
            assert_eq!(heard(&mut ready), usize::from(expected[k + 1] > 0));
        }
    }
}

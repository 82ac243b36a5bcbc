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
use std::sync::atomic::{AtomicBool, Ordering, fence};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

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
    let (tx, rx) = mpsc::channel(INBOX);
    let scheduled = Arc::new(AtomicBool::new(false));
    (
        InboxTx {
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

/// The face task's side of an inbox.
#[derive(Debug)]
pub(super) struct InboxTx {
    face: FaceId,
    queue: mpsc::Sender<Frame>,
    scheduled: Arc<AtomicBool>,
    ready: ReadyTx,
}

impl InboxTx {
    /// Queues a frame, waiting while the inbox is full. The caller must call
    /// [`InboxTx::announce`] after its batch of pushes (before it waits on anything else).
    pub(super) async fn push(&self, frame: Frame) -> Result<(), Gone> {
        match self.queue.try_send(frame) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(frame)) => {
                // The core task must hear of us before we wait for it to make room.
                self.announce();
                self.queue.send(frame).await.map_err(|_| Gone)
            }
            Err(TrySendError::Closed(_)) => Err(Gone),
        }
    }

    /// Tells the core task that frames are waiting, unless it already knows.
    pub(super) fn announce(&self) {
        // Orders the pushes before the flag read; pairs with the fence in `InboxRx::idle`.
        fence(Ordering::SeqCst);
        if !self.scheduled.swap(true, Ordering::Relaxed) {
            // Fails only when the core task is gone, which the next push reports.
            let _ = self.ready.send(self.face);
        }
    }

    /// Whether the core task dropped the face.
    pub(super) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

/// The core task's side of an inbox.
#[derive(Debug)]
pub(super) struct InboxRx {
    queue: mpsc::Receiver<Frame>,
    scheduled: Arc<AtomicBool>,
}

impl InboxRx {
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
}

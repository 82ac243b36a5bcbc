//! Sharding in the driver (`docs/ARCHITECTURE.md`, "Sharding"): the follower shards, each a
//! thread of its own with a `Forwarder` of its own, and the leader engine's handle on them.
//!
//! ```text
//!  face task ──shard_of_frame──► lane 0 ──► leader engine (shard 0): I/O, faces, management
//!            └───────────────► lane k ──► follower k: its Forwarder ─actions, changes─┘
//! ```
//!
//! - **Receiving.** A face's inbox has a lane per shard; its task hands each frame to the lane
//!   of the shard that owns it (`inbox.rs`, `core/dispatch.rs`). A follower serves its lanes
//!   round robin, a quantum at a time, as the engine does.
//! - **Sending.** A follower does no I/O. The actions its core returns (sends, above all) go to
//!   the leader in one message per round, over a bounded channel: when the leader falls
//!   behind, followers wait, their lanes fill and the face tasks feeding them wait in turn.
//!   The leader sends them as its own, through the faces' outboxes, pacers and write queues.
//! - **Shared state.** Every shard's changes (`core/replica.rs`) reach all others through the
//!   leader, which applies a follower's and relays them: each shard sees each other shard's
//!   changes in the order they were made. The leader never waits for a follower (its channels
//!   to them are unbounded, and carry only changes, lanes and hand-overs, which the leader's
//!   own work bounds), so the two cannot wait for each other.
//! - **Faces.** The leader announces a face to a follower with its lane (`Attach`) after the
//!   core's `FaceAdded` change, and before the face's task starts, so a follower never has
//!   frames of a face it does not know. On `FaceClosed` a follower first gives its core the
//!   frames left in the face's lane, then lets the lane go.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tracing::{debug, warn};

use super::engine::QUANTUM;
use super::inbox::{InboxRx, InboxTx, ReadyRx, ReadyTx, sharded_inbox};
use crate::core::dispatch::Dispatcher;
use crate::core::replica::{Change, Handover, ShardReport};
use crate::core::{Action, FaceId, Forwarder};

/// Messages from followers the leader may hold before followers wait.
const FROM_FOLLOWERS: usize = 256;

/// Hand-overs (reassembled packets, new UDP peers' first datagrams) a follower may have
/// waiting; beyond, they are dropped and counted. The leader never waits for a follower, so
/// without this a peer's fragments could pile up behind a busy follower without bound.
const HANDOVERS_WAITING: usize = 1024;

/// What the leader tells a follower.
enum ToFollower {
    /// The follower's lane of a face's inbox. Sent after the core's `FaceAdded` change.
    Attach { face: FaceId, lane: InboxRx },
    /// Changes another shard made, in the order it made them.
    Changes(Arc<[Change]>),
    /// A packet another shard reassembled that this one owns.
    Handover(Handover),
    /// Tests only: the follower's thread panics, as a bug would make it.
    #[cfg(test)]
    Panic,
}

/// What a follower sends the leader after a round.
pub(super) struct FromFollower {
    /// Which follower.
    pub(super) shard: u8,
    /// What its core asked for (sends, above all), for the leader to carry out.
    pub(super) actions: Vec<Action>,
    /// Changes to the shared state it made, for the leader to apply and relay.
    pub(super) changes: Vec<Change>,
    /// Packets it reassembled for other shards.
    pub(super) handovers: Vec<Handover>,
    /// What it counted, now and then, for the leader's status datasets.
    pub(super) report: Option<ShardReport>,
}

/// The leader's handle on the followers.
pub(super) struct Followers {
    dispatcher: Dispatcher,
    /// `to[k - 1]` reaches shard k.
    to: Vec<mpsc::UnboundedSender<ToFollower>>,
    /// The followers' ready queues, `readies[k - 1]` for shard k.
    readies: Vec<ReadyTx>,
    /// What the followers send.
    pub(super) from: mpsc::Receiver<FromFollower>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Hand-overs each follower has not taken yet, `waiting[k - 1]` for shard k.
    waiting: Vec<Arc<AtomicUsize>>,
    /// Hand-overs dropped because their follower had [`HANDOVERS_WAITING`] already.
    pub(super) handovers_dropped: u64,
}

impl Followers {
    /// Starts a thread per core of `followers` (shards 1, 2, ... in order).
    pub(super) fn spawn(
        followers: Vec<Forwarder>,
        dispatcher: Dispatcher,
    ) -> std::io::Result<Self> {
        let (from_tx, from) = mpsc::channel(FROM_FOLLOWERS);
        let mut this = Self {
            dispatcher,
            to: Vec::new(),
            readies: Vec::new(),
            from,
            threads: Vec::new(),
            waiting: Vec::new(),
            handovers_dropped: 0,
        };
        for core in followers {
            let shard = core.shard().index();
            let (to_tx, to_rx) = mpsc::unbounded_channel();
            let (ready_tx, ready_rx) = mpsc::unbounded_channel();
            let waiting = Arc::new(AtomicUsize::new(0));
            let follower = Follower {
                handovers_waiting: Arc::clone(&waiting),
                shard,
                core,
                lanes: HashMap::new(),
                ready: ready_rx,
                round: VecDeque::new(),
                from_leader: to_rx,
                to_leader: from_tx.clone(),
                actions: Vec::new(),
                changes: Vec::new(),
                handovers: Vec::new(),
                next_report: Instant::now(),
                counted: false,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()?;
            let thread = std::thread::Builder::new()
                .name(format!("nfwd-shard-{shard}"))
                .spawn(move || runtime.block_on(follower.run()))?;
            this.to.push(to_tx);
            this.readies.push(ready_tx);
            this.waiting.push(waiting);
            this.threads.push(thread);
        }
        Ok(this)
    }

    /// A face's inbox: the face task's side, and the leader's lane. The followers get their
    /// lanes now; the caller has sent them the core's `FaceAdded` change before. `pushed`
    /// counts the frames the face task pushes to any shard.
    pub(super) fn inbox(
        &self,
        face: FaceId,
        leader: &ReadyTx,
        pushed: Arc<AtomicU64>,
    ) -> (InboxTx, InboxRx) {
        let (tx, leader_lane, lanes) =
            sharded_inbox(face, leader, &self.readies, self.dispatcher.clone(), pushed);
        for (to, lane) in self.to.iter().zip(lanes) {
            // A follower that ended has gone with the daemon.
            let _ = to.send(ToFollower::Attach { face, lane });
        }
        (tx, leader_lane)
    }

    /// The shard that owns `frame`.
    pub(super) fn shard_of(&self, frame: &[u8]) -> u8 {
        self.dispatcher.shard_of_frame(frame)
    }

    /// Sends `changes` to every follower but `except` (the one that made them).
    pub(super) fn send_changes(&self, changes: Vec<Change>, except: Option<u8>) {
        if changes.is_empty() {
            return;
        }
        let changes: Arc<[Change]> = changes.into();
        for (k, to) in self.to.iter().enumerate() {
            if except != Some(shard_at(k)) {
                let _ = to.send(ToFollower::Changes(Arc::clone(&changes)));
            }
        }
    }

    /// Hands `h` to its follower (or drops it, counted, if that follower has
    /// [`HANDOVERS_WAITING`] already); gives it back if it is the leader's.
    pub(super) fn hand_over(&mut self, h: Handover) -> Option<Handover> {
        let Some(k) = usize::from(h.shard).checked_sub(1) else {
            return Some(h);
        };
        let (Some(to), Some(waiting)) = (self.to.get(k), self.waiting.get(k)) else {
            return Some(h);
        };
        if waiting.fetch_add(1, Ordering::Relaxed) >= HANDOVERS_WAITING {
            waiting.fetch_sub(1, Ordering::Relaxed);
            self.handovers_dropped += 1;
            return None;
        }
        if to.send(ToFollower::Handover(h)).is_err() {
            waiting.fetch_sub(1, Ordering::Relaxed);
        }
        None
    }

    /// A follower whose thread has ended while the daemon runs (a panic: nothing else ends
    /// one), if any: the daemon cannot forward its names any more.
    pub(super) fn ended(&self) -> Option<u8> {
        self.threads
            .iter()
            .position(std::thread::JoinHandle::is_finished)
            .map(shard_at)
    }

    /// Stops the followers and waits for their threads.
    pub(super) fn stop(&mut self) {
        self.close();
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                warn!("a forwarding shard's thread panicked");
            }
        }
    }

    /// Lets the followers go: their next wait ends (a follower waiting to send learns the
    /// leader has gone).
    fn close(&mut self) {
        self.to.clear();
        self.from.close();
    }
}

impl Drop for Followers {
    fn drop(&mut self) {
        // Without waiting: the threads end by themselves.
        self.close();
    }
}

/// Shard k's index in the followers' lists.
fn shard_at(k: usize) -> u8 {
    u8::try_from(k + 1).unwrap_or(u8::MAX)
}

/// A follower shard: its core, the lanes of the faces' inboxes it serves, its ready queue.
struct Follower {
    shard: u8,
    /// Hand-overs sent to this follower and not taken yet (the leader's bound).
    handovers_waiting: Arc<AtomicUsize>,
    core: Forwarder,
    lanes: HashMap<FaceId, InboxRx>,
    ready: ReadyRx,
    /// Faces with frames waiting, in service order.
    round: VecDeque<FaceId>,
    from_leader: mpsc::UnboundedReceiver<ToFollower>,
    to_leader: mpsc::Sender<FromFollower>,
    /// What the round produced, sent to the leader when it ends.
    actions: Vec<Action>,
    changes: Vec<Change>,
    handovers: Vec<Handover>,
    /// When the counters go to the leader next.
    next_report: Instant,
    /// Something was counted since the last report.
    counted: bool,
}

impl Follower {
    async fn run(mut self) {
        debug!(shard = self.shard, "forwarding shard started");
        loop {
            if self.round.is_empty() {
                let report = self.counted.then_some(self.next_report);
                let wake = [self.core.next_timeout(), report]
                    .into_iter()
                    .flatten()
                    .min();
                tokio::select! {
                    message = self.from_leader.recv() => match message {
                        Some(m) => self.on_message(Instant::now(), m),
                        None => break,
                    },
                    Some(face) = self.ready.recv() => self.round.push_back(face),
                    () = super::engine::sleep_until_opt(wake) => {}
                }
            } else {
                // Nothing else runs on this thread's runtime; yield anyway, cheaply, so the
                // loop stays cancellable.
                tokio::task::yield_now().await;
            }
            let now = Instant::now();
            while let Ok(face) = self.ready.try_recv() {
                self.round.push_back(face);
            }
            // After the ready queue: a face's lane is sent before its task starts, so every
            // face announced by now has its lane among these messages.
            loop {
                match self.from_leader.try_recv() {
                    Ok(m) => self.on_message(now, m),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            self.serve(now);
            if self.core.next_timeout().is_some_and(|t| t <= now) {
                self.core.on_timeout(now, &mut self.actions);
                self.counted = true;
            }
            if !self.report(now).await {
                break;
            }
        }
        debug!(shard = self.shard, "forwarding shard stopped");
    }

    fn on_message(&mut self, now: Instant, message: ToFollower) {
        self.counted = true;
        match message {
            ToFollower::Attach { face, lane } => {
                self.lanes.insert(face, lane);
            }
            ToFollower::Changes(changes) => {
                for change in changes.iter() {
                    if let Change::FaceClosed { face } = change {
                        // What the face sent before it closed reaches the core first.
                        if let Some(mut lane) = self.lanes.remove(face) {
                            while let Some(frame) = lane.pop() {
                                self.core
                                    .receive_frame(now, *face, frame, &mut self.actions);
                            }
                        }
                    }
                    self.core.apply(change, now, &mut self.actions);
                }
            }
            ToFollower::Handover(h) => {
                self.handovers_waiting.fetch_sub(1, Ordering::Relaxed);
                self.core.receive_handover(now, &h, &mut self.actions);
            }
            #[cfg(test)]
            ToFollower::Panic => panic!("a follower's thread panics (test)"),
        }
    }

    /// One round: every face with frames waiting gets up to [`QUANTUM`] of them into the core.
    fn serve(&mut self, now: Instant) {
        for _ in 0..self.round.len() {
            let Some(face) = self.round.pop_front() else {
                break;
            };
            // A face closed meanwhile: its lane went with it.
            let Some(lane) = self.lanes.get_mut(&face) else {
                continue;
            };
            let (core, actions) = (&mut self.core, &mut self.actions);
            let (served, again) = lane.serve(QUANTUM, |frame| {
                core.receive_frame(now, face, frame, actions);
            });
            self.counted |= served > 0;
            if again {
                self.round.push_back(face);
            }
        }
    }

    /// Sends the leader what the round produced, and the counters when they are due. False if
    /// the leader has gone.
    async fn report(&mut self, now: Instant) -> bool {
        self.core.take_changes(&mut self.changes);
        self.core.take_handovers(&mut self.handovers);
        let report = (self.counted && now >= self.next_report).then(|| {
            self.counted = false;
            self.next_report = now + super::engine::COUNTER_REPORT;
            self.core.shard_report()
        });
        if self.actions.is_empty()
            && self.changes.is_empty()
            && self.handovers.is_empty()
            && report.is_none()
        {
            return true;
        }
        let message = FromFollower {
            shard: self.shard,
            actions: std::mem::take(&mut self.actions),
            changes: std::mem::take(&mut self.changes),
            handovers: std::mem::take(&mut self.handovers),
            report,
        };
        self.to_leader.send(message).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A follower that takes nothing (a busy one), standing in for a thread: a fault the
    /// daemon cannot be made to show on demand.
    #[test]
    fn hand_overs_to_a_follower_that_takes_none_are_bounded_and_counted() {
        let (from_tx, from) = mpsc::channel(1);
        drop(from_tx);
        let (to_tx, mut to_rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let mut followers = Followers {
            dispatcher: Dispatcher::new(2, nfwd_tlv::NameHasher::new()).unwrap(),
            to: vec![to_tx],
            readies: Vec::new(),
            from,
            threads: Vec::new(),
            waiting: vec![Arc::clone(&waiting)],
            handovers_dropped: 0,
        };
        let h = |shard| Handover {
            shard,
            face: FaceId(300),
            frame: bytes::Bytes::from_static(b"x"),
        };
        assert!(
            followers.hand_over(h(0)).is_some(),
            "the leader's own comes back"
        );
        for _ in 0..HANDOVERS_WAITING + 10 {
            assert!(followers.hand_over(h(1)).is_none());
        }
        assert_eq!(followers.handovers_dropped, 10);
        let mut queued = 0;
        while to_rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, HANDOVERS_WAITING);
        // Taken (as the follower does): room again.
        waiting.store(0, Ordering::Relaxed);
        assert!(followers.hand_over(h(1)).is_none());
        assert_eq!(followers.handovers_dropped, 10);
        assert_eq!(to_rx.try_recv().map(|_| ()), Ok(()));
    }

    #[test]
    fn a_follower_whose_thread_ends_is_noticed() {
        let config = crate::config::Config::default();
        let shard = crate::core::replica::Shard::new(1, 2).unwrap();
        let core = Forwarder::sharded(&config, Instant::now(), 1, shard);
        let dispatcher = Dispatcher::new(2, nfwd_tlv::NameHasher::new()).unwrap();
        let mut followers = Followers::spawn(vec![core], dispatcher).unwrap();
        assert_eq!(followers.ended(), None);
        let _ = followers.to[0].send(ToFollower::Panic);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while followers.ended().is_none() {
            assert!(Instant::now() < deadline, "never noticed");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(followers.ended(), Some(1));
        // Stopping joins the thread and reports the panic instead of passing it on.
        followers.stop();
    }
}

//! The core task: the one task that owns the forwarding core, the face table and the
//! listening UDP socket. Face tasks push received frames into per-face inboxes
//! (`inbox.rs`) and announce themselves on the ready queue; listeners, connect tasks and face
//! tasks send control [`Event`]s (opened, created, closed, status) over one bounded channel.
//! Nothing on the per-packet path takes a lock: everything here is owned by this task.
//!
//! **Service.** The task works in rounds. Each round it takes a batch of control events, a
//! batch of datagrams from the listening UDP socket, gives every face with frames waiting up
//! to [`QUANTUM`] frames (round robin: a face with more left goes to the back), and checks its
//! timers. It sleeps only when no inbox has frames; while some do, it yields between rounds
//! so face tasks and the rest of the runtime keep running. No source is polled with priority
//! over another, so neither a busy face, nor a stream of control events, nor a UDP flood can
//! starve the rest. The quantum counts frames, not bytes: the core's cost is per packet
//! (decoding, table lookups), so counting frames shares the core's time fairly.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::Name;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::congestion::Marker;
use super::connect::{Connector, LinkDesc, Transport, is_loopback, scope_of};
use super::inbox::{InboxRx, InboxTx, ReadyRx, ReadyTx, inbox};
use super::pacing::{Offer, Pacer, PacingConfig};
use super::shard::{Followers, FromFollower};
use super::stream::{End, FaceTask, Reconnect, StreamConn, WriteQueue, face_task, write_queue};
use super::uri::{FaceUri, ip_uri};
use super::{Core, DriverCounters, DriverFace, DriverFaceCounters, DriverStatus, udp};
use crate::core::replica::Handover;
use crate::core::{
    Action, ChannelId, CongestionMarking, FaceId, FaceInfo, Frame, LinkType, Persistency,
};

/// Capacity of the control channel (opened, created, closed, status) to the core task.
pub(super) const EVENT_QUEUE: usize = 4096;

/// Control events handled per round.
const EVENT_BATCH: usize = 256;

/// Messages of follower shards taken per round (each carries a round of theirs).
const FOLLOWER_BATCH: usize = 64;

/// Frames served from one face per round before the next face's turn.
pub(super) const QUANTUM: usize = 32;

/// Datagrams read from the listening UDP socket per round (first datagrams of new peers).
const LISTEN_BATCH: usize = 64;

/// New on-demand UDP faces admitted per second, sustained, and at once. Source addresses are
/// cheap to forge, and each new face costs a socket, a task and an eviction when the table is
/// full: this bounds that work and the churn a spoofed flood can cause (at this rate it takes
/// a minute to cycle a full table of 16384 faces). A legitimate forwarder or application sees
/// far fewer new peers than this; peers refused are counted (`udp_new_peers_refused`) and
/// simply retry with their next datagram.
const NEW_UDP_PEERS_PER_S: f64 = 256.0;
const NEW_UDP_PEERS_BURST: f64 = 256.0;

/// Eviction candidates gathered per scan of the face table: a flood of new peers against a
/// full table costs one scan per this many evictions.
const EVICT_CANDIDATES: usize = 64;

/// How often the driver's counters are handed to the core for `status/counters`.
pub(super) const COUNTER_REPORT: Duration = Duration::from_millis(500);

/// Backoff between attempts to bring up a permanent `[[face]]` at start.
const STATIC_RETRY_MIN: Duration = Duration::from_secs(1);
const STATIC_RETRY_MAX: Duration = Duration::from_secs(30);

/// What listeners, creation tasks and face tasks tell the core task (frames travel through
/// the faces' inboxes instead).
pub(super) enum Event {
    /// A listener accepted a stream: a new on-demand face.
    Opened { desc: LinkDesc, conn: StreamConn },
    /// An outgoing stream face was (or could not be) connected.
    Created {
        origin: Origin,
        result: Result<CreatedStream, String>,
    },
    /// A face ended by itself (EOF, error, framing violation, unreachable UDP peer). Its
    /// task pushed every frame it read before sending this.
    Closed { face: FaceId, end: End },
    /// A permanent face saw a framing violation (or a partial-frame timeout) and reconnected.
    FramingError(FaceId, End),
    /// A snapshot of the face table was asked for.
    Status(oneshot::Sender<DriverStatus>),
}

/// Who asked for a face.
#[derive(Debug)]
pub(super) enum Origin {
    /// Management, quoting the core's request number.
    Management(u64),
    /// A `[[face]]` entry: its routes are installed once it is up.
    Static(FaceUri),
}

/// A connected outgoing stream.
pub(super) struct CreatedStream {
    desc: LinkDesc,
    conn: StreamConn,
    persistency: Persistency,
    reconnect: Option<Reconnect>,
}

enum Link {
    Stream {
        /// Bounded in bytes here (`faces.write_queue_bytes`).
        queue: WriteQueue,
        /// Congestion marking of what is queued.
        marker: Marker,
        task: JoinHandle<()>,
    },
    Udp {
        /// The face's own socket, connected to `peer`.
        socket: Arc<UdpSocket>,
        peer: SocketAddr,
        /// Reads `socket` into the inbox.
        task: JoinHandle<()>,
        /// The token bucket frames pass (`None`: pacing off).
        pacer: Option<Pacer>,
        /// Congestion marking of what waits in the pacer.
        marker: Marker,
        /// Frames for the socket (pacing off), sent together when `execute` ends.
        outbox: Vec<Bytes>,
        /// Which of them may leave as GSO sends.
        gso: udp::Gso,
    },
}

struct FaceEntry {
    link: Link,
    /// Frames received, waiting for the core.
    inbox: InboxRx,
    desc: LinkDesc,
    persistency: Persistency,
    /// Last time the core took frames from this face (idle detection, eviction order).
    last_rx: Instant,
    /// When sharded: the frames the face task pushed to any shard, and the count last seen
    /// (the followers' frames are activity too).
    pushed: Option<(Arc<AtomicU64>, u64)>,
    /// Closed after `idle_timeout` without receiving: on-demand UDP faces, and on-demand
    /// stream faces whose peer is not on this node.
    idles: bool,
    counters: DriverFaceCounters,
}

/// Everything the engine needs that `Daemon::start` prepared.
pub(super) struct Setup {
    pub(super) udp: Option<UdpSocket>,
    pub(super) udp_mtu: usize,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) partial_frame_timeout: Option<Duration>,
    /// `faces.write_queue_bytes`.
    pub(super) write_queue_bytes: u64,
    /// `faces.udp_face_buffer_bytes`.
    pub(super) udp_face_buffer_bytes: usize,
    /// `faces.udp_pacing_*`.
    pub(super) udp_pacing: PacingConfig,
    pub(super) max_udp_faces: usize,
    pub(super) max_stream_faces: usize,
    pub(super) connector: Arc<Connector>,
    pub(super) channel_dir: PathBuf,
    pub(super) events_tx: mpsc::Sender<Event>,
    pub(super) listeners: Vec<JoinHandle<()>>,
    pub(super) unix_paths: Vec<PathBuf>,
    pub(super) static_faces: Vec<(FaceUri, Persistency)>,
    pub(super) static_routes: Vec<(FaceUri, Name, u64)>,
    /// The follower shards' threads, when the forwarder is sharded (`shard.rs`).
    pub(super) followers: Option<Followers>,
}

/// Admits new UDP peers at a bounded rate.
struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(now: Instant) -> Self {
        Self {
            tokens: NEW_UDP_PEERS_BURST,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * NEW_UDP_PEERS_PER_S;
        self.tokens = (self.tokens + refill).min(NEW_UDP_PEERS_BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub(super) struct Engine<C> {
    core: C,
    faces: HashMap<FaceId, FaceEntry>,
    /// Every UDP face (on-demand and configured) by peer address.
    udp_peers: HashMap<SocketAddr, FaceId>,
    /// The listening UDP socket.
    udp: Option<UdpSocket>,
    /// Its address, which every face's socket binds too.
    udp_local: Option<SocketAddr>,
    udp_local_uri: String,
    udp_mtu: usize,
    /// Receive block the listening socket's datagrams are split from.
    udp_buf: bytes::BytesMut,
    /// What UDP face tasks count (oversize datagrams: the listening socket's too).
    udp_receive: Arc<udp::ReceiveCounters>,
    new_udp_peers: TokenBucket,
    /// The idlest on-demand UDP faces at the last scan, idlest last (see `evict_udp`).
    evict_candidates: Vec<(Instant, FaceId)>,
    idle_timeout: Option<Duration>,
    partial_frame_timeout: Option<Duration>,
    write_queue_bytes: u64,
    udp_face_buffer_bytes: usize,
    udp_pacing: PacingConfig,
    /// UDP faces with frames in their pacer.
    paced: Vec<FaceId>,
    /// UDP faces whose outbox holds frames.
    udp_pending: Vec<FaceId>,
    max_udp_faces: usize,
    max_stream_faces: usize,
    /// Faces announce frames waiting in their inbox here.
    ready_tx: ReadyTx,
    ready_rx: ReadyRx,
    /// Faces with frames waiting, in service order.
    round: VecDeque<FaceId>,
    connector: Arc<Connector>,
    /// Where restricted channels may be opened.
    channel_dir: PathBuf,
    /// Open restricted channels: their accept loops and socket files.
    channels: HashMap<ChannelId, (JoinHandle<()>, PathBuf)>,
    events_tx: mpsc::Sender<Event>,
    listeners: Vec<JoinHandle<()>>,
    unix_paths: Vec<PathBuf>,
    static_routes: Vec<(FaceUri, Name, u64)>,
    counters: DriverCounters,
    actions: Vec<Action>,
    /// The follower shards, when sharded: this engine runs shard 0, the leader.
    followers: Option<Followers>,
}

/// Whether a face is closed when idle: on-demand UDP faces, and on-demand streams from peers
/// not on this node (see `sweep_idle`).
fn idles(persistency: Persistency, desc: &LinkDesc) -> bool {
    persistency == Persistency::OnDemand && (desc.transport == Transport::Udp || !desc.local_peer)
}

fn face_info(desc: &LinkDesc, persistency: Persistency, mtu: Option<usize>) -> FaceInfo {
    FaceInfo {
        remote_uri: desc.remote_uri.clone(),
        local_uri: desc.local_uri.clone(),
        scope: desc.scope,
        persistency,
        link_type: LinkType::PointToPoint,
        mtu,
        peer: desc.peer.clone(),
        channel: desc.channel,
    }
}

/// `frame`, with a CongestionMark if `marker` calls for one with `queued` bytes waiting before
/// it, and the bytes the mark added (`None`: sent as it came). Only marked packets pay for the
/// rewrite.
fn congestion_marked(
    marker: &mut Marker,
    now: Instant,
    queued: u64,
    frame: Bytes,
) -> (Bytes, Option<usize>) {
    if !marker.should_mark(now, queued) {
        return (frame, None);
    }
    match nfwd_tlv::lp::with_congestion_mark(frame.clone()) {
        Ok(marked) => {
            let added = marked.len().saturating_sub(frame.len());
            (marked, Some(added))
        }
        Err(_) => (frame, None),
    }
}

/// What the driver did to one face's frames (dropped, marked), counted in the three places
/// that must agree: the face's counters, the driver's totals and the core's counters of the
/// face.
struct Tally<'a, C> {
    total: &'a mut DriverCounters,
    on_face: &'a mut DriverFaceCounters,
    core: &'a mut C,
    face: FaceId,
}

impl<C: Core> Tally<'_, C> {
    fn dropped(&mut self, len: usize) {
        self.on_face.dropped_frames += 1;
        self.on_face.dropped_bytes += len as u64;
        self.total.dropped_frames += 1;
        self.total.dropped_bytes += len as u64;
        self.core.driver_dropped(self.face, len);
    }

    /// A congestion mark that made the frame `added` bytes longer.
    fn marked(&mut self, added: usize) {
        self.on_face.congestion_marks += 1;
        self.total.congestion_marks += 1;
        self.core.driver_marked(self.face, added);
    }
}

pub(super) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl<C: Core> Engine<C> {
    pub(super) fn new(core: C, setup: Setup) -> Self {
        let udp_local = setup.udp.as_ref().and_then(|s| s.local_addr().ok());
        let udp_local_uri = udp_local.map_or_else(String::new, |a| ip_uri("udp", a));
        let (ready_tx, ready_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let mut engine = Self {
            core,
            faces: HashMap::new(),
            udp_peers: HashMap::new(),
            udp: setup.udp,
            udp_local,
            udp_local_uri,
            udp_mtu: setup.udp_mtu,
            udp_buf: bytes::BytesMut::new(),
            udp_receive: Arc::default(),
            new_udp_peers: TokenBucket::new(now),
            evict_candidates: Vec::new(),
            idle_timeout: setup.idle_timeout,
            partial_frame_timeout: setup.partial_frame_timeout,
            write_queue_bytes: setup.write_queue_bytes,
            udp_face_buffer_bytes: setup.udp_face_buffer_bytes,
            udp_pacing: setup.udp_pacing,
            paced: Vec::new(),
            udp_pending: Vec::new(),
            max_udp_faces: setup.max_udp_faces,
            max_stream_faces: setup.max_stream_faces,
            ready_tx,
            ready_rx,
            round: VecDeque::new(),
            connector: setup.connector,
            channel_dir: setup.channel_dir,
            channels: HashMap::new(),
            events_tx: setup.events_tx,
            listeners: setup.listeners,
            unix_paths: setup.unix_paths,
            static_routes: setup.static_routes,
            counters: DriverCounters::default(),
            actions: Vec::new(),
            followers: setup.followers,
        };
        for (uri, persistency) in setup.static_faces {
            engine.create_static(now, uri, persistency);
        }
        engine
    }

    /// Runs until `shutdown` resolves (or its sender is dropped).
    pub(super) async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut shutdown: oneshot::Receiver<()>,
    ) {
        let mut batch = Vec::with_capacity(EVENT_BATCH);
        // Idle faces are looked for a few times per timeout, so one closes at most about a
        // quarter of the timeout late.
        let sweep_every = self
            .idle_timeout
            .map(|t| (t / 4).clamp(Duration::from_millis(50), Duration::from_secs(30)));
        let mut next_sweep = sweep_every.map(|d| Instant::now() + d);
        let mut next_report = Instant::now();
        // Whether a source had more than a round's batch waiting last round.
        let mut more = false;
        // A follower shard's message that woke the loop.
        let mut from_follower = None;
        loop {
            if self.round.is_empty() && !more {
                // No inbox has frames: sleep until something happens. Whichever source wakes
                // us, the round below gives every source its turn.
                let wake = [self.core.next_timeout(), next_sweep, self.next_release()]
                    .into_iter()
                    .flatten()
                    .min();
                tokio::select! {
                    _ = &mut shutdown => break,
                    // Never 0: this task holds a sender itself.
                    _ = events.recv_many(&mut batch, EVENT_BATCH) => {}
                    Some(face) = self.ready_rx.recv() => self.round.push_back(face),
                    _ = udp_readable(self.udp.as_ref()) => {}
                    Some(m) = follower_message(self.followers.as_mut()) => from_follower = Some(m),
                    () = sleep_until_opt(wake) => {}
                }
            } else {
                // Work is waiting: let face tasks (and the rest of the runtime) run before the
                // next round, so they keep reading while the core works.
                tokio::task::yield_now().await;
                if !matches!(
                    shutdown.try_recv(),
                    Err(oneshot::error::TryRecvError::Empty)
                ) {
                    break;
                }
            }
            // One clock read per round: the core needs `now`, not nanosecond precision.
            let now = Instant::now();
            while batch.len() < EVENT_BATCH {
                match events.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            more = batch.len() == EVENT_BATCH;
            for event in batch.drain(..) {
                self.handle(now, event);
            }
            self.execute(now);
            more |= self.serve_followers(now, from_follower.take());
            more |= self.drain_udp(now);
            self.execute(now);
            self.serve_faces(now);
            self.release_paced(now);
            if now >= next_report {
                self.core.driver_counters(&self.counters().list());
                next_report = now + COUNTER_REPORT;
                // A forwarding thread that died (a bug) leaves its names unserved: stop, so
                // that whoever runs the daemon sees it end and restarts it, as NFD would.
                if let Some(shard) = self.followers.as_ref().and_then(Followers::ended) {
                    tracing::error!(shard, "a forwarding thread ended: stopping the daemon");
                    break;
                }
            }
            if self.core.next_timeout().is_some_and(|t| t <= now) {
                self.core.on_timeout(now, &mut self.actions);
                self.execute(now);
            }
            if let (Some(at), Some(every)) = (next_sweep, sweep_every)
                && at <= now
            {
                self.sweep_idle(now);
                self.execute(now);
                next_sweep = Some(now + every);
            }
        }
        self.stop();
    }

    /// Takes what the follower shards sent (`first`, and up to a batch more): their changes
    /// applied here and relayed to the others, their sends carried out. True if the batch
    /// was full (more may be waiting).
    fn serve_followers(&mut self, now: Instant, first: Option<FromFollower>) -> bool {
        if self.followers.is_none() {
            return false;
        }
        if let Some(m) = first {
            self.on_follower(now, m);
        }
        let mut full = true;
        for _ in 0..FOLLOWER_BATCH {
            let Some(m) = self.followers.as_mut().and_then(|f| f.from.try_recv().ok()) else {
                full = false;
                break;
            };
            self.on_follower(now, m);
        }
        // Once for the whole batch: the followers' sends to one face leave together, in as
        // few system calls as the leader's own do.
        self.execute(now);
        full
    }

    fn on_follower(&mut self, now: Instant, m: FromFollower) {
        // The leader's own changes go first: they were made before these arrived.
        self.flush_changes();
        if let Some(report) = m.report {
            self.core.shard_report(report);
        }
        for change in &m.changes {
            self.core.apply(change, now, &mut self.actions);
        }
        self.actions.extend(m.actions);
        if let Some(followers) = &mut self.followers {
            followers.send_changes(m.changes, Some(m.shard));
            for h in m.handovers {
                if let Some(h) = followers.hand_over(h) {
                    self.core.receive_handover(now, &h, &mut self.actions);
                }
            }
        }
    }

    /// Gives the followers the changes to the shared state this shard made (and the packets
    /// it reassembled for them), before anything that depends on them.
    fn flush_changes(&mut self) {
        let Some(followers) = &mut self.followers else {
            return;
        };
        let mut changes = Vec::new();
        self.core.take_changes(&mut changes);
        followers.send_changes(changes, None);
        let mut handovers = Vec::new();
        self.core.take_handovers(&mut handovers);
        for h in handovers {
            // The leader hands over only what it does not own.
            let _ = followers.hand_over(h);
        }
    }

    /// A new inbox for `face`: one lane per shard when sharded, whose followers learn of the
    /// face (the core's change first, then their lane) before its task can start; then also
    /// the count of frames its task pushes.
    fn new_inbox(&mut self, face: FaceId) -> (InboxTx, InboxRx, Option<Arc<AtomicU64>>) {
        self.flush_changes();
        match &self.followers {
            Some(followers) => {
                let pushed = Arc::new(AtomicU64::new(0));
                let (tx, rx) = followers.inbox(face, &self.ready_tx, Arc::clone(&pushed));
                (tx, rx, Some(pushed))
            }
            None => {
                let (tx, rx) = inbox(face, &self.ready_tx);
                (tx, rx, None)
            }
        }
    }

    /// Faces whose task pushed frames since the last look were active now, whichever shard
    /// served them (the leader serves only its own).
    fn note_pushed(&mut self, now: Instant) {
        for f in self.faces.values_mut() {
            if let Some((pushed, seen)) = &mut f.pushed {
                let count = pushed.load(Ordering::Relaxed);
                if count != *seen {
                    *seen = count;
                    f.last_rx = now;
                }
            }
        }
    }

    /// A frame the engine got itself (a new UDP peer's first datagram), to the shard that
    /// owns it.
    fn receive_owned(&mut self, now: Instant, face: FaceId, frame: Frame) {
        let shard = self.followers.as_ref().map_or(0, |f| f.shard_of(&frame));
        if shard == 0 {
            return self.core.receive(now, face, frame, &mut self.actions);
        }
        self.flush_changes();
        if let Some(followers) = &mut self.followers {
            let h = Handover {
                shard,
                face,
                frame: frame.into_bytes(),
            };
            let _ = followers.hand_over(h);
        }
    }

    /// When the first frame waiting in a UDP face's pacer may leave.
    fn next_release(&self) -> Option<Instant> {
        self.paced
            .iter()
            .filter_map(|f| match self.faces.get(f) {
                Some(FaceEntry {
                    link: Link::Udp { pacer: Some(p), .. },
                    ..
                }) => p.next_release(),
                _ => None,
            })
            .min()
    }

    /// Sends what the pacers of the paced UDP faces release at `now`; faces whose queue
    /// emptied (or that closed) leave the list.
    fn release_paced(&mut self, now: Instant) {
        let mut k = 0;
        while let Some(&face) = self.paced.get(k) {
            let mut still_waiting = false;
            if let Some(FaceEntry {
                link:
                    Link::Udp {
                        pacer: Some(pacer),
                        outbox,
                        ..
                    },
                ..
            }) = self.faces.get_mut(&face)
            {
                // Into the outbox, which `flush_udp` sends below in one `sendmmsg`.
                if outbox.is_empty() {
                    self.udp_pending.push(face);
                }
                pacer.release(now, outbox);
                still_waiting = pacer.queued() > 0;
            }
            if still_waiting {
                k += 1;
            } else {
                self.paced.swap_remove(k);
            }
        }
        // A face found unreachable closes, which may queue actions.
        self.flush_udp(now);
        self.execute(now);
    }

    /// One round of face service: every face with frames waiting gets up to [`QUANTUM`] of
    /// them into the core; a face with more left goes to the back of the round.
    fn serve_faces(&mut self, now: Instant) {
        while let Ok(face) = self.ready_rx.try_recv() {
            self.round.push_back(face);
        }
        for _ in 0..self.round.len() {
            let Some(face) = self.round.pop_front() else {
                break;
            };
            // Faces closed meanwhile are skipped; their frames went with them.
            let Some(entry) = self.faces.get_mut(&face) else {
                continue;
            };
            let (core, actions) = (&mut self.core, &mut self.actions);
            let (served, again) = entry.inbox.serve(QUANTUM, |frame| {
                core.receive(now, face, frame, actions);
            });
            if served > 0 {
                entry.last_rx = now;
            }
            if again {
                self.round.push_back(face);
            }
            // The replies of each face go out before the next face's turn.
            self.execute(now);
        }
    }

    /// Gives the core every frame left in `face`'s inbox (before the face closes: its task
    /// pushed them before it reported the end).
    fn drain_inbox(&mut self, now: Instant, face: FaceId) {
        let Some(entry) = self.faces.get_mut(&face) else {
            return;
        };
        while let Some(frame) = entry.inbox.pop() {
            self.core.receive(now, face, frame, &mut self.actions);
        }
    }

    /// Reads a batch of what the listening UDP socket holds: first datagrams of new peers.
    /// Returns true if the batch was full (more may be waiting).
    fn drain_udp(&mut self, now: Instant) -> bool {
        // Taken out for the loop, so `on_datagram` can have the rest of `self`.
        let Some(socket) = self.udp.take() else {
            return false;
        };
        let mut full = true;
        for _ in 0..LISTEN_BATCH {
            match udp::try_recv(&socket, &mut self.udp_buf) {
                udp::Received::Datagram(peer, frame) => self.on_datagram(now, peer, frame),
                udp::Received::Oversize => {
                    self.udp_receive.oversize.fetch_add(1, Ordering::Relaxed);
                }
                udp::Received::Nothing => {
                    full = false;
                    break;
                }
            }
        }
        self.udp = Some(socket);
        full
    }

    fn handle(&mut self, now: Instant, event: Event) {
        match event {
            Event::Opened { desc, conn } => {
                if self.stream_faces() >= self.max_stream_faces {
                    // Dropping the connection closes it at once.
                    debug!(remote = %desc.remote_uri, "stream face refused: faces.max_stream_faces reached");
                    self.counters.stream_faces_refused += 1;
                    return;
                }
                let info = face_info(&desc, Persistency::OnDemand, None);
                let id = self.core.add_face(info, now);
                debug!(face = %id, remote = %desc.remote_uri, local = %desc.local_uri, "on-demand face opened");
                self.attach_stream(now, id, desc, Persistency::OnDemand, conn, None);
            }
            Event::Created { origin, result } => self.on_created(now, origin, result),
            Event::Closed { face, end } => {
                self.count_end(&end);
                if let Some(entry) = self.faces.get(&face) {
                    debug!(face = %face, "face closed: {end}");
                    if entry.desc.transport == Transport::Udp
                        && matches!(&end, End::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
                    {
                        self.counters.udp_faces_unreachable += 1;
                    }
                    self.drain_inbox(now, face);
                    self.execute(now);
                    self.close_face(now, face);
                }
            }
            Event::FramingError(face, end) => {
                debug!(face = %face, "permanent face reconnected after: {end}");
                self.count_end(&end);
            }
            Event::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn count_end(&mut self, end: &End) {
        match end {
            End::Oversize(_) => self.counters.closed_oversize += 1,
            End::Invalid => self.counters.closed_invalid += 1,
            End::PartialFrame(_) => self.counters.closed_partial_frame += 1,
            _ => {}
        }
    }

    fn stream_faces(&self) -> usize {
        // Every face is a stream face or a UDP face, and every UDP face is in `udp_peers`.
        self.faces.len().saturating_sub(self.udp_peers.len())
    }

    /// A datagram on the listening socket.
    fn on_datagram(&mut self, now: Instant, peer: SocketAddr, frame: Frame) {
        if let Some(&face) = self.udp_peers.get(&peer) {
            // Queued on the listening socket before the face's own socket existed: still
            // this face's.
            if let Some(entry) = self.faces.get_mut(&face) {
                entry.last_rx = now;
            }
            self.receive_owned(now, face, frame);
            return;
        }
        if !self.new_udp_peers.take(now) {
            self.counters.udp_new_peers_refused += 1;
            return;
        }
        if self.udp_peers.len() >= self.max_udp_faces && !self.evict_udp(now) {
            // Every UDP face is a configured one: nothing may be evicted.
            self.counters.udp_faces_refused += 1;
            return;
        }
        let socket = match self.udp_face_socket(peer) {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, typically: refuse this peer, keep serving the rest.
                debug!(%peer, "on-demand UDP face: {e}");
                self.counters.udp_faces_refused += 1;
                return;
            }
        };
        let desc = self.udp_desc(peer);
        let info = face_info(&desc, Persistency::OnDemand, Some(self.udp_mtu));
        let face = self.core.add_face(info, now);
        debug!(face = %face, remote = %desc.remote_uri, "on-demand UDP face opened");
        self.attach_udp(now, face, socket, peer, desc, Persistency::OnDemand);
        self.receive_owned(now, face, frame);
    }

    /// Makes room for a new on-demand UDP face by closing the on-demand UDP face idle the
    /// longest (configured faces are never evicted). False if there is none.
    fn evict_udp(&mut self, now: Instant) -> bool {
        loop {
            let Some((at, face)) = self.evict_candidates.pop() else {
                if !self.gather_evict_candidates(now) {
                    return false;
                }
                continue;
            };
            // A candidate that received since the scan (or closed) is not the idlest any more;
            // faces outside the list were fresher at the scan and only got fresher.
            if self.faces.get(&face).is_some_and(|f| f.last_rx == at) {
                debug!(face = %face, "on-demand UDP face evicted: faces.max_udp_faces reached");
                self.counters.udp_faces_evicted += 1;
                self.close_face(now, face);
                return true;
            }
        }
    }

    /// One scan of the UDP faces for the [`EVICT_CANDIDATES`] idlest on-demand ones.
    fn gather_evict_candidates(&mut self, now: Instant) -> bool {
        self.note_pushed(now);
        let mut all: Vec<(Instant, FaceId)> = self
            .udp_peers
            .values()
            .filter_map(|id| self.faces.get(id).map(|f| (id, f)))
            .filter(|(_, f)| f.persistency == Persistency::OnDemand)
            .map(|(&id, f)| (f.last_rx, id))
            .collect();
        if all.len() > EVICT_CANDIDATES {
            all.select_nth_unstable(EVICT_CANDIDATES - 1);
            all.truncate(EVICT_CANDIDATES);
        }
        // Idlest (earliest) last, for `pop`.
        all.sort_unstable_by(|a, b| b.cmp(a));
        self.evict_candidates = all;
        !self.evict_candidates.is_empty()
    }

    fn udp_desc(&self, peer: SocketAddr) -> LinkDesc {
        LinkDesc {
            remote_uri: ip_uri("udp", peer),
            local_uri: self.udp_local_uri.clone(),
            scope: scope_of(peer),
            peer: None,
            channel: None,
            transport: Transport::Udp,
            local_peer: is_loopback(peer),
        }
    }

    /// A socket of `peer`'s own, bound to the listening address.
    fn udp_face_socket(&self, peer: SocketAddr) -> Result<UdpSocket, String> {
        let local = self
            .udp_local
            .ok_or("UDP is disabled (faces.udp_listen is empty)")?;
        udp::bind_face(local, peer, self.udp_face_buffer_bytes)
            .map_err(|e| format!("UDP socket for {peer}: {e}"))
    }

    fn insert(
        &mut self,
        face: FaceId,
        link: Link,
        (inbox, pushed): (InboxRx, Option<Arc<AtomicU64>>),
        desc: LinkDesc,
        persistency: Persistency,
        now: Instant,
    ) {
        let idles = idles(persistency, &desc);
        let entry = FaceEntry {
            link,
            inbox,
            desc,
            persistency,
            last_rx: now,
            pushed: pushed.map(|p| (p, 0)),
            idles,
            counters: DriverFaceCounters::default(),
        };
        if let Some(old) = self.faces.insert(face, entry) {
            // The core handed out an id that is still in use: keep the table consistent.
            warn!(face = %face, "face id reused by the core; replacing the old face");
            match old.link {
                Link::Stream { task, .. } => task.abort(),
                Link::Udp { task, .. } => task.abort(),
            }
        }
    }

    fn attach_stream(
        &mut self,
        now: Instant,
        face: FaceId,
        desc: LinkDesc,
        persistency: Persistency,
        conn: StreamConn,
        reconnect: Option<Reconnect>,
    ) {
        let (queue, rx) = write_queue();
        let marker = Marker::new(CongestionMarking::default(), self.write_queue_bytes);
        let (inbox_tx, inbox_rx, pushed) = self.new_inbox(face);
        let task = tokio::spawn(face_task(
            conn,
            FaceTask {
                id: face,
                queue: rx,
                inbox: inbox_tx,
                events: self.events_tx.clone(),
                reconnect,
                partial_timeout: self.partial_frame_timeout,
            },
        ));
        self.insert(
            face,
            Link::Stream {
                queue,
                marker,
                task,
            },
            (inbox_rx, pushed),
            desc,
            persistency,
            now,
        );
    }

    fn attach_udp(
        &mut self,
        now: Instant,
        face: FaceId,
        socket: UdpSocket,
        peer: SocketAddr,
        desc: LinkDesc,
        persistency: Persistency,
    ) {
        let socket = Arc::new(socket);
        let (inbox_tx, inbox_rx, pushed) = self.new_inbox(face);
        let task = tokio::spawn(udp::face_task(udp::FaceTask {
            id: face,
            socket: Arc::clone(&socket),
            inbox: inbox_tx,
            events: self.events_tx.clone(),
            close_on_refused: persistency == Persistency::OnDemand,
            counters: Arc::clone(&self.udp_receive),
        }));
        let pacer = self
            .udp_pacing
            .enabled()
            .then(|| Pacer::new(self.udp_pacing, now));
        let marker = Marker::new(CongestionMarking::default(), self.udp_pacing.queue_bytes);
        self.insert(
            face,
            Link::Udp {
                socket,
                peer,
                task,
                pacer,
                marker,
                outbox: Vec::new(),
                gso: udp::Gso::default(),
            },
            (inbox_rx, pushed),
            desc,
            persistency,
            now,
        );
        self.udp_peers.insert(peer, face);
    }

    /// Carries out the queued actions (and those they cause).
    fn execute(&mut self, now: Instant) {
        let mut actions = std::mem::take(&mut self.actions);
        while !actions.is_empty() {
            for action in actions.drain(..) {
                match action {
                    Action::Send { face, frame } => self.send(now, face, frame),
                    Action::CreateFace {
                        request,
                        remote_uri,
                        persistency,
                        mtu,
                    } => self.create(now, request, &remote_uri, persistency, mtu),
                    Action::OpenChannel { channel, path } => {
                        let result = self.open_channel(channel, &path);
                        self.core
                            .channel_opened(now, channel, result, &mut self.actions);
                    }
                    Action::CloseChannel { channel } => self.close_channel(channel),
                    Action::SetPersistency { face, persistency } => {
                        if let Some(f) = self.faces.get_mut(&face) {
                            f.persistency = persistency;
                            f.idles = idles(persistency, &f.desc);
                        }
                    }
                    Action::SetCongestionMarking { face, marking } => {
                        if let Some(FaceEntry {
                            link: Link::Stream { marker, .. } | Link::Udp { marker, .. },
                            ..
                        }) = self.faces.get_mut(&face)
                        {
                            marker.set_settings(marking);
                        }
                    }
                    Action::CloseFace { face } => {
                        if self.faces.contains_key(&face) {
                            debug!(face = %face, "face closed by the forwarder");
                            self.close_face(now, face);
                        }
                    }
                }
            }
            // `create` may have produced management replies: run those too.
            std::mem::swap(&mut actions, &mut self.actions);
            if actions.is_empty() {
                // What the UDP faces were given leaves now, a system call per face; a face
                // found unreachable closes, which may queue more actions.
                self.flush_udp(now);
                std::mem::swap(&mut actions, &mut self.actions);
            }
        }
        // Keep the allocation for the next round.
        self.actions = actions;
        self.flush_changes();
    }

    /// Sends every UDP face's outbox.
    fn flush_udp(&mut self, now: Instant) {
        let mut pending = std::mem::take(&mut self.udp_pending);
        for face in pending.drain(..) {
            self.flush_udp_face(now, face);
        }
        // Flushing queues nothing new: keep the allocation.
        self.udp_pending = pending;
    }

    /// Sends `face`'s outbox in as few system calls as the kernel allows; what cannot leave is
    /// dropped and counted as a single send's failure would be.
    fn flush_udp_face(&mut self, now: Instant, face: FaceId) {
        let Some(entry) = self.faces.get_mut(&face) else {
            return;
        };
        let Link::Udp {
            socket,
            outbox,
            gso,
            ..
        } = &mut entry.link
        else {
            return;
        };
        let mut frames = std::mem::take(outbox);
        let mut tally = Tally {
            total: &mut self.counters,
            on_face: &mut entry.counters,
            core: &mut self.core,
            face,
        };
        let mut unreachable = false;
        let mut next = 0;
        while next < frames.len() {
            let rest = &frames[next..];
            let run = gso.run(rest);
            let (sent, failure) = if run >= 2 {
                // Frames of one size: one GSO send, all or nothing.
                match udp::try_send_segments(socket, &rest[..run]) {
                    Ok(()) => {
                        tally.total.udp_gso_sends += 1;
                        (run, None)
                    }
                    Err(e) if gso.refused(rest[0].len(), &e) => {
                        debug!(face = %face, "UDP GSO refused ({e}): such frames go one by one");
                        tally.total.udp_gso_refused += 1;
                        continue;
                    }
                    Err(e) => (0, Some(e)),
                }
            } else {
                udp::try_send_batch(socket, &rest[..gso.singles(rest)])
            };
            next += sent;
            let Some(e) = failure else {
                // At most SEND_BATCH leave per call (a pacer may release more at once).
                continue;
            };
            // The frame at `next` failed; how many go with it.
            let dropped = match e.kind() {
                // The send buffer is full: the rest would find it so too.
                std::io::ErrorKind::WouldBlock => frames.len() - next,
                // An ICMP port unreachable for an earlier datagram: an on-demand face's peer
                // is gone, and the face with it.
                std::io::ErrorKind::ConnectionRefused
                    if entry.persistency == Persistency::OnDemand =>
                {
                    unreachable = true;
                    frames.len() - next
                }
                std::io::ErrorKind::ConnectionRefused => 1,
                _ => {
                    debug!(face = %face, "UDP send: {e}");
                    1
                }
            };
            for frame in frames.iter().skip(next).take(dropped) {
                tally.dropped(frame.len());
            }
            next += dropped;
        }
        frames.clear();
        if let Link::Udp { outbox, .. } = &mut entry.link {
            // Back, for its allocation.
            *outbox = frames;
        }
        if unreachable {
            debug!(face = %face, "on-demand UDP face closed: peer unreachable");
            self.counters.udp_faces_unreachable += 1;
            self.close_face(now, face);
        }
    }

    fn send(&mut self, now: Instant, face: FaceId, frame: Bytes) {
        let Some(entry) = self.faces.get_mut(&face) else {
            self.counters.send_unknown_face += 1;
            return;
        };
        let len = frame.len();
        let mut tally = Tally {
            total: &mut self.counters,
            on_face: &mut entry.counters,
            core: &mut self.core,
            face,
        };
        let (queue, marker) = match &mut entry.link {
            Link::Udp {
                outbox,
                pacer,
                marker,
                ..
            } => {
                let frame = match pacer {
                    None => frame,
                    Some(pacer) => {
                        // As on a stream face: marked by the length of what waits before it.
                        let (frame, mark) = congestion_marked(marker, now, pacer.queued(), frame);
                        if let Some(added) = mark {
                            tally.marked(added);
                        }
                        match pacer.offer(now, frame) {
                            Offer::SendNow(frame) => frame,
                            Offer::Queued { queued } => {
                                tally.total.udp_paced_frames += 1;
                                if queued == 0 {
                                    self.paced.push(face);
                                }
                                return;
                            }
                            Offer::Dropped => {
                                tally.dropped(len);
                                return;
                            }
                        }
                    }
                };
                // What may leave now joins the face's outbox, which leaves in one `sendmmsg`
                // when the batch of actions ends (`flush_udp_face` counts what the kernel
                // refuses, as for a single send).
                if outbox.is_empty() {
                    self.udp_pending.push(face);
                }
                outbox.push(frame);
                if outbox.len() >= udp::SEND_BATCH {
                    self.flush_udp_face(now, face);
                }
                return;
            }
            Link::Stream { queue, marker, .. } => (queue, marker),
        };
        // One atomic load decides both: drop (a last resort), or queue, marked if the queue
        // is congested (NFD's rule, on the length before this packet).
        let queued = queue.queued();
        if queued.saturating_add(len as u64) > self.write_queue_bytes {
            // Never block the core task on a slow peer: drop and count.
            tally.dropped(len);
            return;
        }
        let (frame, mark) = congestion_marked(marker, now, queued, frame);
        if let Some(added) = mark {
            tally.marked(added);
        }
        // An error means the face task ended; its Closed event is on the way.
        let _ = queue.push(frame);
    }

    /// Binds a restricted channel's socket at `path`, which must lie in a directory that
    /// exists inside `faces.channel_dir` (the requester made it, with the ownership that
    /// decides who can connect). The socket itself is 0666: the directory guards it.
    fn open_channel(&mut self, channel: ChannelId, path: &Path) -> Result<(), String> {
        let root = std::fs::canonicalize(&self.channel_dir)
            .map_err(|e| format!("faces.channel_dir {}: {e}", self.channel_dir.display()))?;
        let (Some(dir), Some(file)) = (path.parent(), path.file_name()) else {
            return Err(format!("{}: not a socket path", path.display()));
        };
        let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !dir.starts_with(&root) || dir == root {
            return Err(format!(
                "{} is not in a directory inside faces.channel_dir ({})",
                path.display(),
                root.display()
            ));
        }
        let path = dir.join(file);
        let access = super::listen::SocketAccess {
            mode: 0o666,
            group: None,
            create_dir: false,
        };
        let listener = super::listen::bind_unix(&path, access).map_err(|e| e.to_string())?;
        info!(channel = %channel, path = %path.display(), "restricted channel open");
        let task = tokio::spawn(super::listen::unix_accept_loop(
            listener,
            path.clone(),
            Some(channel),
            self.events_tx.clone(),
            // SF instances connect here as the host deploys them: never held.
            None,
        ));
        self.channels.insert(channel, (task, path));
        Ok(())
    }

    fn close_channel(&mut self, channel: ChannelId) {
        if let Some((task, path)) = self.channels.remove(&channel) {
            task.abort();
            if let Err(e) = std::fs::remove_file(&path) {
                debug!(path = %path.display(), "remove channel socket: {e}");
            }
            info!(channel = %channel, "restricted channel closed");
        }
    }

    /// Management's `faces/create`.
    fn create(
        &mut self,
        now: Instant,
        request: u64,
        remote_uri: &str,
        persistency: Persistency,
        mtu: Option<u64>,
    ) {
        let uri = match FaceUri::parse(remote_uri) {
            Ok(uri) => uri,
            Err(e) => {
                self.core
                    .face_created(now, request, Err(e.to_string()), &mut self.actions);
                return;
            }
        };
        if persistency == Persistency::OnDemand {
            let e = "on-demand faces are created by the remote side".to_owned();
            self.core
                .face_created(now, request, Err(e), &mut self.actions);
            return;
        }
        // The face exists (the core compared the URI as given; this is its canonical form),
        // whoever made it: an on-demand face the peer opened towards us (QUIC from its
        // listening port, UDP from its socket) is the face to that peer. NFD answers 409
        // with that face, as the core does.
        let canonical = uri.to_string();
        if let Some((&id, _)) = self
            .faces
            .iter()
            .find(|(_, f)| f.desc.remote_uri == canonical)
        {
            self.core.face_exists(now, request, id, &mut self.actions);
            return;
        }
        match uri {
            FaceUri::Udp(peer) => {
                let mtu = mtu.map_or(self.udp_mtu, |m| {
                    usize::try_from(m).unwrap_or(usize::MAX).min(self.udp_mtu)
                });
                match self.prepare_udp(now, peer) {
                    Ok((desc, socket)) => {
                        let info = face_info(&desc, persistency, Some(mtu));
                        if let Some(id) =
                            self.core
                                .face_created(now, request, Ok(info), &mut self.actions)
                        {
                            self.attach_udp(now, id, socket, peer, desc, persistency);
                        }
                    }
                    Err(e) => {
                        self.core
                            .face_created(now, request, Err(e), &mut self.actions);
                    }
                }
            }
            uri => self.spawn_connect(Origin::Management(request), uri, persistency, false),
        }
    }

    /// Prepares a configured UDP face to `peer`: refuses if UDP is off or of the other
    /// address family, replaces an on-demand face the peer opened earlier (the new face takes
    /// over its address), and opens the face's socket. Configured faces are admitted beyond
    /// `faces.max_udp_faces` (an operator asked for them); they count towards it.
    fn prepare_udp(
        &mut self,
        now: Instant,
        peer: SocketAddr,
    ) -> Result<(LinkDesc, UdpSocket), String> {
        let Some(local) = self.udp_local else {
            return Err("UDP is disabled (faces.udp_listen is empty)".into());
        };
        if local.is_ipv4() != peer.is_ipv4() {
            return Err("the UDP socket is of the other address family".into());
        }
        if let Some(&old) = self.udp_peers.get(&peer) {
            debug!(face = %old, "on-demand UDP face replaced by a configured one");
            self.close_face(now, old);
        }
        let socket = self.udp_face_socket(peer)?;
        Ok((self.udp_desc(peer), socket))
    }

    fn create_static(&mut self, now: Instant, uri: FaceUri, persistency: Persistency) {
        match uri {
            FaceUri::Udp(peer) => match self.prepare_udp(now, peer) {
                Ok((desc, socket)) => {
                    let info = face_info(&desc, persistency, Some(self.udp_mtu));
                    let id = self.core.add_face(info, now);
                    info!(face = %id, remote = %desc.remote_uri, "static face up");
                    self.attach_udp(now, id, socket, peer, desc, persistency);
                    self.install_routes(&FaceUri::Udp(peer), id);
                }
                Err(e) => warn!(uri = %uri, "static face: {e}"),
            },
            uri => {
                // A permanent face keeps trying at start too (the peer may boot later).
                let retry = persistency == Persistency::Permanent;
                self.spawn_connect(Origin::Static(uri.clone()), uri, persistency, retry);
            }
        }
    }

    fn spawn_connect(&self, origin: Origin, uri: FaceUri, persistency: Persistency, retry: bool) {
        let connector = Arc::clone(&self.connector);
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let mut backoff = STATIC_RETRY_MIN;
            let result = loop {
                match connector.connect_stream(&uri).await {
                    Ok((conn, desc)) => break Ok((conn, desc)),
                    Err(e) if retry && !events.is_closed() => {
                        debug!(uri = %uri, "connect failed ({e}); retrying in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(STATIC_RETRY_MAX);
                    }
                    Err(e) => break Err(e.to_string()),
                }
            };
            let result = result.map(|(conn, desc)| CreatedStream {
                desc,
                conn,
                persistency,
                reconnect: (persistency == Persistency::Permanent).then(|| Reconnect {
                    connector: Arc::clone(&connector),
                    uri,
                }),
            });
            let _ = events.send(Event::Created { origin, result }).await;
        });
    }

    fn on_created(&mut self, now: Instant, origin: Origin, result: Result<CreatedStream, String>) {
        match (origin, result) {
            (Origin::Management(request), Ok(c)) => {
                let info = face_info(&c.desc, c.persistency, None);
                // If the core refuses (e.g. the command was withdrawn) the stream is dropped.
                if let Some(id) = self
                    .core
                    .face_created(now, request, Ok(info), &mut self.actions)
                {
                    debug!(face = %id, remote = %c.desc.remote_uri, "face created");
                    self.attach_stream(now, id, c.desc, c.persistency, c.conn, c.reconnect);
                }
            }
            (Origin::Management(request), Err(e)) => {
                self.core
                    .face_created(now, request, Err(e), &mut self.actions);
            }
            (Origin::Static(uri), Ok(c)) => {
                let info = face_info(&c.desc, c.persistency, None);
                let id = self.core.add_face(info, now);
                info!(face = %id, remote = %c.desc.remote_uri, "static face up");
                self.attach_stream(now, id, c.desc, c.persistency, c.conn, c.reconnect);
                self.install_routes(&uri, id);
            }
            (Origin::Static(uri), Err(e)) => warn!(uri = %uri, "static face failed: {e}"),
        }
    }

    fn install_routes(&mut self, uri: &FaceUri, face: FaceId) {
        for (route_uri, prefix, cost) in &self.static_routes {
            if route_uri == uri {
                info!(face = %face, prefix = %prefix, cost, "static route");
                self.core.add_route(prefix, face, *cost);
            }
        }
    }

    fn close_face(&mut self, now: Instant, face: FaceId) {
        // What the core sent it before closing it still leaves.
        if let Some(FaceEntry {
            link: Link::Udp { outbox, .. },
            ..
        }) = self.faces.get(&face)
            && !outbox.is_empty()
        {
            self.flush_udp_face(now, face);
        }
        let Some(entry) = self.faces.remove(&face) else {
            return;
        };
        match entry.link {
            // Dropping the queue lets the face task write what is queued, close the stream
            // and end by itself (bounded by its write-stall timeout).
            Link::Stream { queue, task, .. } => {
                drop(queue);
                drop(task);
            }
            // The task only reads: stop it, and the socket closes with the last handle.
            Link::Udp {
                socket, peer, task, ..
            } => {
                task.abort();
                drop(socket);
                if self.udp_peers.get(&peer) == Some(&face) {
                    self.udp_peers.remove(&peer);
                }
            }
        }
        // Frames left in the inbox go with it (the task sees its pushes fail and ends).
        drop(entry.inbox);
        // Pending Interests that waited for this face get retried or Nacked: the caller
        // executes the actions (every caller is followed by `execute`).
        self.core.face_closed(face, now, &mut self.actions);
    }

    /// Closes faces that received nothing for the idle timeout: on-demand UDP faces, and
    /// on-demand TCP and QUIC faces whose peer is not on this node (a silent remote
    /// connection would otherwise hold a task, buffers and a descriptor forever). Faces of
    /// local peers are not idle-closed: an application that serves a prefix may
    /// legitimately be quiet for a long time, and its EOF says when it ends (NFD does the
    /// same).
    fn sweep_idle(&mut self, now: Instant) {
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        self.note_pushed(now);
        let idle: Vec<(FaceId, Transport)> = self
            .faces
            .iter()
            .filter(|(_, f)| f.idles && now.saturating_duration_since(f.last_rx) >= timeout)
            .map(|(&id, f)| (id, f.desc.transport))
            .collect();
        for (face, transport) in idle {
            debug!(face = %face, "idle on-demand face closed");
            match transport {
                Transport::Udp => self.counters.idle_closes_udp += 1,
                Transport::Tcp => self.counters.idle_closes_tcp += 1,
                Transport::Quic => self.counters.idle_closes_quic += 1,
                // Unix peers are local: `idles` is never set for them.
                Transport::Unix => {}
            }
            self.close_face(now, face);
        }
    }

    /// The counters, with those kept outside this task.
    fn counters(&self) -> DriverCounters {
        DriverCounters {
            udp_oversize: self.udp_receive.oversize.load(Ordering::Relaxed),
            udp_gro_datagrams: self.udp_receive.coalesced.load(Ordering::Relaxed),
            shard_handovers_dropped: self.followers.as_ref().map_or(0, |f| f.handovers_dropped),
            ..self.counters
        }
    }

    fn status(&self) -> DriverStatus {
        let mut faces: Vec<DriverFace> = self
            .faces
            .iter()
            .map(|(&id, f)| DriverFace {
                id,
                remote_uri: f.desc.remote_uri.clone(),
                local_uri: f.desc.local_uri.clone(),
                scope: f.desc.scope,
                persistency: f.persistency,
                counters: f.counters,
            })
            .collect();
        faces.sort_by_key(|f| f.id);
        DriverStatus {
            faces,
            counters: self.counters(),
        }
    }

    /// Shutdown: stop listeners and faces, close QUIC, remove the Unix socket files.
    fn stop(&mut self) {
        for l in self.listeners.drain(..) {
            l.abort();
        }
        if let Some(mut followers) = self.followers.take() {
            followers.stop();
        }
        for (_, f) in self.faces.drain() {
            match f.link {
                Link::Stream { task, .. } | Link::Udp { task, .. } => task.abort(),
            }
        }
        self.connector.close_quic();
        let channels: Vec<ChannelId> = self.channels.keys().copied().collect();
        for c in channels {
            self.close_channel(c);
        }
        for path in &self.unix_paths {
            if let Err(e) = std::fs::remove_file(path) {
                debug!(path = %path.display(), "remove socket file: {e}");
            }
        }
        info!("driver stopped");
    }
}

/// The next message of a follower shard (never, when not sharded).
async fn follower_message(followers: Option<&mut Followers>) -> Option<FromFollower> {
    match followers {
        Some(f) => f.from.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits until the listening UDP socket is readable (forever if there is none).
async fn udp_readable(socket: Option<&UdpSocket>) -> std::io::Result<()> {
    match socket {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

//! The core task: the one task that owns the forwarding core, the face table and the shared
//! UDP socket. Face tasks send it [`Event`]s over one bounded channel; it feeds them to the
//! core and carries out the core's [`Action`]s. Nothing on the per-packet path takes a lock:
//! everything here is owned by this task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::Name;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::connect::{Connector, LinkDesc, scope_of};
use super::stream::{End, Reconnect, StreamConn, face_task};
use super::uri::{FaceUri, ip_uri};
use super::{Core, DriverCounters, DriverFace, DriverFaceCounters, DriverStatus};
use crate::core::{Action, ChannelId, FaceId, FaceInfo, LinkType, Persistency};

/// Capacity of the event channel from face tasks to the core task.
pub(super) const EVENT_QUEUE: usize = 4096;

/// Events handled per wake-up of the core task.
const EVENT_BATCH: usize = 256;

/// Frames queued per stream face before further ones are dropped (and counted): bounds the
/// memory a slow peer can hold at about `WRITE_QUEUE × MAX_FRAME`.
const WRITE_QUEUE: usize = 256;

/// Most UDP faces at once: every new source address makes one, and source addresses are
/// cheap to forge, so the table needs a bound.
const MAX_UDP_FACES: usize = 16_384;

/// How often the driver's counters are handed to the core for `status/counters`.
const COUNTER_REPORT: Duration = Duration::from_millis(500);

/// Backoff between attempts to bring up a permanent `[[face]]` at start.
const STATIC_RETRY_MIN: Duration = Duration::from_secs(1);
const STATIC_RETRY_MAX: Duration = Duration::from_secs(30);

/// What face tasks, listeners and creation tasks tell the core task.
pub(super) enum Event {
    /// A frame arrived on a stream face.
    Frame(FaceId, Bytes),
    /// A listener accepted a stream: a new on-demand face.
    Opened { desc: LinkDesc, conn: StreamConn },
    /// An outgoing stream face was (or could not be) connected.
    Created {
        origin: Origin,
        result: Result<CreatedStream, String>,
    },
    /// A stream face ended by itself (EOF, error, framing violation).
    Closed { face: FaceId, end: End },
    /// A permanent face saw a framing violation and reconnected.
    FramingError(FaceId),
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
        queue: mpsc::Sender<Bytes>,
        task: JoinHandle<()>,
    },
    Udp(SocketAddr),
}

struct FaceEntry {
    link: Link,
    desc: LinkDesc,
    persistency: Persistency,
    /// Last time a frame arrived (idle detection of UDP on-demand faces).
    last_rx: Instant,
    counters: DriverFaceCounters,
}

/// Everything the engine needs that `Daemon::start` prepared.
pub(super) struct Setup {
    pub(super) udp: Option<Arc<UdpSocket>>,
    pub(super) udp_mtu: usize,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) connector: Arc<Connector>,
    pub(super) channel_dir: PathBuf,
    pub(super) events_tx: mpsc::Sender<Event>,
    pub(super) listeners: Vec<JoinHandle<()>>,
    pub(super) unix_paths: Vec<PathBuf>,
    pub(super) static_faces: Vec<(FaceUri, Persistency)>,
    pub(super) static_routes: Vec<(FaceUri, Name, u64)>,
}

pub(super) struct Engine<C> {
    core: C,
    faces: HashMap<FaceId, FaceEntry>,
    udp_peers: HashMap<SocketAddr, FaceId>,
    udp: Option<Arc<UdpSocket>>,
    udp_local_uri: String,
    udp_mtu: usize,
    /// Receive block the shared UDP socket's datagrams are split from.
    udp_buf: bytes::BytesMut,
    idle_timeout: Option<Duration>,
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

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl<C: Core> Engine<C> {
    pub(super) fn new(core: C, setup: Setup) -> Self {
        let udp_local_uri = setup
            .udp
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .map_or_else(String::new, |a| ip_uri("udp", a));
        let mut engine = Self {
            core,
            faces: HashMap::new(),
            udp_peers: HashMap::new(),
            udp: setup.udp,
            udp_local_uri,
            udp_mtu: setup.udp_mtu,
            udp_buf: bytes::BytesMut::new(),
            idle_timeout: setup.idle_timeout,
            connector: setup.connector,
            channel_dir: setup.channel_dir,
            channels: HashMap::new(),
            events_tx: setup.events_tx,
            listeners: setup.listeners,
            unix_paths: setup.unix_paths,
            static_routes: setup.static_routes,
            counters: DriverCounters::default(),
            actions: Vec::new(),
        };
        let now = Instant::now();
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
        let udp = self.udp.clone();
        let mut next_report = Instant::now();
        loop {
            let wake = match (self.core.next_timeout(), next_sweep) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                n = events.recv_many(&mut batch, EVENT_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    // One clock read per batch: the core needs `now`, not nanosecond precision.
                    let now = Instant::now();
                    for event in batch.drain(..) {
                        self.handle(now, event);
                    }
                    self.execute(now);
                }
                readable = udp_readable(udp.as_deref()) => {
                    if readable.is_ok() {
                        let now = Instant::now();
                        self.drain_udp(now);
                        self.execute(now);
                    }
                }
                () = sleep_until_opt(wake) => {}
            }
            // Timers are checked after every batch too, so a steady stream of events cannot
            // starve them.
            let now = Instant::now();
            if now >= next_report {
                self.core.driver_counters(&self.counters.named());
                next_report = now + COUNTER_REPORT;
            }
            if self.core.next_timeout().is_some_and(|t| t <= now) {
                self.core.on_timeout(now, &mut self.actions);
                self.execute(now);
            }
            if let (Some(at), Some(every)) = (next_sweep, sweep_every)
                && at <= now
            {
                self.sweep_idle(now);
                next_sweep = Some(now + every);
            }
        }
        self.stop();
    }

    /// Reads what the shared UDP socket holds, up to a batch, straight into the core: one
    /// wake-up for a burst, no task switch or channel hop per datagram.
    fn drain_udp(&mut self, now: Instant) {
        let Some(socket) = self.udp.clone() else {
            return;
        };
        for _ in 0..EVENT_BATCH {
            match super::udp::try_recv(&socket, &mut self.udp_buf) {
                super::udp::Received::Datagram(peer, frame) => self.on_datagram(now, peer, frame),
                super::udp::Received::Oversize => self.counters.udp_oversize += 1,
                super::udp::Received::Nothing => break,
            }
        }
    }

    fn handle(&mut self, now: Instant, event: Event) {
        match event {
            Event::Frame(face, frame) => {
                // Frames still in flight from a face closed meanwhile are dropped here.
                if let Some(entry) = self.faces.get_mut(&face) {
                    entry.last_rx = now;
                    self.core.receive(now, face, frame, &mut self.actions);
                }
            }
            Event::Opened { desc, conn } => {
                let info = face_info(&desc, Persistency::OnDemand, None);
                let id = self.core.add_face(info, now);
                debug!(face = %id, remote = %desc.remote_uri, local = %desc.local_uri, "on-demand face opened");
                self.attach_stream(now, id, desc, Persistency::OnDemand, conn, None);
            }
            Event::Created { origin, result } => self.on_created(now, origin, result),
            Event::Closed { face, end } => {
                match end {
                    End::Oversize(_) => self.counters.closed_oversize += 1,
                    End::Invalid => self.counters.closed_invalid += 1,
                    _ => {}
                }
                if self.faces.contains_key(&face) {
                    debug!(face = %face, "face closed: {end}");
                    self.close_face(now, face);
                }
            }
            Event::FramingError(face) => {
                debug!(face = %face, "framing violation on a permanent face");
                self.counters.closed_oversize += 1;
            }
            Event::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn on_datagram(&mut self, now: Instant, peer: SocketAddr, frame: Bytes) {
        let face = match self.udp_peers.get(&peer) {
            Some(&face) => face,
            None => {
                if self.udp_peers.len() >= MAX_UDP_FACES {
                    self.counters.udp_faces_refused += 1;
                    return;
                }
                let desc = self.udp_desc(peer);
                let info = face_info(&desc, Persistency::OnDemand, Some(self.udp_mtu));
                let face = self.core.add_face(info, now);
                debug!(face = %face, remote = %desc.remote_uri, "on-demand UDP face opened");
                self.insert(face, Link::Udp(peer), desc, Persistency::OnDemand, now);
                self.udp_peers.insert(peer, face);
                face
            }
        };
        if let Some(entry) = self.faces.get_mut(&face) {
            entry.last_rx = now;
        }
        self.core.receive(now, face, frame, &mut self.actions);
    }

    fn udp_desc(&self, peer: SocketAddr) -> LinkDesc {
        LinkDesc {
            remote_uri: ip_uri("udp", peer),
            local_uri: self.udp_local_uri.clone(),
            scope: scope_of(peer),
            peer: None,
            channel: None,
        }
    }

    fn insert(
        &mut self,
        face: FaceId,
        link: Link,
        desc: LinkDesc,
        persistency: Persistency,
        now: Instant,
    ) {
        let entry = FaceEntry {
            link,
            desc,
            persistency,
            last_rx: now,
            counters: DriverFaceCounters::default(),
        };
        if let Some(old) = self.faces.insert(face, entry) {
            // The core handed out an id that is still in use: keep the table consistent.
            warn!(face = %face, "face id reused by the core; replacing the old face");
            if let Link::Stream { task, .. } = old.link {
                task.abort();
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
        let (queue, rx) = mpsc::channel(WRITE_QUEUE);
        let task = tokio::spawn(face_task(face, conn, rx, self.events_tx.clone(), reconnect));
        self.insert(face, Link::Stream { queue, task }, desc, persistency, now);
    }

    /// Carries out the queued actions (and those they cause).
    fn execute(&mut self, now: Instant) {
        let mut actions = std::mem::take(&mut self.actions);
        while !actions.is_empty() {
            for action in actions.drain(..) {
                match action {
                    Action::Send { face, frame } => self.send(face, frame),
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
        }
        // Keep the allocation for the next round.
        self.actions = actions;
    }

    fn send(&mut self, face: FaceId, frame: Bytes) {
        let Some(entry) = self.faces.get_mut(&face) else {
            self.counters.send_unknown_face += 1;
            return;
        };
        let len = frame.len();
        let dropped = match &entry.link {
            Link::Stream { queue, .. } => match queue.try_send(frame) {
                Ok(()) => false,
                // Never block the core task on a slow peer: drop and count.
                Err(mpsc::error::TrySendError::Full(_)) => true,
                // The face task ended; its Closed event is on the way.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            },
            Link::Udp(peer) => match &self.udp {
                Some(udp) => match udp.try_send_to(&frame, *peer) {
                    Ok(_) => false,
                    Err(e) => {
                        if e.kind() != std::io::ErrorKind::WouldBlock {
                            debug!(face = %face, "UDP send: {e}");
                        }
                        true
                    }
                },
                None => true,
            },
        };
        if dropped {
            entry.counters.dropped_frames += 1;
            entry.counters.dropped_bytes += len as u64;
            self.counters.dropped_frames += 1;
            self.counters.dropped_bytes += len as u64;
            self.core.driver_dropped(face, len);
        }
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
        if let Some((&id, _)) = self.faces.iter().find(|(_, f)| {
            f.persistency != Persistency::OnDemand && f.desc.remote_uri == uri.to_string()
        }) {
            let e = format!("face {id} already connects to {uri}");
            self.core
                .face_created(now, request, Err(e), &mut self.actions);
            return;
        }
        match uri {
            FaceUri::Udp(peer) => {
                let mtu = mtu.map_or(self.udp_mtu, |m| {
                    usize::try_from(m).unwrap_or(usize::MAX).min(self.udp_mtu)
                });
                match self.prepare_udp(now, peer) {
                    Ok(desc) => {
                        let info = face_info(&desc, persistency, Some(mtu));
                        if let Some(id) =
                            self.core
                                .face_created(now, request, Ok(info), &mut self.actions)
                        {
                            self.insert(id, Link::Udp(peer), desc, persistency, now);
                            self.udp_peers.insert(peer, id);
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

    /// Makes room for a configured UDP face to `peer`: refuses if UDP is off, replaces an
    /// on-demand face the peer opened earlier (the new face takes over its address).
    fn prepare_udp(&mut self, now: Instant, peer: SocketAddr) -> Result<LinkDesc, String> {
        let Some(udp) = &self.udp else {
            return Err("UDP is disabled (faces.udp_listen is empty)".into());
        };
        let local_is_v4 = udp.local_addr().map(|a| a.is_ipv4()).unwrap_or(true);
        if local_is_v4 != peer.is_ipv4() {
            return Err("the UDP socket is of the other address family".into());
        }
        if let Some(&old) = self.udp_peers.get(&peer) {
            debug!(face = %old, "on-demand UDP face replaced by a configured one");
            self.close_face(now, old);
        }
        Ok(self.udp_desc(peer))
    }

    fn create_static(&mut self, now: Instant, uri: FaceUri, persistency: Persistency) {
        match uri {
            FaceUri::Udp(peer) => match self.prepare_udp(now, peer) {
                Ok(desc) => {
                    let info = face_info(&desc, persistency, Some(self.udp_mtu));
                    let id = self.core.add_face(info, now);
                    info!(face = %id, remote = %desc.remote_uri, "static face up");
                    self.insert(id, Link::Udp(peer), desc, persistency, now);
                    self.udp_peers.insert(peer, id);
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
        let Some(entry) = self.faces.remove(&face) else {
            return;
        };
        match entry.link {
            // Dropping the queue lets the face task write what is queued, close the stream
            // and end by itself (bounded by its write-stall timeout).
            Link::Stream { queue, task } => {
                drop(queue);
                drop(task);
            }
            Link::Udp(peer) => {
                self.udp_peers.remove(&peer);
            }
        }
        self.core.face_closed(face, now);
    }

    /// Closes UDP on-demand faces that received nothing for the idle timeout. Stream faces
    /// are not idle-closed: their peer's EOF says when they end, and an application that
    /// serves a prefix may legitimately be quiet for a long time (NFD does the same).
    fn sweep_idle(&mut self, now: Instant) {
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        let idle: Vec<FaceId> = self
            .faces
            .iter()
            .filter(|(_, f)| {
                f.persistency == Persistency::OnDemand
                    && matches!(f.link, Link::Udp(_))
                    && now.saturating_duration_since(f.last_rx) >= timeout
            })
            .map(|(&id, _)| id)
            .collect();
        for face in idle {
            debug!(face = %face, "idle on-demand face closed");
            self.counters.idle_closes += 1;
            self.close_face(now, face);
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
            counters: self.counters,
        }
    }

    /// Shutdown: stop listeners and faces, close QUIC, remove the Unix socket files.
    fn stop(&mut self) {
        for l in self.listeners.drain(..) {
            l.abort();
        }
        for (_, f) in self.faces.drain() {
            if let Link::Stream { task, .. } = f.link {
                task.abort();
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

/// Waits until the shared UDP socket is readable (forever if there is none).
async fn udp_readable(socket: Option<&UdpSocket>) -> std::io::Result<()> {
    match socket {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

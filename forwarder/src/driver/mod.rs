//! The tokio driver around the sans-IO core.
//!
//! ```text
//!  Unix / TCP listeners ──accept──┐
//!  QUIC endpoint ─────────accept──┤  control channel (bounded): Opened, Created,
//!  connect tasks (faces/create) ──┼─ Closed, Status ─────────────────────────┐
//!  face tasks (on their end) ─────┘                                          ▼
//!                                                                    ┌────────────────┐
//!  stream face task (read loop) ──► inbox (bounded, per face) ──┐    │ core task      │
//!  UDP face task (own socket) ────► inbox (bounded, per face) ──┼───►│ round robin:   │
//!     each announces itself once on the ready queue ────────────┘    │ QUANTUM frames │
//!  listening UDP socket (first datagrams of new peers) ─────────────►│ per face/round │
//!                                                                    │ owns Forwarder │
//!  stream face task (write loop) ◄── per-face bounded write queue ◄──┤ + face table   │
//!  UDP face's own connected socket ◄── outbox: sendmmsg ◄──────────┘                │
//! ```
//!
//! - **One task owns the core** ([`engine`]): it serves faces in rounds, a quantum of frames
//!   each, takes control events and the listening socket's datagrams in bounded batches,
//!   calls `Forwarder::receive`, executes the actions, and sleeps only when nothing waits. No
//!   source has priority over another, so no face, flood or event stream starves the rest.
//!   No lock is taken per packet; frames stay `Bytes` from the socket read to the socket
//!   write.
//! - **Per-face inboxes** ([`inbox`]): each face task pushes into its own bounded queue; when
//!   it is full that face alone waits (back-pressure on that peer only).
//! - **Stream faces** (Unix, TCP, QUIC) are one task each: a read loop that cuts TLV frames
//!   out of the byte stream without copying, and a write loop that gather-writes batches from
//!   a queue bounded in bytes (`faces.write_queue_bytes`). Past a threshold the face is
//!   congested and its outgoing packets carry NDNLPv2 CongestionMarks as NFD's do
//!   ([`congestion`]); only a full queue drops the frame, and counts it. The core task never
//!   waits.
//! - **UDP faces** have a socket each, bound to the listening address and connected to the
//!   peer, as in NFD ([`udp`]): the kernel keeps each peer's datagrams apart, so a flooding
//!   peer overflows only its own buffer. The listening socket hears new peers; a new peer is
//!   admitted at a bounded rate and, when `faces.max_udp_faces` is reached, evicts the
//!   on-demand face idle the longest.
//! - **Failures** close only the face concerned: an invalid or oversized frame, a frame left
//!   incomplete longer than `partial_frame_timeout_s`, EOF or an I/O error closes that
//!   stream; the core hears `face_closed` once.
//! - **Idle faces**: on-demand UDP faces, and on-demand TCP/QUIC faces of peers not on this
//!   node, close after `idle_timeout_s` without received traffic (0: never); faces of local
//!   peers (applications) close when their peer goes away.
//! - **Refusals are counted** ([`DriverCounters`], shown by `nfwd status --counters`).
//!
//! No panics on network input; every queue and table is bounded.

mod congestion;
mod connect;
mod engine;
mod gate;
mod inbox;
mod listen;
pub(crate) mod pacing;
mod quic;
mod shard;
mod stream;
mod udp;
pub mod uri;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nfwd_tlv::Name;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::Config;
use crate::core::dispatch::Dispatcher;
use crate::core::replica::{Change, Handover, Shard, ShardReport};
use crate::core::{Action, ChannelId, FaceId, FaceInfo, FaceScope, Forwarder, Frame, Persistency};
use crate::error::{Error, Result};
use engine::Event;
pub use gate::Opener;
pub use uri::FaceUri;

/// NFD's socket path, served too when `faces.nfd_compat_socket` is set.
pub const NFD_SOCKET: &str = "/run/nfd/nfd.sock";

/// What the driver needs from a forwarding core. [`Forwarder`] is the real one; tests plug
/// in small cores that echo or record what they get, to test faces at the socket level.
pub trait Core: Send + 'static {
    /// See [`Forwarder::add_face`].
    fn add_face(&mut self, info: FaceInfo, now: Instant) -> FaceId;
    /// See [`Forwarder::face_closed`] (it may answer pending Interests, hence `out`).
    fn face_closed(&mut self, face: FaceId, now: Instant, out: &mut Vec<Action>);
    /// See [`Forwarder::receive_frame`].
    fn receive(&mut self, now: Instant, face: FaceId, frame: Frame, out: &mut Vec<Action>);
    /// See [`Forwarder::face_created`].
    fn face_created(
        &mut self,
        now: Instant,
        request: u64,
        result: Result<FaceInfo, String>,
        out: &mut Vec<Action>,
    ) -> Option<FaceId>;
    /// See [`Forwarder::face_exists`]. By default, the request fails (as a driver error).
    fn face_exists(&mut self, now: Instant, request: u64, existing: FaceId, out: &mut Vec<Action>) {
        let e = format!("face {existing} already connects to that remote URI");
        let _ = self.face_created(now, request, Err(e), out);
    }
    /// See [`Forwarder::next_timeout`].
    fn next_timeout(&self) -> Option<Instant>;
    /// See [`Forwarder::on_timeout`].
    fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>);
    /// Installs a `[[route]]` once its face is up.
    fn add_route(&mut self, prefix: &Name, face: FaceId, cost: u64);
    /// The driver dropped a frame of `len` bytes that the core asked it to send on `face`
    /// (write queue full, socket buffer full), so the core's face counters can include it.
    fn driver_dropped(&mut self, face: FaceId, len: usize) {
        let _ = (face, len);
    }
    /// The driver marked a packet it sent on `face` with a CongestionMark, which made the
    /// frame `added` bytes longer.
    fn driver_marked(&mut self, face: FaceId, added: usize) {
        let _ = (face, added);
    }
    /// See [`Forwarder::channel_opened`].
    fn channel_opened(
        &mut self,
        now: Instant,
        channel: ChannelId,
        result: Result<(), String>,
        out: &mut Vec<Action>,
    ) {
        let _ = (now, channel, result, out);
    }
    /// The driver's own counters, for `status/counters`; the engine reports them
    /// periodically.
    fn driver_counters(&mut self, counters: &[crate::metrics::Counter]) {
        let _ = counters;
    }
    /// See [`Forwarder::set_channels`]: the listening channels, once bound.
    fn set_channels(&mut self, local_uris: Vec<String>) {
        let _ = local_uris;
    }
    /// See [`Forwarder::take_changes`] (sharded forwarders only).
    fn take_changes(&mut self, into: &mut Vec<Change>) {
        let _ = into;
    }
    /// See [`Forwarder::apply`] (sharded forwarders only).
    fn apply(&mut self, change: &Change, now: Instant, out: &mut Vec<Action>) {
        let _ = (change, now, out);
    }
    /// See [`Forwarder::take_handovers`] (sharded forwarders only).
    fn take_handovers(&mut self, into: &mut Vec<Handover>) {
        let _ = into;
    }
    /// See [`Forwarder::set_shard_report`] (sharded forwarders only).
    fn shard_report(&mut self, report: ShardReport) {
        let _ = report;
    }
    /// See [`Forwarder::receive_handover`] (sharded forwarders only).
    fn receive_handover(&mut self, now: Instant, handover: &Handover, out: &mut Vec<Action>) {
        self.receive(now, handover.face, Frame::copy_from(&handover.frame), out);
    }
}

impl Core for Forwarder {
    fn add_face(&mut self, info: FaceInfo, now: Instant) -> FaceId {
        Self::add_face(self, info, now)
    }

    fn face_closed(&mut self, face: FaceId, now: Instant, out: &mut Vec<Action>) {
        Self::face_closed(self, face, now, out);
    }

    fn receive(&mut self, now: Instant, face: FaceId, frame: Frame, out: &mut Vec<Action>) {
        Self::receive_frame(self, now, face, frame, out);
    }

    fn face_created(
        &mut self,
        now: Instant,
        request: u64,
        result: Result<FaceInfo, String>,
        out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        Self::face_created(self, now, request, result, out)
    }

    fn face_exists(&mut self, _: Instant, request: u64, existing: FaceId, out: &mut Vec<Action>) {
        Self::face_exists(self, request, existing, out);
    }

    fn next_timeout(&self) -> Option<Instant> {
        Self::next_timeout(self)
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        Self::on_timeout(self, now, out);
    }

    fn add_route(&mut self, prefix: &Name, face: FaceId, cost: u64) {
        Self::add_route(self, prefix, face, cost);
    }

    fn driver_dropped(&mut self, face: FaceId, len: usize) {
        self.note_driver_drop(face, len);
    }

    fn driver_marked(&mut self, face: FaceId, added: usize) {
        self.note_driver_mark(face, added);
    }

    fn channel_opened(
        &mut self,
        now: Instant,
        channel: ChannelId,
        result: Result<(), String>,
        out: &mut Vec<Action>,
    ) {
        Self::channel_opened(self, now, channel, result, out);
    }

    fn driver_counters(&mut self, counters: &[crate::metrics::Counter]) {
        self.set_driver_counters(counters);
    }

    fn set_channels(&mut self, local_uris: Vec<String>) {
        Self::set_channels(self, local_uris);
    }

    fn take_changes(&mut self, into: &mut Vec<Change>) {
        Self::take_changes(self, into);
    }

    fn apply(&mut self, change: &Change, now: Instant, out: &mut Vec<Action>) {
        Self::apply(self, change, now, out);
    }

    fn take_handovers(&mut self, into: &mut Vec<Handover>) {
        Self::take_handovers(self, into);
    }

    fn shard_report(&mut self, report: ShardReport) {
        self.set_shard_report(report);
    }

    fn receive_handover(&mut self, now: Instant, handover: &Handover, out: &mut Vec<Action>) {
        Self::receive_handover(self, now, handover, out);
    }
}

crate::metrics::counters! {
/// Frames the driver dropped on one face (they never reached the socket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverFaceCounters {
    /// Frames dropped because the write queue or socket buffer was full.
    pub dropped_frames: u64,
    /// Their bytes.
    pub dropped_bytes: u64,
    /// Packets sent with a CongestionMark the driver set.
    pub congestion_marks: u64,
}
}

crate::metrics::counters! {
/// Driver-wide counters (they survive the faces they concern). Every frame, datagram or
/// connection the driver refuses or drops is counted in one of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Outgoing frames dropped (all faces, closed ones included).
    pub dropped_frames: u64,
    /// Their bytes.
    pub dropped_bytes: u64,
    /// Packets sent with a CongestionMark the driver set (all faces).
    pub congestion_marks: u64,
    /// Frames that waited in a UDP face's pacing queue (`faces.udp_pacing_*`) instead of
    /// leaving at once.
    pub udp_paced_frames: u64,
    /// Stream faces closed because the peer announced a frame over the size limit.
    pub closed_oversize: u64,
    /// Stream faces closed because the peer sent something that is not TLV.
    pub closed_invalid: u64,
    /// Stream faces closed because the peer held an incomplete frame longer than
    /// `faces.partial_frame_timeout_s` (a slowloris).
    pub closed_partial_frame: u64,
    /// GSO sends on UDP faces: several frames of one size handed to the kernel in one
    /// `sendmsg`, which cuts them into datagrams as late as it can.
    pub udp_gso_sends: u64,
    /// GSO sends the kernel refused (a segment over the path MTU, a device that cannot do
    /// it): the face then sends such frames one datagram each, as it did these.
    pub udp_gso_refused: u64,
    /// Datagrams that reached a UDP face coalesced by the kernel (UDP GRO: above all a GSO
    /// sender's), cut apart again.
    pub udp_gro_datagrams: u64,
    /// Datagrams dropped for being over the size limit.
    pub udp_oversize: u64,
    /// Datagrams from new peers dropped because every UDP face is a configured one (nothing
    /// to evict at `faces.max_udp_faces`) or no socket could be opened for the peer.
    pub udp_faces_refused: u64,
    /// On-demand UDP faces closed to make room for a new peer at `faces.max_udp_faces`.
    pub udp_faces_evicted: u64,
    /// Datagrams from new peers dropped by the rate limit on new on-demand UDP faces.
    pub udp_new_peers_refused: u64,
    /// On-demand UDP faces closed because their peer's port was unreachable (ICMP).
    pub udp_faces_unreachable: u64,
    /// Accepted stream connections closed at once because `faces.max_stream_faces` faces were
    /// open.
    pub stream_faces_refused: u64,
    /// On-demand UDP faces closed for being idle.
    pub idle_closes_udp: u64,
    /// On-demand TCP faces of non-local peers closed for being idle.
    pub idle_closes_tcp: u64,
    /// On-demand QUIC faces of non-local peers closed for being idle.
    pub idle_closes_quic: u64,
    /// `Send` actions for a face the driver does not know (closed meanwhile).
    pub send_unknown_face: u64,
    /// Packets for another forwarding thread (reassembled from fragments, or a new UDP
    /// peer's first datagram) dropped because that thread had too many waiting already.
    pub shard_handovers_dropped: u64,
}
}

/// One face as the driver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverFace {
    /// Its id.
    pub id: FaceId,
    /// Remote URI.
    pub remote_uri: String,
    /// Local URI.
    pub local_uri: String,
    /// Scope.
    pub scope: FaceScope,
    /// Persistency.
    pub persistency: Persistency,
    /// Drops.
    pub counters: DriverFaceCounters,
}

/// A snapshot of the driver's faces and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverStatus {
    /// Open faces, by id.
    pub faces: Vec<DriverFace>,
    /// Driver-wide counters.
    pub counters: DriverCounters,
}

/// A running daemon: its bound addresses, and the handle to stop it. Dropping it stops the
/// daemon too, without waiting.
#[derive(Debug)]
pub struct Daemon {
    unix_paths: Vec<PathBuf>,
    tcp: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    quic: Option<SocketAddr>,
    events: mpsc::Sender<Event>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Event")
    }
}

impl Daemon {
    /// Starts the forwarder described by `config`: binds every listener (port 0 gives an
    /// ephemeral port, see [`Daemon::tcp_addr`] and friends), then creates the `[[face]]`s.
    pub async fn start(config: Config) -> Result<Self> {
        let (core, followers) = Self::default_cores(&config)?;
        Self::start_gated(config, core, None, followers).await
    }

    /// The forwarder `config` describes: one core, or with `forwarding.threads` N > 1 the
    /// leader's (shard 0, run by the engine) and N − 1 followers on threads of their own.
    fn default_cores(config: &Config) -> Result<(Forwarder, Option<shard::Followers>)> {
        config.validate()?;
        let now = Instant::now();
        let threads = config.forwarding.threads;
        // The core has no clock; status/general reports wall-clock times from this anchor.
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let shard = |k: u8| {
            let shard = Shard::new(k, threads)
                .ok_or_else(|| Error::Config(format!("forwarding shard {k} of {threads}")))?;
            let mut core = Forwarder::sharded(config, now, rand::random(), shard);
            core.set_wall_clock(wall_ms);
            Ok::<_, Error>(core)
        };
        let mut leader = shard(0)?;
        // Who may manage: resolved here (user names, key files) for the core to enforce.
        leader.set_policy(crate::security::policy(
            &config.security,
            crate::security::effective_uid(),
        )?);
        if threads <= 1 {
            return Ok((leader, None));
        }
        // Face tasks and shards hash names with one key, so that they agree on owners.
        let dispatcher = Dispatcher::with_prefix(
            threads,
            config.forwarding.dispatch_components,
            nfwd_tlv::NameHasher::new(),
        )?;
        leader.set_dispatcher(dispatcher.clone());
        let followers = (1..threads)
            .map(|k| {
                let mut core = shard(k)?;
                core.set_dispatcher(dispatcher.clone());
                Ok(core)
            })
            .collect::<Result<Vec<_>>>()?;
        let followers = shard::Followers::spawn(followers, dispatcher)?;
        info!(threads, "forwarding sharded across threads");
        Ok((leader, Some(followers)))
    }

    /// Like [`Daemon::start`], but clients of other processes are held until the returned
    /// [`Opener`] opens (or is dropped): for a daemon whose own services (the SF host of
    /// `nfwd start --sf-host`) connect as clients and must serve before anyone else is heard
    /// (`gate.rs`).
    pub async fn start_held(config: Config) -> Result<(Self, Opener)> {
        let (gate, opener) = gate::Gate::closed();
        let (core, followers) = Self::default_cores(&config)?;
        let daemon = Self::start_gated(config, core, Some(gate), followers).await?;
        Ok((daemon, opener))
    }

    /// Like [`Daemon::start`], with another core (tests).
    pub async fn start_with_core<C: Core>(config: Config, core: C) -> Result<Self> {
        Self::start_gated(config, core, None, None).await
    }

    async fn start_gated<C: Core>(
        config: Config,
        mut core: C,
        gate: Option<gate::Gate>,
        followers: Option<shard::Followers>,
    ) -> Result<Self> {
        config.validate()?;
        raise_fd_limit(&config);
        // Configuration errors first, before anything is bound.
        let (static_faces, static_routes) = static_config(&config)?;
        let (events_tx, events_rx) = mpsc::channel(engine::EVENT_QUEUE);
        let mut listeners = Vec::new();
        let mut unix_paths = Vec::new();
        let bound = match bind_all(
            &config,
            &events_tx,
            &mut listeners,
            &mut unix_paths,
            gate.as_ref(),
        )
        .await
        {
            Ok(b) => b,
            Err(e) => {
                // Undo the part that succeeded.
                for l in &listeners {
                    l.abort();
                }
                for path in &unix_paths {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e);
            }
        };
        // `faces/channels` lists the listeners by NFD's LocalUris, as bound (port 0 resolved).
        core.set_channels(channel_uris(&unix_paths, &bound));
        let faces = &config.faces;
        let seconds = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        let setup = engine::Setup {
            udp: bound.udp,
            udp_mtu: faces.udp_mtu,
            // 0 means never, for both.
            idle_timeout: seconds(faces.idle_timeout_s),
            partial_frame_timeout: seconds(faces.partial_frame_timeout_s),
            write_queue_bytes: faces.write_queue_bytes,
            udp_face_buffer_bytes: faces.udp_face_buffer_bytes,
            udp_pacing: pacing::PacingConfig::of(faces),
            max_udp_faces: faces.max_udp_faces,
            max_stream_faces: faces.max_stream_faces,
            connector: bound.connector,
            channel_dir: faces.channel_dir(),
            events_tx: events_tx.clone(),
            listeners,
            unix_paths: unix_paths.clone(),
            static_faces,
            static_routes,
            followers,
        };
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            engine::Engine::new(core, setup)
                .run(events_rx, shutdown_rx)
                .await;
        });
        Ok(Self {
            unix_paths,
            tcp: bound.tcp,
            udp: bound.udp_addr,
            quic: bound.quic,
            events: events_tx,
            shutdown: Some(shutdown_tx),
            task: Some(task),
        })
    }

    /// The Unix socket applications connect to (the configured `unix_path`).
    #[must_use]
    pub fn unix_path(&self) -> Option<&Path> {
        self.unix_paths.first().map(PathBuf::as_path)
    }

    /// Every Unix socket served (with `nfd_compat_socket`, NFD's path too).
    #[must_use]
    pub fn unix_paths(&self) -> &[PathBuf] {
        &self.unix_paths
    }

    /// The bound TCP address.
    #[must_use]
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
    }

    /// The bound UDP address.
    #[must_use]
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp
    }

    /// The bound QUIC address.
    #[must_use]
    pub fn quic_addr(&self) -> Option<SocketAddr> {
        self.quic
    }

    /// The driver's faces and drop counters.
    pub async fn status(&self) -> Result<DriverStatus> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Status(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Resolves if the daemon stops by itself (a forwarding thread died), never otherwise:
    /// for `nfwd start`, which then exits with an error for its supervisor to see.
    pub async fn stopped(&mut self) {
        match self.task.as_mut() {
            Some(task) => {
                let _ = task.await;
                self.task = None;
            }
            None => std::future::pending().await,
        }
    }

    /// Stops the daemon: closes listeners and faces and removes the Unix socket files.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| Error::Other(format!("driver task: {e}")))?;
        }
        Ok(())
    }
}

type StaticFaces = Vec<(FaceUri, Persistency)>;
type StaticRoutes = Vec<(FaceUri, Name, u64)>;

/// `[[face]]` and `[[route]]`, parsed; every route must name one of the faces.
fn static_config(config: &Config) -> Result<(StaticFaces, StaticRoutes)> {
    let mut faces = Vec::new();
    for f in &config.static_faces {
        let uri = FaceUri::parse(&f.uri)?;
        let persistency = match f.persistency.as_str() {
            "persistent" => Persistency::Persistent,
            "permanent" => Persistency::Permanent,
            other => {
                return Err(Error::Config(format!(
                    "face {}: persistency {other:?} (want persistent or permanent)",
                    f.uri
                )));
            }
        };
        faces.push((uri, persistency));
    }
    let mut routes = Vec::new();
    for r in &config.static_routes {
        let prefix: Name = r
            .prefix
            .parse()
            .map_err(|e| Error::Config(format!("route prefix {:?}: {e}", r.prefix)))?;
        let uri = FaceUri::parse(&r.face)?;
        if !faces.iter().any(|(u, _)| *u == uri) {
            return Err(Error::Config(format!(
                "route {}: face {} is not a [[face]]",
                r.prefix, r.face
            )));
        }
        routes.push((uri, prefix, r.cost));
    }
    Ok((faces, routes))
}

/// A listener that could not be opened, named with its address and the setting that chose it
/// (`Address already in use` alone does not say which port).
fn listen_error(kind: &str, addr: SocketAddr, setting: &str, e: &Error) -> Error {
    let in_use = matches!(e, Error::Io(io) if io.kind() == std::io::ErrorKind::AddrInUse);
    let hint = if in_use {
        " (another nfwd or NFD listens there? choose another address with "
    } else {
        " (set with "
    };
    Error::Config(format!(
        "cannot listen on {kind} {addr}: {e}{hint}{setting})"
    ))
}

/// What `bind_all` opened.
struct Bound {
    tcp: Option<SocketAddr>,
    udp: Option<tokio::net::UdpSocket>,
    udp_addr: Option<SocketAddr>,
    quic: Option<SocketAddr>,
    connector: Arc<connect::Connector>,
}

/// Binds every listener and starts its task. On error, `listeners` and `unix_paths` hold
/// what was started, for the caller to undo.
async fn bind_all(
    config: &Config,
    events: &mpsc::Sender<Event>,
    listeners: &mut Vec<JoinHandle<()>>,
    unix_paths: &mut Vec<PathBuf>,
    gate: Option<&gate::Gate>,
) -> Result<Bound> {
    let faces = &config.faces;
    let access = listen::SocketAccess {
        mode: faces.unix_mode()?,
        group: match faces.unix_group.trim() {
            "" => None,
            g => Some(crate::security::lookup_group(g)?),
        },
        create_dir: true,
    };
    let wanted = faces
        .unix_path
        .iter()
        .cloned()
        .chain(faces.nfd_compat_socket.then(|| PathBuf::from(NFD_SOCKET)));
    for path in wanted {
        if unix_paths.contains(&path) {
            continue;
        }
        let listener = listen::bind_unix(&path, access)?;
        info!(path = %path.display(), "listening on Unix socket");
        unix_paths.push(path.clone());
        listeners.push(tokio::spawn(listen::unix_accept_loop(
            listener,
            path,
            None,
            events.clone(),
            gate.cloned(),
        )));
    }
    let mut tcp = None;
    if let Some(addr) = faces.tcp_listen_addr()? {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| listen_error("TCP", addr, "faces.tcp_listen or --tcp", &e.into()))?;
        let bound = listener.local_addr()?;
        info!(%bound, "listening on TCP");
        tcp = Some(bound);
        listeners.push(tokio::spawn(listen::tcp_accept_loop(
            listener,
            events.clone(),
            gate.cloned(),
        )));
    }
    let mut udp = None;
    let mut udp_addr = None;
    if let Some(addr) = faces.udp_listen_addr()? {
        let socket = udp::bind(addr, faces.udp_listen_buffer_bytes)
            .map_err(|e| listen_error("UDP", addr, "faces.udp_listen or --udp", &e))?;
        let bound = socket.local_addr()?;
        info!(%bound, "listening on UDP");
        udp_addr = Some(bound);
        // The engine itself reads this socket (see `Engine::drain_udp`).
        udp = Some(socket);
    }
    let mut quic_server = None;
    let mut quic = None;
    if let Some(addr) = faces.quic_listen_addr()? {
        let mut endpoint = quinn::Endpoint::server(quic::server_config()?, addr)
            .map_err(|e| listen_error("QUIC", addr, "faces.quic_listen or --quic", &e.into()))?;
        endpoint.set_default_client_config(quic::client_config()?);
        let bound = endpoint.local_addr()?;
        info!(%bound, "listening on QUIC");
        quic = Some(bound);
        listeners.push(tokio::spawn(quic::accept_loop(
            endpoint.clone(),
            events.clone(),
        )));
        quic_server = Some(endpoint);
    }
    Ok(Bound {
        tcp,
        udp,
        udp_addr,
        quic,
        connector: Arc::new(connect::Connector::new(quic_server)?),
    })
}

/// The listening channels' LocalUris, NFD's way: `unix:///run/nfd/nfd.sock`,
/// `tcp4://0.0.0.0:6363`, `udp4://0.0.0.0:6363`, and ours `quic://0.0.0.0:6364`.
fn channel_uris(unix_paths: &[PathBuf], bound: &Bound) -> Vec<String> {
    let unix = unix_paths.iter().map(|p| format!("unix://{}", p.display()));
    let tcp = bound.tcp.map(|a| uri::ip_uri("tcp", a));
    let udp = bound.udp_addr.map(|a| uri::ip_uri("udp", a));
    let quic = bound.quic.map(|a| format!("quic://{a}"));
    unix.chain(tcp).chain(udp).chain(quic).collect()
}

/// Descriptors the daemon needs besides its faces (listeners, QUIC, logs, channels).
const FD_SLACK: u64 = 256;

/// Raises the soft limit on open files to the hard limit: every UDP face has a socket of its
/// own, every stream face one, so the default soft limit (often 1024) would cap the faces far
/// below `faces.max_udp_faces` + `faces.max_stream_faces`. Warns when even the hard limit is
/// too low for them (accepts and new UDP faces then fail, counted, once descriptors run out).
fn raise_fd_limit(config: &Config) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // No hard limit: ask for what the faces need; the kernel caps it at fs.nr_open.
    let wanted = (config.faces.max_udp_faces as u64)
        .saturating_add(config.faces.max_stream_faces as u64)
        .saturating_add(FD_SLACK);
    let target = limit.maximum.unwrap_or(wanted);
    let now = match limit.current {
        Some(current) if current < target => {
            let raised = rustix::process::Rlimit {
                current: Some(target),
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => {
                    info!(from = current, to = target, "raised the open-file limit");
                    target
                }
                Err(e) => {
                    warn!("raising the open-file limit: {e}");
                    current
                }
            }
        }
        Some(current) => current,
        None => u64::MAX,
    };
    if now < wanted {
        warn!(
            limit = now,
            wanted, "the open-file limit is below faces.max_udp_faces + faces.max_stream_faces"
        );
    }
}

/// Runs the daemon until `shutdown` resolves, then stops it cleanly.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let mut daemon = Daemon::start(config).await?;
    tokio::select! {
        () = shutdown => daemon.shutdown().await,
        () = daemon.stopped() => Err(Error::Other("the forwarder stopped by itself".into())),
    }
}

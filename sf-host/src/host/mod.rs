//! The SF host: deploys SFs on this node and runs their instances through a [`Backend`]
//! (processes, or Docker containers), driven locally ([`RunningHost`]) or through the
//! forwarder's management ([`protocol`]).
//!
//! Lifecycle (`docs/sf-host.md`, section "SF host"):
//! - **Warm**: `deploy` starts `instances.min` instances and returns once each has registered
//!   its function on the forwarder.
//! - **On demand (cold start)**: with no instance running, the host registers the function
//!   name itself from a dedicated face (the *placeholder*; one face per function, protocol
//!   §5), so the forwarder pops the head towards it and hands it the chained Interest. The host
//!   holds that Interest, starts an instance, waits until the instance's face appears as a
//!   next hop of the function in `fib/list` (polled, with a deadline), withdraws the
//!   placeholder, re-expresses the Interest with the function pushed back on its stack, and
//!   answers the held Interest with the result. Nothing is lost, and the forwarder needs no
//!   special support.
//! - **Idle stop**: an instance whose face received no Interest for `idle_stop_s` is stopped,
//!   never below `min`; when the last one stops the placeholder registers again.
//! - **Several instances**: an SF with `max > 1` gets the `load-balance` strategy on its
//!   prefix. Scale-out: when at a poll every instance has at least `concurrency` Interests
//!   outstanding (its face's out-Interests minus in-Data and in-Nacks), one more starts.
//! - **Crashes**: every poll checks each instance's status; an instance that exited is reaped
//!   and counted, and restarted after a backoff (100 ms doubling to 10 s, reset once an
//!   instance stayed up 30 s) while fewer than `min` run; an on-demand SF left without
//!   instances goes back to its placeholder instead.
//!
//! - **Confinement**: each instance connects only through a restricted channel of its own
//!   (`channels/open` for its function name, the socket alone in a 0700 directory of the
//!   instance's user under the forwarder's `faces.channel_dir`), closed and removed when it
//!   stops; it never runs as root (a uid of its own per instance when the host is root,
//!   [`crate::users`]). The host's own connection (management, placeholders) stays on the
//!   main socket.
//! - **Management** ([`protocol`]): `/localhost/nfwd/sf` and `/localhost/nfwd/sf-exec` (exec
//!   artifacts), authorized by the forwarder before they arrive; requests are read from the
//!   name's structure.
//!
//! Counters per SF: requests, answers, Nacks and activity come from the forwarder's per-face
//! counters (`faces/list`) of each instance's face — the same for every backend, and true
//! even for an instance that is hung; errors and latency come from each instance's runtime
//! (`F/32=instance/<id>/32=stats`, asked when stats are requested; those Interests are
//! subtracted from the activity).

pub mod protocol;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nfwd_forwarder::client::{Client, ClientUri, FetchOptions, IncomingInterest, Reply};
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::nfd::{
    ControlParameters, ControlResponse, FaceStatus, FibEntry, decode_all, segment_dataset,
    status_code,
};
use nfwd_tlv::{Data, FunctionChain, Interest, InterestBuilder, Name, Signer};
use tokio::task::JoinHandle;

use crate::backend::{Backend, ForwarderAccess, InstanceHandle, InstanceStatus, Prepared};
use crate::docker::{DockerBackend, DockerOptions};
use crate::error::{Error, Result};
use crate::package::PackageKind;
use crate::package::cache::{self, CacheOptions, PackageCache, Pin};
use crate::process::{ProcessBackend, ProcessOptions};
use crate::progress::Progress;
use crate::spec::{Artifact, BackendKind, PullWhen, SfSpec};
use crate::users::{InstanceUser, InstanceUsers};
use protocol::{Dataset, InstanceInfo, Request, Service, SfInfo, SfStats, Verb};

/// First delay before restarting a crashed instance.
const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// An instance up this long resets the backoff.
const BACKOFF_RESET: Duration = Duration::from_secs(30);
/// Most deployed SFs (bounds the host's state against a flood of deploy commands).
const MAX_SFS: usize = 1024;
/// Dataset publications kept for their later segments.
const KEPT_PUBLICATIONS: usize = 16;
/// Lines returned by the logs dataset.
const LOG_LINES: usize = 200;
/// Interests held at once per SF during a cold start; more are refused with Nack Congestion
/// (the consumer retransmits).
const MAX_HELD: usize = 1024;
/// Management requests handled at once; more wait in the client's bounded listener queue.
const MAX_MGMT: usize = 32;
/// Longest a report waits for an SF's lifecycle lock before calling the SF busy.
const BUSY_WAIT: Duration = Duration::from_millis(500);

/// The backend an SF whose specification says `backend = "auto"` runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HostBackend {
    /// Local processes.
    #[default]
    Process,
    /// Containers on the local Docker engine. Never a silent fallback: if the engine or the
    /// static `nfwd` for images is missing, deployments fail saying which and how to fix it.
    Docker,
}

impl std::str::FromStr for HostBackend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "process" => Ok(Self::Process),
            "docker" => Ok(Self::Docker),
            _ => Err(Error::Config(format!(
                "SF backend {s:?}: want \"process\" or \"docker\""
            ))),
        }
    }
}

/// How the host runs.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The `nfwd` binary process instances run. Default: the current executable.
    pub nfwd_bin: Option<PathBuf>,
    /// What `backend = "auto"` means. Default [`HostBackend::Process`].
    pub backend: HostBackend,
    /// A statically linked `nfwd` for Docker images. Default: `nfwd_bin` if it is static
    /// (build one with `scripts/build-static-nfwd.sh`).
    pub docker_binary: Option<PathBuf>,
    /// Who this host is: the `nfwd.owner` label of its Docker objects and the prefix of its
    /// channel directories (letters, digits, `_`, `.`, `-`). Default `nfwd-<8 hex digits>`
    /// derived from the forwarder's socket path: stable across restarts (a restarted host
    /// sweeps what its predecessor left), distinct between forwarders.
    pub owner: Option<String>,
    /// Where the per-instance channel directories go; must be the forwarder's
    /// `faces.channel_dir`. Default `sf` beside the forwarder's socket (the forwarder's
    /// default too).
    pub channel_dir: Option<PathBuf>,
    /// Who instances run as when the host is root. Default: a uid of its own per instance
    /// from 61000–61999. Without root, instances run as the host's user.
    pub users: InstanceUsers,
    /// Period of the status/counter poll (crashes, idle stops, scale-out). Default 500 ms.
    pub poll_interval: Duration,
    /// Longest wait for a new instance to register. Default 15 s.
    pub ready_timeout: Duration,
    /// Period of the `fib/list` poll while waiting for an instance. Default 20 ms.
    pub ready_poll: Duration,
    /// Where packages of SFs this host lacks come from, and where they are kept
    /// (`docs/sf-host.md`, "Pulling packages"). Default `None`: a deploy of a package is
    /// refused.
    pub packages: Option<CacheOptions>,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            nfwd_bin: None,
            backend: HostBackend::Process,
            docker_binary: None,
            owner: None,
            channel_dir: None,
            users: InstanceUsers::default(),
            poll_interval: Duration::from_millis(500),
            ready_timeout: Duration::from_secs(15),
            ready_poll: Duration::from_millis(20),
            packages: None,
        }
    }
}

impl HostOptions {
    /// Checks what can be checked before connecting: the owner's spelling, and that a fixed
    /// instance user can be switched to (only root can).
    pub fn validate(&self) -> Result<()> {
        if let Some(owner) = &self.owner {
            crate::docker::check_label_value("owner", owner)
                .map_err(|e| Error::Config(e.to_string()))?;
        }
        // A given binary for images that is missing or unusable is known to be wrong now:
        // said at `nfwd start`, not at the first Docker deployment.
        if let Some(binary) = &self.docker_binary {
            match crate::docker::is_static_elf(binary) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Error::Config(format!(
                        "the nfwd for SF images, {}, is not a statically linked executable; \
                         build one with `scripts/build-static-nfwd.sh` (it prints the path)",
                        binary.display()
                    )));
                }
                Err(e) => {
                    let why = match e {
                        Error::Spec(m) => m,
                        e => e.to_string(),
                    };
                    return Err(Error::Config(format!(
                        "the nfwd for SF images: {why}; build one with \
                         `scripts/build-static-nfwd.sh` (it prints the path)"
                    )));
                }
            }
        }
        let (uid, _) = crate::users::current_ids()?;
        if let InstanceUsers::Fixed(u) = self.users
            && uid != 0
            && u.uid != uid
        {
            return Err(Error::Config(format!(
                "the SF host runs as uid {uid} and cannot run instances as {u}: only root can \
                 switch users (run the daemon as root, or leave the SF user unset)"
            )));
        }
        Ok(())
    }
}

/// The default owner of a host connected to `socket` (see [`HostOptions::owner`]).
fn default_owner(socket: &std::path::Path) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, socket.as_os_str().as_encoded_bytes());
    let hex: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("nfwd-{hex}")
}

/// Name of the socket in an instance's channel directory.
const CHANNEL_SOCKET: &str = "nfwd.sock";
/// Longest Unix socket path (sun_path holds 108 bytes with the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Which backend runs an SF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Process,
    Docker,
}

/// Last face counters seen for an instance: raw, and without the host's own probes.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    raw: FaceCounts,
    /// High-water mark of `out_interests` minus probes sent.
    requests: u64,
    /// High-water mark of `in_data` minus probes that may have been answered.
    answers: u64,
}

/// An instance face's counters, as the forwarder's faces dataset gives them.
#[derive(Debug, Clone, Copy, Default)]
struct FaceCounts {
    out_interests: u64,
    in_data: u64,
    in_nacks: u64,
}

impl Seen {
    /// Takes in the face's counters now and returns the requests, answers and Nacks added
    /// since the last call, the host's probes left out.
    fn advance(&mut self, face: FaceCounts, probes: &Probes) -> (u64, u64, u64) {
        // `failed` is read before `sent`, so it counts none of the probes `sent` leaves out:
        // a probe failing in between is still presumed answered, which errs low as `Probes`
        // requires.
        let failed = probes.failed.load(Ordering::Acquire);
        let sent = probes.sent.load(Ordering::Acquire);
        let failed = failed.min(sent);
        let requests = face.out_interests.saturating_sub(sent);
        let answers = face.in_data.saturating_sub(sent - failed);
        let added = (
            requests.saturating_sub(self.requests),
            answers.saturating_sub(self.answers),
            face.in_nacks.saturating_sub(self.raw.in_nacks),
        );
        *self = Self {
            raw: face,
            requests: requests.max(self.requests),
            answers: answers.max(self.answers),
        };
        added
    }
}

/// The `F/32=instance/<id>/32=stats` Interests the host sent to one instance, cumulative.
/// They travel on the instance's face like requests, so the face's counters include them.
///
/// Cumulative per instance, never reset between polls: a poll that reads the face counters
/// before a probe reaches the face, and the probe counter after, must not lose the probe
/// (it would be counted as a request at the next poll).
#[derive(Debug, Default)]
struct Probes {
    /// Counted before the Interest is sent, so the difference to the face's out-Interests
    /// is never above the true request count.
    sent: AtomicU64,
    /// Probes that brought no Data (timed out, Nacked): counted once known, until then
    /// presumed answered, so the answer count is never above the truth either.
    failed: AtomicU64,
}

/// An instance's restricted channel: a socket alone in a directory of the instance's user.
#[derive(Debug)]
struct InstanceChannel {
    dir: PathBuf,
    uri: String,
    /// A dynamic uid claimed for the instance, given back when it goes.
    claimed: Option<u32>,
}

#[derive(Debug)]
struct Inst {
    handle: InstanceHandle,
    channel: InstanceChannel,
    face: Option<u64>,
    started: Instant,
    seen: Seen,
    probes: Arc<Probes>,
    /// Out-Interests minus answers at the last quiet moment: the baseline of "outstanding".
    baseline: i64,
    last_activity: Instant,
}

#[derive(Debug, Default)]
struct Life {
    instances: Vec<Inst>,
    next_index: u32,
    removed: bool,
    /// Crashed instances to restart: when.
    restarts: Vec<Instant>,
    /// Consecutive crashes (backoff exponent).
    failures: u32,
}

#[derive(Debug, Default)]
struct Counters {
    starts: u64,
    cold_starts: u64,
    last_cold_start_ms: Option<u64>,
    last_cold_start_to_result_ms: Option<u64>,
    crashes: u64,
    restarts: u64,
    idle_stops: u64,
    scale_outs: u64,
    requests: u64,
    answers: u64,
    nacks: u64,
    held: u64,
    held_failed: u64,
}

/// The placeholder face of an on-demand SF.
#[derive(Debug)]
struct Placeholder {
    client: Client,
    face: u64,
    registered: AtomicBool,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Sf {
    spec: SfSpec,
    name: Name,
    kind: Kind,
    life: tokio::sync::Mutex<Life>,
    counters: Mutex<Counters>,
    placeholder: Option<Placeholder>,
    /// Bounds the Interests held at once.
    holding: Arc<tokio::sync::Semaphore>,
    /// The package the SF runs from, kept in the cache while the SF is deployed, with the
    /// spec that runs it: set at deployment, or at the first start for `pull = "on-demand"`
    /// (then `spec` keeps the package artifact until then).
    package: tokio::sync::OnceCell<(SfSpec, Pin)>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    uri: String,
    process: ProcessBackend,
    /// Connected on first use; a failure is not kept (the next deployment tries again).
    docker: tokio::sync::OnceCell<DockerBackend>,
    owner: String,
    channel_dir: PathBuf,
    /// This process's uid and gid.
    ids: (u32, u32),
    options: HostOptions,
    sfs: tokio::sync::Mutex<BTreeMap<String, Arc<Sf>>>,
    publications: Mutex<VecDeque<(Name, Vec<Bytes>)>>,
    version: AtomicU64,
    /// What the deploys in progress are doing (the `progress` dataset).
    progress: Progress,
    /// Packages pulled over NDN (`None`: no package sources configured).
    packages: Option<PackageCache>,
}

/// The SF host (see the module documentation). [`SfHost::start`] runs one.
#[derive(Debug)]
pub struct SfHost;

/// A running SF host. Dropping it stops its tasks; [`RunningHost::shutdown`] also stops
/// every instance.
#[derive(Debug)]
pub struct RunningHost {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl SfHost {
    /// Connects to the forwarder at `forwarder_uri` (`unix:///path`: instances reach the
    /// forwarder through the same socket), serves the management prefix and starts the
    /// lifecycle poll.
    pub async fn start(forwarder_uri: &str, options: HostOptions) -> Result<RunningHost> {
        let uri: ClientUri = forwarder_uri.parse()?;
        let ClientUri::Unix(socket) = &uri else {
            return Err(Error::Config(format!(
                "the SF host needs the forwarder's Unix socket, not {forwarder_uri}"
            )));
        };
        options.validate()?;
        let nfwd_bin = match &options.nfwd_bin {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let owner = options
            .owner
            .clone()
            .unwrap_or_else(|| default_owner(socket));
        let channel_dir = match &options.channel_dir {
            Some(d) => d.clone(),
            None => socket
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."))
                .join("sf"),
        };
        sweep_channel_dirs(&channel_dir, &owner);
        let packages = options
            .packages
            .clone()
            .map(PackageCache::open)
            .transpose()?;
        let client = Client::connect(forwarder_uri).await?;
        let inner = Arc::new(Inner {
            client: client.clone(),
            uri: forwarder_uri.to_owned(),
            owner,
            channel_dir,
            ids: crate::users::current_ids()?,
            process: ProcessBackend::new(ProcessOptions::new(nfwd_bin)),
            docker: tokio::sync::OnceCell::new(),
            options,
            sfs: tokio::sync::Mutex::new(BTreeMap::new()),
            publications: Mutex::new(VecDeque::new()),
            version: AtomicU64::new(0),
            progress: Progress::default(),
            packages,
        });
        // Both prefixes on the host's own connection: the forwarder authorizes each Interest
        // for its service (`sf`, `sf-exec`) before it arrives here.
        let permits = Arc::new(tokio::sync::Semaphore::new(MAX_MGMT));
        let mut tasks = Vec::new();
        for prefix in [protocol::PREFIX, protocol::EXEC_PREFIX] {
            let mut incoming = client.listen(prefix.parse()?).await?;
            let weak = Arc::downgrade(&inner);
            let permits = Arc::clone(&permits);
            tasks.push(tokio::spawn(async move {
                while let Some(req) = incoming.next().await {
                    let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                        return;
                    };
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    tokio::spawn(async move {
                        inner.serve_management(req).await;
                        drop(permit);
                    });
                }
            }));
        }
        // Beside serving, not before it: the engine may be slow or absent, and what is swept
        // is only ever of hosts that are gone, so a deployment meanwhile is not in its way.
        tasks.push(tokio::spawn(sweep_docker(
            inner.owner.clone(),
            inner
                .options
                .docker_binary
                .clone()
                .unwrap_or_else(|| inner.process.options().nfwd_bin.clone()),
        )));
        let weak = Arc::downgrade(&inner);
        let period = inner.options.poll_interval;
        let monitor = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                inner.poll().await;
            }
        });
        tasks.push(monitor);
        Ok(RunningHost { inner, tasks })
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RunningHost {
    /// Deploys `spec` (see [`Inner::deploy`]).
    pub async fn deploy(&self, spec: SfSpec) -> Result<()> {
        self.inner.deploy(spec).await
    }

    /// Stops every instance of SF `name` and forgets it.
    pub async fn undeploy(&self, name: &str) -> Result<()> {
        self.inner.undeploy(name).await
    }

    /// The deployed SFs.
    pub async fn list(&self) -> Vec<SfInfo> {
        self.inner.list().await
    }

    /// Counters of every deployed SF.
    pub async fn stats(&self) -> Vec<SfStats> {
        self.inner.stats().await
    }

    /// The last `lines` lines of output of instance `index` of SF `name`.
    pub async fn logs(&self, name: &str, index: u32, lines: usize) -> Result<String> {
        self.inner.logs(name, index, lines).await
    }

    /// The forwarder URI the host is connected to.
    #[must_use]
    pub fn forwarder_uri(&self) -> &str {
        &self.inner.uri
    }

    /// Undeploys everything and stops the host's tasks.
    pub async fn shutdown(self) {
        let names: Vec<String> = self.inner.sfs.lock().await.keys().cloned().collect();
        for n in names {
            if let Err(e) = self.inner.undeploy(&n).await {
                tracing::warn!("sf host: undeploying {n} at shutdown: {e}");
            }
        }
    }

    /// Waits until the connection to the forwarder closes (the daemon went away).
    pub async fn closed(&self) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        while !self.inner.client.is_closed() {
            tick.tick().await;
        }
    }
}

/// Removes the channel directories `<owner>-*` a previous host of this owner left (it crashed,
/// or was killed): their channels closed with its connection.
fn sweep_channel_dirs(channel_dir: &std::path::Path, owner: &str) {
    let Ok(entries) = std::fs::read_dir(channel_dir) else {
        return;
    };
    let prefix = format!("{owner}-");
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix)
            && let Err(err) = std::fs::remove_dir_all(e.path())
        {
            tracing::warn!("sf host: sweeping {}: {err}", e.path().display());
        }
    }
}

/// What a host does at start when a Docker engine answers: removes the SF containers of hosts
/// that are gone (killed, crashed, an earlier boot; `DockerBackend::sweep_dead_hosts`), then
/// this owner's images built from another `nfwd` than `binary` (superseded by an upgrade,
/// never found again) unless a container uses them. Without an engine, or without a static
/// `binary` for the images, the corresponding step is skipped.
async fn sweep_docker(owner: String, binary: PathBuf) {
    if !crate::docker::engine_available().await {
        return;
    }
    let backend = match DockerBackend::connect(DockerOptions::new(binary.clone(), owner)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("sf host: sweeping Docker: {e}");
            return;
        }
    };
    match backend.sweep_dead_hosts().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("sf host: removed {n} containers of SF hosts that are gone"),
        Err(e) => tracing::warn!("sf host: sweeping containers of hosts that are gone: {e}"),
    }
    let is_static = tokio::task::spawn_blocking(move || crate::docker::is_static_elf(&binary))
        .await
        .is_ok_and(|r| r.unwrap_or(false));
    if is_static {
        match backend.prune_stale_images().await {
            Ok(0) => {}
            Ok(n) => tracing::info!("sf host: removed {n} SF images of another nfwd binary"),
            Err(e) => tracing::warn!("sf host: pruning superseded SF images: {e}"),
        }
    }
}

/// An `unavailable` error Data answering `interest` for `sf` (`docs/protocol.md` §5.3): its
/// package could not be pulled.
fn unavailable(sf: &Sf, interest: &Interest, why: &Error) -> Reply {
    let message: String = why.to_string().chars().take(1000).collect();
    let stack = match interest.function_chain() {
        Some(rest) => format!("{},{rest}", sf.name),
        None => sf.name.to_string(),
    };
    let content = serde_json::json!({
        "error": "unavailable",
        "function": sf.spec.name,
        "stack": stack,
        "reporter": sf.spec.name,
        "instance": "sf-host",
        "message": message,
    });
    let chain = FunctionChain::pushed(sf.name.clone(), interest.function_chain()).ok();
    nfwd_tlv::DataBuilder::new(
        interest.name().clone(),
        Bytes::from(serde_json::to_vec(&content).unwrap_or_default()),
    )
    .function_chain(chain)
    .content_type(nfwd_tlv::types::content_type::NACK)
    .freshness_ms(1000)
    .build(&Signer::digest_sha256())
    .map_or(Reply::Nack(NackReason::NoRoute), Reply::Data)
}

/// The refusal of a package by a host without package sources.
fn no_sources(name: &str) -> Error {
    Error::Refused {
        what: "package".into(),
        code: cache::STATUS_NOT_A_SOURCE,
        text: format!(
            "this SF host has no package sources, so it cannot pull {name}; an operator adds \
             one with nfwd start --sf-package-source PREFIX=CERT"
        ),
    }
}

/// The ControlResponse status of a failed command.
fn status_of(e: &Error) -> u64 {
    match e {
        Error::Spec(m) if m.contains("already deployed") => status_code::CONFLICT,
        Error::Spec(_) | Error::Packet(_) => status_code::BAD_PARAMETERS,
        Error::NotFound(_) => status_code::NOT_FOUND,
        Error::Refused { code, .. } => *code,
        Error::Package(_) => cache::STATUS_REFUSED,
        Error::Timeout(_) => cache::STATUS_TIMEOUT,
        Error::Pull { reason, .. } => match reason.as_ref() {
            Error::Timeout(_) => cache::STATUS_TIMEOUT,
            Error::Refused { code, .. } => *code,
            _ => cache::STATUS_REFUSED,
        },
        _ => status_code::INTERNAL_ERROR,
    }
}

/// What runs for `spec` deployed from `installed`: the package's program, its media types
/// and version (the publisher's, signed), with how it runs (backend, limits, instances,
/// concurrency, timeout) and the function name from the deployment.
fn installed_spec(spec: &SfSpec, installed: &cache::Installed) -> SfSpec {
    let published = &installed.manifest.spec;
    let argv: &[String] = match &published.artifact {
        Artifact::Exec { argv } => argv,
        _ => &[],
    };
    let artifact = match (&installed.manifest.image, installed.manifest.kind) {
        // A Docker package: its image, from the archive, running the program inside it.
        (Some(id), PackageKind::Docker) => Artifact::Image {
            archive: installed.artifact.display().to_string(),
            id: id.clone(),
            argv: argv.to_vec(),
        },
        _ => Artifact::Exec {
            argv: std::iter::once(installed.artifact.display().to_string())
                .chain(argv.iter().skip(1).cloned())
                .collect(),
        },
    };
    SfSpec {
        version: published.version.clone(),
        input_type: published.input_type.clone(),
        output_type: published.output_type.clone(),
        artifact,
        ..spec.clone()
    }
}

fn backoff(failures: u32) -> Duration {
    BACKOFF_INITIAL
        .saturating_mul(1u32 << failures.min(10))
        .min(BACKOFF_MAX)
}

impl Inner {
    // ---------------------------------------------------------------------------------------
    // Backends

    /// The Docker backend, connected on first use. The errors say what is missing and how
    /// to provide it: Docker is never replaced by processes behind the operator's back.
    async fn docker(&self) -> Result<&DockerBackend> {
        self.docker
            .get_or_try_init(|| async {
                // Images need a statically linked nfwd: the configured one, else our own
                // binary if it is static.
                let fix = "build one with `scripts/build-static-nfwd.sh` (it prints the path) \
                           and give it with `nfwd start --sf-docker-binary PATH`";
                let binary = match &self.options.docker_binary {
                    Some(b) => {
                        match crate::docker::is_static_elf(b) {
                            Ok(true) => {}
                            Ok(false) => {
                                return Err(Error::Docker(format!(
                                    "the nfwd for SF images, {}, is not statically linked \
                                     (images are FROM scratch); {fix}",
                                    b.display()
                                )));
                            }
                            Err(e) => {
                                let why = match e {
                                    Error::Spec(m) => m,
                                    e => e.to_string(),
                                };
                                return Err(Error::Docker(format!(
                                    "the nfwd for SF images: {why}; {fix}"
                                )));
                            }
                        }
                        b.clone()
                    }
                    None => {
                        let own = self.process.options().nfwd_bin.clone();
                        if !crate::docker::is_static_elf(&own).unwrap_or(false) {
                            return Err(Error::Docker(format!(
                                "no statically linked nfwd for SF images ({} is dynamically \
                                 linked); {fix}",
                                own.display()
                            )));
                        }
                        own
                    }
                };
                if !crate::docker::engine_available().await {
                    let socket = std::env::var("DOCKER_HOST")
                        .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
                    return Err(Error::Docker(format!(
                        "no Docker engine answers at {socket}: start it (and make its socket \
                         reachable by the daemon's user), or run SFs as processes \
                         (`--sf-backend process`, or backend = \"process\" in the \
                         specification)"
                    )));
                }
                let mut options = DockerOptions::new(binary, self.owner.clone());
                options.progress = self.progress.clone();
                DockerBackend::connect(options).await
            })
            .await
    }

    /// Whether `spec` runs on Docker: `auto` is the host's configured backend.
    fn wants_docker(&self, spec: &SfSpec) -> bool {
        match spec.backend {
            BackendKind::Process => false,
            BackendKind::Docker => true,
            BackendKind::Auto => self.options.backend == HostBackend::Docker,
        }
    }

    /// `auto` is the host's configured backend; `docker` fails clearly when Docker is not
    /// usable.
    async fn choose(&self, spec: &SfSpec) -> Result<Kind> {
        if self.wants_docker(spec) {
            self.docker().await?;
            Ok(Kind::Docker)
        } else {
            Ok(Kind::Process)
        }
    }

    async fn docker_or_err(&self) -> Result<&DockerBackend> {
        self.docker().await
    }

    async fn b_prepare(&self, kind: Kind, spec: &SfSpec) -> Result<Prepared> {
        match kind {
            Kind::Process => self.process.prepare(spec).await,
            Kind::Docker => self.docker_or_err().await?.prepare(spec).await,
        }
    }

    async fn b_start(
        &self,
        kind: Kind,
        spec: &SfSpec,
        index: u32,
        access: &ForwarderAccess,
    ) -> Result<InstanceHandle> {
        match kind {
            Kind::Process => self.process.start(spec, index, access).await,
            Kind::Docker => self.docker_or_err().await?.start(spec, index, access).await,
        }
    }

    async fn b_stop(&self, kind: Kind, h: &InstanceHandle) -> Result<()> {
        match kind {
            Kind::Process => self.process.stop(h).await,
            Kind::Docker => self.docker_or_err().await?.stop(h).await,
        }
    }

    async fn b_status(&self, kind: Kind, h: &InstanceHandle) -> Result<InstanceStatus> {
        match kind {
            Kind::Process => self.process.status(h).await,
            Kind::Docker => self.docker_or_err().await?.status(h).await,
        }
    }

    async fn b_logs(&self, kind: Kind, h: &InstanceHandle, lines: usize) -> Result<String> {
        match kind {
            Kind::Process => self.process.logs(h, lines).await,
            Kind::Docker => self.docker_or_err().await?.logs(h, lines).await,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Forwarder queries

    async fn nfd_dataset(&self, path: &str) -> Result<Bytes> {
        let name: Name = format!("/localhost/nfd/{path}").parse()?;
        let opts = FetchOptions {
            must_be_fresh: true,
            lifetime_ms: 1000,
            max_retries: 2,
            ..FetchOptions::default()
        };
        Ok(self.client.fetch(&name, None, &opts).await?.1)
    }

    /// The faces that are next hops of exactly `prefix`.
    async fn next_hops(&self, prefix: &Name) -> Result<Vec<u64>> {
        let fib: Vec<FibEntry> = decode_all(&self.nfd_dataset("fib/list").await?)?;
        Ok(fib
            .into_iter()
            .find(|e| e.name == *prefix)
            .map(|e| e.next_hops.iter().map(|h| h.face_id).collect())
            .unwrap_or_default())
    }

    async fn faces(&self) -> Result<HashMap<u64, FaceStatus>> {
        let faces: Vec<FaceStatus> = decode_all(&self.nfd_dataset("faces/list").await?)?;
        Ok(faces.into_iter().map(|f| (f.face_id, f)).collect())
    }

    async fn set_strategy(&self, prefix: &Name, strategy: Option<&str>) -> Result<()> {
        let mut p = ControlParameters::with_name(prefix.clone());
        match strategy {
            Some(s) => {
                p.strategy = Some(s.parse()?);
                self.client.command("strategy-choice", "set", &p).await?;
            }
            None => {
                self.client.command("strategy-choice", "unset", &p).await?;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Lifecycle

    /// Deploys `spec`: checks and prepares it, sets load-balance if it may run several
    /// instances, starts `min` instances (each registered before this returns) or registers
    /// the placeholder when `min` is 0.
    async fn deploy(self: &Arc<Self>, spec: SfSpec) -> Result<()> {
        spec.validate()?;
        let name: Name = spec.name.parse()?;
        {
            let sfs = self.sfs.lock().await;
            if sfs.contains_key(&spec.name) {
                return Err(Error::Spec(format!("{} is already deployed", spec.name)));
            }
            if sfs.len() >= MAX_SFS {
                return Err(Error::Spec(format!("at most {MAX_SFS} SFs per host")));
            }
        }
        let _progress = self.progress.guard(&spec.name);
        // A package is made a local program first (pulled if this node lacks it); from
        // here on the SF is an exec SF running the installed, verified artifact.
        let (spec, package) = match &spec.artifact {
            Artifact::Package {
                name: package,
                pull: PullWhen::OnDemand,
            } => {
                // Pulled at the first start; what can be refused now is: no sources, a
                // name under none, a backend that needs the program at deployment.
                self.check_package_source(package)?;
                if self.wants_docker(&spec) {
                    return Err(Error::Spec(format!(
                        "{}: pull = \"on-demand\" is for process SFs (a Docker image is \
                         built at deployment); pull at deployment instead",
                        spec.name
                    )));
                }
                (spec, tokio::sync::OnceCell::new())
            }
            Artifact::Package { name: package, .. } => {
                self.progress.set(&spec.name, "getting its package");
                let pin = self.acquire_package_reporting(package, &spec.name).await?;
                let spec = installed_spec(&spec, &pin.installed);
                (
                    spec.clone(),
                    tokio::sync::OnceCell::new_with(Some((spec, pin))),
                )
            }
            _ => (spec, tokio::sync::OnceCell::new()),
        };
        self.progress.set(&spec.name, "checking what it needs");
        // What the node must provide is checked before anything starts (or an engine is
        // asked): an exec program that does not exist, cannot run, or cannot go in an image
        // is one clear refusal, not a failure at every request.
        if self.wants_docker(&spec) {
            crate::docker::check_artifact(&spec)?;
        } else {
            spec.check_program()?;
        }
        let kind = self.choose(&spec).await?;
        if kind == Kind::Process
            && let Some(user) = self.representative_user()
        {
            // Refused now, clearly, rather than at every (cold) start.
            self.process.check(&spec, user)?;
        }
        self.progress.set(
            &spec.name,
            match kind {
                Kind::Docker => "preparing its image",
                Kind::Process => "preparing its program",
            },
        );
        self.b_prepare(kind, &spec).await?;
        if spec.instances.max > 1 {
            self.set_strategy(&name, Some("/localhost/nfd/strategy/load-balance"))
                .await?;
        }
        let placeholder = if spec.instances.min == 0 {
            Some(self.open_placeholder(&name).await?)
        } else {
            None
        };
        let sf = Arc::new(Sf {
            spec,
            name,
            kind,
            life: tokio::sync::Mutex::new(Life::default()),
            counters: Mutex::new(Counters::default()),
            placeholder,
            holding: Arc::new(tokio::sync::Semaphore::new(MAX_HELD)),
            package,
        });
        {
            let mut sfs = self.sfs.lock().await;
            if sfs.contains_key(&sf.spec.name) {
                return Err(Error::Spec(format!("{} is already deployed", sf.spec.name)));
            }
            sfs.insert(sf.spec.name.clone(), Arc::clone(&sf));
        }
        if let Some(p) = &sf.placeholder {
            let task = self.spawn_placeholder(&sf, p);
            *lock(&p.task) = Some(task);
        }
        let mut life = sf.life.lock().await;
        for i in 0..sf.spec.instances.min {
            self.progress.set(
                &sf.spec.name,
                &format!("starting instance {} of {}", i + 1, sf.spec.instances.min),
            );
            if let Err(e) = self.start_instance(&sf, &mut life).await {
                drop(life);
                let _ = self.undeploy(&sf.spec.name).await;
                return Err(e);
            }
        }
        tracing::info!(
            "sf host: deployed {} ({:?}, {} warm)",
            sf.spec.name,
            sf.kind,
            sf.spec.instances.min
        );
        Ok(())
    }

    /// Refuses now a package this host could never pull (no sources, a name under none).
    fn check_package_source(&self, name: &str) -> Result<()> {
        match &self.packages {
            Some(cache) => cache.check_source(name),
            None => Err(no_sources(name)),
        }
    }

    /// The spec an instance of `sf` runs: its own, or for an SF deployed with `pull =
    /// "on-demand"` the installed package's, pulled now if this is its first start (the
    /// checks a deployment makes on a program are made here, on the pulled one).
    async fn runnable_spec<'a>(&self, sf: &'a Sf) -> Result<&'a SfSpec> {
        let Artifact::Package { name, .. } = &sf.spec.artifact else {
            return Ok(&sf.spec);
        };
        let (spec, _) = sf
            .package
            .get_or_try_init(|| async {
                let pin = self.acquire_package(name).await?;
                let spec = installed_spec(&sf.spec, &pin.installed);
                spec.check_program()?;
                if let Some(user) = self.representative_user() {
                    self.process.check(&spec, user)?;
                }
                self.b_prepare(sf.kind, &spec).await?;
                Ok::<_, Error>((spec, pin))
            })
            .await?;
        Ok(spec)
    }

    /// [`Self::acquire_package`] for the deploy of `sf`, its progress phase saying how far
    /// the pull got (`nfwd sf deploy`'s status line).
    async fn acquire_package_reporting(&self, name: &str, sf: &str) -> Result<Pin> {
        let Some(cache) = &self.packages else {
            return Err(no_sources(name));
        };
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        cache
            .acquire_reporting(&self.client, name, |p| {
                let phase = if p.total_bytes == 0 {
                    "pulling its package: the manifest".to_owned()
                } else {
                    format!(
                        "pulling its package: {:.1}/{:.1} MiB, window {}",
                        mib(p.bytes),
                        mib(p.total_bytes),
                        p.window
                    )
                };
                self.progress.set(sf, &phase);
            })
            .await
    }

    /// The package `name` installed and pinned, pulled if this node lacks it.
    async fn acquire_package(&self, name: &str) -> Result<Pin> {
        let Some(cache) = &self.packages else {
            return Err(no_sources(name));
        };
        cache.acquire(&self.client, name).await
    }

    async fn undeploy(&self, name: &str) -> Result<()> {
        let Some(sf) = self.sfs.lock().await.remove(name) else {
            return Err(Error::NotFound(format!("SF {name}")));
        };
        let mut life = sf.life.lock().await;
        life.removed = true;
        life.restarts.clear();
        for inst in life.instances.drain(..) {
            if let Err(e) = self.b_stop(sf.kind, &inst.handle).await {
                tracing::warn!("sf host: stopping {name} #{}: {e}", inst.handle.index);
            }
            self.close_channel(inst.channel).await;
        }
        if let Some(p) = &sf.placeholder {
            if let Some(t) = lock(&p.task).take() {
                t.abort();
            }
            if p.registered.swap(false, Ordering::AcqRel) {
                let _ = p.client.unregister(&sf.name).await;
            }
        }
        if sf.spec.instances.max > 1 {
            let _ = self.set_strategy(&sf.name, None).await;
        }
        tracing::info!("sf host: undeployed {name}");
        Ok(())
    }

    /// Starts one instance and waits until its face is a next hop of the function.
    async fn start_instance(&self, sf: &Sf, life: &mut Life) -> Result<()> {
        // First: an on-demand package is pulled here, before anything is claimed for the
        // instance.
        let spec = self.runnable_spec(sf).await?;
        let index = life.next_index;
        life.next_index = life.next_index.wrapping_add(1);
        let mut known: Vec<u64> = life.instances.iter().filter_map(|i| i.face).collect();
        if let Some(p) = &sf.placeholder {
            known.push(p.face);
        }
        // Faces already routed for the function (e.g. a remote route) are not the new one.
        known.extend(self.next_hops(&sf.name).await.unwrap_or_default());
        let (user, claimed, own_user) = self.instance_user(sf.kind)?;
        let (channel, socket) = match self.open_channel(sf, index, user, claimed).await {
            Ok(c) => c,
            Err(e) => {
                if let Some(uid) = claimed {
                    crate::users::release(uid);
                }
                return Err(e);
            }
        };
        let access = ForwarderAccess {
            unix_socket: socket,
            user,
            own_user,
        };
        let handle = match self.b_start(sf.kind, spec, index, &access).await {
            Ok(h) => h,
            Err(e) => {
                self.close_channel(channel).await;
                return Err(e);
            }
        };
        lock(&sf.counters).starts += 1;
        let face = match self.wait_ready(sf, &handle, &known).await {
            Ok(f) => f,
            Err(e) => {
                let _ = self.b_stop(sf.kind, &handle).await;
                self.close_channel(channel).await;
                return Err(e);
            }
        };
        let now = Instant::now();
        life.instances.push(Inst {
            handle,
            channel,
            face: Some(face),
            started: now,
            seen: Seen::default(),
            probes: Arc::default(),
            baseline: 0,
            last_activity: now,
        });
        Ok(())
    }

    /// Polls `fib/list` until a face not in `known` is a next hop of the function (the new
    /// instance registered), the instance exits, or the deadline passes.
    async fn wait_ready(&self, sf: &Sf, handle: &InstanceHandle, known: &[u64]) -> Result<u64> {
        let deadline = Instant::now() + self.options.ready_timeout;
        loop {
            if let Ok(hops) = self.next_hops(&sf.name).await
                && let Some(f) = hops.into_iter().find(|f| !known.contains(f))
            {
                return Ok(f);
            }
            match self.b_status(sf.kind, handle).await? {
                InstanceStatus::Running => {}
                other => {
                    let logs = self.b_logs(sf.kind, handle, 5).await.unwrap_or_default();
                    return Err(Error::Function(format!(
                        "{} #{} ended while starting ({other:?}): {}",
                        sf.spec.name,
                        handle.index,
                        logs.trim()
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "{} #{} did not register within {:?}",
                    sf.spec.name, handle.index, self.options.ready_timeout
                )));
            }
            tokio::time::sleep(self.options.ready_poll).await;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Users and channels

    fn is_root(&self) -> bool {
        self.ids.0 == 0
    }

    /// The user an instance of `kind` runs as, the dynamic uid claimed for it (to give back),
    /// and whether the user is the instance's alone. Root hosts: the configured users (never
    /// root); others: the host's own user (processes inherit it; containers are told it, so
    /// that they can enter their directory, which the host cannot give away).
    fn instance_user(&self, kind: Kind) -> Result<(Option<InstanceUser>, Option<u32>, bool)> {
        if !self.is_root() {
            let own = InstanceUser {
                uid: self.ids.0,
                gid: self.ids.1,
            };
            return Ok(((kind == Kind::Docker).then_some(own), None, false));
        }
        match &self.options.users {
            InstanceUsers::Dynamic { first, last } => {
                let seed = u64::from_be_bytes(
                    ring::digest::digest(&ring::digest::SHA256, self.owner.as_bytes()).as_ref()
                        [..8]
                        .try_into()
                        .unwrap_or_default(),
                );
                let user = crate::users::claim(*first, *last, seed)?;
                Ok((Some(user), Some(user.uid), true))
            }
            InstanceUsers::Fixed(u) => Ok((Some(*u), None, false)),
        }
    }

    /// A user standing for every instance in permission checks at deployment: the fixed one,
    /// or the first of the dynamic range (which owns nothing). `None` when instances run as
    /// the host.
    fn representative_user(&self) -> Option<InstanceUser> {
        if !self.is_root() {
            return None;
        }
        Some(match &self.options.users {
            InstanceUsers::Dynamic { first, .. } => InstanceUser {
                uid: *first,
                gid: *first,
            },
            InstanceUsers::Fixed(u) => *u,
        })
    }

    /// Creates the instance's directory `<channel_dir>/<owner>-<function>-<index>` (mode 0700,
    /// owned by its user) and asks the forwarder for a restricted channel there, for the
    /// function name alone. Returns the channel and its socket.
    async fn open_channel(
        &self,
        sf: &Sf,
        index: u32,
        user: Option<InstanceUser>,
        claimed: Option<u32>,
    ) -> Result<(InstanceChannel, PathBuf)> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = self.channel_dir.join(format!(
            "{}-{}-{index}",
            self.owner,
            crate::docker::sanitise(&sf.spec.name, 40)
        ));
        let socket = dir.join(CHANNEL_SOCKET);
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::Config(format!(
                "channel socket {} is longer than a Unix socket path may be ({MAX_SOCKET_PATH} \
                 bytes): choose a shorter channel directory or owner",
                socket.display()
            )));
        }
        let prepare = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.channel_dir)?;
            // A directory left by an instance that was not cleaned up goes first.
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            std::fs::create_dir(&dir)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            if let Some(u) = user
                && self.is_root()
            {
                std::os::unix::fs::chown(&dir, Some(u.uid), Some(u.gid))?;
            }
            Ok(())
        };
        prepare().map_err(|e| {
            Error::Config(format!(
                "preparing the channel directory {}: {e}",
                dir.display()
            ))
        })?;
        let uri = format!("unix://{}", socket.display());
        let mut params = ControlParameters::with_name(sf.name.clone());
        params.uri = Some(uri.as_str().into());
        let channel = InstanceChannel {
            dir: dir.clone(),
            uri: uri.clone(),
            claimed,
        };
        if let Err(e) = self.client.command("channels", "open", &params).await {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(match e {
                nfwd_forwarder::Error::Management { code, text } => Error::Refused {
                    what: format!("opening the channel {uri} for {}", sf.spec.name),
                    code,
                    text,
                },
                e => e.into(),
            });
        }
        // The socket is the instance's, whoever created it: its directory admits nobody else.
        if let Some(u) = user
            && self.is_root()
            && let Err(e) = std::os::unix::fs::chown(&socket, Some(u.uid), Some(u.gid))
        {
            tracing::warn!("sf host: chown {}: {e}", socket.display());
        }
        Ok((channel, socket))
    }

    /// Closes an instance's channel (its faces go with it), removes its directory and gives
    /// its uid back. For an instance that stopped.
    async fn close_channel(&self, channel: InstanceChannel) {
        let params = ControlParameters {
            uri: Some(channel.uri.as_str().into()),
            ..ControlParameters::default()
        };
        if let Err(e) = self.client.command("channels", "close", &params).await {
            tracing::debug!("sf host: closing the channel {}: {e}", channel.uri);
        }
        if let Err(e) = std::fs::remove_dir_all(&channel.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("sf host: removing {}: {e}", channel.dir.display());
        }
        if let Some(uid) = channel.claimed {
            crate::users::release(uid);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Placeholder and cold start

    async fn open_placeholder(&self, name: &Name) -> Result<Placeholder> {
        // One face per function (protocol §5): the Interests arriving on it are this SF's.
        let client = Client::connect(&self.uri).await?;
        let resp = client
            .command(
                "rib",
                "register",
                &ControlParameters::with_name(name.clone()),
            )
            .await?;
        let face = resp
            .body
            .and_then(|b| b.face_id)
            .ok_or_else(|| Error::Spec("rib/register answered without a FaceId".into()))?;
        Ok(Placeholder {
            client,
            face,
            registered: AtomicBool::new(true),
            task: Mutex::new(None),
        })
    }

    fn spawn_placeholder(self: &Arc<Self>, sf: &Arc<Sf>, p: &Placeholder) -> JoinHandle<()> {
        // The placeholder stands in for the SF: it receives the popped Interests, named after
        // their content, as an instance does (a function listener).
        let mut incoming = match p.client.listen_function_unregistered(sf.name.clone()) {
            Ok(i) => i,
            Err(e) => {
                tracing::error!("sf host: placeholder of {}: {e}", sf.spec.name);
                return tokio::spawn(async {});
            }
        };
        let weak = Arc::downgrade(self);
        let sf = Arc::downgrade(sf);
        tokio::spawn(async move {
            while let Some(req) = incoming.next().await {
                let (Some(inner), Some(sf)) = (weak.upgrade(), sf.upgrade()) else {
                    return;
                };
                let Ok(permit) = Arc::clone(&sf.holding).try_acquire_owned() else {
                    let _ = req.reply(Reply::Nack(NackReason::Congestion)).await;
                    continue;
                };
                tokio::spawn(async move {
                    inner.hold(&sf, req).await;
                    drop(permit);
                });
            }
        })
    }

    /// A chained Interest reached the placeholder: start an instance if none runs, then
    /// re-express the Interest towards it and answer with the result.
    async fn hold(&self, sf: &Sf, req: IncomingInterest) {
        let arrived = Instant::now();
        let Some(p) = &sf.placeholder else {
            return;
        };
        // The forwarder popped our function, so a computation arrives with the remaining
        // stack, possibly none. An Interest under the function's own name without a stack
        // was routed by name, not popped (e.g. `F/32=stats` while no instance runs): it is
        // refused rather than starting an instance.
        if req.interest().function_chain().is_none() && sf.name.is_prefix_of(req.interest().name())
        {
            let _ = req.reply(Reply::Nack(NackReason::NoRoute)).await;
            return;
        }
        lock(&sf.counters).held += 1;
        let cold = match self.ensure_running(sf).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("sf host: cold start of {} failed: {e}", sf.spec.name);
                lock(&sf.counters).held_failed += 1;
                // A package that could not be pulled is said to the consumer (an error Data,
                // protocol §5.3); other failures leave the route to another SF host.
                let reply = if matches!(sf.spec.artifact, Artifact::Package { .. }) {
                    unavailable(sf, req.interest(), &e)
                } else {
                    Reply::Nack(NackReason::NoRoute)
                };
                let _ = req.reply(reply).await;
                return;
            }
        };
        if cold {
            let mut c = lock(&sf.counters);
            c.cold_starts += 1;
            c.last_cold_start_ms = Some(ms(arrived.elapsed()));
        }
        let function = req
            .popped_function()
            .filter(|f| sf.name.is_prefix_of(f))
            .unwrap_or(&sf.name)
            .clone();
        let result = self.reexpress(p, &function, req.interest()).await;
        match result {
            Ok(data) => {
                if cold {
                    lock(&sf.counters).last_cold_start_to_result_ms = Some(ms(arrived.elapsed()));
                }
                let _ = req.reply(Reply::Data(data)).await;
            }
            Err(e) => {
                tracing::debug!(
                    "sf host: held Interest for {} unanswered: {e}",
                    sf.spec.name
                );
                lock(&sf.counters).held_failed += 1;
            }
        }
    }

    /// The held Interest again, with the function it asked for (parameters included) pushed
    /// back on its stack and a new Nonce; the forwarder now pops it towards an instance. Its
    /// Data (same name rules, same stack) satisfies the held Interest.
    async fn reexpress(&self, p: &Placeholder, function: &Name, held: &Interest) -> Result<Data> {
        let chain = FunctionChain::pushed(function.clone(), held.function_chain())?;
        let mut b = InterestBuilder::new(held.name().clone())
            .can_be_prefix(held.can_be_prefix())
            .must_be_fresh(held.must_be_fresh())
            .function_chain(Some(chain))
            .lifetime_ms(held.effective_lifetime_ms());
        if let Some(h) = held.hop_limit() {
            b = b.hop_limit(h);
        }
        if let Some(params) = held.app_parameters() {
            b = b.app_parameters(params.clone());
        }
        Ok(p.client.express(b.build()?).await?)
    }

    /// Makes sure an instance runs; true if one had to be started (a cold start).
    async fn ensure_running(&self, sf: &Sf) -> Result<bool> {
        let mut life = sf.life.lock().await;
        if life.removed {
            return Err(Error::NotFound(format!("SF {}", sf.spec.name)));
        }
        if !life.instances.is_empty() {
            return Ok(false);
        }
        self.start_instance(sf, &mut life).await?;
        self.withdraw_placeholder(sf).await;
        Ok(true)
    }

    async fn withdraw_placeholder(&self, sf: &Sf) {
        if let Some(p) = &sf.placeholder
            && p.registered.swap(false, Ordering::AcqRel)
            && let Err(e) = p.client.unregister(&sf.name).await
        {
            tracing::warn!(
                "sf host: withdrawing the placeholder of {}: {e}",
                sf.spec.name
            );
        }
    }

    async fn restore_placeholder(&self, sf: &Sf) {
        if let Some(p) = &sf.placeholder
            && !p.registered.swap(true, Ordering::AcqRel)
            && let Err(e) = p.client.register(&sf.name).await
        {
            p.registered.store(false, Ordering::Release);
            tracing::warn!(
                "sf host: restoring the placeholder of {}: {e}",
                sf.spec.name
            );
        }
    }

    // ---------------------------------------------------------------------------------------
    // The periodic poll: crashes, restarts, counters, idle stops, scale-out

    async fn poll(&self) {
        let sfs: Vec<Arc<Sf>> = self.sfs.lock().await.values().cloned().collect();
        if sfs.is_empty() {
            return;
        }
        let faces = match self.faces().await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::debug!("sf host: faces/list: {e}");
                None
            }
        };
        for sf in sfs {
            self.poll_sf(&sf, faces.as_ref()).await;
        }
    }

    async fn poll_sf(&self, sf: &Sf, faces: Option<&HashMap<u64, FaceStatus>>) {
        let mut life = sf.life.lock().await;
        if life.removed {
            return;
        }
        let now = Instant::now();
        // 1. Crashes.
        let mut i = 0;
        while i < life.instances.len() {
            let status = self.b_status(sf.kind, &life.instances[i].handle).await;
            if matches!(status, Ok(InstanceStatus::Running)) {
                i += 1;
                continue;
            }
            let inst = life.instances.remove(i);
            let tail = self
                .b_logs(sf.kind, &inst.handle, 5)
                .await
                .unwrap_or_default();
            tracing::warn!(
                "sf host: {} #{} ended ({status:?}); last output: {}",
                sf.spec.name,
                inst.handle.index,
                tail.trim()
            );
            let _ = self.b_stop(sf.kind, &inst.handle).await;
            let started = inst.started;
            self.close_channel(inst.channel).await;
            lock(&sf.counters).crashes += 1;
            if now.duration_since(started) >= BACKOFF_RESET {
                life.failures = 0;
            }
            let delay = backoff(life.failures);
            life.failures = life.failures.saturating_add(1);
            if life.instances.len() + life.restarts.len() < sf.spec.instances.min {
                life.restarts.push(now + delay);
            }
        }
        // 2. Restarts that are due.
        let due = life.restarts.iter().filter(|&&t| t <= now).count();
        life.restarts.retain(|&t| t > now);
        for _ in 0..due {
            match self.start_instance(sf, &mut life).await {
                Ok(()) => lock(&sf.counters).restarts += 1,
                Err(e) => {
                    tracing::warn!("sf host: restarting {} failed: {e}", sf.spec.name);
                    let delay = backoff(life.failures);
                    life.failures = life.failures.saturating_add(1);
                    life.restarts.push(Instant::now() + delay);
                }
            }
        }
        // 3. Counters and activity.
        if let Some(faces) = faces {
            let mut c = lock(&sf.counters);
            for inst in &mut life.instances {
                let Some(f) = inst.face.and_then(|f| faces.get(&f)) else {
                    continue;
                };
                // Probes are not requests and must not keep an instance from idling.
                let (d_out, d_answers, d_nacks) = inst.seen.advance(
                    FaceCounts {
                        out_interests: f.n_out_interests,
                        in_data: f.n_in_data,
                        in_nacks: f.n_in_nacks,
                    },
                    &inst.probes,
                );
                c.requests += d_out;
                c.answers += d_answers;
                c.nacks += d_nacks;
                let answered =
                    i64::try_from(f.n_in_data.saturating_add(f.n_in_nacks)).unwrap_or(i64::MAX);
                let sent = i64::try_from(f.n_out_interests).unwrap_or(i64::MAX);
                if d_out > 0 {
                    inst.last_activity = now;
                } else if now.duration_since(inst.last_activity)
                    >= Duration::from_millis(sf.spec.timeout_ms)
                {
                    // Quiet for a whole computation timeout: whatever was not answered
                    // timed out, so nothing is outstanding any more.
                    inst.baseline = sent - answered;
                }
            }
        }
        // 4. Idle stops, never below min.
        let idle = Duration::from_secs(sf.spec.instances.idle_stop_s);
        while life.instances.len() > sf.spec.instances.min {
            let Some(k) = life
                .instances
                .iter()
                .position(|i| now.duration_since(i.last_activity) >= idle)
            else {
                break;
            };
            if life.instances.len() == 1 && sf.spec.instances.min == 0 {
                // Register the placeholder before the last instance goes, so that no
                // Interest meets an empty route in between (it would be held and start a
                // new instance once this one is gone).
                self.restore_placeholder(sf).await;
            }
            let inst = life.instances.remove(k);
            if let Err(e) = self.b_stop(sf.kind, &inst.handle).await {
                tracing::warn!("sf host: stopping idle {}: {e}", sf.spec.name);
            }
            lock(&sf.counters).idle_stops += 1;
            tracing::info!(
                "sf host: stopped idle {} #{}",
                sf.spec.name,
                inst.handle.index
            );
            self.close_channel(inst.channel).await;
        }
        // 5. Scale-out when every instance has a full concurrency's worth outstanding.
        let busy = |i: &Inst| {
            let sent = i64::try_from(i.seen.raw.out_interests).unwrap_or(i64::MAX);
            let answered =
                i64::try_from(i.seen.raw.in_data.saturating_add(i.seen.raw.in_nacks)).unwrap_or(0);
            sent - answered - i.baseline >= i64::try_from(sf.spec.concurrency).unwrap_or(i64::MAX)
        };
        if !life.instances.is_empty()
            && life.instances.len() < sf.spec.instances.max
            && life.instances.iter().all(busy)
        {
            match self.start_instance(sf, &mut life).await {
                Ok(()) => lock(&sf.counters).scale_outs += 1,
                Err(e) => tracing::warn!("sf host: scale-out of {} failed: {e}", sf.spec.name),
            }
        }
        // 6. An on-demand SF without instances waits on its placeholder again.
        if life.instances.is_empty() && sf.spec.instances.min == 0 {
            self.restore_placeholder(sf).await;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reports

    async fn list(&self) -> Vec<SfInfo> {
        let sfs: Vec<Arc<Sf>> = self.sfs.lock().await.values().cloned().collect();
        let mut out = Vec::with_capacity(sfs.len());
        for sf in sfs {
            let info = |state: &str, instances: Vec<InstanceInfo>| SfInfo {
                name: sf.spec.name.clone(),
                version: sf.spec.version.clone(),
                backend: match sf.kind {
                    Kind::Process => "process".into(),
                    Kind::Docker => "docker".into(),
                },
                min: sf.spec.instances.min,
                max: sf.spec.instances.max,
                idle_stop_s: sf.spec.instances.idle_stop_s,
                state: state.into(),
                instances,
                package: sf
                    .package
                    .get()
                    .map(|(_, p)| p.installed.package.to_string()),
            };
            // Starting or stopping an instance holds the SF's lifecycle lock for as long as
            // that takes; report the SF as busy rather than delaying the whole dataset.
            let Ok(life) = tokio::time::timeout(BUSY_WAIT, sf.life.lock()).await else {
                out.push(info("starting", Vec::new()));
                continue;
            };
            let state = if !life.instances.is_empty() {
                "running"
            } else if !life.restarts.is_empty() {
                "restarting"
            } else {
                "idle"
            };
            out.push(info(
                state,
                life.instances
                    .iter()
                    .map(|i| InstanceInfo {
                        index: i.handle.index,
                        id: i.handle.id.clone(),
                        face: i.face,
                        uptime_s: i.started.elapsed().as_secs(),
                        requests: i.seen.requests,
                    })
                    .collect(),
            ));
        }
        out
    }

    async fn stats(&self) -> Vec<SfStats> {
        let sfs: Vec<Arc<Sf>> = self.sfs.lock().await.values().cloned().collect();
        let mut out = Vec::with_capacity(sfs.len());
        for sf in sfs {
            let instances: Vec<(u32, Arc<Probes>)> =
                match tokio::time::timeout(BUSY_WAIT, sf.life.lock()).await {
                    Ok(life) => life
                        .instances
                        .iter()
                        .map(|i| (i.handle.index, Arc::clone(&i.probes)))
                        .collect(),
                    // Busy starting or stopping: counters without the runtimes' figures.
                    Err(_) => Vec::new(),
                };
            let mut runtime = Vec::with_capacity(instances.len());
            for (index, probes) in &instances {
                if let Some(v) = self.runtime_stats(&sf, *index, probes).await {
                    runtime.push(v);
                }
            }
            let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_f64);
            let errors = runtime
                .iter()
                .filter_map(|v| v.get("errors").and_then(serde_json::Value::as_object))
                .flat_map(|o| o.values().filter_map(serde_json::Value::as_u64))
                .sum();
            let weights: f64 = runtime.iter().filter_map(|v| num(v, "computed")).sum();
            let latency_p50_ms = (weights > 0.0).then(|| {
                runtime
                    .iter()
                    .filter_map(|v| Some(num(v, "latency_p50_ms")? * num(v, "computed")?))
                    .sum::<f64>()
                    / weights
            });
            let latency_p99_ms = runtime
                .iter()
                .filter_map(|v| num(v, "latency_p99_ms"))
                .reduce(f64::max);
            let c = lock(&sf.counters);
            out.push(SfStats {
                name: sf.spec.name.clone(),
                instances: instances.len(),
                starts: c.starts,
                cold_starts: c.cold_starts,
                last_cold_start_ms: c.last_cold_start_ms,
                last_cold_start_to_result_ms: c.last_cold_start_to_result_ms,
                crashes: c.crashes,
                restarts: c.restarts,
                idle_stops: c.idle_stops,
                scale_outs: c.scale_outs,
                requests: c.requests,
                answers: c.answers,
                nacks: c.nacks,
                held: c.held,
                held_failed: c.held_failed,
                errors,
                latency_p50_ms,
                latency_p99_ms,
                runtime,
            });
        }
        out
    }

    /// Instance `index`'s runtime counters from `F/32=instance/<id>/32=stats` (routed to that
    /// instance alone; one attempt, short lifetime; `None` if it does not answer in time).
    /// Asks one instance's runtime for its figures, counting the probe in `probes`.
    async fn runtime_stats(
        &self,
        sf: &Sf,
        index: u32,
        probes: &Probes,
    ) -> Option<serde_json::Value> {
        let id = match sf.kind {
            Kind::Process => crate::process::instance_id(&sf.spec, index),
            Kind::Docker => self.docker().await.ok()?.container_name(&sf.spec, index),
        };
        let name = sf
            .name
            .append(&nfwd_tlv::Component::new(32, b"instance").ok()?)
            .append_generic(id.as_bytes())
            .append(&nfwd_tlv::Component::new(32, b"stats").ok()?);
        let interest = InterestBuilder::new(name)
            .must_be_fresh(true)
            .lifetime_ms(500)
            .build()
            .ok()?;
        probes.sent.fetch_add(1, Ordering::AcqRel);
        let Ok(data) = self.client.express(interest).await else {
            probes.failed.fetch_add(1, Ordering::AcqRel);
            return None;
        };
        serde_json::from_slice(data.content()).ok()
    }

    async fn logs(&self, name: &str, index: u32, lines: usize) -> Result<String> {
        let Some(sf) = self.sfs.lock().await.get(name).cloned() else {
            return Err(Error::NotFound(format!("SF {name}")));
        };
        let life = sf.life.lock().await;
        let Some(inst) = life.instances.iter().find(|i| i.handle.index == index) else {
            return Err(Error::NotFound(format!("{name} instance {index}")));
        };
        self.b_logs(sf.kind, &inst.handle, lines).await
    }

    // ---------------------------------------------------------------------------------------
    // Management through the forwarder

    async fn serve_management(self: Arc<Self>, req: IncomingInterest) {
        let interest = req.interest().clone();
        // The request comes from the name's structure alone (protocol::parse_request).
        let reply = match protocol::parse_request(interest.name()) {
            Ok(Request::Command(service, verb)) => self.command(service, verb, &interest).await,
            Ok(Request::Dataset {
                dataset,
                prefix,
                rest,
            }) => self.dataset(&dataset, &prefix, rest, &interest).await,
            Err(bad) => self.respond(&interest, bad.code, &bad.text),
        };
        let _ = req.reply(reply).await;
    }

    fn respond(&self, interest: &Interest, code: u64, text: &str) -> Reply {
        let resp = ControlResponse::new(code, text.to_owned());
        match resp
            .to_data(interest.name(), &Signer::digest_sha256())
            .and_then(Data::decode)
        {
            Ok(d) => Reply::Data(d),
            Err(_) => Reply::None,
        }
    }

    async fn command(self: &Arc<Self>, service: Service, verb: Verb, interest: &Interest) -> Reply {
        // The v0.3 command format: signed, parameters in ApplicationParameters. The forwarder
        // verified the signature and the requester's privilege for `service` before handing
        // the Interest over (docs/security.md); an unsigned one never is a command.
        if !interest.is_signed() {
            return self.respond(interest, status_code::BAD_PARAMETERS, "unsigned command");
        }
        let params = interest.app_parameters().cloned().unwrap_or_default();
        let Ok(text) = std::str::from_utf8(&params) else {
            return self.respond(
                interest,
                status_code::BAD_PARAMETERS,
                "parameters are not UTF-8",
            );
        };
        let result = match verb {
            Verb::Deploy => match SfSpec::from_toml(text) {
                Ok(spec)
                    if service == Service::Sf && Service::for_spec(&spec) == Service::SfExec =>
                {
                    return self.respond(
                        interest,
                        status_code::UNAUTHORIZED,
                        &format!(
                            "{} has an exec artifact, which runs an arbitrary program: exec SFs \
                             are deployed under {} and need privilege \"sf-exec\" (nfwd sf \
                             deploy chooses the prefix from the specification)",
                            spec.name,
                            protocol::EXEC_PREFIX
                        ),
                    );
                }
                Ok(spec) => {
                    let name = spec.name.clone();
                    self.deploy(spec).await.map(|()| format!("deployed {name}"))
                }
                Err(e) => Err(e),
            },
            Verb::Undeploy => self
                .undeploy(text.trim())
                .await
                .map(|()| format!("undeployed {}", text.trim())),
            // Installed and left unpinned: in the cache for a later deploy, evictable.
            Verb::Pull => {
                // Reported in the `progress` dataset under the package's name while it runs
                // (`nfwd sf provision` draws its progress line from it).
                let package = text.trim();
                let _progress = self.progress.guard(package);
                self.acquire_package_reporting(package, package)
                    .await
                    .map(|pin| {
                        format!(
                            "{} {} ({} bytes)",
                            if pin.pulled { "pulled" } else { "already had" },
                            pin.installed.package,
                            pin.installed.manifest.size
                        )
                    })
            }
        };
        match result {
            Ok(msg) => self.respond(interest, status_code::OK, &msg),
            Err(e) => {
                let code = status_of(&e);
                let text = match e {
                    // The host's own refusals (a package source, the cache): their text.
                    Error::Refused { text, .. } => text,
                    e => e.to_string(),
                };
                self.respond(interest, code, &text)
            }
        }
    }

    async fn dataset(
        &self,
        dataset: &Dataset,
        dataset_prefix: &Name,
        rest: bool,
        interest: &Interest,
    ) -> Reply {
        let name = interest.name();
        // A segment Interest of a publication made earlier.
        if let Some(d) = self.kept_segment(name) {
            return Reply::Data(d);
        }
        if rest {
            // Asks for a version/segment not kept any more: not answerable.
            return Reply::None;
        }
        let payload: Bytes = match dataset {
            Dataset::List => serde_json::to_vec(&self.list().await)
                .unwrap_or_default()
                .into(),
            Dataset::Stats => serde_json::to_vec(&self.stats().await)
                .unwrap_or_default()
                .into(),
            Dataset::Progress => serde_json::to_vec(&self.progress.snapshot())
                .unwrap_or_default()
                .into(),
            Dataset::Packages => {
                serde_json::to_vec(&self.packages.as_ref().map(PackageCache::status))
                    .unwrap_or_default()
                    .into()
            }
            Dataset::Logs { function, index } => {
                match self.logs(function, *index, LOG_LINES).await {
                    Ok(t) => t.into(),
                    Err(e) => format!("error: {e}\n").into(),
                }
            }
        };
        // Versions strictly increase even within one millisecond.
        let version = {
            let now = now_ms();
            let prev = self.version.fetch_max(now, Ordering::AcqRel);
            if prev >= now {
                self.version.fetch_add(1, Ordering::AcqRel) + 1
            } else {
                now
            }
        };
        let Ok(segments) =
            segment_dataset(dataset_prefix, version, &payload, &Signer::digest_sha256())
        else {
            return Reply::None;
        };
        let first = segments.first().cloned().and_then(|w| Data::decode(w).ok());
        if segments.len() > 1 {
            let versioned = dataset_prefix.append_version(version);
            let mut kept = lock(&self.publications);
            if kept.len() >= KEPT_PUBLICATIONS {
                kept.pop_front();
            }
            kept.push_back((versioned, segments));
        }
        first.map_or(Reply::None, Reply::Data)
    }

    fn kept_segment(&self, name: &Name) -> Option<Data> {
        let seg = name.last()?.as_segment()?;
        let kept = lock(&self.publications);
        let (_, segments) = kept
            .iter()
            .find(|(v, _)| v.len() + 1 == name.len() && v.is_prefix_of(name))?;
        let wire = segments.get(usize::try_from(seg).ok()?)?;
        Data::decode(wire.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(out_interests: u64, in_data: u64, in_nacks: u64) -> FaceCounts {
        FaceCounts {
            out_interests,
            in_data,
            in_nacks,
        }
    }

    #[test]
    fn a_probe_counted_before_it_reaches_the_face_is_never_taken_for_a_request() {
        // CI saw this: a stats call counted its probe, a poll read the face before the probe
        // got there, and the next poll took the probe for a request of the SF.
        let (mut seen, probes) = (Seen::default(), Probes::default());
        probes.sent.fetch_add(1, Ordering::AcqRel);
        assert_eq!(seen.advance(face(0, 0, 0), &probes), (0, 0, 0));
        // The probe is on the face now, and answered.
        assert_eq!(seen.advance(face(1, 1, 0), &probes), (0, 0, 0));
        // One request of a consumer, answered.
        assert_eq!(seen.advance(face(2, 2, 0), &probes), (1, 1, 0));
    }

    #[test]
    fn requests_beside_probes_are_counted_once_each_whatever_the_interleaving() {
        let (mut seen, probes) = (Seen::default(), Probes::default());
        // Three requests on the face; a probe counted but not there yet: two seen so far.
        assert_eq!(seen.advance(face(3, 0, 0), &Probes::default()), (3, 0, 0));
        probes.sent.fetch_add(1, Ordering::AcqRel);
        assert_eq!(seen.advance(face(3, 0, 0), &probes), (0, 0, 0));
        // The probe arrives with a fourth request; the three first are answered, and the
        // probe too.
        assert_eq!(seen.advance(face(5, 4, 0), &probes), (1, 3, 0));
        // The fourth one is Nacked.
        assert_eq!(seen.advance(face(5, 4, 1), &probes), (0, 0, 1));
    }

    #[test]
    fn a_probe_that_brought_no_data_does_not_hide_an_answer() {
        let (mut seen, probes) = (Seen::default(), Probes::default());
        probes.sent.fetch_add(1, Ordering::AcqRel);
        // The probe went out and a request too; the request is answered, the probe not yet:
        // presumed answered, the answer is not counted yet (errs low).
        assert_eq!(seen.advance(face(2, 1, 0), &probes), (1, 0, 0));
        // The probe timed out: the Data on the face was the request's.
        probes.failed.fetch_add(1, Ordering::AcqRel);
        assert_eq!(seen.advance(face(2, 1, 0), &probes), (0, 1, 0));
    }
}

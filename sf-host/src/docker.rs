//! The Docker backend: SF instances as containers on the local engine, with no registry.
//!
//! - **Images** are built on this node (`prepare`): `FROM scratch`, the statically linked
//!   `nfwd` binary at `/nfwd` (the SF runtime, `nfwd sf run|exec`), and for `exec` artifacts
//!   the executable (statically linked, named by an absolute path) at `/sf/exe/<file name>`.
//!   The build context is a tar assembled in memory and sent to the classic builder, which
//!   never pulls. The tag is `nfwd-<sanitised SF name>:<sanitised version>-<12 hex digits>`,
//!   the digits hashing the binary, the SF name, its version, its artifact (and an `exec`
//!   executable's content) and the owner, so a changed binary or function gives a new image
//!   and an unchanged one is found again (`Prepared::AlreadyPresent`).
//! - **Containers** (`start`) run `/nfwd sf run --function F --builtin NAME --connect
//!   unix:///run/nfwd/<socket> --instance <container name>` as a non-root user (the
//!   instance's, [`ForwarderAccess::user`], else `nobody`), with a CPU share (`NanoCpus`), a
//!   memory limit (swap included), a process limit, a read-only root filesystem (a small
//!   tmpfs at `/tmp`), no network at all (`NetworkMode=none`), every capability dropped,
//!   `no-new-privileges`, `docker-init` as PID 1, and the directory of the socket it is given
//!   — the SF host gives each instance a restricted channel alone in a directory of its own —
//!   bind-mounted read-only at `/run/nfwd`, the only mount (connecting to a socket needs no
//!   write access to the mount).
//! - **Ownership**: every image and container carries the label `nfwd.owner`; this backend
//!   lists, watches and removes only what carries its owner, so several hosts or test runs
//!   share one engine without touching each other's instances ([`DockerBackend::remove_owned`]).
//!   Containers also record the host process that made them ([`HostId`]: pid, start time,
//!   boot id, pid namespace), so that a host starting later removes those whose host is gone
//!   and never those of a live one ([`DockerBackend::sweep_dead_hosts`]).
//! - **Events** ([`DockerBackend::watch_events`]): `die` and `oom` of our containers arrive on a
//!   channel as [`InstanceEvent`]s; the host restarts crashed instances, spacing attempts with a
//!   [`Backoff`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, EventMessage, EventMessageTypeEnum, HostConfig,
    ImageSummary,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, EventsOptions, ImportImageOptions,
    InspectContainerOptions, ListContainersOptions, ListImagesOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, StopContainerOptions,
};
use futures_util::StreamExt as _;
use tokio::sync::{OnceCell, mpsc};

use crate::backend::{Backend, ForwarderAccess, InstanceHandle, InstanceStatus, Prepared};
use crate::error::{Error, Result};
use crate::spec::{Artifact, SfSpec};

/// Label: the SF's function name (images and containers).
pub const LABEL_SF: &str = "nfwd.sf";
/// Label: the SF's version (images).
pub const LABEL_VERSION: &str = "nfwd.version";
/// Label: who made it (images and containers); see [`DockerOptions::owner`].
pub const LABEL_OWNER: &str = "nfwd.owner";
/// Label: the container's name, which is also the instance id it gives its runtime.
pub const LABEL_INSTANCE: &str = "nfwd.instance";
/// Label: the instance's number among the SF's instances (containers).
pub const LABEL_INDEX: &str = "nfwd.index";
/// Label: SHA-256 of the `nfwd` binary an image carries (images).
pub const LABEL_BINARY: &str = "nfwd.binary";
/// Label: the image ID of the Docker package an image was built on (images of package SFs);
/// removed with the last image built on it.
pub const LABEL_PACKAGE_IMAGE: &str = "nfwd.package-image";

/// Label: the host process that created a container, `<pid>:<start time>` (the start time in
/// clock ticks since boot, field 22 of `/proc/<pid>/stat`, tells a reused pid apart).
pub const LABEL_HOST: &str = "nfwd.host";
/// Label: the kernel boot the creating host ran in (`/proc/sys/kernel/random/boot_id`).
pub const LABEL_BOOT: &str = "nfwd.boot";
/// Label: the pid namespace of the creating host (`/proc/self/ns/pid`), in which its pid
/// means something.
pub const LABEL_PIDNS: &str = "nfwd.pidns";

/// Where the forwarder's socket directory is mounted inside containers.
pub const SOCKET_MOUNT: &str = "/run/nfwd";

/// How the backend builds images and runs containers.
#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// The statically linked `nfwd` binary put in every image as `/nfwd` (see
    /// [`build_static_nfwd`]; a dynamically linked binary cannot run `FROM scratch` and is
    /// refused by `prepare`).
    pub binary: PathBuf,
    /// Value of the `nfwd.owner` label on everything this backend creates, and part of
    /// container names and image tags: one per host (e.g. the node name), unique per test run.
    /// Letters, digits, `_`, `.` and `-` only.
    pub owner: String,
    /// Network of containers. Default `none`: an SF reaches its forwarder through the
    /// mounted Unix socket only.
    pub network_mode: String,
    /// Seconds between SIGTERM and SIGKILL when stopping. Default 3.
    pub stop_timeout_s: i32,
    /// Size of the writable tmpfs at `/tmp` (Docker syntax, e.g. `16m`); empty for none.
    /// Default `16m`.
    pub tmpfs_size: String,
    /// Most processes per container. Default 256.
    pub pids_limit: i64,
    /// `uid:gid` of containers started without a user of their own. Default `65534:65534`
    /// (`nobody`): never root.
    pub default_user: String,
    /// Where image builds report their steps (the host's `progress` dataset). Default: a
    /// record nobody reads.
    pub progress: crate::progress::Progress,
}

impl DockerOptions {
    /// Options with the defaults stated on each field.
    pub fn new(binary: impl Into<PathBuf>, owner: impl Into<String>) -> Self {
        Self {
            binary: binary.into(),
            owner: owner.into(),
            network_mode: "none".into(),
            stop_timeout_s: 3,
            tmpfs_size: "16m".into(),
            pids_limit: 256,
            default_user: "65534:65534".into(),
            progress: crate::progress::Progress::default(),
        }
    }
}

/// Something that happened to one of our containers, from the engine's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceEvent {
    /// The instance (rebuilt from the container's labels).
    pub handle: InstanceHandle,
    /// The container's name.
    pub name: String,
    /// What happened.
    pub kind: InstanceEventKind,
}

/// Kinds of [`InstanceEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceEventKind {
    /// The container's main process ended (exit code if the engine said; 137 = SIGKILL,
    /// 143 = SIGTERM). Also sent for containers stopped on purpose by [`Backend::stop`].
    Died(Option<i64>),
    /// The kernel killed a process of the container for exceeding its memory limit (a
    /// `Died` follows).
    OutOfMemory,
}

/// Delays between restarts of a crashing instance: `initial`, doubled after each failure, at
/// most `max`; back to `initial` once an instance has run `reset_after` without crashing.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First delay. Default 200 ms.
    pub initial: Duration,
    /// Longest delay. Default 30 s.
    pub max: Duration,
    /// An instance alive this long is healthy again. Default 60 s.
    pub reset_after: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
            failures: 0,
        }
    }
}

impl Backoff {
    /// The delay before the next restart, after a crash of an instance that ran `uptime`.
    pub fn next_delay(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.reset_after {
            self.failures = 0;
        }
        let delay = self
            .initial
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Crashes counted since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The process that runs an SF host, as its containers' labels record it: enough to tell,
/// later and from another process, whether that host still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostId {
    /// Process id.
    pub pid: u32,
    /// Start time of the process (clock ticks since boot); 0 if unknown.
    pub start: u64,
    /// Boot id of the kernel; empty if unknown.
    pub boot: String,
    /// Pid namespace (`pid:[inode]`); empty if unknown.
    pub pidns: String,
}

/// Whether the host that made a container still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs (this process, or another live one).
    Alive,
    /// It is gone: another boot, or no process with its pid and start time (or a zombie).
    Dead,
    /// Cannot tell: it ran in another pid namespace (e.g. inside a container).
    Unknown,
}

/// State (field 3) and start time (field 22) of process `pid`, from `/proc/<pid>/stat`.
fn proc_stat(pid: &str) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields restart after the
    // last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

impl HostId {
    /// This process.
    #[must_use]
    pub fn current() -> Self {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        Self {
            pid: std::process::id(),
            start: proc_stat("self").map_or(0, |(_, t)| t),
            boot: read("/proc/sys/kernel/random/boot_id"),
            pidns: std::fs::read_link("/proc/self/ns/pid")
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// The labels that record it on a container.
    fn labels(&self) -> [(String, String); 3] {
        [
            (LABEL_HOST.into(), format!("{}:{}", self.pid, self.start)),
            (LABEL_BOOT.into(), self.boot.clone()),
            (LABEL_PIDNS.into(), self.pidns.clone()),
        ]
    }

    /// The host recorded by a container's labels (`None`: made before hosts were recorded).
    #[must_use]
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Self> {
        let (pid, start) = labels.get(LABEL_HOST)?.split_once(':')?;
        Some(Self {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
            boot: labels.get(LABEL_BOOT).cloned().unwrap_or_default(),
            pidns: labels.get(LABEL_PIDNS).cloned().unwrap_or_default(),
        })
    }

    /// Whether this host still runs, judged from `here` (the current process).
    #[must_use]
    pub fn liveness(&self, here: &Self) -> Liveness {
        if !self.boot.is_empty() && !here.boot.is_empty() && self.boot != here.boot {
            return Liveness::Dead;
        }
        if self.boot.is_empty() || self.pidns.is_empty() || self.pidns != here.pidns {
            return Liveness::Unknown;
        }
        if self.pid == here.pid && self.start == here.start {
            return Liveness::Alive;
        }
        match proc_stat(&self.pid.to_string()) {
            Some((state, start)) if start == self.start && state != 'Z' && state != 'X' => {
                Liveness::Alive
            }
            _ => Liveness::Dead,
        }
    }
}

/// SF instances as containers on the local Docker engine.
#[derive(Debug)]
pub struct DockerBackend {
    docker: Docker,
    options: DockerOptions,
    /// This process, recorded on every container it creates.
    host: HostId,
    /// SHA-256 (hex) of the binary, computed at the first `prepare`.
    binary_hash: OnceCell<String>,
}

/// Connects to the local engine (`/var/run/docker.sock`, or `DOCKER_HOST` if it names a
/// `unix://` socket) and agrees on the engine's API version (within 10 s).
async fn connect_engine() -> Result<Docker> {
    let docker = match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => Docker::connect_with_host(&host),
        _ => Docker::connect_with_local_defaults(),
    }
    .map_err(ctx("connecting to the engine"))?;
    let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
        .await
        .map_err(|_| Error::Timeout("Docker engine did not answer in 10 s".into()))?
        .map_err(ctx("negotiating the API version"))?;
    Ok(docker)
}

/// The image `reference` (a tag or an ID) saved as a Docker package's artifact: `docker
/// save` by image ID, so the archive carries no tag. Returns the ID and the archive, which
/// has passed the checks a fetcher makes ([`crate::package::image::check_archive`]), so a
/// publisher learns now what its fetchers would refuse. Refuses an archive over `max_bytes`.
pub async fn save_package_image(reference: &str, max_bytes: u64) -> Result<(String, Vec<u8>)> {
    let docker = connect_engine().await?;
    let id = match docker.inspect_image(reference).await {
        Ok(image) => image
            .id
            .ok_or_else(|| Error::Docker(format!("image {reference}: the engine gave no ID")))?,
        Err(e) if is_not_found(&e) => {
            return Err(Error::NotFound(format!(
                "image {reference} on the local Docker engine"
            )));
        }
        Err(e) => return Err(ctx("inspecting the image")(e)),
    };
    let mut archive = Vec::new();
    let mut save = docker.export_image(&id);
    while let Some(chunk) = save.next().await {
        let chunk = chunk.map_err(ctx("saving the image"))?;
        archive.extend_from_slice(&chunk);
        if archive.len() as u64 > max_bytes {
            return Err(Error::Spec(format!(
                "image {reference} saves to more than {max_bytes} bytes, more than fetchers \
                 accept"
            )));
        }
    }
    crate::package::image::check_archive_bytes(&archive, &id)?;
    Ok((id, archive))
}

/// Whether a Docker engine answers on the local socket (within 2 s). What `backend = "auto"`
/// decides with.
pub async fn engine_available() -> bool {
    let Ok(docker) = Docker::connect_with_local_defaults() else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), docker.ping()).await,
        Ok(Ok(_))
    )
}

impl DockerBackend {
    /// Connects to the local engine (`/var/run/docker.sock`, or `DOCKER_HOST` if it names a
    /// `unix://` socket) and agrees on the engine's API version.
    pub async fn connect(options: DockerOptions) -> Result<Self> {
        check_label_value("owner", &options.owner)?;
        let docker = connect_engine().await?;
        Ok(Self {
            docker,
            options,
            host: HostId::current(),
            binary_hash: OnceCell::new(),
        })
    }

    /// The options this backend runs with.
    pub fn options(&self) -> &DockerOptions {
        &self.options
    }

    /// The bollard client, for what this type does not wrap.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    async fn binary_hash(&self) -> Result<&str> {
        let path = self.options.binary.clone();
        self.binary_hash
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    if !is_static_elf(&path)? {
                        return Err(Error::Spec(format!(
                            "{} is not a statically linked executable; containers FROM \
                             scratch need one (see build_static_nfwd)",
                            path.display()
                        )));
                    }
                    sha256_file(&path)
                })
                .await
                .map_err(|e| Error::Docker(format!("hashing the binary: {e}")))?
            })
            .await
            .map(String::as_str)
    }

    /// The image tag of `spec` with this backend's binary and owner.
    pub async fn image_tag(&self, spec: &SfSpec) -> Result<String> {
        let binary = self.binary_hash().await?;
        let exe_hash = match &spec.artifact {
            Artifact::Exec { argv } => {
                let exe = exec_executable(argv)?.to_path_buf();
                tokio::task::spawn_blocking(move || sha256_file(&exe))
                    .await
                    .map_err(|e| Error::Docker(format!("hashing the executable: {e}")))??
            }
            Artifact::Builtin { .. } => String::new(),
            // Content-addressed already.
            Artifact::Image { id, .. } => id.clone(),
            Artifact::Package { name, .. } => return Err(unresolved(name)),
        };
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for part in [
            binary,
            &exe_hash,
            &spec.name,
            &spec.version,
            &format!("{:?}", spec.artifact),
            &self.options.owner,
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let digest = hex(ctx.finish().as_ref());
        let version = sanitise(&spec.version, 40);
        Ok(format!(
            "nfwd-{}:{}-{}",
            sanitise(&spec.name, 100),
            if version.is_empty() { "v" } else { &version },
            &digest[..12]
        ))
    }

    /// The image of a whole forwarder node (`nfwd topo up --docker`): `FROM scratch` with
    /// `/nfwd` as its entrypoint and nothing else, tagged `<repository>:<12 hex digits of
    /// the binary's SHA-256>` so that every run with the same binary finds it again. Built
    /// only if absent; returns the tag.
    pub async fn node_image(&self, repository: &str) -> Result<String> {
        let tag = format!(
            "{}:{}",
            sanitise(repository, 100),
            &self.binary_hash().await?[..12]
        );
        if self.image_size(&tag).await?.is_none() {
            self.build(None, &tag).await?;
        }
        Ok(tag)
    }

    /// The name of container `index` of `spec`: `nfwd-sf-<name>-<index>-<owner>`.
    pub fn container_name(&self, spec: &SfSpec, index: u32) -> String {
        format!(
            "nfwd-sf-{}-{index}-{}",
            sanitise(&spec.name, 100),
            self.options.owner
        )
    }

    /// Every image carrying our owner label.
    async fn owned_images(&self) -> Result<Vec<ImageSummary>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_OWNER}={}", self.options.owner)],
        )]);
        self.docker
            .list_images(Some(ListImagesOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(ctx("listing images"))
    }

    /// The SF images of our owner present on this node, as `(SF name, image tag)`: what can
    /// start without the "SF download" (build) cost.
    pub async fn images(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for image in self.owned_images().await? {
            let Some(sf) = image.labels.get(LABEL_SF) else {
                continue;
            };
            for tag in image.repo_tags.iter().filter(|t| !t.contains("<none>")) {
                out.push((sf.clone(), tag.clone()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes this owner's SF images that carry another `nfwd` binary than ours (left by an
    /// upgrade: `prepare` never finds them again). Images still used by a container stay.
    /// Returns how many went.
    pub async fn prune_stale_images(&self) -> Result<usize> {
        let current = self.binary_hash().await?.to_string();
        let mut removed = 0;
        let mut bases = Vec::new();
        for image in self.owned_images().await? {
            if image.labels.get(LABEL_BINARY) == Some(&current) {
                continue;
            }
            match self
                .docker
                .remove_image(&image.id, None::<RemoveImageOptions>, None)
                .await
            {
                Ok(_) => {
                    removed += 1;
                    bases.extend(image.labels.get(LABEL_PACKAGE_IMAGE).cloned());
                }
                // 409: a container uses it.
                Err(e) if is_not_found(&e) || status_code(&e) == Some(409) => {}
                Err(e) => return Err(ctx("removing an image")(e)),
            }
        }
        self.remove_package_bases(bases).await;
        Ok(removed)
    }

    /// Size in bytes of an image, if present.
    pub async fn image_size(&self, tag: &str) -> Result<Option<i64>> {
        match self.docker.inspect_image(tag).await {
            Ok(i) => Ok(i.size),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(ctx("inspecting an image")(e)),
        }
    }

    /// Streams `die` and `oom` events of our containers to the returned channel, from a
    /// spawned task that reconnects (with a growing delay, resuming from the last event's
    /// time) when the engine's stream breaks. The task ends when the receiver is dropped.
    pub fn watch_events(&self) -> mpsc::Receiver<InstanceEvent> {
        let (tx, rx) = mpsc::channel(256);
        let docker = self.docker.clone();
        let owner = self.options.owner.clone();
        tokio::spawn(async move {
            // From now (the engine replays from `since`, so nothing between this call and
            // the subscription is lost), then from just after the last event seen.
            let mut since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            let mut backoff = Backoff::default();
            loop {
                let filters = HashMap::from([
                    ("type".to_string(), vec!["container".to_string()]),
                    ("event".to_string(), vec!["die".into(), "oom".into()]),
                    ("label".to_string(), vec![format!("{LABEL_OWNER}={owner}")]),
                ]);
                let mut stream = docker.events(Some(EventsOptions {
                    since: Some(since.clone()),
                    until: None,
                    filters: Some(filters),
                }));
                loop {
                    let next = tokio::select! {
                        n = stream.next() => n,
                        () = tx.closed() => return,
                    };
                    match next {
                        Some(Ok(msg)) => {
                            backoff = Backoff::default();
                            if let Some(t) = msg.time_nano {
                                let t = t.saturating_add(1);
                                since = format!(
                                    "{}.{:09}",
                                    t.div_euclid(1_000_000_000),
                                    t.rem_euclid(1_000_000_000)
                                );
                            }
                            if let Some(ev) = instance_event(&msg)
                                && tx.send(ev).await.is_err()
                            {
                                return;
                            }
                        }
                        Some(Err(e)) => {
                            tracing::warn!("Docker event stream: {e}");
                            break;
                        }
                        None => break,
                    }
                }
                let delay = backoff.next_delay(Duration::ZERO);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = tx.closed() => return,
                }
            }
        });
        rx
    }

    /// Every container, running or not, carrying `label` (`key` or `key=value`).
    async fn containers_labelled(
        &self,
        label: String,
    ) -> Result<Vec<bollard::models::ContainerSummary>> {
        self.docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([("label".to_string(), vec![label])])),
                ..Default::default()
            }))
            .await
            .map_err(ctx("listing containers"))
    }

    /// Removes the SF containers whose host is gone — killed, crashed, or from an earlier
    /// boot — whatever their owner (a daemon on a temporary socket has an owner of its own
    /// each run), and this owner's containers made before hosts were recorded unless they run.
    /// Never a container of a live host (two daemons on one machine do not sweep each
    /// other's), nor one whose host ran in another pid namespace (its liveness cannot be told
    /// from here). What the SF host does at start. Returns how many went.
    pub async fn sweep_dead_hosts(&self) -> Result<usize> {
        let containers = self.containers_labelled(LABEL_INSTANCE.to_string()).await?;
        let mut removed = 0;
        for c in containers {
            let (Some(id), Some(labels)) = (c.id, c.labels) else {
                continue;
            };
            let dead = match HostId::from_labels(&labels) {
                Some(h) => h.liveness(&self.host) == Liveness::Dead,
                None => {
                    labels.get(LABEL_OWNER) == Some(&self.options.owner)
                        && c.state != Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
                }
            };
            if dead {
                tracing::info!(
                    "Docker backend: removing container {} of a host that is gone ({})",
                    c.names.unwrap_or_default().join(","),
                    labels.get(LABEL_HOST).map_or("unrecorded", String::as_str)
                );
                self.remove_container(&id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Loads the image `id` from a Docker package's archive, unless the engine has it
    /// already: the archive is checked first ([`crate::package::image::check_archive`]: one
    /// untagged image, the one `id` names, no volumes), then streamed to the engine.
    pub async fn load_package_image(&self, archive: &Path, id: &str) -> Result<()> {
        if self.image_size(id).await?.is_some() {
            return Ok(());
        }
        let (path, want) = (archive.to_path_buf(), id.to_owned());
        let checked =
            tokio::task::spawn_blocking(move || crate::package::image::check_archive(&path, &want))
                .await
                .map_err(|e| Error::Docker(format!("checking the package image: {e}")))??;
        let file = tokio::fs::File::open(archive).await?;
        let chunks = futures_util::stream::unfold(Some(file), |file| async move {
            use tokio::io::AsyncReadExt as _;
            let mut file = file?;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), Some(file)))
                }
                // The error ends the upload (and the stream).
                Err(e) => Some((Err(e), None)),
            }
        });
        let mut load = self.docker.import_image(
            ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            bollard::body_try_stream(chunks),
            None,
        );
        while let Some(item) = load.next().await {
            item.map_err(ctx("loading the package image"))?;
        }
        if self.image_size(id).await?.is_none() {
            return Err(Error::Docker(format!(
                "loading the package image: the engine has no {id} afterwards"
            )));
        }
        tracing::info!(
            "Docker backend: loaded package image {id} ({} layers, {})",
            checked.layers,
            checked.architecture
        );
        Ok(())
    }

    /// Removes the package images `bases` no image of ours is built on any more (another
    /// owner's image on the same base keeps it: the engine refuses with a conflict).
    async fn remove_package_bases(&self, bases: Vec<String>) {
        for base in bases {
            if let Err(e) = self
                .docker
                .remove_image(&base, None::<RemoveImageOptions>, None)
                .await
                && !is_not_found(&e)
                && status_code(&e) != Some(409)
            {
                tracing::warn!("Docker backend: removing package image {base}: {e}");
            }
        }
    }

    /// Removes every container and image carrying our owner label (tests, and a host that
    /// starts afresh), and the package images they were built on. Returns how many
    /// containers and (labelled) images went.
    pub async fn remove_owned(&self) -> Result<(usize, usize)> {
        let containers = self
            .containers_labelled(format!("{LABEL_OWNER}={}", self.options.owner))
            .await?;
        let mut removed_containers = 0;
        for c in containers {
            if let Some(id) = c.id {
                self.remove_container(&id).await?;
                removed_containers += 1;
            }
        }
        let mut removed_images = 0;
        let mut bases = Vec::new();
        for i in self.owned_images().await? {
            bases.extend(i.labels.get(LABEL_PACKAGE_IMAGE).cloned());
            match self
                .docker
                .remove_image(
                    &i.id,
                    Some(RemoveImageOptions {
                        force: true,
                        ..Default::default()
                    }),
                    None,
                )
                .await
            {
                Ok(_) => removed_images += 1,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(ctx("removing an image")(e)),
            }
        }
        self.remove_package_bases(bases).await;
        Ok((removed_containers, removed_images))
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        match self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(()) => Ok(()),
            // 409: removal already in progress.
            Err(e) if is_not_found(&e) || status_code(&e) == Some(409) => Ok(()),
            Err(e) => Err(ctx("removing a container")(e)),
        }
    }

    /// The in-memory build context of `spec`'s image: Dockerfile, `/nfwd`, and an `exec`
    /// artifact's executable. A Docker package's image is the base (loaded already), with
    /// this node's `/nfwd` added: the runtime always matches the forwarder it talks to.
    fn build_context(binary: &Path, spec: Option<&SfSpec>, owner: &str) -> Result<Vec<u8>> {
        let base = match spec.map(|s| &s.artifact) {
            Some(Artifact::Image { id, .. }) => id.as_str(),
            _ => "scratch",
        };
        // The owner label comes first so that no layer is shared with another owner's images:
        // removing those (another host, another test run) must never pull a parent layer from
        // under a build of ours in progress.
        let mut dockerfile = format!(
            "FROM {base}\nLABEL nfwd.owner={}\nCOPY nfwd /nfwd\n",
            json_string(owner)
        );
        let mut files: Vec<(String, PathBuf)> = vec![("nfwd".into(), binary.to_path_buf())];
        if let Some(Artifact::Exec { argv }) = spec.map(|s| &s.artifact) {
            let exe = exec_executable(argv)?;
            files.push(("exe".into(), exe.to_path_buf()));
            let _ = writeln!(
                dockerfile,
                "COPY [\"exe\", {}]",
                json_string(&exec_image_path(exe)?)
            );
        }
        dockerfile.push_str("ENTRYPOINT [\"/nfwd\"]\n");
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
        for (name, path) in files {
            let mut file = std::fs::File::open(&path)
                .map_err(|e| Error::Spec(format!("{}: {e}", path.display())))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(file.metadata()?.len());
            header.set_mode(0o755);
            header.set_cksum();
            tar.append_data(&mut header, name, &mut file)?;
        }
        Ok(tar.into_inner()?)
    }

    /// Builds `tag`: `/nfwd` and, for an SF, its artifact (no SF: a whole node's image).
    async fn build(&self, spec: Option<&SfSpec>, tag: &str) -> Result<()> {
        // Reported under the SF's name, as its deploy is; a node image under its tag.
        let key = spec.map_or(tag, |s| s.name.as_str());
        let progress = &self.options.progress;
        progress.set(key, "building its image: assembling the build context");
        let spec2 = spec.cloned();
        let binary = self.options.binary.clone();
        let owner = self.options.owner.clone();
        let context = tokio::task::spawn_blocking(move || {
            Self::build_context(&binary, spec2.as_ref(), &owner)
        })
        .await
        .map_err(|e| Error::Docker(format!("assembling the build context: {e}")))??;
        let mut labels = HashMap::from([
            (LABEL_OWNER.to_string(), self.options.owner.clone()),
            (
                LABEL_BINARY.to_string(),
                self.binary_hash().await?.to_string(),
            ),
        ]);
        if let Some(spec) = spec {
            labels.insert(LABEL_SF.to_string(), spec.name.clone());
            labels.insert(LABEL_VERSION.to_string(), spec.version.clone());
            if let Artifact::Image { id, .. } = &spec.artifact {
                labels.insert(LABEL_PACKAGE_IMAGE.to_string(), id.clone());
            }
        }
        let options = BuildImageOptions {
            t: Some(tag.to_string()),
            rm: true,
            forcerm: true,
            pull: None,
            labels: Some(labels),
            networkmode: Some("none".into()),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(
            options,
            None,
            Some(bollard::body_full(bytes::Bytes::from(context))),
        );
        let mut output = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(ctx("building the image"))?;
            if let Some(s) = info.stream {
                if let Some(step) = crate::progress::build_step(&s) {
                    progress.set(key, &step);
                }
                output.push_str(&s);
            }
            if let Some(detail) = info.error_detail {
                return Err(Error::Docker(format!(
                    "building {tag}: {}\n{output}",
                    detail.message.unwrap_or_default()
                )));
            }
        }
        match self.docker.inspect_image(tag).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Docker(format!(
                "building {tag}: no image afterwards ({e})\n{output}"
            ))),
        }
    }

    fn command(spec: &SfSpec, socket: &str, instance: &str) -> Result<Vec<String>> {
        // An exec program runs from where the image holds it.
        let program = match &spec.artifact {
            Artifact::Exec { argv } => {
                let in_image = exec_image_path(exec_executable(argv)?)?;
                Some(
                    std::iter::once(in_image)
                        .chain(argv.iter().skip(1).cloned())
                        .collect(),
                )
            }
            Artifact::Builtin { .. } => None,
            Artifact::Image { argv, .. } => Some(argv.clone()),
            Artifact::Package { name, .. } => return Err(unresolved(name)),
        };
        let connect = format!("unix://{SOCKET_MOUNT}/{socket}");
        Ok(crate::backend::runtime_args(
            spec, &connect, instance, program,
        ))
    }

    /// Creates and starts a container of `tag` named `name` running `/nfwd <cmd>` as
    /// [`DockerOptions::default_user`], with this backend's confinement and limits, `mount`
    /// (if any) bind-mounted read-only at [`SOCKET_MOUNT`], and our labels plus `labels`. For
    /// one-off containers (tests, diagnostics); `start` runs instances the same way.
    pub async fn run_container(
        &self,
        tag: &str,
        name: &str,
        cmd: Vec<String>,
        spec: &SfSpec,
        mount: Option<&Path>,
        labels: HashMap<String, String>,
    ) -> Result<String> {
        let user = self.options.default_user.clone();
        self.create_and_start(tag, name, cmd, spec, mount, &user, labels)
            .await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one private call site besides run_container"
    )]
    async fn create_and_start(
        &self,
        tag: &str,
        name: &str,
        cmd: Vec<String>,
        spec: &SfSpec,
        mount: Option<&Path>,
        user: &str,
        labels: HashMap<String, String>,
    ) -> Result<String> {
        if user.is_empty() || user == "0" || user.starts_with("0:") || user == "root" {
            return Err(Error::Spec(format!(
                "containers never run as root (user {user:?})"
            )));
        }
        check_label_value("container name", name)?;
        // A container left under the same name by a host that is gone goes first; one of
        // another live host (same owner, which only an explicit --sf-owner makes possible) is
        // not ours to remove.
        if let Ok(existing) = self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            && let Some(h) = existing
                .config
                .and_then(|c| c.labels)
                .and_then(|l| HostId::from_labels(&l))
            && h != self.host
            && h.liveness(&self.host) == Liveness::Alive
        {
            return Err(Error::Docker(format!(
                "container {name} belongs to another live SF host (pid {}) with the same \
                 owner; give each host its own owner (nfwd start --sf-owner)",
                h.pid
            )));
        }
        self.remove_container(name).await?;
        let mut all_labels = HashMap::from([
            (LABEL_OWNER.to_string(), self.options.owner.clone()),
            (LABEL_SF.to_string(), spec.name.clone()),
            (LABEL_INSTANCE.to_string(), name.to_string()),
        ]);
        all_labels.extend(self.host.labels());
        all_labels.extend(labels);
        let memory = i64::try_from(spec.limits.memory_mib.saturating_mul(1024 * 1024))
            .map_err(|_| Error::Spec("limits.memory_mib too large".into()))?;
        let tmpfs = (!self.options.tmpfs_size.is_empty()).then(|| {
            HashMap::from([(
                "/tmp".to_string(),
                format!("rw,nosuid,nodev,size={}", self.options.tmpfs_size),
            )])
        });
        let host_config = HostConfig {
            nano_cpus: Some((spec.limits.cpus * 1e9).round() as i64),
            memory: Some(memory),
            memory_swap: Some(memory),
            pids_limit: Some(self.options.pids_limit),
            readonly_rootfs: Some(true),
            network_mode: Some(self.options.network_mode.clone()),
            init: Some(true),
            auto_remove: Some(false),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            binds: mount.map(|dir| vec![format!("{}:{SOCKET_MOUNT}:ro", dir.display())]),
            tmpfs,
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(tag.to_string()),
            user: Some(user.to_string()),
            cmd: Some(cmd),
            labels: Some(all_labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(ctx("creating the container"))?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let _ = self.remove_container(&created.id).await;
            return Err(ctx("starting the container")(e));
        }
        Ok(created.id)
    }
}

impl Backend for DockerBackend {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn prepare(&self, spec: &SfSpec) -> Result<Prepared> {
        if let Artifact::Exec { argv } = &spec.artifact {
            let exe = exec_executable(argv)?.to_path_buf();
            let ok = tokio::task::spawn_blocking(move || is_static_elf(&exe))
                .await
                .map_err(|e| Error::Docker(e.to_string()))??;
            if !ok {
                return Err(Error::Spec(format!(
                    "exec artifact {:?}: the Docker backend runs only statically linked \
                     executables (FROM scratch has no libraries); use backend = \"process\"",
                    argv[0]
                )));
            }
        }
        let tag = self.image_tag(spec).await?;
        if self.image_size(&tag).await?.is_some() {
            return Ok(Prepared::AlreadyPresent);
        }
        if let Artifact::Image { archive, id, .. } = &spec.artifact {
            self.options
                .progress
                .set(&spec.name, "loading its package's image");
            self.load_package_image(Path::new(archive), id).await?;
        }
        self.build(Some(spec), &tag).await?;
        Ok(Prepared::Fetched)
    }

    async fn start(
        &self,
        spec: &SfSpec,
        index: u32,
        access: &ForwarderAccess,
    ) -> Result<InstanceHandle> {
        let tag = self.image_tag(spec).await?;
        if self.image_size(&tag).await?.is_none() {
            self.prepare(spec).await?;
        }
        let socket = access.unix_socket.as_path();
        let (Some(dir), Some(file)) = (socket.parent(), socket.file_name()) else {
            return Err(Error::Spec(format!(
                "forwarder socket {}: need a file in a directory",
                socket.display()
            )));
        };
        let dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })?;
        let user = access.user.map_or_else(
            || self.options.default_user.clone(),
            |u| format!("{}:{}", u.uid, u.gid),
        );
        warn_if_unreachable(&dir, socket, &user);
        let file = file.to_string_lossy().into_owned();
        let name = self.container_name(spec, index);
        let cmd = Self::command(spec, &file, &name)?;
        let id = self
            .create_and_start(
                &tag,
                &name,
                cmd,
                spec,
                Some(&dir),
                &user,
                HashMap::from([(LABEL_INDEX.to_string(), index.to_string())]),
            )
            .await?;
        Ok(InstanceHandle {
            backend: "docker",
            id,
            sf: spec.name.clone(),
            index,
        })
    }

    async fn stop(&self, handle: &InstanceHandle) -> Result<()> {
        match self
            .docker
            .stop_container(
                &handle.id,
                Some(StopContainerOptions {
                    t: Some(self.options.stop_timeout_s),
                    signal: None,
                }),
            )
            .await
        {
            // 304: already stopped.
            Ok(()) => {}
            Err(e) if is_not_found(&e) || status_code(&e) == Some(304) => {}
            Err(e) => return Err(ctx("stopping the container")(e)),
        }
        self.remove_container(&handle.id).await
    }

    async fn status(&self, handle: &InstanceHandle) -> Result<InstanceStatus> {
        let info = match self
            .docker
            .inspect_container(&handle.id, None::<InspectContainerOptions>)
            .await
        {
            Ok(i) => i,
            Err(e) if is_not_found(&e) => return Ok(InstanceStatus::Missing),
            Err(e) => return Err(ctx("inspecting the container")(e)),
        };
        let Some(state) = info.state else {
            return Ok(InstanceStatus::Missing);
        };
        Ok(match state.status {
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::RESTARTING
                | ContainerStateStatusEnum::PAUSED,
            ) => InstanceStatus::Running,
            Some(ContainerStateStatusEnum::REMOVING) | None => InstanceStatus::Missing,
            // Created but never started: no exit code to report.
            Some(ContainerStateStatusEnum::CREATED) => InstanceStatus::Exited(None),
            Some(_) => InstanceStatus::Exited(state.exit_code),
        })
    }

    async fn logs(&self, handle: &InstanceHandle, lines: usize) -> Result<String> {
        let mut stream = self.docker.logs(
            &handle.id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                tail: lines.to_string(),
                ..Default::default()
            }),
        );
        let mut out = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                Err(e) if is_not_found(&e) => {
                    return Err(Error::NotFound(format!("container {}", handle.id)));
                }
                Err(e) => return Err(ctx("reading logs")(e)),
            }
        }
        Ok(out)
    }
}

fn instance_event(msg: &EventMessage) -> Option<InstanceEvent> {
    if msg.typ != Some(EventMessageTypeEnum::CONTAINER) {
        return None;
    }
    let actor = msg.actor.as_ref()?;
    let id = actor.id.clone()?;
    let attrs = actor.attributes.as_ref()?;
    let kind = match msg.action.as_deref()? {
        "die" => InstanceEventKind::Died(attrs.get("exitCode").and_then(|c| c.parse().ok())),
        "oom" => InstanceEventKind::OutOfMemory,
        _ => return None,
    };
    Some(InstanceEvent {
        handle: InstanceHandle {
            backend: "docker",
            id,
            sf: attrs.get(LABEL_SF).cloned().unwrap_or_default(),
            index: attrs
                .get(LABEL_INDEX)
                .and_then(|i| i.parse().ok())
                .unwrap_or(0),
        },
        name: attrs.get("name").cloned().unwrap_or_default(),
        kind,
    })
}

/// Checks, without the engine, that `spec`'s artifact can go in an image: an `exec` program
/// named by an absolute path, present, executable and statically linked (`FROM scratch` has
/// no loader and no libraries). Built-ins need nothing but the static `nfwd`. The error names
/// the SF, the path and the fix.
pub fn check_artifact(spec: &SfSpec) -> Result<()> {
    if let Artifact::Image { archive, .. } = &spec.artifact
        && !Path::new(archive).is_file()
    {
        return Err(Error::NotFound(format!(
            "{}: the package's image archive {archive}",
            spec.name
        )));
    }
    let Artifact::Exec { argv } = &spec.artifact else {
        return Ok(());
    };
    let named = |why: String| Error::Spec(format!("{}: [artifact] argv[0]: {why}", spec.name));
    let exe = exec_executable(argv).map_err(|e| match e {
        Error::Spec(m) => named(m),
        e => e,
    })?;
    let program = exe.to_string_lossy();
    crate::functions::resolve_program(&program).map_err(|e| match e {
        Error::Spec(m) => named(format!("{m}; the Docker backend copies it into the image")),
        e => e,
    })?;
    if !is_static_elf(exe)? {
        return Err(named(format!(
            "{program} is not a statically linked executable, which a FROM scratch image \
             needs; link it statically or use backend = \"process\""
        )));
    }
    Ok(())
}

/// The executable of an `exec` artifact, which must be an absolute path to be put in an image.
fn exec_executable(argv: &[String]) -> Result<&Path> {
    let Some(exe) = argv.first() else {
        return Err(Error::Spec("artifact exec: argv is empty".into()));
    };
    let path = Path::new(exe);
    if !path.is_absolute() {
        return Err(Error::Spec(format!(
            "exec artifact {exe:?}: the Docker backend needs an absolute path to a statically \
             linked executable (or use backend = \"process\")"
        )));
    }
    Ok(path)
}

/// Containers run as `user` (`uid:gid`) without capabilities, so file permissions apply to
/// them: says so when the mounted directory is not searchable or the socket not writable by
/// that user.
fn warn_if_unreachable(dir: &Path, socket: &Path, user: &str) {
    use std::os::unix::fs::MetadataExt as _;
    let mut ids = user.split(':').map(|x| x.parse::<u32>().ok());
    let (uid, gid) = (ids.next().flatten(), ids.next().flatten());
    let closed = |p: &Path, bit: u32| {
        std::fs::metadata(p).is_ok_and(|m| {
            let shift = if Some(m.uid()) == uid {
                6
            } else if Some(m.gid()) == gid {
                3
            } else {
                0
            };
            m.mode() & (bit << shift) == 0
        })
    };
    if closed(dir, 0o001) || closed(socket, 0o002) {
        tracing::warn!(
            "Docker backend: {} is not reachable by the container's user {user} (directory \
             searchable, socket writable needed); the SF container will fail to connect",
            socket.display()
        );
    }
}

/// Where an `exec` artifact's executable is in the image: `/sf/exe/<file name>` (not at its
/// host path, which could lie under a mount such as the `/tmp` tmpfs; the file name is kept
/// for programs that look at their `argv[0]`).
fn exec_image_path(exe: &Path) -> Result<String> {
    match exe.file_name().and_then(|n| n.to_str()) {
        Some(name) if !name.is_empty() => Ok(format!("/sf/exe/{name}")),
        _ => Err(Error::Spec(format!(
            "exec artifact {}: needs a UTF-8 file name",
            exe.display()
        ))),
    }
}

fn ctx(what: &'static str) -> impl FnOnce(BollardError) -> Error {
    move |e| Error::Docker(format!("{what}: {e}"))
}

fn status_code(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn is_not_found(e: &BollardError) -> bool {
    status_code(e) == Some(404)
}

pub(crate) fn check_label_value(what: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && v.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::Spec(format!(
            "{what} {v:?}: 1 to 64 letters, digits, '_', '.', '-', starting with a letter or digit"
        )))
    }
}

/// Lower-case letters and digits, runs of anything else as one `-`, no `-` at either end, at
/// most `max` bytes: usable in image repositories, tags and container names.
pub(crate) fn sanitise(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex(ctx.finish().as_ref()))
}

/// Whether `path` is an x86-64/ELF64 executable with no program interpreter (`PT_INTERP`),
/// i.e. one that runs in an empty root filesystem. Reads the ELF and program headers only.
pub fn is_static_elf(path: &Path) -> Result<bool> {
    const PT_INTERP: u32 = 3;
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::Spec(format!("{}: {e}", path.display())))?;
    let mut head = [0u8; 64];
    if file.read_exact(&mut head).is_err() || &head[..4] != b"\x7fELF" {
        return Ok(false);
    }
    // ELFCLASS64, little-endian.
    if head[4] != 2 || head[5] != 1 {
        return Ok(false);
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let e_type = u16_at(&head, 16);
    // ET_EXEC or ET_DYN (static-pie is ET_DYN).
    if e_type != 2 && e_type != 3 {
        return Ok(false);
    }
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&head[32..40]);
    let phoff = u64::from_le_bytes(phoff);
    let phentsize = usize::from(u16_at(&head, 54));
    let phnum = usize::from(u16_at(&head, 56));
    if phentsize < 4 || phnum == 0 {
        return Ok(false);
    }
    use std::io::{Seek as _, SeekFrom};
    file.seek(SeekFrom::Start(phoff))?;
    let mut table = vec![0u8; phentsize * phnum.min(4096)];
    file.read_exact(&mut table)?;
    let has_interp = table
        .chunks_exact(phentsize)
        .any(|ph| u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) == PT_INTERP);
    Ok(!has_interp)
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds the statically linked `nfwd` that images carry:
/// `cargo build --release -p nfwd --target x86_64-unknown-linux-gnu` with
/// `RUSTFLAGS=-C target-feature=+crt-static` (and debug info stripped), in `target_dir` (kept apart from the ordinary
/// target directory, whose artefacts have other flags). Returns the binary's path after
/// checking it has no ELF interpreter.
///
/// Calls in one process are serialised; concurrent processes are serialised by cargo's own
/// lock file on `target_dir` (the second finds the first one's result up to date). An
/// unchanged tree rebuilds nothing.
pub fn build_static_nfwd(workspace_root: &Path, target_dir: &Path) -> Result<PathBuf> {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let _guard = BUILD_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root)
        .args(["build", "--release", "-p", "nfwd", "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        // Line tables are of no use in an image; stripping them at link time keeps the
        // compiled dependencies reusable and the image a third of the size.
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        return Err(Error::Spec(format!(
            "building the static nfwd failed ({}):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    let binary = target_dir.join(TARGET).join("release").join("nfwd");
    if !is_static_elf(&binary)? {
        return Err(Error::Spec(format!(
            "{} is not statically linked",
            binary.display()
        )));
    }
    Ok(binary)
}

/// A package artifact reached the backend: the host resolves packages to their program
/// before preparing or starting anything.
fn unresolved(name: &str) -> Error {
    Error::Spec(format!(
        "package {name} was not fetched and installed before it reached the Docker backend"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitise("/sf/upper", 100), "sf-upper");
        assert_eq!(sanitise("/SF//Up per/", 100), "sf-up-per");
        assert_eq!(sanitise("///", 100), "");
        assert_eq!(sanitise("/abc/def", 5), "abc-d");
        assert_eq!(sanitise("/abc/def", 4), "abc");
        assert!(check_label_value("o", "run-1.x_y").is_ok());
        assert!(check_label_value("o", "-x").is_err());
        assert!(check_label_value("o", "a b").is_err());
        assert!(check_label_value("o", "").is_err());
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            reset_after: Duration::from_secs(10),
            ..Backoff::default()
        };
        let short = Duration::from_secs(1);
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay(short).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert_eq!(b.next_delay(Duration::from_secs(11)).as_millis(), 100);
        assert_eq!(b.failures(), 1);
    }

    #[test]
    fn commands_connect_through_the_mounted_socket() {
        let spec = SfSpec::from_toml(
            "name = \"/sf/upper\"\n[artifact]\nkind = \"builtin\"\nfunction = \"upper\"\n",
        )
        .unwrap();
        let cmd = DockerBackend::command(&spec, "nfwd.sock", "c1").unwrap();
        assert_eq!(
            cmd.join(" "),
            "sf run --function /sf/upper --builtin upper --connect unix:///run/nfwd/nfwd.sock \
             --instance c1 --concurrency 4 --timeout-ms 30000"
        );
        let spec = SfSpec::from_toml(
            "name = \"/sf/x\"\n[artifact]\nkind = \"exec\"\nargv = [\"tr\", \"a\", \"b\"]\n",
        )
        .unwrap();
        let e = DockerBackend::command(&spec, "s", "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute path"), "{e}");
        let spec = SfSpec::from_toml(
            "name = \"/sf/x\"\n[artifact]\nkind = \"exec\"\nargv = [\"/tmp/bin/tr\", \"a\"]\n",
        )
        .unwrap();
        let cmd = DockerBackend::command(&spec, "s", "c").unwrap();
        assert!(cmd.join(" ").ends_with(" -- /sf/exe/tr a"), "{cmd:?}");
    }

    #[test]
    fn exec_artifacts_for_images_are_checked_without_the_engine() {
        let spec = |argv0: &str| {
            SfSpec::from_toml(&format!(
                "name = \"/sf/x\"\nbackend = \"docker\"\n[artifact]\nkind = \"exec\"\n\
                 argv = [{argv0:?}]\n"
            ))
            .unwrap()
        };
        for (argv0, needle) in [
            ("tr", "absolute path"),
            ("/no/such/prog", "/no/such/prog does not exist"),
            // The test binary: executable but dynamically linked.
            (
                &std::env::current_exe().unwrap().display().to_string(),
                "not a statically linked executable",
            ),
        ] {
            let e = check_artifact(&spec(argv0)).unwrap_err().to_string();
            assert!(e.contains("/sf/x") && e.contains(needle), "{e}");
        }
        assert!(
            check_artifact(&SfSpec {
                artifact: Artifact::Builtin {
                    function: "upper".into()
                },
                ..spec("tr")
            })
            .is_ok()
        );
    }

    #[test]
    fn a_host_is_alive_while_its_process_runs() {
        let here = HostId::current();
        assert!(here.start > 0 && !here.boot.is_empty() && !here.pidns.is_empty());
        let labels: HashMap<String, String> = here.labels().into_iter().collect();
        assert_eq!(HostId::from_labels(&labels), Some(here.clone()));
        assert_eq!(here.liveness(&here), Liveness::Alive);
        // Another live process (pid 1) with its real start time is alive; with another start
        // time its pid was reused: the host is gone.
        let (_, start) = proc_stat("1").unwrap();
        let init = HostId {
            pid: 1,
            start,
            ..here.clone()
        };
        assert_eq!(init.liveness(&here), Liveness::Alive);
        let reused = HostId {
            start: start + 1,
            ..init.clone()
        };
        assert_eq!(reused.liveness(&here), Liveness::Dead);
        let other_boot = HostId {
            boot: "another".into(),
            ..init.clone()
        };
        assert_eq!(other_boot.liveness(&here), Liveness::Dead);
        let other_ns = HostId {
            pidns: "pid:[1]".into(),
            ..init
        };
        assert_eq!(other_ns.liveness(&here), Liveness::Unknown);
        assert_eq!(HostId::from_labels(&HashMap::new()), None);
    }

    #[test]
    fn elf_check_tells_static_from_dynamic() {
        // The test binary itself is dynamically linked (it has an interpreter).
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me).unwrap());
        let dir = std::env::temp_dir().join(format!("nfwd-elf-{}", std::process::id()));
        std::fs::write(&dir, b"#!/bin/sh\n").unwrap();
        assert!(!is_static_elf(&dir).unwrap());
        let _ = std::fs::remove_file(&dir);
    }
}

//! The contract of a way to run SF instances: Docker containers ([`crate::docker`]) or local
//! processes ([`crate::process`]). The host drives instances only through this trait.

use std::future::Future;
use std::path::PathBuf;

use crate::error::Result;
use crate::spec::{Artifact, SfSpec};
use crate::users::InstanceUser;

/// How an instance reaches its forwarder, and as whom it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderAccess {
    /// The Unix socket the instance connects to: the SF host gives each instance a restricted
    /// channel of its own, alone in a directory (which the Docker backend bind-mounts, and
    /// nothing else).
    pub unix_socket: PathBuf,
    /// The user the instance runs as. `None`: processes run as the host; containers as
    /// `nobody` (65534). Never root.
    pub user: Option<InstanceUser>,
    /// The user is the instance's own (not shared with the host or other instances), so
    /// per-user limits such as RLIMIT_NPROC apply to the instance alone.
    pub own_user: bool,
}

impl ForwarderAccess {
    /// Access through `unix_socket` as the host's own user.
    #[must_use]
    pub fn socket(unix_socket: impl Into<PathBuf>) -> Self {
        Self {
            unix_socket: unix_socket.into(),
            user: None,
            own_user: false,
        }
    }
}

/// What `prepare` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The artifact (image) was already on this node.
    AlreadyPresent,
    /// It had to be built or fetched (the scheduler's "SF download" cost).
    Fetched,
}

/// A running (or once running) instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceHandle {
    /// The backend that runs it (`docker` or `process`).
    pub backend: &'static str,
    /// Container id or process id.
    pub id: String,
    /// The SF's function name.
    pub sf: String,
    /// Its number among the SF's instances.
    pub index: u32,
}

/// What an instance is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Running.
    Running,
    /// Exited with this code (None if killed by a signal or unknown).
    Exited(Option<i64>),
    /// The backend no longer knows it.
    Missing,
}

/// A way to run SF instances.
pub trait Backend: Send + Sync {
    /// `docker` or `process`.
    fn kind(&self) -> &'static str;

    /// Makes the SF's artifact available on this node (builds the image; nothing for
    /// processes). Says whether it was there already.
    fn prepare(&self, spec: &SfSpec) -> impl Future<Output = Result<Prepared>> + Send;

    /// Starts instance `index` of `spec`, connected to the forwarder through `access`.
    fn start(
        &self,
        spec: &SfSpec,
        index: u32,
        access: &ForwarderAccess,
    ) -> impl Future<Output = Result<InstanceHandle>> + Send;

    /// Stops and removes an instance (idempotent).
    fn stop(&self, handle: &InstanceHandle) -> impl Future<Output = Result<()>> + Send;

    /// What the instance is doing.
    fn status(
        &self,
        handle: &InstanceHandle,
    ) -> impl Future<Output = Result<InstanceStatus>> + Send;

    /// The last `lines` lines of the instance's output.
    fn logs(
        &self,
        handle: &InstanceHandle,
        lines: usize,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// The `nfwd` arguments an instance of `spec` runs — `sf run ...` for a built-in, `sf exec ...
/// -- PROGRAM` for an exec artifact — connected to `connect` and named `instance`. This is the
/// contract between every backend and the runtime's command line. `program` replaces an exec
/// artifact's argv (the Docker backend passes the path the program has inside the image).
#[must_use]
pub fn runtime_args(
    spec: &SfSpec,
    connect: &str,
    instance: &str,
    program: Option<Vec<String>>,
) -> Vec<String> {
    let mut args = vec!["sf".to_owned()];
    match &spec.artifact {
        Artifact::Builtin { function } => {
            args.extend(["run", "--function", &spec.name, "--builtin", function].map(String::from));
        }
        // A package is resolved to its program (an exec artifact) before any backend sees
        // the spec; run as exec should one ever get here.
        Artifact::Exec { .. } | Artifact::Package { .. } | Artifact::Image { .. } => args.extend(
            [
                "exec",
                "--function",
                &spec.name,
                "--input-type",
                &spec.input_type,
                "--output-type",
                &spec.output_type,
                "--version",
                &spec.version,
            ]
            .map(String::from),
        ),
    }
    let (concurrency, timeout) = (spec.concurrency.to_string(), spec.timeout_ms.to_string());
    args.extend(
        [
            "--connect",
            connect,
            "--instance",
            instance,
            "--concurrency",
            &concurrency,
            "--timeout-ms",
            &timeout,
        ]
        .map(String::from),
    );
    if let Artifact::Exec { argv } | Artifact::Image { argv, .. } = &spec.artifact {
        args.push("--".into());
        args.extend(program.unwrap_or_else(|| argv.clone()));
    }
    args
}

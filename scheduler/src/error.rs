//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading inputs, scheduling, checking or plotting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A TOML file could not be parsed into the expected structure.
    #[error("cannot parse the {what} file: {source}")]
    Parse {
        /// Which kind of file ("workflow", "infrastructure", "plan").
        what: &'static str,
        /// The parser's error (it carries the line and column).
        #[source]
        source: toml::de::Error,
    },
    /// A value could not be written as TOML.
    #[error("cannot write {what} as TOML: {source}")]
    Serialize {
        /// What was being written.
        what: &'static str,
        /// The serializer's error.
        #[source]
        source: toml::ser::Error,
    },
    /// The workflow has no task.
    #[error("the workflow has no task")]
    EmptyWorkflow,
    /// Two tasks share a name.
    #[error("two tasks are named {0:?}")]
    DuplicateTask(String),
    /// An edge names a task that does not exist.
    #[error("edge {from:?} -> {to:?} names the unknown task {unknown:?}")]
    UnknownTask {
        /// The edge's source as written.
        from: String,
        /// The edge's target as written.
        to: String,
        /// The name that matched no task.
        unknown: String,
    },
    /// An edge from a task to itself, or the same edge twice.
    #[error("edge {from:?} -> {to:?} is a self-loop or appears twice")]
    BadEdge {
        /// The edge's source.
        from: String,
        /// The edge's target.
        to: String,
    },
    /// The workflow's dependencies contain a cycle.
    #[error("the workflow has a cycle through task {0:?}")]
    Cycle(String),
    /// A task needs an input file the workflow does not declare.
    #[error("task {task:?} reads the undeclared input file {file:?}")]
    UnknownFile {
        /// The task.
        task: String,
        /// The file name.
        file: String,
    },
    /// A task's SF type has no image size in the infrastructure file.
    #[error("task {task:?} has SF type {sf:?}, which has no image in the infrastructure file")]
    MissingImage {
        /// The task.
        task: String,
        /// Its SF type.
        sf: String,
    },
    /// A host (or the repository, or the file server) names a network that does not exist.
    #[error("{who} is in the unknown network {network:?}")]
    UnknownNetwork {
        /// The host or server.
        who: String,
        /// The network name.
        network: String,
    },
    /// A name is declared twice (host, network, image, file).
    #[error("{kind} {name:?} is declared twice")]
    Duplicate {
        /// What kind of thing.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The infrastructure has no vCPU at all.
    #[error("the infrastructure has no vCPU")]
    NoVcpu,
    /// A number that must be positive and finite (speed, bandwidth, load limit, ...) is not.
    #[error("{what} must be a positive finite number, got {value}")]
    BadNumber {
        /// Which quantity, and whose.
        what: String,
        /// The value found.
        value: f64,
    },
    /// A cost matrix is not rectangular or is empty.
    #[error("bad cost matrix: {0}")]
    BadMatrix(String),
    /// An algorithm name that is not known.
    #[error(
        "unknown algorithm {0:?} (try: sf-cuv, cuv-fix, heft, peft, cap, com, or the variant \
         readings sf-cuv-host, com-immediate)"
    )]
    UnknownAlgorithm(String),
    /// A download model name that is not `origin` or `nearest-copy`.
    #[error("unknown download model {0:?} (origin, nearest-copy)")]
    UnknownDownloadModel(String),
    /// An experiment without SF-CUV, to which every ratio is taken.
    #[error("the experiment's algorithms must include sf-cuv: every ratio is to SF-CUV's value")]
    NoReferenceAlgorithm,
    /// A schedule breaks a rule of the model (found by the checker).
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// A plot could not be drawn.
    #[error("cannot draw {path}: {message}")]
    Plot {
        /// The output file.
        path: PathBuf,
        /// The drawing backend's message.
        message: String,
    },
    /// An input is larger than the limits in [`crate::limits`].
    #[error("too large: {found} {what}, the limit is {limit}")]
    TooLarge {
        /// What was counted ("tasks", "bytes in FILE", ...).
        what: String,
        /// How many were found.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// A WfFormat (WfCommons JSON) file is not valid JSON or lacks what the reader needs.
    #[error("cannot read the WfFormat workflow: {0}")]
    WfFormat(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

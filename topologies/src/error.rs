//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong reading, checking or launching a topology.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not valid TOML or does not have the topology's shape.
    #[error("{path}: {source}")]
    Parse {
        /// The file (or `<text>`).
        path: String,
        /// What toml said.
        source: toml::de::Error,
    },
    /// The topology parses but says something impossible (unknown node, duplicate name, ...).
    #[error("invalid topology: {0}")]
    Invalid(String),
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An external command (`ip`, `tc`, `nft`, `nfwd`) failed.
    #[error("{command}: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr, or why it could not run.
        detail: String,
    },
    /// A node's forwarder or SF host refused or did not answer.
    #[error("node {node}: {detail}")]
    Node {
        /// The node.
        node: String,
        /// What happened.
        detail: String,
    },
    /// A scheduler's plan that cannot be applied to the topology (unknown node, SF type
    /// without an implementation, route to a non-neighbour, ...).
    #[error("invalid plan: {0}")]
    Plan(String),
    /// A workflow that cannot be run on the topology (`nfwd topo run`): no `[scheduler]`, no
    /// consumer, an unknown algorithm, a workflow the scheduler refuses, ...
    #[error("cannot run the workflow: {0}")]
    Run(String),
    /// The machine cannot run the testbed (not root, no `ip`, no netem, ...).
    #[error("cannot run here: {0}")]
    Unsupported(String),
    /// A topology of that name is (or is not) up.
    #[error("{0}")]
    State(String),
    /// Serializing (the state, a generated topology).
    #[error("serializing {what}: {source}")]
    Serialize {
        /// What.
        what: &'static str,
        /// What toml said.
        source: toml::ser::Error,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    pub(crate) fn node(node: &str, detail: impl std::fmt::Display) -> Self {
        Self::Node {
            node: node.to_owned(),
            detail: detail.to_string(),
        }
    }
}

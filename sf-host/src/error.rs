//! The one error type of the SF host crate.

use thiserror::Error;

/// Errors of the SDK, the runtime, the backends and the host.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A specification or configuration is invalid.
    #[error("invalid SF specification: {0}")]
    Spec(String),
    /// The host's options are invalid (`nfwd start --sf-...`, [`crate::host::HostOptions`]).
    #[error("SF host configuration: {0}")]
    Config(String),
    /// The forwarder or the network failed.
    #[error("forwarder: {0}")]
    Forwarder(#[from] nfwd_forwarder::Error),
    /// A packet could not be built or read.
    #[error("packet: {0}")]
    Packet(#[from] nfwd_tlv::Error),
    /// A file or process operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The Docker engine failed or is unreachable.
    #[error("Docker: {0}")]
    Docker(String),
    /// The function itself failed (its message is what the consumer's error Data says).
    #[error("function failed: {0}")]
    Function(String),
    /// An SF package was refused (bad signature, altered segment, hostile manifest):
    /// `docs/sf-host.md`, "SF packages".
    #[error("SF package refused: {0}")]
    Package(#[from] crate::package::PackageError),
    /// Pulling a package for a deployment failed; `reason` is shared by every deployment
    /// that waited for the same pull.
    #[error("pulling {package}: {reason}")]
    Pull {
        /// The package (with its version).
        package: String,
        /// Why.
        reason: std::sync::Arc<Self>,
    },
    /// No such SF or instance.
    #[error("not found: {0}")]
    NotFound(String),
    /// Something took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The forwarder (or the host) refused a request: `what` was asked, `code` and `text` are
    /// the ControlResponse's, e.g. `deploy refused (403): uid 1001 is not authorized for "sf"`.
    #[error("{what} refused ({code}): {text}")]
    Refused {
        /// The request (`deploy`, `list`, ...).
        what: String,
        /// Its status code.
        code: u64,
        /// Its status text.
        text: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The one error type of the forwarder crate.

use thiserror::Error;

/// Errors of the forwarder, its driver and the client library.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A packet could not be decoded or encoded.
    #[error("packet: {0}")]
    Packet(#[from] nfwd_tlv::Error),
    /// A socket or file operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A face URI could not be understood or is not supported.
    #[error("face URI {uri:?}: {reason}")]
    FaceUri { uri: String, reason: String },
    /// A QUIC or TLS operation failed.
    #[error("QUIC: {0}")]
    Quic(String),
    /// The peer closed the connection.
    #[error("connection closed")]
    Closed,
    /// No answer before the deadline.
    #[error("timed out")]
    Timeout,
    /// The network answered with a Nack.
    #[error("Nack: {0:?}")]
    Nack(nfwd_tlv::lp::NackReason),
    /// A management command was refused.
    #[error("management: {code} {text}")]
    Management { code: u64, text: String },
    /// A service function answered with an error Data (ContentType NACK, `docs/protocol.md`
    /// §5.3): `name` is the Data's name, `message` its content (UTF-8 JSON naming the error
    /// kind, the function and a message).
    #[error("application error for {name}: {message}")]
    Application { name: String, message: String },
    /// A metrics exposition (`status/counters`) could not be read: the line (from 1) and what
    /// is wrong with it.
    #[error("metrics, line {line}: {reason}")]
    Metrics { line: usize, reason: &'static str },
    /// Anything else the caller gets a message for.
    #[error("{0}")]
    Other(String),
}

impl From<nfwd_core::Error> for Error {
    fn from(e: nfwd_core::Error) -> Self {
        match e {
            nfwd_core::Error::Config(m) => Self::Config(m),
            nfwd_core::Error::Metrics { line, reason } => Self::Metrics { line, reason },
            other => Self::Other(other.to_string()),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

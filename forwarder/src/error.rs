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
    /// Anything else the caller gets a message for.
    #[error("{0}")]
    Other(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong while decoding, encoding, signing or verifying NDN packets.
///
/// Decoding errors carry the TLV-TYPE where it helps a user find the offending element.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended in the middle of a TLV header or value.
    #[error("truncated input: needed {needed} more bytes")]
    Truncated { needed: usize },
    /// A TLV-TYPE of 0, or a VAR-NUMBER that does not fit the field it encodes.
    #[error("invalid TLV-TYPE {0}")]
    InvalidType(u64),
    /// A TLV-LENGTH larger than what the platform can address.
    #[error("TLV-LENGTH {0} is too large")]
    LengthTooLarge(u64),
    /// Bytes left over after the outermost element, where exactly one element was expected.
    #[error("{0} trailing bytes after the packet")]
    TrailingBytes(usize),
    /// A different element was expected here.
    #[error("expected TLV-TYPE {expected}, found {found}")]
    UnexpectedType { expected: u32, found: u32 },
    /// An element that must be present is absent.
    #[error("missing required element {0}")]
    Missing(&'static str),
    /// An unknown or out-of-order element whose TLV-TYPE is critical.
    #[error("unrecognized critical element of TLV-TYPE {0}")]
    UnknownCritical(u32),
    /// A known element appears twice, or after elements that must follow it.
    #[error("element of TLV-TYPE {0} is repeated or out of order")]
    OutOfOrder(u32),
    /// A NonNegativeInteger whose length is not 1, 2, 4 or 8 (or exceeds its field's range).
    #[error("invalid NonNegativeInteger in TLV-TYPE {0}")]
    InvalidInteger(u32),
    /// A field whose value violates the specification.
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        field: &'static str,
        reason: &'static str,
    },
    /// A name in URI text form that cannot be parsed.
    #[error("invalid NDN URI: {0}")]
    InvalidUri(String),
    /// The ParametersSha256DigestComponent does not match the ApplicationParameters.
    #[error("parameters digest mismatch")]
    ParametersDigestMismatch,
    /// A key could not be parsed or does not suit the requested signature type.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// The packet uses a signature type this crate cannot verify.
    #[error("unsupported signature type {0}")]
    UnsupportedSignatureType(u64),
    /// Reassembly of NDNLPv2 fragments failed.
    #[error("reassembly: {0}")]
    Reassembly(&'static str),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

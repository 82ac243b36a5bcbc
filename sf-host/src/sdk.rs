//! The author's side of a service function: a function from input content (and what is known
//! about it) to output content, or an error. The [`crate::runtime`] does the NDN part.
//!
//! ```
//! use nfwd_sf_host::sdk::{Function, FunctionError, FunctionInfo, Input, Output};
//!
//! /// Counts the bytes of its input.
//! #[derive(Debug)]
//! struct Length;
//!
//! impl Function for Length {
//!     fn info(&self) -> FunctionInfo {
//!         FunctionInfo::new("/sf/length", "1", "*/*", "text/plain")
//!             .describe("number of input bytes, as decimal text")
//!     }
//!     fn apply(&self, input: Input) -> Result<Output, FunctionError> {
//!         Ok(Output::new(input.content.len().to_string()))
//!     }
//! }
//! ```
//!
//! A [`Function`] is synchronous and may be CPU-heavy: the runtime calls it on the blocking
//! thread pool. A function that waits on I/O (the exec route waits for a child process)
//! implements [`AsyncFunction`] instead. Either is wrapped in a [`Program`] for the runtime.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use nfwd_tlv::{FunctionChain, Name};

/// What a function declares about itself (`nfwd sf functions` prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Default function name (an NDN name, e.g. `/sf/upper`); `nfwd sf run --function`
    /// overrides it.
    pub name: String,
    /// Version, free text.
    pub version: String,
    /// Media type accepted: `*/*` or `application/octet-stream` accept anything; see
    /// [`check_media_type`] for what the runtime verifies before calling the function.
    pub input_type: String,
    /// Media type produced.
    pub output_type: String,
    /// One line for humans.
    pub description: String,
}

impl FunctionInfo {
    /// Info with an empty description.
    #[must_use]
    pub fn new(name: &str, version: &str, input_type: &str, output_type: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            input_type: input_type.into(),
            output_type: output_type.into(),
            description: String::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.into();
        self
    }
}

/// One invocation's input.
#[derive(Debug, Clone)]
pub struct Input {
    /// The whole input content (all segments, reassembled).
    pub content: Bytes,
    /// Name of the input Data without its segment component (`N'` of `docs/protocol.md` §5).
    pub name: Name,
    /// The chain the input is the result of (the stack this SF received), `None` for raw
    /// content.
    pub chain: Option<FunctionChain>,
    /// When the runtime stops waiting and answers with a timeout error. Long functions may
    /// check it to give up early; the result is discarded after it anyway.
    pub deadline: Instant,
    /// The function name the consumer asked for, parameters included
    /// (`/sf/thumbnail/size=64` for an SF serving `/sf/thumbnail`).
    pub function: Name,
    /// The parameters: the components of [`Input::function`] after the served name, each
    /// `key=value` (`docs/protocol.md` §5.6). Empty when none were given.
    pub params: Params,
}

impl Input {
    /// An input with this content and name, no stack, no parameters, and a deadline 30 s
    /// from now (for tests and for calling a function directly).
    pub fn new(content: impl Into<Bytes>, name: Name) -> Self {
        Self {
            content: content.into(),
            function: Name::new(),
            name,
            chain: None,
            deadline: Instant::now() + std::time::Duration::from_secs(30),
            params: Params::new(),
        }
    }
}

/// Per-request parameters of a function, by key.
pub type Params = BTreeMap<String, String>;

/// Most parameters one request may carry.
pub const MAX_PARAMS: usize = 16;

/// Parses the parameter components of `requested` after `served` (a prefix of it): each a
/// generic component `key=value`, keys unique, at most [`MAX_PARAMS`].
pub fn parse_params(served: &Name, requested: &Name) -> Result<Params, FunctionError> {
    let mut params = Params::new();
    if !served.is_prefix_of(requested) {
        return Err(FunctionError::Rejected(format!(
            "{requested} is not a name of the function {served}"
        )));
    }
    for c in requested.components().skip(served.len()) {
        let text = std::str::from_utf8(c.value())
            .ok()
            .filter(|_| c.is_generic())
            .and_then(|t| t.split_once('='))
            .filter(|(k, _)| !k.is_empty());
        let Some((k, v)) = text else {
            return Err(FunctionError::Rejected(format!(
                "parameter {} of {requested} is not key=value",
                Name::new().append(&c)
            )));
        };
        if params.len() >= MAX_PARAMS {
            return Err(FunctionError::Rejected(format!(
                "more than {MAX_PARAMS} parameters in {requested}"
            )));
        }
        if params.insert(k.to_string(), v.to_string()).is_some() {
            return Err(FunctionError::Rejected(format!(
                "parameter {k} given twice in {requested}"
            )));
        }
    }
    Ok(params)
}

/// One invocation's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The output content; the runtime segments it as needed.
    pub content: Bytes,
}

impl Output {
    /// Output with this content.
    pub fn new(content: impl Into<Bytes>) -> Self {
        Self {
            content: content.into(),
        }
    }
}

/// Why a function produced no output. Each kind becomes an error Data
/// (`docs/protocol.md` §5.3) with the matching `error` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The function ran and failed (`"failed"`).
    #[error("failed: {0}")]
    Failed(String),
    /// The input is not of a type the function accepts (`"rejected"`).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The function did not finish in time (`"timeout"`).
    #[error("timeout: {0}")]
    Timeout(String),
}

impl FunctionError {
    /// The `error` field of the error Data: `failed`, `rejected` or `timeout`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Failed(_) => "failed",
            Self::Rejected(_) => "rejected",
            Self::Timeout(_) => "timeout",
        }
    }

    /// The human-readable message.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Self::Failed(m) | Self::Rejected(m) | Self::Timeout(m) => m,
        }
    }
}

/// A synchronous function: called on the blocking thread pool, so it may compute for long.
pub trait Function: Send + Sync + 'static {
    /// What the function declares.
    fn info(&self) -> FunctionInfo;
    /// Computes the output. Must not panic on any input: bad input is
    /// [`FunctionError::Rejected`].
    fn apply(&self, input: Input) -> Result<Output, FunctionError>;
    /// True for functions that finish in microseconds whatever the input (identity): the
    /// runtime then calls them on its async worker, saving the hand-off to a blocking thread.
    /// Such a call cannot be interrupted by the timeout. Default false.
    fn is_trivial(&self) -> bool {
        false
    }
}

/// The future an [`AsyncFunction`] returns.
pub type FunctionFuture = Pin<Box<dyn Future<Output = Result<Output, FunctionError>> + Send>>;

/// An asynchronous function (waits on I/O rather than computing). The future is dropped when
/// the timeout fires, so it must release what it holds on drop (e.g. kill its child).
pub trait AsyncFunction: Send + Sync + 'static {
    /// What the function declares.
    fn info(&self) -> FunctionInfo;
    /// Starts computing the output.
    fn call(&self, input: Input) -> FunctionFuture;
}

/// A function ready for the runtime.
#[derive(Clone)]
pub enum Program {
    /// Runs on the blocking thread pool.
    Blocking(Arc<dyn Function>),
    /// Runs as a task.
    Async(Arc<dyn AsyncFunction>),
}

impl Program {
    /// Wraps a synchronous function.
    pub fn blocking(f: impl Function) -> Self {
        Self::Blocking(Arc::new(f))
    }

    /// Wraps an asynchronous function.
    pub fn asynchronous(f: impl AsyncFunction) -> Self {
        Self::Async(Arc::new(f))
    }

    /// What the function declares.
    #[must_use]
    pub fn info(&self) -> FunctionInfo {
        match self {
            Self::Blocking(f) => f.info(),
            Self::Async(f) => f.info(),
        }
    }
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Blocking(_) => "Blocking",
            Self::Async(_) => "Async",
        };
        f.debug_struct("Program")
            .field("kind", &kind)
            .field("info", &self.info())
            .finish()
    }
}

/// Checks that `content` plausibly is of media type `media` before a function sees it.
///
/// NDN Data carries no media type, so the runtime checks the content itself, cheaply:
/// `text/*` must be UTF-8, `application/json` must parse as JSON, `image/png` must start
/// with the PNG signature, `application/gzip` with the gzip magic. Anything else
/// (`*/*`, `application/octet-stream`, unknown types) is accepted and left to the function.
pub fn check_media_type(media: &str, content: &[u8]) -> Result<(), FunctionError> {
    let media = media.split(';').next().unwrap_or("").trim();
    let ok = match media {
        "application/json" => serde_json::from_slice::<serde::de::IgnoredAny>(content).is_ok(),
        "image/png" => content.starts_with(b"\x89PNG\r\n\x1a\n"),
        "application/gzip" => content.starts_with(&[0x1f, 0x8b]),
        m if m.starts_with("text/") => std::str::from_utf8(content).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(FunctionError::Rejected(format!(
            "input ({} bytes) is not {media}",
            content.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_key_value_components_after_the_served_name() {
        let served: Name = "/sf/thumbnail".parse().unwrap();
        let p = parse_params(&served, &"/sf/thumbnail/size=64/q=x%3Dy".parse().unwrap()).unwrap();
        assert_eq!(p.get("size").map(String::as_str), Some("64"));
        assert_eq!(p.get("q").map(String::as_str), Some("x=y"));
        assert!(parse_params(&served, &served).unwrap().is_empty());
        for bad in [
            "/sf/thumbnail/64",
            "/sf/thumbnail/=64",
            "/sf/thumbnail/size=1/size=2",
            "/sf/thumbnail/v=3",
            "/sf/other/size=1",
        ] {
            let e = parse_params(&served, &bad.parse().unwrap()).unwrap_err();
            assert_eq!(e.kind(), "rejected", "{bad}");
        }
    }

    #[test]
    fn media_types_are_checked_by_content() {
        assert!(check_media_type("application/json", b"[1,2]").is_ok());
        assert!(check_media_type("application/json", b"[1,").is_err());
        assert!(check_media_type("text/plain; charset=utf-8", b"abc").is_ok());
        assert!(check_media_type("text/plain", &[0xff, 0xfe]).is_err());
        assert!(check_media_type("image/png", b"GIF89a").is_err());
        assert!(check_media_type("*/*", &[0xff]).is_ok());
        let e = check_media_type("application/gzip", b"plain").unwrap_err();
        assert_eq!(e.kind(), "rejected");
    }
}

//! Service functions for nfwd: the SDK for writing them, the runtime that connects them to a
//! forwarder, and the host that runs them as Docker containers or local processes.
//!
//! - [`spec`]: what an operator deploys (an [`spec::SfSpec`]).
//! - [`backend`]: the contract every way of running an SF instance fulfils
//!   ([`backend::Backend`]); [`docker`] and [`process`] implement it.
//! - [`sdk`] and [`runtime`]: an SF is a function from input content to output content; the
//!   runtime does the NDN part (`docs/protocol.md` §5).
//! - [`host`]: deploys, starts on demand, keeps warm, restarts, stops and counts SF instances.
//! - [`functions`]: the built-in example SFs.
//! - [`users`]: who instances run as (never root).
//! - [`package`]: SF packages published and fetched over NDN (signed manifest, segments).

#![forbid(unsafe_code)]

pub mod backend;
pub mod docker;
pub mod error;
pub mod functions;
pub mod host;
pub mod package;
pub mod process;
pub mod progress;
pub mod runtime;
pub mod sdk;
pub mod spec;
pub mod users;

pub use error::{Error, Result};

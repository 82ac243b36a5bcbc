//! The one error type of the core crate.

use thiserror::Error;

/// Errors of the core: a configuration it cannot run with, a metrics text it cannot read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A metrics exposition (`status/counters`) could not be read: the line (from 1) and what
    /// is wrong with it.
    #[error("metrics, line {line}: {reason}")]
    Metrics { line: usize, reason: &'static str },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The nfwd forwarding daemon.
//!
//! - [`core`]: the sans-IO forwarding core — tables (FIB, PIT, content store, dead nonce
//!   list), strategies, the chaining pipeline and NFD management. It takes events
//!   (`receive(now, face, bytes)`, `on_timeout(now)`) and returns [`core::Action`]s; it owns no
//!   socket, no clock and no task, so tests drive it deterministically.
//! - [`driver`]: the tokio driver — faces as tasks, the single task that owns the core, timers.
//! - [`client`]: the client library (connect, express, register, serve, segmented fetch) used
//!   by `nfwd get/serve`, by SFs and by tests.
//! - [`config`]: the TOML configuration with every default stated.
//! - [`metrics`]: counters with names and help text, written and read as Prometheus text.

#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod core;
pub mod driver;
pub mod error;
pub mod metrics;
pub mod security;

pub use error::{Error, Result};

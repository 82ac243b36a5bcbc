//! The nfwd forwarding daemon.
//!
//! - [`core`]: the sans-IO forwarding core, the `nfwd-core` crate re-exported — tables (FIB,
//!   PIT, content store, dead nonce list), strategies, the chaining pipeline and NFD
//!   management. It takes events (`receive(now, face, bytes)`, `on_timeout(now)`) and returns
//!   [`core::Action`]s; it owns no socket, no clock and no task, so tests drive it
//!   deterministically.
//! - [`driver`]: the tokio driver — faces as tasks, the single task that owns the core, timers.
//! - [`client`]: the client library (connect, express, register, serve, segmented fetch) used
//!   by `nfwd get/serve`, by SFs and by tests.
//! - [`config`]: the TOML configuration with every default stated (from `nfwd-core`).
//! - [`metrics`]: counters with names and help text, written and read as Prometheus text
//!   (from `nfwd-core`).

#![forbid(unsafe_code)]

pub mod client;
pub mod driver;
pub mod error;
pub mod security;

pub use error::{Error, Result};
pub use nfwd_core as core;
pub use nfwd_core::{config, metrics};

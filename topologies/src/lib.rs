//! Multi-node nfwd testbeds on one machine, like MiniNDN for NFD.
//!
//! A topology file (TOML, [`model`]) names nodes — each a forwarder in a network namespace or
//! a Docker container of its own ([`placement`]), optionally with an SF host and SFs — links
//! between them (veth pairs or private Docker networks, shaped with netem/tbf), producers,
//! consumers and routes, written or computed ([`routes`]). The [`launch`]er brings it up,
//! reports on it and takes it down; [`generate`] makes random ones for scale tests. See this
//! crate's README for the format.
//!
//! Model, validation, route computation and generation are pure (unit-tested); only
//! [`launch`], [`placement`] and [`net`] touch the system.

#![forbid(unsafe_code)]

pub mod apply;
pub mod error;
pub mod faults;
pub mod generate;
pub mod launch;
pub mod linkemu;
pub mod model;
pub mod net;
pub mod placement;
pub mod reroute;
pub mod routes;
pub mod run;
pub mod watch;

pub use error::{Error, Result};
pub use model::Topology;

//! Subcommands of the `nfwd` binary, one module each.

pub(crate) mod bench;
pub(crate) mod demo;
mod demo_line;
pub(crate) mod get;
pub(crate) mod key;
pub(crate) mod mgmt;
pub(crate) mod output;
pub(crate) mod packet;
pub(crate) mod schedule;
pub(crate) mod serve;
pub(crate) mod sf;
pub(crate) mod sf_host;
pub(crate) mod sf_package;
pub(crate) mod sf_run;
pub(crate) mod start;
pub(crate) mod status_http;
pub(crate) mod topo;

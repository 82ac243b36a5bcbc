//! Subcommands of the `nfwd` binary, one module each.

pub(crate) mod packet;
pub(crate) mod schedule;

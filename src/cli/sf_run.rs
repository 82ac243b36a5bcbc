//! `nfwd sf run|exec|functions` (being written).

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {}

pub(crate) fn run(_a: &RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

pub(crate) fn exec(_a: &ExecArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

pub(crate) fn functions() -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

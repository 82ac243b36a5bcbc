//! `nfwd sf deploy|undeploy|list|logs|stats` (being written).

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {}

#[derive(Debug, Args)]
pub(crate) struct UndeployArgs {}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {}

pub(crate) fn deploy(_a: &DeployArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

pub(crate) fn undeploy(_a: &UndeployArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

pub(crate) fn list(_a: &ListArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

pub(crate) fn logs(_a: &LogsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

pub(crate) fn stats(_a: &StatsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not available yet")
}

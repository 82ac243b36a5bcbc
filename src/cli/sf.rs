//! `nfwd sf ...`: service functions — running one (the runtime inside containers and
//! processes: `run`, `exec`, `functions`, in `sf_run.rs`) and managing them on this node's SF
//! host (`deploy`, `undeploy`, `list`, `logs`, `stats`, `packages`, in `sf_host.rs`), and SF packages
//! over NDN (`publish`, `fetch`, in `sf_package.rs`).

use clap::Subcommand;

use super::{sf_host, sf_package, sf_run};

#[derive(Debug, Subcommand)]
pub(crate) enum SfCommand {
    /// Run a built-in SF connected to a forwarder (what an SF instance executes).
    Run(sf_run::RunArgs),
    /// Wrap any executable that reads stdin and writes stdout as an SF.
    Exec(sf_run::ExecArgs),
    /// List the built-in functions.
    Functions,
    /// Deploy an SF (TOML specification) on the SF host.
    Deploy(sf_host::DeployArgs),
    /// Remove a deployed SF and stop its instances.
    Undeploy(sf_host::UndeployArgs),
    /// List deployed SFs and their instances.
    List(sf_host::ListArgs),
    /// Show an SF instance's recent output.
    Logs(sf_host::LogsArgs),
    /// Per-SF counters: instances, requests, errors, latency.
    Stats(sf_host::StatsArgs),
    /// Publish an SF's program and spec as a signed package over NDN, served until stopped.
    Publish(sf_package::PublishArgs),
    /// Fetch an SF package by name, verify it against a trust anchor, write it to a directory.
    Fetch(sf_package::FetchArgs),
    /// The SF host's package cache: sources, installed packages, pulls, counters.
    Packages(sf_host::PackagesArgs),
    /// Tell the SF hosts of many nodes to pull a package into their caches, at once.
    Provision(sf_host::ProvisionArgs),
}

pub(crate) fn run(cmd: SfCommand) -> anyhow::Result<()> {
    match cmd {
        SfCommand::Run(a) => sf_run::run(&a),
        SfCommand::Exec(a) => sf_run::exec(&a),
        SfCommand::Functions => sf_run::functions(),
        SfCommand::Deploy(a) => sf_host::deploy(&a),
        SfCommand::Undeploy(a) => sf_host::undeploy(&a),
        SfCommand::List(a) => sf_host::list(&a),
        SfCommand::Logs(a) => sf_host::logs(&a),
        SfCommand::Stats(a) => sf_host::stats(&a),
        SfCommand::Publish(a) => sf_package::publish(&a),
        SfCommand::Fetch(a) => sf_package::fetch(&a),
        SfCommand::Packages(a) => sf_host::packages(&a),
        SfCommand::Provision(a) => sf_host::provision(&a),
    }
}

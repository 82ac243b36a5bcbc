//! `nfwd`: the single user-facing binary of the project.
//!
//! Each subcommand lives in its own module under `cli/`; this file only parses the command line
//! and dispatches.

mod cli;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "nfwd",
    version,
    about = "An NDN forwarder that chains service functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect NDN packets (decode, encode examples).
    #[command(subcommand)]
    Packet(Box<cli::packet::PacketCommand>),
    /// Place service functions on nodes (SF-CUV and baselines) and run the seed's evaluation.
    #[command(subcommand)]
    Schedule(cli::schedule::ScheduleCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Packet(cmd) => cli::packet::run(*cmd),
        Command::Schedule(cmd) => cli::schedule::run(cmd),
    }
}

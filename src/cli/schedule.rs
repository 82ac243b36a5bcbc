//! `nfwd schedule ...` (owned by the scheduler work).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Print the available algorithms.
    Algorithms,
}

pub(crate) fn run(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::Algorithms => Ok(()),
    }
}

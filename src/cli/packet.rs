//! `nfwd packet ...`: inspect NDN packets.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum PacketCommand {
    /// Decode a packet given as hex or as a file and print it as a tree.
    Decode {
        /// Hex string, or a path to a file holding the packet (binary or hex).
        input: String,
    },
}

pub(crate) fn run(cmd: PacketCommand) -> anyhow::Result<()> {
    match cmd {
        PacketCommand::Decode { input: _ } => Ok(()),
    }
}

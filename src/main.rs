//! `nfwd`: the single user-facing binary of the project.
//!
//! Each subcommand lives in its own module under `cli/`; this file only parses the command line
//! and dispatches.

mod cli;
mod memory;

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
    #[command(flatten)]
    connect: cli::mgmt::Connect,
    /// More detail: an error's causes one per line; with get, what was fetched, its size and
    /// the time taken.
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a function chain end to end on this machine (forwarder, producer, three SFs).
    Demo(cli::demo::DemoArgs),
    /// Run the forwarding daemon.
    Start(cli::start::StartArgs),
    /// Fetch content, optionally through a chain of service functions (like ndnpeek and
    /// ndncatchunks).
    Get(cli::get::GetArgs),
    /// Publish a file or text under a prefix, segmented and signed (like ndnputchunks).
    Serve(cli::serve::ServeArgs),
    /// Forwarder status (management: status/general).
    Status {
        /// Every counter instead (faces, tables, drops by reason): nfwd's status/counters.
        #[arg(long, conflicts_with = "chains")]
        counters: bool,
        /// The chained exchanges that ended here most recently instead, newest first:
        /// nfwd's status/chains.
        #[arg(long)]
        chains: bool,
        /// One JSON object instead (fields: docs/cli.md).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        after: cli::mgmt::Connect,
    },
    /// Faces: list, create, update, destroy.
    Face(cli::mgmt::Managed<cli::mgmt::FaceCommand>),
    /// Routes: list, add, remove.
    Route(cli::mgmt::Managed<cli::mgmt::RouteCommand>),
    /// Strategy choices: list, set, unset.
    Strategy(cli::mgmt::Managed<cli::mgmt::StrategyCommand>),
    /// Content store: info, erase, config.
    Cs(cli::mgmt::Managed<cli::mgmt::CsCommand>),
    /// Service functions: run one, or deploy and manage them on this node.
    #[command(subcommand)]
    Sf(cli::sf::SfCommand),
    /// Measure forwarding throughput and latency against a UDP echo (load generator).
    Bench(cli::bench::BenchArgs),
    /// Signing keys for management: generate a key and its certificate, show one.
    #[command(subcommand)]
    Key(cli::key::KeyCommand),
    /// Inspect NDN packets (decode, encode examples).
    #[command(subcommand)]
    Packet(Box<cli::packet::PacketCommand>),
    /// Place service functions on nodes (SF-CUV and baselines) and run the seed's evaluation.
    #[command(subcommand)]
    Schedule(cli::schedule::ScheduleCommand),
    /// Multi-node testbeds on this machine: up, status, down, exec, check, apply, run, link,
    /// kill, restart, generate.
    #[command(subcommand)]
    Topo(cli::topo::TopoCommand),
}

/// Errors end the command with status 1 and one line on stderr: every cause once, outermost
/// first (`fetching /a: cannot reach the forwarder at unix:///run/nfwd/nfwd.sock: No such file
/// or directory`). `RUST_LIB_BACKTRACE=1` adds where the error was raised, for developers;
/// `RUST_BACKTRACE` alone (often set for panics) does not.
fn main() -> std::process::ExitCode {
    memory::fix_mmap_threshold();
    let cli = Cli::parse();
    let verbose = cli.verbose;
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if verbose => {
            // Every cause as it was raised, outermost first, one per line.
            eprintln!("Error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("Error: {}", one_line(&e));
            if std::env::var_os("RUST_LIB_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("{}", e.backtrace());
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// The cause chain joined with ": ", each text once: a cause that repeats what an outer
/// message already says (wrappers often quote their source) is left out.
fn one_line(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if cause.is_empty() || text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<()> {
    cli::get::set_global_connect(cli.connect.uri());
    match cli.command {
        Command::Demo(args) => cli::demo::run(&args),
        Command::Start(args) => cli::start::run(args),
        // `nfwd --connect X get ...` means what `nfwd get ... --connect X` does.
        Command::Get(mut args) => {
            args.verbose = cli.verbose;
            args.connect = args
                .connect
                .or_else(|| cli.connect.uri().map(str::to_owned));
            cli::get::run(&args)
        }
        Command::Serve(mut args) => {
            args.connect = args
                .connect
                .or_else(|| cli.connect.uri().map(str::to_owned));
            cli::serve::run(&args)
        }
        Command::Bench(args) => cli::bench::run(args),
        Command::Sf(cmd) => cli::sf::run(cmd),
        Command::Key(cmd) => cli::key::run(cmd),
        Command::Status {
            counters,
            chains,
            json,
            after,
        } => cli::mgmt::run(
            &cli.connect.overridden_by(after),
            cli::mgmt::Mgmt::Status {
                view: if chains {
                    cli::mgmt::StatusView::Chains
                } else if counters {
                    cli::mgmt::StatusView::Counters
                } else {
                    cli::mgmt::StatusView::General
                },
                json,
            },
        ),
        Command::Face(m) => {
            let (c, after) = m.split();
            cli::mgmt::run(&cli.connect.overridden_by(after), cli::mgmt::Mgmt::Face(c))
        }
        Command::Route(m) => {
            let (c, after) = m.split();
            cli::mgmt::run(&cli.connect.overridden_by(after), cli::mgmt::Mgmt::Route(c))
        }
        Command::Strategy(m) => {
            let (c, after) = m.split();
            cli::mgmt::run(
                &cli.connect.overridden_by(after),
                cli::mgmt::Mgmt::Strategy(c),
            )
        }
        Command::Cs(m) => {
            let (c, after) = m.split();
            cli::mgmt::run(&cli.connect.overridden_by(after), cli::mgmt::Mgmt::Cs(c))
        }
        Command::Packet(cmd) => cli::packet::run(*cmd),
        Command::Schedule(cmd) => cli::schedule::run(cmd),
        Command::Topo(cmd) => cli::topo::run(cmd),
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (duplicate or conflicting
    /// options, `global` options shadowed), which it otherwise runs only on the path parsed.
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}

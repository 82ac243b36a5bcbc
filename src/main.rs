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
    #[command(flatten)]
    connect: cli::mgmt::Connect,
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
        #[arg(long)]
        counters: bool,
    },
    /// Faces: list, create, destroy.
    #[command(subcommand)]
    Face(cli::mgmt::FaceCommand),
    /// Routes: list, add, remove.
    #[command(subcommand)]
    Route(cli::mgmt::RouteCommand),
    /// Strategy choices: list, set, unset.
    #[command(subcommand)]
    Strategy(cli::mgmt::StrategyCommand),
    /// Content store: info, erase, config.
    #[command(subcommand)]
    Cs(cli::mgmt::CsCommand),
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
    /// Multi-node testbeds on this machine: up, status, down, exec, check, generate.
    #[command(subcommand)]
    Topo(cli::topo::TopoCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => cli::demo::run(&args),
        Command::Start(args) => cli::start::run(args),
        // `nfwd --connect X get ...` means what `nfwd get ... --connect X` does.
        Command::Get(mut args) => {
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
        Command::Status { counters } => {
            cli::mgmt::run(&cli.connect, cli::mgmt::Mgmt::Status { counters })
        }
        Command::Face(c) => cli::mgmt::run(&cli.connect, cli::mgmt::Mgmt::Face(c)),
        Command::Route(c) => cli::mgmt::run(&cli.connect, cli::mgmt::Mgmt::Route(c)),
        Command::Strategy(c) => cli::mgmt::run(&cli.connect, cli::mgmt::Mgmt::Strategy(c)),
        Command::Cs(c) => cli::mgmt::run(&cli.connect, cli::mgmt::Mgmt::Cs(c)),
        Command::Packet(cmd) => cli::packet::run(*cmd),
        Command::Schedule(cmd) => cli::schedule::run(cmd),
        Command::Topo(cmd) => cli::topo::run(cmd),
    }
}

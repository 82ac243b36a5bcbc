//! `nfwd topo up|status|down|exec|check|generate`: multi-node testbeds on this machine, one
//! network namespace or Docker container per forwarder (`nfwd_topologies`,
//! `topologies/README.md`).

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use nfwd_topologies::Topology;
use nfwd_topologies::generate::{GenerateOptions, generate};
use nfwd_topologies::launch::{self, DEFAULT_STATE_ROOT, State, UpOptions};
use nfwd_topologies::placement::PlacementKind;

#[derive(Debug, Subcommand)]
pub(crate) enum TopoCommand {
    /// Bring a topology up: namespaces, links, daemons, faces, routes, SFs, producers.
    Up(UpArgs),
    /// Each node's faces, routes, SFs and counters.
    Status(WhichArgs),
    /// Take a topology down: every process in its namespaces, the namespaces, the state.
    Down(WhichArgs),
    /// Run a command inside a node, talking to that node's forwarder:
    /// `nfwd topo exec consumer -- nfwd get /rs1/lamp/2256`.
    Exec(ExecArgs),
    /// Run the topology's [[consumer]] fetches and compare with what they expect.
    Check(WhichArgs),
    /// Print a random topology (connected, redundant paths, SFs, a producer and a consumer).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StateDir {
    /// Where testbeds keep their state.
    #[arg(long, default_value = DEFAULT_STATE_ROOT)]
    state_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The topology file (topologies/README.md).
    file: PathBuf,
    /// If the kernel has no netem: go on without delay (bandwidth with tbf, loss with nft)
    /// instead of refusing.
    #[arg(long)]
    best_effort_shaping: bool,
    /// Seconds daemons, SF hosts and producers may take to answer.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// Every node a Docker container (image FROM scratch + a static nfwd), every link a
    /// private Docker network, instead of network namespaces and veth pairs.
    #[arg(long)]
    docker: bool,
    /// The statically linked nfwd for Docker images: the node image (--docker), SF images
    /// (sf_host = "docker" nodes). `scripts/build-static-nfwd.sh` prints its path; default:
    /// this nfwd if static.
    #[arg(long)]
    docker_binary: Option<PathBuf>,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, Args)]
pub(crate) struct WhichArgs {
    /// A topology file or name (default: the only topology up).
    topology: Option<String>,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The topology (a file or a name; default: the only one up).
    #[arg(long)]
    topo: Option<String>,
    /// The node.
    node: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Seed of the random choices (the same seed gives the same file).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Average links per node.
    #[arg(long, default_value_t = 3.0)]
    degree: f64,
    /// The topology's name (default gen<NODES>).
    #[arg(long)]
    name: Option<String>,
}

fn nfwd_binary() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("finding this nfwd binary")
}

pub(crate) fn run(cmd: TopoCommand) -> anyhow::Result<()> {
    match cmd {
        TopoCommand::Up(a) => up(&a),
        TopoCommand::Status(a) => {
            let name = launch::resolve(a.topology.as_deref(), &a.state.state_dir)?;
            let state = State::load(&a.state.state_dir, &name)?;
            print!("{}", launch::status(&state)?);
            Ok(())
        }
        TopoCommand::Down(a) => {
            let name = launch::resolve(a.topology.as_deref(), &a.state.state_dir)?;
            let started = Instant::now();
            let r = launch::down(&name, &a.state.state_dir)?;
            if r.namespaces == 0 && r.containers == 0 && r.networks == 0 && !r.had_state {
                println!("{name}: nothing to take down");
            } else {
                let docker = if r.containers + r.networks > 0 {
                    format!(", {} containers, {} networks", r.containers, r.networks)
                } else {
                    String::new()
                };
                println!(
                    "{name}: down in {:.1} s ({} namespaces, {} processes ended{docker})",
                    started.elapsed().as_secs_f64(),
                    r.namespaces,
                    r.processes
                );
            }
            Ok(())
        }
        TopoCommand::Exec(a) => {
            let name = launch::resolve(a.topo.as_deref(), &a.state.state_dir)?;
            let state = State::load(&a.state.state_dir, &name)?;
            let mut cmd = launch::exec_command(&state, &a.node, &a.command, &nfwd_binary()?)?;
            // Replaces this process: the command's exit status is ours, signals reach it.
            let e = cmd.exec();
            Err(anyhow::Error::new(e).context(format!("running {:?}", a.command)))
        }
        TopoCommand::Check(a) => check(&a),
        TopoCommand::Generate(a) => {
            let t = generate(&GenerateOptions {
                nodes: a.nodes,
                seed: a.seed,
                degree: a.degree,
                name: a.name.unwrap_or_else(|| format!("gen{}", a.nodes)),
            });
            print!("{}", t.to_toml()?);
            Ok(())
        }
    }
}

fn up(a: &UpArgs) -> anyhow::Result<()> {
    let t = Topology::from_file(&a.file)?;
    let started = Instant::now();
    let report = launch::up(
        &t,
        &UpOptions {
            nfwd: nfwd_binary()?,
            source: std::path::absolute(&a.file).unwrap_or_else(|_| a.file.clone()),
            state_root: a.state.state_dir.clone(),
            best_effort_shaping: a.best_effort_shaping,
            timeout: Duration::from_secs(a.timeout_s),
            placement: if a.docker {
                PlacementKind::Docker
            } else {
                PlacementKind::Netns
            },
            docker_binary: a.docker_binary.clone(),
        },
        &mut |step| eprintln!("  {:>6.2} s  {step}", started.elapsed().as_secs_f64()),
    )
    .with_context(|| format!("bringing up {}", a.file.display()))?;
    println!(
        "{} is up in {:.1} s: {} nodes, {} links, {} faces, {} routes, {} SFs, {} producers",
        t.name,
        report.state.up_seconds,
        report.state.nodes.len(),
        report.state.links.len(),
        report.faces,
        report.routes,
        report.sfs,
        report.producers
    );
    println!(
        "  nfwd topo status {0} | nfwd topo exec --topo {0} NODE -- CMD | nfwd topo down {0}",
        t.name
    );
    Ok(())
}

fn check(a: &WhichArgs) -> anyhow::Result<()> {
    let name = launch::resolve(a.topology.as_deref(), &a.state.state_dir)?;
    let state = State::load(&a.state.state_dir, &name)?;
    let t = Topology::from_file(&a.state.state_dir.join(&name).join("topology.toml"))?;
    let results = launch::check(&state, &t, &nfwd_binary()?)?;
    let mut failed = 0;
    for r in &results {
        let verdict = match (&r.outcome, r.as_expected) {
            (Ok(_), true) => "ok",
            (Ok(_), false) => "UNEXPECTED",
            (Err(_), _) => "FAILED",
        };
        if verdict != "ok" {
            failed += 1;
        }
        let detail = match &r.outcome {
            Ok(content) => format!("{content:?}"),
            Err(e) => e.clone(),
        };
        println!(
            "{verdict:<10} {:<10} {} ({:.2} s): {detail}",
            r.node, r.what, r.seconds
        );
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} consumers failed", results.len());
    }
    println!("{} consumers ok", results.len());
    Ok(())
}

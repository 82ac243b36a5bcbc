//! `nfwd topo up|status|down|exec|check|apply|run|link|kill|restart|generate`: multi-node testbeds on
//! this machine, one network namespace or Docker container per forwarder (`nfwd_topologies`,
//! `topologies/README.md`).

use crate::cli::output::{out, outln};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use nfwd_topologies::Topology;
use nfwd_topologies::apply::{self as plan_apply, Applied, ApplyOptions};
use nfwd_topologies::faults::{self, LinkAction};
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
    /// Apply a scheduler's plan (`nfwd schedule plan --out`) to a running topology: deploy
    /// its SFs, install its function routes, remove what the previous plan had that this one
    /// does not.
    Apply(ApplyArgs),
    /// Schedule a workflow on the topology's nodes with each algorithm, apply each plan, run
    /// the workflow's chained Interests and print measured beside predicted response times.
    Run(RunArgs),
    /// Cut or restore the link between two nodes: `nfwd topo link f2 f1 down` (both veth
    /// ends down or up); routes are recomputed on the live links.
    Link(LinkArgs),
    /// Crash a node: SIGKILL its daemon and every process in its namespace; the other nodes'
    /// routes are recomputed around it.
    Kill(KillArgs),
    /// Bring a killed node back as `up` made it: daemon, faces, SFs, producers; routes
    /// recomputed with it.
    Restart(KillArgs),
    /// Print a random topology (connected, redundant paths, SFs, a producer and a consumer).
    Generate(GenerateArgs),
    /// The userspace delay line `up` starts where the kernel has no netem (internal).
    #[command(hide = true)]
    LinkEmulator(LinkEmulatorArgs),
    /// Route around nodes whose daemon dies by itself, until the testbed is taken down
    /// (`up` starts one in the background unless --no-watch; its log is `watch.log` in the
    /// testbed's state directory).
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The topology (a file or a name; the only one up if omitted).
    topology: Option<String>,
    /// How often to look at the daemons, milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    interval_ms: u64,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, Args)]
pub(crate) struct LinkEmulatorArgs {
    /// The emulator's spec, written by `up` into the testbed's state directory.
    spec: PathBuf,
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
    /// If the kernel has no netem and the placement no userspace delay line (`--docker`):
    /// go on without delay (bandwidth with tbf, loss with nft) instead of refusing.
    /// Namespace testbeds delay links with the delay line and need no flag.
    #[arg(long)]
    best_effort_shaping: bool,
    /// Start no watcher: a daemon that dies by itself is then routed around only at the
    /// next `link`, `kill` or `restart`.
    #[arg(long)]
    no_watch: bool,
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
pub(crate) struct ApplyArgs {
    /// The plan file.
    plan: PathBuf,
    /// The topology (a file or a name; default: the only one up).
    #[arg(long)]
    topo: Option<String>,
    /// Seconds SF hosts may take to deploy and register.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// Seconds an SF being removed may take to answer the requests it is working on.
    #[arg(long, default_value_t = 10)]
    drain_s: u64,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The workflow file (scheduler format, e.g. from `nfwd schedule example`).
    workflow: PathBuf,
    /// The topology (a file or a name; default: the only one up). It needs a [scheduler]
    /// section and a [[consumer]].
    #[arg(long)]
    topo: Option<String>,
    /// Algorithms to run, in order (default: all six).
    #[arg(long = "algorithm", value_delimiter = ',')]
    algorithms: Vec<String>,
    /// Wall-clock seconds per model second: each task works `(finish - start) * scale`.
    #[arg(long, default_value_t = 0.01)]
    time_scale: f64,
    /// Seconds one run's answers (and an apply's SF hosts) may take.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    /// Seconds an SF being removed may take to answer what it is working on.
    #[arg(long, default_value_t = 10)]
    drain_s: u64,
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

#[derive(Debug, Args)]
pub(crate) struct LinkArgs {
    /// The topology (a file or a name; default: the only one up).
    #[arg(long)]
    topo: Option<String>,
    /// One end of the link.
    a: String,
    /// The other end.
    b: String,
    /// `down` (cut) or `up` (restore).
    action: LinkAction,
    /// Seconds the nodes may take to answer the route changes.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
    #[command(flatten)]
    state: StateDir,
}

#[derive(Debug, Args)]
pub(crate) struct KillArgs {
    /// The topology (a file or a name; default: the only one up).
    #[arg(long)]
    topo: Option<String>,
    /// The node.
    node: String,
    /// Seconds the nodes (the restarted one: its daemon, SF host and producers) may take to
    /// answer.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    #[command(flatten)]
    state: StateDir,
}

pub(crate) fn run(cmd: TopoCommand) -> anyhow::Result<()> {
    match cmd {
        TopoCommand::Up(a) => up(&a),
        TopoCommand::Status(a) => {
            let name = launch::resolve(a.topology.as_deref(), &a.state.state_dir)?;
            let state = State::load(&a.state.state_dir, &name)?;
            out!("{}", launch::status(&state)?);
            if let Some(applied) = Applied::load(&a.state.state_dir, &name)? {
                out!("{}", applied.describe());
            }
            Ok(())
        }
        TopoCommand::Down(a) => {
            let name = launch::resolve(a.topology.as_deref(), &a.state.state_dir)?;
            let started = Instant::now();
            let r = launch::down(&name, &a.state.state_dir)?;
            if r.namespaces == 0 && r.containers == 0 && r.networks == 0 && !r.had_state {
                outln!("{name}: nothing to take down");
            } else {
                let docker = if r.containers + r.networks > 0 {
                    format!(", {} containers, {} networks", r.containers, r.networks)
                } else {
                    String::new()
                };
                outln!(
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
        TopoCommand::Apply(a) => apply(&a),
        TopoCommand::Run(a) => run_workflow(&a),
        TopoCommand::Link(a) => {
            let name = launch::resolve(a.topo.as_deref(), &a.state.state_dir)?;
            let started = Instant::now();
            let (l, routes) = faults::link_fault(
                &a.state.state_dir,
                &name,
                &a.a,
                &a.b,
                a.action,
                Duration::from_secs(a.timeout_s),
                &mut progress(started),
            )?;
            outln!(
                "{name}: link {}-{} ({}) {}; {}",
                l.a,
                l.b,
                l.interface,
                a.action.as_str(),
                rerouted(&routes)
            );
            Ok(())
        }
        TopoCommand::Kill(a) => {
            let name = launch::resolve(a.topo.as_deref(), &a.state.state_dir)?;
            let started = Instant::now();
            let (r, routes) = faults::kill_node(
                &a.state.state_dir,
                &name,
                &a.node,
                Duration::from_secs(5),
                Duration::from_secs(a.timeout_s),
                &mut progress(started),
            )?;
            outln!(
                "{name}: {} killed ({} processes{}); {}",
                a.node,
                r.processes,
                if r.daemon_was_alive {
                    ""
                } else {
                    "; its daemon was not running"
                },
                rerouted(&routes)
            );
            Ok(())
        }
        TopoCommand::Restart(a) => {
            let name = launch::resolve(a.topo.as_deref(), &a.state.state_dir)?;
            let started = Instant::now();
            let r = faults::restart(
                &a.state.state_dir,
                &name,
                &a.node,
                Duration::from_secs(a.timeout_s),
                &mut progress(started),
            )
            .with_context(|| format!("restarting {} of {name}", a.node))?;
            outln!(
                "{name}: {} restarted in {:.1} s (pid {}, {} faces, {} SFs, {} producers{}); {}",
                a.node,
                started.elapsed().as_secs_f64(),
                r.daemon_pid,
                r.faces,
                r.sfs,
                r.producers,
                if r.skipped_cut_links.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; no faces over the cut links {} until restored",
                        r.skipped_cut_links.join(", ")
                    )
                },
                rerouted(&r.routes)
            );
            Ok(())
        }
        TopoCommand::Generate(a) => {
            let t = generate(&GenerateOptions {
                nodes: a.nodes,
                seed: a.seed,
                degree: a.degree,
                name: a.name.unwrap_or_else(|| format!("gen{}", a.nodes)),
            });
            out!("{}", t.to_toml()?);
            Ok(())
        }
        TopoCommand::LinkEmulator(a) => Ok(nfwd_topologies::linkemu::run(&a.spec)?),
        TopoCommand::Watch(a) => {
            let name = launch::resolve(a.topology.as_deref(), &a.state.state_dir)?;
            let started = Instant::now();
            nfwd_topologies::watch::watch(
                &a.state.state_dir,
                &name,
                Duration::from_millis(a.interval_ms),
                &mut progress(started),
            )?;
            Ok(())
        }
    }
}

/// Steps on stderr, timed from `started`.
fn progress(started: Instant) -> impl FnMut(&str) {
    move |step| eprintln!("  {:>6.2} s  {step}", started.elapsed().as_secs_f64())
}

/// A reroute in words, with the destinations left unreachable.
fn rerouted(r: &nfwd_topologies::reroute::RerouteReport) -> String {
    let mut s = format!(
        "routes recomputed: +{} -{} on {} nodes",
        r.registered, r.unregistered, r.nodes
    );
    if r.plan_registered + r.plan_unregistered > 0 {
        s.push_str(&format!(
            " (and the applied plan's towards the nearest instance: +{} -{})",
            r.plan_registered, r.plan_unregistered
        ));
    }
    for (prefix, node) in &r.unreachable {
        s.push_str(&format!("\n  {node} has no path to {prefix}"));
    }
    s
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
            watch: !a.no_watch,
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
    outln!(
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
    outln!(
        "  nfwd topo status {0} | nfwd topo exec --topo {0} NODE -- CMD | nfwd topo down {0}",
        t.name
    );
    Ok(())
}

fn apply(a: &ApplyArgs) -> anyhow::Result<()> {
    let name = launch::resolve(a.topo.as_deref(), &a.state.state_dir)?;
    let plan = plan_apply::read_plan(&a.plan)?;
    let started = Instant::now();
    let change = plan_apply::apply(
        &name,
        &plan,
        &ApplyOptions {
            state_root: a.state.state_dir.clone(),
            source: std::path::absolute(&a.plan).unwrap_or_else(|_| a.plan.clone()),
            timeout: Duration::from_secs(a.timeout_s),
            drain: Duration::from_secs(a.drain_s),
        },
        &mut |step| eprintln!("  {:>6.2} s  {step}", started.elapsed().as_secs_f64()),
    )
    .with_context(|| format!("applying {} to {name}", a.plan.display()))?;
    if change.is_empty() {
        outln!(
            "{name}: plan {} already applied, nothing changed",
            plan.algorithm
        );
    } else {
        outln!(
            "{name}: plan {} (predicted response {:.3} s) applied in {:.2} s: +{} SFs, +{} routes, -{} routes, -{} SFs",
            plan.algorithm,
            plan.makespan,
            started.elapsed().as_secs_f64(),
            change.deploy.len(),
            change.register.len(),
            change.unregister.len(),
            change.undeploy.len()
        );
    }
    Ok(())
}

fn run_workflow(a: &RunArgs) -> anyhow::Result<()> {
    let name = launch::resolve(a.topo.as_deref(), &a.state.state_dir)?;
    let workflow = nfwd_topologies::run::read_workflow(&a.workflow)?;
    let algorithms = nfwd_topologies::run::algorithms(&a.algorithms)?;
    let started = Instant::now();
    let results = nfwd_topologies::run::run(
        &name,
        &workflow,
        &nfwd_topologies::run::RunOptions {
            state_root: a.state.state_dir.clone(),
            algorithms,
            time_scale: a.time_scale,
            timeout: Duration::from_secs(a.timeout_s),
            drain: Duration::from_secs(a.drain_s),
        },
        &mut |step| eprintln!("  {:>6.2} s  {step}", started.elapsed().as_secs_f64()),
    )
    .with_context(|| format!("running {} on {name}", a.workflow.display()))?;
    out!("{}", nfwd_topologies::run::table(&results, a.time_scale));
    let failed: Vec<String> = results
        .iter()
        .flat_map(|r| r.failures.iter().map(|f| format!("{}: {f}", r.algorithm)))
        .collect();
    for f in &failed {
        outln!("failed: {f}");
    }
    anyhow::ensure!(failed.is_empty(), "{} chains failed", failed.len());
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
        outln!(
            "{verdict:<10} {:<10} {} ({:.2} s): {detail}",
            r.node,
            r.what,
            r.seconds
        );
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} consumers failed", results.len());
    }
    outln!("{} consumers ok", results.len());
    Ok(())
}

//! `nfwd sf deploy|undeploy|list|logs|stats`: manage the SF host of a forwarder (started with
//! `nfwd start --sf-host`) through its management prefixes `/localhost/nfwd/sf` and, for exec
//! SFs, `/localhost/nfwd/sf-exec` (`docs/sf-host.md`). The forwarder authorizes each request
//! (privileges `sf` and `sf-exec`, `docs/security.md`); a refusal is printed with its status
//! and the command exits non-zero.

use crate::cli::output::{out, outln, printable, with_status_line};
use std::collections::{HashMap, HashSet};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use nfwd_forwarder::client::Client;
use nfwd_sf_host::host::{HostOptions, SfHost, protocol};
use nfwd_sf_host::spec::SfSpec;
use nfwd_tlv::nfd::ControlResponse;
use tokio::sync::Notify;

/// Where to reach the forwarder.
#[derive(Debug, Args)]
pub(crate) struct HostConnect {
    /// Forwarder whose SF host to manage: unix:///path or tcp4://host:port (default:
    /// NDN_CLIENT_TRANSPORT, then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock).
    #[arg(long)]
    connect: Option<String>,
    /// Sign commands with this key (`nfwd key generate`; docs/security.md).
    #[arg(long, env = "NFWD_KEY")]
    key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The SF specification (TOML; see docs/sf-host.md).
    spec: PathBuf,
    #[command(flatten)]
    connect: HostConnect,
}

#[derive(Debug, Args)]
pub(crate) struct UndeployArgs {
    /// Function name of the SF, e.g. /sf/upper.
    name: String,
    #[command(flatten)]
    connect: HostConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Print the JSON dataset as received.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: HostConnect,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Function name of the SF.
    name: String,
    /// Instance number (see `nfwd sf list`). Default: the first running one.
    #[arg(long)]
    instance: Option<u32>,
    #[command(flatten)]
    connect: HostConnect,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Only this SF.
    name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: HostConnect,
}

#[derive(Debug, Args)]
pub(crate) struct ProvisionArgs {
    /// The package: <prefix>/sf-package/<function>[/v=<version>] (a version makes every
    /// node pull the same one).
    package: String,
    /// The nodes' forwarders, each unix:///path or tcp4://IP:PORT (comma-separated, or the
    /// option repeated). Each SF host pulls the package into its cache.
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    nodes: Vec<String>,
    /// Sign the commands with this key (`nfwd key generate`; docs/security.md).
    #[arg(long, env = "NFWD_KEY")]
    key: Option<PathBuf>,
    /// Print JSON: one object per node (node, ok, ms, message) and the total.
    #[arg(long)]
    json: bool,
    /// Draw the progress line even when stderr is not a terminal.
    #[arg(long)]
    progress: bool,
}

/// Nodes asked at once by `nfwd sf provision` (each costs a connection).
const PROVISION_PARALLEL: usize = 64;

/// How far each node's pull got: bytes and total, in MiB as the host reports them.
#[derive(Debug, Default)]
struct FleetProgress {
    nodes: usize,
    /// Nodes whose pull command answered (well or not).
    finished: HashSet<usize>,
    /// Per node: (MiB pulled, MiB in all), from the host's `progress` dataset.
    pulled: HashMap<usize, (f64, f64)>,
}

impl FleetProgress {
    /// `provisioning: 37 of 100 nodes done, 12 pulling: 41.3/2000.0 MiB, 9.8 MiB/s, ETA 200 s`
    /// (MiB over every node: those done count whole).
    fn line(&self, elapsed: Duration) -> String {
        let total = self.pulled.values().map(|(_, t)| *t).fold(0.0, f64::max);
        let pulled: f64 = self.pulled.values().map(|(b, _)| *b).sum();
        let all = total * self.nodes as f64;
        // A node that failed left `pulled`; one that finished stays in it, counted whole.
        let pulling = self
            .pulled
            .keys()
            .filter(|i| !self.finished.contains(i))
            .count();
        let mut line = format!(
            "provisioning: {} of {} nodes done, {pulling} pulling",
            self.finished.len(),
            self.nodes
        );
        if total > 0.0 {
            let rate = pulled / elapsed.as_secs_f64().max(1e-3);
            line.push_str(&format!(": {pulled:.1}/{all:.1} MiB, {rate:.1} MiB/s"));
            if rate > 0.0 {
                line.push_str(&format!(", ETA {:.0} s", (all - pulled).max(0.0) / rate));
            }
        }
        line
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `(pulled, total)` MiB from an SF host's pull phase `pulling its package: 3.1/20.0 MiB, ...`.
fn pull_phase_mib(phase: &str) -> Option<(f64, f64)> {
    let rest = phase.strip_prefix("pulling its package: ")?;
    let (fraction, _) = rest.split_once(" MiB")?;
    let (pulled, total) = fraction.split_once('/')?;
    Some((pulled.parse().ok()?, total.parse().ok()?))
}

#[derive(Debug)]
struct Provisioned {
    node: String,
    ok: bool,
    ms: u64,
    message: String,
}

pub(crate) fn provision(a: &ProvisionArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let fleet = Arc::new(Mutex::new(FleetProgress {
        nodes: a.nodes.len(),
        ..FleetProgress::default()
    }));
    let show_progress = !a.json && (a.progress || std::io::stderr().is_terminal());
    let results: Vec<Provisioned> = rt.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(PROVISION_PARALLEL));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, node) in a.nodes.iter().enumerate() {
            let (node, package, key) = (node.clone(), a.package.clone(), a.key.clone());
            let permits = Arc::clone(&permits);
            let fleet = Arc::clone(&fleet);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let t0 = Instant::now();
                let result: anyhow::Result<ControlResponse> = async {
                    let client = super::get::connect(Some(&node)).await?;
                    super::key::use_key(&client, key.as_deref())?;
                    // While the pull runs, its progress as the host reports it.
                    let poll = tokio::spawn({
                        let (client, package, fleet) =
                            (client.clone(), package.clone(), Arc::clone(&fleet));
                        async move {
                            let mut tick = tokio::time::interval(Duration::from_millis(500));
                            loop {
                                tick.tick().await;
                                let Ok(all) = protocol::progress(&client).await else {
                                    continue;
                                };
                                if let Some(mib) =
                                    all.get(&package).and_then(|p| pull_phase_mib(&p.phase))
                                {
                                    lock(&fleet).pulled.insert(i, mib);
                                }
                            }
                        }
                    });
                    let answer = protocol::command_on(
                        &client,
                        protocol::Service::Sf,
                        "pull",
                        Bytes::from(package),
                    )
                    .await;
                    poll.abort();
                    Ok(answer?)
                }
                .await;
                {
                    let mut f = lock(&fleet);
                    f.finished.insert(i);
                    // A node that has it counts whole; one that failed counts as nothing.
                    match (&result, f.pulled.get(&i).copied()) {
                        (Ok(r), Some((_, total))) if r.is_ok() => {
                            f.pulled.insert(i, (total, total));
                        }
                        (Ok(r), None) if r.is_ok() => {}
                        _ => {
                            f.pulled.remove(&i);
                        }
                    }
                }
                let ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
                let (ok, message) = match result {
                    Ok(r) if r.is_ok() => (true, r.status_text.to_string()),
                    Ok(r) => (
                        false,
                        format!("refused ({}): {}", r.status_code, r.status_text),
                    ),
                    Err(e) => (false, format!("{e:#}")),
                };
                (
                    i,
                    Provisioned {
                        node,
                        ok,
                        ms,
                        message,
                    },
                )
            });
        }
        let collect = async {
            let mut out = Vec::new();
            while let Some(r) = tasks.join_next().await {
                if let Ok(r) = r {
                    out.push(r);
                }
            }
            out
        };
        let mut out = if show_progress {
            with_status_line(collect, Duration::from_secs(1), |elapsed| {
                lock(&fleet).line(elapsed)
            })
            .await
        } else {
            collect.await
        };
        // In the order given.
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, p)| p).collect()
    });
    let total_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let ok = results.iter().filter(|r| r.ok).count();
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "package": a.package,
                "nodes": results
                    .iter()
                    .map(|r| serde_json::json!({
                        "node": r.node, "ok": r.ok, "ms": r.ms, "message": r.message
                    }))
                    .collect::<Vec<_>>(),
                "ok": ok,
                "ms": total_ms
            })
        );
    } else {
        for r in &results {
            outln!(
                "{}: {} ({} ms)",
                printable(&r.node),
                printable(&r.message),
                r.ms
            );
        }
        outln!(
            "provisioned {} on {ok} of {} nodes in {total_ms} ms",
            printable(&a.package),
            a.nodes.len()
        );
    }
    if ok < a.nodes.len() {
        anyhow::bail!(
            "{} of {} nodes did not get the package",
            a.nodes.len() - ok,
            a.nodes.len()
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct PackagesArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: HostConnect,
}

fn with_client<T>(
    connect: &HostConnect,
    f: impl AsyncFnOnce(Client) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = super::get::connect(connect.connect.as_deref()).await?;
        super::key::use_key(&client, connect.key.as_deref())?;
        f(client).await
    })
}

/// Prints a command's answer; a refusal (the host's, or the forwarder's 403 when the user
/// lacks the privilege) is an error: `deploy refused (403): uid 1001 is not authorized ...`.
fn answer(verb: &str, resp: Result<ControlResponse, nfwd_sf_host::Error>) -> anyhow::Result<()> {
    let resp = resp.with_context(|| {
        format!("{verb}: no answer from the SF host (is it running: nfwd start --sf-host?)")
    })?;
    if resp.is_ok() {
        outln!("{}", resp.status_text);
        Ok(())
    } else {
        anyhow::bail!(
            "{verb} refused ({}): {}",
            resp.status_code,
            resp.status_text
        )
    }
}

/// A dataset's error: a refusal as it is, anything else with what was asked.
fn dataset_error(what: &'static str) -> impl FnOnce(nfwd_sf_host::Error) -> anyhow::Error {
    move |e| match e {
        e @ nfwd_sf_host::Error::Refused { .. } => anyhow::anyhow!(e),
        e => anyhow::Error::new(e).context(format!(
            "{what}: no answer from the SF host (is it running: nfwd start --sf-host?)"
        )),
    }
}

pub(crate) fn deploy(a: &DeployArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.spec)
        .with_context(|| format!("reading {}", a.spec.display()))?;
    // Checked here too, for an error message naming the file.
    SfSpec::from_toml(&text).with_context(|| format!("{}", a.spec.display()))?;
    // Under /localhost/nfwd/sf-exec for an exec artifact (privilege sf-exec), else
    // /localhost/nfwd/sf.
    let name = SfSpec::from_toml(&text).map(|s| s.name).unwrap_or_default();
    // Building an SF's image takes seconds (minutes for a large one): say so on a terminal.
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    with_client(&a.connect, async |c| {
        let deploying = protocol::deploy(&c, &text);
        let answered = if show {
            // The host's `progress` dataset, read every half second while the deploy runs,
            // names the step (the image build's included).
            let phase = Arc::new(Mutex::new(None::<String>));
            let poll = tokio::spawn(poll_progress(c.clone(), name.clone(), phase.clone()));
            let answered = with_status_line(deploying, Duration::from_secs(1), |elapsed| {
                let phase = phase.lock().unwrap_or_else(PoisonError::into_inner).clone();
                deploy_line(&name, elapsed, phase.as_deref())
            })
            .await;
            poll.abort();
            answered
        } else {
            deploying.await
        };
        answer("deploy", answered)
    })
}

/// Keeps `phase` set to what the SF host says `name`'s deploy is doing (until aborted).
async fn poll_progress(client: Client, name: String, phase: Arc<Mutex<Option<String>>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        // A host that does not answer (an older one) leaves the line as it was.
        if let Ok(all) = protocol::progress(&client).await {
            let now = all.get(&name).map(|p| p.phase.clone());
            *phase.lock().unwrap_or_else(PoisonError::into_inner) = now;
        }
    }
}

/// `deploying /sf/upper: 12 s, building its image: step 2/4, COPY nfwd /nfwd` (without a
/// phase: `… 12 s (the SF host builds its image the first time)`).
fn deploy_line(name: &str, elapsed: Duration, phase: Option<&str>) -> String {
    match phase {
        Some(p) => format!(
            "deploying {}: {} s, {}",
            printable(name),
            elapsed.as_secs(),
            printable(p)
        ),
        None => format!(
            "deploying {}: {} s (the SF host builds its image the first time)",
            printable(name),
            elapsed.as_secs()
        ),
    }
}

pub(crate) fn undeploy(a: &UndeployArgs) -> anyhow::Result<()> {
    let name = a.name.clone();
    with_client(&a.connect, async |c| {
        answer(
            "undeploy",
            protocol::command(&c, "undeploy", Bytes::from(name)).await,
        )
    })
}

pub(crate) fn list(a: &ListArgs) -> anyhow::Result<()> {
    let json = a.json;
    with_client(&a.connect, async |c| {
        let sfs = protocol::list(&c).await.map_err(dataset_error("list"))?;
        if json {
            outln!("{}", protocol::to_json_pretty(&sfs));
            return Ok(());
        }
        // The instance id is a process id or a container id, shortened to the 12 hex digits
        // `docker ps` shows; the header names the kinds present.
        let docker = sfs.iter().any(|s| s.backend == "docker");
        let process = sfs.iter().any(|s| s.backend != "docker");
        let id_kind = match (process, docker) {
            (true, true) => "pid|container",
            (false, true) => "container",
            _ => "pid",
        };
        outln!(
            "{:<24} {:<8} {:<10} {:>9}  INSTANCES (index:{id_kind}@face)",
            "NAME",
            "BACKEND",
            "STATE",
            "MIN/MAX"
        );
        for s in &sfs {
            let inst: Vec<String> = s
                .instances
                .iter()
                .map(|i| {
                    let id = if s.backend == "docker" {
                        i.id.get(..12).unwrap_or(&i.id)
                    } else {
                        &i.id
                    };
                    format!(
                        "{}:{id}@{}",
                        i.index,
                        i.face.map_or_else(|| "-".into(), |f| f.to_string())
                    )
                })
                .collect();
            outln!(
                "{:<24} {:<8} {:<10} {:>9}  {}",
                s.name,
                s.backend,
                s.state,
                format!("{}/{}", s.min, s.max),
                inst.join(" ")
            );
        }
        Ok(())
    })
}

pub(crate) fn logs(a: &LogsArgs) -> anyhow::Result<()> {
    let name = a.name.clone();
    let instance = a.instance;
    with_client(&a.connect, async |c| {
        let index = match instance {
            Some(i) => i,
            None => protocol::list(&c)
                .await
                .map_err(dataset_error("list"))?
                .into_iter()
                .find(|s| s.name == name)
                .and_then(|s| s.instances.first().map(|i| i.index))
                .with_context(|| format!("{name}: no running instance"))?,
        };
        let text = protocol::logs(&c, &name, index)
            .await
            .map_err(dataset_error("logs"))?;
        // The host answers a logs request it cannot serve (no such SF or instance) with one
        // line starting "error: " (docs/sf-host.md): a failure, not logs to print.
        if let Some(why) = text.strip_prefix("error: ") {
            anyhow::bail!("logs of {name} instance {index}: {}", why.trim_end());
        }
        out!("{text}");
        Ok(())
    })
}

pub(crate) fn packages(a: &PackagesArgs) -> anyhow::Result<()> {
    let json = a.json;
    with_client(&a.connect, async |c| {
        let status = protocol::packages(&c)
            .await
            .map_err(dataset_error("packages"))?;
        if json {
            outln!("{}", protocol::to_json_pretty(&status));
            return Ok(());
        }
        let Some(s) = status else {
            outln!(
                "no package sources: this SF host pulls no packages \
                 (nfwd start --sf-package-source PREFIX=CERT)"
            );
            return Ok(());
        };
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        outln!(
            "cache {}: {:.1} of {:.1} MiB used, {:.1} MiB reserved",
            printable(&s.dir),
            mib(s.used_bytes),
            mib(s.max_bytes),
            mib(s.reserved_bytes)
        );
        for src in &s.sources {
            outln!("source {}", printable(src));
        }
        for p in &s.packages {
            outln!(
                "  {}  {} version {}  {} bytes  used by {}",
                printable(&p.package),
                printable(&p.function),
                printable(&p.version),
                p.size,
                p.pins
            );
        }
        for f in &s.fetching {
            outln!("  {}  (being pulled)", printable(f));
        }
        let k = &s.counters;
        outln!(
            "hits {}  fetches {}  joined {}  installed {}  refused {} (again {})  timeouts {}  \
             failed {}  evictions {}  anchor changed {}  fetched {} bytes in {} segments",
            k.hits,
            k.fetches,
            k.joined,
            k.installed,
            k.refused,
            k.refused_again,
            k.timeouts,
            k.failed,
            k.evictions,
            k.anchor_changed,
            k.fetched_bytes,
            k.fetched_segments
        );
        Ok(())
    })
}

pub(crate) fn stats(a: &StatsArgs) -> anyhow::Result<()> {
    let only = a.name.clone();
    let json = a.json;
    with_client(&a.connect, async |c| {
        let mut all = protocol::stats(&c).await.map_err(dataset_error("stats"))?;
        if let Some(n) = &only {
            all.retain(|s| &s.name == n);
            if all.is_empty() {
                anyhow::bail!("{n} is not deployed");
            }
        }
        if json {
            outln!("{}", protocol::to_json_pretty(&all));
            return Ok(());
        }
        for s in &all {
            outln!("{}", s.name);
            outln!(
                "  instances {}  starts {}  cold starts {} (last {} ms to ready, {} ms to result)",
                s.instances,
                s.starts,
                s.cold_starts,
                s.last_cold_start_ms
                    .map_or_else(|| "-".into(), |v| v.to_string()),
                s.last_cold_start_to_result_ms
                    .map_or_else(|| "-".into(), |v| v.to_string()),
            );
            outln!(
                "  requests {}  answers {}  nacks {}  held {} (failed {})",
                s.requests,
                s.answers,
                s.nacks,
                s.held,
                s.held_failed
            );
            outln!(
                "  crashes {}  restarts {}  idle stops {}  scale-outs {}",
                s.crashes,
                s.restarts,
                s.idle_stops,
                s.scale_outs
            );
            let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
            outln!(
                "  errors {}  latency p50 {} ms  p99 {} ms",
                s.errors,
                opt(s.latency_p50_ms),
                opt(s.latency_p99_ms)
            );
        }
        Ok(())
    })
}

/// `nfwd start --sf-host`: runs the SF host next to the daemon, connected to its Unix socket;
/// opens the daemon to other clients once it serves (`opener`); deploys every `*.toml` of `specs`; at `stop`,
/// undeploys everything (stopping the instances) before the daemon exits.
pub(crate) async fn run_in_daemon(
    socket: PathBuf,
    options: HostOptions,
    specs: Option<PathBuf>,
    opener: nfwd_forwarder::driver::Opener,
    stop: Arc<Notify>,
) {
    let uri = format!("unix://{}", socket.display());
    // The daemon binds its socket as it starts; poll for it with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    let started = loop {
        match SfHost::start(&uri, options.clone()).await {
            Ok(h) => break Some(h),
            // Only connecting is worth retrying.
            Err(
                e @ (nfwd_sf_host::Error::Config(_)
                | nfwd_sf_host::Error::Spec(_)
                | nfwd_sf_host::Error::Refused { .. }),
            ) => {
                tracing::error!("sf host: {e}");
                break None;
            }
            Err(e) if Instant::now() >= deadline => {
                tracing::error!("sf host: cannot connect to {uri}: {e}");
                break None;
            }
            Err(_) => {
                tokio::select! {
                    () = stop.notified() => break None,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    };
    // Serving, or given up: either way other clients come in now (the watchdog's clone of
    // the opener must not keep them waiting).
    opener.open();
    let Some(host) = started else {
        return;
    };
    tracing::info!("sf host: serving {} on {uri}", protocol::PREFIX);
    if let Some(dir) = specs {
        deploy_dir(&host, &dir).await;
    }
    tokio::select! {
        () = stop.notified() => {}
        () = host.closed() => tracing::warn!("sf host: the forwarder closed the connection"),
    }
    host.shutdown().await;
}

async fn deploy_dir(host: &nfwd_sf_host::host::RunningHost, dir: &Path) {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            tracing::error!("sf host: reading {}: {e}", dir.display());
            return;
        }
    };
    files.sort();
    for f in files {
        let result = match std::fs::read_to_string(&f) {
            Ok(text) => match SfSpec::from_toml(&text) {
                Ok(spec) => host.deploy(spec).await.map_err(anyhow::Error::from),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(()) => tracing::info!("sf host: deployed {}", f.display()),
            Err(e) => tracing::error!("sf host: {}: {e:#}", f.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deploy_line_names_the_sf_and_the_time_and_escapes_the_name() {
        assert_eq!(
            deploy_line("/sf/upper", Duration::from_millis(12_400), None),
            "deploying /sf/upper: 12 s (the SF host builds its image the first time)"
        );
        assert_eq!(
            deploy_line(
                "/sf/upper",
                Duration::from_secs(3),
                Some("building its image: step 2/4, COPY nfwd /nfwd")
            ),
            "deploying /sf/upper: 3 s, building its image: step 2/4, COPY nfwd /nfwd"
        );
        assert!(!deploy_line("/sf/\x1b[2J", Duration::ZERO, None).contains('\x1b'));
        assert!(!deploy_line("/sf/a", Duration::ZERO, Some("\x1b[2J")).contains('\x1b'));
    }

    #[test]
    fn the_provisioning_line_sums_the_nodes_pulls() {
        assert_eq!(
            pull_phase_mib("pulling its package: 3.5/20.0 MiB, window 32"),
            Some((3.5, 20.0))
        );
        assert_eq!(pull_phase_mib("pulling its package: the manifest"), None);
        assert_eq!(pull_phase_mib("building its image: step 2/4"), None);
        let mut f = FleetProgress {
            nodes: 4,
            ..FleetProgress::default()
        };
        // Nothing known yet: no sizes, no division by zero.
        assert_eq!(
            f.line(Duration::ZERO),
            "provisioning: 0 of 4 nodes done, 0 pulling"
        );
        // One node done (counted whole), two half way: 40 of 80 MiB in 4 s.
        f.finished.insert(0);
        f.pulled.insert(0, (20.0, 20.0));
        f.pulled.insert(1, (10.0, 20.0));
        f.pulled.insert(2, (10.0, 20.0));
        assert_eq!(
            f.line(Duration::from_secs(4)),
            "provisioning: 1 of 4 nodes done, 2 pulling: 40.0/80.0 MiB, 10.0 MiB/s, ETA 4 s"
        );
        // Node 1's pull fails: done, no longer pulling, its bytes no longer counted; node 2
        // is still pulling.
        f.finished.insert(1);
        f.pulled.remove(&1);
        assert_eq!(
            f.line(Duration::from_secs(4)),
            "provisioning: 2 of 4 nodes done, 1 pulling: 30.0/80.0 MiB, 7.5 MiB/s, ETA 7 s"
        );
    }
}

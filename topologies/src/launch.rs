//! The launcher: `up`, `status`, `down`, `exec`, `check` of a topology on this machine.
//!
//! Each node is `nfwd start` in a network namespace of its own (`nfwd.<topology>.<node>`) or
//! a Docker container — where is a [`Placement`] — with its own configuration, Unix socket
//! and logs under `<state root>/<topology>/<node>/`; links are veth pairs or private Docker
//! networks, so faces between forwarders are non-local (scope and HopLimit apply as between
//! machines). Everything, the placement included, is recorded in
//! `<state root>/<topology>/state.toml`, so that `status`, `exec` and `down` work from any
//! shell, and `down` finds what to remove even without it (by name and label).
//!
//! Management goes through each node's Unix socket with the client library, as `nfwd face
//! create`, `nfwd route add` and `nfwd sf deploy` do — the socket is a file, reachable from
//! the launcher's namespace; the forwarder authorizes the launcher as root by its peer
//! credentials (`docs/security.md`).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nfwd_forwarder::client::{Client, FetchOptions};
use nfwd_tlv::Name;
use nfwd_tlv::nfd::{
    ControlParameters, DatasetEntry, FaceStatus, FibEntry, ForwarderStatus, RibEntry, Text,
    decode_all,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linkemu;
use crate::model::{FaceProtocol, SfBackend, Topology, node_config_with};
use crate::net::{self, Shaper};
use crate::placement::{Cleared, NodeSpec, Placement, PlacementKind};
use crate::routes;

pub use crate::placement::netns_name;

/// Where testbeds keep their state by default.
pub const DEFAULT_STATE_ROOT: &str = "/run/nfwd-topo";

/// What `up` made, for `status`, `exec` and `down`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Topology name.
    pub name: String,
    /// The file it came from.
    pub source: PathBuf,
    /// Where nodes run (absent in states written before there was a choice: namespaces).
    #[serde(default)]
    pub placement: PlacementKind,
    /// How links are shaped (`netem`, or best effort and what is missing).
    pub shaping: String,
    /// Seconds `up` took.
    pub up_seconds: f64,
    /// Unix time `up` finished.
    pub started_unix_s: u64,
    /// The nodes.
    pub nodes: Vec<NodeState>,
    /// The links.
    pub links: Vec<LinkState>,
    /// The routes the launcher has registered (origin static), as they stand after `up` and
    /// every fault since (`crate::reroute`). Absent in states written before faults rerouted:
    /// then what `up` computed on the whole graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteRecord>>,
    /// The userspace delay line's process ([`crate::linkemu`]), if links needed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_emulator_pid: Option<u32>,
    /// The watcher's process ([`crate::watch`]), unless `up` was told not to start one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watcher_pid: Option<u32>,
}

/// A route the launcher registered: at `node`, `prefix` through the face towards `via`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteRecord {
    /// The node.
    pub node: String,
    /// The name prefix, canonical URI.
    pub prefix: String,
    /// The neighbour.
    pub via: String,
    /// The cost.
    pub cost: u64,
}

/// How a producer was started, so that `restart` starts it again as `up` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerLaunch {
    /// The prefix it registers.
    pub prefix: String,
    /// Its command line (`nfwd serve ...`, the launcher's `nfwd` first).
    pub argv: Vec<String>,
    /// Its log.
    pub log: PathBuf,
}

/// One node as launched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// Node name.
    pub name: String,
    /// Its network namespace (made, or a container's attached under this name).
    pub netns: String,
    /// Its container, if the placement is Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Its directory (configuration, socket, logs).
    pub dir: PathBuf,
    /// Its forwarder's Unix socket.
    pub socket: PathBuf,
    /// The daemon's process id.
    pub daemon_pid: u32,
    /// Whether it runs an SF host.
    pub sf_host: bool,
    /// Producers' process ids.
    pub producer_pids: Vec<u32>,
    /// Faces to neighbours: neighbour name → face id.
    pub faces: BTreeMap<String, u64>,
    /// Whether `nfwd topo kill` crashed it (and no `restart` has brought it back since).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub killed: bool,
    /// The daemon's command line as `up` ran it (`nfwd start ...`), for `restart`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemon_argv: Vec<String>,
    /// How its producers were started, for `restart`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<ProducerLaunch>,
}

/// One link as launched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkState {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// The interface in both namespaces.
    pub interface: String,
    /// The Docker network carrying it, if the placement is Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The a end's address.
    pub a_addr: String,
    /// The b end's address.
    pub b_addr: String,
    /// Face protocol.
    pub protocol: String,
    /// The shaping applied, in words.
    pub shaping: String,
    /// Whether `nfwd topo link A B down` cut it (and no `up` has restored it since).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub down: bool,
}

impl State {
    fn path(root: &Path, name: &str) -> PathBuf {
        root.join(name).join("state.toml")
    }

    /// Reads the state of topology `name`.
    pub fn load(root: &Path, name: &str) -> Result<Self> {
        let path = Self::path(root, name);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::State(format!(
                    "topology {name} is not up (no {}); `nfwd topo up FILE` first",
                    path.display()
                ))
            } else {
                Error::Io {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        toml::from_str(&text).map_err(|source| Error::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    pub(crate) fn save(&self, root: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|source| Error::Serialize {
            what: "state",
            source,
        })?;
        write(&Self::path(root, &self.name), &text)
    }

    /// The routes the launcher has registered, by node index of `t`: as recorded, or (a
    /// state from before faults rerouted) what `up` computed.
    #[must_use]
    pub fn installed_routes(&self, t: &Topology) -> Vec<routes::RouteEntry> {
        let Some(recorded) = &self.routes else {
            return routes::routes(t);
        };
        recorded
            .iter()
            .filter_map(|r| {
                Some(routes::RouteEntry {
                    node: t.node_index(&r.node)?,
                    prefix: r.prefix.clone(),
                    via: t.node_index(&r.via)?,
                    cost: r.cost,
                })
            })
            .collect()
    }

    /// Records `installed` (by node index of `t`) as the routes the launcher has registered.
    pub fn record_routes(&mut self, t: &Topology, installed: &[routes::RouteEntry]) {
        let mut list: Vec<RouteRecord> = installed
            .iter()
            .filter_map(|r| {
                Some(RouteRecord {
                    node: t.nodes.get(r.node)?.name.clone(),
                    prefix: r.prefix.clone(),
                    via: t.nodes.get(r.via)?.name.clone(),
                    cost: r.cost,
                })
            })
            .collect();
        list.sort();
        self.routes = Some(list);
    }

    /// A node by name, to change.
    pub fn node_mut(&mut self, name: &str) -> Result<&mut NodeState> {
        self.node(name)?;
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| Error::State(format!("no node {name:?}")))
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Result<&NodeState> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| {
            let all: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
            Error::State(format!(
                "topology {} has no node {name:?} (nodes: {})",
                self.name,
                all.join(", ")
            ))
        })
    }
}

/// Writes `text` aside and renames it into place, so that a reader (the watcher, `status`)
/// never sees a file half written.
pub(crate) fn write(path: &Path, text: &str) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn log_file(path: &Path) -> Result<File> {
    File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The last lines of a log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(8);
    format!(
        "{} (last lines of {}):\n{}",
        if lines.is_empty() { "no output" } else { "" },
        path.display(),
        lines[from..].join("\n")
    )
}

/// Held while a command changes a running testbed (`link`, `kill`, `restart`, `apply`, and
/// the watcher's reroutes): two of them at once would each rewrite `state.toml` from what
/// they read before the other's change. An advisory `flock` on `<state root>/<name>/lock`,
/// released when the guard drops or the process dies.
#[derive(Debug)]
pub struct TestbedLock {
    _file: File,
}

/// Takes topology `name`'s lock, waiting (and saying so through `progress`) while another
/// command holds it.
pub fn lock(root: &Path, name: &str, progress: &mut dyn FnMut(&str)) -> Result<TestbedLock> {
    use rustix::fs::{FlockOperation, flock};
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(Error::State(format!(
            "topology {name} is not up (no {}); `nfwd topo up FILE` first",
            dir.display()
        )));
    }
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        progress(&format!(
            "waiting for another `nfwd topo` command on {name}"
        ));
        flock(&file, FlockOperation::LockExclusive).map_err(|e| Error::Io {
            path,
            source: e.into(),
        })?;
    }
    Ok(TestbedLock { _file: file })
}

/// How to bring a topology up.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The `nfwd` binary every node runs.
    pub nfwd: PathBuf,
    /// The topology file (producer files are relative to its directory).
    pub source: PathBuf,
    /// Where state goes ([`DEFAULT_STATE_ROOT`]).
    pub state_root: PathBuf,
    /// Without netem, go on without delay (rate with tbf, loss with nft).
    pub best_effort_shaping: bool,
    /// How long daemons, SF hosts and producers may take to answer.
    pub timeout: Duration,
    /// Start the watcher ([`crate::watch`]: routes around a daemon that dies by itself).
    /// Namespace testbeds only.
    pub watch: bool,
    /// Where nodes run.
    pub placement: PlacementKind,
    /// The statically linked `nfwd` for Docker images: the node image with
    /// [`PlacementKind::Docker`], SF images of `sf_host = "docker"` nodes (none: `nfwd` if
    /// it is static).
    pub docker_binary: Option<PathBuf>,
}

/// What `up` did.
#[derive(Debug, Clone)]
pub struct UpReport {
    /// The state recorded.
    pub state: State,
    /// Faces created.
    pub faces: usize,
    /// Routes added.
    pub routes: usize,
    /// SFs deployed.
    pub sfs: usize,
    /// Producers started.
    pub producers: usize,
}

/// Brings `t` up: namespaces, links, daemons, faces, routes, SFs, producers; waits until each
/// answers. On failure removes what it made (as `down` does) and returns the error.
pub fn up(t: &Topology, opts: &UpOptions, progress: &mut dyn FnMut(&str)) -> Result<UpReport> {
    if !net::is_root() {
        return Err(Error::Unsupported(
            "`nfwd topo up` needs root (network namespaces, veth pairs, qdiscs)".into(),
        ));
    }
    let started = Instant::now();
    let mut placement: Box<dyn Placement> = match opts.placement {
        PlacementKind::Docker => Box::new(crate::placement::docker::Docker::new(
            opts.docker_binary.clone(),
            opts.nfwd.clone(),
        )),
        kind => kind.placement(),
    };
    placement.prepare(t, progress)?;
    if opts.state_root.join(&t.name).exists()
        || !crate::placement::netns::namespaces_of(&t.name).is_empty()
        || placement.exists(&t.name)
    {
        return Err(Error::State(format!(
            "topology {} is already up (or was not taken down): `nfwd topo down {}` first",
            t.name, t.name
        )));
    }
    let result = up_inner(t, opts, placement.as_mut(), started, progress);
    if result.is_err() {
        progress("failed: taking down what was made");
        let _ = down(&t.name, &opts.state_root);
    }
    result
}

fn up_inner(
    t: &Topology,
    opts: &UpOptions,
    placement: &mut dyn Placement,
    started: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<UpReport> {
    let root = opts.state_root.join(&t.name);
    mkdir(&root)?;
    // The topology as launched, producer files made absolute.
    let base = opts
        .source
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut t = t.clone();
    let absolute = |prefix: &str, f: &Path| {
        let f = if f.is_relative() {
            base.join(f)
        } else {
            f.to_owned()
        };
        if f.is_file() {
            Ok(f)
        } else {
            Err(Error::invalid(format!(
                "producer {prefix}: no file {}",
                f.display()
            )))
        }
    };
    for p in &mut t.producers {
        if let Some(f) = &p.file {
            p.file = Some(absolute(&p.prefix, f)?);
        }
        if let Some(pkg) = &mut p.sf_package {
            pkg.program = absolute(&p.prefix, &pkg.program)?;
            pkg.key = absolute(&p.prefix, &pkg.key)?;
        }
    }
    write(&root.join("topology.toml"), &t.to_toml()?)?;

    // Nodes.
    let mut state = State {
        name: t.name.clone(),
        source: opts.source.clone(),
        placement: placement.kind(),
        shaping: String::new(),
        up_seconds: 0.0,
        started_unix_s: 0,
        nodes: Vec::new(),
        links: Vec::new(),
        routes: None,
        link_emulator_pid: None,
        watcher_pid: None,
    };
    state.save(&opts.state_root)?;
    for n in &t.nodes {
        let dir = root.join(&n.name);
        mkdir(&dir)?;
        let place = placement.make_node(&NodeSpec {
            topology: &t.name,
            node: &n.name,
            dir: &dir,
        })?;
        state.nodes.push(NodeState {
            name: n.name.clone(),
            socket: dir.join("nfwd.sock"),
            dir,
            netns: place.netns,
            container: place.container,
            daemon_pid: 0,
            sf_host: Topology::sf_backend(n).is_some(),
            producer_pids: Vec::new(),
            faces: BTreeMap::new(),
            killed: false,
            daemon_argv: Vec::new(),
            producers: Vec::new(),
        });
    }
    state.save(&opts.state_root)?;

    // Daemons. SF hosts share the SF uid range, a slice each, so no two nodes' instances
    // ever run as one uid.
    let sf_nodes = state.nodes.iter().filter(|n| n.sf_host).count().max(1);
    let slice = (1000 / sf_nodes).max(1);
    let mut sf_k = 0;
    for (i, n) in t.nodes.iter().enumerate() {
        let quic = t
            .links
            .iter()
            .any(|l| l.protocol == FaceProtocol::Quic && (l.a == n.name || l.b == n.name));
        let ns = &state.nodes[i];
        let config = ns.dir.join("nfwd.toml");
        write(&config, &node_config_with(n, &ns.dir, quic)?)?;
        let log = ns.dir.join("daemon.log");
        let mut argv = vec![
            opts.nfwd.display().to_string(),
            "start".into(),
            "--config".into(),
            config.display().to_string(),
        ];
        if let Some(backend) = Topology::sf_backend(n) {
            let first = 61_000 + (sf_k * slice) % 1000;
            let last = (first + slice - 1).min(61_999);
            sf_k += 1;
            argv.extend([
                "--sf-host".into(),
                "--sf-backend".into(),
                backend.as_str().into(),
                "--sf-owner".into(),
                format!("{}.{}", t.name, n.name),
                "--sf-uid-range".into(),
                format!("{first}-{last}"),
            ]);
            // SF images need a static nfwd (the SF host says so if it has none).
            if backend == SfBackend::Docker
                && let Some(binary) = &opts.docker_binary
            {
                argv.extend(["--sf-docker-binary".into(), binary.display().to_string()]);
            }
        }
        let pid = placement.start_daemon(&state.nodes[i], &argv, &log)?;
        state.nodes[i].daemon_pid = pid;
        state.nodes[i].daemon_argv = argv;
        state.save(&opts.state_root)?;
    }
    progress(&format!(
        "{} nodes ({})",
        t.nodes.len(),
        placement.kind().as_str()
    ));

    // Links.
    let shaper = Shaper::probe(
        &state.nodes[0].netns,
        placement.kind() == PlacementKind::Netns,
        opts.best_effort_shaping,
    );
    shaper.check(&t.links)?;
    state.shaping = shaper.summary();
    // Delayed links without netem: the delay line's taps first (it puts them in place), then
    // each link is addressed and shaped as a veth link would be.
    let delayed: Vec<linkemu::DelayedLink> = t
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| shaper.delays_in_userspace(l))
        .filter_map(|(i, l)| {
            let (a, b) = (t.node_index(&l.a)?, t.node_index(&l.b)?);
            Some(linkemu::DelayedLink {
                interface: crate::placement::netns::link_interface(i),
                a_ns: state.nodes[a].netns.clone(),
                b_ns: state.nodes[b].netns.clone(),
                // Validated finite and >= 0; sub-microsecond parts are below the timer's
                // resolution anyway.
                delay_us: (l.delay_ms * 1000.0).round() as u64,
                // Validated within 0..=delay_ms.
                jitter_us: (l.jitter_ms * 1000.0).round() as u64,
            })
        })
        .collect();
    if !delayed.is_empty() {
        let spec = linkemu::Spec {
            links: delayed,
            queue_frames: linkemu::DEFAULT_QUEUE_FRAMES,
            // A different draw every testbed; the spec file keeps it, so a restarted delay
            // line draws as the first one would have.
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        };
        state.link_emulator_pid = Some(linkemu::start(&root, &opts.nfwd, &spec, opts.timeout)?);
        state.save(&opts.state_root)?;
    }
    for (i, l) in t.links.iter().enumerate() {
        let (Some(a), Some(b)) = (t.node_index(&l.a), t.node_index(&l.b)) else {
            continue;
        };
        let ends = if shaper.delays_in_userspace(l) {
            crate::placement::netns::address_link(i, &state.nodes[a].netns, &state.nodes[b].netns)?
        } else {
            placement.join(&t.name, i, &state.nodes[a], &state.nodes[b])?
        };
        let shaping = placement.shape(&state.nodes[a], &ends.interface, l, &shaper)?;
        placement.shape(&state.nodes[b], &ends.interface, l, &shaper)?;
        state.links.push(LinkState {
            a: l.a.clone(),
            b: l.b.clone(),
            interface: ends.interface,
            network: ends.carrier,
            a_addr: ends.a_addr,
            b_addr: ends.b_addr,
            protocol: l.protocol.as_str().into(),
            shaping,
            down: false,
        });
    }
    state.save(&opts.state_root)?;
    progress(&format!("{} links ({})", t.links.len(), state.shaping));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
    let deadline = Instant::now() + opts.timeout;
    let report = rt.block_on(async {
        let mut clients = Vec::new();
        for n in &state.nodes {
            clients.push(connect_daemon(n, deadline).await?);
        }
        progress(&format!("{} daemons answer", clients.len()));

        // Faces: each end creates its own face to the other, so routes at both ends have a
        // face of their own (as `nfwd face create` would, once per node).
        let mut faces = 0;
        for l in &state.links {
            for (from, to, addr) in [(&l.a, &l.b, &l.b_addr), (&l.b, &l.a, &l.a_addr)] {
                let Some(i) = t.node_index(from) else {
                    continue;
                };
                let protocol = link_protocol(l);
                let id = create_face(&clients[i], from, protocol, addr).await?;
                state.nodes[i].faces.insert(to.clone(), id);
                faces += 1;
                // A QUIC face's far end registers the incoming connection a moment after the
                // near end's handshake completes: wait for it, so that the far end's own
                // faces/create finds that face (409) instead of opening a second connection.
                if protocol == FaceProtocol::Quic
                    && from == &l.a
                    && let Some(j) = t.node_index(to)
                {
                    let uri = protocol.uri(&l.a_addr);
                    let until = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < until {
                        let list: Vec<FaceStatus> =
                            dataset(&clients[j], "faces/list").await.unwrap_or_default();
                        if list.iter().any(|f| f.uri.as_str() == uri) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
        progress(&format!("{faces} faces"));

        // Routes.
        let all = routes::routes(&t);
        for r in &all {
            let node = &state.nodes[r.node];
            let via = &t.nodes[r.via].name;
            let face = node.faces.get(via).copied().ok_or_else(|| {
                Error::node(
                    &node.name,
                    format!("no face towards {via} for {}", r.prefix),
                )
            })?;
            crate::reroute::register(
                &clients[r.node],
                &node.name,
                &r.prefix,
                face,
                r.cost,
                crate::reroute::LAUNCHER_ROUTE_ORIGIN,
            )
            .await?;
        }
        for (prefix, node) in routes::unreachable(&t) {
            progress(&format!("warning: {node} has no path to {prefix}"));
        }
        progress(&format!("{} routes", all.len()));

        // Producers, until what they register is in their forwarder's RIB.
        for (k, p) in t.producers.iter().enumerate() {
            let Some(i) = t.node_index(&p.node) else {
                continue;
            };
            let node = &state.nodes[i];
            let log = node.dir.join(format!("producer-{k}.log"));
            let connect = format!("unix://{}", node.socket.display());
            let mut argv = vec![opts.nfwd.display().to_string()];
            if let Some(pkg) = &p.sf_package {
                // Copies in the node's directory, which every placement's nodes see; the
                // program keeps its name (the package's artifact is named after it).
                let copies = node.dir.join(format!("producer-{k}"));
                mkdir(&copies)?;
                let copy = |from: &Path| {
                    let to = copies.join(from.file_name().unwrap_or_default());
                    std::fs::copy(from, &to)
                        .map(|_| to)
                        .map_err(|source| Error::Io {
                            path: from.to_owned(),
                            source,
                        })
                };
                let (program, key) = (copy(&pkg.program)?, copy(&pkg.key)?);
                argv.extend([
                    "--connect".into(),
                    connect,
                    "sf".into(),
                    "publish".into(),
                    program.display().to_string(),
                    "--function".into(),
                    pkg.function.clone(),
                    "--prefix".into(),
                    p.prefix.clone(),
                    "--key".into(),
                    key.display().to_string(),
                ]);
                if let Some(v) = pkg.version {
                    argv.extend(["--version".into(), v.to_string()]);
                }
            } else {
                argv.extend([
                    "serve".into(),
                    p.prefix.clone(),
                    "--connect".into(),
                    connect,
                ]);
            }
            match (&p.text, &p.file) {
                (Some(text), _) => argv.extend(["--text".into(), text.clone()]),
                (None, Some(file)) => {
                    // A copy in the node's directory, which every placement's nodes see.
                    let copy = node.dir.join(format!("producer-{k}.data"));
                    std::fs::copy(file, &copy).map_err(|source| Error::Io {
                        path: file.clone(),
                        source,
                    })?;
                    argv.extend(["--file".into(), copy.display().to_string()]);
                }
                (None, None) => {}
            }
            let mut cmd = placement.command(node, &argv, &[], &opts.nfwd);
            let pid = spawn_detached(&mut cmd, &log)?;
            state.nodes[i].producer_pids.push(pid);
            let registers = p.registers();
            state.nodes[i].producers.push(ProducerLaunch {
                prefix: registers.clone(),
                argv,
                log: log.clone(),
            });
            state.save(&opts.state_root)?;
            wait_for_route(
                &clients[i],
                &state.nodes[i],
                &registers,
                pid,
                &log,
                deadline,
            )
            .await?;
        }
        progress(&format!("{} producers serving", t.producers.len()));

        // SFs, once each SF host answers; after the producers, so that a package an SF
        // host pulls at deployment can come from one of them.
        let mut sfs = 0;
        for (i, n) in t.nodes.iter().enumerate() {
            for sf in &n.sfs {
                let spec = sf.spec()?;
                let text = toml::to_string(&spec).map_err(|source| Error::Serialize {
                    what: "SF specification",
                    source,
                })?;
                deploy(&clients[i], &state.nodes[i], &sf.name, &text, deadline).await?;
                sfs += 1;
            }
        }
        progress(&format!("{sfs} SFs deployed"));
        Ok::<_, Error>((faces, all.len(), sfs))
    })?;
    state.record_routes(&t, &routes::routes(&t));
    state.save(&opts.state_root)?;
    if opts.watch {
        state.watcher_pid = Some(crate::watch::start(&opts.state_root, &t.name, &opts.nfwd)?);
        progress("watcher started");
    }
    state.up_seconds = started.elapsed().as_secs_f64();
    state.started_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    state.save(&opts.state_root)?;
    Ok(UpReport {
        faces: report.0,
        routes: report.1,
        sfs: report.2,
        producers: t.producers.len(),
        state,
    })
}

/// The face protocol of a launched link.
pub(crate) fn link_protocol(l: &LinkState) -> FaceProtocol {
    match l.protocol.as_str() {
        "tcp" => FaceProtocol::Tcp,
        "quic" => FaceProtocol::Quic,
        _ => FaceProtocol::Udp,
    }
}

/// Creates (`faces/create`, persistent) node `from`'s face to the neighbour at `addr`;
/// returns its id.
pub(crate) async fn create_face(
    client: &Client,
    from: &str,
    protocol: FaceProtocol,
    addr: &str,
) -> Result<u64> {
    let uri = protocol.uri(addr);
    let params = ControlParameters {
        uri: Some(Text::from(uri.as_str())),
        face_persistency: Some(0),
        ..ControlParameters::default()
    };
    let resp = client
        .command_response("faces", "create", &params)
        .await
        .map_err(|e| Error::node(from, format!("faces/create {uri}: {e}")))?;
    // 409 with the face in the body: the face exists — the other end connected first (QUIC
    // from its listening port, UDP from its socket), and the face it opened is now
    // persistent. That is the face to route on, as nfdc does.
    if resp.status_code != 200 && !(resp.status_code == 409 && resp.body.is_some()) {
        return Err(Error::node(
            from,
            format!(
                "faces/create {uri}: {} {}",
                resp.status_code, resp.status_text
            ),
        ));
    }
    resp.body.and_then(|b| b.face_id).ok_or_else(|| {
        Error::node(
            from,
            format!("faces/create {uri}: no face id in the answer"),
        )
    })
}

/// Starts `cmd` in a process group of its own (a Ctrl-C at the terminal that ran `up` does
/// not reach it), output to `log`; returns its pid. It outlives `up`: `down` ends it.
pub(crate) fn spawn_detached(cmd: &mut Command, log: &Path) -> Result<u32> {
    let out = log_file(log)?;
    let err = out.try_clone().map_err(|source| Error::Io {
        path: log.to_owned(),
        source,
    })?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Command {
            command: format!("{cmd:?}"),
            detail: e.to_string(),
        })?;
    Ok(child.id())
}

pub(crate) async fn connect_daemon(n: &NodeState, deadline: Instant) -> Result<Client> {
    let uri = format!("unix://{}", n.socket.display());
    loop {
        if n.socket.exists()
            && let Ok(c) = Client::connect(&uri).await
        {
            return Ok(c);
        }
        let pid = i32::try_from(n.daemon_pid).unwrap_or(0);
        if !net::alive(pid) || Instant::now() >= deadline {
            return Err(Error::node(
                &n.name,
                format!(
                    "the daemon did not come up{}",
                    tail(&n.dir.join("daemon.log"))
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deploys an SF, retrying while the node's SF host is not yet connected to its forwarder.
pub(crate) async fn deploy(
    client: &Client,
    node: &NodeState,
    sf: &str,
    spec: &str,
    deadline: Instant,
) -> Result<()> {
    loop {
        match nfwd_sf_host::host::protocol::deploy(client, spec).await {
            Ok(resp) if resp.is_ok() => return Ok(()),
            Ok(resp) => {
                return Err(Error::node(
                    &node.name,
                    format!(
                        "deploy {sf} refused ({}): {}",
                        resp.status_code, resp.status_text
                    ),
                ));
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::node(
                    &node.name,
                    format!(
                        "deploy {sf}: {e}; the SF host did not answer{}",
                        tail(&node.dir.join("daemon.log"))
                    ),
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A node's management dataset `/localhost/nfd/<path>` (e.g. `faces/list`), decoded.
///
/// # Errors
/// When the node does not answer or the answer does not decode.
pub async fn dataset<T: DatasetEntry>(client: &Client, path: &str) -> Result<Vec<T>> {
    let name: Name = format!("/localhost/nfd/{path}")
        .parse()
        .map_err(|e| Error::invalid(format!("{path}: {e}")))?;
    let opts = FetchOptions {
        must_be_fresh: true,
        ..FetchOptions::default()
    };
    let bytes = client
        .fetch_dataset(&name, &opts)
        .await
        .map_err(|e| Error::node("?", format!("{path}: {e}")))?;
    decode_all::<T>(&bytes).map_err(|e| Error::node("?", format!("{path}: {e}")))
}

pub(crate) async fn wait_for_route(
    client: &Client,
    node: &NodeState,
    prefix: &str,
    pid: u32,
    log: &Path,
    deadline: Instant,
) -> Result<()> {
    let want: Name = prefix
        .parse()
        .map_err(|e| Error::invalid(format!("producer {prefix}: {e}")))?;
    loop {
        let rib: Vec<RibEntry> = dataset(client, "rib/list").await.unwrap_or_default();
        if rib.iter().any(|e| e.name == want) {
            return Ok(());
        }
        let pid = i32::try_from(pid).unwrap_or(0);
        if !net::alive(pid) || Instant::now() >= deadline {
            return Err(Error::node(
                &node.name,
                format!("producer {prefix} did not register{}", tail(log)),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `down` removed.
#[derive(Debug, Clone, Copy)]
pub struct DownReport {
    /// Namespaces deleted.
    pub namespaces: usize,
    /// Processes ended.
    pub processes: usize,
    /// Containers removed (Docker placement).
    pub containers: usize,
    /// Docker networks removed (Docker placement).
    pub networks: usize,
    /// Whether there was a state directory.
    pub had_state: bool,
}

/// Takes topology `name` down: ends every process in its nodes (daemons, SF instances,
/// producers, anything started with `exec`), removes the nodes and links (namespaces, or
/// containers and their networks) and the state. Without a state (a crashed `up`) every
/// placement looks for what carries the topology's name. Idempotent: nothing left is not an
/// error.
pub fn down(name: &str, state_root: &Path) -> Result<DownReport> {
    if !net::is_root() {
        return Err(Error::Unsupported("`nfwd topo down` needs root".into()));
    }
    let state = State::load(state_root, name).ok();
    // The delay line first: its taps go with it, before the namespaces are deleted. (Were
    // the state lost, it ends by itself once the state directory is gone.)
    // The watcher first, so it does not reroute around nodes being taken down.
    if let Some(pid) = state.as_ref().and_then(|s| s.watcher_pid) {
        crate::watch::stop(pid);
    }
    if let Some(pid) = state.as_ref().and_then(|s| s.link_emulator_pid) {
        linkemu::stop(pid);
    }
    let kinds = state
        .as_ref()
        .map_or(PlacementKind::ALL.to_vec(), |s| vec![s.placement]);
    let mut total = Cleared::default();
    for kind in kinds {
        let c = kind.placement().clear(name, state.as_ref())?;
        total.namespaces += c.namespaces;
        total.processes += c.processes;
        total.containers += c.containers;
        total.networks += c.networks;
    }
    let dir = state_root.join(name);
    let had_state = dir.exists();
    if had_state {
        std::fs::remove_dir_all(&dir).map_err(|source| Error::Io { path: dir, source })?;
    }
    Ok(DownReport {
        namespaces: total.namespaces,
        processes: total.processes,
        containers: total.containers,
        networks: total.networks,
        had_state,
    })
}

/// Which topology an argument names: a topology file (its `name`), a name, or — none given —
/// the only topology up.
pub fn resolve(arg: Option<&str>, state_root: &Path) -> Result<String> {
    match arg {
        Some(a) if Path::new(a).is_file() => Ok(Topology::from_file(Path::new(a))?.name),
        Some(a) => Ok(a.to_owned()),
        None => {
            let up = list_up(state_root);
            match up.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(Error::State(format!(
                    "no topology is up (nothing in {})",
                    state_root.display()
                ))),
                many => Err(Error::State(format!(
                    "several topologies are up ({}): say which with --topo",
                    many.join(", ")
                ))),
            }
        }
    }
}

/// Names of the topologies with a state directory.
#[must_use]
pub fn list_up(state_root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state_root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("state.toml").exists())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A command run inside `node` (its namespace or container) with the environment set for
/// its forwarder:
/// `NDN_CLIENT_TRANSPORT` (which `nfwd get`, `nfwd status` ... and NDN libraries read),
/// `NFWD_TOPO`, `NFWD_TOPO_NODE`, and the directory of `nfwd` first in `PATH` so that a
/// plain `nfwd` is the testbed's.
pub fn exec_command(state: &State, node: &str, argv: &[String], nfwd: &Path) -> Result<Command> {
    let n = state.node(node)?;
    if argv.is_empty() {
        return Err(Error::State("exec: no command given".into()));
    }
    let env = [
        (
            nfwd_forwarder::client::TRANSPORT_ENV,
            format!("unix://{}", n.socket.display()),
        ),
        ("NFWD_TOPO", state.name.clone()),
        ("NFWD_TOPO_NODE", n.name.clone()),
    ];
    Ok(state.placement.placement().command(n, argv, &env, nfwd))
}

/// One consumer's fetch, as `check` ran it.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// Where.
    pub node: String,
    /// What (`name [chain]`).
    pub what: String,
    /// The content, or why not.
    pub outcome: std::result::Result<String, String>,
    /// Whether it is what the topology expects (true if it expects nothing).
    pub as_expected: bool,
    /// Time taken.
    pub seconds: f64,
}

/// Runs every `[[consumer]]` of the topology (`nfwd get` inside its node).
pub fn check(state: &State, t: &Topology, nfwd: &Path) -> Result<Vec<CheckResult>> {
    let mut out = Vec::new();
    for c in &t.consumers {
        let mut argv = vec![nfwd.display().to_string(), "get".into(), c.name.clone()];
        if let Some(chain) = c.chain_arg() {
            argv.extend(["--chain".into(), chain]);
        }
        let started = Instant::now();
        let result = exec_command(state, &c.node, &argv, nfwd)?
            .output()
            .map_err(|e| Error::Command {
                command: argv.join(" "),
                detail: e.to_string(),
            })?;
        let outcome = if result.status.success() {
            Ok(String::from_utf8_lossy(&result.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&result.stderr).trim().to_owned())
        };
        let as_expected = match (&outcome, &c.expect) {
            (Ok(got), Some(want)) => got == want,
            (Ok(_), None) => true,
            (Err(_), _) => false,
        };
        out.push(CheckResult {
            node: c.node.clone(),
            what: c
                .chain_arg()
                .map_or_else(|| c.name.clone(), |ch| format!("{} [{ch}]", c.name)),
            outcome,
            as_expected,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(out)
}

/// One line on the delay line: running or not, frames carried, and what it dropped.
fn delay_line_status(state: &State, pid: u32) -> String {
    let running = net::alive(i32::try_from(pid).unwrap_or(0));
    let stats = state
        .nodes
        .first()
        .and_then(|n| n.dir.parent())
        .and_then(|dir| linkemu::Stats::load(dir).ok())
        .unwrap_or_default();
    let (mut forwarded, mut full, mut refused) = (0, 0, 0);
    let mut dropping = Vec::new();
    for l in &stats.links {
        let [ab, ba] = [&l.a_to_b, &l.b_to_a];
        forwarded += ab.forwarded + ba.forwarded;
        full += ab.queue_full + ba.queue_full;
        refused += ab.write_errors + ba.write_errors;
        if ab.queue_full + ba.queue_full > 0 {
            dropping.push(l.interface.clone());
        }
    }
    format!(
        "delay line: pid {pid} {}; {} links, {forwarded} frames carried, {full} dropped on a \
         full queue{}, {refused} towards a cut link",
        if running {
            "running"
        } else {
            "NOT RUNNING (delayed links carry nothing)"
        },
        stats.links.len(),
        if dropping.is_empty() {
            String::new()
        } else {
            format!(" ({})", dropping.join(", "))
        }
    )
}

/// A compact report of every node: process, faces to neighbours with their counters, routes,
/// SFs, and the forwarder's main counters.
pub fn status(state: &State) -> Result<String> {
    use std::fmt::Write as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "topology {} ({}): {} nodes, {} links, up in {:.1} s, {} s ago; shaping: {}",
        state.name,
        state.placement.as_str(),
        state.nodes.len(),
        state.links.len(),
        state.up_seconds,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(state.started_unix_s),
        state.shaping
    );
    let cut: Vec<String> = state
        .links
        .iter()
        .filter(|l| l.down)
        .map(|l| format!("{}-{}", l.a, l.b))
        .collect();
    if !cut.is_empty() {
        let _ = writeln!(s, "links cut: {}", cut.join(", "));
    }
    // Each shaped link as applied (delay, jitter, loss, rate), so what the nodes see is
    // explained by the status.
    for l in state.links.iter().filter(|l| l.shaping != "unshaped") {
        let _ = writeln!(
            s,
            "link {}-{} ({}, {}): {}",
            l.a, l.b, l.interface, l.protocol, l.shaping
        );
    }
    if let Some(pid) = state.link_emulator_pid {
        let _ = writeln!(s, "{}", delay_line_status(state, pid));
    }
    if let Some(pid) = state.watcher_pid {
        let _ = writeln!(
            s,
            "watcher: pid {pid} {}",
            if net::alive(i32::try_from(pid).unwrap_or(0)) {
                "running (routes follow daemons that die)"
            } else {
                "NOT RUNNING (a daemon that dies is not routed around)"
            }
        );
    }
    // Neighbour of each face, by the remote address.
    let mut neighbour_of_addr: BTreeMap<String, String> = BTreeMap::new();
    for l in &state.links {
        neighbour_of_addr.insert(l.a_addr.clone(), l.a.clone());
        neighbour_of_addr.insert(l.b_addr.clone(), l.b.clone());
    }
    rt.block_on(async {
        for n in &state.nodes {
            let pid = i32::try_from(n.daemon_pid).unwrap_or(0);
            let alive = net::alive(pid);
            let uri = format!("unix://{}", n.socket.display());
            let client = if alive {
                tokio::time::timeout(Duration::from_secs(2), Client::connect(&uri))
                    .await
                    .ok()
                    .and_then(std::result::Result::ok)
            } else {
                None
            };
            let Some(client) = client else {
                let _ = writeln!(
                    s,
                    "{}  pid {}  {}  (log: {})",
                    n.name,
                    n.daemon_pid,
                    match (alive, n.killed) {
                        (true, _) => "NOT ANSWERING",
                        (false, true) => "DEAD (killed; `nfwd topo restart` brings it back)",
                        (false, false) => "DEAD",
                    },
                    n.dir.join("daemon.log").display()
                );
                continue;
            };
            let general = client
                .fetch_dataset(
                    &"/localhost/nfd/status/general".parse::<Name>().unwrap_or_default(),
                    &FetchOptions {
                        must_be_fresh: true,
                        ..FetchOptions::default()
                    },
                )
                .await
                .ok()
                .and_then(|b| ForwarderStatus::decode(&b).ok());
            match general {
                Some(g) => {
                    let _ = writeln!(
                        s,
                        "{}  pid {}  interests {}/{}  data {}/{}  nacks {}/{}  pit {}  cs {}",
                        n.name,
                        n.daemon_pid,
                        g.n_in_interests,
                        g.n_out_interests,
                        g.n_in_data,
                        g.n_out_data,
                        g.n_in_nacks,
                        g.n_out_nacks,
                        g.n_pit_entries,
                        g.n_cs_entries
                    );
                }
                None => {
                    let _ = writeln!(s, "{}  pid {}  (no status)", n.name, n.daemon_pid);
                }
            }
            let faces: Vec<FaceStatus> = dataset(&client, "faces/list").await.unwrap_or_default();
            let mut face_names = BTreeMap::new();
            for f in &faces {
                let remote = f.uri.as_str();
                let host = remote
                    .split("://")
                    .nth(1)
                    .and_then(|r| r.rsplit_once(':'))
                    .map_or("", |(h, _)| h);
                let Some(peer) = neighbour_of_addr.get(host) else {
                    continue;
                };
                face_names.insert(f.face_id, peer.clone());
                let _ = writeln!(
                    s,
                    "  face {:<5} {:<24} -> {:<10} {}  in {}i {}d {}n  out {}i {}d {}n",
                    f.face_id,
                    remote,
                    peer,
                    if f.face_scope == 1 { "local" } else { "non-local" },
                    f.n_in_interests,
                    f.n_in_data,
                    f.n_in_nacks,
                    f.n_out_interests,
                    f.n_out_data,
                    f.n_out_nacks
                );
            }
            let fib: Vec<FibEntry> = dataset(&client, "fib/list").await.unwrap_or_default();
            for e in fib.iter().filter(|e| !e.name.to_string().starts_with("/localhost")) {
                let hops: Vec<String> = e
                    .next_hops
                    .iter()
                    .map(|h| {
                        let to = face_names
                            .get(&h.face_id)
                            .cloned()
                            .unwrap_or_else(|| format!("face {} (local)", h.face_id));
                        format!("{to}({})", h.cost)
                    })
                    .collect();
                let _ = writeln!(s, "  route {:<22} -> {}", e.name.to_string(), hops.join(", "));
            }
            if n.sf_host {
                let sfs = nfwd_sf_host::host::protocol::stats(&client).await.unwrap_or_default();
                let list = nfwd_sf_host::host::protocol::list(&client).await.unwrap_or_default();
                for st in &sfs {
                    let state_word = list
                        .iter()
                        .find(|i| i.name == st.name)
                        .map_or("?", |i| i.state.as_str());
                    let _ = writeln!(
                        s,
                        "  sf    {:<22} {state_word}  instances {}  requests {}  answers {}  errors {}",
                        st.name, st.instances, st.requests, st.answers, st.errors
                    );
                }
            }
        }
    });
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_command_waits_for_the_lock_and_says_so() {
        let root = std::env::temp_dir().join(format!("nfwd-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(mkdir(&root.join("t")).is_ok());
        let first = lock(&root, "t", &mut |_| {});
        assert!(first.is_ok());
        let (tx, rx) = std::sync::mpsc::channel();
        let r = root.clone();
        let second = std::thread::spawn(move || {
            let mut said = Vec::new();
            let got = lock(&r, "t", &mut |m| said.push(m.to_owned())).is_ok();
            let _ = tx.send(());
            (got, said)
        });
        // Still waiting while the first holds it.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok());
        let (got, said) = second.join().unwrap_or_default();
        assert!(got);
        assert_eq!(said, ["waiting for another `nfwd topo` command on t"]);
        // A testbed that is not up has no lock to take.
        assert!(lock(&root, "absent", &mut |_| {}).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn writes_replace_the_file_whole() {
        let dir = std::env::temp_dir().join(format!("nfwd-write-{}", std::process::id()));
        assert!(mkdir(&dir).is_ok());
        let path = dir.join("state.toml");
        assert!(write(&path, "one").is_ok());
        assert!(write(&path, "two").is_ok());
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("two"));
        assert!(!dir.join("state.toml.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Nodes as Docker containers (`nfwd topo up --docker`).
//!
//! - **Image**: `FROM scratch` with the statically linked `nfwd` as `/nfwd`, built by the SF
//!   host's Docker backend (`nfwd_sf_host::docker::DockerBackend::node_image`) and tagged by
//!   the binary's SHA-256, so re-runs with the same binary reuse it. `down` leaves it.
//! - **Nodes**: container `nfwd-topo.<topology>.<node>`, created, taken off the default bridge
//!   before it starts (no network but its links: Docker refuses other networks beside
//!   `--network none`), with `--init`, running `/nfwd start --config ...` as the container's
//!   command; the node's directory is bind-mounted at the same path, so configuration, logs,
//!   the SF channels and the Unix socket the launcher manages the node through (as root, by
//!   peer credentials) are where they are for namespaces. The container's network namespace
//!   is attached as `nfwd.<topology>.<node>` so shaping is the same `tc`/`nft` as for
//!   namespaces, applied from the host.
//! - **Links**: a private Docker network per link, `nfwd-topo.<topology>.l<i>` (bridge,
//!   `--internal`: no route out), a /29 from 10.101.0.0/16 (the first that does not overlap
//!   a network the engine has; .1 is the bridge, .2 the a end, .3 the b end); the interface
//!   Docker adds is renamed `l<i>` as with namespaces.
//! - **SFs**: the node's SF host runs in its container with the process backend. Built-ins
//!   run from `/nfwd`; an `exec` SF's program is found on the host (in `PATH`) and
//!   bind-mounted read-only at the same path with what it loads (`ldd`), or refused.
//! - **Commands** (producers, `topo exec`, `check`) run with `docker exec`, with `/` (where
//!   `nfwd` is) first in `PATH`.
//! - **Ownership**: containers and networks carry the label `nfwd.topo=<topology>`; `down`
//!   removes what carries it (after a crashed `up` too) and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::netns::{link_interface, namespaces_of};
use super::{Cleared, LinkEnds, NodePlace, NodeSpec, Placement, PlacementKind, netns_name};
use crate::error::{Error, Result};
use crate::launch::{NodeState, State, spawn_detached};
use crate::model::{SfBackend, Topology};
use crate::net::{Shaper, ip, run};

/// Label on every container and network of a testbed: the topology's name.
pub const LABEL_TOPOLOGY: &str = "nfwd.topo";
/// Label on every container: the node's name.
pub const LABEL_NODE: &str = "nfwd.topo.node";
/// Repository of the node image (the tag is the binary's hash).
pub const IMAGE_REPOSITORY: &str = "nfwd-topo-node";
/// Owner label of the node image (the SF host's Docker backend labels what it builds).
pub const IMAGE_OWNER: &str = "nfwd-topo";
/// The `nfwd` inside node containers.
pub const NFWD_IN_IMAGE: &str = "/nfwd";
/// How many /29s 10.101.0.0/16 holds.
const SUBNETS: u32 = 8192;

/// Nodes as Docker containers.
#[derive(Debug, Clone, Default)]
pub struct Docker {
    /// The static `nfwd` for the image (none: the launcher's own, if static).
    binary: Option<PathBuf>,
    /// The launcher's `nfwd`.
    launcher_nfwd: PathBuf,
    /// The node image's tag, once built or found.
    image: Option<String>,
    /// The topology being brought up.
    topology: String,
    /// The next /29 to try.
    next_subnet: u32,
    /// Per node, host files mounted read-only at the same path: the programs of its `exec`
    /// SFs and what they load.
    mounts: BTreeMap<String, BTreeSet<PathBuf>>,
}

impl Docker {
    /// For `up`: the image carries `binary`, else `launcher_nfwd` if it is statically linked.
    #[must_use]
    pub fn new(binary: Option<PathBuf>, launcher_nfwd: PathBuf) -> Self {
        Self {
            binary,
            launcher_nfwd,
            ..Self::default()
        }
    }

    /// For a testbed that is up (`exec`, `down`).
    #[must_use]
    pub fn existing() -> Self {
        Self::default()
    }

    fn image_binary(&self) -> Result<PathBuf> {
        let fix = "build one with `scripts/build-static-nfwd.sh` (it prints the path) and give \
                   it with `nfwd topo up --docker --docker-binary PATH`";
        let (binary, given) = match &self.binary {
            Some(b) => (b.clone(), true),
            None => (self.launcher_nfwd.clone(), false),
        };
        match nfwd_sf_host::docker::is_static_elf(&binary) {
            Ok(true) => Ok(binary),
            Ok(false) => Err(Error::Unsupported(format!(
                "{} {} is not statically linked, and node images are FROM scratch; {fix}",
                if given {
                    "--docker-binary"
                } else {
                    "this nfwd,"
                },
                binary.display()
            ))),
            Err(e) => Err(Error::Unsupported(format!("--docker-binary: {e}; {fix}"))),
        }
    }
}

/// The container of a node.
#[must_use]
pub fn container_name(topology: &str, node: &str) -> String {
    format!("nfwd-topo.{topology}.{node}")
}

/// The Docker network of link `index`.
#[must_use]
pub fn network_name(topology: &str, index: usize) -> String {
    format!("nfwd-topo.{topology}.l{index}")
}

/// Subnet `k` of 10.101.0.0/16 (a /29) and its gateway, a and b addresses.
fn subnet(k: u32) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(10, 101, 0, 0)) + (k % SUBNETS) * 8;
    (
        Ipv4Addr::from(base),
        Ipv4Addr::from(base + 1),
        Ipv4Addr::from(base + 2),
        Ipv4Addr::from(base + 3),
    )
}

fn docker(args: &[&str]) -> Result<String> {
    run("docker", args)
}

/// Ids of what `docker <what> ls` lists with the topology's label.
fn labelled(what: &str, topology: &str) -> Result<Vec<String>> {
    let filter = format!("label={LABEL_TOPOLOGY}={topology}");
    let out = if what == "container" {
        docker(&["container", "ls", "-aq", "--filter", &filter])?
    } else {
        docker(&[what, "ls", "-q", "--filter", &filter])?
    };
    Ok(out.split_whitespace().map(str::to_owned).collect())
}

impl Placement for Docker {
    fn kind(&self) -> PlacementKind {
        PlacementKind::Docker
    }

    fn prepare(&mut self, t: &Topology, progress: &mut dyn FnMut(&str)) -> Result<()> {
        for n in &t.nodes {
            if Topology::sf_backend(n) == Some(SfBackend::Docker) {
                return Err(Error::Unsupported(format!(
                    "node {}: sf_host = \"docker\" inside a node container is not supported \
                     (with --docker, SF hosts run their SFs as processes in the node's container)",
                    n.name
                )));
            }
            for sf in &n.sfs {
                let Some(program) = sf.exec.as_ref().and_then(|argv| argv.first()) else {
                    continue;
                };
                let files = program_files(program).map_err(|why| {
                    Error::Unsupported(format!(
                        "node {}: SF {} runs {program:?}, which is not in the node image \
                         (FROM scratch with {NFWD_IN_IMAGE} only) and cannot be mounted into \
                         it: {why}",
                        n.name, sf.name
                    ))
                })?;
                self.mounts.entry(n.name.clone()).or_default().extend(files);
            }
        }
        ip(&["netns", "list"]).map_err(|e| {
            Error::Unsupported(format!(
                "`ip netns` does not work here (iproute2?), needed to shape links: {e}"
            ))
        })?;
        docker(&["version", "--format", "{{.Server.Version}}"])
            .map_err(|e| Error::Unsupported(format!("--docker: no Docker engine answers: {e}")))?;
        let binary = self.image_binary()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
        let tag = rt
            .block_on(async {
                let backend = nfwd_sf_host::docker::DockerBackend::connect(
                    nfwd_sf_host::docker::DockerOptions::new(binary, IMAGE_OWNER),
                )
                .await?;
                backend.node_image(IMAGE_REPOSITORY).await
            })
            .map_err(|e| Error::Unsupported(format!("--docker: the node image: {e}")))?;
        progress(&format!("image {tag}"));
        self.image = Some(tag);
        self.topology = t.name.clone();
        Ok(())
    }

    fn exists(&self, topology: &str) -> bool {
        ["container", "network"]
            .iter()
            .any(|what| labelled(what, topology).is_ok_and(|ids| !ids.is_empty()))
    }

    fn make_node(&mut self, spec: &NodeSpec<'_>) -> Result<NodePlace> {
        // The container is made with its daemon (`start_daemon`): the image's one program is
        // the container's command.
        self.topology = spec.topology.to_owned();
        Ok(NodePlace {
            netns: netns_name(spec.topology, spec.node),
            container: Some(container_name(spec.topology, spec.node)),
        })
    }

    fn start_daemon(&mut self, node: &NodeState, argv: &[String], log: &Path) -> Result<u32> {
        // A container that exists already is a node brought back by `restart`: it starts
        // again with its command, mounts and networks (and their addresses) as created.
        if let Some(container) = &node.container
            && let Some(running) = container_running(container)
        {
            return start_again(node, container, running, log);
        }
        let (Some(image), Some(container)) = (&self.image, &node.container) else {
            return Err(Error::State(format!(
                "node {}: no image or container name (prepare and make_node first)",
                node.name
            )));
        };
        let dir = node.dir.display().to_string();
        let mut args: Vec<String> = [
            "create",
            "--name",
            container,
            "--hostname",
            &node.name,
            "--label",
            &format!("{LABEL_TOPOLOGY}={}", self.topology),
            "--label",
            &format!("{LABEL_NODE}={}", node.name),
            // PID 1 reaps the SF instances the node's SF host starts, and passes signals on.
            "--init",
            "-v",
            &format!("{dir}:{dir}"),
        ]
        .map(str::to_owned)
        .to_vec();
        for file in self.mounts.get(&node.name).into_iter().flatten() {
            let file = file.display();
            args.extend(["-v".into(), format!("{file}:{file}:ro")]);
        }
        args.push(image.clone());
        // The image's entrypoint is nfwd: the arguments follow.
        args.extend(argv.iter().skip(1).cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&refs)?;
        // No network but the links: `--network none` would refuse them later (Docker allows
        // no other network beside it), so the default bridge goes before the start instead.
        docker(&["network", "disconnect", "bridge", container])?;
        docker(&["start", container])?;
        started(node, container, None, log)
    }

    fn join(
        &mut self,
        topology: &str,
        index: usize,
        a: &NodeState,
        b: &NodeState,
    ) -> Result<LinkEnds> {
        let (Some(ca), Some(cb)) = (&a.container, &b.container) else {
            return Err(Error::State(format!(
                "link {} - {}: not containers",
                a.name, b.name
            )));
        };
        let network = network_name(topology, index);
        let label = format!("{LABEL_TOPOLOGY}={topology}");
        // The first /29 no network of the engine overlaps (other testbeds take theirs).
        let (a_addr, b_addr) = loop {
            if self.next_subnet >= SUBNETS {
                return Err(Error::Unsupported(
                    "--docker: no free /29 left in 10.101.0.0/16 for a link network".into(),
                ));
            }
            let (net, gateway, a_addr, b_addr) = subnet(self.next_subnet);
            self.next_subnet += 1;
            match docker(&[
                "network",
                "create",
                "--driver",
                "bridge",
                "--internal",
                "--subnet",
                &format!("{net}/29"),
                "--gateway",
                &gateway.to_string(),
                "--label",
                &label,
                &network,
            ]) {
                Ok(_) => break (a_addr, b_addr),
                Err(Error::Command { detail, .. }) if detail.contains("overlap") => {}
                Err(e) => return Err(e),
            }
        };
        let dev = link_interface(index);
        for (node, container, addr) in [(a, ca, a_addr), (b, cb, b_addr)] {
            docker(&[
                "network",
                "connect",
                "--ip",
                &addr.to_string(),
                &network,
                container,
            ])?;
            rename_link_end(node, &addr.to_string(), &network, &dev)?;
            ip(&["-n", &node.netns, "link", "set", &dev, "up"])?;
        }
        Ok(LinkEnds {
            a_addr: a_addr.to_string(),
            b_addr: b_addr.to_string(),
            interface: dev,
            carrier: Some(network),
        })
    }

    fn links_outlive_daemon(&self) -> bool {
        false
    }

    fn restore_links(&self, state: &State, node: &str, t: &Topology) -> Result<()> {
        let n = state.node(node)?;
        // As `up` probed it: Docker testbeds have no delay line, and `up` already refused
        // what cannot be shaped.
        let shaper = Shaper::probe(&n.netns, false, true);
        for l in state.links.iter().filter(|l| l.a == node || l.b == node) {
            let (addr, peer) = if l.a == node {
                (&l.a_addr, &l.b)
            } else {
                (&l.b_addr, &l.a)
            };
            let network = l.network.as_deref().unwrap_or("its link network");
            rename_link_end(n, addr, network, &l.interface)?;
            let updown = if l.down { "down" } else { "up" };
            ip(&["-n", &n.netns, "link", "set", &l.interface, updown])?;
            if let Some((_, link)) = t.link_between(&l.a, &l.b) {
                self.shape(n, &l.interface, link, &shaper)?;
            }
            // The new interface has a new MAC address: the neighbour forgets the old one now,
            // not after ARP's reachable time (tens of seconds of lost packets).
            let p = state.node(peer)?;
            if !crate::reroute::node_is_down(p) {
                ip(&["-n", &p.netns, "neigh", "flush", "dev", &l.interface])?;
            }
        }
        Ok(())
    }

    fn command(
        &self,
        node: &NodeState,
        argv: &[String],
        env: &[(&str, String)],
        nfwd: &Path,
    ) -> Command {
        let container = node.container.clone().unwrap_or_else(|| node.name.clone());
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "-i"]);
        for (k, v) in env {
            cmd.arg("-e").arg(format!("{k}={v}"));
        }
        cmd.args(["-e", "PATH=/:/usr/local/bin:/usr/bin:/bin", &container]);
        // The launcher's nfwd is the image's /nfwd inside.
        if let Some((program, rest)) = argv.split_first() {
            if Path::new(program) == nfwd || program == "nfwd" {
                cmd.arg(NFWD_IN_IMAGE);
            } else {
                cmd.arg(program);
            }
            cmd.args(rest);
        }
        cmd
    }

    fn clear(&self, topology: &str, state: Option<&State>) -> Result<Cleared> {
        let recorded = state.is_some_and(|s| s.placement == PlacementKind::Docker);
        // No engine and nothing recorded: nothing of ours can exist.
        let containers = match labelled("container", topology) {
            Ok(ids) => ids,
            Err(_) if !recorded => return Ok(Cleared::default()),
            Err(e) => return Err(e),
        };
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(containers.iter().map(String::as_str));
            docker(&args)?;
        }
        // The attached names (their processes went with the containers); without a state,
        // only if this topology had containers (else they are a namespace testbed's).
        let mut namespaces = 0;
        if recorded || !containers.is_empty() {
            for n in namespaces_of(topology) {
                if ip(&["netns", "del", &n]).is_ok() {
                    namespaces += 1;
                }
            }
        }
        let networks = labelled("network", topology)?;
        if !networks.is_empty() {
            let mut args = vec!["network", "rm"];
            args.extend(networks.iter().map(String::as_str));
            docker(&args)?;
        }
        Ok(Cleared {
            namespaces,
            processes: 0,
            containers: containers.len(),
            networks: networks.len(),
        })
    }
}

/// `.State.Running` of `container`; None if there is no such container.
fn container_running(container: &str) -> Option<bool> {
    docker(&["inspect", "--format", "{{.State.Running}}", container])
        .ok()
        .map(|s| s.trim() == "true")
}

/// The container of a node that went down (`topo kill`, or a crash), started again. Its
/// processes were killed from the host: Docker may take a moment to see its init gone.
fn start_again(node: &NodeState, container: &str, running: bool, log: &Path) -> Result<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut running = running;
    while running {
        if std::time::Instant::now() > deadline {
            return Err(Error::node(
                &node.name,
                format!("container {container} still runs: its node is not down"),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        running = container_running(container).unwrap_or(false);
    }
    // The attached name still holds the dead container's namespace.
    let _ = ip(&["netns", "del", &node.netns]);
    // Its log from now on: the earlier run's output is in the earlier log.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or_else(|_| "0".to_owned(), |d| format!("{:.6}", d.as_secs_f64()));
    docker(&["start", container])?;
    started(node, container, Some(&since), log)
}

/// After `docker start`: the container's pid (the one to watch), its namespace attached under
/// the node's name, its output (`since` a Unix time, if given) followed into `log`.
fn started(node: &NodeState, container: &str, since: Option<&str>, log: &Path) -> Result<u32> {
    let pid: u32 = docker(&["inspect", "--format", "{{.State.Pid}}", container])?
        .trim()
        .parse()
        .map_err(|e| Error::node(&node.name, format!("container {container}'s pid: {e}")))?;
    if pid == 0 {
        return Err(Error::node(
            &node.name,
            format!(
                "container {container} stopped at once: {}",
                docker(&["logs", container]).unwrap_or_default()
            ),
        ));
    }
    ip(&["netns", "attach", &node.netns, &pid.to_string()])?;
    // The daemon's output, where namespaces have it (ends when the container goes).
    let mut logs = Command::new("docker");
    logs.args(["logs", "-f"]);
    if let Some(since) = since {
        logs.args(["--since", since]);
    }
    spawn_detached(logs.arg(container), log)?;
    Ok(pid)
}

/// Docker names the interface it adds for `network` eth<N>; it becomes `dev` (the launcher's
/// `l<index>`, as with namespaces), found by its address `addr`, and is left down.
fn rename_link_end(node: &NodeState, addr: &str, network: &str, dev: &str) -> Result<()> {
    let listed = ip(&["-n", &node.netns, "-o", "-4", "addr", "show"])?;
    let want = format!("inet {addr}/");
    let docker_dev = listed
        .lines()
        .find(|l| l.contains(&want))
        .and_then(|l| l.split_whitespace().nth(1))
        .ok_or_else(|| {
            Error::node(
                &node.name,
                format!("no interface with {addr} after connecting {network}"),
            )
        })?
        .to_owned();
    ip(&["-n", &node.netns, "link", "set", &docker_dev, "down"])?;
    if docker_dev != dev {
        ip(&["-n", &node.netns, "link", "set", &docker_dev, "name", dev])?;
    }
    Ok(())
}

/// The host files an `exec` SF's program needs inside a container: the program (found in
/// `PATH` like the SF host finds it) and, if it is dynamically linked, the loader, the
/// libraries `ldd` lists and the loader's cache. Why not, if it cannot be found.
fn program_files(program: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
            .ok_or_else(|| "not found in PATH".to_owned())?
    };
    if !path.is_absolute() || !path.is_file() {
        return Err(format!(
            "{} is not an absolute path to a file",
            path.display()
        ));
    }
    let mut files = vec![path.clone()];
    // A static program needs nothing more; ldd says "not a dynamic executable" and fails.
    if let Ok(listed) = run("ldd", &[&path.display().to_string()]) {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-... (0x...)".
        for line in listed.lines() {
            let file = line
                .split_once("=>")
                .map_or(line, |(_, to)| to)
                .split_whitespace()
                .next()
                .unwrap_or_default();
            if file.starts_with('/') {
                files.push(PathBuf::from(file));
            }
        }
        if files.len() > 1 && Path::new("/etc/ld.so.cache").is_file() {
            files.push(PathBuf::from("/etc/ld.so.cache"));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_subnets_are_disjoint_slash_29s_in_10_101() {
        let (net, gw, a, b) = subnet(0);
        assert_eq!(net, Ipv4Addr::new(10, 101, 0, 0));
        assert_eq!(gw, Ipv4Addr::new(10, 101, 0, 1));
        assert_eq!(
            (a, b),
            (Ipv4Addr::new(10, 101, 0, 2), Ipv4Addr::new(10, 101, 0, 3))
        );
        assert_eq!(subnet(33).0, Ipv4Addr::new(10, 101, 1, 8));
        assert_eq!(subnet(SUBNETS - 1).3, Ipv4Addr::new(10, 101, 255, 251));
    }

    #[test]
    fn commands_run_in_the_container_with_the_image_nfwd() {
        let node = NodeState {
            name: "f1".into(),
            netns: netns_name("line", "f1"),
            container: Some(container_name("line", "f1")),
            dir: "/run/nfwd-topo/line/f1".into(),
            socket: "/run/nfwd-topo/line/f1/nfwd.sock".into(),
            daemon_pid: 0,
            sf_host: false,
            producer_pids: Vec::new(),
            faces: BTreeMap::new(),
            killed: false,
            daemon_argv: Vec::new(),
            producers: Vec::new(),
        };
        let nfwd = Path::new("/usr/local/bin/nfwd");
        let argv = ["/usr/local/bin/nfwd", "get", "/a"].map(String::from);
        let cmd = Docker::existing().command(&node, &argv, &[("K", "v".into())], nfwd);
        let args: Vec<&str> = cmd.get_args().filter_map(|a| a.to_str()).collect();
        assert_eq!(cmd.get_program(), "docker");
        assert_eq!(
            args,
            [
                "exec",
                "-i",
                "-e",
                "K=v",
                "-e",
                "PATH=/:/usr/local/bin:/usr/bin:/bin",
                "nfwd-topo.line.f1",
                "/nfwd",
                "get",
                "/a"
            ]
        );
    }

    #[test]
    fn containers_and_networks_are_named_by_topology() {
        assert_eq!(container_name("line", "f1"), "nfwd-topo.line.f1");
        assert_eq!(network_name("line", 3), "nfwd-topo.line.l3");
    }
}

//! Faults on a running testbed: a link cut and restored, a node crashed.
//!
//! Both work from the recorded [`State`] only (namespaces, link interfaces, pids), so they
//! can be run from any shell while the testbed carries traffic, and they touch nothing but
//! that testbed's own namespaces.
//!
//! - **Link down/up** sets both veth ends of the link down (or up) with `ip`: the carrier
//!   drops on both sides, nothing crosses, neither end hears anything — what a pulled cable
//!   looks like. The addresses stay, so `up` restores the link as it was; the faces over it
//!   are the same faces, brought back by the forwarders' link liveness
//!   (`docs/protocol.md` §8.1).
//! - **Kill** sends SIGKILL to every process in the node's namespace (the daemon, its SF
//!   host's instances, producers, anything `exec` left running): nothing is flushed and no
//!   goodbye is sent, as when a machine crashes. The namespace and its interfaces stay, so
//!   neighbours see what the kernel of a host whose forwarder died does (TCP connections are
//!   reset, UDP datagrams find no socket). `down` removes the node as usual.
//! - **Restart** brings a killed node back as `up` made it, in its namespace: its daemon
//!   (the command line `up` recorded), its faces to its neighbours and theirs towards it
//!   (a TCP face the crash closed is made again), its SFs, its producers (as recorded), and
//!   then its routes and everyone's routes towards it.
//!
//! On a Docker testbed the node's namespace is its container's: killing the container's
//! processes stops the container and Docker takes its link interfaces away (the neighbours'
//! ends stay, on the link's bridge). A link end of a killed container cannot be set: the cut
//! is recorded and applied when the node comes back. `restart` starts the same container
//! again (`docker start`: its networks and addresses as created), attaches its new namespace
//! under the node's name, renames, sets and shapes its link ends as recorded, and makes the
//! neighbours forget its old MAC addresses ([`crate::placement::Placement::restore_links`]).
//!
//! After each of them the routes are recomputed on the live graph and the difference applied
//! ([`crate::reroute`]). Each records what it changed in the state (a link cut, a node
//! killed), which the next one and the route computation read. Nothing the user may have
//! edited since `up` is read: the topology is the copy `up` wrote beside the state
//! ([`launched_topology`]).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::apply::Applied;
use crate::error::{Error, Result};
use crate::launch::{self, LinkState, State};
use crate::model::{FaceProtocol, Topology};
use crate::net;
use crate::placement::netns::netns_pids;
use crate::reroute::{self, RerouteReport};

/// Which way a link is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// Cut: both ends down.
    Down,
    /// Restore: both ends up.
    Up,
}

impl LinkAction {
    /// `down` or `up`, as `ip link set` spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Down => "down",
            Self::Up => "up",
        }
    }
}

impl std::str::FromStr for LinkAction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "down" => Ok(Self::Down),
            "up" => Ok(Self::Up),
            other => Err(Error::State(format!(
                "a link is set \"down\" or \"up\", not {other:?}"
            ))),
        }
    }
}

/// The link between nodes `a` and `b` (either order), or an error naming both and the links
/// there are.
pub fn link<'s>(state: &'s State, a: &str, b: &str) -> Result<&'s LinkState> {
    state.node(a)?;
    state.node(b)?;
    state
        .links
        .iter()
        .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
        .ok_or_else(|| {
            let all: Vec<String> = state
                .links
                .iter()
                .map(|l| format!("{}-{}", l.a, l.b))
                .collect();
            Error::State(format!(
                "topology {} has no link between {a} and {b} (links: {})",
                state.name,
                all.join(", ")
            ))
        })
}

/// Sets both ends of the link between `a` and `b` down or up and marks it so in `state`;
/// returns the link.
pub fn set_link(state: &mut State, a: &str, b: &str, action: LinkAction) -> Result<LinkState> {
    if !net::is_root() {
        return Err(Error::Unsupported(
            "setting a link down or up needs root".into(),
        ));
    }
    let l = link(state, a, b)?.clone();
    let outlive = state.placement.placement().links_outlive_daemon();
    for end in [&l.a, &l.b] {
        let node = state.node(end)?;
        // A container that is down has no interface: `restart` sets it as recorded.
        if !outlive && reroute::node_is_down(node) {
            continue;
        }
        net::ip(&[
            "-n",
            &node.netns,
            "link",
            "set",
            &l.interface,
            action.as_str(),
        ])?;
    }
    let down = action == LinkAction::Down;
    for x in &mut state.links {
        if x.a == l.a && x.b == l.b {
            x.down = down;
        }
    }
    Ok(LinkState { down, ..l })
}

/// The topology as `up` launched it: the copy in its state directory, not the file it came
/// from (which the user may have changed since).
pub fn launched_topology(root: &Path, name: &str) -> Result<Topology> {
    Topology::from_file(&root.join(name).join("topology.toml"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))
}

/// `nfwd topo link A B down|up` on topology `name`: the link cut or restored, recorded, the
/// faces over a restored link made again where the cut closed them (TCP), and the routes
/// recomputed on the live graph and applied.
pub fn link_fault(
    root: &Path,
    name: &str,
    a: &str,
    b: &str,
    action: LinkAction,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<(LinkState, RerouteReport)> {
    let _lock = launch::lock(root, name, progress)?;
    let mut state = State::load(root, name)?;
    let t = launched_topology(root, name)?;
    let l = set_link(&mut state, a, b, action)?;
    state.save(root)?;
    let deadline = Instant::now() + timeout;
    let report = runtime()?.block_on(async {
        if action == LinkAction::Up {
            ensure_faces(&mut state, root, &l, deadline, progress).await?;
            state.save(root)?;
        }
        let cause = match action {
            LinkAction::Down => reroute::Cause::Fault,
            LinkAction::Up => reroute::Cause::Repair,
        };
        reroute::reroute(&mut state, &t, root, cause, deadline, progress).await
    })?;
    Ok((l, report))
}

/// Makes sure both live ends of link `l` have a face towards each other (`faces/create`,
/// which answers with the existing face if there is one), recording the ids. A face that
/// changed (the old one closed: a TCP connection reset by a crash) took its routes with it:
/// they leave the records (the launcher's, and an applied plan's towards the nearest
/// instance), so the next reroute registers them again. Returns the faces made anew.
async fn ensure_faces(
    state: &mut State,
    root: &Path,
    l: &LinkState,
    deadline: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<usize> {
    let protocol = link_protocol(l);
    let mut made = 0;
    for (from, to, addr) in [(&l.a, &l.b, &l.b_addr), (&l.b, &l.a, &l.a_addr)] {
        let node = state.node(from)?.clone();
        if reroute::node_is_down(&node) {
            continue;
        }
        let client = launch::connect_daemon(&node, deadline).await?;
        let id = launch::create_face(&client, from, protocol, addr).await?;
        let old = node.faces.get(to.as_str()).copied();
        if old != Some(id) {
            made += 1;
            progress(&format!("+ face  {from:<10} -> {to} (face {id})"));
            if let Some(routes) = &mut state.routes {
                routes.retain(|r| !(r.node == *from && r.via == *to));
            }
            if let Some(mut applied) = Applied::load(root, &state.name)? {
                applied
                    .route
                    .retain(|r| r.from_plan || !(r.node == *from && r.via == *to));
                applied.save(root, &state.name)?;
            }
        }
        state.node_mut(from)?.faces.insert(to.clone(), id);
    }
    Ok(made)
}

fn link_protocol(l: &LinkState) -> FaceProtocol {
    launch::link_protocol(l)
}

/// What [`kill`] did.
#[derive(Debug, Clone, Copy)]
pub struct KillReport {
    /// Processes sent SIGKILL.
    pub processes: usize,
    /// Whether the daemon was running before.
    pub daemon_was_alive: bool,
}

/// `nfwd topo kill NODE` on topology `name`: the node crashed ([`kill`]), recorded, and the
/// routes recomputed on the live graph and applied to the other nodes.
pub fn kill_node(
    root: &Path,
    name: &str,
    node: &str,
    wait: Duration,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<(KillReport, RerouteReport)> {
    let _lock = launch::lock(root, name, progress)?;
    let mut state = State::load(root, name)?;
    let t = launched_topology(root, name)?;
    let killed = kill(&state, node, wait)?;
    state.node_mut(node)?.killed = true;
    state.save(root)?;
    let deadline = Instant::now() + timeout;
    let report = runtime()?.block_on(reroute::reroute(
        &mut state,
        &t,
        root,
        reroute::Cause::Fault,
        deadline,
        progress,
    ))?;
    Ok((killed, report))
}

/// Crashes `node`: SIGKILL to every process in its namespace (daemon, SF instances,
/// producers), waiting up to `wait` until they are gone.
pub fn kill(state: &State, node: &str, wait: Duration) -> Result<KillReport> {
    if !net::is_root() {
        return Err(Error::Unsupported("killing a node needs root".into()));
    }
    let n = state.node(node)?;
    let daemon = i32::try_from(n.daemon_pid).unwrap_or(0);
    let daemon_was_alive = daemon > 0 && net::alive(daemon);
    let mut pids = netns_pids(&n.netns);
    // The daemon first, so it cannot restart what it supervises.
    if daemon_was_alive && !pids.contains(&daemon) {
        pids.insert(0, daemon);
    }
    for &p in &pids {
        net::signal(p, rustix::process::Signal::KILL);
    }
    let deadline = Instant::now() + wait;
    while pids.iter().any(|&p| net::alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // An instance started between the listing and the daemon's death has no one left to
    // supervise it: kill whatever the namespace still holds.
    for p in netns_pids(&n.netns) {
        net::signal(p, rustix::process::Signal::KILL);
    }
    if let Some(p) = pids.iter().find(|&&p| net::alive(p)) {
        return Err(Error::node(
            node,
            format!("process {p} still runs after SIGKILL and {wait:?}"),
        ));
    }
    Ok(KillReport {
        processes: pids.len(),
        daemon_was_alive,
    })
}

/// What [`restart`] did.
#[derive(Debug, Clone)]
pub struct RestartReport {
    /// The daemon's new process id.
    pub daemon_pid: u32,
    /// Faces made (the node's own, and its neighbours' made anew).
    pub faces: usize,
    /// SFs deployed.
    pub sfs: usize,
    /// Producers started.
    pub producers: usize,
    /// Faces not made because their link is cut (made when `link ... up` restores it).
    pub skipped_cut_links: Vec<String>,
    /// The routes recomputed and applied.
    pub routes: RerouteReport,
}

/// `nfwd topo restart NODE` on topology `name`: brings a node whose daemon is down (killed
/// by `topo kill`, or crashed) back as `up` made it — its daemon in its namespace with the
/// command line `up` recorded, its faces to its neighbours and theirs towards it, its
/// SFs (from the topology as launched), its producers (as recorded), then the routes of
/// every node recomputed on the live graph and applied. A node that is running is refused.
///
/// An applied plan (`topo apply`) comes back with it: its SFs on the node, its own routes at
/// the node and towards it, and its routes towards the nearest instance recomputed.
pub fn restart(
    root: &Path,
    name: &str,
    node: &str,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<RestartReport> {
    if !net::is_root() {
        return Err(Error::Unsupported("restarting a node needs root".into()));
    }
    let _lock = launch::lock(root, name, progress)?;
    let mut state = State::load(root, name)?;
    let before = state.node(node)?.clone();
    if !reroute::node_is_down(&before) {
        return Err(Error::State(format!(
            "node {node} of {name} is running (daemon pid {}): only a node that is down can be \
             restarted (`nfwd topo kill {node}` crashes it)",
            before.daemon_pid
        )));
    }
    if before.daemon_argv.is_empty() {
        return Err(Error::State(format!(
            "node {node}: the state of {name} does not record how its daemon was started (it was \
             brought up by an older nfwd); `nfwd topo down {name}` and `up` again"
        )));
    }
    let t = launched_topology(root, name)?;
    let model = t
        .node_index(node)
        .and_then(|i| t.nodes.get(i))
        .ok_or_else(|| Error::State(format!("node {node} is not in {name}'s topology.toml")))?
        .clone();

    // A daemon that died by itself may have left SF instances or producers behind.
    for p in netns_pids(&before.netns) {
        net::signal(p, rustix::process::Signal::KILL);
    }
    // The crashed daemon's log is kept beside the new one; its socket is stale.
    let log = before.dir.join("daemon.log");
    let _ = std::fs::rename(&log, before.dir.join("daemon.log.previous"));
    let _ = std::fs::remove_file(&before.socket);
    let mut placement = state.placement.placement();
    let daemon_pid = placement.start_daemon(&before, &before.daemon_argv, &log)?;
    placement.restore_links(&state, node, &t)?;
    {
        let n = state.node_mut(node)?;
        n.daemon_pid = daemon_pid;
        n.killed = false;
        n.faces.clear();
        n.producer_pids.clear();
    }
    // A fresh daemon has an empty RIB: none of the node's routes is installed any more (an
    // applied plan's own routes stay recorded: they are registered again below).
    if let Some(routes) = &mut state.routes {
        routes.retain(|r| r.node != node);
    }
    state.save(root)?;
    let mut applied = Applied::load(root, name)?;
    if let Some(a) = &mut applied {
        a.route.retain(|r| r.from_plan || r.node != node);
        a.save(root, name)?;
    }
    progress(&format!("{node}: daemon started (pid {daemon_pid})"));

    let deadline = Instant::now() + timeout;
    runtime()?.block_on(async {
        let client = launch::connect_daemon(state.node(node)?, deadline).await?;
        let mut faces = 0;
        let mut skipped_cut_links = Vec::new();
        let links: Vec<LinkState> = state
            .links
            .iter()
            .filter(|l| l.a == node || l.b == node)
            .cloned()
            .collect();
        for l in &links {
            let peer = if l.a == node { &l.b } else { &l.a };
            if l.down {
                // A cut link carries nothing to connect over; `link ... up` makes its faces.
                skipped_cut_links.push(format!("{}-{}", l.a, l.b));
                progress(&format!(
                    "{node}: link to {peer} is cut: its faces are made when it is restored"
                ));
                continue;
            }
            faces += ensure_faces(&mut state, root, l, deadline, progress).await?;
        }
        state.save(root)?;
        progress(&format!("{node}: {faces} faces"));

        let mut sfs = 0;
        for sf in &model.sfs {
            let spec = sf.spec()?;
            let text = toml::to_string(&spec).map_err(|source| Error::Serialize {
                what: "SF specification",
                source,
            })?;
            launch::deploy(&client, state.node(node)?, &sf.name, &text, deadline).await?;
            sfs += 1;
        }
        // An applied plan's SFs on the node, and its own routes at the node and towards it
        // (the face towards it may be new); its other routes come with the reroute.
        let mut plan_sfs = 0;
        let mut plan_routes = 0;
        if let Some(a) = &applied {
            for p in a.sf.iter().filter(|p| p.node == node) {
                let spec = t.sf_type_spec(&p.sf_type, &p.function)?;
                let text = toml::to_string(&spec).map_err(|source| Error::Serialize {
                    what: "SF specification",
                    source,
                })?;
                launch::deploy(&client, state.node(node)?, &p.function, &text, deadline).await?;
                crate::apply::wait_registered(&client, node, &p.function, deadline).await?;
                plan_sfs += 1;
            }
            for r in a.route.iter().filter(|r| r.from_plan) {
                if r.node != node && r.via != node {
                    continue;
                }
                let at = state.node(&r.node)?;
                let (Some(face), false) = (at.faces.get(&r.via), reroute::node_is_down(at)) else {
                    continue;
                };
                let c = if r.node == node {
                    None
                } else {
                    Some(launch::connect_daemon(at, deadline).await?)
                };
                reroute::register(
                    c.as_ref().unwrap_or(&client),
                    &r.node,
                    &r.prefix,
                    *face,
                    r.cost,
                    crate::apply::PLAN_ROUTE_ORIGIN,
                )
                .await?;
                plan_routes += 1;
            }
        }
        sfs += plan_sfs;
        progress(&if applied.is_some() {
            format!(
                "{node}: {sfs} SFs deployed ({plan_sfs} of the applied plan), {plan_routes} \
                 plan routes registered again"
            )
        } else {
            format!("{node}: {sfs} SFs deployed")
        });

        for p in &before.producers {
            let Some(nfwd) = p.argv.first() else {
                continue;
            };
            let n = state.node(node)?.clone();
            let mut cmd = placement.command(&n, &p.argv, &[], Path::new(nfwd));
            let pid = launch::spawn_detached(&mut cmd, &p.log)?;
            state.node_mut(node)?.producer_pids.push(pid);
            state.save(root)?;
            launch::wait_for_route(&client, &n, &p.prefix, pid, &p.log, deadline).await?;
        }
        progress(&format!(
            "{node}: {} producers serving",
            before.producers.len()
        ));

        let routes = reroute::reroute(
            &mut state,
            &t,
            root,
            reroute::Cause::Repair,
            deadline,
            progress,
        )
        .await?;
        Ok(RestartReport {
            daemon_pid,
            faces,
            sfs,
            producers: before.producers.len(),
            skipped_cut_links,
            routes,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::PlacementKind;

    #[test]
    fn link_actions_parse_and_refuse_anything_else() {
        assert_eq!("down".parse::<LinkAction>().ok(), Some(LinkAction::Down));
        assert_eq!("up".parse::<LinkAction>().ok(), Some(LinkAction::Up));
        let e = "sideways"
            .parse::<LinkAction>()
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("\"sideways\"")));
    }

    fn state() -> State {
        let node = |name: &str| launch::NodeState {
            name: name.into(),
            netns: format!("nfwd.t.{name}"),
            container: None,
            dir: std::path::PathBuf::from("/nonexistent"),
            socket: std::path::PathBuf::from("/nonexistent/nfwd.sock"),
            daemon_pid: 0,
            sf_host: false,
            producer_pids: Vec::new(),
            faces: std::collections::BTreeMap::new(),
            killed: false,
            daemon_argv: Vec::new(),
            producers: Vec::new(),
        };
        State {
            name: "t".into(),
            source: std::path::PathBuf::from("t.toml"),
            placement: PlacementKind::Netns,
            shaping: String::new(),
            up_seconds: 0.0,
            started_unix_s: 0,
            nodes: vec![node("a"), node("b"), node("c")],
            links: vec![LinkState {
                a: "a".into(),
                b: "b".into(),
                interface: "l0".into(),
                network: None,
                a_addr: "10.100.0.1".into(),
                b_addr: "10.100.0.2".into(),
                protocol: "udp".into(),
                shaping: "unshaped".into(),
                down: false,
            }],
            link_emulator_pid: None,
            watcher_pid: None,
            routes: None,
        }
    }

    #[test]
    fn links_are_found_in_either_order_and_missing_ones_are_named() {
        let s = state();
        assert_eq!(
            link(&s, "b", "a").map(|l| l.interface.as_str()).ok(),
            Some("l0")
        );
        let e = link(&s, "a", "c")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("no link between a and c") && e.contains("a-b"),
            "{e}"
        );
        let e = link(&s, "a", "zz")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("no node \"zz\""), "{e}");
    }

    #[test]
    fn a_state_keeps_what_restart_and_reroute_need_and_older_states_still_read() {
        let mut s = state();
        s.nodes[0].killed = true;
        s.nodes[0].daemon_argv = vec!["/bin/nfwd".into(), "start".into()];
        s.nodes[0].producers.push(launch::ProducerLaunch {
            prefix: "/p".into(),
            argv: vec!["/bin/nfwd".into(), "serve".into(), "/p".into()],
            log: "/nonexistent/producer-0.log".into(),
        });
        s.links[0].down = true;
        s.link_emulator_pid = Some(4242);
        s.watcher_pid = Some(4243);
        s.routes = Some(vec![launch::RouteRecord {
            node: "a".into(),
            prefix: "/p".into(),
            via: "b".into(),
            cost: 1,
        }]);
        let text = toml::to_string(&s).unwrap_or_default();
        assert_eq!(toml::from_str::<State>(&text).ok(), Some(s));
        // A state written before any of them: nothing killed or cut, routes as `up` made them.
        let old = toml::to_string(&state()).unwrap_or_default();
        for key in [
            "killed",
            "daemon_argv",
            "producers",
            "down",
            "routes",
            "link_emulator_pid",
            "watcher_pid",
        ] {
            assert!(!old.contains(key), "{key} in\n{old}");
        }
        let read = toml::from_str::<State>(&old).ok();
        assert!(read.is_some_and(|r| r.routes.is_none() && !r.links[0].down));
    }
}

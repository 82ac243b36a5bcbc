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

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::launch::{LinkState, State};
use crate::net;
use crate::placement::netns::netns_pids;

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

/// Sets both ends of the link between `a` and `b` down or up; returns the link.
pub fn set_link<'s>(
    state: &'s State,
    a: &str,
    b: &str,
    action: LinkAction,
) -> Result<&'s LinkState> {
    if !net::is_root() {
        return Err(Error::Unsupported(
            "setting a link down or up needs root".into(),
        ));
    }
    let l = link(state, a, b)?;
    for end in [&l.a, &l.b] {
        let netns = &state.node(end)?.netns;
        net::ip(&["-n", netns, "link", "set", &l.interface, action.as_str()])?;
    }
    Ok(l)
}

/// What [`kill`] did.
#[derive(Debug, Clone, Copy)]
pub struct KillReport {
    /// Processes sent SIGKILL.
    pub processes: usize,
    /// Whether the daemon was running before.
    pub daemon_was_alive: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let node = |name: &str| crate::launch::NodeState {
            name: name.into(),
            netns: format!("nfwd.t.{name}"),
            container: None,
            dir: std::path::PathBuf::from("/nonexistent"),
            socket: std::path::PathBuf::from("/nonexistent/nfwd.sock"),
            daemon_pid: 0,
            sf_host: false,
            producer_pids: Vec::new(),
            faces: std::collections::BTreeMap::new(),
        };
        State {
            name: "t".into(),
            source: std::path::PathBuf::from("t.toml"),
            placement: crate::placement::PlacementKind::Netns,
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
            }],
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
}

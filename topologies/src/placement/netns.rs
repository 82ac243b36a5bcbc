//! Nodes in network namespaces: `nfwd.<topology>.<node>` made with `ip netns add`, daemons
//! and commands run with `ip netns exec`, links as veth pairs.
//!
//! Both ends of every veth pair are created directly inside the nodes' namespaces (never in
//! the caller's), so interface names only need to be unique per namespace and two testbeds —
//! or a testbed and the tests' own namespaces — never collide on them. Addresses come from
//! 10.100.0.0/16 upwards, a /30 per link; they too only matter inside the two namespaces a
//! link joins.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Cleared, LinkEnds, NodePlace, NodeSpec, Placement, PlacementKind, netns_name};
use crate::error::{Error, Result};
use crate::launch::{NodeState, State, spawn_detached};
use crate::model::Topology;
use crate::net::{alive, ip, signal};

/// Nodes in network namespaces.
#[derive(Debug, Clone, Copy, Default)]
pub struct Netns;

impl Placement for Netns {
    fn kind(&self) -> PlacementKind {
        PlacementKind::Netns
    }

    fn prepare(&mut self, _t: &Topology, _progress: &mut dyn FnMut(&str)) -> Result<()> {
        // Every node can run here; nodes with sf_host = "docker" run their SFs as sibling
        // containers (the SF host reaches the engine by its Unix socket from the namespace).
        ip(&["netns", "list"]).map_err(|e| {
            Error::Unsupported(format!("`ip netns` does not work here (iproute2?): {e}"))
        })?;
        Ok(())
    }

    fn exists(&self, topology: &str) -> bool {
        !namespaces_of(topology).is_empty()
    }

    fn make_node(&mut self, spec: &NodeSpec<'_>) -> Result<NodePlace> {
        let netns = netns_name(spec.topology, spec.node);
        netns_add(&netns)?;
        Ok(NodePlace {
            netns,
            container: None,
        })
    }

    fn start_daemon(&mut self, node: &NodeState, argv: &[String], log: &Path) -> Result<u32> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &node.netns]).args(argv);
        spawn_detached(&mut cmd, log)
    }

    fn join(
        &mut self,
        _topology: &str,
        index: usize,
        a: &NodeState,
        b: &NodeState,
    ) -> Result<LinkEnds> {
        let (a_addr, b_addr) = veth(index, &a.netns, &b.netns)?;
        Ok(LinkEnds {
            a_addr: a_addr.to_string(),
            b_addr: b_addr.to_string(),
            interface: link_interface(index),
            carrier: None,
        })
    }

    fn command(
        &self,
        node: &NodeState,
        argv: &[String],
        env: &[(&str, String)],
        nfwd: &Path,
    ) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &node.netns]).args(argv);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // A plain `nfwd` is the testbed's: its directory first in PATH.
        if let Some(dir) = nfwd.parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            if let Ok(joined) = std::env::join_paths(dirs) {
                cmd.env("PATH", joined);
            }
        }
        cmd
    }

    fn clear(&self, topology: &str, state: Option<&State>) -> Result<Cleared> {
        let mut names = namespaces_of(topology);
        // Namespaces recorded but not listed (should not happen) are tried too.
        for n in state.map(|s| s.nodes.as_slice()).unwrap_or_default() {
            if !names.contains(&n.netns) {
                names.push(n.netns.clone());
            }
        }
        names.retain(|n| Path::new("/run/netns").join(n).exists());
        let processes = clear_namespaces(&names, Duration::from_secs(5));
        Ok(Cleared {
            namespaces: names.len(),
            processes,
            ..Cleared::default()
        })
    }
}

/// The named namespaces of a topology that exist now.
pub(crate) fn namespaces_of(topology: &str) -> Vec<String> {
    let prefix = netns_name(topology, "");
    netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Names of the network namespaces that exist (`ip netns list`).
#[must_use]
pub fn netns_list() -> Vec<String> {
    ip(&["netns", "list"])
        .map(|out| {
            out.lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates a namespace with its loopback up.
pub fn netns_add(name: &str) -> Result<()> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"]).map(drop)
}

/// Processes whose network namespace is `name` (`ip netns pids`).
#[must_use]
pub fn netns_pids(name: &str) -> Vec<i32> {
    ip(&["netns", "pids", name])
        .map(|out| out.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Ends every process in the namespaces (SIGTERM, then SIGKILL after `grace`) and deletes the
/// namespaces (which removes their veth ends). Returns how many processes there were.
pub fn clear_namespaces(names: &[String], grace: Duration) -> usize {
    let pids: Vec<i32> = names.iter().flat_map(|n| netns_pids(n)).collect();
    for &p in &pids {
        signal(p, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for n in names {
        for p in netns_pids(n) {
            signal(p, rustix::process::Signal::KILL);
        }
    }
    for n in names {
        let _ = ip(&["netns", "del", n]);
    }
    pids.len()
}

/// The addresses of link `index`: the a end and the b end of its /30.
#[must_use]
pub fn link_addresses(index: usize) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(10, 100, 0, 0)).wrapping_add((index as u32).wrapping_mul(4));
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// The interface name of link `index` (at both ends, whatever the placement).
#[must_use]
pub fn link_interface(index: usize) -> String {
    format!("l{index}")
}

/// Creates link `index` between namespaces `ns_a` and `ns_b`: the veth pair, addresses, up.
pub fn veth(index: usize, ns_a: &str, ns_b: &str) -> Result<(Ipv4Addr, Ipv4Addr)> {
    let dev = link_interface(index);
    ip(&[
        "link", "add", &dev, "netns", ns_a, "type", "veth", "peer", "name", &dev, "netns", ns_b,
    ])?;
    configure(index, ns_a, ns_b)
}

/// Addresses and sets up link `index` whose interfaces are already in `ns_a` and `ns_b`
/// (the delay line's taps, [`crate::linkemu`]).
pub fn address_link(index: usize, ns_a: &str, ns_b: &str) -> Result<LinkEnds> {
    let (a, b) = configure(index, ns_a, ns_b)?;
    Ok(LinkEnds {
        a_addr: a.to_string(),
        b_addr: b.to_string(),
        interface: link_interface(index),
        carrier: None,
    })
}

fn configure(index: usize, ns_a: &str, ns_b: &str) -> Result<(Ipv4Addr, Ipv4Addr)> {
    let dev = link_interface(index);
    let (a, b) = link_addresses(index);
    for (ns, addr) in [(ns_a, a), (ns_b, b)] {
        ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", &dev])?;
        ip(&["-n", ns, "link", "set", &dev, "up"])?;
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_get_disjoint_slash_30s() {
        assert_eq!(
            link_addresses(0),
            (Ipv4Addr::new(10, 100, 0, 1), Ipv4Addr::new(10, 100, 0, 2))
        );
        assert_eq!(
            link_addresses(64),
            (Ipv4Addr::new(10, 100, 1, 1), Ipv4Addr::new(10, 100, 1, 2))
        );
        assert_eq!(link_interface(12), "l12");
    }
}

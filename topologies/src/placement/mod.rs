//! Where a node runs: the one thing that differs between a testbed of network namespaces
//! and one of Docker containers.
//!
//! A [`Placement`] makes a node, starts its daemon, joins two nodes by a link (an address at
//! each end, the interface `l<i>` in both), shapes a link end, runs a command inside a node
//! and removes everything of a topology. Faces, routes, SFs, producers, `status` and `check`
//! (in [`crate::launch`]) go through the nodes' Unix sockets and the commands a placement
//! builds, and never ask which placement it is. Every node has a named network namespace
//! (`nfwd.<topology>.<node>`, made or attached), so shaping is the same `tc`/`nft` for all.
//!
//! One file per kind: [`netns`] (a namespace per node, veth pairs) and [`docker`] (a
//! container per node, a private Docker network per link).

pub mod docker;
pub mod netns;

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::launch::{NodeState, State};
use crate::model::{Link, Topology};
use crate::net::Shaper;

/// Which [`Placement`] a testbed uses (recorded in `state.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PlacementKind {
    /// A network namespace per node, veth pairs between them ([`netns`]).
    #[default]
    Netns,
    /// A Docker container per node, a private Docker network per link ([`docker`]).
    Docker,
}

impl PlacementKind {
    /// Every kind, in the order `down` clears them when no state says which.
    pub const ALL: [Self; 2] = [Self::Docker, Self::Netns];

    /// The kind's name, as written in `state.toml`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Netns => "netns",
            Self::Docker => "docker",
        }
    }

    /// The placement of this kind, for an existing testbed (`status`, `exec`, `down`).
    #[must_use]
    pub fn placement(self) -> Box<dyn Placement> {
        match self {
            Self::Netns => Box::new(netns::Netns),
            Self::Docker => Box::new(docker::Docker::existing()),
        }
    }
}

/// A node as the shared launcher asks a placement to make it.
#[derive(Debug, Clone)]
pub struct NodeSpec<'a> {
    /// The topology's name.
    pub topology: &'a str,
    /// The node's name.
    pub node: &'a str,
    /// Its directory (configuration, socket, logs), reachable from the launcher.
    pub dir: &'a Path,
}

/// What a placement made for a node.
#[derive(Debug, Clone)]
pub struct NodePlace {
    /// The node's named network namespace (shaping and diagnostics use it).
    pub netns: String,
    /// The node's container, if it is one.
    pub container: Option<String>,
}

/// Both ends of a link, as joined.
#[derive(Debug, Clone)]
pub struct LinkEnds {
    /// The a end's address.
    pub a_addr: String,
    /// The b end's address.
    pub b_addr: String,
    /// The interface at both ends.
    pub interface: String,
    /// What carries the link besides the interfaces (a Docker network), if anything.
    pub carrier: Option<String>,
}

/// What [`Placement::clear`] removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cleared {
    /// Named network namespaces deleted.
    pub namespaces: usize,
    /// Processes ended one by one.
    pub processes: usize,
    /// Containers removed.
    pub containers: usize,
    /// Docker networks removed.
    pub networks: usize,
}

/// Where nodes run. See the module's documentation.
pub trait Placement {
    /// The kind, recorded in the state.
    fn kind(&self) -> PlacementKind;

    /// Refuses what this placement cannot run, and gets ready (e.g. builds an image), before
    /// anything of the topology is made.
    fn prepare(&mut self, t: &Topology, progress: &mut dyn FnMut(&str)) -> Result<()>;

    /// Whether anything of topology `name` exists (then `up` refuses: `down` first).
    fn exists(&self, topology: &str) -> bool;

    /// Makes node `spec` (its daemon is not running yet).
    fn make_node(&mut self, spec: &NodeSpec<'_>) -> Result<NodePlace>;

    /// Starts the node's daemon, `argv` (`nfwd start ...`, the launcher's `nfwd` first),
    /// output to `log`; returns the pid to watch (a host pid).
    fn start_daemon(&mut self, node: &NodeState, argv: &[String], log: &Path) -> Result<u32>;

    /// Joins nodes `a` and `b` by link `index`: the interface `l<index>` at both ends, an
    /// address each, up. Called after both daemons started.
    fn join(
        &mut self,
        topology: &str,
        index: usize,
        a: &NodeState,
        b: &NodeState,
    ) -> Result<LinkEnds>;

    /// Shapes the egress of `dev` at `node` as `link` says; returns what was applied, in words.
    fn shape(&self, node: &NodeState, dev: &str, link: &Link, shaper: &Shaper) -> Result<String> {
        shaper.apply(&node.netns, dev, link)
    }

    /// Whether a node's link interfaces outlive its daemon. Namespaces keep theirs (and their
    /// addresses and shaping) through a crash; a container's namespace goes with it, so a
    /// link end of a node that is down cannot be set, and [`Placement::restore_links`] puts
    /// it back as recorded.
    fn links_outlive_daemon(&self) -> bool {
        true
    }

    /// After `node`'s daemon was started again (`restart`): puts back what the crash took
    /// from its ends of the links recorded in `state` — the interface name, up or down as
    /// recorded, the shaping of `t`'s link. Nothing to do where links outlive the daemon.
    fn restore_links(&self, _state: &State, _node: &str, _t: &Topology) -> Result<()> {
        Ok(())
    }

    /// A command running `argv` inside `node` with `env` set. `argv[0]` may be `nfwd`, the
    /// launcher's binary: it runs as the node's `nfwd` (so does a plain `nfwd` in `PATH`).
    fn command(
        &self,
        node: &NodeState,
        argv: &[String],
        env: &[(&str, String)],
        nfwd: &Path,
    ) -> Command;

    /// Ends everything of topology `name` this placement made — found by name or label even
    /// without `state` (after a crashed `up`) — and nothing else. Idempotent.
    fn clear(&self, topology: &str, state: Option<&State>) -> Result<Cleared>;
}

/// The named network namespace of a node.
#[must_use]
pub fn netns_name(topology: &str, node: &str) -> String {
    format!("nfwd.{topology}.{node}")
}

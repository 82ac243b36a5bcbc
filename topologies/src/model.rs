//! The topology file (TOML): nodes, links, producers, consumers, routes; and its validation.
//!
//! Everything a launcher or a scheduler needs is checked here, before anything is created:
//! names, references between sections, numbers, the forwarder settings of each node (merged
//! with what the launcher sets and checked as an `nfwd.toml`), the SF specifications.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nfwd_forwarder::config::Config;
use nfwd_sf_host::spec::{Artifact, SfSpec};
use nfwd_tlv::{FunctionChain, Name};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest topology or node name: namespace names are `nfwd.<topology>.<node>`.
pub const MAX_NAME_LEN: usize = 24;

/// A testbed: forwarders (nodes) joined by links, with producers, SFs and consumers on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Names the testbed's namespaces (`nfwd.<name>.<node>`) and state
    /// (`/run/nfwd-topo/<name>/`), so that two topologies can be up at once.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// How routes are made.
    #[serde(default)]
    pub routing: Routing,
    /// The forwarders.
    #[serde(default, rename = "node")]
    pub nodes: Vec<Node>,
    /// Links between two nodes (a veth pair each).
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Content published on a node (`nfwd serve`).
    #[serde(default, rename = "producer", skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<Producer>,
    /// What consumers on a node fetch (`nfwd topo check` runs them).
    #[serde(default, rename = "consumer", skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<Consumer>,
    /// Routes written out, added to the computed ones.
    #[serde(default, rename = "route", skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// What implements each scheduler SF type when a plan is applied (`nfwd topo apply`):
    /// an SF like `[[node.sf]]` whose `name` is the type (`B`); the plan gives its function
    /// name (`/fn/B`).
    #[serde(default, rename = "sf_type", skip_serializing_if = "Vec::is_empty")]
    pub sf_types: Vec<HostedSf>,
    /// The scheduler's infrastructure besides its hosts (which are the nodes), for `nfwd topo
    /// run`: `load_limit`, `function_prefix`, `inter_network_bandwidth`, `[[network]]`s,
    /// `image_repository`, `file_server`, `[[image]]`s (`docs/scheduler.md` §1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<toml::Table>,
}

/// `[routing]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    /// Compute shortest-path routes to every producer prefix and every hosted function name
    /// (link costs). Default true.
    pub computed: bool,
    /// With `computed`: every neighbour strictly closer to the destination is a next hop, with
    /// its path cost (several next hops where the graph has them); false: the best only.
    /// Default true.
    pub multipath: bool,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            computed: true,
            multipath: true,
        }
    }
}

/// One forwarder: `nfwd start` in a network namespace of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique name (letters, digits, `-`, `_`).
    pub name: String,
    /// Run an SF host on this node, with this backend. Default: `process` if the node hosts
    /// SFs, none otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sf_host: Option<SfBackend>,
    /// vCPUs the scheduler may place SF tasks on. Default 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub vcpus: u32,
    /// Speed of each vCPU in Gop/s (the scheduler's unit). Default 1.
    #[serde(default = "one_f", skip_serializing_if = "is_one_f")]
    pub speed: f64,
    /// The scheduler's network this node is in. Default `"default"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Forwarder settings: any `nfwd.toml` keys (`docs/configuration.md`) but those the
    /// launcher sets (the Unix socket, listen addresses, channel directory).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub forwarder: toml::Table,
    /// SFs hosted here.
    #[serde(default, rename = "sf", skip_serializing_if = "Vec::is_empty")]
    pub sfs: Vec<HostedSf>,
}

fn one() -> u32 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn is_one(v: &u32) -> bool {
    *v == 1
}
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one_f(v: &f64) -> bool {
    (*v - 1.0).abs() < f64::EPSILON
}

/// Where a node's SF host runs its instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SfBackend {
    /// Local processes (each as a uid of its own).
    Process,
    /// Containers on the local Docker engine (not launched by this increment).
    Docker,
}

impl SfBackend {
    /// The name `nfwd start --sf-backend` takes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Docker => "docker",
        }
    }
}

/// An SF deployed on a node's SF host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedSf {
    /// Function name, e.g. `/sf/F1`.
    pub name: String,
    /// A built-in (`nfwd sf functions`), e.g. `upper`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// Or any program reading stdin and writing stdout (`nfwd sf exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// Or an SF package the node's SF host pulls over NDN at deployment
    /// (`<prefix>/sf-package/<function>[/v=<version>]`; the node needs a package source:
    /// `[node.forwarder.sf_packages]`, `docs/sf-host.md`, "Pulling packages").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Input media type. Default `*/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<String>,
    /// Output media type. Default `application/octet-stream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
    /// Instances kept warm (0: started by the first Interest). Default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min: usize,
    /// Most instances. Default 1.
    #[serde(default = "one_usize", skip_serializing_if = "is_one_usize")]
    pub max: usize,
}

fn one_usize() -> usize {
    1
}
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one_usize(v: &usize) -> bool {
    *v == 1
}
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl HostedSf {
    /// The SF host's specification (`docs/sf-host.md`) for this SF, checked.
    pub fn spec(&self) -> Result<SfSpec> {
        let artifact = match (&self.builtin, &self.exec, &self.package) {
            (Some(function), None, None) => {
                // Caught here rather than when the first Interest starts an instance.
                let known = nfwd_sf_host::functions::list();
                if !known.iter().any(|(name, _, _)| name == function) {
                    let names: Vec<&str> = known.iter().map(|(n, _, _)| *n).collect();
                    return Err(Error::invalid(format!(
                        "sf {}: no built-in {function:?} (built-ins: {})",
                        self.name,
                        names.join(", ")
                    )));
                }
                Artifact::Builtin {
                    function: function.clone(),
                }
            }
            (None, Some(argv), None) => Artifact::Exec { argv: argv.clone() },
            (None, None, Some(name)) => Artifact::Package {
                name: name.clone(),
                pull: nfwd_sf_host::spec::PullWhen::Deploy,
            },
            _ => {
                return Err(Error::invalid(format!(
                    "sf {}: give exactly one of builtin = \"NAME\", exec = [\"CMD\", ...] or \
                     package = \"PREFIX/sf-package/FUNCTION\"",
                    self.name
                )));
            }
        };
        // The spec's own defaults, then what the topology says.
        let mut spec = SfSpec::from_toml(&format!(
            "name = {:?}\n[artifact]\nkind = \"builtin\"\nfunction = \"identity\"\n",
            self.name
        ))
        .map_err(|e| Error::invalid(format!("sf {}: {e}", self.name)))?;
        spec.artifact = artifact;
        if let Some(t) = &self.input_type {
            spec.input_type.clone_from(t);
        }
        if let Some(t) = &self.output_type {
            spec.output_type.clone_from(t);
        }
        spec.instances.min = self.min;
        spec.instances.max = self.max;
        spec.validate()
            .map_err(|e| Error::invalid(format!("sf {}: {e}", self.name)))?;
        Ok(spec)
    }
}

/// A link between two nodes: a veth pair, addresses from a private /30, shaped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// Face protocol between the two forwarders. Default `udp`.
    #[serde(default, skip_serializing_if = "FaceProtocol::is_udp")]
    pub protocol: FaceProtocol,
    /// One-way delay in milliseconds (both directions). Default 0.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub delay_ms: f64,
    /// Delay variation in milliseconds: each packet's one-way delay is drawn within
    /// `delay_ms ± jitter_ms` (at most `delay_ms`, so no delay is negative). Default 0.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub jitter_ms: f64,
    /// Packet loss in percent (each direction). Default 0.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub loss_percent: f64,
    /// Bandwidth in Mbit/s (each direction). Default: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mbit: Option<f64>,
    /// Routing cost of crossing the link. Default 1.
    #[serde(default = "one_u64", skip_serializing_if = "is_one_u64")]
    pub cost: u64,
}

fn one_u64() -> u64 {
    1
}
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one_u64(v: &u64) -> bool {
    *v == 1
}
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_f(v: &f64) -> bool {
    *v == 0.0
}

impl Link {
    /// True if the link asks for delay or loss (which need the kernel's netem, or nft for
    /// loss).
    #[must_use]
    pub fn is_shaped(&self) -> bool {
        self.delay_ms > 0.0 || self.loss_percent > 0.0 || self.bandwidth_mbit.is_some()
    }
}

/// The face protocol of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceProtocol {
    /// UDP (NFD's default between forwarders).
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// QUIC.
    Quic,
}

impl FaceProtocol {
    #[allow(clippy::trivially_copy_pass_by_ref)]
    fn is_udp(&self) -> bool {
        *self == Self::Udp
    }

    /// The face URI to reach a forwarder at `addr`.
    #[must_use]
    pub fn uri(self, addr: &str) -> String {
        match self {
            Self::Udp => format!("udp4://{addr}:6363"),
            Self::Tcp => format!("tcp4://{addr}:6363"),
            Self::Quic => format!("quic://{addr}:6367"),
        }
    }

    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Quic => "quic",
        }
    }
}

/// Content published on a node: `nfwd serve PREFIX --text T | --file F`, or an SF package
/// (`nfwd sf publish`), which nodes' SF hosts may pull as `up` deploys their SFs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    /// The node it runs on.
    pub node: String,
    /// The prefix it registers and publishes under.
    pub prefix: String,
    /// The content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Or a file (relative to the topology file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Or an SF package published under `prefix` (`PREFIX/sf-package/FUNCTION/v=VERSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sf_package: Option<PublishedPackage>,
}

/// An SF package a producer publishes: `nfwd sf publish PROGRAM --function FUNCTION --prefix
/// PREFIX --key KEY [--version VERSION]` (`docs/sf-host.md`, "SF packages").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedPackage {
    /// The program (relative to the topology file).
    pub program: PathBuf,
    /// The function name it is published as.
    pub function: String,
    /// The publisher's private key (`nfwd key generate`; relative to the topology file).
    pub key: PathBuf,
    /// The NDN version. Default: the time of publishing, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

impl Producer {
    /// The name the producer registers: its prefix, or for a package the package's name
    /// under it (`PREFIX/sf-package/FUNCTION`, what `nfwd sf publish` registers).
    #[must_use]
    pub fn registers(&self) -> String {
        match &self.sf_package {
            Some(p) => format!(
                "{}/sf-package/{}",
                self.prefix.trim_end_matches('/'),
                p.function.trim_start_matches('/')
            ),
            None => self.prefix.clone(),
        }
    }
}

/// What a consumer on a node fetches, and optionally what it must get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// The node it runs on.
    pub node: String,
    /// Content name.
    pub name: String,
    /// Function chain, head first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// The content expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

impl Consumer {
    /// The chain as `nfwd get --chain` takes it, if any.
    #[must_use]
    pub fn chain_arg(&self) -> Option<String> {
        (!self.chain.is_empty()).then(|| self.chain.join(","))
    }
}

/// A route written out: at `node`, `prefix` goes to the face towards neighbour `via`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Where the route is added.
    pub node: String,
    /// Name prefix (content or function name).
    pub prefix: String,
    /// The neighbour (a node linked to `node`).
    pub via: String,
    /// Cost. Default: the link's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
}

/// The keys of `[node.forwarder]` the launcher owns.
const LAUNCHER_KEYS: [&str; 5] = [
    "unix_path",
    "tcp_listen",
    "udp_listen",
    "quic_listen",
    "channel_dir",
];

impl Topology {
    /// Parses and validates a topology file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let t: Self = toml::from_str(text).map_err(|source| Error::Parse {
            path: origin.to_owned(),
            source,
        })?;
        t.validate()?;
        Ok(t)
    }

    /// The topology as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|source| Error::Serialize {
            what: "topology",
            source,
        })
    }

    /// Index of a node by name.
    #[must_use]
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The link between two nodes (indices), if any, with its index.
    #[must_use]
    pub fn link_between(&self, a: &str, b: &str) -> Option<(usize, &Link)> {
        self.links
            .iter()
            .enumerate()
            .find(|(_, l)| (l.a == a && l.b == b) || (l.a == b && l.b == a))
    }

    /// True if `node` runs an SF host.
    #[must_use]
    pub fn sf_backend(node: &Node) -> Option<SfBackend> {
        node.sf_host
            .or_else(|| (!node.sfs.is_empty()).then_some(SfBackend::Process))
    }

    /// Checks everything types cannot: names, references, numbers, forwarder settings, SFs.
    pub fn validate(&self) -> Result<()> {
        check_label("topology name", &self.name)?;
        if self.nodes.is_empty() {
            return Err(Error::invalid("no [[node]]"));
        }
        let mut names = BTreeSet::new();
        for node in &self.nodes {
            check_label("node name", &node.name)?;
            if !names.insert(node.name.as_str()) {
                return Err(Error::invalid(format!("duplicate node {:?}", node.name)));
            }
            if node.vcpus == 0 {
                return Err(Error::invalid(format!(
                    "node {}: vcpus must be >= 1",
                    node.name
                )));
            }
            if !(node.speed.is_finite() && node.speed > 0.0) {
                return Err(Error::invalid(format!(
                    "node {}: speed must be a positive number (Gop/s)",
                    node.name
                )));
            }
            node_config(node, Path::new("/run/nfwd-topo/check"))?;
            let mut functions = BTreeSet::new();
            for sf in &node.sfs {
                sf.spec()
                    .map_err(|e| Error::invalid(format!("node {}: {e}", node.name)))?;
                if !functions.insert(sf.name.as_str()) {
                    return Err(Error::invalid(format!(
                        "node {}: sf {} twice",
                        node.name, sf.name
                    )));
                }
            }
        }
        let known = |what: &str, name: &str| {
            if names.contains(name) {
                Ok(())
            } else {
                Err(Error::invalid(format!("{what}: unknown node {name:?}")))
            }
        };
        let mut pairs = BTreeSet::new();
        for (i, l) in self.links.iter().enumerate() {
            let what = format!("link {} ({} - {})", i + 1, l.a, l.b);
            known(&what, &l.a)?;
            known(&what, &l.b)?;
            if l.a == l.b {
                return Err(Error::invalid(format!("{what}: a node linked to itself")));
            }
            let pair = if l.a < l.b {
                (l.a.as_str(), l.b.as_str())
            } else {
                (l.b.as_str(), l.a.as_str())
            };
            if !pairs.insert(pair) {
                return Err(Error::invalid(format!(
                    "{what}: a second link between the same nodes"
                )));
            }
            if !(l.delay_ms.is_finite() && l.delay_ms >= 0.0) {
                return Err(Error::invalid(format!("{what}: delay_ms must be >= 0")));
            }
            // Above the delay, the lower bound of the draw would be a negative delay.
            if !(l.jitter_ms.is_finite() && l.jitter_ms >= 0.0 && l.jitter_ms <= l.delay_ms) {
                return Err(Error::invalid(format!(
                    "{what}: jitter_ms must be within 0..=delay_ms ({})",
                    l.delay_ms
                )));
            }
            if !(l.loss_percent.is_finite() && (0.0..=100.0).contains(&l.loss_percent)) {
                return Err(Error::invalid(format!(
                    "{what}: loss_percent must be within 0..=100"
                )));
            }
            if let Some(b) = l.bandwidth_mbit
                && !(b.is_finite() && b > 0.0)
            {
                return Err(Error::invalid(format!(
                    "{what}: bandwidth_mbit must be > 0"
                )));
            }
        }
        for p in &self.producers {
            let what = format!("producer {}", p.prefix);
            known(&what, &p.node)?;
            check_name(&what, &p.prefix)?;
            let given = [p.text.is_some(), p.file.is_some(), p.sf_package.is_some()];
            if given.iter().filter(|&&g| g).count() != 1 {
                return Err(Error::invalid(format!(
                    "{what}: give exactly one of text, file or sf_package"
                )));
            }
            if let Some(pkg) = &p.sf_package {
                check_name(&format!("{what}: sf_package function"), &pkg.function)?;
            }
        }
        for c in &self.consumers {
            let what = format!("consumer {}", c.name);
            known(&what, &c.node)?;
            check_name(&what, &c.name)?;
            if let Some(chain) = c.chain_arg() {
                chain
                    .parse::<FunctionChain>()
                    .map_err(|e| Error::invalid(format!("{what}: chain {chain:?}: {e}")))?;
            }
        }
        if self
            .scheduler
            .as_ref()
            .is_some_and(|s| s.contains_key("host"))
        {
            return Err(Error::invalid(
                "[scheduler]: no [[scheduler.host]]: the scheduler's hosts are the nodes",
            ));
        }
        let mut types = BTreeSet::new();
        for ty in &self.sf_types {
            check_label("sf_type name", &ty.name)?;
            if !types.insert(ty.name.as_str()) {
                return Err(Error::invalid(format!("sf_type {} twice", ty.name)));
            }
            self.sf_type_spec(&ty.name, "/fn/check")?;
        }
        for r in &self.routes {
            let what = format!("route {} at {}", r.prefix, r.node);
            known(&what, &r.node)?;
            known(&what, &r.via)?;
            check_name(&what, &r.prefix)?;
            if self.link_between(&r.node, &r.via).is_none() {
                return Err(Error::invalid(format!(
                    "{what}: via {} but no link joins {} and {}",
                    r.via, r.node, r.via
                )));
            }
        }
        Ok(())
    }

    /// The SF specification of scheduler SF type `ty` (a `[[sf_type]]`) deployed as
    /// `function`; an error naming the type if the file gives it no implementation.
    pub fn sf_type_spec(&self, ty: &str, function: &str) -> Result<SfSpec> {
        let Some(hosted) = self.sf_types.iter().find(|s| s.name == ty) else {
            let known: Vec<&str> = self.sf_types.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::invalid(format!(
                "SF type {ty:?} has no [[sf_type]] implementation in topology {} (it has: {})",
                self.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        let mut sf = hosted.clone();
        function.clone_into(&mut sf.name);
        sf.spec()
            .map_err(|e| Error::invalid(format!("sf_type {ty}: {e}")))
    }

    /// Every prefix some node serves itself, with the nodes that do: producer prefixes and
    /// hosted function names. Sorted, so routes come out in a stable order.
    #[must_use]
    pub fn destinations(&self) -> BTreeMap<String, BTreeSet<usize>> {
        let mut out: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for p in &self.producers {
            if let Some(i) = self.node_index(&p.node) {
                out.entry(canonical(&p.prefix)).or_default().insert(i);
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            for sf in &n.sfs {
                out.entry(canonical(&sf.name)).or_default().insert(i);
            }
        }
        out
    }

    /// The hosts of the scheduler's infrastructure (`nfwd_scheduler::Host`): one per
    /// node, `vcpus` vCPUs of `speed`, in `network`; the SFs it hosts count as images already
    /// there. What a later `topo apply PLAN` builds its problem from.
    #[must_use]
    pub fn scheduler_hosts(&self) -> Vec<nfwd_scheduler::Host> {
        self.nodes
            .iter()
            .map(|n| nfwd_scheduler::Host {
                name: n.name.clone(),
                network: n.network.clone().unwrap_or_else(|| "default".into()),
                vcpu_speeds: vec![n.speed; n.vcpus as usize],
                images: n.sfs.iter().map(|s| s.name.clone()).collect(),
                files: Vec::new(),
            })
            .collect()
    }
}

/// A prefix in its canonical URI form (so `/a/b` and `/a/b/` are one destination).
fn canonical(prefix: &str) -> String {
    prefix
        .parse::<Name>()
        .map_or_else(|_| prefix.to_owned(), |n| n.to_string())
}

fn check_label(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {name:?}: 1 to {MAX_NAME_LEN} letters, digits, '-' or '_'"
        )))
    }
}

fn check_name(what: &str, name: &str) -> Result<()> {
    match name.parse::<Name>() {
        Ok(n) if !n.is_empty() => Ok(()),
        Ok(_) => Err(Error::invalid(format!("{what}: the name / is too wide"))),
        Err(e) => Err(Error::invalid(format!("{what}: name {name:?}: {e}"))),
    }
}

/// A node's `nfwd.toml`: its `[node.forwarder]` settings plus what the launcher sets — the
/// Unix socket and channel directory under `dir`, UDP/TCP (and QUIC if `quic`) on every
/// address of the namespace. Checked as the daemon will check it.
pub fn node_config(node: &Node, dir: &Path) -> Result<String> {
    node_config_with(node, dir, false)
}

/// [`node_config`], listening for QUIC too if `quic`.
pub fn node_config_with(node: &Node, dir: &Path, quic: bool) -> Result<String> {
    let mut table = node.forwarder.clone();
    let faces = table
        .entry("faces")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(faces) = faces.as_table_mut() else {
        return Err(Error::invalid(format!(
            "node {}: forwarder.faces must be a table",
            node.name
        )));
    };
    for key in LAUNCHER_KEYS {
        if faces.contains_key(key) {
            return Err(Error::invalid(format!(
                "node {}: forwarder.faces.{key} is set by the launcher",
                node.name
            )));
        }
    }
    let path = |p: PathBuf| toml::Value::String(p.display().to_string());
    faces.insert("unix_path".into(), path(dir.join("nfwd.sock")));
    faces.insert("channel_dir".into(), path(dir.join("sf")));
    faces.insert("udp_listen".into(), "0.0.0.0:6363".into());
    faces.insert("tcp_listen".into(), "0.0.0.0:6363".into());
    if quic {
        faces.insert("quic_listen".into(), "0.0.0.0:6367".into());
    }
    // A node with package sources gets a package cache of its own, as a machine has: with
    // the default (/var/cache/nfwd/sf-packages, the host's) every node, testbed and earlier
    // run would share one, so a node would run a package another node pulled — verified
    // against that node's trust anchors, not its own — and never pull it itself.
    if let Some(packages) = table
        .get_mut("sf_packages")
        .and_then(toml::Value::as_table_mut)
        && !packages.contains_key("cache_dir")
    {
        packages.insert("cache_dir".into(), path(dir.join("sf-packages")));
    }
    let text = toml::to_string(&table).map_err(|source| Error::Serialize {
        what: "node configuration",
        source,
    })?;
    let config = Config::from_toml(&text)
        .map_err(|e| Error::invalid(format!("node {}: forwarder: {e}", node.name)))?;
    config
        .validate()
        .map_err(|e| Error::invalid(format!("node {}: forwarder: {e}", node.name)))?;
    Ok(text)
}

/// How long after a link is restored (or a neighbour restarted) node `node`'s forwarder may
/// still hold its face towards it down: a face its link liveness declared down is probed
/// every `liveness_timeout_ms` and is up again once a probe is answered, within that and a
/// tick (`liveness_interval_ms`). Zero when liveness is off (a face is never down) — and for
/// settings `nfwd start` would refuse, which `up` refused before.
#[must_use]
pub fn liveness_recovery(node: &Node) -> std::time::Duration {
    toml::to_string(&node.forwarder)
        .ok()
        .and_then(|text| Config::from_toml(&text).ok())
        .and_then(|c| c.faces.liveness())
        .map_or(std::time::Duration::ZERO, |l| l.timeout + l.interval)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LINE: &str = r#"
name = "t"
[[node]]
name = "a"
[[node]]
name = "b"
[[node.sf]]
name = "/sf/F1"
builtin = "upper"
[[link]]
a = "a"
b = "b"
delay_ms = 5
[[producer]]
node = "b"
prefix = "/p"
text = "x"
"#;

    fn err(text: &str) -> String {
        Topology::from_toml(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_small_topology_parses_with_defaults() {
        let t = Topology::from_toml(LINE, "t.toml").unwrap();
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.links[0].protocol, FaceProtocol::Udp);
        assert_eq!(t.links[0].cost, 1);
        assert!(t.routing.computed && t.routing.multipath);
        assert_eq!(Topology::sf_backend(&t.nodes[1]), Some(SfBackend::Process));
        assert_eq!(Topology::sf_backend(&t.nodes[0]), None);
        let d = t.destinations();
        assert_eq!(d["/p"], BTreeSet::from([1]));
        assert_eq!(d["/sf/F1"], BTreeSet::from([1]));
        // Round trip through TOML.
        let again = Topology::from_toml(&t.to_toml().unwrap(), "again").unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn a_producer_may_publish_an_sf_package() {
        let text = LINE.replace(
            "text = \"x\"\n",
            "[producer.sf_package]\nprogram = \"shout.sh\"\nfunction = \"/fn/shout\"\n\
             key = \"k/p.key\"\nversion = 1\n",
        );
        let t = Topology::from_toml(&text, "t.toml").unwrap();
        assert_eq!(t.producers[0].registers(), "/p/sf-package/fn/shout");
        let again = Topology::from_toml(&t.to_toml().unwrap(), "again").unwrap();
        assert_eq!(again, t);
        // With text as well: refused.
        let both = LINE.replace(
            "text = \"x\"\n",
            "text = \"x\"\n[producer.sf_package]\nprogram = \"s\"\nfunction = \"/f\"\n\
             key = \"k\"\n",
        );
        assert!(err(&both).contains("exactly one of text, file or sf_package"));
    }

    #[test]
    fn jitter_up_to_the_delay_is_accepted_and_kept() {
        let text = LINE.replace("delay_ms = 5\n", "delay_ms = 5\njitter_ms = 5\n");
        let t = Topology::from_toml(&text, "t.toml").unwrap();
        assert!((t.links[0].jitter_ms - 5.0).abs() < f64::EPSILON);
        let again = Topology::from_toml(&t.to_toml().unwrap(), "again").unwrap();
        assert_eq!(again, t);
        // Absent: none.
        let t = Topology::from_toml(LINE, "t.toml").unwrap();
        assert!(t.links[0].jitter_ms == 0.0);
    }

    #[test]
    fn mistakes_are_named() {
        let base = "name = \"t\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n";
        for (extra, needle) in [
            ("[[node]]\nname = \"a\"\n", "duplicate node \"a\""),
            ("[[link]]\na = \"a\"\nb = \"zz\"\n", "unknown node \"zz\""),
            ("[[link]]\na = \"a\"\nb = \"a\"\n", "linked to itself"),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\n[[link]]\na = \"b\"\nb = \"a\"\n",
                "second link",
            ),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\nloss_percent = 120\n",
                "loss_percent",
            ),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\ndelay_ms = 2\njitter_ms = 3\n",
                "jitter_ms must be within 0..=delay_ms (2)",
            ),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\njitter_ms = 1\n",
                "jitter_ms must be within",
            ),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\ndelay_ms = 2\njitter_ms = -1\n",
                "jitter_ms must be within",
            ),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\ndelay_ms = 2\njitter_ms = nan\n",
                "jitter_ms must be within",
            ),
            (
                "[[producer]]\nnode = \"a\"\nprefix = \"/p\"\n",
                "exactly one of text",
            ),
            (
                "[[producer]]\nnode = \"q\"\nprefix = \"/p\"\ntext = \"x\"\n",
                "unknown node \"q\"",
            ),
            (
                "[[route]]\nnode = \"a\"\nprefix = \"/p\"\nvia = \"b\"\n",
                "no link joins",
            ),
            (
                "[[consumer]]\nnode = \"a\"\nname = \"/p\"\nchain = [\"/a\", \"\"]\n",
                "chain",
            ),
            (
                "[[link]]\na = \"a\"\nb = \"b\"\nspeed = 3\n",
                "unknown field",
            ),
        ] {
            let e = err(&format!("{base}{extra}"));
            assert!(e.contains(needle), "{extra}: {e}");
        }
        assert!(err("name = \"a.b\"\n[[node]]\nname = \"a\"\n").contains("topology name"));
        assert!(err("name = \"t\"\n").contains("no [[node]]"));
        assert!(
            err(
                "name = \"t\"\n[[node]]\nname = \"a\"\n[node.forwarder.faces]\nunix_path = \"/x\"\n"
            )
            .contains("set by the launcher")
        );
        assert!(
            err("name = \"t\"\n[[node]]\nname = \"a\"\n[node.forwarder.tables]\nbogus = 1\n")
                .contains("forwarder")
        );
        assert!(
            err("name = \"t\"\n[[node]]\nname = \"a\"\n[[node.sf]]\nname = \"/f\"\n")
                .contains("exactly one of builtin")
        );
        assert!(err(
            "name = \"t\"\n[[node]]\nname = \"a\"\n[[node.sf]]\nname = \"/f\"\nbuiltin = \"upper\"\nmin = 2\n"
        )
        .contains("min"));
    }

    #[test]
    fn an_sf_may_come_from_a_package_its_node_pulls() {
        let t = Topology::from_toml(
            "name = \"t\"\n[[node]]\nname = \"a\"\n[[node.forwarder.sf_packages.source]]\n\
             prefix = \"/pkg\"\ntrust_anchor = \"/etc/nfwd/pub.cert\"\n[[node.sf]]\n\
             name = \"/sf/wc\"\npackage = \"/pkg/sf-package/sf/wc/v=3\"\n",
            "t",
        )
        .unwrap();
        let spec = t.nodes[0].sfs[0].spec().unwrap();
        assert_eq!(
            spec.artifact,
            Artifact::Package {
                name: "/pkg/sf-package/sf/wc/v=3".into(),
                pull: nfwd_sf_host::spec::PullWhen::Deploy,
            }
        );
        // A package name that is not one is refused with the SF named.
        let bad = Topology::from_toml(
            "name = \"t\"\n[[node]]\nname = \"a\"\n[[node.sf]]\nname = \"/sf/wc\"\n\
             package = \"/pkg/wc\"\n",
            "t",
        );
        let e = match bad {
            Ok(t) => t.nodes[0].sfs[0].spec().unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("/sf/wc") && e.contains("sf-package"), "{e}");
        // Its package cache is the node's own, not the host's.
        let t = Topology::from_toml(
            "name = \"t\"\n[[node]]\nname = \"a\"\n[[node.forwarder.sf_packages.source]]\n\
             prefix = \"/pkg\"\ntrust_anchor = \"/dev/null\"\n",
            "t.toml",
        )
        .unwrap();
        let text = node_config_with(&t.nodes[0], Path::new("/run/x/t/a"), false).unwrap();
        assert!(
            text.contains("cache_dir = \"/run/x/t/a/sf-packages\""),
            "{text}"
        );
    }

    #[test]
    fn node_config_sets_the_launcher_keys_and_keeps_the_rest() {
        let t = Topology::from_toml(
            "name = \"t\"\n[[node]]\nname = \"a\"\n[node.forwarder.tables]\ncs_max_entries = 7\n",
            "t",
        )
        .unwrap();
        let text = node_config_with(&t.nodes[0], Path::new("/run/x/a"), true).unwrap();
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.tables.cs_max_entries, 7);
        assert_eq!(
            c.faces.unix_path.as_deref(),
            Some(Path::new("/run/x/a/nfwd.sock"))
        );
        assert_eq!(c.faces.quic_listen, "0.0.0.0:6367");
    }

    #[test]
    fn the_shipped_examples_are_valid() {
        for (file, text) in [
            ("line.toml", include_str!("../examples/line.toml")),
            ("mesh.toml", include_str!("../examples/mesh.toml")),
        ] {
            let t = Topology::from_toml(text, file).unwrap();
            assert!(crate::routes::unreachable(&t).is_empty(), "{file}");
            assert!(!t.consumers.is_empty(), "{file}");
        }
    }

    #[test]
    fn scheduler_hosts_follow_the_nodes() {
        let t = Topology::from_toml(
            "name = \"t\"\n[[node]]\nname = \"a\"\nvcpus = 2\nspeed = 1.5\nnetwork = \"edge\"\n",
            "t",
        )
        .unwrap();
        let h = t.scheduler_hosts();
        assert_eq!(h[0].vcpu_speeds, vec![1.5, 1.5]);
        assert_eq!(h[0].network, "edge");
    }
}

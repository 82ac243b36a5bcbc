//! `nfwd topo apply PLAN`: a scheduler's plan (`nfwd_scheduler::Plan`) made real on a running
//! testbed.
//!
//! The plan says which SF types run on which nodes and, per node, where function names go
//! (`local` or another node). A route to a node that is not a neighbour becomes routes along
//! a shortest path of the topology, each node on it routing the function onwards, up to the
//! first that runs the function or has a plan route of its own for it. Applying it:
//!
//! 1. checks everything first — plan nodes are nodes of the topology with an SF host, every SF
//!    type has an implementation (`[[sf_type]]` in the topology file), every route's next hop
//!    runs the function and can be reached — so a bad plan changes nothing;
//! 2. deploys the new SF instances (through each node's SF host, as `up` does) and waits until
//!    each has registered its function name;
//! 3. registers the new routes: the plan's own, plus, on the nodes the plan says nothing about
//!    for a function (consumers, producers, transit nodes), shortest-path routes towards the
//!    nearest node running it (unless `[routing] computed = false`);
//! 4. only then unregisters the routes the new plan no longer has, and
//! 5. undeploys the SFs it no longer places, each once its in-flight requests are answered.
//!
//! Additions before removals: a request under way always finds its function somewhere. What
//! was installed is recorded in `<state>/<topology>/applied-plan.toml`, which the next apply
//! diffs against and `status` shows. Plan routes use an origin of their own
//! ([`PLAN_ROUTE_ORIGIN`]), so unregistering them never removes a route of the topology file
//! (origin 255, static), and SFs the topology file deploys itself are never undeployed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nfwd_forwarder::client::Client;
use nfwd_scheduler::Plan;
use nfwd_tlv::Name;
use nfwd_tlv::nfd::{ControlParameters, RibEntry};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::launch::{self, State, dataset};
use crate::model::Topology;
use crate::routes::{self, Faults};

/// The RIB origin of the routes a plan installs (NFD leaves 254 unassigned): apart from the
/// topology's static routes (255) and the SFs' own registrations (0), so each can be removed
/// alone.
pub const PLAN_ROUTE_ORIGIN: u64 = 254;

/// The file, in the topology's state directory, that records the applied plan.
pub const APPLIED_FILE: &str = "applied-plan.toml";

/// One SF instance a plan placed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlacedSf {
    /// The node.
    pub node: String,
    /// The function name it serves, e.g. `/fn/B`.
    pub function: String,
    /// The scheduler's SF type, e.g. `B`.
    pub sf_type: String,
}

/// One route a plan installed: at `node`, `prefix` through the face towards `via`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlanRouteEntry {
    /// The node.
    pub node: String,
    /// The function name, canonical URI.
    pub prefix: String,
    /// The neighbour.
    pub via: String,
    /// Route cost.
    pub cost: u64,
    /// Whether the plan named it (`false`: computed towards the nearest instance).
    pub from_plan: bool,
}

impl PlanRouteEntry {
    pub(crate) fn key(&self) -> (&str, &str, &str) {
        (&self.node, &self.prefix, &self.via)
    }
}

/// What a plan asks of the testbed, checked against the topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The SF instances.
    pub sfs: Vec<PlacedSf>,
    /// Their specifications (TOML, as the SF host takes it), by (node, function).
    pub specs: BTreeMap<(String, String), String>,
    /// The routes.
    pub routes: Vec<PlanRouteEntry>,
    /// The nodes running each function (the plan's and the topology file's), for the
    /// routes towards the nearest one.
    pub runners: BTreeMap<String, Vec<String>>,
}

/// What is applied now, as recorded in [`APPLIED_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// The plan file.
    pub source: PathBuf,
    /// The algorithm that made the plan.
    pub algorithm: String,
    /// The plan's predicted response time, s.
    pub makespan: f64,
    /// Unix time the apply finished.
    pub applied_unix_s: u64,
    /// False if the apply stopped half-way (what is recorded is what is installed).
    pub complete: bool,
    /// SF instances deployed by plans.
    #[serde(default)]
    pub sf: Vec<PlacedSf>,
    /// Routes registered by plans.
    #[serde(default)]
    pub route: Vec<PlanRouteEntry>,
    /// The nodes running each function, which the routes towards the nearest one are
    /// recomputed from after a fault (absent in files from before: then they are not).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runners: BTreeMap<String, Vec<String>>,
}

impl Applied {
    fn path(root: &Path, topology: &str) -> PathBuf {
        root.join(topology).join(APPLIED_FILE)
    }

    /// The applied plan of `topology`, if one was applied.
    pub fn load(root: &Path, topology: &str) -> Result<Option<Self>> {
        let path = Self::path(root, topology);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|source| Error::Parse {
                    path: path.display().to_string(),
                    source,
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    pub(crate) fn save(&self, root: &Path, topology: &str) -> Result<()> {
        let text = toml::to_string(self).map_err(|source| Error::Serialize {
            what: "applied plan",
            source,
        })?;
        launch::write(&Self::path(root, topology), &text)
    }

    /// One paragraph for `nfwd topo status`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let nodes: BTreeSet<&str> = self.sf.iter().map(|p| p.node.as_str()).collect();
        let _ = writeln!(
            s,
            "plan {} ({}, predicted response {:.3} s){}: {} SF instances on {} nodes, {} routes",
            self.source.display(),
            self.algorithm,
            self.makespan,
            if self.complete {
                ""
            } else {
                " HALF-APPLIED (apply again)"
            },
            self.sf.len(),
            nodes.len(),
            self.route.len()
        );
        for p in &self.sf {
            let _ = writeln!(
                s,
                "  plan sf    {:<10} {} ({})",
                p.node, p.function, p.sf_type
            );
        }
        s
    }
}

fn plan_error(msg: impl Into<String>) -> Error {
    Error::Plan(msg.into())
}

fn canonical_function(prefix: &str, what: &str) -> Result<String> {
    match prefix.parse::<Name>() {
        Ok(n) if !n.is_empty() => Ok(n.to_string()),
        Ok(_) => Err(plan_error(format!("{what}: the prefix / is too wide"))),
        Err(e) => Err(plan_error(format!("{what}: {prefix:?} is not a name: {e}"))),
    }
}

/// Reads a plan file (`nfwd schedule plan --out`).
pub fn read_plan(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Plan::from_toml_str(&text).map_err(|e| plan_error(format!("{}: {e}", path.display())))
}

/// Checks `plan` against topology `t` and says what it asks for. Nothing here touches the
/// system; every error names the offending node, SF type or route.
pub fn desired(t: &Topology, plan: &Plan) -> Result<Desired> {
    desired_on(t, plan, &Faults::default())
}

/// [`desired`] on the live graph of a testbed with `faults`: the routes towards the nearest
/// node running a function are computed as [`nearest_routes`] does, for the nodes the plan
/// gives no route for the function and those whose plan routes for it all lead over a cut
/// link or to a node that is down. The plan's own routes are the plan's, whatever the
/// faults.
pub fn desired_on(t: &Topology, plan: &Plan, faults: &Faults) -> Result<Desired> {
    let node_names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    // Function name of each SF type, from the plan's `local` routes.
    let mut function_of: BTreeMap<String, String> = BTreeMap::new();
    let mut runners: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut sfs = Vec::new();
    let mut specs = BTreeMap::new();
    let mut seen_nodes = BTreeSet::new();
    for pn in &plan.node {
        let Some(i) = t.node_index(&pn.name) else {
            return Err(plan_error(format!(
                "node {:?} is not a node of topology {} (nodes: {})",
                pn.name,
                t.name,
                node_names.join(", ")
            )));
        };
        if !seen_nodes.insert(pn.name.as_str()) {
            return Err(plan_error(format!("node {} appears twice", pn.name)));
        }
        let node = &t.nodes[i];
        if !pn.sf.is_empty() && Topology::sf_backend(node).is_none() {
            return Err(plan_error(format!(
                "node {} runs no SF host, so it cannot run {} (give it sf_host = \"process\" \
                 in the topology file)",
                pn.name,
                pn.sf.join(", ")
            )));
        }
        let mut local = BTreeMap::new();
        for r in pn.route.iter().filter(|r| r.next_hop == "local") {
            let what = format!("node {}: route {} -> local", pn.name, r.prefix);
            let f = canonical_function(&r.prefix, &what)?;
            let ty = f.rsplit('/').next().unwrap_or_default().to_owned();
            local.insert(ty, f);
        }
        let mut types = BTreeSet::new();
        for ty in &pn.sf {
            if !types.insert(ty.as_str()) {
                return Err(plan_error(format!("node {}: SF type {ty} twice", pn.name)));
            }
            let Some(f) = local.get(ty) else {
                return Err(plan_error(format!(
                    "node {} runs SF type {ty} but has no `route -> local` giving its function \
                     name (e.g. /fn/{ty})",
                    pn.name
                )));
            };
            match function_of.get(ty) {
                Some(other) if other != f => {
                    return Err(plan_error(format!(
                        "SF type {ty} is {other} on one node and {f} on node {}",
                        pn.name
                    )));
                }
                _ => {
                    function_of.insert(ty.clone(), f.clone());
                }
            }
            let spec = t
                .sf_type_spec(ty, f)
                .map_err(|e| plan_error(format!("node {}: {e}", pn.name)))?;
            let text = toml::to_string(&spec).map_err(|source| Error::Serialize {
                what: "SF specification",
                source,
            })?;
            runners.entry(f.clone()).or_default().insert(i);
            // An SF the topology file deploys on this node itself stays the file's.
            if node.sfs.iter().any(|s| canonical(&s.name) == *f) {
                continue;
            }
            specs.insert((pn.name.clone(), f.clone()), text);
            sfs.push(PlacedSf {
                node: pn.name.clone(),
                function: f.clone(),
                sf_type: ty.clone(),
            });
        }
        for (ty, f) in &local {
            if !types.contains(ty.as_str()) {
                return Err(plan_error(format!(
                    "node {}: route {f} -> local, but the node runs no SF of type {ty}",
                    pn.name
                )));
            }
        }
    }
    // The plan's routes towards other nodes. First which nodes the plan routes each function
    // at, so a path through one of them stops there.
    let planned: BTreeSet<(usize, String)> = plan
        .node
        .iter()
        .filter_map(|pn| Some((t.node_index(&pn.name)?, pn)))
        .flat_map(|(i, pn)| {
            pn.route
                .iter()
                .filter(|r| r.next_hop != "local")
                .filter_map(move |r| Some((i, canonical_function(&r.prefix, "").ok()?)))
        })
        .collect();
    let mut routes_out = BTreeMap::new();
    let mut routed: BTreeSet<(usize, String)> = BTreeSet::new();
    for pn in &plan.node {
        let Some(i) = t.node_index(&pn.name) else {
            continue;
        };
        for r in pn.route.iter().filter(|r| r.next_hop != "local") {
            let what = format!("node {}: route {} -> {}", pn.name, r.prefix, r.next_hop);
            let f = canonical_function(&r.prefix, &what)?;
            let Some(j) = t.node_index(&r.next_hop) else {
                return Err(plan_error(format!(
                    "{what}: {} is not a node of topology {}",
                    r.next_hop, t.name
                )));
            };
            if !runners.get(&f).is_some_and(|n| n.contains(&j)) {
                return Err(plan_error(format!(
                    "{what}: the plan runs {f} nowhere on {}",
                    r.next_hop
                )));
            }
            // A neighbour is one hop; a node further away is reached along a shortest path
            // of the whole graph, each node on it routing the function onwards, up to the
            // first that runs it or has a plan route of its own for it.
            let hops = match t.link_between(&pn.name, &r.next_hop) {
                Some((_, link)) => vec![(i, j, link.cost)],
                None => routes::path(t, i, j, &Faults::default()).ok_or_else(|| {
                    plan_error(format!(
                        "{what}: no path from {} to {} in the topology",
                        pn.name, r.next_hop
                    ))
                })?,
            };
            let mut path = Vec::new();
            for (k, &(u, v, cost)) in hops.iter().enumerate() {
                let onward = runners.get(&f).is_some_and(|n| n.contains(&u))
                    || planned.contains(&(u, f.clone()));
                if k > 0 && onward {
                    break;
                }
                path.push((u, v, cost));
            }
            // A plan route over a cut link or through a node that is down leaves the nodes
            // on it to the nearest instance while the fault lasts.
            let live = path.iter().all(|&(u, v, _)| faults.hop_live(t, u, v));
            for (u, v, cost) in path {
                if live {
                    routed.insert((u, f.clone()));
                }
                routes_out.insert(
                    (t.nodes[u].name.clone(), f.clone(), t.nodes[v].name.clone()),
                    (cost, true),
                );
            }
        }
    }
    // Everyone else: towards the nearest instance.
    for r in nearest_routes(t, &runners, &routed, faults) {
        routes_out
            .entry((r.node, r.prefix, r.via))
            .or_insert((r.cost, false));
    }
    sfs.sort();
    Ok(Desired {
        sfs,
        specs,
        runners: runners
            .iter()
            .map(|(f, nodes)| {
                let names = nodes.iter().map(|&i| t.nodes[i].name.clone()).collect();
                (f.clone(), names)
            })
            .collect(),
        routes: routes_out
            .into_iter()
            .map(|((node, prefix, via), (cost, from_plan))| PlanRouteEntry {
                node,
                prefix,
                via,
                cost,
                from_plan,
            })
            .collect(),
    })
}

/// The routes a plan gets on the nodes it gives no route for a function: towards the nearest
/// live node running it (`runners`, by node index), on the live graph (unless `[routing]
/// computed = false`); none at a node the plan routes the function at (`routed`) or whose
/// topology file hosts it.
#[must_use]
pub fn nearest_routes(
    t: &Topology,
    runners: &BTreeMap<String, BTreeSet<usize>>,
    routed: &BTreeSet<(usize, String)>,
    faults: &Faults,
) -> Vec<PlanRouteEntry> {
    let mut out = Vec::new();
    if !t.routing.computed {
        return out;
    }
    for (f, servers) in runners {
        let servers: Vec<usize> = servers.iter().copied().collect();
        for (u, v, cost) in routes::towards_live(t, &servers, faults) {
            if routed.contains(&(u, f.clone()))
                || t.nodes[u].sfs.iter().any(|s| canonical(&s.name) == *f)
            {
                continue;
            }
            out.push(PlanRouteEntry {
                node: t.nodes[u].name.clone(),
                prefix: f.clone(),
                via: t.nodes[v].name.clone(),
                cost,
                from_plan: false,
            });
        }
    }
    out
}

/// What a fault (or a repair) changes in an applied plan's routes: the routes towards the
/// nearest node running each function recomputed on the live graph (`faults`), as
/// registrations and removals — for the nodes the plan gives no route for a function, and
/// for those whose plan routes for it all lead over a cut link or to a node that is down;
/// the plan's own routes stay as the plan gave them. Routes at
/// nodes that are down are not counted as installed (their RIB died with them). Nothing if
/// the file predates the record of runners.
#[must_use]
pub fn nearest_change(
    t: &Topology,
    applied: &Applied,
    faults: &Faults,
) -> (Vec<PlanRouteEntry>, Vec<PlanRouteEntry>) {
    if applied.runners.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let index = |name: &str| t.node_index(name);
    let runners: BTreeMap<String, BTreeSet<usize>> = applied
        .runners
        .iter()
        .map(|(f, nodes)| (f.clone(), nodes.iter().filter_map(|n| index(n)).collect()))
        .collect();
    // Plan routes that lead nowhere now (a cut link, a node down) leave their node to the
    // nearest instance while the fault lasts.
    let routed: BTreeSet<(usize, String)> = applied
        .route
        .iter()
        .filter(|r| r.from_plan)
        .filter_map(|r| {
            let (node, via) = (index(&r.node)?, index(&r.via)?);
            faults
                .hop_live(t, node, via)
                .then(|| (node, r.prefix.clone()))
        })
        .collect();
    let wanted = nearest_routes(t, &runners, &routed, faults);
    let installed: Vec<&PlanRouteEntry> = applied
        .route
        .iter()
        .filter(|r| !r.from_plan)
        .filter(|r| index(&r.node).is_some_and(|i| !faults.nodes_down.contains(&i)))
        .collect();
    let register = wanted
        .iter()
        .filter(|w| {
            !installed
                .iter()
                .any(|i| i.key() == w.key() && i.cost == w.cost)
        })
        .cloned()
        .collect();
    let unregister = installed
        .into_iter()
        .filter(|i| !wanted.iter().any(|w| w.key() == i.key()))
        .cloned()
        .collect();
    (register, unregister)
}

fn canonical(prefix: &str) -> String {
    prefix
        .parse::<Name>()
        .map_or_else(|_| prefix.to_owned(), |n| n.to_string())
}

/// The change from what is applied to what is desired: additions, then removals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// SFs to deploy.
    pub deploy: Vec<PlacedSf>,
    /// Routes to register.
    pub register: Vec<PlanRouteEntry>,
    /// Routes to unregister.
    pub unregister: Vec<PlanRouteEntry>,
    /// SFs to undeploy.
    pub undeploy: Vec<PlacedSf>,
}

impl Change {
    /// True if nothing changes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.deploy.is_empty()
            && self.register.is_empty()
            && self.unregister.is_empty()
            && self.undeploy.is_empty()
    }
}

/// What to do to go from `previous` (nothing if `None`) to `desired`.
#[must_use]
pub fn diff(previous: Option<&Applied>, desired: &Desired) -> Change {
    let (old_sfs, old_routes) = previous.map_or((&[][..], &[][..]), |a| (&a.sf[..], &a.route[..]));
    let sf_key = |p: &PlacedSf| (p.node.clone(), p.function.clone());
    let old_sf: BTreeSet<_> = old_sfs.iter().map(sf_key).collect();
    let new_sf: BTreeSet<_> = desired.sfs.iter().map(sf_key).collect();
    let old_route: BTreeSet<_> = old_routes.iter().map(PlanRouteEntry::key).collect();
    let new_route: BTreeSet<_> = desired.routes.iter().map(PlanRouteEntry::key).collect();
    Change {
        deploy: desired
            .sfs
            .iter()
            .filter(|p| !old_sf.contains(&sf_key(p)))
            .cloned()
            .collect(),
        register: desired
            .routes
            .iter()
            .filter(|r| !old_route.contains(&r.key()))
            .cloned()
            .collect(),
        unregister: old_routes
            .iter()
            .filter(|r| !new_route.contains(&r.key()))
            .cloned()
            .collect(),
        undeploy: old_sfs
            .iter()
            .filter(|p| !new_sf.contains(&sf_key(p)))
            .cloned()
            .collect(),
    }
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Where testbeds keep their state.
    pub state_root: PathBuf,
    /// The plan file (recorded, shown by `status`).
    pub source: PathBuf,
    /// How long SF hosts may take to deploy and register.
    pub timeout: Duration,
    /// How long an SF being removed may take to answer what it is working on.
    pub drain: Duration,
}

/// Applies `plan` to the running topology `name`. On an error half-way, what was installed
/// so far is recorded (marked incomplete), so applying again (this plan or another) finishes
/// or undoes it.
pub fn apply(
    name: &str,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Change> {
    let _lock = launch::lock(&opts.state_root, name, progress)?;
    let state = State::load(&opts.state_root, name)?;
    let t = Topology::from_file(&opts.state_root.join(name).join("topology.toml"))?;
    // Routes towards the nearest instance avoid what is cut or down now, as the topology's
    // own routes do (`crate::reroute`).
    let wanted = desired_on(&t, plan, &crate::reroute::faults_of(&state, &t))?;
    let previous = Applied::load(&opts.state_root, name)?;
    let change = diff(previous.as_ref(), &wanted);
    // Every face a route needs exists, and every SF node runs an SF host, before any change.
    for r in &change.register {
        let node = state.node(&r.node)?;
        if !node.faces.contains_key(&r.via) {
            return Err(Error::node(
                &r.node,
                format!("no face towards {} (for {})", r.via, r.prefix),
            ));
        }
    }
    for p in &change.deploy {
        if !state.node(&p.node)?.sf_host {
            return Err(Error::node(&p.node, "was started without an SF host"));
        }
    }
    let mut installed = previous.unwrap_or(Applied {
        source: opts.source.clone(),
        algorithm: plan.algorithm.clone(),
        makespan: plan.makespan,
        applied_unix_s: 0,
        complete: false,
        sf: Vec::new(),
        route: Vec::new(),
        runners: BTreeMap::new(),
    });
    installed.complete = false;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
    let result = rt.block_on(run_change(
        &state,
        &wanted,
        &change,
        opts,
        &mut installed,
        progress,
    ));
    if result.is_ok() {
        installed.source.clone_from(&opts.source);
        installed.algorithm.clone_from(&plan.algorithm);
        installed.makespan = plan.makespan;
        installed.complete = true;
        installed.sf.clone_from(&wanted.sfs);
        installed.route.clone_from(&wanted.routes);
        installed.runners.clone_from(&wanted.runners);
    }
    installed.applied_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    installed.save(&opts.state_root, name)?;
    result.map(|()| change)
}

async fn run_change(
    state: &State,
    wanted: &Desired,
    change: &Change,
    opts: &ApplyOptions,
    installed: &mut Applied,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let deadline = Instant::now() + opts.timeout;
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    let touched = change
        .deploy
        .iter()
        .chain(&change.undeploy)
        .map(|p| p.node.as_str())
        .chain(
            change
                .register
                .iter()
                .chain(&change.unregister)
                .map(|r| r.node.as_str()),
        );
    for n in touched {
        if !clients.contains_key(n) {
            let node = state.node(n)?;
            clients.insert(n.to_owned(), launch::connect_daemon(node, deadline).await?);
        }
    }
    let client = |n: &str| {
        clients
            .get(n)
            .ok_or_else(|| Error::node(n, "no connection (internal)"))
    };

    // 1. New SFs, each until its function name is routed on its node.
    for p in &change.deploy {
        let node = state.node(&p.node)?;
        let spec = wanted
            .specs
            .get(&(p.node.clone(), p.function.clone()))
            .ok_or_else(|| Error::node(&p.node, format!("no specification for {}", p.function)))?;
        let c = client(&p.node)?;
        launch::deploy(c, node, &p.function, spec, deadline).await?;
        installed.sf.push(p.clone());
        wait_registered(c, &p.node, &p.function, deadline).await?;
        progress(&format!(
            "+ sf    {:<10} {} ({})",
            p.node, p.function, p.sf_type
        ));
    }
    // 2. New routes.
    for r in &change.register {
        let node = state.node(&r.node)?;
        let face = node.faces.get(&r.via).copied().ok_or_else(|| {
            Error::node(
                &r.node,
                format!("no face towards {} (for {})", r.via, r.prefix),
            )
        })?;
        let params = route_params(r, face)?;
        client(&r.node)?
            .command("rib", "register", &params)
            .await
            .map_err(|e| Error::node(&r.node, format!("rib/register {}: {e}", r.prefix)))?;
        installed.route.push(r.clone());
        progress(&format!(
            "+ route {:<10} {} -> {}{}",
            r.node,
            r.prefix,
            r.via,
            if r.from_plan { "" } else { " (nearest)" }
        ));
    }
    // 3. Old routes, now that every function has its new place.
    for r in &change.unregister {
        let node = state.node(&r.node)?;
        if let Some(face) = node.faces.get(&r.via).copied() {
            let mut params = route_params(r, face)?;
            params.cost = None;
            client(&r.node)?
                .command("rib", "unregister", &params)
                .await
                .map_err(|e| Error::node(&r.node, format!("rib/unregister {}: {e}", r.prefix)))?;
        }
        installed.route.retain(|x| x.key() != r.key());
        progress(&format!("- route {:<10} {} -> {}", r.node, r.prefix, r.via));
    }
    // 4. Old SFs, once what they are working on is answered.
    for p in &change.undeploy {
        let c = client(&p.node)?;
        let waited = drain(c, &p.function, opts.drain).await;
        let resp = nfwd_sf_host::host::protocol::command(
            c,
            "undeploy",
            bytes::Bytes::from(p.function.clone()),
        )
        .await
        .map_err(|e| Error::node(&p.node, format!("undeploy {}: {e}", p.function)))?;
        // 404: already gone (an earlier apply stopped after undeploying it).
        if !resp.is_ok() && resp.status_code != 404 {
            return Err(Error::node(
                &p.node,
                format!(
                    "undeploy {} refused ({}): {}",
                    p.function, resp.status_code, resp.status_text
                ),
            ));
        }
        installed
            .sf
            .retain(|x| !(x.node == p.node && x.function == p.function));
        progress(&format!(
            "- sf    {:<10} {} (drained in {:.2} s)",
            p.node,
            p.function,
            waited.as_secs_f64()
        ));
    }
    Ok(())
}

pub(crate) fn route_params(r: &PlanRouteEntry, face: u64) -> Result<ControlParameters> {
    let name: Name = r
        .prefix
        .parse()
        .map_err(|e| plan_error(format!("route {}: {e}", r.prefix)))?;
    Ok(ControlParameters {
        name: Some(name),
        face_id: Some(face),
        cost: Some(r.cost),
        origin: Some(PLAN_ROUTE_ORIGIN),
        ..ControlParameters::default()
    })
}

/// Waits until `function` is in `node`'s RIB (the new SF registered it).
pub(crate) async fn wait_registered(
    client: &Client,
    node: &str,
    function: &str,
    deadline: Instant,
) -> Result<()> {
    let want: Name = function
        .parse()
        .map_err(|e| plan_error(format!("{function}: {e}")))?;
    loop {
        if let Ok(rib) = dataset::<RibEntry>(client, "rib/list").await
            && rib.iter().any(|e| e.name == want)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::node(
                node,
                format!("{function} was deployed but never registered"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (at most `limit`) until `function`'s instances have answered every request sent to
/// them, seen twice in a row so that an Interest on its way in is counted; returns the wait.
async fn drain(client: &Client, function: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut quiet = 0;
    while started.elapsed() < limit {
        let busy = match nfwd_sf_host::host::protocol::stats(client).await {
            Ok(stats) => stats
                .iter()
                .find(|s| s.name == function)
                .is_some_and(|s| s.requests > s.answers + s.nacks),
            Err(_) => false,
        };
        quiet = if busy { 0 } else { quiet + 1 };
        if quiet >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TOPO: &str = r#"
name = "t"
[[node]]
name = "consumer"
[[node]]
name = "a"
sf_host = "process"
[[node]]
name = "b"
sf_host = "process"
[[node]]
name = "c"
sf_host = "process"
[[node]]
name = "producer"
[[link]]
a = "consumer"
b = "a"
[[link]]
a = "a"
b = "b"
[[link]]
a = "a"
b = "c"
[[link]]
a = "b"
b = "producer"
[[link]]
a = "c"
b = "producer"
[[sf_type]]
name = "up"
builtin = "upper"
[[sf_type]]
name = "wk"
builtin = "work"
"#;

    fn plan(wk_on: &str) -> Plan {
        Plan::from_toml_str(&format!(
            r#"
algorithm = "test"
makespan = 1.0
task = []
[[node]]
name = "a"
sf = ["up"]
pull_images = []
fetch_files = []
route = [{{ prefix = "/fn/up", next_hop = "local" }}, {{ prefix = "/fn/wk", next_hop = "{wk_on}" }}]
[[node]]
name = "{wk_on}"
sf = ["wk"]
pull_images = []
fetch_files = []
route = [{{ prefix = "/fn/wk", next_hop = "local" }}]
"#
        ))
        .unwrap()
    }

    fn topo() -> Topology {
        Topology::from_toml(TOPO, "t").unwrap()
    }

    fn has(d: &Desired, node: &str, prefix: &str, via: &str) -> bool {
        d.routes
            .iter()
            .any(|r| r.node == node && r.prefix == prefix && r.via == via)
    }

    #[test]
    fn a_plan_places_sfs_and_routes_everyone_to_them() {
        let d = desired(&topo(), &plan("b")).unwrap();
        let placed: Vec<(&str, &str)> = d
            .sfs
            .iter()
            .map(|p| (p.node.as_str(), p.function.as_str()))
            .collect();
        assert_eq!(placed, [("a", "/fn/up"), ("b", "/fn/wk")]);
        assert!(has(&d, "a", "/fn/wk", "b")); // the plan's
        assert!(has(&d, "consumer", "/fn/up", "a")); // nearest
        assert!(has(&d, "consumer", "/fn/wk", "a"));
        assert!(
            !d.routes
                .iter()
                .any(|r| r.node == "a" && r.prefix == "/fn/up")
        );
        assert!(d.specs[&("b".into(), "/fn/wk".into())].contains("work"));
    }

    #[test]
    fn moving_an_sf_adds_the_new_and_removes_the_old() {
        let t = topo();
        let first = desired(&t, &plan("b")).unwrap();
        let applied = Applied {
            source: "p1".into(),
            algorithm: "test".into(),
            makespan: 1.0,
            applied_unix_s: 0,
            complete: true,
            sf: first.sfs,
            route: first.routes,
            runners: first.runners,
        };
        let second = desired(&t, &plan("c")).unwrap();
        let change = diff(Some(&applied), &second);
        let deployed: Vec<&str> = change.deploy.iter().map(|p| p.node.as_str()).collect();
        let undeployed: Vec<&str> = change.undeploy.iter().map(|p| p.node.as_str()).collect();
        assert_eq!(deployed, ["c"]);
        assert_eq!(undeployed, ["b"]);
        assert!(
            change
                .register
                .iter()
                .any(|r| r.node == "a" && r.via == "c")
        );
        assert!(
            change
                .unregister
                .iter()
                .any(|r| r.node == "a" && r.via == "b")
        );
        // The same plan again changes nothing.
        let again = Applied {
            sf: second.sfs.clone(),
            route: second.routes.clone(),
            ..applied
        };
        assert!(diff(Some(&again), &second).is_empty());
    }

    #[test]
    fn bad_plans_are_refused_naming_the_culprit() {
        let t = topo();
        let err = |p: Plan| desired(&t, &p).unwrap_err().to_string();
        let mut p = plan("b");
        p.node[1].name = "mars".into();
        assert!(err(p).contains("mars"), "unknown node");
        let mut p = plan("b");
        p.node[1].sf = vec!["zz".into()];
        p.node[1].route[0].prefix = "/fn/zz".into();
        assert!(err(p).contains("\"zz\""), "no implementation");
        // consumer is not a neighbour of b.
        let mut p = plan("b");
        p.node[1].route.push(nfwd_scheduler::PlanRoute {
            prefix: "/fn/up".into(),
            next_hop: "producer".into(),
        });
        assert!(err(p).contains("producer"), "next hop runs nothing");
        let mut p = plan("b");
        p.node[0].route[1].next_hop = "producer".into();
        assert!(
            err(p).contains("runs /fn/wk nowhere on producer"),
            "runs nothing"
        );
        let mut p = plan("b");
        p.node[0].name = "consumer".into();
        assert!(err(p).contains("no SF host"), "no SF host");
        let mut p = plan("b");
        p.node[1].route.clear();
        assert!(err(p).contains("route -> local"), "no function name");
    }

    #[test]
    fn a_plan_route_to_a_node_further_away_is_routed_along_a_shortest_path() {
        let t = topo();
        // wk on b and c; the consumer (two hops from either) sends wk to c.
        let p = Plan::from_toml_str(
            r#"
algorithm = "test"
makespan = 1.0
task = []
[[node]]
name = "consumer"
sf = []
pull_images = []
fetch_files = []
route = [{ prefix = "/fn/wk", next_hop = "c" }]
[[node]]
name = "b"
sf = ["wk"]
pull_images = []
fetch_files = []
route = [{ prefix = "/fn/wk", next_hop = "local" }]
[[node]]
name = "c"
sf = ["wk"]
pull_images = []
fetch_files = []
route = [{ prefix = "/fn/wk", next_hop = "local" }]
"#,
        )
        .unwrap();
        let d = desired(&t, &p).unwrap();
        let plan_route = |node: &str, via: &str| {
            d.routes
                .iter()
                .any(|r| r.node == node && r.prefix == "/fn/wk" && r.via == via && r.from_plan)
        };
        assert!(plan_route("consumer", "a"));
        // a carries it on to c, the plan's choice, and gets no nearest route to b.
        assert!(plan_route("a", "c"));
        assert!(!has(&d, "a", "/fn/wk", "b"));
        // The hop costs are the path's: consumer 2, a 1.
        let cost = |node: &str| d.routes.iter().find(|r| r.node == node).map(|r| r.cost);
        assert_eq!(cost("consumer"), Some(2));
        assert_eq!(cost("a"), Some(1));

        // A node on the way with a plan route of its own keeps it: the path stops there.
        let mut p2 = p;
        p2.node.push(nfwd_scheduler::PlanNode {
            name: "a".into(),
            sf: vec![],
            pull_images: vec![],
            fetch_files: vec![],
            route: vec![nfwd_scheduler::PlanRoute {
                prefix: "/fn/wk".into(),
                next_hop: "b".into(),
            }],
        });
        let d2 = desired(&t, &p2).unwrap();
        assert!(has(&d2, "consumer", "/fn/wk", "a"));
        assert!(has(&d2, "a", "/fn/wk", "b"));
        assert!(!has(&d2, "a", "/fn/wk", "c"));
    }

    #[test]
    fn routes_towards_the_nearest_instance_follow_faults_and_the_plans_own_stay() {
        let t = topo();
        let d = desired(&t, &plan("b")).unwrap();
        let applied = Applied {
            source: "p".into(),
            algorithm: "test".into(),
            makespan: 1.0,
            applied_unix_s: 0,
            complete: true,
            sf: d.sfs,
            route: d.routes,
            runners: d.runners,
        };
        // What is recorded reads back the same (the runners included).
        let text = toml::to_string(&applied).unwrap();
        assert_eq!(toml::from_str::<Applied>(&text).unwrap(), applied);
        assert!(has_route(&applied, "producer", "/fn/wk", "b"));
        let i = |n: &str| t.node_index(n).unwrap();
        let nothing = Faults::default();
        assert_eq!(nearest_change(&t, &applied, &nothing), (vec![], vec![]));

        // b-producer cut: the producer reaches wk through c and a.
        let cut = Faults {
            links_down: [t.link_between("b", "producer").unwrap().0].into(),
            ..Faults::default()
        };
        let (add, remove) = nearest_change(&t, &applied, &cut);
        let keys = |v: &[PlanRouteEntry]| -> Vec<(String, String, String)> {
            v.iter()
                .map(|r| (r.node.clone(), r.prefix.clone(), r.via.clone()))
                .collect()
        };
        assert!(keys(&add).contains(&("producer".into(), "/fn/wk".into(), "c".into())));
        assert!(keys(&remove).contains(&("producer".into(), "/fn/wk".into(), "b".into())));
        assert!(add.iter().chain(&remove).all(|r| !r.from_plan));

        // a-b cut: a's plan route to b leads nowhere, so a gets the nearest (through c) as
        // well while the cut lasts; the plan's route stays.
        let cut_ab = Faults {
            links_down: [t.link_between("a", "b").unwrap().0].into(),
            ..Faults::default()
        };
        let (add, remove) = nearest_change(&t, &applied, &cut_ab);
        assert!(keys(&add).contains(&("a".into(), "/fn/wk".into(), "c".into())));
        assert!(!remove.iter().any(|r| r.from_plan));

        // b down: nobody has a route towards wk but the plan's own (a -> b), which stays.
        let killed = Faults {
            nodes_down: [i("b")].into(),
            ..Faults::default()
        };
        let (add, remove) = nearest_change(&t, &applied, &killed);
        assert!(add.iter().all(|r| r.prefix != "/fn/wk"));
        assert!(keys(&remove).contains(&("consumer".into(), "/fn/wk".into(), "a".into())));
        assert!(!remove.iter().any(|r| r.from_plan));

        // A file from before runners were recorded is left as it is.
        let old = Applied {
            runners: BTreeMap::new(),
            ..applied
        };
        assert_eq!(nearest_change(&t, &old, &cut), (vec![], vec![]));
    }

    fn has_route(a: &Applied, node: &str, prefix: &str, via: &str) -> bool {
        a.route
            .iter()
            .any(|r| r.node == node && r.prefix == prefix && r.via == via)
    }
}

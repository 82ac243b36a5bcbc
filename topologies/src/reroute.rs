//! Routes recomputed on a running testbed after a fault (`topo link`, `topo kill`,
//! `topo restart`).
//!
//! `up` registers the routes computed on the whole graph. After a fault the launcher computes
//! them again on the live graph ([`crate::routes::routes_live`]: links cut and nodes down
//! left out, so a node whose next hops were all behind the fault gets the surviving paths),
//! compares them with the routes it has registered (recorded in the state) and applies the
//! difference through each node's management, as `up` does: `rib/register` first, then
//! `rib/unregister`, so no node has fewer next hops than it needs on the way. Nodes that are
//! down are not asked anything (their RIB died with them) and their routes leave the record.
//!
//! What is live comes from the state: links marked cut by `topo link A B down`, nodes marked
//! killed by `topo kill`, and nodes whose daemon is no longer running for any other reason.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use nfwd_forwarder::client::Client;
use nfwd_tlv::Name;
use nfwd_tlv::nfd::ControlParameters;

use crate::error::{Error, Result};
use crate::launch::{self, State};
use crate::model::Topology;
use crate::net;
use crate::routes::{self, Faults, RouteEntry};

/// The RIB origin of the launcher's routes: NFD's "static".
pub const LAUNCHER_ROUTE_ORIGIN: u64 = nfwd_tlv::nfd::route_origin::STATIC;

/// What a reroute did.
#[derive(Debug, Clone, Default)]
pub struct RerouteReport {
    /// Routes registered (new, or a new cost).
    pub registered: usize,
    /// Routes unregistered.
    pub unregistered: usize,
    /// An applied plan's routes towards the nearest instance registered.
    pub plan_registered: usize,
    /// An applied plan's routes towards the nearest instance unregistered.
    pub plan_unregistered: usize,
    /// Nodes that had a route changed.
    pub nodes: usize,
    /// Destinations some live node cannot reach now (prefix, node).
    pub unreachable: Vec<(String, String)>,
}

/// Whether node `n`'s daemon is down: killed by `topo kill`, or no longer running.
#[must_use]
pub fn node_is_down(n: &launch::NodeState) -> bool {
    n.killed || !net::alive(i32::try_from(n.daemon_pid).unwrap_or(0))
}

/// The faults of the running testbed, by index into `t`'s nodes and links.
#[must_use]
pub fn faults_of(state: &State, t: &Topology) -> Faults {
    let mut faults = Faults::default();
    for n in &state.nodes {
        if node_is_down(n)
            && let Some(i) = t.node_index(&n.name)
        {
            faults.nodes_down.insert(i);
        }
    }
    for l in state.links.iter().filter(|l| l.down) {
        if let Some((i, _)) = t.link_between(&l.a, &l.b) {
            faults.links_down.insert(i);
        }
    }
    faults
}

/// Registers `prefix` at node `node` (its `client`) on face `face` with `origin` (the
/// launcher's, [`LAUNCHER_ROUTE_ORIGIN`], or a plan's).
pub(crate) async fn register(
    client: &Client,
    node: &str,
    prefix: &str,
    face: u64,
    cost: u64,
    origin: u64,
) -> Result<()> {
    let mut params = route_params(prefix, face, origin)?;
    params.cost = Some(cost);
    client
        .command("rib", "register", &params)
        .await
        .map(drop)
        .map_err(|e| Error::node(node, format!("rib/register {prefix}: {e}")))
}

/// Unregisters the route of `origin` for `prefix` on face `face` at node `node` (a face
/// that is gone is a successful no-op for the forwarder).
async fn unregister(
    client: &Client,
    node: &str,
    prefix: &str,
    face: u64,
    origin: u64,
) -> Result<()> {
    let params = route_params(prefix, face, origin)?;
    client
        .command("rib", "unregister", &params)
        .await
        .map(drop)
        .map_err(|e| Error::node(node, format!("rib/unregister {prefix}: {e}")))
}

fn route_params(prefix: &str, face: u64, origin: u64) -> Result<ControlParameters> {
    let name: Name = prefix
        .parse()
        .map_err(|e| Error::invalid(format!("route {prefix}: {e}")))?;
    Ok(ControlParameters {
        name: Some(name),
        face_id: Some(face),
        origin: Some(origin),
        ..ControlParameters::default()
    })
}

/// After a fault or a repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A link cut or a node down: the routes withdrawn lead into the fault, so they go at
    /// once.
    Fault,
    /// A link restored or a node restarted: the routes withdrawn are the detours, and they
    /// go only once the restored faces can be up again. A face the forwarder's link liveness
    /// found down during the fault stays down until a probe is answered (up to
    /// `liveness_timeout_ms` and a tick later); withdrawing the detour before that leaves the
    /// node with no usable next hop, and requests fail in that window.
    Repair,
}

/// One registration or removal, of the launcher's routes or of an applied plan's.
#[derive(Debug, Clone)]
struct RouteOp {
    register: bool,
    origin: u64,
    node: usize,
    prefix: String,
    via: usize,
    cost: u64,
}

/// Recomputes the routes of the running testbed `state` (topology `t`, as launched) on its
/// live graph and applies the difference to every node it changes: the launcher's routes,
/// and the routes towards the nearest instance of an applied plan's functions
/// ([`crate::apply::nearest_change`]; the plan's own routes stay as the plan gave them).
/// Registrations first, removals last. Records what is installed in the state and in the
/// applied plan and saves them (also after an error half-way: what is recorded is what is
/// registered).
pub async fn reroute(
    state: &mut State,
    t: &Topology,
    root: &Path,
    cause: Cause,
    deadline: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<RerouteReport> {
    let faults = faults_of(state, t);
    // A node that is down lost its RIB: nothing of it is installed any more.
    let mut installed: Vec<RouteEntry> = state
        .installed_routes(t)
        .into_iter()
        .filter(|r| !faults.nodes_down.contains(&r.node))
        .collect();
    let wanted = routes::routes_live(t, &faults);
    let mut change = routes::route_change(&installed, &wanted);
    // Nodes nearer the destination first: a node given a new next hop finds that hop already
    // routed onwards (a node's distance is the least cost of its routes to the prefix).
    let mut distance: BTreeMap<(usize, &str), u64> = BTreeMap::new();
    for r in &wanted {
        let d = distance
            .entry((r.node, r.prefix.as_str()))
            .or_insert(r.cost);
        *d = (*d).min(r.cost);
    }
    change.register.sort_by_key(|r| {
        distance
            .get(&(r.node, r.prefix.as_str()))
            .copied()
            .unwrap_or(r.cost)
    });
    let op = |register: bool, origin: u64, r: &RouteEntry| RouteOp {
        register,
        origin,
        node: r.node,
        prefix: r.prefix.clone(),
        via: r.via,
        cost: r.cost,
    };
    let mut ops: Vec<RouteOp> = change
        .register
        .iter()
        .map(|r| op(true, LAUNCHER_ROUTE_ORIGIN, r))
        .collect();

    let mut applied = crate::apply::Applied::load(root, &state.name)?;
    let (plan_register, plan_unregister) = applied
        .as_ref()
        .map(|a| crate::apply::nearest_change(t, a, &faults))
        .unwrap_or_default();
    let plan_op = |register: bool, r: &crate::apply::PlanRouteEntry| {
        Some(RouteOp {
            register,
            origin: crate::apply::PLAN_ROUTE_ORIGIN,
            node: t.node_index(&r.node)?,
            prefix: r.prefix.clone(),
            via: t.node_index(&r.via)?,
            cost: r.cost,
        })
    };
    let mut plan_adds: Vec<RouteOp> = plan_register
        .iter()
        .filter_map(|r| plan_op(true, r))
        .collect();
    plan_adds.sort_by_key(|r| r.cost);
    ops.extend(plan_adds);
    let first_removal = ops.len();
    ops.extend(
        change
            .unregister
            .iter()
            .map(|r| op(false, LAUNCHER_ROUTE_ORIGIN, r)),
    );
    ops.extend(plan_unregister.iter().filter_map(|r| plan_op(false, r)));

    let hold = match cause {
        Cause::Fault => Duration::ZERO,
        Cause::Repair => ops[first_removal..]
            .iter()
            .filter_map(|r| t.nodes.get(r.node))
            .map(crate::model::liveness_recovery)
            .max()
            .unwrap_or(Duration::ZERO),
    };
    let mut done = 0;
    let result = apply_ops(
        state,
        t,
        &ops,
        first_removal,
        hold,
        &mut done,
        deadline,
        progress,
    )
    .await;

    // What is installed now: what was, less the nodes that are down, with what was done.
    let name_of = |i: usize| t.nodes.get(i).map_or_else(String::new, |n| n.name.clone());
    if let Some(a) = &mut applied {
        a.route.retain(|r| {
            r.from_plan
                || t.node_index(&r.node)
                    .is_some_and(|i| !faults.nodes_down.contains(&i))
        });
    }
    for o in &ops[..done] {
        let same = |node: usize, prefix: &str, via: usize| {
            (node, prefix, via) == (o.node, o.prefix.as_str(), o.via)
        };
        if o.origin == LAUNCHER_ROUTE_ORIGIN {
            installed.retain(|x| !same(x.node, &x.prefix, x.via));
            if o.register {
                installed.push(RouteEntry {
                    node: o.node,
                    prefix: o.prefix.clone(),
                    via: o.via,
                    cost: o.cost,
                });
            }
        } else if let Some(a) = &mut applied {
            let (node, via) = (name_of(o.node), name_of(o.via));
            a.route.retain(|x| {
                x.from_plan || (&x.node, &x.prefix, &x.via) != (&node, &o.prefix, &via)
            });
            if o.register {
                a.route.push(crate::apply::PlanRouteEntry {
                    node,
                    prefix: o.prefix.clone(),
                    via,
                    cost: o.cost,
                    from_plan: false,
                });
            }
        }
    }
    state.record_routes(t, &installed);
    state.save(root)?;
    if let Some(a) = &mut applied {
        a.route.sort();
        a.save(root, &state.name)?;
    }
    let nodes = ops
        .iter()
        .map(|r| r.node)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    result.map(|()| RerouteReport {
        registered: change.register.len(),
        unregistered: change.unregister.len(),
        plan_registered: plan_register.len(),
        plan_unregistered: plan_unregister.len(),
        nodes,
        unreachable: routes::unreachable_live(t, &faults),
    })
}

/// Registers, then (after `hold`) unregisters, counting in `done` the operations carried
/// out, so that an error half-way leaves an exact record.
#[allow(clippy::too_many_arguments)]
async fn apply_ops(
    state: &State,
    t: &Topology,
    ops: &[RouteOp],
    first_removal: usize,
    hold: Duration,
    done: &mut usize,
    deadline: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let mut clients: BTreeMap<usize, Client> = BTreeMap::new();
    let name_of = |i: usize| t.nodes.get(i).map_or("?", |n| n.name.as_str());
    for o in ops {
        if let std::collections::btree_map::Entry::Vacant(slot) = clients.entry(o.node) {
            let node = state.node(name_of(o.node))?;
            slot.insert(launch::connect_daemon(node, deadline).await?);
        }
    }
    for (k, o) in ops.iter().enumerate() {
        let (node, via) = (name_of(o.node), name_of(o.via));
        if k == first_removal && !hold.is_zero() {
            progress(&format!(
                "detours withdrawn in {} ms, once the restored faces are up",
                hold.as_millis()
            ));
            tokio::time::sleep(hold).await;
        }
        let face =
            state.node(node)?.faces.get(via).copied().ok_or_else(|| {
                Error::node(node, format!("no face towards {via} for {}", o.prefix))
            })?;
        let client = clients
            .get(&o.node)
            .ok_or_else(|| Error::node(node, "no connection (internal)"))?;
        let plan = if o.origin == LAUNCHER_ROUTE_ORIGIN {
            ""
        } else {
            " (plan)"
        };
        if o.register {
            register(client, node, &o.prefix, face, o.cost, o.origin).await?;
            progress(&format!(
                "+ route {node:<10} {} -> {via} ({}){plan}",
                o.prefix, o.cost
            ));
        } else {
            unregister(client, node, &o.prefix, face, o.origin).await?;
            progress(&format!("- route {node:<10} {} -> {via}{plan}", o.prefix));
        }
        *done = k + 1;
    }
    Ok(())
}

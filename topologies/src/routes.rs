//! Routes: the computed ones (shortest paths over the link graph) and the written ones.
//!
//! For each destination prefix — a producer's prefix or a hosted function name — the distance
//! of every node to the nearest node serving it is found by Dijkstra from all of those nodes
//! at once (link costs). A node's next hops are its neighbours *strictly closer* to the
//! destination, each with the cost of the path through it (link cost plus the neighbour's
//! distance). Strictly closer keeps every path loop-free while still giving several next hops
//! wherever the graph has equal or longer alternatives that still lead downhill, which is what
//! NFD's strategies (best-route retries, multicast, load-balance) can use. Nodes serving the
//! prefix themselves get no route: the producer or SF registers on its own forwarder.
//!
//! After a fault the same computation runs on the live graph ([`Faults`]: links cut, nodes
//! down), and [`route_change`] says what to register and unregister to go from the routes
//! installed to the routes wanted; `crate::reroute` applies that to a running testbed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use crate::model::Topology;

/// One route: at node `node`, `prefix` through the face towards neighbour `via`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteEntry {
    /// Node index.
    pub node: usize,
    /// Name prefix, canonical URI.
    pub prefix: String,
    /// Neighbour node index.
    pub via: usize,
    /// Cost.
    pub cost: u64,
}

/// What of a topology's graph is not live: links cut (indices into `Topology::links`) and
/// nodes down (indices into `Topology::nodes`). The default, nothing, is the graph `up`
/// routes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Links cut.
    pub links_down: BTreeSet<usize>,
    /// Nodes down (crashed or killed).
    pub nodes_down: BTreeSet<usize>,
}

impl Faults {
    /// Whether node `a` can send to its neighbour `b` (both up, their link not cut; false if
    /// they are not neighbours).
    #[must_use]
    pub fn hop_live(&self, t: &Topology, a: usize, b: usize) -> bool {
        let (Some(na), Some(nb)) = (t.nodes.get(a), t.nodes.get(b)) else {
            return false;
        };
        t.link_between(&na.name, &nb.name)
            .is_some_and(|(i, _)| self.link_live(i, a, b))
    }

    /// Whether link `index` between nodes `a` and `b` carries anything.
    fn link_live(&self, index: usize, a: usize, b: usize) -> bool {
        !self.links_down.contains(&index)
            && !self.nodes_down.contains(&a)
            && !self.nodes_down.contains(&b)
    }
}

/// The neighbours of each node with the link cost, over live links only.
fn adjacency(t: &Topology, faults: &Faults) -> Vec<Vec<(usize, u64)>> {
    let mut adj = vec![Vec::new(); t.nodes.len()];
    for (i, l) in t.links.iter().enumerate() {
        if let (Some(a), Some(b)) = (t.node_index(&l.a), t.node_index(&l.b))
            && faults.link_live(i, a, b)
        {
            adj[a].push((b, l.cost));
            adj[b].push((a, l.cost));
        }
    }
    for n in &mut adj {
        n.sort_unstable();
    }
    adj
}

/// Distance from every node to the nearest of `sources` (`None`: unreachable).
fn distances(adj: &[Vec<(usize, u64)>], sources: impl Iterator<Item = usize>) -> Vec<Option<u64>> {
    let mut dist = vec![None; adj.len()];
    let mut heap = BinaryHeap::new();
    for s in sources {
        dist[s] = Some(0);
        heap.push(Reverse((0u64, s)));
    }
    while let Some(Reverse((d, u))) = heap.pop() {
        if dist[u].is_some_and(|best| d > best) {
            continue;
        }
        for &(v, w) in &adj[u] {
            let nd = d.saturating_add(w);
            if dist[v].is_none_or(|old| nd < old) {
                dist[v] = Some(nd);
                heap.push(Reverse((nd, v)));
            }
        }
    }
    dist
}

/// A shortest path from `from` to `to` on the live graph, as hops `(node, next, cost)`: at
/// each node the neighbour towards `to` (the lowest-numbered of equals, so the path is the
/// same every time) and the path's cost from that node. `None` if `to` cannot be reached;
/// empty if `from` is `to`.
#[must_use]
pub fn path(
    t: &Topology,
    from: usize,
    to: usize,
    faults: &Faults,
) -> Option<Vec<(usize, usize, u64)>> {
    let adj = adjacency(t, faults);
    let dist = distances(&adj, std::iter::once(to));
    let mut hops = Vec::new();
    let mut u = from;
    while u != to {
        let du = (*dist.get(u)?)?;
        let &(v, _) = adj[u]
            .iter()
            .filter(|&&(v, w)| dist[v].is_some_and(|dv| dv.saturating_add(w) == du && dv < du))
            .min_by_key(|&&(v, _)| v)?;
        hops.push((u, v, du));
        u = v;
    }
    Some(hops)
}

/// The computed routes towards a name served by `servers` (node indices): for every other
/// node that can reach one, its next hops (neighbours strictly closer) with their path costs,
/// as `(node, via, cost)`; all of them, or the best only if `[routing] multipath = false`.
/// What `nfwd topo apply` installs for a plan's function names on nodes the plan says
/// nothing about.
#[must_use]
pub fn towards(t: &Topology, servers: &[usize]) -> Vec<(usize, usize, u64)> {
    towards_live(t, servers, &Faults::default())
}

/// [`towards`] on the live graph: servers that are down serve nothing, and nodes that are
/// down get no route.
#[must_use]
pub fn towards_live(t: &Topology, servers: &[usize], faults: &Faults) -> Vec<(usize, usize, u64)> {
    let adj = adjacency(t, faults);
    let servers: Vec<usize> = servers
        .iter()
        .copied()
        .filter(|s| !faults.nodes_down.contains(s))
        .collect();
    let dist = distances(&adj, servers.iter().copied());
    let mut out = Vec::new();
    for (u, du) in dist.iter().enumerate() {
        let Some(du) = *du else { continue };
        if servers.contains(&u) || faults.nodes_down.contains(&u) {
            continue;
        }
        let mut hops: Vec<(u64, usize)> = adj[u]
            .iter()
            .filter_map(|&(v, w)| match dist[v] {
                Some(dv) if dv < du => Some((w.saturating_add(dv), v)),
                _ => None,
            })
            .collect();
        hops.sort_unstable();
        if !t.routing.multipath {
            hops.truncate(1);
        }
        out.extend(hops.into_iter().map(|(cost, v)| (u, v, cost)));
    }
    out
}

/// Every route the topology asks for: computed ones (if `[routing] computed`) and the written
/// `[[route]]`s, sorted by node, prefix, cost. A written route replaces a computed one for the
/// same node, prefix and neighbour.
#[must_use]
pub fn routes(t: &Topology) -> Vec<RouteEntry> {
    routes_live(t, &Faults::default())
}

/// [`routes`] on the live graph: computed routes over live links and nodes only, and the
/// written routes but those at a node that is down or through a link that is cut or a
/// neighbour that is down (they come back with the link or the node).
#[must_use]
pub fn routes_live(t: &Topology, faults: &Faults) -> Vec<RouteEntry> {
    let mut out: BTreeMap<(usize, String, usize), u64> = BTreeMap::new();
    if t.routing.computed {
        for (prefix, hosts) in t.destinations() {
            let servers: Vec<usize> = hosts.into_iter().collect();
            for (u, v, cost) in towards_live(t, &servers, faults) {
                out.insert((u, prefix.clone(), v), cost);
            }
        }
    }
    for r in &t.routes {
        let (Some(u), Some(v)) = (t.node_index(&r.node), t.node_index(&r.via)) else {
            continue;
        };
        let link = t.link_between(&r.node, &r.via);
        if link.is_some_and(|(i, _)| !faults.link_live(i, u, v)) {
            continue;
        }
        let link_cost = link.map_or(1, |(_, l)| l.cost);
        let prefix = r
            .prefix
            .parse::<nfwd_tlv::Name>()
            .map_or_else(|_| r.prefix.clone(), |n| n.to_string());
        out.insert((u, prefix, v), r.cost.unwrap_or(link_cost));
    }
    let mut list: Vec<RouteEntry> = out
        .into_iter()
        .map(|((node, prefix, via), cost)| RouteEntry {
            node,
            prefix,
            via,
            cost,
        })
        .collect();
    list.sort_by(|a, b| {
        (a.node, &a.prefix, a.cost, a.via).cmp(&(b.node, &b.prefix, b.cost, b.via))
    });
    list
}

/// What to do to a running testbed to go from the routes `installed` to the routes `wanted`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteChange {
    /// Routes to register: new ones, and ones whose cost changed (registering again updates
    /// the cost).
    pub register: Vec<RouteEntry>,
    /// Routes to unregister: installed (node, prefix, next hop) no longer wanted.
    pub unregister: Vec<RouteEntry>,
}

impl RouteChange {
    /// True if nothing changes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.register.is_empty() && self.unregister.is_empty()
    }
}

/// The change from `installed` to `wanted` (pure; registrations are meant to go first, so a
/// node never has fewer next hops than it needs on the way).
#[must_use]
pub fn route_change(installed: &[RouteEntry], wanted: &[RouteEntry]) -> RouteChange {
    let key = |r: &RouteEntry| (r.node, r.prefix.clone(), r.via);
    let have: BTreeSet<&RouteEntry> = installed.iter().collect();
    let want_keys: BTreeSet<_> = wanted.iter().map(key).collect();
    RouteChange {
        register: wanted
            .iter()
            .filter(|r| !have.contains(r))
            .cloned()
            .collect(),
        unregister: installed
            .iter()
            .filter(|r| !want_keys.contains(&key(r)))
            .cloned()
            .collect(),
    }
}

/// Destinations some node cannot reach (prefix, node names), for a warning.
#[must_use]
pub fn unreachable(t: &Topology) -> Vec<(String, String)> {
    unreachable_live(t, &Faults::default())
}

/// [`unreachable`] on the live graph (nodes that are down are not listed).
#[must_use]
pub fn unreachable_live(t: &Topology, faults: &Faults) -> Vec<(String, String)> {
    let adj = adjacency(t, faults);
    let mut out = Vec::new();
    for (prefix, hosts) in t.destinations() {
        let live = hosts
            .iter()
            .copied()
            .filter(|h| !faults.nodes_down.contains(h));
        let dist = distances(&adj, live);
        for (u, d) in dist.iter().enumerate() {
            if d.is_none() && !faults.nodes_down.contains(&u) {
                out.push((prefix.clone(), t.nodes[u].name.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn topo(text: &str) -> Topology {
        Topology::from_toml(text, "t").unwrap()
    }

    fn at(t: &Topology, r: &[RouteEntry], node: &str, prefix: &str) -> Vec<(String, u64)> {
        let n = t.node_index(node).unwrap();
        r.iter()
            .filter(|e| e.node == n && e.prefix == prefix)
            .map(|e| (t.nodes[e.via].name.clone(), e.cost))
            .collect()
    }

    /// The seed's Fig. 30 line: every function one hop further from the consumer.
    const LINE: &str = r#"
name = "line"
[[node]]
name = "c"
[[node]]
name = "f3"
[[node.sf]]
name = "/sf/F3"
builtin = "upper"
[[node]]
name = "f2"
[[node.sf]]
name = "/sf/F2"
builtin = "upper"
[[node]]
name = "f1"
[[node.sf]]
name = "/sf/F1"
builtin = "upper"
[[node]]
name = "p"
[[link]]
a = "c"
b = "f3"
[[link]]
a = "f3"
b = "f2"
[[link]]
a = "f2"
b = "f1"
[[link]]
a = "f1"
b = "p"
[[producer]]
node = "p"
prefix = "/rs1/lamp/2256"
text = "x"
"#;

    #[test]
    fn a_line_routes_every_name_along_the_line() {
        let t = topo(LINE);
        let r = routes(&t);
        assert_eq!(at(&t, &r, "c", "/rs1/lamp/2256"), [("f3".into(), 4)]);
        assert_eq!(at(&t, &r, "f1", "/rs1/lamp/2256"), [("p".into(), 1)]);
        assert_eq!(at(&t, &r, "c", "/sf/F1"), [("f3".into(), 3)]);
        // Towards F3 from the far end, back up the line; none at F3's own node.
        assert_eq!(at(&t, &r, "p", "/sf/F3"), [("f1".into(), 3)]);
        assert!(at(&t, &r, "f3", "/sf/F3").is_empty());
        assert!(at(&t, &r, "p", "/rs1/lamp/2256").is_empty());
        // 5 nodes, 4 destinations, one hop each except at the host: 4 * 4.
        assert_eq!(r.len(), 16);
    }

    /// A square a-b-d, a-c-d with a diagonal-free second path: a reaches d two ways.
    const SQUARE: &str = r#"
name = "sq"
[[node]]
name = "a"
[[node]]
name = "b"
[[node]]
name = "c"
[[node]]
name = "d"
[[link]]
a = "a"
b = "b"
[[link]]
a = "a"
b = "c"
cost = 3
[[link]]
a = "b"
b = "d"
cost = 2
[[link]]
a = "c"
b = "d"
[[producer]]
node = "d"
prefix = "/p"
text = "x"
"#;

    #[test]
    fn redundant_paths_give_several_next_hops_with_their_costs() {
        let t = topo(SQUARE);
        let r = routes(&t);
        // a: via b costs 1+2, via c costs 3+1: both downhill (b and c are at 2 and 1 < 3).
        assert_eq!(at(&t, &r, "a", "/p"), [("b".into(), 3), ("c".into(), 4)]);
        // b is at 2: c (at 1) is not its neighbour; a (at 3) is uphill. One hop.
        assert_eq!(at(&t, &r, "b", "/p"), [("d".into(), 2)]);
        let mut single = t;
        single.routing.multipath = false;
        assert_eq!(at(&single, &routes(&single), "a", "/p"), [("b".into(), 3)]);
    }

    #[test]
    fn written_routes_are_added_and_override_computed_costs() {
        let mut t = topo(SQUARE);
        t.routes.push(crate::model::Route {
            node: "a".into(),
            prefix: "/p".into(),
            via: "c".into(),
            cost: Some(1),
        });
        t.routes.push(crate::model::Route {
            node: "b".into(),
            prefix: "/extra/".into(),
            via: "a".into(),
            cost: None,
        });
        let r = routes(&t);
        assert_eq!(at(&t, &r, "a", "/p"), [("c".into(), 1), ("b".into(), 3)]);
        assert_eq!(at(&t, &r, "b", "/extra"), [("a".into(), 1)]);
        t.routing.computed = false;
        assert_eq!(routes(&t).len(), 2);
    }

    #[test]
    fn unreachable_destinations_are_reported() {
        let t = topo(
            "name = \"t\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n\
             [[producer]]\nnode = \"a\"\nprefix = \"/p\"\ntext = \"x\"\n",
        );
        assert!(routes(&t).is_empty());
        assert_eq!(unreachable(&t), [("/p".to_string(), "b".to_string())]);
    }

    fn mesh() -> Topology {
        Topology::from_toml(include_str!("../examples/mesh.toml"), "mesh.toml").unwrap()
    }

    fn faults(t: &Topology, nodes: &[&str], links: &[(&str, &str)]) -> Faults {
        Faults {
            nodes_down: nodes.iter().map(|n| t.node_index(n).unwrap()).collect(),
            links_down: links
                .iter()
                .map(|(a, b)| t.link_between(a, b).unwrap().0)
                .collect(),
        }
    }

    #[test]
    fn a_node_whose_only_next_hop_is_down_gets_the_surviving_paths() {
        let t = mesh();
        let sensor = "/city/sensor/7";
        // c1 is at 2 from the producer on e2, through c2 only (c4, also at 2, is not closer).
        assert_eq!(at(&t, &routes(&t), "c1", sensor), [("c2".into(), 2)]);
        let killed = routes_live(&t, &faults(&t, &["c2"], &[]));
        // Without c2: c4 at 2, c3 at 3, so c1 is at 4 through c3 and 5 through c4.
        assert_eq!(
            at(&t, &killed, "c1", sensor),
            [("c3".into(), 4), ("c4".into(), 5)]
        );
        // The dead node gets nothing, serves nothing, and nobody routes through it.
        let c2 = t.node_index("c2").unwrap();
        assert!(killed.iter().all(|r| r.node != c2 && r.via != c2));
        // /sf/reverse is left on c3 only: c1 goes there.
        assert_eq!(at(&t, &killed, "c1", "/sf/reverse"), [("c3".into(), 1)]);
        let cut = routes_live(&t, &faults(&t, &[], &[("c1", "c2")]));
        assert_eq!(
            at(&t, &cut, "c1", sensor),
            [("c3".into(), 4), ("c4".into(), 5)]
        );
        // c2 itself is still routed on: its route to the producer is untouched.
        assert_eq!(
            at(&t, &cut, "c2", sensor),
            at(&t, &routes(&t), "c2", sensor)
        );
    }

    #[test]
    fn a_change_goes_from_the_installed_routes_to_the_wanted_ones_and_back() {
        let t = mesh();
        let all = routes(&t);
        assert!(route_change(&all, &all).is_empty());
        let killed = routes_live(&t, &faults(&t, &["c2"], &[]));
        let change = route_change(&all, &killed);
        let (c1, c2, c3) = (
            t.node_index("c1").unwrap(),
            t.node_index("c2").unwrap(),
            t.node_index("c3").unwrap(),
        );
        let sensor = |r: &&RouteEntry| r.node == c1 && r.prefix == "/city/sensor/7";
        assert!(change.register.iter().filter(sensor).any(|r| r.via == c3));
        assert!(change.unregister.iter().filter(sensor).any(|r| r.via == c2));
        assert!(change.register.iter().all(|r| r.node != c2 && r.via != c2));
        // Healing goes back exactly to what `up` installed.
        let back = route_change(&killed, &all);
        let mut healed: Vec<RouteEntry> = killed
            .iter()
            .filter(|r| {
                !back
                    .unregister
                    .iter()
                    .any(|u| (u.node, &u.prefix, u.via) == (r.node, &r.prefix, r.via))
            })
            .cloned()
            .collect();
        healed.retain(|r| {
            !back
                .register
                .iter()
                .any(|n| (n.node, &n.prefix, n.via) == (r.node, &r.prefix, r.via))
        });
        healed.extend(back.register.iter().cloned());
        healed.sort();
        let mut want = all;
        want.sort();
        assert_eq!(healed, want);
    }

    #[test]
    fn written_routes_through_a_cut_link_are_withdrawn_with_it() {
        let mut t = topo(SQUARE);
        t.routes.push(crate::model::Route {
            node: "b".into(),
            prefix: "/extra".into(),
            via: "a".into(),
            cost: None,
        });
        assert_eq!(at(&t, &routes(&t), "b", "/extra"), [("a".into(), 1)]);
        let cut = routes_live(&t, &faults(&t, &[], &[("a", "b")]));
        assert!(at(&t, &cut, "b", "/extra").is_empty());
        // a reaches d through c alone now; b still through d.
        assert_eq!(at(&t, &cut, "a", "/p"), [("c".into(), 4)]);
        assert_eq!(
            unreachable_live(&t, &faults(&t, &["d"], &[])).len(),
            3,
            "nobody reaches /p with its producer down"
        );
    }
}

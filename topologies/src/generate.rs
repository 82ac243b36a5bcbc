//! Random topologies for scale tests (`nfwd topo generate --nodes 50 --seed S`).
//!
//! Connected by construction (a random tree: node i joins a random earlier node), then extra
//! links up to the asked average degree, so that there are redundant paths. Three functions,
//! each hosted on two nodes, one producer, one consumer asking for the chain; node speeds and
//! vCPUs as in the scheduler's Fig. 31 environment (1–3 Gop/s, 1–4 vCPUs). The same seed gives
//! the same file.

use std::collections::BTreeSet;

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use crate::model::{Consumer, HostedSf, Link, Node, Producer, Routing, Topology};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Nodes (at least 2).
    pub nodes: usize,
    /// Seed of the random choices.
    pub seed: u64,
    /// Average number of links per node (at least 2 minus the tree's; capped by the complete
    /// graph).
    pub degree: f64,
    /// The topology's name.
    pub name: String,
}

/// The content the producer serves.
const TEXT: &str = "reading 42: 17.5 C";

/// The three functions: (function name, built-in). The consumer asks for F3(F2(F1(x))).
const FUNCTIONS: [(&str, &str); 3] = [
    ("/sf/F1", "upper"),
    ("/sf/F2", "reverse"),
    ("/sf/F3", "identity"),
];

/// Generates a topology.
#[must_use]
pub fn generate(opts: &GenerateOptions) -> Topology {
    let n = opts.nodes.max(2);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let width = (n - 1).to_string().len();
    let name = |i: usize| format!("n{i:0width$}");
    let mut nodes: Vec<Node> = (0..n)
        .map(|i| Node {
            name: name(i),
            sf_host: None,
            vcpus: rng.random_range(1..=4),
            speed: (rng.random_range(1.0..3.0_f64) * 100.0).round() / 100.0,
            network: Some(format!("net{}", i % 3)),
            forwarder: toml::Table::new(),
            sfs: Vec::new(),
        })
        .collect();
    let mut pairs = BTreeSet::new();
    let mut links = Vec::new();
    let mut link = |a: usize, b: usize, rng: &mut ChaCha8Rng, links: &mut Vec<Link>| {
        let key = (a.min(b), a.max(b));
        if a == b || !pairs.insert(key) {
            return;
        }
        links.push(Link {
            a: name(key.0),
            b: name(key.1),
            protocol: crate::model::FaceProtocol::Udp,
            delay_ms: f64::from(rng.random_range(1..=10u32)),
            jitter_ms: 0.0,
            loss_percent: 0.0,
            bandwidth_mbit: Some([10.0, 100.0, 1000.0][rng.random_range(0..3usize)]),
            cost: 1,
        });
    };
    for i in 1..n {
        let j = rng.random_range(0..i);
        link(i, j, &mut rng, &mut links);
    }
    let max_links = n * (n - 1) / 2;
    let wanted = ((opts.degree * n as f64 / 2.0).round() as usize).clamp(n - 1, max_links);
    let mut tries = 0;
    while links.len() < wanted && tries < 100 * wanted {
        tries += 1;
        let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
        link(a, b, &mut rng, &mut links);
    }
    // Functions on two distinct nodes each (one if there are only two nodes).
    for (function, builtin) in FUNCTIONS {
        let first = rng.random_range(0..n);
        let mut hosts = vec![first];
        if n > 2 {
            let mut second = rng.random_range(0..n);
            while second == first {
                second = rng.random_range(0..n);
            }
            hosts.push(second);
        }
        for h in hosts {
            nodes[h].sfs.push(HostedSf {
                name: function.into(),
                builtin: Some(builtin.into()),
                exec: None,
                package: None,
                input_type: None,
                output_type: None,
                min: 0,
                max: 1,
            });
        }
    }
    let producer = rng.random_range(0..n);
    let consumer = (producer + n / 2) % n;
    let expect: String = TEXT.to_uppercase().chars().rev().collect();
    Topology {
        name: opts.name.clone(),
        description: format!(
            "generated: {n} nodes, average degree {}, seed {}",
            opts.degree, opts.seed
        ),
        routing: Routing::default(),
        nodes,
        links,
        producers: vec![Producer {
            node: name(producer),
            prefix: "/gen/reading".into(),
            text: Some(TEXT.into()),
            file: None,
            sf_package: None,
        }],
        consumers: vec![Consumer {
            node: name(consumer),
            name: "/gen/reading".into(),
            chain: FUNCTIONS
                .iter()
                .rev()
                .map(|(f, _)| (*f).to_owned())
                .collect(),
            expect: Some(expect),
        }],
        routes: Vec::new(),
        sf_types: Vec::new(),
        scheduler: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts(nodes: usize, seed: u64) -> GenerateOptions {
        GenerateOptions {
            nodes,
            seed,
            degree: 3.0,
            name: "gen".into(),
        }
    }

    #[test]
    fn fifty_nodes_are_connected_valid_and_reproducible() {
        let t = generate(&opts(50, 7));
        t.validate().unwrap();
        assert_eq!(t.nodes.len(), 50);
        assert_eq!(t.links.len(), 75);
        assert!(crate::routes::unreachable(&t).is_empty());
        let text = t.to_toml().unwrap();
        assert_eq!(Topology::from_toml(&text, "gen").unwrap(), t);
        assert_eq!(generate(&opts(50, 7)), t);
        assert_ne!(generate(&opts(50, 8)), t);
        // Redundant paths: some node has several next hops for some name.
        let r = crate::routes::routes(&t);
        let multi = r
            .windows(2)
            .any(|w| w[0].node == w[1].node && w[0].prefix == w[1].prefix);
        assert!(multi);
    }

    #[test]
    fn tiny_graphs_work() {
        let t = generate(&opts(2, 1));
        t.validate().unwrap();
        assert_eq!(t.links.len(), 1);
    }
}

//! The layered random DAG of the benchmarks and of `examples/scale.rs`: `layers × width` tasks
//! of 12 SF types (1,220 MB images), each with 1–3 predecessors in the 3 layers before it, on
//! `hosts` VMs of 4 vCPUs in 2 networks, load limit 0.75, nothing pre-deployed.

use nfwd_scheduler::{Edge, Host, Image, Infrastructure, Network, Problem, Server, Task, Workflow};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The problem for `layers × width` tasks on `hosts × 4` vCPUs (seeded: same sizes, same
/// problem).
pub(crate) fn layered_problem(layers: usize, width: usize, hosts: usize) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(2000);
    let types = 12;
    let mut workflow = Workflow {
        name: "bench".into(),
        files: Vec::new(),
        tasks: Vec::new(),
        edges: Vec::new(),
    };
    for layer in 0..layers {
        for i in 0..width {
            let id = layer * width + i;
            workflow.tasks.push(Task {
                name: format!("t{id}"),
                sf: format!("S{}", rng.random_range(0..types)),
                workload: rng.random_range(5.0..50.0),
                inputs: Vec::new(),
            });
            if layer > 0 {
                let mut preds: Vec<usize> = (0..rng.random_range(1..=3))
                    .map(|_| {
                        let from_layer = layer - rng.random_range(1..=layer.min(3));
                        from_layer * width + rng.random_range(0..width)
                    })
                    .collect();
                preds.sort_unstable();
                preds.dedup();
                for p in preds {
                    workflow.edges.push(Edge {
                        from: format!("t{p}"),
                        to: format!("t{id}"),
                        data_mb: rng.random_range(1.0..100.0),
                    });
                }
            }
        }
    }
    let infra = Infrastructure {
        load_limit: 0.75,
        function_prefix: "/fn".into(),
        inter_network_bandwidth: 25.0,
        networks: vec![
            Network {
                name: "nw1".into(),
                bandwidth: 100.0,
            },
            Network {
                name: "nw2".into(),
                bandwidth: 100.0,
            },
        ],
        hosts: (0..hosts)
            .map(|h| Host {
                name: format!("vm{h}"),
                network: if h % 2 == 0 { "nw1" } else { "nw2" }.into(),
                vcpu_speeds: vec![rng.random_range(1.0..3.0); 4],
                images: Vec::new(),
                files: Vec::new(),
            })
            .collect(),
        image_repository: Server {
            network: "nw1".into(),
            bandwidth: 50.0,
        },
        file_server: Server {
            network: "nw2".into(),
            bandwidth: 50.0,
        },
        images: (0..types)
            .map(|t| Image {
                sf: format!("S{t}"),
                size_mb: 1220.0,
            })
            .collect(),
        default_image_size_mb: None,
    };
    match Problem::new(&workflow, &infra) {
        Ok(problem) => problem,
        Err(e) => panic!("layered problem: {e}"),
    }
}

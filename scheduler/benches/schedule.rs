//! Scheduling a 2,000-task workflow on 200 vCPUs (50 hosts of 4 in 2 networks).
//! `cargo bench -p nfwd-scheduler --bench schedule`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use nfwd_scheduler::{
    Algorithm, Edge, Host, Image, Infrastructure, Network, Problem, Scheduler, Server, Task,
    Workflow,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A layered random DAG: 40 layers of 50 tasks, each with 1–3 predecessors in earlier layers,
/// 12 SF types.
fn large_problem() -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(2000);
    let (layers, width, types) = (40, 50, 12);
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
        hosts: (0..50)
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
        Err(e) => panic!("bench problem: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let problem = large_problem();
    assert_eq!((problem.n_tasks(), problem.n_vcpus()), (2000, 200));
    let mut group = c.benchmark_group("2000 tasks on 200 vCPUs");
    group.sample_size(10);
    group.bench_function("sf-cuv", |b| {
        b.iter(|| Algorithm::SfCuv.schedule(black_box(&problem)));
    });
    group.bench_function("heft", |b| {
        b.iter(|| Algorithm::Heft.schedule(black_box(&problem)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Properties every algorithm must have, on random workflows and infrastructures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::{
    Algorithm, DownloadModel, Edge, Host, Image, Infrastructure, InputFile, Network, Problem,
    Scheduler, Server, Task, Workflow, check, evaluate, simulate,
};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random DAG on random heterogeneous hosts, some images and files pre-deployed.
fn random_problem(seed: u64, tasks: usize, hosts: usize, load_limit: f64) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let types = rng.random_range(1..=4_usize);
    let files = rng.random_range(0..=2_usize);
    let file_names: Vec<String> = (0..files).map(|f| format!("file{f}")).collect();
    let mut workflow = Workflow {
        name: "random".into(),
        files: file_names
            .iter()
            .map(|name| InputFile {
                name: name.clone(),
                size_mb: rng.random_range(0.0..200.0),
            })
            .collect(),
        tasks: Vec::new(),
        edges: Vec::new(),
    };
    for t in 0..tasks {
        let inputs = file_names
            .iter()
            .filter(|_| rng.random_range(0..4) == 0)
            .cloned()
            .collect();
        workflow.tasks.push(Task {
            name: format!("t{t}"),
            sf: format!("S{}", rng.random_range(0..types)),
            workload: rng.random_range(0.0..20.0),
            inputs,
        });
        for p in 0..t {
            if rng.random_range(0..5) == 0 {
                workflow.edges.push(Edge {
                    from: format!("t{p}"),
                    to: format!("t{t}"),
                    data_mb: rng.random_range(0.0..100.0),
                });
            }
        }
    }
    let networks = rng.random_range(1..=2_usize);
    let infra = Infrastructure {
        load_limit,
        function_prefix: "/fn".into(),
        inter_network_bandwidth: rng.random_range(5.0..50.0),
        networks: (0..networks)
            .map(|n| Network {
                name: format!("n{n}"),
                bandwidth: rng.random_range(20.0..200.0),
            })
            .collect(),
        hosts: (0..hosts)
            .map(|h| Host {
                name: format!("h{h}"),
                network: format!("n{}", rng.random_range(0..networks)),
                vcpu_speeds: (0..rng.random_range(1..=4_usize))
                    .map(|_| rng.random_range(0.5..3.0))
                    .collect(),
                images: (0..types)
                    .filter(|_| rng.random_range(0..3) == 0)
                    .map(|t| format!("S{t}"))
                    .collect(),
                files: file_names
                    .iter()
                    .filter(|_| rng.random_range(0..3) == 0)
                    .cloned()
                    .collect(),
            })
            .collect(),
        image_repository: Server {
            network: "n0".into(),
            bandwidth: rng.random_range(10.0..100.0),
        },
        file_server: Server {
            network: format!("n{}", networks - 1),
            bandwidth: rng.random_range(10.0..100.0),
        },
        images: (0..types)
            .map(|t| Image {
                sf: format!("S{t}"),
                size_mb: rng.random_range(0.0..1500.0),
            })
            .collect(),
        default_image_size_mb: None,
    };
    Problem::new(&workflow, &infra).unwrap()
}

/// Every task placed exactly once, the checker accepts, the replay is never later, the
/// schedule is deterministic and its metrics are sane, for every algorithm.
fn every_algorithm_is_valid_on(problem: &Problem) -> Result<(), TestCaseError> {
    for algorithm in Algorithm::EVERY {
        let schedule = algorithm.schedule(problem);
        // Every task placed exactly once, on an existing vCPU.
        prop_assert_eq!(schedule.assignments.len(), problem.n_tasks());
        prop_assert!(
            schedule
                .assignments
                .iter()
                .all(|a| a.vcpu < problem.n_vcpus())
        );
        let instances = schedule.instances(problem);
        let mut served: Vec<usize> = instances.iter().flat_map(|i| i.tasks.clone()).collect();
        served.sort_unstable();
        prop_assert_eq!(served, (0..problem.n_tasks()).collect::<Vec<_>>());
        // Precedence with transfers, no overlap on a vCPU, load limit, downloads first.
        if let Err(e) = check(problem, &schedule) {
            prop_assert!(false, "{}: {}", algorithm, e);
        }
        // The replay never finishes later than the plan, which was feasible.
        let times = simulate(problem, &schedule).unwrap();
        let replayed = times.iter().map(|t| t.1).fold(0.0, f64::max);
        prop_assert!(replayed <= schedule.makespan() + 1e-6);
        // Same input, same schedule.
        prop_assert_eq!(&algorithm.schedule(problem), &schedule);
        let metrics = evaluate(problem, &schedule).unwrap();
        prop_assert!(metrics.sharing_degree >= 1.0);
        prop_assert!(metrics.vcpus_used >= 1 && metrics.vcpus_used <= problem.n_vcpus());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_algorithm_gives_a_valid_deterministic_schedule(
        seed in any::<u64>(),
        tasks in 1_usize..30,
        hosts in 1_usize..5,
        load_limit in prop::sample::select(vec![0.3, 0.5, 0.75, 1.0]),
    ) {
        every_algorithm_is_valid_on(&random_problem(seed, tasks, hosts, load_limit))?;
    }

    /// The same under the nearest-copy download model, at cache-hit rates from well below to
    /// well above the repository's: the engine's downloads are the checker's.
    #[test]
    fn every_algorithm_is_valid_under_nearest_copy(
        seed in any::<u64>(),
        tasks in 1_usize..30,
        hosts in 1_usize..6,
        load_limit in prop::sample::select(vec![0.3, 0.5, 0.75, 1.0]),
        cache_rate in prop::sample::select(vec![5.0, 25.0, 100.0, 1000.0]),
    ) {
        let problem = random_problem(seed, tasks, hosts, load_limit)
            .with_download_model(DownloadModel::NearestCopy { cache_rate })
            .unwrap();
        every_algorithm_is_valid_on(&problem)?;
    }
}

#[test]
fn the_checker_rejects_overlap_broken_precedence_and_overload() {
    let problem = random_problem(7, 12, 2, 0.5);
    let schedule = Algorithm::Heft.schedule(&problem);
    check(&problem, &schedule).unwrap();

    // Two tasks on one vCPU at the same time.
    let mut overlapping = schedule.clone();
    let (a, b) = (0, 1);
    overlapping.assignments[b] = overlapping.assignments[a];
    let exec = problem.exec_time(b, overlapping.assignments[a].vcpu);
    overlapping.assignments[b].finish = overlapping.assignments[b].start + exec;
    assert!(check(&problem, &overlapping).is_err());

    // A task that starts before its predecessor's data has arrived.
    if let Some(task) = (0..problem.n_tasks()).find(|&t| !problem.preds[t].is_empty()) {
        let mut early = schedule.clone();
        let pred = problem.preds[task][0].0;
        let a = &mut early.assignments[task];
        let duration = a.finish - a.start;
        a.start = schedule.assignments[pred].finish - 1.0;
        a.finish = a.start + duration;
        assert!(check(&problem, &early).is_err());
    }
}

#[test]
fn the_load_limit_binds_and_holds() {
    // One host with 4 vCPUs, limit 0.5: at most 2 of 8 independent tasks run at once.
    let mut workflow = Workflow {
        name: "independent".into(),
        files: Vec::new(),
        tasks: Vec::new(),
        edges: Vec::new(),
    };
    for t in 0..8 {
        workflow.tasks.push(Task {
            name: format!("t{t}"),
            sf: "S".into(),
            workload: 10.0,
            inputs: Vec::new(),
        });
    }
    let infra = Infrastructure {
        load_limit: 0.5,
        function_prefix: "/fn".into(),
        inter_network_bandwidth: 1.0,
        networks: vec![Network {
            name: "n".into(),
            bandwidth: 10.0,
        }],
        hosts: vec![Host {
            name: "h".into(),
            network: "n".into(),
            vcpu_speeds: vec![1.0; 4],
            images: vec!["S".into()],
            files: Vec::new(),
        }],
        image_repository: Server {
            network: "n".into(),
            bandwidth: 1.0,
        },
        file_server: Server {
            network: "n".into(),
            bandwidth: 1.0,
        },
        images: vec![Image {
            sf: "S".into(),
            size_mb: 1.0,
        }],
        default_image_size_mb: None,
    };
    let problem = Problem::new(&workflow, &infra).unwrap();
    for algorithm in Algorithm::EVERY {
        let schedule = algorithm.schedule(&problem);
        check(&problem, &schedule).unwrap();
        // 8 tasks of 10 s, two at a time: 40 s at best.
        assert!(
            schedule.makespan() >= 40.0 - 1e-9,
            "{algorithm}: {}",
            schedule.makespan()
        );
    }
}

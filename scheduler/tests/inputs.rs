//! Bad input files give clear errors; the shipped examples parse and schedule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::{
    Algorithm, Error, Infrastructure, Plan, Problem, Scheduler, Workflow, evaluate, experiment,
};

const INFRA: &str = r#"
load_limit = 0.75
inter_network_bandwidth = 10.0
[[network]]
name = "nw1"
bandwidth = 100.0
[[host]]
name = "vm1"
network = "nw1"
vcpu_speeds = [1.0, 2.0]
[image_repository]
network = "nw1"
bandwidth = 50.0
[file_server]
network = "nw1"
bandwidth = 50.0
[[image]]
sf = "A"
size_mb = 100.0
"#;

fn problem(workflow: &str, infra: &str) -> Result<Problem, Error> {
    let workflow = Workflow::from_toml_str(workflow)?;
    let infra = Infrastructure::from_toml_str(infra)?;
    Problem::new(&workflow, &infra)
}

fn tasks(extra: &str) -> String {
    format!(
        "[[task]]\nname = \"a\"\nsf = \"A\"\nworkload = 1.0\n[[task]]\nname = \"b\"\nsf = \"A\"\nworkload = 1.0\n{extra}"
    )
}

#[test]
fn a_cycle_is_named() {
    let wf = tasks("[[edge]]\nfrom = \"a\"\nto = \"b\"\n[[edge]]\nfrom = \"b\"\nto = \"a\"\n");
    let err = problem(&wf, INFRA).unwrap_err();
    assert!(matches!(err, Error::Cycle(_)), "{err}");
    assert!(err.to_string().contains("cycle"));
}

#[test]
fn the_task_named_for_a_cycle_is_on_it() {
    // a -> b -> c -> b, and c -> d: only b and c are on the cycle, d merely behind it.
    let wf = "[[task]]\nname = \"d\"\nsf = \"A\"\nworkload = 1.0\n".to_owned()
        + &tasks(
            "[[task]]\nname = \"c\"\nsf = \"A\"\nworkload = 1.0\n\
             [[edge]]\nfrom = \"a\"\nto = \"b\"\n[[edge]]\nfrom = \"b\"\nto = \"c\"\n\
             [[edge]]\nfrom = \"c\"\nto = \"b\"\n[[edge]]\nfrom = \"c\"\nto = \"d\"\n",
        );
    match problem(&wf, INFRA).unwrap_err() {
        Error::Cycle(task) => assert!(task == "b" || task == "c", "named {task}"),
        other => panic!("{other}"),
    }
}

#[test]
fn an_edge_to_an_unknown_task_is_named() {
    let wf = tasks("[[edge]]\nfrom = \"a\"\nto = \"zz\"\n");
    let err = problem(&wf, INFRA).unwrap_err();
    assert!(err.to_string().contains("\"zz\""), "{err}");
}

#[test]
fn an_sf_type_without_image_is_named() {
    let wf = "[[task]]\nname = \"a\"\nsf = \"Q\"\nworkload = 1.0\n";
    let err = problem(wf, INFRA).unwrap_err();
    assert!(matches!(err, Error::MissingImage { .. }), "{err}");
    assert!(err.to_string().contains("\"Q\""));
}

#[test]
fn other_mistakes_are_reported() {
    let cases = [
        (
            tasks("[[edge]]\nfrom = \"a\"\nto = \"a\"\n"),
            INFRA.to_owned(),
            "self-loop",
        ),
        (
            tasks(""),
            INFRA.replace("network = \"nw1\"\nvcpu", "network = \"nw9\"\nvcpu"),
            "nw9",
        ),
        (
            tasks(""),
            INFRA.replace("[1.0, 2.0]", "[1.0, -2.0]"),
            "vCPU speed",
        ),
        (
            tasks(""),
            INFRA.replace("load_limit = 0.75", "load_limit = 1.5"),
            "load_limit",
        ),
        (tasks(""), INFRA.replace("[1.0, 2.0]", "[]"), "no vCPU"),
        (
            "[[task]]\nname = \"a\"\nsf = \"A\"\nworkload = 1.0\ninputs = [\"x\"]\n".to_owned(),
            INFRA.to_owned(),
            "\"x\"",
        ),
        (
            tasks("[[task]]\nname = \"a\"\nsf = \"A\"\nworkload = 1.0\n"),
            INFRA.to_owned(),
            "two tasks",
        ),
        ("task = 3".to_owned(), INFRA.to_owned(), "workflow file"),
        (
            tasks("").replace("workload = 1.0", "workload = \"fast\""),
            INFRA.to_owned(),
            "workflow file",
        ),
    ];
    for (wf, infra, needle) in cases {
        let err = problem(&wf, &infra).unwrap_err();
        assert!(
            err.to_string().contains(needle),
            "expected {needle:?} in: {err}"
        );
    }
    assert!(matches!(
        Workflow::from_toml_str("[[task]]\nname=1"),
        Err(Error::Parse { .. })
    ));
    assert!("bogus".parse::<Algorithm>().is_err());
    assert_eq!("SF-CUV".parse::<Algorithm>().unwrap(), Algorithm::SfCuv);
}

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_commented_examples_schedule_and_give_a_plan() {
    let problem = problem(
        &example("small.workflow.toml"),
        &example("small.infra.toml"),
    )
    .unwrap();
    for algorithm in Algorithm::EVERY {
        let schedule = algorithm.schedule(&problem);
        evaluate(&problem, &schedule).unwrap();
        let plan = schedule.plan(&problem);
        let text = plan.to_toml_string().unwrap();
        assert_eq!(Plan::from_toml_str(&text).unwrap(), plan);
        // Every node that runs an SF routes its function name to the local instance.
        for node in &plan.node {
            for sf in &node.sf {
                assert!(
                    node.route
                        .iter()
                        .any(|r| r.next_hop == "local" && r.prefix.ends_with(&format!("/{sf}")))
                );
            }
        }
    }
}

/// The generated Fig. 31/32 example files match the code that generates them; run with
/// `UPDATE_EXAMPLES=1` to rewrite them.
#[test]
fn the_generated_examples_are_up_to_date() {
    let files = [
        (
            "fig32_B4.workflow.toml",
            experiment::fig32_workflow(4).to_toml_string().unwrap(),
        ),
        (
            "fig31_seed1.infra.toml",
            experiment::fig31_infrastructure(1, false, experiment::DEFAULT_LOAD_LIMIT)
                .to_toml_string()
                .unwrap(),
        ),
        (
            "fig31_seed1_predeploy.infra.toml",
            experiment::fig31_infrastructure(1, true, experiment::DEFAULT_LOAD_LIMIT)
                .to_toml_string()
                .unwrap(),
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (name, text) in files {
        if std::env::var_os("UPDATE_EXAMPLES").is_some() {
            std::fs::write(dir.join(name), &text).unwrap();
        }
        assert_eq!(
            example(name),
            text,
            "{name} is stale: run with UPDATE_EXAMPLES=1"
        );
        // And they parse back.
        if name.contains("workflow") {
            Workflow::from_toml_str(&text).unwrap();
        } else {
            Infrastructure::from_toml_str(&text).unwrap();
        }
    }
}

#[test]
fn execution_times_and_mean_bandwidth_follow_the_files_without_dense_tables() {
    // Three hosts in two networks with 2, 2 and 4 vCPUs of different speeds.
    let problem = problem(
        &example("small.workflow.toml"),
        &example("small.infra.toml"),
    )
    .unwrap();
    let workflow = Workflow::from_toml_str(&example("small.workflow.toml")).unwrap();
    for (t, task) in workflow.tasks.iter().enumerate() {
        for (v, vcpu) in problem.vcpus.iter().enumerate() {
            assert_eq!(problem.exec_time(t, v), task.workload / vcpu.speed);
        }
    }
    // The mean over ordered pairs of vCPUs, by brute force (0 on one host).
    let n = problem.n_vcpus();
    let mut sum = 0.0;
    for a in 0..n {
        for b in 0..n {
            if a != b {
                sum += problem.transfer_time(1.0, problem.host_of(a), problem.host_of(b));
            }
        }
    }
    let brute = sum / (n * (n - 1)) as f64;
    assert!(
        (problem.mean_inv_bw - brute).abs() < 1e-12,
        "{} vs {brute}",
        problem.mean_inv_bw
    );
    assert!(problem.mean_inv_bw > 0.0);
}

//! The two readings of the seed where it is ambiguous, each on a small problem built so that
//! the readings place a task differently: COM-based ("nearest node with sufficient capacity")
//! and SF-CUV (Fig. 27's load-driven move; sharing per vCPU or per host).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::{Algorithm, Infrastructure, Problem, Scheduler, Workflow, evaluate};

/// Hosts in one network (100 MB/s), every image pre-deployed, no files.
fn infra(load_limit: f64, hosts: &[(&str, &[f64])], types: &[&str]) -> Infrastructure {
    let mut text = format!(
        "load_limit = {load_limit}\nfunction_prefix = \"/fn\"\ninter_network_bandwidth = 10.0\n\
         [[network]]\nname = \"lan\"\nbandwidth = 100.0\n"
    );
    let images: Vec<String> = types.iter().map(|t| format!("\"{t}\"")).collect();
    for (name, speeds) in hosts {
        let speeds: Vec<String> = speeds.iter().map(|s| format!("{s:?}")).collect();
        text += &format!(
            "[[host]]\nname = \"{name}\"\nnetwork = \"lan\"\nvcpu_speeds = [{}]\nimages = [{}]\n",
            speeds.join(", "),
            images.join(", ")
        );
    }
    text += "[image_repository]\nnetwork = \"lan\"\nbandwidth = 50.0\n\
             [file_server]\nnetwork = \"lan\"\nbandwidth = 50.0\n";
    for t in types {
        text += &format!("[[image]]\nsf = \"{t}\"\nsize_mb = 1000.0\n");
    }
    Infrastructure::from_toml_str(&text).unwrap()
}

/// `X` feeds `C` and `D`: (name, workload) and (from, to, MB).
fn workflow(tasks: &[(&str, f64)], edges: &[(&str, &str, f64)]) -> Workflow {
    let mut text = String::from("name = \"t\"\n");
    for (name, workload) in tasks {
        text += &format!("[[task]]\nname = \"{name}\"\nsf = \"{name}\"\nworkload = {workload:?}\n");
    }
    for (from, to, data) in edges {
        text += &format!("[[edge]]\nfrom = \"{from}\"\nto = \"{to}\"\ndata_mb = {data:?}\n");
    }
    Workflow::from_toml_str(&text).unwrap()
}

fn host_of(problem: &Problem, schedule: &nfwd_scheduler::Schedule, task: &str) -> String {
    let t = problem.task_names.iter().position(|n| n == task).unwrap();
    problem.hosts[problem.host_of(schedule.assignments[t].vcpu)]
        .name
        .clone()
}

/// A (1 s) feeds B and C (10 s each) on two one-vCPU hosts. The nearest node for B and C is
/// A's host; only one of them can run there at a time.
fn fan_out() -> Problem {
    let infra = infra(1.0, &[("h1", &[1.0]), ("h2", &[1.0])], &["A", "B", "C"]);
    let workflow = workflow(
        &[("A", 1.0), ("B", 10.0), ("C", 10.0)],
        &[("A", "B", 10.0), ("A", "C", 20.0)],
    );
    Problem::new(&workflow, &infra).unwrap()
}

#[test]
fn com_based_waits_at_the_nearest_node() {
    let problem = fan_out();
    let schedule = Algorithm::ComBased.schedule(&problem);
    assert_eq!(schedule.algorithm, "com-based");
    for task in ["A", "B", "C"] {
        assert_eq!(host_of(&problem, &schedule, task), "h1", "{task}");
    }
    // B runs 1..11, C waits for h1's vCPU: 11..21.
    assert!(
        (schedule.makespan() - 21.0).abs() < 1e-9,
        "{}",
        schedule.makespan()
    );
    let metrics = evaluate(&problem, &schedule).unwrap();
    assert_eq!(metrics.vcpus_used, 1);
    // Absolute metrics: one vCPU held for 21 s and busy all of it; images pre-deployed.
    assert!((metrics.vcpu_seconds - 21.0).abs() < 1e-9);
    assert!((metrics.busy_vcpu_seconds - 21.0).abs() < 1e-9);
    assert_eq!(metrics.mb_downloaded, 0.0);
}

#[test]
fn com_immediate_goes_elsewhere_when_the_nearest_node_is_busy() {
    let problem = fan_out();
    let schedule = Algorithm::ComImmediate.schedule(&problem);
    assert_eq!(schedule.algorithm, "com-immediate");
    assert_eq!(host_of(&problem, &schedule, "B"), "h1");
    assert_eq!(host_of(&problem, &schedule, "C"), "h2");
    // C starts when its 20 MB arrive at h2 (1 + 0.2 s) and runs 10 s.
    assert!(
        (schedule.makespan() - 11.2).abs() < 1e-9,
        "{}",
        schedule.makespan()
    );
    let metrics = evaluate(&problem, &schedule).unwrap();
    // Two vCPUs held for 11.2 s, busy 21 s between them.
    assert!((metrics.vcpu_seconds - 22.4).abs() < 1e-9);
    assert!((metrics.busy_vcpu_seconds - 21.0).abs() < 1e-9);
}

/// Fig. 27's shape: X feeds C and D. vmA has two fast vCPUs but its load limit (0.5) lets it
/// run one task at a time; vmB has one vCPU as fast. Phase I (seed's reading) pre-allocates
/// C and D to vmA's two vCPUs, where they cannot run together: phase II moves D to vmB.
fn fig27() -> Problem {
    let infra = infra(
        0.5,
        &[("vmA", &[2.0, 2.0]), ("vmB", &[2.0])],
        &["X", "C", "D"],
    );
    let workflow = workflow(
        &[("X", 2.0), ("C", 10.0), ("D", 10.0)],
        &[("X", "C", 1.0), ("X", "D", 1.0)],
    );
    Problem::new(&workflow, &infra).unwrap()
}

#[test]
fn sf_cuv_moves_a_task_off_a_host_whose_load_limit_holds_it_back() {
    let problem = fig27();
    let schedule = Algorithm::SfCuv.schedule(&problem);
    assert_eq!(host_of(&problem, &schedule, "X"), "vmA");
    assert_eq!(host_of(&problem, &schedule, "C"), "vmA");
    assert_eq!(host_of(&problem, &schedule, "D"), "vmB");
    let metrics = evaluate(&problem, &schedule).unwrap();
    // X and C share a vCPU (one cluster), D has vmB's.
    assert_eq!((metrics.vcpus_used, metrics.hosts_used), (2, 2));
    // X 0..1, C 1..6 on vmA; D 1.01..6.01 on vmB after 1 MB at 100 MB/s.
    assert!((schedule.makespan() - 6.01).abs() < 1e-9);
}

#[test]
fn cuv_fix_keeps_the_pre_allocation_and_waits_for_the_load_limit() {
    let problem = fig27();
    let schedule = Algorithm::CuvFix.schedule(&problem);
    // Same phase I: D pre-allocated on vmA's second vCPU, where it waits for C.
    assert_eq!(host_of(&problem, &schedule, "D"), "vmA");
    assert!(
        (schedule.makespan() - 11.0).abs() < 1e-9,
        "{}",
        schedule.makespan()
    );
}

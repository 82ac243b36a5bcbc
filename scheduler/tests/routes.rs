//! Instances, routes and the plan of a small placement whose answer is known.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::{Algorithm, Problem, Route, Scheduler};

/// T1 is fast on P1 only, T2 and T3 fast on P2 only; T1 feeds both.
fn split_problem() -> Problem {
    let exec = vec![vec![1.0, 100.0], vec![100.0, 1.0], vec![100.0, 1.0]];
    Problem::from_cost_matrix(&exec, &[(0, 1, 2.0), (0, 2, 2.0)]).unwrap()
}

fn route(host: &str, prefix: &str, next_hop: &str) -> Route {
    Route {
        host: host.into(),
        prefix: prefix.into(),
        next_hop: next_hop.into(),
    }
}

#[test]
fn routes_point_interests_against_the_data_flow() {
    let problem = split_problem();
    let schedule = Algorithm::Heft.schedule(&problem);
    let hosts: Vec<usize> = schedule
        .assignments
        .iter()
        .map(|a| problem.host_of(a.vcpu))
        .collect();
    assert_eq!(hosts, [0, 1, 1]);
    // T2 and T3 both start after T1 (1 s) and its transfer (2 s), one after the other on P2.
    assert_eq!(schedule.makespan(), 5.0);
    let routes = schedule.routes(&problem);
    assert_eq!(
        routes,
        [
            route("P1", "/fn/T1", "local"),
            route("P2", "/fn/T1", "P1"),
            route("P2", "/fn/T2", "local"),
            route("P2", "/fn/T3", "local"),
        ]
    );
    let plan = schedule.plan(&problem);
    assert_eq!(plan.node.len(), 2);
    assert_eq!(plan.node[1].sf, ["T2", "T3"]);
    assert!(
        plan.node.iter().all(|n| n.pull_images.is_empty()),
        "images are pre-deployed"
    );
    let text = schedule.render_text(&problem);
    assert!(text.contains("route /fn/T1 -> P1"), "{text}");
}

#[test]
fn instances_group_tasks_by_host_and_type() {
    let problem = split_problem();
    let schedule = Algorithm::SfCuv.schedule(&problem);
    let instances = schedule.instances(&problem);
    let total: usize = instances.iter().map(|i| i.tasks.len()).sum();
    assert_eq!(total, 3);
    // Three types, so three instances whatever the placement.
    assert_eq!(instances.len(), 3);
}

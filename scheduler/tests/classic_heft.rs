//! The HEFT paper's classic example.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::{Algorithm, Scheduler, classic_heft_example, evaluate};

#[test]
fn upward_rank_of_the_entry_task_is_108() {
    let problem = classic_heft_example();
    let rank = problem.upward_rank_mean();
    assert!((rank[0] - 108.0).abs() < 1e-9, "rank_u(T1) = {}", rank[0]);
}

#[test]
fn heft_with_insertion_gives_makespan_80() {
    let problem = classic_heft_example();
    let schedule = Algorithm::Heft.schedule(&problem);
    assert!(
        (schedule.makespan() - 80.0).abs() < 1e-9,
        "makespan {}",
        schedule.makespan()
    );
    let metrics = evaluate(&problem, &schedule).unwrap();
    assert!((metrics.response_time - 80.0).abs() < 1e-9);
}

#[test]
fn every_algorithm_schedules_the_classic_example_validly() {
    let problem = classic_heft_example();
    for algorithm in Algorithm::EVERY {
        let schedule = algorithm.schedule(&problem);
        let metrics = evaluate(&problem, &schedule).unwrap();
        assert!(
            metrics.response_time >= 73.0 - 1e-9,
            "{algorithm}: below the critical path"
        );
        println!("{algorithm}: {}", schedule.makespan());
    }
}

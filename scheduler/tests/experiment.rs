//! A small version of the seed's evaluation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::experiment::{self, ExperimentConfig};
use nfwd_scheduler::{Algorithm, Problem};

#[test]
fn the_fig32_workflow_has_three_b_plus_one_tasks_of_six_types() {
    for b in 2..=10 {
        let workflow = experiment::fig32_workflow(b);
        assert_eq!(workflow.tasks.len(), 3 * (b + 1));
        let problem =
            Problem::new(&workflow, &experiment::fig31_infrastructure(3, false, 0.75)).unwrap();
        assert_eq!(problem.type_names, ["A", "B", "C", "D", "E", "F"]);
    }
}

#[test]
fn a_small_experiment_runs_and_writes_csv_and_figures() {
    let config = ExperimentConfig {
        partitions: vec![2, 3, 4],
        seeds: vec![1],
        ..ExperimentConfig::default()
    };
    let results = experiment::run(&config).unwrap();
    assert_eq!(results.rows.len(), 2 * 3 * Algorithm::ALL.len());
    for s in results
        .summary
        .iter()
        .filter(|s| s.algorithm == Algorithm::SfCuv)
    {
        assert!((s.normalized_response_time - 1.0).abs() < 1e-12);
        assert!((s.normalized_efficiency - 1.0).abs() < 1e-12);
    }
    // Pre-deployment removes every image download.
    for row in &results.rows {
        if row.predeploy {
            assert_eq!(row.metrics.image_downloads, 0);
        } else {
            assert!(
                row.metrics.image_downloads >= 6,
                "every SF type needs its image once"
            );
        }
    }
    // Same configuration, same numbers.
    assert_eq!(experiment::run(&config).unwrap(), results);

    let dir = std::env::temp_dir().join(format!("nfwd-sched-exp-{}", std::process::id()));
    let written = results.write(&dir).unwrap();
    assert!(written.len() >= 8);
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3 * Algorithm::ALL.len());
    let svg = std::fs::read_to_string(dir.join("fig34a_response_no_predeploy.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("sf-cuv"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_gantt_chart_is_drawn() {
    let problem = Problem::new(
        &experiment::fig32_workflow(3),
        &experiment::fig31_infrastructure(1, false, 0.75),
    )
    .unwrap();
    let path = std::env::temp_dir().join(format!("nfwd-gantt-{}.svg", std::process::id()));
    let schedule = nfwd_scheduler::plot::gantt_of(&problem, Algorithm::SfCuv, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("B1") && svg.contains("image repo"));
    assert!(schedule.makespan() > 0.0);
    std::fs::remove_file(&path).unwrap();
}

/// The seed's central claims, pinned on a few inputs so a regression in SF-CUV shows up.
#[test]
fn without_predeployment_sf_cuv_shares_most_and_responds_first() {
    let config = ExperimentConfig {
        partitions: vec![4, 8],
        seeds: vec![1, 2, 3],
        ..ExperimentConfig::default()
    };
    let results = experiment::run(&config).unwrap();
    for &b in &config.partitions {
        let of = |a: Algorithm| -> &experiment::SummaryRow {
            results
                .summary
                .iter()
                .find(|s| !s.predeploy && s.partitions == b && s.algorithm == a)
                .unwrap()
        };
        let sf_cuv = of(Algorithm::SfCuv);
        for other in Algorithm::ALL.into_iter().skip(1) {
            let o = of(other);
            assert!(o.normalized_response_time > 1.0, "{other} at |B|={b}");
            assert!(o.normalized_efficiency < 1.0, "{other} at |B|={b}");
            assert!(
                o.sharing_degree <= sf_cuv.sharing_degree,
                "{other} at |B|={b}"
            );
            if other != Algorithm::CuvFix {
                assert!(
                    o.sharing_degree < sf_cuv.sharing_degree,
                    "{other} at |B|={b}"
                );
            }
        }
    }
}

#[test]
fn phase_two_moves_tasks_onto_shared_instances() {
    // |B| = 8 on seeds where the fastest VM cannot hold every branch: CUV-FIX (no moves)
    // then needs more instances than SF-CUV.
    let config = ExperimentConfig {
        partitions: vec![8],
        seeds: vec![4, 5, 10, 12],
        ..ExperimentConfig::default()
    };
    let results = experiment::run(&config).unwrap();
    let instances = |a: Algorithm| {
        results
            .summary
            .iter()
            .find(|s| !s.predeploy && s.algorithm == a)
            .unwrap()
            .instances
    };
    assert!(instances(Algorithm::SfCuv) < instances(Algorithm::CuvFix));
}

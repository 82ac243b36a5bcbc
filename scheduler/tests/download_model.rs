//! The two download models on the seed's evaluation: `origin` gives exactly the committed
//! results; `nearest-copy` gives valid plans in which later copies come from the forwarders'
//! caches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::experiment::{self, ExperimentConfig};
use nfwd_scheduler::{Algorithm, DownloadModel, DownloadSource, Problem, Scheduler, check};

/// The committed `results.csv` (`docs/figures/scheduler/`), made before the download models
/// existed (`--algos all`, |B| = 2…16, seeds 1–20).
const COMMITTED: &str = include_str!("../../docs/figures/scheduler/results.csv");

fn config(model: DownloadModel) -> ExperimentConfig {
    ExperimentConfig {
        partitions: vec![2, 5, 8],
        seeds: vec![1, 2, 3],
        algorithms: Algorithm::EVERY.to_vec(),
        download_model: model,
        ..ExperimentConfig::default()
    }
}

/// Under `origin` (the default, and set explicitly) every row is the committed row, to the
/// last printed digit, for all eight algorithms, with and without pre-deployment.
#[test]
fn origin_gives_the_committed_results() {
    let committed: std::collections::BTreeSet<&str> = COMMITTED.lines().collect();
    let default = experiment::run(&config(ExperimentConfig::default().download_model)).unwrap();
    let explicit = experiment::run(&config(DownloadModel::Origin)).unwrap();
    assert_eq!(default, explicit);
    let csv = default.rows_csv();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), COMMITTED.lines().next(), "same columns");
    let mut compared = 0;
    for line in lines {
        assert!(
            committed.contains(line),
            "not in the committed results: {line}"
        );
        compared += 1;
    }
    assert_eq!(compared, 2 * 3 * 3 * Algorithm::EVERY.len());
}

/// With every image pre-deployed nothing is downloaded, so the model cannot matter.
#[test]
fn with_predeployment_the_models_agree() {
    let origin = experiment::run(&config(DownloadModel::Origin)).unwrap();
    let cached = experiment::run(&config(DownloadModel::nearest_copy())).unwrap();
    let predeployed = |r: &experiment::ExperimentResults| -> Vec<_> {
        r.rows.iter().filter(|row| row.predeploy).cloned().collect()
    };
    assert_eq!(predeployed(&origin), predeployed(&cached));
}

/// Nearest-copy on the Fig. 31/32 set-up: every algorithm's plan passes the checker under the
/// model, no image comes from a cache before the repository has sent one copy of it, the
/// download-oblivious baselines (which create an instance per scattered host) take their
/// later copies from the caches and respond sooner than under `origin`, and the same plans
/// are refused by the checker under `origin`.
#[test]
fn nearest_copy_serves_later_copies_from_the_caches() {
    let (mut heft_origin, mut heft_cached) = (0.0, 0.0);
    for seed in 1..=3 {
        let workflow = experiment::fig32_workflow(8);
        let infra = experiment::fig31_infrastructure(seed, false, 0.75);
        let origin = Problem::new(&workflow, &infra).unwrap();
        let cached = origin
            .clone()
            .with_download_model(DownloadModel::nearest_copy())
            .unwrap();
        for algorithm in Algorithm::EVERY {
            let schedule = algorithm.schedule(&cached);
            check(&cached, &schedule).unwrap();
            let mut first_copy = [false; 6];
            let mut from_caches = 0;
            for d in &schedule.image_downloads {
                match d.source {
                    DownloadSource::Origin => first_copy[d.item] = true,
                    DownloadSource::Cache(_) => {
                        assert!(first_copy[d.item], "{algorithm}: a copy before the first");
                        from_caches += 1;
                    }
                }
            }
            // Every type's first copy comes from the repository; at most one per type.
            assert!(schedule.image_downloads.len() - from_caches >= 6);
            if from_caches > 0 {
                assert!(check(&origin, &schedule).is_err(), "{algorithm}");
            }
            if algorithm == Algorithm::Heft {
                assert!(
                    from_caches > 0,
                    "HEFT scatters B, C and D over several hosts"
                );
                heft_cached += nfwd_scheduler::evaluate(&cached, &schedule)
                    .unwrap()
                    .response_time;
                let planned = algorithm.schedule(&origin);
                heft_origin += nfwd_scheduler::evaluate(&origin, &planned)
                    .unwrap()
                    .response_time;
            }
        }
    }
    assert!(
        heft_cached < heft_origin,
        "HEFT: {heft_cached} s with caches, {heft_origin} s without (three seeds)"
    );
}

/// The cache-blind ablation of SF-CUV is SF-CUV under `origin`, and only nearest-copy runs
/// report it.
#[test]
fn the_cache_blind_ablation_differs_only_under_nearest_copy() {
    use nfwd_scheduler::{SfCuv, SfCuvParams};
    let blind = SfCuv::new(SfCuvParams {
        cache_aware: false,
        ..SfCuvParams::default()
    });
    let mut differs = false;
    for seed in 1..=3 {
        let workflow = experiment::fig32_workflow(8);
        let infra = experiment::fig31_infrastructure(seed, false, 0.75);
        let origin = Problem::new(&workflow, &infra).unwrap();
        assert_eq!(
            blind.schedule(&origin),
            Algorithm::SfCuv.schedule(&origin),
            "seed {seed}"
        );
        let cached = origin
            .with_download_model(DownloadModel::NearestCopy { cache_rate: 100.0 })
            .unwrap();
        let schedule = blind.schedule(&cached);
        check(&cached, &schedule).unwrap();
        differs |= schedule != Algorithm::SfCuv.schedule(&cached);
    }
    assert!(
        differs,
        "knowing the caches changes SF-CUV's plan on some seed"
    );
    let origin = experiment::run(&config(DownloadModel::Origin)).unwrap();
    assert!(origin.sf_cuv_blind.is_empty());
    let cached = experiment::run(&config(DownloadModel::nearest_copy())).unwrap();
    assert_eq!(cached.sf_cuv_blind.len(), 2 * 3);
}

/// The Gantt chart of a nearest-copy plan has a row for each cache that serves an image.
#[test]
fn a_nearest_copy_gantt_chart_shows_the_caches() {
    let problem = Problem::new(
        &experiment::fig32_workflow(8),
        &experiment::fig31_infrastructure(1, false, 0.75),
    )
    .unwrap()
    .with_download_model(DownloadModel::nearest_copy())
    .unwrap();
    let path = std::env::temp_dir().join(format!("nfwd-sched-nc-{}.svg", std::process::id()));
    let schedule = nfwd_scheduler::plot::gantt_of(&problem, Algorithm::Heft, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut caches: Vec<&str> = schedule
        .image_downloads
        .iter()
        .filter_map(|d| match d.source {
            DownloadSource::Cache(n) => Some(problem.network_names[n].as_str()),
            DownloadSource::Origin => None,
        })
        .collect();
    caches.dedup();
    assert!(!caches.is_empty());
    for network in caches {
        assert!(
            svg.contains(&format!("cache {network}")),
            "no row for {network}"
        );
    }
    assert!(svg.contains("image repo"));
}

//! The seed's evaluation (§4.2.4, Figs. 31–35) reproduced in simulation.
//!
//! Workflow (our reading of Fig. 32): `A` splits the input video into `|B|` partitions; each
//! partition goes through `B_i -> C_i -> D_i`; `E` joins the partitions and `F` produces the
//! result: `|V| = 3(|B| + 1)` tasks of six SF types. Work of `B`, `C`, `D` and the data between
//! them are split evenly over the partitions, so `|B|` changes the parallelism, not the job.
//!
//! Environment (after Fig. 31): two networks of four VMs each, every VM with 2 or 4 vCPUs of
//! one random speed; the container repository in NW#1 and the file server in NW#2; every SF
//! image is 1,220 MB, as in the seed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::algorithms::{Algorithm, Heft, Scheduler, SfCuv, SfCuvParams};
use crate::error::{Error, Result};
use crate::model::{Edge, Host, Image, Infrastructure, InputFile, Network, Server, Task, Workflow};
use crate::problem::{DownloadModel, Problem};
use crate::schedule::Schedule;
use crate::simulate::{Metrics, evaluate};

/// Size of every SF image, MB (the seed's "BaseSF-tar": 1.22 GB).
pub const IMAGE_SIZE_MB: f64 = 1220.0;

/// The Fig. 32 workflow with `partitions` (= |B| ≥ 1) branches.
pub fn fig32_workflow(partitions: usize) -> Workflow {
    let b = partitions.max(1);
    let share = 1.0 / b as f64;
    let mut tasks = vec![Task {
        name: "A".to_owned(),
        sf: "A".to_owned(),
        workload: 30.0,
        inputs: vec!["input.mp4".to_owned()],
    }];
    let mut edges = Vec::new();
    for i in 1..=b {
        let (bi, ci, di) = (format!("B{i}"), format!("C{i}"), format!("D{i}"));
        tasks.push(Task {
            name: bi.clone(),
            sf: "B".to_owned(),
            workload: 300.0 * share,
            inputs: vec!["model.xml".to_owned()],
        });
        tasks.push(Task {
            name: ci.clone(),
            sf: "C".to_owned(),
            workload: 150.0 * share,
            inputs: Vec::new(),
        });
        tasks.push(Task {
            name: di.clone(),
            sf: "D".to_owned(),
            workload: 150.0 * share,
            inputs: Vec::new(),
        });
        let edge = |from: &str, to: &str, data: f64| Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            data_mb: data,
        };
        edges.push(edge("A", &bi, 400.0 * share));
        edges.push(edge(&bi, &ci, 200.0 * share));
        edges.push(edge(&ci, &di, 200.0 * share));
        edges.push(edge(&di, "E", 100.0 * share));
    }
    for (name, workload) in [("E", 30.0), ("F", 20.0)] {
        tasks.push(Task {
            name: name.to_owned(),
            sf: name.to_owned(),
            workload,
            inputs: Vec::new(),
        });
    }
    edges.push(Edge {
        from: "E".to_owned(),
        to: "F".to_owned(),
        data_mb: 50.0,
    });
    Workflow {
        name: format!("fig32-B{b}"),
        files: vec![
            InputFile {
                name: "input.mp4".to_owned(),
                size_mb: 400.0,
            },
            InputFile {
                name: "model.xml".to_owned(),
                size_mb: 100.0,
            },
        ],
        tasks,
        edges,
    }
}

/// The SF types of the Fig. 32 workflow.
pub const FIG32_TYPES: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// A Fig. 31-like environment: heterogeneity drawn from `seed`; with `predeploy`, every host
/// already holds every SF image.
pub fn fig31_infrastructure(seed: u64, predeploy: bool, load_limit: f64) -> Infrastructure {
    fig31_infrastructure_with(seed, predeploy, load_limit, DEFAULT_SPEED_RANGE)
}

/// vCPU speeds (Gop/s) are drawn uniformly from this range, one per VM.
pub const DEFAULT_SPEED_RANGE: (f64, f64) = (1.0, 3.0);

/// [`fig31_infrastructure`] with the range the VM speeds are drawn from.
pub fn fig31_infrastructure_with(
    seed: u64,
    predeploy: bool,
    load_limit: f64,
    speed_range: (f64, f64),
) -> Infrastructure {
    let (slowest, fastest) = (speed_range.0, speed_range.1.max(speed_range.0 + 1e-6));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hosts = Vec::new();
    for (network, prefix) in [("nw1", "vm1"), ("nw2", "vm2")] {
        for k in 1..=4 {
            let vcpus = if rng.random_range(0..2) == 0 { 2 } else { 4 };
            // Cores of one physical host run at one speed; hosts differ.
            // A range too narrow to widen at this magnitude (`slowest + 1e-6 == slowest`) would
            // make `random_range` panic: every VM gets the slowest speed then.
            let drawn = if slowest < fastest {
                rng.random_range(slowest..fastest)
            } else {
                slowest
            };
            let speed = (drawn * 100.0).round() / 100.0;
            hosts.push(Host {
                name: format!("{prefix}{k}"),
                network: network.to_owned(),
                vcpu_speeds: vec![speed; vcpus],
                images: if predeploy {
                    FIG32_TYPES.iter().map(|t| (*t).to_owned()).collect()
                } else {
                    Vec::new()
                },
                files: Vec::new(),
            });
        }
    }
    Infrastructure {
        load_limit,
        function_prefix: "/fn".to_owned(),
        inter_network_bandwidth: 25.0,
        networks: vec![
            Network {
                name: "nw1".to_owned(),
                bandwidth: 100.0,
            },
            Network {
                name: "nw2".to_owned(),
                bandwidth: 100.0,
            },
        ],
        hosts,
        image_repository: Server {
            network: "nw1".to_owned(),
            bandwidth: 50.0,
        },
        file_server: Server {
            network: "nw2".to_owned(),
            bandwidth: 50.0,
        },
        images: FIG32_TYPES
            .iter()
            .map(|t| Image {
                sf: (*t).to_owned(),
                size_mb: IMAGE_SIZE_MB,
            })
            .collect(),
        default_image_size_mb: None,
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentConfig {
    /// Values of |B|.
    pub partitions: Vec<usize>,
    /// Seeds of the heterogeneity.
    pub seeds: Vec<u64>,
    /// The load limit of every host.
    pub load_limit: f64,
    /// Range of the VMs' vCPU speeds, Gop/s.
    pub speed_range: (f64, f64),
    /// SF-CUV's `move_slack` (see [`crate::SfCuvParams`]).
    pub move_slack: f64,
    /// The algorithms to run, SF-CUV among them (every ratio is to SF-CUV's value).
    pub algorithms: Vec<Algorithm>,
    /// How images reach the hosts: every algorithm plans (SF-CUV, CUV-FIX) or is realised
    /// (the download-oblivious baselines) and is checked under it.
    pub download_model: DownloadModel,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            partitions: (2..=16).collect(),
            seeds: (1..=20).collect(),
            load_limit: DEFAULT_LOAD_LIMIT,
            speed_range: DEFAULT_SPEED_RANGE,
            move_slack: SfCuvParams::default().move_slack,
            algorithms: Algorithm::ALL.to_vec(),
            download_model: DownloadModel::Origin,
        }
    }
}

impl ExperimentConfig {
    /// Checks every number: positive finite speeds with min <= max, a load limit in (0, 1],
    /// a finite non-negative move slack, at least one |B| >= 1 and one seed.
    pub fn validate(&self) -> Result<()> {
        let (slowest, fastest) = self.speed_range;
        for (what, value) in [("slowest VM speed", slowest), ("fastest VM speed", fastest)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::BadNumber {
                    what: what.to_owned(),
                    value,
                });
            }
        }
        if slowest > fastest {
            return Err(Error::BadNumber {
                what: format!("fastest VM speed (at least the slowest, {slowest})"),
                value: fastest,
            });
        }
        if !(self.load_limit > 0.0 && self.load_limit <= 1.0) {
            return Err(Error::BadNumber {
                what: "load limit (in (0, 1])".to_owned(),
                value: self.load_limit,
            });
        }
        if !(self.move_slack.is_finite() && self.move_slack >= 0.0) {
            return Err(Error::BadNumber {
                what: "move slack (zero allowed)".to_owned(),
                value: self.move_slack,
            });
        }
        if self.partitions.is_empty() || self.partitions.contains(&0) || self.seeds.is_empty() {
            return Err(Error::BadNumber {
                what: "number of |B| values and of seeds (each |B| at least 1)".to_owned(),
                value: 0.0,
            });
        }
        if !self.algorithms.contains(&Algorithm::SfCuv) {
            return Err(Error::NoReferenceAlgorithm);
        }
        if let Some(&most) = self.partitions.iter().max() {
            check_partitions(most)?;
        }
        check_seeds(u64::try_from(self.seeds.len()).unwrap_or(u64::MAX))?;
        Ok(())
    }
}

/// |B| gives 3(|B| + 1) tasks: refuses a |B| whose workflow would pass the task limit, before
/// building it.
pub fn check_partitions(partitions: usize) -> Result<()> {
    crate::limits::check_count(
        "tasks (3(|B| + 1) for the Fig. 32 workflow)",
        partitions.saturating_add(1).saturating_mul(3),
        crate::limits::MAX_TASKS,
    )
}

/// Most heterogeneity seeds in one experiment: each runs every |B| and algorithm twice, so
/// this is already days of work; a larger count is refused rather than allocated.
pub const MAX_SEEDS: u64 = 100_000;

/// Fails when an experiment asks for more seeds than [`MAX_SEEDS`].
pub fn check_seeds(seeds: u64) -> Result<()> {
    crate::limits::check_count(
        "seeds",
        usize::try_from(seeds).unwrap_or(usize::MAX),
        usize::try_from(MAX_SEEDS).unwrap_or(usize::MAX),
    )
}

/// The load limit used in the experiment: 3 of 4 vCPUs (1 of 2) may be busy at once.
pub const DEFAULT_LOAD_LIMIT: f64 = 0.75;

/// One schedule's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// SF images pre-deployed on every host.
    pub predeploy: bool,
    /// |B| (0 for a given workflow, see [`run_workflow`]).
    pub partitions: usize,
    /// Tasks in the workflow.
    pub tasks: usize,
    /// Heterogeneity seed.
    pub seed: u64,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Its metrics.
    pub metrics: Metrics,
}

/// Means over seeds for one (pre-deployment, |B|, algorithm).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// SF images pre-deployed.
    pub predeploy: bool,
    /// |B|.
    pub partitions: usize,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Mean degree of SF sharing.
    pub sharing_degree: f64,
    /// Mean of response time / SF-CUV's response time (same seed).
    pub normalized_response_time: f64,
    /// Mean of efficiency / SF-CUV's efficiency (same seed).
    pub normalized_efficiency: f64,
    /// Mean response time, s.
    pub response_time: f64,
    /// Mean vCPUs used.
    pub vcpus_used: f64,
    /// Mean SF instances.
    pub instances: f64,
    /// Mean vCPU-seconds (vCPUs used × response time).
    pub vcpu_seconds: f64,
    /// Mean MB of images and files downloaded.
    pub mb_downloaded: f64,
    /// Seeds where the algorithm's response time beats SF-CUV's by more than 0.1 %.
    pub seeds_faster_than_sf_cuv: usize,
}

/// All results of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentResults {
    /// Every schedule.
    pub rows: Vec<Row>,
    /// Means over seeds.
    pub summary: Vec<SummaryRow>,
    /// Ablation, not in the seed: HEFT choosing with image and file downloads in its EFT.
    /// Per (pre-deployment, |B|): mean sharing, mean normalised response time and efficiency.
    pub heft_aware: Vec<(bool, usize, f64, f64, f64)>,
    /// Ablation under the nearest-copy model only (empty under origin): SF-CUV costing new
    /// instances as repository downloads while the caches serve them
    /// ([`SfCuvParams::cache_aware`] false). Per (pre-deployment, |B|): mean sharing, mean
    /// normalised response time (to cache-aware SF-CUV's), mean response time.
    pub sf_cuv_blind: Vec<(bool, usize, f64, f64, f64)>,
    /// The given workflow's name when the run was on one ([`run_workflow`]) rather than on
    /// the Fig. 32 family: there is no |B| axis to plot then.
    pub given_workflow: Option<String>,
}

/// Runs every algorithm on every configuration; every schedule is checked by the simulator.
pub fn run(config: &ExperimentConfig) -> Result<ExperimentResults> {
    config.validate()?;
    let cases: Vec<(usize, Workflow)> = config
        .partitions
        .iter()
        .map(|&b| (b, fig32_workflow(b)))
        .collect();
    run_cases(config, &cases, None)
}

/// Runs every algorithm on `workflow` (a WfCommons trace, say) in the Fig. 31 environment of
/// every seed, without and with pre-deployment of all its SF types; every type's image is
/// [`IMAGE_SIZE_MB`]. `config.partitions` is not used; rows have `partitions` 0.
pub fn run_workflow(workflow: &Workflow, config: &ExperimentConfig) -> Result<ExperimentResults> {
    config.validate()?;
    let name = if workflow.name.is_empty() {
        "workflow".to_owned()
    } else {
        workflow.name.clone()
    };
    run_cases(config, &[(0, workflow.clone())], Some(name))
}

/// Schedules with `algorithm`, SF-CUV's two readings with the configured move slack.
fn schedule_with(algorithm: Algorithm, config: &ExperimentConfig, problem: &Problem) -> Schedule {
    let with_slack = |params: SfCuvParams| {
        SfCuv::new(SfCuvParams {
            move_slack: config.move_slack,
            ..params
        })
        .schedule(problem)
    };
    match algorithm {
        Algorithm::SfCuv => with_slack(SfCuvParams::default()),
        Algorithm::SfCuvPerHost => with_slack(SfCuvParams::per_host()),
        other => other.schedule(problem),
    }
}

fn run_cases(
    config: &ExperimentConfig,
    cases: &[(usize, Workflow)],
    given_workflow: Option<String>,
) -> Result<ExperimentResults> {
    let heft_aware = Heft {
        aware_of_downloads: true,
    };
    let mut rows = Vec::new();
    let mut ablation: BTreeMap<(bool, usize), [f64; 4]> = BTreeMap::new();
    let mut blind_acc: BTreeMap<(bool, usize), [f64; 4]> = BTreeMap::new();
    for predeploy in [false, true] {
        for (partitions, workflow) in cases {
            let partitions = *partitions;
            let types: std::collections::BTreeSet<&str> =
                workflow.tasks.iter().map(|t| t.sf.as_str()).collect();
            for &seed in &config.seeds {
                let mut infra = fig31_infrastructure_with(
                    seed,
                    predeploy,
                    config.load_limit,
                    config.speed_range,
                );
                if given_workflow.is_some() {
                    infra.default_image_size_mb = Some(IMAGE_SIZE_MB);
                    if predeploy {
                        for host in &mut infra.hosts {
                            host.images = types.iter().map(|t| (*t).to_owned()).collect();
                        }
                    }
                }
                let problem =
                    Problem::new(workflow, &infra)?.with_download_model(config.download_model)?;
                let mut reference = None;
                for &algorithm in &config.algorithms {
                    let schedule = schedule_with(algorithm, config, &problem);
                    let metrics = evaluate(&problem, &schedule)?;
                    if algorithm == Algorithm::SfCuv {
                        reference = Some(metrics);
                    }
                    rows.push(Row {
                        predeploy,
                        partitions,
                        tasks: workflow.tasks.len(),
                        seed,
                        algorithm,
                        metrics,
                    });
                }
                if let (Some(base), DownloadModel::NearestCopy { .. }) =
                    (reference, config.download_model)
                {
                    let blind = SfCuv::new(SfCuvParams {
                        move_slack: config.move_slack,
                        cache_aware: false,
                        ..SfCuvParams::default()
                    });
                    let m = evaluate(&problem, &blind.schedule(&problem))?;
                    let acc = blind_acc.entry((predeploy, partitions)).or_default();
                    acc[0] += m.sharing_degree;
                    acc[1] += m.response_time / base.response_time;
                    acc[2] += m.response_time;
                    acc[3] += 1.0;
                }
                if let Some(base) = reference {
                    let m = evaluate(&problem, &heft_aware.schedule(&problem))?;
                    let acc = ablation.entry((predeploy, partitions)).or_default();
                    acc[0] += m.sharing_degree;
                    acc[1] += m.response_time / base.response_time;
                    acc[2] += m.efficiency / base.efficiency;
                    acc[3] += 1.0;
                }
            }
        }
    }
    let summary = summarize(&rows)?;
    let heft_aware = ablation
        .into_iter()
        .map(|((p, b), a)| (p, b, a[0] / a[3], a[1] / a[3], a[2] / a[3]))
        .collect();
    let sf_cuv_blind = blind_acc
        .into_iter()
        .map(|((p, b), a)| (p, b, a[0] / a[3], a[1] / a[3], a[2] / a[3]))
        .collect();
    Ok(ExperimentResults {
        rows,
        summary,
        heft_aware,
        sf_cuv_blind,
        given_workflow,
    })
}

/// Draws the Gantt chart of every algorithm on the Fig. 32 workflow with `partitions`
/// branches, heterogeneity seed 1, no pre-deployment; returns the files written.
pub fn write_gantts(
    dir: &Path,
    partitions: usize,
    config: &ExperimentConfig,
) -> Result<Vec<std::path::PathBuf>> {
    config.validate()?;
    check_partitions(partitions)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    let workflow = fig32_workflow(partitions);
    let infra = fig31_infrastructure_with(1, false, config.load_limit, config.speed_range);
    let problem = Problem::new(&workflow, &infra)?.with_download_model(config.download_model)?;
    let mut written = Vec::new();
    for &algorithm in &config.algorithms {
        let schedule = schedule_with(algorithm, config, &problem);
        let path = dir.join(format!(
            "gantt_{}_B{partitions}_seed1.svg",
            algorithm.name()
        ));
        crate::plot::gantt_svg(&problem, &schedule, &path)?;
        written.push(path);
    }
    Ok(written)
}

fn summarize(rows: &[Row]) -> Result<Vec<SummaryRow>> {
    let reference: BTreeMap<(bool, usize, u64), Metrics> = rows
        .iter()
        .filter(|r| r.algorithm == Algorithm::SfCuv)
        .map(|r| ((r.predeploy, r.partitions, r.seed), r.metrics))
        .collect();
    let mut groups: BTreeMap<(bool, usize, Algorithm), Vec<&Row>> = BTreeMap::new();
    for row in rows {
        groups
            .entry((row.predeploy, row.partitions, row.algorithm))
            .or_default()
            .push(row);
    }
    let mut summary = Vec::new();
    for ((predeploy, partitions, algorithm), group) in groups {
        let n = group.len() as f64;
        let mut acc = [0.0_f64; 8];
        let mut faster = 0;
        for row in &group {
            let base = reference
                .get(&(row.predeploy, row.partitions, row.seed))
                .ok_or_else(|| Error::InvalidSchedule("SF-CUV missing from a run".to_owned()))?;
            let m = row.metrics;
            acc[0] += m.sharing_degree;
            acc[1] += m.response_time / base.response_time;
            acc[2] += m.efficiency / base.efficiency;
            acc[3] += m.response_time;
            acc[4] += m.vcpus_used as f64;
            acc[5] += m.instances as f64;
            acc[6] += m.vcpu_seconds;
            acc[7] += m.mb_downloaded;
            if m.response_time < base.response_time * 0.999 {
                faster += 1;
            }
        }
        summary.push(SummaryRow {
            predeploy,
            partitions,
            algorithm,
            sharing_degree: acc[0] / n,
            normalized_response_time: acc[1] / n,
            normalized_efficiency: acc[2] / n,
            response_time: acc[3] / n,
            vcpus_used: acc[4] / n,
            instances: acc[5] / n,
            vcpu_seconds: acc[6] / n,
            mb_downloaded: acc[7] / n,
            seeds_faster_than_sf_cuv: faster,
        });
    }
    Ok(summary)
}

impl ExperimentResults {
    /// Every schedule as CSV.
    pub fn rows_csv(&self) -> String {
        let mut out = String::from(
            "predeploy,partitions,tasks,seed,algorithm,response_time_s,sharing_degree,efficiency,\
             vcpus_used,hosts_used,instances,image_downloads,file_downloads,vcpu_seconds,\
             busy_vcpu_seconds,mb_downloaded\n",
        );
        for r in &self.rows {
            let m = r.metrics;
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.3},{:.4},{:.5},{},{},{},{},{},{:.2},{:.2},{:.1}",
                r.predeploy,
                r.partitions,
                r.tasks,
                r.seed,
                r.algorithm,
                m.response_time,
                m.sharing_degree,
                m.efficiency,
                m.vcpus_used,
                m.hosts_used,
                m.instances,
                m.image_downloads,
                m.file_downloads,
                m.vcpu_seconds,
                m.busy_vcpu_seconds,
                m.mb_downloaded
            );
        }
        out
    }

    /// Means over seeds as CSV.
    pub fn summary_csv(&self) -> String {
        let mut out = String::from(
            "predeploy,partitions,algorithm,sharing_degree,normalized_response_time,\
             normalized_efficiency,response_time_s,vcpus_used,instances,seeds_faster_than_sf_cuv,\
             vcpu_seconds,mb_downloaded\n",
        );
        for s in &self.summary {
            let _ = writeln!(
                out,
                "{},{},{},{:.4},{:.4},{:.4},{:.3},{:.2},{:.2},{},{:.1},{:.1}",
                s.predeploy,
                s.partitions,
                s.algorithm,
                s.sharing_degree,
                s.normalized_response_time,
                s.normalized_efficiency,
                s.response_time,
                s.vcpus_used,
                s.instances,
                s.seeds_faster_than_sf_cuv,
                s.vcpu_seconds,
                s.mb_downloaded
            );
        }
        out
    }

    /// The HEFT-with-downloads ablation as CSV.
    pub fn heft_aware_csv(&self) -> String {
        let mut out = String::from(
            "predeploy,partitions,sharing_degree,normalized_response_time,normalized_efficiency\n",
        );
        for (predeploy, partitions, sharing, response, efficiency) in &self.heft_aware {
            let _ = writeln!(
                out,
                "{predeploy},{partitions},{sharing:.4},{response:.4},{efficiency:.4}"
            );
        }
        out
    }

    /// The cache-blind SF-CUV ablation as CSV (nearest-copy runs).
    pub fn sf_cuv_blind_csv(&self) -> String {
        let mut out = String::from(
            "predeploy,partitions,sharing_degree,normalized_response_time,response_time_s\n",
        );
        for (predeploy, partitions, sharing, normalized, response) in &self.sf_cuv_blind {
            let _ = writeln!(
                out,
                "{predeploy},{partitions},{sharing:.4},{normalized:.4},{response:.3}"
            );
        }
        out
    }

    /// The summary rows of one pre-deployment case and algorithm, by increasing |B|.
    pub fn series(&self, predeploy: bool, algorithm: Algorithm) -> Vec<&SummaryRow> {
        self.summary
            .iter()
            .filter(|s| s.predeploy == predeploy && s.algorithm == algorithm)
            .collect()
    }

    /// Writes `results.csv`, `summary.csv` and the figures into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();
        for (name, text) in [
            ("results.csv", self.rows_csv()),
            ("summary.csv", self.summary_csv()),
            ("ablation_heft_aware.csv", self.heft_aware_csv()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        if !self.sf_cuv_blind.is_empty() {
            let path = dir.join("ablation_sf_cuv_cache_blind.csv");
            std::fs::write(&path, self.sf_cuv_blind_csv()).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        if self.given_workflow.is_none() {
            written.extend(crate::plot::experiment_figures(self, dir)?);
        }
        Ok(written)
    }
}

//! `nfwd schedule ...`: place SFs on vCPUs (SF-CUV and baselines) and run the seed's evaluation.

use crate::cli::output::write_stdout;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use nfwd_scheduler::experiment::{self, ExperimentConfig};
use nfwd_scheduler::{
    Algorithm, CostMatrix, DownloadModel, Infrastructure, Problem, Scheduler, WfFormatOptions,
    Workflow, evaluate, plot, read_input, workflow_from_wfformat,
};

/// How SF images reach the hosts (docs/scheduler.md §1, "Downloads").
#[derive(Debug, Args)]
pub(crate) struct Downloads {
    /// `origin`: every image from the image repository, one download at a time (the seed's
    /// model); `nearest-copy`: SF images as NDN packages, served by the cache of a forwarder
    /// on the host's path once a copy has crossed it, without the repository's queue.
    #[arg(long, default_value = "origin")]
    download_model: String,
    /// Under nearest-copy: MB/s at which a forwarder's cache serves a package (default 25,
    /// measured by scripts/bench-provision.sh, docs/benchmarks.md).
    #[arg(long)]
    cache_rate: Option<f64>,
}

impl Downloads {
    fn model(&self) -> anyhow::Result<DownloadModel> {
        let model = DownloadModel::from_name(
            &self.download_model,
            self.cache_rate
                .unwrap_or(DownloadModel::MEASURED_CACHE_RATE),
        )
        .context("--download-model/--cache-rate")?;
        if self.cache_rate.is_some() && matches!(model, DownloadModel::Origin) {
            anyhow::bail!("--cache-rate applies to --download-model nearest-copy only");
        }
        Ok(model)
    }
}

/// What to schedule: a workflow on an infrastructure, or a literature-style cost matrix.
#[derive(Debug, Args)]
pub(crate) struct Inputs {
    /// Workflow file: TOML, or WfFormat JSON (WfCommons traces; detected by its leading `{`).
    #[arg(long, required_unless_present = "costs", requires = "infra")]
    workflow: Option<PathBuf>,
    /// Infrastructure file (TOML).
    #[arg(long, requires = "workflow")]
    infra: Option<PathBuf>,
    /// Instead of a workflow and an infrastructure: a cost-matrix file (TOML), each task's
    /// execution time on each processor and each edge's communication cost, as in the HEFT
    /// and PEFT papers.
    #[arg(long, conflicts_with_all = ["workflow", "infra"])]
    costs: Option<PathBuf>,
    /// For WfFormat workflows: speed (Gop/s) of the machine the runtimes were measured on.
    #[arg(long, default_value_t = 1.0)]
    reference_speed: f64,
    #[command(flatten)]
    downloads: Downloads,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Print the available algorithms.
    Algorithms,
    /// Schedule a workflow on an infrastructure, or a cost-matrix problem; print the plan and
    /// write it as TOML.
    Plan {
        #[command(flatten)]
        inputs: Inputs,
        /// sf-cuv, cuv-fix, heft, peft, cap-based or com-based (the seed's six), or a
        /// variant reading: sf-cuv-host, com-immediate (`nfwd schedule algorithms`).
        #[arg(long, default_value = "sf-cuv")]
        algo: String,
        /// Write the plan here, for the SF host and the topology launcher (`nfwd topo apply`).
        /// Without it nothing is written: the schedule is only printed.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also draw the schedule's Gantt chart (SVG) here.
        #[arg(long)]
        gantt: Option<PathBuf>,
        /// Print one JSON document instead of the text: the plan (as the plan file has it)
        /// and the simulated metrics (fields in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Draw the Gantt chart (SVG) of one schedule.
    Gantt {
        #[command(flatten)]
        inputs: Inputs,
        /// The algorithm.
        #[arg(long, default_value = "sf-cuv")]
        algo: String,
        /// Output SVG file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Reproduce the seed's evaluation (Figs. 33–35): CSV and SVG plots, plus Gantt charts.
    Experiment {
        /// Output directory.
        #[arg(long, default_value = "docs/figures/scheduler")]
        out_dir: PathBuf,
        /// Smallest |B|.
        #[arg(long, default_value_t = 2)]
        min_partitions: usize,
        /// Largest |B|.
        #[arg(long, default_value_t = 16)]
        max_partitions: usize,
        /// Number of heterogeneity seeds (1..=N).
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// Load limit of every host, in (0, 1].
        #[arg(long, default_value_t = experiment::DEFAULT_LOAD_LIMIT)]
        load_limit: f64,
        /// |B| of the example schedules drawn as Gantt charts (0: none).
        #[arg(long, default_value_t = 8)]
        gantt_partitions: usize,
        /// Slowest VM speed, Gop/s.
        #[arg(long, default_value_t = experiment::DEFAULT_SPEED_RANGE.0)]
        speed_min: f64,
        /// Fastest VM speed, Gop/s.
        #[arg(long, default_value_t = experiment::DEFAULT_SPEED_RANGE.1)]
        speed_max: f64,
        /// SF-CUV's move slack (share of a task's execution time a sharing move may cost).
        #[arg(long, default_value_t = 0.0)]
        move_slack: f64,
        /// Run on this workflow (TOML or WfFormat JSON) instead of the Fig. 32 family: every
        /// seed's Fig. 31 environment, 1,220 MB images; CSV only (no |B| axis to plot).
        #[arg(long)]
        workflow: Option<PathBuf>,
        /// For a WfFormat workflow: speed (Gop/s) of the machine the runtimes were measured on.
        #[arg(long, default_value_t = 1.0)]
        reference_speed: f64,
        /// Algorithms to run, comma-separated, sf-cuv among them; `all` adds the variant
        /// readings (sf-cuv-host, com-immediate) to the seed's six. Default: the six.
        #[arg(long, value_delimiter = ',')]
        algos: Vec<String>,
        #[command(flatten)]
        downloads: Downloads,
    },
    /// Write the experiment's workflow (Fig. 32) and infrastructure (Fig. 31) as TOML files.
    Example {
        /// |B|.
        #[arg(long, default_value_t = 4)]
        partitions: usize,
        /// Heterogeneity seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Every host already holds every SF image.
        #[arg(long)]
        predeploy: bool,
        /// Output directory.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
    },
}

/// The experiment's algorithms: the seed's six by default, every reading for `all`.
fn algorithms_named(names: &[String]) -> anyhow::Result<Vec<Algorithm>> {
    if names.is_empty() {
        return Ok(Algorithm::ALL.to_vec());
    }
    if names.iter().any(|n| n.eq_ignore_ascii_case("all")) {
        return Ok(Algorithm::EVERY.to_vec());
    }
    let mut chosen: Vec<Algorithm> = Vec::new();
    for name in names {
        let algorithm: Algorithm = name.trim().parse()?;
        if !chosen.contains(&algorithm) {
            chosen.push(algorithm);
        }
    }
    Ok(chosen)
}

pub(crate) fn run(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::Algorithms => {
            for algorithm in Algorithm::EVERY {
                print_out(&format!(
                    "{:<13} {}\n",
                    algorithm.name(),
                    algorithm.description()
                ))?;
            }
            Ok(())
        }
        ScheduleCommand::Plan {
            inputs,
            algo,
            out: plan_path,
            gantt,
            json,
        } => {
            let algorithm: Algorithm = algo.parse()?;
            let started = Instant::now();
            let problem = inputs.load()?;
            let loaded = started.elapsed();
            let schedule = algorithm.schedule(&problem);
            let planned = started.elapsed() - loaded;
            let metrics = evaluate(&problem, &schedule)?;
            // The plan file is written before anything is printed, so a reader that stops
            // early (`| head`) cannot keep it from being written.
            let plan = schedule.plan(&problem);
            if let Some(plan_path) = &plan_path {
                std::fs::write(plan_path, plan.to_toml_string()?)
                    .with_context(|| format!("writing {}", plan_path.display()))?;
            }
            if let Some(path) = &gantt {
                plot::gantt_svg(&problem, &schedule, path)?;
            }
            if json {
                let doc = serde_json::json!({
                    "algorithm": algorithm.to_string(),
                    "tasks": problem.n_tasks(),
                    "vcpus": problem.n_vcpus(),
                    "response_time_s": metrics.response_time,
                    "vcpus_used": metrics.vcpus_used,
                    "instances": metrics.instances,
                    "sharing_degree": metrics.sharing_degree,
                    "efficiency": metrics.efficiency,
                    "vcpu_seconds": metrics.vcpu_seconds,
                    "busy_vcpu_seconds": metrics.busy_vcpu_seconds,
                    "mb_downloaded": metrics.mb_downloaded,
                    "download_model": problem.download_model.name(),
                    "mb_from_caches": metrics.mb_from_caches,
                    "plan": plan,
                    "plan_file": plan_path.as_ref().map(|p| p.display().to_string()),
                });
                print_out(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
                return Ok(());
            }
            print_out(&schedule.render_text(&problem))?;
            print_out(&format!(
                "\nsimulated response time {:.2} s; {} vCPUs, {} instances, sharing {:.2}, \
                 efficiency {:.3}\n",
                metrics.response_time,
                metrics.vcpus_used,
                metrics.instances,
                metrics.sharing_degree,
                metrics.efficiency
            ))?;
            print_out(&format!(
                "absolute: makespan {:.2} s, {:.1} vCPU-seconds (used vCPUs x makespan; {:.1} \
                 busy), {} instances, {:.1} MB downloaded\n",
                metrics.response_time,
                metrics.vcpu_seconds,
                metrics.busy_vcpu_seconds,
                metrics.instances,
                metrics.mb_downloaded
            ))?;
            if let DownloadModel::NearestCopy { cache_rate } = problem.download_model {
                print_out(&format!(
                    "nearest-copy downloads: {:.1} MB of images from forwarders' caches \
                     ({cache_rate} MB/s each), the rest from the repository\n",
                    metrics.mb_from_caches
                ))?;
            }
            print_out(&format!(
                "{} tasks on {} vCPUs: read in {:.3} s, scheduled by {algorithm} in {:.3} s\n",
                problem.n_tasks(),
                problem.n_vcpus(),
                loaded.as_secs_f64(),
                planned.as_secs_f64()
            ))?;
            let written = match &plan_path {
                Some(p) => format!("plan written to {}\n", p.display()),
                None => "no plan file written (--out FILE writes one for nfwd topo apply)\n".into(),
            };
            print_out(&written)?;
            if let Some(path) = gantt {
                print_out(&format!("Gantt chart written to {}\n", path.display()))?;
            }
            Ok(())
        }
        ScheduleCommand::Gantt {
            inputs,
            algo,
            out: svg,
        } => {
            let algorithm: Algorithm = algo.parse()?;
            let problem = inputs.load()?;
            let schedule = plot::gantt_of(&problem, algorithm, &svg)?;
            print_out(&format!(
                "{}: response time {:.2} s; Gantt chart written to {}\n",
                algorithm,
                schedule.makespan(),
                svg.display()
            ))
        }
        ScheduleCommand::Experiment {
            out_dir,
            min_partitions,
            max_partitions,
            seeds,
            load_limit,
            gantt_partitions,
            speed_min,
            speed_max,
            move_slack,
            workflow,
            reference_speed,
            algos,
            downloads,
        } => {
            anyhow::ensure!(
                (1..=max_partitions).contains(&min_partitions) && seeds > 0,
                "need 1 <= --min-partitions <= --max-partitions and --seeds >= 1"
            );
            // Before the ranges below are collected: a huge bound must be an error, not an
            // allocation failure.
            experiment::check_partitions(max_partitions).context("--max-partitions")?;
            experiment::check_partitions(gantt_partitions).context("--gantt-partitions")?;
            experiment::check_seeds(seeds).context("--seeds")?;
            let config = ExperimentConfig {
                partitions: (min_partitions..=max_partitions).collect(),
                seeds: (1..=seeds).collect(),
                load_limit,
                speed_range: (speed_min, speed_max),
                move_slack,
                algorithms: algorithms_named(&algos)?,
                download_model: downloads.model()?,
            };
            // Checked before any work, so no run is half done when an argument is bad.
            config
                .validate()
                .context("checking the experiment's arguments")?;
            let started = Instant::now();
            let given = match &workflow {
                Some(path) => Some(read_workflow(path, reference_speed)?),
                None => None,
            };
            let results = match &given {
                Some(wf) => experiment::run_workflow(wf, &config)?,
                None => experiment::run(&config)?,
            };
            let mut written = results.write(&out_dir)?;
            if gantt_partitions > 0 && given.is_none() {
                written.extend(experiment::write_gantts(
                    &out_dir,
                    gantt_partitions,
                    &config,
                )?);
            }
            print_out(&format!(
                "{} schedules in {:.2} s\n",
                results.rows.len(),
                started.elapsed().as_secs_f64()
            ))?;
            print_out(&results.summary_csv())?;
            for path in written {
                print_out(&format!("wrote {}\n", path.display()))?;
            }
            Ok(())
        }
        ScheduleCommand::Example {
            partitions,
            seed,
            predeploy,
            out_dir,
        } => {
            experiment::check_partitions(partitions).context("--partitions")?;
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("creating {}", out_dir.display()))?;
            let workflow = experiment::fig32_workflow(partitions).to_toml_string()?;
            let infra =
                experiment::fig31_infrastructure(seed, predeploy, experiment::DEFAULT_LOAD_LIMIT)
                    .to_toml_string()?;
            let wf_path = out_dir.join(format!("fig32_B{partitions}.workflow.toml"));
            let suffix = if predeploy { "_predeploy" } else { "" };
            let infra_path = out_dir.join(format!("fig31_seed{seed}{suffix}.infra.toml"));
            std::fs::write(&wf_path, workflow)
                .with_context(|| format!("writing {}", wf_path.display()))?;
            std::fs::write(&infra_path, infra)
                .with_context(|| format!("writing {}", infra_path.display()))?;
            print_out(&format!(
                "wrote {} and {}\n",
                wf_path.display(),
                infra_path.display()
            ))
        }
    }
}

impl Inputs {
    fn load(&self) -> anyhow::Result<Problem> {
        let model = self.downloads.model()?;
        Ok(self.load_origin()?.with_download_model(model)?)
    }

    fn load_origin(&self) -> anyhow::Result<Problem> {
        match (&self.costs, &self.workflow, &self.infra) {
            (Some(costs), _, _) => {
                let matrix = CostMatrix::from_toml_str(&read_input(costs)?)
                    .with_context(|| format!("in {}", costs.display()))?;
                Ok(matrix
                    .to_problem()
                    .with_context(|| format!("checking {}", costs.display()))?)
            }
            (None, Some(workflow), Some(infra)) => {
                let wf = read_workflow(workflow, self.reference_speed)?;
                let inf = Infrastructure::from_toml_str(&read_input(infra)?)
                    .with_context(|| format!("in {}", infra.display()))?;
                Ok(Problem::new(&wf, &inf).with_context(|| {
                    format!(
                        "checking {} against {}",
                        workflow.display(),
                        infra.display()
                    )
                })?)
            }
            // clap requires --costs, or --workflow with --infra.
            _ => anyhow::bail!("give --costs FILE, or --workflow FILE and --infra FILE"),
        }
    }
}

/// Reads a workflow file: WfFormat JSON (no TOML document starts with `{`, every JSON one
/// does) or TOML.
fn read_workflow(path: &std::path::Path, reference_speed: f64) -> anyhow::Result<Workflow> {
    let text = read_input(path)?;
    let workflow = if text.trim_start().starts_with('{') {
        workflow_from_wfformat(&text, WfFormatOptions { reference_speed })
    } else {
        Workflow::from_toml_str(&text)
    };
    workflow.with_context(|| format!("in {}", path.display()))
}

/// Command output through the binary's stdout (`cli::output`): quiet once the reader has gone
/// (`nfwd schedule plan | head`), so files and plots still get written.
fn print_out(text: &str) -> anyhow::Result<()> {
    write_stdout(text.as_bytes()).context("writing to standard output")
}

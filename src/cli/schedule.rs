//! `nfwd schedule ...`: place SFs on vCPUs (SF-CUV and baselines) and run the seed's evaluation.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use nfwd_scheduler::experiment::{self, ExperimentConfig};
use nfwd_scheduler::{Algorithm, Infrastructure, Problem, Scheduler, Workflow, evaluate, plot};

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Print the available algorithms.
    Algorithms,
    /// Schedule a workflow on an infrastructure; print the plan and write it as TOML.
    Plan {
        /// Workflow file (TOML).
        #[arg(long)]
        workflow: PathBuf,
        /// Infrastructure file (TOML).
        #[arg(long)]
        infra: PathBuf,
        /// sf-cuv, cuv-fix, heft, peft, cap-based or com-based.
        #[arg(long, default_value = "sf-cuv")]
        algo: String,
        /// Where to write the plan for the SF host and the topology launcher.
        #[arg(long, default_value = "plan.toml")]
        out: PathBuf,
        /// Also draw the schedule's Gantt chart (SVG) here.
        #[arg(long)]
        gantt: Option<PathBuf>,
    },
    /// Draw the Gantt chart (SVG) of one schedule.
    Gantt {
        /// Workflow file (TOML).
        #[arg(long)]
        workflow: PathBuf,
        /// Infrastructure file (TOML).
        #[arg(long)]
        infra: PathBuf,
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

pub(crate) fn run(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::Algorithms => {
            for algorithm in Algorithm::ALL {
                println!("{:<10} {}", algorithm.name(), algorithm.description());
            }
            Ok(())
        }
        ScheduleCommand::Plan {
            workflow,
            infra,
            algo,
            out,
            gantt,
        } => {
            let problem = load(&workflow, &infra)?;
            let algorithm: Algorithm = algo.parse()?;
            let schedule = algorithm.schedule(&problem);
            let metrics = evaluate(&problem, &schedule)?;
            print!("{}", schedule.render_text(&problem));
            println!(
                "\nsimulated response time {:.2} s; {} vCPUs, {} instances, sharing {:.2}, efficiency {:.3}",
                metrics.response_time,
                metrics.vcpus_used,
                metrics.instances,
                metrics.sharing_degree,
                metrics.efficiency
            );
            let text = schedule.plan(&problem).to_toml_string()?;
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            println!("plan written to {}", out.display());
            if let Some(path) = gantt {
                plot::gantt_svg(&problem, &schedule, &path)?;
                println!("Gantt chart written to {}", path.display());
            }
            Ok(())
        }
        ScheduleCommand::Gantt {
            workflow,
            infra,
            algo,
            out,
        } => {
            let problem = load(&workflow, &infra)?;
            let algorithm: Algorithm = algo.parse()?;
            let schedule = plot::gantt_of(&problem, algorithm, &out)?;
            println!(
                "{}: response time {:.2} s; Gantt chart written to {}",
                algorithm,
                schedule.makespan(),
                out.display()
            );
            Ok(())
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
        } => {
            anyhow::ensure!(
                (1..=max_partitions).contains(&min_partitions) && seeds > 0,
                "need 1 <= --min-partitions <= --max-partitions and --seeds >= 1"
            );
            anyhow::ensure!(
                speed_min > 0.0 && speed_min <= speed_max && move_slack >= 0.0,
                "need 0 < --speed-min <= --speed-max and --move-slack >= 0"
            );
            let config = ExperimentConfig {
                partitions: (min_partitions..=max_partitions).collect(),
                seeds: (1..=seeds).collect(),
                load_limit,
                speed_range: (speed_min, speed_max),
                move_slack,
            };
            let started = std::time::Instant::now();
            let results = experiment::run(&config)?;
            let mut written = results.write(&out_dir)?;
            if gantt_partitions > 0 {
                written.extend(experiment::write_gantts(
                    &out_dir,
                    gantt_partitions,
                    &config,
                )?);
            }
            println!(
                "{} schedules in {:.2} s",
                results.rows.len(),
                started.elapsed().as_secs_f64()
            );
            print!("{}", results.summary_csv());
            for path in written {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        ScheduleCommand::Example {
            partitions,
            seed,
            predeploy,
            out_dir,
        } => {
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
            println!("wrote {} and {}", wf_path.display(), infra_path.display());
            Ok(())
        }
    }
}

fn load(workflow: &Path, infra: &Path) -> anyhow::Result<Problem> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let wf = Workflow::from_toml_str(&read(workflow)?)
        .with_context(|| format!("in {}", workflow.display()))?;
    let inf = Infrastructure::from_toml_str(&read(infra)?)
        .with_context(|| format!("in {}", infra.display()))?;
    let problem = Problem::new(&wf, &inf).with_context(|| {
        format!(
            "checking {} against {}",
            workflow.display(),
            infra.display()
        )
    })?;
    Ok(problem)
}

//! `nfwd topo run WORKFLOW`: the scheduler's prediction set beside a measurement on the live
//! testbed, per algorithm.
//!
//! For each algorithm: schedule the workflow on the topology's hosts (its SF-host nodes, with
//! their `vcpus`, `speed` and `network`, and the topology's `[scheduler]` settings), apply the
//! plan ([`crate::apply`]), then issue the workflow's chained Interests from the topology's
//! first `[[consumer]]` node for its content name and time them until the last answer.
//!
//! **From a DAG to chained Interests.** An Interest carries one chain, so the workflow is
//! issued as one Interest per path from an entry task to an exit task (Fig. 32: `|B|` paths
//! `F ← E ← D_i ← C_i ← B_i ← A`), all at once. Each function in a chain carries its task's
//! work and identity as parameters, `/fn/B/ms=1234/id=B2.<run>` (the built-in `work` takes
//! `ms`; `id` keeps apart what must be, and keeps caches from earlier runs out): the shared
//! head of the paths (`A`) is one identical Interest, which the forwarders aggregate and the SF
//! computes once; a join (`E`) runs once per incoming path rather than once after all of them.
//! `ms` is the task's planned execution time (`workload / speed` on its planned vCPU) times
//! `time_scale`, and the measured response is divided by `time_scale` before it is set beside
//! the plan's makespan.
//!
//! Every host is treated as holding every SF image and input file (the testbed downloads
//! nothing: its SFs are built-ins), so the prediction has no downloads either; it keeps the
//! model's data transfers, which the testbed does not carry (its content is small).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nfwd_forwarder::client::{Client, FetchOptions};
use nfwd_scheduler::{Algorithm, Infrastructure, Plan, Problem, Scheduler as _, Workflow};
use nfwd_tlv::{FunctionChain, Name};

use crate::apply::{self, ApplyOptions};
use crate::error::{Error, Result};
use crate::launch::{self, State};
use crate::model::Topology;

fn run_error(msg: impl Into<String>) -> Error {
    Error::Run(msg.into())
}

/// Most chains (entry-to-exit paths) one run issues.
pub const MAX_CHAINS: usize = 64;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where testbeds keep their state.
    pub state_root: PathBuf,
    /// The algorithms, in order.
    pub algorithms: Vec<Algorithm>,
    /// Wall-clock seconds per model second (0.01: a 50 s plan runs in 0.5 s).
    pub time_scale: f64,
    /// Longest wait for one run's answers (wall clock).
    pub timeout: Duration,
    /// Passed to apply.
    pub drain: Duration,
}

/// One algorithm's prediction and measurement.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The algorithm.
    pub algorithm: String,
    /// The plan's makespan, model seconds.
    pub predicted_s: f64,
    /// The last answer's arrival, wall clock divided by the time scale (model seconds).
    pub measured_s: f64,
    /// The same, wall clock.
    pub wall_s: f64,
    /// Chains issued.
    pub chains: usize,
    /// SF instances in the plan.
    pub instances: usize,
    /// Chains that failed or answered something else than the content, with why.
    pub failures: Vec<String>,
}

/// The scheduler's infrastructure of topology `t`: its SF-host nodes as hosts, holding every
/// SF image and every input file of `workflow`, and the `[scheduler]` settings.
pub fn infrastructure(t: &Topology, workflow: &Workflow) -> Result<Infrastructure> {
    let Some(settings) = &t.scheduler else {
        return Err(run_error(format!(
            "topology {} has no [scheduler] (networks, bandwidths, images: what the scheduler \
             needs besides the nodes)",
            t.name
        )));
    };
    let mut table = settings.clone();
    let images: Vec<String> = table
        .get("image")
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| i.get("sf").and_then(toml::Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let files: Vec<String> = workflow.files.iter().map(|f| f.name.clone()).collect();
    let hosts: Vec<toml::Value> = t
        .scheduler_hosts()
        .into_iter()
        .zip(&t.nodes)
        .filter(|(_, n)| Topology::sf_backend(n).is_some())
        .map(|(mut h, _)| {
            h.images.clone_from(&images);
            h.files.clone_from(&files);
            toml::Value::try_from(h).map_err(|source| Error::Serialize {
                what: "scheduler host",
                source,
            })
        })
        .collect::<Result<_>>()?;
    if hosts.is_empty() {
        return Err(run_error(format!(
            "topology {} has no node with an SF host to schedule on",
            t.name
        )));
    }
    table.insert("host".into(), toml::Value::Array(hosts));
    let text = toml::to_string(&table).map_err(|source| Error::Serialize {
        what: "infrastructure",
        source,
    })?;
    Infrastructure::from_toml_str(&text)
        .map_err(|e| run_error(format!("topology {} [scheduler]: {e}", t.name)))
}

/// Every path from an entry task to an exit task, as task ids (entry first).
pub fn paths(problem: &Problem) -> Result<Vec<Vec<usize>>> {
    let mut out = Vec::new();
    let mut stack: Vec<Vec<usize>> = (0..problem.task_names.len())
        .filter(|&t| problem.preds[t].is_empty())
        .map(|t| vec![t])
        .collect();
    while let Some(path) = stack.pop() {
        let Some(&last) = path.last() else { continue };
        if problem.succs[last].is_empty() {
            out.push(path);
            if out.len() > MAX_CHAINS {
                return Err(run_error(format!(
                    "the workflow has more than {MAX_CHAINS} entry-to-exit paths: too many \
                     chained Interests"
                )));
            }
            continue;
        }
        for &(next, _) in problem.succs[last].iter().rev() {
            let mut p = path.clone();
            p.push(next);
            stack.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// The chain of one path, head (the exit task) first, each function with its task's work
/// (`ms`) and identity (`id`).
pub fn chain_of(
    problem: &Problem,
    plan: &Plan,
    path: &[usize],
    time_scale: f64,
    tag: &str,
) -> Result<FunctionChain> {
    let prefix = problem.function_prefix.trim_end_matches('/');
    let mut parts = Vec::new();
    for &task in path.iter().rev() {
        let name = &problem.task_names[task];
        let planned = plan
            .task
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| run_error(format!("the plan does not place task {name}")))?;
        let seconds = (planned.finish - planned.start).max(0.0) * time_scale;
        // Whole milliseconds: the rounding is below the measurement's resolution.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (seconds * 1000.0).round() as u64;
        parts.push(format!(
            "{prefix}/{}/ms={ms}/id={name}.{tag}",
            problem.type_names[problem.task_type[task]]
        ));
    }
    let text = parts.join(",");
    text.parse()
        .map_err(|e| run_error(format!("chain {text}: {e}")))
}

/// Runs the workflow on topology `name` once per algorithm.
pub fn run(
    name: &str,
    workflow: &Workflow,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<RunResult>> {
    if !(opts.time_scale.is_finite() && opts.time_scale > 0.0) {
        return Err(run_error("the time scale must be a positive number"));
    }
    let state = State::load(&opts.state_root, name)?;
    let dir = opts.state_root.join(name);
    let t = Topology::from_file(&dir.join("topology.toml"))?;
    let infra = infrastructure(&t, workflow)?;
    let problem = Problem::new(workflow, &infra)
        .map_err(|e| run_error(format!("workflow on topology {name}: {e}")))?;
    let Some(consumer) = t.consumers.first() else {
        return Err(run_error(format!(
            "topology {name} has no [[consumer]]: run issues the workflow's Interests from its \
             node, for its content name"
        )));
    };
    let content: Name = consumer
        .name
        .parse()
        .map_err(|e| run_error(format!("consumer {}: {e}", consumer.name)))?;
    let expect = t
        .producers
        .iter()
        .find(|p| content.to_string().starts_with(&canonical(&p.prefix)))
        .and_then(|p| p.text.clone());
    let node = state.node(&consumer.node)?.clone();
    let paths = paths(&problem)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
    let mut results = Vec::new();
    for &algorithm in &opts.algorithms {
        let schedule = algorithm.schedule(&problem);
        let plan = schedule.plan(&problem);
        let plan_file = dir.join(format!("plan-{}.toml", algorithm.name()));
        let text = plan
            .to_toml_string()
            .map_err(|e| run_error(format!("plan of {algorithm}: {e}")))?;
        std::fs::write(&plan_file, text).map_err(|source| Error::Io {
            path: plan_file.clone(),
            source,
        })?;
        apply::apply(
            name,
            &plan,
            &ApplyOptions {
                state_root: opts.state_root.clone(),
                source: plan_file,
                timeout: opts.timeout,
                drain: opts.drain,
            },
            &mut |_| {},
        )?;
        let tag = format!(
            "{}.{}",
            algorithm.name(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let chains = paths
            .iter()
            .map(|p| chain_of(&problem, &plan, p, opts.time_scale, &tag))
            .collect::<Result<Vec<_>>>()?;
        let (wall, failures) = rt.block_on(issue(
            &node,
            &content,
            chains,
            expect.as_deref(),
            opts.timeout,
        ))?;
        let result = RunResult {
            algorithm: algorithm.name().to_owned(),
            predicted_s: plan.makespan,
            measured_s: wall.as_secs_f64() / opts.time_scale,
            wall_s: wall.as_secs_f64(),
            chains: paths.len(),
            instances: plan.node.iter().map(|n| n.sf.len()).sum(),
            failures,
        };
        progress(&format!(
            "{:<10} predicted {:>8.2} s  measured {:>8.2} s  ({:.2} s wall, {} chains, {} failed)",
            result.algorithm,
            result.predicted_s,
            result.measured_s,
            result.wall_s,
            result.chains,
            result.failures.len()
        ));
        results.push(result);
    }
    Ok(results)
}

fn canonical(prefix: &str) -> String {
    prefix
        .parse::<Name>()
        .map_or_else(|_| prefix.to_owned(), |n| n.to_string())
}

/// Issues every chain at once from `node` and waits for all; returns the time until the last
/// answer and what failed.
async fn issue(
    node: &launch::NodeState,
    content: &Name,
    chains: Vec<FunctionChain>,
    expect: Option<&str>,
    timeout: Duration,
) -> Result<(Duration, Vec<String>)> {
    let client = launch::connect_daemon(node, Instant::now() + Duration::from_secs(5)).await?;
    let lifetime_ms = 4000;
    let retries = u32::try_from(timeout.as_millis() / u128::from(lifetime_ms)).unwrap_or(1000);
    let opts = FetchOptions {
        lifetime_ms,
        max_retries: retries.max(1),
        ..FetchOptions::default()
    };
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for chain in chains {
        let (client, content, opts): (Client, Name, FetchOptions) =
            (client.clone(), content.clone(), opts.clone());
        set.spawn(async move {
            let shown = chain.to_string();
            let r = client.fetch(&content, Some(chain), &opts).await;
            (shown, r)
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((_, Ok((_, bytes)))) => {
                if let Some(want) = expect
                    && bytes.as_ref() != want.as_bytes()
                {
                    failures.push(format!(
                        "answered {:?} instead of {want:?}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
            }
            Ok((chain, Err(e))) => failures.push(format!("{chain}: {e}")),
            Err(e) => failures.push(format!("a fetch task: {e}")),
        }
    }
    Ok((started.elapsed(), failures))
}

/// The table `nfwd topo run` prints (Markdown, as in `docs/scheduler.md`).
#[must_use]
pub fn table(results: &[RunResult], time_scale: f64) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| algorithm | SF instances | predicted (s) | measured (s) | measured / predicted | wall (s, × {time_scale}) | failed chains |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} of {} |",
            r.algorithm,
            r.instances,
            r.predicted_s,
            r.measured_s,
            if r.predicted_s > 0.0 {
                r.measured_s / r.predicted_s
            } else {
                0.0
            },
            r.wall_s,
            r.failures.len(),
            r.chains
        );
    }
    s
}

/// The algorithms named by `names` (all if empty).
pub fn algorithms(names: &[String]) -> Result<Vec<Algorithm>> {
    if names.is_empty() {
        return Ok(Algorithm::ALL.to_vec());
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in names {
        let a: Algorithm = n
            .parse()
            .map_err(|e| run_error(format!("algorithm {n:?}: {e}")))?;
        if seen.insert(a.name()) {
            out.push(a);
        }
    }
    Ok(out)
}

/// Reads a workflow file.
pub fn read_workflow(path: &Path) -> Result<Workflow> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Workflow::from_toml_str(&text)
        .map_err(|e| run_error(format!("workflow {}: {e}", path.display())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fig32_is_issued_as_one_chain_per_branch_with_each_tasks_work() {
        let workflow = nfwd_scheduler::experiment::fig32_workflow(3);
        let t =
            Topology::from_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fig31.toml"))
                .unwrap();
        let infra = infrastructure(&t, &workflow).unwrap();
        assert_eq!(infra.hosts.len(), 8);
        assert!(infra.hosts.iter().all(|h| h.images.len() == 6));
        let problem = Problem::new(&workflow, &infra).unwrap();
        let paths = paths(&problem).unwrap();
        assert_eq!(paths.len(), 3);
        let plan = Algorithm::SfCuv.schedule(&problem).plan(&problem);
        let chain = chain_of(&problem, &plan, &paths[0], 0.01, "r1")
            .unwrap()
            .to_string();
        let heads: Vec<&str> = chain.split(',').collect();
        assert_eq!(heads.len(), 6, "{chain}");
        assert!(heads[0].starts_with("/fn/F/ms%3D"), "{chain}");
        assert!(
            heads[5].starts_with("/fn/A/ms%3D") && heads[5].ends_with("id%3DA.r1"),
            "{chain}"
        );
    }

    #[test]
    fn a_topology_without_scheduler_settings_is_refused() {
        let t = Topology::from_toml("name = \"t\"\n[[node]]\nname = \"a\"\n", "t").unwrap();
        let w = nfwd_scheduler::experiment::fig32_workflow(2);
        assert!(
            infrastructure(&t, &w)
                .unwrap_err()
                .to_string()
                .contains("[scheduler]")
        );
        assert!(algorithms(&["nope".into()]).is_err());
        assert_eq!(algorithms(&[]).unwrap().len(), 6);
    }
}

//! Reads WfFormat, the JSON format of WfCommons workflow traces and generated instances
//! (<https://github.com/wfcommons/wfformat>, schema 1.5 and later: `workflow.specification`
//! holds the DAG and files, `workflow.execution` the measured runtimes).
//!
//! Mapping onto [`Workflow`]:
//! - a task's `id` is its name; its `name` (the category, e.g. `mProject`) is its SF type, so
//!   tasks of one category share instances; a task without `name` takes its `id` without the
//!   trailing `_00000012`;
//! - workload (Gop) = `runtimeInSeconds` × [`WfFormatOptions::reference_speed`] (the speed of
//!   the machine the runtime was measured on); `coreCount` is ignored (one vCPU per task);
//! - a file one task writes (`outputFiles`) and another reads (`inputFiles`) is data on the edge
//!   between them (sizes add up); a file no task writes is an input file held by the file
//!   server; files nobody reads are final outputs and cost nothing (uploads are not modelled);
//! - `parents`/`children` add edges without data where no file links the two tasks;
//! - sizes: `sizeInBytes` / 10^6 gives MB.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{Edge, InputFile, Task, Workflow};

/// How WfFormat values become model values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WfFormatOptions {
    /// Gop/s of the machine the runtimes were measured on: a runtime of `r` s is `r × speed`
    /// Gop of work.
    pub reference_speed: f64,
}

impl Default for WfFormatOptions {
    fn default() -> Self {
        Self {
            reference_speed: 1.0,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Document {
    #[serde(default)]
    name: String,
    workflow: Body,
}

#[derive(Debug, Deserialize)]
struct Body {
    specification: Option<Specification>,
    execution: Option<Execution>,
}

#[derive(Debug, Deserialize)]
struct Specification {
    tasks: Vec<SpecTask>,
    #[serde(default)]
    files: Vec<SpecFile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecTask {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    children: Vec<String>,
    #[serde(default)]
    input_files: Vec<String>,
    #[serde(default)]
    output_files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecFile {
    id: String,
    size_in_bytes: f64,
}

#[derive(Debug, Deserialize)]
struct Execution {
    tasks: Vec<ExecTask>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecTask {
    id: String,
    runtime_in_seconds: f64,
}

/// Parses a WfFormat JSON document into a workflow ([`crate::Problem::new`] checks it further:
/// cycles, limits, images).
pub fn workflow_from_wfformat(text: &str, options: WfFormatOptions) -> Result<Workflow> {
    let bad = |message: String| Error::WfFormat(message);
    if !(options.reference_speed.is_finite() && options.reference_speed > 0.0) {
        return Err(Error::BadNumber {
            what: "reference speed".to_owned(),
            value: options.reference_speed,
        });
    }
    let document: Document =
        serde_json::from_str(text).map_err(|e| bad(format!("{e} (is it WfFormat JSON?)")))?;
    let (Some(spec), Some(execution)) =
        (document.workflow.specification, document.workflow.execution)
    else {
        return Err(bad(
            "no workflow.specification or workflow.execution (WfFormat 1.5 or later is needed)"
                .to_owned(),
        ));
    };
    crate::limits::check_count("tasks", spec.tasks.len(), crate::limits::MAX_TASKS)?;

    let mut runtime: BTreeMap<&str, f64> = BTreeMap::new();
    for task in &execution.tasks {
        if !(task.runtime_in_seconds.is_finite() && task.runtime_in_seconds >= 0.0) {
            return Err(Error::BadNumber {
                what: format!("runtimeInSeconds of task {:?} (zero allowed)", task.id),
                value: task.runtime_in_seconds,
            });
        }
        runtime.insert(task.id.as_str(), task.runtime_in_seconds);
    }
    let mut size_mb: BTreeMap<&str, f64> = BTreeMap::new();
    for file in &spec.files {
        if !(file.size_in_bytes.is_finite() && file.size_in_bytes >= 0.0) {
            return Err(Error::BadNumber {
                what: format!("sizeInBytes of file {:?} (zero allowed)", file.id),
                value: file.size_in_bytes,
            });
        }
        if size_mb
            .insert(file.id.as_str(), file.size_in_bytes / 1e6)
            .is_some()
        {
            return Err(Error::Duplicate {
                kind: "file",
                name: file.id.clone(),
            });
        }
    }
    let size_of = |task: &str, file: &str| {
        size_mb
            .get(file)
            .copied()
            .ok_or_else(|| bad(format!("task {task:?} names the undeclared file {file:?}")))
    };
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, task) in spec.tasks.iter().enumerate() {
        if index.insert(task.id.as_str(), i).is_some() {
            return Err(Error::DuplicateTask(task.id.clone()));
        }
    }
    let mut producer: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, task) in spec.tasks.iter().enumerate() {
        for file in &task.output_files {
            size_of(&task.id, file)?;
            if let Some(other) = producer.insert(file.as_str(), i)
                && other != i
            {
                return Err(bad(format!(
                    "file {file:?} is written by both {:?} and {:?}",
                    spec.tasks[other].id, task.id
                )));
            }
        }
    }

    // Edge data keyed by (from, to) indices: sorted, so the output does not depend on hashing.
    let mut edges: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut input_files: Vec<InputFile> = Vec::new();
    let mut input_seen: BTreeMap<&str, ()> = BTreeMap::new();
    let mut tasks = Vec::with_capacity(spec.tasks.len());
    for (i, task) in spec.tasks.iter().enumerate() {
        let Some(&seconds) = runtime.get(task.id.as_str()) else {
            return Err(bad(format!(
                "task {:?} has no runtimeInSeconds in workflow.execution.tasks",
                task.id
            )));
        };
        let mut inputs = Vec::new();
        for file in &task.input_files {
            let size = size_of(&task.id, file)?;
            match producer.get(file.as_str()) {
                Some(&from) if from != i => *edges.entry((from, i)).or_default() += size,
                Some(_) => {}
                None => {
                    if !inputs.contains(file) {
                        inputs.push(file.clone());
                    }
                    if input_seen.insert(file.as_str(), ()).is_none() {
                        input_files.push(InputFile {
                            name: file.clone(),
                            size_mb: size,
                        });
                    }
                }
            }
        }
        let lookup = |name: &str, relation: &str| {
            index.get(name).copied().ok_or_else(|| {
                bad(format!(
                    "task {:?} lists the unknown {relation} {name:?}",
                    task.id
                ))
            })
        };
        for parent in &task.parents {
            let from = lookup(parent, "parent")?;
            edges.entry((from, i)).or_default();
        }
        for child in &task.children {
            let to = lookup(child, "child")?;
            edges.entry((i, to)).or_default();
        }
        tasks.push(Task {
            name: task.id.clone(),
            sf: sf_type(task),
            workload: seconds * options.reference_speed,
            inputs,
        });
    }
    let edges = edges
        .into_iter()
        .map(|((from, to), data_mb)| Edge {
            from: spec.tasks[from].id.clone(),
            to: spec.tasks[to].id.clone(),
            data_mb,
        })
        .collect();
    Ok(Workflow {
        name: document.name,
        files: input_files,
        tasks,
        edges,
    })
}

/// The task's category: its `name`, else its `id` without a trailing `_<digits>`.
fn sf_type(task: &SpecTask) -> String {
    if !task.name.is_empty() {
        return task.name.clone();
    }
    match task.id.rsplit_once('_') {
        Some((stem, digits))
            if !stem.is_empty()
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            stem.to_owned()
        }
        _ => task.id.clone(),
    }
}

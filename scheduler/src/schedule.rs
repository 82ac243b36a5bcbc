//! The output of every algorithm, and the deployment plan derived from it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::problem::{HostId, Problem, SfTypeId, TaskId, VcpuId};

/// Where and when one task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assignment {
    /// The vCPU.
    pub vcpu: VcpuId,
    /// Start time, s.
    pub start: f64,
    /// Finish time, s.
    pub finish: f64,
}

/// Where a download is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DownloadSource {
    /// The image repository (or, for an input file, the file server).
    #[default]
    Origin,
    /// The content store of the forwarder of this network (only under
    /// [`crate::DownloadModel::NearestCopy`], only for images).
    Cache(usize),
}

/// One download from the image repository (item = SF type), a forwarder's cache (an image,
/// under the nearest-copy model) or the file server (item = file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Download {
    /// The receiving host.
    pub host: HostId,
    /// The SF type or file index.
    pub item: usize,
    /// Start, s.
    pub start: f64,
    /// Finish, s.
    pub finish: f64,
    /// Where it is served from.
    pub source: DownloadSource,
}

/// A schedule: every task's vCPU and times, and the downloads in the order they are served.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The algorithm that made it.
    pub algorithm: String,
    /// `assignments[task]`.
    pub assignments: Vec<Assignment>,
    /// Image downloads, in the order they were planned: each server (the repository, each
    /// forwarder's cache) serves its own in this order.
    pub image_downloads: Vec<Download>,
    /// File downloads, in the order the file server serves them.
    pub file_downloads: Vec<Download>,
}

/// An SF instance (one container of one SF type on one host) and the tasks it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The host.
    pub host: HostId,
    /// The SF type.
    pub sf: SfTypeId,
    /// The tasks it serves, by id.
    pub tasks: Vec<TaskId>,
}

/// A FIB entry to install: on `host`, forward `prefix` to `next_hop`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Route {
    /// The host (router) the entry is installed on.
    pub host: String,
    /// The function name prefix, e.g. `/fn/B`.
    pub prefix: String,
    /// `local` (the SF instance on this host) or the name of the next host.
    pub next_hop: String,
}

impl Schedule {
    /// The time the last task finishes.
    pub fn makespan(&self) -> f64 {
        self.assignments
            .iter()
            .map(|a| a.finish)
            .fold(0.0, f64::max)
    }

    /// The SF instances the schedule runs, sorted by host then SF type.
    pub fn instances(&self, problem: &Problem) -> Vec<Instance> {
        let mut map: BTreeMap<(HostId, SfTypeId), Vec<TaskId>> = BTreeMap::new();
        for (task, a) in self.assignments.iter().enumerate() {
            map.entry((problem.host_of(a.vcpu), problem.task_type[task]))
                .or_default()
                .push(task);
        }
        map.into_iter()
            .map(|((host, sf), tasks)| Instance { host, sf, tasks })
            .collect()
    }

    /// The function-name routes that make Interests reach the instances.
    ///
    /// Interests travel against the data flow: for an edge `j -> i` the Interest for `j`'s
    /// function leaves `i`'s host, so `i`'s host needs a route for `j`'s function towards `j`'s
    /// host. Every host with an instance routes its function name to the local instance.
    pub fn routes(&self, problem: &Problem) -> Vec<Route> {
        let prefix = |sf: SfTypeId| {
            format!(
                "{}/{}",
                problem.function_prefix.trim_end_matches('/'),
                problem.type_names[sf]
            )
        };
        let mut routes = BTreeSet::new();
        for instance in self.instances(problem) {
            routes.insert(Route {
                host: problem.hosts[instance.host].name.clone(),
                prefix: prefix(instance.sf),
                next_hop: "local".to_owned(),
            });
        }
        for (task, a) in self.assignments.iter().enumerate() {
            let here = problem.host_of(a.vcpu);
            for &(pred, _) in &problem.preds[task] {
                let there = problem.host_of(self.assignments[pred].vcpu);
                if there != here {
                    routes.insert(Route {
                        host: problem.hosts[here].name.clone(),
                        prefix: prefix(problem.task_type[pred]),
                        next_hop: problem.hosts[there].name.clone(),
                    });
                }
            }
        }
        routes.into_iter().collect()
    }

    /// The deployment plan the SF host and the topology launcher apply.
    pub fn plan(&self, problem: &Problem) -> Plan {
        let instances = self.instances(problem);
        let routes = self.routes(problem);
        let nodes = problem
            .hosts
            .iter()
            .enumerate()
            .filter_map(|(h, host)| {
                let sf: Vec<String> = instances
                    .iter()
                    .filter(|i| i.host == h)
                    .map(|i| problem.type_names[i.sf].clone())
                    .collect();
                if sf.is_empty() {
                    return None;
                }
                let pull_images = self
                    .image_downloads
                    .iter()
                    .filter(|d| d.host == h)
                    .map(|d| problem.type_names[d.item].clone())
                    .collect();
                let fetch_files = self
                    .file_downloads
                    .iter()
                    .filter(|d| d.host == h)
                    .map(|d| problem.file_names[d.item].clone())
                    .collect();
                let route = routes
                    .iter()
                    .filter(|r| r.host == host.name)
                    .map(|r| PlanRoute {
                        prefix: r.prefix.clone(),
                        next_hop: r.next_hop.clone(),
                    })
                    .collect();
                Some(PlanNode {
                    name: host.name.clone(),
                    sf,
                    pull_images,
                    fetch_files,
                    route,
                })
            })
            .collect();
        let task = self
            .assignments
            .iter()
            .enumerate()
            .map(|(t, a)| {
                let vcpu = &problem.vcpus[a.vcpu];
                PlanTask {
                    name: problem.task_names[t].clone(),
                    sf: problem.type_names[problem.task_type[t]].clone(),
                    node: problem.hosts[vcpu.host].name.clone(),
                    vcpu: vcpu.index_in_host,
                    start: round_ms(a.start),
                    finish: round_ms(a.finish),
                }
            })
            .collect();
        Plan {
            algorithm: self.algorithm.clone(),
            makespan: round_ms(self.makespan()),
            node: nodes,
            task,
        }
    }

    /// A human-readable rendering of the plan.
    pub fn render_text(&self, problem: &Problem) -> String {
        let plan = self.plan(problem);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "algorithm {}: response time {:.2} s, {} SF instances, {} image downloads, {} file downloads",
            plan.algorithm,
            plan.makespan,
            self.instances(problem).len(),
            self.image_downloads.len(),
            self.file_downloads.len()
        );
        for node in &plan.node {
            let _ = writeln!(out, "\nnode {}", node.name);
            let _ = writeln!(out, "  instances: {}", node.sf.join(", "));
            if !node.pull_images.is_empty() {
                let _ = writeln!(out, "  pull images: {}", node.pull_images.join(", "));
            }
            if !node.fetch_files.is_empty() {
                let _ = writeln!(out, "  fetch files: {}", node.fetch_files.join(", "));
            }
            for route in &node.route {
                let _ = writeln!(out, "  route {} -> {}", route.prefix, route.next_hop);
            }
        }
        let _ = writeln!(
            out,
            "\n{:<12} {:<6} {:<12} {:>4} {:>10} {:>10}",
            "task", "sf", "node", "vcpu", "start", "finish"
        );
        let mut order: Vec<&PlanTask> = plan.task.iter().collect();
        order.sort_by(|a, b| {
            a.start
                .total_cmp(&b.start)
                .then_with(|| a.name.cmp(&b.name))
        });
        for t in order {
            let _ = writeln!(
                out,
                "{:<12} {:<6} {:<12} {:>4} {:>10.2} {:>10.2}",
                t.name, t.sf, t.node, t.vcpu, t.start, t.finish
            );
        }
        out
    }
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

/// A deployment plan, written as TOML for the SF host and the topology launcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The algorithm that made it.
    pub algorithm: String,
    /// Expected response time, s.
    pub makespan: f64,
    /// Nodes that run at least one SF instance.
    pub node: Vec<PlanNode>,
    /// Every task's placement.
    pub task: Vec<PlanTask>,
}

/// What one node runs and routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanNode {
    /// Host name.
    pub name: String,
    /// SF types to run one instance (container) of.
    pub sf: Vec<String>,
    /// Images to fetch from the repository first (in repository order).
    pub pull_images: Vec<String>,
    /// Input files to fetch from the file server first.
    pub fetch_files: Vec<String>,
    /// FIB entries to install.
    pub route: Vec<PlanRoute>,
}

/// One FIB entry of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRoute {
    /// Function-name prefix.
    pub prefix: String,
    /// `local` or a host name.
    pub next_hop: String,
}

/// One task of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanTask {
    /// Task name.
    pub name: String,
    /// SF type.
    pub sf: String,
    /// Host.
    pub node: String,
    /// vCPU index within the host.
    pub vcpu: usize,
    /// Planned start, s.
    pub start: f64,
    /// Planned finish, s.
    pub finish: f64,
}

impl Plan {
    /// Writes the plan as TOML.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|source| Error::Serialize {
            what: "plan",
            source,
        })
    }

    /// Reads a plan written by [`Plan::to_toml_string`].
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|source| Error::Parse {
            what: "plan",
            source,
        })
    }
}

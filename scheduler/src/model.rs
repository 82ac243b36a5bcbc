//! The two input files users write: a workflow and an infrastructure, both TOML.
//!
//! Units everywhere: sizes in megabytes (MB), bandwidths in MB/s, workloads in giga-operations
//! (Gop), vCPU speeds in Gop/s, times in seconds.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits::{
    MAX_EDGES, MAX_FILES, MAX_HOSTS, MAX_NETWORKS, MAX_TASKS, MAX_VCPUS, check_count,
};

/// A workflow: a DAG of SF tasks, the data sent along its edges and the input files it reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// A free-form name, shown in plans.
    #[serde(default)]
    pub name: String,
    /// Input files, held by the file server; a host lacking one downloads it once.
    #[serde(default, rename = "file")]
    pub files: Vec<InputFile>,
    /// The SF tasks.
    #[serde(rename = "task")]
    pub tasks: Vec<Task>,
    /// Dependencies: `to` starts only once `from` has finished and its output has arrived.
    #[serde(default, rename = "edge")]
    pub edges: Vec<Edge>,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    /// The file's name.
    pub name: String,
    /// Its size in MB.
    pub size_mb: f64,
}

/// One SF task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique task name.
    pub name: String,
    /// The SF type: tasks of one type can share one instance (container) on a host.
    pub sf: String,
    /// Work in Gop; the execution time on a vCPU is `workload / speed`.
    pub workload: f64,
    /// Input files (declared under `[[file]]`) the task reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
}

/// A dependency carrying `data_mb` of output from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The producing task.
    pub from: String,
    /// The consuming task.
    pub to: String,
    /// Size of the data sent, in MB (0 for a pure ordering constraint).
    #[serde(default)]
    pub data_mb: f64,
}

/// The infrastructure: networks of hosts with vCPUs, the image repository and the file server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infrastructure {
    /// Share of a host's vCPUs that may run SF tasks at the same time, in (0, 1]; a host with
    /// `n` vCPUs runs at most `max(1, floor(load_limit * n))` tasks at once.
    #[serde(default = "default_load_limit")]
    pub load_limit: f64,
    /// Routable prefix under which function names are announced (`/fn` gives `/fn/B`).
    #[serde(default = "default_function_prefix")]
    pub function_prefix: String,
    /// Bandwidth between two different networks, MB/s.
    pub inter_network_bandwidth: f64,
    /// The networks.
    #[serde(rename = "network")]
    pub networks: Vec<Network>,
    /// The hosts (VMs, edge nodes).
    #[serde(rename = "host")]
    pub hosts: Vec<Host>,
    /// Where SF images come from.
    pub image_repository: Server,
    /// Where input files come from.
    pub file_server: Server,
    /// Image size of every SF type.
    #[serde(default, rename = "image")]
    pub images: Vec<Image>,
    /// Image size, MB, of every SF type without an `[[image]]` entry (for workflows with many
    /// task categories, such as WfCommons traces); without it such a type is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image_size_mb: Option<f64>,
}

fn default_load_limit() -> f64 {
    1.0
}

fn default_function_prefix() -> String {
    "/fn".to_owned()
}

/// A network; hosts inside it talk at `bandwidth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// Bandwidth between two hosts of this network, MB/s.
    pub bandwidth: f64,
}

/// A host with its vCPUs and what it already holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Unique host name (also the next hop named in routes).
    pub name: String,
    /// The network it is in.
    pub network: String,
    /// Speed of each vCPU, Gop/s.
    pub vcpu_speeds: Vec<f64>,
    /// SF images already on the host (pre-deployment): no download needed for these types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Input files already on the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// The image repository or the file server: one uplink, serving one download at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The network it is in.
    pub network: String,
    /// Its uplink bandwidth, MB/s.
    pub bandwidth: f64,
}

/// The image of one SF type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// The SF type.
    pub sf: String,
    /// Its size, MB.
    pub size_mb: f64,
}

impl Workflow {
    /// Parses a workflow file (structure only; [`crate::Problem::new`] checks the content).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|source| Error::Parse {
            what: "workflow",
            source,
        })
    }

    /// Writes the workflow as TOML.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|source| Error::Serialize {
            what: "workflow",
            source,
        })
    }

    /// Checks names, numbers and acyclicity; returns the tasks in a topological order
    /// (ties broken by file order, so the order is deterministic).
    pub fn validate(&self) -> Result<Vec<usize>> {
        if self.tasks.is_empty() {
            return Err(Error::EmptyWorkflow);
        }
        check_count("tasks", self.tasks.len(), MAX_TASKS)?;
        check_count("edges", self.edges.len(), MAX_EDGES)?;
        check_count("input files", self.files.len(), MAX_FILES)?;
        let mut index = BTreeMap::new();
        for (i, task) in self.tasks.iter().enumerate() {
            if index.insert(task.name.as_str(), i).is_some() {
                return Err(Error::DuplicateTask(task.name.clone()));
            }
            check_non_negative(&format!("workload of task {:?}", task.name), task.workload)?;
        }
        let mut files = BTreeSet::new();
        for file in &self.files {
            if !files.insert(file.name.as_str()) {
                return Err(Error::Duplicate {
                    kind: "input file",
                    name: file.name.clone(),
                });
            }
            check_non_negative(&format!("size of file {:?}", file.name), file.size_mb)?;
        }
        for task in &self.tasks {
            for input in &task.inputs {
                if !files.contains(input.as_str()) {
                    return Err(Error::UnknownFile {
                        task: task.name.clone(),
                        file: input.clone(),
                    });
                }
            }
        }
        let mut seen = BTreeSet::new();
        let mut succs = vec![Vec::new(); self.tasks.len()];
        let mut in_degree = vec![0_usize; self.tasks.len()];
        for edge in &self.edges {
            let lookup = |name: &str| {
                index.get(name).copied().ok_or_else(|| Error::UnknownTask {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    unknown: name.to_owned(),
                })
            };
            let (from, to) = (lookup(&edge.from)?, lookup(&edge.to)?);
            if from == to || !seen.insert((from, to)) {
                return Err(Error::BadEdge {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                });
            }
            check_non_negative(
                &format!("data of edge {:?} -> {:?}", edge.from, edge.to),
                edge.data_mb,
            )?;
            succs[from].push(to);
            in_degree[to] += 1;
        }
        // Kahn's algorithm with a min-heap on the file index keeps the order deterministic.
        let mut ready: BTreeSet<usize> = (0..self.tasks.len())
            .filter(|&i| in_degree[i] == 0)
            .collect();
        let mut order = Vec::with_capacity(self.tasks.len());
        while let Some(task) = ready.pop_first() {
            order.push(task);
            for &succ in &succs[task] {
                in_degree[succ] -= 1;
                if in_degree[succ] == 0 {
                    ready.insert(succ);
                }
            }
        }
        if order.len() < self.tasks.len() {
            // Every task left has a predecessor that is left too; walking back through them
            // must repeat, and the first repeated task is on a cycle.
            let mut stuck_pred = vec![usize::MAX; self.tasks.len()];
            for (from, targets) in succs.iter().enumerate() {
                for &to in targets {
                    if in_degree[from] > 0 && in_degree[to] > 0 {
                        stuck_pred[to] = from;
                    }
                }
            }
            let mut current = in_degree.iter().position(|&d| d > 0).unwrap_or(0);
            let mut visited = BTreeSet::new();
            while visited.insert(current) && stuck_pred[current] != usize::MAX {
                current = stuck_pred[current];
            }
            return Err(Error::Cycle(self.tasks[current].name.clone()));
        }
        Ok(order)
    }
}

impl Infrastructure {
    /// Parses an infrastructure file (structure only; [`crate::Problem::new`] checks content).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|source| Error::Parse {
            what: "infrastructure",
            source,
        })
    }

    /// Writes the infrastructure as TOML.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|source| Error::Serialize {
            what: "infrastructure",
            source,
        })
    }

    /// Checks names and numbers; returns the index of every network by name.
    pub fn validate(&self) -> Result<BTreeMap<String, usize>> {
        if !(self.load_limit > 0.0 && self.load_limit <= 1.0) {
            return Err(Error::BadNumber {
                what: "load_limit (in (0, 1])".to_owned(),
                value: self.load_limit,
            });
        }
        check_positive("inter_network_bandwidth", self.inter_network_bandwidth)?;
        check_count("hosts", self.hosts.len(), MAX_HOSTS)?;
        check_count("networks", self.networks.len(), MAX_NETWORKS)?;
        let vcpu_count: usize = self.hosts.iter().map(|h| h.vcpu_speeds.len()).sum();
        check_count("vCPUs", vcpu_count, MAX_VCPUS)?;
        if let Some(size) = self.default_image_size_mb {
            check_non_negative("default_image_size_mb", size)?;
        }
        let mut networks = BTreeMap::new();
        for (i, network) in self.networks.iter().enumerate() {
            if networks.insert(network.name.clone(), i).is_some() {
                return Err(Error::Duplicate {
                    kind: "network",
                    name: network.name.clone(),
                });
            }
            check_positive(
                &format!("bandwidth of network {:?}", network.name),
                network.bandwidth,
            )?;
        }
        let known_network = |who: String, network: &str| {
            if networks.contains_key(network) {
                Ok(())
            } else {
                Err(Error::UnknownNetwork {
                    who,
                    network: network.to_owned(),
                })
            }
        };
        known_network(
            "the image repository".to_owned(),
            &self.image_repository.network,
        )?;
        known_network("the file server".to_owned(), &self.file_server.network)?;
        check_positive(
            "bandwidth of the image repository",
            self.image_repository.bandwidth,
        )?;
        check_positive("bandwidth of the file server", self.file_server.bandwidth)?;
        let mut hosts = BTreeSet::new();
        let mut vcpus = 0;
        for host in &self.hosts {
            if !hosts.insert(host.name.as_str()) {
                return Err(Error::Duplicate {
                    kind: "host",
                    name: host.name.clone(),
                });
            }
            known_network(format!("host {:?}", host.name), &host.network)?;
            for speed in &host.vcpu_speeds {
                check_positive(&format!("vCPU speed of host {:?}", host.name), *speed)?;
            }
            vcpus += host.vcpu_speeds.len();
        }
        if vcpus == 0 {
            return Err(Error::NoVcpu);
        }
        let mut images = BTreeSet::new();
        for image in &self.images {
            if !images.insert(image.sf.as_str()) {
                return Err(Error::Duplicate {
                    kind: "image",
                    name: image.sf.clone(),
                });
            }
            check_non_negative(&format!("size of image {:?}", image.sf), image.size_mb)?;
        }
        Ok(networks)
    }
}

fn check_positive(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::BadNumber {
            what: what.to_owned(),
            value,
        })
    }
}

fn check_non_negative(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::BadNumber {
            what: format!("{what} (zero allowed)"),
            value,
        })
    }
}

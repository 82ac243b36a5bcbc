//! The numeric view of a workflow on an infrastructure that every algorithm works on.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::{Infrastructure, Workflow};

/// Index of a task in the workflow file.
pub type TaskId = usize;
/// Index of a vCPU (hosts' vCPUs numbered in file order).
pub type VcpuId = usize;
/// Index of a host.
pub type HostId = usize;
/// Index of an SF type (sorted by name).
pub type SfTypeId = usize;
/// Index of an input file.
pub type FileId = usize;

/// How SF images reach the hosts that lack them (`docs/scheduler.md` §1, "Downloads").
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DownloadModel {
    /// Every image comes from the image repository, one download at a time (the seed's
    /// set-up, and the default).
    #[default]
    Origin,
    /// SF images are NDN packages cached by the forwarder of every network they cross: once a
    /// download of an image to a host of network `n` has finished (or, for the repository's
    /// network, any download from the repository), `n`'s forwarder answers later downloads of
    /// it from its content store, one at a time at `cache_rate` (MB/s, bounded by the path's
    /// bandwidth), without the repository's queue. A host may use its own network's
    /// forwarder and the repository network's (the two on its path to the repository).
    NearestCopy {
        /// MB/s at which one forwarder's content store serves a package.
        cache_rate: f64,
    },
}

impl DownloadModel {
    /// The default cache-hit rate, MB/s: measured with `scripts/bench-provision.sh` (issue 12,
    /// `docs/benchmarks.md`): a relay's content store answered 10 SF hosts pulling a 20 MiB
    /// package at once in 7.52–8.25 s, 25.4–27.9 MB/s in all (debug build, loaded 2-core
    /// machine); the slower run, rounded down.
    pub const MEASURED_CACHE_RATE: f64 = 25.0;

    /// [`DownloadModel::NearestCopy`] at the measured cache-hit rate.
    pub fn nearest_copy() -> Self {
        Self::NearestCopy {
            cache_rate: Self::MEASURED_CACHE_RATE,
        }
    }

    /// Reads `origin` or `nearest-copy` (at `cache_rate` MB/s, which must be finite and
    /// positive).
    pub fn from_name(name: &str, cache_rate: f64) -> Result<Self> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "origin" => Ok(Self::Origin),
            "nearest-copy" | "nearest" | "cached" => {
                if cache_rate.is_finite() && cache_rate > 0.0 {
                    Ok(Self::NearestCopy { cache_rate })
                } else {
                    Err(Error::BadNumber {
                        what: "cache-hit rate (MB/s, positive)".to_owned(),
                        value: cache_rate,
                    })
                }
            }
            _ => Err(Error::UnknownDownloadModel(name.to_owned())),
        }
    }

    /// `origin` or `nearest-copy`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Origin => "origin",
            Self::NearestCopy { .. } => "nearest-copy",
        }
    }
}

/// A vCPU: the host it belongs to and its speed.
#[derive(Debug, Clone, PartialEq)]
pub struct Vcpu {
    /// Its host.
    pub host: HostId,
    /// Index among its host's vCPUs.
    pub index_in_host: usize,
    /// Speed in Gop/s (1.0 for cost-matrix problems).
    pub speed: f64,
}

/// A host, as the algorithms see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostInfo {
    /// Name (next hop in routes).
    pub name: String,
    /// Network index.
    pub network: usize,
    /// Its vCPUs.
    pub vcpus: Vec<VcpuId>,
    /// At most this many tasks run on the host at once (the load limit).
    pub max_concurrent: usize,
    /// `preloaded_images[t]`: the image of SF type `t` is already on the host.
    pub preloaded_images: Vec<bool>,
    /// The input files already on the host, sorted (a list, not a hosts x files table).
    pub preloaded_files: Vec<FileId>,
    /// Time to download the image of each SF type to this host.
    pub image_download_time: Vec<f64>,
    /// Rate (MB/s) of input-file downloads to this host: a file's download time is its size
    /// over it ([`Problem::file_download_time`]), so no hosts x files table is kept.
    pub file_rate: f64,
}

impl HostInfo {
    /// Is input file `f` already on the host?
    pub fn has_file(&self, f: FileId) -> bool {
        self.preloaded_files.binary_search(&f).is_ok()
    }
}

/// Execution times of tasks on vCPUs. A workflow's follow from its workloads and the vCPU
/// speeds, so no tasks × vCPUs table is stored for it (40 M cells, 320 MB, at 20,000 tasks on
/// 2,000 vCPUs); only the literature's cost matrices, which state every cell, are dense.
#[derive(Debug, Clone)]
enum ExecTable {
    /// `workload[t] / speed(v)`.
    BySpeed { workload: Vec<f64> },
    /// `times[t * vcpus + v]`.
    Dense { times: Vec<f64> },
}

/// A workflow placed against an infrastructure: costs precomputed, everything indexed.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Task names.
    pub task_names: Vec<String>,
    /// SF type of each task.
    pub task_type: Vec<SfTypeId>,
    /// Input files of each task.
    pub task_files: Vec<Vec<FileId>>,
    /// Predecessors of each task with the data (MB) they send.
    pub preds: Vec<Vec<(TaskId, f64)>>,
    /// Successors of each task with the data (MB) they receive.
    pub succs: Vec<Vec<(TaskId, f64)>>,
    /// A topological order.
    pub topo_order: Vec<TaskId>,
    /// SF type names, sorted.
    pub type_names: Vec<String>,
    /// Input file names.
    pub file_names: Vec<String>,
    /// Image size of each SF type, MB (for the bytes a schedule downloads).
    pub image_size_mb: Vec<f64>,
    /// Size of each input file, MB.
    pub file_size_mb: Vec<f64>,
    /// Hosts.
    pub hosts: Vec<HostInfo>,
    /// vCPUs.
    pub vcpus: Vec<Vcpu>,
    /// Execution times, implicit where they follow from workload and speed.
    exec: ExecTable,
    /// Seconds per MB between two networks (inverse bandwidth).
    network_inv_bw: Vec<Vec<f64>>,
    /// Routable prefix for function names.
    pub function_prefix: String,
    /// The network of the file server.
    pub file_server_network: usize,
    /// The network of the image repository.
    pub repository_network: usize,
    /// Network names, in file order.
    pub network_names: Vec<String>,
    /// How images reach hosts ([`Problem::with_download_model`]); [`DownloadModel::Origin`]
    /// unless set.
    pub download_model: DownloadModel,
    /// Mean execution time of each task over all vCPUs.
    pub mean_exec: Vec<f64>,
    /// Mean seconds per MB between two distinct vCPUs (0 between vCPUs of one host).
    pub mean_inv_bw: f64,
}

impl Problem {
    /// Checks both files against each other and builds the problem.
    pub fn new(workflow: &Workflow, infra: &Infrastructure) -> Result<Self> {
        let topo_order = workflow.validate()?;
        let network_index = infra.validate()?;
        // The table sized tasks x distinct vCPU speeds (PEFT's optimistic cost table: vCPUs of
        // one speed share a column) is dense: bound it first. A cost matrix's tasks x processors is bounded in `from_named_costs`.
        let n_speeds = infra
            .hosts
            .iter()
            .flat_map(|h| h.vcpu_speeds.iter().map(|s| s.to_bits()))
            .collect::<std::collections::BTreeSet<u64>>()
            .len();
        crate::limits::check_count(
            "tasks x distinct vCPU speeds (PEFT's optimistic cost table)",
            workflow.tasks.len().saturating_mul(n_speeds),
            crate::limits::MAX_TABLE_CELLS,
        )?;
        let image_size: BTreeMap<&str, f64> = infra
            .images
            .iter()
            .map(|image| (image.sf.as_str(), image.size_mb))
            .collect();
        let image_size_of = |sf: &str| image_size.get(sf).copied().or(infra.default_image_size_mb);
        for task in &workflow.tasks {
            if image_size_of(task.sf.as_str()).is_none() {
                return Err(Error::MissingImage {
                    task: task.name.clone(),
                    sf: task.sf.clone(),
                });
            }
        }
        let type_names: Vec<String> = workflow
            .tasks
            .iter()
            .map(|task| task.sf.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let type_index = |name: &str| type_names.iter().position(|t| t == name);
        let file_index: BTreeMap<&str, usize> = workflow
            .files
            .iter()
            .enumerate()
            .map(|(i, file)| (file.name.as_str(), i))
            .collect();
        let task_index: BTreeMap<&str, usize> = workflow
            .tasks
            .iter()
            .enumerate()
            .map(|(i, task)| (task.name.as_str(), i))
            .collect();

        let n_networks = infra.networks.len();
        let mut network_inv_bw =
            vec![vec![1.0 / infra.inter_network_bandwidth; n_networks]; n_networks];
        for (i, network) in infra.networks.iter().enumerate() {
            network_inv_bw[i][i] = 1.0 / network.bandwidth;
        }
        let network_of = |name: &str| network_index.get(name).copied().unwrap_or(0);
        let repo_net = network_of(&infra.image_repository.network);
        let file_net = network_of(&infra.file_server.network);

        let mut hosts = Vec::with_capacity(infra.hosts.len());
        let mut vcpus = Vec::new();
        for (h, host) in infra.hosts.iter().enumerate() {
            let network = network_of(&host.network);
            let mut ids = Vec::new();
            for (k, &speed) in host.vcpu_speeds.iter().enumerate() {
                ids.push(vcpus.len());
                vcpus.push(Vcpu {
                    host: h,
                    index_in_host: k,
                    speed,
                });
            }
            let mut preloaded_images = vec![false; type_names.len()];
            for image in &host.images {
                // Images of types the workflow does not use are irrelevant, not an error.
                if let Some(t) = type_index(image) {
                    preloaded_images[t] = true;
                }
            }
            let mut preloaded_files: Vec<FileId> = host
                .files
                .iter()
                .filter_map(|file| file_index.get(file.as_str()).copied())
                .collect();
            preloaded_files.sort_unstable();
            preloaded_files.dedup();
            // A download is limited by the server's uplink and by the path to the host.
            let repo_rate = infra
                .image_repository
                .bandwidth
                .min(1.0 / network_inv_bw[repo_net][network]);
            let file_rate = infra
                .file_server
                .bandwidth
                .min(1.0 / network_inv_bw[file_net][network]);
            let image_download_time = type_names
                .iter()
                .map(|t| image_size_of(t.as_str()).unwrap_or(0.0) / repo_rate)
                .collect();
            let n = host.vcpu_speeds.len();
            // The epsilon keeps 0.75 * 4 = 3 from rounding down to 2.
            let max_concurrent = ((infra.load_limit * n as f64 + 1e-9).floor() as usize).max(1);
            hosts.push(HostInfo {
                name: host.name.clone(),
                network,
                vcpus: ids,
                max_concurrent,
                preloaded_images,
                preloaded_files,
                image_download_time,
                file_rate,
            });
        }

        let n_tasks = workflow.tasks.len();
        let mut preds = vec![Vec::new(); n_tasks];
        let mut succs = vec![Vec::new(); n_tasks];
        for edge in &workflow.edges {
            // Validated above: both names exist.
            let (Some(&from), Some(&to)) = (
                task_index.get(edge.from.as_str()),
                task_index.get(edge.to.as_str()),
            ) else {
                continue;
            };
            preds[to].push((from, edge.data_mb));
            succs[from].push((to, edge.data_mb));
        }
        let exec = ExecTable::BySpeed {
            workload: workflow.tasks.iter().map(|t| t.workload).collect(),
        };
        let task_type = workflow
            .tasks
            .iter()
            .map(|task| type_index(&task.sf).unwrap_or(0))
            .collect();
        let task_files = workflow
            .tasks
            .iter()
            .map(|task| {
                task.inputs
                    .iter()
                    .filter_map(|f| file_index.get(f.as_str()).copied())
                    .collect()
            })
            .collect();
        let image_size_mb = type_names
            .iter()
            .map(|t| image_size_of(t.as_str()).unwrap_or(0.0))
            .collect();
        let mut problem = Self {
            task_names: workflow.tasks.iter().map(|t| t.name.clone()).collect(),
            task_type,
            task_files,
            preds,
            succs,
            topo_order,
            type_names,
            file_names: workflow.files.iter().map(|f| f.name.clone()).collect(),
            image_size_mb,
            file_size_mb: workflow.files.iter().map(|f| f.size_mb).collect(),
            hosts,
            vcpus,
            exec,
            network_inv_bw,
            function_prefix: infra.function_prefix.clone(),
            file_server_network: file_net,
            repository_network: repo_net,
            network_names: infra.networks.iter().map(|n| n.name.clone()).collect(),
            download_model: DownloadModel::Origin,
            mean_exec: Vec::new(),
            mean_inv_bw: 0.0,
        };
        problem.compute_means();
        Ok(problem)
    }

    /// A problem given directly by an execution-time matrix (`exec[task][processor]`) and edges
    /// `(from, to, cost)`, as in the scheduling literature: every processor is its own host with
    /// one vCPU, an edge costs `cost` between different processors and 0 on the same one, and
    /// there are no images, files or load limit. Tasks are named `T1..`, processors `P1..`.
    pub fn from_cost_matrix(exec: &[Vec<f64>], edges: &[(usize, usize, f64)]) -> Result<Self> {
        let task_names: Vec<String> = (1..=exec.len()).map(|i| format!("T{i}")).collect();
        let n_procs = exec.first().map_or(0, Vec::len);
        let processor_names: Vec<String> = (1..=n_procs).map(|p| format!("P{p}")).collect();
        let mut named_edges = Vec::with_capacity(edges.len());
        for &(from, to, cost) in edges {
            let name = |i: usize| {
                task_names.get(i).cloned().ok_or_else(|| {
                    Error::BadMatrix(format!(
                        "edge {from} -> {to} names a task beyond the matrix"
                    ))
                })
            };
            named_edges.push((name(from)?, name(to)?, cost));
        }
        Self::from_named_costs(&task_names, &processor_names, exec, &named_edges)
    }

    /// [`Problem::from_cost_matrix`] with the tasks' and processors' names, and edges between
    /// task names. Each task is its own SF type, with its image already on every processor.
    pub fn from_named_costs(
        task_names: &[String],
        processor_names: &[String],
        exec: &[Vec<f64>],
        edges: &[(String, String, f64)],
    ) -> Result<Self> {
        let n_tasks = exec.len();
        let n_procs = processor_names.len();
        if n_tasks == 0 || n_procs == 0 || task_names.len() != n_tasks {
            return Err(Error::BadMatrix(format!(
                "need one row per task and at least one processor, got {n_tasks} rows for {} \
                 tasks and {n_procs} processors",
                task_names.len()
            )));
        }
        crate::limits::check_count("processors", n_procs, crate::limits::MAX_HOSTS)?;
        crate::limits::check_count(
            "tasks x processors (a cost matrix, PEFT's optimistic cost table)",
            n_tasks.saturating_mul(n_procs),
            crate::limits::MAX_TABLE_CELLS,
        )?;
        for (name, row) in task_names.iter().zip(exec) {
            if row.len() != n_procs {
                return Err(Error::BadMatrix(format!(
                    "task {name:?} has {} costs, expected {n_procs} (one per processor)",
                    row.len()
                )));
            }
            for (p, &cost) in row.iter().enumerate() {
                if !(cost.is_finite() && cost >= 0.0) {
                    return Err(Error::BadMatrix(format!(
                        "cost of task {name:?} on processor {:?} is {cost}, expected a finite \
                         number >= 0",
                        processor_names[p]
                    )));
                }
            }
        }
        let workflow = Workflow {
            name: "cost-matrix".to_owned(),
            files: Vec::new(),
            tasks: task_names
                .iter()
                .map(|name| crate::model::Task {
                    name: name.clone(),
                    sf: name.clone(),
                    workload: 1.0,
                    inputs: Vec::new(),
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(from, to, cost)| crate::model::Edge {
                    from: from.clone(),
                    to: to.clone(),
                    data_mb: *cost,
                })
                .collect(),
        };
        // One network per processor, all at 1 MB/s: an edge's data (in MB) is its cost (in s).
        let infra = Infrastructure {
            load_limit: 1.0,
            function_prefix: "/fn".to_owned(),
            inter_network_bandwidth: 1.0,
            networks: (1..=n_procs)
                .map(|p| crate::model::Network {
                    name: format!("N{p}"),
                    bandwidth: 1.0,
                })
                .collect(),
            hosts: processor_names
                .iter()
                .enumerate()
                .map(|(p, name)| crate::model::Host {
                    name: name.clone(),
                    network: format!("N{}", p + 1),
                    vcpu_speeds: vec![1.0],
                    images: task_names.to_vec(),
                    files: Vec::new(),
                })
                .collect(),
            image_repository: crate::model::Server {
                network: "N1".to_owned(),
                bandwidth: 1.0,
            },
            file_server: crate::model::Server {
                network: "N1".to_owned(),
                bandwidth: 1.0,
            },
            images: Vec::new(),
            default_image_size_mb: Some(0.0),
        };
        let mut problem = Self::new(&workflow, &infra)?;
        problem.exec = ExecTable::Dense {
            times: exec.iter().flatten().copied().collect(),
        };
        problem.compute_means();
        Ok(problem)
    }

    /// The same problem under another download model (a cache-hit rate is checked by
    /// [`DownloadModel::from_name`]; one given directly must be finite and positive).
    pub fn with_download_model(mut self, model: DownloadModel) -> Result<Self> {
        if let DownloadModel::NearestCopy { cache_rate } = model
            && !(cache_rate.is_finite() && cache_rate > 0.0)
        {
            return Err(Error::BadNumber {
                what: "cache-hit rate (MB/s, positive)".to_owned(),
                value: cache_rate,
            });
        }
        self.download_model = model;
        Ok(self)
    }

    /// Time to download the image of `sf` to `host` from the content store of network
    /// `cache`'s forwarder: its size over the cache-hit rate, or over the path's bandwidth
    /// when that is lower. `None` under [`DownloadModel::Origin`].
    pub fn cache_download_time(&self, host: HostId, sf: SfTypeId, cache: usize) -> Option<f64> {
        match self.download_model {
            DownloadModel::Origin => None,
            DownloadModel::NearestCopy { cache_rate } => {
                let path_rate = 1.0 / self.network_inv_bw[cache][self.hosts[host].network];
                Some(self.image_size_mb[sf] / cache_rate.min(path_rate))
            }
        }
    }

    /// The forwarders whose content stores a download to `host` may use: its network's and the
    /// repository's network's (once, when they are the same). None under
    /// [`DownloadModel::Origin`].
    pub fn caches_on_path(&self, host: HostId) -> impl Iterator<Item = usize> + use<> {
        let own = self.hosts[host].network;
        let repository = self.repository_network;
        let (first, second) = match self.download_model {
            DownloadModel::Origin => (None, None),
            DownloadModel::NearestCopy { .. } => {
                (Some(own), (repository != own).then_some(repository))
            }
        };
        first.into_iter().chain(second)
    }

    /// What a second download of `sf` to `host` costs once a copy is in the host's own
    /// network's forwarder: the cache-hit time, or the repository's when that is shorter.
    /// The repository's download time under [`DownloadModel::Origin`].
    pub fn copy_download_time(&self, host: HostId, sf: SfTypeId) -> f64 {
        let origin = self.hosts[host].image_download_time[sf];
        match self.cache_download_time(host, sf, self.hosts[host].network) {
            Some(cached) => origin.min(cached),
            None => origin,
        }
    }

    fn compute_means(&mut self) {
        let p = self.vcpus.len() as f64;
        self.mean_exec = (0..self.task_names.len())
            .map(|t| {
                (0..self.vcpus.len())
                    .map(|v| self.exec_time(t, v))
                    .sum::<f64>()
                    / p
            })
            .collect();
        // Mean over ordered pairs of vCPUs on distinct hosts (0 on one host), in
        // O(networks² + hosts) instead of over host pairs: all pairs by network, minus the
        // pairs inside each host.
        let mut per_network = vec![0.0_f64; self.network_inv_bw.len()];
        for host in &self.hosts {
            per_network[host.network] += host.vcpus.len() as f64;
        }
        let mut sum = 0.0;
        for (a, &count_a) in per_network.iter().enumerate() {
            for (b, &count_b) in per_network.iter().enumerate() {
                sum += count_a * count_b * self.network_inv_bw[a][b];
            }
        }
        for host in &self.hosts {
            let n = host.vcpus.len() as f64;
            sum -= n * n * self.network_inv_bw[host.network][host.network];
        }
        let pairs = p * (p - 1.0);
        self.mean_inv_bw = if pairs > 0.0 { sum / pairs } else { 0.0 };
    }

    /// Number of tasks.
    pub fn n_tasks(&self) -> usize {
        self.task_names.len()
    }

    /// Number of vCPUs.
    pub fn n_vcpus(&self) -> usize {
        self.vcpus.len()
    }

    /// Execution time of `task` on `vcpu`.
    pub fn exec_time(&self, task: TaskId, vcpu: VcpuId) -> f64 {
        match &self.exec {
            ExecTable::BySpeed { workload } => workload[task] / self.vcpus[vcpu].speed,
            ExecTable::Dense { times } => times[task * self.vcpus.len() + vcpu],
        }
    }

    /// Groups the vCPUs on which every task runs exactly as long ([`Problem::same_exec_times`]):
    /// each vCPU's class, and one vCPU of each class. Classes are numbered in vCPU order.
    pub(crate) fn exec_classes(&self) -> (Vec<usize>, Vec<VcpuId>) {
        match &self.exec {
            ExecTable::BySpeed { .. } => {
                let mut index: BTreeMap<u64, usize> = BTreeMap::new();
                let mut representative = Vec::new();
                let class_of = self
                    .vcpus
                    .iter()
                    .enumerate()
                    .map(|(v, vcpu)| {
                        *index.entry(vcpu.speed.to_bits()).or_insert_with(|| {
                            representative.push(v);
                            representative.len() - 1
                        })
                    })
                    .collect();
                (class_of, representative)
            }
            ExecTable::Dense { .. } => {
                ((0..self.n_vcpus()).collect(), (0..self.n_vcpus()).collect())
            }
        }
    }

    /// Does every task run exactly as long on vCPU `a` as on `b`? (Same speed, bit for bit,
    /// for a workflow; the same processor for a cost matrix.)
    pub(crate) fn same_exec_times(&self, a: VcpuId, b: VcpuId) -> bool {
        match &self.exec {
            ExecTable::BySpeed { .. } => {
                self.vcpus[a].speed.to_bits() == self.vcpus[b].speed.to_bits()
            }
            ExecTable::Dense { .. } => a == b,
        }
    }

    /// Time to download input file `f` from the file server to `host`.
    pub fn file_download_time(&self, host: HostId, f: FileId) -> f64 {
        self.file_size_mb[f] / self.hosts[host].file_rate
    }

    /// Time to send `data_mb` from host `a` to host `b` (0 on the same host).
    pub fn transfer_time(&self, data_mb: f64, a: HostId, b: HostId) -> f64 {
        if a == b {
            0.0
        } else {
            data_mb * self.network_inv_bw[self.hosts[a].network][self.hosts[b].network]
        }
    }

    /// The host of a vCPU.
    pub fn host_of(&self, vcpu: VcpuId) -> HostId {
        self.vcpus[vcpu].host
    }

    /// Average communication cost of an edge carrying `data_mb` (HEFT's c̄).
    pub fn mean_comm(&self, data_mb: f64) -> f64 {
        data_mb * self.mean_inv_bw
    }

    /// Upward rank with mean costs: `w̄_i + max_j (c̄_ij + rank(j))` (HEFT's rank_u).
    pub fn upward_rank_mean(&self) -> Vec<f64> {
        let mut rank = vec![0.0; self.n_tasks()];
        for &t in self.topo_order.iter().rev() {
            let tail = self.succs[t]
                .iter()
                .map(|&(s, data)| self.mean_comm(data) + rank[s])
                .fold(0.0, f64::max);
            rank[t] = self.mean_exec[t] + tail;
        }
        rank
    }
}

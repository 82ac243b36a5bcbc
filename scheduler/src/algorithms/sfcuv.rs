//! SF-CUV (seed 003 §4.2.2, Fig. 27) as reconstructed here, and CUV-FIX.
//!
//! The seed publishes the two phases but not the merge criterion, the cluster-size bound or the
//! load limit; the choices below are ours and `docs/scheduler.md` explains each.

use std::collections::{BTreeMap, BTreeSet};

use super::{OrdF64, Scheduler, by_decreasing, ready_list};
use crate::problem::{FileId, Problem, SfTypeId, TaskId, VcpuId};
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, HostReady, Slotting, Timeline};

/// Knobs of SF-CUV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SfCuvParams {
    /// Phase II may move a task off its pre-allocated vCPU (false gives CUV-FIX).
    pub reallocate: bool,
    /// Extra lateness allowed to a move, as a share of the task's execution time on its
    /// pre-allocated vCPU, on top of the projected response time.
    pub move_slack: f64,
    /// Where phase II looks for an instance to share.
    pub sharing: Sharing,
    /// Phase I keeps each host within its load limit (at most `max_concurrent` vCPUs of a host
    /// get clusters). The seed's phase I maps clusters to vCPUs and leaves the CPU load limit
    /// to phase II, which moves a task when its host would exceed it (Fig. 27): `false`.
    pub load_limit_in_phase_one: bool,
    /// Plans with the problem's download model (true). False is an ablation for the
    /// nearest-copy model: SF-CUV costs every new instance as a repository download, as under
    /// origin (phase I and phase II's charge), while the engine still serves the copies from
    /// the caches.
    pub cache_aware: bool,
}

/// The unit of sharing in phase II.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// The seed: "sharing them in the same vCPU" — a task may move onto a vCPU that already
    /// runs a task of its SF type (an instance pinned to that vCPU).
    #[default]
    PerVcpu,
    /// Any vCPU of a host that already runs an instance of the type (the image is on the host).
    PerHost,
}

impl Default for SfCuvParams {
    fn default() -> Self {
        Self {
            reallocate: true,
            move_slack: 0.0,
            sharing: Sharing::PerVcpu,
            load_limit_in_phase_one: false,
            cache_aware: true,
        }
    }
}

impl SfCuvParams {
    /// The first reading of this crate: sharing per host, phase I within the load limit.
    pub fn per_host() -> Self {
        Self {
            sharing: Sharing::PerHost,
            load_limit_in_phase_one: true,
            ..Self::default()
        }
    }
}

/// SF-CUV; with `reallocate = false`, CUV-FIX.
#[derive(Debug, Clone, Copy)]
pub struct SfCuv {
    params: SfCuvParams,
}

impl SfCuv {
    /// SF-CUV with the given knobs.
    pub fn new(params: SfCuvParams) -> Self {
        Self { params }
    }
}

/// An allocation unit of phase I.
#[derive(Debug, Clone)]
struct Cluster {
    tasks: Vec<TaskId>,
    /// Sum of mean execution times.
    work: f64,
    /// SF types of its tasks, sorted, without repeats.
    types: Vec<SfTypeId>,
    /// `types` as a bit set when every type is below 64 (else `None`).
    type_bits: Option<u64>,
    alive: bool,
}

impl Scheduler for SfCuv {
    fn name(&self) -> &'static str {
        match (self.params.reallocate, self.params.sharing) {
            (false, _) => "cuv-fix",
            (true, Sharing::PerVcpu) => "sf-cuv",
            (true, Sharing::PerHost) => "sf-cuv-host",
        }
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let rank = problem.upward_rank_mean();
        // The ablation plans phase I with origin costs (only the download model differs).
        let origin_view;
        let planning = if self.params.cache_aware
            || problem.download_model == crate::problem::DownloadModel::Origin
        {
            problem
        } else {
            origin_view = {
                let mut view = problem.clone();
                view.download_model = crate::problem::DownloadModel::Origin;
                view
            };
            &origin_view
        };
        let clusters = cluster(planning, &rank);
        let allocation = pre_allocate(
            planning,
            &clusters,
            &rank,
            self.params.load_limit_in_phase_one,
        );
        let priority = allocated_levels(problem, &allocation);

        // Phase II: SF ordering and actual re-allocation.
        let mut timeline = Timeline::new(problem, Awareness::Downloads);
        // Projected response time of what is placed so far: max of finish + remaining level.
        let mut projected = 0.0_f64;
        ready_list(problem, &priority, |task| {
            let home = allocation[task];
            let tail = priority[task] - problem.exec_time(task, home);
            let mut chosen = home;
            if self.params.reallocate {
                // Fig. 27: when the home host's load limit alone holds the task back, any
                // vCPU of another host may take it; the earliest finish, charged for a new
                // instance, decides.
                let (at_home, held) = timeline.estimate_and_held(task, home, Slotting::Insertion);
                let sf = problem.task_type[task];
                let home_host = problem.host_of(home);
                // A new instance also delays every later download in the repository's queue
                // by its own download time: moves and stays are charged that on top.
                // (Nearest-copy: a download from a forwarder's cache delays that cache's queue.)
                let cache_aware = self.params.cache_aware;
                let new_instance_cost = |host: usize| {
                    if cache_aware {
                        timeline.new_instance_charge(host, sf)
                    } else if timeline.has_instance(host, sf)
                        || problem.hosts[host].preloaded_images[sf]
                    {
                        0.0
                    } else {
                        problem.hosts[host].image_download_time[sf]
                    }
                };
                let externality = new_instance_cost(home_host);
                // A move may not push the projected response time past what staying home costs.
                let bound = projected.max(at_home.finish + tail + externality)
                    + self.params.move_slack * problem.exec_time(task, home);
                let sharing = self.params.sharing;
                let shares = |vcpu: VcpuId| match sharing {
                    Sharing::PerVcpu => timeline.vcpu_runs_type(vcpu, sf),
                    Sharing::PerHost => timeline.has_instance(problem.host_of(vcpu), sf),
                };
                let key = |vcpu: VcpuId, finish: f64| {
                    (
                        !timeline.vcpu_used(vcpu),
                        !shares(vcpu),
                        OrdF64(finish),
                        vcpu,
                    )
                };
                let mut best = key(home, at_home.finish);
                let mut earliest = (OrdF64(at_home.finish + externality), home);
                // Candidates are sorted: a host's ready time is computed once for its vCPUs.
                let mut host_ready = HostReady::default();
                for vcpu in move_candidates(&timeline, sf, home, self.params.sharing, held) {
                    let host = problem.host_of(vcpu);
                    let ready = host_ready.get(&timeline, task, host);
                    // Skip a vCPU when even starting at the host's ready time (no estimate
                    // finishes before it plus the execution time) it would break the bound,
                    // or win neither as a sharing candidate nor as the load-driven move.
                    let floor = ready + problem.exec_time(task, vcpu);
                    if floor + tail > bound + EPS {
                        continue;
                    }
                    let may_share = shares(vcpu) && key(vcpu, floor) < best;
                    let may_move = held
                        && host != home_host
                        && (OrdF64(floor + new_instance_cost(host)), vcpu) < earliest;
                    if !may_share && !may_move {
                        continue;
                    }
                    let e = timeline.estimate_ready(task, vcpu, ready, Slotting::Insertion);
                    if e.finish + tail > bound + EPS {
                        continue;
                    }
                    // Sharing candidates compete by preference; the others are there only
                    // for the load-driven move below.
                    let candidate = key(vcpu, e.finish);
                    if shares(vcpu) && candidate < best {
                        best = candidate;
                    }
                    let charged = (OrdF64(e.finish + new_instance_cost(host)), vcpu);
                    if held && host != home_host && charged < earliest {
                        earliest = charged;
                    }
                }
                if held && earliest.1 != home {
                    best.3 = earliest.1;
                }
                chosen = best.3;
            }
            let placed = timeline.commit(task, chosen, Slotting::Insertion);
            projected = projected.max(placed.finish + tail);
        });
        timeline.into_schedule(self.name())
    }
}

/// The vCPUs phase II may move a task of type `sf` to, besides its home: those sharing an
/// instance of `sf` (the vCPU itself, or its host, per `sharing`); when the home host's load
/// limit holds the task back, also every vCPU of the other hosts. Sorted, without `home`.
fn move_candidates(
    timeline: &Timeline<'_>,
    sf: SfTypeId,
    home: VcpuId,
    sharing: Sharing,
    held_by_load_limit: bool,
) -> Vec<VcpuId> {
    let problem = timeline.problem;
    let home_host = problem.host_of(home);
    if !held_by_load_limit {
        // Only the sharing vCPUs, from the timeline's per-type indexes (sorted by vCPU).
        return match sharing {
            Sharing::PerVcpu => timeline
                .vcpus_running(sf)
                .iter()
                .copied()
                .filter(|&vcpu| vcpu != home)
                .collect(),
            Sharing::PerHost => timeline
                .hosts_with_instance(sf)
                .iter()
                .flat_map(|&host| problem.hosts[host].vcpus.iter().copied())
                .filter(|&vcpu| vcpu != home)
                .collect(),
        };
    }
    (0..problem.n_vcpus())
        .filter(|&vcpu| vcpu != home)
        .filter(|&vcpu| {
            let host = problem.host_of(vcpu);
            let shares = match sharing {
                Sharing::PerVcpu => timeline.vcpu_runs_type(vcpu, sf),
                Sharing::PerHost => timeline.has_instance(host, sf),
            };
            shares || host != home_host
        })
        .collect()
}

/// Phase I, part 1 and 2: linear clustering along the critical path, then merging.
fn cluster(problem: &Problem, rank: &[f64]) -> Vec<Cluster> {
    let n = problem.n_tasks();
    let unclustered = usize::MAX;
    let mut cluster_of = vec![unclustered; n];
    let mut clusters: Vec<Cluster> = Vec::new();
    // Linear clustering: from the highest-ranked free task follow the heaviest successor
    // (largest c̄ + rank), so a chain's communication becomes local and costs no parallelism.
    for head in by_decreasing(problem, rank) {
        if cluster_of[head] != unclustered {
            continue;
        }
        let id = clusters.len();
        let mut tasks = vec![head];
        cluster_of[head] = id;
        let mut current = head;
        loop {
            let next = problem.succs[current]
                .iter()
                .filter(|&&(s, _)| cluster_of[s] == unclustered)
                .max_by(|a, b| {
                    (problem.mean_comm(a.1) + rank[a.0])
                        .total_cmp(&(problem.mean_comm(b.1) + rank[b.0]))
                        .then(b.0.cmp(&a.0))
                });
            let Some(&(succ, _)) = next else { break };
            cluster_of[succ] = id;
            tasks.push(succ);
            current = succ;
        }
        clusters.push(new_cluster(problem, tasks));
    }

    // Size bounds (docs/scheduler.md §2, "Cluster-size bounds"). Lower: CMWSL's cluster-size
    // lower bound, which also bounds the number of vCPUs. Upper: no merge makes a cluster
    // heavier than the critical path (or the mean share of the vCPU bound, if larger), so
    // merging never makes one vCPU the bottleneck of the whole workflow.
    let critical_path = rank.iter().copied().fold(0.0, f64::max);
    let bounds = ClusterBounds::new(problem);
    let lower = bounds.lower;
    let vcpu_bound = bounds.vcpus;
    let upper = critical_path
        .max(bounds.total_work / vcpu_bound as f64)
        .max(lower);
    let saving = image_saving(problem);

    let key = |c: &Cluster, id: usize| (OrdF64(c.work), id);
    let mut by_work: BTreeSet<(OrdF64, usize)> = clusters
        .iter()
        .enumerate()
        .map(|(i, c)| key(c, i))
        .collect();
    let mut alive = clusters.len();
    // Rule 1: merge clusters below the lower bound into their best partner within the bound.
    let mut settled = BTreeSet::new();
    while let Some(&(OrdF64(work), small)) = by_work.iter().find(|k| !settled.contains(&k.1)) {
        if work >= lower || alive <= 1 {
            break;
        }
        match best_partner(problem, &clusters, &cluster_of, small, upper, &saving) {
            Some(partner) => {
                by_work.remove(&key(&clusters[small], small));
                by_work.remove(&key(&clusters[partner], partner));
                merge(problem, &mut clusters, &mut cluster_of, small, partner);
                by_work.insert(key(&clusters[partner], partner));
                alive -= 1;
            }
            None => {
                settled.insert(small);
            }
        }
    }
    // Rule 2: no more clusters than the vCPU bound.
    while alive > vcpu_bound {
        let Some(&(_, small)) = by_work.iter().next() else {
            break;
        };
        let partner = best_partner(problem, &clusters, &cluster_of, small, upper, &saving)
            .or_else(|| by_work.iter().map(|k| k.1).find(|&c| c != small));
        let Some(partner) = partner else { break };
        by_work.remove(&key(&clusters[small], small));
        by_work.remove(&key(&clusters[partner], partner));
        merge(problem, &mut clusters, &mut cluster_of, small, partner);
        by_work.insert(key(&clusters[partner], partner));
        alive -= 1;
    }
    clusters.retain(|c| c.alive);
    clusters
}

/// The cluster-size lower bound and the vCPU-count bound, after CMWSL (Kanemitsu et al., IEEE
/// TPDS 2016): cluster until each cluster's total execution time reaches a lower bound `δ`
/// chosen to minimise an upper bound of the schedule length; then at most `⌈W / δ⌉` vCPUs are
/// used. Our bound of the schedule length (the paper's own was not at hand, see the docs):
/// with clusters of at least `δ`, serialising a cluster delays the critical path by at most
/// `δ`, and a path crosses at most `W / δ` clusters, each crossing costing at most `ĉ` (the
/// heaviest edge's mean communication time), so `SL ≤ CP + δ + (W / δ) ĉ`, smallest at
/// `δ* = √(W ĉ)`. A cluster is never lighter than the heaviest task: `δ = max(w̄_max, δ*)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ClusterBounds {
    /// `δ`, s of mean execution time.
    lower: f64,
    /// `min(⌈W / δ⌉, vCPUs)`, at least 1.
    vcpus: usize,
    /// `W`: the total mean execution time.
    total_work: f64,
}

impl ClusterBounds {
    fn new(problem: &Problem) -> Self {
        let heaviest_task = problem.mean_exec.iter().copied().fold(0.0, f64::max);
        let total_work: f64 = problem.mean_exec.iter().sum();
        let heaviest_comm = problem
            .succs
            .iter()
            .flatten()
            .map(|&(_, data)| problem.mean_comm(data))
            .fold(0.0, f64::max);
        let lower = heaviest_task.max((total_work * heaviest_comm).sqrt());
        let by_size = if lower > 0.0 {
            // Saturating: a huge ratio only means "as many as there are vCPUs".
            (total_work / lower).ceil().min(usize::MAX as f64) as usize
        } else {
            usize::MAX
        };
        Self {
            lower,
            vcpus: by_size.min(problem.n_vcpus()).max(1),
            total_work,
        }
    }
}

fn new_cluster(problem: &Problem, tasks: Vec<TaskId>) -> Cluster {
    let work = tasks.iter().map(|&t| problem.mean_exec[t]).sum();
    let mut types: Vec<SfTypeId> = tasks.iter().map(|&t| problem.task_type[t]).collect();
    types.sort_unstable();
    types.dedup();
    Cluster {
        tasks,
        work,
        type_bits: types
            .iter()
            .try_fold(0_u64, |bits, &t| (t < 64).then(|| bits | (1 << t))),
        types,
        alive: true,
    }
}

/// What sharing one instance of each SF type saves: its mean image download time over the
/// hosts that lack the image (0 when every host has it pre-deployed). Under the nearest-copy
/// model the instance saved is a second one, so its download is a cache hit
/// ([`Problem::copy_download_time`]).
fn image_saving(problem: &Problem) -> Vec<f64> {
    (0..problem.type_names.len())
        .map(|t| {
            let total: f64 = problem
                .hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.preloaded_images[t])
                .map(|(h, _)| problem.copy_download_time(h, t))
                .sum();
            total / problem.hosts.len().max(1) as f64
        })
        .collect()
}

/// The merge criterion: the partner maximising the communication made local plus the image
/// downloads saved by sharing instances, among partners that keep the merged cluster within
/// `upper`; ties go to the lighter partner, then the lower index.
fn best_partner(
    problem: &Problem,
    clusters: &[Cluster],
    cluster_of: &[usize],
    small: usize,
    upper: f64,
    saving: &[f64],
) -> Option<usize> {
    let mut comm: BTreeMap<usize, f64> = BTreeMap::new();
    for &t in &clusters[small].tasks {
        for &(other, data) in problem.preds[t].iter().chain(&problem.succs[t]) {
            let c = cluster_of[other];
            if c != small {
                *comm.entry(c).or_default() += problem.mean_comm(data);
            }
        }
    }
    let mut best: Option<(f64, f64, usize)> = None;
    for (id, c) in clusters.iter().enumerate() {
        if id == small || !c.alive || clusters[small].work + c.work > upper + EPS {
            continue;
        }
        let shared: f64 = shared_types(&clusters[small].types, c)
            .map(|t| saving[t])
            .sum();
        let score = comm.get(&id).copied().unwrap_or(0.0) + shared;
        let better = best.is_none_or(|(s, w, _)| {
            score > s + EPS || ((score - s).abs() <= EPS && c.work < w - EPS)
        });
        if better {
            best = Some((score, c.work, id));
        }
    }
    best.map(|b| b.2)
}

/// The types of `a` (sorted) that cluster `b` has too, in `a`'s order.
fn shared_types<'a>(a: &'a [SfTypeId], b: &'a Cluster) -> impl Iterator<Item = SfTypeId> + 'a {
    a.iter().copied().filter(move |&t| match b.type_bits {
        Some(bits) => t < 64 && bits & (1 << t) != 0,
        None => b.types.binary_search(&t).is_ok(),
    })
}

fn merge(
    problem: &Problem,
    clusters: &mut [Cluster],
    cluster_of: &mut [usize],
    from: usize,
    into: usize,
) {
    let moved = std::mem::take(&mut clusters[from].tasks);
    for &t in &moved {
        cluster_of[t] = into;
    }
    clusters[from].alive = false;
    let mut tasks = std::mem::take(&mut clusters[into].tasks);
    tasks.extend(moved);
    clusters[into] = new_cluster(problem, tasks);
}

/// Phase I, part 3: pre-vCPU allocation. Clusters in decreasing order of their highest rank
/// each take the idle vCPU (one cluster per vCPU, at most the load limit's number of clusters
/// per host) with the smallest cost: execution on that vCPU + downloads of images and files
/// the host does not hold yet + transfers from clusters already allocated. Same-type clusters
/// thus gather on hosts, where they share instances. With no idle vCPU left, the cost also
/// counts the work already on the vCPU.
fn pre_allocate(
    problem: &Problem,
    clusters: &[Cluster],
    rank: &[f64],
    within_load_limit: bool,
) -> Vec<VcpuId> {
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    let head_rank = |c: &Cluster| c.tasks.iter().map(|&t| rank[t]).fold(0.0, f64::max);
    order.sort_by(|&a, &b| {
        head_rank(&clusters[b])
            .total_cmp(&head_rank(&clusters[a]))
            .then(a.cmp(&b))
    });
    let types = problem.type_names.len();
    let mut allocation = vec![0; problem.n_tasks()];
    let mut allocated = vec![false; problem.n_tasks()];
    let mut vcpu_load = vec![0.0_f64; problem.n_vcpus()];
    let mut host_clusters = vec![0_usize; problem.hosts.len()];
    let mut host_has_type: Vec<bool> = problem
        .hosts
        .iter()
        .flat_map(|h| h.preloaded_images.iter().copied())
        .collect();
    // Nearest-copy: the networks whose forwarders will have seen each image (a cluster
    // allocated to a host lacking it downloads it there), and whether any has.
    let networks = problem.network_names.len();
    let mut fetched_in: Vec<bool> = vec![false; networks * types];
    let mut fetched: Vec<bool> = vec![false; types];
    let image_cost = |h: usize, t: SfTypeId, fetched_in: &[bool], fetched: &[bool]| -> f64 {
        let origin = problem.hosts[h].image_download_time[t];
        let own = problem.hosts[h].network;
        let cache = if fetched_in[own * types + t] {
            own
        } else if fetched[t] {
            problem.repository_network
        } else {
            return origin;
        };
        problem
            .cache_download_time(h, t, cache)
            .map_or(origin, |c| origin.min(c))
    };
    // The files on each host, sorted: preloaded or brought by a cluster placed there.
    let mut host_has_file: Vec<Vec<FileId>> = problem
        .hosts
        .iter()
        .map(|h| h.preloaded_files.clone())
        .collect();
    for c in order {
        let cluster = &clusters[c];
        let mut needed_files: Vec<FileId> = cluster
            .tasks
            .iter()
            .flat_map(|&t| problem.task_files[t].iter().copied())
            .collect();
        needed_files.sort_unstable();
        needed_files.dedup();
        // The cost's parts that depend only on the host (downloads, transfers), and the
        // execution time, which is the same on vCPUs with the same execution times.
        let host_part = |h: usize| -> (f64, f64, f64) {
            let images: f64 = cluster
                .types
                .iter()
                .filter(|&&t| !host_has_type[h * types + t])
                .map(|&t| image_cost(h, t, &fetched_in, &fetched))
                .sum();
            let inputs: f64 = needed_files
                .iter()
                .filter(|&&f| host_has_file[h].binary_search(&f).is_err())
                .map(|&f| problem.file_download_time(h, f))
                .sum();
            let transfers: f64 = cluster
                .tasks
                .iter()
                .flat_map(|&t| problem.preds[t].iter().chain(&problem.succs[t]))
                .filter(|&&(other, _)| allocated[other])
                .map(|&(other, data)| {
                    problem.transfer_time(data, problem.host_of(allocation[other]), h)
                })
                .sum();
            (images, inputs, transfers)
        };
        let exec_part = |vcpu: VcpuId| -> f64 {
            cluster
                .tasks
                .iter()
                .map(|&t| problem.exec_time(t, vcpu))
                .sum()
        };
        // A vCPU is open to the cluster if it already runs clusters (they will run one after
        // the other) or if its host may still run one more cluster at a time.
        let open = |vcpu: VcpuId| {
            let h = problem.host_of(vcpu);
            let room = if within_load_limit {
                problem.hosts[h].max_concurrent
            } else {
                problem.hosts[h].vcpus.len()
            };
            vcpu_load[vcpu] > 0.0 || host_clusters[h] < room
        };
        let mut best: Option<(f64, VcpuId)> = None;
        // Remembered for the last host and the last vCPU asked (a host's vCPUs come together).
        let mut last_host: Option<(usize, (f64, f64, f64))> = None;
        let mut last_exec: Option<(VcpuId, f64)> = None;
        for vcpu in (0..problem.n_vcpus()).filter(|&v| open(v)) {
            let h = problem.host_of(vcpu);
            let (images, inputs, transfers) = match last_host {
                Some((host, part)) if host == h => part,
                _ => {
                    let part = host_part(h);
                    last_host = Some((h, part));
                    part
                }
            };
            let exec = match last_exec {
                Some((other, exec)) if problem.same_exec_times(other, vcpu) => exec,
                _ => {
                    let exec = exec_part(vcpu);
                    last_exec = Some((vcpu, exec));
                    exec
                }
            };
            // Execution on the vCPU + downloads the host lacks + transfers from clusters
            // already allocated, on top of the work already there.
            let c = vcpu_load[vcpu] + exec + images + inputs + transfers;
            if best.is_none_or(|b| c < b.0 - EPS) {
                best = Some((c, vcpu));
            }
        }
        let Some((_, vcpu)) = best else {
            continue;
        };
        let h = problem.host_of(vcpu);
        if vcpu_load[vcpu] == 0.0 {
            host_clusters[h] += 1;
        }
        for &t in &cluster.tasks {
            allocation[t] = vcpu;
            allocated[t] = true;
            vcpu_load[vcpu] += problem.exec_time(t, vcpu);
        }
        // A zero-work cluster must still mark its vCPU as taken.
        if vcpu_load[vcpu] == 0.0 {
            vcpu_load[vcpu] = f64::MIN_POSITIVE;
        }
        for &t in &cluster.types {
            if !host_has_type[h * types + t] {
                fetched_in[problem.hosts[h].network * types + t] = true;
                fetched[t] = true;
            }
            host_has_type[h * types + t] = true;
        }
        for &f in &needed_files {
            if let Err(at) = host_has_file[h].binary_search(&f) {
                host_has_file[h].insert(at, f);
            }
        }
    }
    allocation
}

/// The accurate priority of phase II: bottom levels with each task's execution time on its
/// pre-allocated vCPU and the actual transfer time between the pre-allocated hosts.
fn allocated_levels(problem: &Problem, allocation: &[VcpuId]) -> Vec<f64> {
    let mut level = vec![0.0; problem.n_tasks()];
    for &t in problem.topo_order.iter().rev() {
        let here = problem.host_of(allocation[t]);
        let tail = problem.succs[t]
            .iter()
            .map(|&(s, data)| {
                problem.transfer_time(data, here, problem.host_of(allocation[s])) + level[s]
            })
            .fold(0.0, f64::max);
        level[t] = problem.exec_time(t, allocation[t]) + tail;
    }
    level
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{Infrastructure, Workflow};

    /// Host `h` with two vCPUs, host `g` with one; two tasks of type `a`, one of type `b`.
    fn problem() -> Problem {
        let infra = Infrastructure::from_toml_str(
            "load_limit = 1.0\nfunction_prefix = \"/fn\"\ninter_network_bandwidth = 10.0\n\
             [[network]]\nname = \"n\"\nbandwidth = 100.0\n\
             [[host]]\nname = \"h\"\nnetwork = \"n\"\nvcpu_speeds = [1.0, 1.0]\n\
             [[host]]\nname = \"g\"\nnetwork = \"n\"\nvcpu_speeds = [1.0]\n\
             [image_repository]\nnetwork = \"n\"\nbandwidth = 50.0\n\
             [file_server]\nnetwork = \"n\"\nbandwidth = 50.0\n\
             [[image]]\nsf = \"a\"\nsize_mb = 10.0\n[[image]]\nsf = \"b\"\nsize_mb = 10.0\n",
        )
        .unwrap();
        let workflow = Workflow::from_toml_str(
            "name = \"w\"\n\
             [[task]]\nname = \"a1\"\nsf = \"a\"\nworkload = 1.0\n\
             [[task]]\nname = \"a2\"\nsf = \"a\"\nworkload = 1.0\n\
             [[task]]\nname = \"b1\"\nsf = \"b\"\nworkload = 1.0\n",
        )
        .unwrap();
        Problem::new(&workflow, &infra).unwrap()
    }

    #[test]
    fn cmwsl_bound_trades_cluster_size_against_communication() {
        // Cost matrix: 4 independent-ish tasks of 10 s behind an entry task, 100 s edges.
        let exec = vec![vec![10.0; 8]; 5];
        let edges: Vec<(usize, usize, f64)> = (1..5).map(|t| (0, t, 100.0)).collect();
        let heavy = Problem::from_cost_matrix(&exec, &edges).unwrap();
        let bounds = ClusterBounds::new(&heavy);
        // W = 50 s; ĉ = the mean of 100 s over distinct processors = 100 s: δ = √5000 ≈ 70.7,
        // so one vCPU (⌈50 / 70.7⌉) — communication dearer than all the work.
        assert!((bounds.lower - 5000.0_f64.sqrt()).abs() < 1e-9);
        assert_eq!(bounds.vcpus, 1);
        // Without communication the bound is the heaviest task: one vCPU per task, at most 5.
        let light = Problem::from_cost_matrix(&exec, &[]).unwrap();
        let bounds = ClusterBounds::new(&light);
        assert_eq!((bounds.lower, bounds.vcpus), (10.0, 5));
        // Never more than the vCPUs there are.
        let narrow = Problem::from_cost_matrix(&vec![vec![10.0; 2]; 5], &[]).unwrap();
        assert_eq!(ClusterBounds::new(&narrow).vcpus, 2);
    }

    #[test]
    fn sharing_per_vcpu_offers_only_the_vcpu_running_the_type() {
        let problem = problem();
        let mut timeline = Timeline::new(&problem, Awareness::Downloads);
        // a1 on h's first vCPU: an instance of `a` there.
        timeline.commit(0, 0, Slotting::Insertion);
        let a = problem.task_type[1];
        let g = 2;
        assert_eq!(
            move_candidates(&timeline, a, g, Sharing::PerVcpu, false),
            [0]
        );
        assert_eq!(
            move_candidates(&timeline, a, g, Sharing::PerHost, false),
            [0, 1]
        );
        // Type `b` runs nowhere yet: nothing to share.
        let b = problem.task_type[2];
        assert!(move_candidates(&timeline, b, g, Sharing::PerHost, false).is_empty());
    }

    #[test]
    fn a_task_held_by_the_load_limit_may_go_to_any_other_host() {
        let problem = problem();
        let mut timeline = Timeline::new(&problem, Awareness::Downloads);
        timeline.commit(0, 0, Slotting::Insertion);
        let b = problem.task_type[2];
        // Home on h's second vCPU: g's vCPU is offered, h's first (same host) is not.
        assert_eq!(
            move_candidates(&timeline, b, 1, Sharing::PerVcpu, true),
            [2]
        );
    }

    #[test]
    fn phase_one_fills_a_host_beyond_its_load_limit_only_in_the_seeds_reading() {
        let infra = Infrastructure::from_toml_str(
            "load_limit = 0.5\nfunction_prefix = \"/fn\"\ninter_network_bandwidth = 10.0\n\
             default_image_size_mb = 10.0\n\
             [[network]]\nname = \"n\"\nbandwidth = 100.0\n\
             [[host]]\nname = \"vmA\"\nnetwork = \"n\"\nvcpu_speeds = [2.0, 2.0]\n\
             images = [\"x\", \"c\", \"d\"]\n\
             [[host]]\nname = \"vmB\"\nnetwork = \"n\"\nvcpu_speeds = [2.0]\n\
             images = [\"x\", \"c\", \"d\"]\n\
             [image_repository]\nnetwork = \"n\"\nbandwidth = 50.0\n\
             [file_server]\nnetwork = \"n\"\nbandwidth = 50.0\n",
        )
        .unwrap();
        let workflow = Workflow::from_toml_str(
            "name = \"fig27\"\n\
             [[task]]\nname = \"X\"\nsf = \"x\"\nworkload = 2.0\n\
             [[task]]\nname = \"C\"\nsf = \"c\"\nworkload = 10.0\n\
             [[task]]\nname = \"D\"\nsf = \"d\"\nworkload = 10.0\n\
             [[edge]]\nfrom = \"X\"\nto = \"C\"\ndata_mb = 1.0\n\
             [[edge]]\nfrom = \"X\"\nto = \"D\"\ndata_mb = 1.0\n",
        )
        .unwrap();
        let problem = Problem::new(&workflow, &infra).unwrap();
        let rank = problem.upward_rank_mean();
        let clusters = cluster(&problem, &rank);
        assert_eq!(clusters.len(), 2, "{clusters:?}");
        let d = 2;
        let seed = pre_allocate(&problem, &clusters, &rank, false);
        assert_eq!(
            problem.host_of(seed[d]),
            0,
            "D pre-allocated beside C on vmA"
        );
        let within = pre_allocate(&problem, &clusters, &rank, true);
        assert_eq!(problem.host_of(within[d]), 1, "D pre-allocated to vmB");
    }
}

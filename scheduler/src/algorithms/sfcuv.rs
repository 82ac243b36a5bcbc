//! SF-CUV (seed 003 §4.2.2, Fig. 27) as reconstructed here, and CUV-FIX.
//!
//! The seed publishes the two phases but not the merge criterion, the cluster-size bound or the
//! load limit; the choices below are ours and `docs/scheduler.md` explains each.

use std::collections::{BTreeMap, BTreeSet};

use super::{OrdF64, Scheduler, by_decreasing, ready_list};
use crate::problem::{FileId, Problem, SfTypeId, TaskId, VcpuId};
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, Slotting, Timeline};

/// Knobs of SF-CUV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SfCuvParams {
    /// Phase II may move a task off its pre-allocated vCPU (false gives CUV-FIX).
    pub reallocate: bool,
    /// Extra lateness allowed to a move, as a share of the task's execution time on its
    /// pre-allocated vCPU, on top of the projected response time.
    pub move_slack: f64,
}

impl Default for SfCuvParams {
    fn default() -> Self {
        Self {
            reallocate: true,
            move_slack: 0.0,
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
    alive: bool,
}

impl Scheduler for SfCuv {
    fn name(&self) -> &'static str {
        if self.params.reallocate {
            "sf-cuv"
        } else {
            "cuv-fix"
        }
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let rank = problem.upward_rank_mean();
        let clusters = cluster(problem, &rank);
        let allocation = pre_allocate(problem, &clusters, &rank);
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
                let at_home = timeline.estimate(task, home, Slotting::Insertion);
                let sf = problem.task_type[task];
                let home_host = problem.host_of(home);
                // A new instance at home also delays every later download in the repository's
                // queue by its own download time: charge that on top of the home estimate.
                let externality = if timeline.has_instance(home_host, sf)
                    || problem.hosts[home_host].preloaded_images[sf]
                {
                    0.0
                } else {
                    problem.hosts[home_host].image_download_time[sf]
                };
                // A move may not push the projected response time past what staying home costs.
                let bound = projected.max(at_home.finish + tail + externality)
                    + self.params.move_slack * problem.exec_time(task, home);
                let key = |vcpu: VcpuId, finish: f64| {
                    (
                        !timeline.vcpu_used(vcpu),
                        !timeline.has_instance(problem.host_of(vcpu), sf),
                        OrdF64(finish),
                        vcpu,
                    )
                };
                let mut best = key(home, at_home.finish);
                for (h, host) in problem.hosts.iter().enumerate() {
                    if !timeline.has_instance(h, sf) {
                        continue;
                    }
                    for &vcpu in &host.vcpus {
                        if vcpu == home {
                            continue;
                        }
                        let e = timeline.estimate(task, vcpu, Slotting::Insertion);
                        let candidate = key(vcpu, e.finish);
                        if e.finish + tail <= bound + EPS && candidate < best {
                            best = candidate;
                        }
                    }
                }
                chosen = best.3;
            }
            let placed = timeline.commit(task, chosen, Slotting::Insertion);
            projected = projected.max(placed.finish + tail);
        });
        timeline.into_schedule(self.name())
    }
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

    // Size bounds. Lower: a cluster lighter than the heaviest single task is too small to
    // deserve its own vCPU. Upper: no merge makes a cluster heavier than the critical path
    // (or than the average share of the usable vCPUs, if that is larger), so merging never
    // makes one vCPU the bottleneck of the whole workflow.
    let lower = problem.mean_exec.iter().copied().fold(0.0, f64::max);
    let critical_path = rank.iter().copied().fold(0.0, f64::max);
    let total_work: f64 = problem.mean_exec.iter().sum();
    let slots: usize = problem.hosts.iter().map(|h| h.max_concurrent).sum();
    let upper = critical_path.max(total_work / slots.max(1) as f64);
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
    // Rule 2: no more clusters than tasks the hosts may run at once under the load limit.
    while alive > slots.max(1) {
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

fn new_cluster(problem: &Problem, tasks: Vec<TaskId>) -> Cluster {
    let work = tasks.iter().map(|&t| problem.mean_exec[t]).sum();
    let mut types: Vec<SfTypeId> = tasks.iter().map(|&t| problem.task_type[t]).collect();
    types.sort_unstable();
    types.dedup();
    Cluster {
        tasks,
        work,
        types,
        alive: true,
    }
}

/// What sharing one instance of each SF type saves: its mean image download time over the
/// hosts that lack the image (0 when every host has it pre-deployed).
fn image_saving(problem: &Problem) -> Vec<f64> {
    (0..problem.type_names.len())
        .map(|t| {
            let total: f64 = problem
                .hosts
                .iter()
                .filter(|h| !h.preloaded_images[t])
                .map(|h| h.image_download_time[t])
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
        let shared: f64 = shared_types(&clusters[small].types, &c.types)
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

fn shared_types<'a>(a: &'a [SfTypeId], b: &'a [SfTypeId]) -> impl Iterator<Item = SfTypeId> + 'a {
    a.iter().copied().filter(|t| b.binary_search(t).is_ok())
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
fn pre_allocate(problem: &Problem, clusters: &[Cluster], rank: &[f64]) -> Vec<VcpuId> {
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    let head_rank = |c: &Cluster| c.tasks.iter().map(|&t| rank[t]).fold(0.0, f64::max);
    order.sort_by(|&a, &b| {
        head_rank(&clusters[b])
            .total_cmp(&head_rank(&clusters[a]))
            .then(a.cmp(&b))
    });
    let types = problem.type_names.len();
    let files = problem.file_names.len();
    let mut allocation = vec![0; problem.n_tasks()];
    let mut allocated = vec![false; problem.n_tasks()];
    let mut vcpu_load = vec![0.0_f64; problem.n_vcpus()];
    let mut host_clusters = vec![0_usize; problem.hosts.len()];
    let mut host_has_type: Vec<bool> = problem
        .hosts
        .iter()
        .flat_map(|h| h.preloaded_images.iter().copied())
        .collect();
    let mut host_has_file: Vec<bool> = problem
        .hosts
        .iter()
        .flat_map(|h| h.preloaded_files.iter().copied())
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
        let cost = |vcpu: VcpuId| -> f64 {
            let h = problem.host_of(vcpu);
            let host = &problem.hosts[h];
            let exec: f64 = cluster
                .tasks
                .iter()
                .map(|&t| problem.exec_time(t, vcpu))
                .sum();
            let images: f64 = cluster
                .types
                .iter()
                .filter(|&&t| !host_has_type[h * types + t])
                .map(|&t| host.image_download_time[t])
                .sum();
            let inputs: f64 = needed_files
                .iter()
                .filter(|&&f| !host_has_file[h * files + f])
                .map(|&f| host.file_download_time[f])
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
            vcpu_load[vcpu] + exec + images + inputs + transfers
        };
        // A vCPU is open to the cluster if it already runs clusters (they will run one after
        // the other) or if its host may still run one more cluster at a time.
        let open = |vcpu: VcpuId| {
            let h = problem.host_of(vcpu);
            vcpu_load[vcpu] > 0.0 || host_clusters[h] < problem.hosts[h].max_concurrent
        };
        let mut best: Option<(f64, VcpuId)> = None;
        for vcpu in (0..problem.n_vcpus()).filter(|&v| open(v)) {
            let c = cost(vcpu);
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
            host_has_type[h * types + t] = true;
        }
        for &f in &needed_files {
            host_has_file[h * files + f] = true;
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

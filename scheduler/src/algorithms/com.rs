//! The communication-locality baseline (seed 003 §4.2.4, after its refs. 6 and 7), in two
//! readings of the seed's one sentence: "the output data from one SF is sent to the nearest node
//! having sufficient capacity to accommodate the target SF".

use super::{Scheduler, mean_finish_times, ready_list};
use crate::problem::{HostId, Problem, TaskId};
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, Slotting, Timeline};

/// Which reading of "the nearest node having sufficient capacity" COM-based follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComReading {
    /// The seed's words: capacity is what a node *has* (a vCPU its load limit lets it use),
    /// not what is idle now. The task goes to the nearest such node and waits there for a
    /// vCPU when the node is busy (`com-based`).
    #[default]
    WaitAtNearest,
    /// Capacity is an idle vCPU *now*: the nearest node able to start the task as soon as its
    /// data is there; with none, the earliest finish anywhere (`com-immediate`, this crate's
    /// first reading).
    StartAtOnce,
}

/// COM-based: tasks as they become ready (earliest average finish first); "near" means the host
/// its largest input comes from (distance 0), then that host's network (1), then the other
/// networks (2); for a task without predecessors the file server's network counts as near.
/// Within the chosen distance the vCPU finishing the task first wins. Like a workflow engine
/// dispatching tasks as their data arrives, it never back-fills gaps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComBased {
    /// How "sufficient capacity" is read.
    pub reading: ComReading,
}

impl ComBased {
    /// COM-based with the given reading.
    pub fn new(reading: ComReading) -> Self {
        Self { reading }
    }
}

/// The host `task`'s largest input comes from (none for an entry task).
fn source_of(problem: &Problem, timeline: &Timeline<'_>, task: TaskId) -> Option<HostId> {
    problem.preds[task]
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .and_then(|&(pred, _)| timeline.placement(pred))
        .map(|a| problem.host_of(a.vcpu))
}

/// How far `host` is from `source` (0 same host, 1 same network, 2 elsewhere); entry tasks
/// measure from the file server's network (0 inside it, 1 outside).
fn distance(problem: &Problem, source: Option<HostId>, host: HostId) -> usize {
    match source {
        Some(src) if src == host => 0,
        Some(src) if problem.hosts[src].network == problem.hosts[host].network => 1,
        Some(_) => 2,
        None => usize::from(problem.hosts[host].network != problem.file_server_network),
    }
}

/// A node can accommodate an SF if its load limit lets it run a task at all. Every host of a
/// valid problem can (the limit admits at least one task), but the rule is kept explicit.
fn has_capacity(problem: &Problem, host: HostId) -> bool {
    let info = &problem.hosts[host];
    info.max_concurrent >= 1 && !info.vcpus.is_empty()
}

impl Scheduler for ComBased {
    fn name(&self) -> &'static str {
        match self.reading {
            ComReading::WaitAtNearest => "com-based",
            ComReading::StartAtOnce => "com-immediate",
        }
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let finish = mean_finish_times(problem);
        // ready_list takes the highest priority first: negate to take the earliest finish.
        let priority: Vec<f64> = finish.iter().map(|f| -f).collect();
        let mut timeline = Timeline::new(problem, Awareness::ComputeOnly);
        ready_list(problem, &priority, |task| {
            let vcpu = match self.reading {
                ComReading::WaitAtNearest => nearest_with_capacity(problem, &timeline, task),
                ComReading::StartAtOnce => nearest_idle(problem, &timeline, task),
            };
            timeline.commit(task, vcpu, Slotting::Append);
        });
        timeline.into_schedule(self.name())
    }
}

/// The seed's reading: the smallest distance among hosts with capacity, then the earliest
/// finish there (waiting for a busy vCPU if need be), then the lower index.
fn nearest_with_capacity(problem: &Problem, timeline: &Timeline<'_>, task: TaskId) -> usize {
    let source = source_of(problem, timeline, task);
    let mut best: Option<(usize, f64, usize)> = None;
    for vcpu in 0..problem.n_vcpus() {
        let host = problem.host_of(vcpu);
        if !has_capacity(problem, host) {
            continue;
        }
        let e = timeline.estimate(task, vcpu, Slotting::Append);
        let key = (distance(problem, source, host), e.finish, vcpu);
        let better = best.is_none_or(|(d, f, _)| key.0 < d || (key.0 == d && key.1 < f - EPS));
        if better {
            best = Some(key);
        }
    }
    best.map_or(0, |b| b.2)
}

/// The "start at once" reading: the nearest host with a vCPU idle when the data is there;
/// with none, the earliest finish anywhere.
fn nearest_idle(problem: &Problem, timeline: &Timeline<'_>, task: TaskId) -> usize {
    // (distance, finish, vcpu) for a vCPU that starts the task without waiting.
    let source = source_of(problem, timeline, task);
    let mut near: Option<(usize, f64, usize)> = None;
    let mut earliest = (f64::INFINITY, 0);
    for vcpu in 0..problem.n_vcpus() {
        let host = problem.host_of(vcpu);
        let e = timeline.estimate(task, vcpu, Slotting::Append);
        if e.finish < earliest.0 - EPS {
            earliest = (e.finish, vcpu);
        }
        if e.start <= timeline.data_ready(task, host) + EPS {
            let key = (distance(problem, source, host), e.finish, vcpu);
            let better = near.is_none_or(|(d, f, _)| key.0 < d || (key.0 == d && key.1 < f - EPS));
            if better {
                near = Some(key);
            }
        }
    }
    near.map_or(earliest.1, |(_, _, v)| v)
}

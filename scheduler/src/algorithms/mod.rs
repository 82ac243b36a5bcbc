//! The scheduling algorithms: one trait, one output type ([`Schedule`]).

mod cap;
mod com;
mod heft;
mod peft;
mod sfcuv;

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::problem::{Problem, TaskId};
use crate::schedule::Schedule;

pub use com::ComReading;
pub use sfcuv::{SfCuvParams, Sharing};

/// A scheduling algorithm.
pub trait Scheduler {
    /// Short name, as used on the command line.
    fn name(&self) -> &'static str;
    /// Places every task of the problem.
    fn schedule(&self, problem: &Problem) -> Schedule;
}

/// The six algorithms of the seed's evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// SF clustering for utilising vCPUs (the seed's algorithm, our reconstruction).
    SfCuv,
    /// SF-CUV with the phase-I vCPU kept in phase II.
    CuvFix,
    /// Heterogeneous earliest finish time, insertion-based.
    Heft,
    /// Predict earliest finish time (optimistic cost table).
    Peft,
    /// Capacity-based: largest residual capacity first.
    CapBased,
    /// Communication-locality-based: nearest node with capacity, waiting there (the seed).
    ComBased,
    /// SF-CUV sharing per host, phase I within the load limit (this crate's first reading).
    SfCuvPerHost,
    /// COM-based read as "nearest node able to start at once, else anywhere" (first reading).
    ComImmediate,
}

impl Algorithm {
    /// All six, in the order the figures list them.
    pub const ALL: [Self; 6] = [
        Self::SfCuv,
        Self::CuvFix,
        Self::Heft,
        Self::Peft,
        Self::CapBased,
        Self::ComBased,
    ];

    /// The other readings of the seed where it is ambiguous (see `docs/scheduler.md` §2).
    pub const VARIANTS: [Self; 2] = [Self::SfCuvPerHost, Self::ComImmediate];

    /// The six and the variants, in the order the figures list them.
    pub const EVERY: [Self; 8] = [
        Self::SfCuv,
        Self::SfCuvPerHost,
        Self::CuvFix,
        Self::Heft,
        Self::Peft,
        Self::CapBased,
        Self::ComBased,
        Self::ComImmediate,
    ];

    /// One line saying what the algorithm does.
    pub fn description(self) -> &'static str {
        match self {
            Self::SfCuv => {
                "phase I: chain clustering, size-bounded type-aware merging, pre-allocation of \
                 clusters to vCPUs; phase II: list scheduling by the pre-allocated levels, \
                 moving a task onto a vCPU already running its SF type when that is no later, \
                 or off a host whose load limit holds it back (Fig. 27)"
            }
            Self::SfCuvPerHost => {
                "SF-CUV sharing per host (any vCPU of a host with the instance), phase I within \
                 the load limit"
            }
            Self::CuvFix => "SF-CUV with every task kept on its phase-I vCPU",
            Self::Heft => "HEFT: upward rank, earliest finish time with insertion",
            Self::Peft => "PEFT: optimistic cost table rank, EFT + OCT with insertion",
            Self::CapBased => {
                "order by average finish time; idle slot of the vCPU with the largest residual \
                 capacity"
            }
            Self::ComBased => {
                "order by average finish time; nearest host (to the largest input) with \
                 capacity, waiting there for a vCPU"
            }
            Self::ComImmediate => {
                "order by average finish time; nearest host (to the largest input) that can \
                 start the task at once, else the earliest finish anywhere"
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let key = s.to_ascii_lowercase().replace('_', "-");
        Ok(match key.as_str() {
            "sf-cuv" | "sfcuv" => Self::SfCuv,
            "cuv-fix" | "cuvfix" => Self::CuvFix,
            "heft" => Self::Heft,
            "peft" => Self::Peft,
            "cap" | "cap-based" => Self::CapBased,
            "com" | "com-based" => Self::ComBased,
            "sf-cuv-host" | "sfcuv-host" => Self::SfCuvPerHost,
            "com-immediate" => Self::ComImmediate,
            _ => return Err(Error::UnknownAlgorithm(s.to_owned())),
        })
    }
}

impl Scheduler for Algorithm {
    fn name(&self) -> &'static str {
        match self {
            Self::SfCuv => "sf-cuv",
            Self::CuvFix => "cuv-fix",
            Self::Heft => "heft",
            Self::Peft => "peft",
            Self::CapBased => "cap-based",
            Self::ComBased => "com-based",
            Self::SfCuvPerHost => "sf-cuv-host",
            Self::ComImmediate => "com-immediate",
        }
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        match self {
            Self::SfCuv => SfCuv::new(SfCuvParams::default()).schedule(problem),
            Self::CuvFix => SfCuv::new(SfCuvParams {
                reallocate: false,
                ..SfCuvParams::default()
            })
            .schedule(problem),
            Self::Heft => Heft::default().schedule(problem),
            Self::Peft => Peft.schedule(problem),
            Self::CapBased => CapBased.schedule(problem),
            Self::ComBased => ComBased::new(ComReading::WaitAtNearest).schedule(problem),
            Self::SfCuvPerHost => SfCuv::new(SfCuvParams::per_host()).schedule(problem),
            Self::ComImmediate => ComBased::new(ComReading::StartAtOnce).schedule(problem),
        }
    }
}

pub use cap::CapBased;
pub use com::ComBased;
pub use heft::Heft;
pub use peft::Peft;
pub use sfcuv::SfCuv;

/// Position of every task in the problem's topological order (for deterministic tie-breaks
/// that also keep predecessors first).
pub(crate) fn topo_position(problem: &Problem) -> Vec<usize> {
    let mut pos = vec![0; problem.n_tasks()];
    for (i, &t) in problem.topo_order.iter().enumerate() {
        pos[t] = i;
    }
    pos
}

/// Tasks sorted by decreasing `key`, ties by topological position.
pub(crate) fn by_decreasing(problem: &Problem, key: &[f64]) -> Vec<TaskId> {
    let pos = topo_position(problem);
    let mut order: Vec<TaskId> = (0..problem.n_tasks()).collect();
    order.sort_by(|&a, &b| key[b].total_cmp(&key[a]).then(pos[a].cmp(&pos[b])));
    order
}

/// Average earliest finish time of every task with mean costs and unbounded vCPUs.
pub(crate) fn mean_finish_times(problem: &Problem) -> Vec<f64> {
    let mut finish = vec![0.0; problem.n_tasks()];
    for &t in &problem.topo_order {
        let ready = problem.preds[t]
            .iter()
            .map(|&(p, data)| finish[p] + problem.mean_comm(data))
            .fold(0.0, f64::max);
        finish[t] = ready + problem.mean_exec[t];
    }
    finish
}

/// Ready-list scheduling: repeatedly takes the ready task with the highest priority (ties by
/// topological position) and lets `place` put it somewhere.
pub(crate) fn ready_list(problem: &Problem, priority: &[f64], mut place: impl FnMut(TaskId)) {
    use std::cmp::Reverse;
    use std::collections::BTreeSet;
    let pos = topo_position(problem);
    let mut waiting: Vec<usize> = problem.preds.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<(Reverse<OrdF64>, usize, TaskId)> = (0..problem.n_tasks())
        .filter(|&t| waiting[t] == 0)
        .map(|t| (Reverse(OrdF64(priority[t])), pos[t], t))
        .collect();
    while let Some((_, _, task)) = ready.pop_first() {
        place(task);
        for &(succ, _) in &problem.succs[task] {
            waiting[succ] -= 1;
            if waiting[succ] == 0 {
                ready.insert((Reverse(OrdF64(priority[succ])), pos[succ], succ));
            }
        }
    }
}

/// A total order on floats (by `total_cmp`), for ordered sets and sort keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OrdF64(pub(crate) f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

//! The capacity-based baseline (seed 003 §4.2.4, after its refs. 4 and 5).

use super::{Scheduler, mean_finish_times};
use crate::problem::{Problem, TaskId};
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, Slotting, Timeline};

/// CAP-based: tasks in increasing order of their finish time computed with the average speed
/// and bandwidth; each goes to the earliest idle slot of the vCPU with the largest residual
/// capacity, `speed × (T − busy)`, where `T` is the average critical path length and `busy`
/// the execution time already placed on the vCPU. It balances load and ignores images.
#[derive(Debug, Clone, Copy, Default)]
pub struct CapBased;

impl Scheduler for CapBased {
    fn name(&self) -> &'static str {
        "cap-based"
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let finish = mean_finish_times(problem);
        let horizon = finish.iter().copied().fold(0.0, f64::max);
        let pos = super::topo_position(problem);
        let mut order: Vec<TaskId> = (0..problem.n_tasks()).collect();
        order.sort_by(|&a, &b| finish[a].total_cmp(&finish[b]).then(pos[a].cmp(&pos[b])));
        let mut timeline = Timeline::new(problem, Awareness::ComputeOnly);
        for task in order {
            let mut best = (f64::NEG_INFINITY, 0);
            for (v, vcpu) in problem.vcpus.iter().enumerate() {
                let residual = vcpu.speed * (horizon - timeline.vcpu_work(v));
                if residual > best.0 + EPS {
                    best = (residual, v);
                }
            }
            timeline.commit(task, best.1, Slotting::Insertion);
        }
        timeline.into_schedule(self.name())
    }
}

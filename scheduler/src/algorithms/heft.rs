//! HEFT (Topcuoglu, Hariri, Wu, IEEE TPDS 2002), insertion-based.

use super::{Scheduler, by_decreasing};
use crate::problem::Problem;
use crate::schedule::Schedule;
use crate::timeline::{Awareness, Slotting, Timeline};

/// HEFT: tasks by decreasing upward rank, each on the vCPU giving the earliest finish time,
/// possibly in an idle gap. Like the published algorithm it does not know about SF images or
/// input files when choosing; the placement itself then waits for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Heft;

impl Scheduler for Heft {
    fn name(&self) -> &'static str {
        "heft"
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let rank = problem.upward_rank_mean();
        let mut timeline = Timeline::new(problem);
        for task in by_decreasing(problem, &rank) {
            let mut best = (f64::INFINITY, 0);
            for vcpu in 0..problem.n_vcpus() {
                let e = timeline.estimate(task, vcpu, Slotting::Insertion, Awareness::ComputeOnly);
                if e.finish < best.0 - crate::timeline::EPS {
                    best = (e.finish, vcpu);
                }
            }
            timeline.commit(task, best.1, Slotting::Insertion);
        }
        timeline.into_schedule(self.name())
    }
}

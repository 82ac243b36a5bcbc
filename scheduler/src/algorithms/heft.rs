//! HEFT (Topcuoglu, Hariri, Wu, IEEE TPDS 2002), insertion-based.

use super::{Scheduler, by_decreasing};
use crate::problem::Problem;
use crate::schedule::Schedule;
use crate::timeline::{Awareness, Slotting, Timeline};

/// HEFT: tasks by decreasing upward rank, each on the vCPU giving the earliest finish time,
/// possibly in an idle gap. Like the published algorithm it does not know about SF images or
/// input files when choosing (unless `aware_of_downloads`, an ablation that is not part of the
/// seed's comparison); the placement itself then waits for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Heft {
    /// Count image and file downloads in the earliest finish time.
    pub aware_of_downloads: bool,
}

impl Scheduler for Heft {
    fn name(&self) -> &'static str {
        if self.aware_of_downloads {
            "heft-aware"
        } else {
            "heft"
        }
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let rank = problem.upward_rank_mean();
        let awareness = if self.aware_of_downloads {
            Awareness::Downloads
        } else {
            Awareness::ComputeOnly
        };
        let mut timeline = Timeline::new(problem, awareness);
        for task in by_decreasing(problem, &rank) {
            let mut best = (f64::INFINITY, 0);
            for vcpu in 0..problem.n_vcpus() {
                let e = timeline.estimate(task, vcpu, Slotting::Insertion);
                if e.finish < best.0 - crate::timeline::EPS {
                    best = (e.finish, vcpu);
                }
            }
            timeline.commit(task, best.1, Slotting::Insertion);
        }
        timeline.into_schedule(self.name())
    }
}

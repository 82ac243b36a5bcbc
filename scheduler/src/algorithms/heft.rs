//! HEFT (Topcuoglu, Hariri, Wu, IEEE TPDS 2002), insertion-based.

use super::{Scheduler, by_decreasing};
use crate::problem::Problem;
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, HostReady, Slotting, Timeline};

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
            let mut host_ready = HostReady::default();
            for vcpu in 0..problem.n_vcpus() {
                let ready = host_ready.get(&timeline, task, problem.host_of(vcpu));
                // No estimate finishes before the host's ready time plus the execution time:
                // skip the vCPU when that cannot beat the best.
                if ready + problem.exec_time(task, vcpu) >= best.0 - EPS {
                    continue;
                }
                let e = timeline.estimate_ready(task, vcpu, ready, Slotting::Insertion);
                if e.finish < best.0 - EPS {
                    best = (e.finish, vcpu);
                }
            }
            timeline.commit(task, best.1, Slotting::Insertion);
        }
        timeline.into_schedule(self.name())
    }
}

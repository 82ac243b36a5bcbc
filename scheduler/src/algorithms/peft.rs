//! PEFT (Arabnejad & Barbosa, IEEE TPDS 2014): the optimistic cost table.

use super::{Scheduler, ready_list};
use crate::problem::Problem;
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, HostReady, Slotting, Timeline};

/// PEFT: `OCT(i,p) = max_j min_w (OCT(j,w) + w(j,w) + c̄_ij·[w≠p])`, rank = mean of OCT over
/// vCPUs; the highest-ranked ready task goes to the vCPU minimising `EFT + OCT` (insertion).
#[derive(Debug, Clone, Copy, Default)]
pub struct Peft;

/// The optimistic cost table, `oct[task * vcpus + vcpu]`.
pub(crate) fn optimistic_cost_table(problem: &Problem) -> Vec<f64> {
    let p = problem.n_vcpus();
    let mut oct = vec![0.0; problem.n_tasks() * p];
    // best[j] = min_w OCT(j,w) + w(j,w): computed once per task, it makes each edge O(p).
    let mut best = vec![0.0; problem.n_tasks()];
    for &t in problem.topo_order.iter().rev() {
        for &(succ, data) in &problem.succs[t] {
            let comm = problem.mean_comm(data);
            for v in 0..p {
                let same = oct[succ * p + v] + problem.exec_time(succ, v);
                let value = same.min(best[succ] + comm);
                if value > oct[t * p + v] {
                    oct[t * p + v] = value;
                }
            }
        }
        best[t] = (0..p)
            .map(|v| oct[t * p + v] + problem.exec_time(t, v))
            .fold(f64::INFINITY, f64::min);
    }
    oct
}

impl Scheduler for Peft {
    fn name(&self) -> &'static str {
        "peft"
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let p = problem.n_vcpus();
        let oct = optimistic_cost_table(problem);
        let rank: Vec<f64> = (0..problem.n_tasks())
            .map(|t| oct[t * p..(t + 1) * p].iter().sum::<f64>() / p as f64)
            .collect();
        let mut timeline = Timeline::new(problem, Awareness::ComputeOnly);
        ready_list(problem, &rank, |task| {
            let mut best = (f64::INFINITY, 0);
            let mut host_ready = HostReady::default();
            for vcpu in 0..p {
                let ready = host_ready.get(&timeline, task, problem.host_of(vcpu));
                let cost = oct[task * p + vcpu];
                // No estimate finishes before the host's ready time plus the execution time.
                if ready + problem.exec_time(task, vcpu) + cost >= best.0 - EPS {
                    continue;
                }
                let e = timeline.estimate_ready(task, vcpu, ready, Slotting::Insertion);
                let score = e.finish + cost;
                if score < best.0 - EPS {
                    best = (score, vcpu);
                }
            }
            timeline.commit(task, best.1, Slotting::Insertion);
        });
        timeline.into_schedule(self.name())
    }
}

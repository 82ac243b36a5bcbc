//! PEFT (Arabnejad & Barbosa, IEEE TPDS 2014): the optimistic cost table.

use super::{Scheduler, ready_list};
use crate::problem::{Problem, TaskId, VcpuId};
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, HostReady, Slotting, Timeline};

/// PEFT: `OCT(i,p) = max_j min_w (OCT(j,w) + w(j,w) + c̄_ij·[w≠p])`, rank = mean of OCT over
/// vCPUs; the highest-ranked ready task goes to the vCPU minimising `EFT + OCT` (insertion).
#[derive(Debug, Clone, Copy, Default)]
pub struct Peft;

/// The optimistic cost table: `OCT(task, vcpu) = table[task * classes + class_of[vcpu]]`.
/// `OCT(i, p)` depends on `p` only through the execution times on `p`, so vCPUs with the same
/// execution times (the same speed, for a workflow) share a column: the table is tasks ×
/// distinct speeds, not tasks × vCPUs, with the same values.
pub(crate) struct OptimisticCosts {
    table: Vec<f64>,
    class_of: Vec<usize>,
    classes: usize,
}

impl OptimisticCosts {
    pub(crate) fn new(problem: &Problem) -> Self {
        let (class_of, representative) = problem.exec_classes();
        let k = representative.len();
        let mut oct = vec![0.0; problem.n_tasks() * k];
        // best[j] = min_w OCT(j,w) + w(j,w): computed once per task, it makes each edge O(k).
        let mut best = vec![0.0; problem.n_tasks()];
        for &t in problem.topo_order.iter().rev() {
            for &(succ, data) in &problem.succs[t] {
                let comm = problem.mean_comm(data);
                for (c, &v) in representative.iter().enumerate() {
                    let same = oct[succ * k + c] + problem.exec_time(succ, v);
                    let value = same.min(best[succ] + comm);
                    if value > oct[t * k + c] {
                        oct[t * k + c] = value;
                    }
                }
            }
            best[t] = representative
                .iter()
                .enumerate()
                .map(|(c, &v)| oct[t * k + c] + problem.exec_time(t, v))
                .fold(f64::INFINITY, f64::min);
        }
        Self {
            table: oct,
            class_of,
            classes: k,
        }
    }

    /// `OCT(task, vcpu)`.
    pub(crate) fn get(&self, task: TaskId, vcpu: VcpuId) -> f64 {
        self.table[task * self.classes + self.class_of[vcpu]]
    }
}

impl Scheduler for Peft {
    fn name(&self) -> &'static str {
        "peft"
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let p = problem.n_vcpus();
        let oct = OptimisticCosts::new(problem);
        // The mean over vCPUs, summed in vCPU order.
        let rank: Vec<f64> = (0..problem.n_tasks())
            .map(|t| (0..p).map(|v| oct.get(t, v)).sum::<f64>() / p as f64)
            .collect();
        let mut timeline = Timeline::new(problem, Awareness::ComputeOnly);
        ready_list(problem, &rank, |task| {
            let mut best = (f64::INFINITY, 0);
            let mut host_ready = HostReady::default();
            for vcpu in 0..p {
                let ready = host_ready.get(&timeline, task, problem.host_of(vcpu));
                let cost = oct.get(task, vcpu);
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

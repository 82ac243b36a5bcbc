//! The communication-locality baseline (seed 003 §4.2.4, after its refs. 6 and 7).

use super::{Scheduler, mean_finish_times, ready_list};
use crate::problem::{HostId, Problem};
use crate::schedule::Schedule;
use crate::timeline::{Awareness, EPS, Slotting, Timeline};

/// COM-based: tasks as they become ready (earliest average finish first); each goes to the
/// nearest host — the host its largest input comes from, then its network, then the other
/// networks; for a task without predecessors the file server's network counts as near — that
/// has a vCPU able to start it as soon as its data is there. Within the nearest such host the
/// vCPU finishing it first wins. If no host can start it at once, the earliest finish wins.
/// Like a workflow engine dispatching tasks as their data arrives, it never back-fills gaps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComBased;

impl Scheduler for ComBased {
    fn name(&self) -> &'static str {
        "com-based"
    }

    fn schedule(&self, problem: &Problem) -> Schedule {
        let finish = mean_finish_times(problem);
        // ready_list takes the highest priority first: negate to take the earliest finish.
        let priority: Vec<f64> = finish.iter().map(|f| -f).collect();
        let mut timeline = Timeline::new(problem, Awareness::ComputeOnly);
        ready_list(problem, &priority, |task| {
            let source: Option<HostId> = problem.preds[task]
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .and_then(|&(pred, _)| timeline.placement(pred))
                .map(|a| problem.host_of(a.vcpu));
            let distance = |host: HostId| -> usize {
                match source {
                    Some(src) if src == host => 0,
                    Some(src) if problem.hosts[src].network == problem.hosts[host].network => 1,
                    Some(_) => 2,
                    None => usize::from(problem.hosts[host].network != problem.file_server_network),
                }
            };
            // (distance, finish, vcpu) for a vCPU that starts the task without waiting.
            let mut near: Option<(usize, f64, usize)> = None;
            let mut earliest = (f64::INFINITY, 0);
            for vcpu in 0..problem.n_vcpus() {
                let host = problem.host_of(vcpu);
                let e = timeline.estimate(task, vcpu, Slotting::Append);
                if e.finish < earliest.0 - EPS {
                    earliest = (e.finish, vcpu);
                }
                if e.start <= timeline.data_ready(task, host) + EPS {
                    let key = (distance(host), e.finish, vcpu);
                    let better = match near {
                        None => true,
                        Some((d, f, _)) => key.0 < d || (key.0 == d && key.1 < f - EPS),
                    };
                    if better {
                        near = Some(key);
                    }
                }
            }
            let vcpu = near.map_or(earliest.1, |(_, _, v)| v);
            timeline.commit(task, vcpu, Slotting::Append);
        });
        timeline.into_schedule(self.name())
    }
}

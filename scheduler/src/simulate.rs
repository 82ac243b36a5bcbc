//! An independent checker and simulator for any schedule, and the evaluation metrics.
//!
//! Nothing here reuses the engine the algorithms schedule with: downloads, transfers and the
//! load limit are recomputed from the [`Problem`], so a bug in the engine shows up here.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::problem::{DownloadModel, Problem, TaskId};
use crate::schedule::{Download, DownloadSource, Schedule};
use crate::timeline::{EPS, max_overlap_with};

/// Tolerance for times recomputed in a different order (sums of floats).
const TOLERANCE: f64 = 1e-6;

/// The metrics of one schedule (definitions in `docs/scheduler.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Simulated response time: from time 0 (all downloads requested) until the last task
    /// finishes, s.
    pub response_time: f64,
    /// Number of SF instances: distinct (host, SF type) pairs that run a task.
    pub instances: usize,
    /// Degree of SF sharing: tasks per instance, `|V| / instances` (1 = no sharing).
    pub sharing_degree: f64,
    /// vCPUs that run at least one task.
    pub vcpus_used: usize,
    /// Hosts that run at least one task.
    pub hosts_used: usize,
    /// Efficiency: speedup over running all tasks one after the other on the fastest vCPU,
    /// divided by the vCPUs used.
    pub efficiency: f64,
    /// Number of image downloads.
    pub image_downloads: usize,
    /// Number of file downloads.
    pub file_downloads: usize,
    /// vCPUs used × response time: what holding the used vCPUs for the run costs, s.
    pub vcpu_seconds: f64,
    /// Execution time summed over tasks (busy vCPU time), s.
    pub busy_vcpu_seconds: f64,
    /// Images and input files downloaded from the image repository and the file server, MB.
    pub mb_downloaded: f64,
    /// Images served by forwarders' caches (nearest-copy model), MB; 0 under origin.
    pub mb_from_caches: f64,
}

/// Checks every rule of the model; the first broken one is reported.
pub fn check(problem: &Problem, schedule: &Schedule) -> Result<()> {
    let bad = |msg: String| Err(Error::InvalidSchedule(msg));
    let n = problem.n_tasks();
    if schedule.assignments.len() != n {
        return bad(format!(
            "{} assignments for {n} tasks",
            schedule.assignments.len()
        ));
    }
    let image_ready = image_ready(problem, &schedule.image_downloads)?;
    let file_ready = download_ready(problem, &schedule.file_downloads)?;
    let name = |t: TaskId| &problem.task_names[t];
    for (task, a) in schedule.assignments.iter().enumerate() {
        if a.vcpu >= problem.n_vcpus() || !a.start.is_finite() || a.start < -EPS {
            return bad(format!("task {:?} is not placed", name(task)));
        }
        let duration = problem.exec_time(task, a.vcpu);
        if (a.finish - a.start - duration).abs() > TOLERANCE {
            return bad(format!(
                "task {:?} lasts {} s, its execution time is {duration} s",
                name(task),
                a.finish - a.start
            ));
        }
        let host = problem.host_of(a.vcpu);
        for &(pred, data) in &problem.preds[task] {
            let p = schedule.assignments[pred];
            let arrival = p.finish + problem.transfer_time(data, problem.host_of(p.vcpu), host);
            if a.start + TOLERANCE < arrival {
                return bad(format!(
                    "task {:?} starts at {} before the data of {:?} arrives at {arrival}",
                    name(task),
                    a.start,
                    name(pred)
                ));
            }
        }
        let sf = problem.task_type[task];
        let image = if problem.hosts[host].preloaded_images[sf] {
            0.0
        } else {
            match image_ready.get(&(host, sf)) {
                Some(&t) => t,
                None => {
                    return bad(format!(
                        "task {:?} runs on {} without its image",
                        name(task),
                        problem.hosts[host].name
                    ));
                }
            }
        };
        if a.start + TOLERANCE < image {
            return bad(format!(
                "task {:?} starts before its image is there",
                name(task)
            ));
        }
        for &f in &problem.task_files[task] {
            if problem.hosts[host].has_file(f) {
                continue;
            }
            match file_ready.get(&(host, f)) {
                Some(&t) if a.start + TOLERANCE >= t => {}
                _ => {
                    return bad(format!(
                        "task {:?} starts before its file {:?} is there",
                        name(task),
                        problem.file_names[f]
                    ));
                }
            }
        }
    }
    // No two tasks overlap on a vCPU; the load limit holds on every host. Tasks are grouped
    // by vCPU and by host once (every assignment's vCPU was checked above).
    let mut by_vcpu: Vec<Vec<(f64, f64, TaskId)>> = vec![Vec::new(); problem.n_vcpus()];
    let mut by_host: Vec<Vec<(f64, f64)>> = vec![Vec::new(); problem.hosts.len()];
    for (task, a) in schedule.assignments.iter().enumerate() {
        by_vcpu[a.vcpu].push((a.start, a.finish, task));
        let (s, f) = (a.start + TOLERANCE, a.finish - TOLERANCE);
        if s < f {
            by_host[problem.host_of(a.vcpu)].push((s, f));
        }
    }
    for slots in &mut by_vcpu {
        slots.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in slots.windows(2) {
            if pair[1].0 + TOLERANCE < pair[0].1 {
                return bad(format!(
                    "tasks {:?} and {:?} overlap on one vCPU",
                    name(pair[0].2),
                    name(pair[1].2)
                ));
            }
        }
    }
    for (host, intervals) in problem.hosts.iter().zip(by_host) {
        let peak = peak_load(&intervals);
        if peak > host.max_concurrent {
            return bad(format!(
                "host {} runs {peak} tasks at once, its load limit allows {}",
                host.name, host.max_concurrent
            ));
        }
    }
    Ok(())
}

/// The most intervals running at once at any interval's start `s` (shrunk intervals, each
/// `start < finish`): `max_s max_overlap_of(intervals, s, 0)`, in O(n log n). At `s` that
/// counts the intervals with `start < e` and `finish > e`, `e = s + EPS` (none when the sum
/// rounds back to `s`); every interval ending by `e` started before it, so the count is the
/// starts before `e` minus the finishes at or before `e`.
fn peak_load(intervals: &[(f64, f64)]) -> usize {
    let mut starts: Vec<f64> = intervals.iter().map(|i| i.0).collect();
    let mut finishes: Vec<f64> = intervals.iter().map(|i| i.1).collect();
    starts.sort_by(f64::total_cmp);
    finishes.sort_by(f64::total_cmp);
    starts
        .iter()
        .map(|&s| {
            let e = s + EPS;
            if e > s {
                let started = starts.partition_point(|&x| x < e);
                let ended = finishes.partition_point(|&x| x <= e);
                started.saturating_sub(ended)
            } else {
                0
            }
        })
        .max()
        .unwrap_or(0)
}

/// Replays the image downloads in order under the problem's download model and returns when
/// each image is on its host. The repository serves its downloads one at a time, back to
/// back from time 0; under [`DownloadModel::NearestCopy`] a download may instead come from
/// the cache of a forwarder on the host's path (its network's, the repository network's)
/// that holds a complete copy by then — a copy an earlier-listed download brought through it
/// (pre-deployed images never crossed a forwarder) — each cache serving one at a time. A
/// download whose recorded finish is not the model's is refused too.
fn image_ready(
    problem: &Problem,
    downloads: &[Download],
) -> Result<std::collections::BTreeMap<(usize, usize), f64>> {
    let bad = |msg: String| Err(Error::InvalidSchedule(msg));
    let types = problem.type_names.len();
    let networks = problem.network_names.len();
    let mut ready = std::collections::BTreeMap::new();
    let mut repository_free = 0.0_f64;
    let mut cache_free = vec![0.0_f64; networks];
    let mut cached_at: Vec<Option<f64>> = vec![None; networks * types];
    for d in downloads {
        let Some(host) = problem.hosts.get(d.host) else {
            return bad(format!("download to unknown host {}", d.host));
        };
        let Some(&origin_time) = host.image_download_time.get(d.item) else {
            return bad(format!("download of unknown image {}", d.item));
        };
        if ready.contains_key(&(d.host, d.item)) {
            return bad(format!(
                "image {} downloaded twice to {}",
                problem.type_names[d.item], host.name
            ));
        }
        let finish = match d.source {
            DownloadSource::Origin => {
                repository_free += origin_time;
                let at = &mut cached_at[problem.repository_network * types + d.item];
                *at = Some(at.map_or(repository_free, |t| t.min(repository_free)));
                repository_free
            }
            DownloadSource::Cache(cache) => {
                if problem.download_model == DownloadModel::Origin {
                    return bad(format!(
                        "image {} comes to {} from a cache, but the problem's download model \
                         is origin",
                        problem.type_names[d.item], host.name
                    ));
                }
                if !problem.caches_on_path(d.host).any(|c| c == cache) {
                    return bad(format!(
                        "image {} comes to {} from the cache of network {cache}, which is not \
                         on its path to the repository",
                        problem.type_names[d.item], host.name
                    ));
                }
                let (Some(at), Some(duration)) = (
                    cached_at[cache * types + d.item],
                    problem.cache_download_time(d.host, d.item, cache),
                ) else {
                    return bad(format!(
                        "image {} comes to {} from the cache of network {} before any copy \
                         reached it",
                        problem.type_names[d.item], host.name, problem.network_names[cache]
                    ));
                };
                let start = cache_free[cache].max(at);
                let finish = start + duration;
                cache_free[cache] = finish;
                finish
            }
        };
        let at = &mut cached_at[host.network * types + d.item];
        *at = Some(at.map_or(finish, |t| t.min(finish)));
        if (d.finish - finish).abs() > TOLERANCE {
            return bad(format!(
                "image {} is recorded on {} at {} s, the download model has it there at \
                 {finish} s",
                problem.type_names[d.item], host.name, d.finish
            ));
        }
        ready.insert((d.host, d.item), finish);
    }
    Ok(ready)
}

/// Replays the input-file downloads in order at the file server (one at a time, back to back
/// from time 0) and returns when each file is on its host.
fn download_ready(
    problem: &Problem,
    downloads: &[Download],
) -> Result<std::collections::BTreeMap<(usize, usize), f64>> {
    let mut ready = std::collections::BTreeMap::new();
    let mut free = 0.0_f64;
    let mut seen = BTreeSet::new();
    for d in downloads {
        let host = problem.hosts.get(d.host).ok_or_else(|| {
            Error::InvalidSchedule(format!("download to unknown host {}", d.host))
        })?;
        let duration = problem
            .file_size_mb
            .get(d.item)
            .map(|size| size / host.file_rate)
            .ok_or_else(|| {
                Error::InvalidSchedule(format!("download of unknown item {}", d.item))
            })?;
        if d.source != DownloadSource::Origin {
            return Err(Error::InvalidSchedule(format!(
                "input file {} comes to {} from a cache: files come from the file server",
                d.item, host.name
            )));
        }
        if !seen.insert((d.host, d.item)) {
            return Err(Error::InvalidSchedule(format!(
                "item {} downloaded twice to {}",
                d.item, host.name
            )));
        }
        // One download at a time, back to back from time 0.
        free += duration;
        ready.insert((d.host, d.item), free);
    }
    Ok(ready)
}

/// Replays a valid schedule as early as possible: tasks in the order of their planned start,
/// each at the earliest time its data, image, files, vCPU and host load allow. Returns each
/// task's simulated (start, finish). Never later than the plan, since the plan is feasible.
pub fn simulate(problem: &Problem, schedule: &Schedule) -> Result<Vec<(f64, f64)>> {
    check(problem, schedule)?;
    Ok(replay(problem, schedule))
}

/// The replay behind [`simulate`], without the check: it also realises download-oblivious
/// plans (same vCPUs, same order on each vCPU, same download order).
pub(crate) fn replay(problem: &Problem, schedule: &Schedule) -> Vec<(f64, f64)> {
    let image_ready = image_ready(problem, &schedule.image_downloads).unwrap_or_default();
    let file_ready = download_ready(problem, &schedule.file_downloads).unwrap_or_default();
    let mut order: Vec<TaskId> = (0..problem.n_tasks()).collect();
    order.sort_by(|&a, &b| {
        schedule.assignments[a]
            .start
            .total_cmp(&schedule.assignments[b].start)
            .then(a.cmp(&b))
    });
    let mut times = vec![(f64::NAN, f64::NAN); problem.n_tasks()];
    let mut vcpu_free = vec![0.0_f64; problem.n_vcpus()];
    let mut hosts: Vec<HostRuns> = vec![HostRuns::default(); problem.hosts.len()];
    let mut events = Vec::new();
    for task in order {
        let a = schedule.assignments[task];
        let host = problem.host_of(a.vcpu);
        let info = &problem.hosts[host];
        let mut ready = vcpu_free[a.vcpu];
        for &(pred, data) in &problem.preds[task] {
            let p = schedule.assignments[pred];
            ready = ready
                .max(times[pred].1 + problem.transfer_time(data, problem.host_of(p.vcpu), host));
        }
        let sf = problem.task_type[task];
        if !info.preloaded_images[sf] {
            ready = ready.max(image_ready.get(&(host, sf)).copied().unwrap_or(0.0));
        }
        for &f in &problem.task_files[task] {
            if !info.has_file(f) {
                ready = ready.max(file_ready.get(&(host, f)).copied().unwrap_or(0.0));
            }
        }
        let duration = problem.exec_time(task, a.vcpu);
        let runs = &hosts[host];
        // The first of `ready` and the later finishes on the host where the run keeps the
        // host within its limit, else `ready`.
        let candidates = std::iter::once(ready).chain(runs.finishes_after(ready).iter().copied());
        let start = candidates
            .into_iter()
            .find(|&t| runs.below_limit(&mut events, t, duration, info.max_concurrent))
            .unwrap_or(ready);
        times[task] = (start, start + duration);
        vcpu_free[a.vcpu] = start + duration;
        hosts[host].insert(start, start + duration);
    }
    times
}

/// The runs of one host in the replay: sorted by start, their finishes sorted, and the
/// longest, so that a load check looks only at the runs that may overlap.
#[derive(Debug, Clone, Default)]
struct HostRuns {
    runs: Vec<(f64, f64)>,
    finishes: Vec<f64>,
    longest: f64,
}

impl HostRuns {
    fn insert(&mut self, start: f64, finish: f64) {
        let at = self.runs.partition_point(|r| r.0 <= start);
        self.runs.insert(at, (start, finish));
        let at = self.finishes.partition_point(|&f| f <= finish);
        self.finishes.insert(at, finish);
        self.longest = self.longest.max(finish - start);
    }

    /// The finishes strictly after `t`, in increasing order.
    fn finishes_after(&self, t: f64) -> &[f64] {
        &self.finishes[self.finishes.partition_point(|&f| f <= t)..]
    }

    /// `max_overlap_of(all runs, t, duration) < limit`, from the runs that can overlap
    /// `[t, t + duration)`: started before its end, and no earlier than the longest run before
    /// `t` (a run overlapping it ends after `t`; the margin is far above rounding).
    fn below_limit(
        &self,
        events: &mut Vec<(f64, i32)>,
        t: f64,
        duration: f64,
        limit: usize,
    ) -> bool {
        let end = self.runs.partition_point(|r| r.0 < t + duration.max(EPS));
        let earliest = t - self.longest - 1e-6 * (1.0 + t.abs() + self.longest);
        let begin = self.runs[..end].partition_point(|r| r.0 < earliest);
        max_overlap_with(events, self.runs[begin..end].iter().copied(), t, duration) < limit
    }
}

/// Checks, simulates and measures a schedule.
pub fn evaluate(problem: &Problem, schedule: &Schedule) -> Result<Metrics> {
    let times = simulate(problem, schedule)?;
    let response_time = times.iter().map(|t| t.1).fold(0.0, f64::max);
    let instances = schedule.instances(problem).len();
    let vcpus: BTreeSet<usize> = schedule.assignments.iter().map(|a| a.vcpu).collect();
    let hosts: BTreeSet<usize> = vcpus.iter().map(|&v| problem.host_of(v)).collect();
    let fastest = (0..problem.n_vcpus())
        .map(|v| {
            (0..problem.n_tasks())
                .map(|t| problem.exec_time(t, v))
                .sum::<f64>()
        })
        .fold(f64::INFINITY, f64::min);
    let efficiency = if response_time > 0.0 {
        fastest / response_time / vcpus.len() as f64
    } else {
        0.0
    };
    let busy_vcpu_seconds = schedule
        .assignments
        .iter()
        .enumerate()
        .map(|(t, a)| problem.exec_time(t, a.vcpu))
        .sum();
    let image_mb = |d: &&Download| problem.image_size_mb.get(d.item).copied().unwrap_or(0.0);
    let from_origin = |d: &&Download| d.source == DownloadSource::Origin;
    let mb_from_caches = schedule
        .image_downloads
        .iter()
        .filter(|d| !from_origin(d))
        .map(|d| image_mb(&d))
        // From +0.0: `sum` of no f64 is -0.0, which JSON and CSV would show as such.
        .fold(0.0, |a, b| a + b);
    let mb_downloaded = schedule
        .image_downloads
        .iter()
        .filter(from_origin)
        .map(|d| image_mb(&d))
        .chain(
            schedule
                .file_downloads
                .iter()
                .map(|d| problem.file_size_mb.get(d.item).copied().unwrap_or(0.0)),
        )
        .sum();
    Ok(Metrics {
        response_time,
        vcpu_seconds: vcpus.len() as f64 * response_time,
        busy_vcpu_seconds,
        mb_downloaded,
        mb_from_caches,
        instances,
        sharing_degree: problem.n_tasks() as f64 / instances.max(1) as f64,
        vcpus_used: vcpus.len(),
        hosts_used: hosts.len(),
        efficiency,
        image_downloads: schedule.image_downloads.len(),
        file_downloads: schedule.file_downloads.len(),
    })
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::timeline::max_overlap_of;

    /// The checker's peak before: every start swept against every interval.
    fn peak_quadratic(intervals: &[(f64, f64)]) -> usize {
        intervals
            .iter()
            .map(|&(s, _)| max_overlap_of(intervals, s, 0.0))
            .max()
            .unwrap_or(0)
    }

    /// The replay before the host index: every later finish a candidate, each swept against
    /// every run of the host.
    fn replay_quadratic(problem: &Problem, schedule: &Schedule) -> Vec<(f64, f64)> {
        let image_ready = image_ready(problem, &schedule.image_downloads).unwrap_or_default();
        let file_ready = download_ready(problem, &schedule.file_downloads).unwrap_or_default();
        let mut order: Vec<TaskId> = (0..problem.n_tasks()).collect();
        order.sort_by(|&a, &b| {
            schedule.assignments[a]
                .start
                .total_cmp(&schedule.assignments[b].start)
                .then(a.cmp(&b))
        });
        let mut times = vec![(f64::NAN, f64::NAN); problem.n_tasks()];
        let mut vcpu_free = vec![0.0_f64; problem.n_vcpus()];
        let mut host_intervals: Vec<Vec<(f64, f64)>> = vec![Vec::new(); problem.hosts.len()];
        for task in order {
            let a = schedule.assignments[task];
            let host = problem.host_of(a.vcpu);
            let info = &problem.hosts[host];
            let mut ready = vcpu_free[a.vcpu];
            for &(pred, data) in &problem.preds[task] {
                let p = schedule.assignments[pred];
                ready = ready.max(
                    times[pred].1 + problem.transfer_time(data, problem.host_of(p.vcpu), host),
                );
            }
            let sf = problem.task_type[task];
            if !info.preloaded_images[sf] {
                ready = ready.max(image_ready.get(&(host, sf)).copied().unwrap_or(0.0));
            }
            for &f in &problem.task_files[task] {
                if !info.has_file(f) {
                    ready = ready.max(file_ready.get(&(host, f)).copied().unwrap_or(0.0));
                }
            }
            let duration = problem.exec_time(task, a.vcpu);
            let intervals = &host_intervals[host];
            let mut candidates: Vec<f64> = std::iter::once(ready)
                .chain(intervals.iter().map(|i| i.1).filter(|&t| t > ready))
                .collect();
            candidates.sort_by(f64::total_cmp);
            let start = candidates
                .iter()
                .copied()
                .find(|&t| max_overlap_of(intervals, t, duration) < info.max_concurrent)
                .unwrap_or(ready);
            times[task] = (start, start + duration);
            vcpu_free[a.vcpu] = start + duration;
            host_intervals[host].push((start, start + duration));
        }
        times
    }

    /// Every algorithm's schedules of the Fig. 32 workflow, as planned and with every start
    /// moved to 0 (the replay then decides everything): the same floats as the quadratic
    /// replay.
    #[test]
    fn replay_is_the_quadratic_replay() {
        use crate::Scheduler as _;
        for (partitions, seed) in [(2, 1), (8, 2), (16, 3)] {
            for predeploy in [false, true] {
                let workflow = crate::experiment::fig32_workflow(partitions);
                let infra = crate::experiment::fig31_infrastructure(seed, predeploy, 0.75);
                let problem = Problem::new(&workflow, &infra).expect("valid problem");
                for algorithm in crate::Algorithm::EVERY {
                    let mut schedule = algorithm.schedule(&problem);
                    for pass in 0..2 {
                        let bits = |v: Vec<(f64, f64)>| -> Vec<(u64, u64)> {
                            v.iter().map(|t| (t.0.to_bits(), t.1.to_bits())).collect()
                        };
                        assert_eq!(
                            bits(replay(&problem, &schedule)),
                            bits(replay_quadratic(&problem, &schedule)),
                            "{algorithm}, |B| {partitions}, seed {seed}, pass {pass}"
                        );
                        for a in &mut schedule.assignments {
                            a.start = 0.0;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn peak_load_is_the_quadratic_peak() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..300 {
            let n = rng.random_range(0..40);
            let intervals: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    // Quarter-second grid (ties, back to back), nanosecond nudges, any length.
                    let start = f64::from(rng.random_range(0..40_u32)) * 0.25
                        + f64::from(rng.random_range(0..3_u32)) * EPS * 0.5;
                    let length = match rng.random_range(0..3) {
                        0 => EPS * f64::from(rng.random_range(1..4_u32)),
                        1 => f64::from(rng.random_range(1..12_u32)) * 0.25,
                        _ => rng.random_range(0.0..5.0),
                    };
                    (start, start + length)
                })
                .filter(|(s, f)| s < f)
                .collect();
            assert_eq!(
                peak_load(&intervals),
                peak_quadratic(&intervals),
                "round {round}: {intervals:?}"
            );
        }
    }
}

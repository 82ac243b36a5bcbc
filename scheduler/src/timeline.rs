//! The placement engine shared by all algorithms: busy slots of every vCPU and host, SF
//! instances and the download queues of the image repository and the file server.
//!
//! Timing model (also described in `docs/scheduler.md`):
//! - a task starts when its inputs have arrived (predecessor finish + transfer, 0 on one host),
//!   its SF instance's image is on the host, its input files are on the host, its vCPU is idle,
//!   and fewer than the host's `max_concurrent` tasks are running;
//! - the repository (and the file server) serves one download at a time, first come first
//!   served from time 0, in the order the scheduler creates the need;
//! - under [`crate::DownloadModel::NearestCopy`] an image may instead come from the cache of
//!   the host's network's forwarder or the repository network's, once a download of it
//!   through that forwarder has finished; each cache serves one download at a time, and the
//!   download takes whichever source finishes it first (ties: the caches).

mod gaps;

use crate::problem::{FileId, HostId, Problem, SfTypeId, TaskId, VcpuId};
use crate::schedule::{Assignment, Download, DownloadSource, Schedule};
use gaps::VcpuSlots;

/// Slack for comparing floating-point times.
pub(crate) const EPS: f64 = 1e-9;

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: f64,
    finish: f64,
}

/// Where a task would run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) start: f64,
    pub(crate) finish: f64,
}

/// May a task fill an idle gap before the last task of a vCPU?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slotting {
    /// HEFT's insertion policy.
    Insertion,
    /// Only after the last task already on the vCPU.
    Append,
}

/// Does an estimate account for image and file downloads? Published baselines do not know
/// about SF images; the actual placement always does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awareness {
    /// Include downloads.
    Downloads,
    /// Only data arrival and vCPU/host availability.
    ComputeOnly,
}

/// Does an estimate respect the host's load limit? Ignoring it tells whether the limit is
/// what delays a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostLimit {
    Enforced,
    Ignored,
}

/// [`Timeline::ready_on_host`] of one task, remembered for the last host asked (vCPUs are
/// numbered host by host, so a scan over them asks each host once).
#[derive(Debug, Default)]
pub(crate) struct HostReady {
    last: Option<(HostId, f64)>,
}

impl HostReady {
    pub(crate) fn get(&mut self, timeline: &Timeline<'_>, task: TaskId, host: HostId) -> f64 {
        match self.last {
            Some((h, ready)) if h == host => ready,
            _ => {
                let ready = timeline.ready_on_host(task, host);
                self.last = Some((host, ready));
                ready
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Timeline<'p> {
    pub(crate) problem: &'p Problem,
    /// What the algorithm plans with. A download-oblivious plan is realised at the end by
    /// replaying it with the downloads (its vCPUs and per-vCPU order kept).
    planning: Awareness,
    vcpu_busy: Vec<VcpuSlots>,
    /// Every host's slots, sorted by start (the vCPUs' slots are among them).
    host_busy: Vec<Vec<Slot>>,
    /// Every host's slot finishes, sorted: the candidate starts of a load-limited search.
    host_finishes: Vec<Vec<f64>>,
    /// The longest slot of every host (`finish - start`): a slot starting earlier than
    /// `t - longest` ended before `t`, so an overlap count at `t` need not look at it.
    host_longest: Vec<f64>,
    /// `instance_ready[h * types + t]`: when the image is on the host, once the instance exists.
    instance_ready: Vec<Option<f64>>,
    /// Every host's input files, sorted by file, with when each is there (a list per host,
    /// not a hosts x files table).
    file_ready: Vec<Vec<(FileId, f64)>>,
    repository_free: f64,
    /// When each network's forwarder cache is free to serve the next image (nearest-copy).
    cache_free: Vec<f64>,
    /// `cached_at[n * types + t]`: when a copy of image `t` is complete in network `n`'s
    /// forwarder (nearest-copy; pre-deployed images never crossed a forwarder).
    cached_at: Vec<Option<f64>>,
    file_server_free: f64,
    placed: Vec<Option<Assignment>>,
    image_downloads: Vec<Download>,
    file_downloads: Vec<Download>,
    vcpu_work: Vec<f64>,
    /// SF types each vCPU has run, sorted: the seed shares an instance per vCPU.
    vcpu_types: Vec<Vec<SfTypeId>>,
    /// The vCPUs that have run each SF type, sorted (the inverse of `vcpu_types`).
    type_vcpus: Vec<Vec<VcpuId>>,
    /// The hosts with an instance of each SF type, sorted.
    type_hosts: Vec<Vec<HostId>>,
    /// Scratch buffer of the load-limit sweep (estimates take `&self`).
    events: std::cell::RefCell<Vec<(f64, i32)>>,
}

impl<'p> Timeline<'p> {
    pub(crate) fn new(problem: &'p Problem, planning: Awareness) -> Self {
        let hosts = problem.hosts.len();
        Self {
            problem,
            planning,
            vcpu_busy: vec![VcpuSlots::new(); problem.n_vcpus()],
            host_busy: vec![Vec::new(); hosts],
            host_finishes: vec![Vec::new(); hosts],
            host_longest: vec![0.0; hosts],
            instance_ready: vec![None; hosts * problem.type_names.len()],
            file_ready: vec![Vec::new(); hosts],
            repository_free: 0.0,
            cache_free: vec![0.0; problem.network_names.len()],
            cached_at: vec![None; problem.network_names.len() * problem.type_names.len()],
            file_server_free: 0.0,
            placed: vec![None; problem.n_tasks()],
            image_downloads: Vec::new(),
            file_downloads: Vec::new(),
            vcpu_work: vec![0.0; problem.n_vcpus()],
            vcpu_types: vec![Vec::new(); problem.n_vcpus()],
            type_vcpus: vec![Vec::new(); problem.type_names.len()],
            type_hosts: vec![Vec::new(); problem.type_names.len()],
            events: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Is there already an instance of SF type `sf` on `host`?
    pub(crate) fn has_instance(&self, host: HostId, sf: SfTypeId) -> bool {
        self.instance_ready[host * self.problem.type_names.len() + sf].is_some()
    }

    /// Has a task of SF type `sf` been placed on this vCPU (an instance pinned to it)?
    pub(crate) fn vcpu_runs_type(&self, vcpu: VcpuId, sf: SfTypeId) -> bool {
        self.vcpu_types[vcpu].binary_search(&sf).is_ok()
    }

    /// The vCPUs that have run a task of SF type `sf`, sorted.
    pub(crate) fn vcpus_running(&self, sf: SfTypeId) -> &[VcpuId] {
        &self.type_vcpus[sf]
    }

    /// The hosts with an instance of SF type `sf`, sorted.
    pub(crate) fn hosts_with_instance(&self, sf: SfTypeId) -> &[HostId] {
        &self.type_hosts[sf]
    }

    /// Total execution time already placed on a vCPU.
    pub(crate) fn vcpu_work(&self, vcpu: VcpuId) -> f64 {
        self.vcpu_work[vcpu]
    }

    /// Is any task placed on this vCPU?
    pub(crate) fn vcpu_used(&self, vcpu: VcpuId) -> bool {
        !self.vcpu_busy[vcpu].slots().is_empty()
    }

    /// The placement of a task, once placed.
    pub(crate) fn placement(&self, task: TaskId) -> Option<Assignment> {
        self.placed[task]
    }

    /// When all inputs of `task` can be on `host`.
    pub(crate) fn data_ready(&self, task: TaskId, host: HostId) -> f64 {
        self.problem.preds[task]
            .iter()
            .map(|&(pred, data)| match self.placed[pred] {
                Some(a) => {
                    a.finish
                        + self
                            .problem
                            .transfer_time(data, self.problem.host_of(a.vcpu), host)
                }
                // Algorithms place predecessors first; an unplaced one cannot delay yet.
                None => 0.0,
            })
            .fold(0.0, f64::max)
    }

    /// When input file `f` is on `host`, once something placed there needed it.
    fn file_ready_at(&self, host: HostId, f: FileId) -> Option<f64> {
        let files = &self.file_ready[host];
        files
            .binary_search_by_key(&f, |e| e.0)
            .ok()
            .map(|i| files[i].1)
    }

    fn image_ready_if_placed(&self, host: HostId, sf: SfTypeId) -> f64 {
        let types = self.problem.type_names.len();
        match self.instance_ready[host * types + sf] {
            Some(ready) => ready,
            None if self.problem.hosts[host].preloaded_images[sf] => 0.0,
            None => self.image_download(host, sf).2,
        }
    }

    /// The download a new instance of `sf` on `host` would get now: its source, start and
    /// finish. The repository's queue, or (nearest-copy) a cache on the host's path holding a
    /// complete copy, whichever finishes first; ties go to the caches, in path order.
    fn image_download(&self, host: HostId, sf: SfTypeId) -> (DownloadSource, f64, f64) {
        let problem = self.problem;
        let types = problem.type_names.len();
        let mut best: Option<(DownloadSource, f64, f64)> = None;
        for cache in problem.caches_on_path(host) {
            let (Some(at), Some(duration)) = (
                self.cached_at[cache * types + sf],
                problem.cache_download_time(host, sf, cache),
            ) else {
                continue;
            };
            let start = self.cache_free[cache].max(at);
            let finish = start + duration;
            if best.is_none_or(|b| finish < b.2) {
                best = Some((DownloadSource::Cache(cache), start, finish));
            }
        }
        let start = self.repository_free;
        let finish = start + problem.hosts[host].image_download_time[sf];
        match best {
            Some(b) if b.2 <= finish => b,
            _ => (DownloadSource::Origin, start, finish),
        }
    }

    /// What a new instance of `sf` on `host` costs the queue it is served from: the
    /// download's duration (every later download of that queue waits as long), 0 when the
    /// host has the instance or the image.
    pub(crate) fn new_instance_charge(&self, host: HostId, sf: SfTypeId) -> f64 {
        let problem = self.problem;
        if self.has_instance(host, sf) || problem.hosts[host].preloaded_images[sf] {
            return 0.0;
        }
        match self.image_download(host, sf).0 {
            DownloadSource::Origin => problem.hosts[host].image_download_time[sf],
            DownloadSource::Cache(cache) => problem
                .cache_download_time(host, sf, cache)
                .unwrap_or(problem.hosts[host].image_download_time[sf]),
        }
    }

    fn files_ready_if_placed(&self, task: TaskId, host: HostId) -> f64 {
        let info = &self.problem.hosts[host];
        let mut queue = self.file_server_free;
        let mut ready: f64 = 0.0;
        for &f in &self.problem.task_files[task] {
            match self.file_ready_at(host, f) {
                Some(at) => ready = ready.max(at),
                None if info.has_file(f) => {}
                None => {
                    queue += self.problem.file_download_time(host, f);
                    ready = ready.max(queue);
                }
            }
        }
        ready
    }

    /// Where `task` would start and finish on `vcpu` if placed now.
    pub(crate) fn estimate(&self, task: TaskId, vcpu: VcpuId, slotting: Slotting) -> Estimate {
        self.estimate_with(task, vcpu, slotting, HostLimit::Enforced)
    }

    /// [`Timeline::estimate`], and whether the host's load limit alone delays `task` on
    /// `vcpu` (Fig. 27: running it beside the host's other tasks would exceed the CPU load
    /// limit).
    pub(crate) fn estimate_and_held(
        &self,
        task: TaskId,
        vcpu: VcpuId,
        slotting: Slotting,
    ) -> (Estimate, bool) {
        let limited = self.estimate_with(task, vcpu, slotting, HostLimit::Enforced);
        let free = self.estimate_with(task, vcpu, slotting, HostLimit::Ignored);
        (limited, limited.start > free.start + EPS)
    }

    /// When `task` could start on `host` at the earliest, whatever the vCPU: its data (and,
    /// when planning with them, its image and files) are there. Every estimate on a vCPU of
    /// the host starts at or after it, and finishes at or after it plus the execution time.
    pub(crate) fn ready_on_host(&self, task: TaskId, host: HostId) -> f64 {
        let mut ready = self.data_ready(task, host);
        if self.planning == Awareness::Downloads {
            ready = ready
                .max(self.image_ready_if_placed(host, self.problem.task_type[task]))
                .max(self.files_ready_if_placed(task, host));
        }
        ready
    }

    fn estimate_with(
        &self,
        task: TaskId,
        vcpu: VcpuId,
        slotting: Slotting,
        host_limit: HostLimit,
    ) -> Estimate {
        let host = self.problem.host_of(vcpu);
        let ready = self.ready_on_host(task, host);
        self.estimate_from(task, vcpu, ready, slotting, host_limit)
    }

    /// [`Timeline::estimate`] given [`Timeline::ready_on_host`] for the vCPU's host.
    pub(crate) fn estimate_ready(
        &self,
        task: TaskId,
        vcpu: VcpuId,
        ready: f64,
        slotting: Slotting,
    ) -> Estimate {
        self.estimate_from(task, vcpu, ready, slotting, HostLimit::Enforced)
    }

    fn estimate_from(
        &self,
        task: TaskId,
        vcpu: VcpuId,
        ready: f64,
        slotting: Slotting,
        host_limit: HostLimit,
    ) -> Estimate {
        let host = self.problem.host_of(vcpu);
        let duration = self.problem.exec_time(task, vcpu);
        let start = self.earliest_start(vcpu, host, ready, duration, slotting, host_limit);
        Estimate {
            start,
            finish: start + duration,
        }
    }

    /// Places `task` on `vcpu` for good, creating its instance and downloads if needed.
    pub(crate) fn commit(&mut self, task: TaskId, vcpu: VcpuId, slotting: Slotting) -> Estimate {
        let problem = self.problem;
        let host = problem.host_of(vcpu);
        let sf = problem.task_type[task];
        let types = problem.type_names.len();
        let info = &problem.hosts[host];
        if self.instance_ready[host * types + sf].is_none() {
            let ready = if info.preloaded_images[sf] {
                0.0
            } else {
                let (source, start, finish) = self.image_download(host, sf);
                match source {
                    DownloadSource::Origin => {
                        self.repository_free = finish;
                        // Every repository download crosses the repository network's forwarder.
                        let at = &mut self.cached_at[problem.repository_network * types + sf];
                        *at = Some(at.map_or(finish, |t| t.min(finish)));
                    }
                    DownloadSource::Cache(cache) => self.cache_free[cache] = finish,
                }
                // ... and the host's own network's.
                let at = &mut self.cached_at[info.network * types + sf];
                *at = Some(at.map_or(finish, |t| t.min(finish)));
                self.image_downloads.push(Download {
                    host,
                    item: sf,
                    start,
                    finish,
                    source,
                });
                finish
            };
            self.instance_ready[host * types + sf] = Some(ready);
            let hosts = &mut self.type_hosts[sf];
            if let Err(at) = hosts.binary_search(&host) {
                hosts.insert(at, host);
            }
        }
        for &f in &problem.task_files[task] {
            if let Err(at) = self.file_ready[host].binary_search_by_key(&f, |e| e.0) {
                let ready = if info.has_file(f) {
                    0.0
                } else {
                    let start = self.file_server_free;
                    let finish = start + problem.file_download_time(host, f);
                    self.file_server_free = finish;
                    self.file_downloads.push(Download {
                        host,
                        item: f,
                        start,
                        finish,
                        source: DownloadSource::Origin,
                    });
                    finish
                };
                self.file_ready[host].insert(at, (f, ready));
            }
        }
        let estimate = self.estimate(task, vcpu, slotting);
        self.occupy(
            vcpu,
            Slot {
                start: estimate.start,
                finish: estimate.finish,
            },
        );
        self.vcpu_work[vcpu] += estimate.finish - estimate.start;
        if let Err(at) = self.vcpu_types[vcpu].binary_search(&sf) {
            self.vcpu_types[vcpu].insert(at, sf);
            let vcpus = &mut self.type_vcpus[sf];
            if let Err(at) = vcpus.binary_search(&vcpu) {
                vcpus.insert(at, vcpu);
            }
        }
        self.placed[task] = Some(Assignment {
            vcpu,
            start: estimate.start,
            finish: estimate.finish,
        });
        estimate
    }

    /// Marks `vcpu` (and its host) busy during `slot`.
    fn occupy(&mut self, vcpu: VcpuId, slot: Slot) {
        let host = self.problem.host_of(vcpu);
        self.vcpu_busy[vcpu].insert(slot);
        insert_sorted(&mut self.host_busy[host], slot);
        let finishes = &mut self.host_finishes[host];
        let at = finishes.partition_point(|&f| f <= slot.finish);
        finishes.insert(at, slot.finish);
        self.host_longest[host] = self.host_longest[host].max(slot.finish - slot.start);
    }

    /// The earliest start at or after `ready` where the vCPU is idle for `duration` and the
    /// host stays within its load limit.
    fn earliest_start(
        &self,
        vcpu: VcpuId,
        host: HostId,
        ready: f64,
        duration: f64,
        slotting: Slotting,
        host_limit: HostLimit,
    ) -> f64 {
        let busy = &self.vcpu_busy[vcpu];
        let slots = busy.slots();
        let lower = match slotting {
            Slotting::Insertion => ready,
            Slotting::Append => slots.last().map_or(ready, |s| ready.max(s.finish)),
        };
        let info = &self.problem.hosts[host];
        if info.max_concurrent >= info.vcpus.len() || host_limit == HostLimit::Ignored {
            // The limit cannot bind: one task per vCPU already keeps the host within it.
            return first_gap(busy, lower, duration);
        }
        // Candidates: `lower` and every later finish on the host (the vCPU's own slots are
        // among the host's), in increasing order; the first where the vCPU is idle and the
        // host below its limit for the whole run wins. When a vCPU slot blocks a candidate,
        // it blocks every later candidate it still overlaps: those are skipped at once, and
        // so are the candidates in the gaps after it that the gap index proves too short. When
        // the host is full at some instant of the run, the candidates up to it are skipped.
        let finishes = &self.host_finishes[host];
        let from = finishes.partition_point(|&f| f < lower);
        let mut next = from;
        let mut t = lower;
        loop {
            match blocking_slot(slots, t, duration) {
                None => match self.host_load(host, t, duration, info.max_concurrent) {
                    HostLoad::Below => return t,
                    HostLoad::Full { until: None } => {}
                    HostLoad::Full { until: Some(p) } => {
                        next += finishes[next..].partition_point(|&f| f <= p);
                    }
                },
                Some(j) => {
                    let until = slots[busy.last_too_short(j, duration)].finish;
                    next += finishes[next..].partition_point(|&f| until > f + EPS);
                }
            }
            match finishes.get(next) {
                Some(&f) => {
                    t = f;
                    next += 1;
                }
                // After every busy slot of the host nothing is running; unreachable in
                // practice.
                None => return finishes[from..].last().copied().unwrap_or(lower),
            }
        }
    }

    /// The host's slots that may overlap `[t, t + duration)`: those starting before its end
    /// and no earlier than the host's longest slot before `t` (with a margin far above
    /// rounding).
    fn host_window(&self, host: HostId, t: f64, duration: f64) -> &[Slot] {
        let slots = &self.host_busy[host];
        let end = slots.partition_point(|s| s.start < t + duration.max(EPS));
        let longest = self.host_longest[host];
        let earliest = t - longest - 1e-6 * (1.0 + t.abs() + longest);
        let begin = slots[..end].partition_point(|s| s.start < earliest);
        &slots[begin..end]
    }

    /// Is [`max_overlap_with`] the host's slots within `[t, t + duration)` below `limit`? Fewer
    /// overlapping slots than `limit` answer without the sweep. When the host is certainly
    /// full at an instant `p` of the run ([`host_full_at`]) the answer is no without the
    /// sweep, and every later candidate start up to `p` is no as well.
    fn host_load(&self, host: HostId, t: f64, duration: f64, limit: usize) -> HostLoad {
        let window = self.host_window(host, t, duration);
        let overlapping = window
            .iter()
            .filter(|s| overlaps(s.start, s.finish, t, duration))
            .count();
        if overlapping < limit {
            return HostLoad::Below;
        }
        let mut events = self.events.borrow_mut();
        if let Some(p) = host_full_at(&mut events, window, t, duration, limit) {
            return HostLoad::Full { until: Some(p) };
        }
        let intervals = window.iter().map(|s| (s.start, s.finish));
        if max_overlap_with(&mut events, intervals, t, duration) < limit {
            HostLoad::Below
        } else {
            HostLoad::Full { until: None }
        }
    }

    /// Turns the timeline into the output schedule.
    pub(crate) fn into_schedule(self, algorithm: &str) -> Schedule {
        let problem = self.problem;
        let assignments = self
            .placed
            .iter()
            .map(|a| {
                a.unwrap_or(Assignment {
                    vcpu: 0,
                    start: f64::NAN,
                    finish: f64::NAN,
                })
            })
            .collect();
        let mut schedule = Schedule {
            algorithm: algorithm.to_owned(),
            assignments,
            image_downloads: self.image_downloads,
            file_downloads: self.file_downloads,
        };
        if self.planning == Awareness::ComputeOnly {
            // The plan's times ignored the downloads; the real ones wait for them.
            let times = crate::simulate::replay(problem, &schedule);
            for (a, (start, finish)) in schedule.assignments.iter_mut().zip(times) {
                a.start = start;
                a.finish = finish;
            }
        }
        schedule
    }
}

/// [`Timeline::host_load`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum HostLoad {
    /// A task may start at `t`.
    Below,
    /// It may not; nor at any later candidate up to `until`.
    Full { until: Option<f64> },
}

/// The latest instant `p` of the run `[t, t + duration)` (short of its end by more than the
/// slack of [`overlaps`] and its rounding) at which at least `limit` of the `window`'s slots
/// have started and run on past `p` by more than that slack, or `None`. A run starting at any
/// `t'` in `[t, p]` covers `p` (it ends no earlier than the run from `t`), those slots overlap
/// it and all run at `p` in its [`max_overlap_with`] sweep: the load limit fails at every such
/// start.
fn host_full_at(
    events: &mut Vec<(f64, i32)>,
    window: &[Slot],
    t: f64,
    duration: f64,
    limit: usize,
) -> Option<f64> {
    let cap = t + duration - 2.0 * EPS - 1e-12 * (1.0 + (t + duration).abs());
    if cap.is_nan() || cap < t {
        return None;
    }
    events.clear();
    for s in window.iter().filter(|s| s.start <= cap) {
        let from = s.start.max(t);
        let until = s.finish - 2.0 * EPS - 1e-12 * (1.0 + s.finish.abs());
        // `s.start <= from` leaves out a NaN start, which the sweep never counts.
        if s.start <= from && from < until {
            events.push((from, 1));
            events.push((until, -1));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The count at an instant: every event at or before it applied.
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (mut running, mut i, mut full_at) = (0_i64, 0, None);
    while let Some(&(time, _)) = events.get(i).filter(|e| e.0 <= cap) {
        while let Some(&(_, delta)) = events.get(i).filter(|e| e.0 == time) {
            running += i64::from(delta);
            i += 1;
        }
        if running >= limit {
            full_at = Some(time);
        }
    }
    if running >= limit {
        full_at = Some(cap);
    }
    full_at
}

fn insert_sorted(slots: &mut Vec<Slot>, slot: Slot) {
    let at = slots.partition_point(|s| s.start <= slot.start);
    slots.insert(at, slot);
}

/// First time at or after `lower` with `duration` idle on a vCPU (slots sorted, disjoint).
/// The gap index skips slots whose gap before them is too short for any start in it: the
/// slot-by-slot walk would only have moved `t` to their finishes (sorted when the index is
/// on), so `t` becomes the last skipped finish.
fn first_gap(busy: &VcpuSlots, lower: f64, duration: f64) -> f64 {
    let slots = busy.slots();
    let mut t = lower;
    // Skip slots that end before `lower`; they are sorted by start and disjoint, so by finish.
    let mut i = slots.partition_point(|s| s.finish <= lower + EPS);
    while let Some(slot) = slots.get(i) {
        if t + duration <= slot.start + EPS {
            return t;
        }
        t = t.max(slot.finish);
        let k = busy.last_too_short(i, duration);
        if k > i {
            t = t.max(slots[k].finish);
        }
        i = k + 1;
    }
    t
}

/// The index of the vCPU slot that keeps the vCPU from being idle for `duration` from `t`
/// (the first slot ending after `t`, if it starts before the run would end), or `None`.
/// Every later `t'` with `t' + EPS` still before that slot's finish is blocked by it.
fn blocking_slot(slots: &[Slot], t: f64, duration: f64) -> Option<usize> {
    let first = slots.partition_point(|s| s.finish <= t + EPS);
    slots.get(first).and_then(|s| {
        // Not `s.start >= t + duration - EPS` (NaN included, as `is_idle` read it).
        let fits = matches!(
            s.start.partial_cmp(&(t + duration - EPS)),
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        );
        (!fits).then_some(first)
    })
}

/// Does `[start, finish)` run at some moment of `[t, t + duration)` (at `t`, for an instant)?
fn overlaps(start: f64, finish: f64, t: f64, duration: f64) -> bool {
    if duration <= EPS {
        start <= t + EPS && finish > t + EPS
    } else {
        start < t + duration - EPS && finish > t + EPS
    }
}

/// The largest number of host slots running at once within `[t, t + duration)`.
#[cfg(test)]
pub(crate) fn max_overlap_of(intervals: &[(f64, f64)], t: f64, duration: f64) -> usize {
    max_overlap_with(&mut Vec::new(), intervals.iter().copied(), t, duration)
}

/// [`max_overlap_with`] with a reusable event buffer.
pub(crate) fn max_overlap_with(
    events: &mut Vec<(f64, i32)>,
    intervals: impl Iterator<Item = (f64, f64)>,
    t: f64,
    duration: f64,
) -> usize {
    let end = t + duration;
    events.clear();
    for (start, finish) in intervals {
        if overlaps(start, finish, t, duration) {
            events.push((start.max(t), 1));
            events.push((finish.min(end.max(t + EPS)), -1));
        }
    }
    // Ends sort before starts at the same instant: back-to-back tasks do not overlap.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut running, mut peak) = (0_i32, 0_i32);
    for &(_, delta) in events.iter() {
        running += delta;
        peak = peak.max(running);
    }
    usize::try_from(peak).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::problem::DownloadModel;

    /// The load-limit check alone: the window's overlaps, swept.
    fn host_below_limit(
        timeline: &Timeline<'_>,
        host: HostId,
        t: f64,
        duration: f64,
        limit: usize,
    ) -> bool {
        let window = timeline.host_window(host, t, duration);
        let intervals: Vec<(f64, f64)> = window.iter().map(|s| (s.start, s.finish)).collect();
        max_overlap_of(&intervals, t, duration) < limit
    }

    /// The vCPU search before the gap index: slot by slot.
    fn first_gap_walk(slots: &[Slot], lower: f64, duration: f64) -> f64 {
        let mut t = lower;
        let first = slots.partition_point(|s| s.finish <= lower + EPS);
        for slot in &slots[first..] {
            if t + duration <= slot.start + EPS {
                return t;
            }
            t = t.max(slot.finish);
        }
        t
    }

    /// [`Timeline::earliest_start`] before the gap index and the full-host skip: a blocking
    /// vCPU slot skips only the candidates it covers itself, a full host none.
    fn earliest_start_walk(
        timeline: &Timeline<'_>,
        vcpu: VcpuId,
        ready: f64,
        duration: f64,
        slotting: Slotting,
        host_limit: HostLimit,
    ) -> f64 {
        let host = timeline.problem.host_of(vcpu);
        let slots = timeline.vcpu_busy[vcpu].slots();
        let lower = match slotting {
            Slotting::Insertion => ready,
            Slotting::Append => slots.last().map_or(ready, |s| ready.max(s.finish)),
        };
        let info = &timeline.problem.hosts[host];
        if info.max_concurrent >= info.vcpus.len() || host_limit == HostLimit::Ignored {
            return first_gap_walk(slots, lower, duration);
        }
        let finishes = &timeline.host_finishes[host];
        let from = finishes.partition_point(|&f| f < lower);
        let mut next = from;
        let mut t = lower;
        loop {
            match blocking_slot(slots, t, duration) {
                None if host_below_limit(timeline, host, t, duration, info.max_concurrent) => {
                    return t;
                }
                None => {}
                Some(j) => {
                    let until = slots[j].finish;
                    next += finishes[next..].partition_point(|&f| until > f + EPS);
                }
            }
            match finishes.get(next) {
                Some(&f) => {
                    t = f;
                    next += 1;
                }
                None => return finishes[from..].last().copied().unwrap_or(lower),
            }
        }
    }

    /// Two networks of two one-vCPU hosts (`h1`, `h2` in `n1` with the repository; `g1`, `g2`
    /// in `n2`), 100 MB images of types `a` and `b`, repository 50 MB/s, 100 MB/s inside a
    /// network, 25 MB/s between: from the repository 2 s to `n1`, 4 s to `n2`.
    fn two_networks(model: DownloadModel) -> Problem {
        let infra = crate::model::Infrastructure::from_toml_str(
            "load_limit = 1.0\nfunction_prefix = \"/fn\"\ninter_network_bandwidth = 25.0\n\
             [[network]]\nname = \"n1\"\nbandwidth = 100.0\n\
             [[network]]\nname = \"n2\"\nbandwidth = 100.0\n\
             [[host]]\nname = \"h1\"\nnetwork = \"n1\"\nvcpu_speeds = [1.0]\n\
             [[host]]\nname = \"h2\"\nnetwork = \"n1\"\nvcpu_speeds = [1.0]\n\
             [[host]]\nname = \"g1\"\nnetwork = \"n2\"\nvcpu_speeds = [1.0]\n\
             [[host]]\nname = \"g2\"\nnetwork = \"n2\"\nvcpu_speeds = [1.0]\n\
             [image_repository]\nnetwork = \"n1\"\nbandwidth = 50.0\n\
             [file_server]\nnetwork = \"n1\"\nbandwidth = 50.0\n\
             [[image]]\nsf = \"a\"\nsize_mb = 100.0\n[[image]]\nsf = \"b\"\nsize_mb = 100.0\n",
        )
        .expect("valid infrastructure");
        let workflow = crate::model::Workflow::from_toml_str(
            "name = \"w\"\n\
             [[task]]\nname = \"a1\"\nsf = \"a\"\nworkload = 1.0\n\
             [[task]]\nname = \"a2\"\nsf = \"a\"\nworkload = 1.0\n\
             [[task]]\nname = \"b1\"\nsf = \"b\"\nworkload = 1.0\n\
             [[task]]\nname = \"a3\"\nsf = \"a\"\nworkload = 1.0\n\
             [[task]]\nname = \"a4\"\nsf = \"a\"\nworkload = 1.0\n",
        )
        .expect("valid workflow");
        Problem::new(&workflow, &infra)
            .and_then(|p| p.with_download_model(model))
            .expect("valid problem")
    }

    /// a1 on h1, a2 on h2 (same network), b1 on h1, a3 on g1, a4 on g2: the timeline's
    /// schedule.
    fn place_five(problem: &Problem) -> Schedule {
        let mut timeline = Timeline::new(problem, Awareness::Downloads);
        for (task, vcpu) in [(0, 0), (1, 1), (2, 0), (3, 2), (4, 3)] {
            timeline.commit(task, vcpu, Slotting::Insertion);
        }
        timeline.into_schedule("test")
    }

    fn downloads(schedule: &Schedule) -> Vec<(HostId, SfTypeId, f64, f64, DownloadSource)> {
        schedule
            .image_downloads
            .iter()
            .map(|d| (d.host, d.item, d.start, d.finish, d.source))
            .collect()
    }

    #[test]
    fn under_origin_every_image_queues_at_the_repository() {
        let problem = two_networks(DownloadModel::Origin);
        let schedule = place_five(&problem);
        let origin = DownloadSource::Origin;
        assert_eq!(
            downloads(&schedule),
            [
                (0, 0, 0.0, 2.0, origin),
                (1, 0, 2.0, 4.0, origin),
                (0, 1, 4.0, 6.0, origin),
                (2, 0, 6.0, 10.0, origin),
                (3, 0, 10.0, 14.0, origin),
            ]
        );
        assert!(crate::simulate::check(&problem, &schedule).is_ok());
    }

    /// The second host of a network pays the cache hit, not the repository's queue: b1's
    /// image starts at 2 s, right after a1's, not behind a2's.
    #[test]
    fn under_nearest_copy_a_second_host_of_a_network_gets_the_cached_copy() {
        // 100 MB/s cache hits: 1 s inside a network, 4 s across (the path's 25 MB/s).
        let problem = two_networks(DownloadModel::NearestCopy { cache_rate: 100.0 });
        let schedule = place_five(&problem);
        let (n1, n2) = (DownloadSource::Cache(0), DownloadSource::Cache(1));
        let origin = DownloadSource::Origin;
        assert_eq!(
            downloads(&schedule),
            [
                // From the repository: a's first copy, through n1's forwarder.
                (0, 0, 0.0, 2.0, origin),
                // h2 from n1's cache once the copy is complete: 1 s, outside the queue.
                (1, 0, 2.0, 3.0, n1),
                // b1's image is next in the repository's queue.
                (0, 1, 2.0, 4.0, origin),
                // g1: n1's cache (free at 3, 4 s across) finishes at 7, the repository
                // (free at 4, 4 s) at 8: n1's cache.
                (2, 0, 3.0, 7.0, n1),
                // g2: n2's cache has a's copy at 7 (1 s): 8; n1's cache 7 + 4 = 11.
                (3, 0, 7.0, 8.0, n2),
            ]
        );
        assert!(crate::simulate::check(&problem, &schedule).is_ok());
        // A slower cache than the repository loses to an idle repository: at 25 MB/s h2's
        // copy would take 4 s (finish 6) against the repository's 2 s (finish 4).
        let slow = two_networks(DownloadModel::NearestCopy { cache_rate: 25.0 });
        let schedule = place_five(&slow);
        assert_eq!(downloads(&schedule)[1], (1, 0, 2.0, 4.0, origin));
        assert!(crate::simulate::check(&slow, &schedule).is_ok());
    }

    /// The checker verifies a plan under the model it was made with: what the timeline planned
    /// under nearest-copy passes, and each impossible variant of it is refused.
    #[test]
    fn the_checker_refuses_download_timings_the_model_does_not_allow() {
        let problem = two_networks(DownloadModel::NearestCopy { cache_rate: 100.0 });
        let schedule = place_five(&problem);
        let refused = |s: &Schedule, p: &Problem, why: &str| match crate::simulate::check(p, s) {
            Err(crate::Error::InvalidSchedule(msg)) => {
                assert!(msg.contains(why), "{why:?} not in {msg:?}");
            }
            other => panic!("expected a refusal ({why}), got {other:?}"),
        };
        // Checked under the origin model: it has no caches.
        refused(
            &schedule,
            &two_networks(DownloadModel::Origin),
            "download model is origin",
        );
        // The cache download listed before the download that brings the copy.
        let mut early = schedule.clone();
        early.image_downloads.swap(0, 1);
        refused(&early, &problem, "before any copy reached it");
        // g1 cannot use n2's cache before a copy crossed n2's forwarder.
        let mut wrong = schedule.clone();
        wrong.image_downloads[3].source = DownloadSource::Cache(1);
        refused(&wrong, &problem, "before any copy reached it");
        // A download's recorded finish must be the model's (h2 in 0.5 s instead of 1 s).
        let mut fast = schedule.clone();
        fast.image_downloads[1].finish = 2.5;
        refused(&fast, &problem, "the download model has it there at 3 s");
        // A task may not start before its cached image is there (a2 at 2.5 s; it comes at 3).
        let mut premature = schedule.clone();
        premature.assignments[1].start = 2.5;
        premature.assignments[1].finish = 3.5;
        refused(&premature, &problem, "before its image is there");
        // Files come from the file server only.
        let mut problem_with_file = problem;
        problem_with_file.file_names.push("f".into());
        problem_with_file.file_size_mb.push(1.0);
        let mut cached_file = schedule;
        cached_file.file_downloads.push(Download {
            host: 0,
            item: 0,
            start: 0.0,
            finish: 0.02,
            source: DownloadSource::Cache(0),
        });
        refused(
            &cached_file,
            &problem_with_file,
            "files come from the file server",
        );
    }

    #[test]
    fn a_host_uses_only_the_caches_on_its_path_to_the_repository() {
        let problem = two_networks(DownloadModel::nearest_copy());
        // h1 (n1, the repository's network): n1 only; g1 (n2): n2, then n1.
        assert_eq!(problem.caches_on_path(0).collect::<Vec<_>>(), [0]);
        assert_eq!(problem.caches_on_path(2).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(
            two_networks(DownloadModel::Origin)
                .caches_on_path(2)
                .count(),
            0
        );
        // A cache off the host's path: h2 (in n1) from n2's cache.
        let mut schedule = place_five(&problem);
        // Under the measured rate (25 MB/s) h2's image came from the repository; claim n2.
        schedule.image_downloads[1].source = DownloadSource::Cache(1);
        match crate::simulate::check(&problem, &schedule) {
            Err(crate::Error::InvalidSchedule(msg)) => {
                assert!(msg.contains("not on its path"), "{msg}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Bad rates are refused.
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(
                two_networks(DownloadModel::Origin)
                    .with_download_model(DownloadModel::NearestCopy { cache_rate: rate })
                    .is_err()
            );
            assert!(DownloadModel::from_name("nearest-copy", rate).is_err());
        }
        assert!(DownloadModel::from_name("closest", 25.0).is_err());
        assert_eq!(
            DownloadModel::from_name("origin", f64::NAN).ok(),
            Some(DownloadModel::Origin)
        );
    }

    /// One host of four vCPUs under several load limits; tasks of random lengths (ties, zero
    /// and sub-`EPS` lengths included) placed at random ready times: every search gives the
    /// walk's float.
    #[test]
    fn the_skipping_searches_find_what_the_slot_walk_finds() {
        for (seed, max_concurrent) in [(1, 3), (2, 2), (3, 4), (4, 3), (5, 1)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let tasks = 400;
            let exec: Vec<Vec<f64>> = (0..tasks)
                .map(|_| {
                    (0..4)
                        .map(|_| match rng.random_range(0..10) {
                            0 => 0.0,
                            1 => 1e-10,
                            2..=5 => f64::from(rng.random_range(1..12_u32)) * 0.25,
                            _ => rng.random_range(0.01..6.0),
                        })
                        .collect()
                })
                .collect();
            let mut problem = Problem::from_cost_matrix(&exec, &[]).expect("valid matrix");
            problem.hosts.truncate(1);
            problem.hosts[0].vcpus = vec![0, 1, 2, 3];
            problem.hosts[0].max_concurrent = max_concurrent;
            for v in &mut problem.vcpus {
                v.host = 0;
            }
            let mut timeline = Timeline::new(&problem, Awareness::ComputeOnly);
            let mut horizon: f64 = 1.0;
            for task in 0..tasks {
                for _ in 0..4 {
                    let ready = match rng.random_range(0..4) {
                        0 => 0.0,
                        1 => f64::from(rng.random_range(0..40_u32)) * 0.25,
                        _ => rng.random_range(0.0..horizon),
                    };
                    for vcpu in 0..4 {
                        let duration = problem.exec_time(task, vcpu);
                        for slotting in [Slotting::Insertion, Slotting::Append] {
                            for limit in [HostLimit::Enforced, HostLimit::Ignored] {
                                let got = timeline
                                    .earliest_start(vcpu, 0, ready, duration, slotting, limit);
                                let want = earliest_start_walk(
                                    &timeline, vcpu, ready, duration, slotting, limit,
                                );
                                assert_eq!(
                                    got.to_bits(),
                                    want.to_bits(),
                                    "seed {seed}, task {task}, vCPU {vcpu}, ready {ready}, \
                                     duration {duration}: {got} vs {want}"
                                );
                            }
                        }
                    }
                }
                // Place it at a random ready time, as an algorithm would.
                let vcpu = rng.random_range(0..4);
                let ready = rng.random_range(0.0..horizon);
                let duration = problem.exec_time(task, vcpu);
                let start = timeline.earliest_start(
                    vcpu,
                    0,
                    ready,
                    duration,
                    Slotting::Insertion,
                    HostLimit::Enforced,
                );
                timeline.occupy(
                    vcpu,
                    Slot {
                        start,
                        finish: start + duration,
                    },
                );
                horizon = horizon.max(start + duration);
            }
        }
    }
}

//! A userspace delay line for links, where the kernel has no `sch_netem`.
//!
//! Each delayed link is a pair of TAP devices, one moved into each end's namespace under the
//! link's interface name, so the nodes see an Ethernet interface as on a veth link. One
//! emulator process per testbed (`nfwd topo link-emulator SPEC`, started by `up`, ended by
//! `down`) copies every frame from one tap to the other after the link's one-way delay. Loss
//! (an nft rule) and rate (tbf) still shape each tap's egress inside the namespaces, exactly
//! as on a veth link; `nfwd topo link A B down` sets the tap down as it would the veth.
//!
//! Each direction holds at most [`Spec::queue_frames`] frames in flight (as netem's `limit`):
//! a frame that finds it full is dropped and counted. Frames leave from one thread, woken by
//! a futex timeout: at their due time or tens of microseconds later, never earlier.
//!
//! A link with jitter draws each frame's delay uniformly within `delay ± jitter` (a seeded
//! [`ChaCha8Rng`] per direction), but a frame never leaves before the one read before it in
//! its direction — as on a real link, where one wire carries frames in order (netem, unlike
//! this, reorders with jitter). Held back so, a frame's delay is still within the bounds: the
//! frame before it left no later than its own arrival plus `delay + jitter`.
//!
//! The emulator writes its counters to [`STATS_FILE`] every second and ends by itself
//! once the testbed's state directory is gone, so a `down` that could not signal it (a state
//! lost, say) leaves nothing running.

use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::time::Instant;

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::net;

/// The emulator's description of its links, in the testbed's directory.
pub const SPEC_FILE: &str = "link-emulator.toml";
/// Written once every tap is in place.
pub const READY_FILE: &str = "link-emulator.ready";
/// Counters, rewritten every second.
pub const STATS_FILE: &str = "link-emulator.stats.toml";
/// The emulator's log.
pub const LOG_FILE: &str = "link-emulator.log";

/// netem's default queue is 1,000 packets; the launcher's netem links use 10,000, and so do
/// the delay lines.
pub const DEFAULT_QUEUE_FRAMES: usize = 10_000;
/// A one-way delay longer than this is refused (a typing error, not a link).
pub const MAX_DELAY: Duration = Duration::from_secs(10);
/// Linux interface names are at most 15 bytes.
const IFNAMSIZ: usize = 15;
/// A frame read from a tap: the MTU (1,500 unless set otherwise) plus the Ethernet header;
/// 64 KiB covers any MTU a tap can be given.
const FRAME_BUFFER: usize = 65_536;

/// One link carried by the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayedLink {
    /// The interface name at both ends (`l<index>`).
    pub interface: String,
    /// The namespace of end a.
    pub a_ns: String,
    /// The namespace of end b.
    pub b_ns: String,
    /// One-way delay, microseconds (both directions).
    pub delay_us: u64,
    /// Each frame's delay is drawn within `delay_us ± jitter_us` (at most `delay_us`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub jitter_us: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// What `nfwd topo link-emulator` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The links.
    pub links: Vec<DelayedLink>,
    /// The longest queue of one direction of one link, frames.
    pub queue_frames: usize,
    /// Seeds the jitter's draws (each direction of each link its own stream), so a run can
    /// be repeated. Absent in specs written before jitter: 0.
    #[serde(default)]
    pub seed: u64,
}

impl Spec {
    /// Refuses what the emulator cannot carry.
    pub fn check(&self) -> Result<()> {
        if self.queue_frames == 0 {
            return Err(Error::invalid("link emulator: queue_frames must be > 0"));
        }
        for l in &self.links {
            if l.interface.is_empty()
                || l.interface.len() > IFNAMSIZ
                || !l.interface.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(Error::invalid(format!(
                    "link emulator: bad interface name {:?}",
                    l.interface
                )));
            }
            if Duration::from_micros(l.delay_us) > MAX_DELAY {
                return Err(Error::invalid(format!(
                    "link emulator: {} delay {} us is above {} s",
                    l.interface,
                    l.delay_us,
                    MAX_DELAY.as_secs()
                )));
            }
            if l.jitter_us > l.delay_us {
                return Err(Error::invalid(format!(
                    "link emulator: {} jitter {} us is above its delay {} us",
                    l.interface, l.jitter_us, l.delay_us
                )));
            }
        }
        Ok(())
    }
}

/// Each frame's due time on one direction of one link: its arrival plus a delay drawn
/// uniformly within `delay ± jitter`, but never before the due time of the frame before it
/// (frames of one direction are not reordered). Pure but for the seeded generator.
#[derive(Debug)]
pub struct DelayDraw {
    delay: Duration,
    jitter: Duration,
    last_due: Option<Instant>,
    rng: ChaCha8Rng,
}

impl DelayDraw {
    /// A direction delaying by `delay ± jitter` (`jitter` above `delay` is taken as `delay`),
    /// its draws from `seed`.
    #[must_use]
    pub fn new(delay: Duration, jitter: Duration, seed: u64) -> Self {
        Self {
            delay,
            jitter: jitter.min(delay),
            last_due: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// When a frame read at `now` is due.
    pub fn due(&mut self, now: Instant) -> Instant {
        let drawn = if self.jitter.is_zero() {
            self.delay
        } else {
            let j = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX / 2);
            // delay - jitter + [0, 2 jitter]: uniform within delay ± jitter, never negative.
            (self.delay - self.jitter) + Duration::from_nanos(self.rng.random_range(0..=2 * j))
        };
        let due = (now + drawn).max(self.last_due.unwrap_or(now));
        self.last_due = Some(due);
        due
    }
}

/// Frames in flight on every link, each due at its arrival plus its link's delay, leaving in
/// order of due time (arrival order among equals). Pure (no I/O): the driver pushes what
/// it reads, waits until [`Self::next_due`] and pops.
#[derive(Debug, Default)]
pub struct DelayQueue<T> {
    heap: BinaryHeap<InFlight<T>>,
    seq: u64,
}

#[derive(Debug)]
struct InFlight<T> {
    due: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for InFlight<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl<T> Eq for InFlight<T> {}
impl<T> PartialOrd for InFlight<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for InFlight<T> {
    // Reversed: the heap's top is the earliest due.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

impl<T> DelayQueue<T> {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Holds `item` until `due`.
    pub fn push(&mut self, due: Instant, item: T) {
        self.seq += 1;
        self.heap.push(InFlight {
            due,
            seq: self.seq,
            item,
        });
    }

    /// When the earliest item is due, if any is held.
    #[must_use]
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|f| f.due)
    }

    /// The earliest item if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.heap.peek().is_some_and(|f| f.due <= now) {
            self.heap.pop().map(|f| f.item)
        } else {
            None
        }
    }

    /// Items held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Counters of one direction of one link.
#[derive(Debug, Default)]
struct DirectionCounters {
    /// Frames read and not yet written: the queue's length, bounded by `queue_frames`.
    queued: AtomicUsize,
    forwarded: AtomicU64,
    queue_full: AtomicU64,
    write_errors: AtomicU64,
    read_errors: AtomicU64,
}

/// Counters of one direction of one link, as written to [`STATS_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionStats {
    /// Frames delivered to the far end.
    pub forwarded: u64,
    /// Frames dropped because the direction's queue was full.
    pub queue_full: u64,
    /// Frames the far tap refused (it is down: a cut link).
    pub write_errors: u64,
    /// Failed reads from the near tap.
    pub read_errors: u64,
}

impl DirectionCounters {
    fn snapshot(&self) -> DirectionStats {
        DirectionStats {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            queue_full: self.queue_full.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            read_errors: self.read_errors.load(Ordering::Relaxed),
        }
    }
}

/// One link's counters in [`STATS_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// The interface name.
    pub interface: String,
    /// From end a to end b.
    pub a_to_b: DirectionStats,
    /// From end b to end a.
    pub b_to_a: DirectionStats,
}

/// The whole [`STATS_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// The emulator's pid.
    pub pid: u32,
    /// Every link.
    pub links: Vec<LinkStats>,
}

impl Stats {
    /// Reads the counters the emulator of the testbed in `dir` last wrote.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(STATS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| Error::Parse {
            path: path.display().to_string(),
            source,
        })
    }
}

/// Starts the emulator for `spec` from the testbed directory `dir` and waits until its taps
/// are in place; returns its pid. `nfwd` is the binary that runs it.
pub fn start(dir: &Path, nfwd: &Path, spec: &Spec, timeout: Duration) -> Result<u32> {
    spec.check()?;
    let spec_path = dir.join(SPEC_FILE);
    let text = toml::to_string(spec).map_err(|source| Error::Serialize {
        what: "link emulator spec",
        source,
    })?;
    crate::launch::write(&spec_path, &text)?;
    let ready = dir.join(READY_FILE);
    let _ = std::fs::remove_file(&ready);
    let log = dir.join(LOG_FILE);
    let mut cmd = Command::new(nfwd);
    cmd.args(["topo", "link-emulator"]).arg(&spec_path);
    let pid = crate::launch::spawn_detached(&mut cmd, &log)?;
    let until = Instant::now() + timeout;
    loop {
        if ready.exists() {
            return Ok(pid);
        }
        let alive = net::alive(i32::try_from(pid).unwrap_or(0));
        if !alive || Instant::now() >= until {
            if alive {
                net::signal(
                    i32::try_from(pid).unwrap_or(0),
                    rustix::process::Signal::KILL,
                );
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Error::Unsupported(format!(
                "the link emulator {} (log {}): {}",
                if alive {
                    "did not get ready in time"
                } else {
                    "ended"
                },
                log.display(),
                text.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts the delay line of a running testbed again after its process died (the watcher
/// does, [`crate::watch`]), from the spec `up` wrote in the testbed's directory; records the
/// new pid in `state` (saved) and returns it.
///
/// The taps are not persistent: the kernel removed them, with their addresses and `tbf`
/// qdiscs, when the dead process's last descriptor closed. So the new process makes them
/// again, and each end is addressed and shaped again as `up` did (same addresses, so the
/// forwarders' faces, bound to them, carry on); a link cut at the time is set down again.
/// The `nft` loss rules match by interface name and stayed in the namespaces; shaping
/// replaces them rather than adding a second.
pub fn relaunch(
    state_root: &Path,
    state: &mut crate::launch::State,
    t: &crate::model::Topology,
    nfwd: &Path,
    timeout: Duration,
) -> Result<u32> {
    let dir = state_root.join(&state.name);
    let spec_path = dir.join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).map_err(|source| Error::Io {
        path: spec_path.clone(),
        source,
    })?;
    let spec: Spec = toml::from_str(&text).map_err(|source| Error::Parse {
        path: spec_path.display().to_string(),
        source,
    })?;
    // The taps leave with the dead process's descriptors, at once as a rule; a new tap
    // cannot take an interface name still held.
    let until = Instant::now() + Duration::from_secs(2);
    while spec.links.iter().any(|l| tap_exists(&l.a_ns, &l.interface)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The dead line's log, kept for whoever asks why it died.
    let log = dir.join(LOG_FILE);
    let _ = std::fs::rename(&log, dir.join(format!("{LOG_FILE}.previous")));
    let pid = start(&dir, nfwd, &spec, timeout)?;
    // Recorded at once, so `down` ends it even if what follows fails.
    state.link_emulator_pid = Some(pid);
    state.save(state_root)?;
    // A line whose links could not be set up again is ended: the next look finds it dead
    // and starts over, rather than leaving links with no address.
    if let Err(e) = readdress(state, t, &spec) {
        stop(pid);
        return Err(e);
    }
    Ok(pid)
}

/// Addresses and shapes the ends of the delay line's links as `up` did, on taps just made.
fn readdress(state: &crate::launch::State, t: &crate::model::Topology, spec: &Spec) -> Result<()> {
    // The delay line exists only where netem does not (`Shaper::probe`).
    let shaper = net::Shaper {
        netem: false,
        delay_line: true,
        best_effort: false,
    };
    let placement = state.placement.placement();
    for l in &spec.links {
        let Some(i) = state.links.iter().position(|s| s.interface == l.interface) else {
            return Err(Error::State(format!(
                "the delay line's {} is no link of {}",
                l.interface, state.name
            )));
        };
        let launched = &state.links[i];
        let link = t
            .links
            .get(i)
            .filter(|k| k.a == launched.a && k.b == launched.b)
            .ok_or_else(|| {
                Error::State(format!(
                    "link {}-{} is not link {i} of the topology as launched",
                    launched.a, launched.b
                ))
            })?;
        let (a, b) = (state.node(&launched.a)?, state.node(&launched.b)?);
        crate::placement::netns::address_link(i, &a.netns, &b.netns)?;
        if launched.down {
            for ns in [&a.netns, &b.netns] {
                net::ip(&["-n", ns, "link", "set", &l.interface, "down"])?;
            }
        }
        placement.shape(a, &l.interface, link, &shaper)?;
        placement.shape(b, &l.interface, link, &shaper)?;
    }
    Ok(())
}

fn tap_exists(ns: &str, interface: &str) -> bool {
    net::ip(&["-n", ns, "link", "show", "dev", interface]).is_ok()
}

/// Ends the emulator `pid` (left alone if that pid now runs something else).
pub fn stop(pid: u32) {
    net::stop_helper(pid, "link-emulator");
}

/// Runs the emulator described by the file `spec_path` until the file is removed (or the
/// process is signalled): `nfwd topo link-emulator`.
pub fn run(spec_path: &Path) -> Result<()> {
    if !net::is_root() {
        return Err(Error::Unsupported(
            "the link emulator needs root (TAP devices, namespaces)".into(),
        ));
    }
    let text = std::fs::read_to_string(spec_path).map_err(|source| Error::Io {
        path: spec_path.to_owned(),
        source,
    })?;
    let spec: Spec = toml::from_str(&text).map_err(|source| Error::Parse {
        path: spec_path.display().to_string(),
        source,
    })?;
    spec.check()?;
    let dir = spec_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
    rt.block_on(emulate(spec, spec_path.to_owned(), dir))
}

/// Makes a TAP device in this (the root) namespace and moves it into `ns` as `interface`.
fn tap_into(ns: &str, interface: &str) -> Result<tokio_tun::Tun> {
    let mut taps = tokio_tun::Tun::builder()
        .tap()
        .build()
        .map_err(|e| Error::Unsupported(format!("creating a TAP device: {e}")))?;
    let tap = taps
        .pop()
        .ok_or_else(|| Error::Unsupported("creating a TAP device: none made".into()))?;
    // Moved and renamed in one request: the kernel's name for it ("tapN") exists only here.
    net::ip(&[
        "link",
        "set",
        "dev",
        tap.name(),
        "netns",
        ns,
        "name",
        interface,
    ])?;
    Ok(tap)
}

/// A frame on its way: where it goes and whose counters it moves.
struct Frame {
    to: Arc<tokio_tun::Tun>,
    counters: Arc<DirectionCounters>,
    bytes: Bytes,
}

async fn emulate(spec: Spec, spec_path: PathBuf, dir: PathBuf) -> Result<()> {
    // Frames leave from a thread of their own, woken by a futex timeout (tens of microseconds
    // late) rather than by tokio's millisecond timer wheel, which would add up to a
    // millisecond to every link.
    let (tx, rx) = mpsc::channel::<(Instant, Frame)>();
    let writer = std::thread::Builder::new()
        .name("delay-line".into())
        .spawn(move || deliver(&rx))
        .map_err(|e| Error::Unsupported(format!("starting the delay line's thread: {e}")))?;
    let mut counters = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (k, l) in spec.links.iter().enumerate() {
        let a = Arc::new(tap_into(&l.a_ns, &l.interface)?);
        let b = Arc::new(tap_into(&l.b_ns, &l.interface)?);
        let delay = Duration::from_micros(l.delay_us);
        let jitter = Duration::from_micros(l.jitter_us);
        let ab = Arc::new(DirectionCounters::default());
        let ba = Arc::new(DirectionCounters::default());
        for (d, (from, to, c)) in [(&a, &b, &ab), (&b, &a, &ba)].into_iter().enumerate() {
            // A stream of its own per direction: the seed moved by an odd constant per
            // direction, so no two streams of one testbed coincide.
            let stream = (2 * k + d) as u64;
            let seed = spec
                .seed
                .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            tasks.spawn(carry(
                Arc::clone(from),
                Arc::clone(to),
                DelayDraw::new(delay, jitter, seed),
                spec.queue_frames,
                Arc::clone(c),
                tx.clone(),
            ));
        }
        counters.push((l.interface.clone(), ab, ba));
    }
    drop(tx);
    let ready = dir.join(READY_FILE);
    std::fs::write(&ready, std::process::id().to_string()).map_err(|source| Error::Io {
        path: ready,
        source,
    })?;
    eprintln!(
        "link emulator: {} links, pid {}",
        spec.links.len(),
        std::process::id()
    );
    let stats_path = dir.join(STATS_FILE);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                write_stats(&stats_path, &counters);
                if !spec_path.exists() {
                    eprintln!("link emulator: {} is gone, ending", spec_path.display());
                    return Ok(());
                }
            }
            done = tasks.join_next() => {
                if done.is_none() {
                    // Every direction ended: the taps are gone (their namespaces deleted).
                    write_stats(&stats_path, &counters);
                    let _ = writer.join();
                    eprintln!("link emulator: every link is gone, ending");
                    return Ok(());
                }
            }
        }
    }
}

type LinkCounters = (String, Arc<DirectionCounters>, Arc<DirectionCounters>);

fn write_stats(path: &Path, counters: &[LinkCounters]) {
    let stats = Stats {
        pid: std::process::id(),
        links: counters
            .iter()
            .map(|(interface, ab, ba)| LinkStats {
                interface: interface.clone(),
                a_to_b: ab.snapshot(),
                b_to_a: ba.snapshot(),
            })
            .collect(),
    };
    // Atomic (written aside and renamed), so `status` never reads half a file; a failed
    // write is tried again at the next tick.
    if let Ok(text) = toml::to_string(&stats) {
        let _ = crate::launch::write(path, &text);
    }
}

/// Reads frames from `from` and hands each to the delivering thread, due when `draw` says,
/// unless `limit` frames of this direction are already in flight. Ends when `from` keeps
/// failing (its device is gone) or the delivering thread has ended.
async fn carry(
    from: Arc<tokio_tun::Tun>,
    to: Arc<tokio_tun::Tun>,
    mut draw: DelayDraw,
    limit: usize,
    counters: Arc<DirectionCounters>,
    deliver: mpsc::Sender<(Instant, Frame)>,
) {
    let mut buf = vec![0u8; FRAME_BUFFER];
    let mut failures_in_a_row = 0u32;
    loop {
        match from.recv(&mut buf).await {
            Ok(n) => {
                failures_in_a_row = 0;
                if counters.queued.load(Ordering::Relaxed) >= limit {
                    counters.queue_full.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                counters.queued.fetch_add(1, Ordering::Relaxed);
                // Drawn only for frames kept, so a dropped frame does not hold the next back.
                let due = draw.due(Instant::now());
                let frame = Frame {
                    to: Arc::clone(&to),
                    counters: Arc::clone(&counters),
                    bytes: Bytes::copy_from_slice(buf.get(..n).unwrap_or_default()),
                };
                if deliver.send((due, frame)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                counters.read_errors.fetch_add(1, Ordering::Relaxed);
                failures_in_a_row += 1;
                if failures_in_a_row >= 100 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The delivering thread: holds every frame until it is due, then writes it to its tap.
/// Ends when every reader has ended.
fn deliver(rx: &mpsc::Receiver<(Instant, Frame)>) {
    let mut queue = DelayQueue::new();
    loop {
        let received = match queue.next_due() {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(due) => rx.recv_timeout(due.saturating_duration_since(Instant::now())),
        };
        match received {
            Ok((due, frame)) => queue.push(due, frame),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while let Ok((due, frame)) = rx.try_recv() {
            queue.push(due, frame);
        }
        let now = Instant::now();
        while let Some(frame) = queue.pop_due(now) {
            frame.counters.queued.fetch_sub(1, Ordering::Relaxed);
            // A tap that is down (a cut link) refuses the write: the frame is lost, as on a
            // cut wire.
            match frame.to.try_send(&frame.bytes) {
                Ok(_) => frame.counters.forwarded.fetch_add(1, Ordering::Relaxed),
                Err(_) => frame.counters.write_errors.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_leave_in_order_of_due_time_whatever_their_link() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = DelayQueue::new();
        // A 10 ms link's frame, then a 2 ms link's frame read 3 ms later: the second is due
        // first.
        q.push(t0 + ms(10), "slow");
        q.push(t0 + ms(3) + ms(2), "fast");
        q.push(t0 + ms(10), "slow, second");
        assert_eq!(q.next_due(), Some(t0 + ms(5)));
        assert_eq!(q.pop_due(t0 + ms(4)), None);
        assert_eq!(q.pop_due(t0 + ms(5)), Some("fast"));
        assert_eq!(q.pop_due(t0 + ms(9)), None);
        // Equal due times leave in arrival order.
        assert_eq!(q.pop_due(t0 + ms(10)), Some("slow"));
        assert_eq!(q.pop_due(t0 + ms(10)), Some("slow, second"));
        assert!(q.is_empty());
        assert_eq!(q.next_due(), None);
    }

    #[test]
    fn specs_with_bad_names_delays_or_queues_are_refused() {
        let link = |interface: &str, delay_us| DelayedLink {
            interface: interface.into(),
            a_ns: "a".into(),
            b_ns: "b".into(),
            delay_us,
            jitter_us: 0,
        };
        let spec = |links, queue_frames| Spec {
            links,
            queue_frames,
            seed: 0,
        };
        assert!(spec(vec![link("l0", 5_000)], 10).check().is_ok());
        assert!(spec(vec![link("l0", 5_000)], 0).check().is_err());
        assert!(spec(vec![link("", 5_000)], 10).check().is_err());
        assert!(spec(vec![link("l0 x", 5_000)], 10).check().is_err());
        assert!(
            spec(vec![link("a23456789012345x", 5_000)], 10)
                .check()
                .is_err()
        );
        assert!(spec(vec![link("l0", 11_000_000)], 10).check().is_err());
        let jittery = |jitter_us| DelayedLink {
            jitter_us,
            ..link("l0", 5_000)
        };
        assert!(spec(vec![jittery(5_000)], 10).check().is_ok());
        assert!(spec(vec![jittery(5_001)], 10).check().is_err());
    }

    #[test]
    fn jittered_delays_stay_within_bounds_and_never_reorder() {
        let ms = Duration::from_millis;
        let (delay, jitter) = (ms(10), ms(4));
        let mut draw = DelayDraw::new(delay, jitter, 7);
        let t0 = Instant::now();
        let mut last = t0;
        let mut delays = Vec::new();
        // Frames 100 us apart (closer than the jitter's spread, so a draw often falls before
        // the previous frame's due time), then some far apart.
        let mut now = t0;
        for i in 0..20_000u64 {
            now += Duration::from_micros(if i % 1000 < 900 { 100 } else { 30_000 });
            let due = draw.due(now);
            let d = due - now;
            assert!(
                d >= delay - jitter && d <= delay + jitter,
                "frame {i}: {d:?}"
            );
            assert!(
                due >= last,
                "frame {i} would leave before the one before it"
            );
            last = due;
            delays.push(d);
        }
        // The draws do spread over the range (not all held at one end).
        let (min, max) = (
            delays.iter().min().copied().unwrap_or_default(),
            delays.iter().max().copied().unwrap_or_default(),
        );
        assert!(min < ms(7) && max > ms(13), "{min:?}..{max:?}");
        // The same seed draws the same delays; no jitter is the constant delay.
        let mut again = DelayDraw::new(delay, jitter, 7);
        let mut other = DelayDraw::new(delay, jitter, 7);
        assert_eq!(again.due(t0), other.due(t0));
        let mut constant = DelayDraw::new(delay, Duration::ZERO, 7);
        assert_eq!(constant.due(t0), t0 + delay);
        // Jitter above the delay is taken as the delay: never due before arrival.
        let mut wide = DelayDraw::new(ms(1), ms(5), 1);
        for i in 0..1000 {
            let now = t0 + ms(i);
            assert!(wide.due(now) >= now);
        }
    }
}

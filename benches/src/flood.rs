//! `nfwd bench --flood` and `nfwd bench --face-teardown`: how the forwarder holds up against
//! an Interest flood from a non-local neighbour, and what closing many faces costs the core.
//!
//! **Flood.** A real daemon — the `nfwd` binary started as a subprocess (`nfwd start`), so that
//! its resident memory is its own and not mixed with the load generator's — with:
//!
//! - a *flooder* in network namespace F, joined to the daemon's namespace by a veth pair: a
//!   separate process (`nfwd bench --flood-worker`, run with `ip netns exec`) sending
//!   distinct-name Interests under `/flood` as fast as it can, from one or more UDP sockets
//!   (each source port is a face of its own to the daemon). `/flood` is routed to a UDP next
//!   hop that never answers (the bench counts what reaches it), so every entry the flood
//!   creates lives its whole lifetime: the worst case for the PIT;
//! - *legitimate consumers* asking 50 Interests/s each for content a producer on the Unix
//!   socket serves: one in network namespace C over UDP (another veth pair, another process,
//!   `nfwd bench --flood-consumer`) and one on the Unix socket (a thread of the bench);
//! - a sampler reading the PIT size (`status/general`) and the daemon's RSS every 250 ms.
//!
//! The run has three phases — baseline, flood, after (the flood's entries expire) — and the
//! report gives per phase the consumers' success ratio, then the flood offered/accepted, the
//! refusals the daemon counted (`status/counters`), the kernel's drops at the daemon's UDP
//! socket, the PIT size over time against its bounds, and the daemon's RSS before, during and
//! after.
//!
//! Namespaces and veth pairs need root; they are named after the bench's process id and
//! removed when the bench ends, on error too (a guard), and namespaces left by a bench killed
//! outright are swept at the next start.
//!
//! **Face teardown.** In-process, the core alone: `faces` local faces holding `entries` PIT
//! entries between them (the upstream never answers), then every face closed; the total time
//! spent in `Forwarder::face_closed` is what the core's per-face bookkeeping is for.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::core::{FaceInfo, FaceScope, Forwarder, LinkType, Persistency};
use nfwd_forwarder::metrics;
use nfwd_tlv::element::frame_len;
use nfwd_tlv::lp::{LpPacket, NackReason};
use nfwd_tlv::nfd::ForwarderStatus;

use crate::loadgen::unwrap_lp;
use nfwd_tlv::{Component, Data, Interest, InterestBuilder, Name, Signer};

/// What a flood run does.
#[derive(Debug, Clone)]
pub struct FloodSettings {
    /// The `nfwd` binary: the daemon and the workers are started from it.
    pub exe: PathBuf,
    /// How long the flood lasts.
    pub duration: Duration,
    /// Legitimate traffic alone before the flood.
    pub baseline: Duration,
    /// Legitimate traffic alone after the flood (the flood's entries expire meanwhile).
    pub after: Duration,
    /// UDP source ports the flooder uses (each is a face of its own to the daemon).
    pub sources: usize,
    /// InterestLifetime of the flood's Interests.
    pub flood_lifetime_ms: u64,
    /// Interests per second of each legitimate consumer.
    pub legit_rate: f64,
    /// InterestLifetime of the legitimate Interests (an answer later than this is a failure).
    pub legit_lifetime_ms: u64,
    /// `tables.pit_max_entries` of the daemon (None: the default).
    pub pit_max: Option<usize>,
    /// `tables.pit_max_entries_per_face` of the daemon (None: the default).
    pub pit_quota: Option<usize>,
    /// `tables.cs_max_entries` of the daemon (None: the default). The producer answers the
    /// flood too, so the store fills with its Data: a bounded cache, part of the RSS after.
    pub cs_max: Option<usize>,
    /// `faces.idle_timeout_s` of the daemon (None: the default, 600 s). Shorter than the
    /// phase after the flood, the flooder's faces close before the run ends, so the RSS at the
    /// end shows what the flood left once the state it opened is gone.
    pub idle_timeout_s: Option<u64>,
}

/// One consumer's outcome in one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseStats {
    /// Interests sent.
    pub sent: u64,
    /// Answered with Data within the lifetime.
    pub ok: u64,
    /// Answered with a Nack.
    pub nacked: u64,
    /// Not answered within the lifetime.
    pub timed_out: u64,
    /// Round-trip p50 and p99 in µs of the answered ones.
    pub rtt_us: [u64; 2],
}

impl PhaseStats {
    /// Answered with Data, as a fraction of those sent.
    #[must_use]
    pub fn success(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        self.ok as f64 / self.sent as f64
    }

    fn to_kv(self, phase: &str) -> String {
        format!(
            "{phase}_sent={} {phase}_ok={} {phase}_nacked={} {phase}_timed_out={} {phase}_p50={} {phase}_p99={}",
            self.sent, self.ok, self.nacked, self.timed_out, self.rtt_us[0], self.rtt_us[1]
        )
    }

    fn from_kv(kv: &BTreeMap<String, u64>, phase: &str) -> Self {
        let g = |k: &str| kv.get(&format!("{phase}_{k}")).copied().unwrap_or(0);
        Self {
            sent: g("sent"),
            ok: g("ok"),
            nacked: g("nacked"),
            timed_out: g("timed_out"),
            rtt_us: [g("p50"), g("p99")],
        }
    }
}

/// The three phases of a run.
pub const PHASES: [&str; 3] = ["baseline", "flood", "after"];

/// One sample of the sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Since the baseline started.
    pub at: Duration,
    /// PIT entries (`None`: the daemon did not answer the sampler in time).
    pub pit: Option<u64>,
    /// Content store entries (`None` as for `pit`).
    pub cs: Option<u64>,
    /// Daemon RSS in KiB.
    pub rss_kib: u64,
}

/// What a flood run measured.
#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    /// Per phase, the UDP consumer (namespace C).
    pub legit_udp: [PhaseStats; 3],
    /// Per phase, the Unix-socket consumer.
    pub legit_unix: [PhaseStats; 3],
    /// Interests the flooder sent.
    pub flood_sent: u64,
    /// Sends the flooder's kernel refused (ENOBUFS and the like).
    pub flood_send_errors: u64,
    /// Nacks the flooder got back, by reason code.
    pub flood_nacks: BTreeMap<u64, u64>,
    /// How long the flooder sent.
    pub flood_elapsed: Duration,
    /// Interests the forwarder received on the flooder's faces (`in_interests`).
    pub flood_reached: u64,
    /// Interests the forwarder forwarded to the never-answering next hop (its count of the
    /// face's `out_interests`): the flood accepted into the PIT.
    pub flood_forwarded: u64,
    /// Of those, the datagrams that reached the next hop (counted there).
    pub flood_accepted: u64,
    /// Forwarder counters after the flood (`status/counters`): `pit_quota`, `pit_full`, ...
    pub forwarder_counters: BTreeMap<String, u64>,
    /// Driver counters after the flood.
    pub driver_counters: BTreeMap<String, u64>,
    /// Datagrams the kernel dropped at the daemon's UDP socket (receive buffer full) during
    /// the run.
    pub udp_socket_drops: u64,
    /// PIT and RSS every 250 ms.
    pub samples: Vec<Sample>,
    /// The daemon's PIT bounds.
    pub pit_max: usize,
    /// Per-face PIT quota.
    pub pit_quota: usize,
    /// Content store capacity.
    pub cs_max: usize,
    /// When the flood started and ended, since the baseline started.
    pub flood_window: (Duration, Duration),
}

impl FloodReport {
    /// RSS at the end of the baseline, the largest during the flood, at the end (KiB).
    #[must_use]
    pub fn rss(&self) -> (u64, u64, u64) {
        let (start, end) = self.flood_window;
        let before = self
            .samples
            .iter()
            .rfind(|s| s.at <= start)
            .map_or(0, |s| s.rss_kib);
        let during = self
            .samples
            .iter()
            .filter(|s| s.at >= start && s.at <= end)
            .map(|s| s.rss_kib)
            .max()
            .unwrap_or(0);
        let after = self.samples.last().map_or(0, |s| s.rss_kib);
        (before, during, after)
    }

    /// The largest PIT sampled.
    #[must_use]
    pub fn pit_peak(&self) -> u64 {
        self.samples.iter().filter_map(|s| s.pit).max().unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Links

/// A blocking NDN link: UDP datagrams or a Unix byte stream cut into TLV frames.
#[derive(Debug)]
enum Link {
    Udp(UdpSocket),
    Unix { stream: UnixStream, buf: BytesMut },
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Link {
    fn unix(path: &Path) -> Result<Self, String> {
        let stream = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self::Unix {
            stream,
            buf: BytesMut::with_capacity(1 << 16),
        })
    }

    fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Udp(s) => s.send(frame).map(|_| ()),
            Self::Unix { stream, .. } => stream.write_all(frame),
        }
    }

    /// Next frame within `timeout`, or `None`.
    fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<Bytes>> {
        // A zero timeout means "block forever" to the socket API.
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        match self {
            Self::Udp(s) => {
                s.set_read_timeout(timeout)?;
                let mut buf = vec![0u8; 9000];
                match s.recv(&mut buf) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(Some(Bytes::from(buf)))
                    }
                    Err(e) if is_timeout(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Self::Unix { stream, buf } => {
                stream.set_read_timeout(timeout)?;
                loop {
                    if let Ok(Some(n)) = frame_len(buf) {
                        return Ok(Some(buf.split_to(n).freeze()));
                    }
                    let mut chunk = [0u8; 65536];
                    match stream.read(&mut chunk) {
                        Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        Err(e) if is_timeout(&e) => return Ok(None),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
}

/// Registers `prefix` for the link's face through NFD management.
fn register(link: &mut Link, prefix: &Name) -> Result<(), String> {
    link.send(&crate::loadgen::register_command(prefix)?)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(frame)) = link.recv(Duration::from_millis(100))
            && let Some(result) = crate::loadgen::registration_reply(frame)
        {
            return result;
        }
    }
    Err("no answer to the registration".into())
}

/// Fetches a whole status dataset (every segment) over `link`.
fn fetch_dataset(link: &mut Link, dataset: &str) -> Result<Bytes, String> {
    let name: Name = dataset
        .parse()
        .map_err(|e: nfwd_tlv::Error| e.to_string())?;
    let mut next = InterestBuilder::new(name.clone())
        .can_be_prefix(true)
        .must_be_fresh(true)
        .lifetime_ms(1000)
        .encode();
    let mut payload = Vec::new();
    for _ in 0..1000 {
        link.send(&next).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(2);
        let data = loop {
            if Instant::now() > deadline {
                return Err(format!("{dataset}: no answer"));
            }
            let Ok(Some(frame)) = link.recv(Duration::from_millis(100)) else {
                continue;
            };
            let Some((fragment, _)) = unwrap_lp(frame) else {
                continue;
            };
            match Data::decode(fragment) {
                Ok(d) if name.is_prefix_of(d.name()) => break d,
                _ => {}
            }
        };
        payload.extend_from_slice(data.content());
        // Segments up to the one whose FinalBlockId names it (NFD puts it on the last only).
        let seg = data.name().last().and_then(|c| c.as_segment());
        let last = data.final_block_id().and_then(Component::as_segment);
        match (seg, last) {
            (Some(s), l) if l.is_none_or(|l| s < l) => {
                let versioned = data.name().prefix(data.name().len() - 1);
                next = InterestBuilder::new(versioned.append_segment(s + 1))
                    .lifetime_ms(1000)
                    .encode();
            }
            _ => return Ok(Bytes::from(payload)),
        }
    }
    Err(format!("{dataset}: too many segments"))
}

/// `status/counters` parsed: (forwarder counters, driver counters, per-face counters by remote
/// URI).
type Counters = (
    BTreeMap<String, u64>,
    BTreeMap<String, u64>,
    BTreeMap<String, BTreeMap<String, u64>>,
);

fn parse_counters(text: &str) -> Result<Counters, String> {
    let families = metrics::parse(text).map_err(|e| format!("status/counters: {e}"))?;
    let mut forwarder = BTreeMap::new();
    let mut driver = BTreeMap::new();
    let mut faces: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for family in &families {
        let Some((group, field)) = metrics::split_name(family) else {
            continue;
        };
        for sample in &family.samples {
            let field = field.to_string();
            match group {
                "forwarder" => {
                    forwarder.insert(field, sample.value);
                }
                "driver" => {
                    driver.insert(field, sample.value);
                }
                "face" => {
                    if let Some(uri) = sample.label("remote") {
                        faces
                            .entry(uri.to_string())
                            .or_default()
                            .insert(field, sample.value);
                    }
                }
                _ => {}
            }
        }
    }
    Ok((forwarder, driver, faces))
}

// ---------------------------------------------------------------------------------------------
// The consumers and the flooder (also run as worker processes in the namespaces)

/// A consumer asking `rate` Interests/s for distinct names under `prefix`, for the phases'
/// durations in turn; returns its statistics per phase.
fn consume(
    link: &mut Link,
    prefix: &Name,
    rate: f64,
    lifetime_ms: u64,
    phases: &[Duration],
) -> Vec<PhaseStats> {
    let mut stats = vec![PhaseStats::default(); phases.len()];
    let mut rtts: Vec<Vec<u32>> = vec![Vec::new(); phases.len()];
    let lifetime = Duration::from_millis(lifetime_ms);
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let start = Instant::now();
    let total: Duration = phases.iter().sum();
    // Outstanding: seq -> (phase, sent at).
    let mut waiting: BTreeMap<u64, (usize, Instant)> = BTreeMap::new();
    let mut seq = 0u64;
    let mut next_send = start;
    let phase_of = |t: Duration| {
        let mut acc = Duration::ZERO;
        for (i, p) in phases.iter().enumerate() {
            acc += *p;
            if t < acc {
                return i;
            }
        }
        phases.len().saturating_sub(1)
    };
    loop {
        let now = Instant::now();
        let elapsed = now.duration_since(start);
        if elapsed >= total && waiting.is_empty() {
            break;
        }
        if elapsed >= total + lifetime + Duration::from_millis(500) {
            break;
        }
        if elapsed < total && now >= next_send {
            let name = prefix.append(&Component::sequence_num(seq));
            let wire = InterestBuilder::new(name)
                .nonce((seq as u32 ^ 0x5A5A_0000).to_be_bytes())
                .lifetime_ms(lifetime_ms)
                .encode();
            let phase = phase_of(elapsed);
            stats[phase].sent += 1;
            if link.send(&wire).is_ok() {
                waiting.insert(seq, (phase, now));
            } else {
                stats[phase].timed_out += 1;
            }
            seq += 1;
            // Paced on the schedule, not on the clock, so that a late send is not lost.
            next_send += interval;
        }
        // Expire what is past its lifetime.
        let late: Vec<u64> = waiting
            .iter()
            .filter(|(_, (_, t))| now.duration_since(*t) > lifetime)
            .map(|(s, _)| *s)
            .collect();
        for s in late {
            if let Some((phase, _)) = waiting.remove(&s) {
                stats[phase].timed_out += 1;
            }
        }
        let wait = next_send
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(20));
        let Ok(Some(frame)) = link.recv(wait) else {
            continue;
        };
        let Some((fragment, lp)) = unwrap_lp(frame) else {
            continue;
        };
        let seq_of = |n: &Name| {
            n.get(prefix.len())
                .filter(|_| prefix.is_prefix_of(n))
                .and_then(|c| c.as_number())
        };
        if lp.nack.is_some() {
            if let Ok(i) = Interest::decode(fragment)
                && let Some(s) = seq_of(i.name())
                && let Some((phase, _)) = waiting.remove(&s)
            {
                stats[phase].nacked += 1;
            }
        } else if let Ok(d) = Data::decode(fragment)
            && let Some(s) = seq_of(d.name())
            && let Some((phase, at)) = waiting.remove(&s)
        {
            stats[phase].ok += 1;
            rtts[phase].push(at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        }
    }
    for (s, mut r) in stats.iter_mut().zip(rtts) {
        r.sort_unstable();
        let pct = |p: f64| {
            if r.is_empty() {
                return 0;
            }
            u64::from(r[((r.len() - 1) as f64 * p).round() as usize])
        };
        s.rtt_us = [pct(0.5), pct(0.99)];
    }
    stats
}

/// `nfwd bench --flood-consumer`: a UDP consumer towards `target`; prints its statistics as
/// `key=value` pairs on one line.
pub fn consumer_worker(
    target: SocketAddr,
    prefix: &str,
    rate: f64,
    lifetime_ms: u64,
    phases: &[Duration],
) -> Result<String, String> {
    let prefix: Name = prefix.parse().map_err(|e: nfwd_tlv::Error| e.to_string())?;
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    socket.connect(target).map_err(|e| e.to_string())?;
    let mut link = Link::Udp(socket);
    let stats = consume(&mut link, &prefix, rate, lifetime_ms, phases);
    Ok(stats
        .iter()
        .zip(PHASES)
        .map(|(s, p)| s.to_kv(p))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `nfwd bench --flood-worker`: distinct-name Interests under `prefix` to `target` as fast as
/// possible from `sources` UDP sockets for `duration`; prints what it sent and got back as
/// `key=value` pairs on one line.
pub fn flood_worker(
    target: SocketAddr,
    prefix: &str,
    sources: usize,
    duration: Duration,
    lifetime_ms: u64,
) -> Result<String, String> {
    let prefix: Name = prefix.parse().map_err(|e: nfwd_tlv::Error| e.to_string())?;
    let mut sockets = Vec::new();
    for _ in 0..sources.max(1) {
        let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        s.connect(target).map_err(|e| e.to_string())?;
        sockets.push(Arc::new(s));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let nacks: Arc<Mutex<BTreeMap<u64, u64>>> = Arc::default();
    let data = Arc::new(AtomicU64::new(0));
    // One reader per source, so that what the forwarder sends back is counted (and the
    // sockets' receive buffers do not just fill).
    let readers: Vec<_> = sockets
        .iter()
        .map(|s| {
            let (s, stop, nacks, data) = (
                Arc::clone(s),
                Arc::clone(&stop),
                Arc::clone(&nacks),
                Arc::clone(&data),
            );
            thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
                let mut buf = vec![0u8; 9000];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(n) = s.recv(&mut buf) else {
                        continue;
                    };
                    let Ok(lp) = LpPacket::decode(Bytes::copy_from_slice(&buf[..n])) else {
                        continue;
                    };
                    match lp.nack {
                        Some(r) => {
                            if let Ok(mut m) = nacks.lock() {
                                *m.entry(r.code()).or_default() += 1;
                            }
                        }
                        None => {
                            data.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let per_source: Vec<Name> = (0..sockets.len())
        .map(|i| prefix.append_generic(format!("s{i}").as_bytes()))
        .collect();
    let mut sent = 0u64;
    let mut errors = 0u64;
    let start = Instant::now();
    let mut seq = 0u64;
    'outer: loop {
        // Check the clock every batch, not every packet.
        for _ in 0..64 {
            for (s, p) in sockets.iter().zip(&per_source) {
                let wire = InterestBuilder::new(p.append(&Component::sequence_num(seq)))
                    .nonce((seq as u32).to_be_bytes())
                    .lifetime_ms(lifetime_ms)
                    .encode();
                match s.send(&wire) {
                    Ok(_) => sent += 1,
                    Err(_) => errors += 1,
                }
            }
            seq += 1;
        }
        if start.elapsed() >= duration {
            break 'outer;
        }
    }
    let elapsed = start.elapsed();
    // Answers to the last Interests (Nacks) may still be on their way.
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.join();
    }
    let nacks = nacks.lock().map(|m| m.clone()).unwrap_or_default();
    let mut line = format!(
        "sent={sent} send_errors={errors} elapsed_ms={} data={}",
        elapsed.as_millis(),
        data.load(Ordering::Relaxed)
    );
    for (code, n) in nacks {
        let _ = write!(line, " nack_{code}={n}");
    }
    Ok(line)
}

fn parse_kv(line: &str) -> BTreeMap<String, u64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Namespaces, the daemon, cleanup

/// Runs `ip` with `args`; an error carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

const NETNS_PREFIX: &str = "nfwdfl";

/// A network namespace joined to ours by a veth pair; removed on drop (which removes the
/// pair too).
#[derive(Debug)]
struct Netns {
    name: String,
    /// Our end of the veth pair.
    host_link: String,
    /// Our end's address (the forwarder's, as the namespace sees it).
    host_addr: String,
    /// The namespace's end's address.
    peer_addr: String,
}

impl Netns {
    /// Namespace `<prefix><pid><tag>` with veth `nfl<pid><tag>h` (ours) and `...n` (theirs),
    /// addresses `10.231.<k>.<base+1>/30` (ours) and `.<base+2>` (theirs).
    fn create(tag: char, k: u8, base: u8) -> Result<Self, String> {
        let pid = std::process::id();
        let name = format!("{NETNS_PREFIX}{pid}{tag}");
        let host = format!("nfl{pid}{tag}h");
        let peer = format!("nfl{pid}{tag}n");
        let host_addr = format!("10.231.{k}.{}", base + 1);
        let peer_addr = format!("10.231.{k}.{}", base + 2);
        ip(&["netns", "add", &name])?;
        // From here on, dropping the guard removes what was made.
        let ns = Self {
            name,
            host_link: host.clone(),
            host_addr,
            peer_addr,
        };
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer])?;
        let setup = || -> Result<(), String> {
            ip(&["link", "set", &peer, "netns", &ns.name])?;
            ip(&["addr", "add", &format!("{}/30", ns.host_addr), "dev", &host])?;
            ip(&["link", "set", &host, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", ns.name.as_str(), "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("{}/30", ns.peer_addr), "dev", &peer])?;
            inside(&["link", "set", &peer, "up"])?;
            inside(&["link", "set", "lo", "up"])
        };
        setup()?;
        Ok(ns)
    }

    /// A command run inside the namespace.
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting our end removes the pair at once (deleting the namespace would too, but the
        // kernel dismantles a namespace asynchronously), then the namespace.
        let _ = ip(&["link", "del", &self.host_link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Removes namespaces left by flood benches whose process is gone (killed outright).
fn sweep_stale_namespaces() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// A /24 of 10.231.0.0/16 no interface here uses yet (the last octet of our pid first).
fn free_subnet() -> Result<u8, String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .map_err(|e| format!("ip addr: {e}"))?;
    let used = String::from_utf8_lossy(&out.stdout).to_string();
    let first = (std::process::id() % 250) as u8;
    (0..250u16)
        .map(|i| ((u16::from(first) + i) % 250) as u8)
        .find(|k| !used.contains(&format!("10.231.{k}.")))
        .ok_or_else(|| "no free /24 in 10.231.0.0/16".to_string())
}

/// A child process killed (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
struct ChildGuard {
    child: Option<Child>,
    what: &'static str,
}

impl ChildGuard {
    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits for the child to end by itself and returns its stdout.
    fn output(mut self) -> Result<String, String> {
        let child = self.child.take().ok_or("no child")?;
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{}: {e}", self.what))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                self.what,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // SIGTERM first: the daemon then removes its socket file.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn spawn(mut cmd: Command, what: &'static str) -> Result<ChildGuard, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    Ok(ChildGuard {
        child: Some(child),
        what,
    })
}

/// A temporary directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Datagrams the kernel dropped on the IPv4 UDP sockets bound to `port` (their receive buffer
/// was full): the `drops` column of /proc/net/udp, which counts per socket, unlike the
/// namespace-wide `RcvbufErrors` other programs on the machine add to.
fn udp_socket_drops(port: u16) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
        return 0;
    };
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(&wanted))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

/// True if this process runs as root (namespaces and veth pairs need it).
#[must_use]
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

// ---------------------------------------------------------------------------------------------
// The run

/// Runs the flood measurement (needs root).
pub fn run_flood(s: &FloodSettings) -> Result<FloodReport, String> {
    if !is_root() {
        return Err(
            "nfwd bench --flood needs root: it creates network namespaces and veth \
                    pairs (ip netns add, ip link add ... type veth). Run it as root, e.g. with \
                    sudo."
                .into(),
        );
    }
    sweep_stale_namespaces();
    let k = free_subnet()?;
    let flood_ns = Netns::create('f', k, 0)?;
    let consumer_ns = Netns::create('c', k, 4)?;

    // The daemon's configuration: UDP on every address (the namespaces reach it over their
    // veth pairs), /flood routed to a next hop that never answers.
    let dir = TempDir(std::env::temp_dir().join(format!("nfwd-flood-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| e.to_string())?;
    let socket_path = dir.0.join("nfwd.sock");
    let port = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let sink = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let sink_addr = sink.local_addr().map_err(|e| e.to_string())?;
    let defaults = Config::default();
    let pit_max = s.pit_max.unwrap_or(defaults.tables.pit_max_entries);
    let pit_quota = s
        .pit_quota
        .unwrap_or(defaults.tables.pit_max_entries_per_face);
    let cs_max = s.cs_max.unwrap_or(defaults.tables.cs_max_entries);
    let idle_timeout_s = s.idle_timeout_s.unwrap_or(defaults.faces.idle_timeout_s);
    let config = format!(
        "[faces]\nunix_path = {socket:?}\ntcp_listen = \"\"\nudp_listen = \"0.0.0.0:{port}\"\n\
         idle_timeout_s = {idle_timeout_s}\n\n\
         [tables]\npit_max_entries = {pit_max}\npit_max_entries_per_face = {pit_quota}\n\
         cs_max_entries = {cs_max}\n\n\
         [log]\nlevel = \"warn\"\n\n\
         [[face]]\nuri = \"udp4://{sink_addr}\"\npersistency = \"persistent\"\n\n\
         [[route]]\nprefix = \"/flood\"\nface = \"udp4://{sink_addr}\"\n",
        socket = socket_path.display().to_string(),
    );
    let config_path = dir.0.join("nfwd.toml");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&s.exe);
    cmd.arg("start").arg("--config").arg(&config_path);
    // Its log goes to a file: a pipe nobody reads would block it once full.
    let log = std::fs::File::create(dir.0.join("nfwd.log")).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let daemon = ChildGuard {
        child: Some(
            cmd.stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .spawn()
                .map_err(|e| format!("the daemon ({}): {e}", s.exe.display()))?,
        ),
        what: "the daemon",
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&socket_path).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.0.join("nfwd.log")).unwrap_or_default();
            return Err(format!(
                "the daemon did not open its Unix socket within 10 s: {}",
                log.trim()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }

    // The sink counts what the forwarder forwards to it (the flood it accepted).
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let sink_thread = {
        let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
        thread::spawn(move || {
            let _ = sink.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = vec![0u8; 9000];
            while !stop.load(Ordering::Relaxed) {
                if sink.recv(&mut buf).is_ok() {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // The producer of /legit on the Unix socket.
    let legit: Name = "/legit"
        .parse()
        .map_err(|e: nfwd_tlv::Error| e.to_string())?;
    let mut producer_link = Link::unix(&socket_path)?;
    register(&mut producer_link, &legit)?;
    let producer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || produce(producer_link, &stop))
    };

    let phases = [s.baseline, s.duration, s.after];
    let t0 = Instant::now();
    let drops_before = udp_socket_drops(port);

    // The sampler: PIT size and RSS every 250 ms.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let sampler = {
        let (stop, samples) = (Arc::clone(&stop), Arc::clone(&samples));
        let mut link = Link::unix(&socket_path)?;
        let pid = daemon.pid();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let status = fetch_dataset(&mut link, "/localhost/nfd/status/general")
                    .ok()
                    .and_then(|b| ForwarderStatus::decode(&b).ok());
                let pit = status.as_ref().map(|st| st.n_pit_entries);
                let cs = status.as_ref().map(|st| st.n_cs_entries);
                if let Ok(mut v) = samples.lock() {
                    v.push(Sample {
                        at: t0.elapsed(),
                        pit,
                        cs,
                        rss_kib: rss_kib_of(pid),
                    });
                }
                thread::sleep(Duration::from_millis(250));
            }
        })
    };

    // The legitimate consumers: UDP in namespace C (a process), Unix here (a thread).
    let phase_arg = phases
        .iter()
        .map(|d| format!("{:.3}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = consumer_ns.command(&s.exe);
    cmd.args([
        "bench",
        "--flood-consumer",
        &format!("{}:{port}", consumer_ns.host_addr),
        "--flood-prefix",
        "/legit/udp",
        "--legit-rate",
        &s.legit_rate.to_string(),
        "--legit-lifetime",
        &s.legit_lifetime_ms.to_string(),
        "--flood-phases",
        &phase_arg,
    ]);
    let udp_consumer = spawn(cmd, "the UDP consumer (namespace C)")?;
    let unix_consumer = {
        let mut link = Link::unix(&socket_path)?;
        let prefix = legit.append_generic(b"unix");
        let (rate, lifetime) = (s.legit_rate, s.legit_lifetime_ms);
        thread::spawn(move || consume(&mut link, &prefix, rate, lifetime, &phases))
    };

    // The flood, after the baseline.
    thread::sleep(s.baseline.saturating_sub(t0.elapsed()));
    let flood_start = t0.elapsed();
    let mut cmd = flood_ns.command(&s.exe);
    cmd.args([
        "bench",
        "--flood-worker",
        &format!("{}:{port}", flood_ns.host_addr),
        "--flood-prefix",
        "/flood",
        "--flood-sources",
        &s.sources.to_string(),
        "--duration",
        &s.duration.as_secs_f64().to_string(),
        "--flood-lifetime",
        &s.flood_lifetime_ms.to_string(),
    ]);
    let flooder = spawn(cmd, "the flooder (namespace F)")?;
    let flood_out = parse_kv(&flooder.output()?);
    let flood_end = t0.elapsed();

    // Refusals while the flooder's faces still exist.
    let mut mgmt = Link::unix(&socket_path)?;
    let counters = fetch_dataset(&mut mgmt, "/localhost/nfd/status/counters")
        .and_then(|b| parse_counters(&String::from_utf8_lossy(&b)))?;
    let udp_out = parse_kv(&udp_consumer.output()?);
    let unix_stats = unix_consumer
        .join()
        .map_err(|_| "the Unix consumer panicked")?;
    let drops_after = udp_socket_drops(port);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let _ = producer.join();
    let _ = sink_thread.join();
    drop(daemon);

    let flooder_prefix = format!("udp4://{}:", flood_ns.peer_addr);
    let flood_faces: Vec<&BTreeMap<String, u64>> = counters
        .2
        .iter()
        .filter(|(uri, _)| uri.starts_with(&flooder_prefix))
        .map(|(_, c)| c)
        .collect();
    let mut report = FloodReport {
        flood_sent: flood_out.get("sent").copied().unwrap_or(0),
        flood_send_errors: flood_out.get("send_errors").copied().unwrap_or(0),
        flood_elapsed: Duration::from_millis(flood_out.get("elapsed_ms").copied().unwrap_or(0)),
        flood_nacks: flood_out
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("nack_")?.parse().ok()?, *v)))
            .collect(),
        flood_reached: flood_faces
            .iter()
            .map(|c| c.get("in_interests").copied().unwrap_or(0))
            .sum(),
        flood_forwarded: counters
            .2
            .get(&format!("udp4://{sink_addr}"))
            .and_then(|c| c.get("out_interests"))
            .copied()
            .unwrap_or(0),
        flood_accepted: accepted.load(Ordering::Relaxed),
        forwarder_counters: counters.0,
        driver_counters: counters.1,
        udp_socket_drops: drops_after.saturating_sub(drops_before),
        samples: samples.lock().map(|v| v.clone()).unwrap_or_default(),
        pit_max,
        pit_quota,
        cs_max,
        flood_window: (flood_start, flood_end),
        ..FloodReport::default()
    };
    for (i, p) in PHASES.iter().enumerate() {
        report.legit_udp[i] = PhaseStats::from_kv(&udp_out, p);
        report.legit_unix[i] = unix_stats.get(i).copied().unwrap_or_default();
    }
    Ok(report)
}

/// The producer: answers every Interest under its prefix with 100 bytes, until `stop`.
fn produce(mut link: Link, stop: &AtomicBool) {
    let content = Bytes::from(vec![0xA5u8; 100]);
    let signer = Signer::digest_sha256();
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some(frame)) = link.recv(Duration::from_millis(100)) else {
            continue;
        };
        if let Some(reply) = crate::loadgen::answer(frame, &content, 1000, &signer) {
            let _ = link.send(&reply);
        }
    }
}

/// A Nack reason by its code, for the report.
#[must_use]
pub fn nack_reason_name(code: u64) -> String {
    match NackReason::from_code(code) {
        NackReason::Congestion => "Congestion".into(),
        NackReason::Duplicate => "Duplicate".into(),
        NackReason::NoRoute => "NoRoute".into(),
        NackReason::None => "None".into(),
        NackReason::Other(c) => format!("reason {c}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Face teardown

/// What closing every face cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeardownReport {
    /// Faces closed.
    pub faces: usize,
    /// PIT entries before.
    pub entries: usize,
    /// PIT entries after (0: every entry went with its only downstream).
    pub entries_after: usize,
    /// Time to create the entries (for scale).
    pub fill: Duration,
    /// How much the process's RSS grew while the entries were made, in KiB (the core's memory
    /// for them: entries, timers, per-face lists; `None` off Linux).
    pub rss_growth_kib: Option<u64>,
    /// Total time in `face_closed` (wall clock: includes the moments another process had the
    /// CPU, a scheduler tick — 4 ms — each on a busy machine).
    pub total: Duration,
    /// CPU time this thread spent closing the faces (`None` where the kernel does not say):
    /// the figure that does not depend on the machine's load.
    pub cpu: Option<Duration>,
    /// The longest single `face_closed`.
    pub longest: Duration,
}

/// CPU time of the calling thread in ns, from /proc/thread-self/schedstat (its first field).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `faces` local faces holding `entries` PIT entries in total (spread evenly, one downstream
/// each, the upstream never answering), then every face closed, timing `face_closed`.
pub fn measure_face_teardown(faces: usize, entries: usize) -> Result<TeardownReport, String> {
    let faces = faces.max(1);
    let per_face = entries.div_ceil(faces);
    let mut config = Config::default();
    // Room to spare: past half full, admission keeps room for faces holding little, which is
    // not what this measures.
    config.tables.pit_max_entries = 2 * entries + 1;
    config.tables.pit_max_entries_per_face = per_face + 1;
    let now = Instant::now();
    let mut fwd = Forwarder::new(&config, now);
    let info = |uri: String, scope| FaceInfo {
        remote_uri: uri,
        local_uri: "bench://".into(),
        scope,
        persistency: Persistency::OnDemand,
        link_type: LinkType::PointToPoint,
        mtu: None,
        peer: None,
        channel: None,
    };
    let upstream = fwd.add_face(
        info("udp4://10.0.0.1:6363".into(), FaceScope::NonLocal),
        now,
    );
    fwd.add_route(&Name::new(), upstream, 0);
    let ids: Vec<_> = (0..faces)
        .map(|i| fwd.add_face(info(format!("fd://{i}"), FaceScope::Local), now))
        .collect();
    let base: Name = "/teardown"
        .parse()
        .map_err(|e: nfwd_tlv::Error| e.to_string())?;
    let mut out = Vec::new();
    let rss_before = crate::loadgen::rss_kib();
    let fill_start = Instant::now();
    for n in 0..entries {
        let face = ids[n % faces];
        let wire = InterestBuilder::new(base.append(&Component::sequence_num(n as u64)))
            .nonce((n as u32).to_be_bytes())
            .lifetime_ms(60_000)
            .encode();
        fwd.receive(now, face, &wire, &mut out);
        out.clear();
    }
    let fill = fill_start.elapsed();
    let rss_growth_kib = crate::loadgen::rss_kib()
        .zip(rss_before)
        .map(|(after, before)| after.saturating_sub(before));
    let before = fwd.pit().len();
    if before != entries {
        return Err(format!(
            "{before} PIT entries made of {entries} (a bound or the nonce list refused some)"
        ));
    }
    let mut total = Duration::ZERO;
    let mut longest = Duration::ZERO;
    let cpu_before = thread_cpu_ns();
    for id in ids {
        let t = Instant::now();
        fwd.face_closed(id, now, &mut out);
        let dt = t.elapsed();
        total += dt;
        longest = longest.max(dt);
    }
    let cpu = thread_cpu_ns()
        .zip(cpu_before)
        .map(|(after, before)| Duration::from_nanos(after.saturating_sub(before)));
    Ok(TeardownReport {
        faces,
        entries: before,
        entries_after: fwd.pit().len(),
        fill,
        rss_growth_kib,
        total,
        cpu,
        longest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_exposition_is_parsed_by_group() {
        let text = "# HELP nfwd_forwarder_in_interests_total Interests received.\n\
                    # TYPE nfwd_forwarder_in_interests_total counter\n\
                    nfwd_forwarder_in_interests_total 5\n\
                    # TYPE nfwd_forwarder_pit_quota_total counter\n\
                    nfwd_forwarder_pit_quota_total 7\n\
                    # TYPE nfwd_tables_pit_entries gauge\n\
                    nfwd_tables_pit_entries 1\n\
                    # TYPE nfwd_driver_dropped_frames_total counter\n\
                    nfwd_driver_dropped_frames_total 2\n\
                    # TYPE nfwd_face_drop_pit_quota_total counter\n\
                    nfwd_face_drop_pit_quota_total{face=\"260\",remote=\"udp4://10.231.1.2:4000\"} 4\n";
        let (fwd, driver, faces) = parse_counters(text).unwrap();
        assert_eq!(fwd.get("pit_quota"), Some(&7));
        assert_eq!(driver.get("dropped_frames"), Some(&2));
        assert_eq!(
            faces
                .get("udp4://10.231.1.2:4000")
                .and_then(|f| f.get("drop_pit_quota")),
            Some(&4)
        );
    }

    #[test]
    fn teardown_empties_the_pit() {
        let r = measure_face_teardown(20, 1000).expect("teardown");
        assert_eq!((r.faces, r.entries, r.entries_after), (20, 1000, 0));
    }

    #[test]
    fn phase_stats_round_trip_through_the_worker_line() {
        let s = PhaseStats {
            sent: 10,
            ok: 9,
            nacked: 1,
            timed_out: 0,
            rtt_us: [100, 900],
        };
        let kv = parse_kv(&s.to_kv("flood"));
        assert_eq!(PhaseStats::from_kv(&kv, "flood"), s);
    }
}

//! The load generator behind `nfwd bench`.
//!
//! It measures Interest/Data exchanges per second and round-trip latency through one nfwd
//! forwarder, and — in the same run, on the same machine — a minimal UDP echo, the ceiling any
//! user-space forwarder on kernel sockets works against. An exchange crosses the forwarder
//! twice each way (consumer → forwarder → producer → forwarder → consumer), where the echo
//! crosses the kernel once each way, so the forwarder's ceiling is about half the echo rate.
//!
//! Every party is a real process-level peer on real sockets: the forwarder is the daemon
//! (`Daemon::start`) on its own thread; the consumer and the producer are plain blocking-socket
//! threads speaking NDN (the producer registers its prefix through NFD management on Unix, or
//! is a configured static face on UDP). The consumer keeps a fixed window of Interests
//! outstanding and records each round trip.
//!
//! With `Settings::nfd` (the prefix of the NDN reference tools, `../shared/anchors`), every
//! case is measured through NFD too, interleaved with nfwd's, `Settings::rounds` times: the
//! side-by-side table of `docs/benchmarks.md`. Each measurement also reports the forwarder's
//! CPU time per exchange (user + system, from `/proc`: nfwd's daemon thread, NFD's process).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nfwd_forwarder::config::{Config, StaticFace, StaticRoute};
use nfwd_forwarder::driver::Daemon;
use nfwd_tlv::element::frame_len;
use nfwd_tlv::lp::LpPacket;
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v03};
use nfwd_tlv::{Data, DataBuilder, Interest, InterestBuilder, Name, Signer};

/// Which faces the consumer and producer use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceKind {
    /// UDP unicast on loopback.
    Udp,
    /// The forwarder's Unix stream socket.
    Unix,
}

/// Which names the consumer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMode {
    /// Every Interest a new name: no cache hits, every exchange reaches the producer.
    Distinct,
    /// A small set of names asked again and again: answered from the content store.
    Repeated,
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long each measurement runs.
    pub duration: Duration,
    /// Interests kept outstanding.
    pub window: usize,
    /// Content sizes to measure.
    pub payloads: Vec<usize>,
    /// Faces to measure.
    pub faces: Vec<FaceKind>,
    /// Name modes to measure.
    pub modes: Vec<NameMode>,
    /// The NDN reference tools' prefix (`bin/nfd`, `bin/nfdc`, `bin/ndnsec`, `lib/`): measure
    /// NFD beside nfwd.
    pub nfd: Option<PathBuf>,
    /// Measurements of each (case, forwarder), interleaved.
    pub rounds: usize,
    /// Worker threads of nfwd's runtime: 0 runs the whole daemon on one thread (a
    /// current-thread runtime), N a multi-thread runtime of N workers as `nfwd start
    /// --io-threads N` has, face tasks and the core task then running in parallel.
    pub daemon_workers: usize,
    /// nfwd's forwarding threads (`forwarding.threads`, `nfwd start --threads`): shards
    /// beyond the first run on threads of their own, whose CPU time the column includes.
    pub forwarding_threads: u8,
    /// nfwd forwarders in a line between consumer and producer: 1, or 2 joined by a UDP face
    /// (what forwarders send each other: GSO sends, received with UDP_GRO). The CPU column
    /// then sums both.
    pub line: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(5),
            window: 64,
            payloads: vec![100, 1000],
            faces: vec![FaceKind::Udp, FaceKind::Unix],
            modes: vec![NameMode::Distinct, NameMode::Repeated],
            nfd: None,
            rounds: 1,
            daemon_workers: 0,
            forwarding_threads: 1,
            line: 1,
        }
    }
}

/// The outcome of one measurement.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What was measured.
    pub label: String,
    /// Completed exchanges.
    pub exchanges: u64,
    /// Exchanges per second.
    pub rate: f64,
    /// Round-trip percentiles in microseconds: p50, p90, p99, max.
    pub latency_us: [u64; 4],
    /// Interests that got no answer within a second.
    pub lost: u64,
    /// The forwarder's CPU time (user + system) per exchange, in µs, when it could be read.
    pub cpu_us_per_exchange: Option<f64>,
}

/// Round trips collected by a consumer.
struct Recorder {
    rtts_us: Vec<u32>,
    lost: u64,
}

impl Recorder {
    fn finish(mut self, label: String, elapsed: Duration) -> Measurement {
        self.rtts_us.sort_unstable();
        let pct = |p: f64| {
            if self.rtts_us.is_empty() {
                return 0;
            }
            let i = ((self.rtts_us.len() - 1) as f64 * p).round() as usize;
            u64::from(self.rtts_us[i])
        };
        let exchanges = self.rtts_us.len() as u64;
        Measurement {
            label,
            exchanges,
            rate: exchanges as f64 / elapsed.as_secs_f64(),
            latency_us: [pct(0.5), pct(0.9), pct(0.99), pct(1.0)],
            lost: self.lost,
            cpu_us_per_exchange: None,
        }
    }
}

/// A blocking NDN link: UDP datagrams or a Unix byte stream cut into TLV frames.
enum Link {
    Udp(UdpSocket),
    Unix { stream: UnixStream, buf: BytesMut },
}

impl Link {
    fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Udp(s) => s.send(frame).map(|_| ()),
            Self::Unix { stream, .. } => stream.write_all(frame),
        }
    }

    /// Next frame, or `None` after the read timeout.
    fn recv(&mut self) -> std::io::Result<Option<Bytes>> {
        match self {
            Self::Udp(s) => {
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
            Self::Unix { stream, buf } => loop {
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
            },
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

pub(crate) fn unwrap_lp(frame: Bytes) -> Option<(Bytes, LpPacket)> {
    let lp = LpPacket::decode(frame).ok()?;
    Some((lp.fragment.clone()?, lp))
}

/// Interests in flight, by name (repeated names may have several at once, oldest first).
#[derive(Default)]
struct InFlight {
    by_name: HashMap<Name, std::collections::VecDeque<Instant>>,
    count: usize,
}

impl InFlight {
    fn insert(&mut self, name: Name, at: Instant) {
        self.by_name.entry(name).or_default().push_back(at);
        self.count += 1;
    }

    /// The send time of the oldest Interest for `name`, which its Data answers.
    fn answer(&mut self, name: &Name) -> Option<Instant> {
        let q = self.by_name.get_mut(name)?;
        let at = q.pop_front()?;
        if q.is_empty() {
            self.by_name.remove(name);
        }
        self.count -= 1;
        Some(at)
    }

    /// Forgets Interests older than `age`; returns how many.
    fn expire(&mut self, now: Instant, age: Duration) -> usize {
        let before = self.count;
        self.by_name.retain(|_, q| {
            q.retain(|t| now.duration_since(*t) <= age);
            !q.is_empty()
        });
        self.count = self
            .by_name
            .values()
            .map(std::collections::VecDeque::len)
            .sum();
        before - self.count
    }
}

/// First components the consumer's names spread over (`/b0/...` to `/b63/...`), routed to the
/// producer by one route for `/`: with several forwarding threads, each shard owns its part
/// of them (`nfwd start --threads`), as names of many applications would spread.
const FIRST_COMPONENTS: u64 = 64;

/// The name of the consumer's `n`th Interest of run `run`: `/b<n mod 64>/<run>/seq=n`.
fn bench_name(run: &Name, n: u64) -> Name {
    let mut name = Name::new().append_generic(format!("b{}", n % FIRST_COMPONENTS).as_bytes());
    for c in run.components() {
        name = name.append(&c);
    }
    name.append(&nfwd_tlv::Component::sequence_num(n))
}

/// The consumer: keeps `window` Interests outstanding for `duration`.
fn consume(link: &mut Link, run: &Name, mode: NameMode, settings: &Settings) -> Recorder {
    let mut rec = Recorder {
        rtts_us: Vec::with_capacity(1 << 20),
        lost: 0,
    };
    let mut in_flight = InFlight::default();
    let mut seq = 0u64;
    let mut send_next = |link: &mut Link, in_flight: &mut InFlight| {
        let n = match mode {
            NameMode::Distinct => seq,
            NameMode::Repeated => seq % 256,
        };
        let name = bench_name(run, n);
        let wire = InterestBuilder::new(name.clone())
            .nonce((seq as u32).to_be_bytes())
            .lifetime_ms(1000)
            .encode();
        if link.send(&wire).is_ok() {
            in_flight.insert(name, Instant::now());
        }
        seq += 1;
    };
    for _ in 0..settings.window {
        send_next(link, &mut in_flight);
    }
    let start = Instant::now();
    while start.elapsed() < settings.duration {
        let frame = match link.recv() {
            Ok(Some(f)) => f,
            Ok(None) => {
                // Nothing for a while: what is older than a second is lost; refill the window.
                let lost = in_flight.expire(Instant::now(), Duration::from_secs(1));
                rec.lost += lost as u64;
                for _ in 0..lost {
                    send_next(link, &mut in_flight);
                }
                continue;
            }
            Err(_) => break,
        };
        let Some((fragment, _)) = unwrap_lp(frame) else {
            continue;
        };
        let Ok(data) = Data::decode(fragment) else {
            continue;
        };
        if let Some(sent) = in_flight.answer(data.name()) {
            rec.rtts_us
                .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            send_next(link, &mut in_flight);
        }
    }
    rec
}

/// The producer: answers every Interest under its prefix with `payload` bytes, signed with
/// DigestSha256, until `stop`.
fn produce(mut link: Link, payload: usize, stop: &AtomicBool) {
    let content = Bytes::from(vec![0xA5u8; payload]);
    let signer = Signer::digest_sha256();
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some(frame)) = link.recv() else {
            continue;
        };
        if let Some(reply) = answer(frame, &content, 60_000, &signer) {
            let _ = link.send(&reply);
        }
    }
}

/// A producer's answer to one received frame: a Data named like the Interest with `content`,
/// its PIT token echoed; `None` for anything but a decodable Interest.
pub(crate) fn answer(
    frame: Bytes,
    content: &Bytes,
    freshness_ms: u64,
    signer: &Signer,
) -> Option<Bytes> {
    let (fragment, lp) = unwrap_lp(frame)?;
    let interest = Interest::decode(fragment).ok()?;
    let data = DataBuilder::new(interest.name().clone(), content.clone())
        .freshness_ms(freshness_ms)
        .sign(signer)
        .ok()?;
    Some(
        LpPacket::from_fragment(data)
            .echo_pit_token(&lp)
            .encode_or_bare(),
    )
}

/// A `rib/register` command for `prefix` (for the link's own face).
pub(crate) fn register_command(prefix: &Name) -> Result<Bytes, String> {
    let params = ControlParameters::with_name(prefix.clone());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    make_command_v03(
        "rib",
        "register",
        &params,
        &Signer::digest_sha256(),
        now_ms,
        now_ms,
    )
    .map(|i| i.wire().clone())
    .map_err(|e| e.to_string())
}

/// What a frame says about a registration: `None` if it is not a management reply.
pub(crate) fn registration_reply(frame: Bytes) -> Option<Result<(), String>> {
    let (fragment, _) = unwrap_lp(frame)?;
    let data = Data::decode(fragment).ok()?;
    Some(match ControlResponse::from_wire(data.content()) {
        Ok(r) if r.status_code == 200 => Ok(()),
        Ok(r) => Err(format!(
            "registration refused: {} {}",
            r.status_code, r.status_text
        )),
        Err(e) => Err(e.to_string()),
    })
}

/// Registers `prefix` on a Unix link through NFD management.
fn register(link: &mut Link, prefix: &Name) -> Result<(), String> {
    link.send(&register_command(prefix)?)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(frame)) = link.recv()
            && let Some(result) = registration_reply(frame)
        {
            return result;
        }
    }
    Err("no answer to the registration".into())
}

/// A forwarder daemon on its own thread, with a tokio runtime of its own.
struct DaemonThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    unix: Option<PathBuf>,
    udp: Option<SocketAddr>,
    /// The ids of the daemon's threads, for their CPU time (`/proc/self/task/<tid>/stat`):
    /// the daemon thread, and its runtime's workers if it has any.
    tids: Arc<std::sync::Mutex<Vec<u32>>>,
}

impl DaemonThread {
    fn start(config: Config, workers: usize) -> Result<Self, String> {
        let shards_before = shard_threads();
        let shards = config.forwarding.threads;
        let tids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = Arc::clone(&tids);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("nfwd-daemon".into())
            .spawn(move || {
                let remember = move || {
                    if let (Some(tid), Ok(mut tids)) = (own_tid(), record.lock()) {
                        tids.push(tid);
                    }
                };
                remember();
                let built = if workers == 0 {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                } else {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(workers)
                        .thread_name("nfwd-daemon-w")
                        .on_thread_start(remember)
                        .enable_all()
                        .build()
                };
                let rt = match built {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    match Daemon::start(config).await {
                        Ok(d) => {
                            let addrs = (d.unix_path().map(Path::to_path_buf), d.udp_addr());
                            let _ = ready_tx.send(Ok(addrs));
                            let _ = stop_rx.await;
                            let _ = d.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        let (unix, udp) = ready_rx.recv().map_err(|e| e.to_string())??;
        // The forwarding shards' threads the daemon started, whose CPU time counts too.
        // Daemons start one after the other, so the new ones are its own; a thread takes its
        // name once it runs, so they are waited for (briefly).
        let wanted = usize::from(shards).saturating_sub(1);
        let mut own = Vec::new();
        for _ in 0..200 {
            own = shard_threads()
                .difference(&shards_before)
                .copied()
                .collect();
            if own.len() >= wanted {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        if own.len() < wanted {
            return Err(format!(
                "found {} of the daemon's {wanted} shard threads",
                own.len()
            ));
        }
        if let Ok(mut tids) = tids.lock() {
            tids.extend(own);
        }
        Ok(Self {
            stop: Some(stop_tx),
            thread: Some(thread),
            unix,
            udp,
            tids,
        })
    }
}

impl Drop for DaemonThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn temp_socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("nfwd-bench-{}-{tag}.sock", std::process::id()))
}

/// The forwarder a measurement goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// nfwd's daemon, on a thread of this process.
    Nfwd,
    /// NFD, started from the NDN reference tools under this prefix.
    Nfd(&'a Path),
}

impl Target<'_> {
    fn label(self) -> &'static str {
        match self {
            Self::Nfwd => "nfwd",
            Self::Nfd(_) => "nfd",
        }
    }
}

/// A running forwarder under test (stopped when dropped): where its faces are, and its CPU
/// time. nfwd's daemon thread here, NFD's process in `nfd.rs`.
pub(crate) trait UnderTest {
    /// Its Unix socket.
    fn unix(&self) -> Option<&Path>;
    /// Its UDP listening address.
    fn udp(&self) -> Option<SocketAddr>;
    /// CPU time it has used so far, in clock ticks ([`TICKS_PER_SECOND`]).
    fn cpu_ticks(&self) -> Option<u64>;
    /// Where the producer connects: its Unix socket and UDP address (the same as the
    /// consumer's but in a line of forwarders).
    fn producer_side(&self) -> (Option<&Path>, Option<SocketAddr>) {
        (self.unix(), self.udp())
    }
}

/// Two nfwd daemons in a line: the consumer's (`a`), whose route to the producer's prefix is
/// a UDP face to `b`, and the producer's.
struct DaemonLine {
    a: DaemonThread,
    b: DaemonThread,
}

impl UnderTest for DaemonLine {
    fn unix(&self) -> Option<&Path> {
        self.a.unix()
    }

    fn udp(&self) -> Option<SocketAddr> {
        self.a.udp()
    }

    fn cpu_ticks(&self) -> Option<u64> {
        Some(self.a.cpu_ticks()? + self.b.cpu_ticks()?)
    }

    fn producer_side(&self) -> (Option<&Path>, Option<SocketAddr>) {
        (self.b.unix(), self.b.udp())
    }
}

/// The configuration of a benchmark's nfwd: its Unix socket named after `tag`, UDP on an
/// ephemeral loopback port, and, given a face URI, a static face there with the benchmark's
/// prefix routed to it, and `settings`' forwarding threads.
fn bench_config(tag: &str, route_to: Option<&str>, settings: &Settings) -> Config {
    let mut config = Config::default();
    config.forwarding.threads = settings.forwarding_threads;
    config.faces.unix_path = Some(temp_socket_path(tag));
    config.faces.tcp_listen = String::new();
    config.faces.udp_listen = "127.0.0.1:0".into();
    config.log.level = "warn".into();
    if let Some(uri) = route_to {
        config.static_faces.push(StaticFace {
            uri: uri.into(),
            persistency: "persistent".into(),
        });
        config.static_routes.push(StaticRoute {
            prefix: "/".into(),
            face: uri.into(),
            cost: 0,
        });
    }
    config
}

impl UnderTest for DaemonThread {
    fn unix(&self) -> Option<&Path> {
        self.unix.as_deref()
    }

    fn udp(&self) -> Option<SocketAddr> {
        self.udp
    }

    fn cpu_ticks(&self) -> Option<u64> {
        let tids = self.tids.lock().ok()?;
        let mut total = 0;
        for t in tids.iter() {
            total += cpu_ticks(&format!("/proc/self/task/{t}/stat"))?;
        }
        Some(total)
    }
}

/// Ids of this process's threads that run forwarding shards (`nfwd-shard-<k>`).
fn shard_threads() -> std::collections::BTreeSet<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return std::collections::BTreeSet::new();
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with("nfwd-shard"))
        })
        .filter_map(|t| t.file_name().to_str()?.parse().ok())
        .collect()
}

/// This thread's id (`/proc/thread-self` links to `<pid>/task/<tid>`).
fn own_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// utime + stime of a `/proc/.../stat` file, in clock ticks.
pub(crate) fn cpu_ticks(stat: &str) -> Option<u64> {
    let text = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Linux reports /proc CPU times in USER_HZ ticks, 100 per second on every architecture
/// it runs on.
pub(crate) const TICKS_PER_SECOND: f64 = 100.0;

/// A consumer's or producer's link to a forwarder's Unix socket at `path`, reads timing out
/// after `timeout`; errors name the `purpose`.
fn unix_link(path: &Path, timeout: Option<Duration>, purpose: &str) -> Result<Link, String> {
    let s = UnixStream::connect(path).map_err(|e| format!("{purpose}: {e}"))?;
    s.set_read_timeout(timeout).map_err(|e| e.to_string())?;
    Ok(Link::Unix {
        stream: s,
        buf: BytesMut::with_capacity(1 << 16),
    })
}

/// Measures one (face kind, name mode, payload) combination through a fresh nfwd.
pub fn measure_forwarder(
    kind: FaceKind,
    mode: NameMode,
    payload: usize,
    settings: &Settings,
) -> Result<Measurement, String> {
    measure_through(Target::Nfwd, kind, mode, payload, settings)
}

/// Measures one (face kind, name mode, payload) combination through a fresh `target`.
pub fn measure_through(
    target: Target<'_>,
    kind: FaceKind,
    mode: NameMode,
    payload: usize,
    settings: &Settings,
) -> Result<Measurement, String> {
    // The producer answers everything routed to it: the consumer's names spread over many
    // first components (`bench_name`).
    let prefix = Name::new();
    let producer_udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let producer_uri = format!(
        "udp4://{}",
        producer_udp.local_addr().map_err(|e| e.to_string())?
    );
    let tag = format!("{payload}-{mode:?}-{kind:?}");
    let forwarder: Box<dyn UnderTest> = match target {
        Target::Nfwd => {
            let to_producer = (kind == FaceKind::Udp).then_some(producer_uri.as_str());
            if settings.line >= 2 {
                let b_config = bench_config(&format!("{tag}-b"), to_producer, settings);
                let b = DaemonThread::start(b_config, settings.daemon_workers)?;
                let to_b = format!("udp4://{}", b.udp().ok_or("no UDP listener")?);
                let a_config = bench_config(&format!("{tag}-a"), Some(&to_b), settings);
                let a = DaemonThread::start(a_config, settings.daemon_workers)?;
                Box::new(DaemonLine { a, b })
            } else {
                let config = bench_config(&tag, to_producer, settings);
                Box::new(DaemonThread::start(config, settings.daemon_workers)?)
            }
        }
        Target::Nfd(tools) => {
            let nfd = crate::nfd::NfdProcess::start(tools, &tag)?;
            if kind == FaceKind::Udp {
                nfd.nfdc(&["face", "create", &producer_uri, "persistency", "persistent"])?;
                nfd.nfdc(&["route", "add", "/", &producer_uri])?;
            }
            Box::new(nfd)
        }
    };
    let timeout = Some(Duration::from_millis(100));
    let connect = |purpose: &str| -> Result<Link, String> {
        match kind {
            FaceKind::Udp => {
                let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
                let to = forwarder.udp().ok_or("the forwarder has no UDP face")?;
                s.connect(to).map_err(|e| e.to_string())?;
                s.set_read_timeout(timeout).map_err(|e| e.to_string())?;
                Ok(Link::Udp(s))
            }
            FaceKind::Unix => {
                let path = forwarder.unix().ok_or("the forwarder has no Unix socket")?;
                unix_link(path, timeout, purpose)
            }
        }
    };
    let (producer_unix, producer_udp_to) = forwarder.producer_side();
    let mut producer_link = match kind {
        FaceKind::Udp => {
            let to = producer_udp_to.ok_or("the forwarder has no UDP face")?;
            producer_udp.connect(to).map_err(|e| e.to_string())?;
            producer_udp
                .set_read_timeout(timeout)
                .map_err(|e| e.to_string())?;
            Link::Udp(producer_udp)
        }
        FaceKind::Unix => {
            let path = producer_unix.ok_or("the forwarder has no Unix socket")?;
            unix_link(path, timeout, "producer")?
        }
    };
    if kind == FaceKind::Unix {
        register(&mut producer_link, &prefix)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || produce(producer_link, payload, &stop))
    };
    let mut consumer_link = connect("consumer")?;
    // Warm-up: let faces come up and routes settle before measuring.
    let warm = Settings {
        duration: Duration::from_millis(300),
        ..settings.clone()
    };
    let _ = consume(
        &mut consumer_link,
        &Name::new().append_generic(b"warmup"),
        NameMode::Distinct,
        &warm,
    );
    let run_prefix = Name::new().append_generic(format!("{mode:?}-{payload}").as_bytes());
    let cpu_before = forwarder.cpu_ticks();
    let start = Instant::now();
    let rec = consume(&mut consumer_link, &run_prefix, mode, settings);
    let elapsed = start.elapsed();
    let cpu_after = forwarder.cpu_ticks();
    stop.store(true, Ordering::Relaxed);
    let _ = producer.join();
    drop(forwarder);
    let case = format!("{kind:?} {mode:?}").to_lowercase();
    let who = match target {
        Target::Nfwd if settings.line >= 2 => "nfwd line of 2",
        _ => target.label(),
    };
    let label = format!("{who} {case} names, {payload} B");
    let mut m = rec.finish(label, elapsed);
    if let (Some(a), Some(b)) = (cpu_before, cpu_after)
        && m.exchanges > 0
    {
        m.cpu_us_per_exchange =
            Some(b.saturating_sub(a) as f64 / TICKS_PER_SECOND * 1e6 / m.exchanges as f64);
    }
    Ok(m)
}

/// Measures a minimal UDP echo between two threads on loopback, with the same window.
pub fn measure_udp_echo(payload: usize, settings: &Settings) -> Result<Measurement, String> {
    let server = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let server_addr = server.local_addr().map_err(|e| e.to_string())?;
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = server.recv_from(&mut buf) {
                    let _ = server.send_to(&buf[..n], from);
                }
            }
        })
    };
    let client = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    client.connect(server_addr).map_err(|e| e.to_string())?;
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut rec = Recorder {
        rtts_us: Vec::with_capacity(1 << 20),
        lost: 0,
    };
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut msg = vec![0u8; payload.max(8)];
    let mut seq = 0u64;
    let send =
        |client: &UdpSocket, sent: &mut HashMap<u64, Instant>, seq: &mut u64, msg: &mut Vec<u8>| {
            msg[..8].copy_from_slice(&seq.to_be_bytes());
            if client.send(msg).is_ok() {
                sent.insert(*seq, Instant::now());
            }
            *seq += 1;
        };
    for _ in 0..settings.window {
        send(&client, &mut sent, &mut seq, &mut msg);
    }
    let mut buf = vec![0u8; 65536];
    let start = Instant::now();
    while start.elapsed() < settings.duration {
        match client.recv(&mut buf) {
            Ok(n) if n >= 8 => {
                let s = u64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
                if let Some(t) = sent.remove(&s) {
                    rec.rtts_us
                        .push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    send(&client, &mut sent, &mut seq, &mut msg);
                }
            }
            Ok(_) => {}
            Err(_) => {
                let now = Instant::now();
                let old: Vec<u64> = sent
                    .iter()
                    .filter(|(_, t)| now.duration_since(**t) > Duration::from_secs(1))
                    .map(|(s, _)| *s)
                    .collect();
                for s in old {
                    sent.remove(&s);
                    rec.lost += 1;
                    send(&client, &mut sent, &mut seq, &mut msg);
                }
            }
        }
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    Ok(rec.finish(format!("udp echo, {payload} B"), elapsed))
}

/// Everything `nfwd bench` measures, in one run: per payload the UDP echo, then every
/// (face, names) case through nfwd and, with `settings.nfd`, through NFD right after it,
/// `settings.rounds` times.
pub fn run(settings: &Settings) -> Result<Vec<Measurement>, String> {
    let mut out = Vec::new();
    let mut targets = vec![Target::Nfwd];
    if let Some(tools) = &settings.nfd {
        targets.push(Target::Nfd(tools));
    }
    for &payload in &settings.payloads {
        for _ in 0..settings.rounds.max(1) {
            out.push(measure_udp_echo(payload, settings)?);
            for &kind in &settings.faces {
                for &mode in &settings.modes {
                    for &target in &targets {
                        out.push(measure_through(target, kind, mode, payload, settings)?);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Resident memory of this process in KiB (Linux), for the memory report.
#[must_use]
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Fills a forwarder's content store with `count` distinct Data of `payload` bytes (over the
/// Unix face) and returns (RSS before, RSS after, entries cached) in KiB.
pub fn measure_cs_memory(count: usize, payload: usize) -> Result<(u64, u64, usize), String> {
    let prefix: Name = "/fill"
        .parse()
        .map_err(|e: nfwd_tlv::Error| e.to_string())?;
    let mut config = Config::default();
    config.faces.unix_path = Some(temp_socket_path("memory"));
    config.faces.tcp_listen = String::new();
    config.faces.udp_listen = String::new();
    config.tables.cs_max_entries = count;
    let before = rss_kib().unwrap_or(0);
    let daemon = DaemonThread::start(config, 0)?;
    let path = daemon.unix.clone().ok_or("no Unix socket")?;
    let link = |p: &Path| -> Result<Link, String> {
        let s = UnixStream::connect(p).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        Ok(Link::Unix {
            stream: s,
            buf: BytesMut::new(),
        })
    };
    let mut producer_link = link(&path)?;
    register(&mut producer_link, &prefix)?;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || produce(producer_link, payload, &stop))
    };
    let mut consumer = link(&path)?;
    let mut done = 0usize;
    let mut sent = 0usize;
    let window = 64usize;
    while done < count {
        while sent < count && sent - done < window {
            let name = prefix.append(&nfwd_tlv::Component::sequence_num(sent as u64));
            let wire = InterestBuilder::new(name)
                .nonce((sent as u32).to_be_bytes())
                .lifetime_ms(4000)
                .encode();
            consumer.send(&wire).map_err(|e| e.to_string())?;
            sent += 1;
        }
        match consumer.recv() {
            Ok(Some(_)) => done += 1,
            Ok(None) => {
                // Losses are not expected on a Unix socket; resynchronise the window.
                sent = done;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let after = rss_kib().unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    let _ = producer.join();
    drop(daemon);
    Ok((before, after, done))
}

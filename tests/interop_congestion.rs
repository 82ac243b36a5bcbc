//! Issue 14 (items 1, 2 and 6): local consumers under load, and congestion marks, against
//! ndn-tools' own consumer. `ndnputchunks` publishes 20 MiB and `ndncatchunks` fetches it
//! through nfwd on its Unix socket with the AIMD and CUBIC pipelines: the output is
//! byte-identical, under 1% of the segments are retransmitted (the write queue, bounded in
//! bytes, no longer drops under a consumer's window), and the consumer sees CongestionMarks
//! (`ndncatchunks -v` prints "Congestion marks: N" in its summary).
//!
//! And a CongestionMark a producer sets reaches the consumer (and a consumer's reaches the
//! producer), as through NFD: raw Unix sockets on both sides, no tools needed.
//!
//! And over UDP towards a real NFD in a network namespace: with pacing
//! (`faces.udp_pacing_*`), a fixed window of Data no longer overflows NFD's receive buffer.
//!
//! The tools come from `../shared/anchors` (`common/anchors.rs`); missing tools fail under
//! `CI=true` and skip visibly otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::anchors::{Daemon, NfdInNetns, ndn_tools, text, tool};
use common::netns::Netns;
use common::{TempDir, cannot_run, is_root};
use nfwd_tlv::lp::LpPacket;
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v03};
use nfwd_tlv::{Data, DataBuilder, Interest, InterestBuilder, Name, Signer};

const FILE_BYTES: usize = 20 << 20;

/// 20 MiB that do not compress or repeat (xorshift).
fn file_bytes() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(FILE_BYTES);
    while v.len() < FILE_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(FILE_BYTES);
    v
}

/// `DIR/home` with a key of its own (ndnputchunks signs with it).
fn keychain(tools: &Path, dir: &Path) -> std::path::PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let keygen = tool(tools, "ndnsec", &home, &dir.join("none.sock"), None)
        .args(["key-gen", "/localhost/operator"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(keygen.status.success(), "ndnsec key-gen: {}", text(&keygen));
    home
}

/// What `ndncatchunks -v` says at the end.
#[derive(Debug, Default)]
struct Summary {
    segments: u64,
    retransmitted: u64,
    marks: u64,
    goodput: String,
}

/// The number after `key` on the line that starts with it.
fn field(stderr: &str, key: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.trim_start().starts_with(key))?;
    line.trim_start()[key.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn summary(stderr: &str) -> Summary {
    Summary {
        segments: field(stderr, "Segments received:").unwrap_or(0),
        retransmitted: field(stderr, "Retransmitted segments:").unwrap_or(0),
        marks: field(stderr, "Congestion marks:").unwrap_or(0),
        goodput: stderr
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("Goodput:"))
            .unwrap_or("?")
            .trim()
            .to_owned(),
    }
}

/// Publishes `file` under `prefix` with ndnputchunks (killed on drop); returns once nfwd
/// routes the prefix.
struct Producer(std::process::Child);

impl Producer {
    fn start(tools: &Path, home: &Path, socket: &Path, file: &Path, prefix: &str) -> Self {
        let child = tool(tools, "ndnputchunks", home, socket, None)
            .arg(prefix)
            .stdin(Stdio::from(std::fs::File::open(file).unwrap()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Self(child);
        // It reads and signs everything first, then registers.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let o = tool(tools, "nfdc", home, socket, None)
                .args(["route", "list"])
                .output()
                .unwrap();
            if text(&o).contains(&format!("prefix={prefix} ")) {
                return p;
            }
            assert!(Instant::now() < deadline, "ndnputchunks never registered");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fetches `prefix` with ndncatchunks and `pipeline`; checks the bytes.
fn catchunks(
    tools: &Path,
    home: &Path,
    socket: &Path,
    prefix: &str,
    pipeline: &str,
    expected: &[u8],
) -> Summary {
    let mut cmd = tool(tools, "ndncatchunks", home, socket, None);
    cmd.args(["-v", "--pipeline-type", pipeline, prefix]);
    run_catchunks(cmd, pipeline, expected)
}

/// Runs the ndncatchunks command `cmd` (`-v`, fetching something that should be `expected`);
/// checks its success and the bytes, prints and returns its summary.
fn run_catchunks(mut cmd: Command, what: &str, expected: &[u8]) -> Summary {
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let tail: String = stderr
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(o.status.success(), "ndncatchunks {what}: {tail}");
    assert!(
        o.stdout == expected,
        "ndncatchunks {what}: {} bytes, not the {} published",
        o.stdout.len(),
        expected.len()
    );
    let s = summary(&stderr);
    eprintln!(
        "ndncatchunks {what} through nfwd: {} segments, {} retransmitted, {} congestion \
         marks, goodput {}",
        s.segments, s.retransmitted, s.marks, s.goodput
    );
    s
}

/// Publishes 20 MiB twice (a prefix per pipeline) and fetches them with ndncatchunks' AIMD and
/// CUBIC pipelines through one nfwd started with `config_extra` in its `[faces]`; checks the
/// bytes and returns each pipeline's summary (nothing if the tools cannot be had).
fn fetch_both(tag: &str, config_extra: &str) -> Vec<(String, Summary)> {
    let tools = match ndn_tools() {
        Ok(t) => t,
        Err(e) => {
            cannot_run(tag, &e);
            return Vec::new();
        }
    };
    let dir = TempDir::new(tag);
    let socket = dir.0.join("nfwd.sock");
    let config = dir.0.join("nfwd.toml");
    std::fs::write(
        &config,
        format!(
            "[faces]\nunix_path = {socket:?}\ntcp_listen = \"\"\nudp_listen = \"\"\n{config_extra}"
        ),
    )
    .unwrap();
    let home = keychain(&tools, &dir.0);
    let file = dir.0.join("file");
    let bytes = file_bytes();
    std::fs::write(&file, &bytes).unwrap();
    let _daemon = Daemon::start(&socket, |c| {
        c.arg("--config").arg(&config);
    });
    let mut out = Vec::new();
    for pipeline in ["aimd", "cubic"] {
        // A prefix each: the second fetch must not come from nfwd's content store.
        let prefix = format!("/congestion/{tag}/{pipeline}");
        let _producer = Producer::start(&tools, &home, &socket, &file, &prefix);
        let s = catchunks(&tools, &home, &socket, &prefix, pipeline, &bytes);
        out.push((pipeline.to_owned(), s));
    }
    out
}

/// The defaults: nothing lost, under 1% retransmitted (NFD: 0; with the old 256-frame queue
/// 20-30%). Marks come when a consumer's window outgrows the socket buffer and 64 KiB of
/// nfwd's queue (3 per pipeline on an idle machine); how many depends on timing, so they are
/// reported here and required in the next test.
#[test]
fn catchunks_aimd_and_cubic_fetch_20_mib_through_nfwd_without_loss() {
    for (pipeline, s) in fetch_both("catchunks", "") {
        assert!(s.segments > 2000, "{pipeline}: {s:?}");
        assert!(
            s.retransmitted * 100 < s.segments,
            "{pipeline}: {} of {} segments retransmitted",
            s.retransmitted,
            s.segments
        );
    }
}

/// A small queue (64 KiB) makes the threshold half of it (32 KiB, below NFD's default 65536):
/// every excursion above it is marked at once, so both pipelines see marks. (Frames beyond
/// the 64 KiB bound are dropped, so retransmissions are not checked here.)
#[test]
fn catchunks_see_congestion_marks_from_nfwd() {
    for (pipeline, s) in fetch_both("marks", "write_queue_bytes = 65536\n") {
        assert!(s.marks > 0, "{pipeline}: no congestion marks: {s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// A producer's mark reaches the consumer.

/// Reads one TLV frame.
fn read_frame(s: &mut UnixStream) -> Bytes {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        s.read_exact(&mut byte).unwrap();
        buf.push(byte[0]);
        if let Ok((_, len, hdr)) = nfwd_tlv::element::read_header(&buf) {
            let mut rest = vec![0u8; hdr + len - buf.len()];
            s.read_exact(&mut rest).unwrap();
            buf.extend_from_slice(&rest);
            return Bytes::from(buf);
        }
        assert!(buf.len() < 16, "no TLV header");
    }
}

fn connect(socket: &Path) -> UnixStream {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn marked(frame: Bytes) -> Bytes {
    LpPacket {
        congestion_mark: Some(1),
        ..LpPacket::from_fragment(frame)
    }
    .encode()
}

#[test]
fn a_producers_congestion_mark_reaches_the_consumer_and_back() {
    let dir = TempDir::new("mark-passes");
    let socket = dir.0.join("nfwd.sock");
    let config = dir.0.join("nfwd.toml");
    // Any local application may register a prefix for itself (docs/security.md).
    std::fs::write(
        &config,
        format!("[faces]\nunix_path = {socket:?}\ntcp_listen = \"\"\nudp_listen = \"\"\n"),
    )
    .unwrap();
    let _daemon = Daemon::start(&socket, |c| {
        c.arg("--config").arg(&config);
    });
    let prefix: Name = "/mark".parse().unwrap();
    let mut producer = connect(&socket);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let register = make_command_v03(
        "rib",
        "register",
        &ControlParameters {
            name: Some(prefix),
            ..ControlParameters::default()
        },
        &Signer::digest_sha256(),
        1,
        now_ms,
    )
    .unwrap();
    producer.write_all(register.wire()).unwrap();
    let reply = LpPacket::decode(read_frame(&mut producer)).unwrap();
    let reply = Data::decode(reply.fragment.unwrap()).unwrap();
    let r = ControlResponse::from_wire(reply.content()).unwrap();
    assert_eq!(r.status_code, 200, "{r:?}");

    let mut consumer = connect(&socket);
    let interest = InterestBuilder::new("/mark/x".parse().unwrap())
        .build()
        .unwrap();
    consumer
        .write_all(&marked(interest.wire().clone()))
        .unwrap();
    // The consumer's mark reaches the producer with the Interest.
    let got = LpPacket::decode(read_frame(&mut producer)).unwrap();
    assert_eq!(got.congestion_mark, Some(1), "{got:?}");
    let got_interest = Interest::decode(got.fragment.clone().unwrap()).unwrap();
    assert_eq!(got_interest.name(), interest.name());
    // The producer marks its Data; the consumer gets the mark.
    let data = DataBuilder::new("/mark/x".parse().unwrap(), b"marked".to_vec())
        .sign(&Signer::digest_sha256())
        .unwrap();
    let answer = LpPacket {
        congestion_mark: Some(1),
        ..LpPacket::from_fragment(data.clone())
    }
    .echo_pit_token(&got)
    .encode();
    producer.write_all(&answer).unwrap();
    let back = LpPacket::decode(read_frame(&mut consumer)).unwrap();
    assert_eq!(back.congestion_mark, Some(1), "{back:?}");
    assert_eq!(back.fragment.unwrap(), data);
    // Unmarked, the next exchange stays unmarked.
    let interest = InterestBuilder::new("/mark/y".parse().unwrap())
        .build()
        .unwrap();
    consumer.write_all(interest.wire()).unwrap();
    let got = LpPacket::decode(read_frame(&mut producer)).unwrap();
    assert_eq!(got.congestion_mark, None);
    let data = DataBuilder::new("/mark/y".parse().unwrap(), b"plain".to_vec())
        .sign(&Signer::digest_sha256())
        .unwrap();
    producer
        .write_all(
            &LpPacket::from_fragment(data.clone())
                .echo_pit_token(&got)
                .encode_or_bare(),
        )
        .unwrap();
    let back = read_frame(&mut consumer);
    assert_eq!(back, data, "sent bare, as it came");
}

// ---------------------------------------------------------------------------------------------
// UDP pacing towards NFD's default receive buffer.

/// `RcvbufErrors` of UDP in network namespace `ns`: datagrams its sockets dropped for want of
/// receive buffer.
fn udp_rcvbuf_errors(ns: &str) -> u64 {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/snmp"])
        .output()
        .unwrap();
    let snmp = String::from_utf8_lossy(&out.stdout);
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "RcvbufErrors")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// One fetch across the UDP face from nfwd to NFD.
#[derive(Debug)]
struct UdpRun {
    catchunks: Summary,
    /// Datagrams NFD's namespace dropped for want of receive buffer during the fetch.
    rcvbuf_errors: u64,
    /// Frames that waited in nfwd's pacer.
    paced_frames: u64,
}

/// nfwd (in our namespace, `udp_pacing_rate_mbps = rate`, an `ndnputchunks` producer of
/// `file` on it) ← UDP ← NFD (in `ns`) ← `ndncatchunks` with a fixed window of 64 in `ns`.
#[expect(clippy::too_many_arguments, reason = "one test's two runs")]
fn fetch_from_nfwd_through_nfd(
    ns: &Netns,
    nfd: &NfdInNetns,
    tools: &Path,
    dir: &Path,
    tag: &str,
    rate_mbps: u64,
    file: &Path,
    bytes: &[u8],
) -> UdpRun {
    let socket = dir.join(format!("{tag}.sock"));
    let config = dir.join(format!("{tag}.toml"));
    std::fs::write(
        &config,
        format!("[faces]\nudp_pacing_rate_mbps = {rate_mbps}\n"),
    )
    .unwrap();
    let port = 20_000 + std::process::id() % 20_000 + u32::try_from(rate_mbps % 7).unwrap();
    let udp = format!("{}:{port}", ns.host_ip);
    let nfwd = common::netns::Daemon::start(
        dir,
        tag,
        None,
        &[
            "--tcp",
            "",
            "--udp",
            &udp,
            "--config",
            &config.display().to_string(),
        ],
    );
    let home = dir.join("home");
    let prefix = format!("/pacing/{tag}");
    let _producer = Producer::start(tools, &home, &socket, file, &prefix);
    let face = format!("udp4://{udp}");
    let (ok, out) = nfd.nfdc(&["face", "create", &face]);
    assert!(ok, "nfdc face create {face}: {out}");
    let (ok, out) = nfd.nfdc(&["route", "add", &prefix, &face]);
    assert!(ok, "nfdc route add: {out}");
    let before = udp_rcvbuf_errors(&ns.name);
    let mut cmd = nfd.tool("ndncatchunks");
    cmd.args([
        "-v",
        "--pipeline-type",
        "fixed",
        "--pipeline-size",
        "64",
        &prefix,
    ]);
    let catchunks = run_catchunks(cmd, tag, bytes);
    let rcvbuf_errors = udp_rcvbuf_errors(&ns.name) - before;
    let counters: serde_json::Value =
        serde_json::from_str(&nfwd.cli(&["status", "--counters", "--json"]).unwrap()).unwrap();
    let paced_frames = counters["driver"]["udp_paced_frames"].as_u64().unwrap();
    let (ok, out) = nfd.nfdc(&["face", "destroy", &face]);
    assert!(ok, "nfdc face destroy {face}: {out}");
    UdpRun {
        catchunks,
        rcvbuf_errors,
        paced_frames,
    }
}

/// 8 MiB in 8000-byte segments, a window of 64 of them (~530 KB) answered at once by nfwd
/// over UDP to NFD, whose socket has the kernel's default receive buffer (~208 KiB): unpaced,
/// the burst overflows it and NFD's namespace counts RcvbufErrors; paced at 50 Mbit/s the
/// frames wait in nfwd instead, and NFD's buffer holds.
///
/// Whether it holds depends on NFD reading 1,600 segments a second: 200 Mbit/s held on an
/// idle machine but not with builds running beside the test (27 of 1,049 dropped), and 100
/// Mbit/s once failed in CI (14 of 1,049, the machine busy with the rest of the suite), so the
/// paced run leaves NFD four times that margin (the pacer still holds back nearly every
/// frame of the bursts: about 1,000 of 1,049 waited in four runs at 50, none dropped).
#[test]
fn udp_pacing_keeps_bursts_within_an_nfd_peers_receive_buffer() {
    const TEST: &str = "udp_pacing_keeps_bursts_within_an_nfd_peers_receive_buffer";
    if !is_root() {
        cannot_run(TEST, "needs root (network namespaces)");
        return;
    }
    let tools = match ndn_tools() {
        Ok(t) => t,
        Err(e) => {
            cannot_run(TEST, &e);
            return;
        }
    };
    let Some(ns) = Netns::create("pc", 79, 1) else {
        cannot_run(TEST, "could not create a network namespace and veth pair");
        return;
    };
    let dir = TempDir::new("udp-pacing");
    let nfd = NfdInNetns::start(&tools, &ns.name, &dir.0);
    keychain(&tools, &dir.0);
    let file = dir.0.join("file");
    let mut bytes = file_bytes();
    bytes.truncate(8 << 20);
    std::fs::write(&file, &bytes).unwrap();

    let unpaced =
        fetch_from_nfwd_through_nfd(&ns, &nfd, &tools, &dir.0, "unpaced", 0, &file, &bytes);
    let paced = fetch_from_nfwd_through_nfd(&ns, &nfd, &tools, &dir.0, "paced", 50, &file, &bytes);
    // The default rate, for the record (whether it holds depends on how fast NFD reads here).
    let default =
        fetch_from_nfwd_through_nfd(&ns, &nfd, &tools, &dir.0, "default", 1000, &file, &bytes);
    eprintln!("unpaced: {unpaced:?}\npaced:   {paced:?}\ndefault: {default:?}");
    assert_eq!(unpaced.paced_frames, 0, "pacing off: nothing waits");
    assert!(
        paced.paced_frames > 0,
        "bursts waited in the pacer: {paced:?}"
    );
    assert!(
        paced.rcvbuf_errors <= unpaced.rcvbuf_errors,
        "pacing cannot make NFD drop more: {paced:?} vs {unpaced:?}"
    );
    assert!(
        paced.rcvbuf_errors * 100 <= paced.catchunks.segments,
        "paced, NFD's buffer holds (under 1% dropped): {paced:?}"
    );
}

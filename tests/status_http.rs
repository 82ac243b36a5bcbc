//! `nfwd start --http`: `/metrics` scraped and read back as the Prometheus exposition,
//! `/status.json` parsed, and hostile peers bounded: unknown paths and methods, an oversized
//! request head, a slowloris, more connections than allowed, a public address not asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, free_port};
use nfwd_forwarder::metrics;

/// A daemon with `--http` on a free loopback port; stopped on drop.
struct Daemon {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Drop for Daemon {
    /// SIGTERM first, so an SF host cleans up after itself; SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(tag: &str) -> Self {
        Self::start_with(TempDir::new(tag), &[])
    }

    /// With `args` after the others; `dir` is the daemon's (and holds its socket).
    fn start_with(dir: TempDir, args: &[&str]) -> Self {
        let unix = dir.0.join("nfwd.sock");
        // A free port can be taken by another test between its choice and the daemon's bind:
        // the daemon then exits at once, and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_nfwd"))
                .args(["start", "--tcp", "", "--udp", "", "--unix"])
                .arg(&unix)
                .args(["--http", &format!("127.0.0.1:{port}")])
                .args(args)
                .env("NFWD_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            // The HTTP port is bound before the daemon makes its socket. (Not probed: a probe
            // would hold one of the server's connection slots for a moment.)
            let deadline = Instant::now() + Duration::from_secs(20);
            while !unix.exists() {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "nfwd did not come up");
                std::thread::sleep(Duration::from_millis(50));
            }
            if unix.exists() {
                return Self { child, port, dir };
            }
            let _ = child.wait();
        }
        panic!("nfwd did not come up on any of five ports");
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s
    }

    /// Sends `request` as is; returns everything the server sent until it closed.
    fn exchange(&self, request: &[u8]) -> String {
        let mut s = self.connect();
        s.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// `METHOD path` with a minimal head; (status line, headers, body).
    fn request(&self, method: &str, path: &str) -> (String, String, String) {
        let answer = self
            .exchange(format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
        (status.to_owned(), headers.to_lowercase(), body.to_owned())
    }
}

#[test]
fn metrics_and_status_json_are_served() {
    let d = Daemon::start("http-scrape");
    // The first scrape's own dataset Interest is counted by the second.
    let _ = d.request("GET", "/metrics");
    let (status, headers, body) = d.request("GET", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{headers}{body}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    assert!(headers.contains("connection: close"), "{headers}");
    let families = metrics::parse(&body).unwrap();
    let value = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.samples.first())
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("no {name} in {body}"))
    };
    assert!(value("nfwd_forwarder_in_interests_total") > 0, "{body}");
    assert!(value("nfwd_tables_faces") > 0, "{body}");
    let in_interests = families
        .iter()
        .find(|f| f.name == "nfwd_forwarder_in_interests_total")
        .unwrap();
    assert_eq!(in_interests.kind, metrics::Kind::Counter);
    assert_eq!(in_interests.help, "Interests received.");
    // Every face's counters, labelled with the face.
    let face = families
        .iter()
        .find(|f| f.name == "nfwd_face_in_interests_total")
        .unwrap();
    assert!(
        face.samples
            .iter()
            .any(|s| s.label("face").is_some() && s.label("remote").is_some()),
        "{body}"
    );

    // HEAD: the same head, no body.
    let (status, headers, body) = d.request("HEAD", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("content-length: "), "{headers}");
    assert!(body.is_empty(), "{body}");

    let (status, _, body) = d.request("GET", "/status.json");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json["status"]["version"].is_string(), "{json}");
    assert!(
        json["status"]["in_interests"].as_u64().unwrap() > 0,
        "{json}"
    );
    assert!(
        json["counters"]["forwarder"]["in_interests"]
            .as_u64()
            .unwrap()
            > 0,
        "{json}"
    );
    assert!(json["counters"]["faces"].is_array(), "{json}");
    // What the status page shows besides: faces, routes, the content store.
    assert!(
        json["faces"].as_array().is_some_and(|f| !f.is_empty()),
        "{json}"
    );
    assert!(json["faces"][0]["remote_uri"].is_string(), "{json}");
    assert!(json["routes"]["fib"].is_array(), "{json}");
    assert!(json["routes"]["rib"].is_array(), "{json}");
    assert!(json["cs"]["capacity"].as_u64().is_some(), "{json}");
    assert!(json["sfs"].is_null(), "no SF host here: {json}");
    assert_eq!(
        json["chains"],
        serde_json::json!([]),
        "no chain yet: {json}"
    );
    // Latency histograms, forwarder-wide, each with its buckets, sum and count.
    let (_, _, body) = d.request("GET", "/metrics");
    let families = metrics::parse(&body).unwrap();
    let rtt = families
        .iter()
        .find(|f| f.name == "nfwd_forwarder_upstream_rtt_seconds")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(rtt.kind, metrics::Kind::Histogram);
    assert_eq!(rtt.histograms.len(), 1);
    assert!(body.contains("nfwd_forwarder_upstream_rtt_seconds_bucket{le=\"+Inf\"} "));
}

/// The status page (`/`), drawn by a real browser — headless Chromium from Debian — which
/// runs its script against `/status.json`: the DOM holds the daemon's faces, and the
/// screenshot is a page, not a blank.
#[test]
fn the_status_page_renders_in_a_headless_browser() {
    const TEST: &str = "the_status_page_renders_in_a_headless_browser";
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        common::cannot_run(TEST, "no Chromium (apt-get install chromium)");
        return;
    };
    let d = Daemon::start("http-page");
    // A chained exchange first, for the page's chains table: an SF and a producer on the
    // daemon, and a consumer asking for the chain.
    let connect = format!("unix://{}", d.dir.0.join("nfwd.sock").display());
    let nfwd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(args)
            .args(["--connect", &connect])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut helpers = [
        nfwd(&[
            "sf",
            "run",
            "--builtin",
            "reverse",
            "--function",
            "/sf/page-rev",
        ]),
        nfwd(&["serve", "/page/text", "--text", "drawn"]),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args([
                "get",
                "/page/text",
                "--chain",
                "/sf/page-rev",
                "--connect",
                &connect,
            ])
            .output()
            .unwrap();
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "nward");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the chain never answered: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for h in &mut helpers {
        let _ = h.kill();
        let _ = h.wait();
    }
    let (status, headers, body) = d.request("GET", "/");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(headers.contains("content-type: text/html"), "{headers}");
    assert!(body.contains("<title>nfwd status</title>"), "{body}");

    let dir = TempDir::new("http-page-browser");
    let url = format!("http://127.0.0.1:{}/", d.port);
    let browser_run = |extra: &[&str]| {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--virtual-time-budget=5000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.0.join("profile").display()
            ))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let out = browser_run(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-ready=\"1\""), "the script ran: {dom}");
    assert!(dom.contains("version "), "{dom}");
    // The HTTP server's own management connection is one of the faces listed.
    assert!(dom.contains("on-demand"), "faces drawn: {dom}");
    assert!(!dom.contains("class=\"err\""), "no error shown: {dom}");
    // The latency table is drawn from the histograms, the chains table from the chain that
    // ran (the function ran on a local SF).
    assert!(
        dom.contains("chain_hop_rtt_seconds"),
        "latency drawn: {dom}"
    );
    let chains = dom
        .split("<table id=\"chains\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no chains table: {dom}"));
    assert!(chains.contains("<td>/page/text</td>"), "{chains}");
    assert!(chains.contains("<td>/sf/page-rev</td>"), "{chains}");
    assert!(chains.contains("<td>data</td>"), "{chains}");
    assert!(chains.contains("(local SF)"), "{chains}");

    let shot = dir.0.join("page.png");
    let out = browser_run(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1200,900",
    ]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {out:?}"));
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (1200, 900));
    // Text, tables and cards: many colours, and the page's background most of all.
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels() {
        colours.insert(p.0);
    }
    assert!(
        colours.len() > 20,
        "a blank page: {} colours",
        colours.len()
    );
    let background = img.pixels().filter(|p| p.0 == [0xf6, 0xf7, 0xf9]).count();
    assert!(
        background > (1200 * 900) / 4,
        "the page's background covers {background} pixels"
    );
}

/// With `--sf-host`, `/metrics` also has the SF host's counters, labelled with the SF.
#[test]
fn metrics_include_the_sf_hosts_counters() {
    let dir = TempDir::new("http-sf");
    let specs = dir.0.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    // Deployed, no instance kept warm: nothing runs until asked.
    std::fs::write(
        specs.join("rev.toml"),
        "name = \"/sf/http-rev\"\nbackend = \"process\"\n[artifact]\nkind = \"builtin\"\n\
         function = \"reverse\"\n[instances]\nmin = 0\n",
    )
    .unwrap();
    let specs = specs.display().to_string();
    let owner = format!("http-test-{}", std::process::id());
    let d = Daemon::start_with(
        dir,
        &["--sf-host", "--sf-specs", &specs, "--sf-owner", &owner],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, _, body) = d.request("GET", "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        if body.contains("nfwd_sf_") {
            break body;
        }
        assert!(Instant::now() < deadline, "no SF counters: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let families = metrics::parse(&body).unwrap();
    let instances = families
        .iter()
        .find(|f| f.name == "nfwd_sf_instances")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(instances.kind, metrics::Kind::Gauge);
    assert_eq!(instances.samples[0].label("sf"), Some("/sf/http-rev"));
    assert_eq!(instances.samples[0].value, 0);
    let requests = families
        .iter()
        .find(|f| f.name == "nfwd_sf_requests_total")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(requests.kind, metrics::Kind::Counter);
    // The forwarder's own are still there.
    assert!(
        families
            .iter()
            .any(|f| f.name == "nfwd_forwarder_in_interests_total"),
        "{body}"
    );

    // A chained exchange through the SF: its latency shows in the SF's histogram, the
    // forwarder's chain-hop histogram, and the chains recently computed.
    let connect = format!("unix://{}", d.dir.0.join("nfwd.sock").display());
    let mut producer = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args([
            "serve",
            "/http/text",
            "--text",
            "hello",
            "--connect",
            &connect,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let got = loop {
        let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args([
                "get",
                "/http/text",
                "--chain",
                "/sf/http-rev",
                "--connect",
                &connect,
            ])
            .output()
            .unwrap();
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the chain never answered: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = producer.kill();
    let _ = producer.wait();
    assert_eq!(got.trim_end(), "olleh");
    // The SF host's datasets may be answered from the content store for a second.
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (_, _, body) = d.request("GET", "/metrics");
        if !body.contains("nfwd_sf_request_seconds_count{sf=\"/sf/http-rev\"} 0") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the SF's latency never counted: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let families = metrics::parse(&body).unwrap();
    let histogram = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no {name} in {body}"))
    };
    let sf = histogram("nfwd_sf_request_seconds");
    assert_eq!(sf.kind, metrics::Kind::Histogram);
    assert_eq!(sf.histograms[0].label("sf"), Some("/sf/http-rev"));
    assert!(sf.histograms[0].count >= 1, "{body}");
    assert!(sf.histograms[0].sum > 0.0, "{body}");
    let hop = histogram("nfwd_forwarder_chain_hop_rtt_seconds");
    assert!(hop.histograms[0].count >= 1, "{body}");
    assert!(
        histogram("nfwd_face_rtt_seconds")
            .histograms
            .iter()
            .any(|h| h.count >= 1 && h.label("remote").is_some()),
        "{body}"
    );
    let (_, _, body) = d.request("GET", "/status.json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let chains = json["chains"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"));
    let done = chains
        .iter()
        .find(|c| c["name"] == "/http/text" && c["outcome"] == "data")
        .unwrap_or_else(|| panic!("no chain recorded: {json}"));
    assert_eq!(done["chain"][0], "/sf/http-rev", "{json}");
    assert_eq!(done["local"], true, "{json}");
    assert!(done["latency_us"].as_u64().is_some(), "{json}");
    let text = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["status", "--chains", "--connect", &connect])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines().any(
            |l| l.starts_with("/http/text  [/sf/http-rev]  data  via face ")
                && l.contains(" (local SF)  ")
                && l.ends_with(" ms")
        ),
        "{text}"
    );
    assert!(
        json["counters"]["latency"]["forwarder"]["chain_hop_rtt_seconds"]["count"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{json}"
    );
}

#[test]
fn other_paths_and_methods_are_refused() {
    let d = Daemon::start("http-refused");
    let (status, _, _) = d.request("GET", "/nope");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let (status, headers, _) = d.request(method, "/metrics");
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed", "{method}");
        assert!(headers.contains("allow: get, head"), "{headers}");
    }
    // A POST with a body is refused the same way, its body unread.
    let answer = d.exchange(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    // Not HTTP at all.
    let answer = d.exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
    assert!(!answer.contains(" 200 "), "{answer}");
}

#[test]
fn an_oversized_head_is_refused() {
    let d = Daemon::start("http-oversized");
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 64 * 1024));
    request.extend(b"\r\n\r\n");
    let mut s = d.connect();
    // The server may close before taking it all.
    let _ = s.write_all(&request);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    // And the server still answers.
    assert_eq!(d.request("GET", "/metrics").0, "HTTP/1.1 200 OK");
}

/// A peer that sends its head a byte at a time never finishes it: closed after the head
/// timeout (5 s) whatever it sends, without an answer.
#[test]
fn a_slowloris_is_closed() {
    let d = Daemon::start("http-slowloris");
    let mut s = d.connect();
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let start = Instant::now();
    let closed = loop {
        if start.elapsed() > Duration::from_secs(12) {
            break false;
        }
        if s.write_all(b"a").is_err() {
            break true;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                assert!(!text.contains(" 200 "), "{text}");
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    assert!(closed, "still open after {:?}", start.elapsed());
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(d.request("GET", "/metrics").0, "HTTP/1.1 200 OK");
}

/// Beyond 16 connections at once, new ones are closed unanswered; once they go, scrapes are
/// answered again.
#[test]
fn connections_beyond_the_cap_are_closed() {
    let d = Daemon::start("http-cap");
    let mut idle: Vec<TcpStream> = (0..24).map(|_| d.connect()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let answer = d.exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.is_empty(), "{answer}");
    let mut closed = 0;
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        if matches!(s.read(&mut [0u8; 16]), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 8,
        "of 24 idle connections, those beyond 16 are closed"
    );
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.request("GET", "/metrics").0 != "HTTP/1.1 200 OK" {
        assert!(Instant::now() < deadline, "never answered again");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_public_address_needs_http_public() {
    let out = common::nfwd_output(&[
        "start",
        "--tcp",
        "",
        "--udp",
        "",
        "--unix",
        "/nonexistent/nfwd-http-test.sock",
        "--http",
        "0.0.0.0:9",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--http-public"), "{stderr}");
}

//! The management client and the consumer/producer commands against a real `nfwd start`:
//! `nfwd serve` + `nfwd get` (multi-segment, through the daemon), `nfwd route add/list/remove`,
//! `nfwd face list/create/destroy`, `nfwd strategy set/list/unset`, `nfwd cs info/config/erase`,
//! `nfwd status` and their `--json`; the daemon's logs in a file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Nfwd;

struct Serve(Child);

impl Serve {
    /// `nfwd ARGS` (a `serve`), stopped on drop; returns once `prefix` is in `nfwd`'s RIB.
    fn start<A: AsRef<std::ffi::OsStr>>(nfwd: &Nfwd, args: &[A], prefix: &str) -> Self {
        let serve = Self(
            Command::new(env!("CARGO_BIN_EXE_nfwd"))
                .args(args)
                .env_remove("NDN_CLIENT_TRANSPORT")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nfwd
            .cli(&["route", "list"])
            .contains(&format!("prefix={prefix}"))
        {
            assert!(
                Instant::now() < deadline,
                "nfwd serve never registered {prefix}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_get_and_manage_through_the_daemon() {
    let nfwd = Nfwd::start("cli-mgmt");
    let dir = common::TempDir::new("cli-mgmt-files");
    let file = dir.0.join("input.bin");
    let content: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    let t = nfwd.transport(false);
    let _serve = Serve::start(
        &nfwd,
        &[
            std::ffi::OsStr::new("serve"),
            "/cli/file".as_ref(),
            "--file".as_ref(),
            file.as_os_str(),
            "--connect".as_ref(),
            t.as_ref(),
        ],
        "/cli/file",
    );
    let out = dir.0.join("output.bin");
    let get = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["get", "/cli/file", "--output"])
        .arg(&out)
        .args(["--connect", &nfwd.transport(true)])
        .output()
        .unwrap();
    assert!(
        get.status.success(),
        "{}",
        String::from_utf8_lossy(&get.stderr)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        content,
        "5 segments over TCP, reassembled"
    );

    let status = nfwd.cli(&["status"]);
    assert!(status.contains("satisfied"), "{status}");
    let counters = nfwd.cli(&["status", "--counters"]);
    assert!(
        counters.contains("satisfied_interests") && counters.contains("drop_malformed"),
        "{counters}"
    );
    // `name: value` blocks under a heading per group and per face; the exchange above
    // satisfied Interests.
    let headings: Vec<&str> = counters.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        headings[..4],
        ["forwarder", "tables", "cs", "driver"],
        "{counters}"
    );
    assert!(
        headings[4..].iter().all(|h| h.starts_with("face ")),
        "{counters}"
    );
    let satisfied: u64 = counters
        .lines()
        .find_map(|l| l.strip_prefix("  satisfied_interests: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{counters}"));
    assert!(satisfied > 0, "{counters}");
    // Latency histograms summed up: the exchange above went upstream to the producer.
    let rtt = counters
        .lines()
        .find_map(|l| l.strip_prefix("  upstream_rtt_seconds: "))
        .unwrap_or_else(|| panic!("{counters}"));
    assert!(
        rtt.contains(" observed, mean ") && rtt.contains(" ms, p50 ~"),
        "{counters}"
    );
    // No chain went through here.
    let chains = nfwd.cli(&["status", "--chains"]);
    assert_eq!(chains.trim(), "no chained exchange has ended here yet");
    let faces = nfwd.cli(&["face", "list"]);
    assert!(
        faces.contains("remote=fd://") || faces.contains("remote=unix://"),
        "{faces}"
    );

    // A face to a UDP peer, a route through it, then both removed.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let uri = format!("udp4://{}", peer.local_addr().unwrap());
    let created = nfwd.cli(&["face", "create", &uri]);
    let id: u64 = created
        .split_whitespace()
        .find_map(|w| w.strip_prefix("id="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{created}"));
    assert!(nfwd.cli(&["face", "list"]).contains(&uri));
    // Its settings changed as with NFD's faces/update (the face named by its URI here).
    let updated = nfwd.cli(&[
        "face",
        "update",
        &uri,
        "--persistency",
        "permanent",
        "--congestion-marking",
        "off",
        "--congestion-marking-interval",
        "50",
        "--default-congestion-threshold",
        "10000",
    ]);
    assert_eq!(
        updated.trim(),
        format!(
            "face-updated id={id} persistency=permanent local-fields=off congestion-marking=off \
             congestion-marking-interval=50ms default-congestion-threshold=10000B"
        )
    );
    let listed: serde_json::Value =
        serde_json::from_str(&nfwd.cli(&["face", "list", "--json"])).unwrap();
    let face = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["face_id"] == id)
        .unwrap();
    assert_eq!(face["persistency"], "permanent", "{face}");
    assert_eq!(face["congestion_marking"], false, "{face}");
    assert_eq!(
        face["base_congestion_marking_interval_ns"], 50_000_000,
        "{face}"
    );
    assert_eq!(face["default_congestion_threshold"], 10_000, "{face}");
    // Refused: nothing to change, bad values, an unknown face.
    let connect = nfwd.transport(false);
    for (args, says) in [
        (vec!["face", "update", &uri], "nothing to update"),
        (
            vec!["face", "update", &uri, "--congestion-marking", "maybe"],
            "on or off",
        ),
        (
            vec!["face", "update", &uri, "--congestion-marking-interval", "0"],
            "1 ms or more",
        ),
        (
            vec!["face", "update", "udp4://192.0.2.1:6363"],
            "nothing to update",
        ),
        (
            vec![
                "face",
                "update",
                "udp4://192.0.2.1:6363",
                "--local-fields",
                "off",
            ],
            "no face with URI",
        ),
    ] {
        let out = common::nfwd_output(&[&["--connect", &connect][..], &args[..]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    nfwd.cli(&["route", "add", "/via/udp", &uri, "--cost", "7"]);
    let routes = nfwd.cli(&["route", "list"]);
    assert!(
        routes.contains(&format!("prefix=/via/udp nexthop={id} origin=255 cost=7")),
        "{routes}"
    );
    nfwd.cli(&["route", "remove", "/via/udp", &id.to_string()]);
    assert!(!nfwd.cli(&["route", "list"]).contains("/via/udp"));
    nfwd.cli(&["face", "destroy", &id.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while nfwd.cli(&["face", "list"]).contains(&uri) {
        assert!(Instant::now() < deadline, "face not destroyed");
        std::thread::sleep(Duration::from_millis(50));
    }

    nfwd.cli(&["strategy", "set", "/m", "multicast"]);
    assert!(
        nfwd.cli(&["strategy", "list"])
            .contains("prefix=/m strategy=/localhost/nfd/strategy/multicast")
    );
    nfwd.cli(&["strategy", "unset", "/m"]);
    assert!(!nfwd.cli(&["strategy", "list"]).contains("prefix=/m "));
    // ASF, with NFD's parameters kept in the instance name.
    nfwd.cli(&["strategy", "set", "/sf", "asf/v=5/probing-interval~30000"]);
    assert!(
        nfwd.cli(&["strategy", "list"])
            .contains("prefix=/sf strategy=/localhost/nfd/strategy/asf/v=5/probing-interval~30000")
    );

    let info = nfwd.cli(&["cs", "info"]);
    assert!(
        info.contains("entries=") && !info.contains("entries=0 "),
        "the file's segments are cached: {info}"
    );
    let erased = nfwd.cli(&["cs", "erase", "/cli"]);
    assert!(erased.contains("erased 5 entries"), "{erased}");
    nfwd.cli(&["cs", "config", "--capacity", "100", "--admit", "off"]);
    let info = nfwd.cli(&["cs", "info"]);
    assert!(info.contains("capacity=100 admit=off"), "{info}");
}

#[test]
fn management_errors_are_reported() {
    let nfwd = Nfwd::start("cli-errors");
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args([
            "--connect",
            &nfwd.transport(false),
            "strategy",
            "set",
            "/x",
            "no-such-strategy",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nfwd --connect X get|serve` (the global option, before the subcommand) reaches X, as
/// `nfwd get ... --connect X` does.
#[test]
fn the_global_connect_option_reaches_get_and_serve() {
    let nfwd = Nfwd::start("cli-global-connect");
    let uri = nfwd.transport(false);
    let _serve = Serve::start(
        &nfwd,
        &["--connect", &uri, "serve", "/cli/global", "--text", "hello"],
        "/cli/global",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["--connect", &uri, "get", "/cli/global"])
        .env_remove("NDN_CLIENT_TRANSPORT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello");

    // Management and SF commands too, with --connect before the subcommand or after it; the
    // environment names a forwarder that is not there, so the default would fail.
    let nowhere = "unix:///nonexistent/nfwd-cli-test.sock";
    for args in [
        vec!["face", "list", "--connect", &uri],
        vec!["face", "--connect", &uri, "list"],
        vec!["route", "list", "--connect", &uri],
        vec!["status", "--connect", &uri],
        vec!["--connect", &uri, "cs", "info"],
        vec!["--connect", &uri, "sf", "list"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(&args)
            .env("NDN_CLIENT_TRANSPORT", nowhere)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // `sf list` may fail (this forwarder runs no SF host), but at this forwarder.
        assert!(!stderr.contains("cannot reach"), "nfwd {args:?}: {stderr}");
        if !args.contains(&"sf") {
            assert!(out.status.success(), "nfwd {args:?}: {stderr}");
        }
    }
}

/// `nfwd ... | head`: a reader that goes away ends the command quietly (status 0), never in a
/// panic. The pipe's read end is closed before the command writes anything.
#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let nfwd = env!("CARGO_BIN_EXE_nfwd");
    let wire = common::nfwd_output(&["packet", "interest", "/a/b", "--nonce", "01020304"]);
    let wire = String::from_utf8(wire.stdout).unwrap();
    for args in [
        vec!["sf", "functions"],
        vec!["packet", "decode", wire.trim()],
    ] {
        let mut child = Command::new(nfwd)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "nfwd {args:?}: {stderr}");
        assert!(
            out.status.success(),
            "nfwd {args:?}: {:?} {stderr}",
            out.status
        );
    }
}

/// Failures exit non-zero with one line naming the thing and the fix: a malformed packet, a
/// forwarder that is not there (its socket path named). No backtrace even where
/// RUST_BACKTRACE is set (it is for panics; RUST_LIB_BACKTRACE asks for one).
#[test]
fn failures_exit_non_zero_with_one_line_naming_the_thing() {
    let nfwd = env!("CARGO_BIN_EXE_nfwd");
    let dir = common::TempDir::new("cli-one-line-errors");
    let socket = dir.0.join("nobody-here.sock");
    let uri = format!("unix://{}", socket.display());
    for (args, expect) in [
        (
            vec!["packet", "decode", "0501ff"],
            "the packet is malformed",
        ),
        (vec!["face", "list", "--connect", &uri], "nobody-here.sock"),
        (
            vec!["get", "/a", "--connect", &uri],
            "is `nfwd start` running",
        ),
    ] {
        let out = Command::new(nfwd)
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "nfwd {args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "nfwd {args:?}: {stderr}");
        assert!(
            lines[0].starts_with("Error: ") && lines[0].contains(expect),
            "nfwd {args:?}: {stderr}"
        );
    }
}

/// `--verbose` (anywhere on the line) shows an error's causes one per line instead.
#[test]
fn verbose_failures_show_every_cause_on_a_line_of_its_own() {
    let dir = common::TempDir::new("cli-verbose-errors");
    let socket = dir.0.join("nobody-here.sock");
    let uri = format!("unix://{}", socket.display());
    for args in [
        vec!["--verbose", "get", "/a", "--connect", &uri],
        vec!["get", "/a", "--connect", &uri, "-v"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "nfwd {args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(lines.len() >= 2, "nfwd {args:?}: {stderr}");
        assert!(lines[0].starts_with("Error: "), "{stderr}");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("  caused by: ")),
            "{stderr}"
        );
        assert!(stderr.contains("nobody-here.sock"), "{stderr}");
    }
}

/// `--json` on status, counters, faces, routes, strategies and the content store: one JSON
/// document each, with the fields docs/cli.md names, holding what the daemon did.
#[test]
fn json_output_carries_the_documented_fields() {
    let nfwd = Nfwd::start("cli-json");
    let t = nfwd.transport(false);
    let _serve = Serve::start(
        &nfwd,
        &["serve", "/cli/json", "--text", "hello", "--connect", &t],
        "/cli/json",
    );
    let get = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["get", "/cli/json", "--connect", &nfwd.transport(true)])
        .output()
        .unwrap();
    assert_eq!(get.stdout, b"hello");
    let json = |args: &[&str]| -> serde_json::Value {
        let text = nfwd.cli(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("nfwd {args:?}: {e}: {text}"))
    };

    let status = json(&["status", "--json"]);
    assert!(status["version"].is_string(), "{status}");
    assert!(status["uptime_s"].is_u64(), "{status}");
    assert!(status["in_interests"].as_u64().unwrap() > 0, "{status}");
    assert!(
        status["satisfied_interests"].as_u64().unwrap() > 0,
        "{status}"
    );
    assert!(status["fib_entries"].as_u64().unwrap() > 0, "{status}");

    // The driver reports its counters to the core every 500 ms.
    let counters = json(&["status", "--counters", "--json"]);
    assert!(
        counters["forwarder"]["satisfied_interests"]
            .as_u64()
            .unwrap()
            > 0,
        "{counters}"
    );
    assert!(
        counters["cs"]["inserts"].as_u64().unwrap() > 0,
        "{counters}"
    );
    assert!(
        counters["tables"]["faces"].as_u64().unwrap() >= 2,
        "{counters}"
    );
    assert!(counters["tables"]["pit_entries"].is_u64(), "{counters}");
    assert!(counters["driver"].is_object(), "{counters}");
    let rtt = &counters["latency"]["forwarder"]["upstream_rtt_seconds"];
    assert!(rtt["count"].as_u64().unwrap() > 0, "{counters}");
    assert!(rtt["p50"].as_f64().unwrap() > 0.0, "{counters}");
    assert_eq!(
        json(&["status", "--chains", "--json"]),
        serde_json::json!([])
    );
    let faces = counters["faces"].as_array().unwrap();
    assert!(
        faces.iter().any(|f| f["face_id"].is_u64()
            && f["remote_uri"].is_string()
            && f["counters"]["in_interests"].as_u64().unwrap() > 0),
        "{counters}"
    );

    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let uri = format!("udp4://{}", peer.local_addr().unwrap());
    let created = nfwd.cli(&["face", "create", &uri]);
    let id: u64 = created
        .split_whitespace()
        .find_map(|w| w.strip_prefix("id="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{created}"));
    let faces = json(&["face", "list", "--json"]);
    let face = faces
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["face_id"] == id)
        .unwrap_or_else(|| panic!("face {id} not in {faces}"));
    assert_eq!(face["remote_uri"], uri.as_str(), "{face}");
    // A loopback peer is on this node: local, as NFD says too.
    assert_eq!(face["scope"], "local", "{face}");
    assert_eq!(face["persistency"], "persistent", "{face}");
    assert!(
        face["local_uri"].is_string() && face["out_bytes"].is_u64(),
        "{face}"
    );

    nfwd.cli(&["route", "add", "/via/udp", &uri, "--cost", "7"]);
    let routes = json(&["route", "list", "--json"]);
    let rib = routes["rib"].as_array().unwrap();
    let entry = rib
        .iter()
        .find(|e| e["prefix"] == "/via/udp")
        .unwrap_or_else(|| panic!("{routes}"));
    assert_eq!(entry["routes"][0]["face_id"], id, "{routes}");
    assert_eq!(entry["routes"][0]["cost"], 7, "{routes}");
    assert_eq!(entry["routes"][0]["origin"], 255, "{routes}");
    assert!(
        entry["routes"][0]["expiration_period_ms"].is_null(),
        "{routes}"
    );
    assert!(rib.iter().any(|e| e["prefix"] == "/cli/json"), "{routes}");
    let fib = routes["fib"].as_array().unwrap();
    let hop = fib
        .iter()
        .find(|e| e["prefix"] == "/via/udp")
        .unwrap_or_else(|| panic!("{routes}"));
    assert_eq!(hop["next_hops"][0]["face_id"], id, "{routes}");
    assert_eq!(hop["next_hops"][0]["cost"], 7, "{routes}");

    nfwd.cli(&["strategy", "set", "/m", "multicast"]);
    let choices = json(&["strategy", "list", "--json"]);
    assert!(
        choices
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["prefix"] == "/m"
                && c["strategy"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("/localhost/nfd/strategy/multicast/v="))),
        "{choices}"
    );

    let cs = json(&["cs", "info", "--json"]);
    assert!(cs["entries"].as_u64().unwrap() > 0, "{cs}");
    assert!(cs["capacity"].as_u64().unwrap() > 0, "{cs}");
    assert_eq!(cs["admit"], true, "{cs}");
    assert_eq!(cs["serve"], true, "{cs}");
    assert!(cs["hits"].is_u64() && cs["misses"].is_u64(), "{cs}");
}

/// `nfwd start` logs on stderr, and in plain text when stderr is a file: no ANSI escape
/// codes for a log file to keep (colour only on a terminal, and never with NO_COLOR).
#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let dir = common::TempDir::new("cli-logs");
    let unix = dir.0.join("nfwd.sock");
    let log = dir.0.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["start", "--tcp", "", "--udp", "", "--unix"])
        .arg(&unix)
        .env("NFWD_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("listening on Unix socket")
    {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("no log line: {}", std::fs::read_to_string(&log).unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM, so the shutdown is logged too.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains("\x1b["),
        "colour codes in a log file: {text:?}"
    );
}

/// A fetch that takes a while draws one progress line on a terminal (a pty made by
/// `script`), and nothing when stderr is not one.
#[test]
fn get_draws_progress_on_a_terminal_only() {
    let nfwd = Nfwd::start("cli-progress");
    let t = nfwd.transport(false);
    let bin = env!("CARGO_BIN_EXE_nfwd");
    // A route to a UDP port nobody answers on: the Interest waits its whole lifetime.
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .args(["--connect", &t])
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    run(&["face", "create", "udp4://127.0.0.1:9"]);
    run(&["route", "add", "/silent", "udp4://127.0.0.1:9"]);
    let get = [
        "get",
        "/silent/x",
        "--lifetime",
        "1500",
        "--retries",
        "0",
        "--connect",
        &t,
    ];
    let line = format!("{bin} {}", get.join(" "));
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        tty.contains("0.0 MiB, 0 segments"),
        "on a terminal: {tty:?}"
    );
    assert!(tty.contains("Error: "), "{tty:?}");
    let out = Command::new(bin).args(get).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("segments"), "not a terminal: {stderr:?}");
    assert!(stderr.starts_with("Error: "), "{stderr:?}");
}

/// `cs erase` erases everything under the prefix, past the forwarder's 256 per command (it
/// asks again while the answer says the erasure was cut short), or exactly `--count`.
#[test]
fn cs_erase_goes_past_the_per_command_limit() {
    let nfwd = Nfwd::start("cli-cs-erase");
    // 600 segments of 10 bytes, fetched once: 600 Data in the content store.
    let text = "0123456789".repeat(600);
    let t = nfwd.transport(false);
    let _serve = Serve::start(
        &nfwd,
        &[
            "serve",
            "/cli/erase",
            "--segment-size",
            "10",
            "--text",
            &text,
            "--connect",
            &t,
        ],
        "/cli/erase",
    );
    let get = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["get", "/cli/erase", "--connect", &nfwd.transport(false)])
        .output()
        .unwrap();
    assert_eq!(get.stdout, text.as_bytes());
    let erased = |out: String| -> u64 {
        out.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out}"))
    };
    assert_eq!(
        erased(nfwd.cli(&["cs", "erase", "/cli/erase", "--count", "300"])),
        300
    );
    // The rest (300 segments), in two commands.
    assert_eq!(erased(nfwd.cli(&["cs", "erase", "/cli/erase"])), 300);
    assert_eq!(erased(nfwd.cli(&["cs", "erase", "/cli/erase"])), 0);
}

/// A listener that cannot be opened is named with its address and the setting behind it.
#[test]
fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = common::TempDir::new("cli-port-in-use");
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["start", "--unix"])
        .arg(dir.0.join("nfwd.sock"))
        .args(["--udp", "", "--tcp", &format!("127.0.0.1:{port}")])
        .env("NFWD_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("Error: "), "{stderr}");
    assert!(
        last.contains(&format!("TCP 127.0.0.1:{port}")) && last.contains("--tcp"),
        "{stderr}"
    );
}

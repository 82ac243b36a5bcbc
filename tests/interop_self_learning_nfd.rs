//! Self-learning (`docs/protocol.md` §8.5) between nfwd and a real NFD 24.07, both ways.
//!
//! NFD (from `../shared/anchors`) runs in a network namespace of its own, joined to ours by
//! a veth pair, with self-learning for `/` and its shipped `prefix_announcement_validation`
//! (trust-anchor any); nfwd A runs in our namespace with self-learning for `/`. A's face to
//! NFD and NFD's to A are non-local, as on a testbed. Neither has a route to the other.
//!
//! - nfwd consumes, NFD produces: `ndnpingserver /p` behind NFD. The first `nfwd get` on A
//!   finds no route, so A broadcasts a discovery Interest; NFD's Data comes back with NFD's
//!   prefix announcement of `/p/ping`, and A learns the route (origin 129, cost 2048). The
//!   second `get` follows the route as a non-discovery Interest (no second broadcast).
//! - NFD consumes, nfwd produces: `nfwd serve /q/text` on A. `ndnpeek` through NFD makes NFD
//!   broadcast a discovery Interest to A; A's Data goes back with A's announcement of
//!   `/q/text`, and NFD learns the route (`nfdc route list`: origin prefixann).
//!
//! Needs root (namespaces) and the anchors: fails under `CI=true` without them, skips visibly
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::anchors::{NfdInNetns, ndn_tools, text};
use common::netns::{Daemon, Killed, Netns};
use common::{TempDir, cannot_run, is_root};

const TEST: &str = "interop_self_learning_nfd";

/// Runs an `nfwd` command in our namespace, returning (success, stdout + stderr).
fn nfwd(args: &[&str]) -> (bool, String) {
    let out = common::nfwd_output(args);
    (out.status.success(), text(&out))
}

#[test]
fn nfwd_and_nfd_learn_routes_from_each_others_prefix_announcements() {
    if !is_root() {
        cannot_run(TEST, "needs root (network namespaces)");
        return;
    }
    let tools = match ndn_tools() {
        Ok(t) => t,
        Err(why) => {
            cannot_run(TEST, &why);
            return;
        }
    };
    let Some(ns) = Netns::create("sl", 78, 1) else {
        cannot_run(TEST, "could not create a network namespace and veth pair");
        return;
    };
    let dir = TempDir::new("self-learning-nfd");
    // NFD in the namespace, at 10.78.1.2:6363, self-learning for `/`.
    let nfd = NfdInNetns::start_with(
        &tools,
        &ns.name,
        &dir.0,
        "/localhost/nfd/strategy/self-learning",
    );
    let tool = |name: &str| nfd.tool(name);
    let nfdc = |args: &[&str]| nfd.nfdc(args);
    // A producer behind NFD: /p/ping.
    let _ping = Killed(
        tool("ndnpingserver")
            .arg("/p")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nfdc(&["route", "list"]).1.contains("/p/ping") {
        assert!(Instant::now() < deadline, "ndnpingserver did not register");
        std::thread::sleep(Duration::from_millis(100));
    }

    // nfwd A in our namespace, self-learning for everything, one face: to NFD.
    let a_port = 20_000 + std::process::id() % 20_000;
    let a_udp = format!("{}:{a_port}", ns.host_ip);
    let a = Daemon::start(&dir.0, "a", None, &["--tcp", "", "--udp", &a_udp]);
    a.cli(&["strategy", "set", "/", "self-learning"]).unwrap();
    let strategies = a.cli(&["strategy", "list"]).unwrap();
    assert!(
        strategies.contains("/localhost/nfd/strategy/self-learning/v=1"),
        "{strategies}"
    );
    let nfd_uri = format!("udp4://{}:6363", ns.peer_ip);
    a.cli(&["face", "create", &nfd_uri]).unwrap();

    // nfwd consumes: the first Interest discovers, the route is learned.
    let a_connect = a.unix.clone();
    let (ok, text) = nfwd(&["get", "/p/ping/1", "--connect", &a_connect]);
    assert!(ok, "discovery through NFD: {text}");
    assert_eq!(a.counter("sl_discoveries"), 1);
    assert_eq!(a.counter("sl_routes_learned"), 1);
    let routes = a.cli(&["route", "list"]).unwrap();
    let learned = routes
        .lines()
        .find(|l| l.contains("prefix=/p/ping "))
        .unwrap_or_else(|| panic!("no learned route /p/ping: {routes}"));
    assert!(
        learned.contains("origin=129") && learned.contains("cost=2048"),
        "{learned}"
    );
    let fib = routes.split("-- FIB").nth(1).unwrap_or_default();
    assert!(
        fib.contains("/p/ping nexthops="),
        "the FIB has it: {routes}"
    );
    // The second follows it (non-discovery): no new broadcast.
    let (ok, text) = nfwd(&["get", "/p/ping/2", "--connect", &a_connect]);
    assert!(ok, "along the learned route: {text}");
    assert_eq!(a.counter("sl_discoveries"), 1);
    assert_eq!(a.counter("sl_announcements_refused"), 0);

    // nfwd produces, NFD consumes: NFD needs a face to A (it has no route to anything).
    let _serve = Killed(
        Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(["serve", "/q/text", "--text", "from nfwd"])
            .args(["--connect", &a_connect])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !a
        .cli(&["route", "list"])
        .unwrap_or_default()
        .contains("/q/text")
    {
        assert!(Instant::now() < deadline, "nfwd serve did not register");
        std::thread::sleep(Duration::from_millis(100));
    }
    let a_uri = format!("udp4://{}:{a_port}", ns.host_ip);
    let (ok, text) = nfdc(&["face", "create", &a_uri]);
    assert!(ok, "nfdc face create: {text}");
    // -p: the payload only; -P: CanBePrefix (the segment is /q/text/v=<version>/seg=0).
    let peek = || {
        tool("ndnpeek")
            .args(["-p", "-P", "-w", "4000", "/q/text"])
            .output()
            .unwrap()
    };
    let first = peek();
    let got = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success() && got.contains("from nfwd"),
        "ndnpeek through NFD's discovery: {first:?}\nA: {}\nNFD: {}\n{}",
        a.cli(&["status", "--counters"]).unwrap_or_default(),
        nfdc(&["face", "list"]).1,
        nfdc(&["fib", "list"]).1,
    );
    assert_eq!(a.counter("sl_announcements_attached"), 1);
    // NFD learned /q/text from A's announcement.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let routes = nfdc(&["route", "list"]).1;
        let learned = routes
            .lines()
            .any(|l| l.contains("prefix=/q/text ") && l.contains("origin=prefixann"));
        if learned {
            break;
        }
        assert!(Instant::now() < deadline, "NFD learned no route: {routes}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // NFD now follows it (non-discovery): answered without a second announcement.
    let again = peek();
    assert!(
        again.status.success() && String::from_utf8_lossy(&again.stdout).contains("from nfwd"),
        "ndnpeek along NFD's learned route: {again:?}"
    );
    assert_eq!(a.counter("sl_announcements_attached"), 1);
}

//! A chained Interest towards a forwarder that does not understand chaining
//! (`docs/protocol.md` §4.1), with a real NFD in the middle: nfwd A → NFD → nfwd B.
//!
//! A runs in our network namespace; NFD 24.07 (from `../shared/anchors`) and B run in a
//! namespace of their own, joined to ours by a veth pair, so A's face to NFD is non-local as
//! on a testbed. B hosts `/sf/upper` and a producer of `/p`; NFD routes both to B; A routes
//! both to NFD. Plain Interests cross NFD; a chained one would be dropped there (the
//! FunctionNames element is critical to NFD), so A must answer it with an error Data saying
//! why, instead of the consumer waiting for its Interests' lifetimes and retransmissions
//! (16 s with `nfwd get`'s defaults). A route to B itself, costlier than NFD's, is then taken.
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

const TEST: &str = "interop_chain_nfd";

/// Runs an `nfwd` command inside `ns` (or ours), returning (success, stdout + stderr).
fn nfwd_in(ns: Option<&Netns>, args: &[&str]) -> (bool, String) {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_nfwd")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_nfwd")),
    };
    let out = cmd
        .args(args)
        .env_remove("NDN_CLIENT_TRANSPORT")
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

/// The face id `nfwd face create` printed (`face-created id=N ...`).
fn face_id(created: &str) -> String {
    created
        .split_whitespace()
        .find_map(|w| w.strip_prefix("id="))
        .unwrap_or_else(|| panic!("face id in {created}"))
        .to_string()
}

#[test]
fn a_chained_interest_meeting_nfd_is_answered_with_an_error_and_a_chain_aware_route_is_taken() {
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
    let Some(ns) = Netns::create("cn", 77, 1) else {
        cannot_run(TEST, "could not create a network namespace and veth pair");
        return;
    };
    let dir = TempDir::new("chain-nfd");
    // NFD in the namespace, at 10.77.1.2:6363.
    let nfd = NfdInNetns::start(&tools, &ns.name, &dir.0);
    let nfdc = |args: &[&str]| nfd.nfdc(args);

    // nfwd B beside it (its own ports), hosting /sf/upper and serving /p.
    let b = Daemon::start(
        &dir.0,
        "b",
        Some(&ns),
        &["--tcp", "0.0.0.0:6364", "--udp", ""],
    );
    let _upper = Killed(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_nfwd")])
            .args(["sf", "run", "--builtin", "upper", "--function", "/sf/upper"])
            .args(["--connect", &b.unix])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _producer = Killed(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_nfwd")])
            .args(["serve", "/p/text", "--text", "through nfd"])
            .args(["--connect", &b.unix])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let routes = b.cli(&["route", "list"]).unwrap_or_default();
        if routes.contains("/sf/upper") && routes.contains("/p/text") {
            break;
        }
        assert!(Instant::now() < deadline, "B's SF and producer: {routes}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // NFD routes /p and /sf/upper to B over TCP on its loopback.
    let (ok, text) = nfdc(&["face", "create", "tcp4://127.0.0.1:6364"]);
    assert!(ok, "nfdc face create: {text}");
    for prefix in ["/p", "/sf/upper"] {
        let (ok, text) = nfdc(&["route", "add", prefix, "tcp4://127.0.0.1:6364"]);
        assert!(ok, "nfdc route add {prefix}: {text}");
    }

    // nfwd A in our namespace, its face to NFD non-local.
    // Its UDP socket (faces to other forwarders go out from it) on our veth end.
    let a_udp = format!("{}:{}", ns.host_ip, 20_000 + std::process::id() % 20_000);
    let a = Daemon::start(&dir.0, "a", None, &["--tcp", "", "--udp", &a_udp]);
    let nfd_uri = format!("udp4://{}:6363", ns.peer_ip);
    let nfd_face = face_id(&a.cli(&["face", "create", &nfd_uri]).unwrap());
    for prefix in ["/p", "/sf/upper"] {
        a.cli(&["route", "add", prefix, &nfd_face]).unwrap();
    }

    // Plain content crosses NFD.
    let a_connect = a.unix.clone();
    let (ok, text) = nfwd_in(None, &["get", "/p/text", "--connect", &a_connect]);
    assert!(ok, "plain get through NFD: {text}");
    assert!(text.contains("through nfd"), "{text}");

    // A chained Interest is answered by A with an error naming the reason, not a timeout.
    let (ok, text) = nfwd_in(
        None,
        &[
            "get",
            "/p/text",
            "--chain",
            "/sf/upper",
            "--connect",
            &a_connect,
        ],
    );
    eprintln!("nfwd get through NFD with a chain:\n{text}");
    assert!(!ok, "a chain through NFD cannot succeed: {text}");
    assert!(
        text.contains("does not understand function chaining"),
        "the consumer is told why: {text}"
    );
    assert!(text.contains("/sf/upper"), "and which function: {text}");
    assert!(!text.contains("timed out"), "{text}");
    assert!(a.counter("chain_unaware_neighbours") >= 1);
    assert!(a.counter("chained_to_unaware") >= 1);
    assert!(a.counter("chain_hellos") >= 1);

    // A chain-aware route to B, costlier than NFD's: the chain takes it.
    let b_uri = format!("tcp4://{}:6364", ns.peer_ip);
    let b_face = face_id(&a.cli(&["face", "create", &b_uri]).unwrap());
    a.cli(&["route", "add", "/sf/upper", &b_face, "--cost", "100"])
        .unwrap();
    let (ok, text) = nfwd_in(
        None,
        &[
            "get",
            "/p/text",
            "--chain",
            "/sf/upper",
            "--connect",
            &a_connect,
        ],
    );
    assert!(ok, "the chain over the chain-aware route: {text}");
    assert!(text.contains("THROUGH NFD"), "{text}");
}

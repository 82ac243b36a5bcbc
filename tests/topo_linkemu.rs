//! The userspace delay line of `nfwd topo` (`topologies/src/linkemu.rs`) with real daemons:
//! a link with delay and jitter carries traffic no faster than its lower bound, `status`
//! shows the jitter, and a delay line that dies (SIGKILL) is started again by the testbed's
//! watcher — its taps made anew, readdressed and reshaped — so traffic flows again within a
//! bounded time and `status` shows the new process running.
//!
//! The testbed: `a ── b`, one UDP link of 5 ± 1 ms; b answers every Interest under `/echo`
//! with its own name (so no cache answers a repeat), a's route to `/echo` a written one.
//!
//! Needs root and iproute2, and a kernel without `sch_netem` (where netem is there, links are
//! delayed by it and there is no delay line to kill: the test says so and passes). Outside CI
//! a missing capability skips the test and says so; under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::topo::{Down, namespaces, ok, testbed_missing};
use common::{TempDir, cannot_run, nfwd_output as nfwd};

/// What a skip or a CI failure names.
const SUBJECT: &str = "delay line test";

/// How long traffic may take to flow again after the delay line is killed: the watcher's
/// 250 ms poll, the new process's taps, the links readdressed and reshaped, then the
/// forwarders' faces (link liveness finds a silent face down in 1–1.25 s and up again at the
/// first answered probe). Generous for a loaded 2-core machine.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

fn topology(name: &str) -> String {
    format!(
        r#"name = "{name}"

[[node]]
name = "a"

[[node]]
name = "b"

[[link]]
a = "a"
b = "b"
delay_ms = 5
jitter_ms = 1

[[route]]
node = "a"
prefix = "/echo"
via = "b"
"#
    )
}

/// One Interest for `/echo/<tag>` from `client`; the round trip if b answered with the name.
async fn echo(
    client: &nfwd_forwarder::client::Client,
    tag: &str,
    lifetime_ms: u64,
) -> Option<Duration> {
    let name: nfwd_tlv::Name = format!("/echo/{tag}").parse().unwrap();
    let want = name.to_string();
    let interest = nfwd_tlv::InterestBuilder::new(name)
        .lifetime_ms(lifetime_ms)
        .build()
        .unwrap();
    let asked = Instant::now();
    let data = client.express(interest).await.ok()?;
    (data.content() == want.as_bytes()).then(|| asked.elapsed())
}

#[test]
fn a_killed_delay_line_is_started_again_by_the_watcher_and_traffic_flows_again() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-linkemu");
    // A name of this run's own, so a testbed someone has up (or another run) is left alone.
    let name = format!("le{}", std::process::id());
    let file = dir.0.join(format!("{name}.toml"));
    std::fs::write(&file, topology(&name)).unwrap();
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let _down = Down {
        name: &name,
        state: &state,
    };
    let up = nfwd(&[
        "topo",
        "up",
        file.to_str().unwrap(),
        "--state-dir",
        state_arg,
    ]);
    ok(&up, "topo up");
    let launched = nfwd_topologies::launch::State::load(&state, &name).unwrap();
    let Some(first) = launched.link_emulator_pid else {
        eprintln!(
            "this kernel has netem ({}): links are delayed by it, no delay line to kill",
            launched.shaping
        );
        return;
    };
    assert!(launched.watcher_pid.is_some(), "up started no watcher");
    let status = |want: &str| {
        let text = ok(
            &nfwd(&["topo", "status", &name, "--state-dir", state_arg]),
            "topo status",
        );
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    };
    status("link a-b (l0, udp): 5 ms ± 1 ms (userspace delay line, in order)");
    status(&format!("delay line: pid {first} running; 1 links"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = |node: &str| {
        let socket = launched.node(node).unwrap().socket.clone();
        async move {
            nfwd_forwarder::client::Client::connect(&format!("unix://{}", socket.display()))
                .await
                .unwrap()
        }
    };
    rt.block_on(async {
        use nfwd_forwarder::client::{Reply, answer_data};
        let producer = client("b").await;
        let _serving = producer
            .serve("/echo".parse().unwrap(), |interest| async move {
                let name = interest.name().to_string();
                answer_data(
                    &interest,
                    name,
                    Some(1000),
                    &nfwd_tlv::Signer::digest_sha256(),
                )
                .map_or(Reply::None, Reply::Data)
            })
            .await
            .unwrap();
        // b's /echo is registered once the serve call returns; a's route is the launcher's.
        let consumer = client("a").await;
        let mut before = None;
        for k in 0..20 {
            before = echo(&consumer, &format!("before-{k}"), 1000).await;
            if before.is_some() {
                break;
            }
        }
        let before = before.expect("no answer over the delayed link before the kill");
        // Each way at least delay - jitter: 2 x 4 ms.
        assert!(
            before >= Duration::from_millis(8),
            "{before:?}: the link's delay is missing"
        );

        // The jitter, seen end to end: 40 round trips, each at least 2 x (5 - 1) ms.
        let mut rtts = Vec::new();
        for k in 0..40 {
            if let Some(rtt) = echo(&consumer, &format!("spread-{k}"), 1000).await {
                rtts.push(rtt);
            }
        }
        rtts.sort();
        assert!(rtts.len() >= 30, "{} of 40 answered", rtts.len());
        assert!(rtts[0] >= Duration::from_millis(8), "{rtts:?}");
        eprintln!(
            "round trips over 5 ± 1 ms: min {:?}, median {:?}, p90 {:?}, max {:?}",
            rtts[0],
            rtts[rtts.len() / 2],
            rtts[rtts.len() * 9 / 10],
            rtts[rtts.len() - 1]
        );

        net_kill(first);
        let killed = Instant::now();
        let mut k = 0;
        let recovered = loop {
            k += 1;
            if let Some(rtt) = echo(&consumer, &format!("after-{k}"), 500).await {
                break Some((killed.elapsed(), rtt));
            }
            if killed.elapsed() > RECOVERY_BOUND {
                break None;
            }
        };
        let Some((after, rtt)) = recovered else {
            let log =
                std::fs::read_to_string(state.join(&name).join("watch.log")).unwrap_or_default();
            panic!("no answer within {RECOVERY_BOUND:?} of the kill; watch.log:\n{log}");
        };
        // The new taps are delayed as the old ones were.
        assert!(rtt >= Duration::from_millis(8), "{rtt:?} after the restart");
        eprintln!(
            "delay line killed: answered again {} ms after ({k} Interests); round trip \
             before {before:?}, after {rtt:?}",
            after.as_millis()
        );
    });

    let relaunched = nfwd_topologies::launch::State::load(&state, &name).unwrap();
    let second = relaunched.link_emulator_pid.unwrap();
    assert_ne!(second, first);
    assert!(nfwd_topologies::net::alive(i32::try_from(second).unwrap()));
    status(&format!("delay line: pid {second} running; 1 links"));
    let log = std::fs::read_to_string(state.join(&name).join("watch.log")).unwrap();
    assert!(
        log.contains(&format!(
            "the delay line (pid {first}) was not running: started again as pid {second}"
        )),
        "{log}"
    );
    for line in log.lines().filter(|l| l.contains("delay line")) {
        eprintln!("watch.log: {line}");
    }

    ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "topo down",
    );
    assert!(namespaces(&format!("nfwd.{name}.")).is_empty());
    let deadline = Instant::now() + Duration::from_secs(3);
    while nfwd_topologies::net::alive(i32::try_from(second).unwrap()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !nfwd_topologies::net::alive(i32::try_from(second).unwrap()),
        "the restarted delay line outlived down"
    );
}

/// SIGKILL, as a crash would end it: no chance to clean anything up.
fn net_kill(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -KILL {pid}");
}

//! `nfwd topo` with real daemons: the shipped Fig. 30 line (`topologies/examples/line.toml`)
//! comes up in network namespaces, a consumer on its node gets F3(F2(F1(x))) through three
//! forwarders that each host one function, faces between forwarders are non-local, and `down`
//! leaves nothing behind. On the shipped mesh (`topologies/examples/mesh.toml`), with a
//! consumer fetching a chained result in a loop, a crashed node (`nfwd topo kill`) and a cut
//! link (`nfwd topo link A B down`) on the active path are routed around within a bounded time
//! with no wrong answer, and a restored link carries traffic again.
//!
//! Needs root and iproute2 (namespaces, veth pairs). Outside CI a missing capability skips the
//! test and says so; under `CI=true` it fails. Delay is the kernel's netem where it has one,
//! and otherwise the launcher's userspace delay line (TAP devices): the line test checks that
//! a round trip takes at least the links' delays either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::mesh::{
    FRESH_COUNTERS, Load, Mesh, Outcome, READINGS, SENSOR, has_recorded_face, launcher_next_hops,
    out_interests, runtime, sf_requests, upper_on_c1_only,
};
use common::topo::{Down, example_as, namespaces, ok, testbed_missing, topo_exec};
use common::{TempDir, cannot_run, nfwd_output as nfwd};

/// What a skip or a CI failure names.
const SUBJECT: &str = "topology test";

#[test]
fn the_fig30_line_computes_f3_f2_f1_across_namespaces_and_down_removes_it() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo");
    // The shipped file under a name of this run's own, so that a testbed someone has up (or
    // another run) is left alone.
    let name = format!("t{}", std::process::id());
    let file = example_as(&dir.0, "line", &name, |t| t);
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let _down = Down {
        name: &name,
        state: &state,
    };

    // No --best-effort-shaping: every link's delay is given, by netem or the delay line.
    let up = nfwd(&[
        "topo",
        "up",
        file.to_str().unwrap(),
        "--state-dir",
        state_arg,
    ]);
    let text = ok(&up, "topo up");
    assert!(text.contains("5 nodes, 4 links, 8 faces"), "{text}");
    assert_eq!(namespaces(&format!("nfwd.{name}.")).len(), 5);
    let launched = nfwd_topologies::launch::State::load(&state, &name).unwrap();
    let delay_line = launched.link_emulator_pid;
    if launched.shaping != "netem" {
        assert!(delay_line.is_some(), "{}", launched.shaping);
        assert!(
            launched
                .links
                .iter()
                .all(|l| l.shaping.contains("ms (userspace delay line)")),
            "{:?}",
            launched.links
        );
    }

    let exec = |node: &str, cmd: &[&str]| topo_exec(&name, state_arg, node, cmd);
    // The consumer's forwarder sends the chain towards F3's node; each node pops its own
    // function; the producer is four forwarder hops away.
    // The links' delay, seen in-process on the consumer's own socket (no process started in
    // the measured time): the first plain Interest crosses all four links to the producer,
    // nothing cached on the way, so its round trip is 2 x (2 + 5 + 5 + 10) ms at least. A
    // lower bound, so a loaded machine cannot make it fail; without the delay it takes a few
    // ms.
    let round_trip = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let socket = launched.node("consumer").unwrap().socket.clone();
        rt.block_on(async {
            let client =
                nfwd_forwarder::client::Client::connect(&format!("unix://{}", socket.display()))
                    .await
                    .unwrap();
            // (CanBePrefix: the producer names its Data below the prefix, as `nfwd get` asks.)
            let interest = nfwd_tlv::InterestBuilder::new("/rs1/lamp/2256".parse().unwrap())
                .can_be_prefix(true)
                .lifetime_ms(4000)
                .build()
                .unwrap();
            let asked = std::time::Instant::now();
            client.express(interest).await.unwrap();
            asked.elapsed()
        })
    };
    let got = exec(
        "consumer",
        &[
            "nfwd",
            "get",
            "/rs1/lamp/2256",
            "--chain",
            "/sf/F3,/sf/F2,/sf/F1",
        ],
    );
    assert_eq!(
        ok(&got, "get through the chain"),
        "[ XUL 213 ,NO :6522 PMAL ]"
    );
    assert!(
        round_trip >= std::time::Duration::from_millis(44),
        "{round_trip:?}: the links' delay is missing"
    );
    eprintln!("round trip consumer-producer over the line: {round_trip:?} (links' delay: 44 ms)");
    // Between forwarders every face is non-local (HopLimit and /localhost scope apply).
    let faces = ok(&exec("f2", &["nfwd", "face", "list"]), "face list");
    let to_peers: Vec<&str> = faces.lines().filter(|l| l.contains("10.100.")).collect();
    assert!(to_peers.len() >= 2, "{faces}");
    assert!(
        to_peers.iter().all(|l| l.contains("scope=non-local")),
        "{faces}"
    );
    let status = ok(
        &nfwd(&["topo", "status", &name, "--state-dir", state_arg]),
        "topo status",
    );
    for want in ["/sf/F2", "-> f1", "non-local"] {
        assert!(status.contains(want), "{want} missing in:\n{status}");
    }
    if let Some(pid) = delay_line {
        assert!(
            status.contains(&format!("delay line: pid {pid} running; 4 links")),
            "{status}"
        );
    }

    let down = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "topo down",
    );
    assert!(down.contains("5 namespaces"), "{down}");
    assert!(namespaces(&format!("nfwd.{name}.")).is_empty());
    if let Some(pid) = delay_line {
        // (`alive`, not /proc/PID: the process was orphaned, and a zombie is over.)
        assert!(
            !nfwd_topologies::net::alive(i32::try_from(pid).unwrap()),
            "the delay line outlived down"
        );
    }
    assert!(!state.join(&name).exists());
    let again = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "second down",
    );
    assert!(again.contains("nothing to take down"), "{again}");
}

/// The function of the mesh each request needs last (upper) is hosted on c1 and c4; the node
/// the busier of them is killed mid-traffic, and the forwarders route around it.
#[test]
fn a_killed_node_on_the_active_path_is_routed_around_with_no_wrong_answer() {
    let Some(mesh) = Mesh::up("k") else {
        return;
    };
    runtime().block_on(async {
        let load = Load::start(&mesh).await;
        load.until_right(30, std::time::Duration::from_secs(20), "warm-up")
            .await;
        let upper_hosts = ["c1", "c4"];
        tokio::time::sleep(FRESH_COUNTERS).await;
        let before = sf_requests(&mesh, &upper_hosts, "/sf/upper").await;
        let (active, other) = if before[0] >= before[1] {
            (0, 1)
        } else {
            (1, 0)
        };
        let victim = upper_hosts[active];
        let killed = std::time::Instant::now();
        let said = mesh.topo(&["kill", victim]);
        assert!(said.contains(&format!("{victim} killed")), "{said}");
        let recovery = load
            .recovery_after(killed, std::time::Duration::from_secs(10))
            .await;
        let pending = load.slowest_pending(killed);
        let log = load.stop().await;
        let failures: Vec<&Outcome> = log
            .iter()
            .filter(|r| r.end > killed && matches!(r.outcome, Outcome::Failed(_)))
            .map(|r| &r.outcome)
            .collect();
        let failed = failures.len();
        if let Some(first) = failures.first() {
            println!("kill {victim}: first failure: {first:?}");
        }
        tokio::time::sleep(FRESH_COUNTERS).await;
        let after = sf_requests(&mesh, &[upper_hosts[other]], "/sf/upper").await;
        assert!(
            after[0] > before[other],
            "{} took over none of {victim}'s work ({} -> {})",
            upper_hosts[other],
            before[other],
            after[0]
        );
        // The status names the crashed node.
        let status = mesh.topo_status();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with(&format!("{victim}  pid")) && l.contains("DEAD")),
            "{status}"
        );
        println!(
            "kill {victim} (upper for {} requests before; {} had {}): a request issued after \
             the kill answered right {} ms after it; {pending}; {failed} failed; {} requests in \
             all, none wrong",
            before[active],
            upper_hosts[other],
            before[other],
            recovery.as_millis(),
            log.len()
        );
    });
}

/// The consumer's busier link (from e1 into the core) is cut while requests flow: they
/// succeed again through the other; restored, the link carries e1's requests again.
#[test]
fn a_cut_link_is_routed_around_and_carries_traffic_again_once_restored() {
    let Some(mesh) = Mesh::up("l") else {
        return;
    };
    runtime().block_on(async {
        let load = Load::start(&mesh).await;
        load.until_right(30, std::time::Duration::from_secs(20), "warm-up")
            .await;
        // e1 sends each request to c1 or c3 (equal cost); its busier link is the one cut. Both
        // of e1's links are safe to cut: every node beyond them keeps another next hop for what
        // it asks. (Not every link is: c1's only next hop towards the producer is c2, as
        // computed routes use strictly closer neighbours only, so cutting c1-c2 leaves the
        // upper function on c1 without input until the link is back.)
        tokio::time::sleep(FRESH_COUNTERS).await;
        let from = "e1";
        let (mut to, mut other) = ("c1", "c3");
        if out_interests(&mesh, from, "c3").await > out_interests(&mesh, from, "c1").await {
            (to, other) = ("c3", "c1");
        }
        let other_before = out_interests(&mesh, from, other).await;

        let cut = std::time::Instant::now();
        let said = mesh.topo(&["link", from, to, "down"]);
        assert!(said.contains("down"), "{said}");
        let recovery = load
            .recovery_after(cut, std::time::Duration::from_secs(10))
            .await;
        let pending = load.slowest_pending(cut);
        tokio::time::sleep(FRESH_COUNTERS).await;
        let other_after = out_interests(&mesh, from, other).await;
        assert!(
            other_after > other_before,
            "{from} sent nothing to {other} while its link to {to} was cut"
        );

        tokio::time::sleep(FRESH_COUNTERS).await;
        let on_link = out_interests(&mesh, from, to).await;
        let restored = std::time::Instant::now();
        mesh.topo(&["link", from, to, "up"]);
        // The face comes back up with the first frame from its peer (an answer to a probe),
        // and best-route prefers it again.
        let deadline = restored + std::time::Duration::from_secs(10);
        while out_interests(&mesh, from, to).await < on_link + 10 {
            assert!(
                std::time::Instant::now() < deadline,
                "the restored link {from}-{to} carries no Interests after 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let back = restored.elapsed();
        load.until_right(20, std::time::Duration::from_secs(10), "after the restore")
            .await;
        let log = load.stop().await;
        let failed_after_restore = log
            .iter()
            .filter(|r| r.start > restored && matches!(r.outcome, Outcome::Failed(_)))
            .count();
        assert_eq!(failed_after_restore, 0, "requests failed after the restore");
        let failures: Vec<&Outcome> = log
            .iter()
            .filter(|r| r.end > cut && matches!(r.outcome, Outcome::Failed(_)))
            .map(|r| &r.outcome)
            .collect();
        let failed = failures.len();
        if let Some(first) = failures.first() {
            println!("cut {from}-{to}: first failure: {first:?}");
        }
        println!(
            "cut {from}-{to}: a request issued after the cut answered right (via {other}) {} \
             ms after it; {pending}; {failed} failed; restored: {from} sent Interests over it \
             again within {} ms; {} requests in all, none wrong",
            recovery.as_millis(),
            back.as_millis(),
            log.len()
        );
    });
}

/// With upper on c1 only, c2 — c1's only next hop towards the producer — is killed: the
/// routes are recomputed, c1 reaches the producer through c3 and c4, and chained and plain
/// requests succeed again. Restarted, c2 serves again (its reverse and its route to the
/// producer), the routes through it come back (c1's only next hop is c2 again, c3 routes to
/// it over a TCP face the crash had closed and the restart made anew), and requests go on
/// right. Restarting a running or unknown node is refused.
#[test]
fn a_node_whose_only_next_hop_is_killed_gets_a_new_path_and_the_node_restarted_serves_again() {
    let Some(mesh) = Mesh::up_with("r", |t| upper_on_c1_only(&t)) else {
        return;
    };
    runtime().block_on(async {
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        let load = Load::start(&mesh).await;
        load.until_right(30, std::time::Duration::from_secs(20), "warm-up")
            .await;

        let killed = std::time::Instant::now();
        let said = mesh.topo(&["kill", "c2"]);
        let kill_took = killed.elapsed();
        assert!(
            said.contains("c2 killed") && said.contains("routes recomputed"),
            "{said}"
        );
        // The launcher's routes at c1 now lead around c2 (c3 at cost 4, c4 at 5).
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c3", "c4"]);
        assert!(
            !launcher_next_hops(&mesh, "c3", SENSOR)
                .await
                .contains(&"c2".to_owned())
        );
        let recovery = load
            .recovery_after(killed, std::time::Duration::from_secs(10))
            .await;
        let pending = load.slowest_pending(killed);
        // A plain request from c1 (a reading no one asked for: no cache has it) finds the
        // producer too.
        let plain_at = std::time::Instant::now();
        let reading = format!("{READINGS}/plain-after-kill");
        assert_eq!(mesh.exec("c1", &["nfwd", "get", &reading]), reading);
        let plain = plain_at.elapsed();

        let running = mesh.topo_fails(&["restart", "c1"]);
        assert!(
            running.contains("c1") && running.contains("is running"),
            "{running}"
        );
        let unknown = mesh.topo_fails(&["restart", "zz"]);
        assert!(unknown.contains("no node \"zz\""), "{unknown}");
        let status = mesh.topo_status();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("c2  pid") && l.contains("DEAD (killed")),
            "{status}"
        );

        let restarted = std::time::Instant::now();
        let said = mesh.topo(&["restart", "c2"]);
        let restart_took = restarted.elapsed();
        assert!(
            said.contains("c2 restarted") && said.contains("1 SFs"),
            "{said}"
        );
        // Its routes and everyone's towards it are back as `up` made them.
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        assert_eq!(launcher_next_hops(&mesh, "c2", SENSOR).await, ["e2"]);
        assert_eq!(
            launcher_next_hops(&mesh, "c3", SENSOR).await,
            ["c1", "c2", "c4"]
        );
        // c2-c3 is TCP: the crash reset c3's connection and closed its face; the restart
        // made it again, and the route uses the new one.
        assert!(has_recorded_face(&mesh, "c3", "c2").await);
        assert!(has_recorded_face(&mesh, "c2", "c3").await);
        let status = mesh.topo_status();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("c2  pid") && !l.contains("DEAD")),
            "{status}"
        );
        // c2 serves: its own reverse, on a reading it fetches through its route to e2.
        let reading = format!("{READINGS}/at-c2");
        assert_eq!(
            mesh.exec("c2", &["nfwd", "get", &reading, "--chain", "/sf/reverse"]),
            reading.chars().rev().collect::<String>()
        );
        load.until_right(30, std::time::Duration::from_secs(10), "after the restart")
            .await;
        let log = load.stop().await;
        let failed = |from: std::time::Instant, to: std::time::Instant| {
            log.iter()
                .filter(|r| r.end > from && r.start < to && matches!(r.outcome, Outcome::Failed(_)))
                .count()
        };
        println!(
            "kill c2 (c1's only next hop to the producer): killed and rerouted by `topo kill` \
             in {} ms; a request issued after the kill answered right {} ms after it; \
             {pending}; {} failed before the restart; a plain get from c1 took {} ms; restart \
             took {} ms, {} requests failed after it; {} requests in all, none wrong",
            kill_took.as_millis(),
            recovery.as_millis(),
            failed(killed, restarted),
            plain.as_millis(),
            restart_took.as_millis(),
            failed(restarted, std::time::Instant::now()),
            log.len()
        );
    });
}

/// With upper on c1 only, c1's only next hop towards the producer is c2: the link c1-c2 is
/// cut under load, the routes are recomputed (c1 through c3 and c4) and requests succeed
/// again; restored, c1 routes through c2 again and the link carries its Interests.
#[test]
fn a_cut_link_that_was_a_nodes_only_next_hop_is_routed_around_and_restored() {
    let Some(mesh) = Mesh::up_with("c", |t| upper_on_c1_only(&t)) else {
        return;
    };
    runtime().block_on(async {
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        let load = Load::start(&mesh).await;
        load.until_right(30, std::time::Duration::from_secs(20), "warm-up")
            .await;
        let cut = std::time::Instant::now();
        let said = mesh.topo(&["link", "c1", "c2", "down"]);
        let cut_took = cut.elapsed();
        assert!(
            said.contains("down") && said.contains("routes recomputed"),
            "{said}"
        );
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c3", "c4"]);
        // c2 itself lost nothing it needs: its route to the producer is direct.
        assert_eq!(launcher_next_hops(&mesh, "c2", SENSOR).await, ["e2"]);
        assert!(mesh.topo_status().contains("links cut: c1-c2"));
        let recovery = load
            .recovery_after(cut, std::time::Duration::from_secs(10))
            .await;
        let pending = load.slowest_pending(cut);
        let reading = format!("{READINGS}/plain-after-cut");
        assert_eq!(mesh.exec("c1", &["nfwd", "get", &reading]), reading);

        tokio::time::sleep(FRESH_COUNTERS).await;
        let on_link = out_interests(&mesh, "c1", "c2").await;
        let restored = std::time::Instant::now();
        let said = mesh.topo(&["link", "c1", "c2", "up"]);
        assert!(
            said.contains("up") && said.contains("routes recomputed"),
            "{said}"
        );
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        assert!(!mesh.topo_status().contains("links cut"));
        // Every request's reading is fetched by c1, now through c2 only.
        let deadline = restored + std::time::Duration::from_secs(10);
        while out_interests(&mesh, "c1", "c2").await < on_link + 10 {
            assert!(
                std::time::Instant::now() < deadline,
                "the restored link c1-c2 carries no Interests after 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let back = restored.elapsed();
        load.until_right(20, std::time::Duration::from_secs(10), "after the restore")
            .await;
        let log = load.stop().await;
        let failed = |from: std::time::Instant, to: std::time::Instant| {
            log.iter()
                .filter(|r| r.end > from && r.start < to && matches!(r.outcome, Outcome::Failed(_)))
                .count()
        };
        println!(
            "cut c1-c2 (c1's only next hop to the producer): cut and rerouted by `topo link` in \
             {} ms; a request issued after the cut answered right {} ms after it; {pending}; \
             {} failed while cut; restored: c1 sent Interests over it again within {} ms, {} \
             failed after; {} requests in all, none wrong",
            cut_took.as_millis(),
            recovery.as_millis(),
            failed(cut, restored),
            back.as_millis(),
            failed(restored, std::time::Instant::now()),
            log.len()
        );
    });
}

/// With upper on c1 only, c1's only next hop is c2. c2's daemon dies by itself (SIGKILL from
/// outside, not `topo kill`): the watcher `up` started notices and reroutes, so c1 routes
/// through c3 and c4 and requests succeed again with no command run; the crashed node is
/// then restarted like a killed one.
#[test]
fn a_daemon_that_dies_by_itself_is_routed_around_by_the_watcher() {
    let Some(mesh) = Mesh::up_with("w", |t| upper_on_c1_only(&t)) else {
        return;
    };
    runtime().block_on(async {
        let status = mesh.topo_status();
        let watcher = mesh.launched().watcher_pid.expect("up starts a watcher");
        let log = mesh.state.join(&mesh.name).join("watch.log");
        assert!(
            status.contains(&format!("watcher: pid {watcher} running")),
            "{status}\nwatch.log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        let load = Load::start(&mesh).await;
        load.until_right(30, std::time::Duration::from_secs(20), "warm-up")
            .await;

        let pid = mesh.launched().node("c2").unwrap().daemon_pid.to_string();
        let crashed = std::time::Instant::now();
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        // No command: the watcher's reroute is what brings c1 a new path.
        let rerouted_within = std::time::Duration::from_secs(10);
        loop {
            if launcher_next_hops(&mesh, "c1", SENSOR).await == ["c3", "c4"] {
                break;
            }
            assert!(
                crashed.elapsed() < rerouted_within,
                "c1 still routes through the dead c2 after {rerouted_within:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let rerouted = crashed.elapsed();
        let recovery = load
            .recovery_after(crashed, std::time::Duration::from_secs(10))
            .await;
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(log.contains("nodes down: [c2] (were [])"), "{log}");
        assert!(log.contains("rerouted in"), "{log}");
        let status = mesh.topo_status();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("c2  pid") && l.contains("DEAD")),
            "{status}"
        );

        // Crashed, not killed: `restart` brings it back all the same.
        let said = mesh.topo(&["restart", "c2"]);
        assert!(said.contains("c2 restarted"), "{said}");
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        load.until_right(30, std::time::Duration::from_secs(10), "after the restart")
            .await;
        let requests = load.stop().await;
        assert!(
            !requests
                .iter()
                .any(|r| matches!(r.outcome, Outcome::Wrong(_))),
            "a wrong answer"
        );
        println!(
            "c2's daemon crashed: the watcher rerouted c1 within {} ms; a request issued \
             after the crash answered right {} ms after it; {} requests, none wrong",
            rerouted.as_millis(),
            recovery.as_millis(),
            requests.len()
        );
    });
}

//! `nfwd topo up --docker` with real containers: the shipped Fig. 30 line
//! (`topologies/examples/line.toml`) comes up as one container per node (FROM scratch + the
//! static nfwd) joined by a private Docker network per link, a consumer on its node gets
//! F3(F2(F1(x))) through three forwarders that each host one function (the SF host runs the
//! built-ins as processes inside its node's container), `status` shows the faces between
//! nodes, and `down` leaves no container, network or namespace of the topology. And the line
//! in namespaces with F1's node as `sf_host = "docker"`: its SF runs as a sibling container.
//!
//! Needs root, iproute2 and a Docker engine. Outside CI a missing one skips the test and says
//! so; under `CI=true` it fails. The static nfwd is the one the SF host's Docker tests use
//! (`target/static-sf`, built by `build_static_nfwd`; cargo rebuilds only what changed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::mesh::{
    Load, Mesh, READINGS, SENSOR, launcher_next_hops, out_interests, runtime, upper_on_c1_only,
};
use common::topo::{Down, example_as, namespaces, ok, plan_testbed, plan_up_wk, topo_exec};
use common::{TempDir, cannot_run, nfwd_output as nfwd};

/// What a skip or a CI failure names.
const SUBJECT: &str = "Docker topology test";

/// Lines of `docker <args>` (empty if it fails).
fn docker_lines(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn containers(name: &str) -> Vec<String> {
    docker_lines(&[
        "container",
        "ls",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=nfwd.topo={name}"),
    ])
}

fn networks(name: &str) -> Vec<String> {
    docker_lines(&[
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        &format!("label=nfwd.topo={name}"),
    ])
}

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The static nfwd the images carry (shared with the SF host's Docker tests), built once per
/// test process.
fn static_nfwd() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let t = Instant::now();
            let r = nfwd_sf_host::docker::build_static_nfwd(
                root,
                &root.join("target").join("static-sf"),
            )
            .map_err(|e| e.to_string());
            eprintln!("static nfwd ready in {:.1} s", t.elapsed().as_secs_f64());
            r
        })
        .clone()
        .unwrap()
}

/// Why this machine cannot run these tests, if it cannot.
fn missing() -> Option<&'static str> {
    if let Some(why) = common::topo::testbed_missing() {
        return Some(why);
    }
    if !docker_answers() {
        return Some("no Docker engine answers (`docker version`)");
    }
    None
}

#[test]
fn the_fig30_line_computes_f3_f2_f1_across_containers_and_down_removes_them() {
    if let Some(why) = missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let binary = static_nfwd();
    let dir = TempDir::new("topo-docker");
    let name = format!("td{}", std::process::id());
    let file = example_as(&dir.0, "line", &name, |s| s);
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let _down = Down {
        name: &name,
        state: &state,
    };

    let started = Instant::now();
    let up = nfwd(&[
        "topo",
        "up",
        file.to_str().unwrap(),
        "--docker",
        "--docker-binary",
        binary.to_str().unwrap(),
        "--best-effort-shaping",
        "--state-dir",
        state_arg,
    ]);
    let text = ok(&up, "topo up --docker");
    eprintln!(
        "up --docker in {:.1} s:\n{text}{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(text.contains("5 nodes, 4 links, 8 faces"), "{text}");
    let mut running = containers(&name);
    running.sort();
    assert_eq!(
        running,
        ["consumer", "f1", "f2", "f3", "producer"].map(|n| format!("nfwd-topo.{name}.{n}")),
    );
    assert_eq!(networks(&name).len(), 4);
    // The recorded placement is what status, exec and down go by, without --docker.
    let recorded = std::fs::read_to_string(state.join(&name).join("state.toml")).unwrap();
    assert!(recorded.contains("placement = \"docker\""), "{recorded}");

    let exec = |node: &str, cmd: &[&str]| topo_exec(&name, state_arg, node, cmd);
    let started = Instant::now();
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
    eprintln!(
        "chain of three answered in {:.2} s (exec included)",
        started.elapsed().as_secs_f64()
    );
    // The command ran inside the container: its hostname is the node's.
    let faces = ok(&exec("f2", &["nfwd", "face", "list"]), "face list");
    let to_peers: Vec<&str> = faces.lines().filter(|l| l.contains("10.101.")).collect();
    assert!(to_peers.len() >= 2, "{faces}");
    assert!(
        to_peers.iter().all(|l| l.contains("scope=non-local")),
        "{faces}"
    );
    let status = ok(
        &nfwd(&["topo", "status", &name, "--state-dir", state_arg]),
        "topo status",
    );
    for want in ["(docker)", "/sf/F2", "-> f1", "-> f3", "non-local"] {
        assert!(status.contains(want), "{want} missing in:\n{status}");
    }

    let down = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "topo down",
    );
    assert!(down.contains("5 containers, 4 networks"), "{down}");
    assert!(containers(&name).is_empty(), "{:?}", containers(&name));
    assert!(networks(&name).is_empty(), "{:?}", networks(&name));
    assert!(namespaces(&format!("nfwd.{name}.")).is_empty());
    assert!(!state.join(&name).exists());
    let again = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "second down",
    );
    assert!(again.contains("nothing to take down"), "{again}");
}

/// Removes the SF images an SF host of this test built (they carry its owner label).
struct SfImages(String);

impl Drop for SfImages {
    fn drop(&mut self) {
        for id in docker_lines(&[
            "images",
            "-q",
            "--filter",
            &format!("label=nfwd.owner={}", self.0),
        ]) {
            let _ = Command::new("docker").args(["rmi", "-f", &id]).output();
        }
    }
}

#[test]
fn a_docker_sf_host_in_namespaces_runs_its_function_as_a_sibling_container() {
    if let Some(why) = missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let binary = static_nfwd();
    let dir = TempDir::new("topo-docker-sf");
    let name = format!("ts{}", std::process::id());
    let file = example_as(&dir.0, "line", &name, |s| {
        s.replacen(
            "name = \"f1\"\n",
            "name = \"f1\"\nsf_host = \"docker\"\n",
            1,
        )
    });
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let owner = format!("{name}.f1");
    let _images = SfImages(owner.clone());
    let _down = Down {
        name: &name,
        state: &state,
    };
    let sf_containers = || {
        docker_lines(&[
            "container",
            "ls",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label=nfwd.owner={owner}"),
        ])
    };

    let up = nfwd(&[
        "topo",
        "up",
        file.to_str().unwrap(),
        "--docker-binary",
        binary.to_str().unwrap(),
        "--best-effort-shaping",
        "--state-dir",
        state_arg,
    ]);
    ok(&up, "topo up (namespaces, a Docker SF host)");
    // F1 is kept warm (min = 1): its container runs once up.
    assert_eq!(sf_containers().len(), 1, "{:?}", sf_containers());
    let got = nfwd(&[
        "topo",
        "exec",
        "--topo",
        &name,
        "--state-dir",
        state_arg,
        "consumer",
        "--",
        "nfwd",
        "get",
        "/rs1/lamp/2256",
        "--chain",
        "/sf/F3,/sf/F2,/sf/F1",
    ]);
    assert_eq!(
        ok(&got, "get through the chain"),
        "[ XUL 213 ,NO :6522 PMAL ]"
    );
    ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "topo down",
    );
    // The SF host stopped its container when its daemon was told to end.
    assert!(sf_containers().is_empty(), "{:?}", sf_containers());
    assert!(namespaces(&format!("nfwd.{name}.")).is_empty());
}

/// `nfwd demo --docker`: the multi-node demo with each node a container computes the chain,
/// serves the repeat from a content store, and leaves no container or network behind.
#[test]
fn the_demo_runs_across_containers_with_docker() {
    if let Some(why) = missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let binary = static_nfwd();
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["demo", "--docker", "--docker-binary"])
        .arg(&binary)
        .env_remove("NDN_CLIENT_TRANSPORT")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "each node a forwarder in a Docker container",
        "  |   all                  2 of     4",
        "= F3(F2(F1(readings))) as expected",
        "1    f3    /sf/F3    1 ",
        "3    f1    /sf/F1    1 ",
        "Interests sent on links: 0; functions run: 0",
        "containers, ",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    let name = text
        .split_whitespace()
        .skip_while(|w| *w != "testbed")
        .nth(1)
        .unwrap();
    assert!(containers(name).is_empty(), "{:?}", containers(name));
    assert!(networks(name).is_empty(), "{:?}", networks(name));
}

/// The shipped mesh in containers, upper on c1 only (so c2 is c1's only next hop towards the
/// producer), a consumer asking for reverse(upper(reading)) in a loop: c2's container is
/// killed (`topo kill`) and the routes lead around it; it is restarted (`docker start`, its
/// link ends renamed and shaped again) and serves again; the link c1-c2 is cut and restored;
/// and a container killed behind the launcher's back (`docker kill`) is seen by the watcher,
/// which routes around it. No request ever gets a wrong answer.
#[test]
fn a_docker_mesh_routes_around_a_killed_container_restarts_it_and_survives_a_cut_link() {
    if let Some(why) = missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let binary = static_nfwd();
    let mesh = Mesh::up_in_docker("d", &binary, |t| upper_on_c1_only(&t));
    runtime().block_on(async {
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        let load = Load::start(&mesh).await;
        load.until_right(30, Duration::from_secs(30), "warm-up")
            .await;

        // A crash: c2's processes killed, its container stopped, its interfaces gone.
        let killed = Instant::now();
        let said = mesh.topo(&["kill", "c2"]);
        assert!(said.contains("c2 killed"), "{said}");
        let running = docker_lines(&[
            "inspect",
            "--format",
            "{{.State.Running}}",
            &format!("nfwd-topo.{}.c2", mesh.name),
        ]);
        assert_eq!(running, ["false"]);
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c3", "c4"]);
        let kill_recovery = load.recovery_after(killed, Duration::from_secs(15)).await;

        // A cut recorded while c2 is down (its end has no interface) holds when it is back.
        mesh.topo(&["link", "c2", "c3", "down"]);
        let restarted = Instant::now();
        let said = mesh.topo(&["restart", "c2"]);
        let restart_took = restarted.elapsed();
        assert!(
            said.contains("c2 restarted") && said.contains("1 SFs"),
            "{said}"
        );
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        assert_eq!(launcher_next_hops(&mesh, "c2", SENSOR).await, ["e2"]);
        assert!(
            !launcher_next_hops(&mesh, "c3", SENSOR)
                .await
                .contains(&"c2".to_owned()),
            "c2-c3 is cut"
        );
        // Its own function, on a reading it fetches over its renamed, reshaped link to e2.
        let reading = format!("{READINGS}/at-c2");
        assert_eq!(
            mesh.exec("c2", &["nfwd", "get", &reading, "--chain", "/sf/reverse"]),
            reading.chars().rev().collect::<String>()
        );
        load.until_right(30, Duration::from_secs(15), "after the restart")
            .await;
        // The cut held through the restart; restored, c3 routes through c2 again.
        mesh.topo(&["link", "c2", "c3", "up"]);
        assert!(
            launcher_next_hops(&mesh, "c3", SENSOR)
                .await
                .contains(&"c2".to_owned())
        );

        // The active link cut and restored.
        let cut = Instant::now();
        mesh.topo(&["link", "c1", "c2", "down"]);
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c3", "c4"]);
        let cut_recovery = load.recovery_after(cut, Duration::from_secs(15)).await;
        mesh.topo(&["link", "c1", "c2", "up"]);
        assert_eq!(launcher_next_hops(&mesh, "c1", SENSOR).await, ["c2"]);
        let before = out_interests(&mesh, "c1", "c2").await;
        load.until_right(30, Duration::from_secs(15), "after the link came back")
            .await;
        assert!(out_interests(&mesh, "c1", "c2").await > before);

        // Behind the launcher's back: the watcher sees the container gone and reroutes.
        let gone = Instant::now();
        let container = format!("nfwd-topo.{}.c2", mesh.name);
        assert!(!docker_lines(&["kill", &container]).is_empty());
        let deadline = Instant::now() + Duration::from_secs(15);
        while launcher_next_hops(&mesh, "c1", SENSOR).await != ["c3", "c4"] {
            assert!(Instant::now() < deadline, "the watcher did not reroute");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let watched = gone.elapsed();
        let watch_recovery = load.recovery_after(gone, Duration::from_secs(15)).await;
        let log = load.stop().await;
        println!(
            "docker mesh: after topo kill c2 requests were right again in {} ms; restart took \
             {} ms; after cutting c1-c2 right again in {} ms; after docker kill the watcher \
             rerouted in {} ms and requests were right again in {} ms; {} requests, none wrong",
            kill_recovery.as_millis(),
            restart_took.as_millis(),
            cut_recovery.as_millis(),
            watched.as_millis(),
            watch_recovery.as_millis(),
            log.len()
        );
    });
}

/// `topo apply` on a Docker testbed: a plan puts `up` on a and `wk` on b, the consumer's
/// chain is computed there; a second plan moves `wk` to c, and b no longer runs it while the
/// answers stay right. `topo run`'s path is the same (apply, then chained Interests through
/// the nodes' sockets).
#[test]
fn plans_applied_to_a_docker_testbed_deploy_move_and_remove_sfs() {
    if let Some(why) = missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let binary = static_nfwd();
    let dir = TempDir::new("topo-docker-plan");
    let name = format!("tp{}", std::process::id());
    let file = dir.0.join(format!("{name}.toml"));
    std::fs::write(&file, plan_testbed(&name)).unwrap();
    std::fs::write(dir.0.join("plan-b.toml"), plan_up_wk("b")).unwrap();
    std::fs::write(dir.0.join("plan-c.toml"), plan_up_wk("c")).unwrap();
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let _down = Down {
        name: &name,
        state: &state,
    };
    ok(
        &nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--docker",
            "--docker-binary",
            binary.to_str().unwrap(),
            "--best-effort-shaping",
            "--state-dir",
            state_arg,
        ]),
        "topo up --docker",
    );
    let apply = |plan: &str| {
        ok(
            &nfwd(&[
                "topo",
                "apply",
                dir.0.join(plan).to_str().unwrap(),
                "--topo",
                &name,
                "--state-dir",
                state_arg,
            ]),
            plan,
        )
    };
    let on = |node: &str, cmd: &[&str]| ok(&topo_exec(&name, state_arg, node, cmd), &cmd.join(" "));
    let get = |k: u64| {
        let chain = format!("/fn/up,/fn/wk/ms=5/id={k}");
        on("consumer", &["nfwd", "get", "/lamp/7", "--chain", &chain])
    };

    apply("plan-b.toml");
    assert_eq!(get(0), "LAMP 7: ON");
    assert!(on("b", &["nfwd", "sf", "list"]).contains("/fn/wk"));
    assert!(on("a", &["nfwd", "sf", "list"]).contains("/fn/up"));

    let moved = apply("plan-c.toml");
    assert!(
        moved.contains("+1 SFs") && moved.contains("-1 SFs"),
        "{moved}"
    );
    for k in 1..=5 {
        assert_eq!(get(k), "LAMP 7: ON", "request {k} after the move");
    }
    assert!(on("c", &["nfwd", "sf", "list"]).contains("/fn/wk"));
    // The SF list is a dataset: b's content store answers it for its 1 s FreshnessPeriod.
    std::thread::sleep(Duration::from_millis(1200));
    let b_list = on("b", &["nfwd", "sf", "list"]);
    assert!(
        !b_list.contains("/fn/wk"),
        "b still runs wk after the plan moved it:\n{b_list}"
    );
}

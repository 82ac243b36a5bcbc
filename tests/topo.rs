//! `nfwd topo` with real daemons: the shipped Fig. 30 line (`topologies/examples/line.toml`)
//! comes up in network namespaces, a consumer on its node gets F3(F2(F1(x))) through three
//! forwarders that each host one function, faces between forwarders are non-local, and `down`
//! leaves nothing behind. On the shipped mesh (`topologies/examples/mesh.toml`), with a
//! consumer fetching a chained result in a loop, a crashed node (`nfwd topo kill`) and a cut
//! link (`nfwd topo link A B down`) on the active path are routed around within a bounded time
//! with no wrong answer, and a restored link carries traffic again.
//!
//! Needs root and iproute2 (namespaces, veth pairs). Outside CI a missing capability skips the
//! test and says so; under `CI=true` it fails. Delay needs the kernel's netem; without it the
//! test runs with `--best-effort-shaping` (bandwidth and loss only), as CI machines may lack it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::topo::{Down, example_as, namespaces, ok, testbed_missing};
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

    let up = nfwd(&[
        "topo",
        "up",
        file.to_str().unwrap(),
        "--best-effort-shaping",
        "--state-dir",
        state_arg,
    ]);
    let text = ok(&up, "topo up");
    assert!(text.contains("5 nodes, 4 links, 8 faces"), "{text}");
    assert_eq!(namespaces(&format!("nfwd.{name}.")).len(), 5);

    let exec = |node: &str, cmd: &[&str]| {
        let mut args = vec![
            "topo",
            "exec",
            "--topo",
            &name,
            "--state-dir",
            state_arg,
            node,
            "--",
        ];
        args.extend_from_slice(cmd);
        nfwd(&args)
    };
    // The consumer's forwarder sends the chain towards F3's node; each node pops its own
    // function; the producer is four forwarder hops away.
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

    let down = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "topo down",
    );
    assert!(down.contains("5 namespaces"), "{down}");
    assert!(namespaces(&format!("nfwd.{name}.")).is_empty());
    assert!(!state.join(&name).exists());
    let again = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "second down",
    );
    assert!(again.contains("nothing to take down"), "{again}");
}

/// The shipped mesh under a name of this run's own, up, and taken down on drop.
struct Mesh {
    name: String,
    state: std::path::PathBuf,
    _dir: TempDir,
}

impl Mesh {
    /// Brings the mesh up as `t<pid><tag>`, or says why it cannot (None: the test returns).
    fn up(tag: &str) -> Option<Self> {
        if let Some(why) = testbed_missing() {
            cannot_run(SUBJECT, why);
            return None;
        }
        let dir = TempDir::new(&format!("topo-mesh-{tag}"));
        let name = format!("t{}{tag}", std::process::id());
        // e1 multicasts function Interests in the shipped file: every request goes down both
        // halves of the mesh, so a fault on one never shows. Best-route (the default) puts each
        // request on one path, the one the fault then breaks.
        let multicast = "strategy = \"/localhost/nfd/strategy/multicast\"";
        let file = example_as(&dir.0, "mesh", &name, |t| {
            assert!(t.contains(multicast));
            t.replace(
                multicast,
                "strategy = \"/localhost/nfd/strategy/best-route\"",
            )
        });
        let state = dir.0.join("state");
        let mesh = Self {
            name,
            state,
            _dir: dir,
        };
        let up = nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--best-effort-shaping",
            "--state-dir",
            mesh.state_arg(),
        ]);
        ok(&up, "topo up (mesh)");
        Some(mesh)
    }

    fn state_arg(&self) -> &str {
        self.state.to_str().unwrap()
    }

    /// `nfwd topo ARGS... --topo NAME --state-dir DIR`, which must succeed.
    fn topo(&self, args: &[&str]) -> String {
        let mut all = vec!["topo"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--topo",
            self.name.as_str(),
            "--state-dir",
            self.state_arg(),
        ]);
        ok(&nfwd(&all), &all.join(" "))
    }

    fn topo_status(&self) -> String {
        ok(
            &nfwd(&[
                "topo",
                "status",
                &self.name,
                "--state-dir",
                self.state_arg(),
            ]),
            "topo status",
        )
    }

    fn launched(&self) -> nfwd_topologies::launch::State {
        nfwd_topologies::launch::State::load(&self.state, &self.name).unwrap()
    }

    async fn client(&self, node: &str) -> nfwd_forwarder::client::Client {
        let state = self.launched();
        let socket = &state.node(node).unwrap().socket;
        nfwd_forwarder::client::Client::connect(&format!("unix://{}", socket.display()))
            .await
            .unwrap()
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        let _ = nfwd(&["topo", "down", &self.name, "--state-dir", self.state_arg()]);
    }
}

/// One chained request as the consumer saw it.
#[derive(Debug, Clone)]
struct Request {
    start: std::time::Instant,
    end: std::time::Instant,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The right result.
    Right,
    /// No result: a timeout, a Nack, an SF's error Data.
    Failed(String),
    /// A result that is not reverse(upper(x)) of this request's x.
    Wrong(String),
}

/// The consumer side of a fault test: a producer on e2 whose every reading names itself (so
/// every request is computed anew — no cache on the way can answer it — and any answer for
/// another request is caught), and consumers on e1 asking for reverse(upper(reading)) in a
/// loop until stopped.
struct Load {
    log: std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    _producer: (
        nfwd_forwarder::client::Client,
        nfwd_forwarder::client::ServeHandle,
    ),
}

/// The readings under the shipped producer's prefix: longer, so e2 gives them to this
/// producer (longest prefix match) and every node's route to the prefix leads to e2.
const READINGS: &str = "/city/sensor/7/r";

fn expected(reading: &str) -> String {
    reading.to_uppercase().chars().rev().collect()
}

impl Load {
    async fn start(mesh: &Mesh) -> Self {
        use nfwd_forwarder::client::{Reply, answer_data};
        let producer = mesh.client("e2").await;
        let handle = producer
            .serve(READINGS.parse().unwrap(), |interest| async move {
                let reading = interest.name().to_string();
                answer_data(
                    &interest,
                    reading,
                    Some(1000),
                    &nfwd_tlv::Signer::digest_sha256(),
                )
                .map_or(Reply::None, Reply::Data)
            })
            .await
            .unwrap();
        let consumer = std::sync::Arc::new(mesh.client("e1").await);
        let log: std::sync::Arc<std::sync::Mutex<Vec<Request>>> = std::sync::Arc::default();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..2 {
            let (consumer, log, stop) = (consumer.clone(), log.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let mut seq = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    seq += 1;
                    let name: nfwd_tlv::Name = format!("{READINGS}/{w}-{seq}").parse().unwrap();
                    let want = expected(&name.to_string());
                    let interest = nfwd_tlv::InterestBuilder::new(name)
                        .function_chain(Some("/sf/reverse,/sf/upper".parse().unwrap()))
                        .lifetime_ms(4000)
                        .build()
                        .unwrap();
                    let start = std::time::Instant::now();
                    let outcome = match consumer.express(interest).await {
                        Ok(d) if d.content_type() == nfwd_tlv::types::content_type::NACK => {
                            Outcome::Failed(format!(
                                "error data: {}",
                                String::from_utf8_lossy(d.content())
                            ))
                        }
                        Ok(d) if d.content().as_ref() == want.as_bytes() => Outcome::Right,
                        Ok(d) => Outcome::Wrong(String::from_utf8_lossy(d.content()).into_owned()),
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    log.lock().unwrap().push(Request {
                        start,
                        end: std::time::Instant::now(),
                        outcome,
                    });
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }));
        }
        Self {
            log,
            stop,
            workers,
            _producer: (producer, handle),
        }
    }

    fn right(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.outcome == Outcome::Right)
            .count()
    }

    /// Waits until `n` more requests were right (fails the test after `within`).
    async fn until_right(&self, n: usize, within: std::time::Duration, what: &str) {
        let target = self.right() + n;
        let deadline = std::time::Instant::now() + within;
        while self.right() < target {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not {n} right answers within {within:?}; last: {:?}",
                self.log.lock().unwrap().last()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// After a fault at `at`: waits until requests succeed again and keep succeeding (1 s
    /// of right answers and no failure since), at most `bound`; returns how long it took,
    /// measured to the end of the first right answer after the last failure.
    async fn recovery_after(
        &self,
        at: std::time::Instant,
        bound: std::time::Duration,
    ) -> std::time::Duration {
        loop {
            let recovered = {
                let log = self.log.lock().unwrap();
                let last_failure = log
                    .iter()
                    .filter(|r| r.end > at && matches!(r.outcome, Outcome::Failed(_)))
                    .map(|r| r.end)
                    .max()
                    .unwrap_or(at);
                let after: Vec<&Request> = log.iter().filter(|r| r.start > last_failure).collect();
                let first = after.iter().map(|r| r.end).min();
                match first {
                    Some(first)
                        if after.iter().all(|r| r.outcome == Outcome::Right)
                            && std::time::Instant::now()
                                > first + std::time::Duration::from_secs(1)
                            && after.len() >= 5 =>
                    {
                        Some(first - at)
                    }
                    _ => None,
                }
            };
            if let Some(r) = recovered {
                return r;
            }
            assert!(
                at.elapsed() < bound,
                "requests did not succeed again within {bound:?} of the fault; last: {:?}",
                self.log.lock().unwrap().last()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The longest a request in flight at `at` waited after it, in words.
    fn slowest_pending(&self, at: std::time::Instant) -> String {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.start <= at && r.end > at)
            .map(|r| r.end - at)
            .max()
            .map_or_else(
                || "none was in flight at it".to_owned(),
                |d| format!("those in flight at it answered within {} ms", d.as_millis()),
            )
    }

    /// Stops the consumers; returns every request, checked: none ever got a wrong answer.
    async fn stop(self) -> Vec<Request> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in self.workers {
            w.await.unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        let wrong: Vec<&Request> = log
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Wrong(_)))
            .collect();
        assert!(wrong.is_empty(), "wrong answers: {wrong:?}");
        log
    }
}

/// How long counters take to be current: SF hosts update theirs every 500 ms, and a node's
/// datasets are answered from its content store for 1 s (their FreshnessPeriod).
const FRESH_COUNTERS: std::time::Duration = std::time::Duration::from_millis(1200);

/// Requests each node's SF host received for `function` so far.
async fn sf_requests(mesh: &Mesh, nodes: &[&str], function: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for n in nodes {
        let stats = nfwd_sf_host::host::protocol::stats(&mesh.client(n).await)
            .await
            .unwrap();
        out.push(
            stats
                .iter()
                .find(|s| s.name == function)
                .map_or(0, |s| s.requests),
        );
    }
    out
}

/// Interests `node` sent on its face towards `neighbour`.
async fn out_interests(mesh: &Mesh, node: &str, neighbour: &str) -> u64 {
    use nfwd_tlv::nfd::{FaceStatus, decode_all};
    let face = mesh.launched().node(node).unwrap().faces[neighbour];
    let client = mesh.client(node).await;
    let opts = nfwd_forwarder::client::FetchOptions {
        must_be_fresh: true,
        ..Default::default()
    };
    let list = client
        .fetch_dataset(&"/localhost/nfd/faces/list".parse().unwrap(), &opts)
        .await
        .unwrap();
    decode_all::<FaceStatus>(&list)
        .unwrap()
        .iter()
        .find(|f| f.face_id == face)
        .map_or_else(
            || panic!("{node} has no face {face} towards {neighbour} any more"),
            |f| f.n_out_interests,
        )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
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

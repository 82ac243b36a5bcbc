//! The shipped mesh (`topologies/examples/mesh.toml`) as a fault test uses it: brought up
//! in namespaces or containers under a name of the run's own, taken down on drop, with a
//! producer and consumers whose every request must come back right (a [`Load`]), and the
//! queries the tests make of the nodes (routes, faces, SF counters).
#![allow(dead_code)]

use super::topo::{example_as, ok, testbed_missing, topo_exec};
use super::{TempDir, cannot_run, nfwd_output as nfwd};

/// The shipped mesh under a name of this run's own, up, and taken down on drop.
pub(crate) struct Mesh {
    pub(crate) name: String,
    pub(crate) state: std::path::PathBuf,
    _dir: TempDir,
}

impl Mesh {
    /// Brings the mesh up in namespaces as `t<pid><tag>`, or says why it cannot (None: the
    /// test returns).
    pub(crate) fn up(tag: &str) -> Option<Self> {
        Self::up_with(tag, |t| t)
    }

    /// [`Mesh::up`] with `edit` applied to the file after the test's own changes.
    pub(crate) fn up_with(tag: &str, edit: impl FnOnce(String) -> String) -> Option<Self> {
        if let Some(why) = testbed_missing() {
            cannot_run("topology test", why);
            return None;
        }
        Some(Self::launch(tag, edit, &[]))
    }

    /// The mesh with each node a Docker container whose image carries `binary` (a static
    /// nfwd). The caller has checked that root, iproute2 and a Docker engine are there.
    pub(crate) fn up_in_docker(
        tag: &str,
        binary: &std::path::Path,
        edit: impl FnOnce(String) -> String,
    ) -> Self {
        Self::launch(
            tag,
            edit,
            &["--docker", "--docker-binary", binary.to_str().unwrap()],
        )
    }

    fn launch(tag: &str, edit: impl FnOnce(String) -> String, placement: &[&str]) -> Self {
        let dir = TempDir::new(&format!("topo-mesh-{tag}"));
        let name = format!("t{}{tag}", std::process::id());
        // e1 multicasts function Interests in the shipped file: every request goes down both
        // halves of the mesh, so a fault on one never shows. Best-route (the default) puts each
        // request on one path, the one the fault then breaks.
        let multicast = "strategy = \"/localhost/nfd/strategy/multicast\"";
        let file = example_as(&dir.0, "mesh", &name, |t| {
            assert!(t.contains(multicast));
            edit(t.replace(
                multicast,
                "strategy = \"/localhost/nfd/strategy/best-route\"",
            ))
        });
        let state = dir.0.join("state");
        let mesh = Self {
            name,
            state,
            _dir: dir,
        };
        let mut args = vec![
            "topo",
            "up",
            file.to_str().unwrap(),
            "--best-effort-shaping",
            "--state-dir",
            mesh.state_arg(),
        ];
        args.extend_from_slice(placement);
        ok(&nfwd(&args), "topo up (mesh)");
        mesh
    }

    pub(crate) fn state_arg(&self) -> &str {
        self.state.to_str().unwrap()
    }

    /// `nfwd topo ARGS... --topo NAME --state-dir DIR`, which must succeed.
    pub(crate) fn topo(&self, args: &[&str]) -> String {
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

    /// `nfwd topo ARGS... --topo NAME --state-dir DIR`, which must fail; its stderr.
    pub(crate) fn topo_fails(&self, args: &[&str]) -> String {
        let mut all = vec!["topo"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--topo",
            self.name.as_str(),
            "--state-dir",
            self.state_arg(),
        ]);
        let out = nfwd(&all);
        assert!(!out.status.success(), "{} succeeded", all.join(" "));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `nfwd topo exec NODE -- ARGS...`, which must succeed; its stdout.
    pub(crate) fn exec(&self, node: &str, args: &[&str]) -> String {
        ok(
            &topo_exec(&self.name, self.state_arg(), node, args),
            &format!("exec on {node}: {}", args.join(" ")),
        )
    }

    /// The dataset `name` (e.g. `/localhost/nfd/faces/list`) of `node`, asked MustBeFresh.
    pub(crate) async fn dataset(&self, node: &str, name: &str) -> bytes::Bytes {
        let opts = nfwd_forwarder::client::FetchOptions {
            must_be_fresh: true,
            ..Default::default()
        };
        self.client(node)
            .await
            .fetch_dataset(&name.parse().unwrap(), &opts)
            .await
            .unwrap()
    }

    pub(crate) fn topo_status(&self) -> String {
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

    pub(crate) fn launched(&self) -> nfwd_topologies::launch::State {
        nfwd_topologies::launch::State::load(&self.state, &self.name).unwrap()
    }

    pub(crate) async fn client(&self, node: &str) -> nfwd_forwarder::client::Client {
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
pub(crate) struct Request {
    pub(crate) start: std::time::Instant,
    pub(crate) end: std::time::Instant,
    pub(crate) outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
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
pub(crate) struct Load {
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
pub(crate) const READINGS: &str = "/city/sensor/7/r";

pub(crate) fn expected(reading: &str) -> String {
    reading.to_uppercase().chars().rev().collect()
}

impl Load {
    pub(crate) async fn start(mesh: &Mesh) -> Self {
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

    pub(crate) fn right(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.outcome == Outcome::Right)
            .count()
    }

    /// Waits until `n` more requests were right (fails the test after `within`).
    pub(crate) async fn until_right(&self, n: usize, within: std::time::Duration, what: &str) {
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
    pub(crate) async fn recovery_after(
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
    pub(crate) fn slowest_pending(&self, at: std::time::Instant) -> String {
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
    pub(crate) async fn stop(self) -> Vec<Request> {
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
pub(crate) const FRESH_COUNTERS: std::time::Duration = std::time::Duration::from_millis(1200);

/// Requests each node's SF host received for `function` so far.
pub(crate) async fn sf_requests(mesh: &Mesh, nodes: &[&str], function: &str) -> Vec<u64> {
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
pub(crate) async fn out_interests(mesh: &Mesh, node: &str, neighbour: &str) -> u64 {
    use nfwd_tlv::nfd::{FaceStatus, decode_all};
    let face = mesh.launched().node(node).unwrap().faces[neighbour];
    let list = mesh.dataset(node, "/localhost/nfd/faces/list").await;
    decode_all::<FaceStatus>(&list)
        .unwrap()
        .iter()
        .find(|f| f.face_id == face)
        .map_or_else(
            || panic!("{node} has no face {face} towards {neighbour} any more"),
            |f| f.n_out_interests,
        )
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The shipped mesh's c4 node with its upper replica: removed by [`upper_on_c1_only`].
pub(crate) const C4_WITH_UPPER: &str = "name = \"c4\"
vcpus = 4
speed = 2.5
[[node.sf]]
name = \"/sf/upper\"
builtin = \"upper\"
input_type = \"text/plain\"
output_type = \"text/plain\"
";

/// The mesh with upper on c1 only: every request then needs c1 to fetch the reading, and
/// c1's only computed next hop towards the producer on e2 is c2 (at distance 1; c4, the other
/// way, is no closer than c1 itself). A fault on c2 or on c1-c2 leaves c1 without a path
/// unless the routes are recomputed.
pub(crate) fn upper_on_c1_only(t: &str) -> String {
    assert!(t.contains(C4_WITH_UPPER), "the mesh's c4 changed");
    t.replace(C4_WITH_UPPER, "name = \"c4\"\nvcpus = 4\nspeed = 2.5\n")
}

/// The producer's prefix in the mesh.
pub(crate) const SENSOR: &str = "/city/sensor/7";

/// The neighbours `node`'s launcher routes (origin static) for `prefix` go to, sorted, by
/// the faces recorded in the state; a route on a face the state does not know is named by
/// its id, so that a stale face shows.
pub(crate) async fn launcher_next_hops(mesh: &Mesh, node: &str, prefix: &str) -> Vec<String> {
    use nfwd_tlv::nfd::{RibEntry, decode_all};
    let state = mesh.launched();
    let faces = &state.node(node).unwrap().faces;
    let rib = mesh.dataset(node, "/localhost/nfd/rib/list").await;
    let want: nfwd_tlv::Name = prefix.parse().unwrap();
    let mut hops: Vec<String> = decode_all::<RibEntry>(&rib)
        .unwrap()
        .iter()
        .filter(|e| e.name == want)
        .flat_map(|e| e.routes.iter().filter(|r| r.origin == 255))
        .map(|r| {
            faces
                .iter()
                .find(|(_, id)| **id == r.face_id)
                .map_or_else(|| format!("face {}", r.face_id), |(n, _)| n.clone())
        })
        .collect();
    hops.sort();
    hops
}

/// Whether `node` has the face the state records towards `neighbour`.
pub(crate) async fn has_recorded_face(mesh: &Mesh, node: &str, neighbour: &str) -> bool {
    use nfwd_tlv::nfd::{FaceStatus, decode_all};
    let face = mesh.launched().node(node).unwrap().faces[neighbour];
    let list = mesh.dataset(node, "/localhost/nfd/faces/list").await;
    decode_all::<FaceStatus>(&list)
        .unwrap()
        .iter()
        .any(|f| f.face_id == face)
}

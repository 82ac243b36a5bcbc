//! `nfwd demo` as root: the seed's Fig. 30 line on this machine, one network namespace per
//! node — consumer → f3 → f2 → f1 → producer — built with the topologies library from an
//! embedded topology (no file, no Docker, built-in functions), a chain whose three functions
//! run on three nodes, timed hop by hop from the nodes' own counters, then the same request
//! again, answered by a content store on the way. The testbed is always taken down: at the
//! end, on an error, and on Ctrl-C or SIGTERM.

use crate::cli::output::outln;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use nfwd_forwarder::client::{Client, FetchOptions};
use nfwd_sf_host::host::protocol::{self as sf_protocol, SfStats};
use nfwd_tlv::nfd::dataset::DATASET_FRESHNESS_MS;
use nfwd_tlv::nfd::{CsInfo, FaceStatus};
use nfwd_tlv::{FunctionChain, Name};
use nfwd_topologies::Topology;
use nfwd_topologies::launch::{self, State, UpOptions};
use nfwd_topologies::placement::PlacementKind;

/// The line: each function on a node of its own, one hop further from the consumer than the
/// last; the producer serves raw parking-sensor readings at the far end. Delays apply where
/// the kernel has netem (best effort otherwise: said in the output).
const TOPOLOGY: &str = r#"
name = "@NAME@"
description = "nfwd demo: Fig. 30, consumer -> f3 -> f2 -> f1 -> producer"

[[node]]
name = "consumer"

[[node]]
name = "f3"
[[node.sf]]
name = "/sf/F3"
builtin = "parking-format"
output_type = "text/plain"
min = 1

[[node]]
name = "f2"
[[node.sf]]
name = "/sf/F2"
builtin = "parking-count"
output_type = "application/json"
min = 1

[[node]]
name = "f1"
[[node.sf]]
name = "/sf/F1"
builtin = "parking-filter"
output_type = "application/json"
min = 1

[[node]]
name = "producer"

[[link]]
a = "consumer"
b = "f3"
delay_ms = 2

[[link]]
a = "f3"
b = "f2"
delay_ms = 2

[[link]]
a = "f2"
b = "f1"
protocol = "tcp"
delay_ms = 2

[[link]]
a = "f1"
b = "producer"
delay_ms = 2

[[producer]]
node = "producer"
prefix = "/city/parking/readings"
text = '''[{"id":"s1","district":"centro","free":true,"ts":1},{"id":"s2","district":"centro","free":false,"ts":1},{"id":"s1","district":"centro","free":false,"ts":2},{"id":"s3","district":"porto","free":true},{"id":"s4","district":"porto","free":true},{"sensor":"broken"}]'''
"#;

/// What the consumer asks for, and what each function is.
const CONTENT: &str = "/city/parking/readings";
const CHAIN: &str = "/sf/F3,/sf/F2,/sf/F1";
/// The hops of the chain, in the order the Interest reaches them.
const HOPS: [(&str, &str, &str); 3] = [
    ("f3", "/sf/F3", "parking-format: a text report"),
    ("f2", "/sf/F2", "parking-count: free/total per district"),
    ("f1", "/sf/F1", "parking-filter: drops malformed readings"),
];
/// The report F3(F2(F1(readings))) must be: s1's latest reading is occupied, the malformed
/// one is dropped.
const EXPECTED: &str = "Free parking spaces
  centro               0 of     2
  porto                2 of     2
  all                  2 of     4
";

/// Takes the testbed down when dropped (the end, an error, a panic).
struct Teardown {
    name: String,
    root: PathBuf,
}

/// Whether the testbed was taken down, held while taking it down: the end of the demo and a
/// signal may race, and the second must neither repeat it nor exit before it is complete.
static TAKEN_DOWN: Mutex<bool> = Mutex::new(false);

impl Teardown {
    fn run(&self) {
        let mut done = TAKEN_DOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *done {
            return;
        }
        *done = true;
        let started = Instant::now();
        match launch::down(&self.name, &self.root) {
            Ok(r) if r.containers > 0 => outln!(
                "\ntestbed down in {:.1} s ({} containers, {} Docker networks)",
                started.elapsed().as_secs_f64(),
                r.containers,
                r.networks
            ),
            Ok(r) => outln!(
                "\ntestbed down in {:.1} s ({} namespaces, {} processes)",
                started.elapsed().as_secs_f64(),
                r.namespaces,
                r.processes
            ),
            Err(e) => eprintln!("taking the demo testbed {} down: {e}", self.name),
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        self.run();
    }
}

/// On Ctrl-C or SIGTERM: take the testbed down and exit (the daemons run in process groups
/// of their own, so the terminal's Ctrl-C does not reach them).
fn teardown_on_signal(name: String, root: PathBuf) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let signalled = rt.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return false;
            };
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                _ = term.recv() => true,
            }
        });
        if signalled {
            eprintln!("\ninterrupted: taking the testbed down");
            Teardown { name, root }.run();
            std::process::exit(130);
        }
    });
}

/// Runs the demo; `docker`: each node a container (with the static nfwd for its image, if
/// given) instead of a network namespace.
pub(crate) fn run(docker: Option<Option<PathBuf>>) -> anyhow::Result<()> {
    let pid = std::process::id();
    let name = format!("demo{pid}");
    let root = std::env::temp_dir().join(format!("nfwd-demo-{pid}"));
    let t = Topology::from_toml(&TOPOLOGY.replace("@NAME@", &name), "the demo's topology")?;
    teardown_on_signal(name.clone(), root.clone());
    let _teardown = Teardown {
        name,
        root: root.clone(),
    };

    let (placement, where_, links) = match docker {
        Some(_) => (PlacementKind::Docker, "Docker container", "Docker networks"),
        None => (PlacementKind::Netns, "network namespace", "2 ms links"),
    };
    outln!("nfwd demo: Fig. 30 on this machine, each node a forwarder in a {where_}");
    outln!("  consumer -- f3 -- f2 -- f1 -- producer   ({links}: faces between forwarders");
    outln!("                                            are non-local, as between machines)");
    for (node, f, what) in HOPS {
        outln!("  {node}: {f:<7} = {what}");
    }
    outln!("  producer: {CONTENT} (raw sensor readings, JSON)");
    let report = launch::up(
        &t,
        &UpOptions {
            nfwd: std::env::current_exe().context("finding this nfwd binary")?,
            source: root.join("demo.toml"),
            state_root: root.clone(),
            best_effort_shaping: true,
            timeout: Duration::from_secs(60),
            // Seconds long, and no node is expected to die.
            watch: false,
            placement,
            docker_binary: docker.flatten(),
        },
        &mut |_| {},
    )
    .context("bringing the demo testbed up")?;
    let state = &report.state;
    outln!(
        "\ntestbed {} up in {:.1} s: {} nodes, {} links, {} faces, {} routes, {} SFs; shaping: {}",
        state.name,
        state.up_seconds,
        state.nodes.len(),
        state.links.len(),
        report.faces,
        report.routes,
        report.sfs,
        state.shaping
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(requests(state))
}

/// A node's counters at one moment.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    interests_in: u64,
    interests_out: u64,
    data_in: u64,
    data_out: u64,
    cs_hits: u64,
    sfs: Vec<SfStats>,
}

/// FaceScope of a local face (NFD management).
const FACE_SCOPE_LOCAL: u64 = 1;

/// Every node's counters now. The nodes' datasets are Data with a FreshnessPeriod of
/// [`DATASET_FRESHNESS_MS`], answered from the node's content store within it: a snapshot
/// waits that long after the last one, so it reads counters, not a cached copy.
async fn snapshot(
    clients: &BTreeMap<String, Client>,
) -> anyhow::Result<BTreeMap<String, Snapshot>> {
    tokio::time::sleep(Duration::from_millis(DATASET_FRESHNESS_MS + 100)).await;
    let mut out = BTreeMap::new();
    for (node, c) in clients {
        // Counted on the faces to other forwarders only (non-local: the links, including the
        // connection a TCP neighbour opened to this node), not this demo's management.
        let faces = launch::dataset::<FaceStatus>(c, "faces/list")
            .await
            .with_context(|| format!("{node}: faces/list"))?;
        let on_links = faces.iter().filter(|f| f.face_scope != FACE_SCOPE_LOCAL);
        let cs = launch::dataset::<CsInfo>(c, "cs/info")
            .await
            .with_context(|| format!("{node}: cs/info"))?;
        let sfs = if HOPS.iter().any(|(n, _, _)| *n == node.as_str()) {
            sf_protocol::stats(c)
                .await
                .with_context(|| format!("{node}: SF stats"))?
        } else {
            Vec::new()
        };
        let mut snap = Snapshot {
            cs_hits: cs.first().map_or(0, |i| i.n_hits),
            sfs,
            ..Snapshot::default()
        };
        for f in on_links {
            snap.interests_in += f.n_in_interests;
            snap.interests_out += f.n_out_interests;
            snap.data_in += f.n_in_data;
            snap.data_out += f.n_out_data;
        }
        out.insert(node.clone(), snap);
    }
    Ok(out)
}

fn sf<'s>(snap: &'s BTreeMap<String, Snapshot>, node: &str, f: &str) -> Option<&'s SfStats> {
    snap.get(node)?.sfs.iter().find(|s| s.name == f)
}

async fn requests(state: &State) -> anyhow::Result<()> {
    let mut clients = BTreeMap::new();
    for n in &state.nodes {
        let c = Client::connect(&format!("unix://{}", n.socket.display()))
            .await
            .with_context(|| format!("connecting to {}'s forwarder", n.name))?;
        clients.insert(n.name.clone(), c);
    }
    // Each function's instance is warm (min = 1): wait until it runs, so the timings below are
    // the network's and the functions', not a process start.
    let deadline = Instant::now() + Duration::from_secs(20);
    for (node, f, _) in HOPS {
        let c = clients.get(node).context("a node of the demo is missing")?;
        loop {
            let stats = sf_protocol::stats(c).await.unwrap_or_default();
            if stats.iter().any(|s| s.name == f && s.instances > 0) {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{node}: {f} has no running instance after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let content: Name = CONTENT.parse()?;
    let chain: FunctionChain = CHAIN.parse()?;
    let opts = FetchOptions {
        lifetime_ms: 4000,
        ..FetchOptions::default()
    };
    let consumer = clients.get("consumer").context("no consumer node")?;

    outln!("\nconsumer: get {CONTENT} --chain {CHAIN}   i.e. F3(F2(F1(readings)))");
    let before = snapshot(&clients).await?;
    let started = Instant::now();
    let (_, result) = consumer
        .fetch(&content, Some(chain.clone()), &opts)
        .await
        .context("the chained request")?;
    let round_trip = started.elapsed();
    let after = snapshot(&clients).await?;
    let text = String::from_utf8_lossy(&result);
    for line in text.lines() {
        outln!("  | {line}");
    }
    anyhow::ensure!(
        text == EXPECTED,
        "the chain computed something else; expected:\n{EXPECTED}"
    );
    outln!(
        "  = F3(F2(F1(readings))) as expected; round trip at the consumer {:.1} ms",
        ms(round_trip)
    );

    // Per hop: the SF host's latency of its instance (fetching the input, which includes
    // every hop further on, plus computing); a hop's own share is its latency minus the next
    // function's.
    outln!("\n  hop  node  function  requests  input + compute  this hop alone");
    let latency = |node: &str, f: &str| sf(&after, node, f).and_then(|s| s.latency_p50_ms);
    for (k, &(node, f, _)) in HOPS.iter().enumerate() {
        let requests = sf(&after, node, f)
            .map_or(0, |s| s.requests)
            .saturating_sub(sf(&before, node, f).map_or(0, |s| s.requests));
        let own = latency(node, f);
        let next = HOPS.get(k + 1).and_then(|&(n, g, _)| latency(n, g));
        let alone = match (own, next) {
            (Some(o), Some(n)) => format!("{:.1} ms", o - n),
            (Some(o), None) => format!("{o:.1} ms (with the producer's answer)"),
            _ => "?".into(),
        };
        outln!(
            "  {:<4} {node:<5} {f:<9} {requests:<9} {:<16} {alone}",
            k + 1,
            own.map_or_else(|| "?".into(), |o| format!("{o:.1} ms"))
        );
    }
    outln!("  on the links, per node (Interests in/out, Data in/out):");
    let mut line = String::new();
    for n in &state.nodes {
        let (b, a) = (
            before.get(&n.name).cloned().unwrap_or_default(),
            after.get(&n.name).cloned().unwrap_or_default(),
        );
        line.push_str(&format!(
            "    {} {}/{} {}/{}",
            n.name,
            a.interests_in.saturating_sub(b.interests_in),
            a.interests_out.saturating_sub(b.interests_out),
            a.data_in.saturating_sub(b.data_in),
            a.data_out.saturating_sub(b.data_out)
        ));
    }
    outln!("{line}");

    // The same request again, from another application on the consumer's node: a content
    // store on the way answers, and no function runs.
    let again_client = Client::connect(&format!(
        "unix://{}",
        state.node("consumer")?.socket.display()
    ))
    .await?;
    // Nothing has happened since the last snapshot.
    let before = after;
    let started = Instant::now();
    let (_, again) = again_client
        .fetch(&content, Some(chain), &opts)
        .await
        .context("the repeated request")?;
    let round_trip = started.elapsed();
    let after = snapshot(&clients).await?;
    anyhow::ensure!(again == result, "the repeated request got another result");
    let answered: Vec<&str> = state
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| {
            after.get(*n).map_or(0, |s| s.cs_hits) > before.get(*n).map_or(0, |s| s.cs_hits)
        })
        .collect();
    let computed: u64 = HOPS
        .iter()
        .map(|&(n, f, _)| {
            sf(&after, n, f)
                .map_or(0, |s| s.requests)
                .saturating_sub(sf(&before, n, f).map_or(0, |s| s.requests))
        })
        .sum();
    let on_links: u64 = state
        .nodes
        .iter()
        .map(|n| {
            let count = |snap: &BTreeMap<String, Snapshot>| {
                snap.get(&n.name).map_or(0, |s| s.interests_out)
            };
            count(&after).saturating_sub(count(&before))
        })
        .sum();
    outln!(
        "\nsame request again: same result in {:.1} ms, from the content store of {} (its cs hits \
         rose); Interests sent on links: {on_links}; functions run: {computed}",
        ms(round_trip),
        if answered.is_empty() {
            "no node?".to_owned()
        } else {
            answered.join(", ")
        }
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

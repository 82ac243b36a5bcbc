//! An SF host pulls the package of an SF it lacks (issue 12, "Pull") with real daemons:
//!
//! ```text
//!   D (SF host) --udp/lo-- A (SF host) --udp/veth-- B (relay, namespace) --udp/veth-- C (publisher)
//! ```
//!
//! A, C and D run in our network namespace, B in its own; A reaches the publisher only through
//! B, two NDN hops away, and D only through A. A is asked to deploy `/sf/upcase` from its
//! package: it fetches the package over NDN, verifies it against its configured trust anchor,
//! installs it in its cache and runs it, and a consumer gets the upper-cased text through the
//! chain. A package altered on the way or signed by another key is refused on deploy with a
//! clear error, counted, and nothing runs. D, near A, deploys the same package: A's content
//! store answers it (A's CS hits grow by at least the package's segments). `nfwd sf
//! provision` tells E (another SF host behind A), A and D at once to pull it: E pulls it,
//! the others already have it.
//!
//! Needs root (namespaces). Outside CI a missing capability skips the test and says so; under
//! `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::netns::{Daemon, Netns};
use common::package::{
    cs_hits, generate_key, packets, publish, serve_text, tampered_packets, text,
};
use common::{TempDir, cannot_run, is_root, nfwd_output as nfwd};
use nfwd_forwarder::client::Client;

/// What a skip or a CI failure names.
const SUBJECT: &str = "SF pull test";

/// `nfwd sf packages --json` on `d` (at most a second old, as every dataset).
fn packages(d: &Daemon) -> serde_json::Value {
    serde_json::from_str(&d.cli(&["sf", "packages", "--json"]).unwrap()).unwrap()
}

/// `nfwd sf deploy` of a spec deploying `package` as `function`, written in `dir`.
fn deploy(d: &Daemon, dir: &Path, function: &str, package: &str) -> Output {
    deploy_with(d, dir, function, package, "")
}

/// [`deploy`] with `more` lines in the `[artifact]` table.
fn deploy_with(d: &Daemon, dir: &Path, function: &str, package: &str, more: &str) -> Output {
    let file = dir.join(format!(
        "deploy-{}-{}.toml",
        function.replace('/', "_"),
        std::process::id()
    ));
    std::fs::write(
        &file,
        format!(
            "name = \"{function}\"\n[artifact]\nkind = \"package\"\nname = \"{package}\"\n{more}"
        ),
    )
    .unwrap();
    nfwd(&[
        "--connect",
        &d.unix,
        "sf",
        "deploy",
        &file.display().to_string(),
    ])
}

/// A shell program of about 200 KB (25 segments) that upper-cases its input: the filler
/// lines are comments.
fn write_program(dir: &Path) -> Vec<u8> {
    let mut program = b"#!/bin/sh\ntr a-z A-Z\nexit 0\n".to_vec();
    for i in 0..4000 {
        program.extend_from_slice(format!("# filler line {i:05} of the pull test\n").as_bytes());
    }
    std::fs::write(dir.join("upcase.sh"), &program).unwrap();
    std::fs::set_permissions(
        dir.join("upcase.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        dir.join("upcase.toml"),
        "name = \"/sf/upcase\"\nversion = \"3\"\ninput_type = \"text/plain\"\n\
         output_type = \"text/plain\"\n[artifact]\nkind = \"exec\"\nargv = [\"upcase.sh\"]\n",
    )
    .unwrap();
    program
}

/// `nfwd get NAME --chain CHAIN` on `d`, retried for a few seconds while routes and the
/// cold start settle; the last output.
fn get_through(d: &Daemon, name: &str, chain: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = nfwd(&[
            "--connect",
            &d.unix,
            "get",
            name,
            "--chain",
            chain,
            "--lifetime",
            "4000",
        ]);
        if out.status.success() || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_host_pulls_an_sf_it_lacks_over_two_hops_refuses_forgeries_and_a_neighbour_hits_its_cache() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root (network namespaces)");
        return;
    }
    let octet = 1 + std::process::id() % 200;
    let Some(ns) = Netns::create("pl", 84, octet) else {
        cannot_run(
            SUBJECT,
            "cannot create network namespaces with `ip netns` and veth pairs",
        );
        return;
    };
    let dir = TempDir::new("sf-pull");
    let keys = dir.0.join("keys");
    let (key, cert) = generate_key(&keys, "/pkg/publisher");
    let (mallory_key, _) = generate_key(&keys, "/mallory");
    let source = format!("/pkg={}", cert.display());

    // C, the publisher's forwarder, on our end of the veth; B in the namespace.
    let c_port = common::free_port();
    let c = Daemon::start(
        &dir.0,
        "c",
        None,
        &["--udp", &format!("{}:{c_port}", ns.host_ip), "--tcp", ""],
    );
    let b = Daemon::start(
        &dir.0,
        "b",
        Some(&ns),
        &["--udp", &format!("{}:6363", ns.peer_ip), "--tcp", ""],
    );
    let c_face = format!("udp4://{}:{c_port}", ns.host_ip);
    b.cli(&["face", "create", &c_face]).unwrap();
    b.cli(&["route", "add", "/pkg", &c_face]).unwrap();

    // A and D: SF hosts pulling from /pkg, each with its own cache.
    let a_port = common::free_port();
    let a_cache = dir.0.join("cache-a");
    let a = Daemon::start(
        &dir.0,
        "a",
        None,
        &[
            "--udp",
            &format!("0.0.0.0:{a_port}"),
            "--tcp",
            "",
            "--sf-host",
            "--sf-package-source",
            &source,
            "--sf-package-cache",
            &a_cache.display().to_string(),
        ],
    );
    let b_face = format!("udp4://{}:6363", ns.peer_ip);
    a.cli(&["face", "create", &b_face]).unwrap();
    a.cli(&["route", "add", "/pkg", &b_face]).unwrap();
    let d_port = common::free_port();
    let d_cache = dir.0.join("cache-d");
    let d = Daemon::start(
        &dir.0,
        "d",
        None,
        &[
            "--udp",
            &format!("127.0.0.1:{d_port}"),
            "--tcp",
            "",
            "--sf-host",
            "--sf-package-source",
            &source,
            "--sf-package-cache",
            &d_cache.display().to_string(),
        ],
    );
    let a_face = format!("udp4://127.0.0.1:{a_port}");
    d.cli(&["face", "create", &a_face]).unwrap();
    d.cli(&["route", "add", "/pkg", &a_face]).unwrap();
    d.cli(&["route", "add", "/text", &a_face]).unwrap();

    // The publisher on C, as an operator runs it.
    let src = dir.0.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let program = write_program(&src);
    let segments = program.len().div_ceil(8000) as u64;
    let _publisher = publish(
        &c.unix,
        &src.join("upcase.toml"),
        "5",
        &key,
        "/pkg/sf-package/sf/upcase/v=5",
    );
    // The content the consumer transforms, on A.
    let _text = serve_text(&a.unix, "/text", "hello, pulled package");

    // Nothing of /sf/upcase on A: the deploy pulls it (latest version) across B.
    assert!(std::fs::read_dir(&a_cache).map_or(true, |mut d| d.next().is_none()));
    let started = Instant::now();
    let out = deploy(&a, &dir.0, "/sf/upcase", "/pkg/sf-package/sf/upcase");
    let deploy_ms = started.elapsed().as_millis();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("deployed /sf/upcase"), "{}", text(&out));
    eprintln!("deploy with a pull over two hops: {deploy_ms} ms");
    let list = a.cli(&["sf", "list", "--json"]).unwrap();
    assert!(list.contains("/pkg/sf-package/sf/upcase/v=5"), "{list}");
    let p = packages(&a);
    assert_eq!(p["counters"]["fetches"], 1, "{p}");
    assert_eq!(p["counters"]["installed"], 1, "{p}");
    assert_eq!(p["counters"]["fetched_segments"], segments, "{p}");
    assert_eq!(p["packages"][0]["pins"], 1, "{p}");
    // The installed artifact is the published program, byte for byte.
    let artifact = p["packages"][0]["artifact"].as_str().unwrap().to_owned();
    assert!(
        artifact.starts_with(&a_cache.display().to_string()),
        "{artifact}"
    );
    assert_eq!(std::fs::read(&artifact).unwrap(), program);

    // The consumer gets the transformed Data through the chain (cold start of the pulled SF).
    let got = get_through(&a, "/text", "/sf/upcase");
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim_end(),
        "HELLO, PULLED PACKAGE"
    );

    // Forgeries, served on C with the library: a segment altered after signing, and a
    // manifest signed by another key.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _serving = rt.block_on(async {
        let client = Client::connect(&c.unix).await.unwrap();
        let tampered = tampered_packets("/sf/tampered", &program, &key);
        let forged = packets("/sf/forged", &program, &mallory_key);
        // And a good one, for the on-demand pull below.
        let lazy = packets("/sf/lazyup", &program, &key);
        let h1 = Arc::new(tampered).serve(&client).await.unwrap();
        let h2 = Arc::new(forged).serve(&client).await.unwrap();
        let h3 = Arc::new(lazy).serve(&client).await.unwrap();
        (client, h1, h2, h3)
    });
    let out = deploy(
        &a,
        &dir.0,
        "/sf/tampered",
        "/pkg/sf-package/sf/tampered/v=1",
    );
    assert!(!out.status.success());
    let e = text(&out);
    assert!(
        e.contains("deploy refused (502)")
            && e.contains("segment 2 of /pkg/sf-package/sf/tampered/v=1")
            && e.contains("refusing"),
        "{e}"
    );
    let out = deploy(&a, &dir.0, "/sf/forged", "/pkg/sf-package/sf/forged");
    assert!(!out.status.success());
    let e = text(&out);
    assert!(
        e.contains("deploy refused (502)")
            && e.contains("signature does not verify with the trust anchor /pkg/publisher/KEY")
            && e.contains("signed by /mallory/KEY"),
        "{e}"
    );
    // Counted; nothing installed or staged; nothing deployed or running. (Datasets are up to
    // a second old: A's content store may answer a fresh copy of the last one.)
    std::thread::sleep(Duration::from_millis(1100));
    let p = packages(&a);
    assert_eq!(p["counters"]["refused"], 2, "{p}");
    assert_eq!(p["packages"].as_array().unwrap().len(), 1, "{p}");
    let staged: Vec<_> = std::fs::read_dir(a_cache.join(".staging"))
        .map(|rd| rd.collect())
        .unwrap_or_default();
    assert!(staged.is_empty(), "{staged:?}");
    let list = a.cli(&["sf", "list", "--json"]).unwrap();
    assert!(
        !list.contains("/sf/tampered") && !list.contains("/sf/forged"),
        "{list}"
    );
    // A name outside the configured sources is not even fetched.
    let out = deploy(&a, &dir.0, "/sf/other", "/elsewhere/sf-package/sf/other");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("deploy refused (403)")
            && text(&out).contains("not under a package source"),
        "{}",
        text(&out)
    );

    // On demand: the deploy only registers the SF; the first request pulls the package,
    // starts it and is answered.
    let out = deploy_with(
        &a,
        &dir.0,
        "/sf/lazyup",
        "/pkg/sf-package/sf/lazyup/v=1",
        "pull = \"on-demand\"\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(packages(&a)["counters"]["fetches"], 3);
    let got = get_through(&a, "/text", "/sf/lazyup");
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim_end(),
        "HELLO, PULLED PACKAGE"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let p = packages(&a);
    assert_eq!(p["counters"]["installed"], 2, "{p}");
    let list = a.cli(&["sf", "list", "--json"]).unwrap();
    assert!(list.contains("/pkg/sf-package/sf/lazyup/v=1"), "{list}");
    // An on-demand package that fails verification: the consumer is told why.
    let out = deploy_with(
        &a,
        &dir.0,
        "/sf/lazyforged",
        "/pkg/sf-package/sf/forged/v=1",
        "pull = \"on-demand\"\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let got = nfwd(&[
        "--connect",
        &a.unix,
        "get",
        "/text",
        "--chain",
        "/sf/lazyforged",
    ]);
    assert!(!got.status.success());
    let e = text(&got);
    assert!(
        e.contains("unavailable") && e.contains("signature does not verify"),
        "{e}"
    );
    // Refused a moment ago at deploy: held down, not pulled again.
    std::thread::sleep(Duration::from_millis(1100));
    let p = packages(&a);
    assert_eq!(p["counters"]["refused_again"], 1, "{p}");
    assert_eq!(p["counters"]["fetches"], 4, "{p}");

    // D, next to A, deploys the same version: A's content store answers every segment.
    let hits_before = cs_hits(&a);
    let out = deploy(&d, &dir.0, "/sf/upcase", "/pkg/sf-package/sf/upcase/v=5");
    assert!(out.status.success(), "{}", text(&out));
    let hits = cs_hits(&a) - hits_before;
    assert!(
        hits >= segments,
        "{hits} content store hits on A for {segments} segments and the manifest"
    );
    let got = get_through(&d, "/text", "/sf/upcase");
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim_end(),
        "HELLO, PULLED PACKAGE"
    );
    eprintln!("A's content store answered {hits} Interests of D's pull");

    // Provisioning: E, a third SF host behind A, and A and D, told at once to pull the
    // package into their caches (no deploy): E pulls it, A and D already have it.
    let e_cache = dir.0.join("cache-e");
    let e = Daemon::start(
        &dir.0,
        "e",
        None,
        &[
            "--udp",
            &format!("127.0.0.1:{}", common::free_port()),
            "--tcp",
            "",
            "--sf-host",
            "--sf-package-source",
            &source,
            "--sf-package-cache",
            &e_cache.display().to_string(),
        ],
    );
    e.cli(&["face", "create", &a_face]).unwrap();
    e.cli(&["route", "add", "/pkg", &a_face]).unwrap();
    let nodes = format!("{},{},{}", e.unix, a.unix, d.unix);
    let out = nfwd(&[
        "sf",
        "provision",
        "/pkg/sf-package/sf/upcase/v=5",
        "--nodes",
        &nodes,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    eprint!("{report}");
    assert!(
        report.contains(&format!("{}: pulled /pkg/sf-package/sf/upcase/v=5", e.unix))
            && report.contains(&format!("{}: already had", a.unix))
            && report.contains(&format!("{}: already had", d.unix))
            && report.contains("on 3 of 3 nodes"),
        "{report}"
    );
    let p = packages(&e);
    assert_eq!(p["counters"]["installed"], 1, "{p}");
    assert_eq!(p["packages"][0]["pins"], 0, "{p}");
    // A node that cannot get it makes the command fail, naming the node.
    let out = nfwd(&[
        "sf",
        "provision",
        "/elsewhere/sf-package/sf/x",
        "--nodes",
        &e.unix,
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("refused (403)"), "{}", text(&out));
    drop(_serving);
    drop(rt);
}

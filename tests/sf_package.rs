//! SF packages over NDN (issue 12) with real daemons: forwarder B in a network namespace
//! holds the publisher, forwarder A in ours (joined to B by a veth pair, a UDP face) fetches.
//! The artifact arrives byte-identical and runs; a second fetch is answered by A's content
//! store; a partial download resumes; a segment altered by the publisher and a manifest signed
//! by another key are refused with a clear error and nothing installed.
//!
//! Needs root (namespaces). Outside CI a missing capability skips the test and says so; under
//! `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use common::netns::{Daemon, Netns};
use common::package::{cs_hits, generate_key, packets, publish, tampered_packets, text};
use common::{TempDir, cannot_run, is_root, nfwd_output as nfwd};
use nfwd_forwarder::client::Client;
use nfwd_sf_host::spec::SfSpec;

/// What a skip or a CI failure names.
const SUBJECT: &str = "SF package test";

/// `nfwd --connect A sf fetch NAME --trust-anchor CERT --out OUT`.
fn fetch(a: &Daemon, name: &str, anchor: &Path, out: &Path) -> Output {
    nfwd(&[
        "--connect",
        &a.unix,
        "sf",
        "fetch",
        name,
        "--trust-anchor",
        &anchor.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--lifetime",
        "1000",
    ])
}

/// A shell program of about 200 KB (25 segments) that upper-cases its input: the filler
/// lines are comments.
fn write_program(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut program = b"#!/bin/sh\ntr a-z A-Z\nexit 0\n".to_vec();
    for i in 0..4000 {
        program.extend_from_slice(format!("# filler line {i:05} of the package test\n").as_bytes());
    }
    let path = dir.join("upcase.sh");
    std::fs::write(&path, &program).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("upcase.toml"),
        "name = \"/sf/upcase\"\nversion = \"3\"\ninput_type = \"text/plain\"\n\
         output_type = \"text/plain\"\n[artifact]\nkind = \"exec\"\nargv = [\"upcase.sh\"]\n",
    )
    .unwrap();
    (path, program)
}

/// Runs `program` with `input` on stdin; its stdout.
fn run(program: &Path, input: &str) -> String {
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_package_crosses_a_link_verified_runs_is_cached_and_forgeries_are_refused() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root (network namespaces)");
        return;
    }
    let octet = 1 + std::process::id() % 200;
    let Some(ns) = Netns::create("pk", 83, octet) else {
        cannot_run(
            SUBJECT,
            "cannot create network namespaces with `ip netns` and veth pairs",
        );
        return;
    };
    let dir = TempDir::new("sf-package");
    let b = Daemon::start(
        &dir.0,
        "b",
        Some(&ns),
        &["--udp", &format!("{}:6363", ns.peer_ip), "--tcp", ""],
    );
    let udp_port = common::free_port();
    let a = Daemon::start(
        &dir.0,
        "a",
        None,
        &["--udp", &format!("0.0.0.0:{udp_port}"), "--tcp", ""],
    );
    let face = format!("udp4://{}:6363", ns.peer_ip);
    a.cli(&["face", "create", &face]).unwrap();
    a.cli(&["route", "add", "/pkg", &face]).unwrap();

    let keys = dir.0.join("keys");
    let (key, cert) = generate_key(&keys, "/pkg/publisher");
    let (mallory_key, _) = generate_key(&keys, "/mallory");
    let src = dir.0.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let (_, program) = write_program(&src);

    // The publisher on B, as an operator runs it.
    let _publisher = publish(
        &b.unix,
        &src.join("upcase.toml"),
        "5",
        &key,
        "/pkg/sf-package/sf/upcase/v=5",
    );

    // 1. The latest version, fetched from A across the link: byte-identical, and it runs.
    let out1 = dir.0.join("out1");
    let got = fetch(&a, "/pkg/sf-package/sf/upcase", &cert, &out1);
    assert!(got.status.success(), "{}", text(&got));
    let report = text(&got);
    assert!(
        report.contains("fetched /pkg/sf-package/sf/upcase/v=5"),
        "{report}"
    );
    let segments = program.len().div_ceil(8000) as u64;
    assert!(
        report.contains(&format!("{segments} fetched, 0 already on disk")),
        "{report}"
    );
    let fetched = out1.join("upcase.sh");
    assert_eq!(std::fs::read(&fetched).unwrap(), program);
    assert_eq!(run(&fetched, "hello, package\n"), "HELLO, PACKAGE\n");
    // The spec written next to it names where the program now is.
    let spec =
        SfSpec::from_toml(&std::fs::read_to_string(out1.join("upcase.sh.toml")).unwrap()).unwrap();
    assert_eq!(spec.name, "/sf/upcase");
    assert_eq!(spec.version, "3");
    let nfwd_sf_host::spec::Artifact::Exec { argv } = &spec.artifact else {
        panic!("{spec:?}");
    };
    assert_eq!(
        Path::new(&argv[0]),
        std::fs::canonicalize(&fetched).unwrap()
    );
    // No partial file is left.
    let leftovers: Vec<_> = std::fs::read_dir(&out1)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");

    // 2. Again, by its exact version, from elsewhere on A: A's content store answers every
    // segment and the manifest (the publisher is not asked).
    let hits_before = cs_hits(&a);
    let out2 = dir.0.join("out2");
    let got = fetch(&a, "/pkg/sf-package/sf/upcase/v=5", &cert, &out2);
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(std::fs::read(out2.join("upcase.sh")).unwrap(), program);
    let hits = cs_hits(&a) - hits_before;
    assert!(
        hits > segments,
        "{hits} content store hits for {segments} segments and the manifest"
    );

    // 3. A partial download resumes: half the artifact on disk, one of those segments
    // damaged; only the damaged one and the missing half are fetched.
    let out3 = dir.0.join("out3");
    std::fs::create_dir_all(&out3).unwrap();
    let digest = hex::encode(nfwd_tlv::signature::sha256(&[&program]));
    let part = out3.join(format!(".upcase.sh.{}.part", &digest[..16]));
    let mut partial = program[..12 * 8000].to_vec();
    partial[3 * 8000 + 17] ^= 0xff;
    std::fs::write(&part, &partial).unwrap();
    let got = fetch(&a, "/pkg/sf-package/sf/upcase/v=5", &cert, &out3);
    assert!(got.status.success(), "{}", text(&got));
    assert!(
        text(&got).contains(&format!("{} fetched, 11 already on disk", segments - 11)),
        "{}",
        text(&got)
    );
    assert_eq!(std::fs::read(out3.join("upcase.sh")).unwrap(), program);
    assert!(!part.exists());

    // 4. and 5.: forgeries, served by a publisher on B written with the library.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _serving = rt.block_on(async {
        let client = Client::connect(&b.unix).await.unwrap();
        // A segment altered by the publisher, after the manifest was signed.
        let tampered = tampered_packets("/sf/tampered", &program, &key);
        // A manifest signed by another key than the trust anchor's.
        let forged = packets("/sf/forged", &program, &mallory_key);
        let h1 = Arc::new(tampered).serve(&client).await.unwrap();
        let h2 = Arc::new(forged).serve(&client).await.unwrap();
        (client, h1, h2)
    });
    let out4 = dir.0.join("out4");
    let got = fetch(&a, "/pkg/sf-package/sf/tampered", &cert, &out4);
    assert!(!got.status.success());
    let e = text(&got);
    assert!(
        e.contains("segment 2 of /pkg/sf-package/sf/tampered/v=1")
            && e.contains("differs from")
            && e.contains("refusing"),
        "{e}"
    );
    assert!(
        !out4.join("prog.sh").exists(),
        "a refused package is not installed"
    );

    let out5 = dir.0.join("out5");
    let got = fetch(&a, "/pkg/sf-package/sf/forged", &cert, &out5);
    assert!(!got.status.success());
    let e = text(&got);
    assert!(
        e.contains("signature does not verify with the trust anchor /pkg/publisher/KEY")
            && e.contains("signed by /mallory/KEY"),
        "{e}"
    );
    assert!(!out5.join("prog.sh").exists());
}

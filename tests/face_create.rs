//! `nfwd face create` is idempotent as `nfdc face create` is (issue 9 item 6): towards a peer
//! whose face exists — here a QUIC peer that connected to us first, so that we hold an
//! on-demand face from its listening address — the forwarder answers NFD's 409 with that
//! face, upgraded to the persistency asked for, and `nfwd face create` prints
//! `face-exists id=...` and exits 0. Two daemons: A in our namespace, B in a namespace of its
//! own, joined by a veth pair (faces non-local).
//!
//! Needs root (namespaces). Outside CI a missing capability skips the test and says so; under
//! `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::netns::{Daemon, Netns};
use common::{TempDir, cannot_run, is_root};

/// What a skip or a CI failure names.
const SUBJECT: &str = "face create test";

/// `faceid=N remote=URI ... persistency=P` lines of `nfwd face list`: (id, persistency) of the
/// face whose remote is `uri`.
fn face_to(list: &str, uri: &str) -> Option<(u64, String)> {
    list.lines().find_map(|l| {
        let field = |k: &str| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .map(str::to_owned)
        };
        (field("remote=")? == uri).then_some(())?;
        Some((field("faceid=")?.parse().ok()?, field("persistency=")?))
    })
}

fn as_str(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn face_create_towards_a_quic_peer_that_connected_first_answers_its_face() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root (network namespaces)");
        return;
    }
    let octet = 100 + std::process::id() % 150;
    let Some(ns) = Netns::create("fc", 77, octet) else {
        cannot_run(
            SUBJECT,
            "cannot create network namespaces with `ip netns` and veth pairs",
        );
        return;
    };
    let dir = TempDir::new("face-create");
    let listen = |ip: &str| {
        vec![
            "--udp".to_owned(),
            format!("{ip}:6363"),
            "--tcp".to_owned(),
            format!("{ip}:6363"),
            "--quic".to_owned(),
            format!("{ip}:6367"),
        ]
    };
    let args_a = listen(&ns.host_ip);
    let args_b = listen(&ns.peer_ip);
    let a = Daemon::start(&dir.0, "a", None, &as_str(&args_a));
    let b = Daemon::start(&dir.0, "b", Some(&ns), &as_str(&args_b));

    // B connects first: it dials from its listening endpoint, so A sees B's listening
    // address and holds an on-demand face to quic://B:6367.
    let to_a = format!("quic://{}:6367", ns.host_ip);
    let to_b = format!("quic://{}:6367", ns.peer_ip);
    let created = b.cli(&["face", "create", &to_a]).unwrap();
    assert!(created.starts_with("face-created id="), "{created}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (id, persistency) = loop {
        if let Some(f) = face_to(&a.cli(&["face", "list"]).unwrap(), &to_b) {
            break f;
        }
        assert!(Instant::now() < deadline, "B's connection never reached A");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(persistency, "on-demand");

    // A asks for a face to B: the one B opened, kept from now on; asking again is the same.
    for _ in 0..2 {
        let out = a.cli(&["face", "create", &to_b]).unwrap();
        assert_eq!(
            out.trim(),
            format!("face-exists id={id} remote={to_b} persistency=persistent")
        );
    }
    let list = a.cli(&["face", "list"]).unwrap();
    assert_eq!(
        face_to(&list, &to_b),
        Some((id, "persistent".to_owned())),
        "{list}"
    );
    assert_eq!(list.matches(&to_b).count(), 1, "one face to B: {list}");
    // Permanent on request (NFD's allowed transition), never back.
    let out = a
        .cli(&["face", "create", &to_b, "--persistency", "permanent"])
        .unwrap();
    assert!(
        out.contains(&format!("id={id} ")) && out.contains("permanent"),
        "{out}"
    );
    // B's own face to A is the one it made, and B answers the same for it.
    let list_b = b.cli(&["face", "list"]).unwrap();
    let (b_id, _) = face_to(&list_b, &to_a).unwrap();
    let out = b.cli(&["face", "create", &to_a]).unwrap();
    assert!(out.starts_with(&format!("face-exists id={b_id} ")), "{out}");
}

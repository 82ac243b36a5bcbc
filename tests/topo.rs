//! `nfwd topo` with real daemons: the shipped Fig. 30 line (`topologies/examples/line.toml`)
//! comes up in network namespaces, a consumer on its node gets F3(F2(F1(x))) through three
//! forwarders that each host one function, faces between forwarders are non-local, and `down`
//! leaves nothing behind.
//!
//! Needs root and iproute2 (namespaces, veth pairs). Outside CI a missing capability skips the
//! test and says so; under `CI=true` it fails. Delay needs the kernel's netem; without it the
//! test runs with `--best-effort-shaping` (bandwidth and loss only), as CI machines may lack it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{TempDir, cannot_run, is_root, nfwd_output as nfwd};

/// What a skip or a CI failure names.
const SUBJECT: &str = "topology test";

fn ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// Takes the topology down however the test ends.
struct Down<'a> {
    name: &'a str,
    state: &'a Path,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = nfwd(&[
            "topo",
            "down",
            self.name,
            "--state-dir",
            self.state.to_str().unwrap(),
        ]);
    }
}

#[test]
fn the_fig30_line_computes_f3_f2_f1_across_namespaces_and_down_removes_it() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root (network namespaces, veth pairs)");
        return;
    }
    if !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        cannot_run(SUBJECT, "`ip netns` does not work here (install iproute2)");
        return;
    }
    let dir = TempDir::new("topo");
    // The shipped file under a name of this run's own, so that a testbed someone has up (or
    // another run) is left alone.
    let name = format!("t{}", std::process::id());
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/examples/line.toml"),
    )
    .unwrap();
    let file = dir.0.join("line.toml");
    std::fs::write(
        &file,
        shipped.replacen("name = \"line\"", &format!("name = \"{name}\""), 1),
    )
    .unwrap();
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

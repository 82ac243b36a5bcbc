//! The README's main job: `nfwd demo` runs a function chain end to end and checks its result.
//! As root that is the multi-node demo (the Fig. 30 line, a namespace per node); without root
//! the demo says so and runs the single-forwarder demo, which `--single-forwarder` (or
//! `--socket`) also runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::is_root;

fn demo(args: &[&str]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .arg("demo")
        .args(args)
        .env_remove("NDN_CLIENT_TRANSPORT")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn assert_single_forwarder(text: &str) {
    assert!(text.contains(r#"= "[ XUL 213 ,NO :6522 PMAL ]""#), "{text}");
    assert!(
        text.contains(r#"--chain /sf/upper              -> "LAMP 2256: ON, 312 LUX""#),
        "{text}"
    );
    assert!(
        text.contains(r#"(no chain)               -> "lamp 2256: on, 312 lux""#),
        "{text}"
    );
    assert!(
        text.contains("same result from the content store"),
        "{text}"
    );
}

#[test]
fn the_single_forwarder_demo_computes_the_chain_and_serves_the_repeat_from_the_cache() {
    let socket = std::env::temp_dir().join(format!("nfwd-demo-test-{}.sock", std::process::id()));
    let (_, text) = demo(&["--socket", socket.to_str().unwrap()]);
    assert_single_forwarder(&text);
    assert!(!socket.exists(), "the demo removes its socket");
}

#[test]
fn the_demo_runs_the_chain_across_three_nodes_as_root_and_says_it_needs_root_otherwise() {
    let (_, text) = demo(&[]);
    if !is_root() {
        assert!(text.contains("multi-node demo needs root"), "{text}");
        assert_single_forwarder(&text);
        return;
    }
    // F3(F2(F1(readings))): filter (the malformed reading dropped), count (s1's latest
    // reading is occupied), format.
    for line in [
        "  | Free parking spaces",
        "  |   centro               0 of     2",
        "  |   porto                2 of     2",
        "  |   all                  2 of     4",
        "= F3(F2(F1(readings))) as expected",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    // Each function ran once, on its own node, as that node's SF host counted it.
    for hop in [
        "1    f3    /sf/F3    1 ",
        "2    f2    /sf/F2    1 ",
        "3    f1    /sf/F1    1 ",
    ] {
        assert!(text.contains(hop), "{hop:?} missing in:\n{text}");
    }
    // The repeat: the consumer node's content store answered and no function ran.
    assert!(
        text.contains(
            "from the content store of consumer (its cs hits rose); Interests sent on links: 0; \
             functions run: 0"
        ),
        "{text}"
    );
    assert!(text.contains("testbed down in"), "{text}");
    // Nothing of it is left: its namespaces are gone.
    let name = text
        .split_whitespace()
        .skip_while(|w| *w != "testbed")
        .nth(1)
        .unwrap();
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&netns.stdout).into_owned();
    assert!(
        !left.contains(&format!("nfwd.{name}.")),
        "{name} left namespaces: {left}"
    );
}

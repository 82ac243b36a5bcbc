//! The README's main job: `nfwd demo` runs a function chain end to end and checks its result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn demo_computes_the_chain_and_serves_the_repeat_from_the_cache() {
    let socket = std::env::temp_dir().join(format!("nfwd-demo-test-{}.sock", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["demo", "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(!socket.exists(), "the demo removes its socket");
}

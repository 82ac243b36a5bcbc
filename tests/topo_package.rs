//! `[[node.sf]] package = ...` deployed by `nfwd topo up` with real daemons: the package is
//! published on a neighbour by a `[[producer]]` with an `sf_package` (started before the SFs
//! are deployed), the SF host of the node that runs the function pulls it over the testbed's
//! link, verifies it against its source's trust anchor and runs it, and a consumer's chained
//! Interest is answered by it. A package signed by a key the trust anchor does not certify
//! makes `up` fail with an error naming the node and the SF, and leaves nothing behind.
//!
//! The testbed:
//!
//! ```text
//!   consumer ── a ── pub        a: /fn/shout from the package /pkg/sf-package/fn/shout/v=1
//!                               pub: publishes it, and serves /lamp/7
//! ```
//!
//! Needs root and iproute2. Outside CI a missing capability skips the test and says so; under
//! `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::topo::{Down, namespaces, ok, testbed_missing, topo_exec};
use common::{TempDir, cannot_run, nfwd_output as nfwd};

/// What a skip or a CI failure names.
const SUBJECT: &str = "topology package test";
const TEXT: &str = "lamp 7: on";
const EXPECT: &str = "LAMP 7: ON";

/// Keys of `identity` under `dir/keys`: (key, certificate).
fn key(dir: &Path, identity: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let keys = dir.join("keys");
    ok(
        &nfwd(&["key", "generate", identity, "--out", keys.to_str().unwrap()]),
        "key generate",
    );
    let stem = identity.rsplit('/').next().unwrap();
    (
        keys.join(format!("{stem}.key")),
        keys.join(format!("{stem}.cert")),
    )
}

/// The topology: a trusts `anchor` for `/pkg`; pub publishes the package signed by `key`.
fn topology(dir: &Path, name: &str, anchor: &Path, key: &Path) -> std::path::PathBuf {
    let program = dir.join("shout.sh");
    std::fs::write(&program, "#!/bin/sh\ntr a-z A-Z\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"
name = "{name}"
[[node]]
name = "consumer"
[[node]]
name = "a"
[[node.forwarder.sf_packages.source]]
prefix = "/pkg"
trust_anchor = "{anchor}"
[[node.sf]]
name = "/fn/shout"
package = "/pkg/sf-package/fn/shout/v=1"
input_type = "text/plain"
output_type = "text/plain"
[[node]]
name = "pub"
[[link]]
a = "consumer"
b = "a"
[[link]]
a = "a"
b = "pub"
[[producer]]
node = "pub"
prefix = "/lamp/7"
text = "{TEXT}"
[[producer]]
node = "pub"
prefix = "/pkg"
[producer.sf_package]
program = "shout.sh"
function = "/fn/shout"
key = "{key}"
version = 1
"#,
            anchor = anchor.display(),
            key = key.display(),
        ),
    )
    .unwrap();
    file
}

#[test]
fn topo_up_pulls_and_deploys_an_sf_package_published_on_a_neighbour() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-package");
    let name = format!("pk{}", std::process::id());
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let (key, cert) = key(&dir.0, "/pkg/publisher");
    let file = topology(&dir.0, &name, &cert, &key);
    let _down = Down {
        name: &name,
        state: &state,
    };
    let up = ok(
        &nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--state-dir",
            state_arg,
        ]),
        "topo up",
    );
    assert!(up.contains("1 SFs, 2 producers"), "{up}");
    let exec =
        |node: &str, cmd: &[&str]| ok(&topo_exec(&name, state_arg, node, cmd), &cmd.join(" "));
    assert_eq!(
        exec(
            "consumer",
            &["nfwd", "get", "/lamp/7", "--chain", "/fn/shout"]
        ),
        EXPECT
    );
    // a pulled it (it had nothing before up) and runs it.
    let packages = exec("a", &["nfwd", "sf", "packages"]);
    assert!(
        packages.contains("/pkg/sf-package/fn/shout/v=1"),
        "{packages}"
    );
    let sfs = exec("a", &["nfwd", "sf", "list"]);
    assert!(sfs.contains("/fn/shout"), "{sfs}");
}

#[test]
fn a_package_its_trust_anchor_does_not_certify_makes_up_fail_naming_node_and_sf() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-package-hostile");
    let name = format!("px{}", std::process::id());
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap();
    let (_, cert) = key(&dir.0, "/pkg/publisher");
    // Signed by a key of its own: a's source trusts the publisher's certificate only.
    let (intruder, _) = key(&dir.0, "/pkg/intruder");
    let file = topology(&dir.0, &name, &cert, &intruder);
    let _down = Down {
        name: &name,
        state: &state,
    };
    let up = nfwd(&[
        "topo",
        "up",
        file.to_str().unwrap(),
        "--state-dir",
        state_arg,
        "--timeout-s",
        "30",
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(!up.status.success(), "up succeeded:\n{said}");
    let error = said
        .lines()
        .find(|l| l.starts_with("Error"))
        .unwrap_or_else(|| panic!("no error line in:\n{said}"));
    assert!(
        error.contains("node a") && error.contains("/fn/shout"),
        "the error names neither the node nor the SF:\n{said}"
    );
    assert!(
        error.contains("signature does not verify with the trust anchor"),
        "{error}"
    );
    eprintln!("up refused: {error}");
    // up took down what it made; down again finds nothing.
    assert!(namespaces(&format!("nfwd.{name}.")).is_empty());
    assert!(!state.join(&name).exists());
    let down = ok(
        &nfwd(&["topo", "down", &name, "--state-dir", state_arg]),
        "topo down",
    );
    assert!(
        down.contains("0 namespaces") || down.contains("nothing"),
        "{down}"
    );
    let leftover = std::process::Command::new("pgrep")
        .args(["-f", &format!("{}/{name}/", state.display())])
        .output()
        .unwrap();
    assert!(
        leftover.stdout.is_empty(),
        "processes of {name} left: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
}

//! Shared by the testbed tests (`nfwd topo`): what they need, the topology taken down however
//! a test ends, command output checked.

use std::path::Path;
use std::process::{Command, Output};

use super::nfwd_output;

/// Why a testbed cannot be brought up here (root, `ip netns`), if it cannot.
pub(crate) fn testbed_missing() -> Option<&'static str> {
    if !super::is_root() {
        return Some("needs root (network namespaces, veth pairs, qdiscs)");
    }
    if !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("`ip netns` does not work here (install iproute2)");
    }
    None
}

/// A command's stdout; the test fails with its output if it failed.
pub(crate) fn ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The network namespaces whose names start with `prefix`.
pub(crate) fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// Takes the topology down however the test ends.
pub(crate) struct Down<'a> {
    pub(crate) name: &'a str,
    pub(crate) state: &'a Path,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = nfwd_output(&[
            "topo",
            "down",
            self.name,
            "--state-dir",
            self.state.to_str().unwrap(),
        ]);
    }
}

/// The shipped `topologies/examples/<example>.toml` written into `dir` under the topology name
/// `name` (a testbed someone else has up, or another run's, is left alone), with `edit`
/// applied; returns the file.
pub(crate) fn example_as(
    dir: &Path,
    example: &str,
    name: &str,
    edit: impl FnOnce(String) -> String,
) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("topologies/examples")
            .join(format!("{example}.toml")),
    )
    .unwrap();
    let renamed = shipped.replacen(
        &format!("name = \"{example}\""),
        &format!("name = \"{name}\""),
        1,
    );
    assert_ne!(
        renamed, shipped,
        "{example}.toml names its topology otherwise"
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, edit(renamed)).unwrap();
    file
}

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

/// `nfwd topo exec --topo NAME --state-dir STATE NODE -- CMD...`: CMD run on a node.
pub(crate) fn topo_exec(name: &str, state_arg: &str, node: &str, cmd: &[&str]) -> Output {
    let mut args = vec![
        "topo",
        "exec",
        "--topo",
        name,
        "--state-dir",
        state_arg,
        node,
        "--",
    ];
    args.extend_from_slice(cmd);
    nfwd_output(&args)
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

/// What the producer of [`plan_testbed`] serves at `/lamp/7`.
pub(crate) const PLAN_TESTBED_TEXT: &str = "lamp 7: on";

/// The testbed the plan tests use: consumer - a, a - b, a - c (TCP), b and c - producer; a,
/// b and c host SFs; SF types `up` (upper) and `wk` (work).
pub(crate) fn plan_testbed(name: &str) -> String {
    format!(
        r#"
name = "{name}"
[[node]]
name = "consumer"
[[node]]
name = "a"
sf_host = "process"
[[node]]
name = "b"
sf_host = "process"
[[node]]
name = "c"
sf_host = "process"
[[node]]
name = "producer"
[[link]]
a = "consumer"
b = "a"
[[link]]
a = "a"
b = "b"
[[link]]
a = "a"
b = "c"
protocol = "tcp"
[[link]]
a = "b"
b = "producer"
[[link]]
a = "c"
b = "producer"
[[producer]]
node = "producer"
prefix = "/lamp/7"
text = "{PLAN_TESTBED_TEXT}"
[[sf_type]]
name = "up"
builtin = "upper"
input_type = "text/plain"
output_type = "text/plain"
[[sf_type]]
name = "wk"
builtin = "work"
input_type = "text/plain"
output_type = "text/plain"
"#
    )
}

/// A plan as `nfwd schedule plan` writes it: `up` on a, `wk` on `wk_on`; a sends `wk`'s
/// Interests to `wk_on`.
pub(crate) fn plan_up_wk(wk_on: &str) -> String {
    format!(
        r#"
algorithm = "by-hand"
makespan = 0.05
task = []

[[node]]
name = "a"
sf = ["up"]
pull_images = []
fetch_files = []
[[node.route]]
prefix = "/fn/up"
next_hop = "local"
[[node.route]]
prefix = "/fn/wk"
next_hop = "{wk_on}"

[[node]]
name = "{wk_on}"
sf = ["wk"]
pull_images = []
fetch_files = []
[[node.route]]
prefix = "/fn/wk"
next_hop = "local"
"#
    )
}

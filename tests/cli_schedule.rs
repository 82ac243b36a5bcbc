//! `nfwd schedule ...` end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn nfwd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(args)
        .output()
        .expect("run nfwd")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scheduler/examples")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nfwd-cli-schedule-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn algorithms_lists_all_six() {
    let out = nfwd(&["schedule", "algorithms"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "sf-cuv",
        "cuv-fix",
        "heft",
        "peft",
        "cap-based",
        "com-based",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn plan_prints_and_writes_an_applicable_plan() {
    let dir = scratch("plan");
    let plan = dir.join("plan.toml");
    let gantt = dir.join("gantt.svg");
    let out = nfwd(&[
        "schedule",
        "plan",
        "--workflow",
        &example("small.workflow.toml"),
        "--infra",
        &example("small.infra.toml"),
        "--algo",
        "sf-cuv",
        "--out",
        plan.to_str().unwrap(),
        "--gantt",
        gantt.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("response time") && stdout.contains("route /fn/"));
    let written = std::fs::read_to_string(&plan).unwrap();
    let parsed = nfwd_scheduler::Plan::from_toml_str(&written).unwrap();
    assert_eq!(parsed.algorithm, "sf-cuv");
    assert_eq!(parsed.task.len(), 4);
    assert!(parsed.node.iter().all(|n| !n.sf.is_empty()));
    assert!(std::fs::read_to_string(&gantt).unwrap().starts_with("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_workflow_gives_a_clear_error() {
    let dir = scratch("bad");
    let wf = dir.join("cycle.toml");
    std::fs::write(
        &wf,
        "[[task]]\nname = \"a\"\nsf = \"decode\"\nworkload = 1.0\n\
         [[task]]\nname = \"b\"\nsf = \"decode\"\nworkload = 1.0\n\
         [[edge]]\nfrom = \"a\"\nto = \"b\"\n[[edge]]\nfrom = \"b\"\nto = \"a\"\n",
    )
    .unwrap();
    let out = nfwd(&[
        "schedule",
        "plan",
        "--workflow",
        wf.to_str().unwrap(),
        "--infra",
        &example("small.infra.toml"),
        "--out",
        dir.join("p.toml").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cycle"), "{stderr}");
    let out = nfwd(&[
        "schedule",
        "plan",
        "--workflow",
        wf.to_str().unwrap(),
        "--infra",
        &example("small.infra.toml"),
        "--algo",
        "nope",
    ]);
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_small_experiment_writes_csv_and_plots() {
    let dir = scratch("experiment");
    let out = nfwd(&[
        "schedule",
        "experiment",
        "--out-dir",
        dir.to_str().unwrap(),
        "--max-partitions",
        "3",
        "--seeds",
        "1",
        "--gantt-partitions",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "results.csv",
        "summary.csv",
        "fig33_sharing_no_predeploy.svg",
        "fig34a_response_no_predeploy.svg",
        "fig35b_efficiency_predeploy.svg",
        "gantt_sf-cuv_B2_seed1.svg",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

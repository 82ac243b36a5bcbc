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
fn plan_json_is_one_document_with_the_plan_and_its_metrics() {
    let out = nfwd(&[
        "schedule",
        "plan",
        "--workflow",
        &example("small.workflow.toml"),
        "--infra",
        &example("small.infra.toml"),
        "--algo",
        "heft",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["algorithm"], "heft", "{doc}");
    assert_eq!(doc["tasks"], 4, "{doc}");
    assert!(doc["response_time_s"].as_f64().unwrap() > 0.0, "{doc}");
    assert!(
        doc["plan"]["task"].as_array().is_some_and(|t| t.len() == 4),
        "{doc}"
    );
    assert!(doc["plan"]["node"].is_array(), "{doc}");
    assert!(doc["plan_file"].is_null(), "{doc}");
}

#[test]
fn the_download_model_is_chosen_reported_and_checked() {
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "schedule",
            "plan",
            "--workflow",
            "",
            "--infra",
            "",
            "--algo",
            "sf-cuv",
            "--json",
        ];
        let (w, i) = (example("small.workflow.toml"), example("small.infra.toml"));
        args[3] = &w;
        args[5] = &i;
        args.extend_from_slice(extra);
        nfwd(&args)
    };
    for (extra, model) in [
        (&[][..], "origin"),
        (
            &["--download-model", "nearest-copy", "--cache-rate", "100"][..],
            "nearest-copy",
        ),
    ] {
        let out = plan(extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["download_model"], model, "{doc}");
        // A number, and +0 where nothing came from a cache (not -0).
        let cached = doc["mb_from_caches"].as_f64().unwrap();
        assert!(cached >= 0.0 && cached.is_sign_positive(), "{doc}");
    }
    for (extra, needle) in [
        (&["--download-model", "bogus"][..], "unknown download model"),
        (
            &["--download-model", "nearest-copy", "--cache-rate", "0"][..],
            "cache-hit rate",
        ),
        (
            &["--cache-rate", "5"][..],
            "applies to --download-model nearest-copy only",
        ),
    ] {
        let out = plan(extra);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}

#[test]
fn plan_without_out_writes_no_file() {
    let dir = scratch("plan-no-out");
    let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["schedule", "plan", "--workflow"])
        .arg(example("small.workflow.toml"))
        .arg("--infra")
        .arg(example("small.infra.toml"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("no plan file written"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "the directory stays empty"
    );
    std::fs::remove_dir_all(&dir).unwrap();
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

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn the_published_heft_and_peft_examples_give_their_makespans() {
    let dir = scratch("costs");
    let plan = dir.join("plan.toml");
    for (file, algo, makespan) in [
        ("heft2002.costs.toml", "heft", "80.00"),
        ("peft2014.costs.toml", "peft", "122.00"),
    ] {
        let stdout = stdout_of(&nfwd(&[
            "schedule",
            "plan",
            "--costs",
            &example(file),
            "--algo",
            algo,
            "--out",
            plan.to_str().unwrap(),
        ]));
        assert!(
            stdout.contains(&format!("simulated response time {makespan} s")),
            "{file} with {algo}:\n{stdout}"
        );
        let written = std::fs::read_to_string(&plan).unwrap();
        let parsed = nfwd_scheduler::Plan::from_toml_str(&written).unwrap();
        assert_eq!(parsed.task.len(), 10);
        // Every processor of the matrix is a node of the plan, by its name.
        assert!(
            parsed.node.iter().all(|n| n.name.starts_with('P')),
            "{written}"
        );
    }
    let gantt = dir.join("peft.svg");
    let stdout = stdout_of(&nfwd(&[
        "schedule",
        "gantt",
        "--costs",
        &example("peft2014.costs.toml"),
        "--algo",
        "peft",
        "--out",
        gantt.to_str().unwrap(),
    ]));
    assert!(stdout.contains("response time 122.00 s"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn costs_and_workflow_are_exclusive_and_bad_matrices_are_named() {
    let dir = scratch("costs-bad");
    let out = nfwd(&[
        "schedule",
        "plan",
        "--costs",
        &example("heft2002.costs.toml"),
        "--workflow",
        &example("small.workflow.toml"),
        "--infra",
        &example("small.infra.toml"),
    ]);
    assert!(!out.status.success());
    let ragged = dir.join("ragged.toml");
    std::fs::write(
        &ragged,
        "processors = [\"P1\", \"P2\"]\n[[task]]\nname = \"x\"\ncosts = [1.0]\n",
    )
    .unwrap();
    let out = nfwd(&[
        "schedule",
        "plan",
        "--costs",
        ragged.to_str().unwrap(),
        "--out",
        dir.join("p.toml").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("ragged.toml") && stderr.contains("\"x\""),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn wfcommons(stem: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scheduler/tests/fixtures/wfcommons")
        .join(format!("{stem}.json"))
        .display()
        .to_string()
}

#[test]
fn wfcommons_workflows_are_planned_by_every_algorithm() {
    let dir = scratch("wfcommons");
    let plan = dir.join("plan.toml");
    for stem in ["montage", "epigenomics", "blast", "1000genome"] {
        for algo in [
            "sf-cuv",
            "cuv-fix",
            "heft",
            "peft",
            "cap-based",
            "com-based",
        ] {
            let stdout = stdout_of(&nfwd(&[
                "schedule",
                "plan",
                "--workflow",
                &wfcommons(stem),
                "--infra",
                &example("wfcommons.infra.toml"),
                "--algo",
                algo,
                "--out",
                plan.to_str().unwrap(),
            ]));
            let timing = stdout.lines().find(|l| l.contains("scheduled by")).unwrap();
            println!("{stem}: {timing}");
            let parsed =
                nfwd_scheduler::Plan::from_toml_str(&std::fs::read_to_string(&plan).unwrap())
                    .unwrap();
            assert!(
                parsed.task.len() >= 96,
                "{stem}: {} tasks",
                parsed.task.len()
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_pipe_does_not_panic_and_the_plan_is_still_written() {
    use std::io::Read as _;
    use std::process::Stdio;
    let dir = scratch("pipe");
    let plan = dir.join("plan.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args([
            "schedule",
            "plan",
            "--workflow",
            &wfcommons("1000genome"),
            "--infra",
            &example("wfcommons.infra.toml"),
            "--out",
            plan.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Hang up before the first line, as `| head -c 0` does: every write then fails with
    // EPIPE, whatever the pipe's buffer size and the timing (the output is ~42 KB).
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(std::fs::read_to_string(&plan).unwrap().contains("[[task]]"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_experiment_numbers_are_refused_without_a_panic() {
    let dir = scratch("experiment-bad");
    for (flag, value, named) in [
        ("--speed-max", "inf", "fastest VM speed"),
        ("--speed-max", "NaN", "fastest VM speed"),
        ("--speed-min", "-1", "slowest VM speed"),
        ("--speed-min", "inf", "slowest VM speed"),
        ("--load-limit", "NaN", "load limit"),
        ("--move-slack", "inf", "move slack"),
        ("--max-partitions", "100000000", "tasks"),
    ] {
        let out = nfwd(&[
            "schedule",
            "experiment",
            "--out-dir",
            dir.to_str().unwrap(),
            "--seeds",
            "1",
            &format!("{flag}={value}"),
        ]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{flag} {value} accepted");
        assert!(
            stderr.contains(named) && !stderr.contains("panicked"),
            "{flag} {value}: {stderr}"
        );
    }
    let out = nfwd(&["schedule", "example", "--partitions", "100000000"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn oversized_inputs_are_refused_by_the_limits() {
    let dir = scratch("limit");
    // One task past the limit, in the cheapest form to parse: refused before any table is
    // built.
    let tasks: Vec<String> = (0..=200_000)
        .map(|i| format!("{{\"id\":\"t{i}\"}}"))
        .collect();
    let json = format!(
        "{{\"workflow\":{{\"specification\":{{\"tasks\":[{}]}},\"execution\":{{\"tasks\":[]}}}}}}",
        tasks.join(",")
    );
    let huge_workflow = dir.join("huge.json");
    std::fs::write(&huge_workflow, json).unwrap();
    // One host past the limit.
    let mut infra = std::fs::read_to_string(example("small.infra.toml")).unwrap();
    for i in 0..=20_000 {
        infra.push_str(&format!(
            "[[host]]\nname = \"h{i}\"\nnetwork = \"edge\"\nvcpu_speeds = [1.0]\n"
        ));
    }
    let huge_infra = dir.join("huge.infra.toml");
    std::fs::write(&huge_infra, infra).unwrap();
    for (workflow, infra, expected) in [
        (
            huge_workflow.display().to_string(),
            example("small.infra.toml"),
            "200001 tasks, the limit is 200000",
        ),
        (
            example("small.workflow.toml"),
            huge_infra.display().to_string(),
            "20004 hosts, the limit is 20000",
        ),
    ] {
        let out = nfwd(&[
            "schedule",
            "plan",
            "--workflow",
            &workflow,
            "--infra",
            &infra,
            "--out",
            dir.join("p.toml").to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(expected), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_experiment_runs_on_a_wfcommons_workflow() {
    let dir = scratch("experiment-wf");
    let stdout = stdout_of(&nfwd(&[
        "schedule",
        "experiment",
        "--out-dir",
        dir.to_str().unwrap(),
        "--seeds",
        "2",
        "--workflow",
        &wfcommons("epigenomics"),
    ]));
    assert!(stdout.contains("24 schedules"), "{stdout}");
    let results = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    // Header, then 2 pre-deployment cases x 2 seeds x 6 algorithms, each with the 97 tasks.
    assert_eq!(results.lines().count(), 25, "{results}");
    assert!(
        results
            .lines()
            .skip(1)
            .all(|l| l.split(',').nth(2) == Some("97"))
    );
    assert!(!dir.join("fig33_sharing_no_predeploy.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

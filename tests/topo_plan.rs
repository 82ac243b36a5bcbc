//! `nfwd topo apply` with real daemons: a scheduler's plan placed on a running testbed, then a
//! second plan that moves an SF to another node while a consumer keeps fetching through the
//! chain. No request ever gets a wrong answer; each either succeeds or fails with an error that
//! says why; after the move every request succeeds, the old node runs the SF no more and the
//! routes towards it are gone. A plan naming a node the topology lacks changes nothing. A plan
//! placing an SF its node lacks makes the node pull the SF's package over NDN. A plan
//! applied, a link its route uses cut and restored, and the node running its function killed
//! and restarted: requests are right again each time, through the routes recomputed.
//!
//! The testbed (namespaces, veth links, one `nfwd start` each):
//!
//! ```text
//!                  ┌── b ──┐
//!   consumer ── a ─┤       ├── producer        /fn/up (upper) on a; /fn/wk (work) on b, then c
//!                  └── c ──┘
//! ```
//!
//! Needs root and iproute2. Outside CI a missing capability skips the test and says so; under
//! `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use common::topo::{
    Down, PLAN_TESTBED_TEXT, example_as, ok, plan_testbed, plan_up_wk, testbed_missing,
};
use common::{TempDir, cannot_run, nfwd_output as nfwd};

const SUBJECT: &str = "topology plan test";
const TEXT: &str = PLAN_TESTBED_TEXT;
const EXPECT: &str = "LAMP 7: ON";

/// What `nfwd sf list` prints on `node` of the testbed `name` (state in `state_arg`).
fn sf_list_on(name: &str, state_arg: &str, node: &str) -> String {
    ok(
        &nfwd(&[
            "topo",
            "exec",
            "--topo",
            name,
            "--state-dir",
            state_arg,
            node,
            "--",
            "nfwd",
            "sf",
            "list",
        ]),
        &format!("sf list on {node}"),
    )
}
/// The lines of `status` about one node (its header up to the next node's).
fn section<'a>(status: &'a str, node: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in status.lines() {
        if !line.starts_with(' ') {
            inside = line.split_whitespace().next() == Some(node);
            continue;
        }
        if inside {
            out.push(line);
        }
    }
    out
}

#[test]
fn a_second_plan_moves_an_sf_under_load_without_a_wrong_answer() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-plan");
    let name = format!("tplan{}", std::process::id());
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let file = dir.0.join("topo.toml");
    std::fs::write(&file, plan_testbed(&name)).unwrap();
    for (f, on) in [("plan1.toml", "b"), ("plan2.toml", "c")] {
        std::fs::write(dir.0.join(f), plan_up_wk(on)).unwrap();
    }
    let _down = Down {
        name: &name,
        state: &state,
    };
    ok(
        &nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--best-effort-shaping",
            "--state-dir",
            &state_arg,
        ]),
        "topo up",
    );
    let apply = |plan: &str| {
        nfwd(&[
            "topo",
            "apply",
            dir.0.join(plan).to_str().unwrap(),
            "--topo",
            &name,
            "--state-dir",
            &state_arg,
        ])
    };
    let status = || {
        ok(
            &nfwd(&["topo", "status", &name, "--state-dir", &state_arg]),
            "status",
        )
    };
    // Each fetch asks `wk` for 50 ms of work with an id of its own, so no cache answers it:
    // every request goes through both functions, and some are being worked on at b when b is
    // told to let go of wk.
    let get = |k: u64| {
        let chain = format!("/fn/up,/fn/wk/ms=50/id={k}");
        let mut args = vec!["topo", "exec", "--topo", &name, "--state-dir", &state_arg];
        args.extend([
            "consumer", "--", "nfwd", "get", "/lamp/7", "--chain", &chain,
        ]);
        nfwd(&args)
    };

    let started = Instant::now();
    let text = ok(&apply("plan1.toml"), "apply plan 1");
    eprintln!(
        "plan 1 applied in {:.2} s: {text}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(ok(&get(0), "get after plan 1"), EXPECT);
    let s = status();
    assert!(s.contains("plan ") && s.contains("by-hand"), "{s}");
    assert!(
        section(&s, "a")
            .iter()
            .any(|l| l.contains("/fn/wk") && l.contains("-> b(")),
        "{s}"
    );

    // A plan the topology cannot run changes nothing and says why.
    std::fs::write(dir.0.join("bad.toml"), plan_up_wk("mars")).unwrap();
    let applied = state.join(&name).join("applied-plan.toml");
    let before = std::fs::read_to_string(&applied).unwrap();
    let bad = apply("bad.toml");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mars"));
    assert_eq!(std::fs::read_to_string(&applied).unwrap(), before);

    // Plan 2 moves wk from b to c while a consumer keeps fetching.
    // Three consumers fetch in a loop from before the apply until after it.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let (results, applied_in) = std::thread::scope(|scope| {
        let consumers: Vec<_> = (0..3u64)
            .map(|c| {
                let (stop, done) = (&stop, &done);
                scope.spawn(move || {
                    let mut results = Vec::new();
                    let mut k = 1 + c * 100_000;
                    while !stop.load(Ordering::Acquire) {
                        results.push(get(k));
                        done.fetch_add(1, Ordering::AcqRel);
                        k += 1;
                    }
                    results
                })
            })
            .collect();
        while done.load(Ordering::Acquire) < 3 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let started = Instant::now();
        let out = apply("plan2.toml");
        let took = started.elapsed().as_secs_f64();
        let after = done.load(Ordering::Acquire);
        while done.load(Ordering::Acquire) < after + 3 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        stop.store(true, Ordering::Release);
        let results: Vec<Output> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        let steps = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!("plan 2: {steps}");
        ok(&out, "apply plan 2");
        // Additions first: wk on c and a's route to it before a's route to b goes, and b's
        // wk last.
        let at = |what: &str| {
            steps
                .lines()
                .position(|l| {
                    l.split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .contains(what)
                })
                .unwrap_or_else(|| panic!("no step {what:?} in:\n{steps}"))
        };
        assert!(at("+ sf c /fn/wk") < at("+ route a /fn/wk -> c"), "{steps}");
        assert!(
            at("+ route a /fn/wk -> c") < at("- route a /fn/wk -> b"),
            "{steps}"
        );
        assert!(at("- route a /fn/wk -> b") < at("- sf b /fn/wk"), "{steps}");
        (results, took)
    });
    let mut failed = 0;
    for r in &results {
        if r.status.success() {
            assert_eq!(String::from_utf8_lossy(&r.stdout), EXPECT, "a wrong answer");
        } else {
            failed += 1;
            let why = String::from_utf8_lossy(&r.stderr);
            assert!(!why.trim().is_empty(), "a failure that does not say why");
            eprintln!("during the move: {}", why.trim());
        }
    }
    eprintln!(
        "plan 2 applied in {applied_in:.2} s; {} fetches around it, {failed} failed",
        results.len()
    );
    for k in 1000..1010 {
        assert_eq!(ok(&get(k), "get after plan 2"), EXPECT);
    }

    // b runs wk no more, a routes it to c only, and b itself has no local route for it.
    let list = sf_list_on(&name, &state_arg, "b");
    assert!(!list.contains("/fn/wk"), "{list}");
    let list = sf_list_on(&name, &state_arg, "c");
    assert!(list.contains("/fn/wk"), "{list}");
    let s = status();
    let a_wk: Vec<&str> = section(&s, "a")
        .into_iter()
        .filter(|l| l.contains("route /fn/wk"))
        .collect();
    assert!(
        a_wk.len() == 1 && a_wk[0].contains("-> c(") && !a_wk[0].contains("b("),
        "{s}"
    );
    assert!(
        !section(&s, "b")
            .iter()
            .any(|l| l.contains("/fn/wk") && (l.contains("(local)") || l.contains("sf "))),
        "{s}"
    );
}

/// A plan survives the faults `topo link` and `topo kill` make and `restart` repairs: with
/// the link a-b cut, a's plan route for wk (to b) leads nowhere, so a gets the route towards
/// the nearest wk through c (c, producer, b) while the cut lasts, and loses it once the link
/// is back; b, the only node running wk, killed and restarted, runs the plan's wk again and
/// a's plan route towards it is registered on the new face.
#[test]
fn an_applied_plan_is_routed_around_a_cut_link_and_comes_back_with_a_restarted_node() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-plan-faults");
    let name = format!("tplanf{}", std::process::id());
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let file = dir.0.join("topo.toml");
    std::fs::write(&file, plan_testbed(&name)).unwrap();
    std::fs::write(dir.0.join("plan1.toml"), plan_up_wk("b")).unwrap();
    let _down = Down {
        name: &name,
        state: &state,
    };
    let topo = |args: &[&str]| {
        let mut all = vec!["topo"];
        all.extend_from_slice(args);
        all.extend(["--topo", &name, "--state-dir", &state_arg]);
        ok(&nfwd(&all), &all.join(" "))
    };
    ok(
        &nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--best-effort-shaping",
            "--state-dir",
            &state_arg,
        ]),
        "topo up",
    );
    topo(&["apply", dir.0.join("plan1.toml").to_str().unwrap()]);
    let status = || {
        ok(
            &nfwd(&["topo", "status", &name, "--state-dir", &state_arg]),
            "status",
        )
    };
    let a_wk = || -> String {
        let s = status();
        section(&s, "a")
            .into_iter()
            .find(|l| l.contains("route /fn/wk "))
            .unwrap_or_else(|| panic!("a has no route for /fn/wk:\n{s}"))
            .to_owned()
    };
    let get = |k: u64| {
        let chain = format!("/fn/up,/fn/wk/ms=5/id=f{k}");
        let mut args = vec!["topo", "exec", "--topo", &name, "--state-dir", &state_arg];
        args.extend([
            "consumer", "--", "nfwd", "get", "/lamp/7", "--chain", &chain,
        ]);
        nfwd(&args)
    };
    // Right again within 10 s (a first request may wait for a's liveness to find a face
    // down), then three in a row; returns the wait, for the report.
    let right_again = |from: u64, what: &str| {
        let started = Instant::now();
        let mut k = from;
        loop {
            let out = get(k);
            k += 1;
            if out.status.success() {
                assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECT, "{what}");
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{what}: no right answer within 10 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let took = started.elapsed();
        for j in 0..3 {
            assert_eq!(ok(&get(k + j), what), EXPECT, "{what}");
        }
        took
    };
    assert_eq!(ok(&get(0), "get after the plan"), EXPECT);
    assert!(!a_wk().contains("c("), "{}", a_wk());

    let said = topo(&["link", "a", "b", "down"]);
    assert!(said.contains("applied plan's"), "{said}");
    let wk = a_wk();
    assert!(wk.contains("-> b(") && wk.contains("c("), "{wk}");
    let cut = right_again(100, "with a-b cut");

    topo(&["link", "a", "b", "up"]);
    let wk = a_wk();
    assert!(wk.contains("-> b(") && !wk.contains("c("), "{wk}");
    let restored = right_again(200, "with a-b restored");

    topo(&["kill", "b"]);
    let said = topo(&["restart", "b"]);
    assert!(
        said.contains("b restarted") && said.contains("1 SFs"),
        "{said}"
    );
    let list = sf_list_on(&name, &state_arg, "b");
    assert!(list.contains("/fn/wk"), "{list}");
    let wk = a_wk();
    assert!(wk.contains("-> b(") && !wk.contains("c("), "{wk}");
    let back = right_again(300, "with b restarted");
    eprintln!(
        "plan under faults: right again {} ms after cutting a-b, {} ms after restoring it, {} \
         ms after restarting b",
        cut.as_millis(),
        restored.as_millis(),
        back.as_millis()
    );
}

/// The shipped Fig. 31 testbed runs the Fig. 32 workflow (|B| = 2) with every algorithm:
/// each plan is applied and every chained Interest answers with the content (the `work`
/// functions pass it through), and the table sets measured beside predicted.
#[test]
fn fig31_runs_the_fig32_workflow_with_every_algorithm() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-plan-fig31");
    let name = format!("tf31p{}", std::process::id());
    let file = example_as(&dir.0, "fig31", &name, |t| t);
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let _down = Down {
        name: &name,
        state: &state,
    };
    let dir_arg = dir.0.to_str().unwrap().to_owned();
    ok(
        &nfwd(&[
            "schedule",
            "example",
            "--partitions",
            "2",
            "--out-dir",
            &dir_arg,
        ]),
        "schedule example",
    );
    ok(
        &nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--best-effort-shaping",
            "--state-dir",
            &state_arg,
        ]),
        "topo up",
    );
    let workflow = dir.0.join("fig32_B2.workflow.toml");
    let run = nfwd(&[
        "topo",
        "run",
        workflow.to_str().unwrap(),
        "--topo",
        &name,
        "--time-scale",
        "0.005",
        "--state-dir",
        &state_arg,
    ]);
    let table = ok(&run, "topo run");
    eprintln!("{table}");
    for algorithm in [
        "sf-cuv",
        "cuv-fix",
        "heft",
        "peft",
        "cap-based",
        "com-based",
    ] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {algorithm} |")))
            .unwrap_or_else(|| panic!("no row for {algorithm} in:\n{table}"));
        assert!(row.ends_with("| 0 of 2 |"), "{row}");
    }
    // The last plan is the one applied, and status says so.
    let status = ok(
        &nfwd(&["topo", "status", &name, "--state-dir", &state_arg]),
        "status",
    );
    assert!(status.contains("com-based"), "{status}");
}

/// A plan placing an SF that no node has: its type names an SF package, so the node the plan
/// puts it on (`a`) pulls it over NDN across the testbed's link from the publisher on `pub`,
/// verifies it and runs it; the consumer gets the function's answer. The route to the
/// publisher's prefix is a written `[[route]]`.
#[test]
fn a_plan_applied_pulls_the_package_of_an_sf_its_node_lacks() {
    if let Some(why) = testbed_missing() {
        cannot_run(SUBJECT, why);
        return;
    }
    let dir = TempDir::new("topo-plan-pkg");
    let name = format!("tpkg{}", std::process::id());
    let state = dir.0.join("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let keys = dir.0.join("keys");
    ok(
        &nfwd(&[
            "key",
            "generate",
            "/pkg/publisher",
            "--out",
            keys.to_str().unwrap(),
        ]),
        "key generate",
    );
    let program = dir.0.join("shout.sh");
    std::fs::write(&program, "#!/bin/sh\ntr a-z A-Z\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let file = dir.0.join("topo.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "{name}"
[[node]]
name = "consumer"
[[node]]
name = "a"
sf_host = "process"
[[node.forwarder.sf_packages.source]]
prefix = "/pkg"
trust_anchor = "{cert}"
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
[[route]]
node = "a"
prefix = "/pkg"
via = "pub"
[[sf_type]]
name = "shout"
package = "/pkg/sf-package/fn/shout/v=1"
input_type = "text/plain"
output_type = "text/plain"
"#,
            cert = keys.join("publisher.cert").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("plan.toml"),
        r#"
algorithm = "by-hand"
makespan = 0.05
task = []

[[node]]
name = "a"
sf = ["shout"]
pull_images = ["shout"]
fetch_files = []
[[node.route]]
prefix = "/fn/shout"
next_hop = "local"
"#,
    )
    .unwrap();
    let _down = Down {
        name: &name,
        state: &state,
    };
    ok(
        &nfwd(&[
            "topo",
            "up",
            file.to_str().unwrap(),
            "--state-dir",
            &state_arg,
        ]),
        "topo up",
    );
    // The publisher serves the package from its node until the test ends.
    let mut publisher = common::netns::Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args([
                "topo",
                "exec",
                "--topo",
                &name,
                "--state-dir",
                &state_arg,
                "pub",
            ])
            .args(["--", "nfwd", "sf", "publish"])
            .arg(&program)
            .args([
                "--function",
                "/fn/shout",
                "--prefix",
                "/pkg",
                "--version",
                "1",
            ])
            .arg("--key")
            .arg(keys.join("publisher.key"))
            .env("NFWD_LOG", "warn")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(publisher.0.stderr.take().unwrap()),
        &mut first_line,
    )
    .unwrap();
    assert!(
        first_line.contains("serving /pkg/sf-package/fn/shout/v=1"),
        "{first_line}"
    );

    let text = ok(
        &nfwd(&[
            "topo",
            "apply",
            dir.0.join("plan.toml").to_str().unwrap(),
            "--topo",
            &name,
            "--state-dir",
            &state_arg,
        ]),
        "apply",
    );
    eprintln!("applied: {text}");
    let got = ok(
        &nfwd(&[
            "topo",
            "exec",
            "--topo",
            &name,
            "--state-dir",
            &state_arg,
            "consumer",
            "--",
            "nfwd",
            "get",
            "/lamp/7",
            "--chain",
            "/fn/shout",
        ]),
        "get through the pulled SF",
    );
    assert_eq!(got, EXPECT);
    // a holds the package it pulled, from the publisher's prefix.
    let packages = ok(
        &nfwd(&[
            "topo",
            "exec",
            "--topo",
            &name,
            "--state-dir",
            &state_arg,
            "a",
            "--",
            "nfwd",
            "sf",
            "packages",
        ]),
        "sf packages on a",
    );
    assert!(
        packages.contains("/pkg/sf-package/fn/shout/v=1"),
        "{packages}"
    );
    assert!(sf_list_on(&name, &state_arg, "a").contains("/fn/shout"));
}

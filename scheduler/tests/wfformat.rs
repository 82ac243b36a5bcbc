//! WfFormat (WfCommons JSON) workflows: the committed fixtures read, every algorithm schedules
//! them validly, and malformed documents are refused with an error naming the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use nfwd_scheduler::{
    Algorithm, Error, Infrastructure, Problem, Scheduler, WfFormatOptions, Workflow, evaluate,
    workflow_from_wfformat,
};

const FIXTURES: [(&str, usize); 4] = [
    ("montage", 96),
    ("epigenomics", 97),
    ("blast", 98),
    ("1000genome", 148),
];

fn fixture(stem: &str) -> Workflow {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wfcommons")
        .join(format!("{stem}.json"));
    let text = std::fs::read_to_string(path).unwrap();
    workflow_from_wfformat(&text, WfFormatOptions::default()).unwrap()
}

fn infra() -> Infrastructure {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wfcommons.infra.toml");
    Infrastructure::from_toml_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn montage_maps_categories_files_and_runtimes() {
    let workflow = fixture("montage");
    assert_eq!(workflow.tasks.len(), 96);
    let types: std::collections::BTreeSet<&str> =
        workflow.tasks.iter().map(|t| t.sf.as_str()).collect();
    for category in [
        "mProject",
        "mDiffFit",
        "mConcatFit",
        "mBgModel",
        "mBackground",
        "mAdd",
    ] {
        assert!(
            types.contains(category),
            "{category} missing from {types:?}"
        );
    }
    // mProject tasks are entry tasks: they read input files from the file server.
    let project = workflow.tasks.iter().find(|t| t.sf == "mProject").unwrap();
    assert!(!project.inputs.is_empty() && project.workload > 0.0);
    // Files written by one task and read by another become edge data, in MB.
    assert!(workflow.edges.iter().any(|e| e.data_mb > 1.0));
    assert!(workflow.files.iter().all(|f| f.size_mb >= 0.0));
    workflow.validate().unwrap();
}

#[test]
fn every_fixture_is_scheduled_validly_by_every_algorithm() {
    let infra = infra();
    for (stem, tasks) in FIXTURES {
        let workflow = fixture(stem);
        assert_eq!(workflow.tasks.len(), tasks, "{stem}");
        let problem = Problem::new(&workflow, &infra).unwrap();
        for algorithm in Algorithm::EVERY {
            let schedule = algorithm.schedule(&problem);
            let metrics = evaluate(&problem, &schedule).unwrap();
            assert!(metrics.response_time > 0.0, "{stem} {algorithm}");
            println!(
                "{stem} {algorithm}: response {:.0} s, {} vCPUs, {} instances",
                metrics.response_time, metrics.vcpus_used, metrics.instances
            );
        }
    }
}

#[test]
fn the_reference_speed_scales_workloads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wfcommons/blast.json");
    let text = std::fs::read_to_string(path).unwrap();
    let one = workflow_from_wfformat(&text, WfFormatOptions::default()).unwrap();
    let two = workflow_from_wfformat(
        &text,
        WfFormatOptions {
            reference_speed: 2.0,
        },
    )
    .unwrap();
    for (a, b) in one.tasks.iter().zip(&two.tasks) {
        assert!((b.workload - 2.0 * a.workload).abs() < 1e-9);
    }
    for speed in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        let err = workflow_from_wfformat(
            &text,
            WfFormatOptions {
                reference_speed: speed,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::BadNumber { .. }), "{speed}: {err}");
    }
}

fn document(tasks: &str, files: &str, runtimes: &str) -> String {
    format!(
        r#"{{"name":"t","schemaVersion":"1.5","workflow":{{
            "specification":{{"tasks":[{tasks}],"files":[{files}]}},
            "execution":{{"tasks":[{runtimes}]}}}}}}"#
    )
}

fn read(text: &str) -> Result<Workflow, Error> {
    workflow_from_wfformat(text, WfFormatOptions::default())
}

#[test]
fn a_small_document_maps_as_documented() {
    let text = document(
        r#"{"id":"a_00000001","parents":[],"children":["b"],"inputFiles":["in"],"outputFiles":["x"]},
           {"id":"b","name":"merge","parents":["a_00000001"],"inputFiles":["x","in"],"outputFiles":["out"]}"#,
        r#"{"id":"in","sizeInBytes":2000000},{"id":"x","sizeInBytes":5000000},
           {"id":"out","sizeInBytes":1}"#,
        r#"{"id":"a_00000001","runtimeInSeconds":3.0},{"id":"b","runtimeInSeconds":0}"#,
    );
    let workflow = read(&text).unwrap();
    assert_eq!(workflow.tasks[0].sf, "a", "id without its number");
    assert_eq!(workflow.tasks[1].sf, "merge", "the category");
    assert_eq!(workflow.tasks[0].workload, 3.0);
    assert_eq!(workflow.files.len(), 1, "only the file no task writes");
    assert_eq!(workflow.files[0].size_mb, 2.0);
    assert_eq!(workflow.tasks[1].inputs, vec!["in".to_owned()]);
    assert_eq!(
        workflow.edges.len(),
        1,
        "parents and children name one edge"
    );
    assert_eq!(workflow.edges[0].data_mb, 5.0);
}

#[test]
fn malformed_documents_are_refused_naming_the_culprit() {
    let cases = [
        ("not json", "line 1"),
        ("{}", "missing field `workflow`"),
        (r#"{"workflow":{"tasks":[]}}"#, "1.5 or later"),
        (
            &document(
                r#"{"id":"a","inputFiles":["nope"]}"#,
                "",
                r#"{"id":"a","runtimeInSeconds":1}"#,
            ),
            "\"nope\"",
        ),
        (
            &document(r#"{"id":"a"}"#, "", ""),
            "task \"a\" has no runtimeInSeconds",
        ),
        (
            &document(
                r#"{"id":"a","parents":["ghost"]}"#,
                "",
                r#"{"id":"a","runtimeInSeconds":1}"#,
            ),
            "\"ghost\"",
        ),
        (
            &document(r#"{"id":"a"}"#, "", r#"{"id":"a","runtimeInSeconds":-1}"#),
            "runtimeInSeconds of task \"a\"",
        ),
        (
            &document(
                r#"{"id":"a","outputFiles":["f"]},{"id":"b","outputFiles":["f"]}"#,
                r#"{"id":"f","sizeInBytes":1}"#,
                r#"{"id":"a","runtimeInSeconds":1},{"id":"b","runtimeInSeconds":1}"#,
            ),
            "written by both",
        ),
        (
            &document(
                r#"{"id":"a"},{"id":"a"}"#,
                "",
                r#"{"id":"a","runtimeInSeconds":1}"#,
            ),
            "two tasks are named \"a\"",
        ),
        (
            &document(r#"{"id":"a"}"#, r#"{"id":"f","sizeInBytes":"big"}"#, ""),
            "invalid type",
        ),
    ];
    for (text, expected) in cases {
        let err = read(text).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{expected:?} not in: {err}"
        );
    }
    // A cycle through parents passes the reader and is named by validation.
    let cycle = document(
        r#"{"id":"a","parents":["b"]},{"id":"b","parents":["a"]}"#,
        "",
        r#"{"id":"a","runtimeInSeconds":1},{"id":"b","runtimeInSeconds":1}"#,
    );
    let err = read(&cycle).unwrap().validate().unwrap_err();
    assert!(matches!(err, Error::Cycle(_)), "{err}");
}

//! Cost-matrix problem files: the published HEFT and PEFT examples give their published
//! results, and bad matrices are refused with an error naming the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nfwd_scheduler::{Algorithm, CostMatrix, Error, Problem, Scheduler, evaluate};

fn example(name: &str) -> Problem {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    CostMatrix::from_toml_str(&text)
        .unwrap()
        .to_problem()
        .unwrap()
}

fn makespan(problem: &Problem, algorithm: Algorithm) -> f64 {
    let schedule = algorithm.schedule(problem);
    let metrics = evaluate(problem, &schedule).unwrap();
    assert!((metrics.response_time - schedule.makespan()).abs() < 1e-9);
    schedule.makespan()
}

#[test]
fn the_heft_paper_example_gives_rank_108_and_makespan_80() {
    let problem = example("heft2002.costs.toml");
    assert_eq!(problem.n_tasks(), 10);
    assert_eq!(problem.n_vcpus(), 3);
    let rank = problem.upward_rank_mean();
    assert!((rank[0] - 108.0).abs() < 1e-9, "rank_u(n1) = {}", rank[0]);
    assert_eq!(makespan(&problem, Algorithm::Heft), 80.0);
}

#[test]
fn the_peft_paper_example_gives_makespan_122() {
    let problem = example("peft2014.costs.toml");
    assert_eq!(makespan(&problem, Algorithm::Peft), 122.0);
}

#[test]
fn every_algorithm_schedules_both_examples_validly() {
    for file in ["heft2002.costs.toml", "peft2014.costs.toml"] {
        let problem = example(file);
        for algorithm in Algorithm::EVERY {
            let value = makespan(&problem, algorithm);
            println!("{file}: {algorithm} {value}");
        }
    }
}

fn bad(text: &str) -> Error {
    CostMatrix::from_toml_str(text)
        .and_then(|m| m.to_problem())
        .unwrap_err()
}

#[test]
fn bad_matrices_are_refused_naming_the_culprit() {
    let head = "processors = [\"P1\", \"P2\"]\n";
    let ragged = bad(&format!(
        "{head}[[task]]\nname = \"a\"\ncosts = [1.0, 2.0]\n[[task]]\nname = \"b\"\ncosts = [1.0]\n"
    ));
    assert!(
        ragged.to_string().contains("\"b\"") && ragged.to_string().contains("expected 2"),
        "{ragged}"
    );
    let negative = bad(&format!(
        "{head}[[task]]\nname = \"a\"\ncosts = [1.0, -2.0]\n"
    ));
    assert!(
        negative.to_string().contains("\"a\"") && negative.to_string().contains("\"P2\""),
        "{negative}"
    );
    let unknown = bad(&format!(
        "{head}[[task]]\nname = \"a\"\ncosts = [1.0, 2.0]\n[[edge]]\nfrom = \"a\"\nto = \"zz\"\n"
    ));
    assert!(matches!(unknown, Error::UnknownTask { .. }), "{unknown}");
    let cycle = bad(&format!(
        "{head}[[task]]\nname = \"a\"\ncosts = [1.0, 2.0]\n[[task]]\nname = \"b\"\ncosts = [1.0, 2.0]\n\
         [[edge]]\nfrom = \"a\"\nto = \"b\"\n[[edge]]\nfrom = \"b\"\nto = \"a\"\n"
    ));
    assert!(matches!(cycle, Error::Cycle(_)), "{cycle}");
    let no_processor = bad("processors = []\n[[task]]\nname = \"a\"\ncosts = []\n");
    assert!(
        matches!(no_processor, Error::BadMatrix(_)),
        "{no_processor}"
    );
    let twice = bad("processors = [\"P\", \"P\"]\n[[task]]\nname = \"a\"\ncosts = [1.0, 1.0]\n");
    assert!(twice.to_string().contains("\"P\""), "{twice}");
    let typo = bad(&format!(
        "{head}[[task]]\nname = \"a\"\ncost = [1.0, 2.0]\n"
    ));
    assert!(matches!(typo, Error::Parse { .. }), "{typo}");
    let beyond = Problem::from_cost_matrix(&[vec![1.0]], &[(0, 5, 1.0)]).unwrap_err();
    assert!(matches!(beyond, Error::BadMatrix(_)), "{beyond}");
}

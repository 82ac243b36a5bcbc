//! Times one algorithm on the benchmarks' layered random DAG at any size, and fingerprints the
//! schedule so two builds can be compared for identical plans:
//! `cargo run --release -p nfwd-scheduler --example scale -- ALGO LAYERS WIDTH HOSTS [DUMP]`
//! (`sf-cuv 400 50 500`: 20,000 tasks on 2,000 vCPUs; `DUMP`: write every assignment and
//! download, exact floats, to that file). Peak memory: run it under `/usr/bin/time -f "%e s, %M KB"`.

#[path = "../benches/layered/mod.rs"]
mod layered;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;

use nfwd_scheduler::{Algorithm, Scheduler};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err("usage: scale ALGO LAYERS WIDTH HOSTS [DUMP]".into());
    }
    let algorithm: Algorithm = args[0].parse()?;
    let (layers, width, hosts): (usize, usize, usize) =
        (args[1].parse()?, args[2].parse()?, args[3].parse()?);
    let started = std::time::Instant::now();
    let problem = layered::layered_problem(layers, width, hosts);
    let built = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let schedule = algorithm.schedule(&problem);
    let planned = started.elapsed().as_secs_f64();
    let mut text = String::new();
    for (task, a) in schedule.assignments.iter().enumerate() {
        text.push_str(&format!("{task} {} {:?} {:?}\n", a.vcpu, a.start, a.finish));
    }
    for d in schedule
        .image_downloads
        .iter()
        .chain(&schedule.file_downloads)
    {
        text.push_str(&format!(
            "d {} {} {:?} {:?}\n",
            d.host, d.item, d.start, d.finish
        ));
    }
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let makespan = schedule
        .assignments
        .iter()
        .map(|a| a.finish)
        .fold(0.0, f64::max);
    println!(
        "{algorithm}: {} tasks on {} vCPUs, problem {built:.2} s, schedule {planned:.2} s, \
         makespan {makespan:.3}, fingerprint {:016x}",
        problem.n_tasks(),
        problem.n_vcpus(),
        hasher.finish()
    );
    if let Some(path) = args.get(4) {
        std::fs::File::create(path)?.write_all(text.as_bytes())?;
    }
    Ok(())
}

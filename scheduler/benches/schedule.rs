//! Scheduling the layered random DAG (`layered/mod.rs`): 2,000 tasks on 200 vCPUs (50 hosts of
//! 4 in 2 networks), and 20,000 tasks on 2,000 vCPUs (500 hosts).
//! `cargo bench -p nfwd-scheduler --bench schedule` (both sizes; `-- 20000` for the large one).

mod layered;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use nfwd_scheduler::{Algorithm, Scheduler};

fn bench(c: &mut Criterion) {
    let problem = layered::layered_problem(40, 50, 50);
    assert_eq!((problem.n_tasks(), problem.n_vcpus()), (2000, 200));
    let mut group = c.benchmark_group("2000 tasks on 200 vCPUs");
    group.sample_size(10);
    group.bench_function("sf-cuv", |b| {
        b.iter(|| Algorithm::SfCuv.schedule(black_box(&problem)));
    });
    group.bench_function("heft", |b| {
        b.iter(|| Algorithm::Heft.schedule(black_box(&problem)));
    });
    group.finish();

    // Seconds per schedule: criterion's fewest samples (10), one schedule each.
    let problem = layered::layered_problem(400, 50, 500);
    assert_eq!((problem.n_tasks(), problem.n_vcpus()), (20_000, 2_000));
    let mut group = c.benchmark_group("20000 tasks on 2000 vCPUs");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("sf-cuv", |b| {
        b.iter(|| Algorithm::SfCuv.schedule(black_box(&problem)));
    });
    group.bench_function("heft", |b| {
        b.iter(|| Algorithm::Heft.schedule(black_box(&problem)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

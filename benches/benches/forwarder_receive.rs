//! `Forwarder::receive` per packet path, on the sans-IO core alone (no sockets, no tokio):
//! Interest cache miss forwarded upstream, Data satisfying a pending Interest, Interest
//! answered from the content store, chained Interest popped towards a local SF, Nack, and a
//! looping Interest caught by the dead nonce list (`nfwd_benches::receive`).
//!
//! Each iteration is one packet. Batches of up to `BATCH` packets are prepared untimed and
//! only their `receive` calls are timed (`iter_custom`); what a batch leaves pending is
//! answered untimed, so the tables stay bounded.
#![allow(clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nfwd_benches::receive::{Path, PathBench};

fn receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive");
    group.throughput(Throughput::Elements(1));
    for path in Path::ALL {
        let mut bench = PathBench::new(path);
        group.bench_function(path.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = usize::try_from(iters).unwrap_or(usize::MAX);
                while left > 0 {
                    let batch = bench.prepare(left);
                    left -= batch.len();
                    let start = Instant::now();
                    bench.receive_batch(&batch);
                    total += start.elapsed();
                    bench
                        .finish(&batch)
                        .expect("the packets take the path measured");
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, receive);
criterion_main!(benches);

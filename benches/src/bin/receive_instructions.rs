//! Runs one packet path of `Forwarder::receive` many times, for an instruction count under
//! callgrind (`scripts/instructions.sh`):
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*callgrind_measured_receives*' \
//!     target/release/receive_instructions interest_miss 4096
//! ```
//!
//! Only `callgrind_measured_receives` (the `receive` calls of the measured batches) is
//! counted; the warm-up, the set-up of each batch and the answers that keep the tables
//! bounded run outside it. `receive_instructions --list` names the paths.

use std::process::ExitCode;

use nfwd_benches::receive::{BATCH, Batch, DEAD_NONCES, Path, PathBench};

/// Packets run before counting: enough for the content store and the dead nonce list to be
/// full, so every insert of the measured packets evicts as in a long run.
const WARM_UP: usize = DEAD_NONCES + BATCH;

/// The measured part; its name is what callgrind's `--toggle-collect` matches.
#[inline(never)]
fn callgrind_measured_receives(bench: &mut PathBench, batch: &Batch) {
    bench.receive_batch(batch);
}

fn run(bench: &mut PathBench, packets: usize, measured: bool) -> Result<(), String> {
    let mut left = packets;
    while left > 0 {
        let batch = bench.prepare(left);
        left -= batch.len();
        if measured {
            callgrind_measured_receives(bench, &batch);
        } else {
            bench.receive_batch(&batch);
        }
        bench.finish(&batch)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: receive_instructions <path> [packets] | --list";
    let Some(first) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    if first == "--list" {
        for p in Path::ALL {
            println!("{}", p.name());
        }
        return ExitCode::SUCCESS;
    }
    let Some(path) = Path::from_name(first) else {
        eprintln!("unknown path {first:?}; {usage}");
        return ExitCode::from(2);
    };
    let packets = match args.get(1).map(|s| s.parse::<usize>()) {
        None => 4096,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("packets must be a positive number; {usage}");
            return ExitCode::from(2);
        }
    };
    let mut bench = PathBench::new(path);
    let outcome = run(&mut bench, WARM_UP, false).and_then(|()| run(&mut bench, packets, true));
    match outcome {
        Ok(()) => {
            println!("{} {packets}", path.name());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "{}: the packets did not take the path measured: {e}",
                path.name()
            );
            ExitCode::FAILURE
        }
    }
}

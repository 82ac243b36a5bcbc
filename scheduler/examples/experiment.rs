//! Runs the seed's evaluation without the `nfwd` binary:
//! `cargo run --release -p nfwd-scheduler --example experiment -- OUT_DIR [MAX_B] [SEEDS] [all]
//! [origin|nearest-copy[:RATE]]`
//! (`all`: the variant readings too, not only the seed's six algorithms; the last argument the
//! download model, `nearest-copy` at the measured cache-hit rate or at RATE MB/s).

use std::path::PathBuf;

use nfwd_scheduler::experiment::{self, ExperimentConfig};
use nfwd_scheduler::{Algorithm, DownloadModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out_dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "docs/figures/scheduler".into()),
    );
    let max_b: usize = args.next().map_or(Ok(16), |s| s.parse())?;
    let seeds: u64 = args.next().map_or(Ok(20), |s| s.parse())?;
    let algorithms = match args.next().as_deref() {
        Some("all") => Algorithm::EVERY.to_vec(),
        _ => Algorithm::ALL.to_vec(),
    };
    let download_model = match args.next() {
        None => DownloadModel::Origin,
        Some(spec) => {
            let (name, rate) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
            let rate = if rate.is_empty() {
                DownloadModel::MEASURED_CACHE_RATE
            } else {
                rate.parse()?
            };
            DownloadModel::from_name(name, rate)?
        }
    };
    let config = ExperimentConfig {
        download_model,
        partitions: (2..=max_b).collect(),
        seeds: (1..=seeds).collect(),
        algorithms,
        ..ExperimentConfig::default()
    };
    let started = std::time::Instant::now();
    let results = experiment::run(&config)?;
    let mut written = results.write(&out_dir)?;
    written.extend(experiment::write_gantts(&out_dir, 8, &config)?);
    println!(
        "{} schedules in {:.2} s",
        results.rows.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", results.summary_csv());
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

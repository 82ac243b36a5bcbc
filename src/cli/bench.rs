//! `nfwd bench`: the load generator (see `nfwd_benches::loadgen`).

use std::time::Duration;

use clap::Args;
use nfwd_benches::loadgen::{self, FaceKind, Measurement, NameMode, Settings};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Interests kept outstanding by the consumer.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Content sizes in bytes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    payload: Vec<usize>,
    /// Faces to measure: udp, unix (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "udp,unix")]
    faces: Vec<String>,
    /// Name modes: distinct (no cache hits), repeated (cache hits).
    #[arg(long, value_delimiter = ',', default_value = "distinct,repeated")]
    names: Vec<String>,
    /// Instead of throughput, fill the content store with this many Data and report RSS.
    #[arg(long)]
    cs_fill: Option<usize>,
    /// Instead, measure one warm function hop: `get X` against `get X --chain /sf/identity`
    /// (same content, same run, distinct names).
    #[arg(long)]
    sf_hop: bool,
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(count) = args.cs_fill {
        let payload = args.payload.first().copied().unwrap_or(100);
        println!("filling the content store with {count} Data of {payload} B content ...");
        let (before, after, cached) =
            loadgen::measure_cs_memory(count, payload).map_err(anyhow::Error::msg)?;
        println!(
            "RSS before {:.1} MiB, after {:.1} MiB: {:.1} MiB for {cached} cached Data ({:.0} B each)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            after.saturating_sub(before) as f64 / 1024.0,
            after.saturating_sub(before) as f64 * 1024.0 / cached.max(1) as f64
        );
        return Ok(());
    }
    if args.sf_hop {
        for &payload in &args.payload {
            let (plain, hop) = nfwd_benches::sf_hop::measure_sf_hop(
                payload,
                Duration::from_secs_f64(args.duration.max(0.1)),
                args.window.max(1),
            )
            .map_err(anyhow::Error::msg)?;
            print_table(&[plain.clone(), hop.clone()]);
            println!(
                "one function hop: {:.2}x the exchanges/s, +{} µs at p50\n",
                hop.rate / plain.rate.max(f64::MIN_POSITIVE),
                hop.latency_us[0].saturating_sub(plain.latency_us[0])
            );
        }
        return Ok(());
    }
    let faces = args
        .faces
        .iter()
        .map(|f| match f.as_str() {
            "udp" => Ok(FaceKind::Udp),
            "unix" => Ok(FaceKind::Unix),
            other => Err(anyhow::anyhow!("unknown face kind {other:?} (udp, unix)")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let modes = args
        .names
        .iter()
        .map(|m| match m.as_str() {
            "distinct" => Ok(NameMode::Distinct),
            "repeated" => Ok(NameMode::Repeated),
            other => Err(anyhow::anyhow!(
                "unknown name mode {other:?} (distinct, repeated)"
            )),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let settings = Settings {
        duration: Duration::from_secs_f64(args.duration.max(0.1)),
        window: args.window.max(1),
        payloads: args.payload,
        faces,
        modes,
    };
    let results = loadgen::run(&settings).map_err(anyhow::Error::msg)?;
    print_table(&results);
    Ok(())
}

fn print_table(results: &[Measurement]) {
    println!(
        "{:<40} {:>12} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "measurement", "exchanges/s", "p50 µs", "p90 µs", "p99 µs", "max µs", "lost"
    );
    let mut echo = None;
    for m in results {
        if m.label.starts_with("udp echo") {
            echo = Some(m.rate);
        }
        let [p50, p90, p99, max] = m.latency_us;
        let ratio = match echo {
            Some(e) if !m.label.starts_with("udp echo") && e > 0.0 => {
                format!("  {:.2} of ceiling (echo/2)", m.rate / (e / 2.0))
            }
            _ => String::new(),
        };
        println!(
            "{:<40} {:>12.0} {:>8} {:>8} {:>8} {:>8} {:>6}{ratio}",
            m.label, m.rate, p50, p90, p99, max, m.lost
        );
    }
}

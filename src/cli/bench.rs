//! `nfwd bench`: the load generator (see `nfwd_benches::loadgen`).

use crate::cli::output::outln;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use nfwd_benches::flood::{self, FloodReport, FloodSettings, PHASES, PhaseStats};
use nfwd_benches::loadgen::{self, FaceKind, Measurement, NameMode, Settings};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Seconds per measurement (default 5; with --flood, the flood's length, default 20).
    #[arg(long)]
    duration: Option<f64>,
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
    /// Measure NFD beside nfwd, case by case: the prefix of the NDN reference tools
    /// (`bin/nfd`, `bin/nfdc`, `bin/ndnsec`, `lib/`; e.g. target/ndn-anchors).
    #[arg(long, value_name = "PREFIX")]
    nfd: Option<std::path::PathBuf>,
    /// Measure every case this many times, interleaved; the summary gives medians.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Worker threads of nfwd's runtime: 0 (default) runs the whole daemon on one thread;
    /// N runs it as `nfwd start --io-threads N` does, face tasks beside the core task. The
    /// CPU column then sums all of the daemon's threads.
    #[arg(long, default_value_t = 0)]
    daemon_workers: usize,
    /// nfwd's forwarding threads (`nfwd start --threads`): 1 to 64. The CPU column sums the
    /// shards' threads too.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=64))]
    threads: u8,
    /// nfwd forwarders in a line between consumer and producer: 1, or 2 joined by a UDP face
    /// (forwarder to forwarder: GSO sends, UDP_GRO receives). The CPU column then sums both.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    line: u8,
    /// Instead of throughput, fill the content store with this many Data and report RSS.
    #[arg(long)]
    cs_fill: Option<usize>,
    /// Instead, measure one warm function hop: `get X` against `get X --chain /sf/identity`
    /// (same content, same run, distinct names).
    #[arg(long)]
    sf_hop: bool,
    /// Instead, flood a daemon with distinct-name Interests from a non-local UDP face (in a
    /// network namespace) while legitimate consumers ask 50 Interests/s on UDP (another
    /// namespace) and on the Unix socket; report their success, the PIT and the daemon's RSS
    /// (docs/benchmarks.md). Needs root.
    #[arg(long)]
    flood: bool,
    /// With --flood: UDP source ports of the flooder (each is a face of its own).
    #[arg(long, default_value_t = 1)]
    flood_sources: usize,
    /// With --flood: InterestLifetime of the flood, in ms.
    #[arg(long, default_value_t = 4000)]
    flood_lifetime: u64,
    /// With --flood: seconds of legitimate traffic alone before the flood.
    #[arg(long, default_value_t = 3.0)]
    flood_baseline: f64,
    /// With --flood: seconds of legitimate traffic alone after the flood (default: the flood's
    /// lifetime plus 5 s, so that its entries have expired).
    #[arg(long)]
    flood_after: Option<f64>,
    /// With --flood: Interests per second of each legitimate consumer.
    #[arg(long, default_value_t = 50.0)]
    legit_rate: f64,
    /// With --flood: InterestLifetime of the legitimate Interests, in ms (an answer later than
    /// this counts as a failure).
    #[arg(long, default_value_t = 1000)]
    legit_lifetime: u64,
    /// With --flood: the daemon's tables.pit_max_entries (default: the configuration default).
    #[arg(long)]
    pit_max: Option<usize>,
    /// With --flood: the daemon's tables.pit_max_entries_per_face.
    #[arg(long)]
    pit_quota: Option<usize>,
    /// With --flood: the daemon's tables.cs_max_entries (0: no content store, so that the RSS
    /// after the flood shows what the flood itself left).
    #[arg(long)]
    cs_max: Option<usize>,
    /// With --flood: the daemon's faces.idle_timeout_s; below --flood-after, the flooder's
    /// faces close before the end, so the last RSS shows what the flood left behind them.
    #[arg(long)]
    idle_timeout: Option<u64>,
    /// Instead, measure closing faces in the core: --teardown-faces faces holding
    /// --teardown-entries PIT entries, all closed; prints the time spent in face_closed.
    #[arg(long)]
    face_teardown: bool,
    /// With --face-teardown: faces.
    #[arg(long, default_value_t = 2000)]
    teardown_faces: usize,
    /// With --face-teardown: PIT entries, spread over the faces.
    #[arg(long, default_value_t = 100_000)]
    teardown_entries: usize,
    /// With --face-teardown: repetitions (each on a fresh core); the median is reported too.
    #[arg(long, default_value_t = 3)]
    teardown_runs: usize,
    /// Internal (run by --flood inside a namespace): flood this forwarder address.
    #[arg(long, hide = true)]
    flood_worker: Option<SocketAddr>,
    /// Internal (run by --flood inside a namespace): consume from this forwarder address.
    #[arg(long, hide = true)]
    flood_consumer: Option<SocketAddr>,
    /// Internal: the name prefix of a worker's Interests.
    #[arg(long, hide = true, default_value = "/flood")]
    flood_prefix: String,
    /// Internal: the consumer's phases, seconds each (baseline, flood, after).
    #[arg(long, hide = true, value_delimiter = ',')]
    flood_phases: Vec<f64>,
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
    if let Some(target) = args.flood_worker {
        let line = flood::flood_worker(
            target,
            &args.flood_prefix,
            args.flood_sources,
            secs(args.duration.unwrap_or(20.0)),
            args.flood_lifetime,
        )
        .map_err(anyhow::Error::msg)?;
        outln!("{line}");
        return Ok(());
    }
    if let Some(target) = args.flood_consumer {
        let phases: Vec<Duration> = args.flood_phases.iter().map(|&s| secs(s)).collect();
        let line = flood::consumer_worker(
            target,
            &args.flood_prefix,
            args.legit_rate,
            args.legit_lifetime,
            &phases,
        )
        .map_err(anyhow::Error::msg)?;
        outln!("{line}");
        return Ok(());
    }
    if args.face_teardown {
        let mut totals = Vec::new();
        for run in 1..=args.teardown_runs.max(1) {
            let r = flood::measure_face_teardown(args.teardown_faces, args.teardown_entries)
                .map_err(anyhow::Error::msg)?;
            let cpu = r.cpu.map_or_else(
                || "CPU time unknown".to_string(),
                |c| format!("{:.2} ms of CPU", c.as_secs_f64() * 1e3),
            );
            let memory = r.rss_growth_kib.map_or_else(String::new, |k| {
                format!(
                    ", RSS +{:.1} MiB: {:.0} B per entry",
                    k as f64 / 1024.0,
                    k as f64 * 1024.0 / r.entries.max(1) as f64
                )
            });
            outln!(
                "face teardown #{run}: {} faces holding {} PIT entries (filled in {:.0} ms{memory}); \
                 closing them all: {:.2} ms in face_closed ({cpu}; {:.1} µs per face, longest \
                 {:.0} µs); {} entries left",
                r.faces,
                r.entries,
                r.fill.as_secs_f64() * 1e3,
                r.total.as_secs_f64() * 1e3,
                r.total.as_secs_f64() * 1e6 / r.faces as f64,
                r.longest.as_secs_f64() * 1e6,
                r.entries_after
            );
            totals.push(r.total);
        }
        totals.sort();
        if let Some(median) = totals.get(totals.len() / 2) {
            outln!(
                "median time in face_closed: {:.2} ms",
                median.as_secs_f64() * 1e3
            );
        }
        return Ok(());
    }
    if args.flood {
        // Said before anything starts (run_flood checks again, for other callers).
        anyhow::ensure!(
            flood::is_root(),
            "nfwd bench --flood needs root: it creates network namespaces and veth pairs \
             (ip netns add, ip link add ... type veth). Run it as root, e.g. with sudo."
        );
        let duration = secs(args.duration.unwrap_or(20.0));
        let settings = FloodSettings {
            exe: std::env::current_exe()?,
            duration,
            baseline: secs(args.flood_baseline),
            after: secs(
                args.flood_after
                    .unwrap_or(args.flood_lifetime as f64 / 1000.0 + 5.0),
            ),
            sources: args.flood_sources.max(1),
            flood_lifetime_ms: args.flood_lifetime,
            legit_rate: args.legit_rate,
            legit_lifetime_ms: args.legit_lifetime,
            pit_max: args.pit_max,
            pit_quota: args.pit_quota,
            cs_max: args.cs_max,
            idle_timeout_s: args.idle_timeout,
        };
        outln!(
            "flood: {} source port(s) for {:.1} s (lifetime {} ms), legitimate consumers at \
             {}/s on UDP (namespace) and Unix ...",
            settings.sources,
            duration.as_secs_f64(),
            settings.flood_lifetime_ms,
            settings.legit_rate
        );
        let report = flood::run_flood(&settings).map_err(anyhow::Error::msg)?;
        print_flood(&report);
        return Ok(());
    }
    let duration = args.duration.unwrap_or(5.0);
    if let Some(count) = args.cs_fill {
        let payload = args.payload.first().copied().unwrap_or(100);
        outln!("filling the content store with {count} Data of {payload} B content ...");
        let (before, after, cached) =
            loadgen::measure_cs_memory(count, payload).map_err(anyhow::Error::msg)?;
        outln!(
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
                Duration::from_secs_f64(duration.max(0.1)),
                args.window.max(1),
            )
            .map_err(anyhow::Error::msg)?;
            print_table(&[plain.clone(), hop.clone()]);
            outln!(
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
        duration: Duration::from_secs_f64(duration.max(0.1)),
        window: args.window.max(1),
        payloads: args.payload,
        faces,
        modes,
        nfd: args.nfd,
        rounds: args.rounds.max(1),
        daemon_workers: args.daemon_workers,
        forwarding_threads: args.threads,
        line: usize::from(args.line),
    };
    if args.line > 1 && settings.nfd.is_some() {
        // A line of two nfwd against one NFD would compare unlike things.
        anyhow::bail!("--line 2 cannot be measured beside --nfd (one NFD is not a line of two)");
    }
    let results = loadgen::run(&settings).map_err(anyhow::Error::msg)?;
    print_table(&results);
    if settings.nfd.is_some() || settings.rounds > 1 {
        print_summary(&results);
    }
    // A measurement that completed nothing is a forwarder that stalled, not a slow one.
    let stalled: Vec<&str> = results
        .iter()
        .filter(|m| m.exchanges == 0)
        .map(|m| m.label.as_str())
        .collect();
    if !stalled.is_empty() {
        anyhow::bail!("no exchange completed: {}", stalled.join(", "));
    }
    Ok(())
}

fn print_table(results: &[Measurement]) {
    outln!(
        "{:<40} {:>12} {:>8} {:>8} {:>8} {:>8} {:>6} {:>9}",
        "measurement",
        "exchanges/s",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "max µs",
        "lost",
        "CPU µs/x"
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
        let cpu = m
            .cpu_us_per_exchange
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"));
        outln!(
            "{:<40} {:>12.0} {:>8} {:>8} {:>8} {:>8} {:>6} {cpu:>9}{ratio}",
            m.label,
            m.rate,
            p50,
            p90,
            p99,
            max,
            m.lost
        );
    }
}

/// Medians per case over the rounds, and nfwd against NFD where both were measured.
fn print_summary(results: &[Measurement]) {
    fn median(mut v: Vec<f64>) -> Option<f64> {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }
    let mut labels: Vec<&str> = Vec::new();
    for m in results {
        if !labels.contains(&m.label.as_str()) {
            labels.push(&m.label);
        }
    }
    fn of<'a>(results: &'a [Measurement], label: &'a str) -> impl Iterator<Item = &'a Measurement> {
        results.iter().filter(move |m| m.label == label)
    }
    let summary = |label: &str| {
        let rate = median(of(results, label).map(|m| m.rate).collect());
        let cpu = median(
            of(results, label)
                .filter_map(|m| m.cpu_us_per_exchange)
                .collect(),
        );
        let p50 = median(of(results, label).map(|m| m.latency_us[0] as f64).collect());
        (rate, cpu, p50)
    };
    outln!(
        "\nmedians of {} round(s):",
        of(results, labels.first().copied().unwrap_or_default()).count()
    );
    for label in &labels {
        let (rate, cpu, p50) = summary(label);
        let mut line = format!(
            "{label:<40} {:>12.0}/s  p50 {:>6.0} µs  CPU {:>6} µs/exchange",
            rate.unwrap_or(0.0),
            p50.unwrap_or(0.0),
            cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"))
        );
        if let Some(case) = label.strip_prefix("nfwd ") {
            let (nfd_rate, nfd_cpu, nfd_p50) = summary(&format!("nfd {case}"));
            // nfwd over NFD, each: the rate, CPU per exchange, p50 round trip.
            let mut ratios = Vec::new();
            if let (Some(a), Some(b)) = (rate, nfd_rate.filter(|r| *r > 0.0)) {
                ratios.push(format!("rate {:.1}x", a / b));
            }
            if let (Some(a), Some(b)) = (cpu, nfd_cpu.filter(|c| *c > 0.0)) {
                ratios.push(format!("CPU {:.2}", a / b));
            }
            if let (Some(a), Some(b)) = (p50, nfd_p50.filter(|p| *p > 0.0)) {
                ratios.push(format!("p50 {:.2}", a / b));
            }
            if !ratios.is_empty() {
                line += &format!("  of NFD's: {}", ratios.join(", "));
            }
        }
        outln!("{line}");
    }
}

fn ratio(s: &PhaseStats) -> String {
    format!(
        "{:>6}/{:<6} {:>6.1}%  nack {:>4} lost {:>4}  p50 {:>6} µs  p99 {:>7} µs",
        s.ok,
        s.sent,
        s.success() * 100.0,
        s.nacked,
        s.timed_out,
        s.rtt_us[0],
        s.rtt_us[1]
    )
}

fn print_flood(r: &FloodReport) {
    outln!("\nlegitimate consumers (Data within the lifetime / sent):");
    for (i, phase) in PHASES.iter().enumerate() {
        outln!("  {phase:<8} udp  {}", ratio(&r.legit_udp[i]));
        outln!("  {phase:<8} unix {}", ratio(&r.legit_unix[i]));
    }
    let secs = r.flood_elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    outln!(
        "\nflood: offered {} Interests ({:.0}/s, {} send errors); reached the forwarder {} \
         ({:.0}/s); accepted into the PIT and forwarded {} ({:.0}/s; {} arrived at the next hop)",
        r.flood_sent,
        r.flood_sent as f64 / secs,
        r.flood_send_errors,
        r.flood_reached,
        r.flood_reached as f64 / secs,
        r.flood_forwarded,
        r.flood_forwarded as f64 / secs,
        r.flood_accepted
    );
    let nacks: Vec<String> = r
        .flood_nacks
        .iter()
        .map(|(code, n)| format!("{n} {}", flood::nack_reason_name(*code)))
        .collect();
    let c = |k: &str| r.forwarder_counters.get(k).copied().unwrap_or(0);
    outln!(
        "refusals (status/counters): pit_quota {}, pit_full {}, scope_violations {}; Nacks the \
         flooder got: {}; datagrams the kernel dropped at the daemon's UDP socket: {}",
        c("pit_quota"),
        c("pit_full"),
        c("scope_violations"),
        if nacks.is_empty() {
            "none".to_string()
        } else {
            nacks.join(", ")
        },
        r.udp_socket_drops
    );
    let d: Vec<String> = r
        .driver_counters
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    outln!(
        "driver counters: {}",
        if d.is_empty() {
            "all zero".to_string()
        } else {
            d.join(", ")
        }
    );
    outln!(
        "PIT: peak {} entries (pit_max_entries {}, per-face quota {})",
        r.pit_peak(),
        r.pit_max,
        r.pit_quota
    );
    let cs_end = r.samples.iter().rev().find_map(|s| s.cs).unwrap_or(0);
    outln!(
        "content store at the end: {cs_end} entries (cs_max_entries {}; the producer answers \
         the flood as well, so the store fills with its Data — a bounded cache, part of the \
         RSS below)",
        r.cs_max
    );
    let (before, during, after) = r.rss();
    let mib = |k: u64| k as f64 / 1024.0;
    outln!(
        "daemon RSS: {:.1} MiB at the end of the baseline, {:.1} MiB at most during the flood, \
         {:.1} MiB at the end ({:+.1} MiB from the baseline)",
        mib(before),
        mib(during),
        mib(after),
        mib(after) - mib(before)
    );
    outln!(
        "\ntimeline (one sample a second; the flood ran from {:.1} s to {:.1} s):",
        r.flood_window.0.as_secs_f64(),
        r.flood_window.1.as_secs_f64()
    );
    let mut next = 0.0;
    for s in &r.samples {
        let t = s.at.as_secs_f64();
        if t + 1e-9 < next {
            continue;
        }
        next = t.floor() + 1.0;
        let pit = s
            .pit
            .map_or_else(|| "(no answer)".to_string(), |p| p.to_string());
        outln!(
            "  {t:>6.1} s  PIT {pit:>10}  RSS {:>7.1} MiB",
            mib(s.rss_kib)
        );
    }
}

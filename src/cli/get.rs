//! `nfwd get NAME [--chain F3,F2,F1]`: fetch a content (or a function chain's result) and
//! write it out, like ndnpeek for a single Data and ndncatchunks for a segmented one.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use nfwd_forwarder::client::{Client, ClientConfig, ClientUri, FetchOptions, FetchProgress};
use nfwd_tlv::{FunctionChain, Name};

use crate::cli::output::{printable, with_status_line, write_stdout};

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Content name, e.g. /rs1/lamp/2256 (CanBePrefix: the newest version is fetched).
    #[arg(value_parser = parse_boxed::<Name>)]
    pub(crate) name: Box<Name>,
    /// Function stack to apply, head first, e.g. /sf/F3,/sf/F2,/sf/F1.
    #[arg(long, value_parser = parse_boxed::<FunctionChain>)]
    pub(crate) chain: Option<Box<FunctionChain>>,
    /// Forwarder to connect to (unix:///path or tcp4://host:port); default
    /// $NDN_CLIENT_TRANSPORT, then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock.
    #[arg(long)]
    pub(crate) connect: Option<String>,
    /// InterestLifetime in milliseconds.
    #[arg(long, default_value_t = 4000)]
    pub(crate) lifetime: u64,
    /// Write the content to this file instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// Segment Interests kept outstanding.
    #[arg(long, default_value_t = 16)]
    pub(crate) window: usize,
    /// Retransmissions of one Interest before giving up.
    #[arg(long, default_value_t = 3)]
    pub(crate) retries: u32,
    /// Set MustBeFresh on the first Interest.
    #[arg(long)]
    pub(crate) must_be_fresh: bool,
    /// Print what was fetched, its size and the time taken to stderr (the global
    /// `--verbose`, `-v`).
    #[arg(skip)]
    pub(crate) verbose: bool,
    /// Never draw the progress line (drawn on stderr when it is a terminal and the fetch
    /// takes more than half a second).
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// Parses into a box: names and chains keep small arrays inline, and boxing them keeps the
/// subcommand enum in `main.rs` small.
pub(crate) fn parse_boxed<T: std::str::FromStr>(s: &str) -> Result<Box<T>, T::Err> {
    s.parse().map(Box::new)
}

/// The forwarder named before the subcommand (`nfwd --connect X sf list`): every command that
/// was not given one of its own talks to it, never silently to the default one.
static GLOBAL_CONNECT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the `--connect` given before the subcommand (once, from `main`).
pub(crate) fn set_global_connect(uri: Option<&str>) {
    if let Some(uri) = uri {
        let _ = GLOBAL_CONNECT.set(uri.to_owned());
    }
}

/// `uri` if given, else the `--connect` given before the subcommand, else none (the
/// environment and the defaults decide).
pub(crate) fn connect_uri(uri: Option<&str>) -> Option<String> {
    uri.map(str::to_owned)
        .or_else(|| GLOBAL_CONNECT.get().cloned())
}

pub(crate) async fn connect(uri: Option<&str>) -> anyhow::Result<Client> {
    let uri = match connect_uri(uri).as_deref() {
        Some(u) => u.parse()?,
        None => ClientUri::from_env_or_default()?,
    };
    Client::connect_uri(&uri, ClientConfig::default())
        .await
        .with_context(|| {
            format!(
                "cannot reach the forwarder at {uri} (is `nfwd start` running there? \
                 --connect or NDN_CLIENT_TRANSPORT name another)"
            )
        })
}

/// Fetches what `args` asks for; returns the fetched name and the content.
pub(crate) async fn get(args: &GetArgs) -> anyhow::Result<(Name, Bytes)> {
    let client = connect(args.connect.as_deref()).await?;
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let progress = show_progress.then(|| Arc::new(FetchProgress::default()));
    let opts = FetchOptions {
        lifetime_ms: args.lifetime,
        window: args.window,
        max_retries: args.retries,
        must_be_fresh: args.must_be_fresh,
        progress: progress.clone(),
        ..FetchOptions::default()
    };
    let what = match &args.chain {
        Some(c) => format!("{} [{c}]", args.name),
        None => args.name.to_string(),
    };
    let fetch = client.fetch(&args.name, args.chain.as_deref().cloned(), &opts);
    let fetched = match progress {
        None => fetch.await,
        // Redrawn every 200 ms once the fetch has taken half a second.
        Some(p) => {
            with_status_line(fetch, Duration::from_millis(500), |elapsed| {
                let (bytes, segments, total) = p.snapshot();
                progress_line(bytes, segments, total, elapsed)
            })
            .await
        }
    };
    fetched
        .map_err(|e| explain(e, args.chain.as_deref()))
        .with_context(|| format!("fetching {what}"))
}

/// `1.5 MiB, 12/40 segments, 3.0 MiB/s, ETA 1 s` (the total and the ETA once FinalBlockId is
/// known: the size is then estimated from the segments so far).
fn progress_line(bytes: u64, segments: u64, total: Option<u64>, elapsed: Duration) -> String {
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = bytes as f64 / secs;
    let mut line = format!("{:.1} MiB", mib(bytes as f64));
    match total {
        Some(t) => line.push_str(&format!(", {segments}/{t} segments")),
        None => line.push_str(&format!(", {segments} segments")),
    }
    line.push_str(&format!(", {:.1} MiB/s", mib(rate)));
    if let Some(t) = total
        && segments > 0
        && rate > 0.0
    {
        let left = t.saturating_sub(segments) as f64 * bytes as f64 / segments as f64;
        line.push_str(&format!(", ETA {:.0} s", left / rate));
    }
    line
}

/// Says which function failed and why: an SF's error Data (`docs/protocol.md` §5.3) names
/// the failing function, the stack it was asked with and the instance that reported it; a
/// Nack NoRoute for a chained Interest means no forwarder offers its head function.
fn explain(e: nfwd_forwarder::Error, chain: Option<&FunctionChain>) -> anyhow::Error {
    use nfwd_forwarder::Error as E;
    match (e, chain) {
        (E::Application { name, message }, _) => {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&message) else {
                return anyhow::anyhow!("error Data for {name}: {}", printable(&message));
            };
            // Every field comes from the network: escaped before it reaches a terminal.
            let text_of = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(printable);
            let field = |k: &str| text_of(k).unwrap_or_else(|| "?".into());
            let mut text = format!(
                "the function {} failed ({}): {}",
                field("function"),
                field("error"),
                field("message")
            );
            if let Some(stack) = text_of("stack") {
                text.push_str(&format!("\n  asked with the stack {stack}"));
            }
            // A forwarder's error (protocol.md §4.1) has no instance.
            let instance = text_of("instance")
                .map(|i| format!(" (instance {i})"))
                .unwrap_or_default();
            text.push_str(&format!(
                "\n  reported by {}{instance} in the error Data {name}",
                text_of("reporter").unwrap_or_else(|| field("function")),
            ));
            anyhow::anyhow!(text)
        }
        (E::Nack(nfwd_tlv::lp::NackReason::NoRoute), Some(c)) => anyhow::anyhow!(
            "no route to the function {} (Nack NoRoute): the forwarder knows no SF or \
             forwarder offering it",
            c.head()
        ),
        (e, _) => e.into(),
    }
}

pub(crate) fn run(args: &GetArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (name, content) = rt.block_on(get(args))?;
    if args.verbose {
        eprintln!(
            "{name}{}: {} bytes in {:.3} s",
            args.chain
                .as_ref()
                .map_or_else(String::new, |c| format!(" [{c}]")),
            content.len(),
            started.elapsed().as_secs_f64()
        );
    }
    match &args.output {
        Some(path) => {
            std::fs::write(path, &content)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => write_stdout(&content).context("writing the content to stdout")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_says_size_segments_rate_and_eta_once_the_end_is_known() {
        let mib = 1024 * 1024;
        let line = progress_line(3 * mib, 30, None, Duration::from_secs(2));
        assert_eq!(line, "3.0 MiB, 30 segments, 1.5 MiB/s");
        let line = progress_line(3 * mib, 30, Some(60), Duration::from_secs(2));
        assert_eq!(line, "3.0 MiB, 30/60 segments, 1.5 MiB/s, ETA 2 s");
        // Nothing yet: no division by zero.
        assert_eq!(
            progress_line(0, 0, None, Duration::ZERO),
            "0.0 MiB, 0 segments, 0.0 MiB/s"
        );
    }
}

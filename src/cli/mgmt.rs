//! Management client like NFD's `nfdc`: `nfwd status`, `nfwd face …`, `nfwd route …`,
//! `nfwd strategy …`, `nfwd cs …`. It speaks NFD's management protocol, so it works against
//! NFD too.

use crate::cli::output::{out, outln, printable};
use anyhow::Context;
use bytes::Bytes;
use clap::{Args, Subcommand};
use nfwd_forwarder::client::{Client, FetchOptions};
use nfwd_forwarder::metrics;
use nfwd_tlv::Name;
use nfwd_tlv::nfd::{
    ControlParameters, CsInfo, DatasetEntry, FaceStatus, FibEntry, ForwarderStatus, RibEntry,
    StrategyChoice, Text, decode_all,
};

/// Where to reach the forwarder; shared by every management subcommand.
#[derive(Debug, Args)]
pub(crate) struct Connect {
    /// Forwarder to manage: unix:///path or tcp4://host:port (default: NDN_CLIENT_TRANSPORT,
    /// then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock). Give it before the subcommand:
    /// `nfwd --connect unix:///tmp/nfwd.sock face list`.
    #[arg(long)]
    connect: Option<String>,
    /// Sign management commands with this key (`nfwd key generate`; docs/security.md)
    /// instead of DigestSha256.
    #[arg(long, env = "NFWD_KEY")]
    key: Option<std::path::PathBuf>,
}

impl Connect {
    /// The forwarder given with `--connect`, if any.
    pub(crate) fn uri(&self) -> Option<&str> {
        self.connect.as_deref()
    }

    /// These options, with those given after the subcommand taking precedence.
    pub(crate) fn overridden_by(self, after: Self) -> Self {
        Self {
            connect: after.connect.or(self.connect),
            key: after.key.or(self.key),
        }
    }
}

/// A management subcommand with `--connect`/`--key` accepted after it too
/// (`nfwd face list --connect unix:///tmp/a.sock`), as before it.
#[derive(Debug, Args)]
pub(crate) struct Managed<C: Subcommand> {
    #[command(subcommand)]
    pub(crate) command: C,
    /// Forwarder to manage (as `nfwd --connect X ...`).
    #[arg(long, global = true)]
    connect: Option<String>,
    /// Sign management commands with this key (as `nfwd --key K ...`).
    #[arg(long, global = true)]
    key: Option<std::path::PathBuf>,
}

impl<C: Subcommand> Managed<C> {
    /// The subcommand and its connection options.
    pub(crate) fn split(self) -> (C, Connect) {
        (
            self.command,
            Connect {
                connect: self.connect,
                key: self.key,
            },
        )
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum FaceCommand {
    /// List faces with their counters.
    List {
        /// One JSON array instead (fields: docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Create a face to a remote forwarder, e.g. udp4://10.0.0.2:6363, quic://10.0.0.2:6367.
    Create {
        /// Remote URI.
        uri: String,
        /// persistent (default) or permanent.
        #[arg(long, default_value = "persistent")]
        persistency: String,
        #[command(flatten)]
        settings: FaceSettings,
    },
    /// Change a face's persistency, local fields or congestion marking (NFD's faces/update).
    Update {
        /// Face id, or the remote URI of an existing face.
        face: String,
        /// on-demand, persistent or permanent.
        #[arg(long)]
        persistency: Option<String>,
        #[command(flatten)]
        settings: FaceSettings,
    },
    /// Destroy a face by id.
    Destroy {
        /// Face id.
        face: u64,
    },
}

/// What `face create` and `face update` may set besides the persistency, as nfdc's options
/// of the same names.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct FaceSettings {
    /// NFD's LocalFieldsEnabled (IncomingFaceId out, NextHopFaceId in; local faces only):
    /// on or off.
    #[arg(long, value_parser = on_off)]
    local_fields: Option<bool>,
    /// Congestion marking of what the face queues: on or off.
    #[arg(long, value_parser = on_off)]
    congestion_marking: Option<bool>,
    /// Base interval between congestion marks, in milliseconds (NFD's
    /// BaseCongestionMarkingInterval; default 100).
    #[arg(long, value_name = "MS")]
    congestion_marking_interval: Option<u64>,
    /// Queued bytes beyond which packets are marked (NFD's DefaultCongestionThreshold;
    /// default 65536).
    #[arg(long, value_name = "BYTES")]
    default_congestion_threshold: Option<u64>,
}

/// NFD's face flag bits (`Flags`/`Mask` of ControlParameters).
const FLAG_LOCAL_FIELDS: u64 = 1;
const FLAG_CONGESTION_MARKING: u64 = 4;

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("{other:?}: on or off")),
    }
}

impl FaceSettings {
    fn is_empty(&self) -> bool {
        self.local_fields.is_none()
            && self.congestion_marking.is_none()
            && self.congestion_marking_interval.is_none()
            && self.default_congestion_threshold.is_none()
    }

    /// Sets the fields and the Flags/Mask bits of what was given.
    fn apply(&self, p: &mut ControlParameters) -> anyhow::Result<()> {
        let (mut flags, mut mask) = (0, 0);
        for (bit, on) in [
            (FLAG_LOCAL_FIELDS, self.local_fields),
            (FLAG_CONGESTION_MARKING, self.congestion_marking),
        ] {
            if let Some(on) = on {
                mask |= bit;
                if on {
                    flags |= bit;
                }
            }
        }
        if mask != 0 {
            p.flags = Some(flags);
            p.mask = Some(mask);
        }
        if let Some(ms) = self.congestion_marking_interval {
            let ns = ms
                .checked_mul(1_000_000)
                .filter(|&ns| ns > 0)
                .with_context(|| format!("--congestion-marking-interval {ms}: 1 ms or more"))?;
            p.base_congestion_marking_interval_ns = Some(ns);
        }
        if let Some(t) = self.default_congestion_threshold {
            anyhow::ensure!(t > 0, "--default-congestion-threshold 0: 1 byte or more");
            p.default_congestion_threshold = Some(t);
        }
        Ok(())
    }
}

/// `key=value` words of a face's settings, as faces/create and faces/update answer them.
fn face_settings_words(p: &ControlParameters) -> String {
    let on = |bit: u64| {
        p.flags
            .map(|f| if f & bit != 0 { "on" } else { "off" })
            .unwrap_or("?")
    };
    let mut words = vec![
        format!(
            "persistency={}",
            p.face_persistency.map_or("?", persistency_name)
        ),
        format!("local-fields={}", on(FLAG_LOCAL_FIELDS)),
        format!("congestion-marking={}", on(FLAG_CONGESTION_MARKING)),
    ];
    if let Some(ns) = p.base_congestion_marking_interval_ns {
        words.push(format!("congestion-marking-interval={}ms", ns / 1_000_000));
    }
    if let Some(t) = p.default_congestion_threshold {
        words.push(format!("default-congestion-threshold={t}B"));
    }
    words.join(" ")
}

#[derive(Debug, Subcommand)]
pub(crate) enum RouteCommand {
    /// List routes (RIB) and next hops (FIB).
    List {
        /// One JSON object instead (fields: docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Add a route: PREFIX through face id or URI.
    Add {
        /// Name prefix.
        prefix: Name,
        /// Face id, or the remote URI of an existing face.
        face: String,
        /// Cost.
        #[arg(long, default_value_t = 0)]
        cost: u64,
        /// Origin (255 static, 0 app).
        #[arg(long, default_value_t = 255)]
        origin: u64,
        /// Expiration in milliseconds (none: never).
        #[arg(long)]
        expires_ms: Option<u64>,
    },
    /// Remove a route.
    Remove {
        /// Name prefix.
        prefix: Name,
        /// Face id, or the remote URI of an existing face.
        face: String,
        /// Origin.
        #[arg(long, default_value_t = 255)]
        origin: u64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StrategyCommand {
    /// List strategy choices.
    List {
        /// One JSON array instead (fields: docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Set the strategy of a prefix: best-route, multicast, asf, random, access,
    /// self-learning or load-balance (or a full strategy name, with version and parameters).
    Set {
        /// Name prefix.
        prefix: Name,
        /// Strategy.
        strategy: String,
    },
    /// Remove the strategy choice of a prefix.
    Unset {
        /// Name prefix.
        prefix: Name,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CsCommand {
    /// Content store capacity, entries, hits and misses.
    Info {
        /// One JSON object instead (fields: docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Erase cached Data under a prefix.
    Erase {
        /// Name prefix.
        prefix: Name,
        /// Erase at most this many.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Change capacity and admit/serve flags.
    Config {
        /// Capacity in packets.
        #[arg(long)]
        capacity: Option<u64>,
        /// Admit Data (on|off).
        #[arg(long, value_parser = on_off)]
        admit: Option<bool>,
        /// Serve Data (on|off).
        #[arg(long, value_parser = on_off)]
        serve: Option<bool>,
    },
}

/// Which management command to run.
/// What `nfwd status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusView {
    /// status/general.
    General,
    /// status/counters.
    Counters,
    /// status/chains.
    Chains,
}

#[derive(Debug)]
pub(crate) enum Mgmt {
    Status { view: StatusView, json: bool },
    Face(FaceCommand),
    Route(RouteCommand),
    Strategy(StrategyCommand),
    Cs(CsCommand),
}

pub(crate) fn run(connect: &Connect, cmd: Mgmt) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = super::get::connect(connect.connect.as_deref()).await?;
        super::key::use_key(&client, connect.key.as_deref())?;
        match cmd {
            Mgmt::Status { view, json } => match view {
                StatusView::General => status(&client, json).await,
                StatusView::Counters => counters(&client, json).await,
                StatusView::Chains => chains(&client, json).await,
            },
            Mgmt::Face(c) => face(&client, c).await,
            Mgmt::Route(c) => route(&client, c).await,
            Mgmt::Strategy(c) => strategy(&client, c).await,
            Mgmt::Cs(c) => cs(&client, c).await,
        }
    })
}

pub(crate) async fn dataset(client: &Client, path: &str) -> anyhow::Result<Bytes> {
    let name: Name = format!("/localhost/nfd/{path}").parse()?;
    let opts = FetchOptions {
        must_be_fresh: true,
        ..FetchOptions::default()
    };
    match client.fetch_dataset(&name, &opts).await {
        Err(nfwd_forwarder::Error::Management { code, text }) => {
            anyhow::bail!("{path} refused ({code}): {text}")
        }
        other => other.with_context(|| format!("dataset {path}")),
    }
}

pub(crate) async fn entries<T: DatasetEntry>(
    client: &Client,
    path: &str,
) -> anyhow::Result<Vec<T>> {
    Ok(decode_all::<T>(&dataset(client, path).await?)?)
}

/// Prints `value` as one pretty-printed JSON document.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `status/general` for `nfwd status --json` and `/status.json` (fields in docs/cli.md).
pub(crate) fn status_json(s: &ForwarderStatus) -> serde_json::Value {
    let up_s = s.current_timestamp_ms.saturating_sub(s.start_timestamp_ms) / 1000;
    serde_json::json!({
        "version": s.nfd_version.to_string(),
        "start_timestamp_ms": s.start_timestamp_ms,
        "current_timestamp_ms": s.current_timestamp_ms,
        "uptime_s": up_s,
        "name_tree_entries": s.n_name_tree_entries,
        "fib_entries": s.n_fib_entries,
        "pit_entries": s.n_pit_entries,
        "measurements_entries": s.n_measurements_entries,
        "cs_entries": s.n_cs_entries,
        "in_interests": s.n_in_interests,
        "in_data": s.n_in_data,
        "in_nacks": s.n_in_nacks,
        "out_interests": s.n_out_interests,
        "out_data": s.n_out_data,
        "out_nacks": s.n_out_nacks,
        "satisfied_interests": s.n_satisfied_interests,
        "unsatisfied_interests": s.n_unsatisfied_interests,
    })
}

async fn status(client: &Client, json: bool) -> anyhow::Result<()> {
    let s = ForwarderStatus::decode(&dataset(client, "status/general").await?)?;
    let up_s = s.current_timestamp_ms.saturating_sub(s.start_timestamp_ms) / 1000;
    if json {
        return print_json(&status_json(&s));
    }
    outln!("version            {}", s.nfd_version);
    outln!("uptime             {up_s} s");
    outln!(
        "fib / pit / cs     {} / {} / {} entries",
        s.n_fib_entries,
        s.n_pit_entries,
        s.n_cs_entries
    );
    outln!(
        "interests in/out   {} / {}",
        s.n_in_interests,
        s.n_out_interests
    );
    outln!("data in/out        {} / {}", s.n_in_data, s.n_out_data);
    outln!("nacks in/out       {} / {}", s.n_in_nacks, s.n_out_nacks);
    outln!("satisfied          {}", s.n_satisfied_interests);
    outln!("unsatisfied        {}", s.n_unsatisfied_interests);
    Ok(())
}

/// `status/counters` (a Prometheus text exposition, `nfwd_forwarder::metrics`) grouped for
/// reading: the forwarder-wide groups in the order the forwarder wrote them, then the faces
/// by id. Counters and gauges are values; histograms are summed up as [`Latency`].
#[derive(Debug, Default)]
pub(crate) struct CounterGroups {
    groups: Vec<(String, Vec<(String, u64)>)>,
    /// Group → its histograms.
    latencies: Vec<(String, Vec<(String, Latency)>)>,
    /// Face id → its remote URI, counters and histograms.
    faces: std::collections::BTreeMap<u64, FaceBlock>,
}

#[derive(Debug, Default)]
struct FaceBlock {
    remote: String,
    counters: Vec<(String, u64)>,
    latencies: Vec<(String, Latency)>,
}

/// A latency histogram summed up: observations, mean and estimated quantiles, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Latency {
    pub(crate) count: u64,
    pub(crate) mean: Option<f64>,
    pub(crate) p50: Option<f64>,
    pub(crate) p99: Option<f64>,
}

impl Latency {
    fn of(h: &metrics::HistogramSeries) -> Self {
        Self {
            count: h.count,
            mean: h.mean(),
            p50: h.quantile(0.5),
            p99: h.quantile(0.99),
        }
    }

    fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "mean": self.mean,
            "p50": self.p50,
            "p99": self.p99,
        })
    }

    /// `12 observed, mean 0.41 ms, p50 ≈ 0.38 ms, p99 ≈ 1.9 ms` (or `none observed`).
    fn to_text(self) -> String {
        let ms =
            |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{:.3} ms", s * 1e3));
        if self.count == 0 {
            return "none observed".to_owned();
        }
        format!(
            "{} observed, mean {}, p50 ~{}, p99 ~{}",
            self.count,
            ms(self.mean),
            ms(self.p50),
            ms(self.p99)
        )
    }
}

impl CounterGroups {
    pub(crate) fn from_exposition(families: &[metrics::Family]) -> Self {
        let mut g = Self::default();
        for family in families {
            // Families of other programs (or of a later nfwd's new groups) are kept as their
            // group says; names that are not nfwd's are left out.
            let Some((group, field)) = metrics::split_name(family) else {
                continue;
            };
            for sample in &family.samples {
                let counter = (field.to_owned(), sample.value);
                if group == "face" {
                    if let Some(face) = g.face(sample.label("face"), sample.label("remote")) {
                        face.counters.push(counter);
                    }
                } else if let Some((_, v)) = g.groups.iter_mut().find(|(n, _)| n == group) {
                    v.push(counter);
                } else {
                    g.groups.push((group.to_owned(), vec![counter]));
                }
            }
            for series in &family.histograms {
                let latency = (field.to_owned(), Latency::of(series));
                if group == "face" {
                    if let Some(face) = g.face(series.label("face"), series.label("remote")) {
                        face.latencies.push(latency);
                    }
                } else if let Some((_, v)) = g.latencies.iter_mut().find(|(n, _)| n == group) {
                    v.push(latency);
                } else {
                    g.latencies.push((group.to_owned(), vec![latency]));
                }
            }
        }
        g
    }

    /// The block of the face labelled `id` (`None` without a numeric id).
    fn face(&mut self, id: Option<&str>, remote: Option<&str>) -> Option<&mut FaceBlock> {
        let id: u64 = id?.parse().ok()?;
        Some(self.faces.entry(id).or_insert_with(|| FaceBlock {
            remote: remote.unwrap_or_default().to_owned(),
            ..FaceBlock::default()
        }))
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let block = |counters: &[(String, u64)]| {
            serde_json::Value::Object(
                counters
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
                    .collect(),
            )
        };
        let latency_block = |latencies: &[(String, Latency)]| {
            serde_json::Value::Object(
                latencies
                    .iter()
                    .map(|(k, l)| (k.clone(), l.to_json()))
                    .collect(),
            )
        };
        let mut top: serde_json::Map<String, serde_json::Value> = self
            .groups
            .iter()
            .map(|(name, counters)| (name.clone(), block(counters)))
            .collect();
        let faces = self
            .faces
            .iter()
            .map(|(id, f)| {
                serde_json::json!({
                    "face_id": id,
                    "remote_uri": f.remote,
                    "counters": block(&f.counters),
                    "latency": latency_block(&f.latencies),
                })
            })
            .collect();
        top.insert("faces".to_owned(), serde_json::Value::Array(faces));
        let latency = self
            .latencies
            .iter()
            .map(|(group, l)| (group.clone(), latency_block(l)))
            .collect();
        top.insert("latency".to_owned(), serde_json::Value::Object(latency));
        serde_json::Value::Object(top)
    }

    /// `name: value` lines under a heading per group and per face; text from the forwarder
    /// is escaped for the terminal.
    fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let mut block =
            |heading: String, counters: &[(String, u64)], latencies: &[(String, Latency)]| {
                let _ = writeln!(s, "{heading}");
                for (name, value) in counters {
                    let _ = writeln!(s, "  {}: {value}", printable(name));
                }
                for (name, l) in latencies {
                    let _ = writeln!(s, "  {}: {}", printable(name), l.to_text());
                }
            };
        for (name, counters) in &self.groups {
            let latencies = self
                .latencies
                .iter()
                .find(|(g, _)| g == name)
                .map_or(&[][..], |(_, l)| l.as_slice());
            block(printable(name), counters, latencies);
        }
        for (name, latencies) in &self.latencies {
            if !self.groups.iter().any(|(g, _)| g == name) {
                block(printable(name), &[], latencies);
            }
        }
        for (id, f) in &self.faces {
            block(
                format!("face {id} {}", printable(&f.remote)),
                &f.counters,
                &f.latencies,
            );
        }
        s
    }
}

/// `status/chains`, read as JSON (what the forwarder wrote: an array of
/// `observe::ChainReport` objects). A forwarder reached with `--connect` may send anything:
/// it is parsed, never trusted to be well-formed.
pub(crate) fn chains_json(payload: &[u8]) -> anyhow::Result<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).context("status/chains is not JSON")?;
    anyhow::ensure!(v.is_array(), "status/chains is not a JSON array");
    Ok(v)
}

async fn chains(client: &Client, json: bool) -> anyhow::Result<()> {
    let chains = chains_json(&dataset(client, "status/chains").await?)?;
    if json {
        return print_json(&chains);
    }
    let list = chains.as_array().map_or(&[][..], Vec::as_slice);
    if list.is_empty() {
        outln!("no chained exchange has ended here yet");
        return Ok(());
    }
    for c in list {
        let text = |k: &str| c.get(k).and_then(serde_json::Value::as_str).unwrap_or("?");
        let stack: Vec<&str> = c
            .get("chain")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let latency = c
            .get("latency_us")
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| "-".to_owned(), |us| format!("{:.3} ms", us as f64 / 1e3));
        let mut outcome = text("outcome").to_owned();
        if let Some(r) = c.get("reason").and_then(serde_json::Value::as_str) {
            outcome = format!("{outcome} {r}");
        }
        let via = match (
            c.get("upstream").and_then(serde_json::Value::as_u64),
            c.get("local"),
        ) {
            (Some(f), Some(serde_json::Value::Bool(true))) => format!("face {f} (local SF)"),
            (Some(f), _) => format!("face {f}"),
            (None, _) => "-".to_owned(),
        };
        outln!(
            "{}  [{}]  {}  via {}  {}",
            printable(text("name")),
            printable(&stack.join(", ")),
            printable(&outcome),
            via,
            latency
        );
    }
    Ok(())
}

async fn counters(client: &Client, json: bool) -> anyhow::Result<()> {
    let text = dataset(client, "status/counters").await?;
    let text = std::str::from_utf8(&text).context("status/counters is not UTF-8")?;
    let families = metrics::parse(text).context("status/counters")?;
    let groups = CounterGroups::from_exposition(&families);
    if json {
        return print_json(&groups.to_json());
    }
    out!("{}", groups.to_text());
    Ok(())
}

/// Resolves a face given as an id or a remote URI.
async fn face_id(client: &Client, face: &str) -> anyhow::Result<u64> {
    if let Ok(id) = face.parse() {
        return Ok(id);
    }
    let faces: Vec<FaceStatus> = entries(client, "faces/list").await?;
    faces
        .iter()
        .find(|f| f.uri.as_str() == face)
        .map(|f| f.face_id)
        .with_context(|| format!("no face with URI {face}"))
}

fn persistency_name(code: u64) -> &'static str {
    match code {
        0 => "persistent",
        1 => "on-demand",
        2 => "permanent",
        _ => "?",
    }
}

fn scope_name(code: u64) -> &'static str {
    if code == 1 { "local" } else { "non-local" }
}

fn link_type_name(code: u64) -> &'static str {
    match code {
        0 => "point-to-point",
        1 => "multi-access",
        2 => "ad-hoc",
        _ => "?",
    }
}

/// A face in `face list --json` (fields documented in docs/cli.md).
pub(crate) fn face_json(f: &FaceStatus) -> serde_json::Value {
    serde_json::json!({
        "face_id": f.face_id,
        "remote_uri": f.uri.to_string(),
        "local_uri": f.local_uri.to_string(),
        "scope": scope_name(f.face_scope),
        "persistency": persistency_name(f.face_persistency),
        "link_type": link_type_name(f.link_type),
        "mtu": f.mtu,
        "expiration_period_ms": f.expiration_period_ms,
        "local_fields": f.flags & FLAG_LOCAL_FIELDS != 0,
        "congestion_marking": f.flags & FLAG_CONGESTION_MARKING != 0,
        "base_congestion_marking_interval_ns": f.base_congestion_marking_interval_ns,
        "default_congestion_threshold": f.default_congestion_threshold,
        "in_interests": f.n_in_interests,
        "in_data": f.n_in_data,
        "in_nacks": f.n_in_nacks,
        "in_bytes": f.n_in_bytes,
        "out_interests": f.n_out_interests,
        "out_data": f.n_out_data,
        "out_nacks": f.n_out_nacks,
        "out_bytes": f.n_out_bytes,
    })
}

async fn face(client: &Client, cmd: FaceCommand) -> anyhow::Result<()> {
    match cmd {
        FaceCommand::List { json } => {
            let faces = entries::<FaceStatus>(client, "faces/list").await?;
            if json {
                let faces: Vec<serde_json::Value> = faces.iter().map(face_json).collect();
                return print_json(&serde_json::Value::Array(faces));
            }
            for f in faces {
                outln!(
                    "faceid={} remote={} local={} scope={} persistency={} in={{{}i {}d {}n {}B}} out={{{}i {}d {}n {}B}}",
                    f.face_id,
                    f.uri,
                    f.local_uri,
                    scope_name(f.face_scope),
                    persistency_name(f.face_persistency),
                    f.n_in_interests,
                    f.n_in_data,
                    f.n_in_nacks,
                    f.n_in_bytes,
                    f.n_out_interests,
                    f.n_out_data,
                    f.n_out_nacks,
                    f.n_out_bytes
                );
            }
        }
        FaceCommand::Create {
            uri,
            persistency,
            settings,
        } => {
            let code = match persistency.as_str() {
                "persistent" => 0,
                "permanent" => 2,
                other => anyhow::bail!("persistency {other:?}: persistent or permanent"),
            };
            let mut params = ControlParameters {
                uri: Some(Text::from(uri.as_str())),
                face_persistency: Some(code),
                ..ControlParameters::default()
            };
            settings.apply(&mut params)?;
            let resp = client.command_response("faces", "create", &params).await?;
            match (resp.status_code, resp.body) {
                (200, body) => {
                    let id = body.and_then(|b| b.face_id).unwrap_or_default();
                    outln!("face-created id={id} remote={uri}");
                }
                // As nfdc: the face to that remote exists (perhaps opened by the peer, and
                // now kept at the persistency asked for); that is what was asked for.
                (409, Some(body)) if body.face_id.is_some() => {
                    outln!(
                        "face-exists id={} remote={} persistency={}",
                        body.face_id.unwrap_or_default(),
                        body.uri.as_ref().map_or(uri.as_str(), |u| u.as_str()),
                        body.face_persistency.map_or("?", persistency_name)
                    );
                }
                (code, _) => {
                    return Err(nfwd_forwarder::Error::Management {
                        code,
                        text: resp.status_text.to_string(),
                    }
                    .into());
                }
            }
        }
        FaceCommand::Update {
            face,
            persistency,
            settings,
        } => {
            anyhow::ensure!(
                persistency.is_some() || !settings.is_empty(),
                "nothing to update: give --persistency, --local-fields, --congestion-marking, \
                 --congestion-marking-interval or --default-congestion-threshold"
            );
            let id = face_id(client, &face).await?;
            let code = match persistency.as_deref() {
                None => None,
                Some("on-demand") => Some(1),
                Some("persistent") => Some(0),
                Some("permanent") => Some(2),
                Some(other) => {
                    anyhow::bail!("persistency {other:?}: on-demand, persistent or permanent")
                }
            };
            let mut params = ControlParameters {
                face_id: Some(id),
                face_persistency: code,
                ..ControlParameters::default()
            };
            settings.apply(&mut params)?;
            let resp = client.command_response("faces", "update", &params).await?;
            match (resp.status_code, resp.body) {
                (200, Some(body)) => {
                    outln!("face-updated id={id} {}", face_settings_words(&body));
                }
                (code, _) => {
                    return Err(nfwd_forwarder::Error::Management {
                        code,
                        text: format!("face {id}: {}", resp.status_text),
                    }
                    .into());
                }
            }
        }
        FaceCommand::Destroy { face } => {
            let params = ControlParameters {
                face_id: Some(face),
                ..ControlParameters::default()
            };
            client.command("faces", "destroy", &params).await?;
            outln!("face-destroyed id={face}");
        }
    }
    Ok(())
}

/// `route list --json`: the RIB and the FIB (fields documented in docs/cli.md).
pub(crate) fn routes_json(rib: &[RibEntry], fib: &[FibEntry]) -> serde_json::Value {
    let rib: Vec<serde_json::Value> = rib
        .iter()
        .map(|e| {
            let routes: Vec<serde_json::Value> = e
                .routes
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "face_id": r.face_id,
                        "origin": r.origin,
                        "cost": r.cost,
                        "flags": r.flags,
                        "expiration_period_ms": r.expiration_period_ms,
                    })
                })
                .collect();
            serde_json::json!({ "prefix": e.name.to_string(), "routes": routes })
        })
        .collect();
    let fib: Vec<serde_json::Value> = fib
        .iter()
        .map(|e| {
            let hops: Vec<serde_json::Value> = e
                .next_hops
                .iter()
                .map(|h| serde_json::json!({ "face_id": h.face_id, "cost": h.cost }))
                .collect();
            serde_json::json!({ "prefix": e.name.to_string(), "next_hops": hops })
        })
        .collect();
    serde_json::json!({ "rib": rib, "fib": fib })
}

async fn route(client: &Client, cmd: RouteCommand) -> anyhow::Result<()> {
    match cmd {
        RouteCommand::List { json } => {
            let rib = entries::<RibEntry>(client, "rib/list").await?;
            let fib = entries::<FibEntry>(client, "fib/list").await?;
            if json {
                return print_json(&routes_json(&rib, &fib));
            }
            for e in &rib {
                for r in &e.routes {
                    let exp = r
                        .expiration_period_ms
                        .map_or("never".to_owned(), |ms| format!("{ms}ms"));
                    outln!(
                        "prefix={} nexthop={} origin={} cost={} flags={} expires={exp}",
                        e.name,
                        r.face_id,
                        r.origin,
                        r.cost,
                        r.flags
                    );
                }
            }
            outln!("-- FIB");
            for e in &fib {
                let hops: Vec<String> = e
                    .next_hops
                    .iter()
                    .map(|h| format!("{}({})", h.face_id, h.cost))
                    .collect();
                outln!("{} nexthops={{{}}}", e.name, hops.join(", "));
            }
        }
        RouteCommand::Add {
            prefix,
            face,
            cost,
            origin,
            expires_ms,
        } => {
            let id = face_id(client, &face).await?;
            let params = ControlParameters {
                name: Some(prefix.clone()),
                face_id: Some(id),
                cost: Some(cost),
                origin: Some(origin),
                expiration_period_ms: expires_ms,
                ..ControlParameters::default()
            };
            client.command("rib", "register", &params).await?;
            outln!("route-add-accepted prefix={prefix} nexthop={id} origin={origin} cost={cost}");
        }
        RouteCommand::Remove {
            prefix,
            face,
            origin,
        } => {
            let id = face_id(client, &face).await?;
            let params = ControlParameters {
                name: Some(prefix.clone()),
                face_id: Some(id),
                origin: Some(origin),
                ..ControlParameters::default()
            };
            client.command("rib", "unregister", &params).await?;
            outln!("route-removed prefix={prefix} nexthop={id} origin={origin}");
        }
    }
    Ok(())
}

async fn strategy(client: &Client, cmd: StrategyCommand) -> anyhow::Result<()> {
    match cmd {
        StrategyCommand::List { json } => {
            let choices = entries::<StrategyChoice>(client, "strategy-choice/list").await?;
            if json {
                let choices: Vec<serde_json::Value> = choices
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "prefix": c.name.to_string(),
                            "strategy": c.strategy.to_string(),
                        })
                    })
                    .collect();
                return print_json(&serde_json::Value::Array(choices));
            }
            for c in choices {
                outln!("prefix={} strategy={}", c.name, c.strategy);
            }
        }
        StrategyCommand::Set { prefix, strategy } => {
            let strategy: Name = if strategy.starts_with('/') {
                strategy.parse()?
            } else {
                format!("/localhost/nfd/strategy/{strategy}").parse()?
            };
            let params = ControlParameters {
                name: Some(prefix.clone()),
                strategy: Some(strategy.clone()),
                ..ControlParameters::default()
            };
            client.command("strategy-choice", "set", &params).await?;
            outln!("strategy-set prefix={prefix} strategy={strategy}");
        }
        StrategyCommand::Unset { prefix } => {
            let params = ControlParameters::with_name(prefix.clone());
            client.command("strategy-choice", "unset", &params).await?;
            outln!("strategy-unset prefix={prefix}");
        }
    }
    Ok(())
}

/// `cs/info` for `nfwd cs info --json` and `/status.json`.
pub(crate) fn cs_json(i: &CsInfo) -> serde_json::Value {
    serde_json::json!({
        "capacity": i.capacity,
        "admit": i.flags & 1 != 0,
        "serve": i.flags & 2 != 0,
        "entries": i.n_entries,
        "hits": i.n_hits,
        "misses": i.n_misses,
    })
}

async fn cs(client: &Client, cmd: CsCommand) -> anyhow::Result<()> {
    match cmd {
        CsCommand::Info { json } => {
            let infos = entries::<CsInfo>(client, "cs/info").await?;
            if json {
                // NFD's dataset is one CsInfo; an object, not a list of one.
                let Some(i) = infos.first() else {
                    anyhow::bail!("cs/info is empty");
                };
                return print_json(&cs_json(i));
            }
            for i in infos {
                outln!(
                    "capacity={} admit={} serve={} entries={} hits={} misses={}",
                    i.capacity,
                    if i.flags & 1 != 0 { "on" } else { "off" },
                    if i.flags & 2 != 0 { "on" } else { "off" },
                    i.n_entries,
                    i.n_hits,
                    i.n_misses
                );
            }
        }
        CsCommand::Erase { prefix, count } => {
            // One command erases at most the forwarder's limit (NFD's 256), which it reports
            // as Capacity when it cut the erasure short: ask again, as nfdc does, until all
            // (or `count`) are gone.
            let mut total = 0u64;
            loop {
                let params = ControlParameters {
                    name: Some(prefix.clone()),
                    count: count.map(|c| c - total),
                    ..ControlParameters::default()
                };
                let resp = client.command("cs", "erase", &params).await?;
                let body = resp.body.unwrap_or_default();
                let erased = body.count.unwrap_or_default();
                total += erased;
                let cut_short = body.capacity.is_some() && erased > 0;
                if !cut_short || count.is_some_and(|c| total >= c) {
                    break;
                }
            }
            outln!("erased {total} entries under {prefix}");
        }
        CsCommand::Config {
            capacity,
            admit,
            serve,
        } => {
            let (mut flags, mut mask) = (0, 0);
            if let Some(a) = admit {
                mask |= 1;
                flags |= u64::from(a);
            }
            if let Some(s) = serve {
                mask |= 2;
                flags |= u64::from(s) << 1;
            }
            let params = ControlParameters {
                capacity,
                flags: (mask != 0).then_some(flags),
                mask: (mask != 0).then_some(mask),
                ..ControlParameters::default()
            };
            let resp = client.command("cs", "config", &params).await?;
            let body = resp.body.unwrap_or_default();
            outln!(
                "cs-config capacity={:?} flags={:?}",
                body.capacity,
                body.flags
            );
        }
    }
    Ok(())
}

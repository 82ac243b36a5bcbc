//! The SF host's management protocol through the forwarder, and its client side.
//!
//! The host registers [`PREFIX`] (`/localhost/nfwd/sf`) as an ordinary local application; the
//! forwarder intercepts only `/localhost/nfd`, and `/localhost` names never leave the node.
//!
//! Commands are NFD-style v0.3 signed command Interests (SignatureNonce, SignatureTime,
//! DigestSha256) named `/localhost/nfwd/sf/<verb>` whose ApplicationParameters carry the
//! argument — ControlParameters cannot express an SF specification:
//! - `deploy`: the TOML specification ([`crate::spec::SfSpec`]);
//! - `undeploy`: the function name (UTF-8 text).
//!
//! The answer is a ControlResponse: 200 done, 400 bad argument (the StatusText says what is
//! wrong), 404 unknown SF, 409 already deployed, 500 the backend failed.
//!
//! Datasets (JSON, segmented like NFD's: `<prefix>/v=<ms>/seg=<n>`, fetched with CanBePrefix
//! and MustBeFresh): `/localhost/nfwd/sf/list` ([`SfInfo`] array), `/localhost/nfwd/sf/stats`
//! ([`SfStats`] array), `/localhost/nfwd/sf/logs/<function name URI>/<instance index>` (text).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nfwd_forwarder::client::{Client, FetchOptions};
use nfwd_tlv::nfd::ControlResponse;
use nfwd_tlv::{Interest, InterestBuilder, Name, Signer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The host's management prefix.
pub const PREFIX: &str = "/localhost/nfwd/sf";

/// Lifetime of command Interests (deploy waits for `min` instances to come up).
pub const COMMAND_LIFETIME_MS: u64 = 30_000;

/// One instance, as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Its number among the SF's instances.
    pub index: u32,
    /// Backend id (process id, container id).
    pub id: String,
    /// The forwarder face it serves on, once registered.
    pub face: Option<u64>,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Interests the forwarder sent to it (its face's out-Interests).
    pub requests: u64,
}

/// One deployed SF, as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfInfo {
    /// Function name.
    pub name: String,
    /// Version from the specification.
    pub version: String,
    /// `process` or `docker`.
    pub backend: String,
    /// `min`, `max`, `idle_stop_s` of the specification.
    pub min: usize,
    /// Most instances.
    pub max: usize,
    /// Idle period before an instance stops.
    pub idle_stop_s: u64,
    /// `running` (instances up), `idle` (none; the next Interest starts one), `starting` (an
    /// instance is being started or stopped; `instances` then empty), `restarting` (waiting
    /// for a crashed instance's backoff).
    pub state: String,
    /// Running instances.
    pub instances: Vec<InstanceInfo>,
}

/// Counters of one SF since it was deployed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SfStats {
    /// Function name.
    pub name: String,
    /// Instances running now.
    pub instances: usize,
    /// Instances started (warm, cold, scale-out and restarts).
    pub starts: u64,
    /// Cold starts (started for a held Interest).
    pub cold_starts: u64,
    /// Last cold start, from Interest arrival to the instance's registration, ms.
    pub last_cold_start_ms: Option<u64>,
    /// Last cold start, from Interest arrival to the result Data, ms.
    pub last_cold_start_to_result_ms: Option<u64>,
    /// Instances that exited on their own.
    pub crashes: u64,
    /// Instances restarted after a crash.
    pub restarts: u64,
    /// Instances stopped for idleness.
    pub idle_stops: u64,
    /// Instances started because the others were busy.
    pub scale_outs: u64,
    /// Interests sent to the instances (their faces' out-Interests).
    pub requests: u64,
    /// Data the instances answered with (their faces' in-Data; error Data included).
    pub answers: u64,
    /// Nacks the instances answered with.
    pub nacks: u64,
    /// Interests held by the placeholder during cold starts.
    pub held: u64,
    /// Held Interests that could not be answered (start failed or no result).
    pub held_failed: u64,
    /// Error Data the running instances produced (sum of their runtimes' `errors`).
    pub errors: u64,
    /// Median computation latency, ms: the running instances' medians weighted by their
    /// computations (`None` before any).
    pub latency_p50_ms: Option<f64>,
    /// Worst 99th percentile among the running instances, ms.
    pub latency_p99_ms: Option<f64>,
    /// Each running instance's own counters, as its `F/32=instance/<id>/32=stats` dataset
    /// reports them (instances that did not answer within 500 ms are missing).
    pub runtime: Vec<serde_json::Value>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The name of a command or dataset: `/localhost/nfwd/sf/<verb>`.
#[must_use]
pub fn name_of(verb: &str) -> Name {
    PREFIX
        .parse::<Name>()
        .unwrap_or_default()
        .append_generic(verb.as_bytes())
}

/// A v0.3 signed command Interest `/localhost/nfwd/sf/<verb>` with `params` as
/// ApplicationParameters.
pub fn command_interest(verb: &str, params: Bytes) -> Result<Interest> {
    let signer = Signer::digest_sha256();
    let mut info = signer.signature_info();
    let nonce: u64 = now_ms() ^ u64::from(std::process::id()).rotate_left(40);
    info.nonce = Some(Bytes::copy_from_slice(&nonce.to_be_bytes()));
    info.time = Some(now_ms());
    Ok(InterestBuilder::new(name_of(verb))
        .lifetime_ms(COMMAND_LIFETIME_MS)
        .app_parameters(params)
        .sign(&signer, info)?)
}

/// Sends a command and returns the host's ControlResponse, whatever its status.
pub async fn command(client: &Client, verb: &str, params: Bytes) -> Result<ControlResponse> {
    let data = client.express(command_interest(verb, params)?).await?;
    Ok(ControlResponse::from_wire(data.content())?)
}

/// Fetches a dataset (`list`, `stats`, `logs/...`) and returns its content.
pub async fn dataset(client: &Client, name: &Name) -> Result<Bytes> {
    let opts = FetchOptions {
        must_be_fresh: true,
        max_retries: 1,
        ..FetchOptions::default()
    };
    let (_, content) = client.fetch(name, None, &opts).await?;
    Ok(content)
}

/// `list` through the forwarder.
pub async fn list(client: &Client) -> Result<Vec<SfInfo>> {
    let content = dataset(client, &name_of("list")).await?;
    serde_json::from_slice(&content).map_err(|e| Error::Spec(format!("list dataset: {e}")))
}

/// Parses the JSON of the `list` dataset (as `nfwd sf list --json` prints it).
pub fn parse_list(json: &str) -> Result<Vec<SfInfo>> {
    serde_json::from_str(json).map_err(|e| Error::Spec(format!("list dataset: {e}")))
}

/// Parses the JSON of the `stats` dataset (as `nfwd sf stats --json` prints it).
pub fn parse_stats(json: &str) -> Result<Vec<SfStats>> {
    serde_json::from_str(json).map_err(|e| Error::Spec(format!("stats dataset: {e}")))
}

/// `stats` through the forwarder.
pub async fn stats(client: &Client) -> Result<Vec<SfStats>> {
    let content = dataset(client, &name_of("stats")).await?;
    serde_json::from_slice(&content).map_err(|e| Error::Spec(format!("stats dataset: {e}")))
}

/// `value` as indented JSON (for command-line output).
#[must_use]
pub fn to_json_pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The logs dataset name of instance `index` of SF `name`.
pub fn logs_name(sf: &str, index: u32) -> Result<Name> {
    let f: Name = sf
        .parse()
        .map_err(|e| Error::Spec(format!("name {sf:?}: {e}")))?;
    Ok(name_of("logs")
        .append_generic(f.to_string().as_bytes())
        .append_generic(index.to_string().as_bytes()))
}

/// `logs` through the forwarder.
pub async fn logs(client: &Client, sf: &str, index: u32) -> Result<String> {
    let content = dataset(client, &logs_name(sf, index)?).await?;
    Ok(String::from_utf8_lossy(&content).into_owned())
}

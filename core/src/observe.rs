//! What the forwarder observed, for people and dashboards rather than for forwarding:
//! round-trip latencies of the Interests it sent upstream (forwarder-wide histograms here, one
//! per face in [`super::FaceState`]) and the chained exchanges it finished most recently.
//!
//! Both are recorded as PIT entries end, so their cost is paid once per exchange: a bucket
//! search and a few additions for a latency; for a chained exchange only, a few reference-
//! counted clones and a push into a ring of [`RECENT_CHAINS`]. Names are turned into text
//! only when `status/chains` is asked for.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use nfwd_tlv::lp::NackReason;
use nfwd_tlv::{FunctionChain, Name};
use serde::Serialize;

use super::FaceId;
use crate::metrics::LatencyHistogram;

/// Chained exchanges kept for `status/chains`.
pub const RECENT_CHAINS: usize = 64;

/// How a chained exchange ended here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainOutcome {
    /// A Data answered it.
    Data,
    /// An error Data answered it (ContentType Nack, `docs/protocol.md` §5.3).
    Error,
    /// Every upstream refused: the downstreams got a Nack with this reason.
    Nack(NackReason),
    /// The next hop towards the head function does not understand chaining: the forwarder
    /// answered with an error Data (§4.1).
    ChainUnaware,
    /// The entry expired unanswered.
    Timeout,
}

impl ChainOutcome {
    fn describe(self) -> (&'static str, Option<String>) {
        match self {
            Self::Data => ("data", None),
            Self::Error => ("error", None),
            Self::Nack(r) => ("nack", Some(format!("{r:?}"))),
            Self::ChainUnaware => ("chain-unaware", None),
            Self::Timeout => ("timeout", None),
        }
    }
}

/// One chained exchange that ended here, as recorded (text is made when it is read).
#[derive(Debug, Clone)]
struct ChainRecord {
    wall_ms: u64,
    name: Name,
    chain: FunctionChain,
    downstreams: Vec<FaceId>,
    upstream: Option<FaceId>,
    /// The upstream was a local SF hosting the head function (the function was popped).
    local: bool,
    outcome: ChainOutcome,
    latency: Option<Duration>,
}

/// A chained exchange as `status/chains` reports it (JSON, newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// When it ended, ms since the Unix epoch.
    pub time_ms: u64,
    /// The content name.
    pub name: String,
    /// The function stack it arrived with, head first.
    pub chain: Vec<String>,
    /// The faces that asked.
    pub downstreams: Vec<u64>,
    /// The face that answered (or was tried last), if any.
    pub upstream: Option<u64>,
    /// The head function ran on a local SF (it was popped here).
    pub local: bool,
    /// `data`, `error`, `nack`, `chain-unaware` or `timeout`.
    pub outcome: &'static str,
    /// The Nack reason, for `nack`.
    pub reason: Option<String>,
    /// From the first downstream's Interest to the end, µs (none for a timeout).
    pub latency_us: Option<u64>,
}

/// A chained exchange that just ended, as the pipeline hands it over.
#[derive(Debug)]
pub struct ChainEnd<'a> {
    pub now: Instant,
    pub wall_ms: u64,
    pub entry: &'a super::pit::PitEntry,
    pub upstream: Option<FaceId>,
    pub local: bool,
    pub outcome: ChainOutcome,
}

/// The forwarder's observations.
#[derive(Debug, Default)]
pub struct Observations {
    /// Plain Interests: sent upstream → the Data that satisfied them.
    pub upstream_rtt: LatencyHistogram,
    /// Chained Interests: sent upstream (a local SF or the next forwarder) → their Data.
    pub chain_hop_rtt: LatencyHistogram,
    recent_chains: VecDeque<ChainRecord>,
}

impl Observations {
    /// Counts one upstream round trip.
    pub fn round_trip(&mut self, rtt: Duration, chained: bool) {
        if chained {
            self.chain_hop_rtt.observe(rtt);
        } else {
            self.upstream_rtt.observe(rtt);
        }
    }

    /// Records a chained exchange that ended (the oldest record goes when the ring is full).
    /// A plain entry is ignored.
    pub fn chain_ended(&mut self, end: &ChainEnd<'_>) {
        let Some(chain) = end.entry.interest.function_chain() else {
            return;
        };
        let first_arrival = end.entry.in_records.iter().map(|r| r.last_renewed).min();
        let latency = match end.outcome {
            ChainOutcome::Timeout => None,
            _ => first_arrival.map(|t| end.now.saturating_duration_since(t)),
        };
        if self.recent_chains.len() >= RECENT_CHAINS {
            self.recent_chains.pop_front();
        }
        self.recent_chains.push_back(ChainRecord {
            wall_ms: end.wall_ms,
            name: end.entry.interest.name().clone(),
            chain: chain.clone(),
            downstreams: end.entry.in_records.iter().map(|r| r.face).collect(),
            upstream: end.upstream,
            local: end.local,
            outcome: end.outcome,
            latency,
        });
    }

    /// The recorded chained exchanges, newest first.
    #[must_use]
    pub fn recent_chains(&self) -> Vec<ChainReport> {
        self.recent_chains
            .iter()
            .rev()
            .map(|r| {
                let (outcome, reason) = r.outcome.describe();
                ChainReport {
                    time_ms: r.wall_ms,
                    name: r.name.to_string(),
                    chain: r.chain.names().iter().map(ToString::to_string).collect(),
                    downstreams: r.downstreams.iter().map(|f| f.0).collect(),
                    upstream: r.upstream.map(|f| f.0),
                    local: r.local,
                    outcome,
                    reason,
                    latency_us: r
                        .latency
                        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
                }
            })
            .collect()
    }
}

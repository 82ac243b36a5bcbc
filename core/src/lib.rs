//! The sans-IO forwarding core of nfwd.
//!
//! [`Forwarder`] owns every table and runs NFD's pipelines plus the chaining rules of
//! `docs/protocol.md`. A driver (`nfwd-forwarder`'s tokio driver, or a test) feeds it events —
//! a frame arrived on a face at time `now`, a timer is due, a face came or went — and carries
//! out the [`Action`]s it returns. It never reads a clock, touches a socket or spawns a task,
//! and this crate depends on no runtime, so tests drive it step by step.
//!
//! - [`config`]: the TOML configuration with every default stated (the driver's settings
//!   too, so one file configures a daemon).
//! - [`metrics`]: counters with names and help text, written and read as Prometheus text.

#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod metrics;

pub mod action;
pub mod auth;
pub mod chain_peer;
pub mod cs;
pub mod dispatch;
pub mod dnl;
pub mod face;
pub mod fib;
pub mod keys;
pub mod liveness;
pub mod observe;
pub mod pit;
pub mod replica;
pub mod rib;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod strategy;

mod mgmt;
mod pipeline;
mod self_learning;

pub use action::Action;
pub use error::{Error, Result};
pub use face::{
    ChannelId, CongestionMarking, FaceCounters, FaceId, FaceInfo, FaceScope, Frame, LinkType,
    PeerCredentials, Persistency,
};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use nfwd_tlv::lp::{Reassembler, ReassemblerConfig};
use nfwd_tlv::{Name, NameHasher};
use smallvec::SmallVec;

use crate::config::Config;
use chain_peer::{ChainPeer, PeerTick};
use cs::ContentStore;
use dnl::DeadNonceList;
use fib::Fib;
use liveness::{Liveness, LivenessConfig, Tick};
use pit::{EntryId, Pit};
use rib::{Rib, Route};
use strategy::{Strategy, StrategyTable};

crate::metrics::counters! {
/// Forwarder-wide counters (NFD's ForwarderStatus plus drops by reason).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwarderCounters {
    /// Interests received.
    pub in_interests: u64,
    /// Data received.
    pub in_data: u64,
    /// Nacks received.
    pub in_nacks: u64,
    /// Interests sent.
    pub out_interests: u64,
    /// Data sent.
    pub out_data: u64,
    /// Nacks sent.
    pub out_nacks: u64,
    /// PIT entries satisfied.
    pub satisfied_interests: u64,
    /// PIT entries expired unsatisfied.
    pub unsatisfied_interests: u64,
    /// Frames that could not be decoded.
    pub malformed: u64,
    /// Interests refused because the PIT was full.
    pub pit_full: u64,
    /// Chained Interests over the stack limit.
    pub chain_too_long: u64,
    /// Data matching no PIT entry.
    pub unsolicited_data: u64,
    /// Interests that looped.
    pub loops: u64,
    /// Interests answered with Nack NoRoute.
    pub no_route: u64,
    /// Retransmissions suppressed.
    pub suppressed: u64,
    /// Functions popped (chained Interests handed to a local SF).
    pub functions_popped: u64,
    /// Packets dropped by scope rules (`/localhost` in the Name or ForwardingHint on a
    /// non-local face, management namespaces in a ForwardingHint).
    pub scope_violations: u64,
    /// Management requests refused for want of a privilege (including restricted faces
    /// reaching beyond their prefix).
    pub unauthorized: u64,
    /// Management requests whose signature did not verify.
    pub bad_signatures: u64,
    /// Signed commands refused as replays (timestamp not after the signer's last one, or far
    /// from the wall clock).
    pub replayed_commands: u64,
    /// Interests refused because their face held its PIT quota.
    pub pit_quota: u64,
    /// Data that matched a PIT entry but came from a face the Interest was not forwarded to.
    pub data_from_wrong_face: u64,
    /// Faces declared down by liveness (`docs/protocol.md` §8).
    pub faces_down: u64,
    /// PIT entries whose only pending upstream closed or went down (then retried elsewhere
    /// or answered with a Nack at once).
    pub upstreams_lost: u64,
    /// Interests retried on another next hop after a Nack or a lost upstream.
    pub retried_elsewhere: u64,
    /// Chain hellos sent to neighbour forwarders (`docs/protocol.md` §4.1).
    pub chain_hellos: u64,
    /// Neighbours found not to understand function chaining (silent to the hello).
    pub chain_unaware_neighbours: u64,
    /// Chained Interests answered with an error Data because every next hop for their head
    /// function was a neighbour that does not understand chaining.
    pub chained_to_unaware: u64,
    /// Self-learning: discovery Interests broadcast for want of a route.
    pub sl_discoveries: u64,
    /// Self-learning: Data sent towards a discovering consumer with a prefix announcement
    /// from this forwarder's RIB.
    pub sl_announcements_attached: u64,
    /// Self-learning: Data that needed a prefix announcement and found no RIB entry (sent
    /// without one).
    pub sl_no_announcement: u64,
    /// Self-learning: routes learned (or renewed) from prefix announcements.
    pub sl_routes_learned: u64,
    /// Self-learning: prefix announcements refused (malformed, bad digest, expired, not
    /// covering the Data, `/localhost` from a non-local face).
    pub sl_announcements_refused: u64,
    /// Self-learning: announcements not learned because the learned-route table was full.
    pub sl_routes_full: u64,
    /// Self-learning: learned routes removed after Nack NoRoute through them.
    pub sl_routes_withdrawn: u64,
    /// Packets dropped for a NonDiscovery or PrefixAnnouncement field where NFD drops them
    /// (NonDiscovery on a Data or Nack, PrefixAnnouncement on an Interest or Nack).
    pub sl_fields_dropped: u64,
}
}

/// A face as the core tracks it.
#[derive(Debug)]
pub struct FaceState {
    /// What the driver said about it.
    pub info: FaceInfo,
    /// Its counters.
    pub counters: FaceCounters,
    /// Last time a frame arrived.
    pub last_activity: Instant,
    /// NFD's LocalFieldsEnabled: IncomingFaceId out, NextHopFaceId in.
    pub local_fields: bool,
    /// Congestion marking settings (the driver applies them).
    pub congestion: CongestionMarking,
    reassembler: Option<Reassembler<()>>,
    next_sequence: u64,
    /// PIT entries this face is a downstream of (its in-records): what its quota counts.
    pit_in_records: usize,
    /// Ids of those entries, so closing the face touches only them. May hold ids of entries
    /// gone since; compacted when it grows to twice `pit_in_records`.
    pit_entry_ids: Vec<EntryId>,
    /// Ids of PIT entries the face is an upstream of (out-records), so that closing it or
    /// declaring it down retries or Nacks only those. May hold ids of entries gone since;
    /// compacted when it reaches `pit_out_compact_at`.
    pit_out_ids: Vec<EntryId>,
    pit_out_compact_at: usize,
    /// Link liveness (`liveness.rs`).
    liveness: Liveness,
    /// Whether the peer understands function chaining (`chain_peer.rs`).
    chain_peer: ChainPeer,
    /// Interests sent on it → the Data it returned (for an SF's face: the function's
    /// latency as the forwarder sees it).
    pub rtt: metrics::LatencyHistogram,
}

impl FaceState {
    /// PIT entries the face is a downstream of.
    #[must_use]
    pub fn pit_entries(&self) -> usize {
        self.pit_in_records
    }

    /// True if liveness declared the face down: strategies skip it until it is heard again.
    #[must_use]
    pub fn is_down(&self) -> bool {
        self.liveness.down
    }

    /// True if the peer answers liveness probes.
    #[must_use]
    pub fn is_liveness_capable(&self) -> bool {
        self.liveness.capable
    }

    /// Whether the peer understands function chaining, as far as known.
    #[must_use]
    pub fn chain_awareness(&self) -> chain_peer::Awareness {
        self.chain_peer.awareness()
    }
}

/// Fewest ids a face's out-record list holds before it is compacted.
const OUT_IDS_COMPACT_MIN: usize = 64;

/// Accounts a new out-record of `face` (whose state is `state`) on entry `id` (see
/// `FaceState::pit_out_ids`).
fn note_out_record(state: &mut FaceState, pit: &Pit, face: FaceId, id: EntryId) {
    state.pit_out_ids.push(id);
    if state.pit_out_ids.len() >= state.pit_out_compact_at {
        // No live count to compare with (it would cost a face lookup per entry removed):
        // compact, then wait until the list doubles. Amortized O(1) per push.
        state.pit_out_ids.retain(|&e| {
            pit.get(e)
                .is_some_and(|e| e.out_records.iter().any(|r| r.face == face))
        });
        state.pit_out_compact_at = (2 * state.pit_out_ids.len()).max(OUT_IDS_COMPACT_MIN);
    }
}

/// Once a face's burst is over (a flood's entries expired), drops the ids of entries gone
/// and gives back the lists' memory: they only compact as they grow.
fn release_stale_ids(state: &mut FaceState, pit: &Pit, face: FaceId) {
    if state.pit_entry_ids.len() > 2 * state.pit_in_records + 64 {
        state.pit_entry_ids.retain(|&e| {
            pit.get(e)
                .is_some_and(|e| e.in_records.iter().any(|r| r.face == face))
        });
    }
    if state.pit_out_ids.capacity() > 4 * OUT_IDS_COMPACT_MIN && pit.len() < state.pit_out_ids.len()
    {
        state.pit_out_ids.retain(|&e| {
            pit.get(e)
                .is_some_and(|e| e.out_records.iter().any(|r| r.face == face))
        });
        state.pit_out_compact_at = (2 * state.pit_out_ids.len()).max(OUT_IDS_COMPACT_MIN);
    }
    for ids in [&mut state.pit_entry_ids, &mut state.pit_out_ids] {
        if ids.capacity() > 4 * ids.len() + 64 {
            ids.shrink_to(2 * ids.len());
        }
    }
}

/// True for a face towards a network address (not a Unix socket or descriptor): the faces
/// link liveness may watch.
fn is_network_face(info: &FaceInfo) -> bool {
    ["udp", "tcp", "quic"]
        .iter()
        .any(|s| info.remote_uri.starts_with(s))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    PitExpiry(u64),
    /// A strategy's retry timer on a PIT entry (`Decision::retry_after`).
    StrategyRetry(u64),
    Housekeeping,
    Liveness,
    /// Chain hellos and verdicts while some face's awareness is unknown.
    ChainPeers,
}

/// How often housekeeping runs (dead nonces, reassembly, route expiry).
const HOUSEKEEPING: Duration = Duration::from_millis(500);

/// Reassembly bounds of one datagram face: a packet may not exceed NDN's 8800 bytes, and a
/// peer holds at most this many partial packets and bytes (every UDP peer has its own face).
fn face_reassembler() -> ReassemblerConfig {
    ReassemblerConfig {
        max_packet_size: nfwd_tlv::lp::MAX_NDN_PACKET_SIZE,
        max_partial_packets: 32,
        max_buffered_bytes: 256 * 1024,
        ..ReassemblerConfig::default()
    }
}

/// Most restricted channels open at once.
const MAX_CHANNELS: usize = 4096;

/// A restricted channel (`channels/open`).
#[derive(Debug)]
struct Channel {
    /// The face that opened it; the channel closes with it.
    owner: FaceId,
    /// Socket path, as the command's Uri gave it.
    uri: String,
    /// The one prefix its faces may register.
    prefix: Name,
    /// The command waiting for the driver's report, if any.
    pending: Option<mgmt::PendingReply>,
}

/// The forwarding core.
#[derive(Debug)]
pub struct Forwarder {
    hasher: NameHasher,
    faces: BTreeMap<FaceId, FaceState>,
    next_face_id: u64,
    fib: Fib,
    rib: Rib,
    pit: Pit,
    cs: ContentStore,
    dnl: DeadNonceList,
    strategies: StrategyTable,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    /// Heap size beyond which stale PIT timers are swept (three times the PIT bound, at least
    /// 1024: a live entry holds its expiry timer and at most one strategy retry timer).
    timer_bound: usize,
    counters: ForwarderCounters,
    max_chain: usize,
    max_lifetime_ms: u64,
    pit_quota: usize,
    admit_unsolicited: bool,
    /// The core's seedable source of random numbers ([`Forwarder::with_seed`]), Nonces
    /// included.
    random: SplitMix64,
    started: Instant,
    mgmt: mgmt::MgmtState,
    auth: auth::Authorizer,
    channels: BTreeMap<ChannelId, Channel>,
    next_channel: u64,
    driver_counters: Vec<metrics::Counter>,
    /// Link liveness settings; `None` when disabled.
    liveness: Option<LivenessConfig>,
    /// Faces liveness looks at (made by us, or whose peer speaks liveness).
    watched: std::collections::BTreeSet<FaceId>,
    /// Silence after which a neighbour is taken as not chain-aware; `None`: hello off.
    chain_timeout: Option<Duration>,
    /// Faces whose chain awareness is still unknown (a `Timer::ChainPeers` runs while any).
    chain_waiting: std::collections::BTreeSet<FaceId>,
    /// A `Timer::ChainPeers` is in the heap. Not derivable from `chain_waiting`: the set can
    /// empty (faces closed) and fill again before the pending timer fires, and a second timer
    /// then would start a second chain of ticks, one more each time that happens.
    chain_timer_armed: bool,
    /// The CongestionMark of the Interest (or Nack) being forwarded, while the pipeline
    /// forwards it: the Interests (Nacks) it sends carry it on, as NFD's packet tags do.
    /// Set and cleared around that one call; Data carry theirs as an argument.
    carried_mark: CarriedMark,
    /// Latencies and recent chained exchanges, for `status/counters` and `status/chains`.
    observed: observe::Observations,
    /// Routes learned by self-learning, beside the RIB (`self_learning.rs`).
    sl: self_learning::SelfLearningState,
    /// Which shard this is and the changes to the shared state it made (`replica.rs`).
    replica: replica::Replication,
}

/// A CongestionMark on its way through the pipeline (`Forwarder::carried_mark`).
#[derive(Debug, Clone, Copy, Default)]
struct CarriedMark {
    interest: Option<u64>,
    nack: Option<u64>,
}

/// SplitMix64: a fast 64-bit generator, seedable, for the core's random choices (none of
/// which needs to be cryptographic: Nonces only have to avoid accidental collisions).
/// The simulator (`sim.rs`) draws its links' losses and its applications' Nonces from it too.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Forwarder {
    /// A forwarder with `config`'s table bounds, chain limit and strategies. Routes and faces of
    /// the configuration are the driver's to create (they need sockets).
    #[must_use]
    pub fn new(config: &Config, now: Instant) -> Self {
        Self::with_seed(config, now, rand::random())
    }

    /// [`Self::new`] with every random choice of the core — Nonces it draws, liveness
    /// probe ids, the random strategy's picks — drawn from `seed`: the same inputs then give
    /// the same outputs, run after run (deterministic tests, simulations). The tables' hash
    /// keys stay random (they decide no forwarding, and a fixed key would invite HashDoS).
    #[must_use]
    pub fn with_seed(config: &Config, now: Instant, seed: u64) -> Self {
        Self::sharded(config, now, seed, replica::Shard::SOLE)
    }

    /// Shard `shard` of a sharded forwarder (`replica.rs`): its PIT and content store hold
    /// their part of the configured bounds, its PIT tokens name it, and it records the
    /// changes to the shared state it makes for the driver to apply on the other shards. A
    /// follower (not shard 0) leaves the link protocols to the leader: it neither probes nor
    /// says chain hello, and learns of faces from the leader's changes.
    #[must_use]
    pub fn sharded(config: &Config, now: Instant, seed: u64, shard: replica::Shard) -> Self {
        let mut random = SplitMix64(seed);
        let hasher = NameHasher::new();
        let t = &config.tables;
        let mut strategies = StrategyTable::new(hasher.clone());
        // `Config::validate` refuses unknown strategies; a config that skipped it loses them.
        for s in &config.strategies {
            if let (Ok(prefix), Ok(name)) = (s.prefix.parse::<Name>(), s.strategy.parse::<Name>())
                && let Ok(mut strategy) = strategy::create(&name)
            {
                strategy.reseed(random.next());
                strategies.set(&prefix, strategy);
            }
        }
        let liveness = config.faces.liveness();
        let mut fwd = Self {
            fib: Fib::new(hasher.clone()),
            rib: Rib::default(),
            pit: Pit::with_shard(shard.part_of(t.pit_max_entries), shard.index()),
            cs: ContentStore::new(shard.part_of(t.cs_max_entries)),
            dnl: DeadNonceList::new(
                Duration::from_millis(t.dead_nonce_lifetime_ms),
                t.dead_nonce_max_entries,
            ),
            strategies,
            hasher,
            faces: BTreeMap::new(),
            next_face_id: FaceId::FIRST_DYNAMIC,
            timers: BinaryHeap::new(),
            timer_bound: shard.part_of(t.pit_max_entries).saturating_mul(3).max(1024),
            counters: ForwarderCounters::default(),
            max_chain: config.chain.max_functions,
            max_lifetime_ms: t.max_interest_lifetime_ms,
            pit_quota: shard.part_of(t.pit_max_entries_per_face),
            admit_unsolicited: t.cs_admit_unsolicited,
            random,
            started: now,
            mgmt: mgmt::MgmtState::default(),
            auth: auth::Authorizer::default(),
            channels: BTreeMap::new(),
            next_channel: 1,
            driver_counters: Vec::new(),
            carried_mark: CarriedMark::default(),
            sl: self_learning::SelfLearningState::default(),
            liveness,
            watched: std::collections::BTreeSet::new(),
            chain_timeout: (config.chain.neighbour_timeout_ms > 0)
                .then(|| Duration::from_millis(config.chain.neighbour_timeout_ms)),
            chain_waiting: std::collections::BTreeSet::new(),
            chain_timer_armed: false,
            observed: observe::Observations::default(),
            replica: replica::Replication::new(shard),
        };
        fwd.timers
            .push(Reverse((now + HOUSEKEEPING, Timer::Housekeeping)));
        if let Some(l) = liveness {
            fwd.timers.push(Reverse((now + l.tick(), Timer::Liveness)));
        }
        fwd
    }

    /// Registers a face the driver opened; returns its id (never reused).
    pub fn add_face(&mut self, info: FaceInfo, now: Instant) -> FaceId {
        let id = FaceId(self.next_face_id);
        self.next_face_id += 1;
        self.replica.record(|| replica::Change::FaceAdded {
            face: id,
            info: info.clone(),
        });
        self.insert_face(id, info, now);
        id
    }

    /// The face's state from the start, on the leader or (`FaceAdded`) a follower.
    fn insert_face(&mut self, id: FaceId, info: FaceInfo, now: Instant) {
        let reassembler = info
            .mtu
            .is_some()
            .then(|| Reassembler::new(face_reassembler()));
        // Faces we made towards network addresses lead to other forwarders: watched from the
        // start. Faces peers made are watched once the peer shows it speaks liveness. A
        // follower watches every network face, only to tell the leader of long silences.
        let leader = self.replica.shard.is_leader();
        let network = is_network_face(&info);
        let liveness = if self.liveness.is_some()
            && network
            && (info.persistency != Persistency::OnDemand || !leader)
        {
            self.watched.insert(id);
            Liveness::made(self.random.next() >> 1)
        } else {
            Liveness::default()
        };
        let chain_peer = self.chain_peer_of(&info, now);
        if leader && chain_peer.awareness() == chain_peer::Awareness::Unknown {
            self.watch_chain_peer(id, now);
        }
        self.faces.insert(
            id,
            FaceState {
                info,
                counters: FaceCounters::default(),
                last_activity: now,
                local_fields: false,
                congestion: CongestionMarking::default(),
                reassembler,
                next_sequence: 0,
                pit_in_records: 0,
                pit_entry_ids: Vec::new(),
                pit_out_ids: Vec::new(),
                pit_out_compact_at: OUT_IDS_COMPACT_MIN,
                liveness,
                chain_peer,
                rtt: metrics::LatencyHistogram::default(),
            },
        );
    }

    /// Replaces the authorization policy (`docs/security.md`). The daemon sets the configured
    /// one at start; until then only root may manage.
    pub fn set_policy(&mut self, policy: auth::Policy) {
        self.auth = auth::Authorizer::new(policy);
    }

    /// The driver's counters, shown by `status/counters` (the engine reports them
    /// periodically, so they may be a moment old).
    pub fn set_driver_counters(&mut self, counters: &[metrics::Counter]) {
        self.driver_counters.clear();
        self.driver_counters.extend_from_slice(counters);
    }

    /// The driver reports that `face` is gone: its routes, its channels and its PIT in-records
    /// are removed, and every entry that was waiting for it alone upstream is retried on
    /// another next hop or answered with a Nack at once (`docs/protocol.md` §8). Only the
    /// entries the face is a downstream or an upstream of are visited, so the cost is
    /// proportional to them, not to the PIT.
    pub fn face_closed(&mut self, face: FaceId, now: Instant, out: &mut Vec<Action>) {
        if self.faces.contains_key(&face) {
            self.replica.record(|| replica::Change::FaceClosed { face });
        }
        self.forget_face(face, now, out);
    }

    /// [`Self::face_closed`] on this shard alone.
    fn forget_face(&mut self, face: FaceId, now: Instant, out: &mut Vec<Action>) {
        let Some(state) = self.faces.remove(&face) else {
            return;
        };
        self.watched.remove(&face);
        self.chain_waiting.remove(&face);
        self.fib.remove_face(face);
        self.rib.remove_face(face);
        for id in state.pit_entry_ids {
            let Some(e) = self.pit.get_mut(id) else {
                continue;
            };
            e.in_records.retain(|r| r.face != face);
            if e.in_records.is_empty() {
                self.pit.discard(id);
            }
        }
        self.upstream_gone(now, face, &state.pit_out_ids, false, out);
        self.close_channels_of(face);
    }

    /// How a new face starts out (`chain_peer.rs`): we ask the forwarders we made faces to;
    /// a non-local peer that made the face should say hello; applications are not asked.
    fn chain_peer_of(&self, info: &FaceInfo, now: Instant) -> ChainPeer {
        if self.chain_timeout.is_none() || !is_network_face(info) {
            ChainPeer::aware(now)
        } else if info.persistency != Persistency::OnDemand {
            ChainPeer::asking(now)
        } else if info.scope == FaceScope::NonLocal {
            ChainPeer::listening(now)
        } else {
            ChainPeer::aware(now)
        }
    }

    /// Hellos to the faces whose chain awareness is unknown, and verdicts on the silent ones:
    /// the chained Interests waiting on an unaware one are retried elsewhere or answered with
    /// an error at once.
    fn chain_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.chain_timer_armed = false;
        let Some(timeout) = self.chain_timeout else {
            return;
        };
        let mut unaware: SmallVec<[FaceId; 4]> = SmallVec::new();
        let faces = &mut self.faces;
        let counters = &mut self.counters;
        self.chain_waiting.retain(|&face| {
            let Some(state) = faces.get_mut(&face) else {
                return false;
            };
            match state.chain_peer.tick(now, timeout) {
                PeerTick::Settled => false,
                PeerTick::Waiting => true,
                PeerTick::Hello => {
                    let frame = chain_peer::frame(chain_peer::HELLO);
                    counters.chain_hellos += 1;
                    state.counters.out_bytes += frame.len() as u64;
                    out.push(Action::Send { face, frame });
                    true
                }
                PeerTick::Unaware => {
                    unaware.push(face);
                    false
                }
            }
        });
        for face in unaware {
            self.counters.chain_unaware_neighbours += 1;
            self.replica.record(|| replica::Change::ChainAwareness {
                face,
                awareness: chain_peer::Awareness::Unaware,
            });
            let Some(state) = self.faces.get_mut(&face) else {
                continue;
            };
            // Faces the peer made are often applications (or a flood of UDP sources): one log
            // line each at info level would let any peer fill the log.
            if state.info.persistency == Persistency::OnDemand {
                tracing::debug!(face = %face, remote = %state.info.remote_uri,
                    "the peer never said chain hello: chained Interests will not be sent to it");
            } else {
                tracing::info!(face = %face, remote = %state.info.remote_uri,
                    "the neighbour does not understand function chaining (no answer to the chain hello): chained Interests will not be sent to it");
            }
            self.upstream_unusable(now, face, true, out);
        }
        if !self.chain_waiting.is_empty() {
            let step =
                (timeout / (2 * u32::from(chain_peer::HELLOS))).max(Duration::from_millis(10));
            self.timers.push(Reverse((now + step, Timer::ChainPeers)));
            self.chain_timer_armed = true;
        }
    }

    /// Puts `face` among those the chain timer looks at (its awareness is unknown).
    fn watch_chain_peer(&mut self, face: FaceId, now: Instant) {
        if !self.chain_timer_armed {
            self.chain_timer_armed = true;
            self.timers.push(Reverse((now, Timer::ChainPeers)));
        }
        self.chain_waiting.insert(face);
    }

    /// Runs liveness over the watched faces: probes, and faces going down.
    fn liveness_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(cfg) = self.liveness else {
            return;
        };
        if !self.replica.shard.is_leader() {
            return self.report_silences(now, &cfg);
        }
        let mut down: SmallVec<[FaceId; 4]> = SmallVec::new();
        for &face in &self.watched {
            let Some(state) = self.faces.get_mut(&face) else {
                continue;
            };
            match state.liveness.tick(now, &cfg) {
                Tick::Nothing => {}
                Tick::Probe(seq) => {
                    let frame = liveness::probe_frame(seq);
                    state.counters.liveness_probes += 1;
                    state.counters.out_bytes += frame.len() as u64;
                    out.push(Action::Send { face, frame });
                }
                Tick::Down => down.push(face),
            }
        }
        for face in down {
            self.face_down(now, face, out);
        }
    }

    /// Liveness declared `face` down: an on-demand face is closed (the driver reports it
    /// closed, which retries or Nacks its pending entries); another is kept, skipped by
    /// strategies until heard again, and its pending entries are retried or Nacked now.
    fn face_down(&mut self, now: Instant, face: FaceId, out: &mut Vec<Action>) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        self.counters.faces_down += 1;
        state.counters.liveness_down += 1;
        self.replica
            .record(|| replica::Change::FaceDown { face, down: true });
        tracing::debug!(face = %face, remote = %state.info.remote_uri, "face down: no answer to liveness probes");
        if state.info.persistency == Persistency::OnDemand {
            out.push(Action::CloseFace { face });
            return;
        }
        self.upstream_unusable(now, face, false, out);
    }

    /// `face` is down (or, `chained_only`, not chain-aware): the PIT entries that wait for it
    /// upstream (chained ones only, if so) are retried elsewhere or answered at once.
    pub(crate) fn upstream_unusable(
        &mut self,
        now: Instant,
        face: FaceId,
        chained_only: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        let ids = std::mem::take(&mut state.pit_out_ids);
        self.upstream_gone(now, face, &ids, chained_only, out);
        if let Some(state) = self.faces.get_mut(&face) {
            state.pit_out_ids = ids;
        }
    }

    /// Accounts a new in-record of `face` on entry `id`.
    pub(crate) fn note_in_record(&mut self, face: FaceId, id: EntryId) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        state.pit_in_records += 1;
        state.pit_entry_ids.push(id);
        if state.pit_entry_ids.len() >= 2 * state.pit_in_records + 64 {
            let pit = &self.pit;
            state.pit_entry_ids.retain(|&e| {
                pit.get(e)
                    .is_some_and(|e| e.in_records.iter().any(|r| r.face == face))
            });
        }
    }

    /// Whether `face` may become a downstream of one more PIT entry: below its quota, and,
    /// once the PIT is half full, holding less than the room still free. Faces flooding
    /// together then settle where each holds about what is left free — with n of them, a
    /// fraction 1/(n+1) of the PIT stays free — so a face that holds little always gets in,
    /// however many faces a flood comes from (UDP source ports are cheap).
    pub(crate) fn pit_admits(&self, face: &FaceState) -> bool {
        let held = face.pit_in_records;
        let (len, max) = (self.pit.len(), self.pit.max_entries());
        held < self.pit_quota && (len < max / 2 || held < max.saturating_sub(len))
    }

    /// Removes entry `id` and releases its downstreams' quota.
    pub(crate) fn remove_entry(&mut self, id: EntryId) -> Option<pit::PitEntry> {
        let entry = self.pit.remove(id)?;
        for r in &entry.in_records {
            if let Some(f) = self.faces.get_mut(&r.face) {
                f.pit_in_records = f.pit_in_records.saturating_sub(1);
            }
        }
        Some(entry)
    }

    /// Installs a route (origin static) as configuration does: towards another forwarder,
    /// so a function routed this way is forwarded, not popped.
    pub fn add_route(&mut self, prefix: &Name, face: FaceId, cost: u64) {
        self.add_route_with(
            prefix,
            Route {
                face,
                origin: 255,
                cost,
                flags: 1,
                expires: None,
                hosted: false,
            },
        );
    }

    pub(crate) fn add_route_with(&mut self, prefix: &Name, route: Route) {
        let face = route.face;
        let attrs = self.rib.add(prefix, route);
        self.set_next_hop(prefix, face, Some(attrs));
    }

    /// Puts a next hop in the FIB (`Some((cost, hosted))`) or takes it out (`None`), on
    /// every shard.
    pub(crate) fn set_next_hop(&mut self, prefix: &Name, face: FaceId, attrs: Option<(u64, bool)>) {
        self.fib.set_next_hop(prefix, face, attrs);
        self.replica.record(|| replica::Change::NextHop {
            prefix: prefix.clone(),
            face,
            attrs,
        });
    }

    /// The face whose remote URI is `uri`, if one is open.
    #[must_use]
    pub fn face_id_by_uri(&self, uri: &str) -> Option<FaceId> {
        self.faces
            .iter()
            .find(|(_, f)| f.info.remote_uri == uri)
            .map(|(id, _)| *id)
    }

    /// The faces.
    pub fn faces(&self) -> impl Iterator<Item = (FaceId, &FaceState)> {
        self.faces.iter().map(|(id, f)| (*id, f))
    }

    /// The FIB.
    #[must_use]
    pub fn fib(&self) -> &Fib {
        &self.fib
    }

    /// The RIB.
    #[must_use]
    pub fn rib(&self) -> &Rib {
        &self.rib
    }

    /// The PIT.
    #[must_use]
    pub fn pit(&self) -> &Pit {
        &self.pit
    }

    /// The content store.
    #[must_use]
    pub fn cs(&self) -> &ContentStore {
        &self.cs
    }

    /// The strategy choices.
    #[must_use]
    pub fn strategies(&self) -> &StrategyTable {
        &self.strategies
    }

    /// Sets the strategy for `prefix` (a new instance, e.g. from [`strategy::create`]).
    pub fn set_strategy(&mut self, prefix: &Name, strategy: Box<dyn Strategy>) {
        let instance = strategy.name();
        self.replica.record(|| replica::Change::Strategy {
            prefix: prefix.clone(),
            instance: Some(instance),
        });
        self.strategies.set(prefix, strategy);
    }

    /// Forwarder-wide counters.
    #[must_use]
    pub fn counters(&self) -> ForwarderCounters {
        self.counters
    }

    /// The driver dropped a frame of `len` bytes it was asked to send on `face`; counted
    /// with the face's other drops.
    pub fn note_driver_drop(&mut self, face: FaceId, len: usize) {
        if let Some(f) = self.faces.get_mut(&face) {
            f.counters.drop_queue_full += 1;
            f.counters.out_bytes = f.counters.out_bytes.saturating_sub(len as u64);
        }
    }

    /// The driver marked a packet it sent on `face` (its queue was congested), which made the
    /// frame `added` bytes longer.
    pub fn note_driver_mark(&mut self, face: FaceId, added: usize) {
        if let Some(f) = self.faces.get_mut(&face) {
            f.counters.congestion_marks += 1;
            f.counters.out_bytes += added as u64;
        }
    }

    /// The dead nonce list's size.
    #[must_use]
    pub fn dead_nonces(&self) -> usize {
        self.dnl.len()
    }

    /// When the forwarder started (as passed to `new`).
    #[must_use]
    pub fn started(&self) -> Instant {
        self.started
    }

    /// A link frame arrived on `face`. It is copied into a [`Frame`] first, so `frame` may be
    /// a view of a larger receive buffer; a driver that has a `Frame` already calls
    /// [`Forwarder::receive_frame`] and saves the copy.
    pub fn receive(&mut self, now: Instant, face: FaceId, frame: &[u8], out: &mut Vec<Action>) {
        self.receive_frame(now, face, Frame::copy_from(frame), out);
    }

    /// A link frame arrived on `face`, already in a buffer of its own.
    pub fn receive_frame(
        &mut self,
        now: Instant,
        face: FaceId,
        frame: Frame,
        out: &mut Vec<Action>,
    ) {
        out.append(&mut self.mgmt.deferred);
        self.on_frame(now, face, frame, out);
    }

    /// Outcome of an [`Action::CreateFace`]: the new face's info, or why it failed. Sends the
    /// management reply; returns the new face's id on success.
    pub fn face_created(
        &mut self,
        now: Instant,
        request: u64,
        result: Result<FaceInfo, String>,
        out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        self.mgmt_face_created(now, request, result, out)
    }

    /// The driver's answer to [`Action::CreateFace`] `request` when the face exists already:
    /// `existing` has the remote URI asked for, in canonical form. The command is answered
    /// with NFD's 409 describing that face (its persistency upgraded as NFD does).
    pub fn face_exists(&mut self, request: u64, existing: FaceId, out: &mut Vec<Action>) {
        self.mgmt_face_exists(request, existing, out);
    }

    /// Arms the expiry timer of PIT entry `id`. Timers of entries removed early (satisfied,
    /// rejected) stay in the heap until due; when they outnumber what the PIT can hold twice
    /// over, they are swept, so the heap stays bounded by the PIT's bound whatever the traffic.
    pub(crate) fn schedule_pit_expiry(&mut self, at: Instant, id: EntryId) {
        self.timers
            .push(Reverse((at, Timer::PitExpiry(id.to_u64()))));
        if self.timers.len() > self.timer_bound {
            let pit = &self.pit;
            self.timers.retain(|Reverse((_, t))| match t {
                Timer::PitExpiry(raw) | Timer::StrategyRetry(raw) => {
                    pit.get(EntryId::from_u64(*raw)).is_some()
                }
                Timer::Housekeeping | Timer::Liveness | Timer::ChainPeers => true,
            });
        }
    }

    /// When [`Forwarder::on_timeout`] should next be called.
    #[must_use]
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Runs the timers due at `now` (PIT expiry, idle faces, reassembly, dead nonces, routes).
    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.append(&mut self.mgmt.deferred);
        while let Some(&Reverse((due, timer))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::PitExpiry(id) => self.pit_expired(EntryId::from_u64(id), now),
                Timer::StrategyRetry(id) => self.strategy_retry(now, EntryId::from_u64(id), out),
                Timer::Housekeeping => {
                    self.housekeeping(now, out);
                    self.timers
                        .push(Reverse((now + HOUSEKEEPING, Timer::Housekeeping)));
                }
                Timer::ChainPeers => self.chain_tick(now, out),
                Timer::Liveness => {
                    self.liveness_tick(now, out);
                    if let Some(l) = self.liveness {
                        self.timers.push(Reverse((now + l.tick(), Timer::Liveness)));
                    }
                }
            }
        }
    }

    /// Idle faces are the driver's to close (it knows their links); housekeeping here ages
    /// the tables.
    fn housekeeping(&mut self, now: Instant, _out: &mut Vec<Action>) {
        self.dnl.expire(now);
        self.pit.compact();
        self.strategies.housekeeping(now);
        if self.timers.capacity() > 4 * self.timers.len() + 1024 {
            self.timers.shrink_to(2 * self.timers.len());
        }
        let pit = &self.pit;
        for (&face, f) in &mut self.faces {
            release_stale_ids(f, pit, face);
            if let Some(r) = &mut f.reassembler {
                r.expire(now);
                let dropped = r.stats().timed_out_packets;
                f.counters.drop_reassembly = f.counters.drop_reassembly.max(dropped);
            }
        }
        for (prefix, face, attrs) in self.rib.expire(now) {
            self.set_next_hop(&prefix, face, attrs);
        }
        self.sl_expire(now);
    }

    /// Routes self-learning learned and holds (bounded: `core/self_learning.rs`).
    #[must_use]
    pub fn learned_routes(&self) -> usize {
        self.sl.len()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mgmt_tests;

#[cfg(test)]
mod security_tests;

#[cfg(test)]
mod failover_tests;

#[cfg(test)]
mod self_learning_tests;

#[cfg(test)]
mod replica_tests;

#[cfg(test)]
mod sim_tests;

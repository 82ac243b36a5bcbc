//! The state every shard of a sharded forwarder shares, kept alike by replication
//! (`docs/ARCHITECTURE.md`, "Sharding").
//!
//! With `--threads N`, N `Forwarder`s forward side by side, each owning the PIT entries and
//! cached Data of the names that hash to it (`dispatch.rs`). What decides forwarding beyond
//! one name — faces, the FIB, the strategy choice, a face's liveness and chain awareness,
//! the content store's settings — must read the same on every shard. Shard 0, the leader,
//! runs management and the link protocols and is the one that learns of most changes; any
//! shard may learn a few (a route self-learning found, a neighbour that sent a chained
//! Interest). A shard that changes shared state records a [`Change`]; the driver takes them
//! ([`crate::Forwarder::take_changes`]) and applies them, in order, on every other shard
//! ([`crate::Forwarder::apply`]). The driver speaks to the leader alone about faces (opened,
//! created, closed): the leader's changes carry them to the rest.
//!
//! Replication is by fact, not by command: a change says what the state now is (a next hop
//! with its cost, a face down), so applying one twice, or one that is out of date because a
//! face has gone since, does no harm. A sole forwarder (`Shard::SOLE`) records nothing.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use nfwd_tlv::Name;
use nfwd_tlv::lp::LpPacket;

use crate::chain_peer::Awareness;
use crate::cs::CsCounters;
use crate::dispatch::Dispatcher;
use crate::face::{FaceCounters, FaceId, FaceInfo, Persistency};
use crate::liveness::LivenessConfig;
use crate::{Action, Forwarder, ForwarderCounters, strategy};

/// Which shard a forwarder is, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u8,
    count: u8,
}

impl Shard {
    /// A forwarder on its own: no replication.
    pub const SOLE: Self = Self { index: 0, count: 1 };

    /// Shard `index` of `count`; `None` unless `index < count`.
    #[must_use]
    pub fn new(index: u8, count: u8) -> Option<Self> {
        (index < count).then_some(Self { index, count })
    }

    /// This shard's index (0: the leader).
    #[must_use]
    pub fn index(self) -> u8 {
        self.index
    }

    /// How many shards there are.
    #[must_use]
    pub fn count(self) -> u8 {
        self.count
    }

    /// True for shard 0, which runs management and the link protocols.
    #[must_use]
    pub fn is_leader(self) -> bool {
        self.index == 0
    }

    /// True if there are other shards to keep alike.
    #[must_use]
    pub fn replicates(self) -> bool {
        self.count > 1
    }

    /// This shard's part of a table bound of `total` entries (at least 1 where `total` is).
    #[must_use]
    pub fn part_of(self, total: usize) -> usize {
        total.div_ceil(usize::from(self.count))
    }
}

/// A change to the shared state, as a fact every shard applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The leader registered a face under this id.
    FaceAdded {
        /// Its id, the same on every shard.
        face: FaceId,
        /// What the driver said of it.
        info: FaceInfo,
    },
    /// The face is gone: its routes, PIT records and channels with it.
    FaceClosed {
        /// Which.
        face: FaceId,
    },
    /// Management changed a face's persistency or LocalFieldsEnabled.
    FaceFlags {
        /// Which.
        face: FaceId,
        /// Its persistency now.
        persistency: Persistency,
        /// NFD's LocalFieldsEnabled now.
        local_fields: bool,
    },
    /// A FIB next hop: `Some((cost, hosted))` is there now, `None` is removed.
    NextHop {
        /// The FIB entry's prefix.
        prefix: Name,
        /// The next hop.
        face: FaceId,
        /// Its cost and whether the function is hosted on this node, or `None`: gone.
        attrs: Option<(u64, bool)>,
    },
    /// The strategy choice for `prefix`: the instance name (version and parameters
    /// included), or `None`: unset.
    Strategy {
        /// The prefix.
        prefix: Name,
        /// Which strategy, as `strategy::create` takes it.
        instance: Option<Name>,
    },
    /// Liveness declared the face down (`true`), or it was heard again (`false`).
    FaceDown {
        /// Which.
        face: FaceId,
        /// Down now.
        down: bool,
    },
    /// A shard has been awaiting an answer on the face since `since` (its first Interest
    /// sent after the last frame heard) for a liveness interval: the leader, which probes,
    /// takes it as its own.
    Awaiting {
        /// Which.
        face: FaceId,
        /// Since when.
        since: Instant,
    },
    /// What is known of the neighbour's understanding of function chaining.
    ChainAwareness {
        /// Which.
        face: FaceId,
        /// Known now.
        awareness: Awareness,
    },
    /// A chained Interest skipped a face taken as not chain-aware, on a shard that does not
    /// ask: the leader decides whether to ask again.
    ChainAskAgain {
        /// Which.
        face: FaceId,
    },
    /// The content store's settings (`cs/config`): capacity in entries over all shards,
    /// admitting, serving.
    CsConfig {
        /// Entries over all shards.
        capacity: usize,
        /// Admits Data.
        admit: bool,
        /// Answers Interests.
        serve: bool,
    },
    /// `cs/erase`: at most `limit` entries under `prefix`, on each shard.
    CsErase {
        /// Under which prefix.
        prefix: Name,
        /// At most this many per shard.
        limit: usize,
    },
}

/// A shard's side of replication: which shard it is, and the changes it made that the
/// driver has not taken yet. A field of its own, so the pipeline can record a change while
/// it holds a face's state.
#[derive(Debug)]
pub(crate) struct Replication {
    pub(crate) shard: Shard,
    pub(crate) changes: Vec<Change>,
    /// Which shard owns what, as the face tasks see it (set by the driver when sharded).
    pub(crate) dispatcher: Option<Dispatcher>,
    /// Packets reassembled here that another shard owns, for the driver to hand over.
    pub(crate) handovers: Vec<Handover>,
    /// The followers' latest reports (on the leader), by shard.
    pub(crate) reports: BTreeMap<u8, ShardReport>,
    /// A packet another shard handed over is being received: it is not handed on again.
    pub(crate) handed_over: bool,
}

/// What a follower shard counted, for the leader's status datasets (`status/general`,
/// `faces/list`, `cs/info`, `status/counters`), which sum every shard's. Sent now and then
/// by the driver, so the others' part of a figure may be a moment old.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardReport {
    /// Which shard.
    pub shard: u8,
    /// Its forwarder counters.
    pub counters: ForwarderCounters,
    /// Its content store's counters.
    pub cs: CsCounters,
    /// Its PIT entries.
    pub pit_entries: usize,
    /// Its content store's entries.
    pub cs_entries: usize,
    /// Its dead nonce list's entries.
    pub dead_nonces: usize,
    /// Its counters of each face.
    pub faces: BTreeMap<FaceId, FaceCounters>,
}

/// A packet this shard reassembled from fragments (which reach a shard by sequence number,
/// not by name) that belongs to another shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// The shard that owns it.
    pub shard: u8,
    /// The face it came from.
    pub face: FaceId,
    /// The whole packet, as an LpPacket frame the owner receives as it would a face's.
    pub frame: Bytes,
}

impl Replication {
    pub(crate) fn new(shard: Shard) -> Self {
        Self {
            shard,
            changes: Vec::new(),
            dispatcher: None,
            handovers: Vec::new(),
            reports: BTreeMap::new(),
            handed_over: false,
        }
    }

    /// Records a change for the other shards, if there are any. `change` is only called
    /// then: a sole forwarder pays one branch.
    pub(crate) fn record(&mut self, change: impl FnOnce() -> Change) {
        if self.shard.replicates() {
            self.changes.push(change());
        }
    }

    /// Keeps `packet`, reassembled on `face`, for its owner if that is another shard; gives
    /// it back if it is this shard's.
    pub(crate) fn hand_over(&mut self, face: FaceId, packet: LpPacket) -> Option<LpPacket> {
        let owner = match &self.dispatcher {
            Some(d) if self.shard.replicates() => d.shard_of_packet(&packet),
            _ => return Some(packet),
        };
        if owner == self.shard.index() {
            return Some(packet);
        }
        self.handovers.push(Handover {
            shard: owner,
            face,
            frame: packet.encode(),
        });
        None
    }
}

impl Forwarder {
    /// Which shard this forwarder is.
    #[must_use]
    pub fn shard(&self) -> Shard {
        self.replica.shard
    }

    /// True if changes wait for [`Self::take_changes`].
    #[must_use]
    pub fn has_changes(&self) -> bool {
        !self.replica.changes.is_empty()
    }

    /// Tells a shard how frames are dispatched, so that it hands over the packets it
    /// reassembles for another shard ([`Self::take_handovers`]).
    pub fn set_dispatcher(&mut self, dispatcher: Dispatcher) {
        self.replica.dispatcher = Some(dispatcher);
    }

    /// Receives a packet another shard handed over ([`Self::take_handovers`]), as a frame from
    /// its face; it is not handed on again.
    pub fn receive_handover(&mut self, now: Instant, handover: &Handover, out: &mut Vec<Action>) {
        self.replica.handed_over = true;
        self.receive(now, handover.face, &handover.frame, out);
        self.replica.handed_over = false;
    }

    /// Moves the packets to hand over to other shards to the end of `into`: the driver gives
    /// each to its shard's [`Self::receive_handover`].
    pub fn take_handovers(&mut self, into: &mut Vec<Handover>) {
        into.append(&mut self.replica.handovers);
    }

    /// What this shard counted, for the leader ([`Self::set_shard_report`]).
    #[must_use]
    pub fn shard_report(&self) -> ShardReport {
        ShardReport {
            shard: self.replica.shard.index(),
            counters: self.counters,
            cs: self.cs.counters(),
            pit_entries: self.pit.len(),
            cs_entries: self.cs.len(),
            dead_nonces: self.dnl.len(),
            faces: self.faces.iter().map(|(id, f)| (*id, f.counters)).collect(),
        }
    }

    /// A follower's report: the leader's status datasets add it to its own figures. Reports
    /// from shards that do not exist are ignored.
    pub fn set_shard_report(&mut self, report: ShardReport) {
        let shard = self.replica.shard;
        if shard.is_leader() && report.shard != 0 && report.shard < shard.count() {
            self.replica.reports.insert(report.shard, report);
        }
    }

    /// The forwarder counters of every shard.
    pub(crate) fn all_counters(&self) -> ForwarderCounters {
        let mut c = self.counters;
        for r in self.replica.reports.values() {
            c.add(&r.counters);
        }
        c
    }

    /// The content store counters of every shard.
    pub(crate) fn all_cs_counters(&self) -> CsCounters {
        let mut c = self.cs.counters();
        for r in self.replica.reports.values() {
            c.add(&r.cs);
        }
        c
    }

    /// PIT entries, content store entries and dead nonces of every shard.
    pub(crate) fn all_table_sizes(&self) -> (usize, usize, usize) {
        self.replica.reports.values().fold(
            (self.pit.len(), self.cs.len(), self.dnl.len()),
            |(p, c, d), r| (p + r.pit_entries, c + r.cs_entries, d + r.dead_nonces),
        )
    }

    /// `face`'s counters on every shard, `own` being this shard's.
    pub(crate) fn all_face_counters(&self, face: FaceId, own: &FaceCounters) -> FaceCounters {
        let mut c = *own;
        for r in self.replica.reports.values() {
            if let Some(f) = r.faces.get(&face) {
                c.add(f);
            }
        }
        c
    }

    /// Moves the changes this shard made since the last call to the end of `into`, oldest
    /// first, for the driver to [`Self::apply`] on every other shard in that order.
    pub fn take_changes(&mut self, into: &mut Vec<Change>) {
        into.append(&mut self.replica.changes);
    }

    /// Applies a change another shard made. What it does to this shard's own PIT entries
    /// (retried or Nacked because a face is gone or down) goes to `out`. The change is not
    /// recorded again here; changes it causes (a chain question the leader reopens) are.
    pub fn apply(&mut self, change: &Change, now: Instant, out: &mut Vec<Action>) {
        match change {
            Change::FaceAdded { face, info } => {
                if !self.faces.contains_key(face) {
                    self.next_face_id = self.next_face_id.max(face.0 + 1);
                    self.insert_face(*face, info.clone(), now);
                }
            }
            Change::FaceClosed { face } => self.forget_face(*face, now, out),
            Change::FaceFlags {
                face,
                persistency,
                local_fields,
            } => {
                if let Some(state) = self.faces.get_mut(face) {
                    state.info.persistency = *persistency;
                    state.local_fields = *local_fields;
                }
            }
            Change::NextHop {
                prefix,
                face,
                attrs,
            } => {
                // Only towards faces this shard knows: a change may arrive after the face's
                // closing, and must not bring back a route to it.
                if attrs.is_none() || self.faces.contains_key(face) {
                    self.fib.set_next_hop(prefix, *face, *attrs);
                }
            }
            Change::Strategy { prefix, instance } => match instance {
                Some(instance) => {
                    // The shard that made the change created the same instance.
                    if let Ok(mut strategy) = strategy::create(instance) {
                        strategy.reseed(self.random.next());
                        self.strategies.set(prefix, strategy);
                    }
                }
                None => {
                    self.strategies.unset(prefix);
                }
            },
            Change::FaceDown { face, down } => self.apply_face_down(*face, *down, now, out),
            Change::Awaiting { face, since } => {
                if let Some(state) = self.faces.get_mut(face) {
                    state.liveness.awaiting_from(*since);
                }
            }
            Change::ChainAwareness { face, awareness } => {
                self.apply_awareness(*face, *awareness, now, out);
            }
            Change::ChainAskAgain { face } => {
                if self.replica.shard.is_leader() {
                    let _ = self.ask_chain_peer_again(*face, now, out);
                }
            }
            Change::CsConfig {
                capacity,
                admit,
                serve,
            } => {
                self.cs.set_capacity(self.replica.shard.part_of(*capacity));
                self.cs.admit = *admit;
                self.cs.serve = *serve;
            }
            Change::CsErase { prefix, limit } => {
                self.cs.erase(prefix, *limit);
            }
        }
    }

    fn apply_face_down(&mut self, face: FaceId, down: bool, now: Instant, out: &mut Vec<Action>) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        if state.liveness.down == down {
            return;
        }
        state.liveness.set_down(down);
        // The leader closes an on-demand face that went down; until the driver has closed
        // it, its entries here wait as the leader's do.
        if down && state.info.persistency != Persistency::OnDemand {
            self.upstream_unusable(now, face, false, out);
        }
    }

    fn apply_awareness(
        &mut self,
        face: FaceId,
        awareness: Awareness,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        if !state.chain_peer.set_awareness(awareness, now) || awareness != Awareness::Unaware {
            return;
        }
        // As the leader's verdict does there: chained Interests waiting on the face here are
        // retried elsewhere or answered with an error.
        self.upstream_unusable(now, face, true, out);
    }

    /// A follower's liveness tick: tells the leader of the faces silent for an interval
    /// after this shard sent them an Interest. The leader probes; this shard does not.
    pub(crate) fn report_silences(&mut self, now: Instant, cfg: &LivenessConfig) {
        for &face in &self.watched {
            if let Some(state) = self.faces.get_mut(&face)
                && let Some(since) = state.liveness.silence_to_report(now, cfg.interval)
            {
                self.replica.record(|| Change::Awaiting { face, since });
            }
        }
    }

    /// Management changed a face's persistency or LocalFieldsEnabled: every shard learns.
    pub(crate) fn record_face_flags(&mut self, face: FaceId) {
        if let Some(state) = self.faces.get(&face) {
            let (persistency, local_fields) = (state.info.persistency, state.local_fields);
            self.replica.record(|| Change::FaceFlags {
                face,
                persistency,
                local_fields,
            });
        }
    }

    /// The content store's capacity over all shards.
    pub(crate) fn cs_capacity(&self) -> usize {
        self.cs
            .capacity()
            .saturating_mul(usize::from(self.replica.shard.count()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_within_its_count() {
        assert_eq!(Shard::new(2, 2), None);
        assert_eq!(Shard::new(0, 0), None);
        let s = Shard::new(1, 4).unwrap();
        assert!(!s.is_leader() && s.replicates());
        assert!(!Shard::SOLE.replicates() && Shard::SOLE.is_leader());
    }

    #[test]
    fn each_shard_holds_its_part_of_a_bound() {
        let s = Shard::new(0, 3).unwrap();
        assert_eq!(s.part_of(10), 4);
        assert_eq!(s.part_of(0), 0);
        assert_eq!(Shard::SOLE.part_of(7), 7);
    }
}

//! The sans-IO forwarding core.
//!
//! [`Forwarder`] owns every table and runs NFD's pipelines plus the chaining rules of
//! `docs/protocol.md`. The driver feeds it events — a frame arrived on a face at time `now`, a
//! timer is due, a face came or went — and carries out the [`Action`]s it returns. It never
//! reads a clock, touches a socket or spawns a task, so tests drive it step by step.

pub mod action;
pub mod cs;
pub mod dnl;
pub mod face;
pub mod fib;
pub mod keys;
pub mod pit;
pub mod rib;
pub mod strategy;

mod mgmt;
mod pipeline;

pub use action::Action;
pub use face::{FaceCounters, FaceId, FaceInfo, FaceScope, LinkType, Persistency};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{Reassembler, ReassemblerConfig};
use nfwd_tlv::{Name, NameHasher};

use crate::config::Config;
use cs::ContentStore;
use dnl::DeadNonceList;
use fib::Fib;
use pit::{EntryId, Pit};
use rib::{Rib, Route};
use strategy::{Strategy, StrategyTable};

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
    reassembler: Option<Reassembler<()>>,
    next_sequence: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    PitExpiry(u64),
    Housekeeping,
}

/// How often housekeeping runs (dead nonces, reassembly, idle faces, route expiry).
const HOUSEKEEPING: Duration = Duration::from_millis(500);

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
    /// Heap size beyond which stale PIT timers are swept (twice the PIT bound, at least 1024).
    timer_bound: usize,
    counters: ForwarderCounters,
    max_chain: usize,
    max_lifetime_ms: u64,
    admit_unsolicited: bool,
    idle_timeout: Duration,
    nonce_state: u64,
    started: Instant,
    mgmt: mgmt::MgmtState,
}

impl Forwarder {
    /// A forwarder with `config`'s table bounds, chain limit and strategies. Routes and faces of
    /// the configuration are the driver's to create (they need sockets).
    #[must_use]
    pub fn new(config: &Config, now: Instant) -> Self {
        let hasher = NameHasher::new();
        let t = &config.tables;
        let mut strategies = StrategyTable::new(hasher.clone());
        for s in &config.strategies {
            if let (Ok(prefix), Ok(name)) = (s.prefix.parse::<Name>(), s.strategy.parse::<Name>())
                && let Some(strategy) = Strategy::from_name(&name)
            {
                strategies.set(&prefix, strategy);
            }
        }
        let mut fwd = Self {
            fib: Fib::new(hasher.clone()),
            rib: Rib::default(),
            pit: Pit::new(t.pit_max_entries),
            cs: ContentStore::new(t.cs_max_entries),
            dnl: DeadNonceList::new(
                Duration::from_millis(t.dead_nonce_lifetime_ms),
                t.dead_nonce_max_entries,
            ),
            strategies,
            hasher,
            faces: BTreeMap::new(),
            next_face_id: FaceId::FIRST_DYNAMIC,
            timers: BinaryHeap::new(),
            timer_bound: t.pit_max_entries.saturating_mul(2).max(1024),
            counters: ForwarderCounters::default(),
            max_chain: config.chain.max_functions,
            max_lifetime_ms: t.max_interest_lifetime_ms,
            admit_unsolicited: t.cs_admit_unsolicited,
            idle_timeout: Duration::from_secs(config.faces.idle_timeout_s),
            nonce_state: rand::random::<u64>() | 1,
            started: now,
            mgmt: mgmt::MgmtState::default(),
        };
        fwd.timers
            .push(Reverse((now + HOUSEKEEPING, Timer::Housekeeping)));
        fwd
    }

    /// Registers a face the driver opened; returns its id (never reused).
    pub fn add_face(&mut self, info: FaceInfo, now: Instant) -> FaceId {
        let id = FaceId(self.next_face_id);
        self.next_face_id += 1;
        let reassembler = info
            .mtu
            .is_some()
            .then(|| Reassembler::new(ReassemblerConfig::default()));
        self.faces.insert(
            id,
            FaceState {
                info,
                counters: FaceCounters::default(),
                last_activity: now,
                local_fields: false,
                reassembler,
                next_sequence: 0,
            },
        );
        id
    }

    /// The driver reports that `face` is gone: its routes and PIT records are removed.
    pub fn face_closed(&mut self, face: FaceId, _now: Instant) {
        if self.faces.remove(&face).is_none() {
            return;
        }
        self.fib.remove_face(face);
        self.rib.remove_face(face);
        let ids: Vec<EntryId> = self.pit.ids().collect();
        for id in ids {
            let Some(e) = self.pit.get_mut(id) else {
                continue;
            };
            e.in_records.retain(|r| r.face != face);
            e.out_records.retain(|r| r.face != face);
            if e.in_records.is_empty() {
                self.pit.remove(id);
            }
        }
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
        let (cost, hosted) = self.rib.add(prefix, route);
        self.fib.add_next_hop(prefix, face, cost, hosted);
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

    /// Sets the strategy for `prefix`.
    pub fn set_strategy(&mut self, prefix: &Name, strategy: Strategy) {
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

    /// A link frame arrived on `face`.
    pub fn receive(&mut self, now: Instant, face: FaceId, frame: Bytes, out: &mut Vec<Action>) {
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

    /// Arms the expiry timer of PIT entry `id`. Timers of entries removed early (satisfied,
    /// rejected) stay in the heap until due; when they outnumber what the PIT can hold twice
    /// over, they are swept, so the heap stays bounded by the PIT's bound whatever the traffic.
    pub(crate) fn schedule_pit_expiry(&mut self, at: Instant, id: EntryId) {
        self.timers
            .push(Reverse((at, Timer::PitExpiry(id.to_u64()))));
        if self.timers.len() > self.timer_bound {
            let pit = &self.pit;
            self.timers.retain(|Reverse((_, t))| match t {
                Timer::PitExpiry(raw) => pit.get(EntryId::from_u64(*raw)).is_some(),
                Timer::Housekeeping => true,
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
        while let Some(&Reverse((due, timer))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::PitExpiry(id) => self.pit_expired(EntryId::from_u64(id), now),
                Timer::Housekeeping => {
                    self.housekeeping(now, out);
                    self.timers
                        .push(Reverse((now + HOUSEKEEPING, Timer::Housekeeping)));
                }
            }
        }
    }

    fn housekeeping(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.dnl.expire(now);
        for (id, f) in &mut self.faces {
            if let Some(r) = &mut f.reassembler {
                r.expire(now);
                let dropped = r.stats().timed_out_packets;
                f.counters.drop_reassembly = f.counters.drop_reassembly.max(dropped);
            }
            // Only datagram faces idle out: a stream face lives as long as its connection (an
            // application that registered a prefix may stay silent for hours).
            if f.info.persistency == Persistency::OnDemand
                && f.info.mtu.is_some()
                && now.saturating_duration_since(f.last_activity) >= self.idle_timeout
            {
                out.push(Action::CloseFace { face: *id });
            }
        }
        for (prefix, face, cost) in self.rib.expire(now) {
            match cost {
                Some((cost, hosted)) => self.fib.add_next_hop(&prefix, face, cost, hosted),
                None => {
                    self.fib.remove_next_hop(&prefix, face);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mgmt_tests;

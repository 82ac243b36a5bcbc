//! asf: adaptive forwarding in the spirit of NFD's ASF strategy (`asf/v=5`).
//!
//! **Measurements**, per FIB prefix (keyed by the prefix's keyed hash, which the pipeline
//! already has) and next hop: a smoothed RTT from Data returns (RFC 6298's SRTT), and a count
//! of failures since the last Data — a timeout counts 1, a Nack, or the face closing or going
//! down, counts `max-timeouts` at once (an explicit or certain failure, not a possible loss).
//!
//! **Ranking** (NFD's order): next hops with an SRTT and fewer than `max-timeouts` failures,
//! fastest first; then unmeasured ones; then failing ones (fewest failures first); ties by
//! cost, as the FIB sorts them. A new Interest goes to the first; a retransmission to the
//! best-ranked next hop not tried yet, else the one tried longest ago; a Nack or a lost
//! upstream moves it to the best-ranked untried one.
//!
//! **Probing**: at most once per `probing-interval` per prefix, a new Interest is also sent
//! (with a nonce of its own) to another next hop, taking the others in turn, so a hop that
//! recovered, or became faster, is measured again and wins when its answer comes first. NFD's
//! default interval is 60 s (minimum 1 s); ours is 10 s: a failed hop is already avoided
//! through liveness and failure counts, and probing is what brings it back, so a shorter
//! interval shortens the time on a worse path for one extra Interest per prefix every 10 s.
//!
//! **Bounds**: at most [`MAX_NAMESPACES`] prefixes per instance, [`MAX_FACES`] next hops each;
//! a prefix unused for [`LIFETIME`] is forgotten. Keys are FIB prefixes (routes, which only
//! local applications and operators add), never names from the network, so a remote peer
//! cannot grow the table; when it is full, further prefixes are forwarded by cost alone.

use std::time::{Duration, Instant};

use hashbrown::HashTable;
use nfwd_tlv::Name;
use nfwd_tlv::lp::NackReason;
use smallvec::SmallVec;

use super::{Context, Decision, Parameters, RetxSuppression, Strategy, versioned_name};
use crate::face::FaceId;

/// Default probing interval (see the module docs for why not NFD's 60 s).
pub const DEFAULT_PROBING_INTERVAL: Duration = Duration::from_secs(10);
/// NFD's minimum probing interval.
pub const MIN_PROBING_INTERVAL: Duration = Duration::from_secs(1);
/// NFD's default `max-timeouts`.
pub const DEFAULT_MAX_TIMEOUTS: u32 = 3;
/// Prefixes measured per instance.
pub const MAX_NAMESPACES: usize = 16_384;
/// Next hops measured per prefix.
pub const MAX_FACES: usize = 16;
/// A prefix not used for this long is forgotten (NFD's default `measurements-lifetime`).
pub const LIFETIME: Duration = Duration::from_secs(300);
/// How often forgotten prefixes are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct FaceStat {
    face: FaceId,
    /// Smoothed RTT in µs; 0 until measured.
    srtt_us: u64,
    rttvar_us: u64,
    /// Failures since the last Data.
    failures: u32,
}

#[derive(Debug)]
struct Namespace {
    hash: u64,
    faces: SmallVec<[FaceStat; 4]>,
    next_probe: Instant,
    probe_turn: u64,
    last_used: Instant,
}

impl Namespace {
    fn stat(&self, face: FaceId) -> Option<&FaceStat> {
        self.faces.iter().find(|s| s.face == face)
    }

    fn stat_mut(&mut self, face: FaceId) -> &mut FaceStat {
        if let Some(i) = self.faces.iter().position(|s| s.face == face) {
            return &mut self.faces[i];
        }
        if self.faces.len() >= MAX_FACES {
            // The oldest entry is most likely a face long gone.
            self.faces.remove(0);
        }
        self.faces.push(FaceStat {
            face,
            srtt_us: 0,
            rttvar_us: 0,
            failures: 0,
        });
        let last = self.faces.len() - 1;
        &mut self.faces[last]
    }
}

/// The adaptive strategy.
#[derive(Debug)]
pub struct Asf {
    name: Name,
    probing_interval: Duration,
    max_timeouts: u32,
    /// A prefix unused this long is forgotten (`measurements-lifetime`).
    lifetime: Duration,
    suppression: RetxSuppression,
    table: HashTable<Namespace>,
    next_sweep: Option<Instant>,
}

impl Asf {
    /// An instance with NFD's parameters `probing-interval~<ms>`, `max-timeouts~<n>`,
    /// `measurements-lifetime~<ms>` and the retransmission suppression ones
    /// ([`RetxSuppression::from_parameters`]). As NFD's ASF, other keys are ignored.
    ///
    /// # Errors
    /// NFD's: a malformed or negative value, an interval under 1 s, a measurements lifetime
    /// not above the probing interval, bad suppression values; and (ours) 0 timeouts, which
    /// would count every next hop as failing.
    pub fn with_parameters(p: &Parameters) -> Result<Self, String> {
        let suppression = RetxSuppression::from_parameters(p)?;
        let default_ms = DEFAULT_PROBING_INTERVAL.as_millis() as i64;
        let interval_ms = p.int_or("probing-interval", default_ms)?;
        let probing_interval = u64::try_from(interval_ms)
            .ok()
            .map(Duration::from_millis)
            .filter(|&d| d >= MIN_PROBING_INTERVAL)
            .ok_or("Probing interval must be >= 1000 milliseconds")?;
        let max_timeouts = p.uint_or("max-timeouts", u64::from(DEFAULT_MAX_TIMEOUTS))?;
        let max_timeouts = u32::try_from(max_timeouts)
            .ok()
            .filter(|&n| n > 0)
            .ok_or("max-timeouts must be at least 1")?;
        let lifetime_ms = p.int_or("measurements-lifetime", LIFETIME.as_millis() as i64)?;
        let lifetime = u64::try_from(lifetime_ms)
            .ok()
            .map(Duration::from_millis)
            .filter(|&d| d > probing_interval)
            .ok_or_else(|| {
                format!(
                    "Measurements lifetime ({lifetime_ms} milliseconds) should be greater than \
                     the probing interval of {} milliseconds",
                    probing_interval.as_millis()
                )
            })?;
        Ok(Self {
            name: versioned_name("asf"),
            probing_interval,
            max_timeouts,
            lifetime,
            suppression,
            table: HashTable::new(),
            next_sweep: None,
        })
    }

    /// The instance under `name` (the name it was asked by, as NFD lists it).
    #[must_use]
    pub fn named(mut self, name: Name) -> Self {
        self.name = name;
        self
    }

    /// A boxed instance.
    #[must_use]
    pub fn boxed(self) -> Box<dyn Strategy> {
        Box::new(self)
    }

    fn namespace(&self, hash: u64) -> Option<&Namespace> {
        self.table.find(hash, |n| n.hash == hash)
    }

    fn namespace_mut(&mut self, hash: u64) -> Option<&mut Namespace> {
        self.table.find_mut(hash, |n| n.hash == hash)
    }

    /// The prefix's measurements, made if there is room.
    fn touch(&mut self, hash: u64, now: Instant) -> Option<&mut Namespace> {
        if self.namespace(hash).is_none() {
            if self.table.len() >= MAX_NAMESPACES {
                return None;
            }
            let fresh = Namespace {
                hash,
                faces: SmallVec::new(),
                // The first Interest already probes: alternatives get measured early.
                next_probe: now,
                probe_turn: 0,
                last_used: now,
            };
            self.table.insert_unique(hash, fresh, |n| n.hash);
        }
        let ns = self.namespace_mut(hash)?;
        ns.last_used = now;
        Some(ns)
    }

    /// The context's next hops, best first.
    fn ranked(&self, ctx: &Context<'_>) -> SmallVec<[FaceId; 4]> {
        let ns = self.namespace(ctx.prefix_hash);
        let mut keyed: SmallVec<[(u8, u64, usize, FaceId); 4]> = ctx
            .hops
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let (tier, metric) = match ns.and_then(|n| n.stat(h.face)) {
                    Some(s) if s.failures >= self.max_timeouts => (2, u64::from(s.failures)),
                    Some(s) if s.srtt_us > 0 => (0, s.srtt_us),
                    _ => (1, 0),
                };
                // The FIB order (cost, then face id) breaks ties.
                (tier, metric, i, h.face)
            })
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, _, f)| f).collect()
    }

    fn best_untried(&self, ctx: &Context<'_>) -> Option<FaceId> {
        self.ranked(ctx)
            .into_iter()
            .find(|&f| ctx.entry.out_records.iter().all(|r| r.face != f))
    }

    fn fail(&mut self, hash: u64, face: FaceId, weight: u32) {
        if let Some(ns) = self.namespace_mut(hash) {
            let s = ns.stat_mut(face);
            s.failures = s.failures.saturating_add(weight);
        }
    }
}

impl Strategy for Asf {
    fn name(&self) -> Name {
        self.name.clone()
    }

    fn after_receive_interest(
        &mut self,
        ctx: &Context<'_>,
        retransmission: bool,
        decision: &mut Decision,
    ) {
        decision.tag = ctx.prefix_hash;
        let ranked = self.ranked(ctx);
        let Some(&best) = ranked.first() else {
            return;
        };
        if retransmission {
            let pick = self.best_untried(ctx).or_else(|| {
                ctx.entry
                    .out_records
                    .iter()
                    .filter(|r| ranked.contains(&r.face))
                    .min_by_key(|r| r.last_sent)
                    .map(|r| r.face)
            });
            decision.targets.extend(pick);
            self.touch(ctx.prefix_hash, ctx.now);
            return;
        }
        decision.targets.push(best);
        let interval = self.probing_interval;
        if let Some(ns) = self.touch(ctx.prefix_hash, ctx.now)
            && ranked.len() >= 2
            && ctx.now >= ns.next_probe
        {
            let others = ranked.len() - 1;
            let i = 1 + usize::try_from(ns.probe_turn % others as u64).unwrap_or(0);
            ns.probe_turn = ns.probe_turn.wrapping_add(1);
            ns.next_probe = ctx.now + interval;
            decision.probe = ranked.get(i).copied();
        }
    }

    fn after_receive_nack(
        &mut self,
        ctx: &Context<'_>,
        face: FaceId,
        _reason: NackReason,
    ) -> Option<FaceId> {
        self.fail(ctx.entry_tag(), face, self.max_timeouts);
        self.best_untried(ctx)
    }

    fn upstream_lost(&mut self, ctx: &Context<'_>, face: FaceId) -> Option<FaceId> {
        self.fail(ctx.entry_tag(), face, self.max_timeouts);
        self.best_untried(ctx)
    }

    fn wants_feedback(&self) -> bool {
        true
    }

    fn suppression(&self) -> RetxSuppression {
        self.suppression
    }

    fn after_receive_data(&mut self, now: Instant, face: FaceId, rtt: Duration, tag: u64) {
        let Some(ns) = self.namespace_mut(tag) else {
            return;
        };
        ns.last_used = now;
        let s = ns.stat_mut(face);
        let rtt = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        if s.srtt_us == 0 {
            s.srtt_us = rtt;
            s.rttvar_us = rtt / 2;
        } else {
            // RFC 6298: alpha 1/8, beta 1/4.
            let diff = s.srtt_us.abs_diff(rtt);
            s.rttvar_us = (3 * s.rttvar_us + diff) / 4;
            s.srtt_us = (7 * s.srtt_us + rtt) / 8;
        }
        s.failures = 0;
    }

    fn on_timeout(&mut self, _now: Instant, face: FaceId, tag: u64) {
        self.fail(tag, face, 1);
    }

    fn entries(&self) -> usize {
        self.table.len()
    }

    fn housekeeping(&mut self, now: Instant) {
        match self.next_sweep {
            Some(at) if at > now => {}
            _ => {
                let lifetime = self.lifetime;
                self.table
                    .retain(|n| now.saturating_duration_since(n.last_used) < lifetime);
                self.next_sweep = Some(now + SWEEP_EVERY);
            }
        }
    }
}

impl Context<'_> {
    /// The tag the entry was forwarded with (ASF: its prefix hash). Falls back to the
    /// context's prefix, which is the same unless routes changed meanwhile.
    fn entry_tag(&self) -> u64 {
        match self.entry.strategy_tag {
            0 => self.prefix_hash,
            t => t,
        }
    }
}

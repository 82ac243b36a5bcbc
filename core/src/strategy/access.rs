//! access (NFD's access v1), for a consumer's access router with several upstreams:
//!
//! - a **new Interest** goes to the last next hop that brought Data for the prefix, if it is
//!   still an eligible next hop, and a retry timer is set to that hop's RTO; when the timer
//!   fires with the entry still pending, the Interest is multicast to the other next hops.
//!   With no such hop (first Interest, or the last one gone), it is multicast to every
//!   eligible next hop.
//! - a consumer's **retransmission** (after NFD's fixed 100 ms suppression) is multicast.
//! - **Data** records its upstream as the prefix's last next hop and feeds the RTT
//!   estimators (RFC 6298, ndn-cxx's defaults: RTO = SRTT + 4·RTTVAR within 200 ms..60 s,
//!   1 s before any measurement): one per face, and one per prefix that starts from the
//!   face's when the last next hop changes, as NFD does.
//!
//! Differences from NFD, kept small on purpose: measurements are kept per FIB prefix (the
//! keyed hash the pipeline already has), not per Data name's parent, so names under one
//! route share their last next hop; a Nack moves the Interest to an untried next hop (NFD's
//! access ignores Nacks and lets the RTO or the consumer retry). It takes no parameters.
//!
//! **Bounds**: at most [`MAX_PREFIXES`] prefixes and [`MAX_FACES`] per-face estimators per
//! instance; a prefix with no Data for [`LIFETIME`] is forgotten (NFD extends a measurement's
//! lifetime by 8 s per Data). Keys are FIB prefixes and next hops, never names from the
//! network.

use std::time::{Duration, Instant};

use hashbrown::HashTable;
use nfwd_tlv::Name;
use smallvec::SmallVec;

use super::{Context, Decision, RetxSuppression, Strategy};
use crate::face::FaceId;

/// Prefixes measured per instance.
pub const MAX_PREFIXES: usize = 16_384;
/// Faces with an RTT estimator per instance.
pub const MAX_FACES: usize = 256;
/// A prefix without Data for this long is forgotten (NFD: 8 s after its last Data).
pub const LIFETIME: Duration = Duration::from_secs(8);
/// How often forgotten prefixes are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(4);
const INITIAL_RTO: Duration = Duration::from_secs(1);
const MIN_RTO: Duration = Duration::from_millis(200);
const MAX_RTO: Duration = Duration::from_secs(60);

/// RFC 6298's estimator with ndn-cxx's options (alpha 1/8, beta 1/4, k 4).
#[derive(Debug, Clone, Copy, Default)]
struct Rtt {
    /// Smoothed RTT and variation, µs; `srtt_us` 0 until the first measurement.
    srtt_us: u64,
    rttvar_us: u64,
}

impl Rtt {
    fn add(&mut self, rtt: Duration) {
        let rtt = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        if self.srtt_us == 0 {
            self.srtt_us = rtt;
            self.rttvar_us = rtt / 2;
        } else {
            let diff = self.srtt_us.abs_diff(rtt);
            self.rttvar_us = (3 * self.rttvar_us + diff) / 4;
            self.srtt_us = (7 * self.srtt_us + rtt) / 8;
        }
    }

    fn rto(&self) -> Duration {
        if self.srtt_us == 0 {
            return INITIAL_RTO;
        }
        let us = self
            .srtt_us
            .saturating_add(self.rttvar_us.saturating_mul(4));
        Duration::from_micros(us).clamp(MIN_RTO, MAX_RTO)
    }
}

#[derive(Debug)]
struct Prefix {
    hash: u64,
    last_hop: FaceId,
    rtt: Rtt,
    last_data: Instant,
}

/// NFD's access strategy.
#[derive(Debug)]
pub struct Access {
    name: Name,
    prefixes: HashTable<Prefix>,
    /// Per-face estimators, in the order the faces were first measured.
    faces: SmallVec<[(FaceId, Rtt); 8]>,
    next_sweep: Option<Instant>,
}

impl Access {
    /// An instance listed as `name`.
    #[must_use]
    pub fn new(name: Name) -> Self {
        Self {
            name,
            prefixes: HashTable::new(),
            faces: SmallVec::new(),
            next_sweep: None,
        }
    }

    fn multicast(ctx: &Context<'_>, decision: &mut Decision) {
        decision.targets.extend(ctx.hops.iter().map(|h| h.face));
    }

    fn face_rtt(&mut self, face: FaceId) -> &mut Rtt {
        let i = match self.faces.iter().position(|(f, _)| *f == face) {
            Some(i) => i,
            None => {
                if self.faces.len() >= MAX_FACES {
                    // The face measured first is the likeliest to be gone.
                    self.faces.remove(0);
                }
                self.faces.push((face, Rtt::default()));
                self.faces.len() - 1
            }
        };
        &mut self.faces[i].1
    }
}

impl Strategy for Access {
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
        if retransmission {
            return Self::multicast(ctx, decision);
        }
        let hash = ctx.prefix_hash;
        let last = self
            .prefixes
            .find(hash, |p| p.hash == hash)
            .filter(|p| ctx.hops.iter().any(|h| h.face == p.last_hop));
        match last {
            // `hops` holds only eligible next hops (not the downstream, in scope, up).
            Some(p) => {
                decision.targets.push(p.last_hop);
                decision.retry_after = Some(p.rtt.rto());
            }
            None => Self::multicast(ctx, decision),
        }
    }

    fn on_retry_timer(&mut self, ctx: &Context<'_>, decision: &mut Decision) {
        // The last next hop stayed silent for its RTO: every other next hop.
        decision.targets.extend(
            ctx.hops
                .iter()
                .map(|h| h.face)
                .filter(|&f| ctx.entry.out_records.iter().all(|r| r.face != f)),
        );
    }

    fn wants_feedback(&self) -> bool {
        true
    }

    fn after_receive_data(&mut self, now: Instant, face: FaceId, rtt: Duration, tag: u64) {
        let mut face_rtt = *self.face_rtt(face);
        face_rtt.add(rtt);
        *self.face_rtt(face) = face_rtt;
        if let Some(p) = self.prefixes.find_mut(tag, |p| p.hash == tag) {
            if p.last_hop == face {
                p.rtt.add(rtt);
            } else {
                p.last_hop = face;
                p.rtt = face_rtt;
            }
            p.last_data = now;
        } else if self.prefixes.len() < MAX_PREFIXES {
            let fresh = Prefix {
                hash: tag,
                last_hop: face,
                rtt: face_rtt,
                last_data: now,
            };
            self.prefixes.insert_unique(tag, fresh, |p| p.hash);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        match self.next_sweep {
            Some(at) if at > now => {}
            _ => {
                self.prefixes
                    .retain(|p| now.saturating_duration_since(p.last_data) < LIFETIME);
                self.next_sweep = Some(now + SWEEP_EVERY);
            }
        }
    }

    fn entries(&self) -> usize {
        self.prefixes.len()
    }

    fn suppression(&self) -> RetxSuppression {
        RetxSuppression::FIXED_100MS
    }
}

//! The table side of NFD's self-learning (the decision is `strategy/self_learning.rs`): what
//! NFD's strategy asks of its RIB manager (`slAnnounce`, `slRenew`, `slFindAnn`) and of its
//! link service (the NonDiscovery and PrefixAnnouncement fields), for PIT entries a
//! self-learning instance forwarded. Nothing here runs for any other entry.
//!
//! - **Producer side**: Data for a discovery Interest that went on as non-discovery, with a
//!   downstream that is not local, leaves with a prefix announcement: the one a learned route
//!   of the covering RIB entry came with, else one made from the entry (its longest route
//!   lifetime clamped to 15 s..1 h, as NFD's `RibEntry::getPrefixAnnouncement`), signed
//!   DigestSha256 (NFD signs with its default identity; its shipped configuration accepts any
//!   signature). NFD drops such Data when no RIB entry covers it; we send it without one.
//! - **Consumer side**: Data answering a discovery Interest that brings an announcement adds
//!   a route (origin prefix-announcement 129, cost 2048, child-inherit) for the announced
//!   prefix through the face it came from, living as long as the announcement allows and at
//!   most NFD's 10 minutes. The announcement goes on downstream with the Data.
//! - **Nack NoRoute** from an upstream of a self-learning entry removes the learned route
//!   through it that covers the name (NFD's `slRenew` with no lifetime left).
//!
//! Hostile peers: an announcement is refused (counted) when it is malformed, its DigestSha256
//! does not verify, it has no lifetime left, its prefix does not cover the Data's name, or a
//! non-local face announces under `/localhost`; learned routes are bounded
//! ([`MAX_LEARNED_ROUTES`]) and every one expires. Decoding never panics (`tlv::prefix_ann`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::nfd::{route_flags, route_origin};
use nfwd_tlv::types::{signature_type, tt};
use nfwd_tlv::{Data, Interest, Name, PrefixAnnouncement, Signer, VerifyKey};
use smallvec::SmallVec;

use super::Forwarder;
use super::face::{FaceId, FaceScope};
use super::pipeline::{LpFields, is_localhost};
use super::pit::PitEntry;
use super::rib::Route;

/// NFD's `ROUTE_RENEW_LIFETIME`: the longest a learned route lives before it must be learned
/// again.
pub(super) const ROUTE_RENEW_LIFETIME: Duration = Duration::from_secs(600);
/// NFD's `PA_ROUTE_COST`.
pub(super) const PA_ROUTE_COST: u64 = 2048;
/// Bounds of the lifetime of an announcement made from a RIB entry (NFD's defaults).
const MIN_ANN_EXPIRATION_MS: u64 = 15_000;
const MAX_ANN_EXPIRATION_MS: u64 = 3_600_000;
/// The longest an announcement is taken to last: its ExpirationPeriod may say up to 2^64 ms,
/// more than an `Instant` holds on some platforms; a year is far beyond any route's
/// [`ROUTE_RENEW_LIFETIME`].
const MAX_ANN_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
/// Most learned routes at once (prefix and face); further announcements are refused until
/// some expire or are withdrawn.
pub(super) const MAX_LEARNED_ROUTES: usize = 1024;

/// A route learned from an announcement.
#[derive(Debug)]
struct Learned {
    /// The announcement's Data, as received (passed on by the producer side of this node).
    announcement: Bytes,
    /// When the announcement itself runs out (NFD's `annExpires`).
    ann_expires: Instant,
    /// When the route expires.
    expires: Instant,
}

/// What self-learning keeps beside the RIB.
#[derive(Debug, Default)]
pub(super) struct SelfLearningState {
    learned: BTreeMap<(Name, FaceId), Learned>,
}

impl SelfLearningState {
    /// Learned routes held.
    pub(super) fn len(&self) -> usize {
        self.learned.len()
    }
}

impl Forwarder {
    /// NFD's link service with self-learning on: NonDiscovery only on an Interest, a
    /// PrefixAnnouncement only on a Data; a packet with one elsewhere is dropped (counted).
    pub(super) fn sl_fields_allowed(&mut self, fragment: &Bytes, nack: bool, f: &LpFields) -> bool {
        if !f.non_discovery && f.prefix_announcement.is_none() {
            return true;
        }
        let interest = fragment.first().map(|&b| u32::from(b)) == Some(tt::INTEREST);
        let ok = if interest && !nack {
            f.prefix_announcement.is_none()
        } else {
            !interest && !nack && !f.non_discovery
        };
        if !ok {
            self.counters.sl_fields_dropped += 1;
        }
        ok
    }

    /// Self-learning's discovery broadcast: every face that may take `interest` and is not
    /// local, but the one it came from, joins `targets` (NFD's `broadcastInterest`).
    pub(super) fn sl_broadcast(
        &self,
        interest: &Interest,
        in_face: FaceId,
        only_local: bool,
        targets: &mut SmallVec<[FaceId; 4]>,
    ) {
        // Only local faces could take it (`/localhost`, HopLimit spent): none of these.
        if only_local {
            return;
        }
        let chained = interest.function_chain().is_some();
        for (&face, f) in &self.faces {
            let eligible = face != in_face
                && f.info.scope != FaceScope::Local
                && !(chained && f.chain_peer.is_unaware())
                && !f.liveness.down
                && !targets.contains(&face);
            if eligible {
                targets.push(face);
            }
        }
    }

    /// Data from `face` satisfied `entry` (forwarded by self-learning): the announcement it
    /// goes on with, if any — ours on the producer side, the one it brought otherwise — after
    /// learning a route from what it brought, when it answers a discovery Interest.
    pub(super) fn sl_after_data(
        &mut self,
        now: Instant,
        face: FaceId,
        data: &Data,
        brought: Option<&Bytes>,
        entry: &PitEntry,
    ) -> Option<Bytes> {
        let out = entry.out_records.iter().find(|r| r.face == face)?;
        if out.non_discovery {
            if self.sl_need_announcement(now, entry) {
                match self.sl_find_announcement(now, data.name()) {
                    Some(pa) => {
                        self.counters.sl_announcements_attached += 1;
                        return Some(pa);
                    }
                    None => self.counters.sl_no_announcement += 1,
                }
            }
        } else if let Some(pa) = brought {
            self.sl_announce(now, face, data.name(), pa);
        }
        brought.cloned()
    }

    /// NFD's `needPrefixAnn`: a pending downstream asked by discovery, and not every pending
    /// downstream is local (a consumer on this node needs no route to learn).
    fn sl_need_announcement(&self, now: Instant, entry: &PitEntry) -> bool {
        let pending = || entry.in_records.iter().filter(|r| r.expiry > now);
        pending().any(|r| !r.non_discovery)
            && pending().any(|r| self.scope_of(r.face) != Some(FaceScope::Local))
    }

    fn scope_of(&self, face: FaceId) -> Option<FaceScope> {
        self.faces.get(&face).map(|f| f.info.scope)
    }

    /// NFD's `slFindAnn`: the RIB entry of `name` or its longest prefix with routes; the
    /// announcement of its learned route that lasts longest, else one made from the entry.
    fn sl_find_announcement(&self, now: Instant, name: &Name) -> Option<Bytes> {
        let (prefix, routes) = (0..=name.len()).rev().find_map(|k| {
            let prefix = name.prefix(k);
            let routes = self.rib.get(&prefix)?;
            Some((prefix, routes))
        })?;
        let learned = routes
            .iter()
            .filter(|r| r.origin == route_origin::PREFIX_ANN)
            .filter_map(|r| self.sl.learned.get(&(prefix.clone(), r.face)))
            .max_by_key(|l| l.expires);
        if let Some(l) = learned {
            return Some(l.announcement.clone());
        }
        // A route that never expires makes the entry last "forever": the maximum.
        let longest = routes
            .iter()
            .map(|r| {
                r.expires.map_or(MAX_ANN_EXPIRATION_MS, |t| {
                    u64::try_from(t.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
                })
            })
            .max()?;
        let expiration = longest.clamp(MIN_ANN_EXPIRATION_MS, MAX_ANN_EXPIRATION_MS);
        // ndn-cxx versions an announcement by the wall clock in ms.
        let version = self.wall_clock_ms(now);
        PrefixAnnouncement::build(&prefix, expiration, None, version, &Signer::digest_sha256()).ok()
    }

    /// NFD's `slAnnounce` for Data named `name` from `face` that brought announcement `wire`:
    /// checked, then a route for the announced prefix through `face`.
    fn sl_announce(&mut self, now: Instant, face: FaceId, name: &Name, wire: &Bytes) {
        let Some((prefix, lifetime)) = self.sl_check(now, face, name, wire) else {
            self.counters.sl_announcements_refused += 1;
            return;
        };
        let key = (prefix, face);
        if self.sl.learned.len() >= MAX_LEARNED_ROUTES && !self.sl.learned.contains_key(&key) {
            self.counters.sl_routes_full += 1;
            return;
        }
        let ann_expires = now + lifetime;
        let expires = now + lifetime.min(ROUTE_RENEW_LIFETIME);
        self.add_route_with(
            &key.0,
            Route {
                face,
                origin: route_origin::PREFIX_ANN,
                cost: PA_ROUTE_COST,
                flags: route_flags::CHILD_INHERIT,
                expires: Some(expires),
                hosted: false,
            },
        );
        self.sl.learned.insert(
            key,
            Learned {
                announcement: wire.clone(),
                ann_expires,
                expires,
            },
        );
        self.counters.sl_routes_learned += 1;
    }

    /// The announced prefix and the announcement's lifetime, if `wire` may make a route.
    fn sl_check(
        &self,
        now: Instant,
        face: FaceId,
        name: &Name,
        wire: &Bytes,
    ) -> Option<(Name, Duration)> {
        let pa = PrefixAnnouncement::decode(wire.clone()).ok()?;
        let info = pa.data().signature_info().ok()??;
        // The one signature we can check without trust anchors; NFD's shipped validator
        // (`prefix_announcement_validation`: trust-anchor any) takes every other.
        if info.signature_type == signature_type::DIGEST_SHA256 {
            pa.data().verify(&VerifyKey::DigestSha256).ok()?;
        }
        // An announcement vouches for the Data it came with, not for other names.
        if !pa.announced.is_prefix_of(name) {
            return None;
        }
        if is_localhost(&pa.announced) && self.scope_of(face) != Some(FaceScope::Local) {
            return None;
        }
        let ms = pa.lifetime_ms(self.wall_clock_ms(now));
        let lifetime = Duration::from_millis(ms).min(MAX_ANN_LIFETIME);
        (ms > 0).then_some((pa.announced, lifetime))
    }

    /// NFD's `slRenew` with no lifetime left, after Nack NoRoute from `face`: the learned
    /// route through `face` with the longest prefix of `name` goes.
    pub(super) fn sl_withdraw(&mut self, name: &Name, face: FaceId) {
        if self.sl.learned.is_empty() {
            return;
        }
        let Some(key) = (0..=name.len())
            .rev()
            .map(|k| (name.prefix(k), face))
            .find(|key| self.sl.learned.contains_key(key))
        else {
            return;
        };
        self.sl.learned.remove(&key);
        let (prefix, face) = key;
        let Some(attrs) = self.rib.remove(&prefix, face, route_origin::PREFIX_ANN) else {
            return;
        };
        self.set_next_hop(&prefix, face, attrs);
        self.counters.sl_routes_withdrawn += 1;
    }

    /// Forgets learned routes that expired or whose route is gone (face closed, route
    /// unregistered), so the bound counts live routes only. Housekeeping.
    pub(super) fn sl_expire(&mut self, now: Instant) {
        if self.sl.learned.is_empty() {
            return;
        }
        let rib = &self.rib;
        self.sl.learned.retain(|(prefix, face), l| {
            l.expires > now
                && l.ann_expires > now
                && rib.get(prefix).is_some_and(|routes| {
                    routes
                        .iter()
                        .any(|r| r.face == *face && r.origin == route_origin::PREFIX_ANN)
                })
        });
    }
}

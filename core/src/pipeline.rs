//! The forwarding pipelines: incoming frame → LP → Interest / Data / Nack, NFD's rules plus
//! the chaining rules of `docs/protocol.md` §4.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason, PitToken};
use nfwd_tlv::types::tt;
use nfwd_tlv::{Data, Interest, InterestEdit, Name, PrefixHashes};
use smallvec::SmallVec;

use super::chain_peer::{AskAgain, Awareness};
use super::face::{FaceId, FaceScope, Frame};
use super::keys::{chain_hash, combine};
use super::observe::{ChainEnd, ChainOutcome};
use super::pit::{self, EntryId, InRecord, OutRecord};
use super::replica::Change;
use super::strategy::{Context, Decision, RetxSuppression};
use super::{Action, Forwarder};

/// What a chained Interest with no next hop finds among the faces left out for not
/// understanding chaining ([`Forwarder::unaware_next_hop`]).
enum UnawareHop {
    /// None: a real lack of routes.
    None,
    /// This one does not understand chaining: the consumer gets the error.
    Unaware(FaceId),
    /// This one was never heard from and is asked again: the Interest goes to it.
    Reopened(FaceId),
}

/// Link-layer fields that came with a network packet.
#[derive(Debug, Default)]
pub(super) struct LpFields {
    pit_token: Option<PitToken>,
    next_hop: Option<FaceId>,
    no_cache: bool,
    /// CongestionMark, carried on with the packet (NFD does).
    congestion_mark: Option<u64>,
    /// NonDiscovery (self-learning).
    pub(super) non_discovery: bool,
    /// PrefixAnnouncement: the Data element (self-learning).
    pub(super) prefix_announcement: Option<Bytes>,
}

pub(super) fn is_localhost(name: &Name) -> bool {
    name.component_parts(0) == Some((8, &b"localhost"[..]))
}

/// `/localhost/nfd` (NFD management) or `/localhost/nfwd` (nfwd's local services): names only
/// management may use, never routed by a ForwardingHint.
fn is_reserved(name: &Name) -> bool {
    is_localhost(name)
        && matches!(
            name.component_parts(1),
            Some((8, b"nfd")) | Some((8, b"nfwd"))
        )
}

/// The service a `/localhost/nfwd/<service>/...` name addresses (the privilege it needs).
fn nfwd_service(name: &Name) -> Option<&[u8]> {
    if !is_localhost(name) || name.component_parts(1) != Some((8, &b"nfwd"[..])) {
        return None;
    }
    // A name that stops at /localhost/nfwd, or whose service is not a generic component,
    // names no service: it needs every privilege.
    Some(match name.component_parts(2) {
        Some((8, service)) => service,
        _ => b"*",
    })
}

/// True if `interest`, about to leave with `hop_limit`, may go to local faces only: it is under
/// `/localhost` (Name or ForwardingHint) or its HopLimit is spent.
fn local_only(interest: &Interest, hop_limit: Option<u8>) -> bool {
    hop_limit == Some(0)
        || is_localhost(interest.name())
        || interest.forwarding_hint().iter().any(is_localhost)
}

/// FreshnessPeriod of the error Data a forwarder answers a chained Interest with when its
/// next hop does not understand chaining: short, as for an SF's errors (§5.3).
const CHAIN_ERROR_FRESHNESS_MS: u64 = 1000;

/// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The nonce a retry of `entry` on another next hop carries: its first downstream's, so a
/// loop through that hop back to us is still recognised.
fn retry_nonce(entry: &pit::PitEntry) -> [u8; 4] {
    entry
        .in_records
        .first()
        .map(|r| r.nonce)
        .unwrap_or_default()
}

fn nack_severity(r: NackReason) -> u8 {
    match r {
        NackReason::Congestion => 1,
        NackReason::Duplicate => 2,
        NackReason::NoRoute => 3,
        _ => 4,
    }
}

impl Forwarder {
    pub(super) fn on_frame(
        &mut self,
        now: Instant,
        face: FaceId,
        frame: Frame,
        out: &mut Vec<Action>,
    ) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        state.counters.in_bytes += frame.len() as u64;
        state.last_activity = now;
        // Anything heard shows the link works (`liveness.rs`), and that the peer is there
        // (`chain_peer.rs`).
        state.chain_peer.frame_heard();
        if state.liveness.heard() {
            tracing::debug!(face = %face, "face up again");
            self.replica
                .record(|| Change::FaceDown { face, down: false });
        }
        // The frame owns exactly its bytes (`Frame`): whatever the core keeps (PIT entries,
        // tokens, cached Data) pins only them, and the content store can keep what it gets.
        let Ok(lp) = LpPacket::decode(frame.into_bytes()) else {
            return self.malformed(face);
        };
        let lp = if lp.is_fragmented() {
            let Some(r) = state.reassembler.as_mut() else {
                return self.malformed(face);
            };
            match r.receive((), lp, now) {
                Ok(Some(full)) => match self.replica.hand_over(face, full) {
                    Some(full) => full,
                    None => return,
                },
                Ok(None) => return,
                Err(_) => {
                    state.counters.drop_reassembly += 1;
                    return;
                }
            }
        } else {
            lp
        };
        if lp.is_idle() {
            return self.incoming_idle(now, face, &lp, out);
        }
        let local_fields = state.local_fields;
        let Some(fragment) = lp.fragment else { return };
        let fields = LpFields {
            pit_token: lp.pit_token,
            next_hop: if local_fields {
                lp.next_hop_face_id.map(FaceId)
            } else {
                None
            },
            no_cache: lp.cache_policy.is_some(),
            congestion_mark: lp.congestion_mark,
            non_discovery: lp.non_discovery,
            prefix_announcement: lp.prefix_announcement,
        };
        if !self.sl_fields_allowed(&fragment, lp.nack.is_some(), &fields) {
            return;
        }
        match fragment.first().map(|&b| u32::from(b)) {
            Some(tt::INTEREST) => match Interest::decode(fragment) {
                Ok(interest) => match lp.nack {
                    Some(reason) => {
                        self.carried_mark.nack = fields.congestion_mark;
                        self.incoming_nack(
                            now,
                            face,
                            &interest,
                            reason,
                            fields.pit_token.as_ref(),
                            out,
                        );
                        self.carried_mark.nack = None;
                    }
                    None => self.incoming_interest(now, face, interest, &fields, out),
                },
                Err(_) => self.malformed(face),
            },
            Some(tt::DATA) if lp.nack.is_none() => match Data::decode(fragment) {
                Ok(data) => self.incoming_data(now, face, &data, &fields, out),
                Err(_) => self.malformed(face),
            },
            _ => self.malformed(face),
        }
    }

    fn malformed(&mut self, face: FaceId) {
        self.counters.malformed += 1;
        if let Some(f) = self.faces.get_mut(&face) {
            f.counters.drop_malformed += 1;
        }
    }

    /// True if an Interest may be sent on `face`: it exists, is not the null face, is not
    /// down (liveness), is local when `only_local` says so, and — for a `chained` Interest —
    /// is not a neighbour known not to understand chaining (every path that picks a next hop
    /// asks this).
    fn may_send_to(&self, face: FaceId, only_local: bool, chained: bool) -> bool {
        face != FaceId::NULL
            && self.faces.get(&face).is_some_and(|s| {
                let refused = s.liveness.down
                    || (only_local && s.info.scope != FaceScope::Local)
                    || (chained && s.chain_peer.is_unaware());
                !refused
            })
    }

    fn is_chain_unaware(&self, face: FaceId) -> bool {
        self.faces
            .get(&face)
            .is_some_and(|s| s.chain_peer.is_unaware())
    }

    fn scope(&self, face: FaceId) -> Option<FaceScope> {
        self.faces.get(&face).map(|f| f.info.scope)
    }

    fn next_nonce(&mut self) -> [u8; 4] {
        // The high half of a draw: Nonces need to avoid accidental collisions, not to be
        // cryptographic.
        ((self.random.next() >> 32) as u32).to_be_bytes()
    }

    // -----------------------------------------------------------------------------------------
    // Interests

    fn incoming_interest(
        &mut self,
        now: Instant,
        face: FaceId,
        interest: Interest,
        fields: &LpFields,
        out: &mut Vec<Action>,
    ) {
        self.counters.in_interests += 1;
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        state.counters.in_interests += 1;
        // Only a chain-aware peer sends chained Interests (`chain_peer.rs`).
        if interest.function_chain().is_some() && state.chain_peer.heard() {
            self.replica.record(|| Change::ChainAwareness {
                face,
                awareness: Awareness::Aware,
            });
        }
        let from_local = state.info.scope == FaceScope::Local;
        let restricted = state.info.channel.is_some();
        // Scope (docs/security.md): nothing under /localhost, in the Name or a ForwardingHint,
        // enters from a non-local face; a restricted face reaches no /localhost name but
        // management (which refuses all but its own registrations); and no hint may route
        // an Interest into management namespaces, whoever sends it.
        let hints = interest.forwarding_hint();
        let localhost_name = is_localhost(interest.name());
        let management = is_reserved(interest.name())
            && interest.name().component_parts(1) == Some((8, &b"nfd"[..]));
        if (!from_local && (localhost_name || hints.iter().any(is_localhost)))
            || hints.iter().any(is_reserved)
            || (restricted && (hints.iter().any(is_localhost) || (localhost_name && !management)))
        {
            state.counters.drop_scope += 1;
            self.counters.scope_violations += 1;
            return;
        }
        if interest.hop_limit() == Some(0) {
            state.counters.drop_hop_limit += 1;
            return;
        }
        if let Some(chain) = interest.function_chain()
            && chain.len() > self.max_chain
        {
            self.counters.chain_too_long += 1;
            self.send_nack(
                face,
                &interest,
                None,
                NackReason::None,
                fields.pit_token.as_ref(),
                out,
            );
            return;
        }
        if from_local && self.is_management(interest.name()) {
            self.handle_management(now, face, &interest, fields.pit_token.as_ref(), out);
            return;
        }
        if let Some(service) = nfwd_service(interest.name())
            && let Err(refusal) = self.authorize_service(now, face, &interest, service)
        {
            let token = fields.pit_token.as_ref();
            return self.mgmt_reply(face, interest.name(), token, &refusal, out);
        }
        let name_hashes = interest.name().prefix_hashes(&self.hasher);
        let chash = chain_hash(&self.hasher, interest.function_chain());
        let nc_hash = combine(name_hashes[interest.name().len()], chash);
        let key = pit::key_hash(nc_hash, interest.can_be_prefix(), interest.must_be_fresh());
        let nonce = match interest.nonce() {
            Some(n) => n,
            None => self.next_nonce(),
        };
        if self
            .dnl
            .contains(super::dnl::DeadNonceList::key(nc_hash, nonce))
        {
            self.interest_loop(face, &interest, fields.pit_token.as_ref(), out);
            return;
        }
        let existing = self.pit.find(&interest, key);
        if existing.is_none()
            && let Some(cached) = self.cs.lookup(&interest, &name_hashes, chash, now)
        {
            // Cache hit: answer without creating a PIT entry.
            let token = fields.pit_token.as_ref();
            let from = FaceId::CONTENT_STORE;
            self.send_data_wire(
                face,
                cached.wire,
                cached.localhost,
                token,
                None,
                from,
                None,
                out,
            );
            return;
        }
        // Quota and fair share (`pit_admits`): an Interest that would make its face the
        // downstream of one entry too many is refused before anything is created.
        let new_in_record = existing
            .and_then(|id| self.pit.get(id))
            .is_none_or(|e| e.in_records.iter().all(|r| r.face != face));
        if new_in_record && self.faces.get(&face).is_some_and(|f| !self.pit_admits(f)) {
            self.counters.pit_quota += 1;
            if let Some(f) = self.faces.get_mut(&face) {
                f.counters.drop_pit_quota += 1;
            }
            let token = fields.pit_token.as_ref();
            self.send_nack(face, &interest, None, NackReason::Congestion, token, out);
            return;
        }
        let lifetime = interest.effective_lifetime_ms().min(self.max_lifetime_ms);
        // A new entry takes the Interest; an existing one takes it below, once the Interest
        // has proved to be no loop.
        let (id, renewal) = match existing {
            Some(id) => (id, Some(interest)),
            None => match self.pit.insert(interest, key, now) {
                Ok(id) => (id, None),
                Err(interest) => {
                    self.counters.pit_full += 1;
                    if let Some(f) = self.faces.get_mut(&face) {
                        f.counters.drop_overload += 1;
                    }
                    let token = fields.pit_token.as_ref();
                    self.send_nack(face, &interest, None, NackReason::Congestion, token, out);
                    return;
                }
            },
        };
        let created = renewal.is_none();
        let link_p2p = self
            .faces
            .get(&face)
            .is_some_and(|f| f.info.link_type == super::LinkType::PointToPoint);
        let Some(entry) = self.pit.get_mut(id) else {
            return;
        };
        // Loop detection within the PIT (NFD: a duplicate nonce from the same point-to-point
        // face is a retransmission, not a loop).
        let dup_other_in = entry
            .in_records
            .iter()
            .any(|r| r.nonce == nonce && r.face != face);
        let dup_same_in = entry
            .in_records
            .iter()
            .any(|r| r.nonce == nonce && r.face == face);
        let dup_out = entry.out_records.iter().any(|r| r.nonce == nonce);
        if dup_other_in || dup_out || (dup_same_in && !link_p2p) {
            // Only an existing entry holds nonces, so `renewal` is the Interest here.
            if let Some(interest) = &renewal {
                self.interest_loop(face, interest, fields.pit_token.as_ref(), out);
            }
            return;
        }
        let expiry = now + Duration::from_millis(lifetime);
        let is_retransmission = !entry.out_records.is_empty();
        let added = match entry.in_record_mut(face) {
            Some(r) => {
                r.nonce = nonce;
                r.expiry = expiry;
                r.last_renewed = now;
                r.pit_token = fields.pit_token;
                r.non_discovery = fields.non_discovery;
                false
            }
            None => {
                entry.in_records.push(InRecord {
                    face,
                    nonce,
                    expiry,
                    last_renewed: now,
                    pit_token: fields.pit_token,
                    non_discovery: fields.non_discovery,
                });
                true
            }
        };
        entry.refresh_expiry();
        if let Some(interest) = renewal {
            entry.interest = interest;
        }
        let entry_expiry = entry.expiry;
        if added {
            self.note_in_record(face, id);
        }
        // One timer per entry: a renewal that moves the expiry later is picked up when the
        // timer fires (`pit_expired` reschedules), so retransmissions add no timers.
        if created {
            self.schedule_pit_expiry(entry_expiry, id);
        }

        // NFD's exponential suppression per PIT entry, with the values of the strategy that
        // forwarded the entry (`RetxSuppression`): a retransmission within the interval of
        // the last transmission upstream is dropped; one let through grows the interval.
        // Only retransmissions pay for the strategy lookup (a slot index, no hashing).
        if is_retransmission {
            let rule = self
                .pit
                .get(id)
                .and_then(|e| self.strategies.get(e.strategy))
                .map_or_else(RetxSuppression::default, |s| s.suppression());
            let Some(entry) = self.pit.get_mut(id) else {
                return;
            };
            let interval = match entry.suppress_interval_ms {
                0 => rule.initial_ms,
                ms => ms,
            };
            let last_out = entry.out_records.iter().map(|r| r.last_sent).max();
            if last_out.is_some_and(|t| now < t + Duration::from_millis(interval)) {
                self.counters.suppressed += 1;
                return;
            }
            entry.suppress_interval_ms = rule.next_interval_ms(interval);
        }
        self.carried_mark.interest = fields.congestion_mark;
        self.forward(
            now,
            id,
            face,
            nonce,
            fields.next_hop,
            is_retransmission,
            &name_hashes,
            out,
        );
        self.carried_mark.interest = None;
    }

    fn interest_loop(
        &mut self,
        face: FaceId,
        interest: &Interest,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        self.counters.loops += 1;
        let p2p = self.faces.get_mut(&face).map(|f| {
            f.counters.drop_loop += 1;
            f.info.link_type == super::LinkType::PointToPoint
        });
        if p2p == Some(true) {
            self.send_nack(face, interest, None, NackReason::Duplicate, token, out);
        }
    }

    /// Prefix hashes of the name an Interest is routed by: the head function if the stack is
    /// non-empty, else the content name (whose hashes the caller may already have).
    fn routing_hashes(&self, interest: &Interest, content: Option<&PrefixHashes>) -> PrefixHashes {
        match (interest.function_chain(), content) {
            (Some(chain), _) => chain.head().prefix_hashes(&self.hasher),
            (None, Some(h)) => h.clone(),
            (None, None) => interest.name().prefix_hashes(&self.hasher),
        }
    }

    /// Next hops from the FIB for the head function if the stack is non-empty, else for the
    /// first ForwardingHint name with a route, else for the content name, with the keyed
    /// hash of the FIB prefix that matched (0 if none). `routing` are the hashes from
    /// [`Self::routing_hashes`].
    fn forwarding_candidates(
        &self,
        interest: &Interest,
        routing: &PrefixHashes,
    ) -> (SmallVec<[super::fib::NextHop; 4]>, u64) {
        let lookup = |name: &Name, hashes: &PrefixHashes| {
            self.fib
                .longest_prefix_match(name, hashes)
                .map(|e| (e.next_hops.clone(), e.prefix_hash()))
        };
        if let Some(chain) = interest.function_chain() {
            return lookup(chain.head(), routing).unwrap_or_default();
        }
        for hint in interest.forwarding_hint() {
            if let Some(found) = lookup(hint, &hint.prefix_hashes(&self.hasher)) {
                return found;
            }
        }
        lookup(interest.name(), routing).unwrap_or_default()
    }

    /// The next hops a strategy may choose from: [`Self::forwarding_candidates`] minus
    /// `excluded` faces (downstreams) and faces [`Self::may_send_to`] refuses.
    fn eligible_hops(
        &self,
        interest: &Interest,
        routing: &PrefixHashes,
        only_local: bool,
        excluded: impl Fn(FaceId) -> bool,
    ) -> (SmallVec<[super::fib::NextHop; 4]>, u64) {
        let (mut hops, prefix_hash) = self.forwarding_candidates(interest, routing);
        let chained = interest.function_chain().is_some();
        hops.retain(|h| !excluded(h.face) && self.may_send_to(h.face, only_local, chained));
        (hops, prefix_hash)
    }

    /// True if `face` registered, for itself, the FIB entry the chain head matches.
    fn hosts_head(&self, interest: &Interest, face: FaceId) -> bool {
        let Some(chain) = interest.function_chain() else {
            return false;
        };
        let head = chain.head();
        self.fib
            .longest_prefix_match(head, &head.prefix_hashes(&self.hasher))
            .is_some_and(|e| e.next_hops.iter().any(|h| h.face == face && h.hosted))
    }

    /// The name a strategy is chosen by: the head function, else the content name (the name
    /// [`Self::routing_hashes`] hashes).
    fn strategy_name(interest: &Interest) -> &Name {
        interest
            .function_chain()
            .map_or(interest.name(), |c| c.head())
    }

    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        now: Instant,
        id: EntryId,
        in_face: FaceId,
        nonce: [u8; 4],
        next_hop: Option<FaceId>,
        is_retransmission: bool,
        content_hashes: &PrefixHashes,
        out: &mut Vec<Action>,
    ) {
        let Some(entry) = self.pit.get(id) else {
            return;
        };
        // The routing name is hashed once here and serves both the FIB and the strategy table.
        let routing = self.routing_hashes(&entry.interest, Some(content_hashes));
        // HopLimit: decremented here; at 0 the Interest may only go to local faces.
        let hop_limit = entry.interest.hop_limit().map(|h| h.saturating_sub(1));
        let only_local = local_only(&entry.interest, hop_limit);
        let mut decision = Decision::default();
        if let Some(f) = next_hop {
            // NextHopFaceId: the application chose; no strategy is asked.
            let chained = entry.interest.function_chain().is_some();
            if f != in_face && self.may_send_to(f, only_local, chained) {
                decision.targets.push(f);
            }
        } else {
            let (hops, prefix_hash) =
                self.eligible_hops(&entry.interest, &routing, only_local, |f| f == in_face);
            let choice = self
                .strategies
                .find(Self::strategy_name(&entry.interest), &routing);
            // One virtual call; the strategy sees the entry and the eligible hops, allocates
            // nothing (best-route reads the first hop) and answers in `decision`.
            let non_discovery = entry
                .in_records
                .iter()
                .any(|r| r.face == in_face && r.non_discovery);
            let (feedback, self_learning) =
                self.strategies
                    .get_mut(choice)
                    .map_or((false, false), |strategy| {
                        let ctx = Context {
                            now,
                            entry,
                            hops: &hops,
                            prefix_hash,
                            non_discovery,
                        };
                        strategy.after_receive_interest(&ctx, is_retransmission, &mut decision);
                        (strategy.wants_feedback(), strategy.self_learning())
                    });
            if decision.broadcast {
                self.sl_broadcast(&entry.interest, in_face, only_local, &mut decision.targets);
                self.counters.sl_discoveries += u64::from(!decision.targets.is_empty());
            }
            if let Some(e) = self.pit.get_mut(id) {
                e.strategy = choice;
                e.strategy_tag = decision.tag;
                e.feedback = feedback;
                e.self_learning = self_learning;
                e.non_discovery_out = self_learning && decision.non_discovery;
            }
        }
        if decision.targets.is_empty() {
            if !is_retransmission {
                match self.unaware_next_hop(now, id, in_face, only_local, &routing, out) {
                    UnawareHop::Unaware(via) => self.answer_chain_unaware(now, id, via, out),
                    UnawareHop::Reopened(face) => {
                        self.send_interest(now, id, face, nonce, hop_limit, out);
                    }
                    UnawareHop::None => {
                        self.counters.no_route += 1;
                        self.reject(now, id, NackReason::NoRoute, out);
                    }
                }
            }
            return;
        }
        for &target in &decision.targets {
            self.send_interest(now, id, target, nonce, hop_limit, out);
        }
        if let Some(after) = decision.retry_after {
            // Stale timers (the entry satisfied or gone) find no entry when they fire, and
            // are swept with the PIT's (`schedule_pit_expiry`).
            self.timers.push(std::cmp::Reverse((
                now + after,
                super::Timer::StrategyRetry(id.to_u64()),
            )));
        }
        if let Some(probe) = decision.probe
            && !decision.targets.contains(&probe)
        {
            // A probe is a copy of its own (NFD's ASF gives it a new nonce).
            let probe_nonce = self.next_nonce();
            self.send_interest(now, id, probe, probe_nonce, hop_limit, out);
        }
    }

    fn send_interest(
        &mut self,
        now: Instant,
        id: EntryId,
        face: FaceId,
        nonce: [u8; 4],
        hop_limit: Option<u8>,
        out: &mut Vec<Action>,
    ) {
        let new_out_record = self
            .pit
            .get(id)
            .is_some_and(|e| e.out_records.iter().all(|r| r.face != face));
        // One face lookup for the scope and liveness (awaiting an answer from now on).
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        let scope = state.info.scope;
        let local_fields = state.local_fields;
        state.liveness.sent(now);
        if new_out_record {
            super::note_out_record(state, &self.pit, face, id);
        }
        // docs/protocol.md §4 rule 5: pop the head iff the next hop is a local application
        // that registered the function itself (it hosts it); another forwarder — even one on
        // this host over loopback — gets the stack intact and pops it itself.
        let pop = scope == FaceScope::Local
            && self
                .pit
                .get(id)
                .is_some_and(|e| self.hosts_head(&e.interest, face));
        let Some(entry) = self.pit.get_mut(id) else {
            return;
        };
        let edit = entry.interest.plan_edit(&InterestEdit {
            nonce: Some(nonce),
            hop_limit,
            pop_function: pop,
        });
        // The SF learns the head it was asked for, parameters included (§4 rule 5).
        let popped_function = pop
            .then(|| entry.interest.function_chain().map(|c| c.head().clone()))
            .flatten();
        let expiry = entry.expiry;
        let non_discovery = entry.non_discovery_out;
        // The downstream that asked most recently is the Interest's IncomingFaceId.
        let from = entry
            .in_records
            .iter()
            .max_by_key(|r| r.last_renewed)
            .map(|r| r.face);
        match entry.out_record_mut(face) {
            Some(r) => {
                r.nonce = nonce;
                r.last_sent = now;
                r.expiry = expiry;
                r.nacked = None;
                r.non_discovery = non_discovery;
                r.popped = pop;
            }
            None => entry.out_records.push(OutRecord {
                face,
                nonce,
                last_sent: now,
                expiry,
                nacked: None,
                non_discovery,
                popped: pop,
            }),
        }
        if pop {
            self.counters.functions_popped += 1;
        }
        self.counters.out_interests += 1;
        let header = LpPacket {
            pit_token: Some(PitToken::from_u64(id.to_u64())),
            popped_function,
            congestion_mark: self.carried_mark.interest,
            non_discovery,
            incoming_face_id: from.filter(|_| local_fields).map(|f| f.0),
            ..LpPacket::default()
        };
        // The edited Interest is written straight behind the header: one buffer, one copy.
        let frame = header.encode_with_fragment(edit.encoded_len(), |buf| {
            entry.interest.write_edited(&edit, buf);
        });
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        send_frame(state, face, frame, None, out, |c| c.out_interests += 1);
    }

    /// Gives up on an entry: Nack every downstream and forget it — or, for a chained Interest
    /// whose upstreams included a neighbour that does not understand chaining, answer with
    /// the error Data that says so.
    fn reject(&mut self, now: Instant, id: EntryId, reason: NackReason, out: &mut Vec<Action>) {
        if let Some(entry) = self.pit.get(id)
            && entry.interest.function_chain().is_some()
            && let Some(via) = entry
                .out_records
                .iter()
                .map(|r| r.face)
                .find(|&f| self.is_chain_unaware(f))
        {
            return self.answer_chain_unaware(now, id, via, out);
        }
        let Some(entry) = self.remove_entry(id) else {
            return;
        };
        for r in &entry.in_records {
            self.send_nack(
                r.face,
                &entry.interest,
                Some(r.nonce),
                reason,
                r.pit_token.as_ref(),
                out,
            );
        }
        if entry.interest.function_chain().is_some() {
            let last = entry.out_records.iter().max_by_key(|r| r.last_sent);
            self.chain_ended(
                now,
                &entry,
                last.map(|r| r.face),
                ChainOutcome::Nack(reason),
            );
        }
        self.remember_nonces(&entry);
    }

    /// Asks a face taken as not chain-aware again, if it is time (`ChainPeer::ask_again`):
    /// a hello, and when nothing was ever heard from the peer, the question reopened on
    /// every shard.
    pub(super) fn ask_chain_peer_again(
        &mut self,
        face: FaceId,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> AskAgain {
        let Some(timeout) = self.chain_timeout else {
            return AskAgain::No;
        };
        let Some(state) = self.faces.get_mut(&face) else {
            return AskAgain::No;
        };
        let ask = state.chain_peer.ask_again(now, timeout);
        if ask != AskAgain::No {
            let frame = super::chain_peer::frame(super::chain_peer::HELLO);
            state.counters.out_bytes += frame.len() as u64;
            self.counters.chain_hellos += 1;
            out.push(Action::Send { face, frame });
        }
        if ask == AskAgain::Reopened {
            self.watch_chain_peer(face, now);
            self.replica.record(|| Change::ChainAwareness {
                face,
                awareness: Awareness::Unknown,
            });
        }
        ask
    }

    /// Entry `id` (chained) found no next hop: if a next hop for its head function was left
    /// out because it does not understand chaining, that face — asked once more, if we made
    /// it and asked long enough ago; reopened if nothing was ever heard from it
    /// (`chain_peer.rs`), so the Interest may go there. `None` for a plain Interest or a real
    /// lack of routes. Only faces the Interest could go to but for their chain awareness count
    /// (not the face it came from, not a face that is down, only local ones when `only_local`:
    /// `/localhost` or HopLimit spent), as in [`Forwarder::may_send_to`].
    fn unaware_next_hop(
        &mut self,
        now: Instant,
        id: EntryId,
        in_face: FaceId,
        only_local: bool,
        routing: &PrefixHashes,
        out: &mut Vec<Action>,
    ) -> UnawareHop {
        let Some(entry) = self.pit.get(id) else {
            return UnawareHop::None;
        };
        if entry.interest.function_chain().is_none() {
            return UnawareHop::None;
        }
        let (hops, _) = self.forwarding_candidates(&entry.interest, routing);
        if self.chain_timeout.is_none() {
            return UnawareHop::None;
        }
        let mut first = None;
        let mut reopened = None;
        for h in hops {
            if h.face == in_face || !self.may_send_to(h.face, only_local, false) {
                continue;
            }
            let Some(state) = self.faces.get_mut(&h.face) else {
                continue;
            };
            if !state.chain_peer.is_unaware() {
                continue;
            }
            first.get_or_insert(h.face);
            if !self.replica.shard.is_leader() {
                // The leader asks; it tells every shard what it concludes.
                let face = h.face;
                self.replica.record(|| Change::ChainAskAgain { face });
                continue;
            }
            if self.ask_chain_peer_again(h.face, now, out) == AskAgain::Reopened {
                reopened.get_or_insert(h.face);
            }
        }
        match (reopened, first) {
            (Some(face), _) => UnawareHop::Reopened(face),
            (None, Some(via)) => UnawareHop::Unaware(via),
            (None, None) => UnawareHop::None,
        }
    }

    /// Answers chained entry `id` with an error Data (`docs/protocol.md` §4.1, §5.3): the
    /// next hop `via` towards its head function does not understand chaining. The consumer
    /// learns it within a round trip of the last chain-aware forwarder, instead of waiting
    /// for the lifetime of an Interest a non-chain-aware forwarder dropped.
    fn answer_chain_unaware(
        &mut self,
        now: Instant,
        id: EntryId,
        via: FaceId,
        out: &mut Vec<Action>,
    ) {
        let Some(entry) = self.remove_entry(id) else {
            return;
        };
        self.counters.chained_to_unaware += 1;
        self.chain_ended(now, &entry, Some(via), ChainOutcome::ChainUnaware);
        let chain = entry.interest.function_chain();
        let head = chain.map(|c| c.head().to_string()).unwrap_or_default();
        let stack = chain.map(ToString::to_string).unwrap_or_default();
        let remote = self
            .faces
            .get(&via)
            .map(|s| s.info.remote_uri.clone())
            .unwrap_or_default();
        let message = format!(
            "the next hop towards {head} (face {via}, {remote}) is a forwarder that does not \
             understand function chaining, and no chain-aware next hop offers {head} here"
        );
        let content = format!(
            r#"{{"error":"unavailable","function":{},"stack":{},"reporter":"forwarder","message":{}}}"#,
            json_string(&head),
            json_string(&stack),
            json_string(&message)
        );
        let built = nfwd_tlv::DataBuilder::new(entry.interest.name().clone(), content.into_bytes())
            .function_chain(chain.cloned())
            .content_type(nfwd_tlv::types::content_type::NACK)
            .freshness_ms(CHAIN_ERROR_FRESHNESS_MS)
            .build(&nfwd_tlv::Signer::digest_sha256());
        if let Ok(data) = built {
            for r in &entry.in_records {
                let token = r.pit_token.as_ref();
                self.send_data(r.face, &data, token, None, FaceId::INTERNAL, out);
            }
        }
        self.remember_nonces(&entry);
    }

    fn remember_nonces(&mut self, entry: &pit::PitEntry) {
        // The entry's key already holds the (name, stack) hash: no name is hashed again on
        // the Data path.
        let nc = entry.name_chain_hash();
        let at = self.last_now(entry);
        let nonces = entry.in_records.iter().map(|r| r.nonce);
        for nonce in nonces.chain(entry.out_records.iter().map(|r| r.nonce)) {
            self.dnl
                .insert(super::dnl::DeadNonceList::key(nc, nonce), at);
        }
    }

    /// A time to measure dead-nonce lifetimes from: the latest activity on the entry.
    fn last_now(&self, entry: &pit::PitEntry) -> Instant {
        entry
            .in_records
            .iter()
            .map(|r| r.last_renewed)
            .chain(entry.out_records.iter().map(|r| r.last_sent))
            .max()
            .unwrap_or(self.started)
    }

    pub(super) fn pit_expired(&mut self, id: EntryId, now: Instant) {
        let Some(entry) = self.pit.get(id) else {
            return;
        };
        if entry.expiry > now {
            // Renewed since the timer was set.
            let at = entry.expiry;
            self.schedule_pit_expiry(at, id);
            return;
        }
        if let Some(entry) = self.remove_entry(id) {
            self.counters.unsatisfied_interests += 1;
            if entry.interest.function_chain().is_some() {
                let last = entry.out_records.iter().max_by_key(|r| r.last_sent);
                self.chain_ended(now, &entry, last.map(|r| r.face), ChainOutcome::Timeout);
            }
            self.timeout_feedback(now, &entry);
            self.remember_nonces(&entry);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Data

    fn incoming_data(
        &mut self,
        now: Instant,
        face: FaceId,
        data: &Data,
        fields: &LpFields,
        out: &mut Vec<Action>,
    ) {
        self.counters.in_data += 1;
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        state.counters.in_data += 1;
        if is_localhost(data.name()) && state.info.scope != FaceScope::Local {
            state.counters.drop_scope += 1;
            return;
        }
        let chash = chain_hash(&self.hasher, data.function_chain());
        // Fast path: the PIT token we attached names the entry.
        let mut matched: SmallVec<[EntryId; 2]> = SmallVec::new();
        if let Some(v) = fields.pit_token.as_ref().and_then(PitToken::as_u64) {
            let id = EntryId::from_u64(v);
            if let Some(e) = self.pit.get(id)
                && e.out_records.iter().any(|r| r.face == face)
                && e.interest.matches(data)
            {
                matched.push(id);
            }
        }
        // The content store's key needs the whole name's hash; matching without a token needs
        // every prefix's, computed in the same pass only then.
        let name_hash = if matched.is_empty() {
            let hashes = data.name().prefix_hashes(&self.hasher);
            let hasher = &self.hasher;
            matched = self.pit.matching_data(
                data,
                |k| combine(hashes[k], chash),
                || combine(data.full_name().full_hash(hasher), chash),
            );
            // Only the upstreams an Interest went to may answer it: Data from any other face
            // (an application that was never asked, a neighbour guessing names) neither
            // satisfies the entry nor reaches the content store.
            let before = matched.len();
            let pit = &self.pit;
            matched.retain(|id| {
                pit.get(*id)
                    .is_some_and(|e| e.out_records.iter().any(|r| r.face == face))
            });
            if matched.len() < before {
                self.counters.data_from_wrong_face += 1;
            }
            hashes[data.name().len()]
        } else {
            data.name().full_hash(&self.hasher)
        };
        let key_hash = combine(name_hash, chash);
        if matched.is_empty() {
            if self.retry_on_shorter_prefixes(face, data, fields) {
                return;
            }
            self.counters.unsolicited_data += 1;
            if let Some(f) = self.faces.get_mut(&face) {
                f.counters.drop_unsolicited += 1;
            }
            if self.admit_unsolicited && !fields.no_cache {
                self.cs.insert(data, key_hash, now);
            }
            return;
        }
        let cached = !fields.no_cache && self.cs.insert(data, key_hash, now);
        for id in matched {
            let Some(entry) = self.remove_entry(id) else {
                continue;
            };
            self.counters.satisfied_interests += 1;
            let rtt = entry
                .out_records
                .iter()
                .find(|r| r.face == face)
                .map(|r| now.saturating_duration_since(r.last_sent));
            if let Some(rtt) = rtt {
                self.observe_round_trip(face, rtt, &entry);
                self.data_feedback(now, face, rtt, &entry);
            }
            if entry.interest.function_chain().is_some() {
                let outcome = if data.content_type() == nfwd_tlv::types::content_type::NACK {
                    ChainOutcome::Error
                } else {
                    ChainOutcome::Data
                };
                self.chain_ended(now, &entry, Some(face), outcome);
            }
            // Self-learning's entries only: the announcement the Data goes on with.
            let announcement = if entry.self_learning {
                self.sl_after_data(now, face, data, fields.prefix_announcement.as_ref(), &entry)
            } else {
                None
            };
            for r in &entry.in_records {
                if r.face != face && r.expiry > now {
                    // A CongestionMark goes on with the Data (NFD's tag does).
                    let (token, mark) = (r.pit_token.as_ref(), fields.congestion_mark);
                    let pa = announcement.as_ref();
                    self.send_data_announced(r.face, data, token, mark, face, pa, out);
                }
            }
            if !(cached && self.store_answers_copies(&entry.interest, data)) {
                self.remember_nonces(&entry);
            }
        }
    }

    /// Will the content store answer a looping copy of `interest` with `data`, just stored,
    /// for as long as the dead nonce list would remember its nonce? Then the nonce need not be
    /// remembered (NFD's rule, `Forwarder::insertDeadNonceList`): the list keeps its room for
    /// the nonces nothing else catches — of Interests that expired or were Nacked. An error
    /// Data answers only while fresh, as Data answers a MustBeFresh Interest.
    fn store_answers_copies(&self, interest: &Interest, data: &Data) -> bool {
        let fresh_only =
            interest.must_be_fresh() || data.content_type() == nfwd_tlv::types::content_type::NACK;
        self.cs.serve
            && !(fresh_only
                && Duration::from_millis(data.freshness_period_ms()) < self.dnl.lifetime())
    }

    pub(super) fn send_data(
        &mut self,
        face: FaceId,
        data: &Data,
        token: Option<&PitToken>,
        congestion_mark: Option<u64>,
        from: FaceId,
        out: &mut Vec<Action>,
    ) {
        self.send_data_announced(face, data, token, congestion_mark, from, None, out);
    }

    /// [`Self::send_data`], with a PrefixAnnouncement in the LP header if given
    /// (self-learning, `self_learning.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_data_announced(
        &mut self,
        face: FaceId,
        data: &Data,
        token: Option<&PitToken>,
        congestion_mark: Option<u64>,
        from: FaceId,
        announcement: Option<&Bytes>,
        out: &mut Vec<Action>,
    ) {
        let localhost = is_localhost(data.name());
        let wire = data.wire().clone();
        self.send_data_wire(
            face,
            wire,
            localhost,
            token,
            congestion_mark,
            from,
            announcement,
            out,
        );
    }

    /// [`Self::send_data_announced`] of a Data known by its wire and whether its name is under
    /// `/localhost` (a content store hit: the store keeps no decoded view).
    #[allow(clippy::too_many_arguments)]
    fn send_data_wire(
        &mut self,
        face: FaceId,
        wire: Bytes,
        localhost: bool,
        token: Option<&PitToken>,
        congestion_mark: Option<u64>,
        from: FaceId,
        announcement: Option<&Bytes>,
        out: &mut Vec<Action>,
    ) {
        if localhost && self.scope(face) != Some(FaceScope::Local) {
            self.counters.scope_violations += 1;
            return;
        }
        self.counters.out_data += 1;
        let mut lp = LpPacket::from_fragment(wire);
        lp.pit_token = token.copied();
        lp.congestion_mark = congestion_mark;
        lp.prefix_announcement = announcement.cloned();
        self.emit(face, &lp, Some(from), out, |c| c.out_data += 1);
    }

    // -----------------------------------------------------------------------------------------
    // Nacks

    fn incoming_nack(
        &mut self,
        now: Instant,
        face: FaceId,
        interest: &Interest,
        reason: NackReason,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        self.counters.in_nacks += 1;
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        state.counters.in_nacks += 1;
        // The PIT token we attached names the entry. It is also the only way to find the entry
        // of a Nack from an SF: the Interest it carries is the one we sent, with the function
        // popped, so it no longer has the entry's key.
        let by_token = token
            .and_then(PitToken::as_u64)
            .map(EntryId::from_u64)
            .filter(|&id| {
                self.pit.get(id).is_some_and(|e| {
                    e.name() == interest.name() && e.out_records.iter().any(|r| r.face == face)
                })
            });
        let id = match by_token {
            Some(id) => id,
            None => {
                let chash = chain_hash(&self.hasher, interest.function_chain());
                let nc = combine(interest.name().full_hash(&self.hasher), chash);
                let key = pit::key_hash(nc, interest.can_be_prefix(), interest.must_be_fresh());
                let Some(id) = self.pit.find(interest, key) else {
                    return;
                };
                id
            }
        };
        let Some(entry) = self.pit.get_mut(id) else {
            return;
        };
        let Some(rec) = entry.out_record_mut(face) else {
            return;
        };
        if Some(rec.nonce) != interest.nonce() {
            return; // a Nack for an older transmission
        }
        rec.nacked = Some(reason);
        if entry.self_learning && reason == NackReason::NoRoute {
            // NFD's self-learning: the route learned through `face` is gone.
            self.sl_withdraw(interest.name(), face);
        }
        // The strategy may move on to another next hop (best-route: an untried one); else,
        // once no upstream is pending, the downstreams get the least severe reason.
        self.retry_elsewhere(now, id, face, Some(reason), out);
    }

    /// True if upstream record `r` may still answer: not refused, and its face neither closed
    /// nor down.
    fn pending_upstream(&self, r: &OutRecord) -> bool {
        r.nacked.is_none() && self.faces.get(&r.face).is_some_and(|f| !f.liveness.down)
    }

    /// Upstream `face` of entry `id` failed: it answered Nack `nack`, or (`None`) it closed
    /// or went down. The entry's strategy may name another next hop, which gets the Interest;
    /// otherwise, once no upstream is pending, the downstreams get a Nack: the least severe
    /// reason among the upstreams' (a lost upstream counts as NoRoute: the route it offered is
    /// gone).
    fn retry_elsewhere(
        &mut self,
        now: Instant,
        id: EntryId,
        face: FaceId,
        nack: Option<NackReason>,
        out: &mut Vec<Action>,
    ) {
        let Some(entry) = self.pit.get(id) else {
            return;
        };
        let (hops, prefix_hash, hop_limit) = self.retry_hops(entry);
        let ctx = Context {
            now,
            entry,
            hops: &hops,
            prefix_hash,
            non_discovery: false,
        };
        let next = match self.strategies.get_mut(entry.strategy) {
            Some(strategy) => match nack {
                Some(reason) => strategy.after_receive_nack(&ctx, face, reason),
                None => strategy.upstream_lost(&ctx, face),
            },
            // The choice changed since (or NextHopFaceId chose): best-route's rule.
            None => super::strategy::untried(&ctx),
        };
        if let Some(next) = next {
            let nonce = retry_nonce(entry);
            self.counters.retried_elsewhere += 1;
            self.send_interest(now, id, next, nonce, hop_limit, out);
            return;
        }
        if entry.out_records.iter().any(|r| self.pending_upstream(r)) {
            return;
        }
        let least_severe = entry
            .out_records
            .iter()
            .filter_map(|r| r.nacked)
            .min_by_key(|&r| nack_severity(r))
            .or(nack)
            .unwrap_or(NackReason::NoRoute);
        self.reject(now, id, least_severe, out);
    }

    /// The next hops a retry of `entry` may take — `forward`'s scope rules, never one of its
    /// downstreams — with the matched prefix's hash and the HopLimit it goes out with.
    fn retry_hops(
        &self,
        entry: &pit::PitEntry,
    ) -> (SmallVec<[super::fib::NextHop; 4]>, u64, Option<u8>) {
        let routing = self.routing_hashes(&entry.interest, None);
        let hop_limit = entry.interest.hop_limit().map(|h| h.saturating_sub(1));
        let only_local = local_only(&entry.interest, hop_limit);
        let (hops, prefix_hash) = self.eligible_hops(&entry.interest, &routing, only_local, |f| {
            entry.in_records.iter().any(|r| r.face == f)
        });
        (hops, prefix_hash, hop_limit)
    }

    /// A strategy's retry timer on entry `id` fired (access: the last next hop's RTO): if the
    /// entry is still pending, the strategy that set it may send the Interest elsewhere,
    /// under `forward`'s scope rules and never to a downstream.
    pub(super) fn strategy_retry(&mut self, now: Instant, id: EntryId, out: &mut Vec<Action>) {
        let Some(entry) = self.pit.get(id) else {
            return;
        };
        let (hops, prefix_hash, hop_limit) = self.retry_hops(entry);
        let ctx = Context {
            now,
            entry,
            hops: &hops,
            prefix_hash,
            non_discovery: false,
        };
        let mut decision = Decision::default();
        if let Some(strategy) = self.strategies.get_mut(entry.strategy) {
            strategy.on_retry_timer(&ctx, &mut decision);
        }
        let nonce = retry_nonce(entry);
        for &target in &decision.targets {
            self.counters.retried_elsewhere += 1;
            self.send_interest(now, id, target, nonce, hop_limit, out);
        }
    }

    /// `face` closed or went down: each entry in `ids` (those it is an upstream of) that was
    /// waiting for it alone is retried elsewhere or answered with a Nack now, instead of
    /// letting its consumers time out (`docs/protocol.md` §8). Proportional to `ids`.
    pub(super) fn upstream_gone(
        &mut self,
        now: Instant,
        face: FaceId,
        ids: &[EntryId],
        chained_only: bool,
        out: &mut Vec<Action>,
    ) {
        for &id in ids {
            let Some(entry) = self.pit.get_mut(id) else {
                continue;
            };
            if chained_only && entry.interest.function_chain().is_none() {
                continue;
            }
            let Some(rec) = entry.out_record_mut(face) else {
                continue;
            };
            if rec.nacked.is_some() {
                continue;
            }
            // It will not answer: as if it had refused, so later decisions count it out.
            rec.nacked = Some(NackReason::NoRoute);
            let Some(entry) = self.pit.get(id) else {
                continue;
            };
            if entry.out_records.iter().any(|r| self.pending_upstream(r)) {
                continue;
            }
            if !chained_only {
                self.counters.upstreams_lost += 1;
            }
            self.retry_elsewhere(now, id, face, None, out);
        }
    }

    /// Data from `face` satisfied `entry`, `rtt` after it was sent there: its strategy learns
    /// the RTT, if it asked to.
    pub(super) fn data_feedback(
        &mut self,
        now: Instant,
        face: FaceId,
        rtt: Duration,
        entry: &pit::PitEntry,
    ) {
        if !entry.feedback {
            return;
        }
        if let Some(strategy) = self.strategies.get_mut(entry.strategy) {
            strategy.after_receive_data(now, face, rtt, entry.strategy_tag);
        }
    }

    /// Counts a round trip to upstream `face` in its histogram and the forwarder's.
    fn observe_round_trip(&mut self, face: FaceId, rtt: Duration, entry: &pit::PitEntry) {
        if let Some(f) = self.faces.get_mut(&face) {
            f.rtt.observe(rtt);
        }
        let chained = entry.interest.function_chain().is_some();
        self.observed.round_trip(rtt, chained);
    }

    /// Chained `entry` ended here (`observe.rs` keeps the most recent for `status/chains`);
    /// `upstream` answered it or was tried last.
    fn chain_ended(
        &mut self,
        now: Instant,
        entry: &pit::PitEntry,
        upstream: Option<FaceId>,
        outcome: ChainOutcome,
    ) {
        let local = upstream
            .and_then(|f| entry.out_records.iter().find(|r| r.face == f))
            .is_some_and(|r| r.popped);
        let wall_ms = self.wall_clock_ms(now);
        self.observed.chain_ended(&ChainEnd {
            now,
            wall_ms,
            entry,
            upstream,
            local,
            outcome,
        });
    }

    /// `entry` expired unsatisfied: its strategy learns which upstreams stayed silent.
    fn timeout_feedback(&mut self, now: Instant, entry: &pit::PitEntry) {
        if !entry.feedback {
            return;
        }
        if let Some(strategy) = self.strategies.get_mut(entry.strategy) {
            for r in entry.out_records.iter().filter(|r| r.nacked.is_none()) {
                strategy.on_timeout(now, r.face, entry.strategy_tag);
            }
        }
    }

    /// Sharded by more than one name component: a Data without our PIT token that matched
    /// nothing here may answer a CanBePrefix Interest shorter than the dispatch prefix, which
    /// went to the owner of that shorter name. The owners of its shorter prefixes get it
    /// (once: what they get back is not passed on again). True if it went.
    fn retry_on_shorter_prefixes(&mut self, face: FaceId, data: &Data, fields: &LpFields) -> bool {
        let shard = self.replica.shard;
        let ours = fields
            .pit_token
            .as_ref()
            .and_then(PitToken::as_u64)
            .is_some_and(|t| pit::shard_of_token(t) < shard.count());
        let Some(dispatcher) = &self.replica.dispatcher else {
            return false;
        };
        if ours || self.replica.handed_over || dispatcher.prefix_components() < 2 {
            return false;
        }
        let owners = dispatcher.owners_of_shorter(data.name(), shard.index());
        if owners.is_empty() {
            return false;
        }
        let mut lp = LpPacket::from_fragment(data.wire().clone());
        lp.cache_policy = fields
            .no_cache
            .then_some(nfwd_tlv::lp::CachePolicyType::NoCache);
        lp.congestion_mark = fields.congestion_mark;
        lp.prefix_announcement = fields.prefix_announcement.clone();
        let frame = lp.encode_or_bare();
        for owner in owners {
            self.replica.handovers.push(super::replica::Handover {
                shard: owner,
                face,
                frame: frame.clone(),
            });
        }
        true
    }

    /// An IDLE packet (no Fragment): a liveness probe to answer, or the answer to ours
    /// (`liveness.rs`); a chain hello to answer, or the answer to ours (`chain_peer.rs`).
    /// Anything else in it is ignored, as NFD does.
    fn incoming_idle(&mut self, now: Instant, face: FaceId, lp: &LpPacket, out: &mut Vec<Action>) {
        let enabled = self.liveness.is_some();
        let chain_enabled = self.chain_timeout.is_some();
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        if let Some(v) = lp.chain_aware
            && chain_enabled
        {
            if state.chain_peer.heard() {
                tracing::debug!(face = %face, remote = %state.info.remote_uri, "the neighbour understands function chaining");
                self.replica.record(|| Change::ChainAwareness {
                    face,
                    awareness: Awareness::Aware,
                });
            }
            if v == super::chain_peer::HELLO && state.chain_peer.may_answer(now) {
                let frame = super::chain_peer::frame(super::chain_peer::ANSWER);
                state.counters.out_bytes += frame.len() as u64;
                out.push(Action::Send { face, frame });
            }
        }
        let speaks = !lp.acks.is_empty() || lp.tx_sequence.is_some();
        if speaks && enabled && !state.liveness.capable {
            state.liveness.peer_is_capable();
            self.watched.insert(face);
        }
        let Some(seq) = lp.tx_sequence else {
            return;
        };
        if state.liveness.may_ack(now) {
            let frame = super::liveness::ack_frame(seq);
            state.counters.liveness_acks += 1;
            state.counters.out_bytes += frame.len() as u64;
            out.push(Action::Send { face, frame });
        } else {
            state.counters.drop_liveness_probes += 1;
        }
    }

    pub(super) fn send_nack(
        &mut self,
        face: FaceId,
        interest: &Interest,
        nonce: Option<[u8; 4]>,
        reason: NackReason,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        self.counters.out_nacks += 1;
        // The entry keeps the latest Interest, which may be another downstream's: its
        // `/localhost` ForwardingHint (a local application's) never goes to a non-local face.
        let strip_hint = interest.forwarding_hint().iter().any(is_localhost)
            && self.scope(face) != Some(FaceScope::Local);
        let wire = match nonce {
            _ if strip_hint => {
                let b = interest.to_builder().forwarding_hint(Vec::new());
                match nonce {
                    Some(n) => b.nonce(n).encode(),
                    None => b.encode(),
                }
            }
            Some(n) if interest.nonce() != Some(n) => interest.edited(&InterestEdit {
                nonce: Some(n),
                ..InterestEdit::default()
            }),
            _ => interest.wire().clone(),
        };
        let mut lp = LpPacket::nack(reason, wire);
        lp.pit_token = token.copied();
        lp.congestion_mark = self.carried_mark.nack;
        self.emit(face, &lp, None, out, |c| c.out_nacks += 1);
    }

    // -----------------------------------------------------------------------------------------
    // Output

    /// Encodes `lp` for `face` (bare when it has no headers; NDNLPv2 fragments above the
    /// face's MTU) and queues it. `from` is the face the packet came in on; a face with
    /// LocalFields enabled is told it as IncomingFaceId (NFD tells local apps where a packet
    /// came from).
    pub(super) fn emit(
        &mut self,
        face: FaceId,
        lp: &LpPacket,
        from: Option<FaceId>,
        out: &mut Vec<Action>,
        count: impl FnOnce(&mut super::FaceCounters),
    ) {
        let Some(state) = self.faces.get_mut(&face) else {
            return;
        };
        let tagged;
        let lp = match from {
            Some(from) if state.local_fields => {
                tagged = LpPacket {
                    incoming_face_id: Some(from.0),
                    ..lp.clone()
                };
                &tagged
            }
            _ => lp,
        };
        let frame = lp.encode_or_bare();
        send_frame(state, face, frame, Some(lp), out, count);
    }
}

/// Queues `frame` (the encoding of `lp`, if the caller has the packet's fields) on `face`,
/// cut into NDNLPv2 fragments if it exceeds the face's MTU.
fn send_frame(
    state: &mut super::FaceState,
    face: FaceId,
    frame: Bytes,
    lp: Option<&LpPacket>,
    out: &mut Vec<Action>,
    count: impl FnOnce(&mut super::FaceCounters),
) {
    count(&mut state.counters);
    match state.info.mtu {
        Some(mtu) if frame.len() > mtu => {
            // Rare (only faces with an MTU, for packets above it). A forwarded Interest was
            // written in one pass without its fields apart, so only then is the frame read
            // back to be cut.
            let decoded;
            let lp = match lp {
                Some(lp) => Some(lp),
                None => {
                    decoded = LpPacket::decode(frame).ok();
                    decoded.as_ref()
                }
            };
            let frags = lp.and_then(|lp| nfwd_tlv::lp::fragment(lp, mtu, state.next_sequence).ok());
            match frags {
                Some(frags) => {
                    state.next_sequence = state.next_sequence.wrapping_add(frags.len() as u64);
                    for f in frags {
                        state.counters.out_bytes += f.len() as u64;
                        out.push(Action::Send { face, frame: f });
                    }
                }
                None => state.counters.drop_overload += 1,
            }
        }
        _ => {
            state.counters.out_bytes += frame.len() as u64;
            out.push(Action::Send { face, frame });
        }
    }
}

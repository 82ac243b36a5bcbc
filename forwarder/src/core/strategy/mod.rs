//! Forwarding strategies and the strategy choice table.
//!
//! A strategy is one type implementing [`Strategy`], in a file of its own, registered once in
//! [`REGISTRY`] under its NFD name. The pipeline (`pipeline.rs`) keeps NFD's common rules —
//! scope, HopLimit, loop detection, retransmission suppression, "never back to the downstream",
//! skipping faces that are down — and hands each strategy only the next hops that pass them
//! ([`Context::hops`]). The strategy picks where to send; the pipeline sends.
//!
//! - **best-route** (`best_route.rs`, NFD's best-route): the cheapest next hop; retries others.
//! - **multicast** (`multicast.rs`): every next hop.
//! - **load-balance** (`load_balance.rs`): the cheapest next hops in turn.
//! - **asf** (`asf.rs`, in the spirit of NFD's ASF): ranks next hops by measured RTT and
//!   failures, probes the others now and then.
//!
//! Each strategy choice (a prefix in the table) has its own instance, so per-choice state (a
//! round-robin turn, ASF's measurements) lives in the instance and costs nothing elsewhere.
//! Instances are named by a [`ChoiceId`] (slot and generation) that PIT entries keep, so the
//! Data, Nack and timeout paths reach the strategy that forwarded an Interest without hashing
//! a name again; replacing or removing a choice invalidates the ids of its old instance.
//!
//! Suppression follows NFD: the interval starts at 10 ms and doubles up to 250 ms.

pub mod asf;
mod best_route;
mod load_balance;
mod multicast;

use std::fmt;
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::{Name, NameHasher, PrefixHashes};
use smallvec::SmallVec;

use super::face::FaceId;
use super::fib::NextHop;
use super::pit::PitEntry;

pub use asf::Asf;
pub use best_route::BestRoute;
pub use load_balance::LoadBalance;
pub use multicast::Multicast;

/// First retransmission-suppression interval.
pub const SUPPRESSION_INITIAL_MS: u64 = 10;
/// Largest retransmission-suppression interval.
pub const SUPPRESSION_MAX_MS: u64 = 250;

/// What a strategy sees of one decision.
#[derive(Debug)]
pub struct Context<'a> {
    /// The time.
    pub now: Instant,
    /// The PIT entry (its out-records say which next hops were tried, and when).
    pub entry: &'a PitEntry,
    /// The next hops the Interest may go to, cheapest first: from the FIB entry the routing
    /// name matched, minus the entry's downstreams, faces out of scope and faces that are down.
    pub hops: &'a [NextHop],
    /// Keyed hash of the FIB entry's prefix (measurements are kept per FIB prefix).
    pub prefix_hash: u64,
}

/// A strategy's forwarding decision for an Interest.
#[derive(Debug, Default)]
pub struct Decision {
    /// Where to send the Interest.
    pub targets: SmallVec<[FaceId; 4]>,
    /// An extra copy sent to measure another next hop, with a nonce of its own (ASF).
    pub probe: Option<FaceId>,
    /// What the strategy wants back with feedback on this entry (ASF: its measurements key).
    /// Feedback is given only if [`Strategy::wants_feedback`] says so.
    pub tag: u64,
}

/// A forwarding strategy: one instance per strategy choice.
///
/// Methods take `&mut self` so a strategy can keep state; none may allocate per Interest on
/// the common path (best-route's whole decision is a scan of at most a few next hops).
pub trait Strategy: fmt::Debug + Send {
    /// The instance's name, as NFD lists it (with version, and parameters if any).
    fn name(&self) -> Name;

    /// A new Interest (`retransmission` false) or a consumer's retransmission that passed
    /// suppression: where to send it. No target means no route (the pipeline Nacks a new
    /// Interest with NoRoute; a retransmission is dropped).
    fn after_receive_interest(
        &mut self,
        ctx: &Context<'_>,
        retransmission: bool,
        decision: &mut Decision,
    );

    /// Upstream `face` answered with Nack `reason`: the next hop to try instead, if any. When
    /// the strategy names none and no other upstream is pending, the pipeline Nacks the
    /// downstreams. By default: the cheapest next hop not tried yet (best-route).
    fn after_receive_nack(
        &mut self,
        ctx: &Context<'_>,
        face: FaceId,
        reason: NackReason,
    ) -> Option<FaceId> {
        let _ = (face, reason);
        untried(ctx)
    }

    /// Upstream `face` closed or went down with this entry pending on it alone: the next hop
    /// to try instead, if any (else the downstreams get a Nack at once). By default: the
    /// cheapest next hop not tried yet.
    fn upstream_lost(&mut self, ctx: &Context<'_>, face: FaceId) -> Option<FaceId> {
        let _ = face;
        untried(ctx)
    }

    /// Whether the pipeline should call [`Self::after_receive_data`] and [`Self::on_timeout`]
    /// for entries this instance forwarded (a flag kept in the PIT entry, so strategies that
    /// do not measure cost nothing on the Data path).
    fn wants_feedback(&self) -> bool {
        false
    }

    /// Data came back from `face`, `rtt` after the Interest was last sent there; `tag` is the
    /// entry's [`Decision::tag`].
    fn after_receive_data(&mut self, now: Instant, face: FaceId, rtt: Duration, tag: u64) {
        let _ = (now, face, rtt, tag);
    }

    /// The entry expired with `face` asked and silent.
    fn on_timeout(&mut self, now: Instant, face: FaceId, tag: u64) {
        let _ = (now, face, tag);
    }

    /// Called from the forwarder's housekeeping (every 500 ms): age what the strategy keeps.
    fn housekeeping(&mut self, now: Instant) {
        let _ = now;
    }

    /// Entries of state the instance keeps (ASF: prefixes measured), for status and tests.
    fn entries(&self) -> usize {
        0
    }
}

/// The cheapest next hop not tried yet.
#[must_use]
pub fn untried(ctx: &Context<'_>) -> Option<FaceId> {
    ctx.hops
        .iter()
        .map(|h| h.face)
        .find(|&f| ctx.entry.out_records.iter().all(|r| r.face != f))
}

/// Where best-route and load-balance send a retransmission: the cheapest next hop not tried
/// yet, else the one tried longest ago.
#[must_use]
pub fn retry_pick(ctx: &Context<'_>) -> Option<FaceId> {
    untried(ctx).or_else(|| {
        ctx.entry
            .out_records
            .iter()
            .filter(|r| ctx.hops.iter().any(|h| h.face == r.face))
            .min_by_key(|r| r.last_sent)
            .map(|r| r.face)
    })
}

/// A strategy's name and parameters, parsed from an instance name
/// `/localhost/nfd/strategy/<which>[/v=<version>][/<key>~<value>...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// `key~value` components after the version, in order.
    pub pairs: Vec<(String, String)>,
}

impl Parameters {
    /// The value of `key`, if given.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

type Constructor = fn(&Parameters) -> Result<Box<dyn Strategy>, String>;

/// Every strategy: its NFD name component, the version we implement, and how to make one.
/// Adding a strategy is a new file and a line here.
const REGISTRY: &[(&str, u64, Constructor)] = &[
    ("best-route", 5, |p| no_parameters(p, BestRoute::boxed)),
    ("multicast", 4, |p| no_parameters(p, Multicast::boxed)),
    ("load-balance", 1, |p| no_parameters(p, LoadBalance::boxed)),
    ("asf", 5, |p| Asf::with_parameters(p).map(Asf::boxed)),
];

fn no_parameters(
    p: &Parameters,
    make: fn() -> Box<dyn Strategy>,
) -> Result<Box<dyn Strategy>, String> {
    if p.pairs.is_empty() {
        Ok(make())
    } else {
        Err("this strategy takes no parameters".into())
    }
}

/// The prefix of every strategy name.
const STRATEGY_PREFIX: &str = "/localhost/nfd/strategy";

/// The full name of registered strategy `which` (`/localhost/nfd/strategy/<which>/v=<n>`).
#[must_use]
pub fn versioned_name(which: &str) -> Name {
    let version = REGISTRY
        .iter()
        .find(|(w, _, _)| *w == which)
        .map_or(1, |(_, v, _)| *v);
    format!("{STRATEGY_PREFIX}/{which}/v={version}")
        .parse()
        .unwrap_or_default()
}

/// Makes the strategy a name asks for: `/localhost/nfd/strategy/<which>`, optionally a
/// version component, then (for strategies that take them) `key~value` parameters, as NFD
/// writes instance names (`/localhost/nfd/strategy/asf/v=5/probing-interval~30000`).
///
/// # Errors
/// Names no registered strategy, or parameters it refuses.
pub fn create(name: &Name) -> Result<Box<dyn Strategy>, String> {
    let base: Name = STRATEGY_PREFIX.parse().map_err(|_| "bad prefix")?;
    if !base.is_prefix_of(name) || name.len() <= base.len() {
        return Err(format!("{name} is not a strategy name"));
    }
    let which = name.get(base.len()).ok_or("no strategy component")?;
    let &(_, _, make) = REGISTRY
        .iter()
        .find(|(w, _, _)| w.as_bytes() == which.value())
        .ok_or_else(|| format!("unknown strategy {name}"))?;
    let mut pairs = Vec::new();
    for (i, k) in (base.len() + 1..name.len()).enumerate() {
        let c = name.get(k).ok_or("missing component")?;
        if i == 0 && c.as_version().is_some() {
            continue;
        }
        let text =
            std::str::from_utf8(c.value()).map_err(|_| format!("parameter {c} is not text"))?;
        let (key, value) = text
            .split_once('~')
            .ok_or_else(|| format!("parameter {text:?} is not key~value"))?;
        pairs.push((key.to_owned(), value.to_owned()));
    }
    make(&Parameters { pairs })
}

/// Names a strategy choice's instance: slot and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChoiceId {
    index: u32,
    generation: u32,
}

impl ChoiceId {
    /// No choice (a PIT entry not forwarded by a strategy).
    pub const NONE: Self = Self {
        index: u32::MAX,
        generation: 0,
    };
}

#[derive(Debug)]
struct Choice {
    prefix: Name,
    strategy: Box<dyn Strategy>,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    choice: Option<Choice>,
}

/// Prefix → strategy instance, with longest-prefix match. `/` always has a choice
/// (best-route by default) and cannot be unset.
#[derive(Debug)]
pub struct StrategyTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Keyed prefix hash → slot.
    index: HashTable<(u64, u32)>,
    max_depth: usize,
    hasher: NameHasher,
}

impl StrategyTable {
    /// A table with `/` → best-route.
    #[must_use]
    pub fn new(hasher: NameHasher) -> Self {
        let mut t = Self {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            max_depth: 0,
            hasher,
        };
        t.set(&Name::new(), BestRoute::boxed());
        t
    }

    fn choice(&self, index: u32) -> Option<&Choice> {
        self.slots.get(index as usize)?.choice.as_ref()
    }

    /// Sets the strategy of `prefix` (a new instance: the old one's state and ids are gone).
    pub fn set(&mut self, prefix: &Name, strategy: Box<dyn Strategy>) {
        let hash = prefix.full_hash(&self.hasher);
        let slots = &self.slots;
        let found = self.index.find(hash, |&(h, i)| {
            h == hash
                && slots[i as usize]
                    .choice
                    .as_ref()
                    .is_some_and(|c| c.prefix == *prefix)
        });
        if let Some(&(_, i)) = found {
            let slot = &mut self.slots[i as usize];
            slot.generation = slot.generation.wrapping_add(1);
            if let Some(c) = slot.choice.as_mut() {
                c.strategy = strategy;
            }
            return;
        }
        self.max_depth = self.max_depth.max(prefix.len());
        let choice = Choice {
            prefix: prefix.clone(),
            strategy,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].choice = Some(choice);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    choice: Some(choice),
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert_unique(hash, (hash, index), |&(h, _)| h);
    }

    /// Removes the choice of `prefix` (not of `/`). Returns true if there was one.
    pub fn unset(&mut self, prefix: &Name) -> bool {
        if prefix.is_empty() {
            return false;
        }
        let hash = prefix.full_hash(&self.hasher);
        let slots = &self.slots;
        let Ok(found) = self.index.find_entry(hash, |&(h, i)| {
            h == hash
                && slots[i as usize]
                    .choice
                    .as_ref()
                    .is_some_and(|c| c.prefix == *prefix)
        }) else {
            return false;
        };
        let ((_, i), _) = found.remove();
        let slot = &mut self.slots[i as usize];
        slot.choice = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(i);
        true
    }

    /// The choice governing a name with prefix hashes `hashes` (longest prefix).
    #[must_use]
    pub fn find(&self, name: &Name, hashes: &PrefixHashes) -> ChoiceId {
        for k in (0..=name.len().min(self.max_depth)).rev() {
            let wanted = name.prefix_value(k);
            let found = self.index.find(hashes[k], |&(h, i)| {
                h == hashes[k]
                    && self
                        .choice(i)
                        .is_some_and(|c| c.prefix.value_bytes().as_ref() == wanted)
            });
            if let Some(&(_, index)) = found {
                let generation = self.slots[index as usize].generation;
                return ChoiceId { index, generation };
            }
        }
        ChoiceId::NONE
    }

    /// The instance `id` names, if it is still the one installed.
    pub fn get_mut(&mut self, id: ChoiceId) -> Option<&mut dyn Strategy> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        Some(slot.choice.as_mut()?.strategy.as_mut())
    }

    /// The name of the strategy governing a name (tests, diagnostics).
    #[must_use]
    pub fn name_for(&self, name: &Name, hashes: &PrefixHashes) -> Option<Name> {
        let id = self.find(name, hashes);
        let slot = self.slots.get(id.index as usize)?;
        Some(slot.choice.as_ref()?.strategy.name())
    }

    /// Lets every instance age its state.
    pub fn housekeeping(&mut self, now: Instant) {
        for c in self.slots.iter_mut().filter_map(|s| s.choice.as_mut()) {
            c.strategy.housekeeping(now);
        }
    }

    /// Entries of state all instances keep (see [`Strategy::entries`]).
    #[must_use]
    pub fn entries(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.choice.as_ref())
            .map(|c| c.strategy.entries())
            .sum()
    }

    /// Number of choices.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Never true: `/` always has a choice.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// All choices (prefix, strategy instance name), sorted by prefix.
    #[must_use]
    pub fn list(&self) -> Vec<(Name, Name)> {
        let mut v: Vec<_> = self
            .slots
            .iter()
            .filter_map(|s| s.choice.as_ref())
            .map(|c| (c.prefix.clone(), c.strategy.name()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn created(s: &str) -> Result<Name, String> {
        create(&n(s)).map(|s| s.name())
    }

    #[test]
    fn names_parse_with_and_without_version() {
        for s in [
            "/localhost/nfd/strategy/multicast",
            "/localhost/nfd/strategy/multicast/v=4",
        ] {
            assert_eq!(created(s), Ok(versioned_name("multicast")));
        }
        assert_eq!(
            created("/localhost/nfd/strategy/best-route/v=5"),
            Ok(n("/localhost/nfd/strategy/best-route/v=5"))
        );
        assert_eq!(
            created("/localhost/nfd/strategy/load-balance"),
            Ok(n("/localhost/nfd/strategy/load-balance/v=1"))
        );
        assert!(created("/localhost/nfd/strategy/nope").is_err());
        assert!(created("/localhost/nfd/strategy/multicast/x").is_err());
        assert!(created("/localhost/nfd/strategy/multicast/v=4/a~1").is_err());
        assert!(created("/localhost/nfd/other/best-route").is_err());
    }

    #[test]
    fn asf_accepts_nfd_parameters() {
        assert_eq!(
            created("/localhost/nfd/strategy/asf"),
            Ok(n("/localhost/nfd/strategy/asf/v=5"))
        );
        assert_eq!(
            created("/localhost/nfd/strategy/asf/v=5/probing-interval~30000/max-timeouts~2"),
            Ok(n(
                "/localhost/nfd/strategy/asf/v=5/probing-interval~30000/max-timeouts~2"
            ))
        );
        // NFD's minimum probing interval is 1 s; unknown keys and junk are refused.
        assert!(created("/localhost/nfd/strategy/asf/v=5/probing-interval~10").is_err());
        assert!(created("/localhost/nfd/strategy/asf/v=5/max-timeouts~0").is_err());
        assert!(created("/localhost/nfd/strategy/asf/v=5/colour~red").is_err());
        assert!(created("/localhost/nfd/strategy/asf/v=5/probing-interval").is_err());
    }

    #[test]
    fn longest_prefix_choice_and_stale_ids() {
        let h = NameHasher::new();
        let mut t = StrategyTable::new(h.clone());
        t.set(&n("/a"), Multicast::boxed());
        let name = n("/a/b");
        let hashes = name.prefix_hashes(&h);
        assert_eq!(
            t.name_for(&name, &hashes),
            Some(versioned_name("multicast"))
        );
        let id = t.find(&name, &hashes);
        assert!(t.get_mut(id).is_some());
        // Replacing the instance invalidates ids of the old one.
        t.set(&n("/a"), LoadBalance::boxed());
        assert!(t.get_mut(id).is_none());
        let name = n("/b");
        assert_eq!(
            t.name_for(&name, &name.prefix_hashes(&h)),
            Some(versioned_name("best-route"))
        );
        assert!(t.unset(&n("/a")));
        assert!(!t.unset(&Name::new()));
        assert_eq!(t.list().len(), 1);
        // The freed slot is reused with a new generation.
        t.set(&n("/c"), Multicast::boxed());
        assert_eq!(t.list().len(), 2);
    }
}

//! Forwarding strategies and the strategy choice table.
//!
//! A strategy is one type implementing [`Strategy`], in a file of its own, registered once in
//! [`REGISTRY`] under its NFD name. The pipeline (`pipeline.rs`) keeps NFD's common rules —
//! scope, HopLimit, loop detection, retransmission suppression, "never back to the downstream",
//! skipping faces that are down — and hands each strategy only the next hops that pass them
//! ([`Context::hops`]). The strategy picks where to send; the pipeline sends.
//!
//! - **best-route** (`best_route.rs`, NFD's best-route v5): the cheapest next hop; retries
//!   others.
//! - **multicast** (`multicast.rs`, NFD's multicast v5): every next hop.
//! - **load-balance** (`load_balance.rs`, ours): the cheapest next hops in turn.
//! - **asf** (`asf.rs`, in the spirit of NFD's ASF v5): ranks next hops by measured RTT and
//!   failures, probes the others now and then.
//! - **random** (`random.rs`, NFD's random v1): one eligible next hop at random.
//! - **access** (`access.rs`, NFD's access v1): the last next hop that answered for the
//!   prefix, multicast to the others after its RTO; multicast when there is none.
//! - **self-learning** (`self_learning.rs`, NFD's self-learning v1): with no route, broadcast
//!   a discovery Interest and learn a route from the prefix announcement its Data brings back
//!   (the table side is `core/self_learning.rs`); with routes, every one, NonDiscovery.
//!
//! Names, versions and parameters follow NFD (`create`): best-route, multicast and asf take
//! NFD's retransmission suppression parameters (`retx-suppression-initial~<ms>`,
//! `retx-suppression-max~<ms>`, `retx-suppression-multiplier~<x>`) and, like NFD, ignore
//! keys they do not know; random, access, self-learning and load-balance take none. Refusals carry NFD's
//! status codes and texts (404 "Strategy not registered", 409 "Error instantiating
//! strategy: ...").
//!
//! Each strategy choice (a prefix in the table) has its own instance, so per-choice state (a
//! round-robin turn, ASF's measurements) lives in the instance and costs nothing elsewhere.
//! Instances are named by a [`ChoiceId`] (slot and generation) that PIT entries keep, so the
//! Data, Nack and timeout paths reach the strategy that forwarded an Interest without hashing
//! a name again; replacing or removing a choice invalidates the ids of its old instance.
//!
//! Suppression follows NFD's exponential suppression per PIT entry: by default the interval
//! starts at 10 ms and doubles up to 250 ms; each instance says its own ([`RetxSuppression`]).

pub mod access;
pub mod asf;
mod best_route;
mod load_balance;
mod multicast;
mod random;
mod self_learning;

use std::fmt;
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::{Name, NameHasher, PrefixHashes};
use smallvec::SmallVec;

use super::face::FaceId;
use super::fib::NextHop;
use super::pit::PitEntry;

pub use access::Access;
pub use asf::Asf;
pub use best_route::BestRoute;
pub use load_balance::LoadBalance;
pub use multicast::Multicast;
pub use random::Random;
pub use self_learning::SelfLearning;

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
    /// The Interest came with NDNLPv2 NonDiscovery (self-learning; false on retries).
    pub non_discovery: bool,
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
    /// Call [`Strategy::on_retry_timer`] after this long if the entry is still pending
    /// (access: the last working next hop's RTO). One timer per entry; a new one replaces it.
    pub retry_after: Option<Duration>,
    /// Send to every face that may take the Interest and is not local (self-learning's
    /// discovery broadcast; the pipeline knows the faces and adds them to `targets`).
    pub broadcast: bool,
    /// The Interests sent carry NonDiscovery (self-learning, along known routes).
    pub non_discovery: bool,
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

    /// Draws its random choices from `seed` from now on (the forwarder's seedable source, so
    /// that a forwarder made with [`crate::Forwarder::with_seed`] decides the same way
    /// every run). Strategies that draw nothing ignore it.
    fn reseed(&mut self, seed: u64) {
        let _ = seed;
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

    /// The retransmission suppression the pipeline applies to entries this instance
    /// forwards (asked only for a consumer's retransmission). By default NFD's.
    fn suppression(&self) -> RetxSuppression {
        RetxSuppression::default()
    }

    /// Whether entries this instance forwards take part in self-learning: the pipeline keeps
    /// NonDiscovery per record and hands their Data and Nacks to `core/self_learning.rs`.
    fn self_learning(&self) -> bool {
        false
    }

    /// A retry timer this instance asked for ([`Decision::retry_after`]) fired with the entry
    /// still pending: where to send the Interest now. By default nowhere.
    fn on_retry_timer(&mut self, ctx: &Context<'_>, decision: &mut Decision) {
        let _ = (ctx, decision);
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

/// A strategy's parameters, parsed from an instance name
/// `/localhost/nfd/strategy/<which>/v=<version>/<key>~<value>...` as NFD parses them: only
/// after a version component, each `key~value` with neither side empty; a key given twice
/// keeps its last value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters {
    /// `key~value` components after the version, in order.
    pub pairs: Vec<(String, String)>,
}

impl Parameters {
    /// The value of `key`, if given (the last one, as NFD's map keeps it).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// NFD's refusal of any parameter, for strategies that take none.
    ///
    /// # Errors
    /// `<class> does not accept parameters` when there are some.
    pub fn none_for(&self, class: &str) -> Result<(), String> {
        if self.pairs.is_empty() {
            Ok(())
        } else {
            Err(format!("{class} does not accept parameters"))
        }
    }

    /// A signed integer parameter (NFD's `getOrDefault<rep>`), or `default`.
    ///
    /// # Errors
    /// `<key> value is malformed`.
    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, String> {
        self.get(key).map_or(Ok(default), |v| {
            v.parse().map_err(|_| format!("{key} value is malformed"))
        })
    }

    /// An unsigned integer parameter (NFD's `getOrDefault<size_t>`), or `default`.
    ///
    /// # Errors
    /// `<key> cannot be negative`, `<key> value is malformed`.
    pub fn uint_or(&self, key: &str, default: u64) -> Result<u64, String> {
        self.get(key).map_or(Ok(default), |v| {
            if v.contains('-') {
                return Err(format!("{key} cannot be negative"));
            }
            v.parse().map_err(|_| format!("{key} value is malformed"))
        })
    }
}

/// Exponential retransmission suppression (NFD's `RetxSuppressionExponential`): a consumer
/// retransmission is suppressed if the Interest went upstream less than the current interval
/// ago; the interval starts at `initial` and is multiplied by `multiplier` (up to `max`)
/// each time a retransmission is let through. Kept per PIT entry by the pipeline; a strategy
/// says which values apply to the entries it forwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetxSuppression {
    /// First interval, ms (> 0).
    pub initial_ms: u64,
    /// Largest interval, ms (>= `initial_ms`).
    pub max_ms: u64,
    /// Growth factor (>= 1, finite).
    pub multiplier: f32,
}

impl Default for RetxSuppression {
    fn default() -> Self {
        Self {
            initial_ms: SUPPRESSION_INITIAL_MS,
            max_ms: SUPPRESSION_MAX_MS,
            multiplier: 2.0,
        }
    }
}

impl RetxSuppression {
    /// No suppression: every retransmission goes to the strategy (NFD's random strategy).
    pub const NONE: Self = Self {
        initial_ms: 0,
        max_ms: 0,
        multiplier: 1.0,
    };

    /// NFD's `RetxSuppressionFixed` with its default, 100 ms (the access strategy's).
    pub const FIXED_100MS: Self = Self {
        initial_ms: 100,
        max_ms: 100,
        multiplier: 1.0,
    };

    /// From NFD's parameters `retx-suppression-initial~<ms>`, `retx-suppression-max~<ms>`
    /// and `retx-suppression-multiplier~<x>`, with NFD's defaults (10 ms, 250 ms, 2) and
    /// its validity rules and messages.
    ///
    /// # Errors
    /// A malformed value, an initial interval that is not positive, a maximum below the
    /// initial interval, or a multiplier below 1 (or not a finite number).
    pub fn from_parameters(p: &Parameters) -> Result<Self, String> {
        let d = Self::default();
        let initial = p.int_or("retx-suppression-initial", d.initial_ms as i64)?;
        let max = p.int_or("retx-suppression-max", d.max_ms as i64)?;
        let multiplier = match p.get("retx-suppression-multiplier") {
            None => d.multiplier,
            Some(v) => v
                .parse::<f32>()
                .map_err(|_| "retx-suppression-multiplier value is malformed".to_owned())?,
        };
        let initial_ms = u64::try_from(initial)
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or("Retx suppression initial interval must be > 0")?;
        let max_ms = u64::try_from(max)
            .ok()
            .filter(|&ms| ms >= initial_ms)
            .ok_or("Retx suppression max interval must be >= initial interval")?;
        // NaN would pass NFD's `< 1` test and then poison every interval: refused too.
        if !multiplier.is_finite() || multiplier < 1.0 {
            return Err("Retx suppression multiplier must be >= 1".into());
        }
        Ok(Self {
            initial_ms,
            max_ms,
            multiplier,
        })
    }

    /// The interval after `current_ms` let a retransmission through.
    #[must_use]
    pub fn next_interval_ms(&self, current_ms: u64) -> u64 {
        // f64 holds every interval a u64 of ms can reasonably be; the cast saturates.
        let grown = (current_ms as f64 * f64::from(self.multiplier)) as u64;
        grown.min(self.max_ms)
    }
}

/// Why a strategy name was refused, as NFD's strategy choice table says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// No such strategy (or a version newer than ours): NFD's 404 "Strategy not registered".
    NotRegistered,
    /// The strategy refused its version or parameters: NFD's 409 "Error instantiating
    /// strategy: <why>".
    Invalid(String),
}

impl CreateError {
    /// The ControlResponse status code NFD answers with.
    #[must_use]
    pub fn status_code(&self) -> u64 {
        match self {
            Self::NotRegistered => 404,
            Self::Invalid(_) => 409,
        }
    }
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRegistered => f.write_str("Strategy not registered"),
            Self::Invalid(why) => write!(f, "Error instantiating strategy: {why}"),
        }
    }
}

/// What a constructor gets: the instance name (as it will be listed) and the parameters.
type Constructor = fn(Name, &Parameters) -> Result<Box<dyn Strategy>, String>;

/// Every strategy: its NFD name component, the version we implement, NFD's class name (for
/// its messages), and how to make one. Adding a strategy is a new file and a line here.
const REGISTRY: &[(&str, u64, &str, Constructor)] = &[
    ("best-route", 5, "BestRouteStrategy", BestRoute::create),
    ("multicast", 5, "MulticastStrategy", Multicast::create),
    ("load-balance", 1, "LoadBalanceStrategy", |name, p| {
        p.none_for("LoadBalanceStrategy")?;
        Ok(LoadBalance::boxed_named(name))
    }),
    ("asf", 5, "AsfStrategy", |name, p| {
        Asf::with_parameters(p).map(|a| a.named(name).boxed())
    }),
    ("random", 1, "RandomStrategy", |name, p| {
        p.none_for("RandomStrategy")?;
        Ok(Box::new(Random::new(name, rand::random())))
    }),
    ("access", 1, "AccessStrategy", |name, p| {
        p.none_for("AccessStrategy")?;
        Ok(Box::new(Access::new(name)))
    }),
    ("self-learning", 1, "SelfLearningStrategy", |name, p| {
        p.none_for("SelfLearningStrategy")?;
        Ok(Box::new(SelfLearning::new(name)))
    }),
];

/// The prefix of every strategy name.
const STRATEGY_PREFIX: &str = "/localhost/nfd/strategy";

/// The full name of registered strategy `which` (`/localhost/nfd/strategy/<which>/v=<n>`).
#[must_use]
pub fn versioned_name(which: &str) -> Name {
    let version = REGISTRY
        .iter()
        .find(|(w, ..)| *w == which)
        .map_or(1, |(_, v, ..)| *v);
    format!("{STRATEGY_PREFIX}/{which}/v={version}")
        .parse()
        .unwrap_or_default()
}

/// Makes the strategy a name asks for, with NFD's rules (`Strategy::parseInstanceName` and
/// the registry lookup): `/localhost/nfd/strategy/<which>` takes our version;
/// `/localhost/nfd/strategy/<which>/v=<n>[/<key>~<value>...]` must name our version (an older
/// one is refused by the strategy, a newer one is not registered) and the parameters go to
/// the strategy. Parameters without a version make a name no strategy is registered under.
/// The instance keeps the name as given (NFD's `makeInstanceName`), version added if absent.
///
/// # Errors
/// [`CreateError::NotRegistered`] or [`CreateError::Invalid`], as NFD would answer.
pub fn create(name: &Name) -> Result<Box<dyn Strategy>, CreateError> {
    let base: Name = STRATEGY_PREFIX
        .parse()
        .map_err(|_| CreateError::NotRegistered)?;
    let at = base.len();
    if !base.is_prefix_of(name) || name.len() <= at {
        return Err(CreateError::NotRegistered);
    }
    let which = name.get(at).ok_or(CreateError::NotRegistered)?;
    let &(_, ours, class, make) = REGISTRY
        .iter()
        .find(|(w, ..)| which.is_generic() && w.as_bytes() == which.value())
        .ok_or(CreateError::NotRegistered)?;
    // NFD splits at the last version component; it must follow the strategy's component.
    let version_at = (at + 1..name.len())
        .rev()
        .find(|&i| name.get(i).is_some_and(|c| c.as_version().is_some()));
    let (instance, params) = match version_at {
        None if name.len() == at + 1 => (name.append_version(ours), Parameters::default()),
        None => return Err(CreateError::NotRegistered),
        Some(i) if i != at + 1 => return Err(CreateError::NotRegistered),
        Some(i) => {
            let asked = name.get(i).and_then(|c| c.as_version()).unwrap_or(ours);
            if asked > ours {
                return Err(CreateError::NotRegistered);
            }
            if asked < ours {
                return Err(CreateError::Invalid(format!(
                    "{class} does not support version {asked}"
                )));
            }
            (name.clone(), parse_parameters(name, i + 1)?)
        }
    };
    make(instance, &params).map_err(CreateError::Invalid)
}

/// The `key~value` components of `name` from index `from`, with NFD's messages.
fn parse_parameters(name: &Name, from: usize) -> Result<Parameters, CreateError> {
    let mut pairs = Vec::new();
    for i in from..name.len() {
        let c = name.get(i).ok_or(CreateError::NotRegistered)?;
        let bad =
            || CreateError::Invalid("Strategy parameters format is (<parameter>~<value>)*".into());
        let text = std::str::from_utf8(c.value()).map_err(|_| bad())?;
        let (key, value) = text.split_once('~').ok_or_else(bad)?;
        if key.is_empty() || value.is_empty() {
            return Err(CreateError::Invalid(
                "Strategy parameter name and value cannot be empty".into(),
            ));
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(Parameters { pairs })
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
    #[must_use]
    pub fn get(&self, id: ChoiceId) -> Option<&dyn Strategy> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        Some(slot.choice.as_ref()?.strategy.as_ref())
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

    fn created(s: &str) -> Result<Name, CreateError> {
        create(&n(s)).map(|s| s.name())
    }

    fn invalid(s: &str) -> String {
        match created(s) {
            Err(e @ CreateError::Invalid(_)) => {
                assert_eq!(e.status_code(), 409);
                e.to_string()
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn names_and_versions_as_nfd_resolves_them() {
        for (which, v) in [
            ("best-route", 5),
            ("multicast", 5),
            ("load-balance", 1),
            ("asf", 5),
            ("random", 1),
            ("access", 1),
            ("self-learning", 1),
        ] {
            let versioned = n(&format!("/localhost/nfd/strategy/{which}/v={v}"));
            assert_eq!(versioned_name(which), versioned);
            assert_eq!(
                created(&format!("/localhost/nfd/strategy/{which}")),
                Ok(versioned.clone())
            );
            assert_eq!(created(&versioned.to_string()), Ok(versioned));
        }
        // Unknown names, newer versions, and parameters without a version: not registered.
        for s in [
            "/localhost/nfd/strategy/nope",
            "/localhost/nfd/strategy/self-learning/v=2",
            "/localhost/nfd/strategy/multicast/v=6",
            "/localhost/nfd/strategy/multicast/x",
            "/localhost/nfd/strategy/best-route/retx-suppression-initial~20",
            "/localhost/nfd/strategy/best-route/x/v=5",
            "/localhost/nfd/strategy",
            "/localhost/nfd/other/best-route",
        ] {
            let e = created(s).unwrap_err();
            assert_eq!(e, CreateError::NotRegistered, "{s}");
            assert_eq!(
                (e.status_code(), e.to_string()),
                (404, "Strategy not registered".into())
            );
        }
        // An older version is refused by the strategy, with NFD's text.
        assert_eq!(
            invalid("/localhost/nfd/strategy/multicast/v=4"),
            "Error instantiating strategy: MulticastStrategy does not support version 4"
        );
        assert_eq!(
            invalid("/localhost/nfd/strategy/best-route/v=5/x"),
            "Error instantiating strategy: Strategy parameters format is (<parameter>~<value>)*"
        );
        assert_eq!(
            invalid("/localhost/nfd/strategy/best-route/v=5/a~"),
            "Error instantiating strategy: Strategy parameter name and value cannot be empty"
        );
        assert_eq!(
            invalid("/localhost/nfd/strategy/self-learning/v=0"),
            "Error instantiating strategy: SelfLearningStrategy does not support version 0"
        );
        for (which, class) in [
            ("random", "Random"),
            ("access", "Access"),
            ("self-learning", "SelfLearning"),
        ] {
            assert_eq!(
                invalid(&format!("/localhost/nfd/strategy/{which}/v=1/a~1")),
                format!("Error instantiating strategy: {class}Strategy does not accept parameters")
            );
        }
    }

    #[test]
    fn retx_suppression_parameters_as_nfd_checks_them() {
        let s = "/localhost/nfd/strategy/best-route/v=5/retx-suppression-initial~20\
                 /retx-suppression-max~400/retx-suppression-multiplier~1.5";
        let strategy = create(&n(s)).unwrap();
        // The instance is listed by the name it was asked by.
        assert_eq!(strategy.name(), n(s));
        assert_eq!(
            strategy.suppression(),
            RetxSuppression {
                initial_ms: 20,
                max_ms: 400,
                multiplier: 1.5
            }
        );
        let m = create(&n(
            "/localhost/nfd/strategy/multicast/v=5/retx-suppression-max~100",
        ))
        .unwrap();
        assert_eq!(m.suppression().max_ms, 100);
        assert_eq!(m.suppression().initial_ms, SUPPRESSION_INITIAL_MS);
        // NFD's best-route and multicast ignore keys they do not know.
        assert!(created("/localhost/nfd/strategy/multicast/v=5/colour~red").is_ok());
        let base = "/localhost/nfd/strategy/best-route/v=5/";
        for (params, why) in [
            (
                "retx-suppression-initial~0",
                "Retx suppression initial interval must be > 0",
            ),
            (
                "retx-suppression-initial~-5",
                "Retx suppression initial interval must be > 0",
            ),
            (
                "retx-suppression-initial~soon",
                "retx-suppression-initial value is malformed",
            ),
            (
                "retx-suppression-initial~300",
                "Retx suppression max interval must be >= initial interval",
            ),
            (
                "retx-suppression-multiplier~0.5",
                "Retx suppression multiplier must be >= 1",
            ),
            (
                "retx-suppression-multiplier~NaN",
                "Retx suppression multiplier must be >= 1",
            ),
        ] {
            assert_eq!(
                invalid(&format!("{base}{params}")),
                format!("Error instantiating strategy: {why}"),
                "{params}"
            );
        }
        // Exponential growth, capped.
        let r = RetxSuppression::default();
        assert_eq!(r.next_interval_ms(10), 20);
        assert_eq!(r.next_interval_ms(200), 250);
        assert_eq!(RetxSuppression::NONE.next_interval_ms(0), 0);
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
        // NFD's minimum probing interval is 1 s; its ASF ignores unknown keys.
        assert_eq!(
            invalid("/localhost/nfd/strategy/asf/v=5/probing-interval~10"),
            "Error instantiating strategy: Probing interval must be >= 1000 milliseconds"
        );
        assert!(created("/localhost/nfd/strategy/asf/v=5/max-timeouts~0").is_err());
        assert_eq!(
            invalid("/localhost/nfd/strategy/asf/v=5/max-timeouts~-1"),
            "Error instantiating strategy: max-timeouts cannot be negative"
        );
        assert!(created("/localhost/nfd/strategy/asf/v=5/colour~red").is_ok());
        assert!(created("/localhost/nfd/strategy/asf/v=5/probing-interval").is_err());
        assert!(
            created(
                "/localhost/nfd/strategy/asf/v=5/probing-interval~20000/measurements-lifetime~10000"
            )
            .is_err()
        );
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

//! Forwarding strategies and the strategy choice table.
//!
//! - **best-route** (NFD's best-route): a new Interest goes to the cheapest eligible next hop;
//!   a consumer retransmission outside the suppression interval goes to the cheapest next hop
//!   not tried yet (else the one tried longest ago); a Nack from upstream moves on to an
//!   untried next hop; when none is left the downstream gets a Nack (NoRoute if nothing could
//!   be tried at all).
//! - **multicast**: every eligible next hop, with the same retransmission suppression.
//! - **load-balance**: like best-route, except that a new Interest goes to the cheapest next
//!   hops in turn (round-robin among those of equal, lowest cost). It spreads requests over
//!   several instances of one SF. The only state is one turn counter per strategy choice
//!   (not per FIB or PIT entry), so it costs nothing where it is not chosen.
//!
//! Suppression follows NFD: the interval starts at 10 ms and doubles up to 250 ms.

use hashbrown::HashTable;
use nfwd_tlv::{Name, NameHasher, PrefixHashes};

/// First retransmission-suppression interval.
pub const SUPPRESSION_INITIAL_MS: u64 = 10;
/// Largest retransmission-suppression interval.
pub const SUPPRESSION_MAX_MS: u64 = 250;

/// A forwarding strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Cheapest next hop, retry others on retransmission or Nack.
    BestRoute,
    /// All next hops.
    Multicast,
    /// The cheapest next hops in turn; retries like best-route.
    LoadBalance,
}

impl Strategy {
    /// The strategy's name, as NFD lists it (with version).
    #[must_use]
    pub fn name(self) -> Name {
        let text = match self {
            Self::BestRoute => "/localhost/nfd/strategy/best-route/v=5",
            Self::Multicast => "/localhost/nfd/strategy/multicast/v=4",
            Self::LoadBalance => "/localhost/nfd/strategy/load-balance/v=1",
        };
        text.parse().unwrap_or_default()
    }

    /// The strategy a name asks for (with or without a version component).
    #[must_use]
    pub fn from_name(name: &Name) -> Option<Self> {
        let base: Name = "/localhost/nfd/strategy".parse().ok()?;
        if !base.is_prefix_of(name) || name.len() < base.len() + 1 {
            return None;
        }
        let which = name.get(base.len())?;
        let rest = name.len() - base.len() - 1;
        // At most one more component, and it must be a version.
        if rest > 1 || (rest == 1 && name.last()?.as_version().is_none()) {
            return None;
        }
        match which.value() {
            b"best-route" => Some(Self::BestRoute),
            b"multicast" => Some(Self::Multicast),
            b"load-balance" => Some(Self::LoadBalance),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Choice {
    prefix: Name,
    hash: u64,
    strategy: Strategy,
    /// Round-robin position of load-balance (wrapping; unused by other strategies).
    turn: u64,
}

/// Prefix → strategy, with longest-prefix match. `/` always has a choice (best-route by
/// default) and cannot be unset.
#[derive(Debug)]
pub struct StrategyTable {
    table: HashTable<Choice>,
    max_depth: usize,
    hasher: NameHasher,
}

impl StrategyTable {
    /// A table with `/` → best-route.
    #[must_use]
    pub fn new(hasher: NameHasher) -> Self {
        let mut t = Self {
            table: HashTable::new(),
            max_depth: 0,
            hasher,
        };
        t.set(&Name::new(), Strategy::BestRoute);
        t
    }

    /// Sets the strategy of `prefix`.
    pub fn set(&mut self, prefix: &Name, strategy: Strategy) {
        let hash = prefix.full_hash(&self.hasher);
        match self.table.find_mut(hash, |c| c.prefix == *prefix) {
            Some(c) => c.strategy = strategy,
            None => {
                self.max_depth = self.max_depth.max(prefix.len());
                let choice = Choice {
                    prefix: prefix.clone(),
                    hash,
                    strategy,
                    turn: 0,
                };
                self.table.insert_unique(hash, choice, |c| c.hash);
            }
        }
    }

    /// Removes the choice of `prefix` (not of `/`). Returns true if there was one.
    pub fn unset(&mut self, prefix: &Name) -> bool {
        if prefix.is_empty() {
            return false;
        }
        let hash = prefix.full_hash(&self.hasher);
        match self.table.find_entry(hash, |c| c.prefix == *prefix) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// The strategy for a name with prefix hashes `hashes`.
    #[must_use]
    pub fn find(&self, name: &Name, hashes: &PrefixHashes) -> Strategy {
        (0..=name.len().min(self.max_depth))
            .rev()
            .find_map(|k| {
                let wanted = name.prefix_value(k);
                self.table
                    .find(hashes[k], |c| c.prefix.value_bytes().as_ref() == wanted)
            })
            .map_or(Strategy::BestRoute, |c| c.strategy)
    }

    /// The next round-robin turn of the choice that governs `name` (the one [`Self::find`]
    /// returns), advancing it. Load-balance calls it once per new Interest.
    pub fn next_turn(&mut self, name: &Name, hashes: &PrefixHashes) -> u64 {
        for k in (0..=name.len().min(self.max_depth)).rev() {
            let wanted = name.prefix_value(k);
            if let Some(c) = self
                .table
                .find_mut(hashes[k], |c| c.prefix.value_bytes().as_ref() == wanted)
            {
                let turn = c.turn;
                c.turn = c.turn.wrapping_add(1);
                return turn;
            }
        }
        0
    }

    /// All choices, sorted by prefix.
    #[must_use]
    pub fn list(&self) -> Vec<(Name, Strategy)> {
        let mut v: Vec<_> = self
            .table
            .iter()
            .map(|c| (c.prefix.clone(), c.strategy))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_and_without_version() {
        for s in [
            "/localhost/nfd/strategy/multicast",
            "/localhost/nfd/strategy/multicast/v=4",
        ] {
            assert_eq!(
                Strategy::from_name(&s.parse().unwrap()),
                Some(Strategy::Multicast)
            );
        }
        assert_eq!(
            Strategy::from_name(&Strategy::BestRoute.name()),
            Some(Strategy::BestRoute)
        );
        assert_eq!(
            Strategy::from_name(&"/localhost/nfd/strategy/load-balance".parse().unwrap()),
            Some(Strategy::LoadBalance)
        );
        assert_eq!(
            Strategy::from_name(&Strategy::LoadBalance.name()),
            Some(Strategy::LoadBalance)
        );
        assert_eq!(
            Strategy::from_name(&"/localhost/nfd/strategy/nope".parse().unwrap()),
            None
        );
        assert_eq!(
            Strategy::from_name(&"/localhost/nfd/strategy/multicast/x".parse().unwrap()),
            None
        );
    }

    #[test]
    fn longest_prefix_choice() {
        let h = NameHasher::new();
        let mut t = StrategyTable::new(h.clone());
        t.set(&"/a".parse().unwrap(), Strategy::Multicast);
        let n: Name = "/a/b".parse().unwrap();
        assert_eq!(t.find(&n, &n.prefix_hashes(&h)), Strategy::Multicast);
        let n: Name = "/b".parse().unwrap();
        assert_eq!(t.find(&n, &n.prefix_hashes(&h)), Strategy::BestRoute);
        assert!(t.unset(&"/a".parse().unwrap()));
        assert!(!t.unset(&Name::new()));
        assert_eq!(t.list().len(), 1);
    }
}

//! The FIB: name prefix → next hops with costs, looked up by longest-prefix match.
//!
//! Entries live in a `hashbrown::HashTable` keyed by the keyed hash of their prefix. A lookup
//! takes the packet's precomputed prefix hashes (`Name::prefix_hashes`, one pass over the name)
//! and probes from the longest candidate prefix down, so no component is hashed twice. Probing
//! starts at the depth of the deepest entry, which bounds the work for long names.

use hashbrown::HashTable;
use nfwd_tlv::{Name, NameHasher, PrefixHashes};
use smallvec::SmallVec;

use super::face::FaceId;

/// One next hop of a FIB entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// The face.
    pub face: FaceId,
    /// Its cost (lower is preferred).
    pub cost: u64,
    /// An application on this node that registered the prefix itself (see `rib::Route`).
    pub hosted: bool,
}

/// A FIB entry: a prefix and its next hops, sorted by cost then face id.
#[derive(Debug, Clone)]
pub struct FibEntry {
    /// The prefix.
    pub prefix: Name,
    hash: u64,
    /// Next hops, cheapest first.
    pub next_hops: SmallVec<[NextHop; 4]>,
}

impl FibEntry {
    /// The keyed hash of the prefix (what per-prefix measurements are keyed by).
    #[must_use]
    pub fn prefix_hash(&self) -> u64 {
        self.hash
    }
}

/// The forwarding information base.
#[derive(Debug)]
pub struct Fib {
    table: HashTable<FibEntry>,
    /// Number of entries at each depth; `max_depth` is the deepest non-zero.
    depth_counts: Vec<usize>,
    hasher: NameHasher,
}

impl Fib {
    /// An empty FIB that hashes names with `hasher` (shared with the other name tables so a
    /// packet's prefix hashes are computed once).
    #[must_use]
    pub fn new(hasher: NameHasher) -> Self {
        Self {
            table: HashTable::new(),
            depth_counts: Vec::new(),
            hasher,
        }
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True if there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn max_depth(&self) -> usize {
        self.depth_counts.len().saturating_sub(1)
    }

    /// Longest-prefix match for a name whose prefix hashes are `hashes`.
    #[must_use]
    pub fn longest_prefix_match(&self, name: &Name, hashes: &PrefixHashes) -> Option<&FibEntry> {
        let deepest = name.len().min(self.max_depth());
        (0..=deepest).rev().find_map(|k| {
            if self.depth_counts.get(k).copied().unwrap_or(0) == 0 {
                return None;
            }
            let wanted = name.prefix_value(k);
            self.table
                .find(hashes[k], |e| e.prefix.value_bytes().as_ref() == wanted)
        })
    }

    /// The entry for exactly `prefix`.
    #[must_use]
    pub fn get(&self, prefix: &Name) -> Option<&FibEntry> {
        let h = prefix.full_hash(&self.hasher);
        self.table.find(h, |e| e.prefix == *prefix)
    }

    /// Adds or updates the next hop `face` of `prefix`.
    pub fn add_next_hop(&mut self, prefix: &Name, face: FaceId, cost: u64, hosted: bool) {
        let h = prefix.full_hash(&self.hasher);
        let entry = match self.table.find_mut(h, |e| e.prefix == *prefix) {
            Some(e) => e,
            None => {
                let depth = prefix.len();
                if self.depth_counts.len() <= depth {
                    self.depth_counts.resize(depth + 1, 0);
                }
                self.depth_counts[depth] += 1;
                let fresh = FibEntry {
                    prefix: prefix.clone(),
                    hash: h,
                    next_hops: SmallVec::new(),
                };
                self.table.insert_unique(h, fresh, |e| e.hash).into_mut()
            }
        };
        entry.next_hops.retain(|n| n.face != face);
        entry.next_hops.push(NextHop { face, cost, hosted });
        entry.next_hops.sort_by_key(|n| (n.cost, n.face));
    }

    /// Removes next hop `face` from `prefix`; the entry goes when its last next hop does.
    /// Adds or updates (`Some((cost, hosted))`) or removes (`None`) a next hop: what the
    /// RIB decided, or another shard did.
    pub fn set_next_hop(&mut self, prefix: &Name, face: FaceId, attrs: Option<(u64, bool)>) {
        match attrs {
            Some((cost, hosted)) => self.add_next_hop(prefix, face, cost, hosted),
            None => {
                self.remove_next_hop(prefix, face);
            }
        }
    }

    /// Returns true if something was removed.
    pub fn remove_next_hop(&mut self, prefix: &Name, face: FaceId) -> bool {
        let h = prefix.full_hash(&self.hasher);
        let Ok(mut occupied) = self.table.find_entry(h, |e| e.prefix == *prefix) else {
            return false;
        };
        let entry = occupied.get_mut();
        let before = entry.next_hops.len();
        entry.next_hops.retain(|n| n.face != face);
        let removed = entry.next_hops.len() != before;
        if entry.next_hops.is_empty() {
            let depth = entry.prefix.len();
            occupied.remove();
            self.forget_depth(depth);
        }
        removed
    }

    fn forget_depth(&mut self, depth: usize) {
        if let Some(c) = self.depth_counts.get_mut(depth) {
            *c = c.saturating_sub(1);
        }
        while self.depth_counts.last() == Some(&0) {
            self.depth_counts.pop();
        }
    }

    /// Removes `face` from every entry (the face closed).
    pub fn remove_face(&mut self, face: FaceId) {
        let mut emptied = Vec::new();
        self.table.retain(|e| {
            e.next_hops.retain(|n| n.face != face);
            if e.next_hops.is_empty() {
                emptied.push(e.prefix.len());
                false
            } else {
                true
            }
        });
        for depth in emptied {
            self.forget_depth(depth);
        }
    }

    /// All entries (unordered).
    pub fn iter(&self) -> impl Iterator<Item = &FibEntry> {
        self.table.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn lpm<'a>(fib: &'a Fib, h: &NameHasher, name: &str) -> Option<&'a FibEntry> {
        let name = n(name);
        fib.longest_prefix_match(&name, &name.prefix_hashes(h))
    }

    #[test]
    fn longest_prefix_wins_and_removal_falls_back() {
        let h = NameHasher::new();
        let mut fib = Fib::new(h.clone());
        fib.add_next_hop(&n("/"), FaceId(300), 10, false);
        fib.add_next_hop(&n("/a"), FaceId(301), 5, false);
        fib.add_next_hop(&n("/a/b/c"), FaceId(302), 1, false);
        assert_eq!(lpm(&fib, &h, "/a/b/c/d").unwrap().prefix, n("/a/b/c"));
        assert_eq!(lpm(&fib, &h, "/a/b").unwrap().prefix, n("/a"));
        assert_eq!(lpm(&fib, &h, "/x").unwrap().prefix, n("/"));
        assert!(fib.remove_next_hop(&n("/a/b/c"), FaceId(302)));
        assert_eq!(lpm(&fib, &h, "/a/b/c/d").unwrap().prefix, n("/a"));
        fib.remove_face(FaceId(300));
        assert!(lpm(&fib, &h, "/x").is_none());
        assert_eq!(fib.len(), 1);
    }

    #[test]
    fn next_hops_sorted_by_cost_and_updated_in_place() {
        let mut fib = Fib::new(NameHasher::new());
        fib.add_next_hop(&n("/p"), FaceId(400), 20, false);
        fib.add_next_hop(&n("/p"), FaceId(401), 10, false);
        fib.add_next_hop(&n("/p"), FaceId(400), 5, false);
        let faces: Vec<_> = fib
            .get(&n("/p"))
            .unwrap()
            .next_hops
            .iter()
            .map(|h| h.face)
            .collect();
        assert_eq!(faces, [FaceId(400), FaceId(401)]);
    }

    #[test]
    fn component_boundaries_are_respected() {
        let h = NameHasher::new();
        let mut fib = Fib::new(h.clone());
        fib.add_next_hop(&n("/ab"), FaceId(500), 0, false);
        assert!(lpm(&fib, &h, "/a/b").is_none());
        assert!(lpm(&fib, &h, "/abc").is_none());
    }
}

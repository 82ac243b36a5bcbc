//! The busy slots of one vCPU with an index of the idle gaps between them, so a search for an
//! idle period of a given length skips a run of too-short gaps in O(log n) instead of looking
//! at every slot (SF-CUV pre-allocates long clusters, back to back, to one vCPU).
//!
//! The index only tells which slots a search may skip: the searches still decide with their
//! own comparisons, so they return the same floats as a slot-by-slot walk.

use super::{EPS, Slot};

#[derive(Debug, Clone, Default)]
pub(super) struct VcpuSlots {
    /// Sorted by start, disjoint.
    slots: Vec<Slot>,
    /// Max tree over the gaps: leaf `i` is `slots[i].start - slots[i - 1].finish` (`+inf`
    /// for `i = 0` and for a NaN gap, so that neither is ever skipped), padding leaves `-inf`;
    /// node `n` is the max of nodes `2n` and `2n + 1`. Empty until the first slot.
    tree: Vec<f64>,
    /// Are the finishes non-decreasing? Skipping relies on it; slots shorter than `EPS` could
    /// break it, and then the index is not used for this vCPU.
    sorted_finishes: bool,
}

impl VcpuSlots {
    pub(super) fn new() -> Self {
        Self {
            slots: Vec::new(),
            tree: Vec::new(),
            sorted_finishes: true,
        }
    }

    pub(super) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Number of leaves of the tree (a power of two), 0 before the first slot.
    fn capacity(&self) -> usize {
        self.tree.len() / 2
    }

    fn leaf(&self, i: usize) -> f64 {
        match i.checked_sub(1) {
            None => f64::INFINITY,
            Some(prev) => {
                let gap = self.slots[i].start - self.slots[prev].finish;
                if gap.is_nan() { f64::INFINITY } else { gap }
            }
        }
    }

    /// Inserts `slot` after every slot starting no later than it.
    pub(super) fn insert(&mut self, slot: Slot) {
        let at = self.slots.partition_point(|s| s.start <= slot.start);
        self.slots.insert(at, slot);
        let n = self.slots.len();
        let before_ok = at == 0 || self.slots[at - 1].finish <= slot.finish;
        let after_ok = at + 1 == n || slot.finish <= self.slots[at + 1].finish;
        if !(before_ok && after_ok) {
            self.sorted_finishes = false;
        }
        if !self.sorted_finishes {
            return;
        }
        if n > self.capacity() {
            let cap = n.next_power_of_two().max(8);
            self.tree = vec![f64::NEG_INFINITY; 2 * cap];
            self.update_from(0);
        } else {
            // The new slot's leaf and every later one (shifted) change; earlier ones do not.
            self.update_from(at);
        }
    }

    /// Recomputes leaves `from..len` and their ancestors.
    fn update_from(&mut self, from: usize) {
        let cap = self.capacity();
        let n = self.slots.len();
        for i in from..n {
            self.tree[cap + i] = self.leaf(i);
        }
        let (mut lo, mut hi) = ((cap + from) / 2, (cap + n - 1) / 2);
        while lo >= 1 {
            for node in lo..=hi {
                self.tree[node] = self.tree[2 * node].max(self.tree[2 * node + 1]);
            }
            if lo == 1 {
                break;
            }
            (lo, hi) = (lo / 2, hi / 2);
        }
    }

    /// The largest `k >= j` such that every gap before slots `j + 1 ..= k` is certainly
    /// shorter than `duration` by more than the searches' slack (`3 EPS` plus a rounding margin
    /// relative to the times involved): no start in those gaps can fit a run of `duration`.
    /// Returns `j` when the index is off or cannot tell.
    pub(super) fn last_too_short(&self, j: usize, duration: f64) -> usize {
        let n = self.slots.len();
        if !self.sorted_finishes || j + 1 >= n {
            return j;
        }
        let horizon = self.slots[n - 1]
            .finish
            .abs()
            .max(self.slots[0].start.abs());
        let theta = duration - 3.0 * EPS - 1e-12 * (1.0 + horizon + duration.abs());
        if theta.is_nan() {
            return j;
        }
        match self.first_at_least(j + 1, theta) {
            Some(i) => i - 1,
            None => n - 1,
        }
    }

    /// The first leaf at or after `from` that is not below `theta`, if any.
    fn first_at_least(&self, from: usize, theta: f64) -> Option<usize> {
        let cap = self.capacity();
        let mut node = cap + from;
        loop {
            if self.tree[node] >= theta {
                while node < cap {
                    node = if self.tree[2 * node] >= theta {
                        2 * node
                    } else {
                        2 * node + 1
                    };
                }
                let i = node - cap;
                return (i < self.slots.len()).then_some(i);
            }
            // Climb while a right child; then move to the next subtree on the right.
            while node & 1 == 1 {
                if node == 1 {
                    return None;
                }
                node >>= 1;
            }
            node += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(pairs: &[(f64, f64)]) -> VcpuSlots {
        let mut v = VcpuSlots::new();
        for &(start, finish) in pairs {
            v.insert(Slot { start, finish });
        }
        v
    }

    /// `last_too_short` against the definition, slot by slot.
    fn naive(v: &VcpuSlots, j: usize, duration: f64) -> usize {
        let s = v.slots();
        let horizon = s[s.len() - 1].finish.abs().max(s[0].start.abs());
        let theta = duration - 3.0 * EPS - 1e-12 * (1.0 + horizon + duration.abs());
        let mut k = j;
        while k + 1 < s.len() && s[k + 1].start - s[k].finish < theta {
            k += 1;
        }
        k
    }

    #[test]
    fn skips_exactly_the_short_gaps() {
        // Gaps (after slot 0): 1, 0, 5, 0.5, 2, then 10 gaps of 0.25 and one of 3.
        let mut pairs = vec![
            (0.0, 1.0),
            (2.0, 3.0),
            (3.0, 4.0),
            (9.0, 10.0),
            (10.5, 11.0),
            (13.0, 14.0),
        ];
        let mut t = 14.0;
        for _ in 0..10 {
            pairs.push((t + 0.25, t + 1.0));
            t += 1.0;
        }
        pairs.push((t + 3.0, t + 4.0));
        // Out of order, as insertion-based placement inserts.
        pairs.reverse();
        pairs.swap(3, 9);
        let v = slots(&pairs);
        for j in 0..v.slots().len() {
            for duration in [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0] {
                assert_eq!(
                    v.last_too_short(j, duration),
                    naive(&v, j, duration),
                    "j {j}, duration {duration}"
                );
            }
        }
        assert_eq!(v.last_too_short(0, 6.0), v.slots().len() - 1);
        assert_eq!(v.last_too_short(5, 2.0), 15);
    }

    #[test]
    fn a_nan_duration_or_unsorted_finishes_skip_nothing() {
        let v = slots(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]);
        assert_eq!(v.last_too_short(0, f64::NAN), 0);
        assert_eq!(v.last_too_short(0, 5.0), 2);
        // A zero-length slot inside another's slack: finishes no longer sorted.
        let v = slots(&[(0.0, 1.0), (1.0, 2.0), (0.5, 0.5)]);
        assert_eq!(v.last_too_short(0, 5.0), 0);
    }
}

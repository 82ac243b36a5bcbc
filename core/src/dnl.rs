//! The dead nonce list: (name, stack, nonce) triples of Interests whose PIT entry is gone —
//! expired, rejected, or satisfied by Data the content store will not answer a copy with —
//! so a looping copy that arrives after its PIT entry is gone is still recognised. Bounded in
//! entries and in time (NFD keeps nonces about 6 s).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Capacity kept however small the list gets, so that steady traffic never reallocates.
const SHRINK_SLACK: usize = 4096;

/// The dead nonce list.
#[derive(Debug)]
pub struct DeadNonceList {
    set: HashSet<u64>,
    order: VecDeque<(Instant, u64)>,
    lifetime: Duration,
    max_entries: usize,
}

impl DeadNonceList {
    /// A list remembering nonces for `lifetime`, at most `max_entries` at once.
    #[must_use]
    pub fn new(lifetime: Duration, max_entries: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            lifetime,
            max_entries,
        }
    }

    /// How long a nonce is remembered.
    #[must_use]
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Key of a (name+stack hash, nonce) pair.
    #[must_use]
    pub fn key(name_chain_hash: u64, nonce: [u8; 4]) -> u64 {
        name_chain_hash ^ u64::from(u32::from_be_bytes(nonce)).wrapping_mul(0xff51_afd7_ed55_8ccd)
    }

    /// Remembers `key` from `now`.
    pub fn insert(&mut self, key: u64, now: Instant) {
        if self.max_entries == 0 {
            return;
        }
        if self.set.insert(key) {
            self.order.push_back((now + self.lifetime, key));
        }
        while self.order.len() > self.max_entries {
            if let Some((_, old)) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// True if `key` is remembered.
    #[must_use]
    pub fn contains(&self, key: u64) -> bool {
        self.set.contains(&key)
    }

    /// Forgets what is older than its lifetime.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, key)) = self.order.front() {
            if deadline > now {
                break;
            }
            self.order.pop_front();
            self.set.remove(&key);
        }
        // After a burst (a flood's nonces) give the memory back: tables never shrink on
        // their own, and a peak of a million nonces holds tens of MiB.
        let len = self.order.len();
        if self.order.capacity() > 4 * len + SHRINK_SLACK {
            self.order.shrink_to(2 * len);
            self.set.shrink_to(2 * len);
        }
    }

    /// Number of remembered nonces.
    #[must_use]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True if nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_for_its_lifetime_and_within_its_bound() {
        let now = Instant::now();
        let mut dnl = DeadNonceList::new(Duration::from_secs(6), 2);
        dnl.insert(1, now);
        dnl.insert(2, now);
        assert!(dnl.contains(1) && dnl.contains(2));
        dnl.insert(3, now);
        assert!(!dnl.contains(1), "oldest dropped at the bound");
        dnl.expire(now + Duration::from_secs(7));
        assert!(dnl.is_empty());
    }

    #[test]
    fn gives_memory_back_after_a_burst() {
        let now = Instant::now();
        let mut dnl = DeadNonceList::new(Duration::from_secs(6), 1 << 20);
        for k in 0..200_000 {
            dnl.insert(k, now);
        }
        assert!(dnl.order.capacity() >= 200_000);
        dnl.expire(now + Duration::from_secs(7));
        assert!(
            dnl.order.capacity() <= SHRINK_SLACK * 2,
            "{}",
            dnl.order.capacity()
        );
        assert!(
            dnl.set.capacity() <= SHRINK_SLACK * 2,
            "{}",
            dnl.set.capacity()
        );
    }
}

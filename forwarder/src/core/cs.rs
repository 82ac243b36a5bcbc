//! The content store: recently forwarded Data, bounded in packets, least recently used first
//! out (the `lru` crate).
//!
//! Entries are keyed by (name, function stack) — a function result is only ever returned for
//! the identical chain (`docs/protocol.md` §3). Exact-name lookups go through the LRU's hash
//! table with the packet's precomputed hash; CanBePrefix lookups scan an ordered index from the
//! Interest name. The index orders names by their encoded bytes, not canonically: component
//! headers carry lengths, so the names under a prefix are exactly the byte strings that start
//! with the prefix's bytes, contiguous from it — and comparing is one `memcmp`.
//!
//! Stored packets are compact copies, so a cached Data never pins a larger receive buffer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;
use nfwd_tlv::types::{content_type, tt};
use nfwd_tlv::{Data, Interest, Name};

use super::keys::PrehashedBuild;

/// How many candidates a CanBePrefix lookup examines at most, so a lookup under a crowded
/// prefix has bounded cost.
const PREFIX_SCAN_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    hash: u64,
    name: Name,
    chain: Option<Bytes>,
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// (stack, name TLV-VALUE): ordered bytewise.
type OrderKey = (Option<Bytes>, Bytes);

#[derive(Debug)]
struct Entry {
    data: Data,
    stale_at: Instant,
    /// An application-level error (ContentType NACK): answered only while fresh
    /// (`docs/protocol.md` §5.3), never in preference to a result.
    error: bool,
}

impl Entry {
    /// May this entry answer an Interest with MustBeFresh `must_be_fresh` at `now`? Stale
    /// Data answers Interests without MustBeFresh, as in NFD — except errors: a failure must
    /// not outlive its FreshnessPeriod as an answer once the function has been fixed.
    fn answers(&self, must_be_fresh: bool, now: Instant) -> bool {
        now < self.stale_at || !(must_be_fresh || self.error)
    }
}

crate::metrics::counters! {
/// Counters of the content store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsCounters {
    /// Lookups answered.
    pub hits: u64,
    /// Lookups not answered.
    pub misses: u64,
    /// Data inserted (or refreshed).
    pub inserts: u64,
    /// Entries evicted for space.
    pub evictions: u64,
    /// Stale error Data removed when a lookup found them (they answer nothing any more).
    pub stale_errors: u64,
}
}

/// The content store.
#[derive(Debug)]
pub struct ContentStore {
    lru: LruCache<Key, Entry, PrehashedBuild>,
    ordered: BTreeMap<OrderKey, u64>,
    capacity: usize,
    /// Admit Data into the store (NFD's `cs/config` admit flag).
    pub admit: bool,
    /// Answer Interests from the store (NFD's serve flag).
    pub serve: bool,
    counters: CsCounters,
}

impl ContentStore {
    /// A store holding at most `capacity` packets (0 disables it).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            lru: LruCache::unbounded_with_hasher(PrehashedBuild),
            ordered: BTreeMap::new(),
            capacity,
            admit: true,
            serve: true,
            counters: CsCounters::default(),
        }
    }

    /// Number of stored packets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lru.len()
    }

    /// True if nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    /// The capacity in packets.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Counters.
    #[must_use]
    pub fn counters(&self) -> CsCounters {
        self.counters
    }

    /// Changes the capacity, evicting the least recently used entries if needed.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.shrink_to(capacity);
    }

    fn shrink_to(&mut self, capacity: usize) {
        while self.lru.len() > capacity {
            let Some((key, _)) = self.lru.pop_lru() else {
                break;
            };
            self.ordered
                .remove(&(key.chain, key.name.value_bytes().clone()));
            self.counters.evictions += 1;
        }
    }

    /// Stores `data`, whose (name, stack) hash is `key_hash`.
    pub fn insert(&mut self, data: &Data, key_hash: u64, now: Instant) {
        if !self.admit || self.capacity == 0 {
            return;
        }
        // Kept as received: the core copied the frame into a buffer of its own size on
        // arrival, so this pins no receive block (and needs no second copy or decode).
        let data = data.clone();
        let stale_at = now + Duration::from_millis(data.freshness_period_ms());
        let error = data.content_type() == content_type::NACK;
        let chain = data.function_chain().map(|c| c.value_bytes().clone());
        let order_key = (chain.clone(), data.name().value_bytes().clone());
        let key = Key {
            hash: key_hash,
            name: data.name().clone(),
            chain,
        };
        self.lru.put(
            key,
            Entry {
                data,
                stale_at,
                error,
            },
        );
        self.ordered.insert(order_key, key_hash);
        self.counters.inserts += 1;
        self.shrink_to(self.capacity);
    }

    /// Finds a stored Data satisfying `interest`. `name_hashes` are the Interest name's prefix
    /// hashes; `chain_hash` its stack's hash (see `keys`).
    pub fn lookup(
        &mut self,
        interest: &Interest,
        name_hashes: &nfwd_tlv::PrefixHashes,
        chain_hash: u64,
        now: Instant,
    ) -> Option<Data> {
        if !self.serve || self.lru.is_empty() {
            return None;
        }
        let found = self.find(interest, name_hashes, chain_hash, now);
        if found.is_some() {
            self.counters.hits += 1;
        } else {
            self.counters.misses += 1;
        }
        found
    }

    fn find(
        &mut self,
        interest: &Interest,
        name_hashes: &nfwd_tlv::PrefixHashes,
        chain_hash: u64,
        now: Instant,
    ) -> Option<Data> {
        let name = interest.name();
        let chain = interest.function_chain().map(|c| c.value_bytes().clone());
        let must_be_fresh = interest.must_be_fresh();
        let ends_with_digest =
            name.last_type().map(u32::from) == Some(tt::IMPLICIT_SHA256_DIGEST_COMPONENT);
        if ends_with_digest || !interest.can_be_prefix() {
            let (data_name, hash) = if ends_with_digest {
                let hash = super::keys::combine(name_hashes[name.len() - 1], chain_hash);
                (name.parent(), hash)
            } else {
                let hash = super::keys::combine(name_hashes[name.len()], chain_hash);
                (name.clone(), hash)
            };
            let key = Key {
                hash,
                name: data_name,
                chain,
            };
            let e = self.lru.get(&key)?;
            if e.answers(must_be_fresh, now) {
                let digest_ok = !ends_with_digest || interest.matches(&e.data);
                return digest_ok.then(|| e.data.clone());
            }
            if e.error {
                self.remove(&key);
            }
            return None;
        }
        // CanBePrefix: names under the prefix follow it in the byte order of the index. A
        // result is preferred over an error found first (`/c` sorts before `/c/v=1`).
        let prefix = name.value_bytes();
        let start: OrderKey = (chain.clone(), prefix.clone());
        let mut hit = None;
        let mut error_hit = None;
        let mut stale_errors = Vec::new();
        for ((c, n), &hash) in self.ordered.range(start..).take(PREFIX_SCAN_LIMIT) {
            if *c != chain || !n.starts_with(prefix) {
                break;
            }
            let Ok(n) = Name::from_value(n.clone()) else {
                continue;
            };
            let key = Key {
                hash,
                name: n,
                chain: c.clone(),
            };
            let Some(e) = self.lru.peek(&key) else {
                continue;
            };
            if !e.answers(must_be_fresh, now) {
                if e.error {
                    stale_errors.push(key);
                }
            } else if !e.error {
                hit = Some(key);
                break;
            } else if error_hit.is_none() {
                error_hit = Some(key);
            }
        }
        for key in &stale_errors {
            self.remove(key);
        }
        let key = hit.or(error_hit)?;
        self.lru.get(&key).map(|e| e.data.clone())
    }

    /// Removes one entry (a stale error).
    fn remove(&mut self, key: &Key) {
        if self.lru.pop(key).is_some() {
            self.ordered
                .remove(&(key.chain.clone(), key.name.value_bytes().clone()));
            self.counters.stale_errors += 1;
        }
    }

    /// Removes entries under `prefix` (any stack), at most `limit`; returns how many.
    pub fn erase(&mut self, prefix: &Name, limit: usize) -> usize {
        let p = prefix.value_bytes();
        let victims: Vec<OrderKey> = self
            .ordered
            .keys()
            .filter(|(_, n)| n.starts_with(p))
            .take(limit)
            .cloned()
            .collect();
        for k in &victims {
            if let Some(hash) = self.ordered.remove(k)
                && let Ok(name) = Name::from_value(k.1.clone())
            {
                self.lru.pop(&Key {
                    hash,
                    name,
                    chain: k.0.clone(),
                });
            }
        }
        victims.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::{chain_hash, combine};
    use nfwd_tlv::{DataBuilder, FunctionChain, InterestBuilder, NameHasher, Signer};

    struct Fixture {
        cs: ContentStore,
        h: NameHasher,
        now: Instant,
    }

    impl Fixture {
        fn new(cap: usize) -> Self {
            Self {
                cs: ContentStore::new(cap),
                h: NameHasher::new(),
                now: Instant::now(),
            }
        }

        fn put(&mut self, name: &str, chain: Option<&str>, fresh_ms: u64) {
            self.put_typed(name, chain, fresh_ms, content_type::BLOB);
        }

        fn put_error(&mut self, name: &str, chain: Option<&str>, fresh_ms: u64) {
            self.put_typed(name, chain, fresh_ms, content_type::NACK);
        }

        fn put_typed(&mut self, name: &str, chain: Option<&str>, fresh_ms: u64, ct: u64) {
            let chain: Option<FunctionChain> = chain.map(|c| c.parse().unwrap());
            let d = DataBuilder::new(name.parse().unwrap(), &b"x"[..])
                .content_type(ct)
                .function_chain(chain.clone())
                .freshness_ms(fresh_ms)
                .build(&Signer::digest_sha256())
                .unwrap();
            let hash = combine(
                d.name().full_hash(&self.h),
                chain_hash(&self.h, chain.as_ref()),
            );
            self.cs.insert(&d, hash, self.now);
        }

        fn get(&mut self, name: &str, chain: Option<&str>, cbp: bool, mbf: bool) -> Option<Name> {
            let chain: Option<FunctionChain> = chain.map(|c| c.parse().unwrap());
            let i = InterestBuilder::new(name.parse().unwrap())
                .can_be_prefix(cbp)
                .must_be_fresh(mbf)
                .function_chain(chain.clone())
                .build()
                .unwrap();
            let hashes = i.name().prefix_hashes(&self.h);
            let ch = chain_hash(&self.h, chain.as_ref());
            self.cs
                .lookup(&i, &hashes, ch, self.now)
                .map(|d| d.name().clone())
        }
    }

    #[test]
    fn exact_prefix_and_chain_separation() {
        let mut f = Fixture::new(10);
        f.put("/c/seg=0", None, 1000);
        f.put("/c/seg=0", Some("/sf/F1"), 1000);
        assert!(f.get("/c/seg=0", None, false, false).is_some());
        assert!(f.get("/c/seg=0", Some("/sf/F1"), false, false).is_some());
        assert!(f.get("/c/seg=0", Some("/sf/F2"), false, false).is_none());
        assert!(
            f.get("/c", None, false, false).is_none(),
            "exact match only without CanBePrefix"
        );
        assert_eq!(
            f.get("/c", None, true, false).unwrap().to_string(),
            "/c/seg=0"
        );
        assert_eq!(
            f.get("/c", Some("/sf/F1"), true, false)
                .unwrap()
                .to_string(),
            "/c/seg=0"
        );
        assert!(f.get("/c", Some("/sf/F9"), true, false).is_none());
        assert_eq!(f.cs.counters().hits, 4);
    }

    #[test]
    fn freshness_and_eviction() {
        let mut f = Fixture::new(2);
        f.put("/a", None, 0);
        assert!(
            f.get("/a", None, false, true).is_none(),
            "FreshnessPeriod 0 is stale at once"
        );
        assert!(f.get("/a", None, false, false).is_some());
        f.put("/b", None, 10);
        f.now += Duration::from_millis(20);
        assert!(f.get("/b", None, false, true).is_none());
        f.put("/c", None, 10);
        f.put("/d", None, 10);
        assert_eq!(f.cs.len(), 2);
        assert!(
            f.get("/a", None, true, false).is_none(),
            "least recently used went first"
        );
        assert_eq!(f.cs.counters().evictions, 2);
        assert_eq!(f.cs.erase(&"/".parse().unwrap(), 10), 2);
        assert!(f.cs.is_empty());
    }

    #[test]
    fn implicit_digest_lookup() {
        let mut f = Fixture::new(10);
        let d = DataBuilder::new("/z".parse().unwrap(), &b"q"[..])
            .build(&Signer::digest_sha256())
            .unwrap();
        let hash = combine(d.name().full_hash(&f.h), 0);
        f.cs.insert(&d, hash, f.now);
        let full = d.full_name().to_string();
        assert!(f.get(&full, None, false, false).is_some());
        let mut wrong = full.clone();
        let flipped = if wrong.ends_with("00") { "11" } else { "00" };
        wrong.replace_range(wrong.len() - 2.., flipped);
        assert!(f.get(&wrong, None, false, false).is_none());
    }

    #[test]
    fn stale_errors_answer_nothing_and_results_win_over_errors() {
        let mut f = Fixture::new(10);
        f.put_error("/c", Some("/sf/F1"), 1000);
        assert!(
            f.get("/c", Some("/sf/F1"), false, false).is_some(),
            "a fresh error answers, with or without MustBeFresh"
        );
        f.now += Duration::from_millis(1500);
        assert!(
            f.get("/c", Some("/sf/F1"), false, false).is_none(),
            "a stale error answers nothing, even without MustBeFresh"
        );
        assert_eq!((f.cs.len(), f.cs.counters().stale_errors), (0, 1));

        // A prefix request: the error `/d` sorts before the result `/d/v=1`; the result wins
        // while the error is fresh, and the stale error goes when the scan meets it.
        f.put_error("/d", None, 1000);
        assert_eq!(f.get("/d", None, true, false).unwrap().to_string(), "/d");
        f.put("/d/v=1", None, 10_000);
        assert_eq!(
            f.get("/d", None, true, false).unwrap().to_string(),
            "/d/v=1"
        );
        f.now += Duration::from_millis(1500);
        assert_eq!(
            f.get("/d", None, true, false).unwrap().to_string(),
            "/d/v=1"
        );
        assert_eq!(f.cs.len(), 1, "the stale error was removed");
        // A stale result still answers without MustBeFresh, as in NFD.
        f.now += Duration::from_secs(20);
        assert!(f.get("/d/v=1", None, false, false).is_some());
        assert!(f.get("/d/v=1", None, false, true).is_none());
    }
}

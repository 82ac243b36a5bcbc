//! The content store: recently forwarded Data, bounded in packets, least recently used first
//! out.
//!
//! Entries are keyed by (name, function stack) — a function result is only ever returned for
//! the identical chain (`docs/protocol.md` §3). Exact-name lookups go through a hash table with
//! the packet's precomputed hash; CanBePrefix lookups scan an ordered index from the Interest
//! name. The index orders names by their encoded bytes, not canonically: component headers
//! carry lengths, so the names under a prefix are exactly the byte strings that start with the
//! prefix's bytes, contiguous from it — and comparing is one `memcmp`.
//!
//! An entry is the Data's wire as received and the few decoded facts lookups need (hash,
//! staleness time, error flag, where the name and stack lie in the wire): a decoded `Data`
//! view is several hundred bytes, the wire of a small Data less. Entries live in one slab
//! (`Vec<Slot>`) threaded by a doubly linked recency list of slab indices; the hash table and
//! the ordered index hold slab indices and slices of the stored wire, so nothing is duplicated
//! per entry but the index key's views of the wire's name and stack (views rather than
//! offsets: a key is compared a few dozen times per insert). `cargo run --release -p
//! nfwd-benches --bin cs_memory` measures the bytes per entry (`docs/benchmarks.md`).
//!
//! Stored packets are compact copies (frames reach the core as `Frame`s, copied to their own
//! size where the driver read them), so a cached Data never pins a larger receive buffer.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hashbrown::HashTable;
use nfwd_tlv::types::{content_type, tt};
use nfwd_tlv::{Data, Interest, Name};

/// How many candidates a CanBePrefix lookup examines at most, so a lookup under a crowded
/// prefix has bounded cost.
const PREFIX_SCAN_LIMIT: usize = 64;

/// No slot: the end of the recency list or of the free list.
const NIL: u32 = u32::MAX;

/// Where a key part (a name's or a stack's TLV-VALUE) lies in an entry's buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(self, buf: &[u8]) -> &[u8] {
        // Spans are made from the buffer they index, so the fallback is never taken.
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// The stack bytes of `chain`, absent if it is empty: a present stack never is (it holds at
/// least one non-empty function name), so an empty span stands for "no stack".
fn stack_of(buf: &[u8], chain: Span) -> Option<&[u8]> {
    (!chain.is_empty()).then(|| chain.of(buf))
}

/// One stored Data, or a free slab slot (empty `buf`, `next` linking the free list).
#[derive(Debug)]
struct Slot {
    /// The Data's wire (its first `wire_len` bytes), followed by the canonical name and stack
    /// bytes only when the wire's own were not canonical (non-minimal TLV headers, which
    /// decoding normalises): the key then differs from the received bytes.
    buf: Bytes,
    /// Prehashed (name, stack) key.
    hash: u64,
    stale_at: Instant,
    wire_len: u32,
    name: Span,
    /// Empty: no stack.
    chain: Span,
    /// Recency list neighbours: `prev` is more recent, `next` less.
    prev: u32,
    next: u32,
    /// An application-level error (ContentType NACK): answered only while fresh
    /// (`docs/protocol.md` §5.3), never in preference to a result.
    error: bool,
    /// The name is under `/localhost` (only sent to local faces).
    localhost: bool,
}

impl Slot {
    /// A slot holding nothing (`stale_at`: any time, to fill the field).
    fn free(stale_at: Instant) -> Self {
        Self {
            buf: Bytes::new(),
            hash: 0,
            stale_at,
            wire_len: 0,
            name: Span::default(),
            chain: Span::default(),
            prev: NIL,
            next: NIL,
            error: false,
            localhost: false,
        }
    }

    fn name(&self) -> &[u8] {
        self.name.of(&self.buf)
    }

    fn chain(&self) -> Option<&[u8]> {
        stack_of(&self.buf, self.chain)
    }

    fn has_key(&self, hash: u64, chain: Option<&[u8]>, name: &[u8]) -> bool {
        self.hash == hash && self.name() == name && self.chain() == chain
    }

    /// May this entry answer an Interest with MustBeFresh `must_be_fresh` at `now`? Stale
    /// Data answers Interests without MustBeFresh, as in NFD — except errors: a failure must
    /// not outlive its FreshnessPeriod as an answer once the function has been fixed.
    fn answers(&self, must_be_fresh: bool, now: Instant) -> bool {
        now < self.stale_at || !(must_be_fresh || self.error)
    }

    fn wire(&self) -> Bytes {
        self.buf.slice(..self.wire_len as usize)
    }

    fn order_key(&self) -> OrderKey {
        OrderKey::of(&self.buf, self.chain, self.name)
    }
}

/// Ordered index key: (stack, name TLV-VALUE), ordered bytewise (no stack first), each a view
/// of an entry's buffer (or of a probe's own copy). Views rather than offsets into one buffer:
/// the index compares keys a few dozen times per insert, and a view is read without the
/// bounds checks of an offset.
#[derive(Debug, Clone)]
struct OrderKey {
    chain: Option<Bytes>,
    name: Bytes,
}

impl OrderKey {
    /// The key of an entry whose buffer is `buf`.
    fn of(buf: &Bytes, chain: Span, name: Span) -> Self {
        let view = |span: Span| {
            let (start, end) = (span.start as usize, span.end as usize);
            // Spans are made from the buffer they index, so the fallback is never taken.
            if start <= end && end <= buf.len() {
                buf.slice(start..end)
            } else {
                Bytes::new()
            }
        };
        Self {
            chain: (!chain.is_empty()).then(|| view(chain)),
            name: view(name),
        }
    }

    /// A key that is not an entry's: where a scan for `name` under `chain` starts.
    fn probe(chain: Option<&[u8]>, name: &[u8]) -> Self {
        Self {
            chain: chain.map(Bytes::copy_from_slice),
            name: Bytes::copy_from_slice(name),
        }
    }

    fn chain(&self) -> Option<&[u8]> {
        self.chain.as_deref()
    }

    fn name(&self) -> &[u8] {
        &self.name
    }
}

impl PartialEq for OrderKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for OrderKey {}

impl PartialOrd for OrderKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderKey {
    /// As `(self.chain(), self.name())` compared with the same of `other`, written out: most
    /// keys have no stack.
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.chain, &other.chain) {
            (None, None) => {}
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => match a[..].cmp(&b[..]) {
                Ordering::Equal => {}
                unequal => return unequal,
            },
        }
        self.name[..].cmp(&other.name[..])
    }
}

/// Where `part` lies within `whole`, if it is a slice of it (what decoding makes of canonical
/// names and stacks).
fn span_within(whole: &[u8], part: &[u8]) -> Option<Span> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    if end > whole.len() {
        return None;
    }
    Some(Span {
        start: u32::try_from(start).ok()?,
        end: u32::try_from(end).ok()?,
    })
}

/// An entry's buffer and the spans of its name and stack in it: the wire itself when both are
/// slices of it, else the wire followed by copies of them. None beyond 4 GiB.
fn entry_buffer(wire: &Bytes, name: &[u8], chain: Option<&[u8]>) -> Option<(Bytes, Span, Span)> {
    let name_span = span_within(wire, name);
    let chain_span = match chain {
        None => Some(Span::default()),
        Some(c) => span_within(wire, c),
    };
    if let (Some(n), Some(c)) = (name_span, chain_span) {
        return Some((wire.clone(), n, c));
    }
    let chain = chain.unwrap_or_default();
    let mut buf = Vec::with_capacity(wire.len() + chain.len() + name.len());
    buf.extend_from_slice(wire);
    let chain_start = u32::try_from(buf.len()).ok()?;
    buf.extend_from_slice(chain);
    let name_start = u32::try_from(buf.len()).ok()?;
    buf.extend_from_slice(name);
    let end = u32::try_from(buf.len()).ok()?;
    let chain = Span {
        start: chain_start,
        end: name_start,
    };
    let name = Span {
        start: name_start,
        end,
    };
    Some((Bytes::from(buf), name, chain))
}

/// A Data found in the store: what answering with it needs.
#[derive(Debug, Clone)]
pub struct CachedData {
    /// The Data's wire, as received.
    pub wire: Bytes,
    /// Its name is under `/localhost`.
    pub localhost: bool,
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
    /// Entries and free slots.
    slots: Vec<Slot>,
    /// Slab indices of the entries, by (name, stack) hash.
    table: HashTable<u32>,
    /// Slab indices of the entries, by (stack, name) bytes.
    ordered: BTreeMap<OrderKey, u32>,
    /// Most recently used entry.
    head: u32,
    /// Least recently used entry: the next evicted.
    tail: u32,
    /// First free slot.
    free: u32,
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
            slots: Vec::new(),
            table: HashTable::new(),
            ordered: BTreeMap::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            capacity,
            admit: true,
            serve: true,
            counters: CsCounters::default(),
        }
    }

    /// Number of stored packets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True if nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
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
        if self.slots.len() > 2 * capacity.max(1) {
            self.compact_slab();
        }
    }

    fn shrink_to(&mut self, capacity: usize) {
        while self.len() > capacity && self.tail != NIL {
            self.remove(self.tail);
            self.counters.evictions += 1;
        }
    }

    /// Gives back the slab's free slots after a capacity cut: the entries move to the front
    /// of a new slab, in recency order.
    fn compact_slab(&mut self) {
        let mut entries = Vec::with_capacity(self.len());
        let mut i = self.head;
        while i != NIL {
            let slot = &mut self.slots[i as usize];
            i = slot.next;
            let free = Slot::free(slot.stale_at);
            entries.push(std::mem::replace(slot, free));
        }
        self.slots = Vec::with_capacity(entries.len());
        self.table = HashTable::new();
        self.ordered.clear();
        (self.head, self.tail, self.free) = (NIL, NIL, NIL);
        // Least recent first, each pushed to the front: the order is kept.
        for slot in entries.into_iter().rev() {
            self.add(slot);
        }
    }

    /// Stores `data`, whose (name, stack) hash is `key_hash`.
    /// Stores `data` (or refreshes its entry); returns whether it is now in the store.
    pub fn insert(&mut self, data: &Data, key_hash: u64, now: Instant) -> bool {
        if !self.admit || self.capacity == 0 {
            return false;
        }
        let name = data.name().value_bytes().as_ref();
        let chain = data.function_chain().map(|c| c.value_bytes().as_ref());
        // Kept as received: the core copied the frame into a buffer of its own size on
        // arrival, so this pins no receive block (and needs no second copy or decode).
        let wire = data.wire();
        let (Ok(wire_len), Some((buf, name_span, chain_span))) =
            (u32::try_from(wire.len()), entry_buffer(wire, name, chain))
        else {
            return false;
        };
        let slot = Slot {
            buf,
            hash: key_hash,
            stale_at: now + Duration::from_millis(data.freshness_period_ms()),
            wire_len,
            name: name_span,
            chain: chain_span,
            prev: NIL,
            next: NIL,
            error: data.content_type() == content_type::NACK,
            localhost: super::pipeline::is_localhost(data.name()),
        };
        self.counters.inserts += 1;
        if let Some(i) = self.find_slot(key_hash, chain, name) {
            // A refresh: the index key goes too, so it does not keep the old wire alive.
            self.remove(i);
        } else if self.len() >= self.capacity {
            self.shrink_to(self.capacity - 1);
        }
        self.add(slot);
        true
    }

    /// Adds an entry known to be absent, as the most recent.
    fn add(&mut self, slot: Slot) {
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.slots[i as usize].next;
            self.slots[i as usize] = slot;
            i
        } else {
            // Slab indices are u32 (NIL excluded); a store that large keeps what it has.
            let Some(i) = u32::try_from(self.slots.len()).ok().filter(|&i| i != NIL) else {
                return;
            };
            self.slots.push(slot);
            i
        };
        let slots = &self.slots;
        let entry = &slots[i as usize];
        self.table
            .insert_unique(entry.hash, i, |&j| slots[j as usize].hash);
        self.ordered.insert(entry.order_key(), i);
        self.link_front(i);
    }

    /// Removes entry `i` from the list, the table and the index; frees its slot.
    fn remove(&mut self, i: u32) {
        self.unlink(i);
        let slot = &mut self.slots[i as usize];
        // The index key is rebuilt from the slot's own buffer, moved out rather than shared.
        let key = OrderKey::of(&std::mem::take(&mut slot.buf), slot.chain, slot.name);
        let hash = slot.hash;
        slot.next = self.free;
        self.free = i;
        if let Ok(e) = self.table.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        self.ordered.remove(&key);
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = &self.slots[i as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }

    fn link_front(&mut self, i: u32) {
        let old_head = self.head;
        let s = &mut self.slots[i as usize];
        s.prev = NIL;
        s.next = old_head;
        if old_head == NIL {
            self.tail = i;
        } else {
            self.slots[old_head as usize].prev = i;
        }
        self.head = i;
    }

    /// Marks entry `i` the most recently used.
    fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.link_front(i);
        }
    }

    fn find_slot(&self, hash: u64, chain: Option<&[u8]>, name: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.table
            .find(hash, |&j| slots[j as usize].has_key(hash, chain, name))
            .copied()
    }

    /// Finds a stored Data satisfying `interest`. `name_hashes` are the Interest name's prefix
    /// hashes; `chain_hash` its stack's hash (see `keys`).
    pub fn lookup(
        &mut self,
        interest: &Interest,
        name_hashes: &nfwd_tlv::PrefixHashes,
        chain_hash: u64,
        now: Instant,
    ) -> Option<CachedData> {
        if !self.serve || self.is_empty() {
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
    ) -> Option<CachedData> {
        let name = interest.name();
        let chain = interest.function_chain().map(|c| c.value_bytes().as_ref());
        let must_be_fresh = interest.must_be_fresh();
        let ends_with_digest =
            name.last_type().map(u32::from) == Some(tt::IMPLICIT_SHA256_DIGEST_COMPONENT);
        if ends_with_digest || !interest.can_be_prefix() {
            let (data_name, hash) = if ends_with_digest {
                let hash = super::keys::combine(name_hashes[name.len() - 1], chain_hash);
                (name.prefix_value(name.len() - 1), hash)
            } else {
                let hash = super::keys::combine(name_hashes[name.len()], chain_hash);
                (name.value_bytes().as_ref(), hash)
            };
            let i = self.find_slot(hash, chain, data_name)?;
            self.touch(i);
            let slot = &self.slots[i as usize];
            if slot.answers(must_be_fresh, now) {
                // Only the rare digest lookup decodes the stored wire, to hash it.
                let digest_ok = !ends_with_digest
                    || Data::decode(slot.wire()).is_ok_and(|d| interest.matches(&d));
                return digest_ok.then(|| Self::cached(slot));
            }
            if slot.error {
                self.remove(i);
                self.counters.stale_errors += 1;
            }
            return None;
        }
        // CanBePrefix: names under the prefix follow it in the byte order of the index. A
        // result is preferred over an error found first (`/c` sorts before `/c/v=1`).
        let prefix = name.value_bytes().as_ref();
        let start = OrderKey::probe(chain, prefix);
        let mut hit = None;
        let mut error_hit = None;
        let mut stale_errors: Vec<u32> = Vec::new();
        for (key, &i) in self.ordered.range(start..).take(PREFIX_SCAN_LIMIT) {
            if key.chain() != chain || !key.name().starts_with(prefix) {
                break;
            }
            let slot = &self.slots[i as usize];
            if !slot.answers(must_be_fresh, now) {
                if slot.error {
                    stale_errors.push(i);
                }
            } else if !slot.error {
                hit = Some(i);
                break;
            } else if error_hit.is_none() {
                error_hit = Some(i);
            }
        }
        for &i in &stale_errors {
            self.remove(i);
            self.counters.stale_errors += 1;
        }
        let i = hit.or(error_hit)?;
        self.touch(i);
        Some(Self::cached(&self.slots[i as usize]))
    }

    fn cached(slot: &Slot) -> CachedData {
        CachedData {
            wire: slot.wire(),
            localhost: slot.localhost,
        }
    }

    /// Removes entries under `prefix` (any stack), at most `limit`; returns how many.
    pub fn erase(&mut self, prefix: &Name, limit: usize) -> usize {
        let p = prefix.value_bytes().as_ref();
        let victims: Vec<u32> = self
            .ordered
            .iter()
            .filter(|(k, _)| k.name().starts_with(p))
            .map(|(_, &i)| i)
            .take(limit)
            .collect();
        for &i in &victims {
            self.remove(i);
        }
        victims.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{chain_hash, combine};
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
                .map(|c| Data::decode(c.wire).unwrap().name().clone())
        }
    }

    /// Per-entry memory is the slot, the index key and a table slot beside the wire
    /// (`cs_memory` in nfwd-benches measures it all); a field added here shows in it.
    #[test]
    fn entry_layout_stays_small() {
        assert!(size_of::<Slot>() <= 88);
        assert!(size_of::<OrderKey>() <= 64);
    }

    #[test]
    fn non_canonical_key_bytes_are_kept_beside_the_wire() {
        // A Name component with a non-minimal length (0x08 0xFD 0x00 0x01 'a' rather than
        // 0x08 0x01 'a'): decoding normalises the name, so the key is not a slice of the wire.
        let name_tlv = [0x07, 0x05, 0x08, 0xFD, 0x00, 0x01, b'a'];
        let content = [0x15, 0x01, b'x'];
        let mut wire = vec![0x06, (name_tlv.len() + content.len()) as u8];
        wire.extend_from_slice(&name_tlv);
        wire.extend_from_slice(&content);
        let d = Data::decode(Bytes::from(wire.clone())).unwrap();
        assert_eq!(d.name().to_string(), "/a");
        let mut f = Fixture::new(10);
        let hash = combine(d.name().full_hash(&f.h), 0);
        f.cs.insert(&d, hash, f.now);
        let hit = f.cs.lookup(
            &InterestBuilder::new("/a".parse().unwrap()).build().unwrap(),
            &"/a".parse::<Name>().unwrap().prefix_hashes(&f.h),
            0,
            f.now,
        );
        assert_eq!(
            hit.unwrap().wire.as_ref(),
            &wire[..],
            "answered with the wire as received"
        );
        assert_eq!(f.get("/a", None, true, false).unwrap().to_string(), "/a");
    }

    #[test]
    fn refresh_and_capacity_cut() {
        let mut f = Fixture::new(100);
        for i in 0..100 {
            f.put(&format!("/p/{i}"), None, 1000);
        }
        f.put("/p/7", None, 1000);
        assert_eq!((f.cs.len(), f.cs.counters().evictions), (100, 0));
        f.cs.set_capacity(3);
        assert_eq!(f.cs.len(), 3);
        // The most recent three survive the cut and its compaction, in recency order.
        assert!(f.get("/p/7", None, false, false).is_some());
        assert!(f.get("/p/99", None, false, false).is_some());
        assert!(f.get("/p/98", None, false, false).is_some());
        f.put("/q", None, 1000);
        assert!(
            f.get("/p/7", None, false, false).is_none(),
            "least recent went"
        );
        assert_eq!(f.get("/p", None, true, false).unwrap().to_string(), "/p/98");
        assert_eq!(f.cs.erase(&"/p".parse().unwrap(), 10), 2);
        assert_eq!(f.cs.len(), 1);
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

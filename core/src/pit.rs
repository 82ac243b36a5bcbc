//! The pending Interest table.
//!
//! An entry stands for all Interests with the same name, function stack, CanBePrefix and
//! MustBeFresh (NFD's rule plus the stack, `docs/protocol.md` §3). Entries live in a slab
//! (stable indexes with a generation, so timers and PIT tokens can name an entry cheaply and
//! detect when it is gone) and are found through a `hashbrown::HashTable` of their keyed hash.
//! Each PIT belongs to one forwarding shard ([`Pit::with_shard`]); its ids, and so the PIT tokens
//! made of them, carry the shard, which face tasks read to hand a Data or Nack to its owner.
//! The table is bounded: `insert` refuses when it is full.
//!
//! Data matching: an exact-name entry has the Data's name; a CanBePrefix entry may sit at any
//! prefix of it. A per-depth count of CanBePrefix entries lets a Data lookup skip depths with
//! none, so the common case probes one hash.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use hashbrown::HashTable;
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::{FunctionChain, Interest, Name};
use smallvec::SmallVec;

use super::face::FaceId;
use super::strategy::ChoiceId;

/// Names a PIT entry: slab index, generation, and the shard whose PIT made it.
///
/// As a PIT token (8 bytes, [`EntryId::to_u64`]) it reads `shard << 56 | generation << 32 |
/// index`, so a face task finds the shard that owns a Data or Nack from the token's first byte
/// ([`shard_of_token`], `dispatch.rs`) without asking any PIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryId {
    index: u32,
    /// `shard << 24 | generation` (24 bits): compared as one word, so an id of another shard
    /// fails the same test a stale one does, at no extra cost.
    stamp: u32,
}

/// The generation's bits in a stamp; the shard has the byte above them.
const GENERATION_MASK: u32 = 0x00FF_FFFF;

impl EntryId {
    /// Packs the id into 8 bytes (used as PIT token): `shard << 56 | generation << 32 |
    /// index`.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        ((self.stamp as u64) << 32) | self.index as u64
    }

    /// Unpacks [`EntryId::to_u64`]. Any `v` unpacks; one that is stale, forged or of another
    /// shard names no entry ([`Pit::get`] returns `None`).
    #[must_use]
    pub const fn from_u64(v: u64) -> Self {
        Self {
            index: v as u32,
            stamp: (v >> 32) as u32,
        }
    }

    /// The shard whose PIT made the id.
    #[must_use]
    pub const fn shard(self) -> u8 {
        (self.stamp >> 24) as u8
    }

    /// The slot's generation when the id was made (24 bits).
    #[must_use]
    pub const fn generation(self) -> u32 {
        self.stamp & GENERATION_MASK
    }
}

/// The shard named by an 8-byte PIT token of ours (its first byte): where a face task hands a
/// Data or Nack carrying it.
#[must_use]
pub const fn shard_of_token(v: u64) -> u8 {
    (v >> 56) as u8
}

/// The stamp after `stamp`: the generation goes round within its 24 bits and never carries
/// into the shard byte.
const fn next_stamp(stamp: u32) -> u32 {
    (stamp & !GENERATION_MASK) | (stamp.wrapping_add(1) & GENERATION_MASK)
}

/// The later of two generations in serial-number order (RFC 1982): `b` if it lies less than
/// half the 24-bit ring ahead of `a`. Generations wrap, so `max` would go backwards at the wrap.
const fn later_generation(a: u32, b: u32) -> u32 {
    if b.wrapping_sub(a) & GENERATION_MASK < 1 << 23 {
        b & GENERATION_MASK
    } else {
        a
    }
}

/// A downstream that asked.
#[derive(Debug, Clone)]
pub struct InRecord {
    /// Its face.
    pub face: FaceId,
    /// The Nonce it used last.
    pub nonce: [u8; 4],
    /// When its Interest expires.
    pub expiry: Instant,
    /// When it last arrived.
    pub last_renewed: Instant,
    /// Its PIT token, echoed on the Data or Nack sent back.
    pub pit_token: Option<nfwd_tlv::lp::PitToken>,
    /// It came with NDNLPv2 NonDiscovery (self-learning: the sender knew a route).
    pub non_discovery: bool,
}

/// An upstream we asked.
#[derive(Debug, Clone)]
pub struct OutRecord {
    /// Its face.
    pub face: FaceId,
    /// The Nonce we sent.
    pub nonce: [u8; 4],
    /// When we sent it last.
    pub last_sent: Instant,
    /// When it expires.
    pub expiry: Instant,
    /// The Nack it answered with, if any.
    pub nacked: Option<NackReason>,
    /// It went with NonDiscovery (self-learning: along a known route, not broadcast).
    pub non_discovery: bool,
    /// The head function was popped for it: a local SF hosting the function (what
    /// `status/chains` reports as `local`, without a second FIB lookup).
    pub popped: bool,
}

/// A PIT entry. Its name and function stack are the stored Interest's (every Interest an entry
/// holds has the same key), so they are not kept twice.
#[derive(Debug)]
pub struct PitEntry {
    /// CanBePrefix.
    pub can_be_prefix: bool,
    /// MustBeFresh.
    pub must_be_fresh: bool,
    /// True if the name ends with an implicit digest.
    pub has_digest: bool,
    /// The latest Interest received, forwarded on retransmission.
    pub interest: Interest,
    /// Downstreams.
    pub in_records: SmallVec<[InRecord; 2]>,
    /// Upstreams.
    pub out_records: SmallVec<[OutRecord; 2]>,
    /// When the entry expires (latest in-record expiry).
    pub expiry: Instant,
    /// Current retransmission suppression interval, measured from the last transmission
    /// upstream (exponential back-off); 0 until a retransmission was let through, meaning
    /// the strategy's initial interval.
    pub suppress_interval_ms: u64,
    /// The strategy instance that forwarded the Interest last: Nacks, lost upstreams, Data
    /// and timeouts go back to it without another name lookup.
    pub strategy: ChoiceId,
    /// What that strategy asked to get back with feedback (`Decision::tag`).
    pub strategy_tag: u64,
    /// Whether that strategy wants Data and timeout feedback.
    pub feedback: bool,
    /// Forwarded by self-learning: its Data and Nacks go through `core/self_learning.rs`
    /// (prefix announcements, learned routes); one flag test for every other entry.
    pub self_learning: bool,
    /// The Interests it sends now carry NonDiscovery (self-learning's last decision).
    pub non_discovery_out: bool,
    hash: u64,
}

impl PitEntry {
    /// The Interest name.
    #[must_use]
    pub fn name(&self) -> &Name {
        self.interest.name()
    }

    /// The function stack.
    #[must_use]
    pub fn chain(&self) -> Option<&FunctionChain> {
        self.interest.function_chain()
    }

    /// In-record of `face`.
    pub fn in_record_mut(&mut self, face: FaceId) -> Option<&mut InRecord> {
        self.in_records.iter_mut().find(|r| r.face == face)
    }

    /// Out-record of `face`.
    pub fn out_record_mut(&mut self, face: FaceId) -> Option<&mut OutRecord> {
        self.out_records.iter_mut().find(|r| r.face == face)
    }

    /// The (name, stack) hash of the entry (its key without the selectors): what the dead
    /// nonce list is keyed by, derived rather than hashed again.
    #[must_use]
    pub fn name_chain_hash(&self) -> u64 {
        self.hash ^ selector_bits(self.can_be_prefix, self.must_be_fresh)
    }

    /// Recomputes the entry expiry from the in-records.
    pub fn refresh_expiry(&mut self) {
        if let Some(latest) = self.in_records.iter().map(|r| r.expiry).max() {
            self.expiry = latest;
        }
    }
}

/// The pending Interest table.
#[derive(Debug)]
pub struct Pit {
    slots: Vec<Slot>,
    /// Free slot indexes, lowest first: entries gather at the front, so the tail empties
    /// after a burst and [`Pit::compact`] can give its memory back.
    free: BinaryHeap<Reverse<u32>>,
    /// Generation given to slots pushed from now on: after that of every slot truncated (in
    /// serial order, [`later_generation`]), so a stale id (a timer, a PIT token) does not
    /// name a later entry at the same index before the generation there has gone round its
    /// 24 bits: 2^24 reuses of the index, or no fewer than 2^23 if the slot was truncated
    /// and pushed again in between.
    generation_floor: u32,
    /// The shard this PIT belongs to, in every id it hands out.
    shard: u8,
    index: HashTable<(u64, EntryId)>,
    /// CanBePrefix entries per name depth.
    prefix_depths: Vec<usize>,
    digest_entries: usize,
    max_entries: usize,
}

#[derive(Debug)]
struct Slot {
    /// `shard << 24 | generation`, as in [`EntryId`].
    stamp: u32,
    entry: Option<PitEntry>,
}

/// What the table counts of an entry, read before it goes.
#[derive(Debug, Clone, Copy)]
struct Bookkeeping {
    hash: u64,
    /// Name depth of a CanBePrefix entry.
    prefix_depth: Option<usize>,
    has_digest: bool,
}

impl Bookkeeping {
    fn of(e: &PitEntry) -> Self {
        Self {
            hash: e.hash,
            prefix_depth: e.can_be_prefix.then(|| e.name().len()),
            has_digest: e.has_digest,
        }
    }
}

/// Key hash of a PIT entry: the (name, stack) hash with the selectors folded in.
#[must_use]
pub fn key_hash(name_chain_hash: u64, can_be_prefix: bool, must_be_fresh: bool) -> u64 {
    name_chain_hash ^ selector_bits(can_be_prefix, must_be_fresh)
}

/// What the selectors add to a key hash; XOR, so [`PitEntry::name_chain_hash`] can take it off.
fn selector_bits(can_be_prefix: bool, must_be_fresh: bool) -> u64 {
    (u64::from(can_be_prefix) * 0x5bd1_e995) ^ (u64::from(must_be_fresh) * 0xc2b2_ae35)
}

impl Pit {
    /// A PIT holding at most `max_entries` entries, of shard 0 (a forwarder of one shard).
    #[must_use]
    pub fn new(max_entries: usize) -> Self {
        Self::with_shard(max_entries, 0)
    }

    /// A PIT holding at most `max_entries` entries, of shard `shard`: its ids (and so the PIT
    /// tokens made of them) carry `shard`, and ids of any other shard name no entry.
    #[must_use]
    pub fn with_shard(max_entries: usize, shard: u8) -> Self {
        Self {
            slots: Vec::new(),
            free: BinaryHeap::new(),
            generation_floor: 0,
            shard,
            index: HashTable::new(),
            prefix_depths: Vec::new(),
            digest_entries: 0,
            max_entries,
        }
    }

    /// The shard this PIT belongs to.
    #[must_use]
    pub fn shard(&self) -> u8 {
        self.shard
    }

    /// The bound.
    #[must_use]
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True if empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The entry `id`, if it still exists.
    #[must_use]
    pub fn get(&self, id: EntryId) -> Option<&PitEntry> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.stamp != id.stamp {
            return None;
        }
        slot.entry.as_ref()
    }

    /// The entry `id`, mutably.
    pub fn get_mut(&mut self, id: EntryId) -> Option<&mut PitEntry> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.stamp != id.stamp {
            return None;
        }
        slot.entry.as_mut()
    }

    fn same_key(e: &PitEntry, i: &Interest) -> bool {
        e.can_be_prefix == i.can_be_prefix()
            && e.must_be_fresh == i.must_be_fresh()
            && e.name() == i.name()
            && e.chain() == i.function_chain()
    }

    /// Creates the entry for `interest` (whose key hash is `hash`), which the caller has just
    /// looked for with [`Pit::find`] and not found: the Interest moves into the entry, with
    /// no second probe and no copy. Gives the Interest back if the table is full.
    #[expect(
        clippy::result_large_err,
        reason = "the Interest comes back only when the table is full, where a Box would \
                  allocate for every Interest a flood has refused"
    )]
    pub fn insert(
        &mut self,
        interest: Interest,
        hash: u64,
        now: Instant,
    ) -> Result<EntryId, Interest> {
        debug_assert!(self.find(&interest, hash).is_none(), "the entry exists");
        if self.len() >= self.max_entries {
            return Err(interest);
        }
        let has_digest = interest.name().last_type() == Some(1);
        let can_be_prefix = interest.can_be_prefix();
        if can_be_prefix {
            let depth = interest.name().len();
            if self.prefix_depths.len() <= depth {
                self.prefix_depths.resize(depth + 1, 0);
            }
            self.prefix_depths[depth] += 1;
        }
        if has_digest {
            self.digest_entries += 1;
        }
        let index = match self.free.pop() {
            Some(Reverse(index)) => index,
            None => {
                self.slots.push(Slot {
                    stamp: (u32::from(self.shard) << 24) | self.generation_floor,
                    entry: None,
                });
                self.slots.len() as u32 - 1
            }
        };
        let slot = &mut self.slots[index as usize];
        // Built where it stays: the entry (with the Interest in it) is written once, not
        // built on the stack and then moved.
        slot.entry = Some(PitEntry {
            can_be_prefix,
            must_be_fresh: interest.must_be_fresh(),
            has_digest,
            interest,
            in_records: SmallVec::new(),
            out_records: SmallVec::new(),
            expiry: now,
            suppress_interval_ms: 0,
            strategy: ChoiceId::NONE,
            strategy_tag: 0,
            feedback: false,
            self_learning: false,
            non_discovery_out: false,
            hash,
        });
        let id = EntryId {
            index,
            stamp: slot.stamp,
        };
        self.index.insert_unique(hash, (hash, id), |&(h, _)| h);
        Ok(id)
    }

    /// Finds the entry for exactly `interest`'s key, without creating one.
    #[must_use]
    pub fn find(&self, interest: &Interest, hash: u64) -> Option<EntryId> {
        let slots = &self.slots;
        self.index
            .find(hash, |&(h, id)| {
                h == hash
                    && slots
                        .get(id.index as usize)
                        .and_then(|s| s.entry.as_ref())
                        .is_some_and(|e| Self::same_key(e, interest))
            })
            .map(|&(_, id)| id)
    }

    /// Removes entry `id` and returns it.
    pub fn remove(&mut self, id: EntryId) -> Option<PitEntry> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.stamp != id.stamp {
            return None;
        }
        let entry = slot.entry.take()?;
        slot.stamp = next_stamp(slot.stamp);
        self.unlink(id, Bookkeeping::of(&entry));
        Some(entry)
    }

    /// Removes entry `id` and drops it where it lies (no move out of the table: closing a
    /// face discards many entries nobody needs any more). True if it existed.
    pub fn discard(&mut self, id: EntryId) -> bool {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return false;
        };
        let Some(keys) = slot
            .entry
            .as_ref()
            .filter(|_| slot.stamp == id.stamp)
            .map(Bookkeeping::of)
        else {
            return false;
        };
        slot.entry = None;
        slot.stamp = next_stamp(slot.stamp);
        self.unlink(id, keys);
        true
    }

    /// Forgets a removed entry in the index and the counts.
    fn unlink(&mut self, id: EntryId, keys: Bookkeeping) {
        self.free.push(Reverse(id.index));
        if let Ok(found) = self.index.find_entry(keys.hash, |&(_, e)| e == id) {
            found.remove();
        }
        if let Some(depth) = keys.prefix_depth
            && let Some(c) = self.prefix_depths.get_mut(depth)
        {
            *c = c.saturating_sub(1);
        }
        if keys.has_digest {
            self.digest_entries = self.digest_entries.saturating_sub(1);
        }
    }

    /// Every entry a Data satisfies. `data_hash_at(k)` gives the (name prefix k, stack) hash
    /// of the Data (k = 0..=name length), `full_name_hash` the hash of its full name with the
    /// implicit digest (computed only if some entry needs it).
    pub fn matching_data(
        &self,
        data: &nfwd_tlv::Data,
        data_hash_at: impl Fn(usize) -> u64,
        full_name_hash: impl FnOnce() -> u64,
    ) -> SmallVec<[EntryId; 2]> {
        let mut out = SmallVec::new();
        let len = data.name().len();
        let probe = |hash: u64, out: &mut SmallVec<[EntryId; 2]>| {
            for &(h, id) in self.index.iter_hash(hash) {
                if h != hash {
                    continue;
                }
                if let Some(e) = self.get(id)
                    && e.interest.matches(data)
                    && !out.contains(&id)
                {
                    out.push(id);
                }
            }
        };
        // Exact-name entries (with and without MustBeFresh), and CanBePrefix ones at every
        // depth that has some.
        for mbf in [false, true] {
            probe(key_hash(data_hash_at(len), false, mbf), &mut out);
        }
        for depth in 0..=len {
            if self.prefix_depths.get(depth).copied().unwrap_or(0) > 0 {
                for mbf in [false, true] {
                    probe(key_hash(data_hash_at(depth), true, mbf), &mut out);
                }
            }
        }
        if self.digest_entries > 0 {
            let h = full_name_hash();
            for cbp in [false, true] {
                for mbf in [false, true] {
                    probe(key_hash(h, cbp, mbf), &mut out);
                }
            }
        }
        out
    }

    /// Gives back the memory of empty slots at the end of the table (left by a burst that has
    /// since been satisfied or expired) and of an index much larger than the table. Cheap when
    /// there is nothing to give back; housekeeping calls it.
    pub fn compact(&mut self) {
        let before = self.slots.len();
        while let Some(last) = self.slots.last() {
            if last.entry.is_some() {
                break;
            }
            self.generation_floor = later_generation(
                self.generation_floor,
                next_stamp(last.stamp) & GENERATION_MASK,
            );
            self.slots.pop();
        }
        if self.slots.len() == before {
            return;
        }
        let len = self.slots.len() as u32;
        self.free.retain(|Reverse(i)| *i < len);
        if self.slots.capacity() > 2 * self.slots.len() + 1024 {
            self.slots
                .shrink_to(self.slots.len() + self.slots.len() / 4);
            self.free.shrink_to_fit();
            self.index.shrink_to(0, |&(h, _)| h);
        }
    }

    /// Slots allocated (live entries plus free slots): what the table's memory follows.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Ids of all entries (for face removal and diagnostics).
    pub fn ids(&self) -> impl Iterator<Item = EntryId> + '_ {
        self.index.iter().map(|&(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use nfwd_tlv::InterestBuilder;

    use super::*;

    fn interest(n: &str) -> Interest {
        InterestBuilder::new(n.parse().unwrap()).build().unwrap()
    }

    /// Inserts `/a` (hash 1) and returns its id.
    fn put(pit: &mut Pit) -> EntryId {
        pit.insert(interest("/a"), 1, Instant::now()).unwrap()
    }

    /// Inserts and removes `/a` `n` times at the same slot; returns the last id handed out.
    fn reuse(pit: &mut Pit, n: usize) -> Option<EntryId> {
        let mut last = None;
        for _ in 0..n {
            let id = put(pit);
            assert!(pit.remove(id).is_some());
            last = Some(id);
        }
        last
    }

    #[test]
    fn token_layout_is_shard_generation_index() {
        let id = EntryId::from_u64(0xAB12_3456_0000_0007);
        assert_eq!(id.shard(), 0xAB);
        assert_eq!(id.generation(), 0x12_3456);
        assert_eq!(id.index, 7);
        assert_eq!(id.to_u64(), 0xAB12_3456_0000_0007);
        assert_eq!(shard_of_token(0xAB12_3456_0000_0007), 0xAB);
        assert_eq!(shard_of_token(u64::MAX), 0xFF);
        assert_eq!(shard_of_token(0x00FF_FFFF_FFFF_FFFF), 0);
    }

    #[test]
    fn ids_carry_the_shard_and_round_trip() {
        for shard in [0u8, 1, 5, 63, 255] {
            let mut pit = Pit::with_shard(16, shard);
            assert_eq!(pit.shard(), shard);
            reuse(&mut pit, 3);
            let id = put(&mut pit);
            let v = id.to_u64();
            assert_eq!(shard_of_token(v), shard);
            assert_eq!(id.shard(), shard);
            assert_eq!(id.generation(), 3);
            assert_eq!(EntryId::from_u64(v), id);
            assert!(pit.get(EntryId::from_u64(v)).is_some());
            assert!(pit.get_mut(EntryId::from_u64(v)).is_some());
        }
        assert_eq!(Pit::new(4).shard(), 0, "Pit::new is shard 0");
    }

    #[test]
    fn an_id_of_another_shard_names_no_entry() {
        let mut pit = Pit::with_shard(16, 3);
        let id = put(&mut pit);
        let v = id.to_u64();
        for shard in (0..=255u8).filter(|&s| s != 3) {
            let foreign = EntryId::from_u64((v & 0x00FF_FFFF_FFFF_FFFF) | (u64::from(shard) << 56));
            assert_eq!(foreign.generation(), id.generation());
            assert!(pit.get(foreign).is_none(), "shard {shard}");
            assert!(pit.get_mut(foreign).is_none(), "shard {shard}");
            assert!(pit.remove(foreign).is_none(), "shard {shard}");
            assert!(!pit.discard(foreign), "shard {shard}");
        }
        assert!(pit.get(id).is_some(), "the entry is still there");
    }

    #[test]
    fn the_generation_wraps_within_24_bits_and_keeps_the_shard() {
        let mut pit = Pit::with_shard(16, 0x2A);
        reuse(&mut pit, 1);
        pit.slots[0].stamp = (0x2A << 24) | 0xFF_FFFE;
        let mut stale = Vec::new();
        for expected in [0xFF_FFFE, 0xFF_FFFF, 0, 1, 2] {
            let id = put(&mut pit);
            assert_eq!(id.generation(), expected);
            assert_eq!(id.shard(), 0x2A, "the wrap does not carry into the shard");
            for old in &stale {
                assert!(pit.get(*old).is_none(), "stale {old:?} names {id:?}");
            }
            assert!(pit.remove(id).is_some());
            stale.push(id);
        }
    }

    #[test]
    fn a_stale_id_names_no_entry_until_its_index_is_reused_2_pow_24_times() {
        let mut pit = Pit::with_shard(16, 7);
        let stale = put(&mut pit);
        pit.remove(stale);
        // Real reuses first, then the slot's generation moved on as that many reuses would.
        let last = reuse(&mut pit, 1000).unwrap();
        assert_eq!(last.generation(), stale.generation() + 1000);
        for n in [1001u32, 1 << 23, (1 << 24) - 1] {
            pit.slots[0].stamp = (7 << 24) | ((stale.generation() + n) & GENERATION_MASK);
            let fresh = put(&mut pit);
            assert_ne!(fresh, stale);
            assert!(pit.get(stale).is_none(), "after {n} reuses");
            pit.remove(fresh);
        }
        // The bound: the 2^24th reuse gives the stale id's generation again.
        pit.slots[0].stamp = (7 << 24) | stale.generation();
        assert_eq!(put(&mut pit), stale);
    }

    #[test]
    fn compact_across_the_wrap_does_not_hand_out_a_recent_generation() {
        let mut pit = Pit::with_shard(16, 1);
        pit.generation_floor = 0xFF_FFF0;
        let mut stale = Vec::new();
        // Generations 0xFFFFF0 through the wrap to 5, at index 0.
        for _ in 0..22 {
            let id = put(&mut pit);
            pit.remove(id);
            stale.push(id);
        }
        assert_eq!(stale.last().map(|id| id.generation()), Some(5));
        pit.compact();
        assert_eq!(pit.slots(), 0);
        let fresh = put(&mut pit);
        assert_eq!(fresh.index, 0);
        assert_eq!(fresh.shard(), 1);
        for old in &stale {
            assert_ne!(old.generation(), fresh.generation(), "{old:?}");
            assert!(pit.get(*old).is_none());
        }
        // A floor already ahead stays: a slot truncated at an older generation does not pull
        // it back.
        let floor = pit.generation_floor;
        assert_eq!(
            later_generation(floor, floor.wrapping_sub(10) & GENERATION_MASK),
            floor
        );
    }
}

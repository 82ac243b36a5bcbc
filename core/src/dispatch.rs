//! Which forwarding shard a received frame belongs to.
//!
//! nfwd can split its forwarding over several shards, each a whole [`Forwarder`](crate::Forwarder)
//! with its own PIT and content store. Face tasks hand every frame they receive to the shard
//! that owns it, and [`Dispatcher::shard_of_frame`] says which from the frame's bytes: one
//! shallow walk of its outer TLVs, no decoding of the packet, no allocation. Shard 0 is the
//! leader ([`LEADER`]): it owns management and the link protocols, and gets whatever cannot be
//! placed.
//!
//! The rules, in order:
//! - one shard: 0, nothing parsed;
//! - empty, malformed or of an unknown type: the leader, which decodes, counts and drops it;
//! - a fragment of a larger packet (FragCount > 1 or FragIndex > 0): the hash of its base
//!   sequence (Sequence − FragIndex), so all fragments of a packet reassemble in one shard, which
//!   then asks [`Dispatcher::shard_of_packet`] where the whole packet goes;
//! - an LpPacket without a Fragment (IDLE: acks, liveness probes, chain hellos): the leader;
//! - a Data, or a Nack, with an 8-byte PIT token whose first byte is a shard: that shard (our
//!   tokens are PIT entry ids, which carry their shard: [`shard_of_token`]);
//! - otherwise, Interests and Data alike: the keyed hash of the name's first components (one,
//!   or [`Dispatcher::with_prefix`]'s count; all of a shorter name's), modulo the shard count,
//!   but the leader for `/localhost` and `/localhop`. A Data's name starts with its Interest's,
//!   so the two meet in one shard's PIT unless the Interest is shorter than the prefix: then a
//!   shard that finds no entry for the Data hands it to the owners of its shorter prefixes
//!   ([`Dispatcher::owners_of_shorter`]).

use std::hash::{BuildHasher, Hasher};

use nfwd_tlv::element::{decode_nni, put_header, read_header, varnum_len};
use nfwd_tlv::lp::{LpPacket, PitToken};
use nfwd_tlv::types::{lp as t, tt};
use nfwd_tlv::{Name, NameHasher};

use crate::error::{Error, Result};
use crate::pit::shard_of_token;

/// The shard that owns management, local services and the link protocols.
pub const LEADER: u8 = 0;

/// The most shards a forwarder runs.
pub const MAX_SHARDS: u8 = 64;

/// The longest name prefix that decides a shard ([`Dispatcher::with_prefix`]).
pub const MAX_PREFIX_COMPONENTS: u8 = 8;

/// Finds the shard that owns a frame. Cheap to clone: every face task holds one, and all hold
/// the same key, as the shards' tables do, so that they agree.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    shards: u8,
    /// How many leading name components decide a name's shard.
    prefix: u8,
    key: NameHasher,
}

/// A TLV element borrowed from a buffer.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    ty: u32,
    header_len: usize,
    /// Header and value.
    wire: &'a [u8],
    value: &'a [u8],
}

/// Reads the element at the start of `buf`: it and the bytes after it. `None` if it does not
/// parse or overruns `buf`.
fn split_tlv(buf: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (ty, len, header_len) = read_header(buf).ok()?;
    let end = header_len.checked_add(len)?;
    let wire = buf.get(..end)?;
    let tlv = Tlv {
        ty,
        header_len,
        wire,
        value: wire.get(header_len..)?,
    };
    Some((tlv, buf.get(end..)?))
}

/// The one element `buf` holds, with nothing after it (as the decoders require).
fn exact_tlv(buf: &[u8]) -> Option<Tlv<'_>> {
    let (tlv, rest) = split_tlv(buf)?;
    rest.is_empty().then_some(tlv)
}

/// What dispatch needs of an LpPacket's header and Fragment, borrowed.
#[derive(Debug, Clone, Copy)]
struct LinkFields<'a> {
    sequence: Option<u64>,
    frag_index: u64,
    frag_count: u64,
    token: Option<&'a [u8]>,
    nack: bool,
    fragment: Option<&'a [u8]>,
}

impl<'a> LinkFields<'a> {
    /// Walks the header fields of an LpPacket's value; `None` if one of those read does not
    /// parse.
    fn walk(mut rest: &'a [u8]) -> Option<Self> {
        let mut f = Self {
            sequence: None,
            frag_index: 0,
            frag_count: 1,
            token: None,
            nack: false,
            fragment: None,
        };
        // Each element takes at least 2 bytes: the walk is linear in the frame.
        while !rest.is_empty() {
            let (el, next) = split_tlv(rest)?;
            rest = next;
            match el.ty {
                t::FRAGMENT => f.fragment = Some(el.value),
                t::SEQUENCE => f.sequence = Some(u64::from_be_bytes(el.value.try_into().ok()?)),
                t::FRAG_INDEX => f.frag_index = decode_nni(el.value, el.ty).ok()?,
                t::FRAG_COUNT => f.frag_count = decode_nni(el.value, el.ty).ok()?,
                t::PIT_TOKEN => {
                    // The decoder refuses a token of any other length, so the leader
                    // gets it.
                    if !(PitToken::MIN_LEN..=PitToken::MAX_LEN).contains(&el.value.len()) {
                        return None;
                    }
                    f.token = Some(el.value);
                }
                t::NACK => f.nack = true,
                // The owning shard's decoder judges every other field; dispatch only places.
                _ => {}
            }
        }
        Some(f)
    }

    /// The fields of a decoded packet.
    fn of(packet: &'a LpPacket) -> Self {
        Self {
            sequence: packet.sequence,
            frag_index: packet.frag_index.unwrap_or(0),
            frag_count: packet.frag_count.unwrap_or(1),
            token: packet.pit_token.as_ref().map(PitToken::as_bytes),
            nack: packet.nack.is_some(),
            fragment: packet.fragment.as_deref(),
        }
    }
}

impl Dispatcher {
    /// A dispatcher over `shards` shards (1 to [`MAX_SHARDS`]) hashing names with `key`, the
    /// key every shard's tables use.
    pub fn new(shards: u8, key: NameHasher) -> Result<Self> {
        Self::with_prefix(shards, 1, key)
    }

    /// A dispatcher whose names go by their first `prefix` components (1 to
    /// [`MAX_PREFIX_COMPONENTS`]; a shorter name by all of its own): names that share a first
    /// component (`/ndn/...`) may then spread. A Data without our PIT token longer than its
    /// Interest's name (CanBePrefix) may land elsewhere than its Interest: a shard that finds
    /// no PIT entry for such a Data tries the owners of its shorter prefixes
    /// ([`Dispatcher::owners_of_shorter`]).
    pub fn with_prefix(shards: u8, prefix: u8, key: NameHasher) -> Result<Self> {
        if !(1..=MAX_SHARDS).contains(&shards) {
            return Err(Error::Config(format!(
                "forwarding shards must be 1 to {MAX_SHARDS}, not {shards}"
            )));
        }
        if !(1..=MAX_PREFIX_COMPONENTS).contains(&prefix) {
            return Err(Error::Config(format!(
                "dispatch prefixes must be 1 to {MAX_PREFIX_COMPONENTS} components, not {prefix}"
            )));
        }
        Ok(Self {
            shards,
            prefix,
            key,
        })
    }

    /// How many leading name components decide a name's shard.
    #[must_use]
    pub fn prefix_components(&self) -> u8 {
        self.prefix
    }

    /// The number of shards.
    #[must_use]
    pub fn shards(&self) -> u8 {
        self.shards
    }

    /// The shard that owns a link frame as it arrived: a bare Interest or Data, or an LpPacket
    /// (see the module documentation for the rules). Always below [`Dispatcher::shards`];
    /// never panics, whatever the bytes.
    #[must_use]
    pub fn shard_of_frame(&self, frame: &[u8]) -> u8 {
        // Nothing to choose, so nothing to parse.
        if self.shards == 1 {
            return LEADER;
        }
        // What does not parse is counted by the leader, and one shard is enough.
        let Some(outer) = exact_tlv(frame) else {
            return LEADER;
        };
        match outer.ty {
            tt::INTEREST | tt::DATA => self.by_name(outer),
            t::LP_PACKET => LinkFields::walk(outer.value).map_or(LEADER, |f| self.by_link(&f)),
            _ => LEADER,
        }
    }

    /// The shard that owns a decoded packet: for a shard that reassembled fragments (which
    /// reach it by sequence, not by name) to learn whether to hand the whole packet over. The
    /// same rules as [`Dispatcher::shard_of_frame`], which gives the same shard for the
    /// packet's encoding.
    #[must_use]
    pub fn shard_of_packet(&self, packet: &LpPacket) -> u8 {
        if self.shards == 1 {
            return LEADER;
        }
        self.by_link(&LinkFields::of(packet))
    }

    /// The shard that owns Interests and Data named `name` (without a PIT token of ours): the
    /// name rule of [`Dispatcher::shard_of_frame`]. With a prefix of one component the hash is
    /// that of the first component as [`Name::prefix_hashes`] computes it with the same key
    /// (entry 1).
    #[must_use]
    pub fn shard_of_name(&self, name: &Name) -> u8 {
        self.shard_of_name_prefix(name, usize::from(self.prefix))
    }

    /// The shards other than `except` that own a prefix of `name` shorter than the dispatch
    /// prefix (without repeats, at most [`MAX_PREFIX_COMPONENTS`] − 1): where the CanBePrefix
    /// Interest a tokenless Data answers may be, when its own shard has none.
    #[must_use]
    pub fn owners_of_shorter(&self, name: &Name, except: u8) -> Vec<u8> {
        let longest = usize::from(self.prefix).min(name.len());
        let mut owners = Vec::new();
        for k in 1..longest {
            let shard = self.shard_of_name_prefix(name, k);
            if shard != except && !owners.contains(&shard) {
                owners.push(shard);
            }
        }
        owners
    }

    /// The name rule on the first `k` components of `name` (all of them if fewer).
    fn shard_of_name_prefix(&self, name: &Name, k: usize) -> u8 {
        if self.shards == 1 {
            return LEADER;
        }
        match name.component_parts(0) {
            Some((ty, value)) if !is_leaders(u32::from(ty), value) => {
                let mut h = self.key.build_hasher();
                for i in 0..k.min(name.len()) {
                    // Decoded names keep minimal headers: the wire is what `by_name` hashes.
                    h.write(name.component_wire(i).unwrap_or_default());
                }
                self.reduce(h.finish())
            }
            _ => LEADER,
        }
    }

    /// The rules for an LpPacket's fields.
    fn by_link(&self, f: &LinkFields<'_>) -> u8 {
        // A fragment's name may be in another fragment; all of them must reach one
        // reassembler, and the base sequence is what they share.
        if f.frag_count > 1 || f.frag_index > 0 {
            // The reassembler drops a fragment without Sequence; the leader counts it.
            let Some(sequence) = f.sequence else {
                return LEADER;
            };
            return self.reduce(self.key.hash_one(sequence.wrapping_sub(f.frag_index)));
        }
        // IDLE packets carry link protocols (acks, liveness, chain hellos): the leader's.
        let Some(fragment) = f.fragment else {
            return LEADER;
        };
        let Some(packet) = exact_tlv(fragment) else {
            return LEADER;
        };
        // An answer with our token names its PIT entry's shard; an Interest's token is
        // the downstream's, meaningless here.
        if (f.nack || packet.ty == tt::DATA)
            && let Some(shard) = f.token.and_then(|token| self.by_token(token))
        {
            return shard;
        }
        match packet.ty {
            tt::INTEREST | tt::DATA => self.by_name(packet),
            _ => LEADER,
        }
    }

    /// The shard in a PIT token of ours: 8 bytes, first byte a shard that exists.
    fn by_token(&self, token: &[u8]) -> Option<u8> {
        let shard = shard_of_token(u64::from_be_bytes(token.try_into().ok()?));
        // A token naming no shard is not ours (or is forged): the name decides.
        (shard < self.shards).then_some(shard)
    }

    /// The name rule for an Interest or Data element.
    fn by_name(&self, packet: Tlv<'_>) -> u8 {
        // Both packets start with their Name; anything else is malformed.
        let Some((name, _)) = split_tlv(packet.value).filter(|(n, _)| n.ty == tt::NAME) else {
            return LEADER;
        };
        // An empty Name is invalid in an Interest and matches nothing in a Data.
        let Some((first, mut rest)) = split_tlv(name.value) else {
            return LEADER;
        };
        // Component types are 1..=65535; the decoder refuses the rest.
        if first.ty > u32::from(u16::MAX) || is_leaders(first.ty, first.value) {
            return LEADER;
        }
        let mut h = self.key.build_hasher();
        Self::hash_component(&mut h, first);
        for _ in 1..self.prefix {
            let Some((c, next)) = split_tlv(rest) else {
                // A name shorter than the prefix goes by all of itself; a malformed one is
                // refused by the owner's decoder.
                break;
            };
            if c.ty > u32::from(u16::MAX) {
                return LEADER;
            }
            Self::hash_component(&mut h, c);
            rest = next;
        }
        self.reduce(h.finish())
    }

    /// Feeds a component's TLV to `h` as [`Name::prefix_hashes`] does: its minimal encoding,
    /// which is what the decoder keeps of a longer one, so that both encodings of a name land
    /// in one shard.
    fn hash_component(h: &mut impl Hasher, c: Tlv<'_>) {
        let len = c.value.len();
        if c.header_len == varnum_len(u64::from(c.ty)) + varnum_len(len as u64) {
            h.write(c.wire);
        } else {
            // Two VAR-NUMBERs of at most 9 bytes each; the hasher streams, so two writes
            // hash as one.
            let mut header = [0u8; 18];
            let unused = {
                let mut rest: &mut [u8] = &mut header;
                put_header(&mut rest, c.ty, len);
                rest.len()
            };
            h.write(header.get(..header.len() - unused).unwrap_or_default());
            h.write(c.value);
        }
    }

    fn reduce(&self, hash: u64) -> u8 {
        // Below `shards` (at most 64), so the cast keeps every bit.
        (hash % u64::from(self.shards)) as u8
    }
}

/// Names the leader owns: `/localhost` (management, local services, prefix registration) and
/// `/localhop`.
fn is_leaders(ty: u32, first_value: &[u8]) -> bool {
    ty == tt::GENERIC_NAME_COMPONENT && matches!(first_value, b"localhost" | b"localhop")
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use nfwd_tlv::lp::{NackReason, Reassembler, ReassemblerConfig, fragment};
    use nfwd_tlv::{Component, DataBuilder, InterestBuilder, Signer};
    use proptest::prelude::*;

    use super::*;
    use crate::pit::Pit;

    fn dispatcher(shards: u8) -> Dispatcher {
        Dispatcher::new(shards, NameHasher::new()).unwrap()
    }

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn interest(n: &Name) -> Bytes {
        InterestBuilder::new(n.clone()).can_be_prefix(true).encode()
    }

    fn data(n: &Name) -> Bytes {
        DataBuilder::new(n.clone(), b"content".to_vec())
            .sign(&Signer::digest_sha256())
            .unwrap()
    }

    fn in_lp(packet: &Bytes, token: Option<PitToken>) -> Bytes {
        let mut lp = LpPacket::from_fragment(packet.clone());
        lp.pit_token = token;
        lp.encode()
    }

    /// The same frame, decoded, through [`Dispatcher::shard_of_packet`].
    fn decoded(d: &Dispatcher, frame: &Bytes) -> u8 {
        d.shard_of_packet(&LpPacket::decode(frame.clone()).unwrap())
    }

    #[test]
    fn shards_are_1_to_64() {
        assert!(Dispatcher::new(0, NameHasher::new()).is_err());
        assert!(Dispatcher::new(65, NameHasher::new()).is_err());
        assert!(Dispatcher::new(u8::MAX, NameHasher::new()).is_err());
        assert_eq!(dispatcher(1).shards(), 1);
        assert_eq!(dispatcher(MAX_SHARDS).shards(), 64);
    }

    #[test]
    fn one_shard_is_always_the_leader() {
        let d = dispatcher(1);
        let n = name("/a/b");
        for frame in [
            interest(&n),
            data(&n),
            Bytes::new(),
            Bytes::from_static(&[0xFF; 9]),
        ] {
            assert_eq!(d.shard_of_frame(&frame), LEADER);
        }
        assert_eq!(d.shard_of_name(&n), LEADER);
    }

    #[test]
    fn localhost_and_localhop_go_to_the_leader() {
        let d = dispatcher(64);
        for n in [
            "/localhost/nfd/rib/register",
            "/localhost",
            "/localhop/nfd/rib/register",
            "/localhost/nfwd/sf/list",
        ] {
            let n = name(n);
            assert_eq!(d.shard_of_name(&n), LEADER, "{n}");
            for frame in [
                interest(&n),
                data(&n),
                in_lp(&interest(&n), Some(PitToken::from_u64(u64::MAX))),
                in_lp(&data(&n), None),
                LpPacket::nack(NackReason::NoRoute, interest(&n)).encode(),
            ] {
                assert_eq!(d.shard_of_frame(&frame), LEADER, "{n}");
            }
        }
        // Only as a generic first component: under 64 keys, another type or place is hashed.
        let hashed = |n: &str| {
            let n = name(n);
            (0..64).any(|_| dispatcher(64).shard_of_frame(&interest(&n)) != LEADER)
        };
        assert!(hashed("/32=localhost/x"));
        assert!(hashed("/localhostx"));
        assert!(hashed("/a/localhost"));
    }

    #[test]
    fn idle_packets_go_to_the_leader() {
        let d = dispatcher(64);
        let idle = [
            LpPacket {
                acks: vec![1, 2],
                ..LpPacket::default()
            },
            LpPacket {
                chain_aware: Some(1),
                sequence: Some(9),
                ..LpPacket::default()
            },
            LpPacket {
                pit_token: Some(PitToken::from_u64(0x0100_0000_0000_0000)),
                nack: Some(NackReason::None),
                ..LpPacket::default()
            },
            LpPacket::default(),
        ];
        for p in idle {
            assert_eq!(d.shard_of_frame(&p.encode()), LEADER, "{p:?}");
            assert_eq!(d.shard_of_packet(&p), LEADER, "{p:?}");
        }
    }

    #[test]
    fn garbage_goes_to_the_leader() {
        let d = dispatcher(64);
        let i = interest(&name("/a/b"));
        let mut trailing = i.to_vec();
        trailing.push(0);
        let frames: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xFF],
            vec![0x05],
            i.get(..i.len() - 1).unwrap().to_vec(),
            trailing,
            // A Name alone, an unknown type, type 0.
            vec![0x07, 0x03, 0x08, 0x01, b'a'],
            vec![0x99, 0x03, 0x08, 0x01, b'a'],
            vec![0x00, 0x00],
            // Interest and Data with an empty Name, without a Name, with a truncated component.
            vec![0x05, 0x02, 0x07, 0x00],
            vec![0x06, 0x02, 0x07, 0x00],
            vec![0x05, 0x05, 0x0A, 0x03, 0x08, 0x01, b'a'],
            vec![0x05, 0x05, 0x07, 0x03, 0x08, 0x02, b'a'],
            // A component type above 65535.
            vec![
                0x05, 0x09, 0x07, 0x07, 0xFE, 0x00, 0x01, 0x00, 0x00, 0x01, b'a',
            ],
            // LpPacket: its Fragment an LpPacket; an unknown type; a fragment without Sequence;
            // a Sequence of 4 bytes; a token of 0 and of 33 bytes; a truncated field.
            in_lp(&in_lp(&i, None), None).to_vec(),
            vec![0x64, 0x04, 0x50, 0x02, 0x99, 0x00],
            vec![
                0x64, 0x09, 0x52, 0x01, 0x00, 0x53, 0x01, 0x02, 0x50, 0x01, 0x05,
            ],
            vec![0x64, 0x09, 0x51, 0x04, 0, 0, 0, 1, 0x50, 0x01, 0x05],
            [
                &[
                    0x64,
                    0x02 + i.len() as u8 + 2,
                    0x62,
                    0x00,
                    0x50,
                    i.len() as u8,
                ],
                &i[..],
            ]
            .concat(),
            [
                &[0x64, 35 + i.len() as u8 + 2, 0x62, 33],
                &[7u8; 33][..],
                &[0x50, i.len() as u8],
                &i[..],
            ]
            .concat(),
            vec![0x64, 0x03, 0x62, 0x08, 0x01],
        ];
        for f in &frames {
            assert_eq!(d.shard_of_frame(f), LEADER, "{f:02x?}");
        }
    }

    #[test]
    fn non_minimal_headers_hash_as_the_minimal_ones() {
        for first in ["a", "abc", "a-much-longer-component-value"] {
            let d = dispatcher(64);
            let n = name(&format!("/{first}/b"));
            let minimal = d.shard_of_frame(&interest(&n));
            // Type 8 as 0xFD 0008, the length as 0xFE 0000 00LL; the Name's length grows by 6.
            let v = first.as_bytes();
            let mut comp = vec![0xFD, 0x00, 0x08, 0xFE, 0, 0, 0, v.len() as u8];
            comp.extend_from_slice(v);
            comp.extend_from_slice(&[0x08, 0x01, b'b']);
            let mut frame = vec![0x05, comp.len() as u8 + 2, 0x07, comp.len() as u8];
            frame.extend_from_slice(&comp);
            assert_eq!(d.shard_of_frame(&frame), minimal, "{first}");
            // Both hash as the name's prefix hash of one component does.
            let key = NameHasher::new();
            let d = Dispatcher::new(64, key.clone()).unwrap();
            let by_prefix_hash = (n.prefix_hashes(&key)[1] % 64) as u8;
            assert_eq!(d.shard_of_frame(&frame), by_prefix_hash, "{first}");
            assert_eq!(d.shard_of_frame(&interest(&n)), by_prefix_hash, "{first}");
            assert_eq!(d.shard_of_name(&n), by_prefix_hash, "{first}");
        }
    }

    #[test]
    fn first_components_spread_evenly() {
        let d = dispatcher(4);
        let mut counts = [0u32; 4];
        for i in 0..10_000 {
            let n = Name::new().append(&Component::generic(format!("c{i}").as_bytes()));
            counts[usize::from(d.shard_of_frame(&interest(&n)))] += 1;
        }
        for (shard, c) in counts.iter().enumerate() {
            assert!((1500..=3500).contains(c), "shard {shard}: {counts:?}");
        }
    }

    #[test]
    fn a_longer_prefix_spreads_names_that_share_a_first_component() {
        let d = Dispatcher::with_prefix(4, 2, NameHasher::new()).unwrap();
        let mut counts = [0u32; 4];
        for i in 0..10_000 {
            let n = name(&format!("/ndn/site{i}/x"));
            let shard = d.shard_of_frame(&interest(&n));
            assert_eq!(shard, d.shard_of_name(&n));
            counts[usize::from(shard)] += 1;
        }
        for (shard, c) in counts.iter().enumerate() {
            assert!((1500..=3500).contains(c), "shard {shard}: {counts:?}");
        }
        // With one component, they would all be on one shard.
        let one = dispatcher(4);
        let first = one.shard_of_name(&name("/ndn/site0/x"));
        assert!((1..100).all(|i| one.shard_of_name(&name(&format!("/ndn/site{i}/x"))) == first));
        // /localhost stays the leader's, whatever follows.
        assert_eq!(d.shard_of_name(&name("/localhost/nfd/rib")), LEADER);
    }

    #[test]
    fn prefixes_are_1_to_8_components() {
        for bad in [0, MAX_PREFIX_COMPONENTS + 1] {
            assert!(Dispatcher::with_prefix(4, bad, NameHasher::new()).is_err());
        }
    }

    #[test]
    fn a_nack_or_data_with_a_foreign_token_goes_by_name() {
        let d = dispatcher(64);
        let n = name("/x/y");
        let by_name = d.shard_of_name(&n);
        // Not 8 bytes, or a first byte that is no shard.
        for token in [
            PitToken::from_slice(&[1, 2, 3]).unwrap(),
            PitToken::from_slice(&[0; 16]).unwrap(),
            PitToken::from_u64(0xFF00_0000_0000_0001),
            PitToken::from_u64(0x4000_0000_0000_0001),
        ] {
            let nack = LpPacket::nack(NackReason::Congestion, interest(&n)).with_pit_token(token);
            assert_eq!(d.shard_of_frame(&nack.encode()), by_name);
            assert_eq!(d.shard_of_packet(&nack), by_name);
            assert_eq!(d.shard_of_frame(&in_lp(&data(&n), Some(token))), by_name);
        }
    }

    /// A name component of any type but the digests.
    fn plain_component() -> impl Strategy<Value = Component> {
        prop_oneof![
            (3u32..=65535, proptest::collection::vec(any::<u8>(), 0..12)),
            (Just(8u32), proptest::collection::vec(any::<u8>(), 0..4)),
        ]
        .prop_map(|(ty, value)| Component::new(ty, &value).unwrap())
    }

    /// A name component of any type: digests hold 32 bytes.
    fn component() -> impl Strategy<Value = Component> {
        prop_oneof![
            4 => plain_component(),
            1 => (1u32..=2, proptest::collection::vec(any::<u8>(), 32..=32))
                .prop_map(|(ty, value)| Component::new(ty, &value).unwrap()),
        ]
    }

    fn name_of(components: &[Component]) -> Name {
        components.iter().cloned().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn an_interest_and_its_data_meet_in_one_shard(
            comps in proptest::collection::vec(component(), 1..=8),
            extra in proptest::collection::vec(component(), 0..3),
            shards in 1u8..=MAX_SHARDS,
            downstream in any::<u64>(),
            foreign in proptest::collection::vec(any::<u8>(), 1..=32),
        ) {
            let d = dispatcher(shards);
            let n = name_of(&comps);
            let shard = d.shard_of_name(&n);
            prop_assert!(shard < shards);
            let i = interest(&n);
            let full: Vec<Component> = comps.iter().chain(&extra).cloned().collect();
            let data = data(&name_of(&full));
            let mut frames = vec![
                i.clone(),
                in_lp(&i, Some(PitToken::from_u64(downstream))),
                data.clone(),
                in_lp(&data, None),
                LpPacket::nack(NackReason::NoRoute, i.clone()).encode(),
            ];
            if foreign.len() != 8 {
                let token = PitToken::from_slice(&foreign).unwrap();
                frames.push(in_lp(&data, Some(token)));
                frames.push(LpPacket::nack(NackReason::NoRoute, i).with_pit_token(token).encode());
            }
            for f in &frames {
                prop_assert_eq!(d.shard_of_frame(f), shard);
                prop_assert_eq!(decoded(&d, f), shard);
            }
        }

        /// With a prefix of several components, an Interest at least that long meets its
        /// Data; a shorter one (CanBePrefix) is found among the owners of the Data's shorter
        /// prefixes, where a shard with no entry for the Data hands it.
        #[test]
        fn a_data_finds_its_interests_shard_whatever_the_prefix(
            comps in proptest::collection::vec(component(), 1..=8),
            extra in proptest::collection::vec(component(), 0..4),
            shards in 2u8..=MAX_SHARDS,
            prefix in 1u8..=MAX_PREFIX_COMPONENTS,
        ) {
            let d = Dispatcher::with_prefix(shards, prefix, NameHasher::new()).unwrap();
            let n = name_of(&comps);
            let interest_shard = d.shard_of_frame(&interest(&n));
            prop_assert_eq!(interest_shard, d.shard_of_name(&n));
            let full: Vec<Component> = comps.iter().chain(&extra).cloned().collect();
            let data_name = name_of(&full);
            let data_shard = d.shard_of_frame(&data(&data_name));
            prop_assert_eq!(data_shard, d.shard_of_name(&data_name));
            if comps.len() >= usize::from(prefix) || extra.is_empty() {
                prop_assert_eq!(data_shard, interest_shard);
            } else {
                let others = d.owners_of_shorter(&data_name, data_shard);
                prop_assert!(
                    data_shard == interest_shard || others.contains(&interest_shard),
                    "{} not in {:?}", interest_shard, others
                );
                prop_assert!(!others.contains(&data_shard));
            }
        }

        #[test]
        fn an_answer_with_our_token_goes_to_the_shard_in_it(
            // No digests: the Interest must decode, to have a PIT entry.
            comps in proptest::collection::vec(plain_component(), 1..=8),
            shards in 2u8..=MAX_SHARDS,
            owner in 0u8..MAX_SHARDS,
            reuses in 0usize..5,
        ) {
            let owner = owner % shards;
            let d = dispatcher(shards);
            let n = name_of(&comps);
            let mut pit = Pit::with_shard(8, owner);
            let i = InterestBuilder::new(n.clone()).build();
            prop_assume!(i.is_ok(), "an Interest the decoder refuses has no PIT entry");
            let i = i.unwrap();
            for _ in 0..reuses {
                let id = pit.insert(i.clone(), 1, Instant::now()).unwrap();
                pit.remove(id);
            }
            let id = pit.insert(i.clone(), 1, Instant::now()).unwrap();
            let token = PitToken::from_u64(id.to_u64());
            let answers = [
                in_lp(&data(&n), Some(token)),
                LpPacket::nack(NackReason::Duplicate, i.wire().clone()).with_pit_token(token).encode(),
            ];
            for f in &answers {
                prop_assert_eq!(d.shard_of_frame(f), owner);
                prop_assert_eq!(decoded(&d, f), owner);
            }
            // An Interest carrying the same bytes goes by its name: that token was not ours.
            prop_assert_eq!(d.shard_of_frame(&in_lp(i.wire(), Some(token))), d.shard_of_name(&n));
        }

        #[test]
        fn all_fragments_of_a_packet_go_to_one_shard(
            comps in proptest::collection::vec(component(), 1..=8),
            size in 0usize..4000,
            mtu in 60usize..1500,
            first_sequence in any::<u64>(),
            shards in 1u8..=MAX_SHARDS,
            token in proptest::option::of(any::<u64>()),
        ) {
            let d = dispatcher(shards);
            let n = name_of(&comps);
            let wire = DataBuilder::new(n, vec![7u8; size])
                .sign(&Signer::digest_sha256())
                .unwrap();
            let whole = LpPacket {
                pit_token: token.map(PitToken::from_u64),
                ..LpPacket::from_fragment(wire)
            };
            let expected = d.shard_of_frame(&whole.encode());
            let frames = fragment(&whole, mtu, first_sequence).unwrap();
            let shard = d.shard_of_frame(&frames[0]);
            prop_assert!(shard < shards);
            let mut r = Reassembler::new(ReassemblerConfig {
                max_frag_count: 1024,
                ..ReassemblerConfig::default()
            });
            let mut out = None;
            for f in &frames {
                prop_assert_eq!(d.shard_of_frame(f), shard);
                out = r.receive((), LpPacket::decode(f.clone()).unwrap(), Instant::now()).unwrap();
            }
            // The shard that reassembled finds where the whole packet goes.
            let full = out.unwrap();
            prop_assert_eq!(d.shard_of_packet(&full), expected);
        }

        #[test]
        fn any_bytes_give_a_shard_below_the_count(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            shards in 1u8..=MAX_SHARDS,
        ) {
            prop_assert!(dispatcher(shards).shard_of_frame(&bytes) < shards);
        }
    }
}

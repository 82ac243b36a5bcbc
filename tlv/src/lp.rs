//! NDNLPv2, the NDN link protocol: the [`LpPacket`] header codec, fragmentation
//! ([`fragment`]) and reassembly ([`Reassembler`]).
//!
//! # For the forwarder's authors
//!
//! - **Decoding never panics.** [`LpPacket::decode`] checks every length before it slices, for
//!   any input bytes, and returns an [`Error`] instead. A proptest feeds it arbitrary bytes.
//! - **Decoding does not copy** but for the PIT token. `fragment` and `prefix_announcement`
//!   are [`Bytes`] views on the received buffer (one reference count each); the PIT token, at
//!   most 32 bytes, is copied into the [`PitToken`] itself, so keeping it pins no buffer. The only allocation is
//!   the `acks` vector, which holds one `u64` per 10-byte Ack element actually present.
//! - **Decoding accepts** an LpPacket (TLV-TYPE 100), or a bare Interest (5) or Data (6) as an
//!   implicit LpPacket whose `fragment` is the whole bare packet. Header fields must come in
//!   ascending TLV-TYPE order (only Ack may repeat), Fragment last. Unknown fields are ignored
//!   only when `800 <= type <= 959 && type % 4 == 0`; any other unknown field is an error.
//! - **IDLE packets decode.** An LpPacket without Fragment decodes so that its Acks can be read;
//!   check [`LpPacket::is_idle`] and drop it before forwarding.
//! - **Encoding writes once.** [`LpPacket::encode`] computes [`LpPacket::encoded_len`] first and
//!   writes into a buffer of exactly that size. [`LpPacket::encode_or_bare`] returns the bare
//!   Interest/Data (no copy) when there is no header field, as NDN peers expect.
//! - **Fragmentation** ([`fragment`]) allocates one exactly-sized buffer per fragment; it never
//!   produces a fragment larger than the MTU, and fails if the MTU cannot carry a payload byte.
//!   Do not fragment towards python-ndn: it drops every LpPacket carrying FragIndex/FragCount.
//! - **Reassembly is sans-IO and bounded.** [`Reassembler::receive`] takes `now` from the caller
//!   (no clock reads). Memory is bounded by [`ReassemblerConfig`]: at most
//!   `max_partial_packets` partial packets, `max_frag_count` fragments each and
//!   `max_buffered_bytes` payload bytes in total; a partial packet is dropped once it is older
//!   than `timeout`. Buffered fragments are views on the received buffers, so a driver that
//!   receives into large shared buffers should copy small datagrams out (or size receive buffers
//!   to the MTU), otherwise the accounted bytes understate the memory retained.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::element::{
    Element, Reader, nni_len, nni_tlv_len, put_header, put_nni_tlv, read_header, tlv_len,
};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::types::{lp as t, tt};

/// Length of the value of the fixed-width integer fields (Sequence, Ack, TxSequence).
const FIXED_LEN: usize = 8;

/// True if an unknown LpPacket header field of this TLV-TYPE may be ignored (NDNLPv2: the
/// "ignorable" range is 800..=959 with the two low bits clear).
#[must_use]
pub const fn is_ignorable(tlv_type: u32) -> bool {
    800 <= tlv_type && tlv_type <= 959 && tlv_type & 3 == 0
}

/// The reason carried by a network Nack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NackReason {
    /// 0: no reason given.
    None,
    /// 50: the upstream is congested.
    Congestion,
    /// 100: the Interest was a duplicate (loop).
    Duplicate,
    /// 150: no route towards the name.
    NoRoute,
    /// Any other value, kept so that it can be logged or passed on. Never holds 0, 50, 100 or
    /// 150 when built by [`NackReason::from_code`].
    Other(u64),
}

impl NackReason {
    /// Maps a NackReason value to its variant.
    #[must_use]
    pub const fn from_code(code: u64) -> Self {
        match code {
            0 => Self::None,
            50 => Self::Congestion,
            100 => Self::Duplicate,
            150 => Self::NoRoute,
            other => Self::Other(other),
        }
    }

    /// The NackReason value on the wire.
    #[must_use]
    pub const fn code(self) -> u64 {
        match self {
            Self::None => 0,
            Self::Congestion => 50,
            Self::Duplicate => 100,
            Self::NoRoute => 150,
            Self::Other(code) => code,
        }
    }
}

/// The CachePolicyType inside a CachePolicy field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CachePolicyType {
    /// 1: the Data must not be cached.
    NoCache,
    /// Any other value (CachePolicy is an ignorable field, so unknown policies are kept rather
    /// than rejected). Never holds 1 when built by [`CachePolicyType::from_code`].
    Other(u64),
}

impl CachePolicyType {
    /// Maps a CachePolicyType value to its variant.
    #[must_use]
    pub const fn from_code(code: u64) -> Self {
        match code {
            1 => Self::NoCache,
            other => Self::Other(other),
        }
    }

    /// The CachePolicyType value on the wire.
    #[must_use]
    pub const fn code(self) -> u64 {
        match self {
            Self::NoCache => 1,
            Self::Other(code) => code,
        }
    }
}

/// A PIT token: 1 to 32 opaque bytes that a downstream attaches to an Interest and the
/// upstream echoes on the Data or Nack. The length is checked when the token is built, so a
/// `PitToken` always encodes validly.
///
/// The bytes are held inline (33 bytes, `Copy`): a forwarder makes one per forwarded
/// Interest and keeps a received one in its PIT for the Interest's lifetime, and inline it
/// costs neither an allocation nor a reference that would pin the whole receive buffer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PitToken {
    len: u8,
    // Zero beyond `len`, so the derived comparisons and hash see only the token.
    bytes: [u8; Self::MAX_LEN],
}

impl PitToken {
    /// Shortest allowed token.
    pub const MIN_LEN: usize = 1;
    /// Longest allowed token.
    pub const MAX_LEN: usize = 32;

    /// Copies `bytes` into a token after checking its length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let mut token = Self {
            len: 0,
            bytes: [0; Self::MAX_LEN],
        };
        match (
            u8::try_from(bytes.len()),
            token.bytes.get_mut(..bytes.len()),
        ) {
            (Ok(len), Some(dst)) if bytes.len() >= Self::MIN_LEN => {
                dst.copy_from_slice(bytes);
                token.len = len;
                Ok(token)
            }
            _ => Err(Error::InvalidValue {
                field: "PitToken",
                reason: "length must be 1 to 32 bytes",
            }),
        }
    }

    /// An 8-byte big-endian token, the form forwarders usually generate.
    #[must_use]
    pub fn from_u64(v: u64) -> Self {
        let mut bytes = [0; Self::MAX_LEN];
        let (head, _) = bytes.split_at_mut(8);
        head.copy_from_slice(&v.to_be_bytes());
        Self { len: 8, bytes }
    }

    /// The token as a number if it is exactly 8 bytes long (the [`PitToken::from_u64`] form).
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        let arr: [u8; 8] = self.as_bytes().try_into().ok()?;
        Some(u64::from_be_bytes(arr))
    }

    /// The token bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl std::fmt::Debug for PitToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PitToken(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// An NDNLPv2 packet: the header fields and the Fragment.
///
/// Decoded with [`LpPacket::decode`]; built with struct syntax (all fields are public) or the
/// constructors, then written with [`LpPacket::encode`]. Absent fields are `None`/empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LpPacket {
    /// Sequence (81), a fixed 8-byte integer: identifies a fragment (and the packet for
    /// reliability).
    pub sequence: Option<u64>,
    /// FragIndex (82): position of this fragment; absent means 0.
    pub frag_index: Option<u64>,
    /// FragCount (83): number of fragments of the packet; absent means 1.
    pub frag_count: Option<u64>,
    /// PitToken (98).
    pub pit_token: Option<PitToken>,
    /// Nack (800) with its NackReason (801): the Fragment is the rejected Interest.
    pub nack: Option<NackReason>,
    /// IncomingFaceId (812), used on local faces.
    pub incoming_face_id: Option<u64>,
    /// NextHopFaceId (816), used on local faces.
    pub next_hop_face_id: Option<u64>,
    /// CachePolicy (820) with its CachePolicyType (821).
    pub cache_policy: Option<CachePolicyType>,
    /// CongestionMark (832).
    pub congestion_mark: Option<u64>,
    /// Ack (836) fields, fixed 8-byte integers, in wire order.
    pub acks: Vec<u64>,
    /// TxSequence (840), a fixed 8-byte integer.
    pub tx_sequence: Option<u64>,
    /// NonDiscovery (844), an empty flag field.
    pub non_discovery: bool,
    /// PrefixAnnouncement (848): the whole Data element (header included) it holds. Decoding
    /// checks that it is exactly one Data element; encoding writes it as given.
    pub prefix_announcement: Option<Bytes>,
    /// PoppedFunction (928, nfwd): the function name the forwarder popped before handing
    /// the Interest to the SF hosting it, parameters included (`docs/protocol.md` §4).
    /// Meaningful only from a forwarder to a local application; forwarders ignore it.
    pub popped_function: Option<Name>,
    /// ChainAware (932, nfwd): 1 = "I understand function chaining, do you?", 2 = the
    /// answer (`docs/protocol.md` §4.1). Sent only in IDLE packets between forwarders.
    pub chain_aware: Option<u64>,
    /// The Fragment (80) value: a whole Interest or Data, or a piece of one. `None` for an
    /// IDLE packet.
    pub fragment: Option<Bytes>,
}

/// Where a field may appear: header fields by ascending TLV-TYPE, then the Fragment.
fn order_key(tlv_type: u32) -> u64 {
    if tlv_type == t::FRAGMENT {
        u64::from(u32::MAX) + 1
    } else {
        u64::from(tlv_type)
    }
}

/// Decodes a fixed 8-byte integer (Sequence, Ack, TxSequence).
fn decode_fixed8(el: &Element, field: &'static str) -> Result<u64> {
    let arr: [u8; FIXED_LEN] = el.value().try_into().map_err(|_| Error::InvalidValue {
        field,
        reason: "must be exactly 8 bytes",
    })?;
    Ok(u64::from_be_bytes(arr))
}

fn put_fixed8(buf: &mut impl BufMut, tlv_type: u32, v: u64) {
    put_header(buf, tlv_type, FIXED_LEN);
    buf.put_u64(v);
}

/// Reads the first child of `el` of type `child`, as a NonNegativeInteger. Other children are
/// skipped (as ndn-cxx does), but they must be well-formed TLV.
fn first_nni_child(el: &Element, child: u32) -> Result<Option<u64>> {
    let mut found = None;
    for c in el.children() {
        let c = c?;
        if c.tlv_type() == child && found.is_none() {
            found = Some(c.as_nni()?);
        }
    }
    Ok(found)
}

impl LpPacket {
    /// Decodes one link-layer packet: an LpPacket, or a bare Interest or Data (an implicit
    /// LpPacket with only a Fragment). `wire` must hold exactly one TLV element.
    pub fn decode(wire: Bytes) -> Result<Self> {
        match Self::decode_token_and_fragment(&wire) {
            Some(pkt) => Ok(pkt),
            None => Self::decode_any(wire),
        }
    }

    /// [`LpPacket::decode`] for every shape of packet, field by field.
    fn decode_any(wire: Bytes) -> Result<Self> {
        let outer = Element::decode_exact(&wire)?;
        match outer.tlv_type() {
            tt::INTEREST | tt::DATA => return Ok(Self::from_fragment(wire)),
            t::LP_PACKET => {}
            found => {
                return Err(Error::UnexpectedType {
                    expected: t::LP_PACKET,
                    found,
                });
            }
        }

        let mut pkt = Self::default();
        let mut prev: Option<u64> = None;
        for el in Reader::new(outer.value_bytes()) {
            let el = el?;
            let ty = el.tlv_type();
            let known = matches!(
                ty,
                t::FRAGMENT
                    | t::SEQUENCE
                    | t::FRAG_INDEX
                    | t::FRAG_COUNT
                    | t::PIT_TOKEN
                    | t::NACK
                    | t::INCOMING_FACE_ID
                    | t::NEXT_HOP_FACE_ID
                    | t::CACHE_POLICY
                    | t::CONGESTION_MARK
                    | t::ACK
                    | t::TX_SEQUENCE
                    | t::NON_DISCOVERY
                    | t::PREFIX_ANNOUNCEMENT
                    | t::POPPED_FUNCTION
                    | t::CHAIN_AWARE
            );
            if !known && !is_ignorable(ty) {
                return Err(Error::UnknownCritical(ty));
            }
            // Ascending order; a type may repeat only if it is Ack or an ignored unknown field.
            let key = order_key(ty);
            if let Some(p) = prev {
                let repeat_ok = ty == t::ACK || !known;
                if key < p || (key == p && !repeat_ok) {
                    return Err(Error::OutOfOrder(ty));
                }
            }
            prev = Some(key);

            match ty {
                t::FRAGMENT => pkt.fragment = Some(el.value_bytes()),
                t::SEQUENCE => pkt.sequence = Some(decode_fixed8(&el, "Sequence")?),
                t::FRAG_INDEX => pkt.frag_index = Some(el.as_nni()?),
                t::FRAG_COUNT => pkt.frag_count = Some(el.as_nni()?),
                t::PIT_TOKEN => pkt.pit_token = Some(PitToken::from_slice(el.value())?),
                t::NACK => {
                    // An empty Nack means reason None.
                    let code = first_nni_child(&el, t::NACK_REASON)?.unwrap_or(0);
                    pkt.nack = Some(NackReason::from_code(code));
                }
                t::INCOMING_FACE_ID => pkt.incoming_face_id = Some(el.as_nni()?),
                t::NEXT_HOP_FACE_ID => pkt.next_hop_face_id = Some(el.as_nni()?),
                t::CACHE_POLICY => {
                    let code = first_nni_child(&el, t::CACHE_POLICY_TYPE)?
                        .ok_or(Error::Missing("CachePolicyType"))?;
                    pkt.cache_policy = Some(CachePolicyType::from_code(code));
                }
                t::CONGESTION_MARK => pkt.congestion_mark = Some(el.as_nni()?),
                t::ACK => pkt.acks.push(decode_fixed8(&el, "Ack")?),
                t::TX_SEQUENCE => pkt.tx_sequence = Some(decode_fixed8(&el, "TxSequence")?),
                t::NON_DISCOVERY => {
                    if !el.value().is_empty() {
                        return Err(Error::InvalidValue {
                            field: "NonDiscovery",
                            reason: "must be empty",
                        });
                    }
                    pkt.non_discovery = true;
                }
                t::PREFIX_ANNOUNCEMENT => {
                    let data = Element::decode_exact(&el.value_bytes())?;
                    if data.tlv_type() != tt::DATA {
                        return Err(Error::UnexpectedType {
                            expected: tt::DATA,
                            found: data.tlv_type(),
                        });
                    }
                    pkt.prefix_announcement = Some(data.wire().clone());
                }
                t::POPPED_FUNCTION => {
                    pkt.popped_function = Some(Name::from_wire(&el.value_bytes())?);
                }
                t::CHAIN_AWARE => pkt.chain_aware = Some(el.as_nni()?),
                // Ignorable unknown field (checked above).
                _ => {}
            }
        }
        Ok(pkt)
    }

    /// A packet with only a Fragment (a bare Interest or Data, or any payload).
    #[must_use]
    pub fn from_fragment(fragment: Bytes) -> Self {
        Self {
            fragment: Some(fragment),
            ..Self::default()
        }
    }

    /// A network Nack: `LpPacket{Nack{NackReason}, Fragment = interest_wire}`, where
    /// `interest_wire` is the bare Interest being rejected.
    #[must_use]
    pub fn nack(reason: NackReason, interest_wire: Bytes) -> Self {
        Self {
            nack: Some(reason),
            ..Self::from_fragment(interest_wire)
        }
    }

    /// Attaches `token` (replacing any PIT token already present).
    #[must_use]
    pub fn with_pit_token(mut self, token: PitToken) -> Self {
        self.pit_token = Some(token);
        self
    }

    /// Copies the PIT token of `request` (the Interest this packet answers) onto this packet,
    /// or removes this packet's token if the request carried none.
    #[must_use]
    pub fn echo_pit_token(mut self, request: &Self) -> Self {
        self.pit_token.clone_from(&request.pit_token);
        self
    }

    /// True if there is no Fragment: the packet only carries link-layer fields (e.g. Acks) and
    /// must not be forwarded.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.fragment.is_none()
    }

    /// True if this packet is one piece of a fragmented packet (FragCount > 1 or
    /// FragIndex > 0) and must go through a [`Reassembler`].
    #[must_use]
    pub fn is_fragmented(&self) -> bool {
        self.frag_count.is_some_and(|c| c > 1) || self.frag_index.is_some_and(|i| i > 0)
    }

    /// True if any header field is present (anything besides the Fragment).
    #[must_use]
    pub fn has_headers(&self) -> bool {
        self.headers_len() > 0
    }

    /// Encoded length of all header fields (everything except the Fragment).
    fn headers_len(&self) -> usize {
        let mut n = 0;
        n += self.sequence.map_or(0, |_| tlv_len(t::SEQUENCE, FIXED_LEN));
        n += self.frag_index.map_or(0, |v| nni_tlv_len(t::FRAG_INDEX, v));
        n += self.frag_count.map_or(0, |v| nni_tlv_len(t::FRAG_COUNT, v));
        n += self
            .pit_token
            .as_ref()
            .map_or(0, |p| tlv_len(t::PIT_TOKEN, p.as_bytes().len()));
        n += self.nack.map_or(0, |r| {
            tlv_len(t::NACK, nni_tlv_len(t::NACK_REASON, r.code()))
        });
        n += self
            .incoming_face_id
            .map_or(0, |v| nni_tlv_len(t::INCOMING_FACE_ID, v));
        n += self
            .next_hop_face_id
            .map_or(0, |v| nni_tlv_len(t::NEXT_HOP_FACE_ID, v));
        n += self.cache_policy.map_or(0, |c| {
            tlv_len(t::CACHE_POLICY, nni_tlv_len(t::CACHE_POLICY_TYPE, c.code()))
        });
        n += self
            .congestion_mark
            .map_or(0, |v| nni_tlv_len(t::CONGESTION_MARK, v));
        n += self.acks.len() * tlv_len(t::ACK, FIXED_LEN);
        n += self
            .tx_sequence
            .map_or(0, |_| tlv_len(t::TX_SEQUENCE, FIXED_LEN));
        n += if self.non_discovery {
            tlv_len(t::NON_DISCOVERY, 0)
        } else {
            0
        };
        n += self
            .prefix_announcement
            .as_ref()
            .map_or(0, |p| tlv_len(t::PREFIX_ANNOUNCEMENT, p.len()));
        n += self.popped_function.as_ref().map_or(0, |f| {
            tlv_len(t::POPPED_FUNCTION, tlv_len(tt::NAME, f.value_bytes().len()))
        });
        n += self
            .chain_aware
            .map_or(0, |v| nni_tlv_len(t::CHAIN_AWARE, v));
        n
    }

    /// Length of the LpPacket's TLV-VALUE.
    fn value_len(&self) -> usize {
        self.value_len_with(self.fragment.as_ref().map(Bytes::len))
    }

    /// Length of the TLV-VALUE with a Fragment of `fragment_len` bytes (or none).
    fn value_len_with(&self, fragment_len: Option<usize>) -> usize {
        self.headers_len() + fragment_len.map_or(0, |n| tlv_len(t::FRAGMENT, n))
    }

    /// Length of [`LpPacket::encode`]'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        tlv_len(t::LP_PACKET, self.value_len())
    }

    /// Writes the packet as an LpPacket (TLV-TYPE 100): header fields in ascending TLV-TYPE
    /// order, Fragment last. Writes exactly [`LpPacket::encoded_len`] bytes.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        let fragment_len = self.fragment.as_ref().map(Bytes::len);
        self.encode_headers_to(buf, fragment_len);
        if let Some(f) = &self.fragment {
            buf.put_slice(f);
        }
    }

    /// Encodes the header fields with a Fragment of `fragment_len` bytes that
    /// `write_fragment` writes into the same buffer (`self.fragment` is not used): a forwarder
    /// writes the Interest it edits straight behind its header, in one pass and one exactly
    /// sized buffer, instead of encoding the Interest and then copying it into the packet.
    #[must_use]
    pub fn encode_with_fragment(
        &self,
        fragment_len: usize,
        write_fragment: impl FnOnce(&mut BytesMut),
    ) -> Bytes {
        if let Some(header) = self.token_only_header(fragment_len) {
            let len = header.len() + fragment_len;
            let mut buf = BytesMut::with_capacity(len);
            buf.extend_from_slice(&header);
            write_fragment(&mut buf);
            debug_assert_eq!(buf.len(), len, "the fragment's length was not as announced");
            return buf.freeze();
        }
        let len = tlv_len(t::LP_PACKET, self.value_len_with(Some(fragment_len)));
        let mut buf = BytesMut::with_capacity(len);
        self.encode_headers_to(&mut buf, Some(fragment_len));
        write_fragment(&mut buf);
        debug_assert_eq!(buf.len(), len, "the fragment's length was not as announced");
        buf.freeze()
    }

    /// An LpPacket of the shape nearly every packet between forwarders has — a PIT token, then
    /// the fragment, nothing else — read from its three headers, without the general decoder's
    /// element per field. `None` for any other shape: the general decoder then decides (errors
    /// included), so both accept and refuse exactly the same packets.
    fn decode_token_and_fragment(wire: &Bytes) -> Option<Self> {
        // LpPacket's type is one byte when minimally encoded; a bare Interest or Data (or an
        // unusual encoding) leaves at once for the general decoder.
        if wire.first() != Some(&(t::LP_PACKET as u8)) {
            return None;
        }
        let (ty, len, header) = read_header(wire).ok()?;
        if ty != t::LP_PACKET || header.checked_add(len)? != wire.len() {
            return None;
        }
        let (ty, token_len, token_header) = read_header(wire.get(header..)?).ok()?;
        if ty != t::PIT_TOKEN {
            return None;
        }
        let token_start = header + token_header;
        let token_end = token_start.checked_add(token_len)?;
        let (ty, fragment_len, fragment_header) = read_header(wire.get(token_end..)?).ok()?;
        let fragment_start = token_end + fragment_header;
        if ty != t::FRAGMENT || fragment_start.checked_add(fragment_len)? != wire.len() {
            return None;
        }
        let pit_token = PitToken::from_slice(wire.get(token_start..token_end)?).ok()?;
        Some(Self {
            pit_token: Some(pit_token),
            fragment: Some(wire.slice(fragment_start..)),
            ..Self::default()
        })
    }

    /// Everything before the Fragment's value when the packet's only header field is a PIT
    /// token: what a forwarder puts around nearly every Interest and Data it sends. Written
    /// straight into a small array, without the general encoder's two passes over every field
    /// (measuring the headers, then writing them), which cost as much as the rest of a send.
    /// `None` for any other packet.
    fn token_only_header(&self, fragment_len: usize) -> Option<TokenHeader> {
        // Every field named, so that a new one cannot be forgotten here.
        let Self {
            sequence: None,
            frag_index: None,
            frag_count: None,
            pit_token: Some(token),
            nack: None,
            incoming_face_id: None,
            next_hop_face_id: None,
            cache_policy: None,
            congestion_mark: None,
            acks,
            tx_sequence: None,
            non_discovery: false,
            prefix_announcement: None,
            popped_function: None,
            chain_aware: None,
            fragment: _,
        } = self
        else {
            return None;
        };
        if !acks.is_empty() {
            return None;
        }
        let token = token.as_bytes();
        let value_len = tlv_len(t::PIT_TOKEN, token.len()) + tlv_len(t::FRAGMENT, fragment_len);
        let mut header = TokenHeader {
            bytes: [0; TokenHeader::MAX],
            len: 0,
        };
        let mut rest: &mut [u8] = &mut header.bytes;
        put_header(&mut rest, t::LP_PACKET, value_len);
        put_header(&mut rest, t::PIT_TOKEN, token.len());
        rest.put_slice(token);
        put_header(&mut rest, t::FRAGMENT, fragment_len);
        header.len = TokenHeader::MAX - rest.len();
        Some(header)
    }

    /// Everything but the Fragment's value: the LpPacket header, the header fields in
    /// ascending TLV-TYPE order and, if there is one, the Fragment's type and length.
    fn encode_headers_to(&self, buf: &mut impl BufMut, fragment_len: Option<usize>) {
        put_header(buf, t::LP_PACKET, self.value_len_with(fragment_len));
        if let Some(v) = self.sequence {
            put_fixed8(buf, t::SEQUENCE, v);
        }
        if let Some(v) = self.frag_index {
            put_nni_tlv(buf, t::FRAG_INDEX, v);
        }
        if let Some(v) = self.frag_count {
            put_nni_tlv(buf, t::FRAG_COUNT, v);
        }
        if let Some(p) = &self.pit_token {
            put_header(buf, t::PIT_TOKEN, p.as_bytes().len());
            buf.put_slice(p.as_bytes());
        }
        if let Some(r) = self.nack {
            // NackReason is written even when it is None (0); decoders read both forms.
            put_header(buf, t::NACK, nni_tlv_len(t::NACK_REASON, r.code()));
            put_nni_tlv(buf, t::NACK_REASON, r.code());
        }
        if let Some(v) = self.incoming_face_id {
            put_nni_tlv(buf, t::INCOMING_FACE_ID, v);
        }
        if let Some(v) = self.next_hop_face_id {
            put_nni_tlv(buf, t::NEXT_HOP_FACE_ID, v);
        }
        if let Some(c) = self.cache_policy {
            put_header(
                buf,
                t::CACHE_POLICY,
                nni_tlv_len(t::CACHE_POLICY_TYPE, c.code()),
            );
            put_nni_tlv(buf, t::CACHE_POLICY_TYPE, c.code());
        }
        if let Some(v) = self.congestion_mark {
            put_nni_tlv(buf, t::CONGESTION_MARK, v);
        }
        for &a in &self.acks {
            put_fixed8(buf, t::ACK, a);
        }
        if let Some(v) = self.tx_sequence {
            put_fixed8(buf, t::TX_SEQUENCE, v);
        }
        if self.non_discovery {
            put_header(buf, t::NON_DISCOVERY, 0);
        }
        if let Some(p) = &self.prefix_announcement {
            put_header(buf, t::PREFIX_ANNOUNCEMENT, p.len());
            buf.put_slice(p);
        }
        if let Some(f) = &self.popped_function {
            let v = f.value_bytes();
            put_header(buf, t::POPPED_FUNCTION, tlv_len(tt::NAME, v.len()));
            put_header(buf, tt::NAME, v.len());
            buf.put_slice(v);
        }
        if let Some(v) = self.chain_aware {
            put_nni_tlv(buf, t::CHAIN_AWARE, v);
        }
        if let Some(n) = fragment_len {
            put_header(buf, t::FRAGMENT, n);
        }
    }

    /// Encodes the packet as an LpPacket into one exactly-sized buffer.
    #[must_use]
    pub fn encode(&self) -> Bytes {
        if let Some(fragment) = &self.fragment
            && let Some(header) = self.token_only_header(fragment.len())
        {
            let mut buf = BytesMut::with_capacity(header.len() + fragment.len());
            buf.extend_from_slice(&header);
            buf.extend_from_slice(fragment);
            return buf.freeze();
        }
        let len = self.encoded_len();
        let mut buf = BytesMut::with_capacity(len);
        self.encode_to(&mut buf);
        debug_assert_eq!(buf.len(), len, "encoded_len disagrees with encode_to");
        buf.freeze()
    }

    /// What to send on a link: the bare Fragment (no copy) if there is no header field and the
    /// Fragment is an Interest or Data, otherwise the encoded LpPacket.
    #[must_use]
    pub fn encode_or_bare(&self) -> Bytes {
        if let Some(f) = &self.fragment
            && !self.has_headers()
            && matches!(read_header(f), Ok((tt::INTEREST | tt::DATA, _, _)))
        {
            return f.clone();
        }
        self.encode()
    }
}

/// The bytes [`LpPacket::token_only_header`] writes.
struct TokenHeader {
    bytes: [u8; Self::MAX],
    len: usize,
}

impl TokenHeader {
    /// Three TLV headers of at most 1 + 9 bytes each, and the longest token.
    const MAX: usize = 3 * 10 + PitToken::MAX_LEN;
}

impl std::ops::Deref for TokenHeader {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `frame` (one link frame: a bare Interest or Data, or an LpPacket) with CongestionMark = 1,
/// as a forwarder marks a packet it sends into a congested queue.
///
/// A bare packet is wrapped, `LpPacket{CongestionMark=1, Fragment=frame}`, in one
/// exactly-sized buffer with no decoding. An LpPacket is decoded and re-encoded with the mark
/// (a mark it already carries, non-zero, is kept); unknown ignorable header fields do not
/// survive the rewrite. Only marked packets pay for this: callers decide first.
pub fn with_congestion_mark(frame: Bytes) -> Result<Bytes> {
    let (ty, _, _) = read_header(&frame)?;
    match ty {
        tt::INTEREST | tt::DATA => {
            // Checked as one whole element, as `LpPacket::decode` would.
            Element::decode_exact(&frame)?;
            let mark = nni_tlv_len(t::CONGESTION_MARK, 1);
            let value = mark + tlv_len(t::FRAGMENT, frame.len());
            let mut buf = BytesMut::with_capacity(tlv_len(t::LP_PACKET, value));
            put_header(&mut buf, t::LP_PACKET, value);
            put_nni_tlv(&mut buf, t::CONGESTION_MARK, 1);
            put_header(&mut buf, t::FRAGMENT, frame.len());
            buf.put_slice(&frame);
            Ok(buf.freeze())
        }
        _ => {
            let mut lp = LpPacket::decode(frame)?;
            if lp.congestion_mark.is_none_or(|m| m == 0) {
                lp.congestion_mark = Some(1);
            }
            Ok(lp.encode())
        }
    }
}

/// Largest payload chunk that fits, with `headers` bytes of header fields, in an LpPacket of
/// at most `mtu` bytes; `None` if not even one byte fits.
fn max_chunk(mtu: usize, headers: usize) -> Option<usize> {
    let total = |c: usize| tlv_len(t::LP_PACKET, headers + tlv_len(t::FRAGMENT, c));
    // Each of the two TLV headers takes at least 2 bytes, so this is an upper bound; the real
    // answer is at most 8 bytes lower (two lengths growing from 1 to 5 bytes), so the loop
    // runs a few times at most.
    let mut c = mtu.checked_sub(headers)?.checked_sub(4)?;
    while c > 0 && total(c) > mtu {
        c -= 1;
    }
    (c > 0 && total(c) <= mtu).then_some(c)
}

/// Splits `packet` into LpPackets of at most `mtu` bytes each, numbered with consecutive
/// Sequence values starting at `first_sequence` (wrapping), as NFD's fragmenter does.
///
/// The payload is `packet.fragment`. Every fragment carries Sequence, FragIndex and FragCount;
/// all other header fields of `packet` (PitToken, Nack, IncomingFaceId, Acks, ...) go on the
/// first fragment only. Sequence, FragIndex and FragCount already in `packet` are replaced. If
/// the whole packet fits in one fragment, the result is one LpPacket with a Sequence and no
/// FragIndex/FragCount. Fails if `packet` has no Fragment, or if `mtu` is too small to carry a
/// payload byte in some fragment. Allocates one exactly-sized buffer per fragment.
pub fn fragment(packet: &LpPacket, mtu: usize, first_sequence: u64) -> Result<Vec<Bytes>> {
    let payload = packet.fragment.as_ref().ok_or(Error::Missing("Fragment"))?;

    // The first fragment's header, with frag fields to be filled in.
    let mut first = LpPacket {
        fragment: None,
        ..packet.clone()
    };
    first.sequence = Some(first_sequence);
    first.frag_index = None;
    first.frag_count = None;

    // Unfragmented: one packet with a Sequence.
    let whole = tlv_len(
        t::LP_PACKET,
        first.headers_len() + tlv_len(t::FRAGMENT, payload.len()),
    );
    if whole <= mtu {
        first.fragment = Some(payload.clone());
        return Ok(vec![first.encode()]);
    }

    // The FragCount field's width depends on the count, which depends on how much fits: plan
    // with an assumed count, and plan again with a wider field if the count outgrew it. NNI
    // widths take 4 values, so this settles within 4 rounds.
    let first_other = first.headers_len();
    let mut assumed: u64 = 2;
    let chunks = loop {
        let chunks =
            plan_chunks(payload.len(), mtu, first_other, assumed).ok_or(Error::InvalidValue {
                field: "MTU",
                reason: "too small to carry one payload byte",
            })?;
        let count = chunks.len() as u64;
        if nni_len(count) <= nni_len(assumed) {
            break chunks;
        }
        assumed = count;
    };

    let count = chunks.len() as u64;
    let mut out = Vec::with_capacity(chunks.len());
    let mut start = 0usize;
    for (i, len) in chunks.into_iter().enumerate() {
        let i = i as u64;
        let end = start + len;
        // plan_chunks returns lengths summing to payload.len(), so the range is in bounds.
        let piece = payload.slice(start..end);
        start = end;
        let frag = if i == 0 {
            LpPacket {
                frag_index: Some(0),
                frag_count: Some(count),
                fragment: Some(piece),
                ..first.clone()
            }
        } else {
            LpPacket {
                sequence: Some(first_sequence.wrapping_add(i)),
                frag_index: Some(i),
                frag_count: Some(count),
                fragment: Some(piece),
                ..LpPacket::default()
            }
        };
        let wire = frag.encode();
        debug_assert!(wire.len() <= mtu);
        out.push(wire);
    }
    Ok(out)
}

/// Chunk lengths for a payload of `total` bytes, assuming the FragCount field encodes
/// `assumed_count`; `first_other` is the first fragment's header length without
/// FragIndex/FragCount. `None` if some fragment cannot carry a byte.
fn plan_chunks(
    total: usize,
    mtu: usize,
    first_other: usize,
    assumed_count: u64,
) -> Option<Vec<usize>> {
    let count_len = nni_tlv_len(t::FRAG_COUNT, assumed_count);
    let seq_len = tlv_len(t::SEQUENCE, FIXED_LEN);
    let mut chunks = Vec::new();
    let mut left = total;
    let mut i: u64 = 0;
    while left > 0 {
        let base = if i == 0 { first_other } else { seq_len };
        let headers = base + nni_tlv_len(t::FRAG_INDEX, i) + count_len;
        let c = max_chunk(mtu, headers)?.min(left);
        chunks.push(c);
        left -= c;
        i += 1;
    }
    Some(chunks)
}

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblerConfig {
    /// Largest reassembled packet, in payload bytes: a packet whose fragments add up to more
    /// is dropped (with its fragments so far) as soon as they do. Default
    /// [`MAX_NDN_PACKET_SIZE`], the largest packet NDN allows.
    pub max_packet_size: usize,
    /// Largest FragCount accepted. Default 64: enough for an 8800-byte packet over any MTU
    /// above about 160 bytes (NFD allows 400; raise it for tiny MTUs).
    pub max_frag_count: u64,
    /// Most partial packets held at once; when full, the oldest is dropped. Default 256.
    /// Values below 1 act as 1.
    pub max_partial_packets: usize,
    /// Most payload bytes buffered across all partial packets; when exceeded, the oldest
    /// partial packets are dropped. Default 4 MiB.
    pub max_buffered_bytes: usize,
    /// A partial packet is dropped once this long has passed since its first fragment arrived
    /// (not extended by later fragments, so a trickle cannot pin it). Default 500 ms, as NFD.
    pub timeout: Duration,
}

impl Default for ReassemblerConfig {
    fn default() -> Self {
        Self {
            max_packet_size: MAX_NDN_PACKET_SIZE,
            max_frag_count: 64,
            max_partial_packets: 256,
            max_buffered_bytes: 4 << 20,
            timeout: Duration::from_millis(500),
        }
    }
}

/// The largest network-layer packet NDN allows (NDN packet format v0.3, "MAX_NDN_PACKET_SIZE").
pub const MAX_NDN_PACKET_SIZE: usize = 8800;

/// Counters of a [`Reassembler`], by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Packets reassembled completely.
    pub completed: u64,
    /// Fragments ignored because the same FragIndex had already arrived.
    pub duplicate_fragments: u64,
    /// Fragments rejected as malformed: no Sequence, no Fragment, FragCount 0 or
    /// FragIndex >= FragCount.
    pub invalid_fragments: u64,
    /// Fragments rejected because FragCount exceeds `max_frag_count`.
    pub too_many_fragments: u64,
    /// Fragments whose FragCount differs from that of earlier fragments of the same packet.
    pub inconsistent_fragments: u64,
    /// Partial packets dropped because `timeout` passed.
    pub timed_out_packets: u64,
    /// Partial packets dropped to stay within `max_partial_packets`.
    pub evicted_count_limit: u64,
    /// Partial packets dropped to stay within `max_buffered_bytes` (including a packet too big
    /// to fit at all, which is dropped with its latest fragment).
    pub evicted_byte_limit: u64,
    /// Partial packets dropped because their fragments exceeded `max_packet_size`.
    pub oversize_packets: u64,
}

/// A packet being reassembled.
#[derive(Debug)]
struct Partial {
    /// Distinguishes this partial from a later one under the same key in the age queue.
    id: u64,
    frag_count: u64,
    /// Payload by FragIndex. A map rather than a FragCount-sized vector, so memory follows the
    /// fragments received, not the FragCount claimed.
    pieces: BTreeMap<u64, Bytes>,
    bytes: usize,
    /// Header fields of fragment 0, once it has arrived.
    header: Option<LpPacket>,
}

/// Reassembles fragmented LpPackets, per peer, with bounded memory and no I/O.
///
/// Fragments of one packet are grouped by `(peer, Sequence - FragIndex)`. `K` identifies the
/// link peer (a face id, a socket address...). Feed every received packet to
/// [`Reassembler::receive`]; unfragmented packets come straight back.
#[derive(Debug)]
pub struct Reassembler<K> {
    config: ReassemblerConfig,
    partials: HashMap<(K, u64), Partial>,
    /// Partial packets by age: (deadline, key, id). Entries of completed or dropped partials
    /// stay until they reach the front or the queue is compacted.
    ages: VecDeque<(Instant, (K, u64), u64)>,
    next_id: u64,
    buffered: usize,
    stats: ReassemblyStats,
}

impl<K: Hash + Eq + Clone> Reassembler<K> {
    /// A reassembler with the given limits.
    #[must_use]
    pub fn new(config: ReassemblerConfig) -> Self {
        Self {
            config,
            partials: HashMap::new(),
            ages: VecDeque::new(),
            next_id: 0,
            buffered: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn config(&self) -> &ReassemblerConfig {
        &self.config
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Number of partial packets held.
    #[must_use]
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }

    /// Payload bytes held in partial packets.
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Takes in one received packet from `peer` at time `now`.
    ///
    /// Returns `Ok(Some(packet))` for an unfragmented packet (unchanged) or when `packet`
    /// completes a fragmented one: then the result has the header fields of fragment 0, the
    /// Sequence of fragment 0, no FragIndex/FragCount, and the concatenated payload. Returns
    /// `Ok(None)` while fragments are missing and for duplicate fragments. Returns an error,
    /// counted in [`ReassemblyStats`], for a fragment that is dropped.
    pub fn receive(&mut self, peer: K, packet: LpPacket, now: Instant) -> Result<Option<LpPacket>> {
        self.expire(now);

        let count = packet.frag_count.unwrap_or(1);
        let index = packet.frag_index.unwrap_or(0);
        if count == 0 || index >= count {
            self.stats.invalid_fragments += 1;
            return Err(Error::Reassembly("FragIndex must be less than FragCount"));
        }
        if count == 1 {
            return Ok(Some(packet));
        }
        if count > self.config.max_frag_count {
            self.stats.too_many_fragments += 1;
            return Err(Error::Reassembly("FragCount exceeds the limit"));
        }
        let Some(seq) = packet.sequence else {
            self.stats.invalid_fragments += 1;
            return Err(Error::Reassembly("fragment without Sequence"));
        };
        let Some(piece) = packet.fragment.clone() else {
            self.stats.invalid_fragments += 1;
            return Err(Error::Reassembly("fragment without Fragment"));
        };
        let key = (peer, seq.wrapping_sub(index));

        if let Some(p) = self.partials.get(&key) {
            if p.frag_count != count {
                self.stats.inconsistent_fragments += 1;
                return Err(Error::Reassembly("FragCount differs between fragments"));
            }
            if p.pieces.contains_key(&index) {
                self.stats.duplicate_fragments += 1;
                return Ok(None);
            }
        } else {
            while self.partials.len() >= self.config.max_partial_packets.max(1) {
                if !self.evict_oldest(None) {
                    break;
                }
                self.stats.evicted_count_limit += 1;
            }
        }

        // A packet larger than NDN allows is dropped as soon as its fragments say so.
        let own = self.partials.get(&key).map_or(0, |p| p.bytes);
        if own + piece.len() > self.config.max_packet_size {
            if let Some(p) = self.partials.remove(&key) {
                self.buffered = self.buffered.saturating_sub(p.bytes);
            }
            self.stats.oversize_packets += 1;
            return Err(Error::Reassembly(
                "reassembled packet exceeds the NDN maximum",
            ));
        }
        // A packet that cannot fit even alone is dropped without disturbing the others.
        if own + piece.len() > self.config.max_buffered_bytes {
            if let Some(p) = self.partials.remove(&key) {
                self.buffered = self.buffered.saturating_sub(p.bytes);
            }
            self.stats.evicted_byte_limit += 1;
            return Err(Error::Reassembly("packet exceeds the reassembly buffer"));
        }
        // Make room for the new bytes by dropping other partial packets, oldest first.
        while self.buffered + piece.len() > self.config.max_buffered_bytes {
            if !self.evict_oldest(Some(&key)) {
                // Unreachable given the check above (the others hold the excess); kept so the
                // loop ends whatever happens.
                return Err(Error::Reassembly("internal: buffer accounting"));
            }
            self.stats.evicted_byte_limit += 1;
        }

        if !self.partials.contains_key(&key) {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let deadline = now.checked_add(self.config.timeout).unwrap_or(now);
            self.ages.push_back((deadline, key.clone(), id));
            self.compact_ages();
            self.partials.insert(
                key.clone(),
                Partial {
                    id,
                    frag_count: count,
                    pieces: BTreeMap::new(),
                    bytes: 0,
                    header: None,
                },
            );
        }
        let Some(p) = self.partials.get_mut(&key) else {
            return Err(Error::Reassembly("internal: partial packet vanished"));
        };
        self.buffered += piece.len();
        p.bytes += piece.len();
        p.pieces.insert(index, piece);
        if index == 0 {
            p.header = Some(LpPacket {
                fragment: None,
                ..packet
            });
        }
        // Indices are distinct and below frag_count, so this many means all of them.
        if (p.pieces.len() as u64) < p.frag_count {
            return Ok(None);
        }

        let Some(p) = self.partials.remove(&key) else {
            return Err(Error::Reassembly("internal: partial packet vanished"));
        };
        self.buffered = self.buffered.saturating_sub(p.bytes);
        let mut payload = BytesMut::with_capacity(p.bytes);
        for piece in p.pieces.values() {
            payload.extend_from_slice(piece);
        }
        let Some(mut whole) = p.header else {
            return Err(Error::Reassembly(
                "internal: complete packet without fragment 0",
            ));
        };
        whole.frag_index = None;
        whole.frag_count = None;
        whole.fragment = Some(payload.freeze());
        self.stats.completed += 1;
        Ok(Some(whole))
    }

    /// Drops partial packets whose timeout has passed at `now`. [`Reassembler::receive`] calls
    /// this itself; a driver may also call it from a timer to release memory sooner.
    pub fn expire(&mut self, now: Instant) {
        while let Some((deadline, _, _)) = self.ages.front() {
            if *deadline > now {
                break;
            }
            if let Some((_, key, id)) = self.ages.pop_front()
                && self.partials.get(&key).is_some_and(|p| p.id == id)
                && let Some(p) = self.partials.remove(&key)
            {
                self.buffered = self.buffered.saturating_sub(p.bytes);
                self.stats.timed_out_packets += 1;
            }
        }
    }

    /// Drops the oldest live partial packet other than `keep`; false if there is none.
    fn evict_oldest(&mut self, keep: Option<&(K, u64)>) -> bool {
        let mut i = 0;
        while let Some((_, key, id)) = self.ages.get(i) {
            let live = self.partials.get(key).is_some_and(|p| p.id == *id);
            if !live {
                // Stale entry: forget it (the next entry moves to index i).
                self.ages.remove(i);
                continue;
            }
            if keep == Some(key) {
                i += 1;
                continue;
            }
            if let Some((_, key, _)) = self.ages.remove(i)
                && let Some(p) = self.partials.remove(&key)
            {
                self.buffered = self.buffered.saturating_sub(p.bytes);
            }
            return true;
        }
        false
    }

    /// Removes stale age entries once they outnumber live ones, so the queue stays within
    /// twice the number of partial packets.
    fn compact_ages(&mut self) {
        if self.ages.len() > 2 * self.partials.len() + 16 {
            let partials = &self.partials;
            self.ages
                .retain(|(_, key, id)| partials.get(key).is_some_and(|p| p.id == *id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interest() -> Bytes {
        // Name /abc, Nonce 01020304.
        Bytes::from_static(&[
            0x05, 0x0D, 0x07, 0x05, 0x08, 0x03, 0x61, 0x62, 0x63, 0x0A, 0x04, 1, 2, 3, 4,
        ])
    }

    #[test]
    fn the_token_and_fragment_shortcut_decodes_as_the_general_decoder_does() {
        let token = |n: usize| {
            let mut v = vec![0x62, n as u8];
            v.extend(std::iter::repeat_n(9u8, n));
            v
        };
        // Type and value as one TLV, with a one- or three-byte length.
        let tlv = |ty: u8, value: &[u8]| {
            let mut v = vec![ty];
            if value.len() < 253 {
                v.push(value.len() as u8);
            } else {
                v.push(0xFD);
                v.extend_from_slice(&(value.len() as u16).to_be_bytes());
            }
            v.extend_from_slice(value);
            v
        };
        let lp = |parts: &[Vec<u8>]| tlv(0x64, &parts.concat());
        let fragment = |body: &[u8]| tlv(0x50, body);
        let big = vec![5u8; 300];
        let cases: Vec<Vec<u8>> = vec![
            lp(&[token(8), fragment(&interest())]),
            lp(&[token(1), fragment(&interest())]),
            lp(&[token(32), fragment(&big)]),
            lp(&[token(8), fragment(&[])]),
            // Refused alike: no token bytes, a token too long.
            lp(&[token(0), fragment(&interest())]),
            lp(&[token(33), fragment(&interest())]),
            // Other shapes: another field, an ignorable unknown one, a fragment that is not last.
            lp(&[
                token(8),
                vec![0xFD, 0x03, 0x20, 0x00],
                fragment(&interest()),
            ]),
            lp(&[
                token(8),
                fragment(&interest()),
                vec![0xFD, 0x03, 0x4C, 0x00],
            ]),
            lp(&[fragment(&interest()), token(8)]),
            lp(&[token(8)]),
            // A bare Interest.
            interest().to_vec(),
        ];
        for (i, wire) in cases.into_iter().enumerate() {
            let wire = Bytes::from(wire);
            let general = LpPacket::decode_any(wire.clone());
            assert_eq!(LpPacket::decode(wire.clone()), general, "case {i}");
            // The first four are the shortcut's own shape: it, not the fallback, read them.
            assert_eq!(
                LpPacket::decode_token_and_fragment(&wire).is_some(),
                i < 4,
                "case {i}"
            );
            // Cut short or with a byte too many, both refuse.
            let short = wire.slice(..wire.len() - 1);
            assert!(LpPacket::decode(short.clone()).is_err(), "case {i} short");
            assert!(LpPacket::decode_any(short).is_err(), "case {i} short");
            let mut long = wire.to_vec();
            long.push(0);
            let long = Bytes::from(long);
            assert_eq!(
                LpPacket::decode(long.clone()),
                LpPacket::decode_any(long),
                "case {i} long"
            );
        }
    }

    /// The general encoder's bytes for `p` with a fragment of `n` bytes of 0xAB.
    fn general_encoding(p: &LpPacket, n: usize) -> Vec<u8> {
        let mut buf = BytesMut::new();
        p.encode_headers_to(&mut buf, Some(n));
        buf.put_bytes(0xAB, n);
        buf.to_vec()
    }

    #[test]
    fn a_token_only_header_is_written_as_the_general_encoder_writes_it() {
        for token_len in [1, 8, 32] {
            let token = PitToken::from_slice(&vec![7u8; token_len]).unwrap();
            let p = LpPacket {
                pit_token: Some(token),
                ..LpPacket::default()
            };
            // Each width of the two lengths' VAR-NUMBERs.
            for n in [0, 1, 200, 252, 253, 300, 65_535, 65_536] {
                let fast = p.encode_with_fragment(n, |b| b.put_bytes(0xAB, n));
                assert!(p.token_only_header(n).is_some());
                assert_eq!(
                    fast.as_ref(),
                    general_encoding(&p, n),
                    "token {token_len}, {n}"
                );
                let with_fragment = LpPacket {
                    fragment: Some(Bytes::from(vec![0xAB; n])),
                    ..p.clone()
                };
                assert_eq!(with_fragment.encode().as_ref(), fast.as_ref());
                assert_eq!(with_fragment.encoded_len(), fast.len());
                assert_eq!(LpPacket::decode(fast).unwrap(), with_fragment);
            }
        }
        // Any other field takes the general encoder.
        let token = PitToken::from_u64(9);
        for p in [
            LpPacket {
                congestion_mark: Some(1),
                ..LpPacket::default()
            },
            LpPacket {
                non_discovery: true,
                ..LpPacket::default()
            },
            LpPacket {
                acks: vec![1],
                ..LpPacket::default()
            },
            LpPacket {
                incoming_face_id: Some(300),
                ..LpPacket::default()
            },
        ] {
            let p = LpPacket {
                pit_token: Some(token),
                ..p
            };
            assert!(p.token_only_header(10).is_none());
            assert_eq!(
                p.encode_with_fragment(10, |b| b.put_bytes(0xAB, 10))
                    .as_ref(),
                general_encoding(&p, 10)
            );
        }
    }

    #[test]
    fn bare_interest_is_implicit_lp_packet() {
        let p = LpPacket::decode(interest()).unwrap();
        assert_eq!(p, LpPacket::from_fragment(interest()));
        assert!(!p.has_headers());
        assert_eq!(p.encode_or_bare(), interest());
    }

    #[test]
    fn nack_bytes_as_nfd_writes_them() {
        let mut expected = vec![
            0x64, 0x1A, 0xFD, 0x03, 0x20, 0x05, 0xFD, 0x03, 0x21, 0x01, 0x96, 0x50, 0x0F,
        ];
        expected.extend_from_slice(&interest());
        let p = LpPacket::nack(NackReason::NoRoute, interest());
        assert_eq!(p.encode().as_ref(), expected.as_slice());
        assert_eq!(p.encoded_len(), expected.len());
        assert_eq!(LpPacket::decode(Bytes::from(expected)).unwrap(), p);
    }

    #[test]
    fn chain_aware_hello_is_seven_bytes_and_ignorable() {
        let hello = LpPacket {
            chain_aware: Some(1),
            ..LpPacket::default()
        };
        let wire = hello.encode();
        assert_eq!(wire.as_ref(), &[0x64, 0x05, 0xFD, 0x03, 0xA4, 0x01, 0x01]);
        let back = LpPacket::decode(wire).unwrap();
        assert_eq!(back.chain_aware, Some(1));
        assert!(back.fragment.is_none());
        assert!(is_ignorable(t::CHAIN_AWARE));
        // Before a Fragment, after the other headers: in order.
        let answer = LpPacket {
            chain_aware: Some(2),
            tx_sequence: Some(7),
            ..LpPacket::from_fragment(interest())
        };
        assert_eq!(LpPacket::decode(answer.encode()).unwrap(), answer);
    }

    #[test]
    fn a_fragment_written_in_place_gives_the_same_bytes_as_one_given_whole() {
        let whole = LpPacket {
            pit_token: Some(PitToken::from_u64(0x0102_0304_0506_0708)),
            popped_function: Some("/sf/f".parse().unwrap()),
            incoming_face_id: Some(300),
            congestion_mark: Some(1),
            non_discovery: true,
            ..LpPacket::from_fragment(interest())
        };
        let headers = LpPacket {
            fragment: None,
            ..whole.clone()
        };
        let fragment = interest();
        let in_place = headers.encode_with_fragment(fragment.len(), |buf| buf.put_slice(&fragment));
        assert_eq!(in_place, whole.encode());
        assert_eq!(LpPacket::decode(in_place).unwrap(), whole);
    }

    #[test]
    fn popped_function_round_trips_and_others_may_ignore_it() {
        let f: Name = "/sf/thumbnail/size=64".parse().unwrap();
        let p = LpPacket {
            popped_function: Some(f.clone()),
            pit_token: Some(PitToken::from_slice(&[1, 2, 3, 4]).unwrap()),
            ..LpPacket::from_fragment(interest())
        };
        let wire = p.encode();
        assert_eq!(wire.len(), p.encoded_len());
        let back = LpPacket::decode(wire).unwrap();
        assert_eq!(back.popped_function, Some(f));
        assert_eq!(back, p);
        assert!(is_ignorable(t::POPPED_FUNCTION));
        // Not a Name inside: refused.
        let mut bad = vec![0x64, 0x17, 0xFD, 0x03, 0xA0, 0x02, 0x08, 0x00, 0x50, 0x0F];
        bad.extend_from_slice(&interest());
        bad[1] = u8::try_from(bad.len() - 2).unwrap();
        assert!(LpPacket::decode(Bytes::from(bad)).is_err());
    }

    #[test]
    fn congestion_mark_wraps_bare_packets_and_rewrites_lp_packets() {
        // A bare Interest: LpPacket{CongestionMark=1, Fragment}, as ndn-cxx writes it.
        let marked = with_congestion_mark(interest()).unwrap();
        let mut expected = vec![0x64, 0x16, 0xFD, 0x03, 0x40, 0x01, 0x01, 0x50, 0x0F];
        expected.extend_from_slice(&interest());
        assert_eq!(marked.as_ref(), expected.as_slice());
        assert_eq!(
            LpPacket::decode(marked).unwrap(),
            LpPacket {
                congestion_mark: Some(1),
                ..LpPacket::from_fragment(interest())
            }
        );
        // An LpPacket (a Nack with a PIT token): the mark joins its other fields.
        let nack =
            LpPacket::nack(NackReason::NoRoute, interest()).with_pit_token(PitToken::from_u64(7));
        let back = LpPacket::decode(with_congestion_mark(nack.encode()).unwrap()).unwrap();
        assert_eq!(
            back,
            LpPacket {
                congestion_mark: Some(1),
                ..nack.clone()
            }
        );
        // A mark already there is kept.
        let pre = LpPacket {
            congestion_mark: Some(3),
            ..nack
        };
        let back = LpPacket::decode(with_congestion_mark(pre.encode()).unwrap()).unwrap();
        assert_eq!(back.congestion_mark, Some(3));
        // Not a packet, or a truncated one: an error, nothing marked.
        assert!(with_congestion_mark(Bytes::from_static(&[0x07, 0x00])).is_err());
        assert!(with_congestion_mark(interest().slice(..5)).is_err());
        assert!(with_congestion_mark(Bytes::new()).is_err());
    }

    #[test]
    fn empty_nack_means_reason_none() {
        let mut w = vec![0x64, 0x15, 0xFD, 0x03, 0x20, 0x00, 0x50, 0x0F];
        w.extend_from_slice(&interest());
        let p = LpPacket::decode(Bytes::from(w)).unwrap();
        assert_eq!(p.nack, Some(NackReason::None));
    }

    #[test]
    fn nack_reason_codes() {
        for (code, r) in [
            (0, NackReason::None),
            (50, NackReason::Congestion),
            (100, NackReason::Duplicate),
            (150, NackReason::NoRoute),
            (7, NackReason::Other(7)),
        ] {
            assert_eq!(NackReason::from_code(code), r);
            assert_eq!(r.code(), code);
        }
    }

    #[test]
    fn ignorable_range() {
        assert!(is_ignorable(800));
        assert!(is_ignorable(956));
        assert!(!is_ignorable(960));
        assert!(!is_ignorable(801));
        assert!(!is_ignorable(802));
        assert!(!is_ignorable(796));
    }

    #[test]
    fn fixed_width_fields_must_be_8_bytes() {
        // Sequence of 4 bytes.
        let w = Bytes::from_static(&[0x64, 0x06, 0x51, 0x04, 0, 0, 0, 1]);
        assert!(matches!(
            LpPacket::decode(w),
            Err(Error::InvalidValue {
                field: "Sequence",
                ..
            })
        ));
    }

    #[test]
    fn idle_packet_with_acks() {
        let p = LpPacket {
            acks: vec![1, 2, 3],
            ..LpPacket::default()
        };
        let d = LpPacket::decode(p.encode()).unwrap();
        assert!(d.is_idle());
        assert_eq!(d.acks, vec![1, 2, 3]);
        // Not bare-able: there is no fragment.
        assert_eq!(p.encode_or_bare(), p.encode());
    }

    #[test]
    fn max_chunk_respects_mtu() {
        for mtu in 0..400 {
            for headers in [0, 10, 16, 40] {
                if let Some(c) = max_chunk(mtu, headers) {
                    assert!(tlv_len(t::LP_PACKET, headers + tlv_len(t::FRAGMENT, c)) <= mtu);
                    let bigger = tlv_len(t::LP_PACKET, headers + tlv_len(t::FRAGMENT, c + 1));
                    assert!(bigger > mtu, "mtu {mtu} headers {headers} chunk {c}");
                }
            }
        }
        assert_eq!(max_chunk(4, 0), None);
        assert_eq!(max_chunk(5, 0), Some(1));
    }

    #[test]
    fn pit_token_helpers() {
        let t = PitToken::from_u64(0x0102_0304_0506_0708);
        assert_eq!(t.as_u64(), Some(0x0102_0304_0506_0708));
        assert!(PitToken::from_slice(&[]).is_err());
        assert!(PitToken::from_slice(&[0; 33]).is_err());
        assert_eq!(PitToken::from_slice(&[1, 2]).unwrap().as_u64(), None);
        let req = LpPacket::from_fragment(interest()).with_pit_token(t);
        let data = LpPacket::from_fragment(Bytes::from_static(&[0x06, 0x00])).echo_pit_token(&req);
        assert_eq!(data.pit_token, Some(t));
        assert_eq!(
            format!("{:?}", PitToken::from_slice(&[0xAB, 1]).unwrap()),
            "PitToken(ab01)"
        );
    }

    #[test]
    fn reassembler_rejects_bad_fragments() {
        let now = Instant::now();
        let mut r = Reassembler::new(ReassemblerConfig::default());
        let frag = |seq, idx, cnt| LpPacket {
            sequence: seq,
            frag_index: idx,
            frag_count: cnt,
            fragment: Some(Bytes::from_static(b"x")),
            ..LpPacket::default()
        };
        assert!(
            r.receive(1u8, frag(Some(5), Some(2), Some(2)), now)
                .is_err()
        );
        assert!(r.receive(1, frag(Some(5), Some(0), Some(0)), now).is_err());
        assert!(r.receive(1, frag(None, Some(0), Some(2)), now).is_err());
        assert!(r.receive(1, frag(Some(5), Some(0), Some(65)), now).is_err());
        assert_eq!(r.stats().invalid_fragments, 3);
        assert_eq!(r.stats().too_many_fragments, 1);
        assert_eq!(
            r.receive(1, frag(Some(5), Some(0), Some(3)), now).unwrap(),
            None
        );
        assert!(r.receive(1, frag(Some(6), Some(1), Some(4)), now).is_err());
        assert_eq!(r.stats().inconsistent_fragments, 1);
        assert_eq!(
            r.receive(1, frag(Some(5), Some(0), Some(3)), now).unwrap(),
            None
        );
        assert_eq!(r.stats().duplicate_fragments, 1);
        // Same base sequence from another peer is a different packet.
        assert_eq!(
            r.receive(2, frag(Some(6), Some(1), Some(3)), now).unwrap(),
            None
        );
        assert_eq!(r.partial_count(), 2);
        // Unfragmented packets pass straight through.
        let whole = frag(Some(9), None, None);
        assert_eq!(r.receive(1, whole.clone(), now).unwrap(), Some(whole));
    }

    #[test]
    fn reassembler_times_out_partials() {
        let t0 = Instant::now();
        let cfg = ReassemblerConfig::default();
        let timeout = cfg.timeout;
        let mut r = Reassembler::new(cfg);
        let frag = LpPacket {
            sequence: Some(10),
            frag_index: Some(0),
            frag_count: Some(2),
            fragment: Some(Bytes::from_static(b"ab")),
            ..LpPacket::default()
        };
        assert_eq!(r.receive("peer", frag, t0).unwrap(), None);
        assert_eq!(r.buffered_bytes(), 2);
        r.expire(t0 + timeout / 2);
        assert_eq!(r.partial_count(), 1);
        r.expire(t0 + timeout);
        assert_eq!(r.partial_count(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.stats().timed_out_packets, 1);
        // The second fragment alone now starts a new partial packet.
        let second = LpPacket {
            sequence: Some(11),
            frag_index: Some(1),
            frag_count: Some(2),
            fragment: Some(Bytes::from_static(b"cd")),
            ..LpPacket::default()
        };
        assert_eq!(r.receive("peer", second, t0 + timeout).unwrap(), None);
        assert_eq!(r.partial_count(), 1);
    }

    #[test]
    fn single_packet_too_big_for_buffer_is_dropped() {
        let now = Instant::now();
        let mut r = Reassembler::new(ReassemblerConfig {
            max_buffered_bytes: 3,
            ..Default::default()
        });
        let frag = |idx, data: &'static [u8]| LpPacket {
            sequence: Some(100 + idx),
            frag_index: Some(idx),
            frag_count: Some(2),
            fragment: Some(Bytes::from_static(data)),
            ..LpPacket::default()
        };
        assert_eq!(r.receive(0u32, frag(0, b"ab"), now).unwrap(), None);
        assert!(r.receive(0, frag(1, b"cd"), now).is_err());
        assert_eq!(r.partial_count(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.stats().evicted_byte_limit, 1);
        // An oversized fragment does not push out another peer's partial packet.
        assert_eq!(r.receive(1, frag(0, b"a"), now).unwrap(), None);
        assert!(r.receive(2, frag(0, b"abcd"), now).is_err());
        assert_eq!((r.partial_count(), r.buffered_bytes()), (1, 1));
        // But a fitting one from a new packet does, oldest first.
        assert_eq!(r.receive(3, frag(1, b"xyz"), now).unwrap(), None);
        assert_eq!((r.partial_count(), r.buffered_bytes()), (1, 3));
        assert_eq!(r.stats().evicted_byte_limit, 3);
    }
}

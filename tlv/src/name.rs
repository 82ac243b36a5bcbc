//! Names and name components: decoding, canonical order, URI text form, prefix hashing.
//!
//! A [`Name`] is a view on the TLV-VALUE of a Name element plus the end offset of each
//! component, so taking a prefix or a component never copies. Components whose TLV header was
//! encoded in a longer-than-minimal form are re-encoded once at decode time, so that equal names
//! always have equal bytes and byte comparison, hashing and prefix hashing agree.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use crate::element::{
    Element, decode_nni, nni_len, put_header, put_nni, read_header, tlv_len, varnum_len,
};
use crate::error::{Error, Result};
use crate::types::tt;

/// Inline capacity for component offsets and prefix hashes: names longer than this spill to the
/// heap, shorter ones (nearly all real names) cost no allocation.
const INLINE_COMPONENTS: usize = 12;

/// A name component: a TLV element whose type is in 1..=65535.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Component {
    wire: Bytes,
    tlv_type: u16,
    header_len: u8,
}

impl Component {
    /// Builds a component of `tlv_type` holding `value` (copied).
    pub fn new(tlv_type: u32, value: &[u8]) -> Result<Self> {
        let tlv_type = check_component_type(u64::from(tlv_type))?;
        check_component(tlv_type, value.len())?;
        let mut buf = BytesMut::with_capacity(tlv_len(u32::from(tlv_type), value.len()));
        put_header(&mut buf, u32::from(tlv_type), value.len());
        buf.put_slice(value);
        let header_len = (buf.len() - value.len()) as u8;
        Ok(Self {
            wire: buf.freeze(),
            tlv_type,
            header_len,
        })
    }

    /// A GenericNameComponent.
    #[must_use]
    pub fn generic(value: &[u8]) -> Self {
        Self::typed_unchecked(tt::GENERIC_NAME_COMPONENT, value)
    }

    /// A component of a well-known type holding a NonNegativeInteger (segment, version, ...).
    #[must_use]
    pub fn number(tlv_type: u16, v: u64) -> Self {
        let mut value = [0u8; 8];
        let n = nni_len(v);
        let mut slot = &mut value[..n];
        put_nni(&mut slot, v);
        Self::typed_unchecked(u32::from(tlv_type), &value[..n])
    }

    /// Segment number component (`seg=`).
    #[must_use]
    pub fn segment(v: u64) -> Self {
        Self::number(tt::SEGMENT_NAME_COMPONENT as u16, v)
    }

    /// Version component (`v=`).
    #[must_use]
    pub fn version(v: u64) -> Self {
        Self::number(tt::VERSION_NAME_COMPONENT as u16, v)
    }

    /// Timestamp component (`t=`, microseconds since the Unix epoch).
    #[must_use]
    pub fn timestamp(v: u64) -> Self {
        Self::number(tt::TIMESTAMP_NAME_COMPONENT as u16, v)
    }

    /// Sequence number component (`seq=`).
    #[must_use]
    pub fn sequence_num(v: u64) -> Self {
        Self::number(tt::SEQUENCE_NUM_NAME_COMPONENT as u16, v)
    }

    /// Byte offset component (`off=`).
    #[must_use]
    pub fn byte_offset(v: u64) -> Self {
        Self::number(tt::BYTE_OFFSET_NAME_COMPONENT as u16, v)
    }

    /// ImplicitSha256DigestComponent.
    #[must_use]
    pub fn implicit_digest(digest: &[u8; 32]) -> Self {
        Self::typed_unchecked(tt::IMPLICIT_SHA256_DIGEST_COMPONENT, digest)
    }

    /// ParametersSha256DigestComponent.
    #[must_use]
    pub fn parameters_digest(digest: &[u8; 32]) -> Self {
        Self::typed_unchecked(tt::PARAMETERS_SHA256_DIGEST_COMPONENT, digest)
    }

    fn typed_unchecked(tlv_type: u32, value: &[u8]) -> Self {
        let mut buf = BytesMut::with_capacity(tlv_len(tlv_type, value.len()));
        put_header(&mut buf, tlv_type, value.len());
        buf.put_slice(value);
        let header_len = (buf.len() - value.len()) as u8;
        Self {
            wire: buf.freeze(),
            tlv_type: tlv_type as u16,
            header_len,
        }
    }

    /// Decodes a component element (zero-copy).
    pub fn from_element(el: &Element) -> Result<Self> {
        let tlv_type = check_component_type(u64::from(el.tlv_type()))?;
        check_component(tlv_type, el.value().len())?;
        if el.header_len() != varnum_len(el.tlv_type().into()) + varnum_len(el.value().len() as u64)
        {
            return Ok(Self::typed_unchecked(u32::from(tlv_type), el.value()));
        }
        Ok(Self {
            wire: el.wire().clone(),
            tlv_type,
            header_len: el.header_len() as u8,
        })
    }

    /// The component's TLV-TYPE.
    #[must_use]
    pub fn tlv_type(&self) -> u16 {
        self.tlv_type
    }

    /// The component's TLV-VALUE.
    #[must_use]
    pub fn value(&self) -> &[u8] {
        &self.wire[usize::from(self.header_len)..]
    }

    /// The component's whole TLV encoding.
    #[must_use]
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The value as a NonNegativeInteger, if it is one.
    #[must_use]
    pub fn as_number(&self) -> Option<u64> {
        decode_nni(self.value(), u32::from(self.tlv_type)).ok()
    }

    /// The segment number, if this is a segment component.
    #[must_use]
    pub fn as_segment(&self) -> Option<u64> {
        self.as_typed_number(tt::SEGMENT_NAME_COMPONENT)
    }

    /// The version number, if this is a version component.
    #[must_use]
    pub fn as_version(&self) -> Option<u64> {
        self.as_typed_number(tt::VERSION_NAME_COMPONENT)
    }

    fn as_typed_number(&self, tlv_type: u32) -> Option<u64> {
        (u32::from(self.tlv_type) == tlv_type)
            .then(|| self.as_number())
            .flatten()
    }

    /// True for a GenericNameComponent.
    #[must_use]
    pub fn is_generic(&self) -> bool {
        u32::from(self.tlv_type) == tt::GENERIC_NAME_COMPONENT
    }

    /// Canonical order: by type, then length, then bytes.
    fn canonical_cmp(&self, other: &Self) -> Ordering {
        compare_components(self.tlv_type, self.value(), other.tlv_type, other.value())
    }
}

impl PartialOrd for Component {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Component {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical_cmp(other)
    }
}

fn compare_components(ta: u16, va: &[u8], tb: u16, vb: &[u8]) -> Ordering {
    ta.cmp(&tb)
        .then(va.len().cmp(&vb.len()))
        .then_with(|| va.cmp(vb))
}

fn check_component_type(t: u64) -> Result<u16> {
    match u16::try_from(t) {
        Ok(0) | Err(_) => Err(Error::InvalidType(t)),
        Ok(t) => Ok(t),
    }
}

/// Digest components hold exactly 32 bytes (as ndn-cxx enforces).
fn check_component(t: u16, len: usize) -> Result<()> {
    let digest = matches!(
        u32::from(t),
        tt::IMPLICIT_SHA256_DIGEST_COMPONENT | tt::PARAMETERS_SHA256_DIGEST_COMPONENT
    );
    if digest && len != 32 {
        return Err(Error::InvalidValue {
            field: "digest component",
            reason: "must be 32 bytes",
        });
    }
    Ok(())
}

/// An NDN name: a sequence of components.
#[derive(Clone, Default)]
pub struct Name {
    /// The TLV-VALUE of the Name element (the concatenated components).
    value: Bytes,
    /// End offset of each component within `value`.
    ends: SmallVec<[u32; INLINE_COMPONENTS]>,
}

/// Prefix hashes of a name: entry `k` is the hash of its first `k` components (entry 0 is the
/// empty prefix `/`).
pub type PrefixHashes = SmallVec<[u64; INLINE_COMPONENTS + 1]>;

/// Keyed hasher for name tables. Names come from the network, so the hash must be keyed
/// (SipHash with a random key) to keep adversaries from crafting colliding names.
pub type NameHasher = std::hash::RandomState;

impl Name {
    /// The empty name `/`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a Name element (type 7).
    pub fn from_element(el: &Element) -> Result<Self> {
        if el.tlv_type() != tt::NAME {
            return Err(Error::UnexpectedType {
                expected: tt::NAME,
                found: el.tlv_type(),
            });
        }
        Self::from_value(el.value_bytes())
    }

    /// Decodes a whole Name TLV (header included).
    pub fn from_wire(wire: &Bytes) -> Result<Self> {
        Self::from_element(&Element::decode_exact(wire)?)
    }

    /// Decodes the TLV-VALUE of a Name element.
    pub fn from_value(value: Bytes) -> Result<Self> {
        let mut ends = SmallVec::new();
        let mut pos = 0usize;
        let mut minimal = true;
        if value.len() > u32::MAX as usize {
            return Err(Error::LengthTooLarge(value.len() as u64));
        }
        while pos < value.len() {
            let (t, len, hdr) = read_header(&value[pos..])?;
            check_component(check_component_type(u64::from(t))?, len)?;
            let end = pos
                .checked_add(hdr)
                .and_then(|p| p.checked_add(len))
                .filter(|&e| e <= value.len())
                .ok_or(Error::Truncated { needed: 1 })?;
            minimal &= hdr == varnum_len(u64::from(t)) + varnum_len(len as u64);
            pos = end;
            ends.push(end as u32);
        }
        let name = Self { value, ends };
        if minimal {
            Ok(name)
        } else {
            Ok(name
                .components()
                .map(|c| Component::typed_unchecked(u32::from(c.tlv_type), c.value()))
                .collect())
        }
    }

    /// Number of components.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for the empty name `/`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn start_of(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] as usize }
    }

    /// Whole TLV encoding of component `i` (borrowed).
    #[must_use]
    pub fn component_wire(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        self.value.get(self.start_of(i)..end)
    }

    /// Type and value of component `i`, borrowed: the cheap accessor for hot paths (no
    /// reference-count traffic).
    #[must_use]
    pub fn component_parts(&self, i: usize) -> Option<(u16, &[u8])> {
        let wire = self.component_wire(i)?;
        // Offsets and headers were validated at decode time, and are minimal: a type and a
        // length below 253 are one byte each, which is nearly every component.
        if let [t @ 0..=252, 0..=252, value @ ..] = wire {
            return Some((u16::from(*t), value));
        }
        let (t, _, hdr) = read_header(wire).ok()?;
        Some((t as u16, wire.get(hdr..)?))
    }

    /// Indexes of the components of type `tlv_type`, found from the first byte of each
    /// component (headers are minimal, so a type below 253 is that byte) without decoding
    /// a header.
    pub fn positions_of_type(&self, tlv_type: u8) -> impl Iterator<Item = usize> + '_ {
        debug_assert!(tlv_type < 253, "a type of more than one byte");
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&e| e as usize));
        starts
            .zip(0..self.ends.len())
            .filter(move |&(start, _)| self.value.get(start) == Some(&tlv_type))
            .map(|(_, i)| i)
    }

    /// Type of the last component, if any.
    #[must_use]
    pub fn last_type(&self) -> Option<u16> {
        self.len()
            .checked_sub(1)
            .and_then(|i| self.component_parts(i))
            .map(|(t, _)| t)
    }

    /// Component `i` (negative indexes are not supported; use `len() - 1` for the last).
    #[must_use]
    pub fn get(&self, i: usize) -> Option<Component> {
        let end = *self.ends.get(i)? as usize;
        let wire = self.value.slice(self.start_of(i)..end);
        // Offsets were validated at decode time.
        let (t, len, hdr) = read_header(&wire).ok()?;
        debug_assert_eq!(hdr + len, wire.len());
        Some(Component {
            wire,
            tlv_type: t as u16,
            header_len: hdr as u8,
        })
    }

    /// The last component.
    #[must_use]
    pub fn last(&self) -> Option<Component> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// Iterates over the components.
    pub fn components(&self) -> impl Iterator<Item = Component> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The first `n` components (all of them if `n >= len()`); no copy.
    #[must_use]
    pub fn prefix(&self, n: usize) -> Self {
        let n = n.min(self.len());
        let end = self.start_of(n);
        Self {
            value: self.value.slice(..end),
            ends: self.ends[..n].iter().copied().collect(),
        }
    }

    /// The TLV-VALUE bytes of the first `n` components (all of them if `n >= len()`):
    /// comparing these is comparing the prefixes, with no copy.
    #[must_use]
    pub fn prefix_value(&self, n: usize) -> &[u8] {
        &self.value[..self.start_of(n.min(self.len()))]
    }

    /// This name without its last component (the empty name stays empty).
    #[must_use]
    pub fn parent(&self) -> Self {
        self.prefix(self.len().saturating_sub(1))
    }

    /// True if `self` is a prefix of `other` (every name is a prefix of itself).
    #[must_use]
    pub fn is_prefix_of(&self, other: &Self) -> bool {
        self.len() <= other.len() && other.value.starts_with(&self.value)
    }

    /// A new name with `component` appended (copies this name).
    #[must_use]
    pub fn append(&self, component: &Component) -> Self {
        self.append_wire(component.wire())
    }

    /// A new name with a generic component holding `value` appended.
    #[must_use]
    pub fn append_generic(&self, value: &[u8]) -> Self {
        self.append(&Component::generic(value))
    }

    /// A new name with a segment component appended.
    #[must_use]
    pub fn append_segment(&self, seg: u64) -> Self {
        self.append(&Component::segment(seg))
    }

    /// A new name with a version component appended.
    #[must_use]
    pub fn append_version(&self, v: u64) -> Self {
        self.append(&Component::version(v))
    }

    /// A new name with the components of `suffix` appended.
    #[must_use]
    pub fn join(&self, suffix: &Self) -> Self {
        self.append_wire(&suffix.value)
    }

    fn append_wire(&self, wire: &[u8]) -> Self {
        let mut buf = BytesMut::with_capacity(self.value.len() + wire.len());
        buf.put_slice(&self.value);
        buf.put_slice(wire);
        // Re-derive the offsets from validated bytes; cannot fail.
        Self::from_value(buf.freeze()).unwrap_or_default()
    }

    /// The TLV-VALUE of the Name element.
    #[must_use]
    pub fn value_bytes(&self) -> &Bytes {
        &self.value
    }

    /// Length of the whole Name TLV.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        tlv_len(tt::NAME, self.value.len())
    }

    /// Writes the whole Name TLV.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, tt::NAME, self.value.len());
        buf.put_slice(&self.value);
    }

    /// The whole Name TLV as a new buffer.
    #[must_use]
    pub fn to_wire(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        buf.freeze()
    }

    /// Hashes of every prefix of this name, from `/` to the whole name, in one pass.
    ///
    /// Forwarding tables compute these once per packet and probe with them, so a longest-prefix
    /// match never re-hashes a component.
    #[must_use]
    pub fn prefix_hashes(&self, hasher: &impl BuildHasher) -> PrefixHashes {
        let mut state = hasher.build_hasher();
        let mut out = PrefixHashes::with_capacity(self.len() + 1);
        out.push(state.finish());
        let mut start = 0usize;
        for &end in &self.ends {
            let end = end as usize;
            state.write(&self.value[start..end]);
            out.push(state.finish());
            start = end;
        }
        out
    }

    /// Hash of the whole name, equal to the last entry of [`Name::prefix_hashes`].
    #[must_use]
    pub fn full_hash(&self, hasher: &impl BuildHasher) -> u64 {
        let mut state = hasher.build_hasher();
        let mut start = 0usize;
        for &end in &self.ends {
            state.write(&self.value[start..end as usize]);
            start = end as usize;
        }
        state.finish()
    }
}

impl FromIterator<Component> for Name {
    fn from_iter<I: IntoIterator<Item = Component>>(iter: I) -> Self {
        let comps: Vec<Component> = iter.into_iter().collect();
        let total = comps.iter().map(|c| c.wire.len()).sum();
        let mut buf = BytesMut::with_capacity(total);
        let mut ends = SmallVec::with_capacity(comps.len());
        for c in &comps {
            buf.put_slice(&c.wire);
            ends.push(buf.len() as u32);
        }
        Self {
            value: buf.freeze(),
            ends,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.value);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    /// Canonical order: component by component; a proper prefix sorts first.
    fn cmp(&self, other: &Self) -> Ordering {
        for i in 0..self.len().min(other.len()) {
            let (Some((ta, va)), Some((tb, vb))) =
                (self.component_parts(i), other.component_parts(i))
            else {
                break;
            };
            match compare_components(ta, va, tb, vb) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        self.len().cmp(&other.len())
    }
}

// ---------------------------------------------------------------------------------------------
// URI text form

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn write_escaped(out: &mut impl fmt::Write, value: &[u8]) -> fmt::Result {
    if value.iter().all(|&b| b == b'.') {
        // The period rule: only-period values get three extra periods ("..." is empty).
        out.write_str("...")?;
    }
    for &b in value {
        if is_unreserved(b) {
            out.write_char(char::from(b))?;
        } else {
            write!(out, "%{b:02X}")?;
        }
    }
    Ok(())
}

/// The short URI prefix of a typed component holding a number, if the type has one.
fn number_alias(tlv_type: u32) -> Option<&'static str> {
    match tlv_type {
        tt::SEGMENT_NAME_COMPONENT => Some("seg"),
        tt::BYTE_OFFSET_NAME_COMPONENT => Some("off"),
        tt::VERSION_NAME_COMPONENT => Some("v"),
        tt::TIMESTAMP_NAME_COMPONENT => Some("t"),
        tt::SEQUENCE_NUM_NAME_COMPONENT => Some("seq"),
        _ => None,
    }
}

fn digest_alias(tlv_type: u32) -> Option<&'static str> {
    match tlv_type {
        tt::IMPLICIT_SHA256_DIGEST_COMPONENT => Some("sha256digest"),
        tt::PARAMETERS_SHA256_DIGEST_COMPONENT => Some("params-sha256"),
        _ => None,
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = u32::from(self.tlv_type);
        let value = self.value();
        if let Some(alias) = digest_alias(t)
            && value.len() == 32
        {
            f.write_str(alias)?;
            f.write_char('=')?;
            for b in value {
                write!(f, "{b:02x}")?;
            }
            return Ok(());
        }
        if let Some(alias) = number_alias(t)
            && let Ok(n) = decode_nni(value, t)
            && nni_len(n) == value.len()
        {
            return write!(f, "{alias}={n}");
        }
        if t != tt::GENERIC_NAME_COMPONENT {
            write!(f, "{t}=")?;
        }
        write_escaped(f, value)
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Component({self})")
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_char('/');
        }
        for c in self.components() {
            f.write_char('/')?;
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

fn uri_error(text: &str, why: &str) -> Error {
    Error::InvalidUri(format!("{why} in {text:?}"))
}

fn unescape(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| uri_error(text, "bad percent-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Applies the period rule in reverse: a value of only periods must have at least three, which
/// stand for nothing.
fn unescape_value(text: &str) -> Result<Vec<u8>> {
    let v = unescape(text)?;
    if v.iter().all(|&b| b == b'.') {
        if v.len() < 3 {
            return Err(uri_error(text, "component of one or two periods"));
        }
        return Ok(v[3..].to_vec());
    }
    Ok(v)
}

fn parse_hex32(text: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 || !text.is_ascii() {
        return Err(uri_error(text, "digest must be 64 hex digits"));
    }
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .map_err(|_| uri_error(text, "bad hex digit in digest"))?;
    }
    Ok(out)
}

impl FromStr for Component {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let Some((prefix, rest)) = text.split_once('=') else {
            return Ok(Self::generic(&unescape_value(text)?));
        };
        match prefix {
            "sha256digest" => return Ok(Self::implicit_digest(&parse_hex32(rest)?)),
            "params-sha256" => return Ok(Self::parameters_digest(&parse_hex32(rest)?)),
            "seg" | "off" | "v" | "t" | "seq" => {
                let n: u64 = rest.parse().map_err(|_| uri_error(text, "bad number"))?;
                let t = match prefix {
                    "seg" => tt::SEGMENT_NAME_COMPONENT,
                    "off" => tt::BYTE_OFFSET_NAME_COMPONENT,
                    "v" => tt::VERSION_NAME_COMPONENT,
                    "t" => tt::TIMESTAMP_NAME_COMPONENT,
                    _ => tt::SEQUENCE_NUM_NAME_COMPONENT,
                };
                return Ok(Self::number(t as u16, n));
            }
            _ => {}
        }
        if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) {
            let t: u64 = prefix
                .parse()
                .map_err(|_| uri_error(text, "bad component type"))?;
            let t = check_component_type(t).map_err(|_| uri_error(text, "bad component type"))?;
            if let Some(alias) = digest_alias(u32::from(t)) {
                // `1=<escaped>` is accepted but must still hold 32 bytes.
                let v = unescape(rest)?;
                if v.len() != 32 {
                    return Err(uri_error(text, alias));
                }
                return Self::new(u32::from(t), &v);
            }
            return Self::new(u32::from(t), &unescape_value(rest)?);
        }
        // An '=' inside a generic component written without escaping it.
        Ok(Self::generic(&unescape_value(text)?))
    }
}

impl FromStr for Name {
    type Err = Error;

    /// Parses the URI form: `ndn:` scheme optional, `/` separated components, a trailing `/`
    /// ignored. Empty components (`//`) are an error: the empty component is written `...`.
    fn from_str(text: &str) -> Result<Self> {
        let mut rest = text.trim();
        if let Some(r) = rest.strip_prefix("ndn:") {
            rest = r;
        }
        if let Some(r) = rest.strip_prefix("//") {
            // An authority part, which NDN ignores.
            rest = r.find('/').map_or("", |i| &r[i..]);
        }
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Ok(Self::new());
        }
        rest.split('/')
            .map(|c| {
                if c.is_empty() {
                    Err(uri_error(text, "empty component"))
                } else {
                    c.parse::<Component>()
                }
            })
            .collect()
    }
}

impl<'a> TryFrom<&'a str> for Name {
    type Error = Error;

    fn try_from(value: &'a str) -> Result<Self> {
        value.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn uri_round_trips() {
        for s in [
            "/",
            "/a/b/c",
            "/hello%20world/%00%FF",
            "/.../....",
            "/seg=3/v=1600000000000/t=1/seq=9/off=0",
            "/sha256digest=0000000000000000000000000000000000000000000000000000000000000000",
            "/params-sha256=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "/32=keyword/9=typed/65535=max",
            "/A-Z_a.z~0",
        ] {
            assert_eq!(n(s).to_string(), s, "{s}");
        }
    }

    #[test]
    fn uri_normalises() {
        assert_eq!(n("ndn:/a/b/").to_string(), "/a/b");
        assert_eq!(n("8=a").to_string(), "/a");
        assert_eq!(n("/a%2Fb").len(), 1);
        assert_eq!(n("/%41").to_string(), "/A");
        assert_eq!(n("/ndn:a").to_string(), "/ndn%3Aa");
        assert_eq!(n("/50=%01").to_string(), "/seg=1");
        assert_eq!(n("/50=%00%01").to_string(), "/50=%00%01");
    }

    #[test]
    fn uri_errors() {
        for s in [
            "/a//b",
            "/.",
            "/..",
            "/%G0",
            "/%4",
            "/0=a",
            "/65536=a",
            "/sha256digest=00",
        ] {
            assert!(s.parse::<Name>().is_err(), "{s} should fail");
        }
    }

    #[test]
    fn canonical_order() {
        let mut v = [
            n("/b"),
            n("/a/b"),
            n("/aa"),
            n("/a"),
            n("/seg=1"),
            n("/"),
            n("/3=x"),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        // Type 3 sorts before generic (8), which sorts before segment (50).
        assert_eq!(s[0], "/");
        assert_eq!(s[1], "/3=x");
        assert_eq!(&s[2..], ["/a", "/a/b", "/b", "/aa", "/seg=1"]);
    }

    #[test]
    fn prefix_and_hashes() {
        let name = n("/a/b/c");
        let h = NameHasher::new();
        let hashes = name.prefix_hashes(&h);
        assert_eq!(hashes.len(), 4);
        assert_eq!(hashes[2], n("/a/b").full_hash(&h));
        assert_eq!(hashes[0], Name::new().full_hash(&h));
        assert_eq!(hashes[3], name.full_hash(&h));
        assert!(n("/a/b").is_prefix_of(&name));
        assert!(!n("/a/bc").is_prefix_of(&n("/a/b")));
        assert_eq!(name.prefix(2), n("/a/b"));
        assert_eq!(name.parent(), n("/a/b"));
    }

    #[test]
    fn non_minimal_headers_are_normalised() {
        let wire = Bytes::from_static(&[0x07, 0x05, 0x08, 0xFD, 0x00, 0x01, b'x']);
        let name = Name::from_wire(&wire).unwrap();
        assert_eq!(name, n("/x"));
        assert_eq!(&name.to_wire()[..], &[0x07, 0x03, 0x08, 0x01, b'x']);
    }

    #[test]
    fn component_parts_and_type_positions_read_one_and_three_byte_headers_alike() {
        // /a, then a 300-byte generic component (3-byte length), a digest component whose
        // length is non-minimal on the wire (normalised), and a type-300 component (3-byte
        // type).
        let mut value = vec![0x08, 0x01, b'a', 0x08, 0xFD, 0x01, 0x2C];
        value.extend([b'b'; 300]);
        value.extend([0x02, 0xFD, 0x00, 0x20]);
        value.extend([b'c'; 32]);
        value.extend([0xFD, 0x01, 0x2C, 0x01, b'd']);
        let name = Name::from_value(Bytes::from(value)).unwrap();
        assert_eq!(name.component_parts(0), Some((8, &b"a"[..])));
        assert_eq!(name.component_parts(1), Some((8, &[b'b'; 300][..])));
        assert_eq!(name.component_parts(2), Some((2, &[b'c'; 32][..])));
        assert_eq!(name.component_parts(3), Some((300, &b"d"[..])));
        assert_eq!(name.component_parts(4), None);
        assert_eq!(name.positions_of_type(2).collect::<Vec<_>>(), vec![2]);
        assert_eq!(name.positions_of_type(8).collect::<Vec<_>>(), vec![0, 1]);
        // 0x01 is inside the type 300's header (FD 01 2C) but begins no component.
        assert_eq!(name.positions_of_type(1).count(), 0);
    }

    #[test]
    fn bad_component_types_rejected() {
        assert!(Name::from_wire(&Bytes::from_static(&[0x07, 0x02, 0x00, 0x00])).is_err());
        assert!(Name::from_wire(&Bytes::from_static(&[0x07, 0x06, 0xFE, 0, 1, 0, 0, 0])).is_err());
        assert!(Name::from_wire(&Bytes::from_static(&[0x07, 0x02, 0x08, 0x05])).is_err());
    }
}

//! TLV primitives: VAR-NUMBER, NonNegativeInteger, element views and encoding helpers.
//!
//! Decoding works on [`Bytes`] and never copies a value: an [`Element`] is a cheap handle
//! (one reference count) on the buffer it was read from. Every decoding function checks lengths
//! before slicing, so no input can make it panic or read out of bounds, and nothing here
//! allocates in proportion to a length field (only in proportion to bytes actually present).
//!
//! Encoding follows "compute lengths first, write once": each encodable type can report its
//! encoded length, so a packet is written into one buffer of the right size with no moves.

use bytes::{BufMut, Bytes};

use crate::error::{Error, Result};

/// Number of bytes of the shortest VAR-NUMBER encoding of `v`.
#[must_use]
pub const fn varnum_len(v: u64) -> usize {
    if v <= 252 {
        1
    } else if v <= 0xFFFF {
        3
    } else if v <= 0xFFFF_FFFF {
        5
    } else {
        9
    }
}

/// Writes the shortest VAR-NUMBER encoding of `v`.
pub fn put_varnum(buf: &mut impl BufMut, v: u64) {
    if v <= 252 {
        buf.put_u8(v as u8);
    } else if v <= 0xFFFF {
        buf.put_u8(0xFD);
        buf.put_u16(v as u16);
    } else if v <= 0xFFFF_FFFF {
        buf.put_u8(0xFE);
        buf.put_u32(v as u32);
    } else {
        buf.put_u8(0xFF);
        buf.put_u64(v);
    }
}

/// Reads a VAR-NUMBER from the start of `buf`, accepting non-minimal encodings as the reference
/// decoders do. Returns the number and how many bytes it took.
pub fn read_varnum(buf: &[u8]) -> Result<(u64, usize)> {
    let Some(&first) = buf.first() else {
        return Err(Error::Truncated { needed: 1 });
    };
    let width = match first {
        0..=252 => return Ok((u64::from(first), 1)),
        0xFD => 2,
        0xFE => 4,
        _ => 8,
    };
    let Some(rest) = buf.get(1..=width) else {
        return Err(Error::Truncated {
            needed: 1 + width - buf.len(),
        });
    };
    let v = rest.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok((v, 1 + width))
}

/// Number of bytes of the NonNegativeInteger encoding of `v` (1, 2, 4 or 8).
#[must_use]
pub const fn nni_len(v: u64) -> usize {
    if v <= 0xFF {
        1
    } else if v <= 0xFFFF {
        2
    } else if v <= 0xFFFF_FFFF {
        4
    } else {
        8
    }
}

/// Writes the shortest NonNegativeInteger encoding of `v` (no TLV header).
pub fn put_nni(buf: &mut impl BufMut, v: u64) {
    match nni_len(v) {
        1 => buf.put_u8(v as u8),
        2 => buf.put_u16(v as u16),
        4 => buf.put_u32(v as u32),
        _ => buf.put_u64(v),
    }
}

/// Decodes a NonNegativeInteger value; `tlv_type` names the element in the error.
pub fn decode_nni(value: &[u8], tlv_type: u32) -> Result<u64> {
    match value.len() {
        1 | 2 | 4 | 8 => Ok(value.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))),
        _ => Err(Error::InvalidInteger(tlv_type)),
    }
}

/// Encoded length of a TLV element with a value of `value_len` bytes.
#[must_use]
pub const fn tlv_len(tlv_type: u32, value_len: usize) -> usize {
    varnum_len(tlv_type as u64) + varnum_len(value_len as u64) + value_len
}

/// Writes a TLV header.
pub fn put_header(buf: &mut impl BufMut, tlv_type: u32, value_len: usize) {
    put_varnum(buf, u64::from(tlv_type));
    put_varnum(buf, value_len as u64);
}

/// Writes a whole TLV element.
pub fn put_tlv(buf: &mut impl BufMut, tlv_type: u32, value: &[u8]) {
    put_header(buf, tlv_type, value.len());
    buf.put_slice(value);
}

/// Encoded length of a TLV element holding a NonNegativeInteger.
#[must_use]
pub const fn nni_tlv_len(tlv_type: u32, v: u64) -> usize {
    tlv_len(tlv_type, nni_len(v))
}

/// Writes a TLV element holding a NonNegativeInteger.
pub fn put_nni_tlv(buf: &mut impl BufMut, tlv_type: u32, v: u64) {
    put_header(buf, tlv_type, nni_len(v));
    put_nni(buf, v);
}

/// Reads a TLV header at the start of `buf`: returns (type, value length, header length).
///
/// Checks only the header; the caller checks that the value is present.
pub fn read_header(buf: &[u8]) -> Result<(u32, usize, usize)> {
    let (tlv_type, t_len) = read_varnum(buf)?;
    let tlv_type = match u32::try_from(tlv_type) {
        Ok(0) | Err(_) => return Err(Error::InvalidType(tlv_type)),
        Ok(t) => t,
    };
    let (len, l_len) = read_varnum(&buf[t_len..])?;
    let len = usize::try_from(len).map_err(|_| Error::LengthTooLarge(len))?;
    Ok((tlv_type, len, t_len + l_len))
}

/// How many bytes the TLV element at the start of `buf` occupies, or `None` if `buf` does not
/// yet hold all of it. Used by stream faces to cut frames out of a byte stream.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>> {
    match read_header(buf) {
        Ok((_, len, hdr)) => Ok(hdr.checked_add(len).filter(|&n| n <= buf.len())),
        Err(Error::Truncated { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A decoded TLV element: a view on the buffer it came from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Element {
    tlv_type: u32,
    header_len: u8,
    wire: Bytes,
}

impl Element {
    /// Decodes the element at the start of `buf`; returns it and the number of bytes it used.
    pub fn decode_prefix(buf: &Bytes) -> Result<(Self, usize)> {
        Self::decode_at(buf, 0)
    }

    /// Decodes the element that starts `at` bytes into `buf`; returns it and the number of
    /// bytes it used. The element shares `buf` (one reference taken, for the element only).
    fn decode_at(buf: &Bytes, at: usize) -> Result<(Self, usize)> {
        let rest = buf.get(at..).unwrap_or_default();
        let (tlv_type, len, hdr) = read_header(rest)?;
        let total = hdr
            .checked_add(len)
            .ok_or(Error::LengthTooLarge(len as u64))?;
        if total > rest.len() {
            return Err(Error::Truncated {
                needed: total - rest.len(),
            });
        }
        // A header is at most 18 bytes, so this cannot truncate.
        let header_len = hdr as u8;
        Ok((
            Self {
                tlv_type,
                header_len,
                wire: buf.slice(at..at + total),
            },
            total,
        ))
    }

    /// Decodes `buf` as exactly one element, with no bytes after it.
    pub fn decode_exact(buf: &Bytes) -> Result<Self> {
        let (el, used) = Self::decode_prefix(buf)?;
        if used != buf.len() {
            return Err(Error::TrailingBytes(buf.len() - used));
        }
        Ok(el)
    }

    /// Builds an element by encoding `value` under `tlv_type` (copies `value`).
    #[must_use]
    pub fn new(tlv_type: u32, value: &[u8]) -> Self {
        let mut buf = bytes::BytesMut::with_capacity(tlv_len(tlv_type, value.len()));
        put_tlv(&mut buf, tlv_type, value);
        let header_len = (buf.len() - value.len()) as u8;
        Self {
            tlv_type,
            header_len,
            wire: buf.freeze(),
        }
    }

    /// The TLV-TYPE.
    #[must_use]
    pub fn tlv_type(&self) -> u32 {
        self.tlv_type
    }

    /// The TLV-VALUE, borrowed.
    #[must_use]
    pub fn value(&self) -> &[u8] {
        &self.wire[usize::from(self.header_len)..]
    }

    /// The TLV-VALUE as a shared buffer (no copy).
    #[must_use]
    pub fn value_bytes(&self) -> Bytes {
        self.wire.slice(usize::from(self.header_len)..)
    }

    /// The whole element (header and value) as it appeared on the wire.
    #[must_use]
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// Length of the TLV header.
    #[must_use]
    pub fn header_len(&self) -> usize {
        usize::from(self.header_len)
    }

    /// Iterates over the elements nested in this element's value.
    #[must_use]
    pub fn children(&self) -> Reader {
        Reader::new(self.value_bytes())
    }

    /// Decodes the value as a NonNegativeInteger.
    pub fn as_nni(&self) -> Result<u64> {
        decode_nni(self.value(), self.tlv_type)
    }

    /// True if this element's TLV-TYPE is critical.
    #[must_use]
    pub fn is_critical(&self) -> bool {
        crate::types::is_critical(self.tlv_type)
    }
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Element({}, {} bytes)",
            self.tlv_type,
            self.value().len()
        )
    }
}

/// Reads a sequence of TLV elements from a buffer, in order.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    /// A reader over `buf`.
    #[must_use]
    pub fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    /// Offset of the next unread byte within the buffer.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True if every byte has been read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// TLV-TYPE of the next element without consuming it.
    pub fn peek_type(&self) -> Result<Option<u32>> {
        if self.is_empty() {
            return Ok(None);
        }
        read_header(&self.buf[self.pos..]).map(|(t, _, _)| Some(t))
    }

    /// Reads the next element, or `None` at the end.
    pub fn next_element(&mut self) -> Result<Option<Element>> {
        if self.is_empty() {
            return Ok(None);
        }
        let (el, used) = Element::decode_at(&self.buf, self.pos)?;
        self.pos += used;
        Ok(Some(el))
    }

    /// Reads the next element if it has type `tlv_type`.
    pub fn next_if(&mut self, tlv_type: u32) -> Result<Option<Element>> {
        if self.peek_type()? == Some(tlv_type) {
            self.next_element()
        } else {
            Ok(None)
        }
    }

    /// Reads the next element, which must have type `tlv_type`.
    pub fn expect(&mut self, tlv_type: u32, what: &'static str) -> Result<Element> {
        match self.next_element()? {
            Some(el) if el.tlv_type() == tlv_type => Ok(el),
            Some(el) => Err(Error::UnexpectedType {
                expected: tlv_type,
                found: el.tlv_type(),
            }),
            None => Err(Error::Missing(what)),
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Element>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_element() {
            Ok(Some(el)) => Some(Ok(el)),
            Ok(None) => None,
            Err(e) => {
                // Stop after the first error so a malformed buffer cannot loop.
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varnum_boundaries_round_trip_minimal() {
        for v in [
            0u64,
            252,
            253,
            0xFFFF,
            0x1_0000,
            0xFFFF_FFFF,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_varnum(&mut b, v);
            assert_eq!(b.len(), varnum_len(v));
            assert_eq!(read_varnum(&b).unwrap(), (v, b.len()));
        }
    }

    #[test]
    fn varnum_accepts_longer_forms() {
        assert_eq!(read_varnum(&[0xFD, 0x00, 0x05]).unwrap(), (5, 3));
        assert_eq!(
            read_varnum(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 7]).unwrap(),
            (7, 9)
        );
        assert!(matches!(
            read_varnum(&[0xFE, 0, 0]),
            Err(Error::Truncated { needed: 2 })
        ));
    }

    #[test]
    fn element_length_beyond_input_is_truncated_not_panic() {
        let b = Bytes::from_static(&[0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(Element::decode_prefix(&b).is_err());
        let b = Bytes::from_static(&[0x07, 0x05, 0x08]);
        assert!(matches!(
            Element::decode_prefix(&b),
            Err(Error::Truncated { needed: 4 })
        ));
        assert!(matches!(
            Element::decode_exact(&Bytes::from_static(&[0, 0])),
            Err(Error::InvalidType(0))
        ));
    }

    #[test]
    fn frame_len_waits_for_the_whole_element() {
        assert_eq!(frame_len(&[0x05]).unwrap(), None);
        assert_eq!(frame_len(&[0x05, 0x02, 0x00]).unwrap(), None);
        assert_eq!(frame_len(&[0x05, 0x02, 0x00, 0x00, 0x99]).unwrap(), Some(4));
    }

    #[test]
    fn nni_lengths() {
        assert_eq!(decode_nni(&[1, 0], 1).unwrap(), 256);
        assert!(decode_nni(&[1, 0, 0], 1).is_err());
        assert!(decode_nni(&[], 1).is_err());
        for v in [0u64, 255, 256, 65535, 65536, u64::from(u32::MAX), u64::MAX] {
            let mut b = Vec::new();
            put_nni(&mut b, v);
            assert_eq!(b.len(), nni_len(v));
            assert_eq!(decode_nni(&b, 1).unwrap(), v);
        }
    }
}

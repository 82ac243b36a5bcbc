//! Data packets (NDN Packet Format v0.3) with nfwd's FunctionNames extension.
//!
//! A Data that answers a chained Interest carries the FunctionNames element of that Interest
//! right after its Name, inside the signed portion: the producer of a function result signs
//! which chain it computed.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::chain::FunctionChain;
use crate::element::{Element, nni_tlv_len, put_header, put_nni_tlv, put_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::{Component, Name};
use crate::signature::{SignatureInfo, Signer, VerifyKey, sha256};
use crate::types::{content_type, is_critical, tt};

/// MetaInfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaInfo {
    /// ContentType (absent means Blob).
    pub content_type: Option<u64>,
    /// FreshnessPeriod in milliseconds (absent or 0: stale at once).
    pub freshness_period_ms: Option<u64>,
    /// FinalBlockId: the last segment's component.
    pub final_block_id: Option<Component>,
    /// Unrecognized non-critical elements, kept.
    pub unknown: Vec<Element>,
}

impl MetaInfo {
    fn decode(el: &Element) -> Result<Self> {
        let mut m = Self::default();
        let mut last = 0u8;
        for child in el.children() {
            let child = child?;
            let order = match child.tlv_type() {
                tt::CONTENT_TYPE => 1,
                tt::FRESHNESS_PERIOD => 2,
                tt::FINAL_BLOCK_ID => 3,
                t if is_critical(t) => return Err(Error::UnknownCritical(t)),
                _ => {
                    m.unknown.push(child);
                    continue;
                }
            };
            if order <= last {
                return Err(Error::OutOfOrder(child.tlv_type()));
            }
            last = order;
            match order {
                1 => m.content_type = Some(child.as_nni()?),
                2 => m.freshness_period_ms = Some(child.as_nni()?),
                _ => {
                    let mut r = child.children();
                    let c = r
                        .next_element()?
                        .ok_or(Error::Missing("FinalBlockId component"))?;
                    m.final_block_id = Some(Component::from_element(&c)?);
                    if !r.is_empty() {
                        return Err(Error::InvalidValue {
                            field: "FinalBlockId",
                            reason: "extra elements",
                        });
                    }
                }
            }
        }
        Ok(m)
    }

    fn is_empty(&self) -> bool {
        self.content_type.is_none()
            && self.freshness_period_ms.is_none()
            && self.final_block_id.is_none()
            && self.unknown.is_empty()
    }

    fn value_len(&self) -> usize {
        self.content_type
            .map_or(0, |t| nni_tlv_len(tt::CONTENT_TYPE, t))
            + self
                .freshness_period_ms
                .map_or(0, |f| nni_tlv_len(tt::FRESHNESS_PERIOD, f))
            + self
                .final_block_id
                .as_ref()
                .map_or(0, |c| tlv_len(tt::FINAL_BLOCK_ID, c.wire().len()))
            + self.unknown.iter().map(|e| e.wire().len()).sum::<usize>()
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, tt::META_INFO, self.value_len());
        if let Some(t) = self.content_type {
            put_nni_tlv(buf, tt::CONTENT_TYPE, t);
        }
        if let Some(f) = self.freshness_period_ms {
            put_nni_tlv(buf, tt::FRESHNESS_PERIOD, f);
        }
        if let Some(c) = &self.final_block_id {
            put_tlv(buf, tt::FINAL_BLOCK_ID, c.wire());
        }
        for e in &self.unknown {
            buf.put_slice(e.wire());
        }
    }
}

/// A decoded Data packet.
#[derive(Clone)]
pub struct Data {
    wire: Bytes,
    name: Name,
    function_chain: Option<FunctionChain>,
    meta_info: MetaInfo,
    content: Bytes,
    signature_info: Option<Element>,
    signature_value: Option<Bytes>,
    /// Name through SignatureInfo.
    signed_range: Range<usize>,
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("name", &self.name)
            .field("function_chain", &self.function_chain)
            .field("meta_info", &self.meta_info)
            .field("content_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

impl Data {
    /// Decodes a Data packet from its whole TLV encoding.
    ///
    /// SignatureInfo and SignatureValue are optional here (some tools emit unsigned Data);
    /// [`Data::verify`] fails without them.
    pub fn decode(wire: Bytes) -> Result<Self> {
        let outer = Element::decode_exact(&wire)?;
        if outer.tlv_type() != tt::DATA {
            return Err(Error::UnexpectedType {
                expected: tt::DATA,
                found: outer.tlv_type(),
            });
        }
        let base = outer.header_len();
        let mut reader = outer.children();
        let name = Name::from_element(&reader.expect(tt::NAME, "Name")?)?;
        let mut d = Self {
            wire: Bytes::new(),
            name,
            function_chain: None,
            meta_info: MetaInfo::default(),
            content: Bytes::new(),
            signature_info: None,
            signature_value: None,
            signed_range: base..base,
        };
        let mut last = 0u8;
        loop {
            let Some(el) = reader.next_element()? else {
                break;
            };
            let order = match el.tlv_type() {
                tt::FUNCTION_NAMES => 1,
                tt::META_INFO => 2,
                tt::CONTENT => 3,
                tt::SIGNATURE_INFO => 4,
                tt::SIGNATURE_VALUE => 5,
                t if is_critical(t) => return Err(Error::UnknownCritical(t)),
                _ => continue,
            };
            if order <= last {
                return Err(Error::OutOfOrder(el.tlv_type()));
            }
            last = order;
            match order {
                1 => d.function_chain = Some(FunctionChain::decode(&el)?),
                2 => d.meta_info = MetaInfo::decode(&el)?,
                3 => d.content = el.value_bytes(),
                4 => {
                    d.signature_info = Some(el);
                    d.signed_range.end = base + reader.position();
                }
                _ => d.signature_value = Some(el.value_bytes()),
            }
        }
        if d.signature_value.is_some() && d.signature_info.is_none() {
            return Err(Error::Missing("SignatureInfo"));
        }
        d.wire = wire;
        Ok(d)
    }

    /// The whole encoding.
    #[must_use]
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The name.
    #[must_use]
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The function chain this Data answers, if it is a function result.
    #[must_use]
    pub fn function_chain(&self) -> Option<&FunctionChain> {
        self.function_chain.as_ref()
    }

    /// MetaInfo.
    #[must_use]
    pub fn meta_info(&self) -> &MetaInfo {
        &self.meta_info
    }

    /// ContentType with the default (Blob) applied.
    #[must_use]
    pub fn content_type(&self) -> u64 {
        self.meta_info.content_type.unwrap_or(content_type::BLOB)
    }

    /// FreshnessPeriod in milliseconds (0 when absent).
    #[must_use]
    pub fn freshness_period_ms(&self) -> u64 {
        self.meta_info.freshness_period_ms.unwrap_or(0)
    }

    /// FinalBlockId.
    #[must_use]
    pub fn final_block_id(&self) -> Option<&Component> {
        self.meta_info.final_block_id.as_ref()
    }

    /// Content (TLV-VALUE), zero-copy.
    #[must_use]
    pub fn content(&self) -> &Bytes {
        &self.content
    }

    /// SignatureInfo, decoded.
    pub fn signature_info(&self) -> Result<Option<SignatureInfo>> {
        self.signature_info
            .as_ref()
            .map(SignatureInfo::decode)
            .transpose()
    }

    /// SignatureValue (TLV-VALUE).
    #[must_use]
    pub fn signature_value(&self) -> Option<&Bytes> {
        self.signature_value.as_ref()
    }

    /// The signed portion: Name through SignatureInfo.
    #[must_use]
    pub fn signed_portion(&self) -> &[u8] {
        &self.wire[self.signed_range.clone()]
    }

    /// SHA-256 of the whole encoding (the implicit digest).
    #[must_use]
    pub fn implicit_digest(&self) -> [u8; 32] {
        sha256(&[&self.wire])
    }

    /// The name with the implicit digest appended.
    #[must_use]
    pub fn full_name(&self) -> Name {
        self.name
            .append(&Component::implicit_digest(&self.implicit_digest()))
    }

    /// Verifies the signature with `key`.
    pub fn verify(&self, key: &VerifyKey) -> Result<()> {
        let info = self
            .signature_info()?
            .ok_or(Error::Missing("SignatureInfo"))?;
        let value = self
            .signature_value
            .as_ref()
            .ok_or(Error::Missing("SignatureValue"))?;
        key.verify(info.signature_type, &[self.signed_portion()], value)
    }

    /// A builder holding this Data's fields and signature (unknown top-level elements are not
    /// carried over).
    #[must_use]
    pub fn to_builder(&self) -> DataBuilder {
        DataBuilder {
            name: self.name.clone(),
            function_chain: self.function_chain.clone(),
            meta_info: self.meta_info.clone(),
            content: self.content.clone(),
            has_meta_info: self.wire_has(tt::META_INFO),
            has_content: self.wire_has(tt::CONTENT),
        }
    }

    fn wire_has(&self, tlv_type: u32) -> bool {
        Element::decode_exact(&self.wire)
            .map(|e| {
                e.children()
                    .any(|c| c.is_ok_and(|c| c.tlv_type() == tlv_type))
            })
            .unwrap_or(false)
    }

    /// Re-encodes with the same fields and signature (for round-trip checks).
    #[must_use]
    pub fn reencode(&self) -> Bytes {
        let sig = self
            .signature_info()
            .ok()
            .flatten()
            .zip(self.signature_value.clone());
        self.to_builder()
            .encode_with(sig.as_ref().map(|(i, v)| (i, v)))
    }
}

/// Builds and signs Data packets.
#[derive(Debug, Clone, Default)]
pub struct DataBuilder {
    /// Name.
    pub name: Name,
    /// The function chain this Data answers.
    pub function_chain: Option<FunctionChain>,
    /// MetaInfo.
    pub meta_info: MetaInfo,
    /// Content.
    pub content: Bytes,
    /// Emit MetaInfo even when it is empty.
    pub has_meta_info: bool,
    /// Emit Content even when it is empty.
    pub has_content: bool,
}

impl DataBuilder {
    /// A builder for `name` with `content`.
    #[must_use]
    pub fn new(name: Name, content: impl Into<Bytes>) -> Self {
        Self {
            name,
            content: content.into(),
            has_content: true,
            ..Self::default()
        }
    }

    /// Sets the function chain.
    #[must_use]
    pub fn function_chain(mut self, chain: Option<FunctionChain>) -> Self {
        self.function_chain = chain;
        self
    }

    /// Sets FreshnessPeriod.
    #[must_use]
    pub fn freshness_ms(mut self, ms: u64) -> Self {
        self.meta_info.freshness_period_ms = Some(ms);
        self
    }

    /// Sets ContentType.
    #[must_use]
    pub fn content_type(mut self, t: u64) -> Self {
        self.meta_info.content_type = Some(t);
        self
    }

    /// Sets FinalBlockId.
    #[must_use]
    pub fn final_block_id(mut self, c: Component) -> Self {
        self.meta_info.final_block_id = Some(c);
        self
    }

    fn write_signed_part(&self, buf: &mut impl BufMut, info: Option<&SignatureInfo>) {
        self.name.encode_to(buf);
        if let Some(c) = &self.function_chain {
            c.encode_to(buf);
        }
        if self.has_meta_info || !self.meta_info.is_empty() {
            self.meta_info.encode_to(buf);
        }
        if self.has_content || !self.content.is_empty() {
            put_tlv(buf, tt::CONTENT, &self.content);
        }
        if let Some(i) = info {
            i.encode_to(buf, tt::SIGNATURE_INFO);
        }
    }

    fn signed_part_len(&self, info: Option<&SignatureInfo>) -> usize {
        self.name.encoded_len()
            + self
                .function_chain
                .as_ref()
                .map_or(0, FunctionChain::encoded_len)
            + if self.has_meta_info || !self.meta_info.is_empty() {
                tlv_len(tt::META_INFO, self.meta_info.value_len())
            } else {
                0
            }
            + if self.has_content || !self.content.is_empty() {
                tlv_len(tt::CONTENT, self.content.len())
            } else {
                0
            }
            + info.map_or(0, |i| i.encoded_len(tt::SIGNATURE_INFO))
    }

    /// Encodes with the given signature (or none).
    #[must_use]
    pub fn encode_with(&self, sig: Option<(&SignatureInfo, &Bytes)>) -> Bytes {
        let info = sig.map(|(i, _)| i);
        let value_len = self.signed_part_len(info)
            + sig.map_or(0, |(_, v)| tlv_len(tt::SIGNATURE_VALUE, v.len()));
        let mut buf = BytesMut::with_capacity(tlv_len(tt::DATA, value_len));
        put_header(&mut buf, tt::DATA, value_len);
        self.write_signed_part(&mut buf, info);
        if let Some((_, v)) = sig {
            put_tlv(&mut buf, tt::SIGNATURE_VALUE, v);
        }
        buf.freeze()
    }

    /// Signs with `signer` and returns the encoded packet.
    pub fn sign(&self, signer: &Signer) -> Result<Bytes> {
        self.sign_with_info(signer, &signer.signature_info())
    }

    /// Signs with `signer` under `info` (the signer's SignatureInfo with more in it, such as a
    /// certificate's ValidityPeriod) and returns the encoded packet.
    pub fn sign_with_info(&self, signer: &Signer, info: &SignatureInfo) -> Result<Bytes> {
        let mut signed = BytesMut::with_capacity(self.signed_part_len(Some(info)));
        self.write_signed_part(&mut signed, Some(info));
        let value = signer.sign(&[&signed])?;
        let value_len = signed.len() + tlv_len(tt::SIGNATURE_VALUE, value.len());
        let mut buf = BytesMut::with_capacity(tlv_len(tt::DATA, value_len));
        put_header(&mut buf, tt::DATA, value_len);
        buf.put_slice(&signed);
        put_tlv(&mut buf, tt::SIGNATURE_VALUE, &value);
        Ok(buf.freeze())
    }

    /// Signs and decodes.
    pub fn build(&self, signer: &Signer) -> Result<Data> {
        Data::decode(self.sign(signer)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interest::InterestBuilder;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_and_verify() {
        let signer = Signer::digest_sha256();
        let d = DataBuilder::new(name("/a/seg=0"), Bytes::from_static(b"hello"))
            .freshness_ms(1000)
            .content_type(content_type::BLOB)
            .final_block_id(Component::segment(3))
            .build(&signer)
            .unwrap();
        assert_eq!(d.content().as_ref(), b"hello");
        assert_eq!(d.freshness_period_ms(), 1000);
        assert_eq!(d.final_block_id().unwrap().as_segment(), Some(3));
        d.verify(&VerifyKey::DigestSha256).unwrap();
        assert_eq!(d.reencode(), *d.wire());
        let mut tampered = d.wire().to_vec();
        let i = tampered.iter().position(|&b| b == b'h').unwrap();
        tampered[i] = b'j';
        let t = Data::decode(Bytes::from(tampered)).unwrap();
        assert_eq!(t.verify(&VerifyKey::DigestSha256), Err(Error::BadSignature));
    }

    #[test]
    fn chain_separates_results() {
        let signer = Signer::digest_sha256();
        let chain: FunctionChain = "/sf/F1".parse().unwrap();
        let raw = DataBuilder::new(name("/c"), Bytes::from_static(b"x"))
            .build(&signer)
            .unwrap();
        let result = DataBuilder::new(name("/c"), Bytes::from_static(b"X"))
            .function_chain(Some(chain.clone()))
            .build(&signer)
            .unwrap();
        let plain = InterestBuilder::new(name("/c")).build().unwrap();
        let chained = InterestBuilder::new(name("/c"))
            .function_chain(Some(chain))
            .build()
            .unwrap();
        assert!(plain.matches(&raw) && !plain.matches(&result));
        assert!(chained.matches(&result) && !chained.matches(&raw));
        let prefix = InterestBuilder::new(name("/")).build();
        assert!(prefix.is_err(), "empty Interest name is invalid");
        let exact_digest = InterestBuilder::new(raw.full_name()).build().unwrap();
        assert!(exact_digest.matches(&raw));
        let other = DataBuilder::new(name("/c"), Bytes::from_static(b"y"))
            .build(&signer)
            .unwrap();
        assert!(!exact_digest.matches(&other));
    }

    #[test]
    fn structure_rules() {
        // Content before MetaInfo.
        let wire = Bytes::from_static(&[6, 9, 7, 3, 8, 1, b'a', 21, 0, 20, 0]);
        assert_eq!(
            Data::decode(wire).unwrap_err(),
            Error::OutOfOrder(tt::META_INFO)
        );
        // Unknown non-critical skipped; unknown critical rejected.
        assert!(Data::decode(Bytes::from_static(&[6, 7, 7, 3, 8, 1, b'a', 200, 0])).is_ok());
        assert!(Data::decode(Bytes::from_static(&[6, 7, 7, 3, 8, 1, b'a', 201, 0])).is_err());
    }
}

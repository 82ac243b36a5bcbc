//! SignatureInfo, KeyLocator, and signing/verification for DigestSha256, HmacWithSha256,
//! Ed25519 and ECDSA P-256 (through `ring`, the crypto provider quinn/rustls also use, so the
//! project carries one crypto library).

use bytes::{BufMut, Bytes, BytesMut};
use ring::rand::SystemRandom;
use ring::signature::{self as rsig, KeyPair as _};

use crate::element::{Element, nni_tlv_len, put_header, put_nni_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::types::{is_critical, signature_type as st, tt};

/// Where to find the key that verifies a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocator {
    /// The name of the key or certificate.
    Name(Name),
    /// The SHA-256 digest of the key.
    KeyDigest(Bytes),
}

impl KeyLocator {
    fn value_len(&self) -> usize {
        match self {
            Self::Name(n) => n.encoded_len(),
            Self::KeyDigest(d) => tlv_len(tt::KEY_DIGEST, d.len()),
        }
    }

    fn decode(el: &Element) -> Result<Self> {
        let mut r = el.children();
        let inner = r
            .next_element()?
            .ok_or(Error::Missing("KeyLocator content"))?;
        let loc = match inner.tlv_type() {
            tt::NAME => Self::Name(Name::from_element(&inner)?),
            tt::KEY_DIGEST => Self::KeyDigest(inner.value_bytes()),
            t => return Err(Error::UnknownCritical(t)),
        };
        if !r.is_empty() {
            return Err(Error::InvalidValue {
                field: "KeyLocator",
                reason: "extra elements",
            });
        }
        Ok(loc)
    }
}

/// SignatureInfo (Data, type 22) or InterestSignatureInfo (type 44).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureInfo {
    /// SignatureType (see [`crate::types::signature_type`]).
    pub signature_type: u64,
    /// KeyLocator, if any.
    pub key_locator: Option<KeyLocator>,
    /// SignatureNonce (signed Interests).
    pub nonce: Option<Bytes>,
    /// SignatureTime in milliseconds since the Unix epoch (signed Interests).
    pub time: Option<u64>,
    /// SignatureSeqNum (signed Interests).
    pub seq_num: Option<u64>,
    /// ValidityPeriod (certificates): the raw element, kept as received.
    pub validity_period: Option<Element>,
    /// Unrecognized non-critical elements, kept so a re-encoding loses nothing.
    pub unknown: Vec<Element>,
}

impl SignatureInfo {
    /// A SignatureInfo with only a type and an optional key locator.
    #[must_use]
    pub fn new(signature_type: u64, key_locator: Option<KeyLocator>) -> Self {
        Self {
            signature_type,
            key_locator,
            ..Self::default()
        }
    }

    /// Decodes a SignatureInfo or InterestSignatureInfo element.
    pub fn decode(el: &Element) -> Result<Self> {
        let mut info = Self::default();
        let mut r = el.children();
        let t = r.expect(tt::SIGNATURE_TYPE, "SignatureType")?;
        info.signature_type = t.as_nni()?;
        for child in r {
            let child = child?;
            match child.tlv_type() {
                tt::KEY_LOCATOR if info.key_locator.is_none() => {
                    info.key_locator = Some(KeyLocator::decode(&child)?);
                }
                tt::SIGNATURE_NONCE if info.nonce.is_none() => {
                    info.nonce = Some(child.value_bytes());
                }
                tt::SIGNATURE_TIME if info.time.is_none() => info.time = Some(child.as_nni()?),
                tt::SIGNATURE_SEQ_NUM if info.seq_num.is_none() => {
                    info.seq_num = Some(child.as_nni()?);
                }
                tt::VALIDITY_PERIOD if info.validity_period.is_none() => {
                    info.validity_period = Some(child);
                }
                t if is_critical(t) => return Err(Error::UnknownCritical(t)),
                _ => info.unknown.push(child),
            }
        }
        Ok(info)
    }

    fn value_len(&self) -> usize {
        nni_tlv_len(tt::SIGNATURE_TYPE, self.signature_type)
            + self
                .key_locator
                .as_ref()
                .map_or(0, |k| tlv_len(tt::KEY_LOCATOR, k.value_len()))
            + self
                .nonce
                .as_ref()
                .map_or(0, |n| tlv_len(tt::SIGNATURE_NONCE, n.len()))
            + self.time.map_or(0, |t| nni_tlv_len(tt::SIGNATURE_TIME, t))
            + self
                .seq_num
                .map_or(0, |s| nni_tlv_len(tt::SIGNATURE_SEQ_NUM, s))
            + self.validity_period.as_ref().map_or(0, |v| v.wire().len())
            + self.unknown.iter().map(|e| e.wire().len()).sum::<usize>()
    }

    /// Encoded length under `outer_type` (22 or 44).
    #[must_use]
    pub fn encoded_len(&self, outer_type: u32) -> usize {
        tlv_len(outer_type, self.value_len())
    }

    /// Writes the element under `outer_type` (22 for Data, 44 for Interests).
    pub fn encode_to(&self, buf: &mut impl BufMut, outer_type: u32) {
        put_header(buf, outer_type, self.value_len());
        put_nni_tlv(buf, tt::SIGNATURE_TYPE, self.signature_type);
        if let Some(k) = &self.key_locator {
            put_header(buf, tt::KEY_LOCATOR, k.value_len());
            match k {
                KeyLocator::Name(n) => n.encode_to(buf),
                KeyLocator::KeyDigest(d) => crate::element::put_tlv(buf, tt::KEY_DIGEST, d),
            }
        }
        if let Some(n) = &self.nonce {
            crate::element::put_tlv(buf, tt::SIGNATURE_NONCE, n);
        }
        if let Some(t) = self.time {
            put_nni_tlv(buf, tt::SIGNATURE_TIME, t);
        }
        if let Some(s) = self.seq_num {
            put_nni_tlv(buf, tt::SIGNATURE_SEQ_NUM, s);
        }
        if let Some(v) = &self.validity_period {
            buf.put_slice(v.wire());
        }
        for e in &self.unknown {
            buf.put_slice(e.wire());
        }
    }

    /// The element under `outer_type` as a new buffer.
    #[must_use]
    pub fn to_wire(&self, outer_type: u32) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len(outer_type));
        self.encode_to(&mut buf, outer_type);
        buf.freeze()
    }
}

/// SHA-256 of the concatenation of `parts`.
#[must_use]
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

enum SigningKey {
    DigestSha256,
    Hmac(ring::hmac::Key),
    Ed25519(rsig::Ed25519KeyPair),
    EcdsaP256(rsig::EcdsaKeyPair),
}

/// Signs packets with one key (or with a plain SHA-256 digest).
pub struct Signer {
    key: SigningKey,
    key_locator: Option<KeyLocator>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("signature_type", &self.signature_type())
            .field("key_locator", &self.key_locator)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// DigestSha256: integrity only, no key.
    #[must_use]
    pub fn digest_sha256() -> Self {
        Self {
            key: SigningKey::DigestSha256,
            key_locator: None,
        }
    }

    /// HmacWithSha256 with a shared secret; `key_name` goes in the KeyLocator.
    #[must_use]
    pub fn hmac_sha256(secret: &[u8], key_name: Name) -> Self {
        Self {
            key: SigningKey::Hmac(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)),
            key_locator: Some(KeyLocator::Name(key_name)),
        }
    }

    /// Ed25519 from a 32-byte private seed.
    pub fn ed25519_from_seed(seed: &[u8], key_name: Name) -> Result<Self> {
        let kp = rsig::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| Error::InvalidKey("Ed25519 seed must be 32 bytes"))?;
        Ok(Self {
            key: SigningKey::Ed25519(kp),
            key_locator: Some(KeyLocator::Name(key_name)),
        })
    }

    /// Ed25519 from a PKCS#8 document.
    pub fn ed25519_from_pkcs8(pkcs8: &[u8], key_name: Name) -> Result<Self> {
        let kp = rsig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|_| Error::InvalidKey("not an Ed25519 PKCS#8 key"))?;
        Ok(Self {
            key: SigningKey::Ed25519(kp),
            key_locator: Some(KeyLocator::Name(key_name)),
        })
    }

    /// ECDSA P-256 (SHA-256, DER signatures) from a PKCS#8 document.
    pub fn ecdsa_p256_from_pkcs8(pkcs8: &[u8], key_name: Name) -> Result<Self> {
        let kp = rsig::EcdsaKeyPair::from_pkcs8(
            &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| Error::InvalidKey("not a P-256 PKCS#8 key"))?;
        Ok(Self {
            key: SigningKey::EcdsaP256(kp),
            key_locator: Some(KeyLocator::Name(key_name)),
        })
    }

    /// ECDSA P-256 from a raw private scalar (32 bytes) and its uncompressed public point.
    pub fn ecdsa_p256_from_raw(private: &[u8], public: &[u8], key_name: Name) -> Result<Self> {
        let kp = rsig::EcdsaKeyPair::from_private_key_and_public_key(
            &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
            private,
            public,
            &SystemRandom::new(),
        )
        .map_err(|_| Error::InvalidKey("not a P-256 key pair"))?;
        Ok(Self {
            key: SigningKey::EcdsaP256(kp),
            key_locator: Some(KeyLocator::Name(key_name)),
        })
    }

    /// A fresh random Ed25519 key; returns the signer and its PKCS#8 document.
    pub fn generate_ed25519(key_name: Name) -> Result<(Self, Vec<u8>)> {
        let doc = rsig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| Error::InvalidKey("random generator failed"))?;
        Ok((
            Self::ed25519_from_pkcs8(doc.as_ref(), key_name)?,
            doc.as_ref().to_vec(),
        ))
    }

    /// A fresh random ECDSA P-256 key; returns the signer and its PKCS#8 document.
    pub fn generate_ecdsa_p256(key_name: Name) -> Result<(Self, Vec<u8>)> {
        let rng = SystemRandom::new();
        let doc = rsig::EcdsaKeyPair::generate_pkcs8(&rsig::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| Error::InvalidKey("random generator failed"))?;
        Ok((
            Self::ecdsa_p256_from_pkcs8(doc.as_ref(), key_name)?,
            doc.as_ref().to_vec(),
        ))
    }

    /// Replaces the KeyLocator.
    #[must_use]
    pub fn with_key_locator(mut self, key_locator: Option<KeyLocator>) -> Self {
        self.key_locator = key_locator;
        self
    }

    /// The SignatureType this signer produces.
    #[must_use]
    pub fn signature_type(&self) -> u64 {
        match self.key {
            SigningKey::DigestSha256 => st::DIGEST_SHA256,
            SigningKey::Hmac(_) => st::HMAC_WITH_SHA256,
            SigningKey::Ed25519(_) => st::ED25519,
            SigningKey::EcdsaP256(_) => st::SHA256_WITH_ECDSA,
        }
    }

    /// The SignatureInfo this signer puts on a packet (without Interest nonce/time).
    #[must_use]
    pub fn signature_info(&self) -> SignatureInfo {
        SignatureInfo::new(self.signature_type(), self.key_locator.clone())
    }

    /// The public key that verifies this signer's signatures; `None` for HMAC, whose secret
    /// `ring` does not give back (the caller who holds it builds [`VerifyKey::Hmac`]).
    #[must_use]
    pub fn verify_key(&self) -> Option<VerifyKey> {
        match &self.key {
            SigningKey::DigestSha256 => Some(VerifyKey::DigestSha256),
            SigningKey::Hmac(_) => None,
            SigningKey::Ed25519(kp) => Some(VerifyKey::Ed25519(kp.public_key().as_ref().to_vec())),
            SigningKey::EcdsaP256(kp) => {
                Some(VerifyKey::EcdsaP256(kp.public_key().as_ref().to_vec()))
            }
        }
    }

    /// Signs the concatenation of `parts` (the signed portion, which may be discontiguous).
    pub fn sign(&self, parts: &[&[u8]]) -> Result<Bytes> {
        match &self.key {
            SigningKey::DigestSha256 => Ok(Bytes::copy_from_slice(&sha256(parts))),
            SigningKey::Hmac(key) => {
                let mut ctx = ring::hmac::Context::with_key(key);
                for p in parts {
                    ctx.update(p);
                }
                Ok(Bytes::copy_from_slice(ctx.sign().as_ref()))
            }
            SigningKey::Ed25519(kp) => {
                Ok(Bytes::copy_from_slice(kp.sign(&parts.concat()).as_ref()))
            }
            SigningKey::EcdsaP256(kp) => kp
                .sign(&SystemRandom::new(), &parts.concat())
                .map(|s| Bytes::copy_from_slice(s.as_ref()))
                .map_err(|_| Error::InvalidKey("ECDSA signing failed")),
        }
    }
}

/// A key that verifies signatures of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyKey {
    /// DigestSha256 needs no key.
    DigestSha256,
    /// The shared HMAC secret.
    Hmac(Vec<u8>),
    /// Ed25519 public key, 32 bytes.
    Ed25519(Vec<u8>),
    /// P-256 public key as an uncompressed SEC1 point (65 bytes).
    EcdsaP256(Vec<u8>),
}

/// DER prefix of a SubjectPublicKeyInfo holding an Ed25519 key (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of a SubjectPublicKeyInfo holding an uncompressed P-256 key (RFC 5480).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl VerifyKey {
    /// Reads an Ed25519 or P-256 public key from SubjectPublicKeyInfo DER (the form NDN
    /// certificates carry).
    pub fn from_spki(der: &[u8]) -> Result<Self> {
        if let Some(k) = der.strip_prefix(&ED25519_SPKI_PREFIX[..])
            && k.len() == 32
        {
            return Ok(Self::Ed25519(k.to_vec()));
        }
        if let Some(k) = der.strip_prefix(&P256_SPKI_PREFIX[..])
            && k.len() == 65
        {
            return Ok(Self::EcdsaP256(k.to_vec()));
        }
        Err(Error::InvalidKey("unsupported SubjectPublicKeyInfo"))
    }

    /// The key as SubjectPublicKeyInfo DER (what an NDN certificate's Content holds); `None`
    /// for keys that have no public form (digest, HMAC).
    #[must_use]
    pub fn to_spki(&self) -> Option<Vec<u8>> {
        let (prefix, key): (&[u8], &[u8]) = match self {
            Self::Ed25519(k) => (&ED25519_SPKI_PREFIX, k),
            Self::EcdsaP256(k) => (&P256_SPKI_PREFIX, k),
            Self::DigestSha256 | Self::Hmac(_) => return None,
        };
        Some([prefix, key].concat())
    }

    /// Verifies `signature` of type `signature_type` over the concatenation of `parts`.
    pub fn verify(&self, signature_type: u64, parts: &[&[u8]], signature: &[u8]) -> Result<()> {
        let ok = match (signature_type, self) {
            (st::DIGEST_SHA256, Self::DigestSha256) => sha256(parts).as_slice() == signature,
            (st::HMAC_WITH_SHA256, Self::Hmac(secret)) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::verify(&key, &parts.concat(), signature).is_ok()
            }
            (st::ED25519, Self::Ed25519(pk)) => rsig::UnparsedPublicKey::new(&rsig::ED25519, pk)
                .verify(&parts.concat(), signature)
                .is_ok(),
            (st::SHA256_WITH_ECDSA, Self::EcdsaP256(pk)) => {
                rsig::UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_ASN1, pk)
                    .verify(&parts.concat(), signature)
                    .is_ok()
            }
            (t, _) => return Err(Error::UnsupportedSignatureType(t)),
        };
        if ok { Ok(()) } else { Err(Error::BadSignature) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> Name {
        "/key".parse().unwrap()
    }

    #[test]
    fn every_signer_verifies_and_detects_tampering() {
        let (ed, _) = Signer::generate_ed25519(name()).unwrap();
        let (ec, _) = Signer::generate_ecdsa_p256(name()).unwrap();
        let cases = [
            (Signer::digest_sha256(), None),
            (
                Signer::hmac_sha256(b"secret", name()),
                Some(VerifyKey::Hmac(b"secret".to_vec())),
            ),
            (ed, None),
            (ec, None),
        ];
        for (signer, key) in cases {
            let key = key.or_else(|| signer.verify_key()).unwrap();
            let sig = signer.sign(&[b"hello ", b"world"]).unwrap();
            key.verify(signer.signature_type(), &[b"hello world"], &sig)
                .unwrap();
            assert_eq!(
                key.verify(signer.signature_type(), &[b"hello worle"], &sig),
                Err(Error::BadSignature)
            );
        }
    }

    #[test]
    fn public_keys_round_trip_through_spki() {
        let (ed, _) = Signer::generate_ed25519(name()).unwrap();
        let (ec, _) = Signer::generate_ecdsa_p256(name()).unwrap();
        for k in [ed.verify_key().unwrap(), ec.verify_key().unwrap()] {
            assert_eq!(VerifyKey::from_spki(&k.to_spki().unwrap()).unwrap(), k);
        }
        assert_eq!(VerifyKey::DigestSha256.to_spki(), None);
    }

    #[test]
    fn signature_info_round_trip_keeps_unknown_non_critical() {
        let mut info = SignatureInfo::new(st::ED25519, Some(KeyLocator::Name(name())));
        info.nonce = Some(Bytes::from_static(&[1, 2, 3, 4]));
        info.time = Some(1_700_000_000_000);
        info.seq_num = Some(7);
        info.unknown.push(Element::new(200, b"x"));
        let wire = info.to_wire(tt::INTEREST_SIGNATURE_INFO);
        let back = SignatureInfo::decode(&Element::decode_exact(&wire).unwrap()).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.to_wire(tt::INTEREST_SIGNATURE_INFO), wire);
        let bad = Element::new(tt::SIGNATURE_INFO, &[27, 1, 0, 201, 0]);
        assert_eq!(
            SignatureInfo::decode(&bad),
            Err(Error::UnknownCritical(201))
        );
    }
}

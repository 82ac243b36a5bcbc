#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Conformance against packets recorded from python-ndn 0.5.2 (`tests/fixtures/`).
//!
//! Every `.hex` packet listed in `manifest.txt` is decoded, every fact the manifest states is
//! checked (a fact left unchecked fails the test), the packet is re-encoded byte for byte, its
//! signature is verified with the keys in `keys.txt`, a tampered copy is shown to fail, and the
//! deterministic signatures are re-created with our own [`Signer`] and compared byte for byte
//! with python-ndn's.
//!
//! NDNLPv2 packets (`lp_*.hex`) are decoded with [`LpPacket::decode`], checked fact by fact
//! against the manifest, re-encoded byte for byte, cross-checked with a generic
//! [`Element`]/[`Reader`] walk, and their Fragment decoded with our `Interest`/`Data`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use nfwd_tlv::lp::{CachePolicyType, LpPacket, NackReason};
use nfwd_tlv::signature::sha256;
use nfwd_tlv::types::{signature_type as st, tt};
use nfwd_tlv::{
    Component, Data, Element, Error, Interest, InterestBuilder, InterestEdit, KeyLocator, Name,
    Reader, SignatureInfo, Signer, VerifyKey,
};

// ---------------------------------------------------------------------------------------------
// Fixture files

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_text(file: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn read_packet(file: &str) -> Bytes {
    Bytes::from(hex::decode(read_text(file).trim()).unwrap_or_else(|e| panic!("{file}: {e}")))
}

/// One manifest entry. Every key must be read through [`Facts::get`] or [`Facts::opt`] before
/// [`Facts::finish`], so that no stated fact goes unchecked.
struct Facts {
    file: String,
    map: BTreeMap<String, String>,
    used: RefCell<BTreeSet<String>>,
}

impl Facts {
    fn get(&self, key: &str) -> &str {
        self.used.borrow_mut().insert(key.to_owned());
        self.map
            .get(key)
            .unwrap_or_else(|| panic!("{}: manifest has no {key}", self.file))
    }

    /// `None` for `-` (element absent).
    fn opt(&self, key: &str) -> Option<&str> {
        Some(self.get(key)).filter(|v| *v != "-")
    }

    fn num(&self, key: &str) -> Option<u64> {
        self.opt(key).map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{}: {key}={v}", self.file))
        })
    }

    fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            "0" => false,
            "1" => true,
            v => panic!("{}: {key}={v} is not a flag", self.file),
        }
    }

    fn hex(&self, key: &str) -> Option<Vec<u8>> {
        self.opt(key).map(|v| hex::decode(v).unwrap())
    }

    fn finish(&self) {
        let used = self.used.borrow();
        let unchecked: Vec<&String> = self.map.keys().filter(|k| !used.contains(*k)).collect();
        assert!(
            unchecked.is_empty(),
            "{}: facts not checked: {unchecked:?}",
            self.file
        );
    }
}

fn manifest() -> Vec<Facts> {
    let text = read_text("manifest.txt");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let file = words.next().unwrap().to_owned();
        let map = words
            .map(|w| {
                let (k, v) = w.split_once('=').unwrap_or_else(|| panic!("{file}: {w}"));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        out.push(Facts {
            file,
            map,
            used: RefCell::default(),
        });
    }
    out
}

/// `keys.txt`: id → key → value.
fn keys() -> BTreeMap<String, BTreeMap<String, String>> {
    read_text("keys.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut words = l.split_whitespace();
            let id = words.next().unwrap().to_owned();
            let kv = words
                .map(|w| {
                    let (k, v) = w.split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            (id, kv)
        })
        .collect()
}

struct Keys {
    hmac: Vec<u8>,
    hmac_name: Name,
    ed_seed: Vec<u8>,
    ed_pkcs8: Vec<u8>,
    ed_public: Vec<u8>,
    ed_spki: Vec<u8>,
    ed_name: Name,
    ec_d: Vec<u8>,
    ec_pkcs8: Vec<u8>,
    ec_public: Vec<u8>,
    ec_spki: Vec<u8>,
    ec_name: Name,
    sig_nonce: Vec<u8>,
    sig_time: u64,
}

fn load_keys() -> Keys {
    let k = keys();
    let h = |id: &str, key: &str| hex::decode(&k[id][key]).unwrap();
    let n = |id: &str| k[id]["key_name"].parse::<Name>().unwrap();
    Keys {
        hmac: h("hmac", "key"),
        hmac_name: n("hmac"),
        ed_seed: h("ed25519", "seed"),
        ed_pkcs8: h("ed25519", "pkcs8"),
        ed_public: h("ed25519", "public"),
        ed_spki: h("ed25519", "spki"),
        ed_name: n("ed25519"),
        ec_d: h("ecdsa_p256", "d"),
        ec_pkcs8: h("ecdsa_p256", "pkcs8"),
        ec_public: h("ecdsa_p256", "public"),
        ec_spki: h("ecdsa_p256", "spki"),
        ec_name: n("ecdsa_p256"),
        sig_nonce: h("interest_sig_info", "sig_nonce"),
        sig_time: k["interest_sig_info"]["sig_time"].parse().unwrap(),
    }
}

impl Keys {
    /// The key that verifies `sig_type`, built from the raw key material.
    fn verify_key(&self, sig_type: u64) -> VerifyKey {
        match sig_type {
            st::DIGEST_SHA256 => VerifyKey::DigestSha256,
            st::HMAC_WITH_SHA256 => VerifyKey::Hmac(self.hmac.clone()),
            st::ED25519 => VerifyKey::Ed25519(self.ed_public.clone()),
            st::SHA256_WITH_ECDSA => VerifyKey::EcdsaP256(self.ec_public.clone()),
            t => panic!("no key for signature type {t}"),
        }
    }

    /// The same type of key, but not the one that signed (DigestSha256 has no key: `None`).
    fn wrong_key(&self, sig_type: u64) -> Option<VerifyKey> {
        match sig_type {
            st::HMAC_WITH_SHA256 => Some(VerifyKey::Hmac(b"not the key".to_vec())),
            st::ED25519 => Some(
                Signer::ed25519_from_seed(&[7; 32], self.ed_name.clone())
                    .unwrap()
                    .verify_key()
                    .unwrap(),
            ),
            st::SHA256_WITH_ECDSA => Some(
                Signer::generate_ecdsa_p256(self.ec_name.clone())
                    .unwrap()
                    .0
                    .verify_key()
                    .unwrap(),
            ),
            _ => None,
        }
    }

    /// A deterministic signer of `sig_type`, or `None` (ECDSA in `ring` is randomised).
    fn deterministic_signer(&self, sig_type: u64) -> Option<Signer> {
        match sig_type {
            st::DIGEST_SHA256 => Some(Signer::digest_sha256()),
            st::HMAC_WITH_SHA256 => Some(Signer::hmac_sha256(&self.hmac, self.hmac_name.clone())),
            st::ED25519 => {
                Some(Signer::ed25519_from_seed(&self.ed_seed, self.ed_name.clone()).unwrap())
            }
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// python-ndn URI text → NDN URI convention

/// Rewrites one python-ndn component text in the NDN URI convention that our `Display` uses.
///
/// The conventions differ only in the period rule: python-ndn prints the empty component as
/// nothing (`/a//b`) and period-only values literally (`/.`, `/..`, `/...`), while the NDN
/// convention (ndn-cxx, ours) writes three extra periods, so empty is `...`, `.` is `....` and
/// python-ndn's `...` (three periods) is our `......`. The same holds after a `<type>=` prefix
/// (`32=` vs our `32=...`). Digest, number-alias and escape forms agree (uppercase `%XX`,
/// lowercase digest hex), so they pass through unchanged.
fn py_component_to_ndn(text: &str) -> String {
    let periods = |v: &str| {
        if v.bytes().all(|b| b == b'.') {
            format!("...{v}")
        } else {
            v.to_owned()
        }
    };
    match text.split_once('=') {
        Some((t, v)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{t}={}", periods(v))
        }
        // seg=, v=, t=, seq=, off=, sha256digest=, params-sha256=
        Some(_) => text.to_owned(),
        None => periods(text),
    }
}

/// Splits a python-ndn name URI into component texts. python-ndn writes `/` + components joined
/// by `/`, and adds one more `/` when the last component is empty (`//` is one empty
/// component, `/a//` is `a` then an empty component).
fn py_components(uri: &str) -> Vec<&str> {
    let rest = uri.strip_prefix('/').expect("python-ndn URIs start with /");
    if rest.is_empty() {
        return Vec::new();
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.split('/').collect()
}

/// A python-ndn name URI in the NDN URI convention (see [`py_component_to_ndn`]).
fn py_to_ndn_uri(uri: &str) -> String {
    let comps = py_components(uri);
    if comps.is_empty() {
        return "/".to_owned();
    }
    comps
        .iter()
        .map(|c| format!("/{}", py_component_to_ndn(c)))
        .collect()
}

#[test]
fn python_uri_conversion_is_what_the_readme_describes() {
    assert_eq!(py_to_ndn_uri("/"), "/");
    assert_eq!(py_to_ndn_uri("//"), "/...");
    assert_eq!(py_to_ndn_uri("/a//"), "/a/...");
    assert_eq!(py_to_ndn_uri("//a"), "/.../a");
    assert_eq!(py_to_ndn_uri("/a//b"), "/a/.../b");
    assert_eq!(py_to_ndn_uri("/a/..."), "/a/......");
    assert_eq!(py_to_ndn_uri("/32="), "/32=...");
    assert_eq!(py_to_ndn_uri("/seg=1/a%2Fb"), "/seg=1/a%2Fb");
}

// ---------------------------------------------------------------------------------------------
// Generic helpers

/// The top-level elements of a packet: (type, byte range within the wire).
fn top_level(wire: &Bytes) -> Vec<(u32, std::ops::Range<usize>)> {
    let outer = Element::decode_exact(wire).unwrap();
    let base = outer.header_len();
    let mut r = outer.children();
    let mut out = Vec::new();
    loop {
        let start = base + r.position();
        let Some(el) = r.next_element().unwrap() else {
            break;
        };
        out.push((el.tlv_type(), start..base + r.position()));
    }
    out
}

fn child(el: &Element, tlv_type: u32) -> Option<Element> {
    el.children()
        .map(Result::unwrap)
        .find(|c| c.tlv_type() == tlv_type)
}

/// A copy of `wire` with the byte at `at` changed.
fn flip(wire: &Bytes, at: usize) -> Bytes {
    let mut v = wire.to_vec();
    v[at] ^= 0x01;
    Bytes::from(v)
}

fn key_locator_uri(info: &SignatureInfo) -> Option<String> {
    info.key_locator.as_ref().map(|k| match k {
        KeyLocator::Name(n) => n.to_string(),
        KeyLocator::KeyDigest(d) => panic!("unexpected KeyDigest {d:?}"),
    })
}

/// Checks the signature facts shared by Interests and Data.
fn check_signature_facts(f: &Facts, info: Option<&SignatureInfo>, value: Option<&Bytes>) {
    assert_eq!(
        info.map(|i| i.signature_type),
        f.num("sig_type"),
        "{}",
        f.file
    );
    assert_eq!(
        info.and_then(key_locator_uri),
        f.opt("key_locator").map(py_to_ndn_uri),
        "{}",
        f.file
    );
    assert_eq!(
        info.and_then(|i| i.nonce.as_ref()).map(|n| n.to_vec()),
        f.hex("sig_nonce"),
        "{}",
        f.file
    );
    assert_eq!(info.and_then(|i| i.time), f.num("sig_time"), "{}", f.file);
    assert_eq!(
        value.map(|v| v.len() as u64),
        f.num("sig_value_len"),
        "{}",
        f.file
    );
    // No fixture carries a SignatureSeqNum or a ValidityPeriod.
    if let Some(i) = info {
        assert_eq!(i.seq_num, None);
        assert!(i.validity_period.is_none() && i.unknown.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Interests

/// Checks every Interest fact, the re-encodings, the signature and our own signing.
fn check_interest(f: &Facts, wire: &Bytes, keys: &Keys) {
    let file = f.file.as_str();
    let i = Interest::decode(wire.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(i.wire(), wire);

    assert_eq!(wire.len() as u64, f.num("len").unwrap(), "{file}");
    assert_eq!(i.name().to_string(), py_to_ndn_uri(f.get("name")), "{file}");
    assert_eq!(
        i.name().len() as u64,
        f.num("name_components").unwrap(),
        "{file}"
    );
    assert_eq!(i.can_be_prefix(), f.flag("can_be_prefix"), "{file}");
    assert_eq!(i.must_be_fresh(), f.flag("must_be_fresh"), "{file}");
    let hint: Vec<String> = i.forwarding_hint().iter().map(Name::to_string).collect();
    let want_hint: Vec<String> = f
        .opt("fwd_hint")
        .map(|h| h.split(',').map(py_to_ndn_uri).collect())
        .unwrap_or_default();
    assert_eq!(hint, want_hint, "{file}");
    assert_eq!(i.nonce().map(|n| n.to_vec()), f.hex("nonce"), "{file}");
    assert_eq!(i.lifetime_ms(), f.num("lifetime"), "{file}");
    assert_eq!(
        i.effective_lifetime_ms(),
        f.num("lifetime").unwrap_or(4000),
        "{file}"
    );
    assert_eq!(i.hop_limit().map(u64::from), f.num("hop_limit"), "{file}");
    // `app_params=` (empty) means present and empty; `-` means absent.
    assert_eq!(
        i.app_parameters().map(|p| p.to_vec()),
        f.hex("app_params"),
        "{file}"
    );
    assert_eq!(
        i.app_parameters().map(|p| p.len() as u64),
        f.num("app_params_len"),
        "{file}"
    );
    check_params_digest(f, &i);
    check_signature_facts(f, i.signature_info(), i.signature_value());
    assert!(
        i.function_chain().is_none(),
        "{file}: python-ndn has no chains"
    );
    f.finish();

    check_interest_reencoding(&i);
    if i.is_signed() {
        check_interest_signature(f, &i, keys);
    } else {
        assert_eq!(
            i.verify(&VerifyKey::DigestSha256),
            Err(Error::Missing("InterestSignatureInfo"))
        );
    }
}

/// `params_digest_ok`: recomputed here from the raw bytes, independently of the decoder.
fn check_params_digest(f: &Facts, i: &Interest) {
    let digests: Vec<(usize, Component)> = i
        .name()
        .components()
        .enumerate()
        .filter(|(_, c)| u32::from(c.tlv_type()) == tt::PARAMETERS_SHA256_DIGEST_COMPONENT)
        .collect();
    match f.opt("params_digest_ok") {
        None => assert!(digests.is_empty(), "{}", f.file),
        Some("1") => {
            assert_eq!(digests.len(), 1, "{}", f.file);
            let start = top_level(i.wire())
                .into_iter()
                .find(|(t, _)| *t == tt::APPLICATION_PARAMETERS)
                .map(|(_, r)| r.start)
                .unwrap();
            let expected = sha256(&[&i.wire()[start..]]);
            assert_eq!(digests[0].1.value(), expected, "{}", f.file);
        }
        Some(v) => panic!("{}: params_digest_ok={v}", f.file),
    }
}

fn check_interest_reencoding(i: &Interest) {
    let wire = i.wire();
    // Splicing with no edit gives back the very bytes.
    assert_eq!(&i.edited(&InterestEdit::default()), wire);

    // Re-encoding from the fields gives the same bytes, including for
    // interest_params_digest_middle: python-ndn fills a params-sha256 placeholder where it stands
    // in the name, and so does our builder (it replaces the component in place rather than
    // appending one).
    let rebuilt = i.to_builder().encode();
    assert_eq!(
        hex::encode(&rebuilt),
        hex::encode(wire),
        "to_builder().encode() differs"
    );
    let digest_at = i
        .name()
        .components()
        .position(|c| u32::from(c.tlv_type()) == tt::PARAMETERS_SHA256_DIGEST_COMPONENT);
    if let Some(pos) = digest_at {
        // A builder whose name has the digest component stripped appends it at the end
        // instead; the digest covers only ApplicationParameters onwards, so its value does not
        // change, and everything after the Name is byte-identical.
        let mut b = i.to_builder();
        let mut comps: Vec<Component> = i.name().components().collect();
        let digest = comps.remove(pos);
        b.name = comps.iter().cloned().collect();
        let appended = Interest::decode(b.encode()).unwrap();
        comps.push(digest);
        assert_eq!(*appended.name(), comps.into_iter().collect::<Name>());
        assert_eq!(appended.wire().len(), wire.len());
        let name_end = |w: &Bytes| top_level(w)[0].1.end;
        assert_eq!(
            &appended.wire()[name_end(appended.wire())..],
            &wire[name_end(wire)..]
        );
        assert_eq!(appended.wire() == wire, pos + 1 == i.name().len());
    }
}

fn check_interest_signature(f: &Facts, i: &Interest, keys: &Keys) {
    let file = f.file.as_str();
    let info = i.signature_info().unwrap();
    let key = keys.verify_key(info.signature_type);
    i.verify(&key)
        .unwrap_or_else(|e| panic!("{file}: python-ndn signature does not verify: {e}"));
    if let Some(wrong) = keys.wrong_key(info.signature_type) {
        assert_eq!(
            i.verify(&wrong),
            Err(Error::BadSignature),
            "{file}: wrong key"
        );
    }
    // A key of another type is refused, not silently accepted.
    let other = if info.signature_type == st::DIGEST_SHA256 {
        VerifyKey::Hmac(keys.hmac.clone())
    } else {
        VerifyKey::DigestSha256
    };
    assert_eq!(
        i.verify(&other),
        Err(Error::UnsupportedSignatureType(info.signature_type))
    );

    // Tamper with the first name component (inside the signed portion, outside the parameters
    // digest): still decodes, no longer verifies.
    let name_value_start = top_level(i.wire())[0].1.start + 2 + 2;
    let tampered = Interest::decode(flip(i.wire(), name_value_start)).unwrap();
    assert_ne!(tampered.name(), i.name());
    assert_eq!(tampered.verify(&key), Err(Error::BadSignature), "{file}");
    // Tampering with the signature value breaks the parameters digest, which covers it.
    let last = i.wire().len() - 1;
    assert_eq!(
        Interest::decode(flip(i.wire(), last)).unwrap_err(),
        Error::ParametersDigestMismatch
    );
    // The Nonce is outside the signed portion: a forwarder may change it.
    let renonced = Interest::decode(i.edited(&InterestEdit {
        nonce: Some([0xAA; 4]),
        ..InterestEdit::default()
    }))
    .unwrap();
    assert_eq!(renonced.nonce(), Some([0xAA; 4]));
    renonced.verify(&key).unwrap();

    // Re-create the packet from scratch with our Signer: name without the digest, the plain
    // fields, and the SignatureInfo python-ndn's (wrapped) signer wrote.
    let name: Name = i
        .name()
        .components()
        .filter(|c| u32::from(c.tlv_type()) != tt::PARAMETERS_SHA256_DIGEST_COMPONENT)
        .collect();
    let mut b = InterestBuilder::new(name);
    b.nonce = i.nonce();
    b.lifetime_ms = i.lifetime_ms();
    b.app_parameters = i.app_parameters().cloned();
    let mut our_info = match keys.deterministic_signer(info.signature_type) {
        Some(s) => s.signature_info(),
        None => SignatureInfo::new(
            st::SHA256_WITH_ECDSA,
            Some(KeyLocator::Name(keys.ec_name.clone())),
        ),
    };
    if f.opt("sig_nonce").is_some() {
        our_info.nonce = Some(Bytes::from(keys.sig_nonce.clone()));
        our_info.time = Some(keys.sig_time);
    }
    assert_eq!(&our_info, info, "{file}: SignatureInfo differs");
    if let Some(signer) = keys.deterministic_signer(info.signature_type) {
        let ours = b.sign(&signer, our_info).unwrap();
        assert_eq!(
            hex::encode(ours.wire()),
            hex::encode(i.wire()),
            "{file}: our signed Interest differs from python-ndn's"
        );
    } else {
        // ECDSA: ring's signatures are randomised. Our signed portion must equal python-ndn's,
        // and our signature must verify with the fixture's public key.
        let signer = Signer::ecdsa_p256_from_pkcs8(&keys.ec_pkcs8, keys.ec_name.clone()).unwrap();
        let ours = b.sign(&signer, our_info).unwrap();
        assert_eq!(ours.signed_portion(), i.signed_portion());
        ours.verify(&key).unwrap();
        assert_ne!(ours.signature_value(), i.signature_value());
    }
}

// ---------------------------------------------------------------------------------------------
// Data

fn check_data(f: &Facts, wire: &Bytes, keys: &Keys) {
    let file = f.file.as_str();
    let d = Data::decode(wire.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(d.wire(), wire);
    let b = d.to_builder();

    assert_eq!(wire.len() as u64, f.num("len").unwrap(), "{file}");
    assert_eq!(d.name().to_string(), py_to_ndn_uri(f.get("name")), "{file}");
    assert_eq!(
        d.name().len() as u64,
        f.num("name_components").unwrap(),
        "{file}"
    );
    assert_eq!(b.has_meta_info, f.flag("meta_info"), "{file}");
    assert_eq!(d.meta_info().content_type, f.num("content_type"), "{file}");
    assert_eq!(
        d.content_type(),
        f.num("content_type").unwrap_or(0),
        "{file}"
    );
    assert_eq!(
        d.meta_info().freshness_period_ms,
        f.num("freshness"),
        "{file}"
    );
    assert_eq!(
        d.freshness_period_ms(),
        f.num("freshness").unwrap_or(0),
        "{file}"
    );
    assert_eq!(
        d.final_block_id().map(ToString::to_string),
        f.opt("final_block_id").map(py_component_to_ndn),
        "{file}"
    );
    // `content_len=-`: no Content element at all.
    match f.num("content_len") {
        None => {
            assert!(!b.has_content, "{file}");
            assert!(d.content().is_empty());
        }
        Some(n) => {
            assert!(b.has_content, "{file}");
            assert_eq!(d.content().len() as u64, n, "{file}");
        }
    }
    let info = d.signature_info().unwrap();
    check_signature_facts(f, info.as_ref(), d.signature_value());
    assert_eq!(
        hex::encode(d.implicit_digest()),
        f.get("implicit_digest"),
        "{file}"
    );
    assert!(d.meta_info().unknown.is_empty());
    assert!(d.function_chain().is_none());
    f.finish();

    // Full name: name + sha256digest=<implicit digest>.
    let full = d.full_name();
    assert_eq!(full.prefix(d.name().len()), *d.name());
    assert_eq!(
        full.last().unwrap().value(),
        sha256(&[wire.as_ref()]).as_slice()
    );

    assert_eq!(
        hex::encode(d.reencode()),
        hex::encode(wire),
        "{file}: reencode() differs"
    );

    match info {
        None => assert_eq!(
            d.verify(&VerifyKey::DigestSha256),
            Err(Error::Missing("SignatureInfo"))
        ),
        Some(info) if info.signature_type == st::NULL => {
            for key in [
                VerifyKey::DigestSha256,
                VerifyKey::Hmac(keys.hmac.clone()),
                VerifyKey::Ed25519(keys.ed_public.clone()),
            ] {
                assert_eq!(
                    d.verify(&key),
                    Err(Error::UnsupportedSignatureType(st::NULL))
                );
            }
        }
        Some(info) => check_data_signature(&d, &info, keys),
    }
}

fn check_data_signature(d: &Data, info: &SignatureInfo, keys: &Keys) {
    let name = d.name().to_string();
    let key = keys.verify_key(info.signature_type);
    d.verify(&key)
        .unwrap_or_else(|e| panic!("{name}: python-ndn signature does not verify: {e}"));
    if let Some(wrong) = keys.wrong_key(info.signature_type) {
        assert_eq!(
            d.verify(&wrong),
            Err(Error::BadSignature),
            "{name}: wrong key"
        );
    }
    // Tampered: the last byte of the Name, the last Content byte (if any), the last
    // signature byte.
    let ranges = top_level(d.wire());
    let mut spots = vec![ranges[0].1.end - 1, d.wire().len() - 1];
    if !d.content().is_empty() {
        let content = ranges.iter().find(|(t, _)| *t == tt::CONTENT).unwrap();
        spots.push(content.1.end - 1);
    }
    for at in spots {
        let t = Data::decode(flip(d.wire(), at)).unwrap();
        assert_eq!(t.verify(&key), Err(Error::BadSignature), "{name} @{at}");
    }

    // Sign the same fields with our Signer and compare bytes.
    match keys.deterministic_signer(info.signature_type) {
        Some(signer) => {
            assert_eq!(&signer.signature_info(), info, "{name}: SignatureInfo");
            let ours = d.to_builder().sign(&signer).unwrap();
            assert_eq!(
                hex::encode(&ours),
                hex::encode(d.wire()),
                "{name}: our signed Data differs from python-ndn's"
            );
        }
        None => {
            for signer in [
                Signer::ecdsa_p256_from_pkcs8(&keys.ec_pkcs8, keys.ec_name.clone()).unwrap(),
                Signer::ecdsa_p256_from_raw(&keys.ec_d, &keys.ec_public, keys.ec_name.clone())
                    .unwrap(),
            ] {
                assert_eq!(&signer.signature_info(), info, "{name}: SignatureInfo");
                let ours = d.to_builder().build(&signer).unwrap();
                assert_eq!(ours.signed_portion(), d.signed_portion());
                ours.verify(&key).unwrap();
                assert_eq!(signer.verify_key(), Some(key.clone()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// LpPacket

fn check_lp(f: &Facts, wire: &Bytes) {
    let file = f.file.as_str();
    assert_eq!(wire.len() as u64, f.num("len").unwrap(), "{file}");
    let p = LpPacket::decode(wire.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(
        p.pit_token.as_ref().map(|t| t.as_bytes().to_vec()),
        f.hex("pit_token"),
        "{file}"
    );
    assert_eq!(p.nack.map(NackReason::code), f.num("nack_reason"), "{file}");
    assert_eq!(p.incoming_face_id, f.num("incoming_face_id"), "{file}");
    assert_eq!(p.next_hop_face_id, f.num("next_hop_face_id"), "{file}");
    assert_eq!(
        p.cache_policy.map(CachePolicyType::code),
        f.num("cache_policy"),
        "{file}"
    );
    assert_eq!(p.congestion_mark, f.num("congestion_mark"), "{file}");
    let fragment = p.fragment.clone().unwrap();
    assert_eq!(
        fragment.len() as u64,
        f.num("fragment_len").unwrap(),
        "{file}"
    );
    let name = match f.get("fragment") {
        "interest" => Interest::decode(fragment.clone()).unwrap().name().clone(),
        "data" => Data::decode(fragment.clone()).unwrap().name().clone(),
        k => panic!("{file}: fragment={k}"),
    };
    assert_eq!(
        name.to_string(),
        py_to_ndn_uri(f.get("fragment_name")),
        "{file}"
    );
    f.finish();

    // Nothing else is set; no fragmentation.
    assert!(p.sequence.is_none() && p.frag_index.is_none() && p.frag_count.is_none());
    assert!(p.acks.is_empty() && p.tx_sequence.is_none() && !p.non_discovery);
    assert!(p.prefix_announcement.is_none());
    assert!(!p.is_idle() && !p.is_fragmented() && p.has_headers());

    // Byte-for-byte re-encoding (these fixtures' header fields ascend, as ours do).
    assert_eq!(
        hex::encode(p.encode()),
        hex::encode(wire),
        "{file}: encode()"
    );
    assert_eq!(p.encoded_len(), wire.len());
    assert_eq!(&p.encode_or_bare(), wire);
    // Cross-check with the generic element walk: same values, Fragment last.
    let lp = Element::decode_exact(wire).unwrap();
    assert_eq!(lp.tlv_type(), 100);
    assert_eq!(
        child(&lp, 98).map(|e| e.value().to_vec()),
        p.pit_token.as_ref().map(|t| t.as_bytes().to_vec())
    );
    assert_eq!(
        child(&lp, 800).map(|n| child(&n, 801).unwrap().as_nni().unwrap()),
        p.nack.map(NackReason::code)
    );
    let types: Vec<u32> = lp.children().map(|c| c.unwrap().tlv_type()).collect();
    assert_eq!(types.last(), Some(&80));
    assert_eq!(child(&lp, 80).unwrap().value(), fragment.as_ref());
    // Without its headers the packet goes out bare: exactly the inner packet.
    assert_eq!(
        LpPacket::from_fragment(fragment.clone()).encode_or_bare(),
        fragment
    );
    // A Nack is built from the reason and the Interest.
    if let Some(reason) = p.nack {
        let mut built = LpPacket::nack(reason, fragment);
        built.pit_token.clone_from(&p.pit_token);
        assert_eq!(&built.encode(), wire, "{file}: LpPacket::nack");
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_manifest_packet_matches_python_ndn() {
    let keys = load_keys();
    let entries = manifest();
    let mut seen = BTreeMap::<String, usize>::new();
    for f in &entries {
        let wire = read_packet(&f.file);
        let kind = f.get("kind").to_owned();
        assert!(f.file.starts_with(&format!("{kind}_")), "{}", f.file);
        match kind.as_str() {
            "interest" => check_interest(f, &wire, &keys),
            "data" => check_data(f, &wire, &keys),
            "lp" => check_lp(f, &wire),
            k => panic!("{}: unknown kind {k}", f.file),
        }
        *seen.entry(kind).or_default() += 1;
    }
    // Every .hex file is in the manifest, and nothing was skipped.
    let files: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".hex"))
        .collect();
    let listed: BTreeSet<String> = entries.iter().map(|f| f.file.clone()).collect();
    assert_eq!(files, listed);
    assert_eq!(seen["interest"], 14);
    assert_eq!(seen["data"], 16);
    assert_eq!(seen["lp"], 6);
}

#[test]
fn verify_keys_from_spki_equal_the_raw_keys() {
    let k = load_keys();
    assert_eq!(
        VerifyKey::from_spki(&k.ed_spki).unwrap(),
        VerifyKey::Ed25519(k.ed_public.clone())
    );
    assert_eq!(
        VerifyKey::from_spki(&k.ec_spki).unwrap(),
        VerifyKey::EcdsaP256(k.ec_public.clone())
    );
    assert!(VerifyKey::from_spki(&k.ec_spki[1..]).is_err());
    // Seed and PKCS#8 give the same Ed25519 key, whose public half is the fixture's.
    let from_seed = Signer::ed25519_from_seed(&k.ed_seed, k.ed_name.clone()).unwrap();
    let from_pkcs8 = Signer::ed25519_from_pkcs8(&k.ed_pkcs8, k.ed_name.clone()).unwrap();
    assert_eq!(
        from_seed.verify_key(),
        Some(VerifyKey::Ed25519(k.ed_public.clone()))
    );
    assert_eq!(from_seed.verify_key(), from_pkcs8.verify_key());
    assert_eq!(
        from_seed.sign(&[b"x"]).unwrap(),
        from_pkcs8.sign(&[b"x"]).unwrap()
    );
    // The spki keys verify the fixtures too.
    let d = Data::decode(read_packet("data_ed25519.hex")).unwrap();
    d.verify(&VerifyKey::from_spki(&k.ed_spki).unwrap())
        .unwrap();
    for file in ["data_ecdsa.hex", "data_ecdsa_rfc6979.hex"] {
        let d = Data::decode(read_packet(file)).unwrap();
        d.verify(&VerifyKey::from_spki(&k.ec_spki).unwrap())
            .unwrap();
    }
    let i = Interest::decode(read_packet("interest_signed_ecdsa_rfc6979.hex")).unwrap();
    i.verify(&VerifyKey::from_spki(&k.ec_spki).unwrap())
        .unwrap();
    let i = Interest::decode(read_packet("interest_signed_ed25519.hex")).unwrap();
    i.verify(&VerifyKey::from_spki(&k.ed_spki).unwrap())
        .unwrap();
}

#[test]
fn implicit_digest_interest_selects_exactly_its_data() {
    let i = Interest::decode(read_packet("interest_implicit_digest.hex")).unwrap();
    let target = Data::decode(read_packet("data_content_100.hex")).unwrap();
    assert!(i.matches(&target));
    assert_eq!(*i.name(), target.full_name());
    // Same name prefix, different packet.
    let d = Data::decode(read_packet("data_content_0.hex")).unwrap();
    assert!(!i.matches(&d));
    let tampered = Data::decode(flip(target.wire(), target.wire().len() - 1)).unwrap();
    assert_eq!(tampered.name(), target.name());
    assert!(!i.matches(&tampered));
}

#[test]
fn plain_interests_match_their_data_by_name() {
    // interest_minimal asks for /a/b exactly; a Data named /a/b/c matches only with
    // CanBePrefix.
    let i = Interest::decode(read_packet("interest_minimal.hex")).unwrap();
    let signer = Signer::digest_sha256();
    let exact = nfwd_tlv::DataBuilder::new("/a/b".parse().unwrap(), Bytes::new())
        .build(&signer)
        .unwrap();
    let longer = nfwd_tlv::DataBuilder::new("/a/b/c".parse().unwrap(), Bytes::new())
        .build(&signer)
        .unwrap();
    assert!(i.matches(&exact));
    assert!(!i.matches(&longer));
    let cbp = i.to_builder().can_be_prefix(true).build().unwrap();
    assert!(cbp.matches(&longer) && cbp.matches(&exact));
}

#[test]
fn fixture_interests_survive_forwarder_edits() {
    // Adding a Nonce to a nonce-less Interest puts it in v0.3 order; python-ndn's own encoding
    // of the same Interest with that Nonce is interest_basic.
    let default = Interest::decode(read_packet("interest_default.hex")).unwrap();
    let basic = read_packet("interest_basic.hex");
    let edited = default.edited(&InterestEdit {
        nonce: Some([1, 2, 3, 4]),
        ..InterestEdit::default()
    });
    assert_eq!(edited, basic);
    // HopLimit 0 can be rewritten; an absent HopLimit stays absent.
    let hl = Interest::decode(read_packet("interest_lifetime_4byte.hex")).unwrap();
    let out = Interest::decode(hl.edited(&InterestEdit {
        hop_limit: Some(9),
        ..InterestEdit::default()
    }))
    .unwrap();
    assert_eq!(out.hop_limit(), Some(9));
    assert_eq!(out.wire().len(), hl.wire().len());
    let out = default.edited(&InterestEdit {
        hop_limit: Some(9),
        ..InterestEdit::default()
    });
    assert_eq!(&out, default.wire());
    // Parameters digest in mid-name: edits splice, so the placeholder position is preserved.
    let mid = Interest::decode(read_packet("interest_params_digest_middle.hex")).unwrap();
    let out = Interest::decode(mid.edited(&InterestEdit {
        nonce: Some([9; 4]),
        ..InterestEdit::default()
    }))
    .unwrap();
    assert_eq!(out.name(), mid.name());
    assert_eq!(out.nonce(), Some([9; 4]));
}

#[test]
fn reader_walks_fixture_top_levels_in_v03_order() {
    // A structural cross-check of the recorded bytes with the generic Reader.
    let full = read_packet("interest_full.hex");
    let types: Vec<u32> = top_level(&full).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        types,
        [
            tt::NAME,
            tt::CAN_BE_PREFIX,
            tt::MUST_BE_FRESH,
            tt::FORWARDING_HINT,
            tt::NONCE,
            tt::INTEREST_LIFETIME,
            tt::HOP_LIMIT,
            tt::APPLICATION_PARAMETERS,
        ]
    );
    let mut r = Reader::new(Element::decode_exact(&full).unwrap().value_bytes());
    assert_eq!(r.peek_type().unwrap(), Some(tt::NAME));
    let name = r.expect(tt::NAME, "Name").unwrap();
    assert_eq!(Name::from_element(&name).unwrap().len(), 4);
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Names against python-ndn 0.5.2 (`tests/fixtures/names.txt`) and the hand-computed examples
//! of the NDN Packet Format v0.3 TLV rules (`tests/fixtures/spec_examples.txt`).

use std::path::Path;

use bytes::Bytes;
use nfwd_tlv::element::{decode_nni, nni_len, put_nni, put_varnum, read_varnum, varnum_len};
use nfwd_tlv::lp::{CachePolicyType, LpPacket, NackReason, PitToken};
use nfwd_tlv::signature::sha256;
use nfwd_tlv::types::{content_type, signature_type as st, tt};
use nfwd_tlv::{
    Component, DataBuilder, Element, Interest, InterestBuilder, KeyLocator, Name, SignatureInfo,
    Signer,
};

fn read_text(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A python-ndn name URI in the NDN URI convention.
///
/// python-ndn prints the empty component as nothing (`/a//b`, `//`, and a trailing empty
/// component as an extra `/`: `/a//`) and period-only values literally (`/.`, `/a/...`); the NDN
/// convention (ndn-cxx, our `Display`) adds three periods, so empty is `...` and python-ndn's
/// `...` is `......`. The same applies after a `<type>=` prefix (`32=` is our `32=...`).
/// Everything else (uppercase `%XX`, lowercase digest hex, `seg=`/`v=`/… aliases,
/// `<type>=<value>`) is written the same way by both.
fn py_to_ndn_uri(uri: &str) -> String {
    let rest = uri.strip_prefix('/').unwrap();
    if rest.is_empty() {
        return "/".to_owned();
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let periods = |v: &str| {
        if v.bytes().all(|b| b == b'.') {
            format!("...{v}")
        } else {
            v.to_owned()
        }
    };
    rest.split('/')
        .map(|c| match c.split_once('=') {
            Some((t, v)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                format!("/{t}={}", periods(v))
            }
            Some(_) => format!("/{c}"),
            None => format!("/{}", periods(c)),
        })
        .collect()
}

struct NameLine {
    py_uri: String,
    wire: Bytes,
    /// What python-ndn's `Name.from_str(py_uri)` gives instead, when it is not `wire`.
    py_from_str: Option<Bytes>,
}

fn name_lines() -> Vec<NameLine> {
    let mut out = Vec::new();
    let mut pending = None;
    for line in read_text("names.txt").lines() {
        if let Some(h) = line.strip_prefix("# from_str: ") {
            pending = Some(Bytes::from(hex::decode(h.trim()).unwrap()));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (uri, h) = line.split_once('\t').unwrap();
        out.push(NameLine {
            py_uri: uri.to_owned(),
            wire: Bytes::from(hex::decode(h.trim()).unwrap()),
            py_from_str: pending.take(),
        });
    }
    out
}

#[test]
fn python_ndn_names_decode_print_and_round_trip() {
    let lines = name_lines();
    assert_eq!(lines.len(), 39, "README promises 39 names");
    let mut non_minimal = 0;
    for l in &lines {
        let name = Name::from_wire(&l.wire).unwrap_or_else(|e| panic!("{}: {e}", l.py_uri));
        let ours = name.to_string();
        match &l.py_from_str {
            None => {
                // The conventions agree up to the period rule.
                assert_eq!(ours, py_to_ndn_uri(&l.py_uri), "{}", l.py_uri);
                assert_eq!(name.to_wire(), l.wire, "{}", l.py_uri);
            }
            Some(py_back) => {
                // A segment component whose value is not a minimal NonNegativeInteger
                // (`32020001`, or empty `3200`). python-ndn prints `seg=1`/`seg=0`, which reads
                // back as a different name; we print the raw value under the type number so the
                // text reads back as the same name.
                non_minimal += 1;
                let expected = match l.wire.as_ref() {
                    [0x07, 0x04, 0x32, 0x02, 0x00, 0x01] => "/50=%00%01",
                    [0x07, 0x02, 0x32, 0x00] => "/50=...",
                    w => panic!("unexpected non-round-tripping entry {w:02x?}"),
                };
                assert_eq!(ours, expected);
                // python-ndn's text, read by us, gives what python-ndn's from_str gives.
                let theirs: Name = l.py_uri.parse().unwrap();
                assert_eq!(theirs.to_wire(), *py_back, "{}", l.py_uri);
                assert_ne!(theirs, name);
                // Decoding keeps the value as it was on the wire.
                assert_eq!(name.to_wire(), l.wire);
                // As a number, `0001` is a valid (2-byte) NonNegativeInteger; the empty value
                // is not a number at all.
                let seg = name.get(0).unwrap().as_segment();
                assert_eq!(seg, if expected == "/50=..." { None } else { Some(1) });
            }
        }
        // Our text reads back as the same bytes.
        let back: Name = ours.parse().unwrap_or_else(|e| panic!("{ours}: {e}"));
        assert_eq!(back.to_wire(), l.wire, "{ours}");
        assert_eq!(back, name);
        assert_eq!(back.cmp(&name), std::cmp::Ordering::Equal);
        // Component-wise consistency.
        let comps: Name = name.components().collect();
        assert_eq!(comps, name);
        assert_eq!(
            name.components().map(|c| c.wire().len()).sum::<usize>(),
            name.value_bytes().len()
        );
    }
    assert_eq!(non_minimal, 2);
}

#[test]
fn python_ndn_names_where_conventions_differ() {
    // Documented differences, asserted one by one (python-ndn text → ours).
    let cases = [
        ("07020800", "//", "/..."),
        ("07080801610800080162", "/a//b", "/a/.../b"),
        ("07050801610800", "/a//", "/a/..."),
        ("07050800080161", "//a", "/.../a"),
        ("070308012e", "/.", "/...."),
        ("070408022e2e", "/..", "/....."),
        ("070808016108032e2e2e", "/a/...", "/a/......"),
        ("070608042e2e2e2e", "/....", "/......."),
        ("07022000", "/32=", "/32=..."),
    ];
    let lines = name_lines();
    for (h, py, ours) in cases {
        let wire = Bytes::from(hex::decode(h).unwrap());
        let l = lines.iter().find(|l| l.wire == wire).unwrap();
        assert_eq!(l.py_uri, py);
        assert_eq!(Name::from_wire(&wire).unwrap().to_string(), ours);
    }
    // python-ndn's texts are not NDN URIs for these: we reject an empty component and the one-
    // and two-period components, and read "..." as the empty component. A leading "//" starts
    // an authority, which is skipped (as ndn-cxx does), so python-ndn's "//" and "//a" read
    // as the empty name.
    for bad in ["/a//b", "/a//", "/.", "/.."] {
        assert!(bad.parse::<Name>().is_err(), "{bad}");
    }
    for authority in ["//", "//a"] {
        assert_eq!(
            authority.parse::<Name>().unwrap(),
            Name::new(),
            "{authority}"
        );
    }
    assert_eq!(
        "/a/...".parse::<Name>().unwrap().to_wire().as_ref(),
        [0x07, 0x05, 0x08, 0x01, b'a', 0x08, 0x00]
    );
}

// ---------------------------------------------------------------------------------------------
// spec_examples.txt

fn element_in(wire: &Bytes, path: &[u32]) -> Bytes {
    let mut el = Element::decode_exact(wire).unwrap();
    for &t in path {
        el = el
            .children()
            .map(Result::unwrap)
            .find(|c| c.tlv_type() == t)
            .unwrap_or_else(|| panic!("no element {t} in {path:?}"));
    }
    el.wire().clone()
}

fn ucla() -> Name {
    "/ndn/ucla".parse().unwrap()
}

/// The header field of type `t` in `p`'s encoding.
fn lp_field(p: &LpPacket, t: u32) -> Bytes {
    element_in(&p.encode(), &[t])
}

/// Our encoding of the thing a spec example describes, or `None` where our encoding
/// legitimately differs (checked separately in `spec_example_lp_nack_without_reason`).
fn encode_example(desc: &str) -> Option<Bytes> {
    if let Some(n) = desc.strip_prefix("varnum ") {
        let n: u64 = n.parse().unwrap();
        let mut b = Vec::new();
        put_varnum(&mut b, n);
        assert_eq!(b.len(), varnum_len(n));
        assert_eq!(read_varnum(&b).unwrap(), (n, b.len()));
        return Some(Bytes::from(b));
    }
    if let Some(n) = desc.strip_prefix("nonneg ") {
        let n: u64 = n.parse().unwrap();
        let mut b = Vec::new();
        put_nni(&mut b, n);
        assert_eq!(b.len(), nni_len(n));
        assert_eq!(decode_nni(&b, 0).unwrap(), n);
        return Some(Bytes::from(b));
    }
    let interest = |b: InterestBuilder| b.encode();
    let field = |b: InterestBuilder, t: u32| element_in(&b.encode(), &[t]);
    let base = || InterestBuilder::new(ucla());
    let data = |b: DataBuilder| b.encode_with(None);
    Some(match desc {
        "Name / (no components)" => Name::new().to_wire(),
        "Name /ndn/ucla" => ucla().to_wire(),
        "GenericNameComponent empty" => Component::generic(b"").wire().clone(),
        "GenericNameComponent \"ndn\"" => Component::generic(b"ndn").wire().clone(),
        "SegmentNameComponent seg=0" => {
            assert_eq!("seg=0".parse::<Component>().unwrap(), Component::segment(0));
            Component::segment(0).wire().clone()
        }
        "SegmentNameComponent seg=256" => Component::segment(256).wire().clone(),
        "VersionNameComponent v=1" => Component::version(1).wire().clone(),
        "ImplicitSha256DigestComponent of the empty input" => {
            Component::implicit_digest(&sha256(&[])).wire().clone()
        }
        "KeywordNameComponent \"metadata\"" => {
            Component::new(tt::KEYWORD_NAME_COMPONENT, b"metadata")
                .unwrap()
                .wire()
                .clone()
        }
        "Interest with only Name /ndn/ucla" => interest(base()),
        "CanBePrefix" => field(base().can_be_prefix(true), tt::CAN_BE_PREFIX),
        "MustBeFresh" => field(base().must_be_fresh(true), tt::MUST_BE_FRESH),
        "Nonce 0x01020304" => field(base().nonce([1, 2, 3, 4]), tt::NONCE),
        "InterestLifetime 4000 ms" => field(base().lifetime_ms(4000), tt::INTEREST_LIFETIME),
        "HopLimit 64" => field(base().hop_limit(64), tt::HOP_LIMIT),
        "ApplicationParameters empty" => field(
            base().app_parameters(Bytes::new()),
            tt::APPLICATION_PARAMETERS,
        ),
        "ForwardingHint holding Name /ndn/ucla" => {
            field(base().forwarding_hint(vec![ucla()]), tt::FORWARDING_HINT)
        }
        "Interest /ndn/ucla CanBePrefix MustBeFresh Nonce 0x01020304 InterestLifetime 4000" => {
            interest(
                base()
                    .can_be_prefix(true)
                    .must_be_fresh(true)
                    .nonce([1, 2, 3, 4])
                    .lifetime_ms(4000),
            )
        }
        "MetaInfo ContentType Blob" => element_in(
            &data(DataBuilder::new(ucla(), Bytes::new()).content_type(content_type::BLOB)),
            &[tt::META_INFO],
        ),
        "FreshnessPeriod 10000 ms" => element_in(
            &data(DataBuilder::new(ucla(), Bytes::new()).freshness_ms(10_000)),
            &[tt::META_INFO, tt::FRESHNESS_PERIOD],
        ),
        "FinalBlockId seg=9" => element_in(
            &data(DataBuilder::new(ucla(), Bytes::new()).final_block_id(Component::segment(9))),
            &[tt::META_INFO, tt::FINAL_BLOCK_ID],
        ),
        "Content empty" => element_in(
            &data(DataBuilder::new(ucla(), Bytes::new())),
            &[tt::CONTENT],
        ),
        "SignatureInfo SignatureType DigestSha256" => element_in(
            &DataBuilder::new(ucla(), Bytes::new())
                .sign(&Signer::digest_sha256())
                .unwrap(),
            &[tt::SIGNATURE_INFO],
        ),
        "SignatureInfo SignatureType Ed25519" => {
            SignatureInfo::new(st::ED25519, None).to_wire(tt::SIGNATURE_INFO)
        }
        "InterestSignatureInfo SignatureType DigestSha256" => Signer::digest_sha256()
            .signature_info()
            .to_wire(tt::INTEREST_SIGNATURE_INFO),
        "KeyLocator Name /ndn/ucla" => element_in(
            &SignatureInfo::new(st::ED25519, Some(KeyLocator::Name(ucla())))
                .to_wire(tt::SIGNATURE_INFO),
            &[tt::KEY_LOCATOR],
        ),
        "LP Nack NackReason NoRoute (150)" => {
            lp_field(&LpPacket::nack(NackReason::NoRoute, interest(base())), 800)
        }
        "LP Nack without NackReason" => return None,
        "LP PitToken 01020304" => lp_field(
            &LpPacket::from_fragment(interest(base()))
                .with_pit_token(PitToken::from_slice(&[1, 2, 3, 4]).unwrap()),
            98,
        ),
        "LP IncomingFaceId 300" => lp_field(
            &LpPacket {
                incoming_face_id: Some(300),
                ..LpPacket::from_fragment(interest(base()))
            },
            812,
        ),
        "LP CachePolicy NoCache" => lp_field(
            &LpPacket {
                cache_policy: Some(CachePolicyType::NoCache),
                ..LpPacket::from_fragment(interest(base()))
            },
            820,
        ),
        "LP Sequence 1 (fixed 8 bytes)" => lp_field(
            &LpPacket {
                sequence: Some(1),
                ..LpPacket::from_fragment(interest(base()))
            },
            81,
        ),
        "LpPacket carrying only Fragment = Interest /ndn/ucla" => {
            let p = LpPacket::from_fragment(interest(base()));
            // Sent bare on a link, but as an LpPacket it is exactly this.
            assert_eq!(p.encode_or_bare(), interest(base()));
            p.encode()
        }
        d => panic!("spec example not handled: {d:?}"),
    })
}

#[test]
fn spec_examples_encode_to_the_same_bytes() {
    let mut checked = 0;
    let mut skipped = 0;
    for line in read_text("spec_examples.txt").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (desc, h) = line.split_once('\t').unwrap();
        let want = hex::decode(h.trim()).unwrap();
        match encode_example(desc) {
            Some(ours) => {
                assert_eq!(hex::encode(&ours), hex::encode(&want), "{desc}");
                checked += 1;
            }
            None => skipped += 1,
        }
    }
    assert_eq!(checked, 51);
    assert_eq!(skipped, 1);
}

/// The spec example writes a Nack without a reason as an empty Nack element (`fd032000`). Our
/// encoder always writes a NackReason, 0 for None (`fd032005fd03210100`); both decode to
/// `NackReason::None`.
#[test]
fn spec_example_lp_nack_without_reason() {
    let interest = InterestBuilder::new(ucla()).encode();
    let ours = lp_field(&LpPacket::nack(NackReason::None, interest.clone()), 800);
    assert_eq!(hex::encode(&ours), "fd032005fd03210100");
    for nack in ["fd032000", "fd032005fd03210100"] {
        let mut wire = hex::decode(nack).unwrap();
        wire.extend_from_slice(&[0x50, interest.len() as u8]);
        wire.extend_from_slice(&interest);
        let mut lp = vec![0x64, wire.len() as u8];
        lp.extend_from_slice(&wire);
        let p = LpPacket::decode(Bytes::from(lp)).unwrap();
        assert_eq!(p.nack, Some(NackReason::None), "{nack}");
        assert_eq!(p.fragment.as_ref(), Some(&interest));
    }
}

#[test]
fn spec_example_packets_decode_back() {
    let i = Interest::decode(Bytes::from(
        hex::decode("051b070b08036e646e080475636c61210012000a04010203040c020fa0").unwrap(),
    ))
    .unwrap();
    assert_eq!(i.name(), &ucla());
    assert!(i.can_be_prefix() && i.must_be_fresh());
    assert_eq!(i.nonce(), Some([1, 2, 3, 4]));
    assert_eq!(i.lifetime_ms(), Some(4000));
    assert_eq!(i.hop_limit(), None);
    // Longer-than-minimal VAR-NUMBERs are accepted on decode and normalised in names.
    let long = Bytes::from_static(&[
        0x07, 0xFD, 0x00, 0x0B, 0x08, 0xFD, 0x00, 0x03, b'n', b'd', b'n', 0x08, 0x02, b'u', b'c',
    ]);
    let n = Name::from_wire(&long).unwrap();
    assert_eq!(n.to_string(), "/ndn/uc");
    assert_eq!(hex::encode(n.to_wire()), "070908036e646e08027563");
}

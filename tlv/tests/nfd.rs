#![allow(clippy::unwrap_used, clippy::expect_used)]
//! NFD management encoding through the public API, checked against python-ndn fixtures
//! (`fixtures/nfd/generate.py`).

use bytes::Bytes;
use nfwd_tlv::element::Element;
use nfwd_tlv::nfd::{
    ChannelStatus, CommandFormat, ControlCommand, ControlParameters, ControlResponse, CsInfo,
    DatasetEntry, FaceQueryFilter, FaceStatus, FibEntry, ForwarderStatus, NextHopRecord, RibEntry,
    Route, StrategyChoice, Text, decode_all, encode_all, face_flags, face_persistency, face_scope,
    link_type, make_command_v02, make_command_v03, route_flags, route_origin, segment_dataset,
    status_code,
};
use nfwd_tlv::types::signature_type;
use nfwd_tlv::{Component, Data, Error, Interest, InterestBuilder, Name, Signer, VerifyKey};
use proptest::prelude::*;

fn fixture(name: &str) -> Bytes {
    let path = format!(
        "{}/tests/fixtures/nfd/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect(&path);
    Bytes::from(hex::decode(text.trim()).unwrap())
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// Values pinned in generate.py.
const TIMESTAMP: u64 = 1_700_000_000_123;
const NONCE64: u64 = 0x0123_4567_89ab_cdef;

// ---------------------------------------------------------------- ControlParameters

#[test]
fn rib_register_parameters_match_python_ndn() {
    let wire = fixture("cp_rib_register");
    let cp = ControlParameters::from_wire(&wire).unwrap();
    assert_eq!(cp, ControlParameters::with_name(name("/example/app")));
    assert_eq!(cp.to_wire(), wire);
    assert_eq!(cp.encoded_len(), wire.len());
}

#[test]
fn faces_create_and_strategy_set_parameters_match_python_ndn() {
    let wire = fixture("cp_faces_create");
    let cp = ControlParameters::from_wire(&wire).unwrap();
    assert_eq!(cp.uri.as_ref().unwrap(), "udp4://192.0.2.1:6363");
    assert_eq!(cp.face_persistency, Some(face_persistency::PERMANENT));
    assert_eq!(cp.flags, Some(face_flags::LOCAL_FIELDS_ENABLED));
    assert!(cp.flag_bit(0) && cp.mask_bit(0) && !cp.flag_bit(1) && !cp.flag_bit(64));
    assert_eq!(cp.to_wire(), wire);

    let wire = fixture("cp_strategy_set");
    let cp = ControlParameters::from_wire(&wire).unwrap();
    assert_eq!(cp.name, Some(name("/example")));
    assert_eq!(
        cp.strategy,
        Some(name("/localhost/nfd/strategy/best-route/v=5"))
    );
    assert_eq!(cp.to_wire(), wire);
}

#[test]
fn all_parameters_decode_in_python_order_and_encode_in_nfd_order() {
    let wire = fixture("cp_all_fields");
    let cp = ControlParameters::from_wire(&wire).unwrap();
    let expected = ControlParameters {
        name: Some(name("/a/b")),
        face_id: Some(300),
        uri: Some("tcp4://192.0.2.2:6363".into()),
        local_uri: Some("tcp4://192.0.2.3:50000".into()),
        origin: Some(route_origin::STATIC),
        cost: Some(70000),
        capacity: Some(65536),
        count: Some(3),
        flags: Some(route_flags::CHILD_INHERIT | route_flags::CAPTURE),
        mask: Some(2),
        strategy: Some(name("/s")),
        expiration_period_ms: Some(3_600_000),
        face_persistency: Some(face_persistency::ON_DEMAND),
        base_congestion_marking_interval_ns: Some(100_000_000),
        default_congestion_threshold: Some(65536),
        mtu: Some(8800),
    };
    assert_eq!(cp, expected);
    // Same elements, NFD's order: Flags/Mask/Strategy/ExpirationPeriod/FacePersistency before
    // the congestion fields and Mtu.
    let ours = cp.to_wire();
    assert_eq!(ours.len(), wire.len());
    assert_ne!(ours, wire);
    let types: Vec<u32> = Element::decode_exact(&ours)
        .unwrap()
        .children()
        .map(|e| e.unwrap().tlv_type())
        .collect();
    assert_eq!(
        types,
        [
            7, 105, 114, 129, 111, 106, 131, 132, 108, 112, 107, 109, 133, 135, 136, 137
        ]
    );
    assert_eq!(ControlParameters::from_wire(&ours).unwrap(), expected);
}

#[test]
fn parameters_unknown_elements_and_duplicates() {
    // Name /a, then unknown non-critical 200 (skipped), then unknown critical 201 (rejected).
    let ok = Bytes::from_static(&[0x68, 0x08, 0x07, 0x03, 0x08, 0x01, b'a', 0xC8, 0x01, 0x00]);
    let cp = ControlParameters::from_wire(&ok).unwrap();
    assert_eq!(cp, ControlParameters::with_name(name("/a")));
    let bad = Bytes::from_static(&[0x68, 0x08, 0x07, 0x03, 0x08, 0x01, b'a', 0xC9, 0x01, 0x00]);
    assert_eq!(
        ControlParameters::from_wire(&bad),
        Err(Error::UnknownCritical(201))
    );
    let dup = Bytes::from_static(&[0x68, 0x06, 0x69, 0x01, 0x01, 0x69, 0x01, 0x02]);
    assert_eq!(
        ControlParameters::from_wire(&dup),
        Err(Error::OutOfOrder(105))
    );
    let not_utf8 = Bytes::from_static(&[0x68, 0x03, 0x72, 0x01, 0xFF]);
    assert!(ControlParameters::from_wire(&not_utf8).is_err());
    let empty_strategy = Bytes::from_static(&[0x68, 0x02, 0x6B, 0x00]);
    assert_eq!(
        ControlParameters::from_wire(&empty_strategy),
        Err(Error::Missing("Strategy/Name"))
    );
    let wrong_outer = Bytes::from_static(&[0x65, 0x00]);
    assert!(matches!(
        ControlParameters::from_wire(&wrong_outer),
        Err(Error::UnexpectedType { .. })
    ));
    assert_eq!(
        ControlParameters::from_wire(&Bytes::from_static(&[0x68, 0x00])).unwrap(),
        ControlParameters::default()
    );
}

// ---------------------------------------------------------------- ControlResponse

#[test]
fn control_responses_match_python_ndn() {
    let wire = fixture("cr_200");
    let cr = ControlResponse::from_wire(&wire).unwrap();
    assert!(cr.is_ok());
    assert_eq!(cr.status_text, "OK");
    let body = ControlParameters {
        name: Some(name("/example/app")),
        face_id: Some(260),
        origin: Some(route_origin::APP),
        cost: Some(0),
        flags: Some(route_flags::CHILD_INHERIT),
        ..ControlParameters::default()
    };
    assert_eq!(cr, ControlResponse::ok(body));
    assert_eq!(cr.to_wire(), wire);
    assert_eq!(cr.encoded_len(), wire.len());

    let wire = fixture("cr_404");
    let cr = ControlResponse::from_wire(&wire).unwrap();
    assert_eq!(
        cr,
        ControlResponse::new(status_code::NOT_FOUND, "Face not found")
    );
    assert_eq!(cr.to_wire(), wire);
}

#[test]
fn control_response_structure_errors() {
    // StatusText missing.
    let wire = Bytes::from_static(&[0x65, 0x03, 0x66, 0x01, 0xC8]);
    assert_eq!(
        ControlResponse::from_wire(&wire),
        Err(Error::Missing("StatusText"))
    );
    // StatusText before StatusCode.
    let wire = Bytes::from_static(&[0x65, 0x05, 0x67, 0x00, 0x66, 0x01, 0xC8]);
    assert!(ControlResponse::from_wire(&wire).is_err());
    // Two bodies.
    let wire = Bytes::from_static(&[
        0x65, 0x09, 0x66, 0x01, 0xC8, 0x67, 0x00, 0x68, 0x00, 0x68, 0x00,
    ]);
    assert_eq!(
        ControlResponse::from_wire(&wire),
        Err(Error::OutOfOrder(104))
    );
}

#[test]
fn response_data_is_named_like_the_command() {
    let cmd = Interest::decode(fixture("cmd_v03_register")).unwrap();
    let resp = ControlResponse::ok(ControlParameters::with_name(name("/example/app")));
    let data = Data::decode(resp.to_data(cmd.name(), &Signer::digest_sha256()).unwrap()).unwrap();
    assert_eq!(data.name(), cmd.name());
    assert_eq!(data.freshness_period_ms(), 1000);
    assert!(cmd.matches(&data));
    // python-ndn checks that Content starts with 0x65.
    assert_eq!(data.content().first(), Some(&0x65));
    assert_eq!(ControlResponse::from_wire(data.content()).unwrap(), resp);
}

// ---------------------------------------------------------------- command Interests

#[test]
fn v02_command_from_python_ndn_app_parses_and_verifies() {
    let wire = fixture("cmd_v02_register");
    let interest = Interest::decode(wire.clone()).unwrap();
    let cmd = ControlCommand::parse(&interest).unwrap();
    assert_eq!(cmd.format(), CommandFormat::V02);
    assert!(!cmd.is_localhop());
    assert_eq!((cmd.module(), cmd.verb()), ("rib", "register"));
    assert_eq!(
        cmd.parameters(),
        &ControlParameters::with_name(name("/example/app"))
    );
    assert_eq!(cmd.timestamp_ms(), Some(TIMESTAMP));
    assert_eq!(cmd.nonce().unwrap().as_ref(), NONCE64.to_be_bytes());
    assert_eq!(
        cmd.signature_info().signature_type,
        signature_type::DIGEST_SHA256
    );
    assert_eq!(cmd.signature_value().len(), 32);
    // Signed portion: the name's TLV-VALUE minus its last component. python-ndn's digest over
    // exactly those bytes verifies.
    let parts = cmd.signed_portion();
    assert_eq!(parts.len(), 1);
    let value = interest.name().value_bytes();
    let last = interest.name().component_wire(8).unwrap();
    assert_eq!(parts[0], &value[..value.len() - last.len()]);
    cmd.verify(&VerifyKey::DigestSha256).unwrap();

    // Our builder reproduces python-ndn's packet byte for byte.
    let ours = make_command_v02(
        "rib",
        "register",
        &ControlParameters::with_name(name("/example/app")),
        &Signer::digest_sha256(),
        NONCE64,
        TIMESTAMP,
    )
    .unwrap();
    assert_eq!(ours.wire(), &wire);
}

#[test]
fn v03_command_from_python_ndn_appv2_parses_and_verifies() {
    let wire = fixture("cmd_v03_register");
    let interest = Interest::decode(wire.clone()).unwrap();
    let cmd = ControlCommand::parse(&interest).unwrap();
    assert_eq!(cmd.format(), CommandFormat::V03);
    assert_eq!((cmd.module(), cmd.verb()), ("rib", "register"));
    assert_eq!(
        cmd.parameters(),
        &ControlParameters::with_name(name("/example/app"))
    );
    assert_eq!(cmd.timestamp_ms(), Some(TIMESTAMP));
    assert_eq!(cmd.nonce().unwrap().as_ref(), NONCE64.to_be_bytes());
    assert_eq!(cmd.signature_info().signature_type, 0);
    assert_eq!(interest.app_parameters().map(Bytes::len), Some(0));
    cmd.verify(&VerifyKey::DigestSha256).unwrap();
    assert_eq!(cmd.interest().wire(), &wire);

    let ours = make_command_v03(
        "rib",
        "register",
        &ControlParameters::with_name(name("/example/app")),
        &Signer::digest_sha256(),
        NONCE64,
        TIMESTAMP,
    )
    .unwrap();
    assert_eq!(ours.wire(), &wire);
}

#[test]
fn commands_signed_with_keys_verify_only_with_the_right_key() {
    let key_name = name("/op/KEY/1");
    let signer = Signer::hmac_sha256(b"secret", key_name);
    let cp = ControlParameters {
        name: Some(name("/x")),
        cost: Some(5),
        origin: Some(route_origin::STATIC),
        ..ControlParameters::default()
    };
    for build in [make_command_v02, make_command_v03] {
        let interest = build("rib", "register", &cp, &signer, 42, TIMESTAMP).unwrap();
        let cmd = ControlCommand::parse(&interest).unwrap();
        assert_eq!(cmd.parameters(), &cp);
        assert_eq!(cmd.timestamp_ms(), Some(TIMESTAMP));
        assert_eq!(cmd.nonce().unwrap().as_ref(), 42u64.to_be_bytes());
        cmd.verify(&VerifyKey::Hmac(b"secret".to_vec())).unwrap();
        assert_eq!(
            cmd.verify(&VerifyKey::Hmac(b"other".to_vec())),
            Err(Error::BadSignature)
        );
    }
    let (ed, _) = Signer::generate_ed25519(name("/op/KEY/2")).unwrap();
    let key = ed.verify_key().unwrap();
    for build in [make_command_v02, make_command_v03] {
        let interest = build("faces", "create", &cp, &ed, 7, TIMESTAMP).unwrap();
        let cmd = ControlCommand::parse(&interest).unwrap();
        cmd.verify(&key).unwrap();
        assert_eq!(cmd.signature_info(), &{
            let mut i = ed.signature_info();
            if cmd.format() == CommandFormat::V03 {
                i.nonce = Some(Bytes::copy_from_slice(&7u64.to_be_bytes()));
                i.time = Some(TIMESTAMP);
            }
            i
        });
    }
}

#[test]
fn v02_tampered_parameters_fail_verification() {
    let interest = Interest::decode(fixture("cmd_v02_register")).unwrap();
    // Swap the ControlParameters component for another one, keeping the signature.
    let other = ControlParameters::with_name(name("/evil")).to_wire();
    let tampered: Name = interest
        .name()
        .components()
        .enumerate()
        .map(|(i, c)| {
            if i == 4 {
                Component::generic(&other)
            } else {
                c
            }
        })
        .collect();
    let tampered = InterestBuilder::new(tampered).build().unwrap();
    let cmd = ControlCommand::parse(&tampered).unwrap();
    assert_eq!(
        cmd.verify(&VerifyKey::DigestSha256),
        Err(Error::BadSignature)
    );
}

#[test]
fn command_parse_rejects_malformed_names() {
    let cp = ControlParameters::with_name(name("/a")).to_wire();
    let base = name("/localhost/nfd/rib/register").append_generic(&cp);
    let unsigned = InterestBuilder::new(base.clone()).build().unwrap();
    assert!(ControlCommand::parse(&unsigned).is_err());
    for bad in [
        "/localhost/nfd",
        "/localhost/other/rib/register",
        "/example/nfd/rib/register",
    ] {
        let i = InterestBuilder::new(name(bad).append_generic(&cp))
            .build()
            .unwrap();
        assert!(ControlCommand::parse(&i).is_err(), "{bad}");
    }
    // ControlParameters component holding something else.
    let i = InterestBuilder::new(name("/localhost/nfd/rib/register/abc"))
        .build()
        .unwrap();
    assert!(ControlCommand::parse(&i).is_err());
    // v0.2 shape whose SignatureInfo component is not a SignatureInfo.
    let n = base
        .append_generic(&TIMESTAMP.to_be_bytes())
        .append_generic(&[1; 8])
        .append_generic(&[0x17, 0x00])
        .append_generic(&[0x17, 0x00]);
    let i = InterestBuilder::new(n).build().unwrap();
    assert!(matches!(
        ControlCommand::parse(&i),
        Err(Error::UnexpectedType {
            expected: 22,
            found: 23
        })
    ));
    // v0.2 timestamp that is not a NonNegativeInteger.
    let n = base
        .append_generic(&[1, 2, 3])
        .append_generic(&[1; 8])
        .append_generic(&[0x16, 0x03, 0x1B, 0x01, 0x00])
        .append_generic(&[0x17, 0x00]);
    let i = InterestBuilder::new(n).build().unwrap();
    assert!(ControlCommand::parse(&i).is_err());
    // /localhop is recognised.
    let lh = make_command_v03(
        "rib",
        "register",
        &ControlParameters::default(),
        &Signer::digest_sha256(),
        1,
        2,
    )
    .unwrap();
    let renamed: Name = std::iter::once(Component::generic(b"localhop"))
        .chain(lh.name().components().skip(1))
        .collect();
    let mut b = lh.to_builder();
    b.name = renamed;
    let cmd = ControlCommand::parse(&Interest::decode(b.encode()).unwrap()).unwrap();
    assert!(cmd.is_localhop());
}

// ---------------------------------------------------------------- datasets

#[test]
fn forwarder_status_matches_python_ndn() {
    let wire = fixture("ds_general");
    let st = ForwarderStatus::decode(&wire).unwrap();
    let expected = ForwarderStatus {
        nfd_version: "22.12-nfwd".into(),
        start_timestamp_ms: 1_700_000_000_000,
        current_timestamp_ms: 1_700_000_360_000,
        n_name_tree_entries: 17,
        n_fib_entries: 5,
        n_pit_entries: 2,
        n_measurements_entries: 1,
        n_cs_entries: 300,
        n_in_interests: 1000,
        n_in_data: 900,
        n_in_nacks: 7,
        n_out_interests: 990,
        n_out_data: 880,
        n_out_nacks: 6,
        n_satisfied_interests: 850,
        n_unsatisfied_interests: 140,
    };
    assert_eq!(st, expected);
    assert_eq!(st.to_wire(), wire);
    assert_eq!(st.encoded_len(), wire.len());
    // Every field is required.
    let short = wire.slice(..wire.len() - 3);
    assert_eq!(
        ForwarderStatus::decode(&short),
        Err(Error::Missing("NUnsatisfiedInterests"))
    );
}

#[test]
fn face_status_matches_python_ndn() {
    let wire = fixture("ds_faces");
    let faces: Vec<FaceStatus> = decode_all(&wire).unwrap();
    assert_eq!(faces.len(), 2);
    assert_eq!(
        faces[0],
        FaceStatus {
            face_id: 1,
            uri: "internal://".into(),
            local_uri: "internal://".into(),
            face_scope: face_scope::LOCAL,
            face_persistency: face_persistency::PERMANENT,
            link_type: link_type::POINT_TO_POINT,
            ..FaceStatus::default()
        }
    );
    assert_eq!(
        faces[1],
        FaceStatus {
            face_id: 262,
            uri: "udp4://192.0.2.1:6363".into(),
            local_uri: "udp4://192.0.2.9:6363".into(),
            expiration_period_ms: Some(290_000),
            face_scope: face_scope::NON_LOCAL,
            face_persistency: face_persistency::ON_DEMAND,
            link_type: link_type::MULTI_ACCESS,
            base_congestion_marking_interval_ns: Some(100_000_000),
            default_congestion_threshold: Some(65536),
            mtu: Some(8800),
            n_in_interests: 10,
            n_in_data: 20,
            n_in_nacks: 30,
            n_out_interests: 40,
            n_out_data: 50,
            n_out_nacks: 60,
            n_in_bytes: 70000,
            n_out_bytes: 5_000_000_000,
            flags: face_flags::LOCAL_FIELDS_ENABLED | face_flags::CONGESTION_MARKING_ENABLED,
        }
    );
    assert_eq!(encode_all(&faces), wire);
}

#[test]
fn fib_rib_cs_strategy_match_python_ndn() {
    let wire = fixture("ds_fib");
    let fib: Vec<FibEntry> = decode_all(&wire).unwrap();
    assert_eq!(
        fib,
        [
            FibEntry {
                name: name("/localhost/nfd"),
                next_hops: vec![NextHopRecord {
                    face_id: 1,
                    cost: 0
                }],
            },
            FibEntry {
                name: name("/example"),
                next_hops: vec![
                    NextHopRecord {
                        face_id: 262,
                        cost: 10
                    },
                    NextHopRecord {
                        face_id: 263,
                        cost: 300
                    },
                ],
            },
        ]
    );
    assert_eq!(encode_all(&fib), wire);

    let wire = fixture("ds_rib");
    let rib: Vec<RibEntry> = decode_all(&wire).unwrap();
    assert_eq!(
        rib,
        [RibEntry {
            name: name("/example/app"),
            routes: vec![
                Route {
                    face_id: 262,
                    origin: route_origin::APP,
                    cost: 0,
                    flags: route_flags::CHILD_INHERIT,
                    expiration_period_ms: None,
                },
                Route {
                    face_id: 263,
                    origin: route_origin::STATIC,
                    cost: 100,
                    flags: route_flags::CHILD_INHERIT | route_flags::CAPTURE,
                    expiration_period_ms: Some(3_600_000),
                },
            ],
        }]
    );
    assert_eq!(encode_all(&rib), wire);

    let wire = fixture("ds_cs");
    let cs: Vec<CsInfo> = decode_all(&wire).unwrap();
    let expected = CsInfo {
        capacity: 65536,
        flags: 3,
        n_entries: 300,
        n_hits: 1234,
        n_misses: 5678,
    };
    assert_eq!(cs, [expected]);
    assert!(expected.enable_admit() && expected.enable_serve());
    assert_eq!(expected.to_wire(), wire);

    let wire = fixture("ds_strategy");
    let sc: Vec<StrategyChoice> = decode_all(&wire).unwrap();
    assert_eq!(
        sc,
        [
            StrategyChoice {
                name: Name::new(),
                strategy: name("/localhost/nfd/strategy/best-route/v=5"),
            },
            StrategyChoice {
                name: name("/localhost"),
                strategy: name("/localhost/nfd/strategy/multicast/v=4"),
            },
        ]
    );
    assert_eq!(encode_all(&sc), wire);
}

#[test]
fn decode_all_skips_non_critical_and_rejects_critical_strangers() {
    let entry = ChannelStatus {
        local_uri: "unix:///run/nfd/nfd.sock".into(),
    };
    let mut v = entry.to_wire().to_vec();
    v.extend_from_slice(&[0xC8, 0x00]);
    v.extend_from_slice(&entry.to_wire());
    let got: Vec<ChannelStatus> = decode_all(&Bytes::from(v.clone())).unwrap();
    assert_eq!(got, [entry.clone(), entry]);
    v.extend_from_slice(&[0xC9, 0x00]);
    assert_eq!(
        decode_all::<ChannelStatus>(&Bytes::from(v)),
        Err(Error::UnknownCritical(0xC9))
    );
    assert!(decode_all::<FibEntry>(&Bytes::new()).unwrap().is_empty());
    // A RibEntry without Name.
    let no_name = Bytes::from_static(&[0x80, 0x00]);
    assert_eq!(
        decode_all::<RibEntry>(&no_name),
        Err(Error::Missing("RibEntry/Name"))
    );
}

#[test]
fn segmentation_follows_nfd() {
    let signer = Signer::digest_sha256();
    let prefix = name("/localhost/nfd/faces/list");
    for (len, segments) in [
        (0usize, 1usize),
        (1, 1),
        (7999, 1),
        (8000, 1),
        (8001, 2),
        (16000, 2),
        (20000, 3),
    ] {
        let payload: Bytes = (0..len).map(|i| i as u8).collect::<Vec<_>>().into();
        let out = segment_dataset(&prefix, 77, &payload, &signer).unwrap();
        assert_eq!(out.len(), segments, "{len}");
        let mut joined = Vec::new();
        for (i, wire) in out.iter().enumerate() {
            let d = Data::decode(wire.clone()).unwrap();
            assert_eq!(
                d.name(),
                &prefix.append_version(77).append_segment(i as u64)
            );
            assert_eq!(d.freshness_period_ms(), 1000);
            assert!(d.content().len() <= 8000);
            let last = i + 1 == segments;
            assert_eq!(
                d.final_block_id().cloned(),
                last.then(|| Component::segment(i as u64))
            );
            d.verify(&VerifyKey::DigestSha256).unwrap();
            joined.extend_from_slice(d.content());
        }
        assert_eq!(joined, payload);
    }
}

#[test]
fn face_query_filter_round_trips() {
    let q = FaceQueryFilter {
        face_id: Some(262),
        uri_scheme: Some("udp4".into()),
        uri: None,
        local_uri: Some("udp4://0.0.0.0:6363".into()),
        face_scope: Some(face_scope::NON_LOCAL),
        face_persistency: None,
        link_type: Some(link_type::AD_HOC),
    };
    let wire = q.to_wire();
    assert_eq!(wire.len(), q.encoded_len());
    assert_eq!(
        FaceQueryFilter::decode(&Element::decode_exact(&wire).unwrap()).unwrap(),
        q
    );
    let empty = FaceQueryFilter::default().to_wire();
    assert_eq!(empty.as_ref(), [0x96, 0x00]);
}

#[test]
fn text_is_a_view() {
    let wire = fixture("cp_faces_create");
    let cp = ControlParameters::from_wire(&wire).unwrap();
    let uri: &Text = cp.uri.as_ref().unwrap();
    // Shares the input buffer: no copy.
    let start = wire.as_ptr() as usize;
    let p = uri.as_bytes().as_ptr() as usize;
    assert!(p >= start && p < start + wire.len());
    assert_eq!(uri.to_string(), "udp4://192.0.2.1:6363");
    assert_eq!(format!("{uri:?}"), "\"udp4://192.0.2.1:6363\"");
    assert!(Text::from_utf8(Bytes::from_static(&[0xC3])).is_err());
}

// ---------------------------------------------------------------- properties

fn arb_name() -> impl Strategy<Value = Name> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), 0..4)
        .prop_map(|cs| cs.iter().map(|c| Component::generic(c)).collect())
}

fn arb_text() -> impl Strategy<Value = Text> {
    "[a-z0-9:/.\u{e9}]{0,24}".prop_map(Text::from)
}

fn arb_cp() -> impl Strategy<Value = ControlParameters> {
    let o = || prop::option::of(any::<u64>());
    (
        (
            prop::option::of(arb_name()),
            o(),
            prop::option::of(arb_text()),
            prop::option::of(arb_text()),
            o(),
            o(),
            o(),
            o(),
        ),
        (
            o(),
            o(),
            prop::option::of(arb_name()),
            o(),
            o(),
            o(),
            o(),
            o(),
        ),
    )
        .prop_map(
            |(
                (name, face_id, uri, local_uri, origin, cost, capacity, count),
                (flags, mask, strategy, exp, pers, bcmi, dct, mtu),
            )| ControlParameters {
                name,
                face_id,
                uri,
                local_uri,
                origin,
                cost,
                capacity,
                count,
                flags,
                mask,
                strategy,
                expiration_period_ms: exp,
                face_persistency: pers,
                base_congestion_marking_interval_ns: bcmi,
                default_congestion_threshold: dct,
                mtu,
            },
        )
}

fn arb_face() -> impl Strategy<Value = FaceStatus> {
    let o = || prop::option::of(any::<u64>());
    (
        (
            any::<u64>(),
            arb_text(),
            arb_text(),
            o(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            o(),
            o(),
            o(),
        ),
        prop::array::uniform8(any::<u64>()),
        any::<u64>(),
    )
        .prop_map(
            |((face_id, uri, local_uri, exp, scope, pers, link, b, d, mtu), c, flags)| FaceStatus {
                face_id,
                uri,
                local_uri,
                expiration_period_ms: exp,
                face_scope: scope,
                face_persistency: pers,
                link_type: link,
                base_congestion_marking_interval_ns: b,
                default_congestion_threshold: d,
                mtu,
                n_in_interests: c[0],
                n_in_data: c[1],
                n_in_nacks: c[2],
                n_out_interests: c[3],
                n_out_data: c[4],
                n_out_nacks: c[5],
                n_in_bytes: c[6],
                n_out_bytes: c[7],
                flags,
            },
        )
}

fn arb_forwarder_status() -> impl Strategy<Value = ForwarderStatus> {
    (arb_text(), prop::array::uniform15(any::<u64>())).prop_map(|(v, c)| ForwarderStatus {
        nfd_version: v,
        start_timestamp_ms: c[0],
        current_timestamp_ms: c[1],
        n_name_tree_entries: c[2],
        n_fib_entries: c[3],
        n_pit_entries: c[4],
        n_measurements_entries: c[5],
        n_cs_entries: c[6],
        n_in_interests: c[7],
        n_in_data: c[8],
        n_in_nacks: c[9],
        n_out_interests: c[10],
        n_out_data: c[11],
        n_out_nacks: c[12],
        n_satisfied_interests: c[13],
        n_unsatisfied_interests: c[14],
    })
}

fn arb_rib() -> impl Strategy<Value = RibEntry> {
    let route = (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(face_id, origin, cost, flags, exp)| Route {
            face_id,
            origin,
            cost,
            flags,
            expiration_period_ms: exp,
        });
    (arb_name(), prop::collection::vec(route, 0..4))
        .prop_map(|(name, routes)| RibEntry { name, routes })
}

fn arb_fib() -> impl Strategy<Value = FibEntry> {
    let nh =
        (any::<u64>(), any::<u64>()).prop_map(|(face_id, cost)| NextHopRecord { face_id, cost });
    (arb_name(), prop::collection::vec(nh, 0..4))
        .prop_map(|(name, next_hops)| FibEntry { name, next_hops })
}

/// encode → decode → encode gives the same bytes, and the length is announced exactly.
fn entry_round_trip<T: DatasetEntry + PartialEq + std::fmt::Debug>(entries: &[T]) {
    let wire = encode_all(entries);
    assert_eq!(
        wire.len(),
        entries.iter().map(DatasetEntry::encoded_len).sum::<usize>()
    );
    let back: Vec<T> = decode_all(&wire).unwrap();
    assert_eq!(back, entries);
    assert_eq!(encode_all(&back), wire);
}

proptest! {
    #[test]
    fn prop_control_parameters_round_trip(cp in arb_cp()) {
        let wire = cp.to_wire();
        prop_assert_eq!(wire.len(), cp.encoded_len());
        let back = ControlParameters::from_wire(&wire).unwrap();
        prop_assert_eq!(&back, &cp);
        prop_assert_eq!(back.to_wire(), wire);
    }

    #[test]
    fn prop_control_response_round_trip(
        code in any::<u64>(), text in arb_text(), body in prop::option::of(arb_cp())
    ) {
        let cr = ControlResponse { status_code: code, status_text: text, body };
        let wire = cr.to_wire();
        prop_assert_eq!(wire.len(), cr.encoded_len());
        let back = ControlResponse::from_wire(&wire).unwrap();
        prop_assert_eq!(&back, &cr);
        prop_assert_eq!(back.to_wire(), wire);
    }

    #[test]
    fn prop_datasets_round_trip(
        faces in prop::collection::vec(arb_face(), 0..3),
        ribs in prop::collection::vec(arb_rib(), 0..3),
        fibs in prop::collection::vec(arb_fib(), 0..3),
        status in arb_forwarder_status(),
        cs in prop::array::uniform5(any::<u64>()),
        sc in prop::collection::vec((arb_name(), arb_name()), 0..3),
        channels in prop::collection::vec(arb_text(), 0..3),
        filter in (prop::option::of(any::<u64>()), prop::option::of(arb_text()),
                   prop::option::of(arb_text()), prop::option::of(any::<u64>())),
    ) {
        entry_round_trip(&faces);
        entry_round_trip(&ribs);
        entry_round_trip(&fibs);
        entry_round_trip(&[CsInfo {
            capacity: cs[0], flags: cs[1], n_entries: cs[2], n_hits: cs[3], n_misses: cs[4],
        }]);
        entry_round_trip(
            &sc.into_iter()
                .map(|(name, strategy)| StrategyChoice { name, strategy })
                .collect::<Vec<_>>(),
        );
        entry_round_trip(
            &channels.into_iter().map(|local_uri| ChannelStatus { local_uri }).collect::<Vec<_>>(),
        );
        entry_round_trip(&[FaceQueryFilter {
            face_id: filter.0,
            uri_scheme: filter.1,
            local_uri: filter.2,
            link_type: filter.3,
            ..FaceQueryFilter::default()
        }]);
        let wire = status.to_wire();
        prop_assert_eq!(wire.len(), status.encoded_len());
        let back = ForwarderStatus::decode(&wire).unwrap();
        prop_assert_eq!(&back, &status);
        prop_assert_eq!(back.to_wire(), wire);
    }

    #[test]
    fn prop_commands_round_trip(
        cp in arb_cp(), nonce in any::<u64>(), ts in any::<u64>(),
        module in "[a-z-]{1,16}", verb in "[a-z]{1,10}", v03 in any::<bool>()
    ) {
        let build = if v03 { make_command_v03 } else { make_command_v02 };
        let interest = build(&module, &verb, &cp, &Signer::digest_sha256(), nonce, ts).unwrap();
        let cmd = ControlCommand::parse(&interest).unwrap();
        prop_assert_eq!(cmd.module(), module.as_str());
        prop_assert_eq!(cmd.verb(), verb.as_str());
        prop_assert_eq!(cmd.parameters(), &cp);
        prop_assert_eq!(cmd.timestamp_ms(), Some(ts));
        prop_assert_eq!(cmd.nonce().unwrap().as_ref(), nonce.to_be_bytes());
        cmd.verify(&VerifyKey::DigestSha256).unwrap();
    }

    #[test]
    fn prop_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        let b = Bytes::from(bytes);
        let _ = ControlParameters::from_wire(&b);
        let _ = ControlResponse::from_wire(&b);
        let _ = ForwarderStatus::decode(&b);
        let _ = decode_all::<FaceStatus>(&b);
        let _ = decode_all::<ChannelStatus>(&b);
        let _ = decode_all::<FibEntry>(&b);
        let _ = decode_all::<RibEntry>(&b);
        let _ = decode_all::<CsInfo>(&b);
        let _ = decode_all::<StrategyChoice>(&b);
        if let Ok(el) = Element::decode_exact(&b) {
            let _ = FaceQueryFilter::decode(&el);
            let _ = ControlParameters::decode(&el);
        }
        // The same bytes with a valid outer header, so the inner decoders get exercised.
        for outer in [0x68u8, 0x65, 0x80, 0x82, 0x96] {
            if b.len() <= 252 {
                let mut v = vec![outer, b.len() as u8];
                v.extend_from_slice(&b);
                let w = Bytes::from(v);
                let _ = ControlParameters::from_wire(&w);
                let _ = ControlResponse::from_wire(&w);
                let _ = decode_all::<FaceStatus>(&w);
                let _ = decode_all::<RibEntry>(&w);
                let _ = decode_all::<FibEntry>(&w);
                let _ = decode_all::<CsInfo>(&w);
                let _ = decode_all::<StrategyChoice>(&w);
                let _ = decode_all::<ChannelStatus>(&w);
                let _ = decode_all::<FaceQueryFilter>(&w);
            }
        }
    }

    #[test]
    fn prop_command_parse_never_panics(
        comps in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..10),
        head in any::<bool>(), signed in any::<bool>(),
    ) {
        let mut n = if head { name("/localhost/nfd/rib/register") } else { Name::new() };
        for c in &comps {
            n = n.append_generic(c);
        }
        if n.is_empty() {
            n = name("/x");
        }
        let b = InterestBuilder::new(n);
        let interest = if signed {
            b.sign(&Signer::digest_sha256(), Signer::digest_sha256().signature_info()).unwrap()
        } else {
            b.build().unwrap()
        };
        if let Ok(cmd) = ControlCommand::parse(&interest) {
            let _ = cmd.verify(&VerifyKey::DigestSha256);
            let _ = cmd.signed_portion();
        }
    }
}

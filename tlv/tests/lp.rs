#![allow(clippy::unwrap_used, clippy::expect_used)]
//! NDNLPv2 codec, fragmentation and reassembly, through the public API.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::Error;
use nfwd_tlv::lp::{
    CachePolicyType, LpPacket, NackReason, PitToken, Reassembler, ReassemblerConfig, fragment,
};
use proptest::prelude::*;

/// Interest /abc with Nonce 01020304 (15 bytes).
const INTEREST: &[u8] = &[
    0x05, 0x0D, 0x07, 0x05, 0x08, 0x03, 0x61, 0x62, 0x63, 0x0A, 0x04, 1, 2, 3, 4,
];
/// Data /abc with Content "hi" (no signature; the LP layer does not look inside).
const DATA: &[u8] = &[
    0x06, 0x0B, 0x07, 0x05, 0x08, 0x03, 0x61, 0x62, 0x63, 0x15, 0x02, b'h', b'i',
];

fn lp(value: &[u8]) -> Bytes {
    // Short values only: 1-byte length.
    assert!(value.len() <= 252);
    let mut w = vec![0x64, value.len() as u8];
    w.extend_from_slice(value);
    Bytes::from(w)
}

fn with_fragment(headers: &[u8], frag: &[u8]) -> Bytes {
    let mut v = headers.to_vec();
    v.extend_from_slice(&[0x50, frag.len() as u8]);
    v.extend_from_slice(frag);
    lp(&v)
}

#[test]
fn bare_interest_and_data_are_implicit_lp_packets() {
    for bare in [INTEREST, DATA] {
        let wire = Bytes::from_static(bare);
        let p = LpPacket::decode(wire.clone()).unwrap();
        assert_eq!(p.fragment.as_ref(), Some(&wire));
        assert!(!p.has_headers() && !p.is_idle() && !p.is_fragmented());
        // Sent back out bare, without a copy.
        let out = p.encode_or_bare();
        assert_eq!(out, wire);
        assert_eq!(out.as_ptr(), wire.as_ptr());
        // Explicit form decodes to the same thing.
        assert_eq!(LpPacket::decode(p.encode()).unwrap(), p);
    }
    // Trailing bytes after a bare packet are an error.
    let mut w = INTEREST.to_vec();
    w.push(0);
    assert!(matches!(
        LpPacket::decode(Bytes::from(w)),
        Err(Error::TrailingBytes(1))
    ));
    // Other outer types are rejected.
    assert!(matches!(
        LpPacket::decode(Bytes::from_static(&[0x07, 0x00])),
        Err(Error::UnexpectedType {
            expected: 100,
            found: 7
        })
    ));
}

#[test]
fn nack_exactly_as_nfd_encodes_it() {
    // LpPacket{ Nack{ NackReason 150 }, Fragment = Interest }.
    let mut expected = vec![
        0x64, 0x1A, // LpPacket, 26 bytes
        0xFD, 0x03, 0x20, 0x05, // Nack (800), 5 bytes
        0xFD, 0x03, 0x21, 0x01, 0x96, // NackReason (801) = 150 NoRoute
        0x50, 0x0F, // Fragment, 15 bytes
    ];
    expected.extend_from_slice(INTEREST);
    let nack = LpPacket::nack(NackReason::NoRoute, Bytes::from_static(INTEREST));
    assert_eq!(nack.encode(), expected);
    assert_eq!(nack.encode_or_bare(), expected);

    let d = LpPacket::decode(Bytes::from(expected)).unwrap();
    assert_eq!(d.nack, Some(NackReason::NoRoute));
    assert_eq!(d.fragment.unwrap(), INTEREST);

    // Unknown reason values are kept.
    let w = with_fragment(
        &[0xFD, 0x03, 0x20, 0x05, 0xFD, 0x03, 0x21, 0x01, 77],
        INTEREST,
    );
    assert_eq!(
        LpPacket::decode(w).unwrap().nack,
        Some(NackReason::Other(77))
    );
}

#[test]
fn pit_token_attach_echo_and_bounds() {
    let token = PitToken::from_u64(42);
    let interest = LpPacket::from_fragment(Bytes::from_static(INTEREST)).with_pit_token(token);
    let wire = interest.encode_or_bare();
    // With a token the packet cannot go bare.
    assert_eq!(wire.first(), Some(&0x64));
    let got = LpPacket::decode(wire).unwrap();
    assert_eq!(got.pit_token.as_ref().and_then(PitToken::as_u64), Some(42));

    let data = LpPacket::from_fragment(Bytes::from_static(DATA)).echo_pit_token(&got);
    assert_eq!(data.pit_token, Some(token));
    let nack =
        LpPacket::nack(NackReason::Congestion, Bytes::from_static(INTEREST)).echo_pit_token(&got);
    assert_eq!(
        LpPacket::decode(nack.encode())
            .unwrap()
            .pit_token
            .unwrap()
            .as_u64(),
        Some(42)
    );

    // Lengths 1 and 32 decode; 0 and 33 do not.
    for len in [0usize, 1, 32, 33] {
        let mut h = vec![0x62, len as u8];
        h.extend(std::iter::repeat_n(0xAA, len));
        let r = LpPacket::decode(with_fragment(&h, INTEREST));
        if (1..=32).contains(&len) {
            assert_eq!(r.unwrap().pit_token.unwrap().as_bytes().len(), len);
        } else {
            assert!(
                matches!(
                    r,
                    Err(Error::InvalidValue {
                        field: "PitToken",
                        ..
                    })
                ),
                "len {len}"
            );
        }
    }
}

#[test]
fn unknown_fields_ignorable_or_not() {
    // 900 = 0x384: in 800..=959 and a multiple of 4 -> ignored.
    let p = LpPacket::decode(with_fragment(&[0xFD, 0x03, 0x84, 0x01, 0xFF], INTEREST)).unwrap();
    assert_eq!(p, LpPacket::from_fragment(Bytes::from_static(INTEREST)));
    // 901 (odd) and 960 (out of range) and 700 are not.
    for ty in [901u16, 902, 960, 700] {
        let [hi, lo] = ty.to_be_bytes();
        let r = LpPacket::decode(with_fragment(&[0xFD, hi, lo, 0x00], INTEREST));
        assert!(
            matches!(r, Err(Error::UnknownCritical(t)) if t == u32::from(ty)),
            "{ty}"
        );
    }
}

#[test]
fn field_order_is_enforced() {
    // CongestionMark (832) before IncomingFaceId (812): rejected.
    let h = [0xFD, 0x03, 0x40, 0x01, 0x01, 0xFD, 0x03, 0x2C, 0x01, 0x05];
    assert!(matches!(
        LpPacket::decode(with_fragment(&h, INTEREST)),
        Err(Error::OutOfOrder(812))
    ));
    // The right order works.
    let h = [0xFD, 0x03, 0x2C, 0x01, 0x05, 0xFD, 0x03, 0x40, 0x01, 0x01];
    let p = LpPacket::decode(with_fragment(&h, INTEREST)).unwrap();
    assert_eq!((p.incoming_face_id, p.congestion_mark), (Some(5), Some(1)));
    // A repeated non-repeatable field.
    let h = [0xFD, 0x03, 0x2C, 0x01, 0x05, 0xFD, 0x03, 0x2C, 0x01, 0x06];
    assert!(matches!(
        LpPacket::decode(with_fragment(&h, INTEREST)),
        Err(Error::OutOfOrder(812))
    ));
    // Repeated Ack is fine.
    let mut h = Vec::new();
    for a in [7u64, 3] {
        h.extend_from_slice(&[0xFD, 0x03, 0x44, 0x08]);
        h.extend_from_slice(&a.to_be_bytes());
    }
    assert_eq!(
        LpPacket::decode(with_fragment(&h, INTEREST)).unwrap().acks,
        vec![7, 3]
    );
    // A header field after the Fragment.
    let mut v = vec![0x50, INTEREST.len() as u8];
    v.extend_from_slice(INTEREST);
    v.extend_from_slice(&[0xFD, 0x03, 0x2C, 0x01, 0x05]);
    assert!(matches!(
        LpPacket::decode(lp(&v)),
        Err(Error::OutOfOrder(812))
    ));
    // Two Fragments.
    let mut v = vec![0x50, 0x01, 0xAA, 0x50, 0x01, 0xBB];
    assert!(matches!(
        LpPacket::decode(lp(&v)),
        Err(Error::OutOfOrder(80))
    ));
    // Sequence (81) after FragIndex (82).
    v = vec![0x52, 0x01, 0x00, 0x51, 0x08, 0, 0, 0, 0, 0, 0, 0, 1];
    assert!(matches!(
        LpPacket::decode(lp(&v)),
        Err(Error::OutOfOrder(81))
    ));
}

#[test]
fn all_fields_round_trip_and_idle() {
    let pa = Bytes::from_static(DATA);
    let p = LpPacket {
        sequence: Some(u64::MAX),
        frag_index: Some(0),
        frag_count: Some(1),
        pit_token: Some(PitToken::from_slice(&[1, 2, 3]).unwrap()),
        nack: Some(NackReason::Duplicate),
        incoming_face_id: Some(300),
        next_hop_face_id: Some(70_000),
        cache_policy: Some(CachePolicyType::NoCache),
        congestion_mark: Some(1),
        acks: vec![1, 2],
        tx_sequence: Some(9),
        non_discovery: true,
        prefix_announcement: Some(pa),
        popped_function: Some("/sf/F1/w=64".parse().unwrap()),
        chain_aware: Some(2),
        fragment: Some(Bytes::from_static(INTEREST)),
    };
    let wire = p.encode();
    assert_eq!(wire.len(), p.encoded_len());
    assert_eq!(LpPacket::decode(wire).unwrap(), p);

    let idle = LpPacket {
        acks: vec![5],
        ..LpPacket::default()
    };
    let d = LpPacket::decode(idle.encode()).unwrap();
    assert!(d.is_idle());
    assert_eq!(d.acks, vec![5]);
    assert!(
        LpPacket::decode(Bytes::from_static(&[0x64, 0x00]))
            .unwrap()
            .is_idle()
    );

    // PrefixAnnouncement must hold a Data element.
    let h = [0xFD, 0x03, 0x50, 0x02, 0x05, 0x00];
    assert!(LpPacket::decode(with_fragment(&h, INTEREST)).is_err());
    // NonDiscovery must be empty; CachePolicy must hold a CachePolicyType.
    assert!(LpPacket::decode(with_fragment(&[0xFD, 0x03, 0x4C, 0x01, 0x00], INTEREST)).is_err());
    assert!(LpPacket::decode(with_fragment(&[0xFD, 0x03, 0x34, 0x00], INTEREST)).is_err());
}

fn payload(n: usize) -> Bytes {
    (0..n)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn fragment_8800_at_mtu_1200_and_reassemble_in_any_order() {
    let original = LpPacket {
        pit_token: Some(PitToken::from_u64(0xDEAD_BEEF)),
        incoming_face_id: Some(260),
        fragment: Some(payload(8800)),
        ..LpPacket::default()
    };
    let frags = fragment(&original, 1200, 1000).unwrap();
    assert_eq!(frags.len(), 8);
    let decoded: Vec<LpPacket> = frags
        .iter()
        .map(|f| {
            assert!(f.len() <= 1200, "fragment of {} bytes", f.len());
            LpPacket::decode(f.clone()).unwrap()
        })
        .collect();
    for (i, d) in decoded.iter().enumerate() {
        assert_eq!(d.sequence, Some(1000 + i as u64));
        assert_eq!(d.frag_index, Some(i as u64));
        assert_eq!(d.frag_count, Some(8));
        assert!(d.is_fragmented());
        // Other headers only on the first fragment.
        assert_eq!(d.pit_token.is_some(), i == 0);
        assert_eq!(d.incoming_face_id.is_some(), i == 0);
    }

    let orders: Vec<Vec<usize>> = vec![
        (0..8).collect(),
        (0..8).rev().collect(),
        vec![3, 7, 0, 5, 1, 6, 2, 4],
        vec![7, 6, 0, 1, 5, 4, 2, 3],
    ];
    let now = Instant::now();
    for order in orders {
        let mut r = Reassembler::new(ReassemblerConfig::default());
        let mut done = None;
        for (n, &i) in order.iter().enumerate() {
            let out = r.receive("udp", decoded[i].clone(), now).unwrap();
            if n + 1 < order.len() {
                assert!(out.is_none());
                // A duplicate is ignored.
                assert!(r.receive("udp", decoded[i].clone(), now).unwrap().is_none());
            } else {
                done = out;
            }
        }
        let whole = done.expect("complete");
        assert_eq!(whole.fragment, original.fragment);
        assert_eq!(whole.pit_token, original.pit_token);
        assert_eq!(whole.incoming_face_id, Some(260));
        assert_eq!((whole.frag_index, whole.frag_count), (None, None));
        assert_eq!(r.partial_count(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.stats().completed, 1);
        assert_eq!(r.stats().duplicate_fragments, 7);
    }
}

#[test]
fn fragmentation_edge_cases() {
    // Fits in one packet: one LpPacket with a Sequence and no FragIndex/FragCount.
    let small = LpPacket::from_fragment(Bytes::from_static(INTEREST));
    let one = fragment(&small, 1500, 5).unwrap();
    assert_eq!(one.len(), 1);
    let d = LpPacket::decode(one[0].clone()).unwrap();
    assert_eq!(
        (d.sequence, d.frag_index, d.frag_count),
        (Some(5), None, None)
    );

    // MTU too small for one payload byte.
    assert!(fragment(&LpPacket::from_fragment(payload(100)), 20, 0).is_err());
    // The first fragment's extra headers can make an MTU too small for it alone.
    let heavy = LpPacket {
        pit_token: Some(PitToken::from_slice(&[0; 32]).unwrap()),
        ..LpPacket::from_fragment(payload(100))
    };
    assert!(fragment(&heavy, 40, 0).is_err());
    // No Fragment at all.
    assert!(fragment(&LpPacket::default(), 1500, 0).is_err());
    // Sequence wraps.
    let frags = fragment(&LpPacket::from_fragment(payload(3000)), 1000, u64::MAX).unwrap();
    let seqs: Vec<u64> = frags
        .iter()
        .map(|f| LpPacket::decode(f.clone()).unwrap().sequence.unwrap())
        .collect();
    let expected: Vec<u64> = (0..frags.len() as u64)
        .map(|i| u64::MAX.wrapping_add(i))
        .collect();
    assert_eq!(seqs, expected);
    assert!(frags.len() > 2);
    let mut r = Reassembler::new(ReassemblerConfig::default());
    let now = Instant::now();
    let mut out = None;
    for f in &frags {
        out = r
            .receive(0u8, LpPacket::decode(f.clone()).unwrap(), now)
            .unwrap();
    }
    assert_eq!(out.unwrap().fragment.unwrap(), payload(3000));

    // Every MTU from tiny to large: fragments fit and reassemble.
    // 23 is the smallest MTU that carries a byte with a 2-byte FragIndex and FragCount.
    for mtu in [23usize, 27, 40, 64, 255, 256, 257, 300, 1000, 8000] {
        let p = LpPacket::from_fragment(payload(2000));
        let frags = fragment(&p, mtu, 0).unwrap();
        let mut r = Reassembler::new(ReassemblerConfig {
            max_frag_count: 5000,
            ..Default::default()
        });
        let mut out = None;
        for f in &frags {
            assert!(f.len() <= mtu);
            out = r
                .receive(0u8, LpPacket::decode(f.clone()).unwrap(), now)
                .unwrap();
        }
        assert_eq!(out.unwrap().fragment.unwrap(), payload(2000), "mtu {mtu}");
    }
}

#[test]
fn memory_bounds_hold_under_endless_partials() {
    let cfg = ReassemblerConfig {
        max_packet_size: 8800,
        max_frag_count: 64,
        max_partial_packets: 100,
        max_buffered_bytes: 50_000,
        timeout: Duration::from_millis(500),
    };
    let mut r = Reassembler::new(cfg);
    let t0 = Instant::now();
    let piece = payload(1000);
    for i in 0..20_000u64 {
        // Each is fragment 0 of a different 64-fragment packet that never completes.
        let p = LpPacket {
            sequence: Some(i * 64),
            frag_index: Some(0),
            frag_count: Some(64),
            fragment: Some(piece.clone()),
            ..LpPacket::default()
        };
        let now = t0 + Duration::from_micros(i);
        assert!(r.receive(i % 3, p, now).unwrap().is_none());
        assert!(r.partial_count() <= 100);
        assert!(r.buffered_bytes() <= 50_000);
    }
    let s = r.stats();
    assert!(s.evicted_byte_limit > 0);
    assert_eq!(
        s.evicted_byte_limit + s.evicted_count_limit + s.timed_out_packets,
        20_000 - r.partial_count() as u64
    );
    // Everything left times out.
    r.expire(t0 + Duration::from_secs(10));
    assert_eq!((r.partial_count(), r.buffered_bytes()), (0, 0));

    // Count limit alone (tiny pieces).
    let mut r = Reassembler::new(ReassemblerConfig {
        max_partial_packets: 10,
        ..Default::default()
    });
    for i in 0..1000u64 {
        let p = LpPacket {
            sequence: Some(i * 2),
            frag_index: Some(0),
            frag_count: Some(2),
            fragment: Some(Bytes::from_static(b"x")),
            ..LpPacket::default()
        };
        r.receive(7u16, p, t0).unwrap();
        assert!(r.partial_count() <= 10);
    }
    assert_eq!(r.stats().evicted_count_limit, 990);
}

#[test]
fn packets_above_the_ndn_maximum_are_dropped_as_soon_as_they_are() {
    // 64 fragments of 1000 bytes claim a 64,000-byte packet: the ninth fragment crosses 8800
    // and the partial packet goes, counted; nothing of it stays buffered.
    let mut r = Reassembler::new(ReassemblerConfig::default());
    let now = Instant::now();
    let piece = payload(1000);
    let mut refused = 0;
    for i in 0..64u64 {
        let p = LpPacket {
            sequence: Some(1000 + i),
            frag_index: Some(i),
            frag_count: Some(64),
            fragment: Some(piece.clone()),
            ..LpPacket::default()
        };
        match r.receive(1u8, p, now) {
            Ok(out) => assert!(out.is_none()),
            Err(_) => refused += 1,
        }
        assert!(r.buffered_bytes() <= 8800);
    }
    assert!(refused >= 1);
    assert!(r.stats().oversize_packets >= 1);
    assert_eq!(r.stats().completed, 0);
    // An 8800-byte packet itself still reassembles.
    let frags = fragment(&LpPacket::from_fragment(payload(8800)), 1400, 7).unwrap();
    let mut out = None;
    for f in &frags {
        out = r
            .receive(2u8, LpPacket::decode(f.clone()).unwrap(), now)
            .unwrap();
    }
    assert_eq!(out.unwrap().fragment.unwrap().len(), 8800);
}

#[test]
fn truncated_and_garbage_input_never_panics() {
    let full = LpPacket {
        sequence: Some(1),
        pit_token: Some(PitToken::from_u64(3)),
        nack: Some(NackReason::NoRoute),
        acks: vec![1],
        fragment: Some(Bytes::from_static(INTEREST)),
        ..LpPacket::default()
    }
    .encode();
    for cut in 0..full.len() {
        assert!(LpPacket::decode(full.slice(..cut)).is_err(), "cut {cut}");
    }
    // Huge declared lengths.
    for w in [
        &[0x64, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..],
        &[0x64, 0x05, 0x50, 0xFE, 0xFF, 0xFF, 0xFF][..],
        &[0x64, 0x04, 0xFD, 0x03, 0x20, 0x05][..],
        &[0x64, 0x02, 0x00, 0x00][..],
        &[][..],
    ] {
        assert!(LpPacket::decode(Bytes::copy_from_slice(w)).is_err());
    }
}

fn arb_lp() -> impl Strategy<Value = LpPacket> {
    let fixed = (
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=32)),
        proptest::option::of(any::<u64>().prop_map(NackReason::from_code)),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    );
    let more = (
        proptest::option::of(any::<u64>().prop_map(CachePolicyType::from_code)),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(any::<u64>(), 0..4),
        proptest::option::of(any::<u64>()),
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..600)),
    );
    let popped = proptest::option::of(proptest::collection::vec("[a-z0-9=]{1,8}", 0..4));
    let chain_aware = proptest::option::of(any::<u64>());
    (fixed, more, (popped, chain_aware)).prop_map(
        |((seq, fi, fc, tok, nack, inc, nh), (cp, cm, acks, tx, nd, pa, frag), (popped, ca))| {
            LpPacket {
                sequence: seq,
                frag_index: fi,
                frag_count: fc,
                pit_token: tok.map(|t| PitToken::from_slice(&t).unwrap()),
                nack,
                incoming_face_id: inc,
                next_hop_face_id: nh,
                cache_policy: cp,
                congestion_mark: cm,
                acks,
                tx_sequence: tx,
                non_discovery: nd,
                prefix_announcement: pa
                    .map(|content| nfwd_tlv::Element::new(6, &content).wire().clone()),
                popped_function: popped.map(|cs| {
                    cs.iter()
                        .fold(nfwd_tlv::Name::new(), |n, c| n.append_generic(c.as_bytes()))
                }),
                chain_aware: ca,
                fragment: frag.map(Bytes::from),
            }
        },
    )
}

proptest! {
    #[test]
    fn encode_decode_encode_is_identical(p in arb_lp()) {
        let wire = p.encode();
        prop_assert_eq!(wire.len(), p.encoded_len());
        let d = LpPacket::decode(wire.clone()).unwrap();
        prop_assert_eq!(&d, &p);
        prop_assert_eq!(d.encode(), wire);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = LpPacket::decode(Bytes::from(data.clone()));
        // Also as the body of an LpPacket, to get past the outer header.
        if data.len() <= 252 {
            let _ = LpPacket::decode(lp(&data));
        }
    }

    #[test]
    fn fragments_fit_and_reassemble(len in 1usize..5000, mtu in 40usize..2000, seq in any::<u64>(), rot in 0usize..64) {
        let p = LpPacket { nack: Some(NackReason::Congestion), ..LpPacket::from_fragment(payload(len)) };
        let frags = fragment(&p, mtu, seq).unwrap();
        let mut r = Reassembler::new(ReassemblerConfig { max_frag_count: 1000, ..Default::default() });
        let n = frags.len();
        let mut out = None;
        for k in 0..n {
            let f = &frags[(k + rot) % n];
            prop_assert!(f.len() <= mtu);
            out = r.receive((), LpPacket::decode(f.clone()).unwrap(), Instant::now()).unwrap();
        }
        let whole = out.unwrap();
        prop_assert_eq!(whole.fragment.unwrap(), payload(len));
        prop_assert_eq!(whole.nack, Some(NackReason::Congestion));
    }
}

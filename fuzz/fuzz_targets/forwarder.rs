//! The forwarding core fed arbitrary frames on several faces, interleaved with valid traffic
//! and timer ticks: it never panics, its tables stay within their bounds, and valid traffic
//! on another face still gets through.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use nfwd_core::config::Config;
use nfwd_core::{Action, FaceInfo, FaceScope, Forwarder, LinkType, Persistency};
use nfwd_tlv::{DataBuilder, InterestBuilder, Name, Signer};

fn face(uri: &str, scope: FaceScope, mtu: Option<usize>) -> FaceInfo {
    FaceInfo {
        remote_uri: uri.into(),
        local_uri: "fuzz://".into(),
        scope,
        persistency: Persistency::Persistent,
        link_type: LinkType::PointToPoint,
        mtu,
        peer: None,
        channel: None,
    }
}

fuzz_target!(|input: &[u8]| {
    let mut config = Config::default();
    config.tables.pit_max_entries = 64;
    config.tables.cs_max_entries = 64;
    let mut now = Instant::now();
    let mut fwd = Forwarder::new(&config, now);
    let faces = [
        fwd.add_face(face("unix://a", FaceScope::Local, None), now),
        fwd.add_face(
            face("udp4://10.0.0.1:6363", FaceScope::NonLocal, Some(1200)),
            now,
        ),
        fwd.add_face(face("tcp4://10.0.0.2:6363", FaceScope::NonLocal, None), now),
    ];
    let witness = fwd.add_face(face("unix://witness", FaceScope::Local, None), now);
    let producer = fwd.add_face(face("unix://producer", FaceScope::Local, None), now);
    let prefix: Name = "/p".parse().expect("name");
    fwd.add_route(&prefix, producer, 0);
    fwd.add_route(&"/".parse().expect("name"), faces[1], 10);
    let mut out = Vec::new();
    // Frames: [face selector][length][bytes]...
    let mut rest = input;
    while let [sel, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        let face = faces[usize::from(*sel) % faces.len()];
        fwd.receive(now, face, frame, &mut out);
        if *sel & 0x80 != 0 {
            now += Duration::from_millis(u64::from(*len) * 10);
            fwd.on_timeout(now, &mut out);
        }
        assert!(fwd.pit().len() <= 64);
        assert!(fwd.cs().len() <= 64);
        out.clear();
    }
    // The witness still gets its Data through.
    let interest = InterestBuilder::new("/p/witness".parse().expect("name"))
        .nonce([9, 8, 7, 6])
        .encode();
    fwd.receive(now, witness, &interest, &mut out);
    let up = out
        .iter()
        .any(|a| matches!(a, Action::Send { face, .. } if *face == producer));
    out.clear();
    if up {
        let data = DataBuilder::new("/p/witness".parse().expect("name"), &b"ok"[..])
            .sign(&Signer::digest_sha256())
            .expect("data");
        fwd.receive(now, producer, &data, &mut out);
        assert!(
            out.iter()
                .any(|a| matches!(a, Action::Send { face, .. } if *face == witness))
        );
    }
});

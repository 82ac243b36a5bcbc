#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use nfwd_forwarder::security::Certificate;
use nfwd_tlv::{Data, DataBuilder, InterestBuilder, Name, Signer};

use super::*;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn spec() -> SfSpec {
    SfSpec::from_toml(
        "name = \"/sf/wc\"\nversion = \"2\"\ninput_type = \"text/plain\"\n\
         output_type = \"text/plain\"\n[artifact]\nkind = \"exec\"\nargv = [\"wc.sh\"]\n",
    )
    .unwrap()
}

fn key(identity: &str) -> (Signer, Certificate) {
    let key_name = name(identity).append_generic(b"KEY").append_generic(b"k1");
    let (signer, _) = Signer::generate_ed25519(key_name.clone()).unwrap();
    let cert = Certificate {
        name: key_name.clone(),
        key_name,
        key: signer.verify_key().unwrap(),
    };
    (signer, cert)
}

fn package_name() -> PackageName {
    PackageName::new(name("/pub"), name("/sf/wc"), Some(7))
}

/// A 25-byte artifact in 10-byte segments: three segments, the last one short.
fn packets(signer: &Signer) -> (Vec<u8>, PackagePackets) {
    let artifact: Vec<u8> = (0..25u8).collect();
    let manifest =
        Manifest::describe(&spec(), PackageKind::Process, "wc.sh", &artifact, 10).unwrap();
    let p = PackagePackets::build(package_name(), manifest, &artifact, signer).unwrap();
    (artifact, p)
}

/// What a fetcher does with manifest segments: verify each, concatenate, decode.
fn read_manifest(
    segments: &[Data],
    anchor: &Certificate,
    limits: &PackageLimits,
) -> Result<Manifest, PackageError> {
    let mut bytes = Vec::new();
    for d in segments {
        verify_manifest_segment(d, anchor)?;
        bytes.extend_from_slice(d.content());
    }
    Manifest::decode(&package_name(), &bytes, limits)
}

/// `data` with `content` instead of its own, its signature kept (what an attacker on the
/// path can do without the key).
fn with_content(data: &Data, content: &[u8]) -> Data {
    let info = data.signature_info().unwrap().unwrap();
    let value = data.signature_value().unwrap().clone();
    let mut b = DataBuilder::new(data.name().clone(), Bytes::copy_from_slice(content))
        .freshness_ms(data.freshness_period_ms());
    if let Some(f) = data.final_block_id() {
        b = b.final_block_id(f.clone());
    }
    Data::decode(b.encode_with(Some((&info, &value)))).unwrap()
}

#[test]
fn a_package_round_trips_and_every_segment_verifies() {
    let (signer, anchor) = key("/pub");
    let (artifact, p) = packets(&signer);
    assert_eq!(p.segments.len(), 3);
    assert_eq!(
        p.segments[0].name(),
        &name("/pub/sf-package/sf/wc/v=7/seg=0")
    );
    let m = read_manifest(&p.manifest_segments, &anchor, &PackageLimits::default()).unwrap();
    assert_eq!(m, p.manifest);
    assert_eq!((m.size, m.segments, m.segment_size), (25, 3, 10));
    assert_eq!(m.kind, PackageKind::Process);
    assert_eq!(
        (m.input_type.as_str(), m.version.as_str()),
        ("text/plain", "2")
    );
    let mut assembled = Vec::new();
    for (k, d) in p.segments.iter().enumerate() {
        m.verify_segment(&p.name, k as u64, d.content()).unwrap();
        assert_eq!(d.final_block_id().and_then(|c| c.as_segment()), Some(2));
        assembled.extend_from_slice(d.content());
    }
    assert_eq!(assembled, artifact);
    m.verify_artifact(&p.name, &nfwd_tlv::signature::sha256(&[&assembled]))
        .unwrap();
}

#[test]
fn a_tampered_segment_is_refused_by_its_digest() {
    let (signer, _) = key("/pub");
    let (_, p) = packets(&signer);
    let mut content = p.segments[1].content().to_vec();
    content[3] ^= 1;
    let e = p.manifest.verify_segment(&p.name, 1, &content).unwrap_err();
    assert!(
        matches!(e, PackageError::SegmentDigest { segment: 1, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("segment 1 of /pub/sf-package/sf/wc/v=7"),
        "{e}"
    );
    // Truncated: the size is wrong before the digest is looked at.
    let e = p
        .manifest
        .verify_segment(&p.name, 2, &content[..4])
        .unwrap_err();
    assert!(
        matches!(
            e,
            PackageError::SegmentSize {
                segment: 2,
                expected: 5,
                got: 4,
                ..
            }
        ),
        "{e}"
    );
    // A segment the manifest does not list.
    assert!(p.manifest.verify_segment(&p.name, 3, &[]).is_err());
    // The whole artifact, altered.
    let e = p.manifest.verify_artifact(&p.name, &[0; 32]).unwrap_err();
    assert!(matches!(e, PackageError::ArtifactDigest { .. }), "{e}");
}

#[test]
fn a_tampered_manifest_or_another_key_is_refused() {
    let (signer, anchor) = key("/pub");
    let (_, p) = packets(&signer);
    // One byte of the manifest changed, the signature kept.
    let mut altered = p.manifest_segments[0].content().to_vec();
    altered[2] ^= 0x20;
    let forged = with_content(&p.manifest_segments[0], &altered);
    let e = verify_manifest_segment(&forged, &anchor).unwrap_err();
    assert!(matches!(e, PackageError::ManifestSignature { .. }), "{e}");

    // Signed by another key: refused, and the message names both keys.
    let (other, _) = key("/mallory");
    let (_, q) = packets(&other);
    let e = read_manifest(&q.manifest_segments, &anchor, &PackageLimits::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("/pub/KEY/k1") && text.contains("/mallory/KEY/k1"),
        "{text}"
    );

    // DigestSha256 (no key at all): refused to build, and refused to verify.
    assert!(
        PackagePackets::build(
            package_name(),
            p.manifest.clone(),
            &[],
            &Signer::digest_sha256()
        )
        .is_err()
    );
    let unsigned = DataBuilder::new(
        p.name.manifest().append_segment(0),
        p.manifest.encode().unwrap(),
    )
    .build(&Signer::digest_sha256())
    .unwrap();
    let e = verify_manifest_segment(&unsigned, &anchor).unwrap_err();
    assert!(e.to_string().contains("DigestSha256"), "{e}");
}

/// The manifest JSON with `edit` applied to its object.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let (signer, _) = key("/pub");
    let (_, p) = packets(&signer);
    let mut v = serde_json::to_value(&p.manifest).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn a_docker_manifest_names_its_image_and_runs_a_program_inside_it() {
    let limits = PackageLimits::default();
    let id = format!("sha256:{}", "ab".repeat(32));
    let docker = |edit: &dyn Fn(&mut serde_json::Value)| {
        edited(|v| {
            v["kind"] = "docker".into();
            v["image"] = id.clone().into();
            v["spec"]["backend"] = "docker".into();
            v["spec"]["artifact"]["argv"] = serde_json::json!(["/app/wc", "-l"]);
            edit(v);
        })
    };
    let m = Manifest::decode(&package_name(), &docker(&|_| {}), &limits).unwrap();
    assert_eq!(m.kind, PackageKind::Docker);
    assert_eq!(m.image.as_deref(), Some(id.as_str()));
    // A process manifest is encoded without the field (old fetchers read it unchanged).
    assert!(!String::from_utf8(edited(|_| {})).unwrap().contains("image"));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            docker(&|v| {
                v.as_object_mut().unwrap().remove("image").unwrap();
            }),
            "without its image ID",
        ),
        (docker(&|v| v["image"] = "latest".into()), "not sha256"),
        (
            docker(&|v| v["image"] = id.to_uppercase().replace("SHA256", "sha256").into()),
            "lower-case",
        ),
        (
            docker(&|v| v["spec"]["backend"] = "process".into()),
            "not backend = \"docker\"",
        ),
        (
            docker(&|v| v["spec"]["artifact"]["argv"] = serde_json::json!(["wc"])),
            "absolute path inside the image",
        ),
        (
            docker(&|v| {
                v["spec"]["artifact"] = serde_json::json!({"kind": "builtin", "function": "upper"});
            }),
            "absolute path inside the image",
        ),
        (
            edited(|v| v["image"] = id.clone().into()),
            "a process package names an image",
        ),
    ];
    for (bytes, needle) in cases {
        let e = Manifest::decode(&package_name(), &bytes, &limits)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "expected {needle:?} in {e}");
    }
}

#[test]
fn hostile_or_broken_manifests_are_refused_with_what_is_wrong() {
    let limits = PackageLimits::default();
    let decode = |bytes: &[u8]| Manifest::decode(&package_name(), bytes, &limits).unwrap_err();
    let good = edited(|_| {});
    Manifest::decode(&package_name(), &good, &limits).unwrap();

    let e = decode(&good[..good.len() / 2]);
    assert!(
        matches!(e, PackageError::BadManifest { .. }),
        "truncated: {e}"
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            edited(|v| v["segments"] = 1_000_000.into()),
            "segment count 1000000 exceeds the limit of 65536",
        ),
        (
            edited(|v| v["size"] = (u64::MAX / 2).into()),
            "artifact size",
        ),
        (
            edited(|v| v["file_name"] = "../../etc/passwd".into()),
            "not one plain path component",
        ),
        (edited(|v| v["file_name"] = ".hidden".into()), "plain path"),
        (
            edited(|v| v["version"] = "x".repeat(10_000).into()),
            "version 10000",
        ),
        (edited(|v| v["format"] = "other/9".into()), "format"),
        (
            edited(|v| v["function"] = "/sf/other".into()),
            "package name is for /sf/wc",
        ),
        (
            edited(|v| {
                v["segment_sha256"].as_array_mut().unwrap().pop();
            }),
            "2 segment digests for 3 segments",
        ),
        (
            edited(|v| v["segment_sha256"][0] = "zz".into()),
            "64 hex digits",
        ),
        (edited(|v| v["segment_size"] = 0.into()), "segment size 0"),
        (edited(|v| v["size"] = 31.into()), "make 4"),
        (edited(|v| v["unexpected"] = 1.into()), "unexpected"),
    ];
    for (bytes, needle) in cases {
        let e = decode(&bytes).to_string();
        assert!(e.contains(needle), "expected {needle:?} in {e}");
    }
    // More bytes than the manifest limit: refused before parsing.
    let small = PackageLimits {
        max_manifest_bytes: 100,
        ..PackageLimits::default()
    };
    let e = Manifest::decode(&package_name(), &good, &small).unwrap_err();
    assert!(matches!(e, PackageError::Limit { what: "size", .. }), "{e}");
}

#[test]
fn package_names_parse_and_bad_ones_are_refused() {
    let limits = PackageLimits::default();
    let p = PackageName::parse(&name("/a/b/sf-package/sf/wc/v=3"), &limits).unwrap();
    assert_eq!(p, PackageName::new(name("/a/b"), name("/sf/wc"), Some(3)));
    assert_eq!(
        p.manifest().to_string(),
        "/a/b/sf-package/sf/wc/v=3/32=manifest"
    );
    let latest = PackageName::parse(&name("/sf-package/f"), &limits).unwrap();
    assert_eq!(latest, PackageName::new(Name::new(), name("/f"), None));
    assert_eq!(latest.base(), name("/sf-package/f"));
    for bad in [
        "/a/b/sf/wc",
        "/a/sf-package",
        "/a/sf-package/v=3",
        "/a/sf-package/f/seg=1",
    ] {
        assert!(PackageName::parse(&name(bad), &limits).is_err(), "{bad}");
    }
    let long = format!("/sf-package/{}", "x".repeat(3000));
    assert!(PackageName::parse(&name(&long), &limits).is_err());
}

#[test]
fn the_publisher_answers_discovery_with_the_manifest_and_segments_by_name() {
    let (signer, _) = key("/pub");
    let (_, p) = packets(&signer);
    let latest = InterestBuilder::new(p.name.base())
        .can_be_prefix(true)
        .must_be_fresh(true)
        .build()
        .unwrap();
    assert_eq!(
        p.answer(&latest).unwrap().name(),
        &p.name.manifest().append_segment(0)
    );
    let seg = InterestBuilder::new(p.name.versioned().append_segment(2))
        .build()
        .unwrap();
    assert_eq!(p.answer(&seg).unwrap().content().len(), 5);
    let beyond = InterestBuilder::new(p.name.versioned().append_segment(3))
        .build()
        .unwrap();
    assert!(p.answer(&beyond).is_none());
    // Without CanBePrefix the base names no packet.
    let plain = InterestBuilder::new(p.name.base()).build().unwrap();
    assert!(p.answer(&plain).is_none());
}

/// A client whose forwarder is the test: `answer` is given every Interest the client sends
/// and returns the frame to send back (if any). Stands in for a forwarder in a state that
/// cannot be produced on demand (a queue building up, an upstream failing over).
fn raw_peer(
    mut answer: impl FnMut(&Interest) -> Option<Bytes> + Send + 'static,
) -> (Client, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (near, mut far) = tokio::io::duplex(1 << 20);
    let client = Client::from_stream(near, nfwd_forwarder::client::ClientConfig::default());
    let task = tokio::spawn(async move {
        let mut buf = bytes::BytesMut::new();
        loop {
            let frame = loop {
                if let Some(n) = nfwd_tlv::element::frame_len(&buf).unwrap() {
                    break buf.split_to(n).freeze();
                }
                if far.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
            };
            let Ok(interest) = Interest::decode(frame) else {
                continue;
            };
            if let Some(wire) = answer(&interest)
                && far.write_all(&wire).await.is_err()
            {
                return;
            }
        }
    });
    (client, task)
}

/// A 200,000-byte package in 1000-byte segments.
fn big_package(signer: &Signer) -> (Vec<u8>, Arc<PackagePackets>) {
    let artifact: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let manifest =
        Manifest::describe(&spec(), PackageKind::Process, "wc.sh", &artifact, 1000).unwrap();
    let p = Arc::new(PackagePackets::build(package_name(), manifest, &artifact, signer).unwrap());
    (artifact, p)
}

/// The artifact segment number `data` is, if it is one of `p`'s.
fn artifact_segment(p: &PackagePackets, data: &Data) -> Option<u64> {
    data.name()
        .last()
        .and_then(|c| c.as_segment())
        .filter(|_| p.segments.iter().any(|s| s.name() == data.name()))
}

/// The peer answers every Interest from the package, with an NDNLPv2 CongestionMark on the
/// artifact segments in `marked`.
#[tokio::test]
async fn congestion_marks_shrink_the_window_without_losing_a_segment() {
    let (signer, anchor) = key("/pub");
    let (artifact, p) = big_package(&signer);
    let marked: std::collections::HashSet<u64> = [20, 21, 22, 60, 120].into();
    let (client, peer) = raw_peer({
        let p = Arc::clone(&p);
        let marked = marked.clone();
        move |interest| {
            let data = p.answer(interest)?;
            let wire = data.wire().clone();
            Some(
                if artifact_segment(&p, data).is_some_and(|k| marked.contains(&k)) {
                    nfwd_tlv::lp::with_congestion_mark(wire).unwrap()
                } else {
                    wire
                },
            )
        }
    });
    let out = tempfile::tempdir().unwrap();
    let opts = fetch::FetchOptions {
        max_window: 64,
        ..fetch::FetchOptions::default()
    };
    let report = fetch::fetch_package(&client, &package_name(), &anchor, out.path(), &opts)
        .await
        .unwrap();
    peer.abort();
    assert_eq!(std::fs::read(&report.artifact).unwrap(), artifact);
    // Every marked segment arrived once and counted; nothing timed out or was sent again.
    assert_eq!(report.window.congestion_marks, marked.len() as u64);
    assert_eq!(report.window.timeouts, 0);
    assert_eq!(
        report.window.interests,
        p.segments.len() as u64 + p.manifest_segments.len() as u64
    );
    // Marks close together are one event (one halving); the three groups are three at most.
    assert!(
        (1..=3).contains(&report.window.decreases),
        "{:?}",
        report.window
    );
    assert!(report.window.max_window < 64, "{:?}", report.window);
}

/// A relay whose upstream fails over Nacks NoRoute for a while: the pull pauses and asks
/// again; a route that never comes back ends it, after the retries, naming the segment.
#[tokio::test]
async fn a_passing_no_route_is_waited_out_and_a_lasting_one_ends_the_pull() {
    let (signer, anchor) = key("/pub");
    let (artifact, p) = big_package(&signer);
    let nack = |interest: &Interest| {
        let mut wire = bytes::BytesMut::new();
        nfwd_tlv::lp::LpPacket::nack(nfwd_tlv::lp::NackReason::NoRoute, interest.wire().clone())
            .encode_to(&mut wire);
        wire.freeze()
    };
    // Segments 30..40 are Nacked twice each, then answered.
    let mut nacked = std::collections::HashMap::<u64, u32>::new();
    let (client, peer) = raw_peer({
        let p = Arc::clone(&p);
        move |interest| {
            let data = p.answer(interest)?;
            if let Some(k) = artifact_segment(&p, data).filter(|k| (30..40).contains(k)) {
                let n = nacked.entry(k).or_default();
                if *n < 2 {
                    *n += 1;
                    return Some(nack(interest));
                }
            }
            Some(data.wire().clone())
        }
    });
    let out = tempfile::tempdir().unwrap();
    let opts = fetch::FetchOptions::default();
    let report = fetch::fetch_package(&client, &package_name(), &anchor, out.path(), &opts)
        .await
        .unwrap();
    peer.abort();
    assert_eq!(std::fs::read(&report.artifact).unwrap(), artifact);
    assert_eq!(report.window.nacks, 20);
    // The window did not shrink for them: no congestion was seen.
    assert_eq!(report.window.decreases, 0, "{:?}", report.window);

    // Segment 7 never gets a route again.
    let (client, peer) = raw_peer({
        let p = Arc::clone(&p);
        move |interest| {
            let data = p.answer(interest)?;
            if artifact_segment(&p, data) == Some(7) {
                return Some(nack(interest));
            }
            Some(data.wire().clone())
        }
    });
    let out = tempfile::tempdir().unwrap();
    let opts = fetch::FetchOptions {
        max_retries: 2,
        ..fetch::FetchOptions::default()
    };
    let e = fetch::fetch_package(&client, &package_name(), &anchor, out.path(), &opts)
        .await
        .unwrap_err()
        .to_string();
    peer.abort();
    assert!(e.contains("seg=7") && e.contains("NoRoute, 3 tries"), "{e}");
}

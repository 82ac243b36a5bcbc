//! A daemon with several forwarding threads (`forwarding.threads`): Interests spread over
//! every shard by their first name component, answers with and without our PIT token reach
//! their Interests, routes registered through management (the leader's) forward on every
//! shard, and a producer that goes away leaves no shard's Interests waiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use nfwd_forwarder::client::{Client, FetchOptions, Incoming, Reply};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::core::pit::shard_of_token;
use nfwd_forwarder::driver::Daemon;
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::nfd::ForwarderStatus;
use nfwd_tlv::{DataBuilder, InterestBuilder, Name, Signer};

const SHARDS: u8 = 4;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nfwd-sharding-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn sharded_daemon(tag: &str) -> (Daemon, PathBuf) {
    let dir = temp_dir(tag);
    let mut c = Config::default();
    c.faces.unix_path = Some(dir.join("nfwd.sock"));
    c.faces.tcp_listen = String::new();
    c.faces.udp_listen = "127.0.0.1:0".into();
    c.forwarding.threads = SHARDS;
    (Daemon::start(c).await.unwrap(), dir)
}

async fn client_of(d: &Daemon) -> Client {
    Client::connect(&format!("unix://{}", d.unix_path().unwrap().display()))
        .await
        .unwrap()
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// `producer` registers and listens to each of `prefixes`, in order.
async fn listen_each(producer: &Client, prefixes: &[Name]) -> Vec<Incoming> {
    let mut incoming = Vec::new();
    for p in prefixes {
        incoming.push(producer.listen(p.clone()).await.unwrap());
    }
    incoming
}

/// `/<stem>0` ... `/<stem><n-1>`: first components of their own, spread over the threads.
fn numbered(stem: &str, n: usize) -> Vec<Name> {
    (0..n).map(|k| name(&format!("/{stem}{k}"))).collect()
}

#[tokio::test]
async fn every_shard_forwards_and_answers_find_their_interests() {
    let (daemon, dir) = sharded_daemon("spread").await;
    let producer = client_of(&daemon).await;
    // 64 first components: every shard owns some (all but certainly: 4 × (3/4)^64).
    let prefixes = numbered("s", 64);
    let incoming = listen_each(&producer, &prefixes).await;
    let shards = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    for (k, mut inc) in incoming.into_iter().enumerate() {
        let producer = producer.clone();
        let shards = std::sync::Arc::clone(&shards);
        tokio::spawn(async move {
            while let Some(i) = inc.next().await {
                let token = i.pit_token().and_then(|t| t.as_u64()).expect("our token");
                shards.lock().unwrap().insert(shard_of_token(token));
                let data = DataBuilder::new(i.interest().name().clone(), b"x".to_vec())
                    .build(&Signer::digest_sha256())
                    .unwrap();
                if k % 2 == 0 {
                    // Echoing the token: the face task reads the shard from it.
                    i.reply(Reply::Data(data)).await.unwrap();
                } else {
                    // As many local applications do: no token, so by the name's hash.
                    producer.send_raw(data.wire().clone()).await.unwrap();
                }
            }
        });
    }
    let consumer = client_of(&daemon).await;
    let mut asked = Vec::new();
    for p in &prefixes {
        let consumer = consumer.clone();
        let n = p.append_generic(b"item");
        asked.push(tokio::spawn(async move {
            let i = InterestBuilder::new(n.clone())
                .lifetime_ms(4000)
                .build()
                .unwrap();
            let d = tokio::time::timeout(Duration::from_secs(10), consumer.express(i))
                .await
                .expect("answered in time")
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(d.name(), &n);
        }));
    }
    for a in asked {
        a.await.unwrap();
    }
    let seen = shards.lock().unwrap().clone();
    assert_eq!(
        seen,
        (0..SHARDS).collect::<BTreeSet<u8>>(),
        "every shard forwarded"
    );
    // status/general sums the shards' figures (the followers report every 500 ms).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let raw = consumer
            .fetch_dataset(
                &name("/localhost/nfd/status/general"),
                &FetchOptions::default(),
            )
            .await
            .unwrap();
        let status = ForwarderStatus::decode(&raw).unwrap();
        if status.n_satisfied_interests >= 64 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "satisfied Interests of every shard: {}",
            status.n_satisfied_interests
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_producer_that_goes_leaves_no_shards_interests_waiting() {
    let (daemon, dir) = sharded_daemon("gone").await;
    let producer = client_of(&daemon).await;
    let mut listening = listen_each(&producer, &numbered("q", 32)).await;
    let mut shards = BTreeSet::new();
    let consumer = client_of(&daemon).await;
    let mut asked = Vec::new();
    for k in 0..32 {
        let consumer = consumer.clone();
        let i = InterestBuilder::new(name(&format!("/q{k}/x")))
            .lifetime_ms(30_000)
            .build()
            .unwrap();
        asked.push(tokio::spawn(async move { consumer.express(i).await }));
    }
    // Every Interest reached the producer (which never answers) before it goes.
    for inc in &mut listening {
        let i = tokio::time::timeout(Duration::from_secs(10), inc.next())
            .await
            .unwrap()
            .unwrap();
        let token = i.pit_token().and_then(|t| t.as_u64()).unwrap();
        shards.insert(shard_of_token(token));
    }
    assert!(shards.len() > 1, "the Interests were spread: {shards:?}");
    drop(listening);
    drop(producer);
    // Each shard answers its own at once (Nack), rather than letting them wait 30 s.
    for a in asked {
        let r = tokio::time::timeout(Duration::from_secs(10), a)
            .await
            .expect("answered when the producer went")
            .unwrap();
        match r {
            Err(nfwd_forwarder::Error::Nack(reason)) => assert_eq!(reason, NackReason::NoRoute),
            other => panic!("expected a Nack, got {other:?}"),
        }
    }
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn forwarding_threads_are_1_to_64() {
    for bad in [0u8, 65] {
        let mut c = Config::default();
        c.forwarding.threads = bad;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("forwarding.threads"), "{e}");
    }
}

/// The remote URIs of the daemon's faces.
async fn face_uris(client: &Client) -> Vec<String> {
    let raw = client
        .fetch_dataset(&name("/localhost/nfd/faces/list"), &FetchOptions::default())
        .await
        .unwrap();
    nfwd_tlv::nfd::decode_all::<nfwd_tlv::nfd::FaceStatus>(&raw)
        .unwrap()
        .into_iter()
        .map(|f| f.uri.to_string())
        .collect()
}

#[tokio::test]
async fn a_face_whose_frames_all_go_to_a_follower_is_not_idle() {
    let dir = temp_dir("idle");
    let mut c = Config::default();
    c.faces.unix_path = Some(dir.join("nfwd.sock"));
    c.faces.tcp_listen = String::new();
    c.faces.udp_listen = "127.0.0.1:0".into();
    c.faces.idle_timeout_s = 1;
    c.forwarding.threads = 2;
    let daemon = Daemon::start(c).await.unwrap();
    let client = client_of(&daemon).await;
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.connect(daemon.udp_addr().unwrap()).await.unwrap();
    let me = format!("udp4://{}", peer.local_addr().unwrap());
    // A Data with a token naming shard 1: the leader never sees it (unsolicited, dropped
    // there, but it is traffic on the face).
    let data = DataBuilder::new(name("/x"), b"x".to_vec())
        .build(&Signer::digest_sha256())
        .unwrap();
    let frame = nfwd_tlv::lp::LpPacket::from_fragment(data.wire().clone())
        .with_pit_token(nfwd_tlv::lp::PitToken::from_u64(1 << 56))
        .encode();
    for _ in 0..15 {
        peer.send(&frame).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        face_uris(&client).await.contains(&me),
        "active for 3 s with a 1 s idle timeout"
    );
    // Silent now: closed as idle.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while face_uris(&client).await.contains(&me) {
        assert!(std::time::Instant::now() < deadline, "never closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn answers_to_short_can_be_prefix_interests_find_them_on_another_thread() {
    // Names go by two components (the default): a CanBePrefix Interest of one component and
    // its Data, two longer and without our token, often belong to different threads.
    let (daemon, dir) = sharded_daemon("prefix").await;
    let producer = client_of(&daemon).await;
    let incoming = listen_each(&producer, &numbered("r", 32)).await;
    for mut inc in incoming {
        let producer = producer.clone();
        tokio::spawn(async move {
            while let Some(i) = inc.next().await {
                let n = i.interest().name().append_generic(b"v").append_segment(1);
                let data = DataBuilder::new(n, b"x".to_vec())
                    .build(&Signer::digest_sha256())
                    .unwrap();
                producer.send_raw(data.wire().clone()).await.unwrap();
            }
        });
    }
    let consumer = client_of(&daemon).await;
    let mut asked = Vec::new();
    for k in 0..32 {
        let consumer = consumer.clone();
        asked.push(tokio::spawn(async move {
            let i = InterestBuilder::new(name(&format!("/r{k}")))
                .can_be_prefix(true)
                .lifetime_ms(4000)
                .build()
                .unwrap();
            tokio::time::timeout(Duration::from_secs(10), consumer.express(i))
                .await
                .expect("answered in time")
                .unwrap_or_else(|e| panic!("/r{k}: {e}"))
        }));
    }
    for a in asked {
        let d = a.await.unwrap();
        assert_eq!(d.name().len(), 3);
    }
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

//! The client library against real peers: a raw in-memory stream the test drives by hand, and
//! the forwarder stand-in fixture (`support/standin.rs`, a test fixture, not the daemon).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/standin.rs"]
mod standin;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use nfwd_forwarder::Error;
use nfwd_forwarder::client::{
    Client, ClientConfig, FetchOptions, PublishOptions, Reply, answer_data,
};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::Daemon;
use nfwd_tlv::element::frame_len;
use nfwd_tlv::lp::{LpPacket, NackReason, PitToken};
use nfwd_tlv::nfd::{CommandFormat, ControlCommand};
use nfwd_tlv::{Data, DataBuilder, FunctionChain, Interest, InterestBuilder, Name, Signer};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The forwarder under test, chosen by `$NFWD_TEST_FORWARDER`:
/// - unset or empty: a fresh stand-in fixture (`support/standin.rs`);
/// - `daemon`: the real nfwd daemon, started in-process on a temporary Unix socket;
/// - a face URI: an nfwd or NFD already running there.
///
/// Fault injection exists only in the stand-in; tests skip those parts otherwise.
struct Fixture {
    uri: String,
    standin: Option<standin::StandIn>,
    _daemon: Option<Daemon>,
}

async fn forwarder() -> Fixture {
    match std::env::var("NFWD_TEST_FORWARDER")
        .unwrap_or_default()
        .as_str()
    {
        "" => {
            let s = standin::start().await;
            Fixture {
                uri: s.uri(),
                standin: Some(s),
                _daemon: None,
            }
        }
        "daemon" => {
            static N: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "nfwd-client-daemon-{}-{}.sock",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let mut config = Config::default();
            config.faces.unix_path = Some(path.clone());
            config.faces.tcp_listen = String::new();
            config.faces.udp_listen = String::new();
            let daemon = Daemon::start(config).await.unwrap();
            Fixture {
                uri: format!("unix://{}", path.display()),
                standin: None,
                _daemon: Some(daemon),
            }
        }
        uri => Fixture {
            uri: uri.to_owned(),
            standin: None,
            _daemon: None,
        },
    }
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn chain(s: &str) -> FunctionChain {
    s.parse().unwrap()
}

/// Reads one packet from the far end of a duplex pipe.
async fn read_packet(peer: &mut DuplexStream, buf: &mut BytesMut) -> Bytes {
    loop {
        if let Some(n) = frame_len(buf).unwrap() {
            return buf.split_to(n).freeze();
        }
        assert!(peer.read_buf(buf).await.unwrap() > 0, "peer closed");
    }
}

fn data_wire(n: &Name, c: Option<&str>, content: &'static [u8]) -> Bytes {
    DataBuilder::new(n.clone(), content)
        .function_chain(c.map(chain))
        .sign(&Signer::digest_sha256())
        .unwrap()
}

#[tokio::test]
async fn express_matches_name_and_chain_with_partial_and_coalesced_frames() {
    let (a, mut peer) = tokio::io::duplex(1 << 16);
    let client = Client::from_stream(a, ClientConfig::default());
    let interest = InterestBuilder::new(name("/rs1/lamp"))
        .can_be_prefix(true)
        .function_chain(Some(chain("/sf/F2,/sf/F1")))
        .build()
        .unwrap();
    let task = tokio::spawn({
        let client = client.clone();
        async move { client.express(interest).await }
    });
    let mut buf = BytesMut::new();
    let sent = Interest::decode(read_packet(&mut peer, &mut buf).await).unwrap();
    assert!(sent.nonce().is_some(), "a Nonce is filled in");
    assert_eq!(sent.function_chain(), Some(&chain("/sf/F2,/sf/F1")));
    let dn = name("/rs1/lamp/2256");
    // Raw Data and a Data of another chain must not satisfy the chained Interest; they are
    // written coalesced with the first half of the right one, whose rest comes separately.
    let right = data_wire(&dn, Some("/sf/F2,/sf/F1"), b"result");
    let mut stream = BytesMut::new();
    stream.extend_from_slice(&data_wire(&dn, None, b"raw"));
    stream.extend_from_slice(&data_wire(&dn, Some("/sf/F1"), b"partial"));
    stream.extend_from_slice(&data_wire(&name("/other"), Some("/sf/F2,/sf/F1"), b"x"));
    stream.extend_from_slice(&right[..10]);
    peer.write_all(&stream).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    peer.write_all(&right[10..]).await.unwrap();
    let data = task.await.unwrap().unwrap();
    assert_eq!(&data.content()[..], b"result");
    assert_eq!(data.function_chain(), Some(&chain("/sf/F2,/sf/F1")));
    assert_eq!(client.pending_count(), 0);
}

#[tokio::test]
async fn unanswered_interest_times_out_and_closed_connection_fails() {
    let (a, peer) = tokio::io::duplex(1 << 16);
    let client = Client::from_stream(a, ClientConfig::default());
    let i = InterestBuilder::new(name("/nobody"))
        .lifetime_ms(100)
        .build()
        .unwrap();
    assert!(matches!(
        client.express(i.clone()).await,
        Err(Error::Timeout)
    ));
    assert_eq!(client.pending_count(), 0, "timed-out entries are removed");
    let waiting = tokio::spawn({
        let client = client.clone();
        let i = InterestBuilder::new(name("/nobody")).build().unwrap();
        async move { client.express(i).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(peer);
    assert!(matches!(waiting.await.unwrap(), Err(Error::Closed)));
    assert!(matches!(client.express(i).await, Err(Error::Closed)));
}

#[tokio::test]
async fn garbage_from_the_peer_does_not_panic() {
    let (a, mut peer) = tokio::io::duplex(1 << 16);
    let client = Client::from_stream(a, ClientConfig::default());
    // A well-framed but undecodable Data, an unknown TLV, then a bad header that desyncs the
    // stream: the client drops the first two and closes on the third.
    peer.write_all(&[0x06, 0x02, 0xFF, 0xFF, 0x09, 0x00, 0xFF, 0xFF, 0xFF])
        .await
        .unwrap();
    let i = InterestBuilder::new(name("/x"))
        .lifetime_ms(300)
        .build()
        .unwrap();
    let r = client.express(i).await;
    assert!(matches!(r, Err(Error::Closed | Error::Timeout)), "{r:?}");
}

#[tokio::test]
async fn nack_surfaces_as_error() {
    let fwd = forwarder().await;
    let uri = fwd.uri.clone();
    let consumer = Client::connect(&uri).await.unwrap();
    let i = InterestBuilder::new(name("/nowhere")).build().unwrap();
    assert!(matches!(
        consumer.express(i).await,
        Err(Error::Nack(NackReason::NoRoute))
    ));
    // A producer's Nack travels back too.
    let producer = Client::connect(&uri).await.unwrap();
    let _h = producer
        .serve(name("/busy"), |_| async {
            Reply::Nack(NackReason::Congestion)
        })
        .await
        .unwrap();
    let i = InterestBuilder::new(name("/busy/x")).build().unwrap();
    assert!(matches!(
        consumer.express(i).await,
        Err(Error::Nack(NackReason::Congestion))
    ));
}

#[tokio::test]
async fn register_sends_v03_command_and_reports_status() {
    let fwd = forwarder().await;
    let uri = fwd.uri.clone();
    let c = Client::connect(&uri).await.unwrap();
    c.register(&name("/ok")).await.unwrap();
    c.unregister(&name("/ok")).await.unwrap();
    // Refusals and the commands' format can only be arranged and observed in the stand-in.
    let Some(fwd) = fwd.standin else { return };
    fwd.knobs
        .lock()
        .unwrap()
        .refuse
        .insert(name("/forbidden"), 403);
    match c.register(&name("/forbidden")).await {
        Err(Error::Management { code: 403, text }) => assert!(text.contains("refused")),
        other => panic!("unexpected {other:?}"),
    }
    let k = fwd.knobs.lock().unwrap();
    assert_eq!(k.commands.len(), 3);
    for i in &k.commands {
        let cmd = ControlCommand::parse(i).unwrap();
        assert_eq!(cmd.format(), CommandFormat::V03);
        assert_eq!(cmd.module(), "rib");
        assert!(
            cmd.parameters().face_id.is_none(),
            "FaceId left to the forwarder"
        );
        let key = Signer::digest_sha256().verify_key().unwrap();
        cmd.verify(&key).unwrap();
    }
}

#[tokio::test]
async fn segmented_fetch_retransmits_a_lost_segment() {
    let fwd = forwarder().await;
    let uri = fwd.uri.clone();
    let producer = Client::connect(&uri).await.unwrap();
    let payload: Bytes = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let opts = PublishOptions {
        version: Some(7),
        ..PublishOptions::default()
    };
    let (publication, _h) = producer
        .publish(
            name("/big"),
            payload.clone(),
            &opts,
            &Signer::digest_sha256(),
        )
        .await
        .unwrap();
    assert_eq!(publication.segments().len(), 13);
    if let Some(fwd) = &fwd.standin {
        fwd.knobs
            .lock()
            .unwrap()
            .drop_once
            .push(name("/big/v=7").append_segment(5));
    }
    let consumer = Client::connect(&uri).await.unwrap();
    let fetch_opts = FetchOptions {
        lifetime_ms: 300,
        window: 4,
        ..FetchOptions::default()
    };
    let (got_name, content) = consumer
        .fetch(&name("/big"), None, &fetch_opts)
        .await
        .unwrap();
    assert_eq!(got_name, name("/big/v=7"));
    assert_eq!(content, payload);
    if let Some(fwd) = &fwd.standin {
        assert_eq!(
            fwd.knobs.lock().unwrap().dropped,
            1,
            "segment 5 was lost once"
        );
    }
    assert_eq!(consumer.pending_count(), 0);
}

#[tokio::test]
async fn fetch_of_a_single_data_and_of_a_missing_name() {
    let fwd = forwarder().await;
    let uri = fwd.uri.clone();
    let producer = Client::connect(&uri).await.unwrap();
    let signer = Arc::new(Signer::digest_sha256());
    let _h = producer
        .serve(name("/one"), move |i| {
            let signer = Arc::clone(&signer);
            async move { Reply::Data(answer_data(&i, &b"hello"[..], Some(1000), &signer).unwrap()) }
        })
        .await
        .unwrap();
    let consumer = Client::connect(&uri).await.unwrap();
    let (n, content) = consumer
        .fetch(&name("/one"), None, &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(n, name("/one"));
    assert_eq!(&content[..], b"hello");
    let r = consumer
        .fetch(&name("/none"), None, &FetchOptions::default())
        .await;
    assert!(matches!(r, Err(Error::Nack(NackReason::NoRoute))));
}

#[tokio::test]
async fn chained_fetch_through_a_service_function() {
    let fwd = forwarder().await;
    let uri = fwd.uri.clone();
    let producer = Client::connect(&uri).await.unwrap();
    let payload: Bytes = b"abcdefghij".repeat(2000).into();
    let small = PublishOptions {
        segment_size: 3000,
        version: Some(1),
        ..PublishOptions::default()
    };
    let (_p, _hp) = producer
        .publish(
            name("/rs1/text"),
            payload.clone(),
            &small,
            &Signer::digest_sha256(),
        )
        .await
        .unwrap();

    // The SF registers its function name; the stand-in pops the head, so the SF sees the
    // content name with the rest of the stack (here none) and answers with stack `F, S`.
    let sf = Client::connect(&uri).await.unwrap();
    let mut incoming = sf.listen_function(name("/sf/upper")).await.unwrap();
    let sf_task = tokio::spawn({
        let sf = sf.clone();
        async move {
            let mut served = std::collections::HashMap::new();
            while let Some(inc) = incoming.next().await {
                let i = inc.interest().clone();
                let rest = i.function_chain().cloned();
                let my_chain = FunctionChain::pushed(name("/sf/upper"), rest.as_ref()).unwrap();
                if !served.contains_key(i.name()) {
                    // Fetch the input (only for the first Interest of a content name).
                    let (in_name, input) = sf
                        .fetch(i.name(), rest, &FetchOptions::default())
                        .await
                        .unwrap();
                    let out = Bytes::from(input.to_ascii_uppercase());
                    let opts = PublishOptions {
                        chain: Some(my_chain),
                        ..small.clone()
                    };
                    let p = nfwd_forwarder::client::Publication::new(
                        in_name,
                        out,
                        &opts,
                        &Signer::digest_sha256(),
                    )
                    .unwrap();
                    for d in p.segments() {
                        served.insert(d.name().clone(), d.clone());
                    }
                    served.insert(i.name().clone(), p.segments()[0].clone());
                }
                let reply = served
                    .get(i.name())
                    .map_or(Reply::None, |d| Reply::Data(d.clone()));
                inc.reply(reply).await.unwrap();
            }
        }
    });

    let consumer = Client::connect(&uri).await.unwrap();
    let (n, content) = consumer
        .fetch(
            &name("/rs1/text"),
            Some(chain("/sf/upper")),
            &FetchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, name("/rs1/text/v=1"));
    assert_eq!(content, Bytes::from(payload.to_ascii_uppercase()));
    sf_task.abort();
}

#[tokio::test]
async fn many_concurrent_expressions_on_one_connection() {
    let fwd = forwarder().await;
    let uri = fwd.uri.clone();
    let producer = Client::connect(&uri).await.unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let _h = producer
        .serve(name("/echo"), {
            let seen = Arc::clone(&seen);
            move |i| {
                seen.fetch_add(1, Ordering::Relaxed);
                async move {
                    // Answer out of order.
                    let last = i.name().last().unwrap();
                    let n = u64::from(last.value()[3]);
                    tokio::time::sleep(Duration::from_millis(n % 7)).await;
                    let content = Bytes::copy_from_slice(last.value());
                    Reply::Data(answer_data(&i, content, None, &Signer::digest_sha256()).unwrap())
                }
            }
        })
        .await
        .unwrap();
    let consumer = Client::connect(&uri).await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for k in 0..200u32 {
        let c = consumer.clone();
        set.spawn(async move {
            let n = name("/echo").append_generic(&k.to_be_bytes());
            let d = c
                .express(InterestBuilder::new(n).build().unwrap())
                .await
                .unwrap();
            assert_eq!(&d.content()[..], &k.to_be_bytes());
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert_eq!(seen.load(Ordering::Relaxed), 200);
    assert_eq!(consumer.pending_count(), 0);
}

#[tokio::test]
async fn producer_echoes_pit_tokens_and_routes_popped_interests_to_the_function_listener() {
    let (a, mut peer) = tokio::io::duplex(1 << 16);
    let client = Client::from_stream(a, ClientConfig::default());
    let reply_with = |text: &'static str| {
        move |i: Interest| async move {
            Reply::Data(answer_data(&i, text.as_bytes(), None, &Signer::digest_sha256()).unwrap())
        }
    };
    let _other = client.serve_unregistered(name("/other"), reply_with("from other"));
    let _sf = client
        .serve_function_unregistered(name("/sf/F1"), reply_with("from F1"))
        .unwrap();
    let mut buf = BytesMut::new();

    // After a pop the SF sees the content name: no prefix matches, the function listener gets
    // it; the forwarder's PIT token comes back on the Data.
    let i = InterestBuilder::new(name("/rs1/lamp"))
        .nonce([1, 2, 3, 4])
        .build()
        .unwrap();
    let lp = LpPacket::from_fragment(i.wire().clone()).with_pit_token(PitToken::from_u64(42));
    peer.write_all(&lp.encode()).await.unwrap();
    let back = LpPacket::decode(read_packet(&mut peer, &mut buf).await).unwrap();
    assert_eq!(back.pit_token.as_ref().and_then(PitToken::as_u64), Some(42));
    let d = Data::decode(back.fragment.unwrap()).unwrap();
    assert_eq!(&d.content()[..], b"from F1");

    // A matching prefix wins; without a token the Data goes bare.
    let i = InterestBuilder::new(name("/other/x"))
        .nonce([5, 6, 7, 8])
        .build()
        .unwrap();
    peer.write_all(i.wire()).await.unwrap();
    let wire = read_packet(&mut peer, &mut buf).await;
    let d = Data::decode(wire).unwrap();
    assert_eq!(&d.content()[..], b"from other");

    // A Nack in an LpPacket fails the expressed Interest with its reason.
    let task = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .express(InterestBuilder::new(name("/up/x")).build().unwrap())
                .await
        }
    });
    let sent = read_packet(&mut peer, &mut buf).await;
    peer.write_all(&LpPacket::nack(NackReason::Duplicate, sent).encode())
        .await
        .unwrap();
    assert!(matches!(
        task.await.unwrap(),
        Err(Error::Nack(NackReason::Duplicate))
    ));
}

#[tokio::test]
async fn a_congestion_mark_reaches_the_consumer() {
    let (a, mut peer) = tokio::io::duplex(1 << 16);
    let client = Client::from_stream(a, ClientConfig::default());
    for marked in [false, true] {
        let interest = InterestBuilder::new(name("/busy/x")).build().unwrap();
        let task = tokio::spawn({
            let client = client.clone();
            async move { client.express_marked(interest).await }
        });
        let mut buf = BytesMut::new();
        let sent = Interest::decode(read_packet(&mut peer, &mut buf).await).unwrap();
        let wire = data_wire(sent.name(), None, b"payload");
        let wire = if marked {
            nfwd_tlv::lp::with_congestion_mark(wire).unwrap()
        } else {
            wire
        };
        peer.write_all(&wire).await.unwrap();
        let (data, mark) = task.await.unwrap().unwrap();
        assert_eq!(&data.content()[..], b"payload");
        assert_eq!(mark, u64::from(marked));
    }
}

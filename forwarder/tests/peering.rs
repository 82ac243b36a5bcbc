//! nfwd peers with nfwd over UDP, TCP and QUIC faces: a consumer on forwarder B fetches a
//! multi-segment publication from a producer on forwarder A, and a chained Interest whose
//! function is hosted on A (B forwards it with the stack intact; A pops it for its local SF).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use nfwd_forwarder::client::{Client, FetchOptions, PublishOptions, Reply};
use nfwd_forwarder::config::{Config, StaticFace, StaticRoute};
use nfwd_forwarder::driver::Daemon;
use nfwd_tlv::{DataBuilder, FunctionChain, Interest, InterestBuilder, Name, Signer};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "nfwd-peering-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish() & 0xffff_ffff
}

fn base_config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.faces.unix_path = Some(dir.join("nfwd.sock"));
    c.faces.tcp_listen = "127.0.0.1:0".into();
    c.faces.udp_listen = "127.0.0.1:0".into();
    c.faces.quic_listen = "127.0.0.1:0".into();
    c
}

async fn client_of(d: &Daemon) -> Client {
    Client::connect(&format!("unix://{}", d.unix_path().unwrap().display()))
        .await
        .unwrap()
}

/// An SF on `client` that upper-cases its input (one face per function).
async fn upper_sf(client: &Client) -> nfwd_forwarder::client::ServeHandle {
    let me: Name = "/sf/upper".parse().unwrap();
    let upstream = client.clone();
    client
        .serve_function(me.clone(), move |interest: Interest| {
            let upstream = upstream.clone();
            let me = me.clone();
            async move {
                let rest = interest.function_chain().cloned();
                let input = InterestBuilder::new(interest.name().clone())
                    .can_be_prefix(interest.can_be_prefix())
                    .function_chain(rest.clone())
                    .build()
                    .unwrap();
                let Ok(data) = upstream.express(input).await else {
                    return Reply::None;
                };
                let chain = FunctionChain::pushed(me, rest.as_ref()).unwrap();
                let out =
                    DataBuilder::new(data.name().clone(), data.content().to_ascii_uppercase())
                        .function_chain(Some(chain))
                        .freshness_ms(1000);
                Reply::signed(&out, &Signer::digest_sha256()).unwrap_or(Reply::None)
            }
        })
        .await
        .unwrap()
}

async fn peer_over(scheme: &str) {
    let dir_a = temp_dir("a");
    let a = Daemon::start(base_config(&dir_a)).await.unwrap();
    let remote = match scheme {
        "udp4" => format!("udp4://{}", a.udp_addr().unwrap()),
        "tcp4" => format!("tcp4://{}", a.tcp_addr().unwrap()),
        _ => format!("quic://{}", a.quic_addr().unwrap()),
    };
    // On A: a producer with a 50 KB publication, a producer of small text, and the SF.
    let producer = client_of(&a).await;
    let content = Bytes::from((0..50_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let opts = PublishOptions {
        segment_size: 8000,
        ..PublishOptions::default()
    };
    let (_pub, _h1) = producer
        .publish(
            "/far/file".parse().unwrap(),
            content.clone(),
            &opts,
            &Signer::digest_sha256(),
        )
        .await
        .unwrap();
    let text = client_of(&a).await;
    let _h2 = text
        .serve("/far/text".parse().unwrap(), |i: Interest| async move {
            nfwd_forwarder::client::answer_data(
                &i,
                &b"hello"[..],
                Some(1000),
                &Signer::digest_sha256(),
            )
            .map_or(Reply::None, Reply::Data)
        })
        .await
        .unwrap();
    let sf = client_of(&a).await;
    let _h3 = upper_sf(&sf).await;

    // B: a static face to A over `scheme`, routes for the content and the functions.
    let dir_b = temp_dir("b");
    let mut cb = base_config(&dir_b);
    cb.static_faces.push(StaticFace {
        uri: remote.clone(),
        persistency: "persistent".into(),
    });
    for prefix in ["/far", "/sf"] {
        cb.static_routes.push(StaticRoute {
            prefix: prefix.into(),
            face: remote.clone(),
            cost: 0,
        });
    }
    let b = Daemon::start(cb).await.unwrap();
    let consumer = client_of(&b).await;
    let fetch_opts = FetchOptions {
        lifetime_ms: 2000,
        max_retries: 5,
        ..FetchOptions::default()
    };

    // B installs its routes once its face to A is up (a QUIC handshake takes a moment):
    // until then its answer is a prompt Nack NoRoute, so ask again.
    let mut attempt = 0;
    let (_, got) = loop {
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            consumer.fetch(&"/far/file".parse().unwrap(), None, &fetch_opts),
        )
        .await
        .expect("not hung");
        match r {
            Err(nfwd_forwarder::Error::Nack(_)) if attempt < 100 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other.unwrap_or_else(|e| panic!("{scheme}: fetch failed: {e}")),
        }
    };
    assert_eq!(got, content, "{scheme}: 50 KB across two forwarders");

    let chain: FunctionChain = "/sf/upper".parse().unwrap();
    let (_, up) = consumer
        .fetch(&"/far/text".parse().unwrap(), Some(chain), &fetch_opts)
        .await
        .unwrap_or_else(|e| panic!("{scheme}: chained fetch failed: {e}"));
    assert_eq!(
        up.as_ref(),
        b"HELLO",
        "{scheme}: F(content) computed on the far forwarder"
    );
    let (_, raw) = consumer
        .fetch(&"/far/text".parse().unwrap(), None, &fetch_opts)
        .await
        .unwrap();
    assert_eq!(raw.as_ref(), b"hello", "{scheme}: raw and result never mix");

    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}

#[tokio::test]
async fn peers_over_udp() {
    peer_over("udp4").await;
}

#[tokio::test]
async fn peers_over_tcp() {
    peer_over("tcp4").await;
}

#[tokio::test]
async fn peers_over_quic() {
    peer_over("quic").await;
}

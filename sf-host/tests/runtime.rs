//! The SF runtime against a real forwarder (in-process daemon, Unix socket): chains of
//! built-ins over single- and multi-segment content, the IoT and image functions, per-chain
//! results, in-flight deduplication, error Data (failure, wrong input, timeout), the exec
//! route and the stats dataset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use nfwd_forwarder::client::{Client, FetchOptions, PublishOptions, ServeHandle};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::Daemon;
use nfwd_sf_host::functions::{self, Exec};
use nfwd_sf_host::runtime::{self, RuntimeHandle, RuntimeOptions, Stats};
use nfwd_sf_host::sdk::{Function, FunctionError, FunctionInfo, Input, Output, Program};
use nfwd_tlv::{FunctionChain, InterestBuilder, Name, Signer};

/// Bounds every wait of a test, so a bug fails the test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(30);

struct Node {
    _dir: tempfile::TempDir,
    daemon: Option<Daemon>,
    uri: String,
    _producers: Vec<(Client, ServeHandle)>,
    sfs: Vec<RuntimeHandle>,
}

impl Node {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.faces.unix_path = Some(dir.path().join("nfwd.sock"));
        c.faces.tcp_listen = String::new();
        c.faces.udp_listen = String::new();
        let daemon = Daemon::start(c).await.unwrap();
        let uri = format!("unix://{}", daemon.unix_path().unwrap().display());
        Self {
            _dir: dir,
            daemon: Some(daemon),
            uri,
            _producers: Vec::new(),
            sfs: Vec::new(),
        }
    }

    async fn client(&self) -> Client {
        Client::connect(&self.uri).await.unwrap()
    }

    /// Publishes `content` under `prefix` (segments of 8000 bytes).
    async fn publish(&mut self, prefix: &str, content: impl Into<Bytes>) {
        let producer = self.client().await;
        let (_, h) = producer
            .publish(
                prefix.parse().unwrap(),
                content,
                &PublishOptions::default(),
                &Signer::digest_sha256(),
            )
            .await
            .unwrap();
        // The client too: dropping it would close the producer's face.
        self._producers.push((producer, h));
    }

    fn options(&self, name: &str) -> RuntimeOptions {
        RuntimeOptions {
            connect: Some(self.uri.clone()),
            function_name: Some(name.parse().unwrap()),
            instance_id: format!("test{}", self.sfs.len()),
            ..RuntimeOptions::default()
        }
    }

    async fn sf_with(&mut self, program: Program, opts: RuntimeOptions) -> usize {
        self.sfs.push(runtime::start(program, opts).await.unwrap());
        self.sfs.len() - 1
    }

    async fn builtin(&mut self, builtin: &str, args: &[(&str, &str)]) -> usize {
        let args: functions::Args = args
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let program = functions::builtin(builtin, &args).unwrap();
        let opts = self.options(&format!("/sf/{builtin}"));
        self.sf_with(program, opts).await
    }

    async fn exec(&mut self, name: &str, argv: &[&str], timeout: Duration) -> usize {
        let info = FunctionInfo::new(name, "0", "*/*", "application/octet-stream");
        let program = Program::asynchronous(Exec::new(
            argv.iter().map(ToString::to_string).collect(),
            info,
            1 << 20,
        ));
        let opts = RuntimeOptions {
            timeout,
            ..self.options(name)
        };
        self.sf_with(program, opts).await
    }

    async fn get(&self, name: &str, chain: Option<&str>) -> nfwd_forwarder::Result<Bytes> {
        let opts = FetchOptions {
            lifetime_ms: 10_000,
            max_retries: 0,
            ..FetchOptions::default()
        };
        self.get_with(name, chain, &opts).await
    }

    async fn get_with(
        &self,
        name: &str,
        chain: Option<&str>,
        opts: &FetchOptions,
    ) -> nfwd_forwarder::Result<Bytes> {
        let chain: Option<FunctionChain> = chain.map(|c| c.parse().unwrap());
        let client = self.client().await;
        let name: Name = name.parse().unwrap();
        tokio::time::timeout(LIMIT, client.fetch(&name, chain, opts))
            .await
            .expect("fetch hung")
            .map(|(_, c)| c)
    }

    async fn shutdown(mut self) {
        self.sfs.clear();
        self._producers.clear();
        if let Some(d) = self.daemon.take() {
            d.shutdown().await.unwrap();
        }
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn reverse_upper(s: &str) -> String {
    s.to_uppercase().chars().rev().collect()
}

/// The error Data's JSON, from the error `fetch` returns.
fn app_error(r: nfwd_forwarder::Result<Bytes>) -> serde_json::Value {
    match r {
        Err(nfwd_forwarder::Error::Application { message, .. }) => {
            serde_json::from_str(&message).unwrap()
        }
        other => panic!("expected an application error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_of_three_single_and_multi_segment() {
    let mut n = Node::new().await;
    let small = "hello, chained world";
    // 100 KB of text: 13 input segments, and the intermediate results are segmented too.
    let big: String = (0..100_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    n.publish("/text/small", small.to_string()).await;
    n.publish("/text/big", big.clone()).await;
    for f in ["upper", "reverse", "gzip"] {
        n.builtin(f, &[]).await;
    }
    let chain = Some("/sf/gzip,/sf/reverse,/sf/upper");
    for (name, text) in [("/text/small", small), ("/text/big", big.as_str())] {
        let out = n.get(name, chain).await.unwrap();
        assert_eq!(
            String::from_utf8(gunzip(&out)).unwrap(),
            reverse_upper(text),
            "{name}"
        );
    }
    // Each function computed each content once.
    for h in &n.sfs {
        assert_eq!(h.stats().computed, 2, "{}", h.name());
    }
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iot_chain_counts_free_spaces() {
    let mut n = Node::new().await;
    let readings = r#"[
        {"id":"a1","district":"centro","free":true,"ts":10},
        {"id":"a2","district":"centro","free":true,"ts":10},
        {"id":"a3","district":"centro","free":false,"ts":10},
        {"id":"a2","district":"centro","free":false,"ts":12},
        {"id":"b1","district":"porto","free":true,"ts":11},
        {"broken":true}
    ]"#;
    n.publish("/city/parking", readings).await;
    n.builtin("parking-filter", &[("district", "centro")]).await;
    n.builtin("parking-count", &[]).await;
    n.builtin("parking-format", &[]).await;
    let counts = n
        .get(
            "/city/parking",
            Some("/sf/parking-count,/sf/parking-filter"),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&counts).unwrap();
    // a2's latest reading is occupied: 1 free of 3 in centro; porto filtered out.
    assert_eq!(v["districts"]["centro"]["free"], 1);
    assert_eq!(v["districts"]["centro"]["total"], 3);
    assert!(v["districts"].get("porto").is_none());
    let report = n
        .get(
            "/city/parking",
            Some("/sf/parking-format,/sf/parking-count,/sf/parking-filter"),
        )
        .await
        .unwrap();
    let report = String::from_utf8(report.to_vec()).unwrap();
    assert!(report.starts_with("Free parking spaces"), "{report}");
    assert!(report.contains("centro"), "{report}");
    // parking-count's result for this chain was cached by the runtime and reused.
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grayscale_of_a_png() {
    let mut n = Node::new().await;
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    n.publish("/cam/1/frame", png).await;
    n.builtin("grayscale", &[]).await;
    n.builtin("thumbnail", &[("size", "16")]).await;
    let out = n
        .get("/cam/1/frame", Some("/sf/thumbnail,/sf/grayscale"))
        .await
        .unwrap();
    let img = image::load_from_memory(&out).unwrap();
    assert_eq!(img.color(), image::ColorType::L8);
    assert_eq!((img.width(), img.height()), (16, 12));
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_two_chains_same_content() {
    let mut n = Node::new().await;
    n.publish("/doc", "Abc def").await;
    n.builtin("upper", &[]).await;
    n.builtin("reverse", &[]).await;
    let (a, b, raw) = tokio::join!(
        n.get("/doc", Some("/sf/upper")),
        n.get("/doc", Some("/sf/reverse,/sf/upper")),
        n.get("/doc", None),
    );
    assert_eq!(a.unwrap(), "ABC DEF");
    assert_eq!(b.unwrap(), "FED CBA");
    assert_eq!(raw.unwrap(), "Abc def");
    n.shutdown().await;
}

/// Holds its computation until the test releases it.
struct Gate {
    rx: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Function for Gate {
    fn info(&self) -> FunctionInfo {
        FunctionInfo::new("/sf/gate", "1", "*/*", "*/*")
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let rx = self.rx.lock().unwrap();
        rx.recv_timeout(LIMIT)
            .map_err(|_| FunctionError::Failed("never released".into()))?;
        Ok(Output::new(input.content))
    }
}

/// A computation longer than the consumer's InterestLifetime: the consumer's retransmission
/// (new Nonce, after its Interest expired) reaches the runtime and joins the running
/// computation, which is done once; the retransmission gets the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_computation_is_joined_by_retransmissions_and_computed_once() {
    let mut n = Node::new().await;
    n.publish("/slow", "payload").await;
    let (tx, rx) = std::sync::mpsc::channel();
    let gate = Program::blocking(Gate { rx: Mutex::new(rx) });
    let opts = n.options("/sf/gate");
    let i = n.sf_with(gate, opts).await;
    let opts = FetchOptions {
        lifetime_ms: 200,
        max_retries: 100,
        ..FetchOptions::default()
    };
    let client = n.client().await;
    let chain: FunctionChain = "/sf/gate".parse().unwrap();
    let consumer = tokio::spawn(async move {
        client
            .fetch(&"/slow".parse().unwrap(), Some(chain), &opts)
            .await
    });
    let s = tokio::time::timeout(LIMIT, n.sfs[i].wait_stats(|s| s.deduplicated >= 1))
        .await
        .unwrap();
    assert_eq!(s.computed, 1);
    assert_eq!(s.in_flight, 1);
    tx.send(()).unwrap();
    let (_, content) = consumer.await.unwrap().unwrap();
    assert_eq!(content, "payload");
    let s: Stats = n.sfs[i].stats();
    assert_eq!(s.computed, 1);
    assert_eq!(s.in_flight, 0);
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_error_data() {
    let mut n = Node::new().await;
    n.publish("/plain", "not gzip at all").await;
    n.publish("/notjson", "{{{").await;
    n.builtin("gunzip", &[]).await;
    n.builtin("upper", &[]).await;
    n.builtin("parking-filter", &[]).await;
    n.builtin("identity", &[]).await;

    // Wrong input type: the runtime's media check (gzip magic) rejects it. The lifetime is
    // 10 s and no retransmission is allowed: an answer means the error Data came back.
    let e = app_error(n.get("/plain", Some("/sf/gunzip")).await);
    assert_eq!(e["error"], "rejected");
    assert_eq!(e["function"], "/sf/gunzip");
    let e = app_error(n.get("/notjson", Some("/sf/parking-filter")).await);
    assert_eq!(e["error"], "rejected");

    // An error in the middle of a chain reaches the consumer unchanged through the rest.
    let e = app_error(n.get("/plain", Some("/sf/upper,/sf/gunzip")).await);
    assert_eq!(e["function"], "/sf/gunzip");
    assert_eq!(n.sfs[1].stats().errors.upstream, 1);

    // An input that does not exist: Nack upstream, an "unavailable" error Data downstream.
    let e = app_error(n.get("/nothing/here", Some("/sf/identity")).await);
    assert_eq!(e["error"], "unavailable");
    assert_eq!(n.sfs[0].stats().errors.rejected, 1);
    n.shutdown().await;
}

/// Parameters in the function name (`docs/protocol.md` §5.6): the SF learns the popped head,
/// labels its result with exactly that head, and two parameter values never mix — neither in
/// the runtime's result cache nor in the forwarder's content store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameterised_functions_get_their_parameters_and_results_never_mix() {
    let mut n = Node::new().await;
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    n.publish("/cam/2/frame", png).await;
    n.builtin("grayscale", &[]).await;
    let t = n.builtin("thumbnail", &[("size", "32")]).await;
    let dims = |b: &Bytes| {
        let i = image::load_from_memory(b).unwrap();
        (i.width(), i.height())
    };
    // Asked in turn and at once: each gets its own size, the deployment's default included.
    for _ in 0..2 {
        let (a, b, d) = tokio::join!(
            n.get("/cam/2/frame", Some("/sf/thumbnail/size=16,/sf/grayscale")),
            n.get("/cam/2/frame", Some("/sf/thumbnail/size=8,/sf/grayscale")),
            n.get("/cam/2/frame", Some("/sf/thumbnail,/sf/grayscale")),
        );
        assert_eq!(dims(&a.unwrap()), (16, 12));
        assert_eq!(dims(&b.unwrap()), (8, 6));
        assert_eq!(dims(&d.unwrap()), (32, 24));
    }
    // Three computations (one per size); the repeats came from the content store.
    assert_eq!(n.sfs[t].stats().computed, 3);
    // A parameter the function does not take, and a component that is not key=value.
    let e = app_error(
        n.get("/cam/2/frame", Some("/sf/thumbnail/colour%3Dred"))
            .await,
    );
    assert_eq!(
        (e["error"].as_str(), e["function"].as_str()),
        (Some("rejected"), Some("/sf/thumbnail/colour%3Dred"))
    );
    assert!(e["message"].as_str().unwrap().contains("size"), "{e}");
    let e = app_error(n.get("/cam/2/frame", Some("/sf/thumbnail/size=0")).await);
    assert_eq!(e["error"], "rejected");
    let e = app_error(n.get("/cam/2/frame", Some("/sf/thumbnail/huge")).await);
    assert_eq!(e["error"], "rejected");
    n.shutdown().await;
}

/// An unknown function in the middle of a chain: the error names it and the stack it was
/// asked with, not only the SF that noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_function_mid_chain_is_named_in_the_error() {
    let mut n = Node::new().await;
    n.publish("/doc2", "abc").await;
    n.builtin("upper", &[]).await;
    n.builtin("reverse", &[]).await;
    let e = app_error(
        n.get("/doc2", Some("/sf/reverse,/sf/nosuch/k=1,/sf/upper"))
            .await,
    );
    assert_eq!(e["error"], "unavailable");
    assert_eq!(e["function"], "/sf/nosuch/k%3D1");
    assert_eq!(e["stack"], "/sf/nosuch/k%3D1,/sf/upper");
    assert_eq!(e["reporter"], "/sf/reverse");
    assert!(e["message"].as_str().unwrap().contains("no route"), "{e}");
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_route_runs_commands_and_reports_failures_and_timeouts() {
    let mut n = Node::new().await;
    n.publish("/words", "some words").await;
    let long: String = "xyz ".repeat(5000);
    n.publish("/long", long.clone()).await;
    n.exec("/sf/tr", &["tr", "a-z", "A-Z"], LIMIT).await;
    n.exec("/sf/false", &["false"], LIMIT).await;
    n.exec(
        "/sf/sh-fail",
        &["sh", "-c", "echo broken >&2; exit 3"],
        LIMIT,
    )
    .await;
    let slow = n
        .exec("/sf/slow", &["sleep", "30"], Duration::from_millis(300))
        .await;

    assert_eq!(n.get("/words", Some("/sf/tr")).await.unwrap(), "SOME WORDS");
    assert_eq!(
        n.get("/long", Some("/sf/tr")).await.unwrap(),
        long.to_uppercase()
    );
    // A Python function, where Python is installed.
    let python = std::process::Command::new("python3")
        .args(["-c", "pass"])
        .status()
        .is_ok_and(|s| s.success());
    if python {
        n.exec(
            "/sf/py-reverse",
            &[
                "python3",
                "-c",
                "import sys; sys.stdout.write(sys.stdin.read()[::-1])",
            ],
            LIMIT,
        )
        .await;
        assert_eq!(
            n.get("/words", Some("/sf/py-reverse,/sf/tr"))
                .await
                .unwrap(),
            "SDROW EMOS"
        );
    }
    let e = app_error(n.get("/words", Some("/sf/false")).await);
    assert_eq!(e["error"], "failed");
    let e = app_error(n.get("/words", Some("/sf/sh-fail")).await);
    assert!(e["message"].as_str().unwrap().contains("broken"), "{e}");
    let e = app_error(n.get("/words", Some("/sf/slow")).await);
    assert_eq!(e["error"], "timeout");
    assert_eq!(n.sfs[slow].stats().errors.timeout, 1);
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_dataset_answers() {
    let mut n = Node::new().await;
    n.publish("/doc", "abc").await;
    let i = n.builtin("upper", &[]).await;
    assert_eq!(n.get("/doc", Some("/sf/upper")).await.unwrap(), "ABC");
    let client = n.client().await;
    for name in ["/sf/upper/32=stats", "/sf/upper/32=instance/test0"] {
        let interest = InterestBuilder::new(name.parse().unwrap())
            .must_be_fresh(true)
            .lifetime_ms(10_000)
            .build()
            .unwrap();
        let data = tokio::time::timeout(LIMIT, client.express(interest))
            .await
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(data.content()).unwrap();
        assert_eq!(v["function"], "/sf/upper", "{name}");
        assert_eq!(v["instance"], "test0");
        assert_eq!(v["requests"], 1);
        assert_eq!(v["computed"], 1);
    }
    // Stats requests are not counted as requests.
    assert_eq!(n.sfs[i].stats().requests, 1);
    n.shutdown().await;
}

/// Without a result cache (as when a later segment reaches another instance), segment
/// Interests `N'/seg=k` are recomputed from the input named `N'`, and the result is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_are_recomputed_when_not_cached() {
    let mut n = Node::new().await;
    let text: String = "segment ".repeat(4000);
    n.publish("/long", text.clone()).await;
    let program = functions::builtin("upper", &functions::Args::new()).unwrap();
    let opts = RuntimeOptions {
        cache_entries: 0,
        ..n.options("/sf/upper")
    };
    let i = n.sf_with(program, opts).await;
    let out = n.get("/long", Some("/sf/upper")).await.unwrap();
    assert_eq!(out, text.to_uppercase());
    // 32000 bytes: 4 segments. The first Interest and the later segments were computed
    // separately (no cache), segment Interests sharing computations by their name N'.
    let s = n.sfs[i].stats();
    assert!(s.computed >= 2, "{s:?}");
    assert_eq!(s.cached, 0);
    n.shutdown().await;
}

//! `nfwd demo`: a function chain end to end, on one machine, with embedded defaults and no
//! Docker.
//!
//! As root it runs the multi-node demo (`demo_line.rs`: the Fig. 30 line, a network namespace
//! per forwarder). Without root, or with `--single-forwarder`, it runs the single-forwarder
//! demo below.
//!
//! The single-forwarder demo starts a forwarder (the real daemon, in this process), a
//! producer publishing a sensor reading, and three service functions connected as
//! applications — one face per function, as `docs/protocol.md` §5 asks — then fetches the
//! reading through the chain
//! `/sf/frame,/sf/reverse,/sf/upper`, i.e. frame(reverse(upper(reading))). Each SF receives
//! the Interest with its own name already popped by the forwarder, fetches its input with the
//! rest of the stack, and answers with the Data labelled with the chain it computed. A second
//! consumer asking for the same chain is answered from the forwarder's content store.

use crate::cli::output::outln;
use anyhow::Context;
use clap::Args;
use nfwd_forwarder::client::{Client, FetchOptions, Reply, answer_data};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::Daemon;
use nfwd_tlv::nfd::{CsInfo, decode_all};
use nfwd_tlv::{DataBuilder, FunctionChain, Interest, InterestBuilder, Name, Signer};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Run the single-forwarder demo (one forwarder in this process) even as root.
    #[arg(long)]
    single_forwarder: bool,
    /// Unix socket of the single-forwarder demo (default: a temporary path); implies
    /// --single-forwarder.
    #[arg(long)]
    socket: Option<std::path::PathBuf>,
    /// Each node of the multi-node demo a Docker container on private Docker networks instead
    /// of a network namespace (root and a Docker engine; the image holds a static nfwd).
    #[arg(long, conflicts_with_all = ["single_forwarder", "socket"])]
    docker: bool,
    /// The statically linked nfwd for the nodes' image with --docker (default: this binary
    /// if it is static; `scripts/build-static-nfwd.sh` builds one and prints its path).
    #[arg(long, requires = "docker")]
    docker_binary: Option<std::path::PathBuf>,
}

/// A service function of the demo: its name and what it does to its input.
struct Function {
    name: &'static str,
    describe: &'static str,
    apply: fn(&[u8]) -> Vec<u8>,
}

const FUNCTIONS: [Function; 3] = [
    Function {
        name: "/sf/upper",
        describe: "upper-cases text",
        apply: |b| b.to_ascii_uppercase(),
    },
    Function {
        name: "/sf/reverse",
        describe: "reverses text",
        apply: |b| b.iter().rev().copied().collect(),
    },
    Function {
        name: "/sf/frame",
        describe: "frames text in brackets",
        apply: |b| [&b"[ "[..], b, &b" ]"[..]].concat(),
    },
];

const CONTENT_NAME: &str = "/rs1/lamp/2256";
const READING: &str = "lamp 2256: on, 312 lux";

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<()> {
    if !args.single_forwarder && args.socket.is_none() {
        if nfwd_topologies::net::is_root() {
            let docker = args.docker.then(|| args.docker_binary.clone());
            return super::demo_line::run(docker);
        }
        anyhow::ensure!(
            !args.docker,
            "the multi-node demo needs root, in containers too: `sudo nfwd demo --docker`"
        );
        outln!(
            "The multi-node demo needs root (each node runs in a network namespace of its own): \
             `sudo nfwd demo`. Running the single-forwarder demo instead.\n"
        );
    }
    single_forwarder(args)
}

/// The single-forwarder demo: one daemon in this process, three SFs as applications.
fn single_forwarder(args: &DemoArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(demo(args))
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let socket = args.socket.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("nfwd-demo-{}.sock", std::process::id()))
    });
    let mut config = Config::default();
    config.faces.unix_path = Some(socket.clone());
    config.faces.tcp_listen = String::new();
    config.faces.udp_listen = String::new();
    let daemon = Daemon::start(config)
        .await
        .context("starting the demo forwarder")?;
    let uri = format!("unix://{}", socket.display());
    outln!("forwarder     listening at {uri}");

    // The producer: raw sensor data, as any NDN producer serves it.
    let producer = Client::connect(&uri).await?;
    let _produce = producer
        .serve(CONTENT_NAME.parse()?, |interest: Interest| async move {
            answer_data(
                &interest,
                READING.as_bytes().to_vec(),
                Some(10_000),
                &Signer::digest_sha256(),
            )
            .map_or(Reply::None, Reply::Data)
        })
        .await?;
    outln!("producer      {CONTENT_NAME} = {READING:?}");

    // The service functions, one connection (face) each.
    let mut sf_handles = Vec::new();
    for f in &FUNCTIONS {
        let client = Client::connect(&uri).await?;
        let me: Name = f.name.parse()?;
        let upstream = client.clone();
        let apply = f.apply;
        // A function listener: after the pop its Interests carry the content name.
        let handle = client
            .serve_function(me.clone(), move |interest: Interest| {
                let upstream = upstream.clone();
                let me = me.clone();
                async move {
                    run_function(&upstream, &me, apply, &interest)
                        .await
                        .unwrap_or(Reply::None)
                }
            })
            .await?;
        outln!("function      {:<12} {}", f.name, f.describe);
        sf_handles.push((client, handle));
    }

    let chain: FunctionChain = "/sf/frame,/sf/reverse,/sf/upper".parse()?;
    let consumer = Client::connect(&uri).await?;
    let opts = FetchOptions {
        lifetime_ms: 4000,
        ..FetchOptions::default()
    };
    outln!();
    outln!("get {CONTENT_NAME} --chain {chain}");
    let (name, result) = consumer
        .fetch(&CONTENT_NAME.parse()?, Some(chain.clone()), &opts)
        .await?;
    outln!(
        "  -> {name} [{chain}] = {:?}",
        String::from_utf8_lossy(&result)
    );
    let expected = (FUNCTIONS[2].apply)(&(FUNCTIONS[1].apply)(&(FUNCTIONS[0].apply)(
        READING.as_bytes(),
    )));
    anyhow::ensure!(
        result.as_ref() == expected.as_slice(),
        "the chain computed something else"
    );
    outln!("  = frame(reverse(upper(reading))) as expected");

    for partial in ["/sf/upper", "/sf/reverse,/sf/upper"] {
        let c: FunctionChain = partial.parse()?;
        let (_, r) = consumer
            .fetch(&CONTENT_NAME.parse()?, Some(c), &opts)
            .await?;
        outln!(
            "get {CONTENT_NAME} --chain {partial:<22} -> {:?}",
            String::from_utf8_lossy(&r)
        );
    }
    let (_, raw) = consumer.fetch(&CONTENT_NAME.parse()?, None, &opts).await?;
    outln!(
        "get {CONTENT_NAME} (no chain){:<14} -> {:?}",
        "",
        String::from_utf8_lossy(&raw)
    );

    // Another consumer, same chain: answered from the content store, no function runs.
    let second = Client::connect(&uri).await?;
    let (_, again) = second
        .fetch(&CONTENT_NAME.parse()?, Some(chain.clone()), &opts)
        .await?;
    anyhow::ensure!(again == result, "the cached result differs");
    let cs_info = fetch_dataset(&second, "/localhost/nfd/cs/info").await?;
    if let Some(info) = decode_all::<CsInfo>(&cs_info)?.first() {
        outln!();
        outln!(
            "second consumer, same chain: same result from the content store \
             (cs: {} entries, {} hits, {} misses)",
            info.n_entries,
            info.n_hits,
            info.n_misses
        );
    }
    drop(sf_handles);
    daemon.shutdown().await?;
    Ok(())
}

/// One SF invocation: fetch the input with the rest of the stack, apply, answer with the
/// chain this SF computed (its own name pushed on the rest, `docs/protocol.md` §2.3).
async fn run_function(
    upstream: &Client,
    me: &Name,
    apply: fn(&[u8]) -> Vec<u8>,
    interest: &Interest,
) -> anyhow::Result<Reply> {
    let rest = interest.function_chain().cloned();
    let input = upstream
        .express(
            InterestBuilder::new(interest.name().clone())
                .can_be_prefix(interest.can_be_prefix())
                .must_be_fresh(interest.must_be_fresh())
                .lifetime_ms(interest.effective_lifetime_ms())
                .function_chain(rest.clone())
                .build()?,
        )
        .await?;
    let output = apply(input.content());
    let answered = FunctionChain::pushed(me.clone(), rest.as_ref())?;
    let data = DataBuilder::new(input.name().clone(), output)
        .function_chain(Some(answered))
        .freshness_ms(10_000)
        .build(&Signer::digest_sha256())?;
    Ok(Reply::Data(data))
}

async fn fetch_dataset(client: &Client, name: &str) -> anyhow::Result<bytes::Bytes> {
    let opts = FetchOptions {
        must_be_fresh: true,
        ..FetchOptions::default()
    };
    let (_, content) = client.fetch(&name.parse()?, None, &opts).await?;
    Ok(content)
}

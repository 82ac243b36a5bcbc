//! `nfwd serve PREFIX (--file F | --text T)`: publish a content as segmented, signed Data
//! `<PREFIX>/v=<version>/seg=N` and serve it until Ctrl-C, like ndnputchunks.

use std::path::PathBuf;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use nfwd_forwarder::client::PublishOptions;
use nfwd_tlv::{Name, Signer};

use super::get::{connect, parse_boxed};

/// Largest Data NFD accepts on a face; segments beyond it would be dropped on the way.
const NFD_MAX_PACKET: usize = 8800;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Prefix to register and publish under, e.g. /rs1/lamp/2256.
    #[arg(value_parser = parse_boxed::<Name>)]
    pub(crate) prefix: Box<Name>,
    /// Serve the contents of this file.
    #[arg(long, required_unless_present = "text", conflicts_with = "text")]
    pub(crate) file: Option<PathBuf>,
    /// Serve this text.
    #[arg(long)]
    pub(crate) text: Option<String>,
    /// FreshnessPeriod of every segment, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) freshness: u64,
    /// Content bytes per segment.
    #[arg(long, default_value_t = 8000)]
    pub(crate) segment_size: usize,
    /// Version number (default: the current time in milliseconds).
    #[arg(long)]
    pub(crate) version: Option<u64>,
    /// Forwarder to connect to (unix:///path or tcp4://host:port); default
    /// $NDN_CLIENT_TRANSPORT, then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock.
    #[arg(long)]
    pub(crate) connect: Option<String>,
}

/// Publishes and serves until `stop` completes (or the forwarder closes the connection, which
/// is an error).
pub(crate) async fn serve_until(
    args: &ServeArgs,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let content = match (&args.file, &args.text) {
        (Some(path), _) => {
            Bytes::from(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        (None, Some(text)) => Bytes::from(text.clone().into_bytes()),
        (None, None) => anyhow::bail!("give --file or --text"),
    };
    if args.segment_size + 800 > NFD_MAX_PACKET {
        eprintln!(
            "warning: segments of {} bytes may exceed the {NFD_MAX_PACKET}-byte packet limit",
            args.segment_size
        );
    }
    let client = connect(args.connect.as_deref()).await?;
    let opts = PublishOptions {
        segment_size: args.segment_size,
        freshness_ms: Some(args.freshness),
        version: args.version,
        chain: None,
    };
    let (publication, mut handle) = client
        .publish(
            Name::clone(&args.prefix),
            content,
            &opts,
            &Signer::digest_sha256(),
        )
        .await
        .with_context(|| format!("publishing under {}", args.prefix))?;
    eprintln!(
        "serving {} ({} segments); Ctrl-C to stop",
        publication.name(),
        publication.segments().len()
    );
    tokio::select! {
        () = stop => {
            // Best effort: the forwarder also drops the route when the connection closes.
            let _ = client.unregister(&args.prefix).await;
            Ok(())
        }
        () = handle.closed() => anyhow::bail!("the forwarder closed the connection"),
    }
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve_until(args, async {
        let _ = tokio::signal::ctrl_c().await;
    }))
}

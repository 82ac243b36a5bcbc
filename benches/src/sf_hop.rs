//! The warm cost of one function hop: `get X` against `get X --chain /sf/identity`, same
//! content size, same forwarder, same run.
//!
//! Parties, each on its own thread with its own tokio runtime, all on one Unix-socket
//! forwarder (the daemon): a producer (the client library's `serve`, answering every name
//! under `/bench-sf` with `payload` bytes), the identity SF (the real runtime,
//! `nfwd_sf_host::runtime`, with the built-in `identity`), and a blocking consumer keeping a
//! window of Interests outstanding. Every Interest names a new content (a sequence number), so
//! neither the content store nor the SF's result cache answers: each chained exchange is a
//! full hop (consumer → forwarder → SF → forwarder → producer and back through the SF).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nfwd_forwarder::client::{Client, Reply, answer_data};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::Daemon;
use nfwd_sf_host::functions;
use nfwd_sf_host::runtime::{self, RuntimeOptions};
use nfwd_tlv::element::frame_len;
use nfwd_tlv::lp::LpPacket;
use nfwd_tlv::{Component, Data, FunctionChain, Interest, InterestBuilder, Name, Signer};

use crate::loadgen::Measurement;

/// Worker threads of the SF's runtime: `nfwd sf run` uses a multi-threaded runtime too.
const SF_WORKERS: usize = 2;

/// A party running on its own thread until dropped.
struct Party {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Party {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `setup` on a new thread's runtime (`workers` > 1: multi-threaded); what it returns is kept alive until
/// the party is dropped. Returns once setup is done (or failed).
fn spawn_party<F, Fut, G>(name: &str, workers: usize, setup: F) -> Result<Party, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<G, String>>,
    G: 'static,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut builder = if workers > 1 {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(workers);
                b
            } else {
                tokio::runtime::Builder::new_current_thread()
            };
            let rt = match builder.enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                match setup().await {
                    Ok(guard) => {
                        let _ = ready_tx.send(Ok(()));
                        let _ = stop_rx.await;
                        drop(guard);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| e.to_string())?;
    ready_rx
        .recv()
        .map_err(|e| format!("{name}: {e}"))?
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(Party {
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// A blocking stream link cut into TLV frames.
struct Link {
    stream: UnixStream,
    buf: BytesMut,
}

impl Link {
    fn recv(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if let Ok(Some(n)) = frame_len(&self.buf) {
                return Ok(Some(self.buf.split_to(n).freeze()));
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Keeps `window` Interests under `prefix` (with `chain`) outstanding for `duration`, each for
/// a new name; returns the measurement.
fn consume(
    link: &mut Link,
    prefix: &Name,
    chain: Option<&FunctionChain>,
    window: usize,
    duration: Duration,
    label: String,
) -> Measurement {
    let mut rtts_us: Vec<u32> = Vec::with_capacity(1 << 16);
    let mut lost = 0u64;
    let mut in_flight: std::collections::HashMap<Name, Instant> = Default::default();
    let mut seq = 0u64;
    let mut send_next = |link: &mut Link, in_flight: &mut std::collections::HashMap<_, _>| {
        let name = prefix.append(&Component::sequence_num(seq));
        let wire = InterestBuilder::new(name.clone())
            .nonce(u32::try_from(seq & 0xffff_ffff).unwrap_or(0).to_be_bytes())
            .lifetime_ms(1000)
            .function_chain(chain.cloned())
            .encode();
        if link.stream.write_all(&wire).is_ok() {
            in_flight.insert(name, Instant::now());
        }
        seq += 1;
    };
    for _ in 0..window.max(1) {
        send_next(link, &mut in_flight);
    }
    let start = Instant::now();
    while start.elapsed() < duration {
        let frame = match link.recv() {
            Ok(Some(f)) => f,
            Ok(None) => {
                // Quiet for the read timeout: what is older than a second is lost; refill.
                let now = Instant::now();
                let before = in_flight.len();
                in_flight.retain(|_, t| now.duration_since(*t) <= Duration::from_secs(1));
                let n = before - in_flight.len();
                lost += n as u64;
                for _ in 0..n {
                    send_next(link, &mut in_flight);
                }
                continue;
            }
            Err(_) => break,
        };
        let Some(fragment) = LpPacket::decode(frame).ok().and_then(|lp| lp.fragment) else {
            continue;
        };
        let Ok(data) = Data::decode(fragment) else {
            continue;
        };
        if let Some(sent) = in_flight.remove(data.name()) {
            rtts_us.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            send_next(link, &mut in_flight);
        }
    }
    let elapsed = start.elapsed();
    rtts_us.sort_unstable();
    let pct = |p: f64| -> u64 {
        if rtts_us.is_empty() {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into rtts_us"
        )]
        let i = ((rtts_us.len() - 1) as f64 * p).round() as usize;
        u64::from(rtts_us[i.min(rtts_us.len() - 1)])
    };
    let exchanges = rtts_us.len() as u64;
    #[allow(clippy::cast_precision_loss, reason = "a rate")]
    let rate = exchanges as f64 / elapsed.as_secs_f64();
    Measurement {
        label,
        exchanges,
        rate,
        latency_us: [pct(0.5), pct(0.9), pct(0.99), pct(1.0)],
        lost,
        cpu_us_per_exchange: None,
    }
}

/// Measures, in one run against one forwarder, `payload`-byte contents fetched plainly and
/// through the identity SF, for `duration` each with `window` Interests outstanding. Returns
/// (plain, through identity).
pub fn measure_sf_hop(
    payload: usize,
    duration: Duration,
    window: usize,
) -> Result<(Measurement, Measurement), String> {
    let dir = std::env::temp_dir().join(format!("nfwd-bench-sf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let socket: PathBuf = dir.join("nfwd.sock");
    let mut config = Config::default();
    config.faces.unix_path = Some(socket.clone());
    config.faces.tcp_listen = String::new();
    config.faces.udp_listen = String::new();
    config.log.level = "warn".into();
    let uri = format!("unix://{}", socket.display());

    let daemon = spawn_party("nfwd-daemon", 1, move || async move {
        Daemon::start(config).await.map_err(|e| e.to_string())
    })?;
    let producer = {
        let uri = uri.clone();
        spawn_party("producer", 1, move || async move {
            let client = Client::connect(&uri).await.map_err(|e| e.to_string())?;
            let content = Bytes::from(vec![0xA5u8; payload]);
            let signer = std::sync::Arc::new(Signer::digest_sha256());
            let prefix: Name = "/bench-sf".parse().map_err(|e| format!("{e}"))?;
            let handle = client
                .serve(prefix, move |i: Interest| {
                    let reply = answer_data(&i, content.clone(), Some(60_000), &signer)
                        .map_or(Reply::None, Reply::Data);
                    std::future::ready(reply)
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok((client, handle))
        })?
    };
    let sf = {
        spawn_party("sf-identity", SF_WORKERS, move || async move {
            let program = functions::builtin("identity", &functions::Args::new())
                .map_err(|e| e.to_string())?;
            let opts = RuntimeOptions {
                connect: Some(uri),
                concurrency: window.max(1),
                ..RuntimeOptions::default()
            };
            runtime::start(program, opts)
                .await
                .map_err(|e| e.to_string())
        })?
    };

    let stream = UnixStream::connect(&socket).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut link = Link {
        stream,
        buf: BytesMut::with_capacity(1 << 16),
    };
    let chain: FunctionChain = "/sf/identity".parse().map_err(|e| format!("{e}"))?;
    let base: Name = "/bench-sf".parse().map_err(|e| format!("{e}"))?;
    let warm = Duration::from_millis(300);
    let run = |link: &mut Link, tag: &str, chain: Option<&FunctionChain>, d: Duration| {
        let label = match chain {
            None => format!("get X, {payload} B"),
            Some(c) => format!("get X --chain {c}, {payload} B"),
        };
        consume(
            link,
            &base.append_generic(tag.as_bytes()),
            chain,
            window,
            d,
            label,
        )
    };
    // Warm-up of both paths (faces, routes, the SF's first computations), then the two
    // measurements back to back on the same forwarder.
    let _ = run(&mut link, "warm-plain", None, warm);
    let _ = run(&mut link, "warm-chain", Some(&chain), warm);
    let plain = run(&mut link, "plain", None, duration);
    let hop = run(&mut link, "chain", Some(&chain), duration);
    drop(link);
    drop(sf);
    drop(producer);
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((plain, hop))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths complete exchanges, and the chained ones really crossed the SF.
    #[test]
    fn both_paths_exchange() {
        let (plain, hop) = measure_sf_hop(100, Duration::from_millis(300), 8).unwrap();
        assert!(
            plain.exchanges > 0 && hop.exchanges > 0,
            "{plain:?} {hop:?}"
        );
        assert!(hop.label.contains("/sf/identity"));
    }

    /// The numbers: `cargo test -p nfwd-benches --release sf_hop::tests::report -- --ignored
    /// --nocapture` (NFWD_SF_HOP_SECS, NFWD_SF_HOP_WINDOW, NFWD_SF_HOP_PAYLOAD override).
    #[test]
    #[ignore = "a measurement, not a test"]
    fn report() {
        let env = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let secs = env("NFWD_SF_HOP_SECS", 3);
        let window = env("NFWD_SF_HOP_WINDOW", 16) as usize;
        for payload in [env("NFWD_SF_HOP_PAYLOAD", 1000) as usize] {
            let (plain, hop) = measure_sf_hop(payload, Duration::from_secs(secs), window).unwrap();
            for m in [&plain, &hop] {
                println!(
                    "{:<40} {:>9.0} exchanges/s  p50 {:>6} us  p90 {:>6} us  p99 {:>6} us  max {:>6} us  lost {}",
                    m.label,
                    m.rate,
                    m.latency_us[0],
                    m.latency_us[1],
                    m.latency_us[2],
                    m.latency_us[3],
                    m.lost
                );
            }
        }
    }
}

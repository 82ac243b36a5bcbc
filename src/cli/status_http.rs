//! `nfwd start --http ADDR`: `/metrics`, the `status/counters` exposition for Prometheus (and,
//! with `--sf-host`, the SF host's counters per SF), and `/status.json`, what
//! `nfwd status --json` and `nfwd status --counters --json` print. All are read from the
//! daemon over its Unix socket, as any management client reads them, so the forwarder needs
//! nothing of its own for HTTP.
//!
//! Whoever reaches the address can open connections, so each is bounded: at most
//! [`MAX_CONNECTIONS`] at once (more are closed as soon as accepted), the request head within
//! [`HEAD_TIMEOUT`] (a slowloris is closed) and [`MAX_HEAD`] bytes, the whole exchange within
//! [`CONNECTION_TIMEOUT`] (a peer that never reads the answer too), one request per
//! connection, GET and HEAD only. Scrapes are served one at a time over one management
//! connection, so a busy scraper costs the forwarder one dataset at a time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use nfwd_forwarder::client::Client;
use nfwd_forwarder::metrics;
use nfwd_tlv::nfd::{CsInfo, FaceStatus, FibEntry, ForwarderStatus, RibEntry, decode_all};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};

/// Connections served at once; more are closed as soon as accepted.
pub(crate) const MAX_CONNECTIONS: usize = 16;
/// Time for a request head to arrive, from the connection's start.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole exchange, the answer's sending included.
pub(crate) const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head read (hyper answers 431 beyond it and closes).
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// `--http ADDR` checked: an IP address and port, loopback unless `public` (`--http-public`),
/// since the counters tell whoever reads them about the node's traffic and peers.
pub(crate) fn check_addr(addr: &str, public: bool) -> anyhow::Result<SocketAddr> {
    let a: SocketAddr = addr
        .parse()
        .with_context(|| format!("--http {addr:?}: an IP address and port, e.g. 127.0.0.1:9696"))?;
    if !public && !a.ip().is_loopback() {
        anyhow::bail!(
            "--http {a} is not a loopback address: give --http-public too to serve the \
             status to the network"
        );
    }
    Ok(a)
}

/// Binds `addr` (exactly that address; nothing else is listened on).
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("--http {addr}"))
}

/// The status page (`/`): faces, routes, content store, SFs and counters, drawn in the browser
/// from `/status.json`. Everything the network could have named is inserted as text, never
/// as markup.
const STATUS_PAGE: &str = include_str!("status_page.html");

/// Where the answers come from: one management connection to the daemon, made when first
/// needed and again after a failure.
#[derive(Debug)]
struct Daemon {
    uri: String,
    client: Mutex<Option<Client>>,
    /// The daemon runs an SF host: its counters go into `/metrics` too.
    sf_host: bool,
}

impl Daemon {
    /// The dataset `path`, one scrape at a time (the lock is held across the fetch).
    async fn datasets(&self, paths: &[&str]) -> anyhow::Result<Vec<Bytes>> {
        let mut slot = self.client.lock().await;
        let client = match slot.as_ref() {
            Some(c) => c.clone(),
            None => {
                let c = Client::connect(&self.uri)
                    .await
                    .with_context(|| format!("cannot reach the forwarder at {}", self.uri))?;
                *slot = Some(c.clone());
                c
            }
        };
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            match super::mgmt::dataset(&client, path).await {
                Ok(b) => out.push(b),
                Err(e) => {
                    // Perhaps the connection broke: the next scrape makes another.
                    *slot = None;
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    async fn metrics(&self) -> anyhow::Result<Bytes> {
        let mut d = self.datasets(&["status/counters"]).await?;
        let counters = d.pop().context("no status/counters")?;
        if !self.sf_host {
            return Ok(counters);
        }
        // Families of their own (`nfwd_sf_*`), so the two texts are one exposition.
        match self.sf_metrics(&counters).await {
            Ok(sf) => Ok([counters, Bytes::from(sf)].concat().into()),
            Err(e) => {
                // The forwarder's counters still tell something (the host may be starting).
                tracing::debug!("status over HTTP: SF host: {e:#}");
                Ok(counters)
            }
        }
    }

    /// The SF host's counters per SF (`nfwd sf stats`), labelled `sf` = the function name.
    /// Each SF's request latency is the sum of its instances' faces' round-trip histograms
    /// in `counters` (the forwarder's exposition).
    async fn sf_metrics(&self, counters: &[u8]) -> anyhow::Result<String> {
        let client = self.client.lock().await.clone().context("not connected")?;
        let stats = nfwd_sf_host::host::protocol::stats(&client).await?;
        let list = nfwd_sf_host::host::protocol::list(&client).await?;
        let face_rtt = face_round_trips(counters);
        let mut e = metrics::Exposition::new();
        for sf in &list {
            let mut h = metrics::LatencyHistogram::default();
            for face in sf.instances.iter().filter_map(|i| i.face) {
                if let Some(f) = face_rtt.get(&face) {
                    h.merge(f);
                }
            }
            e.add_histogram(
                "sf",
                "request",
                "Interests the forwarder sent to the SF's instances, to their Data (the \
                 function's latency with its input fetch, as the forwarder sees it).",
                &[("sf", sf.name.as_str())],
                &h,
            );
        }
        for s in &stats {
            let labels = [("sf", s.name.as_str())];
            e.add(
                "sf",
                "instances",
                "Instances running now.",
                metrics::Kind::Gauge,
                &labels,
                s.instances as u64,
            );
            for (name, help, value) in [
                (
                    "starts",
                    "Instances started (warm, cold, scale-out and restarts).",
                    s.starts,
                ),
                (
                    "cold_starts",
                    "Cold starts (started for a held Interest).",
                    s.cold_starts,
                ),
                ("crashes", "Instances that exited on their own.", s.crashes),
                ("restarts", "Instances restarted after a crash.", s.restarts),
                (
                    "idle_stops",
                    "Instances stopped for idleness.",
                    s.idle_stops,
                ),
                (
                    "scale_outs",
                    "Instances started because the others were busy.",
                    s.scale_outs,
                ),
                ("requests", "Interests sent to the instances.", s.requests),
                (
                    "answers",
                    "Data the instances answered with (error Data included).",
                    s.answers,
                ),
                ("nacks", "Nacks the instances answered with.", s.nacks),
                ("held", "Interests held during cold starts.", s.held),
                (
                    "held_failed",
                    "Held Interests that could not be answered.",
                    s.held_failed,
                ),
                (
                    "errors",
                    "Error Data the running instances produced.",
                    s.errors,
                ),
            ] {
                e.add("sf", name, help, metrics::Kind::Counter, &labels, value);
            }
        }
        Ok(e.render())
    }

    async fn status_json(&self) -> anyhow::Result<Bytes> {
        let d = self
            .datasets(&[
                "status/general",
                "status/counters",
                "faces/list",
                "rib/list",
                "fib/list",
                "cs/info",
                "status/chains",
            ])
            .await?;
        let [general, counters, faces, rib, fib, cs, chains] = d.as_slice() else {
            anyhow::bail!("datasets missing");
        };
        let status = ForwarderStatus::decode(general)?;
        let text = std::str::from_utf8(counters).context("status/counters is not UTF-8")?;
        let groups = super::mgmt::CounterGroups::from_exposition(&metrics::parse(text)?);
        let faces: Vec<serde_json::Value> = decode_all::<FaceStatus>(faces)?
            .iter()
            .map(super::mgmt::face_json)
            .collect();
        let routes =
            super::mgmt::routes_json(&decode_all::<RibEntry>(rib)?, &decode_all::<FibEntry>(fib)?);
        let cs = decode_all::<CsInfo>(cs)?
            .first()
            .map_or(serde_json::Value::Null, super::mgmt::cs_json);
        let sfs = if self.sf_host {
            let client = self.client.lock().await.clone().context("not connected")?;
            match nfwd_sf_host::host::protocol::stats(&client).await {
                Ok(stats) => serde_json::to_value(&stats)?,
                Err(e) => {
                    tracing::debug!("status over HTTP: SF host: {e:#}");
                    serde_json::Value::Null
                }
            }
        } else {
            serde_json::Value::Null
        };
        let json = serde_json::json!({
            "status": super::mgmt::status_json(&status),
            "counters": groups.to_json(),
            "faces": faces,
            "routes": routes,
            "cs": cs,
            "sfs": sfs,
            "chains": super::mgmt::chains_json(chains)?,
        });
        Ok(Bytes::from(serde_json::to_vec_pretty(&json)?))
    }
}

/// Face id → its round-trip histogram, from the forwarder's `status/counters` text (faces
/// whose histogram does not read back are left out).
fn face_round_trips(counters: &[u8]) -> std::collections::HashMap<u64, metrics::LatencyHistogram> {
    let text = std::str::from_utf8(counters).unwrap_or_default();
    let families = metrics::parse(text).unwrap_or_default();
    families
        .iter()
        .filter(|f| f.name == "nfwd_face_rtt_seconds")
        .flat_map(|f| &f.histograms)
        .filter_map(|s| {
            let face = s.label("face")?.parse().ok()?;
            Some((face, metrics::LatencyHistogram::from_series(s)?))
        })
        .collect()
}

/// Serves `listener` until the task is dropped, answering from the daemon at `daemon_uri`.
/// `sf_host`: the daemon runs an SF host, whose counters `/metrics` adds.
pub(crate) async fn serve(listener: TcpListener, daemon_uri: String, sf_host: bool) {
    let daemon = Arc::new(Daemon {
        uri: daemon_uri,
        client: Mutex::new(None),
        sf_host,
    });
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, usually: wait rather than spin.
                tracing::warn!("status over HTTP: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            // Dropped unanswered: peers holding every slot must not queue up more.
            tracing::debug!(%peer, "status over HTTP: {MAX_CONNECTIONS} connections open, closed");
            continue;
        };
        let daemon = Arc::clone(&daemon);
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| {
                let daemon = Arc::clone(&daemon);
                async move { Ok::<_, Infallible>(respond(&daemon, &req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, "status over HTTP: {e}"),
                Err(_) => tracing::debug!(%peer, "status over HTTP: too slow, closed"),
            }
        });
    }
}

async fn respond<B>(daemon: &Daemon, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET or HEAD\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // hyper leaves the body out of an answer to HEAD and keeps its Content-Length.
    let (result, content_type) = match req.uri().path() {
        "/metrics" => (
            daemon.metrics().await,
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        "/status.json" => (daemon.status_json().await, "application/json"),
        // The page itself is static: it reads /status.json (same origin) every 2 s.
        "/" => return answer(StatusCode::OK, "text/html; charset=utf-8", STATUS_PAGE),
        _ => {
            return answer(
                StatusCode::NOT_FOUND,
                "text/plain",
                "/, /metrics or /status.json\n",
            );
        }
    };
    match result {
        Ok(body) => answer(StatusCode::OK, content_type, body),
        Err(e) => {
            tracing::warn!("status over HTTP: {e:#}");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "the forwarder did not answer\n",
            )
        }
    }
}

fn answer(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[cfg(test)]
mod tests {
    use super::check_addr;

    #[test]
    fn only_loopback_unless_public() {
        assert!(check_addr("127.0.0.1:9696", false).is_ok());
        assert!(check_addr("[::1]:9696", false).is_ok());
        let e = check_addr("0.0.0.0:9696", false).unwrap_err().to_string();
        assert!(e.contains("--http-public"), "{e}");
        assert!(check_addr("10.1.2.3:9696", false).is_err());
        assert!(check_addr("10.1.2.3:9696", true).is_ok());
        assert!(check_addr("localhost:9696", false).is_err());
        assert!(check_addr("127.0.0.1", false).is_err());
    }
}

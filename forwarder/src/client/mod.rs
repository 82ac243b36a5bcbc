//! The client library: how an NDN application written in Rust talks to a forwarder (nfwd, or
//! NFD — it speaks exactly NFD's application protocol).
//!
//! - [`Client::connect`] opens a Unix or TCP stream face ([`ClientUri`]). Packets go out bare;
//!   incoming ones may be bare or NDNLPv2 LpPackets (a Nack fails the Interest it rejects with
//!   [`Error::Nack`]; a PitToken on an incoming Interest is echoed on the answer).
//! - Consumer: [`Client::express`] (one Interest, matched by [`Interest::matches`]: name rules
//!   and function-chain equality) and [`Client::fetch`] (segmented, windowed, with
//!   retransmission).
//! - Management: [`Client::register`] / [`Client::unregister`] send NFD `rib/register` /
//!   `rib/unregister` command Interests in the v0.3 signed format.
//! - Producer: [`Client::listen`] (a stream of [`IncomingInterest`]s), [`Client::serve`] (a
//!   handler per Interest returning a [`Reply`]) and [`Client::publish`] (a segmented, signed
//!   payload kept in memory, like ndnputchunks).
//!
//! One connection carries any number of concurrent expressions: a background task reads the
//! stream and hands each Data to the waiting expressions it satisfies. Tables are bounded
//! ([`ClientConfig`]); nothing received from the network can make the client panic.

mod fetch;
mod pending;
mod producer;
mod publish;
mod transport;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nfwd_tlv::lp::LpPacket;
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v03};
use nfwd_tlv::types::tt;
use nfwd_tlv::{Data, Interest, InterestEdit, Name, Signer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use fetch::FetchOptions;
pub use producer::{Incoming, IncomingInterest, Reply, ServeHandle, answer_data};
pub use publish::{Publication, PublishOptions};
pub use transport::{
    ClientUri, DEFAULT_TCP_PORT, MAX_FRAME, NFD_OLD_SOCKET, NFD_SOCKET, NFWD_SOCKET, TRANSPORT_ENV,
};

use crate::error::{Error, Result};
use pending::PendingTable;
use transport::FrameBuf;

/// Limits of one client connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Most Interests outstanding at once; [`Client::express`] fails beyond it.
    pub max_pending: usize,
    /// Packets queued for the socket before senders wait.
    pub send_queue: usize,
    /// Incoming Interests queued per listener; more are dropped (the consumer retransmits).
    pub listener_queue: usize,
    /// Handlers [`Client::serve`] runs at once per prefix.
    pub max_handlers: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_pending: 65_536,
            send_queue: 1024,
            listener_queue: 1024,
            max_handlers: 256,
        }
    }
}

/// Locks a mutex, ignoring poisoning: the tables stay consistent between statements, and a
/// panicking user callback never runs while they are locked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug)]
struct Listener {
    id: u64,
    prefix: Name,
    tx: mpsc::Sender<IncomingInterest>,
}

#[derive(Debug, Default)]
struct Listeners {
    /// In order of creation: the first is the fallback (see [`Shared::dispatch_interest`]).
    list: Vec<Listener>,
    next_id: u64,
}

/// State shared by the handle and the reader task.
#[derive(Debug)]
pub(crate) struct Shared {
    pending: Mutex<PendingTable>,
    listeners: Mutex<Listeners>,
    listener_queue: usize,
    closed: AtomicBool,
}

impl Shared {
    /// Handles one frame from the stream. Undecodable packets are dropped: a bad packet from
    /// the forwarder must not take the connection down.
    fn handle_frame(&self, frame: Bytes, tx: &mpsc::Sender<Bytes>) {
        let lp = match LpPacket::decode(frame) {
            Ok(lp) => lp,
            Err(e) => {
                tracing::debug!("client: dropping undecodable packet: {e}");
                return;
            }
        };
        // Forwarders never fragment towards applications on stream faces; a fragment here
        // could not be reassembled sensibly, so it is dropped like an IDLE packet.
        if lp.is_fragmented() {
            return;
        }
        let Some(fragment) = lp.fragment.clone() else {
            return;
        };
        match fragment.first().copied().map(u32::from) {
            Some(tt::INTEREST) => {
                let interest = match Interest::decode(fragment) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::debug!("client: dropping bad Interest: {e}");
                        return;
                    }
                };
                if let Some(reason) = lp.nack {
                    lock(&self.pending).nack(&interest, reason);
                } else {
                    self.dispatch_interest(interest, lp.pit_token, tx);
                }
            }
            Some(tt::DATA) => match Data::decode(fragment) {
                Ok(d) => {
                    lock(&self.pending).satisfy(&d);
                }
                Err(e) => tracing::debug!("client: dropping bad Data: {e}"),
            },
            _ => {}
        }
    }

    /// Hands an incoming Interest to the listener with the longest matching prefix. An
    /// Interest that matches none goes to the oldest listener: after a forwarder pops the head
    /// function, an SF receives the *content* name (protocol §5), which its function prefix
    /// does not match. A full listener queue drops the Interest (the consumer retransmits).
    fn dispatch_interest(
        &self,
        interest: Interest,
        pit_token: Option<nfwd_tlv::lp::PitToken>,
        tx: &mpsc::Sender<Bytes>,
    ) {
        let mut listeners = lock(&self.listeners);
        let chosen = listeners
            .list
            .iter()
            .enumerate()
            .filter(|(_, l)| l.prefix.is_prefix_of(interest.name()))
            .max_by_key(|(_, l)| l.prefix.len())
            .map(|(i, _)| i)
            .or_else(|| (!listeners.list.is_empty()).then_some(0));
        let Some(i) = chosen else {
            return;
        };
        let incoming = IncomingInterest::new(interest, pit_token, tx.clone());
        match listeners.list[i].tx.try_send(incoming) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!("client: listener queue full, dropping Interest");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                listeners.list.remove(i);
            }
        }
    }

    fn add_listener(&self, prefix: Name) -> (u64, mpsc::Receiver<IncomingInterest>) {
        let (tx, rx) = mpsc::channel(self.listener_queue.max(1));
        let mut l = lock(&self.listeners);
        let id = l.next_id;
        l.next_id += 1;
        l.list.push(Listener { id, prefix, tx });
        (id, rx)
    }

    pub(crate) fn remove_listener(&self, id: u64) {
        lock(&self.listeners).list.retain(|l| l.id != id);
    }

    /// The connection is gone: fail every waiting expression and end every listener.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        lock(&self.pending).close();
        lock(&self.listeners).list.clear();
    }
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Bytes>,
    reader: JoinHandle<()>,
    config: ClientConfig,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The reader holds a sender of the write queue; stopping it lets the writer drain what
        // is queued (e.g. a last reply) and then end.
        self.reader.abort();
    }
}

/// A connection to a forwarder. Cheap to clone; the connection closes when the last clone
/// (and every [`IncomingInterest`] not yet answered) is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Removes a pending entry when an expression ends in any way (answer, timeout, or the future
/// being dropped), so abandoned Interests never fill the table.
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(self.id);
    }
}

impl Client {
    /// Connects to the forwarder at `uri` (`unix:///path`, `tcp4://host:port`).
    pub async fn connect(uri: &str) -> Result<Self> {
        Self::connect_uri(&uri.parse()?, ClientConfig::default()).await
    }

    /// Connects to the default forwarder ([`ClientUri::from_env_or_default`]).
    pub async fn connect_default() -> Result<Self> {
        Self::connect_uri(&ClientUri::from_env_or_default()?, ClientConfig::default()).await
    }

    /// Connects to `uri` with the given limits.
    pub async fn connect_uri(uri: &ClientUri, config: ClientConfig) -> Result<Self> {
        match uri {
            ClientUri::Unix(path) => {
                let s = tokio::net::UnixStream::connect(path).await?;
                Ok(Self::from_stream(s, config))
            }
            ClientUri::Tcp { host, port } => {
                let s = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                // Interests are small and latency-sensitive.
                s.set_nodelay(true)?;
                Ok(Self::from_stream(s, config))
            }
        }
    }

    /// Runs the client over an already connected byte stream (a socket, or an in-memory pipe
    /// in tests). Must be called within a tokio runtime.
    pub fn from_stream<S>(stream: S, config: ClientConfig) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            pending: Mutex::new(PendingTable::new(config.max_pending)),
            listeners: Mutex::new(Listeners::default()),
            listener_queue: config.listener_queue,
            closed: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(config.send_queue.max(1));
        tokio::spawn(write_loop(w, rx, Arc::downgrade(&shared)));
        let reader = tokio::spawn(read_loop(r, Arc::clone(&shared), tx.clone()));
        Self {
            inner: Arc::new(Inner {
                shared,
                tx,
                reader,
                config,
            }),
        }
    }

    /// Sends a raw packet (an Interest, Data or LpPacket wire) as is.
    pub async fn send_raw(&self, wire: Bytes) -> Result<()> {
        self.inner.tx.send(wire).await.map_err(|_| Error::Closed)
    }

    /// True once the connection has failed or been closed by the peer.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.load(Ordering::Acquire)
    }

    /// Number of Interests waiting for an answer.
    #[must_use]
    pub fn pending_count(&self) -> usize {
        lock(&self.inner.shared.pending).len()
    }

    /// Sends `interest` and waits for the Data that satisfies it ([`Interest::matches`]: a
    /// chained Interest is answered only by a Data carrying the same chain). A random Nonce is
    /// added if absent. Fails with [`Error::Timeout`] after the InterestLifetime (4 s if
    /// absent), [`Error::Nack`] if the forwarder rejects it, [`Error::Closed`] if the
    /// connection ends.
    pub async fn express(&self, interest: Interest) -> Result<Data> {
        let interest = if interest.nonce().is_none() {
            let edit = InterestEdit {
                nonce: Some(rand::random()),
                ..InterestEdit::default()
            };
            Interest::decode(interest.edited(&edit))?
        } else {
            interest
        };
        let lifetime = Duration::from_millis(interest.effective_lifetime_ms());
        let wire = interest.wire().clone();
        let shared = &*self.inner.shared;
        let (tx, rx) = oneshot::channel();
        let id = lock(&shared.pending).insert(interest, tx)?;
        let _guard = PendingGuard { shared, id };
        self.send_raw(wire).await?;
        match tokio::time::timeout(lifetime, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Sends an NFD management command (`/localhost/nfd/<module>/<verb>`) signed in the v0.3
    /// format with DigestSha256, as python-ndn's `NDNAppv2` does, and returns the
    /// ControlResponse. A status other than 200 is [`Error::Management`].
    pub async fn command(
        &self,
        module: &str,
        verb: &str,
        params: &ControlParameters,
    ) -> Result<ControlResponse> {
        let signer = Signer::digest_sha256();
        let interest = make_command_v03(module, verb, params, &signer, rand::random(), now_ms())?;
        let data = self.express(interest).await?;
        let resp = ControlResponse::from_wire(data.content())?;
        if resp.is_ok() {
            Ok(resp)
        } else {
            Err(Error::Management {
                code: resp.status_code,
                text: resp.status_text.to_string(),
            })
        }
    }

    /// Asks the forwarder to route Interests under `prefix` to this connection
    /// (`rib/register` with only the Name, so FaceId defaults to this face).
    pub async fn register(&self, prefix: &Name) -> Result<()> {
        let params = ControlParameters::with_name(prefix.clone());
        self.command("rib", "register", &params).await.map(drop)
    }

    /// Withdraws a route added by [`Client::register`].
    pub async fn unregister(&self, prefix: &Name) -> Result<()> {
        let params = ControlParameters::with_name(prefix.clone());
        self.command("rib", "unregister", &params).await.map(drop)
    }

    /// Registers `prefix` and returns the stream of Interests that arrive for it. The listener
    /// is installed before the registration is sent, so no Interest is missed.
    pub async fn listen(&self, prefix: Name) -> Result<Incoming> {
        let incoming = self.listen_unregistered(prefix.clone());
        self.register(&prefix).await?;
        Ok(incoming)
    }

    /// Receives Interests under `prefix` without registering it (the route exists by other
    /// means: static configuration, another connection's registration, a test fixture).
    #[must_use]
    pub fn listen_unregistered(&self, prefix: Name) -> Incoming {
        let (id, rx) = self.inner.shared.add_listener(prefix.clone());
        Incoming::new(prefix, id, rx, Arc::downgrade(&self.inner.shared))
    }

    /// Registers `prefix` and answers each Interest under it with `handler`, running up to
    /// [`ClientConfig::max_handlers`] handlers at once. Serving stops when the returned handle
    /// is dropped or the connection closes.
    pub async fn serve<F, Fut>(&self, prefix: Name, handler: F) -> Result<ServeHandle>
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let incoming = self.listen(prefix).await?;
        Ok(ServeHandle::spawn(
            incoming,
            handler,
            self.inner.config.max_handlers,
        ))
    }

    /// Like [`Client::serve`] without registering the prefix.
    #[must_use]
    pub fn serve_unregistered<F, Fut>(&self, prefix: Name, handler: F) -> ServeHandle
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let incoming = self.listen_unregistered(prefix);
        ServeHandle::spawn(incoming, handler, self.inner.config.max_handlers)
    }
}

async fn read_loop<R: AsyncRead>(r: R, shared: Arc<Shared>, tx: mpsc::Sender<Bytes>) {
    let mut r = std::pin::pin!(r);
    let mut frames = FrameBuf::default();
    loop {
        loop {
            match frames.next_frame() {
                Ok(Some(frame)) => shared.handle_frame(frame, &tx),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("client: closing connection: {e}");
                    shared.close();
                    return;
                }
            }
        }
        frames.buf_mut().reserve(16 * 1024);
        match r.read_buf(frames.buf_mut()).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!("client: read failed: {e}");
                break;
            }
        }
    }
    shared.close();
}

async fn write_loop<W: AsyncWrite>(w: W, mut rx: mpsc::Receiver<Bytes>, shared: Weak<Shared>) {
    // Packets are copied into a buffer and flushed when the queue runs dry, so a burst of
    // Interests (a fetch window, a load generator) costs one system call, not one per packet.
    let mut w = std::pin::pin!(BufWriter::with_capacity(64 * 1024, w));
    while let Some(first) = rx.recv().await {
        let mut packet = first;
        let result = loop {
            if let Err(e) = w.write_all(&packet).await {
                break Err(e);
            }
            match rx.try_recv() {
                Ok(next) => packet = next,
                Err(_) => break w.flush().await,
            }
        };
        if let Err(e) = result {
            tracing::debug!("client: write failed: {e}");
            // Nothing sent from now on can be answered: fail the waiting expressions now
            // rather than after their lifetimes.
            if let Some(s) = shared.upgrade() {
                s.close();
            }
            return;
        }
    }
    let _ = w.shutdown().await;
}

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
//! - Service functions: [`Client::listen_function`] (see "Dispatch" below).
//!
//! **Dispatch of incoming Interests.** An Interest goes to the listener with the longest
//! prefix of its name, and only to such a listener. A forwarder hands a service function the
//! *content* name after popping the function (`docs/protocol.md` §5), which no prefix of the
//! SF matches: a connection that serves a function says so explicitly with
//! [`Client::listen_function`] (at most one per connection), whose listener also receives
//! every Interest matching no prefix listener. Without one such Interests are dropped (a
//! debug log): a listener never sees names it did not ask for, so a name routed here by other
//! means (a forwarding hint, a route of another application) cannot reach, say, a management
//! listener.
//!
//! **Signing.** Command Interests ([`Client::command`], and those built with
//! [`Client::sign_command`]) are v0.3 signed Interests signed by the connection's command
//! signer ([`ClientConfig::command_signer`], [`Client::set_command_signer`]; DigestSha256 by
//! default), with SignatureTime strictly increasing per connection (a forwarder refuses a
//! signer's command whose timestamp is not after its previous one).
//!
//! One connection carries any number of concurrent expressions: a background task reads the
//! stream and hands each Data to the waiting expressions it satisfies. Tables are bounded
//! ([`ClientConfig`]); nothing received from the network can make the client panic.

mod fetch;
mod pending;
mod producer;
mod publish;
mod transport;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nfwd_tlv::lp::LpPacket;
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v03};
use nfwd_tlv::types::tt;
use nfwd_tlv::{Data, Interest, InterestBuilder, InterestEdit, Name, Signer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use fetch::{FetchOptions, FetchProgress};
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
    /// Signs command Interests ([`Client::command`], [`Client::sign_command`]). Default
    /// DigestSha256, which a forwarder accepts from local users it authorizes by their
    /// credentials; a key is needed where its policy names one (`docs/security.md`).
    pub command_signer: Arc<Signer>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_pending: 65_536,
            send_queue: 1024,
            listener_queue: 1024,
            max_handlers: 256,
            command_signer: Arc::new(Signer::digest_sha256()),
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
    /// The function listener: also receives what matches no prefix ([`Client::listen_function`]).
    function: bool,
    tx: mpsc::Sender<IncomingInterest>,
}

#[derive(Debug, Default)]
struct Listeners {
    list: Vec<Listener>,
    next_id: u64,
}

impl Listeners {
    /// Who receives an Interest named `name`: the listener with the longest prefix of it, else
    /// the function listener, else nobody.
    fn route(&self, name: &Name) -> Option<usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, l)| l.prefix.is_prefix_of(name))
            .max_by_key(|(_, l)| l.prefix.len())
            .map(|(i, _)| i)
            .or_else(|| self.list.iter().position(|l| l.function))
    }
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
                    self.dispatch_interest(interest, &lp, tx);
                }
            }
            Some(tt::DATA) => match Data::decode(fragment) {
                Ok(d) => {
                    lock(&self.pending).satisfy(&d, lp.congestion_mark.unwrap_or(0));
                }
                Err(e) => tracing::debug!("client: dropping bad Data: {e}"),
            },
            _ => {}
        }
    }

    /// Hands an incoming Interest to the listener with the longest matching prefix, else to
    /// the function listener (module documentation, "Dispatch"); with neither it is dropped.
    /// A full listener queue drops the Interest (the consumer retransmits).
    fn dispatch_interest(&self, interest: Interest, lp: &LpPacket, tx: &mpsc::Sender<Bytes>) {
        let mut listeners = lock(&self.listeners);
        let Some(i) = listeners.route(interest.name()) else {
            tracing::debug!(
                "client: no listener for {}, dropping the Interest",
                interest.name()
            );
            return;
        };
        let incoming = IncomingInterest::new(interest, lp, tx.clone());
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

    /// Adds a listener; `None` if `function` is asked and the connection has a live function
    /// listener already.
    fn add_listener(
        &self,
        prefix: Name,
        function: bool,
    ) -> Option<(u64, mpsc::Receiver<IncomingInterest>)> {
        let (tx, rx) = mpsc::channel(self.listener_queue.max(1));
        let mut l = lock(&self.listeners);
        if function {
            // A function listener whose Incoming was dropped without being removed yet (its
            // queue closed) does not count.
            l.list.retain(|x| !(x.function && x.tx.is_closed()));
            if l.list.iter().any(|x| x.function) {
                return None;
            }
        }
        let id = l.next_id;
        l.next_id += 1;
        l.list.push(Listener {
            id,
            prefix,
            function,
            tx,
        });
        Some((id, rx))
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
    /// The command signer (replaceable, [`Client::set_command_signer`]).
    signer: Mutex<Arc<Signer>>,
    /// SignatureTime of the last command signed here (they must increase).
    last_command_ms: AtomicU64,
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
        let signer = Mutex::new(Arc::clone(&config.command_signer));
        Self {
            inner: Arc::new(Inner {
                shared,
                tx,
                reader,
                config,
                signer,
                last_command_ms: AtomicU64::new(0),
            }),
        }
    }

    /// Signs this connection's command Interests with `signer` from now on (all clones of the
    /// client share it).
    pub fn set_command_signer(&self, signer: Arc<Signer>) {
        *lock(&self.inner.signer) = signer;
    }

    /// The signer of command Interests.
    #[must_use]
    pub fn command_signer(&self) -> Arc<Signer> {
        Arc::clone(&lock(&self.inner.signer))
    }

    /// The SignatureTime of the next command: the wall clock in ms, but always after the
    /// previous command's, even within one millisecond.
    fn next_command_time(&self) -> u64 {
        let now = now_ms();
        let prev = self.inner.last_command_ms.fetch_max(now, Ordering::AcqRel);
        if prev >= now {
            self.inner.last_command_ms.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            now
        }
    }

    /// Signs `builder` as a v0.3 command Interest (SignatureNonce, SignatureTime) with the
    /// command signer. Its ApplicationParameters, if any, are covered by the signature and by
    /// the ParametersSha256DigestComponent the signing appends to the name.
    pub fn sign_command(&self, builder: InterestBuilder) -> Result<Interest> {
        let signer = self.command_signer();
        let mut info = signer.signature_info();
        info.nonce = Some(Bytes::copy_from_slice(&rand::random::<u64>().to_be_bytes()));
        info.time = Some(self.next_command_time());
        Ok(builder.sign(&signer, info)?)
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
        self.express_marked(interest).await.map(|(data, _)| data)
    }

    /// [`Client::express`], also returning the NDNLPv2 CongestionMark the Data arrived with
    /// (0: none): a forwarder on the way marks packets when a queue builds up, and a consumer
    /// with a congestion window backs off on a mark as on a loss (ndncatchunks does).
    pub async fn express_marked(&self, interest: Interest) -> Result<(Data, u64)> {
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

    /// Sends a management command and returns the forwarder's ControlResponse whatever its
    /// status code: some refusals carry a body worth reading (`faces/create` answers 409 with
    /// the face that exists already).
    pub async fn command_response(
        &self,
        module: &str,
        verb: &str,
        params: &ControlParameters,
    ) -> Result<ControlResponse> {
        let signer = self.command_signer();
        let time = self.next_command_time();
        let interest = make_command_v03(module, verb, params, &signer, rand::random(), time)?;
        let data = self.express(interest).await?;
        Ok(ControlResponse::from_wire(data.content())?)
    }

    /// Sends an NFD management command (`/localhost/nfd/<module>/<verb>`) signed in the v0.3
    /// format with the command signer (DigestSha256 unless set), as python-ndn's `NDNAppv2`
    /// does, and returns the ControlResponse. A status other than 200 is
    /// [`Error::Management`].
    pub async fn command(
        &self,
        module: &str,
        verb: &str,
        params: &ControlParameters,
    ) -> Result<ControlResponse> {
        let resp = self.command_response(module, verb, params).await?;
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
        match self.inner.shared.add_listener(prefix.clone(), false) {
            Some((id, rx)) => Incoming::new(prefix, id, rx, Arc::downgrade(&self.inner.shared)),
            // Only function listeners are ever refused.
            None => Incoming::closed(prefix),
        }
    }

    /// Registers the function name `function` and returns the stream of Interests a service
    /// function receives on this connection: those under `function` itself (e.g. its
    /// `F/32=stats`) and every Interest that matches no other listener's prefix — after the
    /// forwarder popped `function`, an SF's Interests carry the content name (module
    /// documentation, "Dispatch"). At most one per connection (one face per function,
    /// `docs/protocol.md` §5); a second one is an error while the first is alive.
    pub async fn listen_function(&self, function: Name) -> Result<Incoming> {
        let incoming = self.listen_function_unregistered(function.clone())?;
        self.register(&function).await?;
        Ok(incoming)
    }

    /// Like [`Client::listen_function`] without registering the name.
    pub fn listen_function_unregistered(&self, function: Name) -> Result<Incoming> {
        let Some((id, rx)) = self.inner.shared.add_listener(function.clone(), true) else {
            return Err(Error::Other(format!(
                "this connection already has a function listener; one face per function (asked for {function})"
            )));
        };
        Ok(Incoming::new(
            function,
            id,
            rx,
            Arc::downgrade(&self.inner.shared),
        ))
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

    /// Registers the function name `function` and answers what [`Client::listen_function`]
    /// receives (the popped Interests, named after their content) with `handler`, as
    /// [`Client::serve`] does for a prefix: how a service function written as a handler
    /// serves.
    pub async fn serve_function<F, Fut>(&self, function: Name, handler: F) -> Result<ServeHandle>
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let incoming = self.listen_function(function).await?;
        Ok(ServeHandle::spawn(
            incoming,
            handler,
            self.inner.config.max_handlers,
        ))
    }

    /// Answers what [`Client::listen_function_unregistered`] receives with `handler`, as
    /// [`Client::serve`] does for a prefix (the name is not registered).
    pub fn serve_function_unregistered<F, Fut>(
        &self,
        function: Name,
        handler: F,
    ) -> Result<ServeHandle>
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let incoming = self.listen_function_unregistered(function)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokio::io::DuplexStream;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    /// A client over an in-memory pipe; the other end plays the forwarder.
    fn client() -> (Client, DuplexStream) {
        let (a, b) = tokio::io::duplex(1 << 16);
        (Client::from_stream(a, ClientConfig::default()), b)
    }

    async fn send_interest(forwarder: &mut DuplexStream, n: &str) {
        let i = InterestBuilder::new(name(n)).build().unwrap();
        forwarder.write_all(i.wire()).await.unwrap();
    }

    /// The next Interest name `incoming` receives within a moment, if any.
    async fn next_name(incoming: &mut Incoming) -> Option<String> {
        tokio::time::timeout(Duration::from_millis(200), incoming.next())
            .await
            .ok()
            .flatten()
            .map(|i| i.interest().name().to_string())
    }

    #[tokio::test]
    async fn a_prefix_listener_receives_only_names_under_its_prefix() {
        let (c, mut fwd) = client();
        let mut mgmt = c.listen_unregistered(name("/localhost/nfwd/sf"));
        let mut deep = c.listen_unregistered(name("/localhost/nfwd/sf/logs"));
        send_interest(&mut fwd, "/localhost/nfwd/sf/list").await;
        send_interest(&mut fwd, "/localhost/nfwd/sf/logs/x/0").await;
        assert_eq!(
            next_name(&mut mgmt).await.as_deref(),
            Some("/localhost/nfwd/sf/list")
        );
        assert_eq!(
            next_name(&mut deep).await.as_deref(),
            Some("/localhost/nfwd/sf/logs/x/0"),
            "the longest prefix wins"
        );
        // What the attack used: a name of no listener (routed here by a forwarding hint). It
        // used to go to the oldest listener; now nobody gets it.
        send_interest(&mut fwd, "/a/b/c/deploy").await;
        assert_eq!(next_name(&mut mgmt).await, None);
        assert_eq!(next_name(&mut deep).await, None);
    }

    #[tokio::test]
    async fn the_function_listener_gets_its_name_and_what_no_prefix_matches() {
        let (c, mut fwd) = client();
        let mut other = c.listen_unregistered(name("/app"));
        let mut f = c.listen_function_unregistered(name("/sf/upper")).unwrap();
        send_interest(&mut fwd, "/content/x").await;
        send_interest(&mut fwd, "/app/y").await;
        send_interest(&mut fwd, "/sf/upper/32=stats").await;
        assert_eq!(next_name(&mut f).await.as_deref(), Some("/content/x"));
        assert_eq!(
            next_name(&mut f).await.as_deref(),
            Some("/sf/upper/32=stats")
        );
        assert_eq!(next_name(&mut other).await.as_deref(), Some("/app/y"));
        assert_eq!(next_name(&mut f).await, None);

        // One per connection, while it lives.
        assert!(c.listen_function_unregistered(name("/sf/other")).is_err());
        drop(f);
        let mut g = c.listen_function_unregistered(name("/sf/other")).unwrap();
        send_interest(&mut fwd, "/content/z").await;
        assert_eq!(next_name(&mut g).await.as_deref(), Some("/content/z"));
    }

    #[tokio::test]
    async fn commands_are_signed_by_the_command_signer_with_increasing_times() {
        let (c, _fwd) = client();
        let sign = |c: &Client| {
            c.sign_command(
                InterestBuilder::new(name("/localhost/nfwd/sf/deploy"))
                    .app_parameters(Bytes::from_static(b"x")),
            )
            .unwrap()
        };
        let times: Vec<u64> = (0..50)
            .map(|_| sign(&c).signature_info().unwrap().time.unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        let first = sign(&c);
        assert_eq!(
            first.signature_info().unwrap().signature_type,
            nfwd_tlv::types::signature_type::DIGEST_SHA256
        );
        // Signed over the parameters: the name ends with their digest.
        assert_eq!(first.name().len(), 5);
        let key = name("/op/KEY/k");
        let (ed, _) = Signer::generate_ed25519(key).unwrap();
        // Set through a clone: every clone of the connection shares the signer.
        let other = c.clone();
        other.set_command_signer(Arc::new(ed));
        let signed = sign(&c);
        assert_ne!(
            signed.signature_info().unwrap().signature_type,
            nfwd_tlv::types::signature_type::DIGEST_SHA256
        );
    }
}

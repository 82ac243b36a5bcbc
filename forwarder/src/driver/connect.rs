//! Outgoing stream connections (TCP, Unix, QUIC) for `faces/create`, `[[face]]` and the
//! reconnection of permanent faces.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use super::quic;
use super::stream::StreamConn;
use super::uri::{FaceUri, ip_uri};
use crate::core::{ChannelId, FaceScope, PeerCredentials};
use crate::error::{Error, Result};

/// Give up on a connection attempt after this long (an unreachable peer may never answer).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What carries a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Unix,
    Tcp,
    Udp,
    Quic,
}

/// The two ends of a new link, as the core's `FaceInfo` wants them.
#[derive(Debug, Clone)]
pub(super) struct LinkDesc {
    pub(super) remote_uri: String,
    pub(super) local_uri: String,
    pub(super) scope: FaceScope,
    /// Peer credentials (Unix sockets).
    pub(super) peer: Option<PeerCredentials>,
    /// The restricted channel the connection came through.
    pub(super) channel: Option<ChannelId>,
    pub(super) transport: Transport,
    /// The peer is on this node (a Unix socket, a loopback address). Differs from `scope`
    /// for QUIC, whose faces are non-local even on loopback; decides idle closing.
    pub(super) local_peer: bool,
}

/// Whether an IP peer is on this node.
pub(super) fn is_loopback(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// Loopback peers are applications on this node (NFD's rule).
pub(super) fn scope_of(peer: SocketAddr) -> FaceScope {
    if is_loopback(peer) {
        FaceScope::Local
    } else {
        FaceScope::NonLocal
    }
}

/// Opens outgoing streams. Shared by the engine and the tasks of permanent faces.
#[derive(Debug)]
pub(super) struct Connector {
    /// The listening QUIC endpoint, reused for outgoing connections of its address family so
    /// that peers see our listening port.
    quic_server: Option<quinn::Endpoint>,
    /// Client-only endpoints made on first use when no listening one fits.
    quic_clients: Mutex<Vec<quinn::Endpoint>>,
    quic_client_config: quinn::ClientConfig,
}

impl Connector {
    pub(super) fn new(quic_server: Option<quinn::Endpoint>) -> Result<Self> {
        Ok(Self {
            quic_server,
            quic_clients: Mutex::new(Vec::new()),
            quic_client_config: quic::client_config()?,
        })
    }

    /// Every QUIC endpoint, to close them at shutdown.
    pub(super) fn close_quic(&self) {
        if let Some(ep) = &self.quic_server {
            ep.close(0u32.into(), b"shutdown");
        }
        if let Ok(clients) = self.quic_clients.lock() {
            for ep in clients.iter() {
                ep.close(0u32.into(), b"shutdown");
            }
        }
    }

    fn quic_endpoint(&self, peer: SocketAddr) -> Result<quinn::Endpoint> {
        let same_family =
            |ep: &quinn::Endpoint| ep.local_addr().is_ok_and(|a| a.is_ipv4() == peer.is_ipv4());
        if let Some(ep) = self.quic_server.as_ref().filter(|ep| same_family(ep)) {
            return Ok(ep.clone());
        }
        let mut clients = self
            .quic_clients
            .lock()
            .map_err(|_| Error::Quic("client endpoint table poisoned".into()))?;
        if let Some(ep) = clients.iter().find(|ep| same_family(ep)) {
            return Ok(ep.clone());
        }
        let bind: SocketAddr = if peer.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let mut ep = quinn::Endpoint::client(bind)?;
        ep.set_default_client_config(self.quic_client_config.clone());
        clients.push(ep.clone());
        Ok(ep)
    }

    /// Connects to a stream URI. UDP is not a stream: the engine handles it itself.
    pub(super) async fn connect_stream(&self, uri: &FaceUri) -> Result<(StreamConn, LinkDesc)> {
        let attempt = async {
            match uri {
                FaceUri::Tcp(addr) => {
                    let s = TcpStream::connect(addr).await?;
                    // Interests are small and latency-bound: no Nagle delay.
                    s.set_nodelay(true)?;
                    let desc = LinkDesc {
                        remote_uri: ip_uri("tcp", *addr),
                        local_uri: ip_uri("tcp", s.local_addr()?),
                        scope: scope_of(*addr),
                        peer: None,
                        channel: None,
                        transport: Transport::Tcp,
                        local_peer: is_loopback(*addr),
                    };
                    let (r, w) = s.into_split();
                    Ok((StreamConn::ready(r, Box::new(w)), desc))
                }
                FaceUri::Unix(path) => {
                    let s = UnixStream::connect(path).await?;
                    let desc = LinkDesc {
                        remote_uri: uri.to_string(),
                        local_uri: format!("fd://{}", s.as_raw_fd()),
                        scope: FaceScope::Local,
                        // We dialled out: the far end's credentials grant nothing here.
                        peer: None,
                        channel: None,
                        transport: Transport::Unix,
                        local_peer: true,
                    };
                    let (r, w) = s.into_split();
                    Ok((StreamConn::ready(r, Box::new(w)), desc))
                }
                FaceUri::Quic(addr) => {
                    let ep = self.quic_endpoint(*addr)?;
                    quic::connect(&ep, *addr).await
                }
                FaceUri::Udp(_) => Err(Error::FaceUri {
                    uri: uri.to_string(),
                    reason: "not a stream".into(),
                }),
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| Error::Timeout)?
    }
}

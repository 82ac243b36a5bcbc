//! QUIC faces between forwarders (quinn).
//!
//! **Security model**: each daemon makes a fresh self-signed certificate at start, and the
//! client side accepts any certificate (it checks only that the server holds the key of the
//! certificate it shows). QUIC here is transport encryption *without peer authentication*:
//! an on-path attacker can impersonate a peer. That is acceptable because NDN packets are
//! signed end to end and consumers verify Data, not the link it arrived on.
//!
//! **Framing**: NDN packets up to 8800 bytes do not fit QUIC datagrams (about 1200 bytes), so
//! a face is a byte stream with TLV framing, like TCP (MTU `None`). Each side opens one
//! *unidirectional* stream for what it sends. A bidirectional stream would be invisible to
//! the accepting side until the opener first writes on it, so the accepting forwarder could
//! not send (an Interest towards a producer behind the client, say) before the client did;
//! two unidirectional streams let both sides send from the moment the connection is up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::sync::{Semaphore, mpsc};
use tracing::debug;

use super::Event;
use super::connect::{LinkDesc, Transport, is_loopback};
use super::stream::{BoxRead, StreamConn};
use crate::core::FaceScope;
use crate::error::{Error, Result};

/// ALPN protocol id: refuses connections from anything that is not an NDN forwarder.
const ALPN: &[u8] = b"ndn";

/// The name in our certificates and the one clients ask for (never checked: see above).
const SERVER_NAME: &str = "nfwd";

/// Keep-alives make a dead peer visible within the idle timeout even on a quiet link.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connection attempts are refused, which bounds the
/// tasks and memory a flood of Initial packets can cost.
const MAX_HANDSHAKES: usize = 256;

fn provider() -> Arc<CryptoProvider> {
    // Explicit provider: never depend on a process-wide default being installed.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn transport() -> Result<Arc<quinn::TransportConfig>> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t.max_idle_timeout(Some(
        IDLE_TIMEOUT
            .try_into()
            .map_err(|e| Error::Quic(format!("idle timeout: {e}")))?,
    ));
    // One unidirectional stream per direction is all a face uses; refuse more.
    t.max_concurrent_bidi_streams(0u32.into());
    t.max_concurrent_uni_streams(1u32.into());
    Ok(Arc::new(t))
}

/// Server configuration with a freshly generated self-signed certificate.
pub(super) fn server_config() -> Result<quinn::ServerConfig> {
    let ck = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])
        .map_err(|e| Error::Quic(format!("certificate: {e}")))?;
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Quic(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| Error::Quic(e.to_string()))?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto =
        QuicServerConfig::try_from(Arc::new(tls)).map_err(|e| Error::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport()?);
    Ok(config)
}

/// Client configuration that accepts any server certificate (see the module docs).
pub(super) fn client_config() -> Result<quinn::ClientConfig> {
    let provider = provider();
    let verifier = AnyCertificate(provider.signature_verification_algorithms);
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Quic(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto =
        QuicClientConfig::try_from(Arc::new(tls)).map_err(|e| Error::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport()?);
    Ok(config)
}

/// Accepts every certificate but still checks handshake signatures, so the peer must hold
/// the key of the certificate it presents.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The face's streams on an established connection: ours to send on is opened now; the
/// peer's is accepted when it arrives (inside the read half's future).
async fn face_streams(conn: quinn::Connection) -> Result<StreamConn> {
    let send = conn
        .open_uni()
        .await
        .map_err(|e| Error::Quic(e.to_string()))?;
    let read = Box::pin(async move {
        let recv = conn.accept_uni().await?;
        let read: BoxRead = Box::new(recv);
        Ok(read)
    });
    Ok(StreamConn {
        read,
        write: Box::new(send),
    })
}

fn desc(conn: &quinn::Connection, local: Option<SocketAddr>) -> LinkDesc {
    LinkDesc {
        remote_uri: format!("quic://{}", conn.remote_address()),
        local_uri: local.map_or_else(|| "quic://".to_owned(), |a| format!("quic://{a}")),
        // Between forwarders even on one host: a QUIC face never counts as an application
        // face, so the chaining rule (pop towards local faces) does not fire towards a peer
        // forwarder that happens to run on loopback.
        scope: FaceScope::NonLocal,
        peer: None,
        channel: None,
        transport: Transport::Quic,
        // Still, a peer on loopback is on this node: never idle-closed.
        local_peer: is_loopback(conn.remote_address()),
    }
}

/// Connects to a peer forwarder.
pub(super) async fn connect(
    endpoint: &quinn::Endpoint,
    peer: SocketAddr,
) -> Result<(StreamConn, LinkDesc)> {
    let conn = endpoint
        .connect(peer, SERVER_NAME)
        .map_err(|e| Error::Quic(e.to_string()))?
        .await
        .map_err(|e| Error::Quic(e.to_string()))?;
    let d = desc(&conn, endpoint.local_addr().ok());
    Ok((face_streams(conn).await?, d))
}

/// Accepts connections from peer forwarders, each becoming an on-demand face.
pub(super) async fn accept_loop(endpoint: quinn::Endpoint, events: mpsc::Sender<Event>) {
    let local = endpoint.local_addr().ok();
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    while let Some(incoming) = endpoint.accept().await {
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            debug!(peer = %incoming.remote_address(), "too many QUIC handshakes; refused");
            incoming.refuse();
            continue;
        };
        let events = events.clone();
        // Handshakes run concurrently so one slow peer does not hold up the others.
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            let conn = match tokio::time::timeout(HANDSHAKE_TIMEOUT, incoming).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return debug!(%peer, "QUIC handshake failed: {e}"),
                Err(_) => return debug!(%peer, "QUIC handshake timed out"),
            };
            let d = desc(&conn, local);
            let streams = face_streams(conn).await;
            drop(slot);
            match streams {
                Ok(conn) => {
                    let _ = events.send(Event::Opened { desc: d, conn }).await;
                }
                Err(e) => debug!(%peer, "QUIC face setup failed: {e}"),
            }
        });
    }
}

//! Listening sockets: the Unix stream socket applications connect to, and TCP.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::Event;
use super::connect::{LinkDesc, scope_of};
use super::stream::StreamConn;
use super::uri::ip_uri;
use crate::core::FaceScope;
use crate::error::{Error, Result};

/// Pause after a failed `accept` (typically out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds the Unix socket at `path`: creates the parent directory, replaces a stale socket
/// file left by a crashed daemon (but not one a live daemon answers on), and opens the
/// permissions so unprivileged applications can connect, as NFD does.
pub(super) fn bind_unix(path: &Path) -> Result<UnixListener> {
    let fail = |what: &str, e: io::Error| {
        Error::Io(io::Error::new(
            e.kind(),
            format!("{what} {}: {e}", path.display()),
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("create directory for", e))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Error::Config(format!(
                    "{} is in use by a running forwarder",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(|e| fail("remove stale socket", e))?;
        }
        Ok(_) => {
            return Err(Error::Config(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(|e| fail("bind", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| fail("chmod", e))?;
    Ok(listener)
}

/// Accepts application connections: each one is an on-demand local face `fd://<n>`.
pub(super) async fn unix_accept_loop(
    listener: UnixListener,
    path: PathBuf,
    events: mpsc::Sender<Event>,
) {
    let local_uri = format!("unix://{}", path.display());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let desc = LinkDesc {
                    // NFD names Unix faces by their file descriptor; applications print it.
                    remote_uri: format!("fd://{}", stream.as_raw_fd()),
                    local_uri: local_uri.clone(),
                    scope: FaceScope::Local,
                };
                let (r, w) = stream.into_split();
                let conn = StreamConn::ready(r, Box::new(w));
                if events.send(Event::Opened { desc, conn }).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                warn!(path = %path.display(), "accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Accepts TCP connections: on-demand faces, local if the peer is on loopback.
pub(super) async fn tcp_accept_loop(listener: TcpListener, events: mpsc::Sender<Event>) {
    let local = listener.local_addr().ok();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Err(e) = stream.set_nodelay(true) {
                    debug!(%peer, "TCP_NODELAY: {e}");
                }
                let desc = LinkDesc {
                    remote_uri: ip_uri("tcp", peer),
                    local_uri: local.map_or_else(String::new, |a| ip_uri("tcp", a)),
                    scope: scope_of(peer),
                };
                let (r, w) = stream.into_split();
                let conn = StreamConn::ready(r, Box::new(w));
                if events.send(Event::Opened { desc, conn }).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                warn!("TCP accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

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
use super::connect::{LinkDesc, Transport, is_loopback, scope_of};
use super::gate::Gate;
use super::stream::StreamConn;
use super::uri::ip_uri;
use crate::core::{ChannelId, FaceScope, PeerCredentials};
use crate::error::{Error, Result};

/// Pause after a failed `accept` (typically out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Who may connect to a Unix socket the driver binds.
#[derive(Debug, Clone, Copy)]
pub(super) struct SocketAccess {
    /// Permission bits.
    pub(super) mode: u32,
    /// Group to own the socket, if not the daemon's.
    pub(super) group: Option<u32>,
    /// Create the parent directory if missing (the main socket); a channel's directory is
    /// made by whoever asked for the channel, with the ownership it needs.
    pub(super) create_dir: bool,
}

/// Binds the Unix socket at `path`: creates the parent directory if asked, replaces a stale
/// socket file left by a crashed daemon (but not one a live daemon answers on), and sets the
/// permissions and group of `access` (`faces.unix_mode`, `faces.unix_group`).
pub(super) fn bind_unix(path: &Path, access: SocketAccess) -> Result<UnixListener> {
    let fail = |what: &str, e: io::Error| {
        Error::Io(io::Error::new(
            e.kind(),
            format!("{what} {}: {e}", path.display()),
        ))
    };
    if access.create_dir
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
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
    if let Some(gid) = access.group {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|e| fail("chown", e))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(access.mode))
        .map_err(|e| fail("chmod", e))?;
    Ok(listener)
}

/// The peer of an accepted Unix connection, as the kernel saw it at connect time, with its
/// supplementary groups (read from `/proc/<pid>/status`; empty if the process is already
/// gone — group-based privileges then do not apply, which fails closed).
fn peer_credentials(stream: &tokio::net::UnixStream) -> Option<PeerCredentials> {
    let cred = stream.peer_cred().ok()?;
    let pid = cred.pid().and_then(|p| u32::try_from(p).ok());
    let groups = pid.map(supplementary_groups).unwrap_or_default();
    Some(PeerCredentials {
        uid: cred.uid(),
        gid: cred.gid(),
        groups,
        pid,
    })
}

fn supplementary_groups(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Groups:")).map(|g| {
                g.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Accepts application connections: each one is an on-demand local face `fd://<n>`, with the
/// peer's credentials; on a restricted channel's socket, tagged with the channel. While
/// `gate` is closed, connections from other processes are accepted but held (`gate.rs`).
pub(super) async fn unix_accept_loop(
    listener: UnixListener,
    path: PathBuf,
    channel: Option<ChannelId>,
    events: mpsc::Sender<Event>,
    mut gate: Option<Gate>,
) {
    let local_uri = format!("unix://{}", path.display());
    let mut held = Vec::new();
    loop {
        if gate.as_ref().is_some_and(Gate::is_open) {
            gate = None;
            for event in held.drain(..) {
                if events.send(event).await.is_err() {
                    return;
                }
            }
            continue;
        }
        let accepted = match gate.as_mut() {
            Some(g) => tokio::select! {
                () = g.opened() => continue,
                accepted = listener.accept() => accepted,
            },
            None => listener.accept().await,
        };
        match accepted {
            Ok((stream, _)) => {
                let peer = peer_credentials(&stream);
                let hold = gate
                    .as_ref()
                    .is_some_and(|g| !g.passes(peer.as_ref().and_then(|p| p.pid)));
                let desc = LinkDesc {
                    // NFD names Unix faces by their file descriptor; applications print it.
                    remote_uri: format!("fd://{}", stream.as_raw_fd()),
                    local_uri: local_uri.clone(),
                    scope: FaceScope::Local,
                    peer,
                    channel,
                    transport: Transport::Unix,
                    local_peer: true,
                };
                let (r, w) = stream.into_split();
                let event = Event::Opened {
                    desc,
                    conn: StreamConn::ready(r, Box::new(w)),
                };
                if hold {
                    if held.len() < gate.as_ref().map_or(0, |g| g.max_held) {
                        debug!(path = %path.display(), "connection held until the daemon is ready");
                        held.push(event);
                    } else {
                        // Closed (dropped) rather than left in the backlog, where it would
                        // stand in front of the daemon's own services.
                        debug!(path = %path.display(), "connection refused: too many held");
                    }
                } else if events.send(event).await.is_err() {
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
/// While `gate` is closed, connections wait in the kernel's backlog.
pub(super) async fn tcp_accept_loop(
    listener: TcpListener,
    events: mpsc::Sender<Event>,
    gate: Option<Gate>,
) {
    if let Some(mut g) = gate {
        g.opened().await;
    }
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
                    // Anonymous even on loopback: TCP carries no credentials.
                    peer: None,
                    channel: None,
                    transport: Transport::Tcp,
                    local_peer: is_loopback(peer),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::gate::Gate;

    /// A Unix listener in a fresh directory, served by `unix_accept_loop` behind `gate`.
    fn listen(tag: &str, gate: Gate) -> (PathBuf, mpsc::Receiver<Event>) {
        let dir = std::env::temp_dir().join(format!("nfwd-gate-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let access = SocketAccess {
            mode: 0o600,
            group: None,
            create_dir: false,
        };
        let listener = bind_unix(&path, access).unwrap();
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(unix_accept_loop(
            listener,
            path.clone(),
            None,
            tx,
            Some(gate),
        ));
        (path, rx)
    }

    fn opened_pid(event: Option<Event>) -> Option<u32> {
        match event {
            Some(Event::Opened { desc, .. }) => desc.peer.and_then(|p| p.pid),
            _ => panic!("expected an opened face"),
        }
    }

    #[tokio::test]
    async fn a_held_listener_lets_its_own_process_in_and_holds_the_others_until_opened() {
        // "Our" process id is one no client has: this test's connections stand for other
        // processes' (a client of another pid cannot be made without spawning a program).
        let (gate, opener) = Gate::closed_passing(0);
        let (path, mut events) = listen("held", gate);
        let _first = tokio::net::UnixStream::connect(&path).await.unwrap();
        let _second = tokio::net::UnixStream::connect(&path).await.unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(300), events.recv()).await;
        assert!(quiet.is_err(), "a held connection reached the core");
        opener.open();
        for _ in 0..2 {
            let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
                .await
                .expect("held connections are released when the gate opens");
            assert_eq!(opened_pid(event), Some(std::process::id()));
        }
        // Open from now on: a new connection passes at once.
        let _third = tokio::net::UnixStream::connect(&path).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
        assert!(event.is_ok());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn past_the_hold_limit_others_are_closed_and_the_accept_loop_keeps_running() {
        // Held up to two; "our" process id is 1 (init): this test's connections are others'.
        let (mut gate, opener) = Gate::closed_passing(1);
        gate.max_held = 2;
        let (path, mut events) = listen("limit", gate);
        let _a = tokio::net::UnixStream::connect(&path).await.unwrap();
        let _b = tokio::net::UnixStream::connect(&path).await.unwrap();
        let mut third = tokio::net::UnixStream::connect(&path).await.unwrap();
        // The third is accepted and closed at once: the accept loop keeps running.
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut third, &mut byte),
        )
        .await
        .expect("the connection past the limit is closed, not left waiting");
        assert_eq!(read.unwrap(), 0, "end of stream");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), events.recv())
                .await
                .is_err()
        );
        opener.open();
        for _ in 0..2 {
            let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
            assert!(event.is_ok(), "the two held connections are released");
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn the_daemons_own_services_pass_a_closed_gate() {
        let (gate, opener) = Gate::closed();
        let (path, mut events) = listen("own", gate);
        let _own = tokio::net::UnixStream::connect(&path).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("this process's connection passes while closed");
        assert_eq!(opened_pid(event), Some(std::process::id()));
        assert!(!opener.is_open());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn dropping_the_opener_opens_the_gate() {
        let (gate, opener) = Gate::closed_passing(0);
        let (path, mut events) = listen("dropped", gate);
        let _client = tokio::net::UnixStream::connect(&path).await.unwrap();
        drop(opener);
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
        assert!(
            event.is_ok(),
            "a dropped opener must not leave the daemon deaf"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}

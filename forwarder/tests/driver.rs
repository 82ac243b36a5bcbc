//! The driver on real sockets (loopback, temporary directories), with small stand-in cores
//! that record what the driver hands them and emit scripted actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../../tests/common/skip_log.rs"]
mod skip_log;

use bytes::Bytes;
use nfwd_forwarder::config::{Config, StaticFace, StaticRoute};
use nfwd_forwarder::core::{Action, FaceId, FaceInfo, FaceScope, Frame, Persistency};
use nfwd_forwarder::driver::{Core, Daemon};
use nfwd_tlv::Name;
use skip_log::record_skip;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use tokio::sync::mpsc;

/// Only to avoid hanging forever when something is broken; never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum Ev {
    Added(FaceId, FaceInfo),
    Closed(FaceId),
    Frame(FaceId, Bytes),
    Created(u64, Result<FaceInfo, String>, Option<FaceId>),
    Route(Name, FaceId, u64),
}

/// A core that reports every call, optionally echoes frames back on the face they came from,
/// and on each `receive` emits the actions queued in `script`.
#[derive(Debug)]
struct TestCore {
    next: u64,
    echo: bool,
    log: mpsc::UnboundedSender<Ev>,
    script: Arc<Mutex<VecDeque<Action>>>,
}

impl Core for TestCore {
    fn add_face(&mut self, info: FaceInfo, _now: Instant) -> FaceId {
        self.next += 1;
        let id = FaceId(self.next);
        self.log.send(Ev::Added(id, info)).unwrap();
        id
    }

    fn face_closed(&mut self, face: FaceId, _now: Instant, _out: &mut Vec<Action>) {
        self.log.send(Ev::Closed(face)).unwrap();
    }

    fn receive(&mut self, _now: Instant, face: FaceId, frame: Frame, out: &mut Vec<Action>) {
        let frame = frame.into_bytes();
        if self.echo {
            out.push(Action::Send {
                face,
                frame: frame.clone(),
            });
        }
        out.extend(self.script.lock().unwrap().drain(..));
        self.log.send(Ev::Frame(face, frame)).unwrap();
    }

    fn face_created(
        &mut self,
        _now: Instant,
        request: u64,
        result: Result<FaceInfo, String>,
        _out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        let id = result.is_ok().then(|| {
            self.next += 1;
            FaceId(self.next)
        });
        self.log.send(Ev::Created(request, result, id)).unwrap();
        id
    }

    fn next_timeout(&self) -> Option<Instant> {
        None
    }

    fn on_timeout(&mut self, _now: Instant, _out: &mut Vec<Action>) {}

    fn add_route(&mut self, prefix: &Name, face: FaceId, cost: u64) {
        self.log
            .send(Ev::Route(prefix.clone(), face, cost))
            .unwrap();
    }
}

struct Harness {
    daemon: Daemon,
    events: mpsc::UnboundedReceiver<Ev>,
    script: Arc<Mutex<VecDeque<Action>>>,
    dir: PathBuf,
}

impl Harness {
    async fn start(config: Config, dir: PathBuf, echo: bool) -> Self {
        let (log, events) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let core = TestCore {
            next: 1000,
            echo,
            log,
            script: Arc::clone(&script),
        };
        let daemon = Daemon::start_with_core(config, core).await.unwrap();
        Self {
            daemon,
            events,
            script,
            dir,
        }
    }

    /// The next core event that `pick` accepts; others are skipped.
    async fn wait<T>(&mut self, mut pick: impl FnMut(Ev) -> Option<T>) -> T {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let ev = self.events.recv().await.expect("core log closed");
                if let Some(t) = pick(ev) {
                    return t;
                }
            }
        })
        .await
        .expect("timed out waiting for a core event")
    }

    async fn added(&mut self) -> (FaceId, FaceInfo) {
        self.wait(|e| match e {
            Ev::Added(id, info) => Some((id, info)),
            _ => None,
        })
        .await
    }

    async fn frame(&mut self) -> (FaceId, Bytes) {
        self.wait(|e| match e {
            Ev::Frame(id, f) => Some((id, f)),
            _ => None,
        })
        .await
    }

    async fn closed(&mut self) -> FaceId {
        self.wait(|e| match e {
            Ev::Closed(id) => Some(id),
            _ => None,
        })
        .await
    }

    fn push(&self, action: Action) {
        self.script.lock().unwrap().push_back(action);
    }

    async fn stop(self) {
        self.daemon.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nfwd-drv-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Loopback listeners on ephemeral ports, the Unix socket in a fresh directory (which the
/// daemon must create), QUIC off.
fn config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.faces.unix_path = Some(dir.join("sub").join("nfwd.sock"));
    c.faces.tcp_listen = "127.0.0.1:0".into();
    c.faces.udp_listen = "127.0.0.1:0".into();
    c.faces.quic_listen = String::new();
    c
}

/// A TLV frame of `total` bytes with type `t` (Interest 5, Data 6).
fn frame(t: u8, total: usize, fill: u8) -> Bytes {
    let mut v = vec![t];
    let len = if total - 2 <= 252 {
        v.push((total - 2) as u8);
        total - 2
    } else {
        let len = total - 4;
        v.push(0xfd);
        v.extend_from_slice(&(len as u16).to_be_bytes());
        len
    };
    v.extend(std::iter::repeat_n(fill, len));
    assert_eq!(v.len(), total);
    v.into()
}

async fn read_exact(s: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(PATIENCE, s.read_exact(&mut buf))
        .await
        .expect("timed out reading")
        .unwrap();
    buf
}

/// Reads until EOF or error: the daemon closed the connection.
async fn expect_closed(s: &mut (impl AsyncReadExt + Unpin)) {
    let mut buf = [0u8; 256];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the daemon did not close the connection");
}

#[tokio::test]
async fn unix_tcp_and_udp_faces_come_up_and_echo() {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), true).await;
    let path = h.daemon.unix_path().unwrap().to_owned();
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);

    let mut unix = UnixStream::connect(&path).await.unwrap();
    let (id, info) = h.added().await;
    assert!(info.remote_uri.starts_with("fd://"), "{info:?}");
    assert_eq!(info.local_uri, format!("unix://{}", path.display()));
    assert_eq!(info.scope, FaceScope::Local);
    assert_eq!(info.persistency, Persistency::OnDemand);
    assert_eq!(info.mtu, None);
    let f = frame(5, 40, 1);
    unix.write_all(&f).await.unwrap();
    assert_eq!(h.frame().await, (id, f.clone()));
    assert_eq!(read_exact(&mut unix, f.len()).await, f);

    let mut tcp = TcpStream::connect(h.daemon.tcp_addr().unwrap())
        .await
        .unwrap();
    let (id, info) = h.added().await;
    assert_eq!(
        info.remote_uri,
        format!("tcp4://{}", tcp.local_addr().unwrap())
    );
    assert_eq!(info.scope, FaceScope::Local);
    let f = frame(6, 300, 2);
    tcp.write_all(&f).await.unwrap();
    assert_eq!(h.frame().await, (id, f.clone()));
    assert_eq!(read_exact(&mut tcp, f.len()).await, f);

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.connect(h.daemon.udp_addr().unwrap()).await.unwrap();
    let f = frame(5, 100, 3);
    udp.send(&f).await.unwrap();
    let (id, info) = h.added().await;
    assert_eq!(
        info.remote_uri,
        format!("udp4://{}", udp.local_addr().unwrap())
    );
    assert_eq!(info.mtu, Some(8800));
    assert_eq!(h.frame().await, (id, f.clone()));
    let mut buf = vec![0; 9000];
    let n = tokio::time::timeout(PATIENCE, udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], &f[..]);

    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.faces.len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn frames_split_across_reads_and_coalesced_arrive_intact() {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), true).await;
    let mut s = UnixStream::connect(h.daemon.unix_path().unwrap())
        .await
        .unwrap();
    let (id, _) = h.added().await;

    // One 8800-byte packet, written a few bytes at a time (header split too).
    let big = frame(6, 8800, 7);
    let mut rest = &big[..];
    for n in [1, 2, 1] {
        s.write_all(&rest[..n]).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
        rest = &rest[n..];
    }
    for chunk in rest.chunks(997) {
        s.write_all(chunk).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(h.frame().await, (id, big.clone()));

    // Many frames in one write, the last one's tail in a second write.
    let frames: Vec<Bytes> = (0..20).map(|i| frame(5, 20 + i * 13, i as u8)).collect();
    let mut all: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    let tail = all.split_off(all.len() - 5);
    s.write_all(&all).await.unwrap();
    tokio::task::yield_now().await;
    s.write_all(&tail).await.unwrap();
    for f in &frames {
        assert_eq!(h.frame().await, (id, f.clone()));
    }
    // The echo comes back byte for byte, in order.
    let expect: Vec<u8> = std::iter::once(&big)
        .chain(&frames)
        .flat_map(|f| f.iter().copied())
        .collect();
    assert_eq!(read_exact(&mut s, expect.len()).await, expect);
    h.stop().await;
}

#[tokio::test]
async fn bad_frames_close_only_the_offending_face() {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), true).await;
    let path = h.daemon.unix_path().unwrap().to_owned();
    let mut good = UnixStream::connect(&path).await.unwrap();
    let (good_id, _) = h.added().await;
    let mut oversize = UnixStream::connect(&path).await.unwrap();
    let (oversize_id, _) = h.added().await;
    let mut garbage = TcpStream::connect(h.daemon.tcp_addr().unwrap())
        .await
        .unwrap();
    let (garbage_id, _) = h.added().await;

    // Declares a 60000-byte Data: refused from the header, before the bytes arrive.
    oversize
        .write_all(&[0x06, 0xfd, 0xea, 0x60, 0, 0])
        .await
        .unwrap();
    expect_closed(&mut oversize).await;
    assert_eq!(h.closed().await, oversize_id);
    // TLV type 0 is invalid.
    garbage.write_all(&[0x00, 0x02, 1, 2]).await.unwrap();
    expect_closed(&mut garbage).await;
    assert_eq!(h.closed().await, garbage_id);

    let f = frame(5, 30, 9);
    good.write_all(&f).await.unwrap();
    assert_eq!(h.frame().await, (good_id, f.clone()));
    assert_eq!(read_exact(&mut good, f.len()).await, f);

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(&frame(6, 9500, 0), h.daemon.udp_addr().unwrap())
        .await
        .unwrap();
    // The oversize datagram is counted and creates no face; a normal one still works.
    let f = frame(5, 50, 4);
    udp.send_to(&f, h.daemon.udp_addr().unwrap()).await.unwrap();
    let (udp_id, _) = h.added().await;
    assert_eq!(h.frame().await, (udp_id, f));

    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.counters.closed_oversize, 1);
    assert_eq!(status.counters.closed_invalid, 1);
    assert_eq!(status.counters.udp_oversize, 1);
    let ids: Vec<FaceId> = status.faces.iter().map(|f| f.id).collect();
    assert_eq!(ids, vec![good_id, udp_id]);
    h.stop().await;
}

/// Kernel receive buffers (`rb`, as `ss -uamn` reports them: twice what was asked) of the
/// UDP sockets bound to `local`, with their peer address.
fn udp_receive_buffers(local: std::net::SocketAddr) -> Vec<(String, u64)> {
    let out = std::process::Command::new("ss")
        .args(["-uamnH"])
        .output()
        .expect("ss (iproute2)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() >= 5 && cols[3] == local.to_string() {
            let rb = lines
                .next()
                .and_then(|m| m.split("rb").nth(1))
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            found.push((cols[4].to_string(), rb));
        }
    }
    found
}

#[tokio::test]
async fn udp_socket_buffers_are_the_configured_sizes() {
    const TEST: &str = "udp_socket_buffers_are_the_configured_sizes";
    // Beyond net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE).
    if !rustix::process::geteuid().is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{TEST}: needs root under CI"
        );
        eprintln!("SKIPPED {TEST}: needs root (buffers beyond net.core.rmem_max)");
        record_skip(
            &format!("driver::{TEST}"),
            "needs root (buffers beyond net.core.rmem_max)",
        );
        return;
    }
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.udp_listen_buffer_bytes = 6 << 20;
    c.faces.udp_face_buffer_bytes = 3 << 20;
    let mut h = Harness::start(c, dir.clone(), true).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.send_to(&frame(5, 30, 1), daemon).await.unwrap();
    let (id, _) = h.added().await;
    assert_eq!(h.frame().await.0, id);
    let buffers = udp_receive_buffers(daemon);
    let listener = buffers.iter().find(|(peer, _)| peer.ends_with(":*"));
    let face = buffers
        .iter()
        .find(|(peer, _)| *peer == a.local_addr().unwrap().to_string());
    // The kernel reports twice the size asked for (its bookkeeping overhead).
    assert_eq!(listener.map(|l| l.1), Some(2 * (6 << 20)), "{buffers:?}");
    assert_eq!(face.map(|f| f.1), Some(2 * (3 << 20)), "{buffers:?}");
    h.stop().await;
}

#[tokio::test]
async fn udp_on_demand_faces_are_per_peer() {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), true).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.send_to(&frame(5, 30, 1), daemon).await.unwrap();
    let (ida, infoa) = h.added().await;
    assert_eq!(h.frame().await.0, ida);
    b.send_to(&frame(5, 30, 2), daemon).await.unwrap();
    let (idb, infob) = h.added().await;
    assert_eq!(h.frame().await.0, idb);
    a.send_to(&frame(5, 31, 3), daemon).await.unwrap();
    assert_eq!(h.frame().await.0, ida);
    assert_ne!(ida, idb);
    assert_eq!(
        infoa.remote_uri,
        format!("udp4://{}", a.local_addr().unwrap())
    );
    assert_eq!(
        infob.remote_uri,
        format!("udp4://{}", b.local_addr().unwrap())
    );
    // Each peer gets its own echoes.
    let mut buf = [0u8; 100];
    let (n, _) = a.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &frame(5, 30, 1)[..]);
    let (n, _) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &frame(5, 30, 2)[..]);
    assert_eq!(h.daemon.status().await.unwrap().faces.len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn idle_udp_faces_close_and_stream_faces_close_on_eof() {
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.idle_timeout_s = 1;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(&frame(5, 30, 1), h.daemon.udp_addr().unwrap())
        .await
        .unwrap();
    let (id, _) = h.added().await;
    assert_eq!(h.closed().await, id);
    let status = h.daemon.status().await.unwrap();
    assert!(status.faces.is_empty());
    assert_eq!(status.counters.idle_closes_udp, 1);

    let s = UnixStream::connect(h.daemon.unix_path().unwrap())
        .await
        .unwrap();
    let (id, _) = h.added().await;
    drop(s);
    assert_eq!(h.closed().await, id);
    h.stop().await;
}

#[tokio::test]
async fn send_actions_reach_the_right_socket_and_faces_are_created() {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), false).await;
    let path = h.daemon.unix_path().unwrap().to_owned();
    let mut a = UnixStream::connect(&path).await.unwrap();
    let (ida, _) = h.added().await;
    let mut b = UnixStream::connect(&path).await.unwrap();
    let (idb, _) = h.added().await;

    // A frame from a makes the core send one to b.
    let to_b = frame(6, 77, 5);
    h.push(Action::Send {
        face: idb,
        frame: to_b.clone(),
    });
    a.write_all(&frame(5, 20, 0)).await.unwrap();
    assert_eq!(read_exact(&mut b, to_b.len()).await, to_b);

    // faces/create towards a TCP peer, a UDP peer, and two bad URIs.
    let peer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp_peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (request, uri) in [
        (7, format!("tcp4://{}", peer.local_addr().unwrap())),
        (8, format!("udp4://{}", udp_peer.local_addr().unwrap())),
        (9, "tcp4://somehost:6363".to_owned()),
        (10, "tcp4://127.0.0.1:1".to_owned()),
    ] {
        h.push(Action::CreateFace {
            request,
            remote_uri: uri,
            persistency: Persistency::Persistent,
            mtu: None,
        });
    }
    a.write_all(&frame(5, 20, 0)).await.unwrap();
    let (mut conn, _) = tokio::time::timeout(PATIENCE, peer.accept())
        .await
        .unwrap()
        .unwrap();
    let mut created = std::collections::HashMap::new();
    while created.len() < 4 {
        let (req, result, id) = h
            .wait(|e| match e {
                Ev::Created(r, res, id) => Some((r, res, id)),
                _ => None,
            })
            .await;
        created.insert(req, (result, id));
    }
    let (info, tcp_id) = &created[&7];
    let info = info.as_ref().unwrap();
    assert_eq!(info.persistency, Persistency::Persistent);
    assert_eq!(
        info.remote_uri,
        format!("tcp4://{}", peer.local_addr().unwrap())
    );
    let (info, udp_id) = &created[&8];
    assert_eq!(info.as_ref().unwrap().mtu, Some(8800));
    let e = created[&9].0.as_ref().unwrap_err();
    assert!(e.contains("IP address"), "{e}");
    assert!(created[&10].0.is_err());

    // Frames for the created faces go out on them.
    let (tcp_id, udp_id) = (tcp_id.unwrap(), udp_id.unwrap());
    let f1 = frame(6, 1000, 1);
    let f2 = frame(6, 1200, 2);
    h.push(Action::Send {
        face: tcp_id,
        frame: f1.clone(),
    });
    h.push(Action::Send {
        face: udp_id,
        frame: f2.clone(),
    });
    a.write_all(&frame(5, 20, 0)).await.unwrap();
    assert_eq!(read_exact(&mut conn, f1.len()).await, f1);
    let mut buf = vec![0; 9000];
    let (n, from) = tokio::time::timeout(PATIENCE, udp_peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], &f2[..]);
    assert_eq!(from, h.daemon.udp_addr().unwrap());
    // A reply from the UDP peer arrives on the created face, not a new on-demand one.
    udp_peer.send_to(&f2, from).await.unwrap();
    let got = h
        .wait(|e| match e {
            Ev::Frame(face, f) if face != ida => Some((face, f)),
            _ => None,
        })
        .await;
    assert_eq!(got, (udp_id, f2));

    // CloseFace closes the TCP connection.
    h.push(Action::CloseFace { face: tcp_id });
    a.write_all(&frame(5, 20, 0)).await.unwrap();
    expect_closed(&mut conn).await;
    assert_eq!(h.closed().await, tcp_id);
    h.stop().await;
}

#[tokio::test]
async fn quic_connects_two_daemons_and_carries_8800_byte_packets() {
    let dir_a = temp_dir();
    let mut ca = config(&dir_a);
    ca.faces.quic_listen = "127.0.0.1:0".into();
    let mut a = Harness::start(ca, dir_a.clone(), true).await;
    let quic_a = a.daemon.quic_addr().unwrap();

    let dir_b = temp_dir();
    let mut cb = config(&dir_b);
    cb.faces.quic_listen = "127.0.0.1:0".into();
    let uri = format!("quic://{quic_a}");
    cb.static_faces = vec![StaticFace {
        uri: uri.clone(),
        persistency: "persistent".into(),
    }];
    cb.static_routes = vec![StaticRoute {
        prefix: "/a".into(),
        face: uri.clone(),
        cost: 10,
    }];
    let mut b = Harness::start(cb, dir_b.clone(), false).await;
    let (b_face, info) = b.added().await;
    assert_eq!(info.remote_uri, uri);
    assert_eq!(info.scope, FaceScope::NonLocal);
    let (prefix, face, cost) = b
        .wait(|e| match e {
            Ev::Route(p, f, c) => Some((p, f, c)),
            _ => None,
        })
        .await;
    assert_eq!(
        (prefix.to_string(), face, cost),
        ("/a".to_owned(), b_face, 10)
    );

    // B sends an 8800-byte packet to A over QUIC (triggered by a local app on B); A's core
    // gets it intact and echoes it back to B.
    let big = frame(6, 8800, 0x5a);
    b.push(Action::Send {
        face: b_face,
        frame: big.clone(),
    });
    let mut app = UnixStream::connect(b.daemon.unix_path().unwrap())
        .await
        .unwrap();
    app.write_all(&frame(5, 20, 0)).await.unwrap();
    let (a_face, a_info) = a.added().await;
    assert!(
        a_info.remote_uri.starts_with("quic://127.0.0.1:"),
        "{a_info:?}"
    );
    assert_eq!(a.frame().await, (a_face, big.clone()));
    let echoed = b
        .wait(|e| match e {
            Ev::Frame(f, bytes) if f == b_face => Some(bytes),
            _ => None,
        })
        .await;
    assert_eq!(echoed, big);
    b.stop().await;
    // A sees its peer go away.
    assert_eq!(a.closed().await, a_face);
    a.stop().await;
}

#[tokio::test]
async fn shutdown_removes_the_socket_file_and_stale_files_are_replaced() {
    let dir = temp_dir();
    let c = config(&dir);
    let path = c.faces.unix_path.clone().unwrap();
    // A stale socket left by a crashed daemon.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let h = Harness::start(c.clone(), dir.clone(), true).await;
    assert!(UnixStream::connect(&path).await.is_ok());
    // A second daemon on the same path is refused while the first one runs.
    let (log, _rx) = mpsc::unbounded_channel();
    let second = TestCore {
        next: 0,
        echo: false,
        log,
        script: Arc::default(),
    };
    assert!(Daemon::start_with_core(c, second).await.is_err());
    assert!(path.exists());
    h.daemon.shutdown().await.unwrap();
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn runs_with_the_real_forwarder() {
    let dir = temp_dir();
    let daemon = Daemon::start(config(&dir)).await.unwrap();
    let mut s = UnixStream::connect(daemon.unix_path().unwrap())
        .await
        .unwrap();
    s.write_all(&frame(5, 30, 1)).await.unwrap();
    // Wait until the face is registered.
    tokio::time::timeout(PATIENCE, async {
        while daemon.status().await.unwrap().faces.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let path = daemon.unix_path().unwrap().to_owned();
    daemon.shutdown().await.unwrap();
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_slow_reader_gets_marks_then_loses_frames_counted_and_others_are_unaffected() {
    let dir = temp_dir();
    let mut c = config(&dir);
    // 1 MiB: the congestion threshold is NFD's 65536 bytes, far below.
    c.faces.write_queue_bytes = 1 << 20;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let path = h.daemon.unix_path().unwrap().to_owned();
    let mut a = UnixStream::connect(&path).await.unwrap();
    let (ida, _) = h.added().await;
    // b does not read yet: its socket buffer, then its write queue fill up.
    let mut b = UnixStream::connect(&path).await.unwrap();
    let (idb, _) = h.added().await;
    let big = frame(6, 8800, 1);
    for _ in 0..1000 {
        h.push(Action::Send {
            face: idb,
            frame: big.clone(),
        });
    }
    let small = frame(6, 50, 2);
    h.push(Action::Send {
        face: ida,
        frame: small.clone(),
    });
    a.write_all(&frame(5, 20, 0)).await.unwrap();
    assert_eq!(read_exact(&mut a, small.len()).await, small);
    let status = h.daemon.status().await.unwrap();
    let fb = status.faces.iter().find(|f| f.id == idb).unwrap().clone();
    // Beyond 1 MiB queued, frames were dropped and counted; they were never queued.
    assert!(fb.counters.dropped_frames > 0, "{status:?}");
    assert!(fb.counters.dropped_frames < 1000, "{status:?}");
    assert_eq!(fb.counters.dropped_bytes, fb.counters.dropped_frames * 8800);
    // All of it arrived at once: one congestion incident, marked once (the next mark is due
    // a base interval, 100 ms, later).
    assert_eq!(fb.counters.congestion_marks, 1, "{status:?}");
    let fa = status.faces.iter().find(|f| f.id == ida).unwrap();
    assert_eq!(fa.counters.dropped_frames, 0);
    assert_eq!(fa.counters.congestion_marks, 0);
    assert_eq!(status.counters.dropped_frames, fb.counters.dropped_frames);
    assert_eq!(status.counters.congestion_marks, 1);
    // b reads now: every frame queued arrives, one of them marked in an LpPacket.
    let queued = 1000 - fb.counters.dropped_frames;
    let mut marked = 0;
    for _ in 0..queued {
        let head = read_exact(&mut b, 4).await;
        let (rest, lp) = match head[0] {
            6 => (8800 - 4, false),
            // LpPacket{CongestionMark=1, Fragment=Data}: 0x64 0xFD <len 2 bytes>.
            0x64 => (usize::from(u16::from_be_bytes([head[2], head[3]])), true),
            t => panic!("unexpected frame type {t}"),
        };
        let body = read_exact(&mut b, rest).await;
        if lp {
            let wire = Bytes::from([head, body].concat());
            let p = nfwd_tlv::lp::LpPacket::decode(wire).unwrap();
            assert_eq!(p.congestion_mark, Some(1));
            assert_eq!(p.fragment.unwrap(), big);
            marked += 1;
        }
    }
    assert_eq!(marked, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_permanent_face_reconnects_and_keeps_its_id() {
    let dir = temp_dir();
    let peer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("tcp4://{}", peer.local_addr().unwrap());
    let mut c = config(&dir);
    c.static_faces = vec![StaticFace {
        uri: uri.clone(),
        persistency: "permanent".into(),
    }];
    let mut h = Harness::start(c, dir.clone(), false).await;
    let (conn, _) = tokio::time::timeout(PATIENCE, peer.accept())
        .await
        .unwrap()
        .unwrap();
    let (id, info) = h.added().await;
    assert_eq!(info.persistency, Persistency::Permanent);
    assert_eq!(info.remote_uri, uri);
    // The peer drops the connection; the face stays and reconnects.
    drop(conn);
    let (mut conn, _) = tokio::time::timeout(PATIENCE, peer.accept())
        .await
        .unwrap()
        .unwrap();
    let f = frame(6, 60, 3);
    conn.write_all(&f).await.unwrap();
    assert_eq!(h.frame().await, (id, f));
    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.faces.len(), 1);
    assert_eq!(status.faces[0].id, id);
    h.stop().await;
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// A producer reached through a static TCP face and route of the daemon described by `c`
/// (no management needed): returns the producer's listener and its URI.
async fn static_producer(c: &mut Config, prefix: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("tcp4://{}", listener.local_addr().unwrap());
    c.static_faces.push(StaticFace {
        uri: uri.clone(),
        persistency: "persistent".into(),
    });
    c.static_routes.push(StaticRoute {
        prefix: prefix.into(),
        face: uri.clone(),
        cost: 0,
    });
    (listener, uri)
}

/// Accepts the daemon's connection and answers every Interest under `prefix` with `payload`.
async fn serve_on(
    listener: TcpListener,
    prefix: &str,
    payload: Bytes,
) -> (
    nfwd_forwarder::client::Client,
    nfwd_forwarder::client::ServeHandle,
) {
    use nfwd_forwarder::client::{Client, ClientConfig, Reply, answer_data};
    use nfwd_tlv::Signer;

    let (conn, _) = tokio::time::timeout(PATIENCE, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let producer = Client::from_stream(conn, ClientConfig::default());
    let signer = Arc::new(Signer::digest_sha256());
    let handle = producer.serve_unregistered(name(prefix), move |i| {
        let signer = Arc::clone(&signer);
        let payload = payload.clone();
        async move { Reply::Data(answer_data(&i, payload, None, &signer).unwrap()) }
    });
    // The client must outlive the test's fetches: dropping it closes the connection.
    (producer, handle)
}

/// Expresses `/<prefix>/x` until it is answered (static faces come up asynchronously).
async fn fetch_retrying(consumer: &nfwd_forwarder::client::Client, n: &str) -> nfwd_tlv::Data {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let interest = nfwd_tlv::InterestBuilder::new(name(n))
                .lifetime_ms(1000)
                .build()
                .unwrap();
            match consumer.express(interest).await {
                Ok(d) => return d,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("no answer")
}

/// A producer behind a static TCP face and route answers a consumer on the Unix socket,
/// through the real forwarder.
#[tokio::test]
async fn end_to_end_through_the_real_forwarder() {
    use nfwd_forwarder::client::Client;

    let dir = temp_dir();
    let mut c = config(&dir);
    let payload = Bytes::from_static(b"over the driver");
    let (listener, _) = static_producer(&mut c, "/e2e").await;
    let daemon = Daemon::start(c).await.unwrap();
    let _serving = serve_on(listener, "/e2e", payload.clone()).await;
    let consumer = Client::connect(&format!("unix://{}", daemon.unix_path().unwrap().display()))
        .await
        .unwrap();
    let data = fetch_retrying(&consumer, "/e2e/x").await;
    assert_eq!(data.name(), &name("/e2e/x"));
    assert_eq!(data.content(), &payload);
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two real forwarders joined by QUIC with a static face and route: a consumer on B fetches
/// an 8000-byte Data from a producer behind A.
#[tokio::test]
async fn end_to_end_across_two_forwarders_over_quic() {
    use nfwd_forwarder::client::Client;

    let payload = Bytes::from(vec![0x42; 8000]);
    let dir_a = temp_dir();
    let mut ca = config(&dir_a);
    ca.faces.quic_listen = "127.0.0.1:0".into();
    let (listener, _) = static_producer(&mut ca, "/far").await;
    let a = Daemon::start(ca).await.unwrap();
    let _serving = serve_on(listener, "/far", payload.clone()).await;

    let dir_b = temp_dir();
    let mut cb = config(&dir_b);
    let uri = format!("quic://{}", a.quic_addr().unwrap());
    cb.static_faces = vec![StaticFace {
        uri: uri.clone(),
        persistency: "persistent".into(),
    }];
    cb.static_routes = vec![StaticRoute {
        prefix: "/far".into(),
        face: uri,
        cost: 0,
    }];
    let b = Daemon::start(cb).await.unwrap();
    let consumer = Client::connect(&format!("unix://{}", b.unix_path().unwrap().display()))
        .await
        .unwrap();
    let data = fetch_retrying(&consumer, "/far/x").await;
    assert_eq!(data.content(), &payload);
    b.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}

#[tokio::test]
async fn a_permanent_face_waits_for_a_peer_that_starts_later() {
    let dir = temp_dir();
    // Find a free port, then leave it closed while the daemon starts.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut c = config(&dir);
    c.static_faces = vec![StaticFace {
        uri: format!("tcp4://{addr}"),
        persistency: "permanent".into(),
    }];
    let mut h = Harness::start(c, dir.clone(), false).await;
    assert!(h.daemon.status().await.unwrap().faces.is_empty());
    let peer = TcpListener::bind(addr).await.unwrap();
    let (mut conn, _) = tokio::time::timeout(PATIENCE, peer.accept())
        .await
        .unwrap()
        .unwrap();
    let (id, _) = h.added().await;
    let f = frame(5, 25, 1);
    conn.write_all(&f).await.unwrap();
    assert_eq!(h.frame().await, (id, f));
    h.stop().await;
}

/// A core that spends `work` on every frame (so a flood outruns it), counts frames per face,
/// and echoes the frames whose first value byte is [`ECHO_ME`].
struct SlowCore {
    next: u64,
    work: Duration,
    seen: Arc<Mutex<std::collections::HashMap<FaceId, u64>>>,
    added: mpsc::UnboundedSender<(FaceId, FaceInfo)>,
}

const ECHO_ME: u8 = 0xee;

impl Core for SlowCore {
    fn add_face(&mut self, info: FaceInfo, _now: Instant) -> FaceId {
        self.next += 1;
        let id = FaceId(self.next);
        self.added.send((id, info)).unwrap();
        id
    }

    fn face_closed(&mut self, _face: FaceId, _now: Instant, _out: &mut Vec<Action>) {}

    fn receive(&mut self, _now: Instant, face: FaceId, frame: Frame, out: &mut Vec<Action>) {
        let frame = frame.into_bytes();
        let start = Instant::now();
        while start.elapsed() < self.work {
            std::hint::spin_loop();
        }
        *self.seen.lock().unwrap().entry(face).or_default() += 1;
        if frame.get(2) == Some(&ECHO_ME) {
            out.push(Action::Send { face, frame });
        }
    }

    fn face_created(
        &mut self,
        _now: Instant,
        _request: u64,
        _result: Result<FaceInfo, String>,
        _out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        None
    }

    fn next_timeout(&self) -> Option<Instant> {
        None
    }

    fn on_timeout(&mut self, _now: Instant, _out: &mut Vec<Action>) {}

    fn add_route(&mut self, _prefix: &Name, _face: FaceId, _cost: u64) {}
}

/// One UDP peer floods the daemon far beyond what the core can take; another peer's frames
/// must all still reach the core (each is echoed back). With one socket shared by all peers
/// the flood fills the kernel buffer and the other peer's datagrams are dropped before the
/// forwarder sees them; with a socket per peer and round-robin service they are not.
/// Two worker threads, as the daemon runs by default, so the test's own task keeps running
/// whatever the driver does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_flood_does_not_stop_another_peers_frames() {
    let dir = temp_dir();
    let (added_tx, mut added) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let core = SlowCore {
        next: 0,
        // At most 20,000 frames a second.
        work: Duration::from_micros(50),
        seen: Arc::clone(&seen),
        added: added_tx,
    };
    let daemon = Daemon::start_with_core(config(&dir), core).await.unwrap();
    let to = daemon.udp_addr().unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.connect(to).unwrap();
            let f = frame(5, 100, 0x11);
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Refused sends (buffer full, ICMP) are part of flooding; only count the rest.
                if s.send(&f).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    };
    let (flood_face, _) = tokio::time::timeout(PATIENCE, added.recv())
        .await
        .unwrap()
        .unwrap();
    // The flood is on: the core has been kept busy by it for a while.
    tokio::time::timeout(PATIENCE, async {
        while seen.lock().unwrap().get(&flood_face).copied().unwrap_or(0) < 2000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the flood never reached the core");

    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.connect(to).await.unwrap();
    let mut buf = vec![0u8; 9000];
    for i in 0..50u8 {
        let mut f = frame(5, 60, ECHO_ME).to_vec();
        f[3] = i;
        peer.send(&f).await.unwrap();
        // Every frame must come back: a lost one fails the test (after PATIENCE).
        let n = tokio::time::timeout(PATIENCE, peer.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("frame {i} of the second peer never reached the core"))
            .unwrap();
        assert_eq!(&buf[..n], &f[..]);
    }
    stop.store(true, Ordering::Relaxed);
    let flood_sent = flooder.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    let flood_seen = seen[&flood_face];
    // It really was a flood: the core took only part of it.
    assert!(
        flood_seen < flood_sent,
        "flood: {flood_sent} sent, {flood_seen} reached the core"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_new_udp_peer_evicts_the_idlest_on_demand_face_never_a_configured_one() {
    let dir = temp_dir();
    let configured = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = config(&dir);
    c.faces.max_udp_faces = 2;
    c.static_faces = vec![StaticFace {
        uri: format!("udp4://{}", configured.local_addr().unwrap()),
        persistency: "persistent".into(),
    }];
    let mut h = Harness::start(c, dir.clone(), false).await;
    // The configured face came up first: it is the idlest of all.
    let (configured_id, info) = h.added().await;
    assert_eq!(info.persistency, Persistency::Persistent);
    let to = h.daemon.udp_addr().unwrap();

    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.send_to(&frame(5, 30, 1), to).await.unwrap();
    let (ida, _) = h.added().await;
    assert_eq!(h.frame().await.0, ida);
    // The table is full; b takes a's place.
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let f = frame(5, 30, 2);
    b.send_to(&f, to).await.unwrap();
    assert_eq!(h.closed().await, ida);
    let (idb, info) = h.added().await;
    assert_eq!(
        info.remote_uri,
        format!("udp4://{}", b.local_addr().unwrap())
    );
    assert_eq!(h.frame().await, (idb, f));

    let status = h.daemon.status().await.unwrap();
    let ids: Vec<FaceId> = status.faces.iter().map(|f| f.id).collect();
    assert_eq!(ids, vec![configured_id, idb]);
    assert_eq!(status.counters.udp_faces_evicted, 1);
    assert_eq!(status.counters.udp_faces_refused, 0);
    h.stop().await;
}

/// Spoofed source addresses each make a new face: their creation is rate-limited, and every
/// datagram refused is counted.
#[tokio::test]
async fn new_udp_peers_beyond_the_admission_rate_are_refused_and_counted() {
    const PEERS: u64 = 1000;
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.max_udp_faces = 4;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let to = h.daemon.udp_addr().unwrap();
    // All kept open, so that no two peers share a port.
    let mut peers = Vec::new();
    for i in 0..PEERS {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.send_to(&frame(5, 30, i as u8), to).await.unwrap();
        peers.push(s);
    }
    // Every datagram is either admitted (a face) or refused (counted).
    let mut admitted = 0u64;
    let status = tokio::time::timeout(PATIENCE, async {
        loop {
            while let Ok(ev) = h.events.try_recv() {
                if matches!(ev, Ev::Added(..)) {
                    admitted += 1;
                }
            }
            let status = h.daemon.status().await.unwrap();
            if admitted + status.counters.udp_new_peers_refused == PEERS {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("some datagrams were neither admitted nor counted");
    let refused = status.counters.udp_new_peers_refused;
    // The burst admits a few hundred at once; the rest of a thousand sent in a moment is
    // refused.
    assert!(
        refused > 0 && admitted >= 4,
        "{admitted} admitted, {refused} refused"
    );
    // The table never grew past its bound: each admission beyond it evicted a face.
    assert_eq!(status.counters.udp_faces_evicted, admitted - 4);
    assert_eq!(status.faces.len(), 4);
    h.stop().await;
}

#[tokio::test]
async fn idle_timeout_zero_never_closes_a_face() {
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.idle_timeout_s = 0;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let to = h.daemon.udp_addr().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(&frame(5, 30, 1), to).await.unwrap();
    let (id, _) = h.added().await;
    // Longer than the shortest idle timeout (1 s) and several housekeeping rounds.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    udp.send_to(&frame(5, 30, 2), to).await.unwrap();
    assert_eq!(h.frame().await.0, id);
    assert_eq!(h.frame().await.0, id);
    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.faces.len(), 1);
    assert_eq!(status.counters.idle_closes_udp, 0);
    assert!(
        h.events.try_recv().is_err(),
        "no face was closed or opened since"
    );
    h.stop().await;
}

/// A network namespace joined to this one by a veth pair: a peer that is not on loopback.
/// Removed on drop.
struct NetNs {
    name: String,
    veth: String,
    host: std::net::Ipv4Addr,
    inside: std::net::Ipv4Addr,
}

impl NetNs {
    fn ip(args: &[&str]) -> Result<(), String> {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Creates it, or says why it cannot (no `ip`, no privileges).
    fn create() -> Result<Self, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let pid = u64::from(std::process::id());
        let n = N.fetch_add(1, Ordering::Relaxed);
        // A /30 of 10.78.0.0/16 per (process, namespace), so concurrent test runs do not
        // clash (tests/security.rs uses 10.77.0.0/16).
        let block = ((pid * 16 + n) % (1 << 14)) as u32;
        let base = (10 << 24) | (78 << 16) | (block << 2);
        let ns = Self {
            name: format!("nfwdt{pid}-{n}"),
            veth: format!("nft{}{n}", pid % 100_000),
            host: std::net::Ipv4Addr::from(base | 1),
            inside: std::net::Ipv4Addr::from(base | 2),
        };
        let peer = format!("{}p", ns.veth);
        let (host, inside) = (format!("{}/30", ns.host), format!("{}/30", ns.inside));
        // Leftovers of a killed run with the same pid.
        let _ = Self::ip(&["link", "del", &ns.veth]);
        let _ = Self::ip(&["netns", "del", &ns.name]);
        Self::ip(&["netns", "add", &ns.name])?;
        let steps: [&[&str]; 7] = [
            &[
                "link", "add", &ns.veth, "type", "veth", "peer", "name", &peer,
            ],
            &["link", "set", &peer, "netns", &ns.name],
            &["addr", "add", &host, "dev", &ns.veth],
            &["link", "set", &ns.veth, "up"],
            &["-n", &ns.name, "addr", "add", &inside, "dev", &peer],
            &["-n", &ns.name, "link", "set", &peer, "up"],
            &["-n", &ns.name, "link", "set", "lo", "up"],
        ];
        for step in steps {
            // On failure, drop removes what was made.
            Self::ip(step)?;
        }
        Ok(ns)
    }

    /// A shell command run inside the namespace.
    fn command(&self, script: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ip");
        c.args(["netns", "exec", &self.name, "bash", "-c", script]);
        c.kill_on_drop(true);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Self::ip(&["link", "del", &self.veth]);
        let _ = Self::ip(&["netns", "del", &self.name]);
    }
}

/// A namespace for a test that needs a non-local peer; `None` (after saying why) when this
/// machine cannot make one. Under CI the capability is required.
fn netns_or_skip(test: &str) -> Option<NetNs> {
    match NetNs::create() {
        Ok(ns) => Some(ns),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: needs a network namespace (root, iproute2): {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: cannot create a network namespace ({e})");
            record_skip(
                &format!("driver::{test}"),
                &format!("cannot create a network namespace ({e})"),
            );
            None
        }
    }
}

#[tokio::test]
async fn a_silent_remote_tcp_peer_is_closed_when_idle_but_a_local_one_stays() {
    const TEST: &str = "a_silent_remote_tcp_peer_is_closed_when_idle_but_a_local_one_stays";
    let Some(ns) = netns_or_skip(TEST) else {
        return;
    };
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.tcp_listen = "0.0.0.0:0".into();
    c.faces.idle_timeout_s = 1;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let port = h.daemon.tcp_addr().unwrap().port();

    // The local peer connects first, so it has been silent at least as long as the remote.
    let _local = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (local_id, info) = h.added().await;
    assert_eq!(info.scope, FaceScope::Local);
    // The remote peer connects and says nothing; it reports when the daemon hangs up.
    let mut remote = ns
        .command(&format!(
            "exec 3<>/dev/tcp/{}/{port} && cat <&3 >/dev/null; echo hung up",
            ns.host
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (remote_id, info) = h.added().await;
    assert_eq!(info.scope, FaceScope::NonLocal);
    assert!(
        info.remote_uri
            .starts_with(&format!("tcp4://{}:", ns.inside)),
        "{info:?}"
    );
    assert_eq!(h.closed().await, remote_id);
    let mut said = String::new();
    let mut stdout = remote.stdout.take().unwrap();
    tokio::time::timeout(PATIENCE, stdout.read_to_string(&mut said))
        .await
        .expect("the remote peer's connection stayed open")
        .unwrap();
    assert_eq!(said.trim(), "hung up");
    let _ = remote.wait().await;

    let status = h.daemon.status().await.unwrap();
    let ids: Vec<FaceId> = status.faces.iter().map(|f| f.id).collect();
    assert_eq!(ids, vec![local_id]);
    assert_eq!(status.counters.idle_closes_tcp, 1);
    h.stop().await;
    drop(ns);
}

/// Slowloris: a peer that starts a frame and trickles it (or stops) is cut off after
/// `partial_frame_timeout_s`; a peer that sends whole frames slowly is not.
#[tokio::test]
async fn a_stream_holding_a_partial_frame_too_long_is_closed() {
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.partial_frame_timeout_s = 1;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let path = h.daemon.unix_path().unwrap().to_owned();

    let mut honest = UnixStream::connect(&path).await.unwrap();
    let (honest_id, _) = h.added().await;
    let silent = UnixStream::connect(&path).await.unwrap();
    let (silent_id, _) = h.added().await;
    let trickler = UnixStream::connect(&path).await.unwrap();
    let (trickler_id, _) = h.added().await;

    // Silent: the header of an 8800-byte Data and one byte of it, then nothing.
    let (mut silent_r, mut silent_w) = silent.into_split();
    silent_w
        .write_all(&[0x06, 0xfd, 0x22, 0x5c, 0])
        .await
        .unwrap();
    // Trickler: the same header, then a byte every 100 ms (it would take 15 minutes).
    let (mut trickler_r, mut trickler_w) = trickler.into_split();
    let trickle = tokio::spawn(async move {
        trickler_w
            .write_all(&[0x06, 0xfd, 0x22, 0x5c])
            .await
            .unwrap();
        while trickler_w.write_all(&[0]).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Honest: whole frames, 300 ms apart, for longer than the timeout.
    let mut closed = Vec::new();
    for i in 0..7u8 {
        let f = frame(5, 40, i);
        honest.write_all(&f).await.unwrap();
        let got = h
            .wait(|e| match e {
                Ev::Frame(id, f) => Some((id, f)),
                Ev::Closed(id) => {
                    closed.push(id);
                    None
                }
                _ => None,
            })
            .await;
        assert_eq!(got, (honest_id, f));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    while closed.len() < 2 {
        closed.push(h.closed().await);
    }
    closed.sort();
    assert_eq!(closed, [silent_id, trickler_id]);
    expect_closed(&mut silent_r).await;
    expect_closed(&mut trickler_r).await;
    trickle.abort();

    let status = h.daemon.status().await.unwrap();
    let ids: Vec<FaceId> = status.faces.iter().map(|f| f.id).collect();
    assert_eq!(ids, vec![honest_id]);
    assert_eq!(status.counters.closed_partial_frame, 2);
    h.stop().await;
}

#[tokio::test]
async fn stream_faces_beyond_the_limit_are_refused_and_counted() {
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.max_stream_faces = 2;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let path = h.daemon.unix_path().unwrap().to_owned();
    let a = UnixStream::connect(&path).await.unwrap();
    let (ida, _) = h.added().await;
    let _b = TcpStream::connect(h.daemon.tcp_addr().unwrap())
        .await
        .unwrap();
    h.added().await;
    // A third is accepted by the kernel, then closed at once.
    let mut refused = UnixStream::connect(&path).await.unwrap();
    expect_closed(&mut refused).await;
    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.counters.stream_faces_refused, 1);
    assert_eq!(status.faces.len(), 2);
    // Room again once one goes.
    drop(a);
    assert_eq!(h.closed().await, ida);
    let mut d = UnixStream::connect(&path).await.unwrap();
    let (idd, _) = h.added().await;
    let f = frame(5, 30, 4);
    d.write_all(&f).await.unwrap();
    assert_eq!(h.frame().await, (idd, f));
    h.stop().await;
}

/// `faces.udp_pacing_*`: a burst beyond the bucket waits and leaves at the rate, what waits
/// past the marking threshold (half the queue here) goes out with a CongestionMark, and what
/// does not fit in the queue is dropped and counted. (No timing is asserted: only what
/// arrives, what is marked and what is counted.)
#[tokio::test]
async fn udp_pacing_holds_a_burst_back_marks_what_waits_and_drops_beyond_its_queue() {
    let dir = temp_dir();
    let mut c = config(&dir);
    // 125,000 bytes/s; 9000 bytes at once; 40,000 bytes may wait (marked past 20,000).
    c.faces.udp_pacing_rate_mbps = 1;
    c.faces.udp_pacing_burst_bytes = 9000;
    c.faces.udp_pacing_queue_bytes = 40_000;
    let mut h = Harness::start(c, dir.clone(), true).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // 20 × 4000 bytes, echoed by the core as they arrive: two fit the burst, ten the queue.
    for n in 0..20u8 {
        peer.send_to(&frame(5, 4000, n), daemon).await.unwrap();
    }
    for _ in 0..20 {
        h.frame().await;
    }
    // The queue drains at the rate (~0.3 s); a second without a datagram means it is empty.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 9000];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf)).await
    {
        got.push(buf[..n].to_vec());
    }
    let counters = h.daemon.status().await.unwrap().counters;
    let dropped = counters.dropped_frames;
    assert_eq!(got.len() as u64 + dropped, 20, "{counters:?}");
    // Two leave at once and nine wait (a marked frame is a few bytes longer, so a tenth does
    // not fit): nine dropped. The bucket refills 125 bytes a millisecond while the burst
    // arrives, so a frame or two more may get through, never all of them.
    assert!((5..=9).contains(&dropped), "{counters:?}");
    assert!(counters.udp_paced_frames >= 8, "{counters:?}");
    // Marked frames come back wrapped in an LpPacket (type 100); the others as sent.
    let marked: Vec<&Vec<u8>> = got.iter().filter(|f| f[0] == 100).collect();
    assert!(!marked.is_empty(), "nothing marked: {counters:?}");
    assert_eq!(marked.len() as u64, counters.congestion_marks);
    for f in got.iter().filter(|f| f[0] != 100) {
        assert_eq!(f.len(), 4000);
    }
    // Frames leave in the order they came (the fill byte is the sequence number).
    let order: Vec<u8> = got.iter().map(|f| f[f.len() - 1]).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    h.stop().await;
}

/// A UDP peer whose first datagram (an Interest) made it an on-demand face: the peer's socket
/// and the face.
async fn udp_peer_with_face(h: &mut Harness, daemon: std::net::SocketAddr) -> (UdpSocket, FaceId) {
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.send_to(&frame(5, 30, 0), daemon).await.unwrap();
    let (face, _) = h.added().await;
    h.frame().await;
    (peer, face)
}

/// `n` frames of type `t` with distinct sizes and fills, so that a lost, cut or reordered one
/// shows.
fn distinct_frames(t: u8, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| frame(t, 40 + i % 50, u8::try_from(i % 251).unwrap()))
        .collect()
}

/// Has the core send `sent` on `face` in one `execute` (released by the next frame `peer`
/// sends), and checks that `peer` receives every frame as the datagram it was, in order.
async fn send_in_one_go_and_receive(
    h: &mut Harness,
    peer: &UdpSocket,
    face: FaceId,
    sent: &[Bytes],
) {
    for f in sent {
        h.push(Action::Send {
            face,
            frame: f.clone(),
        });
    }
    let daemon = h.daemon.udp_addr().unwrap();
    peer.send_to(&frame(5, 30, 1), daemon).await.unwrap();
    h.frame().await;
    let mut buf = [0u8; 20_000];
    for (i, want) in sent.iter().enumerate() {
        let (n, _) = tokio::time::timeout(PATIENCE, peer.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("datagram {i} of {} never came", sent.len()))
            .unwrap();
        assert_eq!(&buf[..n], &want[..], "datagram {i}");
    }
}

/// Sends the core makes in one go leave a UDP face batched (`sendmmsg`, 64 at most per
/// call): every one arrives, whole and in order, across several batches.
#[tokio::test]
async fn many_sends_to_one_udp_face_arrive_whole_and_in_order() {
    const N: usize = 130;
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), false).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let (peer, face) = udp_peer_with_face(&mut h, daemon).await;
    send_in_one_go_and_receive(&mut h, &peer, face, &distinct_frames(6, N)).await;
    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.counters.dropped_frames, 0, "{status:?}");
    h.stop().await;
}

/// Frames of one size leave a UDP face in GSO sends (one `sendmsg` of up to 64 frames, cut
/// into datagrams by the kernel): each still arrives as the datagram it was, in order.
#[tokio::test]
async fn frames_of_one_size_leave_a_udp_face_in_gso_sends_and_arrive_as_sent() {
    const N: usize = 130;
    let dir = temp_dir();
    let mut c = config(&dir);
    // Without pacing the outbox leaves at 64 frames and at the end: 64 + 64 + 2.
    c.faces.udp_pacing_rate_mbps = 0;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let (peer, face) = udp_peer_with_face(&mut h, daemon).await;
    let sent: Vec<Bytes> = (0..N)
        .map(|i| frame(6, 100, u8::try_from(i).unwrap()))
        .collect();
    send_in_one_go_and_receive(&mut h, &peer, face, &sent).await;
    let counters = h.daemon.status().await.unwrap().counters;
    assert_eq!(counters.udp_gso_sends, 3, "{counters:?}");
    assert_eq!(counters.udp_gso_refused, 0, "{counters:?}");
    assert_eq!(counters.dropped_frames, 0, "{counters:?}");
    h.stop().await;
}

/// Over a veth pair (MTU 1500), frames that fit the MTU leave in GSO sends; a GSO send of
/// 3000-byte frames is refused by the kernel (GSO never fragments), so those frames go again
/// one datagram each (IP fragments them), and the face stops trying GSO for frames that size.
/// Every frame arrives whole and in order at a peer in the other namespace.
#[tokio::test]
async fn a_gso_send_over_the_path_mtu_goes_again_one_datagram_each() {
    const TEST: &str = "a_gso_send_over_the_path_mtu_goes_again_one_datagram_each";
    const N: usize = 20;
    let Some(ns) = netns_or_skip(TEST) else {
        return;
    };
    let dir = temp_dir();
    let mut c = config(&dir);
    c.faces.udp_listen = "0.0.0.0:0".into();
    c.faces.udp_pacing_rate_mbps = 0;
    let mut h = Harness::start(c, dir.clone(), false).await;
    let port = h.daemon.udp_addr().unwrap().port();
    let mut sent: Vec<Bytes> = (0..N)
        .map(|i| frame(6, 1000, u8::try_from(i).unwrap()))
        .collect();
    sent.extend((0..N).map(|i| frame(6, 3000, u8::try_from(100 + i).unwrap())));
    sent.extend((0..N).map(|i| frame(6, 3000, u8::try_from(200 + i).unwrap())));
    // The peer: its first datagram makes the face; it repeats a second one until the daemon
    // sends, since only a received frame releases the test's script; then it prints, in hex,
    // every datagram it receives.
    let script = dir.join("peer.py");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &script,
        r#"
import socket, sys
host, port, count, first, again = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Room for the whole burst even if this process is slow to read (a loaded machine): 40
# reassembled 3000-byte datagrams take more than the default buffer. SO_RCVBUFFORCE: root.
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
s.sendto(bytes.fromhex(first), (host, port))
s.settimeout(0.2)
got = []
for _ in range(100):
    s.sendto(bytes.fromhex(again), (host, port))
    try:
        got.append(s.recv(65536))
        break
    except socket.timeout:
        pass
s.settimeout(20)
while len(got) < count:
    got.append(s.recv(65536))
for d in got:
    print(d.hex())
"#,
    )
    .unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let peer = ns
        .command(&format!(
            "exec python3 {} {} {port} {} {} {}",
            script.display(),
            ns.host,
            sent.len(),
            hex(&frame(5, 30, 0)),
            hex(&frame(5, 30, 1)),
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (face, info) = h.added().await;
    assert_eq!(info.scope, FaceScope::NonLocal);
    h.frame().await;
    for f in &sent {
        h.push(Action::Send {
            face,
            frame: f.clone(),
        });
    }
    let Ok(out) = tokio::time::timeout(PATIENCE, peer.wait_with_output()).await else {
        let status = h.daemon.status().await.unwrap();
        panic!("the peer did not receive every frame: {status:?}");
    };
    let out = out.unwrap();
    assert!(out.status.success(), "{out:?}");
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(got.len(), sent.len());
    for (i, (got, want)) in got.iter().zip(&sent).enumerate() {
        assert!(*got == hex(want), "datagram {i} differs");
    }
    let counters = h.daemon.status().await.unwrap().counters;
    // The 1000-byte frames: one GSO send. The first 3000-byte run: refused once; the second
    // is not tried again.
    assert_eq!(counters.udp_gso_sends, 1, "{counters:?}");
    assert_eq!(counters.udp_gso_refused, 1, "{counters:?}");
    assert_eq!(counters.dropped_frames, 0, "{counters:?}");
    h.stop().await;
    drop(ns);
}

/// Sends `frames` from `peer` to `to` as one GSO send (as another nfwd does): segments of the
/// first frame's size, the last maybe shorter.
fn gso_send(peer: &UdpSocket, to: std::net::SocketAddr, frames: &[Bytes]) {
    use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg};
    use std::os::fd::AsRawFd;
    let std::net::SocketAddr::V4(to) = to else {
        panic!("IPv4 here")
    };
    let segment = u16::try_from(frames[0].len()).unwrap();
    let iovs: Vec<std::io::IoSlice<'_>> = frames.iter().map(|f| std::io::IoSlice::new(f)).collect();
    let sent = sendmsg(
        peer.as_raw_fd(),
        &iovs,
        &[ControlMessage::UdpGsoSegments(&segment)],
        MsgFlags::empty(),
        Some(&SockaddrIn::from(to)),
    )
    .unwrap();
    assert_eq!(sent, frames.iter().map(Bytes::len).sum::<usize>());
}

/// A peer's GSO sends reach its face coalesced (UDP_GRO) and are cut apart again: every
/// datagram reaches the core whole and in order; datagrams over the size limit among them are
/// counted and dropped, and do not take the others with them.
#[tokio::test]
async fn a_peers_gso_sends_reach_the_core_as_the_datagrams_they_are() {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), false).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let (peer, face) = udp_peer_with_face(&mut h, daemon).await;
    // A datagram alone first, read on its own: the receive headers it used must take the
    // segment size of a coalesced message afterwards (nix's recvmmsg leaves them without room).
    for i in 0..3 {
        let alone = frame(5, 30, 200 + i);
        peer.send_to(&alone, daemon).await.unwrap();
        assert_eq!(h.frame().await, (face, alone));
    }
    let mut sent = Vec::new();
    for round in 0..5u8 {
        let frames: Vec<Bytes> = (0..20u8)
            .map(|i| frame(5, if i == 19 { 60 } else { 100 }, round * 20 + i))
            .collect();
        gso_send(&peer, daemon, &frames);
        sent.extend(frames);
        if round == 2 {
            gso_send(
                &peer,
                daemon,
                &[frame(5, 9500, 1), frame(5, 9500, 2), frame(5, 9500, 3)],
            );
        }
    }
    for (i, want) in sent.iter().enumerate() {
        assert_eq!(h.frame().await, (face, want.clone()), "datagram {i}");
    }
    let counters = h.daemon.status().await.unwrap().counters;
    assert_eq!(counters.udp_oversize, 3, "{counters:?}");
    // At least one GSO send came coalesced (the kernel may hand over a send's datagrams
    // apart, never fewer than it coalesced).
    assert!(counters.udp_gro_datagrams >= 20, "{counters:?}");
    h.stop().await;
}

/// A burst from one peer, queued in the face's socket before its task reads (the test's
/// runtime runs the daemon too), is read in several `recvmmsg` batches, full ones and a short
/// last one: every datagram reaches the core whole and in order, and an oversize one among
/// them is counted and skipped.
#[tokio::test]
async fn a_burst_from_one_udp_peer_arrives_whole_and_in_order() {
    const N: usize = 150;
    const OVERSIZE_AT: usize = 70;
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), false).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let (peer, face) = udp_peer_with_face(&mut h, daemon).await;
    let sent = distinct_frames(5, N);
    for (i, f) in sent.iter().enumerate() {
        if i == OVERSIZE_AT {
            peer.send_to(&frame(5, 9500, 0), daemon).await.unwrap();
        }
        peer.send_to(f, daemon).await.unwrap();
    }
    for (i, want) in sent.iter().enumerate() {
        assert_eq!(h.frame().await, (face, want.clone()), "datagram {i}");
    }
    let status = h.daemon.status().await.unwrap();
    assert_eq!(status.counters.udp_oversize, 1, "{status:?}");
    h.stop().await;
}

/// An on-demand UDP face whose peer is gone, sent `frames` in one go: returns the driver's
/// counters once the face has closed.
async fn a_face_whose_peer_is_gone_is_sent(
    frames: Vec<Bytes>,
) -> nfwd_forwarder::driver::DriverCounters {
    let dir = temp_dir();
    let mut h = Harness::start(config(&dir), dir.clone(), false).await;
    let daemon = h.daemon.udp_addr().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.send_to(&frame(5, 30, 0), daemon).await.unwrap();
    let (_ida, _) = h.added().await;
    h.frame().await;
    b.send_to(&frame(5, 30, 0), daemon).await.unwrap();
    let (idb, _) = h.added().await;
    h.frame().await;
    drop(b);
    for frame in frames {
        h.push(Action::Send { face: idb, frame });
    }
    a.send_to(&frame(5, 30, 1), daemon).await.unwrap();
    assert_eq!(h.closed().await, idb);
    let counters = h.daemon.status().await.unwrap().counters;
    assert_eq!(counters.udp_faces_unreachable, 1, "{counters:?}");
    h.stop().await;
    counters
}

/// Frames of growing sizes leave in one `sendmmsg`: the kernel reports the ICMP port
/// unreachable of the first on a later one of the batch, the face closes and it is counted;
/// frames that could not leave are counted as dropped.
#[tokio::test]
async fn an_on_demand_udp_face_whose_peer_is_gone_closes_within_a_batch() {
    let counters = a_face_whose_peer_is_gone_is_sent(distinct_frames(6, 10)).await;
    assert_eq!(counters.udp_gso_sends, 0, "{counters:?}");
    // The first datagram left (it drew the ICMP); the rest could not.
    assert!((1..=9).contains(&counters.dropped_frames), "{counters:?}");
}

/// Frames of one size leave whole in one GSO send, before the ICMP port unreachable comes
/// back, and nothing more is sent: the face's task takes the socket's error and the face
/// closes all the same.
#[tokio::test]
async fn an_on_demand_udp_face_whose_peer_is_gone_closes_after_a_gso_send() {
    let counters =
        a_face_whose_peer_is_gone_is_sent((0..10).map(|i| frame(6, 40, i)).collect()).await;
    assert_eq!(counters.udp_gso_sends, 1, "{counters:?}");
    assert_eq!(counters.dropped_frames, 0, "{counters:?}");
}

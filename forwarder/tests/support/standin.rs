//! TEST FIXTURE — a minimal "forwarder stand-in", not a forwarder.
//!
//! It exists so the client library can be tested against a real peer over a Unix socket
//! before the nfwd daemon is ready. It knows just enough: NFD `rib/register`/`unregister`
//! (answered with a ControlResponse, 200 unless the prefix is configured to be refused),
//! forwarding by longest prefix match on the head function name or the content name, popping
//! the head function towards the next hop (every face is local here), a linear PIT matched with
//! `Interest::matches`, Nack NoRoute when there is no route, Nacks passed back downstream, and
//! fault injection (drop the first Interest for a given name). No content store, no nonce
//! checks, no timeouts: PIT entries live until answered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use nfwd_tlv::element::frame_len;
use nfwd_tlv::lp::{LpPacket, NackReason};
use nfwd_tlv::nfd::{ControlCommand, ControlResponse};
use nfwd_tlv::types::tt;
use nfwd_tlv::{Data, Interest, InterestEdit, Name, Signer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

/// What the test can configure and observe.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    /// Prefixes whose registration is refused with this status code.
    pub(crate) refuse: HashMap<Name, u64>,
    /// Names whose next Interest is dropped (once each).
    pub(crate) drop_once: Vec<Name>,
    /// How many Interests were dropped on purpose.
    pub(crate) dropped: u64,
    /// Every command Interest received (to check its format).
    pub(crate) commands: Vec<Interest>,
}

#[derive(Debug)]
pub(crate) struct StandIn {
    pub(crate) path: PathBuf,
    pub(crate) knobs: Arc<Mutex<Knobs>>,
}

impl StandIn {
    pub(crate) fn uri(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

enum Event {
    Attach(u64, mpsc::UnboundedSender<Bytes>),
    Packet(u64, Bytes),
    Detach(u64),
}

/// Starts a stand-in on a fresh Unix socket in the temp directory.
pub(crate) async fn start() -> StandIn {
    let path = std::env::temp_dir().join(format!(
        "nfwd-client-test-{}-{}.sock",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let knobs = Arc::new(Mutex::new(Knobs::default()));
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    tokio::spawn(core(ev_rx, Arc::clone(&knobs)));
    tokio::spawn(async move {
        let mut next_face = 1u64;
        while let Ok((stream, _)) = listener.accept().await {
            let face = next_face;
            next_face += 1;
            let (mut r, mut w) = stream.into_split();
            let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
            let _ = ev_tx.send(Event::Attach(face, out_tx));
            tokio::spawn(async move {
                while let Some(b) = out_rx.recv().await {
                    if w.write_all(&b).await.is_err() {
                        break;
                    }
                }
            });
            let ev_tx = ev_tx.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(n)) = frame_len(&buf) {
                        let _ = ev_tx.send(Event::Packet(face, buf.split_to(n).freeze()));
                    }
                    match r.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                let _ = ev_tx.send(Event::Detach(face));
            });
        }
    });
    StandIn { path, knobs }
}

async fn core(mut rx: mpsc::UnboundedReceiver<Event>, knobs: Arc<Mutex<Knobs>>) {
    let mut faces: HashMap<u64, mpsc::UnboundedSender<Bytes>> = HashMap::new();
    let mut routes: Vec<(Name, u64)> = Vec::new();
    let mut pit: Vec<(Interest, u64)> = Vec::new();
    let signer = Signer::digest_sha256();
    let localhost: Name = "/localhost/nfd/rib".parse().unwrap();
    while let Some(ev) = rx.recv().await {
        let (face, wire) = match ev {
            Event::Attach(f, tx) => {
                faces.insert(f, tx);
                continue;
            }
            Event::Detach(f) => {
                faces.remove(&f);
                routes.retain(|(_, rf)| *rf != f);
                continue;
            }
            Event::Packet(f, w) => (f, w),
        };
        let send = |to: u64, b: Bytes| {
            if let Some(tx) = faces.get(&to) {
                let _ = tx.send(b);
            }
        };
        let Ok(lp) = LpPacket::decode(wire) else {
            continue;
        };
        let Some(frag) = lp.fragment.clone() else {
            continue;
        };
        if frag.first() == Some(&(tt::DATA as u8)) {
            let Ok(data) = Data::decode(frag) else {
                continue;
            };
            pit.retain(|(i, down)| {
                if i.matches(&data) {
                    send(*down, data.wire().clone());
                    false
                } else {
                    true
                }
            });
            continue;
        }
        let Ok(interest) = Interest::decode(frag) else {
            continue;
        };
        if let Some(reason) = lp.nack {
            pit.retain(|(i, down)| {
                if i.name() == interest.name() && i.function_chain() == interest.function_chain() {
                    send(*down, LpPacket::nack(reason, i.wire().clone()).encode());
                    false
                } else {
                    true
                }
            });
            continue;
        }
        if localhost.is_prefix_of(interest.name()) {
            let cmd = ControlCommand::parse(&interest).unwrap();
            let mut k = knobs.lock().unwrap();
            k.commands.push(interest.clone());
            let prefix = cmd.parameters().name.clone().unwrap();
            let resp = match k.refuse.get(&prefix) {
                Some(&code) => ControlResponse::new(code, "refused by the stand-in"),
                None => {
                    if cmd.verb() == "register" {
                        routes.push((prefix, face));
                    } else {
                        routes.retain(|(p, f)| !(*p == prefix && *f == face));
                    }
                    ControlResponse::ok(cmd.parameters().clone())
                }
            };
            send(face, resp.to_data(interest.name(), &signer).unwrap());
            continue;
        }
        {
            let mut k = knobs.lock().unwrap();
            if let Some(at) = k.drop_once.iter().position(|n| n == interest.name()) {
                k.drop_once.remove(at);
                k.dropped += 1;
                continue;
            }
        }
        let lookup = interest
            .function_chain()
            .map_or_else(|| interest.name().clone(), |c| c.head().clone());
        let next_hop = routes
            .iter()
            .filter(|(p, f)| p.is_prefix_of(&lookup) && *f != face)
            .max_by_key(|(p, _)| p.len())
            .map(|(_, f)| *f);
        let Some(up) = next_hop else {
            send(
                face,
                LpPacket::nack(NackReason::NoRoute, interest.wire().clone()).encode(),
            );
            continue;
        };
        let out = interest.edited(&InterestEdit {
            pop_function: interest.function_chain().is_some(),
            ..InterestEdit::default()
        });
        pit.push((interest, face));
        send(up, out);
    }
}

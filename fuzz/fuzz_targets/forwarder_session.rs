//! A stateful session with the forwarding core: the input is a program of operations on one
//! `Forwarder` with faces of every kind (local root, a member of the management group, an
//! unprivileged user, an anonymous loopback peer, non-local UDP with a small MTU so packets are
//! fragmented, non-local TCP, a restricted channel face opened through a real `channels/open`),
//! and after every operation the harness checks what the core must never do, whatever the
//! traffic:
//!
//! - no panic; the PIT within its bound, every face within its PIT quota and its quota count
//!   equal to the entries it really is a downstream of; the content store within its capacity;
//! - nothing under `/localhost` (Name, ForwardingHint, Nack) is ever sent to a non-local face,
//!   and every frame sent decodes (reassembled when fragmented);
//! - a Data received on face F is sent on to another face D only if some PIT entry had
//!   forwarded an Interest to F on behalf of D (Data is accepted only from upstreams asked);
//! - management: a model of the authorization policy (peer credentials, signatures, replay)
//!   predicts, for every command, dataset and `/localhost/nfwd` service Interest the harness
//!   builds, whether it is refused; the core's refusal counters must agree exactly, a refused
//!   command changes no table and makes the driver do nothing, and the FIB, RIB, strategy
//!   choices and CS capacity only ever hold what an authorized request installed (so an
//!   unprivileged face that got a 200 has installed only its own registrations outside
//!   `/localhost`) — but for routes self-learning learned from a prefix announcement (origin
//!   129): never under `/localhost` through a non-local face, and bounded;
//! - faces the driver closed are gone from FIB next hops and RIB routes.
//!
//! The input format (every input is a valid program: reading past the end yields zeros) is a
//! sequence of operations, each an opcode byte followed by its fields; see [`Session::step`].
//! `fuzz/seeds/forwarder_session.py` writes the committed seeds and documents the format.
#![no_main]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_core::auth::{Policy, Privileges, Rule, TrustedKey, Users};
use nfwd_core::config::Config;
use nfwd_core::strategy;
use nfwd_core::{
    Action, ChannelId, FaceId, FaceInfo, FaceScope, Forwarder, LinkType, PeerCredentials,
    Persistency,
};
use nfwd_tlv::lp::{
    self, CachePolicyType, LpPacket, NackReason, PitToken, Reassembler, ReassemblerConfig,
};
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v02, make_command_v03};
use nfwd_tlv::{
    Component, Data, DataBuilder, FunctionChain, Interest, InterestBuilder, Name,
    PrefixAnnouncement, Signer,
};

const PIT_MAX: usize = 64;
/// Route origin of a prefix announcement, and the bound on learned routes (restated).
const PA_ORIGIN: u64 = 129;
const MAX_LEARNED: usize = 1024;
const PIT_QUOTA: usize = 12;
const CS_MAX: usize = 32;
const UDP_MTU: usize = 500;
/// Wall-clock time at the forwarder's start (ms since the Unix epoch).
const WALL_START: u64 = 1_700_000_000_000;
/// `auth::TIMESTAMP_GRACE_MS`, restated: the model must not borrow the code it checks.
const GRACE_MS: u64 = 120_000;
const DAEMON_UID: u32 = 1000;
const MANAGE_GID: u32 = 50;
const USER_UID: u32 = 2000;
/// What a command signed by the trusted key may do, whoever sends it.
const KEY_PRIVILEGES: [&str; 4] = ["rib", "strategy-choice", "cs", "sf"];
/// Privileges known by name (the manage group has all of them but `sf-exec`).
const NAMED_PRIVILEGES: [&str; 8] = [
    "faces",
    "fib",
    "rib",
    "strategy-choice",
    "cs",
    "channels",
    "sf",
    "sf-exec",
];
const TRUSTED_KEY: &str = "/op/KEY/k1";

/// `NFWD_FUZZ_TRACE=1` prints what each step did (to read a crash or check a seed).
fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("NFWD_FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

/// Reads the program; past its end every read is zero.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head.to_vec()
    }

    fn array4(&mut self) -> [u8; 4] {
        [self.u8(), self.u8(), self.u8(), self.u8()]
    }
}

/// The signers the session uses, made once (key derivation is not what is being fuzzed).
struct Keys {
    digest: Signer,
    /// The key the policy trusts.
    trusted: Signer,
    /// Another key claiming the trusted key's name: its signatures do not verify.
    forged: Signer,
    /// A key the policy does not know: taken on trust, but satisfies no rule naming a key.
    stranger: Signer,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let name = |s: &str| s.parse::<Name>().expect("name");
        Keys {
            digest: Signer::digest_sha256(),
            trusted: Signer::ed25519_from_seed(&[7; 32], name(TRUSTED_KEY)).expect("key"),
            forged: Signer::ed25519_from_seed(&[9; 32], name(TRUSTED_KEY)).expect("key"),
            stranger: Signer::ed25519_from_seed(&[5; 32], name("/stranger/KEY/k2")).expect("key"),
        }
    })
}

/// Root and the daemon's uid manage; the manage group has every privilege but `sf-exec`; a
/// command signed by the trusted key gets `KEY_PRIVILEGES` whoever sends it.
fn policy() -> Policy {
    let mut p = Policy::local_defaults(DAEMON_UID, Some(MANAGE_GID));
    p.rules.push(Rule {
        users: Users::Any,
        key: Some(0),
        privileges: Privileges::from_names(&KEY_PRIVILEGES).expect("privileges"),
    });
    p.keys.push(TrustedKey {
        name: TRUSTED_KEY.parse().expect("name"),
        key: keys().trusted.verify_key().expect("public key"),
    });
    p
}

/// What the driver knows about a face, and so what its peer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Unix socket, uid 0.
    Root,
    /// Unix socket, a member of the manage group.
    Group,
    /// Unix socket, an unprivileged uid.
    User,
    /// Loopback TCP: local, no credentials.
    Anon,
    /// Non-local UDP with a small MTU.
    Udp,
    /// Non-local TCP.
    Tcp,
    /// A face of a restricted channel (unprivileged uid).
    Channel(ChannelId),
    /// A non-local face made by `faces/create`.
    Created,
}

impl Kind {
    fn local(self) -> bool {
        matches!(
            self,
            Self::Root | Self::Group | Self::User | Self::Anon | Self::Channel(_)
        )
    }
}

fn creds(uid: u32, groups: Vec<u32>) -> Option<PeerCredentials> {
    Some(PeerCredentials {
        uid,
        gid: uid,
        groups,
        pid: Some(4242),
    })
}

fn face_info(kind: Kind, n: u64) -> FaceInfo {
    let (uri, scope, mtu, peer, channel) = match kind {
        Kind::Root => (
            format!("fd://{n}"),
            FaceScope::Local,
            None,
            creds(0, vec![]),
            None,
        ),
        Kind::Group => (
            format!("fd://{n}"),
            FaceScope::Local,
            None,
            creds(3000, vec![MANAGE_GID]),
            None,
        ),
        Kind::User => (
            format!("fd://{n}"),
            FaceScope::Local,
            None,
            creds(USER_UID, vec![7]),
            None,
        ),
        Kind::Anon => (
            format!("tcp4://127.0.0.1:{}", 40000 + n),
            FaceScope::Local,
            None,
            None,
            None,
        ),
        Kind::Udp => (
            format!("udp4://10.0.0.{}:6363", n % 250),
            FaceScope::NonLocal,
            Some(UDP_MTU),
            None,
            None,
        ),
        Kind::Tcp | Kind::Created => (
            format!("tcp4://10.0.1.{}:6363", n % 250),
            FaceScope::NonLocal,
            None,
            None,
            None,
        ),
        Kind::Channel(c) => (
            format!("fd://{n}"),
            FaceScope::Local,
            None,
            creds(USER_UID, vec![]),
            Some(c),
        ),
    };
    FaceInfo {
        remote_uri: uri,
        local_uri: "fuzz://".into(),
        scope,
        persistency: if scope == FaceScope::Local {
            Persistency::OnDemand
        } else {
            Persistency::Persistent
        },
        link_type: LinkType::PointToPoint,
        mtu,
        peer,
        channel,
    }
}

/// A packet in one line, for traces.
fn describe(lp: &LpPacket) -> String {
    let Some(f) = lp.fragment.clone() else {
        return "idle".into();
    };
    let what = match (f.first(), lp.nack) {
        (Some(0x05), Some(r)) => Interest::decode(f).map(|i| format!("Nack {r:?} {}", i.name())),
        (Some(0x05), None) => Interest::decode(f).map(|i| format!("Interest {}", i.name())),
        _ => Data::decode(f).map(|d| format!("Data {}", d.name())),
    };
    what.unwrap_or_else(|e| format!("undecodable: {e}"))
}

fn is_localhost(name: &Name) -> bool {
    name.component_parts(0) == Some((8, &b"localhost"[..]))
}

fn name(s: &str) -> Name {
    s.parse().expect("name")
}

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
    Digest,
    DigestCorrupted,
    Trusted,
    TrustedCorrupted,
    Forged,
    Stranger,
    /// Service Interests only: no signature at all.
    Unsigned,
}

/// Who signed, once checked (the model's `auth::Signer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignedBy {
    Nobody,
    Digest,
    Trusted,
    Unknown,
}

/// A restricted channel as the core holds it (from `OpenChannel` until closed).
#[derive(Debug)]
struct ChannelModel {
    prefix: Name,
    owner: FaceId,
    /// The driver reported it open: faces may be accepted on it.
    open: bool,
}

/// One step's view of what the core emitted.
#[derive(Debug, Default)]
struct Emitted {
    /// Complete packets sent: (face, packet as an LpPacket with its whole fragment).
    packets: Vec<(FaceId, LpPacket)>,
    close_faces: Vec<FaceId>,
    close_channels: Vec<ChannelId>,
    create_faces: usize,
    open_channels: usize,
}

/// What a request of the harness expects of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Never reaches management (non-local face, scope rule): no refusal counted.
    Dropped,
    /// Reaches it and is not refused.
    Allowed,
    /// Refused: one refusal counted, a 403, no effect.
    Refused,
    /// Not modelled (unknown command): no refusal counted.
    Unchecked,
}

struct Session {
    fwd: Forwarder,
    start: Instant,
    now: Instant,
    faces: BTreeMap<FaceId, Kind>,
    /// Faces that existed once (a Send to one closed in the same batch is the driver's to drop).
    ever: BTreeSet<FaceId>,
    next_face: u64,
    allowed_hops: BTreeSet<(Name, FaceId)>,
    allowed_strategies: BTreeSet<(Name, Name)>,
    allowed_capacities: BTreeSet<usize>,
    channels: BTreeMap<ChannelId, ChannelModel>,
    /// Channels the core closed on its own (their owner went): the CloseChannel and CloseFace
    /// actions it defers for them are expected in any later step.
    orphaned: BTreeSet<ChannelId>,
    /// The faces of those channels, which the core closes with them.
    orphan_faces: BTreeSet<FaceId>,
    /// OpenChannel actions the driver has not reported on.
    pending_channels: Vec<ChannelId>,
    /// CreateFace actions the driver has not reported on: (request, remote URI).
    pending_creates: Vec<(u64, String)>,
    /// The trusted key's last accepted timestamp (the model of replay protection).
    key_last: Option<u64>,
    last_ts: u64,
    command_nonce: u64,
    /// Interests recently sent to each face (wire as sent, PIT token), for replies.
    recent: BTreeMap<FaceId, VecDeque<(Interest, Option<PitToken>)>>,
    /// Next NDNLPv2 sequence number of what the harness fragments towards the core, per face.
    sequence: BTreeMap<FaceId, u64>,
    out: Vec<Action>,
}

fn refusals(fwd: &Forwarder) -> u64 {
    let c = fwd.counters();
    c.unauthorized + c.bad_signatures + c.replayed_commands
}

impl Session {
    fn new() -> Self {
        let mut config = Config::default();
        config.tables.pit_max_entries = PIT_MAX;
        config.tables.pit_max_entries_per_face = PIT_QUOTA;
        config.tables.cs_max_entries = CS_MAX;
        let now = Instant::now();
        let mut fwd = Forwarder::new(&config, now);
        fwd.set_wall_clock(WALL_START);
        fwd.set_policy(policy());
        let mut s = Self {
            fwd,
            start: now,
            now,
            faces: BTreeMap::new(),
            ever: BTreeSet::new(),
            next_face: 1,
            allowed_hops: BTreeSet::new(),
            allowed_strategies: BTreeSet::from([(
                Name::new(),
                strategy::versioned_name("best-route"),
            )]),
            allowed_capacities: BTreeSet::from([CS_MAX]),
            channels: BTreeMap::new(),
            orphaned: BTreeSet::new(),
            orphan_faces: BTreeSet::new(),
            pending_channels: Vec::new(),
            pending_creates: Vec::new(),
            key_last: None,
            last_ts: WALL_START,
            command_nonce: 0,
            recent: BTreeMap::new(),
            sequence: BTreeMap::new(),
            out: Vec::new(),
        };
        let root = s.add_face(Kind::Root);
        s.add_face(Kind::Group);
        let user = s.add_face(Kind::User);
        s.add_face(Kind::Anon);
        let udp = s.add_face(Kind::Udp);
        let tcp = s.add_face(Kind::Tcp);
        // Static routes, as configuration installs them: everything else goes to the UDP
        // neighbour (so a /localhost leak would show), /net to the TCP one.
        for (prefix, face, cost) in [("/", udp, 10), ("/net", tcp, 0)] {
            s.fwd.add_route(&name(prefix), face, cost);
            s.allowed_hops.insert((name(prefix), face));
        }
        // The SF host's service, an application's prefix, and a restricted channel, all through
        // real commands.
        let code = s.setup_command(
            root,
            "rib",
            "register",
            ControlParameters::with_name(name("/localhost/nfwd/sf")),
        );
        assert_eq!(code, Some(200), "root registers /localhost/nfwd/sf");
        let code = s.setup_command(
            user,
            "rib",
            "register",
            ControlParameters::with_name(name("/app")),
        );
        assert_eq!(code, Some(200), "a user registers /app for itself");
        let open = ControlParameters {
            name: Some(name("/chan")),
            uri: Some("unix:///run/nfwd/sf/s0.sock".into()),
            ..ControlParameters::default()
        };
        let code = s.setup_command(root, "channels", "open", open);
        assert_eq!(code, None, "channels/open waits for the driver");
        let channel = *s.pending_channels.first().expect("OpenChannel");
        s.report_channel(0, true);
        assert!(s.channels.get(&channel).is_some_and(|c| c.open));
        let sf = s.add_face(Kind::Channel(channel));
        let code = s.setup_command(
            sf,
            "rib",
            "register",
            ControlParameters::with_name(name("/chan/f")),
        );
        assert_eq!(code, Some(200), "a channel face registers under its prefix");
        s
    }

    fn wall_ms(&self) -> u64 {
        WALL_START + u64::try_from(self.now.duration_since(self.start).as_millis()).unwrap_or(0)
    }

    fn add_face(&mut self, kind: Kind) -> FaceId {
        let n = self.next_face;
        self.next_face += 1;
        let id = self.fwd.add_face(face_info(kind, n), self.now);
        self.faces.insert(id, kind);
        self.ever.insert(id);
        id
    }

    /// The driver closed `face` and tells the core.
    fn close_face(&mut self, face: FaceId) {
        if self.faces.remove(&face).is_none() {
            return;
        }
        // Closing answers or retries the Interests that waited for the face upstream.
        let mut out = Vec::new();
        self.fwd.face_closed(face, self.now, &mut out);
        self.execute(&mut out);
        self.recent.remove(&face);
        // The core closes the channels the face opened at once and defers the actions.
        let owned: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| c.owner == face)
            .map(|(id, _)| *id)
            .collect();
        for id in owned {
            self.channels.remove(&id);
            self.orphaned.insert(id);
            let members = self
                .faces
                .iter()
                .filter(|(_, k)| **k == Kind::Channel(id))
                .map(|(f, _)| *f);
            self.orphan_faces.extend(members);
        }
    }

    fn pick_face(&self, sel: u8) -> Option<FaceId> {
        if self.faces.is_empty() {
            return None;
        }
        self.faces
            .keys()
            .nth(usize::from(sel) % self.faces.len())
            .copied()
    }

    // -----------------------------------------------------------------------------------------
    // Feeding the core and checking what comes out

    /// Hands `frame` to the core on `face` as a peer would (fragmented above a UDP MTU), then
    /// checks the actions; a Data sent on to another face must be justified by the PIT as it
    /// was before.
    fn deliver(&mut self, face: FaceId, frame: &Bytes) -> Emitted {
        let justified = self.downstreams_of(face);
        let frames = match self.faces.get(&face) {
            Some(Kind::Udp) if frame.len() > UDP_MTU => {
                let seq = self.sequence.entry(face).or_insert(0);
                let lp = LpPacket::decode(frame.clone())
                    .unwrap_or_else(|_| LpPacket::from_fragment(frame.clone()));
                match lp::fragment(&lp, UDP_MTU, *seq) {
                    Ok(frags) => {
                        *seq += frags.len() as u64;
                        frags
                    }
                    Err(_) => vec![frame.clone()],
                }
            }
            _ => vec![frame.clone()],
        };
        let mut out = std::mem::take(&mut self.out);
        for f in &frames {
            self.fwd.receive(self.now, face, f, &mut out);
        }
        let emitted = self.execute(&mut out);
        self.out = out;
        for (to, lp) in &emitted.packets {
            let is_data =
                lp.nack.is_none() && lp.fragment.as_ref().and_then(|f| f.first()) == Some(&0x06);
            if is_data && *to != face {
                assert!(
                    justified.contains(to),
                    "Data from face {face} sent to face {to}, which had asked nothing of it"
                );
            }
        }
        emitted
    }

    /// Faces with an in-record on an entry whose Interest went out to `face`.
    fn downstreams_of(&self, face: FaceId) -> BTreeSet<FaceId> {
        let pit = self.fwd.pit();
        pit.ids()
            .filter_map(|id| pit.get(id))
            .filter(|e| e.out_records.iter().any(|r| r.face == face))
            .flat_map(|e| e.in_records.iter().map(|r| r.face))
            .collect()
    }

    /// Carries out `actions` as the driver does (in order; CloseFace closes at once) and
    /// checks every frame sent.
    fn execute(&mut self, actions: &mut Vec<Action>) -> Emitted {
        let mut emitted = Emitted::default();
        let mut reassembler: Reassembler<FaceId> = Reassembler::new(ReassemblerConfig {
            max_packet_size: 1 << 20,
            max_frag_count: 1 << 16,
            ..ReassemblerConfig::default()
        });
        for action in actions.drain(..) {
            match action {
                Action::Send { face, frame } => {
                    assert!(
                        self.ever.contains(&face),
                        "Send to face {face}, which never existed"
                    );
                    if !self.faces.contains_key(&face) {
                        continue; // closed earlier in this batch: the driver drops it
                    }
                    let lp = LpPacket::decode(frame).expect("the core sends decodable frames");
                    let lp = if lp.is_fragmented() {
                        match reassembler.receive(face, lp, self.now) {
                            Ok(Some(full)) => full,
                            Ok(None) => continue,
                            Err(e) => panic!("the core's fragments do not reassemble: {e}"),
                        }
                    } else {
                        lp
                    };
                    self.check_sent(face, &lp);
                    trace!("  sent to {face}: {}", describe(&lp));
                    emitted.packets.push((face, lp));
                }
                Action::CreateFace {
                    request,
                    remote_uri,
                    ..
                } => {
                    emitted.create_faces += 1;
                    self.pending_creates.push((request, remote_uri));
                }
                Action::CloseFace { face } => {
                    emitted.close_faces.push(face);
                    self.close_face(face);
                }
                Action::OpenChannel { channel, .. } => {
                    emitted.open_channels += 1;
                    self.pending_channels.push(channel);
                }
                Action::CloseChannel { channel } => {
                    emitted.close_channels.push(channel);
                    self.channels.remove(&channel);
                }
                Action::SetPersistency { .. } | Action::SetCongestionMarking { .. } => {}
            }
        }
        assert_eq!(
            reassembler.partial_count(),
            0,
            "the core sent a packet's fragments only in part"
        );
        emitted
    }

    /// One complete packet sent on `face`: decodable, nothing under /localhost if the face is
    /// not local; Interests are remembered for replies.
    fn check_sent(&mut self, face: FaceId, lp: &LpPacket) {
        let local = self.faces.get(&face).is_some_and(|k| k.local());
        let Some(fragment) = lp.fragment.clone() else {
            return;
        };
        match fragment.first() {
            Some(0x05) => {
                let interest = Interest::decode(fragment).expect("the core sends valid Interests");
                let scoped = is_localhost(interest.name())
                    || interest.forwarding_hint().iter().any(is_localhost);
                assert!(
                    local || !scoped,
                    "{} {} sent to non-local face {face}",
                    if lp.nack.is_some() {
                        "Nack for"
                    } else {
                        "Interest"
                    },
                    interest.name()
                );
                if lp.nack.is_none() {
                    let q = self.recent.entry(face).or_default();
                    if q.len() == 8 {
                        q.pop_front();
                    }
                    q.push_back((interest, lp.pit_token));
                }
            }
            Some(0x06) => {
                let data = Data::decode(fragment).expect("the core sends valid Data");
                assert!(
                    local || !is_localhost(data.name()),
                    "Data {} sent to non-local face {face}",
                    data.name()
                );
            }
            _ => panic!("the core sent a fragment that is neither Interest nor Data"),
        }
    }

    /// Privileged actions in a step that was not an authorized request must come from channels
    /// the core closed when their owner went.
    fn check_unprivileged(&self, emitted: &Emitted, what: &str) {
        assert_eq!(emitted.create_faces, 0, "{what}: a face was created");
        assert_eq!(emitted.open_channels, 0, "{what}: a channel was opened");
        for c in &emitted.close_channels {
            assert!(self.orphaned.contains(c), "{what}: channel {c} was closed");
        }
        for f in &emitted.close_faces {
            assert!(self.orphan_faces.contains(f), "{what}: face {f} was closed");
        }
    }

    /// Runs the invariants that hold after every step.
    fn check_tables(&self) {
        let fwd = &self.fwd;
        assert!(fwd.pit().len() <= PIT_MAX, "PIT over its bound");
        let mut downstream_of: BTreeMap<FaceId, usize> = BTreeMap::new();
        let pit = fwd.pit();
        for e in pit.ids().filter_map(|id| pit.get(id)) {
            for r in &e.in_records {
                *downstream_of.entry(r.face).or_default() += 1;
            }
        }
        let mut seen = BTreeSet::new();
        for (id, f) in fwd.faces() {
            seen.insert(id);
            assert!(f.pit_entries() <= PIT_QUOTA, "face {id} over its PIT quota");
            assert_eq!(
                f.pit_entries(),
                downstream_of.get(&id).copied().unwrap_or(0),
                "face {id}'s quota count differs from the entries it is a downstream of"
            );
        }
        let model: BTreeSet<FaceId> = self.faces.keys().copied().collect();
        assert_eq!(seen, model, "the core's faces differ from the driver's");
        assert!(
            fwd.cs().len() <= fwd.cs().capacity(),
            "CS over its capacity"
        );
        assert!(
            self.allowed_capacities.contains(&fwd.cs().capacity()),
            "CS capacity {} set by nobody authorized",
            fwd.cs().capacity()
        );
        // Routes self-learning learned (origin 129), which no request installs.
        let learned = |prefix: &Name, face: FaceId| {
            fwd.rib()
                .get(prefix)
                .is_some_and(|rs| rs.iter().any(|r| r.face == face && r.origin == PA_ORIGIN))
        };
        let mut learned_routes = 0;
        for e in fwd.fib().iter() {
            for h in &e.next_hops {
                assert!(
                    self.faces.contains_key(&h.face),
                    "FIB {} has closed face {}",
                    e.prefix,
                    h.face
                );
                assert!(
                    self.allowed_hops.contains(&(e.prefix.clone(), h.face))
                        || learned(&e.prefix, h.face),
                    "FIB {} -> face {} installed by nobody authorized",
                    e.prefix,
                    h.face
                );
            }
        }
        for (prefix, routes) in fwd.rib().iter() {
            for r in routes {
                assert!(
                    self.faces.contains_key(&r.face),
                    "RIB {prefix} has closed face {}",
                    r.face
                );
                if r.origin == PA_ORIGIN && !self.allowed_hops.contains(&(prefix.clone(), r.face)) {
                    let local = self.faces.get(&r.face).is_some_and(|k| k.local());
                    assert!(
                        local || !is_localhost(prefix),
                        "RIB {prefix} learned through non-local face {}",
                        r.face
                    );
                    learned_routes += 1;
                    continue;
                }
                assert!(
                    self.allowed_hops.contains(&(prefix.clone(), r.face)),
                    "RIB {prefix} -> face {} installed by nobody authorized",
                    r.face
                );
            }
        }
        assert!(
            learned_routes <= MAX_LEARNED && fwd.learned_routes() <= MAX_LEARNED,
            "learned routes over their bound"
        );
        for (prefix, s) in fwd.strategies().list() {
            assert!(
                self.allowed_strategies
                    .contains(&(prefix.clone(), s.clone())),
                "strategy {:?} for {prefix} set by nobody authorized",
                s
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // The model of authorization

    fn check_signature(&self, sig: Sig, ts: Option<u64>) -> Option<SignedBy> {
        let who = match sig {
            Sig::Unsigned => return Some(SignedBy::Nobody),
            Sig::DigestCorrupted | Sig::TrustedCorrupted | Sig::Forged => return None,
            Sig::Digest => SignedBy::Digest,
            Sig::Trusted => SignedBy::Trusted,
            Sig::Stranger => SignedBy::Unknown,
        };
        if ts.is_some_and(|t| t.abs_diff(self.wall_ms()) > GRACE_MS) {
            return None;
        }
        if who == SignedBy::Trusted {
            match (ts, self.key_last) {
                (None, _) => return None,
                (Some(t), Some(last)) if t <= last => return None,
                _ => {}
            }
        }
        Some(who)
    }

    fn commit(&mut self, who: SignedBy, ts: Option<u64>) {
        if who == SignedBy::Trusted
            && let Some(t) = ts
        {
            self.key_last = Some(self.key_last.map_or(t, |l| l.max(t)));
        }
    }

    fn grants(kind: Kind, who: SignedBy, privilege: &str) -> bool {
        let by_peer = match kind {
            Kind::Root => true,
            Kind::Group => NAMED_PRIVILEGES.contains(&privilege) && privilege != "sf-exec",
            _ => false,
        };
        by_peer || (who == SignedBy::Trusted && KEY_PRIVILEGES.contains(&privilege))
    }

    /// Whether an NFD command from `face` is authorized (and the replay state it leaves).
    fn decide_command(
        &mut self,
        face: FaceId,
        module: &str,
        verb: &str,
        p: &ControlParameters,
        sig: Sig,
        ts: u64,
    ) -> bool {
        let Some(kind) = self.faces.get(&face).copied() else {
            return false;
        };
        let Some(who) = self.check_signature(sig, Some(ts)) else {
            return false;
        };
        let named = match p.face_id {
            None | Some(0) => face,
            Some(id) => FaceId(id),
        };
        let own = named == face;
        let registering = module == "rib" && matches!(verb, "register" | "unregister");
        let ok = match kind {
            Kind::Channel(c) => {
                let prefix = self.channels.get(&c).map(|c| &c.prefix);
                registering
                    && own
                    && matches!((&p.name, prefix), (Some(n), Some(pre)) if pre.is_prefix_of(n))
            }
            _ => {
                let self_service = own
                    && ((registering && p.name.as_ref().is_some_and(|n| !is_localhost(n)))
                        || (module == "faces" && verb == "update"));
                self_service || Self::grants(kind, who, module)
            }
        };
        if ok {
            self.commit(who, Some(ts));
        }
        ok
    }

    // -----------------------------------------------------------------------------------------
    // Requests

    fn timestamp(&mut self, sel: u8) -> u64 {
        let wall = self.wall_ms();
        match sel % 5 {
            0 => {
                self.last_ts = wall.max(self.last_ts + 1);
                self.last_ts
            }
            1 => self.last_ts,
            2 => wall.saturating_sub(200_000),
            3 => wall + 200_000,
            _ => wall.saturating_sub(u64::from(sel) * 1000),
        }
    }

    fn signer(sig: Sig) -> &'static Signer {
        let k = keys();
        match sig {
            Sig::Digest | Sig::DigestCorrupted | Sig::Unsigned => &k.digest,
            Sig::Trusted | Sig::TrustedCorrupted => &k.trusted,
            Sig::Forged => &k.forged,
            Sig::Stranger => &k.stranger,
        }
    }

    /// A command Interest in either format, its signature corrupted if `sig` says so (the
    /// parameters digest is recomputed, so only the signature is wrong).
    fn command_wire(
        &mut self,
        module: &str,
        verb: &str,
        p: &ControlParameters,
        v02: bool,
        sig: Sig,
        ts: u64,
    ) -> Option<Interest> {
        self.command_nonce += 1;
        let signer = Self::signer(sig);
        let corrupt = matches!(sig, Sig::DigestCorrupted | Sig::TrustedCorrupted);
        if v02 {
            let i = make_command_v02(module, verb, p, signer, self.command_nonce, ts).ok()?;
            if !corrupt {
                return Some(i);
            }
            let n = i.name();
            let last = n.get(n.len().checked_sub(1)?)?;
            let mut v = last.value().to_vec();
            *v.last_mut()? ^= 0x55;
            let renamed = n.prefix(n.len() - 1).append_generic(&v);
            let mut b = i.to_builder();
            b.name = renamed;
            b.build().ok()
        } else {
            let i = make_command_v03(module, verb, p, signer, self.command_nonce, ts).ok()?;
            if !corrupt {
                return Some(i);
            }
            let mut b = i.to_builder();
            if let Some((_, value)) = &mut b.signature {
                let mut v = value.to_vec();
                *v.last_mut()? ^= 0x55;
                *value = Bytes::from(v);
            }
            b.build().ok()
        }
    }

    /// The ControlResponse sent to `face` for the request named `n`, if any.
    fn reply(emitted: &Emitted, face: FaceId, n: &Name) -> Option<ControlResponse> {
        emitted.packets.iter().find_map(|(f, lp)| {
            if *f != face || lp.nack.is_some() {
                return None;
            }
            let data = Data::decode(lp.fragment.clone()?).ok()?;
            if data.name() != n {
                return None;
            }
            ControlResponse::from_wire(data.content()).ok()
        })
    }

    /// Sends a command and checks the core against the model; returns the reply's code.
    #[allow(clippy::too_many_arguments)]
    fn command(
        &mut self,
        face: FaceId,
        module: &str,
        verb: &str,
        p: ControlParameters,
        v02: bool,
        sig: Sig,
        ts: u64,
    ) -> Option<u64> {
        let kind = self.faces.get(&face).copied()?;
        let known = matches!(
            (module, verb),
            ("rib", "register" | "unregister")
                | ("fib", "add-nexthop" | "remove-nexthop")
                | ("faces", "create" | "update" | "destroy")
                | ("strategy-choice", "set" | "unset")
                | ("cs", "config" | "erase")
                | ("channels", "open" | "close")
        );
        let interest = self.command_wire(module, verb, &p, v02, sig, ts)?;
        let expect = if !kind.local() {
            Expect::Dropped
        } else if !known {
            Expect::Unchecked
        } else if self.decide_command(face, module, verb, &p, sig, ts) {
            Expect::Allowed
        } else {
            Expect::Refused
        };
        let before = refusals(&self.fwd);
        let tables = self.snapshot();
        let emitted = self.deliver(face, interest.wire());
        let refused = refusals(&self.fwd) - before;
        let reply = Self::reply(&emitted, face, interest.name());
        let what =
            format!("{module}/{verb} from {kind:?} face {face} ({sig:?}, ts {ts}): {expect:?}");
        trace!(
            "{what} -> {:?}",
            reply
                .as_ref()
                .map(|r| (r.status_code, r.status_text.to_string()))
        );
        match expect {
            Expect::Dropped => {
                assert_eq!(refused, 0, "{what}: counted as refused");
                assert!(reply.is_none(), "{what}: answered");
                self.check_unprivileged(&emitted, &what);
            }
            Expect::Unchecked => {
                assert_eq!(refused, 0, "{what}: counted as refused");
                self.check_unprivileged(&emitted, &what);
            }
            Expect::Refused => {
                assert_eq!(refused, 1, "{what}: refusals counted {refused}");
                // The requester may be a face of an orphaned channel that the core closes in
                // this very batch (deferred actions go out first): then its reply is dropped and
                // its routes go with it.
                if self.faces.contains_key(&face) {
                    let code = reply.as_ref().map(|r| r.status_code);
                    assert_eq!(code, Some(403), "{what}: {reply:?}");
                }
                self.check_unprivileged(&emitted, &what);
                if emitted.close_faces.is_empty() {
                    assert_eq!(tables, self.snapshot(), "{what}: tables changed");
                }
            }
            Expect::Allowed => {
                assert_eq!(refused, 0, "{what}: refused ({reply:?})");
                assert_ne!(reply.as_ref().map(|r| r.status_code), Some(403), "{what}");
                if reply.as_ref().is_some_and(|r| r.status_code == 200) {
                    self.allow_effects(face, module, verb, &p);
                }
            }
        }
        reply.map(|r| r.status_code)
    }

    /// What an authorized command that succeeded may have installed.
    fn allow_effects(&mut self, face: FaceId, module: &str, verb: &str, p: &ControlParameters) {
        let named = match p.face_id {
            None | Some(0) => face,
            Some(id) => FaceId(id),
        };
        match (module, verb) {
            ("rib", "register") | ("fib", "add-nexthop") => {
                if let Some(n) = &p.name {
                    self.allowed_hops.insert((n.clone(), named));
                }
            }
            ("strategy-choice", "set") => {
                if let (Some(n), Some(s)) = (
                    &p.name,
                    p.strategy.as_ref().and_then(|s| strategy::create(s).ok()),
                ) {
                    self.allowed_strategies.insert((n.clone(), s.name()));
                }
            }
            ("cs", "config") => {
                if let Some(c) = p.capacity {
                    self.allowed_capacities
                        .insert(usize::try_from(c).unwrap_or(usize::MAX));
                }
            }
            // Unregistering, removing and unsetting only take away; faces and channels are
            // followed through the driver's actions.
            _ => {}
        }
    }

    /// The tables a refused request must leave alone.
    fn snapshot(
        &self,
    ) -> (
        Vec<(Name, Vec<(FaceId, u64)>)>,
        Vec<(Name, Name)>,
        usize,
        usize,
    ) {
        let mut fib: Vec<_> = self
            .fwd
            .fib()
            .iter()
            .map(|e| {
                (
                    e.prefix.clone(),
                    e.next_hops.iter().map(|h| (h.face, h.cost)).collect(),
                )
            })
            .collect();
        fib.sort();
        let strategies = self.fwd.strategies().list();
        (
            fib,
            strategies,
            self.fwd.cs().capacity(),
            self.fwd.rib().len(),
        )
    }

    /// A command during setup: digest-signed, fresh timestamp, v0.3.
    fn setup_command(
        &mut self,
        face: FaceId,
        module: &str,
        verb: &str,
        p: ControlParameters,
    ) -> Option<u64> {
        let ts = self.timestamp(0);
        let code = self.command(face, module, verb, p, false, Sig::Digest, ts);
        if module == "channels" && verb == "open" {
            self.note_channel_request(face, &name("/chan"));
        }
        code
    }

    /// After an authorized channels/open, the channel the core made is in `pending_channels`;
    /// remember its prefix and owner as the core does.
    fn note_channel_request(&mut self, owner: FaceId, prefix: &Name) {
        if let Some(&c) = self.pending_channels.last()
            && !self.channels.contains_key(&c)
            && !self.orphaned.contains(&c)
        {
            self.channels.insert(
                c,
                ChannelModel {
                    prefix: prefix.clone(),
                    owner,
                    open: false,
                },
            );
        }
    }

    /// The driver reports on a channel it was asked to open.
    fn report_channel(&mut self, sel: u8, ok: bool) {
        if self.pending_channels.is_empty() {
            return;
        }
        let i = usize::from(sel) % self.pending_channels.len();
        let c = self.pending_channels.remove(i);
        let mut out = std::mem::take(&mut self.out);
        let result = if ok {
            Ok(())
        } else {
            Err("bind failed".to_string())
        };
        self.fwd.channel_opened(self.now, c, result, &mut out);
        if ok {
            if let Some(ch) = self.channels.get_mut(&c) {
                ch.open = true;
            }
        } else {
            self.channels.remove(&c);
        }
        let emitted = self.execute(&mut out);
        self.out = out;
        // A channel closed while the driver worked on it is closed again.
        for closed in &emitted.close_channels {
            assert!(
                *closed == c || self.orphaned.contains(closed),
                "reporting channel {c} closed channel {closed}"
            );
        }
        assert_eq!(emitted.create_faces + emitted.open_channels, 0);
    }

    /// The driver reports on a face it was asked to create.
    fn report_create(&mut self, sel: u8, ok: bool) {
        if self.pending_creates.is_empty() {
            return;
        }
        let i = usize::from(sel) % self.pending_creates.len();
        let (request, uri) = self.pending_creates.remove(i);
        let network = uri.starts_with("udp") || uri.starts_with("tcp");
        let result = if ok && network {
            let mut info = face_info(Kind::Created, self.next_face);
            self.next_face += 1;
            info.remote_uri = uri;
            Ok(info)
        } else if network {
            Err("connection refused".to_string())
        } else {
            Err("unsupported scheme".to_string())
        };
        let mut out = std::mem::take(&mut self.out);
        if let Some(id) = self.fwd.face_created(self.now, request, result, &mut out) {
            self.faces.insert(id, Kind::Created);
            self.ever.insert(id);
        }
        let emitted = self.execute(&mut out);
        self.out = out;
        self.check_unprivileged(&emitted, "face_created");
    }

    // -----------------------------------------------------------------------------------------
    // Building packets from the input

    fn component(inp: &mut Input<'_>) -> Component {
        const WORDS: [&[u8]; 14] = [
            b"localhost",
            b"nfd",
            b"nfwd",
            b"sf",
            b"app",
            b"net",
            b"chan",
            b"a",
            b"b",
            b"f",
            b"sf-exec",
            b"status",
            b"KEY",
            b"op",
        ];
        let w = inp.u8();
        match w % 20 {
            i @ 0..=13 => Component::generic(WORDS[usize::from(i)]),
            14 => Component::segment(u64::from(inp.u8())),
            15 => Component::version(u64::from(inp.u8())),
            16 => Component::sequence_num(u64::from(inp.u16())),
            17 => {
                let len = usize::from(inp.u8() % 12);
                Component::generic(&inp.bytes(len))
            }
            18 => {
                let t = u32::from(inp.u8());
                let len = usize::from(inp.u8() % 6);
                Component::new(t, &inp.bytes(len)).unwrap_or_else(|_| Component::generic(b"t"))
            }
            _ => Component::implicit_digest(&[inp.u8(); 32]),
        }
    }

    /// A name: one of the routed prefixes (or none), then up to three components.
    fn name(inp: &mut Input<'_>) -> Name {
        const BASES: [&str; 8] = [
            "/app",
            "/net",
            "/chan",
            "/localhost/nfwd/sf",
            "/localhost",
            "/chan/f",
            "/x",
            "/",
        ];
        let b = inp.u8();
        let mut n = if b < 200 {
            name(BASES[usize::from(b) % BASES.len()])
        } else {
            Name::new()
        };
        for _ in 0..inp.u8() % 4 {
            n = n.append(&Self::component(inp));
        }
        n
    }

    fn token(inp: &mut Input<'_>) -> Option<PitToken> {
        let len = usize::from(inp.u8() % 9).max(1);
        PitToken::from_slice(&inp.bytes(len)).ok()
    }

    /// An Interest of the consumer kind: selectors, hints, function stack, lifetime, HopLimit,
    /// link fields.
    fn interest_op(&mut self, inp: &mut Input<'_>) {
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let n = Self::name(inp);
        let flags = inp.u8();
        let mut b = InterestBuilder::new(n)
            .can_be_prefix(flags & 1 != 0)
            .must_be_fresh(flags & 2 != 0);
        let nonce = inp.u8();
        if nonce < 128 {
            b = b.nonce([0, 0, 0, nonce % 16]);
        } else if nonce < 220 {
            b = b.nonce(inp.array4());
        }
        match inp.u8() {
            0 => {}
            255 => b = b.lifetime_ms(3_600_000),
            l => b = b.lifetime_ms(u64::from(l) * 100),
        }
        if flags & 4 != 0 {
            let hints = (0..1 + inp.u8() % 2).map(|_| Self::name(inp)).collect();
            b = b.forwarding_hint(hints);
        }
        if flags & 8 != 0 {
            let count = match inp.u8() {
                250.. => 10,
                c => 1 + c % 3,
            };
            let names: Vec<Name> = (0..count).map(|_| Self::name(inp)).collect();
            b = b.function_chain(FunctionChain::new(names).ok());
        }
        if flags & 16 != 0 {
            b = b.hop_limit(inp.u8() % 4);
        }
        if flags & 128 != 0 {
            let len = usize::from(inp.u8() % 16);
            b = b.app_parameters(inp.bytes(len));
        }
        let mut lp = LpPacket::from_fragment(b.encode());
        if flags & 32 != 0 {
            lp.pit_token = Self::token(inp);
        }
        if flags & 64 != 0 {
            lp.next_hop_face_id = self.pick_face(inp.u8()).map(|f| f.0);
        }
        let frame = lp.encode_or_bare();
        // Such an Interest may reach management, but cannot carry a valid signed command.
        let emitted = self.deliver(face, &frame);
        self.check_unprivileged(&emitted, "Interest");
    }

    /// Data, unsolicited or not, from any face.
    fn data_op(&mut self, inp: &mut Input<'_>) {
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let n = Self::name(inp);
        let flags = inp.u8();
        let len = usize::from(inp.u8()) * 8;
        let frame = self.data_frame(n, flags, len, inp);
        let emitted = self.deliver(face, &frame);
        self.check_unprivileged(&emitted, "Data");
    }

    fn data_frame(&mut self, n: Name, flags: u8, len: usize, inp: &mut Input<'_>) -> Bytes {
        // Content starts with a zero byte so it never reads as a ControlResponse.
        let mut content = vec![0u8; len.max(1)];
        for (i, b) in content.iter_mut().enumerate().skip(1) {
            *b = i as u8;
        }
        let mut b = DataBuilder::new(n, content).freshness_ms(u64::from(flags >> 4) * 500);
        if flags & 1 != 0 {
            b = b.function_chain(FunctionChain::new([Self::name(inp)]).ok());
        }
        let Ok(wire) = b.sign(&keys().digest) else {
            return Bytes::new();
        };
        let mut lp = LpPacket::from_fragment(wire);
        if flags & 2 != 0 {
            lp.pit_token = Self::token(inp);
        }
        if flags & 4 != 0 {
            lp.cache_policy = Some(CachePolicyType::NoCache);
        }
        lp.encode_or_bare()
    }

    /// An upstream answers one of the Interests recently sent to it: Data, Nack, or Data for
    /// another name; with the PIT token echoed or not.
    fn respond_op(&mut self, inp: &mut Input<'_>) {
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let idx = usize::from(inp.u8());
        let how = inp.u8();
        let Some((interest, token)) = self
            .recent
            .get(&face)
            .and_then(|q| q.get(idx % q.len().max(1)))
            .cloned()
        else {
            return;
        };
        let token = if how & 0x80 == 0 { token } else { None };
        let frame = match how % 8 {
            0..=3 => {
                let mut n = interest.name().clone();
                if how % 8 == 3 {
                    n = n.append(&Component::segment(u64::from(inp.u8())));
                }
                let mut b = DataBuilder::new(n, vec![0u8; 1 + usize::from(inp.u8()) * 4])
                    .freshness_ms(1000);
                if how & 0x40 != 0 {
                    b = b.function_chain(interest.function_chain().cloned());
                }
                let Ok(wire) = b.sign(&keys().digest) else {
                    return;
                };
                // A prefix announcement of a prefix of the name (self-learning learns it
                // if the entry was a discovery).
                let prefix_announcement = (how & 0x20 != 0)
                    .then(|| {
                        let n = interest.name();
                        let k = usize::from(inp.u8()) % (n.len() + 1);
                        let expiration_ms = u64::from(inp.u8()) * 1000;
                        let pa = PrefixAnnouncement::build(
                            &n.prefix(k),
                            expiration_ms,
                            None,
                            1,
                            &keys().digest,
                        );
                        pa.ok()
                    })
                    .flatten();
                LpPacket {
                    pit_token: token,
                    prefix_announcement,
                    ..LpPacket::from_fragment(wire)
                }
                .encode_or_bare()
            }
            r => {
                let reason = match r {
                    4 => NackReason::NoRoute,
                    5 => NackReason::Congestion,
                    6 => NackReason::Duplicate,
                    _ => NackReason::None,
                };
                LpPacket {
                    pit_token: token,
                    ..LpPacket::nack(reason, interest.wire().clone())
                }
                .encode()
            }
        };
        let emitted = self.deliver(face, &frame);
        self.check_unprivileged(&emitted, "reply");
    }

    fn command_op(&mut self, inp: &mut Input<'_>) {
        const COMMANDS: [(&str, &str); 14] = [
            ("rib", "register"),
            ("rib", "unregister"),
            ("fib", "add-nexthop"),
            ("fib", "remove-nexthop"),
            ("faces", "create"),
            ("faces", "update"),
            ("faces", "destroy"),
            ("strategy-choice", "set"),
            ("strategy-choice", "unset"),
            ("cs", "config"),
            ("cs", "erase"),
            ("channels", "open"),
            ("channels", "close"),
            ("rib", "announce"),
        ];
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let (module, verb) = COMMANDS[usize::from(inp.u8()) % COMMANDS.len()];
        let fields = inp.u16();
        let mut p = ControlParameters::default();
        if fields & 1 != 0 {
            p.name = Some(Self::name(inp));
        }
        if fields & 2 != 0 {
            p.face_id = match inp.u8() {
                0 => Some(0),
                1 => Some(face.0),
                255 => Some(1 << 40),
                s => self.pick_face(s).map(|f| f.0),
            };
        }
        if fields & 4 != 0 {
            const URIS: [&str; 6] = [
                "unix:///run/nfwd/sf/a.sock",
                "unix:///run/nfwd/sf/s0.sock",
                "udp4://10.9.0.1:6363",
                "tcp4://10.9.0.2:6363",
                "unix://relative.sock",
                "bogus",
            ];
            let u = inp.u8();
            let uri = match self.pick_face(u).filter(|_| u >= 200) {
                Some(f) => self
                    .fwd
                    .faces()
                    .find(|(id, _)| *id == f)
                    .map(|(_, s)| s.info.remote_uri.clone())
                    .unwrap_or_default(),
                None => URIS[usize::from(u) % URIS.len()].to_string(),
            };
            p.uri = Some(uri.as_str().into());
        }
        if fields & 8 != 0 {
            p.origin = Some(u64::from(inp.u8()));
        }
        if fields & 16 != 0 {
            p.cost = Some(u64::from(inp.u8()));
        }
        if fields & 32 != 0 {
            p.capacity = Some(u64::from(inp.u8()) % 48);
        }
        if fields & 64 != 0 {
            p.count = Some(u64::from(inp.u8()));
        }
        if fields & 128 != 0 {
            p.flags = Some(u64::from(inp.u8() % 8));
            p.mask = Some(u64::from(inp.u8() % 8));
        }
        if fields & 256 != 0 {
            // Valid names, parameterised ones, and ones NFD refuses (404 and 409).
            const STRATEGIES: [&str; 9] = [
                "/localhost/nfd/strategy/best-route",
                "/localhost/nfd/strategy/multicast/v=5",
                "/localhost/nfd/strategy/load-balance",
                "/localhost/nfd/strategy/bogus",
                "/localhost/nfd/strategy/access",
                "/localhost/nfd/strategy/random",
                "/localhost/nfd/strategy/best-route/v=5/retx-suppression-initial~50",
                "/localhost/nfd/strategy/multicast/v=4",
                "/localhost/nfd/strategy/self-learning",
            ];
            p.strategy = Some(name(STRATEGIES[usize::from(inp.u8()) % STRATEGIES.len()]));
        }
        if fields & 512 != 0 {
            p.expiration_period_ms = Some(u64::from(inp.u16()) * 10);
        }
        if fields & 1024 != 0 {
            p.face_persistency = Some(u64::from(inp.u8() % 4));
        }
        if fields & 2048 != 0 {
            p.mtu = Some(u64::from(inp.u16()));
        }
        let v02 = fields & 0x8000 != 0;
        let sig = match inp.u8() % 8 {
            0 | 1 | 2 => Sig::Digest,
            3 => Sig::DigestCorrupted,
            4 => Sig::Trusted,
            5 => Sig::TrustedCorrupted,
            6 => Sig::Forged,
            _ => Sig::Stranger,
        };
        let ts = self.timestamp(inp.u8());
        let requested = p.name.clone();
        let open = (module, verb) == ("channels", "open");
        let pending_before = self.pending_channels.len();
        self.command(face, module, verb, p, v02, sig, ts);
        if open
            && self.pending_channels.len() > pending_before
            && let Some(prefix) = requested
        {
            self.note_channel_request(face, &prefix);
        }
    }

    /// A dataset request (any local face but a restricted one may read them).
    fn dataset_op(&mut self, inp: &mut Input<'_>) {
        const DATASETS: [&str; 9] = [
            "/localhost/nfd/status/general",
            "/localhost/nfd/status/counters",
            "/localhost/nfd/faces/list",
            "/localhost/nfd/faces/channels",
            "/localhost/nfd/fib/list",
            "/localhost/nfd/rib/list",
            "/localhost/nfd/cs/info",
            "/localhost/nfd/strategy-choice/list",
            "/localhost/nfd/status/bogus",
        ];
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let i = usize::from(inp.u8()) % DATASETS.len();
        let kind = self.faces[&face];
        let expect = match kind {
            k if !k.local() => Expect::Dropped,
            Kind::Channel(_) if i < DATASETS.len() - 1 => Expect::Refused,
            _ => Expect::Allowed,
        };
        let wire = InterestBuilder::new(name(DATASETS[i]))
            .can_be_prefix(true)
            .must_be_fresh(true)
            .lifetime_ms(1000)
            .encode();
        let before = refusals(&self.fwd);
        let emitted = self.deliver(face, &wire);
        let refused = refusals(&self.fwd) - before;
        let what = format!("dataset {} from {kind:?} face {face}", DATASETS[i]);
        assert_eq!(refused, u64::from(expect == Expect::Refused), "{what}");
        self.check_unprivileged(&emitted, &what);
    }

    /// An Interest for a local service, `/localhost/nfwd/<service>/...`, signed or not.
    fn service_op(&mut self, inp: &mut Input<'_>) {
        const SERVICES: [&str; 5] = ["sf", "sf-exec", "faces", "x", "rib"];
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let service = SERVICES[usize::from(inp.u8()) % SERVICES.len()];
        let mut n = name("/localhost/nfwd").append_generic(service.as_bytes());
        for _ in 0..inp.u8() % 3 {
            n = n.append(&Self::component(inp));
        }
        let sig = match inp.u8() % 8 {
            0 | 1 => Sig::Unsigned,
            2 => Sig::Digest,
            3 => Sig::DigestCorrupted,
            4 => Sig::Trusted,
            5 => Sig::TrustedCorrupted,
            6 => Sig::Forged,
            _ => Sig::Stranger,
        };
        let ts = self.timestamp(inp.u8());
        let nonce = inp.array4();
        let b = InterestBuilder::new(n).nonce(nonce).lifetime_ms(2000);
        let interest = if sig == Sig::Unsigned {
            b.build().ok()
        } else {
            let signer = Self::signer(sig);
            let mut info = signer.signature_info();
            info.time = Some(ts);
            info.nonce = Some(Bytes::copy_from_slice(&nonce));
            b.sign(signer, info).ok().and_then(|i| {
                if !matches!(sig, Sig::DigestCorrupted | Sig::TrustedCorrupted) {
                    return Some(i);
                }
                let mut b = i.to_builder();
                if let Some((_, value)) = &mut b.signature {
                    let mut v = value.to_vec();
                    *v.last_mut()? ^= 0x55;
                    *value = Bytes::from(v);
                }
                b.build().ok()
            })
        };
        let Some(interest) = interest else {
            return;
        };
        let kind = self.faces[&face];
        let ts = (sig != Sig::Unsigned).then_some(ts);
        let expect = match kind {
            Kind::Channel(_) => Expect::Dropped, // /localhost beyond management: scope
            k if !k.local() => Expect::Dropped,
            _ => match self.check_signature(sig, ts) {
                Some(who) if Self::grants(kind, who, service) => {
                    self.commit(who, ts);
                    Expect::Allowed
                }
                _ => Expect::Refused,
            },
        };
        let before = refusals(&self.fwd);
        let emitted = self.deliver(face, interest.wire());
        let refused = refusals(&self.fwd) - before;
        let what = format!(
            "service {} from {kind:?} face {face} ({sig:?}): {expect:?}",
            interest.name()
        );
        assert_eq!(refused, u64::from(expect == Expect::Refused), "{what}");
        if expect == Expect::Refused {
            let reply = Self::reply(&emitted, face, interest.name());
            assert_eq!(reply.map(|r| r.status_code), Some(403), "{what}");
            let forwarded = emitted.packets.iter().any(|(f, lp)| {
                *f != face
                    && lp.nack.is_none()
                    && lp
                        .fragment
                        .clone()
                        .and_then(|w| Interest::decode(w).ok())
                        .is_some_and(|i| i.name() == interest.name())
            });
            assert!(!forwarded, "{what}: forwarded anyway");
        }
        self.check_unprivileged(&emitted, &what);
    }

    fn raw_op(&mut self, inp: &mut Input<'_>) {
        let Some(face) = self.pick_face(inp.u8()) else {
            return;
        };
        let len = usize::from(inp.u8());
        let frame = Bytes::from(inp.bytes(len));
        let mut out = std::mem::take(&mut self.out);
        let justified = self.downstreams_of(face);
        self.fwd.receive(self.now, face, &frame, &mut out);
        let emitted = self.execute(&mut out);
        self.out = out;
        for (to, lp) in &emitted.packets {
            let is_data =
                lp.nack.is_none() && lp.fragment.as_ref().and_then(|f| f.first()) == Some(&0x06);
            if is_data && *to != face {
                assert!(justified.contains(to), "raw Data from {face} sent to {to}");
            }
        }
        self.check_unprivileged(&emitted, "raw frame");
    }

    fn add_face_op(&mut self, inp: &mut Input<'_>) {
        let kind = match inp.u8() % 7 {
            0 => Kind::Root,
            1 => Kind::Group,
            2 => Kind::User,
            3 => Kind::Anon,
            4 => Kind::Udp,
            5 => Kind::Tcp,
            _ => {
                let open: Vec<ChannelId> = self
                    .channels
                    .iter()
                    .filter(|(_, c)| c.open)
                    .map(|(id, _)| *id)
                    .collect();
                match open.get(usize::from(inp.u8()) % open.len().max(1)) {
                    Some(c) => Kind::Channel(*c),
                    None => return,
                }
            }
        };
        self.add_face(kind);
    }

    fn advance_op(&mut self, inp: &mut Input<'_>) {
        let ms = match inp.u8() {
            0..=127 => u64::from(inp.u8()) * 10,
            128..=250 => u64::from(inp.u16()),
            _ => 61_000,
        };
        self.now += Duration::from_millis(ms);
        let mut out = std::mem::take(&mut self.out);
        self.fwd.on_timeout(self.now, &mut out);
        let emitted = self.execute(&mut out);
        self.out = out;
        self.check_unprivileged(&emitted, "timers");
    }

    /// One operation; the opcode's low bits choose it.
    fn step(&mut self, inp: &mut Input<'_>) {
        let op = inp.u8() % 13;
        trace!(
            "op {op} at +{} ms, faces {:?}",
            self.now.duration_since(self.start).as_millis(),
            self.faces
        );
        match op {
            0 => self.raw_op(inp),
            1 | 2 => self.interest_op(inp),
            3 => self.data_op(inp),
            4 | 5 => self.respond_op(inp),
            6 => self.command_op(inp),
            7 => self.service_op(inp),
            8 => self.dataset_op(inp),
            9 => self.add_face_op(inp),
            10 => {
                if let Some(f) = self.pick_face(inp.u8()) {
                    self.close_face(f);
                }
            }
            11 => self.advance_op(inp),
            _ => {
                let sel = inp.u8();
                let ok = inp.u8() & 1 == 0;
                if sel & 1 == 0 {
                    self.report_create(sel >> 1, ok);
                } else {
                    self.report_channel(sel >> 1, ok);
                }
            }
        }
        self.check_tables();
    }
}

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new();
    session.check_tables();
    let mut inp = Input { data };
    // Bounded work per input, whatever its length.
    for _ in 0..256 {
        if inp.is_empty() {
            break;
        }
        session.step(&mut inp);
    }
});

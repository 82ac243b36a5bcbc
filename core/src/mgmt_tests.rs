//! Deterministic tests of NFD management in the core: command Interests in both signed formats
//! in, ControlResponses and dataset segments out.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason, PitToken};
use nfwd_tlv::nfd::{
    self, ChannelStatus, ControlParameters, ControlResponse, CsInfo, FaceQueryFilter, FaceStatus,
    ForwarderStatus, RibEntry, StrategyChoice, decode_all, make_command_v02, make_command_v03,
    status_code,
};
use nfwd_tlv::{Data, DataBuilder, Interest, InterestBuilder, Name, Signer};

use super::tests::sent_to;
use super::*;
use crate::config::Config;

struct Net {
    fwd: Forwarder,
    now: Instant,
    out: Vec<Action>,
    nonce: u64,
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// A face as the driver describes it: on-demand, and root's where local.
pub(super) fn info(uri: &str, scope: FaceScope) -> FaceInfo {
    FaceInfo {
        remote_uri: uri.into(),
        local_uri: "unix:///run/nfd/nfd.sock".into(),
        scope,
        persistency: Persistency::OnDemand,
        link_type: LinkType::PointToPoint,
        mtu: None,
        // Management tests speak as root over the Unix socket unless they say otherwise.
        peer: (scope == FaceScope::Local).then(|| PeerCredentials {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            pid: None,
        }),
        channel: None,
    }
}

/// Wall-clock time the tests start at (ms since the Unix epoch).
const WALL_START: u64 = 1_700_000_000_000;

impl Net {
    fn new() -> Self {
        Self::with_config(&Config::default())
    }

    fn with_config(config: &Config) -> Self {
        let now = Instant::now();
        let mut fwd = Forwarder::new(config, now);
        fwd.set_wall_clock(WALL_START);
        Self {
            fwd,
            now,
            out: Vec::new(),
            nonce: 1,
        }
    }

    fn face(&mut self, uri: &str, scope: FaceScope) -> FaceId {
        self.fwd.add_face(info(uri, scope), self.now)
    }

    fn recv(&mut self, face: FaceId, frame: impl AsRef<[u8]>) -> Vec<Action> {
        self.fwd
            .receive(self.now, face, frame.as_ref(), &mut self.out);
        std::mem::take(&mut self.out)
    }

    fn advance(&mut self, ms: u64) -> Vec<Action> {
        self.now += Duration::from_millis(ms);
        self.fwd.on_timeout(self.now, &mut self.out);
        std::mem::take(&mut self.out)
    }

    fn command_v03(&mut self, module: &str, verb: &str, cp: &ControlParameters) -> Interest {
        self.nonce += 1;
        make_command_v03(
            module,
            verb,
            cp,
            &Signer::digest_sha256(),
            self.nonce,
            WALL_START + self.nonce,
        )
        .unwrap()
    }

    fn command_v02(&mut self, module: &str, verb: &str, cp: &ControlParameters) -> Interest {
        self.nonce += 1;
        make_command_v02(
            module,
            verb,
            cp,
            &Signer::digest_sha256(),
            self.nonce,
            WALL_START + self.nonce,
        )
        .unwrap()
    }

    /// Sends a v0.3 command from `face`; returns the reply and the other actions.
    fn command(
        &mut self,
        face: FaceId,
        module: &str,
        verb: &str,
        cp: &ControlParameters,
    ) -> (ControlResponse, Vec<Action>) {
        let interest = self.command_v03(module, verb, cp);
        let acts = self.recv(face, interest.wire().clone());
        (reply_to(&acts, face, interest.name()), acts)
    }

    fn register(&mut self, face: FaceId, prefix: &str) -> ControlResponse {
        let cp = ControlParameters::with_name(name(prefix));
        self.command(face, "rib", "register", &cp).0
    }

    /// Fetches a whole dataset as a consumer does: the dataset name with CanBePrefix and
    /// MustBeFresh, then every further segment of the version that came back. Returns the
    /// concatenated payload and the segments.
    fn fetch(&mut self, face: FaceId, dataset: &Name) -> (Bytes, Vec<Data>) {
        let first = InterestBuilder::new(dataset.clone())
            .can_be_prefix(true)
            .must_be_fresh(true)
            .lifetime_ms(1000)
            .encode();
        let acts = self.recv(face, first);
        let seg0 = only_data(&acts, face);
        assert_eq!(seg0.name().len(), dataset.len() + 2);
        assert!(dataset.is_prefix_of(seg0.name()));
        let versioned = seg0.name().prefix(dataset.len() + 1);
        assert!(versioned.last().unwrap().as_version().is_some());
        assert_eq!(seg0.name().last().unwrap().as_segment(), Some(0));
        let mut segments = vec![seg0];
        while segments.last().unwrap().final_block_id().is_none() {
            let n = segments.len() as u64;
            let wire = InterestBuilder::new(versioned.append_segment(n))
                .lifetime_ms(1000)
                .encode();
            let acts = self.recv(face, wire);
            let seg = only_data(&acts, face);
            assert_eq!(seg.name(), &versioned.append_segment(n));
            segments.push(seg);
            assert!(segments.len() < 1000, "no FinalBlockId");
        }
        let last = segments.last().unwrap();
        assert_eq!(
            last.final_block_id().unwrap().as_segment(),
            Some(segments.len() as u64 - 1)
        );
        let mut payload = Vec::new();
        for s in &segments {
            assert_eq!(s.freshness_period_ms(), 1000);
            payload.extend_from_slice(s.content());
        }
        (Bytes::from(payload), segments)
    }
}

fn only_lp(actions: &[Action], face: FaceId) -> LpPacket {
    let sent = sent_to(actions, face);
    assert_eq!(sent.len(), 1, "one packet to {face} expected: {actions:?}");
    sent.into_iter().next().unwrap()
}

fn only_data(actions: &[Action], face: FaceId) -> Data {
    let lp = only_lp(actions, face);
    assert!(lp.nack.is_none());
    Data::decode(lp.fragment.unwrap()).unwrap()
}

/// The ControlResponse sent to `face` in reply to the command named `command`, checked the way
/// python-ndn checks it.
fn reply_to(actions: &[Action], face: FaceId, command: &Name) -> ControlResponse {
    let data = only_data(actions, face);
    assert_eq!(data.name(), command, "the reply is named like the command");
    assert_eq!(
        data.content().first(),
        Some(&0x65),
        "Content is a ControlResponse"
    );
    let sig = data.signature_info().unwrap().unwrap();
    assert_eq!(
        sig.signature_type,
        nfwd_tlv::types::signature_type::DIGEST_SHA256
    );
    ControlResponse::from_wire(data.content()).unwrap()
}

fn interest(n: &str) -> Bytes {
    InterestBuilder::new(name(n)).lifetime_ms(1000).encode()
}

fn data(n: &str) -> Bytes {
    DataBuilder::new(name(n), b"x".to_vec())
        .freshness_ms(10_000)
        .sign(&Signer::digest_sha256())
        .unwrap()
}

fn forwarded_interest(actions: &[Action], face: FaceId) -> Interest {
    let lp = only_lp(actions, face);
    assert!(lp.nack.is_none(), "{actions:?}");
    Interest::decode(lp.fragment.unwrap()).unwrap()
}

fn only_nack(actions: &[Action], face: FaceId) -> NackReason {
    only_lp(actions, face).nack.expect("a Nack")
}

#[test]
fn register_in_both_formats_then_interests_reach_the_producers() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let p1 = net.face("unix://p1", FaceScope::Local);
    let p2 = net.face("unix://p2", FaceScope::Local);

    let cp = ControlParameters::with_name(name("/a"));
    let v03 = net.command_v03("rib", "register", &cp);
    let acts = net.recv(p1, v03.wire().clone());
    let r = reply_to(&acts, p1, v03.name());
    assert_eq!(r.status_code, status_code::OK);
    let body = r.body.unwrap();
    assert_eq!(body.name, Some(name("/a")));
    assert_eq!(body.face_id, Some(p1.0));
    assert_eq!(body.origin, Some(nfd::route_origin::APP));
    assert_eq!(body.cost, Some(0));
    assert_eq!(body.flags, Some(nfd::route_flags::CHILD_INHERIT));
    assert_eq!(body.expiration_period_ms, None);

    let cp = ControlParameters::with_name(name("/b"));
    let v02 = net.command_v02("rib", "register", &cp);
    let acts = net.recv(p2, v02.wire().clone());
    let r = reply_to(&acts, p2, v02.name());
    assert!(r.is_ok());
    assert_eq!(r.body.unwrap().face_id, Some(p2.0));

    let acts = net.recv(consumer, interest("/a/x"));
    assert_eq!(forwarded_interest(&acts, p1).name(), &name("/a/x"));
    let acts = net.recv(consumer, interest("/b/y"));
    assert_eq!(forwarded_interest(&acts, p2).name(), &name("/b/y"));
    assert_eq!(net.fwd.mgmt_requests(), 2);
    assert_eq!(net.fwd.mgmt_replies_with_status(200), 2);
}

#[test]
fn register_with_face_id_zero_explicit_face_and_unknown_face() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let other = net.face("udp4://10.0.0.9:6363", FaceScope::NonLocal);
    let cp = ControlParameters {
        face_id: Some(0),
        cost: Some(7),
        origin: Some(nfd::route_origin::CLIENT),
        expiration_period_ms: Some(5000),
        ..ControlParameters::with_name(name("/zero"))
    };
    let (r, _) = net.command(app, "rib", "register", &cp);
    let body = r.body.unwrap();
    assert_eq!(body.face_id, Some(app.0));
    assert_eq!(body.cost, Some(7));
    assert_eq!(body.origin, Some(nfd::route_origin::CLIENT));
    assert_eq!(body.expiration_period_ms, Some(5000));
    let entry = net.fwd.fib().get(&name("/zero")).unwrap();
    assert_eq!(entry.next_hops[0].face, app);
    assert_eq!(entry.next_hops[0].cost, 7);

    // A route towards another face, registered by the local app.
    let cp = ControlParameters {
        face_id: Some(other.0),
        ..ControlParameters::with_name(name("/remote"))
    };
    let (r, _) = net.command(app, "rib", "register", &cp);
    assert_eq!(r.body.unwrap().face_id, Some(other.0));
    assert_eq!(
        net.fwd.fib().get(&name("/remote")).unwrap().next_hops[0].face,
        other
    );

    let cp = ControlParameters {
        face_id: Some(99_999),
        ..ControlParameters::with_name(name("/nowhere"))
    };
    let (r, _) = net.command(app, "rib", "register", &cp);
    assert_eq!(r.status_code, 410);
    assert!(net.fwd.fib().get(&name("/nowhere")).is_none());

    // ExpirationPeriod: the route goes once it has passed.
    net.advance(6000);
    assert!(net.fwd.fib().get(&name("/zero")).is_none());
    assert!(net.fwd.fib().get(&name("/remote")).is_some());
}

#[test]
fn unregister_removes_the_route() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let app = net.face("unix://app", FaceScope::Local);
    assert!(net.register(app, "/u").is_ok());
    let cp = ControlParameters::with_name(name("/u"));
    let (r, _) = net.command(app, "rib", "unregister", &cp);
    assert!(r.is_ok());
    let body = r.body.unwrap();
    assert_eq!(body.face_id, Some(app.0));
    assert_eq!(body.origin, Some(0));
    assert!(net.fwd.rib().is_empty());
    assert!(net.fwd.fib().is_empty());
    let acts = net.recv(consumer, interest("/u/1"));
    assert_eq!(only_nack(&acts, consumer), NackReason::NoRoute);
    // Unregistering again is a successful no-op, as in NFD.
    let (r, _) = net.command(app, "rib", "unregister", &cp);
    assert!(r.is_ok());
}

#[test]
fn a_closed_face_loses_its_routes_and_a_restarted_producer_is_reachable() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let first = net.face("unix://p", FaceScope::Local);
    assert!(net.register(first, "/svc").is_ok());
    net.fwd.face_closed(first, net.now, &mut net.out);
    assert!(net.fwd.rib().is_empty());
    let acts = net.recv(consumer, interest("/svc/1"));
    assert_eq!(only_nack(&acts, consumer), NackReason::NoRoute);

    let second = net.face("unix://p", FaceScope::Local);
    assert!(net.register(second, "/svc").is_ok());
    let acts = net.recv(consumer, interest("/svc/2"));
    forwarded_interest(&acts, second);
}

#[test]
fn non_local_faces_cannot_manage() {
    let mut net = Net::new();
    let remote = net.face("udp4://10.0.0.5:6363", FaceScope::NonLocal);
    let cp = ControlParameters::with_name(name("/evil"));
    let cmd = net.command_v03("rib", "register", &cp);
    let acts = net.recv(remote, cmd.wire().clone());
    assert!(acts.is_empty(), "dropped silently: {acts:?}");
    assert!(net.fwd.rib().is_empty());
    assert_eq!(net.fwd.mgmt_requests(), 0);
    let scope_drops = net
        .fwd
        .faces()
        .find(|(id, _)| *id == remote)
        .unwrap()
        .1
        .counters
        .drop_scope;
    assert_eq!(scope_drops, 1);
    // Nor can they read datasets.
    let acts = net.recv(remote, interest("/localhost/nfd/faces/list"));
    assert!(acts.is_empty());
}

#[test]
fn the_reply_echoes_the_pit_token() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let cp = ControlParameters::with_name(name("/t"));
    let cmd = net.command_v03("rib", "register", &cp);
    let frame = LpPacket::from_fragment(cmd.wire().clone())
        .with_pit_token(PitToken::from_u64(0xfeed))
        .encode();
    let acts = net.recv(app, frame);
    let lp = only_lp(&acts, app);
    assert_eq!(lp.pit_token.unwrap().as_u64(), Some(0xfeed));
    let data = Data::decode(lp.fragment.unwrap()).unwrap();
    assert!(ControlResponse::from_wire(data.content()).unwrap().is_ok());
}

#[test]
fn faces_create_asks_the_driver_and_replies_when_it_reports() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let cp = ControlParameters {
        uri: Some("udp4://10.0.0.7:6363".into()),
        face_persistency: Some(nfd::face_persistency::PERMANENT),
        mtu: Some(1400),
        ..ControlParameters::default()
    };
    let cmd = net.command_v03("faces", "create", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    assert!(
        sent_to(&acts, app).is_empty(),
        "no reply before the driver reports"
    );
    let [
        Action::CreateFace {
            request,
            remote_uri,
            persistency,
            mtu,
        },
    ] = acts.as_slice()
    else {
        panic!("one CreateFace expected: {acts:?}");
    };
    assert_eq!(remote_uri, "udp4://10.0.0.7:6363");
    assert_eq!(*persistency, Persistency::Permanent);
    assert_eq!(*mtu, Some(1400));

    let created = FaceInfo {
        remote_uri: "udp4://10.0.0.7:6363".into(),
        local_uri: "udp4://10.0.0.1:6363".into(),
        scope: FaceScope::NonLocal,
        persistency: Persistency::Permanent,
        link_type: LinkType::PointToPoint,
        mtu: Some(1400),
        peer: None,
        channel: None,
    };
    let id = net
        .fwd
        .face_created(net.now, *request, Ok(created), &mut net.out)
        .unwrap();
    let acts = std::mem::take(&mut net.out);
    let r = reply_to(&acts, app, cmd.name());
    assert_eq!(r.status_code, 200);
    let body = r.body.unwrap();
    assert_eq!(body.face_id, Some(id.0));
    assert_eq!(body.uri.unwrap(), "udp4://10.0.0.7:6363");
    assert_eq!(body.local_uri.unwrap(), "udp4://10.0.0.1:6363");
    assert_eq!(
        body.face_persistency,
        Some(nfd::face_persistency::PERMANENT)
    );
    // Congestion marking is on by default (NFD's default too), with NFD's settings.
    assert_eq!(
        body.flags,
        Some(nfd::face_flags::CONGESTION_MARKING_ENABLED)
    );
    assert_eq!(body.base_congestion_marking_interval_ns, Some(100_000_000));
    assert_eq!(body.default_congestion_threshold, Some(65_536));
    assert_eq!(body.mtu, Some(1400));

    // The same URI again: 409 at once, describing the existing face, nothing asked of the
    // driver.
    let (r, acts) = net.command(app, "faces", "create", &cp);
    assert_eq!(r.status_code, status_code::CONFLICT);
    assert_eq!(r.body.unwrap().face_id, Some(id.0));
    assert!(!acts.iter().any(|a| matches!(a, Action::CreateFace { .. })));
}

/// A peer that connected first (an on-demand face from its listening address): faces/create
/// towards it answers NFD's 409 with that face, upgraded to the persistency asked for (as
/// NFD's channels do), and tells the driver; asking again changes nothing. The driver's
/// canonical-URI match (`face_exists`) answers the same way.
#[test]
fn faces_create_towards_a_peer_that_connected_first_answers_its_face_upgraded() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let peer = net.face("quic://10.0.0.9:6367", FaceScope::NonLocal);
    let cp = ControlParameters {
        uri: Some("quic://10.0.0.9:6367".into()),
        face_persistency: Some(nfd::face_persistency::PERSISTENT),
        ..ControlParameters::default()
    };
    let (r, acts) = net.command(app, "faces", "create", &cp);
    assert_eq!(r.status_code, status_code::CONFLICT);
    let body = r.body.unwrap();
    assert_eq!(body.face_id, Some(peer.0));
    assert_eq!(body.uri.unwrap(), "quic://10.0.0.9:6367");
    assert_eq!(
        body.face_persistency,
        Some(nfd::face_persistency::PERSISTENT)
    );
    assert!(acts.contains(&Action::SetPersistency {
        face: peer,
        persistency: Persistency::Persistent,
    }));
    assert!(!acts.iter().any(|a| matches!(a, Action::CreateFace { .. })));
    // Again: the same answer, nothing to change.
    let (r, acts) = net.command(app, "faces", "create", &cp);
    assert_eq!(r.status_code, status_code::CONFLICT);
    assert_eq!(r.body.unwrap().face_id, Some(peer.0));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::SetPersistency { .. }))
    );
    // Persistent to permanent is allowed (NFD's rule); permanent never goes back down.
    let permanent = ControlParameters {
        face_persistency: Some(nfd::face_persistency::PERMANENT),
        ..cp.clone()
    };
    let (r, _) = net.command(app, "faces", "create", &permanent);
    assert_eq!(
        r.body.unwrap().face_persistency,
        Some(nfd::face_persistency::PERMANENT)
    );
    let (r, acts) = net.command(app, "faces", "create", &cp);
    assert_eq!(
        r.body.unwrap().face_persistency,
        Some(nfd::face_persistency::PERMANENT)
    );
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::SetPersistency { .. }))
    );

    // A URI the core does not recognise goes to the driver, which finds the face by its
    // canonical form.
    let other = net.face("udp4://10.0.0.8:6363", FaceScope::NonLocal);
    let cp = ControlParameters {
        uri: Some("udp://10.0.0.8:6363".into()),
        ..ControlParameters::default()
    };
    let cmd = net.command_v03("faces", "create", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    let [Action::CreateFace { request, .. }] = acts.as_slice() else {
        panic!("one CreateFace expected: {acts:?}");
    };
    net.fwd.face_exists(*request, other, &mut net.out);
    let acts = std::mem::take(&mut net.out);
    let r = reply_to(&acts, app, cmd.name());
    assert_eq!(r.status_code, status_code::CONFLICT);
    let body = r.body.unwrap();
    assert_eq!(body.face_id, Some(other.0));
    assert_eq!(
        body.face_persistency,
        Some(nfd::face_persistency::PERSISTENT)
    );
    assert!(acts.contains(&Action::SetPersistency {
        face: other,
        persistency: Persistency::Persistent,
    }));
}

#[test]
fn faces_create_failures_and_refusals() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let cp = ControlParameters {
        uri: Some("tcp4://10.0.0.8:6363".into()),
        ..ControlParameters::default()
    };
    let cmd = net.command_v03("faces", "create", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    let Some(Action::CreateFace { request, .. }) = acts.first() else {
        panic!("{acts:?}");
    };
    let got = net.fwd.face_created(
        net.now,
        *request,
        Err("connection refused".into()),
        &mut net.out,
    );
    assert!(got.is_none());
    let acts = std::mem::take(&mut net.out);
    let r = reply_to(&acts, app, cmd.name());
    assert_eq!(r.status_code, status_code::INTERNAL_ERROR);
    assert_eq!(r.status_text, "connection refused");

    let cmd = net.command_v03("faces", "create", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    let Some(Action::CreateFace { request, .. }) = acts.first() else {
        panic!("{acts:?}");
    };
    let err = Err("unsupported scheme".into());
    net.fwd.face_created(net.now, *request, err, &mut net.out);
    let acts = std::mem::take(&mut net.out);
    assert_eq!(reply_to(&acts, app, cmd.name()).status_code, 406);

    // Missing Uri, on-demand persistency, unknown persistency.
    let (r, _) = net.command(app, "faces", "create", &ControlParameters::default());
    assert_eq!(r.status_code, 400);
    let od = ControlParameters {
        face_persistency: Some(nfd::face_persistency::ON_DEMAND),
        ..cp.clone()
    };
    assert_eq!(net.command(app, "faces", "create", &od).0.status_code, 406);
    let bad = ControlParameters {
        face_persistency: Some(9),
        ..cp.clone()
    };
    assert_eq!(net.command(app, "faces", "create", &bad).0.status_code, 400);

    // A report nobody waits for still adopts the face (the driver opened it).
    let id = net.fwd.face_created(
        net.now,
        12_345,
        Ok(info("tcp4://10.0.0.9:1", FaceScope::NonLocal)),
        &mut net.out,
    );
    assert!(id.is_some());
    assert!(net.out.is_empty());
}

#[test]
fn too_many_pending_creates_are_refused() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let mut refused = 0;
    for i in 0..70 {
        let cp = ControlParameters {
            uri: Some(format!("udp4://10.1.0.{i}:6363").into()),
            ..ControlParameters::default()
        };
        let cmd = net.command_v03("faces", "create", &cp);
        let acts = net.recv(app, cmd.wire().clone());
        if !sent_to(&acts, app).is_empty() {
            assert_eq!(reply_to(&acts, app, cmd.name()).status_code, 503);
            refused += 1;
        }
    }
    assert_eq!(refused, 6);
    // Forgotten after a while: creations are accepted again.
    net.advance(31_000);
    let cp = ControlParameters {
        uri: Some("udp4://10.2.0.1:6363".into()),
        ..ControlParameters::default()
    };
    let cmd = net.command_v03("faces", "create", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    assert!(matches!(acts.as_slice(), [Action::CreateFace { .. }]));
}

#[test]
fn faces_destroy_replies_then_closes() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let victim = net.face("udp4://10.0.0.3:6363", FaceScope::NonLocal);
    let cp = ControlParameters {
        face_id: Some(victim.0),
        ..ControlParameters::default()
    };
    let (r, acts) = net.command(app, "faces", "destroy", &cp);
    assert!(r.is_ok());
    assert_eq!(r.body.unwrap().face_id, Some(victim.0));
    assert!(matches!(acts.last(), Some(Action::CloseFace { face }) if *face == victim));

    // The requester's own face: the reply goes out before the close.
    let cp = ControlParameters {
        face_id: Some(app.0),
        ..ControlParameters::default()
    };
    let cmd = net.command_v03("faces", "destroy", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    assert!(
        matches!(acts.as_slice(), [Action::Send { .. }, Action::CloseFace { face }] if *face == app)
    );

    // A face that does not exist: 200 and nothing to close.
    let cp = ControlParameters {
        face_id: Some(77_777),
        ..ControlParameters::default()
    };
    let (r, acts) = net.command(app, "faces", "destroy", &cp);
    assert!(r.is_ok());
    assert!(!acts.iter().any(|a| matches!(a, Action::CloseFace { .. })));
}

#[test]
fn local_fields_add_incoming_face_id() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let producer = net.face("unix://p", FaceScope::Local);
    let remote = net.face("udp4://10.0.0.4:6363", FaceScope::NonLocal);
    let enable = ControlParameters {
        flags: Some(nfd::face_flags::LOCAL_FIELDS_ENABLED),
        mask: Some(nfd::face_flags::LOCAL_FIELDS_ENABLED),
        ..ControlParameters::default()
    };
    for f in [consumer, producer] {
        let (r, _) = net.command(f, "faces", "update", &enable);
        assert!(r.is_ok());
        let body = r.body.unwrap();
        assert_eq!(body.face_id, Some(f.0));
        assert_eq!(
            body.flags,
            Some(
                nfd::face_flags::LOCAL_FIELDS_ENABLED | nfd::face_flags::CONGESTION_MARKING_ENABLED
            )
        );
    }
    assert!(net.register(producer, "/lf").is_ok());
    let acts = net.recv(consumer, interest("/lf/1"));
    let lp = only_lp(&acts, producer);
    assert_eq!(lp.incoming_face_id, Some(consumer.0));
    let reply = LpPacket::from_fragment(data("/lf/1"))
        .echo_pit_token(&lp)
        .encode();
    let acts = net.recv(producer, reply);
    assert_eq!(only_lp(&acts, consumer).incoming_face_id, Some(producer.0));
    // From the cache: the content store's face id.
    let acts = net.recv(consumer, interest("/lf/1"));
    assert_eq!(
        only_lp(&acts, consumer).incoming_face_id,
        Some(FaceId::CONTENT_STORE.0)
    );

    // Not on a non-local face (named explicitly), and Flags without Mask is malformed.
    let cp = ControlParameters {
        face_id: Some(remote.0),
        ..enable.clone()
    };
    assert_eq!(
        net.command(consumer, "faces", "update", &cp).0.status_code,
        status_code::CONFLICT
    );
    let cp = ControlParameters {
        flags: Some(1),
        ..ControlParameters::default()
    };
    assert_eq!(
        net.command(consumer, "faces", "update", &cp).0.status_code,
        400
    );
    // Unknown face: 404. Persistency change takes effect.
    let cp = ControlParameters {
        face_id: Some(55_555),
        ..ControlParameters::default()
    };
    assert_eq!(
        net.command(consumer, "faces", "update", &cp).0.status_code,
        404
    );
    let cp = ControlParameters {
        face_persistency: Some(nfd::face_persistency::PERSISTENT),
        ..ControlParameters::default()
    };
    let (r, _) = net.command(consumer, "faces", "update", &cp);
    assert_eq!(r.body.unwrap().face_persistency, Some(0));
    let state = net.fwd.faces().find(|(id, _)| *id == consumer).unwrap().1;
    assert_eq!(state.info.persistency, Persistency::Persistent);
    // Disabling: no more IncomingFaceId.
    let disable = ControlParameters {
        flags: Some(0),
        ..enable
    };
    assert!(net.command(producer, "faces", "update", &disable).0.is_ok());
    let acts = net.recv(consumer, interest("/lf/2"));
    assert_eq!(only_lp(&acts, producer).incoming_face_id, None);
}

#[test]
fn fib_next_hops_directly() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let cp = ControlParameters {
        cost: Some(3),
        ..ControlParameters::with_name(name("/f"))
    };
    let (r, _) = net.command(app, "fib", "add-nexthop", &cp);
    let body = r.body.unwrap();
    assert_eq!((body.face_id, body.cost), (Some(app.0), Some(3)));
    assert_eq!(net.fwd.fib().get(&name("/f")).unwrap().next_hops[0].cost, 3);
    assert!(net.fwd.rib().is_empty(), "the FIB is changed directly");
    let cp = ControlParameters {
        face_id: Some(424_242),
        ..ControlParameters::with_name(name("/f"))
    };
    assert_eq!(
        net.command(app, "fib", "add-nexthop", &cp).0.status_code,
        410
    );
    let cp = ControlParameters::with_name(name("/f"));
    assert!(net.command(app, "fib", "remove-nexthop", &cp).0.is_ok());
    assert!(net.fwd.fib().is_empty());
}

#[test]
fn strategy_choice_set_unset_list() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    let cp = ControlParameters {
        strategy: Some(name("/localhost/nfd/strategy/multicast")),
        ..ControlParameters::with_name(name("/m"))
    };
    let (r, _) = net.command(app, "strategy-choice", "set", &cp);
    assert!(r.is_ok());
    assert_eq!(
        r.body.unwrap().strategy,
        Some(strategy::versioned_name("multicast"))
    );

    let dataset = name("/localhost/nfd/strategy-choice/list");
    let (payload, _) = net.fetch(app, &dataset);
    let list: Vec<StrategyChoice> = decode_all(&payload).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.contains(&StrategyChoice {
        name: name("/m"),
        strategy: strategy::versioned_name("multicast"),
    }));
    assert!(list.contains(&StrategyChoice {
        name: Name::new(),
        strategy: strategy::versioned_name("best-route"),
    }));

    // Refusals with NFD's codes and texts; the choice stays as it was.
    for (strategy, code, text) in [
        (
            "/localhost/nfd/strategy/no-such",
            404,
            "Strategy not registered",
        ),
        (
            "/localhost/nfd/strategy/multicast/v=4",
            409,
            "Error instantiating strategy: MulticastStrategy does not support version 4",
        ),
        (
            "/localhost/nfd/strategy/best-route/v=5/retx-suppression-multiplier~0",
            409,
            "Error instantiating strategy: Retx suppression multiplier must be >= 1",
        ),
    ] {
        let cp = ControlParameters {
            strategy: Some(name(strategy)),
            ..ControlParameters::with_name(name("/m"))
        };
        let r = net.command(app, "strategy-choice", "set", &cp).0;
        assert_eq!((r.status_code, r.status_text.as_str()), (code, text));
    }
    // A parameterised instance is listed by the name it was asked by.
    let asked = name("/localhost/nfd/strategy/best-route/v=5/retx-suppression-initial~20");
    let cp = ControlParameters {
        strategy: Some(asked.clone()),
        ..ControlParameters::with_name(name("/p"))
    };
    let (r, _) = net.command(app, "strategy-choice", "set", &cp);
    assert_eq!(r.body.unwrap().strategy, Some(asked.clone()));
    let (payload, _) = net.fetch(app, &dataset);
    let list: Vec<StrategyChoice> = decode_all(&payload).unwrap();
    assert!(list.contains(&StrategyChoice {
        name: name("/p"),
        strategy: asked,
    }));
    assert!(list.contains(&StrategyChoice {
        name: name("/m"),
        strategy: strategy::versioned_name("multicast"),
    }));
    let cp = ControlParameters::with_name(name("/p"));
    assert!(net.command(app, "strategy-choice", "unset", &cp).0.is_ok());
    let cp = ControlParameters::with_name(name("/m"));
    assert_eq!(
        net.command(app, "strategy-choice", "set", &cp)
            .0
            .status_code,
        400
    );
    let cp = ControlParameters::with_name(Name::new());
    assert_eq!(
        net.command(app, "strategy-choice", "unset", &cp)
            .0
            .status_code,
        400
    );
    let cp = ControlParameters::with_name(name("/m"));
    assert!(net.command(app, "strategy-choice", "unset", &cp).0.is_ok());
    let (payload, _) = net.fetch(app, &dataset);
    let list: Vec<StrategyChoice> = decode_all(&payload).unwrap();
    assert_eq!(list.len(), 1);
}

/// Sends Interest `n` from `consumer`, answers it from `producer`: the Data passes the CS.
fn round_trip(net: &mut Net, consumer: FaceId, producer: FaceId, n: &str) {
    let acts = net.recv(consumer, interest(n));
    let lp = only_lp(&acts, producer);
    let reply = LpPacket::from_fragment(data(n))
        .echo_pit_token(&lp)
        .encode();
    let acts = net.recv(producer, reply);
    only_data(&acts, consumer);
}

#[test]
fn cs_config_and_erase() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let producer = net.face("unix://p", FaceScope::Local);
    assert!(net.register(producer, "/c").is_ok());
    for i in 0..3 {
        round_trip(&mut net, consumer, producer, &format!("/c/{i}"));
    }
    assert_eq!(net.fwd.cs().len(), 3);
    let cp = ControlParameters {
        count: Some(2),
        ..ControlParameters::with_name(name("/c"))
    };
    let (r, _) = net.command(consumer, "cs", "erase", &cp);
    let body = r.body.unwrap();
    assert_eq!(body.count, Some(2));
    assert_eq!(body.capacity, None);
    assert_eq!(net.fwd.cs().len(), 1);
    let cp = ControlParameters {
        count: Some(0),
        ..ControlParameters::with_name(name("/c"))
    };
    assert_eq!(net.command(consumer, "cs", "erase", &cp).0.status_code, 400);

    let cp = ControlParameters {
        capacity: Some(0),
        ..ControlParameters::default()
    };
    let (r, _) = net.command(consumer, "cs", "config", &cp);
    let body = r.body.unwrap();
    assert_eq!(body.capacity, Some(0));
    assert_eq!(body.flags, Some(3), "admit and serve still on");
    assert!(net.fwd.cs().is_empty());
    round_trip(&mut net, consumer, producer, "/c/new");
    assert!(net.fwd.cs().is_empty(), "capacity 0 caches nothing");

    // Serve off by Flags/Mask; cs/info reports it.
    let cp = ControlParameters {
        capacity: Some(100),
        flags: Some(0),
        mask: Some(nfd::cs_flags::ENABLE_SERVE),
        ..ControlParameters::default()
    };
    let (r, _) = net.command(consumer, "cs", "config", &cp);
    assert_eq!(r.body.unwrap().flags, Some(nfd::cs_flags::ENABLE_ADMIT));
    round_trip(&mut net, consumer, producer, "/c/again");
    assert_eq!(net.fwd.cs().len(), 1);
    let acts = net.recv(consumer, interest("/c/again"));
    only_lp(&acts, producer); // not served from the store
    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/cs/info"));
    let info: Vec<CsInfo> = decode_all(&payload).unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].capacity, 100);
    assert!(info[0].enable_admit() && !info[0].enable_serve());
    assert_eq!(info[0].n_entries, 1);
}

#[test]
fn datasets_reflect_the_state() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let producer = net.face("unix://p", FaceScope::Local);
    let remote = net.face("udp4://10.0.0.6:6363", FaceScope::NonLocal);
    assert!(net.register(producer, "/d").is_ok());
    net.fwd.add_route(&name("/r"), remote, 20);
    round_trip(&mut net, consumer, producer, "/d/1");
    net.advance(1500);

    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/status/general"));
    let status = ForwarderStatus::decode(&payload).unwrap();
    assert_eq!(status.start_timestamp_ms, WALL_START);
    assert_eq!(status.current_timestamp_ms, WALL_START + 1500);
    assert_eq!(status.n_fib_entries, 2);
    assert_eq!(status.n_cs_entries, 1);
    assert_eq!(status.n_satisfied_interests, 1);
    assert!(status.n_in_interests >= 2);
    assert!(!status.nfd_version.is_empty());

    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/faces/list"));
    let faces: Vec<FaceStatus> = decode_all(&payload).unwrap();
    assert_eq!(faces.len(), 3);
    let p = faces.iter().find(|f| f.face_id == producer.0).unwrap();
    assert_eq!(p.uri, "unix://p");
    assert_eq!(p.face_scope, nfd::face_scope::LOCAL);
    assert_eq!(p.face_persistency, nfd::face_persistency::ON_DEMAND);
    assert_eq!((p.n_out_interests, p.n_in_data), (1, 1));
    assert!(p.n_in_bytes > 0 && p.n_out_bytes > 0);
    assert_eq!(p.base_congestion_marking_interval_ns, Some(100_000_000));
    assert_eq!(p.default_congestion_threshold, Some(65_536));
    assert_eq!(p.flags, nfd::face_flags::CONGESTION_MARKING_ENABLED);
    let r = faces.iter().find(|f| f.face_id == remote.0).unwrap();
    assert_eq!(r.face_scope, nfd::face_scope::NON_LOCAL);

    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/faces/channels"));
    assert!(decode_all::<ChannelStatus>(&payload).unwrap().is_empty());
    // The driver reports its listeners; the dataset lists them as it gave them.
    let listeners = [
        "unix:///run/nfd/nfd.sock",
        "tcp4://0.0.0.0:6363",
        "udp4://0.0.0.0:6363",
    ];
    net.fwd
        .set_channels(listeners.iter().map(|s| (*s).to_owned()).collect());
    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/faces/channels"));
    let channels = decode_all::<ChannelStatus>(&payload).unwrap();
    let uris: Vec<&str> = channels.iter().map(|c| c.local_uri.as_str()).collect();
    assert_eq!(uris, listeners);

    let filter = FaceQueryFilter {
        uri_scheme: Some("udp4".into()),
        ..FaceQueryFilter::default()
    };
    let query =
        name("/localhost/nfd/faces/query").append_generic(&nfd::DatasetEntry::to_wire(&filter));
    let (payload, _) = net.fetch(consumer, &query);
    let found: Vec<FaceStatus> = decode_all(&payload).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].face_id, remote.0);
    let filter = FaceQueryFilter {
        face_scope: Some(nfd::face_scope::LOCAL),
        ..FaceQueryFilter::default()
    };
    let query =
        name("/localhost/nfd/faces/query").append_generic(&nfd::DatasetEntry::to_wire(&filter));
    let (payload, _) = net.fetch(consumer, &query);
    assert_eq!(decode_all::<FaceStatus>(&payload).unwrap().len(), 2);
    // A malformed filter is a 400 ControlResponse.
    let bad = name("/localhost/nfd/faces/query").append_generic(b"junk");
    let acts = net.recv(consumer, InterestBuilder::new(bad.clone()).encode());
    assert_eq!(reply_to(&acts, consumer, &bad).status_code, 400);

    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/fib/list"));
    let fib: Vec<nfd::FibEntry> = decode_all(&payload).unwrap();
    assert_eq!(fib.len(), 2);
    assert_eq!(fib[0].name, name("/d"));
    assert_eq!(fib[0].next_hops[0].face_id, producer.0);
    assert_eq!(fib[1].name, name("/r"));
    assert_eq!(fib[1].next_hops[0].cost, 20);

    let (payload, _) = net.fetch(consumer, &name("/localhost/nfd/rib/list"));
    let rib: Vec<RibEntry> = decode_all(&payload).unwrap();
    assert_eq!(rib.len(), 2);
    let d = rib.iter().find(|e| e.name == name("/d")).unwrap();
    assert_eq!(d.routes[0].face_id, producer.0);
    assert_eq!(d.routes[0].origin, nfd::route_origin::APP);
    assert_eq!(d.routes[0].flags, nfd::route_flags::CHILD_INHERIT);
    let r = rib.iter().find(|e| e.name == name("/r")).unwrap();
    assert_eq!(r.routes[0].origin, nfd::route_origin::STATIC);
}

#[test]
fn big_datasets_are_segmented_and_every_segment_is_retrievable() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    for i in 0..300 {
        let prefix = format!("/a/rather/long/prefix/to/fill/segments/quickly/number/{i}");
        assert!(net.register(app, &prefix).is_ok());
    }
    let (payload, segments) = net.fetch(app, &name("/localhost/nfd/rib/list"));
    assert!(payload.len() > 8000);
    assert_eq!(segments.len(), payload.len().div_ceil(8000));
    assert!(
        segments[..segments.len() - 1]
            .iter()
            .all(|s| s.content().len() == 8000 && s.final_block_id().is_none())
    );
    let rib: Vec<RibEntry> = decode_all(&payload).unwrap();
    assert_eq!(rib.len(), 300);

    // A segment of that version again, and a version that does not exist: no answer.
    let versioned = segments[1].name().clone();
    let acts = net.recv(app, InterestBuilder::new(versioned.clone()).encode());
    assert_eq!(only_data(&acts, app).name(), &versioned);
    let stale = name("/localhost/nfd/rib/list")
        .append_version(1)
        .append_segment(0);
    assert!(
        net.recv(app, InterestBuilder::new(stale).encode())
            .is_empty()
    );
    // Once the snapshot expired, neither.
    net.advance(3000);
    assert!(
        net.recv(app, InterestBuilder::new(versioned).encode())
            .is_empty()
    );
    assert_eq!(net.fwd.mgmt_unanswered(), 2);
    // A fresh request makes a newer version.
    let (_, again) = net.fetch(app, &name("/localhost/nfd/rib/list"));
    let v = |d: &Data| d.name().get(4).unwrap().as_version().unwrap();
    assert!(v(&again[0]) > v(&segments[0]));
}

#[test]
fn malformed_and_unknown_requests() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    // Not a ControlParameters where one must be.
    let bad = name("/localhost/nfd/rib/register").append_generic(b"\x01\x02");
    let acts = net.recv(app, InterestBuilder::new(bad.clone()).encode());
    assert_eq!(reply_to(&acts, app, &bad).status_code, 400);
    // An unsigned command.
    let unsigned = name("/localhost/nfd/rib/register")
        .append_generic(&ControlParameters::with_name(name("/x")).to_wire());
    let acts = net.recv(app, InterestBuilder::new(unsigned.clone()).encode());
    assert_eq!(reply_to(&acts, app, &unsigned).status_code, 400);
    // Well-formed but missing the Name.
    let (r, _) = net.command(app, "rib", "register", &ControlParameters::default());
    assert_eq!(r.status_code, 400);
    // Too deep a prefix.
    let deep = (0..40).fold(Name::new(), |n, i| {
        n.append_generic(format!("{i}").as_bytes())
    });
    let (r, _) = net.command(app, "rib", "register", &ControlParameters::with_name(deep));
    assert_eq!(r.status_code, 414);
    // Unknown verb and module.
    let (r, _) = net.command(app, "rib", "frobnicate", &ControlParameters::default());
    assert_eq!(r.status_code, 501);
    let (r, _) = net.command(app, "nope", "list", &ControlParameters::default());
    assert_eq!(r.status_code, 501);
    let short = name("/localhost/nfd");
    let acts = net.recv(app, InterestBuilder::new(short.clone()).encode());
    assert_eq!(reply_to(&acts, app, &short).status_code, 400);
    assert!(net.fwd.rib().is_empty());
    assert_eq!(net.fwd.mgmt_replies_with_status(400), 4);
    assert_eq!(net.fwd.mgmt_replies_with_status(501), 2);
    assert_eq!(net.fwd.mgmt_replies_with_status(414), 1);
}

/// python-ndn's pynfdc asks for datasets with signed Interests (empty ApplicationParameters,
/// DigestSha256, so the name ends in a parameters digest): answered as a plain request, with
/// segments named under the whole Interest name as NFD's dispatcher names them.
#[test]
fn signed_dataset_interests_are_answered_like_plain_ones() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    for i in 0..300 {
        let prefix = format!("/a/rather/long/prefix/to/fill/segments/quickly/number/{i}");
        assert!(net.register(app, &prefix).is_ok());
    }
    let signer = Signer::digest_sha256();
    let signed = |dataset: &str| {
        InterestBuilder::new(name(dataset))
            .can_be_prefix(true)
            .must_be_fresh(true)
            .lifetime_ms(1000)
            .app_parameters(Bytes::new())
            .sign(&signer, signer.signature_info())
            .unwrap()
    };
    let status = signed("/localhost/nfd/status/general");
    assert_eq!(status.name().len(), 5, "{}", status.name());
    let acts = net.recv(app, status.wire().clone());
    let seg0 = only_data(&acts, app);
    assert!(status.name().is_prefix_of(seg0.name()), "{}", seg0.name());
    assert!(status.matches(&seg0));
    assert!(ForwarderStatus::decode(seg0.content()).is_ok());

    // A dataset of one segment answers whole; a longer one answers its first segment (the
    // only one pynfdc reads, as with NFD: the following segments are named under the
    // parameters digest, which an Interest without those parameters cannot carry).
    let faces = signed("/localhost/nfd/faces/list");
    let acts = net.recv(app, faces.wire().clone());
    let seg0 = only_data(&acts, app);
    assert!(faces.matches(&seg0));
    assert_eq!(seg0.name().len(), faces.name().len() + 2);
    assert_eq!(seg0.final_block_id().and_then(|c| c.as_segment()), Some(0));
    let list: Vec<FaceStatus> = decode_all(seg0.content()).unwrap();
    assert!(list.iter().any(|f| f.face_id == app.0));
    let rib = signed("/localhost/nfd/rib/list");
    let acts = net.recv(app, rib.wire().clone());
    let seg0 = only_data(&acts, app);
    assert!(rib.matches(&seg0));
    assert_eq!(seg0.content().len(), 8000);
    assert!(seg0.final_block_id().is_none());
    assert_eq!(net.fwd.mgmt_unanswered(), 0);
}

#[test]
fn congestion_marking_settings_through_create_update_and_the_datasets() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local);
    // faces/update: threshold and interval; the driver is told.
    let cp = ControlParameters {
        base_congestion_marking_interval_ns: Some(50_000_000),
        default_congestion_threshold: Some(4096),
        ..ControlParameters::default()
    };
    let (r, acts) = net.command(app, "faces", "update", &cp);
    assert!(r.is_ok());
    let body = r.body.unwrap();
    assert_eq!(body.base_congestion_marking_interval_ns, Some(50_000_000));
    assert_eq!(body.default_congestion_threshold, Some(4096));
    assert_eq!(
        body.flags,
        Some(nfd::face_flags::CONGESTION_MARKING_ENABLED)
    );
    let marking = CongestionMarking {
        enabled: true,
        base_interval_ns: 50_000_000,
        threshold: 4096,
    };
    assert!(acts.contains(&Action::SetCongestionMarking { face: app, marking }));
    // Flags/Mask turn it off; the rest is kept.
    let bit = nfd::face_flags::CONGESTION_MARKING_ENABLED;
    let off = ControlParameters {
        flags: Some(0),
        mask: Some(bit),
        ..ControlParameters::default()
    };
    let (r, acts) = net.command(app, "faces", "update", &off);
    assert_eq!(r.body.unwrap().flags, Some(0));
    let marking = CongestionMarking {
        enabled: false,
        ..marking
    };
    assert!(acts.contains(&Action::SetCongestionMarking { face: app, marking }));
    // The same again changes nothing: nothing for the driver.
    let (_, acts) = net.command(app, "faces", "update", &off);
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::SetCongestionMarking { .. }))
    );
    // faces/query shows the settings.
    let filter = FaceQueryFilter {
        face_id: Some(app.0),
        ..FaceQueryFilter::default()
    };
    let q = name("/localhost/nfd/faces/query").append_generic(&nfd::DatasetEntry::to_wire(&filter));
    let (payload, _) = net.fetch(app, &q);
    let faces: Vec<FaceStatus> = decode_all(&payload).unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0].flags, 0);
    assert_eq!(
        faces[0].base_congestion_marking_interval_ns,
        Some(50_000_000)
    );
    assert_eq!(faces[0].default_congestion_threshold, Some(4096));

    // faces/create with settings: applied once the driver reports the face.
    let cp = ControlParameters {
        uri: Some("tcp4://10.0.0.9:6363".into()),
        default_congestion_threshold: Some(8192),
        ..ControlParameters::default()
    };
    let cmd = net.command_v03("faces", "create", &cp);
    let acts = net.recv(app, cmd.wire().clone());
    let Some(Action::CreateFace { request, .. }) =
        acts.iter().find(|a| matches!(a, Action::CreateFace { .. }))
    else {
        panic!("no CreateFace: {acts:?}");
    };
    let created = FaceInfo {
        remote_uri: "tcp4://10.0.0.9:6363".into(),
        local_uri: "tcp4://10.0.0.1:40000".into(),
        scope: FaceScope::NonLocal,
        persistency: Persistency::Persistent,
        link_type: LinkType::PointToPoint,
        mtu: None,
        peer: None,
        channel: None,
    };
    let id = net
        .fwd
        .face_created(net.now, *request, Ok(created), &mut net.out)
        .unwrap();
    let acts = std::mem::take(&mut net.out);
    let marking = CongestionMarking {
        threshold: 8192,
        ..CongestionMarking::default()
    };
    assert!(acts.contains(&Action::SetCongestionMarking { face: id, marking }));
    let r = reply_to(&acts, app, cmd.name());
    assert_eq!(r.status_code, 200);
    assert_eq!(r.body.unwrap().default_congestion_threshold, Some(8192));
}

//! Deterministic tests of the security rules (`docs/security.md`): scope of `/localhost`
//! names and hints, who may manage (peer credentials, signatures, replay), restricted
//! channels, local services, PIT quotas, Data only from upstreams asked, face teardown.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::nfd::{
    ControlParameters, ControlResponse, make_command_v02, make_command_v03, status_code,
};
use nfwd_tlv::{
    Data, DataBuilder, Element, Interest, InterestBuilder, Name, SignatureInfo, Signer,
};

use super::auth::{Policy, Privileges, Rule, TrustedKey, Users};
use super::tests::sent_to;
use super::*;
use crate::config::Config;

const WALL_START: u64 = 1_700_000_000_000;

struct Net {
    fwd: Forwarder,
    now: Instant,
    out: Vec<Action>,
    nonce: u64,
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn creds(uid: u32, groups: Vec<u32>) -> PeerCredentials {
    PeerCredentials {
        uid,
        gid: uid,
        groups,
        pid: None,
    }
}

fn info(uri: &str, scope: FaceScope, peer: Option<PeerCredentials>) -> FaceInfo {
    FaceInfo {
        remote_uri: uri.into(),
        local_uri: "test://".into(),
        scope,
        persistency: Persistency::OnDemand,
        link_type: LinkType::PointToPoint,
        mtu: None,
        peer,
        channel: None,
    }
}

impl Net {
    fn new() -> Self {
        Self::with_config(&Config::default())
    }

    fn with_config(config: &Config) -> Self {
        let now = Instant::now();
        let mut fwd = Forwarder::new(config, now);
        fwd.set_wall_clock(WALL_START);
        fwd.set_policy(Policy::local_defaults(1000, Some(50)));
        Self {
            fwd,
            now,
            out: Vec::new(),
            nonce: 0,
        }
    }

    fn face(&mut self, uri: &str, scope: FaceScope, peer: Option<PeerCredentials>) -> FaceId {
        self.fwd.add_face(info(uri, scope, peer), self.now)
    }

    fn root(&mut self, uri: &str) -> FaceId {
        self.face(uri, FaceScope::Local, Some(creds(0, vec![])))
    }

    fn remote(&mut self, uri: &str) -> FaceId {
        self.face(uri, FaceScope::NonLocal, None)
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

    fn signed(&mut self, module: &str, verb: &str, cp: &ControlParameters, s: &Signer) -> Interest {
        self.nonce += 1;
        make_command_v03(module, verb, cp, s, self.nonce, WALL_START + self.nonce).unwrap()
    }

    /// A v0.3 command from `face`, DigestSha256; the ControlResponse it got.
    fn command(
        &mut self,
        face: FaceId,
        module: &str,
        verb: &str,
        cp: &ControlParameters,
    ) -> ControlResponse {
        let i = self.signed(module, verb, cp, &Signer::digest_sha256());
        let acts = self.recv(face, i.wire());
        reply_to(&acts, face, i.name())
    }

    fn register(&mut self, face: FaceId, prefix: &str) -> ControlResponse {
        let cp = ControlParameters::with_name(name(prefix));
        self.command(face, "rib", "register", &cp)
    }

    fn counters(&self, face: FaceId) -> FaceCounters {
        self.fwd
            .faces()
            .find(|(id, _)| *id == face)
            .map(|(_, f)| f.counters)
            .unwrap()
    }
}

fn only_data(actions: &[Action], face: FaceId) -> Data {
    let sent = sent_to(actions, face);
    assert_eq!(sent.len(), 1, "one packet to {face} expected: {actions:?}");
    assert!(sent[0].nack.is_none());
    Data::decode(sent[0].fragment.clone().unwrap()).unwrap()
}

fn reply_to(actions: &[Action], face: FaceId, command: &Name) -> ControlResponse {
    let data = only_data(actions, face);
    assert_eq!(data.name(), command);
    ControlResponse::from_wire(data.content()).unwrap()
}

fn interest(n: &str) -> InterestBuilder {
    InterestBuilder::new(name(n)).lifetime_ms(1000)
}

fn data(n: &str) -> Bytes {
    DataBuilder::new(name(n), b"x".to_vec())
        .freshness_ms(10_000)
        .sign(&Signer::digest_sha256())
        .unwrap()
}

fn routes(net: &Net, prefix: &str) -> Vec<FaceId> {
    net.fwd
        .fib()
        .iter()
        .find(|e| e.prefix == name(prefix))
        .map(|e| e.next_hops.iter().map(|h| h.face).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Scope

#[test]
fn localhost_in_a_forwarding_hint_never_enters_from_a_non_local_face() {
    let mut net = Net::new();
    let remote = net.remote("udp4://10.0.0.9:6363");
    let host = net.root("unix://sf-host");
    assert_eq!(net.register(host, "/localhost/nfwd/sf").status_code, 200);
    // The attack of issue 8: a plain name routed by a hint to the SF host's management.
    let attack = interest("/a/b/c/deploy")
        .forwarding_hint(vec![name("/localhost/nfwd/sf")])
        .encode();
    let acts = net.recv(remote, &attack);
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(net.counters(remote).drop_scope, 1);
    assert_eq!(net.fwd.counters().scope_violations, 1);
    // Nor from a local application: management namespaces are never routed by a hint.
    let app = net.face("unix://app", FaceScope::Local, Some(creds(1234, vec![])));
    assert!(net.recv(app, &attack).is_empty());
    assert_eq!(net.counters(app).drop_scope, 1);
    // A /localhost hint from a local face does not leave through a non-local one either.
    let local_hint = interest("/x")
        .forwarding_hint(vec![name("/localhost/other")])
        .encode();
    net.fwd.add_route(&name("/localhost/other"), remote, 0);
    let acts = net.recv(app, &local_hint);
    assert!(sent_to(&acts, remote).is_empty(), "{acts:?}");
}

#[test]
fn localhost_data_never_goes_to_a_non_local_face() {
    let mut net = Net::new();
    let remote = net.remote("udp4://10.0.0.9:6363");
    let app = net.root("unix://app");
    net.fwd.add_route(&name("/localhost/x"), app, 0);
    // Even if an entry somehow had a non-local downstream, the Data is not sent there: the
    // Interest is dropped at the door, so nothing reaches `remote`.
    assert!(
        net.recv(remote, interest("/localhost/x/1").encode())
            .is_empty()
    );
    let acts = net.recv(app, data("/localhost/x/1"));
    assert!(sent_to(&acts, remote).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Who may manage

#[test]
fn only_root_the_daemon_user_and_the_group_manage() {
    let mut net = Net::new();
    let producer = net.root("unix://producer");
    let cp = ControlParameters {
        name: Some(name("/p")),
        face_id: Some(producer.0),
        ..ControlParameters::default()
    };
    for (peer, ok) in [
        (Some(creds(0, vec![])), true),
        (Some(creds(1000, vec![])), true),
        (Some(creds(1001, vec![50])), true),
        (Some(creds(1002, vec![7])), false),
        (None, false),
    ] {
        let face = net.face("unix://x", FaceScope::Local, peer.clone());
        let r = net.command(face, "fib", "add-nexthop", &cp);
        assert_eq!(r.status_code == 200, ok, "{peer:?}: {r:?}");
        if !ok {
            assert_eq!(r.status_code, status_code::UNAUTHORIZED);
            assert!(r.status_text.as_str().contains("not authorized"), "{r:?}");
            assert_eq!(net.counters(face).drop_unauthorized, 1);
        }
    }
    assert_eq!(net.fwd.counters().unauthorized, 2);
}

#[test]
fn any_application_registers_for_itself_but_not_for_others_nor_under_localhost() {
    let mut net = Net::new();
    let app = net.face("unix://app", FaceScope::Local, Some(creds(1234, vec![])));
    let other = net.root("unix://other");
    assert_eq!(net.register(app, "/app/data").status_code, 200);
    assert_eq!(routes(&net, "/app/data"), vec![app]);
    // Registering towards another face, or /localhost (the SF host's namespace), is managing.
    let cp = ControlParameters {
        name: Some(name("/steal")),
        face_id: Some(other.0),
        ..ControlParameters::default()
    };
    assert_eq!(net.command(app, "rib", "register", &cp).status_code, 403);
    assert_eq!(net.register(app, "/localhost/nfwd/sf").status_code, 403);
    assert!(routes(&net, "/localhost/nfwd/sf").is_empty());
    // Every other module is refused; datasets are readable as in NFD.
    let sc = ControlParameters {
        name: Some(name("/")),
        strategy: Some(name("/localhost/nfd/strategy/multicast")),
        ..ControlParameters::default()
    };
    assert_eq!(
        net.command(app, "strategy-choice", "set", &sc).status_code,
        403
    );
    let destroy = ControlParameters {
        face_id: Some(other.0),
        ..ControlParameters::default()
    };
    assert_eq!(
        net.command(app, "faces", "destroy", &destroy).status_code,
        403
    );
    let acts = net.recv(
        app,
        InterestBuilder::new(name("/localhost/nfd/status/general"))
            .can_be_prefix(true)
            .must_be_fresh(true)
            .encode(),
    );
    assert_eq!(sent_to(&acts, app).len(), 1, "status is readable");
}

#[test]
fn zeroed_and_forged_signatures_are_refused_and_counted() {
    let mut net = Net::new();
    let root = net.root("unix://root");
    let cp = ControlParameters::with_name(name("/z"));
    // A DigestSha256 command whose digest is zeroed (v0.2: the signature is the last name
    // component, so nothing else needs recomputing): structurally fine, cryptographically not.
    net.nonce += 1;
    let good = make_command_v02(
        "rib",
        "register",
        &cp,
        &Signer::digest_sha256(),
        net.nonce,
        WALL_START + net.nonce,
    )
    .unwrap();
    let n = good.name();
    let zeroed_name = n
        .prefix(n.len() - 1)
        .append_generic(Element::new(nfwd_tlv::types::tt::SIGNATURE_VALUE, &[0u8; 32]).wire());
    let zeroed = InterestBuilder::new(zeroed_name.clone())
        .lifetime_ms(1000)
        .encode();
    let acts = net.recv(root, &zeroed);
    let r = reply_to(&acts, root, &zeroed_name);
    assert_eq!(r.status_code, 403, "{r:?}");
    assert!(r.status_text.as_str().contains("signature"), "{r:?}");
    assert_eq!(net.fwd.counters().bad_signatures, 1);
    assert_eq!(net.counters(root).drop_unauthorized, 1);
    assert!(routes(&net, "/z").is_empty());
    // The intact one passes.
    let acts = net.recv(root, good.wire());
    assert_eq!(reply_to(&acts, root, good.name()).status_code, 200);
}

fn key_policy(key: &Signer, key_name: &Name, privileges: &[&str]) -> Policy {
    Policy {
        rules: vec![Rule {
            users: Users::Any,
            key: Some(0),
            privileges: Privileges::from_names(privileges).unwrap(),
        }],
        keys: vec![TrustedKey {
            name: key_name.clone(),
            key: key.verify_key().unwrap(),
        }],
    }
}

#[test]
fn a_configured_key_manages_from_any_local_face_once_per_timestamp() {
    let mut net = Net::new();
    let key_name = name("/ops/KEY/k1");
    let (key, _) = Signer::generate_ed25519(key_name.clone()).unwrap();
    let (impostor, _) = Signer::generate_ed25519(key_name.clone()).unwrap();
    let (stranger, _) = Signer::generate_ed25519(name("/x/KEY/k9")).unwrap();
    net.fwd.set_policy(key_policy(&key, &key_name, &["cs"]));
    // An anonymous face (loopback TCP) with the key: allowed.
    let anon = net.face("tcp4://127.0.0.1:9", FaceScope::Local, None);
    let cp = ControlParameters {
        capacity: Some(10),
        ..ControlParameters::default()
    };
    let cmd = net.signed("cs", "config", &cp, &key);
    let acts = net.recv(anon, cmd.wire());
    assert_eq!(reply_to(&acts, anon, cmd.name()).status_code, 200);
    // The same command again: a replay.
    let acts = net.recv(anon, cmd.wire());
    let r = reply_to(&acts, anon, cmd.name());
    assert_eq!(r.status_code, 403);
    assert!(r.status_text.as_str().contains("replay"), "{r:?}");
    assert_eq!(net.fwd.counters().replayed_commands, 1);
    // Another key claiming the same name: the signature does not verify.
    let forged = net.signed("cs", "config", &cp, &impostor);
    let acts = net.recv(anon, forged.wire());
    assert_eq!(reply_to(&acts, anon, forged.name()).status_code, 403);
    assert_eq!(net.fwd.counters().bad_signatures, 1);
    // A key nobody configured: taken on trust only by rules that name no key — none here.
    let other = net.signed("cs", "config", &cp, &stranger);
    let acts = net.recv(anon, other.wire());
    assert_eq!(reply_to(&acts, anon, other.name()).status_code, 403);
    // The key grants `cs` only; and root, without the key, gets nothing under this policy.
    let strat = ControlParameters {
        name: Some(name("/")),
        strategy: Some(name("/localhost/nfd/strategy/multicast")),
        ..ControlParameters::default()
    };
    let cmd = net.signed("strategy-choice", "set", &strat, &key);
    let acts = net.recv(anon, cmd.wire());
    assert_eq!(reply_to(&acts, anon, cmd.name()).status_code, 403);
    let root = net.root("unix://root");
    assert_eq!(net.command(root, "cs", "config", &cp).status_code, 403);
}

#[test]
fn commands_far_from_the_clock_are_replays() {
    let mut net = Net::new();
    let root = net.root("unix://root");
    let cp = ControlParameters::with_name(name("/old"));
    let old = make_command_v03(
        "rib",
        "register",
        &cp,
        &Signer::digest_sha256(),
        7,
        WALL_START - 3_600_000,
    )
    .unwrap();
    let acts = net.recv(root, old.wire());
    assert_eq!(reply_to(&acts, root, old.name()).status_code, 403);
    assert_eq!(net.fwd.counters().replayed_commands, 1);
}

// ---------------------------------------------------------------------------------------------
// Restricted channels

/// Opens a channel for `prefix` from `owner` and returns a face accepted on it.
fn channel_face(net: &mut Net, owner: FaceId, prefix: &str, path: &str) -> (FaceId, ChannelId) {
    let cp = ControlParameters {
        uri: Some(format!("unix://{path}").as_str().into()),
        name: Some(name(prefix)),
        ..ControlParameters::default()
    };
    let cmd = net.signed("channels", "open", &cp, &Signer::digest_sha256());
    let acts = net.recv(owner, cmd.wire());
    let channel = acts
        .iter()
        .find_map(|a| match a {
            Action::OpenChannel { channel, path: p } => {
                assert_eq!(p.to_str(), Some(path));
                Some(*channel)
            }
            _ => None,
        })
        .expect("OpenChannel");
    assert!(
        sent_to(&acts, owner).is_empty(),
        "the reply waits for the driver"
    );
    let mut out = Vec::new();
    net.fwd.channel_opened(net.now, channel, Ok(()), &mut out);
    assert_eq!(reply_to(&out, owner, cmd.name()).status_code, 200);
    let face = net.fwd.add_face(
        FaceInfo {
            channel: Some(channel),
            ..info("fd://7", FaceScope::Local, Some(creds(0, vec![])))
        },
        net.now,
    );
    (face, channel)
}

#[test]
fn a_restricted_face_registers_its_prefix_and_nothing_else() {
    let mut net = Net::new();
    let host = net.root("unix://host");
    // Root credentials on the channel face (a container's uid 0): the channel decides.
    let (sf, _) = channel_face(&mut net, host, "/sf/upper", "/run/nfwd/sf/i1/nfwd.sock");
    assert_eq!(net.register(sf, "/sf/upper").status_code, 200);
    assert_eq!(net.register(sf, "/sf/upper/32=stats").status_code, 200);
    assert_eq!(net.register(sf, "/sf/other").status_code, 403);
    assert_eq!(net.register(sf, "/").status_code, 403);
    let cp = ControlParameters {
        name: Some(name("/sf/upper")),
        face_id: Some(host.0),
        ..ControlParameters::default()
    };
    assert_eq!(net.command(sf, "rib", "register", &cp).status_code, 403);
    assert_eq!(
        net.command(sf, "cs", "config", &ControlParameters::default())
            .status_code,
        403
    );
    // No dataset, no local service, no /localhost hint.
    let acts = net.recv(
        sf,
        InterestBuilder::new(name("/localhost/nfd/faces/list"))
            .can_be_prefix(true)
            .encode(),
    );
    let data = only_data(&acts, sf);
    assert_eq!(
        ControlResponse::from_wire(data.content())
            .unwrap()
            .status_code,
        403
    );
    assert_eq!(net.register(host, "/localhost/nfwd/sf").status_code, 200);
    assert!(
        net.recv(sf, interest("/localhost/nfwd/sf/list").encode())
            .iter()
            .all(|a| !matches!(a, Action::Send { face, .. } if *face == host))
    );
    assert!(
        net.recv(
            sf,
            interest("/x")
                .forwarding_hint(vec![name("/localhost/a")])
                .encode()
        )
        .is_empty()
    );
    // Ordinary Interests go out (an SF fetches its input).
    let producer = net.root("unix://producer");
    net.fwd.add_route(&name("/data"), producer, 0);
    let acts = net.recv(sf, interest("/data/1").encode());
    assert_eq!(sent_to(&acts, producer).len(), 1);
}

#[test]
fn a_channel_closes_with_its_owner_and_takes_its_faces() {
    let mut net = Net::new();
    let host = net.root("unix://host");
    let (sf, channel) = channel_face(&mut net, host, "/sf/f", "/run/nfwd/sf/i2/nfwd.sock");
    let bystander = net.root("unix://bystander");
    net.fwd.face_closed(host, net.now, &mut net.out);
    // The closing actions leave with the next call that returns actions.
    let acts = net.recv(bystander, interest("/nothing").encode());
    assert!(acts.contains(&Action::CloseChannel { channel }), "{acts:?}");
    assert!(acts.contains(&Action::CloseFace { face: sf }), "{acts:?}");
    // And channels/close does the same on demand.
    let host2 = net.root("unix://host2");
    let (sf2, ch2) = channel_face(&mut net, host2, "/sf/g", "/run/nfwd/sf/i3/nfwd.sock");
    let cp = ControlParameters {
        uri: Some("unix:///run/nfwd/sf/i3/nfwd.sock".into()),
        ..ControlParameters::default()
    };
    let cmd = net.signed("channels", "close", &cp, &Signer::digest_sha256());
    let acts = net.recv(host2, cmd.wire());
    assert_eq!(reply_to(&acts, host2, cmd.name()).status_code, 200);
    assert!(acts.contains(&Action::CloseChannel { channel: ch2 }));
    assert!(acts.contains(&Action::CloseFace { face: sf2 }));
    // Opening channels is managing.
    let app = net.face("unix://app", FaceScope::Local, Some(creds(1234, vec![])));
    let open = ControlParameters {
        uri: Some("unix:///run/nfwd/sf/i4/nfwd.sock".into()),
        name: Some(name("/sf/h")),
        ..ControlParameters::default()
    };
    assert_eq!(net.command(app, "channels", "open", &open).status_code, 403);
}

// ---------------------------------------------------------------------------------------------
// Local services

#[test]
fn local_services_need_their_privilege_before_anything_is_forwarded() {
    let mut net = Net::new();
    let host = net.root("unix://host");
    assert_eq!(net.register(host, "/localhost/nfwd/sf").status_code, 200);
    assert_eq!(
        net.register(host, "/localhost/nfwd/sf-exec").status_code,
        200
    );
    let group = net.face("unix://ops", FaceScope::Local, Some(creds(1001, vec![50])));
    let user = net.face("unix://user", FaceScope::Local, Some(creds(1002, vec![])));
    // A signed deploy of an exec SF from the manage group: sf-exec is not theirs.
    let deploy = InterestBuilder::new(name("/localhost/nfwd/sf-exec/deploy"))
        .app_parameters(Bytes::from_static(b"name = \"/sf/x\""))
        .sign(&Signer::digest_sha256(), {
            let mut i: SignatureInfo = Signer::digest_sha256().signature_info();
            i.time = Some(WALL_START);
            i.nonce = Some(Bytes::from_static(&[1, 2, 3, 4]));
            i
        })
        .unwrap();
    let acts = net.recv(group, deploy.wire());
    let r = reply_to(&acts, group, deploy.name());
    assert_eq!(r.status_code, 403, "{r:?}");
    assert!(r.status_text.as_str().contains("sf-exec"), "{r:?}");
    assert!(sent_to(&acts, host).is_empty());
    // A dataset of `sf`: the group may, a plain user may not.
    let list = interest("/localhost/nfwd/sf/list")
        .can_be_prefix(true)
        .encode();
    let acts = net.recv(group, &list);
    assert_eq!(sent_to(&acts, host).len(), 1, "{acts:?}");
    let acts = net.recv(user, &list);
    assert!(sent_to(&acts, host).is_empty());
    assert_eq!(
        only_data(&acts, user).name(),
        &name("/localhost/nfwd/sf/list")
    );
    // Root may do both.
    let root = net.root("unix://root");
    let acts = net.recv(root, deploy.wire());
    assert_eq!(sent_to(&acts, host).len(), 1, "{acts:?}");
}

// ---------------------------------------------------------------------------------------------
// Bounded and fair

#[test]
fn one_face_cannot_hold_more_than_its_pit_quota() {
    let mut config = Config::default();
    config.tables.pit_max_entries_per_face = 4;
    let mut net = Net::with_config(&config);
    let flooder = net.remote("udp4://10.0.0.66:6363");
    let consumer = net.root("unix://consumer");
    let producer = net.root("unix://producer");
    net.fwd.add_route(&name("/p"), producer, 0);
    for i in 0..4 {
        let acts = net.recv(flooder, interest(&format!("/p/f{i}")).encode());
        assert_eq!(sent_to(&acts, producer).len(), 1);
    }
    let acts = net.recv(flooder, interest("/p/f4").encode());
    assert_eq!(
        sent_to(&acts, flooder)[0].nack,
        Some(NackReason::Congestion)
    );
    assert_eq!(net.counters(flooder).drop_pit_quota, 1);
    assert_eq!(net.fwd.counters().pit_quota, 1);
    // Another face is unaffected, and aggregating onto the flooder's entry counts for it.
    let acts = net.recv(consumer, interest("/p/f0").encode());
    assert!(sent_to(&acts, consumer).is_empty(), "aggregated: {acts:?}");
    let acts = net.recv(consumer, interest("/p/c").encode());
    assert_eq!(sent_to(&acts, producer).len(), 1);
    // Satisfying an entry gives the flooder room again.
    net.recv(producer, data("/p/f1"));
    let acts = net.recv(flooder, interest("/p/f5").encode());
    assert_eq!(sent_to(&acts, producer).len(), 1, "{acts:?}");
    let quota = |net: &Net, f: FaceId| {
        net.fwd
            .faces()
            .find(|(id, _)| *id == f)
            .map(|(_, s)| s.pit_entries())
            .unwrap()
    };
    assert_eq!(quota(&net, flooder), 4);
    assert_eq!(quota(&net, consumer), 2);
    // Expiry releases too.
    net.advance(2_000);
    assert_eq!(quota(&net, flooder), 0);
    assert_eq!(quota(&net, consumer), 0);
}

#[test]
fn data_from_a_face_that_was_not_asked_satisfies_nothing_and_is_not_cached() {
    let mut net = Net::new();
    let consumer = net.root("unix://consumer");
    let producer = net.root("unix://producer");
    let poisoner = net.face(
        "unix://poisoner",
        FaceScope::Local,
        Some(creds(1234, vec![])),
    );
    net.fwd.add_route(&name("/p"), producer, 0);
    net.recv(consumer, interest("/p/x").encode());
    let acts = net.recv(poisoner, data("/p/x"));
    assert!(sent_to(&acts, consumer).is_empty(), "{acts:?}");
    assert_eq!(net.fwd.counters().data_from_wrong_face, 1);
    assert_eq!(net.counters(poisoner).drop_unsolicited, 1);
    assert_eq!(net.fwd.cs().len(), 0);
    let acts = net.recv(producer, data("/p/x"));
    assert_eq!(only_data(&acts, consumer).name(), &name("/p/x"));
    assert_eq!(net.fwd.cs().len(), 1);
}

#[test]
fn closing_a_face_touches_only_its_entries() {
    let mut net = Net::new();
    let producer = net.root("unix://producer");
    net.fwd.add_route(&name("/p"), producer, 0);
    let faces: Vec<FaceId> = (0..20)
        .map(|i| net.remote(&format!("udp4://10.0.1.{i}:6363")))
        .collect();
    for (k, &f) in faces.iter().enumerate() {
        for j in 0..50 {
            net.recv(f, interest(&format!("/p/{k}/{j}")).encode());
        }
        // One shared entry: every face is a downstream.
        net.recv(f, interest("/p/shared").nonce([k as u8, 1, 2, 3]).encode());
    }
    assert_eq!(net.fwd.pit().len(), 20 * 50 + 1);
    net.fwd.face_closed(faces[3], net.now, &mut net.out);
    assert_eq!(
        net.fwd.pit().len(),
        19 * 50 + 1,
        "only face 3's own entries went"
    );
    for &f in faces.iter().filter(|&&f| f != faces[3]) {
        let n = net
            .fwd
            .faces()
            .find(|(id, _)| *id == f)
            .map(|(_, s)| s.pit_entries())
            .unwrap();
        assert_eq!(n, 51);
    }
    // The shared entry still answers the others.
    let acts = net.recv(producer, data("/p/shared"));
    let got: Vec<FaceId> = faces
        .iter()
        .copied()
        .filter(|&f| !sent_to(&acts, f).is_empty())
        .collect();
    assert_eq!(got.len(), 19);
    assert!(!got.contains(&faces[3]));
}

#[test]
fn a_flood_from_many_faces_leaves_room_for_a_face_that_holds_little() {
    let mut config = Config::default();
    config.tables.pit_max_entries = 100;
    config.tables.pit_max_entries_per_face = 100;
    let mut net = Net::with_config(&config);
    let sink = net.root("unix://sink");
    net.fwd.add_route(&name("/p"), sink, 0);
    let flooders: Vec<FaceId> = (0..6)
        .map(|i| net.remote(&format!("udp4://10.0.0.66:{}", 6000 + i)))
        .collect();
    // The flood comes from all of them at once, as from one host's many source ports.
    let mut refused = 0;
    for j in 0..40 {
        for (k, &f) in flooders.iter().enumerate() {
            let acts = net.recv(f, interest(&format!("/p/{k}/{j}")).encode());
            if sent_to(&acts, f)
                .first()
                .is_some_and(|lp| lp.nack.is_some())
            {
                refused += 1;
            }
        }
    }
    assert!(refused > 0);
    // Each settled at about what is left free: a seventh of the PIT stays free.
    assert!(
        net.fwd.pit().len() <= 100 - 100 / 7,
        "{}",
        net.fwd.pit().len()
    );
    assert_eq!(net.fwd.counters().pit_full, 0);
    // A consumer holding nothing still gets in.
    let consumer = net.root("unix://consumer");
    for j in 0..3 {
        let acts = net.recv(consumer, interest(&format!("/p/legit/{j}")).encode());
        assert_eq!(sent_to(&acts, sink).len(), 1, "{acts:?}");
    }
    assert_eq!(net.counters(consumer).drop_pit_quota, 0);
}

#[test]
fn the_pit_gives_its_memory_back_after_a_burst_and_stale_ids_stay_stale() {
    let mut net = Net::new();
    let producer = net.root("unix://producer");
    let consumer = net.root("unix://consumer");
    net.fwd.add_route(&name("/p"), producer, 0);
    let mut first_token = None;
    for j in 0..5000 {
        let acts = net.recv(consumer, interest(&format!("/p/{j}")).encode());
        if first_token.is_none() {
            first_token = sent_to(&acts, producer)[0]
                .pit_token
                .as_ref()
                .map(|t| u64::from_be_bytes(t.as_bytes()[..].try_into().unwrap()));
        }
    }
    assert_eq!(net.fwd.pit().slots(), 5000);
    net.advance(2_000); // expired
    net.advance(600); // and housekeeping ran since
    assert_eq!(net.fwd.pit().len(), 0);
    assert_eq!(net.fwd.pit().slots(), 0, "the slots were released");
    let old = EntryId::from_u64(first_token.unwrap());
    net.recv(consumer, interest("/p/new").encode());
    assert!(
        net.fwd.pit().get(old).is_none(),
        "a stale id names no new entry"
    );
}

#[test]
fn pit_entries_stay_small() {
    // A flood fills the PIT; its memory is this times pit_max_entries (131072 by default).
    assert!(
        size_of::<pit::PitEntry>() <= 800,
        "PitEntry is {} bytes",
        size_of::<pit::PitEntry>()
    );
}

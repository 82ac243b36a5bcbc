//! Deterministic tests of a sharded forwarder: frames dispatched to the shard that owns them
//! (`dispatch.rs`), management and the link protocols on the leader, and the shared state kept
//! alike on every shard by applying each shard's changes on the others (`replica.rs`), as the
//! driver does.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason};
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v03, status_code};
use nfwd_tlv::{Data, DataBuilder, Interest, InterestBuilder, Name, NameHasher, Signer};

use super::chain_peer::Awareness;
use super::dispatch::Dispatcher;
use super::replica::{Change, Shard};
use super::tests::sent_to;
use super::*;
use crate::config::Config;

const WALL_START: u64 = 1_700_000_000_000;

/// N shards and what a driver does between them.
struct Sharded {
    shards: Vec<Forwarder>,
    dispatch: Dispatcher,
    now: Instant,
    nonce: u64,
    /// Changes applied on other shards so far.
    applied: Vec<Change>,
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// A face as the driver describes it (local ones as root's, who may manage).
fn face_info(uri: &str, scope: FaceScope, persistency: Persistency) -> FaceInfo {
    FaceInfo {
        persistency,
        ..mgmt_tests::info(uri, scope)
    }
}

impl Sharded {
    fn new(count: u8) -> Self {
        Self::with_config(count, &Config::default())
    }

    fn with_prefix(count: u8, prefix: u8) -> Self {
        let mut net = Self::new(count);
        net.dispatch = Dispatcher::with_prefix(count, prefix, NameHasher::new()).unwrap();
        for shard in &mut net.shards {
            shard.set_dispatcher(net.dispatch.clone());
        }
        net
    }

    fn with_config(count: u8, config: &Config) -> Self {
        let now = Instant::now();
        let shards = (0..count)
            .map(|i| {
                let shard = Shard::new(i, count).unwrap();
                let mut fwd = Forwarder::sharded(config, now, 7 + u64::from(i), shard);
                fwd.set_wall_clock(WALL_START);
                fwd
            })
            .collect();
        Self {
            shards,
            dispatch: Dispatcher::new(count, NameHasher::new()).unwrap(),
            now,
            nonce: 1,
            applied: Vec::new(),
        }
    }

    /// The driver tells the leader of a new face; the other shards learn of it from the
    /// leader's change.
    fn face(&mut self, uri: &str, scope: FaceScope, persistency: Persistency) -> FaceId {
        let face = self.shards[0].add_face(face_info(uri, scope, persistency), self.now);
        let mut out = Vec::new();
        self.settle(&mut out);
        assert!(out.is_empty());
        face
    }

    /// A frame from `face`, to the shard that owns it; what every shard did in consequence.
    fn recv(&mut self, face: FaceId, frame: impl AsRef<[u8]>) -> (usize, Vec<Action>) {
        let frame = frame.as_ref();
        let shard = usize::from(self.dispatch.shard_of_frame(frame));
        let mut out = Vec::new();
        self.shards[shard].receive(self.now, face, frame, &mut out);
        self.settle(&mut out);
        (shard, out)
    }

    fn close(&mut self, face: FaceId) -> Vec<Action> {
        let mut out = Vec::new();
        self.shards[0].face_closed(face, self.now, &mut out);
        self.settle(&mut out);
        out
    }

    fn advance(&mut self, ms: u64) -> Vec<Action> {
        self.now += Duration::from_millis(ms);
        let mut out = Vec::new();
        for shard in &mut self.shards {
            shard.on_timeout(self.now, &mut out);
        }
        self.settle(&mut out);
        out
    }

    /// Applies every shard's changes on the others until none is left, and delivers the
    /// packets shards hand each other, as the driver does.
    fn settle(&mut self, out: &mut Vec<Action>) {
        let mut changes = Vec::new();
        let mut handovers = Vec::new();
        loop {
            let mut any = false;
            for i in 0..self.shards.len() {
                self.shards[i].take_handovers(&mut handovers);
                for h in handovers.drain(..) {
                    any = true;
                    self.shards[usize::from(h.shard)].receive_handover(self.now, &h, out);
                }
                self.shards[i].take_changes(&mut changes);
                for change in changes.drain(..) {
                    any = true;
                    for (j, shard) in self.shards.iter_mut().enumerate() {
                        if j != i {
                            shard.apply(&change, self.now, out);
                        }
                    }
                    self.applied.push(change);
                }
            }
            if !any {
                return;
            }
        }
    }

    fn command(
        &mut self,
        face: FaceId,
        module: &str,
        verb: &str,
        cp: &ControlParameters,
    ) -> ControlResponse {
        self.nonce += 1;
        let interest = make_command_v03(
            module,
            verb,
            cp,
            &Signer::digest_sha256(),
            self.nonce,
            WALL_START + self.nonce,
        )
        .unwrap();
        let (shard, out) = self.recv(face, interest.wire());
        assert_eq!(shard, 0, "management goes to the leader");
        let reply = sent_to(&out, face);
        assert_eq!(reply.len(), 1, "{out:?}");
        let data = Data::decode(reply[0].fragment.clone().unwrap()).unwrap();
        ControlResponse::from_wire(data.content()).unwrap()
    }

    fn register(&mut self, from: FaceId, prefix: &str, face: FaceId) {
        let cp = ControlParameters {
            name: Some(name(prefix)),
            face_id: Some(face.0),
            ..ControlParameters::default()
        };
        let r = self.command(from, "rib", "register", &cp);
        assert_eq!(r.status_code, status_code::OK, "{r:?}");
    }

    /// A local consumer, and a network face towards another forwarder that `/` is routed
    /// to (registered through the leader's management).
    fn consumer_and_upstream(&mut self) -> (FaceId, FaceId) {
        let consumer = self.face("unix://c", FaceScope::Local, Persistency::OnDemand);
        let up = self.face(
            "udp4://10.0.0.2:6363",
            FaceScope::NonLocal,
            Persistency::Persistent,
        );
        self.register(consumer, "/", up);
        (consumer, up)
    }

    /// A name under `prefix` whose Interest belongs to shard `shard`.
    fn name_on(&self, prefix: &str, shard: u8) -> String {
        (0..1000)
            .map(|i| format!("/{}{i}/x", prefix.trim_start_matches('/')))
            .find(|n| {
                let i = InterestBuilder::new(name(n)).build().unwrap();
                self.dispatch.shard_of_frame(i.wire()) == shard
            })
            .unwrap()
    }
}

fn interest(n: &str) -> Bytes {
    InterestBuilder::new(name(n))
        .lifetime_ms(1000)
        .build()
        .unwrap()
        .wire()
        .clone()
}

fn data(n: &str) -> Bytes {
    DataBuilder::new(name(n), b"hi".to_vec())
        .freshness_ms(10_000)
        .sign(&Signer::digest_sha256())
        .unwrap()
}

fn only(out: &[Action], face: FaceId) -> LpPacket {
    let sent = sent_to(out, face);
    assert_eq!(sent.len(), 1, "expected one packet to {face}: {out:?}");
    sent.into_iter().next().unwrap()
}

#[test]
fn a_sole_forwarder_records_nothing() {
    let mut fwd = Forwarder::new(&Config::default(), Instant::now());
    let face = fwd.add_face(
        face_info(
            "udp4://10.0.0.2:6363",
            FaceScope::NonLocal,
            Persistency::Persistent,
        ),
        Instant::now(),
    );
    fwd.add_route(&name("/p"), face, 1);
    assert_eq!(fwd.shard(), Shard::SOLE);
    assert!(!fwd.has_changes());
}

#[test]
fn a_route_registered_on_the_leader_forwards_on_every_shard() {
    let mut net = Sharded::new(4);
    let app = net.face("unix://app", FaceScope::Local, Persistency::OnDemand);
    let up = net.face(
        "udp4://10.0.0.2:6363",
        FaceScope::NonLocal,
        Persistency::Persistent,
    );
    for shard in &net.shards {
        assert!(
            shard.faces().any(|(id, _)| id == up),
            "faces reach every shard"
        );
    }
    net.register(app, "/", up);
    for s in 1..4 {
        let n = net.name_on("/p", s);
        let (shard, out) = net.recv(app, interest(&n));
        assert_eq!(shard, usize::from(s));
        let lp = only(&out, up);
        let sent = Interest::decode(lp.fragment.clone().unwrap()).unwrap();
        assert_eq!(sent.name(), &name(&n));
        assert_eq!(net.shards[shard].pit().len(), 1);
    }
    // The leader's RIB holds the route; the others hold it in their FIB alone.
    assert_eq!(net.shards[0].rib().len(), 1);
    assert!(
        net.shards[1..]
            .iter()
            .all(|s| s.fib().get(&name("/")).is_some())
    );
}

#[test]
fn data_without_a_token_finds_the_shard_its_interest_went_to() {
    let mut net = Sharded::new(4);
    let consumer = net.face("unix://c", FaceScope::Local, Persistency::OnDemand);
    let producer = net.face("unix://p", FaceScope::Local, Persistency::OnDemand);
    net.register(producer, "/", producer);
    let n = net.name_on("/d", 3);
    let (shard, out) = net.recv(consumer, interest(&n));
    assert_eq!(shard, 3);
    let lp = only(&out, producer);
    // The token names shard 3; a local producer that does not echo it answers by name.
    let token = lp.pit_token.unwrap().as_u64().unwrap();
    assert_eq!(pit::shard_of_token(token), 3);
    let (shard, out) = net.recv(producer, data(&n));
    assert_eq!(shard, 3);
    let back = only(&out, consumer);
    assert_eq!(
        Data::decode(back.fragment.unwrap()).unwrap().name(),
        &name(&n)
    );
}

#[test]
fn data_with_our_token_goes_to_the_shard_named_in_it() {
    let mut net = Sharded::new(3);
    let (consumer, up) = net.consumer_and_upstream();
    let n = net.name_on("/t", 2);
    let (_, out) = net.recv(consumer, interest(&n));
    let request = only(&out, up);
    // The Data's name is longer (CanBePrefix would allow it); the token decides.
    let reply = LpPacket::from_fragment(data(&n))
        .echo_pit_token(&request)
        .encode_or_bare();
    let (shard, out) = net.recv(up, reply);
    assert_eq!(shard, 2);
    assert_eq!(sent_to(&out, consumer).len(), 1);
}

#[test]
fn a_closed_upstream_answers_each_shards_interests() {
    let mut net = Sharded::new(2);
    let (consumer, up) = net.consumer_and_upstream();
    let names = [net.name_on("/g", 0), net.name_on("/g", 1)];
    for n in &names {
        net.recv(consumer, interest(n));
    }
    // The driver tells the leader; the follower's Interest is answered by the follower.
    let out = net.close(up);
    let nacks: Vec<_> = sent_to(&out, consumer)
        .into_iter()
        .map(|lp| lp.nack.unwrap())
        .collect();
    assert_eq!(nacks, [NackReason::NoRoute, NackReason::NoRoute]);
    assert!(net.shards.iter().all(|s| s.faces().all(|(id, _)| id != up)));
    assert!(net.shards.iter().all(|s| s.fib().get(&name("/")).is_none()));
    assert!(net.shards.iter().all(|s| s.pit().is_empty()));
}

#[test]
fn a_route_to_a_face_closed_meanwhile_does_not_come_back() {
    let mut net = Sharded::new(2);
    let up = net.face(
        "udp4://10.0.0.2:6363",
        FaceScope::NonLocal,
        Persistency::Persistent,
    );
    // A change made before the face closed, applied after.
    net.close(up);
    let mut out = Vec::new();
    let late = Change::NextHop {
        prefix: name("/late"),
        face: up,
        attrs: Some((1, false)),
    };
    net.shards[1].apply(&late, net.now, &mut out);
    assert!(net.shards[1].fib().get(&name("/late")).is_none());
}

/// The strategy chosen for exactly `prefix`, as text.
fn chosen(fwd: &Forwarder, prefix: &str) -> Option<String> {
    fwd.strategies()
        .list()
        .into_iter()
        .find(|(p, _)| *p == name(prefix))
        .map(|(_, instance)| instance.to_string())
}

#[test]
fn strategy_choice_and_content_store_settings_reach_every_shard() {
    let mut net = Sharded::new(2);
    let app = net.face("unix://app", FaceScope::Local, Persistency::OnDemand);
    let cp = ControlParameters {
        name: Some(name("/m")),
        strategy: Some(name("/localhost/nfd/strategy/multicast")),
        ..ControlParameters::default()
    };
    assert_eq!(
        net.command(app, "strategy-choice", "set", &cp).status_code,
        200
    );
    for s in &net.shards {
        assert!(chosen(s, "/m").is_some_and(|i| i.contains("multicast")));
    }
    let cp = ControlParameters {
        capacity: Some(1000),
        ..ControlParameters::default()
    };
    let r = net.command(app, "cs", "config", &cp);
    assert_eq!(r.status_code, 200);
    // Each shard holds its part; the total is what was asked for.
    assert!(net.shards.iter().all(|s| s.cs().capacity() == 500));
    let cp = ControlParameters {
        name: Some(name("/m")),
        ..ControlParameters::default()
    };
    assert_eq!(
        net.command(app, "strategy-choice", "unset", &cp)
            .status_code,
        200
    );
    assert!(net.shards.iter().all(|s| chosen(s, "/m").is_none()));
}

#[test]
fn face_flags_set_by_management_reach_every_shard() {
    let mut net = Sharded::new(2);
    let app = net.face("unix://app", FaceScope::Local, Persistency::OnDemand);
    let cp = ControlParameters {
        face_persistency: Some(Persistency::Persistent.code()),
        flags: Some(1),
        mask: Some(1),
        ..ControlParameters::default()
    };
    let r = net.command(app, "faces", "update", &cp);
    assert_eq!(r.status_code, 200, "{r:?}");
    for s in &net.shards {
        let (_, state) = s.faces().find(|(id, _)| *id == app).unwrap();
        assert_eq!(state.info.persistency, Persistency::Persistent);
        assert!(state.local_fields);
    }
}

#[test]
fn a_followers_silence_makes_the_leader_probe_and_its_verdict_reaches_the_follower() {
    let mut config = Config::default();
    config.faces.liveness_interval_ms = 100;
    config.faces.liveness_timeout_ms = 400;
    config.chain.neighbour_timeout_ms = 0;
    let mut net = Sharded::with_config(2, &config);
    let consumer = net.face("unix://c", FaceScope::Local, Persistency::OnDemand);
    let up = net.face(
        "udp4://10.0.0.2:6363",
        FaceScope::NonLocal,
        Persistency::Persistent,
    );
    let other = net.face(
        "udp4://10.0.0.3:6363",
        FaceScope::NonLocal,
        Persistency::Persistent,
    );
    net.register(consumer, "/", up);
    // The peer answers the leader's hello: it speaks liveness.
    let hello = net.advance(50);
    let probe = only(&hello, up);
    let ack = LpPacket {
        acks: vec![probe.tx_sequence.unwrap()],
        ..LpPacket::default()
    };
    net.recv(up, ack.encode());
    assert!(
        net.shards[0]
            .faces()
            .any(|(id, s)| id == up && s.is_liveness_capable())
    );
    // Second route after the first, so the strategy has somewhere to retry.
    net.register(consumer, "/", other);
    // An Interest on the follower, never answered.
    let n = net.name_on("/s", 1);
    net.recv(consumer, interest(&n));
    let mut probes = 0;
    let mut down_out = Vec::new();
    for _ in 0..12 {
        let out = net.advance(50);
        probes += sent_to(&out, up)
            .iter()
            .filter(|lp| lp.tx_sequence.is_some())
            .count();
        if net.shards[1].faces().any(|(id, s)| id == up && s.is_down()) {
            down_out = out;
            break;
        }
    }
    assert!(probes >= 1, "the leader probed on the follower's word");
    assert!(
        net.applied
            .iter()
            .any(|c| matches!(c, Change::Awaiting { face, .. } if *face == up)),
        "the follower reported the silence"
    );
    assert!(net.shards[0].faces().any(|(id, s)| id == up && s.is_down()));
    // The follower's entry was not left waiting on a dead face.
    let retried = sent_to(&down_out, other);
    let nacked = sent_to(&down_out, consumer);
    assert_eq!(retried.len() + nacked.len(), 1, "{down_out:?}");
    // Heard again: up on every shard.
    net.recv(up, ack.encode());
    assert!(
        net.shards
            .iter()
            .all(|s| s.faces().all(|(_, f)| !f.is_down()))
    );
}

#[test]
fn a_chained_interest_on_a_follower_makes_the_neighbour_aware_everywhere() {
    let mut net = Sharded::new(2);
    let peer = net.face(
        "udp4://10.0.0.9:6363",
        FaceScope::NonLocal,
        Persistency::OnDemand,
    );
    let awareness = |net: &Sharded, s: usize| {
        net.shards[s]
            .faces()
            .find(|(id, _)| *id == peer)
            .map(|(_, f)| f.chain_awareness())
    };
    assert_eq!(awareness(&net, 1), Some(Awareness::Unknown));
    let n = net.name_on("/c", 1);
    let chained = InterestBuilder::new(name(&n))
        .function_chain(Some("/f".parse().unwrap()))
        .build()
        .unwrap();
    let (shard, _) = net.recv(peer, chained.wire());
    assert_eq!(shard, 1);
    assert_eq!(awareness(&net, 0), Some(Awareness::Aware));
    assert_eq!(awareness(&net, 1), Some(Awareness::Aware));
}

#[test]
fn each_shard_holds_its_part_of_the_table_bounds() {
    let mut config = Config::default();
    config.tables.cs_max_entries = 1001;
    let net = Sharded::with_config(2, &config);
    assert!(net.shards.iter().all(|s| s.cs().capacity() == 501));
}

#[test]
fn a_packet_reassembled_on_the_wrong_shard_is_handed_to_its_owner() {
    let mut net = Sharded::new(4);
    for shard in &mut net.shards {
        shard.set_dispatcher(net.dispatch.clone());
    }
    let consumer = net.face("unix://c", FaceScope::Local, Persistency::OnDemand);
    let mut info = face_info(
        "udp4://10.0.0.2:6363",
        FaceScope::NonLocal,
        Persistency::Persistent,
    );
    info.mtu = Some(300);
    let up = net.shards[0].add_face(info, net.now);
    let mut out = Vec::new();
    net.settle(&mut out);
    net.register(consumer, "/", up);
    // A Data of 1000 bytes whose Interest went to shard 2, in fragments.
    let n = net.name_on("/big", 2);
    net.recv(consumer, interest(&n));
    let big = DataBuilder::new(name(&n), vec![7; 1000])
        .sign(&Signer::digest_sha256())
        .unwrap();
    // Sequence numbers that put the fragments on another shard than the packet's.
    let (fragments, seq_shard) = (0..64u64)
        .find_map(|base| {
            let frags =
                nfwd_tlv::lp::fragment(&LpPacket::from_fragment(big.clone()), 300, base * 1000)
                    .unwrap();
            let s = net.dispatch.shard_of_frame(&frags[0]);
            (s != 2).then_some((frags, s))
        })
        .unwrap();
    assert!(fragments.len() > 1);
    // Straight to the shard, to see the hand-over (`recv` would deliver it).
    let mut delivered = Vec::new();
    for f in &fragments {
        assert_eq!(
            net.dispatch.shard_of_frame(f),
            seq_shard,
            "fragments go by sequence"
        );
        net.shards[usize::from(seq_shard)].receive(net.now, up, f, &mut delivered);
    }
    assert!(
        sent_to(&delivered, consumer).is_empty(),
        "not before the handover"
    );
    let mut handovers = Vec::new();
    net.shards[usize::from(seq_shard)].take_handovers(&mut handovers);
    assert_eq!(handovers.len(), 1);
    let h = &handovers[0];
    assert_eq!((h.shard, h.face), (2, up));
    let mut out = Vec::new();
    net.shards[2].receive_handover(net.now, h, &mut out);
    let back = only(&out, consumer);
    assert_eq!(
        Data::decode(back.fragment.unwrap())
            .unwrap()
            .content()
            .len(),
        1000
    );
}

/// The single segment of a small dataset, asked of the leader from `face`.
fn dataset(net: &mut Sharded, face: FaceId, dataset: &str) -> Bytes {
    let wire = InterestBuilder::new(name(dataset))
        .can_be_prefix(true)
        .must_be_fresh(true)
        .lifetime_ms(1000)
        .encode();
    let (shard, out) = net.recv(face, wire);
    assert_eq!(shard, 0);
    let lp = only(&out, face);
    let data = Data::decode(lp.fragment.unwrap()).unwrap();
    assert!(data.final_block_id().is_some(), "one segment");
    data.content().clone()
}

/// `status/general`, asked of the leader from `face`.
fn general_status(net: &mut Sharded, face: FaceId) -> nfwd_tlv::nfd::ForwarderStatus {
    let content = dataset(net, face, "/localhost/nfd/status/general");
    nfwd_tlv::nfd::ForwarderStatus::decode(&content).unwrap()
}

#[test]
fn status_datasets_sum_every_shards_figures() {
    use nfwd_tlv::nfd::{FaceStatus, decode_all};
    let mut net = Sharded::new(2);
    let (consumer, up) = net.consumer_and_upstream();
    // Three Interests on the follower, one on the leader, all pending.
    for k in 0..3 {
        let n = net.name_on(&format!("/f{k}-"), 1);
        net.recv(consumer, interest(&n));
    }
    let n = net.name_on("/l", 0);
    net.recv(consumer, interest(&n));
    let before = general_status(&mut net, consumer);
    // The leader has not heard from the follower yet.
    assert_eq!(before.n_pit_entries, 1);
    let report = net.shards[1].shard_report();
    assert_eq!(report.pit_entries, 3);
    net.shards[0].set_shard_report(report);
    let after = general_status(&mut net, consumer);
    assert_eq!(after.n_pit_entries, 4);
    assert_eq!(after.n_out_interests, before.n_out_interests + 3);
    let faces: Vec<FaceStatus> =
        decode_all(&dataset(&mut net, consumer, "/localhost/nfd/faces/list")).unwrap();
    let upstream = faces.iter().find(|f| f.face_id == up.0).unwrap();
    assert_eq!(
        upstream.n_out_interests, 4,
        "the face's counts on both shards"
    );
    // A report that claims to be of a shard that does not exist changes nothing.
    let mut bogus = net.shards[1].shard_report();
    bogus.shard = 7;
    bogus.pit_entries = 1000;
    net.shards[0].set_shard_report(bogus);
    let last = general_status(&mut net, consumer);
    assert_eq!(last.n_pit_entries, 4);
}

#[test]
fn a_tokenless_data_for_a_shorter_can_be_prefix_interest_reaches_its_shard() {
    let mut net = Sharded::with_prefix(4, 2);
    let consumer = net.face("unix://c", FaceScope::Local, Persistency::OnDemand);
    let producer = net.face("unix://p", FaceScope::Local, Persistency::OnDemand);
    net.register(producer, "/", producer);
    // An Interest of one component, and a Data two longer whose own shard differs.
    let (short, long) = (0..1000)
        .map(|i| (format!("/q{i}"), format!("/q{i}/v/1")))
        .find(|(s, l)| net.dispatch.shard_of_name(&name(s)) != net.dispatch.shard_of_name(&name(l)))
        .unwrap();
    let i = InterestBuilder::new(name(&short))
        .can_be_prefix(true)
        .lifetime_ms(1000)
        .build()
        .unwrap();
    let (interest_shard, out) = net.recv(consumer, i.wire());
    assert_eq!(sent_to(&out, producer).len(), 1);
    // The producer answers without our token: the Data lands on its own shard, finds
    // nothing there, and is handed to the owners of its shorter prefixes.
    let (data_shard, out) = net.recv(producer, data(&long));
    assert_ne!(data_shard, interest_shard);
    let back = only(&out, consumer);
    assert_eq!(
        Data::decode(back.fragment.unwrap()).unwrap().name(),
        &name(&long)
    );
    assert!(net.shards[interest_shard].pit().is_empty());
    // Not counted as unsolicited where it landed first; a Data nobody asked for is, once,
    // by each shard it reached, and handed on no further.
    let unsolicited = |net: &Sharded| {
        net.shards
            .iter()
            .map(|s| s.counters().unsolicited_data)
            .sum::<u64>()
    };
    assert_eq!(unsolicited(&net), 0);
    let (_, out) = net.recv(producer, data(&long));
    assert!(sent_to(&out, consumer).is_empty());
    let owners = net
        .dispatch
        .owners_of_shorter(&name(&long), data_shard as u8);
    assert!(!owners.is_empty());
    assert_eq!(unsolicited(&net), owners.len() as u64);
}

#[test]
fn with_one_component_nothing_is_handed_on() {
    let mut net = Sharded::with_prefix(4, 1);
    let producer = net.face("unix://p", FaceScope::Local, Persistency::OnDemand);
    net.recv(producer, data("/nobody/asked"));
    let mut handovers = Vec::new();
    for s in &mut net.shards {
        s.take_handovers(&mut handovers);
    }
    assert!(handovers.is_empty());
    let total: u64 = net
        .shards
        .iter()
        .map(|s| s.counters().unsolicited_data)
        .sum();
    assert_eq!(total, 1);
}

#[test]
fn cs_erase_on_the_leader_empties_every_shards_store() {
    let mut net = Sharded::new(2);
    let (consumer, up) = net.consumer_and_upstream();
    let n = net.name_on("/e", 1);
    let (_, out) = net.recv(consumer, interest(&n));
    let request = only(&out, up);
    let reply = LpPacket::from_fragment(data(&n))
        .echo_pit_token(&request)
        .encode_or_bare();
    net.recv(up, reply);
    assert_eq!(net.shards[1].cs().len(), 1, "cached on the follower");
    let cp = ControlParameters {
        name: Some(name(&n)),
        ..ControlParameters::default()
    };
    assert_eq!(net.command(consumer, "cs", "erase", &cp).status_code, 200);
    assert_eq!(net.shards[1].cs().len(), 0);
}

#[test]
fn the_leaders_unaware_verdict_answers_a_followers_chained_interest() {
    let mut config = Config::default();
    config.chain.neighbour_timeout_ms = 300;
    let mut net = Sharded::with_config(2, &config);
    let consumer = net.face("unix://c", FaceScope::Local, Persistency::OnDemand);
    // A forwarder we made a face to, which never answers the chain hello.
    let up = net.face(
        "udp4://10.0.0.7:6363",
        FaceScope::NonLocal,
        Persistency::Persistent,
    );
    net.register(consumer, "/", up);
    let n = net.name_on("/u", 1);
    let chained = InterestBuilder::new(name(&n))
        .function_chain(Some("/f".parse().unwrap()))
        .lifetime_ms(4000)
        .build()
        .unwrap();
    let (shard, out) = net.recv(consumer, chained.wire());
    assert_eq!(shard, 1);
    assert_eq!(
        sent_to(&out, up).len(),
        1,
        "sent while awareness is unknown"
    );
    let mut answered = Vec::new();
    for _ in 0..10 {
        answered.extend(net.advance(100));
    }
    let awareness = |s: &Forwarder| {
        s.faces()
            .find(|(id, _)| *id == up)
            .map(|(_, f)| f.chain_awareness())
    };
    assert_eq!(awareness(&net.shards[1]), Some(Awareness::Unaware));
    assert_eq!(sent_to(&answered, consumer).len(), 1, "{answered:?}");
    assert!(net.shards[1].pit().is_empty());
}

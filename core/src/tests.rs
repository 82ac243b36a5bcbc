//! Deterministic tests of the core: frames in, actions out, time passed by hand.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason, Reassembler, ReassemblerConfig};
use nfwd_tlv::{Data, DataBuilder, FunctionChain, Interest, InterestBuilder, Name, Signer};

use super::rib::Route;
use super::*;
use crate::config::Config;

struct Net {
    fwd: Forwarder,
    now: Instant,
    out: Vec<Action>,
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn face_info(uri: &str, scope: FaceScope, mtu: Option<usize>) -> FaceInfo {
    FaceInfo {
        remote_uri: uri.into(),
        local_uri: "test://".into(),
        scope,
        persistency: Persistency::Persistent,
        link_type: LinkType::PointToPoint,
        mtu,
        peer: None,
        channel: None,
    }
}

impl Net {
    fn new() -> Self {
        Self::with_config(&Config::default())
    }

    fn with_config(config: &Config) -> Self {
        let now = Instant::now();
        Self {
            fwd: Forwarder::new(config, now),
            now,
            out: Vec::new(),
        }
    }

    fn face(&mut self, uri: &str, scope: FaceScope) -> FaceId {
        self.fwd.add_face(face_info(uri, scope, None), self.now)
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
}

fn interest(n: &str) -> InterestBuilder {
    InterestBuilder::new(name(n)).lifetime_ms(1000)
}

fn data(n: &str, chain: Option<&str>, content: &[u8]) -> Bytes {
    DataBuilder::new(name(n), content.to_vec())
        .function_chain(chain.map(|c| c.parse().unwrap()))
        .freshness_ms(10_000)
        .sign(&Signer::digest_sha256())
        .unwrap()
}

/// The frames sent to `face`, decoded as LP packets.
pub(super) fn sent_to(actions: &[Action], face: FaceId) -> Vec<LpPacket> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { face: f, frame } if *f == face => {
                Some(LpPacket::decode(frame.clone()).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn only_interest(actions: &[Action], face: FaceId) -> (Interest, LpPacket) {
    let sent = sent_to(actions, face);
    assert_eq!(
        sent.len(),
        1,
        "expected one packet to face {face}, got {actions:?}"
    );
    let lp = sent.into_iter().next().unwrap();
    assert!(lp.nack.is_none());
    (Interest::decode(lp.fragment.clone().unwrap()).unwrap(), lp)
}

fn only_data(actions: &[Action], face: FaceId) -> Data {
    let sent = sent_to(actions, face);
    assert_eq!(
        sent.len(),
        1,
        "expected one packet to face {face}, got {actions:?}"
    );
    Data::decode(sent[0].fragment.clone().unwrap()).unwrap()
}

fn only_nack(actions: &[Action], face: FaceId) -> NackReason {
    let sent = sent_to(actions, face);
    assert_eq!(
        sent.len(),
        1,
        "expected one Nack to face {face}, got {actions:?}"
    );
    sent[0].nack.expect("a Nack")
}

/// Echoes the PIT token of `request` on `data` as an upstream does.
fn reply(request: &LpPacket, data: Bytes) -> Bytes {
    LpPacket::from_fragment(data)
        .echo_pit_token(request)
        .encode_or_bare()
}

#[test]
fn interest_goes_up_and_data_comes_back() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let producer = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), producer, 10);
    let acts = net.recv(consumer, interest("/p/x").encode());
    let (up, lp) = only_interest(&acts, producer);
    assert_eq!(up.name(), &name("/p/x"));
    assert!(up.nonce().is_some(), "the forwarder adds a Nonce");
    assert!(lp.pit_token.is_some());
    let acts = net.recv(producer, reply(&lp, data("/p/x", None, b"hello")));
    assert_eq!(only_data(&acts, consumer).content().as_ref(), b"hello");
    assert!(net.fwd.pit().is_empty());
    assert_eq!(net.fwd.counters().satisfied_interests, 1);
    // The same Data without the token matches by name too (a second round trip).
    let acts = net.recv(consumer, interest("/p/y").encode());
    only_interest(&acts, producer);
    let acts = net.recv(producer, data("/p/y", None, b"y"));
    only_data(&acts, consumer);
}

#[test]
fn identical_interests_aggregate_and_the_cache_answers_later_ones() {
    let mut net = Net::new();
    let c1 = net.face("unix://1", FaceScope::Local);
    let c2 = net.face("unix://2", FaceScope::Local);
    let c3 = net.face("unix://3", FaceScope::Local);
    let p = net.face("tcp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), p, 0);
    let acts = net.recv(c1, interest("/p/a").nonce([1, 1, 1, 1]).encode());
    let (_, lp) = only_interest(&acts, p);
    let acts = net.recv(c2, interest("/p/a").nonce([2, 2, 2, 2]).encode());
    assert!(
        sent_to(&acts, p).is_empty(),
        "aggregated, not forwarded again"
    );
    let acts = net.recv(p, reply(&lp, data("/p/a", None, b"v")));
    only_data(&acts, c1);
    only_data(&acts, c2);
    let acts = net.recv(c3, interest("/p/a").encode());
    assert_eq!(only_data(&acts, c3).content().as_ref(), b"v");
    assert_eq!(net.fwd.cs().counters().hits, 1);
    assert!(net.fwd.pit().is_empty(), "a cache hit creates no PIT entry");
}

#[test]
fn no_route_is_a_prompt_nack_and_unsolicited_data_is_dropped() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let acts = net.recv(c, interest("/nowhere").encode());
    assert_eq!(only_nack(&acts, c), NackReason::NoRoute);
    let acts = net.recv(c, data("/nowhere", None, b"x"));
    assert!(acts.is_empty());
    assert_eq!(net.fwd.counters().unsolicited_data, 1);
    assert!(
        net.fwd.cs().is_empty(),
        "unsolicited Data is not cached by default"
    );
}

#[test]
fn never_back_to_the_incoming_face() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    net.fwd.add_route(&name("/"), c, 0);
    let acts = net.recv(c, interest("/a").encode());
    assert_eq!(only_nack(&acts, c), NackReason::NoRoute);
}

#[test]
fn loops_are_detected_by_nonce_in_the_pit_and_the_dead_nonce_list() {
    let mut net = Net::new();
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let b = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    let p = net.face("udp4://10.0.0.3:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), p, 0);
    let i = interest("/p/loop").nonce([9, 9, 9, 9]).encode();
    let acts = net.recv(a, i.clone());
    let (_, lp) = only_interest(&acts, p);
    let acts = net.recv(b, i);
    assert_eq!(only_nack(&acts, b), NackReason::Duplicate);
    assert_eq!(net.fwd.counters().loops, 1);
    // After the entry is satisfied by Data the content store keeps, a late looping copy is
    // answered from the store, and its nonce took no room in the dead nonce list (NFD's rule).
    net.recv(p, reply(&lp, data("/p/loop", None, b"d")));
    let copy = |n: &str, fresh: bool| {
        InterestBuilder::new(name(n))
            .nonce([9, 9, 9, 9])
            .must_be_fresh(fresh)
            .encode()
    };
    let acts = net.recv(b, copy("/p/loop", false));
    assert_eq!(&only_data(&acts, b).content()[..], b"d");
    assert_eq!(net.fwd.counters().loops, 1);
    assert_eq!(net.fwd.dead_nonces(), 0);

    // MustBeFresh, and the Data fresh for less than the list remembers a nonce (1 s < 6 s):
    // the store would stop answering a copy, so the nonce is dead and the copy is caught.
    let acts = net.recv(a, copy("/p/brief", true));
    let (_, lp) = only_interest(&acts, p);
    let brief = DataBuilder::new(name("/p/brief"), b"d".to_vec())
        .freshness_ms(1000)
        .sign(&Signer::digest_sha256())
        .unwrap();
    net.recv(p, reply(&lp, brief));
    assert_eq!(net.fwd.dead_nonces(), 1);
    let acts = net.recv(b, copy("/p/brief", true));
    assert_eq!(only_nack(&acts, b), NackReason::Duplicate);

    // Data that may not be cached (NoCache): nothing else would catch a copy.
    let acts = net.recv(a, copy("/p/nocache", false));
    let (_, lp) = only_interest(&acts, p);
    let uncached = LpPacket {
        cache_policy: Some(nfwd_tlv::lp::CachePolicyType::NoCache),
        ..LpPacket::from_fragment(data("/p/nocache", None, b"d"))
    }
    .echo_pit_token(&lp)
    .encode();
    net.recv(p, uncached);
    let acts = net.recv(b, copy("/p/nocache", false));
    assert_eq!(only_nack(&acts, b), NackReason::Duplicate);
    assert_eq!(net.fwd.counters().loops, 3);
}

#[test]
fn unanswered_interests_expire() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let p = net.face("udp4://10.0.0.3:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), p, 0);
    net.recv(c, interest("/p/slow").lifetime_ms(100).encode());
    assert_eq!(net.fwd.pit().len(), 1);
    net.advance(50);
    assert_eq!(net.fwd.pit().len(), 1);
    net.advance(100);
    assert!(net.fwd.pit().is_empty());
    assert_eq!(net.fwd.counters().unsatisfied_interests, 1);
    // A late Data is unsolicited.
    net.recv(p, data("/p/slow", None, b"late"));
    assert_eq!(net.fwd.counters().unsolicited_data, 1);
}

#[test]
fn congestion_marks_are_carried_on_as_nfd_does() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let p = net.face("unix://p", FaceScope::Local);
    net.fwd.add_route(&name("/p"), p, 0);
    let marked = |frame: Bytes| {
        LpPacket {
            congestion_mark: Some(1),
            ..LpPacket::from_fragment(frame)
        }
        .encode()
    };
    // A marked Interest leaves marked; its marked Data comes back marked.
    let acts = net.recv(c, marked(interest("/p/a").nonce([1, 0, 0, 0]).encode()));
    let (_, lp) = only_interest(&acts, p);
    assert_eq!(lp.congestion_mark, Some(1));
    let answer = LpPacket {
        congestion_mark: Some(1),
        ..LpPacket::from_fragment(data("/p/a", None, b"x"))
    }
    .echo_pit_token(&lp)
    .encode();
    let acts = net.recv(p, answer);
    let sent = sent_to(&acts, c);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].congestion_mark, Some(1));
    // The same Data from the content store carries no mark (it is not on the congested path).
    let acts = net.recv(c, interest("/p/a").nonce([2, 0, 0, 0]).encode());
    assert_eq!(sent_to(&acts, c)[0].congestion_mark, None);
    // Unmarked packets stay unmarked (and bare: nothing added on the common path).
    let acts = net.recv(c, interest("/p/b").nonce([3, 0, 0, 0]).encode());
    let (_, lp) = only_interest(&acts, p);
    assert_eq!(lp.congestion_mark, None);
    let acts = net.recv(p, data("/p/b", None, b"y"));
    let frame = acts
        .iter()
        .find_map(|a| match a {
            Action::Send { face, frame } if *face == c => Some(frame.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(frame, data("/p/b", None, b"y"));
    // A marked Nack passes its mark to the downstream's Nack; the Interest sent on did not
    // carry the next Interest's mark over.
    let acts = net.recv(c, interest("/p/n").nonce([4, 0, 0, 0]).encode());
    let (up_n, lp) = only_interest(&acts, p);
    assert_eq!(lp.congestion_mark, None);
    let nack = LpPacket {
        congestion_mark: Some(1),
        ..LpPacket::nack(NackReason::Congestion, up_n.wire().clone())
    }
    .encode();
    let acts = net.recv(p, nack);
    let sent = sent_to(&acts, c);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].nack, Some(NackReason::Congestion));
    assert_eq!(sent[0].congestion_mark, Some(1));
}

#[test]
fn best_route_retries_another_next_hop_on_retransmission_and_on_nack() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let p1 = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let p2 = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), p1, 1);
    net.fwd.add_route(&name("/p"), p2, 2);
    let acts = net.recv(c, interest("/p/r").nonce([1, 0, 0, 0]).encode());
    only_interest(&acts, p1);
    // Within the suppression interval a retransmission is suppressed.
    let acts = net.recv(c, interest("/p/r").nonce([2, 0, 0, 0]).encode());
    assert!(acts.is_empty());
    assert_eq!(net.fwd.counters().suppressed, 1);
    net.advance(20);
    let acts = net.recv(c, interest("/p/r").nonce([3, 0, 0, 0]).encode());
    only_interest(&acts, p2);

    // Nack: the next cheapest untried hop, then a Nack downstream when all refused.
    let acts = net.recv(c, interest("/p/n").nonce([4, 0, 0, 0]).encode());
    let (up1, _) = only_interest(&acts, p1);
    let nack1 = LpPacket::nack(NackReason::Congestion, up1.wire().clone()).encode();
    let acts = net.recv(p1, nack1);
    let (up2, _) = only_interest(&acts, p2);
    let nack2 = LpPacket::nack(NackReason::NoRoute, up2.wire().clone()).encode();
    let acts = net.recv(p2, nack2);
    assert_eq!(
        only_nack(&acts, c),
        NackReason::Congestion,
        "the least severe reason"
    );
    assert_eq!(
        net.fwd.pit().len(),
        1,
        "the rejected entry is gone; /p/r still waits"
    );
}

#[test]
fn multicast_sends_to_every_next_hop() {
    let mut config = Config::default();
    config.strategies.push(config::StrategyChoiceConfig {
        prefix: "/m".into(),
        strategy: "/localhost/nfd/strategy/multicast".into(),
    });
    let mut net = Net::with_config(&config);
    let c = net.face("unix://c", FaceScope::Local);
    let p1 = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let p2 = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/m"), p1, 1);
    net.fwd.add_route(&name("/m"), p2, 2);
    let acts = net.recv(c, interest("/m/x").encode());
    only_interest(&acts, p1);
    only_interest(&acts, p2);
    assert_eq!(net.fwd.strategies().list().len(), 2);
}

#[test]
fn hop_limit_and_localhost_scope() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let remote = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let app = net.face("unix://app", FaceScope::Local);
    net.fwd.add_route(&name("/h"), remote, 0);
    net.fwd.add_route(&name("/h"), app, 5);
    assert!(
        net.recv(c, interest("/h/zero").hop_limit(0).encode())
            .is_empty()
    );
    // HopLimit 1 reaches 0 here: only local faces remain eligible.
    let acts = net.recv(c, interest("/h/one").hop_limit(1).encode());
    let (i, _) = only_interest(&acts, app);
    assert_eq!(i.hop_limit(), Some(0));
    let acts = net.recv(c, interest("/h/two").hop_limit(2).encode());
    assert_eq!(only_interest(&acts, remote).0.hop_limit(), Some(1));
    // /localhost never comes from nor goes to a non-local face.
    assert!(
        net.recv(remote, interest("/localhost/x").encode())
            .is_empty()
    );
    net.fwd.add_route(&name("/localhost/y"), remote, 0);
    let acts = net.recv(c, interest("/localhost/y").encode());
    assert_eq!(only_nack(&acts, c), NackReason::NoRoute);
}

/// Found by the `forwarder_session` fuzz target: the entry keeps the latest Interest, here a
/// local application's with a `/localhost` ForwardingHint; the Nack the remote downstream
/// gets must not carry that hint.
#[test]
fn a_nack_to_a_remote_downstream_never_carries_a_local_apps_localhost_hint() {
    let mut net = Net::new();
    let remote = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let app = net.face("unix://app", FaceScope::Local);
    let up = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/app"), up, 0);
    let acts = net.recv(remote, interest("/app/x").nonce([1, 0, 0, 0]).encode());
    let (sent, _) = only_interest(&acts, up);
    net.recv(
        app,
        interest("/app/x")
            .nonce([2, 0, 0, 0])
            .forwarding_hint(vec![name("/localhost/hint")])
            .encode(),
    );
    let acts = net.recv(
        up,
        LpPacket::nack(NackReason::NoRoute, sent.wire().clone()).encode(),
    );
    for lp in sent_to(&acts, remote) {
        let nacked = Interest::decode(lp.fragment.clone().unwrap()).unwrap();
        assert!(lp.nack.is_some(), "{lp:?}");
        assert!(nacked.forwarding_hint().is_empty(), "{nacked:?}");
        assert_eq!(nacked.nonce(), Some([1, 0, 0, 0]), "the remote's own nonce");
    }
    assert_eq!(sent_to(&acts, remote).len(), 1, "{acts:?}");
    // The local application gets its Nack with its hint.
    let to_app = sent_to(&acts, app);
    assert_eq!(to_app.len(), 1, "{acts:?}");
    let nacked = Interest::decode(to_app[0].fragment.clone().unwrap()).unwrap();
    assert_eq!(nacked.forwarding_hint(), [name("/localhost/hint")]);
}

/// Found by the `forwarder_session` fuzz target: the retry after a Nack must keep the scope
/// rules of the first transmission.
#[test]
fn a_retry_after_a_nack_keeps_the_scope_rules() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let app = net.face("unix://app", FaceScope::Local);
    let remote = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    for prefix in ["/localhost/z", "/h"] {
        net.fwd.add_route(&name(prefix), app, 0);
        net.fwd.add_route(&name(prefix), remote, 1);
    }
    for wire in [
        interest("/localhost/z").encode(),
        interest("/h/one").hop_limit(1).encode(),
    ] {
        let acts = net.recv(c, wire);
        let (up, _) = only_interest(&acts, app);
        let acts = net.recv(
            app,
            LpPacket::nack(NackReason::NoRoute, up.wire().clone()).encode(),
        );
        assert!(sent_to(&acts, remote).is_empty(), "{acts:?}");
        assert_eq!(only_nack(&acts, c), NackReason::NoRoute);
    }
}

#[test]
fn pit_is_bounded_under_a_flood() {
    let mut config = Config::default();
    config.tables.pit_max_entries = 100;
    let mut net = Net::with_config(&config);
    let attacker = net.face("udp4://10.6.6.6:6363", FaceScope::NonLocal);
    let victim = net.face("unix://v", FaceScope::Local);
    let p = net.face("udp4://10.0.0.3:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/"), p, 0);
    for i in 0..1000 {
        net.recv(attacker, interest(&format!("/flood/{i}")).encode());
    }
    // One face takes at most what leaves as much free: half the PIT here.
    let held = net.fwd.pit().len();
    assert_eq!(held, 50);
    let c = net.fwd.counters();
    assert_eq!(c.pit_full + c.pit_quota, 1000 - held as u64);
    // Another face gets through during the flood, and after it.
    let acts = net.recv(victim, interest("/ok").encode());
    only_interest(&acts, p);
    net.advance(1500);
    let acts = net.recv(victim, interest("/ok2").encode());
    only_interest(&acts, p);
}

#[test]
fn malformed_frames_are_counted_and_harmless() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    for junk in [
        &b""[..],
        &[0x05, 0x00],
        &[0x06, 0x02, 0x07, 0x00],
        &[0x64, 0x01],
        &[0xFF; 12],
        &[0x05, 0x03, 0x07, 0x01, 0x08],
    ] {
        assert!(net.recv(c, Bytes::copy_from_slice(junk)).is_empty());
    }
    assert!(net.fwd.counters().malformed >= 5);
    assert!(net.fwd.faces().next().unwrap().1.counters.drop_malformed >= 5);
}

#[test]
fn closing_a_face_removes_its_routes_and_records() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let p = net.face("unix://p", FaceScope::Local);
    net.fwd.add_route(&name("/p"), p, 0);
    net.recv(c, interest("/p/x").encode());
    assert_eq!(net.fwd.pit().len(), 1);
    net.fwd.face_closed(c, net.now, &mut net.out);
    assert!(net.fwd.pit().is_empty());
    net.fwd.face_closed(p, net.now, &mut net.out);
    assert!(net.fwd.fib().is_empty());
    assert!(net.fwd.rib().is_empty());
}

#[test]
fn large_data_is_fragmented_on_datagram_faces_and_reassembled() {
    let mut net = Net::new();
    let c = net.fwd.add_face(
        face_info("udp4://10.0.0.9:6363", FaceScope::NonLocal, Some(1200)),
        net.now,
    );
    let p = net.fwd.add_face(
        face_info("udp4://10.0.0.8:6363", FaceScope::NonLocal, Some(1200)),
        net.now,
    );
    net.fwd.add_route(&name("/big"), p, 0);
    let acts = net.recv(c, interest("/big/x").encode());
    let (_, lp) = only_interest(&acts, p);
    let big = data("/big/x", None, &vec![7u8; 5000]);
    let frames = nfwd_tlv::lp::fragment(
        &LpPacket::from_fragment(big.clone()).echo_pit_token(&lp),
        1200,
        0,
    )
    .unwrap();
    assert!(frames.len() > 4);
    let mut acts = Vec::new();
    for f in frames.into_iter().rev() {
        acts.extend(net.recv(p, f));
    }
    let to_c: Vec<Bytes> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Send { face, frame } if *face == c => Some(frame.clone()),
            _ => None,
        })
        .collect();
    assert!(to_c.len() > 4 && to_c.iter().all(|f| f.len() <= 1200));
    let mut r = Reassembler::new(ReassemblerConfig::default());
    let mut whole = None;
    for f in to_c {
        whole = r
            .receive((), LpPacket::decode(f).unwrap(), net.now)
            .unwrap()
            .or(whole);
    }
    assert_eq!(whole.unwrap().fragment.unwrap(), big);
}

#[test]
fn a_forwarded_interest_above_the_mtu_is_fragmented_with_its_pit_token() {
    // The forwarded Interest is written behind its LpPacket header in one pass; above the
    // next hop's MTU it is read back and cut, and must reassemble whole.
    let mut net = Net::new();
    let c = net.fwd.add_face(
        face_info("udp4://10.0.0.9:6363", FaceScope::NonLocal, Some(1200)),
        net.now,
    );
    let p = net.fwd.add_face(
        face_info("udp4://10.0.0.8:6363", FaceScope::NonLocal, Some(1200)),
        net.now,
    );
    net.fwd.add_route(&name("/big"), p, 0);
    let big = interest("/big/q")
        .app_parameters(Bytes::from(vec![3u8; 3000]))
        .encode();
    let mut acts = Vec::new();
    for f in nfwd_tlv::lp::fragment(&LpPacket::from_fragment(big), 1200, 0).unwrap() {
        acts.extend(net.recv(c, f));
    }
    let to_p: Vec<Bytes> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Send { face, frame } if *face == p => Some(frame.clone()),
            _ => None,
        })
        .collect();
    assert!(to_p.len() > 2 && to_p.iter().all(|f| f.len() <= 1200));
    let mut r = Reassembler::new(ReassemblerConfig::default());
    let mut whole = None;
    for f in to_p {
        whole = r
            .receive((), LpPacket::decode(f).unwrap(), net.now)
            .unwrap()
            .or(whole);
    }
    let whole = whole.expect("the fragments reassemble");
    assert!(whole.pit_token.is_some());
    let out = Interest::decode(whole.fragment.unwrap()).unwrap();
    assert_eq!(out.name().prefix(2), name("/big/q"));
    assert_eq!(out.app_parameters().map(Bytes::len), Some(3000));
}

// ---------------------------------------------------------------------------------------------
// Function chaining (docs/protocol.md)

/// An SF on `face` registers its function for itself (as `rib/register` from that face does).
fn host(net: &mut Net, function: &str, face: FaceId) {
    let route = Route {
        face,
        origin: 0,
        cost: 0,
        flags: 1,
        expires: None,
        hosted: true,
    };
    net.fwd.add_route_with(&name(function), route);
}

fn chain(s: &str) -> Option<FunctionChain> {
    Some(s.parse().unwrap())
}

#[test]
fn chain_is_popped_towards_the_local_sf_and_the_result_comes_back() {
    let mut net = Net::new();
    let consumer = net.face("unix://consumer", FaceScope::Local);
    let sf1 = net.face("unix://sf1", FaceScope::Local);
    let producer = net.face("udp4://10.0.0.5:6363", FaceScope::NonLocal);
    host(&mut net, "/sf/F1", sf1);
    net.fwd.add_route(&name("/rs1"), producer, 0);

    let req = interest("/rs1/lamp/2256")
        .function_chain(chain("/sf/F1"))
        .encode();
    let acts = net.recv(consumer, req);
    let (to_sf, sf_lp) = only_interest(&acts, sf1);
    assert!(
        to_sf.function_chain().is_none(),
        "the head was popped for the local SF"
    );
    assert_eq!(net.fwd.counters().functions_popped, 1);

    // The SF fetches its input with the remaining (empty) stack.
    let acts = net.recv(sf1, interest("/rs1/lamp/2256").encode());
    let (to_prod, prod_lp) = only_interest(&acts, producer);
    assert!(to_prod.function_chain().is_none());
    let acts = net.recv(
        producer,
        reply(&prod_lp, data("/rs1/lamp/2256", None, b"raw")),
    );
    assert_eq!(only_data(&acts, sf1).content().as_ref(), b"raw");

    // The SF answers with the chain it computed; it reaches the consumer.
    let result = data("/rs1/lamp/2256", Some("/sf/F1"), b"RAW");
    let acts = net.recv(sf1, reply(&sf_lp, result));
    let got = only_data(&acts, consumer);
    assert_eq!(got.content().as_ref(), b"RAW");
    assert_eq!(got.function_chain(), chain("/sf/F1").as_ref());
    assert!(net.fwd.pit().is_empty());

    // Both the raw content and the result are cached, each under its own chain.
    let c2 = net.face("unix://c2", FaceScope::Local);
    let acts = net.recv(c2, interest("/rs1/lamp/2256").encode());
    assert_eq!(only_data(&acts, c2).content().as_ref(), b"raw");
    let acts = net.recv(
        c2,
        interest("/rs1/lamp/2256")
            .function_chain(chain("/sf/F1"))
            .encode(),
    );
    assert_eq!(only_data(&acts, c2).content().as_ref(), b"RAW");
}

/// Round trips land in the face's and the forwarder's histograms; chained exchanges that
/// end (Data, error Data, Nack, timeout) are kept newest first, a bounded number of them.
#[test]
fn round_trips_and_ended_chains_are_observed() {
    // No chain hello: the silent peer stays a chain-aware neighbour, so its chain times out.
    let mut config = Config::default();
    config.chain.neighbour_timeout_ms = 0;
    let mut net = Net::with_config(&config);
    let consumer = net.face("unix://consumer", FaceScope::Local);
    let sf1 = net.face("unix://sf1", FaceScope::Local);
    let peer = net.face("udp4://10.0.0.5:6363", FaceScope::NonLocal);
    host(&mut net, "/sf/F1", sf1);
    net.fwd.add_route(&name("/sf/F2"), peer, 0);
    net.fwd.add_route(&name("/rs1"), peer, 0);

    // A chain popped towards the local SF, answered 3 ms later.
    let acts = net.recv(
        consumer,
        interest("/rs1/a").function_chain(chain("/sf/F1")).encode(),
    );
    let (_, sf_lp) = only_interest(&acts, sf1);
    net.advance(3);
    let acts = net.recv(sf1, reply(&sf_lp, data("/rs1/a", Some("/sf/F1"), b"A")));
    only_data(&acts, consumer);
    // A plain Interest, answered by the peer.
    let acts = net.recv(consumer, interest("/rs1/b").encode());
    let (_, lp) = only_interest(&acts, peer);
    net.advance(1);
    net.recv(peer, reply(&lp, data("/rs1/b", None, b"B")));
    // A chain sent on to the peer, which refuses it.
    let acts = net.recv(
        consumer,
        interest("/rs1/c").function_chain(chain("/sf/F2")).encode(),
    );
    let (up, _) = only_interest(&acts, peer);
    let acts = net.recv(
        peer,
        LpPacket::nack(NackReason::Congestion, up.wire().clone()).encode(),
    );
    assert_eq!(only_nack(&acts, consumer), NackReason::Congestion);
    // A chain the SF answers with an error Data.
    let acts = net.recv(
        consumer,
        interest("/rs1/d").function_chain(chain("/sf/F1")).encode(),
    );
    let (_, sf_lp) = only_interest(&acts, sf1);
    let error = DataBuilder::new(name("/rs1/d"), b"{}".to_vec())
        .function_chain(chain("/sf/F1"))
        .content_type(nfwd_tlv::types::content_type::NACK)
        .sign(&Signer::digest_sha256())
        .unwrap();
    net.recv(sf1, reply(&sf_lp, error));
    // A chain nobody answers.
    net.recv(
        consumer,
        interest("/rs1/e").function_chain(chain("/sf/F2")).encode(),
    );
    net.advance(1500);

    let face_rtt = |net: &Net, f: FaceId| net.fwd.faces[&f].rtt.count();
    assert_eq!(face_rtt(&net, sf1), 2, "the result and the error Data");
    assert_eq!(
        face_rtt(&net, peer),
        1,
        "the plain Data; the Nack is no round trip"
    );
    assert_eq!(face_rtt(&net, consumer), 0);
    assert_eq!(net.fwd.observed.upstream_rtt.count(), 1);
    assert_eq!(net.fwd.observed.chain_hop_rtt.count(), 2);

    let chains = net.fwd.observed.recent_chains();
    let seen: Vec<(&str, &str, Option<u64>, bool)> = chains
        .iter()
        .map(|c| (c.name.as_str(), c.outcome, c.upstream, c.local))
        .collect();
    assert_eq!(
        seen,
        [
            ("/rs1/e", "timeout", Some(peer.0), false),
            ("/rs1/d", "error", Some(sf1.0), true),
            ("/rs1/c", "nack", Some(peer.0), false),
            ("/rs1/a", "data", Some(sf1.0), true),
        ]
    );
    assert_eq!(chains[2].reason.as_deref(), Some("Congestion"));
    assert_eq!(chains[0].latency_us, None);
    assert!(
        chains[3].latency_us.is_some_and(|us| us >= 3000),
        "{chains:?}"
    );
    assert_eq!(chains[3].chain, ["/sf/F1"]);
    assert_eq!(chains[3].downstreams, [consumer.0]);

    // A flood of chained Interests keeps only the newest.
    for k in 0..observe::RECENT_CHAINS + 10 {
        let n = format!("/none/{k}");
        net.recv(
            consumer,
            interest(&n).function_chain(chain("/sf/none")).encode(),
        );
    }
    let chains = net.fwd.observed.recent_chains();
    assert_eq!(chains.len(), observe::RECENT_CHAINS);
    assert_eq!(
        chains[0].name,
        format!("/none/{}", observe::RECENT_CHAINS + 9)
    );
    assert_eq!((chains[0].outcome, chains[0].upstream), ("nack", None));
}

#[test]
fn different_chains_never_mix_and_identical_chains_aggregate() {
    let mut net = Net::new();
    let a = net.face("unix://a", FaceScope::Local);
    let b = net.face("unix://b", FaceScope::Local);
    let c = net.face("unix://c", FaceScope::Local);
    let f1 = net.face("unix://f1", FaceScope::Local);
    let f2 = net.face("unix://f2", FaceScope::Local);
    host(&mut net, "/sf/F1", f1);
    host(&mut net, "/sf/F2", f2);
    let acts = net.recv(a, interest("/c").function_chain(chain("/sf/F1")).encode());
    let (_, lp1) = only_interest(&acts, f1);
    let acts = net.recv(b, interest("/c").function_chain(chain("/sf/F2")).encode());
    let (_, lp2) = only_interest(&acts, f2);
    let acts = net.recv(c, interest("/c").function_chain(chain("/sf/F1")).encode());
    assert!(acts.is_empty(), "identical chained request aggregated");
    assert_eq!(net.fwd.pit().len(), 2);
    // A result of F2 does not satisfy the F1 requests, even by name.
    let acts = net.recv(f2, reply(&lp2, data("/c", Some("/sf/F2"), b"two")));
    assert_eq!(only_data(&acts, b).content().as_ref(), b"two");
    assert!(sent_to(&acts, a).is_empty() && sent_to(&acts, c).is_empty());
    // A result labelled with the wrong chain matches nothing.
    let acts = net.recv(f1, data("/c", Some("/sf/F3"), b"forged"));
    assert!(acts.is_empty());
    let acts = net.recv(f1, reply(&lp1, data("/c", Some("/sf/F1"), b"one")));
    assert_eq!(only_data(&acts, a).content().as_ref(), b"one");
    assert_eq!(only_data(&acts, c).content().as_ref(), b"one");
}

#[test]
fn remote_functions_are_forwarded_with_the_stack_intact() {
    let mut net = Net::new();
    let consumer = net.face("unix://consumer", FaceScope::Local);
    let neighbour = net.face("quic://10.0.0.7:6367", FaceScope::NonLocal);
    net.fwd.add_route(&name("/sf"), neighbour, 0);
    let acts = net.recv(
        consumer,
        interest("/c")
            .function_chain(chain("/sf/F3,/sf/F2,/sf/F1"))
            .encode(),
    );
    let (up, _) = only_interest(&acts, neighbour);
    assert_eq!(
        up.function_chain().unwrap().to_string(),
        "/sf/F3,/sf/F2,/sf/F1"
    );
    assert_eq!(net.fwd.counters().functions_popped, 0);
}

#[test]
fn unknown_functions_and_long_chains_fail_fast() {
    let mut config = Config::default();
    config.chain.max_functions = 2;
    let mut net = Net::with_config(&config);
    let c = net.face("unix://c", FaceScope::Local);
    let p = net.face("udp4://10.0.0.5:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/c"), p, 0);
    // A route for the content does not help an unknown function.
    let acts = net.recv(
        c,
        interest("/c/x")
            .function_chain(chain("/sf/unknown"))
            .encode(),
    );
    assert_eq!(only_nack(&acts, c), NackReason::NoRoute);
    let acts = net.recv(
        c,
        interest("/c/x").function_chain(chain("/a,/b,/c")).encode(),
    );
    assert_eq!(only_nack(&acts, c), NackReason::None);
    assert_eq!(net.fwd.counters().chain_too_long, 1);
}

#[test]
fn a_local_face_towards_another_forwarder_gets_the_stack_intact() {
    // A forwarder on this host, reached over loopback (local scope), with a configured route:
    // it pops the function itself, so this forwarder must not.
    let mut net = Net::new();
    let consumer = net.face("unix://consumer", FaceScope::Local);
    let neighbour = net.face("tcp4://127.0.0.1:6364", FaceScope::Local);
    net.fwd.add_route(&name("/sf"), neighbour, 0);
    let acts = net.recv(
        consumer,
        interest("/c").function_chain(chain("/sf/F1")).encode(),
    );
    let (up, _) = only_interest(&acts, neighbour);
    assert_eq!(up.function_chain().unwrap().to_string(), "/sf/F1");
    assert_eq!(net.fwd.counters().functions_popped, 0);
}

#[test]
fn load_balance_takes_the_cheapest_instances_in_turn() {
    let mut net = Net::new();
    let consumer = net.face("unix://consumer", FaceScope::Local);
    let i1 = net.face("unix://sf-1", FaceScope::Local);
    let i2 = net.face("unix://sf-2", FaceScope::Local);
    let remote = net.face("udp4://10.0.0.9:6363", FaceScope::NonLocal);
    host(&mut net, "/sf/F", i1);
    host(&mut net, "/sf/F", i2);
    net.fwd.add_route(&name("/sf/F"), remote, 10);
    let lb = || strategy::create(&name("/localhost/nfd/strategy/load-balance")).unwrap();
    net.fwd.set_strategy(&name("/sf/F"), lb());

    // Four different requests alternate between the two cost-0 instances, never the remote.
    let mut counts = [0usize; 2];
    let mut requests = Vec::new();
    for k in 0..4u8 {
        let req = interest(&format!("/c/{k}"))
            .nonce([k, 1, 0, 0])
            .function_chain(chain("/sf/F"))
            .encode();
        let acts = net.recv(consumer, req);
        assert!(sent_to(&acts, remote).is_empty());
        let to1 = sent_to(&acts, i1).len();
        let to2 = sent_to(&acts, i2).len();
        assert_eq!(to1 + to2, 1, "one instance per new Interest: {acts:?}");
        counts[0] += to1;
        counts[1] += to2;
        requests.push(if to1 == 1 { i1 } else { i2 });
    }
    assert_eq!(counts, [2, 2]);
    assert_ne!(requests[0], requests[1]);

    // A Nack from the chosen next hop moves the Interest to the other one (as best-route).
    // Plain Interests here: a Nack from an SF carries the popped Interest, which does not
    // find the chained PIT entry (see the SF host report).
    net.fwd.add_route(&name("/p"), i1, 0);
    net.fwd.add_route(&name("/p"), i2, 0);
    net.fwd.set_strategy(&name("/p"), lb());
    let acts = net.recv(consumer, interest("/p/nack").nonce([9, 9, 0, 0]).encode());
    let (first, other) = if sent_to(&acts, i1).len() == 1 {
        (i1, i2)
    } else {
        (i2, i1)
    };
    let (up, _) = only_interest(&acts, first);
    let acts = net.recv(
        first,
        LpPacket::nack(NackReason::Congestion, up.wire().clone()).encode(),
    );
    only_interest(&acts, other);

    // With both instances gone, the Interests pending at them go to the costlier next hop
    // at once (closure retries), and the one with no other next hop is Nacked at once:
    net.fwd.face_closed(i1, net.now, &mut net.out);
    net.fwd.face_closed(i2, net.now, &mut net.out);
    let acts = std::mem::take(&mut net.out);
    assert_eq!(sent_to(&acts, remote).len(), 4, "{acts:?}");
    // The least severe reason of its upstreams: one said Congestion, one was lost (NoRoute).
    assert_eq!(only_nack(&acts, consumer), NackReason::Congestion);
    // New Interests too.
    let acts = net.recv(
        consumer,
        interest("/c/last")
            .nonce([7, 7, 0, 0])
            .function_chain(chain("/sf/F"))
            .encode(),
    );
    only_interest(&acts, remote);
}

#[test]
fn a_nack_from_an_sf_finds_its_entry_through_the_pit_token() {
    // The SF received the Interest with its function popped, and its Nack carries that
    // Interest: only the PIT token connects it to the pending (chained) entry.
    let mut net = Net::new();
    let consumer = net.face("unix://consumer", FaceScope::Local);
    let sf_a = net.face("unix://sf-a", FaceScope::Local);
    let sf_b = net.face("unix://sf-b", FaceScope::Local);
    host(&mut net, "/sf/F1", sf_a);
    host(&mut net, "/sf/F1", sf_b);
    let acts = net.recv(
        consumer,
        interest("/c").function_chain(chain("/sf/F1")).encode(),
    );
    let (popped, lp) = only_interest(&acts, sf_a);
    assert!(popped.function_chain().is_none());
    let busy = LpPacket::nack(NackReason::Congestion, popped.wire().clone()).echo_pit_token(&lp);
    let acts = net.recv(sf_a, busy.encode());
    let (retry, lp_b) = only_interest(&acts, sf_b);
    assert!(
        retry.function_chain().is_none(),
        "the other instance gets it, popped too"
    );
    let busy = LpPacket::nack(NackReason::Congestion, retry.wire().clone()).echo_pit_token(&lp_b);
    let acts = net.recv(sf_b, busy.encode());
    assert_eq!(only_nack(&acts, consumer), NackReason::Congestion);
    assert!(net.fwd.pit().is_empty());
}

#[test]
fn expiry_timers_stay_bounded_by_the_pit() {
    let mut config = Config::default();
    config.tables.pit_max_entries = 100;
    let mut net = Net::with_config(&config);
    let c = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let p = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), p, 0);
    // Retransmissions of one pending Interest add no timer.
    for i in 0..500u32 {
        net.recv(c, interest("/p/same").nonce(i.to_be_bytes()).encode());
    }
    assert_eq!(
        net.fwd.timers.len(),
        4,
        "housekeeping, liveness, chain hellos and the one entry"
    );
    // Entries satisfied long before they would expire leave their timers behind; the heap
    // is swept before it exceeds its bound.
    for i in 0..5000 {
        let acts = net.recv(c, interest(&format!("/p/{i}")).encode());
        let (_, lp) = only_interest(&acts, p);
        net.recv(p, reply(&lp, data(&format!("/p/{i}"), None, b"x")));
    }
    assert!(net.fwd.timers.len() <= 1024 + 2, "{}", net.fwd.timers.len());
    // Renewed entries still expire, when the last lifetime ends.
    net.advance(2000);
    assert!(net.fwd.pit().is_empty());
}

#[test]
fn a_renewed_entry_lives_until_its_last_lifetime_ends() {
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let p = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), p, 0);
    net.recv(c, interest("/p/r").nonce([1, 0, 0, 0]).encode());
    net.advance(800);
    net.recv(c, interest("/p/r").nonce([2, 0, 0, 0]).encode());
    net.advance(300);
    assert_eq!(
        net.fwd.pit().len(),
        1,
        "the first timer fired, the renewal keeps it"
    );
    net.advance(800);
    assert!(net.fwd.pit().is_empty());
    assert_eq!(net.fwd.counters().unsatisfied_interests, 1);
}

/// A forwarder made with a seed draws the same Nonces and makes the same random-strategy
/// choices every run; another seed draws others.
#[test]
fn a_seeded_forwarder_decides_the_same_way_every_run() {
    let mut config = Config::default();
    config.strategies.push(config::StrategyChoiceConfig {
        prefix: "/r".into(),
        strategy: "/localhost/nfd/strategy/random".into(),
    });
    let run = |seed: u64| {
        let now = Instant::now();
        let mut net = Net {
            fwd: Forwarder::with_seed(&config, now, seed),
            now,
            out: Vec::new(),
        };
        let c = net.face("unix:///c", FaceScope::Local);
        let ups: Vec<FaceId> = (0..4)
            .map(|i| net.face(&format!("udp4://10.0.0.{i}:6363"), FaceScope::NonLocal))
            .collect();
        for &u in &ups {
            net.fwd.add_route(&name("/p"), u, 0);
            net.fwd.add_route(&name("/r"), u, 0);
        }
        let mut seen = Vec::new();
        for k in 0..16 {
            // No Nonce: the forwarder draws one.
            let acts = net.recv(c, interest(&format!("/p/{k}")).encode());
            let (up, _) = only_interest(&acts, ups[0]);
            seen.push(format!("{:?}", up.nonce()));
            let acts = net.recv(c, interest(&format!("/r/{k}")).nonce([7, 7, 7, 7]).encode());
            let to = acts.iter().find_map(|a| match a {
                Action::Send { face, .. } if ups.contains(face) => Some(*face),
                _ => None,
            });
            seen.push(format!("{to:?}"));
        }
        seen
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

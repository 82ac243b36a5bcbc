//! Deterministic tests of failover (issue 9): the strategy trait, ASF's steering and probing,
//! link liveness, and what closing a face (or it going down) does to pending Interests.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason};
use nfwd_tlv::{DataBuilder, FunctionChain, Interest, InterestBuilder, Name, Signer};

use super::fib::NextHop;
use super::rib::Route;
use super::strategy::{self, Context, Decision, Strategy};
use super::tests::sent_to;
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

fn info(uri: &str, scope: FaceScope, persistency: Persistency) -> FaceInfo {
    FaceInfo {
        remote_uri: uri.into(),
        local_uri: "test://".into(),
        scope,
        persistency,
        link_type: LinkType::PointToPoint,
        mtu: None,
        peer: None,
        channel: None,
    }
}

impl Net {
    fn new(config: &Config) -> Self {
        let now = Instant::now();
        Self {
            fwd: Forwarder::new(config, now),
            now,
            out: Vec::new(),
        }
    }

    /// A consumer application.
    fn app(&mut self, uri: &str) -> FaceId {
        let i = info(uri, FaceScope::Local, Persistency::OnDemand);
        self.fwd.add_face(i, self.now)
    }

    /// A face this forwarder made towards another nfwd forwarder (watched by liveness; it
    /// has answered the chain hello).
    fn peer(&mut self, uri: &str) -> FaceId {
        let face = self.silent_peer(uri);
        self.recv(face, chain_peer::frame(chain_peer::ANSWER));
        face
    }

    /// A face this forwarder made towards a forwarder that answers no chain hello (NFD).
    fn silent_peer(&mut self, uri: &str) -> FaceId {
        let i = info(uri, FaceScope::NonLocal, Persistency::Persistent);
        self.fwd.add_face(i, self.now)
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

    fn close(&mut self, face: FaceId) -> Vec<Action> {
        self.fwd.face_closed(face, self.now, &mut self.out);
        std::mem::take(&mut self.out)
    }

    fn is_down(&self, face: FaceId) -> bool {
        self.fwd
            .faces()
            .find(|(id, _)| *id == face)
            .is_some_and(|(_, f)| f.is_down())
    }
}

fn interest(n: &str, chain: Option<&str>) -> Bytes {
    InterestBuilder::new(name(n))
        .lifetime_ms(4000)
        .function_chain(chain.map(|c| c.parse::<FunctionChain>().unwrap()))
        .encode()
}

fn data(n: &str, chain: Option<&str>) -> Bytes {
    DataBuilder::new(name(n), b"x".to_vec())
        .function_chain(chain.map(|c| c.parse().unwrap()))
        .freshness_ms(0)
        .sign(&Signer::digest_sha256())
        .unwrap()
}

/// Interests (not Nacks, not IDLE packets) sent to `face`.
fn interests(actions: &[Action], face: FaceId) -> Vec<(Interest, LpPacket)> {
    sent_to(actions, face)
        .into_iter()
        .filter(|lp| lp.nack.is_none() && !lp.is_idle())
        .map(|lp| (Interest::decode(lp.fragment.clone().unwrap()).unwrap(), lp))
        .collect()
}

fn one_interest(actions: &[Action], face: FaceId) -> LpPacket {
    let mut v = interests(actions, face);
    assert_eq!(v.len(), 1, "one Interest to {face} expected: {actions:?}");
    v.remove(0).1
}

/// Liveness probes (IDLE packets with a TxSequence) sent to `face`.
fn probes(actions: &[Action], face: FaceId) -> Vec<u64> {
    sent_to(actions, face)
        .into_iter()
        .filter(|lp| lp.is_idle())
        .filter_map(|lp| lp.tx_sequence)
        .collect()
}

fn nacks(actions: &[Action], face: FaceId) -> Vec<NackReason> {
    sent_to(actions, face)
        .into_iter()
        .filter_map(|lp| lp.nack)
        .collect()
}

fn datas(actions: &[Action], face: FaceId) -> usize {
    sent_to(actions, face)
        .into_iter()
        .filter(|lp| lp.nack.is_none() && lp.fragment.as_ref().is_some_and(|f| f[0] == 6))
        .count()
}

fn reply(request: &LpPacket, data: Bytes) -> Bytes {
    LpPacket::from_fragment(data)
        .echo_pit_token(request)
        .encode_or_bare()
}

fn no_liveness() -> Config {
    let mut c = Config::default();
    c.faces.liveness_timeout_ms = 0;
    c
}

// ---------------------------------------------------------------------------------------------
// The trait

/// A strategy written outside the core's files: the costliest next hop.
#[derive(Debug)]
struct Costliest;

impl Strategy for Costliest {
    fn name(&self) -> Name {
        name("/localhost/nfd/strategy/test-costliest/v=1")
    }

    fn after_receive_interest(&mut self, ctx: &Context<'_>, _: bool, decision: &mut Decision) {
        decision
            .targets
            .extend(ctx.hops.last().map(|h: &NextHop| h.face));
    }
}

#[test]
fn a_strategy_is_one_type_behind_the_trait() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let p1 = net.peer("udp4://10.0.0.1:6363");
    let p2 = net.peer("udp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/p"), p1, 1);
    net.fwd.add_route(&name("/p"), p2, 2);
    net.fwd.set_strategy(&name("/p"), Box::new(Costliest));
    let acts = net.recv(c, interest("/p/x", None));
    one_interest(&acts, p2);
    assert!(interests(&acts, p1).is_empty());
    let listed = net.fwd.strategies().list();
    assert!(listed.contains(&(name("/p"), Costliest.name())));
    // Its Nack retry is the trait's default: the cheapest untried next hop.
    let lp = one_interest(&acts, p2);
    let up = Interest::decode(lp.fragment.clone().unwrap()).unwrap();
    let nack = LpPacket::nack(NackReason::Congestion, up.wire().clone())
        .echo_pit_token(&lp)
        .encode();
    let acts = net.recv(p2, nack);
    one_interest(&acts, p1);
}

// ---------------------------------------------------------------------------------------------
// ASF

/// ASF over two upstreams, a (cost 10) and b (cost 20), for `prefix`; requests are `/c/<k>`
/// routed by content name, or by the function `/sf/F` when `chain` is set.
fn asf_steers_and_probes(chain: Option<&str>) {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let a = net.peer("udp4://10.0.0.1:6363");
    let b = net.peer("udp4://10.0.0.2:6363");
    let prefix = if chain.is_some() { "/sf/F" } else { "/c" };
    net.fwd.add_route(&name(prefix), a, 10);
    net.fwd.add_route(&name(prefix), b, 20);
    let asf = strategy::create(&name("/localhost/nfd/strategy/asf/v=5")).unwrap();
    net.fwd.set_strategy(&name(prefix), asf);
    let req = |k: u32| interest(&format!("/c/{k}"), chain);
    let answer = |k: u32| data(&format!("/c/{k}"), chain);

    // The first Interest goes to the cheapest (nothing measured) and probes the other with a
    // nonce of its own.
    let acts = net.recv(c, req(1));
    let to_a = one_interest(&acts, a);
    let to_b = one_interest(&acts, b);
    let nonce = |lp: &LpPacket| {
        Interest::decode(lp.fragment.clone().unwrap())
            .unwrap()
            .nonce()
    };
    assert_ne!(nonce(&to_a), nonce(&to_b));
    net.advance(20);
    assert_eq!(datas(&net.recv(a, reply(&to_a, answer(1))), c), 1);
    net.advance(30);
    net.recv(b, reply(&to_b, answer(1))); // late: unsolicited, dropped

    // Measured: a. No probe before the interval.
    let acts = net.recv(c, req(2));
    let to_a = one_interest(&acts, a);
    assert!(interests(&acts, b).is_empty());
    // A Nack steers away at once: retried on b now, and the next Interests go to b.
    let up = Interest::decode(to_a.fragment.clone().unwrap()).unwrap();
    let nack = LpPacket::nack(NackReason::Congestion, up.wire().clone())
        .echo_pit_token(&to_a)
        .encode();
    let acts = net.recv(a, nack);
    let to_b = one_interest(&acts, b);
    net.advance(40);
    assert_eq!(datas(&net.recv(b, reply(&to_b, answer(2))), c), 1);
    let acts = net.recv(c, req(3));
    let to_b = one_interest(&acts, b);
    assert!(interests(&acts, a).is_empty(), "a failed: steered away");
    net.advance(40);
    net.recv(b, reply(&to_b, answer(3)));

    // After the probing interval a new Interest also probes a; a answers first (it recovered,
    // and is faster), so the next Interests go back to a.
    net.advance(10_000);
    let acts = net.recv(c, req(4));
    let to_b = one_interest(&acts, b);
    let to_a = one_interest(&acts, a);
    net.advance(5);
    assert_eq!(datas(&net.recv(a, reply(&to_a, answer(4))), c), 1);
    net.recv(b, reply(&to_b, answer(4)));
    let acts = net.recv(c, req(5));
    let to_a = one_interest(&acts, a);
    net.advance(5);
    net.recv(a, reply(&to_a, answer(5)));

    // Timeouts count one each: after max-timeouts (3) of them a is avoided.
    for k in 6..9 {
        let acts = net.recv(c, req(k));
        one_interest(&acts, a);
        net.advance(4001);
    }
    // (12 s have passed since the last probe: this one also probes a, which stays silent.)
    let acts = net.recv(c, req(9));
    one_interest(&acts, b);
    one_interest(&acts, a);
    let acts = net.recv(c, req(10));
    one_interest(&acts, b);
    assert!(interests(&acts, a).is_empty(), "a timed out: steered away");
}

#[test]
fn asf_steers_away_from_failures_and_probing_brings_a_hop_back() {
    asf_steers_and_probes(None);
}

#[test]
fn asf_works_for_function_names() {
    asf_steers_and_probes(Some("/sf/F"));
}

#[test]
fn asf_measurements_are_bounded_by_fib_prefixes_and_expire() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let a = net.peer("udp4://10.0.0.1:6363");
    let asf = strategy::create(&name("/localhost/nfd/strategy/asf")).unwrap();
    net.fwd.set_strategy(&name("/"), asf);
    net.fwd.add_route(&name("/p"), a, 0);
    net.fwd.add_route(&name("/q"), a, 0);
    // Names from the network are many; the prefixes they match are two.
    for k in 0..1000 {
        net.recv(c, interest(&format!("/p/{k}/{}", k * 7), None));
        net.recv(c, interest(&format!("/q/{k}"), None));
    }
    assert_eq!(net.fwd.strategies().entries(), 2);
    // Unused for the measurements' lifetime, they are forgotten.
    net.advance(strategy::asf::LIFETIME.as_millis() as u64 + 1000);
    net.advance(500);
    assert_eq!(net.fwd.strategies().entries(), 0);
}

// ---------------------------------------------------------------------------------------------
// Liveness

/// Answers every probe in `acts` to `face` as a live nfwd peer does.
fn answer_probes(net: &mut Net, acts: &[Action], face: FaceId) {
    for seq in probes(acts, face) {
        net.recv(face, liveness::ack_frame(seq));
    }
}

#[test]
fn a_silent_peer_goes_down_its_interests_move_on_and_it_comes_back() {
    let mut net = Net::new(&Config::default());
    let c = net.app("unix://c");
    let b = net.peer("udp4://10.0.0.1:6363");
    let cc = net.peer("udp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/p"), b, 10);
    net.fwd.add_route(&name("/p"), cc, 20);
    // Hello: each made face is probed once; live peers answer.
    let acts = net.advance(125);
    assert_eq!(probes(&acts, b).len(), 1);
    assert_eq!(probes(&acts, cc).len(), 1);
    answer_probes(&mut net, &acts, b);
    answer_probes(&mut net, &acts, cc);

    // Traffic flows through b.
    let acts = net.recv(c, interest("/p/1", None));
    let lp = one_interest(&acts, b);
    assert_eq!(datas(&net.recv(b, reply(&lp, data("/p/1", None))), c), 1);

    // b dies: an Interest waits, b is probed, then declared down about a second after the
    // Interest, and the Interest goes to the other next hop at once.
    let acts = net.recv(c, interest("/p/2", None));
    one_interest(&acts, b);
    let mut probed = 0;
    let mut moved = None;
    for step in 1..=12 {
        let acts = net.advance(125);
        probed += probes(&acts, b).len();
        if let Some((_, lp)) = interests(&acts, cc).into_iter().next() {
            moved = Some((step * 125, lp));
            break;
        }
    }
    let (after_ms, lp) = moved.expect("the pending Interest moved to the other next hop");
    assert!(
        (1000..=1250).contains(&after_ms),
        "down after {after_ms} ms"
    );
    assert!(probed >= 2, "probed {probed} times before giving up");
    assert!(net.is_down(b));
    assert_eq!(net.fwd.counters().faces_down, 1);
    assert_eq!(datas(&net.recv(cc, reply(&lp, data("/p/2", None))), c), 1);

    // New Interests skip the down face.
    let acts = net.recv(c, interest("/p/3", None));
    let lp = one_interest(&acts, cc);
    assert!(interests(&acts, b).is_empty());
    net.recv(cc, reply(&lp, data("/p/3", None)));

    // Down, it is still probed (once per timeout); its answer brings it back.
    let acts = net.advance(1000);
    assert_eq!(probes(&acts, b).len(), 1);
    answer_probes(&mut net, &acts, b);
    assert!(!net.is_down(b));
    let acts = net.recv(c, interest("/p/4", None));
    one_interest(&acts, b);
}

#[test]
fn a_peer_that_never_answers_probes_is_never_declared_down() {
    // An NFD peer: drops IDLE packets, answers Interests late.
    let mut net = Net::new(&Config::default());
    let c = net.app("unix://c");
    let nfd = net.peer("udp4://10.0.0.1:6363");
    net.fwd.add_route(&name("/p"), nfd, 0);
    let acts = net.recv(c, interest("/p/slow", None));
    let lp = one_interest(&acts, nfd);
    let mut probed = 0;
    for _ in 0..24 {
        let acts = net.advance(125);
        probed += probes(&acts, nfd).len();
        assert!(interests(&acts, nfd).is_empty());
        assert!(nacks(&acts, c).is_empty());
    }
    assert!(!net.is_down(nfd));
    assert!(probed <= 3, "a few probes per silence, no more: {probed}");
    // The slow answer still arrives.
    assert_eq!(
        datas(&net.recv(nfd, reply(&lp, data("/p/slow", None))), c),
        1
    );
}

#[test]
fn an_on_demand_peer_that_goes_silent_is_closed() {
    let mut net = Net::new(&Config::default());
    let c = net.app("unix://c");
    let i = info(
        "udp4://10.0.0.9:6363",
        FaceScope::NonLocal,
        Persistency::OnDemand,
    );
    let peer = net.fwd.add_face(i, net.now);
    // Not watched until it shows it speaks liveness (here: it probes us, and is answered).
    let acts = net.advance(125);
    assert!(probes(&acts, peer).is_empty());
    let acts = net.recv(peer, liveness::probe_frame(42));
    let acks: Vec<_> = sent_to(&acts, peer)
        .into_iter()
        .flat_map(|lp| lp.acks)
        .collect();
    assert_eq!(acks, [42]);
    net.fwd.add_route(&name("/p"), peer, 0);
    let acts = net.recv(c, interest("/p/1", None));
    one_interest(&acts, peer);
    let mut closed = false;
    for _ in 0..12 {
        let acts = net.advance(125);
        if acts.contains(&Action::CloseFace { face: peer }) {
            closed = true;
            break;
        }
    }
    assert!(closed, "a dead on-demand peer is closed");
    // The driver closes it and reports; the pending Interest is Nacked at once.
    let acts = net.close(peer);
    assert_eq!(nacks(&acts, c), [NackReason::NoRoute]);
}

#[test]
fn probes_are_answered_no_faster_than_one_per_50_ms() {
    let mut net = Net::new(&Config::default());
    let peer = net.peer("udp4://10.0.0.1:6363");
    let acks = |acts: &[Action]| -> Vec<u64> {
        sent_to(acts, peer)
            .into_iter()
            .flat_map(|lp| lp.acks)
            .collect()
    };
    let acts = net.recv(peer, liveness::probe_frame(1));
    assert_eq!(acks(&acts), [1]);
    let acts = net.recv(peer, liveness::probe_frame(2));
    assert!(acks(&acts).is_empty(), "rate-limited");
    net.now += Duration::from_millis(50);
    let acts = net.recv(peer, liveness::probe_frame(3));
    assert_eq!(acks(&acts), [3]);
    let (_, f) = net.fwd.faces().find(|(id, _)| *id == peer).unwrap();
    assert_eq!(
        (f.counters.liveness_acks, f.counters.drop_liveness_probes),
        (2, 1)
    );
    // Malformed or unknown IDLE packets are dropped quietly, never answered.
    let acts = net.recv(peer, LpPacket::default().encode());
    assert!(acts.is_empty());
}

#[test]
fn liveness_can_be_disabled() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let b = net.peer("udp4://10.0.0.1:6363");
    net.fwd.add_route(&name("/p"), b, 0);
    net.recv(c, interest("/p/1", None));
    for _ in 0..40 {
        let acts = net.advance(125);
        assert!(probes(&acts, b).is_empty());
    }
    assert!(!net.is_down(b));
}

// ---------------------------------------------------------------------------------------------
// Closure

#[test]
fn closing_an_upstream_retries_elsewhere_or_nacks_at_once() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let b = net.peer("tcp4://10.0.0.1:6363");
    let cc = net.peer("tcp4://10.0.0.2:6363");
    let only_b = net.peer("tcp4://10.0.0.3:6363");
    net.fwd.add_route(&name("/p"), b, 10);
    net.fwd.add_route(&name("/p"), cc, 20);
    net.fwd.add_route(&name("/q"), b, 10);
    net.fwd.add_route(&name("/m"), b, 10);
    net.fwd.add_route(&name("/m"), only_b, 20);
    let multicast = strategy::create(&name("/localhost/nfd/strategy/multicast")).unwrap();
    net.fwd.set_strategy(&name("/m"), multicast);
    let acts = net.recv(c, interest("/p/1", None));
    one_interest(&acts, b);
    let acts = net.recv(c, interest("/q/1", None));
    one_interest(&acts, b);
    // Multicast: b and only_b both asked; b's loss leaves only_b pending.
    let acts = net.recv(c, interest("/m/1", None));
    one_interest(&acts, b);
    let lp_m = one_interest(&acts, only_b);

    let acts = net.close(b);
    // /p/1: retried on the other next hop; /q/1: no other, Nacked now; /m/1: waits.
    let lp = one_interest(&acts, cc);
    assert_eq!(nacks(&acts, c), [NackReason::NoRoute]);
    assert!(interests(&acts, only_b).is_empty());
    assert_eq!(net.fwd.counters().upstreams_lost, 2);
    assert_eq!(datas(&net.recv(cc, reply(&lp, data("/p/1", None))), c), 1);
    assert_eq!(
        datas(&net.recv(only_b, reply(&lp_m, data("/m/1", None))), c),
        1
    );
    assert!(net.fwd.pit().is_empty());
}

#[test]
fn a_closed_local_sf_is_replaced_by_another_instance_for_a_chain() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let sf1 = net.app("unix://sf-1");
    let remote = net.peer("udp4://10.0.0.5:6363");
    net.fwd.add_route_with(
        &name("/sf/F"),
        Route {
            face: sf1,
            origin: 0,
            cost: 0,
            flags: 1,
            expires: None,
            hosted: true,
        },
    );
    net.fwd.add_route(&name("/sf/F"), remote, 50);
    let acts = net.recv(c, interest("/c/1", Some("/sf/F")));
    let (popped, _) = interests(&acts, sf1).remove(0);
    assert!(popped.function_chain().is_none(), "popped towards the SF");
    // The SF dies: the chained Interest goes to the remote instance with its stack intact.
    let acts = net.close(sf1);
    let (up, lp) = interests(&acts, remote).remove(0);
    assert_eq!(up.function_chain(), Some(&"/sf/F".parse().unwrap()));
    assert_eq!(
        datas(
            &net.recv(remote, reply(&lp, data("/c/1", Some("/sf/F")))),
            c
        ),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// NFD's strategies: random, access, and retransmission suppression parameters

/// Sends `n` from `c` again and again; returns for each Interest the faces it went to.
fn spread(net: &mut Net, c: FaceId, hops: &[FaceId], count: usize) -> Vec<Vec<FaceId>> {
    (0..count)
        .map(|i| {
            let acts = net.recv(c, interest(&format!("/r/{i}"), None));
            hops.iter()
                .copied()
                .filter(|&h| !interests(&acts, h).is_empty())
                .collect()
        })
        .collect()
}

#[test]
fn random_sends_each_interest_to_one_eligible_hop_drawn_from_its_seed() {
    let run = |seed: u64| {
        let mut net = Net::new(&no_liveness());
        let c = net.app("unix://c");
        let hops: Vec<FaceId> = (1..=3)
            .map(|i| net.peer(&format!("tcp4://10.0.0.{i}:6363")))
            .collect();
        for &h in &hops {
            net.fwd.add_route(&name("/r"), h, 10);
        }
        let random = strategy::Random::new(strategy::versioned_name("random"), seed);
        net.fwd.set_strategy(&name("/r"), Box::new(random));
        spread(&mut net, c, &hops, 60)
    };
    let picks = run(42);
    assert!(picks.iter().all(|p| p.len() == 1), "{picks:?}");
    // Every hop drawn, none always.
    let mut firsts: Vec<FaceId> = picks.iter().map(|p| p[0]).collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), 3, "{picks:?}");
    // Deterministic for a seed: the tests (and a simulation) replay.
    assert_eq!(picks, run(42));
    assert_ne!(picks, run(7));
}

#[test]
fn random_does_not_suppress_retransmissions() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let b = net.peer("tcp4://10.0.0.1:6363");
    net.fwd.add_route(&name("/r"), b, 10);
    let random = strategy::create(&name("/localhost/nfd/strategy/random")).unwrap();
    net.fwd.set_strategy(&name("/r"), random);
    one_interest(&net.recv(c, interest("/r/1", None)), b);
    net.advance(1);
    one_interest(&net.recv(c, interest("/r/1", None)), b);
    assert_eq!(net.fwd.counters().suppressed, 0);
}

#[test]
fn best_route_applies_its_retx_suppression_parameters() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let b = net.peer("tcp4://10.0.0.1:6363");
    let cc = net.peer("tcp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/s"), b, 10);
    net.fwd.add_route(&name("/s"), cc, 20);
    let slow = name(
        "/localhost/nfd/strategy/best-route/v=5/retx-suppression-initial~100\
         /retx-suppression-max~300/retx-suppression-multiplier~2",
    );
    net.fwd
        .set_strategy(&name("/s"), strategy::create(&slow).unwrap());
    one_interest(&net.recv(c, interest("/s/1", None)), b);
    // Within 100 ms of the last transmission: suppressed (NFD's default, 10 ms, would not).
    net.advance(50);
    assert!(net.recv(c, interest("/s/1", None)).is_empty());
    assert_eq!(net.fwd.counters().suppressed, 1);
    // After it: forwarded, to the untried next hop; the interval doubles to 200 ms.
    net.advance(51);
    one_interest(&net.recv(c, interest("/s/1", None)), cc);
    net.advance(150);
    assert!(net.recv(c, interest("/s/1", None)).is_empty());
    net.advance(51);
    one_interest(&net.recv(c, interest("/s/1", None)), b);
    // Capped at 300 ms.
    net.advance(299);
    assert!(net.recv(c, interest("/s/1", None)).is_empty());
    net.advance(2);
    assert_eq!(interests(&net.recv(c, interest("/s/1", None)), cc).len(), 1);
    assert_eq!(net.fwd.counters().suppressed, 3);

    // The default (10 ms) on another prefix.
    net.fwd.add_route(&name("/d"), b, 10);
    one_interest(&net.recv(c, interest("/d/1", None)), b);
    net.advance(11);
    assert_eq!(net.recv(c, interest("/d/1", None)).len(), 1);
}

#[test]
fn access_uses_the_last_working_hop_and_multicasts_after_its_rto() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let b = net.peer("tcp4://10.0.0.1:6363");
    let cc = net.peer("tcp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/a"), b, 10);
    net.fwd.add_route(&name("/a"), cc, 20);
    let access = strategy::create(&name("/localhost/nfd/strategy/access")).unwrap();
    assert_eq!(access.name(), name("/localhost/nfd/strategy/access/v=1"));
    net.fwd.set_strategy(&name("/a"), access);

    // Nothing known: multicast; b answers first (30 ms) and becomes the last next hop.
    let acts = net.recv(c, interest("/a/1", None));
    let lp = one_interest(&acts, b);
    one_interest(&acts, cc);
    net.advance(30);
    assert_eq!(datas(&net.recv(b, reply(&lp, data("/a/1", None))), c), 1);

    // Then b alone, with a retry timer at its RTO (200 ms: the minimum, above 30 + 4·15).
    let acts = net.recv(c, interest("/a/2", None));
    one_interest(&acts, b);
    assert!(interests(&acts, cc).is_empty());
    assert!(net.advance(199).is_empty());
    let acts = net.advance(1);
    let lp = one_interest(&acts, cc);
    assert!(interests(&acts, b).is_empty());
    // cc answers: it is the last next hop now.
    assert_eq!(datas(&net.recv(cc, reply(&lp, data("/a/2", None))), c), 1);
    let acts = net.recv(c, interest("/a/3", None));
    let lp = one_interest(&acts, cc);
    assert!(interests(&acts, b).is_empty());
    // A consumer retransmission after the fixed 100 ms suppression: multicast.
    net.advance(50);
    assert!(net.recv(c, interest("/a/3", None)).is_empty());
    net.advance(51);
    let acts = net.recv(c, interest("/a/3", None));
    one_interest(&acts, b);
    one_interest(&acts, cc);
    // Satisfied before its RTO: the timer finds no entry.
    assert_eq!(datas(&net.recv(cc, reply(&lp, data("/a/3", None))), c), 1);
    assert!(
        net.advance(1000)
            .iter()
            .all(|a| !matches!(a, Action::Send { .. }))
    );
    assert!(net.fwd.pit().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Neighbours that do not understand chaining (`chain_peer.rs`, protocol.md §4.1)

/// Chain hellos (IDLE packets with ChainAware) sent to `face`, by value.
fn chain_hellos(actions: &[Action], face: FaceId) -> Vec<u64> {
    sent_to(actions, face)
        .into_iter()
        .filter(|lp| lp.is_idle())
        .filter_map(|lp| lp.chain_aware)
        .collect()
}

/// The error Data sent to `face`, decoded.
fn error_data(actions: &[Action], face: FaceId) -> Vec<nfwd_tlv::Data> {
    sent_to(actions, face)
        .into_iter()
        .filter_map(|lp| lp.fragment.filter(|f| f[0] == 6))
        .map(|f| nfwd_tlv::Data::decode(f).unwrap())
        .filter(|d| d.content_type() == nfwd_tlv::types::content_type::NACK)
        .collect()
}

#[test]
fn a_chained_interest_towards_a_forwarder_silent_to_the_hello_gets_an_error_not_a_timeout() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let nfd = net.silent_peer("udp4://10.0.0.9:6363");
    net.fwd.add_route(&name("/sf/F"), nfd, 0);
    net.fwd.add_route(&name("/p"), nfd, 0);
    // Three hellos over the timeout (1 s), none to the application.
    let mut hellos = Vec::new();
    let mut acts = net.advance(0);
    hellos.extend(chain_hellos(&acts, nfd));
    assert!(sent_to(&acts, c).is_empty());
    // Meanwhile (unknown) a chained Interest goes out: the answer may be on its way.
    acts = net.recv(c, interest("/c/1", Some("/sf/F")));
    one_interest(&acts, nfd);
    for _ in 0..9 {
        acts = net.advance(100);
        hellos.extend(chain_hellos(&acts, nfd));
        assert!(error_data(&acts, c).is_empty());
    }
    assert_eq!(hellos, vec![chain_peer::HELLO; 3]);
    // At the timeout the neighbour is unaware: the pending chained Interest is answered with
    // an error Data naming the function and the face, under the Interest's name and stack.
    acts = net.advance(100);
    let errors = error_data(&acts, c);
    assert_eq!(errors.len(), 1, "{acts:?}");
    let e = &errors[0];
    assert_eq!(e.name(), &name("/c/1"));
    assert_eq!(e.function_chain().unwrap().to_string(), "/sf/F");
    let text = std::str::from_utf8(e.content()).unwrap();
    let v: BTreeMap<String, String> = text
        .trim_matches(|c| c == '{' || c == '}')
        .split("\",\"")
        .filter_map(|kv| {
            let (k, v) = kv.split_once("\":\"")?;
            Some((
                k.trim_matches('"').to_string(),
                v.trim_matches('"').to_string(),
            ))
        })
        .collect();
    assert_eq!(v["error"], "unavailable", "{text}");
    assert_eq!(v["function"], "/sf/F", "{text}");
    assert!(
        v["message"].contains("does not understand function chaining"),
        "{text}"
    );
    assert!(v["message"].contains("udp4://10.0.0.9:6363"), "{text}");
    assert!(net.fwd.pit().is_empty());
    // From now on, at once: no Interest to the neighbour, an error to the consumer.
    acts = net.recv(c, interest("/c/2", Some("/sf/F")));
    assert!(interests(&acts, nfd).is_empty());
    assert_eq!(error_data(&acts, c).len(), 1);
    // Plain Interests still go to it: NFD forwards them as any forwarder.
    acts = net.recv(c, interest("/p/1", None));
    one_interest(&acts, nfd);
    let counters = net.fwd.counters();
    assert_eq!(counters.chain_unaware_neighbours, 1);
    assert_eq!(counters.chained_to_unaware, 2);
    assert_eq!(counters.chain_hellos, 3);
}

#[test]
fn a_neighbour_never_heard_is_asked_again_with_the_chained_interest_and_used_once_it_answers() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    // Made while the neighbour was down (or not started yet): nothing ever comes from it.
    let b = net.silent_peer("udp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/sf/F"), b, 0);
    let acts = net.advance(0);
    assert_eq!(chain_hellos(&acts, b), vec![chain_peer::HELLO]);
    // Silent for the timeout (two more hellos meanwhile): unaware.
    for _ in 0..10 {
        net.advance(100);
    }
    assert_eq!(
        net.fwd
            .faces()
            .find(|(f, _)| *f == b)
            .unwrap()
            .1
            .chain_awareness(),
        chain_peer::Awareness::Unaware
    );
    let acts = net.recv(c, interest("/c/1", Some("/sf/F")));
    assert_eq!(error_data(&acts, c).len(), 1);
    assert!(
        chain_hellos(&acts, b).is_empty(),
        "the last hello is recent"
    );
    // A chained Interest a timeout after the last hello (at 800 ms) asks once more, and —
    // nothing having ever been heard from b, so its silence may have been a dead link — the
    // Interest goes to it with the hello instead of getting the error.
    net.advance(800);
    let acts = net.recv(c, interest("/c/2", Some("/sf/F")));
    assert!(error_data(&acts, c).is_empty(), "{acts:?}");
    assert_eq!(chain_hellos(&acts, b), vec![chain_peer::HELLO]);
    one_interest(&acts, b);
    // Unknown again: the next one goes too, without a hello of its own.
    let acts = net.recv(c, interest("/c/3", Some("/sf/F")));
    one_interest(&acts, b);
    assert!(chain_hellos(&acts, b).is_empty(), "at most one per timeout");
    // This time the peer (up now, nfwd) answers: chained Interests go to it from now on.
    assert!(
        net.recv(b, chain_peer::frame(chain_peer::ANSWER))
            .is_empty()
    );
    let acts = net.recv(c, interest("/c/4", Some("/sf/F")));
    one_interest(&acts, b);
    assert!(error_data(&acts, c).is_empty());
    let acts = net.recv(b, data("/c/2", Some("/sf/F")));
    assert_eq!(
        sent_to(&acts, c).len(),
        1,
        "the reopened Interest is answered"
    );
}

/// Found by the forwarder_session fuzz target: a reopened neighbour took a chained Interest
/// that may go to local faces only (`/localhost`, HopLimit spent), or back to its sender.
#[test]
fn a_reopened_neighbour_takes_only_what_may_go_to_it() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let b = net.silent_peer("udp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/sf/F"), b, 0);
    net.advance(0);
    for _ in 0..10 {
        net.advance(100);
    }
    // A timeout after the last hello, b would be reopened for the next chained Interest.
    net.advance(800);
    let acts = net.recv(c, interest("/localhost/x", Some("/sf/F")));
    assert!(interests(&acts, b).is_empty(), "{acts:?}");
    assert_eq!(nacks(&acts, c), vec![NackReason::NoRoute]);
    // Nor does b get back what it sent itself.
    let acts = net.recv(b, interest("/c/1", Some("/sf/F")));
    assert!(interests(&acts, b).is_empty(), "{acts:?}");
    // A chained Interest that may go to it still does.
    let acts = net.recv(c, interest("/c/2", Some("/sf/F")));
    one_interest(&acts, b);
}

#[test]
fn a_neighbour_heard_but_silent_to_the_hello_keeps_getting_the_error_at_once() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let nfd = net.silent_peer("udp4://10.0.0.9:6363");
    net.fwd.add_route(&name("/sf/F"), nfd, 0);
    net.fwd.add_route(&name("/p"), nfd, 0);
    net.advance(0);
    // An NFD: plain Interests are answered, the hello never.
    let acts = net.recv(c, interest("/p/1", None));
    one_interest(&acts, nfd);
    let acts = net.recv(nfd, data("/p/1", None));
    assert_eq!(sent_to(&acts, c).len(), 1);
    for _ in 0..10 {
        net.advance(100);
    }
    net.advance(800);
    // Asked again (a hello), but it was heard: still unaware, the error at once.
    let acts = net.recv(c, interest("/c/1", Some("/sf/F")));
    assert_eq!(chain_hellos(&acts, nfd), vec![chain_peer::HELLO]);
    assert!(interests(&acts, nfd).is_empty());
    assert_eq!(error_data(&acts, c).len(), 1);
}

#[test]
fn an_unaware_next_hop_is_passed_over_for_a_chain_aware_one() {
    let mut net = Net::new(&no_liveness());
    let c = net.app("unix://c");
    let nfd = net.silent_peer("udp4://10.0.0.9:6363");
    let b = net.peer("udp4://10.0.0.2:6363");
    net.fwd.add_route(&name("/sf/F"), nfd, 0);
    net.fwd.add_route(&name("/sf/F"), b, 50);
    // Unknown yet: the cheaper one gets it.
    let acts = net.recv(c, interest("/c/1", Some("/sf/F")));
    one_interest(&acts, nfd);
    // At the verdict the pending Interest moves to the aware next hop instead of failing.
    let mut moved = Vec::new();
    for _ in 0..11 {
        moved.extend(net.advance(100));
    }
    one_interest(&moved, b);
    assert!(error_data(&moved, c).is_empty());
    // New chained Interests go to b directly.
    let acts = net.recv(c, interest("/c/2", Some("/sf/F")));
    one_interest(&acts, b);
    assert!(interests(&acts, nfd).is_empty());
}

#[test]
fn hellos_from_a_peer_are_answered_at_a_bounded_rate_and_applications_are_never_asked() {
    let mut net = Net::new(&no_liveness());
    // A forwarder that made a face to us: on our side on-demand and non-local.
    let i = info(
        "udp4://10.0.0.7:6363",
        FaceScope::NonLocal,
        Persistency::OnDemand,
    );
    let peer = net.fwd.add_face(i, net.now);
    let app = net.app("tcp4://127.0.0.1:40000");
    let acts = net.recv(peer, chain_peer::frame(chain_peer::HELLO));
    assert_eq!(chain_hellos(&acts, peer), vec![chain_peer::ANSWER]);
    // A flood of hellos gets one answer per 50 ms.
    let mut answers = 0;
    for _ in 0..100 {
        answers += chain_hellos(&net.recv(peer, chain_peer::frame(chain_peer::HELLO)), peer).len();
    }
    assert_eq!(answers, 0);
    net.advance(50);
    let acts = net.recv(peer, chain_peer::frame(chain_peer::HELLO));
    assert_eq!(chain_hellos(&acts, peer), vec![chain_peer::ANSWER]);
    // Its face is aware (it said hello); the application's face is never sent a hello.
    let mut all = Vec::new();
    for _ in 0..30 {
        all.extend(net.advance(100));
    }
    assert!(sent_to(&all, app).is_empty());
    assert!(sent_to(&all, peer).is_empty());
    let aware = |f: FaceId| {
        net.fwd
            .faces()
            .find(|(id, _)| *id == f)
            .map(|(_, s)| s.chain_awareness())
    };
    assert_eq!(aware(peer), Some(chain_peer::Awareness::Aware));
    assert_eq!(aware(app), Some(chain_peer::Awareness::Aware));
}

#[test]
fn faces_coming_and_going_keep_one_chain_hello_timer() {
    let mut net = Net::new(&no_liveness());
    let chain_timers = |net: &Net| {
        net.fwd
            .timers
            .iter()
            .filter(|Reverse((_, t))| *t == Timer::ChainPeers)
            .count()
    };
    // The set of waiting faces empties and fills again before the timer fires, many times.
    for k in 0..50 {
        let f = net.silent_peer(&format!("udp4://10.0.1.{k}:6363"));
        net.close(f);
    }
    net.silent_peer("udp4://10.0.2.1:6363");
    assert_eq!(chain_timers(&net), 1);
    for _ in 0..5 {
        net.advance(100);
        assert_eq!(chain_timers(&net), 1);
    }
}

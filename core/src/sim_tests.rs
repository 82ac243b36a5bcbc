//! Tests of several cores together in the simulated network (`sim.rs`): chains across
//! forwarders, loss, failover, MTU and determinism, with times measured in virtual time.

use std::time::Duration;

use bytes::Bytes;
use nfwd_tlv::{FunctionChain, Name};

use super::sim::{
    AppId, ConsumerOptions, FunctionOptions, LinkId, LinkSpec, Network, NodeId, Outcome,
    PacketKind, TraceEntry, TraceEvent, Transform,
};
use crate::config::Config;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn chain(s: &str) -> FunctionChain {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The seed's Fig. 30 line: consumer on r3, which hosts F3; r2 hosts F2; r1 hosts F1; the
/// producer of `/data` sits on p behind r1.
struct Line {
    net: Network,
    consumer: AppId,
    producer: AppId,
    functions: [AppId; 3],
    links: [LinkId; 3],
    nodes: [NodeId; 4],
}

/// One-way latencies of the line's links r3–r2, r2–r1, r1–p.
const LINE_MS: [u64; 3] = [10, 20, 5];

fn line(seed: u64, loss: f64, consumer: ConsumerOptions) -> Line {
    let mut net = Network::new(seed);
    let config = Config::default();
    let r3 = net.add_node("r3", &config);
    let r2 = net.add_node("r2", &config);
    let r1 = net.add_node("r1", &config);
    let p = net.add_node("p", &config);
    let spec = |ms: u64| LinkSpec::latency_ms(ms).with_loss(loss);
    let links = [
        net.link(r3, r2, spec(LINE_MS[0])),
        net.link(r2, r1, spec(LINE_MS[1])),
        net.link(r1, p, spec(LINE_MS[2])),
    ];
    let wrap = FunctionOptions {
        transform: Transform::Wrap,
        ..FunctionOptions::default()
    };
    let functions = [
        net.service_function(r1, &name("/sf/F1"), wrap),
        net.service_function(r2, &name("/sf/F2"), wrap),
        net.service_function(r3, &name("/sf/F3"), wrap),
    ];
    assert!(net.route(r3, &name("/sf/F2"), r2, 0));
    assert!(net.route(r3, &name("/sf/F1"), r2, 0));
    assert!(net.route(r2, &name("/sf/F1"), r1, 0));
    assert!(net.route(r2, &name("/data"), r1, 0));
    assert!(net.route(r3, &name("/data"), r2, 0));
    assert!(net.route(r1, &name("/data"), p, 0));
    let producer = net.producer(p, &name("/data"), None, 10_000);
    let consumer = net.consumer(r3, consumer);
    Line {
        net,
        consumer,
        producer,
        functions,
        links,
        nodes: [r3, r2, r1, p],
    }
}

fn data_content(outcome: Option<&Outcome>) -> Option<String> {
    match outcome {
        Some(Outcome::Data {
            content,
            content_type: 0,
            ..
        }) => Some(String::from_utf8_lossy(content).into_owned()),
        _ => None,
    }
}

#[test]
fn a_chain_across_three_forwarders_returns_f3_f2_f1_in_the_sum_of_latencies() {
    let mut l = line(1, 0.0, ConsumerOptions::default());
    // Let the hellos settle: every link's faces learn their peer is chain-aware and answers
    // liveness probes.
    l.net.run_for(ms(2000));
    for node in l.nodes {
        for (_, face) in l.net.forwarder(node).faces() {
            if face.info.scope == super::FaceScope::NonLocal {
                assert_eq!(face.chain_awareness(), super::chain_peer::Awareness::Aware);
                assert!(face.is_liveness_capable());
            }
        }
    }

    let start = l.net.now();
    let req = l
        .net
        .express(
            l.consumer,
            &name("/data/x"),
            Some(chain("/sf/F3,/sf/F2,/sf/F1")),
        )
        .unwrap();
    assert!(l.net.run_until_answered(l.consumer, start + ms(10_000)));
    let r = l.net.request(l.consumer, req).unwrap();
    assert_eq!(
        data_content(r.outcome.as_ref()).as_deref(),
        Some("F3(F2(F1(/data/x)))")
    );
    // The result carries the whole stack it answers (protocol §2.3).
    match &r.outcome {
        Some(Outcome::Data {
            chain: c, name: n, ..
        }) => {
            assert_eq!(c.as_ref(), Some(&chain("/sf/F3,/sf/F2,/sf/F1")));
            assert_eq!(n, &name("/data/x"));
        }
        other => panic!("a Data expected: {other:?}"),
    }
    // Each SF fetches its input across the next link and back: the round trip of the whole
    // line, exactly (SFs compute in no time; local faces have no latency).
    let sum: u64 = LINE_MS.iter().sum();
    assert_eq!(r.response_time(), Some(ms(2 * sum)));
    assert_eq!(r.transmissions, 1);
    for f in l.functions {
        let s = l.net.function_stats(f).unwrap();
        assert_eq!((s.requests, s.computed, s.upstream_interests), (1, 1, 1));
    }
    assert_eq!(l.net.served(l.producer), 1);
    // Every hop popped its own function.
    for node in &l.nodes[..3] {
        assert_eq!(l.net.forwarder(*node).counters().functions_popped, 1);
    }

    // Asked again (a new Nonce), the result comes from r3's content store, at once; a
    // shorter chain is another computation: F2(F1(x)) comes from r2, whose SF finds F1's
    // result in r2's content store (it was cached there on its way to F2).
    let again = l
        .net
        .express(
            l.consumer,
            &name("/data/x"),
            Some(chain("/sf/F3,/sf/F2,/sf/F1")),
        )
        .unwrap();
    assert!(
        l.net
            .run_until_answered(l.consumer, l.net.now() + ms(10_000))
    );
    let r = l.net.request(l.consumer, again).unwrap();
    assert_eq!(r.response_time(), Some(Duration::ZERO));
    let before = l.net.now();
    let shorter = l
        .net
        .express(l.consumer, &name("/data/x"), Some(chain("/sf/F2,/sf/F1")))
        .unwrap();
    assert!(l.net.run_until_answered(l.consumer, before + ms(10_000)));
    let r = l.net.request(l.consumer, shorter).unwrap();
    assert_eq!(
        data_content(r.outcome.as_ref()).as_deref(),
        Some("F2(F1(/data/x))")
    );
    assert_eq!(r.response_time(), Some(ms(2 * LINE_MS[0])));
    assert_eq!(l.net.function_stats(l.functions[0]).unwrap().computed, 1);
    assert_eq!(l.net.served(l.producer), 1);
}

#[test]
fn an_unknown_function_mid_chain_comes_back_as_an_error_data_naming_it() {
    let mut l = line(2, 0.0, ConsumerOptions::default());
    l.net.run_for(ms(2000));
    let start = l.net.now();
    let req = l
        .net
        .express(
            l.consumer,
            &name("/data/x"),
            Some(chain("/sf/F3,/sf/Nope,/sf/F1")),
        )
        .unwrap();
    assert!(l.net.run_until_answered(l.consumer, start + ms(10_000)));
    let r = l.net.request(l.consumer, req).unwrap();
    let Some(Outcome::Data {
        content_type,
        content,
        ..
    }) = &r.outcome
    else {
        panic!("an error Data expected: {:?}", r.outcome);
    };
    assert_eq!(*content_type, nfwd_tlv::types::content_type::NACK);
    let v: serde_json::Value = serde_json::from_slice(content).unwrap();
    assert_eq!(v["error"], "unavailable");
    assert_eq!(v["function"], "/sf/Nope");
    assert_eq!(v["reporter"], "/sf/F3");
    // r3 has no route for /sf/Nope: its Nack NoRoute reaches F3 at once.
    assert_eq!(r.response_time(), Some(Duration::ZERO));
}

#[test]
fn with_loss_every_request_succeeds_by_retransmission_and_losses_match_the_counters() {
    let mut net = Network::new(7);
    net.enable_trace();
    let config = Config::default();
    let a = net.add_node("a", &config);
    let b = net.add_node("b", &config);
    let link = net.link(a, b, LinkSpec::latency_ms(10).with_loss(0.2));
    assert!(net.route(a, &name("/p"), b, 0));
    let producer = net.producer(b, &name("/p"), None, 10_000);
    let opts = ConsumerOptions {
        lifetime_ms: 200,
        max_retries: 30,
        can_be_prefix: false,
    };
    let consumer = net.consumer(a, opts);
    net.run_for(ms(1000));
    let n = 100;
    for k in 0..n {
        net.express(consumer, &name(&format!("/p/{k}")), None);
        net.run_for(ms(20));
    }
    assert!(net.run_until_answered(consumer, net.now() + ms(60_000)));

    let requests = net.requests(consumer);
    for (k, r) in requests.iter().enumerate() {
        assert_eq!(
            data_content(r.outcome.as_ref()).as_deref(),
            Some(format!("/p/{k}").as_str()),
            "request {k}: {:?}",
            r.outcome
        );
    }
    let retransmissions: u64 = requests
        .iter()
        .map(|r| u64::from(r.transmissions - 1))
        .sum();
    let counters = net.link_counters(link);
    let lost = |kinds: &[PacketKind]| {
        net.trace()
            .iter()
            .filter(|e| e.event == TraceEvent::Lost && kinds.contains(&e.kind))
            .count() as u64
    };
    // Every loss is in the link's counters and the trace, and nothing else happened to a
    // frame: sent = delivered + lost.
    assert!(counters.lost > 0);
    assert_eq!(
        counters.lost,
        lost(&[PacketKind::Interest, PacketKind::Data, PacketKind::Idle])
    );
    assert_eq!(counters.sent, counters.delivered + counters.lost);
    assert_eq!((counters.oversize, counters.cut), (0, 0));
    // A transmission fails iff its Interest or its Data was lost (one or the other: the
    // Data of a lost Interest is never sent; the latency is far below the lifetime).
    assert_eq!(
        retransmissions,
        lost(&[PacketKind::Interest, PacketKind::Data])
    );
    // The producer answers each Interest that reached it; a retransmission after a lost
    // Data is answered from b's content store.
    let lost_from_a = net
        .trace()
        .iter()
        .filter(|e| e.event == TraceEvent::Lost && e.node == a)
        .count() as u64;
    assert_eq!(net.link_counters_from(link, a).lost, lost_from_a);
    assert_eq!(net.served(producer), n);
    // 20 % loss, about 2n frames of traffic: the loss rate drawn is about that.
    let rate = counters.lost as f64 / counters.sent as f64;
    assert!((0.1..0.3).contains(&rate), "loss rate {rate}");
    eprintln!(
        "loss: {n} requests, {retransmissions} retransmissions, link {counters:?}, \
         last answered at {:?}",
        requests
            .iter()
            .filter_map(|r| r.outcome.as_ref())
            .map(Outcome::at)
            .max()
    );
}

/// A mesh: c reaches p directly (cost 1) or through m (cost 10).
struct Mesh {
    net: Network,
    c: NodeId,
    consumer: AppId,
    direct: LinkId,
    around: [LinkId; 2],
}

fn mesh(seed: u64) -> Mesh {
    let mut net = Network::new(seed);
    let config = Config::default();
    let c = net.add_node("c", &config);
    let m = net.add_node("m", &config);
    let p = net.add_node("p", &config);
    let direct = net.link(c, p, LinkSpec::latency_ms(10));
    let around = [
        net.link(c, m, LinkSpec::latency_ms(10)),
        net.link(m, p, LinkSpec::latency_ms(15)),
    ];
    assert!(net.route(c, &name("/p"), p, 1));
    assert!(net.route(c, &name("/p"), m, 10));
    assert!(net.route(m, &name("/p"), p, 0));
    net.producer(p, &name("/p"), None, 0);
    let consumer = net.consumer(
        c,
        ConsumerOptions {
            lifetime_ms: 4000,
            max_retries: 0,
            can_be_prefix: false,
        },
    );
    Mesh {
        net,
        c,
        consumer,
        direct,
        around,
    }
}

#[test]
fn cutting_the_active_link_fails_over_within_the_liveness_bound() {
    let mut mesh = mesh(3);
    let net = &mut mesh.net;
    net.run_for(ms(2000));
    let direct_face = net.link_face(mesh.direct, mesh.c).unwrap();
    let around_face = net.link_face(mesh.around[0], mesh.c).unwrap();
    let is_down = |net: &Network, face| {
        net.forwarder(mesh.c)
            .faces()
            .find(|(id, _)| *id == face)
            .is_some_and(|(_, f)| f.is_down())
    };

    // A request every 50 ms. Until the cut they take the direct path: 20 ms.
    let every = ms(50);
    let mut k = 0;
    let mut ask = |net: &mut Network| {
        net.express(mesh.consumer, &name(&format!("/p/{k}")), None);
        k += 1;
    };
    for _ in 0..20 {
        ask(net);
        net.run_for(every);
    }
    let before = net.requests(mesh.consumer).to_vec();
    assert!(before.iter().all(|r| r.response_time() == Some(ms(20))));

    // Cut. Requests keep coming; watch for the face going down, event by event.
    let cut_at = net.now();
    net.set_link_up(mesh.direct, false);
    let mut down_at = None;
    let mut next_ask = cut_at;
    while net.now() < cut_at + ms(3000) {
        if net.now() >= next_ask {
            ask(net);
            next_ask += every;
        }
        let until = next_ask.min(net.next_event().unwrap_or(next_ask));
        net.run_until(until);
        if down_at.is_none() && is_down(net, direct_face) {
            down_at = Some(net.now());
        }
    }
    let down_at = down_at.expect("the cut link's face goes down");
    let failover = down_at - cut_at;
    // Liveness: the face awaits from the first Interest sent after the last frame heard
    // (at most a request interval after the cut, at least a round trip before it), is down
    // `liveness_timeout_ms` (1000) later, seen at a tick (every `liveness_interval_ms` / 2 =
    // 125 ms).
    let (timeout, tick) = (ms(1000), ms(125));
    assert!(
        failover >= timeout - ms(20) && failover <= timeout + tick + every,
        "failover after {failover:?}"
    );
    assert!(!is_down(net, around_face));
    assert_eq!(net.forwarder(mesh.c).counters().faces_down, 1);

    // Nothing was lost: the Interests pending on the dead face were retried around when it
    // went down (answered in at most failover + the round trip around), and later ones go
    // around at once: 2 × (10 + 15) ms.
    let all = net.requests(mesh.consumer).to_vec();
    let during: Vec<_> = all.iter().skip(before.len()).collect();
    for r in &during {
        assert!(data_content(r.outcome.as_ref()).is_some(), "{r:?}");
    }
    let worst = during
        .iter()
        .filter_map(|r| r.response_time())
        .max()
        .unwrap();
    assert!(worst <= failover + ms(50), "worst {worst:?}");
    let after: Vec<_> = during
        .iter()
        .filter(|r| r.first_sent > down_at)
        .map(|r| r.response_time())
        .collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|t| *t == Some(ms(50))), "{after:?}");
    assert_eq!(
        net.forwarder(mesh.c).counters().retried_elsewhere as usize,
        { during.iter().filter(|r| r.first_sent < down_at).count() }
    );
    eprintln!(
        "failover: cut at {cut_at:?}, face down at {down_at:?} ({failover:?} later), \
         worst response {worst:?}, cut frames {:?}",
        net.link_counters(mesh.direct)
    );

    // Restored, the face is heard again at its next probe (one per timeout) and traffic
    // comes back to the cheaper path.
    net.set_link_up(mesh.direct, true);
    let restored_at = net.now();
    while is_down(net, direct_face) && net.now() < restored_at + ms(3000) {
        net.step();
    }
    let up_after = net.now() - restored_at;
    // Down, the face is probed once per timeout (on a tick); the Ack is a round trip later.
    assert!(up_after <= timeout + tick + ms(20), "up after {up_after:?}");
    let r = {
        ask(net);
        assert!(net.run_until_answered(mesh.consumer, net.now() + ms(1000)));
        net.requests(mesh.consumer).last().cloned().unwrap()
    };
    assert_eq!(r.response_time(), Some(ms(20)));
    eprintln!("failover: the restored link's face was up again {up_after:?} later");
}

#[test]
fn a_data_above_the_link_mtu_is_fragmented_when_the_faces_know_it_and_dropped_otherwise() {
    let mut net = Network::new(4);
    net.enable_trace();
    let config = Config::default();
    let c = net.add_node("c", &config);
    let p = net.add_node("p", &config);
    let q = net.add_node("q", &config);
    // Same 1500-byte MTU; towards p the faces are told it (as UDP faces), towards q not.
    let told = net.link(c, p, LinkSpec::latency_ms(5).with_mtu(1500, true));
    let untold = net.link(c, q, LinkSpec::latency_ms(5).with_mtu(1500, false));
    assert!(net.route(c, &name("/p"), p, 0));
    assert!(net.route(c, &name("/q"), q, 0));
    let big = Bytes::from(vec![b'x'; 4000]);
    net.producer(p, &name("/p"), Some(big.clone()), 10_000);
    net.producer(q, &name("/q"), Some(big.clone()), 10_000);
    let opts = ConsumerOptions {
        lifetime_ms: 500,
        max_retries: 1,
        can_be_prefix: false,
    };
    let consumer = net.consumer(c, opts);
    net.run_for(ms(1000));

    let start = net.now();
    let via_p = net.express(consumer, &name("/p/big"), None).unwrap();
    let via_q = net.express(consumer, &name("/q/big"), None).unwrap();
    assert!(net.run_until_answered(consumer, start + ms(5000)));

    // Fragmented by p's core into pieces that fit, reassembled by c's: the whole content,
    // one round trip.
    let r = net.request(consumer, via_p).unwrap();
    assert_eq!(r.content(), Some(&big));
    assert_eq!(r.response_time(), Some(ms(10)));
    let fragments: Vec<&TraceEntry> = net
        .trace()
        .iter()
        .filter(|e| e.node == p && e.event == TraceEvent::Sent && e.kind == PacketKind::Fragment)
        .collect();
    assert_eq!(fragments.len(), 3, "4000 bytes in 1500-byte frames");
    assert_eq!(net.link_counters(told).oversize, 0);

    // Not told, q's core sends the Data whole; the link drops it, twice (the retransmission
    // is answered from q's content store, as large).
    let r = net.request(consumer, via_q).unwrap();
    assert!(
        matches!(r.outcome, Some(Outcome::Timeout { .. })),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.transmissions, 2);
    let from_q = net.link_counters_from(untold, q);
    assert_eq!(from_q.oversize, 2);
    assert_eq!(net.link_counters(untold).oversize, 2);
    assert_eq!(
        net.trace()
            .iter()
            .filter(|e| e.event == TraceEvent::Oversize)
            .map(|e| (e.node, e.kind, e.name.clone()))
            .collect::<Vec<_>>(),
        vec![(q, PacketKind::Data, Some(name("/q/big"))); 2]
    );
}

/// The line with 10 % loss on every link, ten chained requests: the trace and outcomes.
fn lossy_line_run(seed: u64, loss: f64) -> (Vec<TraceEntry>, Vec<Option<Outcome>>) {
    let opts = ConsumerOptions {
        lifetime_ms: 300,
        max_retries: 50,
        can_be_prefix: false,
    };
    let mut l = line(seed, loss, opts);
    l.net.enable_trace();
    l.net.run_for(ms(1000));
    for k in 0..10 {
        l.net.express(
            l.consumer,
            &name(&format!("/data/{k}")),
            Some(chain("/sf/F3,/sf/F2,/sf/F1")),
        );
        l.net.run_for(ms(30));
    }
    assert!(
        l.net
            .run_until_answered(l.consumer, l.net.now() + ms(60_000))
    );
    let end = l.net.now() + ms(500);
    l.net.run_until(end);
    for (k, r) in l.net.requests(l.consumer).iter().enumerate() {
        assert_eq!(
            data_content(r.outcome.as_ref()),
            Some(format!("F3(F2(F1(/data/{k})))")),
            "seed {seed}, request {k}"
        );
    }
    if loss > 0.0 {
        let lost: u64 = l.links.iter().map(|&k| l.net.link_counters(k).lost).sum();
        assert!(lost > 0);
    }
    let outcomes = l
        .net
        .requests(l.consumer)
        .iter()
        .map(|r| r.outcome.clone())
        .collect();
    (l.net.trace().to_vec(), outcomes)
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another_under_loss() {
    let (trace_a, outcomes_a) = lossy_line_run(11, 0.1);
    let (trace_b, outcomes_b) = lossy_line_run(11, 0.1);
    assert!(trace_a.len() > 100);
    assert_eq!(trace_a, trace_b);
    assert_eq!(outcomes_a, outcomes_b);

    let (trace_c, outcomes_c) = lossy_line_run(12, 0.1);
    assert_ne!(trace_a, trace_c);
    assert_ne!(outcomes_a, outcomes_c, "other losses, other response times");

    // Without loss the seed changes nothing the trace records (Nonces, probe numbers and
    // tokens are not in it): the run's behaviour does not depend on it.
    let (calm_a, _) = lossy_line_run(11, 0.0);
    let (calm_b, _) = lossy_line_run(12, 0.0);
    assert_eq!(calm_a, calm_b);
}

/// `node`'s face on `link`: (chain awareness, liveness-capable, down).
fn face_state(
    net: &Network,
    link: LinkId,
    node: NodeId,
) -> (super::chain_peer::Awareness, bool, bool) {
    let face = net.link_face(link, node).unwrap();
    let (_, s) = net
        .forwarder(node)
        .faces()
        .find(|(id, _)| *id == face)
        .unwrap();
    (s.chain_awareness(), s.is_liveness_capable(), s.is_down())
}

fn error_json(outcome: Option<&Outcome>) -> serde_json::Value {
    match outcome {
        Some(Outcome::Data {
            content_type,
            content,
            ..
        }) if *content_type == nfwd_tlv::types::content_type::NACK => {
            serde_json::from_slice(content).unwrap()
        }
        other => panic!("an error Data expected: {other:?}"),
    }
}

#[test]
fn a_link_dying_mid_chain_comes_back_as_an_error_data_within_the_liveness_bound() {
    let mut l = line(6, 0.0, ConsumerOptions::default());
    l.net.run_for(ms(2000));
    // r2–r1 dies; r2 has no other way to F1.
    l.net.set_link_up(l.links[1], false);
    let start = l.net.now();
    let req = l
        .net
        .express(
            l.consumer,
            &name("/data/a"),
            Some(chain("/sf/F3,/sf/F2,/sf/F1")),
        )
        .unwrap();
    assert!(l.net.run_until_answered(l.consumer, start + ms(20_000)));
    let r = l.net.request(l.consumer, req).unwrap();
    // r2 declares the face down (liveness), Nacks F2's input Interest (NoRoute: its only
    // upstream is gone), F2 answers with an error naming F1, and F3 passes it on unchanged.
    let v = error_json(r.outcome.as_ref());
    assert_eq!(v["error"], "unavailable");
    assert_eq!(v["function"], "/sf/F1");
    assert_eq!(v["reporter"], "/sf/F2");
    assert!(
        v["message"].as_str().unwrap().contains("Nack NoRoute"),
        "{v}"
    );
    assert_eq!(
        r.transmissions, 1,
        "answered long before the consumer's lifetime"
    );
    let f2 = l.net.function_stats(l.functions[1]).unwrap();
    let f3 = l.net.function_stats(l.functions[2]).unwrap();
    assert_eq!((f2.unavailable, f3.upstream_errors), (1, 1));
    assert_eq!(l.net.forwarder(l.nodes[1]).counters().faces_down, 1);
    // The Interest reached r2 10 ms after it left; r2's face awaits from then, is down a
    // liveness timeout later, at a tick (125 ms); the error takes 10 ms back.
    let t = r.response_time().unwrap();
    assert!(
        t >= ms(1000 + 2 * LINE_MS[0]) && t <= ms(1000 + 125 + 2 * LINE_MS[0]),
        "answered after {t:?}"
    );
    eprintln!("mid-chain link death: error Data after {t:?}");
}

#[test]
fn a_neighbour_unreachable_during_the_chain_hellos_is_asked_again_by_the_first_chain() {
    // An nfwd neighbour whose link is down while the hellos are sent is judged "does not
    // understand chaining" (silence is all a forwarder ignoring hellos gives too). Nothing
    // was ever heard from it, so the first chained Interest after the link is back reopens
    // the question: it goes to the neighbour with a hello, and the chain is answered
    // (`chain_peer.rs`) — not with the false "unaware" error this test found before.
    let mut l = line(5, 0.0, ConsumerOptions::default());
    l.net.set_link_up(l.links[1], false);
    l.net.run_for(ms(3000));
    l.net.set_link_up(l.links[1], true);
    l.net.run_for(ms(3000));
    let (awareness, capable, down) = face_state(&l.net, l.links[1], l.nodes[1]);
    assert_eq!(awareness, super::chain_peer::Awareness::Unaware);
    // Liveness's hello was lost too, and nothing was sent since: never declared down.
    assert!(!capable && !down);

    let start = l.net.now();
    let req = l
        .net
        .express(
            l.consumer,
            &name("/data/a"),
            Some(chain("/sf/F3,/sf/F2,/sf/F1")),
        )
        .unwrap();
    assert!(l.net.run_until_answered(l.consumer, start + ms(20_000)));
    let first = l.net.request(l.consumer, req).cloned().unwrap();
    assert_eq!(
        data_content(first.outcome.as_ref()).as_deref(),
        Some("F3(F2(F1(/data/a)))")
    );
    // As fast as on a link never cut: the hello travels beside the Interest.
    assert_eq!(
        first.response_time(),
        Some(ms(2 * LINE_MS.iter().sum::<u64>()))
    );
    assert_eq!(l.net.forwarder(l.nodes[1]).counters().chained_to_unaware, 0);
    let (awareness, _, _) = face_state(&l.net, l.links[1], l.nodes[1]);
    assert_eq!(awareness, super::chain_peer::Awareness::Aware);
}

#[test]
fn a_lost_fragment_loses_the_packet_and_retransmission_recovers_it() {
    let mut net = Network::new(8);
    let config = Config::default();
    let c = net.add_node("c", &config);
    let p = net.add_node("p", &config);
    let spec = LinkSpec::latency_ms(5).with_mtu(1500, true).with_loss(0.2);
    let link = net.link(c, p, spec);
    assert!(net.route(c, &name("/p"), p, 0));
    let big = Bytes::from(vec![b'x'; 6000]);
    net.producer(p, &name("/p"), Some(big.clone()), 10_000);
    let opts = ConsumerOptions {
        lifetime_ms: 200,
        max_retries: 50,
        can_be_prefix: false,
    };
    let consumer = net.consumer(c, opts);
    net.run_for(ms(1000));
    for k in 0..50 {
        net.express(consumer, &name(&format!("/p/{k}")), None);
        net.run_for(ms(20));
    }
    assert!(net.run_until_answered(consumer, net.now() + ms(120_000)));
    net.run_for(ms(5000));
    let requests = net.requests(consumer);
    assert!(requests.iter().all(|r| r.content() == Some(&big)));
    // No link-layer reliability: a Data in 5 fragments arrives whole with probability
    // 0.8^5 ≈ 1/3, so retransmissions are many; the partial packets left behind are dropped
    // by the reassembler's timeout and counted.
    let retransmissions: u64 = requests
        .iter()
        .map(|r| u64::from(r.transmissions - 1))
        .sum();
    let face = net.link_face(link, c).unwrap();
    let (_, state) = net
        .forwarder(c)
        .faces()
        .find(|(id, _)| *id == face)
        .unwrap();
    let partial = state.counters.drop_reassembly;
    assert!(partial > 0 && partial <= retransmissions);
    assert_eq!(net.link_counters(link).oversize, 0);
    eprintln!(
        "fragments: 50 requests of 6000 bytes over MTU 1500 at 20 % loss: {retransmissions} \
         retransmissions, {partial} partial packets dropped, link {:?}",
        net.link_counters(link)
    );
}

#[test]
fn a_computation_longer_than_the_lifetime_is_joined_by_retransmissions() {
    // protocol §5.2: the consumer retransmits; each retransmission reaches the SF and joins
    // the running computation; the latest one gets the result.
    let mut net = Network::new(9);
    let config = Config::default();
    let a = net.add_node("a", &config);
    let b = net.add_node("b", &config);
    net.link(a, b, LinkSpec::latency_ms(10));
    assert!(net.route(a, &name("/p"), b, 0));
    net.producer(b, &name("/p"), None, 10_000);
    let slow = FunctionOptions {
        compute_time: ms(5000),
        ..FunctionOptions::default()
    };
    let sf = net.service_function(a, &name("/sf/slow"), slow);
    let opts = ConsumerOptions {
        lifetime_ms: 2000,
        max_retries: 5,
        can_be_prefix: false,
    };
    let consumer = net.consumer(a, opts);
    net.run_for(ms(1000));
    let req = net
        .express(consumer, &name("/p/x"), Some(chain("/sf/slow")))
        .unwrap();
    assert!(net.run_until_answered(consumer, net.now() + ms(20_000)));
    let r = net.request(consumer, req).unwrap();
    assert_eq!(data_content(r.outcome.as_ref()).as_deref(), Some("/P/X"));
    // Input fetched in one round trip (20 ms), then 5 s of computing.
    assert_eq!(r.response_time(), Some(ms(5020)));
    assert_eq!(r.transmissions, 3, "sent at 0, 2 and 4 s");
    let s = net.function_stats(sf).unwrap();
    assert_eq!(
        (s.computed, s.deduplicated, s.upstream_interests),
        (1, 2, 1)
    );
    // The SF answers every Interest it holds; those whose PIT entries expired are dropped
    // by the forwarder as unsolicited.
    assert_eq!(net.forwarder(a).counters().unsolicited_data, 2);
}

#[test]
fn parameters_reach_the_sf_and_a_segmented_input_is_fetched_whole() {
    // F1 cuts its result into 5-byte segments (protocol §5.1): F2 fetches "F1(/data/x)" in
    // three, one round trip r2–r1 each.
    let mut net = Network::new(10);
    let config = Config::default();
    let r3 = net.add_node("r3", &config);
    let r2 = net.add_node("r2", &config);
    let r1 = net.add_node("r1", &config);
    net.link(r3, r2, LinkSpec::latency_ms(10));
    net.link(r2, r1, LinkSpec::latency_ms(20));
    let wrap = FunctionOptions {
        transform: Transform::Wrap,
        ..FunctionOptions::default()
    };
    let small_segments = FunctionOptions {
        segment_size: 5,
        ..wrap
    };
    let f1 = net.service_function(r1, &name("/sf/F1"), small_segments);
    let f2 = net.service_function(r2, &name("/sf/F2"), wrap);
    let f3 = net.service_function(r3, &name("/sf/F3"), wrap);
    net.producer(r1, &name("/data"), None, 10_000);
    assert!(net.route(r3, &name("/sf/F2"), r2, 0));
    assert!(net.route(r2, &name("/sf/F1"), r1, 0));
    let consumer = net.consumer(r3, ConsumerOptions::default());
    net.run_for(ms(2000));

    // Two parameter values of F3 at once: two computations (their heads differ), whose
    // equal input Interests r3 aggregates; the one Data answers both.
    let start = net.now();
    let modes = ["a", "b"].map(|m| {
        let c = chain(&format!("/sf/F3/mode%3D{m},/sf/F2,/sf/F1"));
        net.express(consumer, &name("/data/x"), Some(c.clone()))
            .map(|id| (id, c))
            .unwrap()
    });
    assert!(net.run_until_answered(consumer, start + ms(10_000)));
    for (m, (id, c)) in ["a", "b"].iter().zip(modes) {
        let r = net.request(consumer, id).unwrap();
        let Some(Outcome::Data {
            chain: got,
            content,
            ..
        }) = &r.outcome
        else {
            panic!("{:?}", r.outcome);
        };
        // Labelled with the head asked for, parameters included (protocol §5.6).
        assert_eq!(got.as_ref(), Some(&c));
        assert_eq!(
            String::from_utf8_lossy(content),
            format!("mode={m}(F2(F1(/data/x)))")
        );
        // r3–r2 and back, r2–r1 and back, then two more segments from r1.
        assert_eq!(r.response_time(), Some(ms(2 * 10 + 2 * 20 + 2 * (2 * 20))));
    }
    let s3 = net.function_stats(f3).unwrap();
    assert_eq!((s3.computed, s3.upstream_interests), (2, 2));
    let s2 = net.function_stats(f2).unwrap();
    assert_eq!((s2.requests, s2.computed, s2.upstream_interests), (1, 1, 3));
    assert_eq!(
        net.function_stats(f1).unwrap().requests,
        3,
        "segments 0, 1, 2"
    );
}

//! Deterministic tests of NFD's self-learning (issue 14): the discovery broadcast, routes
//! learned from prefix announcements, announcements attached on the producer's side, routes
//! withdrawn on Nack NoRoute, and what hostile peers cannot do.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason};
use nfwd_tlv::{
    DataBuilder, Interest, InterestBuilder, Name, PrefixAnnouncement, Signer, VerifyKey,
};

use super::tests::sent_to;
use super::*;
use crate::config::Config;

/// 2026-01-01T00:00:00Z, the wall clock at the start of every test.
const WALL_START_MS: u64 = 1_767_225_600_000;

struct Net {
    fwd: Forwarder,
    now: Instant,
    out: Vec<Action>,
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

impl Net {
    /// A forwarder with self-learning for every name.
    fn new() -> Self {
        let mut c = Config::default();
        c.faces.liveness_timeout_ms = 0;
        c.chain.neighbour_timeout_ms = 0;
        let now = Instant::now();
        let mut fwd = Forwarder::new(&c, now);
        fwd.set_wall_clock(WALL_START_MS);
        let sl = strategy::create(&name("/localhost/nfd/strategy/self-learning")).unwrap();
        fwd.set_strategy(&Name::new(), sl);
        Self {
            fwd,
            now,
            out: Vec::new(),
        }
    }

    fn face(&mut self, uri: &str, scope: FaceScope) -> FaceId {
        let info = FaceInfo {
            remote_uri: uri.into(),
            local_uri: "test://".into(),
            scope,
            persistency: Persistency::Persistent,
            link_type: LinkType::PointToPoint,
            mtu: None,
            peer: None,
            channel: None,
        };
        self.fwd.add_face(info, self.now)
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

    fn learned(&self, prefix: &str) -> Vec<Route> {
        self.fwd
            .rib()
            .get(&name(prefix))
            .unwrap_or_default()
            .iter()
            .filter(|r| r.origin == 129)
            .cloned()
            .collect()
    }
}

fn interest(n: &str) -> Bytes {
    InterestBuilder::new(name(n)).lifetime_ms(4000).encode()
}

fn non_discovery(n: &str) -> Bytes {
    LpPacket {
        non_discovery: true,
        ..LpPacket::from_fragment(interest(n))
    }
    .encode()
}

fn data(n: &str) -> Bytes {
    DataBuilder::new(name(n), b"x".to_vec())
        .sign(&Signer::digest_sha256())
        .unwrap()
}

fn announcement(prefix: &str, expiration_ms: u64) -> Bytes {
    PrefixAnnouncement::build(
        &name(prefix),
        expiration_ms,
        None,
        1,
        &Signer::digest_sha256(),
    )
    .unwrap()
}

/// An upstream's answer to `request`: Data `n`, with announcement `pa` if given.
fn answer(request: &LpPacket, n: &str, pa: Option<Bytes>) -> Bytes {
    LpPacket {
        prefix_announcement: pa,
        ..LpPacket::from_fragment(data(n))
    }
    .echo_pit_token(request)
    .encode()
}

/// Interests sent to `face`.
fn interests(actions: &[Action], face: FaceId) -> Vec<LpPacket> {
    sent_to(actions, face)
        .into_iter()
        .filter(|lp| lp.nack.is_none() && lp.fragment.as_ref().is_some_and(|f| f[0] == 5))
        .collect()
}

fn one_interest(actions: &[Action], face: FaceId) -> LpPacket {
    let mut v = interests(actions, face);
    assert_eq!(v.len(), 1, "one Interest to {face} expected: {actions:?}");
    v.remove(0)
}

/// Data sent to `face`, as LP packets.
fn datas(actions: &[Action], face: FaceId) -> Vec<LpPacket> {
    sent_to(actions, face)
        .into_iter()
        .filter(|lp| lp.nack.is_none() && lp.fragment.as_ref().is_some_and(|f| f[0] == 6))
        .collect()
}

fn nacks(actions: &[Action], face: FaceId) -> Vec<NackReason> {
    sent_to(actions, face)
        .into_iter()
        .filter_map(|lp| lp.nack)
        .collect()
}

#[test]
fn discovery_broadcasts_learns_a_route_then_follows_it_until_nack_no_route() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let other_app = net.face("unix://d", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let b = net.face("udp4://10.0.0.2:6363", FaceScope::NonLocal);

    // No route: broadcast to every non-local face, as discovery (no NonDiscovery).
    let acts = net.recv(consumer, interest("/p/x"));
    let to_a = one_interest(&acts, a);
    let to_b = one_interest(&acts, b);
    assert!(!to_a.non_discovery && !to_b.non_discovery);
    assert!(
        interests(&acts, other_app).is_empty(),
        "local faces are not broadcast to"
    );
    assert_eq!(net.fwd.counters().sl_discoveries, 1);

    // `a` answers with an announcement of /p: the route is learned, the Data (announcement
    // included) goes down.
    let pa = announcement("/p", 3_600_000);
    let acts = net.recv(a, answer(&to_a, "/p/x", Some(pa.clone())));
    let down = datas(&acts, consumer);
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].prefix_announcement.as_ref(), Some(&pa));
    let learned = net.learned("/p");
    assert_eq!(learned.len(), 1);
    let r = &learned[0];
    assert_eq!((r.face, r.cost, r.flags), (a, 2048, 1));
    // The announcement allows an hour; NFD's self-learning renews every ten minutes.
    assert_eq!(r.expires, Some(net.now + Duration::from_secs(600)));
    assert_eq!(net.fwd.counters().sl_routes_learned, 1);
    assert_eq!(net.fwd.learned_routes(), 1);

    // The next Interest follows the route, marked NonDiscovery.
    let acts = net.recv(consumer, interest("/p/y"));
    let to_a = one_interest(&acts, a);
    assert!(to_a.non_discovery);
    assert!(interests(&acts, b).is_empty());
    // Its Data needs no announcement on this side (the consumer is local).
    let acts = net.recv(a, answer(&to_a, "/p/y", None));
    assert_eq!(datas(&acts, consumer).len(), 1);
    assert!(datas(&acts, consumer)[0].prefix_announcement.is_none());

    // Nack NoRoute through the learned route withdraws it; the consumer gets the Nack.
    let acts = net.recv(consumer, interest("/p/z"));
    let to_a = one_interest(&acts, a);
    let nack = LpPacket::nack(NackReason::NoRoute, to_a.fragment.clone().unwrap())
        .echo_pit_token(&to_a)
        .encode();
    let acts = net.recv(a, nack);
    assert_eq!(nacks(&acts, consumer), vec![NackReason::NoRoute]);
    assert!(net.learned("/p").is_empty());
    assert_eq!(net.fwd.counters().sl_routes_withdrawn, 1);
    assert_eq!(net.fwd.learned_routes(), 0);

    // And discovery starts over.
    let acts = net.recv(consumer, interest("/p/w"));
    assert_eq!(interests(&acts, a).len() + interests(&acts, b).len(), 2);
    assert_eq!(net.fwd.counters().sl_discoveries, 2);
}

#[test]
fn a_learned_route_lives_as_the_announcement_says_then_expires() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let to_a = one_interest(&net.recv(consumer, interest("/p/x")), a);
    // A 30 s announcement: a 30 s route.
    net.recv(a, answer(&to_a, "/p/x", Some(announcement("/p", 30_000))));
    assert_eq!(
        net.learned("/p")[0].expires,
        Some(net.now + Duration::from_secs(30))
    );
    net.advance(29_000);
    assert_eq!(net.fwd.learned_routes(), 1);
    net.advance(1_500);
    assert!(net.learned("/p").is_empty());
    assert_eq!(net.fwd.learned_routes(), 0);
    // Discovery again.
    let acts = net.recv(consumer, interest("/p/y"));
    assert!(!one_interest(&acts, a).non_discovery);
}

#[test]
fn an_announcement_that_never_expires_makes_a_route_of_ten_minutes() {
    // ExpirationPeriod 2^64-1 ms (half a billion years): the route still lives ten minutes.
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let to_a = one_interest(&net.recv(consumer, interest("/p/x")), a);
    net.recv(a, answer(&to_a, "/p/x", Some(announcement("/p", u64::MAX))));
    assert_eq!(
        net.learned("/p")[0].expires,
        Some(net.now + Duration::from_secs(600))
    );
    net.advance(600_500);
    assert!(net.learned("/p").is_empty());
    assert_eq!(net.fwd.learned_routes(), 0);
}

#[test]
fn the_producer_side_attaches_an_announcement_from_its_rib() {
    let mut net = Net::new();
    let producer = net.face("unix://p", FaceScope::Local);
    let local_consumer = net.face("unix://c", FaceScope::Local);
    let remote = net.face("udp4://10.0.0.9:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), producer, 0);

    // A discovery Interest from a remote consumer: along the route, NonDiscovery.
    let acts = net.recv(remote, interest("/p/x"));
    let up = one_interest(&acts, producer);
    assert!(up.non_discovery);
    let acts = net.recv(producer, answer(&up, "/p/x", None));
    let down = datas(&acts, remote);
    assert_eq!(down.len(), 1);
    let pa = PrefixAnnouncement::decode(down[0].prefix_announcement.clone().unwrap()).unwrap();
    assert_eq!(pa.announced, name("/p"));
    // The route never expires: NFD's longest announcement, an hour.
    assert_eq!(pa.expiration_ms, 3_600_000);
    assert_eq!(
        pa.data().name().get(2).unwrap().as_version(),
        Some(WALL_START_MS)
    );
    pa.data().verify(&VerifyKey::DigestSha256).unwrap();
    assert_eq!(net.fwd.counters().sl_announcements_attached, 1);

    // A route that expires sooner announces its lifetime, never less than 15 s.
    let expiring = |now: Instant, ms| Route {
        face: producer,
        origin: 0,
        cost: 0,
        flags: 1,
        expires: Some(now + Duration::from_millis(ms)),
        hosted: true,
    };
    for (route_ms, announced_ms) in [(120_000, 120_000), (2_000, 15_000)] {
        net.fwd
            .add_route_with(&name("/q"), expiring(net.now, route_ms));
        // A new name each time (the last one is in the content store).
        let n = format!("/q/{route_ms}");
        let up = one_interest(&net.recv(remote, interest(&n)), producer);
        let acts = net.recv(producer, answer(&up, &n, None));
        let wire = datas(&acts, remote)[0].prefix_announcement.clone().unwrap();
        let pa = PrefixAnnouncement::decode(wire).unwrap();
        assert_eq!(pa.expiration_ms, announced_ms);
    }

    // A local consumer learns no route: no announcement. Nor does one that asked with
    // NonDiscovery (it has a route already).
    let up = one_interest(&net.recv(local_consumer, interest("/p/y")), producer);
    let acts = net.recv(producer, answer(&up, "/p/y", None));
    assert!(
        datas(&acts, local_consumer)[0]
            .prefix_announcement
            .is_none()
    );
    let up = one_interest(&net.recv(remote, non_discovery("/p/z")), producer);
    assert!(up.non_discovery, "NonDiscovery goes on");
    let acts = net.recv(producer, answer(&up, "/p/z", None));
    assert!(datas(&acts, remote)[0].prefix_announcement.is_none());
    assert_eq!(net.fwd.counters().sl_announcements_attached, 3);
}

#[test]
fn a_learned_route_is_announced_on_with_its_own_announcement() {
    // A forwarder in the middle: it learned /p from upstream `a`; a discovery from `d`
    // downstream goes along the route and the Data goes down with a's announcement.
    let mut net = Net::new();
    let c = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let d = net.face("udp4://10.0.0.4:6363", FaceScope::NonLocal);
    let pa = announcement("/p", 3_600_000);
    let up = one_interest(&net.recv(c, interest("/p/x")), a);
    net.recv(a, answer(&up, "/p/x", Some(pa.clone())));
    let up = one_interest(&net.recv(d, interest("/p/y")), a);
    assert!(up.non_discovery);
    let acts = net.recv(a, answer(&up, "/p/y", None));
    assert_eq!(datas(&acts, d)[0].prefix_announcement.as_ref(), Some(&pa));
}

#[test]
fn non_discovery_without_a_route_is_nacked_no_route() {
    let mut net = Net::new();
    let remote = net.face("udp4://10.0.0.9:6363", FaceScope::NonLocal);
    let _other = net.face("udp4://10.0.0.8:6363", FaceScope::NonLocal);
    let acts = net.recv(remote, non_discovery("/p/x"));
    assert_eq!(nacks(&acts, remote), vec![NackReason::NoRoute]);
    assert_eq!(net.fwd.counters().sl_discoveries, 0);
}

#[test]
fn hostile_announcements_are_refused_counted_and_the_data_still_delivered() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let signer = Signer::digest_sha256();
    let mut corrupted = announcement("/p", 60_000).to_vec();
    let last = corrupted.len() - 1;
    corrupted[last] ^= 1;
    let from = nfwd_tlv::prefix_ann::parse_iso8601(b"20250101T000000").unwrap();
    let expired =
        PrefixAnnouncement::build(&name("/p"), 60_000, Some((from, from + 60)), 1, &signer)
            .unwrap();
    let not_pa = DataBuilder::new(name("/p/32=PA/v=1/seg=0"), b"x".to_vec())
        .sign(&signer)
        .unwrap();
    let cases = [
        (not_pa, "not an announcement"),
        (Bytes::from(corrupted), "digest does not verify"),
        (announcement("/other", 60_000), "does not cover the Data"),
        (
            announcement("/p/x/deeper", 60_000),
            "longer than the Data's name",
        ),
        (announcement("/p", 0), "no lifetime"),
        (expired, "validity period over"),
    ];
    for (i, (pa, why)) in cases.into_iter().enumerate() {
        let n = format!("/p/{i}");
        let up = one_interest(&net.recv(consumer, interest(&n)), a);
        let acts = net.recv(a, answer(&up, &n, Some(pa)));
        assert_eq!(datas(&acts, consumer).len(), 1, "{why}: Data delivered");
        assert_eq!(net.fwd.learned_routes(), 0, "{why}");
        assert_eq!(
            net.fwd.counters().sl_announcements_refused,
            i as u64 + 1,
            "{why}"
        );
    }
    assert_eq!(net.fwd.rib().len(), 0);
}

#[test]
fn learned_routes_are_bounded() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    let max = self_learning::MAX_LEARNED_ROUTES;
    for i in 0..=max {
        let n = format!("/p{i}/x");
        let up = one_interest(&net.recv(consumer, interest(&n)), a);
        let pa = announcement(&format!("/p{i}"), 60_000);
        net.recv(a, answer(&up, &n, Some(pa)));
    }
    assert_eq!(net.fwd.learned_routes(), max);
    assert_eq!(net.fwd.counters().sl_routes_full, 1);
    assert_eq!(net.fwd.rib().len(), max);
    // A withdrawn route makes room: the refused prefix is learned at its next discovery.
    let up = one_interest(&net.recv(consumer, interest("/p0/y")), a);
    assert!(up.non_discovery);
    let nack =
        LpPacket::nack(NackReason::NoRoute, up.fragment.clone().unwrap()).echo_pit_token(&up);
    net.recv(a, nack.encode());
    let n = format!("/p{max}/y");
    let up = one_interest(&net.recv(consumer, interest(&n)), a);
    assert!(!up.non_discovery);
    net.recv(
        a,
        answer(&up, &n, Some(announcement(&format!("/p{max}"), 60_000))),
    );
    assert_eq!(net.learned(&format!("/p{max}")).len(), 1);
    assert_eq!(net.fwd.learned_routes(), max);
}

#[test]
fn misplaced_self_learning_fields_are_dropped_as_nfd_does() {
    let mut net = Net::new();
    let consumer = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    // A PrefixAnnouncement on an Interest.
    let bad = LpPacket {
        prefix_announcement: Some(announcement("/p", 1000)),
        ..LpPacket::from_fragment(interest("/p/x"))
    };
    assert!(net.recv(a, bad.encode()).is_empty());
    // NonDiscovery on a Data.
    let up = one_interest(&net.recv(consumer, interest("/p/x")), a);
    let bad = LpPacket {
        non_discovery: true,
        ..LpPacket::from_fragment(data("/p/x"))
    }
    .echo_pit_token(&up);
    assert!(datas(&net.recv(a, bad.encode()), consumer).is_empty());
    // Either on a Nack.
    let nack = LpPacket {
        non_discovery: true,
        ..LpPacket::nack(NackReason::NoRoute, up.fragment.clone().unwrap())
    }
    .echo_pit_token(&up);
    assert!(net.recv(a, nack.encode()).is_empty());
    assert_eq!(net.fwd.counters().sl_fields_dropped, 3);
    // The entry is still pending: a proper answer satisfies it.
    let acts = net.recv(a, answer(&up, "/p/x", None));
    assert_eq!(datas(&acts, consumer).len(), 1);
}

#[test]
fn other_strategies_ignore_announcements() {
    let mut net = Net::new();
    net.fwd
        .set_strategy(&Name::new(), strategy::BestRoute::boxed());
    let consumer = net.face("unix://c", FaceScope::Local);
    let a = net.face("udp4://10.0.0.1:6363", FaceScope::NonLocal);
    net.fwd.add_route(&name("/p"), a, 10);
    let up = one_interest(&net.recv(consumer, interest("/p/x")), a);
    assert!(!up.non_discovery);
    let acts = net.recv(a, answer(&up, "/p/x", Some(announcement("/p", 60_000))));
    let down = datas(&acts, consumer);
    assert!(down[0].prefix_announcement.is_none());
    assert!(net.learned("/p").is_empty());
    let _ = Interest::decode(up.fragment.unwrap()).unwrap();
}

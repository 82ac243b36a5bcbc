//! A simulated network of forwarding cores in virtual time, for tests (issue 11).
//!
//! Several [`Forwarder`]s are joined by simulated links (one-way latency, loss, MTU, up or
//! down) and carry traffic between applications attached to them: consumers, producers and
//! service functions that behave on the wire as nfwd's SF runtime does (`docs/protocol.md`
//! §5). Like quinn-proto's test pair, the simulation does for many cores what the driver
//! (`nfwd-forwarder`'s `driver/engine.rs`) does for one — it delivers frames, runs timers
//! when due and carries out the cores' [`Action`]s — with no clock, socket, thread or task:
//! time is a [`Duration`] since the start that jumps from one event to the next, so a test
//! of seconds of network time runs in milliseconds and every time it measures is exact.
//!
//! Everything random — each core's seed, each link's losses, the applications' Nonces — is
//! drawn from the one seed given to [`Network::new`], and events due at the same time run
//! in the order they were scheduled: a run repeats exactly, which [`Network::trace`] shows.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason, PitToken};
use nfwd_tlv::types::{content_type, tt};
use nfwd_tlv::{Data, DataBuilder, FunctionChain, Interest, InterestBuilder, Name, Signer};

use super::rib::Route;
use super::{Action, FaceId, FaceInfo, FaceScope, Forwarder, LinkType, Persistency};
use crate::config::Config;

/// A forwarder of the network (an index, in the order they were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// A link of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub usize);

/// An application attached to a forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(pub usize);

/// A request of a consumer (an index into [`Network::requests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub usize);

/// The core's SplitMix64: the network's seed and every stream derived from it.
#[derive(Debug, Clone)]
struct SimRandom(crate::SplitMix64);

impl SimRandom {
    fn new(seed: u64) -> Self {
        Self(crate::SplitMix64(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next()
    }

    /// True with probability `p`. Draws nothing when `p` decides alone (0 or 1), so a
    /// loss-free link leaves its stream untouched.
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits: a uniform double in [0, 1).
        #[allow(clippy::cast_precision_loss, reason = "53 bits fit a double exactly")]
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        u < p
    }

    fn nonce(&mut self) -> [u8; 4] {
        ((self.next() >> 32) as u32).to_be_bytes()
    }
}

// -------------------------------------------------------------------------------------------
// Links

/// What a link is like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// One-way latency (each direction).
    pub latency: Duration,
    /// Probability that a frame is lost, each frame and direction drawn apart.
    pub loss: f64,
    /// Largest frame the link carries; a larger one is dropped (counted `oversize`).
    pub mtu: usize,
    /// Whether the faces at both ends are told the MTU ([`FaceInfo::mtu`]), as the UDP driver
    /// tells its faces: the core then cuts larger packets into NDNLPv2 fragments and
    /// reassembles them. Without it the faces are as stream faces (no MTU) and the link drops
    /// what does not fit.
    pub faces_know_mtu: bool,
}

impl Default for LinkSpec {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(10),
            loss: 0.0,
            // `faces.udp_mtu`'s default.
            mtu: 8800,
            faces_know_mtu: true,
        }
    }
}

impl LinkSpec {
    /// A loss-free link of `ms` one-way latency (other fields as the default).
    #[must_use]
    pub fn latency_ms(ms: u64) -> Self {
        Self {
            latency: Duration::from_millis(ms),
            ..Self::default()
        }
    }

    /// The same link losing frames with probability `p`.
    #[must_use]
    pub fn with_loss(self, p: f64) -> Self {
        Self { loss: p, ..self }
    }

    /// The same link with MTU `mtu`, told to the faces or not.
    #[must_use]
    pub fn with_mtu(self, mtu: usize, faces_know_mtu: bool) -> Self {
        Self {
            mtu,
            faces_know_mtu,
            ..self
        }
    }
}

/// What a link did with the frames handed to it (one direction, or both summed). A frame
/// handed over is `sent`, then exactly one of the others once it is through — a frame in
/// flight is only `sent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Frames handed to the link.
    pub sent: u64,
    /// Frames that reached the other end.
    pub delivered: u64,
    /// Frames lost to the link's loss rate.
    pub lost: u64,
    /// Frames larger than the link's MTU, dropped.
    pub oversize: u64,
    /// Frames dropped because the link was down when they were sent or due to arrive.
    pub cut: u64,
}

impl LinkCounters {
    fn add(self, o: Self) -> Self {
        Self {
            sent: self.sent + o.sent,
            delivered: self.delivered + o.delivered,
            lost: self.lost + o.lost,
            oversize: self.oversize + o.oversize,
            cut: self.cut + o.cut,
        }
    }
}

#[derive(Debug)]
struct Link {
    /// The two ends: node and its face, side 0 and side 1.
    ends: [(NodeId, FaceId); 2],
    spec: LinkSpec,
    up: bool,
    /// By direction: index 0 counts frames sent by side 0.
    counters: [LinkCounters; 2],
    random: SimRandom,
}

// -------------------------------------------------------------------------------------------
// Nodes and events

/// What a face of a node leads to.
#[derive(Debug, Clone, Copy)]
enum Attachment {
    Link { link: LinkId, side: usize },
    App { app: AppId, index: usize },
}

#[derive(Debug)]
struct Node {
    name: String,
    fwd: Forwarder,
    faces: BTreeMap<FaceId, Attachment>,
    /// When the core's timer event now in the queue is due (an event for another time is
    /// stale and skipped).
    timer_at: Option<Duration>,
    /// Actions the simulation does not carry out (channels, persistency, congestion
    /// marking): counted so a test can see that some were asked for.
    ignored_actions: u64,
    /// Frames the core sent to a face the simulation does not know.
    unrouted: u64,
}

/// Which timer of an application is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wake {
    /// The request (consumer) or computation (function) it is for.
    id: u64,
    /// The transmission it watches; a later one makes it stale. [`Wake::COMPUTED`] for a
    /// function's computation ending.
    attempt: u32,
}

impl Wake {
    const COMPUTED: u32 = u32::MAX;
}

#[derive(Debug)]
enum Event {
    /// A frame reaches a forwarder's face (from a link when `link` is set, else from an
    /// application).
    ToForwarder {
        node: NodeId,
        face: FaceId,
        frame: Bytes,
        link: Option<(LinkId, usize)>,
    },
    /// A frame reaches an application on its face `index`.
    ToApp {
        app: AppId,
        index: usize,
        frame: Bytes,
    },
    /// A core's timer.
    CoreTimer { node: NodeId },
    /// An application's timer.
    AppTimer { app: AppId, wake: Wake },
}

#[derive(Debug)]
struct Scheduled {
    at: Duration,
    /// Tie-break: events due together run in the order they were scheduled.
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

// -------------------------------------------------------------------------------------------
// Trace

/// What happened to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceEvent {
    /// A core sent it on the face.
    Sent,
    /// It arrived on the face of a core.
    Received,
    /// The link lost it.
    Lost,
    /// It was larger than the link's MTU.
    Oversize,
    /// The link was down.
    Cut,
}

/// What a frame held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// An Interest.
    Interest,
    /// A Data.
    Data,
    /// A Nack.
    Nack,
    /// An IDLE LpPacket (liveness probe or ack, chain hello).
    Idle,
    /// An NDNLPv2 fragment of a larger packet.
    Fragment,
    /// Anything else.
    Other,
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceEntry {
    /// Virtual time.
    pub at: Duration,
    /// The node whose face it is (the sender's, for frames a link dropped).
    pub node: NodeId,
    /// The face.
    pub face: FaceId,
    /// What happened.
    pub event: TraceEvent,
    /// What the frame held.
    pub kind: PacketKind,
    /// The packet's name (Interest, Data, Nack), if it has one.
    pub name: Option<Name>,
}

/// What a frame holds, for the trace. Nonces and tokens are left out on purpose: the trace
/// records behaviour, so two runs that behave alike trace alike.
fn classify(frame: &Bytes) -> (PacketKind, Option<Name>) {
    let Ok(lp) = LpPacket::decode(frame.clone()) else {
        return (PacketKind::Other, None);
    };
    if lp.is_fragmented() {
        return (PacketKind::Fragment, None);
    }
    let Some(fragment) = lp.fragment else {
        return (PacketKind::Idle, None);
    };
    match fragment.first().map(|&b| u32::from(b)) {
        Some(tt::INTEREST) => {
            let name = Interest::decode(fragment).ok().map(|i| i.name().clone());
            let kind = if lp.nack.is_some() {
                PacketKind::Nack
            } else {
                PacketKind::Interest
            };
            (kind, name)
        }
        Some(tt::DATA) => (
            PacketKind::Data,
            Data::decode(fragment).ok().map(|d| d.name().clone()),
        ),
        _ => (PacketKind::Other, None),
    }
}

// -------------------------------------------------------------------------------------------
// Applications

/// What an application asks for while handling an event.
#[derive(Debug, Default)]
struct AppIo {
    /// Frames to send, by the application's face index.
    sends: Vec<(usize, Bytes)>,
    /// Timers: (due, what for).
    wakes: Vec<(Duration, Wake)>,
}

/// How a consumer asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// InterestLifetime, ms; also how long it waits before retransmitting.
    pub lifetime_ms: u64,
    /// Retransmissions (new Nonce, same name and stack) after a timeout or a Congestion or
    /// Duplicate Nack, as `Client::fetch` does; then the request fails.
    pub max_retries: u32,
    /// CanBePrefix on its Interests.
    pub can_be_prefix: bool,
}

impl Default for ConsumerOptions {
    /// As `FetchOptions::default`: 4 s lifetime, 3 retries.
    fn default() -> Self {
        Self {
            lifetime_ms: nfwd_tlv::interest::DEFAULT_LIFETIME_MS,
            max_retries: 3,
            can_be_prefix: false,
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per request of a test; boxed, the Data's fields could not be matched"
)]
pub enum Outcome {
    /// A Data came back.
    Data {
        /// Virtual time of arrival.
        at: Duration,
        /// Its name.
        name: Name,
        /// The stack it carries.
        chain: Option<FunctionChain>,
        /// Its ContentType (3: an SF's error Data).
        content_type: u64,
        /// Its content.
        content: Bytes,
    },
    /// A Nack the consumer does not retry on.
    Nack {
        /// Virtual time of arrival.
        at: Duration,
        /// Its reason.
        reason: NackReason,
    },
    /// Every transmission timed out.
    Timeout {
        /// Virtual time the last one expired.
        at: Duration,
    },
}

impl Outcome {
    /// When the request ended.
    #[must_use]
    pub fn at(&self) -> Duration {
        match self {
            Self::Data { at, .. } | Self::Nack { at, .. } | Self::Timeout { at } => *at,
        }
    }
}

/// A consumer's request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The content name.
    pub name: Name,
    /// The function stack, if any.
    pub chain: Option<FunctionChain>,
    /// Virtual time of the first transmission.
    pub first_sent: Duration,
    /// Virtual time of the latest transmission.
    pub last_sent: Duration,
    /// Transmissions so far (1 + retransmissions).
    pub transmissions: u32,
    /// How it ended; `None` while pending.
    pub outcome: Option<Outcome>,
    /// The Interest last sent (its Nonce matches a Nack to it).
    interest: Interest,
}

impl Request {
    /// From the first transmission to the outcome.
    #[must_use]
    pub fn response_time(&self) -> Option<Duration> {
        self.outcome.as_ref().map(|o| o.at() - self.first_sent)
    }

    /// The content of the Data that answered, if one did.
    #[must_use]
    pub fn content(&self) -> Option<&Bytes> {
        match &self.outcome {
            Some(Outcome::Data { content, .. }) => Some(content),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Consumer {
    opts: ConsumerOptions,
    requests: Vec<Request>,
    /// The requests still without an outcome: what an arriving packet is matched against,
    /// so its cost follows the requests in flight, not all ever made.
    open: Vec<usize>,
}

impl Consumer {
    fn settle(&mut self, id: usize, outcome: Outcome) {
        if let Some(r) = self.requests.get_mut(id) {
            r.outcome = Some(outcome);
        }
        self.open.retain(|&o| o != id);
    }

    fn transmit(&mut self, now: Duration, id: usize, random: &mut SimRandom, io: &mut AppIo) {
        let Some(r) = self.requests.get_mut(id) else {
            return;
        };
        let interest = InterestBuilder::new(r.name.clone())
            .can_be_prefix(self.opts.can_be_prefix)
            .lifetime_ms(self.opts.lifetime_ms)
            .function_chain(r.chain.clone())
            .nonce(random.nonce())
            .build();
        let Ok(interest) = interest else {
            // `Network::express` built this Interest once already: not expected.
            return self.settle(id, Outcome::Timeout { at: now });
        };
        r.transmissions += 1;
        r.last_sent = now;
        io.sends.push((0, interest.wire().clone()));
        r.interest = interest;
        io.wakes.push((
            now + Duration::from_millis(self.opts.lifetime_ms),
            Wake {
                id: id as u64,
                attempt: r.transmissions,
            },
        ));
    }

    fn on_frame(&mut self, now: Duration, lp: LpPacket, random: &mut SimRandom, io: &mut AppIo) {
        let Some(fragment) = lp.fragment else { return };
        if let Some(reason) = lp.nack {
            let Ok(nacked) = Interest::decode(fragment) else {
                return;
            };
            // A Nack carries the Interest it rejects, with the Nonce the consumer gave it.
            let Some(id) = self.open.iter().copied().find(|&id| {
                self.requests
                    .get(id)
                    .is_some_and(|r| r.interest.nonce() == nacked.nonce())
            }) else {
                return;
            };
            let retryable = matches!(reason, NackReason::Congestion | NackReason::Duplicate);
            if retryable && self.requests[id].transmissions <= self.opts.max_retries {
                self.transmit(now, id, random, io);
            } else {
                self.settle(id, Outcome::Nack { at: now, reason });
            }
            return;
        }
        let Ok(data) = Data::decode(fragment) else {
            return;
        };
        let satisfied: Vec<usize> = self
            .open
            .iter()
            .copied()
            .filter(|&id| {
                self.requests
                    .get(id)
                    .is_some_and(|r| r.interest.matches(&data))
            })
            .collect();
        for id in satisfied {
            let outcome = Outcome::Data {
                at: now,
                name: data.name().clone(),
                chain: data.function_chain().cloned(),
                content_type: data.content_type(),
                content: data.content().clone(),
            };
            self.settle(id, outcome);
        }
    }

    fn on_wake(&mut self, now: Duration, wake: Wake, random: &mut SimRandom, io: &mut AppIo) {
        let Ok(id) = usize::try_from(wake.id) else {
            return;
        };
        let Some(r) = self.requests.get(id) else {
            return;
        };
        if r.outcome.is_some() || r.transmissions != wake.attempt {
            return;
        }
        if r.transmissions <= self.opts.max_retries {
            self.transmit(now, id, random, io);
        } else {
            self.settle(id, Outcome::Timeout { at: now });
        }
    }
}

/// Answers a prefix with Data.
#[derive(Debug)]
struct Producer {
    /// Content of every Data; `None`: the Data's name as text.
    content: Option<Bytes>,
    freshness_ms: u64,
    /// Interests answered.
    served: u64,
}

impl Producer {
    fn on_frame(&mut self, lp: &LpPacket, io: &mut AppIo) {
        let Some(fragment) = &lp.fragment else { return };
        if lp.nack.is_some() {
            return;
        }
        let Ok(interest) = Interest::decode(fragment.clone()) else {
            return;
        };
        let content = self
            .content
            .clone()
            .unwrap_or_else(|| Bytes::from(interest.name().to_string().into_bytes()));
        let Ok(data) = DataBuilder::new(interest.name().clone(), content)
            .freshness_ms(self.freshness_ms)
            .sign(&Signer::digest_sha256())
        else {
            return;
        };
        self.served += 1;
        io.sends.push((0, reply_frame(data, lp.pit_token)));
    }
}

/// A Data (or Nack) as an answer on a face: the forwarder's PIT token echoed, as the client
/// library's `IncomingInterest::reply` does.
fn reply_frame(packet: Bytes, token: Option<PitToken>) -> Bytes {
    let lp = LpPacket::from_fragment(packet);
    match token {
        Some(t) => lp.with_pit_token(t).encode_or_bare(),
        None => lp.encode_or_bare(),
    }
}

/// What a service function computes from its input.
#[derive(Debug, Clone, Copy)]
pub enum Transform {
    /// ASCII upper case.
    Uppercase,
    /// `F(input)`, F the last component of the function asked for: shows the order in which
    /// a chain's functions were applied.
    Wrap,
    /// Anything: (function asked for, input) → output, or the message of a `failed` error.
    Custom(fn(&Name, &[u8]) -> Result<Vec<u8>, String>),
}

impl Transform {
    fn apply(self, function: &Name, input: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Uppercase => Ok(input.to_ascii_uppercase()),
            Self::Wrap => {
                let tag = function
                    .last()
                    .map(|c| String::from_utf8_lossy(c.value()).into_owned())
                    .unwrap_or_default();
                let mut out = Vec::with_capacity(input.len() + tag.len() + 2);
                out.extend_from_slice(tag.as_bytes());
                out.push(b'(');
                out.extend_from_slice(input);
                out.push(b')');
                Ok(out)
            }
            Self::Custom(f) => f(function, input),
        }
    }
}

/// How a service function runs (the SF runtime's options that matter on the wire).
#[derive(Debug, Clone, Copy)]
pub struct FunctionOptions {
    /// What it computes.
    pub transform: Transform,
    /// How long applying the function takes, in virtual time.
    pub compute_time: Duration,
    /// How long it keeps asking upstream (the runtime's `timeout`: retransmissions are
    /// `ceil(timeout / lifetime)`). Default 30 s.
    pub timeout: Duration,
    /// FreshnessPeriod of results, ms. Default 10000.
    pub freshness_ms: u64,
    /// FreshnessPeriod of error Data, ms. Default 1000.
    pub error_freshness_ms: u64,
    /// Content bytes per result segment. Default 8000.
    pub segment_size: usize,
    /// How long a result answers repeats. Default 60 s.
    pub cache_ttl: Duration,
}

impl Default for FunctionOptions {
    fn default() -> Self {
        Self {
            transform: Transform::Uppercase,
            compute_time: Duration::ZERO,
            timeout: Duration::from_secs(30),
            freshness_ms: 10_000,
            error_freshness_ms: 1000,
            segment_size: 8000,
            cache_ttl: Duration::from_secs(60),
        }
    }
}

/// Counters of a service function (the runtime's `Stats`, those the simulation keeps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// Interests received for the function.
    pub requests: u64,
    /// Computations started.
    pub computed: u64,
    /// Interests that joined a computation already running.
    pub deduplicated: u64,
    /// Interests answered from the result cache.
    pub cached: u64,
    /// Upstream Interests sent (retransmissions included).
    pub upstream_interests: u64,
    /// Error Data produced because the input could not be fetched.
    pub unavailable: u64,
    /// Error Data produced because the function failed or the result does not fit.
    pub failed: u64,
    /// Upstream error Data passed on.
    pub upstream_errors: u64,
}

/// What identifies a computation, as the runtime's `Key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    function: Name,
    name: Name,
    chain: Option<FunctionChain>,
    segment_request: bool,
    can_be_prefix: bool,
    must_be_fresh: bool,
}

impl Key {
    fn of(interest: &Interest, function: Name) -> Self {
        let name = interest.name();
        let seg = name.last().and_then(|c| c.as_segment()).is_some();
        Self {
            function,
            name: if seg {
                name.prefix(name.len() - 1)
            } else {
                name.clone()
            },
            chain: interest.function_chain().cloned(),
            segment_request: seg,
            can_be_prefix: interest.can_be_prefix() && !seg,
            must_be_fresh: interest.must_be_fresh(),
        }
    }

    /// `F, S` in text form, as error Data report it.
    fn stack_text(&self) -> String {
        match &self.chain {
            Some(rest) => format!("{},{rest}", self.function),
            None => self.function.to_string(),
        }
    }
}

/// A computed result: one Data named like the Interest, or segments `N'/seg=k`.
#[derive(Debug, Clone)]
struct ResultSet {
    base: Name,
    segmented: bool,
    datas: Vec<Data>,
}

impl ResultSet {
    /// The Data answering `interest`, by name (as the runtime's `ResultSet::answer`).
    fn answer(&self, interest: &Interest) -> Option<&Data> {
        let i = interest.name();
        if !self.segmented {
            let d = self.datas.first()?;
            let ok = d.name() == i || (interest.can_be_prefix() && i.is_prefix_of(d.name()));
            return ok.then_some(d);
        }
        if let Some(k) = i.last().and_then(|c| c.as_segment())
            && i.len() == self.base.len() + 1
            && i.prefix(i.len() - 1) == self.base
        {
            return usize::try_from(k).ok().and_then(|k| self.datas.get(k));
        }
        (interest.can_be_prefix() && i.is_prefix_of(&self.base))
            .then(|| self.datas.first())
            .flatten()
    }
}

#[derive(Debug, Clone)]
enum SfOutcome {
    Result(ResultSet),
    /// An error Data's content; the Data is named after each Interest it answers.
    Error(Bytes),
}

/// One computation: its input being fetched, then the function applied.
#[derive(Debug)]
struct Computation {
    key: Key,
    /// The Interests waiting for it, with the PIT tokens to echo.
    waiters: Vec<(Interest, Option<PitToken>)>,
    /// The upstream Interest now outstanding.
    upstream: Interest,
    /// Transmissions of the current upstream Interest (1 + retransmissions).
    tries: u32,
    /// Upstream Interests sent in all: what a timer watches (a later one makes it stale).
    sent: u32,
    max_retries: u32,
    lifetime_ms: u64,
    /// Input segments received (in order); the input's name without segment once known.
    parts: Vec<Bytes>,
    base: Option<Name>,
    /// The computed outcome, held while `compute_time` passes.
    done: Option<SfOutcome>,
}

#[derive(Debug)]
struct ServiceFunction {
    me: Name,
    instance: String,
    opts: FunctionOptions,
    computations: BTreeMap<u64, Computation>,
    by_key: HashMap<Key, u64>,
    next_id: u64,
    /// Outcomes, with when they were computed; oldest first in `cache_order`.
    cache: HashMap<CacheKey, (Duration, SfOutcome)>,
    cache_order: VecDeque<(Duration, CacheKey)>,
    stats: FunctionStats,
}

/// Where an outcome is found again, as the runtime's result cache keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    /// A request like the one computed.
    Request(Key),
    /// `(F, N', S)` of a segmented result: where its later segments `N'/seg=k` are found.
    Base(Name, Name, Option<FunctionChain>),
}

/// Most outcomes a function keeps (the runtime's `cache_entries` default).
const SF_CACHE_ENTRIES: usize = 256;

/// Face indexes of a service function: where Interests for it arrive, and where it fetches
/// its input (a face of its own, as the runtime's, so the forwarder can send the input
/// Interest to the same function again).
const SF_FUNCTION_FACE: usize = 0;
const SF_UPSTREAM_FACE: usize = 1;

impl ServiceFunction {
    fn on_frame(
        &mut self,
        now: Duration,
        index: usize,
        lp: &LpPacket,
        random: &mut SimRandom,
        io: &mut AppIo,
    ) {
        let Some(fragment) = lp.fragment.clone() else {
            return;
        };
        match (index, lp.nack) {
            (SF_FUNCTION_FACE, None) => {
                if let Ok(interest) = Interest::decode(fragment) {
                    self.on_interest(now, interest, lp, random, io);
                }
            }
            (SF_UPSTREAM_FACE, Some(reason)) => {
                if let Ok(nacked) = Interest::decode(fragment) {
                    self.on_upstream_nack(now, &nacked, reason, random, io);
                }
            }
            (SF_UPSTREAM_FACE, None) => {
                if let Ok(data) = Data::decode(fragment) {
                    self.on_upstream_data(now, &data, random, io);
                }
            }
            _ => {}
        }
    }

    /// The function asked for: the head the forwarder popped (parameters included), or the
    /// served name from a forwarder that does not say.
    fn requested(&self, popped: Option<&Name>) -> Name {
        popped
            .filter(|f| self.me.is_prefix_of(f))
            .unwrap_or(&self.me)
            .clone()
    }

    fn on_interest(
        &mut self,
        now: Duration,
        interest: Interest,
        lp: &LpPacket,
        random: &mut SimRandom,
        io: &mut AppIo,
    ) {
        self.stats.requests += 1;
        let key = Key::of(&interest, self.requested(lp.popped_function.as_ref()));
        if let Some(outcome) = self.cached(now, &interest, &key) {
            self.stats.cached += 1;
            let frame = self.reply(&outcome, &key, &interest, lp.pit_token);
            io.sends.extend(frame.map(|f| (SF_FUNCTION_FACE, f)));
            return;
        }
        if let Some(c) = self
            .by_key
            .get(&key)
            .and_then(|id| self.computations.get_mut(id))
        {
            self.stats.deduplicated += 1;
            c.waiters.push((interest, lp.pit_token));
            return;
        }
        // Upstream Interests live as long as the one received, and are retransmitted for as
        // long as the function may run (protocol §5.2, 3).
        let lifetime_ms = interest.effective_lifetime_ms().max(1);
        let timeout_ms = u64::try_from(self.opts.timeout.as_millis()).unwrap_or(u64::MAX);
        let max_retries =
            u32::try_from(timeout_ms.div_ceil(lifetime_ms).clamp(1, 1000)).unwrap_or(1000);
        let Ok(upstream) = InterestBuilder::new(interest.name().clone())
            .can_be_prefix(true)
            .must_be_fresh(key.must_be_fresh)
            .lifetime_ms(lifetime_ms)
            .function_chain(key.chain.clone())
            .build()
        else {
            return;
        };
        self.stats.computed += 1;
        let id = self.next_id;
        self.next_id += 1;
        self.by_key.insert(key.clone(), id);
        self.computations.insert(
            id,
            Computation {
                key,
                waiters: vec![(interest, lp.pit_token)],
                upstream,
                tries: 0,
                sent: 0,
                max_retries,
                lifetime_ms,
                parts: Vec::new(),
                base: None,
                done: None,
            },
        );
        self.send_upstream(now, id, random, io);
    }

    /// (Re)sends computation `id`'s upstream Interest with a new Nonce.
    fn send_upstream(&mut self, now: Duration, id: u64, random: &mut SimRandom, io: &mut AppIo) {
        let Some(c) = self.computations.get_mut(&id) else {
            return;
        };
        let Ok(interest) = c.upstream.to_builder().nonce(random.nonce()).build() else {
            return;
        };
        c.tries += 1;
        c.sent += 1;
        self.stats.upstream_interests += 1;
        io.sends.push((SF_UPSTREAM_FACE, interest.wire().clone()));
        c.upstream = interest;
        io.wakes.push((
            now + Duration::from_millis(c.lifetime_ms),
            Wake {
                id,
                attempt: c.sent,
            },
        ));
    }

    fn on_wake(&mut self, now: Duration, wake: Wake, random: &mut SimRandom, io: &mut AppIo) {
        let Some(c) = self.computations.get(&wake.id) else {
            return;
        };
        if wake.attempt == Wake::COMPUTED {
            if let Some(outcome) = c.done.clone() {
                self.finish(now, wake.id, outcome, io);
            }
            return;
        }
        if c.done.is_some() || c.sent != wake.attempt {
            return;
        }
        if c.tries <= c.max_retries {
            self.send_upstream(now, wake.id, random, io);
        } else {
            let outcome = self.unavailable(wake.id, None);
            self.finish(now, wake.id, outcome, io);
        }
    }

    fn on_upstream_nack(
        &mut self,
        now: Duration,
        nacked: &Interest,
        reason: NackReason,
        random: &mut SimRandom,
        io: &mut AppIo,
    ) {
        let Some((&id, c)) = self
            .computations
            .iter()
            .find(|(_, c)| c.done.is_none() && c.upstream.nonce() == nacked.nonce())
        else {
            return;
        };
        let retryable = matches!(reason, NackReason::Congestion | NackReason::Duplicate);
        if retryable && c.tries <= c.max_retries {
            self.send_upstream(now, id, random, io);
        } else {
            let outcome = self.unavailable(id, Some(reason));
            self.finish(now, id, outcome, io);
        }
    }

    /// A Data on the upstream face: input for every computation whose outstanding Interest
    /// it answers (the forwarder aggregated equal Interests from this face into one).
    fn on_upstream_data(
        &mut self,
        now: Duration,
        data: &Data,
        random: &mut SimRandom,
        io: &mut AppIo,
    ) {
        let ids: Vec<u64> = self
            .computations
            .iter()
            .filter(|(_, c)| c.done.is_none() && c.upstream.matches(data))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.take_input(now, id, data, random, io);
        }
    }

    fn take_input(
        &mut self,
        now: Duration,
        id: u64,
        data: &Data,
        random: &mut SimRandom,
        io: &mut AppIo,
    ) {
        if data.content_type() == content_type::NACK {
            // An upstream SF failed: its error goes on unchanged, so the consumer learns
            // which function of the chain failed (protocol §5.3).
            self.stats.upstream_errors += 1;
            let outcome = SfOutcome::Error(data.content().clone());
            return self.computed(now, id, outcome, io);
        }
        let Some(c) = self.computations.get_mut(&id) else {
            return;
        };
        c.parts.push(data.content().clone());
        let segment = data.name().last().and_then(|c| c.as_segment());
        let last = data.final_block_id().and_then(|c| c.as_segment());
        if let Some(k) = segment
            && last.is_some_and(|l| k < l)
        {
            // Segmented input: the next segment (one at a time; the runtime keeps a window).
            let base = data.name().prefix(data.name().len() - 1);
            let next = InterestBuilder::new(base.append_segment(k + 1))
                .must_be_fresh(c.key.must_be_fresh)
                .lifetime_ms(c.lifetime_ms)
                .function_chain(c.key.chain.clone())
                .build();
            c.base = Some(base);
            return match next {
                Ok(next) => {
                    c.upstream = next;
                    c.tries = 0;
                    self.send_upstream(now, id, random, io);
                }
                Err(e) => {
                    let key = c.key.clone();
                    let outcome = self.failed(&key, &format!("fetching the input: {e}"));
                    self.computed(now, id, outcome, io);
                }
            };
        }
        let in_name = match (segment, c.base.take()) {
            (Some(_), Some(base)) => base,
            (Some(_), None) => data.name().prefix(data.name().len() - 1),
            (None, _) => data.name().clone(),
        };
        let input: Vec<u8> = c.parts.concat();
        let key = c.key.clone();
        let outcome = self.apply(&key, in_name, &input);
        self.computed(now, id, outcome, io);
    }

    /// The input is in (or failed) and `outcome` computed: answered now, or once the
    /// computation time has passed.
    fn computed(&mut self, now: Duration, id: u64, outcome: SfOutcome, io: &mut AppIo) {
        if self.opts.compute_time.is_zero() {
            return self.finish(now, id, outcome, io);
        }
        if let Some(c) = self.computations.get_mut(&id) {
            c.done = Some(outcome);
            io.wakes.push((
                now + self.opts.compute_time,
                Wake {
                    id,
                    attempt: Wake::COMPUTED,
                },
            ));
        }
    }

    /// Applies the function and packages the output (the runtime's `package`).
    fn apply(&mut self, key: &Key, in_name: Name, input: &[u8]) -> SfOutcome {
        let output = match self.opts.transform.apply(&key.function, input) {
            Ok(o) => o,
            Err(message) => return self.failed(key, &message),
        };
        let chain = FunctionChain::pushed(key.function.clone(), key.chain.as_ref()).ok();
        let signer = Signer::digest_sha256();
        if !key.segment_request && !key.can_be_prefix {
            if output.len() > self.opts.segment_size {
                let message = format!(
                    "the output ({} bytes) needs segments, but the Interest for {} has no \
                     CanBePrefix",
                    output.len(),
                    key.name
                );
                return self.failed(key, &message);
            }
            return match DataBuilder::new(key.name.clone(), output)
                .function_chain(chain)
                .freshness_ms(self.opts.freshness_ms)
                .build(&signer)
            {
                Ok(d) => SfOutcome::Result(ResultSet {
                    base: key.name.clone(),
                    segmented: false,
                    datas: vec![d],
                }),
                Err(e) => self.failed(key, &e.to_string()),
            };
        }
        let size = self.opts.segment_size.max(1);
        let chunks: Vec<&[u8]> = if output.is_empty() {
            vec![&[][..]]
        } else {
            output.chunks(size).collect()
        };
        let last = nfwd_tlv::Component::segment(chunks.len() as u64 - 1);
        let mut datas = Vec::with_capacity(chunks.len());
        for (k, chunk) in chunks.into_iter().enumerate() {
            match DataBuilder::new(in_name.append_segment(k as u64), chunk.to_vec())
                .function_chain(chain.clone())
                .freshness_ms(self.opts.freshness_ms)
                .final_block_id(last.clone())
                .build(&signer)
            {
                Ok(d) => datas.push(d),
                Err(e) => return self.failed(key, &e.to_string()),
            }
        }
        SfOutcome::Result(ResultSet {
            base: in_name,
            segmented: true,
            datas,
        })
    }

    fn error_content(&self, kind: &str, function: &Name, stack: &str, message: &str) -> SfOutcome {
        let message: String = message.chars().take(1000).collect();
        let v = serde_json::json!({
            "error": kind,
            "function": function.to_string(),
            "stack": stack,
            "reporter": self.me.to_string(),
            "instance": self.instance,
            "message": message,
        });
        SfOutcome::Error(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
    }

    fn failed(&mut self, key: &Key, message: &str) -> SfOutcome {
        self.stats.failed += 1;
        self.error_content("failed", &key.function, &key.stack_text(), message)
    }

    /// The input of computation `id` could not be fetched — a Nack it does not retry on,
    /// or (`None`) no answer to any transmission: the error names the further function when
    /// there is one (it is what could not be reached), in the runtime's words
    /// (`upstream_failed`).
    fn unavailable(&mut self, id: u64, nack: Option<NackReason>) -> SfOutcome {
        self.stats.unavailable += 1;
        let Some(c) = self.computations.get(&id) else {
            return SfOutcome::Error(Bytes::new());
        };
        let key = &c.key;
        let Some(next) = &key.chain else {
            let why = match nack {
                Some(NackReason::NoRoute) => "no route (Nack NoRoute)".to_string(),
                Some(r) => format!("Nack {r:?}"),
                None => "no answer (timed out)".to_string(),
            };
            let message = format!("fetching the input {}: {why}", key.name);
            return self.error_content("unavailable", &key.function, &key.stack_text(), &message);
        };
        let head = next.head();
        let why = match nack {
            Some(NackReason::NoRoute) => format!(
                "no route to the function {head} (Nack NoRoute): no forwarder on the way offers it"
            ),
            Some(r) => format!("the function {head} was refused (Nack {r:?})"),
            None => format!("the function {head} did not answer (timed out)"),
        };
        let message = format!("{why}; asked by {} for {}", key.function, key.name);
        self.error_content("unavailable", head, &next.to_string(), &message)
    }

    /// Ends computation `id`: cached, and every waiting Interest answered.
    fn finish(&mut self, now: Duration, id: u64, outcome: SfOutcome, io: &mut AppIo) {
        let Some(c) = self.computations.remove(&id) else {
            return;
        };
        self.by_key.remove(&c.key);
        for (interest, token) in &c.waiters {
            let frame = self.reply(&outcome, &c.key, interest, *token);
            io.sends.extend(frame.map(|f| (SF_FUNCTION_FACE, f)));
        }
        if let SfOutcome::Result(r) = &outcome
            && r.segmented
        {
            let base = CacheKey::Base(c.key.function.clone(), r.base.clone(), c.key.chain.clone());
            self.cache.insert(base.clone(), (now, outcome.clone()));
            self.cache_order.push_back((now, base));
        }
        let request = CacheKey::Request(c.key);
        self.cache.insert(request.clone(), (now, outcome));
        self.cache_order.push_back((now, request));
        while self.cache_order.len() > SF_CACHE_ENTRIES
            || self
                .cache_order
                .front()
                .is_some_and(|(t, _)| now.saturating_sub(*t) > self.opts.cache_ttl)
        {
            let Some((t, key)) = self.cache_order.pop_front() else {
                break;
            };
            if self.cache.get(&key).is_some_and(|(c, _)| *c == t) {
                self.cache.remove(&key);
            }
        }
    }

    /// A cached outcome that answers `interest`, as the runtime's `cached`: a later
    /// segment of a segmented result; else the outcome of an equal request — an error
    /// within its freshness, a result within the TTL (and its freshness for MustBeFresh).
    fn cached(&self, now: Duration, interest: &Interest, key: &Key) -> Option<SfOutcome> {
        let young = |at: Duration, max_age: Duration| {
            now.saturating_sub(at) <= max_age.min(self.opts.cache_ttl)
        };
        if key.segment_request {
            let base = CacheKey::Base(key.function.clone(), key.name.clone(), key.chain.clone());
            if let Some((at, outcome @ SfOutcome::Result(r))) = self.cache.get(&base)
                && young(*at, Duration::MAX)
                && r.answer(interest).is_some()
            {
                return Some(outcome.clone());
            }
        }
        let (at, outcome) = self.cache.get(&CacheKey::Request(key.clone()))?;
        let max_age_ms = match outcome {
            SfOutcome::Error(_) => self.opts.error_freshness_ms,
            SfOutcome::Result(_) if key.must_be_fresh => self.opts.freshness_ms,
            SfOutcome::Result(_) => u64::MAX,
        };
        young(*at, Duration::from_millis(max_age_ms)).then(|| outcome.clone())
    }

    /// The frame answering `interest` from `outcome`.
    fn reply(
        &mut self,
        outcome: &SfOutcome,
        key: &Key,
        interest: &Interest,
        token: Option<PitToken>,
    ) -> Option<Bytes> {
        let chain = FunctionChain::pushed(key.function.clone(), interest.function_chain()).ok();
        let wire = match outcome {
            SfOutcome::Result(r) => match r.answer(interest) {
                Some(d) => d.wire().clone(),
                None => {
                    let message = format!("{} is not a name of the result", interest.name());
                    let SfOutcome::Error(content) =
                        self.error_content("rejected", &key.function, &key.stack_text(), &message)
                    else {
                        return None;
                    };
                    self.error_data(interest, chain, content)?
                }
            },
            SfOutcome::Error(content) => self.error_data(interest, chain, content.clone())?,
        };
        Some(reply_frame(wire, token))
    }

    /// An error Data answering `interest` exactly (protocol §5.3).
    fn error_data(
        &self,
        interest: &Interest,
        chain: Option<FunctionChain>,
        content: Bytes,
    ) -> Option<Bytes> {
        DataBuilder::new(interest.name().clone(), content)
            .function_chain(chain)
            .content_type(content_type::NACK)
            .freshness_ms(self.opts.error_freshness_ms)
            .sign(&Signer::digest_sha256())
            .ok()
    }
}

#[derive(Debug)]
enum AppKind {
    Consumer(Consumer),
    Producer(Producer),
    Function(Box<ServiceFunction>),
}

#[derive(Debug)]
struct App {
    node: NodeId,
    /// Its faces on the node, by index.
    faces: Vec<FaceId>,
    kind: AppKind,
    /// Its Nonces.
    random: SimRandom,
}

// -------------------------------------------------------------------------------------------
// The network

/// Several forwarding cores, their links and applications, in virtual time.
///
/// Methods given a [`NodeId`] not of this network panic (a test's mistake); those given an
/// unknown [`LinkId`] or [`AppId`] do nothing or return nothing.
#[derive(Debug)]
pub struct Network {
    base: Instant,
    now: Duration,
    random: SimRandom,
    nodes: Vec<Node>,
    links: Vec<Link>,
    apps: Vec<App>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    trace: Option<Vec<TraceEntry>>,
    /// Reused between calls into the cores.
    actions: Vec<Action>,
    /// Nodes whose core a test reached into ([`Network::forwarder_mut`]): their timers are
    /// looked at again before the next event.
    touched: Vec<NodeId>,
    /// Events run so far.
    events: u64,
}

/// A face towards another forwarder: made by this one (watched by liveness, asked the chain
/// hello), as a configured UDP face is.
fn link_face_info(uri: String, mtu: Option<usize>) -> FaceInfo {
    FaceInfo {
        remote_uri: uri,
        local_uri: "udp4://0.0.0.0:6363".into(),
        scope: FaceScope::NonLocal,
        persistency: Persistency::Persistent,
        link_type: LinkType::PointToPoint,
        mtu,
        peer: None,
        channel: None,
    }
}

/// A local application's face (as a Unix socket's).
fn app_face_info(uri: String) -> FaceInfo {
    FaceInfo {
        remote_uri: uri,
        local_uri: "unix:///run/nfd/nfd.sock".into(),
        scope: FaceScope::Local,
        persistency: Persistency::OnDemand,
        link_type: LinkType::PointToPoint,
        mtu: None,
        peer: None,
        channel: None,
    }
}

impl Network {
    /// An empty network whose every random choice derives from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            base: Instant::now(),
            now: Duration::ZERO,
            random: SimRandom::new(seed),
            nodes: Vec::new(),
            links: Vec::new(),
            apps: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            trace: None,
            actions: Vec::new(),
            touched: Vec::new(),
            events: 0,
        }
    }

    /// Starts recording the trace.
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The trace recorded so far (empty unless [`Self::enable_trace`] was called).
    #[must_use]
    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or_default()
    }

    /// Virtual time since the start.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Virtual time as the cores see it.
    #[must_use]
    pub fn instant(&self) -> Instant {
        self.base + self.now
    }

    /// Adds a forwarder configured by `config`, seeded from the network's seed.
    pub fn add_node(&mut self, name: &str, config: &Config) -> NodeId {
        let fwd = Forwarder::with_seed(config, self.instant(), self.random.next());
        self.nodes.push(Node {
            name: name.to_string(),
            fwd,
            faces: BTreeMap::new(),
            timer_at: None,
            ignored_actions: 0,
            unrouted: 0,
        });
        let id = NodeId(self.nodes.len() - 1);
        self.rearm(id);
        id
    }

    /// The forwarder of `node`.
    ///
    /// # Panics
    /// If `node` is not of this network.
    #[must_use]
    pub fn forwarder(&self, node: NodeId) -> &Forwarder {
        &self.nodes[node.0].fwd
    }

    /// The forwarder of `node`, to change (routes, strategies). Its timers are looked at
    /// again at the next event.
    ///
    /// # Panics
    /// If `node` is not of this network.
    pub fn forwarder_mut(&mut self, node: NodeId) -> &mut Forwarder {
        self.touched.push(node);
        &mut self.nodes[node.0].fwd
    }

    /// The name given to `node`.
    #[must_use]
    pub fn node_name(&self, node: NodeId) -> &str {
        self.nodes.get(node.0).map_or("", |n| n.name.as_str())
    }

    /// Actions of `node`'s core the simulation did not carry out, and frames it sent to
    /// faces the simulation does not know.
    #[must_use]
    pub fn ignored(&self, node: NodeId) -> (u64, u64) {
        self.nodes
            .get(node.0)
            .map_or((0, 0), |n| (n.ignored_actions, n.unrouted))
    }

    /// Joins `a` and `b` with a link: a face at each end (non-local, persistent, as a
    /// configured UDP face).
    ///
    /// # Panics
    /// If `a` or `b` is not of this network.
    pub fn link(&mut self, a: NodeId, b: NodeId, spec: LinkSpec) -> LinkId {
        let id = LinkId(self.links.len());
        let mtu = spec.faces_know_mtu.then_some(spec.mtu);
        let now = self.instant();
        let mut ends = [(a, FaceId(0)); 2];
        for (side, (node, peer)) in [(a, b), (b, a)].into_iter().enumerate() {
            // A network URI: the core watches such faces (liveness, chain hello).
            let uri = format!("udp4://{}:6363/link{}", self.nodes[peer.0].name, id.0);
            let face = self.nodes[node.0]
                .fwd
                .add_face(link_face_info(uri, mtu), now);
            self.nodes[node.0]
                .faces
                .insert(face, Attachment::Link { link: id, side });
            ends[side] = (node, face);
        }
        self.links.push(Link {
            ends,
            spec,
            up: true,
            counters: [LinkCounters::default(); 2],
            random: SimRandom::new(self.random.next()),
        });
        self.rearm(a);
        self.rearm(b);
        id
    }

    /// `node`'s face on `link`, if it is an end of it.
    #[must_use]
    pub fn link_face(&self, link: LinkId, node: NodeId) -> Option<FaceId> {
        let l = self.links.get(link.0)?;
        l.ends.iter().find(|(n, _)| *n == node).map(|(_, f)| *f)
    }

    /// Changes `link`'s latency, loss and MTU for the frames sent from now on. The faces keep
    /// the MTU they were told when the link was made.
    pub fn set_link_spec(&mut self, link: LinkId, spec: LinkSpec) {
        if let Some(l) = self.links.get_mut(link.0) {
            l.spec = spec;
        }
    }

    /// Cuts `link` (everything on it is dropped, frames in flight included) or restores it.
    pub fn set_link_up(&mut self, link: LinkId, up: bool) {
        if let Some(l) = self.links.get_mut(link.0) {
            l.up = up;
        }
    }

    /// What `link` did, both directions summed.
    #[must_use]
    pub fn link_counters(&self, link: LinkId) -> LinkCounters {
        self.links
            .get(link.0)
            .map_or_else(LinkCounters::default, |l| l.counters[0].add(l.counters[1]))
    }

    /// What `link` did with the frames `from` sent on it.
    #[must_use]
    pub fn link_counters_from(&self, link: LinkId, from: NodeId) -> LinkCounters {
        self.links
            .get(link.0)
            .and_then(|l| {
                let side = l.ends.iter().position(|(n, _)| *n == from)?;
                Some(l.counters[side])
            })
            .unwrap_or_default()
    }

    /// Routes `prefix` on `node` with `cost` through `face` (static, as configuration does).
    pub fn add_route(&mut self, node: NodeId, prefix: &Name, face: FaceId, cost: u64) {
        self.forwarder_mut(node).add_route(prefix, face, cost);
    }

    /// Routes `prefix` on `node` towards `next` over the first link between them, with
    /// `cost`. False if they share no link.
    pub fn route(&mut self, node: NodeId, prefix: &Name, next: NodeId, cost: u64) -> bool {
        let face = self.links.iter().find_map(|l| match l.ends {
            [(a, fa), (b, _)] if a == node && b == next => Some(fa),
            [(a, _), (b, fb)] if b == node && a == next => Some(fb),
            _ => None,
        });
        match face {
            Some(face) => {
                self.add_route(node, prefix, face, cost);
                true
            }
            None => false,
        }
    }

    fn attach(&mut self, node: NodeId, faces: usize, kind: AppKind) -> AppId {
        let id = AppId(self.apps.len());
        let now = self.instant();
        let mut ids = Vec::with_capacity(faces);
        for index in 0..faces {
            let uri = format!("unix:///sim/app{}/{index}", id.0);
            let face = self.nodes[node.0].fwd.add_face(app_face_info(uri), now);
            self.nodes[node.0]
                .faces
                .insert(face, Attachment::App { app: id, index });
            ids.push(face);
        }
        self.apps.push(App {
            node,
            faces: ids,
            kind,
            random: SimRandom::new(self.random.next()),
        });
        self.rearm(node);
        id
    }

    /// `app`'s face on its forwarder (the one Interests for a function arrive on).
    #[must_use]
    pub fn app_face(&self, app: AppId) -> Option<FaceId> {
        self.apps.get(app.0).and_then(|a| a.faces.first().copied())
    }

    /// `prefix` registered by the application on `face` for itself (`rib/register` from
    /// that face: origin app, cost 0, child-inherit, hosted).
    fn register(&mut self, node: NodeId, prefix: &Name, face: FaceId) {
        let route = Route {
            face,
            origin: 0,
            cost: 0,
            flags: 1,
            expires: None,
            hosted: true,
        };
        self.forwarder_mut(node).add_route_with(prefix, route);
    }

    /// A consumer on `node`.
    pub fn consumer(&mut self, node: NodeId, opts: ConsumerOptions) -> AppId {
        let c = Consumer {
            opts,
            requests: Vec::new(),
            open: Vec::new(),
        };
        self.attach(node, 1, AppKind::Consumer(c))
    }

    /// A producer on `node` answering `prefix` (which it registers) with Data holding
    /// `content` (`None`: the Data's name as text), FreshnessPeriod `freshness_ms`.
    pub fn producer(
        &mut self,
        node: NodeId,
        prefix: &Name,
        content: Option<Bytes>,
        freshness_ms: u64,
    ) -> AppId {
        let p = Producer {
            content,
            freshness_ms,
            served: 0,
        };
        let app = self.attach(node, 1, AppKind::Producer(p));
        if let Some(face) = self.app_face(app) {
            self.register(node, prefix, face);
        }
        app
    }

    /// A service function on `node` offering `function` (registered for itself on a face of
    /// its own, with a second face to fetch its input, as the SF runtime connects).
    pub fn service_function(
        &mut self,
        node: NodeId,
        function: &Name,
        opts: FunctionOptions,
    ) -> AppId {
        let sf = ServiceFunction {
            me: function.clone(),
            instance: format!("sim-{}", self.apps.len()),
            opts,
            computations: BTreeMap::new(),
            by_key: HashMap::new(),
            next_id: 0,
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            stats: FunctionStats::default(),
        };
        let app = self.attach(node, 2, AppKind::Function(Box::new(sf)));
        if let Some(face) = self.app_face(app) {
            self.register(node, function, face);
        }
        app
    }

    /// Has `consumer` express an Interest for `name` through `chain` now. `None` if `consumer`
    /// is not a consumer.
    pub fn express(
        &mut self,
        consumer: AppId,
        name: &Name,
        chain: Option<FunctionChain>,
    ) -> Option<RequestId> {
        let now = self.now;
        // Refused here if it cannot be encoded, rather than failing later in flight.
        let first = InterestBuilder::new(name.clone())
            .function_chain(chain.clone())
            .build()
            .ok()?;
        let app = self.apps.get_mut(consumer.0)?;
        let AppKind::Consumer(c) = &mut app.kind else {
            return None;
        };
        c.requests.push(Request {
            name: name.clone(),
            chain,
            first_sent: now,
            last_sent: now,
            transmissions: 0,
            outcome: None,
            interest: first,
        });
        let id = c.requests.len() - 1;
        c.open.push(id);
        let mut io = AppIo::default();
        c.transmit(now, id, &mut app.random, &mut io);
        self.app_io(consumer, io);
        Some(RequestId(id))
    }

    /// `consumer`'s requests, in the order expressed.
    #[must_use]
    pub fn requests(&self, consumer: AppId) -> &[Request] {
        match self.apps.get(consumer.0).map(|a| &a.kind) {
            Some(AppKind::Consumer(c)) => &c.requests,
            _ => &[],
        }
    }

    /// One request of `consumer`.
    #[must_use]
    pub fn request(&self, consumer: AppId, id: RequestId) -> Option<&Request> {
        self.requests(consumer).get(id.0)
    }

    /// Interests a producer answered.
    #[must_use]
    pub fn served(&self, producer: AppId) -> u64 {
        match self.apps.get(producer.0).map(|a| &a.kind) {
            Some(AppKind::Producer(p)) => p.served,
            _ => 0,
        }
    }

    /// A service function's counters.
    #[must_use]
    pub fn function_stats(&self, function: AppId) -> Option<FunctionStats> {
        match self.apps.get(function.0).map(|a| &a.kind) {
            Some(AppKind::Function(f)) => Some(f.stats),
            _ => None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Running

    /// Events run so far (frames delivered, timers run).
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    /// When the next event is due, if any.
    #[must_use]
    pub fn next_event(&mut self) -> Option<Duration> {
        for node in std::mem::take(&mut self.touched) {
            self.rearm(node);
        }
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    /// Runs the next event, moving the clock to it. False if there is none.
    pub fn step(&mut self) -> bool {
        if self.next_event().is_none() {
            return false;
        }
        let Some(Reverse(s)) = self.queue.pop() else {
            return false;
        };
        self.events += 1;
        self.now = self.now.max(s.at);
        match s.event {
            Event::ToForwarder {
                node,
                face,
                frame,
                link,
            } => self.deliver_to_forwarder(node, face, &frame, link),
            Event::ToApp { app, index, frame } => self.deliver_to_app(app, index, frame),
            Event::CoreTimer { node } => {
                let Some(n) = self.nodes.get_mut(node.0) else {
                    return true;
                };
                // A timer event for another time is stale: re-armed earlier since.
                if n.timer_at != Some(s.at) {
                    return true;
                }
                n.timer_at = None;
                let mut out = std::mem::take(&mut self.actions);
                n.fwd.on_timeout(self.base + self.now, &mut out);
                self.execute(node, &mut out);
                self.actions = out;
                self.rearm(node);
            }
            Event::AppTimer { app, wake } => {
                let now = self.now;
                let Some(a) = self.apps.get_mut(app.0) else {
                    return true;
                };
                let mut io = AppIo::default();
                match &mut a.kind {
                    AppKind::Consumer(c) => c.on_wake(now, wake, &mut a.random, &mut io),
                    AppKind::Function(f) => f.on_wake(now, wake, &mut a.random, &mut io),
                    AppKind::Producer(_) => {}
                }
                self.app_io(app, io);
            }
        }
        true
    }

    /// Runs every event due by `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Duration) {
        while self.next_event().is_some_and(|at| at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs until every request of `consumer` has an outcome, at most until `deadline`.
    /// True if they all have one.
    pub fn run_until_answered(&mut self, consumer: AppId, deadline: Duration) -> bool {
        let pending = |net: &Self| match net.apps.get(consumer.0).map(|a| &a.kind) {
            Some(AppKind::Consumer(c)) => !c.open.is_empty(),
            _ => false,
        };
        while pending(self) {
            match self.next_event() {
                Some(at) if at <= deadline => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(deadline);
                    return false;
                }
            }
        }
        true
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    /// Makes sure the queue holds an event for `node`'s next core timer.
    fn rearm(&mut self, node: NodeId) {
        let Some(n) = self.nodes.get_mut(node.0) else {
            return;
        };
        let Some(due) = n.fwd.next_timeout() else {
            return;
        };
        let at = due.saturating_duration_since(self.base).max(self.now);
        if n.timer_at.is_some_and(|t| t <= at) {
            // The armed event comes first; it re-arms when it runs.
            return;
        }
        n.timer_at = Some(at);
        self.schedule(at, Event::CoreTimer { node });
    }

    fn record(&mut self, node: NodeId, face: FaceId, event: TraceEvent, frame: &Bytes) {
        let at = self.now;
        if let Some(trace) = &mut self.trace {
            let (kind, name) = classify(frame);
            trace.push(TraceEntry {
                at,
                node,
                face,
                event,
                kind,
                name,
            });
        }
    }

    fn deliver_to_forwarder(
        &mut self,
        node: NodeId,
        face: FaceId,
        frame: &Bytes,
        link: Option<(LinkId, usize)>,
    ) {
        if let Some((link, side)) = link
            && let Some(l) = self.links.get_mut(link.0)
        {
            // A frame in flight when the link was cut is lost with it.
            if !l.up {
                l.counters[side].cut += 1;
                let (from_node, from_face) = l.ends[side];
                return self.record(from_node, from_face, TraceEvent::Cut, frame);
            }
            l.counters[side].delivered += 1;
        }
        self.record(node, face, TraceEvent::Received, frame);
        let now = self.base + self.now;
        let Some(n) = self.nodes.get_mut(node.0) else {
            return;
        };
        let mut out = std::mem::take(&mut self.actions);
        n.fwd.receive(now, face, frame, &mut out);
        self.execute(node, &mut out);
        self.actions = out;
        self.rearm(node);
    }

    fn deliver_to_app(&mut self, app: AppId, index: usize, frame: Bytes) {
        let now = self.now;
        let Some(a) = self.apps.get_mut(app.0) else {
            return;
        };
        let Ok(lp) = LpPacket::decode(frame) else {
            return;
        };
        let mut io = AppIo::default();
        match &mut a.kind {
            AppKind::Consumer(c) if index == 0 => c.on_frame(now, lp, &mut a.random, &mut io),
            AppKind::Producer(p) => p.on_frame(&lp, &mut io),
            AppKind::Function(f) => f.on_frame(now, index, &lp, &mut a.random, &mut io),
            AppKind::Consumer(_) => {}
        }
        self.app_io(app, io);
    }

    /// Carries out what an application asked for: its frames reach its forwarder now (local
    /// faces: no latency), its timers are queued.
    fn app_io(&mut self, app: AppId, io: AppIo) {
        let Some(a) = self.apps.get(app.0) else {
            return;
        };
        let node = a.node;
        let sends: Vec<(FaceId, Bytes)> = io
            .sends
            .into_iter()
            .filter_map(|(i, frame)| a.faces.get(i).map(|&f| (f, frame)))
            .collect();
        for (face, frame) in sends {
            let event = Event::ToForwarder {
                node,
                face,
                frame,
                link: None,
            };
            self.schedule(self.now, event);
        }
        for (at, wake) in io.wakes {
            self.schedule(at, Event::AppTimer { app, wake });
        }
    }

    /// Carries out the actions of `node`'s core (and those they cause), as the driver's
    /// `execute` does.
    fn execute(&mut self, node: NodeId, out: &mut Vec<Action>) {
        let mut pending = std::mem::take(out);
        while !pending.is_empty() {
            for action in pending.drain(..) {
                self.carry_out(node, action, out);
            }
            std::mem::swap(&mut pending, out);
        }
        *out = pending;
    }

    fn carry_out(&mut self, node: NodeId, action: Action, out: &mut Vec<Action>) {
        let now = self.base + self.now;
        match action {
            Action::Send { face, frame } => self.send(node, face, frame),
            Action::CloseFace { face } => {
                if let Some(n) = self.nodes.get_mut(node.0) {
                    n.faces.remove(&face);
                    n.fwd.face_closed(face, now, out);
                }
            }
            Action::CreateFace { request, .. } => {
                if let Some(n) = self.nodes.get_mut(node.0) {
                    let refusal = Err("the simulation creates no faces".to_string());
                    n.fwd.face_created(now, request, refusal, out);
                }
            }
            Action::OpenChannel { channel, .. } => {
                if let Some(n) = self.nodes.get_mut(node.0) {
                    let refusal = Err("the simulation opens no channels".to_string());
                    n.fwd.channel_opened(now, channel, refusal, out);
                }
            }
            Action::SetPersistency { .. }
            | Action::SetCongestionMarking { .. }
            | Action::CloseChannel { .. } => {
                if let Some(n) = self.nodes.get_mut(node.0) {
                    n.ignored_actions += 1;
                }
            }
        }
    }

    /// A frame `node`'s core sent on `face`: onto the link, or to the application.
    fn send(&mut self, node: NodeId, face: FaceId, frame: Bytes) {
        self.record(node, face, TraceEvent::Sent, &frame);
        let Some(attachment) = self
            .nodes
            .get(node.0)
            .and_then(|n| n.faces.get(&face).copied())
        else {
            if let Some(n) = self.nodes.get_mut(node.0) {
                n.unrouted += 1;
            }
            return;
        };
        match attachment {
            Attachment::App { app, index } => {
                self.schedule(self.now, Event::ToApp { app, index, frame });
            }
            Attachment::Link { link, side } => {
                let Some(l) = self.links.get_mut(link.0) else {
                    return;
                };
                let c = &mut l.counters[side];
                c.sent += 1;
                let dropped = if !l.up {
                    c.cut += 1;
                    Some(TraceEvent::Cut)
                } else if frame.len() > l.spec.mtu {
                    c.oversize += 1;
                    Some(TraceEvent::Oversize)
                } else if l.random.chance(l.spec.loss) {
                    c.lost += 1;
                    Some(TraceEvent::Lost)
                } else {
                    None
                };
                if let Some(event) = dropped {
                    return self.record(node, face, event, &frame);
                }
                let (to_node, to_face) = l.ends[1 - side];
                let at = self.now + l.spec.latency;
                let event = Event::ToForwarder {
                    node: to_node,
                    face: to_face,
                    frame,
                    link: Some((link, side)),
                };
                self.schedule(at, event);
            }
        }
    }
}

//! The SF runtime: connects a [`Program`] to its forwarder and serves the chained Interests
//! handed to it, as `docs/protocol.md` §5 specifies.
//!
//! Per Interest (content name `N`, remaining stack `S`, head `F` already popped):
//! 1. `F/32=stats` (and `F/32=instance/<id>[/32=stats]`) are answered with the
//!    [`Stats`] as JSON.
//! 2. The result cache answers repeats: a later segment `N'/seg=k` of a result, or an
//!    Interest identical to one already computed (name, stack, CanBePrefix, MustBeFresh).
//! 3. An identical request already being computed is joined, not recomputed: every waiting
//!    Interest is answered from the one computation. This is also how long computations
//!    work: a consumer whose Interest expires retransmits it, and the retransmission joins.
//! 4. Otherwise the input is fetched (`N` with stack `S`, all segments), its media type
//!    checked, the function applied under the concurrency limit and the timeout, and the
//!    result cut into signed segments carrying `F, S` — or an error Data is built.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_forwarder::client::{
    Client, ClientConfig, ClientUri, FetchOptions, IncomingInterest, Publication, PublishOptions,
    Reply,
};
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::types::content_type;
use nfwd_tlv::{Component, Data, DataBuilder, FunctionChain, Interest, Name, Signer};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::sdk::{
    FunctionError, FunctionInfo, Input, Output, Program, check_media_type, parse_params,
};

/// The keyword component type (`32=...`) of the runtime's own names (`F/32=stats`).
const KEYWORD: u32 = 32;

/// How a runtime runs. Every field has a stated default ([`RuntimeOptions::default`]).
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Forwarder URI; `None`: `$NDN_CLIENT_TRANSPORT`, else the client library's default.
    pub connect: Option<String>,
    /// The function name to register; `None`: the name the function declares.
    pub function_name: Option<Name>,
    /// Computations running at once. Default 4.
    pub concurrency: usize,
    /// Longest a computation may run (from when it gets a concurrency slot). Default 30 s.
    pub timeout: Duration,
    /// Instance identifier, reported in stats and error Data. Default `pid-<pid>`.
    pub instance_id: String,
    /// Also register `F/32=instance/<id>` so this instance can be asked directly. Default on.
    pub register_instance_route: bool,
    /// Content bytes per result segment. Default 8000 (as `nfwd serve`).
    pub segment_size: usize,
    /// FreshnessPeriod of result Data, ms. Default 10000.
    pub freshness_ms: u64,
    /// FreshnessPeriod of error Data, ms (short: a transient failure is retried soon).
    /// Default 1000.
    pub error_freshness_ms: u64,
    /// InterestLifetime of the upstream Interests, ms; `None`: the lifetime of the Interest
    /// received. Default `None`.
    pub upstream_lifetime_ms: Option<u64>,
    /// Result cache: most entries. Default 256.
    pub cache_entries: usize,
    /// Result cache: most bytes of content. Default 64 MiB.
    pub cache_bytes: usize,
    /// Result cache: how long a result answers retransmissions and later segments. Default
    /// 60 s (a consumer fetching a large result needs it for that long).
    pub cache_ttl: Duration,
    /// Interests being handled at once (computing or waiting); beyond, Nack Congestion.
    /// Default 1024.
    pub max_waiting: usize,
    /// Largest output accepted from the function. Default 64 MiB.
    pub max_output_bytes: usize,
    /// Most input segments fetched. Default 65536.
    pub max_input_segments: u64,
    /// Signs result and error Data. Default DigestSha256.
    pub signer: Arc<Signer>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            connect: None,
            function_name: None,
            concurrency: 4,
            timeout: Duration::from_secs(30),
            instance_id: format!("pid-{}", std::process::id()),
            register_instance_route: true,
            segment_size: 8000,
            freshness_ms: 10_000,
            error_freshness_ms: 1000,
            upstream_lifetime_ms: None,
            cache_entries: 256,
            cache_bytes: 64 << 20,
            cache_ttl: Duration::from_secs(60),
            max_waiting: 1024,
            max_output_bytes: 64 << 20,
            max_input_segments: 65_536,
            signer: Arc::new(Signer::digest_sha256()),
        }
    }
}

/// Counters of one runtime instance, served as JSON at `F/32=stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// The function name served.
    pub function: String,
    /// The instance identifier.
    pub instance: String,
    /// Interests received for the function (stats requests excluded).
    pub requests: u64,
    /// Computations started (input fetched, function applied).
    pub computed: u64,
    /// Interests that joined a computation already running.
    pub deduplicated: u64,
    /// Interests answered from the result cache.
    pub cached: u64,
    /// Error Data produced, by kind.
    pub errors: ErrorCounts,
    /// Interests refused with Nack Congestion (too many waiting).
    pub refused: u64,
    /// Computations running or waiting for a slot now.
    pub in_flight: u64,
    /// Median computation latency (input fetch + function) over the last 1024, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub latency_p99_ms: f64,
}

/// Error Data produced, by kind (`docs/protocol.md` §5.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// The function failed.
    pub failed: u64,
    /// The input was of the wrong type.
    pub rejected: u64,
    /// The function exceeded the timeout.
    pub timeout: u64,
    /// The input could not be fetched (Nack, timeout upstream).
    pub unavailable: u64,
    /// An upstream SF answered with an error Data, passed on.
    pub upstream: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    computed: AtomicU64,
    deduplicated: AtomicU64,
    cached: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    timeout: AtomicU64,
    unavailable: AtomicU64,
    upstream: AtomicU64,
    refused: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Locks a mutex, ignoring poisoning: no code panics while holding these locks, and the
/// tables stay consistent between statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What identifies a computation: two Interests with equal keys get the same answer.
/// A segment Interest `N'/seg=k` is keyed by `N'`, so all segments share one computation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The function asked for, parameters included (the popped head).
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
}

/// Which function an error is about, and the stack it was asked with (`F, S`).
#[derive(Debug)]
struct ErrorOrigin<'a> {
    function: &'a Name,
    /// The stack in text form (`docs/protocol.md` §6), head first.
    stack: String,
}

impl Key {
    /// This request's own function, with the stack it was asked with.
    fn origin(&self) -> ErrorOrigin<'_> {
        let stack = match &self.chain {
            Some(rest) => format!("{},{rest}", self.function),
            None => self.function.to_string(),
        };
        ErrorOrigin {
            function: &self.function,
            stack,
        }
    }
}

/// A computed result: one Data named like the Interest, or segments `N'/seg=k`.
#[derive(Debug)]
struct ResultSet {
    base: Name,
    segmented: bool,
    datas: Vec<Data>,
}

impl ResultSet {
    /// The Data answering `interest`, by name only: the result carries `F, S` while the
    /// Interest the SF received carries `S`, so `Interest::matches` does not apply here.
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

    fn bytes(&self) -> usize {
        self.datas.iter().map(|d| d.wire().len()).sum()
    }
}

/// The outcome of one computation.
#[derive(Debug)]
enum Outcome {
    Result(ResultSet),
    /// An error Data's content; the Data itself is named after each Interest it answers.
    Error(Bytes),
}

impl Outcome {
    fn bytes(&self) -> usize {
        match self {
            Self::Result(r) => r.bytes(),
            Self::Error(b) => b.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Request(Key),
    /// `(F, N', S)`: where later segments of a result are found.
    Base(Name, Name, Option<FunctionChain>),
}

#[derive(Debug)]
struct CacheEntry {
    seq: u64,
    created: Instant,
    outcome: Arc<Outcome>,
}

/// Results kept to answer retransmissions and later segments. Bounded in entries and bytes,
/// evicted oldest first, and expired after the TTL.
#[derive(Debug)]
struct Cache {
    map: HashMap<CacheKey, CacheEntry>,
    order: VecDeque<(u64, CacheKey, usize)>,
    bytes: usize,
    seq: u64,
    max_entries: usize,
    max_bytes: usize,
    ttl: Duration,
}

impl Cache {
    fn new(opts: &RuntimeOptions) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            seq: 0,
            max_entries: opts.cache_entries,
            max_bytes: opts.cache_bytes,
            ttl: opts.cache_ttl,
        }
    }

    fn insert(&mut self, key: CacheKey, outcome: Arc<Outcome>, now: Instant) {
        let size = outcome.bytes();
        if self.max_entries == 0 || size > self.max_bytes {
            return;
        }
        self.seq += 1;
        self.map.insert(
            key.clone(),
            CacheEntry {
                seq: self.seq,
                created: now,
                outcome,
            },
        );
        self.order.push_back((self.seq, key, size));
        self.bytes += size;
        self.evict(now);
    }

    fn evict(&mut self, now: Instant) {
        while let Some((seq, key, size)) = self.order.front() {
            let expired = self
                .map
                .get(key)
                .is_none_or(|e| e.seq != *seq || now.duration_since(e.created) > self.ttl);
            let over = self.order.len() > self.max_entries || self.bytes > self.max_bytes;
            if !expired && !over {
                break;
            }
            if self.map.get(key).is_some_and(|e| e.seq == *seq) {
                self.map.remove(key);
            }
            self.bytes -= size;
            self.order.pop_front();
        }
    }

    /// A cached outcome younger than `max_age`.
    fn get(&self, key: &CacheKey, now: Instant, max_age: Duration) -> Option<Arc<Outcome>> {
        let e = self.map.get(key)?;
        (now.duration_since(e.created) <= max_age.min(self.ttl)).then(|| Arc::clone(&e.outcome))
    }
}

type Waiter = watch::Receiver<Option<Arc<Outcome>>>;

/// Everything the serving tasks share.
struct State {
    program: Program,
    info: FunctionInfo,
    me: Name,
    opts: RuntimeOptions,
    upstream: Client,
    permits: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    inflight: Mutex<HashMap<Key, Waiter>>,
    cache: Mutex<Cache>,
    counters: Counters,
    latencies_ms: Mutex<VecDeque<f64>>,
    changed: Notify,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("me", &self.me)
            .field("instance", &self.opts.instance_id)
            .finish_non_exhaustive()
    }
}

/// Removes a computation from the in-flight table however its task ends (a panic, the
/// runtime shutting down), so that its key is never left blocked: waiters then see the
/// channel closed and send nothing, and the next retransmission starts afresh.
struct InFlightGuard {
    state: Arc<State>,
    key: Key,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        lock(&self.state.inflight).remove(&self.key);
    }
}

/// How many latencies the percentiles are computed over.
const LATENCY_WINDOW: usize = 1024;

impl State {
    fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut lat: Vec<f64> = lock(&self.latencies_ms).iter().copied().collect();
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if lat.is_empty() {
                return 0.0;
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index below LATENCY_WINDOW"
            )]
            let i = ((lat.len() - 1) as f64 * p).round() as usize;
            lat[i.min(lat.len() - 1)]
        };
        Stats {
            function: self.me.to_string(),
            instance: self.opts.instance_id.clone(),
            requests: get(&c.requests),
            computed: get(&c.computed),
            deduplicated: get(&c.deduplicated),
            cached: get(&c.cached),
            errors: ErrorCounts {
                failed: get(&c.failed),
                rejected: get(&c.rejected),
                timeout: get(&c.timeout),
                unavailable: get(&c.unavailable),
                upstream: get(&c.upstream),
            },
            refused: get(&c.refused),
            in_flight: lock(&self.inflight).len() as u64,
            latency_p50_ms: pct(0.5),
            latency_p99_ms: pct(0.99),
        }
    }

    fn is_stats_name(&self, name: &Name) -> bool {
        if !self.me.is_prefix_of(name) {
            return false;
        }
        let rest: Vec<Component> = name.components().skip(self.me.len()).collect();
        let kw = |c: &Component, v: &[u8]| u32::from(c.tlv_type()) == KEYWORD && c.value() == v;
        match rest.as_slice() {
            [s] => kw(s, b"stats"),
            [i, id] | [i, id, _] if kw(i, b"instance") => {
                id.value() == self.opts.instance_id.as_bytes()
                    && rest.get(2).is_none_or(|s| kw(s, b"stats"))
            }
            _ => false,
        }
    }

    fn stats_reply(&self, interest: &Interest) -> Reply {
        let body = serde_json::to_vec(&self.stats()).unwrap_or_default();
        // No FreshnessPeriod: the numbers are stale at once, so a MustBeFresh Interest always
        // reaches the instance.
        DataBuilder::new(interest.name().clone(), body)
            .build(&self.opts.signer)
            .map_or(Reply::None, Reply::Data)
    }

    /// The function an Interest asks for: the head the forwarder popped (parameters
    /// included), or the served name from a forwarder that does not say.
    fn requested(&self, popped: Option<&Name>) -> Name {
        popped
            .filter(|f| self.me.is_prefix_of(f))
            .unwrap_or(&self.me)
            .clone()
    }

    /// The chain a Data answering a request carries: the function asked for pushed on the
    /// received stack, so it matches the consumer's Interest exactly.
    fn answered_chain(function: &Name, received: Option<&FunctionChain>) -> Option<FunctionChain> {
        FunctionChain::pushed(function.clone(), received).ok()
    }

    /// An error's JSON (`docs/protocol.md` §5.3): `failed` names the function that failed
    /// (this one, or the next one when it could not be reached), `stack` the stack it was
    /// asked with.
    fn error_content(&self, failed: &ErrorOrigin<'_>, kind: &str, message: &str) -> Bytes {
        // Messages come from child processes and the network: keep error Data small.
        let message: String = message.chars().take(1000).collect();
        let v = serde_json::json!({
            "error": kind,
            "function": failed.function.to_string(),
            "stack": failed.stack,
            "reporter": self.me.to_string(),
            "instance": self.opts.instance_id,
            "message": message,
        });
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }

    fn error_data(&self, key: &Key, interest: &Interest, content: Bytes) -> Reply {
        DataBuilder::new(interest.name().clone(), content)
            .function_chain(Self::answered_chain(
                &key.function,
                interest.function_chain(),
            ))
            .content_type(content_type::NACK)
            .freshness_ms(self.opts.error_freshness_ms)
            .build(&self.opts.signer)
            .map_or(Reply::None, Reply::Data)
    }

    fn reply_with(&self, outcome: &Outcome, key: &Key, interest: &Interest) -> Reply {
        match outcome {
            Outcome::Error(content) => self.error_data(key, interest, content.clone()),
            Outcome::Result(r) => match r.answer(interest) {
                Some(d) => Reply::Data(d.clone()),
                None => {
                    bump(&self.counters.rejected);
                    let msg = format!(
                        "{} is not a name of the result {}{}",
                        interest.name(),
                        r.base,
                        if r.segmented { "/seg=k" } else { "" }
                    );
                    let content = self.error_content(&key.origin(), "rejected", &msg);
                    self.error_data(key, interest, content)
                }
            },
        }
    }

    fn cached(&self, interest: &Interest, key: &Key, now: Instant) -> Option<Arc<Outcome>> {
        let cache = lock(&self.cache);
        if key.segment_request
            && let Some(o) = cache.get(
                &CacheKey::Base(key.function.clone(), key.name.clone(), key.chain.clone()),
                now,
                Duration::MAX,
            )
            && let Outcome::Result(r) = &*o
            && r.answer(interest).is_some()
        {
            return Some(o);
        }
        let request = CacheKey::Request(key.clone());
        let o = cache.get(&request, now, Duration::MAX)?;
        // Errors are retried once their short freshness has passed; a MustBeFresh Interest
        // only gets a result younger than the result's FreshnessPeriod.
        let max_age_ms = match &*o {
            Outcome::Error(_) => self.opts.error_freshness_ms,
            Outcome::Result(_) if key.must_be_fresh => self.opts.freshness_ms,
            Outcome::Result(_) => u64::MAX,
        };
        cache.get(&request, now, Duration::from_millis(max_age_ms))
    }

    async fn answer(self: &Arc<Self>, interest: &Interest, popped: Option<&Name>) -> Reply {
        bump(&self.counters.requests);
        let key = Key::of(interest, self.requested(popped));
        if let Some(o) = self.cached(interest, &key, Instant::now()) {
            bump(&self.counters.cached);
            self.changed.notify_waiters();
            return self.reply_with(&o, &key, interest);
        }
        let mut waiter = self.join_or_start(key.clone(), interest);
        self.changed.notify_waiters();
        let outcome = match waiter.wait_for(Option::is_some).await {
            Ok(v) => v.clone(),
            Err(_) => None,
        };
        match outcome {
            Some(o) => self.reply_with(&o, &key, interest),
            None => Reply::None,
        }
    }

    fn join_or_start(self: &Arc<Self>, key: Key, interest: &Interest) -> Waiter {
        let mut inflight = lock(&self.inflight);
        if let Some(w) = inflight.get(&key) {
            bump(&self.counters.deduplicated);
            return w.clone();
        }
        // A computation may have finished between the cache probe and now.
        if let Some(o) = self.cached(interest, &key, Instant::now()) {
            bump(&self.counters.cached);
            let (_, rx) = watch::channel(Some(o));
            return rx;
        }
        let (tx, rx) = watch::channel(None);
        inflight.insert(key.clone(), rx.clone());
        drop(inflight);
        bump(&self.counters.computed);
        let me = Arc::clone(self);
        let interest = interest.clone();
        // The computation is its own task: it outlives the Interest that started it, so a
        // retransmission after that Interest expired still finds (and joins) it.
        tokio::spawn(async move {
            let guard = InFlightGuard {
                state: Arc::clone(&me),
                key: key.clone(),
            };
            let started = Instant::now();
            let outcome = Arc::new(me.compute(&key, &interest).await);
            {
                let mut l = lock(&me.latencies_ms);
                if l.len() >= LATENCY_WINDOW {
                    l.pop_front();
                }
                l.push_back(started.elapsed().as_secs_f64() * 1000.0);
            }
            {
                let now = Instant::now();
                let mut cache = lock(&me.cache);
                if let Outcome::Result(r) = &*outcome
                    && r.segmented
                {
                    cache.insert(
                        CacheKey::Base(key.function.clone(), r.base.clone(), key.chain.clone()),
                        Arc::clone(&outcome),
                        now,
                    );
                }
                cache.insert(CacheKey::Request(key.clone()), Arc::clone(&outcome), now);
            }
            // Cached before leaving the in-flight table, so no Interest finds neither.
            drop(guard);
            let _ = tx.send(Some(outcome));
            me.changed.notify_waiters();
        });
        rx
    }

    fn fail(&self, origin: &ErrorOrigin<'_>, kind: &str, message: &str) -> Outcome {
        let c = &self.counters;
        bump(match kind {
            "rejected" => &c.rejected,
            "timeout" => &c.timeout,
            "unavailable" => &c.unavailable,
            _ => &c.failed,
        });
        tracing::debug!("{}: {kind}: {message}", origin.function);
        Outcome::Error(self.error_content(origin, kind, message))
    }

    async fn compute(&self, key: &Key, interest: &Interest) -> Outcome {
        let lifetime = self
            .opts
            .upstream_lifetime_ms
            .unwrap_or_else(|| interest.effective_lifetime_ms())
            .max(1);
        // Keep asking upstream (new Nonce each time, joining any computation running there)
        // for as long as this runtime would let its own function run.
        let timeout_ms = u64::try_from(self.opts.timeout.as_millis()).unwrap_or(u64::MAX);
        let retries = u32::try_from(timeout_ms.div_ceil(lifetime).clamp(1, 1000)).unwrap_or(1000);
        let fopts = FetchOptions {
            lifetime_ms: lifetime,
            max_retries: retries,
            must_be_fresh: key.must_be_fresh,
            max_segments: self.opts.max_input_segments,
            ..FetchOptions::default()
        };
        let me = key.origin();
        // Bad parameters are refused before the input is fetched.
        let params = match parse_params(&self.me, &key.function) {
            Ok(p) => p,
            Err(e) => return self.fail(&me, e.kind(), e.message()),
        };
        let (in_name, content) = match self
            .upstream
            .fetch(interest.name(), key.chain.clone(), &fopts)
            .await
        {
            Ok(v) => v,
            Err(nfwd_forwarder::Error::Application { message, .. }) => {
                // An upstream SF failed: pass its error on unchanged, so the consumer learns
                // which function of the chain failed and why.
                bump(&self.counters.upstream);
                return Outcome::Error(Bytes::from(message.into_bytes()));
            }
            Err(e) => return self.upstream_failed(key, interest, &e),
        };
        if let Err(e) = check_media_type(&self.info.input_type, &content) {
            return self.fail(&me, e.kind(), e.message());
        }
        let input = Input {
            content,
            name: in_name.clone(),
            chain: key.chain.clone(),
            deadline: Instant::now() + self.opts.timeout,
            function: key.function.clone(),
            params,
        };
        let output = match self.apply(input).await {
            Ok(o) => o,
            Err(e) => return self.fail(&me, e.kind(), e.message()),
        };
        if output.content.len() > self.opts.max_output_bytes {
            return self.fail(
                &me,
                "failed",
                &format!(
                    "output of {} bytes exceeds the limit of {}",
                    output.content.len(),
                    self.opts.max_output_bytes
                ),
            );
        }
        match self.package(key, interest, in_name, output) {
            Ok(r) => Outcome::Result(r),
            Err(e) => self.fail(&me, "failed", &e.to_string()),
        }
    }

    /// The input could not be fetched. When it is the result of a further function, that
    /// function is the one the consumer must hear about: it is unreachable (no route, a
    /// Nack) or did not answer — so the error names it and the stack it was asked with.
    fn upstream_failed(
        &self,
        key: &Key,
        interest: &Interest,
        e: &nfwd_forwarder::Error,
    ) -> Outcome {
        use nfwd_forwarder::Error as E;
        let Some(next) = key.chain.as_ref() else {
            let why = match e {
                E::Nack(NackReason::NoRoute) => "no route (Nack NoRoute)".to_string(),
                E::Timeout => "no answer (timed out)".to_string(),
                e => e.to_string(),
            };
            return self.fail(
                &key.origin(),
                "unavailable",
                &format!("fetching the input {}: {why}", interest.name()),
            );
        };
        let head = next.head();
        let why = match e {
            E::Nack(NackReason::NoRoute) => format!(
                "no route to the function {head} (Nack NoRoute): no forwarder on the way offers it"
            ),
            E::Nack(r) => format!("the function {head} was refused (Nack {r:?})"),
            E::Timeout => format!("the function {head} did not answer (timed out)"),
            e => format!("the function {head} could not be reached: {e}"),
        };
        let origin = ErrorOrigin {
            function: head,
            stack: next.to_string(),
        };
        self.fail(
            &origin,
            "unavailable",
            &format!("{why}; asked by {} for {}", key.function, interest.name()),
        )
    }

    /// Cuts the output into Data. One Data named like the Interest when the Interest asks for
    /// exactly one name (no CanBePrefix, not a segment) and the output fits; otherwise
    /// segments `N'/seg=k` with `N'` the input's name without segment (protocol §5).
    fn package(
        &self,
        key: &Key,
        interest: &Interest,
        in_name: Name,
        output: Output,
    ) -> Result<ResultSet> {
        let chain = Self::answered_chain(&key.function, key.chain.as_ref());
        if !key.segment_request && !key.can_be_prefix {
            if output.content.len() > self.opts.segment_size {
                return Err(Error::Function(format!(
                    "the output ({} bytes) needs segments, but the Interest for {} has no \
                     CanBePrefix",
                    output.content.len(),
                    interest.name()
                )));
            }
            let d = DataBuilder::new(interest.name().clone(), output.content)
                .function_chain(chain)
                .freshness_ms(self.opts.freshness_ms)
                .build(&self.opts.signer)?;
            return Ok(ResultSet {
                base: interest.name().clone(),
                segmented: false,
                datas: vec![d],
            });
        }
        let opts = PublishOptions {
            segment_size: self.opts.segment_size.max(1),
            freshness_ms: Some(self.opts.freshness_ms),
            version: None,
            chain,
        };
        let p = Publication::new(in_name.clone(), output.content, &opts, &self.opts.signer)?;
        Ok(ResultSet {
            base: in_name,
            segmented: true,
            datas: p.segments().to_vec(),
        })
    }

    /// Runs the function in a concurrency slot, under the timeout.
    async fn apply(&self, mut input: Input) -> Result<Output, FunctionError> {
        let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
            return Err(FunctionError::Failed("the runtime is stopping".into()));
        };
        input.deadline = Instant::now() + self.opts.timeout;
        let deadline = tokio::time::Instant::from_std(input.deadline);
        let late = || {
            FunctionError::Timeout(format!(
                "no result within {} ms",
                self.opts.timeout.as_millis()
            ))
        };
        match &self.program {
            Program::Blocking(f) if f.is_trivial() => {
                let r = f.apply(input);
                drop(permit);
                r
            }
            Program::Blocking(f) => {
                let f = Arc::clone(f);
                // The slot is released when the function returns, not at the timeout: a
                // thread cannot be stopped, and counting it keeps the limit honest.
                let task = tokio::task::spawn_blocking(move || {
                    let r = f.apply(input);
                    drop(permit);
                    r
                });
                match tokio::time::timeout_at(deadline, task).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => Err(FunctionError::Failed(format!("the function panicked: {e}"))),
                    Err(_) => Err(late()),
                }
            }
            Program::Async(f) => {
                let r = tokio::time::timeout_at(deadline, f.call(input)).await;
                drop(permit);
                r.unwrap_or_else(|_| Err(late()))
            }
        }
    }
}

/// A running runtime. Serving stops when it is dropped.
#[derive(Debug)]
pub struct RuntimeHandle {
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl RuntimeHandle {
    /// The function name served.
    #[must_use]
    pub fn name(&self) -> &Name {
        &self.state.me
    }

    /// What the function declares.
    #[must_use]
    pub fn info(&self) -> &FunctionInfo {
        &self.state.info
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Waits until the counters satisfy `pred` (woken on every change, no polling).
    pub async fn wait_stats(&self, pred: impl Fn(&Stats) -> bool) -> Stats {
        loop {
            let notified = self.state.changed.notified();
            let s = self.stats();
            if pred(&s) {
                return s;
            }
            notified.await;
        }
    }

    /// Waits until serving ends on its own: the forwarder closed the connection.
    pub async fn closed(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RuntimeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connect(uri: Option<&str>) -> Result<Client> {
    let uri = match uri {
        Some(u) => u.parse()?,
        None => ClientUri::from_env_or_default()?,
    };
    Ok(Client::connect_uri(&uri, ClientConfig::default()).await?)
}

/// Connects to the forwarder, registers the function name and serves until the connection
/// closes.
pub async fn run(program: Program, opts: RuntimeOptions) -> Result<()> {
    let mut h = start(program, opts).await?;
    h.closed().await;
    Err(Error::Forwarder(nfwd_forwarder::Error::Closed))
}

/// Connects to the forwarder, registers the function name and serves in the background.
///
/// Two connections are opened: the function's face, on which the forwarder hands over the
/// Interests (one face per function, `docs/protocol.md` §5), and one for fetching inputs.
/// Fetching on a face of its own lets a function appear twice in a row in a chain: the
/// forwarder does not send an Interest back out of the face it came in on.
pub async fn start(program: Program, opts: RuntimeOptions) -> Result<RuntimeHandle> {
    let face = connect(opts.connect.as_deref()).await?;
    let upstream = connect(opts.connect.as_deref()).await?;
    start_on(face, upstream, program, opts).await
}

/// Like [`start`] over connections the caller opened.
pub async fn start_on(
    face: Client,
    upstream: Client,
    program: Program,
    opts: RuntimeOptions,
) -> Result<RuntimeHandle> {
    let info = program.info();
    let me = match &opts.function_name {
        Some(n) => n.clone(),
        None => info
            .name
            .parse()
            .map_err(|e| Error::Spec(format!("function name {:?}: {e}", info.name)))?,
    };
    if me.is_empty() {
        return Err(Error::Spec("the function name must not be /".into()));
    }
    if opts.concurrency == 0 || opts.max_waiting == 0 {
        return Err(Error::Spec(
            "concurrency and max_waiting must be at least 1".into(),
        ));
    }
    // The function listener: after the forwarder pops `me`, Interests carry the content name
    // (protocol §5), which only a function listener receives.
    let mut incoming = face.listen_function(me.clone()).await?;
    if opts.register_instance_route {
        let route = me
            .append(&Component::new(KEYWORD, b"instance")?)
            .append_generic(opts.instance_id.as_bytes());
        face.register(&route).await?;
    }
    let state = Arc::new(State {
        permits: Arc::new(Semaphore::new(opts.concurrency)),
        waiting: Arc::new(Semaphore::new(opts.max_waiting)),
        inflight: Mutex::new(HashMap::new()),
        cache: Mutex::new(Cache::new(&opts)),
        counters: Counters::default(),
        latencies_ms: Mutex::new(VecDeque::new()),
        changed: Notify::new(),
        program,
        info,
        me,
        opts,
        upstream,
    });
    tracing::info!(
        "SF {} ({} {}) serving as instance {}",
        state.me,
        state.info.name,
        state.info.version,
        state.opts.instance_id
    );
    let s = Arc::clone(&state);
    let task = tokio::spawn(async move {
        // The face's client lives as long as the loop: dropping it would close the face.
        let _face = face;
        while let Some(inc) = incoming.next().await {
            // Stats are answered even when the instance is saturated: that is when whoever
            // scales instances needs them.
            if s.is_stats_name(inc.interest().name()) {
                let reply = s.stats_reply(inc.interest());
                let _ = inc.reply(reply).await;
                continue;
            }
            let Ok(slot) = Arc::clone(&s.waiting).try_acquire_owned() else {
                bump(&s.counters.refused);
                let _ = inc.reply(Reply::Nack(NackReason::Congestion)).await;
                continue;
            };
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                handle(&s, inc).await;
                drop(slot);
            });
        }
    });
    Ok(RuntimeHandle { state, task })
}

async fn handle(state: &Arc<State>, inc: IncomingInterest) {
    let interest = inc.interest().clone();
    let popped = inc.popped_function().cloned();
    let reply = state.answer(&interest, popped.as_ref()).await;
    if let Err(e) = inc.reply(reply).await {
        tracing::debug!("{}: reply not sent: {e}", state.me);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Data {
        DataBuilder::new(name.parse().unwrap(), "x")
            .build(&Signer::digest_sha256())
            .unwrap()
    }

    #[test]
    fn segments_answer_by_name() {
        let r = ResultSet {
            base: "/p/v=1".parse().unwrap(),
            segmented: true,
            datas: vec![data("/p/v=1/seg=0"), data("/p/v=1/seg=1")],
        };
        let i = |n: &str, cbp: bool| {
            nfwd_tlv::InterestBuilder::new(n.parse().unwrap())
                .can_be_prefix(cbp)
                .build()
                .unwrap()
        };
        let name_of = |i: &Interest| r.answer(i).map(|d| d.name().to_string());
        assert_eq!(name_of(&i("/p", true)).as_deref(), Some("/p/v=1/seg=0"));
        assert_eq!(name_of(&i("/p", false)), None);
        assert_eq!(
            name_of(&i("/p/v=1/seg=1", false)).as_deref(),
            Some("/p/v=1/seg=1")
        );
        assert_eq!(name_of(&i("/p/v=1/seg=2", false)), None);
        assert_eq!(name_of(&i("/q", true)), None);
    }

    #[test]
    fn cache_is_bounded_and_expires() {
        let opts = RuntimeOptions {
            cache_entries: 2,
            cache_ttl: Duration::from_secs(10),
            ..RuntimeOptions::default()
        };
        let mut c = Cache::new(&opts);
        let t0 = Instant::now();
        let k = |n: &str| CacheKey::Base(Name::new(), n.parse().unwrap(), None);
        for n in ["/a", "/b", "/c"] {
            c.insert(k(n), Arc::new(Outcome::Error(Bytes::from_static(b"e"))), t0);
        }
        assert!(c.get(&k("/a"), t0, Duration::MAX).is_none());
        assert!(c.get(&k("/c"), t0, Duration::MAX).is_some());
        let later = t0 + Duration::from_secs(11);
        assert!(c.get(&k("/c"), later, Duration::MAX).is_none());
        c.evict(later);
        assert!(c.map.is_empty() && c.bytes == 0);
    }
}

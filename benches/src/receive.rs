//! One packet path of the sans-IO core at a time: [`Forwarder::receive`] driven directly (no
//! sockets, no tokio), shared by the criterion benchmark (`benches/forwarder_receive.rs`) and
//! the instruction counter (`src/bin/receive_instructions.rs`, run under callgrind by
//! `scripts/instructions.sh`).
//!
//! Every path works in batches: [`PathBench::prepare`] builds the frames of a batch and does
//! whatever must happen before them (e.g. the Interests a batch of Data answers), untimed;
//! [`PathBench::receive_batch`] is the measured part, one `receive` per frame and nothing
//! else; [`PathBench::finish`] checks that every frame took the path it is meant to (a changed
//! core measuring something else fails loudly) and answers what the batch left pending, so
//! the tables stay bounded however long the run.
//!
//! Names are distinct per packet where the path creates state (miss, Data, chain, Nack), and
//! the read-only paths (content store hit, dead nonce) cycle through [`WORKING_SET`] entries:
//! realistic tables, not one hot entry. Table bounds are lowered from the defaults
//! ([`bench_config`]) so a short warm-up reaches the steady state where every content store
//! and dead nonce list insert evicts an older entry.

// Set-up only: the names, chain and packets are built from constants, so a failure to build
// one is a bug of this module, reported with what failed.
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nfwd_forwarder::config::Config;
use nfwd_forwarder::core::{
    Action, FaceId, FaceInfo, FaceScope, Forwarder, ForwarderCounters, LinkType, PeerCredentials,
    Persistency,
};
use nfwd_tlv::lp::{LpPacket, NackReason};
use nfwd_tlv::nfd::{ControlParameters, ControlResponse, make_command_v03};
use nfwd_tlv::{Data, DataBuilder, FunctionChain, InterestBuilder, Name, Signer};

/// Packets per batch: what is pending at once on the paths that create PIT entries.
pub const BATCH: usize = 1024;

/// Entries the read-only paths cycle through (cached Data, dead nonces).
pub const WORKING_SET: usize = 2048;

/// Content store bound of the benchmark forwarder (default: 65,536).
pub const CS_ENTRIES: usize = 4096;

/// Dead nonce list bound of the benchmark forwarder (default: 65,536).
pub const DEAD_NONCES: usize = 8192;

/// Virtual time between two packets: the forwarder sees 100,000 packets/s.
const PACKET_GAP: Duration = Duration::from_micros(10);

/// Content size of every Data (the load generator's default comparison size).
const PAYLOAD: usize = 100;

/// Content prefix, routed to the producer.
const PREFIX: &str = "/edu/ucla/cs/camera";

/// The chain of a chained Interest, head first; the head is hosted by the local SF face.
const CHAIN: &str = "/sf/F3,/sf/F2,/sf/F1";

/// The packet paths measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A consumer's Interest nobody has asked for: CS miss, new PIT entry, forwarded to the
    /// producer.
    Miss,
    /// The producer's Data (PIT token echoed) satisfying a pending Interest: PIT entry
    /// removed, content store insert, Data sent to the consumer (no dead nonce: the store
    /// answers a looping copy, as in NFD).
    Data,
    /// A consumer's Interest answered from the content store.
    CsHit,
    /// A chained Interest whose head function the local SF face hosts: the head popped, the
    /// Interest sent to the SF.
    ChainHop,
    /// The producer's Nack (NoRoute) for a pending Interest with no other next hop: the entry
    /// is rejected, a Nack goes to the consumer.
    Nack,
    /// A looping Interest (name and nonce of one Nacked recently): caught by the dead nonce
    /// list, answered with Nack Duplicate.
    DeadNonce,
}

impl Path {
    /// Every path, in report order.
    pub const ALL: [Self; 6] = [
        Self::Miss,
        Self::Data,
        Self::CsHit,
        Self::ChainHop,
        Self::Nack,
        Self::DeadNonce,
    ];

    /// Short name (benchmark ids, the baseline file's keys).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Miss => "interest_miss",
            Self::Data => "data_satisfy",
            Self::CsHit => "interest_cs_hit",
            Self::ChainHop => "interest_chain_pop",
            Self::Nack => "nack",
            Self::DeadNonce => "interest_dead_nonce",
        }
    }

    /// The path named `name` ([`Path::name`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A batch of frames, all received on one face.
#[derive(Debug)]
pub struct Batch {
    face: FaceId,
    frames: Vec<Bytes>,
}

impl Batch {
    /// Number of frames.
    #[must_use]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True if there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// A forwarder set up for one path, and what that path needs between batches.
#[derive(Debug)]
pub struct PathBench {
    path: Path,
    fwd: Forwarder,
    now: Instant,
    out: Vec<Action>,
    consumer: FaceId,
    producer: FaceId,
    sf: FaceId,
    /// Next sequence number: names (and nonces) of new packets.
    seq: u64,
    /// The read-only paths' frames, cycled through.
    working_set: Vec<Bytes>,
    next_in_set: usize,
    /// Counters before the current batch.
    before: ForwarderCounters,
}

/// The forwarder's configuration in these benchmarks: the defaults, with lower content store
/// and dead nonce list bounds (see the module documentation).
#[must_use]
pub fn bench_config() -> Config {
    let mut config = Config::default();
    config.tables.cs_max_entries = CS_ENTRIES;
    config.tables.dead_nonce_max_entries = DEAD_NONCES;
    config
}

fn face_info(uri: &str, scope: FaceScope, peer: Option<PeerCredentials>) -> FaceInfo {
    FaceInfo {
        remote_uri: uri.into(),
        local_uri: "bench://".into(),
        scope,
        persistency: Persistency::Persistent,
        link_type: LinkType::PointToPoint,
        mtu: None,
        peer,
        channel: None,
    }
}

/// Milliseconds since the Unix epoch.
fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parse_name(s: &str) -> Name {
    s.parse().expect("a valid benchmark name")
}

/// `/edu/ucla/cs/camera/frame/seg=<seq>`: six components, like the codec benchmarks' name.
fn content_name(seq: u64) -> Name {
    parse_name(PREFIX)
        .append_generic(b"frame")
        .append_segment(seq)
}

fn chain() -> FunctionChain {
    CHAIN.parse().expect("a valid benchmark chain")
}

/// A consumer's Interest for `seq` with `nonce`.
fn interest(seq: u64, nonce: u32, chained: bool) -> Bytes {
    InterestBuilder::new(content_name(seq))
        .nonce(nonce.to_be_bytes())
        .lifetime_ms(4000)
        .hop_limit(64)
        .function_chain(chained.then(chain))
        .encode()
}

/// A producer's (or SF's) Data for `seq`.
fn data(seq: u64, chained: bool) -> Bytes {
    DataBuilder::new(content_name(seq), vec![0x5A; PAYLOAD])
        .function_chain(chained.then(chain))
        .freshness_ms(10_000)
        .sign(&Signer::digest_sha256())
        .expect("DigestSha256 signing cannot fail")
}

/// Nonces of the measured packets and of the working sets' populating exchanges never meet.
const POPULATE_NONCE: u32 = 0x8000_0000;

fn delta(
    name: &str,
    before: u64,
    after: u64,
    expected: usize,
    fwd: &Forwarder,
) -> Result<(), String> {
    let got = after - before;
    if got == expected as u64 {
        Ok(())
    } else {
        Err(format!(
            "{name}: expected {expected} in the batch, got {got} (counters now {:?})",
            fwd.counters()
        ))
    }
}

impl PathBench {
    /// A forwarder with a consumer (Unix, local), a producer (UDP, non-local, route for
    /// `/edu/ucla/cs/camera`) and an SF (Unix, local, hosting `/sf/F3` as a `rib/register`
    /// from its own face makes it), set up for `path`.
    ///
    /// # Panics
    /// If the set-up fails (the core refused the registration, or a path's populating
    /// exchanges did not go as expected).
    #[must_use]
    pub fn new(path: Path) -> Self {
        let now = Instant::now();
        let mut fwd = Forwarder::new(&bench_config(), now);
        // As the driver does: the core reads no clock (command timestamps are checked
        // against this).
        fwd.set_wall_clock(wall_clock_ms());
        let consumer = fwd.add_face(face_info("unix://consumer", FaceScope::Local, None), now);
        let producer = fwd.add_face(
            face_info("udp4://10.0.0.2:6363", FaceScope::NonLocal, None),
            now,
        );
        // Root at the other end: the default policy lets it register (as the daemon's own
        // user, or root, may).
        let root = PeerCredentials {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            pid: None,
        };
        let sf = fwd.add_face(face_info("unix://sf", FaceScope::Local, Some(root)), now);
        fwd.add_route(&parse_name(PREFIX), producer, 10);
        let mut bench = Self {
            path,
            fwd,
            now,
            out: Vec::with_capacity(2 * BATCH),
            consumer,
            producer,
            sf,
            seq: 0,
            working_set: Vec::new(),
            next_in_set: 0,
            before: ForwarderCounters::default(),
        };
        bench.register_function("/sf/F3");
        match path {
            Path::CsHit | Path::DeadNonce => bench.populate(),
            _ => {}
        }
        bench
    }

    /// The path measured.
    #[must_use]
    pub fn path(&self) -> Path {
        self.path
    }

    /// The forwarder (its counters and tables, for checks).
    #[must_use]
    pub fn forwarder(&self) -> &Forwarder {
        &self.fwd
    }

    /// The SF registers `function` for itself: a signed `rib/register` from its face, as
    /// the SF runtime sends it, so the route is one the SF hosts.
    fn register_function(&mut self, function: &str) {
        let time_ms = wall_clock_ms();
        let params = ControlParameters::with_name(parse_name(function));
        let command = make_command_v03(
            "rib",
            "register",
            &params,
            &Signer::digest_sha256(),
            1,
            time_ms,
        )
        .expect("a rib/register command");
        self.fwd
            .receive(self.now, self.sf, command.wire(), &mut self.out);
        let status = self
            .out
            .drain(..)
            .find_map(|a| match a {
                Action::Send { face, frame } if face == self.sf => {
                    let lp = LpPacket::decode(frame).ok()?;
                    let data = Data::decode(lp.fragment?).ok()?;
                    ControlResponse::from_wire(data.content()).ok()
                }
                _ => None,
            })
            .map(|r| r.status_code);
        assert_eq!(
            status,
            Some(200),
            "the SF's rib/register of {function} must succeed"
        );
    }

    /// Consumer Interests `frames`, received untimed: returns what the forwarder sent to
    /// `upstream` for each, in order.
    fn forward_interests(&mut self, frames: &[Bytes], upstream: FaceId) -> Vec<LpPacket> {
        self.out.clear();
        for f in frames {
            self.fwd.receive(self.now, self.consumer, f, &mut self.out);
        }
        let sent: Vec<LpPacket> = self
            .out
            .drain(..)
            .filter_map(|a| match a {
                Action::Send { face, frame } if face == upstream => LpPacket::decode(frame).ok(),
                _ => None,
            })
            .collect();
        assert_eq!(
            sent.len(),
            frames.len(),
            "every Interest of the batch must be forwarded upstream"
        );
        sent
    }

    /// Replies to forwarded Interests `sent` with Data (token echoed), from `face`.
    fn answer(&mut self, sent: &[LpPacket], seqs: &[u64], face: FaceId, chained: bool) {
        for (lp, &seq) in sent.iter().zip(seqs) {
            let reply = LpPacket::from_fragment(data(seq, chained))
                .echo_pit_token(lp)
                .encode_or_bare();
            self.fwd.receive(self.now, face, &reply, &mut self.out);
        }
        self.out.clear();
    }

    /// The working set of the read-only paths: [`WORKING_SET`] exchanges answered — with
    /// Data for the content store hit (cached), with a Nack for the dead nonce path (their
    /// nonces dead) — and the frames the path then sends.
    fn populate(&mut self) {
        let seqs: Vec<u64> = (0..WORKING_SET as u64).collect();
        for chunk in seqs.chunks(BATCH) {
            let frames: Vec<Bytes> = chunk
                .iter()
                .map(|&s| interest(s, POPULATE_NONCE | s as u32, false))
                .collect();
            let sent = self.forward_interests(&frames, self.producer);
            if self.path == Path::DeadNonce {
                self.nack(&sent);
                // The looping copies: the very same Interests again.
                self.working_set.extend(frames);
            } else {
                self.answer(&sent, chunk, self.producer, false);
            }
        }
        self.seq = WORKING_SET as u64;
        assert_eq!(self.fwd.pit().len(), 0, "the working set is answered");
    }

    /// The producer's Nack NoRoute for each Interest `sent` to it.
    fn nack(&mut self, sent: &[LpPacket]) {
        for lp in sent {
            let forwarded = lp.fragment.clone().expect("a forwarded Interest");
            let reply = LpPacket::nack(NackReason::NoRoute, forwarded)
                .echo_pit_token(lp)
                .encode_or_bare();
            self.fwd
                .receive(self.now, self.producer, &reply, &mut self.out);
        }
        self.out.clear();
    }

    /// The next sequence numbers.
    fn next_seqs(&mut self, n: usize) -> Vec<u64> {
        let first = self.seq;
        self.seq += n as u64;
        (first..self.seq).collect()
    }

    /// Builds the next batch of `n` frames (at most [`BATCH`]), doing untimed whatever must
    /// precede them.
    ///
    /// # Panics
    /// If what precedes them did not go as expected.
    pub fn prepare(&mut self, n: usize) -> Batch {
        let n = n.min(BATCH);
        self.out.clear();
        let batch = match self.path {
            Path::Miss => {
                let frames = self
                    .next_seqs(n)
                    .into_iter()
                    .map(|s| interest(s, s as u32, false))
                    .collect();
                Batch {
                    face: self.consumer,
                    frames,
                }
            }
            Path::ChainHop => {
                let frames = self
                    .next_seqs(n)
                    .into_iter()
                    .map(|s| interest(s, s as u32, true))
                    .collect();
                Batch {
                    face: self.consumer,
                    frames,
                }
            }
            Path::Data | Path::Nack => {
                let seqs = self.next_seqs(n);
                let frames: Vec<Bytes> =
                    seqs.iter().map(|&s| interest(s, s as u32, false)).collect();
                let sent = self.forward_interests(&frames, self.producer);
                let frames = sent
                    .iter()
                    .zip(&seqs)
                    .map(|(lp, &seq)| {
                        let packet = if self.path == Path::Data {
                            LpPacket::from_fragment(data(seq, false))
                        } else {
                            let forwarded = lp.fragment.clone().expect("a forwarded Interest");
                            LpPacket::nack(NackReason::NoRoute, forwarded)
                        };
                        packet.echo_pit_token(lp).encode_or_bare()
                    })
                    .collect();
                Batch {
                    face: self.producer,
                    frames,
                }
            }
            Path::CsHit => {
                let base = self.seq;
                self.seq += n as u64;
                let frames = (0..n)
                    .map(|i| {
                        let k = (self.next_in_set + i) % WORKING_SET;
                        // A fresh nonce (not the populating one, which is dead).
                        let nonce = (base + i as u64) as u32 & !POPULATE_NONCE;
                        interest(k as u64, nonce, false)
                    })
                    .collect();
                self.next_in_set = (self.next_in_set + n) % WORKING_SET;
                Batch {
                    face: self.consumer,
                    frames,
                }
            }
            Path::DeadNonce => {
                let frames = (0..n)
                    .map(|i| self.working_set[(self.next_in_set + i) % WORKING_SET].clone())
                    .collect();
                self.next_in_set = (self.next_in_set + n) % WORKING_SET;
                Batch {
                    face: self.consumer,
                    frames,
                }
            }
        };
        self.out.reserve(2 * batch.len());
        self.before = self.fwd.counters();
        batch
    }

    /// The measured part: one [`Forwarder::receive`] per frame of `batch`, the actions left
    /// in a vector reserved beforehand (their drop is not measured).
    #[inline(never)]
    pub fn receive_batch(&mut self, batch: &Batch) {
        let face = batch.face;
        for frame in &batch.frames {
            self.fwd.receive(self.now, face, frame, &mut self.out);
        }
    }

    /// After [`Self::receive_batch`], untimed: checks that each frame took the path, answers
    /// what the batch left pending, advances the virtual clock and runs the timers due.
    ///
    /// # Errors
    /// If the frames did not take the path measured (the counters say what happened).
    pub fn finish(&mut self, batch: &Batch) -> Result<(), String> {
        let counted = self.check_batch(&self.fwd.counters(), batch.len());
        let actions = std::mem::take(&mut self.out);
        match self.path {
            Path::Miss | Path::ChainHop => {
                let (upstream, chained) = if self.path == Path::Miss {
                    (self.producer, false)
                } else {
                    (self.sf, true)
                };
                let sent: Vec<(LpPacket, u64)> = actions
                    .into_iter()
                    .filter_map(|a| match a {
                        Action::Send { face, frame } if face == upstream => {
                            LpPacket::decode(frame).ok()
                        }
                        _ => None,
                    })
                    .zip(self.seq - batch.len() as u64..)
                    .collect();
                let (lps, seqs): (Vec<LpPacket>, Vec<u64>) = sent.into_iter().unzip();
                self.answer(&lps, &seqs, upstream, chained);
            }
            _ => drop(actions),
        }
        self.out = Vec::with_capacity(2 * BATCH);
        if matches!(
            self.path,
            Path::Miss | Path::ChainHop | Path::Data | Path::Nack
        ) {
            self.now += PACKET_GAP * u32::try_from(batch.len()).unwrap_or(u32::MAX);
            self.fwd.on_timeout(self.now, &mut self.out);
            self.out.clear();
        }
        counted
    }

    fn check_batch(&self, after: &ForwarderCounters, n: usize) -> Result<(), String> {
        let b = &self.before;
        let f = &self.fwd;
        match self.path {
            Path::Miss => delta("out_interests", b.out_interests, after.out_interests, n, f),
            Path::Data => delta(
                "satisfied_interests",
                b.satisfied_interests,
                after.satisfied_interests,
                n,
                f,
            ),
            Path::CsHit => delta("out_data", b.out_data, after.out_data, n, f),
            Path::ChainHop => delta(
                "functions_popped",
                b.functions_popped,
                after.functions_popped,
                n,
                f,
            ),
            Path::Nack => delta("out_nacks", b.out_nacks, after.out_nacks, n, f),
            Path::DeadNonce => delta("loops", b.loops, after.loops, n, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path does what it is named for, and leaves the PIT empty after its batches.
    #[test]
    fn each_path_takes_its_path_and_tables_stay_bounded() {
        for path in Path::ALL {
            let mut b = PathBench::new(path);
            for _ in 0..3 {
                let batch = b.prepare(BATCH);
                b.receive_batch(&batch);
                b.finish(&batch)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.name()));
                assert_eq!(b.forwarder().pit().len(), 0, "{}", path.name());
            }
            assert!(b.forwarder().cs().len() <= CS_ENTRIES, "{}", path.name());
            assert!(
                b.forwarder().dead_nonces() <= DEAD_NONCES,
                "{}",
                path.name()
            );
        }
    }
}

//! Link liveness of faces towards other forwarders (`docs/protocol.md` §8), sans-IO: the state
//! of one face and what a tick of the clock makes of it. The forwarder sends what this asks
//! for and acts on "down"; the driver only carries frames.
//!
//! - A **probe** is an NDNLPv2 IDLE packet (an LpPacket without Fragment) carrying a
//!   TxSequence; a peer that knows it answers with an IDLE packet carrying that number as an
//!   Ack (NDNLPv2's own fields: "I received your frame N"). Both are 14 bytes. NFD drops IDLE
//!   packets (after its reliability layer, when enabled, which acks them too), so NFD peers
//!   are unaffected.
//! - A face is **awaiting** from the first Interest sent on it after the last frame received.
//!   Awaiting `interval` with nothing heard, it is probed, again every `interval`.
//! - A face whose peer has answered a probe (or sent one) is **capable**: awaiting `timeout`
//!   with nothing heard, it is **down**. A peer that never answered a probe (NFD, or not up
//!   yet) cannot tell a slow answer from a dead link, so it is never declared down; it gets a
//!   few probes per silence, no more.
//! - Faces the forwarder made (persistent or permanent, towards network addresses) are
//!   watched from the start and get one **hello** probe, which finds out whether the peer is
//!   capable; on-demand faces are watched once their peer shows it is (it probes or acks).
//! - A down face gets a probe every `timeout`; anything heard brings it back up.
//!
//! Nothing here replies to more than it receives: an Ack is no larger than the probe it
//! answers, at most one per [`ACK_GAP`] per face, and probes go only to faces the forwarder is
//! waiting for (at most one per `interval`), so a peer cannot make nfwd amplify traffic.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::LpPacket;

/// Least time between two Acks on one face.
pub const ACK_GAP: Duration = Duration::from_millis(50);

/// Probes sent to a face that is not capable, per silence.
const MAX_UNCAPABLE_PROBES: u8 = 3;

/// Liveness settings (`faces.liveness_interval_ms`, `faces.liveness_timeout_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessConfig {
    /// Silence (while awaiting) before a probe, and between probes.
    pub interval: Duration,
    /// Silence (while awaiting) after which a capable face is down.
    pub timeout: Duration,
}

impl LivenessConfig {
    /// How often the forwarder looks at its watched faces.
    #[must_use]
    pub fn tick(&self) -> Duration {
        (self.interval / 2).max(Duration::from_millis(10))
    }
}

/// What a tick asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing.
    Nothing,
    /// Send a probe with this TxSequence.
    Probe(u64),
    /// The face is down.
    Down,
}

/// The liveness state of one face.
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    /// Looked at by ticks.
    pub watched: bool,
    /// The peer answers probes.
    pub capable: bool,
    /// Declared down (strategies skip it).
    pub down: bool,
    /// The first Interest (or probe) sent since the last frame received.
    awaiting_since: Option<Instant>,
    last_probe: Option<Instant>,
    unanswered: u8,
    hello_due: bool,
    last_ack: Option<Instant>,
    next_seq: u64,
    /// A follower shard told the leader of this silence already (`replica.rs`).
    silence_reported: bool,
}

impl Liveness {
    /// A face the forwarder made: watched, with a hello due.
    #[must_use]
    pub fn made(seed: u64) -> Self {
        Self {
            watched: true,
            hello_due: true,
            next_seq: seed,
            ..Self::default()
        }
    }

    /// A frame arrived. True if the face was down and is up again.
    pub fn heard(&mut self) -> bool {
        self.awaiting_since = None;
        self.unanswered = 0;
        self.silence_reported = false;
        std::mem::take(&mut self.down)
    }

    /// On a follower shard: when this silence began, once, if it has lasted `interval` (the
    /// leader, which probes, is told of it).
    pub fn silence_to_report(&mut self, now: Instant, interval: Duration) -> Option<Instant> {
        let since = self.awaiting_since?;
        if self.silence_reported || now.saturating_duration_since(since) < interval {
            return None;
        }
        self.silence_reported = true;
        Some(since)
    }

    /// On the leader: a follower has been awaiting an answer since `since`.
    pub fn awaiting_from(&mut self, since: Instant) {
        if self.awaiting_since.is_none_or(|t| since < t) {
            self.awaiting_since = Some(since);
        }
    }

    /// The leader's verdict, on a follower shard.
    pub fn set_down(&mut self, down: bool) {
        self.down = down;
    }

    /// An Interest was sent.
    pub fn sent(&mut self, now: Instant) {
        if self.awaiting_since.is_none() {
            self.awaiting_since = Some(now);
        }
    }

    /// The peer answered a probe of ours or sent one: it speaks liveness.
    pub fn peer_is_capable(&mut self) {
        self.capable = true;
        self.watched = true;
    }

    /// Whether a probe may be answered now (at most one Ack per [`ACK_GAP`]); notes it.
    pub fn may_ack(&mut self, now: Instant) -> bool {
        if self
            .last_ack
            .is_some_and(|t| now.saturating_duration_since(t) < ACK_GAP)
        {
            return false;
        }
        self.last_ack = Some(now);
        true
    }

    /// What the clock says at `now`.
    pub fn tick(&mut self, now: Instant, cfg: &LivenessConfig) -> Tick {
        let since = |t: Instant| now.saturating_duration_since(t);
        let probe_due =
            |every: Duration, last: Option<Instant>| last.is_none_or(|t| since(t) >= every);
        if self.down {
            return if probe_due(cfg.timeout, self.last_probe) {
                self.probe(now)
            } else {
                Tick::Nothing
            };
        }
        match self.awaiting_since {
            Some(t0) if self.capable && since(t0) >= cfg.timeout => {
                self.down = true;
                self.awaiting_since = None;
                Tick::Down
            }
            Some(t0)
                if since(t0) >= cfg.interval
                    && probe_due(cfg.interval, self.last_probe)
                    && (self.capable || self.unanswered < MAX_UNCAPABLE_PROBES) =>
            {
                self.probe(now)
            }
            None if self.hello_due => {
                self.hello_due = false;
                self.awaiting_since = Some(now);
                self.probe(now)
            }
            _ => Tick::Nothing,
        }
    }

    fn probe(&mut self, now: Instant) -> Tick {
        self.last_probe = Some(now);
        self.unanswered = self.unanswered.saturating_add(1);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        Tick::Probe(seq)
    }
}

/// A probe: IDLE LpPacket with TxSequence `seq`.
#[must_use]
pub fn probe_frame(seq: u64) -> Bytes {
    LpPacket {
        tx_sequence: Some(seq),
        ..LpPacket::default()
    }
    .encode()
}

/// The answer to probe `seq`: IDLE LpPacket with one Ack.
#[must_use]
pub fn ack_frame(seq: u64) -> Bytes {
    LpPacket {
        acks: vec![seq],
        ..LpPacket::default()
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: LivenessConfig = LivenessConfig {
        interval: Duration::from_millis(250),
        timeout: Duration::from_millis(1000),
    };

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn probes_and_acks_are_idle_packets_of_equal_size() {
        let p = LpPacket::decode(probe_frame(7)).unwrap();
        let a = LpPacket::decode(ack_frame(7)).unwrap();
        assert!(p.is_idle() && a.is_idle());
        assert_eq!((p.tx_sequence, a.acks.as_slice()), (Some(7), &[7][..]));
        assert_eq!(probe_frame(7).len(), ack_frame(7).len());
        assert_eq!(probe_frame(7).len(), 14);
    }

    #[test]
    fn a_capable_silent_face_goes_down_and_comes_back() {
        let t0 = Instant::now();
        let mut l = Liveness::made(1);
        // Hello at the first tick.
        assert_eq!(l.tick(t0, &CFG), Tick::Probe(1));
        l.heard();
        l.peer_is_capable();
        // Busy and answered: nothing to do.
        l.sent(ms(t0, 10));
        l.heard();
        assert_eq!(l.tick(ms(t0, 2000), &CFG), Tick::Nothing);
        // Silence after an Interest: probes every interval, down at the timeout.
        l.sent(ms(t0, 3000));
        assert_eq!(l.tick(ms(t0, 3100), &CFG), Tick::Nothing);
        assert_eq!(l.tick(ms(t0, 3250), &CFG), Tick::Probe(2));
        assert_eq!(l.tick(ms(t0, 3400), &CFG), Tick::Nothing);
        assert_eq!(l.tick(ms(t0, 3500), &CFG), Tick::Probe(3));
        assert_eq!(l.tick(ms(t0, 4000), &CFG), Tick::Down);
        assert!(l.down);
        // Down: a probe per timeout, until something is heard.
        assert_eq!(l.tick(ms(t0, 4100), &CFG), Tick::Nothing);
        assert_eq!(l.tick(ms(t0, 5000), &CFG), Tick::Probe(4));
        assert!(l.heard());
        assert!(!l.down);
    }

    #[test]
    fn a_peer_that_never_answers_is_never_declared_down() {
        let t0 = Instant::now();
        let mut l = Liveness::made(1);
        assert_eq!(l.tick(t0, &CFG), Tick::Probe(1));
        let mut probes = 1;
        for k in 1..100 {
            match l.tick(ms(t0, k * 125), &CFG) {
                Tick::Probe(_) => probes += 1,
                Tick::Down => panic!("an NFD peer must not be declared down"),
                Tick::Nothing => {}
            }
        }
        assert_eq!(probes, MAX_UNCAPABLE_PROBES);
        // An on-demand face nobody made is not watched at all.
        assert!(!Liveness::default().watched);
    }

    #[test]
    fn acks_are_rate_limited() {
        let t0 = Instant::now();
        let mut l = Liveness::default();
        assert!(l.may_ack(t0));
        assert!(!l.may_ack(ms(t0, 10)));
        assert!(l.may_ack(ms(t0, 50)));
    }
}

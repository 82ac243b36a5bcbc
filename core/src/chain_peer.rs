//! Whether the forwarder at the other end of a face understands function chaining
//! (`docs/protocol.md` §4.1), sans-IO: the state of one face and what a tick makes of it.
//!
//! A forwarder that does not know the FunctionNames element (NFD) drops a chained Interest
//! without a word, so the consumer would wait its whole lifetime for nothing. nfwd asks
//! instead: on each face it makes towards a network address it sends a **hello**, an IDLE
//! LpPacket holding ChainAware = 1 (7 bytes), and an nfwd peer answers with ChainAware = 2.
//! NFD ignores the field and drops IDLE packets, so its silence is the answer.
//!
//! - A face we made is **unknown** until its peer says ChainAware (a hello or an answer) or
//!   sends a chained Interest: then it is **aware**. [`HELLOS`] hellos go out spread over the
//!   timeout (a lost datagram is not a verdict); silent for the whole timeout, it is
//!   **unaware**.
//! - A non-local face the peer made: an nfwd peer says hello as soon as it has the face, so
//!   the same timeout decides (we never send hellos there: the peer may be an application,
//!   which must not receive IDLE packets it cannot parse).
//! - Local faces the peer made (applications, SFs) are not asked: they are **aware**, as a
//!   hosting application is by definition.
//! - An unaware face we made gets one more hello per timeout while chained Interests want
//!   it, so a peer that comes back as nfwd (or whose hellos were all lost) is found again.
//!   If nothing at all was ever heard from that peer, its silence may have been a dead link
//!   (a neighbour started after the face was made) rather than a forwarder that ignores
//!   hellos: the question is then **reopened** — unknown again, the chained Interest goes to
//!   it with the hello, and a second silent timeout answers it with the error as before.
//!   A peer that was heard (an NFD answering plain Interests) stays unaware until it answers.
//!
//! A hello is answered by one packet of the same size, at most one per [`ANSWER_GAP`] per
//! face: nobody can make nfwd amplify traffic with it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::LpPacket;

/// Hellos sent while a face is unknown, spread over the timeout.
pub const HELLOS: u8 = 3;

/// Least time between two answers on one face.
pub const ANSWER_GAP: Duration = Duration::from_millis(50);

/// ChainAware value of a hello.
pub const HELLO: u64 = 1;
/// ChainAware value of an answer.
pub const ANSWER: u64 = 2;

/// What is known of the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awareness {
    /// Not yet known: chained Interests go to it (the answer is on its way).
    Unknown,
    /// It understands function chaining.
    Aware,
    /// It does not: chained Interests never go to it.
    Unaware,
}

impl Awareness {
    /// The word `nfwd face list` and the logs use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Aware => "aware",
            Self::Unaware => "unaware",
        }
    }
}

/// What a tick asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerTick {
    /// Nothing (and nothing more while the state stays as it is).
    Settled,
    /// Still waiting; nothing to send now.
    Waiting,
    /// Send a hello.
    Hello,
    /// The timeout passed in silence: the face is now unaware.
    Unaware,
}

/// The chain-awareness state of one face.
#[derive(Debug, Clone)]
pub struct ChainPeer {
    awareness: Awareness,
    /// We made the face: we send hellos.
    asks: bool,
    /// When the current wait began.
    since: Instant,
    hellos: u8,
    last_hello: Option<Instant>,
    last_answer: Option<Instant>,
    /// Any frame at all has come from the peer.
    heard_any: bool,
}

/// What a chained Interest that skipped an unaware face asks of it ([`ChainPeer::ask_again`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskAgain {
    /// Nothing now (not ours to ask, or asked less than a timeout ago).
    No,
    /// Send one more hello; the face stays unaware.
    Hello,
    /// Send a hello: the face is unknown again (nothing was ever heard from it), and chained
    /// Interests may go to it until the answer or the next verdict.
    Reopened,
}

impl ChainPeer {
    /// A local face of an application (or a face when the feature is off): aware.
    #[must_use]
    pub fn aware(now: Instant) -> Self {
        Self {
            awareness: Awareness::Aware,
            asks: false,
            since: now,
            hellos: 0,
            last_hello: None,
            last_answer: None,
            heard_any: true,
        }
    }

    /// A face we made towards a network address: we ask.
    #[must_use]
    pub fn asking(now: Instant) -> Self {
        Self {
            awareness: Awareness::Unknown,
            asks: true,
            heard_any: false,
            ..Self::aware(now)
        }
    }

    /// A non-local face the peer made: it should say hello.
    #[must_use]
    pub fn listening(now: Instant) -> Self {
        Self {
            awareness: Awareness::Unknown,
            ..Self::aware(now)
        }
    }

    /// What is known.
    #[must_use]
    pub fn awareness(&self) -> Awareness {
        self.awareness
    }

    /// True if chained Interests must not go to this face.
    #[must_use]
    pub fn is_unaware(&self) -> bool {
        self.awareness == Awareness::Unaware
    }

    /// The peer showed it understands chaining (ChainAware, or a chained Interest). True if
    /// that is news.
    pub fn heard(&mut self) -> bool {
        let news = self.awareness != Awareness::Aware;
        self.awareness = Awareness::Aware;
        news
    }

    /// What another shard found (`replica.rs`). True if it was news.
    pub fn set_awareness(&mut self, awareness: Awareness, now: Instant) -> bool {
        let news = self.awareness != awareness;
        if news && awareness == Awareness::Unknown {
            self.since = now;
        }
        self.awareness = awareness;
        news
    }

    /// A frame (of any kind) came from the peer: it is there.
    pub fn frame_heard(&mut self) {
        self.heard_any = true;
    }

    /// A tick: hellos due, or the verdict.
    pub fn tick(&mut self, now: Instant, timeout: Duration) -> PeerTick {
        if self.awareness != Awareness::Unknown {
            return PeerTick::Settled;
        }
        if now.saturating_duration_since(self.since) >= timeout {
            self.awareness = Awareness::Unaware;
            return PeerTick::Unaware;
        }
        let gap = timeout / u32::from(HELLOS);
        let due = self
            .last_hello
            .is_none_or(|t| now.saturating_duration_since(t) >= gap);
        if self.asks && self.hellos < HELLOS && due {
            self.hellos += 1;
            self.last_hello = Some(now);
            return PeerTick::Hello;
        }
        PeerTick::Waiting
    }

    /// A chained Interest skipped this unaware face: whether one more hello should go now (we
    /// made the face and asked no sooner than `timeout` ago), and whether the question is
    /// reopened (nothing was ever heard from the peer).
    pub fn ask_again(&mut self, now: Instant, timeout: Duration) -> AskAgain {
        if !self.asks || self.awareness != Awareness::Unaware {
            return AskAgain::No;
        }
        if self
            .last_hello
            .is_some_and(|t| now.saturating_duration_since(t) < timeout)
        {
            return AskAgain::No;
        }
        self.last_hello = Some(now);
        if self.heard_any {
            return AskAgain::Hello;
        }
        // As for a new face: the hello sent now is the first of the round.
        self.awareness = Awareness::Unknown;
        self.since = now;
        self.hellos = 1;
        AskAgain::Reopened
    }

    /// Whether a hello may be answered now (at most one answer per [`ANSWER_GAP`]); notes it.
    pub fn may_answer(&mut self, now: Instant) -> bool {
        if self
            .last_answer
            .is_some_and(|t| now.saturating_duration_since(t) < ANSWER_GAP)
        {
            return false;
        }
        self.last_answer = Some(now);
        true
    }
}

/// The IDLE packet carrying ChainAware = `value` ([`HELLO`] or [`ANSWER`]).
#[must_use]
pub fn frame(value: u64) -> Bytes {
    LpPacket {
        chain_aware: Some(value),
        ..LpPacket::default()
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(900);

    #[test]
    fn a_silent_peer_gets_three_hellos_then_is_unaware() {
        let t0 = Instant::now();
        let mut p = ChainPeer::asking(t0);
        assert_eq!(p.awareness(), Awareness::Unknown);
        assert_eq!(p.tick(t0, T), PeerTick::Hello);
        assert_eq!(
            p.tick(t0 + Duration::from_millis(100), T),
            PeerTick::Waiting
        );
        assert_eq!(p.tick(t0 + Duration::from_millis(300), T), PeerTick::Hello);
        assert_eq!(p.tick(t0 + Duration::from_millis(600), T), PeerTick::Hello);
        assert_eq!(
            p.tick(t0 + Duration::from_millis(899), T),
            PeerTick::Waiting
        );
        assert_eq!(p.tick(t0 + T, T), PeerTick::Unaware);
        assert!(p.is_unaware());
        assert_eq!(p.tick(t0 + 2 * T, T), PeerTick::Settled);
        // Asked again no sooner than a timeout after the last hello. Nothing was ever heard
        // from the peer: the question is reopened, as for a new face.
        assert_eq!(p.ask_again(t0 + T, T), AskAgain::No);
        let t1 = t0 + Duration::from_millis(1500);
        assert_eq!(p.ask_again(t1, T), AskAgain::Reopened);
        assert_eq!(p.awareness(), Awareness::Unknown);
        assert_eq!(p.ask_again(t1, T), AskAgain::No, "unknown: not asked again");
        // Two more hellos over the round, then the same verdict if it stays silent.
        assert_eq!(p.tick(t1 + Duration::from_millis(300), T), PeerTick::Hello);
        assert_eq!(p.tick(t1 + Duration::from_millis(600), T), PeerTick::Hello);
        assert_eq!(p.tick(t1 + T, T), PeerTick::Unaware);
        // The answer to a later one brings it back.
        assert!(p.heard());
        assert_eq!(p.awareness(), Awareness::Aware);
        assert!(!p.heard());
    }

    #[test]
    fn a_peer_heard_but_silent_to_the_hello_stays_unaware_when_asked_again() {
        let t0 = Instant::now();
        let mut p = ChainPeer::asking(t0);
        assert_eq!(p.tick(t0, T), PeerTick::Hello);
        // An NFD: it answers plain Interests, never the hello.
        p.frame_heard();
        assert_eq!(p.tick(t0 + T, T), PeerTick::Unaware);
        assert_eq!(
            p.ask_again(t0 + Duration::from_millis(1500), T),
            AskAgain::Hello
        );
        assert!(p.is_unaware());
    }

    #[test]
    fn an_answer_settles_it_and_listening_faces_never_say_hello() {
        let t0 = Instant::now();
        let mut p = ChainPeer::asking(t0);
        assert_eq!(p.tick(t0, T), PeerTick::Hello);
        assert!(p.heard());
        assert_eq!(p.tick(t0 + 2 * T, T), PeerTick::Settled);

        let mut l = ChainPeer::listening(t0);
        assert_eq!(l.tick(t0, T), PeerTick::Waiting);
        assert_eq!(l.tick(t0 + T, T), PeerTick::Unaware);
        assert_eq!(
            l.ask_again(t0 + 5 * T, T),
            AskAgain::No,
            "only faces we made ask"
        );

        let mut a = ChainPeer::aware(t0);
        assert_eq!(a.tick(t0 + 5 * T, T), PeerTick::Settled);
        assert!(!a.is_unaware());
    }

    #[test]
    fn answers_are_rate_limited() {
        let t0 = Instant::now();
        let mut p = ChainPeer::listening(t0);
        assert!(p.may_answer(t0));
        assert!(!p.may_answer(t0 + Duration::from_millis(10)));
        assert!(p.may_answer(t0 + ANSWER_GAP));
        assert_eq!(frame(HELLO).len(), 7);
        assert_eq!(frame(ANSWER).len(), 7);
    }
}

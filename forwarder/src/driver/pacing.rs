//! Pacing of what a UDP face sends: a token bucket (`faces.udp_pacing_rate_mbps`,
//! `faces.udp_pacing_burst_bytes`) in front of the socket.
//!
//! Why: the core answers a window of Interests in one round, so a producer's Data leave in
//! a burst at memory speed. A peer reading with a default receive buffer (~208 KiB on Linux,
//! NFD's case) overflows and drops what does not fit, and its consumers see losses instead of
//! a slower rate. Within the burst allowance frames go straight out as before; beyond it they
//! wait here, released at the configured rate, and — as on a stream face — CongestionMarks
//! follow the length of this queue (NFD marks UDP faces by their send queue too), so
//! consumers slow down before anything is dropped. Only a queue over
//! `faces.udp_pacing_queue_bytes` drops, and counts.
//!
//! Sans-IO: time comes in as an argument; the engine sends what [`Pacer::release`] gives and
//! sleeps until [`Pacer::next_release`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Pacing settings of every UDP face (`faces.udp_pacing_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PacingConfig {
    /// Bytes per second; 0: no pacing.
    pub rate_bytes_per_s: u64,
    /// Bytes that may leave at once after a pause.
    pub burst_bytes: u64,
    /// Bytes that may wait; beyond, frames are dropped.
    pub queue_bytes: u64,
}

impl PacingConfig {
    /// The settings `[faces]` gives UDP faces.
    pub(crate) fn of(faces: &crate::config::FacesConfig) -> Self {
        Self {
            rate_bytes_per_s: faces.udp_pacing_rate_mbps.saturating_mul(125_000),
            burst_bytes: faces.udp_pacing_burst_bytes,
            queue_bytes: faces.udp_pacing_queue_bytes,
        }
    }

    /// Whether UDP faces are paced at all.
    pub(crate) fn enabled(&self) -> bool {
        self.rate_bytes_per_s > 0
    }
}

/// What became of a frame handed to [`Pacer::offer`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Within the allowance: send it now.
    SendNow(Bytes),
    /// Queued behind earlier frames or waiting for tokens (`queued` bytes before it).
    Queued { queued: u64 },
    /// The queue is full: dropped.
    Dropped,
}

/// One UDP face's token bucket and waiting frames.
#[derive(Debug)]
pub(crate) struct Pacer {
    config: PacingConfig,
    /// Bytes that may leave now (at most `burst_bytes`).
    tokens: u64,
    /// Time up to which tokens have been credited.
    credited_to: Instant,
    queue: VecDeque<Bytes>,
    queued: u64,
}

impl Pacer {
    /// A full bucket at `now`.
    pub(crate) fn new(config: PacingConfig, now: Instant) -> Self {
        Self {
            config,
            tokens: config.burst_bytes,
            credited_to: now,
            queue: VecDeque::new(),
            queued: 0,
        }
    }

    /// Bytes waiting.
    pub(crate) fn queued(&self) -> u64 {
        self.queued
    }

    /// Credits the tokens earned since the last credit. Whole bytes only: the remainder of
    /// the time is kept for the next credit, so no rate is lost to rounding.
    fn refill(&mut self, now: Instant) {
        let rate = u128::from(self.config.rate_bytes_per_s);
        if rate == 0 || now <= self.credited_to {
            return;
        }
        if self.tokens >= self.config.burst_bytes {
            // Full: what the pause earned is lost, as a bucket's overflow is.
            self.credited_to = now;
            return;
        }
        let elapsed = now.duration_since(self.credited_to).as_nanos();
        let earned = elapsed * rate / 1_000_000_000;
        if earned == 0 {
            return;
        }
        let room = u128::from(self.config.burst_bytes - self.tokens);
        if earned >= room {
            self.tokens = self.config.burst_bytes;
            self.credited_to = now;
        } else {
            // `earned` < room ≤ u64::MAX.
            self.tokens += u64::try_from(earned).unwrap_or(0);
            let used_ns = earned * 1_000_000_000 / rate;
            self.credited_to += Duration::from_nanos(u64::try_from(used_ns).unwrap_or(u64::MAX));
        }
    }

    /// A frame to send at `now`: out at once if nothing waits and the tokens cover it
    /// (a frame larger than the whole burst needs a full bucket), else queued, else dropped.
    pub(crate) fn offer(&mut self, now: Instant, frame: Bytes) -> Offer {
        self.refill(now);
        let len = frame.len() as u64;
        if self.queue.is_empty() && self.covers(len) {
            self.tokens = self.tokens.saturating_sub(len);
            return Offer::SendNow(frame);
        }
        if self.queued.saturating_add(len) > self.config.queue_bytes {
            return Offer::Dropped;
        }
        let queued = self.queued;
        self.queued += len;
        self.queue.push_back(frame);
        Offer::Queued { queued }
    }

    /// Whether the tokens cover a frame of `len` bytes (a frame over the burst needs a full
    /// bucket, and takes it all).
    fn covers(&self, len: u64) -> bool {
        self.tokens >= len.min(self.config.burst_bytes)
    }

    /// The frames whose time has come at `now`, in order.
    pub(crate) fn release(&mut self, now: Instant, out: &mut Vec<Bytes>) {
        self.refill(now);
        while let Some(front) = self.queue.front() {
            let len = front.len() as u64;
            if !self.covers(len) {
                break;
            }
            self.tokens = self.tokens.saturating_sub(len);
            self.queued -= len;
            if let Some(f) = self.queue.pop_front() {
                out.push(f);
            }
        }
    }

    /// When the first waiting frame may leave; `None` if nothing waits.
    pub(crate) fn next_release(&self) -> Option<Instant> {
        let front = self.queue.front()?.len() as u64;
        let need = front
            .min(self.config.burst_bytes)
            .saturating_sub(self.tokens);
        let rate = u128::from(self.config.rate_bytes_per_s.max(1));
        // Rounded up, so that the bucket covers the frame when the time comes.
        let ns = (u128::from(need) * 1_000_000_000).div_ceil(rate);
        Some(self.credited_to + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Bytes {
        Bytes::from(vec![0u8; len])
    }

    /// 1 MB/s, 3000 bytes of burst, 5000 of queue.
    fn config() -> PacingConfig {
        PacingConfig {
            rate_bytes_per_s: 1_000_000,
            burst_bytes: 3000,
            queue_bytes: 5000,
        }
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rest_at_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::new(config(), t0);
        for _ in 0..3 {
            assert!(matches!(p.offer(t0, frame(1000)), Offer::SendNow(_)));
        }
        assert_eq!(p.offer(t0, frame(1000)), Offer::Queued { queued: 0 });
        assert_eq!(p.offer(t0, frame(1000)), Offer::Queued { queued: 1000 });
        assert_eq!(p.queued(), 2000);
        // 1000 bytes at 1 MB/s: 1 ms.
        assert_eq!(p.next_release(), Some(t0 + Duration::from_millis(1)));
        let mut out = Vec::new();
        p.release(t0 + Duration::from_micros(999), &mut out);
        assert!(out.is_empty());
        p.release(t0 + Duration::from_millis(1), &mut out);
        assert_eq!(out.len(), 1);
        // Nothing jumps the queue while frames wait, even with tokens for it.
        p.release(t0 + Duration::from_micros(1500), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            p.offer(t0 + Duration::from_micros(1500), frame(100)),
            Offer::Queued { queued: 1000 }
        );
        p.release(t0 + Duration::from_millis(3), &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(p.queued(), 0);
        assert_eq!(p.next_release(), None);
    }

    #[test]
    fn the_queue_is_bounded_and_the_bucket_capped() {
        let t0 = Instant::now();
        let mut p = Pacer::new(config(), t0);
        assert!(matches!(p.offer(t0, frame(3000)), Offer::SendNow(_)));
        assert_eq!(p.offer(t0, frame(3000)), Offer::Queued { queued: 0 });
        assert_eq!(p.offer(t0, frame(2000)), Offer::Queued { queued: 3000 });
        assert_eq!(p.offer(t0, frame(1)), Offer::Dropped);
        // A long pause fills the bucket to the burst only.
        let later = t0 + Duration::from_secs(60);
        let mut out = Vec::new();
        p.release(later, &mut out);
        assert_eq!(out.len(), 1, "3000 bytes of tokens: the first frame only");
        assert_eq!(p.next_release(), Some(later + Duration::from_millis(2)));
    }

    #[test]
    fn a_frame_larger_than_the_burst_waits_for_a_full_bucket() {
        let t0 = Instant::now();
        let mut p = Pacer::new(config(), t0);
        assert!(matches!(p.offer(t0, frame(100)), Offer::SendNow(_)));
        assert_eq!(p.offer(t0, frame(4000)), Offer::Queued { queued: 0 });
        // 100 bytes to earn back: 100 µs.
        assert_eq!(p.next_release(), Some(t0 + Duration::from_micros(100)));
        let mut out = Vec::new();
        p.release(t0 + Duration::from_micros(100), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn the_rate_holds_over_many_small_credits() {
        let t0 = Instant::now();
        let mut p = Pacer::new(config(), t0);
        let mut sent = 0u64;
        let mut out = Vec::new();
        // 10 ms of 1-µs steps, offering ten times the rate (the excess queues, then drops):
        // the burst and 10 ms at the rate leave, 3000 + 10,000 bytes.
        for us in 0..10_000u64 {
            let now = t0 + Duration::from_micros(us);
            if let Offer::SendNow(f) = p.offer(now, frame(10)) {
                sent += f.len() as u64;
            }
            p.release(now, &mut out);
            sent += out.drain(..).map(|f| f.len() as u64).sum::<u64>();
        }
        assert!((12_900..=13_000).contains(&sent), "{sent}");
    }
}

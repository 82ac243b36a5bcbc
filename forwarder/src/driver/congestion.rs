//! Congestion marking of one face's outgoing packets, as NFD's `GenericLinkService` does it
//! (`checkCongestionLevel`), sans-IO: the caller passes the time and the bytes queued.
//!
//! While the send queue holds more than the threshold, the first packet is marked (at most one
//! first mark per base interval), then one packet per interval, the interval shrinking as
//! `base / sqrt(marks since the congestion began)` — the CoDel control law. Once the queue is
//! at or below the threshold, the congestion incident is over and the count starts again.
//!
//! The threshold is the face's configured one (NFD's `DefaultCongestionThreshold`, 65536
//! bytes by default) or half the queue's capacity, whichever is smaller, so marking starts
//! well before the queue has to drop.
//!
//! NFD's queue length also counts the kernel's socket send buffer (`SIOCOUTQ`); this crate
//! forbids `unsafe` (no ioctl), so it counts only its own write queue (the batch being
//! written included).

use std::time::{Duration, Instant};

use crate::core::CongestionMarking;

/// The marking state of one face.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    settings: CongestionMarking,
    /// The base interval.
    base: Duration,
    /// The threshold in effect: `settings.threshold`, at most half the queue's capacity.
    threshold: u64,
    /// Half the queue's capacity, bytes.
    half_capacity: u64,
    /// When the next packet is to be marked (None: not congested).
    next_mark: Option<Instant>,
    /// When a packet was last marked.
    last_mark: Option<Instant>,
    /// Packets marked since this congestion incident began.
    marked_in_incident: u32,
}

impl Marker {
    /// A marker for a queue of `capacity` bytes.
    pub(crate) fn new(settings: CongestionMarking, capacity: u64) -> Self {
        let half_capacity = capacity / 2;
        Self {
            settings,
            base: Duration::from_nanos(settings.base_interval_ns),
            threshold: settings.threshold.min(half_capacity),
            half_capacity,
            next_mark: None,
            last_mark: None,
            marked_in_incident: 0,
        }
    }

    /// The settings in use.
    #[cfg(test)]
    pub(crate) fn settings(&self) -> CongestionMarking {
        self.settings
    }

    /// Changes the settings (management's `faces/update`); the incident in progress goes on.
    pub(crate) fn set_settings(&mut self, settings: CongestionMarking) {
        self.settings = settings;
        self.base = Duration::from_nanos(settings.base_interval_ns);
        self.threshold = settings.threshold.min(self.half_capacity);
    }

    /// The threshold in effect, bytes.
    #[cfg(test)]
    pub(crate) fn threshold(&self) -> u64 {
        self.threshold
    }

    /// Whether the packet about to be queued, with `queued` bytes already waiting, is to carry
    /// a CongestionMark. Called once per outgoing packet; costs a comparison while the queue
    /// is below the threshold.
    #[inline]
    pub(crate) fn should_mark(&mut self, now: Instant, queued: u64) -> bool {
        if !self.settings.enabled {
            return false;
        }
        if queued <= self.threshold {
            if self.next_mark.is_some() {
                // The congestion incident is over.
                self.next_mark = None;
                self.marked_in_incident = 0;
            }
            return false;
        }
        self.congested(now)
    }

    #[cold]
    fn congested(&mut self, now: Instant) -> bool {
        let base = self.base;
        let due = self.next_mark.is_some_and(|t| now >= t)
            || self.last_mark.is_none_or(|t| now >= t + base);
        if !due {
            return false;
        }
        // The first mark of an incident starts the schedule from now (and at most one first
        // mark per base interval: `last_mark` is kept across incidents).
        let mut next = match self.next_mark {
            Some(t) if self.marked_in_incident > 0 => t,
            _ => now,
        };
        self.marked_in_incident = self.marked_in_incident.saturating_add(1);
        let interval = base.as_secs_f64() / f64::from(self.marked_in_incident).sqrt();
        next += Duration::from_secs_f64(interval);
        self.next_mark = Some(next);
        self.last_mark = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn marker(threshold: u64) -> Marker {
        Marker::new(
            CongestionMarking {
                threshold,
                ..CongestionMarking::default()
            },
            32 << 20,
        )
    }

    #[test]
    fn below_threshold_marks_nothing() {
        let mut m = marker(1000);
        let t0 = Instant::now();
        for i in 0..1000 {
            assert!(!m.should_mark(t0 + MS * i, 1000));
        }
    }

    #[test]
    fn threshold_is_at_most_half_the_capacity() {
        let m = Marker::new(CongestionMarking::default(), 64 * 1024);
        assert_eq!(m.threshold(), 32 * 1024);
        let m = Marker::new(CongestionMarking::default(), 32 << 20);
        assert_eq!(m.threshold(), 65_536);
    }

    #[test]
    fn marks_first_then_at_shrinking_intervals() {
        let mut m = marker(1000);
        let t0 = Instant::now();
        // Congested from t0 on; a packet every millisecond.
        let marked: Vec<u32> = (0..400u32)
            .filter(|&i| m.should_mark(t0 + MS * i, 5000))
            .collect();
        // First at once, then after 100 ms, 100/√2 ≈ 70.7 ms, 100/√3 ≈ 57.7 ms, 50 ms, ...
        assert_eq!(&marked[..5], &[0, 100, 171, 229, 279]);
        // The intervals shrink.
        let gaps: Vec<u32> = marked.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] <= g[0]), "{gaps:?}");
    }

    #[test]
    fn resets_when_the_queue_drains() {
        let mut m = marker(1000);
        let t0 = Instant::now();
        assert!(m.should_mark(t0, 5000));
        assert!(!m.should_mark(t0 + MS * 50, 5000));
        assert!(m.should_mark(t0 + MS * 100, 5000));
        // Drained: the incident ends.
        assert!(!m.should_mark(t0 + MS * 120, 10));
        // A new incident soon after: its first mark waits for a base interval after the last
        // mark (at most one first mark per base interval)...
        assert!(!m.should_mark(t0 + MS * 150, 5000));
        assert!(m.should_mark(t0 + MS * 200, 5000));
        // ... and the schedule restarts at the base interval.
        assert!(!m.should_mark(t0 + MS * 299, 5000));
        assert!(m.should_mark(t0 + MS * 300, 5000));
    }

    #[test]
    fn disabled_marks_nothing() {
        let mut m = marker(1000);
        m.set_settings(CongestionMarking {
            enabled: false,
            ..m.settings()
        });
        let t0 = Instant::now();
        assert!(!m.should_mark(t0, u64::MAX));
    }
}

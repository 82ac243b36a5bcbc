//! Giving freed heap pages back to the system after a burst.
//!
//! glibc's allocator keeps memory that was freed inside its arenas: after a flood the daemon
//! holds its peak in RSS although almost none of it is in use (measured with `malloc_stats`:
//! 1.6 MB in use, 19 MB free but resident in the worker threads' arenas). glibc returns the top
//! of the main heap by itself, never the free pages in the middle of a heap or in another
//! thread's arena; `malloc_trim(0)` does (it `madvise`s them away).
//!
//! So a background task samples `mallinfo2` every [`SAMPLE_EVERY`] and, when the memory in use
//! has fallen well below its peak since the last trim (the burst is over) and the allocator
//! holds enough free memory to matter, trims once. Under steady load nothing happens: in-use
//! memory stays near its peak, and trimming would only make the next allocations fault pages in
//! again. Both calls run on the blocking pool: they take the arenas' locks and walk their free
//! lists (milliseconds at worst), never on a forwarding thread.
//!
//! And at start, [`fix_mmap_threshold`] keeps large blocks out of the arenas altogether.
//!
//! This is the only `unsafe` in the daemon (three foreign calls without arguments that point
//! anywhere); every library crate forbids it outright. The one other in the workspace is the
//! benchmark `benches/src/bin/cs_memory.rs`: a global allocator that counts and hands every
//! call to the system's.

use std::time::Duration;

/// How often the allocator's statistics are sampled.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// A burst is over when in-use memory fell at least this far below its peak since the last
/// trim; and a trim is worth its walk of the arenas only when at least this much is held free.
const WORTH_TRIMMING: u64 = 8 << 20;

/// After a trim, in-use memory must fall this much further before the next: freeing goes on
/// for a while after a burst (expiring entries, then the flood's faces closing at their idle
/// timeout), and what it frees later is given back too. Measured by what the program freed,
/// not by what the allocator holds free: a trim leaves freed bytes counted as free (it only
/// releases their pages), so the held-free figure says nothing about what is new. Any growth
/// ends the quiet period, so a steady load is never trimmed over and over.
const FREED_SINCE_TRIM: u64 = 512 << 10;

/// One sample of the allocator: bytes in use by the program, bytes held free by the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeapSample {
    pub(crate) in_use: u64,
    pub(crate) held_free: u64,
}

/// Decides when to trim, from successive samples (sans-IO: tested without an allocator).
#[derive(Debug, Default)]
pub(crate) struct TrimPolicy {
    peak_in_use: u64,
    last_in_use: u64,
    /// In use at the last trim of the current quiet period, if one happened.
    after_trim: Option<u64>,
}

impl TrimPolicy {
    /// Takes a sample; true when the allocator should be trimmed now.
    pub(crate) fn should_trim(&mut self, s: HeapSample) -> bool {
        let growing = s.in_use > self.last_in_use;
        self.last_in_use = s.in_use;
        self.peak_in_use = self.peak_in_use.max(s.in_use);
        let fell = self.peak_in_use.saturating_sub(s.in_use);
        let trim = match self.after_trim {
            // The burst ends: in use fell well below its peak and much is held free.
            None => fell >= WORTH_TRIMMING && s.held_free >= WORTH_TRIMMING,
            // Still falling after a trim: what was freed since goes back too.
            Some(in_use_then) => {
                !growing && in_use_then.saturating_sub(s.in_use) >= FREED_SINCE_TRIM
            }
        };
        if growing && fell < WORTH_TRIMMING {
            // A new burst (or steady load): the next trim waits for its end.
            self.after_trim = None;
        }
        if trim {
            // Start a new peak from here; the next trim needs memory freed since.
            self.peak_in_use = s.in_use;
            self.after_trim = Some(s.in_use);
        }
        trim
    }
}

/// Runs the trimming loop until the runtime stops. A no-op where the allocator is not glibc's.
pub(crate) async fn give_back_after_bursts() {
    if sample().is_none() {
        return;
    }
    let mut policy = TrimPolicy::default();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(Some(s)) = tokio::task::spawn_blocking(sample).await else {
            return;
        };
        if policy.should_trim(s) {
            let released = tokio::task::spawn_blocking(trim).await.unwrap_or(false);
            let after = tokio::task::spawn_blocking(sample).await.ok().flatten();
            tracing::debug!(
                in_use = s.in_use,
                held_free_before = s.held_free,
                held_free_after = after.map(|a| a.held_free),
                released,
                "gave freed heap pages back to the system"
            );
        }
    }
}

/// Fixes glibc's mmap threshold at its initial 128 KiB, before anything is allocated.
///
/// glibc raises the threshold each time a large mmap'd block is freed (up to 32 MiB), after
/// which large blocks — a PIT or dead nonce list table grown by a flood, then shrunk — come
/// from the arenas instead, in the middle of a heap among small live allocations, and stay
/// resident once freed (measured: 6.7 MiB over the baseline after `nfwd bench --flood`, with
/// `malloc_trim` run; 2.2 MiB with the threshold fixed). Fixed, every block of 128 KiB or more
/// is mmap'd and returned to the system when freed. The packet path allocates nothing that
/// large (receive blocks are 16–64 KiB), so it pays no system call for this.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn fix_mmap_threshold() {
    // SAFETY: mallopt takes two integers and only changes the allocator's own parameters;
    // called first thing in main, before any other thread exists.
    let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn fix_mmap_threshold() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn sample() -> Option<HeapSample> {
    // SAFETY: mallinfo2 takes no arguments and returns a struct by value; it only reads the
    // allocator's own state under its locks (glibc >= 2.33, as on every supported system).
    let m = unsafe { libc::mallinfo2() };
    Some(HeapSample {
        // uordblks: allocated from the arenas; hblkhd: allocated by mmap (returned at free).
        in_use: (m.uordblks as u64).saturating_add(m.hblkhd as u64),
        held_free: m.fordblks as u64,
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() -> bool {
    // SAFETY: malloc_trim takes a padding size and only releases free pages of the allocator's
    // own arenas; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) != 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn sample() -> Option<HeapSample> {
    None
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn s(in_use: u64, held_free: u64) -> HeapSample {
        HeapSample {
            in_use: in_use * MIB,
            held_free: held_free * MIB,
        }
    }

    #[test]
    fn trims_after_a_burst_then_what_is_freed_later_and_never_under_steady_load() {
        let mut p = TrimPolicy::default();
        // Steady load: in use near its peak, however much is free.
        assert!(!p.should_trim(s(10, 2)));
        assert!(!p.should_trim(s(100, 30)));
        assert!(!p.should_trim(s(95, 35)));
        assert!(!p.should_trim(s(98, 31)));
        // The burst ends: in use fell 88 MiB, 90 MiB held free.
        assert!(p.should_trim(s(10, 90)));
        // Trimmed: the same state does not trim again (the freed bytes still count as free).
        assert!(!p.should_trim(s(10, 90)));
        assert!(!p.should_trim(s(10, 90)));
        // Frees that follow (entries expiring, faces closing) go back once they add up.
        assert!(p.should_trim(s(9, 91)));
        assert!(!p.should_trim(s(9, 91)));
        assert!(!p.should_trim(s(9, 91)));
        // Growth ends the quiet period: a fall within a wobble is not trimmed.
        assert!(!p.should_trim(s(10, 90)));
        assert!(!p.should_trim(s(8, 92)));
        // A second burst: nothing while it grows, a trim at its end.
        assert!(!p.should_trim(s(60, 5)));
        assert!(!p.should_trim(s(61, 9)));
        assert!(p.should_trim(s(12, 50)));
    }

    #[test]
    fn a_steady_load_with_free_memory_wobbling_is_not_trimmed_again_and_again() {
        let mut p = TrimPolicy::default();
        assert!(!p.should_trim(s(50, 1)));
        // Steady: in use goes up and down a little, free memory too.
        for k in 0..100u64 {
            let in_use = 48 + (k % 3);
            assert!(!p.should_trim(s(in_use, 6 + (k % 4))), "sample {k}");
        }
    }

    #[test]
    fn small_falls_or_little_free_memory_are_not_worth_a_trim() {
        let mut p = TrimPolicy::default();
        assert!(!p.should_trim(s(20, 0)));
        // Fell 5 MiB only.
        assert!(!p.should_trim(s(15, 40)));
        // Fell 12 MiB but the allocator holds only 3 MiB free (it gave the rest back itself).
        assert!(!p.should_trim(s(8, 3)));
    }

    #[test]
    fn the_allocator_can_be_sampled_and_trimmed_here() {
        // On glibc (every Linux this project supports) both calls work; elsewhere a no-op.
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            let before = sample().expect("glibc's mallinfo2");
            let big: Vec<Vec<u8>> = (0..64).map(|_| vec![1u8; 256 * 1024]).collect();
            let during = sample().expect("glibc's mallinfo2");
            assert!(
                during.in_use >= before.in_use + 8 * MIB,
                "{before:?} {during:?}"
            );
            drop(big);
            let _ = trim();
            let after = sample().expect("glibc's mallinfo2");
            assert!(after.in_use < during.in_use, "{during:?} {after:?}");
        } else {
            assert!(sample().is_none());
        }
    }
}

//! What the deploys in progress are doing now, one line per SF: the host's `progress` dataset
//! serves it, so that `nfwd sf deploy` can say "building its image: step 3/4" instead of
//! only how long it has waited.
//!
//! Bounded: an entry lives while its deploy runs (deploys are bounded by the host's SF limit)
//! and its text is cut to [`MAX_PHASE`] bytes, whatever a build's output says.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// Longest phase text kept, bytes.
pub const MAX_PHASE: usize = 160;

/// One deploy's current phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// What it does now (`building its image: step 2/4, COPY nfwd /nfwd`).
    pub phase: String,
    /// When the deploy started, ms since the Unix epoch.
    pub started_ms: u64,
}

/// Shared by the host and its backends; cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<BTreeMap<String, Phase>>>);

impl Progress {
    /// Sets `sf`'s phase (the deploy started now if it was not in progress).
    pub fn set(&self, sf: &str, phase: &str) {
        let mut phase = phase.trim().replace(['\n', '\r'], " ");
        if phase.len() > MAX_PHASE {
            let mut end = MAX_PHASE;
            while !phase.is_char_boundary(end) {
                end -= 1;
            }
            phase.truncate(end);
            phase.push('…');
        }
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(sf) {
            Some(p) => p.phase = phase,
            None => {
                map.insert(
                    sf.to_owned(),
                    Phase {
                        phase,
                        started_ms: now_ms(),
                    },
                );
            }
        }
    }

    /// `sf`'s deploy ended (done or failed).
    pub fn clear(&self, sf: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(sf);
    }

    /// Every deploy in progress, by SF name.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<String, Phase> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Clears `sf`'s entry when the returned guard drops (however the deploy ends).
    #[must_use]
    pub fn guard(&self, sf: &str) -> Guard {
        Guard {
            progress: self.clone(),
            sf: sf.to_owned(),
        }
    }
}

/// See [`Progress::guard`].
#[derive(Debug)]
pub struct Guard {
    progress: Progress,
    sf: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.progress.clear(&self.sf);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The phase a line of a classic Docker build's output starts, if it starts one:
/// `Step 2/4 : COPY nfwd /nfwd` → `building its image: step 2/4, COPY nfwd /nfwd`.
#[must_use]
pub fn build_step(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("Step ")?;
    let (counts, instruction) = rest.split_once(" : ")?;
    let (k, n) = counts.split_once('/')?;
    let (k, n): (u32, u32) = (k.parse().ok()?, n.parse().ok()?);
    Some(format!(
        "building its image: step {k}/{n}, {}",
        instruction.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_steps_are_read_from_the_output() {
        assert_eq!(
            build_step("Step 2/4 : COPY nfwd /nfwd\n").as_deref(),
            Some("building its image: step 2/4, COPY nfwd /nfwd")
        );
        for other in [
            " ---> 3b1f",
            "Successfully built 3b1f",
            "Step x/4 : A",
            "Step 2/4 A",
        ] {
            assert_eq!(build_step(other), None, "{other}");
        }
    }

    #[test]
    fn phases_are_bounded_and_cleared_by_the_guard() {
        let p = Progress::default();
        {
            let _g = p.guard("/sf/a");
            p.set("/sf/a", "starting");
            let started = p.snapshot()["/sf/a"].started_ms;
            p.set("/sf/a", &"é".repeat(200));
            let s = p.snapshot();
            assert_eq!(s["/sf/a"].started_ms, started, "the start is kept");
            assert!(s["/sf/a"].phase.len() <= MAX_PHASE + '…'.len_utf8());
            assert!(s["/sf/a"].phase.ends_with('…'));
            p.set("/sf/a", "line\nbreak");
            assert_eq!(p.snapshot()["/sf/a"].phase, "line break");
        }
        assert!(p.snapshot().is_empty());
    }
}

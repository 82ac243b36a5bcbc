//! random (NFD's random v1): each Interest, new or retransmitted, goes to one eligible next
//! hop chosen uniformly at random. Like NFD's, it suppresses no retransmission (a consumer's
//! retransmission is a new draw); a Nack or a lost upstream moves the Interest to an untried
//! next hop, as best-route does here. It takes no parameters.
//!
//! The randomness is a xorshift64* generator per instance, seeded once when the instance is
//! made (from the OS through `rand`, by the registry; by the test, for deterministic tests):
//! next hops need spreading, not secrecy, and the core draws nothing per Interest from the
//! OS.

use nfwd_tlv::Name;

use super::{Context, Decision, RetxSuppression, Strategy};

/// NFD's random strategy.
#[derive(Debug)]
pub struct Random {
    name: Name,
    state: u64,
}

impl Random {
    /// An instance listed as `name`, drawing from `seed`.
    #[must_use]
    pub fn new(name: Name, seed: u64) -> Self {
        // xorshift has one fixed point, 0.
        Self {
            name,
            state: seed | 1,
        }
    }

    /// A number below `n` (> 0).
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        // Multiply-shift maps the 32 random bits onto 0..n without a division.
        usize::try_from((r * n as u64) >> 32).unwrap_or(0)
    }
}

impl Strategy for Random {
    fn name(&self) -> Name {
        self.name.clone()
    }

    fn reseed(&mut self, seed: u64) {
        // xorshift has one fixed point, 0.
        self.state = seed | 1;
    }

    fn after_receive_interest(&mut self, ctx: &Context<'_>, _retx: bool, decision: &mut Decision) {
        if ctx.hops.is_empty() {
            return;
        }
        let i = self.below(ctx.hops.len());
        decision.targets.extend(ctx.hops.get(i).map(|h| h.face));
    }

    fn suppression(&self) -> RetxSuppression {
        RetxSuppression::NONE
    }
}

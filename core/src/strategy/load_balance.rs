//! load-balance: like best-route, except that a new Interest goes to the cheapest next hops
//! in turn (round-robin among those of equal, lowest cost). It spreads requests over several
//! instances of one SF. The only state is one turn counter per instance (per strategy choice,
//! not per FIB or PIT entry), so it costs nothing where it is not chosen.

use nfwd_tlv::Name;

use super::{Context, Decision, Strategy, retry_pick, versioned_name};

/// Round-robin over the cheapest next hops.
#[derive(Debug)]
pub struct LoadBalance {
    name: Name,
    /// Position of the round-robin (wrapping).
    turn: u64,
}

impl LoadBalance {
    /// A boxed instance.
    #[must_use]
    pub fn boxed() -> Box<dyn Strategy> {
        Self::boxed_named(versioned_name("load-balance"))
    }

    /// A boxed instance listed as `name`.
    #[must_use]
    pub fn boxed_named(name: Name) -> Box<dyn Strategy> {
        Box::new(Self { name, turn: 0 })
    }
}

impl Strategy for LoadBalance {
    fn name(&self) -> Name {
        self.name.clone()
    }

    fn after_receive_interest(
        &mut self,
        ctx: &Context<'_>,
        retransmission: bool,
        decision: &mut Decision,
    ) {
        if retransmission {
            decision.targets.extend(retry_pick(ctx));
            return;
        }
        // Hops are sorted by cost: the ties of the lowest cost are a prefix of the slice. A
        // costlier one is used only when no cheaper one is eligible.
        let Some(cheapest) = ctx.hops.first().map(|h| h.cost) else {
            return;
        };
        let ties = ctx.hops.iter().take_while(|h| h.cost == cheapest).count();
        let i = usize::try_from(self.turn % ties as u64).unwrap_or(0);
        self.turn = self.turn.wrapping_add(1);
        decision.targets.extend(ctx.hops.get(i).map(|h| h.face));
    }
}

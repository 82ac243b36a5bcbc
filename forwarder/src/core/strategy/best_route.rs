//! best-route (NFD's best-route v5): a new Interest goes to the cheapest eligible next hop; a
//! consumer retransmission outside the suppression interval goes to the cheapest next hop not
//! tried yet (else the one tried longest ago); a Nack, or an upstream that closes or goes
//! down, moves the Interest on to an untried next hop; when none is left the downstreams get
//! a Nack (NoRoute if nothing could be tried at all).

use nfwd_tlv::Name;

use super::{Context, Decision, Strategy, retry_pick, versioned_name};

/// NFD's best-route.
#[derive(Debug, Default)]
pub struct BestRoute;

impl BestRoute {
    /// A boxed instance.
    #[must_use]
    pub fn boxed() -> Box<dyn Strategy> {
        Box::new(Self)
    }
}

impl Strategy for BestRoute {
    fn name(&self) -> Name {
        versioned_name("best-route")
    }

    fn after_receive_interest(
        &mut self,
        ctx: &Context<'_>,
        retransmission: bool,
        decision: &mut Decision,
    ) {
        let pick = if retransmission {
            retry_pick(ctx)
        } else {
            ctx.hops.first().map(|h| h.face)
        };
        decision.targets.extend(pick);
    }
}

//! best-route (NFD's best-route v5): a new Interest goes to the cheapest eligible next hop; a
//! consumer retransmission outside the suppression interval goes to the cheapest next hop not
//! tried yet (else the one tried longest ago); a Nack, or an upstream that closes or goes
//! down, moves the Interest on to an untried next hop; when none is left the downstreams get
//! a Nack (NoRoute if nothing could be tried at all). Takes NFD's retransmission suppression
//! parameters ([`RetxSuppression::from_parameters`]).

use nfwd_tlv::Name;

use super::{Context, Decision, Parameters, RetxSuppression, Strategy, retry_pick, versioned_name};

/// NFD's best-route.
#[derive(Debug)]
pub struct BestRoute {
    name: Name,
    suppression: RetxSuppression,
}

impl BestRoute {
    /// A boxed instance with NFD's defaults.
    #[must_use]
    pub fn boxed() -> Box<dyn Strategy> {
        Box::new(Self {
            name: versioned_name("best-route"),
            suppression: RetxSuppression::default(),
        })
    }

    /// An instance named `name` with parameters `p` (the registry's constructor).
    ///
    /// # Errors
    /// Suppression parameters NFD refuses.
    pub fn create(name: Name, p: &Parameters) -> Result<Box<dyn Strategy>, String> {
        Ok(Box::new(Self {
            name,
            suppression: RetxSuppression::from_parameters(p)?,
        }))
    }
}

impl Strategy for BestRoute {
    fn name(&self) -> Name {
        self.name.clone()
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

    fn suppression(&self) -> RetxSuppression {
        self.suppression
    }
}

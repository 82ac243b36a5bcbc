//! multicast (NFD's multicast v5): every eligible next hop, new Interest or retransmission
//! (after suppression). A Nack moves nothing; the downstreams get one once every upstream
//! has refused or gone. Takes NFD's retransmission suppression parameters; NFD keeps the
//! suppression interval per upstream, we keep it per PIT entry (every upstream of a
//! multicast entry is sent to at the same time, so the two agree unless next hops change
//! while the entry is pending).

use nfwd_tlv::Name;
use nfwd_tlv::lp::NackReason;

use super::{Context, Decision, Parameters, RetxSuppression, Strategy, versioned_name};
use crate::face::FaceId;

/// NFD's multicast.
#[derive(Debug)]
pub struct Multicast {
    name: Name,
    suppression: RetxSuppression,
}

impl Multicast {
    /// A boxed instance with NFD's defaults.
    #[must_use]
    pub fn boxed() -> Box<dyn Strategy> {
        Box::new(Self {
            name: versioned_name("multicast"),
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

impl Strategy for Multicast {
    fn name(&self) -> Name {
        self.name.clone()
    }

    fn after_receive_interest(&mut self, ctx: &Context<'_>, _retx: bool, decision: &mut Decision) {
        decision.targets.extend(ctx.hops.iter().map(|h| h.face));
    }

    fn after_receive_nack(
        &mut self,
        _ctx: &Context<'_>,
        _face: FaceId,
        _reason: NackReason,
    ) -> Option<FaceId> {
        // Every next hop was asked already.
        None
    }

    fn upstream_lost(&mut self, _ctx: &Context<'_>, _face: FaceId) -> Option<FaceId> {
        None
    }

    fn suppression(&self) -> RetxSuppression {
        self.suppression
    }
}

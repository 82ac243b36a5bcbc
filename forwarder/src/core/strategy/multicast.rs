//! multicast (NFD's multicast v4): every eligible next hop, new Interest or retransmission
//! (after suppression). A Nack moves nothing; the downstreams get one once every upstream
//! has refused or gone.

use nfwd_tlv::Name;
use nfwd_tlv::lp::NackReason;

use super::{Context, Decision, Strategy, versioned_name};
use crate::core::face::FaceId;

/// NFD's multicast.
#[derive(Debug, Default)]
pub struct Multicast;

impl Multicast {
    /// A boxed instance.
    #[must_use]
    pub fn boxed() -> Box<dyn Strategy> {
        Box::new(Self)
    }
}

impl Strategy for Multicast {
    fn name(&self) -> Name {
        versioned_name("multicast")
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
}

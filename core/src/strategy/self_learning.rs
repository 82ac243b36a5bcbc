//! self-learning (NFD's self-learning v1): find a path by broadcasting, then follow it.
//!
//! The forwarding decision, as NFD's `SelfLearningStrategy::afterReceiveInterest`:
//! - a **discovery** Interest (no NonDiscovery) with no route is broadcast to every face
//!   that may take it and is not local, except the one it came from (the pipeline knows the
//!   faces: [`Decision::broadcast`]);
//! - a discovery Interest with routes goes to every next hop, marked NonDiscovery;
//! - a **non-discovery** Interest goes to every next hop, still NonDiscovery; with none the
//!   pipeline answers Nack NoRoute (NFD's "non-discovery no-nexthop").
//!
//! What happens to the Data and Nacks of those Interests — a prefix announcement attached on
//! the producer's side, a route learned from it on the consumer's, a learned route withdrawn
//! on Nack NoRoute — needs the RIB, so it lives in `core/self_learning.rs`; this instance only
//! says it takes part ([`Strategy::self_learning`]).
//!
//! Like NFD's, it neither suppresses retransmissions nor retries elsewhere after a Nack.
//! "Routes" here are the eligible next hops: a FIB entry whose only next hop is the face the
//! Interest came from counts as none (NFD would send nothing and let the Interest time out).

use nfwd_tlv::Name;
use nfwd_tlv::lp::NackReason;

use super::{Context, Decision, RetxSuppression, Strategy};
use crate::face::FaceId;

/// NFD's self-learning.
#[derive(Debug)]
pub struct SelfLearning {
    name: Name,
}

impl SelfLearning {
    /// An instance named `name` (the registry's constructor; NFD's takes no parameters).
    #[must_use]
    pub fn new(name: Name) -> Self {
        Self { name }
    }
}

impl Strategy for SelfLearning {
    fn name(&self) -> Name {
        self.name.clone()
    }

    fn after_receive_interest(&mut self, ctx: &Context<'_>, _retx: bool, decision: &mut Decision) {
        if ctx.hops.is_empty() && !ctx.non_discovery {
            decision.broadcast = true;
            return;
        }
        decision.targets.extend(ctx.hops.iter().map(|h| h.face));
        decision.non_discovery = true;
    }

    fn after_receive_nack(
        &mut self,
        _ctx: &Context<'_>,
        _face: FaceId,
        _reason: NackReason,
    ) -> Option<FaceId> {
        // NFD's tries nothing else; NoRoute withdraws the learned route (core).
        None
    }

    fn upstream_lost(&mut self, _ctx: &Context<'_>, _face: FaceId) -> Option<FaceId> {
        None
    }

    fn suppression(&self) -> RetxSuppression {
        RetxSuppression::NONE
    }

    fn self_learning(&self) -> bool {
        true
    }
}

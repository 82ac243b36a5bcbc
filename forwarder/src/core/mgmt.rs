//! NFD management (being written): `/localhost/nfd/...` commands and datasets.

use std::time::Instant;

use nfwd_tlv::{Interest, Name};

use super::{Action, FaceId, FaceInfo, Forwarder};

/// State management keeps between commands.
#[derive(Debug, Default)]
pub(super) struct MgmtState {}

impl Forwarder {
    pub(super) fn is_management(&self, name: &Name) -> bool {
        name.len() >= 2
            && name.get(0).is_some_and(|c| c.value() == b"localhost")
            && name.get(1).is_some_and(|c| c.value() == b"nfd")
    }

    pub(super) fn handle_management(
        &mut self,
        _now: Instant,
        _face: FaceId,
        _interest: &Interest,
        _out: &mut Vec<Action>,
    ) {
        let _ = &self.mgmt;
    }

    pub(super) fn mgmt_face_created(
        &mut self,
        _now: Instant,
        _request: u64,
        _result: Result<FaceInfo, String>,
        _out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        None
    }
}

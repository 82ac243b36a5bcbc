//! The sans-IO forwarding core.
//!
//! [`Forwarder`] owns every table and runs NFD's pipelines plus the chaining rules of
//! `docs/protocol.md`. The driver feeds it events — a frame arrived on a face at time `now`, a
//! timer is due, a face came or went — and carries out the [`Action`]s it returns. It never
//! reads a clock, touches a socket or spawns a task, so tests drive it step by step.

pub mod action;
pub mod face;

pub use action::Action;
pub use face::{FaceCounters, FaceId, FaceInfo, FaceScope, LinkType, Persistency};

use std::time::Instant;

use bytes::Bytes;

use crate::config::Config;

/// The forwarding core.
#[derive(Debug)]
pub struct Forwarder {
    inner: pipeline::State,
}

mod pipeline {
    //! Placeholder while the pipelines are written.
    #[derive(Debug)]
    pub(super) struct State;
}

impl Forwarder {
    /// A forwarder with `config`'s table bounds, chain limit, routes-to-be and strategies.
    #[must_use]
    pub fn new(_config: &Config, _now: Instant) -> Self {
        Self {
            inner: pipeline::State,
        }
    }

    /// Registers a face the driver opened; returns its id (never reused).
    pub fn add_face(&mut self, _info: FaceInfo, _now: Instant) -> FaceId {
        let _ = &self.inner;
        FaceId(FaceId::FIRST_DYNAMIC)
    }

    /// The driver reports that `face` is gone: its routes and PIT records are removed.
    pub fn face_closed(&mut self, _face: FaceId, _now: Instant) {}

    /// A link frame arrived on `face`.
    pub fn receive(&mut self, _now: Instant, _face: FaceId, _frame: Bytes, _out: &mut Vec<Action>) {
    }

    /// Outcome of an [`Action::CreateFace`]: the new face's info, or why it failed. Sends the
    /// management reply; returns the new face's id on success.
    pub fn face_created(
        &mut self,
        _now: Instant,
        _request: u64,
        _result: Result<FaceInfo, String>,
        _out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        None
    }

    /// When [`Forwarder::on_timeout`] should next be called.
    #[must_use]
    pub fn next_timeout(&self) -> Option<Instant> {
        None
    }

    /// Runs the timers due at `now` (PIT expiry, retransmission, idle faces, reassembly).
    pub fn on_timeout(&mut self, _now: Instant, _out: &mut Vec<Action>) {}
}

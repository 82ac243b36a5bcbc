//! Holding clients until the daemon's in-process services serve ([`Daemon::start_held`]).
//!
//! `nfwd start --sf-host` runs the SF host as a client of its own forwarder: it connects to
//! the Unix socket and registers `/localhost/nfwd/sf`. Until it has, a command for it would
//! be answered with Nack NoRoute, although the socket already accepts. As NFD does with its
//! own managers, the daemon should serve everything it was started with from the first
//! client on. So, while held:
//! - the Unix listeners accept connections from this process (its own services) as usual,
//!   and accept the others without reading them, up to [`MAX_HELD`]; past that they are
//!   closed at once, so that no local user can fill the backlog in front of the daemon's own
//!   services;
//! - TCP waits in the backlog.
//!
//! Opening releases the held connections in the order they came, then serves as usual.
//! Dropping every [`Opener`] opens too, so no error path leaves the daemon deaf. Restricted
//! channels (SF instances) and datagram faces are never held.
//!
//! [`Daemon::start_held`]: super::Daemon::start_held

use std::sync::Arc;

use tokio::sync::watch;

/// Connections held per Unix listener while closed; more are closed at once.
pub(super) const MAX_HELD: usize = 1024;

/// Opens the gate of a daemon started with [`super::Daemon::start_held`]. Clones open the
/// same gate; the last one dropped opens it.
#[derive(Debug, Clone)]
pub struct Opener(Arc<OpenOnDrop>);

#[derive(Debug)]
struct OpenOnDrop(watch::Sender<bool>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl Opener {
    /// Lets every held client in (idempotent).
    pub fn open(&self) {
        self.0.0.send_replace(true);
    }

    /// Whether it has been opened.
    #[must_use]
    pub fn is_open(&self) -> bool {
        *self.0.0.borrow()
    }
}

/// A listener's view of the gate.
#[derive(Debug, Clone)]
pub(super) struct Gate {
    open: watch::Receiver<bool>,
    /// Connections from this process id pass while closed.
    own_pid: u32,
    /// Connections of other processes held at most ([`MAX_HELD`]; less in tests).
    pub(super) max_held: usize,
}

impl Gate {
    /// A closed gate letting this process through, and its opener.
    pub(super) fn closed() -> (Self, Opener) {
        Self::closed_passing(std::process::id())
    }

    /// A closed gate letting `own_pid` through (tests pick another process id).
    pub(super) fn closed_passing(own_pid: u32) -> (Self, Opener) {
        let (tx, rx) = watch::channel(false);
        let gate = Self {
            open: rx,
            own_pid,
            max_held: MAX_HELD,
        };
        (gate, Opener(Arc::new(OpenOnDrop(tx))))
    }

    pub(super) fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// Whether a connection from `pid` passes while closed.
    pub(super) fn passes(&self, pid: Option<u32>) -> bool {
        pid == Some(self.own_pid)
    }

    /// Resolves once open.
    pub(super) async fn opened(&mut self) {
        // An error means the sender is gone, which sent `true` as it went.
        let _ = self.open.wait_for(|open| *open).await;
    }
}

//! The producer side: Interests arriving for a registered prefix and how to answer them.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use nfwd_tlv::lp::{LpPacket, NackReason, PitToken};
use nfwd_tlv::{Data, DataBuilder, Interest, Name, Signer};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::Shared;
use crate::error::{Error, Result};

/// How a handler answers an Interest.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per Interest and consumed at once; boxing would add an allocation per Data"
)]
pub enum Reply {
    /// Send this Data.
    Data(Data),
    /// Reject the Interest with a Nack.
    Nack(NackReason),
    /// Send nothing (the Interest times out downstream).
    None,
}

impl Reply {
    /// Signs `builder` with `signer` and answers with the result.
    pub fn signed(builder: &DataBuilder, signer: &Signer) -> Result<Self> {
        Ok(Self::Data(builder.build(signer)?))
    }
}

/// A Data answering `interest` with `content`: named like the Interest and carrying its
/// function chain, so that it satisfies the Interest as received (a plain producer's usual
/// answer; an SF pushes its own function name instead, see `docs/protocol.md` §5).
pub fn answer_data(
    interest: &Interest,
    content: impl Into<Bytes>,
    freshness_ms: Option<u64>,
    signer: &Signer,
) -> Result<Data> {
    let mut b = DataBuilder::new(interest.name().clone(), content)
        .function_chain(interest.function_chain().cloned());
    if let Some(f) = freshness_ms {
        b = b.freshness_ms(f);
    }
    Ok(b.build(signer)?)
}

/// An Interest received from the forwarder, with what is needed to answer it.
#[derive(Debug)]
pub struct IncomingInterest {
    interest: Interest,
    pit_token: Option<PitToken>,
    popped_function: Option<Name>,
    tx: mpsc::Sender<Bytes>,
}

impl IncomingInterest {
    pub(crate) fn new(interest: Interest, lp: &LpPacket, tx: mpsc::Sender<Bytes>) -> Self {
        Self {
            interest,
            pit_token: lp.pit_token,
            popped_function: lp.popped_function.clone(),
            tx,
        }
    }

    /// The function name the forwarder popped before handing this Interest over, parameters
    /// included (`/sf/thumbnail/size=64` for an SF registered as `/sf/thumbnail`); `None`
    /// from a forwarder that does not say (`docs/protocol.md` §4 rule 5).
    #[must_use]
    pub fn popped_function(&self) -> Option<&Name> {
        self.popped_function.as_ref()
    }

    /// The Interest (its [`Interest::function_chain`] is the stack still to apply, if any).
    #[must_use]
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// The PIT token the forwarder attached, echoed on the answer.
    #[must_use]
    pub fn pit_token(&self) -> Option<&PitToken> {
        self.pit_token.as_ref()
    }

    /// Sends the answer (nothing for [`Reply::None`]). A Nack carries the Interest it rejects;
    /// a PIT token from the forwarder is echoed in an LpPacket, otherwise the packet goes bare.
    pub async fn reply(self, reply: Reply) -> Result<()> {
        let packet = match reply {
            Reply::Data(d) => LpPacket::from_fragment(d.wire().clone()),
            Reply::Nack(reason) => LpPacket::nack(reason, self.interest.wire().clone()),
            Reply::None => return Ok(()),
        };
        let packet = match self.pit_token {
            Some(t) => packet.with_pit_token(t),
            None => packet,
        };
        self.tx
            .send(packet.encode_or_bare())
            .await
            .map_err(|_| Error::Closed)
    }
}

/// The Interests arriving for one listened prefix. Dropping it stops delivery (the route
/// stays until [`super::Client::unregister`] or the connection closes).
#[derive(Debug)]
pub struct Incoming {
    prefix: Name,
    id: u64,
    rx: mpsc::Receiver<IncomingInterest>,
    shared: Weak<Shared>,
}

impl Incoming {
    pub(crate) fn new(
        prefix: Name,
        id: u64,
        rx: mpsc::Receiver<IncomingInterest>,
        shared: Weak<Shared>,
    ) -> Self {
        Self {
            prefix,
            id,
            rx,
            shared,
        }
    }

    /// A stream that has ended already.
    pub(crate) fn closed(prefix: Name) -> Self {
        let (_, rx) = mpsc::channel(1);
        Self {
            prefix,
            id: u64::MAX,
            rx,
            shared: Weak::new(),
        }
    }

    /// The prefix listened to.
    #[must_use]
    pub fn prefix(&self) -> &Name {
        &self.prefix
    }

    /// The next Interest; `None` once the connection has closed.
    pub async fn next(&mut self) -> Option<IncomingInterest> {
        self.rx.recv().await
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(s) = self.shared.upgrade() {
            s.remove_listener(self.id);
        }
    }
}

/// A running [`super::Client::serve`]: serving stops when it is dropped.
#[derive(Debug)]
pub struct ServeHandle {
    prefix: Name,
    task: JoinHandle<()>,
}

impl ServeHandle {
    pub(crate) fn spawn<F, Fut>(mut incoming: Incoming, handler: F, max_handlers: usize) -> Self
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let prefix = incoming.prefix().clone();
        let handler = Arc::new(handler);
        // Bounds concurrent handlers; while all are busy the listener queue fills and further
        // Interests are dropped rather than piling up.
        let permits = Arc::new(Semaphore::new(max_handlers.max(1)));
        let task = tokio::spawn(async move {
            while let Some(inc) = incoming.next().await {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let reply = handler(inc.interest().clone()).await;
                    if let Err(e) = inc.reply(reply).await {
                        tracing::debug!("serve: reply not sent: {e}");
                    }
                    drop(permit);
                });
            }
        });
        Self { prefix, task }
    }

    /// The served prefix.
    #[must_use]
    pub fn prefix(&self) -> &Name {
        &self.prefix
    }

    /// Waits until serving ends on its own, i.e. the connection to the forwarder closed.
    pub async fn closed(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! Segmented fetch, as ndncatchunks does it: discover the first segment with a CanBePrefix
//! Interest, then keep a fixed window of segment Interests outstanding until FinalBlockId.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::{Component, Data, FunctionChain, InterestBuilder, Name};
use tokio::task::{AbortHandle, JoinSet};

use super::Client;
use crate::error::{Error, Result};

/// How [`Client::fetch`] fetches.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// InterestLifetime of every Interest, in ms.
    pub lifetime_ms: u64,
    /// Segment Interests outstanding at once.
    pub window: usize,
    /// Retransmissions of one Interest after a timeout (or a Congestion/Duplicate Nack)
    /// before the fetch fails.
    pub max_retries: u32,
    /// MustBeFresh on the first Interest (the one that discovers the version).
    pub must_be_fresh: bool,
    /// Refuse publications with more segments than this (bounds memory against a producer
    /// announcing an absurd FinalBlockId).
    pub max_segments: u64,
    /// Where the fetch reports how far it got, for a progress display (`nfwd get` on a
    /// terminal); `None`: nobody watches.
    pub progress: Option<Arc<FetchProgress>>,
}

/// How far a segmented fetch got, updated as segments arrive (read it from another task).
#[derive(Debug, Default)]
pub struct FetchProgress {
    bytes: AtomicU64,
    segments: AtomicU64,
    /// Segments in all (FinalBlockId + 1); 0 until known.
    total_segments: AtomicU64,
}

impl FetchProgress {
    /// (content bytes received, segments received, segments in all if known).
    #[must_use]
    pub fn snapshot(&self) -> (u64, u64, Option<u64>) {
        let total = self.total_segments.load(Ordering::Relaxed);
        (
            self.bytes.load(Ordering::Relaxed),
            self.segments.load(Ordering::Relaxed),
            (total > 0).then_some(total),
        )
    }

    fn received(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.segments.fetch_add(1, Ordering::Relaxed);
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            lifetime_ms: nfwd_tlv::interest::DEFAULT_LIFETIME_MS,
            window: 16,
            max_retries: 3,
            must_be_fresh: false,
            max_segments: 65_536,
            progress: None,
        }
    }
}

/// Failures worth a retransmission: the packet or its answer was lost, or the path was busy.
fn retryable(e: &Error) -> bool {
    matches!(
        e,
        Error::Timeout | Error::Nack(NackReason::Congestion | NackReason::Duplicate)
    )
}

/// An error Data (ContentType NACK: an SF's application-level error, `docs/protocol.md` §5.3)
/// ends the fetch with [`Error::Application`] at once: retransmitting would only bring the
/// same answer.
fn application_error(data: &Data) -> Result<()> {
    if data.content_type() == nfwd_tlv::types::content_type::NACK {
        return Err(Error::Application {
            name: data.name().to_string(),
            message: String::from_utf8_lossy(data.content()).into_owned(),
        });
    }
    Ok(())
}

fn final_segment(data: &Data) -> Option<u64> {
    data.final_block_id().and_then(Component::as_segment)
}

impl Client {
    /// Expresses a fresh Interest from `builder` (new Nonce each time) until it is answered,
    /// retrying up to `retries` times on [`retryable`] failures.
    async fn express_with_retries(&self, builder: &InterestBuilder, retries: u32) -> Result<Data> {
        let mut attempt = 0;
        loop {
            match self.express(builder.build()?).await {
                Err(e) if attempt < retries && retryable(&e) => {
                    tracing::debug!("fetch: {} failed ({e}), retrying", builder.name);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Fetches a management dataset (NFD's, or a local service's): versioned and segmented
    /// when it is served. A forwarder that refuses the request (`docs/security.md`) answers
    /// with one Data named like the request whose content is a ControlResponse: that comes
    /// back as [`Error::Management`] with its code and text.
    pub async fn fetch_dataset(&self, name: &Name, opts: &FetchOptions) -> Result<Bytes> {
        let (fetched, content) = self.fetch(name, None, opts).await?;
        let published = fetched.last().and_then(|c| c.as_version()).is_some();
        if !published
            && let Ok(resp) = nfwd_tlv::nfd::ControlResponse::from_wire(&content)
            && resp.status_code != nfwd_tlv::nfd::status_code::OK
        {
            return Err(Error::Management {
                code: resp.status_code,
                text: resp.status_text.to_string(),
            });
        }
        Ok(content)
    }

    /// Fetches `name` (with `chain`, if any, on every Interest) and returns the name of what
    /// was fetched and its content.
    ///
    /// The first Interest has CanBePrefix. If the Data it brings ends in a segment component,
    /// the other segments of that name, up to FinalBlockId, are fetched with a window of
    /// `opts.window` Interests, and the returned name is the one without the segment component
    /// (e.g. `/p/v=3`); otherwise the single Data is the result and its name is returned.
    pub async fn fetch(
        &self,
        name: &Name,
        chain: Option<FunctionChain>,
        opts: &FetchOptions,
    ) -> Result<(Name, Bytes)> {
        let first_builder = InterestBuilder::new(name.clone())
            .can_be_prefix(true)
            .must_be_fresh(opts.must_be_fresh)
            .lifetime_ms(opts.lifetime_ms)
            .function_chain(chain.clone());
        let first = self
            .express_with_retries(&first_builder, opts.max_retries)
            .await?;
        application_error(&first)?;
        let Some(first_seg) = first.name().last().and_then(|c| c.as_segment()) else {
            return Ok((first.name().clone(), first.content().clone()));
        };
        let base = first.name().prefix(first.name().len() - 1);

        let mut parts: BTreeMap<u64, Bytes> = BTreeMap::new();
        parts.insert(first_seg, first.content().clone());
        let progress = opts.progress.as_deref();
        if let Some(p) = progress {
            p.received(first.content().len());
        }
        let mut last = None;
        let mut tasks: JoinSet<(u64, Result<Data>)> = JoinSet::new();
        let mut running: HashMap<u64, AbortHandle> = HashMap::new();
        let mut next = 0u64;
        let learn_last = |data: &Data,
                          last: &mut Option<u64>,
                          running: &mut HashMap<u64, AbortHandle>,
                          parts: &BTreeMap<u64, Bytes>|
         -> Result<()> {
            let Some(f) = final_segment(data) else {
                return Ok(());
            };
            if f >= opts.max_segments {
                return Err(Error::Other(format!(
                    "{base}: {} segments exceed the limit of {}",
                    f.saturating_add(1),
                    opts.max_segments
                )));
            }
            if last.is_some_and(|l| l != f) || parts.keys().next_back().is_some_and(|&k| k > f) {
                return Err(Error::Other(format!("{base}: inconsistent FinalBlockId")));
            }
            *last = Some(f);
            if let Some(p) = &opts.progress {
                p.total_segments.store(f + 1, Ordering::Relaxed);
            }
            // Interests beyond the end will never be answered: stop waiting for them.
            running.retain(|&k, h| {
                if k > f {
                    h.abort();
                }
                k <= f
            });
            Ok(())
        };
        learn_last(&first, &mut last, &mut running, &parts)?;

        loop {
            while running.len() < opts.window.max(1) && last.is_none_or(|l| next <= l) {
                if next >= opts.max_segments {
                    return Err(Error::Other(format!(
                        "{base}: more than {} segments",
                        opts.max_segments
                    )));
                }
                if !parts.contains_key(&next) {
                    let builder = InterestBuilder::new(base.append_segment(next))
                        .lifetime_ms(opts.lifetime_ms)
                        .function_chain(chain.clone());
                    let client = self.clone();
                    let retries = opts.max_retries;
                    let seg = next;
                    let h = tasks.spawn(async move {
                        (seg, client.express_with_retries(&builder, retries).await)
                    });
                    running.insert(seg, h);
                }
                next += 1;
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (seg, result) = match joined {
                Ok(v) => v,
                Err(e) if e.is_cancelled() => continue,
                Err(e) => return Err(Error::Other(format!("fetch task failed: {e}"))),
            };
            running.remove(&seg);
            if last.is_some_and(|l| seg > l) {
                continue;
            }
            let data = result?;
            application_error(&data)?;
            learn_last(&data, &mut last, &mut running, &parts)?;
            if let Some(p) = progress {
                p.received(data.content().len());
            }
            parts.insert(seg, data.content().clone());
        }

        // The loop ends only with nothing in flight, which happens once `last` is known and
        // every segment up to it has been asked for; check that each one arrived.
        let Some(last) = last else {
            return Err(Error::Other(format!("{base}: no FinalBlockId")));
        };
        if (0..=last).any(|k| !parts.contains_key(&k)) {
            return Err(Error::Other(format!("{base}: missing segments")));
        }
        let total = parts.values().map(Bytes::len).sum();
        let mut out = BytesMut::with_capacity(total);
        for p in parts.values() {
            out.extend_from_slice(p);
        }
        Ok((base, out.freeze()))
    }
}

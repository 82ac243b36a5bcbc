//! Publishing a payload as segmented, signed Data (what ndnputchunks does).

use std::sync::Arc;

use bytes::Bytes;
use nfwd_tlv::{Component, Data, DataBuilder, FunctionChain, Interest, Name, Signer};

use super::{Client, Reply, ServeHandle, now_ms};
use crate::error::{Error, Result};

/// How [`Publication::new`] and [`Client::publish`] cut and label a payload.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Content bytes per segment. 8000 keeps each Data under NFD's 8800-byte packet limit with
    /// room for a long name and a signature.
    pub segment_size: usize,
    /// FreshnessPeriod of every segment; `None` leaves it out (stale at once).
    pub freshness_ms: Option<u64>,
    /// The version component [`Client::publish`] adds; `None` uses the current time in ms.
    pub version: Option<u64>,
    /// The function chain every segment carries (an SF's result: `F, S`); `None` for raw
    /// content.
    pub chain: Option<FunctionChain>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            segment_size: 8000,
            freshness_ms: Some(10_000),
            version: None,
            chain: None,
        }
    }
}

/// A payload cut into Data packets `<name>/seg=0 ..= <name>/seg=N`, each signed and carrying
/// FinalBlockId `seg=N` (so a consumer learns the count from whichever segment it gets first).
#[derive(Debug)]
pub struct Publication {
    name: Name,
    chain: Option<FunctionChain>,
    segments: Vec<Data>,
}

impl Publication {
    /// Segments `content` under `name` (which should already hold the version, if any). An
    /// empty payload makes one empty segment.
    pub fn new(
        name: Name,
        content: impl Into<Bytes>,
        opts: &PublishOptions,
        signer: &Signer,
    ) -> Result<Self> {
        let content: Bytes = content.into();
        if opts.segment_size == 0 {
            return Err(Error::Other("segment size must be positive".into()));
        }
        let count = content.len().div_ceil(opts.segment_size).max(1);
        let last = Component::segment(count as u64 - 1);
        let segments = (0..count)
            .map(|i| {
                let start = i * opts.segment_size;
                let end = (start + opts.segment_size).min(content.len());
                let mut b =
                    DataBuilder::new(name.append_segment(i as u64), content.slice(start..end))
                        .function_chain(opts.chain.clone())
                        .final_block_id(last.clone());
                if let Some(f) = opts.freshness_ms {
                    b = b.freshness_ms(f);
                }
                Ok(b.build(signer)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            name,
            chain: opts.chain.clone(),
            segments,
        })
    }

    /// The name the segment numbers are appended to.
    #[must_use]
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The segments, in order.
    #[must_use]
    pub fn segments(&self) -> &[Data] {
        &self.segments
    }

    /// The segment that answers `interest`: the named segment for `<name>/seg=k`; segment 0 for
    /// a CanBePrefix Interest naming a prefix of `<name>`; nothing otherwise (including an
    /// Interest with a different function chain).
    #[must_use]
    pub fn answer(&self, interest: &Interest) -> Option<&Data> {
        if interest.function_chain() != self.chain.as_ref() {
            return None;
        }
        let iname = interest.name();
        let candidate = if iname.len() == self.name.len() + 1 && self.name.is_prefix_of(iname) {
            iname
                .last()
                .and_then(|c| c.as_segment())
                .and_then(|k| usize::try_from(k).ok())
                .and_then(|k| self.segments.get(k))
        } else if iname.is_prefix_of(&self.name) {
            self.segments.first()
        } else {
            None
        };
        candidate.filter(|d| interest.matches(d))
    }
}

impl Client {
    /// Registers `prefix` and serves `publication` under it until the handle is dropped.
    pub async fn serve_publication(
        &self,
        prefix: Name,
        publication: Arc<Publication>,
    ) -> Result<ServeHandle> {
        self.serve(prefix, move |interest| {
            let reply = publication
                .answer(&interest)
                .map_or(Reply::None, |d| Reply::Data(d.clone()));
            std::future::ready(reply)
        })
        .await
    }

    /// Publishes `content` as `<prefix>/v=<version>/seg=N` signed by `signer`, registers
    /// `prefix` and serves it (see [`Publication`]). Returns the publication (its name holds
    /// the version) and the handle that keeps it served.
    pub async fn publish(
        &self,
        prefix: Name,
        content: impl Into<Bytes>,
        opts: &PublishOptions,
        signer: &Signer,
    ) -> Result<(Arc<Publication>, ServeHandle)> {
        let version = opts.version.unwrap_or_else(now_ms);
        let publication = Arc::new(Publication::new(
            prefix.append_version(version),
            content,
            opts,
            signer,
        )?);
        let handle = self
            .serve_publication(prefix, Arc::clone(&publication))
            .await?;
        Ok((publication, handle))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use nfwd_tlv::InterestBuilder;

    use super::*;

    #[test]
    fn segments_and_answers() {
        let opts = PublishOptions {
            segment_size: 10,
            ..PublishOptions::default()
        };
        let name: Name = "/p/v=1".parse().unwrap();
        let p = Publication::new(
            name.clone(),
            Bytes::from(vec![7u8; 25]),
            &opts,
            &Signer::digest_sha256(),
        )
        .unwrap();
        assert_eq!(p.segments().len(), 3);
        for d in p.segments() {
            assert_eq!(d.final_block_id().and_then(Component::as_segment), Some(2));
        }
        assert_eq!(p.segments()[2].content().len(), 5);
        let cbp = InterestBuilder::new("/p".parse().unwrap())
            .can_be_prefix(true)
            .build()
            .unwrap();
        assert_eq!(p.answer(&cbp).unwrap().name(), &name.append_segment(0));
        let exact = InterestBuilder::new(name.append_segment(1))
            .build()
            .unwrap();
        assert_eq!(p.answer(&exact).unwrap().name(), &name.append_segment(1));
        let beyond = InterestBuilder::new(name.append_segment(3))
            .build()
            .unwrap();
        assert!(p.answer(&beyond).is_none());
        let plain_prefix = InterestBuilder::new("/p".parse().unwrap()).build().unwrap();
        assert!(p.answer(&plain_prefix).is_none());
        let chained = InterestBuilder::new(name.append_segment(1))
            .function_chain(Some("/f".parse().unwrap()))
            .build()
            .unwrap();
        assert!(p.answer(&chained).is_none());
        let empty = Publication::new(name, Bytes::new(), &opts, &Signer::digest_sha256()).unwrap();
        assert_eq!(empty.segments().len(), 1);
    }
}

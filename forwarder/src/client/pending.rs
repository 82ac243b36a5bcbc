//! The client's table of expressed Interests waiting for an answer.
//!
//! Entries are indexed by the Interest's name (without a trailing implicit digest), so a Data
//! named `D` finds its candidates by probing the prefixes of `D`, shortest to longest, and then
//! applies the full rule of [`Interest::matches`] (name and function chain). This keeps the
//! cost per Data proportional to the name length, not to the number of pending Interests.

use std::collections::HashMap;

use nfwd_tlv::lp::NackReason;
use nfwd_tlv::types::tt;
use nfwd_tlv::{Data, Interest, Name};
use smallvec::SmallVec;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// What a waiting expression receives: the Data and the NDNLPv2 CongestionMark it arrived
/// with (0: none).
pub(crate) type Answer = Result<(Data, u64)>;

#[derive(Debug)]
struct Entry {
    interest: Interest,
    key: Name,
    tx: oneshot::Sender<Answer>,
}

/// Pending Interests of one connection. Bounded: [`PendingTable::insert`] fails when full.
#[derive(Debug)]
pub(crate) struct PendingTable {
    entries: HashMap<u64, Entry>,
    by_name: HashMap<Name, SmallVec<[u64; 2]>>,
    next_id: u64,
    capacity: usize,
    closed: bool,
}

/// The index key: the Interest name, minus an implicit digest (such an Interest names the
/// Data by its name plus digest, so the Data's own name is the key).
fn key_of(interest: &Interest) -> Name {
    let name = interest.name();
    match name.last() {
        Some(c) if u32::from(c.tlv_type()) == tt::IMPLICIT_SHA256_DIGEST_COMPONENT => {
            name.prefix(name.len() - 1)
        }
        _ => name.clone(),
    }
}

impl PendingTable {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            by_name: HashMap::new(),
            next_id: 0,
            capacity,
            closed: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds an Interest; its answer goes to `tx`. Fails if the connection is closed or the
    /// table is full (the caller has too many Interests outstanding).
    pub(crate) fn insert(
        &mut self,
        interest: Interest,
        tx: oneshot::Sender<Answer>,
    ) -> Result<u64> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.entries.len() >= self.capacity {
            return Err(Error::Other(format!(
                "too many pending Interests (limit {})",
                self.capacity
            )));
        }
        let id = self.next_id;
        self.next_id += 1;
        let key = key_of(&interest);
        self.by_name.entry(key.clone()).or_default().push(id);
        self.entries.insert(id, Entry { interest, key, tx });
        Ok(id)
    }

    /// Removes an entry without answering it (timeout, cancellation). No-op if already gone.
    pub(crate) fn remove(&mut self, id: u64) {
        self.take(id);
    }

    fn take(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(ids) = self.by_name.get_mut(&entry.key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_name.remove(&entry.key);
            }
        }
        Some(entry)
    }

    /// Answers every pending Interest `data` (arrived with CongestionMark `mark`) satisfies;
    /// returns how many.
    pub(crate) fn satisfy(&mut self, data: &Data, mark: u64) -> usize {
        let dn = data.name();
        let mut hits: SmallVec<[u64; 4]> = SmallVec::new();
        for k in 0..=dn.len() {
            let prefix = dn.prefix(k);
            if let Some(ids) = self.by_name.get(&prefix) {
                hits.extend(ids.iter().copied().filter(|id| {
                    self.entries
                        .get(id)
                        .is_some_and(|e| e.interest.matches(data))
                }));
            }
        }
        let n = hits.len();
        for id in hits {
            if let Some(e) = self.take(id) {
                // The receiver may have given up meanwhile; nothing to do then.
                let _ = e.tx.send(Ok((data.clone(), mark)));
            }
        }
        n
    }

    /// Fails the pending Interest a Nack rejects: same name and chain, preferring the one with
    /// the Nack's Nonce. Without a Nonce match (a forwarder may rewrite it) every Interest with
    /// that name and chain fails, as they would all meet the same fate upstream.
    pub(crate) fn nack(&mut self, rejected: &Interest, reason: NackReason) -> usize {
        let key = key_of(rejected);
        let Some(ids) = self.by_name.get(&key) else {
            return 0;
        };
        let same: SmallVec<[u64; 4]> = ids
            .iter()
            .copied()
            .filter(|id| {
                self.entries.get(id).is_some_and(|e| {
                    e.interest.name() == rejected.name()
                        && e.interest.function_chain() == rejected.function_chain()
                })
            })
            .collect();
        let by_nonce: SmallVec<[u64; 4]> = same
            .iter()
            .copied()
            .filter(|id| {
                rejected.nonce().is_some()
                    && self
                        .entries
                        .get(id)
                        .is_some_and(|e| e.interest.nonce() == rejected.nonce())
            })
            .collect();
        let chosen = if by_nonce.is_empty() { same } else { by_nonce };
        let n = chosen.len();
        for id in chosen {
            if let Some(e) = self.take(id) {
                let _ = e.tx.send(Err(Error::Nack(reason)));
            }
        }
        n
    }

    /// Marks the connection closed: every waiting expression fails with [`Error::Closed`]
    /// (dropping its sender) and later inserts are refused.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.entries.clear();
        self.by_name.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use nfwd_tlv::{DataBuilder, FunctionChain, InterestBuilder, Signer};

    use super::*;

    fn interest(name: &str, prefix: bool, chain: Option<&str>) -> Interest {
        InterestBuilder::new(name.parse().unwrap())
            .can_be_prefix(prefix)
            .function_chain(chain.map(|c| c.parse::<FunctionChain>().unwrap()))
            .nonce([1, 2, 3, 4])
            .build()
            .unwrap()
    }

    fn data(name: &str, chain: Option<&str>) -> Data {
        DataBuilder::new(name.parse().unwrap(), &b"x"[..])
            .function_chain(chain.map(|c| c.parse::<FunctionChain>().unwrap()))
            .build(&Signer::digest_sha256())
            .unwrap()
    }

    #[test]
    fn matches_by_prefix_and_chain() {
        let mut t = PendingTable::new(10);
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        let (tx3, mut rx3) = oneshot::channel();
        t.insert(interest("/a/b", true, None), tx1).unwrap();
        t.insert(interest("/a/b", true, Some("/f")), tx2).unwrap();
        t.insert(interest("/a", false, None), tx3).unwrap();
        assert_eq!(t.satisfy(&data("/a/b/c", Some("/g")), 0), 0);
        assert_eq!(t.satisfy(&data("/a/b/c", Some("/f")), 0), 1);
        assert!(rx2.try_recv().unwrap().is_ok());
        assert!(rx1.try_recv().is_err());
        assert_eq!(t.satisfy(&data("/a/b/c", None), 0), 1);
        assert!(rx1.try_recv().unwrap().is_ok());
        assert_eq!(t.len(), 1);
        t.close();
        assert!(matches!(
            rx3.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        let (tx, _rx) = oneshot::channel();
        assert!(matches!(
            t.insert(interest("/a", false, None), tx),
            Err(Error::Closed)
        ));
    }

    #[test]
    fn bounded_and_removable() {
        let mut t = PendingTable::new(1);
        let (tx, _rx) = oneshot::channel();
        let id = t.insert(interest("/a", false, None), tx).unwrap();
        let (tx, _rx2) = oneshot::channel();
        assert!(t.insert(interest("/b", false, None), tx).is_err());
        t.remove(id);
        assert_eq!(t.len(), 0);
        assert!(t.by_name.is_empty());
    }

    #[test]
    fn nack_fails_the_matching_interest() {
        let mut t = PendingTable::new(10);
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        t.insert(interest("/a", false, None), tx1).unwrap();
        t.insert(interest("/a", false, Some("/f")), tx2).unwrap();
        assert_eq!(
            t.nack(&interest("/a", false, Some("/f")), NackReason::NoRoute),
            1
        );
        assert!(matches!(
            rx2.try_recv().unwrap(),
            Err(Error::Nack(NackReason::NoRoute))
        ));
        assert!(rx1.try_recv().is_err());
    }
}

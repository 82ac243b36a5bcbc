//! Hashing of table keys: a name with its function stack (and, for the PIT, the Interest's
//! selectors) folded into one keyed 64-bit hash.
//!
//! The name part comes from the packet's precomputed prefix hashes; the stack is hashed once
//! per packet. Both are keyed SipHash outputs, so their combination is as unpredictable to a
//! sender as either.

use std::hash::{BuildHasher, Hasher};

use nfwd_tlv::{FunctionChain, NameHasher};

/// Hash of a function stack (0 when there is none).
#[must_use]
pub fn chain_hash(hasher: &NameHasher, chain: Option<&FunctionChain>) -> u64 {
    chain.map_or(0, |c| hasher.hash_one(c.value_bytes().as_ref()))
}

/// Combines a name hash with a stack hash (0 = no stack).
#[must_use]
pub fn combine(name_hash: u64, chain_hash: u64) -> u64 {
    name_hash
        ^ chain_hash
            .rotate_left(29)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A `BuildHasher` for keys that already carry their keyed hash: hashing is a move.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrehashedBuild;

/// The hasher of [`PrehashedBuild`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; fold anything else in so the hasher stays correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl BuildHasher for PrehashedBuild {
    type Hasher = Prehashed;

    fn build_hasher(&self) -> Prehashed {
        Prehashed(0)
    }
}

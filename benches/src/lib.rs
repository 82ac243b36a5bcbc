//! Benchmarks for nfwd: criterion micro-benchmarks in `benches/` and the load generator
//! behind `nfwd bench` ([`loadgen`]).
//!
//! This library holds the packets the benchmarks share, so that every benchmark measures the
//! same "typical" traffic.

#![forbid(unsafe_code)]

pub mod flood;
pub mod loadgen;
pub mod nfd;
pub mod receive;
pub mod sf_hop;

use bytes::Bytes;
use nfwd_tlv::{DataBuilder, FunctionChain, InterestBuilder, Name, Signer};

/// A typical consumer Interest: 6-component name, CanBePrefix off, Nonce, lifetime, HopLimit.
#[must_use]
pub fn typical_interest() -> Bytes {
    InterestBuilder::new(typical_name())
        .nonce([0xA1, 0xB2, 0xC3, 0xD4])
        .lifetime_ms(4000)
        .hop_limit(64)
        .encode()
}

/// A chained Interest for F3(F2(F1(content))).
#[must_use]
pub fn chained_interest() -> Bytes {
    let chain: Option<FunctionChain> = "/sf/F3,/sf/F2,/sf/F1".parse().ok();
    InterestBuilder::new(typical_name())
        .nonce([0xA1, 0xB2, 0xC3, 0xD4])
        .lifetime_ms(4000)
        .function_chain(chain)
        .encode()
}

/// A typical Data: same name, 1,000-byte content, freshness, DigestSha256 signature.
#[must_use]
pub fn typical_data() -> Bytes {
    DataBuilder::new(typical_name(), vec![0x5Au8; 1000])
        .freshness_ms(10_000)
        .sign(&Signer::digest_sha256())
        .unwrap_or_default()
}

/// `/edu/ucla/cs/camera/frame/seg=42`.
#[must_use]
pub fn typical_name() -> Name {
    "/edu/ucla/cs/camera/frame/seg=42"
        .parse()
        .unwrap_or_default()
}

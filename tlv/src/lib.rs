//! NDN Packet Format v0.3, NDNLPv2 and NFD management encoding, with nfwd's function-chaining
//! extension.
//!
//! This crate does no I/O. Decoding works on [`bytes::Bytes`] without copying values and never
//! panics, whatever the input; see `README.md` for the code map.

#![forbid(unsafe_code)]

pub mod chain;
pub mod data;
pub mod element;
pub mod error;
pub mod interest;
pub mod lp;
pub mod name;
pub mod nfd;
pub mod prefix_ann;
pub mod signature;
pub mod types;

pub use chain::FunctionChain;
pub use data::{Data, DataBuilder, MetaInfo};
pub use element::{Element, Reader};
pub use error::{Error, Result};
pub use interest::{EditPlan, Interest, InterestBuilder, InterestEdit};
pub use name::{Component, Name, NameHasher, PrefixHashes};
pub use prefix_ann::PrefixAnnouncement;
pub use signature::{KeyLocator, SignatureInfo, Signer, VerifyKey};

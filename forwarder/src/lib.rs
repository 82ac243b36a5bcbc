//! Planned; see this crate's README.

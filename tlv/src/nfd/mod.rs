//! NFD management protocol: ControlParameters, ControlResponse, command Interests in both
//! signing formats, status datasets and their segmentation.
//!
//! Decoders accept fields in any order, as NFD itself does (python-ndn, for one, encodes
//! ControlParameters in a different order from NFD); a known field appearing twice is an error,
//! unknown critical elements are errors and unknown non-critical ones are skipped. Encoders write
//! fields in the order NFD writes them, so our output matches NFD's byte for byte.
//! Strings (URIs, versions) are [`Text`]: a view on the received buffer, checked to be UTF-8.

pub mod command;
pub mod control;
pub mod dataset;

pub use command::{CommandFormat, ControlCommand, make_command_v02, make_command_v03};
pub use control::{ControlParameters, ControlResponse};
pub use dataset::{
    ChannelStatus, CsInfo, DatasetEntry, FaceQueryFilter, FaceStatus, FibEntry, ForwarderStatus,
    NextHopRecord, RibEntry, Route, StrategyChoice, decode_all, encode_all, segment_dataset,
};

use std::fmt;

use bytes::{BufMut, Bytes};

use crate::element::{Element, nni_tlv_len, put_nni_tlv, put_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::Name;

/// TLV-TYPE numbers of status-dataset fields (NFD Management protocol). The ControlParameters
/// and ControlResponse numbers are in [`crate::types::nfd`].
pub mod tt {
    // ForwarderStatus
    pub const NFD_VERSION: u32 = 128;
    pub const START_TIMESTAMP: u32 = 129;
    pub const CURRENT_TIMESTAMP: u32 = 130;
    pub const N_NAME_TREE_ENTRIES: u32 = 131;
    pub const N_FIB_ENTRIES: u32 = 132;
    pub const N_PIT_ENTRIES: u32 = 133;
    pub const N_MEASUREMENTS_ENTRIES: u32 = 134;
    pub const N_CS_ENTRIES: u32 = 135;

    // Face management
    pub const FACE_STATUS: u32 = 128;
    pub const CHANNEL_STATUS: u32 = 130;
    pub const URI_SCHEME: u32 = 131;
    pub const FACE_SCOPE: u32 = 132;
    pub const LINK_TYPE: u32 = 134;
    pub const FACE_QUERY_FILTER: u32 = 150;

    // Counters shared by ForwarderStatus and FaceStatus
    pub const N_IN_INTERESTS: u32 = 144;
    pub const N_IN_DATA: u32 = 145;
    pub const N_OUT_INTERESTS: u32 = 146;
    pub const N_OUT_DATA: u32 = 147;
    pub const N_IN_BYTES: u32 = 148;
    pub const N_OUT_BYTES: u32 = 149;
    pub const N_IN_NACKS: u32 = 151;
    pub const N_OUT_NACKS: u32 = 152;
    pub const N_SATISFIED_INTERESTS: u32 = 153;
    pub const N_UNSATISFIED_INTERESTS: u32 = 154;

    // Content store
    pub const CS_INFO: u32 = 128;
    pub const N_HITS: u32 = 129;
    pub const N_MISSES: u32 = 130;

    // FIB
    pub const FIB_ENTRY: u32 = 128;
    pub const NEXT_HOP_RECORD: u32 = 129;

    // Strategy choice
    pub const STRATEGY_CHOICE: u32 = 128;

    // RIB
    pub const RIB_ENTRY: u32 = 128;
    pub const ROUTE: u32 = 129;
}

/// Route origins (ControlParameters/Route `Origin`).
pub mod route_origin {
    pub const APP: u64 = 0;
    pub const AUTOREG: u64 = 64;
    pub const CLIENT: u64 = 65;
    pub const AUTOCONF: u64 = 66;
    pub const NLSR: u64 = 128;
    pub const PREFIX_ANN: u64 = 129;
    pub const STATIC: u64 = 255;
}

/// Route flags (ControlParameters/Route `Flags`).
pub mod route_flags {
    pub const CHILD_INHERIT: u64 = 1;
    pub const CAPTURE: u64 = 2;
}

/// FacePersistency values.
pub mod face_persistency {
    pub const PERSISTENT: u64 = 0;
    pub const ON_DEMAND: u64 = 1;
    pub const PERMANENT: u64 = 2;
}

/// Face flags (ControlParameters/FaceStatus `Flags`; `Mask` selects which ones a command sets).
pub mod face_flags {
    pub const LOCAL_FIELDS_ENABLED: u64 = 1;
    pub const LP_RELIABILITY_ENABLED: u64 = 2;
    pub const CONGESTION_MARKING_ENABLED: u64 = 4;
}

/// FaceScope values.
pub mod face_scope {
    pub const NON_LOCAL: u64 = 0;
    pub const LOCAL: u64 = 1;
}

/// LinkType values.
pub mod link_type {
    pub const POINT_TO_POINT: u64 = 0;
    pub const MULTI_ACCESS: u64 = 1;
    pub const AD_HOC: u64 = 2;
}

/// CsInfo flags.
pub mod cs_flags {
    pub const ENABLE_ADMIT: u64 = 1;
    pub const ENABLE_SERVE: u64 = 2;
}

/// ControlResponse status codes (HTTP-like, as NFD uses them).
pub mod status_code {
    pub const OK: u64 = 200;
    pub const BAD_PARAMETERS: u64 = 400;
    pub const UNAUTHORIZED: u64 = 403;
    pub const NOT_FOUND: u64 = 404;
    pub const NOT_ACCEPTABLE: u64 = 406;
    pub const CONFLICT: u64 = 409;
    pub const NAME_TOO_LONG: u64 = 414;
    pub const INTERNAL_ERROR: u64 = 500;
    pub const NOT_IMPLEMENTED: u64 = 501;
    pub const UNAVAILABLE: u64 = 503;
}

/// A UTF-8 string held in a shared buffer, so decoding a URI does not copy it.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Bytes);

impl Text {
    /// Wraps `bytes` after checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self> {
        if std::str::from_utf8(&bytes).is_err() {
            return Err(Error::InvalidValue {
                field: "string",
                reason: "not UTF-8",
            });
        }
        Ok(Self(bytes))
    }

    /// The string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Checked at construction; the fallback is unreachable.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn from_element(el: &Element) -> Result<Self> {
        Self::from_utf8(el.value_bytes())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

// ---- decoding helpers shared by the submodules ----

/// Checks that `el` has type `expected`.
fn check_type(el: &Element, expected: u32) -> Result<()> {
    if el.tlv_type() == expected {
        Ok(())
    } else {
        Err(Error::UnexpectedType {
            expected,
            found: el.tlv_type(),
        })
    }
}

/// Runs `f` on each child of `el`. `f` returns the child back when it does not know it; such a
/// child is an error if critical and skipped otherwise.
fn each_child(el: &Element, mut f: impl FnMut(Element) -> Result<Option<Element>>) -> Result<()> {
    for child in el.children() {
        if let Some(unknown) = f(child?)?
            && unknown.is_critical()
        {
            return Err(Error::UnknownCritical(unknown.tlv_type()));
        }
    }
    Ok(())
}

/// Stores `v` in an empty slot; a second occurrence of a field is an error.
fn set_once<T>(slot: &mut Option<T>, v: T, tlv_type: u32) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OutOfOrder(tlv_type));
    }
    *slot = Some(v);
    Ok(())
}

fn set_nni(slot: &mut Option<u64>, el: &Element) -> Result<()> {
    set_once(slot, el.as_nni()?, el.tlv_type())
}

fn set_text(slot: &mut Option<Text>, el: &Element) -> Result<()> {
    set_once(slot, Text::from_element(el)?, el.tlv_type())
}

fn set_name(slot: &mut Option<Name>, el: &Element) -> Result<()> {
    set_once(slot, Name::from_element(el)?, el.tlv_type())
}

/// Decodes a `Strategy { Name }` element into its name.
fn decode_strategy(el: &Element) -> Result<Name> {
    let mut name = None;
    each_child(el, |c| {
        if c.tlv_type() == crate::types::tt::NAME {
            set_name(&mut name, &c)?;
            Ok(None)
        } else {
            Ok(Some(c))
        }
    })?;
    name.ok_or(Error::Missing("Strategy/Name"))
}

fn required<T>(slot: Option<T>, what: &'static str) -> Result<T> {
    slot.ok_or(Error::Missing(what))
}

// ---- encoding helpers ----

fn opt_nni_len(tlv_type: u32, v: Option<u64>) -> usize {
    v.map_or(0, |v| nni_tlv_len(tlv_type, v))
}

fn put_opt_nni(buf: &mut impl BufMut, tlv_type: u32, v: Option<u64>) {
    if let Some(v) = v {
        put_nni_tlv(buf, tlv_type, v);
    }
}

fn text_len(tlv_type: u32, t: &Text) -> usize {
    tlv_len(tlv_type, t.len())
}

fn opt_text_len(tlv_type: u32, t: Option<&Text>) -> usize {
    t.map_or(0, |t| text_len(tlv_type, t))
}

fn put_text(buf: &mut impl BufMut, tlv_type: u32, t: &Text) {
    put_tlv(buf, tlv_type, t.as_bytes());
}

fn put_opt_text(buf: &mut impl BufMut, tlv_type: u32, t: Option<&Text>) {
    if let Some(t) = t {
        put_text(buf, tlv_type, t);
    }
}

fn strategy_len(name: &Name) -> usize {
    tlv_len(crate::types::nfd::STRATEGY, name.encoded_len())
}

fn put_strategy(buf: &mut impl BufMut, name: &Name) {
    crate::element::put_header(buf, crate::types::nfd::STRATEGY, name.encoded_len());
    name.encode_to(buf);
}

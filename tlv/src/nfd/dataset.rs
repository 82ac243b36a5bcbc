//! Status datasets (`status/general`, `faces/list`, `faces/channels`, `fib/list`, `rib/list`,
//! `cs/info`, `strategy-choice/list`), the `faces/query` filter, and the segmentation NFD
//! applies to dataset replies.

use bytes::{BufMut, Bytes, BytesMut};

use super::tt as f;
use super::{
    Text, check_type, decode_strategy, each_child, opt_nni_len, opt_text_len, put_opt_nni,
    put_opt_text, put_strategy, put_text, required, set_name, set_nni, set_once, set_text,
    strategy_len, text_len,
};
use crate::data::DataBuilder;
use crate::element::{Element, Reader, nni_tlv_len, put_header, put_nni_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::{Component, Name};
use crate::signature::Signer;
use crate::types::{nfd as t, tt};

/// Payload bytes per dataset segment (NFD: maximum packet size minus 800 bytes of headroom).
pub const SEGMENT_SIZE: usize = 8000;
/// FreshnessPeriod of dataset segments and command responses, in milliseconds.
pub const DATASET_FRESHNESS_MS: u64 = 1000;

/// One entry of a status dataset whose Content is a concatenation of such entries.
pub trait DatasetEntry: Sized {
    /// TLV-TYPE of the entry element.
    const TLV_TYPE: u32;

    /// Decodes one entry element.
    fn decode(el: &Element) -> Result<Self>;

    /// Encoded length of the entry element.
    fn encoded_len(&self) -> usize;

    /// Writes the entry element.
    fn encode_to(&self, buf: &mut impl BufMut);

    /// The entry element as a new buffer.
    fn to_wire(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        buf.freeze()
    }
}

/// Decodes a dataset Content (all segments' payloads concatenated) into its entries. Elements of
/// another type are skipped if non-critical and rejected if critical.
pub fn decode_all<T: DatasetEntry>(content: &Bytes) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for el in Reader::new(content.clone()) {
        let el = el?;
        if el.tlv_type() == T::TLV_TYPE {
            out.push(T::decode(&el)?);
        } else if el.is_critical() {
            return Err(Error::UnknownCritical(el.tlv_type()));
        }
    }
    Ok(out)
}

/// Encodes entries back to back into one dataset payload.
#[must_use]
pub fn encode_all<T: DatasetEntry>(entries: &[T]) -> Bytes {
    let len = entries.iter().map(DatasetEntry::encoded_len).sum();
    let mut buf = BytesMut::with_capacity(len);
    for e in entries {
        e.encode_to(&mut buf);
    }
    buf.freeze()
}

/// Cuts a dataset payload into signed Data packets the way NFD does: names
/// `<prefix>/v=<version>/seg=<n>`, [`SEGMENT_SIZE`]-byte Contents (no copy of the payload),
/// FreshnessPeriod [`DATASET_FRESHNESS_MS`], FinalBlockId on the last segment only. An empty
/// payload still yields one segment, with empty Content.
pub fn segment_dataset(
    prefix: &Name,
    version: u64,
    payload: &Bytes,
    signer: &Signer,
) -> Result<Vec<Bytes>> {
    let versioned = prefix.append_version(version);
    let count = payload.len().div_ceil(SEGMENT_SIZE).max(1);
    (0..count)
        .map(|i| {
            let start = i * SEGMENT_SIZE;
            let end = (start + SEGMENT_SIZE).min(payload.len());
            let seg = Component::segment(i as u64);
            let mut b = DataBuilder::new(versioned.append(&seg), payload.slice(start..end))
                .freshness_ms(DATASET_FRESHNESS_MS);
            if i + 1 == count {
                b = b.final_block_id(seg);
            }
            b.sign(signer)
        })
        .collect()
}

/// `status/general`. Its dataset Content is these fields directly, with no enclosing element.
/// Every field is required; they are written in NFD's order (the counters are not in numeric
/// order: NInNacks follows NInData, NOutNacks follows NOutData).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwarderStatus {
    /// NfdVersion.
    pub nfd_version: Text,
    /// StartTimestamp, ms since the Unix epoch.
    pub start_timestamp_ms: u64,
    /// CurrentTimestamp, ms since the Unix epoch.
    pub current_timestamp_ms: u64,
    /// NNameTreeEntries.
    pub n_name_tree_entries: u64,
    /// NFibEntries.
    pub n_fib_entries: u64,
    /// NPitEntries.
    pub n_pit_entries: u64,
    /// NMeasurementsEntries.
    pub n_measurements_entries: u64,
    /// NCsEntries.
    pub n_cs_entries: u64,
    /// NInInterests.
    pub n_in_interests: u64,
    /// NInData.
    pub n_in_data: u64,
    /// NInNacks.
    pub n_in_nacks: u64,
    /// NOutInterests.
    pub n_out_interests: u64,
    /// NOutData.
    pub n_out_data: u64,
    /// NOutNacks.
    pub n_out_nacks: u64,
    /// NSatisfiedInterests.
    pub n_satisfied_interests: u64,
    /// NUnsatisfiedInterests.
    pub n_unsatisfied_interests: u64,
}

impl ForwarderStatus {
    /// The counters with their TLV-TYPEs, in NFD's order.
    fn counters(&self) -> [(u32, u64); 15] {
        [
            (f::START_TIMESTAMP, self.start_timestamp_ms),
            (f::CURRENT_TIMESTAMP, self.current_timestamp_ms),
            (f::N_NAME_TREE_ENTRIES, self.n_name_tree_entries),
            (f::N_FIB_ENTRIES, self.n_fib_entries),
            (f::N_PIT_ENTRIES, self.n_pit_entries),
            (f::N_MEASUREMENTS_ENTRIES, self.n_measurements_entries),
            (f::N_CS_ENTRIES, self.n_cs_entries),
            (f::N_IN_INTERESTS, self.n_in_interests),
            (f::N_IN_DATA, self.n_in_data),
            (f::N_IN_NACKS, self.n_in_nacks),
            (f::N_OUT_INTERESTS, self.n_out_interests),
            (f::N_OUT_DATA, self.n_out_data),
            (f::N_OUT_NACKS, self.n_out_nacks),
            (f::N_SATISFIED_INTERESTS, self.n_satisfied_interests),
            (f::N_UNSATISFIED_INTERESTS, self.n_unsatisfied_interests),
        ]
    }

    /// Decodes the dataset Content.
    pub fn decode(content: &Bytes) -> Result<Self> {
        let mut version = None;
        let mut v: [Option<u64>; 15] = [None; 15];
        let order = Self::default().counters().map(|(ty, _)| ty);
        for el in Reader::new(content.clone()) {
            let el = el?;
            if el.tlv_type() == f::NFD_VERSION {
                set_text(&mut version, &el)?;
            } else if let Some(i) = order.iter().position(|&ty| ty == el.tlv_type()) {
                if let Some(slot) = v.get_mut(i) {
                    set_nni(slot, &el)?;
                }
            } else if el.is_critical() {
                return Err(Error::UnknownCritical(el.tlv_type()));
            }
        }
        let [
            start,
            current,
            name_tree,
            fib,
            pit,
            measurements,
            cs,
            in_i,
            in_d,
            in_n,
            out_i,
            out_d,
            out_n,
            sat,
            unsat,
        ] = v;
        Ok(Self {
            nfd_version: required(version, "NfdVersion")?,
            start_timestamp_ms: required(start, "StartTimestamp")?,
            current_timestamp_ms: required(current, "CurrentTimestamp")?,
            n_name_tree_entries: required(name_tree, "NNameTreeEntries")?,
            n_fib_entries: required(fib, "NFibEntries")?,
            n_pit_entries: required(pit, "NPitEntries")?,
            n_measurements_entries: required(measurements, "NMeasurementsEntries")?,
            n_cs_entries: required(cs, "NCsEntries")?,
            n_in_interests: required(in_i, "NInInterests")?,
            n_in_data: required(in_d, "NInData")?,
            n_in_nacks: required(in_n, "NInNacks")?,
            n_out_interests: required(out_i, "NOutInterests")?,
            n_out_data: required(out_d, "NOutData")?,
            n_out_nacks: required(out_n, "NOutNacks")?,
            n_satisfied_interests: required(sat, "NSatisfiedInterests")?,
            n_unsatisfied_interests: required(unsat, "NUnsatisfiedInterests")?,
        })
    }

    /// Encoded length of the Content.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        text_len(f::NFD_VERSION, &self.nfd_version)
            + self
                .counters()
                .iter()
                .map(|&(ty, v)| nni_tlv_len(ty, v))
                .sum::<usize>()
    }

    /// Writes the Content.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        put_text(buf, f::NFD_VERSION, &self.nfd_version);
        for (ty, v) in self.counters() {
            put_nni_tlv(buf, ty, v);
        }
    }

    /// The Content as a new buffer.
    #[must_use]
    pub fn to_wire(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        buf.freeze()
    }
}

/// One face in `faces/list` and `faces/query` (FaceStatus, 128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaceStatus {
    /// FaceId.
    pub face_id: u64,
    /// Uri (remote FaceUri).
    pub uri: Text,
    /// LocalUri.
    pub local_uri: Text,
    /// ExpirationPeriod in milliseconds (on-demand faces).
    pub expiration_period_ms: Option<u64>,
    /// FaceScope (see [`super::face_scope`]).
    pub face_scope: u64,
    /// FacePersistency (see [`super::face_persistency`]).
    pub face_persistency: u64,
    /// LinkType (see [`super::link_type`]).
    pub link_type: u64,
    /// BaseCongestionMarkingInterval in nanoseconds.
    pub base_congestion_marking_interval_ns: Option<u64>,
    /// DefaultCongestionThreshold in bytes.
    pub default_congestion_threshold: Option<u64>,
    /// Mtu in bytes.
    pub mtu: Option<u64>,
    /// NInInterests.
    pub n_in_interests: u64,
    /// NInData.
    pub n_in_data: u64,
    /// NInNacks.
    pub n_in_nacks: u64,
    /// NOutInterests.
    pub n_out_interests: u64,
    /// NOutData.
    pub n_out_data: u64,
    /// NOutNacks.
    pub n_out_nacks: u64,
    /// NInBytes.
    pub n_in_bytes: u64,
    /// NOutBytes.
    pub n_out_bytes: u64,
    /// Flags (see [`super::face_flags`]).
    pub flags: u64,
}

impl FaceStatus {
    fn counters(&self) -> [(u32, u64); 8] {
        [
            (f::N_IN_INTERESTS, self.n_in_interests),
            (f::N_IN_DATA, self.n_in_data),
            (f::N_IN_NACKS, self.n_in_nacks),
            (f::N_OUT_INTERESTS, self.n_out_interests),
            (f::N_OUT_DATA, self.n_out_data),
            (f::N_OUT_NACKS, self.n_out_nacks),
            (f::N_IN_BYTES, self.n_in_bytes),
            (f::N_OUT_BYTES, self.n_out_bytes),
        ]
    }

    fn value_len(&self) -> usize {
        nni_tlv_len(t::FACE_ID, self.face_id)
            + text_len(t::URI, &self.uri)
            + text_len(t::LOCAL_URI, &self.local_uri)
            + opt_nni_len(t::EXPIRATION_PERIOD, self.expiration_period_ms)
            + nni_tlv_len(f::FACE_SCOPE, self.face_scope)
            + nni_tlv_len(t::FACE_PERSISTENCY, self.face_persistency)
            + nni_tlv_len(f::LINK_TYPE, self.link_type)
            + opt_nni_len(
                t::BASE_CONGESTION_MARKING_INTERVAL,
                self.base_congestion_marking_interval_ns,
            )
            + opt_nni_len(
                t::DEFAULT_CONGESTION_THRESHOLD,
                self.default_congestion_threshold,
            )
            + opt_nni_len(t::MTU, self.mtu)
            + self
                .counters()
                .iter()
                .map(|&(ty, v)| nni_tlv_len(ty, v))
                .sum::<usize>()
            + nni_tlv_len(t::FLAGS, self.flags)
    }
}

impl DatasetEntry for FaceStatus {
    const TLV_TYPE: u32 = f::FACE_STATUS;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let (mut face_id, mut uri, mut local_uri, mut expiration) = (None, None, None, None);
        let (mut scope, mut persistency, mut link) = (None, None, None);
        let (mut base_cm, mut threshold, mut mtu, mut flags) = (None, None, None, None);
        let mut c: [Option<u64>; 8] = [None; 8];
        let order = Self::default().counters().map(|(ty, _)| ty);
        each_child(el, |e| {
            match e.tlv_type() {
                t::FACE_ID => set_nni(&mut face_id, &e)?,
                t::URI => set_text(&mut uri, &e)?,
                t::LOCAL_URI => set_text(&mut local_uri, &e)?,
                t::EXPIRATION_PERIOD => set_nni(&mut expiration, &e)?,
                f::FACE_SCOPE => set_nni(&mut scope, &e)?,
                t::FACE_PERSISTENCY => set_nni(&mut persistency, &e)?,
                f::LINK_TYPE => set_nni(&mut link, &e)?,
                t::BASE_CONGESTION_MARKING_INTERVAL => set_nni(&mut base_cm, &e)?,
                t::DEFAULT_CONGESTION_THRESHOLD => set_nni(&mut threshold, &e)?,
                t::MTU => set_nni(&mut mtu, &e)?,
                t::FLAGS => set_nni(&mut flags, &e)?,
                ty => match order
                    .iter()
                    .position(|&o| o == ty)
                    .and_then(|i| c.get_mut(i))
                {
                    Some(slot) => set_nni(slot, &e)?,
                    None => return Ok(Some(e)),
                },
            }
            Ok(None)
        })?;
        let [in_i, in_d, in_n, out_i, out_d, out_n, in_b, out_b] = c;
        Ok(Self {
            face_id: required(face_id, "FaceId")?,
            uri: required(uri, "Uri")?,
            local_uri: required(local_uri, "LocalUri")?,
            expiration_period_ms: expiration,
            face_scope: required(scope, "FaceScope")?,
            face_persistency: required(persistency, "FacePersistency")?,
            link_type: required(link, "LinkType")?,
            base_congestion_marking_interval_ns: base_cm,
            default_congestion_threshold: threshold,
            mtu,
            n_in_interests: required(in_i, "NInInterests")?,
            n_in_data: required(in_d, "NInData")?,
            n_in_nacks: required(in_n, "NInNacks")?,
            n_out_interests: required(out_i, "NOutInterests")?,
            n_out_data: required(out_d, "NOutData")?,
            n_out_nacks: required(out_n, "NOutNacks")?,
            n_in_bytes: required(in_b, "NInBytes")?,
            n_out_bytes: required(out_b, "NOutBytes")?,
            flags: required(flags, "Flags")?,
        })
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, self.value_len())
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, self.value_len());
        put_nni_tlv(buf, t::FACE_ID, self.face_id);
        put_text(buf, t::URI, &self.uri);
        put_text(buf, t::LOCAL_URI, &self.local_uri);
        put_opt_nni(buf, t::EXPIRATION_PERIOD, self.expiration_period_ms);
        put_nni_tlv(buf, f::FACE_SCOPE, self.face_scope);
        put_nni_tlv(buf, t::FACE_PERSISTENCY, self.face_persistency);
        put_nni_tlv(buf, f::LINK_TYPE, self.link_type);
        put_opt_nni(
            buf,
            t::BASE_CONGESTION_MARKING_INTERVAL,
            self.base_congestion_marking_interval_ns,
        );
        put_opt_nni(
            buf,
            t::DEFAULT_CONGESTION_THRESHOLD,
            self.default_congestion_threshold,
        );
        put_opt_nni(buf, t::MTU, self.mtu);
        for (ty, v) in self.counters() {
            put_nni_tlv(buf, ty, v);
        }
        put_nni_tlv(buf, t::FLAGS, self.flags);
    }
}

/// One channel in `faces/channels` (ChannelStatus, 130).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStatus {
    /// LocalUri of the listening channel.
    pub local_uri: Text,
}

impl DatasetEntry for ChannelStatus {
    const TLV_TYPE: u32 = f::CHANNEL_STATUS;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let mut local_uri = None;
        each_child(el, |e| {
            if e.tlv_type() == t::LOCAL_URI {
                set_text(&mut local_uri, &e)?;
                Ok(None)
            } else {
                Ok(Some(e))
            }
        })?;
        Ok(Self {
            local_uri: required(local_uri, "LocalUri")?,
        })
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, text_len(t::LOCAL_URI, &self.local_uri))
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, text_len(t::LOCAL_URI, &self.local_uri));
        put_text(buf, t::LOCAL_URI, &self.local_uri);
    }
}

/// The filter of a `faces/query` request (FaceQueryFilter, 150), carried as a name component
/// after `/localhost/nfd/faces/query`. Absent fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaceQueryFilter {
    /// FaceId.
    pub face_id: Option<u64>,
    /// UriScheme (`udp4`, `tcp`, ...).
    pub uri_scheme: Option<Text>,
    /// Uri.
    pub uri: Option<Text>,
    /// LocalUri.
    pub local_uri: Option<Text>,
    /// FaceScope.
    pub face_scope: Option<u64>,
    /// FacePersistency.
    pub face_persistency: Option<u64>,
    /// LinkType.
    pub link_type: Option<u64>,
}

impl FaceQueryFilter {
    fn value_len(&self) -> usize {
        opt_nni_len(t::FACE_ID, self.face_id)
            + opt_text_len(f::URI_SCHEME, self.uri_scheme.as_ref())
            + opt_text_len(t::URI, self.uri.as_ref())
            + opt_text_len(t::LOCAL_URI, self.local_uri.as_ref())
            + opt_nni_len(f::FACE_SCOPE, self.face_scope)
            + opt_nni_len(t::FACE_PERSISTENCY, self.face_persistency)
            + opt_nni_len(f::LINK_TYPE, self.link_type)
    }
}

impl DatasetEntry for FaceQueryFilter {
    const TLV_TYPE: u32 = f::FACE_QUERY_FILTER;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let mut q = Self::default();
        each_child(el, |e| {
            match e.tlv_type() {
                t::FACE_ID => set_nni(&mut q.face_id, &e)?,
                f::URI_SCHEME => set_text(&mut q.uri_scheme, &e)?,
                t::URI => set_text(&mut q.uri, &e)?,
                t::LOCAL_URI => set_text(&mut q.local_uri, &e)?,
                f::FACE_SCOPE => set_nni(&mut q.face_scope, &e)?,
                t::FACE_PERSISTENCY => set_nni(&mut q.face_persistency, &e)?,
                f::LINK_TYPE => set_nni(&mut q.link_type, &e)?,
                _ => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        Ok(q)
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, self.value_len())
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, self.value_len());
        put_opt_nni(buf, t::FACE_ID, self.face_id);
        put_opt_text(buf, f::URI_SCHEME, self.uri_scheme.as_ref());
        put_opt_text(buf, t::URI, self.uri.as_ref());
        put_opt_text(buf, t::LOCAL_URI, self.local_uri.as_ref());
        put_opt_nni(buf, f::FACE_SCOPE, self.face_scope);
        put_opt_nni(buf, t::FACE_PERSISTENCY, self.face_persistency);
        put_opt_nni(buf, f::LINK_TYPE, self.link_type);
    }
}

/// A next hop of a FIB entry (NextHopRecord, 129).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NextHopRecord {
    /// FaceId.
    pub face_id: u64,
    /// Cost.
    pub cost: u64,
}

impl NextHopRecord {
    fn value_len(self) -> usize {
        nni_tlv_len(t::FACE_ID, self.face_id) + nni_tlv_len(t::COST, self.cost)
    }

    fn encoded_len(self) -> usize {
        tlv_len(f::NEXT_HOP_RECORD, self.value_len())
    }

    fn decode(el: &Element) -> Result<Self> {
        let (mut face_id, mut cost) = (None, None);
        each_child(el, |e| {
            match e.tlv_type() {
                t::FACE_ID => set_nni(&mut face_id, &e)?,
                t::COST => set_nni(&mut cost, &e)?,
                _ => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        Ok(Self {
            face_id: required(face_id, "NextHopRecord/FaceId")?,
            cost: required(cost, "NextHopRecord/Cost")?,
        })
    }

    fn encode_to(self, buf: &mut impl BufMut) {
        put_header(buf, f::NEXT_HOP_RECORD, self.value_len());
        put_nni_tlv(buf, t::FACE_ID, self.face_id);
        put_nni_tlv(buf, t::COST, self.cost);
    }
}

/// One entry of `fib/list` (FibEntry, 128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FibEntry {
    /// Name prefix.
    pub name: Name,
    /// Next hops, in the order the forwarder lists them.
    pub next_hops: Vec<NextHopRecord>,
}

impl FibEntry {
    fn value_len(&self) -> usize {
        self.name.encoded_len()
            + self
                .next_hops
                .iter()
                .map(|n| n.encoded_len())
                .sum::<usize>()
    }
}

impl DatasetEntry for FibEntry {
    const TLV_TYPE: u32 = f::FIB_ENTRY;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let mut name = None;
        let mut next_hops = Vec::new();
        each_child(el, |e| {
            match e.tlv_type() {
                tt::NAME => set_name(&mut name, &e)?,
                f::NEXT_HOP_RECORD => next_hops.push(NextHopRecord::decode(&e)?),
                _ => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        Ok(Self {
            name: required(name, "FibEntry/Name")?,
            next_hops,
        })
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, self.value_len())
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, self.value_len());
        self.name.encode_to(buf);
        for n in &self.next_hops {
            n.encode_to(buf);
        }
    }
}

/// A route of a RIB entry (Route, 129).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Route {
    /// FaceId.
    pub face_id: u64,
    /// Origin (see [`super::route_origin`]).
    pub origin: u64,
    /// Cost.
    pub cost: u64,
    /// Flags (see [`super::route_flags`]).
    pub flags: u64,
    /// ExpirationPeriod in milliseconds (absent: never expires).
    pub expiration_period_ms: Option<u64>,
}

impl Route {
    fn value_len(self) -> usize {
        nni_tlv_len(t::FACE_ID, self.face_id)
            + nni_tlv_len(t::ORIGIN, self.origin)
            + nni_tlv_len(t::COST, self.cost)
            + nni_tlv_len(t::FLAGS, self.flags)
            + opt_nni_len(t::EXPIRATION_PERIOD, self.expiration_period_ms)
    }

    fn encoded_len(self) -> usize {
        tlv_len(f::ROUTE, self.value_len())
    }

    fn decode(el: &Element) -> Result<Self> {
        let (mut face_id, mut origin, mut cost, mut flags, mut exp) =
            (None, None, None, None, None);
        each_child(el, |e| {
            match e.tlv_type() {
                t::FACE_ID => set_nni(&mut face_id, &e)?,
                t::ORIGIN => set_nni(&mut origin, &e)?,
                t::COST => set_nni(&mut cost, &e)?,
                t::FLAGS => set_nni(&mut flags, &e)?,
                t::EXPIRATION_PERIOD => set_nni(&mut exp, &e)?,
                _ => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        Ok(Self {
            face_id: required(face_id, "Route/FaceId")?,
            origin: required(origin, "Route/Origin")?,
            cost: required(cost, "Route/Cost")?,
            flags: required(flags, "Route/Flags")?,
            expiration_period_ms: exp,
        })
    }

    fn encode_to(self, buf: &mut impl BufMut) {
        put_header(buf, f::ROUTE, self.value_len());
        put_nni_tlv(buf, t::FACE_ID, self.face_id);
        put_nni_tlv(buf, t::ORIGIN, self.origin);
        put_nni_tlv(buf, t::COST, self.cost);
        put_nni_tlv(buf, t::FLAGS, self.flags);
        put_opt_nni(buf, t::EXPIRATION_PERIOD, self.expiration_period_ms);
    }
}

/// One entry of `rib/list` (RibEntry, 128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RibEntry {
    /// Name prefix.
    pub name: Name,
    /// Routes.
    pub routes: Vec<Route>,
}

impl RibEntry {
    fn value_len(&self) -> usize {
        self.name.encoded_len() + self.routes.iter().map(|r| r.encoded_len()).sum::<usize>()
    }
}

impl DatasetEntry for RibEntry {
    const TLV_TYPE: u32 = f::RIB_ENTRY;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let mut name = None;
        let mut routes = Vec::new();
        each_child(el, |e| {
            match e.tlv_type() {
                tt::NAME => set_name(&mut name, &e)?,
                f::ROUTE => routes.push(Route::decode(&e)?),
                _ => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        Ok(Self {
            name: required(name, "RibEntry/Name")?,
            routes,
        })
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, self.value_len())
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, self.value_len());
        self.name.encode_to(buf);
        for r in &self.routes {
            r.encode_to(buf);
        }
    }
}

/// `cs/info` (CsInfo, 128): one element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CsInfo {
    /// Capacity in packets.
    pub capacity: u64,
    /// Flags (see [`super::cs_flags`]).
    pub flags: u64,
    /// NCsEntries.
    pub n_entries: u64,
    /// NHits.
    pub n_hits: u64,
    /// NMisses.
    pub n_misses: u64,
}

impl CsInfo {
    fn fields(self) -> [(u32, u64); 5] {
        [
            (t::CAPACITY, self.capacity),
            (t::FLAGS, self.flags),
            (f::N_CS_ENTRIES, self.n_entries),
            (f::N_HITS, self.n_hits),
            (f::N_MISSES, self.n_misses),
        ]
    }

    fn value_len(self) -> usize {
        self.fields()
            .iter()
            .map(|&(ty, v)| nni_tlv_len(ty, v))
            .sum()
    }

    /// True if the CS admits new Data.
    #[must_use]
    pub fn enable_admit(self) -> bool {
        self.flags & super::cs_flags::ENABLE_ADMIT != 0
    }

    /// True if the CS answers Interests.
    #[must_use]
    pub fn enable_serve(self) -> bool {
        self.flags & super::cs_flags::ENABLE_SERVE != 0
    }
}

impl DatasetEntry for CsInfo {
    const TLV_TYPE: u32 = f::CS_INFO;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let mut v: [Option<u64>; 5] = [None; 5];
        let order = Self::default().fields().map(|(ty, _)| ty);
        each_child(el, |e| {
            match order
                .iter()
                .position(|&o| o == e.tlv_type())
                .and_then(|i| v.get_mut(i))
            {
                Some(slot) => set_nni(slot, &e)?,
                None => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        let [capacity, flags, n_entries, n_hits, n_misses] = v;
        Ok(Self {
            capacity: required(capacity, "Capacity")?,
            flags: required(flags, "Flags")?,
            n_entries: required(n_entries, "NCsEntries")?,
            n_hits: required(n_hits, "NHits")?,
            n_misses: required(n_misses, "NMisses")?,
        })
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, self.value_len())
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, self.value_len());
        for (ty, v) in self.fields() {
            put_nni_tlv(buf, ty, v);
        }
    }
}

/// One entry of `strategy-choice/list` (StrategyChoice, 128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyChoice {
    /// Name prefix.
    pub name: Name,
    /// Strategy instance name.
    pub strategy: Name,
}

impl StrategyChoice {
    fn value_len(&self) -> usize {
        self.name.encoded_len() + strategy_len(&self.strategy)
    }
}

impl DatasetEntry for StrategyChoice {
    const TLV_TYPE: u32 = f::STRATEGY_CHOICE;

    fn decode(el: &Element) -> Result<Self> {
        check_type(el, Self::TLV_TYPE)?;
        let (mut name, mut strategy) = (None, None);
        each_child(el, |e| {
            match e.tlv_type() {
                tt::NAME => set_name(&mut name, &e)?,
                t::STRATEGY => set_once(&mut strategy, decode_strategy(&e)?, t::STRATEGY)?,
                _ => return Ok(Some(e)),
            }
            Ok(None)
        })?;
        Ok(Self {
            name: required(name, "StrategyChoice/Name")?,
            strategy: required(strategy, "Strategy")?,
        })
    }

    fn encoded_len(&self) -> usize {
        tlv_len(Self::TLV_TYPE, self.value_len())
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, Self::TLV_TYPE, self.value_len());
        self.name.encode_to(buf);
        put_strategy(buf, &self.strategy);
    }
}

//! ControlParameters (104) and ControlResponse (101).

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    Text, check_type, decode_strategy, each_child, opt_nni_len, opt_text_len, put_opt_nni,
    put_opt_text, put_strategy, put_text, set_nni, set_once, set_text, strategy_len, text_len,
};
use crate::data::DataBuilder;
use crate::element::{Element, nni_tlv_len, put_header, put_nni_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::signature::Signer;
use crate::types::{nfd as t, tt};

/// The parameters of a management command, and the effective parameters a response echoes.
///
/// Every field is optional on the wire; which ones a command needs is up to the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlParameters {
    /// Name (prefix of a route, FIB entry or strategy choice).
    pub name: Option<Name>,
    /// FaceId (`rib/register` with none or 0 means the face the command came on).
    pub face_id: Option<u64>,
    /// Uri (remote FaceUri).
    pub uri: Option<Text>,
    /// LocalUri.
    pub local_uri: Option<Text>,
    /// Origin (see [`super::route_origin`]).
    pub origin: Option<u64>,
    /// Cost.
    pub cost: Option<u64>,
    /// Capacity (CS capacity in packets).
    pub capacity: Option<u64>,
    /// Count.
    pub count: Option<u64>,
    /// Flags (route flags or face flags, depending on the command).
    pub flags: Option<u64>,
    /// Mask: which bits of Flags a command changes.
    pub mask: Option<u64>,
    /// Strategy name (the Name inside Strategy).
    pub strategy: Option<Name>,
    /// ExpirationPeriod in milliseconds.
    pub expiration_period_ms: Option<u64>,
    /// FacePersistency (see [`super::face_persistency`]).
    pub face_persistency: Option<u64>,
    /// BaseCongestionMarkingInterval in nanoseconds.
    pub base_congestion_marking_interval_ns: Option<u64>,
    /// DefaultCongestionThreshold in bytes.
    pub default_congestion_threshold: Option<u64>,
    /// Mtu in bytes.
    pub mtu: Option<u64>,
}

impl ControlParameters {
    /// Parameters holding only a name (what `rib/register` from python-ndn carries).
    #[must_use]
    pub fn with_name(name: Name) -> Self {
        Self {
            name: Some(name),
            ..Self::default()
        }
    }

    /// Decodes a ControlParameters element (type 104).
    pub fn decode(el: &Element) -> Result<Self> {
        check_type(el, t::CONTROL_PARAMETERS)?;
        let mut cp = Self::default();
        each_child(el, |c| {
            match c.tlv_type() {
                tt::NAME => super::set_name(&mut cp.name, &c)?,
                t::FACE_ID => set_nni(&mut cp.face_id, &c)?,
                t::URI => set_text(&mut cp.uri, &c)?,
                t::LOCAL_URI => set_text(&mut cp.local_uri, &c)?,
                t::ORIGIN => set_nni(&mut cp.origin, &c)?,
                t::COST => set_nni(&mut cp.cost, &c)?,
                t::CAPACITY => set_nni(&mut cp.capacity, &c)?,
                t::COUNT => set_nni(&mut cp.count, &c)?,
                t::FLAGS => set_nni(&mut cp.flags, &c)?,
                t::MASK => set_nni(&mut cp.mask, &c)?,
                t::STRATEGY => set_once(&mut cp.strategy, decode_strategy(&c)?, t::STRATEGY)?,
                t::EXPIRATION_PERIOD => set_nni(&mut cp.expiration_period_ms, &c)?,
                t::FACE_PERSISTENCY => set_nni(&mut cp.face_persistency, &c)?,
                t::BASE_CONGESTION_MARKING_INTERVAL => {
                    set_nni(&mut cp.base_congestion_marking_interval_ns, &c)?;
                }
                t::DEFAULT_CONGESTION_THRESHOLD => {
                    set_nni(&mut cp.default_congestion_threshold, &c)?;
                }
                t::MTU => set_nni(&mut cp.mtu, &c)?,
                _ => return Ok(Some(c)),
            }
            Ok(None)
        })?;
        Ok(cp)
    }

    /// Decodes a whole ControlParameters TLV with nothing after it.
    pub fn from_wire(wire: &Bytes) -> Result<Self> {
        Self::decode(&Element::decode_exact(wire)?)
    }

    fn value_len(&self) -> usize {
        self.name.as_ref().map_or(0, Name::encoded_len)
            + opt_nni_len(t::FACE_ID, self.face_id)
            + opt_text_len(t::URI, self.uri.as_ref())
            + opt_text_len(t::LOCAL_URI, self.local_uri.as_ref())
            + opt_nni_len(t::ORIGIN, self.origin)
            + opt_nni_len(t::COST, self.cost)
            + opt_nni_len(t::CAPACITY, self.capacity)
            + opt_nni_len(t::COUNT, self.count)
            + opt_nni_len(t::FLAGS, self.flags)
            + opt_nni_len(t::MASK, self.mask)
            + self.strategy.as_ref().map_or(0, strategy_len)
            + opt_nni_len(t::EXPIRATION_PERIOD, self.expiration_period_ms)
            + opt_nni_len(t::FACE_PERSISTENCY, self.face_persistency)
            + opt_nni_len(
                t::BASE_CONGESTION_MARKING_INTERVAL,
                self.base_congestion_marking_interval_ns,
            )
            + opt_nni_len(
                t::DEFAULT_CONGESTION_THRESHOLD,
                self.default_congestion_threshold,
            )
            + opt_nni_len(t::MTU, self.mtu)
    }

    /// Encoded length of the whole element.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        tlv_len(t::CONTROL_PARAMETERS, self.value_len())
    }

    /// Writes the element, fields in NFD's order.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, t::CONTROL_PARAMETERS, self.value_len());
        if let Some(n) = &self.name {
            n.encode_to(buf);
        }
        put_opt_nni(buf, t::FACE_ID, self.face_id);
        put_opt_text(buf, t::URI, self.uri.as_ref());
        put_opt_text(buf, t::LOCAL_URI, self.local_uri.as_ref());
        put_opt_nni(buf, t::ORIGIN, self.origin);
        put_opt_nni(buf, t::COST, self.cost);
        put_opt_nni(buf, t::CAPACITY, self.capacity);
        put_opt_nni(buf, t::COUNT, self.count);
        put_opt_nni(buf, t::FLAGS, self.flags);
        put_opt_nni(buf, t::MASK, self.mask);
        if let Some(s) = &self.strategy {
            put_strategy(buf, s);
        }
        put_opt_nni(buf, t::EXPIRATION_PERIOD, self.expiration_period_ms);
        put_opt_nni(buf, t::FACE_PERSISTENCY, self.face_persistency);
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
    }

    /// The element as a new buffer.
    #[must_use]
    pub fn to_wire(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        buf.freeze()
    }

    /// True if bit `bit` is set in Flags (false if Flags is absent or `bit` is 64 or more).
    #[must_use]
    pub fn flag_bit(&self, bit: u32) -> bool {
        self.flags
            .zip(1u64.checked_shl(bit))
            .is_some_and(|(f, b)| f & b != 0)
    }

    /// True if bit `bit` is set in Mask (false if Mask is absent or `bit` is 64 or more).
    #[must_use]
    pub fn mask_bit(&self, bit: u32) -> bool {
        self.mask
            .zip(1u64.checked_shl(bit))
            .is_some_and(|(m, b)| m & b != 0)
    }
}

/// The Content of the reply to a command (and of a rejected dataset request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlResponse {
    /// StatusCode (see [`super::status_code`]).
    pub status_code: u64,
    /// StatusText.
    pub status_text: Text,
    /// The effective parameters, on success.
    pub body: Option<ControlParameters>,
}

impl ControlResponse {
    /// A response with a code and a text and no body.
    #[must_use]
    pub fn new(status_code: u64, status_text: impl Into<Text>) -> Self {
        Self {
            status_code,
            status_text: status_text.into(),
            body: None,
        }
    }

    /// `200 OK` echoing `body`.
    #[must_use]
    pub fn ok(body: ControlParameters) -> Self {
        Self {
            status_code: super::status_code::OK,
            status_text: Text::from("OK"),
            body: Some(body),
        }
    }

    /// Decodes a ControlResponse element (type 101): StatusCode, StatusText, then an optional
    /// ControlParameters body.
    pub fn decode(el: &Element) -> Result<Self> {
        check_type(el, t::CONTROL_RESPONSE)?;
        let mut r = el.children();
        let status_code = r.expect(t::STATUS_CODE, "StatusCode")?.as_nni()?;
        let status_text = Text::from_element(&r.expect(t::STATUS_TEXT, "StatusText")?)?;
        let mut body = None;
        for c in r {
            let c = c?;
            match c.tlv_type() {
                t::CONTROL_PARAMETERS => {
                    set_once(
                        &mut body,
                        ControlParameters::decode(&c)?,
                        t::CONTROL_PARAMETERS,
                    )?;
                }
                t::STATUS_CODE | t::STATUS_TEXT => return Err(Error::OutOfOrder(c.tlv_type())),
                other if c.is_critical() => return Err(Error::UnknownCritical(other)),
                _ => {}
            }
        }
        Ok(Self {
            status_code,
            status_text,
            body,
        })
    }

    /// Decodes a whole ControlResponse TLV (a Data's Content) with nothing after it.
    pub fn from_wire(wire: &Bytes) -> Result<Self> {
        Self::decode(&Element::decode_exact(wire)?)
    }

    fn value_len(&self) -> usize {
        nni_tlv_len(t::STATUS_CODE, self.status_code)
            + text_len(t::STATUS_TEXT, &self.status_text)
            + self.body.as_ref().map_or(0, ControlParameters::encoded_len)
    }

    /// Encoded length of the whole element.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        tlv_len(t::CONTROL_RESPONSE, self.value_len())
    }

    /// Writes the element.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        put_header(buf, t::CONTROL_RESPONSE, self.value_len());
        put_nni_tlv(buf, t::STATUS_CODE, self.status_code);
        put_text(buf, t::STATUS_TEXT, &self.status_text);
        if let Some(b) = &self.body {
            b.encode_to(buf);
        }
    }

    /// The element as a new buffer.
    #[must_use]
    pub fn to_wire(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        buf.freeze()
    }

    /// The reply Data: named exactly like the command Interest (`name`), FreshnessPeriod 1 s
    /// as NFD sets it, signed by `signer`.
    pub fn to_data(&self, name: &Name, signer: &Signer) -> Result<Bytes> {
        DataBuilder::new(name.clone(), self.to_wire())
            .freshness_ms(super::dataset::DATASET_FRESHNESS_MS)
            .sign(signer)
    }

    /// True for a 200 response.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.status_code == super::status_code::OK
    }
}

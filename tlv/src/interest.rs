//! Interest packets (NDN Packet Format v0.3) with nfwd's FunctionNames extension.
//!
//! [`Interest::decode`] checks the whole top-level structure (order, criticality, lengths, the
//! parameters digest) and keeps the wire form. Nested elements a forwarder rarely needs
//! (ForwardingHint, InterestSignatureInfo) are kept as raw elements and parsed on demand.
//! A forwarder changes an Interest with [`Interest::edited`], which splices the wire form:
//! untouched elements, unknown ones included, pass on byte for byte.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use crate::chain::FunctionChain;
use crate::element::{Element, nni_tlv_len, put_header, put_nni_tlv, put_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::{Component, Name};
use crate::signature::{SignatureInfo, Signer, VerifyKey, sha256};
use crate::types::{is_critical, tt};

/// InterestLifetime when the element is absent, in milliseconds.
pub const DEFAULT_LIFETIME_MS: u64 = 4000;

/// Position of each known element in the v0.3 order; unknown elements take the position of the
/// element before them.
fn order_of(tlv_type: u32) -> Option<u8> {
    Some(match tlv_type {
        tt::NAME => 0,
        tt::CAN_BE_PREFIX => 1,
        tt::MUST_BE_FRESH => 2,
        tt::FORWARDING_HINT => 3,
        tt::NONCE => 4,
        tt::INTEREST_LIFETIME => 5,
        tt::HOP_LIMIT => 6,
        tt::FUNCTION_NAMES => 7,
        tt::APPLICATION_PARAMETERS => 8,
        tt::INTEREST_SIGNATURE_INFO => 9,
        tt::INTEREST_SIGNATURE_VALUE => 10,
        _ => return None,
    })
}

/// A top-level element of the Interest: its type and byte range within the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    tlv_type: u32,
    start: u32,
    end: u32,
}

/// The type a [`Field`] records for a known element that decoding skipped (non-critical,
/// repeated or out of order — say a HopLimit after ApplicationParameters). It is carried as
/// it was but matches no known type, so edits and digests never take it for the element that
/// was read. TLV-TYPE 0 is reserved: no element decodes with it.
const SKIPPED: u32 = 0;

impl Field {
    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A decoded Interest.
#[derive(Clone)]
pub struct Interest {
    wire: Bytes,
    name: Name,
    can_be_prefix: bool,
    must_be_fresh: bool,
    forwarding_hint: Vec<Name>,
    nonce: Option<[u8; 4]>,
    lifetime_ms: Option<u64>,
    hop_limit: Option<u8>,
    /// Boxed: most Interests carry none, and a decoded stack is large (tables keep Interests).
    function_chain: Option<Box<FunctionChain>>,
    app_parameters: Option<Bytes>,
    /// Boxed for the same reason: only signed Interests have one.
    signature_info: Option<Box<SignatureInfo>>,
    signature_value: Option<Bytes>,
    /// Every top-level element after the Interest header, in wire order.
    fields: SmallVec<[Field; 10]>,
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interest")
            .field("name", &self.name)
            .field("function_chain", &self.function_chain)
            .field("can_be_prefix", &self.can_be_prefix)
            .field("must_be_fresh", &self.must_be_fresh)
            .field("nonce", &self.nonce)
            .field("lifetime_ms", &self.lifetime_ms)
            .field("hop_limit", &self.hop_limit)
            .finish_non_exhaustive()
    }
}

/// Changes a forwarder makes to an Interest it passes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterestEdit {
    /// Set (or add) the Nonce.
    pub nonce: Option<[u8; 4]>,
    /// Set the HopLimit (only if the Interest carries one; an absent HopLimit stays absent).
    pub hop_limit: Option<u8>,
    /// Remove the head of the function stack (the whole element if it was the last function).
    pub pop_function: bool,
}

/// An [`InterestEdit`] worked out against one Interest ([`Interest::plan_edit`]): what
/// [`Interest::write_edited`] writes and how long it is.
#[derive(Debug, Clone)]
pub struct EditPlan {
    edit: InterestEdit,
    /// `Some` if the head is popped: the rest of the stack, `None` if it was the last.
    popped: Option<Option<FunctionChain>>,
    insert_nonce_after: Option<usize>,
    /// Fields whose SKIPPED elements the edit leaves out: those that removing FunctionNames
    /// would bring into order (see [`Interest::dropped_with_function_names`]).
    dropped_skipped: Range<usize>,
    value_len: usize,
}

impl EditPlan {
    /// Length of the edited Interest, header included.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        tlv_len(tt::INTEREST, self.value_len)
    }
}

impl Interest {
    /// Decodes an Interest from its whole TLV encoding.
    pub fn decode(wire: Bytes) -> Result<Self> {
        let outer = Element::decode_exact(&wire)?;
        if outer.tlv_type() != tt::INTEREST {
            return Err(Error::UnexpectedType {
                expected: tt::INTEREST,
                found: outer.tlv_type(),
            });
        }
        let base = outer.header_len();
        let mut reader = outer.children();
        let name_el = reader.expect(tt::NAME, "Name")?;
        let name = Name::from_element(&name_el)?;
        if name.is_empty() {
            return Err(Error::InvalidValue {
                field: "Name",
                reason: "Interest name is empty",
            });
        }
        let mut it = Self {
            name,
            can_be_prefix: false,
            must_be_fresh: false,
            forwarding_hint: Vec::new(),
            nonce: None,
            lifetime_ms: None,
            hop_limit: None,
            function_chain: None,
            app_parameters: None,
            signature_info: None,
            signature_value: None,
            fields: SmallVec::new(),
            wire: Bytes::new(),
        };
        it.fields.push(Field {
            tlv_type: tt::NAME,
            start: base as u32,
            end: (base + reader.position()) as u32,
        });
        let mut last_order = 0u8;
        loop {
            let start = base + reader.position();
            let Some(el) = reader.next_element()? else {
                break;
            };
            let end = base + reader.position();
            let mut field = Field {
                tlv_type: el.tlv_type(),
                start: start as u32,
                end: end as u32,
            };
            match order_of(el.tlv_type()) {
                Some(order) if order > last_order => {
                    last_order = order;
                    it.take_field(&el)?;
                }
                // A known element repeated or out of order: fatal only if critical.
                Some(_) | None if is_critical(el.tlv_type()) => {
                    return Err(if order_of(el.tlv_type()).is_some() {
                        Error::OutOfOrder(el.tlv_type())
                    } else {
                        Error::UnknownCritical(el.tlv_type())
                    });
                }
                Some(_) => field.tlv_type = SKIPPED,
                None => {}
            }
            it.fields.push(field);
        }
        it.check_parameters(&wire)?;
        if it.signature_value.is_some() && it.signature_info.is_none() {
            return Err(Error::Missing("InterestSignatureInfo"));
        }
        if it.signature_info.is_some() && it.app_parameters.is_none() {
            return Err(Error::Missing("ApplicationParameters"));
        }
        it.wire = wire;
        Ok(it)
    }

    fn take_field(&mut self, el: &Element) -> Result<()> {
        match el.tlv_type() {
            tt::CAN_BE_PREFIX => self.can_be_prefix = true,
            tt::MUST_BE_FRESH => self.must_be_fresh = true,
            tt::FORWARDING_HINT => {
                self.forwarding_hint = el
                    .children()
                    .map(|c| c.and_then(|c| Name::from_element(&c)))
                    .collect::<Result<_>>()?;
                if self.forwarding_hint.is_empty() {
                    return Err(Error::InvalidValue {
                        field: "ForwardingHint",
                        reason: "no name",
                    });
                }
            }
            tt::NONCE => {
                let n: [u8; 4] = el.value().try_into().map_err(|_| Error::InvalidValue {
                    field: "Nonce",
                    reason: "must be 4 bytes",
                })?;
                self.nonce = Some(n);
            }
            tt::INTEREST_LIFETIME => self.lifetime_ms = Some(el.as_nni()?),
            tt::HOP_LIMIT => {
                let &[h] = el.value() else {
                    return Err(Error::InvalidValue {
                        field: "HopLimit",
                        reason: "must be 1 byte",
                    });
                };
                self.hop_limit = Some(h);
            }
            tt::FUNCTION_NAMES => {
                self.function_chain = Some(Box::new(FunctionChain::decode(el)?));
            }
            tt::APPLICATION_PARAMETERS => self.app_parameters = Some(el.value_bytes()),
            tt::INTEREST_SIGNATURE_INFO => {
                self.signature_info = Some(Box::new(SignatureInfo::decode(el)?));
            }
            tt::INTEREST_SIGNATURE_VALUE => self.signature_value = Some(el.value_bytes()),
            _ => {}
        }
        Ok(())
    }

    /// ApplicationParameters and the ParametersSha256DigestComponent go together, and the
    /// digest must match (as ndn-cxx enforces).
    fn check_parameters(&self, wire: &[u8]) -> Result<()> {
        const DIGEST_TYPE: u8 = tt::PARAMETERS_SHA256_DIGEST_COMPONENT as u8;
        let mut digests = self.name.positions_of_type(DIGEST_TYPE);
        let digest_at = digests.next();
        // Its length of 32 bytes was checked with the name.
        if digests.next().is_some() {
            return Err(Error::InvalidValue {
                field: "ParametersSha256DigestComponent",
                reason: "repeated",
            });
        }
        match (digest_at, self.parameters_range()) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(Error::Missing("ApplicationParameters")),
            (None, Some(_)) => Err(Error::Missing("ParametersSha256DigestComponent")),
            (Some(i), Some(range)) => {
                let expected = sha256(&[&wire[range]]);
                match self.name.get(i) {
                    Some(c) if c.value() == expected => Ok(()),
                    _ => Err(Error::ParametersDigestMismatch),
                }
            }
        }
    }

    /// The element of `tlv_type` that was read (a skipped copy is recorded as SKIPPED).
    fn read_field(&self, tlv_type: u32) -> Option<Field> {
        self.fields.iter().find(|f| f.tlv_type == tlv_type).copied()
    }

    /// Byte range from ApplicationParameters to the end of the Interest.
    fn parameters_range(&self) -> Option<Range<usize>> {
        let first = self.read_field(tt::APPLICATION_PARAMETERS)?;
        let end = self.fields.last()?.end as usize;
        Some(first.start as usize..end)
    }

    /// The whole encoding.
    #[must_use]
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The name.
    #[must_use]
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// CanBePrefix.
    #[must_use]
    pub fn can_be_prefix(&self) -> bool {
        self.can_be_prefix
    }

    /// MustBeFresh.
    #[must_use]
    pub fn must_be_fresh(&self) -> bool {
        self.must_be_fresh
    }

    /// The Nonce, if present.
    #[must_use]
    pub fn nonce(&self) -> Option<[u8; 4]> {
        self.nonce
    }

    /// InterestLifetime in milliseconds, if present.
    #[must_use]
    pub fn lifetime_ms(&self) -> Option<u64> {
        self.lifetime_ms
    }

    /// InterestLifetime in milliseconds, with the default applied.
    #[must_use]
    pub fn effective_lifetime_ms(&self) -> u64 {
        self.lifetime_ms.unwrap_or(DEFAULT_LIFETIME_MS)
    }

    /// HopLimit, if present.
    #[must_use]
    pub fn hop_limit(&self) -> Option<u8> {
        self.hop_limit
    }

    /// The function-name stack, if this is a chained Interest.
    #[must_use]
    pub fn function_chain(&self) -> Option<&FunctionChain> {
        self.function_chain.as_deref()
    }

    /// ApplicationParameters (TLV-VALUE), if present.
    #[must_use]
    pub fn app_parameters(&self) -> Option<&Bytes> {
        self.app_parameters.as_ref()
    }

    /// True if the Interest carries an InterestSignatureInfo.
    #[must_use]
    pub fn is_signed(&self) -> bool {
        self.signature_info.is_some()
    }

    /// InterestSignatureInfo.
    #[must_use]
    pub fn signature_info(&self) -> Option<&SignatureInfo> {
        self.signature_info.as_deref()
    }

    /// InterestSignatureValue (TLV-VALUE), if present.
    #[must_use]
    pub fn signature_value(&self) -> Option<&Bytes> {
        self.signature_value.as_ref()
    }

    /// The names in the ForwardingHint (empty if absent).
    #[must_use]
    pub fn forwarding_hint(&self) -> &[Name] {
        &self.forwarding_hint
    }

    /// The signed portion of a signed Interest: the name's components except the parameters
    /// digest, then ApplicationParameters through InterestSignatureInfo.
    #[must_use]
    pub fn signed_portion(&self) -> Option<Vec<&[u8]>> {
        let sig_info = self.read_field(tt::INTEREST_SIGNATURE_INFO)?;
        let params = self.read_field(tt::APPLICATION_PARAMETERS)?;
        let mut parts: Vec<&[u8]> = (0..self.name.len())
            .filter_map(|i| self.name.component_wire(i))
            .filter(|w| w.first() != Some(&(tt::PARAMETERS_SHA256_DIGEST_COMPONENT as u8)))
            .collect();
        parts.push(&self.wire[params.start as usize..sig_info.end as usize]);
        Some(parts)
    }

    /// Verifies the Interest signature with `key`.
    pub fn verify(&self, key: &VerifyKey) -> Result<()> {
        let info = self
            .signature_info()
            .ok_or(Error::Missing("InterestSignatureInfo"))?;
        let value = self
            .signature_value
            .as_ref()
            .ok_or(Error::Missing("InterestSignatureValue"))?;
        let parts = self
            .signed_portion()
            .ok_or(Error::Missing("ApplicationParameters"))?;
        key.verify(info.signature_type, &parts, value)
    }

    /// Returns a copy of the wire with the edits applied; untouched elements are copied as
    /// they were, unknown ones included. Popping a function never touches the name,
    /// ApplicationParameters or the signature, so a signed Interest stays valid.
    #[must_use]
    pub fn edited(&self, edit: &InterestEdit) -> Bytes {
        let plan = self.plan_edit(edit);
        let mut buf = BytesMut::with_capacity(plan.encoded_len());
        self.write_edited(&plan, &mut buf);
        buf.freeze()
    }

    /// Works out an edit (the popped stack, where a missing Nonce goes, the new length) so that
    /// the edited Interest can be written straight into a larger buffer — a forwarder writes
    /// it behind its LpPacket header, in one pass and one allocation.
    #[must_use]
    pub fn plan_edit(&self, edit: &InterestEdit) -> EditPlan {
        let popped = if edit.pop_function {
            self.function_chain.as_deref().map(FunctionChain::popped)
        } else {
            None
        };
        let nonce_missing = edit.nonce.is_some() && self.nonce.is_none();
        // Where a missing Nonce goes: after the last element that precedes Nonce in order.
        let insert_nonce_after = nonce_missing.then(|| {
            let mut last_order = 0;
            let mut pos = 0;
            for (i, f) in self.fields.iter().enumerate() {
                if let Some(o) = order_of(f.tlv_type) {
                    last_order = o;
                }
                if last_order < 4 {
                    pos = i;
                }
            }
            pos
        });
        let dropped_skipped = match popped {
            Some(None) => self.dropped_with_function_names(),
            _ => 0..0,
        };
        let nonce_len = tlv_len(tt::NONCE, 4);
        let mut value_len = 0usize;
        // Only the elements that were read are edited (skipped ones are SKIPPED): a HopLimit
        // copy that decoding skipped may lie inside the ParametersSha256Digest's range.
        for (i, f) in self.fields.iter().enumerate() {
            value_len += match f.tlv_type {
                SKIPPED if dropped_skipped.contains(&i) => 0,
                tt::NONCE if edit.nonce.is_some() => nonce_len,
                tt::HOP_LIMIT if edit.hop_limit.is_some() => tlv_len(tt::HOP_LIMIT, 1),
                tt::FUNCTION_NAMES if popped.is_some() => popped
                    .as_ref()
                    .and_then(Option::as_ref)
                    .map_or(0, FunctionChain::encoded_len),
                _ => f.range().len(),
            };
            if insert_nonce_after == Some(i) {
                value_len += nonce_len;
            }
        }
        EditPlan {
            edit: *edit,
            popped,
            insert_nonce_after,
            dropped_skipped,
            value_len,
        }
    }

    /// The fields after FunctionNames up to the next element that was read: a known element
    /// skipped there (out of order behind FunctionNames, say a HopLimit) would come into order
    /// once the last function is popped and FunctionNames goes, and the next hop would read
    /// what this one ignored — a HopLimit the sender hid, or one too long to decode. So an
    /// edit that removes FunctionNames leaves those skipped elements out, as ndn-cxx drops
    /// what it did not read when it re-encodes. The range never reaches ApplicationParameters,
    /// which is read, so the parameters digest's range is untouched.
    fn dropped_with_function_names(&self) -> Range<usize> {
        let Some(at) = self
            .fields
            .iter()
            .position(|f| f.tlv_type == tt::FUNCTION_NAMES)
        else {
            return 0..0;
        };
        let end = self.fields[at + 1..]
            .iter()
            .position(|f| order_of(f.tlv_type).is_some())
            .map_or(self.fields.len(), |n| at + 1 + n);
        at + 1..end
    }

    /// Writes this Interest with `plan` (made by [`Interest::plan_edit`] on this Interest)
    /// applied: exactly [`EditPlan::encoded_len`] bytes.
    pub fn write_edited(&self, plan: &EditPlan, buf: &mut impl BufMut) {
        let edit = &plan.edit;
        put_header(buf, tt::INTEREST, plan.value_len);
        for (i, f) in self.fields.iter().enumerate() {
            match (f.tlv_type, edit.nonce, edit.hop_limit) {
                (SKIPPED, _, _) if plan.dropped_skipped.contains(&i) => {}
                (tt::NONCE, Some(n), _) => put_tlv(buf, tt::NONCE, &n),
                (tt::HOP_LIMIT, _, Some(h)) => put_tlv(buf, tt::HOP_LIMIT, &[h]),
                (tt::FUNCTION_NAMES, _, _) if plan.popped.is_some() => {
                    if let Some(Some(rest)) = &plan.popped {
                        rest.encode_to(buf);
                    }
                }
                _ => buf.put_slice(&self.wire[f.range()]),
            }
            if plan.insert_nonce_after == Some(i)
                && let Some(n) = edit.nonce
            {
                put_tlv(buf, tt::NONCE, &n);
            }
        }
    }

    /// A builder holding this Interest's fields (unknown elements are not carried over).
    #[must_use]
    pub fn to_builder(&self) -> InterestBuilder {
        InterestBuilder {
            name: self.name.clone(),
            can_be_prefix: self.can_be_prefix,
            must_be_fresh: self.must_be_fresh,
            forwarding_hint: self.forwarding_hint.clone(),
            nonce: self.nonce,
            lifetime_ms: self.lifetime_ms,
            hop_limit: self.hop_limit,
            function_chain: self.function_chain.as_deref().cloned(),
            app_parameters: self.app_parameters.clone(),
            signature: self
                .signature_info
                .as_deref()
                .cloned()
                .zip(self.signature_value.clone()),
        }
    }

    /// True if `data` satisfies this Interest by name and function chain (freshness is the
    /// content store's business). The Data's implicit digest is computed only when the
    /// Interest's last component is an ImplicitSha256DigestComponent.
    pub fn matches(&self, data: &crate::data::Data) -> bool {
        if self.function_chain.as_deref() != data.function_chain() {
            return false;
        }
        let dn = data.name();
        if self.name.len() == dn.len() + 1
            && self.name.last_type().map(u32::from) == Some(tt::IMPLICIT_SHA256_DIGEST_COMPONENT)
        {
            return self.name.prefix_value(dn.len()) == dn.value_bytes().as_ref()
                && self
                    .name
                    .component_parts(dn.len())
                    .is_some_and(|(_, v)| v == data.implicit_digest());
        }
        if self.can_be_prefix {
            self.name.is_prefix_of(dn)
        } else {
            self.name == *dn
        }
    }
}

fn is_params_digest(c: &Component) -> bool {
    u32::from(c.tlv_type()) == tt::PARAMETERS_SHA256_DIGEST_COMPONENT
}

/// Builds Interests.
#[derive(Debug, Clone, Default)]
pub struct InterestBuilder {
    /// Name. With ApplicationParameters set, a ParametersSha256DigestComponent in it is
    /// replaced by the computed digest where it stands; without one, the digest is appended.
    pub name: Name,
    /// CanBePrefix.
    pub can_be_prefix: bool,
    /// MustBeFresh.
    pub must_be_fresh: bool,
    /// ForwardingHint names.
    pub forwarding_hint: Vec<Name>,
    /// Nonce.
    pub nonce: Option<[u8; 4]>,
    /// InterestLifetime in milliseconds.
    pub lifetime_ms: Option<u64>,
    /// HopLimit.
    pub hop_limit: Option<u8>,
    /// Function-name stack.
    pub function_chain: Option<FunctionChain>,
    /// ApplicationParameters.
    pub app_parameters: Option<Bytes>,
    /// A precomputed signature (info, value) to carry as is.
    pub signature: Option<(SignatureInfo, Bytes)>,
}

impl InterestBuilder {
    /// A builder for `name`.
    #[must_use]
    pub fn new(name: Name) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    /// Sets CanBePrefix.
    #[must_use]
    pub fn can_be_prefix(mut self, v: bool) -> Self {
        self.can_be_prefix = v;
        self
    }

    /// Sets MustBeFresh.
    #[must_use]
    pub fn must_be_fresh(mut self, v: bool) -> Self {
        self.must_be_fresh = v;
        self
    }

    /// Sets the Nonce.
    #[must_use]
    pub fn nonce(mut self, n: [u8; 4]) -> Self {
        self.nonce = Some(n);
        self
    }

    /// Sets InterestLifetime.
    #[must_use]
    pub fn lifetime_ms(mut self, ms: u64) -> Self {
        self.lifetime_ms = Some(ms);
        self
    }

    /// Sets HopLimit.
    #[must_use]
    pub fn hop_limit(mut self, h: u8) -> Self {
        self.hop_limit = Some(h);
        self
    }

    /// Sets the function-name stack.
    #[must_use]
    pub fn function_chain(mut self, chain: Option<FunctionChain>) -> Self {
        self.function_chain = chain;
        self
    }

    /// Sets ApplicationParameters.
    #[must_use]
    pub fn app_parameters(mut self, p: impl Into<Bytes>) -> Self {
        self.app_parameters = Some(p.into());
        self
    }

    /// Sets the ForwardingHint.
    #[must_use]
    pub fn forwarding_hint(mut self, names: Vec<Name>) -> Self {
        self.forwarding_hint = names;
        self
    }

    fn hint_value_len(&self) -> usize {
        self.forwarding_hint.iter().map(Name::encoded_len).sum()
    }

    /// Encoded length of the elements from ApplicationParameters on (excluding the signature
    /// value when `with_sig_value` is false).
    fn params_part(&self, buf: &mut impl BufMut, sig: Option<(&SignatureInfo, Option<&Bytes>)>) {
        if let Some(p) = &self.app_parameters {
            put_tlv(buf, tt::APPLICATION_PARAMETERS, p);
        }
        if let Some((info, value)) = sig {
            info.encode_to(buf, tt::INTEREST_SIGNATURE_INFO);
            if let Some(v) = value {
                put_tlv(buf, tt::INTEREST_SIGNATURE_VALUE, v);
            }
        }
    }

    fn params_part_bytes(&self, sig: Option<(&SignatureInfo, Option<&Bytes>)>) -> BytesMut {
        let mut b = BytesMut::new();
        self.params_part(&mut b, sig);
        b
    }

    /// Encodes the Interest. If ApplicationParameters are set, the parameters digest is
    /// computed and appended to the name.
    #[must_use]
    pub fn encode(&self) -> Bytes {
        let sig = self.signature.as_ref().map(|(i, v)| (i, Some(v)));
        let tail = self.params_part_bytes(sig);
        self.encode_with_tail(&tail)
    }

    fn encode_with_tail(&self, tail: &[u8]) -> Bytes {
        let name = if self.app_parameters.is_some() {
            // The digest replaces a ParametersSha256DigestComponent already in the name, where
            // it is (it need not be last), or is appended.
            let digest = Component::parameters_digest(&sha256(&[tail]));
            match self.name.components().position(|c| is_params_digest(&c)) {
                Some(at) => self
                    .name
                    .components()
                    .enumerate()
                    .map(|(i, c)| if i == at { digest.clone() } else { c })
                    .collect(),
                None => self.name.append(&digest),
            }
        } else {
            self.name.clone()
        };
        let hint_len = self.hint_value_len();
        let value_len = name.encoded_len()
            + if self.can_be_prefix {
                tlv_len(tt::CAN_BE_PREFIX, 0)
            } else {
                0
            }
            + if self.must_be_fresh {
                tlv_len(tt::MUST_BE_FRESH, 0)
            } else {
                0
            }
            + if self.forwarding_hint.is_empty() {
                0
            } else {
                tlv_len(tt::FORWARDING_HINT, hint_len)
            }
            + self.nonce.map_or(0, |_| tlv_len(tt::NONCE, 4))
            + self
                .lifetime_ms
                .map_or(0, |l| nni_tlv_len(tt::INTEREST_LIFETIME, l))
            + self.hop_limit.map_or(0, |_| tlv_len(tt::HOP_LIMIT, 1))
            + self
                .function_chain
                .as_ref()
                .map_or(0, FunctionChain::encoded_len)
            + tail.len();
        let mut buf = BytesMut::with_capacity(tlv_len(tt::INTEREST, value_len));
        put_header(&mut buf, tt::INTEREST, value_len);
        name.encode_to(&mut buf);
        if self.can_be_prefix {
            put_header(&mut buf, tt::CAN_BE_PREFIX, 0);
        }
        if self.must_be_fresh {
            put_header(&mut buf, tt::MUST_BE_FRESH, 0);
        }
        if !self.forwarding_hint.is_empty() {
            put_header(&mut buf, tt::FORWARDING_HINT, hint_len);
            for n in &self.forwarding_hint {
                n.encode_to(&mut buf);
            }
        }
        if let Some(n) = self.nonce {
            put_tlv(&mut buf, tt::NONCE, &n);
        }
        if let Some(l) = self.lifetime_ms {
            put_nni_tlv(&mut buf, tt::INTEREST_LIFETIME, l);
        }
        if let Some(h) = self.hop_limit {
            put_tlv(&mut buf, tt::HOP_LIMIT, &[h]);
        }
        if let Some(c) = &self.function_chain {
            c.encode_to(&mut buf);
        }
        buf.put_slice(tail);
        buf.freeze()
    }

    /// Encodes and decodes (convenient where an [`Interest`] value is wanted).
    pub fn build(&self) -> Result<Interest> {
        Interest::decode(self.encode())
    }

    /// Signs the Interest in the v0.3 format: `info` (usually from [`Signer::signature_info`]
    /// with SignatureNonce/SignatureTime added) goes in InterestSignatureInfo; empty
    /// ApplicationParameters are added if there are none.
    pub fn sign(mut self, signer: &Signer, info: SignatureInfo) -> Result<Interest> {
        if self.app_parameters.is_none() {
            self.app_parameters = Some(Bytes::new());
        }
        let signed_tail = self.params_part_bytes(Some((&info, None)));
        let mut parts: Vec<&[u8]> = (0..self.name.len())
            .filter_map(|i| self.name.component_wire(i))
            .filter(|w| w.first() != Some(&(tt::PARAMETERS_SHA256_DIGEST_COMPONENT as u8)))
            .collect();
        parts.push(&signed_tail);
        let value = signer.sign(&parts)?;
        let tail = self.params_part_bytes(Some((&info, Some(&value))));
        let wire = self.encode_with_tail(&tail);
        self.signature = Some((info, value));
        Interest::decode(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of `hex`, whitespace and other non-hex characters ignored.
    fn from_hex(hex: &str) -> Vec<u8> {
        let hex: String = hex.chars().filter(char::is_ascii_hexdigit).collect();
        (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
            .collect()
    }

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn minimal_interest_decodes() {
        // Interest{ Name{ 8 "a" } }
        let wire = Bytes::from_static(&[0x05, 0x05, 0x07, 0x03, 0x08, 0x01, b'a']);
        let i = Interest::decode(wire.clone()).unwrap();
        assert_eq!(i.name().to_string(), "/a");
        assert_eq!(i.effective_lifetime_ms(), 4000);
        assert_eq!(i.to_builder().encode(), wire);
    }

    #[test]
    fn every_field_round_trips() {
        let chain: FunctionChain = "/sf/F2,/sf/F1".parse().unwrap();
        let b = InterestBuilder::new(name("/a/b"))
            .can_be_prefix(true)
            .must_be_fresh(true)
            .forwarding_hint(vec![name("/hint/1"), name("/hint/2")])
            .nonce([1, 2, 3, 4])
            .lifetime_ms(1000)
            .hop_limit(9)
            .function_chain(Some(chain.clone()))
            .app_parameters(Bytes::from_static(b"params"));
        let wire = b.encode();
        let i = Interest::decode(wire.clone()).unwrap();
        assert!(i.can_be_prefix() && i.must_be_fresh());
        assert_eq!(i.forwarding_hint().len(), 2);
        assert_eq!(i.nonce(), Some([1, 2, 3, 4]));
        assert_eq!(i.lifetime_ms(), Some(1000));
        assert_eq!(i.hop_limit(), Some(9));
        assert_eq!(i.function_chain(), Some(&chain));
        assert_eq!(i.name().len(), 3);
        assert_eq!(i.to_builder().encode(), wire);
    }

    #[test]
    fn structure_rules() {
        let good = InterestBuilder::new(name("/a")).nonce([0; 4]).encode();
        // Nonce of 3 bytes.
        let mut bad = good.to_vec();
        bad[1] -= 1;
        bad[8] = 3;
        bad.pop();
        assert!(Interest::decode(Bytes::from(bad)).is_err());
        // Unknown critical element (type 31) at the end.
        let mut v = good.to_vec();
        v.extend_from_slice(&[31, 0]);
        v[1] += 2;
        assert_eq!(
            Interest::decode(Bytes::from(v)).unwrap_err(),
            Error::UnknownCritical(31)
        );
        // Unknown non-critical element (type 200) is skipped and kept on edit.
        let mut v = good.to_vec();
        v.extend_from_slice(&[200, 1, 7]);
        v[1] += 3;
        let i = Interest::decode(Bytes::from(v.clone())).unwrap();
        assert_eq!(&i.edited(&InterestEdit::default())[..], &v[..]);
        // Out-of-order critical: MustBeFresh after Nonce.
        let mut v = good.to_vec();
        v.extend_from_slice(&[18, 0]);
        v[1] += 2;
        assert_eq!(
            Interest::decode(Bytes::from(v)).unwrap_err(),
            Error::OutOfOrder(18)
        );
        // Empty name.
        assert!(Interest::decode(Bytes::from_static(&[5, 2, 7, 0])).is_err());
    }

    #[test]
    fn parameters_digest_is_checked() {
        let wire = InterestBuilder::new(name("/a"))
            .app_parameters(Bytes::from_static(b"x"))
            .encode();
        assert!(Interest::decode(wire.clone()).is_ok());
        let mut v = wire.to_vec();
        let last = v.len() - 1;
        v[last] = b'y';
        assert_eq!(
            Interest::decode(Bytes::from(v)).unwrap_err(),
            Error::ParametersDigestMismatch
        );
    }

    #[test]
    fn a_digest_component_and_parameters_go_together_once() {
        let with_params = InterestBuilder::new(name("/a"))
            .app_parameters(Bytes::from_static(b"x"))
            .build()
            .unwrap();
        let digest = with_params.name().get(1).unwrap();
        let interest = |n: &Name, params: Option<&[u8]>| {
            let mut wire = BytesMut::new();
            let mut value = BytesMut::new();
            n.encode_to(&mut value);
            value.put_slice(&[0x0A, 4, 1, 2, 3, 4]);
            if let Some(p) = params {
                put_tlv(&mut value, tt::APPLICATION_PARAMETERS, p);
            }
            put_tlv(&mut wire, tt::INTEREST, &value);
            Interest::decode(wire.freeze())
        };
        let once = name("/a").append(&digest);
        assert!(interest(&once, Some(b"x")).is_ok());
        assert_eq!(
            interest(&once, None).unwrap_err(),
            Error::Missing("ApplicationParameters")
        );
        assert_eq!(
            interest(&name("/a"), Some(b"x")).unwrap_err(),
            Error::Missing("ParametersSha256DigestComponent")
        );
        assert!(matches!(
            interest(&once.append(&digest), Some(b"x")).unwrap_err(),
            Error::InvalidValue {
                reason: "repeated",
                ..
            }
        ));
    }

    #[test]
    fn edit_adds_nonce_sets_hop_limit_and_pops() {
        let chain: FunctionChain = "/f/2,/f/1".parse().unwrap();
        let i = InterestBuilder::new(name("/c"))
            .can_be_prefix(true)
            .lifetime_ms(100)
            .hop_limit(5)
            .function_chain(Some(chain))
            .build()
            .unwrap();
        let out = Interest::decode(i.edited(&InterestEdit {
            nonce: Some([9, 9, 9, 9]),
            hop_limit: Some(4),
            pop_function: true,
        }))
        .unwrap();
        assert_eq!(out.nonce(), Some([9, 9, 9, 9]));
        assert_eq!(out.hop_limit(), Some(4));
        assert_eq!(out.function_chain().unwrap().to_string(), "/f/1");
        assert!(out.can_be_prefix());
        assert_eq!(out.lifetime_ms(), Some(100));
        let last = Interest::decode(out.edited(&InterestEdit {
            pop_function: true,
            ..Default::default()
        }))
        .unwrap();
        assert!(last.function_chain().is_none());
    }

    #[test]
    fn out_of_order_hop_limit_inside_the_digest_range_is_not_edited() {
        // Found by the `interest` fuzz target: a HopLimit after ApplicationParameters is
        // skipped by decoding (non-critical, out of order) but lies inside the range the
        // ParametersSha256Digest covers, so an edit that rewrote it broke the digest.
        let hex = "056b073308036e646e0804746573740804\
                   66756c6c02209390d98135cfd5bdcc6ffe8cca9c9edb3b2561a46f83f021283797edcba2ee60\
                   210012001e1907090802666808036f6e65070c080266680803742710220120\
                   240801020368 0c02271022012024088102036 8656c6c6f";
        let i = Interest::decode(Bytes::from(from_hex(hex))).unwrap();
        assert_eq!(i.hop_limit(), None, "the out-of-order HopLimit is not read");
        let out = Interest::decode(i.edited(&InterestEdit {
            nonce: Some([1, 2, 3, 4]),
            hop_limit: Some(1),
            pop_function: true,
        }))
        .expect("the edited Interest keeps its parameters digest");
        assert_eq!(out.name(), i.name());
        assert_eq!(out.hop_limit(), None);
        assert_eq!(out.nonce(), Some([1, 2, 3, 4]));
        assert_eq!(out.app_parameters(), i.app_parameters());

        // The same with a HopLimit that was read, before the parameters, and a copy after.
        let built = InterestBuilder::new(name("/p"))
            .hop_limit(9)
            .app_parameters(Bytes::from_static(b"x"))
            .encode();
        let mut v = built.to_vec();
        v.extend_from_slice(&[0x22, 0x01, 0x07]);
        v[1] += 3;
        // The digest covers the appended copy too: recompute it in place.
        let params_at = v.len() - 3 - 3; // ApplicationParameters "x" is 3 bytes.
        let digest = sha256(&[&v[params_at..]]);
        let old = Interest::decode(built).unwrap();
        let old_digest = old.name().get(1).unwrap().value().to_vec();
        let at = v.windows(32).position(|w| w == old_digest).unwrap();
        v[at..at + 32].copy_from_slice(&digest);
        let i = Interest::decode(Bytes::from(v)).expect("a skipped copy after the digest is fine");
        let out = Interest::decode(i.edited(&InterestEdit {
            hop_limit: Some(8),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(out.hop_limit(), Some(8));
        assert_eq!(
            out.wire().last(),
            Some(&0x07),
            "the skipped copy is carried unchanged"
        );
    }

    /// The Interest of `chain` with `tail` appended after its last element (FunctionNames).
    fn with_elements_after_function_names(chain: &str, tail: &[u8]) -> Interest {
        let built = InterestBuilder::new(name("/c"))
            .function_chain(Some(chain.parse().unwrap()))
            .encode();
        let mut v = built.to_vec();
        assert!(
            v[1] as usize + tail.len() < 253,
            "a one-byte length in this test"
        );
        v[1] += u8::try_from(tail.len()).unwrap();
        v.extend_from_slice(tail);
        Interest::decode(Bytes::from(v)).unwrap()
    }

    #[test]
    fn popping_the_last_function_does_not_bring_a_skipped_element_into_order() {
        // Found by the `interest` fuzz target: a HopLimit behind FunctionNames is out of
        // order, so decoding skips it (non-critical). Popping the last function removed
        // FunctionNames and put the copy in order: the edited Interest no longer decoded (its
        // value was 8 bytes), and a 1-byte one would have taken effect at the next hop.
        let unknown = [0xc8, 0x01, 0xaa]; // type 200: unknown, non-critical
        let hidden_hop_limit = [0x22, 0x01, 0x00];
        let tail = [unknown, hidden_hop_limit].concat();
        let i = with_elements_after_function_names("/f/a", &tail);
        assert_eq!(
            i.hop_limit(),
            None,
            "the HopLimit behind FunctionNames is not read"
        );
        let plan = i.plan_edit(&InterestEdit {
            pop_function: true,
            ..Default::default()
        });
        let mut wire = BytesMut::new();
        i.write_edited(&plan, &mut wire);
        assert_eq!(wire.len(), plan.encoded_len());
        let out = Interest::decode(wire.freeze()).unwrap();
        assert!(out.function_chain().is_none());
        assert_eq!(
            out.hop_limit(),
            None,
            "the hidden HopLimit stays without effect"
        );
        assert!(
            out.wire().ends_with(&unknown),
            "an unknown element is carried, the skipped HopLimit is not"
        );

        // With a function left, FunctionNames stays and so does the skipped copy behind it.
        let i = with_elements_after_function_names("/f/a,/f/b", &tail);
        let out = Interest::decode(i.edited(&InterestEdit {
            pop_function: true,
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(out.function_chain().unwrap().to_string(), "/f/b");
        assert_eq!(out.hop_limit(), None);
        assert!(out.wire().ends_with(&tail));

        // The fuzzer's input: an 8-byte HopLimit behind the only function.
        let fuzzed = "0539071108037207 08a500fd000a006c 0432321200ca0401 020304e114071208\
                      0273660802463307 0808027300086602 4622080702739ef7 fdb931";
        let i = Interest::decode(Bytes::from(from_hex(fuzzed))).unwrap();
        let out = Interest::decode(i.edited(&InterestEdit {
            nonce: Some([1, 2, 3, 4]),
            hop_limit: Some(1),
            pop_function: true,
        }))
        .expect("the edited Interest decodes");
        assert_eq!(out.name(), i.name());
        assert_eq!(out.hop_limit(), None);
        assert!(out.function_chain().is_none());
    }

    #[test]
    fn signed_interest_survives_pop() {
        let signer = Signer::hmac_sha256(b"k", name("/key"));
        let mut info = signer.signature_info();
        info.nonce = Some(Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]));
        info.time = Some(1_700_000_000_000);
        let i = InterestBuilder::new(name("/cmd"))
            .function_chain(Some("/f/a,/f/b".parse().unwrap()))
            .sign(&signer, info)
            .unwrap();
        let key = VerifyKey::Hmac(b"k".to_vec());
        i.verify(&key).unwrap();
        let popped = Interest::decode(i.edited(&InterestEdit {
            pop_function: true,
            ..Default::default()
        }))
        .unwrap();
        popped.verify(&key).unwrap();
        assert_eq!(
            popped
                .to_builder()
                .sign(&signer, i.signature_info().unwrap().clone())
                .unwrap()
                .signature_value(),
            i.signature_value()
        );
    }
}

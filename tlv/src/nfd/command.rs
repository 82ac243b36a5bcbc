//! Command Interests in the two signing formats NFD accepts.
//!
//! - v0.3 (python-ndn `NDNAppv2`, NDNts, current ndn-cxx):
//!   `/localhost/nfd/<module>/<verb>/<ControlParameters>/params-sha256=…`, an ordinary v0.3 signed
//!   Interest (ApplicationParameters, possibly empty; InterestSignatureInfo with SignatureNonce
//!   and SignatureTime; InterestSignatureValue).
//! - v0.2 (python-ndn `NDNApp`, older ndn-cxx): everything lives in the name,
//!   `/localhost/nfd/<module>/<verb>/<ControlParameters>/<timestamp>/<nonce>/<SignatureInfo>/<SignatureValue>`,
//!   each of the last five a GenericNameComponent; the timestamp is a NonNegativeInteger in
//!   milliseconds, the last two hold whole SignatureInfo (22) and SignatureValue (23) elements.
//!   The signature covers the name's TLV-VALUE up to, not including, the SignatureValue
//!   component (the concatenated wire encodings of the first n−1 components). python-ndn's
//!   `make_command` signs exactly that, and ndn-cxx signs the value of the name it has built so
//!   far, which is the same bytes.

use bytes::Bytes;

use super::{ControlParameters, Text};
use crate::element::{Element, decode_nni};
use crate::error::{Error, Result};
use crate::interest::{Interest, InterestBuilder};
use crate::name::{Component, Name};
use crate::signature::{SignatureInfo, Signer, VerifyKey};
use crate::types::{nfd as t, tt};

/// InterestLifetime of the command Interests we build (python-ndn uses the same).
pub const COMMAND_LIFETIME_MS: u64 = 1000;

/// Components of `/localhost/nfd/<module>/<verb>/<ControlParameters>`.
const BASE_LEN: usize = 5;
/// The v0.2 format adds timestamp, nonce, SignatureInfo and SignatureValue.
const V02_LEN: usize = BASE_LEN + 4;
/// The v0.3 format adds the parameters digest.
const V03_LEN: usize = BASE_LEN + 1;

/// Which signing format a command Interest uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandFormat {
    /// Signature in the last four name components.
    V02,
    /// Signed Interest of NDN Packet Format v0.3.
    V03,
}

/// A parsed command Interest.
#[derive(Debug, Clone)]
pub struct ControlCommand {
    interest: Interest,
    format: CommandFormat,
    localhop: bool,
    module: Text,
    verb: Text,
    parameters: ControlParameters,
    signature_info: SignatureInfo,
    signature_value: Bytes,
    timestamp_ms: Option<u64>,
    nonce: Option<Bytes>,
}

/// The TLV-VALUE of a component, sharing its buffer.
fn component_value(c: &Component) -> Bytes {
    let wire = c.wire();
    wire.slice(wire.len() - c.value().len()..)
}

fn bad(reason: &'static str) -> Error {
    Error::InvalidValue {
        field: "command Interest",
        reason,
    }
}

/// Component `i` of `name`, which must be a GenericNameComponent.
fn generic_at(name: &Name, i: usize, what: &'static str) -> Result<Component> {
    let c = name.get(i).ok_or(Error::Missing(what))?;
    if u32::from(c.tlv_type()) != tt::GENERIC_NAME_COMPONENT {
        return Err(bad("signature components must be generic name components"));
    }
    Ok(c)
}

/// An element of type `tlv_type` filling the whole value of component `i`.
fn element_in(name: &Name, i: usize, tlv_type: u32, what: &'static str) -> Result<Element> {
    let el = Element::decode_exact(&component_value(&generic_at(name, i, what)?))?;
    if el.tlv_type() != tlv_type {
        return Err(Error::UnexpectedType {
            expected: tlv_type,
            found: el.tlv_type(),
        });
    }
    Ok(el)
}

impl ControlCommand {
    /// Recognises a command Interest in either format and extracts its parts. Checks structure
    /// only: the caller verifies the signature ([`Self::verify`]) and the timestamp and nonce
    /// against replay.
    pub fn parse(interest: &Interest) -> Result<Self> {
        let name = interest.name();
        let first = name.get(0).ok_or(Error::Missing("command prefix"))?;
        let localhop = match (first.is_generic(), first.value()) {
            (true, b"localhost") => false,
            (true, b"localhop") => true,
            _ => return Err(bad("not under /localhost/nfd or /localhop/nfd")),
        };
        match name.get(1) {
            Some(c) if c.is_generic() && c.value() == b"nfd" => {}
            _ => return Err(bad("not under /localhost/nfd or /localhop/nfd")),
        }
        let text_at = |i: usize, what: &'static str| -> Result<Text> {
            let c = name.get(i).ok_or(Error::Missing(what))?;
            Text::from_utf8(component_value(&c))
        };
        let module = text_at(2, "command module")?;
        let verb = text_at(3, "command verb")?;
        let cp = element_in(name, 4, t::CONTROL_PARAMETERS, "ControlParameters")?;
        let parameters = ControlParameters::decode(&cp)?;

        let (format, signature_info, signature_value, timestamp_ms, nonce) =
            if let Some(info) = interest.signature_info() {
                if name.len() != V03_LEN
                    || name.get(BASE_LEN).map(|c| u32::from(c.tlv_type()))
                        != Some(tt::PARAMETERS_SHA256_DIGEST_COMPONENT)
                {
                    return Err(bad("v0.3 command name must end with the parameters digest"));
                }
                if interest.app_parameters().is_none() {
                    return Err(Error::Missing("ApplicationParameters"));
                }
                let value = interest
                    .signature_value()
                    .ok_or(Error::Missing("InterestSignatureValue"))?
                    .clone();
                (
                    CommandFormat::V03,
                    info.clone(),
                    value,
                    info.time,
                    info.nonce.clone(),
                )
            } else {
                if name.len() != V02_LEN {
                    return Err(if name.len() < V02_LEN {
                        Error::Missing("command signature")
                    } else {
                        bad("extra components after the v0.2 signature")
                    });
                }
                if interest.app_parameters().is_some() {
                    return Err(bad("v0.2 command with ApplicationParameters"));
                }
                let ts = generic_at(name, BASE_LEN, "command timestamp")?;
                let timestamp = decode_nni(ts.value(), tt::GENERIC_NAME_COMPONENT)?;
                let nonce = component_value(&generic_at(name, BASE_LEN + 1, "command nonce")?);
                let info = SignatureInfo::decode(&element_in(
                    name,
                    BASE_LEN + 2,
                    tt::SIGNATURE_INFO,
                    "SignatureInfo",
                )?)?;
                let value = element_in(name, BASE_LEN + 3, tt::SIGNATURE_VALUE, "SignatureValue")?
                    .value_bytes();
                (
                    CommandFormat::V02,
                    info,
                    value,
                    Some(timestamp),
                    Some(nonce),
                )
            };
        Ok(Self {
            interest: interest.clone(),
            format,
            localhop,
            module,
            verb,
            parameters,
            signature_info,
            signature_value,
            timestamp_ms,
            nonce,
        })
    }

    /// The Interest this command came in.
    #[must_use]
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// The signing format.
    #[must_use]
    pub fn format(&self) -> CommandFormat {
        self.format
    }

    /// True under `/localhop/nfd` (remote prefix registration), false under `/localhost/nfd`.
    #[must_use]
    pub fn is_localhop(&self) -> bool {
        self.localhop
    }

    /// Module (`rib`, `faces`, `fib`, `cs`, `strategy-choice`, ...).
    #[must_use]
    pub fn module(&self) -> &str {
        self.module.as_str()
    }

    /// Verb (`register`, `create`, ...).
    #[must_use]
    pub fn verb(&self) -> &str {
        self.verb.as_str()
    }

    /// The ControlParameters.
    #[must_use]
    pub fn parameters(&self) -> &ControlParameters {
        &self.parameters
    }

    /// SignatureInfo (v0.2: from the name; v0.3: the InterestSignatureInfo).
    #[must_use]
    pub fn signature_info(&self) -> &SignatureInfo {
        &self.signature_info
    }

    /// TLV-VALUE of the SignatureValue.
    #[must_use]
    pub fn signature_value(&self) -> &Bytes {
        &self.signature_value
    }

    /// Milliseconds since the Unix epoch: the v0.2 timestamp component or the v0.3
    /// SignatureTime (absent if a v0.3 command carries none).
    #[must_use]
    pub fn timestamp_ms(&self) -> Option<u64> {
        self.timestamp_ms
    }

    /// The v0.2 nonce component's value or the v0.3 SignatureNonce.
    #[must_use]
    pub fn nonce(&self) -> Option<&Bytes> {
        self.nonce.as_ref()
    }

    /// The bytes the signature covers, in order (to be hashed or verified as one message).
    #[must_use]
    pub fn signed_portion(&self) -> Vec<&[u8]> {
        match self.format {
            CommandFormat::V02 => {
                let value = self.interest.name().value_bytes();
                let last = self
                    .interest
                    .name()
                    .component_wire(V02_LEN - 1)
                    .map_or(0, <[u8]>::len);
                value
                    .get(..value.len() - last)
                    .map_or_else(Vec::new, |v| vec![v])
            }
            CommandFormat::V03 => self.interest.signed_portion().unwrap_or_default(),
        }
    }

    /// Verifies the signature with `key`.
    pub fn verify(&self, key: &VerifyKey) -> Result<()> {
        key.verify(
            self.signature_info.signature_type,
            &self.signed_portion(),
            &self.signature_value,
        )
    }
}

/// `/localhost/nfd/<module>/<verb>/<ControlParameters>`.
fn base_name(module: &str, verb: &str, params: &ControlParameters) -> Name {
    Name::new()
        .append_generic(b"localhost")
        .append_generic(b"nfd")
        .append_generic(module.as_bytes())
        .append_generic(verb.as_bytes())
        .append_generic(&params.to_wire())
}

/// The Interest Nonce of a command we build: the low four bytes of the command nonce, so that
/// the output is a function of the arguments (and matches python-ndn fixtures).
fn interest_nonce(nonce: u64) -> [u8; 4] {
    let b = nonce.to_be_bytes();
    [b[4], b[5], b[6], b[7]]
}

/// Builds a v0.3 command Interest: SignatureNonce is `nonce` (8 bytes, big-endian),
/// SignatureTime is `time_ms`, ApplicationParameters are empty, InterestLifetime is
/// [`COMMAND_LIFETIME_MS`].
pub fn make_command_v03(
    module: &str,
    verb: &str,
    params: &ControlParameters,
    signer: &Signer,
    nonce: u64,
    time_ms: u64,
) -> Result<Interest> {
    let mut info = signer.signature_info();
    info.nonce = Some(Bytes::copy_from_slice(&nonce.to_be_bytes()));
    info.time = Some(time_ms);
    InterestBuilder::new(base_name(module, verb, params))
        .nonce(interest_nonce(nonce))
        .lifetime_ms(COMMAND_LIFETIME_MS)
        .sign(signer, info)
}

/// Builds a v0.2 command Interest: timestamp `timestamp_ms` and `nonce` as 8-byte components
/// (as python-ndn writes them), the signer's SignatureInfo, then the signature over all
/// components so far; InterestLifetime is [`COMMAND_LIFETIME_MS`].
pub fn make_command_v02(
    module: &str,
    verb: &str,
    params: &ControlParameters,
    signer: &Signer,
    nonce: u64,
    timestamp_ms: u64,
) -> Result<Interest> {
    let name = base_name(module, verb, params)
        .append_generic(&timestamp_ms.to_be_bytes())
        .append_generic(&nonce.to_be_bytes())
        .append_generic(&signer.signature_info().to_wire(tt::SIGNATURE_INFO));
    let value = signer.sign(&[name.value_bytes()])?;
    let name = name.append_generic(Element::new(tt::SIGNATURE_VALUE, &value).wire());
    InterestBuilder::new(name)
        .nonce(interest_nonce(nonce))
        .lifetime_ms(COMMAND_LIFETIME_MS)
        .build()
}

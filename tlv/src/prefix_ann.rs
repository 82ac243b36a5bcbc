//! Prefix announcements (ndn-cxx's `PrefixAnnouncement`), as NFD's self-learning strategy
//! carries them in the NDNLPv2 PrefixAnnouncement field (848) of a Data.
//!
//! An announcement is a signed Data named `/<prefix>/32=PA/<version>/<segment=0>` with
//! ContentType PrefixAnn (5) whose Content holds ExpirationPeriod (109, milliseconds) and
//! optionally a ValidityPeriod (253: NotBefore 254, NotAfter 255, `YYYYMMDDThhmmss` UTC).
//! Decoding applies ndn-cxx's checks (name structure, ContentType, non-empty Content,
//! ExpirationPeriod present, no unknown critical element) and never panics.

use bytes::{BufMut, Bytes, BytesMut};

use crate::data::{Data, DataBuilder};
use crate::element::{Element, Reader, nni_tlv_len, put_header, put_nni_tlv, put_tlv, tlv_len};
use crate::error::{Error, Result};
use crate::name::{Component, Name};
use crate::signature::Signer;
use crate::types::{content_type, is_critical, tt};

/// ExpirationPeriod (an NFD ControlParameters type, reused by announcements).
const EXPIRATION_PERIOD: u32 = 109;
/// `YYYYMMDDThhmmss`.
const ISO_LEN: usize = 15;

/// The `32=PA` keyword component before an announcement's version.
#[must_use]
pub fn keyword() -> Component {
    // Always valid: a keyword component with a two-byte value.
    Component::new(tt::KEYWORD_NAME_COMPONENT, b"PA").unwrap_or_else(|_| Component::generic(b"PA"))
}

/// A decoded prefix announcement.
#[derive(Debug, Clone)]
pub struct PrefixAnnouncement {
    /// The announced prefix (the Data name without its last three components).
    pub announced: Name,
    /// ExpirationPeriod, ms.
    pub expiration_ms: u64,
    /// ValidityPeriod as (NotBefore, NotAfter), seconds since the Unix epoch.
    pub validity: Option<(u64, u64)>,
    data: Data,
}

impl PrefixAnnouncement {
    /// Decodes an announcement from the wire of its Data.
    ///
    /// # Errors
    /// Anything ndn-cxx refuses: not a Data, a wrong name structure, a ContentType other than
    /// PrefixAnn, empty Content, no ExpirationPeriod, a malformed ValidityPeriod, an unknown
    /// critical element.
    pub fn decode(wire: Bytes) -> Result<Self> {
        Self::from_data(Data::decode(wire)?)
    }

    /// Reads the announcement a decoded Data carries.
    ///
    /// # Errors
    /// As [`Self::decode`].
    pub fn from_data(data: Data) -> Result<Self> {
        let name = data.name();
        let n = name.len();
        let structured = n >= 3
            && name.get(n - 3).is_some_and(|c| c == keyword())
            && name.get(n - 2).is_some_and(|c| c.as_version().is_some())
            && name.get(n - 1).is_some_and(|c| c.as_segment().is_some());
        if !structured {
            return Err(Error::InvalidValue {
                field: "PrefixAnnouncement",
                reason: "name is not /<prefix>/32=PA/<version>/<segment>",
            });
        }
        if data.content_type() != content_type::PREFIX_ANN {
            return Err(Error::InvalidValue {
                field: "PrefixAnnouncement",
                reason: "ContentType is not PrefixAnn",
            });
        }
        if data.content().is_empty() {
            return Err(Error::InvalidValue {
                field: "PrefixAnnouncement",
                reason: "Content is empty",
            });
        }
        let mut expiration_ms = None;
        let mut validity = None;
        for el in Reader::new(data.content().clone()) {
            let el = el?;
            match el.tlv_type() {
                EXPIRATION_PERIOD if expiration_ms.is_none() => {
                    expiration_ms = Some(el.as_nni()?);
                }
                tt::VALIDITY_PERIOD if validity.is_none() => validity = Some(validity_of(&el)?),
                EXPIRATION_PERIOD | tt::VALIDITY_PERIOD => {}
                t if is_critical(t) => return Err(Error::UnknownCritical(t)),
                _ => {}
            }
        }
        Ok(Self {
            announced: name.prefix(n - 3),
            expiration_ms: expiration_ms.ok_or(Error::Missing("ExpirationPeriod"))?,
            validity,
            data,
        })
    }

    /// The Data that carries the announcement, as received.
    #[must_use]
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// How long a route from this announcement lives at wall time `now_unix_ms` (NFD's
    /// `computeExpiration`): ExpirationPeriod, cut to the end of the ValidityPeriod; zero
    /// outside the ValidityPeriod.
    #[must_use]
    pub fn lifetime_ms(&self, now_unix_ms: u64) -> u64 {
        match self.validity {
            None => self.expiration_ms,
            Some((not_before, not_after)) => {
                let (from, to) = (
                    not_before.saturating_mul(1000),
                    not_after.saturating_mul(1000),
                );
                if now_unix_ms < from || now_unix_ms > to {
                    0
                } else {
                    self.expiration_ms.min(to - now_unix_ms)
                }
            }
        }
    }

    /// Encodes and signs an announcement of `announced` (ndn-cxx's `toData`): Data
    /// `/<announced>/32=PA/<version>/<segment=0>`, ContentType PrefixAnn, Content
    /// ExpirationPeriod and the optional ValidityPeriod (seconds since the epoch).
    ///
    /// # Errors
    /// The signer's.
    pub fn build(
        announced: &Name,
        expiration_ms: u64,
        validity: Option<(u64, u64)>,
        version: u64,
        signer: &Signer,
    ) -> Result<Bytes> {
        let name = announced
            .append(&keyword())
            .append_version(version)
            .append_segment(0);
        let validity_value = validity.map(|(from, to)| {
            let (a, b) = (iso8601(from), iso8601(to));
            let mut v = BytesMut::new();
            put_tlv(&mut v, tt::NOT_BEFORE, a.as_bytes());
            put_tlv(&mut v, tt::NOT_AFTER, b.as_bytes());
            v.freeze()
        });
        let len = nni_tlv_len(EXPIRATION_PERIOD, expiration_ms)
            + validity_value
                .as_ref()
                .map_or(0, |v| tlv_len(tt::VALIDITY_PERIOD, v.len()));
        let mut content = BytesMut::with_capacity(len);
        put_nni_tlv(&mut content, EXPIRATION_PERIOD, expiration_ms);
        if let Some(v) = &validity_value {
            put_header(&mut content, tt::VALIDITY_PERIOD, v.len());
            content.put_slice(v);
        }
        DataBuilder::new(name, content.freeze())
            .content_type(content_type::PREFIX_ANN)
            .sign(signer)
    }
}

/// (NotBefore, NotAfter) of a ValidityPeriod element, in seconds since the epoch.
fn validity_of(el: &Element) -> Result<(u64, u64)> {
    let mut r = el.children();
    let from = r.expect(tt::NOT_BEFORE, "NotBefore")?;
    let to = r.expect(tt::NOT_AFTER, "NotAfter")?;
    let bad = || Error::InvalidValue {
        field: "ValidityPeriod",
        reason: "time is not YYYYMMDDThhmmss",
    };
    let from = parse_iso8601(from.value()).ok_or_else(bad)?;
    let to = parse_iso8601(to.value()).ok_or_else(bad)?;
    Ok((from, to))
}

/// Seconds since the epoch of `YYYYMMDDThhmmss` (UTC, from 1970 on); `None` if malformed.
#[must_use]
pub fn parse_iso8601(s: &[u8]) -> Option<u64> {
    if s.len() != ISO_LEN || s[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        part.iter().try_fold(0u64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if y < 1970 || !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), years from 1970 on only.
    let (y, m) = (y as i64 - i64::from(m <= 2), m as i64);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `YYYYMMDDThhmmss` of `secs` since the epoch.
#[must_use]
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lp::LpPacket;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn builds_and_decodes_as_ndn_cxx_lays_it_out() {
        let wire =
            PrefixAnnouncement::build(&n("/p/q"), 3_600_000, None, 7, &Signer::digest_sha256())
                .unwrap();
        let pa = PrefixAnnouncement::decode(wire.clone()).unwrap();
        assert_eq!(pa.announced, n("/p/q"));
        assert_eq!(pa.expiration_ms, 3_600_000);
        assert_eq!(pa.validity, None);
        assert_eq!(pa.data().name().to_string(), "/p/q/32=PA/v=7/seg=0");
        assert_eq!(pa.data().content_type(), 5);
        // Content: ExpirationPeriod (0x6D) as a 4-byte NonNegativeInteger.
        assert_eq!(
            pa.data().content().as_ref(),
            &[0x6D, 0x04, 0x00, 0x36, 0xEE, 0x80]
        );
        pa.data()
            .verify(&crate::signature::VerifyKey::DigestSha256)
            .unwrap();
        assert_eq!(pa.lifetime_ms(0), 3_600_000);
        // Carried in the LP header field 848 (0xFD 0x03 0x50) around the whole Data.
        let lp = LpPacket {
            prefix_announcement: Some(wire.clone()),
            ..LpPacket::from_fragment(Bytes::from_static(&[0x06, 0x03, 0x07, 0x01, 0x08]))
        };
        let enc = lp.encode();
        let at = enc
            .windows(3)
            .position(|w| w == [0xFD, 0x03, 0x50])
            .unwrap();
        assert_eq!(&enc[at + 3 + 1..at + 3 + 1 + wire.len()], &wire[..]);
        let back = LpPacket::decode(enc).unwrap();
        assert_eq!(back.prefix_announcement, Some(wire));
    }

    #[test]
    fn validity_period_cuts_the_lifetime() {
        let from = parse_iso8601(b"20260101T000000").unwrap();
        assert_eq!(iso8601(from), "20260101T000000");
        assert_eq!(parse_iso8601(b"19700101T000000"), Some(0));
        assert_eq!(parse_iso8601(b"20000229T235959"), Some(951_868_799));
        let wire = PrefixAnnouncement::build(
            &n("/p"),
            600_000,
            Some((from, from + 60)),
            1,
            &Signer::digest_sha256(),
        )
        .unwrap();
        let pa = PrefixAnnouncement::decode(wire).unwrap();
        assert_eq!(pa.validity, Some((from, from + 60)));
        let ms = from * 1000;
        assert_eq!(pa.lifetime_ms(ms - 1), 0, "not yet valid");
        assert_eq!(pa.lifetime_ms(ms), 60_000, "cut to NotAfter");
        assert_eq!(pa.lifetime_ms(ms + 61_000), 0, "expired");
    }

    #[test]
    fn refuses_what_ndn_cxx_refuses() {
        let signer = Signer::digest_sha256();
        let data = |name: &str, ct: Option<u64>, content: &[u8]| {
            let mut b = DataBuilder::new(n(name), Bytes::copy_from_slice(content));
            if let Some(ct) = ct {
                b = b.content_type(ct);
            }
            b.sign(&signer).unwrap()
        };
        let exp = [0x6D, 0x01, 0x0A];
        for (wire, why) in [
            (data("/p/32=PA/v=1/seg=0", None, &exp), "content type"),
            (data("/p/PA/v=1/seg=0", Some(5), &exp), "not the keyword"),
            (data("/p/32=PA/1/seg=0", Some(5), &exp), "no version"),
            (data("/p/32=PA/v=1", Some(5), &exp), "no segment"),
            (data("/32=PA/v=1", Some(5), &exp), "too short"),
            (data("/p/32=PA/v=1/seg=0", Some(5), &[]), "empty"),
            (
                data("/p/32=PA/v=1/seg=0", Some(5), &[0x81, 0x00]),
                "no ExpirationPeriod",
            ),
            (
                data("/p/32=PA/v=1/seg=0", Some(5), &[0x6D, 0x01, 1, 0x19, 0x00]),
                "unknown critical",
            ),
            (
                data("/p/32=PA/v=1/seg=0", Some(5), &[0x6D, 0x05, 1, 2, 3, 4, 5]),
                "bad integer",
            ),
            (
                data(
                    "/p/32=PA/v=1/seg=0",
                    Some(5),
                    &[
                        0x6D, 0x01, 1, 0xFD, 0x00, 0xFD, 0x05, 0xFD, 0x00, 0xFE, 0x01, b'x',
                    ],
                ),
                "bad validity",
            ),
            (Bytes::from_static(&[0x05, 0x02, 0x07, 0x00]), "an Interest"),
            (Bytes::from_static(&[0x06, 0xFF]), "truncated"),
        ] {
            assert!(PrefixAnnouncement::decode(wire).is_err(), "{why}");
        }
        // An unknown non-critical element is skipped, as ndn-cxx does.
        let ok = data("/p/32=PA/v=1/seg=0", Some(5), &[0x6D, 0x01, 10, 0x80, 0x00]);
        assert_eq!(PrefixAnnouncement::decode(ok).unwrap().expiration_ms, 10);
        for bad in [
            &b"2026010100000"[..],
            b"2026-0101T000000",
            b"20261301T000000",
            b"19690101T000000",
            b"2026010lT000000",
            b"20260101X000000",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // Every prefix and every single-byte corruption of a valid announcement.
        let wire = PrefixAnnouncement::build(
            &n("/a/b"),
            1000,
            Some((0, 4_000_000_000)),
            3,
            &Signer::digest_sha256(),
        )
        .unwrap();
        for cut in 0..wire.len() {
            let _ = PrefixAnnouncement::decode(wire.slice(..cut));
        }
        for i in 0..wire.len() {
            for x in [0x00, 0xFF, 0x80, 0x01] {
                let mut w = wire.to_vec();
                w[i] ^= x;
                let _ = PrefixAnnouncement::decode(Bytes::from(w));
            }
        }
    }
}

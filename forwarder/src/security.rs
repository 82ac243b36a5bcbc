//! The I/O side of security (`docs/security.md`): turning `[security]` into the core's
//! [`Policy`] (user and group names from `/etc/passwd` and `/etc/group`, certificate files),
//! and the key and certificate files `nfwd key generate` writes and `--key` reads.
//!
//! Files:
//! - a **certificate** is an NDN certificate (a Data packet named
//!   `/<identity>/KEY/<key id>/<issuer>/<version>`, ContentType KEY, Content = the public key as
//!   SubjectPublicKeyInfo DER), stored base64-encoded — the form `ndnsec cert-dump` prints, so
//!   an ndn-cxx identity's certificate (ECDSA P-256) can be trusted as it is;
//! - a **key** is a small TOML file (`name`, `algorithm`, `pkcs8` in base64) readable by its
//!   owner only: the private half, for the CLI to sign management commands with.

use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use nfwd_tlv::prefix_ann::iso8601;
use nfwd_tlv::{Data, DataBuilder, Element, Name, SignatureInfo, Signer, VerifyKey};
use serde::{Deserialize, Serialize};

use crate::config::{AuthorizeRule, SecurityConfig};
use crate::core::auth::{Policy, Privileges, Rule, TrustedKey, Users};
use crate::error::{Error, Result};

/// ValidityPeriod of a certificate's SignatureInfo and its NotBefore/NotAfter (NDN
/// certificate format v2).
const VALIDITY_PERIOD: u32 = 253;
const NOT_BEFORE: u32 = 254;
const NOT_AFTER: u32 = 255;
/// Years a generated certificate is valid for.
const VALIDITY_YEARS: u64 = 20;

/// The effective user id of this process.
#[must_use]
pub fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Looks `field 0` up in a colon-separated database (`/etc/passwd`, `/etc/group`) and returns
/// field 2 (the id).
fn lookup_id(db: &Path, name: &str) -> Result<Option<u32>> {
    let text = std::fs::read_to_string(db)
        .map_err(|e| Error::Config(format!("reading {}: {e}", db.display())))?;
    Ok(text
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2).and_then(|id| id.parse().ok())))
}

/// A user: a name from `/etc/passwd`, `uid:N` or a number.
pub fn lookup_user(user: &str) -> Result<u32> {
    let digits = user.strip_prefix("uid:").unwrap_or(user);
    if let Ok(n) = digits.parse() {
        return Ok(n);
    }
    lookup_id(Path::new("/etc/passwd"), user)?
        .ok_or_else(|| Error::Config(format!("no user named {user:?} in /etc/passwd")))
}

/// A group: a name from `/etc/group`, `gid:N` or a number.
pub fn lookup_group(group: &str) -> Result<u32> {
    let digits = group.strip_prefix("gid:").unwrap_or(group);
    if let Ok(n) = digits.parse() {
        return Ok(n);
    }
    lookup_id(Path::new("/etc/group"), group)?
        .ok_or_else(|| Error::Config(format!("no group named {group:?} in /etc/group")))
}

/// The core's policy for `[security]`, for a daemon running as `daemon_uid`.
pub fn policy(config: &SecurityConfig, daemon_uid: u32) -> Result<Policy> {
    if config.authorize.is_empty() {
        let gid = match config.manage_group.trim() {
            "" => None,
            g => Some(lookup_group(g)?),
        };
        return Ok(Policy::local_defaults(daemon_uid, gid));
    }
    let mut policy = Policy {
        rules: Vec::new(),
        keys: Vec::new(),
    };
    for (i, r) in config.authorize.iter().enumerate() {
        let rule = rule(r, &mut policy.keys)
            .map_err(|e| Error::Config(format!("security.authorize[{i}]: {e}")))?;
        policy.rules.push(rule);
    }
    Ok(policy)
}

fn rule(r: &AuthorizeRule, keys: &mut Vec<TrustedKey>) -> Result<Rule> {
    let users = if r.users.is_empty() {
        Users::Any
    } else if r.users.iter().any(|u| u == "*") {
        Users::AnyLocal
    } else {
        let (mut uids, mut gids) = (Vec::new(), Vec::new());
        for u in &r.users {
            match u.strip_prefix('@') {
                Some(g) => gids.push(lookup_group(g)?),
                None => uids.push(lookup_user(u)?),
            }
        }
        Users::Listed { uids, gids }
    };
    let key = match &r.key {
        None => None,
        Some(path) => {
            let cert = read_certificate(path)?;
            let index = match keys.iter().position(|k| k.name == cert.key_name) {
                Some(i) => i,
                None => {
                    keys.push(TrustedKey {
                        name: cert.key_name,
                        key: cert.key,
                    });
                    keys.len() - 1
                }
            };
            Some(index)
        }
    };
    let privileges = Privileges::from_names(&r.privileges).map_err(Error::Config)?;
    Ok(Rule {
        users,
        key,
        privileges,
    })
}

/// A certificate's essentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certificate's name.
    pub name: Name,
    /// The key's name: the certificate name up to `KEY/<key id>`.
    pub key_name: Name,
    /// The public key.
    pub key: VerifyKey,
}

/// The key name inside a certificate or key name: up to and including the component after
/// `KEY`.
#[must_use]
pub fn key_name_of(name: &Name) -> Option<Name> {
    let k = (0..name.len()).find(|&i| {
        name.get(i)
            .is_some_and(|c| c.is_generic() && c.value() == b"KEY")
    })?;
    (k + 1 < name.len()).then(|| name.prefix(k + 2))
}

/// Reads a certificate file (base64 of the Data packet; whitespace and line breaks ignored).
pub fn read_certificate(path: &Path) -> Result<Certificate> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("reading certificate {}: {e}", path.display())))?;
    parse_certificate(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// Parses a base64 certificate.
pub fn parse_certificate(text: &str) -> Result<Certificate> {
    let compact: String = text.split_whitespace().collect();
    let wire = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| Error::Config(format!("not base64: {e}")))?;
    let data = Data::decode(Bytes::from(wire))?;
    let key_name = key_name_of(data.name()).ok_or_else(|| {
        Error::Config(format!(
            "{} is not a certificate name (/<identity>/KEY/<key id>/...)",
            data.name()
        ))
    })?;
    let key = VerifyKey::from_spki(data.content())?;
    Ok(Certificate {
        name: data.name().clone(),
        key_name,
        key,
    })
}

/// Signature algorithms `nfwd key generate` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Ed25519.
    Ed25519,
    /// ECDSA with P-256 and SHA-256 (ndn-cxx's default).
    EcdsaP256,
}

/// A private key file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Key name (`/<identity>/KEY/<key id>`).
    pub name: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// The private key, PKCS#8, base64.
    pub pkcs8: String,
}

impl KeyFile {
    /// The signer this key makes: its KeyLocator names the key.
    pub fn signer(&self) -> Result<Signer> {
        let name: Name = self.name.parse()?;
        let pkcs8 = base64::engine::general_purpose::STANDARD
            .decode(self.pkcs8.as_bytes())
            .map_err(|e| Error::Config(format!("pkcs8 is not base64: {e}")))?;
        Ok(match self.algorithm {
            Algorithm::Ed25519 => Signer::ed25519_from_pkcs8(&pkcs8, name)?,
            Algorithm::EcdsaP256 => Signer::ecdsa_p256_from_pkcs8(&pkcs8, name)?,
        })
    }
}

/// Reads a key file and returns its signer.
pub fn read_key(path: &Path) -> Result<Signer> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("reading key {}: {e}", path.display())))?;
    let file: KeyFile =
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    file.signer()
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// A new key for `identity` and its self-signed certificate: the key file's text (TOML) and
/// the certificate's (base64, 64 characters a line).
pub fn generate_key(
    identity: &Name,
    algorithm: Algorithm,
    now_ms: u64,
) -> Result<(String, String)> {
    let key_id: [u8; 8] = rand::random();
    let key_name = identity
        .clone()
        .append_generic(b"KEY")
        .append_generic(&key_id);
    let (signer, pkcs8) = match algorithm {
        Algorithm::Ed25519 => Signer::generate_ed25519(key_name.clone())?,
        Algorithm::EcdsaP256 => Signer::generate_ecdsa_p256(key_name.clone())?,
    };
    let spki = signer
        .verify_key()
        .and_then(|k| k.to_spki())
        .ok_or_else(|| Error::Other("generated key has no public form".into()))?;
    let cert_name = key_name.append_generic(b"self").append_version(now_ms);
    let mut info: SignatureInfo = signer.signature_info();
    info.unknown.push(validity_period(now_ms));
    let builder = DataBuilder::new(cert_name, spki)
        .content_type(nfwd_tlv::types::content_type::KEY)
        .freshness_ms(3_600_000);
    let cert = builder.sign_with_info(&signer, &info)?;
    let key = KeyFile {
        name: key_name.to_string(),
        algorithm,
        pkcs8: base64::engine::general_purpose::STANDARD.encode(&pkcs8),
    };
    let key_text = format!(
        "# nfwd signing key {}: keep it secret (mode 0600).\n{}",
        key.name,
        toml::to_string(&key).map_err(|e| Error::Other(e.to_string()))?
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&cert);
    let mut cert_text = String::new();
    for chunk in b64.as_bytes().chunks(64) {
        cert_text.push_str(&String::from_utf8_lossy(chunk));
        cert_text.push('\n');
    }
    Ok((key_text, cert_text))
}

/// ValidityPeriod from `now_ms` for [`VALIDITY_YEARS`], as NDN certificates carry it.
fn validity_period(now_ms: u64) -> Element {
    let from = now_ms / 1000;
    let to = from + VALIDITY_YEARS * 365 * 86_400;
    let mut value = Vec::new();
    for (t, secs) in [(NOT_BEFORE, from), (NOT_AFTER, to)] {
        value.extend_from_slice(Element::new(t, iso8601(secs).as_bytes()).wire());
    }
    Element::new(VALIDITY_PERIOD, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_what_their_certificates_verify() {
        for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
            let id: Name = "/ops/alice".parse().unwrap();
            let (key_text, cert_text) = generate_key(&id, alg, 1_700_000_000_000).unwrap();
            let key: KeyFile = toml::from_str(&key_text).unwrap();
            let signer = key.signer().unwrap();
            let cert = parse_certificate(&cert_text).unwrap();
            assert_eq!(cert.key_name.to_string(), key.name);
            assert!(id.is_prefix_of(&cert.name));
            let sig = signer.sign(&[b"command"]).unwrap();
            cert.key
                .verify(signer.signature_type(), &[b"command"], &sig)
                .unwrap();
        }
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(iso8601(0), "19700101T000000");
        assert_eq!(iso8601(1_700_000_000), "20231114T221320");
        assert_eq!(iso8601(951_782_400), "20000229T000000");
    }

    #[test]
    fn key_names_come_from_certificate_names() {
        let n: Name = "/a/b/KEY/k1/self/v=5".parse().unwrap();
        assert_eq!(key_name_of(&n).unwrap().to_string(), "/a/b/KEY/k1");
        assert_eq!(key_name_of(&"/a/KEY".parse().unwrap()), None);
    }

    #[test]
    fn users_and_groups_resolve() {
        assert_eq!(lookup_user("root").unwrap(), 0);
        assert_eq!(lookup_user("uid:1234").unwrap(), 1234);
        assert_eq!(lookup_group("root").unwrap(), 0);
        assert!(lookup_user("no-such-user-here").is_err());
    }
}

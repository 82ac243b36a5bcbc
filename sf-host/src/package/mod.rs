//! SF packages over NDN (`docs/sf-host.md`, "SF packages"): an SF's artifact published as a
//! named, versioned, segmented object with a signed manifest, so that any node can fetch it
//! by name and any forwarder on the way can cache it.
//!
//! Names, for a package of function `F` (e.g. `/sf/wc`) under prefix `P`:
//!
//! - `P/sf-package/F/v=<version>/32=manifest/seg=<k>`: the manifest (JSON, [`Manifest`]),
//!   segmented like any content, **every segment signed by the publisher's key** (Ed25519 or
//!   ECDSA P-256, `nfwd key generate`);
//! - `P/sf-package/F/v=<version>/seg=<k>`: the artifact, segmented (8000 bytes a segment),
//!   FinalBlockId on every segment. Segments carry only a DigestSha256 signature: what
//!   protects them is the SHA-256 of each one listed in the signed manifest.
//!
//! This module holds the pure part — names, the manifest, building the packets, verifying
//! them — [`fetch`] the congestion-controlled pull, and [`cache`] the SF host's bounded
//! store of pulled packages (one pull per package, verified before installed).

pub mod cache;
pub mod fetch;
pub mod image;

use std::sync::Arc;

use bytes::Bytes;
use nfwd_forwarder::client::{Client, Reply, ServeHandle};
use nfwd_forwarder::security::Certificate;
use nfwd_tlv::types::signature_type;
use nfwd_tlv::{Component, Data, DataBuilder, Interest, Name, Signer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::SfSpec;

/// The component between the publisher's prefix and the function name.
pub const PACKAGE_COMPONENT: &[u8] = b"sf-package";
/// The keyword component naming the manifest under a version.
pub const MANIFEST_KEYWORD: &[u8] = b"manifest";
/// NDN's keyword component type (`32=`).
const KEYWORD_TYPE: u32 = 32;
/// What the manifest's `format` field says; anything else is refused.
pub const FORMAT: &str = "nfwd-sf-package/1";
/// Artifact bytes per segment by default: keeps each Data under NFD's 8800-byte packet limit
/// with room for a long name.
pub const DEFAULT_SEGMENT_SIZE: usize = 8000;

/// Bounds on what a fetcher accepts, so that a hostile or broken publisher cannot make it
/// allocate or write without limit.
#[derive(Debug, Clone)]
pub struct PackageLimits {
    /// Largest artifact, in bytes. Default 256 MiB.
    pub max_artifact_bytes: u64,
    /// Most artifact segments. Default 65536.
    pub max_segments: u64,
    /// Largest manifest (all its segments), in bytes. Default 8 MiB (65536 digests in hex
    /// take 4.3 MB).
    pub max_manifest_bytes: u64,
    /// Longest text field of a manifest (function, version, media types, file name), in
    /// bytes. Default 256.
    pub max_field_bytes: usize,
    /// Longest encoded package name, in bytes. Default 2048.
    pub max_name_bytes: usize,
}

impl Default for PackageLimits {
    fn default() -> Self {
        Self {
            max_artifact_bytes: 256 * 1024 * 1024,
            max_segments: 65_536,
            max_manifest_bytes: 8 * 1024 * 1024,
            max_field_bytes: 256,
            max_name_bytes: 2048,
        }
    }
}

impl PackageLimits {
    /// Most manifest segments: the manifest limit over the smallest segment a publisher
    /// would use (1000 bytes), so a manifest cut absurdly small is refused too.
    #[must_use]
    pub fn max_manifest_segments(&self) -> u64 {
        self.max_manifest_bytes.div_ceil(1000).max(1)
    }
}

/// Why a package was refused. Every variant names what failed; none is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// A name is not a package name.
    #[error("{0} is not an SF package name (<prefix>/sf-package/<function>[/v=<version>])")]
    BadName(String),
    /// The manifest's signature does not verify with the trust anchor.
    #[error(
        "manifest segment {name}: signature does not verify with the trust anchor {anchor} \
         (signed by {signer}); refusing the package"
    )]
    ManifestSignature {
        /// The manifest segment.
        name: String,
        /// The trust anchor's key name.
        anchor: String,
        /// The KeyLocator the segment carries ("no key" if none).
        signer: String,
    },
    /// The manifest is not a well-formed manifest.
    #[error("manifest of {name}: {reason}")]
    BadManifest {
        /// The package (name with version).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The manifest exceeds a [`PackageLimits`] bound.
    #[error("manifest of {name}: {what} {value} exceeds the limit of {limit}")]
    Limit {
        /// The package.
        name: String,
        /// Which bound.
        what: &'static str,
        /// The value announced.
        value: u64,
        /// The bound.
        limit: u64,
    },
    /// A segment's content does not have the digest the signed manifest lists.
    #[error(
        "segment {segment} of {name}: SHA-256 {got} differs from {expected} in the signed \
         manifest; the publisher or a cache on the way served altered content; refusing it"
    )]
    SegmentDigest {
        /// The package.
        name: String,
        /// The segment number.
        segment: u64,
        /// The digest listed in the manifest (hex).
        expected: String,
        /// The digest of what arrived (hex).
        got: String,
    },
    /// A segment has the wrong size (every segment but the last has `segment_size` bytes).
    #[error("segment {segment} of {name}: {got} bytes where the manifest implies {expected}")]
    SegmentSize {
        /// The package.
        name: String,
        /// The segment number.
        segment: u64,
        /// Bytes implied by the manifest.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// The assembled artifact does not have the manifest's whole-artifact digest.
    #[error("artifact of {name}: SHA-256 {got} differs from {expected} in the manifest")]
    ArtifactDigest {
        /// The package.
        name: String,
        /// From the manifest (hex).
        expected: String,
        /// Of the file written (hex).
        got: String,
    },
}

/// What kind of artifact a package carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// A program run as a process (the spec's `exec` argv[0]): the artifact is the file.
    Process,
    /// A `docker save` archive of one untagged image (the manifest's `image` names its ID),
    /// loaded by the Docker backend; the spec's exec argv[0] is the program inside it.
    Docker,
}

/// The signed description of a package (JSON in the manifest Data's content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The function name, e.g. `/sf/wc` (equal to the one in the package name).
    pub function: String,
    /// The SF's own version (the spec's free text; the NDN version is in the name).
    pub version: String,
    /// What the artifact is.
    pub kind: PackageKind,
    /// The spec's input media type.
    pub input_type: String,
    /// The spec's output media type.
    pub output_type: String,
    /// The file name the artifact is written as (no `/`, not `.` or `..`).
    pub file_name: String,
    /// Artifact size in bytes.
    pub size: u64,
    /// Artifact bytes per segment (the last may hold fewer).
    pub segment_size: u64,
    /// Number of artifact segments (at least 1; an empty artifact has one empty segment).
    pub segments: u64,
    /// SHA-256 of the whole artifact, hex.
    pub sha256: String,
    /// SHA-256 of each segment's content, hex, in order.
    pub segment_sha256: Vec<String>,
    /// The SF specification as published (its exec argv[0] names the artifact's file name;
    /// for a Docker package, the program's absolute path inside the image).
    pub spec: SfSpec,
    /// A Docker package's image ID, `sha256:<hex>` (the SHA-256 of the image's config,
    /// which the fetcher checks in the archive before loading it). Absent for a process
    /// package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The digest of an image ID `sha256:<64 hex digits>`.
#[must_use]
pub fn parse_image_id(id: &str) -> Option<[u8; 32]> {
    let hex = id.strip_prefix("sha256:")?;
    if hex.len() != 64 || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    parse_digest(hex)
}

fn hex32(d: &[u8; 32]) -> String {
    hex::encode(d)
}

/// Parses a 64-digit hex SHA-256.
fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A file name safe to join to an output directory: one plain component.
fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0')
        && !name.starts_with('.')
}

impl Manifest {
    /// The manifest of `artifact` published as `spec`'s program under `file_name`.
    pub fn describe(
        spec: &SfSpec,
        kind: PackageKind,
        file_name: &str,
        artifact: &[u8],
        segment_size: usize,
    ) -> Result<Self> {
        if segment_size == 0 {
            return Err(Error::Spec("segment size must be positive".into()));
        }
        if !safe_file_name(file_name) {
            return Err(Error::Spec(format!(
                "artifact file name {file_name:?} must be one plain path component"
            )));
        }
        let chunks: Vec<&[u8]> = if artifact.is_empty() {
            vec![&[]]
        } else {
            artifact.chunks(segment_size).collect()
        };
        Ok(Self {
            format: FORMAT.into(),
            function: spec.name.clone(),
            version: spec.version.clone(),
            kind,
            input_type: spec.input_type.clone(),
            output_type: spec.output_type.clone(),
            file_name: file_name.into(),
            size: artifact.len() as u64,
            segment_size: segment_size as u64,
            segments: chunks.len() as u64,
            sha256: hex32(&nfwd_tlv::signature::sha256(&[artifact])),
            segment_sha256: chunks
                .iter()
                .map(|c| hex32(&nfwd_tlv::signature::sha256(&[c])))
                .collect(),
            spec: spec.clone(),
            image: None,
        })
    }

    /// The manifest as published (JSON).
    pub fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Spec(format!("manifest: {e}")))
    }

    /// Reads and checks a manifest fetched for `package` (the package's name with version):
    /// well-formed, consistent (sizes, counts, digests), within `limits`, and describing the
    /// function the name says.
    pub fn decode(
        package: &PackageName,
        bytes: &[u8],
        limits: &PackageLimits,
    ) -> Result<Self, PackageError> {
        let name = package.to_string();
        let bad = |reason: String| PackageError::BadManifest {
            name: name.clone(),
            reason,
        };
        let limit = |what, value: u64, limit: u64| PackageError::Limit {
            name: name.clone(),
            what,
            value,
            limit,
        };
        if bytes.len() as u64 > limits.max_manifest_bytes {
            return Err(limit("size", bytes.len() as u64, limits.max_manifest_bytes));
        }
        let m: Self = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        if m.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {FORMAT:?}",
                truncate(&m.format)
            )));
        }
        for (field, value) in [
            ("function", &m.function),
            ("version", &m.version),
            ("input_type", &m.input_type),
            ("output_type", &m.output_type),
            ("file_name", &m.file_name),
        ] {
            if value.len() > limits.max_field_bytes {
                return Err(limit(
                    field,
                    value.len() as u64,
                    limits.max_field_bytes as u64,
                ));
            }
        }
        if !safe_file_name(&m.file_name) {
            return Err(bad(format!(
                "file name {:?} is not one plain path component",
                m.file_name
            )));
        }
        let function: Name = m
            .function
            .parse()
            .map_err(|e| bad(format!("function {:?}: {e}", m.function)))?;
        if function != package.function {
            return Err(bad(format!(
                "describes {function}, but the package name is for {}",
                package.function
            )));
        }
        if m.spec.name != m.function {
            return Err(bad(format!(
                "its spec is for {}, not {}",
                truncate(&m.spec.name),
                m.function
            )));
        }
        m.spec.validate().map_err(|e| bad(format!("spec: {e}")))?;
        m.check_kind().map_err(bad)?;
        if m.size > limits.max_artifact_bytes {
            return Err(limit("artifact size", m.size, limits.max_artifact_bytes));
        }
        if m.segments > limits.max_segments {
            return Err(limit("segment count", m.segments, limits.max_segments));
        }
        if m.segment_size == 0 || m.segment_size > 1024 * 1024 {
            return Err(bad(format!(
                "segment size {} is not in 1..=1048576",
                m.segment_size
            )));
        }
        let expected_segments = m.size.div_ceil(m.segment_size).max(1);
        if m.segments != expected_segments {
            return Err(bad(format!(
                "{} segments, but {} bytes in segments of {} make {expected_segments}",
                m.segments, m.size, m.segment_size
            )));
        }
        if m.segment_sha256.len() as u64 != m.segments {
            return Err(bad(format!(
                "{} segment digests for {} segments",
                m.segment_sha256.len(),
                m.segments
            )));
        }
        if parse_digest(&m.sha256).is_none()
            || m.segment_sha256.iter().any(|d| parse_digest(d).is_none())
        {
            return Err(bad("a digest is not 64 hex digits".into()));
        }
        Ok(m)
    }

    /// A process package names no image; a Docker package names a well-formed one, runs on
    /// the Docker backend, and its program is an absolute path inside the image.
    fn check_kind(&self) -> Result<(), String> {
        match (self.kind, &self.image) {
            (PackageKind::Process, None) => Ok(()),
            (PackageKind::Process, Some(_)) => Err("a process package names an image".into()),
            (PackageKind::Docker, None) => Err("a Docker package without its image ID".into()),
            (PackageKind::Docker, Some(id)) => {
                if parse_image_id(id).is_none() {
                    return Err(format!(
                        "image {:?} is not sha256:<64 lower-case hex digits>",
                        truncate(id)
                    ));
                }
                if self.spec.backend != crate::spec::BackendKind::Docker {
                    return Err("a Docker package whose spec is not backend = \"docker\"".into());
                }
                match &self.spec.artifact {
                    crate::spec::Artifact::Exec { argv }
                        if argv.first().is_some_and(|p| p.starts_with('/')) =>
                    {
                        Ok(())
                    }
                    _ => Err("a Docker package's spec must run an exec program by its \
                              absolute path inside the image"
                        .into()),
                }
            }
        }
    }

    /// Bytes segment `k` holds.
    #[must_use]
    pub fn segment_len(&self, k: u64) -> u64 {
        let start = k.saturating_mul(self.segment_size);
        self.size.saturating_sub(start).min(self.segment_size)
    }

    /// Checks segment `k`'s content against the manifest.
    pub fn verify_segment(
        &self,
        package: &PackageName,
        k: u64,
        content: &[u8],
    ) -> Result<(), PackageError> {
        let expected_len = self.segment_len(k);
        if k >= self.segments || content.len() as u64 != expected_len {
            return Err(PackageError::SegmentSize {
                name: package.to_string(),
                segment: k,
                expected: expected_len,
                got: content.len() as u64,
            });
        }
        let got = hex32(&nfwd_tlv::signature::sha256(&[content]));
        let expected = usize::try_from(k)
            .ok()
            .and_then(|i| self.segment_sha256.get(i))
            .map_or("", String::as_str);
        // Hex digests from `decode` may be upper case: compare the bytes they stand for.
        if parse_digest(expected) != parse_digest(&got) {
            return Err(PackageError::SegmentDigest {
                name: package.to_string(),
                segment: k,
                expected: expected.to_ascii_lowercase(),
                got,
            });
        }
        Ok(())
    }

    /// Checks the whole artifact's digest (computed by the caller while reading it back).
    pub fn verify_artifact(
        &self,
        package: &PackageName,
        digest: &[u8; 32],
    ) -> Result<(), PackageError> {
        if parse_digest(&self.sha256) != Some(*digest) {
            return Err(PackageError::ArtifactDigest {
                name: package.to_string(),
                expected: self.sha256.to_ascii_lowercase(),
                got: hex32(digest),
            });
        }
        Ok(())
    }
}

/// At most 64 characters of text from the network, for an error message.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A package's name: `prefix/sf-package/function[/v=version]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageName {
    /// The publisher's prefix.
    pub prefix: Name,
    /// The function name.
    pub function: Name,
    /// The NDN version; `None` asks for the latest.
    pub version: Option<u64>,
}

impl PackageName {
    /// The package of `function` under `prefix`.
    #[must_use]
    pub fn new(prefix: Name, function: Name, version: Option<u64>) -> Self {
        Self {
            prefix,
            function,
            version,
        }
    }

    /// Reads `<prefix>/sf-package/<function>[/v=<version>]`; the first `sf-package`
    /// component splits prefix from function.
    pub fn parse(name: &Name, limits: &PackageLimits) -> Result<Self, PackageError> {
        let bad = || PackageError::BadName(name.to_string());
        if name.encoded_len() > limits.max_name_bytes {
            return Err(bad());
        }
        let at = (0..name.len())
            .find(|&i| {
                name.get(i)
                    .is_some_and(|c| c.is_generic() && c.value() == PACKAGE_COMPONENT)
            })
            .ok_or_else(bad)?;
        let (end, version) = match name.last().and_then(|c| c.as_version()) {
            Some(v) => (name.len() - 1, Some(v)),
            None => (name.len(), None),
        };
        if end <= at + 1 {
            return Err(bad());
        }
        let function = name
            .components()
            .skip(at + 1)
            .take(end - at - 1)
            .fold(Name::new(), |n, c| n.append(&c));
        if function
            .components()
            .any(|c| !c.is_generic() || c.value() == PACKAGE_COMPONENT)
        {
            return Err(bad());
        }
        Ok(Self {
            prefix: name.prefix(at),
            function,
            version,
        })
    }

    /// `prefix/sf-package/function`: what a publisher registers, what "latest" asks for.
    #[must_use]
    pub fn base(&self) -> Name {
        self.prefix
            .append_generic(PACKAGE_COMPONENT)
            .join(&self.function)
    }

    /// `base/v=version` (the base if no version is set).
    #[must_use]
    pub fn versioned(&self) -> Name {
        match self.version {
            Some(v) => self.base().append_version(v),
            None => self.base(),
        }
    }

    /// `base/v=version/32=manifest`.
    #[must_use]
    pub fn manifest(&self) -> Name {
        self.versioned().append(&manifest_component())
    }

    /// This package at `version`.
    #[must_use]
    pub fn with_version(&self, version: u64) -> Self {
        Self {
            version: Some(version),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for PackageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.versioned())
    }
}

fn manifest_component() -> Component {
    // A short fixed value and a valid type: cannot fail.
    Component::new(KEYWORD_TYPE, MANIFEST_KEYWORD).unwrap_or_else(|_| Component::generic(b"m"))
}

/// Checks one manifest segment's signature against the trust anchor. DigestSha256 (no key)
/// and every other key are refused.
pub fn verify_manifest_segment(data: &Data, anchor: &Certificate) -> Result<(), PackageError> {
    let info = data.signature_info().ok().flatten();
    let signer = match info.as_ref().and_then(|i| i.key_locator.as_ref()) {
        Some(nfwd_tlv::KeyLocator::Name(n)) => n.to_string(),
        Some(nfwd_tlv::KeyLocator::KeyDigest(_)) => "a key digest".into(),
        None if info
            .as_ref()
            .is_some_and(|i| i.signature_type == signature_type::DIGEST_SHA256) =>
        {
            "no key (DigestSha256)".into()
        }
        None => "no key".into(),
    };
    data.verify(&anchor.key)
        .map_err(|_| PackageError::ManifestSignature {
            name: data.name().to_string(),
            anchor: anchor.key_name.to_string(),
            signer,
        })
}

/// A package ready to serve: its manifest segments (signed by the publisher) and its
/// artifact segments.
#[derive(Debug, Clone)]
pub struct PackagePackets {
    /// The package (with its version).
    pub name: PackageName,
    /// What the manifest says.
    pub manifest: Manifest,
    /// `…/32=manifest/seg=k`, signed with the publisher's key.
    pub manifest_segments: Vec<Data>,
    /// `…/seg=k`, DigestSha256 (protected by the manifest's digests).
    pub segments: Vec<Data>,
}

/// FreshnessPeriod of every package packet: a version never changes, so caches may keep
/// them; an Interest for the latest version (MustBeFresh) still reaches the publisher after
/// this long, so a new version is found within it.
pub const PACKAGE_FRESHNESS_MS: u64 = 10_000;

/// Cuts `content` into Data `name/seg=k` with FinalBlockId, signed by `signer`.
fn segment(name: &Name, content: &[u8], size: usize, signer: &Signer) -> Result<Vec<Data>> {
    let chunks: Vec<&[u8]> = if content.is_empty() {
        vec![&[]]
    } else {
        content.chunks(size.max(1)).collect()
    };
    let last = Component::segment(chunks.len() as u64 - 1);
    chunks
        .iter()
        .enumerate()
        .map(|(k, c)| {
            Ok(
                DataBuilder::new(name.append_segment(k as u64), Bytes::copy_from_slice(c))
                    .final_block_id(last.clone())
                    .freshness_ms(PACKAGE_FRESHNESS_MS)
                    .build(signer)?,
            )
        })
        .collect()
}

/// The segment of `list` (named `parent/seg=k`) that `wanted` names exactly.
fn pick_segment<'a>(wanted: &Name, list: &'a [Data], parent: &Name) -> Option<&'a Data> {
    if wanted.len() != parent.len() + 1 || !parent.is_prefix_of(wanted) {
        return None;
    }
    let k = wanted.last().and_then(|c| c.as_segment())?;
    list.get(usize::try_from(k).ok()?)
}

impl PackagePackets {
    /// Builds every packet of `artifact` published as `name` (with a version) with
    /// `manifest`, the manifest signed by `signer`.
    pub fn build(
        name: PackageName,
        manifest: Manifest,
        artifact: &[u8],
        signer: &Signer,
    ) -> Result<Self> {
        if name.version.is_none() {
            return Err(Error::Spec("a published package needs a version".into()));
        }
        if signer.signature_type() == signature_type::DIGEST_SHA256 {
            return Err(Error::Spec(
                "the manifest must be signed with a key (nfwd key generate)".into(),
            ));
        }
        let size = usize::try_from(manifest.segment_size).unwrap_or(DEFAULT_SEGMENT_SIZE);
        let manifest_segments = segment(&name.manifest(), &manifest.encode()?, size, signer)?;
        let segments = segment(&name.versioned(), artifact, size, &Signer::digest_sha256())?;
        Ok(Self {
            name,
            manifest,
            manifest_segments,
            segments,
        })
    }

    /// The packet answering `interest`, if any: an exact segment name, or, for a CanBePrefix
    /// Interest naming a prefix of the manifest (the base, or the version), manifest
    /// segment 0 — how a fetcher learns the latest version.
    #[must_use]
    pub fn answer(&self, interest: &Interest) -> Option<&Data> {
        if interest.function_chain().is_some() {
            return None;
        }
        let wanted = interest.name();
        let candidate = pick_segment(wanted, &self.segments, &self.name.versioned())
            .or_else(|| pick_segment(wanted, &self.manifest_segments, &self.name.manifest()))
            .or_else(|| {
                wanted
                    .is_prefix_of(&self.name.manifest())
                    .then(|| self.manifest_segments.first())
                    .flatten()
            });
        candidate.filter(|d| interest.matches(d))
    }

    /// Registers the package's base name on `client`'s forwarder and answers Interests for
    /// it until the handle is dropped.
    pub async fn serve(self: Arc<Self>, client: &Client) -> Result<ServeHandle> {
        let base = self.name.base();
        Ok(client
            .serve(base, move |interest| {
                let reply = self
                    .answer(&interest)
                    .map_or(Reply::None, |d| Reply::Data(d.clone()));
                std::future::ready(reply)
            })
            .await?)
    }
}

#[cfg(test)]
mod tests;

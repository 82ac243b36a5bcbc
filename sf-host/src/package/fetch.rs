//! Pulling an SF package: discover the version, fetch and verify the signed manifest, then
//! fetch the artifact's segments with a congestion window (AIMD: +1 a window while no loss,
//! halved on a timeout or a Nack Congestion, at most once per window of Interests, as
//! ndncatchunks' AIMD), verify each against the manifest, write it in place in a partial
//! file, and move the file into place once the whole artifact checks out. A partial file left
//! by an interrupted pull is read back first: segments already on disk with the right digest
//! are not fetched again.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nfwd_forwarder::client::Client;
use nfwd_forwarder::security::Certificate;
use nfwd_tlv::lp::NackReason;
use nfwd_tlv::{Component, Data, InterestBuilder, Name};
use tokio::task::JoinSet;

use super::{Manifest, PackageError, PackageKind, PackageLimits, PackageName};
use crate::error::{Error, Result};
use crate::spec::Artifact;

/// How [`fetch_package`] fetches.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// InterestLifetime of every Interest, in ms: how long before a lost one is sent again.
    /// Default 2000.
    pub lifetime_ms: u64,
    /// Retransmissions of one Interest before the pull fails. Default 6.
    pub max_retries: u32,
    /// Window at the start, in Interests. Default 4.
    pub initial_window: usize,
    /// Largest window. Default 128.
    pub max_window: usize,
    /// What the fetcher accepts.
    pub limits: PackageLimits,
    /// Where the pull reports how far it got (a progress line); `None`: nobody watches.
    pub progress: Option<Arc<FetchProgress>>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            lifetime_ms: 2000,
            max_retries: 6,
            initial_window: 4,
            max_window: 128,
            limits: PackageLimits::default(),
            progress: None,
        }
    }
}

/// How far a pull got, updated as segments arrive (read from another task).
#[derive(Debug, Default)]
pub struct FetchProgress {
    bytes: AtomicU64,
    total_bytes: AtomicU64,
    reused_bytes: AtomicU64,
    segments: AtomicU64,
    total_segments: AtomicU64,
    window: AtomicU64,
}

/// A moment of a [`FetchProgress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Artifact bytes done: fetched, or found verified on disk.
    pub bytes: u64,
    /// Artifact bytes in all (0 until the manifest is in).
    pub total_bytes: u64,
    /// Of `bytes`, those found on disk (a resumed pull): not part of the fetch rate.
    pub reused_bytes: u64,
    /// Segments done.
    pub segments: u64,
    /// Segments in all (0 until the manifest is in).
    pub total_segments: u64,
    /// The congestion window now, in Interests.
    pub window: u64,
}

impl FetchProgress {
    /// Where the pull is.
    #[must_use]
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            bytes: self.bytes.load(Ordering::Relaxed),
            total_bytes: self.total_bytes.load(Ordering::Relaxed),
            reused_bytes: self.reused_bytes.load(Ordering::Relaxed),
            segments: self.segments.load(Ordering::Relaxed),
            total_segments: self.total_segments.load(Ordering::Relaxed),
            window: self.window.load(Ordering::Relaxed),
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct FetchReport {
    /// The package fetched (with its version).
    pub package: PackageName,
    /// Its verified manifest.
    pub manifest: Manifest,
    /// The artifact, in the output directory.
    pub artifact: PathBuf,
    /// The spec written next to it (its exec argv[0] is the artifact's absolute path).
    pub spec: PathBuf,
    /// Artifact segments fetched over the network.
    pub fetched_segments: u64,
    /// Artifact bytes fetched over the network.
    pub fetched_bytes: u64,
    /// Artifact segments found verified on disk (a resumed pull).
    pub reused_segments: u64,
    /// The window's behaviour.
    pub window: WindowStats,
}

/// What the congestion window did during a pull.
#[derive(Debug, Clone, Default)]
pub struct WindowStats {
    /// Interests sent, retransmissions included.
    pub interests: u64,
    /// Interests that timed out.
    pub timeouts: u64,
    /// Nacks received (any reason).
    pub nacks: u64,
    /// Data that arrived with an NDNLPv2 CongestionMark (a queue on the way building up).
    pub congestion_marks: u64,
    /// Times the window was halved.
    pub decreases: u64,
    /// Largest window reached.
    pub max_window: u64,
}

/// The AIMD window: slow start (+1 per answer) up to the threshold, then +1/window per
/// answer; halved on loss, at most once per window of Interests (a burst of losses is one
/// congestion event).
#[derive(Debug)]
struct Window {
    cwnd: f64,
    ssthresh: f64,
    max: f64,
    /// Send sequence number at the last decrease: losses of Interests sent before it belong
    /// to the same event.
    last_decrease_seq: u64,
}

impl Window {
    fn new(initial: usize, max: usize) -> Self {
        let max = max.max(1) as f64;
        Self {
            cwnd: (initial.max(1) as f64).min(max),
            ssthresh: max,
            max,
            last_decrease_seq: 0,
        }
    }

    fn on_answer(&mut self) {
        self.cwnd += if self.cwnd < self.ssthresh {
            1.0
        } else {
            1.0 / self.cwnd
        };
        self.cwnd = self.cwnd.min(self.max);
    }

    /// A loss of an Interest sent at `sent_seq`; `next_seq` is the next sequence number.
    /// Returns whether the window was halved.
    fn on_loss(&mut self, sent_seq: u64, next_seq: u64) -> bool {
        if sent_seq < self.last_decrease_seq {
            return false;
        }
        self.ssthresh = (self.cwnd / 2.0).max(1.0);
        self.cwnd = self.ssthresh;
        self.last_decrease_seq = next_seq;
        true
    }

    fn size(&self) -> usize {
        // Within 1..=max by construction.
        self.cwnd.floor().max(1.0) as usize
    }
}

/// One segment's outcome: its number, its send sequence, and the Data with its congestion
/// mark (or why there is none).
type SegmentAnswer = (u64, u64, nfwd_forwarder::Result<(Data, u64)>);

/// Fetches the segments `wanted` of `base` (`base/seg=k`) with the AIMD window, handing each
/// Data to `on_data` (whose error ends the pull at once).
async fn fetch_segments(
    client: &Client,
    base: &Name,
    wanted: impl IntoIterator<Item = u64>,
    opts: &FetchOptions,
    stats: &mut WindowStats,
    mut on_data: impl FnMut(u64, Data) -> Result<()>,
) -> Result<()> {
    let mut queue: VecDeque<u64> = wanted.into_iter().collect();
    let mut tries: HashMap<u64, u32> = HashMap::new();
    let mut window = Window::new(opts.initial_window, opts.max_window);
    let mut in_flight: JoinSet<SegmentAnswer> = JoinSet::new();
    // Segments Nacked NoRoute, sent again after this pause (see below).
    let mut pause: HashMap<u64, Duration> = HashMap::new();
    let mut send_seq = 0u64;
    loop {
        while in_flight.len() < window.size()
            && let Some(k) = queue.pop_front()
        {
            let interest = InterestBuilder::new(base.append_segment(k))
                .lifetime_ms(opts.lifetime_ms)
                .build()?;
            let client = client.clone();
            let seq = send_seq;
            send_seq += 1;
            stats.interests += 1;
            let wait = pause.remove(&k);
            in_flight.spawn(async move {
                if let Some(wait) = wait {
                    tokio::time::sleep(wait).await;
                }
                (k, seq, client.express_marked(interest).await)
            });
        }
        let Some(joined) = in_flight.join_next().await else {
            return Ok(());
        };
        let (k, seq, result) =
            joined.map_err(|e| Error::Function(format!("fetch task failed: {e}")))?;
        // (send again, count as congestion)
        let (retry, congestion) = match result {
            Ok((data, mark)) => {
                if data.content_type() == nfwd_tlv::types::content_type::NACK {
                    return Err(Error::NotFound(format!(
                        "{}: the publisher answered with an error Data",
                        data.name()
                    )));
                }
                on_data(k, data)?;
                // A marked Data is an answer (nothing to send again) and a congestion
                // signal: the window backs off as on a loss, once per window (ndncatchunks
                // reacts to marks the same way).
                if mark > 0 {
                    stats.congestion_marks += 1;
                    (false, true)
                } else {
                    window.on_answer();
                    (false, false)
                }
            }
            Err(nfwd_forwarder::Error::Timeout) => {
                stats.timeouts += 1;
                (true, true)
            }
            Err(nfwd_forwarder::Error::Nack(reason)) => {
                stats.nacks += 1;
                match reason {
                    NackReason::Congestion => (true, true),
                    // A loop or a retransmission crossing: send again, the path is not busy.
                    NackReason::Duplicate => (true, false),
                    // The manifest came, so a route existed a moment ago: a relay whose
                    // upstream went down (or was declared down while busy) Nacks what it
                    // held until its routes fail over. Sent again after a pause that
                    // doubles per try (250 ms, capped at the InterestLifetime), within the
                    // retry bound; the window is left alone (no congestion was seen).
                    NackReason::NoRoute => {
                        let n = tries.get(&k).copied().unwrap_or(0);
                        if n >= opts.max_retries {
                            return Err(Error::NotFound(format!(
                                "no route to {} (Nack NoRoute, {} tries): no forwarder on the \
                                 way knows the package's prefix any more",
                                base.append_segment(k),
                                n + 1
                            )));
                        }
                        let wait = Duration::from_millis(250)
                            .saturating_mul(1 << n.min(8))
                            .min(Duration::from_millis(opts.lifetime_ms));
                        pause.insert(k, wait);
                        (true, false)
                    }
                    other => {
                        return Err(Error::Forwarder(nfwd_forwarder::Error::Nack(other)));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        if congestion && window.on_loss(seq, send_seq) {
            stats.decreases += 1;
        }
        stats.max_window = stats.max_window.max(window.size() as u64);
        if let Some(p) = &opts.progress {
            p.window.store(window.size() as u64, Ordering::Relaxed);
        }
        if !retry {
            continue;
        }
        let n = tries.entry(k).or_insert(0);
        *n += 1;
        if *n > opts.max_retries {
            return Err(Error::Timeout(format!(
                "{}: no answer after {} tries (window {})",
                base.append_segment(k),
                *n,
                window.size()
            )));
        }
        // First in line: the oldest hole is what holds the pull back.
        queue.push_front(k);
    }
}

/// One Interest, sent again on a timeout or a Nack Congestion/Duplicate up to the retry
/// bound.
async fn express_with_retries(
    client: &Client,
    builder: &InterestBuilder,
    opts: &FetchOptions,
    stats: &mut WindowStats,
) -> Result<Data> {
    let mut attempt = 0;
    loop {
        stats.interests += 1;
        match client.express(builder.build()?).await {
            Err(nfwd_forwarder::Error::Timeout) if attempt < opts.max_retries => {
                stats.timeouts += 1;
            }
            Err(nfwd_forwarder::Error::Nack(NackReason::Congestion | NackReason::Duplicate))
                if attempt < opts.max_retries =>
            {
                stats.nacks += 1;
            }
            Err(nfwd_forwarder::Error::Nack(NackReason::NoRoute)) => {
                return Err(Error::NotFound(format!(
                    "no route to {} (Nack NoRoute): no forwarder on the way knows the \
                     package's prefix",
                    builder.name
                )));
            }
            Err(nfwd_forwarder::Error::Timeout) => {
                return Err(Error::Timeout(format!(
                    "{}: no answer after {} tries; is the package published (nfwd sf \
                     publish) and routed?",
                    builder.name,
                    attempt + 1
                )));
            }
            other => return Ok(other?),
        }
        attempt += 1;
    }
}

/// The version of the latest package `name` offers: asked with CanBePrefix and MustBeFresh,
/// read from whatever Data under it answers (the publisher's manifest, or a cached segment).
async fn discover_version(
    client: &Client,
    name: &PackageName,
    opts: &FetchOptions,
    stats: &mut WindowStats,
) -> Result<(u64, Option<Data>)> {
    let base = name.base();
    let builder = InterestBuilder::new(base.clone())
        .can_be_prefix(true)
        .must_be_fresh(true)
        .lifetime_ms(opts.lifetime_ms);
    let data = express_with_retries(client, &builder, opts, stats).await?;
    let version = data
        .name()
        .get(base.len())
        .and_then(|c| c.as_version())
        .filter(|_| base.is_prefix_of(data.name()))
        .ok_or_else(|| PackageError::BadName(data.name().to_string()))?;
    Ok((version, Some(data)))
}

/// `name` at the latest version its publisher (or a copy less than a FreshnessPeriod old)
/// offers.
pub async fn discover_latest(
    client: &Client,
    name: &PackageName,
    opts: &FetchOptions,
) -> Result<PackageName> {
    let mut stats = WindowStats::default();
    let (version, _) = discover_version(client, name, opts, &mut stats).await?;
    Ok(name.with_version(version))
}

fn final_segment(data: &Data) -> Option<u64> {
    data.final_block_id().and_then(Component::as_segment)
}

/// Fetches every manifest segment of `package`, verifying each one's signature as it
/// arrives, and decodes the manifest. `first` is manifest segment 0 if discovery brought it.
async fn fetch_manifest(
    client: &Client,
    package: &PackageName,
    anchor: &Certificate,
    first: Option<Data>,
    opts: &FetchOptions,
    stats: &mut WindowStats,
) -> Result<Manifest> {
    let manifest_name = package.manifest();
    let first = match first.filter(|d| d.name() == &manifest_name.append_segment(0)) {
        Some(d) => d,
        None => {
            let builder =
                InterestBuilder::new(manifest_name.append_segment(0)).lifetime_ms(opts.lifetime_ms);
            express_with_retries(client, &builder, opts, stats).await?
        }
    };
    super::verify_manifest_segment(&first, anchor)?;
    let limits = &opts.limits;
    let bad = |reason: String| PackageError::BadManifest {
        name: package.to_string(),
        reason,
    };
    let last = final_segment(&first)
        .ok_or_else(|| bad("manifest segment 0 has no FinalBlockId".into()))?;
    if last >= limits.max_manifest_segments() {
        return Err(PackageError::Limit {
            name: package.to_string(),
            what: "manifest segment count",
            value: last.saturating_add(1),
            limit: limits.max_manifest_segments(),
        }
        .into());
    }
    let mut total = first.content().len() as u64;
    // Bounded above: at most `max_manifest_segments` entries, each checked against the byte
    // limit as it arrives.
    let mut parts: Vec<Option<bytes::Bytes>> = vec![None; usize::try_from(last + 1).unwrap_or(1)];
    if let Some(p) = parts.first_mut() {
        *p = Some(first.content().clone());
    }
    fetch_segments(client, &manifest_name, 1..=last, opts, stats, |k, data| {
        super::verify_manifest_segment(&data, anchor)?;
        if final_segment(&data) != Some(last) {
            return Err(bad(format!(
                "manifest segment {k} disagrees on the last segment"
            ))
            .into());
        }
        total += data.content().len() as u64;
        if total > limits.max_manifest_bytes {
            return Err(PackageError::Limit {
                name: package.to_string(),
                what: "manifest size",
                value: total,
                limit: limits.max_manifest_bytes,
            }
            .into());
        }
        if let Some(slot) = usize::try_from(k).ok().and_then(|i| parts.get_mut(i)) {
            *slot = Some(data.content().clone());
        }
        Ok(())
    })
    .await?;
    let mut bytes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for part in parts {
        bytes.extend_from_slice(&part.ok_or_else(|| bad("a manifest segment is missing".into()))?);
    }
    Ok(Manifest::decode(package, &bytes, limits)?)
}

/// The partial file of an artifact: hidden, named after the artifact's digest, so that a
/// partial download of another version is never mixed in.
#[must_use]
pub fn partial_path(out_dir: &Path, manifest: &Manifest) -> PathBuf {
    let digest: String = manifest.sha256.chars().take(16).collect();
    out_dir.join(format!(".{}.{digest}.part", manifest.file_name))
}

/// Segments of the partial file that already hold verified content.
fn verified_on_disk(file: &File, package: &PackageName, manifest: &Manifest) -> Result<Vec<bool>> {
    let on_disk = file.metadata()?.len();
    let mut buf = vec![0u8; usize::try_from(manifest.segment_size).unwrap_or(0)];
    (0..manifest.segments)
        .map(|k| {
            let len = manifest.segment_len(k);
            let offset = k * manifest.segment_size;
            if offset + len > on_disk {
                return Ok(false);
            }
            let chunk = &mut buf[..usize::try_from(len).unwrap_or(0)];
            file.read_exact_at(chunk, offset)?;
            Ok(manifest.verify_segment(package, k, chunk).is_ok())
        })
        .collect()
}

/// SHA-256 of a file, read in 64 KiB blocks.
fn file_sha256(path: &Path) -> Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}

/// Writes `text` to `path` through a temporary file and a rename (never half-written).
fn write_atomically(path: &Path, text: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp-nfwd");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(text)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Fetches package `name` (the latest version if it names none) into `out_dir`, verifying
/// the manifest against `anchor` and every segment against the manifest. Writes
/// `out_dir/<file name>` (the artifact, executable for a process package) and
/// `out_dir/<file name>.toml` (the spec, its exec argv[0] the artifact's absolute path). A
/// refused package leaves nothing but the partial file of the segments that verified.
pub async fn fetch_package(
    client: &Client,
    name: &PackageName,
    anchor: &Certificate,
    out_dir: &Path,
    opts: &FetchOptions,
) -> Result<FetchReport> {
    let fetched = fetch_verified_manifest(client, name, anchor, opts).await?;
    fetch_artifact(client, fetched, out_dir, opts).await
}

/// A package's verified manifest, and what fetching it cost: the first half of
/// [`fetch_package`], apart so that a caller (the SF host's cache) can make room for the
/// artifact, whose size only the manifest tells, before fetching it.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    /// The package, with its version.
    pub package: PackageName,
    /// Its manifest, its signature verified against the trust anchor and its content
    /// within the limits.
    pub manifest: Manifest,
    stats: WindowStats,
}

/// Discovers the version (if `name` has none) and fetches and verifies the manifest.
pub async fn fetch_verified_manifest(
    client: &Client,
    name: &PackageName,
    anchor: &Certificate,
    opts: &FetchOptions,
) -> Result<VerifiedManifest> {
    let mut stats = WindowStats::default();
    let (package, first) = match name.version {
        Some(v) => (name.with_version(v), None),
        None => {
            let (v, first) = discover_version(client, name, opts, &mut stats).await?;
            (name.with_version(v), first)
        }
    };
    let manifest = fetch_manifest(client, &package, anchor, first, opts, &mut stats).await?;
    Ok(VerifiedManifest {
        package,
        manifest,
        stats,
    })
}

/// Fetches the artifact of a verified manifest into `out_dir` (the second half of
/// [`fetch_package`]).
pub async fn fetch_artifact(
    client: &Client,
    verified: VerifiedManifest,
    out_dir: &Path,
    opts: &FetchOptions,
) -> Result<FetchReport> {
    let VerifiedManifest {
        package,
        manifest,
        mut stats,
    } = verified;
    std::fs::create_dir_all(out_dir)?;
    let out_dir = std::fs::canonicalize(out_dir)?;
    let part_path = partial_path(&out_dir, &manifest);
    let part = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&part_path)?;
    let done = verified_on_disk(&part, &package, &manifest)?;
    part.set_len(manifest.size)?;
    let reused = done.iter().filter(|d| **d).count() as u64;
    if let Some(p) = &opts.progress {
        p.total_bytes.store(manifest.size, Ordering::Relaxed);
        p.total_segments.store(manifest.segments, Ordering::Relaxed);
        p.segments.store(reused, Ordering::Relaxed);
        let reused_bytes = (0..manifest.segments)
            .filter(|&k| done.get(k as usize).copied().unwrap_or(false))
            .map(|k| manifest.segment_len(k))
            .sum();
        p.bytes.store(reused_bytes, Ordering::Relaxed);
        p.reused_bytes.store(reused_bytes, Ordering::Relaxed);
    }
    let missing =
        (0..manifest.segments).filter(|&k| !done.get(k as usize).copied().unwrap_or(false));
    let mut fetched = 0u64;
    let mut fetched_bytes = 0u64;
    fetch_segments(
        client,
        &package.versioned(),
        missing,
        opts,
        &mut stats,
        |k, data| {
            manifest.verify_segment(&package, k, data.content())?;
            part.write_all_at(data.content(), k * manifest.segment_size)?;
            fetched += 1;
            fetched_bytes += data.content().len() as u64;
            if let Some(p) = &opts.progress {
                p.bytes
                    .fetch_add(data.content().len() as u64, Ordering::Relaxed);
                p.segments.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        },
    )
    .await?;
    part.sync_all()?;
    drop(part);
    manifest.verify_artifact(&package, &file_sha256(&part_path)?)?;
    std::fs::set_permissions(&part_path, std::fs::Permissions::from_mode(0o755))?;
    let artifact = out_dir.join(&manifest.file_name);
    std::fs::rename(&part_path, &artifact)?;

    // The spec, pointing at where the artifact now is (a Docker package's program is
    // inside its image: the spec stays as published).
    let mut spec = manifest.spec.clone();
    if manifest.kind == PackageKind::Process
        && let Artifact::Exec { argv } = &mut spec.artifact
        && let Some(program) = argv.first_mut()
    {
        *program = artifact.display().to_string();
    }
    let spec_text =
        toml::to_string(&spec).map_err(|e| Error::Spec(format!("writing the spec: {e}")))?;
    let spec_path = out_dir.join(format!("{}.toml", manifest.file_name));
    write_atomically(&spec_path, spec_text.as_bytes(), 0o644)?;
    Ok(FetchReport {
        package,
        manifest,
        artifact,
        spec: spec_path,
        fetched_segments: fetched,
        fetched_bytes,
        reused_segments: reused,
        window: stats,
    })
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn the_window_grows_additively_and_halves_once_per_loss_event() {
        let mut w = Window::new(4, 64);
        // Slow start up to the threshold (the maximum at first).
        for _ in 0..10 {
            w.on_answer();
        }
        assert_eq!(w.size(), 14);
        // A loss of an Interest sent at seq 20 when 30 is next: halved.
        assert!(w.on_loss(20, 30));
        assert_eq!(w.size(), 7);
        // Another loss from the same window (sent before the decrease): no second halving.
        assert!(!w.on_loss(25, 31));
        assert_eq!(w.size(), 7);
        // Congestion avoidance: +1 per window of answers, not per answer.
        for _ in 0..7 {
            w.on_answer();
        }
        assert_eq!(w.size(), 7, "below 8 after 7 answers at 7.x");
        w.on_answer();
        assert_eq!(w.size(), 8);
        // A loss sent after the decrease is a new event.
        assert!(w.on_loss(31, 40));
        assert_eq!(w.size(), 4);
        // Never below one, never above the maximum.
        for seq in 40..60 {
            w.on_loss(seq, seq + 1);
        }
        assert_eq!(w.size(), 1);
        let mut w = Window::new(100, 8);
        w.on_answer();
        assert_eq!(w.size(), 8);
    }
}

//! The SF host's package cache: where packages pulled over NDN are installed, bounded in
//! bytes, shared by every SF deployed from them (`docs/sf-host.md`, "Pulling packages").
//!
//! - **Sources**: the host fetches only names under a configured package prefix, verified
//!   against that prefix's trust anchor. A requester (already authorised for `sf`) chooses
//!   which package; it cannot make the node fetch anything else or trust anyone else.
//! - **One fetch per package**: concurrent requests for the same package (name with version)
//!   wait for the same pull (a *flight*); the pull runs in a task of its own, so a requester
//!   that gives up does not cancel it for the others.
//! - **Nothing half-installed**: a pull writes into `DIR/.staging/<key>`; only a package whose
//!   manifest signature, every segment and whole-artifact digest verified is renamed to
//!   `DIR/<key>`, the one place SFs run from.
//! - **Resumed**: a pull that fails other than by verification (a deadline, a lost route, an
//!   I/O error) leaves its verified segments in `DIR/.partial/<key>`, and the next pull of
//!   that package starts from them (every segment on disk is checked against the manifest
//!   again). One partial pull is kept, the latest: the disk used beyond the bound is at most
//!   one package. A pull refused by verification keeps nothing.
//! - **Bounded**: room for the artifact (its size is in the verified manifest, itself within
//!   [`super::PackageLimits`]) is reserved before a byte of it is fetched, by evicting the
//!   least recently used packages no deployed SF uses; if the packages in use leave no room,
//!   the pull is refused. Every pull has a deadline.
//! - **One anchor**: an installed package records the trust anchor that verified it, and is
//!   reused only while its source names that anchor (after a key rotation it is pulled
//!   again and verified with the new one).
//! - **Pins**: a deployed SF holds a [`Pin`] on its package; a pinned package is never
//!   evicted. Dropping the pin (undeploy) makes it evictable, not removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nfwd_forwarder::client::Client;
use nfwd_forwarder::security::Certificate;
use nfwd_tlv::Name;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use super::fetch::{
    FetchOptions, FetchProgress, ProgressSnapshot, fetch_artifact, fetch_verified_manifest,
};
use super::{Manifest, PackageLimits, PackageName};
use crate::error::{Error, Result};

/// Status code of a package that failed verification (an upstream served bad content).
pub const STATUS_REFUSED: u64 = 502;
/// Status code of a pull that missed its deadline.
pub const STATUS_TIMEOUT: u64 = 504;
/// Status code of a package that does not fit in the cache beside the packages in use.
pub const STATUS_CACHE_FULL: u64 = 507;
/// Status code of a package name under no configured source (or no source configured).
pub const STATUS_NOT_A_SOURCE: u64 = 403;
/// How long a package refused by verification is refused again without a pull: an on-demand
/// SF's every request would otherwise pull it again (up to the whole artifact, if the bad
/// segment is the last), which a consumer could repeat at will.
pub const REFUSAL_HOLD: Duration = Duration::from_secs(30);
/// Refusals remembered at once (the oldest is forgotten first).
const MAX_REFUSALS: usize = 256;

/// Where packages may come from: a name prefix and the certificate that must have signed the
/// manifests of packages under it.
#[derive(Debug, Clone)]
pub struct PackageSource {
    /// Packages named under this prefix (e.g. `/site/a`: `/site/a/sf-package/...`).
    pub prefix: Name,
    /// The publisher's certificate: every manifest segment must verify with its key.
    pub anchor: Certificate,
    /// Where the certificate was read from (reported).
    pub anchor_path: PathBuf,
}

impl PackageSource {
    /// Reads `PREFIX=CERT` (the form of `nfwd start --sf-package-source`).
    pub fn parse(text: &str) -> Result<Self> {
        let (prefix, path) = text.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "package source {text:?}: want PREFIX=CERTIFICATE, e.g. \
                 /site/a=/etc/nfwd/keys/publisher.cert"
            ))
        })?;
        Self::load(prefix, Path::new(path))
    }

    /// The source `prefix` with the certificate read from `anchor_path`.
    pub fn load(prefix: &str, anchor_path: &Path) -> Result<Self> {
        let prefix: Name = prefix
            .parse()
            .map_err(|e| Error::Config(format!("package source prefix {prefix:?}: {e}")))?;
        if prefix.is_empty() {
            // `/` would let a requester pick any name on the network.
            return Err(Error::Config(
                "package source prefix must not be / (name the publisher's prefix)".into(),
            ));
        }
        let anchor = nfwd_forwarder::security::read_certificate(anchor_path)
            .map_err(|e| Error::Config(format!("package source {prefix}: {e}")))?;
        Ok(Self {
            prefix,
            anchor,
            anchor_path: anchor_path.to_path_buf(),
        })
    }
}

/// How the host pulls and keeps packages.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// The configured sources; a package under none is refused.
    pub sources: Vec<PackageSource>,
    /// The cache directory (created 0755: instances of other uids run from it). Default
    /// `/var/cache/nfwd/sf-packages`.
    pub dir: PathBuf,
    /// Most bytes of artifacts kept. Default 1 GiB.
    pub max_bytes: u64,
    /// Longest a pull may take, discovery to install; the requester gets an error then.
    /// Default 25 s: under the 30 s lifetime of a deploy command, so that `nfwd sf deploy`
    /// hears why rather than timing out.
    pub fetch_timeout: Duration,
    /// How segments are fetched (window, lifetime, retries) and the limits of what is
    /// accepted.
    pub fetch: FetchOptions,
}

impl CacheOptions {
    /// The default cache directory.
    pub const DEFAULT_DIR: &'static str = "/var/cache/nfwd/sf-packages";
    /// The default bound.
    pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024 * 1024;
    /// The default deadline.
    pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(25);

    /// Options with `sources` and every default.
    #[must_use]
    pub fn new(sources: Vec<PackageSource>) -> Self {
        Self {
            sources,
            dir: PathBuf::from(Self::DEFAULT_DIR),
            max_bytes: Self::DEFAULT_MAX_BYTES,
            fetch_timeout: Self::DEFAULT_FETCH_TIMEOUT,
            fetch: FetchOptions::default(),
        }
    }
}

/// What the cache did since the host started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounters {
    /// Deploys of a package already installed.
    pub hits: u64,
    /// Pulls started.
    pub fetches: u64,
    /// Deploys that waited for a pull another one started (no second download).
    pub joined: u64,
    /// Pulls that installed a package.
    pub installed: u64,
    /// Pulls refused by verification (signature, digest, limits): `docs/sf-host.md`.
    pub refused: u64,
    /// Requests refused without a pull because the package was refused less than
    /// [`REFUSAL_HOLD`] ago.
    pub refused_again: u64,
    /// Pulls that missed their deadline.
    pub timeouts: u64,
    /// Pulls that failed otherwise (no route, cache full, I/O).
    pub failed: u64,
    /// Packages removed to make room.
    pub evictions: u64,
    /// Artifact bytes fetched over the network.
    pub fetched_bytes: u64,
    /// Artifact segments fetched over the network.
    pub fetched_segments: u64,
    /// Installed packages forgotten because their source's trust anchor changed since they
    /// were verified (pulled again).
    #[serde(default)]
    pub anchor_changed: u64,
}

/// One installed package, as the `packages` dataset shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedPackage {
    /// The package name with its version.
    pub package: String,
    /// The function it implements.
    pub function: String,
    /// The SF's own version (the manifest's).
    pub version: String,
    /// Artifact bytes.
    pub size: u64,
    /// The artifact's path.
    pub artifact: String,
    /// Deployed SFs using it (never evicted while above 0).
    pub pins: u32,
}

/// The `packages` dataset: the cache's configuration, content and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStatus {
    /// The cache directory.
    pub dir: String,
    /// Its bound in bytes.
    pub max_bytes: u64,
    /// Artifact bytes installed.
    pub used_bytes: u64,
    /// Bytes reserved by pulls in progress.
    pub reserved_bytes: u64,
    /// `PREFIX=CERTIFICATE` of each source.
    pub sources: Vec<String>,
    /// Installed packages, most recently used first.
    pub packages: Vec<CachedPackage>,
    /// Packages being pulled.
    pub fetching: Vec<String>,
    /// Counters.
    pub counters: CacheCounters,
}

/// What an installed package gives a deployment.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The package with its version.
    pub package: PackageName,
    /// Its verified manifest.
    pub manifest: Manifest,
    /// The artifact (executable), inside the cache directory.
    pub artifact: PathBuf,
}

/// The record written beside an installed artifact: what it is, read back at start.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    package: String,
    manifest: Manifest,
    /// The trust anchor the manifest verified with ([`anchor_id`]); absent in records of an
    /// older nfwd, which are then pulled again.
    #[serde(default)]
    anchor: Option<String>,
}

/// What identifies a trust anchor: its key's kind and the SHA-256 of the key. A package
/// verified with one anchor is not reused once its source names another (a key rotated or
/// revoked): it is pulled again and verified with the new one.
fn anchor_id(anchor: &Certificate) -> String {
    use nfwd_tlv::VerifyKey;
    let (kind, key): (&str, &[u8]) = match &anchor.key {
        VerifyKey::Ed25519(k) => ("ed25519", k),
        VerifyKey::EcdsaP256(k) => ("ecdsa-p256", k),
        VerifyKey::Hmac(k) => ("hmac", k),
        VerifyKey::DigestSha256 => ("digest-sha256", &[]),
    };
    format!(
        "{kind}:{}",
        hex::encode(nfwd_tlv::signature::sha256(&[key]))
    )
}

const RECORD: &str = "package.json";
const STAGING: &str = ".staging";
/// The one partial pull kept for resumption (see the module documentation).
const PARTIAL: &str = ".partial";

#[derive(Debug)]
struct Entry {
    installed: Arc<Installed>,
    /// The trust anchor it was verified with ([`anchor_id`]).
    anchor: Option<String>,
    dir: PathBuf,
    pins: u32,
    last_used: u64,
}

/// The outcome of a flight, shared by its waiters.
type Outcome = Option<std::result::Result<(), Arc<Error>>>;

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    flights: HashMap<String, (watch::Receiver<Outcome>, Arc<FetchProgress>)>,
    reserved: u64,
    /// Packages refused by verification: until when they are refused without a pull, and why.
    refusals: HashMap<String, (Instant, Arc<Error>)>,
    /// Logical clock for least-recently-used order.
    clock: u64,
    counters: CacheCounters,
}

impl State {
    fn used(&self) -> u64 {
        self.entries
            .values()
            .map(|e| e.installed.manifest.size)
            .sum()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The cache (see the module documentation).
#[derive(Debug)]
pub struct PackageCache {
    opts: CacheOptions,
    state: Arc<Mutex<State>>,
}

/// A deployed SF's hold on its package: while it lives the package is not evicted.
#[derive(Debug)]
pub struct Pin {
    state: std::sync::Weak<Mutex<State>>,
    key: String,
    /// The package.
    pub installed: Arc<Installed>,
    /// Whether this request found the package missing (it was pulled, or another request's
    /// pull was joined) rather than in the cache.
    pub pulled: bool,
}

impl Drop for Pin {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade()
            && let Some(e) = lock(&state).entries.get_mut(&self.key)
        {
            e.pins = e.pins.saturating_sub(1);
        }
    }
}

/// Bytes reserved for a pull in progress; given back when the pull ends, however it ends
/// (also when its future is dropped at the deadline).
struct Reservation {
    state: Arc<Mutex<State>>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut st = lock(&self.state);
        st.reserved = st.reserved.saturating_sub(self.bytes);
    }
}

/// A pull's staging directory until it is installed (disarmed): a pull that fails, or is
/// dropped at its deadline, leaves it as the one partial pull kept under `partial`, unless
/// `keep` was cleared (verification failed), which removes it.
struct Staging {
    dir: Option<PathBuf>,
    partial: PathBuf,
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else {
            return;
        };
        if self.keep
            && let Some(name) = dir.file_name()
        {
            // Only the latest is kept: the disk used beyond the bound stays one package.
            let _ = std::fs::remove_dir_all(&self.partial);
            if make_dir(&self.partial).is_ok()
                && std::fs::rename(&dir, self.partial.join(name)).is_ok()
            {
                return;
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The directory name of a package in the cache: 16 hex digits of the SHA-256 of its
/// versioned name (names from the network never become paths).
fn key_dir(key: &str) -> String {
    hex::encode(&nfwd_tlv::signature::sha256(&[key.as_bytes()])[..8])
}

fn make_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)?;
    // Searchable by instances of other uids, writable only by the host.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

impl PackageCache {
    /// Opens the cache: creates the directory, removes what interrupted pulls left, and
    /// reads back the packages installed by an earlier run (one whose record or artifact is
    /// missing or of the wrong size is removed).
    pub fn open(opts: CacheOptions) -> Result<Self> {
        if opts.sources.is_empty() {
            return Err(Error::Config(
                "a package cache needs at least one package source".into(),
            ));
        }
        make_dir(&opts.dir)
            .map_err(|e| Error::Config(format!("package cache {}: {e}", opts.dir.display())))?;
        let _ = std::fs::remove_dir_all(opts.dir.join(STAGING));
        let mut state = State::default();
        for entry in std::fs::read_dir(&opts.dir)?.flatten() {
            let path = entry.path();
            // Only what this cache makes is ours to judge (a key directory: 16 hex digits);
            // anything else in a misconfigured directory is left alone.
            let file_name = entry.file_name();
            let ours = file_name.len() == 16
                && file_name
                    .to_str()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ours {
                if file_name != STAGING && file_name != PARTIAL {
                    tracing::warn!(
                        "sf host: {} in the package cache is not a package; left alone",
                        path.display()
                    );
                }
                continue;
            }
            match Self::read_installed(&path, &opts.fetch.limits) {
                Some((installed, anchor)) => {
                    let key = installed.package.to_string();
                    let last_used = state.tick();
                    state.entries.insert(
                        key,
                        Entry {
                            installed: Arc::new(installed),
                            anchor,
                            dir: path,
                            pins: 0,
                            last_used,
                        },
                    );
                }
                None => {
                    tracing::warn!(
                        "sf host: removing {} from the package cache (incomplete)",
                        path.display()
                    );
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
        Ok(Self {
            opts,
            state: Arc::new(Mutex::new(state)),
        })
    }

    fn read_installed(dir: &Path, limits: &PackageLimits) -> Option<(Installed, Option<String>)> {
        let text = std::fs::read(dir.join(RECORD)).ok()?;
        let record: Record = serde_json::from_slice(&text).ok()?;
        let name: Name = record.package.parse().ok()?;
        let package = PackageName::parse(&name, limits).ok()?;
        package.version?;
        let artifact = dir.join(&record.manifest.file_name);
        let size = std::fs::metadata(&artifact).ok()?.len();
        (size == record.manifest.size && dir.file_name()?.to_str()? == key_dir(&record.package))
            .then_some((
                Installed {
                    package,
                    manifest: record.manifest,
                    artifact,
                },
                record.anchor,
            ))
    }

    /// The configuration.
    #[must_use]
    pub fn options(&self) -> &CacheOptions {
        &self.opts
    }

    /// The source `name` is under (the longest prefix), or a refusal naming the sources.
    fn source_for(&self, name: &PackageName) -> Result<&PackageSource> {
        self.opts
            .sources
            .iter()
            .filter(|s| s.prefix.is_prefix_of(&name.prefix))
            .max_by_key(|s| s.prefix.len())
            .ok_or_else(|| Error::Refused {
                what: "package".into(),
                code: STATUS_NOT_A_SOURCE,
                text: format!(
                    "{name} is not under a package source of this SF host ({}); an operator \
                     adds one with nfwd start --sf-package-source PREFIX=CERT",
                    self.opts
                        .sources
                        .iter()
                        .map(|s| s.prefix.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Checks that `name` is a package name under a configured source (what a deployment
    /// that pulls later can be refused for at once).
    pub fn check_source(&self, name: &str) -> Result<()> {
        let parsed: Name = name
            .parse()
            .map_err(|e| Error::Spec(format!("package name {name:?}: {e}")))?;
        let package = PackageName::parse(&parsed, &self.opts.fetch.limits)
            .map_err(|e| Error::Spec(e.to_string()))?;
        self.source_for(&package).map(|_| ())
    }

    /// The package `name` (`<prefix>/sf-package/<function>[/v=<version>]`) installed and
    /// pinned: from the cache, else pulled over NDN through `client` (discovering the
    /// latest version if `name` has none), verified, installed. Concurrent calls for one
    /// package share one pull. Returns within the fetch deadline.
    pub async fn acquire(&self, client: &Client, name: &str) -> Result<Pin> {
        self.acquire_reporting(client, name, |_| {}).await
    }

    /// [`Self::acquire`], calling `report` every half second while it waits for a pull with
    /// how far the pull got (what a deploy's status line shows).
    pub async fn acquire_reporting(
        &self,
        client: &Client,
        name: &str,
        report: impl Fn(ProgressSnapshot),
    ) -> Result<Pin> {
        let limits = &self.opts.fetch.limits;
        let parsed: Name = name
            .parse()
            .map_err(|e| Error::Spec(format!("package name {name:?}: {e}")))?;
        let package =
            PackageName::parse(&parsed, limits).map_err(|e| Error::Spec(e.to_string()))?;
        let source = self.source_for(&package)?.clone();
        let deadline = Instant::now() + self.opts.fetch_timeout;
        let timeout = || {
            Error::Timeout(format!(
                "pulling {package}: no package within {} s (the fetch deadline)",
                self.opts.fetch_timeout.as_secs()
            ))
        };
        // A named version may be in the cache already: no network at all.
        let versioned = match package.version {
            Some(_) => package.clone(),
            None => tokio::time::timeout_at(
                deadline,
                super::fetch::discover_latest(client, &package, &self.opts.fetch),
            )
            .await
            .map_err(|_| timeout())??,
        };
        let key = versioned.to_string();
        let anchor = anchor_id(&source.anchor);
        {
            let mut st = lock(&self.state);
            let now = Instant::now();
            st.refusals.retain(|_, (until, _)| *until > now);
            if let Some((_, why)) = st.refusals.get(&key) {
                let reason = Arc::clone(why);
                st.counters.refused_again += 1;
                return Err(Error::Pull {
                    package: key,
                    reason,
                });
            }
        }
        // Twice at most: a flight that installed the package leaves it for us to pin.
        for round in 0..2 {
            let (mut rx, progress) = {
                let mut st = lock(&self.state);
                let now = st.tick();
                Self::forget_if_other_anchor(&mut st, &key, &anchor)?;
                if let Some(e) = st.entries.get_mut(&key) {
                    e.pins += 1;
                    e.last_used = now;
                    let installed = Arc::clone(&e.installed);
                    // The second round pins what the flight it waited for installed: that
                    // deploy was counted as a fetch or a join, not a hit.
                    if round == 0 {
                        st.counters.hits += 1;
                    }
                    return Ok(Pin {
                        state: Arc::downgrade(&self.state),
                        key,
                        installed,
                        pulled: round > 0,
                    });
                }
                if let Some((rx, progress)) = st.flights.get(&key).cloned() {
                    st.counters.joined += 1;
                    (rx, progress)
                } else {
                    st.counters.fetches += 1;
                    let (tx, rx) = watch::channel(None);
                    let progress = Arc::new(FetchProgress::default());
                    st.flights
                        .insert(key.clone(), (rx.clone(), Arc::clone(&progress)));
                    let mut opts = self.opts.clone();
                    opts.fetch.progress = Some(Arc::clone(&progress));
                    tokio::spawn(Self::fly(
                        Arc::clone(&self.state),
                        opts,
                        client.clone(),
                        source.clone(),
                        versioned.clone(),
                        deadline,
                        tx,
                    ));
                    (rx, progress)
                }
            };
            let waiting = tokio::time::timeout_at(deadline, async {
                let done = rx.wait_for(Option::is_some);
                tokio::pin!(done);
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        r = &mut done => break r.map(|o| o.clone()),
                        _ = tick.tick() => report(progress.snapshot()),
                    }
                }
            });
            let outcome = waiting
                .await
                .map_err(|_| timeout())?
                .map_err(|_| Error::Function(format!("pulling {key}: the pull ended")))?;
            if let Some(Err(e)) = outcome {
                return Err(Error::Pull {
                    package: key,
                    reason: e,
                });
            }
        }
        Err(Error::Function(format!(
            "pulling {key}: installed, then evicted at once (is the cache too small?)"
        )))
    }

    /// Forgets the installed `key` if another trust anchor than `anchor` verified it, so that
    /// it is pulled again and verified with this one; refuses while deployed SFs run it.
    fn forget_if_other_anchor(st: &mut State, key: &str, anchor: &str) -> Result<()> {
        let Some(e) = st.entries.get(key) else {
            return Ok(());
        };
        if e.anchor.as_deref() == Some(anchor) {
            return Ok(());
        }
        if e.pins > 0 {
            return Err(Error::Refused {
                what: "package".into(),
                code: STATUS_REFUSED,
                text: format!(
                    "{key} in the cache was verified with another trust anchor than its source \
                     names now, and {} deployed SFs run it: undeploy them to pull it again",
                    e.pins
                ),
            });
        }
        tracing::warn!(
            "sf host: package {key} was verified with another trust anchor; pulling it again"
        );
        if let Some(e) = st.entries.remove(key) {
            let _ = std::fs::remove_dir_all(&e.dir);
        }
        st.counters.anchor_changed += 1;
        Ok(())
    }

    /// One pull, in a task of its own: fetches, verifies, installs, then tells the waiters.
    async fn fly(
        state: Arc<Mutex<State>>,
        opts: CacheOptions,
        client: Client,
        source: PackageSource,
        package: PackageName,
        deadline: Instant,
        tx: watch::Sender<Outcome>,
    ) {
        let key = package.to_string();
        let result = match tokio::time::timeout_at(
            deadline,
            Self::pull(&state, &opts, &client, &source, &package),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(format!(
                "no package within {} s (the fetch deadline)",
                opts.fetch_timeout.as_secs()
            ))),
        };
        {
            let mut st = lock(&state);
            st.flights.remove(&key);
            match &result {
                Ok(()) => st.counters.installed += 1,
                Err(Error::Package(_)) => st.counters.refused += 1,
                Err(Error::Timeout(_)) => st.counters.timeouts += 1,
                Err(_) => st.counters.failed += 1,
            }
        }
        match &result {
            Ok(()) => tracing::info!("sf host: installed package {key}"),
            Err(e) => tracing::warn!("sf host: pulling package {key}: {e}"),
        }
        let result = result.map_err(Arc::new);
        if let Err(e) = &result
            && matches!(e.as_ref(), Error::Package(_))
        {
            let mut st = lock(&state);
            if st.refusals.len() >= MAX_REFUSALS
                && let Some(oldest) = st
                    .refusals
                    .iter()
                    .min_by_key(|(_, (until, _))| *until)
                    .map(|(k, _)| k.clone())
            {
                st.refusals.remove(&oldest);
            }
            st.refusals
                .insert(key.clone(), (Instant::now() + REFUSAL_HOLD, Arc::clone(e)));
        }
        let _ = tx.send(Some(result));
    }

    /// Fetches the verified manifest, reserves room, fetches the artifact into staging and
    /// renames it into place.
    async fn pull(
        state: &Arc<Mutex<State>>,
        opts: &CacheOptions,
        client: &Client,
        source: &PackageSource,
        package: &PackageName,
    ) -> Result<()> {
        let verified =
            fetch_verified_manifest(client, package, &source.anchor, &opts.fetch).await?;
        let key = verified.package.to_string();
        let _reservation = Self::reserve(state, opts, &key, verified.manifest.size)?;
        let dir_name = key_dir(&key);
        let staging_root = opts.dir.join(STAGING);
        make_dir(&staging_root)?;
        let staging_dir = staging_root.join(&dir_name);
        let _ = std::fs::remove_dir_all(&staging_dir);
        let partial_root = opts.dir.join(PARTIAL);
        // What an earlier pull of this package left: fetch_artifact resumes from it.
        if std::fs::rename(partial_root.join(&dir_name), &staging_dir).is_ok() {
            tracing::info!("sf host: resuming the pull of {key}");
        } else {
            make_dir(&staging_dir)?;
        }
        let mut staging = Staging {
            dir: Some(staging_dir.clone()),
            partial: partial_root,
            keep: true,
        };
        let report = match fetch_artifact(client, verified, &staging_dir, &opts.fetch).await {
            Ok(report) => report,
            Err(e) => {
                // Segments are verified before they are written, but an artifact whose
                // whole digest is wrong is not worth resuming.
                staging.keep = !matches!(e, Error::Package(_));
                return Err(e);
            }
        };
        // fetch_artifact's spec file names the staging path; the cache keeps its own record.
        let _ = std::fs::remove_file(&report.spec);
        let record = Record {
            package: key.clone(),
            manifest: report.manifest.clone(),
            anchor: Some(anchor_id(&source.anchor)),
        };
        let text =
            serde_json::to_vec(&record).map_err(|e| Error::Spec(format!("package record: {e}")))?;
        std::fs::write(staging_dir.join(RECORD), text)?;
        let final_dir = opts.dir.join(&dir_name);
        let _ = std::fs::remove_dir_all(&final_dir);
        // The rename is the install: before it nothing runs from this package.
        std::fs::rename(&staging_dir, &final_dir)?;
        staging.dir = None;
        let installed = Installed {
            package: report.package.clone(),
            manifest: report.manifest,
            artifact: final_dir.join(&record.manifest.file_name),
        };
        let mut st = lock(state);
        let last_used = st.tick();
        st.counters.fetched_bytes += report.fetched_bytes;
        st.counters.fetched_segments += report.fetched_segments;
        st.entries.insert(
            key,
            Entry {
                installed: Arc::new(installed),
                anchor: record.anchor,
                dir: final_dir,
                pins: 0,
                last_used,
            },
        );
        Ok(())
    }

    /// Reserves `size` bytes, evicting the least recently used unpinned packages as needed;
    /// refuses if the packages in use (and pulls in progress) leave no room.
    fn reserve(
        state: &Arc<Mutex<State>>,
        opts: &CacheOptions,
        key: &str,
        size: u64,
    ) -> Result<Reservation> {
        let mut evicted = Vec::new();
        {
            let mut st = lock(state);
            loop {
                let need = st.used() + st.reserved + size;
                if need <= opts.max_bytes {
                    break;
                }
                let victim = st
                    .entries
                    .iter()
                    .filter(|(_, e)| e.pins == 0)
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, _)| k.clone());
                let Some(victim) = victim else {
                    let (used, reserved) = (st.used(), st.reserved);
                    return Err(Error::Refused {
                        what: "package".into(),
                        code: STATUS_CACHE_FULL,
                        text: format!(
                            "{key} ({size} bytes) does not fit in the package cache ({} \
                             bytes): {used} bytes belong to deployed SFs and {reserved} to \
                             pulls in progress; undeploy some or raise the cache's bound",
                            opts.max_bytes
                        ),
                    });
                };
                if let Some(e) = st.entries.remove(&victim) {
                    st.counters.evictions += 1;
                    evicted.push((victim, e.dir));
                }
            }
            st.reserved += size;
        }
        for (name, dir) in evicted {
            tracing::info!("sf host: evicting package {name} from the cache");
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(Reservation {
            state: Arc::clone(state),
            bytes: size,
        })
    }

    /// The `packages` dataset.
    #[must_use]
    pub fn status(&self) -> CacheStatus {
        let st = lock(&self.state);
        let mut entries: Vec<&Entry> = st.entries.values().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        CacheStatus {
            dir: self.opts.dir.display().to_string(),
            max_bytes: self.opts.max_bytes,
            used_bytes: st.used(),
            reserved_bytes: st.reserved,
            sources: self
                .opts
                .sources
                .iter()
                .map(|s| format!("{}={}", s.prefix, s.anchor_path.display()))
                .collect(),
            packages: entries
                .iter()
                .map(|e| CachedPackage {
                    package: e.installed.package.to_string(),
                    function: e.installed.manifest.function.clone(),
                    version: e.installed.manifest.version.clone(),
                    size: e.installed.manifest.size,
                    artifact: e.installed.artifact.display().to_string(),
                    pins: e.pins,
                })
                .collect(),
            fetching: st.flights.keys().cloned().collect(),
            counters: st.counters.clone(),
        }
    }
}

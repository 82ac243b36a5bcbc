//! The SF host's package cache against a real forwarder (in-process daemon, content store
//! off so that every Interest reaches the publisher and is counted there): concurrent
//! requests share one pull, a second request is a cache hit, a tampered package is refused,
//! leaves nothing and is refused again without a pull for a while, names outside the sources are refused, a pull cut off resumes where it stopped, the byte bound evicts unused
//! packages and refuses when the packages in use leave no room, and a silent publisher
//! costs the deadline, not more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nfwd_forwarder::client::{Client, Reply, ServeHandle};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::Daemon;
use nfwd_forwarder::security::Certificate;
use nfwd_sf_host::Error;
use nfwd_sf_host::package::cache::{CacheOptions, PackageCache, PackageSource};
use nfwd_sf_host::package::{Manifest, PackageKind, PackageName, PackagePackets};
use nfwd_sf_host::spec::SfSpec;
use nfwd_tlv::{DataBuilder, Name, Signer};

struct Node {
    dir: tempfile::TempDir,
    _daemon: Daemon,
    uri: String,
    signer: Signer,
    anchor: Certificate,
    /// Interests the publisher answered (artifact and manifest segments, discovery).
    served: Arc<AtomicU64>,
    _serving: Vec<(Client, ServeHandle)>,
}

impl Node {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.faces.unix_path = Some(dir.path().join("nfwd.sock"));
        c.faces.tcp_listen = String::new();
        c.faces.udp_listen = String::new();
        // Every Interest reaches the publisher: what it counts is what was downloaded.
        c.tables.cs_max_entries = 0;
        let daemon = Daemon::start(c).await.unwrap();
        let uri = format!("unix://{}", daemon.unix_path().unwrap().display());
        let key_name: Name = "/pub/KEY/k1".parse().unwrap();
        let (signer, _) = Signer::generate_ed25519(key_name.clone()).unwrap();
        let anchor = Certificate {
            name: key_name.clone(),
            key_name,
            key: signer.verify_key().unwrap(),
        };
        Self {
            dir,
            _daemon: daemon,
            uri,
            signer,
            anchor,
            served: Arc::new(AtomicU64::new(0)),
            _serving: Vec::new(),
        }
    }

    async fn client(&self) -> Client {
        Client::connect(&self.uri).await.unwrap()
    }

    /// A package of `size` bytes for `function`, version 1, under `/pub`.
    fn packets(&self, function: &str, size: usize) -> (Vec<u8>, PackagePackets) {
        let program: Vec<u8> = b"#!/bin/sh\ncat\n"
            .iter()
            .copied()
            .chain((0..size.saturating_sub(14)).map(|i| b'#' + (i % 7) as u8))
            .collect();
        let spec = SfSpec::from_toml(&format!(
            "name = \"{function}\"\nversion = \"9\"\n[artifact]\nkind = \"exec\"\nargv = [\"prog.sh\"]\n"
        ))
        .unwrap();
        let manifest =
            Manifest::describe(&spec, PackageKind::Process, "prog.sh", &program, 1000).unwrap();
        let name = PackageName::new("/pub".parse().unwrap(), function.parse().unwrap(), Some(1));
        let p = PackagePackets::build(name, manifest, &program, &self.signer).unwrap();
        (program, p)
    }

    /// Serves `packets`, each answer 5 ms late (so that concurrent pulls overlap), counting.
    async fn serve(&mut self, packets: PackagePackets) {
        let client = self.client().await;
        let packets = Arc::new(packets);
        let served = Arc::clone(&self.served);
        let base = packets.name.base();
        let h = client
            .serve(base, move |interest| {
                let reply = packets
                    .answer(&interest)
                    .map_or(Reply::None, |d| Reply::Data(d.clone()));
                served.fetch_add(1, Ordering::Relaxed);
                async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    reply
                }
            })
            .await
            .unwrap();
        self._serving.push((client, h));
    }

    fn cache(&self, max_bytes: u64, timeout: Duration) -> (PackageCache, PathBuf) {
        let dir = self.dir.path().join("cache");
        let mut opts = CacheOptions::new(vec![PackageSource {
            prefix: "/pub".parse().unwrap(),
            anchor: self.anchor.clone(),
            anchor_path: "pub.cert".into(),
        }]);
        opts.dir.clone_from(&dir);
        opts.max_bytes = max_bytes;
        opts.fetch_timeout = timeout;
        opts.fetch.lifetime_ms = 300;
        opts.fetch.max_retries = 50;
        (PackageCache::open(opts).unwrap(), dir)
    }
}

/// The names in a directory.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn concurrent_deploys_share_one_pull_and_the_next_is_a_hit() {
    let mut node = Node::new().await;
    let (program, packets) = node.packets("/sf/cat", 20_000);
    let segments = packets.segments.len() as u64;
    let manifest_segments = packets.manifest_segments.len() as u64;
    node.serve(packets).await;
    let (cache, _) = node.cache(1 << 20, Duration::from_secs(20));
    let client = node.client().await;

    let name = "/pub/sf-package/sf/cat/v=1";
    // One of them watches the pull's progress (what a deploy's status line shows).
    let reports = std::sync::Mutex::new(Vec::new());
    let (a, b, c, d) = tokio::join!(
        cache.acquire_reporting(&client, name, |p| reports.lock().unwrap().push(p)),
        cache.acquire(&client, name),
        cache.acquire(&client, name),
        cache.acquire(&client, name),
    );
    let pins = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    let reports = reports.into_inner().unwrap();
    assert!(!reports.is_empty());
    assert!(
        reports
            .iter()
            .all(|p| p.total_bytes == 0 || p.total_bytes == program.len() as u64),
        "{reports:?}"
    );
    let k = cache.status().counters;
    assert_eq!((k.fetches, k.joined, k.installed), (1, 3, 1), "{k:?}");
    // One download: each segment and each manifest segment asked once.
    assert_eq!(
        node.served.load(Ordering::Relaxed),
        segments + manifest_segments
    );
    assert_eq!(k.fetched_segments, segments);
    let artifact = &pins[0].installed.artifact;
    assert_eq!(std::fs::read(artifact).unwrap(), program);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(artifact).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(pins[0].installed.manifest.version, "9");
    assert_eq!(cache.status().packages[0].pins, 4);

    // Later: from the cache, nothing asked of the network.
    let before = node.served.load(Ordering::Relaxed);
    let again = cache.acquire(&client, name).await.unwrap();
    assert_eq!(again.installed.artifact, *artifact);
    assert_eq!(cache.status().counters.hits, 1);
    assert_eq!(node.served.load(Ordering::Relaxed), before);
    drop(pins);
    drop(again);
    assert_eq!(cache.status().packages[0].pins, 0);

    // Without a version: the latest is discovered (one Interest), then the cache answers.
    let latest = cache
        .acquire(&client, "/pub/sf-package/sf/cat")
        .await
        .unwrap();
    assert_eq!(latest.installed.package.version, Some(1));
    assert_eq!(node.served.load(Ordering::Relaxed), before + 1);

    // A restarted host finds what was installed, removes an incomplete package directory
    // and leaves alone what is not its own.
    drop(latest);
    let dir = node.dir.path().join("cache");
    std::fs::write(dir.join("notes.txt"), "an operator's file").unwrap();
    std::fs::create_dir_all(dir.join("0123456789abcdef")).unwrap();
    let (reopened, _) = node.cache(1 << 20, Duration::from_secs(20));
    assert_eq!(reopened.status().packages.len(), 1);
    assert!(dir.join("notes.txt").exists());
    assert!(!dir.join("0123456789abcdef").exists());
    reopened.acquire(&client, name).await.unwrap();
    assert_eq!(reopened.status().counters.hits, 1);
}

#[tokio::test]
async fn a_tampered_package_is_refused_counted_and_leaves_nothing() {
    let mut node = Node::new().await;
    let (_, mut packets) = node.packets("/sf/bad", 5000);
    let original = packets.segments[2].clone();
    let mut content = original.content().to_vec();
    content[10] ^= 1;
    packets.segments[2] = DataBuilder::new(original.name().clone(), content)
        .final_block_id(original.final_block_id().unwrap().clone())
        .build(&Signer::digest_sha256())
        .unwrap();
    node.serve(packets).await;
    let (cache, dir) = node.cache(1 << 20, Duration::from_secs(20));
    let client = node.client().await;
    let e = cache
        .acquire(&client, "/pub/sf-package/sf/bad/v=1")
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("segment 2 of /pub/sf-package/sf/bad/v=1") && text.contains("refusing"),
        "{text}"
    );
    let k = cache.status().counters;
    assert_eq!((k.refused, k.installed), (1, 0), "{k:?}");
    assert!(cache.status().packages.is_empty());
    // Nothing installed, nothing staged.
    assert_eq!(listing(&dir), vec![".staging".to_owned()]);
    assert!(listing(&dir.join(".staging")).is_empty());
    // Asked again at once: refused for the same reason without a pull (a consumer of an
    // on-demand SF cannot make the node download it over and over).
    let served = node.served.load(Ordering::Relaxed);
    let again = cache
        .acquire(&client, "/pub/sf-package/sf/bad/v=1")
        .await
        .unwrap_err();
    assert!(again.to_string().contains("segment 2 of"), "{again}");
    assert_eq!(node.served.load(Ordering::Relaxed), served);
    let k = cache.status().counters;
    assert_eq!((k.refused, k.refused_again, k.fetches), (1, 1, 1), "{k:?}");

    // Names outside the sources are never fetched.
    let e = cache
        .acquire(&client, "/elsewhere/sf-package/sf/x")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Refused { code: 403, text, .. } if text.contains("not under a package source")),
        "{e}"
    );
}

#[tokio::test]
async fn the_bound_evicts_unused_packages_and_refuses_when_those_in_use_fill_it() {
    let mut node = Node::new().await;
    for f in ["/sf/one", "/sf/two", "/sf/three"] {
        let (_, p) = node.packets(f, 6000);
        node.serve(p).await;
    }
    // Room for two packages of 6000 bytes, not three.
    let (cache, _) = node.cache(13_000, Duration::from_secs(20));
    let client = node.client().await;
    let one = cache
        .acquire(&client, "/pub/sf-package/sf/one/v=1")
        .await
        .unwrap();
    let two = cache
        .acquire(&client, "/pub/sf-package/sf/two/v=1")
        .await
        .unwrap();
    // Both in use: no room for a third.
    let e = cache
        .acquire(&client, "/pub/sf-package/sf/three/v=1")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("does not fit in the package cache"),
        "{e}"
    );
    assert_eq!(cache.status().counters.failed, 1);
    // One released: it is evicted (least recently used unpinned) for the third.
    drop(one);
    let three = cache
        .acquire(&client, "/pub/sf-package/sf/three/v=1")
        .await
        .unwrap();
    let s = cache.status();
    assert_eq!(s.counters.evictions, 1);
    let names: Vec<&str> = s.packages.iter().map(|p| p.package.as_str()).collect();
    assert_eq!(
        names,
        ["/pub/sf-package/sf/three/v=1", "/pub/sf-package/sf/two/v=1"]
    );
    assert!(s.used_bytes <= 13_000);
    drop((two, three));
}

#[tokio::test]
async fn a_silent_publisher_costs_the_deadline_not_more() {
    let mut node = Node::new().await;
    // Registered, never answers.
    let client = node.client().await;
    let h = client
        .serve("/pub/sf-package/sf/mute".parse().unwrap(), |_| async {
            Reply::None
        })
        .await
        .unwrap();
    node._serving.push((client, h));
    let (cache, dir) = node.cache(1 << 20, Duration::from_secs(1));
    let client = node.client().await;
    let start = Instant::now();
    let (a, b) = tokio::join!(
        cache.acquire(&client, "/pub/sf-package/sf/mute/v=1"),
        cache.acquire(&client, "/pub/sf-package/sf/mute/v=1"),
    );
    let took = start.elapsed();
    for e in [a.unwrap_err(), b.unwrap_err()] {
        assert!(e.to_string().contains("within 1 s"), "{e}");
    }
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // Let the flight record its end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let k = cache.status().counters;
    assert_eq!((k.fetches, k.joined, k.timeouts), (1, 1, 1), "{k:?}");
    assert!(cache.status().fetching.is_empty());
    assert!(listing(&dir.join(".staging")).is_empty());
}

/// A pull cut off at its deadline keeps the segments it verified; the next pull of the same
/// package fetches only the rest.
#[tokio::test]
async fn a_pull_cut_off_resumes_where_it_stopped() {
    let mut node = Node::new().await;
    let (program, packets) = node.packets("/sf/big", 80_000);
    let total = packets.segments.len() as u64;
    assert_eq!(total, 80);
    // The publisher answers the manifest and the first 30 segments only, until `full`.
    let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = node.client().await;
    let packets = Arc::new(packets);
    let h = client
        .serve(packets.name.base(), {
            let full = Arc::clone(&full);
            let packets = Arc::clone(&packets);
            move |interest| {
                let reply = packets
                    .answer(&interest)
                    .filter(|d| {
                        full.load(Ordering::Relaxed)
                            || !packets.segments.iter().any(|s| s.name() == d.name())
                            || d.name().last().and_then(|c| c.as_segment()) < Some(30)
                    })
                    .map_or(Reply::None, |d| Reply::Data(d.clone()));
                async move { reply }
            }
        })
        .await
        .unwrap();
    node._serving.push((client, h));
    let (cache, dir) = node.cache(1 << 20, Duration::from_secs(1));
    let client = node.client().await;
    let e = cache
        .acquire(&client, "/pub/sf-package/sf/big/v=1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("within 1 s"), "{e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Kept aside, not installed; staging empty.
    assert_eq!(listing(&dir.join(".partial")).len(), 1);
    assert!(listing(&dir.join(".staging")).is_empty());
    let before = cache.status().counters;
    assert_eq!(
        before.fetched_segments, 0,
        "nothing installed yet: {before:?}"
    );

    full.store(true, Ordering::Relaxed);
    let pin = cache
        .acquire(&client, "/pub/sf-package/sf/big/v=1")
        .await
        .unwrap();
    assert_eq!(std::fs::read(&pin.installed.artifact).unwrap(), program);
    let after = cache.status().counters;
    // The 30 segments on disk were not fetched again.
    assert_eq!(after.fetched_segments, total - 30, "{after:?}");
    assert!(listing(&dir.join(".partial")).is_empty());
}

/// A package installed under one trust anchor is not reused once its source names another
/// (the publisher's key rotated, or the old one was revoked): with the network still serving
/// the old-key package the deploy is refused by verification, not answered from the cache;
/// republished under the new key it is pulled again.
#[tokio::test]
async fn a_package_verified_with_an_old_trust_anchor_is_not_reused() {
    let mut node = Node::new().await;
    let (_, packets) = node.packets("/sf/cat", 5_000);
    node.serve(packets).await;
    let client = node.client().await;
    let name = "/pub/sf-package/sf/cat/v=1";
    let (cache, _) = node.cache(1 << 20, Duration::from_secs(10));
    let pin = cache.acquire(&client, name).await.unwrap();

    // The operator rotates the anchor: a new key, the old package still served.
    let key_name: Name = "/pub/KEY/k2".parse().unwrap();
    let (signer, _) = Signer::generate_ed25519(key_name.clone()).unwrap();
    node.anchor = Certificate {
        name: key_name.clone(),
        key_name,
        key: signer.verify_key().unwrap(),
    };
    // The host restarts with it (sources are read at start).
    drop(pin);
    drop(cache);
    let (rotated, _) = node.cache(1 << 20, Duration::from_secs(10));
    assert_eq!(rotated.status().packages.len(), 1);
    let e = rotated.acquire(&client, name).await.unwrap_err();
    assert!(
        e.to_string().contains("verif") || e.to_string().contains("signature"),
        "{e}"
    );
    let k = rotated.status().counters;
    assert_eq!((k.anchor_changed, k.hits, k.refused), (1, 0, 1), "{k:?}");
    assert!(rotated.status().packages.is_empty());

    // Republished under the new key (a new version: the old one is held as refused for a
    // while): pulled, verified with the new anchor, installed.
    node.signer = signer;
    // The old-key package is no longer served (best route would keep asking it).
    node._serving.clear();
    let (program, _) = node.packets("/sf/cat", 5_000);
    let spec = SfSpec::from_toml(
        "name = \"/sf/cat\"\nversion = \"9\"\n[artifact]\nkind = \"exec\"\nargv = [\"prog.sh\"]\n",
    )
    .unwrap();
    let manifest =
        Manifest::describe(&spec, PackageKind::Process, "prog.sh", &program, 1000).unwrap();
    let v2 = PackageName::new("/pub".parse().unwrap(), "/sf/cat".parse().unwrap(), Some(2));
    node.serve(PackagePackets::build(v2, manifest, &program, &node.signer).unwrap())
        .await;
    let pin = rotated
        .acquire(&client, "/pub/sf-package/sf/cat/v=2")
        .await
        .unwrap();
    assert_eq!(std::fs::read(&pin.installed.artifact).unwrap(), program);
}

//! The Docker backend against the real local engine (no registry: every image is built here
//! `FROM scratch` around the statically linked `nfwd`).
//!
//! Without an engine the tests print why and pass, except under `CI`, where they fail. The
//! static binary is built once, in `target/static-sf` (reused between runs). Each test has its
//! own owner label; a guard removes that owner's containers and images when the test ends,
//! whether it passed or not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[path = "../../tests/common/skip_log.rs"]
mod skip_log;

use bollard::query_parameters::{InspectContainerOptions, KillContainerOptions};
use nfwd_forwarder::client::{Client, FetchOptions, Reply, ServeHandle, answer_data};
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::Daemon;
use nfwd_sf_host::backend::{Backend, ForwarderAccess, InstanceHandle, InstanceStatus, Prepared};
use nfwd_sf_host::docker::{
    Backoff, DockerBackend, DockerOptions, InstanceEventKind, LABEL_OWNER, LABEL_SF,
    build_static_nfwd, engine_available, is_static_elf,
};
use nfwd_sf_host::spec::SfSpec;
use nfwd_tlv::{FunctionChain, Interest, Name, Signer};
use skip_log::record_skip;

/// The static `nfwd`, built once per test process (and by cargo only when the tree changed).
fn static_nfwd() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let t = Instant::now();
            let r = build_static_nfwd(root, &root.join("target").join("static-sf"))
                .map_err(|e| e.to_string());
            eprintln!("static nfwd ready in {:.1} s", t.elapsed().as_secs_f64());
            r
        })
        .clone()
        .unwrap()
}

/// Removes everything of one owner on drop (on a thread of its own: drop cannot await).
struct Owned(String);

impl Drop for Owned {
    fn drop(&mut self) {
        let owner = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let b = DockerBackend::connect(DockerOptions::new("/nonexistent", owner))
                    .await
                    .unwrap();
                let (c, i) = b.remove_owned().await.unwrap();
                eprintln!("cleanup: removed {c} containers, {i} images");
            });
        })
        .join();
    }
}

/// Removes what test runs killed before their guards ran left behind: owners
/// `nfwdtest-<pid>-...` whose process is gone. Once per test process.
async fn sweep_dead_runs() {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let docker = bollard::Docker::connect_with_local_defaults().unwrap();
            let images = docker
                .list_images(None::<bollard::query_parameters::ListImagesOptions>)
                .await
                .unwrap();
            let owners = images.iter().filter_map(|i| i.labels.get(LABEL_OWNER));
            let mut dead: Vec<String> = owners
                .filter(|o| {
                    o.strip_prefix("nfwdtest-")
                        .and_then(|r| r.split('-').next())
                        .is_some_and(|pid| !Path::new("/proc").join(pid).exists())
                })
                .cloned()
                .collect();
            dead.sort();
            dead.dedup();
            for owner in dead {
                let b = DockerBackend::connect(DockerOptions::new("/nonexistent", owner))
                    .await
                    .unwrap();
                let (c, i) = b.remove_owned().await.unwrap();
                eprintln!("swept a dead run: {c} containers, {i} images");
            }
        })
        .await;
}

/// The backend for one test, or None (after saying why) when there is no engine outside CI.
async fn setup(test: &str) -> Option<(DockerBackend, Owned)> {
    if !engine_available().await {
        assert!(
            std::env::var_os("CI").is_none(),
            "Docker engine required under CI ({test}): none answers on the local socket"
        );
        eprintln!("SKIPPED {test}: no Docker engine answers on the local socket");
        record_skip(
            &format!("sf-host docker::{test}"),
            "no Docker engine answers on the local socket",
        );
        return None;
    }
    let binary = tokio::task::spawn_blocking(static_nfwd).await.unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    sweep_dead_runs().await;
    let owner = format!("nfwdtest-{}-{test}-{nanos:x}", std::process::id());
    let guard = Owned(owner.clone());
    let backend = DockerBackend::connect(DockerOptions::new(binary, owner))
        .await
        .unwrap();
    Some((backend, guard))
}

fn upper_spec() -> SfSpec {
    SfSpec::from_toml(
        "name = \"/sf/upper\"\nversion = \"1.0\"\n[artifact]\nkind = \"builtin\"\nfunction = \"upper\"\n\
         [limits]\ncpus = 0.5\nmemory_mib = 64\n",
    )
    .unwrap()
}

/// Polls `status` until it is not Running, for at most `limit`.
async fn wait_exit(b: &DockerBackend, id: &str, limit: Duration) -> InstanceStatus {
    let handle = handle(id);
    let deadline = Instant::now() + limit;
    loop {
        let s = b.status(&handle).await.unwrap();
        if s != InstanceStatus::Running || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn handle(id: &str) -> InstanceHandle {
    InstanceHandle {
        backend: "docker",
        id: id.to_string(),
        sf: "/sf/upper".into(),
        index: 0,
    }
}

/// Runs `/nfwd ARGS` to completion in a container of `spec`'s image; its exit status and
/// output.
async fn run_once(
    b: &DockerBackend,
    spec: &SfSpec,
    name: &str,
    args: &[&str],
) -> (InstanceStatus, String) {
    let tag = b.image_tag(spec).await.unwrap();
    let name = format!("{name}-{}", b.options().owner);
    let id = b
        .run_container(
            &tag,
            &name,
            args.iter().map(ToString::to_string).collect(),
            spec,
            None,
            HashMap::new(),
        )
        .await
        .unwrap();
    let status = wait_exit(b, &id, Duration::from_secs(30)).await;
    let logs = b.logs(&handle(&id), 100).await.unwrap();
    b.stop(&handle(&id)).await.unwrap();
    (status, logs)
}

#[tokio::test]
async fn prepare_builds_from_scratch_then_finds_the_image() {
    let Some((b, _guard)) = setup("prepare").await else {
        return;
    };
    let spec = upper_spec();
    assert!(is_static_elf(&b.options().binary).unwrap());
    let t = Instant::now();
    assert_eq!(b.prepare(&spec).await.unwrap(), Prepared::Fetched);
    let built = t.elapsed();
    // The build reported its steps under the SF's name (the host's `progress` dataset, which
    // `nfwd sf deploy` shows); the last one stays until the host's deploy ends.
    let phases = b.options().progress.snapshot();
    let last = &phases["/sf/upper"].phase;
    let step = last
        .strip_prefix("building its image: step ")
        .and_then(|s| s.split_once(", "))
        .unwrap_or_else(|| panic!("{last}"));
    let (k, n) = step.0.split_once('/').unwrap();
    // The engine appends the build's labels as the last steps.
    assert_eq!(k, n, "the last step: {last}");
    assert!(
        n.parse::<u32>().unwrap() >= 4,
        "FROM, LABEL, COPY, ENTRYPOINT: {last}"
    );
    assert!(
        step.1.starts_with("LABEL ") || step.1.starts_with("ENTRYPOINT "),
        "{last}"
    );
    let t = Instant::now();
    assert_eq!(b.prepare(&spec).await.unwrap(), Prepared::AlreadyPresent);
    let found = t.elapsed();
    let tag = b.image_tag(&spec).await.unwrap();
    assert!(tag.starts_with("nfwd-sf-upper:1-0-"), "{tag}");
    let size = b.image_size(&tag).await.unwrap().unwrap();
    let binary = std::fs::metadata(&b.options().binary).unwrap().len();
    eprintln!(
        "image {tag}: built in {} ms, found in {} ms; binary {binary} bytes, image {size} bytes",
        built.as_millis(),
        found.as_millis()
    );
    assert!(size >= i64::try_from(binary).unwrap());
    let images = b.images().await.unwrap();
    assert_eq!(images, vec![("/sf/upper".to_string(), tag.clone())]);

    // An upgrade: another binary (the same one with a byte appended: still a valid static
    // ELF, another hash) gives another image; the old backend sees it as stale.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("nfwd");
    let mut bytes = std::fs::read(&b.options().binary).unwrap();
    bytes.push(0);
    std::fs::write(&other, bytes).unwrap();
    let b2 = DockerBackend::connect(DockerOptions::new(other, b.options().owner.clone()))
        .await
        .unwrap();
    assert_eq!(b2.prepare(&spec).await.unwrap(), Prepared::Fetched);
    let tag2 = b2.image_tag(&spec).await.unwrap();
    assert_ne!(tag, tag2);
    assert_eq!(b.images().await.unwrap().len(), 2);
    assert_eq!(b.prune_stale_images().await.unwrap(), 1);
    assert_eq!(b.prune_stale_images().await.unwrap(), 0);
    assert_eq!(
        b.images().await.unwrap(),
        vec![("/sf/upper".to_string(), tag)]
    );
}

#[tokio::test]
async fn a_container_from_scratch_runs_to_completion() {
    let Some((b, _guard)) = setup("version").await else {
        return;
    };
    let spec = upper_spec();
    b.prepare(&spec).await.unwrap();
    let (status, logs) = run_once(&b, &spec, "version", &["--version"]).await;
    assert_eq!(status, InstanceStatus::Exited(Some(0)), "{logs}");
    assert!(logs.contains("nfwd"), "{logs}");
}

#[tokio::test]
async fn an_instance_is_confined_and_stop_removes_it() {
    let Some((b, _guard)) = setup("confined").await else {
        return;
    };
    let spec = upper_spec();
    b.prepare(&spec).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tag = b.image_tag(&spec).await.unwrap();
    let name = format!("confined-{}", b.options().owner);
    // A long-running nfwd: a forwarder on a socket in the container's tmpfs.
    let id = b
        .run_container(
            &tag,
            &name,
            ["start", "--unix", "/tmp/x.sock", "--tcp", "", "--udp", ""]
                .map(String::from)
                .to_vec(),
            &spec,
            Some(dir.path()),
            HashMap::new(),
        )
        .await
        .unwrap();
    let info = b
        .client()
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .unwrap();
    let hc = info.host_config.unwrap();
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.memory, Some(64 * 1024 * 1024));
    assert_eq!(hc.readonly_rootfs, Some(true));
    assert_eq!(hc.network_mode.as_deref(), Some("none"));
    assert_eq!(hc.init, Some(true));
    let labels = info.config.unwrap().labels.unwrap();
    assert_eq!(labels.get(LABEL_OWNER), Some(&b.options().owner));
    assert_eq!(labels.get(LABEL_SF).map(String::as_str), Some("/sf/upper"));
    // Running, and still running a moment later (it is a daemon, not a one-shot).
    let h = handle(&id);
    assert_eq!(b.status(&h).await.unwrap(), InstanceStatus::Running);
    let status = wait_exit(&b, &id, Duration::from_millis(500)).await;
    assert_eq!(
        status,
        InstanceStatus::Running,
        "{}",
        b.logs(&h, 50).await.unwrap()
    );
    b.stop(&h).await.unwrap();
    assert_eq!(b.status(&h).await.unwrap(), InstanceStatus::Missing);
    b.stop(&h).await.unwrap(); // idempotent
}

#[tokio::test]
async fn a_killed_container_is_reported_on_the_events_channel() {
    let Some((b, _guard)) = setup("events").await else {
        return;
    };
    let spec = upper_spec();
    b.prepare(&spec).await.unwrap();
    let mut events = b.watch_events();
    let tag = b.image_tag(&spec).await.unwrap();
    let name = format!("events-{}", b.options().owner);
    let id = b
        .run_container(
            &tag,
            &name,
            ["start", "--unix", "/tmp/x.sock", "--tcp", "", "--udp", ""]
                .map(String::from)
                .to_vec(),
            &spec,
            None,
            HashMap::new(),
        )
        .await
        .unwrap();
    b.client()
        .kill_container(
            &id,
            Some(KillContainerOptions {
                signal: "SIGKILL".into(),
            }),
        )
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = events.recv().await.unwrap();
            if e.handle.id == id {
                return e;
            }
        }
    })
    .await
    .expect("no die event within 20 s");
    assert_eq!(event.kind, InstanceEventKind::Died(Some(137)));
    assert_eq!(event.handle.sf, "/sf/upper");
    assert_eq!(event.name, name);
    b.stop(&handle(&id)).await.unwrap();
}

/// A forwarder in this process, its socket in a directory containers can enter (they run
/// without capabilities, so it must be searchable by others), a producer of `/x/...` answering
/// `hello from <name>`, and a consumer.
struct Node {
    daemon: Daemon,
    socket: PathBuf,
    consumer: Client,
    _producer: (Client, ServeHandle),
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let socket = dir.path().join("nfwd.sock");
        let mut config = Config::default();
        config.faces.unix_path = Some(socket.clone());
        config.faces.tcp_listen = String::new();
        config.faces.udp_listen = String::new();
        config.faces.quic_listen = String::new();
        let daemon = Daemon::start(config).await.unwrap();
        let uri = format!("unix://{}", socket.display());
        let producer = Client::connect(&uri).await.unwrap();
        let serving = producer
            .serve("/x".parse().unwrap(), |interest: Interest| async move {
                let content = format!("hello from {}", interest.name());
                answer_data(
                    &interest,
                    content.into_bytes(),
                    Some(10_000),
                    &Signer::digest_sha256(),
                )
                .map_or(Reply::None, Reply::Data)
            })
            .await
            .unwrap();
        let consumer = Client::connect(&uri).await.unwrap();
        Self {
            daemon,
            socket,
            consumer,
            _producer: (producer, serving),
            _dir: dir,
        }
    }

    /// Fetches `name` through `chain` until a result arrives (the SF may still be starting),
    /// failing if `instance` stops running or 30 s pass.
    async fn fetch_until(
        &self,
        b: &DockerBackend,
        instance: &InstanceHandle,
        name: &str,
        chain: &str,
    ) -> bytes::Bytes {
        let name: Name = name.parse().unwrap();
        let chain: FunctionChain = chain.parse().unwrap();
        // MustBeFresh: while an SF of the chain is still starting, the answer is an error Data
        // (short freshness); without it a retry could be answered by that cached error.
        let opts = FetchOptions {
            lifetime_ms: 1000,
            max_retries: 0,
            must_be_fresh: true,
            ..FetchOptions::default()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.consumer.fetch(&name, Some(chain.clone()), &opts).await {
                Ok((_, content)) => return content,
                Err(e) => {
                    let s = b.status(instance).await.unwrap();
                    assert!(
                        Instant::now() < deadline && s == InstanceStatus::Running,
                        "no result: {e}; instance {s:?}; logs:\n{}",
                        b.logs(instance, 50).await.unwrap()
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// An `exec` artifact: a statically linked executable at an absolute path is put in the image
/// and wrapped by `nfwd sf exec`; anything else is refused with a reason.
#[tokio::test]
async fn an_exec_artifact_runs_from_the_image() {
    let Some((b, _guard)) = setup("exec").await else {
        return;
    };
    for (argv, needle) in [
        ("[\"tr\", \"a-z\", \"A-Z\"]", "absolute path"),
        ("[\"/bin/sh\", \"-c\", \"cat\"]", "statically linked"),
    ] {
        let spec = SfSpec::from_toml(&format!(
            "name = \"/sf/bad\"\n[artifact]\nkind = \"exec\"\nargv = {argv}\n"
        ))
        .unwrap();
        let e = b.prepare(&spec).await.unwrap_err();
        assert!(matches!(e, nfwd_sf_host::Error::Spec(_)), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }
    // The static nfwd is itself a static executable: `nfwd --version` ignores its input and
    // answers with its version, which makes a function.
    let exe = b.options().binary.display().to_string();
    let spec = SfSpec::from_toml(&format!(
        "name = \"/sf/version\"\noutput_type = \"text/plain\"\n[artifact]\nkind = \"exec\"\n\
         argv = [{exe:?}, \"--version\"]\n"
    ))
    .unwrap();
    assert_eq!(b.prepare(&spec).await.unwrap(), Prepared::Fetched);
    let node = Node::start().await;
    let access = ForwarderAccess::socket(node.socket.clone());
    let instance = b.start(&spec, 0, &access).await.unwrap();
    let content = node.fetch_until(&b, &instance, "/x/e", "/sf/version").await;
    assert!(content.starts_with(b"nfwd "), "{content:?}");
    b.stop(&instance).await.unwrap();
    node.daemon.shutdown().await.unwrap();
}

/// The whole path: a consumer's Interest for `/x` through `/sf/upper`, computed by an SF
/// container connected to an in-process forwarder through the bind-mounted Unix socket.
#[tokio::test]
async fn a_docker_sf_computes_a_chain_end_to_end() {
    let Some((b, _guard)) = setup("e2e").await else {
        return;
    };
    let spec = upper_spec();
    let t = Instant::now();
    b.prepare(&spec).await.unwrap();
    let prepare_ms = t.elapsed().as_millis();
    let (status, logs) = run_once(&b, &spec, "functions", &["sf", "functions"]).await;
    if status != InstanceStatus::Exited(Some(0)) || !logs.contains("upper") {
        let why = format!("`nfwd sf functions` does not offer `upper` yet: {status:?} {logs}");
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED the end-to-end test: {why}");
        record_skip("sf-host docker::e2e", &why);
        return;
    }

    let node = Node::start().await;
    let consumer = &node.consumer;
    let socket = node.socket.clone();
    let chain: FunctionChain = "/sf/upper".parse().unwrap();
    let opts = FetchOptions {
        lifetime_ms: 1000,
        max_retries: 0,
        ..FetchOptions::default()
    };

    // Cold start: from the moment the host would react to the first Interest (start the
    // instance) to the first result at the consumer.
    let access = ForwarderAccess::socket(socket.clone());
    let mut events = b.watch_events();
    let cold_start = async |round: u32| {
        let t0 = Instant::now();
        let instance = b.start(&spec, 0, &access).await.unwrap();
        let started = t0.elapsed();
        let content = node
            .fetch_until(&b, &instance, &format!("/x/cold{round}"), "/sf/upper")
            .await;
        let cold = t0.elapsed();
        assert_eq!(
            &content[..],
            format!("HELLO FROM /X/COLD{round}").as_bytes()
        );
        eprintln!(
            "docker SF cold start #{round}: {} ms to the first result (container created and \
             started in {} ms)",
            cold.as_millis(),
            started.as_millis()
        );
        instance
    };
    let instance = cold_start(1).await;
    // Warm: the instance is up; a new name (not in the content store).
    let t1 = Instant::now();
    let (_, warm_content) = consumer
        .fetch(&"/x/warm".parse().unwrap(), Some(chain.clone()), &opts)
        .await
        .unwrap();
    let warm = t1.elapsed();
    assert_eq!(&warm_content[..], b"HELLO FROM /X/WARM");
    eprintln!(
        "docker SF: prepare {prepare_ms} ms; warm request {:.1} ms",
        warm.as_secs_f64() * 1000.0
    );

    // The instance carries our labels and the socket mount.
    let info = b
        .client()
        .inspect_container(&instance.id, None::<InspectContainerOptions>)
        .await
        .unwrap();
    let mounts = info.mounts.unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.destination.as_deref() == Some("/run/nfwd") && m.rw == Some(false)),
        "{mounts:?}"
    );
    let labels = info.config.unwrap().labels.unwrap();
    assert_eq!(labels.get("nfwd.index").map(String::as_str), Some("0"));

    // A crash: the event arrives, and the instance restarts (same name, the dead container
    // replaced) after the backoff's delay, as the host does it.
    let mut backoff = Backoff::default();
    let mut instance = instance;
    for round in 2..=3 {
        b.client()
            .kill_container(
                &instance.id,
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await
            .unwrap();
        let event = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let e = events.recv().await.unwrap();
                if e.handle.id == instance.id && matches!(e.kind, InstanceEventKind::Died(_)) {
                    return e;
                }
            }
        })
        .await
        .expect("no die event within 20 s");
        assert_eq!(event.handle.index, 0);
        tokio::time::sleep(backoff.next_delay(Duration::ZERO)).await;
        instance = cold_start(round).await;
    }
    b.stop(&instance).await.unwrap();
    assert_eq!(b.status(&instance).await.unwrap(), InstanceStatus::Missing);
    node.daemon.shutdown().await.unwrap();
}

/// The end-to-end chain: three SFs across one forwarder — `/sf/upper` in a container,
/// `/sf/reverse` and `/sf/gzip` as processes — return gzip(reverse(upper(content))) for a
/// single-segment and a multi-segment content.
#[tokio::test]
async fn a_chain_across_a_container_and_two_processes() {
    use nfwd_forwarder::client::PublishOptions;
    use nfwd_sf_host::process::{ProcessBackend, ProcessOptions};
    use std::io::Read;

    let Some((docker, _guard)) = setup("mixed").await else {
        return;
    };
    let node = Node::start().await;
    let access = ForwarderAccess::socket(node.socket.clone());
    // A multi-segment content next to the node's small `/x/...` one.
    let big: Vec<u8> = (0..30_000u32)
        .map(|i| b"abcdefghij klmnopqrst"[(i % 21) as usize])
        .collect();
    let publisher = Client::connect(&format!("unix://{}", node.socket.display()))
        .await
        .unwrap();
    let opts = PublishOptions {
        segment_size: 4000,
        ..PublishOptions::default()
    };
    let _published = publisher
        .publish(
            "/big".parse().unwrap(),
            big.clone(),
            &opts,
            &Signer::digest_sha256(),
        )
        .await
        .unwrap();

    let upper = upper_spec();
    docker.prepare(&upper).await.unwrap();
    let in_container = docker.start(&upper, 0, &access).await.unwrap();
    let processes = ProcessBackend::new(ProcessOptions::new(static_nfwd()));
    let mut started = Vec::new();
    for f in ["reverse", "gzip"] {
        let spec = SfSpec::from_toml(&format!(
            "name = \"/sf/{f}\"\n[artifact]\nkind = \"builtin\"\nfunction = \"{f}\"\n\
             [limits]\nmemory_mib = 2048\n"
        ))
        .unwrap();
        started.push(processes.start(&spec, 0, &access).await.unwrap());
    }
    let expected = |content: &[u8]| -> Vec<u8> {
        let mut v = content.to_ascii_uppercase();
        v.reverse();
        v
    };
    // The container may still be starting: fetch until it answers.
    let small = node
        .fetch_until(
            &docker,
            &in_container,
            "/x/mixed",
            "/sf/gzip,/sf/reverse,/sf/upper",
        )
        .await;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&small[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, expected(b"hello from /x/mixed"));

    let chain: FunctionChain = "/sf/gzip,/sf/reverse,/sf/upper".parse().unwrap();
    let fetch = FetchOptions {
        lifetime_ms: 4000,
        ..FetchOptions::default()
    };
    let (_, zipped) = node
        .consumer
        .fetch(&"/big".parse().unwrap(), Some(chain), &fetch)
        .await
        .unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(
        plain,
        expected(&big),
        "30 KB in 8 segments through all three"
    );

    for p in &started {
        processes.stop(p).await.unwrap();
    }
    docker.stop(&in_container).await.unwrap();
    node.daemon.shutdown().await.unwrap();
}

/// Kills a child process on drop.
struct ChildDaemon(std::process::Child);

impl Drop for ChildDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `nfwd start --sf-host --sf-backend docker`: an SF deployed with `backend = "auto"` runs in a
/// container confined as the issue asks, read back from the engine — no network, read-only
/// root, every capability dropped, a non-root user, process/memory/CPU limits, and exactly one
/// mount: the instance's own channel directory (not the forwarder's main socket, not the
/// engine's socket). It computes through that channel, and goes with the daemon.
#[tokio::test]
async fn nfwd_start_runs_docker_sfs_confined_to_their_channel() {
    use nfwd_sf_host::host::protocol;
    let Some((b, guard)) = setup("start").await else {
        return;
    };
    let owner = guard.0.clone();
    let binary = tokio::task::spawn_blocking(static_nfwd).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nfwd.sock");
    let mut daemon = ChildDaemon(
        std::process::Command::new(&binary)
            .args(["start", "--tcp", "", "--udp", "", "--unix"])
            .arg(&socket)
            .args(["--sf-host", "--sf-backend", "docker", "--sf-docker-binary"])
            .arg(&binary)
            .args(["--sf-owner", &owner])
            .env("NFWD_LOG", "warn")
            .spawn()
            .unwrap(),
    );
    let uri = format!("unix://{}", socket.display());
    // The daemon, then its SF host, come up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        if let Ok(c) = Client::connect(&uri).await
            && protocol::list(&c).await.is_ok()
        {
            break c;
        }
        assert!(Instant::now() < deadline, "no SF host on {uri}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let producer = Client::connect(&uri).await.unwrap();
    let _serving = producer
        .serve("/x".parse().unwrap(), |interest: Interest| async move {
            let content = format!("hello from {}", interest.name());
            answer_data(
                &interest,
                content.into_bytes(),
                Some(10_000),
                &Signer::digest_sha256(),
            )
            .map_or(Reply::None, Reply::Data)
        })
        .await
        .unwrap();

    let spec = "name = \"/sf/upper\"\nbackend = \"auto\"\n[artifact]\nkind = \"builtin\"\n\
                function = \"upper\"\n[limits]\ncpus = 0.5\nmemory_mib = 64\n[instances]\nmin = 1\n";
    let resp = protocol::deploy(&client, spec).await.unwrap();
    assert_eq!(resp.status_code, 200, "{}", resp.status_text);
    let list = protocol::list(&client).await.unwrap();
    assert_eq!(
        list[0].backend, "docker",
        "auto is the host's configured backend"
    );
    let id = list[0].instances[0].id.clone();

    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let info = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .unwrap();
    let hc = info.host_config.clone().unwrap();
    assert_eq!(hc.network_mode.as_deref(), Some("none"));
    assert_eq!(hc.readonly_rootfs, Some(true));
    assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
    assert!(
        hc.security_opt
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x.starts_with("no-new-privileges"))),
        "{:?}",
        hc.security_opt
    );
    assert!(hc.pids_limit.is_some_and(|p| p > 0), "{:?}", hc.pids_limit);
    assert_eq!(hc.memory, Some(64 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    let user = info.config.clone().unwrap().user.unwrap_or_default();
    let uid = user.split(':').next().unwrap_or_default();
    assert!(
        !uid.is_empty() && uid != "0" && uid != "root",
        "container user {user:?}"
    );
    // Exactly one mount: the instance's own channel directory, read-only.
    let mounts = info.mounts.clone().unwrap_or_default();
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    let m = &mounts[0];
    assert_eq!(m.destination.as_deref(), Some("/run/nfwd"));
    assert_eq!(m.rw, Some(false));
    let source = PathBuf::from(m.source.clone().unwrap());
    let channel_dir = std::fs::canonicalize(dir.path().join("sf")).unwrap();
    assert_eq!(source.parent(), Some(channel_dir.as_path()), "{source:?}");
    assert!(
        source
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("{owner}-sf-upper-")),
        "{source:?}"
    );
    let inside: Vec<String> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(inside, ["nfwd.sock"], "only its channel's socket");
    assert_ne!(source.join("nfwd.sock"), socket, "not the main socket");
    assert!(
        !mounts.iter().any(|m| m
            .source
            .as_deref()
            .is_some_and(|s| s.contains("docker.sock"))),
        "{mounts:?}"
    );
    eprintln!(
        "docker SF {id}: user {user}, mount {}, pids {:?}",
        source.display(),
        hc.pids_limit
    );

    // It computes, through its channel.
    let opts = FetchOptions {
        lifetime_ms: 2000,
        max_retries: 5,
        must_be_fresh: true,
        ..FetchOptions::default()
    };
    let (_, content) = client
        .fetch(
            &"/x/start".parse().unwrap(),
            Some("/sf/upper".parse().unwrap()),
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(&content[..], b"HELLO FROM /X/START");

    // A container on that channel, as the same user, tries management (issue 8: "a container
    // talking to the forwarder as management"): a route, a registration beyond its function,
    // a dataset. The forwarder refuses every one (403): its face is restricted.
    let image = info.image.clone().unwrap();
    for (what, args) in [
        ("route add", vec!["route", "add", "/evil", "1"]),
        ("foreign register", vec!["route", "add", "/evil", "0"]),
        ("status", vec!["status"]),
    ] {
        // The image's entry point is /nfwd.
        let mut cmd = vec!["--connect".to_string(), "unix:///run/nfwd/nfwd.sock".into()];
        cmd.extend(args.iter().map(ToString::to_string));
        let name = format!("{owner}-attack-{}", what.replace(' ', "-"));
        let created = docker
            .create_container(
                Some(bollard::query_parameters::CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                bollard::models::ContainerCreateBody {
                    image: Some(image.clone()),
                    cmd: Some(cmd),
                    user: Some(user.clone()),
                    labels: Some(HashMap::from([(LABEL_OWNER.to_string(), owner.clone())])),
                    host_config: Some(bollard::models::HostConfig {
                        binds: Some(vec![format!("{}:/run/nfwd:ro", source.display())]),
                        network_mode: Some("none".into()),
                        cap_drop: Some(vec!["ALL".into()]),
                        readonly_rootfs: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        docker.start_container(&created.id, None).await.unwrap();
        let status = wait_exit(&b, &created.id, Duration::from_secs(30)).await;
        let logs = b.logs(&handle(&created.id), 50).await.unwrap();
        assert!(
            matches!(status, InstanceStatus::Exited(Some(c)) if c != 0),
            "{what} from the container: {status:?} {logs}"
        );
        assert!(logs.contains("403"), "{what} from the container: {logs}");
        b.stop(&handle(&created.id)).await.unwrap();
    }
    let routes = client
        .fetch(
            &"/localhost/nfd/rib/list".parse().unwrap(),
            None,
            &FetchOptions {
                must_be_fresh: true,
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap()
        .1;
    let rib: Vec<nfwd_tlv::nfd::RibEntry> = nfwd_tlv::nfd::decode_all(&routes).unwrap();
    assert!(
        !rib.iter().any(|e| e.name.to_string().starts_with("/evil")),
        "{rib:?}"
    );

    // SIGTERM: the host stops its containers and removes their directories before the daemon
    // exits.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(daemon.0.wait().unwrap().success());
    let left = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{LABEL_OWNER}={owner}")],
            )])),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(!source.exists(), "{} left behind", source.display());
}

/// `nfwd start --sf-host --sf-backend docker` on `socket`, owner `owner`.
fn start_docker_daemon(binary: &Path, socket: &Path, owner: &str) -> ChildDaemon {
    ChildDaemon(
        std::process::Command::new(binary)
            .args(["start", "--tcp", "", "--udp", "", "--unix"])
            .arg(socket)
            .args(["--sf-host", "--sf-backend", "docker", "--sf-docker-binary"])
            .arg(binary)
            .args(["--sf-owner", owner])
            .env("NFWD_LOG", "warn")
            .spawn()
            .unwrap(),
    )
}

/// A client of the daemon on `uri` once its SF host answers.
async fn sf_host_client(uri: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(c) = Client::connect(uri).await
            && nfwd_sf_host::host::protocol::list(&c).await.is_ok()
        {
            return c;
        }
        assert!(Instant::now() < deadline, "no SF host on {uri}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 15: a restarted daemon finds its SF image again — no build: the same image id and
/// no new image — and the container of a host killed with SIGKILL (never swept before) is
/// gone once the next host has started.
#[tokio::test]
async fn a_restarted_host_reuses_its_image_and_sweeps_what_a_killed_one_left() {
    use nfwd_sf_host::host::protocol;
    let Some((b, guard)) = setup("restart").await else {
        return;
    };
    let owner = guard.0.clone();
    let binary = tokio::task::spawn_blocking(static_nfwd).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nfwd.sock");
    let uri = format!("unix://{}", socket.display());
    let spec = "name = \"/sf/upper\"\n[artifact]\nkind = \"builtin\"\nfunction = \"upper\"\n\
                [limits]\ncpus = 0.5\nmemory_mib = 64\n[instances]\nmin = 1\n";
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let deploy = async |client: &Client| {
        let t = Instant::now();
        let resp = protocol::deploy(client, spec).await.unwrap();
        assert_eq!(resp.status_code, 200, "{}", resp.status_text);
        // The list shows an SF whose lifecycle is busy (a poll) as starting, without
        // instances: asked again until it shows the warm one.
        let deadline = Instant::now() + Duration::from_secs(10);
        let id = loop {
            let list = protocol::list(client).await.unwrap();
            if let Some(i) = list.first().and_then(|s| s.instances.first()) {
                break i.id.clone();
            }
            assert!(Instant::now() < deadline, "no instance listed: {list:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let image = docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
            .unwrap()
            .image
            .unwrap();
        (id, image, t.elapsed())
    };

    let mut first = start_docker_daemon(&binary, &socket, &owner);
    let client = sf_host_client(&uri).await;
    let (id1, image1, took1) = deploy(&client).await;
    let progress = protocol::progress(&client).await.unwrap();
    assert!(progress.is_empty(), "the deploy is over: {progress:?}");
    let images1 = b.images().await.unwrap();
    assert_eq!(images1.len(), 1, "{images1:?}");
    drop(client);
    // SIGKILL: the host has no chance to stop its container, which stays behind.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert!(
        docker
            .inspect_container(&id1, None::<InspectContainerOptions>)
            .await
            .is_ok(),
        "the killed host's container is left behind"
    );

    // A container of a live host (this test process), exited and of the same owner: the
    // next host must leave it alone.
    let tag = b
        .image_tag(&SfSpec::from_toml(spec).unwrap())
        .await
        .unwrap();
    let live = b
        .run_container(
            &tag,
            &format!("live-{owner}"),
            vec!["--version".into()],
            &SfSpec::from_toml(spec).unwrap(),
            None,
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        wait_exit(&b, &live, Duration::from_secs(30)).await,
        InstanceStatus::Exited(Some(0))
    );

    let mut second = start_docker_daemon(&binary, &socket, &owner);
    let client = sf_host_client(&uri).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while docker
        .inspect_container(&id1, None::<InspectContainerOptions>)
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "container {id1} of the killed host is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (id2, image2, took2) = deploy(&client).await;
    assert_ne!(id1, id2);
    assert_eq!(image1, image2, "the same image, not a rebuild");
    assert_eq!(b.images().await.unwrap(), images1, "no new image");
    assert_eq!(
        b.status(&handle(&live)).await.unwrap(),
        InstanceStatus::Exited(Some(0)),
        "a live host's container is not swept"
    );
    // `nfwd sf list` shows the short container id (docker ps's 12 hex digits), and says so.
    let out = std::process::Command::new(&binary)
        .args(["sf", "list", "--connect", &uri])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("INSTANCES (index:container@face)"), "{text}");
    assert!(text.contains(&format!(" 0:{}@", &id2[..12])), "{text}");
    assert!(!text.contains(&id2), "not the 64-hex id: {text}");
    eprintln!(
        "deploy with the image built: {} ms; after the restart, image found: {} ms",
        took1.as_millis(),
        took2.as_millis()
    );
    let term = std::process::Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = second.0.wait().unwrap();
    assert!(status.success(), "the daemon's exit at SIGTERM: {status}");
}

//! `nfwd start`: the forwarding daemon.

use crate::cli::output::out;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use nfwd_forwarder::config::Config;
use nfwd_forwarder::driver::{Daemon, Opener};
use nfwd_sf_host::host::{HostBackend, HostOptions};
use nfwd_sf_host::package::cache::{CacheOptions, PackageSource};
use nfwd_sf_host::users::InstanceUsers;
use tracing_subscriber::EnvFilter;

/// Where `nfwd start` looks for a configuration file when none is given.
const DEFAULT_CONFIG: &str = "/etc/nfwd/nfwd.toml";

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// Configuration file (TOML, see docs/configuration.md). Default: /etc/nfwd/nfwd.toml if it
    /// exists, else the built-in defaults.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Unix socket path (overrides faces.unix_path).
    #[arg(long)]
    unix: Option<PathBuf>,
    /// Also serve at NFD's /run/nfd/nfd.sock (overrides faces.nfd_compat_socket).
    #[arg(long)]
    nfd_compat: bool,
    /// TCP listen address, "" to disable (overrides faces.tcp_listen).
    #[arg(long)]
    tcp: Option<String>,
    /// UDP listen address, "" to disable (overrides faces.udp_listen).
    #[arg(long)]
    udp: Option<String>,
    /// QUIC listen address (overrides faces.quic_listen).
    #[arg(long)]
    quic: Option<String>,
    /// Forwarding threads (shards), 1 to 64 (overrides forwarding.threads).
    #[arg(long)]
    threads: Option<u8>,
    /// Worker threads of the runtime the faces' tasks and forwarding thread 0 run on
    /// (default: the number of CPUs, at most 2).
    #[arg(long)]
    io_threads: Option<usize>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Also run the SF host (`nfwd sf deploy|list|...`), connected to the Unix socket.
    #[arg(long)]
    sf_host: bool,
    /// With --sf-host: deploy every *.toml SF specification in this directory at start.
    #[arg(long, requires = "sf_host")]
    sf_specs: Option<PathBuf>,
    /// With --sf-host: where SFs whose specification says backend = "auto" run: "process" or
    /// "docker". Docker never falls back to processes: a missing engine or static binary
    /// fails the deployment, saying how to fix it.
    #[arg(long, requires = "sf_host", default_value = "process")]
    sf_backend: HostBackend,
    /// With --sf-host: the statically linked nfwd put in SF images (build it with
    /// scripts/build-static-nfwd.sh). Default: this nfwd, if it is static.
    #[arg(long, requires = "sf_host")]
    sf_docker_binary: Option<PathBuf>,
    /// With --sf-host, as root: run every SF instance as this user (NAME, UID or UID:GID;
    /// never root). Default: a uid of its own per instance from --sf-uid-range.
    #[arg(long, requires = "sf_host", conflicts_with = "sf_uid_range")]
    sf_user: Option<String>,
    /// With --sf-host, as root: the uids instances get one each of (FIRST-LAST; gid = uid).
    #[arg(long, requires = "sf_host", default_value = "61000-61999")]
    sf_uid_range: String,
    /// Serve /metrics (Prometheus text) and /status.json over HTTP at this IP:PORT, read from
    /// the daemon over its Unix socket. Loopback addresses only, unless --http-public.
    #[arg(long, value_name = "IP:PORT")]
    http: Option<String>,
    /// Allow --http on an address that is not loopback (the counters tell whoever reads them
    /// about this node's traffic and peers).
    #[arg(long, requires = "http")]
    http_public: bool,
    /// With --sf-host: the host's owner name (Docker labels, channel directories). Default
    /// derived from the Unix socket path.
    #[arg(long, requires = "sf_host")]
    sf_owner: Option<String>,
    /// With --sf-host: pull packages of SFs this node lacks from PREFIX, their manifests
    /// verified with the certificate CERT (PREFIX=CERT; repeatable; adds to
    /// [[sf_packages.source]]).
    #[arg(long, requires = "sf_host", value_name = "PREFIX=CERT")]
    sf_package_source: Vec<String>,
    /// With --sf-host: the package cache directory (overrides sf_packages.cache_dir).
    #[arg(long, requires = "sf_host", value_name = "DIR")]
    sf_package_cache: Option<PathBuf>,
    /// With --sf-host: the package cache's bound in MiB (overrides sf_packages.cache_max_mib).
    #[arg(long, requires = "sf_host", value_name = "MIB")]
    sf_package_cache_mib: Option<u64>,
}

pub(crate) fn run(args: StartArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None if std::path::Path::new(DEFAULT_CONFIG).exists() => {
            Config::from_file(std::path::Path::new(DEFAULT_CONFIG))?
        }
        None => Config::default(),
    };
    if let Some(p) = args.unix.clone() {
        config.faces.unix_path = Some(p);
    }
    if args.nfd_compat {
        config.faces.nfd_compat_socket = true;
    }
    if let Some(a) = args.tcp.clone() {
        config.faces.tcp_listen = a;
    }
    if let Some(a) = args.udp.clone() {
        config.faces.udp_listen = a;
    }
    if let Some(a) = args.quic.clone() {
        config.faces.quic_listen = a;
    }
    if let Some(n) = args.threads {
        config.forwarding.threads = n;
    }
    if let Some(d) = args.sf_package_cache.clone() {
        config.sf_packages.cache_dir = Some(d);
    }
    if let Some(m) = args.sf_package_cache_mib {
        config.sf_packages.cache_max_mib = m;
    }
    config.validate()?;
    if args.print_config {
        out!("{}", toml::to_string(&config)?);
        return Ok(());
    }
    let http = match &args.http {
        Some(addr) => {
            let addr = super::status_http::check_addr(addr, args.http_public)?;
            let Some(socket) = config.faces.unix_path.clone() else {
                anyhow::bail!("--http needs the Unix socket (faces.unix_path or --unix)");
            };
            Some((addr, format!("unix://{}", socket.display())))
        }
        None => None,
    };
    let filter = std::env::var("NFWD_LOG").unwrap_or_else(|_| config.log.level.clone());
    // Logs on stderr, stdout being for what was asked (`--print-config`); in colour only on
    // a terminal, so a log file or a journal gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&filter).with_context(|| format!("log filter {filter:?}"))?,
        )
        .with_target(false)
        .with_ansi(super::output::colour_stderr())
        .with_writer(std::io::stderr)
        .init();
    let threads = args.io_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(2)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let sf_host = if args.sf_host {
        let Some(socket) = config.faces.unix_path.clone() else {
            anyhow::bail!("--sf-host needs the Unix socket (faces.unix_path or --unix)");
        };
        let users = match &args.sf_user {
            Some(u) => InstanceUsers::parse_user(u).context("--sf-user")?,
            None => InstanceUsers::parse_range(&args.sf_uid_range).context("--sf-uid-range")?,
        };
        let packages = package_options(&config.sf_packages, &args)?;
        let options = HostOptions {
            packages,
            backend: args.sf_backend,
            docker_binary: args.sf_docker_binary,
            owner: args.sf_owner,
            channel_dir: Some(config.faces.channel_dir()),
            users,
            ..HostOptions::default()
        };
        options.validate().context("--sf-host")?;
        Some((socket, options, args.sf_specs))
    } else {
        None
    };
    runtime.block_on(async move {
        // Bound before the daemon starts, so a taken port fails `nfwd start` at once.
        if let Some((addr, daemon)) = http {
            let listener = super::status_http::bind(addr).await?;
            tracing::info!("status over HTTP at http://{addr}/metrics and /status.json");
            tokio::spawn(super::status_http::serve(listener, daemon, sf_host.is_some()));
        }
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        // With an SF host, other clients are held until it serves, so that a command sent as
        // soon as the socket exists reaches it (`driver/gate.rs`).
        let (daemon, host) = match sf_host {
            Some((socket, options, specs)) => {
                let (daemon, opener) = Daemon::start_held(config).await?;
                tokio::spawn(open_anyway_after(HOLD_LIMIT, opener.clone()));
                let host = tokio::spawn(super::sf_host::run_in_daemon(
                    socket,
                    options,
                    specs,
                    opener,
                    std::sync::Arc::clone(&stop),
                ));
                (daemon, Some(host))
            }
            None => (Daemon::start(config).await?, None),
        };
        let signal = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                    tracing::info!("SIGTERM: shutting down");
                }
            }
        };
        // Freed heap pages go back to the system after a burst (a flood must not leave its
        // peak in RSS); the task ends with the runtime.
        tokio::spawn(crate::memory::give_back_after_bursts());
        let mut daemon = daemon;
        let died = tokio::select! {
            () = signal => false,
            // A forwarding thread died (a bug): exit with an error, for a supervisor to
            // restart the daemon.
            () = daemon.stopped() => true,
        };
        // The SF host stops its instances while the daemon still runs (if it does).
        if let Some(h) = host {
            stop.notify_one();
            let _ = h.await;
        }
        if died {
            anyhow::bail!("the forwarder stopped by itself (see the log)");
        }
        daemon.shutdown().await?;
        anyhow::Ok(())
    })?;
    Ok(())
}

/// The longest the SF host may take to serve before other clients are let in anyway.
const HOLD_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn open_anyway_after(limit: std::time::Duration, opener: Opener) {
    tokio::time::sleep(limit).await;
    if !opener.is_open() {
        tracing::warn!(
            "the SF host did not serve within {} s: letting clients in without it",
            limit.as_secs()
        );
        opener.open();
    }
}

/// The SF host's package settings: `[sf_packages]` plus `--sf-package-source`; `None` when
/// no source is configured (a deploy of a package is then refused). Certificates are read
/// now, so a missing or bad one fails `nfwd start` rather than the first deploy.
fn package_options(
    config: &nfwd_forwarder::config::SfPackagesConfig,
    args: &StartArgs,
) -> anyhow::Result<Option<CacheOptions>> {
    let mut sources = Vec::new();
    for s in &config.sources {
        sources.push(PackageSource::load(&s.prefix, &s.trust_anchor)?);
    }
    for s in &args.sf_package_source {
        sources.push(PackageSource::parse(s).context("--sf-package-source")?);
    }
    if sources.is_empty() {
        return Ok(None);
    }
    let mut options = CacheOptions::new(sources);
    if let Some(d) = &config.cache_dir {
        options.dir.clone_from(d);
    }
    options.max_bytes = config.cache_max_mib.saturating_mul(1024 * 1024);
    options.fetch_timeout = std::time::Duration::from_secs(config.fetch_timeout_s);
    Ok(Some(options))
}

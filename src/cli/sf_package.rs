//! `nfwd sf publish` and `nfwd sf fetch`: SF packages over NDN (`docs/sf-host.md`, "SF
//! packages"). Publish serves an SF's program (or, for a Docker SF, its image as a `docker
//! save` archive) and spec as a signed, segmented package;
//! fetch pulls one with a congestion window, verifies it against a trust anchor and writes it
//! atomically, resuming a partial download.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use nfwd_forwarder::security;
use nfwd_sf_host::package::fetch::{FetchOptions, FetchProgress, ProgressSnapshot, fetch_package};
use nfwd_sf_host::package::{
    DEFAULT_SEGMENT_SIZE, Manifest, PackageKind, PackageLimits, PackageName, PackagePackets,
};
use nfwd_sf_host::spec::{Artifact, BackendKind, SfSpec};
use nfwd_tlv::Name;

use super::get::{connect, parse_boxed};
use super::output::with_status_line;

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// An SF specification (`.toml`, an `exec` artifact: its program is published with it)
    /// or a program file (then give --function).
    pub(crate) path: PathBuf,
    /// Prefix to publish under: the package is PREFIX/sf-package/<function>/v=<version>.
    #[arg(long, value_parser = parse_boxed::<Name>)]
    pub(crate) prefix: Box<Name>,
    /// Private key signing the manifest (`nfwd key generate`); fetchers trust its
    /// certificate.
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// Function name, when PATH is a program rather than a specification.
    #[arg(long)]
    pub(crate) function: Option<String>,
    /// For a specification with backend = "docker": the local image (tag or ID) published
    /// as a `docker save` archive; the spec's exec argv[0] is the program's absolute path
    /// inside it (fetchers add their own `/nfwd`).
    #[arg(long)]
    pub(crate) image: Option<String>,
    /// NDN version number (default: the current time in milliseconds).
    #[arg(long)]
    pub(crate) version: Option<u64>,
    /// Artifact bytes per segment.
    #[arg(long, default_value_t = DEFAULT_SEGMENT_SIZE)]
    pub(crate) segment_size: usize,
    /// Forwarder to connect to (unix:///path or tcp4://host:port); default
    /// $NDN_CLIENT_TRANSPORT, then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock.
    #[arg(long)]
    pub(crate) connect: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Package name: PREFIX/sf-package/<function> (the latest version) or .../v=<version>.
    #[arg(value_parser = parse_boxed::<Name>)]
    pub(crate) name: Box<Name>,
    /// Certificate of the publisher's key (`nfwd key generate` writes it): the manifest must
    /// be signed by it.
    #[arg(long)]
    pub(crate) trust_anchor: PathBuf,
    /// Directory to write the artifact and its spec into (created if missing).
    #[arg(long, default_value = ".")]
    pub(crate) out: PathBuf,
    /// InterestLifetime in milliseconds (how long before a lost Interest is sent again).
    #[arg(long, default_value_t = 2000)]
    pub(crate) lifetime: u64,
    /// Retransmissions of one Interest before giving up.
    #[arg(long, default_value_t = 6)]
    pub(crate) retries: u32,
    /// Largest congestion window, in Interests.
    #[arg(long, default_value_t = 128)]
    pub(crate) max_window: usize,
    /// Draw the progress line even when stderr is not a terminal.
    #[arg(long)]
    pub(crate) progress: bool,
    /// Forwarder to connect to (unix:///path or tcp4://host:port); default
    /// $NDN_CLIENT_TRANSPORT, then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock.
    #[arg(long)]
    pub(crate) connect: Option<String>,
}

/// What a package carries: a program file, or a local Docker image.
enum Source {
    Program(PathBuf),
    Image(String),
}

/// The spec and the program file (or image) a publication is made of.
fn spec_and_program(args: &PublishArgs) -> anyhow::Result<(SfSpec, Source)> {
    let is_spec = args.path.extension().is_some_and(|e| e == "toml");
    if !is_spec {
        let function = args.function.clone().with_context(|| {
            format!(
                "{} is a program: give --function NAME (or publish a .toml specification)",
                args.path.display()
            )
        })?;
        let spec = SfSpec {
            name: function,
            version: "0".into(),
            input_type: "*/*".into(),
            output_type: "application/octet-stream".into(),
            artifact: Artifact::Exec {
                argv: vec![args.path.display().to_string()],
            },
            backend: BackendKind::Process,
            limits: nfwd_sf_host::spec::Limits::default(),
            instances: nfwd_sf_host::spec::InstancePolicy::default(),
            concurrency: 4,
            timeout_ms: 30_000,
        };
        spec.validate()?;
        if args.image.is_some() {
            anyhow::bail!("--image publishes a Docker SF: give its .toml specification");
        }
        return Ok((spec, Source::Program(args.path.clone())));
    }
    let text = std::fs::read_to_string(&args.path)
        .with_context(|| format!("reading {}", args.path.display()))?;
    let spec = SfSpec::from_toml(&text).with_context(|| format!("{}", args.path.display()))?;
    if args.function.as_deref().is_some_and(|f| f != spec.name) {
        anyhow::bail!(
            "--function {:?} differs from the specification's name {}",
            args.function.as_deref().unwrap_or_default(),
            spec.name
        );
    }
    match (spec.backend, &args.image) {
        (BackendKind::Docker, Some(image)) => {
            match &spec.artifact {
                Artifact::Exec { argv } if argv.first().is_some_and(|p| p.starts_with('/')) => {}
                _ => anyhow::bail!(
                    "{}: a Docker package runs an exec program by its absolute path inside \
                     the image ([artifact] kind = \"exec\", argv = [\"/path/in/image\", ...])",
                    spec.name
                ),
            }
            return Ok((spec, Source::Image(image.clone())));
        }
        (BackendKind::Docker, None) => anyhow::bail!(
            "{}: backend = \"docker\": give --image IMAGE, the local image to publish",
            spec.name
        ),
        (_, Some(_)) => anyhow::bail!(
            "{}: --image publishes a Docker SF; its specification needs backend = \"docker\"",
            spec.name
        ),
        (_, None) => {}
    }
    let program = match &spec.artifact {
        Artifact::Builtin { function } => anyhow::bail!(
            "{}: the built-in {function:?} is part of every nfwd; there is nothing to publish",
            spec.name
        ),
        Artifact::Package { name, .. } => anyhow::bail!(
            "{}: its artifact is the package {name}; publish the program itself",
            spec.name
        ),
        Artifact::Image { .. } => anyhow::bail!("{}: not a publishable artifact", spec.name),
        Artifact::Exec { argv } => argv
            .first()
            .cloned()
            .context("artifact exec: argv is empty")?,
    };
    // A relative program is the spec's neighbour (the spec travels with it).
    let program = Path::new(&program);
    let path = if program.is_absolute() {
        program.to_path_buf()
    } else {
        args.path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(program)
    };
    Ok((spec, Source::Program(path)))
}

/// Builds the package `args` names, signed with its key.
pub(crate) async fn build_package(
    args: &PublishArgs,
    version: u64,
) -> anyhow::Result<PackagePackets> {
    let (spec, source) = spec_and_program(args)?;
    let (spec, kind, file_name, artifact, image) = match source {
        Source::Program(program) => {
            let (spec, file_name, artifact) = read_program(spec, &program)?;
            (spec, PackageKind::Process, file_name, artifact, None)
        }
        Source::Image(reference) => {
            let limit = PackageLimits::default().max_artifact_bytes;
            let (id, archive) = nfwd_sf_host::docker::save_package_image(&reference, limit)
                .await
                .with_context(|| format!("{}: saving the image {reference}", spec.name))?;
            (
                spec,
                PackageKind::Docker,
                "image.tar".into(),
                archive,
                Some(id),
            )
        }
    };
    let mut manifest = Manifest::describe(&spec, kind, &file_name, &artifact, args.segment_size)?;
    manifest.image = image;
    let function: Name = spec.name.parse()?;
    let name = PackageName::new(Name::clone(&args.prefix), function, Some(version));
    let signer = security::read_key(&args.key)?;
    Ok(PackagePackets::build(name, manifest, &artifact, &signer)?)
}

/// A process package's program: read whole (within the fetchers' limit), the spec naming it
/// by its file name. Returns the spec, the file name and the bytes.
fn read_program(mut spec: SfSpec, program: &Path) -> anyhow::Result<(SfSpec, String, Vec<u8>)> {
    let limit = PackageLimits::default().max_artifact_bytes;
    let size = std::fs::metadata(program)
        .with_context(|| format!("{}: the program {}", spec.name, program.display()))?
        .len();
    if size > limit {
        anyhow::bail!(
            "{} is {size} bytes; fetchers accept at most {limit}",
            program.display()
        );
    }
    let artifact =
        std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
    let file_name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the program path has no file name")?;
    // The published spec names the program by its file name: where it lands is the
    // fetcher's output directory.
    if let Artifact::Exec { argv } = &mut spec.artifact
        && let Some(first) = argv.first_mut()
    {
        first.clone_from(&file_name);
    }
    Ok((spec, file_name, artifact))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn publish(args: &PublishArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let packets = Arc::new(build_package(args, args.version.unwrap_or_else(now_ms)).await?);
        let client = connect(args.connect.as_deref()).await?;
        let name = packets.name.clone();
        let (size, segments, manifest_segments) = (
            packets.manifest.size,
            packets.segments.len(),
            packets.manifest_segments.len(),
        );
        let mut handle = Arc::clone(&packets)
            .serve(&client)
            .await
            .with_context(|| format!("registering {}", name.base()))?;
        eprintln!(
            "serving {name}: {size} bytes in {segments} segments, manifest in \
             {manifest_segments}; SIGINT or SIGTERM to stop"
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
            () = handle.closed() => anyhow::bail!("the forwarder closed the connection"),
        }
        // Best effort: the forwarder drops the route when the connection closes anyway.
        let _ = client.unregister(&name.base()).await;
        Ok(())
    })
}

/// `3.1/20.0 MiB, 12.5 MiB/s, ETA 2 s, window 32` (the rate over what this run fetched, not
/// what it found on disk).
fn progress_line(p: ProgressSnapshot, elapsed: Duration) -> String {
    let ProgressSnapshot {
        bytes,
        total_bytes: total,
        reused_bytes,
        window,
        ..
    } = p;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let rate = bytes.saturating_sub(reused_bytes) as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut line = format!("{:.1}/{:.1} MiB", mib(bytes), mib(total));
    line.push_str(&format!(", {:.1} MiB/s", rate / (1024.0 * 1024.0)));
    if rate > 0.0 && total > 0 {
        line.push_str(&format!(
            ", ETA {:.0} s",
            total.saturating_sub(bytes) as f64 / rate
        ));
    }
    line.push_str(&format!(", window {window}"));
    line
}

pub(crate) fn fetch(args: &FetchArgs) -> anyhow::Result<()> {
    let limits = PackageLimits::default();
    let name = PackageName::parse(&args.name, &limits)?;
    let anchor = security::read_certificate(&args.trust_anchor)?;
    let show_progress = args.progress || std::io::stderr().is_terminal();
    let progress = Arc::new(FetchProgress::default());
    let opts = FetchOptions {
        lifetime_ms: args.lifetime,
        max_retries: args.retries,
        max_window: args.max_window,
        limits,
        progress: Some(Arc::clone(&progress)),
        ..FetchOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let report = rt.block_on(async {
        let client = connect(args.connect.as_deref()).await?;
        let pull = fetch_package(&client, &name, &anchor, &args.out, &opts);
        let result = if show_progress {
            with_status_line(pull, Duration::from_millis(500), |elapsed| {
                progress_line(progress.snapshot(), elapsed)
            })
            .await
        } else {
            pull.await
        };
        result.with_context(|| format!("fetching {name}"))
    })?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fetched {}: {} bytes, {} segments ({} fetched, {} already on disk) in {secs:.3} s, \
         {:.2} MiB/s; window max {}, {} timeouts, {} Nacks, {} congestion marks, {} halvings",
        report.package,
        report.manifest.size,
        report.manifest.segments,
        report.fetched_segments,
        report.reused_segments,
        report.fetched_bytes as f64 / secs.max(1e-3) / (1024.0 * 1024.0),
        report.window.max_window,
        report.window.timeouts,
        report.window.nacks,
        report.window.congestion_marks,
        report.window.decreases,
    );
    println!("artifact {}", report.artifact.display());
    println!("spec     {}", report.spec.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_says_bytes_rate_eta_and_window() {
        let mib = 1024 * 1024;
        // 1 MiB was on disk; 2 more fetched in 2 s: 1 MiB/s, 17 MiB left.
        let p = ProgressSnapshot {
            bytes: 3 * mib,
            total_bytes: 20 * mib,
            reused_bytes: mib,
            window: 32,
            ..ProgressSnapshot::default()
        };
        assert_eq!(
            progress_line(p, Duration::from_secs(2)),
            "3.0/20.0 MiB, 1.0 MiB/s, ETA 17 s, window 32"
        );
        // Nothing known yet: no division by zero, no ETA.
        assert_eq!(
            progress_line(ProgressSnapshot::default(), Duration::ZERO),
            "0.0/0.0 MiB, 0.0 MiB/s, window 0"
        );
    }
}

//! `nfwd key generate|show`: signing keys for management (`docs/security.md`). A key is
//! trusted by naming its certificate in a `[[security.authorize]]` rule; the CLI signs
//! commands with it given `--key FILE` (or `NFWD_KEY`).

use crate::cli::output::outln;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use nfwd_forwarder::security::{self, Algorithm};
use nfwd_tlv::Name;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AlgorithmArg {
    /// Ed25519.
    Ed25519,
    /// ECDSA P-256 with SHA-256 (ndn-cxx's default key type).
    EcdsaP256,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a key pair for IDENTITY: `<out>/<last component>.key` (private, mode 0600) and
    /// `<out>/<last component>.cert` (a self-signed NDN certificate, base64).
    Generate {
        /// Identity name, e.g. /example/ops/alice.
        identity: Name,
        /// Directory to write into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Key type.
        #[arg(long, value_enum, default_value_t = AlgorithmArg::Ed25519)]
        algorithm: AlgorithmArg,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Print the names in a certificate (.cert) or key (.key) file.
    Show {
        /// The file.
        file: PathBuf,
    },
}

/// Makes `client` sign its commands with the key in `path`, if one is given.
pub(crate) fn use_key(
    client: &nfwd_forwarder::client::Client,
    path: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = path {
        let signer = security::read_key(path)?;
        client.set_command_signer(std::sync::Arc::new(signer));
    }
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes `text` to `path` with `mode`, refusing to replace a file unless `force`.
fn write_file(path: &Path, text: &str, mode: u32, force: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(mode);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(path).with_context(|| {
        format!(
            "writing {}{}",
            path.display(),
            if force {
                ""
            } else {
                " (use --force to replace it)"
            }
        )
    })?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

pub(crate) fn run(cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Generate {
            identity,
            out,
            algorithm,
            force,
        } => {
            let stem = identity
                .last()
                .map(|c| String::from_utf8_lossy(c.value()).into_owned())
                .filter(|s| !s.is_empty() && !s.contains('/'))
                .context("the identity needs a last component usable as a file name")?;
            let algorithm = match algorithm {
                AlgorithmArg::Ed25519 => Algorithm::Ed25519,
                AlgorithmArg::EcdsaP256 => Algorithm::EcdsaP256,
            };
            let (key, cert) = security::generate_key(&identity, algorithm, now_ms())?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let key_path = out.join(format!("{stem}.key"));
            let cert_path = out.join(format!("{stem}.cert"));
            write_file(&key_path, &key, 0o600, force)?;
            write_file(&cert_path, &cert, 0o644, force)?;
            let parsed = security::parse_certificate(&cert)?;
            outln!("key         {} (keep it secret)", key_path.display());
            outln!("certificate {}", cert_path.display());
            outln!("key name    {}", parsed.key_name);
            outln!();
            outln!("Trust it in the forwarder's configuration, e.g.:");
            outln!("  [[security.authorize]]");
            outln!("  key = {:?}", cert_path.display().to_string());
            outln!("  privileges = [\"faces\", \"fib\", \"rib\", \"strategy-choice\", \"cs\"]");
            outln!(
                "and sign commands with it: nfwd --key {} ...",
                key_path.display()
            );
            Ok(())
        }
        KeyCommand::Show { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            if let Ok(cert) = security::parse_certificate(&text) {
                outln!("certificate {}", cert.name);
                outln!("key name    {}", cert.key_name);
                return Ok(());
            }
            let signer = security::read_key(&file)?;
            match signer.signature_info().key_locator {
                Some(nfwd_tlv::KeyLocator::Name(n)) => outln!("private key {n}"),
                _ => outln!("private key"),
            }
            Ok(())
        }
    }
}

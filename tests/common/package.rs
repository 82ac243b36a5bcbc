//! Shared by the SF package tests (`sf_package`, `sf_pull`, `sf_pull_docker`): keys, the
//! package of a test program, a publisher and a content producer on a daemon.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nfwd_forwarder::security;
use nfwd_sf_host::package::{Manifest, PackageKind, PackageName, PackagePackets};
use nfwd_sf_host::spec::SfSpec;

use super::netns::{Daemon, Killed};
use super::nfwd_output as nfwd;

/// A command's stdout and stderr, for assertion messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `nfwd key generate IDENTITY --out DIR`: (key file, certificate file).
pub(crate) fn generate_key(dir: &Path, identity: &str) -> (PathBuf, PathBuf) {
    let out = nfwd(&[
        "key",
        "generate",
        identity,
        "--out",
        &dir.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stem = identity.rsplit('/').next().unwrap();
    (
        dir.join(format!("{stem}.key")),
        dir.join(format!("{stem}.cert")),
    )
}

/// The content store hits of `d`.
pub(crate) fn cs_hits(d: &Daemon) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(&d.cli(&["cs", "info", "--json"]).unwrap()).expect("cs info --json");
    json["hits"].as_u64().unwrap()
}

/// A package of `program` as function `function` under `/pkg`, version 1, signed by `key`.
pub(crate) fn packets(function: &str, program: &[u8], key: &Path) -> PackagePackets {
    let spec = SfSpec::from_toml(&format!(
        "name = \"{function}\"\n[artifact]\nkind = \"exec\"\nargv = [\"prog.sh\"]\n"
    ))
    .unwrap();
    let manifest =
        Manifest::describe(&spec, PackageKind::Process, "prog.sh", program, 8000).unwrap();
    let name = PackageName::new("/pkg".parse().unwrap(), function.parse().unwrap(), Some(1));
    PackagePackets::build(name, manifest, program, &security::read_key(key).unwrap()).unwrap()
}

/// `nfwd sf publish SPEC --prefix /pkg --version VERSION --key KEY` on the daemon at `unix`,
/// running until dropped; its first line (which names what it serves) must hold `serving`.
pub(crate) fn publish(unix: &str, spec: &Path, version: &str, key: &Path, serving: &str) -> Killed {
    publish_with(unix, spec, version, key, serving, &[])
}

/// [`publish`] with more `nfwd sf publish` arguments (`--image IMAGE`).
pub(crate) fn publish_with(
    unix: &str,
    spec: &Path,
    version: &str,
    key: &Path,
    serving: &str,
    extra: &[&str],
) -> Killed {
    let mut publisher = Killed(
        Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(["--connect", unix, "sf", "publish"])
            .arg(spec)
            .args(["--prefix", "/pkg", "--version", version, "--key"])
            .arg(key)
            .args(extra)
            .env("NFWD_LOG", "warn")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first_line = String::new();
    BufReader::new(publisher.0.stderr.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(
        first_line.contains(&format!("serving {serving}")),
        "{first_line}"
    );
    publisher
}

/// `nfwd serve NAME --text TEXT` on the daemon at `unix`, running until dropped.
pub(crate) fn serve_text(unix: &str, name: &str, content: &str) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(["serve", name, "--text", content, "--connect", unix])
            .env("NFWD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// [`packets`] with segment 2 altered after the manifest was signed (re-signed with a plain
/// digest, as a tampering relay or publisher would).
pub(crate) fn tampered_packets(function: &str, program: &[u8], key: &Path) -> PackagePackets {
    let mut tampered = packets(function, program, key);
    let original = &tampered.segments[2];
    let mut content = original.content().to_vec();
    content[100] ^= 1;
    tampered.segments[2] = nfwd_tlv::DataBuilder::new(original.name().clone(), content)
        .final_block_id(original.final_block_id().unwrap().clone())
        .freshness_ms(10_000)
        .build(&nfwd_tlv::Signer::digest_sha256())
        .unwrap();
    tampered
}

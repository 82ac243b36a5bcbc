//! Pulled packages run by the Docker backend, for real, with a statically linked program (C,
//! `gcc -static`):
//!
//! - published as a process package, deployed with `backend = "docker"` on an SF host that
//!   lacks it: the host pulls it, builds its FROM-scratch image with the program in it, and a
//!   consumer gets the transformed Data from the container;
//! - built into an image, published as a Docker package (`nfwd sf publish --image`: a
//!   `docker save` archive) and removed from the engine: the host pulls the archive, checks
//!   and loads it (`docker load`), adds its `/nfwd`, and runs the program inside the image.
//!
//! Needs root (instances get uids of their own), a Docker engine and `gcc` with a static libc.
//! Outside CI a missing one skips the test and says so; under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::Daemon;
use common::package::{publish, publish_with, serve_text, text};
use common::{TempDir, cannot_run, is_root, nfwd_output as nfwd};

/// What a skip or a CI failure names.
const SUBJECT: &str = "SF pull Docker test";

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Removes every container and image of `owner` (on drop: also when the test fails).
struct Owned(String);

impl Drop for Owned {
    fn drop(&mut self) {
        for kind in ["container", "image"] {
            let ids = Command::new("docker")
                .args([kind, "ls", "-aq", "--filter"])
                .arg(format!("label=nfwd.owner={}", self.0))
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for id in ids.split_whitespace() {
                let _ = Command::new("docker").args([kind, "rm", "-f", id]).output();
            }
        }
    }
}

/// A statically linked filter that upper-cases stdin to stdout.
fn static_upcase(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("upcase.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <ctype.h>\nint main(void){int c;while((c=getchar())!=EOF)\
         putchar(toupper(c));return 0;}\n",
    )
    .ok()?;
    let out = dir.join("upcase");
    let built = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .ok()?;
    built.status.success().then_some(out)
}

/// The static `nfwd` for images, a publisher key pair under `dir/keys`, and a daemon `a` with
/// a Docker SF host of `owner` trusting that key for `/pkg`.
fn docker_host(dir: &Path, owner: &str) -> (Daemon, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = Instant::now();
    let binary =
        nfwd_sf_host::docker::build_static_nfwd(root, &root.join("target").join("static-sf"))
            .unwrap();
    eprintln!("static nfwd ready in {:.1} s", t.elapsed().as_secs_f64());
    let keys = dir.join("keys");
    let out = nfwd(&[
        "key",
        "generate",
        "/pkg/publisher",
        "--out",
        &keys.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let a = Daemon::start(
        dir,
        "a",
        None,
        &[
            "--udp",
            "",
            "--tcp",
            "",
            "--sf-host",
            "--sf-backend",
            "docker",
            "--sf-docker-binary",
            &binary.display().to_string(),
            "--sf-owner",
            owner,
            "--sf-package-source",
            &format!("/pkg={}", keys.join("publisher.cert").display()),
            "--sf-package-cache",
            &dir.join("cache").display().to_string(),
        ],
    );
    (a, keys)
}

/// `nfwd get /text --chain FUNCTION` on `a` until it is answered (the instance registers
/// shortly after the deploy returns), at most 20 s; returns what it printed.
fn get_through(a: &Daemon, function: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = nfwd(&["--connect", &a.unix, "get", "/text", "--chain", function]);
        if got.status.success() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(got.status.success(), "{}", text(&got));
    String::from_utf8_lossy(&got.stdout).trim_end().to_owned()
}

#[test]
fn a_pulled_static_program_runs_in_a_container() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root");
        return;
    }
    if !docker_answers() {
        cannot_run(SUBJECT, "no Docker engine answers (`docker version`)");
        return;
    }
    let dir = TempDir::new("sf-pull-docker");
    let src = dir.0.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let Some(_) = static_upcase(&src) else {
        cannot_run(SUBJECT, "gcc -static cannot build a static program here");
        return;
    };
    std::fs::write(
        src.join("upcase.toml"),
        "name = \"/sf/cupcase\"\nversion = \"1\"\ninput_type = \"text/plain\"\n\
         output_type = \"text/plain\"\n[artifact]\nkind = \"exec\"\nargv = [\"upcase\"]\n",
    )
    .unwrap();
    let owner = format!("nfwdtest-{}-pull", std::process::id());
    let _owned = Owned(owner.clone());
    // One node: the publisher's package on its own prefix, and an SF host that pulls from it.
    let (a, keys) = docker_host(&dir.0, &owner);
    let _publisher = publish(
        &a.unix,
        &src.join("upcase.toml"),
        "1",
        &keys.join("publisher.key"),
        "/pkg/sf-package/sf/cupcase/v=1",
    );
    let _text = serve_text(&a.unix, "/text", "hello, container");

    let spec = dir.0.join("deploy.toml");
    std::fs::write(
        &spec,
        "name = \"/sf/cupcase\"\nbackend = \"docker\"\n[artifact]\nkind = \"package\"\n\
         name = \"/pkg/sf-package/sf/cupcase/v=1\"\n[instances]\nmin = 1\n",
    )
    .unwrap();
    let t = Instant::now();
    let out = nfwd(&[
        "--connect",
        &a.unix,
        "sf",
        "deploy",
        &spec.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    eprintln!(
        "pull, image build and container start: {} ms",
        t.elapsed().as_millis()
    );
    let list = a.cli(&["sf", "list", "--json"]).unwrap();
    assert!(
        list.contains("\"docker\"") && list.contains("/pkg/sf-package/sf/cupcase/v=1"),
        "{list}"
    );
    assert_eq!(get_through(&a, "/sf/cupcase"), "HELLO, CONTAINER");
    // The instance is a container of this owner.
    let ps = Command::new("docker")
        .args(["ps", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=nfwd.owner={owner}"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ps.stdout).contains("sf-cupcase"),
        "{}",
        text(&ps)
    );
    let out = a.cli(&["sf", "undeploy", "/sf/cupcase"]);
    assert!(out.is_ok(), "{out:?}");
}

/// Removes a Docker image by tag or ID (on drop).
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

#[test]
fn a_docker_package_is_loaded_from_its_archive_and_run() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root");
        return;
    }
    if !docker_answers() {
        cannot_run(SUBJECT, "no Docker engine answers (`docker version`)");
        return;
    }
    let dir = TempDir::new("sf-pull-docker-image");
    let context = dir.0.join("image");
    std::fs::create_dir_all(&context).unwrap();
    let Some(_) = static_upcase(&context) else {
        cannot_run(SUBJECT, "gcc -static cannot build a static program here");
        return;
    };
    // The publisher's image: the program where its spec says, nothing else (no nfwd: each
    // fetcher adds its own).
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            // A label of its own: an image left by an earlier run (same program, same build
            // cache) would otherwise have the same ID and keep it in the engine.
            "FROM scratch\nCOPY upcase /app/upcase\nLABEL test.run=\"{}-{}\"\n",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ),
    )
    .unwrap();
    let tag = format!("nfwdtest-pkg-{}:1", std::process::id());
    let _tag = Image(tag.clone());
    let built = docker(&["build", "-q", "-t", &tag, &context.display().to_string()]);
    assert!(built.status.success(), "{}", text(&built));
    let id = String::from_utf8_lossy(&docker(&["image", "inspect", "-f", "{{.Id}}", &tag]).stdout)
        .trim()
        .to_owned();
    assert!(id.starts_with("sha256:"), "{id}");
    let _id = Image(id.clone());
    std::fs::write(
        dir.0.join("dupcase.toml"),
        "name = \"/sf/dupcase\"\nversion = \"1\"\ninput_type = \"text/plain\"\n\
         output_type = \"text/plain\"\nbackend = \"docker\"\n[artifact]\nkind = \"exec\"\n\
         argv = [\"/app/upcase\"]\n",
    )
    .unwrap();

    let owner = format!("nfwdtest-{}-dpkg", std::process::id());
    let _owned = Owned(owner.clone());
    // One node: the publisher's package on its own prefix, and an SF host that pulls from it.
    let (a, keys) = docker_host(&dir.0, &owner);
    let _publisher = publish_with(
        &a.unix,
        &dir.0.join("dupcase.toml"),
        "1",
        &keys.join("publisher.key"),
        "/pkg/sf-package/sf/dupcase/v=1",
        &["--image", &tag],
    );
    // The engine forgets the image: the host must load it from the package's archive.
    let removed = docker(&["image", "rm", &tag]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(!docker(&["image", "inspect", &id]).status.success());
    let _text = serve_text(&a.unix, "/text", "hello, image");

    // Deployed as a process, the image cannot run: a clear refusal, nothing started.
    let as_process = dir.0.join("as-process.toml");
    std::fs::write(
        &as_process,
        "name = \"/sf/dupcase\"\nbackend = \"process\"\n[artifact]\nkind = \"package\"\n\
         name = \"/pkg/sf-package/sf/dupcase/v=1\"\n",
    )
    .unwrap();
    let out = nfwd(&[
        "--connect",
        &a.unix,
        "sf",
        "deploy",
        &as_process.display().to_string(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("runs on the Docker backend only"),
        "{}",
        text(&out)
    );

    let spec = dir.0.join("deploy.toml");
    std::fs::write(
        &spec,
        "name = \"/sf/dupcase\"\nbackend = \"docker\"\n[artifact]\nkind = \"package\"\n\
         name = \"/pkg/sf-package/sf/dupcase/v=1\"\n[instances]\nmin = 1\n",
    )
    .unwrap();
    let t = Instant::now();
    let out = nfwd(&[
        "--connect",
        &a.unix,
        "sf",
        "deploy",
        &spec.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    eprintln!(
        "pull, load, image build and container start: {} ms",
        t.elapsed().as_millis()
    );
    // Loaded under its ID, untagged; the SF's image is built on it.
    assert!(docker(&["image", "inspect", &id]).status.success());
    let images = docker(&[
        "image",
        "ls",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "--filter",
        &format!("label=nfwd.package-image={id}"),
    ]);
    let images = String::from_utf8_lossy(&images.stdout).into_owned();
    assert!(images.contains("nfwd-sf-dupcase"), "{images}");
    assert_eq!(get_through(&a, "/sf/dupcase"), "HELLO, IMAGE");
    let out = a.cli(&["sf", "undeploy", "/sf/dupcase"]);
    assert!(out.is_ok(), "{out:?}");
}

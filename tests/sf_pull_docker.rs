//! A pulled package run by the Docker backend, for real: a statically linked program (C,
//! `gcc -static`) published as an SF package, deployed with `backend = "docker"` on an SF
//! host that lacks it; the host pulls it, builds its FROM-scratch image with the program in
//! it, and a consumer gets the transformed Data from the container.
//!
//! Needs root (instances get uids of their own), a Docker engine and `gcc` with a static libc.
//! Outside CI a missing one skips the test and says so; under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::Daemon;
use common::package::{publish, serve_text, text};
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = Instant::now();
    let binary =
        nfwd_sf_host::docker::build_static_nfwd(root, &root.join("target").join("static-sf"))
            .unwrap();
    eprintln!("static nfwd ready in {:.1} s", t.elapsed().as_secs_f64());
    let keys = dir.0.join("keys");
    let out = nfwd(&[
        "key",
        "generate",
        "/pkg/publisher",
        "--out",
        &keys.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let owner = format!("nfwdtest-{}-pull", std::process::id());
    let _owned = Owned(owner.clone());

    // One node: the publisher's program on its own prefix, and an SF host that pulls from it.
    let a = Daemon::start(
        &dir.0,
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
            &owner,
            "--sf-package-source",
            &format!("/pkg={}", keys.join("publisher.cert").display()),
            "--sf-package-cache",
            &dir.0.join("cache").display().to_string(),
        ],
    );
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
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = nfwd(&[
            "--connect",
            &a.unix,
            "get",
            "/text",
            "--chain",
            "/sf/cupcase",
        ]);
        if got.status.success() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim_end(),
        "HELLO, CONTAINER"
    );
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

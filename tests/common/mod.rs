//! Shared by the end-to-end tests: a real `nfwd start` in a temporary directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod anchors;
pub(crate) mod mesh;
pub(crate) mod netns;
pub(crate) mod package;
pub(crate) mod skip_log;
pub(crate) use skip_log::record_skip;
pub(crate) mod topo;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `nfwd start`, killed on drop.
pub(crate) struct Nfwd {
    child: Child,
    pub(crate) unix: PathBuf,
    pub(crate) tcp_port: u16,
    _dir: TempDir,
}

/// A directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("nfwd-interop-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// True when the tests run as root (namespaces, a second uid).
pub(crate) fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt as _;
        m.uid() == 0
    })
}

/// A test that cannot run here says why: under `CI=true` it fails (CI must run everything),
/// elsewhere it prints a visible skip line and returns true, so the caller returns.
pub(crate) fn cannot_run(test: &str, why: &str) -> bool {
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "{test} cannot run under CI: {why}"
    );
    eprintln!("SKIPPED (not under CI): {test}: {why}");
    record_skip(test, why);
    true
}

/// Runs the `nfwd` binary under test (without the caller's `NDN_CLIENT_TRANSPORT`).
pub(crate) fn nfwd_output(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(args)
        .env_remove("NDN_CLIENT_TRANSPORT")
        .output()
        .unwrap()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nfwd {
    pub(crate) fn start(tag: &str) -> Self {
        Self::start_with(tag, &[])
    }

    /// [`Self::start`] with more arguments for `nfwd start`.
    pub(crate) fn start_with(tag: &str, extra: &[&str]) -> Self {
        let dir = TempDir::new(tag);
        let unix = dir.0.join("nfwd.sock");
        let tcp_port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .args(["start", "--unix"])
            .arg(&unix)
            .args([
                "--tcp",
                &format!("127.0.0.1:{tcp_port}"),
                "--udp",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("NFWD_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !unix.exists() || std::net::TcpStream::connect(("127.0.0.1", tcp_port)).is_err() {
            assert!(Instant::now() < deadline, "nfwd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            unix,
            tcp_port,
            _dir: dir,
        }
    }

    pub(crate) fn transport(&self, tcp: bool) -> String {
        if tcp {
            format!("tcp4://127.0.0.1:{}", self.tcp_port)
        } else {
            format!("unix://{}", self.unix.display())
        }
    }
}

impl Drop for Nfwd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nfwd {
    /// Runs `nfwd --connect <unix socket> ARGS...` and returns its stdout; fails the test on
    /// a non-zero exit.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .arg("--connect")
            .arg(self.transport(false))
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "nfwd {args:?} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

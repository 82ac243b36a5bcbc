//! The NDN reference tools (NFD 24.07, ndn-cxx 0.9.0, ndn-tools 24.07) from
//! `../shared/anchors`, and `nfwd start` as a process, for the tests that run them against
//! nfwd (`interop_nfdc.rs`, `interop_congestion.rs`, `interop_chain_nfd.rs`).
//!
//! The tools are found at `$NFWD_NDN_TOOLS`, else `target/ndn-anchors` (installed there on
//! first use with the anchors' `install.sh`, which needs root for its apt-get). Callers treat
//! an error as a reason the test cannot run (`cannot_run`: fails under `CI=true`, skips
//! visibly otherwise).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The anchors' prefix, installing them into `target/ndn-anchors` if needed.
pub(crate) fn ndn_tools() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("NFWD_NDN_TOOLS") {
        return Ok(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let prefix = root.join("target").join("ndn-anchors");
    if prefix.join("bin").join("nfdc").exists() {
        return Ok(prefix);
    }
    let script = root
        .join("..")
        .join("shared")
        .join("anchors")
        .join("install.sh");
    if !script.exists() {
        return Err(format!("no NDN tools and no {}", script.display()));
    }
    // Serialise concurrent installs (several test binaries may get here at once).
    let lock = root.join("target").join("ndn-anchors.lock");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(_) if prefix.join("bin").join("nfdc").exists() => return Ok(prefix),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_secs(1)),
            Err(e) => return Err(format!("waiting for {}: {e}", lock.display())),
        }
    }
    eprintln!(
        "installing the NDN reference tools into {}",
        prefix.display()
    );
    let out = Command::new("bash").arg(&script).arg(&prefix).output();
    let _ = std::fs::remove_dir(&lock);
    match out {
        Ok(o) if o.status.success() => Ok(prefix),
        Ok(o) => Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("{}: {e}", script.display())),
    }
}

/// An ndn-cxx tool, run with HOME (the keychain) and the forwarder's socket; as `uid` if given.
pub(crate) fn tool(
    tools: &Path,
    name: &str,
    home: &Path,
    socket: &Path,
    uid: Option<u32>,
) -> Command {
    let mut c = Command::new(tools.join("bin").join(name));
    c.env("HOME", home)
        .env("LD_LIBRARY_PATH", tools.join("lib"))
        .env(
            "NDN_CLIENT_TRANSPORT",
            format!("unix://{}", socket.display()),
        )
        .stdin(Stdio::null());
    if let Some(uid) = uid {
        c.uid(uid).gid(uid);
    }
    c
}

/// A tool's stdout and stderr, as text.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `nfwd start` with the arguments `args` adds after `start`, up once `socket` accepts
/// connections; killed on drop, however the test ends.
pub(crate) struct Daemon(std::process::Child);

impl Daemon {
    pub(crate) fn start(socket: &Path, args: impl FnOnce(&mut Command)) -> Self {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nfwd"));
        c.arg("start");
        args(&mut c);
        let d = Self(
            c.env("NFWD_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(Instant::now() < deadline, "nfwd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

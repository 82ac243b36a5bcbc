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

/// An NFD configuration: its Unix socket at `socket`, TCP and UDP on port 6363 (no
/// multicast), no content store, `root_strategy` for `/`, every management privilege for any
/// certificate, and any trust anchor for local registrations and prefix announcements — a
/// forwarder for tests, not for a network (`nfwd_benches::nfd::NfdConf`).
pub(crate) fn nfd_conf(socket: &Path, root_strategy: &str) -> String {
    nfwd_benches::nfd::NfdConf {
        tcp_port: Some(6363),
        cs_max_packets: Some(0),
        strategies: vec![
            ("/", root_strategy),
            ("/localhost", "/localhost/nfd/strategy/multicast"),
            ("/localhost/nfd", "/localhost/nfd/strategy/best-route"),
        ],
        any_prefix_announcement: true,
        ..nfwd_benches::nfd::NfdConf::new(socket, 6363)
    }
    .render()
}

/// NFD (`nfd_conf`) in network namespace `ns`, with a keychain of its own under `dir`;
/// killed on drop. Its tools run in the namespace too, talking to it on its Unix socket.
pub(crate) struct NfdInNetns {
    /// NFD itself (`None` until it is spawned).
    child: Option<std::process::Child>,
    ns: String,
    tools: PathBuf,
    home: PathBuf,
    /// NFD's Unix socket.
    pub(crate) socket: PathBuf,
}

impl NfdInNetns {
    /// Starts NFD (best-route for `/`) and returns once `nfdc status` answers.
    pub(crate) fn start(tools: &Path, ns: &str, dir: &Path) -> Self {
        Self::start_with(tools, ns, dir, "/localhost/nfd/strategy/best-route")
    }

    /// Starts NFD with `root_strategy` for `/`.
    pub(crate) fn start_with(tools: &Path, ns: &str, dir: &Path, root_strategy: &str) -> Self {
        let home = dir.join("nfd-home");
        std::fs::create_dir_all(&home).unwrap();
        let socket = dir.join("nfd.sock");
        let conf = dir.join("nfd.conf");
        std::fs::write(&conf, nfd_conf(&socket, root_strategy)).unwrap();
        let mut nfd = Self {
            child: None,
            ns: ns.to_owned(),
            tools: tools.to_path_buf(),
            home,
            socket,
        };
        let keygen = nfd
            .tool("ndnsec")
            .args(["key-gen", "/localhost/operator"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(keygen.status.success(), "ndnsec key-gen: {keygen:?}");
        nfd.child = Some(
            nfd.tool("nfd")
                .arg("--config")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nfd.nfdc(&["status"]).0 {
            assert!(Instant::now() < deadline, "NFD did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        nfd
    }

    /// Tool `name` in the namespace, with the keychain and NFD's socket.
    pub(crate) fn tool(&self, name: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns])
            .arg(self.tools.join("bin").join(name))
            .env("HOME", &self.home)
            .env("LD_LIBRARY_PATH", self.tools.join("lib"))
            .env(
                "NDN_CLIENT_TRANSPORT",
                format!("unix://{}", self.socket.display()),
            )
            .stdin(Stdio::null());
        c
    }

    /// `nfdc ARGS`: (success, stdout and stderr).
    pub(crate) fn nfdc(&self, args: &[&str]) -> (bool, String) {
        let out = self.tool("nfdc").args(args).output().unwrap();
        (out.status.success(), text(&out))
    }
}

impl Drop for NfdInNetns {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
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

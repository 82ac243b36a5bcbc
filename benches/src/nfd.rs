//! NFD 24.07 from the NDN reference tools (`../shared/anchors`, installed by CI into
//! `target/ndn-anchors`), run as a forwarder under test by `nfwd bench --nfd`.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::loadgen::{UnderTest, cpu_ticks};

/// NFD from the reference tools: its own configuration, keychain and Unix socket in a
/// temporary directory, UDP on a free port; killed on drop.
pub(crate) struct NfdProcess {
    child: Child,
    dir: PathBuf,
    prefix: PathBuf,
    home: PathBuf,
    socket: PathBuf,
    udp: SocketAddr,
}

impl NfdProcess {
    pub(crate) fn start(prefix: &Path, tag: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("nfwd-bench-nfd-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let home = dir.join("home");
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let socket = dir.join("nfd.sock");
        // A free port: bound, read, released (NFD binds it a moment later).
        let udp = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|e| e.to_string())?;
        let conf = dir.join("nfd.conf");
        std::fs::write(&conf, nfd_conf(&socket, udp.port()))
            .map_err(|e| format!("{}: {e}", conf.display()))?;
        let tool = |name: &str| -> Command {
            let mut c = Command::new(prefix.join("bin").join(name));
            c.env("HOME", &home)
                .env("LD_LIBRARY_PATH", prefix.join("lib"))
                .env(
                    "NDN_CLIENT_TRANSPORT",
                    format!("unix://{}", socket.display()),
                )
                .stdin(Stdio::null());
            c
        };
        // NFD signs its management answers with the keychain's default identity.
        let keygen = tool("ndnsec")
            .args(["key-gen", "/localhost/operator"])
            .output()
            .map_err(|e| format!("ndnsec under {}: {e}", prefix.display()))?;
        if !keygen.status.success() {
            return Err(format!(
                "ndnsec key-gen: {}",
                String::from_utf8_lossy(&keygen.stderr)
            ));
        }
        let child = tool("nfd")
            .arg("--config")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("nfd under {}: {e}", prefix.display()))?;
        let nfd = Self {
            child,
            dir,
            prefix: prefix.to_path_buf(),
            home,
            socket,
            udp,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while nfd.nfdc(&["status"]).is_err() {
            if Instant::now() > deadline {
                return Err("NFD did not come up within 20 s".into());
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(nfd)
    }

    /// `nfdc ARGS` against this NFD.
    pub(crate) fn nfdc(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new(self.prefix.join("bin").join("nfdc"))
            .args(args)
            .env("HOME", &self.home)
            .env("LD_LIBRARY_PATH", self.prefix.join("lib"))
            .env(
                "NDN_CLIENT_TRANSPORT",
                format!("unix://{}", self.socket.display()),
            )
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "nfdc {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for NfdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// NFD's configuration for a measurement: its defaults (best-route, a 65,536-packet content
/// store) with the Unix socket at `socket`, UDP unicast on `udp_port` only, logs at WARN,
/// every management privilege for any signer and any trust anchor for local registrations —
/// a forwarder for a benchmark on loopback, not for a network.
fn nfd_conf(socket: &Path, udp_port: u16) -> String {
    format!(
        r"log
{{
  default_level WARN
}}
face_system
{{
  unix
  {{
    path {}
  }}
  udp
  {{
    port {udp_port}
    mcast no
  }}
}}
authorizations
{{
  authorize
  {{
    certfile any
    privileges
    {{
      faces
      fib
      cs
      strategy-choice
    }}
  }}
}}
rib
{{
  localhost_security
  {{
    trust-anchor
    {{
      type any
    }}
  }}
}}
",
        socket.display()
    )
}

impl UnderTest for NfdProcess {
    fn unix(&self) -> Option<&Path> {
        Some(&self.socket)
    }

    fn udp(&self) -> Option<SocketAddr> {
        Some(self.udp)
    }

    fn cpu_ticks(&self) -> Option<u64> {
        cpu_ticks(&format!("/proc/{}/stat", self.child.id()))
    }
}

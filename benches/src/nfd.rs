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
    tools: Tools,
    udp: SocketAddr,
}

/// The reference tools, run with NFD's keychain (HOME) and socket.
struct Tools {
    prefix: PathBuf,
    home: PathBuf,
    socket: PathBuf,
}

impl Tools {
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.prefix.join("bin").join(name));
        c.env("HOME", &self.home)
            .env("LD_LIBRARY_PATH", self.prefix.join("lib"))
            .env(
                "NDN_CLIENT_TRANSPORT",
                format!("unix://{}", self.socket.display()),
            )
            .stdin(Stdio::null());
        c
    }
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
        std::fs::write(&conf, NfdConf::new(&socket, udp.port()).render())
            .map_err(|e| format!("{}: {e}", conf.display()))?;
        let tools = Tools {
            prefix: prefix.to_path_buf(),
            home,
            socket,
        };
        let started = (|| {
            // NFD signs its management answers with the keychain's default identity.
            let keygen = tools
                .command("ndnsec")
                .args(["key-gen", "/localhost/operator"])
                .output()
                .map_err(|e| format!("ndnsec under {}: {e}", prefix.display()))?;
            if !keygen.status.success() {
                return Err(format!(
                    "ndnsec key-gen: {}",
                    String::from_utf8_lossy(&keygen.stderr)
                ));
            }
            tools
                .command("nfd")
                .arg("--config")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("nfd under {}: {e}", prefix.display()))
        })();
        let child = match started {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let nfd = Self {
            child,
            dir,
            tools,
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
        let out = self
            .tools
            .command("nfdc")
            .args(args)
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

/// An NFD configuration for tests and benchmarks on one machine: logs at WARN, every
/// management privilege for any signer, any trust anchor for local registrations (and, if
/// asked, for prefix announcements) — a forwarder for loopback and test namespaces, not for a
/// network. What is not set keeps NFD's default (best-route, a 65,536-packet content store,
/// no TCP).
#[derive(Debug, Clone)]
pub struct NfdConf<'a> {
    /// The Unix socket.
    pub socket: &'a Path,
    /// UDP unicast on this port (no multicast).
    pub udp_port: u16,
    /// TCP on this port, if any.
    pub tcp_port: Option<u16>,
    /// `tables.cs_max_packets`, if not NFD's default.
    pub cs_max_packets: Option<u64>,
    /// `tables.strategy_choice`: (prefix, strategy) pairs.
    pub strategies: Vec<(&'a str, &'a str)>,
    /// Accept prefix announcements signed by anyone (self-learning).
    pub any_prefix_announcement: bool,
}

impl<'a> NfdConf<'a> {
    /// NFD's defaults with the socket and UDP port given.
    #[must_use]
    pub fn new(socket: &'a Path, udp_port: u16) -> Self {
        Self {
            socket,
            udp_port,
            tcp_port: None,
            cs_max_packets: None,
            strategies: Vec::new(),
            any_prefix_announcement: false,
        }
    }

    /// The configuration file's text (NFD's INFO format).
    #[must_use]
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut t = String::from("log\n{\n  default_level WARN\n}\n");
        if self.cs_max_packets.is_some() || !self.strategies.is_empty() {
            t += "tables\n{\n";
            if let Some(n) = self.cs_max_packets {
                let _ = writeln!(t, "  cs_max_packets {n}");
            }
            if !self.strategies.is_empty() {
                t += "  strategy_choice\n  {\n";
                for (prefix, strategy) in &self.strategies {
                    let _ = writeln!(t, "    {prefix} {strategy}");
                }
                t += "  }\n";
            }
            t += "}\n";
        }
        let _ = write!(
            t,
            "face_system\n{{\n  unix\n  {{\n    path {}\n  }}\n",
            self.socket.display()
        );
        if let Some(port) = self.tcp_port {
            let _ = write!(t, "  tcp\n  {{\n    port {port}\n  }}\n");
        }
        let _ = write!(
            t,
            "  udp\n  {{\n    port {}\n    mcast no\n  }}\n}}\n",
            self.udp_port
        );
        t += "authorizations\n{\n  authorize\n  {\n    certfile any\n    privileges\n    {\n      \
              faces\n      fib\n      cs\n      strategy-choice\n    }\n  }\n}\n";
        t += "rib\n{\n  localhost_security\n  {\n    trust-anchor\n    {\n      type any\n    }\n  }\n";
        if self.any_prefix_announcement {
            t += "  prefix_announcement_validation\n  {\n    trust-anchor\n    {\n      type any\n    \
                  }\n  }\n";
        }
        t += "}\n";
        t
    }
}

impl UnderTest for NfdProcess {
    fn unix(&self) -> Option<&Path> {
        Some(&self.tools.socket)
    }

    fn udp(&self) -> Option<SocketAddr> {
        Some(self.udp)
    }

    fn cpu_ticks(&self) -> Option<u64> {
        cpu_ticks(&format!("/proc/{}/stat", self.child.id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_has_its_sections_balanced_and_what_was_asked() {
        let socket = Path::new("/tmp/x/nfd.sock");
        let plain = NfdConf::new(socket, 7000).render();
        let full = NfdConf {
            tcp_port: Some(6363),
            cs_max_packets: Some(0),
            strategies: vec![("/", "/localhost/nfd/strategy/multicast")],
            any_prefix_announcement: true,
            ..NfdConf::new(socket, 6363)
        }
        .render();
        for text in [&plain, &full] {
            let depth = text.chars().try_fold(0i32, |d, c| match c {
                '{' => Some(d + 1),
                '}' => (d > 0).then(|| d - 1),
                _ => Some(d),
            });
            assert_eq!(depth, Some(0), "{text}");
            assert!(text.contains("path /tmp/x/nfd.sock"), "{text}");
        }
        assert!(plain.contains("port 7000") && !plain.contains("tcp") && !plain.contains("tables"));
        assert!(!plain.contains("prefix_announcement_validation"));
        for line in [
            "  tcp\n  {\n    port 6363\n  }",
            "cs_max_packets 0",
            "    / /localhost/nfd/strategy/multicast",
            "prefix_announcement_validation",
        ] {
            assert!(full.contains(line), "{line:?} not in {full}");
        }
    }
}

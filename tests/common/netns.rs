//! Network namespaces joined to ours by a veth pair, and `nfwd start` daemons inside them
//! (or in ours), for the multi-forwarder tests.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A network namespace with one end of a veth pair (the other end stays in ours), addresses
/// `10.<net>.<octet>.1` (ours) and `.2` (theirs). Removed on drop.
pub(crate) struct Netns {
    pub(crate) name: String,
    host_if: String,
    /// Our end's address.
    pub(crate) host_ip: String,
    /// Theirs.
    pub(crate) peer_ip: String,
}

impl Netns {
    pub(crate) fn create(tag: &str, net: u8, octet: u32) -> Option<Self> {
        let id = std::process::id() % 10_000;
        let name = format!("nfwd-fo{tag}-{id}");
        let host_if = format!("fo{id}{tag}a");
        let peer_if = format!("fo{id}{tag}b");
        let host_ip = format!("10.{net}.{octet}.1");
        let peer_ip = format!("10.{net}.{octet}.2");
        let ip = |args: &[&str]| Command::new("ip").args(args).output();
        let ok = |r: std::io::Result<Output>| r.is_ok_and(|o| o.status.success());
        // Leftovers of a killed run.
        let _ = ip(&["netns", "del", &name]);
        let _ = ip(&["link", "del", &host_if]);
        if !ok(ip(&["netns", "add", &name])) {
            return None;
        }
        let ns = Self {
            name,
            host_if,
            host_ip: host_ip.clone(),
            peer_ip,
        };
        let host_cidr = format!("{host_ip}/24");
        let peer_cidr = format!("{}/24", ns.peer_ip);
        let steps: [&[&str]; 7] = [
            &[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer_if,
            ],
            &["link", "set", &peer_if, "netns", &ns.name],
            &["addr", "add", &host_cidr, "dev", &ns.host_if],
            &["link", "set", &ns.host_if, "up"],
            &["-n", &ns.name, "addr", "add", &peer_cidr, "dev", &peer_if],
            &["-n", &ns.name, "link", "set", &peer_if, "up"],
            &["-n", &ns.name, "link", "set", "lo", "up"],
        ];
        steps.iter().all(|s| ok(ip(s))).then_some(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A child process killed on drop.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An `nfwd start`, killed on drop.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) unix: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `nfwd start --unix DIR/<tag>.sock ARGS`, inside `ns` if given.
    pub(crate) fn start(dir: &Path, tag: &str, ns: Option<&Netns>, args: &[&str]) -> Self {
        let sock = dir.join(format!("{tag}.sock"));
        let mut cmd = match ns {
            // `ip netns exec` execs the program: the child is nfwd itself, so SIGKILL kills
            // the daemon, not a wrapper.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_nfwd")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_nfwd")),
        };
        let child = cmd
            .args(["start", "--unix"])
            .arg(&sock)
            .args(args)
            .env("NFWD_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let d = Self {
            child,
            unix: format!("unix://{}", sock.display()),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.cli(&["status"]).is_err() {
            assert!(Instant::now() < deadline, "nfwd {tag} did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// Counter `name` of `nfwd status --counters` (any group).
    pub(crate) fn counter(&self, name: &str) -> u64 {
        let text = self.cli(&["status", "--counters"]).unwrap();
        text.split([',', '\n', '{', '}'])
            .find_map(|kv| {
                let (k, v) = kv.split_once(':')?;
                (k.trim() == name).then(|| v.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no counter {name} in {text}"))
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(env!("CARGO_BIN_EXE_nfwd"))
            .arg("--connect")
            .arg(&self.unix)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(text + &String::from_utf8_lossy(&out.stderr))
        }
    }
}

//! Attacks on a real `nfwd start --sf-host`, as issue 8 made them (`docs/security.md`):
//! - from a **remote peer**: a network namespace joined to the daemon's by a veth pair, so its
//!   faces are non-local as on a testbed, sending the ForwardingHint route to the SF host's
//!   management and `/localhost` names over UDP and TCP;
//! - from a **second local user** (uid 65534): management commands and an SF deployment
//!   through the Unix socket;
//! - with **forged signatures** from root: a zeroed DigestSha256.
//!
//! Every attempt must be refused, counted, and change nothing.
//!
//! Needs root (namespaces, a second uid). Outside CI a missing capability skips the test and
//! says so; under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, cannot_run, is_root};
use nfwd_tlv::{Element, InterestBuilder, Name, Signer};

/// What a skip or a CI failure names.
const SUBJECT: &str = "security test";

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace with one end of a veth pair; the other end stays in ours. Removed on
/// drop.
struct Netns {
    name: String,
    host_if: String,
    host_ip: String,
    peer_ip: String,
}

impl Netns {
    fn create(tag: &str) -> Option<Self> {
        let id = std::process::id() % 10_000;
        let name = format!("nfwd-{tag}-{id}");
        let host_if = format!("nv{id}{}a", &tag[..1]);
        let peer_if = format!("nv{id}{}b", &tag[..1]);
        let octet = 100 + (id % 150);
        let host_ip = format!("10.77.{octet}.1");
        let peer_ip = format!("10.77.{octet}.2");
        let ip = |args: &[&str]| Command::new("ip").args(args).output();
        // Leftovers of a killed run.
        let _ = ip(&["netns", "del", &name]);
        let _ = ip(&["link", "del", &host_if]);
        let ok = |r: std::io::Result<Output>| r.is_ok_and(|o| o.status.success());
        if !ok(ip(&["netns", "add", &name])) {
            return None;
        }
        let ns = Self {
            name,
            host_if,
            host_ip,
            peer_ip,
        };
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
            &[
                "addr",
                "add",
                &format!("{}/24", ns.host_ip),
                "dev",
                &ns.host_if,
            ],
            &["link", "set", &ns.host_if, "up"],
            &[
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{}/24", ns.peer_ip),
                "dev",
                &peer_if,
            ],
            &["-n", &ns.name, "link", "set", &peer_if, "up"],
            &["-n", &ns.name, "link", "set", "lo", "up"],
        ];
        for s in steps {
            if !ok(ip(s)) {
                return None;
            }
        }
        Some(ns)
    }

    /// A command run inside the namespace.
    fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
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

/// `nfwd start --sf-host` listening on the veth address; killed on drop.
struct Daemon {
    child: Child,
    unix: PathBuf,
    bin: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(dir: &Path, listen_ip: &str) -> Self {
        Self::start_with(
            dir,
            &[
                "--sf-host",
                "--tcp",
                &format!("{listen_ip}:6363"),
                "--udp",
                &format!("{listen_ip}:6363"),
            ],
        )
    }

    /// `nfwd start --unix DIR/run/nfwd.sock ARGS...`.
    fn start_with(dir: &Path, args: &[&str]) -> Self {
        // A copy of the binary anyone may execute (the build tree may be under a private
        // home directory), for the commands run as another user.
        let bin = dir.join("nfwd");
        std::fs::copy(env!("CARGO_BIN_EXE_nfwd"), &bin).unwrap();
        let unix = dir.join("run").join("nfwd.sock");
        let mut start = Command::new(&bin);
        start
            .args(["start", "--unix"])
            .arg(&unix)
            .args(args)
            .env("NFWD_LOG", "warn")
            .stdout(Stdio::null());
        // A child another test thread forked while the copy was being written holds its
        // descriptor until that child execs: executing the copy meanwhile fails with "Text
        // file busy" (ETXTBSY). It passes within moments; try again until it does.
        let deadline = Instant::now() + Duration::from_secs(5);
        let child = loop {
            match start.spawn() {
                Ok(c) => break c,
                Err(e)
                    if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("{}: {e}", bin.display()),
            }
        };
        let d = Self { child, unix, bin };
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.cli(&["status"]).is_err() {
            assert!(Instant::now() < deadline, "nfwd did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        // The SF host registers its prefix a moment after the forwarder answers: commands
        // sent before that get Nack NoRoute, so wait for its own dataset to answer.
        if args.contains(&"--sf-host") {
            while let Err(e) = d.cli(&["sf", "list"]) {
                assert!(
                    Instant::now() < deadline,
                    "the SF host did not come up: {e}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        d
    }

    fn command(&self, args: &[&str]) -> Command {
        let uri = format!("unix://{}", self.unix.display());
        let mut c = Command::new(&self.bin);
        // `nfwd sf ...` takes --connect after its verb.
        if args.first() == Some(&"sf") {
            c.args(args).arg("--connect").arg(uri);
        } else {
            c.arg("--connect").arg(uri).args(args);
        }
        c
    }

    /// Runs the CLI as root; stdout on success, stdout+stderr on failure.
    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self.command(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(text + &String::from_utf8_lossy(&out.stderr))
        }
    }

    /// A counter from `status --counters` (the first line naming it).
    fn counter(&self, name: &str) -> u64 {
        let text = self.cli(&["status", "--counters"]).unwrap();
        text.lines()
            .find_map(|l| {
                let l = l.trim().trim_end_matches(',');
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(": "))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or_else(|| panic!("no counter {name} in:\n{text}"))
    }
}

/// An exec SF that would run a shell command as whoever runs SFs.
const EVIL_SPEC: &str = "name = \"/evil\"\n[artifact]\nkind = \"exec\"\nargv = [\"/bin/sh\", \"-c\", \"touch /tmp/nfwd-pwned\"]\n";

#[test]
fn attacks_from_a_remote_peer_and_a_second_user_are_refused_and_counted() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root (network namespaces, a second uid)");
        return;
    }
    let Some(ns) = Netns::create("sec") else {
        cannot_run(
            SUBJECT,
            "cannot create a network namespace with `ip netns` and a veth pair",
        );
        return;
    };
    let dir = TempDir::new("security");
    let d = Daemon::start(&dir.0, &ns.host_ip);

    // --- From the remote peer: the ForwardingHint route to the SF host's management, over
    // UDP, carrying an exec SF specification; and /localhost names directly.
    let hint_attack = InterestBuilder::new("/a/b/c/deploy".parse::<Name>().unwrap())
        .forwarding_hint(vec!["/localhost/nfwd/sf".parse().unwrap()])
        .app_parameters(EVIL_SPEC.as_bytes().to_vec())
        .sign(
            &Signer::digest_sha256(),
            Signer::digest_sha256().signature_info(),
        )
        .unwrap();
    let direct = InterestBuilder::new("/localhost/nfwd/sf/deploy".parse::<Name>().unwrap())
        .app_parameters(EVIL_SPEC.as_bytes().to_vec())
        .sign(
            &Signer::digest_sha256(),
            Signer::digest_sha256().signature_info(),
        )
        .unwrap();
    let mgmt = InterestBuilder::new("/localhost/nfd/status/general".parse::<Name>().unwrap())
        .can_be_prefix(true)
        .encode();
    let packets: Vec<String> = [hint_attack.wire().clone(), direct.wire().clone(), mgmt]
        .iter()
        .map(hex::encode)
        .collect();
    let sender = format!(
        "import socket,sys,time\n\
         u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         t=socket.create_connection(('{ip}',6363))\n\
         for h in sys.argv[1:]:\n\
         \x20   p=bytes.fromhex(h)\n\
         \x20   u.sendto(p,('{ip}',6363)); t.sendall(p); time.sleep(0.05)\n\
         u.settimeout(1.0)\n\
         try:\n\
         \x20   print('answered', len(u.recv(9000)))\n\
         except socket.timeout:\n\
         \x20   print('no answer')\n",
        ip = ns.host_ip
    );
    let out = run(ns.exec("python3").arg("-c").arg(&sender).args(&packets));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no answer",
        "a /localhost request from a remote peer was answered"
    );
    // Three packets on each of two faces, all dropped by scope.
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.counter("scope_violations") < 6 {
        assert!(Instant::now() < deadline, "scope drops not counted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let faces = d.cli(&["face", "list"]).unwrap();
    assert!(
        faces.contains(&ns.peer_ip),
        "the remote faces exist: {faces}"
    );
    let sfs = d.cli(&["sf", "list"]).unwrap();
    assert!(!sfs.contains("/evil"), "deployed from the network: {sfs}");

    // --- From a second local user: the socket is open to it (applications), management is
    // not.
    let spec = dir.0.join("evil.toml");
    std::fs::write(&spec, EVIL_SPEC).unwrap();
    std::fs::set_permissions(&spec, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let as_nobody = |args: &[&str]| {
        let out = d.command(args).uid(65534).gid(65534).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let before = d.counter("unauthorized");
    let (ok, text) = as_nobody(&["sf", "deploy", spec.to_str().unwrap()]);
    assert!(!ok && text.contains("403"), "deploy as uid 65534: {text}");
    let (ok, text) = as_nobody(&["route", "add", "/stolen", "1"]);
    assert!(
        !ok && text.contains("403"),
        "route add as uid 65534: {text}"
    );
    let (ok, text) = as_nobody(&["status"]);
    assert!(ok, "status is readable by any local user: {text}");
    assert!(d.counter("unauthorized") >= before + 2);
    let routes = d.cli(&["route", "list"]).unwrap();
    assert!(!routes.contains("/stolen"), "{routes}");
    assert!(!d.cli(&["sf", "list"]).unwrap().contains("/evil"));

    // --- Root with a zeroed signature (v0.2 command: the signature is the last component).
    let cp = nfwd_tlv::nfd::ControlParameters::with_name("/zeroed".parse().unwrap());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let good = nfwd_tlv::nfd::make_command_v02(
        "rib",
        "register",
        &cp,
        &Signer::digest_sha256(),
        42,
        now_ms,
    )
    .unwrap();
    let n = good.name();
    let zeroed = InterestBuilder::new(
        n.prefix(n.len() - 1)
            .append_generic(Element::new(nfwd_tlv::types::tt::SIGNATURE_VALUE, &[0u8; 32]).wire()),
    )
    .encode();
    let bad_before = d.counter("bad_signatures");
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.connect('{}')\ns.sendall(bytes.fromhex('{}'))\ns.settimeout(2)\nprint(s.recv(9000).hex())\n",
        d.unix.display(),
        hex::encode(&zeroed)
    );
    let out = run(Command::new("python3").arg("-c").arg(&script));
    let reply = hex::decode(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let data = nfwd_tlv::Data::decode(reply.into()).unwrap();
    let resp = nfwd_tlv::nfd::ControlResponse::from_wire(data.content()).unwrap();
    assert_eq!(resp.status_code, 403, "{resp:?}");
    assert_eq!(d.counter("bad_signatures"), bad_before + 1);
    assert!(!d.cli(&["route", "list"]).unwrap().contains("/zeroed"));
    assert!(!Path::new("/tmp/nfwd-pwned").exists());
}

/// A key made by `nfwd key generate` and trusted by a rule lets an unprivileged user (or any
/// anonymous local face) run exactly what the rule grants, signed with `--key`.
#[test]
fn a_generated_key_grants_what_its_rule_says_to_whoever_holds_it() {
    if !is_root() {
        cannot_run(SUBJECT, "needs root (a second uid)");
        return;
    }
    let dir = TempDir::new("keys");
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let keys = dir.0.join("keys");
    run(Command::new(env!("CARGO_BIN_EXE_nfwd"))
        .args(["key", "generate", "/ops/carol", "--out"])
        .arg(&keys));
    let key = keys.join("carol.key");
    std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = dir.0.join("nfwd.toml");
    std::fs::write(
        &config,
        format!(
            "[faces]\ntcp_listen = \"127.0.0.1:0\"\nudp_listen = \"\"\n\
             [[security.authorize]]\nusers = [\"root\"]\nprivileges = [\"*\"]\n\
             [[security.authorize]]\nkey = {:?}\nprivileges = [\"rib\", \"sf\"]\n",
            keys.join("carol.cert")
        ),
    )
    .unwrap();
    let d = Daemon::start_with(&dir.0, &["--config", config.to_str().unwrap(), "--sf-host"]);
    let as_nobody = |args: &[&str], key: Option<&Path>| {
        let mut c = d.command(args);
        if let Some(k) = key {
            c.env("NFWD_KEY", k);
        }
        let out = c.uid(65534).gid(65534).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = as_nobody(&["route", "add", "/carol", "1"], None);
    assert!(!ok && text.contains("403"), "without the key: {text}");
    // With it: rib is granted (the command reaches the RIB: face 1 is no face, 410).
    let (ok, text) = as_nobody(&["route", "add", "/carol", "1"], Some(&key));
    assert!(
        !ok && !text.contains("403") && text.contains("410"),
        "with the key: {text}"
    );
    // `sf` commands are signed, so the key reaches the SF host (which knows no /nothing);
    // its datasets are unsigned Interests, read by peer credentials only.
    let (ok, text) = as_nobody(&["sf", "undeploy", "/nothing"], Some(&key));
    assert!(
        !ok && !text.contains("403") && text.contains("404"),
        "undeploy: {text}"
    );
    let (ok, text) = as_nobody(&["sf", "list"], Some(&key));
    assert!(!ok && text.contains("403"), "sf list: {text}");
    // Not granted: strategy-choice; nor exec SFs (sf-exec).
    let (ok, text) = as_nobody(
        &["strategy", "set", "/c", "/localhost/nfd/strategy/multicast"],
        Some(&key),
    );
    assert!(!ok && text.contains("403"), "{text}");
    let spec = dir.0.join("evil.toml");
    std::fs::write(&spec, EVIL_SPEC).unwrap();
    std::fs::set_permissions(&spec, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (ok, text) = as_nobody(&["sf", "deploy", spec.to_str().unwrap()], Some(&key));
    assert!(
        !ok && text.contains("403") && text.contains("sf-exec"),
        "{text}"
    );
}

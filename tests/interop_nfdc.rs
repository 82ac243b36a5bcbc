//! ndn-cxx's own tools against nfwd's authorization (`docs/security.md`): `nfdc`, unmodified,
//! signs commands with an ECDSA key from its keychain (`ndnsec`). With that key's certificate
//! (`ndnsec cert-dump`) in a `[[security.authorize]]` rule, an unprivileged user manages what
//! the rule grants and nothing more; without it, the same user is refused; root manages by its
//! peer credentials as with NFD.
//!
//! The tools come from `../shared/anchors` (NFD 24.07, ndn-cxx 0.9.0), found or installed by
//! `common/anchors.rs`. Missing tools fail under `CI=true` and skip visibly otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::anchors::{Daemon, ndn_tools, text, tool};
use common::{TempDir, is_root};

/// The NDN tools' prefix, when this test can run: as root (`why_root` says what for) and
/// with the tools installed; otherwise `None` after `common::cannot_run` said why.
fn tools_as_root(test: &str, why_root: &str) -> Option<std::path::PathBuf> {
    if !is_root() {
        common::cannot_run(test, why_root);
        return None;
    }
    match ndn_tools() {
        Ok(t) => Some(t),
        Err(e) => {
            common::cannot_run(test, &e);
            None
        }
    }
}

#[test]
fn nfdc_manages_with_a_trusted_ndn_cxx_key_and_is_refused_without_it() {
    let Some(tools) = tools_as_root(
        "nfdc_manages_with_a_trusted_ndn_cxx_key_and_is_refused_without_it",
        "needs root (a second uid)",
    ) else {
        return;
    };
    let dir = TempDir::new("nfdc");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    const NOBODY: u32 = 65534;
    let socket = dir.0.join("nfwd.sock");

    // Bob's keychain (ECDSA, ndnsec's default), owned by uid 65534.
    let bob = dir.0.join("bob");
    std::fs::create_dir_all(&bob).unwrap();
    let keygen = tool(&tools, "ndnsec", &bob, &socket, None)
        .args(["key-gen", "/ops/bob"])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "ndnsec key-gen: {}", text(&keygen));
    let dump = tool(&tools, "ndnsec", &bob, &socket, None)
        .args(["cert-dump", "-i", "/ops/bob"])
        .output()
        .unwrap();
    assert!(dump.status.success(), "ndnsec cert-dump: {}", text(&dump));
    let cert = dir.0.join("bob.cert");
    std::fs::write(&cert, &dump.stdout).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&bob)
        .status()
        .unwrap();
    assert!(chown.success());
    // Eve: the same uid, a keychain of her own that no rule names.
    let eve = dir.0.join("eve");
    std::fs::create_dir_all(&eve).unwrap();
    std::os::unix::fs::chown(&eve, Some(NOBODY), Some(NOBODY)).unwrap();

    let config = dir.0.join("nfwd.toml");
    std::fs::write(
        &config,
        format!(
            "[faces]\nunix_path = {socket:?}\ntcp_listen = \"\"\nudp_listen = \"\"\n\
             [[security.authorize]]\nusers = [\"root\"]\nprivileges = [\"*\"]\n\
             [[security.authorize]]\nkey = {cert:?}\nprivileges = [\"strategy-choice\"]\n"
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&socket, |c| {
        c.arg("--config").arg(&config);
    });

    let nfdc = |home: &Path, uid: Option<u32>, args: &[&str]| {
        tool(&tools, "nfdc", home, &socket, uid)
            .args(args)
            .output()
            .unwrap()
    };
    let multicast = "/localhost/nfd/strategy/multicast";
    // Bob, unprivileged, with the trusted key: the granted module works.
    let o = nfdc(&bob, Some(NOBODY), &["strategy", "set", "/bob", multicast]);
    assert!(o.status.success(), "bob's strategy set: {}", text(&o));
    // ... and nothing else: cs is not granted.
    let o = nfdc(&bob, Some(NOBODY), &["cs", "config", "capacity", "10"]);
    assert!(!o.status.success(), "bob's cs config: {}", text(&o));
    assert!(text(&o).contains("403"), "{}", text(&o));
    // Eve, same uid, her own key (ndn-cxx makes one on first use): refused.
    let o = nfdc(&eve, Some(NOBODY), &["strategy", "set", "/eve", multicast]);
    assert!(!o.status.success(), "eve's strategy set: {}", text(&o));
    assert!(text(&o).contains("403"), "{}", text(&o));
    // Root, by its peer credentials, whatever it signs with; status is open to all.
    let roothome = dir.0.join("root");
    std::fs::create_dir_all(&roothome).unwrap();
    let o = nfdc(&roothome, None, &["strategy", "set", "/root", multicast]);
    assert!(o.status.success(), "root's strategy set: {}", text(&o));
    let o = nfdc(&eve, Some(NOBODY), &["strategy", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    let list = text(&o);
    assert!(
        list.contains("/bob") && list.contains("/root") && !list.contains("/eve"),
        "{list}"
    );
    drop(daemon);
}

/// `nfdc face create`, unmodified, towards a peer whose face exists — one the peer opened by
/// sending to us first, then one nfdc made — prints `face-exists` with that face and exits 0
/// (issue 9 item 6): nfwd answers NFD's 409 with the face in the body, upgraded from on-demand
/// to the persistency asked for.
#[test]
fn nfdc_face_create_towards_an_existing_face_says_face_exists() {
    let Some(tools) = tools_as_root(
        "nfdc_face_create_towards_an_existing_face_says_face_exists",
        "needs root (nfwd authorizes root by its peer credentials)",
    ) else {
        return;
    };
    let dir = TempDir::new("nfdc-face-exists");
    let socket = dir.0.join("nfwd.sock");
    let udp = common::free_port();
    let daemon = Daemon::start(&socket, |c| {
        c.arg("--unix")
            .arg(&socket)
            .args(["--tcp", "", "--udp", &format!("127.0.0.1:{udp}")]);
    });
    let home = dir.0.join("root");
    std::fs::create_dir_all(&home).unwrap();
    let nfdc = |args: &[&str]| {
        tool(&tools, "nfdc", &home, &socket, None)
            .args(args)
            .output()
            .unwrap()
    };
    // The peer speaks first: an Interest from its socket makes an on-demand face.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer_uri = format!("udp4://{}", peer.local_addr().unwrap());
    let interest = nfwd_tlv::InterestBuilder::new("/hello".parse().unwrap())
        .build()
        .unwrap();
    peer.send_to(interest.wire(), ("127.0.0.1", udp)).unwrap();
    let face_id = |o: &Output| {
        let t = text(o);
        t.split_whitespace()
            .find_map(|w| w.strip_prefix("id=").or_else(|| w.strip_prefix("faceid=")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no id in: {t}"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let on_demand = loop {
        let o = nfdc(&["face", "list", "remote", &peer_uri]);
        if o.status.success() && text(&o).contains("on-demand") {
            break face_id(&o);
        }
        assert!(Instant::now() < deadline, "no on-demand face: {}", text(&o));
        std::thread::sleep(Duration::from_millis(50));
    };
    let o = nfdc(&["face", "create", &peer_uri]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("face-exists "), "{}", text(&o));
    assert!(text(&o).contains("persistency=persistent"), "{}", text(&o));
    assert_eq!(face_id(&o), on_demand);
    // A face nfdc made, asked for again.
    let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let other_uri = format!("udp4://{}", other.local_addr().unwrap());
    let o = nfdc(&["face", "create", &other_uri]);
    assert!(text(&o).starts_with("face-created "), "{}", text(&o));
    let made = face_id(&o);
    let o = nfdc(&["face", "create", &other_uri]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("face-exists "), "{}", text(&o));
    assert_eq!(face_id(&o), made);
    drop(daemon);
}

/// Issue 14: `nfdc channel list`, unmodified, shows nfwd's listeners by NFD's LocalUris, and
/// `nfdc strategy set` takes NFD's strategy names, versions and parameters, and is refused
/// with NFD's codes and texts (nfdc prints "Unknown strategy" for a 404 and the text of a
/// 409).
#[test]
fn nfdc_lists_channels_and_sets_strategies_as_with_nfd() {
    let Some(tools) = tools_as_root(
        "nfdc_lists_channels_and_sets_strategies_as_with_nfd",
        "needs root (nfwd authorizes root by its peer credentials)",
    ) else {
        return;
    };
    let dir = TempDir::new("nfdc-channels-strategies");
    let socket = dir.0.join("nfwd.sock");
    let tcp = common::free_port();
    let udp = common::free_port();
    let daemon = Daemon::start(&socket, |c| {
        c.arg("--unix").arg(&socket).args([
            "--tcp",
            &format!("127.0.0.1:{tcp}"),
            "--udp",
            &format!("127.0.0.1:{udp}"),
        ]);
    });
    let home = dir.0.join("root");
    std::fs::create_dir_all(&home).unwrap();
    let nfdc = |args: &[&str]| {
        tool(&tools, "nfdc", &home, &socket, None)
            .args(args)
            .output()
            .unwrap()
    };

    let o = nfdc(&["channel", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    let channels = text(&o);
    for uri in [
        format!("unix://{}", socket.display()),
        format!("tcp4://127.0.0.1:{tcp}"),
        format!("udp4://127.0.0.1:{udp}"),
    ] {
        assert!(channels.contains(&uri), "{uri} not in {channels}");
    }

    let s = "/localhost/nfd/strategy";
    for (prefix, asked, listed) in [
        ("/r", format!("{s}/random"), format!("{s}/random/v=1")),
        ("/a", format!("{s}/access"), format!("{s}/access/v=1")),
        ("/m", format!("{s}/multicast"), format!("{s}/multicast/v=5")),
        (
            "/s",
            format!("{s}/self-learning"),
            format!("{s}/self-learning/v=1"),
        ),
        (
            "/b",
            format!("{s}/best-route/v=5/retx-suppression-initial~20/retx-suppression-max~500"),
            format!("{s}/best-route/v=5/retx-suppression-initial~20/retx-suppression-max~500"),
        ),
    ] {
        let o = nfdc(&["strategy", "set", "prefix", prefix, "strategy", &asked]);
        assert!(o.status.success(), "{asked}: {}", text(&o));
        assert!(text(&o).contains(&listed), "{}", text(&o));
    }
    for (asked, says) in [
        (
            format!("{s}/self-learning/v=2"),
            "Unknown strategy".to_owned(),
        ),
        (
            format!("{s}/self-learning/v=1/a~b"),
            "SelfLearningStrategy does not accept parameters".to_owned(),
        ),
        (format!("{s}/multicast/v=6"), "Unknown strategy".to_owned()),
        (
            format!("{s}/multicast/v=4"),
            "409 when setting strategy: Error instantiating strategy: \
             MulticastStrategy does not support version 4"
                .to_owned(),
        ),
        (
            format!("{s}/best-route/v=5/retx-suppression-initial~0"),
            "409 when setting strategy: Error instantiating strategy: \
             Retx suppression initial interval must be > 0"
                .to_owned(),
        ),
        (
            format!("{s}/random/v=1/a~b"),
            "RandomStrategy does not accept parameters".to_owned(),
        ),
    ] {
        let o = nfdc(&["strategy", "set", "prefix", "/x", "strategy", &asked]);
        assert!(!o.status.success(), "{asked}: {}", text(&o));
        assert!(text(&o).contains(&says), "{asked}: {}", text(&o));
    }
    let o = nfdc(&["strategy", "list"]);
    let list = text(&o);
    assert!(o.status.success(), "{list}");
    assert!(
        list.contains("prefix=/r strategy=/localhost/nfd/strategy/random/v=1")
            && list.contains("prefix=/m strategy=/localhost/nfd/strategy/multicast/v=5")
            && list.contains("prefix=/s strategy=/localhost/nfd/strategy/self-learning/v=1")
            && !list.contains("prefix=/x "),
        "{list}"
    );
    drop(daemon);
}

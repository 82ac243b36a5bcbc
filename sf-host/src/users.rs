//! Who SF instances run as (`docs/sf-host.md`, "Users and isolation").
//!
//! An SF instance never runs as root. When the host runs as root, each instance gets a user of
//! its own: by default a uid drawn from a range reserved for SFs (61000–61999, like systemd's
//! `DynamicUser`; the gid is the same number), so that process instances cannot reach each
//! other's channel directories, signal each other or read each other's memory; or a named user
//! if configured. When the host is not root it cannot change users: instances run as the
//! host's own user, and per-SF isolation needs root or Docker.
//!
//! Dynamic uids are claimed per process (a static set) and skipped while any process on the
//! machine runs as them, so hosts in one process never share one and hosts in different
//! processes rarely could (only if both claim the same free uid before either starts its
//! instance; each host starts its search at a point derived from its owner name).
//!
//! Nothing here is `unsafe`: the ids of this process are those of `/proc/self`, users and
//! groups are read from `/etc/passwd` and `/etc/group`, and the switch itself is std's
//! `CommandExt::{uid, gid}` (which also drops supplementary groups when root).

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::error::{Error, Result};

/// The uid and gid an instance runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceUser {
    /// User id (never 0).
    pub uid: u32,
    /// Group id (never 0).
    pub gid: u32,
}

impl std::fmt::Display for InstanceUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uid {} (gid {})", self.uid, self.gid)
    }
}

/// Which users instances run as when the host is root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceUsers {
    /// A uid of its own per instance from `first..=last` (gid = uid).
    Dynamic {
        /// First uid of the range.
        first: u32,
        /// Last uid of the range.
        last: u32,
    },
    /// Every instance as this user.
    Fixed(InstanceUser),
}

impl Default for InstanceUsers {
    fn default() -> Self {
        Self::Dynamic {
            first: 61_000,
            last: 61_999,
        }
    }
}

impl InstanceUsers {
    /// Parses a uid range `FIRST-LAST` (`--sf-uid-range`).
    pub fn parse_range(text: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "uid range {text:?}: want FIRST-LAST, e.g. 61000-61999"
            ))
        };
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let last: u32 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return Err(Error::Config(format!(
                "uid range {text:?}: need 0 < FIRST <= LAST (uid 0 is root)"
            )));
        }
        Ok(Self::Dynamic { first, last })
    }

    /// Parses a user: a name from `/etc/passwd` (its primary group), `UID`, `UID:GID` or
    /// `NAME:GROUP` (`--sf-user`). Root (uid or gid 0) is refused.
    pub fn parse_user(text: &str) -> Result<Self> {
        let (user, group) = match text.split_once(':') {
            Some((u, g)) => (u.trim(), Some(g.trim())),
            None => (text.trim(), None),
        };
        let (uid, primary) = match user.parse::<u32>() {
            Ok(uid) => (uid, uid),
            Err(_) => lookup(Path::new("/etc/passwd"), user)
                .ok_or_else(|| Error::Config(format!("user {user:?}: not in /etc/passwd")))?,
        };
        let gid = match group {
            None => primary,
            Some(g) => match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => lookup(Path::new("/etc/group"), g)
                    .map(|(gid, _)| gid)
                    .ok_or_else(|| Error::Config(format!("group {g:?}: not in /etc/group")))?,
            },
        };
        if uid == 0 || gid == 0 {
            return Err(Error::Config(format!(
                "SF instances never run as root: {text:?} is uid {uid}, gid {gid}; choose an \
                 unprivileged user (or leave the default, a uid of its own per instance)"
            )));
        }
        Ok(Self::Fixed(InstanceUser { uid, gid }))
    }
}

/// The numeric id (third field) and the fourth field of entry `name` of a passwd- or
/// group-format file.
fn lookup(file: &Path, name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        let id = f.next()?.parse().ok()?;
        let second = f.next().and_then(|g| g.parse().ok()).unwrap_or(id);
        Some((id, second))
    })
}

/// The effective uid and gid of this process (the owner of `/proc/self`).
pub fn current_ids() -> Result<(u32, u32)> {
    let m = std::fs::metadata("/proc/self")?;
    Ok((m.uid(), m.gid()))
}

/// Uids claimed by hosts of this process.
static CLAIMED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Uids of the processes running on this machine.
fn live_uids() -> BTreeSet<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        e.metadata().ok().map(|m| m.uid())
    })
    .collect()
}

/// Claims a free uid of `first..=last`, searching from a point derived from `seed`. Free: not
/// claimed in this process and no process runs as it. [`release`] gives it back.
pub fn claim(first: u32, last: u32, seed: u64) -> Result<InstanceUser> {
    let span = u64::from(last - first) + 1;
    let live = live_uids();
    let mut claimed = CLAIMED.lock().unwrap_or_else(PoisonError::into_inner);
    for k in 0..span {
        let offset = u32::try_from((seed.wrapping_add(k)) % span).unwrap_or(0);
        let uid = first + offset;
        if !claimed.contains(&uid) && !live.contains(&uid) {
            claimed.insert(uid);
            return Ok(InstanceUser { uid, gid: uid });
        }
    }
    Err(Error::Config(format!(
        "no free uid in the SF range {first}-{last}: every one is in use (widen it with \
         --sf-uid-range)"
    )))
}

/// Gives back a uid [`claim`] returned.
pub fn release(uid: u32) {
    CLAIMED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&uid);
}

/// Whether `user` may search (`x`) or read (`r`) `meta`: owner, then group (the primary
/// group only: supplementary groups are dropped when the instance starts), then others.
fn allowed(meta: &std::fs::Metadata, user: InstanceUser, bit: u32) -> bool {
    let mode = meta.permissions().mode();
    let shift = if meta.uid() == user.uid {
        6
    } else if meta.gid() == user.gid {
        3
    } else {
        0
    };
    mode & (bit << shift) != 0
}

/// Checks that `user` can execute `program` (a path, or a name looked up in `PATH`): every
/// directory on the way searchable, the file executable, and readable too if it is a script.
/// ACLs are not looked at. The error says which part is closed and how to fix it.
pub fn check_executable(program: &Path, user: InstanceUser) -> Result<PathBuf> {
    let path = if program.components().count() > 1 || program.is_absolute() {
        program.to_path_buf()
    } else {
        crate::process::which(&program.to_string_lossy())
            .ok_or_else(|| Error::Spec(format!("{}: not in PATH", program.display())))?
    };
    let real = std::fs::canonicalize(&path)
        .map_err(|e| Error::Spec(format!("{}: {e}", path.display())))?;
    let closed = |what: &Path, meta: &std::fs::Metadata, need: &str| {
        Error::Spec(format!(
            "{} cannot be run by SF instances ({user}): {} (mode {:04o}, uid {}, gid {}) is \
             not {need} by that user; install it where every user can run it (e.g. \
             /usr/local/bin) or configure another user (--sf-user)",
            path.display(),
            what.display(),
            meta.permissions().mode() & 0o7777,
            meta.uid(),
            meta.gid()
        ))
    };
    for dir in real.ancestors().skip(1) {
        let meta = std::fs::metadata(dir)?;
        if !allowed(&meta, user, 0o1) {
            return Err(closed(dir, &meta, "searchable"));
        }
    }
    let meta = std::fs::metadata(&real)?;
    if !meta.is_file() || !allowed(&meta, user, 0o1) {
        return Err(closed(&real, &meta, "executable"));
    }
    let script = std::fs::File::open(&real)
        .and_then(|mut f| {
            let mut head = [0u8; 2];
            std::io::Read::read_exact(&mut f, &mut head).map(|()| head == *b"#!")
        })
        .unwrap_or(false);
    if script && !allowed(&meta, user, 0o4) {
        return Err(closed(&real, &meta, "readable (it is a script)"));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_ranges_parse_and_root_is_refused() {
        assert_eq!(
            InstanceUsers::parse_user("1234").unwrap(),
            InstanceUsers::Fixed(InstanceUser {
                uid: 1234,
                gid: 1234
            })
        );
        assert_eq!(
            InstanceUsers::parse_user("1234:99").unwrap(),
            InstanceUsers::Fixed(InstanceUser { uid: 1234, gid: 99 })
        );
        for root in ["0", "root", "1234:0"] {
            let e = InstanceUsers::parse_user(root).unwrap_err().to_string();
            assert!(e.contains("never run as root"), "{root}: {e}");
        }
        assert!(InstanceUsers::parse_user("no-such-user-here").is_err());
        assert_eq!(
            InstanceUsers::parse_range("100-200").unwrap(),
            InstanceUsers::Dynamic {
                first: 100,
                last: 200
            }
        );
        for bad in ["0-10", "20-10", "x", "5"] {
            assert!(InstanceUsers::parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claimed_uids_are_distinct_until_released() {
        let a = claim(4_000_000_000, 4_000_000_001, 7).unwrap();
        let b = claim(4_000_000_000, 4_000_000_001, 7).unwrap();
        assert_ne!(a.uid, b.uid);
        assert!(claim(4_000_000_000, 4_000_000_001, 7).is_err());
        release(a.uid);
        assert_eq!(claim(4_000_000_000, 4_000_000_001, 0).unwrap().uid, a.uid);
        release(a.uid);
        release(b.uid);
    }

    #[test]
    fn a_program_in_a_closed_directory_is_not_executable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        std::fs::create_dir(&closed).unwrap();
        let exe = closed.join("prog");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let (uid, _) = current_ids().unwrap();
        let other = InstanceUser {
            uid: uid.wrapping_add(4242),
            gid: 4242,
        };
        let e = check_executable(&exe, other).unwrap_err().to_string();
        assert!(e.contains("not searchable") && e.contains("closed"), "{e}");
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o711)).unwrap();
        check_executable(&exe, other).unwrap();
        // A script must be readable too.
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o711)).unwrap();
        let e = check_executable(&exe, other).unwrap_err().to_string();
        assert!(e.contains("script"), "{e}");
        assert!(check_executable(Path::new("sh"), other).is_ok());
    }
}

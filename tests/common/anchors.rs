//! The NDN reference tools of `../shared/anchors` (NFD 24.07, ndn-cxx 0.9.0, ndn-tools 24.07)
//! for the interop tests: `$NFWD_NDN_TOOLS`, else `target/ndn-anchors`, installed there on
//! first use with the anchors' `install.sh` (which needs root for its apt-get).

use std::path::{Path, PathBuf};
use std::process::Command;
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

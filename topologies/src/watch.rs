//! The watcher: routes around a node whose daemon dies by itself.
//!
//! `topo kill`, `link` and `restart` recompute the routes because they make the fault; a
//! daemon that crashes, is OOM-killed or is stopped by hand would otherwise leave every
//! route towards it in place until the next such command. `up` starts one watcher per
//! testbed (`nfwd topo watch NAME`, detached, its pid in `state.toml`, ended by `down`, and
//! ending by itself once the state directory is gone). Every `interval` it looks at the
//! faults of the running testbed (`crate::reroute::faults_of`: nodes whose daemon is not
//! running, links cut); when they differ from what it last saw, it takes the testbed's lock
//! and reroutes, as `kill` would have. A change that a command made itself (and rerouted
//! under the lock) costs the watcher one reroute that changes nothing.
//!
//! It also keeps the userspace delay line ([`crate::linkemu`]) running: when its process has
//! died, every delayed link carries nothing, so the watcher starts it again under the lock
//! ([`linkemu::relaunch`]: its taps made anew, readdressed and reshaped) and records the new
//! pid in `state.toml`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::faults::launched_topology;
use crate::launch::{self, State};
use crate::linkemu;
use crate::model::Topology;
use crate::net;
use crate::reroute::{self, Cause};

/// The watcher's log, in the testbed's directory.
pub const LOG_FILE: &str = "watch.log";
/// How often the watcher looks, by default: the forwarders' liveness interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
/// How long one reroute may take.
const REROUTE_TIMEOUT: Duration = Duration::from_secs(30);
/// After a reroute that failed, the next try waits this long (the fault is tried again).
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a restarted delay line may take to put its taps in place.
const RELAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the watcher of topology `name`; returns its pid. `nfwd` is the binary that runs it.
pub fn start(root: &Path, name: &str, nfwd: &Path) -> Result<u32> {
    let mut cmd = Command::new(nfwd);
    cmd.args(["topo", "watch", name, "--state-dir"]).arg(root);
    launch::spawn_detached(&mut cmd, &root.join(name).join(LOG_FILE))
}

/// Ends the watcher `pid` (left alone if that pid now runs something else).
pub fn stop(pid: u32) {
    net::stop_helper(pid, "watch");
}

/// True while the delay line `pid` runs. One this watcher started is its child: reaped here
/// once it has ended, so it leaves no zombie (for any other pid waitpid fails, harmlessly).
fn emulator_alive(pid: u32) -> bool {
    let raw = i32::try_from(pid).unwrap_or(0);
    if let Some(p) = rustix::process::Pid::from_raw(raw) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
    }
    net::alive(raw)
}

/// Starts the dead delay line of `name` again, under the testbed's lock; says what it did.
fn keep_delay_line(root: &Path, name: &str, t: &Topology, progress: &mut dyn FnMut(&str)) {
    let Ok(_lock) = launch::lock(root, name, progress) else {
        return;
    };
    // What holds now, under the lock: `down` may have ended it, or the testbed be gone.
    let Ok(mut state) = State::load(root, name) else {
        return;
    };
    let Some(dead) = state.link_emulator_pid.filter(|&pid| !emulator_alive(pid)) else {
        return;
    };
    // The binary `up` ran (the daemons' first argument), which is the one that started the
    // delay line; this process's own if the state has no command lines.
    let nfwd = state
        .nodes
        .iter()
        .find_map(|n| n.daemon_argv.first())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_exe().ok());
    let Some(nfwd) = nfwd else {
        progress("the delay line is not running, and no nfwd binary to start it again");
        std::thread::sleep(RETRY_AFTER);
        return;
    };
    let started = Instant::now();
    match linkemu::relaunch(root, &mut state, t, &nfwd, RELAUNCH_TIMEOUT) {
        Ok(pid) => progress(&format!(
            "the delay line (pid {dead}) was not running: started again as pid {pid}, its \
             links readdressed and reshaped, in {} ms",
            started.elapsed().as_millis()
        )),
        Err(e) => {
            progress(&format!(
                "the delay line (pid {dead}) was not running; starting it again failed (tried \
                 again): {e}"
            ));
            std::thread::sleep(RETRY_AFTER);
        }
    }
}

/// Watches topology `name` until its state directory is gone: `nfwd topo watch`.
pub fn watch(
    root: &Path,
    name: &str,
    interval: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    if !net::is_root() {
        return Err(Error::Unsupported("watching a testbed needs root".into()));
    }
    let t = launched_topology(root, name)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("tokio runtime: {e}")))?;
    let mut seen = reroute::faults_of(&State::load(root, name)?, &t);
    // (`up` starts the watcher before it writes the state for the last time; writes are
    // atomic renames, so this reads one whole state or the other.)
    progress(&format!(
        "watching {name}: {} nodes down, {} links cut",
        seen.nodes_down.len(),
        seen.links_down.len()
    ));
    loop {
        std::thread::sleep(interval);
        if !root.join(name).is_dir() {
            progress(&format!("{name} is down: the watcher ends"));
            return Ok(());
        }
        // A state being rewritten may not read: the next look will.
        let Ok(state) = State::load(root, name) else {
            continue;
        };
        if let Some(pid) = state.link_emulator_pid
            && !emulator_alive(pid)
        {
            keep_delay_line(root, name, &t, progress);
            continue;
        }
        if reroute::faults_of(&state, &t) == seen {
            continue;
        }
        let Ok(_lock) = launch::lock(root, name, progress) else {
            continue;
        };
        // What holds now, under the lock: a command may have changed it meanwhile.
        let Ok(mut state) = State::load(root, name) else {
            continue;
        };
        let now = reroute::faults_of(&state, &t);
        let cause = if now.nodes_down.is_superset(&seen.nodes_down)
            && now.links_down.is_superset(&seen.links_down)
        {
            Cause::Fault
        } else {
            Cause::Repair
        };
        let names = |set: &std::collections::BTreeSet<usize>| {
            set.iter()
                .filter_map(|&i| t.nodes.get(i).map(|n| n.name.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        progress(&format!(
            "nodes down: [{}] (were [{}]), links cut: {}",
            names(&now.nodes_down),
            names(&seen.nodes_down),
            now.links_down.len()
        ));
        let started = Instant::now();
        let deadline = started + REROUTE_TIMEOUT;
        match rt.block_on(reroute::reroute(
            &mut state, &t, root, cause, deadline, progress,
        )) {
            Ok(r) => {
                progress(&format!(
                    "rerouted in {} ms: +{} -{} on {} nodes{}",
                    started.elapsed().as_millis(),
                    r.registered,
                    r.unregistered,
                    r.nodes,
                    if r.unreachable.is_empty() {
                        String::new()
                    } else {
                        format!("; {} destinations unreachable", r.unreachable.len())
                    }
                ));
                seen = now;
            }
            Err(e) => {
                progress(&format!("reroute failed (tried again): {e}"));
                std::thread::sleep(RETRY_AFTER);
            }
        }
    }
}

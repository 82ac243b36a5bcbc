//! The process backend: SF instances as child processes of the host, running the `nfwd`
//! binary's SF runtime (`nfwd sf run --builtin X` or `nfwd sf exec -- ARGV`).
//!
//! **User.** An instance runs as the user [`ForwarderAccess::user`] names (the host gives each
//! one a uid of its own when it is root, `crate::users`), switched to with std's
//! `CommandExt::{uid, gid}` before the first program runs; without a user it runs as the host.
//! The host checks beforehand that the user can execute the program ([`ProcessBackend::check`]).
//!
//! Resource limits, without `unsafe` (the workspace forbids it, so no `setrlimit` in a
//! `pre_exec` hook): the command is wrapped as `nice -n N prlimit --as=BYTES --nofile=N
//! --core=0 [--nproc=N] -- nfwd sf ...`. Both wrappers `exec` the next program, so the process
//! id stays the instance's. `--nproc` (RLIMIT_NPROC, counted per user) is set only for an
//! instance with a user of its own: for one sharing the host's user it would count the host's
//! processes too.
//! - Memory: `limits.memory_mib` becomes an **address-space** limit (RLIMIT_AS), not a
//!   resident-memory limit as Docker's. glibc reserves address space per malloc arena, so the
//!   child runs with `MALLOC_ARENA_MAX=2` to keep reservations well below the limit.
//! - CPU: a process gets a **priority, not a CPU share**: `cpus >= 1` runs at nice 0, smaller
//!   values at nice `ceil(10 * (1 - cpus))` (0.5 → 5, 0.1 → 9).
//!
//! `prlimit` (util-linux) or `nice` missing on the machine: the instance runs without that
//! limit and a warning is logged once.
//!
//! Output (stdout and stderr, interleaved by line) is kept in a bounded ring per instance for
//! `logs`. Stopping sends SIGTERM (`kill -TERM`), waits for a grace period, then SIGKILL, and
//! reaps the child; stopping a stopped or unknown instance succeeds.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::backend::{Backend, ForwarderAccess, InstanceHandle, InstanceStatus, Prepared};
use crate::error::{Error, Result};
use crate::spec::{Artifact, SfSpec};
use crate::users::InstanceUser;

/// Longest line kept in the log ring (longer ones are cut).
const MAX_LINE: usize = 4096;

/// How the process backend runs instances.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// The `nfwd` binary whose `sf run` / `sf exec` the instances execute. Default: this
    /// process's own executable.
    pub nfwd_bin: PathBuf,
    /// Lines of output kept per instance. Default 500.
    pub log_lines: usize,
    /// Time between SIGTERM and SIGKILL when stopping. Default 3 s.
    pub stop_grace: Duration,
    /// Apply `prlimit`/`nice` (if installed). Default true.
    pub limits: bool,
    /// Most processes (threads included) of an instance's own user (RLIMIT_NPROC). Default 256.
    pub max_processes: u64,
    /// Most open files per process (RLIMIT_NOFILE). Default 1024.
    pub max_files: u64,
}

impl ProcessOptions {
    /// Options running `nfwd_bin`, other fields at their defaults.
    #[must_use]
    pub fn new(nfwd_bin: impl Into<PathBuf>) -> Self {
        Self {
            nfwd_bin: nfwd_bin.into(),
            log_lines: 500,
            stop_grace: Duration::from_secs(3),
            limits: true,
            max_processes: 256,
            max_files: 1024,
        }
    }

    /// Options running the current executable (`std::env::current_exe`).
    pub fn current_exe() -> Result<Self> {
        Ok(Self::new(std::env::current_exe()?))
    }
}

/// A bounded ring of output lines.
#[derive(Debug)]
struct LogRing {
    lines: VecDeque<String>,
    cap: usize,
}

impl LogRing {
    fn push(&mut self, mut line: String) {
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        if self.lines.len() >= self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}

#[derive(Debug)]
struct Proc {
    child: tokio::sync::Mutex<Child>,
    pid: u32,
    logs: Arc<Mutex<LogRing>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SF instances as local processes.
#[derive(Debug)]
pub struct ProcessBackend {
    options: ProcessOptions,
    procs: Mutex<HashMap<String, Arc<Proc>>>,
    prlimit: Option<PathBuf>,
    nice: Option<PathBuf>,
    warned: AtomicBool,
}

/// Looks a program up in `PATH`.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The nice value standing in for a CPU share (see the module documentation).
#[must_use]
pub fn nice_for_cpus(cpus: f64) -> u8 {
    if cpus.is_nan() || cpus >= 1.0 {
        return 0;
    }
    let n = (10.0 * (1.0 - cpus.max(0.0))).ceil();
    // In 1..=10 by construction; clamp to 9 so that even a tiny share stays above idle.
    if n >= 9.0 { 9 } else { n.max(1.0) as u8 }
}

impl ProcessBackend {
    /// A backend with `options`; looks up `prlimit` and `nice` once.
    #[must_use]
    pub fn new(options: ProcessOptions) -> Self {
        Self {
            prlimit: which("prlimit"),
            nice: which("nice"),
            options,
            procs: Mutex::new(HashMap::new()),
            warned: AtomicBool::new(false),
        }
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &ProcessOptions {
        &self.options
    }

    /// The full command line of instance `index` of `spec` (wrappers included).
    #[must_use]
    pub fn command_line(&self, spec: &SfSpec, index: u32, access: &ForwarderAccess) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if self.options.limits {
            if let Some(nice) = &self.nice {
                argv.extend([
                    nice.display().to_string(),
                    "-n".into(),
                    nice_for_cpus(spec.limits.cpus).to_string(),
                ]);
            }
            if let Some(prlimit) = &self.prlimit {
                let bytes = spec.limits.memory_mib.saturating_mul(1024 * 1024);
                argv.extend([
                    prlimit.display().to_string(),
                    format!("--as={bytes}"),
                    format!("--nofile={}", self.options.max_files),
                    // No core dumps: they would write the instance's memory to disk.
                    "--core=0".into(),
                ]);
                if access.own_user {
                    argv.push(format!("--nproc={}", self.options.max_processes));
                }
                argv.push("--".into());
            }
            if (self.nice.is_none() || self.prlimit.is_none())
                && !self.warned.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    "sf host: `nice` or `prlimit` not found; process instances run without \
                     that limit"
                );
            }
        }
        let connect = format!("unix://{}", access.unix_socket.display());
        argv.push(self.options.nfwd_bin.display().to_string());
        argv.extend(crate::backend::runtime_args(
            spec,
            &connect,
            &instance_id(spec, index),
            None,
        ));
        argv
    }

    /// Checks that `user` can run what instances of `spec` execute (the `nfwd` binary, and an
    /// exec artifact's program): a clear error at deployment rather than failed starts.
    pub fn check(&self, spec: &SfSpec, user: InstanceUser) -> Result<()> {
        crate::users::check_executable(&self.options.nfwd_bin, user)?;
        if let Artifact::Exec { argv } = &spec.artifact
            && let Some(program) = argv.first()
        {
            crate::users::check_executable(Path::new(program), user)?;
        }
        Ok(())
    }

    fn get(&self, handle: &InstanceHandle) -> Option<Arc<Proc>> {
        lock(&self.procs).get(&handle.id).cloned()
    }
}

/// The instance identifier passed to `nfwd sf run --instance` (shown in its stats).
#[must_use]
pub fn instance_id(spec: &SfSpec, index: u32) -> String {
    format!("{}#{index}", spec.name)
}

/// Copies lines of `r` into `logs` until end of file.
fn pump(r: impl AsyncRead + Unpin + Send + 'static, logs: Arc<Mutex<LogRing>>, tag: &'static str) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => lock(&logs).push(format!("{tag}{line}")),
                Ok(None) => return,
                Err(e) => {
                    // Not UTF-8 or a read error: note it and stop reading this stream.
                    lock(&logs).push(format!("{tag}<output unreadable: {e}>"));
                    return;
                }
            }
        }
    });
}

fn exit_code(status: ExitStatus) -> Option<i64> {
    status.code().map(i64::from)
}

fn file_exists(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}

impl Backend for ProcessBackend {
    fn kind(&self) -> &'static str {
        "process"
    }

    async fn prepare(&self, spec: &SfSpec) -> Result<Prepared> {
        spec.validate()?;
        // The image's program is inside the image; as a process there is nothing to run.
        spec.check_program()?;
        if !file_exists(&self.options.nfwd_bin) {
            return Err(Error::NotFound(format!(
                "nfwd binary {}",
                self.options.nfwd_bin.display()
            )));
        }
        if let Artifact::Exec { argv } = &spec.artifact
            && let Some(program) = argv.first()
            && !program.contains('/')
            && which(program).is_none()
        {
            return Err(Error::Spec(format!("exec: {program:?} is not in PATH")));
        }
        Ok(Prepared::AlreadyPresent)
    }

    async fn start(
        &self,
        spec: &SfSpec,
        index: u32,
        access: &ForwarderAccess,
    ) -> Result<InstanceHandle> {
        let argv = self.command_line(spec, index, access);
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::Spec("empty command line".into()));
        };
        let mut command = Command::new(program);
        if let Some(user) = access.user {
            // std sets the gid, drops supplementary groups (when root) and sets the uid in
            // the child before exec.
            command.uid(user.uid).gid(user.gid);
        }
        let mut child = command
            .args(args)
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // If the host goes away without stopping its instances, they go with it.
            .kill_on_drop(true)
            .spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| Error::Function("process exited at once".into()))?;
        let logs = Arc::new(Mutex::new(LogRing {
            lines: VecDeque::new(),
            cap: self.options.log_lines.max(1),
        }));
        if let Some(out) = child.stdout.take() {
            pump(out, Arc::clone(&logs), "");
        }
        if let Some(err) = child.stderr.take() {
            pump(err, Arc::clone(&logs), "");
        }
        let id = pid.to_string();
        tracing::info!("sf host: started {} #{index} as process {pid}", spec.name);
        lock(&self.procs).insert(
            id.clone(),
            Arc::new(Proc {
                child: tokio::sync::Mutex::new(child),
                pid,
                logs,
            }),
        );
        Ok(InstanceHandle {
            backend: "process",
            id,
            sf: spec.name.clone(),
            index,
        })
    }

    async fn stop(&self, handle: &InstanceHandle) -> Result<()> {
        let Some(proc) = lock(&self.procs).remove(&handle.id) else {
            return Ok(());
        };
        let mut child = proc.child.lock().await;
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        // Graceful first: the runtime answers what it can and closes its face.
        let term = Command::new("kill")
            .args(["-TERM", &proc.pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if term.is_ok_and(|s| s.success())
            && let Ok(r) = tokio::time::timeout(self.options.stop_grace, child.wait()).await
        {
            r?;
            return Ok(());
        }
        child.start_kill()?;
        child.wait().await?;
        Ok(())
    }

    async fn status(&self, handle: &InstanceHandle) -> Result<InstanceStatus> {
        let Some(proc) = self.get(handle) else {
            return Ok(InstanceStatus::Missing);
        };
        // Never wait here: a stop in progress holds the child.
        let Ok(mut child) = proc.child.try_lock() else {
            return Ok(InstanceStatus::Running);
        };
        Ok(match child.try_wait()? {
            None => InstanceStatus::Running,
            Some(s) => InstanceStatus::Exited(exit_code(s)),
        })
    }

    async fn logs(&self, handle: &InstanceHandle, lines: usize) -> Result<String> {
        let Some(proc) = self.get(handle) else {
            return Err(Error::NotFound(format!("instance {}", handle.id)));
        };
        let ring = lock(&proc.logs);
        let skip = ring.lines.len().saturating_sub(lines);
        let mut out = String::new();
        for l in ring.lines.iter().skip(skip) {
            out.push_str(l);
            out.push('\n');
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_share_maps_to_a_nice_value() {
        assert_eq!(nice_for_cpus(2.0), 0);
        assert_eq!(nice_for_cpus(1.0), 0);
        assert_eq!(nice_for_cpus(0.5), 5);
        assert_eq!(nice_for_cpus(0.1), 9);
        assert_eq!(nice_for_cpus(0.0001), 9);
    }

    #[test]
    fn log_ring_is_bounded_and_cuts_long_lines() {
        let mut r = LogRing {
            lines: VecDeque::new(),
            cap: 2,
        };
        for l in ["a", "b", "c"] {
            r.push(l.into());
        }
        assert_eq!(r.lines, ["b", "c"]);
        r.push("é".repeat(MAX_LINE));
        assert!(r.lines.back().unwrap().len() <= MAX_LINE + '…'.len_utf8());
    }

    #[test]
    fn command_line_wraps_the_runtime() {
        let spec = SfSpec::from_toml(
            "name = \"/sf/upper\"\n[artifact]\nkind = \"builtin\"\nfunction = \"upper\"\n\
             [limits]\nmemory_mib = 64\ncpus = 0.5\n",
        )
        .unwrap();
        let b = ProcessBackend::new(ProcessOptions::new("/bin/nfwd"));
        let access = ForwarderAccess {
            unix_socket: "/tmp/x.sock".into(),
            user: None,
            own_user: true,
        };
        let argv = b.command_line(&spec, 3, &access);
        let s = argv.join(" ");
        assert!(
            s.contains("/bin/nfwd sf run --function /sf/upper --builtin upper --connect unix:///tmp/x.sock --instance /sf/upper#3 --concurrency 4"),
            "{s}"
        );
        if b.prlimit.is_some() {
            assert!(s.contains(&format!("--as={}", 64 * 1024 * 1024)), "{s}");
            assert!(s.contains("--nofile=1024 --core=0 --nproc=256 --"), "{s}");
        }
        if b.nice.is_some() {
            assert!(s.contains("-n 5"), "{s}");
        }
    }
}

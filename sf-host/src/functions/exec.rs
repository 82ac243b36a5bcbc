//! The language-neutral route: any executable is an SF. Per request the runtime runs ARGV
//! (no shell) with the input on stdin; what it writes on stdout is the output. A non-zero exit
//! is an error (its stderr, truncated, is the message); at the timeout the child is killed.
//!
//! The child also gets `NFWD_SF_FUNCTION` (the function name), `NFWD_SF_INPUT_NAME` (the input
//! Data's name), if the input is itself a result, `NFWD_SF_INPUT_CHAIN`, and, when the request
//! names parameters (`/sf/f/k=v`, `docs/protocol.md` §5.6), `NFWD_SF_REQUESTED` (the function
//! name asked for) and `NFWD_SF_PARAMS` (a JSON object of strings: JSON, so that no byte of a
//! parameter can break the environment).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::error::{Error, Result};
use crate::sdk::{AsyncFunction, FunctionError, FunctionFuture, FunctionInfo, Input, Output};

/// How much of stderr an error Data quotes.
const STDERR_KEPT: usize = 2048;

/// Runs an executable per request.
#[derive(Debug, Clone)]
pub struct Exec {
    argv: Vec<String>,
    info: FunctionInfo,
    max_output: usize,
}

impl Exec {
    /// Wraps `argv` (non-empty) as the function `info.name`. Output beyond `max_output` bytes
    /// is an error.
    #[must_use]
    pub fn new(argv: Vec<String>, info: FunctionInfo, max_output: usize) -> Self {
        Self {
            argv,
            info,
            max_output,
        }
    }
}

/// Resolves `program` as `execvp` would when the runtime runs it: a name with a `/` is a path
/// (relative to the working directory), a bare name is looked up in `PATH` (`/bin:/usr/bin`
/// when unset), skipping what is not an executable file. Checked before anything starts, so
/// that a typo is one clear error instead of a failure at every request. The error says which
/// path was tried and why it cannot run.
pub fn resolve_program(program: &str) -> Result<PathBuf> {
    if program.is_empty() {
        return Err(Error::Spec("the program name is empty".into()));
    }
    if program.contains('/') {
        let path = PathBuf::from(program);
        return match runnable(&path) {
            Ok(()) => Ok(path),
            Err(why) => Err(Error::Spec(format!("program {program} {why}"))),
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    let mut refused = None;
    for dir in std::env::split_paths(&search) {
        // An empty entry means the working directory to execvp; a deployment should not
        // depend on where the daemon was started, so it is not searched.
        if dir.as_os_str().is_empty() {
            continue;
        }
        let candidate = dir.join(program);
        match runnable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(why) if candidate.exists() && refused.is_none() => {
                refused = Some(format!("{} {why}", candidate.display()));
            }
            Err(_) => {}
        }
    }
    Err(Error::Spec(match refused {
        Some(r) => format!("program {program:?} found in PATH but {r}"),
        None => format!(
            "program {program:?} is not in PATH ({})",
            search.to_string_lossy()
        ),
    }))
}

/// Whether this process could execute `path`: a regular file with an execute bit that applies
/// to it (any execute bit for root). ACLs and `noexec` mounts are not looked at.
fn runnable(path: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("does not exist".into());
        }
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    let mode = meta.permissions().mode();
    let ok = match crate::users::current_ids() {
        Ok((0, _)) => mode & 0o111 != 0,
        Ok((uid, gid)) => {
            let shift = if meta.uid() == uid {
                6
            } else if meta.gid() == gid {
                3
            } else {
                0
            };
            mode & (0o1 << shift) != 0
        }
        Err(_) => mode & 0o111 != 0,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "is not executable (mode {:04o}, uid {}); chmod +x it",
            mode & 0o7777,
            meta.uid()
        ))
    }
}

/// Reads `r` to its end, keeping at most `cap` bytes: the pipe is drained either way, so a
/// child writing too much ends (or times out) instead of blocking on a full pipe.
async fn drain(r: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut r) = r else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut over = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                over |= n > room;
            }
        }
    }
    (kept, over)
}

async fn run(
    argv: Vec<String>,
    function: String,
    input: Input,
    max: usize,
) -> Result<Output, FunctionError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(FunctionError::Failed("empty command".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The future is dropped at the timeout: the child must not outlive it.
        .kill_on_drop(true)
        .env("NFWD_SF_FUNCTION", function)
        .env("NFWD_SF_INPUT_NAME", input.name.to_string());
    if let Some(c) = &input.chain {
        cmd.env("NFWD_SF_INPUT_CHAIN", c.to_string());
    }
    if !input.params.is_empty() {
        let params = serde_json::to_string(&input.params).unwrap_or_default();
        cmd.env("NFWD_SF_REQUESTED", input.function.to_string())
            .env("NFWD_SF_PARAMS", params);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| FunctionError::Failed(format!("cannot run {program}: {e}")))?;
    let stdin = child.stdin.take();
    let content = input.content;
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A child that does not read its input closes the pipe early: not an error.
            let _ = stdin.write_all(&content).await;
            let _ = stdin.shutdown().await;
        }
    };
    let ((), (out, over), (err, _)) = tokio::join!(
        write,
        drain(child.stdout.take(), max),
        drain(child.stderr.take(), STDERR_KEPT)
    );
    let status = child
        .wait()
        .await
        .map_err(|e| FunctionError::Failed(format!("waiting for {program}: {e}")))?;
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        return Err(FunctionError::Failed(format!(
            "{program} exited with {status}: {}",
            err.trim()
        )));
    }
    if over {
        return Err(FunctionError::Failed(format!(
            "{program} wrote more than {max} bytes"
        )));
    }
    Ok(Output::new(out))
}

impl AsyncFunction for Exec {
    fn info(&self) -> FunctionInfo {
        self.info.clone()
    }

    fn call(&self, input: Input) -> FunctionFuture {
        Box::pin(run(
            self.argv.clone(),
            self.info.name.clone(),
            input,
            self.max_output,
        ))
    }
}

//! The language-neutral route: any executable is an SF. Per request the runtime runs ARGV
//! (no shell) with the input on stdin; what it writes on stdout is the output. A non-zero exit
//! is an error (its stderr, truncated, is the message); at the timeout the child is killed.
//!
//! The child also gets `NFWD_SF_FUNCTION` (the function name), `NFWD_SF_INPUT_NAME` (the input
//! Data's name), if the input is itself a result, `NFWD_SF_INPUT_CHAIN`, and, when the request
//! names parameters (`/sf/f/k=v`, `docs/protocol.md` §5.6), `NFWD_SF_REQUESTED` (the function
//! name asked for) and `NFWD_SF_PARAMS` (a JSON object of strings: JSON, so that no byte of a
//! parameter can break the environment).

use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

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

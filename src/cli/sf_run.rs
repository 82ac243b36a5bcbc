//! `nfwd sf run|exec|functions`: one SF instance connected to its forwarder (what the process
//! and Docker backends execute), and the list of built-ins.
//!
//! Both commands serve until SIGTERM or SIGINT (containers run them as PID 1, where SIGTERM
//! is how Docker stops them) or until the forwarder closes the connection (an error exit, so
//! a supervisor restarts the instance). Logs go to stderr, filtered by `NFWD_LOG` (default
//! `info`).

use crate::cli::output::outln;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use nfwd_sf_host::functions::{self, Exec};
use nfwd_sf_host::runtime::{self, RuntimeOptions};
use nfwd_sf_host::sdk::{FunctionInfo, Program};
use nfwd_tlv::Name;
use tracing_subscriber::EnvFilter;

/// Options shared by `run` and `exec`.
#[derive(Debug, Args)]
pub(crate) struct InstanceArgs {
    /// Forwarder to connect to (unix:///path or tcp4://host:port); default
    /// $NDN_CLIENT_TRANSPORT, then /run/nfwd/nfwd.sock, then /run/nfd/nfd.sock.
    #[arg(long)]
    connect: Option<String>,
    /// Computations running at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Longest a computation may take before the consumer gets a timeout error Data, in ms.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Instance identifier (stats, error Data, the route F/32=instance/ID); default pid-PID.
    #[arg(long)]
    instance: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Function name to register, e.g. /sf/upper (default: the built-in's own name).
    #[arg(long)]
    function: Option<String>,
    /// Built-in function to run (`nfwd sf functions` lists them).
    #[arg(long)]
    builtin: String,
    /// Configuration of the built-in, key=value (repeatable), e.g. --arg district=centro.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    args: Vec<String>,
    #[command(flatten)]
    instance: InstanceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Function name to register, e.g. /sf/wc.
    #[arg(long)]
    function: String,
    /// Media type of the input (checked before the command runs; */* accepts anything).
    #[arg(long, default_value = "*/*")]
    input_type: String,
    /// Media type of the output.
    #[arg(long, default_value = "application/octet-stream")]
    output_type: String,
    /// Version reported by the function.
    #[arg(long, default_value = "0")]
    version: String,
    /// Largest output accepted from the command, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_output: usize,
    #[command(flatten)]
    instance: InstanceArgs,
    /// The command and its arguments (run without a shell), after `--`.
    #[arg(last = true, required = true, num_args = 1..)]
    argv: Vec<String>,
}

fn options(name: Option<&str>, a: &InstanceArgs) -> anyhow::Result<RuntimeOptions> {
    let function_name = name
        .map(|n| {
            n.parse::<Name>()
                .with_context(|| format!("function name {n:?}"))
        })
        .transpose()?;
    let mut o = RuntimeOptions {
        connect: super::get::connect_uri(a.connect.as_deref()),
        function_name,
        concurrency: a.concurrency,
        timeout: Duration::from_millis(a.timeout_ms),
        ..RuntimeOptions::default()
    };
    if let Some(id) = &a.instance {
        o.instance_id.clone_from(id);
    }
    Ok(o)
}

/// Serves `program` until a termination signal or the connection's end.
fn serve(program: Program, opts: RuntimeOptions) -> anyhow::Result<()> {
    // Logs on stderr (the process backend keeps them, Docker collects them); NFWD_LOG as for
    // `nfwd start`.
    let filter = std::env::var("NFWD_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&filter).with_context(|| format!("log filter {filter:?}"))?,
        )
        .with_target(false)
        .with_ansi(super::output::colour_stderr())
        .with_writer(std::io::stderr)
        .init();
    // Two async workers are plenty: computations run on the blocking pool, and an instance
    // shares its node with the forwarder and other instances.
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut handle = runtime::start(program, opts)
            .await
            .context("starting the SF runtime")?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
            () = handle.closed() => anyhow::bail!("the forwarder closed the connection"),
        }
        Ok(())
    })
}

pub(crate) fn run(a: &RunArgs) -> anyhow::Result<()> {
    let mut args = functions::Args::new();
    for kv in &a.args {
        let (k, v) = functions::parse_arg(kv)?;
        args.insert(k, v);
    }
    let program = functions::builtin(&a.builtin, &args)?;
    serve(program, options(a.function.as_deref(), &a.instance)?)
}

pub(crate) fn exec(a: &ExecArgs) -> anyhow::Result<()> {
    // The program is looked up now, as each request will run it: a missing or non-executable
    // one is one error at start instead of a failed computation per request.
    let program = a.argv.first().map_or("", String::as_str);
    if let Err(e) = functions::resolve_program(program) {
        let why = match e {
            nfwd_sf_host::Error::Spec(m) => m,
            e => e.to_string(),
        };
        let fix = if program.contains('/') {
            "install it there or correct the path after --"
        } else {
            "install it or give its absolute path after --"
        };
        anyhow::bail!("{}: {why}; {fix}", a.function);
    }
    let info = FunctionInfo::new(&a.function, &a.version, &a.input_type, &a.output_type)
        .describe(&format!("exec {}", a.argv.join(" ")));
    let program = Program::asynchronous(Exec::new(a.argv.clone(), info, a.max_output));
    serve(program, options(Some(&a.function), &a.instance)?)
}

pub(crate) fn functions() -> anyhow::Result<()> {
    outln!(
        "{:<16} {:<20} {:<18} {:<18} {:<16} DESCRIPTION",
        "BUILTIN",
        "DEFAULT NAME",
        "INPUT",
        "OUTPUT",
        "ARGS"
    );
    for (name, info, args) in functions::list() {
        outln!(
            "{name:<16} {:<20} {:<18} {:<18} {:<16} {}",
            info.name,
            info.input_type,
            info.output_type,
            if args.is_empty() {
                "-".to_string()
            } else {
                args.join(",")
            },
            info.description
        );
    }
    Ok(())
}

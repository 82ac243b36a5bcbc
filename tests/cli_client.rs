//! `nfwd get` / `nfwd serve` end to end through the forwarder stand-in test fixture. The CLI
//! modules are included by path so that they can be tested before `src/cli/mod.rs` wires them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../forwarder/tests/support/standin.rs"]
mod standin;

#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../src/cli/output.rs"]
mod output;

/// `crate::cli::output`, where the included modules find it in the binary.
mod cli {
    pub(crate) use super::output;
}

#[allow(dead_code)]
#[path = "../src/cli/get.rs"]
mod get;

#[allow(dead_code)]
#[path = "../src/cli/serve.rs"]
mod serve;

use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
struct GetCli {
    #[command(flatten)]
    args: get::GetArgs,
}

#[derive(Debug, Parser)]
struct ServeCli {
    #[command(flatten)]
    args: serve::ServeArgs,
}

#[test]
fn serve_needs_exactly_one_source() {
    assert!(ServeCli::try_parse_from(["serve", "/p"]).is_err());
    assert!(ServeCli::try_parse_from(["serve", "/p", "--text", "a", "--file", "f"]).is_err());
    assert!(ServeCli::try_parse_from(["serve", "/p", "--text", "a"]).is_ok());
    let g = GetCli::try_parse_from(["get", "/a/b", "--chain", "/sf/F2, /sf/F1"]).unwrap();
    assert_eq!(g.args.chain.unwrap().to_string(), "/sf/F2,/sf/F1");
}

#[tokio::test]
async fn get_fetches_what_serve_publishes() {
    let fwd = standin::start().await;
    let uri = fwd.uri();
    let text = "lamp ".repeat(1000);
    let serve_cli = ServeCli::try_parse_from([
        "serve",
        "/demo",
        "--text",
        &text,
        "--segment-size",
        "1000",
        "--version",
        "5",
        "--connect",
        &uri,
    ])
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve::serve_until(&serve_cli.args, async {
            let _ = stop_rx.await;
        })
        .await
    });

    let out = std::env::temp_dir().join(format!("nfwd-cli-get-{}.out", std::process::id()));
    let get_cli = GetCli::try_parse_from([
        "get",
        "/demo",
        "--connect",
        &uri,
        "--lifetime",
        "500",
        "--output",
        out.to_str().unwrap(),
    ])
    .unwrap();
    // The server registers asynchronously: retry until the route exists.
    let mut fetched = None;
    for _ in 0..50 {
        if let Ok(r) = get::get(&get_cli.args).await {
            fetched = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (name, content) = fetched.expect("served content");
    assert_eq!(name.to_string(), "/demo/v=5");
    assert_eq!(content, text.as_bytes());

    // `run` makes its own runtime, so it runs on a plain thread.
    let runner = std::thread::spawn(move || get::run(&get_cli.args));
    tokio::task::spawn_blocking(move || runner.join().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), text.as_bytes());
    let _ = std::fs::remove_file(&out);

    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

//! The ledger of skipped tests: each test that cannot run here appends `test: why` to
//! `$NFWD_SKIPPED_LOG` (set by `scripts/test.sh`, which lists them at the end — the test
//! harness hides what passing tests print). Shared by every crate's tests (`#[path]`).

/// Notes a skipped test, if a ledger is kept.
pub(crate) fn record_skip(test: &str, why: &str) {
    use std::io::Write as _;
    if let Some(path) = std::env::var_os("NFWD_SKIPPED_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
    {
        let _ = writeln!(f, "{test}: {}", why.replace('\n', " "));
    }
}

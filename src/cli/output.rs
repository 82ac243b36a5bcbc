//! Command output on stdout. Once its reader has gone (`nfwd sf stats | head`) output goes
//! quiet instead of `println!`'s panic, and the command finishes what it does besides printing
//! (files written, testbeds taken down); the binary cannot restore SIGPIPE's default action
//! without `unsafe`, and the daemon must not die of it anyway.

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write met a closed pipe: nothing is written after it.
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `bytes` to stdout and flushes; does nothing once the reader has gone.
pub(crate) fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    if READER_GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            READER_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// `print!` through [`write_stdout`]; any other write error is reported on stderr and ends
/// the command with status 1, as a failed write to a full disk should.
pub(crate) fn print(args: std::fmt::Arguments<'_>) {
    if let Err(e) = write_stdout(args.to_string().as_bytes()) {
        eprintln!("Error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// Text from the network (an SF's error message, a peer's name) made safe for a terminal:
/// control characters are shown escaped, so a hostile peer cannot move the cursor, clear the
/// screen or retitle the window of whoever reads the output.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether logs on stderr get ANSI colours: only on a terminal (a file or a pipe would keep
/// the escape codes as text) and never when `NO_COLOR` is set to anything but "" (the
/// convention of no-color.org).
pub(crate) fn colour_stderr() -> bool {
    use std::io::IsTerminal as _;
    colour(
        io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

/// `println!` that goes quiet on a closed pipe ([`print`]).
macro_rules! outln {
    () => { $crate::cli::output::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that goes quiet on a closed pipe ([`print`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::print(format_args!($($arg)*)) };
}

pub(crate) use {out, outln};

/// Runs `work`; once it has taken `after`, draws `line(elapsed)` on stderr as one line, redrawn
/// every 200 ms and erased at the end. For progress on a terminal: the caller decides whether
/// stderr is one.
pub(crate) async fn with_status_line<T>(
    work: impl Future<Output = T>,
    after: std::time::Duration,
    mut line: impl FnMut(std::time::Duration) -> String,
) -> T {
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
    let mut drawn = false;
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tick.tick() => {
                let elapsed = started.elapsed();
                if elapsed >= after {
                    let mut err = io::stderr().lock();
                    let _ = write!(err, "\r\x1b[K{}", line(elapsed));
                    let _ = err.flush();
                    drawn = true;
                }
            }
        }
    };
    if drawn {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::{colour, printable};

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new(""))));
    }

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(printable("plain: ok, ü"), "plain: ok, ü");
        assert_eq!(printable("a\x1b[2Jb\rc\x07"), "a\\u{1b}[2Jb\\rc\\u{7}");
        assert_eq!(printable("two\nlines"), "two\nlines");
    }
}

//! Commands (`ip`, `tc`, `nft`, `docker`), processes, and link shaping inside a node's named
//! network namespace — the same for every placement (`crate::placement`).

use std::process::Command;

use crate::error::{Error, Result};
use crate::model::Link;

/// Runs `program args...`; returns its stdout, or its stderr as the error.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let command = || format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error::Command {
            command: command(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            command: command(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// `ip args...`.
pub fn ip(args: &[&str]) -> Result<String> {
    run("ip", args)
}

/// True if this process runs as root (namespaces, veth pairs and qdiscs need it).
#[must_use]
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Sends `signal` to `pid`; a process already gone is not an error.
pub fn signal(pid: i32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// True while `pid` runs (a zombie has finished: whoever started it has not reaped it yet).
#[must_use]
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        // The state follows the command name in parentheses, which may hold spaces.
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Ends a helper process the launcher started (the delay line, the watcher): SIGTERM, up to
/// two seconds, then SIGKILL. `marker` is an argument its command line must hold, so a pid
/// that a gone helper left and another program reused is left alone.
pub fn stop_helper(pid: u32, marker: &str) {
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !cmdline
        .split(|&b| b == 0)
        .any(|arg| arg == marker.as_bytes())
    {
        return;
    }
    signal(pid, rustix::process::Signal::TERM);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while alive(pid) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    signal(pid, rustix::process::Signal::KILL);
}

/// What the kernel (and the launcher) can do to shape links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shaper {
    /// `sch_netem` is there: delay, loss and rate in one qdisc.
    pub netem: bool,
    /// Without netem, delay comes from the userspace delay line ([`crate::linkemu`]), which
    /// namespace testbeds have; rate is `tbf`'s and loss an `nft` rule's either way.
    pub delay_line: bool,
    /// Go on with no delay where neither netem nor a delay line can give it.
    pub best_effort: bool,
}

impl Shaper {
    /// Probes for netem on the loopback of namespace `ns` (left as it was); `delay_line` says
    /// whether the placement can carry delayed links through [`crate::linkemu`] instead.
    #[must_use]
    pub fn probe(ns: &str, delay_line: bool, best_effort: bool) -> Self {
        let netem = run(
            "tc",
            &["-n", ns, "qdisc", "add", "dev", "lo", "root", "netem"],
        )
        .is_ok();
        if netem {
            let _ = run("tc", &["-n", ns, "qdisc", "del", "dev", "lo", "root"]);
        }
        Self {
            netem,
            delay_line: delay_line && !netem,
            best_effort,
        }
    }

    /// True if links asking for delay are carried by the userspace delay line.
    #[must_use]
    pub fn delays_in_userspace(&self, link: &Link) -> bool {
        self.delay_line && link.delay_ms > 0.0
    }

    /// How links are shaped, in words, for the testbed's state.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.netem {
            "netem".into()
        } else if self.delay_line {
            "no netem in this kernel: delay by the userspace delay line, rate with tbf, loss \
             with nft"
                .into()
        } else {
            "best effort: no netem in this kernel, so no delay; rate with tbf, loss with nft".into()
        }
    }

    /// Refuses links this kernel cannot shape as asked, unless best effort was chosen.
    pub fn check(&self, links: &[Link]) -> Result<()> {
        if self.netem || self.delay_line || self.best_effort {
            return Ok(());
        }
        if let Some(l) = links.iter().find(|l| l.delay_ms > 0.0) {
            return Err(Error::Unsupported(format!(
                "link {} - {} asks for delay, and this kernel has no netem qdisc \
                 (sch_netem: `modprobe sch_netem`, or a kernel built with it) while this \
                 placement has no userspace delay line (namespace testbeds have one). Rerun \
                 with --best-effort-shaping to go on with bandwidth (tbf) and loss (nft) but \
                 no delay",
                l.a, l.b
            )));
        }
        Ok(())
    }

    /// Shapes the egress of `dev` in `ns` as `link` says; returns what was applied, in words.
    pub fn apply(&self, ns: &str, dev: &str, link: &Link) -> Result<String> {
        if !link.is_shaped() {
            return Ok("unshaped".into());
        }
        let rate = link
            .bandwidth_mbit
            .map(|m| format!("{}kbit", (m * 1000.0).round()));
        if self.netem {
            let mut args: Vec<String> = ["-n", ns, "qdisc", "add", "dev", dev, "root", "netem"]
                .map(String::from)
                .to_vec();
            // netem holds delayed packets in its own queue: make it as long as a second of
            // the link's traffic, not netem's default of 1000 packets.
            args.extend(["limit".into(), "10000".into()]);
            if link.delay_ms > 0.0 {
                args.extend([
                    "delay".into(),
                    format!("{}us", (link.delay_ms * 1000.0).round()),
                ]);
                // netem draws each packet's delay within delay ± jitter and, unlike the
                // delay line, lets packets overtake one another.
                if link.jitter_ms > 0.0 {
                    args.push(format!("{}us", (link.jitter_ms * 1000.0).round()));
                }
            }
            if link.loss_percent > 0.0 {
                args.extend(["loss".into(), format!("{}%", link.loss_percent)]);
            }
            if let Some(r) = &rate {
                args.extend(["rate".into(), r.clone()]);
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run("tc", &refs)?;
            return Ok(describe(link, Delay::Netem));
        }
        if let Some(r) = &rate {
            // A burst of at least one full-size NDN packet, and ~50 ms of queue.
            run(
                "tc",
                &[
                    "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", r, "burst",
                    "32kb", "latency", "50ms",
                ],
            )?;
        }
        if link.loss_percent > 0.0 {
            nft_in(ns, &loss_rules(dev, link.loss_percent))?;
        }
        Ok(describe(
            link,
            if self.delays_in_userspace(link) {
                Delay::Userspace
            } else {
                Delay::None
            },
        ))
    }
}

/// An nft ruleset dropping `percent` % of what leaves by `dev` (a table per interface, so
/// links of one node do not share rules).
fn loss_rules(dev: &str, percent: f64) -> String {
    let per_million = (percent * 10_000.0).round();
    // numgen's values are 0..=999999: 100% is a plain drop.
    let sample = if per_million >= 1_000_000.0 {
        String::new()
    } else {
        format!("numgen random mod 1000000 < {per_million} ")
    };
    // The table made (if absent) and deleted before it is defined: loading the rules again
    // (a delay line's tap made anew) replaces them rather than adding a second drop.
    format!(
        "table inet nfwd_topo_{dev}\ndelete table inet nfwd_topo_{dev}\n\
         table inet nfwd_topo_{dev} {{\n  chain out {{\n    type filter hook output priority 0;\n    \
         oifname \"{dev}\" {sample}drop\n  }}\n}}\n"
    )
}

/// Loads an nft ruleset inside namespace `ns`.
fn nft_in(ns: &str, rules: &str) -> Result<()> {
    use std::io::Write as _;
    let command = format!("ip netns exec {ns} nft -f -");
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(rules.as_bytes())
            .map_err(|e| Error::Command {
                command: command.clone(),
                detail: e.to_string(),
            })?;
    }
    let out = child.wait_with_output().map_err(|e| Error::Command {
        command: command.clone(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// What gives a link its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delay {
    Netem,
    Userspace,
    None,
}

/// The shaping of a link in words, as applied.
fn describe(link: &Link, delay: Delay) -> String {
    let mut parts = Vec::new();
    if link.delay_ms > 0.0 {
        let jitter = if link.jitter_ms > 0.0 {
            format!(" ± {} ms", link.jitter_ms)
        } else {
            String::new()
        };
        parts.push(match delay {
            Delay::Netem if jitter.is_empty() => format!("{} ms", link.delay_ms),
            Delay::Netem => format!("{} ms{jitter} (netem: may reorder)", link.delay_ms),
            Delay::Userspace if jitter.is_empty() => {
                format!("{} ms (userspace delay line)", link.delay_ms)
            }
            Delay::Userspace => format!(
                "{} ms{jitter} (userspace delay line, in order)",
                link.delay_ms
            ),
            Delay::None => format!("no delay (asked {} ms{jitter}; no netem)", link.delay_ms),
        });
    }
    if link.loss_percent > 0.0 {
        parts.push(format!("{}% loss", link.loss_percent));
    }
    if let Some(b) = link.bandwidth_mbit {
        parts.push(format!("{b} Mbit/s"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shaping_in_words_shows_the_jitter() {
        let link = Link {
            a: "a".into(),
            b: "b".into(),
            protocol: crate::model::FaceProtocol::Udp,
            delay_ms: 10.0,
            jitter_ms: 2.5,
            loss_percent: 0.0,
            bandwidth_mbit: None,
            cost: 1,
        };
        assert_eq!(
            describe(&link, Delay::Userspace),
            "10 ms ± 2.5 ms (userspace delay line, in order)"
        );
        assert_eq!(
            describe(&link, Delay::Netem),
            "10 ms ± 2.5 ms (netem: may reorder)"
        );
        let steady = Link {
            jitter_ms: 0.0,
            ..link
        };
        assert_eq!(describe(&steady, Delay::Netem), "10 ms");
    }

    #[test]
    fn loss_rules_sample_below_100_percent_and_drop_all_at_100() {
        assert!(
            loss_rules("l3", 0.5).contains("oifname \"l3\" numgen random mod 1000000 < 5000 drop")
        );
        assert!(loss_rules("l3", 100.0).contains("oifname \"l3\" drop"));
    }
}

//! The built-in SFs (`nfwd sf run --builtin NAME`, listed by `nfwd sf functions`), and the
//! exec route that makes any executable an SF (`nfwd sf exec -- ARGV...`).
//!
//! | built-in | input | output | does |
//! |---|---|---|---|
//! | `identity` | any | same | returns its input (measures the cost of a hop) |
//! | `upper`, `reverse` | text | text | upper-cases / reverses characters |
//! | `gzip`, `gunzip` | any / gzip | gzip / any | compresses / decompresses |
//! | `parking-filter` | JSON readings | JSON readings | keeps valid readings, of one district with `district=` |
//! | `parking-count` | JSON readings | JSON counts | free / total spaces per district |
//! | `parking-format` | JSON counts | text | a report for humans |
//! | `grayscale`, `thumbnail` | PNG | PNG | converts to gray / fits in `size=` pixels |
//! | `work` | any | same | keeps a core busy `ms=` milliseconds (a task of known cost) |

mod exec;
mod media;
mod parking;
mod text;
mod work;

use std::collections::BTreeMap;

pub use exec::{Exec, resolve_program};

use crate::error::{Error, Result};
use crate::sdk::{Function, FunctionError, FunctionInfo, Input, Output, Program};

/// Configuration arguments of a built-in (`--arg k=v`).
pub type Args = BTreeMap<String, String>;

struct Entry {
    name: &'static str,
    info: fn() -> FunctionInfo,
    make: fn(&Args) -> Result<Program>,
    /// The arguments it understands.
    args: &'static [&'static str],
}

const TABLE: &[Entry] = &[
    Entry {
        name: "identity",
        info: text::identity_info,
        make: |_| Ok(Program::blocking(text::Identity)),
        args: &[],
    },
    Entry {
        name: "upper",
        info: text::upper_info,
        make: |_| Ok(Program::blocking(text::Upper)),
        args: &[],
    },
    Entry {
        name: "reverse",
        info: text::reverse_info,
        make: |_| Ok(Program::blocking(text::Reverse)),
        args: &[],
    },
    Entry {
        name: "gzip",
        info: text::gzip_info,
        make: |a| Ok(Program::blocking(text::Gzip::from_args(a)?)),
        args: &["level"],
    },
    Entry {
        name: "gunzip",
        info: text::gunzip_info,
        make: |a| Ok(Program::blocking(text::Gunzip::from_args(a)?)),
        args: &["max_bytes"],
    },
    Entry {
        name: "parking-filter",
        info: parking::filter_info,
        make: |a| Ok(Program::blocking(parking::Filter::from_args(a))),
        args: &["district", "free"],
    },
    Entry {
        name: "parking-count",
        info: parking::count_info,
        make: |_| Ok(Program::blocking(parking::Count)),
        args: &[],
    },
    Entry {
        name: "parking-format",
        info: parking::format_info,
        make: |_| Ok(Program::blocking(parking::Format)),
        args: &[],
    },
    Entry {
        name: "grayscale",
        info: media::grayscale_info,
        make: |_| Ok(Program::blocking(media::Grayscale)),
        args: &[],
    },
    Entry {
        name: "thumbnail",
        info: media::thumbnail_info,
        make: |a| Ok(Program::blocking(media::Thumbnail::from_args(a)?)),
        args: &["size"],
    },
    Entry {
        name: "work",
        info: work::work_info,
        make: |a| Ok(Program::blocking(work::Work::from_args(a)?)),
        args: &["ms", "id"],
    },
];

/// What every built-in declares, in table order.
#[must_use]
pub fn list() -> Vec<(&'static str, FunctionInfo, &'static [&'static str])> {
    TABLE.iter().map(|e| (e.name, (e.info)(), e.args)).collect()
}

/// The built-in `name` configured with `args`. Unknown names and arguments are errors, so a
/// typo in a deployment fails at start rather than silently doing something else.
pub fn builtin(name: &str, args: &Args) -> Result<Program> {
    let e = TABLE
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| Error::NotFound(unknown_builtin(name)))?;
    if let Some(k) = args.keys().find(|k| !e.args.contains(&k.as_str())) {
        return Err(Error::Spec(format!(
            "built-in {name} has no argument {k:?} (it takes: {})",
            if e.args.is_empty() {
                "none".to_string()
            } else {
                e.args.join(", ")
            }
        )));
    }
    let program = (e.make)(args)?;
    if e.args.is_empty() {
        return Ok(program);
    }
    Ok(Program::blocking(Parameterised {
        entry: e,
        args: args.clone(),
        default: program,
    }))
}

/// Whether `name` is a built-in.
#[must_use]
pub fn is_builtin(name: &str) -> bool {
    TABLE.iter().any(|e| e.name == name)
}

/// What to say about a built-in name that is not one: the known names, and the closest one
/// when a typo is likely (`uppper` → `upper`).
#[must_use]
pub fn unknown_builtin(name: &str) -> String {
    let names: Vec<&str> = TABLE.iter().map(|e| e.name).collect();
    let closest = names
        .iter()
        .map(|n| (edit_distance(name, n), *n))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, n)| format!(" (did you mean {n:?}?)"))
        .unwrap_or_default();
    format!(
        "no built-in function {name:?}{closest}; the built-ins are {} (`nfwd sf functions`)",
        names.join(", ")
    )
}

/// Levenshtein distance by characters (names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A built-in whose arguments a request may override with parameters in the function name
/// (`/sf/thumbnail/size=64`, `docs/protocol.md` §5.6): the deployment's arguments are the
/// defaults, each request's parameters replace them for that request only.
struct Parameterised {
    entry: &'static Entry,
    args: Args,
    default: Program,
}

impl Function for Parameterised {
    fn info(&self) -> FunctionInfo {
        self.default.info()
    }

    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        if input.params.is_empty() {
            return match &self.default {
                Program::Blocking(f) => f.apply(input),
                Program::Async(_) => Err(FunctionError::Failed("not a blocking built-in".into())),
            };
        }
        let e = self.entry;
        if let Some(k) = input.params.keys().find(|k| !e.args.contains(&k.as_str())) {
            return Err(FunctionError::Rejected(format!(
                "{} takes no parameter {k:?} (it takes: {})",
                input.function,
                e.args.join(", ")
            )));
        }
        let mut args = self.args.clone();
        args.extend(input.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        match (e.make)(&args) {
            Ok(Program::Blocking(f)) => f.apply(input),
            Ok(Program::Async(_)) => Err(FunctionError::Failed("not a blocking built-in".into())),
            Err(err) => Err(FunctionError::Rejected(format!(
                "parameters of {}: {err}",
                input.function
            ))),
        }
    }
}

/// Parses `k=v` into a pair.
pub fn parse_arg(s: &str) -> Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| Error::Spec(format!("argument {s:?} is not key=value")))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

fn parse_num<T: std::str::FromStr>(args: &Args, key: &str, default: T) -> Result<T> {
    match args.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| Error::Spec(format!("argument {key}={v:?} is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_made_and_checks_its_args() {
        for (name, info, _) in list() {
            assert!(builtin(name, &Args::new()).is_ok(), "{name}");
            assert!(info.name.starts_with("/sf/"), "{name}");
        }
        let bad: Args = [("colour".to_string(), "red".to_string())].into();
        assert!(builtin("upper", &bad).is_err());
        assert!(builtin("nope", &Args::new()).is_err());
        let e = unknown_builtin("uppper");
        assert!(
            e.contains("did you mean \"upper\"") && e.contains("identity"),
            "{e}"
        );
        assert!(!unknown_builtin("zzzzzzzz").contains("did you mean"));
        assert_eq!(edit_distance("uppper", "upper"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(parse_arg("district=centro").unwrap().1, "centro");
    }
}

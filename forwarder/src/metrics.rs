//! Counters that people and machines can read.
//!
//! Every counter struct is declared through `counters!`, which keeps each field's doc comment
//! as its help text and generates `visit(&self, f)` over (name, help, value), so a counter
//! added to a struct is one field and shows up everywhere by itself. `status/counters` carries
//! them in the Prometheus text exposition format (version 0.0.4), written by [`Exposition`]
//! and read back by [`parse`] (`nfwd status --counters`, the flood benchmark).
//!
//! Names are `nfwd_<group>_<field>`, with `_total` after counters (Prometheus' convention);
//! groups have no underscore, so [`split_name`] recovers the group and the field. Per-face
//! samples carry the labels `face` (the id) and `remote` (the remote URI).
//!
//! [`parse`] reads what a forwarder sent — possibly a hostile one, reached with `--connect`:
//! it never panics and allocates in proportion to its input. It reads what [`Exposition`]
//! writes (non-negative integer values, an optional timestamp, which is ignored), not every
//! Prometheus dialect.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::Error;

/// Declares a struct of `u64` counters and its `visit`: each field's doc comment is its help
/// text. The struct's own attributes (derives, docs) are kept as written.
///
/// ```ignore
/// counters! {
///     #[derive(Debug, Clone, Copy, Default)]
///     pub struct Counters {
///         /// Interests received.
///         pub in_interests: u64,
///     }
/// }
/// ```
macro_rules! counters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $fvis:vis $field:ident: u64,
            )*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                $fvis $field: u64,
            )*
        }

        impl $name {
            /// Calls `f` with every counter's name (the field's), help text (its doc comment)
            /// and value, in declaration order.
            $vis fn visit(&self, f: &mut impl FnMut(&'static str, &'static str, u64)) {
                $( f(stringify!($field), concat!($($doc),*).trim(), self.$field); )*
            }

            /// Every counter as a [`Counter`](crate::metrics::Counter), in declaration order.
            // Not every struct's list is used (the driver's is, to hand it to the core).
            #[allow(dead_code)]
            #[must_use]
            $vis fn list(&self) -> Vec<$crate::metrics::Counter> {
                let mut v = Vec::new();
                self.visit(&mut |name, help, value| {
                    v.push($crate::metrics::Counter { name, help, value });
                });
                v
            }
        }
    };
}

pub(crate) use counters;

/// One counter with its name and help text, as a counter struct's `list` gives it (what the
/// driver hands the core for `status/counters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// The field's name.
    pub name: &'static str,
    /// The field's doc comment.
    pub help: &'static str,
    /// Its value.
    pub value: u64,
}

/// What a metric is: a count that only grows, a level that goes up and down, or (read from
/// elsewhere) not said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (until the daemon restarts).
    Counter,
    /// Goes up and down (table sizes).
    Gauge,
    /// No `# TYPE` line, or Prometheus' `untyped`.
    Untyped,
}

impl Kind {
    /// The word in a `# TYPE` line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Untyped => "untyped",
        }
    }
}

/// One metric family being written.
#[derive(Debug)]
struct Written {
    name: String,
    help: String,
    kind: Kind,
    /// Labels already rendered (`{a="b"}` or empty) and the value.
    samples: Vec<(String, u64)>,
}

/// A Prometheus text exposition under construction. The format wants every sample of a family
/// together under one `# HELP` and `# TYPE`; samples may be added in any order (face by face),
/// and families come out in the order first added.
#[derive(Debug, Default)]
pub struct Exposition {
    families: Vec<Written>,
    index: HashMap<String, usize>,
}

impl Exposition {
    /// An empty exposition.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample of `nfwd_<group>_<name>` (`_total` appended for a counter). `group` and
    /// `name` are the program's own identifiers (ASCII letters, digits, `_`; no `_` in a
    /// group); label values may be anything and are escaped.
    pub fn add(
        &mut self,
        group: &str,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        value: u64,
    ) {
        debug_assert!(!group.contains('_') && is_metric_name(group) && is_metric_name(name));
        let suffix = if kind == Kind::Counter { "_total" } else { "" };
        let family = format!("nfwd_{group}_{name}{suffix}");
        let i = match self.index.get(&family) {
            Some(&i) => i,
            None => {
                self.families.push(Written {
                    name: family.clone(),
                    help: help.to_owned(),
                    kind,
                    samples: Vec::new(),
                });
                self.index.insert(family, self.families.len() - 1);
                self.families.len() - 1
            }
        };
        let mut rendered = String::new();
        if !labels.is_empty() {
            rendered.push('{');
            for (k, (label, value)) in labels.iter().enumerate() {
                if k > 0 {
                    rendered.push(',');
                }
                let _ = write!(rendered, "{label}=\"");
                escape_into(&mut rendered, value, true);
                rendered.push('"');
            }
            rendered.push('}');
        }
        if let Some(f) = self.families.get_mut(i) {
            f.samples.push((rendered, value));
        }
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.families {
            let _ = write!(s, "# HELP {} ", f.name);
            escape_into(&mut s, &f.help, false);
            let _ = writeln!(s, "\n# TYPE {} {}", f.name, f.kind.as_str());
            for (labels, value) in &f.samples {
                let _ = writeln!(s, "{}{labels} {value}", f.name);
            }
        }
        s
    }
}

/// Escapes as the format asks: `\` and newline in help texts, and `"` too in label values.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_label_name(s: &str) -> bool {
    is_metric_name(s) && !s.contains(':')
}

/// A metric family read back by [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Its name (`nfwd_forwarder_in_interests_total`).
    pub name: String,
    /// Its help text, unescaped (empty if none was given).
    pub help: String,
    /// Its type.
    pub kind: Kind,
    /// Its samples, in the order read.
    pub samples: Vec<Sample>,
}

/// One sample of a [`Family`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Label names and values (unescaped), in the order read.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: u64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    #[must_use]
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The group and field of an `nfwd_<group>_<field>[_total]` family (`_total` dropped from a
/// counter): `("forwarder", "in_interests")`. `None` for any other name.
#[must_use]
pub fn split_name(family: &Family) -> Option<(&str, &str)> {
    let rest = family.name.strip_prefix("nfwd_")?;
    let (group, field) = rest.split_once('_')?;
    let field = match family.kind {
        Kind::Counter => field.strip_suffix("_total").unwrap_or(field),
        Kind::Gauge | Kind::Untyped => field,
    };
    (!group.is_empty() && !field.is_empty()).then_some((group, field))
}

fn bad(line: usize, reason: &'static str) -> Error {
    Error::Metrics { line, reason }
}

/// Reads a text exposition: families in the order first named, each with its samples. A
/// sample belongs to the family of its exact name (this reader does not fold histogram or
/// summary series). Errors name the line (from 1) and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<Family>, Error> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut family_of = |name: &str, families: &mut Vec<Family>| -> usize {
        if let Some(&i) = index.get(name) {
            return i;
        }
        families.push(Family {
            name: name.to_owned(),
            help: String::new(),
            kind: Kind::Untyped,
            samples: Vec::new(),
        });
        index.insert(name.to_owned(), families.len() - 1);
        families.len() - 1
    };
    // Lines end at '\n' alone, as the format says: `lines()` would also take a '\r' off the
    // end of a help text.
    for (n, line) in text.split('\n').enumerate() {
        let n = n + 1;
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            if let Some(rest) = comment.strip_prefix("HELP ") {
                let rest = rest.trim_start();
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                if !is_metric_name(name) {
                    return Err(bad(n, "HELP of an invalid metric name"));
                }
                let help = unescape(help, false).ok_or_else(|| bad(n, "bad escape in HELP"))?;
                let i = family_of(name, &mut families);
                if let Some(f) = families.get_mut(i) {
                    f.help = help;
                }
            } else if let Some(rest) = comment.strip_prefix("TYPE ") {
                let mut words = rest.split_whitespace();
                let (Some(name), Some(kind), None) = (words.next(), words.next(), words.next())
                else {
                    return Err(bad(n, "TYPE needs a name and a type"));
                };
                if !is_metric_name(name) {
                    return Err(bad(n, "TYPE of an invalid metric name"));
                }
                let kind = match kind {
                    "counter" => Kind::Counter,
                    "gauge" => Kind::Gauge,
                    "untyped" => Kind::Untyped,
                    _ => return Err(bad(n, "unsupported metric type")),
                };
                let i = family_of(name, &mut families);
                if let Some(f) = families.get_mut(i) {
                    f.kind = kind;
                }
            }
            // Any other comment is a comment.
            continue;
        }
        let (name, labels, rest) = sample_line(line).map_err(|reason| bad(n, reason))?;
        let mut values = rest.split_whitespace();
        let value = values
            .next()
            .ok_or_else(|| bad(n, "sample without a value"))?
            .parse::<u64>()
            .map_err(|_| bad(n, "value is not a non-negative integer"))?;
        if let Some(ts) = values.next()
            && ts.parse::<i64>().is_err()
        {
            return Err(bad(n, "timestamp is not an integer"));
        }
        if values.next().is_some() {
            return Err(bad(n, "text after the timestamp"));
        }
        let i = family_of(name, &mut families);
        if let Some(f) = families.get_mut(i) {
            f.samples.push(Sample { labels, value });
        }
    }
    Ok(families)
}

type Labels = Vec<(String, String)>;

/// Splits a sample line into its name, its labels and what follows them.
fn sample_line(line: &str) -> Result<(&str, Labels, &str), &'static str> {
    let end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(end);
    if !is_metric_name(name) {
        return Err("invalid metric name");
    }
    let mut labels = Labels::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("label without '='")?;
            let (label, after) = rest.split_at(eq);
            let label = label.trim_end();
            if !is_label_name(label) {
                return Err("invalid label name");
            }
            if labels.iter().any(|(k, _)| k == label) {
                return Err("label given twice");
            }
            let after = after
                .get(1..)
                .map(str::trim_start)
                .and_then(|a| a.strip_prefix('"'))
                .ok_or("label value not quoted")?;
            let close = closing_quote(after).ok_or("label value not closed")?;
            let (raw, after) = after.split_at(close);
            let value = unescape(raw, true).ok_or("bad escape in a label value")?;
            labels.push((label.to_owned(), value));
            // Past the closing quote, then a comma or the end of the labels.
            rest = after.get(1..).unwrap_or("").trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err("labels not separated by ','");
            }
        }
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err("no space before the value");
    }
    Ok((name, labels, rest))
}

/// The byte offset of the `"` that ends a quoted value (escapes skipped).
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(i),
            (false, _) => {}
        }
    }
    None
}

/// Undoes [`escape_into`]; `None` for an escape the format does not have.
fn unescape(s: &str, quote: bool) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            '"' if quote => out.push('"'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    counters! {
        /// Two counters, for the tests.
        #[derive(Debug, Default)]
        struct Pair {
            /// Things that came in.
            in_things: u64,
            /// Things that went out, over
            /// two lines of help.
            out_things: u64,
        }
    }

    fn written() -> String {
        let pair = Pair {
            in_things: 3,
            out_things: u64::MAX,
        };
        let mut e = Exposition::new();
        pair.visit(&mut |name, help, v| e.add("pair", name, help, Kind::Counter, &[], v));
        e.add("tables", "pit_entries", "PIT entries.", Kind::Gauge, &[], 7);
        for (face, remote) in [("1", "udp4://1.2.3.4:6363"), ("2", "x\"\\\ny")] {
            let labels = [("face", face), ("remote", remote)];
            pair.visit(&mut |name, help, v| e.add("face", name, help, Kind::Counter, &labels, v));
        }
        e.render()
    }

    #[test]
    fn visit_names_every_field_with_its_doc_comment() {
        let mut seen = Vec::new();
        Pair {
            in_things: 1,
            out_things: 2,
        }
        .visit(&mut |n, h, v| seen.push((n, h, v)));
        let listed: Vec<_> = Pair {
            in_things: 1,
            out_things: 2,
        }
        .list()
        .into_iter()
        .map(|c| (c.name, c.help, c.value))
        .collect();
        assert_eq!(listed, seen);
        assert_eq!(
            seen,
            [
                ("in_things", "Things that came in.", 1),
                (
                    "out_things",
                    "Things that went out, over two lines of help.",
                    2
                )
            ]
        );
    }

    #[test]
    fn families_are_written_together_with_help_and_type() {
        let text = written();
        assert!(text.starts_with(
            "# HELP nfwd_pair_in_things_total Things that came in.\n\
             # TYPE nfwd_pair_in_things_total counter\n\
             nfwd_pair_in_things_total 3\n"
        ));
        assert!(text.contains("# TYPE nfwd_tables_pit_entries gauge\nnfwd_tables_pit_entries 7\n"));
        assert!(text.contains(
            "# TYPE nfwd_face_in_things_total counter\n\
             nfwd_face_in_things_total{face=\"1\",remote=\"udp4://1.2.3.4:6363\"} 3\n\
             nfwd_face_in_things_total{face=\"2\",remote=\"x\\\"\\\\\\ny\"} 3\n"
        ));
        assert_eq!(text.matches("# HELP nfwd_face_out_things_total").count(), 1);
    }

    #[test]
    fn what_is_written_is_read_back() {
        let families = parse(&written()).unwrap();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "nfwd_pair_in_things_total",
                "nfwd_pair_out_things_total",
                "nfwd_tables_pit_entries",
                "nfwd_face_in_things_total",
                "nfwd_face_out_things_total"
            ]
        );
        let out = &families[1];
        assert_eq!(out.kind, Kind::Counter);
        assert_eq!(out.help, "Things that went out, over two lines of help.");
        assert_eq!(out.samples[0].value, u64::MAX);
        assert_eq!(split_name(out), Some(("pair", "out_things")));
        assert_eq!(families[2].kind, Kind::Gauge);
        assert_eq!(split_name(&families[2]), Some(("tables", "pit_entries")));
        let face = &families[4];
        assert_eq!(face.samples.len(), 2);
        assert_eq!(face.samples[0].label("remote"), Some("udp4://1.2.3.4:6363"));
        // Quote, backslash and newline survive the round trip.
        assert_eq!(face.samples[1].label("remote"), Some("x\"\\\ny"));
        assert_eq!(face.samples[1].label("face"), Some("2"));
    }

    #[test]
    fn help_is_escaped_and_read_back() {
        let mut e = Exposition::new();
        e.add("g", "x", "a \\ b\nc \"q\"", Kind::Gauge, &[], 1);
        e.add("g", "y", "  spaced, then a CR\r", Kind::Gauge, &[], 1);
        let text = e.render();
        assert!(
            text.starts_with("# HELP nfwd_g_x a \\\\ b\\nc \"q\"\n"),
            "{text}"
        );
        let families = parse(&text).unwrap();
        assert_eq!(families[0].help, "a \\ b\nc \"q\"");
        assert_eq!(families[1].help, "  spaced, then a CR\r");
    }

    #[test]
    fn other_writers_text_is_read() {
        let text =
            "# a comment\n\nup 1\n# TYPE x untyped\nx{ a = \"1\" , b=\"\" ,} 2 1700000000000\n";
        let f = parse(text).unwrap();
        assert_eq!(f[0].name, "up");
        assert_eq!(
            f[1].samples[0].labels,
            [("a".into(), "1".into()), ("b".into(), String::new())]
        );
        assert_eq!(f[1].samples[0].value, 2);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line() {
        for (text, line) in [
            ("ok 1\nbad", 2),
            ("x{a=\"1\"} 1.5", 1),
            ("x{a=\"1\"} -1", 1),
            ("x{a=\"1} 1", 1),
            ("x{a=1} 1", 1),
            ("x{a=\"1\",a=\"2\"} 1", 1),
            ("x{a=\"\\q\"} 1", 1),
            ("x{a=\"1\" b=\"2\"} 1", 1),
            ("x{9=\"1\"} 1", 1),
            ("x 1 2 3", 1),
            ("x 1 t", 1),
            ("9x 1", 1),
            ("x{a=\"1\"}1", 1),
            ("# TYPE x histogram", 1),
            ("# TYPE x", 1),
            ("# HELP 9 x", 1),
        ] {
            match parse(text) {
                Err(Error::Metrics { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    /// Hostile text never panics: every prefix of a valid exposition, every single-byte
    /// change of it, and some arbitrary bytes.
    #[test]
    fn hostile_text_never_panics() {
        let text = written();
        for end in 0..=text.len() {
            if let Some(prefix) = text.get(..end) {
                let _ = parse(prefix);
            }
        }
        let bytes = text.as_bytes();
        let specials = [
            b'{', b'}', b'"', b'\\', b'=', b',', b' ', b'\n', b'#', 0xff, 0xc3,
        ];
        for i in 0..bytes.len() {
            for &b in &specials {
                let mut changed = bytes.to_vec();
                changed[i] = b;
                let _ = parse(&String::from_utf8_lossy(&changed));
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let mut junk = Vec::new();
            for _ in 0..(seed % 64) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                junk.push(specials[(seed % specials.len() as u64) as usize]);
                junk.push(b"ax1_ \"{}"[(seed >> 8) as usize % 8]);
            }
            let _ = parse(&String::from_utf8_lossy(&junk));
        }
    }
}

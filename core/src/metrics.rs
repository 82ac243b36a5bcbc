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
//! Latencies are [`LatencyHistogram`]s, written as Prometheus histograms in seconds
//! (`nfwd_<group>_<name>_seconds_bucket{le=…}`, `_sum`, `_count`) and read back folded into
//! one [`HistogramSeries`] per label set.
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
#[macro_export]
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

            /// Adds `other`'s counts to these (the shards of a sharded forwarder, summed).
            #[allow(dead_code)]
            $vis fn add(&mut self, other: &Self) {
                $( self.$field = self.$field.saturating_add(other.$field); )*
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

pub use crate::counters;

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
    /// Observations counted into buckets (`_bucket`, `_sum`, `_count` series).
    Histogram,
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
            Self::Histogram => "histogram",
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
    /// Sample lines without the family name: an optional suffix (`_bucket`), the labels
    /// (`{a="b"}` or nothing), a space and the value.
    lines: Vec<String>,
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
        let i = self.family(format!("nfwd_{group}_{name}{suffix}"), help, kind);
        let line = format!("{}{value}", render_labels("", labels, None));
        if let Some(f) = self.families.get_mut(i) {
            f.lines.push(line);
        }
    }

    /// Adds histogram `h` as `nfwd_<group>_<name>_seconds` (buckets, sum and count), with
    /// `labels` on every series.
    pub fn add_histogram(
        &mut self,
        group: &str,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        h: &LatencyHistogram,
    ) {
        debug_assert!(!group.contains('_') && is_metric_name(group) && is_metric_name(name));
        let i = self.family(
            format!("nfwd_{group}_{name}_seconds"),
            help,
            Kind::Histogram,
        );
        let Some(f) = self.families.get_mut(i) else {
            return;
        };
        let mut cumulative = 0;
        for (k, &n) in h.buckets.iter().enumerate() {
            cumulative += n;
            let le = LATENCY_BOUNDS_US
                .get(k)
                .map_or_else(|| "+Inf".to_owned(), |&us| seconds(us));
            f.lines.push(format!(
                "{}{cumulative}",
                render_labels("_bucket", labels, Some(&le))
            ));
        }
        f.lines.push(format!(
            "{}{}",
            render_labels("_sum", labels, None),
            seconds(h.sum_us)
        ));
        f.lines.push(format!(
            "{}{}",
            render_labels("_count", labels, None),
            h.count
        ));
    }

    /// The index of family `name`, added (with `help` and `kind`) if new.
    fn family(&mut self, name: String, help: &str, kind: Kind) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        self.families.push(Written {
            name: name.clone(),
            help: help.to_owned(),
            kind,
            lines: Vec::new(),
        });
        self.index.insert(name, self.families.len() - 1);
        self.families.len() - 1
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.families {
            let _ = write!(s, "# HELP {} ", f.name);
            escape_into(&mut s, &f.help, false);
            let _ = writeln!(s, "\n# TYPE {} {}", f.name, f.kind.as_str());
            for line in &f.lines {
                let _ = writeln!(s, "{}{line}", f.name);
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

/// `suffix`, then `labels` (and `le` last, if given) in braces, then a space: a sample line
/// up to its value.
fn render_labels(suffix: &str, labels: &[(&str, &str)], le: Option<&str>) -> String {
    let mut out = String::from(suffix);
    let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
    for (k, (label, value)) in all.enumerate() {
        out.push(if k == 0 { '{' } else { ',' });
        let _ = write!(out, "{label}=\"");
        escape_into(&mut out, value, true);
        out.push('"');
    }
    if !labels.is_empty() || le.is_some() {
        out.push('}');
    }
    out.push(' ');
    out
}

/// Microseconds as decimal seconds, exactly (`1500` → `0.0015`).
fn seconds(us: u64) -> String {
    let (whole, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Upper bounds of the latency buckets, µs: 50 µs to 10 s in 1–2.5–5 steps, so that a
/// function hop on this host and a round trip across a wide-area link both fall in buckets
/// of useful width. A last, unbounded bucket (`+Inf`) follows.
pub const LATENCY_BOUNDS_US: [u64; 18] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
];

/// Latencies counted into [`LATENCY_BOUNDS_US`] buckets: a fixed size, and a few additions
/// and one short search per observation, so it can sit on the packet path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [u64; LATENCY_BOUNDS_US.len() + 1],
    /// Sum of the observations, µs (saturating).
    sum_us: u64,
    /// Observations.
    count: u64,
}

impl LatencyHistogram {
    /// Counts one latency.
    pub fn observe(&mut self, latency: std::time::Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let k = LATENCY_BOUNDS_US.partition_point(|&bound| bound < us);
        if let Some(b) = self.buckets.get_mut(k) {
            *b += 1;
        }
        self.sum_us = self.sum_us.saturating_add(us);
        self.count += 1;
    }

    /// Observations counted.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The histogram `series` was written from, if it has this type's buckets (as every
    /// nfwd's do): to add up histograms read back (an SF's instances' faces).
    #[must_use]
    pub fn from_series(series: &HistogramSeries) -> Option<Self> {
        if series.buckets.len() != LATENCY_BOUNDS_US.len() + 1 {
            return None;
        }
        let mut h = Self::default();
        let mut below = 0u64;
        for (k, &(bound, cumulative)) in series.buckets.iter().enumerate() {
            let expected = LATENCY_BOUNDS_US.get(k).map_or(f64::INFINITY, |&us| {
                #[expect(clippy::cast_precision_loss, reason = "bounds below 2^53 µs")]
                let s = us as f64 / 1e6;
                s
            });
            // Equal infinities subtract to NaN, which is not above the tolerance.
            if (bound - expected).abs() > 1e-12 {
                return None;
            }
            *h.buckets.get_mut(k)? = cumulative.checked_sub(below)?;
            below = cumulative;
        }
        h.count = series.count;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a non-negative sum of seconds, saturating"
        )]
        {
            h.sum_us = (series.sum.max(0.0) * 1e6).round() as u64;
        }
        Some(h)
    }

    /// Adds `other`'s observations to these.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.count += other.count;
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
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Its name (`nfwd_forwarder_in_interests_total`).
    pub name: String,
    /// Its help text, unescaped (empty if none was given).
    pub help: String,
    /// Its type.
    pub kind: Kind,
    /// Its samples, in the order read (none for a histogram).
    pub samples: Vec<Sample>,
    /// A histogram's series, one per label set, in the order first read.
    pub histograms: Vec<HistogramSeries>,
}

/// One label set of a histogram family, its `_bucket`, `_sum` and `_count` samples folded.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSeries {
    /// Its labels, `le` excepted.
    pub labels: Vec<(String, String)>,
    /// Upper bounds (seconds; `f64::INFINITY` for `+Inf`) and cumulative counts, in the
    /// order read.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations, seconds.
    pub sum: f64,
    /// Observations.
    pub count: u64,
}

impl HistogramSeries {
    /// The value of label `name`, if the series has it.
    #[must_use]
    pub fn label(&self, name: &str) -> Option<&str> {
        label_value(&self.labels, name)
    }

    /// Mean observation, seconds (`None` without observations).
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        #[expect(clippy::cast_precision_loss, reason = "a mean for people to read")]
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The `q` quantile (0–1), seconds, interpolated within its bucket as Prometheus'
    /// `histogram_quantile` does; the highest finite bound if it falls in `+Inf`. `None`
    /// without observations.
    #[must_use]
    #[expect(clippy::cast_precision_loss, reason = "an estimate for people to read")]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last().map(|&(_, n)| n)?;
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let (mut lower, mut below) = (0.0, 0u64);
        for &(bound, n) in &self.buckets {
            if n as f64 >= rank && n > below {
                if bound.is_infinite() {
                    return Some(lower);
                }
                let within = (rank - below as f64) / (n - below) as f64;
                return Some(lower + (bound - lower) * within);
            }
            if bound.is_finite() {
                lower = bound;
            }
            below = n;
        }
        Some(lower)
    }
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
        label_value(&self.labels, name)
    }
}

fn label_value<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The group and field of an `nfwd_<group>_<field>[_total]` family (`_total` dropped from a
/// counter): `("forwarder", "in_interests")`. `None` for any other name.
#[must_use]
pub fn split_name(family: &Family) -> Option<(&str, &str)> {
    let rest = family.name.strip_prefix("nfwd_")?;
    let (group, field) = rest.split_once('_')?;
    let field = match family.kind {
        Kind::Counter => field.strip_suffix("_total").unwrap_or(field),
        Kind::Gauge | Kind::Histogram | Kind::Untyped => field,
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
    // (family, labels) → its series: a hostile text with many label sets stays linear.
    let mut series_index: HashMap<(usize, Labels), usize> = HashMap::new();
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
                let i = family_of(name, &mut families, &mut index);
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
                    "histogram" => Kind::Histogram,
                    "untyped" => Kind::Untyped,
                    _ => return Err(bad(n, "unsupported metric type")),
                };
                let i = family_of(name, &mut families, &mut index);
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
            .ok_or_else(|| bad(n, "sample without a value"))?;
        if let Some(ts) = values.next()
            && ts.parse::<i64>().is_err()
        {
            return Err(bad(n, "timestamp is not an integer"));
        }
        if values.next().is_some() {
            return Err(bad(n, "text after the timestamp"));
        }
        if let Some((base, part)) = histogram_part(name, &index, &families) {
            let series = fold_histogram(part, labels, value).map_err(|r| bad(n, r))?;
            let i = family_of(base, &mut families, &mut index);
            if let Some(f) = families.get_mut(i) {
                merge_series(&mut f.histograms, &mut series_index, i, series);
            }
            continue;
        }
        let value = value
            .parse::<u64>()
            .map_err(|_| bad(n, "value is not a non-negative integer"))?;
        let i = family_of(name, &mut families, &mut index);
        if let Some(f) = families.get_mut(i) {
            f.samples.push(Sample { labels, value });
        }
    }
    Ok(families)
}

type Labels = Vec<(String, String)>;

/// The index of family `name`, added (untyped, no help) if new.
fn family_of(name: &str, families: &mut Vec<Family>, index: &mut HashMap<String, usize>) -> usize {
    if let Some(&i) = index.get(name) {
        return i;
    }
    families.push(Family {
        name: name.to_owned(),
        help: String::new(),
        kind: Kind::Untyped,
        samples: Vec::new(),
        histograms: Vec::new(),
    });
    index.insert(name.to_owned(), families.len() - 1);
    families.len() - 1
}

/// Which series of a histogram a sample is.
#[derive(Debug, Clone, Copy)]
enum Part {
    Bucket,
    Sum,
    Count,
}

/// The histogram family (already declared by `# TYPE … histogram`) that sample `name`
/// belongs to, and which of its series it is.
fn histogram_part<'a>(
    name: &'a str,
    index: &HashMap<String, usize>,
    families: &[Family],
) -> Option<(&'a str, Part)> {
    let (base, part) = [
        ("_bucket", Part::Bucket),
        ("_sum", Part::Sum),
        ("_count", Part::Count),
    ]
    .into_iter()
    .find_map(|(suffix, part)| Some((name.strip_suffix(suffix)?, part)))?;
    let i = *index.get(base)?;
    (families.get(i)?.kind == Kind::Histogram).then_some((base, part))
}

/// One histogram sample as a series of its own (merged into the family's by
/// [`merge_series`]).
fn fold_histogram(
    part: Part,
    mut labels: Labels,
    value: &str,
) -> Result<HistogramSeries, &'static str> {
    let count = || {
        value
            .parse::<u64>()
            .map_err(|_| "histogram count is not a non-negative integer")
    };
    let mut series = HistogramSeries {
        labels: Vec::new(),
        buckets: Vec::new(),
        sum: 0.0,
        count: 0,
    };
    match part {
        Part::Bucket => {
            let at = labels
                .iter()
                .position(|(k, _)| k == "le")
                .ok_or("histogram bucket without an le label")?;
            let (_, le) = labels.remove(at);
            let bound = match le.as_str() {
                "+Inf" => f64::INFINITY,
                le => le
                    .parse::<f64>()
                    .ok()
                    .filter(|b| b.is_finite())
                    .ok_or("histogram bucket bound is not a number")?,
            };
            series.buckets.push((bound, count()?));
        }
        Part::Sum => {
            series.sum = value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or("histogram sum is not a number")?;
        }
        Part::Count => series.count = count()?,
    }
    series.labels = labels;
    Ok(series)
}

/// Merges one sample's `series` into family `family`'s series of the same labels (found
/// through `index`, not by a scan).
fn merge_series(
    all: &mut Vec<HistogramSeries>,
    index: &mut HashMap<(usize, Labels), usize>,
    family: usize,
    series: HistogramSeries,
) {
    let key = (family, series.labels.clone());
    match index.get(&key).and_then(|&k| all.get_mut(k)) {
        Some(s) => {
            s.buckets.extend(series.buckets);
            s.sum += series.sum;
            s.count += series.count;
        }
        None => {
            index.insert(key, all.len());
            all.push(series);
        }
    }
}

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
    fn histograms_are_written_in_seconds_and_read_back_folded() {
        use std::time::Duration;
        let mut h = LatencyHistogram::default();
        for us in [40, 50, 51, 700, 700, 2_000, 40_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let mut e = Exposition::new();
        e.add_histogram("face", "rtt", "Round trips.", &[("face", "7")], &h);
        e.add_histogram(
            "face",
            "rtt",
            "Round trips.",
            &[("face", "8")],
            &LatencyHistogram::default(),
        );
        let text = e.render();
        assert!(
            text.starts_with(
                "# HELP nfwd_face_rtt_seconds Round trips.\n\
             # TYPE nfwd_face_rtt_seconds histogram\n\
             nfwd_face_rtt_seconds_bucket{face=\"7\",le=\"0.00005\"} 2\n\
             nfwd_face_rtt_seconds_bucket{face=\"7\",le=\"0.0001\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("nfwd_face_rtt_seconds_bucket{face=\"7\",le=\"0.001\"} 5\n"));
        assert!(text.contains("nfwd_face_rtt_seconds_bucket{face=\"7\",le=\"30\"} 6\n"));
        assert!(text.contains("nfwd_face_rtt_seconds_bucket{face=\"7\",le=\"+Inf\"} 7\n"));
        assert!(text.contains("nfwd_face_rtt_seconds_sum{face=\"7\"} 40.003541\n"));
        assert!(text.contains("nfwd_face_rtt_seconds_count{face=\"7\"} 7\n"));

        let families = parse(&text).unwrap();
        assert_eq!(families.len(), 1);
        let f = &families[0];
        assert_eq!(
            (f.kind, f.samples.len(), f.histograms.len()),
            (Kind::Histogram, 0, 2)
        );
        assert_eq!(split_name(f), Some(("face", "rtt_seconds")));
        let s = &f.histograms[0];
        assert_eq!(s.label("face"), Some("7"));
        assert_eq!(s.label("le"), None);
        assert_eq!(s.buckets.len(), LATENCY_BOUNDS_US.len() + 1);
        assert_eq!(s.buckets[0], (0.000_05, 2));
        assert_eq!(s.count, 7);
        assert!((s.sum - 40.003_541).abs() < 1e-9);
        // Rank 3.5 of 7 falls in (0.5 ms, 1 ms], which holds ranks 4 and 5.
        let p50 = s.quantile(0.5).unwrap();
        assert!(p50 > 0.0005 && p50 <= 0.001, "{p50}");
        // The top observation is past every bound: the highest finite one is reported.
        assert_eq!(s.quantile(1.0), Some(30.0));
        assert_eq!(LatencyHistogram::from_series(s), Some(h));
        assert_eq!(f.histograms[1].quantile(0.5), None);
        assert_eq!(f.histograms[1].mean(), None);
    }

    #[test]
    fn a_histogram_merges_and_saturates() {
        use std::time::Duration;
        let mut a = LatencyHistogram::default();
        a.observe(Duration::from_secs(u64::MAX));
        let mut b = LatencyHistogram::default();
        b.observe(Duration::from_micros(1));
        b.merge(&a);
        assert_eq!(b.count(), 2);
        assert_eq!(b.sum_us, u64::MAX);
        assert_eq!(b.buckets[0], 1);
        assert_eq!(b.buckets[LATENCY_BOUNDS_US.len()], 1);
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
            ("# TYPE x summary", 1),
            ("# TYPE x histogram\nx_bucket 1", 2),
            ("# TYPE x histogram\nx_bucket{le=\"a\"} 1", 2),
            ("# TYPE x histogram\nx_sum NaN", 2),
            ("# TYPE x histogram\nx_count 1.5", 2),
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
        let mut h = LatencyHistogram::default();
        h.observe(std::time::Duration::from_micros(700));
        let mut e = Exposition::new();
        e.add_histogram("x", "rtt", "h", &[("a", "1")], &h);
        let text = written() + &e.render();
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

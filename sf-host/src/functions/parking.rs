//! IoT-style SFs after the seed's ThingVisors: parking sensor readings (JSON) → filter →
//! count free spaces per district → a text report.
//!
//! A reading is `{"id":"s1","district":"centro","free":true,"ts":1700000000}` (`ts`
//! optional, seconds or ms, only compared). Input of filter and count: a JSON array of them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::Args;
use crate::sdk::{Function, FunctionError, FunctionInfo, Input, Output};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reading {
    id: String,
    district: String,
    free: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
}

/// Counts of one district (or of all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Spaces {
    free: u64,
    total: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counts {
    districts: BTreeMap<String, Spaces>,
    all: Spaces,
}

fn json_array(input: &Input) -> Result<Vec<serde_json::Value>, FunctionError> {
    serde_json::from_slice(&input.content)
        .map_err(|e| FunctionError::Rejected(format!("input is not a JSON array: {e}")))
}

fn to_json<T: Serialize>(v: &T) -> Result<Output, FunctionError> {
    serde_json::to_vec(v)
        .map(Output::new)
        .map_err(|e| FunctionError::Failed(e.to_string()))
}

pub(super) fn filter_info() -> FunctionInfo {
    FunctionInfo::new(
        "/sf/parking-filter",
        "1",
        "application/json",
        "application/json",
    )
    .describe(
        "keeps well-formed readings; district=NAME keeps that district, free=true|false that state",
    )
}

/// Keeps the well-formed readings (sensors send garbage too), optionally of one district and
/// one state.
#[derive(Debug)]
pub(super) struct Filter {
    district: Option<String>,
    free: Option<bool>,
}

impl Filter {
    pub(super) fn from_args(args: &Args) -> Self {
        Self {
            district: args.get("district").cloned(),
            free: args.get("free").map(|v| v == "true"),
        }
    }
}

impl Function for Filter {
    fn info(&self) -> FunctionInfo {
        filter_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let kept: Vec<Reading> = json_array(&input)?
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Reading>(v).ok())
            .filter(|r| self.district.as_ref().is_none_or(|d| *d == r.district))
            .filter(|r| self.free.is_none_or(|f| f == r.free))
            .collect();
        to_json(&kept)
    }
}

pub(super) fn count_info() -> FunctionInfo {
    FunctionInfo::new(
        "/sf/parking-count",
        "1",
        "application/json",
        "application/json",
    )
    .describe("free and total spaces per district, latest reading per sensor")
}

/// Aggregates readings: per district, how many spaces are free out of how many sensed. A
/// sensor reporting several times counts once, with its latest reading.
#[derive(Debug)]
pub(super) struct Count;

impl Function for Count {
    fn info(&self) -> FunctionInfo {
        count_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let mut latest: BTreeMap<String, Reading> = BTreeMap::new();
        for v in json_array(&input)? {
            let r: Reading = serde_json::from_value(v)
                .map_err(|e| FunctionError::Rejected(format!("not a reading: {e}")))?;
            match latest.get(&r.id) {
                Some(old) if old.ts >= r.ts => {}
                _ => {
                    latest.insert(r.id.clone(), r);
                }
            }
        }
        let mut c = Counts::default();
        for r in latest.values() {
            let d = c.districts.entry(r.district.clone()).or_default();
            d.total += 1;
            c.all.total += 1;
            if r.free {
                d.free += 1;
                c.all.free += 1;
            }
        }
        to_json(&c)
    }
}

pub(super) fn format_info() -> FunctionInfo {
    FunctionInfo::new("/sf/parking-format", "1", "application/json", "text/plain")
        .describe("a text report of parking-count's output")
}

/// Formats counts for humans.
#[derive(Debug)]
pub(super) struct Format;

impl Function for Format {
    fn info(&self) -> FunctionInfo {
        format_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let c: Counts = serde_json::from_slice(&input.content)
            .map_err(|e| FunctionError::Rejected(format!("not parking counts: {e}")))?;
        let mut s = String::from("Free parking spaces\n");
        for (d, n) in &c.districts {
            let _ = writeln!(s, "  {d:<16} {:>5} of {:>5}", n.free, n.total);
        }
        let _ = writeln!(s, "  {:<16} {:>5} of {:>5}", "all", c.all.free, c.all.total);
        Ok(Output::new(s))
    }
}

#[cfg(test)]
mod tests {

    use bytes::Bytes;

    use super::*;

    fn input(s: &str) -> Input {
        Input::new(Bytes::from(s.to_string()), nfwd_tlv::Name::default())
    }

    const READINGS: &str = r#"[
        {"id":"s1","district":"centro","free":true,"ts":1},
        {"id":"s2","district":"centro","free":false,"ts":1},
        {"id":"s1","district":"centro","free":false,"ts":2},
        {"id":"s3","district":"porto","free":true},
        {"garbage":1}
    ]"#;

    #[test]
    fn filter_count_format() {
        let f = Filter::from_args(&[("district".into(), "centro".into())].into());
        let kept = f.apply(input(READINGS)).unwrap().content;
        let kept: Vec<Reading> = serde_json::from_slice(&kept).unwrap();
        assert_eq!(kept.len(), 3);
        let all = Filter::from_args(&Args::new())
            .apply(input(READINGS))
            .unwrap();
        let counts = Count
            .apply(Input {
                content: all.content,
                ..input("")
            })
            .unwrap();
        let c: Counts = serde_json::from_slice(&counts.content).unwrap();
        // s1's latest reading (ts 2) is occupied: only s3 is free.
        assert_eq!(c.all, Spaces { free: 1, total: 3 });
        assert_eq!(c.districts["centro"], Spaces { free: 0, total: 2 });
        let text = Format
            .apply(Input {
                content: counts.content,
                ..input("")
            })
            .unwrap();
        let text = String::from_utf8(text.content.to_vec()).unwrap();
        assert!(text.contains("porto"), "{text}");
        assert_eq!(
            Filter::from_args(&Args::new())
                .apply(input("{"))
                .unwrap_err()
                .kind(),
            "rejected"
        );
    }
}

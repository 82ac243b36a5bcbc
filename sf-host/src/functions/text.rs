//! Text and byte transforms: identity, upper, reverse, gzip, gunzip.

use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{Args, parse_num};
use crate::error::{Error, Result};
use crate::sdk::{Function, FunctionError, FunctionInfo, Input, Output};

fn text(input: &Input) -> Result<&str, FunctionError> {
    std::str::from_utf8(&input.content)
        .map_err(|e| FunctionError::Rejected(format!("input is not UTF-8 text: {e}")))
}

pub(super) fn identity_info() -> FunctionInfo {
    FunctionInfo::new("/sf/identity", "1", "*/*", "*/*")
        .describe("returns its input unchanged (the cost of one function hop)")
}

/// Returns its input.
#[derive(Debug)]
pub(super) struct Identity;

impl Function for Identity {
    fn info(&self) -> FunctionInfo {
        identity_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        Ok(Output::new(input.content))
    }
    fn is_trivial(&self) -> bool {
        true
    }
}

pub(super) fn upper_info() -> FunctionInfo {
    FunctionInfo::new("/sf/upper", "1", "text/plain", "text/plain")
        .describe("upper-cases text (Unicode)")
}

/// Upper-cases text.
#[derive(Debug)]
pub(super) struct Upper;

impl Function for Upper {
    fn info(&self) -> FunctionInfo {
        upper_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        Ok(Output::new(text(&input)?.to_uppercase()))
    }
}

pub(super) fn reverse_info() -> FunctionInfo {
    FunctionInfo::new("/sf/reverse", "1", "text/plain", "text/plain")
        .describe("reverses text, character by character")
}

/// Reverses text by characters (never splits a UTF-8 sequence).
#[derive(Debug)]
pub(super) struct Reverse;

impl Function for Reverse {
    fn info(&self) -> FunctionInfo {
        reverse_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        Ok(Output::new(text(&input)?.chars().rev().collect::<String>()))
    }
}

pub(super) fn gzip_info() -> FunctionInfo {
    FunctionInfo::new("/sf/gzip", "1", "*/*", "application/gzip")
        .describe("compresses with gzip (level=0..9, default 6)")
}

/// Compresses with gzip.
#[derive(Debug)]
pub(super) struct Gzip {
    level: u32,
}

impl Gzip {
    pub(super) fn from_args(args: &Args) -> Result<Self> {
        let level = parse_num(args, "level", 6u32)?;
        if level > 9 {
            return Err(Error::Spec("gzip level is 0..9".into()));
        }
        Ok(Self { level })
    }
}

impl Function for Gzip {
    fn info(&self) -> FunctionInfo {
        gzip_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(self.level));
        enc.write_all(&input.content)
            .and_then(|()| enc.finish())
            .map(Output::new)
            .map_err(|e| FunctionError::Failed(format!("gzip: {e}")))
    }
}

pub(super) fn gunzip_info() -> FunctionInfo {
    FunctionInfo::new(
        "/sf/gunzip",
        "1",
        "application/gzip",
        "application/octet-stream",
    )
    .describe("decompresses gzip (max_bytes bounds the output, default 64 MiB)")
}

/// Decompresses gzip, refusing outputs beyond a bound (a small input may expand hugely).
#[derive(Debug)]
pub(super) struct Gunzip {
    max_bytes: u64,
}

impl Gunzip {
    pub(super) fn from_args(args: &Args) -> Result<Self> {
        Ok(Self {
            max_bytes: parse_num(args, "max_bytes", 64u64 << 20)?,
        })
    }
}

impl Function for Gunzip {
    fn info(&self) -> FunctionInfo {
        gunzip_info()
    }
    fn apply(&self, input: Input) -> Result<Output, FunctionError> {
        let mut out = Vec::new();
        GzDecoder::new(&input.content[..])
            .take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| FunctionError::Rejected(format!("not valid gzip: {e}")))?;
        if out.len() as u64 > self.max_bytes {
            return Err(FunctionError::Failed(format!(
                "decompressed output exceeds {} bytes",
                self.max_bytes
            )));
        }
        Ok(Output::new(out))
    }
}

#[cfg(test)]
mod tests {

    use bytes::Bytes;

    use super::*;

    fn input(b: &'static [u8]) -> Input {
        Input::new(Bytes::from_static(b), nfwd_tlv::Name::default())
    }

    #[test]
    fn text_functions() {
        assert_eq!(Upper.apply(input("añb".as_bytes())).unwrap().content, "AÑB");
        assert_eq!(
            Reverse.apply(input("añb".as_bytes())).unwrap().content,
            "bña"
        );
        assert_eq!(Upper.apply(input(&[0xff])).unwrap_err().kind(), "rejected");
    }

    #[test]
    fn gzip_round_trips_and_gunzip_rejects_garbage() {
        let g = Gzip::from_args(&Args::new()).unwrap();
        let z = g.apply(input(b"hello hello hello")).unwrap().content;
        let u = Gunzip::from_args(&Args::new()).unwrap();
        let back = u
            .apply(Input {
                content: z,
                ..input(b"")
            })
            .unwrap();
        assert_eq!(back.content, "hello hello hello");
        assert_eq!(u.apply(input(b"plain")).unwrap_err().kind(), "rejected");
        let small = Gunzip { max_bytes: 3 };
        let z = g.apply(input(b"hello")).unwrap().content;
        let e = small
            .apply(Input {
                content: z,
                ..input(b"")
            })
            .unwrap_err();
        assert_eq!(e.kind(), "failed");
    }
}

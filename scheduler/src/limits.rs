//! Input-size limits: a file past them is refused with an error naming the limit, before any
//! table sized by it is allocated. They are far above every shipped example and WfCommons
//! trace, and keep the dense tables (a cost matrix's tasks × processors, PEFT's tasks × distinct
//! speeds) under ~800 MB.

use std::io::Read as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Largest input file read (TOML or WfFormat JSON), bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Most tasks in a workflow.
pub const MAX_TASKS: usize = 200_000;
/// Most edges in a workflow.
pub const MAX_EDGES: usize = 2_000_000;
/// Most input files in a workflow.
pub const MAX_FILES: usize = 1_000_000;
/// Most hosts (processors, for a cost matrix).
pub const MAX_HOSTS: usize = 20_000;
/// Most networks (the network-pair table is dense).
pub const MAX_NETWORKS: usize = 2_000;
/// Most vCPUs over all hosts.
pub const MAX_VCPUS: usize = 100_000;
/// Most cells of one dense table (8 bytes each: 100 M cells are 800 MB).
pub const MAX_TABLE_CELLS: usize = 100_000_000;

/// Fails with [`Error::TooLarge`] when `found > limit`.
pub(crate) fn check_count(what: &str, found: usize, limit: usize) -> Result<()> {
    if found > limit {
        Err(Error::TooLarge {
            what: what.to_owned(),
            found: found as u64,
            limit: limit as u64,
        })
    } else {
        Ok(())
    }
}

/// Reads a UTF-8 input file, refusing one larger than [`MAX_FILE_BYTES`] without reading it
/// all (the size is checked while reading, so a growing file or a pipe cannot get past it).
pub fn read_input(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let too_large = |found: u64| Error::TooLarge {
        what: format!("bytes in {}", path.display()),
        found,
        limit: MAX_FILE_BYTES,
    };
    if let Ok(meta) = file.metadata()
        && meta.len() > MAX_FILE_BYTES
    {
        return Err(too_large(meta.len()));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

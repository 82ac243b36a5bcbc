//! Memory of the content store per cached Data (issue 11: at most 400 bytes per cached
//! 100-byte Data beyond its wire size, with 1,000,000 entries):
//!
//! ```text
//! cargo run --release -p nfwd-benches --bin cs_memory [entries] [--max-beyond-wire BYTES]
//! ```
//!
//! Fills a `ContentStore` of `entries` (default 1,000,000) with distinct 100-byte Data named
//! like segmented objects (`/edu/ucla/cs/camera/obj/<n>/seg=<k>`, a quarter of them function
//! results with a one-function chain), each arriving as the core sees it: an exactly sized
//! copy of the wire, decoded. It reports the heap bytes the store holds per entry, counted by
//! a global allocator that keeps the live total of requested bytes (deterministic: allocator
//! headers and fragmentation are not in it), and, as a cross-check that includes them, the
//! growth of the resident set. With `--max-beyond-wire`, it fails (exit 1) if the counted bytes
//! beyond the wire size exceed the bound.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use nfwd_forwarder::core::cs::ContentStore;
use nfwd_forwarder::core::keys::{chain_hash, combine};
use nfwd_tlv::{Data, DataBuilder, FunctionChain, Name, NameHasher, Signer};

/// System's allocator, keeping the total of live requested bytes.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// The only way to count allocations is to be the global allocator, which is an unsafe trait;
// every call is forwarded to `System` unchanged, so its contract is System's.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; the caller got `ptr` from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller got `ptr` from this allocator with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Content size of every Data (the issue's figure).
const PAYLOAD: usize = 100;

/// Segments per object in the names.
const SEGMENTS: usize = 10;

/// Resident set size in bytes, from /proc (Linux); None elsewhere.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The `i`th Data as it reaches the store: built, then copied to its exact size and decoded
/// (what the core does with a received frame).
fn arriving_data(i: usize, chain: &FunctionChain, content: &Bytes) -> Result<Data, String> {
    let name: Name = format!(
        "/edu/ucla/cs/camera/obj/{}/seg={}",
        i / SEGMENTS,
        i % SEGMENTS
    )
    .parse()
    .map_err(|e| format!("name {i}: {e}"))?;
    let built = DataBuilder::new(name, content.clone())
        .function_chain((i % 4 == 3).then(|| chain.clone()))
        .freshness_ms(10_000)
        .build(&Signer::digest_sha256())
        .map_err(|e| format!("Data {i}: {e}"))?;
    Data::decode(Bytes::copy_from_slice(built.wire())).map_err(|e| format!("decode {i}: {e}"))
}

struct Args {
    entries: usize,
    max_beyond_wire: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        entries: 1_000_000,
        max_beyond_wire: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--max-beyond-wire" {
            let v = it.next().ok_or("--max-beyond-wire needs a number")?;
            args.max_beyond_wire = Some(v.parse().map_err(|e| format!("{v:?}: {e}"))?);
        } else {
            args.entries = a.parse().map_err(|e| format!("entries {a:?}: {e}"))?;
        }
    }
    if args.entries == 0 {
        return Err("entries must be positive".into());
    }
    Ok(args)
}

fn run(args: &Args) -> Result<bool, String> {
    let hasher = NameHasher::new();
    let chain: FunctionChain = "/sf/F1".parse().map_err(|e| format!("chain: {e}"))?;
    let content = Bytes::from(vec![0x5a; PAYLOAD]);
    let now = Instant::now();
    let mut cs = ContentStore::new(args.entries);

    let live_before = LIVE_BYTES.load(Ordering::Relaxed);
    let rss_before = resident_bytes();
    let mut wire_bytes = 0usize;
    for i in 0..args.entries {
        let data = arriving_data(i, &chain, &content)?;
        wire_bytes += data.wire().len();
        let hash = combine(
            data.name().full_hash(&hasher),
            chain_hash(&hasher, data.function_chain()),
        );
        cs.insert(&data, hash, now);
    }
    let live = LIVE_BYTES.load(Ordering::Relaxed) - live_before;
    let rss = resident_bytes()
        .zip(rss_before)
        .map(|(after, before)| after.saturating_sub(before));
    if cs.len() != args.entries {
        return Err(format!("the store holds {} of {}", cs.len(), args.entries));
    }

    let n = args.entries as f64;
    let beyond_wire = (live - wire_bytes) as f64 / n;
    println!("entries                 {}", args.entries);
    println!("wire bytes/entry        {:.1}", wire_bytes as f64 / n);
    println!("heap bytes/entry        {:.1}", live as f64 / n);
    println!("beyond wire bytes/entry {beyond_wire:.1}");
    if let Some(rss) = rss {
        println!(
            "resident growth/entry   {:.1} (beyond wire {:.1})",
            rss as f64 / n,
            (rss as f64 - wire_bytes as f64) / n
        );
    }
    drop(cs);
    Ok(match args.max_beyond_wire {
        Some(max) if beyond_wire > max as f64 => {
            eprintln!("{beyond_wire:.1} bytes beyond the wire size per entry > {max}");
            false
        }
        _ => true,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: cs_memory [entries] [--max-beyond-wire BYTES]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

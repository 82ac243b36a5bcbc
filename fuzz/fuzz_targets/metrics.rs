//! The `status/counters` exposition (`nfwd_core::metrics`): parsing any text never
//! panics, and any text as a label value or help text is read back as written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfwd_core::metrics::{self, Exposition, Kind};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let _ = metrics::parse(&text);
    let mut e = Exposition::new();
    e.add(
        "fuzz",
        "value",
        &text,
        Kind::Counter,
        &[("label", &text)],
        7,
    );
    let families = metrics::parse(&e.render()).expect("what is written parses");
    assert_eq!(families.len(), 1);
    assert_eq!(families[0].help, text);
    assert_eq!(families[0].samples.len(), 1);
    assert_eq!(families[0].samples[0].label("label"), Some(&*text));
    assert_eq!(families[0].samples[0].value, 7);
});

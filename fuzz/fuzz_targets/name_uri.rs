//! Name URI parsing: never panics; printing a parsed name and parsing it again is stable, and
//! binary names survive a text round trip.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::{FunctionChain, Name};

fuzz_target!(|input: &[u8]| {
    if let Ok(text) = std::str::from_utf8(input) {
        if let Ok(name) = text.parse::<Name>() {
            let printed = name.to_string();
            let back: Name = printed.parse().expect("printed name parses");
            assert_eq!(back, name);
        }
        let _ = text.parse::<FunctionChain>();
    }
    if let Ok(name) = Name::from_value(Bytes::copy_from_slice(input)) {
        let back: Name = name.to_string().parse().expect("printed name parses");
        assert_eq!(back, name);
    }
});

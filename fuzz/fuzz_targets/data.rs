//! Data decoding: never panics; re-encoding a decoded Data gives back the same fields.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::Data;

fuzz_target!(|input: &[u8]| {
    let Ok(data) = Data::decode(Bytes::copy_from_slice(input)) else {
        return;
    };
    let again = Data::decode(data.reencode()).expect("re-encoding decodes");
    assert_eq!(again.name(), data.name());
    assert_eq!(again.function_chain(), data.function_chain());
    assert_eq!(again.content(), data.content());
    assert_eq!(again.meta_info(), data.meta_info());
    let _ = data.signature_info();
});

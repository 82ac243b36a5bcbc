//! NFD status datasets: decoding any content never panics, and decoded entries re-encode to
//! content that decodes to the same entries.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::nfd::{
    CsInfo, DatasetEntry, FaceStatus, FibEntry, ForwarderStatus, RibEntry, StrategyChoice,
    decode_all, encode_all,
};

fn round_trip<T: DatasetEntry + PartialEq + std::fmt::Debug>(content: &Bytes) {
    if let Ok(entries) = decode_all::<T>(content) {
        let again = decode_all::<T>(&encode_all(&entries)).expect("re-encoding decodes");
        assert_eq!(again, entries);
    }
}

fuzz_target!(|input: &[u8]| {
    let content = Bytes::copy_from_slice(input);
    round_trip::<FaceStatus>(&content);
    round_trip::<FibEntry>(&content);
    round_trip::<RibEntry>(&content);
    round_trip::<CsInfo>(&content);
    round_trip::<StrategyChoice>(&content);
    if let Ok(status) = ForwarderStatus::decode(&content) {
        let again = ForwarderStatus::decode(&status.to_wire()).expect("re-encoding decodes");
        assert_eq!(again, status);
    }
});

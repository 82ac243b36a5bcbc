//! NDNLPv2 decoding: never panics; a decoded LpPacket re-encodes to one that decodes equal.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::lp::LpPacket;

fuzz_target!(|input: &[u8]| {
    let Ok(packet) = LpPacket::decode(Bytes::copy_from_slice(input)) else {
        return;
    };
    let again = LpPacket::decode(packet.encode()).expect("re-encoding decodes");
    assert_eq!(again.fragment, packet.fragment);
});

//! Dispatch to forwarding shards: for any frame and any shard count (from the first byte,
//! 1 to 64) it never panics, always names a shard that exists, and names the same shard for
//! a frame as for that frame decoded (what a shard that reassembled a packet asks).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_core::dispatch::{Dispatcher, MAX_SHARDS};
use nfwd_tlv::NameHasher;
use nfwd_tlv::lp::LpPacket;

fuzz_target!(|input: &[u8]| {
    let Some((&first, frame)) = input.split_first() else {
        return;
    };
    let shards = first % MAX_SHARDS + 1;
    let dispatcher = Dispatcher::new(shards, NameHasher::new()).expect("1 to 64 shards");
    let shard = dispatcher.shard_of_frame(frame);
    assert!(shard < shards, "shard {shard} of {shards}");
    if let Ok(packet) = LpPacket::decode(Bytes::copy_from_slice(frame)) {
        assert_eq!(dispatcher.shard_of_packet(&packet), shard);
    }
});

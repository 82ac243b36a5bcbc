//! Dispatch to forwarding shards: for any frame, any shard count (the first byte's low six
//! bits, 1 to 64) and name prefix (its top two bits, 1 to 4 components) it never panics,
//! always names a shard that exists, names the same shard for a frame as for that frame
//! decoded (what a shard that reassembled a packet asks), and the owners of a Data's shorter
//! prefixes exist and exclude the Data's own.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_core::dispatch::{Dispatcher, MAX_SHARDS};
use nfwd_tlv::{Data, NameHasher};
use nfwd_tlv::lp::LpPacket;

fuzz_target!(|input: &[u8]| {
    let Some((&first, frame)) = input.split_first() else {
        return;
    };
    let shards = first % MAX_SHARDS + 1;
    let prefix = (first >> 6) + 1;
    let dispatcher =
        Dispatcher::with_prefix(shards, prefix, NameHasher::new()).expect("valid settings");
    let shard = dispatcher.shard_of_frame(frame);
    assert!(shard < shards, "shard {shard} of {shards}");
    if let Ok(packet) = LpPacket::decode(Bytes::copy_from_slice(frame)) {
        assert_eq!(dispatcher.shard_of_packet(&packet), shard);
        if let Some(data) = packet.fragment.and_then(|f| Data::decode(f).ok()) {
            let own = dispatcher.shard_of_name(data.name());
            for owner in dispatcher.owners_of_shorter(data.name(), own) {
                assert!(owner < shards && owner != own);
            }
        }
    }
});

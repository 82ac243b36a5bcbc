//! Prefix announcement decoding (self-learning): never panics; a decoded announcement built
//! again (ndn-cxx's layout) decodes to the same prefix, ExpirationPeriod and ValidityPeriod;
//! its lifetime never exceeds its ExpirationPeriod.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::{PrefixAnnouncement, Signer};

fuzz_target!(|input: &[u8]| {
    let Ok(pa) = PrefixAnnouncement::decode(Bytes::copy_from_slice(input)) else {
        return;
    };
    let wire = PrefixAnnouncement::build(
        &pa.announced,
        pa.expiration_ms,
        pa.validity,
        0,
        &Signer::digest_sha256(),
    )
    .expect("building with DigestSha256 succeeds");
    let again = PrefixAnnouncement::decode(wire).expect("a built announcement decodes");
    assert_eq!(again.announced, pa.announced);
    assert_eq!(again.expiration_ms, pa.expiration_ms);
    assert_eq!(again.validity, pa.validity);
    for now in [0, 1_767_225_600_000, u64::MAX] {
        assert!(pa.lifetime_ms(now) <= pa.expiration_ms);
    }
});

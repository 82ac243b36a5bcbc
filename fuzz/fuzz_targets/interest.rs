//! Interest decoding: never panics; whatever decodes re-encodes to something that decodes to
//! the same fields, and forwarding edits keep the packet decodable and everything else intact.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::{Interest, InterestEdit, Name};

/// The name without its parameters digest, which changes when unknown elements after
/// ApplicationParameters are not carried over by a re-encoding.
fn without_digest(name: &Name) -> Name {
    name.components().filter(|c| c.tlv_type() != 2).collect()
}

fuzz_target!(|input: &[u8]| {
    let Ok(interest) = Interest::decode(Bytes::copy_from_slice(input)) else {
        return;
    };
    let again = Interest::decode(interest.to_builder().encode()).expect("re-encoding decodes");
    assert_eq!(
        without_digest(again.name()),
        without_digest(interest.name())
    );
    assert_eq!(again.function_chain(), interest.function_chain());
    assert_eq!(again.nonce(), interest.nonce());
    assert_eq!(again.app_parameters(), interest.app_parameters());

    let unchanged = Interest::decode(interest.edited(&InterestEdit::default())).expect("decodes");
    assert_eq!(
        unchanged.name(),
        interest.name(),
        "an empty edit keeps the digest valid"
    );

    let edit = InterestEdit {
        nonce: Some([1, 2, 3, 4]),
        hop_limit: Some(1),
        pop_function: true,
    };
    let edited = Interest::decode(interest.edited(&edit)).expect("edited Interest decodes");
    assert_eq!(edited.name(), interest.name());
    assert_eq!(edited.nonce(), Some([1, 2, 3, 4]));
    assert_eq!(edited.hop_limit(), interest.hop_limit().map(|_| 1));
    assert_eq!(edited.app_parameters(), interest.app_parameters());
    assert_eq!(
        edited.function_chain(),
        interest.function_chain().and_then(|c| c.popped()).as_ref()
    );
});

//! The hex examples of `docs/protocol.md`, checked against the codec so the document stays
//! true.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use nfwd_tlv::{
    Data, DataBuilder, FunctionChain, Interest, InterestBuilder, InterestEdit, Name, Signer,
};

fn hex(s: &str) -> Bytes {
    Bytes::from(hex::decode(s.split_whitespace().collect::<String>()).unwrap())
}

const CHAINED: &str = "05 3d 07 11 08 03 72 73 31 08 04 6c 61 6d 70 08 04 32 32 35 36
    0a 04 01 02 03 04 0c 02 0f a0 e1 1e 07 08 08 02 73 66 08 02 46 33
    07 08 08 02 73 66 08 02 46 32 07 08 08 02 73 66 08 02 46 31";
const POPPED: &str = "05 33 07 11 08 03 72 73 31 08 04 6c 61 6d 70 08 04 32 32 35 36
    0a 04 01 02 03 04 0c 02 0f a0 e1 14 07 08 08 02 73 66 08 02 46 32
    07 08 08 02 73 66 08 02 46 31";
const PLAIN: &str = "05 1d 07 11 08 03 72 73 31 08 04 6c 61 6d 70 08 04 32 32 35 36
    0a 04 01 02 03 04 0c 02 0f a0";

fn pop(i: &Interest) -> Interest {
    Interest::decode(i.edited(&InterestEdit {
        pop_function: true,
        ..InterestEdit::default()
    }))
    .unwrap()
}

#[test]
fn chained_interest_example_encodes_as_documented() {
    let chain: FunctionChain = "/sf/F3,/sf/F2,/sf/F1".parse().unwrap();
    let built = InterestBuilder::new("/rs1/lamp/2256".parse().unwrap())
        .nonce([1, 2, 3, 4])
        .lifetime_ms(4000)
        .function_chain(Some(chain))
        .encode();
    assert_eq!(built, hex(CHAINED));
}

#[test]
fn popping_gives_the_documented_bytes_and_removes_the_element_at_the_end() {
    let i = Interest::decode(hex(CHAINED)).unwrap();
    assert_eq!(i.function_chain().unwrap().head().to_string(), "/sf/F3");
    let once = pop(&i);
    assert_eq!(once.wire(), &hex(POPPED));
    let twice = pop(&once);
    assert_eq!(twice.function_chain().unwrap().to_string(), "/sf/F1");
    let plain = pop(&twice);
    assert_eq!(plain.wire(), &hex(PLAIN));
    assert!(plain.function_chain().is_none());
}

#[test]
fn result_data_example_and_its_signed_chain() {
    let chain: FunctionChain = "/sf/F1".parse().unwrap();
    let d = DataBuilder::new("/rs1/lamp/2256".parse::<Name>().unwrap(), &b"42"[..])
        .function_chain(Some(chain))
        .freshness_ms(10_000)
        .build(&Signer::digest_sha256())
        .unwrap();
    let prefix = "06 50 07 11 08 03 72 73 31 08 04 6c 61 6d 70 08 04 32 32 35 36
        e1 0a 07 08 08 02 73 66 08 02 46 31 14 04 19 02 27 10 15 02 34 32
        16 03 1b 01 00 17 20";
    assert!(d.wire().starts_with(&hex(prefix)));
    assert_eq!(d.wire().len(), 82);
    // The chain is inside the signed portion: relabelling the result breaks the signature.
    let mut relabelled = d.wire().to_vec();
    let at = relabelled
        .windows(2)
        .position(|w| w == [0x46, 0x31])
        .unwrap();
    relabelled[at + 1] = 0x32;
    let forged = Data::decode(Bytes::from(relabelled)).unwrap();
    assert_eq!(forged.function_chain().unwrap().to_string(), "/sf/F2");
    assert!(forged.verify(&nfwd_tlv::VerifyKey::DigestSha256).is_err());
}

#[test]
fn chain_text_form() {
    let c: FunctionChain = " /sf/F3 , /sf/F2,/sf/F1".parse().unwrap();
    assert_eq!(c.to_string(), "/sf/F3,/sf/F2,/sf/F1");
    let with_comma: FunctionChain = "/sf/a%2Cb,/sf/c".parse().unwrap();
    assert_eq!(with_comma.len(), 2);
    assert_eq!(with_comma.head().to_string(), "/sf/a%2Cb");
}

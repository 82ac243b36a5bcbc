//! NFD management: ControlParameters, ControlResponse and command-Interest parsing never panic,
//! and whatever decodes re-encodes to an equal value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nfwd_tlv::Interest;
use nfwd_tlv::nfd::{ControlCommand, ControlParameters, ControlResponse};

fuzz_target!(|input: &[u8]| {
    let wire = Bytes::copy_from_slice(input);
    if let Ok(cp) = ControlParameters::from_wire(&wire) {
        let again = ControlParameters::from_wire(&cp.to_wire()).expect("re-encoding decodes");
        assert_eq!(again, cp);
    }
    if let Ok(cr) = ControlResponse::from_wire(&wire) {
        let again = ControlResponse::from_wire(&cr.to_wire()).expect("re-encoding decodes");
        assert_eq!(again, cr);
    }
    if let Ok(interest) = Interest::decode(wire) {
        let _ = ControlCommand::parse(&interest);
    }
});

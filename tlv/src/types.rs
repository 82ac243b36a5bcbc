//! TLV-TYPE numbers and assigned values (NDN Packet Format v0.3, NDNLPv2, NFD management).
//!
//! Kept in one place so that a reviewer can compare them against the specifications at a glance.

/// Packet-level and Interest/Data element types.
pub mod tt {
    pub const INTEREST: u32 = 5;
    pub const DATA: u32 = 6;
    pub const NAME: u32 = 7;

    pub const IMPLICIT_SHA256_DIGEST_COMPONENT: u32 = 1;
    pub const PARAMETERS_SHA256_DIGEST_COMPONENT: u32 = 2;
    pub const GENERIC_NAME_COMPONENT: u32 = 8;
    pub const KEYWORD_NAME_COMPONENT: u32 = 32;
    pub const SEGMENT_NAME_COMPONENT: u32 = 50;
    pub const BYTE_OFFSET_NAME_COMPONENT: u32 = 52;
    pub const VERSION_NAME_COMPONENT: u32 = 54;
    pub const TIMESTAMP_NAME_COMPONENT: u32 = 56;
    pub const SEQUENCE_NUM_NAME_COMPONENT: u32 = 58;

    pub const CAN_BE_PREFIX: u32 = 33;
    pub const MUST_BE_FRESH: u32 = 18;
    pub const FORWARDING_HINT: u32 = 30;
    pub const NONCE: u32 = 10;
    pub const INTEREST_LIFETIME: u32 = 12;
    pub const HOP_LIMIT: u32 = 34;
    pub const APPLICATION_PARAMETERS: u32 = 36;
    pub const INTEREST_SIGNATURE_INFO: u32 = 44;
    pub const INTEREST_SIGNATURE_VALUE: u32 = 46;

    pub const META_INFO: u32 = 20;
    pub const CONTENT: u32 = 21;
    pub const SIGNATURE_INFO: u32 = 22;
    pub const SIGNATURE_VALUE: u32 = 23;
    pub const CONTENT_TYPE: u32 = 24;
    pub const FRESHNESS_PERIOD: u32 = 25;
    pub const FINAL_BLOCK_ID: u32 = 26;

    pub const SIGNATURE_TYPE: u32 = 27;
    pub const KEY_LOCATOR: u32 = 28;
    pub const KEY_DIGEST: u32 = 29;
    pub const SIGNATURE_NONCE: u32 = 38;
    pub const SIGNATURE_TIME: u32 = 40;
    pub const SIGNATURE_SEQ_NUM: u32 = 42;
    pub const VALIDITY_PERIOD: u32 = 253;
    pub const NOT_BEFORE: u32 = 254;
    pub const NOT_AFTER: u32 = 255;

    /// nfwd extension: the function-name stack of a chained Interest, and the chain a Data
    /// answers. Critical (odd) and in the 1-byte application range; see `docs/protocol.md`.
    pub const FUNCTION_NAMES: u32 = 0xE1;
}

/// NDNLPv2 element types.
pub mod lp {
    pub const LP_PACKET: u32 = 100;
    pub const FRAGMENT: u32 = 80;
    pub const SEQUENCE: u32 = 81;
    pub const FRAG_INDEX: u32 = 82;
    pub const FRAG_COUNT: u32 = 83;
    pub const PIT_TOKEN: u32 = 98;
    pub const NACK: u32 = 800;
    pub const NACK_REASON: u32 = 801;
    pub const INCOMING_FACE_ID: u32 = 812;
    pub const NEXT_HOP_FACE_ID: u32 = 816;
    pub const CACHE_POLICY: u32 = 820;
    pub const CACHE_POLICY_TYPE: u32 = 821;
    pub const CONGESTION_MARK: u32 = 832;
    pub const ACK: u32 = 836;
    pub const TX_SEQUENCE: u32 = 840;
    pub const NON_DISCOVERY: u32 = 844;
    pub const PREFIX_ANNOUNCEMENT: u32 = 848;
    /// nfwd's PoppedFunction: the function name a forwarder popped, towards the SF hosting
    /// it (`docs/protocol.md`). In NDNLPv2's ignorable range (800..=959, low bits 00), so
    /// other applications skip it.
    pub const POPPED_FUNCTION: u32 = 928;
    /// nfwd's ChainAware: "this forwarder understands function chaining", in an IDLE packet
    /// between forwarders (`docs/protocol.md` §4.1); value 1 asks, 2 answers. Ignorable, like
    /// PoppedFunction, so NFD drops the packet without a word — which is how it is told apart.
    pub const CHAIN_AWARE: u32 = 932;
}

/// NFD management element types.
pub mod nfd {
    pub const CONTROL_PARAMETERS: u32 = 104;
    pub const FACE_ID: u32 = 105;
    pub const COST: u32 = 106;
    pub const STRATEGY: u32 = 107;
    pub const FLAGS: u32 = 108;
    pub const EXPIRATION_PERIOD: u32 = 109;
    pub const ORIGIN: u32 = 111;
    pub const MASK: u32 = 112;
    pub const URI: u32 = 114;
    pub const LOCAL_URI: u32 = 129;
    pub const CAPACITY: u32 = 131;
    pub const COUNT: u32 = 132;
    pub const FACE_PERSISTENCY: u32 = 133;
    pub const BASE_CONGESTION_MARKING_INTERVAL: u32 = 135;
    pub const DEFAULT_CONGESTION_THRESHOLD: u32 = 136;
    pub const MTU: u32 = 137;

    pub const CONTROL_RESPONSE: u32 = 101;
    pub const STATUS_CODE: u32 = 102;
    pub const STATUS_TEXT: u32 = 103;
}

/// ContentType values.
pub mod content_type {
    pub const BLOB: u64 = 0;
    pub const LINK: u64 = 1;
    pub const KEY: u64 = 2;
    pub const NACK: u64 = 3;
    pub const MANIFEST: u64 = 4;
    pub const PREFIX_ANN: u64 = 5;
    pub const FLIC: u64 = 1024;
}

/// SignatureType values.
pub mod signature_type {
    pub const DIGEST_SHA256: u64 = 0;
    pub const SHA256_WITH_RSA: u64 = 1;
    pub const SHA256_WITH_ECDSA: u64 = 3;
    pub const HMAC_WITH_SHA256: u64 = 4;
    pub const ED25519: u64 = 5;
    pub const NULL: u64 = 200;
}

/// True if an element of this TLV-TYPE must be understood by its receiver.
#[must_use]
pub const fn is_critical(tlv_type: u32) -> bool {
    tlv_type <= 31 || tlv_type & 1 == 1
}

//! `nfwd packet ...`: inspect and make NDN packets.
//!
//! `decode` accepts an LpPacket, a bare Interest or Data, or any other TLV, given as hex (spaces
//! allowed) or as a file holding either the binary packet or its hex. It prints what the packet
//! means, then the raw TLV tree, so that a malformed packet still shows where it goes wrong.

use crate::cli::output::{out, outln};
use std::fmt::Write as _;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Subcommand;
use nfwd_tlv::lp::LpPacket;
use nfwd_tlv::types::{lp, nfd, tt};
use nfwd_tlv::{
    Data, DataBuilder, Element, FunctionChain, Interest, InterestBuilder, Name, Signer,
};

#[derive(Debug, Subcommand)]
pub(crate) enum PacketCommand {
    /// Decode a packet and print it as a tree.
    Decode {
        /// Hex string, or a path to a file holding the packet (binary or hex).
        input: String,
    },
    /// Encode an Interest and print it as hex.
    Interest {
        /// Content name, e.g. /rs1/lamp/2256.
        name: Name,
        /// Function stack, head first, e.g. /sf/F3,/sf/F2,/sf/F1.
        #[arg(long)]
        chain: Option<FunctionChain>,
        /// Nonce as 8 hex digits.
        #[arg(long)]
        nonce: Option<String>,
        /// InterestLifetime in milliseconds.
        #[arg(long)]
        lifetime: Option<u64>,
        /// HopLimit.
        #[arg(long)]
        hop_limit: Option<u8>,
        /// Set CanBePrefix.
        #[arg(long)]
        can_be_prefix: bool,
        /// Set MustBeFresh.
        #[arg(long)]
        must_be_fresh: bool,
    },
    /// Encode a Data signed with DigestSha256 and print it as hex.
    Data {
        /// Data name.
        name: Name,
        /// Content as text.
        #[arg(long, default_value = "")]
        text: String,
        /// The function stack this Data answers.
        #[arg(long)]
        chain: Option<FunctionChain>,
        /// FreshnessPeriod in milliseconds.
        #[arg(long)]
        freshness: Option<u64>,
    },
}

pub(crate) fn run(cmd: PacketCommand) -> anyhow::Result<()> {
    match cmd {
        PacketCommand::Decode { input } => {
            let wire = read_input(&input)?;
            out!("{}", describe(&wire));
            Ok(())
        }
        PacketCommand::Interest {
            name,
            chain,
            nonce,
            lifetime,
            hop_limit,
            can_be_prefix,
            must_be_fresh,
        } => {
            let mut b = InterestBuilder::new(name)
                .function_chain(chain)
                .can_be_prefix(can_be_prefix)
                .must_be_fresh(must_be_fresh);
            if let Some(n) = nonce {
                let bytes = hex::decode(&n).context("nonce must be hex")?;
                b = b.nonce(
                    bytes
                        .try_into()
                        .map_err(|_| anyhow::anyhow!("nonce must be 4 bytes"))?,
                );
            }
            b.lifetime_ms = lifetime;
            b.hop_limit = hop_limit;
            let wire = b.encode();
            Interest::decode(wire.clone()).context("the Interest would be invalid")?;
            outln!("{}", hex::encode(&wire));
            Ok(())
        }
        PacketCommand::Data {
            name,
            text,
            chain,
            freshness,
        } => {
            let mut b = DataBuilder::new(name, text.into_bytes()).function_chain(chain);
            b.meta_info.freshness_period_ms = freshness;
            outln!("{}", hex::encode(b.sign(&Signer::digest_sha256())?));
            Ok(())
        }
    }
}

/// Reads `input` as hex, or as a file holding binary or hex.
fn read_input(input: &str) -> anyhow::Result<Bytes> {
    let path = std::path::Path::new(input);
    let raw = if path.is_file() {
        std::fs::read(path).with_context(|| format!("reading {input}"))?
    } else {
        input.as_bytes().to_vec()
    };
    let text: String = String::from_utf8_lossy(&raw).split_whitespace().collect();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Bytes::from(
            hex::decode(&text).context("odd number of hex digits")?,
        ));
    }
    if path.is_file() {
        return Ok(Bytes::from(raw));
    }
    bail!("{input:?} is neither a file nor a hex string")
}

/// The meaning of the packet, then its TLV tree.
pub(crate) fn describe(wire: &Bytes) -> String {
    let mut out = String::new();
    match LpPacket::decode(wire.clone()) {
        Ok(lp) if lp.has_headers() || wire.first() == Some(&(lp::LP_PACKET as u8)) => {
            let _ = writeln!(out, "LpPacket ({} bytes)", wire.len());
            describe_lp(&mut out, &lp);
            if let Some(frag) = &lp.fragment
                && lp.frag_count.unwrap_or(1) <= 1
            {
                describe_network(&mut out, frag, "  ");
            }
        }
        _ => describe_network(&mut out, wire, ""),
    }
    out.push_str("TLV tree:\n");
    tree(&mut out, wire, 1, Scope::Top);
    out
}

fn describe_lp(out: &mut String, lp: &LpPacket) {
    let mut field = |k: &str, v: String| {
        let _ = writeln!(out, "  {k}: {v}");
    };
    if let Some(v) = lp.sequence {
        field("Sequence", v.to_string());
    }
    if let (Some(i), Some(c)) = (lp.frag_index, lp.frag_count) {
        field("Fragment", format!("{} of {c}", i + 1));
    }
    if let Some(t) = &lp.pit_token {
        field("PitToken", hex::encode(t.as_bytes()));
    }
    if let Some(r) = lp.nack {
        field("Nack", format!("{r:?}"));
    }
    if let Some(f) = lp.incoming_face_id {
        field("IncomingFaceId", f.to_string());
    }
    if let Some(f) = lp.next_hop_face_id {
        field("NextHopFaceId", f.to_string());
    }
    if let Some(p) = lp.cache_policy {
        field("CachePolicy", format!("{p:?}"));
    }
    if let Some(m) = lp.congestion_mark {
        field("CongestionMark", m.to_string());
    }
    if lp.is_idle() {
        field("Fragment", "none (IDLE packet)".into());
    }
}

fn describe_network(out: &mut String, wire: &Bytes, indent: &str) {
    match wire.first().map(|&b| u32::from(b)) {
        Some(tt::INTEREST) => match Interest::decode(wire.clone()) {
            Ok(i) => describe_interest(out, &i, indent),
            Err(e) => {
                let _ = writeln!(out, "{indent}Interest: MALFORMED: {e}");
            }
        },
        Some(tt::DATA) => match Data::decode(wire.clone()) {
            Ok(d) => describe_data(out, &d, indent),
            Err(e) => {
                let _ = writeln!(out, "{indent}Data: MALFORMED: {e}");
            }
        },
        _ => {
            let _ = writeln!(out, "{indent}Not an Interest, Data or LpPacket");
        }
    }
}

fn describe_interest(out: &mut String, i: &Interest, indent: &str) {
    let _ = writeln!(out, "{indent}Interest ({} bytes)", i.wire().len());
    let mut field = |k: &str, v: String| {
        let _ = writeln!(out, "{indent}  {k}: {v}");
    };
    field("Name", i.name().to_string());
    if let Some(c) = i.function_chain() {
        field(
            "FunctionNames",
            format!("{c} (next: {}, {} to go)", c.head(), c.len()),
        );
    }
    field("CanBePrefix", i.can_be_prefix().to_string());
    field("MustBeFresh", i.must_be_fresh().to_string());
    for h in i.forwarding_hint() {
        field("ForwardingHint", h.to_string());
    }
    field(
        "Nonce",
        i.nonce().map_or_else(|| "(none)".into(), hex::encode),
    );
    field(
        "InterestLifetime",
        format!("{} ms", i.effective_lifetime_ms()),
    );
    if let Some(h) = i.hop_limit() {
        field("HopLimit", h.to_string());
    }
    if let Some(p) = i.app_parameters() {
        field("ApplicationParameters", format!("{} bytes", p.len()));
    }
    if let Some(s) = i.signature_info() {
        field("SignatureType", s.signature_type.to_string());
        if let Some(k) = &s.key_locator {
            field("KeyLocator", format!("{k:?}"));
        }
    }
}

fn describe_data(out: &mut String, d: &Data, indent: &str) {
    let _ = writeln!(out, "{indent}Data ({} bytes)", d.wire().len());
    let mut field = |k: &str, v: String| {
        let _ = writeln!(out, "{indent}  {k}: {v}");
    };
    field("Name", d.name().to_string());
    if let Some(c) = d.function_chain() {
        field("FunctionNames", format!("{c} (result of this chain)"));
    }
    field("ContentType", d.content_type().to_string());
    field("FreshnessPeriod", format!("{} ms", d.freshness_period_ms()));
    if let Some(f) = d.final_block_id() {
        field("FinalBlockId", f.to_string());
    }
    let content = d.content();
    let preview = if content.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!(
            "{:?}",
            String::from_utf8_lossy(&content[..content.len().min(64)])
        )
    } else {
        hex::encode(&content[..content.len().min(32)])
    };
    field("Content", format!("{} bytes {preview}", content.len()));
    match d.signature_info() {
        Ok(Some(s)) => {
            field("SignatureType", s.signature_type.to_string());
            if let Some(k) = &s.key_locator {
                field("KeyLocator", format!("{k:?}"));
            }
        }
        Ok(None) => field("Signature", "(none)".into()),
        Err(e) => field("SignatureInfo", format!("MALFORMED: {e}")),
    }
    field("ImplicitDigest", hex::encode(d.implicit_digest()));
}

/// Where in a packet an element sits; TLV-TYPE numbers mean different things in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Packet,
    Name,
    Lp,
    Nfd,
}

fn type_name(ctx: Scope, t: u32) -> &'static str {
    match (ctx, t) {
        (Scope::Name, tt::GENERIC_NAME_COMPONENT) => "GenericNameComponent",
        (Scope::Name, tt::IMPLICIT_SHA256_DIGEST_COMPONENT) => "ImplicitSha256DigestComponent",
        (Scope::Name, tt::PARAMETERS_SHA256_DIGEST_COMPONENT) => "ParametersSha256DigestComponent",
        (Scope::Name, tt::KEYWORD_NAME_COMPONENT) => "KeywordNameComponent",
        (Scope::Name, tt::SEGMENT_NAME_COMPONENT) => "SegmentNameComponent",
        (Scope::Name, tt::BYTE_OFFSET_NAME_COMPONENT) => "ByteOffsetNameComponent",
        (Scope::Name, tt::VERSION_NAME_COMPONENT) => "VersionNameComponent",
        (Scope::Name, tt::TIMESTAMP_NAME_COMPONENT) => "TimestampNameComponent",
        (Scope::Name, tt::SEQUENCE_NUM_NAME_COMPONENT) => "SequenceNumNameComponent",
        (Scope::Name, _) => "NameComponent",
        (Scope::Lp | Scope::Top, lp::LP_PACKET) => "LpPacket",
        (Scope::Lp, lp::FRAGMENT) => "Fragment",
        (Scope::Lp, lp::SEQUENCE) => "Sequence",
        (Scope::Lp, lp::FRAG_INDEX) => "FragIndex",
        (Scope::Lp, lp::FRAG_COUNT) => "FragCount",
        (Scope::Lp, lp::PIT_TOKEN) => "PitToken",
        (Scope::Lp, lp::NACK) => "Nack",
        (Scope::Lp, lp::NACK_REASON) => "NackReason",
        (Scope::Lp, lp::INCOMING_FACE_ID) => "IncomingFaceId",
        (Scope::Lp, lp::NEXT_HOP_FACE_ID) => "NextHopFaceId",
        (Scope::Lp, lp::CACHE_POLICY) => "CachePolicy",
        (Scope::Lp, lp::CACHE_POLICY_TYPE) => "CachePolicyType",
        (Scope::Lp, lp::CONGESTION_MARK) => "CongestionMark",
        (Scope::Lp, lp::ACK) => "Ack",
        (Scope::Lp, lp::TX_SEQUENCE) => "TxSequence",
        (Scope::Lp, lp::NON_DISCOVERY) => "NonDiscovery",
        (Scope::Lp, lp::PREFIX_ANNOUNCEMENT) => "PrefixAnnouncement",
        (Scope::Nfd, nfd::CONTROL_PARAMETERS) => "ControlParameters",
        (Scope::Nfd, nfd::CONTROL_RESPONSE) => "ControlResponse",
        (Scope::Nfd, nfd::STATUS_CODE) => "StatusCode",
        (Scope::Nfd, nfd::STATUS_TEXT) => "StatusText",
        (Scope::Nfd, nfd::FACE_ID) => "FaceId",
        (Scope::Nfd, nfd::COST) => "Cost",
        (Scope::Nfd, nfd::FLAGS) => "Flags",
        (Scope::Nfd, nfd::ORIGIN) => "Origin",
        (Scope::Nfd, nfd::URI) => "Uri",
        (_, tt::INTEREST) => "Interest",
        (_, tt::DATA) => "Data",
        (_, tt::NAME) => "Name",
        (_, tt::CAN_BE_PREFIX) => "CanBePrefix",
        (_, tt::MUST_BE_FRESH) => "MustBeFresh",
        (_, tt::FORWARDING_HINT) => "ForwardingHint",
        (_, tt::NONCE) => "Nonce",
        (_, tt::INTEREST_LIFETIME) => "InterestLifetime",
        (_, tt::HOP_LIMIT) => "HopLimit",
        (_, tt::FUNCTION_NAMES) => "FunctionNames",
        (_, tt::APPLICATION_PARAMETERS) => "ApplicationParameters",
        (_, tt::INTEREST_SIGNATURE_INFO) => "InterestSignatureInfo",
        (_, tt::INTEREST_SIGNATURE_VALUE) => "InterestSignatureValue",
        (_, tt::META_INFO) => "MetaInfo",
        (_, tt::CONTENT) => "Content",
        (_, tt::SIGNATURE_INFO) => "SignatureInfo",
        (_, tt::SIGNATURE_VALUE) => "SignatureValue",
        (_, tt::CONTENT_TYPE) => "ContentType",
        (_, tt::FRESHNESS_PERIOD) => "FreshnessPeriod",
        (_, tt::FINAL_BLOCK_ID) => "FinalBlockId",
        (_, tt::SIGNATURE_TYPE) => "SignatureType",
        (_, tt::KEY_LOCATOR) => "KeyLocator",
        (_, tt::KEY_DIGEST) => "KeyDigest",
        (_, tt::SIGNATURE_NONCE) => "SignatureNonce",
        (_, tt::SIGNATURE_TIME) => "SignatureTime",
        (_, tt::SIGNATURE_SEQ_NUM) => "SignatureSeqNum",
        _ => "?",
    }
}

/// Elements whose value is itself a sequence of elements.
fn nested(ctx: Scope, t: u32) -> Option<Scope> {
    match (ctx, t) {
        (_, tt::NAME) => Some(Scope::Name),
        (Scope::Top, lp::LP_PACKET) => Some(Scope::Lp),
        (Scope::Lp, lp::FRAGMENT) => Some(Scope::Top),
        (Scope::Lp, lp::NACK | lp::CACHE_POLICY) => Some(Scope::Lp),
        (Scope::Top, tt::INTEREST | tt::DATA) => Some(Scope::Packet),
        (
            Scope::Packet,
            tt::FORWARDING_HINT
            | tt::FUNCTION_NAMES
            | tt::META_INFO
            | tt::SIGNATURE_INFO
            | tt::INTEREST_SIGNATURE_INFO
            | tt::KEY_LOCATOR
            | tt::FINAL_BLOCK_ID,
        ) => Some(Scope::Packet),
        (Scope::Top, nfd::CONTROL_PARAMETERS | nfd::CONTROL_RESPONSE) => Some(Scope::Nfd),
        (Scope::Nfd, nfd::CONTROL_PARAMETERS | nfd::STRATEGY) => Some(Scope::Nfd),
        _ => None,
    }
}

fn tree(out: &mut String, buf: &Bytes, depth: usize, ctx: Scope) {
    let mut pos = 0;
    while pos < buf.len() {
        let rest = buf.slice(pos..);
        let (el, used) = match Element::decode_prefix(&rest) {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{:w$}!! {e} at byte {pos}: {}",
                    "",
                    hex::encode(&rest[..rest.len().min(16)]),
                    w = depth * 2
                );
                return;
            }
        };
        pos += used;
        let t = el.tlv_type();
        let crit = if nfwd_tlv::types::is_critical(t) {
            ""
        } else {
            " (non-critical)"
        };
        let _ = write!(
            out,
            "{:w$}{t} {}{crit} [{}]",
            "",
            type_name(ctx, t),
            el.value().len(),
            w = depth * 2
        );
        match nested(ctx, t) {
            Some(inner) => {
                out.push('\n');
                tree(out, &el.value_bytes(), depth + 1, inner);
            }
            None => {
                let v = el.value();
                if ctx == Scope::Name {
                    let shown = nfwd_tlv::Component::from_element(&el)
                        .map(|c| c.to_string())
                        .unwrap_or_default();
                    let _ = writeln!(out, " {shown}");
                } else if v.is_empty() {
                    out.push('\n');
                } else if v.len() <= 8 && !matches!(t, tt::CONTENT | tt::NONCE) {
                    let _ = writeln!(
                        out,
                        " = {} (0x{})",
                        el.as_nni().map_or_else(|_| "-".into(), |n| n.to_string()),
                        hex::encode(v)
                    );
                } else {
                    let _ = writeln!(
                        out,
                        " {}{}",
                        hex::encode(&v[..v.len().min(24)]),
                        if v.len() > 24 { "…" } else { "" }
                    );
                }
            }
        }
    }
}

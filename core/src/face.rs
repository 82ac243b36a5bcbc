//! Faces as the core sees them: identity, scope, persistency, MTU and counters. The sockets
//! behind them live in the driver.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// A face identifier. Never reused while the forwarder runs; 1–255 are reserved as in NFD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaceId(pub u64);

impl FaceId {
    /// The internal face that management is reached through (`/localhost/nfd`).
    pub const INTERNAL: Self = Self(1);
    /// The content store, as a pseudo-face in logs and counters.
    pub const CONTENT_STORE: Self = Self(254);
    /// The null face: packets sent to it are dropped.
    pub const NULL: Self = Self(255);
    /// The first id given to a real face.
    pub const FIRST_DYNAMIC: u64 = 256;
}

/// A received link frame that owns exactly its bytes.
///
/// Whatever the core keeps of a frame (PIT entries, tokens, cached Data are views of it) then
/// pins only that frame, never a driver's receive block. The only way to make one is to copy
/// ([`Frame::copy_from`]), so the guarantee holds by construction; a driver makes that copy
/// where it reads (a UDP face straight out of its `recvmmsg` buffers, a stream face out of its
/// read buffer) and the core takes the frame as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(Bytes);

impl Frame {
    /// Copies `bytes` into a buffer of exactly their size.
    #[must_use]
    pub fn copy_from(bytes: &[u8]) -> Self {
        Self(Bytes::copy_from_slice(bytes))
    }

    /// The frame's bytes, for a caller that keeps them.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Frame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for FaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether a face reaches applications on this node (local) or other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceScope {
    /// Unix sockets and loopback: applications (and SFs) on this node.
    Local,
    /// Everything else.
    NonLocal,
}

/// How long a face lives (NFD's FacePersistency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistency {
    /// Created by an incoming connection or datagram; closed when idle or on error.
    OnDemand,
    /// Created by configuration or management; closed on error.
    Persistent,
    /// Never closed; reconnects after errors.
    Permanent,
}

impl Persistency {
    /// NFD's numeric code.
    #[must_use]
    pub fn code(self) -> u64 {
        match self {
            Self::Persistent => 0,
            Self::OnDemand => 1,
            Self::Permanent => 2,
        }
    }

    /// From NFD's numeric code.
    #[must_use]
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Persistent),
            1 => Some(Self::OnDemand),
            2 => Some(Self::Permanent),
            _ => None,
        }
    }
}

/// Point-to-point or multi-access link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// One peer.
    PointToPoint,
    /// Many peers (multicast).
    MultiAccess,
}

/// Who is at the other end of a local stream socket, as the kernel reports it (`SO_PEERCRED`
/// at connect time, supplementary groups read once from `/proc/<pid>/status`). Management
/// privileges of local users are decided from this (`docs/security.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCredentials {
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Supplementary groups (may be empty if they could not be read).
    pub groups: Vec<u32>,
    /// Process id at connect time, if known.
    pub pid: Option<u32>,
}

impl PeerCredentials {
    /// True if the peer is `gid` by its primary or a supplementary group.
    #[must_use]
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// A restricted channel: a Unix socket opened by management (`channels/open`) for one
/// application (an SF instance). Faces accepted on it may register only the channel's prefix,
/// for themselves, and may send no other management command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u64);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the driver tells the core about a new face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceInfo {
    /// Remote URI, e.g. `udp4://127.0.0.1:6363`, `unix:///run/nfd/nfd.sock`, `fd://12`.
    pub remote_uri: String,
    /// Local URI, e.g. `udp4://127.0.0.1:6363`.
    pub local_uri: String,
    /// Scope.
    pub scope: FaceScope,
    /// Persistency.
    pub persistency: Persistency,
    /// Link type.
    pub link_type: LinkType,
    /// Largest packet the link carries in one frame; `None` for stream faces (no
    /// fragmentation needed). Datagram faces get NDNLPv2 fragmentation above it.
    pub mtu: Option<usize>,
    /// The peer's credentials, where the link can tell (Unix sockets); `None` for network
    /// faces and loopback TCP/UDP, whose peers are anonymous.
    pub peer: Option<PeerCredentials>,
    /// The restricted channel the face was accepted on, if any.
    pub channel: Option<ChannelId>,
}

/// A face's congestion marking settings, as NFD's management sets them
/// (BaseCongestionMarkingInterval, DefaultCongestionThreshold and the Flags bit
/// CongestionMarkingEnabled). The driver marks packets sent into a stream face's write queue
/// while it holds more than the threshold (`driver/congestion.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CongestionMarking {
    /// Whether outgoing packets may be marked.
    pub enabled: bool,
    /// The base marking interval, nanoseconds (NFD's default: 100 ms).
    pub base_interval_ns: u64,
    /// Queue length above which the face is congested, bytes (NFD's default: 65536; at most
    /// half the queue's capacity applies).
    pub threshold: u64,
}

impl Default for CongestionMarking {
    fn default() -> Self {
        Self {
            enabled: true,
            base_interval_ns: 100_000_000,
            threshold: 65_536,
        }
    }
}

crate::metrics::counters! {
/// Per-face counters, as NFD's FaceStatus reports them plus drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaceCounters {
    /// Interests received.
    pub in_interests: u64,
    /// Data received.
    pub in_data: u64,
    /// Nacks received.
    pub in_nacks: u64,
    /// Interests sent.
    pub out_interests: u64,
    /// Data sent.
    pub out_data: u64,
    /// Nacks sent.
    pub out_nacks: u64,
    /// Bytes received (link frames).
    pub in_bytes: u64,
    /// Bytes sent (link frames).
    pub out_bytes: u64,
    /// Frames that could not be decoded.
    pub drop_malformed: u64,
    /// Packets dropped by scope rules (`/localhost` on a non-local face).
    pub drop_scope: u64,
    /// Interests dropped for HopLimit 0.
    pub drop_hop_limit: u64,
    /// Data that matched no PIT entry.
    pub drop_unsolicited: u64,
    /// Interests looped back (duplicate nonce).
    pub drop_loop: u64,
    /// Packets dropped because a table was at its bound.
    pub drop_overload: u64,
    /// Fragments dropped by reassembly.
    pub drop_reassembly: u64,
    /// Frames the driver could not hand to the socket (write queue or socket buffer full).
    pub drop_queue_full: u64,
    /// Packets the driver sent with a CongestionMark it set (its write queue was congested).
    pub congestion_marks: u64,
    /// Management requests refused: not authorized, bad signature, replayed, or a
    /// restricted face reaching beyond its prefix.
    pub drop_unauthorized: u64,
    /// Interests refused because the face held its quota of PIT entries.
    pub drop_pit_quota: u64,
    /// Liveness probes sent (`docs/protocol.md` §8).
    pub liveness_probes: u64,
    /// Liveness probes answered with an Ack.
    pub liveness_acks: u64,
    /// Liveness probes received and not answered (more than one per 50 ms).
    pub drop_liveness_probes: u64,
    /// Times liveness declared the face down.
    pub liveness_down: u64,
}
}

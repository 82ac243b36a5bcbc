//! What the core asks its driver to do.

use bytes::Bytes;

use std::path::PathBuf;

use super::face::{ChannelId, CongestionMarking, FaceId, Persistency};

/// An instruction from the core to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `frame` (one complete link frame: a bare packet or an LpPacket) on `face`.
    Send {
        /// Where.
        face: FaceId,
        /// What.
        frame: Bytes,
    },
    /// Management (`faces/create`) asked for a face; the driver creates it and reports the
    /// outcome with [`super::Forwarder::face_created`], quoting `request`.
    CreateFace {
        /// Matches the report to the command.
        request: u64,
        /// Remote URI, e.g. `udp4://127.0.0.1:6363`.
        remote_uri: String,
        /// Requested persistency.
        persistency: Persistency,
        /// MTU override, if the command gave one.
        mtu: Option<u64>,
    },
    /// Close `face` (management `faces/destroy`, or an idle on-demand face). The driver closes
    /// the socket and then calls [`super::Forwarder::face_closed`].
    CloseFace {
        /// Which.
        face: FaceId,
    },
    /// `face`'s persistency changed (`faces/update`, or a `faces/create` naming the face, which
    /// upgrades an on-demand face as NFD does): the driver stops closing it when idle (or
    /// starts, for a face made on-demand).
    SetPersistency {
        /// Which.
        face: FaceId,
        /// Its persistency now.
        persistency: Persistency,
    },
    /// `face`'s congestion marking settings changed (`faces/create` or `faces/update` gave
    /// some): the driver marks its outgoing packets by them from now on.
    SetCongestionMarking {
        /// Which.
        face: FaceId,
        /// Its settings now.
        marking: CongestionMarking,
    },
    /// Management (`channels/open`) asked for a restricted channel: the driver binds a Unix
    /// socket at `path` (refusing paths outside `faces.channel_dir`), accepts connections on
    /// it as local on-demand faces whose [`super::FaceInfo::channel`] is `channel`, and reports
    /// the outcome with [`super::Forwarder::channel_opened`].
    OpenChannel {
        /// The channel (also the request it answers).
        channel: ChannelId,
        /// Where the socket goes.
        path: PathBuf,
    },
    /// Stop accepting on `channel` and remove its socket file. The core closes the channel's
    /// faces itself (with [`Action::CloseFace`]).
    CloseChannel {
        /// Which.
        channel: ChannelId,
    },
}

//! The shared UDP socket: one socket bound to the listen address carries every UDP face.
//! The receive loop hands `(peer, datagram)` to the engine, which maps peers to faces and
//! creates on-demand faces; the engine sends with `try_send_to` on the same socket, so
//! outgoing datagrams take no extra channel hop.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tracing::debug;

use super::stream::MAX_FRAME;
use crate::error::Result;

/// Kernel buffer sizes asked for (the kernel may cap them): bursts of Interests from many
/// consumers should queue in the kernel rather than be dropped while the core is busy.
const SOCKET_BUFFER: usize = 4 << 20;

/// Receive block size; datagrams are split off it without copying.
const RECV_BLOCK: usize = 64 * 1024;

/// Binds the shared socket.
pub(super) fn bind(addr: SocketAddr) -> Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Restarting the daemon must not fail while the old socket lingers.
    socket.set_reuse_address(true)?;
    if let Err(e) = socket.set_recv_buffer_size(SOCKET_BUFFER) {
        debug!("SO_RCVBUF: {e}");
    }
    if let Err(e) = socket.set_send_buffer_size(SOCKET_BUFFER) {
        debug!("SO_SNDBUF: {e}");
    }
    // tokio requires a non-blocking socket (it panics otherwise in debug builds).
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// What one non-blocking receive on the shared socket gave.
pub(super) enum Received {
    /// A datagram from a peer.
    Datagram(SocketAddr, Bytes),
    /// A datagram over [`MAX_FRAME`], dropped rather than delivered cut.
    Oversize,
    /// Nothing is waiting (or the socket reported an error concerning one peer, such as an
    /// ICMP unreachable for an earlier send).
    Nothing,
}

/// Receives one datagram without waiting. The engine calls this in a loop when the socket is
/// readable, so a burst of datagrams costs one wake-up and no channel hop; datagrams are split
/// off `buf` without copying.
pub(super) fn try_recv(socket: &UdpSocket, buf: &mut BytesMut) -> Received {
    // Room for one byte more than the largest frame: a datagram that fills it was larger than
    // MAX_FRAME (and may have been truncated).
    if buf.capacity() < MAX_FRAME + 1 {
        *buf = BytesMut::with_capacity(RECV_BLOCK);
    }
    match socket.try_recv_buf_from(buf) {
        Ok((n, _)) if n > MAX_FRAME => {
            buf.clear();
            Received::Oversize
        }
        Ok((0, _)) => Received::Nothing,
        Ok((n, peer)) => Received::Datagram(peer, buf.split_to(n).freeze()),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::WouldBlock {
                debug!("UDP receive: {e}");
            }
            Received::Nothing
        }
    }
}

//! The shared UDP socket: one socket bound to the listen address carries every UDP face.
//! The receive loop hands `(peer, datagram)` to the engine, which maps peers to faces and
//! creates on-demand faces; the engine sends with `try_send_to` on the same socket, so
//! outgoing datagrams take no extra channel hop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::Event;
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

/// Receives datagrams until the engine goes away.
pub(super) async fn recv_loop(socket: Arc<UdpSocket>, events: mpsc::Sender<Event>) {
    let mut buf = BytesMut::with_capacity(RECV_BLOCK);
    loop {
        // Room for one byte more than the largest frame: a datagram that fills it was larger
        // than MAX_FRAME (and may have been truncated); it is dropped, not delivered cut.
        if buf.capacity() < MAX_FRAME + 1 {
            buf = BytesMut::with_capacity(RECV_BLOCK);
        }
        let event = match socket.recv_buf_from(&mut buf).await {
            Ok((n, _)) if n > MAX_FRAME => {
                buf.clear();
                Event::DatagramOversize
            }
            Ok((0, _)) => continue,
            Ok((n, peer)) => Event::Datagram(peer, buf.split_to(n).freeze()),
            Err(e) => {
                // Unconnected UDP sockets may report ICMP errors of earlier sends here;
                // they concern one peer, not the socket. Pause briefly in case it persists.
                debug!("UDP receive: {e}");
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

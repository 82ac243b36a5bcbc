//! UDP faces, as NFD does them: a connected socket per peer.
//!
//! The *listening* socket is bound to `faces.udp_listen`; it only hears peers that have no
//! face yet (and, for a moment, datagrams of a new face that were queued before its own
//! socket existed). Each UDP face has its *own* socket, bound to the same address
//! (`SO_REUSEADDR`) and `connect`ed to the peer: the kernel then delivers that peer's
//! datagrams to the face's socket, with its own receive buffer. A peer that floods therefore
//! fills only its own buffer, and the kernel drops its excess, not other peers' datagrams; the
//! face's task reads that socket into the face's inbox, like a stream face. The core task
//! sends on the face's socket (`try_send`: never waits).
//!
//! Kernel cost: finding the socket of an arriving datagram is a hash lookup on the 4-tuple
//! for connected UDP sockets since Linux 6.13; older kernels scan the sockets bound to the
//! port, so many faces make each datagram dearer there (`faces.max_udp_faces` bounds it).

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmsg,
};
use smallvec::SmallVec;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::Event;
use super::inbox::InboxTx;
use super::stream::{End, MAX_FRAME};
use crate::core::{FaceId, Frame};
use crate::error::Result;

/// Receive buffer of the listening socket: the largest frame plus one byte (a datagram that
/// fills it was larger than MAX_FRAME, and may have been cut). Reused: each datagram is copied
/// out into a frame of its own.
const LISTEN_BUFFER: usize = MAX_FRAME + 1;

/// Datagrams a face task reads per wake-up before it announces them to the core task and
/// yields, so one busy face does not hold its worker thread.
const FACE_BATCH: usize = 64;

/// Datagrams one `recvmmsg` on a face's socket takes at most.
const RECV_BATCH: usize = 32;

/// Bytes of one receive slot: room for the largest UDP payload, since with `UDP_GRO` the kernel
/// hands over datagrams of one sender coalesced into one buffer of up to 64 KiB, and cuts what
/// does not fit the buffer. A datagram alone over MAX_FRAME is refused after reading.
const SLOT: usize = 1 << 16;

/// The buffers `recvmmsg` writes into, one set per thread (2 MiB of address space; the kernel's
/// writes make resident only the pages used), shared by the face tasks that thread runs: a
/// task uses them only between the system call and copying what it read into frames of their
/// own, without waiting in between. Safe Rust can hand the kernel only initialised memory, so
/// the buffers are zeroed once, when a thread first reads a face, and reused; copying out
/// replaces the copy the core made of every frame before (`Frame`), so a datagram is still
/// copied once after the kernel's copy.
struct RecvSlots {
    buffers: Vec<u8>,
}

impl RecvSlots {
    fn new() -> Self {
        Self {
            buffers: vec![0; RECV_BATCH * SLOT],
        }
    }
}

/// The message headers of one `recvmmsg`, with room for each message's UDP_GRO control
/// message (the segment size). Made anew for every call (three small allocations): the kernel
/// writes back into each header how much control data it used, and nix's `recvmmsg` does not
/// restore the room before the next call, so a header reused after a message without control
/// data would take none, and a coalesced message would read as one datagram.
fn recv_headers() -> MultiHeaders<()> {
    MultiHeaders::preallocate(RECV_BATCH, Some(nix::cmsg_space!(i32)))
}

/// What a UDP face task counts for `status/counters` (rare or cheap events: atomics shared by
/// every face task and the core task, read when the status is asked for).
#[derive(Debug, Default)]
pub(super) struct ReceiveCounters {
    /// Datagrams over MAX_FRAME, dropped.
    pub(super) oversize: AtomicU64,
    /// Datagrams that arrived coalesced (UDP GRO: a peer's GSO sends, or the kernel's
    /// coalescing of one flow) and were cut apart again.
    pub(super) coalesced: AtomicU64,
}

/// Turns on `UDP_GRO` for a face's socket: the kernel may then hand over several datagrams of
/// the peer in one buffer (all of one size, the last maybe shorter) with their size, instead of
/// one at a time; above all the datagrams a GSO sender (another nfwd) sent together. Not
/// fatal: without it (kernels before 5.0) each datagram comes alone.
fn enable_gro(socket: &Socket) {
    if let Err(e) =
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::UdpGroSegment, &true)
    {
        debug!("UDP_GRO: {e}");
    }
}

/// Copies the datagrams of one received message out of `slot` into frames: `segment` is the
/// size of each (the last may be shorter) when the kernel coalesced several (UDP_GRO), `None`
/// when the message is one datagram. Datagrams over MAX_FRAME are counted and dropped.
fn split_datagrams(
    slot: &[u8],
    segment: Option<usize>,
    frames: &mut Vec<Frame>,
    counters: &ReceiveCounters,
) {
    let segment = match segment {
        Some(size) if size > 0 && size < slot.len() => size,
        _ => slot.len(),
    };
    let mut datagrams = 0;
    for datagram in slot.chunks(segment) {
        datagrams += 1;
        if datagram.len() > MAX_FRAME {
            counters.oversize.fetch_add(1, Ordering::Relaxed);
        } else {
            frames.push(Frame::copy_from(datagram));
        }
    }
    if datagrams > 1 {
        counters.coalesced.fetch_add(datagrams, Ordering::Relaxed);
    }
}

thread_local! {
    static RECV_SLOTS: RefCell<Option<RecvSlots>> = const { RefCell::new(None) };
}

/// Reads what a face's connected socket holds, up to [`RECV_BATCH`] messages (a message is one
/// datagram, or several the kernel coalesced), in one `recvmmsg`, each datagram copied into a
/// [`Frame`] pushed onto `frames`. Returns how many messages came (`WouldBlock` when none).
fn recv_batch(
    socket: &UdpSocket,
    frames: &mut Vec<Frame>,
    counters: &ReceiveCounters,
) -> io::Result<usize> {
    let fd = socket.as_raw_fd();
    RECV_SLOTS.with_borrow_mut(|slots| {
        let RecvSlots { buffers } = slots.get_or_insert_with(RecvSlots::new);
        let mut headers = recv_headers();
        let mut lens = [0usize; RECV_BATCH];
        let mut segments = [None; RECV_BATCH];
        let mut got = 0;
        {
            let mut chunks = buffers.chunks_exact_mut(SLOT);
            let mut iovs: [[IoSliceMut<'_>; 1]; RECV_BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            let received = recvmmsg(
                fd,
                &mut headers,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            for message in received {
                // A cut message can only be one datagram over 64 KiB: oversize whatever it is.
                lens[got] = if message.flags.contains(MsgFlags::MSG_TRUNC) {
                    MAX_FRAME + 1
                } else {
                    message.bytes
                };
                if let Ok(cmsgs) = message.cmsgs() {
                    for cmsg in cmsgs {
                        if let ControlMessageOwned::UdpGroSegments(size) = cmsg {
                            segments[got] = usize::try_from(size).ok();
                        }
                    }
                }
                got += 1;
            }
        }
        for ((slot, &n), &segment) in buffers.chunks_exact(SLOT).zip(&lens[..got]).zip(&segments) {
            split_datagrams(&slot[..n.min(SLOT)], segment, frames, counters);
        }
        Ok(got)
    })
}

/// Asks the kernel for `buffer` bytes of receive and send buffer (`faces.udp_*_buffer_bytes`):
/// beyond `net.core.rmem_max`/`wmem_max` where allowed (CAP_NET_ADMIN: SO_RCVBUFFORCE), else
/// as much as those caps let (SO_RCVBUF). Not fatal: a smaller buffer only drops earlier.
fn size_buffers(socket: &Socket, buffer: usize) {
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(socket, buffer).is_err()
        && let Err(e) = socket.set_recv_buffer_size(buffer)
    {
        debug!("SO_RCVBUF: {e}");
    }
    if rustix::net::sockopt::set_socket_send_buffer_size_force(socket, buffer).is_err()
        && let Err(e) = socket.set_send_buffer_size(buffer)
    {
        debug!("SO_SNDBUF: {e}");
    }
}

fn socket(addr: SocketAddr, buffer: usize) -> Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Every face's socket is bound to the listening address too: the listener and all of them
    // must allow it.
    socket.set_reuse_address(true)?;
    size_buffers(&socket, buffer);
    // tokio requires a non-blocking socket (it panics otherwise in debug builds).
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Binds the listening socket, with `buffer` bytes of kernel buffer asked for
/// (`faces.udp_listen_buffer_bytes`).
pub(super) fn bind(addr: SocketAddr, buffer: usize) -> Result<UdpSocket> {
    Ok(UdpSocket::from_std(socket(addr, buffer)?.into())?)
}

/// A face's own socket: bound to the listening address `local`, connected to `peer`, with
/// `buffer` bytes of kernel buffer asked for (`faces.udp_face_buffer_bytes`).
pub(super) fn bind_face(local: SocketAddr, peer: SocketAddr, buffer: usize) -> Result<UdpSocket> {
    let socket = socket(local, buffer)?;
    enable_gro(&socket);
    // UDP connect only records the peer (no packet is sent): it does not block.
    socket.connect(&peer.into())?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// Sends on a face's connected socket without waiting (the socket is non-blocking: a full
/// send buffer is `WouldBlock`, and the caller drops and counts the frame). Straight to the
/// kernel rather than through tokio's `try_send`, which consults its cached readiness first:
/// the core task never waits for writability, so that cache serves nothing here, and on a
/// socket just opened it is still empty, so tokio would refuse the first frames (such as the
/// reply to a new peer's first Interest) without trying.
pub(super) fn try_send(socket: &UdpSocket, frame: &[u8]) -> io::Result<usize> {
    socket2::SockRef::from(socket).send(frame)
}

/// Frames a UDP face's outbox takes before they leave without waiting for the end of
/// `execute`: one `sendmmsg` per face and flush, at most this many frames.
pub(super) const SEND_BATCH: usize = 64;

/// Sends the first [`SEND_BATCH`] of `frames` on a face's connected socket without waiting, in
/// one `sendmmsg` system call where there are several (the kernel sends them in order and
/// stops at the first it cannot). Returns how many left before the first failure, and that
/// failure (`None`: all those left).
/// rustix's `sendmmsg` wraps the system call safely, so the driver needs no `unsafe`.
pub(super) fn try_send_batch(socket: &UdpSocket, frames: &[Bytes]) -> (usize, Option<io::Error>) {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags};
    let frames = &frames[..frames.len().min(SEND_BATCH)];
    match frames {
        [] => return (0, None),
        [one] => {
            return match try_send(socket, one) {
                Ok(_) => (1, None),
                Err(e) => (0, Some(e)),
            };
        }
        _ => {}
    }
    // On the stack for a batch the engine makes (at most SEND_BATCH frames): the headers
    // borrow the frames, so they cannot be kept between calls without `unsafe`.
    let iovs: SmallVec<[io::IoSlice<'_>; SEND_BATCH]> =
        frames.iter().map(|f| io::IoSlice::new(f)).collect();
    // No ancillary data, but each message needs a buffer of its own (empty: no allocation).
    let mut controls: SmallVec<[SendAncillaryBuffer<'_, '_, '_>; SEND_BATCH]> = frames
        .iter()
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut messages: SmallVec<[MMsgHdr<'_>; SEND_BATCH]> = iovs
        .iter()
        .zip(controls.iter_mut())
        .map(|(iov, control)| MMsgHdr::new(std::slice::from_ref(iov), control))
        .collect();
    let mut sent = 0;
    while let Some(rest) = messages.get_mut(sent..)
        && !rest.is_empty()
    {
        let asked = rest.len();
        match rustix::net::sendmmsg(socket, rest, SendFlags::empty()) {
            Ok(0) => return (sent, Some(io::ErrorKind::WouldBlock.into())),
            Ok(n) => {
                sent += n;
                if n < asked {
                    // The kernel stopped at a message that failed and does not say why: it
                    // drops that error, and a socket error (an ICMP refusal of an earlier
                    // datagram) is consumed with it. That message goes alone, so that its own
                    // send reports its fate.
                    match try_send(socket, &frames[sent]) {
                        Ok(_) => sent += 1,
                        Err(e) => return (sent, Some(e)),
                    }
                }
            }
            Err(e) => return (sent, Some(e.into())),
        }
    }
    (sent, None)
}

/// Datagrams one GSO send carries at most: the kernel's limit (`UDP_MAX_SEGMENTS`) on older
/// kernels (newer ones allow 128).
const GSO_SEGMENTS: usize = 64;

/// Bytes one GSO send carries at most: below the largest UDP payload (65,507 bytes over IPv4).
const GSO_BYTES: usize = 65_000;

/// Whether a face's frames may leave as GSO sends (UDP generic segmentation offload: one
/// `sendmsg` hands the kernel several datagrams as one buffer, which it walks through its
/// stack once and cuts into datagrams as late as it can, on loopback and veth not at all until
/// the receiving socket). Every face starts by trying it; the kernel's refusal lowers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Gso {
    /// Frames of up to this many bytes may be sent as segments of a GSO send.
    largest_segment: usize,
}

impl Default for Gso {
    fn default() -> Self {
        Self {
            largest_segment: MAX_FRAME,
        }
    }
}

impl Gso {
    /// How many of `frames`, from the first, can leave as one GSO send: frames of the first
    /// one's size, the last of them possibly shorter (the kernel's rule), within the limits.
    /// 1 when GSO cannot help (a frame alone, or the next one longer).
    pub(super) fn run(self, frames: &[Bytes]) -> usize {
        let Some(first) = frames.first() else {
            return 0;
        };
        let size = first.len();
        if size == 0 || size > self.largest_segment {
            return 1;
        }
        let mut n = 1;
        let mut bytes = size;
        for frame in &frames[1..] {
            if n == GSO_SEGMENTS || frame.len() > size || frame.is_empty() {
                break;
            }
            bytes += frame.len();
            if bytes > GSO_BYTES {
                break;
            }
            n += 1;
            if frame.len() < size {
                break;
            }
        }
        n
    }

    /// How many of `frames`, from the first, do not start a GSO run of two or more: they go
    /// in one `sendmmsg` instead.
    pub(super) fn singles(self, frames: &[Bytes]) -> usize {
        (0..frames.len())
            .find(|&at| self.run(&frames[at..]) >= 2)
            .unwrap_or(frames.len())
    }

    /// The kernel refused a GSO send of `segment`-byte datagrams with `e`: returns true if that
    /// is a refusal of GSO itself (then this face sends such frames one datagram each from now
    /// on, and the frames are sent again that way), false for an error of the send.
    /// - EMSGSIZE (EINVAL on some kernels): a segment does not fit the path MTU (GSO never
    ///   fragments), so only frames shorter than this one are tried again;
    /// - EIO: the route's device does not compute UDP checksums for the kernel, or the route
    ///   goes through IPsec: GSO is off for the face.
    pub(super) fn refused(&mut self, segment: usize, e: &io::Error) -> bool {
        match e.raw_os_error() {
            Some(code) if code == Errno::EMSGSIZE as i32 || code == Errno::EINVAL as i32 => {
                self.largest_segment = self.largest_segment.min(segment.saturating_sub(1));
                true
            }
            Some(code) if code == Errno::EIO as i32 => {
                self.largest_segment = 0;
                true
            }
            _ => false,
        }
    }
}

/// Sends `frames`, a GSO run ([`Gso::run`]), in one `sendmsg`: the kernel cuts the buffer into
/// datagrams of the first frame's size, so each frame arrives as the datagram it is. All or
/// nothing: an error means none of them left.
pub(super) fn try_send_segments(socket: &UdpSocket, frames: &[Bytes]) -> io::Result<()> {
    let Some(first) = frames.first() else {
        return Ok(());
    };
    let segment = u16::try_from(first.len()).map_err(|_| io::Error::from(Errno::EINVAL))?;
    let iovs: SmallVec<[io::IoSlice<'_>; GSO_SEGMENTS]> =
        frames.iter().map(|f| io::IoSlice::new(f)).collect();
    sendmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &iovs,
        &[ControlMessage::UdpGsoSegments(&segment)],
        MsgFlags::MSG_DONTWAIT,
        None,
    )
    .map(drop)
    .map_err(io::Error::from)
}

/// What one non-blocking receive on the listening socket gave.
pub(super) enum Received {
    /// A datagram from a peer.
    Datagram(SocketAddr, Frame),
    /// A datagram over [`MAX_FRAME`], dropped rather than delivered cut.
    Oversize,
    /// Nothing is waiting (or the socket reported an error concerning one peer, such as an
    /// ICMP unreachable for an earlier send).
    Nothing,
}

/// Receives one datagram from the listening socket without waiting, copied out of `buf` into
/// a frame of its own. tokio checks the socket's cached readiness first, so calling this on a
/// quiet socket costs no system call. The listener hears only new peers: one datagram per
/// system call is enough here.
pub(super) fn try_recv(socket: &UdpSocket, buf: &mut BytesMut) -> Received {
    buf.clear();
    buf.reserve(LISTEN_BUFFER);
    match socket.try_recv_buf_from(buf) {
        Ok((n, _)) if n > MAX_FRAME => Received::Oversize,
        Ok((0, _)) => Received::Nothing,
        Ok((n, peer)) => Received::Datagram(peer, Frame::copy_from(&buf[..n])),
        Err(e) => {
            if e.kind() != io::ErrorKind::WouldBlock {
                debug!("UDP receive: {e}");
            }
            Received::Nothing
        }
    }
}

/// What a UDP face task needs.
pub(super) struct FaceTask {
    pub(super) id: FaceId,
    pub(super) socket: Arc<UdpSocket>,
    pub(super) inbox: InboxTx,
    /// Where the end of the face is reported.
    pub(super) events: mpsc::Sender<Event>,
    /// Close the face when the peer's port is unreachable (ICMP), as NFD does for on-demand
    /// faces; configured faces ignore it (the peer may come back).
    pub(super) close_on_refused: bool,
    /// Shared with the other face tasks and the core task.
    pub(super) counters: Arc<ReceiveCounters>,
}

/// Reads the face's socket into its inbox until the core task drops the face.
pub(super) async fn face_task(task: FaceTask) {
    let FaceTask {
        id,
        socket,
        inbox,
        events,
        close_on_refused,
        counters,
    } = task;
    let mut frames = Vec::new();
    let end = 'face: loop {
        let ready = match socket
            .ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR)
            .await
        {
            Ok(ready) => ready,
            Err(e) => break End::Io(e),
        };
        if ready.is_error() {
            // An ICMP error for an earlier send (port unreachable: the peer is gone) that no
            // send has reported yet: a GSO send leaves whole before the ICMP comes back, and
            // nothing else may be sent on this face. Taken here, as NFD's receive does.
            let taken = socket.try_io(tokio::io::Interest::ERROR, || {
                socket
                    .take_error()?
                    .map_or_else(|| Err(io::ErrorKind::WouldBlock.into()), Ok)
            });
            match taken {
                Ok(e) if e.kind() == io::ErrorKind::ConnectionRefused && close_on_refused => {
                    break End::Io(e);
                }
                Ok(e) => debug!(face = %id, "UDP socket error: {e}"),
                Err(_) => {}
            }
            if !ready.is_readable() {
                continue;
            }
        }
        let mut read = 0;
        let mut pushed = false;
        let mut drained = false;
        while read < FACE_BATCH {
            let mut got = 0;
            // A short batch means the socket's queue was empty: reported as `WouldBlock`, so
            // that tokio clears the socket's readiness now instead of after one more system
            // call that would find nothing. A datagram arriving after the call wakes the task
            // again (readiness is edge-triggered, and tokio does not clear an event newer
            // than the one it served). A socket error (an ICMP refusal) that cut a batch
            // short is read with the next datagram.
            let result = socket.try_io(tokio::io::Interest::READABLE, || {
                got = recv_batch(&socket, &mut frames, &counters)?;
                if got < RECV_BATCH {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            // Datagrams, not messages: one message may hold many (UDP_GRO).
            read += got.max(frames.len()).max(1);
            for frame in frames.drain(..) {
                // Waiting here is the back-pressure: this peer's datagrams stay in its own
                // socket buffer (beyond the batch in hand).
                if inbox.push(frame).await.is_err() {
                    return;
                }
                pushed = true;
            }
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && close_on_refused => {
                    if pushed {
                        inbox.announce();
                    }
                    break 'face End::Io(e);
                }
                // Errors about one earlier datagram (ICMP for a send): the face lives on.
                Err(e) => debug!(face = %id, "UDP receive: {e}"),
            }
        }
        if pushed {
            inbox.announce();
        }
        if !drained {
            // A face that filled its batch lets the others run before it reads on.
            tokio::task::yield_now().await;
        }
    };
    let _ = events.send(Event::Closed { face: id, end }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(sizes: &[usize]) -> Vec<Bytes> {
        sizes.iter().map(|&n| Bytes::from(vec![7u8; n])).collect()
    }

    #[test]
    fn a_gso_run_is_frames_of_one_size_the_last_maybe_shorter() {
        let gso = Gso::default();
        assert_eq!(gso.run(&frames(&[])), 0);
        assert_eq!(gso.run(&frames(&[100])), 1);
        assert_eq!(gso.run(&frames(&[100, 100, 100])), 3);
        // A shorter frame ends the run, and belongs to it.
        assert_eq!(gso.run(&frames(&[100, 100, 60, 100])), 3);
        // A longer one is not part of it.
        assert_eq!(gso.run(&frames(&[100, 100, 120])), 2);
        assert_eq!(gso.run(&frames(&[100, 120])), 1);
        // At most 64 frames, and at most GSO_BYTES.
        assert_eq!(gso.run(&frames(&[100; 70])), GSO_SEGMENTS);
        assert_eq!(gso.run(&frames(&[8000; 10])), GSO_BYTES / 8000);
        // Frames before the first run of two go to sendmmsg.
        assert_eq!(gso.singles(&frames(&[40, 41, 42, 42, 42])), 2);
        assert_eq!(gso.singles(&frames(&[40, 41, 42])), 3);
        assert_eq!(gso.singles(&frames(&[40, 40])), 0);
    }

    #[test]
    fn a_refused_gso_send_lowers_what_is_tried_again() {
        let mut gso = Gso::default();
        // Over the path MTU: frames of that size and more go one datagram each from now on.
        assert!(gso.refused(3000, &io::Error::from(Errno::EMSGSIZE)));
        assert_eq!(gso.run(&frames(&[3000, 3000])), 1);
        assert_eq!(gso.run(&frames(&[2999, 2999])), 2);
        assert!(gso.refused(2000, &io::Error::from(Errno::EINVAL)));
        assert_eq!(gso.run(&frames(&[2999, 2999])), 1);
        // Any other error is the send's, not GSO's.
        assert!(!gso.refused(1000, &io::Error::from(Errno::ECONNREFUSED)));
        assert!(!gso.refused(1000, &io::ErrorKind::WouldBlock.into()));
        assert_eq!(gso.run(&frames(&[1000, 1000])), 2);
        // A device that cannot: GSO is off for the face.
        assert!(gso.refused(1000, &io::Error::from(Errno::EIO)));
        assert_eq!(gso.run(&frames(&[10, 10])), 1);
        assert_eq!(gso.singles(&frames(&[10, 10, 10])), 3);
    }
}

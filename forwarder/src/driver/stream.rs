//! Stream faces (Unix, TCP, QUIC): TLV framing on a byte stream, the read loop, the batched
//! write loop, and reconnection of permanent faces.
//!
//! One task per face runs the read loop and the write loop concurrently (`select!`), so the
//! face ends as soon as either side fails, and a permanent face can reconnect while keeping
//! its write queue, its inbox (and its `FaceId`). The read loop pushes the frames it cuts into
//! the face's inbox (`inbox.rs`); a full inbox stops this face's reading only.
//!
//! The write queue is bounded in bytes, not frames (`faces.write_queue_bytes`): the engine
//! reads how many bytes wait (one atomic load), marks packets when that passes the congestion
//! threshold (`congestion.rs`) and drops only beyond the bound; the write loop subtracts what
//! it has written. Bytes taken for a write count as queued until the write completes, so the
//! length seen includes the batch in flight.
//!
//! A peer that starts a frame and does not finish it within `faces.partial_frame_timeout_s`
//! (a slowloris: a header, then a byte now and then) is cut off, so it cannot hold a task, a
//! read block and a face forever by sending just enough to look alive.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::debug;

use super::Event;
use super::connect::Connector;
use super::inbox::InboxTx;
use super::uri::FaceUri;
use crate::core::{FaceId, Frame};

/// Largest frame accepted on any face: an 8800-byte packet plus NDNLPv2 headers. A stream
/// that announces more is not speaking NDN (or is hostile): the face is closed.
pub(super) const MAX_FRAME: usize = 9000;

/// Bytes allocated per read buffer. Frames are copied out of it, so it is reused as soon as
/// what it holds has been cut.
const READ_BLOCK: usize = 16 * 1024;

/// Below this much free space, a new block is started before reading.
const MIN_SPARE: usize = 2048;

/// Frames taken from the write queue per write call.
const WRITE_BATCH: usize = 64;

/// A peer that accepts no byte for this long is considered gone (otherwise a stuck writer
/// would hold its queue and task forever).
const WRITE_STALL: Duration = Duration::from_secs(30);

/// Time given to flush and close a stream when the core closes the face.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Backoff between reconnection attempts of a permanent face.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub(super) type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
pub(super) type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;
/// Yields the read half. A future because a QUIC receive stream only appears once the peer
/// writes on it; for sockets it is ready at once.
pub(super) type ReadHalf = Pin<Box<dyn Future<Output = io::Result<BoxRead>> + Send>>;

/// An open byte stream, not yet attached to a face.
pub(super) struct StreamConn {
    pub(super) read: ReadHalf,
    pub(super) write: BoxWrite,
}

impl fmt::Debug for StreamConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamConn")
    }
}

impl StreamConn {
    /// Both halves available now (sockets).
    pub(super) fn ready(read: impl AsyncRead + Send + Unpin + 'static, write: BoxWrite) -> Self {
        let read: BoxRead = Box::new(read);
        Self {
            read: Box::pin(async move { Ok(read) }),
            write,
        }
    }
}

/// The result of cutting at the front of a stream buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cut {
    /// One complete frame, copied out of the buffer into one of its own size (the copy the
    /// core would otherwise make; the read buffer is then never pinned and is reused).
    Frame(Frame),
    /// The buffer holds only part of the next frame (or nothing).
    NeedMore,
    /// The next frame declares this many bytes, more than [`MAX_FRAME`].
    Oversize(usize),
    /// The bytes at the front are not a TLV header.
    Invalid,
}

/// Cuts the next frame off the front of `buf`.
///
/// The declared size is checked as soon as the header is readable, so the buffer never grows
/// beyond `MAX_FRAME` plus one read while waiting for a frame that will never be accepted.
pub(super) fn cut_frame(buf: &mut BytesMut) -> Cut {
    if buf.is_empty() {
        return Cut::NeedMore;
    }
    match nfwd_tlv::element::frame_len(buf) {
        Ok(Some(n)) if n > MAX_FRAME => Cut::Oversize(n),
        Ok(Some(n)) => {
            let frame = Frame::copy_from(&buf[..n]);
            buf.advance(n);
            Cut::Frame(frame)
        }
        Ok(None) => match nfwd_tlv::element::read_header(buf) {
            Ok((_, len, hdr)) if hdr.saturating_add(len) > MAX_FRAME => {
                Cut::Oversize(hdr.saturating_add(len))
            }
            _ => Cut::NeedMore,
        },
        Err(_) => Cut::Invalid,
    }
}

/// Why a stream face stopped.
#[derive(Debug)]
pub(super) enum End {
    /// The core closed the face (its queue or inbox is gone), or the daemon is stopping.
    ClosedByCore,
    /// The peer closed the stream.
    Eof,
    /// A read or write failed.
    Io(io::Error),
    /// The peer accepted nothing for [`WRITE_STALL`].
    WriteStalled,
    /// The peer announced a frame larger than [`MAX_FRAME`].
    Oversize(usize),
    /// The peer sent bytes that are not TLV.
    Invalid,
    /// The peer held an incomplete frame longer than `faces.partial_frame_timeout_s`.
    PartialFrame(Duration),
}

impl End {
    /// Whether the driver should count this as a framing violation.
    pub(super) fn is_oversize(&self) -> bool {
        matches!(self, Self::Oversize(_))
    }

    /// Whether the peer held a partial frame too long.
    pub(super) fn is_partial_frame(&self) -> bool {
        matches!(self, Self::PartialFrame(_))
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClosedByCore => f.write_str("closed by the forwarder"),
            Self::Eof => f.write_str("peer closed the stream"),
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::WriteStalled => write!(f, "peer accepted nothing for {WRITE_STALL:?}"),
            Self::Oversize(n) => write!(f, "frame of {n} bytes exceeds {MAX_FRAME}"),
            Self::Invalid => f.write_str("invalid TLV header"),
            Self::PartialFrame(t) => write!(f, "incomplete frame held longer than {t:?}"),
        }
    }
}

/// Reads frames into the face's inbox until the stream ends. `partial_timeout` bounds how
/// long one incomplete frame may sit at the front of the buffer.
async fn read_loop(read: ReadHalf, inbox: &InboxTx, partial_timeout: Option<Duration>) -> End {
    let mut read = match read.await {
        Ok(r) => r,
        Err(e) => return End::Io(e),
    };
    let mut buf = BytesMut::with_capacity(READ_BLOCK);
    // When the incomplete frame at the front of `buf` began (None: none held).
    let mut partial_since: Option<Instant> = None;
    // Catches a peer that goes silent in the middle of a frame. Armed only while a partial
    // frame is held, and re-armed lazily when it fires early, so a face streaming large
    // frames does not touch the timer wheel on every read.
    let silence = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(silence);
    let mut armed = false;
    loop {
        if buf.capacity() - buf.len() < MIN_SPARE {
            // Cut frames were copied out, so `reserve` reuses the block: it moves only the
            // partial frame at the front (at most MAX_FRAME bytes) back to its start.
            buf.reserve(READ_BLOCK);
        }
        let read_result = tokio::select! {
            // Bytes that arrived are read before the timer is looked at: only a peer silent
            // while it holds a partial frame meets the timer.
            biased;
            r = read.read_buf(&mut buf) => r,
            () = &mut silence, if armed => {
                armed = false;
                if let (Some(since), Some(limit)) = (partial_since, partial_timeout) {
                    if since.elapsed() >= limit {
                        return End::PartialFrame(limit);
                    }
                    silence.as_mut().reset((since + limit).into());
                    armed = true;
                }
                continue;
            }
        };
        match read_result {
            Ok(0) => return End::Eof,
            Ok(_) => {}
            Err(e) => return End::Io(e),
        }
        let mut cut = false;
        let violation = loop {
            match cut_frame(&mut buf) {
                Cut::Frame(frame) => {
                    // Waiting here is the back-pressure: a busy core slows this peer down.
                    if inbox.push(frame).await.is_err() {
                        return End::ClosedByCore;
                    }
                    cut = true;
                }
                Cut::NeedMore => break None,
                Cut::Oversize(n) => break Some(End::Oversize(n)),
                Cut::Invalid => break Some(End::Invalid),
            }
        };
        if cut {
            // One announcement per read, however many frames it held (the good frames before
            // a violation too: a permanent face lives on).
            inbox.announce();
        }
        if let Some(end) = violation {
            return end;
        }
        let Some(limit) = partial_timeout else {
            continue;
        };
        if buf.is_empty() {
            partial_since = None;
        } else if cut || partial_since.is_none() {
            // A new partial frame starts. Stamped after the pushes, so time spent waiting for
            // the core task is not held against the peer.
            let now = Instant::now();
            partial_since = Some(now);
            if !armed {
                silence.as_mut().reset((now + limit).into());
                armed = true;
            }
        } else if partial_since.is_some_and(|since| since.elapsed() >= limit) {
            // More bytes of the same frame, but too late: a trickle.
            return End::PartialFrame(limit);
        }
    }
}

/// The engine's end of a stream face's write queue. The channel is unbounded; the bound, in
/// bytes, is the engine's to keep with [`WriteQueue::queued`] before it pushes.
#[derive(Debug)]
pub(super) struct WriteQueue {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicU64>,
}

/// The face task's end of the write queue.
#[derive(Debug)]
pub(super) struct WriteQueueRx {
    rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicU64>,
}

/// A new, empty write queue.
pub(super) fn write_queue() -> (WriteQueue, WriteQueueRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicU64::new(0));
    (
        WriteQueue {
            tx,
            queued: Arc::clone(&queued),
        },
        WriteQueueRx { rx, queued },
    )
}

impl WriteQueue {
    /// Bytes queued and not yet written (the batch being written included).
    #[inline]
    pub(super) fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues `frame`; gives it back if the face task has ended.
    #[inline]
    pub(super) fn push(&self, frame: Bytes) -> Result<(), Bytes> {
        let len = frame.len() as u64;
        // Counted before it is sent, so the write loop never subtracts what was not added.
        self.queued.fetch_add(len, Ordering::Relaxed);
        self.tx.send(frame).map_err(|e| {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            e.0
        })
    }
}

impl WriteQueueRx {
    fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }
}

/// A batch of frames written with one gather-write (no copy into a staging buffer).
struct FrameBatch {
    frames: VecDeque<Bytes>,
    remaining: usize,
}

impl Buf for FrameBatch {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.frames.front().map_or(&[], |b| b.as_ref())
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, frame) in dst.iter_mut().zip(&self.frames) {
            *slot = IoSlice::new(frame);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        self.remaining = self.remaining.saturating_sub(cnt);
        while cnt > 0 {
            let Some(front) = self.frames.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.frames.pop_front();
        }
    }
}

/// Writes queued frames until the queue closes or the stream fails.
async fn write_loop(write: &mut BoxWrite, queue: &mut WriteQueueRx) -> End {
    let mut taken = Vec::with_capacity(WRITE_BATCH);
    loop {
        if queue.rx.recv_many(&mut taken, WRITE_BATCH).await == 0 {
            // Queue closed: everything queued has been written; close our direction.
            let _ = tokio::time::timeout(CLOSE_GRACE, write.shutdown()).await;
            return End::ClosedByCore;
        }
        let batch_len: usize = taken.iter().map(Bytes::len).sum();
        let mut batch = FrameBatch {
            remaining: batch_len,
            // Empty frames would make `chunk()` empty while bytes remain; drop them.
            frames: taken.drain(..).filter(|f| !f.is_empty()).collect(),
        };
        let write_all = async {
            write.write_all_buf(&mut batch).await?;
            write.flush().await
        };
        let result = tokio::time::timeout(WRITE_STALL, write_all).await;
        // Written, or lost with the connection: no longer queued either way.
        queue.queued.fetch_sub(batch_len as u64, Ordering::Relaxed);
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return End::Io(e),
            Err(_) => return End::WriteStalled,
        }
    }
}

/// Runs one connection of a face until it ends.
async fn run_conn(
    conn: StreamConn,
    queue: &mut WriteQueueRx,
    inbox: &InboxTx,
    partial_timeout: Option<Duration>,
) -> End {
    let StreamConn { read, mut write } = conn;
    tokio::select! {
        end = read_loop(read, inbox, partial_timeout) => end,
        end = write_loop(&mut write, queue) => end,
    }
}

/// How a permanent face gets its connection back.
pub(super) struct Reconnect {
    pub(super) connector: Arc<Connector>,
    pub(super) uri: FaceUri,
}

impl fmt::Debug for Reconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reconnect({})", self.uri)
    }
}

/// What a stream face task needs besides its connection.
pub(super) struct FaceTask {
    pub(super) id: FaceId,
    /// Frames to write, from the core task.
    pub(super) queue: WriteQueueRx,
    /// Frames read, to the core task.
    pub(super) inbox: InboxTx,
    /// Where the end of the face is reported.
    pub(super) events: mpsc::Sender<Event>,
    pub(super) reconnect: Option<Reconnect>,
    /// `faces.partial_frame_timeout_s` (None: never).
    pub(super) partial_timeout: Option<Duration>,
}

/// The task behind one stream face.
pub(super) async fn face_task(mut conn: StreamConn, task: FaceTask) {
    let FaceTask {
        id,
        mut queue,
        inbox,
        events,
        reconnect,
        partial_timeout,
    } = task;
    loop {
        let end = run_conn(conn, &mut queue, &inbox, partial_timeout).await;
        if matches!(end, End::ClosedByCore) {
            debug!(face = %id, "stream face stopped: {end}");
            return;
        }
        let Some(re) = &reconnect else {
            let _ = events.send(Event::Closed { face: id, end }).await;
            return;
        };
        debug!(face = %id, uri = %re.uri, "permanent face lost its connection ({end}); reconnecting");
        if end.is_oversize() || end.is_partial_frame() {
            // Still counted, although the face lives on.
            let _ = events.send(Event::FramingError(id, end)).await;
        }
        let mut backoff = BACKOFF_MIN;
        conn = loop {
            tokio::time::sleep(backoff).await;
            if queue.is_closed() || inbox.is_closed() || events.is_closed() {
                return;
            }
            match re.connector.connect_stream(&re.uri).await {
                Ok((c, _)) => break c,
                Err(e) => {
                    debug!(face = %id, uri = %re.uri, "reconnect failed: {e}");
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        };
        debug!(face = %id, uri = %re.uri, "permanent face reconnected");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_partial_and_coalesced_frames() {
        let mut buf = BytesMut::new();
        assert_eq!(cut_frame(&mut buf), Cut::NeedMore);
        buf.extend_from_slice(&[0x05, 0x03, 1]);
        assert_eq!(cut_frame(&mut buf), Cut::NeedMore);
        buf.extend_from_slice(&[2, 3, 0x06, 0x00, 0x05]);
        assert_eq!(
            cut_frame(&mut buf),
            Cut::Frame(Frame::copy_from(&[5, 3, 1, 2, 3]))
        );
        assert_eq!(cut_frame(&mut buf), Cut::Frame(Frame::copy_from(&[6, 0])));
        assert_eq!(cut_frame(&mut buf), Cut::NeedMore);
        assert_eq!(buf.as_ref(), &[0x05]);
    }

    #[test]
    fn refuses_oversize_before_it_arrives() {
        // Declares 9001 bytes of value: refused from the header alone.
        let mut buf = BytesMut::from(&[0x06, 0xfd, 0x23, 0x29][..]);
        assert!(matches!(cut_frame(&mut buf), Cut::Oversize(_)));
        // 8800-byte packets are fine.
        let mut buf = BytesMut::from(&[0x06, 0xfd, 0x22, 0x60][..]);
        assert_eq!(cut_frame(&mut buf), Cut::NeedMore);
        let mut buf = BytesMut::from(&[0x00, 0x01, 0x00][..]);
        assert_eq!(cut_frame(&mut buf), Cut::Invalid);
    }

    #[test]
    fn frame_batch_advances_across_frames() {
        let mut b = FrameBatch {
            frames: [
                Bytes::from_static(b"abc"),
                Bytes::from_static(b"de"),
                Bytes::from_static(b"f"),
            ]
            .into(),
            remaining: 6,
        };
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(b.chunks_vectored(&mut slices), 3);
        b.advance(4);
        assert_eq!(b.chunk(), b"e");
        assert_eq!(b.remaining(), 2);
        b.advance(2);
        assert_eq!(b.remaining(), 0);
        assert_eq!(b.chunk(), b"");
    }
}

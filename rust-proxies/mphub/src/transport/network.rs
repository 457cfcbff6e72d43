//! capnp-rpc's `VatNetwork` for one stream connection, over our own [`framing`].
//!
//! capnp-rpc's `twoparty` network reads with capnp's allocator (the claimed size at
//! once) and has no hook for what a peer leaves unread. This one adds, per connection:
//! reading that allocates as bytes arrive, a 64 MiB message bound, backpressure (stop
//! reading a peer that does not read its replies, then disconnect it), and the activity
//! time a full listener uses to pick an idle connection.
//!
//! ```text
//!   capnp-rpc ──OutgoingMessage::send──▶ queue ──writer task──▶ socket
//!        ▲                                 │ queued bytes
//!        └──receive_incoming_message◀── FrameReader ◀── socket (paused while queued
//!                                                        bytes ≥ pause_reading_bytes)
//! ```

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Instant;

use capnp::capability::Promise;
use capnp::message::{Builder, HeapAllocator, ReaderOptions};
use capnp_rpc::rpc_twoparty_capnp::Side;
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;

use super::framing::{frame_len, write_frame, Frame, FrameReader};
use crate::limits::Limits;
use crate::proxy::MAX_MESSAGE_WORDS;

/// Buffer that small outgoing messages are gathered in before a write.
const WRITE_BUFFER: usize = 64 * 1024;

/// Traffic of one connection, shared with its [`ConnState`](crate::state::ConnState).
pub(crate) struct LinkStats {
    /// Bytes of replies (`Return` messages) handed to the writer and not yet written to
    /// the socket. Our own calls do not count: their size is ours to choose, and a peer
    /// that stops reading them (it aborted the connection, say) must still be read.
    queued: Cell<usize>,
    /// When a message last went either way.
    last_activity: Cell<Instant>,
    /// When the socket last took bytes from us.
    last_write: Cell<Instant>,
    /// Written below the resume mark, or the connection is being dropped.
    drained: Notify,
    /// Set when the peer left more than `max_unread_bytes` unread.
    overflowed: Cell<bool>,
    abort: Notify,
    pause_at: usize,
    max_unread: usize,
    unread_timeout: std::time::Duration,
}

impl LinkStats {
    pub(crate) fn new(limits: &Limits) -> Rc<LinkStats> {
        Rc::new(LinkStats {
            queued: Cell::new(0),
            last_activity: Cell::new(Instant::now()),
            last_write: Cell::new(Instant::now()),
            drained: Notify::new(),
            overflowed: Cell::new(false),
            abort: Notify::new(),
            pause_at: limits.pause_reading_bytes.max(1),
            max_unread: limits.max_unread_bytes.max(1),
            unread_timeout: limits.unread_timeout,
        })
    }

    /// When a message last went either way.
    pub(crate) fn last_activity(&self) -> Instant {
        self.last_activity.get()
    }

    /// Bytes written by us and not yet taken by the socket.
    pub(crate) fn queued(&self) -> usize {
        self.queued.get()
    }

    fn add(&self, bytes: usize) {
        let queued = self.queued.get() + bytes;
        self.queued.set(queued);
        if queued > self.max_unread {
            self.give_up();
        }
    }

    /// The peer does not read: stop the writer (it may be blocked on a full socket) and
    /// the reader; capnp-rpc then drops the connection.
    fn give_up(&self) {
        if !self.overflowed.replace(true) {
            crate::log::warn_limited(
                "unread_replies",
                format_args!("IPC: closing a connection: {}", self.unread_error().extra),
            );
            self.abort.notify_one();
            self.drained.notify_waiters();
        }
    }

    fn written(&self, bytes: usize) {
        let queued = self.queued.get().saturating_sub(bytes);
        self.queued.set(queued);
        let now = Instant::now();
        self.last_activity.set(now);
        self.last_write.set(now);
        if queued <= self.pause_at / 2 {
            self.drained.notify_waiters();
        }
    }

    fn unread_error(&self) -> capnp::Error {
        capnp::Error::disconnected(format!(
            "the peer does not read its replies: {} KiB unread (limits: max_unread_bytes \
             {} KiB, unread_timeout {:?})",
            self.queued.get() / 1024,
            self.max_unread / 1024,
            self.unread_timeout
        ))
    }

    /// Waits while the peer has `pause_at` bytes or more of replies unread (the writer
    /// gives up on the connection if the peer takes none of them for `unread_timeout`).
    async fn wait_for_reader(&self) -> capnp::Result<()> {
        if self.queued.get() >= self.pause_at {
            tracing::debug!(target: "ipc", "pausing reads: {} bytes unread by the peer", self.queued.get());
            while self.queued.get() > self.pause_at / 2 && !self.overflowed.get() {
                self.drained.notified().await;
            }
        }
        if self.overflowed.get() {
            return Err(self.unread_error());
        }
        Ok(())
    }

    /// Runs one socket write; gives up on the connection when it makes no progress for
    /// `unread_timeout` while replies of `pause_at` bytes or more wait.
    async fn watch<T>(
        &self,
        write: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> capnp::Result<T> {
        let started = Instant::now();
        tokio::pin!(write);
        // Most writes finish at once; only a blocked one needs the timer.
        if let std::task::Poll::Ready(r) = futures::poll!(&mut write) {
            return r.map_err(|e| capnp::Error::disconnected(e.to_string()));
        }
        loop {
            tokio::select! {
                r = &mut write => {
                    return r.map_err(|e| capnp::Error::disconnected(e.to_string()));
                }
                () = tokio::time::sleep(self.unread_timeout) => {
                    let since = self.last_write.get().max(started);
                    if self.queued.get() >= self.pause_at && since.elapsed() >= self.unread_timeout {
                        self.give_up();
                        return Err(self.unread_error());
                    }
                }
            }
        }
    }
}

enum Item {
    /// A message, its size on the wire if it is a reply (counted in `queued`), and who
    /// waits for it to be written.
    Message(Rc<Builder<HeapAllocator>>, usize, oneshot::Sender<()>),
    Done(capnp::Result<()>, oneshot::Sender<()>),
}

struct Outgoing {
    message: Builder<HeapAllocator>,
    queue: mpsc::UnboundedSender<Item>,
    stats: Rc<LinkStats>,
}

impl capnp_rpc::OutgoingMessage for Outgoing {
    fn get_body(&mut self) -> capnp::Result<capnp::any_pointer::Builder<'_>> {
        self.message.get_root()
    }

    fn get_body_as_reader(&self) -> capnp::Result<capnp::any_pointer::Reader<'_>> {
        self.message.get_root_as_reader()
    }

    fn send(self: Box<Self>) -> (Promise<(), capnp::Error>, Rc<Builder<HeapAllocator>>) {
        let Outgoing {
            message,
            queue,
            stats,
        } = *self;
        let message = Rc::new(message);
        let bytes = if is_reply(&message) {
            frame_len(&message.get_segments_for_output())
        } else {
            0
        };
        let (done, written) = oneshot::channel();
        if queue
            .unbounded_send(Item::Message(message.clone(), bytes, done))
            .is_ok()
        {
            stats.add(bytes);
        }
        let written = written
            .map(|r| r.map_err(|_| capnp::Error::disconnected("the connection is closed".into())));
        (Promise::from_future(written), message)
    }

    fn take(self: Box<Self>) -> Builder<HeapAllocator> {
        self.message
    }

    fn size_in_words(&self) -> usize {
        self.message.size_in_words()
    }
}

/// True for a `Return` message: the answer to a peer's call.
fn is_reply(message: &Builder<HeapAllocator>) -> bool {
    use capnp_rpc::rpc_capnp::message;
    message
        .get_root_as_reader::<message::Reader<'_>>()
        .ok()
        .and_then(|m| m.which().ok())
        .is_some_and(|w| matches!(w, message::Return(_)))
}

struct Incoming(capnp::message::Reader<Frame>);

impl capnp_rpc::IncomingMessage for Incoming {
    fn get_body(&self) -> capnp::Result<capnp::any_pointer::Reader<'_>> {
        self.0.get_root()
    }
}

/// The one connection of a two-party network.
struct Link {
    /// This side (capnp-rpc's `twoparty` convention).
    side: Side,
    /// Taken while a read is in progress.
    reader: Rc<RefCell<Option<FrameReader<OwnedReadHalf>>>>,
    queue: mpsc::UnboundedSender<Item>,
    stats: Rc<LinkStats>,
    /// Fired when the last handle to the link is gone.
    gone: Option<oneshot::Sender<()>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(gone) = self.gone.take() {
            let _ = gone.send(());
        }
    }
}

struct Connection(Rc<RefCell<Link>>);

impl capnp_rpc::Connection<Side> for Connection {
    fn get_peer_vat_id(&self) -> Side {
        self.0.borrow().side
    }

    fn new_outgoing_message(
        &mut self,
        first_segment_word_size: u32,
    ) -> Box<dyn capnp_rpc::OutgoingMessage> {
        let link = self.0.borrow();
        Box::new(Outgoing {
            message: Builder::new(
                HeapAllocator::new().first_segment_words(first_segment_word_size),
            ),
            queue: link.queue.clone(),
            stats: link.stats.clone(),
        })
    }

    fn receive_incoming_message(
        &mut self,
    ) -> Promise<Option<Box<dyn capnp_rpc::IncomingMessage>>, capnp::Error> {
        let link = self.0.borrow();
        let slot = link.reader.clone();
        let stats = link.stats.clone();
        let Some(mut reader) = slot.borrow_mut().take() else {
            return Promise::err(capnp::Error::failed(
                "two reads at once on one connection".into(),
            ));
        };
        Promise::from_future(async move {
            // Backpressure: a peer that does not read its replies gets no new work done.
            stats.wait_for_reader().await?;
            let frame = reader.read_frame(MAX_MESSAGE_WORDS).await?;
            *slot.borrow_mut() = Some(reader);
            stats.last_activity.set(Instant::now());
            Ok(frame.map(|f| {
                let options = *ReaderOptions::new()
                    .traversal_limit_in_words(Some(MAX_MESSAGE_WORDS as usize));
                Box::new(Incoming(capnp::message::Reader::new(f, options)))
                    as Box<dyn capnp_rpc::IncomingMessage>
            }))
        })
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), capnp::Error> {
        let (done, finished) = oneshot::channel();
        let _ = self
            .0
            .borrow()
            .queue
            .unbounded_send(Item::Done(result, done));
        Promise::from_future(finished.map(|_| Ok(())))
    }
}

/// A two-party vat network over one unix stream, with [`Limits`].
pub(crate) struct Network {
    /// Handed to capnp-rpc by `accept` (the peer bootstraps from us).
    accepted: Option<Connection>,
    link: Weak<RefCell<Link>>,
    driver: futures::future::Shared<Promise<(), capnp::Error>>,
}

impl Network {
    pub(crate) fn new(stream: tokio::net::UnixStream, side: Side, stats: Rc<LinkStats>) -> Network {
        let (read, write) = stream.into_split();
        let (queue, items) = mpsc::unbounded();
        let (gone_tx, gone) = oneshot::channel::<()>();
        let link = Rc::new(RefCell::new(Link {
            side,
            reader: Rc::new(RefCell::new(Some(FrameReader::new(read)))),
            queue,
            stats: stats.clone(),
            gone: Some(gone_tx),
        }));
        let writer = write_loop(write, items, stats);
        // Done when the writer stopped and capnp-rpc let go of the connection.
        let driver = async move {
            let written = writer.await;
            let _ = gone.await;
            written
        };
        Network {
            link: Rc::downgrade(&link),
            accepted: Some(Connection(link)),
            driver: Promise::from_future(driver).shared(),
        }
    }
}

/// Writes queued messages, flushing when the queue runs dry; ends on `shutdown`, when
/// the queue closes, on a write error, or when the peer left too much unread.
async fn write_loop(
    write: OwnedWriteHalf,
    mut items: mpsc::UnboundedReceiver<Item>,
    stats: Rc<LinkStats>,
) -> capnp::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, write);
    let result = async {
        loop {
            let item = match items.try_recv() {
                Ok(item) => item,
                Err(mpsc::TryRecvError::Closed) => return Ok(()),
                Err(mpsc::TryRecvError::Empty) => {
                    // Nothing more queued: send what is buffered, then wait.
                    stats.watch(out.flush()).await?;
                    match items.next().await {
                        Some(item) => item,
                        None => return Ok(()),
                    }
                }
            };
            match item {
                Item::Message(message, bytes, done) => {
                    stats
                        .watch(write_frame(&mut out, &message.get_segments_for_output()))
                        .await?;
                    stats.written(bytes);
                    let _ = done.send(());
                }
                Item::Done(result, done) => {
                    stats.watch(out.flush()).await?;
                    let _ = out.shutdown().await;
                    let _ = done.send(());
                    return result;
                }
            }
        }
    };
    tokio::select! {
        r = result => r,
        () = stats.abort.notified() => Err(stats.unread_error()),
    }
}

impl capnp_rpc::VatNetwork<Side> for Network {
    fn connect(&mut self, host: Side) -> Option<Box<dyn capnp_rpc::Connection<Side>>> {
        let link = self.link.upgrade()?;
        if host == link.borrow().side {
            return None;
        }
        Some(Box::new(Connection(link)))
    }

    fn accept(&mut self) -> Promise<Box<dyn capnp_rpc::Connection<Side>>, capnp::Error> {
        match self.accepted.take() {
            Some(c) => Promise::ok(Box::new(c) as Box<dyn capnp_rpc::Connection<Side>>),
            None => Promise::from_future(futures::future::pending()),
        }
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), capnp::Error> {
        Promise::from_future(self.driver.clone())
    }
}

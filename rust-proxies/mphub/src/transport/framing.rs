//! Cap'n Proto's stream framing: a segment table (segment count − 1, then each segment's
//! size in words, padded to a word), then the segments.
//!
//! Reading allocates as bytes arrive: a header may claim up to 64 MiB, but the buffer
//! starts at 64 KiB and at most doubles per step, so a peer that announces a large
//! message and sends little costs little (capnp's own reader allocates the claimed size
//! at once).

use capnp::message::ReaderSegments;
use capnp::Word;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most segments a message may have; Cap'n Proto's C++ reader refuses more than 512.
pub(crate) const MAX_SEGMENTS: usize = 512;

/// The first allocation for a message body, in words (64 KiB).
const FIRST_CHUNK_WORDS: usize = 8 * 1024;

/// Size of the read buffer small messages are read through.
const READ_BUFFER: usize = 64 * 1024;

/// One received message: its segments, contiguous and word-aligned.
pub(crate) struct Frame {
    words: Vec<Word>,
    /// Each segment's `[start, end)` in words.
    bounds: Vec<(usize, usize)>,
}

impl ReaderSegments for Frame {
    fn get_segment(&self, id: u32) -> Option<&[u8]> {
        let &(start, end) = self.bounds.get(id as usize)?;
        Some(Word::words_to_bytes(&self.words[start..end]))
    }

    fn len(&self) -> usize {
        self.bounds.len()
    }
}

/// Reads frames from a byte stream through a small buffer; large bodies are read
/// straight into the message.
pub(crate) struct FrameReader<R> {
    stream: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

fn disconnected(what: impl std::fmt::Display) -> capnp::Error {
    capnp::Error::disconnected(what.to_string())
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(stream: R) -> Self {
        FrameReader {
            stream,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Reads some bytes into `dst` (at least one unless the stream ended).
    async fn read_some(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.start == self.end {
            if dst.len() >= self.buf.len() {
                return self.stream.read(dst).await;
            }
            self.start = 0;
            self.end = self.stream.read(&mut self.buf).await?;
        }
        let n = dst.len().min(self.end - self.start);
        dst[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }

    /// Fills `dst`. At a message boundary (`boundary`), a stream that ends before the
    /// first byte gives `Ok(false)`; ending anywhere else is a disconnect mid-message.
    async fn read_exact(&mut self, dst: &mut [u8], boundary: bool) -> capnp::Result<bool> {
        let mut filled = 0;
        while filled < dst.len() {
            let n = self
                .read_some(&mut dst[filled..])
                .await
                .map_err(disconnected)?;
            if n == 0 {
                if boundary && filled == 0 {
                    return Ok(false);
                }
                return Err(disconnected(
                    "the peer closed the connection in the middle of a message",
                ));
            }
            filled += n;
        }
        Ok(true)
    }

    /// The next message, or `None` when the peer closed the stream between messages.
    ///
    /// # Errors
    /// A header with more than [`MAX_SEGMENTS`] segments or `max_words` or more words of
    /// body (a failure: the peer broke the protocol); the stream ending mid-message or an
    /// I/O error (a disconnect).
    pub(crate) async fn read_frame(&mut self, max_words: u64) -> capnp::Result<Option<Frame>> {
        let mut first = [0u8; 4];
        if !self.read_exact(&mut first, true).await? {
            return Ok(None);
        }
        let count = u64::from(u32::from_le_bytes(first)) + 1;
        if count > MAX_SEGMENTS as u64 {
            return Err(capnp::Error::failed(format!(
                "message header claims {count} segments; at most {MAX_SEGMENTS} are allowed"
            )));
        }
        let count = count as usize;
        // Sizes, then padding to a whole word (the count took 4 bytes).
        let mut table = vec![0u8; 4 * count + if count % 2 == 0 { 4 } else { 0 }];
        self.read_exact(&mut table, false).await?;
        let mut bounds = Vec::with_capacity(count);
        let mut total: u64 = 0;
        for size in table.chunks_exact(4).take(count) {
            let size = u64::from(u32::from_le_bytes([size[0], size[1], size[2], size[3]]));
            let start = total as usize;
            total += size;
            if total >= max_words {
                return Err(capnp::Error::failed(format!(
                    "message header claims {} MiB or more; messages must be under {} MiB",
                    total * 8 / (1024 * 1024),
                    max_words * 8 / (1024 * 1024)
                )));
            }
            bounds.push((start, total as usize));
        }
        let total = total as usize;
        let mut words: Vec<Word> = Vec::new();
        let mut filled = 0;
        while filled < total * 8 {
            if filled == words.len() * 8 {
                let len = total.min((words.len() * 2).max(FIRST_CHUNK_WORDS));
                words.resize(len, capnp::word(0, 0, 0, 0, 0, 0, 0, 0));
            }
            let dst = &mut Word::words_to_bytes_mut(&mut words)[filled..];
            let n = self.read_some(dst).await.map_err(disconnected)?;
            if n == 0 {
                return Err(disconnected(
                    "the peer closed the connection in the middle of a message",
                ));
            }
            filled += n;
        }
        Ok(Some(Frame { words, bounds }))
    }
}

/// Bytes a message takes on the wire: segment table plus segments.
pub(crate) fn frame_len(segments: &[&[u8]]) -> usize {
    let table = 4 * (segments.len() + 1);
    (table + table % 8) + segments.iter().map(|s| s.len()).sum::<usize>()
}

/// Writes one message (no flush).
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    out: &mut W,
    segments: &[&[u8]],
) -> std::io::Result<()> {
    let count = segments.len();
    let mut table = Vec::with_capacity(4 * (count + 2));
    table.extend_from_slice(&(count as u32).wrapping_sub(1).to_le_bytes());
    for s in segments {
        table.extend_from_slice(&((s.len() / 8) as u32).to_le_bytes());
    }
    if count % 2 == 0 {
        table.extend_from_slice(&[0; 4]);
    }
    out.write_all(&table).await?;
    for s in segments {
        out.write_all(s).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(words: u32) -> capnp::message::Builder<capnp::message::HeapAllocator> {
        let mut m = capnp::message::Builder::new_default();
        m.initn_root::<capnp::primitive_list::Builder<'_, u64>>(words)
            .set(0, 7);
        m
    }

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let (mut a, b) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            for words in [3, 300_000] {
                let m = message(words);
                write_frame(&mut a, &m.get_segments_for_output())
                    .await
                    .unwrap();
            }
        });
        let mut r = FrameReader::new(b);
        for expect in [3u32, 300_000] {
            let f = r.read_frame(1 << 23).await.unwrap().unwrap();
            let reader = capnp::message::Reader::new(f, Default::default());
            let list = reader
                .get_root::<capnp::primitive_list::Reader<'_, u64>>()
                .unwrap();
            assert_eq!((list.len(), list.get(0)), (expect, 7));
        }
        writer.await.unwrap();
        assert!(r.read_frame(1 << 23).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bad_headers_and_truncation_are_told_apart() {
        // 513 segments.
        let header = 512u32.to_le_bytes();
        let mut r = FrameReader::new(&header[..]);
        let e = r.read_frame(1 << 23).err_text().await;
        assert!(e.contains("513 segments"), "{e}");
        // One segment at the limit.
        let mut bytes = 0u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(1u32 << 23).to_le_bytes());
        let mut r = FrameReader::new(&bytes[..]);
        let e = r.read_frame(1 << 23).err_text().await;
        assert!(e.contains("64 MiB"), "{e}");
        // A body cut short.
        let mut bytes = 0u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 12]);
        let mut r = FrameReader::new(&bytes[..]);
        let e = r.read_frame(1 << 23).await.err().unwrap();
        assert_eq!(e.kind, capnp::ErrorKind::Disconnected);
    }

    trait ErrText {
        async fn err_text(self) -> String;
    }

    impl<F: std::future::Future<Output = capnp::Result<Option<Frame>>>> ErrText for F {
        async fn err_text(self) -> String {
            match self.await {
                Err(e) => {
                    assert_eq!(e.kind, capnp::ErrorKind::Failed);
                    e.extra
                }
                Ok(_) => panic!("accepted"),
            }
        }
    }
}

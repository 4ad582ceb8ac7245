//! A response body written by a blocking writer as it writes: the bytes go
//! out in chunks over a bounded channel, so what waits in memory is at most
//! [`CHUNKS_IN_FLIGHT`] chunks in the channel and the one being filled,
//! however large the file. When the client reads slowly the writer waits;
//! when the client leaves, the writer's next write fails and it stops.

use std::io::{self, Write};

use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

/// Bytes sent at a time: large enough that the channel costs nothing per
/// byte, small enough that a chunk of a big export leaves at once.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks written ahead of what the client has taken.
pub(crate) const CHUNKS_IN_FLIGHT: usize = 8;

/// What the body's stream yields: a chunk, or the error that cuts the
/// download (the client then sees it incomplete, never a truncated file
/// that looks whole).
pub(crate) type Chunk = Result<Bytes, io::Error>;

/// The writing end: a [`Write`] for a blocking thread (never an async
/// task: it waits on the channel).
pub(crate) struct BodyWriter {
    sender: mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
    chunk_bytes: usize,
}

/// A body pipe: the writer, and the stream to answer with.
pub(crate) fn pipe() -> (BodyWriter, impl Stream<Item = Chunk> + 'static) {
    pipe_sized(CHUNK_BYTES, CHUNKS_IN_FLIGHT)
}

fn pipe_sized(
    chunk_bytes: usize,
    in_flight: usize,
) -> (BodyWriter, impl Stream<Item = Chunk> + 'static) {
    let (sender, mut receiver) = mpsc::channel(in_flight);
    let writer = BodyWriter {
        sender,
        buffer: Vec::with_capacity(chunk_bytes),
        chunk_bytes,
    };
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    (writer, stream)
}

impl BodyWriter {
    /// A sender to cut the body with an error from elsewhere.
    pub(crate) fn sender(&self) -> mpsc::Sender<Chunk> {
        self.sender.clone()
    }

    /// Sends what is left: the end of the body.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.send_buffer()
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.chunk_bytes));
        self.sender
            .blocking_send(Ok(Bytes::from(full)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client left"))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.chunk_bytes - self.buffer.len();
        let taken = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..taken]);
        if self.buffer.len() >= self.chunk_bytes {
            self.send_buffer()?;
        }
        Ok(taken)
    }

    /// Nothing to do: a chunk leaves when full, and [`BodyWriter::finish`]
    /// sends the last. (The zip writer flushes often; a chunk per flush
    /// would send many tiny ones.)
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use futures_util::StreamExt;

    use super::*;

    /// Counts what a writer was given.
    struct Counting<W> {
        inner: W,
        written: Arc<AtomicUsize>,
    }

    impl<W: Write> Write for Counting<W> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.written.fetch_add(n, Ordering::SeqCst);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_waits_for_a_slow_reader_stays_bounded() {
        let (chunk, in_flight) = (1024, 4);
        let (writer, stream) = pipe_sized(chunk, in_flight);
        let written = Arc::new(AtomicUsize::new(0));
        let counted = written.clone();
        // 2 MiB, far more than the bound, in odd-sized writes.
        let total = 2 * 1024 * 1024;
        let producer = tokio::task::spawn_blocking(move || {
            let mut w = Counting {
                inner: writer,
                written: counted,
            };
            let piece: Vec<u8> = (0..777u32).map(|i| (i % 251) as u8).collect();
            let mut sent = 0;
            while sent < total {
                let n = piece.len().min(total - sent);
                w.write_all(&piece[..n]).unwrap();
                sent += n;
            }
            w.inner.finish().unwrap();
        });
        let mut stream = std::pin::pin!(stream);
        let mut received = Vec::new();
        let mut most_waiting = 0;
        while let Some(chunk) = stream.next().await {
            // A slow client: the writer gets ahead as far as it can.
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
            let chunk = chunk.unwrap();
            received.extend_from_slice(&chunk);
            let waiting = written.load(Ordering::SeqCst) - received.len();
            most_waiting = most_waiting.max(waiting);
        }
        producer.await.unwrap();
        assert_eq!(received.len(), total, "every byte, once");
        assert!(
            received
                .iter()
                .enumerate()
                .all(|(i, b)| *b == ((i % 777) as u32 % 251) as u8),
            "in order"
        );
        // The channel's chunks, the chunk being filled, and the one the
        // writer holds while it waits for room.
        let bound = (in_flight + 2) * chunk;
        assert!(
            most_waiting <= bound,
            "{most_waiting} bytes waited, more than {bound}"
        );
        assert!(most_waiting >= in_flight * chunk, "the writer got ahead");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_leaves_stops_the_writer() {
        let (writer, stream) = pipe_sized(16, 1);
        drop(stream);
        let result = tokio::task::spawn_blocking(move || {
            let mut w = writer;
            w.write_all(&[0; 64])
        })
        .await
        .unwrap();
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}

//! The bounded queue between one stream's relay task (the producer, reading the provider) and
//! the client's response body (the consumer, polled by the HTTP server as the socket accepts
//! bytes).
//!
//! Hand-written rather than a `tokio::sync::mpsc` because the slow-client policies need to see
//! and rewrite what is queued (coalescing merges queued deltas), and the consumer drains every
//! ready frame in one poll so several events leave in one socket write. The lock is a plain
//! mutex held only for a few pointer moves and never across an await: a waiting side parks its
//! waker and returns `Pending`, unlike the seed's handler that awaited while holding its lock.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

/// Figures the relay reports about its queue when the stream ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// The most frames ever held at once.
    pub high_water: usize,
    /// Bytes handed to the client writer.
    pub bytes_out: u64,
    /// When the client writer first took a frame (the first byte handed to the socket).
    pub first_taken: Option<Instant>,
}

/// The producer could not queue a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds its bound; the frame is handed back.
    Full(Bytes),
    /// The client is gone.
    Gone,
}

#[derive(Debug)]
struct State {
    frames: VecDeque<Bytes>,
    capacity: usize,
    producer_done: bool,
    consumer_gone: bool,
    consumer_waker: Option<Waker>,
    producer_waker: Option<Waker>,
    stats: QueueStats,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves nothing half-updated that matters more than
        // the stream itself, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Creates a queue holding at most `capacity` frames (at least 1).
pub fn channel(capacity: usize) -> (Sender, ClientStream) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            // Most streams hold one or two frames at a time; the deque grows if a client
            // falls behind, up to `capacity`.
            frames: VecDeque::with_capacity(capacity.min(4)),
            capacity,
            producer_done: false,
            consumer_gone: false,
            consumer_waker: None,
            producer_waker: None,
            stats: QueueStats::default(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        ClientStream { shared },
    )
}

/// The relay task's end. Dropping it ends the client's body after what is queued.
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Queues a frame if there is room.
    pub fn try_push(&self, frame: Bytes) -> Result<(), PushError> {
        let mut st = self.shared.lock();
        if st.consumer_gone {
            return Err(PushError::Gone);
        }
        if st.frames.len() >= st.capacity {
            return Err(PushError::Full(frame));
        }
        st.frames.push_back(frame);
        st.stats.high_water = st.stats.high_water.max(st.frames.len());
        if let Some(w) = st.consumer_waker.take() {
            drop(st);
            w.wake();
        }
        Ok(())
    }

    /// Queues a frame, waiting while the queue is full. Fails only when the client is gone.
    pub async fn push(&self, frame: Bytes) -> Result<(), PushError> {
        let mut frame = Some(frame);
        poll_fn(|cx| {
            let f = frame.take().expect("polled after completion");
            match self.try_push(f) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(PushError::Gone) => Poll::Ready(Err(PushError::Gone)),
                Err(PushError::Full(f)) => {
                    let mut st = self.shared.lock();
                    // Re-check under the lock: the consumer may have drained in between.
                    if st.consumer_gone {
                        return Poll::Ready(Err(PushError::Gone));
                    }
                    if st.frames.len() < st.capacity {
                        drop(st);
                        frame = Some(f);
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    set_waker(&mut st.producer_waker, cx);
                    frame = Some(f);
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Resolves when the client has gone (its body was dropped).
    pub async fn closed(&self) {
        poll_fn(|cx| {
            let mut st = self.shared.lock();
            if st.consumer_gone {
                Poll::Ready(())
            } else {
                set_waker(&mut st.producer_waker, cx);
                Poll::Pending
            }
        })
        .await
    }

    pub fn is_closed(&self) -> bool {
        self.shared.lock().consumer_gone
    }

    /// Frames currently queued.
    pub fn len(&self) -> usize {
        self.shared.lock().frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> QueueStats {
        self.shared.lock().stats
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.producer_done = true;
        if let Some(w) = st.consumer_waker.take() {
            drop(st);
            w.wake();
        }
    }
}

/// The client's end: a stream of byte chunks for the HTTP response body. Each poll takes every
/// queued frame at once, so a client that fell behind catches up in one write.
#[derive(Debug)]
pub struct ClientStream {
    shared: Arc<Shared>,
}

impl Stream for ClientStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut st = self.shared.lock();
        let out = match st.frames.len() {
            0 if st.producer_done => return Poll::Ready(None),
            0 => {
                set_waker(&mut st.consumer_waker, cx);
                return Poll::Pending;
            }
            1 => st.frames.pop_front().unwrap_or_default(),
            _ => {
                let total = st.frames.iter().map(Bytes::len).sum();
                let mut batch = BytesMut::with_capacity(total);
                for frame in st.frames.drain(..) {
                    batch.extend_from_slice(&frame);
                }
                batch.freeze()
            }
        };
        st.stats.bytes_out += out.len() as u64;
        if st.stats.first_taken.is_none() {
            st.stats.first_taken = Some(Instant::now());
        }
        let producer = st.producer_waker.take();
        drop(st);
        if let Some(w) = producer {
            w.wake();
        }
        Poll::Ready(Some(Ok(out)))
    }
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.consumer_gone = true;
        st.frames.clear();
        let producer = st.producer_waker.take();
        drop(st);
        if let Some(w) = producer {
            w.wake();
        }
    }
}

fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn frames_flow_in_order_and_batch() {
        let (tx, mut rx) = channel(4);
        tx.try_push(Bytes::from_static(b"a")).unwrap();
        tx.try_push(Bytes::from_static(b"b")).unwrap();
        assert_eq!(rx.next().await.unwrap().unwrap(), "ab");
        tx.try_push(Bytes::from_static(b"c")).unwrap();
        drop(tx);
        assert_eq!(rx.next().await.unwrap().unwrap(), "c");
        assert!(rx.next().await.is_none());
    }

    #[tokio::test]
    async fn bound_is_held_and_push_waits_for_room() {
        let (tx, mut rx) = channel(2);
        tx.try_push(Bytes::from_static(b"1")).unwrap();
        tx.try_push(Bytes::from_static(b"2")).unwrap();
        assert_eq!(
            tx.try_push(Bytes::from_static(b"3")),
            Err(PushError::Full(Bytes::from_static(b"3")))
        );
        let pusher = tokio::spawn(async move {
            tx.push(Bytes::from_static(b"3")).await.unwrap();
            tx.stats()
        });
        tokio::task::yield_now().await;
        assert_eq!(rx.next().await.unwrap().unwrap(), "12");
        let stats = pusher.await.unwrap();
        assert_eq!(stats.high_water, 2);
        assert_eq!(rx.next().await.unwrap().unwrap(), "3");
        assert!(rx.next().await.is_none());
    }

    #[tokio::test]
    async fn dropping_the_client_wakes_a_blocked_producer() {
        let (tx, rx) = channel(1);
        tx.try_push(Bytes::from_static(b"1")).unwrap();
        let pusher = tokio::spawn(async move {
            let pushed = tx.push(Bytes::from_static(b"2")).await;
            tx.closed().await;
            pushed
        });
        tokio::task::yield_now().await;
        drop(rx);
        assert_eq!(pusher.await.unwrap(), Err(PushError::Gone));
    }
}

//! The bounded queue between one stream's relay task (the producer, reading the provider) and
//! the client's response body (the consumer, polled by the HTTP server as the socket accepts
//! bytes).
//!
//! Hand-written rather than a `tokio::sync::mpsc` because the slow-client policies need to see
//! and rewrite what is queued (coalescing merges queued deltas), and the consumer drains every
//! ready frame in one poll so several events leave in one socket write. What may merge, and
//! how, is [`coalesce`]'s business; this module is the mechanism. The lock is a plain
//! mutex held only for a few pointer moves and never across an await: a waiting side parks its
//! waker and returns `Pending`, unlike the seed's handler that awaited while holding its lock.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

pub use crate::coalesce::FrameKind;
use crate::coalesce::{self, Item, Room};

/// Figures the relay reports about its queue when the stream ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// The most frames ever held at once (never more than the queue's bound).
    pub high_water: usize,
    /// Provider chunks merged into a queued one instead of taking a place of their own.
    pub coalesced: u64,
    /// Bytes handed to the client writer.
    pub bytes_out: u64,
    /// When the client writer first took a frame (the first byte handed to the socket).
    pub first_taken: Option<Instant>,
    /// When it first took a frame with content (text, reasoning, refusal or a tool call): the
    /// end of the time to first token.
    pub first_content_taken: Option<Instant>,
}

/// The producer could not queue a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds its bound (and nothing could be merged); the frame is handed back.
    Full(Bytes),
    /// The client is gone.
    Gone,
}

/// The client's body was cut off by the gateway (a client that stopped reading); the server
/// closes the connection instead of ending the response cleanly.
#[derive(Debug, thiserror::Error)]
#[error("the stream was cut off")]
pub struct CutOff;

#[derive(Debug)]
struct State {
    items: VecDeque<Item>,
    capacity: usize,
    producer_done: bool,
    consumer_gone: bool,
    cut_off: bool,
    /// Since when the client has had something to take and taken nothing.
    waiting_since: Option<Instant>,
    consumer_waker: Option<Waker>,
    producer_waker: Option<Waker>,
    stats: QueueStats,
}

impl State {
    fn push(&mut self, item: Item) {
        if self.items.is_empty() {
            self.waiting_since = Some(Instant::now());
        }
        self.items.push_back(item);
        self.stats.high_water = self.stats.high_water.max(self.items.len());
    }

    /// Makes room under the coalesce policy (see [`coalesce::make_room`]); hands the frame
    /// back if nothing could merge.
    fn coalesce(&mut self, frame: Bytes, kind: FrameKind) -> Result<(), Bytes> {
        match coalesce::make_room(&mut self.items, frame, kind)? {
            Room::Absorbed => self.stats.coalesced += 1,
            Room::Freed { merged, frame } => {
                self.stats.coalesced += merged;
                self.push(Item::Frame { bytes: frame, kind });
            }
        }
        Ok(())
    }
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
            items: VecDeque::with_capacity(capacity.min(4)),
            capacity,
            producer_done: false,
            consumer_gone: false,
            cut_off: false,
            waiting_since: None,
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
    /// Queues a frame if there is room. With `coalesce`, a full queue makes room by merging
    /// content deltas.
    pub fn try_push(&self, frame: Bytes, kind: FrameKind, coalesce: bool) -> Result<(), PushError> {
        let mut st = self.shared.lock();
        if st.consumer_gone {
            return Err(PushError::Gone);
        }
        if st.items.len() >= st.capacity {
            if !coalesce {
                return Err(PushError::Full(frame));
            }
            if let Err(frame) = st.coalesce(frame, kind) {
                return Err(PushError::Full(frame));
            }
        } else {
            st.push(Item::Frame { bytes: frame, kind });
        }
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
            match self.try_push(f, FrameKind::Other, false) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(PushError::Gone) => Poll::Ready(Err(PushError::Gone)),
                Err(PushError::Full(f)) => {
                    let mut st = self.shared.lock();
                    // Re-check under the lock: the consumer may have drained in between.
                    if st.consumer_gone {
                        return Poll::Ready(Err(PushError::Gone));
                    }
                    frame = Some(f);
                    if st.items.len() < st.capacity {
                        drop(st);
                        cx.waker().wake_by_ref();
                    } else {
                        set_waker(&mut st.producer_waker, cx);
                    }
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

    /// Resolves when the client has taken every queued frame, or has gone.
    pub async fn drained(&self) {
        poll_fn(|cx| {
            let mut st = self.shared.lock();
            if st.items.is_empty() || st.consumer_gone {
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
        self.shared.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Since when the client has had frames waiting and taken none (`None` when it is caught
    /// up).
    pub fn waiting_since(&self) -> Option<Instant> {
        self.shared.lock().waiting_since
    }

    /// Drops what is queued and makes the client's body fail, so the server closes the
    /// connection rather than ending the response as if it were complete.
    pub fn cut_off(&self) {
        let mut st = self.shared.lock();
        st.cut_off = true;
        st.items.clear();
        if let Some(w) = st.consumer_waker.take() {
            drop(st);
            w.wake();
        }
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
    type Item = Result<Bytes, CutOff>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut st = self.shared.lock();
        if st.cut_off {
            // Reported once; the stream is over after it.
            st.cut_off = false;
            st.producer_done = true;
            return Poll::Ready(Some(Err(CutOff)));
        }
        if st.stats.first_content_taken.is_none() && st.items.iter().any(Item::has_content) {
            st.stats.first_content_taken = Some(Instant::now());
        }
        let out = match st.items.len() {
            0 if st.producer_done => return Poll::Ready(None),
            0 => {
                set_waker(&mut st.consumer_waker, cx);
                return Poll::Pending;
            }
            1 => st
                .items
                .pop_front()
                .map_or_else(Bytes::new, Item::into_bytes),
            _ => {
                let total = st.items.iter().map(Item::len_hint).sum();
                let mut batch = BytesMut::with_capacity(total);
                for item in st.items.drain(..) {
                    item.write_to(&mut batch);
                }
                batch.freeze()
            }
        };
        st.waiting_since = None;
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
        st.items.clear();
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
        tx.try_push(Bytes::from_static(b"a"), FrameKind::Other, false)
            .unwrap();
        tx.try_push(Bytes::from_static(b"b"), FrameKind::Other, false)
            .unwrap();
        assert_eq!(rx.next().await.unwrap().unwrap(), "ab");
        tx.try_push(Bytes::from_static(b"c"), FrameKind::Other, false)
            .unwrap();
        drop(tx);
        assert_eq!(rx.next().await.unwrap().unwrap(), "c");
        assert!(rx.next().await.is_none());
    }

    #[tokio::test]
    async fn bound_is_held_and_push_waits_for_room() {
        let (tx, mut rx) = channel(2);
        tx.try_push(Bytes::from_static(b"1"), FrameKind::Other, false)
            .unwrap();
        tx.try_push(Bytes::from_static(b"2"), FrameKind::Other, false)
            .unwrap();
        assert_eq!(
            tx.try_push(Bytes::from_static(b"3"), FrameKind::Other, false),
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

    fn delta(text: &str) -> Bytes {
        let payload = serde_json::json!({"id": "c", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
        Bytes::from(format!("data: {payload}\n\n"))
    }

    fn text_of(body: &[u8]) -> (String, usize) {
        let mut dec = sluice_sse::Decoder::new();
        dec.push(body);
        let (mut text, mut events) = (String::new(), 0);
        while let Some(sluice_sse::Frame::Event(ev)) = dec.next_frame().unwrap() {
            events += 1;
            let v: serde_json::Value = serde_json::from_slice(&ev.data).unwrap();
            text += v["choices"][0]["delta"]["content"].as_str().unwrap_or("");
        }
        (text, events)
    }

    #[tokio::test]
    async fn coalescing_keeps_the_bound_and_every_token() {
        let (tx, mut rx) = channel(4);
        let mut expected = String::new();
        for i in 0..100 {
            let t = format!("t{i} ");
            expected += &t;
            tx.try_push(delta(&t), FrameKind::Delta(None), true)
                .unwrap();
        }
        // A chunk that must stay in place: with no room and nothing to merge it with, it waits.
        let stop = Bytes::from_static(
            b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        );
        let stats = tx.stats();
        assert_eq!(stats.high_water, 4);
        assert_eq!(stats.coalesced, 96);
        let body = rx.next().await.unwrap().unwrap();
        let (text, events) = text_of(&body);
        assert_eq!(text, expected);
        assert_eq!(events, 4);
        tx.try_push(stop.clone(), FrameKind::Other, true).unwrap();
        assert_eq!(rx.next().await.unwrap().unwrap(), stop);
    }

    #[tokio::test]
    async fn unmergeable_frames_make_a_full_queue_wait_even_when_coalescing() {
        let (tx, _rx) = channel(2);
        tx.try_push(Bytes::from_static(b": a\n\n"), FrameKind::Other, true)
            .unwrap();
        tx.try_push(Bytes::from_static(b": b\n\n"), FrameKind::Other, true)
            .unwrap();
        assert!(matches!(
            tx.try_push(delta("x"), FrameKind::Delta(None), true),
            Err(PushError::Full(_))
        ));
    }

    #[tokio::test]
    async fn cut_off_fails_the_body() {
        let (tx, mut rx) = channel(2);
        tx.try_push(Bytes::from_static(b"data: 1\n\n"), FrameKind::Other, false)
            .unwrap();
        assert!(tx.waiting_since().is_some());
        tx.cut_off();
        assert!(rx.next().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn dropping_the_client_wakes_a_blocked_producer() {
        let (tx, rx) = channel(1);
        tx.try_push(Bytes::from_static(b"1"), FrameKind::Other, false)
            .unwrap();
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

//! The timed response bodies of every API: the event stream, which paces a [`Script`] (the
//! API's events) and applies the stream faults, and the one-shot non-streaming body. Each
//! holds a [`BodyGuard`] so that a body dropped before it finished counts as cancelled.

use crate::scenario::{Fault, Scenario, FAULT_AFTER_TOKENS};
use crate::stats::BodyGuard;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// With no inter-token delay, hand control back to the executor after this many events.
const BURST: u32 = 64;

/// A lazily created, reusable timer (created on first poll, so building a body does not need
/// a runtime).
#[derive(Debug, Default)]
struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    fn poll_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if deadline <= Instant::now() {
            return Poll::Ready(());
        }
        let sleep = match &mut self.0 {
            Some(sleep) => {
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self.0.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        sleep.as_mut().poll(cx)
    }
}

/// Returns `Pending` (already woken) the first time, `Ready` after: gives the consumer a
/// chance to flush the bytes it has before the body errors.
fn yield_once(yielded: &mut bool, cx: &mut Context<'_>) -> Poll<()> {
    if std::mem::replace(yielded, true) {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn drop_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "mock-drop: simulated connection drop",
    )
}

/// What a timed stream says, in its API's wire format: the events that open it, one piece per
/// tick, and its end. [`EventStream`] owns the timing and the faults, so every API streams at
/// the same pace and misbehaves at the same token.
pub(crate) trait Script {
    /// Writes the events that open the stream; they go out with the first piece, after ttft.
    fn open(&mut self, buf: &mut BytesMut);
    /// Writes the next piece: at least one token (an API may group several per event).
    /// Called only while [`Script::sent`] is below [`Script::total`].
    fn piece(&mut self, buf: &mut BytesMut);
    /// Tokens written so far.
    fn sent(&self) -> usize;
    /// Tokens in the whole answer.
    fn total(&self) -> usize;
    /// Writes the events that end a complete answer (possibly none).
    fn tail(&mut self, buf: &mut BytesMut);
    /// Writes the in-stream error event of `mock-error-midstream`, the last bytes sent.
    fn error(&mut self, buf: &mut BytesMut);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    First,
    Tokens,
    Stalled,
    Ended,
}

/// The streaming body: the opening events and the first piece after ttft, one piece per itl,
/// then the tail; or a fault after [`FAULT_AFTER_TOKENS`] tokens.
#[derive(Debug)]
pub(crate) struct EventStream<S> {
    script: S,
    fault: Fault,
    itl: Duration,
    phase: Phase,
    /// When the next event is due.
    deadline: Instant,
    timer: Timer,
    burst: u32,
    yielded: bool,
    guard: BodyGuard,
}

impl<S: Script> EventStream<S> {
    pub(crate) fn new(script: S, scenario: &Scenario, start: Instant, guard: BodyGuard) -> Self {
        Self {
            script,
            fault: scenario.fault,
            itl: scenario.itl,
            phase: Phase::First,
            deadline: start + scenario.ttft,
            timer: Timer::default(),
            burst: 0,
            yielded: false,
            guard,
        }
    }

    fn fault_due(&self) -> bool {
        matches!(
            self.fault,
            Fault::Stall | Fault::Drop | Fault::ErrorMidstream
        ) && self.script.sent() >= FAULT_AFTER_TOKENS.min(self.script.total())
    }

    /// Writes the next piece; the one after is due an itl later per token this one sent, so
    /// an API that groups tokens streams them at the same rate as one that does not.
    fn piece(&mut self, buf: &mut BytesMut) {
        let before = self.script.sent();
        self.script.piece(buf);
        let tokens = self.script.sent().saturating_sub(before).max(1);
        self.deadline += self
            .itl
            .saturating_mul(u32::try_from(tokens).unwrap_or(u32::MAX));
    }

    fn more(&self) -> bool {
        self.script.sent() < self.script.total()
    }

    /// The fault, once due: silence, an aborted body, or an error event that ends it.
    fn misbehave(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if self.fault == Fault::Stall {
            // Never woken: silent until the reader gives up and drops the body.
            self.phase = Phase::Stalled;
            return Poll::Pending;
        }
        // Misbehave when the next token would have been due.
        ready!(self.timer.poll_until(cx, self.deadline));
        let item = if self.fault == Fault::Drop {
            // Let the reader flush what was already sent first.
            ready!(yield_once(&mut self.yielded, cx));
            Err(drop_error())
        } else {
            let mut buf = BytesMut::new();
            self.script.error(&mut buf);
            Ok(buf.freeze())
        };
        self.phase = Phase::Ended;
        self.guard.failed();
        Poll::Ready(Some(item))
    }
}

impl<S: Script + Unpin> Stream for EventStream<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.phase {
            Phase::Ended => Poll::Ready(None),
            Phase::Stalled => Poll::Pending,
            Phase::First => {
                ready!(this.timer.poll_until(cx, this.deadline));
                let mut buf = BytesMut::new();
                this.script.open(&mut buf);
                if this.more() {
                    this.piece(&mut buf);
                } else {
                    this.deadline += this.itl;
                }
                this.phase = Phase::Tokens;
                Poll::Ready(Some(Ok(buf.freeze())))
            }
            Phase::Tokens => {
                if this.fault_due() {
                    return this.misbehave(cx);
                }
                if !this.more() {
                    let mut tail = BytesMut::new();
                    this.script.tail(&mut tail);
                    this.phase = Phase::Ended;
                    this.guard.completed();
                    return Poll::Ready((!tail.is_empty()).then(|| Ok(tail.freeze())));
                }
                if this.itl.is_zero() {
                    this.burst += 1;
                    if this.burst >= BURST {
                        this.burst = 0;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                } else {
                    ready!(this.timer.poll_until(cx, this.deadline));
                }
                let mut buf = BytesMut::new();
                this.piece(&mut buf);
                Poll::Ready(Some(Ok(buf.freeze())))
            }
        }
    }
}

/// The non-streaming body: the whole answer after ttft (or, for `mock-stall`, nothing ever;
/// for `mock-drop`, half of it and then an error).
#[derive(Debug)]
pub(crate) struct CompletionBody {
    state: OneShot,
    deadline: Instant,
    timer: Timer,
    yielded: bool,
    guard: BodyGuard,
}

#[derive(Debug)]
enum OneShot {
    Stall,
    Send(Bytes),
    SendHalfThenDrop(Bytes),
    Drop,
    Ended,
}

impl CompletionBody {
    /// `body` is the whole answer, in its API's format.
    pub(crate) fn new(body: Bytes, scenario: &Scenario, start: Instant, guard: BodyGuard) -> Self {
        let state = match scenario.fault {
            Fault::Stall => OneShot::Stall,
            Fault::Drop => OneShot::SendHalfThenDrop(body),
            _ => OneShot::Send(body),
        };
        Self {
            state,
            deadline: start + scenario.ttft,
            timer: Timer::default(),
            yielded: false,
            guard,
        }
    }
}

impl Stream for CompletionBody {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.state {
            OneShot::Stall => return Poll::Pending,
            OneShot::Ended => return Poll::Ready(None),
            _ => {}
        }
        ready!(this.timer.poll_until(cx, this.deadline));
        if matches!(this.state, OneShot::Drop) {
            ready!(yield_once(&mut this.yielded, cx));
        }
        match std::mem::replace(&mut this.state, OneShot::Ended) {
            OneShot::Send(body) => {
                this.guard.completed();
                Poll::Ready(Some(Ok(body)))
            }
            OneShot::SendHalfThenDrop(body) => {
                this.state = OneShot::Drop;
                Poll::Ready(Some(Ok(body.slice(..body.len() / 2))))
            }
            OneShot::Drop => {
                this.guard.failed();
                Poll::Ready(Some(Err(drop_error())))
            }
            OneShot::Stall | OneShot::Ended => Poll::Ready(None),
        }
    }
}

//! The timed response bodies: the SSE event stream and the one-shot non-streaming body. Each
//! holds a [`BodyGuard`] so that a body dropped before it finished counts as cancelled.

use crate::encode::{completion_body, ChunkEncoder};
use crate::generator::{generate, Tokens};
use crate::scenario::{Fault, Finish, Scenario, FAULT_AFTER_TOKENS};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    First,
    Tokens,
    Stalled,
    Ended,
}

/// The streaming body: role + first token after ttft, one token per itl, then finish,
/// optional usage and `[DONE]`; or a fault after [`FAULT_AFTER_TOKENS`] tokens.
#[derive(Debug)]
pub(crate) struct EventStream {
    encoder: ChunkEncoder,
    tokens: Tokens,
    fault: Fault,
    finish: Finish,
    include_usage: bool,
    prompt_tokens: u64,
    completion_tokens: u64,
    itl: Duration,
    phase: Phase,
    /// When the next event is due.
    deadline: Instant,
    timer: Timer,
    burst: u32,
    yielded: bool,
    guard: BodyGuard,
}

impl EventStream {
    pub(crate) fn new(scenario: &Scenario, created: u64, start: Instant, guard: BodyGuard) -> Self {
        Self {
            encoder: ChunkEncoder::new(scenario, created),
            tokens: generate(scenario.seed, scenario.tokens),
            fault: scenario.fault,
            finish: scenario.finish,
            include_usage: scenario.include_usage,
            prompt_tokens: scenario.prompt_tokens,
            completion_tokens: scenario.tokens as u64,
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
        matches!(self.fault, Fault::Stall | Fault::Drop)
            && self.tokens.position() >= FAULT_AFTER_TOKENS.min(self.completion_tokens as usize)
    }

    fn tail(&mut self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encoder.finish(&mut buf, self.finish);
        if self.include_usage {
            self.encoder
                .usage(&mut buf, self.prompt_tokens, self.completion_tokens);
        }
        ChunkEncoder::done(&mut buf);
        buf.freeze()
    }
}

impl Stream for EventStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.phase {
            Phase::Ended => Poll::Ready(None),
            // Never woken: silent until the reader gives up and drops the body.
            Phase::Stalled => Poll::Pending,
            Phase::First => {
                ready!(this.timer.poll_until(cx, this.deadline));
                let mut buf = BytesMut::new();
                this.encoder.role(&mut buf);
                if let Some(token) = this.tokens.next() {
                    this.encoder.content(&mut buf, token);
                }
                this.phase = Phase::Tokens;
                this.deadline += this.itl;
                Poll::Ready(Some(Ok(buf.freeze())))
            }
            Phase::Tokens => {
                if this.fault_due() {
                    if this.fault == Fault::Stall {
                        this.phase = Phase::Stalled;
                        return Poll::Pending;
                    }
                    // Drop when the next token would have been due, after letting the
                    // reader flush what was already sent.
                    ready!(this.timer.poll_until(cx, this.deadline));
                    ready!(yield_once(&mut this.yielded, cx));
                    this.phase = Phase::Ended;
                    this.guard.failed();
                    return Poll::Ready(Some(Err(drop_error())));
                }
                if this.tokens.len() == 0 {
                    let tail = this.tail();
                    this.phase = Phase::Ended;
                    this.guard.completed();
                    return Poll::Ready(Some(Ok(tail)));
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
                if let Some(token) = this.tokens.next() {
                    this.encoder.content(&mut buf, token);
                }
                this.deadline += this.itl;
                Poll::Ready(Some(Ok(buf.freeze())))
            }
        }
    }
}

/// The non-streaming body: the whole `chat.completion` JSON after ttft (or, for `mock-stall`,
/// nothing ever; for `mock-drop`, half of it and then an error).
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
    pub(crate) fn new(scenario: &Scenario, created: u64, start: Instant, guard: BodyGuard) -> Self {
        let body = completion_body(scenario, created, generate(scenario.seed, scenario.tokens));
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

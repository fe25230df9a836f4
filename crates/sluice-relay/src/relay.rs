//! The relay task: one per stream, from the provider's first byte to the client's last.
//!
//! ```text
//!  provider body ──► decoder ──► inspect ──► client encoder ──► bounded queue ──► client body
//!                     (sse)      (openai)     (openai::encode)   (queue)          (HTTP server)
//!  timers: first token, idle gap, total, keep-alive                commit ──► handler sends 200
//! ```
//!
//! A client that speaks the provider's own API (a pass-through) gets the provider's events
//! instead, read and written by its [`PassThrough`] in place of the inspector and encoder.
//!
//! The commit point: the handler sends the 200 and headers only once the relay has queued
//! something, i.e. the provider's first event or, if that takes longer than `keepalive`, a
//! keep-alive comment. A failure before then reaches the handler through [`Commit`] and becomes
//! a proper HTTP error (or, later, a retry); after it, the failure is the stream's last event,
//! written by the client's encoder.

mod deadlines;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sluice_openai::chunk::Inspector;
use sluice_openai::encode::DATA_PREFIX;
use sluice_openai::{ClientEncoder, ErrorBody, Merge, PassThrough};
use sluice_sse::{Decoder, Event, Frame, KEEPALIVE};
use sluice_types::SlowClient;
use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::deadlines::Deadlines;
use crate::coalesce::Holes;
use crate::error::StreamError;
use crate::outcome::{Commit, End, Outcome, OutcomeSink, Tally, MAX_TEXT};
use crate::queue::{self, ClientStream, FrameKind, PushError, Sender};

/// Room beyond a read's size when reserving for the frames written from it (a usage priced, an
/// event re-framed).
const FRAME_SLACK: usize = 256;

/// The provider's response body, as a stream of byte chunks.
pub type UpstreamBody = Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>> + Send>>;

/// Sends the provider request and resolves to its body once the provider answered with
/// success headers (a non-success answer resolves to the error it describes).
pub type Connect = Pin<Box<dyn Future<Output = Result<UpstreamBody, StreamError>> + Send>>;

/// Settings of one stream.
#[derive(Debug)]
pub struct RelayConfig {
    /// Bound of the per-stream queue, in frames.
    pub buffer_events: usize,
    /// A comment is sent after this long with nothing else sent.
    pub keepalive: Duration,
    /// Limit on the wait for the provider's first event, from `started`.
    pub first_token: Duration,
    /// Limit on the gap between any two provider bytes after the first event.
    pub idle: Duration,
    /// Limit on the whole request, from `started`.
    pub total: Duration,
    /// A client that accepts nothing for this long is cut off.
    pub slow_client_timeout: Duration,
    /// What to do when the client reads slower than the provider writes.
    pub slow_client: SlowClient,
    /// When the gateway received the request.
    pub started: Instant,
    /// Writes the client's format (and puts the gateway's cost on the usage it shows).
    pub encoder: Encoder,
    /// Where relay tasks are spawned and told to stop, so shutdown can wait for their outcomes.
    pub lifecycle: Lifecycle,
}

/// How a stream's provider events become the client's.
#[derive(Debug)]
pub enum Encoder {
    /// The provider's events are chat chunks, read by the inspector and written in the
    /// client's format by its encoder (which may merge deltas for a slow client).
    Chat(Box<dyn ClientEncoder>),
    /// The client speaks the provider's own API: its events are relayed as they came. They
    /// are never merged; a slow client slows the provider down instead (as `block` does), up
    /// to the slow-client limit.
    PassThrough(Box<dyn PassThrough>),
}

impl From<Box<dyn ClientEncoder>> for Encoder {
    fn from(encoder: Box<dyn ClientEncoder>) -> Self {
        Encoder::Chat(encoder)
    }
}

/// The gateway's handle on its relay tasks: cancelling `shutdown` ends every open stream with
/// [`StreamError::Shutdown`] (each still reports its outcome), and `tasks` lets shutdown wait
/// for them.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

/// Starts a relay task on the current runtime. The returned stream is the client's response
/// body; dropping it cancels the provider request.
pub fn start(connect: Connect, cfg: RelayConfig, sink: OutcomeSink) -> (Commit, ClientStream) {
    let (tx, body) = queue::channel(cfg.buffer_events);
    let (commit_tx, commit_rx) = oneshot::channel();
    let deadlines = Deadlines {
        started: cfg.started,
        first_token: cfg.first_token,
        idle: cfg.idle,
        total: cfg.total,
        keepalive: cfg.keepalive,
    };
    let tasks = cfg.lifecycle.tasks.clone();
    let relay = Relay {
        cfg,
        deadlines,
        tx,
        commit: Some(commit_tx),
        committed: false,
        out: BytesMut::new(),
        decoder: Decoder::new(),
        inspector: Inspector::new(),
        tally: Tally::default(),
        last_sent: Instant::now(),
        finished_body: None,
    };
    // Boxed: an `async fn` taking `self` by value keeps two copies of it in its state.
    tasks.spawn(Box::new(relay).run(connect, sink));
    (Commit(commit_rx), body)
}

struct Relay {
    cfg: RelayConfig,
    deadlines: Deadlines,
    tx: Sender,
    /// Present until the handler has been told to commit (or why it cannot).
    commit: Option<oneshot::Sender<Result<(), StreamError>>>,
    /// The handler was told to send the response head.
    committed: bool,
    /// Reused for every frame written, so steady-state relaying does not allocate per chunk.
    out: BytesMut,
    decoder: Decoder,
    /// Reads each chunk once, and most deltas without a parse.
    inspector: Inspector,
    /// What the outcome will report.
    tally: Tally,
    /// When the client was last sent something (for keep-alives).
    last_sent: Instant,
    /// The provider body after `[DONE]`, kept to read its last bytes so the connection can be
    /// reused.
    finished_body: Option<UpstreamBody>,
}

/// What the reader does after an event.
enum Flow {
    Continue,
    Stop(End),
}

impl Relay {
    async fn run(mut self: Box<Self>, connect: Connect, sink: OutcomeSink) {
        let mut end = self.drive(connect).await;
        match &end {
            End::Completed => {
                if let Encoder::Chat(encoder) = &mut self.cfg.encoder {
                    encoder.end(self.tally.usage.as_ref(), &mut self.out);
                }
                self.flush_final().await;
            }
            End::Failed(err) => match self.commit.take() {
                Some(commit) => {
                    let _ = commit.send(Err(err.clone()));
                }
                // A client that stopped reading would not take an error event either: its
                // connection is closed instead.
                None if matches!(err, StreamError::SlowClient(_)) => self.tx.cut_off(),
                None => {
                    match &mut self.cfg.encoder {
                        Encoder::Chat(encoder) => encoder.error(&err.body(), &mut self.out),
                        Encoder::PassThrough(pass) => pass.error(&err.body(), &mut self.out),
                    }
                    self.flush_final().await;
                }
            },
            End::ClientClosed => {}
        }
        // The relay stays until the client has taken its last frame, so that a client that
        // stopped reading is cut off even after the provider finished.
        let client_may_lag = self.committed
            && !matches!(
                end,
                End::ClientClosed | End::Failed(StreamError::SlowClient(_) | StreamError::Shutdown)
            );
        if client_may_lag && !await_client(&self.tx, &self.cfg).await {
            end = End::Failed(StreamError::SlowClient(self.cfg.slow_client_timeout));
        }
        let outcome = Outcome {
            end,
            committed: self.committed,
            tally: std::mem::take(&mut self.tally),
            queue: self.tx.stats(),
            ended_at: Instant::now(),
        };
        // Reported before the client's body ends, so that a shutdown waiting for connections
        // to close cannot lose it.
        sink(outcome);
        // Ends the client's body after what is queued.
        drop(self.tx);
        // Any other provider body was dropped when `drive` returned: its connection is closed,
        // which is how a provider request is cancelled.
        if let Some(body) = self.finished_body.take() {
            drain_for_reuse(body).await;
        }
    }

    /// Connects and reads the provider until the stream ends one way or another.
    async fn drive(&mut self, connect: Connect) -> End {
        let total_at = self.deadlines.total_at();
        // One timer for every deadline, re-armed lazily when it fires, so the per-chunk cost
        // of timing is reading the clock, not re-registering a timer.
        let timer = sleep_until(self.deadlines.next_wake(None, self.last_sent));
        tokio::pin!(timer);
        let mut connect = connect;
        let mut last_byte: Option<Instant> = None;

        // Registered once, not per turn of the loop: waiting on a token costs a lock.
        let shutdown = self.cfg.lifecycle.shutdown.clone().cancelled_owned();
        tokio::pin!(shutdown);
        let mut body = loop {
            tokio::select! {
                biased;
                () = self.tx.closed() => return End::ClientClosed,
                () = &mut shutdown => return End::Failed(StreamError::Shutdown),
                res = &mut connect => match res {
                    Ok(body) => {
                        self.tally.headers_at = Some(Instant::now());
                        break body;
                    }
                    Err(err) => return End::Failed(err),
                },
                () = &mut timer => {
                    if let Err(err) = self.on_timer(last_byte).await {
                        return err;
                    }
                    timer.as_mut().reset(self.deadlines.next_wake(last_byte, self.last_sent));
                }
            }
        };
        // The finished connect future's box would otherwise live as long as the stream.
        drop(connect);

        loop {
            tokio::select! {
                biased;
                () = self.tx.closed() => return End::ClientClosed,
                () = &mut shutdown => return End::Failed(StreamError::Shutdown),
                item = body.next() => match item {
                    Some(Ok(bytes)) => {
                        let received = Instant::now();
                        self.tally.first_byte_at.get_or_insert(received);
                        // With data always ready the timer branch may never run, so the total
                        // limit is also checked here.
                        if received >= total_at {
                            return End::Failed(StreamError::TotalTimeout(self.cfg.total));
                        }
                        self.decoder.push(&bytes);
                        // The frames this read's events become are about its size: one
                        // allocation for all of them, not one per frame. A stream that reads
                        // a token at a time keeps no more than a frame's worth.
                        self.out.reserve(bytes.len() + FRAME_SLACK);
                        if let Flow::Stop(end) = self.drain_decoder(received).await {
                            if end == End::Completed {
                                self.finished_body = Some(body);
                            }
                            return end;
                        }
                        // Any byte after the first event, comments included, resets the idle
                        // limit; before it, the first-token limit applies.
                        if self.tally.first_event_at.is_some() {
                            let first = last_byte.is_none();
                            last_byte = Some(received);
                            // Deadlines only move later, which the lazy timer handles, except
                            // here: the idle limit may fall before the first-token one.
                            if first {
                                timer
                                    .as_mut()
                                    .reset(self.deadlines.next_wake(last_byte, self.last_sent));
                            }
                        }
                    }
                    Some(Err(err)) => return self.end_of_body(Some(err)).await,
                    None => return self.end_of_body(None).await,
                },
                () = &mut timer => {
                    if let Err(end) = self.on_timer(last_byte).await {
                        return end;
                    }
                    timer.as_mut().reset(self.deadlines.next_wake(last_byte, self.last_sent));
                }
            }
        }
    }

    async fn on_timer(&mut self, last_byte: Option<Instant>) -> Result<(), End> {
        let now = Instant::now();
        let (deadline, err) = self.deadlines.read(last_byte);
        if now >= deadline {
            return Err(End::Failed(err));
        }
        self.check_slow_client(now)?;
        if now >= self.last_sent + self.cfg.keepalive {
            // A client that is behind already has bytes waiting; it needs no keep-alive.
            if self.tx.is_empty() {
                self.send(Bytes::from_static(KEEPALIVE), FrameKind::Other, now)
                    .await?;
            } else {
                self.last_sent = now;
            }
        }
        Ok(())
    }

    /// Handles every complete event the decoder holds (all `received` at once).
    async fn drain_decoder(&mut self, received: Instant) -> Flow {
        loop {
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Flow::Continue,
                Err(err) => return fail(StreamError::Protocol(err.to_string())),
            };
            let Frame::Event(event) = frame else {
                continue; // Provider comments only keep the connection alive.
            };
            if let stop @ Flow::Stop(_) = self.on_event(event, received).await {
                return stop;
            }
        }
    }

    /// Handles one provider event, `now` being when its bytes arrived: one clock reading
    /// serves every event of a read.
    async fn on_event(&mut self, event: Event, now: Instant) -> Flow {
        self.tally.first_event_at.get_or_insert(now);
        let encoder = match &mut self.cfg.encoder {
            Encoder::Chat(encoder) => encoder,
            Encoder::PassThrough(_) => return self.on_native_event(event, now).await,
        };
        if event.event_type() == b"error" {
            return fail(provider_error(&event.data));
        }
        if &event.data[..] == b"[DONE]" {
            return Flow::Stop(End::Completed);
        }
        let summary = match self.inspector.inspect(&event.data) {
            Ok(s) => s,
            Err(err) => {
                return fail(StreamError::Protocol(format!(
                    "an event is not a JSON object ({err})"
                )))
            }
        };
        // The last usage seen wins, never a sum: some providers repeat it cumulatively.
        if let Some(usage) = summary.usage.or(summary.vendor_usage) {
            self.tally.usage = Some(usage);
        }
        if summary.error {
            return fail(provider_error(&event.data));
        }
        self.tally.events += 1;
        self.tally.finished |= summary.finish;
        let merge = match encoder.chunk(&event.data, &summary, &mut self.out) {
            Ok(m) => m,
            Err(err) => return fail(StreamError::Protocol(err.to_string())),
        };
        if summary.content {
            if self.tally.usage.is_none() && self.tally.text.len() < MAX_TEXT {
                // Only needed if the provider never reports usage. The text's places were
                // found by `inspect`; an error only leaves the count short.
                let _ = summary.texts.append_to(&event.data, &mut self.tally.text);
            }
            self.tally.content_events += 1;
            self.tally.first_content_at.get_or_insert(now);
            self.tally.last_content_at = Some(now);
        }
        if self.out.is_empty() {
            return Flow::Continue;
        }
        let kind = match merge {
            Merge::InPlace => FrameKind::Delta(Holes::of(&summary, DATA_PREFIX.len())),
            Merge::Rewritten => FrameKind::Delta(None),
            Merge::No if summary.content => FrameKind::Content,
            Merge::No => FrameKind::Other,
        };
        let frame = self.out.split().freeze();
        match self.send(frame, kind, now).await {
            Ok(()) => Flow::Continue,
            Err(end) => Flow::Stop(end),
        }
    }

    /// Handles one event of a pass-through stream: its [`PassThrough`] reads it and writes it.
    async fn on_native_event(&mut self, event: Event, now: Instant) -> Flow {
        let Encoder::PassThrough(pass) = &mut self.cfg.encoder else {
            return Flow::Continue;
        };
        let passed = match pass.event(&event, &mut self.out) {
            Ok(passed) => passed,
            Err(err) => return fail(StreamError::Protocol(err.to_string())),
        };
        if let Some(usage) = passed.usage {
            self.tally.usage = Some(usage);
        }
        if let Some(err) = passed.error {
            return fail(StreamError::ProviderEvent(err));
        }
        self.tally.events += 1;
        self.tally.finished |= passed.last;
        if passed.content {
            if let Some(text) = passed.text.as_deref() {
                if self.tally.usage.is_none() && self.tally.text.len() < MAX_TEXT {
                    self.tally.text.push_str(text);
                }
            }
            self.tally.content_events += 1;
            self.tally.first_content_at.get_or_insert(now);
            self.tally.last_content_at = Some(now);
        }
        if !self.out.is_empty() {
            let kind = if passed.content {
                FrameKind::Content
            } else {
                FrameKind::Other
            };
            let frame = self.out.split().freeze();
            if let Err(end) = self.send(frame, kind, now).await {
                return Flow::Stop(end);
            }
        }
        if passed.last {
            Flow::Stop(End::Completed)
        } else {
            Flow::Continue
        }
    }

    /// Queues a frame. When the queue is full, the coalesce policy first tries to merge
    /// content deltas (`kind` says whether the frame is one); otherwise the relay waits for room,
    /// up to the slow-client limit.
    async fn send(&mut self, frame: Bytes, kind: FrameKind, now: Instant) -> Result<(), End> {
        let coalesce = self.cfg.slow_client == SlowClient::Coalesce;
        let mut sent_at = now;
        let res = match self.tx.try_push(frame, kind, coalesce) {
            Err(PushError::Full(frame)) => {
                let waited = Instant::now();
                let slow_at = waited + self.cfg.slow_client_timeout;
                let total_at = self.deadlines.total_at();
                let limit = if total_at <= slow_at {
                    StreamError::TotalTimeout(self.cfg.total)
                } else {
                    StreamError::SlowClient(self.cfg.slow_client_timeout)
                };
                let res = tokio::select! {
                    res = self.tx.push(frame) => Ok(res),
                    () = sleep_until(slow_at.min(total_at)) => Err(End::Failed(limit)),
                    () = self.cfg.lifecycle.shutdown.cancelled() => {
                        Err(End::Failed(StreamError::Shutdown))
                    }
                };
                sent_at = Instant::now();
                self.tally.blocked += sent_at - waited;
                res?
            }
            other => other,
        };
        match res {
            Ok(()) => {
                self.last_sent = sent_at;
                if let Some(commit) = self.commit.take() {
                    let _ = commit.send(Ok(()));
                    self.committed = true;
                }
                self.check_slow_client(sent_at)
            }
            Err(_) => Err(End::ClientClosed),
        }
    }

    /// A client that has had bytes waiting and taken none for the slow-client limit is cut
    /// off (checked on every frame queued and on every timer tick).
    fn check_slow_client(&self, now: Instant) -> Result<(), End> {
        match self.tx.waiting_since() {
            Some(since) if now.saturating_duration_since(since) >= self.cfg.slow_client_timeout => {
                Err(End::Failed(StreamError::SlowClient(
                    self.cfg.slow_client_timeout,
                )))
            }
            _ => Ok(()),
        }
    }

    /// The provider's body ended (cleanly, or with a transport error). Once a choice has
    /// finished, a connection that breaks or a truncated last event do not fail a stream whose
    /// answer is complete.
    async fn end_of_body(&mut self, transport_err: Option<StreamError>) -> End {
        if transport_err.is_none() {
            // A last event without its blank line (e.g. `data: [DONE]` at EOF) still counts.
            if let Some(event) = self.decoder.finish() {
                match self.on_event(event, Instant::now()).await {
                    Flow::Stop(End::Failed(StreamError::Protocol(_))) if self.tally.finished => {
                        return End::Completed
                    }
                    Flow::Stop(end) => return end,
                    Flow::Continue => {}
                }
            }
        }
        match transport_err {
            _ if self.tally.finished => End::Completed,
            Some(err) => End::Failed(err),
            None => End::Failed(StreamError::PrematureEnd),
        }
    }

    /// Queues the last frame (the end marker or the error event) without giving up early: the
    /// client gets the slow-client limit to take it.
    async fn flush_final(&mut self) {
        if self.out.is_empty() {
            return;
        }
        let frame = self.out.split().freeze();
        let _ = self.send(frame, FrameKind::Other, Instant::now()).await;
    }
}

/// Waits until the client has taken every queued frame (or left, or the gateway is shutting
/// down). Returns `false` when it took nothing for the slow-client limit and was cut off.
async fn await_client(tx: &Sender, cfg: &RelayConfig) -> bool {
    loop {
        let Some(since) = tx.waiting_since() else {
            return true;
        };
        let deadline = since + cfg.slow_client_timeout;
        if Instant::now() >= deadline {
            tx.cut_off();
            return false;
        }
        tokio::select! {
            () = tx.drained() => return true,
            () = tokio::time::sleep_until(deadline) => {}
            () = cfg.lifecycle.shutdown.cancelled() => return true,
        }
    }
}

/// After `[DONE]`, reads what little is left of the provider body (normally only the end of
/// its chunked encoding) so its keep-alive connection goes back to the pool instead of being
/// closed and reopened by the next request. Bounded in time and bytes.
async fn drain_for_reuse(mut body: UpstreamBody) {
    const LIMIT: usize = 64 * 1024;
    let _ = tokio::time::timeout(Duration::from_millis(250), async {
        let mut n = 0;
        while let Some(Ok(chunk)) = body.next().await {
            n += chunk.len();
            if n > LIMIT {
                break;
            }
        }
    })
    .await;
}

fn fail(err: StreamError) -> Flow {
    Flow::Stop(End::Failed(err))
}

/// An upstream `event: error`, or a chunk whose top-level `error` is set.
fn provider_error(data: &[u8]) -> StreamError {
    StreamError::ProviderEvent(Box::new(ErrorBody::from_event_data(data)))
}

#[cfg(test)]
mod tests;

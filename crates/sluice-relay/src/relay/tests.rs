use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream;
use sluice_openai::encode::{ChatChunks, SimpleChat};

use super::*;

/// A scripted provider body: each piece is sent after its delay; `Err` pieces break the body.
fn provider(
    script: Vec<(u64, Result<&'static str, StreamError>)>,
    dropped: Arc<AtomicBool>,
) -> Connect {
    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = DropFlag(dropped);
    let body = stream::unfold((script.into_iter(), flag), |(mut it, flag)| async move {
        let (delay, piece) = it.next()?;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Some((piece.map(|s| Bytes::from_static(s.as_bytes())), (it, flag)))
    });
    Box::pin(async move { Ok(Box::pin(body) as UpstreamBody) })
}

fn config(encoder: Box<dyn ClientEncoder>) -> RelayConfig {
    RelayConfig {
        buffer_events: 8,
        keepalive: Duration::from_secs(15),
        first_token: Duration::from_secs(60),
        idle: Duration::from_secs(30),
        total: Duration::from_secs(600),
        slow_client_timeout: Duration::from_secs(30),
        slow_client: SlowClient::Coalesce,
        started: Instant::now(),
        encoder: encoder.into(),
        lifecycle: Lifecycle::default(),
    }
}

/// `/v1/chat/completions` for a client that did not ask for usage.
fn chat() -> Box<dyn ClientEncoder> {
    Box::new(ChatChunks::new(false, None))
}

struct Run {
    commit: Result<(), StreamError>,
    body: String,
    outcome: Outcome,
    provider_dropped: bool,
}

async fn run_with(script: Vec<(u64, Result<&'static str, StreamError>)>, cfg: RelayConfig) -> Run {
    let dropped = Arc::new(AtomicBool::new(false));
    let got: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let sink_slot = got.clone();
    let (commit, body) = start(
        provider(script, dropped.clone()),
        cfg,
        Box::new(move |o| *sink_slot.lock().unwrap() = Some(o)),
    );
    let commit = commit.await;
    let chunks: Vec<_> = body.collect().await;
    let body: Vec<u8> = chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect();
    // The sink runs right after the body ends; give the task its last turn.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let outcome = got.lock().unwrap().take().expect("outcome reported");
    Run {
        commit,
        body: String::from_utf8(body).unwrap(),
        outcome,
        provider_dropped: dropped.load(Ordering::SeqCst),
    }
}

const ROLE: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
const HI: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
const STOP: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
const USAGE: &str = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n";
const DONE: &str = "data: [DONE]\n\n";

#[tokio::test(start_paused = true)]
async fn relays_chunks_and_ends_with_done() {
    let run = run_with(
        vec![
            (10, Ok(ROLE)),
            (10, Ok(HI)),
            (10, Ok(STOP)),
            (0, Ok(USAGE)),
            (0, Ok(DONE)),
        ],
        config(chat()),
    )
    .await;
    assert_eq!(run.commit, Ok(()));
    assert_eq!(run.body, format!("{ROLE}{HI}{STOP}{DONE}"));
    assert_eq!(run.outcome.end, End::Completed);
    assert_eq!(run.outcome.tally.usage.unwrap().total_tokens, 4);
    assert_eq!(run.outcome.tally.content_events, 1);
    assert!(run.provider_dropped);
}

#[tokio::test(start_paused = true)]
async fn usage_is_relayed_when_asked() {
    let run = run_with(
        vec![(0, Ok(HI)), (0, Ok(STOP)), (0, Ok(USAGE)), (0, Ok(DONE))],
        config(Box::new(ChatChunks::new(true, None))),
    )
    .await;
    assert_eq!(run.body, format!("{HI}{STOP}{USAGE}{DONE}"));
}

#[tokio::test(start_paused = true)]
async fn events_split_anywhere_and_fields_reframed() {
    let run = run_with(
        vec![
            (0, Ok(": hello\r\nid: 1\r\nevent: message\r\ndata: {\"choices\":[{\"index\":0,")),
            (5, Ok("\"delta\":{\"content\":\"hi\"}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n")),
            (5, Ok("\ndata: [DONE]")),
        ],
        config(chat()),
    )
    .await;
    assert_eq!(run.body, format!("{HI}{STOP}{DONE}"));
    assert_eq!(run.outcome.end, End::Completed);
}

#[tokio::test(start_paused = true)]
async fn eof_after_finish_reason_is_a_normal_end() {
    let run = run_with(vec![(0, Ok(HI)), (0, Ok(STOP))], config(chat())).await;
    assert_eq!(run.body, format!("{HI}{STOP}{DONE}"));
    assert_eq!(run.outcome.end, End::Completed);
}

#[tokio::test(start_paused = true)]
async fn eof_before_finish_is_an_error_event_without_done() {
    let run = run_with(vec![(0, Ok(HI))], config(chat())).await;
    assert_eq!(run.outcome.end, End::Failed(StreamError::PrematureEnd));
    assert!(run.body.starts_with(HI));
    assert!(
        run.body.contains("\"code\":\"premature_end\""),
        "{}",
        run.body
    );
    assert!(!run.body.contains("[DONE]"));
}

#[tokio::test(start_paused = true)]
async fn failure_before_the_first_event_reaches_the_handler_not_the_body() {
    let run = run_with(
        vec![(0, Err(StreamError::Transport("reset".into())))],
        config(chat()),
    )
    .await;
    assert_eq!(run.commit, Err(StreamError::Transport("reset".into())));
    assert_eq!(run.body, "");
    assert!(!run.outcome.committed);
}

#[tokio::test(start_paused = true)]
async fn provider_error_event_is_the_last_event() {
    let run = run_with(
        vec![
            (0, Ok(HI)),
            (0, Ok("event: error\ndata: {\"error\":{\"message\":\"tool failed\",\"type\":\"invalid_request_error\",\"code\":\"tool_use_failed\"}}\n\n")),
            (0, Ok(STOP)),
        ],
        config(chat()),
    )
    .await;
    assert_eq!(
        run.body,
        format!("{HI}data: {{\"error\":{{\"message\":\"tool failed\",\"type\":\"invalid_request_error\",\"code\":\"tool_use_failed\"}}}}\n\n")
    );
    assert!(matches!(
        run.outcome.end,
        End::Failed(StreamError::ProviderEvent(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn usage_on_an_error_chunk_is_kept() {
    let run = run_with(
        vec![(0, Ok(HI)), (0, Ok("data: {\"error\":{\"message\":\"x\"},\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"))],
        config(chat()),
    )
    .await;
    assert_eq!(run.outcome.tally.usage.unwrap().total_tokens, 2);
}

#[tokio::test(start_paused = true)]
async fn invalid_json_is_a_protocol_error() {
    let run = run_with(
        vec![(0, Ok(HI)), (0, Ok("data: {not json\n\n"))],
        config(chat()),
    )
    .await;
    assert!(matches!(
        run.outcome.end,
        End::Failed(StreamError::Protocol(_))
    ));
    assert!(
        run.body.contains("provider_protocol") || run.body.contains("\"code\":\"protocol\""),
        "{}",
        run.body
    );
}

#[tokio::test(start_paused = true)]
async fn slow_first_token_commits_with_a_keepalive() {
    let mut cfg = config(chat());
    cfg.keepalive = Duration::from_millis(100);
    let run = run_with(vec![(250, Ok(HI)), (0, Ok(STOP))], cfg).await;
    assert_eq!(run.commit, Ok(()));
    assert_eq!(
        run.body,
        format!(": keep-alive\n\n: keep-alive\n\n{HI}{STOP}{DONE}")
    );
}

#[tokio::test(start_paused = true)]
async fn first_token_timeout_before_commit() {
    let mut cfg = config(chat());
    cfg.first_token = Duration::from_millis(50);
    let run = run_with(vec![(100, Ok(HI))], cfg).await;
    assert_eq!(
        run.commit,
        Err(StreamError::FirstTokenTimeout(Duration::from_millis(50)))
    );
    assert!(run.provider_dropped);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_after_commit_ends_with_error_event() {
    let mut cfg = config(chat());
    cfg.idle = Duration::from_millis(50);
    let run = run_with(
        vec![
            (0, Ok(HI)),
            (40, Ok(": ping\n\n")),
            (40, Ok(HI)),
            (200, Ok(STOP)),
        ],
        cfg,
    )
    .await;
    assert_eq!(
        run.outcome.end,
        End::Failed(StreamError::IdleTimeout(Duration::from_millis(50)))
    );
    // The comment at 40 ms reset the idle limit, so the second chunk at 80 ms still arrived.
    assert!(run.body.starts_with(&format!("{HI}{HI}")), "{}", run.body);
    assert!(run.body.contains("idle_timeout"));
}

#[tokio::test(start_paused = true)]
async fn total_timeout() {
    let mut cfg = config(chat());
    cfg.total = Duration::from_millis(100);
    let run = run_with(vec![(0, Ok(HI)), (60, Ok(HI)), (60, Ok(HI))], cfg).await;
    assert_eq!(
        run.outcome.end,
        End::Failed(StreamError::TotalTimeout(Duration::from_millis(100)))
    );
}

#[tokio::test(start_paused = true)]
async fn client_leaving_drops_the_provider_at_once() {
    let dropped = Arc::new(AtomicBool::new(false));
    let got: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let sink_slot = got.clone();
    let (commit, mut body) = start(
        provider(vec![(0, Ok(HI)), (10_000, Ok(STOP))], dropped.clone()),
        config(chat()),
        Box::new(move |o| *sink_slot.lock().unwrap() = Some(o)),
    );
    commit.await.unwrap();
    assert_eq!(body.next().await.unwrap().unwrap(), HI);
    drop(body);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(dropped.load(Ordering::SeqCst), "provider body still held");
    assert_eq!(got.lock().unwrap().as_ref().unwrap().end, End::ClientClosed);
}

#[tokio::test(start_paused = true)]
async fn simple_chat_framing() {
    let run = run_with(
        vec![
            (0, Ok(ROLE)),
            (0, Ok(HI)),
            (0, Ok(STOP)),
            (0, Ok(USAGE)),
            (0, Ok(DONE)),
        ],
        config(Box::new(SimpleChat::new(None))),
    )
    .await;
    assert_eq!(
        run.body,
        "data: {\"id\":null,\"content\":\"hi\",\"finish_reason\":null}\n\n\
         data: {\"id\":null,\"content\":\"\",\"finish_reason\":\"stop\"}\n\n\
         event: usage\ndata: {\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4,\"cost\":null,\"cost_local\":null}\n\n\
         data: [DONE]\n\n"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_cut_off_even_after_the_provider_finished() {
    let dropped = Arc::new(AtomicBool::new(false));
    let got: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let sink_slot = got.clone();
    let mut cfg = config(chat());
    cfg.slow_client_timeout = Duration::from_millis(100);
    let (commit, mut body) = start(
        provider(vec![(0, Ok(HI)), (0, Ok(STOP)), (0, Ok(DONE))], dropped),
        cfg,
        Box::new(move |o| *sink_slot.lock().unwrap() = Some(o)),
    );
    commit.await.unwrap();
    // The client takes nothing for longer than the limit.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        got.lock().unwrap().as_ref().expect("outcome").end,
        End::Failed(StreamError::SlowClient(Duration::from_millis(100)))
    );
    assert!(
        body.next().await.unwrap().is_err(),
        "the body fails instead of ending cleanly"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_reads_late_but_within_the_limit_gets_everything() {
    let got: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let sink_slot = got.clone();
    let mut cfg = config(chat());
    cfg.slow_client_timeout = Duration::from_millis(500);
    let (commit, body) = start(
        provider(
            vec![(0, Ok(HI)), (0, Ok(STOP)), (0, Ok(DONE))],
            Arc::default(),
        ),
        cfg,
        Box::new(move |o| *sink_slot.lock().unwrap() = Some(o)),
    );
    commit.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let chunks: Vec<_> = body.collect().await;
    let text: Vec<u8> = chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        format!("{HI}{STOP}{DONE}")
    );
    tokio::task::yield_now().await;
    assert_eq!(
        got.lock().unwrap().as_ref().expect("outcome").end,
        End::Completed
    );
}

#[tokio::test(start_paused = true)]
async fn total_limit_holds_while_data_is_always_ready() {
    let mut cfg = config(chat());
    cfg.total = Duration::from_millis(100);
    // Every piece is ready at once (no delay), and there are more than the limit allows.
    let script: Vec<_> = (0..50).map(|_| (10, Ok(HI))).collect();
    let run = run_with(script, cfg).await;
    assert_eq!(
        run.outcome.end,
        End::Failed(StreamError::TotalTimeout(Duration::from_millis(100)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_broken_connection_after_the_finish_is_a_normal_end() {
    let run = run_with(
        vec![
            (0, Ok(HI)),
            (0, Ok(STOP)),
            (0, Err(StreamError::Transport("reset".into()))),
        ],
        config(chat()),
    )
    .await;
    assert_eq!(run.outcome.end, End::Completed);
    assert_eq!(run.body, format!("{HI}{STOP}{DONE}"));
}

#[tokio::test(start_paused = true)]
async fn a_truncated_last_event_after_the_finish_is_a_normal_end() {
    let run = run_with(
        vec![
            (0, Ok(HI)),
            (0, Ok(STOP)),
            (0, Ok("data: {\"choices\":[],\"usage\":{\"prompt_to")),
        ],
        config(chat()),
    )
    .await;
    assert_eq!(run.outcome.end, End::Completed);
    assert!(run.body.ends_with(DONE));
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_open_streams_with_an_outcome() {
    let got: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let sink_slot = got.clone();
    let cfg = config(chat());
    let lifecycle = cfg.lifecycle.clone();
    let (commit, body) = start(
        provider(vec![(0, Ok(HI)), (60_000, Ok(STOP))], Arc::default()),
        cfg,
        Box::new(move |o| *sink_slot.lock().unwrap() = Some(o)),
    );
    commit.await.unwrap();
    lifecycle.shutdown.cancel();
    lifecycle.tasks.close();
    let chunks: Vec<_> = body.collect().await;
    lifecycle.tasks.wait().await;
    let text: Vec<u8> = chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.starts_with(HI) && text.contains("\"code\":\"shutdown\""),
        "{text}"
    );
    assert_eq!(
        got.lock().unwrap().as_ref().unwrap().end,
        End::Failed(StreamError::Shutdown)
    );
}

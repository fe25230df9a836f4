//! `sluice bench`: turns the flags into a `sluice_bench::BenchConfig`, runs the load (with a
//! progress bar when stderr is a terminal), and prints the result as tables or one JSON
//! document.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluice_bench::{Api, BenchConfig, BenchError, Diff, Report, Summary};

use crate::cli::{BenchApi, BenchArgs};
use crate::Failure;

/// The user message when neither --prompt nor --prompt-file is given.
const DEFAULT_PROMPT: &str = "Write a short paragraph about rivers.";
/// Requests made when neither --requests nor --duration is given.
const DEFAULT_REQUESTS: u64 = 10;

pub async fn run(args: BenchArgs) -> Result<(), Failure> {
    let cfg = config(&args)?;
    let planned = cfg
        .requests
        .map(|n| if args.compare.is_some() { 2 * n } else { n });
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| progress_bar(planned));
    let on_progress = |done: u64, _total: Option<u64>| {
        if let Some(bar) = &bar {
            bar.set_position(done);
        }
    };
    let result = match &args.compare {
        None => sluice_bench::run(&cfg, &on_progress)
            .await
            .map(|report| Outcome::One(Box::new(report))),
        Some(url) => {
            let other = BenchConfig {
                base_url: url.clone(),
                ..cfg.clone()
            };
            sluice_bench::compare(&cfg, &other, &on_progress)
                .await
                .map(|(a, b)| Outcome::Two(Box::new((a, b))))
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = result.map_err(failure)?;

    match &outcome {
        Outcome::One(report) => unreachable_target(&cfg.base_url, report)?,
        Outcome::Two(pair) => {
            unreachable_target(&cfg.base_url, &pair.0)?;
            unreachable_target(args.compare.as_deref().unwrap_or_default(), &pair.1)?;
        }
    }
    let text = if args.json {
        json(&outcome)?
    } else {
        match &outcome {
            Outcome::One(report) => table(&cfg.base_url, &cfg, report),
            Outcome::Two(pair) => {
                let (a, b) = &**pair;
                let url2 = args.compare.as_deref().unwrap_or_default();
                let mut text = format!(
                    "A: {}\nB: {}\n",
                    table(&cfg.base_url, &cfg, a),
                    table(url2, &cfg, b)
                );
                text.push_str(&difference(&Diff::between(a, b)));
                text
            }
        }
    };
    print!("{text}");
    Ok(())
}

enum Outcome {
    One(Box<Report>),
    Two(Box<(Report, Report)>),
}

fn config(args: &BenchArgs) -> Result<BenchConfig, Failure> {
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!("cannot read --prompt-file {}: {e}", path.display()))
        })?,
        (None, None) => DEFAULT_PROMPT.to_owned(),
    };
    Ok(BenchConfig {
        base_url: args.base_url.clone(),
        api: match args.api {
            BenchApi::Chat => Api::Chat,
            BenchApi::Responses => Api::Responses,
            BenchApi::Messages => Api::Messages,
        },
        model: args.model.clone(),
        api_key: args.api_key.clone(),
        concurrency: args.concurrency,
        requests: args
            .requests
            .or(args.duration.is_none().then_some(DEFAULT_REQUESTS)),
        duration: args.duration,
        prompt,
        max_tokens: args.max_tokens,
        headers: args.headers.clone(),
        timeout: args.timeout,
        read_delay: args.read_delay,
    })
}

fn failure(e: BenchError) -> Failure {
    match e {
        BenchError::Client(_) => Failure::Runtime(e.into()),
        BenchError::BadUrl { .. } | BenchError::BadHeader { .. } | BenchError::BadConfig(_) => {
            Failure::Usage(e.to_string())
        }
    }
}

/// Every request failed to connect: one clear line instead of a table of nothing.
fn unreachable_target(url: &str, report: &Report) -> Result<(), Failure> {
    if !report.all_failed_to_connect() {
        return Ok(());
    }
    let reason = report
        .error_examples
        .get("connect")
        .map_or("connection failed", String::as_str);
    Err(Failure::Runtime(anyhow::anyhow!(
        "cannot connect to {url}: {reason}"
    )))
}

fn progress_bar(planned: Option<u64>) -> ProgressBar {
    let bar = match planned {
        Some(n) => {
            let bar = ProgressBar::new(n);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} requests, {elapsed}")
            {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} requests, {elapsed}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}

fn json(outcome: &Outcome) -> Result<String, Failure> {
    let doc = match outcome {
        Outcome::One(report) => serde_json::json!({ "report": report }),
        Outcome::Two(pair) => {
            let (a, b) = &**pair;
            serde_json::json!({ "a": a, "b": b, "diff": Diff::between(a, b) })
        }
    };
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| Failure::Runtime(e.into()))?;
    text.push('\n');
    Ok(text)
}

/// One target's results as a small table.
fn table(url: &str, cfg: &BenchConfig, r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{url} (model {}, concurrency {}",
        cfg.model, cfg.concurrency
    );
    if let Some(delay) = cfg.read_delay.filter(|d| !d.is_zero()) {
        let _ = write!(out, ", read delay {}", humantime::format_duration(delay));
    }
    let _ = writeln!(out, ")");
    let _ = writeln!(
        out,
        "  requests {}, ok {}, failed {}, wall {:.3} s",
        r.requests,
        r.ok,
        r.failed(),
        r.wall.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  {:<8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "ms", "min", "p50", "p90", "p99", "max", "count"
    );
    for (name, s) in metrics(r) {
        let _ = writeln!(
            out,
            "  {:<8} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>8}",
            name, s.min_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.count
        );
    }
    let _ = writeln!(
        out,
        "  tokens   {} completion tokens, {:.1} tokens/s",
        r.completion_tokens, r.tokens_per_s
    );
    if r.errors.is_empty() {
        let _ = writeln!(out, "  errors   none");
    } else {
        let _ = writeln!(out, "  errors");
        for (kind, n) in &r.errors {
            let example = r.error_examples.get(kind).map_or("", String::as_str);
            let _ = writeln!(out, "    {kind:<12} {n:>6}  {example}");
        }
    }
    out
}

fn metrics(r: &Report) -> [(&'static str, &Summary); 4] {
    [
        ("ttft", &r.ttft),
        ("tpot", &r.tpot),
        ("gap", &r.gap),
        ("total", &r.total),
    ]
}

/// B − A per metric, and the throughput ratio.
fn difference(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "difference (B - A)");
    let _ = writeln!(out, "  {:<8} {:>10} {:>10}", "ms", "p50", "p99");
    for (name, m) in [
        ("ttft", &d.ttft),
        ("tpot", &d.tpot),
        ("gap", &d.gap),
        ("total", &d.total),
    ] {
        let _ = writeln!(out, "  {:<8} {:>+10.2} {:>+10.2}", name, m.p50_ms, m.p99_ms);
    }
    match d.tokens_per_s_ratio {
        Some(ratio) => {
            let _ = writeln!(out, "  tokens/s B/A = {ratio:.3}x");
        }
        None => {
            let _ = writeln!(out, "  tokens/s B/A = n/a (A had no throughput)");
        }
    }
    out
}

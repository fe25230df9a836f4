//! The dashboard's data API (`docs/dashboard-api.md`), black box against the real binary on
//! loopback: every endpoint answers 401 without a key or with a wrong or revoked one, 403 to
//! an ordinary key, 200 to an admin key, and to everyone on an open gateway; the live snapshot
//! shows streamed requests (counts, tokens, TTFT/TPOT) and spend today equal to the ledger's
//! rows to the last digit; the requests list pages newest first without overlap, filtered;
//! keys created through it work at once and revoked ones are refused at once; spend from the
//! rollups equals the rows, also after the migration fills the rollups of an older ledger
//! (Postgres); a live stream ends when the gateway shuts down. SQLite and Postgres.

mod common;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use common::store::Store;
use common::{chat, config_for, eventually, post, Proc, Reply};
use serde_json::{json, Value};
use sluice_ledger::{ApiKey, Ledger};
use sluice_pricing::Decimal;
use sluice_types::{unix_ms, KeyLimits};

/// The mock's model costs 0.27 / 0.42 USD per million tokens, billed in yen at 150 per USD
/// (which makes 150 the display rate for JPY).
const PRICED: &str = "[providers.up.prices]\n\"mock\" = { input = 0.27, output = 0.42 }\n\
                      [providers.up.billing]\ncurrency = \"JPY\"\nper_usd = 150\n";

const ENDPOINTS: [(&str, &str); 5] = [
    ("GET", "/v1/dashboard/session"),
    ("GET", "/v1/dashboard/spend?period=today"),
    ("GET", "/v1/dashboard/requests"),
    ("GET", "/v1/dashboard/keys"),
    ("GET", "/v1/dashboard/live"),
];

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// A gateway in front of `up` with its ledger in `store` and `top` as top-level settings.
fn gateway(up: &Proc, store: &Store, top: &str) -> Proc {
    Proc::gateway(&format!(
        "ledger = \"{}\"\ndisplay_currency = \"JPY\"\n{top}\n{}",
        store.url(),
        config_for(up, PRICED)
    ))
}

/// Stores a new key in the ledger (as `sluice keys create` does): (id, the whole key).
async fn add_key(ledger: &Ledger, name: &str, admin: bool) -> (String, String) {
    let new = sluice_limit::key::generate().unwrap();
    let now = unix_ms();
    ledger
        .insert_key(&ApiKey {
            id: new.id.clone(),
            name: name.into(),
            secret_hash: new.secret_hash,
            admin,
            limits: KeyLimits::default(),
            created_ms: now,
            expires_ms: None,
            revoked_ms: None,
            last_used_ms: None,
            updated_ms: now,
        })
        .await
        .unwrap();
    (new.id, new.token)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A request to the gateway; a live stream is read up to its first event only.
async fn call(
    gw: &Proc,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let client = common::client();
    let mut req = match method {
        "GET" => client.get(gw.url(path)),
        _ => client.post(gw.url(path)),
    };
    if let Some(t) = token {
        req = req.header("authorization", bearer(t));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    if path.starts_with("/v1/dashboard/live") && res.status() == 200 {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let mut live = Live {
            res,
            buf: String::new(),
        };
        let event = live.next_raw().await;
        return Reply {
            status,
            headers,
            body: event,
        };
    }
    common::read(res).await
}

/// An open live stream.
struct Live {
    res: reqwest::Response,
    buf: String,
}

impl Live {
    async fn open(gw: &Proc, token: Option<&str>) -> Live {
        let mut req = common::client().get(gw.url("/v1/dashboard/live"));
        if let Some(t) = token {
            req = req.header("authorization", bearer(t));
        }
        let res = req.send().await.expect("live stream");
        assert_eq!(res.status(), 200);
        Live {
            res,
            buf: String::new(),
        }
    }

    /// The next event as text (`event: ...\ndata: ...`).
    async fn next_raw(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let event = self.buf[..end].to_owned();
                self.buf.drain(..end + 2);
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("a snapshot within 10 s")
                .expect("stream readable")
                .expect("stream still open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next snapshot's JSON.
    async fn next(&mut self) -> Value {
        let event = self.next_raw().await;
        let mut lines = event.lines();
        assert_eq!(lines.next(), Some("event: snapshot"), "{event}");
        let data = lines.next().and_then(|l| l.strip_prefix("data: ")).unwrap();
        serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"))
    }

    /// Snapshots until `check` holds (at most 20).
    async fn until(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..20 {
            let snap = self.next().await;
            if check(&snap) {
                return snap;
            }
        }
        panic!("no snapshot showed {what}");
    }
}

fn error_type(reply: &Reply) -> String {
    reply.json()["error"]["type"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn every_endpoint_needs_an_admin_key() {
    let up = Proc::mock_upstream(&[]);
    let store = Store::new(false).await;
    let ledger = store.ledger().await;
    let (_, admin) = add_key(&ledger, "ops", true).await;
    let (_, plain) = add_key(&ledger, "app", false).await;
    let (revoked_id, revoked) = add_key(&ledger, "old", true).await;
    ledger.revoke_key(&revoked_id, unix_ms()).await.unwrap();
    let gw = gateway(&up, &store, "");
    // Well formed, but no key has it.
    let wrong = sluice_limit::key::generate().unwrap().token;
    let mut all: Vec<(&str, String, Option<Value>)> = ENDPOINTS
        .iter()
        .map(|(m, p)| (*m, (*p).to_owned(), None))
        .collect();
    all.push((
        "POST",
        "/v1/dashboard/keys".into(),
        Some(json!({"name": "x"})),
    ));
    all.push((
        "POST",
        "/v1/dashboard/keys/nosuchkey000/revoke".into(),
        None,
    ));
    for (method, path, body) in &all {
        for token in [None, Some(wrong.as_str()), Some(revoked.as_str())] {
            let r = call(&gw, method, path, token, body.clone()).await;
            assert_eq!(r.status, 401, "{method} {path} {token:?}: {}", r.body);
            assert_eq!(error_type(&r), "invalid_request_error");
        }
        let r = call(&gw, method, path, Some(&plain), body.clone()).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(error_type(&r), "permission_error");
        assert!(r.json()["error"]["message"].is_string());
    }
    // The ordinary key still works where it may.
    let ok = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", false),
        &[("authorization", &bearer(&plain))],
    )
    .await;
    assert_eq!(ok.status, 200);
    for (method, path) in ENDPOINTS {
        let r = call(&gw, method, path, Some(&admin), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let session = call(&gw, "GET", "/v1/dashboard/session", Some(&admin), None).await;
    let s = session.json();
    assert_eq!(s["open"], false);
    assert_eq!(s["key"]["name"], "ops");
    assert_eq!(s["key"]["admin"], true);
    assert_eq!(s["display_currency"], "JPY");
    assert_eq!(s["ledger"], "sqlite");
    assert!(s["replica"].as_str().is_some_and(|r| !r.is_empty()));
    let live = call(&gw, "GET", "/v1/dashboard/live", Some(&admin), None).await;
    assert_eq!(live.header("content-type"), Some("text/event-stream"));
    assert!(
        live.body.starts_with("event: snapshot\ndata: {"),
        "{}",
        live.body
    );
}

#[tokio::test]
async fn an_open_gateway_answers_everyone() {
    let up = Proc::mock_upstream(&[]);
    let store = Store::new(false).await;
    let gw = gateway(&up, &store, "");
    for (method, path) in ENDPOINTS {
        let r = call(&gw, method, path, None, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let s = call(&gw, "GET", "/v1/dashboard/session", None, None)
        .await
        .json();
    assert_eq!(
        (s["open"].clone(), s["key"].clone()),
        (json!(true), Value::Null)
    );
    // A key made from the dashboard closes the gateway at once.
    let made = call(
        &gw,
        "POST",
        "/v1/dashboard/keys",
        None,
        Some(json!({"name": "first", "admin": true})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let r = call(&gw, "GET", "/v1/dashboard/session", None, None).await;
    assert_eq!(r.status, 401);
    let secret = made.json()["secret"].as_str().unwrap().to_owned();
    let s = call(&gw, "GET", "/v1/dashboard/session", Some(&secret), None)
        .await
        .json();
    assert_eq!(s["key"]["name"], "first");
}

/// The exact sum of the rows' USD cost since `since_ms`, from the ledger itself.
async fn rows_usd(ledger: &Ledger, since_ms: i64) -> (Decimal, u64) {
    let rows = ledger.spend_from_rows(since_ms, None).await.unwrap();
    let usd = rows.iter().map(|r| r.cost_usd).sum::<Decimal>();
    (usd.normalize(), rows.iter().map(|r| r.requests).sum())
}

async fn live_snapshot_shows_streamed_requests(postgres: bool) {
    let up = Proc::mock_upstream(&["--tokens", "12", "--ttft", "5ms", "--itl", "1ms"]);
    let store = Store::new(postgres).await;
    let ledger = store.ledger().await;
    let (_, admin) = add_key(&ledger, "ops", true).await;
    let gw = gateway(&up, &store, "");
    let auth = bearer(&admin);
    const N: u64 = 6;
    for _ in 0..N {
        let r = post(
            &gw.url("/v1/chat/completions"),
            &chat("mock", true),
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(r.ends_with_done());
    }
    let mut live = Live::open(&gw, Some(&admin)).await;
    let snap = live
        // Today's and this month's sums are two reads, so a row may land between them: wait
        // for both.
        .until("the requests and their spend", |s| {
            s["groups"][0]["requests"] == N
                && s["spend"]["today"]["requests"] == N
                && s["spend"]["month"]["requests"] == N
        })
        .await;
    let g = &snap["groups"][0];
    assert_eq!(
        (g["model"].clone(), g["provider"].clone()),
        (json!("mock"), json!("up"))
    );
    assert!(g["tokens_per_s"].as_f64().unwrap() > 0.0, "{g}");
    assert!(g["requests_per_s"].as_f64().unwrap() > 0.0, "{g}");
    for p in ["p50", "p95", "p99"] {
        assert!(g["ttft_ms"][p].as_f64().unwrap() > 0.0, "{g}");
        assert!(g["tpot_ms"][p].as_f64().unwrap() > 0.0, "{g}");
    }
    assert!(g["ttft_ms"]["p50"].as_f64() <= g["ttft_ms"]["p99"].as_f64());
    assert_eq!(g["errors"], json!({}));
    assert_eq!(snap["window_s"], 300);
    let series = snap["series"].as_array().unwrap();
    assert_eq!(series.len(), 300);
    let counted: u64 = series.iter().map(|p| p["requests"].as_u64().unwrap()).sum();
    assert_eq!(counted, N);
    let times: Vec<i64> = series.iter().map(|p| p["t"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 1000));
    assert!(series
        .iter()
        .any(|p| p["ttft_p50_ms"].as_f64().unwrap() > 0.0));
    assert_eq!(
        snap["breakers"],
        json!([{"provider": "up", "state": "closed"}])
    );
    assert_eq!(snap["active_streams"], 0);
    // Spend today is the rows' sum, to the last digit, and in yen at the display rate.
    let today = &snap["spend"]["today"];
    let since = today["since"].as_i64().unwrap();
    let (usd, n) = rows_usd(&ledger, since).await;
    assert_eq!(n, N);
    assert!(usd > Decimal::ZERO);
    assert_eq!(dec(today["usd"].as_str().unwrap()), usd);
    assert_eq!(today["usd"].as_str().unwrap(), usd.to_string());
    assert_eq!(
        dec(today["local"].as_str().unwrap()),
        (usd * Decimal::from(150)).normalize()
    );
    assert_eq!(today["currency"], "JPY");
    let month = &snap["spend"]["month"];
    assert!(month["since"].as_i64().unwrap() <= since);
    assert_eq!(month["requests"], N);
}

#[tokio::test]
async fn the_live_snapshot_shows_streamed_requests_sqlite() {
    live_snapshot_shows_streamed_requests(false).await;
}

#[tokio::test]
async fn the_live_snapshot_shows_streamed_requests_postgres() {
    live_snapshot_shows_streamed_requests(true).await;
}

/// Which request ids a filter keeps.
type Keep<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// Every page of `/v1/dashboard/requests?{query}`, `limit` rows at a time.
async fn pages(gw: &Proc, admin: &str, query: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/v1/dashboard/requests?limit={limit}{query}");
        if let Some(c) = &before {
            path.push_str(&format!("&before={c}"));
        }
        let r = call(gw, "GET", &path, Some(admin), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let doc = r.json();
        let rows = doc["rows"].as_array().unwrap().clone();
        assert!(rows.len() <= limit);
        let empty = rows.is_empty();
        if !empty {
            out.push(rows);
        }
        match doc["next"].as_str() {
            Some(c) if !empty => before = Some(c.to_owned()),
            _ => break,
        }
    }
    out
}

async fn requests_page_newest_first_filtered(postgres: bool) {
    let up = Proc::mock_upstream(&["--tokens", "3"]);
    let store = Store::new(postgres).await;
    let ledger = store.ledger().await;
    let (admin_id, admin) = add_key(&ledger, "ops", true).await;
    let (app_id, app) = add_key(&ledger, "app", false).await;
    let gw = gateway(&up, &store, "");
    let mut sent: Vec<(String, &str, &str)> = Vec::new();
    for (model, token, id) in [
        ("mock", &admin, &admin_id),
        ("fast", &app, &app_id),
        ("mock", &app, &app_id),
        ("nope", &admin, &admin_id),
        ("mock", &admin, &admin_id),
        ("fast", &admin, &admin_id),
        ("nope", &app, &app_id),
        ("mock", &app, &app_id),
        ("fast", &app, &app_id),
        ("mock", &admin, &admin_id),
        ("mock", &admin, &admin_id),
    ] {
        let r = post(
            &gw.url("/v1/chat/completions"),
            &chat(model, true),
            &[("authorization", &bearer(token))],
        )
        .await;
        let rid = r.header("x-sluice-request-id").unwrap().to_owned();
        sent.push((rid, model, id.as_str()));
    }
    let n = sent.len() as u64;
    eventually("every row written", || async {
        ledger.count().await.unwrap() >= n
    })
    .await;

    let all: Vec<Value> = pages(&gw, &admin, "", 4).await.concat();
    let ids: Vec<&str> = all
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "pages overlap");
    let expected: BTreeSet<&str> = sent.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(unique, expected);
    // Newest first: by finish time, then id; and requests sent one after the other come in the
    // reverse order of sending (unless they finished within the same millisecond).
    let order: Vec<(i64, &str)> = all
        .iter()
        .map(|r| {
            (
                r["finished_ms"].as_i64().unwrap(),
                r["request_id"].as_str().unwrap(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(order, sorted);
    let sent_at = |id: &str| sent.iter().position(|s| s.0 == id).unwrap();
    for w in order.windows(2) {
        if w[0].0 > w[1].0 {
            assert!(sent_at(w[0].1) > sent_at(w[1].1), "{order:?}");
        }
    }
    let row = all.iter().find(|r| r["status"] == "ok").unwrap();
    assert!(
        dec(row["cost_usd"].as_str().unwrap()) > Decimal::ZERO,
        "{row}"
    );
    assert_eq!(row["currency"], "JPY");
    assert!(row["ttft_ms"].as_f64().is_some());
    assert!(row["prompt_tokens"].as_u64().unwrap() > 0);

    // Filters, alone and together: exactly the matching rows, in the same order.
    let model_of = |id: &str| sent[sent_at(id)].1;
    let key_of = |id: &str| sent[sent_at(id)].2;
    let app_mock = format!("&key={app_id}&model=mock");
    let cases: [(&str, Keep); 5] = [
        ("&model=fast", Box::new(|id| model_of(id) == "fast")),
        ("&status=not_found", Box::new(|id| model_of(id) == "nope")),
        ("&provider=up", Box::new(|id| model_of(id) != "nope")),
        (
            app_mock.as_str(),
            Box::new(|id| key_of(id) == app_id && model_of(id) == "mock"),
        ),
        ("&key=nobody000000", Box::new(|_| false)),
    ];
    for (query, keep) in cases {
        let got: Vec<String> = pages(&gw, &admin, query, 2)
            .await
            .concat()
            .iter()
            .map(|r| r["request_id"].as_str().unwrap().to_owned())
            .collect();
        let want: Vec<String> = ids
            .iter()
            .filter(|id| keep(id))
            .map(|id| (*id).to_owned())
            .collect();
        assert_eq!(got, want, "{query}");
    }
    let app_rows = pages(&gw, &admin, &format!("&key={app_id}"), 50)
        .await
        .concat();
    assert!(app_rows.iter().all(|r| r["key_name"] == "app"));
    // Bad queries are 400 in OpenAI's shape.
    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "before=nonsense",
        "sort=asc",
    ] {
        let r = call(
            &gw,
            "GET",
            &format!("/v1/dashboard/requests?{bad}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(error_type(&r), "invalid_request_error");
    }
}

#[tokio::test]
async fn requests_page_newest_first_filtered_sqlite() {
    requests_page_newest_first_filtered(false).await;
}

#[tokio::test]
async fn requests_page_newest_first_filtered_postgres() {
    requests_page_newest_first_filtered(true).await;
}

#[tokio::test]
async fn a_key_created_works_at_once_and_a_revoked_one_is_refused_at_once() {
    let up = Proc::mock_upstream(&[]);
    let store = Store::new(false).await;
    let ledger = store.ledger().await;
    let (_, admin) = add_key(&ledger, "ops", true).await;
    let gw = gateway(&up, &store, "");
    let made = call(
        &gw,
        "POST",
        "/v1/dashboard/keys",
        Some(&admin),
        Some(json!({"name": " ci runner ", "rpm": 100, "budget": "5", "models": ["mock"]})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let doc = made.json();
    let secret = doc["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-sluice-"), "{secret}");
    let key = &doc["key"];
    let id = key["id"].as_str().unwrap().to_owned();
    assert!(secret.contains(&id));
    assert_eq!(key["name"], "ci runner");
    assert_eq!(key["admin"], false);
    assert_eq!(key["status"], "active");
    assert_eq!(key["rpm"], 100);
    assert_eq!(key["models"], json!(["mock"]));
    assert_eq!(
        key["budget"],
        json!({"amount": "5", "currency": "USD", "window": "month"})
    );
    assert_eq!(key["spent"], "0");
    // Stored as `sluice keys` stores keys: the hash, never the secret.
    let stored = ledger.key(&id).await.unwrap().expect("stored");
    assert_eq!(stored.limits.rpm, Some(100));
    let secret_part = secret.rsplit('-').next().unwrap();
    assert_eq!(
        stored.secret_hash,
        sluice_limit::key::hash_secret(secret_part)
    );

    // It works at once, within its allow-list.
    let auth = bearer(&secret);
    let r = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", true),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        &gw.url("/v1/chat/completions"),
        &chat("fast", true),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // The list shows it, without its secret, with what it spent.
    let listed = call(&gw, "GET", "/v1/dashboard/keys", Some(&admin), None).await;
    assert!(!listed.body.contains(secret_part));
    assert!(!listed.body.contains(&stored.secret_hash));
    let keys = listed.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    let mine = keys.iter().find(|k| k["id"] == id.as_str()).unwrap();
    eventually("the request is in the ledger", || async {
        ledger.count().await.unwrap() >= 2
    })
    .await;
    let listed = call(&gw, "GET", "/v1/dashboard/keys", Some(&admin), None)
        .await
        .json();
    let mine_now = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(mine["spent_currency"], "USD");
    assert!(
        dec(mine_now["spent"].as_str().unwrap()) > Decimal::ZERO,
        "{mine_now}"
    );

    // Revoked: refused at once; revoking again keeps the first time; unknown ids are 404.
    let r = call(
        &gw,
        "POST",
        &format!("/v1/dashboard/keys/{id}/revoke"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let revoked = r.json();
    assert_eq!(revoked["key"]["status"], "revoked");
    let at = revoked["key"]["revoked_ms"].as_i64().unwrap();
    let r = post(
        &gw.url("/v1/chat/completions"),
        &chat("mock", true),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let again = call(
        &gw,
        "POST",
        &format!("/v1/dashboard/keys/{id}/revoke"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(again.json()["key"]["revoked_ms"], at);
    let r = call(
        &gw,
        "POST",
        "/v1/dashboard/keys/nosuchkey000/revoke",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "key_not_found");

    // Settings are checked as `sluice keys create` checks its flags.
    for (body, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"name": "x", "rpm": 0}), "rpm"),
        (json!({"name": "x", "budget": "-1"}), "budget_usd"),
        (
            json!({"name": "x", "budget": "5", "currency": "EUR"}),
            "currency",
        ),
        (
            json!({"name": "x", "window": "2d", "budget": "1"}),
            "window",
        ),
        (json!({"name": "x", "expires": "soon"}), "expires"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"admin": true}), "name"),
    ] {
        let r = call(
            &gw,
            "POST",
            "/v1/dashboard/keys",
            Some(&admin),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(ledger.keys().await.unwrap().len(), 2);
}

/// A spend document against the ledger's rows since its `since`: totals, by model, by key, in
/// USD and in yen at the display rate (150).
async fn check_spend(ledger: &Ledger, admin_id: &str, doc: Value) {
    let since = doc["since"].as_i64().unwrap();
    let rows = ledger.spend_from_rows(since, None).await.unwrap();
    let (usd, n) = rows_usd(ledger, since).await;
    assert_eq!(
        doc["total"]["usd"].as_str().unwrap(),
        usd.to_string(),
        "{doc}"
    );
    assert_eq!(doc["total"]["requests"], n);
    assert_eq!(
        dec(doc["total"]["local"].as_str().unwrap()),
        (usd * Decimal::from(150)).normalize()
    );
    let prompt: u64 = rows.iter().map(|r| r.prompt_tokens).sum();
    assert_eq!(doc["total"]["prompt_tokens"], prompt);
    for model in ["mock", "fast"] {
        let want: Decimal = rows
            .iter()
            .filter(|r| r.model == model)
            .map(|r| r.cost_usd)
            .sum();
        let line = doc["by_model"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == model)
            .unwrap_or_else(|| panic!("{model}: {doc}"));
        assert_eq!(dec(line["usd"].as_str().unwrap()), want);
    }
    let key = &doc["by_key"][0];
    assert_eq!(key["name"], "ops");
    assert_eq!(key["id"], admin_id);
    assert_eq!(doc["by_provider"][0]["name"], "up");
    assert_eq!(doc["currency"], "JPY");
}

async fn spend_from_rollups_equals_the_rows(postgres: bool) {
    let up = Proc::mock_upstream(&["--tokens", "9"]);
    let store = Store::new(postgres).await;
    let ledger = store.ledger().await;
    let (admin_id, admin) = add_key(&ledger, "ops", true).await;
    let gw = gateway(&up, &store, "");
    for i in 0..8 {
        let model = if i % 3 == 0 { "fast" } else { "mock" };
        post(
            &gw.url("/v1/chat/completions"),
            &chat(model, i % 2 == 0),
            &[("authorization", &bearer(&admin))],
        )
        .await;
    }
    eventually("every row written", || async {
        ledger.count().await.unwrap() >= 8
    })
    .await;
    for period in ["today", "month"] {
        let r = call(
            &gw,
            "GET",
            &format!("/v1/dashboard/spend?period={period}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        check_spend(&ledger, &admin_id, r.json()).await;
    }
    let r = call(
        &gw,
        "GET",
        "/v1/dashboard/spend?period=week",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    if !postgres {
        return;
    }
    // A ledger written before the rollups: the next start fills them from the rows.
    drop(gw);
    let Store::Postgres { base, schema } = &store else {
        unreachable!()
    };
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "SET search_path TO {schema}; DROP TABLE ledger_rollup_minutes; \
             DROP TABLE ledger_rollup_days; DELETE FROM ledger_schema_migrations WHERE version = 5;"
        ))
        .await
        .unwrap();
    let gw = gateway(&up, &store, "");
    let r = call(
        &gw,
        "GET",
        "/v1/dashboard/spend?period=month",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total"]["requests"], 8);
    check_spend(&ledger, &admin_id, r.json()).await;
}

#[tokio::test]
async fn spend_from_rollups_equals_the_rows_sqlite() {
    spend_from_rollups_equals_the_rows(false).await;
}

#[tokio::test]
async fn spend_from_rollups_equals_the_rows_postgres() {
    spend_from_rollups_equals_the_rows(true).await;
}

#[tokio::test]
async fn a_live_stream_ends_when_the_gateway_shuts_down() {
    let up = Proc::mock_upstream(&[]);
    let store = Store::new(false).await;
    // A long grace: a stream that held the drain would hold the exit for most of it.
    let mut gw = gateway(&up, &store, "shutdown_grace = \"120s\"");
    let mut live = Live::open(&gw, None).await;
    live.next().await;
    live.next().await;
    gw.sigterm();
    // The stream ends cleanly (its body completes), and the process exits, well inside the
    // grace period.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match live.res.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    })
    .await
    .expect("the live stream ended");
    assert!(ended, "the stream was cut, not ended");
    let status = gw
        .wait_exit(Duration::from_secs(30))
        .expect("the gateway exited");
    assert!(status.success(), "{status:?}");
}

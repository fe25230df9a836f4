-- One row per request. Money is exact decimal text; times are unix milliseconds.
CREATE TABLE ledger_requests (
    request_id        TEXT    NOT NULL PRIMARY KEY,
    at_ms             INTEGER NOT NULL,
    key_id            TEXT,
    model             TEXT    NOT NULL,
    provider          TEXT,
    provider_model    TEXT,
    status            TEXT    NOT NULL,
    http_status       INTEGER NOT NULL,
    stream            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    estimated         INTEGER NOT NULL,
    cost_usd          TEXT    NOT NULL,
    cost_local        TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    ttft_ms           REAL,
    duration_ms       REAL    NOT NULL,
    attempts          INTEGER NOT NULL,
    error             TEXT
);

CREATE INDEX ledger_requests_at_ms ON ledger_requests (at_ms);

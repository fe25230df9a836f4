-- One row per request. Money is exact NUMERIC; times are unix milliseconds.
CREATE TABLE ledger_requests (
    request_id        TEXT             NOT NULL PRIMARY KEY,
    at_ms             BIGINT           NOT NULL,
    key_id            TEXT,
    model             TEXT             NOT NULL,
    provider          TEXT,
    provider_model    TEXT,
    status            TEXT             NOT NULL,
    http_status       INTEGER          NOT NULL,
    stream            BOOLEAN          NOT NULL,
    prompt_tokens     BIGINT           NOT NULL,
    completion_tokens BIGINT           NOT NULL,
    estimated         BOOLEAN          NOT NULL,
    cost_usd          NUMERIC(28, 12)  NOT NULL,
    cost_local        NUMERIC(28, 12)  NOT NULL,
    currency          TEXT             NOT NULL,
    ttft_ms           DOUBLE PRECISION,
    duration_ms       DOUBLE PRECISION NOT NULL,
    attempts          INTEGER          NOT NULL,
    error             TEXT
);

CREATE INDEX ledger_requests_at_ms ON ledger_requests (at_ms);

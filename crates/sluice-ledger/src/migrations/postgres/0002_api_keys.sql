-- Gateway API keys. Only the SHA-256 of a key's secret is stored. A budget is its amount as
-- an exact NUMERIC (unconstrained, so any amount typed is kept as typed), its currency and its
-- window, all three or none; `models` is a JSON array of route names (NULL: every model).
-- Times are unix milliseconds.
CREATE TABLE ledger_api_keys (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    secret_hash     TEXT    NOT NULL,
    admin           BOOLEAN NOT NULL DEFAULT FALSE,
    rpm             BIGINT,
    tpm             BIGINT,
    budget_amount   NUMERIC,
    budget_currency TEXT,
    budget_window   TEXT,
    models          TEXT,
    created_ms      BIGINT  NOT NULL,
    expires_ms      BIGINT,
    revoked_ms      BIGINT,
    last_used_ms    BIGINT,
    updated_ms      BIGINT  NOT NULL
);

-- A key's spend in its budget window, and the usage report of one key.
CREATE INDEX ledger_requests_key_at_ms ON ledger_requests (key_id, at_ms);

-- Gateway API keys. Only the SHA-256 of a key's secret is stored. A budget is its amount as
-- exact decimal text, its currency and its window, all three or none; `models` is a JSON
-- array of route names (NULL: every model). Times are unix milliseconds.
CREATE TABLE ledger_api_keys (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    secret_hash     TEXT    NOT NULL,
    admin           INTEGER NOT NULL DEFAULT 0,
    rpm             INTEGER,
    tpm             INTEGER,
    budget_amount   TEXT,
    budget_currency TEXT,
    budget_window   TEXT,
    models          TEXT,
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER,
    revoked_ms      INTEGER,
    last_used_ms    INTEGER,
    updated_ms      INTEGER NOT NULL
);

-- A key's spend in its budget window, and the usage report of one key.
CREATE INDEX ledger_requests_key_at_ms ON ledger_requests (key_id, at_ms);

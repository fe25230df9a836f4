-- Requests, tokens and exact cost (decimal text) per minute and per UTC day, by model,
-- provider, key and billing currency ('' for no provider or no key). Every insert of request
-- rows adds to them in its own transaction; here they are filled from the rows already stored.
-- Buckets start at (at_ms / width) * width.
CREATE TABLE ledger_rollup_minutes (
    minute_ms         INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    key_id            TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          TEXT    NOT NULL,
    cost_local        TEXT    NOT NULL,
    PRIMARY KEY (minute_ms, model, provider, key_id, currency)
) WITHOUT ROWID;

CREATE TABLE ledger_rollup_days (
    day_ms            INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    key_id            TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          TEXT    NOT NULL,
    cost_local        TEXT    NOT NULL,
    PRIMARY KEY (day_ms, model, provider, key_id, currency)
) WITHOUT ROWID;

INSERT INTO ledger_rollup_minutes
SELECT (at_ms / 60000) * 60000, model, COALESCE(provider, ''), COALESCE(key_id, ''), currency,
       COUNT(*), SUM(prompt_tokens), SUM(completion_tokens),
       decimal_sum(cost_usd), decimal_sum(cost_local)
FROM ledger_requests GROUP BY 1, 2, 3, 4, 5;

INSERT INTO ledger_rollup_days
SELECT (minute_ms / 86400000) * 86400000, model, provider, key_id, currency,
       SUM(requests), SUM(prompt_tokens), SUM(completion_tokens),
       decimal_sum(cost_usd), decimal_sum(cost_local)
FROM ledger_rollup_minutes GROUP BY 1, 2, 3, 4, 5;

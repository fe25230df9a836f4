-- Requests, tokens and exact cost per minute and per UTC day, by model, provider, key and
-- billing currency ('' for no provider or no key). Every insert of request rows adds to them
-- in the same statement; here they are filled from the rows already stored. Buckets start at
-- (at_ms / width) * width. NUMERIC without a scale: sums keep every digit of the rows'.
CREATE TABLE ledger_rollup_minutes (
    minute_ms         BIGINT  NOT NULL,
    model             TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    key_id            TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    requests          BIGINT  NOT NULL,
    prompt_tokens     BIGINT  NOT NULL,
    completion_tokens BIGINT  NOT NULL,
    cost_usd          NUMERIC NOT NULL,
    cost_local        NUMERIC NOT NULL,
    PRIMARY KEY (minute_ms, model, provider, key_id, currency)
);

CREATE TABLE ledger_rollup_days (
    day_ms            BIGINT  NOT NULL,
    model             TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    key_id            TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    requests          BIGINT  NOT NULL,
    prompt_tokens     BIGINT  NOT NULL,
    completion_tokens BIGINT  NOT NULL,
    cost_usd          NUMERIC NOT NULL,
    cost_local        NUMERIC NOT NULL,
    PRIMARY KEY (day_ms, model, provider, key_id, currency)
);

INSERT INTO ledger_rollup_minutes
SELECT (at_ms / 60000) * 60000, model, COALESCE(provider, ''), COALESCE(key_id, ''), currency,
       COUNT(*), SUM(prompt_tokens)::BIGINT, SUM(completion_tokens)::BIGINT,
       SUM(cost_usd), SUM(cost_local)
FROM ledger_requests GROUP BY 1, 2, 3, 4, 5;

INSERT INTO ledger_rollup_days
SELECT (minute_ms / 86400000) * 86400000, model, provider, key_id, currency,
       SUM(requests)::BIGINT, SUM(prompt_tokens)::BIGINT, SUM(completion_tokens)::BIGINT,
       SUM(cost_usd), SUM(cost_local)
FROM ledger_rollup_minutes GROUP BY 1, 2, 3, 4, 5;

-- When a request finished: its start plus its duration in whole milliseconds (the duration
-- kept within 0 and about 31 years), computed from the stored columns so rows are written as
-- before. The dashboard lists finished requests newest first, optionally one model's,
-- provider's, key's or status's: an index for each, ending in the order it pages by.
ALTER TABLE ledger_requests ADD COLUMN finished_ms INTEGER
    GENERATED ALWAYS AS (at_ms + CAST(MIN(MAX(duration_ms, 0), 1e12) AS INTEGER)) VIRTUAL;

CREATE INDEX ledger_requests_finished ON ledger_requests (finished_ms, request_id);
CREATE INDEX ledger_requests_model_finished ON ledger_requests (model, finished_ms, request_id);
CREATE INDEX ledger_requests_provider_finished
    ON ledger_requests (provider, finished_ms, request_id);
CREATE INDEX ledger_requests_key_finished ON ledger_requests (key_id, finished_ms, request_id);
CREATE INDEX ledger_requests_status_finished ON ledger_requests (status, finished_ms, request_id);

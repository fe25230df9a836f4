-- The request id a client sent, kept beside the gateway's own (the key). Clients may repeat
-- it, so it is neither unique nor required; the index serves look-ups by it.
ALTER TABLE ledger_requests ADD COLUMN client_request_id TEXT;

CREATE INDEX ledger_requests_client_request_id ON ledger_requests (client_request_id);

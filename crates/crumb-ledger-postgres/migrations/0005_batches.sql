-- Signed batches (one per committed group of records) and their positions in the log-wide
-- tree. A batch row is written in the same transaction as its records; `ledger_log` holds
-- the log's size, and the batch takes the next position by updating it in that transaction.
CREATE TABLE batches (
    log_index BIGINT PRIMARY KEY NOT NULL,
    chain TEXT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    root TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    UNIQUE (chain, first_seq)
);

CREATE TABLE ledger_log (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO ledger_log (id, size) VALUES (1, 0);

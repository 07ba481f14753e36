-- Collectors that share the fleet: each heartbeats its row; a row whose lease has expired is a
-- collector the others no longer count, so its devices move to them.

CREATE TABLE collectors (
    id            text PRIMARY KEY,
    zone          text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CONSTRAINT collectors_id_not_empty CHECK (id <> '')
);

CREATE INDEX idx_collectors_expires_at ON collectors (expires_at);

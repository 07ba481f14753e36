-- When each Alertmanager accepted each alert's firing. A resolution is held until that
-- Alertmanager's group_wait has passed since (else it merges the two and its receivers never hear
-- of the firing); the record is here, not in the leader's memory, so a new leader holds the
-- resolutions the last one would have held. Rows older than an hour are pruned as new ones land.
CREATE TABLE alert_fired_accepted (
    receiver     text NOT NULL,
    fingerprint  text NOT NULL,
    accepted_at  timestamptz NOT NULL,
    CONSTRAINT alert_fired_accepted_pkey PRIMARY KEY (receiver, fingerprint)
);
CREATE INDEX idx_alert_fired_accepted_at ON alert_fired_accepted (receiver, accepted_at);

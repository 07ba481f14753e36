-- Alerts received from Alertmanager's webhook, acknowledgements, and the hash-chained audit log.

-- An alert received from another Alertmanager client (vmalert, Prometheus) has no wardops rule and
-- may name no known device: rule_id and device_id are NULL for it, source says where it came from.
-- Its identity is Alertmanager's: the fingerprint of its label set and its startsAt, since one
-- fingerprint recurs over incidents. Redelivery of a notification hits this index and changes
-- nothing.
ALTER TABLE alert_history
    ALTER COLUMN rule_id DROP NOT NULL,
    ADD COLUMN generator_url   text NOT NULL DEFAULT '',
    ADD COLUMN ack_note        text NOT NULL DEFAULT '',
    ADD COLUMN ack_expires_at  timestamptz,
    -- The severity the alert had when acknowledged: a higher one since means it worsened and the
    -- acknowledgement no longer holds.
    ADD COLUMN ack_severity    text,
    -- Alertmanager silences mirroring the acknowledgement, as "url silence-id" lines.
    ADD COLUMN ack_silences    text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT alert_history_rule_or_external CHECK (rule_id IS NOT NULL OR source = 'alertmanager'),
    ADD CONSTRAINT alert_history_external_fingerprint CHECK (source <> 'alertmanager' OR fingerprint <> '');
CREATE UNIQUE INDEX uq_alert_history_external ON alert_history (fingerprint, fired_at) WHERE source = 'alertmanager';
-- Finds wardops' own alerts echoed back through the webhook by their fingerprint.
CREATE INDEX idx_alert_history_fingerprint ON alert_history (fingerprint) WHERE fingerprint <> '';
CREATE INDEX idx_alert_history_open_fired ON alert_history (fired_at DESC) WHERE resolved_at IS NULL;

-- One row per Alertmanager group that notified us: its last status and how many of its alerts it
-- left out of the payload (max_alerts in the receiver's webhook_config), so a reader knows the
-- history of that group is incomplete.
CREATE TABLE webhook_groups (
    group_key         text PRIMARY KEY,
    receiver          text NOT NULL,
    status            text NOT NULL,
    external_url      text NOT NULL DEFAULT '',
    truncated_alerts  integer NOT NULL DEFAULT 0,
    alerts            integer NOT NULL DEFAULT 0,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_groups_status_check CHECK (status IN ('firing', 'resolved')),
    CONSTRAINT webhook_groups_truncated_check CHECK (truncated_alerts >= 0)
);

-- The audit log: every acknowledgement, un-acknowledgement, rule and maintenance change, in the
-- transaction of the change. Row seq carries hash = SHA-256(prev_hash || canonical content), the
-- first row's prev_hash being 32 zero bytes; `wardops audit verify` recomputes the chain. detail is
-- text, not jsonb, so the bytes hashed are the bytes stored.
CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    object_kind  text NOT NULL,
    object_id    text NOT NULL,
    detail       text NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    CONSTRAINT audit_log_seq_positive CHECK (seq > 0),
    CONSTRAINT audit_log_hash_size CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32),
    CONSTRAINT audit_log_actor_check CHECK (actor <> '')
);

CREATE FUNCTION wardops_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = '42501';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION wardops_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION wardops_audit_log_append_only();

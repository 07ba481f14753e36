-- Alert rules and alert history.

CREATE TABLE alert_rules (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL,
    expr          text NOT NULL DEFAULT '',
    threshold     double precision,
    for_seconds   integer NOT NULL DEFAULT 0,
    severity      text NOT NULL DEFAULT 'warning',
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alert_rules_name_key UNIQUE (name),
    CONSTRAINT alert_rules_severity_check CHECK (severity IN ('info', 'warning', 'critical'))
);

CREATE TABLE alert_history (
    id               bigserial PRIMARY KEY,
    device_id        bigint NOT NULL REFERENCES standalone_devices (id) ON DELETE CASCADE,
    rule_id          bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    fired_at         timestamptz NOT NULL,
    resolved_at      timestamptz,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    severity         text NOT NULL,
    value            double precision,
    fingerprint      text NOT NULL DEFAULT '',
    summary          text NOT NULL DEFAULT '',
    CONSTRAINT alert_history_resolved_after_fired CHECK (resolved_at IS NULL OR resolved_at >= fired_at)
);

CREATE INDEX idx_alert_history_device_unresolved ON alert_history (device_id, rule_id, resolved_at);
-- One open alert per device and rule.
CREATE UNIQUE INDEX uq_alert_history_open ON alert_history (device_id, rule_id) WHERE resolved_at IS NULL;
CREATE INDEX idx_alert_history_fired_at ON alert_history (fired_at DESC);

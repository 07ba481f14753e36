-- Alerting: rule settings, several parents per device, maintenance windows, the evaluator's
-- persisted state (device probe states, pending `for` timers, the ping_results cursor) and the
-- durable Alertmanager outbox.

ALTER TABLE alert_rules
    ADD COLUMN description         text NOT NULL DEFAULT '',
    ADD COLUMN comparison          text NOT NULL DEFAULT '>',
    ADD COLUMN recovery_threshold  double precision,
    ADD COLUMN window_seconds      integer NOT NULL DEFAULT 0,
    ADD COLUMN scope_kind          text NOT NULL DEFAULT 'all',
    ADD COLUMN scope_value         text NOT NULL DEFAULT '',
    ADD COLUMN labels              jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN last_eval_at        timestamptz,
    ADD COLUMN last_eval_state     text NOT NULL DEFAULT '',
    ADD COLUMN last_eval_error     text NOT NULL DEFAULT '',
    ADD CONSTRAINT alert_rules_kind_check CHECK (kind IN ('manual', 'device_down', 'flapping', 'blind',
        'high_rtt', 'packet_loss', 'if_oper_down', 'if_errors', 'rebooted', 'snmp_unreachable', 'expr')),
    ADD CONSTRAINT alert_rules_comparison_check CHECK (comparison IN ('>', '<')),
    ADD CONSTRAINT alert_rules_scope_check CHECK (scope_kind IN ('all', 'region', 'branch', 'vendor', 'device_type', 'device')),
    ADD CONSTRAINT alert_rules_scope_value_check CHECK ((scope_kind = 'all') = (scope_value = '')),
    ADD CONSTRAINT alert_rules_window_check CHECK (window_seconds >= 0),
    ADD CONSTRAINT alert_rules_for_check CHECK (for_seconds >= 0),
    ADD CONSTRAINT alert_rules_expr_check CHECK (kind <> 'expr' OR (expr <> '' AND threshold IS NOT NULL)),
    ADD CONSTRAINT alert_rules_eval_state_check CHECK (last_eval_state IN ('', 'ok', 'no_data', 'error'));

-- The defaults. Thresholds are in the unit of the rule's value: RTT in milliseconds, loss and
-- flapping in percent, the blind guard as a share of the fleet.
INSERT INTO alert_rules (name, kind, severity, threshold, recovery_threshold, window_seconds, for_seconds, description) VALUES
    ('DeviceDown', 'device_down', 'critical', NULL, NULL, 0, 0, 'no echo reply to a probe and its confirmation burst'),
    ('DeviceFlapping', 'flapping', 'warning', 30, 20, 0, 0, 'percent state change over the last 21 probes (start, stop)'),
    ('MonitoringBlind', 'blind', 'critical', 0.30, NULL, 0, 0, 'more than this share of the probes of one cycle failed: the collector has likely lost its own uplink'),
    ('HighRTT', 'high_rtt', 'warning', 200, 150, 300, 300, 'mean RTT in ms over the window'),
    ('PacketLoss', 'packet_loss', 'warning', 20, 10, 300, 300, 'mean packet loss in percent over the window'),
    ('InterfaceDown', 'if_oper_down', 'warning', 0.5, NULL, 0, 120, 'ifOperStatus down on an interface whose ifAdminStatus is up'),
    ('InterfaceErrors', 'if_errors', 'warning', 1, 0.5, 300, 300, 'in+out interface errors per second over the window'),
    ('DeviceRebooted', 'rebooted', 'info', 0.5, NULL, 900, 0, 'sysUpTime went back within the window'),
    ('SNMPUnreachable', 'snmp_unreachable', 'warning', 0.5, NULL, 180, 0, 'no successful SNMP poll within the window')
ON CONFLICT (name) DO NOTHING;
UPDATE alert_rules SET comparison = '<' WHERE name = 'SNMPUnreachable' AND kind = 'snmp_unreachable';

-- Several parents per device: a device is unreachable because of its parents only when all of
-- them are down (dual WAN). parent_device_id stays as the first parent for older readers; a write
-- to it through the device API replaces the device's parents with that one.
CREATE TABLE device_parents (
    device_id  bigint NOT NULL REFERENCES standalone_devices (id) ON DELETE CASCADE,
    parent_id  bigint NOT NULL REFERENCES standalone_devices (id) ON DELETE CASCADE,
    CONSTRAINT device_parents_pkey PRIMARY KEY (device_id, parent_id),
    CONSTRAINT device_parents_not_self CHECK (device_id <> parent_id)
);
CREATE INDEX idx_device_parents_parent ON device_parents (parent_id);
INSERT INTO device_parents (device_id, parent_id)
    SELECT id, parent_device_id FROM standalone_devices WHERE parent_device_id IS NOT NULL;

CREATE FUNCTION wardops_sync_device_parent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_device_id IS DISTINCT FROM OLD.parent_device_id THEN
        DELETE FROM device_parents WHERE device_id = NEW.id;
        IF NEW.parent_device_id IS NOT NULL THEN
            INSERT INTO device_parents (device_id, parent_id) VALUES (NEW.id, NEW.parent_device_id);
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER standalone_devices_parent_sync AFTER UPDATE OF parent_device_id ON standalone_devices
    FOR EACH ROW EXECUTE FUNCTION wardops_sync_device_parent();

CREATE FUNCTION wardops_sync_device_parent_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_device_id IS NOT NULL THEN
        INSERT INTO device_parents (device_id, parent_id) VALUES (NEW.id, NEW.parent_device_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER standalone_devices_parent_sync_insert AFTER INSERT ON standalone_devices
    FOR EACH ROW EXECUTE FUNCTION wardops_sync_device_parent_insert();

-- The last guard against a parent cycle, whoever writes: the import and the API check first and
-- name the lines or ids, this only stops what slips past them.
CREATE FUNCTION wardops_check_parent_cycle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        WITH RECURSIVE up(id) AS (
            SELECT NEW.parent_id
            UNION
            SELECT p.parent_id FROM device_parents p JOIN up ON p.device_id = up.id
        ) SELECT 1 FROM up WHERE id = NEW.device_id) THEN
        RAISE EXCEPTION 'device % would be its own ancestor', NEW.device_id
            USING ERRCODE = '23514', CONSTRAINT = 'device_parents_no_cycle';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER device_parents_no_cycle AFTER INSERT OR UPDATE ON device_parents
    FOR EACH ROW EXECUTE FUNCTION wardops_check_parent_cycle();

-- alert_history grows what a notification needs and what suppression records. device_id may be
-- NULL for an alert about no device (the blind guard, or one received from another system);
-- instance tells apart the alerts of one rule on one device (an interface, an expression's series).
ALTER TABLE alert_history
    ALTER COLUMN device_id DROP NOT NULL,
    ADD COLUMN instance       text NOT NULL DEFAULT '',
    ADD COLUMN labels         jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN annotations    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN hold_reason    text NOT NULL DEFAULT '',
    ADD COLUMN suppressed_by  bigint REFERENCES standalone_devices (id) ON DELETE SET NULL,
    ADD COLUMN notified_at    timestamptz,
    ADD COLUMN opened_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN source         text NOT NULL DEFAULT 'wardops',
    ADD CONSTRAINT alert_history_hold_check CHECK (hold_reason IN ('', 'suppressed', 'maintenance', 'flapping', 'unsettled', 'blind'));
DROP INDEX uq_alert_history_open;
CREATE UNIQUE INDEX uq_alert_history_open ON alert_history (rule_id, COALESCE(device_id, 0), instance) WHERE resolved_at IS NULL;
CREATE INDEX idx_alert_history_resolved_at ON alert_history (resolved_at) WHERE notified_at IS NOT NULL;
CREATE INDEX idx_alert_history_suppressed_by ON alert_history (suppressed_by) WHERE suppressed_by IS NOT NULL;

-- Maintenance windows: alerts inside are recorded, not notified. A one-off window is
-- [starts_at, ends_at); a weekly one repeats on the weekdays listed (0 = Sunday) from start_time
-- for duration_seconds, in time_zone.
CREATE TABLE maintenance_windows (
    id                bigserial PRIMARY KEY,
    scope_kind        text NOT NULL,
    scope_value       text NOT NULL,
    starts_at         timestamptz,
    ends_at           timestamptz,
    weekdays          smallint[] NOT NULL DEFAULT '{}',
    start_time        time,
    duration_seconds  integer,
    time_zone         text NOT NULL DEFAULT 'UTC',
    reason            text NOT NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT maintenance_windows_scope_check CHECK (scope_kind IN ('device', 'branch', 'region')),
    CONSTRAINT maintenance_windows_shape_check CHECK (
        (starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at AND start_time IS NULL)
        OR (starts_at IS NULL AND ends_at IS NULL AND start_time IS NOT NULL AND duration_seconds > 0
            AND cardinality(weekdays) > 0 AND weekdays <@ '{0,1,2,3,4,5,6}'::smallint[])),
    CONSTRAINT maintenance_windows_reason_check CHECK (reason <> '' AND created_by <> '')
);

-- Per-device probe state, written by the evaluator in the same transaction as the alerts it
-- opens, so a new leader starts exactly where the old one committed. history holds the last
-- states, newest in bit 0, 1 = down.
CREATE TABLE alert_device_state (
    device_id     bigint PRIMARY KEY,
    up            boolean NOT NULL,
    since         timestamptz NOT NULL,
    last_probe    timestamptz NOT NULL,
    history       bigint NOT NULL DEFAULT 0,
    history_len   smallint NOT NULL DEFAULT 0,
    flapping      boolean NOT NULL DEFAULT false
);

-- Pending `for` timers of the threshold rules.
CREATE TABLE alert_pending (
    rule_id       bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    device_id     bigint NOT NULL,
    instance      text NOT NULL DEFAULT '',
    active_since  timestamptz NOT NULL,
    value         double precision,
    CONSTRAINT alert_pending_pkey PRIMARY KEY (rule_id, device_id, instance)
);

-- Small named values of the evaluator: the ping_results cursor.
CREATE TABLE alert_evaluator_state (
    key         text PRIMARY KEY,
    ts          timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The outbox: one row per notification per Alertmanager, written in the transaction that changes
-- the alert, deleted when that Alertmanager accepted it. Delivered oldest first.
CREATE TABLE alert_outbox (
    id           bigserial PRIMARY KEY,
    receiver     text NOT NULL,
    alert_id     bigint REFERENCES alert_history (id) ON DELETE CASCADE,
    fingerprint  text NOT NULL,
    resolved     boolean NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX idx_alert_outbox_receiver ON alert_outbox (receiver, id);

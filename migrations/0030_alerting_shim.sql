-- The part of the evaluator's schema (branch alerting, its alerting migration) that the alerts,
-- rules and maintenance API read and write, repeated here with IF NOT EXISTS so this branch runs
-- on its own. The evaluator's migration is the authority: at merge, delete this file. Its
-- CHECK constraints on existing alert_rules columns (kind) are left to that migration; the API
-- validates the same values.

ALTER TABLE alert_rules
    ADD COLUMN IF NOT EXISTS description         text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS comparison          text NOT NULL DEFAULT '>'
        CONSTRAINT alert_rules_comparison_check CHECK (comparison IN ('>', '<')),
    ADD COLUMN IF NOT EXISTS recovery_threshold  double precision,
    ADD COLUMN IF NOT EXISTS window_seconds      integer NOT NULL DEFAULT 0
        CONSTRAINT alert_rules_window_check CHECK (window_seconds >= 0),
    ADD COLUMN IF NOT EXISTS scope_kind          text NOT NULL DEFAULT 'all'
        CONSTRAINT alert_rules_scope_check CHECK (scope_kind IN ('all', 'region', 'branch', 'vendor', 'device_type', 'device')),
    ADD COLUMN IF NOT EXISTS scope_value         text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS labels              jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS last_eval_at        timestamptz,
    ADD COLUMN IF NOT EXISTS last_eval_state     text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS last_eval_error     text NOT NULL DEFAULT '';

ALTER TABLE alert_history
    ALTER COLUMN device_id DROP NOT NULL,
    ADD COLUMN IF NOT EXISTS instance       text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS labels         jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS annotations    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS hold_reason    text NOT NULL DEFAULT ''
        CONSTRAINT alert_history_hold_check CHECK (hold_reason IN ('', 'suppressed', 'maintenance', 'flapping', 'unsettled', 'blind')),
    ADD COLUMN IF NOT EXISTS suppressed_by  bigint REFERENCES standalone_devices (id) ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS notified_at    timestamptz,
    ADD COLUMN IF NOT EXISTS opened_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS source         text NOT NULL DEFAULT 'wardops';

CREATE TABLE IF NOT EXISTS maintenance_windows (
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

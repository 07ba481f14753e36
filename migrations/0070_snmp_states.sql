-- snmp_states: each SNMP-polled device's latest poll as the alert rules judge it (up, the last
-- successful poll, the last reboot seen, each interface's status and error rate). The collector
-- upserts one row per poll; the alerter reads the rows written since its last cycle, so the SNMP
-- rules cost one indexed read here instead of VictoriaMetrics scanning every interface's series
-- every cycle. Only the newest poll per device is kept: the history is in VictoriaMetrics.
CREATE TABLE snmp_states (
    device_id      bigint PRIMARY KEY REFERENCES standalone_devices (id) ON DELETE CASCADE,
    polled_at      timestamptz NOT NULL,
    up             boolean NOT NULL,
    last_ok_at     timestamptz,
    rebooted_at    timestamptz,
    interfaces_at  timestamptz,
    -- The interfaces' labels and status, which seldom change, apart from their error rates,
    -- which change every poll: a reader decodes interfaces only when interfaces_changed_at says
    -- they changed since its last read.
    interfaces     jsonb NOT NULL DEFAULT '[]',
    error_rates    double precision[] NOT NULL DEFAULT '{}',
    interfaces_changed_at timestamptz NOT NULL DEFAULT now(),
    -- written_at is this server's clock at the write: the alerter reads by it, so a slow poll
    -- (its polled_at is its start) landing after a fast one is not missed, whatever the
    -- collectors' clocks say.
    written_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_snmp_states_written_at ON snmp_states (written_at);

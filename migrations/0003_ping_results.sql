-- ping_results: one row per ICMP probe, 30 days at about 2.5 million rows a day.
-- Range-partitioned by day so retention drops whole partitions; partitions are created ahead
-- by wardops_ensure_ping_partitions, called at migration, by the collector and by `wardops maintenance`.
-- No foreign key to standalone_devices: the history of a deleted device stays until retention.

CREATE TABLE ping_results (
    device_id      bigint NOT NULL,
    device_ip      inet NOT NULL,
    "timestamp"    timestamptz NOT NULL,
    is_reachable   boolean NOT NULL,
    rtt_avg_ms     double precision,
    rtt_min_ms     double precision,
    rtt_max_ms     double precision,
    rtt_stddev_ms  double precision,
    packet_loss    double precision NOT NULL,
    sent           smallint NOT NULL,
    received       smallint NOT NULL
) PARTITION BY RANGE ("timestamp");

CREATE INDEX idx_ping_results_device_timestamp ON ping_results (device_ip, "timestamp" DESC);
CREATE INDEX idx_ping_results_device_ip ON ping_results (device_ip);
CREATE INDEX idx_ping_results_timestamp ON ping_results ("timestamp");

-- wardops_ensure_ping_partitions creates the daily partitions (UTC days) from first_day for days days.
CREATE FUNCTION wardops_ensure_ping_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    created integer := 0;
    part text;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        d := first_day + i;
        part := 'ping_results_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF ping_results FOR VALUES FROM (%L) TO (%L)',
                part, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

SELECT wardops_ensure_ping_partitions((now() AT TIME ZONE 'UTC')::date - 1, 9);

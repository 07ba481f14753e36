-- Monitoring items learn the table they belong to (the table label of wardops_snmp_table_rows) and
-- an optional fallback column read for the rows the item's own column lacks (ifInOctets for
-- ifHCInOctets on SNMPv1 and agents without ifXTable). Defaults keep existing rows valid: no table
-- name until the next import and no fallback.

ALTER TABLE monitoring_items
    ADD COLUMN table_name       text NOT NULL DEFAULT '',
    ADD COLUMN fallback_oid     text NOT NULL DEFAULT '',
    ADD COLUMN fallback_table   text NOT NULL DEFAULT '',
    ADD COLUMN fallback_divisor double precision NOT NULL DEFAULT 1,
    ADD CONSTRAINT monitoring_items_fallback_divisor_check CHECK (fallback_divisor > 0),
    ADD CONSTRAINT monitoring_items_fallback_table_only CHECK (fallback_oid = '' OR kind = 'table');

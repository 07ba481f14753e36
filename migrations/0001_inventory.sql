-- Inventory: branches, SNMP credentials, devices and their monitoring items.
-- Every timestamp is timestamptz (the previous system crashed comparing naive and aware datetimes).

CREATE TABLE branches (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    region      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT branches_name_key UNIQUE (name),
    CONSTRAINT branches_name_not_empty CHECK (name <> '')
);

CREATE TABLE snmp_credentials (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    version        text NOT NULL,
    community      text NOT NULL DEFAULT '',
    username       text NOT NULL DEFAULT '',
    auth_protocol  text NOT NULL DEFAULT '',
    auth_key       text NOT NULL DEFAULT '',
    priv_protocol  text NOT NULL DEFAULT '',
    priv_key       text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT snmp_credentials_name_key UNIQUE (name),
    CONSTRAINT snmp_credentials_version_check CHECK (version IN ('1', '2c', '3')),
    CONSTRAINT snmp_credentials_auth_check CHECK (auth_protocol IN ('', 'MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384', 'SHA512')),
    CONSTRAINT snmp_credentials_priv_check CHECK (priv_protocol IN ('', 'DES', 'AES', 'AES192', 'AES256', 'AES192C', 'AES256C'))
);

CREATE TABLE standalone_devices (
    id                     bigserial PRIMARY KEY,
    name                   text NOT NULL,
    ip                     inet NOT NULL,
    vendor                 text NOT NULL DEFAULT '',
    device_type            text NOT NULL DEFAULT '',
    branch_id              bigint REFERENCES branches (id) ON DELETE RESTRICT,
    enabled                boolean NOT NULL DEFAULT true,
    parent_device_id       bigint REFERENCES standalone_devices (id) ON DELETE SET NULL,
    snmp_version           text NOT NULL DEFAULT '',
    snmp_community         text NOT NULL DEFAULT '',
    snmp_port              integer NOT NULL DEFAULT 161,
    snmp_credential_id     bigint REFERENCES snmp_credentials (id) ON DELETE RESTRICT,
    snmp_profiles          text[] NOT NULL DEFAULT '{}',
    ping_interval_seconds  integer,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT standalone_devices_name_key UNIQUE (name),
    CONSTRAINT standalone_devices_ip_key UNIQUE (ip),
    CONSTRAINT standalone_devices_snmp_version_check CHECK (snmp_version IN ('', '1', '2c', '3')),
    CONSTRAINT standalone_devices_snmp_port_check CHECK (snmp_port BETWEEN 1 AND 65535),
    CONSTRAINT standalone_devices_ping_interval_check CHECK (ping_interval_seconds IS NULL OR ping_interval_seconds > 0),
    CONSTRAINT standalone_devices_not_own_parent CHECK (parent_device_id IS NULL OR parent_device_id <> id)
);

CREATE INDEX idx_standalone_devices_branch_id ON standalone_devices (branch_id);
CREATE INDEX idx_standalone_devices_enabled_vendor ON standalone_devices (enabled, vendor);
CREATE INDEX idx_standalone_devices_updated_at ON standalone_devices (updated_at);

CREATE TABLE monitoring_items (
    id                bigserial PRIMARY KEY,
    device_id         bigint NOT NULL REFERENCES standalone_devices (id) ON DELETE CASCADE,
    name              text NOT NULL,
    oid               text NOT NULL,
    kind              text NOT NULL DEFAULT 'scalar',
    value_type        text NOT NULL DEFAULT 'gauge',
    labels            jsonb NOT NULL DEFAULT '{}',
    profile           text NOT NULL DEFAULT '',
    interval_seconds  integer,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT monitoring_items_device_name_key UNIQUE (device_id, name),
    CONSTRAINT monitoring_items_kind_check CHECK (kind IN ('scalar', 'table')),
    CONSTRAINT monitoring_items_value_type_check CHECK (value_type IN ('counter', 'gauge', 'info')),
    CONSTRAINT monitoring_items_interval_check CHECK (interval_seconds IS NULL OR interval_seconds > 0)
);

CREATE INDEX idx_monitoring_items_device_enabled ON monitoring_items (device_id, enabled);

-- API tokens are stored as SHA-256 hashes; the token itself is printed once by `wardops token create`.
CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    token_hash    bytea NOT NULL,
    scope         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    CONSTRAINT api_tokens_name_key UNIQUE (name),
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'write', 'admin'))
);

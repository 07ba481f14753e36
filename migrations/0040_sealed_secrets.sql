-- SNMP secrets at rest: communities and v3 keys are stored AES-256-GCM sealed (base64) under the
-- key named by secret_key_id. NULL means the row's secrets are still plaintext, from before this
-- migration: `wardops migrate` (and every start with a key configured) seals them.
ALTER TABLE snmp_credentials ADD COLUMN secret_key_id text;
ALTER TABLE standalone_devices ADD COLUMN secret_key_id text;

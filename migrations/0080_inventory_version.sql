-- inventory_version counts the statements that changed devices or branches. The query service
-- reads it on every snapshot build (about once a second while anyone reads) to tell whether its
-- cached device list is still right. The count and newest updated_at it read before cost a scan
-- of every device (about 30 ms at 100,000), and could miss a change committed by a transaction
-- that began before the newest updated_at it saw; the counter is bumped inside the writing
-- transaction, so a reader sees the new number exactly when it can see the change.
-- Statement-level triggers: an import of 100,000 rows bumps it once. They run BEFORE the
-- statement, so a writer takes the counter's row lock before any device or branch row lock and two
-- writers cannot deadlock on the pair; writers of devices and branches are serialized from their
-- first such statement to commit (an import holds the others for its length).
-- It starts at the creation time in milliseconds, not 0, so that a database rebuilt under a
-- running query service does not count up to the version that service cached.
CREATE TABLE inventory_version (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT inventory_version_singleton CHECK (singleton),
    version    bigint NOT NULL
);
INSERT INTO inventory_version (version) VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint);

CREATE FUNCTION wardops_bump_inventory_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inventory_version SET version = version + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER standalone_devices_inventory_version
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON standalone_devices
    FOR EACH STATEMENT EXECUTE FUNCTION wardops_bump_inventory_version();
CREATE TRIGGER branches_inventory_version
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON branches
    FOR EACH STATEMENT EXECUTE FUNCTION wardops_bump_inventory_version();

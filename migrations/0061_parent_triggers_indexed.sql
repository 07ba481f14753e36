-- The parent triggers run once per row of an import, inside the import's transaction. Their
-- plans are cached from the first call, when device_parents was still small (or empty), so they
-- kept scanning the whole table while the import filled it: importing 100,000 devices with
-- parents spent minutes here. Planning them with sequential scans off keeps every call on the
-- primary key, whatever the statistics said when the plan was made.
ALTER FUNCTION wardops_check_parent_cycle() SET enable_seqscan = off;
ALTER FUNCTION wardops_sync_device_parent() SET enable_seqscan = off;
ALTER FUNCTION wardops_sync_device_parent_insert() SET enable_seqscan = off;

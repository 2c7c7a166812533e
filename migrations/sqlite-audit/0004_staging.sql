-- Request audit records are committed on each request's path to this table alone, and moved
-- into the indexed tables in batches off that path (src/store/sqlite_audit_index.rs).
-- Committed straight into the indexed tables, each group commit of one or two records
-- rewrote a page of six B-trees (the table, its key, the time and client indexes, the
-- patients table and the NHS-number index): 6.5 pages of log a record, against 1.1 here,
-- where a commit rewrites the last page of one table. Moved in batches, a page of an indexed
-- table is written once for all the records a batch puts on it.
-- The table has no index: the rowid orders the records as they came. A record is the same
-- document its AuditEvent is served from, with its id beside it for the trigger below.
CREATE TABLE audit_staging (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    document TEXT NOT NULL
);
-- A staged record is never changed, and leaves this table only once the identical record
-- is in the indexed table: the move's own insert, in the same transaction.
CREATE TRIGGER audit_staging_no_update BEFORE UPDATE ON audit_staging
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_staging_no_loss BEFORE DELETE ON audit_staging
WHEN NOT EXISTS (SELECT 1 FROM audit_events WHERE id = OLD.id AND document = OLD.document)
BEGIN
    SELECT RAISE(ABORT, 'a request audit record leaves staging only once it is indexed');
END;

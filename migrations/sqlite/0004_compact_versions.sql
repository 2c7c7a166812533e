-- Plan versions as an ordinary (rowid) table with a unique index on (plan_id, version), and no
-- index of the resource index by plan.
--
-- As a WITHOUT ROWID table, each version's document (about 1.2 KiB on average) was stored as an
-- index record: SQLite keeps at most about 1 KiB of such a record in its B-tree page and moves
-- the rest to an overflow page of its own, so every version took a whole 4 KiB page or more
-- (600 MiB for 150,000 versions, over three times the data). A rowid table keeps records of up
-- to a page in the page, so versions pack several to a page; new versions are appended. The
-- unique index keeps the lookup by plan and version, and refuses a second copy of a version.
-- resource_index_by_plan was read by no query.
DROP INDEX resource_index_by_plan;

CREATE TABLE plan_versions_compact (
    plan_id TEXT NOT NULL REFERENCES plans (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    last_updated_by TEXT NOT NULL,
    document TEXT NOT NULL
);
INSERT INTO plan_versions_compact (plan_id, version, status, last_updated, last_updated_by, document)
    SELECT plan_id, version, status, last_updated, last_updated_by, document
    FROM plan_versions ORDER BY plan_id, version;

DROP TRIGGER plan_versions_no_update;
DROP TRIGGER plan_versions_no_delete;
DROP TABLE plan_versions;
ALTER TABLE plan_versions_compact RENAME TO plan_versions;
CREATE UNIQUE INDEX plan_versions_by_plan_and_version ON plan_versions (plan_id, version);

-- History is never rewritten or lost (H5), whatever code runs against this database.
CREATE TRIGGER plan_versions_no_update BEFORE UPDATE ON plan_versions
BEGIN
    SELECT RAISE(ABORT, 'plan versions are immutable');
END;
CREATE TRIGGER plan_versions_no_delete BEFORE DELETE ON plan_versions
BEGIN
    SELECT RAISE(ABORT, 'plan versions are never deleted');
END;

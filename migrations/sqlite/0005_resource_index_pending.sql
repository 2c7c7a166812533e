-- Resource index rows written by a bulk import, before they are merged into resource_index.
--
-- resource_index is keyed by resource ids that are UUIDs, about ten per plan: rows inserted as
-- each import batch commits land at random places in a B-tree of millions of rows, so every
-- batch rewrote most of its pages (an import of 1,000,000 plans spent most of its time there).
-- An import appends its rows here instead (no index: appending is cheap) and, when it ends,
-- merges them into resource_index in key order, which touches each page of it once. Until
-- then a lookup that misses resource_index looks here (see SqliteStore::locate), and a
-- database left with rows here by an import that was stopped merges them when it is opened.
CREATE TABLE resource_index_pending (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    first_version INTEGER NOT NULL
);

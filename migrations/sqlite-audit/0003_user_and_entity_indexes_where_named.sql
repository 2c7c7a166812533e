-- The request audit file indexes its records by end user and by entity only where the record
-- names one. Most requests come from system clients (an ambulance dispatch system, an EHR)
-- with no end user, and an emergency summary found by NHS number addresses no resource by id:
-- their records had an entry in both indexes anyway, under NULL, and each group commit
-- rewrote a page of each (about a quarter of the file's log). A search by agent or by entity
-- asks for a value (`end_user = ?`, `entity_id = ?`), which SQLite knows is not NULL, so it
-- uses these indexes as it did the full ones (tests/it/store_contract.rs).
-- Measured (BENCHMARKS.md, twelfth round), 10,000 plans, 5,000 summaries a second: 5.5 KB
-- less written a request (25.4 against 31.0 KB, the whole server's writes).
-- Rebuilding the two indexes reads the table once, at the first start of this version.
DROP INDEX IF EXISTS audit_events_by_user;
DROP INDEX IF EXISTS audit_events_by_entity;
CREATE INDEX audit_events_by_user ON audit_events (end_user, recorded)
    WHERE end_user IS NOT NULL;
CREATE INDEX audit_events_by_entity ON audit_events (entity_type, entity_id, recorded)
    WHERE entity_id IS NOT NULL;

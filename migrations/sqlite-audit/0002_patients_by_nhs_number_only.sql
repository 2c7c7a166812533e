-- Each request audit record that returned a patient's data was linked to them in two indexes,
-- by NHS number and by Patient id, each written at a random place in an index that grows with
-- every record: a page more in the log per index and record, most of the audit writer's work.
-- A Patient id names one plan, whose NHS number never changes and is recorded beside it, so a
-- search by Patient id goes through the NHS-number index (whose entries hold the Patient id
-- too) once the service has looked that NHS number up (src/audit.rs, src/http/fhir_audit.rs).
-- Measured on copies of one database, 10,000 plans, summaries at 32 clients, alternating:
-- 7,621, 7,101 and 6,986 a second without this index against 6,909, 5,771 and 6,124 with it;
-- the audit writer's CPU down a fifth, its checkpointer's by almost half (BENCHMARKS.md).
DROP INDEX IF EXISTS audit_event_patients_by_patient;

-- The request audit trail of a SQLite deployment, in a database file of its own beside the
-- plans' (see src/store/sqlite_audit.rs for why). The same tables, indexes and append-only
-- triggers as the plans database's audit tables (migrations/sqlite/0003_audit.sql), which keep
-- the audit records of writes, committed with the write they record.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    recorded TEXT NOT NULL,
    client_id TEXT,
    end_user TEXT,
    entity_type TEXT,
    entity_id TEXT,
    document TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (recorded, id);
CREATE INDEX audit_events_by_client ON audit_events (client_id, recorded);
CREATE INDEX audit_events_by_user ON audit_events (end_user, recorded);
CREATE INDEX audit_events_by_entity ON audit_events (entity_type, entity_id, recorded);

CREATE TABLE audit_event_patients (
    audit_id TEXT NOT NULL REFERENCES audit_events (id),
    patient_id TEXT NOT NULL,
    nhs_number TEXT NOT NULL,
    PRIMARY KEY (audit_id, patient_id)
) WITHOUT ROWID;
CREATE INDEX audit_event_patients_by_nhs_number ON audit_event_patients (nhs_number);
CREATE INDEX audit_event_patients_by_patient ON audit_event_patients (patient_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_event_patients_no_update BEFORE UPDATE ON audit_event_patients
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_event_patients_no_delete BEFORE DELETE ON audit_event_patients
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

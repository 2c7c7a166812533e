-- The audit trail (append-only) and the client assertion ids already used (replay refusal).
-- Times are fixed-width UTC text, as the SQLite schema keeps them, so both sort alike.
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

-- Whose data each audited request returned or changed.
CREATE TABLE audit_event_patients (
    audit_id TEXT NOT NULL REFERENCES audit_events (id),
    patient_id TEXT NOT NULL,
    nhs_number TEXT NOT NULL,
    PRIMARY KEY (audit_id, patient_id)
);
CREATE INDEX audit_event_patients_by_nhs_number ON audit_event_patients (nhs_number);
CREATE INDEX audit_event_patients_by_patient ON audit_event_patients (patient_id);

CREATE FUNCTION acp_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION acp_refuse_audit_change();
CREATE TRIGGER audit_event_patients_append_only BEFORE UPDATE OR DELETE ON audit_event_patients
    FOR EACH ROW EXECUTE FUNCTION acp_refuse_audit_change();

-- A SMART client assertion's jti may be used once within its lifetime, across every instance.
CREATE TABLE client_assertions (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_by_expiry ON client_assertions (expires_at);

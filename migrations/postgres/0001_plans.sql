-- One row per plan (its identity and where it stands now) and one immutable row per version.
CREATE TABLE plans (
    id UUID PRIMARY KEY,
    nhs_number TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    last_updated TIMESTAMPTZ NOT NULL
);

-- At most one plan of record (active, or completed after death) per person.
CREATE UNIQUE INDEX plans_one_current_per_person
    ON plans (nhs_number) WHERE status IN ('active', 'completed');
CREATE INDEX plans_by_nhs_number ON plans (nhs_number);
CREATE INDEX plans_by_last_updated ON plans (last_updated);

-- The document is kept as text, byte for byte as written (H6); JSONB would refuse a NUL
-- character and reorder keys.
CREATE TABLE plan_versions (
    plan_id UUID NOT NULL REFERENCES plans (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_updated TIMESTAMPTZ NOT NULL,
    last_updated_by TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (plan_id, version)
);

-- History is never rewritten or lost (H5), whatever code runs against this database.
CREATE FUNCTION acp_refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'plan history is immutable: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER plan_versions_immutable BEFORE UPDATE OR DELETE ON plan_versions
    FOR EACH ROW EXECUTE FUNCTION acp_refuse_history_change();
CREATE TRIGGER plans_no_delete BEFORE DELETE ON plans
    FOR EACH ROW EXECUTE FUNCTION acp_refuse_history_change();

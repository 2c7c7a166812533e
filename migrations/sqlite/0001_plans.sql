-- One row per plan (its identity and where it stands now) and one immutable row per version.
CREATE TABLE plans (
    id TEXT PRIMARY KEY NOT NULL,
    nhs_number TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL
);

-- At most one plan of record (active, or completed after death) per person.
CREATE UNIQUE INDEX plans_one_current_per_person
    ON plans (nhs_number) WHERE status IN ('active', 'completed');
CREATE INDEX plans_by_nhs_number ON plans (nhs_number);
CREATE INDEX plans_by_last_updated ON plans (last_updated);

CREATE TABLE plan_versions (
    plan_id TEXT NOT NULL REFERENCES plans (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    last_updated_by TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (plan_id, version)
) WITHOUT ROWID;

-- History is never rewritten or lost (H5), whatever code runs against this database.
CREATE TRIGGER plan_versions_no_update BEFORE UPDATE ON plan_versions
BEGIN
    SELECT RAISE(ABORT, 'plan versions are immutable');
END;
CREATE TRIGGER plan_versions_no_delete BEFORE DELETE ON plan_versions
BEGIN
    SELECT RAISE(ABORT, 'plan versions are never deleted');
END;
CREATE TRIGGER plans_no_delete BEFORE DELETE ON plans
BEGIN
    SELECT RAISE(ABORT, 'plans are never deleted');
END;

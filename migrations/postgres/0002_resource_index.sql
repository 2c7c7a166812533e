-- Which plan each projected FHIR resource belongs to, written with the plan version that first
-- produced it, so a FHIR read by resource id finds its plan in one lookup.
CREATE TABLE resource_index (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    plan_id UUID NOT NULL REFERENCES plans (id),
    first_version INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_id)
);
CREATE INDEX resource_index_by_plan ON resource_index (plan_id);

//! The use cases: create, read, revise and end plans, and import them, each one call from the
//! HTTP handlers or the CLI to the store, with the domain rules applied in between.

use std::sync::Arc;

use crate::audit::{AuditQuery, AuditRecord, AuditedPatient};
use crate::clock::Clock;
use crate::domain::{
    ImportOutcome, ImportRecord, NhsNumber, PlanContent, PlanEnd, PlanId, PlanRecord,
};
use crate::error::Error;
use crate::store::{PlanStore, StoreError};

/// Who makes a change, and the audit record to write with it.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// Recorded as `last_updated_by`.
    pub actor: String,
    /// The request's audit record, completed with the plan and written in the change's
    /// transaction.
    pub audit: Option<AuditRecord>,
}

impl WriteContext {
    pub(crate) fn audit_of(&self, record: &PlanRecord, status: u16) -> Option<AuditRecord> {
        self.audit.clone().map(|mut audit| {
            audit.status = status;
            audit.resource_id = Some(record.id.to_string());
            audit.add_patient(patient_of(record));
            audit
        })
    }
}

/// The patient a plan is about, as the audit trail names them.
pub fn patient_of(record: &PlanRecord) -> AuditedPatient {
    AuditedPatient {
        patient_id: crate::fhir::ids::PlanIds::new(record.id).patient(),
        nhs_number: record.plan.person.nhs_number.as_str().to_owned(),
    }
}

/// The plan service: a store, a clock and the identity that changes are recorded under.
#[derive(Clone)]
pub struct PlanService {
    store: Arc<dyn PlanStore>,
    clock: Arc<dyn Clock>,
    actor: String,
}

impl PlanService {
    /// A service over `store`, recording changes as made by `actor` until authentication names
    /// the caller.
    pub fn new(store: Arc<dyn PlanStore>, clock: Arc<dyn Clock>, actor: impl Into<String>) -> Self {
        Self {
            store,
            clock,
            actor: actor.into(),
        }
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn PlanStore> {
        self.store.clone()
    }

    /// The clock the service runs on.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn own_context(&self) -> WriteContext {
        WriteContext {
            actor: self.actor.clone(),
            audit: None,
        }
    }

    /// Creates a person's plan (version 1).
    pub async fn create(&self, content: PlanContent) -> Result<PlanRecord, Error> {
        self.create_in(&self.own_context(), content).await
    }

    /// Creates a person's plan as `context` says, with its audit record in the same
    /// transaction.
    pub async fn create_in(
        &self,
        context: &WriteContext,
        content: PlanContent,
    ) -> Result<PlanRecord, Error> {
        let record = PlanRecord::create(
            PlanId::new_random(),
            content,
            self.clock.now(),
            &context.actor,
        )
        .map_err(Error::Invalid)?;
        let audit = context.audit_of(&record, 201);
        self.store
            .create_audited(
                &record,
                &crate::fhir::project(&record).keys(),
                audit.as_ref(),
            )
            .await?;
        Ok(record)
    }

    /// The current version of a plan.
    pub async fn get(&self, id: PlanId) -> Result<PlanRecord, Error> {
        Ok(self.store.get(id).await?)
    }

    /// One version of a plan.
    pub async fn get_version(&self, id: PlanId, version: u32) -> Result<PlanRecord, Error> {
        Ok(self.store.get_version(id, version).await?)
    }

    /// Every version, newest first.
    pub async fn history(&self, id: PlanId) -> Result<Vec<PlanRecord>, Error> {
        Ok(self.store.history(id).await?)
    }

    /// Appends an audit record.
    pub async fn record_audit(&self, record: &AuditRecord) -> Result<(), Error> {
        Ok(self.store.append_audit(record).await?)
    }

    /// Audit records matching `query`, newest first.
    pub async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        Ok(self.store.search_audit(query).await?)
    }

    /// One audit record.
    pub async fn get_audit(&self, id: uuid::Uuid) -> Result<Option<AuditRecord>, Error> {
        Ok(self.store.get_audit(id).await?)
    }

    /// The person's plan of record.
    pub async fn find_current(&self, nhs_number: &NhsNumber) -> Result<PlanRecord, Error> {
        self.store
            .find_current(nhs_number)
            .await?
            .ok_or_else(|| Error::NotFound("no plan of record for this NHS number".into()))
    }

    /// Replaces a plan's content, if `expected_version` is still the current one (H4).
    pub async fn revise(
        &self,
        id: PlanId,
        expected_version: u32,
        content: PlanContent,
    ) -> Result<PlanRecord, Error> {
        self.revise_in(&self.own_context(), id, expected_version, content)
            .await
    }

    /// As [`PlanService::revise`], as `context` says.
    pub async fn revise_in(
        &self,
        context: &WriteContext,
        id: PlanId,
        expected_version: u32,
        content: PlanContent,
    ) -> Result<PlanRecord, Error> {
        let stored = self.store.get(id).await?;
        if stored.version != expected_version {
            return Err(Error::VersionConflict {
                current: stored.version,
            });
        }
        let next = stored.revise(content, self.clock.now(), &context.actor)?;
        let audit = context.audit_of(&next, 200);
        self.store
            .update_audited(
                expected_version,
                &next,
                &crate::fhir::project(&next).keys(),
                audit.as_ref(),
            )
            .await?;
        Ok(next)
    }

    /// Revokes a plan or marks it entered in error, keeping its history (H5). With
    /// `expected_version`, only if that is still the current one.
    pub async fn end(
        &self,
        id: PlanId,
        expected_version: Option<u32>,
        how: PlanEnd,
        reason: &str,
    ) -> Result<PlanRecord, Error> {
        self.end_in(&self.own_context(), id, expected_version, how, reason)
            .await
    }

    /// As [`PlanService::end`], as `context` says.
    pub async fn end_in(
        &self,
        context: &WriteContext,
        id: PlanId,
        expected_version: Option<u32>,
        how: PlanEnd,
        reason: &str,
    ) -> Result<PlanRecord, Error> {
        let stored = self.store.get(id).await?;
        if let Some(expected) = expected_version {
            if stored.version != expected {
                return Err(Error::VersionConflict {
                    current: stored.version,
                });
            }
        }
        let next = stored.end(how, reason, self.clock.now(), &context.actor)?;
        let audit = context.audit_of(&next, 200);
        self.store
            .update_audited(
                stored.version,
                &next,
                &crate::fhir::project(&next).keys(),
                audit.as_ref(),
            )
            .await?;
        Ok(next)
    }

    /// Imports one record: stores it, adds it as the next version of the plan it names (an
    /// export with history replays every version in order), or leaves things as they are when
    /// the stored plan already says the same (so re-importing a file changes nothing).
    pub async fn import(&self, line: ImportRecord) -> Result<ImportOutcome, Error> {
        if let Some(id) = line.id {
            match self.store.get(id).await {
                Ok(stored) => return self.import_onto(stored, line).await,
                Err(StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        let record = line
            .clone()
            .into_record(self.clock.now(), &self.actor)
            .map_err(Error::Invalid)?;
        if record.status.is_current() {
            if let Some(existing) = self
                .store
                .find_current(&record.plan.person.nhs_number)
                .await?
            {
                if line.id.is_none() && line.matches(&existing) {
                    return Ok(ImportOutcome::Unchanged(existing.id));
                }
                return Err(StoreError::DuplicatePerson {
                    existing: existing.id,
                }
                .into());
            }
        }
        self.store
            .create(&record, &crate::fhir::project(&record).keys())
            .await?;
        Ok(ImportOutcome::Created(record.id))
    }

    async fn import_onto(
        &self,
        stored: PlanRecord,
        line: ImportRecord,
    ) -> Result<ImportOutcome, Error> {
        let id = stored.id;
        let differs = |version: u32| Error::Conflict {
            message: format!(
                "plan {id} version {version} is already stored with different content; not \
                 overwritten"
            ),
            existing_plan: Some(id),
        };
        match line.version {
            None if line.matches(&stored) => Ok(ImportOutcome::Unchanged(id)),
            None => Err(differs(stored.version)),
            Some(version) if version <= stored.version => {
                let kept = if version == stored.version {
                    stored
                } else {
                    self.store.get_version(id, version).await?
                };
                if line.matches(&kept) {
                    Ok(ImportOutcome::Unchanged(id))
                } else {
                    Err(differs(version))
                }
            }
            Some(version) if version == stored.version + 1 => {
                let mut record = line
                    .into_record(self.clock.now(), &self.actor)
                    .map_err(Error::Invalid)?;
                if record.plan.person.nhs_number != stored.plan.person.nhs_number {
                    return Err(Error::bad_field(
                        "plan.person.nhs_number",
                        "a later version of a plan cannot belong to another person",
                    ));
                }
                record.created = stored.created;
                self.store
                    .update(
                        stored.version,
                        &record,
                        &crate::fhir::project(&record).keys(),
                    )
                    .await?;
                Ok(ImportOutcome::VersionAdded(id))
            }
            Some(version) => Err(Error::Conflict {
                message: format!(
                    "plan {id} is stored at version {}; this line is version {version}: the \
                     versions between are missing (import an export made with --history)",
                    stored.version
                ),
                existing_plan: Some(id),
            }),
        }
    }

    /// Current versions of plans in id order, for export.
    pub async fn list(
        &self,
        after: Option<PlanId>,
        limit: u32,
        include_ended: bool,
    ) -> Result<Vec<PlanRecord>, Error> {
        Ok(self.store.list(after, limit, include_ended).await?)
    }

    /// Every plan the person has had (current versions, any status).
    pub async fn plans_for_person(&self, nhs_number: &NhsNumber) -> Result<Vec<PlanRecord>, Error> {
        Ok(self.store.list_for_person(nhs_number).await?)
    }

    /// The plan a projected FHIR resource belongs to.
    pub async fn locate(&self, resource_type: &str, id: &str) -> Result<Option<PlanId>, Error> {
        Ok(self.store.locate(resource_type, id).await?)
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), Error> {
        Ok(self.store.ping().await?)
    }
}

//! The use cases: create, read, revise and end plans, and import them, each one call from the
//! HTTP handlers or the CLI to the store, with the domain rules applied in between.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::audit::{AuditQuery, AuditRecord, AuditWriter, AuditedPatient};
use crate::clock::Clock;
use crate::domain::{
    ImportOutcome, ImportRecord, NhsNumber, PlanContent, PlanEnd, PlanId, PlanRecord,
};
use crate::error::Error;
use crate::store::{ImportedPlan, PlanStore, StoreError};

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
    audit: Arc<AuditWriter>,
    clock: Arc<dyn Clock>,
    actor: String,
}

impl PlanService {
    /// A service over `store`, recording changes as made by `actor` until authentication names
    /// the caller.
    pub fn new(store: Arc<dyn PlanStore>, clock: Arc<dyn Clock>, actor: impl Into<String>) -> Self {
        Self {
            audit: Arc::new(AuditWriter::new(store.clone())),
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
                &crate::fhir::resource_keys(&record),
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

    /// Appends an audit record; returns once it is committed (batched with other requests'
    /// records by the [`AuditWriter`]).
    pub async fn record_audit(&self, record: AuditRecord) -> Result<(), Error> {
        Ok(self.audit.append(record).await?)
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
                &crate::fhir::new_resource_keys(Some(&stored), &next),
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
                &crate::fhir::new_resource_keys(Some(&stored), &next),
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
        let record = self.new_plan(&line, self.clock.now())?;
        if record.status.is_current() {
            let existing = self
                .store
                .find_current(&record.plan.person.nhs_number)
                .await?;
            if let Some(outcome) = beside_existing(&line, existing.as_ref())? {
                return Ok(outcome);
            }
        }
        self.store
            .create(&record, &crate::fhir::resource_keys(&record))
            .await?;
        Ok(ImportOutcome::Created(record.id))
    }

    /// The record a line names that is not stored yet.
    fn new_plan(&self, line: &ImportRecord, now: DateTime<Utc>) -> Result<PlanRecord, Error> {
        line.clone()
            .into_record(now, &self.actor)
            .map_err(Error::Invalid)
    }

    async fn import_onto(
        &self,
        stored: PlanRecord,
        line: ImportRecord,
    ) -> Result<ImportOutcome, Error> {
        match self.onto(&stored, &line, self.clock.now()) {
            Onto::Decided(outcome) => outcome,
            Onto::Earlier(version) => {
                let kept = self.store.get_version(stored.id, version).await?;
                if line.matches(&kept) {
                    Ok(ImportOutcome::Unchanged(stored.id))
                } else {
                    Err(differs(stored.id, version))
                }
            }
            Onto::Next(record) => {
                self.store
                    .update(
                        stored.version,
                        &record,
                        &crate::fhir::new_resource_keys(Some(&stored), &record),
                    )
                    .await?;
                Ok(ImportOutcome::VersionAdded(stored.id))
            }
        }
    }

    /// What a line naming the stored plan `stored` comes to.
    fn onto(&self, stored: &PlanRecord, line: &ImportRecord, now: DateTime<Utc>) -> Onto {
        let id = stored.id;
        match line.version {
            None if line.matches(stored) => Onto::Decided(Ok(ImportOutcome::Unchanged(id))),
            None => Onto::Decided(Err(differs(id, stored.version))),
            Some(version) if version == stored.version => Onto::Decided(if line.matches(stored) {
                Ok(ImportOutcome::Unchanged(id))
            } else {
                Err(differs(id, version))
            }),
            Some(version) if version < stored.version => Onto::Earlier(version),
            Some(version) if version == stored.version + 1 => {
                let mut record = match self.new_plan(line, now) {
                    Ok(record) => record,
                    Err(error) => return Onto::Decided(Err(error)),
                };
                if record.plan.person.nhs_number != stored.plan.person.nhs_number {
                    return Onto::Decided(Err(Error::bad_field(
                        "plan.person.nhs_number",
                        "a later version of a plan cannot belong to another person",
                    )));
                }
                record.created = stored.created;
                Onto::Next(Box::new(record))
            }
            Some(version) => Onto::Decided(Err(Error::Conflict {
                message: format!(
                    "plan {id} is stored at version {}; this line is version {version}: the \
                     versions between are missing (import an export made with --history)",
                    stored.version
                ),
                existing_plan: Some(id),
            })),
        }
    }

    /// Imports `lines` in order, as [`PlanService::import`] would one by one, but in batches:
    /// the stored plans the lines name are read at once, each line is decided in memory, and
    /// everything the batch stores is written in one transaction. A line that needs an earlier
    /// stored version is imported on its own; if the batch's transaction fails, its lines are
    /// imported one by one, so each result is what the line-by-line import says. With
    /// `stop_at_rejection`, nothing after the first refused line is imported. Stops after a
    /// database failure (its result is the last).
    pub async fn import_lines(
        &self,
        lines: &[ImportRecord],
        stop_at_rejection: bool,
    ) -> Vec<Result<ImportOutcome, Error>> {
        let mut results = Vec::with_capacity(lines.len());
        let stops = |result: &Result<ImportOutcome, Error>| match result {
            Err(Error::Unavailable(_) | Error::Internal(_)) => true,
            Err(_) => stop_at_rejection,
            Ok(_) => false,
        };
        while results.len() < lines.len() {
            let rest = &lines[results.len()..];
            let planned = match self.plan_batch(rest, stop_at_rejection).await {
                Ok(planned) => planned,
                Err(error) => {
                    results.push(Err(error));
                    break;
                }
            };
            let decided = planned.outcomes.len();
            let written =
                planned.writes.is_empty() || self.store.import_batch(&planned.writes).await.is_ok();
            if written {
                results.extend(planned.outcomes);
            } else {
                for line in &rest[..decided] {
                    let result = self.import(line.clone()).await;
                    let stop = stops(&result);
                    results.push(result);
                    if stop {
                        return results;
                    }
                }
            }
            if results.last().is_some_and(stops) {
                break;
            }
            if decided < rest.len() && planned.deferred {
                let result = self.import(rest[decided].clone()).await;
                let stop = stops(&result);
                results.push(result);
                if stop {
                    break;
                }
            }
        }
        results
    }

    /// Decides a prefix of `lines` in memory: up to the end, a line that needs an earlier
    /// stored version (`deferred`), or with `stop_at_rejection` the first refused line.
    async fn plan_batch(
        &self,
        lines: &[ImportRecord],
        stop_at_rejection: bool,
    ) -> Result<PlannedBatch, Error> {
        let now = self.clock.now();
        let mut ids: Vec<PlanId> = lines.iter().filter_map(|l| l.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut people: Vec<NhsNumber> = lines
            .iter()
            .map(|l| l.plan.person.nhs_number.clone())
            .collect();
        people.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        people.dedup();
        let mut state = BatchState::default();
        for record in self.store.get_many(&ids).await? {
            state.know(record);
        }
        for record in self.store.find_current_many(&people).await? {
            state.know(record);
        }
        let mut outcomes = Vec::with_capacity(lines.len());
        let mut deferred = false;
        for line in lines {
            let outcome = match line.id.and_then(|id| state.plans.get(&id)) {
                Some(tracked) => match self.onto(&tracked.latest, line, now) {
                    Onto::Decided(outcome) => outcome,
                    Onto::Earlier(_) => {
                        deferred = true;
                        break;
                    }
                    Onto::Next(record) => state.add_version(*record),
                },
                None => match self.new_plan(line, now) {
                    Err(error) => Err(error),
                    Ok(record) => {
                        let existing = record
                            .status
                            .is_current()
                            .then(|| state.current_of(&record.plan.person.nhs_number))
                            .flatten();
                        match beside_existing(line, existing) {
                            Err(error) => Err(error),
                            Ok(Some(outcome)) => Ok(outcome),
                            Ok(None) => Ok(state.create(record)),
                        }
                    }
                },
            };
            let stop = stop_at_rejection && outcome.is_err();
            outcomes.push(outcome);
            if stop {
                break;
            }
        }
        Ok(PlannedBatch {
            outcomes,
            deferred,
            writes: state.writes().await?,
        })
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

fn differs(id: PlanId, version: u32) -> Error {
    Error::Conflict {
        message: format!(
            "plan {id} version {version} is already stored with different content; not \
             overwritten"
        ),
        existing_plan: Some(id),
    }
}

/// A new current plan beside the person's plan of record `existing`: unchanged if the line
/// (without an id) says what that plan says, refused if it says something else (`None`: no
/// plan of record, go ahead).
fn beside_existing(
    line: &ImportRecord,
    existing: Option<&PlanRecord>,
) -> Result<Option<ImportOutcome>, Error> {
    match existing {
        None => Ok(None),
        Some(existing) if line.id.is_none() && line.matches(existing) => {
            Ok(Some(ImportOutcome::Unchanged(existing.id)))
        }
        Some(existing) => Err(StoreError::DuplicatePerson {
            existing: existing.id,
        }
        .into()),
    }
}

/// What a line naming a stored plan comes to.
enum Onto {
    /// Decided without writing.
    Decided(Result<ImportOutcome, Error>),
    /// Compare with this earlier stored version.
    Earlier(u32),
    /// Store this as the next version.
    Next(Box<PlanRecord>),
}

/// A decided prefix of an import batch.
struct PlannedBatch {
    outcomes: Vec<Result<ImportOutcome, Error>>,
    /// The line after the prefix needs an earlier stored version.
    deferred: bool,
    writes: Vec<ImportedPlan>,
}

/// A plan as the batch leaves it.
struct Tracked {
    /// Its latest version, stored or added by the batch.
    latest: PlanRecord,
    /// The version stored before the batch (`None`: the batch creates it).
    stored_version: Option<u32>,
    /// The versions the batch adds, oldest first.
    added: Vec<PlanRecord>,
}

/// What an import batch knows and has decided: the plans its lines name and the people's
/// plans of record, as the database holds them with the batch's changes applied.
#[derive(Default)]
struct BatchState {
    plans: HashMap<PlanId, Tracked>,
    current: HashMap<String, PlanId>,
    /// Plans the batch changes, in the order it first changed them.
    order: Vec<PlanId>,
}

impl BatchState {
    fn know(&mut self, record: PlanRecord) {
        if record.status.is_current() {
            self.current
                .insert(record.plan.person.nhs_number.as_str().to_owned(), record.id);
        }
        self.plans.entry(record.id).or_insert(Tracked {
            stored_version: Some(record.version),
            latest: record,
            added: Vec::new(),
        });
    }

    fn current_of(&self, nhs_number: &NhsNumber) -> Option<&PlanRecord> {
        let id = self.current.get(nhs_number.as_str())?;
        self.plans.get(id).map(|t| &t.latest)
    }

    fn create(&mut self, record: PlanRecord) -> ImportOutcome {
        let id = record.id;
        if record.status.is_current() {
            self.current
                .insert(record.plan.person.nhs_number.as_str().to_owned(), id);
        }
        self.order.push(id);
        self.plans.insert(
            id,
            Tracked {
                latest: record.clone(),
                stored_version: None,
                added: vec![record],
            },
        );
        ImportOutcome::Created(id)
    }

    fn add_version(&mut self, record: PlanRecord) -> Result<ImportOutcome, Error> {
        let id = record.id;
        let nhs_number = record.plan.person.nhs_number.as_str().to_owned();
        if record.status.is_current() {
            if let Some(existing) = self.current.get(&nhs_number).filter(|e| **e != id) {
                return Err(StoreError::DuplicatePerson {
                    existing: *existing,
                }
                .into());
            }
            self.current.insert(nhs_number, id);
        } else if self.current.get(&nhs_number) == Some(&id) {
            self.current.remove(&nhs_number);
        }
        let Some(tracked) = self.plans.get_mut(&id) else {
            return Err(Error::Internal(
                "an import batch lost track of a plan".into(),
            ));
        };
        if tracked.added.is_empty() {
            self.order.push(id);
        }
        tracked.latest = record.clone();
        tracked.added.push(record);
        Ok(ImportOutcome::VersionAdded(id))
    }

    /// What the batch stores, with the resources each version projects to. Projecting is the
    /// costly part of an import, so the plans are projected on every core.
    async fn writes(self) -> Result<Vec<ImportedPlan>, Error> {
        let mut plans = self.plans;
        let mut changed: Vec<Tracked> = self
            .order
            .iter()
            .filter_map(|id| plans.remove(id))
            .collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = changed.len().div_ceil(cores).max(1);
        let mut parts = Vec::new();
        while !changed.is_empty() {
            let rest = changed.split_off(share.min(changed.len()));
            parts.push(tokio::task::spawn_blocking(move || {
                changed.into_iter().map(projected).collect::<Vec<_>>()
            }));
            changed = rest;
        }
        let mut writes = Vec::new();
        for part in parts {
            writes.extend(
                part.await
                    .map_err(|e| Error::Internal(format!("projecting an import batch: {e}")))?,
            );
        }
        Ok(writes)
    }
}

/// A changed plan with the resources each added version projects to.
fn projected(tracked: Tracked) -> ImportedPlan {
    ImportedPlan {
        stored_version: tracked.stored_version,
        versions: tracked
            .added
            .into_iter()
            .map(|record| {
                let keys = crate::fhir::resource_keys(&record);
                (record, keys)
            })
            .collect(),
    }
}

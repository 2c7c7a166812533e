//! Where plans are kept: the [`PlanStore`] contract (domain types in and out) and its backends,
//! chosen by the database URL's scheme. Every write is a new immutable version (H5) and every
//! update names the version it replaces (H4).

mod background;
mod postgres;
mod postgres_batch;
mod sqlite;
mod sqlite_audit;
mod sqlite_batch;
mod sqlite_checkpoint;
mod sqlite_read;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{AuditQuery, AuditRecord};

use crate::domain::{NhsNumber, PlanId, PlanRecord};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Pool settings shared by the backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections open at once.
    pub pool_size: u32,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_size: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No such plan or version.
    #[error("not found")]
    NotFound,
    /// The plan has moved on since the version the caller read.
    #[error("version conflict: the current version is {current}")]
    VersionConflict {
        /// The version now stored.
        current: u32,
    },
    /// The person already has a plan of record.
    #[error("a plan for this person already exists: {existing}")]
    DuplicatePerson {
        /// That plan.
        existing: PlanId,
    },
    /// A plan with this id already exists.
    #[error("a plan with this id already exists")]
    DuplicateId,
    /// The database is not reachable or has no free connection in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the backend reports (never shown to callers).
    #[error("database error: {0}")]
    Backend(String),
}

/// A projected FHIR resource, by type and logical id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// `Consent`, `Goal`…
    pub resource_type: &'static str,
    /// The logical id.
    pub id: String,
}

/// One plan's part of an import batch ([`PlanStore::import_batch`]).
#[derive(Debug, Clone)]
pub struct ImportedPlan {
    /// The version the database holds now, which the batch moves on from (checked, H4);
    /// `None` for a plan the batch creates.
    pub stored_version: Option<u32>,
    /// The versions to store, oldest first, each the next of the one before, with the FHIR
    /// resources each projects to. Never empty.
    pub versions: Vec<(PlanRecord, Vec<ResourceKey>)>,
}

/// Rows per multi-row `INSERT` of a batch (at most seven values a row: well under SQLite's and
/// PostgreSQL's bound-parameter limits).
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// The storage contract every backend meets, method for method.
#[async_trait]
pub trait PlanStore: Send + Sync {
    /// Stores a new plan (its first version, or an imported one) and indexes the FHIR resources
    /// it projects to, in one transaction.
    async fn create(
        &self,
        record: &PlanRecord,
        resources: &[ResourceKey],
    ) -> Result<(), StoreError> {
        self.create_audited(record, resources, None).await
    }
    /// As [`PlanStore::create`], writing `audit` in the same transaction.
    async fn create_audited(
        &self,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError>;
    /// The current version of a plan.
    async fn get(&self, id: PlanId) -> Result<PlanRecord, StoreError>;
    /// One version of a plan.
    async fn get_version(&self, id: PlanId, version: u32) -> Result<PlanRecord, StoreError>;
    /// Every version of a plan, newest first.
    async fn history(&self, id: PlanId) -> Result<Vec<PlanRecord>, StoreError>;
    /// The person's plan of record (active, or completed after death), if any.
    async fn find_current(&self, nhs_number: &NhsNumber) -> Result<Option<PlanRecord>, StoreError>;
    /// The current version of every plan the person has had (any status), oldest first.
    async fn list_for_person(&self, nhs_number: &NhsNumber) -> Result<Vec<PlanRecord>, StoreError>;
    /// The current versions of those of `ids` that exist, in no particular order.
    async fn get_many(&self, ids: &[PlanId]) -> Result<Vec<PlanRecord>, StoreError>;
    /// The plans of record of those of `nhs_numbers` that have one, in no particular order.
    async fn find_current_many(
        &self,
        nhs_numbers: &[NhsNumber],
    ) -> Result<Vec<PlanRecord>, StoreError>;
    /// Stores a whole import batch in one transaction, all or nothing: new plans with all
    /// their versions, further versions of stored plans (each only if the plan is still at
    /// its `stored_version`), and the resources each version projects to, as
    /// [`PlanStore::create`] and [`PlanStore::update`] would one by one. Any conflict fails the
    /// whole batch (the caller then imports it line by line to say which line).
    ///
    /// A backend may leave the batch's resource index rows pending until
    /// [`PlanStore::finish_import`] (SQLite does: see `migrations/sqlite/0005`); until then
    /// [`PlanStore::locate`] still finds them.
    async fn import_batch(&self, plans: &[ImportedPlan]) -> Result<(), StoreError>;
    /// Ends an import: merges the resource index rows its batches left pending, in one
    /// transaction (SQLite), or gathers the planner's statistics of the tables it filled
    /// (PostgreSQL). Harmless when there is nothing to do.
    async fn finish_import(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Stores `record` as the next version, only if the stored version is `expected_version`,
    /// and indexes any FHIR resource it projects to for the first time, in one transaction.
    async fn update(
        &self,
        expected_version: u32,
        record: &PlanRecord,
        resources: &[ResourceKey],
    ) -> Result<(), StoreError> {
        self.update_audited(expected_version, record, resources, None)
            .await
    }
    /// As [`PlanStore::update`], writing `audit` in the same transaction.
    async fn update_audited(
        &self,
        expected_version: u32,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError>;
    /// The plan a projected FHIR resource belongs to.
    async fn locate(&self, resource_type: &str, id: &str) -> Result<Option<PlanId>, StoreError>;
    /// The current versions of plans in id order after `after`, at most `limit`; with
    /// `include_ended`, revoked and entered-in-error plans too.
    async fn list(
        &self,
        after: Option<PlanId>,
        limit: u32,
        include_ended: bool,
    ) -> Result<Vec<PlanRecord>, StoreError>;
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Called once the service has stopped serving: leaves the database as the next process
    /// should find it (a SQLite file's write-ahead logs emptied). Nothing to do by default.
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Appends an audit record (its own transaction).
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.append_audits(std::slice::from_ref(record)).await
    }
    /// Appends audit records, all or none, in one transaction.
    async fn append_audits(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
    /// Where this store's own audit-writing thread takes request audit records, if it has one
    /// (they are then gathered into group commits there: see [`crate::audit::AuditWriter`]).
    fn audit_port(&self) -> Option<crate::audit::AuditPort> {
        None
    }
    /// Audit records matching `query`, newest first.
    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
    /// One audit record.
    async fn get_audit(&self, id: uuid::Uuid) -> Result<Option<AuditRecord>, StoreError>;
    /// Records that `client_id` used assertion `jti` (valid until `expires`); false if it had
    /// been used before. Forgets assertions that expired before `now`.
    async fn remember_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError>;
}

/// Opens the store a database URL names, with default pool settings.
pub async fn connect(database_url: &str) -> Result<Arc<dyn PlanStore>, StoreError> {
    connect_with(database_url, &StoreOptions::default()).await
}

/// Opens the store a database URL names: `sqlite:` (a file path, or `sqlite::memory:`) or
/// `postgres://` / `postgresql://` (connected lazily: a database that is down makes the service
/// unready, not unable to start).
pub async fn connect_with(
    database_url: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn PlanStore>, StoreError> {
    let scheme = database_url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(SqliteStore::connect(database_url, options).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(database_url, options)?)),
        other => Err(StoreError::Unavailable(format!(
            "unsupported database URL scheme `{other}:` (use sqlite:PATH or postgres://…)"
        ))),
    }
}

/// A database URL with any password replaced by `***`, safe to print.
pub fn masked_url(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => database_url.to_owned(),
    }
}

/// Every resource key of an import batch once, with the (earliest) version that first projects
/// to it, in batch order: what the per-version `ON CONFLICT DO NOTHING` inserts would keep.
pub(crate) fn first_appearances(plans: &[ImportedPlan]) -> Vec<(&ResourceKey, &PlanRecord)> {
    let mut seen = std::collections::HashSet::new();
    plans
        .iter()
        .flat_map(|p| p.versions.iter())
        .flat_map(|(record, keys)| keys.iter().map(move |key| (key, record)))
        .filter(|(key, _)| seen.insert((key.resource_type, key.id.as_str())))
        .collect()
}

pub(crate) fn timestamp(value: &chrono::DateTime<chrono::Utc>) -> String {
    value.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn decode(document: &str) -> Result<PlanRecord, StoreError> {
    serde_json::from_str(document)
        .map_err(|e| StoreError::Backend(format!("stored plan document unreadable: {e}")))
}

pub(crate) fn encode(record: &PlanRecord) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|e| StoreError::Backend(format!("plan document not encodable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn masks_passwords_only() {
        assert_eq!(
            masked_url("postgres://acp:s3cret@db:5432/acp"),
            "postgres://acp:***@db:5432/acp"
        );
        assert_eq!(masked_url("sqlite:acp.db"), "sqlite:acp.db");
        assert_eq!(
            masked_url("postgres://db:5432/acp"),
            "postgres://db:5432/acp"
        );
    }
}

//! PostgreSQL, for several instances behind a load balancer. The pool connects lazily, so the
//! service starts (and reports not ready) while the database is down; migrations run on first
//! contact under sqlx's advisory lock, so instances starting together are safe.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    decode, encode, timestamp, ImportedPlan, PlanStore, ResourceKey, StoreError, StoreOptions,
};
use crate::audit::{AuditQuery, AuditRecord};
use crate::domain::{NhsNumber, PlanId, PlanRecord};

const CURRENT_STATUSES: &str = "('active', 'completed')";

/// A plan store on PostgreSQL.
pub struct PostgresStore {
    pool: PgPool,
    migrated: OnceCell<()>,
}

pub(super) fn backend(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(error.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

async fn index_resources(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    record: &PlanRecord,
    resources: &[ResourceKey],
) -> Result<(), StoreError> {
    for chunk in resources.chunks(super::ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO resource_index (resource_type, resource_id, plan_id, first_version) ",
        );
        insert.push_values(chunk, |mut row, key| {
            row.push_bind(key.resource_type)
                .push_bind(key.id.as_str())
                .push_bind(record.id.as_uuid())
                .push_bind(version_i32(record.version));
        });
        insert.push(" ON CONFLICT (resource_type, resource_id) DO NOTHING");
        insert.build().execute(&mut **tx).await.map_err(backend)?;
    }
    Ok(())
}

pub(super) fn version_i32(version: u32) -> i32 {
    i32::try_from(version).unwrap_or(i32::MAX)
}

impl PostgresStore {
    /// A store for `database_url`; nothing is contacted until first use.
    pub fn connect(database_url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(database_url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?
            .application_name("acp-fhir");
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(Self {
            pool,
            migrated: OnceCell::new(),
        })
    }

    /// The pool, for tests that need to hold its connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations once per process (under an advisory lock).
    async fn ready(&self) -> Result<(), StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await
                    .map_err(|e| match e {
                        sqlx::migrate::MigrateError::Execute(inner) => backend(inner),
                        other => StoreError::Backend(format!("migration failed: {other}")),
                    })
            })
            .await
            .map(|_| ())
    }

    async fn existing_for_person(&self, nhs_number: &str) -> Result<Option<PlanId>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT id FROM plans WHERE nhs_number = $1 AND status IN {CURRENT_STATUSES}"
        ))
        .bind(nhs_number)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.map(|r| PlanId::from(r.get::<Uuid, _>(0))))
    }
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    record: &AuditRecord,
) -> Result<(), StoreError> {
    super::postgres_batch::insert_audits(tx, std::slice::from_ref(record)).await
}

#[async_trait]
impl PlanStore for PostgresStore {
    async fn create_audited(
        &self,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        let document = encode(record)?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let inserted = sqlx::query(
            "INSERT INTO plans (id, nhs_number, status, version, created, last_updated) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.as_uuid())
        .bind(record.plan.person.nhs_number.as_str())
        .bind(record.status.as_str())
        .bind(version_i32(record.version))
        .bind(record.created)
        .bind(record.last_updated)
        .execute(&mut *tx)
        .await;
        if let Err(error) = inserted {
            drop(tx);
            if is_unique_violation(&error) {
                return match self
                    .existing_for_person(record.plan.person.nhs_number.as_str())
                    .await?
                {
                    Some(existing) if record.status.is_current() => {
                        Err(StoreError::DuplicatePerson { existing })
                    }
                    _ => Err(StoreError::DuplicateId),
                };
            }
            return Err(backend(error));
        }
        sqlx::query(
            "INSERT INTO plan_versions (plan_id, version, status, last_updated, last_updated_by, document) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.as_uuid())
        .bind(version_i32(record.version))
        .bind(record.status.as_str())
        .bind(record.last_updated)
        .bind(&record.last_updated_by)
        .bind(document)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        index_resources(&mut tx, record, resources).await?;
        if let Some(audit) = audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get(&self, id: PlanId) -> Result<PlanRecord, StoreError> {
        self.ready().await?;
        let row = sqlx::query(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version WHERE p.id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
        decode(row.get::<&str, _>(0))
    }

    async fn get_version(&self, id: PlanId, version: u32) -> Result<PlanRecord, StoreError> {
        self.ready().await?;
        let row =
            sqlx::query("SELECT document FROM plan_versions WHERE plan_id = $1 AND version = $2")
                .bind(id.as_uuid())
                .bind(version_i32(version))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
        decode(row.get::<&str, _>(0))
    }

    async fn history(&self, id: PlanId) -> Result<Vec<PlanRecord>, StoreError> {
        self.ready().await?;
        let rows = sqlx::query(
            "SELECT document FROM plan_versions WHERE plan_id = $1 ORDER BY version DESC",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect()
    }

    async fn find_current(&self, nhs_number: &NhsNumber) -> Result<Option<PlanRecord>, StoreError> {
        self.ready().await?;
        let row = sqlx::query(&format!(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
             WHERE p.nhs_number = $1 AND p.status IN {CURRENT_STATUSES}"
        ))
        .bind(nhs_number.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| decode(r.get::<&str, _>(0))).transpose()
    }

    async fn list_for_person(&self, nhs_number: &NhsNumber) -> Result<Vec<PlanRecord>, StoreError> {
        self.ready().await?;
        let rows = sqlx::query(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
             WHERE p.nhs_number = $1 ORDER BY p.created, p.id",
        )
        .bind(nhs_number.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect()
    }

    async fn get_many(&self, ids: &[PlanId]) -> Result<Vec<PlanRecord>, StoreError> {
        self.ready().await?;
        super::postgres_batch::get_many(&self.pool, ids).await
    }

    async fn find_current_many(
        &self,
        nhs_numbers: &[NhsNumber],
    ) -> Result<Vec<PlanRecord>, StoreError> {
        self.ready().await?;
        super::postgres_batch::find_current_many(&self.pool, nhs_numbers).await
    }

    async fn import_batch(&self, plans: &[ImportedPlan]) -> Result<(), StoreError> {
        self.ready().await?;
        super::postgres_batch::import_batch(&self.pool, plans).await
    }

    async fn finish_import(&self) -> Result<(), StoreError> {
        self.ready().await?;
        super::postgres_batch::finish_import(&self.pool).await
    }

    async fn update_audited(
        &self,
        expected_version: u32,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        let document = encode(record)?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE plans SET version = $1, status = $2, last_updated = $3 \
             WHERE id = $4 AND version = $5",
        )
        .bind(version_i32(record.version))
        .bind(record.status.as_str())
        .bind(record.last_updated)
        .bind(record.id.as_uuid())
        .bind(version_i32(expected_version))
        .execute(&mut *tx)
        .await;
        let updated = match updated {
            Ok(result) => result.rows_affected(),
            Err(error) if is_unique_violation(&error) => {
                drop(tx);
                let existing = self
                    .existing_for_person(record.plan.person.nhs_number.as_str())
                    .await?
                    .ok_or_else(|| StoreError::Backend(error.to_string()))?;
                return Err(StoreError::DuplicatePerson { existing });
            }
            Err(error) => return Err(backend(error)),
        };
        if updated == 0 {
            let current = sqlx::query("SELECT version FROM plans WHERE id = $1")
                .bind(record.id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            return match current {
                None => Err(StoreError::NotFound),
                Some(row) => Err(StoreError::VersionConflict {
                    current: u32::try_from(row.get::<i32, _>(0)).unwrap_or_default(),
                }),
            };
        }
        sqlx::query(
            "INSERT INTO plan_versions (plan_id, version, status, last_updated, last_updated_by, document) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.as_uuid())
        .bind(version_i32(record.version))
        .bind(record.status.as_str())
        .bind(record.last_updated)
        .bind(&record.last_updated_by)
        .bind(document)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        index_resources(&mut tx, record, resources).await?;
        if let Some(audit) = audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list(
        &self,
        after: Option<PlanId>,
        limit: u32,
        include_ended: bool,
    ) -> Result<Vec<PlanRecord>, StoreError> {
        self.ready().await?;
        let status_filter = if include_ended {
            String::new()
        } else {
            format!("AND p.status IN {CURRENT_STATUSES}")
        };
        let rows = sqlx::query(&format!(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
             WHERE p.id > $1 {status_filter} ORDER BY p.id LIMIT $2"
        ))
        .bind(after.map_or(Uuid::nil(), |id| id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect()
    }

    async fn locate(&self, resource_type: &str, id: &str) -> Result<Option<PlanId>, StoreError> {
        self.ready().await?;
        let row = sqlx::query(
            "SELECT plan_id FROM resource_index WHERE resource_type = $1 AND resource_id = $2",
        )
        .bind(resource_type)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.map(|r| PlanId::from(r.get::<Uuid, _>(0))))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.ready().await?;
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    async fn append_audits(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        self.ready().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        super::postgres_batch::insert_audits(&mut tx, records).await?;
        tx.commit().await.map_err(backend)
    }

    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.ready().await?;
        let (sql, binds) = crate::audit::search_sql(query, |n| format!("${n}"));
        let mut statement = sqlx::query(&sql);
        for value in &binds {
            statement = statement.bind(value);
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter()
            .map(|r| crate::audit::decode(r.get::<&str, _>(0)))
            .collect()
    }

    async fn get_audit(&self, id: Uuid) -> Result<Option<AuditRecord>, StoreError> {
        self.ready().await?;
        let row = sqlx::query("SELECT document FROM audit_events WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| crate::audit::decode(r.get::<&str, _>(0)))
            .transpose()
    }

    async fn remember_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        self.ready().await?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("DELETE FROM client_assertions WHERE expires_at < $1")
            .bind(timestamp(&now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let inserted = sqlx::query(
            "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(timestamp(&expires))
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(inserted == 1)
    }
}

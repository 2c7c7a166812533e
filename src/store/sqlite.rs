//! The embedded default: SQLite in WAL mode, one file for plans and, beside it, one for
//! request audit records (or `sqlite::memory:` for tests: one connection holding both),
//! migrations applied on connect.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::sqlite_audit::AuditFile;
use super::sqlite_checkpoint::{Checkpointer, FILE_LIMIT};
use super::sqlite_read::{DirectReads, Miss};
use super::{
    decode, encode, timestamp, ImportedPlan, PlanStore, ResourceKey, StoreError, StoreOptions,
};
use crate::audit::{AuditQuery, AuditRecord};
use crate::domain::{NhsNumber, PlanId, PlanRecord};

const CURRENT_STATUSES: &str = "('active', 'completed')";

/// A plan store on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Held by this process's write transactions, one at a time. SQLite lets one connection
    /// write at once; without this, concurrent writers wait in SQLite's busy handler, which
    /// sleeps with growing back-off (writes waited over a second under load). In turn here,
    /// each starts as soon as the one before commits.
    writes: Arc<tokio::sync::Mutex<()>>,
    /// Updates waiting for the write lock. Whoever takes the lock next writes all of them in
    /// one transaction (group commit, see [`SqliteStore::update_audited`]).
    updates: Arc<std::sync::Mutex<Vec<super::sqlite_batch::QueuedUpdate>>>,
    /// Point reads on the calling thread (a file database; see [`super::sqlite_read`]).
    direct: Option<Arc<DirectReads>>,
    /// Checkpoints the write-ahead log while any clone of the store is alive.
    checkpointer: Option<Arc<Checkpointer>>,
    /// Request audit records, in a database file of their own written by a thread of its own
    /// (a file database; see [`super::sqlite_audit`]).
    audit_file: Option<Arc<AuditFile>>,
}

pub(super) fn backend(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(error.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies migrations.
    pub async fn connect(database_url: &str, settings: &StoreOptions) -> Result<Self, StoreError> {
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            // Statement journals (a multi-row INSERT in a transaction needs one) in memory,
            // not in temporary files.
            .pragma("temp_store", "memory")
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        // A file database is checkpointed by a thread of its own, not inside commits.
        let checkpointer = if in_memory {
            None
        } else {
            Checkpointer::start("sqlite-checkpoint", options.get_filename(), writes.clone())
                .map(Arc::new)
        };
        let options = if checkpointer.is_some() {
            options
                .pragma("wal_autocheckpoint", "0")
                .pragma("journal_size_limit", FILE_LIMIT.to_string())
        } else {
            options
        };
        // An in-memory database lives and dies with its one connection: keep exactly one.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(settings.pool_size)
        };
        let direct = (!in_memory).then(|| Arc::new(DirectReads::new(options.get_filename())));
        let path = options.get_filename().to_path_buf();
        let pool = pool_options
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        // An import that was stopped may have left index rows pending.
        super::sqlite_batch::merge_pending_index(&pool).await?;
        let audit_file = if in_memory {
            None
        } else {
            Some(Arc::new(
                AuditFile::open(&path, settings, writes.clone()).await?,
            ))
        };
        Ok(Self {
            pool,
            writes,
            updates: Arc::new(std::sync::Mutex::new(Vec::new())),
            direct,
            checkpointer,
            audit_file,
        })
    }

    /// The pool, for tests that need to hold its connections.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The audit database's pool (a file database keeps request audit records in a file of
    /// their own), for tests that reach into it.
    pub fn audit_pool(&self) -> Option<&SqlitePool> {
        self.audit_file.as_ref().map(|file| &file.pool)
    }

    /// One update in a transaction of its own (the write lock held by the caller).
    async fn update_one(
        &self,
        expected_version: u32,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
        document: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE plans SET version = ?, status = ?, last_updated = ? WHERE id = ? AND version = ?",
        )
        .bind(i64::from(record.version))
        .bind(record.status.as_str())
        .bind(timestamp(&record.last_updated))
        .bind(record.id.to_string())
        .bind(i64::from(expected_version))
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
            let current = sqlx::query("SELECT version FROM plans WHERE id = ?")
                .bind(record.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            return match current {
                None => Err(StoreError::NotFound),
                Some(row) => Err(StoreError::VersionConflict {
                    current: u32::try_from(row.get::<i64, _>(0)).unwrap_or_default(),
                }),
            };
        }
        sqlx::query(
            "INSERT INTO plan_versions (plan_id, version, status, last_updated, last_updated_by, document) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(record.id.to_string())
        .bind(i64::from(record.version))
        .bind(record.status.as_str())
        .bind(timestamp(&record.last_updated))
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

    /// Writes a group of queued updates and answers each (the write lock held by the caller):
    /// as one transaction when it can, else one by one, so each gets the answer it would have
    /// had alone. A plan named twice in a group has its later updates written after the group.
    async fn write_updates(&self, group: Vec<super::sqlite_batch::QueuedUpdate>) {
        let mut seen = std::collections::HashSet::new();
        let (first, later): (Vec<_>, Vec<_>) =
            group.into_iter().partition(|u| seen.insert(u.record.id));
        let alone = if first.len() > 1 {
            match super::sqlite_batch::update_group(&self.pool, &first).await {
                Ok(answers) => {
                    for (update, answer) in first.into_iter().zip(answers) {
                        let _ = update.done.send(answer);
                    }
                    Vec::new()
                }
                Err(_) => first,
            }
        } else {
            first
        };
        for update in alone.into_iter().chain(later) {
            let answer = self
                .update_one(
                    update.expected_version,
                    &update.record,
                    &update.resources,
                    update.audit.as_ref(),
                    &update.document,
                )
                .await;
            let _ = update.done.send(answer);
        }
    }

    async fn existing_for_person(&self, nhs_number: &str) -> Result<Option<PlanId>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT id FROM plans WHERE nhs_number = ? AND status IN {CURRENT_STATUSES}"
        ))
        .bind(nhs_number)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| parse_id(r.get::<String, _>(0).as_str()))
            .transpose()
    }
}

async fn index_resources(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    record: &PlanRecord,
    resources: &[ResourceKey],
) -> Result<(), StoreError> {
    let plan_id = record.id.to_string();
    for chunk in resources.chunks(super::ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO resource_index (resource_type, resource_id, plan_id, first_version) ",
        );
        insert.push_values(chunk, |mut row, key| {
            row.push_bind(key.resource_type)
                .push_bind(key.id.as_str())
                .push_bind(plan_id.as_str())
                .push_bind(i64::from(record.version));
        });
        insert.push(" ON CONFLICT (resource_type, resource_id) DO NOTHING");
        insert.build().execute(&mut **tx).await.map_err(backend)?;
    }
    Ok(())
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    record: &AuditRecord,
) -> Result<(), StoreError> {
    super::sqlite_batch::insert_audits(tx, std::slice::from_ref(record)).await
}

async fn search_audit_in(
    pool: &SqlitePool,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, StoreError> {
    let (sql, binds) = crate::audit::search_sql(query, |_| "?".to_owned());
    let mut statement = sqlx::query(&sql);
    for value in &binds {
        statement = statement.bind(value);
    }
    let rows = statement.fetch_all(pool).await.map_err(backend)?;
    rows.iter()
        .map(|r| crate::audit::decode(r.get::<&str, _>(0)))
        .collect()
}

async fn get_audit_in(
    pool: &SqlitePool,
    id: uuid::Uuid,
) -> Result<Option<AuditRecord>, StoreError> {
    let row = sqlx::query("SELECT document FROM audit_events WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| crate::audit::decode(r.get::<&str, _>(0)))
        .transpose()
}

fn parse_id(raw: &str) -> Result<PlanId, StoreError> {
    PlanId::parse(raw).map_err(|_| StoreError::Backend(format!("stored plan id unreadable: {raw}")))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl PlanStore for SqliteStore {
    async fn create_audited(
        &self,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        let document = encode(record)?;
        let _writing = self.writes.lock().await;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let inserted = sqlx::query(
            "INSERT INTO plans (id, nhs_number, status, version, created, last_updated) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(record.id.to_string())
        .bind(record.plan.person.nhs_number.as_str())
        .bind(record.status.as_str())
        .bind(i64::from(record.version))
        .bind(timestamp(&record.created))
        .bind(timestamp(&record.last_updated))
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
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(record.id.to_string())
        .bind(i64::from(record.version))
        .bind(record.status.as_str())
        .bind(timestamp(&record.last_updated))
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
        match self.direct.as_ref().map(|direct| direct.get(id)) {
            Some(Ok(found)) => return found.ok_or(StoreError::NotFound),
            Some(Err(Miss::Failed(error))) => return Err(error),
            Some(Err(Miss::Fallback)) | None => {}
        }
        let row = sqlx::query(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version WHERE p.id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
        decode(row.get::<&str, _>(0))
    }

    async fn get_version(&self, id: PlanId, version: u32) -> Result<PlanRecord, StoreError> {
        let row =
            sqlx::query("SELECT document FROM plan_versions WHERE plan_id = ? AND version = ?")
                .bind(id.to_string())
                .bind(i64::from(version))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
        decode(row.get::<&str, _>(0))
    }

    async fn history(&self, id: PlanId) -> Result<Vec<PlanRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT document FROM plan_versions WHERE plan_id = ? ORDER BY version DESC",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect()
    }

    async fn find_current(&self, nhs_number: &NhsNumber) -> Result<Option<PlanRecord>, StoreError> {
        match self
            .direct
            .as_ref()
            .map(|direct| direct.find_current(nhs_number))
        {
            Some(Ok(found)) => return Ok(found),
            Some(Err(Miss::Failed(error))) => return Err(error),
            Some(Err(Miss::Fallback)) | None => {}
        }
        let row = sqlx::query(&format!(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
             WHERE p.nhs_number = ? AND p.status IN {CURRENT_STATUSES}"
        ))
        .bind(nhs_number.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| decode(r.get::<&str, _>(0))).transpose()
    }

    async fn list_for_person(&self, nhs_number: &NhsNumber) -> Result<Vec<PlanRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
             WHERE p.nhs_number = ? ORDER BY p.created, p.id",
        )
        .bind(nhs_number.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect()
    }

    async fn get_many(&self, ids: &[PlanId]) -> Result<Vec<PlanRecord>, StoreError> {
        super::sqlite_batch::get_many(&self.pool, ids).await
    }

    async fn find_current_many(
        &self,
        nhs_numbers: &[NhsNumber],
    ) -> Result<Vec<PlanRecord>, StoreError> {
        super::sqlite_batch::find_current_many(&self.pool, nhs_numbers).await
    }

    async fn import_batch(&self, plans: &[ImportedPlan]) -> Result<(), StoreError> {
        let _writing = self.writes.lock().await;
        super::sqlite_batch::import_batch(&self.pool, plans).await
    }

    async fn finish_import(&self) -> Result<(), StoreError> {
        let _writing = self.writes.lock().await;
        super::sqlite_batch::merge_pending_index(&self.pool).await
    }

    async fn update_audited(
        &self,
        expected_version: u32,
        record: &PlanRecord,
        resources: &[ResourceKey],
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        // Group commit: queue the update, then take the write lock; whoever holds it writes
        // every update queued by then in one transaction (one commit, and a handful of
        // statements for the whole group instead of several per update). An update another
        // caller's group already wrote finds the queue empty and just reads its answer.
        let (done, answer) = tokio::sync::oneshot::channel();
        let queued = super::sqlite_batch::QueuedUpdate {
            expected_version,
            document: encode(record)?,
            record: record.clone(),
            resources: resources.to_vec(),
            audit: audit.cloned(),
            done,
        };
        self.updates
            .lock()
            .map_err(|_| StoreError::Backend("update queue poisoned".into()))?
            .push(queued);
        {
            let _writing = self.writes.lock().await;
            let group = match self.updates.lock() {
                Ok(mut queue) => std::mem::take(&mut *queue),
                Err(_) => Vec::new(),
            };
            self.write_updates(group).await;
        }
        answer
            .await
            .map_err(|_| StoreError::Backend("the update was not written".into()))?
    }

    async fn list(
        &self,
        after: Option<PlanId>,
        limit: u32,
        include_ended: bool,
    ) -> Result<Vec<PlanRecord>, StoreError> {
        let status_filter = if include_ended {
            String::new()
        } else {
            format!("AND p.status IN {CURRENT_STATUSES}")
        };
        let rows = sqlx::query(&format!(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
             WHERE p.id > ? {status_filter} ORDER BY p.id LIMIT ?"
        ))
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| decode(r.get::<&str, _>(0))).collect()
    }

    async fn locate(&self, resource_type: &str, id: &str) -> Result<Option<PlanId>, StoreError> {
        match self
            .direct
            .as_ref()
            .map(|direct| direct.locate(resource_type, id))
        {
            Some(Ok(Some(plan))) => return parse_id(&plan).map(Some),
            Some(Err(Miss::Failed(error))) => return Err(error),
            // Not in the merged index: the pooled query also reads rows an import left pending.
            Some(Ok(None)) | Some(Err(Miss::Fallback)) | None => {}
        }
        // A resource an import is still indexing is in resource_index_pending (empty but for
        // the length of an import run; it has no index, so only a miss reads it).
        let row = sqlx::query(
            "SELECT plan_id FROM resource_index WHERE resource_type = ?1 AND resource_id = ?2 \
             UNION ALL SELECT * FROM (SELECT plan_id FROM resource_index_pending \
             WHERE resource_type = ?1 AND resource_id = ?2 ORDER BY first_version LIMIT 1) \
             LIMIT 1",
        )
        .bind(resource_type)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| parse_id(r.get::<String, _>(0).as_str()))
            .transpose()
    }

    /// Both files answer (no request is served without its audit record).
    async fn ping(&self) -> Result<(), StoreError> {
        for pool in std::iter::once(&self.pool).chain(self.audit_file.as_ref().map(|f| &f.pool)) {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Stops both files' checkpoint threads, then empties their logs
    /// (`wal_checkpoint(TRUNCATE)`) holding the write lock. SQLite empties a log itself when
    /// its file's last connection closes, but the service exits with the store's threads (the
    /// audit writer, the checkpointers, the readers) still holding theirs: each stop left the
    /// request audit file's log, 300 MB after a load run, for the next process to copy and
    /// empty (see [`super::sqlite_checkpoint`]). The checkpoint threads go first: a passive
    /// checkpoint of theirs under way made the log busy, and it was left as it was.
    async fn close(&self) -> Result<(), StoreError> {
        let threads: Vec<Arc<Checkpointer>> = self
            .checkpointer
            .iter()
            .chain(self.audit_file.iter().filter_map(|f| f.checkpointer()))
            .cloned()
            .collect();
        tokio::task::spawn_blocking(move || threads.iter().for_each(|thread| thread.stop()))
            .await
            .map_err(|e| StoreError::Unavailable(format!("checkpoint threads not stopped: {e}")))?;
        let _writing = self.writes.lock().await;
        for pool in std::iter::once(&self.pool).chain(self.audit_file.as_ref().map(|f| &f.pool)) {
            let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(pool)
                .await
                .map_err(backend)?;
            if busy != 0 {
                return Err(StoreError::Unavailable(
                    "the write-ahead log is still in use: not emptied".into(),
                ));
            }
        }
        Ok(())
    }

    async fn append_audits(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if let Some(file) = &self.audit_file {
            return file.append(records).await;
        }
        let _writing = self.writes.lock().await;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        super::sqlite_batch::insert_audits(&mut tx, records).await?;
        tx.commit().await.map_err(backend)
    }

    fn audit_port(&self) -> Option<crate::audit::AuditPort> {
        self.audit_file.as_ref().map(|file| file.port())
    }

    /// Both files' records when there is an audit file (requests' records there, writes' and
    /// older ones here), merged in the order each file's search gives.
    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut found = search_audit_in(&self.pool, query).await?;
        if let Some(file) = &self.audit_file {
            found.extend(search_audit_in(&file.pool, query).await?);
            // The search's own order: recorded (as stored), then id, newest first.
            found.sort_by_cached_key(|r| std::cmp::Reverse((timestamp(&r.recorded), r.id)));
            found.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
        }
        Ok(found)
    }

    async fn get_audit(&self, id: uuid::Uuid) -> Result<Option<AuditRecord>, StoreError> {
        if let Some(file) = &self.audit_file {
            if let Some(found) = get_audit_in(&file.pool, id).await? {
                return Ok(Some(found));
            }
        }
        get_audit_in(&self.pool, id).await
    }

    async fn remember_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let _writing = self.writes.lock().await;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("DELETE FROM client_assertions WHERE expires_at < ?")
            .bind(timestamp(&now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let inserted = sqlx::query(
            "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES (?, ?, ?) \
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

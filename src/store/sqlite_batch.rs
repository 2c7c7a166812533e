//! The SQLite store's batch work: many rows per statement and one transaction for many
//! records (audit group commit, bulk import), so neither pays a statement and a commit per row.

use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::sqlite::backend;
use super::{decode, encode, timestamp, ImportedPlan, ResourceKey, StoreError, ROWS_PER_INSERT};
use crate::audit::{AuditRecord, AuditedPatient};
use crate::domain::{NhsNumber, PlanId, PlanRecord};

/// Writes `records` with one multi-row `INSERT` per table and chunk.
pub(super) async fn insert_audits(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    for chunk in records.chunks(ROWS_PER_INSERT) {
        let documents = chunk
            .iter()
            .map(crate::audit::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let mut events = QueryBuilder::<Sqlite>::new(
            "INSERT INTO audit_events \
             (id, recorded, client_id, end_user, entity_type, entity_id, document) ",
        );
        events.push_values(
            chunk.iter().zip(documents),
            |mut row, (record, document)| {
                row.push_bind(record.id.to_string())
                    .push_bind(timestamp(&record.recorded))
                    .push_bind(record.client_id.as_deref())
                    .push_bind(record.end_user.as_deref())
                    .push_bind(record.resource_type.as_deref())
                    .push_bind(record.resource_id.as_deref())
                    .push_bind(document);
            },
        );
        events.build().execute(&mut **tx).await.map_err(backend)?;
        let patients: Vec<(String, &AuditedPatient)> = chunk
            .iter()
            .flat_map(|r| r.patients.iter().map(|p| (r.id.to_string(), p)))
            .collect();
        for part in patients.chunks(ROWS_PER_INSERT) {
            let mut rows = QueryBuilder::<Sqlite>::new(
                "INSERT INTO audit_event_patients (audit_id, patient_id, nhs_number) ",
            );
            rows.push_values(part, |mut row, (audit_id, patient)| {
                row.push_bind(audit_id.as_str())
                    .push_bind(patient.patient_id.as_str())
                    .push_bind(patient.nhs_number.as_str());
            });
            rows.build().execute(&mut **tx).await.map_err(backend)?;
        }
    }
    Ok(())
}

/// The current versions of the plans whose `column` is one of `values`, with `filter` added.
async fn current_where(
    pool: &SqlitePool,
    column: &str,
    values: &[String],
    filter: &str,
) -> Result<Vec<PlanRecord>, StoreError> {
    let mut found = Vec::new();
    for chunk in values.chunks(ROWS_PER_INSERT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version WHERE p.",
        );
        query.push(column).push(" IN (");
        let mut list = query.separated(", ");
        for value in chunk {
            list.push_bind(value.as_str());
        }
        query.push(")").push(filter);
        let rows = query.build().fetch_all(pool).await.map_err(backend)?;
        for row in rows {
            found.push(decode(row.get::<&str, _>(0))?);
        }
    }
    Ok(found)
}

pub(super) async fn get_many(
    pool: &SqlitePool,
    ids: &[PlanId],
) -> Result<Vec<PlanRecord>, StoreError> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    current_where(pool, "id", &ids, "").await
}

pub(super) async fn find_current_many(
    pool: &SqlitePool,
    nhs_numbers: &[NhsNumber],
) -> Result<Vec<PlanRecord>, StoreError> {
    let numbers: Vec<String> = nhs_numbers.iter().map(|n| n.as_str().to_owned()).collect();
    current_where(
        pool,
        "nhs_number",
        &numbers,
        " AND p.status IN ('active', 'completed')",
    )
    .await
}

/// The page cache of the connection that writes an import batch, in KiB (SQLite's default is
/// 2,000): the resource index grows by random keys, and a small cache spills and rereads it.
const IMPORT_CACHE_KIB: i64 = 262_144;
/// SQLite's default page cache, restored after the batch (the pool serves reads too).
const DEFAULT_CACHE_KIB: i64 = 2_000;

pub(super) async fn import_batch(
    pool: &SqlitePool,
    plans: &[ImportedPlan],
) -> Result<(), StoreError> {
    let mut connection = pool.acquire().await.map_err(backend)?;
    sqlx::query(&format!("PRAGMA cache_size = -{IMPORT_CACHE_KIB}"))
        .execute(&mut *connection)
        .await
        .map_err(backend)?;
    let written = write_import(&mut connection, plans).await;
    sqlx::query(&format!("PRAGMA cache_size = -{DEFAULT_CACHE_KIB}"))
        .execute(&mut *connection)
        .await
        .map_err(backend)?;
    written
}

async fn write_import(
    connection: &mut sqlx::pool::PoolConnection<Sqlite>,
    plans: &[ImportedPlan],
) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let mut tx = connection.begin().await.map_err(backend)?;
    for plan in plans {
        let (Some(expected), Some((last, _))) = (plan.stored_version, plan.versions.last()) else {
            continue;
        };
        let moved = sqlx::query(
            "UPDATE plans SET version = ?, status = ?, last_updated = ? WHERE id = ? AND version = ?",
        )
        .bind(i64::from(last.version))
        .bind(last.status.as_str())
        .bind(timestamp(&last.last_updated))
        .bind(last.id.to_string())
        .bind(i64::from(expected))
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if moved != 1 {
            return Err(StoreError::Backend(format!(
                "plan {} moved on during the import",
                last.id
            )));
        }
    }
    let created: Vec<(&PlanRecord, &PlanRecord)> = plans
        .iter()
        .filter(|p| p.stored_version.is_none())
        .filter_map(|p| Some((&p.versions.first()?.0, &p.versions.last()?.0)))
        .collect();
    for chunk in created.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO plans (id, nhs_number, status, version, created, last_updated) ",
        );
        insert.push_values(chunk, |mut row, (first, last)| {
            row.push_bind(last.id.to_string())
                .push_bind(last.plan.person.nhs_number.as_str())
                .push_bind(last.status.as_str())
                .push_bind(i64::from(last.version))
                .push_bind(timestamp(&first.created))
                .push_bind(timestamp(&last.last_updated));
        });
        insert.build().execute(&mut *tx).await.map_err(backend)?;
    }
    let versions: Vec<(&PlanRecord, String)> = plans
        .iter()
        .flat_map(|p| p.versions.iter().map(|(record, _)| record))
        .map(|record| Ok((record, encode(record)?)))
        .collect::<Result<_, StoreError>>()?;
    for chunk in versions.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO plan_versions \
             (plan_id, version, status, last_updated, last_updated_by, document) ",
        );
        insert.push_values(chunk, |mut row, (record, document)| {
            row.push_bind(record.id.to_string())
                .push_bind(i64::from(record.version))
                .push_bind(record.status.as_str())
                .push_bind(timestamp(&record.last_updated))
                .push_bind(record.last_updated_by.as_str())
                .push_bind(document.as_str());
        });
        insert.build().execute(&mut *tx).await.map_err(backend)?;
    }
    let resources = super::first_appearances(plans);
    for chunk in resources.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO resource_index_pending \
             (resource_type, resource_id, plan_id, first_version) ",
        );
        insert.push_values(chunk, |mut row, (key, record)| {
            row.push_bind(key.resource_type)
                .push_bind(key.id.as_str())
                .push_bind(record.id.to_string())
                .push_bind(i64::from(record.version));
        });
        insert.build().execute(&mut *tx).await.map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// Moves the rows imports left in `resource_index_pending` into `resource_index`, in key order
/// (each page of the index is written once, however many rows arrive), and empties it, in one
/// transaction. A resource already indexed keeps its plan; of two rows for the same resource of
/// the same plan, the earlier version is kept (what inserting them one by one would keep).
pub(super) async fn merge_pending_index(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut connection = pool.acquire().await.map_err(backend)?;
    let pending = sqlx::query("SELECT EXISTS (SELECT 1 FROM resource_index_pending)")
        .fetch_one(&mut *connection)
        .await
        .map_err(backend)?
        .get::<bool, _>(0);
    if !pending {
        return Ok(());
    }
    // Without the foreign key check: it would look up each row's plan at a random place in
    // `plans` (ten million lookups for 1,000,000 plans, half the merge's time), and every
    // pending row was written in the same transaction as its plan, which is never deleted.
    // Two sorter threads for the ORDER BY.
    let settings = |cache: i64, checked: bool, threads: u8| {
        [
            format!("PRAGMA cache_size = -{cache}"),
            format!(
                "PRAGMA foreign_keys = {}",
                if checked { "ON" } else { "OFF" }
            ),
            format!("PRAGMA threads = {threads}"),
        ]
    };
    for pragma in settings(IMPORT_CACHE_KIB, false, 2) {
        if let Err(error) = sqlx::query(&pragma).execute(&mut *connection).await {
            connection.close_on_drop();
            return Err(backend(error));
        }
    }
    let merged = merge(&mut connection).await;
    for pragma in settings(DEFAULT_CACHE_KIB, true, 0) {
        if let Err(error) = sqlx::query(&pragma).execute(&mut *connection).await {
            // Never give the pool back a connection that skips foreign key checks.
            connection.close_on_drop();
            return Err(backend(error));
        }
    }
    merged?;
    // The merge wrote the whole index to the write-ahead log (about 1 GB for 1,000,000 plans);
    // copy it into the database now, while nothing else waits, rather than leave a server to
    // search that log on every read until its own checkpoint copies it during requests. Best
    // effort: the merged rows are committed either way.
    if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_all(&mut *connection)
        .await
    {
        tracing::warn!(%error, "checkpoint after the import's index merge failed");
    }
    Ok(())
}

async fn merge(connection: &mut sqlx::pool::PoolConnection<Sqlite>) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let mut tx = connection.begin().await.map_err(backend)?;
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
    sqlx::query(
        "INSERT INTO resource_index (resource_type, resource_id, plan_id, first_version) \
         SELECT resource_type, resource_id, plan_id, first_version FROM resource_index_pending \
         WHERE true ORDER BY resource_type, resource_id, first_version \
         ON CONFLICT (resource_type, resource_id) DO UPDATE SET first_version = excluded.first_version \
         WHERE excluded.plan_id = resource_index.plan_id \
         AND excluded.first_version < resource_index.first_version",
    )
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query("DELETE FROM resource_index_pending")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)
}

/// An update waiting in the group commit queue, with where to send its answer.
pub(super) struct QueuedUpdate {
    pub expected_version: u32,
    pub record: PlanRecord,
    pub document: String,
    pub resources: Vec<ResourceKey>,
    pub audit: Option<AuditRecord>,
    pub done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// Writes updates of distinct plans in one transaction, a few statements for the whole group:
/// one `UPDATE … FROM (VALUES …)` moves every plan still at its expected version (H4, as the
/// single update does) and says which moved; their versions, new resource index rows and audit
/// records follow as multi-row inserts. Each update's answer is what it would have had alone
/// (done, a version conflict, not found). `Err` if the group could not be written (nothing
/// was): the caller then writes the updates one by one, which say which of them failed.
pub(super) async fn update_group(
    pool: &SqlitePool,
    group: &[QueuedUpdate],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut answers = Vec::with_capacity(group.len());
    let mut tx = pool.begin().await.map_err(backend)?;
    for chunk in group.chunks(ROWS_PER_INSERT) {
        answers.extend(update_chunk(&mut tx, chunk).await?);
    }
    tx.commit().await.map_err(backend)?;
    Ok(answers)
}

async fn update_chunk(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    chunk: &[QueuedUpdate],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut moving = QueryBuilder::<Sqlite>::new(
        "UPDATE plans SET version = moved.column3, status = moved.column4, \
         last_updated = moved.column5 FROM (",
    );
    moving.push_values(chunk, |mut row, update| {
        let record = &update.record;
        row.push_bind(record.id.to_string())
            .push_bind(i64::from(update.expected_version))
            .push_bind(i64::from(record.version))
            .push_bind(record.status.as_str())
            .push_bind(timestamp(&record.last_updated));
    });
    moving.push(
        ") AS moved WHERE plans.id = moved.column1 AND plans.version = moved.column2 \
         RETURNING plans.id",
    );
    let moved: std::collections::HashSet<String> = moving
        .build()
        .fetch_all(&mut **tx)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    let (done, stayed): (Vec<&QueuedUpdate>, Vec<&QueuedUpdate>) = chunk
        .iter()
        .partition(|u| moved.contains(&u.record.id.to_string()));
    if !done.is_empty() {
        let mut versions = QueryBuilder::<Sqlite>::new(
            "INSERT INTO plan_versions \
             (plan_id, version, status, last_updated, last_updated_by, document) ",
        );
        versions.push_values(&done, |mut row, update| {
            let record = &update.record;
            row.push_bind(record.id.to_string())
                .push_bind(i64::from(record.version))
                .push_bind(record.status.as_str())
                .push_bind(timestamp(&record.last_updated))
                .push_bind(record.last_updated_by.as_str())
                .push_bind(update.document.as_str());
        });
        versions.build().execute(&mut **tx).await.map_err(backend)?;
    }
    let keys: Vec<(&ResourceKey, &PlanRecord)> = done
        .iter()
        .flat_map(|u| u.resources.iter().map(move |key| (key, &u.record)))
        .collect();
    for part in keys.chunks(ROWS_PER_INSERT) {
        let mut index = QueryBuilder::<Sqlite>::new(
            "INSERT INTO resource_index (resource_type, resource_id, plan_id, first_version) ",
        );
        index.push_values(part, |mut row, (key, record)| {
            row.push_bind(key.resource_type)
                .push_bind(key.id.as_str())
                .push_bind(record.id.to_string())
                .push_bind(i64::from(record.version));
        });
        index.push(" ON CONFLICT (resource_type, resource_id) DO NOTHING");
        index.build().execute(&mut **tx).await.map_err(backend)?;
    }
    let audits: Vec<AuditRecord> = done.iter().filter_map(|u| u.audit.clone()).collect();
    if !audits.is_empty() {
        insert_audits(tx, &audits).await?;
    }
    let mut current = std::collections::HashMap::new();
    if !stayed.is_empty() {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id, version FROM plans WHERE id IN (");
        let mut list = query.separated(", ");
        for update in &stayed {
            list.push_bind(update.record.id.to_string());
        }
        query.push(")");
        for row in query.build().fetch_all(&mut **tx).await.map_err(backend)? {
            current.insert(row.get::<String, _>(0), row.get::<i64, _>(1));
        }
    }
    Ok(chunk
        .iter()
        .map(|update| {
            let id = update.record.id.to_string();
            if moved.contains(&id) {
                Ok(())
            } else {
                match current.get(&id) {
                    None => Err(StoreError::NotFound),
                    Some(version) => Err(StoreError::VersionConflict {
                        current: u32::try_from(*version).unwrap_or_default(),
                    }),
                }
            }
        })
        .collect())
}

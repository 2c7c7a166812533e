//! The PostgreSQL store's batch work: many rows per statement and one transaction for many
//! records (audit group commit, bulk import), so neither pays a statement and a commit per row.

use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::postgres::{backend, version_i32};
use super::{decode, encode, timestamp, ImportedPlan, StoreError, ROWS_PER_INSERT};
use crate::audit::{AuditRecord, AuditedPatient};
use crate::domain::{NhsNumber, PlanId, PlanRecord};

/// Writes `records` with one multi-row `INSERT` per table and chunk.
pub(super) async fn insert_audits(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    for chunk in records.chunks(ROWS_PER_INSERT) {
        let documents = chunk
            .iter()
            .map(crate::audit::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let mut events = QueryBuilder::<Postgres>::new(
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
            let mut rows = QueryBuilder::<Postgres>::new(
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
async fn current_where<T>(
    pool: &PgPool,
    column: &str,
    values: &[T],
    filter: &str,
) -> Result<Vec<PlanRecord>, StoreError>
where
    T: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Clone + Send + 'static,
{
    let mut found = Vec::new();
    for chunk in values.chunks(ROWS_PER_INSERT) {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT v.document FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version WHERE p.",
        );
        query.push(column).push(" IN (");
        let mut list = query.separated(", ");
        for value in chunk {
            list.push_bind(value.clone());
        }
        query.push(")").push(filter);
        let rows = query.build().fetch_all(pool).await.map_err(backend)?;
        for row in rows {
            found.push(decode(row.get::<&str, _>(0))?);
        }
    }
    Ok(found)
}

pub(super) async fn get_many(pool: &PgPool, ids: &[PlanId]) -> Result<Vec<PlanRecord>, StoreError> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    current_where(pool, "id", &ids, "").await
}

pub(super) async fn find_current_many(
    pool: &PgPool,
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

pub(super) async fn import_batch(pool: &PgPool, plans: &[ImportedPlan]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    for plan in plans {
        let (Some(expected), Some((last, _))) = (plan.stored_version, plan.versions.last()) else {
            continue;
        };
        let moved = sqlx::query(
            "UPDATE plans SET version = $1, status = $2, last_updated = $3 \
             WHERE id = $4 AND version = $5",
        )
        .bind(version_i32(last.version))
        .bind(last.status.as_str())
        .bind(last.last_updated)
        .bind(last.id.as_uuid())
        .bind(version_i32(expected))
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
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO plans (id, nhs_number, status, version, created, last_updated) ",
        );
        insert.push_values(chunk, |mut row, (first, last)| {
            row.push_bind(last.id.as_uuid())
                .push_bind(last.plan.person.nhs_number.as_str())
                .push_bind(last.status.as_str())
                .push_bind(version_i32(last.version))
                .push_bind(first.created)
                .push_bind(last.last_updated);
        });
        insert.build().execute(&mut *tx).await.map_err(backend)?;
    }
    let versions: Vec<(&PlanRecord, String)> = plans
        .iter()
        .flat_map(|p| p.versions.iter().map(|(record, _)| record))
        .map(|record| Ok((record, encode(record)?)))
        .collect::<Result<_, StoreError>>()?;
    for chunk in versions.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO plan_versions \
             (plan_id, version, status, last_updated, last_updated_by, document) ",
        );
        insert.push_values(chunk, |mut row, (record, document)| {
            row.push_bind(record.id.as_uuid())
                .push_bind(version_i32(record.version))
                .push_bind(record.status.as_str())
                .push_bind(record.last_updated)
                .push_bind(record.last_updated_by.as_str())
                .push_bind(document.as_str());
        });
        insert.build().execute(&mut *tx).await.map_err(backend)?;
    }
    let resources = super::first_appearances(plans);
    for chunk in resources.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO resource_index (resource_type, resource_id, plan_id, first_version) ",
        );
        insert.push_values(chunk, |mut row, (key, record)| {
            row.push_bind(key.resource_type)
                .push_bind(key.id.as_str())
                .push_bind(record.id.as_uuid())
                .push_bind(version_i32(record.version));
        });
        insert.push(" ON CONFLICT (resource_type, resource_id) DO NOTHING");
        insert.build().execute(&mut *tx).await.map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// Ends an import: gathers the planner's statistics of the tables it filled (`ANALYZE`), as
/// PostgreSQL advises after a bulk load. Without them the planner guessed thousands of plans an
/// NHS number and ran a search by NHS number as a parallel bitmap scan: measured on 1,000,000
/// imported plans, 8.2 ms a query (0.06 ms with them; the `ANALYZE` took 0.5 to 0.9 s), and
/// `Consent?patient:identifier=` at 782 a second against 3,013 on 10,000 plans (BENCHMARKS.md,
/// eighteenth round). Autovacuum would gather them in its own time, and never where it is
/// switched off.
pub(super) async fn finish_import(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("ANALYZE plans, plan_versions, resource_index")
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

//! Request audit records: in a database file of their own, written on a connection and a
//! thread of their own.
//!
//! Every request's audit record is committed before its answer leaves (the group commit of
//! [`crate::audit::AuditWriter`]), so this write is on every request's path. Through the pool
//! each batch took a pool acquire and four statements, each handed to the connection's sqlx
//! thread and its result handed back (two wake-ups a statement), and, as the pool's
//! connections take turns, a page cache emptied by the other connections' commits: a profile
//! of the summary scenario had the pool's threads on a fifth of the machine, a third of that
//! reading back pages. Here one long-lived connection, on one thread, writes every batch with
//! its two statements prepared once, and that thread gathers the batches itself: each request
//! hands its record straight to it and is answered from it (one hand-off each way).
//!
//! The records go to a file beside the plans' (`plans.db` → `plans.audit.db`, see
//! [`audit_path`]). SQLite empties a connection's page cache whenever another connection has
//! committed to its file, so while request audit records shared the plans' file every read
//! (one commit a few milliseconds under load) found its cache empty and read a dozen pages
//! back from the operating system: a fifth of the server at 1,000,000 plans. Their checkpoints
//! and log truncations were the plans file's too. In their own file they touch no reader of
//! plans. Their writer still takes the plans store's write lock, in turn with plan writers
//! (see [`AuditFile::open`] for why).
//!
//! Audit records of writes stay in the plans file, in the write's own transaction (all or
//! nothing), as do records written before the audit file existed: searches read both files
//! (see [`super::SqliteStore`]'s `search_audit`). An in-memory database keeps everything in
//! its one connection. The thread ends when the last clone of the store is dropped.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::oneshot;

use super::sqlite_checkpoint::{Checkpointer, FILE_LIMIT};
use super::{timestamp, StoreError, StoreOptions};
use crate::audit::{serve_jobs, AuditJob, AuditPort, AuditRecord};

const INSERT_EVENT: &str = "INSERT INTO audit_events \
     (id, recorded, client_id, end_user, entity_type, entity_id, document) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const INSERT_PATIENT: &str =
    "INSERT INTO audit_event_patients (audit_id, patient_id, nhs_number) VALUES (?1, ?2, ?3)";

/// How long a batch waits for another process's write to finish.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// The audit-writing thread of one SQLite file; dropping it stops the thread. It takes each
/// request's record straight from the [`crate::audit::AuditWriter`] and gathers them into
/// group commits itself ([`crate::audit::serve_jobs`]).
pub(super) struct AuditAppender {
    jobs: AuditPort,
}

fn failed(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Backend(error.to_string()),
    }
}

/// A connection set as the pool's are (`checkpoints`: whether it may checkpoint in a commit).
fn open(path: &Path, checkpoints: bool) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_WAIT)?;
    connection.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )?;
    if !checkpoints {
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        connection.pragma_update(None, "journal_size_limit", FILE_LIMIT)?;
    }
    Ok(connection)
}

/// Writes `records` in one transaction, holding `writes` (the store's write lock).
fn write(
    connection: &mut Connection,
    records: &[AuditRecord],
    writes: &tokio::sync::Mutex<()>,
) -> Result<(), StoreError> {
    let documents = records
        .iter()
        .map(crate::audit::encode)
        .collect::<Result<Vec<_>, _>>()?;
    let _writing = writes.blocking_lock();
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    {
        let mut events = transaction.prepare_cached(INSERT_EVENT).map_err(failed)?;
        let mut patients = transaction.prepare_cached(INSERT_PATIENT).map_err(failed)?;
        for (record, document) in records.iter().zip(&documents) {
            let id = record.id.to_string();
            events
                .execute(params![
                    id,
                    timestamp(&record.recorded),
                    record.client_id,
                    record.end_user,
                    record.resource_type,
                    record.resource_id,
                    document,
                ])
                .map_err(failed)?;
            for patient in &record.patients {
                patients
                    .execute(params![id, patient.patient_id, patient.nhs_number])
                    .map_err(failed)?;
            }
        }
    }
    transaction.commit().map_err(failed)
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the audit thread has stopped".into())
}

impl AuditAppender {
    /// Starts the thread on the database at `path` (created and migrated), whose writers take
    /// `writes`; `None` if its connection or thread could not be started.
    pub(super) fn start(
        path: &Path,
        checkpoints: bool,
        writes: Arc<tokio::sync::Mutex<()>>,
    ) -> Option<Self> {
        let mut connection = open(path, checkpoints).ok()?;
        let (jobs, queue) = mpsc::channel::<AuditJob>();
        super::background::spawn("sqlite-audit", move || {
            // Ends when every sender (the store's clones, the audit writer's port) is gone.
            serve_jobs(&queue, |records| write(&mut connection, records, &writes));
        })
        .ok()?;
        Some(Self { jobs })
    }

    /// Stores `records` in one transaction: all of them or none.
    pub(super) async fn append(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let (done, written) = oneshot::channel();
        self.jobs
            .send(AuditJob::Batch(records.to_vec(), done))
            .map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?
    }

    /// Where the thread takes single records to commit in groups.
    pub(super) fn port(&self) -> AuditPort {
        self.jobs.clone()
    }
}

/// The audit database beside the plans database at `plans`: `plans.db` → `plans.audit.db`
/// (`plans` → `plans.audit`).
pub(crate) fn audit_path(plans: &Path) -> PathBuf {
    let mut name = plans.file_stem().unwrap_or_default().to_os_string();
    name.push(".audit");
    if let Some(extension) = plans.extension() {
        name.push(".");
        name.push(extension);
    }
    plans.with_file_name(name)
}

/// The request audit trail of a file database: its file (created and migrated on open), a
/// small pool for searches, the writing thread and the file's checkpointer.
pub(super) struct AuditFile {
    /// For searches and reads by id.
    pub(super) pool: SqlitePool,
    appender: AuditAppender,
    checkpointer: Option<Arc<Checkpointer>>,
}

impl AuditFile {
    /// Opens (creating and migrating if needed) the audit database beside the plans database at
    /// `plans`, whose writers take `writes`. Without its audit trail the service must not serve:
    /// any failure is an error.
    ///
    /// The audit writer and this file's checkpointer take the plans store's write lock, as when
    /// the records shared its file, though SQLite would let the two files be written at once:
    /// measured (10,000 plans, 16 clients updating), a lock of the audit file's own made plan
    /// updates slower (1,398 a second, p99 25.6 ms, against 1,821 and 14.2), because updates
    /// then committed as soon as each came, in smaller groups, instead of gathering while an
    /// audit batch was written.
    pub(super) async fn open(
        plans: &Path,
        settings: &StoreOptions,
        writes: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, StoreError> {
        let path = audit_path(plans);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_WAIT);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.pool_size.clamp(1, 4))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(super::sqlite::backend)?;
        sqlx::migrate!("migrations/sqlite-audit")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("audit database migration failed: {e}")))?;
        let checkpointer =
            Checkpointer::start("sqlite-audit-checkpoint", &path, writes.clone()).map(Arc::new);
        let appender = AuditAppender::start(&path, checkpointer.is_none(), writes)
            .ok_or_else(|| StoreError::Unavailable("the audit thread could not start".into()))?;
        Ok(Self {
            pool,
            appender,
            checkpointer,
        })
    }

    /// The file's checkpoint thread, if it has one.
    pub(super) fn checkpointer(&self) -> Option<&Arc<Checkpointer>> {
        self.checkpointer.as_ref()
    }

    /// Stores `records` in one transaction: all of them or none.
    pub(super) async fn append(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        self.appender.append(records).await
    }

    /// Where the audit writer hands this file's thread each request's record.
    pub(super) fn port(&self) -> AuditPort {
        self.appender.port()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    const SCHEMA: &str = "CREATE TABLE audit_events (id TEXT PRIMARY KEY, recorded TEXT, \
         client_id TEXT, end_user TEXT, entity_type TEXT, entity_id TEXT, document TEXT); \
         CREATE TABLE audit_event_patients (audit_id TEXT NOT NULL REFERENCES audit_events (id), \
         patient_id TEXT, nhs_number TEXT, PRIMARY KEY (audit_id, patient_id));";

    fn record(patients: &[(&str, &str)]) -> AuditRecord {
        crate::audit::summary_record("r-1", patients)
    }

    fn database(dir: &Path) -> (std::path::PathBuf, Connection) {
        let path = dir.join("audit.db");
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(&format!("PRAGMA journal_mode = WAL; {SCHEMA}"))
            .unwrap();
        (path, connection)
    }

    fn count(connection: &Connection, table: &str) -> i64 {
        connection
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_batch_is_stored_whole_with_its_patients_and_readable_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        let appender = AuditAppender::start(&path, false, writes).unwrap();
        let first = record(&[("p-1", "9990000018")]);
        let second = record(&[("p-2", "9990000026"), ("p-3", "9990000034")]);
        appender
            .append(&[first.clone(), second.clone()])
            .await
            .unwrap();
        assert_eq!(count(&reader, "audit_events"), 2);
        assert_eq!(count(&reader, "audit_event_patients"), 3);
        let document: String = reader
            .query_row(
                "SELECT document FROM audit_events WHERE id = ?1",
                [second.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(crate::audit::decode(&document).unwrap(), second);
        let numbers: Vec<String> = reader
            .prepare("SELECT nhs_number FROM audit_event_patients WHERE audit_id = ?1 ORDER BY 1")
            .unwrap()
            .query_map([second.id.to_string()], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(numbers, ["9990000026", "9990000034"]);
        // The connection does not checkpoint in its commits: the log keeps the frames.
        let frames: i64 = reader
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap();
        assert!(frames > 0);
    }

    #[tokio::test]
    async fn a_batch_with_a_bad_record_stores_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let appender =
            AuditAppender::start(&path, true, Arc::new(tokio::sync::Mutex::new(()))).unwrap();
        let stored = record(&[("p-1", "9990000018")]);
        appender
            .append(std::slice::from_ref(&stored))
            .await
            .unwrap();
        // The second record reuses the first's id: the whole batch is refused.
        let fresh = record(&[("p-2", "9990000026")]);
        let error = appender.append(&[fresh, stored.clone()]).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Backend(m) if m.contains("UNIQUE")),
            "{error:?}"
        );
        assert_eq!(count(&reader, "audit_events"), 1);
        assert_eq!(count(&reader, "audit_event_patients"), 1);
    }

    #[tokio::test]
    async fn a_batch_waits_for_the_stores_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        let appender = AuditAppender::start(&path, true, writes.clone()).unwrap();
        let held = writes.lock().await;
        let one = record(&[("p-1", "9990000018")]);
        let append = appender.append(std::slice::from_ref(&one));
        tokio::pin!(append);
        // Polled once: the job is with the thread, which cannot commit while the lock is held.
        assert!(append.as_mut().now_or_never().is_none());
        assert_eq!(count(&reader, "audit_events"), 0);
        drop(held);
        append.await.unwrap();
        assert_eq!(count(&reader, "audit_events"), 1);
    }

    #[test]
    fn the_audit_file_is_named_after_the_plans_file_beside_it() {
        assert_eq!(
            audit_path(Path::new("/var/lib/acp-fhir/acp-fhir.db")),
            Path::new("/var/lib/acp-fhir/acp-fhir.audit.db")
        );
        assert_eq!(
            audit_path(Path::new("data/plans.sqlite3")),
            Path::new("data/plans.audit.sqlite3")
        );
        assert_eq!(audit_path(Path::new("plans")), Path::new("plans.audit"));
    }

    #[tokio::test]
    async fn an_audit_file_that_cannot_be_made_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let plans = dir.path().join("plans.db");
        // A directory where the audit file should be.
        std::fs::create_dir(audit_path(&plans)).unwrap();
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        assert!(AuditFile::open(&plans, &StoreOptions::default(), writes)
            .await
            .is_err());
    }

    #[test]
    fn no_thread_is_started_on_a_database_that_cannot_be_opened() {
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        assert!(
            AuditAppender::start(Path::new("/nonexistent-acp-dir/a.db"), true, writes).is_none()
        );
    }
}

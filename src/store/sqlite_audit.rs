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
//! its statement prepared once, and that thread gathers the batches itself: each request
//! hands its record straight to it and is answered from it (one hand-off each way). It
//! commits the records to a staging table with no index; a second thread moves them into the
//! indexed tables in batches (see [`super::sqlite_audit_index`]).
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

use super::sqlite_audit_index::AuditIndexer;
use super::sqlite_checkpoint::{Checkpointer, FILE_LIMIT};
use super::{StoreError, StoreOptions};
use crate::audit::{serve_jobs, AuditJob, AuditPort, AuditRecord};

/// Each request's record goes to the staging table; [`super::sqlite_audit_index`] moves it
/// into the indexed tables.
const INSERT_STAGED: &str = "INSERT INTO audit_staging (id, document) VALUES (?1, ?2)";

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
        let mut staged = transaction.prepare_cached(INSERT_STAGED).map_err(failed)?;
        for (record, document) in records.iter().zip(&documents) {
            staged
                .execute(params![record.id.to_string(), document])
                .map_err(failed)?;
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
        std::thread::Builder::new()
            .name("sqlite-audit".into())
            .spawn(move || {
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
/// small pool for searches, the writing thread, the thread indexing what it wrote, and the
/// file's checkpointer.
pub(super) struct AuditFile {
    /// For searches and reads by id, after [`AuditFile::flush`].
    pub(super) pool: SqlitePool,
    appender: AuditAppender,
    indexer: AuditIndexer,
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
        let indexer = AuditIndexer::start(&path, writes.clone())?;
        let appender = AuditAppender::start(&path, checkpointer.is_none(), writes)
            .ok_or_else(|| StoreError::Unavailable("the audit thread could not start".into()))?;
        Ok(Self {
            pool,
            appender,
            indexer,
            checkpointer,
        })
    }

    /// Returns once every record committed before the call is in the indexed tables, which
    /// searches read.
    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        self.indexer.flush().await
    }

    /// Moves what is staged and stops the indexing thread (blocking), before the file's log is
    /// emptied on closing.
    pub(super) fn stop_indexing(&self) {
        self.indexer.stop();
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
pub(super) mod tests {
    use super::*;
    use futures_util::FutureExt;

    /// The request audit file's schema: its migrations, in order.
    pub(in crate::store) const SCHEMA: [&str; 4] = [
        include_str!("../../migrations/sqlite-audit/0001_audit.sql"),
        include_str!("../../migrations/sqlite-audit/0002_patients_by_nhs_number_only.sql"),
        include_str!("../../migrations/sqlite-audit/0003_user_and_entity_indexes_where_named.sql"),
        include_str!("../../migrations/sqlite-audit/0004_staging.sql"),
    ];

    fn record(patients: &[(&str, &str)]) -> AuditRecord {
        crate::audit::summary_record("r-1", patients)
    }

    /// A new audit database in `dir`, migrated, and a connection reading it.
    pub(in crate::store) fn database(dir: &Path) -> (std::path::PathBuf, Connection) {
        let path = dir.join("audit.db");
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch("PRAGMA journal_mode = WAL;")
            .unwrap();
        for migration in SCHEMA {
            connection.execute_batch(migration).unwrap();
        }
        // An empty log: what it holds from here on was written by the test.
        connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        (path, connection)
    }

    pub(in crate::store) fn count(connection: &Connection, table: &str) -> i64 {
        connection
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_batch_is_staged_whole_in_order_and_readable_as_written_without_touching_the_indexes()
    {
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
        let staged: Vec<(String, String)> = reader
            .prepare("SELECT id, document FROM audit_staging ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(staged.len(), 2);
        for ((id, document), written) in staged.iter().zip([&first, &second]) {
            assert_eq!(id, &written.id.to_string());
            assert_eq!(&crate::audit::decode(document).unwrap(), written);
        }
        // The request's commit wrote the staging table alone.
        assert_eq!(count(&reader, "audit_events"), 0);
        assert_eq!(count(&reader, "audit_event_patients"), 0);
        // The connection does not checkpoint in its commits: the log keeps the frames.
        let frames: i64 = reader
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap();
        assert!(frames > 0);
    }

    /// Log frames (pages) written since the log was last started, read without starting it.
    fn log_frames(connection: &Connection) -> i64 {
        connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    }

    /// Why the records are staged: a request's commit writes the last page of one table, not
    /// a page of each of six B-trees. Counted in log pages, which is what the disk is written
    /// with; fails if the staging table gains an index, or if requests commit to the indexed
    /// tables again.
    #[tokio::test]
    async fn a_requests_commit_writes_about_one_page_of_log_a_quarter_or_less_of_a_commit_into_the_indexes(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let appender =
            AuditAppender::start(&path, false, Arc::new(tokio::sync::Mutex::new(()))).unwrap();
        let numbers = ["9990000018", "9990000026", "9990000034", "9990000042"];
        let commits = 400;
        for i in 0..commits {
            let one = record(&[(&format!("p-{i}"), numbers[i % numbers.len()])]);
            appender.append(std::slice::from_ref(&one)).await.unwrap();
        }
        let staged = log_frames(&reader);
        let commits = i64::try_from(commits).unwrap();
        assert!(
            staged <= 2 * commits,
            "{staged} pages for {commits} commits"
        );
        // The same records committed one by one into the indexed tables, as before staging.
        let other = tempfile::tempdir().unwrap();
        let (_, mut writer) = database(other.path());
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .unwrap();
        for i in 0..commits {
            let index = usize::try_from(i).unwrap() % numbers.len();
            let one = record(&[(&format!("p-{i}"), numbers[index])]);
            let transaction = writer.transaction().unwrap();
            transaction
                .execute(
                    "INSERT INTO audit_events (id, recorded, client_id, entity_type, document) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        one.id.to_string(),
                        one.recorded.to_rfc3339(),
                        one.client_id,
                        one.resource_type,
                        crate::audit::encode(&one).unwrap()
                    ],
                )
                .unwrap();
            transaction
                .execute(
                    "INSERT INTO audit_event_patients VALUES (?1, ?2, ?3)",
                    params![one.id.to_string(), format!("p-{i}"), numbers[index]],
                )
                .unwrap();
            transaction.commit().unwrap();
        }
        let indexed = log_frames(&writer);
        // Measured here: 499 pages staged, 2,902 into the indexes, for 400 commits.
        assert!(indexed >= 4 * staged, "{indexed} against {staged}");
    }

    #[tokio::test]
    async fn a_batch_with_a_refused_record_stores_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let appender =
            AuditAppender::start(&path, true, Arc::new(tokio::sync::Mutex::new(()))).unwrap();
        let stored = record(&[("p-1", "9990000018")]);
        appender
            .append(std::slice::from_ref(&stored))
            .await
            .unwrap();
        let fresh = record(&[("p-2", "9990000026")]);
        let refused = record(&[("p-3", "9990000034")]);
        reader
            .execute_batch(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_staging WHEN NEW.id = '{}' \
                 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
                refused.id
            ))
            .unwrap();
        // The second record is refused: the whole batch is.
        let error = appender.append(&[fresh, refused]).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Backend(m) if m.contains("refused for the test")),
            "{error:?}"
        );
        assert_eq!(count(&reader, "audit_staging"), 1);
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
        assert_eq!(count(&reader, "audit_staging"), 0);
        drop(held);
        append.await.unwrap();
        assert_eq!(count(&reader, "audit_staging"), 1);
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

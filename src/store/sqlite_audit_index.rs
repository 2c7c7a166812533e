//! Moves request audit records from the staging table, where each request commits its own,
//! into the indexed tables searches read, in batches, on a thread of its own.
//!
//! Every request waits for its audit record's commit ([`super::sqlite_audit`]). Committed
//! straight into the indexed tables, each group commit (one or two records under load)
//! rewrote a page of six B-trees: 27 KB of log a summary, the whole of the server's disk
//! writes, and the syncs of that log at each checkpoint made the tail of the latency
//! (BENCHMARKS.md, thirteenth and fourteenth rounds). A request now commits one row to
//! `audit_staging`, a table with no index (migrations/sqlite-audit/0004_staging.sql), and
//! this thread moves the staged records, [`CHUNK`] per transaction, every [`INTERVAL`]: each
//! page of the indexed tables is then written once for all the records a batch puts on it,
//! except the NHS-number index's, where each record lands at a random place.
//!
//! The move is one transaction per chunk: the records go into the indexed tables and out of
//! staging together, and the table's trigger refuses to let a record out of staging unless
//! the identical record is in `audit_events`. A move waits for the store's write lock, as the
//! request audit writer does; the pages it is about to write in the NHS-number index are read
//! first, outside the lock, so that the transaction holding it does not wait on the disk.
//!
//! Searches and reads of the trail first ask for everything staged to be moved
//! ([`AuditIndexer::flush`]), so they find every record committed before they began. A record
//! that cannot be indexed (its id is already in the trail: only a fault could make one, as ids
//! are version 7 UUIDs made by this process) stays in staging, is logged by id, and is left
//! out of later moves; the others move on.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::{timestamp, StoreError};
use crate::audit::AuditRecord;

/// How often staged records are moved: at 2,500 summaries a second, about 600 a move.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);

/// Most records one move's transaction carries, so that the write lock is held for a few
/// milliseconds at most while requests wait to commit their records.
pub(super) const CHUNK: usize = 256;

const INSERT_EVENT: &str = "INSERT INTO audit_events \
     (id, recorded, client_id, end_user, entity_type, entity_id, document) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const INSERT_PATIENT: &str =
    "INSERT INTO audit_event_patients (audit_id, patient_id, nhs_number) VALUES (?1, ?2, ?3)";

const READ_STAGED: &str = "SELECT seq, id, document FROM audit_staging ORDER BY seq LIMIT ?1";

const DELETE_STAGED: &str = "DELETE FROM audit_staging WHERE seq = ?1";

const TOUCH_NHS_NUMBER: &str = "SELECT 1 FROM audit_event_patients WHERE nhs_number = ?1 LIMIT 1";

/// What the thread is asked to do besides its moves every [`INTERVAL`].
enum Job {
    /// Move everything staged, then answer.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// A staged record, as read from the table.
struct Staged {
    seq: i64,
    id: String,
    document: String,
}

/// The thread's state between moves.
pub(super) struct Mover {
    connection: Connection,
    writes: Arc<tokio::sync::Mutex<()>>,
    /// Staged records that could not be indexed, by `seq`: left where they are.
    stuck: HashSet<i64>,
}

fn failed(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("moving staged audit records: {error}"))
}

fn is_constraint(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Inserts `record` (stored as `document`) into the indexed tables.
fn insert(
    transaction: &rusqlite::Transaction<'_>,
    record: &AuditRecord,
    document: &str,
) -> Result<(), rusqlite::Error> {
    let id = record.id.to_string();
    transaction.prepare_cached(INSERT_EVENT)?.execute(params![
        id,
        timestamp(&record.recorded),
        record.client_id,
        record.end_user,
        record.resource_type,
        record.resource_id,
        document,
    ])?;
    let mut patients = transaction.prepare_cached(INSERT_PATIENT)?;
    for patient in &record.patients {
        patients.execute(params![id, patient.patient_id, patient.nhs_number])?;
    }
    Ok(())
}

impl Mover {
    /// A mover on the audit database at `path`, whose writers take `writes`.
    pub(super) fn open(
        path: &Path,
        writes: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, rusqlite::Error> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
        )?;
        // The file's checkpoint thread checkpoints; a move's commit never does.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        connection.pragma_update(
            None,
            "journal_size_limit",
            super::sqlite_checkpoint::FILE_LIMIT,
        )?;
        Ok(Self {
            connection,
            writes,
            stuck: HashSet::new(),
        })
    }

    /// The oldest staged records, at most [`CHUNK`], leaving out those that could not be
    /// indexed.
    fn read(&self) -> Result<Vec<Staged>, rusqlite::Error> {
        let limit = i64::try_from(CHUNK + self.stuck.len()).unwrap_or(i64::MAX);
        let mut statement = self.connection.prepare_cached(READ_STAGED)?;
        let rows = statement.query_map([limit], |row| {
            Ok(Staged {
                seq: row.get(0)?,
                id: row.get(1)?,
                document: row.get(2)?,
            })
        })?;
        let mut staged = Vec::with_capacity(CHUNK);
        for row in rows {
            let row = row?;
            if !self.stuck.contains(&row.seq) {
                staged.push(row);
            }
            if staged.len() == CHUNK {
                break;
            }
        }
        Ok(staged)
    }

    /// Reads the NHS-number index's pages where `records` will go, outside the write lock, so
    /// that the move's transaction finds them in memory. Best effort: a failure only means
    /// the transaction reads them itself.
    fn touch(&self, records: &[(Staged, AuditRecord)]) {
        let Ok(mut statement) = self.connection.prepare_cached(TOUCH_NHS_NUMBER) else {
            return;
        };
        for (_, record) in records {
            for patient in &record.patients {
                let _ = statement.exists([patient.nhs_number.as_str()]);
            }
        }
    }

    /// Moves the staged records in chunks until fewer than a chunk's worth are left to move,
    /// and returns how many it moved.
    pub(super) fn move_all(&mut self) -> Result<usize, StoreError> {
        let mut moved = 0;
        loop {
            let staged = self.read().map_err(failed)?;
            let full = staged.len() == CHUNK;
            if staged.is_empty() {
                return Ok(moved);
            }
            let mut records = Vec::with_capacity(staged.len());
            for row in staged {
                match crate::audit::decode(&row.document) {
                    Ok(record) => records.push((row, record)),
                    Err(_) => self.keep(row.seq, &row.id, "its document is unreadable"),
                }
            }
            self.touch(&records);
            moved += self.move_chunk(&records)?;
            if !full {
                return Ok(moved);
            }
        }
    }

    fn keep(&mut self, seq: i64, id: &str, why: &str) {
        tracing::error!(
            audit_id = id,
            seq,
            why,
            "a staged request audit record could not be indexed; it stays in the staging table"
        );
        self.stuck.insert(seq);
    }

    /// Moves `records` in one transaction holding the store's write lock; a record the
    /// indexed tables refuse is kept in staging, and the others move.
    fn move_chunk(&mut self, records: &[(Staged, AuditRecord)]) -> Result<usize, StoreError> {
        let mut refused = Vec::new();
        {
            let _writing = self.writes.blocking_lock();
            let transaction = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(failed)?;
            for (row, record) in records {
                transaction.execute_batch("SAVEPOINT one").map_err(failed)?;
                match insert(&transaction, record, &row.document) {
                    Ok(()) => {
                        transaction
                            .prepare_cached(DELETE_STAGED)
                            .and_then(|mut delete| delete.execute([row.seq]))
                            .map_err(failed)?;
                    }
                    Err(error) if is_constraint(&error) => {
                        transaction
                            .execute_batch("ROLLBACK TO one")
                            .map_err(failed)?;
                        refused.push((row.seq, row.id.clone()));
                    }
                    Err(error) => return Err(failed(error)),
                }
                transaction.execute_batch("RELEASE one").map_err(failed)?;
            }
            transaction.commit().map_err(failed)?;
        }
        for (seq, id) in &refused {
            self.keep(*seq, id, "its id is already in the trail");
        }
        Ok(records.len() - refused.len())
    }
}

/// The thread moving one audit file's staged records; stopping it, or dropping it, moves what
/// is left first.
pub(super) struct AuditIndexer {
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the audit index thread has stopped".into())
}

fn move_logged(mover: &mut Mover) {
    if let Err(error) = mover.move_all() {
        tracing::warn!(%error, "staged audit records not moved; retrying");
    }
}

impl AuditIndexer {
    /// Starts the thread on the audit database at `path` (created and migrated), whose writers
    /// take `writes`. Its first move, at once, takes whatever the last process left staged.
    pub(super) fn start(
        path: &Path,
        writes: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, StoreError> {
        let mut mover = Mover::open(path, writes).map_err(failed)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("sqlite-audit-index".into())
            .spawn(move || {
                move_logged(&mut mover);
                loop {
                    match queue.recv_timeout(INTERVAL) {
                        Ok(Job::Flush(done)) => {
                            let _ = done.send(mover.move_all().map(|_| ()));
                        }
                        Err(RecvTimeoutError::Timeout) => move_logged(&mut mover),
                        Err(RecvTimeoutError::Disconnected) => {
                            move_logged(&mut mover);
                            return;
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("the audit index thread: {e}")))?;
        Ok(Self {
            jobs: std::sync::Mutex::new(Some(jobs)),
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Returns once every record staged before the call is in the indexed tables (or could
    /// not be indexed, and was logged).
    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        let (done, moved) = oneshot::channel();
        let sent = self
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|jobs| jobs.send(Job::Flush(done))));
        match sent {
            Some(Ok(())) => moved.await.map_err(|_| stopped())?,
            _ => Err(stopped()),
        }
    }

    /// Stops the thread after a last move, and waits until it has (blocking).
    pub(super) fn stop(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::warn!("the audit index thread had failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sqlite_audit::tests::{count, database};
    use super::*;

    fn record(patient: &str, nhs_number: &str) -> AuditRecord {
        crate::audit::summary_record("r-1", &[(patient, nhs_number)])
    }

    /// Stages `records` as the request audit writer does.
    fn stage(connection: &Connection, records: &[AuditRecord]) {
        for record in records {
            connection
                .execute(
                    "INSERT INTO audit_staging (id, document) VALUES (?1, ?2)",
                    params![record.id.to_string(), crate::audit::encode(record).unwrap()],
                )
                .unwrap();
        }
    }

    fn writes() -> Arc<tokio::sync::Mutex<()>> {
        Arc::new(tokio::sync::Mutex::new(()))
    }

    fn indexed(connection: &Connection, id: &str) -> Option<String> {
        connection
            .query_row(
                "SELECT document FROM audit_events WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .ok()
    }

    #[test]
    fn staged_records_move_into_the_indexed_tables_whole_in_chunks_and_leave_staging() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let numbers = ["9990000018", "9990000026", "9990000034"];
        let records: Vec<AuditRecord> = (0..2 * CHUNK + 10)
            .map(|i| record(&format!("p-{i}"), numbers[i % 3]))
            .collect();
        stage(&reader, &records);
        let mut mover = Mover::open(&path, writes()).unwrap();
        assert_eq!(mover.move_all().unwrap(), records.len());
        assert_eq!(count(&reader, "audit_staging"), 0);
        assert_eq!(
            count(&reader, "audit_events"),
            i64::try_from(records.len()).unwrap()
        );
        assert_eq!(
            count(&reader, "audit_event_patients"),
            i64::try_from(records.len()).unwrap()
        );
        for written in &records {
            let document = indexed(&reader, &written.id.to_string()).unwrap();
            assert_eq!(&crate::audit::decode(&document).unwrap(), written);
        }
        // Found through the NHS-number index, each under its own number.
        let by_number: i64 = reader
            .query_row(
                "SELECT count(*) FROM audit_event_patients WHERE nhs_number = ?1",
                [numbers[1]],
                |r| r.get(0),
            )
            .unwrap();
        let expected = (0..records.len()).filter(|i| i % 3 == 1).count();
        assert_eq!(by_number, i64::try_from(expected).unwrap());
        // Nothing left: a second move moves nothing.
        assert_eq!(mover.move_all().unwrap(), 0);
    }

    #[test]
    fn a_record_that_cannot_be_indexed_stays_staged_and_the_others_move_on() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let mut mover = Mover::open(&path, writes()).unwrap();
        let first = record("p-1", "9990000018");
        stage(&reader, std::slice::from_ref(&first));
        assert_eq!(mover.move_all().unwrap(), 1);
        // A second, different record under the id of one already indexed, between two good
        // ones, and a document that is not a record at all.
        let mut clash = record("p-2", "9990000026");
        clash.id = first.id;
        let before = record("p-3", "9990000034");
        let after = record("p-4", "9990000042");
        stage(&reader, &[before.clone(), clash.clone(), after.clone()]);
        reader
            .execute(
                "INSERT INTO audit_staging (id, document) VALUES ('garbled', '{')",
                [],
            )
            .unwrap();
        assert_eq!(mover.move_all().unwrap(), 2);
        assert!(indexed(&reader, &before.id.to_string()).is_some());
        assert!(indexed(&reader, &after.id.to_string()).is_some());
        // The indexed record under that id is still the first one.
        let kept = indexed(&reader, &first.id.to_string()).unwrap();
        assert_eq!(crate::audit::decode(&kept).unwrap(), first);
        // The other two are still staged, not lost, and later moves leave them alone.
        assert_eq!(count(&reader, "audit_staging"), 2);
        assert_eq!(mover.stuck.len(), 2);
        let later = record("p-5", "9990000050");
        stage(&reader, std::slice::from_ref(&later));
        assert_eq!(mover.move_all().unwrap(), 1);
        assert!(indexed(&reader, &later.id.to_string()).is_some());
        let staged: String = reader
            .query_row(
                "SELECT document FROM audit_staging WHERE id = ?1",
                [clash.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(crate::audit::decode(&staged).unwrap(), clash);
    }

    #[test]
    fn a_staged_record_is_never_changed_and_leaves_staging_only_once_indexed_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        let one = record("p-1", "9990000018");
        stage(&reader, std::slice::from_ref(&one));
        for sql in [
            "UPDATE audit_staging SET document = '{}'",
            "DELETE FROM audit_staging",
        ] {
            assert!(reader.execute(sql, []).is_err(), "{sql}");
        }
        // Indexed with a different document under its id: still refused.
        let mut altered = one.clone();
        altered.client_id = Some("someone-else".into());
        reader
            .execute(
                "INSERT INTO audit_events (id, recorded, document) VALUES (?1, 'x', ?2)",
                params![one.id.to_string(), crate::audit::encode(&altered).unwrap()],
            )
            .unwrap();
        assert!(reader.execute("DELETE FROM audit_staging", []).is_err());
        assert_eq!(count(&reader, "audit_staging"), 1);
        drop(path);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flush_returns_once_everything_staged_is_indexed_and_stopping_moves_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        // Left staged by the last process.
        let left: Vec<AuditRecord> = (0..CHUNK + 1)
            .map(|i| record(&format!("p-{i}"), "9990000018"))
            .collect();
        stage(&reader, &left);
        let indexer = AuditIndexer::start(&path, writes()).unwrap();
        indexer.flush().await.unwrap();
        assert_eq!(count(&reader, "audit_staging"), 0);
        assert_eq!(
            count(&reader, "audit_events"),
            i64::try_from(left.len()).unwrap()
        );
        // Staged after the last move: stopping the thread moves them before it ends.
        let late = record("p-late", "9990000026");
        stage(&reader, std::slice::from_ref(&late));
        tokio::task::block_in_place(|| indexer.stop());
        assert_eq!(count(&reader, "audit_staging"), 0);
        assert!(indexed(&reader, &late.id.to_string()).is_some());
        // Stopped: a flush says so rather than answering for records it cannot move.
        assert!(matches!(
            indexer.flush().await,
            Err(StoreError::Unavailable(_))
        ));
        indexer.stop();
    }

    #[test]
    fn a_move_waits_for_the_stores_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (path, reader) = database(dir.path());
        stage(&reader, &[record("p-1", "9990000018")]);
        let writes = writes();
        let mut mover = Mover::open(&path, writes.clone()).unwrap();
        let held = writes.try_lock().unwrap();
        let (done, moved) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let _ = done.send(mover.move_all().unwrap());
        });
        // It cannot commit while the lock is held.
        assert!(moved.try_recv().is_err());
        assert_eq!(count(&reader, "audit_events"), 0);
        drop(held);
        assert_eq!(moved.recv().unwrap(), 1);
        thread.join().unwrap();
        assert_eq!(count(&reader, "audit_events"), 1);
    }
}

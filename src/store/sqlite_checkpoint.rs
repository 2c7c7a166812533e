//! Checkpoints of the write-ahead log, off the commit path.
//!
//! By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that
//! commit copies the log into the database and syncs it before it returns. Under load the
//! committing transaction is usually the audit group commit, so every request waiting for its
//! audit record waited for the checkpoint too (5% of all samples in a profile of the summary
//! scenario, and the requests behind it made the tail of the latency). The store's
//! connections turn automatic checkpoints off, and a thread of the store's own runs a passive
//! checkpoint (it never waits for readers or writers, nor they for it) every
//! [`INTERVAL`], until the store is dropped.
//!
//! A passive checkpoint copies the log but cannot start it again from the beginning while a
//! reader still reads an older snapshot, and under steady load one nearly always is: the log
//! grew without end (5 GB in a 1,000,000-plan run, and the next start-up spent 1.7 s reading
//! it). So when the log file passes [`LOG_LIMIT`], the thread truncates it
//! (`wal_checkpoint(TRUNCATE)`): after the passive copy little is left to copy, and writers
//! wait only for the readers of older snapshots to finish (point reads: microseconds to
//! milliseconds).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is checkpointed: a few megabytes of log at the highest write rates seen.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);

/// Keeps the checkpoint thread running; dropping the last clone of the store stops it.
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

/// Size of the log file above which it is truncated. Each truncation syncs the database and
/// the log while writers wait (every waiting request with them); at 64 MiB the summary
/// scenario's audit records reached it more than once a second (14 truncations in 12 s at
/// 1,000,000 plans), which made the tail of the latency. A larger log is truncated a quarter
/// as often; recovering it after a crash reads at most this much.
pub(super) const LOG_LIMIT: u64 = 256 * 1024 * 1024;

/// One passive checkpoint: (frames in the log, frames copied).
pub(super) fn checkpoint(connection: &Connection) -> Result<(i64, i64), rusqlite::Error> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// One tick of the thread: a passive checkpoint, then, if the log file at `log` has grown
/// past `limit` bytes, a truncating one, holding the store's write lock `writes` so that the
/// store's writers queue on it and start the moment it is done (waiting in SQLite's busy
/// handler instead, which sleeps with growing back-off, stalled audit commits for seconds).
/// Returns whether the log was truncated.
pub(super) fn tick(
    connection: &Connection,
    log: &Path,
    limit: u64,
    writes: &tokio::sync::Mutex<()>,
) -> Result<bool, rusqlite::Error> {
    checkpoint(connection)?;
    let size = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    if size <= limit {
        return Ok(false);
    }
    let _writing = writes.blocking_lock();
    let busy: i64 =
        connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    Ok(busy == 0)
}

fn log_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(1))?;
    Ok(connection)
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` on a thread called `name`, whose writers
    /// take `writes`; `None` if no thread could be started (the caller then leaves automatic
    /// checkpoints on).
    pub(super) fn start(
        name: &str,
        path: &Path,
        writes: Arc<tokio::sync::Mutex<()>>,
    ) -> Option<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let path: PathBuf = path.to_path_buf();
        let log = log_path(&path);
        let mut connection = open(&path).ok()?;
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                match stopped.recv_timeout(INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => {}
                    // The store is gone (its connections have checkpointed on closing).
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                match tick(&connection, &log, LOG_LIMIT, &writes) {
                    Ok(_) => {}
                    // Another connection holds the database (recovering the log when it
                    // opened, an import's merge): the next tick tries again.
                    Err(rusqlite::Error::SqliteFailure(failure, _))
                        if failure.code == rusqlite::ErrorCode::DatabaseBusy => {}
                    Err(error) => {
                        tracing::warn!(%error, "write-ahead log checkpoint failed; retrying");
                        if let Ok(reopened) = open(&path) {
                            connection = reopened;
                        }
                    }
                }
            })
            .ok()?;
        Some(Self { _stop: stop })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection on a new WAL database with automatic checkpoints off, as the store's are.
    fn wal_writer(path: &Path) -> Connection {
        let writer = open(path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x TEXT);",
            )
            .unwrap();
        writer
    }

    /// Commits `rows` rows of 2,000 bytes, one transaction each.
    fn write(writer: &Connection, rows: usize) {
        for _ in 0..rows {
            writer
                .execute("INSERT INTO t VALUES (?1)", [&"x".repeat(2_000)])
                .unwrap();
        }
    }

    #[test]
    fn a_checkpoint_copies_the_whole_log_while_a_writer_has_automatic_ones_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let writer = wal_writer(&path);
        write(&writer, 2_000);
        // More than 1,000 pages written, none copied: the writer's commits did not checkpoint.
        let checkpointing = open(&path).unwrap();
        let wal = path.with_file_name("log.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 4_000_000);
        let (log, copied) = checkpoint(&checkpointing).unwrap();
        assert!(log > 1_000, "log of {log} frames");
        assert_eq!(copied, log);
        // The next write starts the log again from its beginning.
        writer.execute("INSERT INTO t VALUES ('y')", []).unwrap();
        let (log, _) = checkpoint(&checkpointing).unwrap();
        assert!(log < 10, "log of {log} frames after a restart");
    }

    #[test]
    fn a_log_past_the_limit_is_truncated_even_while_a_reader_holds_an_old_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grow.db");
        let log = log_path(&path);
        assert_eq!(log, dir.path().join("grow.db-wal"));
        let writer = wal_writer(&path);
        write(&writer, 500);
        // A reader in the middle of a read keeps the log from starting again after a passive
        // checkpoint: the writer's next commits grow the file.
        let reader = open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        let checkpointing = open(&path).unwrap();
        let writes = tokio::sync::Mutex::new(());
        assert!(!tick(&checkpointing, &log, u64::MAX, &writes).unwrap());
        write(&writer, 500);
        let grown = std::fs::metadata(&log).unwrap().len();
        assert!(grown > 2_000_000, "log of {grown} bytes");
        // Below the limit nothing but the passive copy happens.
        assert!(!tick(&checkpointing, &log, grown, &writes).unwrap());
        assert_eq!(std::fs::metadata(&log).unwrap().len(), grown);
        // Past it, once the old snapshot's reader is done, the log is emptied.
        reader.execute_batch("COMMIT").unwrap();
        assert!(tick(&checkpointing, &log, 1_000_000, &writes).unwrap());
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        // Nothing was lost.
        let rows: i64 = checkpointing
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1_000);
    }
}

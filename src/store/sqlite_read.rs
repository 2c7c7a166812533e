//! Point reads of the hot paths on the calling thread: the plan of record by NHS number (the
//! emergency summary), a plan by id (every read), and which plan holds a FHIR resource.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement to it and
//! its rows back (two thread wake-ups per statement, and a pool acquire). Under load on two
//! cores those hand-offs, not the queries, were most of a summary's database time: the pool's
//! threads competed with the HTTP workers for the CPUs, and a smaller pool was markedly slower.
//! Each of these reads is one lookup by a unique index, a few pages already in the page
//! cache: cheaper to do where the request is than to hand off. They run on connections of
//! their own, opened on the same file (WAL mode: a reader sees the last commit and never
//! waits for writers), each with `query_only` set, so nothing can be written through them.
//!
//! These connections, the pool's and the audit writer's all use one SQLite library, built
//! (`.cargo/config.toml`) with a page cache per connection and no memory statistics.
//! libsqlite3-sys's default build has neither: every connection's pages sat in one page cache
//! behind one process-wide mutex, and every allocation took another. Traced under load (perf
//! `sched_switch`, 10,000 plans, 5,000 summaries a second, 4 s), the audit writer was put to
//! sleep on those mutexes 1,235 times in 5 s, and in 4 s it and the HTTP workers slept 121 ms
//! and 133 ms on them, up to 3.5 ms at a time; built as now, neither sleeps on them (the only
//! mutex waits left, 23 ms of the workers', are on each file's own shared-memory lock).
//!
//! If SQLite reports the database busy (rare in WAL mode: a reader only waits while another
//! connection recovers the log), the read is not retried here, where it would hold up the HTTP
//! worker: the caller takes the ordinary pooled path, which waits off this thread.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{decode, StoreError};
use crate::domain::{NhsNumber, PlanId, PlanRecord};

/// Connections kept for reuse; more are opened when more threads read at once, and those
/// beyond this are closed after use.
const KEPT: usize = 8;

/// Longest a read waits on a busy database before it gives up to the pooled path.
const BUSY_WAIT: Duration = Duration::from_millis(20);

const FIND_CURRENT: &str = "SELECT v.document FROM plans p \
     JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
     WHERE p.nhs_number = ?1 AND p.status IN ('active', 'completed')";

const GET: &str = "SELECT v.document FROM plans p \
     JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version WHERE p.id = ?1";

/// Only the indexed table: a miss (a resource an import has not merged yet) goes to the pooled
/// path, which also reads `resource_index_pending`.
const LOCATE: &str =
    "SELECT plan_id FROM resource_index WHERE resource_type = ?1 AND resource_id = ?2";

/// Why a direct read gave no answer.
#[derive(Debug)]
pub(super) enum Miss {
    /// Not answered here; ask the pooled path (busy database, or a connection that could not
    /// be opened).
    Fallback,
    /// A stored row that cannot be read: the same error the pooled path would give.
    Failed(StoreError),
}

/// Read connections on one SQLite file.
pub(super) struct DirectReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReads {
    /// Reads of the database file at `path` (already created and migrated).
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> Result<Connection, rusqlite::Error> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_WAIT)?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(connection)
    }

    fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, Miss> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match taken {
            Some(connection) => connection,
            None => self.open().map_err(|_| Miss::Fallback)?,
        };
        let result = read(&connection);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < KEPT {
                idle.push(connection);
            }
        }
        result.map_err(|error| match error {
            rusqlite::Error::SqliteFailure(failure, _)
                if matches!(
                    failure.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Miss::Fallback
            }
            other => Miss::Failed(StoreError::Backend(other.to_string())),
        })
    }

    fn document(&self, sql: &str, key: &str) -> Result<Option<String>, Miss> {
        self.with_connection(|connection| {
            connection
                .prepare_cached(sql)?
                .query_row([key], |row| row.get::<_, String>(0))
                .optional()
        })
    }

    /// The current version of the person's plan of record, if any.
    pub(super) fn find_current(&self, nhs_number: &NhsNumber) -> Result<Option<PlanRecord>, Miss> {
        self.document(FIND_CURRENT, nhs_number.as_str())?
            .map(|document| decode(&document).map_err(Miss::Failed))
            .transpose()
    }

    /// The current version of a plan, or `None` if there is no such plan.
    pub(super) fn get(&self, id: PlanId) -> Result<Option<PlanRecord>, Miss> {
        self.document(GET, &id.to_string())?
            .map(|document| decode(&document).map_err(Miss::Failed))
            .transpose()
    }

    /// The plan holding the resource, if the merged resource index has it.
    pub(super) fn locate(&self, resource_type: &str, id: &str) -> Result<Option<String>, Miss> {
        self.with_connection(|connection| {
            connection
                .prepare_cached(LOCATE)?
                .query_row([resource_type, id], |row| row.get::<_, String>(0))
                .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "CREATE TABLE plans (id TEXT PRIMARY KEY, version INTEGER, \
         nhs_number TEXT, status TEXT); \
         CREATE TABLE plan_versions (plan_id TEXT, version INTEGER, document TEXT); \
         CREATE TABLE resource_index (resource_type TEXT, resource_id TEXT, plan_id TEXT);";

    fn database(dir: &Path) -> (PathBuf, Connection) {
        let path = dir.join("reads.db");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(SCHEMA).unwrap();
        (path, connection)
    }

    /// `.cargo/config.toml` builds the bundled SQLite without `SQLITE_ENABLE_MEMORY_MANAGEMENT`
    /// (with it, every connection's pages sit in one page cache behind one process-wide mutex)
    /// and without memory statistics (another process-wide mutex, at every allocation): the
    /// HTTP workers' reads and the audit writer queued on those mutexes (see the module's
    /// notes). Fails if that setting is lost.
    #[test]
    fn sqlite_is_built_with_a_page_cache_per_connection_and_no_memory_statistics() {
        let connection = Connection::open_in_memory().unwrap();
        let options: Vec<String> = connection
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }

    #[test]
    fn a_database_that_cannot_be_opened_is_left_to_the_pooled_path() {
        let reads = DirectReads::new(Path::new("/nonexistent-acp-dir/none.db"));
        let number = NhsNumber::parse("9990000018").unwrap();
        assert!(matches!(reads.find_current(&number), Err(Miss::Fallback)));
        assert!(matches!(reads.locate("Goal", "g-1"), Err(Miss::Fallback)));
    }

    #[test]
    fn nothing_can_be_written_through_a_read_connection() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = database(dir.path());
        let reads = DirectReads::new(&path);
        let connection = reads.open().unwrap();
        for statement in [
            "INSERT INTO plans VALUES ('p', 1, '9990000018', 'active')",
            "DELETE FROM plan_versions",
            "CREATE TABLE other (x)",
        ] {
            assert!(
                connection.execute_batch(statement).is_err(),
                "{statement} was allowed"
            );
        }
    }

    #[test]
    fn an_unreadable_stored_plan_is_an_error_not_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = database(dir.path());
        writer
            .execute_batch(
                "INSERT INTO plans VALUES ('p', 1, '9990000018', 'active'); \
                 INSERT INTO plan_versions VALUES ('p', 1, '{not json');",
            )
            .unwrap();
        let reads = DirectReads::new(&path);
        let number = NhsNumber::parse("9990000018").unwrap();
        assert!(matches!(
            reads.find_current(&number),
            Err(Miss::Failed(StoreError::Backend(_)))
        ));
        // A person without a current plan is an answer, not an error.
        let nobody = NhsNumber::parse("9990000026").unwrap();
        assert!(matches!(reads.find_current(&nobody), Ok(None)));
    }

    #[test]
    fn a_locked_database_is_left_to_the_pooled_path_instead_of_holding_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = database(dir.path());
        writer
            .execute_batch(
                "INSERT INTO resource_index VALUES ('Goal', 'g-1', 'p'); BEGIN EXCLUSIVE; \
                 INSERT INTO resource_index VALUES ('Goal', 'g-2', 'p');",
            )
            .unwrap();
        let reads = DirectReads::new(&path);
        assert!(matches!(reads.locate("Goal", "g-1"), Err(Miss::Fallback)));
        writer.execute_batch("COMMIT").unwrap();
        assert_eq!(reads.locate("Goal", "g-2").unwrap(), Some("p".to_owned()));
    }
}

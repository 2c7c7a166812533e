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
//! it). So when the log holds more than [`LOG_LIMIT`] bytes of frames, the thread restarts it
//! (`wal_checkpoint(RESTART)`): after the passive copy little is left to copy, and writers
//! wait only for the readers of older snapshots to finish (point reads: microseconds to
//! milliseconds). The next commit then writes from the start of the same file. Until round 7
//! of issue 7 the log was truncated instead (`TRUNCATE`), and every cycle the file grew again
//! from nothing: each frame written into new file space allocated page-cache pages and disk
//! blocks (a quarter of the request audit writer's log writes), and the truncation freed them
//! again; restarting cut the audit checkpointer's CPU by about a third and the maximum
//! latency by a third to a half (BENCHMARKS.md "Seventh round"). Writers' connections
//! set `journal_size_limit` to [`FILE_LIMIT`], so a log that grew well past the limit (an
//! import's merge) is cut back when it is next started again.
//!
//! Reusing the file pays only while its pages are still in memory. A frame (a 24-byte header
//! and a page) never lines up with the file's 4 KiB pages, so writing one over a page that has
//! left the page cache first reads that page from disk, inside the commit, while every request
//! waiting for its audit record waits too. These machines' kernels page out file pages no
//! process maps once they have been idle about 6 s, even with memory free (a DAMON scheme,
//! BENCHMARKS.md eleventh round; round 8 took it for about a minute), and any server does
//! under memory pressure: a log
//! reused after an idle spell, or after a restart of the service, served a third fewer
//! summaries with twice the p99 (BENCHMARKS.md, eighth round). So the log is reused only when
//! it was last started again less than [`WARM`] ago (under steady load, every few seconds);
//! otherwise it is emptied (`TRUNCATE`) and grows again in new file space, which needs no
//! reads. A log file that may hold old pages ahead of the writes (one left by the last
//! process, or one reused [`WARM`] or more ago: a quiet spell, 3 a.m.) is emptied whatever its
//! length: one left by the last process when the thread starts, before the service serves, and
//! a cold one at the next tick; a log emptied by this process holds only pages written since,
//! and the writes go on at its end.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How often the log is checkpointed. A passive checkpoint syncs the log before copying it,
/// and the sync writes out everything committed since the last one, on the checkpoint thread,
/// while the two cores also serve requests: every 250 ms that was about 30 MB at 5,000
/// summaries a second, a burst of writeback that held up the HTTP workers. Every 50 ms the
/// bursts are a fifth of the size: paced at 5,000 summaries a second on 1,000,000 plans, p95
/// 6.6 to 11.6 ms against 11.4 to 18.5, p99 11.6 to 21.5 against 20.1 to 44.8, alternating,
/// the same bytes written (BENCHMARKS.md, seventeenth round).
pub(super) const INTERVAL: Duration = Duration::from_millis(50);

/// Syncs the file at `path` through the handle kept in `handle`, opening it the first time.
/// The handle stays open while the thread runs: closing a descriptor of the database file
/// would drop every POSIX lock this process holds on it, its SQLite connections' too
/// (sqlite.org/howtocorrupt.html, 2.2). It was opened and closed again at every restart of
/// the log, each time dropping the locks the store's connections held.
fn sync_kept(handle: &mut Option<File>, path: &Path) -> std::io::Result<()> {
    if handle.is_none() {
        *handle = Some(File::open(path)?);
    }
    handle.as_ref().map_or(Ok(()), File::sync_data)
}

/// Keeps the checkpoint thread running; dropping the last clone of the store, or
/// [`Checkpointer::stop`], stops it.
pub(super) struct Checkpointer {
    stop: std::sync::Mutex<Option<mpsc::Sender<()>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Bytes of frames in the log above which it is started again. Each restart waits for
/// readers of older snapshots while writers wait (every waiting request with them); at 64 MiB
/// the summary scenario's audit records reached it more than once a second (14 truncations in
/// 12 s at 1,000,000 plans), which made the tail of the latency. A larger log is restarted a
/// quarter as often; recovering it after a crash reads at most this much. Also the
/// `journal_size_limit` of writers' connections.
pub(super) const LOG_LIMIT: u64 = 256 * 1024 * 1024;

/// The `journal_size_limit` of writers' connections: a log file larger than this is cut back
/// to it when a writer starts the log again. Above [`LOG_LIMIT`], because the log passes the
/// limit by up to a tick's commits before it is started again: at the limit itself, the
/// audit writer cut its file back by those few megabytes every cycle, inside a commit (6 to
/// 10 ms each, watched with `perf trace`).
pub(super) const FILE_LIMIT: u64 = LOG_LIMIT + LOG_LIMIT / 2;

/// One passive checkpoint: (frames in the log, frames copied).
pub(super) fn checkpoint(connection: &Connection) -> Result<(i64, i64), rusqlite::Error> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// How long after the log was last started again its pages are taken to be still in memory.
/// Longer than these machines keep idle file pages (about 6 s, see the module's notes), so a
/// log whose cycle takes between 6 and 30 s (about 400 to 1,800 summaries a second) is reused
/// with some pages read back; emptying it instead costs an `ftruncate` under the write lock
/// (95 ms for 256 MiB here). Left at 30 s until the two are measured against each other.
pub(super) const WARM: Duration = Duration::from_secs(30);

/// How a tick started the log again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Started {
    /// From the beginning of the same file (`RESTART`): its pages were written recently.
    Reused,
    /// Emptied (`TRUNCATE`): the next commits write into new file space.
    Emptied,
}

/// The checkpoint thread's memory between ticks.
#[derive(Debug, Default)]
pub(super) struct LogState {
    /// The length of the log (frames) it last started again, which stays in SQLite's count
    /// until the next commit starts the log afresh.
    restarted_at: Option<i64>,
    /// When it last started the log again (never, in this process: its pages may be cold).
    started: Option<Instant>,
    /// The log file holds only what was written since this thread emptied it: no old pages
    /// lie ahead of the writes.
    fresh: bool,
    /// The database file, kept open for syncing it (see [`sync_kept`]).
    database: Option<File>,
}

impl LogState {
    /// The state of a thread that started the log again at `at`.
    #[cfg(test)]
    fn started_at(at: Instant) -> Self {
        Self {
            started: Some(at),
            ..Self::default()
        }
    }
}

/// One tick of the thread at `now`: a passive checkpoint, then the log is started again if it
/// holds more than `limit` bytes of frames (pages of `page_size`), or, whatever its length, if
/// its file may hold old pages ahead of the writes (not emptied by this thread, and not started
/// again in the last [`WARM`]). It is reused if it was last started again less than [`WARM`]
/// ago, else emptied (see the module's notes). Either holds the store's write lock `writes`, so
/// that the store's writers queue on it and start the moment it is done (waiting in SQLite's
/// busy handler instead, which sleeps with growing back-off, stalled audit commits for
/// seconds). A log already started again, and not yet written since, is not started again for
/// its length.
pub(super) fn tick(
    connection: &Connection,
    page_size: u64,
    limit: u64,
    writes: &tokio::sync::Mutex<()>,
    state: &mut LogState,
    now: Instant,
) -> Result<Option<Started>, rusqlite::Error> {
    let (frames, _) = checkpoint(connection)?;
    let cold = state
        .started
        .is_none_or(|at| now.saturating_duration_since(at) >= WARM);
    // Each frame is a 24-byte header and a page.
    let bytes = u64::try_from(frames).unwrap_or(0) * (page_size + 24);
    let full = bytes > limit && state.restarted_at != Some(frames);
    let stale = cold && !state.fresh;
    if !full && !stale {
        return Ok(None);
    }
    let (started, sql) = if cold {
        (Started::Emptied, "PRAGMA wal_checkpoint(TRUNCATE)")
    } else {
        (Started::Reused, "PRAGMA wal_checkpoint(RESTART)")
    };
    // The checkpoint under the write lock syncs the log, copies every frame not yet copied and
    // syncs the database file before it starts the log again, and every request waiting for
    // its audit record waits through all three. `settle` does most of that work first,
    // outside the lock, so the one under it has only the last moment's frames and pages.
    settle(connection, state)?;
    let _writing = writes.blocking_lock();
    let busy: i64 = connection.query_row(sql, [], |row| row.get(0))?;
    if busy != 0 {
        return Ok(None);
    }
    state.restarted_at = Some(frames);
    state.started = Some(now);
    state.fresh = started == Started::Emptied;
    Ok(Some(started))
}

/// Brings the database file up to the log as far as it can without the write lock, before a
/// restart takes it: syncs the database file (passive checkpoints copy pages into it but do
/// not sync it, so a few seconds of copied pages wait to be written out: that sync, under
/// the lock, stalled every commit for 150 ms at each restart, watched with `perf trace`),
/// then copies what was committed meanwhile (another passive checkpoint) and syncs again.
/// Returns the log's frames and how many of them the database file now holds.
///
/// The second copy is what the restart under the lock would otherwise do: at 5,000
/// summaries a second a restart came every 3 s or so, and the frames committed during the
/// first copy and sync (tens of milliseconds of audit records) were copied under the lock,
/// between its two syncs. Paced at 5,000 summaries a second on 1,000,000 plans, p99 fell
/// from 6.5 to 8.8 ms to 5.6 to 5.9 ms with it (BENCHMARKS.md, sixteenth round).
fn settle(connection: &Connection, state: &mut LogState) -> Result<(i64, i64), rusqlite::Error> {
    let Some(path) = connection.path().filter(|path| !path.is_empty()) else {
        return checkpoint(connection);
    };
    let sync = |state: &mut LogState| {
        if let Err(error) = sync_kept(&mut state.database, Path::new(path)) {
            tracing::debug!(%error, "database file not synced before the log restart");
        }
    };
    sync(state);
    let copied = checkpoint(connection)?;
    sync(state);
    Ok(copied)
}

fn log_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Empties a log left by the last process (one stopped without closing its connections: killed,
/// or the machine went down), before the service serves, and returns its length in bytes. At
/// the first tick instead, under the write lock, emptying a 300 MB log left by a load run
/// stalled every request for 0.7 s (BENCHMARKS.md, tenth round). Afterwards the thread's state
/// says the log holds only what this process writes, from now on. Nothing to empty: `Ok(0)`,
/// and the state says so too (a new log file holds no old pages).
///
/// "From now on" matters as much: with no start time the log counted as cold, so when the
/// first cycle's log reached [`LOG_LIMIT`] (about 2 s into a load run) it was emptied rather
/// than reused, and cutting a 256 MiB file took 95 ms under the write lock (`ftruncate`,
/// watched with `perf trace`), during which every request waited for its audit record: paced
/// 5,000 summaries a second, p99 71 and 54 ms with it against 16 and 28 ms without
/// (BENCHMARKS.md, eleventh round).
fn empty_leftover(
    connection: &Connection,
    path: &Path,
    state: &mut LogState,
    now: Instant,
) -> Result<u64, rusqlite::Error> {
    let length = std::fs::metadata(log_path(path)).map_or(0, |file| file.len());
    if length > 0 {
        let busy: i64 =
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy != 0 {
            // Another process holds the database: the first tick empties it.
            return Ok(0);
        }
    }
    state.started = Some(now);
    state.fresh = true;
    Ok(length)
}

fn page_size_of(connection: &Connection) -> Result<u64, rusqlite::Error> {
    connection.query_row("PRAGMA page_size", [], |row| row.get(0))
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
        let mut connection = open(&path).ok()?;
        let mut page_size = page_size_of(&connection).ok()?;
        let mut state = LogState::default();
        let started = Instant::now();
        match empty_leftover(&connection, &path, &mut state, started) {
            Ok(0) => {}
            Ok(bytes) => tracing::info!(
                thread = name,
                bytes,
                ms = started.elapsed().as_millis(),
                "emptied the write-ahead log left by the last process"
            ),
            Err(error) => {
                tracing::warn!(%error, "the write-ahead log left by the last process was not emptied; the first checkpoint will");
            }
        }
        let thread = super::background::spawn(name, move || loop {
            match stopped.recv_timeout(INTERVAL) {
                Err(RecvTimeoutError::Timeout) => {}
                // The store is gone (its connections have checkpointed on closing).
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            match tick(
                &connection,
                page_size,
                LOG_LIMIT,
                &writes,
                &mut state,
                Instant::now(),
            ) {
                Ok(_) => {}
                // Another connection holds the database (recovering the log when it
                // opened, an import's merge): the next tick tries again.
                Err(rusqlite::Error::SqliteFailure(failure, _))
                    if failure.code == rusqlite::ErrorCode::DatabaseBusy => {}
                Err(error) => {
                    tracing::warn!(%error, "write-ahead log checkpoint failed; retrying");
                    if let Ok(reopened) = open(&path) {
                        page_size = page_size_of(&reopened).unwrap_or(page_size);
                        connection = reopened;
                    }
                }
            }
        })
        .ok()?;
        Some(Self {
            stop: std::sync::Mutex::new(Some(stop)),
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread and waits until it has (blocking: at most one tick's checkpoint).
    /// Before a log is emptied for good ([`super::SqliteStore`]'s `close`): a passive
    /// checkpoint running on the thread would make that one report the log busy.
    pub(super) fn stop(&self) {
        if let Ok(mut stop) = self.stop.lock() {
            stop.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::warn!("the checkpoint thread had failed");
            }
        }
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

    /// Before a restart takes the write lock, what was committed after the tick's passive
    /// checkpoint (while it copied, and while the database file was synced) is copied too, and
    /// the file synced again: the restart under the lock is left nothing to copy. Fails if
    /// `settle` only syncs.
    #[test]
    fn settling_copies_what_was_committed_after_the_passive_checkpoint_before_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settle.db");
        let writer = wal_writer(&path);
        write(&writer, 300);
        let checkpointing = open(&path).unwrap();
        let (frames, copied) = checkpoint(&checkpointing).unwrap();
        assert_eq!(copied, frames);
        // Committed meanwhile (the writer started the copied log again from its beginning).
        write(&writer, 100);
        let mut state = LogState::default();
        let (now_frames, now_copied) = settle(&checkpointing, &mut state).unwrap();
        assert!(now_frames >= 100, "{now_frames} frames, {frames} before");
        assert_eq!(now_copied, now_frames, "frames left for the restart");
        // The database file was synced through the kept handle.
        assert!(state.database.is_some());
    }

    #[test]
    fn a_log_past_the_limit_is_started_again_once_an_old_snapshot_is_done_in_the_same_file() {
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
        let page = page_size_of(&checkpointing).unwrap();
        let writes = tokio::sync::Mutex::new(());
        // The log was last started again a moment ago: its pages are in memory.
        let now = Instant::now();
        let mut state = LogState::started_at(now);
        let mut tick = |limit| tick(&checkpointing, page, limit, &writes, &mut state, now).unwrap();
        assert_eq!(tick(u64::MAX), None);
        write(&writer, 500);
        let grown = std::fs::metadata(&log).unwrap().len();
        assert!(grown > 2_000_000, "log of {grown} bytes");
        // At or below the limit nothing but the passive copy happens.
        assert_eq!(tick(grown), None);
        let (frames, _) = checkpoint(&checkpointing).unwrap();
        assert!(frames > 500, "log of {frames} frames");
        // Past it, once the old snapshot's reader is done, the log is started again; a log
        // started again and not written since is not started again at every tick.
        reader.execute_batch("COMMIT").unwrap();
        assert_eq!(tick(1_000_000), Some(Started::Reused));
        assert_eq!(tick(1_000_000), None);
        // The next commits write from the start of the same file: it is neither cut nor grown.
        write(&writer, 10);
        let (frames, copied) = checkpoint(&checkpointing).unwrap();
        assert!(frames < 50, "log of {frames} frames after the restart");
        assert_eq!(copied, frames);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), grown);
        // Nothing was lost.
        let rows: i64 = checkpointing
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1_010);
        // The database file was synced before the restart through a handle that stays open.
        assert!(state.database.is_some());
    }

    #[test]
    fn a_log_left_by_the_last_process_is_emptied_when_the_thread_starts_not_at_a_tick() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("left.db");
        let log = log_path(&path);
        // The writer stays open, so its log is not checkpointed and removed on closing: as a
        // process killed while serving leaves it.
        let writer = wal_writer(&path);
        write(&writer, 500);
        assert!(std::fs::metadata(&log).unwrap().len() > 1_000_000);
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        let _thread = Checkpointer::start("test-checkpoint", &path, writes).unwrap();
        // Emptied before `start` returned, not by a tick (none would find anything to copy).
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 500);
    }

    #[test]
    fn a_stopped_thread_has_ended_and_a_second_stop_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stop.db");
        let _writer = wal_writer(&path);
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        let thread = Checkpointer::start("test-stop", &path, writes).unwrap();
        thread.stop();
        assert!(thread.thread.lock().unwrap().is_none());
        assert!(thread.stop.lock().unwrap().is_none());
        thread.stop();
    }

    #[test]
    fn after_emptying_a_leftover_log_the_thread_leaves_it_alone_below_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let writer = wal_writer(&path);
        write(&writer, 100);
        let checkpointing = open(&path).unwrap();
        let page = page_size_of(&checkpointing).unwrap();
        let writes = tokio::sync::Mutex::new(());
        let now = Instant::now();
        let mut state = LogState::default();
        let emptied = empty_leftover(&checkpointing, &path, &mut state, now).unwrap();
        assert!(emptied > 100_000, "{emptied} bytes emptied");
        assert!(state.fresh);
        // The log now holds only this process's writes: no tick empties it again.
        write(&writer, 10);
        let later = now + Duration::from_secs(100);
        assert_eq!(
            tick(&checkpointing, page, 1_000_000, &writes, &mut state, later).unwrap(),
            None
        );
        // No log at all: nothing to empty, and the log the writers create is fresh too.
        let other = dir.path().join("none.db");
        let none = open(&other).unwrap();
        let mut state = LogState::default();
        assert_eq!(empty_leftover(&none, &other, &mut state, now).unwrap(), 0);
        assert!(state.fresh);
        // Its pages are this process's, written from now on: when it first passes the limit,
        // seconds later, it is reused, not emptied (cutting the file stalls every writer).
        let writer = wal_writer(&other);
        write(&writer, 500);
        let page = page_size_of(&none).unwrap();
        let soon = now + Duration::from_secs(2);
        assert_eq!(
            tick(&none, page, 1_000_000, &writes, &mut state, soon).unwrap(),
            Some(Started::Reused)
        );
    }

    #[test]
    fn a_synced_file_is_opened_once_and_its_handle_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.db");
        let mut handle = None;
        // No file yet: an error, and nothing kept.
        let missing = sync_kept(&mut handle, &path).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        assert!(handle.is_none());
        std::fs::write(&path, b"frames").unwrap();
        sync_kept(&mut handle, &path).unwrap();
        assert!(handle.is_some());
        // Its name gone, the file is still synced through the kept handle: it is not reopened
        // (and so never closed, which would drop this process's locks on a database file).
        std::fs::remove_file(&path).unwrap();
        sync_kept(&mut handle, &path).unwrap();
    }

    #[test]
    fn a_log_file_larger_than_the_writers_size_limit_is_cut_back_when_started_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limit.db");
        let log = log_path(&path);
        let writer = wal_writer(&path);
        writer
            .execute_batch("PRAGMA journal_size_limit = 1000000;")
            .unwrap();
        write(&writer, 1_000);
        assert!(std::fs::metadata(&log).unwrap().len() > 2_000_000);
        let checkpointing = open(&path).unwrap();
        let page = page_size_of(&checkpointing).unwrap();
        let writes = tokio::sync::Mutex::new(());
        let now = Instant::now();
        let mut state = LogState::started_at(now);
        assert_eq!(
            tick(&checkpointing, page, 1_000_000, &writes, &mut state, now).unwrap(),
            Some(Started::Reused)
        );
        write(&writer, 1);
        let size = std::fs::metadata(&log).unwrap().len();
        assert!(size <= 1_000_000, "log file of {size} bytes");
    }

    #[test]
    fn a_log_whose_file_may_hold_cold_pages_is_emptied_and_one_started_again_lately_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cold.db");
        let log = log_path(&path);
        let writer = wal_writer(&path);
        write(&writer, 500);
        let checkpointing = open(&path).unwrap();
        let page = page_size_of(&checkpointing).unwrap();
        let writes = tokio::sync::Mutex::new(());
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let size = || std::fs::metadata(&log).unwrap().len();
        let mut state = LogState::default();
        let mut tick =
            |limit, now| tick(&checkpointing, page, limit, &writes, &mut state, now).unwrap();
        // A log this process did not start (left by the last one) is emptied at the first
        // tick, far below the limit.
        assert_eq!(tick(u64::MAX, at(0)), Some(Started::Emptied));
        assert_eq!(size(), 0);
        // Emptied by this process, it holds only what was written since: left alone below
        // the limit, however long ago, written or idle.
        write(&writer, 10);
        let small = size();
        assert!(small > 0 && small < 200_000, "log of {small} bytes");
        assert_eq!(tick(1_000_000, at(1)), None);
        assert_eq!(tick(1_000_000, at(100)), None);
        assert_eq!(size(), small);
        // Past the limit, last started 30 s or more ago: emptied, not reused.
        write(&writer, 490);
        assert_eq!(tick(1_000_000, at(101)), Some(Started::Emptied));
        assert_eq!(size(), 0);
        // Past the limit again within 30 s: reused (the same file, neither cut nor grown).
        write(&writer, 500);
        let grown = size();
        assert_eq!(tick(1_000_000, at(110)), Some(Started::Reused));
        write(&writer, 10);
        assert_eq!(size(), grown);
        // A reused log is left alone below the limit for 30 s; after that the file ahead of
        // the writes may be cold, and it is emptied.
        assert_eq!(tick(1_000_000, at(120)), None);
        assert_eq!(tick(1_000_000, at(140)), Some(Started::Emptied));
        assert_eq!(size(), 0);
        assert_eq!(tick(1_000_000, at(300)), None);
        // Nothing was lost.
        let rows: i64 = checkpointing
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1_510);
    }
}

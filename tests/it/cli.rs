//! The `acp-fhir` binary end to end: import, export, crash safety, configuration errors and the
//! server's start-up and graceful shutdown. Each test has its own temporary directory and SQLite
//! database. Nothing sleeps: every wait is on the child's own output (with a generous timeout so
//! a broken build fails instead of hanging).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Row, SqlitePool};
use tempfile::TempDir;

use crate::helpers::{binary_auth, client_with_token, minimal_plan, test_nhs_numbers};

/// How long any single wait on a child may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(120);

const BINARY: &str = env!("CARGO_BIN_EXE_acp-fhir");

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A temporary directory with a database URL pointing into it.
struct Sandbox {
    dir: TempDir,
    database_url: String,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite:{}", dir.path().join("t.db").display());
        Self { dir, database_url }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `count` valid plans to `plans.ndjson` in the sandbox: their NHS numbers and the
    /// file's path.
    fn plans_file(&self, count: usize) -> (Vec<String>, PathBuf) {
        let (numbers, file) = plan_lines(count);
        let input = self.path("plans.ndjson");
        fs::write(&input, file).unwrap();
        (numbers, input)
    }

    fn database_file(&self) -> PathBuf {
        self.path("t.db")
    }

    /// The binary with a clean `ACP_*` environment, plain logs and this sandbox's database.
    fn command(&self) -> Command {
        let mut command = bare_command();
        command.args(["--database-url", &self.database_url]);
        command
    }

    /// `serve` on a free loopback port, started (wait with [`Running::wait_until_listening`]).
    fn serve(&self) -> Running {
        let mut command = self.command();
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        Running::spawn(command)
    }

    /// Runs to completion with the given arguments.
    fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn import(&self, file: &Path, extra: &[&str]) -> Output {
        let mut command = self.command();
        command.arg("import").args(extra).arg(file);
        command.stdin(Stdio::null()).output().unwrap()
    }

    /// `export` to standard output; asserts success and returns the bytes.
    fn export(&self) -> Vec<u8> {
        let output = self.run(&["export"]);
        assert_success(&output, "export");
        output.stdout
    }

    async fn pool(&self) -> SqlitePool {
        let options = SqliteConnectOptions::from_str(&self.database_url)
            .unwrap()
            .create_if_missing(false);
        SqlitePool::connect_with(options).await.unwrap()
    }
}

/// The binary, with every `ACP_*` variable of the test environment removed and plain logs.
fn bare_command() -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ACP_") {
            command.env_remove(&name);
        }
    }
    command.args(["--log-format", "plain"]);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        describe(output)
    );
}

fn assert_code(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: unexpected exit: {}",
        describe(output)
    );
}

/// Removes ANSI escape sequences (CSI `ESC [ ... letter`), so log lines can be parsed whether or
/// not the subscriber coloured them.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// One import line for `nhs_number`: `{"plan": <minimal plan>}`.
fn plan_line(nhs_number: &str) -> String {
    serde_json::json!({ "plan": minimal_plan(nhs_number) }).to_string()
}

/// `count` import lines with distinct test NHS numbers, fast enough for tens of thousands.
fn plan_lines(count: usize) -> (Vec<String>, String) {
    const MARK: &str = "NHS-NUMBER-HERE";
    let template = plan_line(MARK);
    let numbers: Vec<String> = test_nhs_numbers().take(count).collect();
    let mut file = String::with_capacity(template.len() * count + count);
    for number in &numbers {
        file.push_str(&template.replace(MARK, number));
        file.push('\n');
    }
    (numbers, file)
}

/// A valid NHS number with its check digit changed, so it fails the Modulus 11 check.
fn with_wrong_check_digit(valid: &str) -> String {
    let (stem, check) = valid.split_at(9);
    let check: u32 = check.parse().unwrap();
    format!("{stem}{}", (check + 1) % 10)
}

/// Parses export output into records, checking every line is a JSON object.
fn exported_records(bytes: &[u8]) -> Vec<Value> {
    let exported = text(bytes);
    exported
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("export line is not JSON ({e}): {line}"))
        })
        .collect()
}

fn nhs_number_of(record: &Value) -> String {
    record["plan"]["person"]["nhs_number"]
        .as_str()
        .unwrap_or_else(|| panic!("no plan.person.nhs_number in {record}"))
        .to_owned()
}

fn exported_nhs_numbers(bytes: &[u8]) -> BTreeSet<String> {
    exported_records(bytes).iter().map(nhs_number_of).collect()
}

/// The stderr line reporting line `n` of an import, if any.
fn report_for_line(stderr: &str, n: usize) -> Option<String> {
    let prefix = format!("line {n}: ");
    stderr
        .lines()
        .map(strip_ansi)
        .find(|l| l.starts_with(&prefix))
}

/// Asserts the report for line `n` is `line n: <path>: <message>` with a path ending in `field`.
fn assert_line_names_field(stderr: &str, n: usize, field: &str) {
    let report = report_for_line(stderr, n)
        .unwrap_or_else(|| panic!("no report for line {n} in stderr:\n{stderr}"));
    let rest = &report[format!("line {n}: ").len()..];
    let mut reasons = rest.split("; ");
    assert!(
        reasons.any(|reason| reason
            .split_once(": ")
            .is_some_and(|(path, message)| path.ends_with(field) && !message.is_empty())),
        "line {n} should be reported as `line {n}: <…{field}>: <message>`, got: {report}"
    );
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// Counts that show a plan half-written: a plans row without its current version, or a version
/// without its plan.
async fn assert_no_half_written_plans(pool: &SqlitePool) {
    let without_version = count(
        pool,
        "SELECT COUNT(*) FROM plans p LEFT JOIN plan_versions v \
         ON v.plan_id = p.id AND v.version = p.version WHERE v.plan_id IS NULL",
    )
    .await;
    assert_eq!(
        without_version, 0,
        "plans rows without their current version"
    );
    let without_plan = count(
        pool,
        "SELECT COUNT(*) FROM plan_versions v LEFT JOIN plans p ON p.id = v.plan_id \
         WHERE p.id IS NULL",
    )
    .await;
    assert_eq!(without_plan, 0, "plan_versions rows without a plan");
    let integrity: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(integrity, "ok");
}

/// Forwards a child's output, line by line, to a channel (ends when the child closes it).
fn line_channel<R: Read + Send + 'static>(reader: R) -> (Receiver<String>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (receiver, handle)
}

/// A spawned child that is killed if the test fails before it stops it.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stderr line received so far.
    stderr_seen: Vec<String>,
    /// Every stdout line received so far.
    stdout_seen: Vec<String>,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let stderr: ChildStderr = child.stderr.take().unwrap();
        let (stdout, _) = line_channel(stdout);
        let (stderr, _) = line_channel(stderr);
        Self {
            child,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
            stdout_seen: Vec::new(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn transcript(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout_seen.join("\n"),
            self.stderr_seen.join("\n")
        )
    }

    /// The next stdout line, or `None` once the child closed standard output.
    fn next_stdout(&mut self) -> Option<String> {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => {
                self.stdout_seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no output for {PATIENCE:?}:\n{}", self.transcript())
            }
        }
    }

    /// Reads stderr until a line satisfies `wanted` (ANSI removed); panics if stderr closes.
    fn wait_for_stderr(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            match self.stderr.recv_timeout(PATIENCE) {
                Ok(line) => {
                    self.stderr_seen.push(line.clone());
                    let plain = strip_ansi(&line);
                    if wanted(&plain) {
                        return plain;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.drain();
                    panic!(
                        "the process closed stderr before the expected line (exit {:?}):\n{}",
                        self.child.try_wait().ok().flatten(),
                        self.transcript()
                    );
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("waited {PATIENCE:?} for stderr:\n{}", self.transcript())
                }
            }
        }
    }

    /// Waits for `listening address=HOST:PORT` and returns the address.
    fn wait_until_listening(&mut self) -> String {
        let line = self.wait_for_stderr(|l| l.contains("listening") && l.contains("address="));
        let address = line
            .split("address=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in: {line}"))
            .to_owned();
        assert!(
            address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
            "{address}"
        );
        address
    }

    /// Reads whatever is left on both streams until the child closes them.
    fn drain(&mut self) {
        let started = Instant::now();
        loop {
            let remaining = PATIENCE.saturating_sub(started.elapsed());
            match self.stderr.recv_timeout(remaining) {
                Ok(line) => self.stderr_seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stderr never closed"),
            }
        }
        while let Some(line) = self.next_stdout() {
            let _ = line;
        }
    }

    /// Sends SIGTERM, reads both streams to the end and returns the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        self.drain();
        self.child.wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Import and export
// ---------------------------------------------------------------------------------------------

#[test]
fn import_of_a_good_file_stores_every_plan_and_export_gives_them_back() {
    let sandbox = Sandbox::new();
    let (numbers, input) = sandbox.plans_file(30);

    let output = sandbox.import(&input, &[]);
    assert_code(&output, 0, "import");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("30 created, 0 unchanged, 0 rejected"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "not verbose: nothing on stdout");

    let exported = sandbox.export();
    let records = exported_records(&exported);
    assert_eq!(records.len(), 30);
    let mut ids = BTreeSet::new();
    for record in &records {
        let id = record["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id: {record}"));
        assert!(!id.is_empty());
        ids.insert(id.to_owned());
        assert_eq!(record["version"], 1, "{record}");
        assert_eq!(record["status"], "active", "{record}");
    }
    assert_eq!(ids.len(), 30, "ids are distinct");
    let expected: BTreeSet<String> = numbers.into_iter().collect();
    assert_eq!(exported_nhs_numbers(&exported), expected);
}

/// An import (and an export) closes the store itself, leaving the database's write-ahead log
/// empty, so the next start serves at once. Left to SQLite as the process's last connection
/// closes, a small log is usually emptied in time, but a 1,000,000-plan import exited with a
/// 1 GB log behind it and the service then spent 5.5 s emptying it before it answered
/// (BENCHMARKS.md, thirteenth round). Fails if the commands stop closing the store (no
/// "database closed" line).
#[test]
fn import_and_export_close_the_database_and_leave_the_write_ahead_log_empty() {
    let sandbox = Sandbox::new();
    let (_, input) = sandbox.plans_file(30);
    let log = sandbox.path("t.db-wal");
    let log_bytes = || fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let closed = |output: &Output| {
        text(&output.stderr)
            .lines()
            .any(|l| strip_ansi(l).contains("database closed"))
    };

    let imported = sandbox.import(&input, &[]);
    assert_code(&imported, 0, "import");
    assert!(closed(&imported), "{}", describe(&imported));
    assert_eq!(log_bytes(), 0, "the import left its log behind");
    let exported = sandbox.run(&["export"]);
    assert_success(&exported, "export");
    assert!(closed(&exported), "{}", describe(&exported));
    assert_eq!(exported_records(&exported.stdout).len(), 30);
    assert_eq!(log_bytes(), 0, "the export left a log behind");
}

#[test]
fn verbose_import_reports_every_line_on_stdout() {
    let sandbox = Sandbox::new();
    let (_, file) = plan_lines(3);
    let input = sandbox.path("plans.ndjson");
    fs::write(&input, &file).unwrap();

    let first = sandbox.import(&input, &["--verbose"]);
    assert_code(&first, 0, "import");
    let stdout = text(&first.stdout);
    let created: Vec<&str> = stdout.lines().collect();
    assert_eq!(created.len(), 3, "{stdout}");
    for (i, line) in created.iter().enumerate() {
        assert!(
            line.starts_with(&format!("line {}: created ", i + 1)),
            "{line}"
        );
    }

    let second = sandbox.import(&input, &["-v"]);
    assert_code(&second, 0, "re-import");
    let again = text(&second.stdout);
    for (i, line) in again.lines().enumerate() {
        let id = created[i].rsplit(' ').next().unwrap();
        assert_eq!(line, format!("line {}: unchanged {id}", i + 1));
    }
    assert_eq!(again.lines().count(), 3);
}

#[tokio::test]
async fn reimporting_the_same_file_changes_nothing() {
    let sandbox = Sandbox::new();
    let (_, input) = sandbox.plans_file(30);
    assert_code(&sandbox.import(&input, &[]), 0, "first import");
    let before = sandbox.export();
    let pool = sandbox.pool().await;
    let versions_before = count(&pool, "SELECT COUNT(*) FROM plan_versions").await;
    let plans_before = count(&pool, "SELECT COUNT(*) FROM plans").await;
    assert_eq!((plans_before, versions_before), (30, 30));

    let again = sandbox.import(&input, &[]);
    assert_code(&again, 0, "second import");
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("0 created, 30 unchanged, 0 rejected"),
        "{stderr}"
    );

    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM plan_versions").await,
        versions_before
    );
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM plans").await,
        plans_before
    );
    pool.close().await;
    assert_eq!(sandbox.export(), before, "export changed after a re-import");
}

#[test]
fn an_export_imports_into_a_fresh_database_unchanged() {
    let source = Sandbox::new();
    let (_, input) = source.plans_file(30);
    assert_code(&source.import(&input, &[]), 0, "import");

    // Export to a file this time (and check stdout gives the same bytes).
    let exported_file = source.path("export.ndjson");
    let written = source.run(&["export", "--output", exported_file.to_str().unwrap()]);
    assert_success(&written, "export --output");
    assert!(written.stdout.is_empty());
    assert!(
        text(&written.stderr).contains("exported 30 plans"),
        "{}",
        describe(&written)
    );
    let exported = fs::read(&exported_file).unwrap();
    assert_eq!(source.export(), exported);

    let target = Sandbox::new();
    let output = target.import(&exported_file, &[]);
    assert_code(&output, 0, "import of the export");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("30 created, 0 unchanged, 0 rejected"),
        "{stderr}"
    );
    let reexported = target.export();
    assert_eq!(
        text(&reexported),
        text(&exported),
        "the copy exports differently"
    );
    let source_ids: BTreeSet<String> = exported_records(&exported)
        .into_iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let target_ids: BTreeSet<String> = exported_records(&reexported)
        .into_iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(source_ids.len(), 30);
    assert_eq!(source_ids, target_ids, "ids kept");

    // And the export re-imported over itself is all unchanged.
    let again = target.import(&exported_file, &[]);
    assert_code(&again, 0, "re-import of the export");
    assert!(text(&again.stderr).contains("0 created, 30 unchanged, 0 rejected"));
}

#[test]
fn bad_lines_are_reported_by_number_and_field_and_good_lines_kept() {
    let sandbox = Sandbox::new();
    let numbers: Vec<String> = test_nhs_numbers().take(6).collect();
    let mut blank_family = minimal_plan(&numbers[3]);
    blank_family["person"]["family_name"] = Value::from("  ");
    let lines = [
        plan_line(&numbers[0]),                                  // 1 good
        r#"{"plan": {"person": "#.to_owned(),                    // 2 malformed
        plan_line(&with_wrong_check_digit(&numbers[2])),         // 3 bad NHS number
        String::new(),                                           // 4 blank
        serde_json::json!({ "plan": blank_family }).to_string(), // 5 domain rule
        "   \t ".to_owned(),                                     // 6 blank
        plan_line(&numbers[5]),                                  // 7 good
    ];
    let input = sandbox.path("mixed.ndjson");
    fs::write(&input, lines.join("\n") + "\n").unwrap();

    let output = sandbox.import(&input, &[]);
    assert_code(&output, 2, "import with bad lines");
    let stderr = text(&output.stderr);

    let malformed = report_for_line(&stderr, 2).unwrap_or_else(|| panic!("{stderr}"));
    assert!(malformed.contains("malformed JSON"), "{malformed}");
    assert_line_names_field(&stderr, 3, "person.nhs_number");
    assert_line_names_field(&stderr, 5, "person.family_name");
    for n in [1, 4, 6, 7] {
        assert_eq!(
            report_for_line(&stderr, n),
            None,
            "line {n} reported:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("2 created, 0 unchanged, 3 rejected"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let stored = exported_nhs_numbers(&sandbox.export());
    let expected: BTreeSet<String> = [numbers[0].clone(), numbers[5].clone()].into();
    assert_eq!(stored, expected);
}

#[test]
fn bad_line_paths_are_relative_to_the_same_root() {
    // A line's field paths should all be written from the line's root (`plan.person.…`) or all
    // from the plan's (`person.…`), so a reader can find the field either way.
    let sandbox = Sandbox::new();
    let numbers: Vec<String> = test_nhs_numbers().take(2).collect();
    let mut blank_family = minimal_plan(&numbers[1]);
    blank_family["person"]["family_name"] = Value::from("");
    let lines = [
        plan_line(&with_wrong_check_digit(&numbers[0])),
        serde_json::json!({ "plan": blank_family }).to_string(),
    ];
    let input = sandbox.path("paths.ndjson");
    fs::write(&input, lines.join("\n")).unwrap();
    let output = sandbox.import(&input, &[]);
    assert_code(&output, 2, "import");
    let stderr = text(&output.stderr);
    let path_of = |n: usize| {
        let report = report_for_line(&stderr, n).unwrap_or_else(|| panic!("{stderr}"));
        report
            .split(": ")
            .nth(1)
            .unwrap_or_else(|| panic!("no path: {report}"))
            .to_owned()
    };
    let nhs_path = path_of(1);
    let family_path = path_of(2);
    assert_eq!(
        nhs_path.strip_suffix("nhs_number"),
        family_path.strip_suffix("family_name"),
        "inconsistent field paths for one line format: `{nhs_path}` vs `{family_path}`"
    );
}

#[test]
fn strict_import_stops_at_the_first_bad_line() {
    let sandbox = Sandbox::new();
    let numbers: Vec<String> = test_nhs_numbers().take(5).collect();
    let lines = [
        plan_line(&numbers[0]),
        plan_line(&numbers[1]),
        plan_line(&with_wrong_check_digit(&numbers[2])),
        plan_line(&numbers[3]),
        "not json at all".to_owned(),
        plan_line(&numbers[4]),
    ];
    let input = sandbox.path("strict.ndjson");
    fs::write(&input, lines.join("\n") + "\n").unwrap();

    let output = sandbox.import(&input, &["--strict"]);
    assert_code(&output, 1, "strict import");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("--strict"), "{stderr}");
    assert!(stderr.contains("nhs_number"), "{stderr}");
    assert!(
        !stderr.contains("line 5"),
        "went past the first bad line:\n{stderr}"
    );

    let stored = exported_nhs_numbers(&sandbox.export());
    let expected: BTreeSet<String> = [numbers[0].clone(), numbers[1].clone()].into();
    assert_eq!(
        stored, expected,
        "only the lines before the bad one are stored"
    );
}

#[test]
fn a_second_plan_for_a_person_is_rejected_and_the_stored_plan_kept() {
    let sandbox = Sandbox::new();
    let nhs = test_nhs_numbers().next().unwrap();
    let original = sandbox.path("original.ndjson");
    fs::write(&original, plan_line(&nhs) + "\n").unwrap();
    assert_code(&sandbox.import(&original, &[]), 0, "first import");
    let before = sandbox.export();
    let stored = exported_records(&before).remove(0);
    let stored_id = stored["id"].as_str().unwrap().to_owned();

    let mut different = minimal_plan(&nhs);
    different["person"]["family_name"] = Value::from("Otherperson");
    let mut same_id_different = stored.clone();
    same_id_different["plan"]["review_date"] = Value::from("2027-03-01");
    let lines = [
        // A new plan (no id) for the same person.
        serde_json::json!({ "plan": different }).to_string(),
        // The stored plan's id with different content.
        same_id_different.to_string(),
        // A different id for the same person.
        serde_json::json!({
            "id": "00000000-0000-4000-8000-000000000001",
            "plan": minimal_plan(&nhs)
        })
        .to_string(),
    ];
    let input = sandbox.path("second.ndjson");
    fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = sandbox.import(&input, &[]);
    assert_code(&output, 2, "import of a second plan");
    let stderr = text(&output.stderr);
    for n in 1..=3 {
        assert!(
            report_for_line(&stderr, n).is_some(),
            "line {n} not reported:\n{stderr}"
        );
    }
    assert!(
        report_for_line(&stderr, 1).unwrap().contains(&stored_id),
        "the rejection names the plan already there:\n{stderr}"
    );
    assert!(
        stderr.contains("0 created, 0 unchanged, 3 rejected"),
        "{stderr}"
    );
    assert_eq!(sandbox.export(), before, "the stored plan changed");
    let all = sandbox.run(&["export", "--all"]);
    assert_success(&all, "export --all");
    assert_eq!(
        exported_records(&all.stdout).len(),
        1,
        "nothing else stored"
    );
}

// ---------------------------------------------------------------------------------------------
// Crash safety
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_part_way_keeps_what_it_reported_and_resumes_cleanly() {
    const PLANS: usize = 20_000;
    const BEFORE_KILL: usize = 200;
    let sandbox = Sandbox::new();
    let (numbers, file) = plan_lines(PLANS);
    let input = sandbox.path("big.ndjson");
    fs::write(&input, file).unwrap();

    let mut command = sandbox.command();
    command.args(["import", "--verbose"]).arg(&input);
    let mut running = Running::spawn(command);
    let mut reported: HashMap<String, usize> = HashMap::new();
    let parse = |line: &str| -> (usize, String) {
        let rest = line
            .strip_prefix("line ")
            .unwrap_or_else(|| panic!("unexpected stdout line: {line}"));
        let (n, outcome) = rest
            .split_once(": created ")
            .unwrap_or_else(|| panic!("a fresh database should only create, got: {line}"));
        (n.parse().unwrap(), outcome.to_owned())
    };
    while reported.len() < BEFORE_KILL {
        let Some(line) = running.next_stdout() else {
            panic!(
                "the import ended before {BEFORE_KILL} lines: {}",
                running.transcript()
            );
        };
        let (n, id) = parse(&line);
        reported.insert(id, n);
    }
    running.child.kill().unwrap();
    let status = running.child.wait().unwrap();
    assert!(!status.success(), "killed before the end: {status:?}");
    // Whatever it had written before the kill is still in the pipe: it was reported too.
    running.drain();
    for line in &running.stdout_seen[BEFORE_KILL..] {
        let (n, id) = parse(line);
        reported.insert(id, n);
    }
    assert!(
        reported.len() < PLANS,
        "the import finished before the kill"
    );

    let pool = sandbox.pool().await;
    assert_no_half_written_plans(&pool).await;
    let stored = count(&pool, "SELECT COUNT(*) FROM plans").await;
    assert!(
        usize::try_from(stored).unwrap() >= reported.len(),
        "{stored} stored but {} reported created",
        reported.len()
    );
    for (id, line) in &reported {
        let row = sqlx::query(
            "SELECT v.document, p.nhs_number FROM plans p \
             JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version WHERE p.id = ?",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("plan {id} (line {line}) reported created but not stored"));
        let document: Value = serde_json::from_str(row.get::<&str, _>(0))
            .unwrap_or_else(|e| panic!("plan {id}: unreadable document: {e}"));
        let expected = &numbers[line - 1];
        assert_eq!(&nhs_number_of(&document), expected, "plan {id}");
        assert_eq!(row.get::<String, _>(1), *expected);
    }
    pool.close().await;

    let resumed = sandbox.import(&input, &[]);
    assert_code(&resumed, 0, "resumed import");
    let stderr = text(&resumed.stderr);
    let summary = format!(
        "{} created, {stored} unchanged, 0 rejected",
        i64::try_from(PLANS).unwrap() - stored
    );
    assert!(stderr.contains(&summary), "expected `{summary}`:\n{stderr}");

    let exported = sandbox.export();
    let records = exported_records(&exported);
    assert_eq!(records.len(), PLANS);
    let ids: BTreeSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), PLANS, "duplicated ids");
    for id in reported.keys() {
        assert!(
            ids.contains(id.as_str()),
            "plan {id} lost by the resumed import"
        );
    }
    let expected: BTreeSet<String> = numbers.into_iter().collect();
    assert_eq!(exported_nhs_numbers(&exported), expected);

    let pool = sandbox.pool().await;
    assert_no_half_written_plans(&pool).await;
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM plan_versions").await,
        i64::try_from(PLANS).unwrap()
    );
    pool.close().await;
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn a_malformed_listen_address_stops_start_up_naming_the_flag() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["serve", "--listen", "nowhere"]);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        text(&output.stderr).contains("--listen"),
        "{}",
        describe(&output)
    );
    assert!(
        !sandbox.database_file().exists(),
        "start-up went as far as the database"
    );
}

#[test]
fn an_unknown_acp_variable_stops_start_up_naming_it() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .command()
        .env("ACP_LSTEN", "x")
        .arg("export")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_code(&output, 2, "unknown variable");
    assert!(
        text(&output.stderr).contains("ACP_LSTEN"),
        "{}",
        describe(&output)
    );
    assert!(output.stdout.is_empty());
    assert!(
        !sandbox.database_file().exists(),
        "start-up went as far as the database"
    );
}

#[test]
fn an_unsupported_database_url_is_refused_without_showing_its_password() {
    let sandbox = Sandbox::new();
    let output = bare_command()
        .args(["--database-url", "mysql://u:secret@h/db", "export"])
        .current_dir(sandbox.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--database-url") || stderr.contains("ACP_DATABASE_URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "password shown: {stderr}");
    assert!(!text(&output.stdout).contains("secret"));

    // The same from the environment.
    let output = bare_command()
        .env("ACP_DATABASE_URL", "postgres://u:secret@h/db")
        .arg("export")
        .current_dir(sandbox.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        !text(&output.stderr).contains("secret"),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_bad_log_filter_stops_start_up_naming_acp_log() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .command()
        .env("ACP_LOG", "[[[")
        .arg("export")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        text(&output.stderr).contains("ACP_LOG"),
        "{}",
        describe(&output)
    );
    assert!(output.stdout.is_empty());
    assert!(
        !sandbox.database_file().exists(),
        "start-up went as far as the database"
    );
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// `GET /health/ready` of the server at `address`, which must answer 200.
async fn answered_ready(address: &str) -> reqwest::Response {
    let response = reqwest::get(format!("http://{address}/health/ready"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response
}

#[tokio::test]
async fn serve_answers_and_stops_gracefully_on_sigterm() {
    let sandbox = Sandbox::new();
    let mut running = sandbox.serve();
    let address = running.wait_until_listening();

    let response = answered_ready(&address).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    let status = running.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}\n{}",
        running.transcript()
    );
    assert!(
        running
            .stderr_seen
            .iter()
            .any(|l| strip_ansi(l).contains("stopped")),
        "no `stopped` log:\n{}",
        running.transcript()
    );
    assert!(
        running.stdout_seen.is_empty(),
        "serve without --demo prints nothing on stdout"
    );
}

/// Each thread of process `pid`: its name (`comm`, at most 15 bytes) and its scheduling
/// policy (`/proc/.../stat` field 41: 0 `SCHED_OTHER`, 3 `SCHED_BATCH`).
#[cfg(target_os = "linux")]
fn thread_policies(pid: u32) -> Vec<(String, u32)> {
    fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|entry| {
            let task = entry.unwrap().path();
            // A thread that ended since the directory was read is skipped.
            let name = fs::read_to_string(task.join("comm")).ok()?;
            let stat = fs::read_to_string(task.join("stat")).ok()?;
            // After the name in parentheses (which may hold spaces) comes field 3, the state.
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            let policy = after_name.split(' ').nth(41 - 3).unwrap().parse().unwrap();
            Some((name.trim_end().to_owned(), policy))
        })
        .collect()
}

/// The store's background threads (the request audit writer and the checkpointers of both
/// files' write-ahead logs) run under `SCHED_BATCH`, so that waking up they do not take a core
/// from an HTTP worker in the middle of a request (src/store/background.rs, BENCHMARKS.md
/// nineteenth round); the HTTP workers keep the default policy. Fails if either is lost.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_store_background_threads_run_under_the_batch_policy_and_the_http_workers_do_not() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_BATCH: u32 = 3;
    let sandbox = Sandbox::new();
    let mut running = sandbox.serve();
    let address = running.wait_until_listening();
    // The HTTP workers start after `listening` is logged: one that has answered exists.
    answered_ready(&address).await;
    let threads = thread_policies(running.pid());
    let policy_of = |name: &str| -> Vec<u32> {
        threads
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .collect()
    };
    // Thread names as the kernel keeps them: cut to 15 bytes.
    for background in ["sqlite-audit", "sqlite-audit-ch", "sqlite-checkpoi"] {
        assert_eq!(
            policy_of(background),
            vec![SCHED_BATCH],
            "{background}: {threads:?}"
        );
    }
    let workers = policy_of("actix-server wo");
    assert!(!workers.is_empty(), "no HTTP worker found: {threads:?}");
    assert!(
        workers.iter().all(|p| *p == SCHED_OTHER),
        "HTTP workers: {threads:?}"
    );
    let status = running.terminate();
    assert_eq!(status.code(), Some(0), "{}", running.transcript());
}

#[test]
fn sigterm_right_after_the_listening_log_still_stops_gracefully() {
    // `listening` is what a supervisor waits for; a SIGTERM sent the moment it appears must get
    // the graceful shutdown too, not the default action (death by signal). The window is short,
    // so try a few times.
    for attempt in 1..=10 {
        let sandbox = Sandbox::new();
        let mut running = sandbox.serve();
        running.wait_until_listening();
        let status = running.terminate();
        assert_eq!(
            status.code(),
            Some(0),
            "attempt {attempt}: SIGTERM just after `listening` gave {status:?}\n{}",
            running.transcript()
        );
    }
}

#[test]
fn piped_plain_logs_carry_no_terminal_colour_codes() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["export"]);
    assert_success(&output, "export");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("database open"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape codes in logs written to a pipe: {stderr:?}"
    );
}

/// Starts `serve --demo`, reads its example requests and checks them; returns the `Demo data`
/// line and the running server.
fn start_demo(sandbox: &Sandbox) -> (String, String, Running) {
    let mut command = sandbox.command();
    command.args(["serve", "--demo", "--listen", "127.0.0.1:0"]);
    let mut running = Running::spawn(command);
    let mut printed = Vec::new();
    loop {
        let Some(line) = running.next_stdout() else {
            running.drain();
            let status = running.child.wait().unwrap();
            panic!(
                "serve --demo stopped before printing its examples ({status:?}); \
                 is fixtures/plans.ndjson empty?\n{}",
                running.transcript()
            );
        };
        let done = line.contains("/health/ready");
        printed.push(line);
        if done {
            break;
        }
    }
    let address = running.wait_until_listening();
    let summary = printed
        .iter()
        .find(|l| l.starts_with("Demo data: "))
        .unwrap_or_else(|| panic!("no summary: {printed:?}"))
        .clone();
    let curls: Vec<&String> = printed.iter().filter(|l| l.contains("curl")).collect();
    assert!(curls.len() >= 3, "{printed:?}");
    for curl in &curls {
        assert!(curl.contains(&format!("http://{address}/")), "{curl}");
    }
    (summary, address, running)
}

/// `Demo data: N plans (C new, U already there, R refused).` → (N, C, U, R).
fn demo_counts(summary: &str) -> [u64; 4] {
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 4, "{summary}");
    [numbers[0], numbers[1], numbers[2], numbers[3]]
}

#[tokio::test]
async fn serve_demo_loads_the_demo_plans_once_and_prints_example_requests() {
    let sandbox = Sandbox::new();
    let (summary, _, mut running) = start_demo(&sandbox);
    let [total, new, already, refused] = demo_counts(&summary);
    assert!(total > 0, "{summary}");
    assert_eq!((new, already, refused), (total, 0, 0), "{summary}");

    // The printed token opens every example GET.
    let token = running
        .stdout_seen
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("export TOKEN='")
                .and_then(|rest| rest.strip_suffix('\''))
        })
        .unwrap_or_else(|| panic!("no token printed:\n{}", running.transcript()))
        .to_owned();
    let client = client_with_token(&token);
    for line in running.stdout_seen.clone() {
        if !line.contains("curl") {
            continue;
        }
        let Some(url) = line
            .split_whitespace()
            .map(|w| w.trim_matches('\''))
            .find(|w| w.starts_with("http://"))
        else {
            continue;
        };
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
    }
    // Without it, nothing but the open endpoints answers.
    let summary_url = running
        .stdout_seen
        .iter()
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.trim_matches('\''))
        .find(|w| w.contains("$summary"))
        .unwrap()
        .to_owned();
    let refused = reqwest::get(&summary_url).await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    // The printed `acp-fhir token` command gets a fresh token through the SMART flow.
    let command_line = running
        .stdout_seen
        .iter()
        .find(|l| l.contains("acp-fhir token"))
        .unwrap()
        .clone();
    let words: Vec<&str> = command_line
        .split_whitespace()
        .map(|w| w.trim_end_matches(')'))
        .collect();
    let key = words[words.iter().position(|w| *w == "--key").unwrap() + 1];
    let url = words[words.iter().position(|w| *w == "--url").unwrap() + 1];
    let output = bare_command()
        .args(["token", "--client", "demo", "--key", key, "--url", url])
        .output()
        .unwrap();
    assert_success(&output, "acp-fhir token");
    let fresh = text(&output.stdout);
    let fresh = fresh.lines().last().unwrap().trim();
    assert_ne!(fresh, token);
    let response = client_with_token(fresh)
        .get(&summary_url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let status = running.terminate();
    assert_eq!(status.code(), Some(0), "{}", running.transcript());

    let (summary, second_address, mut running) = start_demo(&sandbox);
    assert!(summary.contains("0 new"), "{summary}");
    assert_eq!(demo_counts(&summary), [total, 0, total, 0], "{summary}");
    // Once it has answered, the server is certainly up (see `sigterm_right_after_the_listening_log_still_stops_gracefully`).
    let response = client
        .get(format!("http://{second_address}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let status = running.terminate();
    assert_eq!(status.code(), Some(0), "{}", running.transcript());
}

// ---------------------------------------------------------------------------------------------
// H8: nothing clinical in the logs
// ---------------------------------------------------------------------------------------------

/// Every kind of request, good and bad, carrying an NHS number, a name and clinical free text
/// in the body, the query string and error messages: none of it may reach the log, even at
/// debug level.
#[tokio::test]
async fn nothing_clinical_reaches_the_logs_even_at_debug_level() {
    let sandbox = Sandbox::new();
    let auth = binary_auth().await;
    let mut command = sandbox.command();
    command.args(["--log", "debug", "serve", "--listen", "127.0.0.1:0"]);
    command.args(&auth.args);
    let mut running = Running::spawn(command);
    let address = running.wait_until_listening();
    let base = format!("http://{address}");
    let client = client_with_token(&auth.token);

    let nhs = "9994010077";
    let wrong_check_digit = "9994010078";
    let secrets = [
        nhs,
        wrong_check_digit,
        "Zyxwvutsonian",
        "SECRET-NOTE-7781",
        "CLINICAL-REASON-5521",
        "DIAGNOSIS-TEXT-3391",
        "purple form on the fridge",
    ];
    let mut plan = minimal_plan(nhs);
    plan["person"]["family_name"] = "Zyxwvutsonian".into();
    plan["special_note"] = "SECRET-NOTE-7781".into();
    plan["diagnosis"]["primary"]["text"] = "DIAGNOSIS-TEXT-3391".into();
    plan["resuscitation_decisions"][0]["reason"] = "CLINICAL-REASON-5521".into();

    let created = client
        .post(format!("{base}/api/v1/plans"))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (query, status) in [(nhs, 200), (wrong_check_digit, 400)] {
        let found = client
            .get(format!("{base}/api/v1/plans?nhs_number={query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(found.status().as_u16(), status);
    }
    // A duplicate (409), a rule failure (422), a stale version (412), malformed JSON (400).
    let duplicate = client
        .post(format!("{base}/api/v1/plans"))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status().as_u16(), 409);
    let mut invalid = plan.clone();
    invalid["person"]["given_names"] = serde_json::json!([]);
    let refused = client
        .put(format!("{base}/api/v1/plans/{id}"))
        .header("If-Match", "\"1\"")
        .json(&invalid)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);
    let stale = client
        .put(format!("{base}/api/v1/plans/{id}"))
        .header("If-Match", "\"7\"")
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 412);
    let malformed = client
        .post(format!("{base}/api/v1/plans"))
        .header("Content-Type", "application/json")
        .body(format!(
            "{{\"person\": {{\"nhs_number\": \"{nhs}\", \"family_name\": \"Zyxwvutsonian\""
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let history = client
        .get(format!("{base}/api/v1/plans/{id}/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status().as_u16(), 200);
    // FHIR, a refused token and an emergency override reason (recorded in the audit trail,
    // never in the log).
    let summary = client
        .get(format!(
            "{base}/fhir/Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(summary.status().as_u16(), 200);
    let bad_token = reqwest::Client::new()
        .get(format!("{base}/fhir/CarePlan/{id}"))
        .header("Authorization", "Bearer SECRET-TOKEN-not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status().as_u16(), 401);
    let not_permitted = client
        .get(format!("{base}/fhir/CarePlan/{id}"))
        .header("X-Emergency-Override", "OVERRIDE-REASON-4410")
        .send()
        .await
        .unwrap();
    assert_eq!(not_permitted.status().as_u16(), 403);

    let status = running.terminate();
    assert_eq!(status.code(), Some(0), "{}", running.transcript());
    let log = running.stderr_seen.join("\n");
    // No token, whole or in part (its signature), reaches the log either.
    let signature = auth.token.rsplit('.').next().unwrap().to_owned();
    for secret in [
        auth.token.as_str(),
        signature.as_str(),
        "SECRET-TOKEN-not-a-jwt",
        "OVERRIDE-REASON-4410",
    ] {
        assert!(!log.contains(secret), "`{secret}` reached the log:\n{log}");
    }
    assert!(
        log.contains("handled"),
        "the requests were logged at all:\n{log}"
    );
    for secret in secrets {
        assert!(
            !log.contains(secret),
            "`{secret}` reached the log (H8):\n{log}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Clients, tokens and keys
// ---------------------------------------------------------------------------------------------

fn clients_add(sandbox: &Sandbox, registry: &Path, id: &str, scope: &str) -> Output {
    let registry = registry.display().to_string();
    sandbox.run(&[
        "clients",
        "add",
        "--clients",
        &registry,
        "--id",
        id,
        "--name",
        "Borsetshire Ambulance Service CAD",
        "--organisation",
        "Y09871",
        "--scope",
        scope,
    ])
}

fn token_for(sandbox: &Sandbox, client: &str, key: &Path, scope: &str, base: &str) -> Output {
    let key = key.display().to_string();
    sandbox.run(&[
        "token", "--client", client, "--key", &key, "--scope", scope, "--url", base,
    ])
}

#[tokio::test]
async fn clients_add_registers_a_client_whose_token_works_without_a_restart() {
    use std::os::unix::fs::PermissionsExt as _;
    let sandbox = Sandbox::new();
    let registry = sandbox.path("clients.toml");
    let signing_key = sandbox.path("signing.key.pem");
    let output = sandbox.run(&["keygen", "--out", &signing_key.display().to_string()]);
    assert_success(&output, "keygen");
    let output = clients_add(&sandbox, &registry, "cad", "system/*.rs");
    assert_success(&output, "clients add");
    let key = sandbox.path("cad.key.pem");
    for secret in [&key, &signing_key] {
        let mode = fs::metadata(secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", secret.display());
    }
    assert!(!text(&output.stdout).contains("PRIVATE KEY"));
    let written = fs::read_to_string(&registry).unwrap();
    assert!(written.contains("id = \"cad\""), "{written}");
    assert!(
        !written.contains("\"d\""),
        "no private part in the registry: {written}"
    );
    // The same id twice is refused and leaves the file as it was.
    let again = clients_add(&sandbox, &registry, "cad", "system/*.rs");
    assert_code(&again, 1, "a second `cad`");
    assert!(text(&again.stderr).contains("already registered"));
    assert_eq!(fs::read_to_string(&registry).unwrap(), written);
    // A scope that does not parse is refused before anything is written.
    let bad = clients_add(&sandbox, &registry, "bad", "user/*.read");
    assert_code(&bad, 1, "a bad scope");
    assert!(!sandbox.path("bad.key.pem").exists());

    let mut command = sandbox.command();
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--clients",
        &registry.display().to_string(),
        "--signing-keys",
        &signing_key.display().to_string(),
    ]);
    let mut running = Running::spawn(command);
    let address = running.wait_until_listening();
    let base = format!("http://{address}");

    let output = token_for(&sandbox, "cad", &key, "system/*.rs", &base);
    assert_success(&output, "token");
    let token = text(&output.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let client = client_with_token(&token);
    let metadata_free = client
        .get(format!("{base}/fhir/Consent?_count=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata_free.status().as_u16(), 200);

    // A client added while the service runs gets a token at once.
    let output = clients_add(&sandbox, &registry, "ooh", "system/Consent.rs");
    assert_success(&output, "clients add ooh");
    let output = token_for(
        &sandbox,
        "ooh",
        &sandbox.path("ooh.key.pem"),
        "system/Consent.rs",
        &base,
    );
    assert_success(&output, "token for a client added while running");
    // A scope it is not registered for is refused, and said so.
    let output = token_for(
        &sandbox,
        "ooh",
        &sandbox.path("ooh.key.pem"),
        "system/CarePlan.rs",
        &base,
    );
    assert_code(&output, 1, "an unregistered scope");
    assert!(
        text(&output.stderr).contains("invalid_scope"),
        "{}",
        describe(&output)
    );

    let status = running.terminate();
    assert_eq!(status.code(), Some(0), "{}", running.transcript());
    let log = running.stderr_seen.join("\n");
    assert!(!log.contains(&token), "the token reached the log");
}

#[test]
fn generated_plans_import_and_the_same_seed_gives_the_same_file() {
    let sandbox = Sandbox::new();
    let first = sandbox.path("a.ndjson");
    let second = sandbox.path("b.ndjson");
    for file in [&first, &second] {
        let output = sandbox.run(&[
            "generate",
            "--count",
            "40",
            "--seed",
            "9",
            "--output",
            &file.display().to_string(),
        ]);
        assert_success(&output, "generate");
        assert!(text(&output.stderr).contains("generated 40 plans"));
    }
    assert_eq!(fs::read(&first).unwrap(), fs::read(&second).unwrap());
    let output = sandbox.run(&["import", &first.display().to_string()]);
    assert_success(&output, "import of generated plans");
    let output = sandbox.run(&["export"]);
    assert_success(&output, "export");
    assert_eq!(exported_nhs_numbers(&output.stdout).len(), 40);
}

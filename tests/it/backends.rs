//! Running on PostgreSQL beside SQLite: moving data with its full history between backends,
//! migrations (empty, up to date, several instances at once), a saturated pool answering 503
//! instead of hanging, readiness that follows the database, and two service processes on one
//! PostgreSQL (read-your-write across instances, one winner per version, no committed write lost
//! when an instance dies). PostgreSQL-only checks are skipped when `ACP_TEST_POSTGRES_URL` is
//! unset; CI sets it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use acp_fhir::clock::FixedClock;
use acp_fhir::ndjson;
use acp_fhir::service::PlanService;
use acp_fhir::store::{self, PostgresStore, SqliteStore, StoreOptions};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{
    binary_auth, client_with_token, minimal_plan, postgres_url, spawn_app_with_store,
    test_nhs_numbers, test_now, BinaryAuth,
};

const FIXTURES: &str = include_str!("../../fixtures/plans.ndjson");

macro_rules! postgres_or_skip {
    () => {
        match postgres_url().await {
            Some(url) => url,
            None => {
                eprintln!("skipped: ACP_TEST_POSTGRES_URL is not set");
                return;
            }
        }
    };
}

async fn service_on(url: &str) -> PlanService {
    let store = store::connect(url).await.unwrap();
    PlanService::new(store, Arc::new(FixedClock(test_now())), "backend-test")
}

async fn export_all(service: &PlanService) -> Vec<u8> {
    let mut out = Vec::new();
    ndjson::export(service, true, true, &mut out).await.unwrap();
    out
}

/// Loads the fixtures and gives some plans several versions.
async fn seeded(url: &str) -> PlanService {
    let service = service_on(url).await;
    let summary = ndjson::import(&service, FIXTURES.as_bytes(), true, |_, _, _| {})
        .await
        .unwrap();
    assert!(summary.created >= 12);
    for record in service.list(None, 100, false).await.unwrap().iter().take(4) {
        let mut current = record.clone();
        for n in 0..3 {
            let mut content = current.plan.clone();
            content.special_note = Some(format!("revision {n}"));
            current = service
                .revise(current.id, current.version, content)
                .await
                .unwrap();
        }
    }
    service
}

async fn moves_with_full_history(from: &str, to: &str) {
    let source = seeded(from).await;
    let exported = export_all(&source).await;
    let lines = exported.iter().filter(|b| **b == b'\n').count();
    assert!(
        lines >= 14 + 4 * 3,
        "every version is exported ({lines} lines)"
    );

    let target = service_on(to).await;
    let summary = ndjson::import(&target, exported.as_slice(), true, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(summary.rejected, 0);
    assert_eq!(summary.versions_added, 12);
    assert_eq!(
        export_all(&target).await,
        exported,
        "the same plans, byte for byte"
    );

    for record in source.list(None, 100, true).await.unwrap() {
        assert_eq!(
            target.history(record.id).await.unwrap(),
            source.history(record.id).await.unwrap()
        );
    }
    // Importing the same export again changes nothing.
    let again = ndjson::import(&target, exported.as_slice(), true, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!((again.created, again.versions_added), (0, 0));
    assert_eq!(again.unchanged as usize, lines);
}

#[tokio::test]
async fn export_with_history_moves_sqlite_to_postgres_and_back() {
    let postgres = postgres_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("from.db").display());
    moves_with_full_history(&sqlite, &postgres).await;
    let back = format!("sqlite:{}", dir.path().join("back.db").display());
    moves_with_full_history(&postgres_or_skip!(), &back).await;
}

#[tokio::test]
async fn export_with_history_moves_between_sqlite_databases() {
    let dir = tempfile::tempdir().unwrap();
    let from = format!("sqlite:{}", dir.path().join("a.db").display());
    let to = format!("sqlite:{}", dir.path().join("b.db").display());
    moves_with_full_history(&from, &to).await;
}

#[tokio::test]
async fn an_import_with_missing_versions_is_refused() {
    let service = seeded("sqlite::memory:").await;
    let exported = export_all(&service).await;
    let text = String::from_utf8(exported).unwrap();
    // Keep version 1 and version 3 of a plan that has 4: version 2 is missing.
    let revised: Vec<&str> = text.lines().filter(|l| l.contains("revision")).collect();
    let plan_id = serde_json::from_str::<Value>(revised[0]).unwrap()["id"].clone();
    let of_plan: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["id"] == plan_id)
        .collect();
    assert_eq!(of_plan.len(), 4);
    let gappy = format!("{}\n{}\n", of_plan[0], of_plan[2]);
    let target = service_on("sqlite::memory:").await;
    let mut rejected = Vec::new();
    let summary = ndjson::import(&target, gappy.as_bytes(), false, |line, _, result| {
        if let Some(ndjson::LineResult::Rejected(message)) = result {
            rejected.push((line, message.clone()));
        }
    })
    .await
    .unwrap();
    assert_eq!((summary.created, summary.rejected), (1, 1));
    assert_eq!(rejected[0].0, 2);
    assert!(rejected[0].1.contains("missing"), "{}", rejected[0].1);
}

async fn migration_count_sqlite(url: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap()
}

async fn migration_count_postgres(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap()
}

fn migration_files(backend: &str) -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(dir).unwrap().count() as i64
}

#[tokio::test]
async fn sqlite_migrations_apply_once_on_empty_and_up_to_date_databases() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("m.db").display());
    let first = service_on(&url).await;
    let (id, _) = {
        let record = first
            .create(serde_json::from_value(minimal_plan("9990000018")).unwrap())
            .await
            .unwrap();
        (record.id, record)
    };
    assert_eq!(
        migration_count_sqlite(&url).await,
        migration_files("sqlite")
    );
    let again = service_on(&url).await;
    assert_eq!(
        migration_count_sqlite(&url).await,
        migration_files("sqlite")
    );
    assert_eq!(again.get(id).await.unwrap().version, 1);
}

#[tokio::test]
async fn postgres_migrations_apply_once_on_empty_and_up_to_date_databases() {
    let url = postgres_or_skip!();
    let first = service_on(&url).await;
    let record = first
        .create(serde_json::from_value(minimal_plan("9990000018")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        migration_count_postgres(&url).await,
        migration_files("postgres")
    );
    let again = service_on(&url).await;
    again.ready().await.unwrap();
    assert_eq!(
        migration_count_postgres(&url).await,
        migration_files("postgres")
    );
    assert_eq!(again.get(record.id).await.unwrap(), record);
}

#[tokio::test]
async fn postgres_instances_starting_together_migrate_safely() {
    let url = postgres_or_skip!();
    let stores: Vec<_> = (0..4)
        .map(|_| PostgresStore::connect(&url, &StoreOptions::default()).unwrap())
        .collect();
    let results = futures_util::future::join_all(stores.iter().map(|s| {
        use acp_fhir::store::PlanStore;
        s.ping()
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        migration_count_postgres(&url).await,
        migration_files("postgres")
    );
}

/// The tables of `url`'s schema that the planner has statistics for.
async fn analysed_tables(url: &str) -> Vec<String> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let tables = sqlx::query_scalar(
        "SELECT DISTINCT tablename::text FROM pg_stats \
         WHERE schemaname = current_schema() ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    tables
}

/// An import ends by gathering the planner's statistics of the tables it filled: without them
/// PostgreSQL planned a search by NHS number on 1,000,000 imported plans as a parallel bitmap
/// scan (8 ms instead of 0.06), and where autovacuum is off nothing else gathers them.
#[tokio::test]
async fn postgres_an_import_leaves_statistics_of_the_tables_it_filled() {
    let url = postgres_or_skip!();
    let service = service_on(&url).await;
    service.ready().await.unwrap();
    assert_eq!(analysed_tables(&url).await, Vec::<String>::new());
    let summary = ndjson::import(&service, FIXTURES.as_bytes(), true, |_, _, _| {})
        .await
        .unwrap();
    assert!(summary.created >= 12);
    let analysed = analysed_tables(&url).await;
    for table in ["plan_versions", "plans", "resource_index"] {
        assert!(analysed.iter().any(|t| t == table), "{table}: {analysed:?}");
    }
}

fn tight_pool() -> StoreOptions {
    StoreOptions {
        pool_size: 1,
        acquire_timeout: Duration::from_millis(300),
    }
}

/// With the pool held, requests that need it (a plan's history; a FHIR search) answer 503 at
/// once; released, they answer again.
async fn expect_503_then_recovery(app: crate::helpers::TestApp, held: impl Sized) {
    let missing = format!("/api/v1/plans/{}/history", uuid::Uuid::new_v4());
    let response = app.get(&missing).await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    // The same on /fhir, told as an OperationOutcome.
    let search = "/fhir/Consent?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9990000018";
    let fhir = app.get(search).await;
    assert_eq!(fhir.status().as_u16(), 503);
    assert!(fhir.headers().contains_key("retry-after"));
    let outcome: Value = fhir.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "transient");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status().as_u16(), 503);
    drop(held);
    assert_eq!(app.get(&missing).await.status().as_u16(), 404);
    assert_eq!(app.get(search).await.status().as_u16(), 200);
    assert_eq!(app.get("/health/ready").await.status().as_u16(), 200);
}

#[tokio::test]
async fn an_exhausted_sqlite_pool_answers_503_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("pool.db").display());
    let store = SqliteStore::connect(&url, &tight_pool()).await.unwrap();
    let held = store.pool().acquire().await.unwrap();
    let app = spawn_app_with_store(Arc::new(store), 1024 * 1024);
    // A file database's point reads and their audit records need no pooled connection: a read
    // by id still answers (here: no such plan), and so does the emergency summary.
    let read = app
        .get(&format!("/api/v1/plans/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(read.status().as_u16(), 404);
    let summary = app
        .get("/fhir/Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number%7C9990000018")
        .await;
    assert_eq!(summary.status().as_u16(), 404);
    expect_503_then_recovery(app, held).await;
}

#[tokio::test]
async fn an_exhausted_postgres_pool_answers_503_not_a_hang() {
    let url = postgres_or_skip!();
    let store = PostgresStore::connect(&url, &tight_pool()).unwrap();
    {
        use acp_fhir::store::PlanStore;
        store.ping().await.unwrap();
    }
    let held = store.pool().acquire().await.unwrap();
    let app = spawn_app_with_store(Arc::new(store), 1024 * 1024);
    expect_503_then_recovery(app, held).await;
}

/// A loopback TCP proxy to the test PostgreSQL, started on demand: "the database comes up".
async fn start_proxy(listener: TcpListener, upstream: String) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

#[tokio::test]
async fn the_service_starts_unready_while_postgres_is_down_and_becomes_ready() {
    let real = postgres_or_skip!();
    let parsed = url::Url::parse(&real).unwrap();
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    );
    // Reserve a loopback port and leave nothing listening on it: the database is "down".
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let mut via_proxy = parsed.clone();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(port)).unwrap();

    let store = store::connect_with(via_proxy.as_str(), &tight_pool())
        .await
        .expect("the service starts while the database is down");
    let app = spawn_app_with_store(store, 1024 * 1024);
    assert_eq!(app.get("/health/live").await.status().as_u16(), 200);
    assert_eq!(app.get("/health/ready").await.status().as_u16(), 503);

    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    start_proxy(listener, upstream).await;
    assert_eq!(app.get("/health/ready").await.status().as_u16(), 200);
    let (id, _) = app.create_plan(&minimal_plan("9990000018")).await;
    assert_eq!(
        app.get(&format!("/api/v1/plans/{id}"))
            .await
            .status()
            .as_u16(),
        200
    );
}

/// A service process: `serve` on port 0, its address read from its log.
struct Instance {
    child: Child,
    base: String,
    /// The log lines up to and including `listening`.
    startup_log: Vec<String>,
}

impl Instance {
    fn start(database_url: &str, auth: &BinaryAuth) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_acp-fhir"))
            .args([
                "--database-url",
                database_url,
                "--log-format",
                "plain",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "2",
            ])
            .args(&auth.args)
            .env_remove("ACP_DATABASE_URL")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut startup_log = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("the instance exits before listening")
                .unwrap();
            startup_log.push(line.clone());
            if let Some(rest) = line.split("address=").nth(1) {
                let address: String = rest
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                break format!("http://{address}");
            }
        };
        // Keep draining the log so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            startup_log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_postgres() {
    let url = postgres_or_skip!();
    // The test server trusts local connections, so a password can ride along unchecked: it
    // must never be printed.
    let mut with_password = url::Url::parse(&url).unwrap();
    with_password.set_password(Some("pw-s3cret")).unwrap();
    let url = with_password.to_string();
    service_on(&url).await.ready().await.unwrap();
    let auth = binary_auth().await;
    let a = Instance::start(&url, &auth);
    let b = Instance::start(&url, &auth);
    let log = a.startup_log.join("\n");
    assert!(log.contains(":***@"), "the masked URL is logged:\n{log}");
    assert!(
        !log.contains("pw-s3cret"),
        "the password reached the log:\n{log}"
    );
    let client = client_with_token(&auth.token);

    // A write through one is read at once through the other.
    let created = client
        .post(a.url("/api/v1/plans"))
        .json(&minimal_plan("9990000018"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = client
        .get(b.url(&format!("/api/v1/plans/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);

    // Two updates of version 1, one through each instance: exactly one wins (H4).
    let mut body = minimal_plan("9990000018");
    let decision = read.json::<Value>().await.unwrap()["plan"]["resuscitation_decisions"].clone();
    body["resuscitation_decisions"] = decision;
    body["special_note"] = "from a".into();
    let mut other = body.clone();
    other["special_note"] = "from b".into();
    let put = |base: &Instance, body: Value| {
        client
            .put(base.url(&format!("/api/v1/plans/{id}")))
            .header("If-Match", "\"1\"")
            .json(&body)
            .send()
    };
    let (ra, rb) = tokio::join!(put(&a, body), put(&b, other));
    let mut statuses = vec![ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 412]);
    let history: Value = client
        .get(a.url(&format!("/api/v1/plans/{id}/history")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_traffic_loses_no_committed_write() {
    let url = postgres_or_skip!();
    service_on(&url).await.ready().await.unwrap();
    let auth = binary_auth().await;
    let mut doomed = Instance::start(&url, &auth);
    let survivor = Instance::start(&url, &auth);
    // Both replicas accept the one token: shared signing key, registry and public URL.
    let client = client_with_token(&auth.token);
    let numbers: Vec<String> = test_nhs_numbers().skip(1).take(400).collect();

    // Four writers create plans through the doomed instance; once 60 are acknowledged it dies.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Option<String>)>();
    let chunks: Vec<Vec<String>> = numbers.chunks(100).map(<[String]>::to_vec).collect();
    for chunk in chunks {
        let tx = tx.clone();
        let client = client.clone();
        let target = doomed.url("/api/v1/plans");
        tokio::spawn(async move {
            for nhs in chunk {
                let outcome = client.post(&target).json(&minimal_plan(&nhs)).send().await;
                let acknowledged = match outcome {
                    Ok(response) if response.status().as_u16() == 201 => response
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned)),
                    _ => None,
                };
                let failed = acknowledged.is_none();
                if tx.send((nhs, acknowledged)).is_err() || failed {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut acknowledged = Vec::new();
    let mut attempted = Vec::new();
    while let Some((nhs, id)) = rx.recv().await {
        attempted.push(nhs.clone());
        if let Some(id) = id {
            acknowledged.push((nhs, id));
            if acknowledged.len() == 60 {
                doomed.child.kill().unwrap();
            }
        }
    }
    let _ = doomed.child.wait();
    assert!(acknowledged.len() >= 60);

    // Every acknowledged write is there, whole, through the surviving instance.
    for (nhs, id) in &acknowledged {
        let found: Value = client
            .get(survivor.url(&format!("/api/v1/plans?nhs_number={nhs}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["id"].as_str(), Some(id.as_str()));
        assert_eq!(found["version"], 1);
    }
    // Anything attempted but not acknowledged is either wholly there or not there at all.
    for nhs in attempted
        .iter()
        .filter(|n| !acknowledged.iter().any(|(a, _)| a == *n))
    {
        let response = client
            .get(survivor.url(&format!("/api/v1/plans?nhs_number={nhs}")))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            404 => {}
            200 => {
                let found: Value = response.json().await.unwrap();
                assert_eq!(found["plan"]["person"]["nhs_number"], nhs.as_str());
            }
            other => panic!("unexpected status {other}"),
        }
    }
}

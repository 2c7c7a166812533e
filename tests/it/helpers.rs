//! The test harness: an app on port 0 with its own in-memory database and a fixed clock
//! (the zero2prod `spawn_app` pattern), and small request helpers.

use std::net::TcpListener;
use std::sync::Arc;

use acp_fhir::clock::FixedClock;
use acp_fhir::http::{server, ServerSettings};
use acp_fhir::service::PlanService;
use acp_fhir::store::{self, PlanStore};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The time every test app runs at.
pub fn test_now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// A running app.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn PlanStore>,
}

/// Starts the app on a fresh in-memory database with the default body limit.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_limit(acp_fhir::http::DEFAULT_BODY_LIMIT).await
}

/// Starts the app with a given body limit.
pub async fn spawn_app_with_limit(body_limit: usize) -> TestApp {
    spawn_app_on("sqlite::memory:", body_limit).await
}

/// Starts the app on PostgreSQL (a schema of its own) when `ACP_TEST_POSTGRES_URL` is set,
/// on SQLite otherwise (CI always sets it; `store_contract::ci_runs_the_postgres_suite` checks).
pub async fn spawn_app_on_postgres(body_limit: usize) -> TestApp {
    match postgres_url().await {
        Some(url) => spawn_app_on(&url, body_limit).await,
        None => spawn_app_on("sqlite::memory:", body_limit).await,
    }
}

/// Starts the app on the given database.
pub async fn spawn_app_on(database_url: &str, body_limit: usize) -> TestApp {
    spawn_app_with_store(store::connect(database_url).await.unwrap(), body_limit)
}

/// Starts the app on a store the test built itself.
pub fn spawn_app_with_store(store: Arc<dyn PlanStore>, body_limit: usize) -> TestApp {
    let service = PlanService::new(
        store.clone(),
        Arc::new(FixedClock(test_now())),
        "test-suite",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = ServerSettings {
        body_limit,
        workers: Some(1),
        shutdown_timeout_secs: 1,
    };
    let running = server(listener, service, &settings).unwrap();
    tokio::spawn(running);
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        store,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_plan(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/plans"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a plan and returns (id, body).
    pub async fn create_plan(&self, body: &Value) -> (String, Value) {
        let response = self.post_plan(body).await;
        assert_eq!(response.status().as_u16(), 201, "create failed");
        let created: Value = response.json().await.unwrap();
        (created["id"].as_str().unwrap().to_owned(), created)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn put_plan(
        &self,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .put(self.url(&format!("/api/v1/plans/{id}")))
            .json(body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        request.send().await.unwrap()
    }
}

/// A minimal valid plan for `nhs_number`: an active DNACPR, nothing else optional.
pub fn minimal_plan(nhs_number: &str) -> Value {
    json!({
        "consent_to_share": {
            "status": "given",
            "date": "2026-10-01",
            "recorded_by": { "name": "Dr Ada Hale", "role": "GP" }
        },
        "review_date": "2027-01-05",
        "person": {
            "nhs_number": nhs_number,
            "family_name": "Testperson",
            "given_names": ["Alma"],
            "birth_date": "1940-02-03",
            "gender": "female"
        },
        "usual_gp": { "practice_name": "Riverside Surgery", "practice_ods_code": "Y12345" },
        "diagnosis": { "primary": { "text": "Metastatic lung cancer", "snomed": "94391008" } },
        "resuscitation_decisions": [{
            "decision": "not-for-cpr",
            "decision_date": "2026-10-01",
            "review": "indefinite",
            "decided_by": { "name": "Dr Ada Hale", "role": "GP", "registration_number": "7000001" },
            "form_location": "purple form on the fridge"
        }]
    })
}

/// Valid NHS numbers in the 999 test range (Modulus 11 check digit), for tests that need many.
pub fn test_nhs_numbers() -> impl Iterator<Item = String> {
    (0u64..).filter_map(|n| {
        let stem = format!("999{:06}", n);
        let digits: Vec<u32> = stem.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
        match 11 - sum % 11 {
            10 => None,
            11 => Some(format!("{stem}0")),
            check => Some(format!("{stem}{check}")),
        }
    })
}

/// The test PostgreSQL (`ACP_TEST_POSTGRES_URL`) with a fresh schema of its own, so tests run in
/// parallel without seeing each other; `None` when no PostgreSQL is configured.
pub async fn postgres_url() -> Option<String> {
    let base = std::env::var("ACP_TEST_POSTGRES_URL").ok()?;
    let schema = format!("acp_test_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
}

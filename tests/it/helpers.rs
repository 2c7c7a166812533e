//! The test harness: an app on port 0 with its own in-memory database and a fixed clock
//! (the zero2prod `spawn_app` pattern), and small request helpers.

use std::net::TcpListener;
use std::sync::Arc;

use acp_fhir::auth::{
    AuthSettings, Authority, Client, ClientRegistration, PrivateKey, Registry, RegistryHandle,
    ScopeSet,
};
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

/// A running app. `client` sends the full-access test token on every request.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn PlanStore>,
    pub authority: Arc<Authority>,
}

/// The scopes of the token the test client sends by default: everything, and the audit trail.
pub const FULL_SCOPES: &str = "system/*.cruds system/AuditEvent.rs";

/// A fixture key (TEST KEYS ONLY, see fixtures/README.md).
pub fn fixture_key(name: &str) -> PrivateKey {
    let path = format!("{}/fixtures/auth/{name}", env!("CARGO_MANIFEST_DIR"));
    PrivateKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A client registration with one inline key.
pub fn registration(id: &str, key: &PrivateKey, scopes: &str) -> ClientRegistration {
    ClientRegistration {
        id: id.into(),
        name: format!("Test client {id}"),
        organisation: "Y09871".into(),
        scopes: scopes.split(' ').map(str::to_owned).collect(),
        jwks: Some(jsonwebtoken::jwk::JwkSet {
            keys: vec![key.public_jwk().clone()],
        }),
        jwks_uri: None,
        emergency_override: false,
        trusted_user_headers: false,
        rate_limit_per_second: None,
    }
}

fn client(registration: ClientRegistration) -> Client {
    let scopes = ScopeSet::parse_all(&registration.scopes).unwrap();
    Client {
        registration,
        scopes,
    }
}

/// The test registry: `test-full` (ES384, every scope, trusted end-user headers),
/// `test-rs384` (RS384, read), `test-override` (ES384, read, may override a withdrawn consent
/// to share) and `test-limited` (ES384, Consent read only, 2 requests a second).
pub fn test_registry() -> Registry {
    let es = fixture_key("test-client-es384.key.pem");
    let rs = fixture_key("test-client-rs384.key.pem");
    let mut registry = Registry::default();
    let mut full = registration("test-full", &es, FULL_SCOPES);
    full.trusted_user_headers = true;
    registry.insert(client(full));
    registry.insert(client(registration("test-rs384", &rs, "system/*.rs")));
    let mut override_client = registration("test-override", &es, "system/*.rs");
    override_client.emergency_override = true;
    registry.insert(client(override_client));
    let mut limited = registration("test-limited", &es, "system/Consent.rs");
    limited.rate_limit_per_second = Some(2);
    registry.insert(client(limited));
    registry
}

/// An authority for an app at `address`, signing with the given fixture keys (first signs).
pub fn test_authority(
    address: &str,
    store: Arc<dyn PlanStore>,
    signing_keys: &[&str],
    registry: Registry,
) -> Arc<Authority> {
    let settings = AuthSettings {
        public_url: address.to_owned(),
        signing_keys: signing_keys.iter().map(|k| fixture_key(k)).collect(),
        registry: RegistryHandle::fixed(registry),
        token_lifetime_secs: 300,
        external: None,
        jwks_cache_lifetime: std::time::Duration::from_secs(300),
    };
    Arc::new(Authority::new(settings, store, Arc::new(FixedClock(test_now()))).unwrap())
}

/// How spawned `acp-fhir serve` processes in the tests authenticate: a registry file with
/// `test-full`, the fixture signing key and one public URL, as replicas behind a load
/// balancer share them. Keep the value alive while the processes run.
pub struct BinaryAuth {
    _dir: tempfile::TempDir,
    /// The `serve` flags.
    pub args: Vec<String>,
    /// A full-access token those processes accept (system clock).
    pub token: String,
}

/// The public URL the spawned processes share.
pub const BINARY_PUBLIC_URL: &str = "http://acp-fhir.test";

/// See [`BinaryAuth`].
pub async fn binary_auth() -> BinaryAuth {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("clients.toml");
    let mut full = registration(
        "test-full",
        &fixture_key("test-client-es384.key.pem"),
        FULL_SCOPES,
    );
    full.trusted_user_headers = true;
    acp_fhir::auth::registry::write_file(
        &registry,
        &acp_fhir::auth::RegistryFile {
            clients: vec![full],
        },
    )
    .unwrap();
    let key = format!(
        "{}/fixtures/auth/test-service-1.key.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let settings = AuthSettings {
        public_url: BINARY_PUBLIC_URL.to_owned(),
        signing_keys: vec![fixture_key("test-service-1.key.pem")],
        registry: RegistryHandle::fixed(test_registry()),
        token_lifetime_secs: 300,
        external: None,
        jwks_cache_lifetime: std::time::Duration::from_secs(300),
    };
    let store = store::connect("sqlite::memory:").await.unwrap();
    let authority =
        Authority::new(settings, store, Arc::new(acp_fhir::clock::SystemClock)).unwrap();
    let token = authority
        .issue_for("test-full", &ScopeSet::parse(FULL_SCOPES).unwrap(), 3600)
        .unwrap()
        .access_token;
    BinaryAuth {
        args: vec![
            "--clients".into(),
            registry.display().to_string(),
            "--signing-keys".into(),
            key,
            "--public-url".into(),
            BINARY_PUBLIC_URL.into(),
        ],
        _dir: dir,
        token,
    }
}

/// The test app's client, replaced by one for `test-override` that states an emergency
/// override on every request, so that plans whose consent to share is withdrawn (fixture 10)
/// are visible: for tests of search and projection semantics over every fixture. Withholding
/// itself is tested in `security`.
pub fn with_override(mut app: TestApp) -> TestApp {
    let token = app.token("test-override", FULL_SCOPES);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    headers.insert(
        "X-Emergency-Override",
        "test suite: semantics over every fixture".parse().unwrap(),
    );
    app.client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    app
}

/// A client that sends `token` on every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
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
    let settings = ServerSettings {
        body_limit,
        workers: Some(1),
        shutdown_timeout_secs: 1,
        rate_limit_per_second: 100_000,
        ..ServerSettings::default()
    };
    spawn_app_with(
        store,
        &settings,
        &["test-service-1.key.pem"],
        test_registry(),
    )
}

/// Starts the app with given server settings, signing keys and client registry.
pub fn spawn_app_with(
    store: Arc<dyn PlanStore>,
    settings: &ServerSettings,
    signing_keys: &[&str],
    registry: Registry,
) -> TestApp {
    spawn_app_with_authority(store.clone(), settings, |address| {
        test_authority(address, store, signing_keys, registry)
    })
}

/// Starts the app with the authority `build` makes for its address.
pub fn spawn_app_with_authority(
    store: Arc<dyn PlanStore>,
    settings: &ServerSettings,
    build: impl FnOnce(&str) -> Arc<Authority>,
) -> TestApp {
    let service = PlanService::new(
        store.clone(),
        Arc::new(FixedClock(test_now())),
        "test-suite",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let address = format!("{scheme}://127.0.0.1:{port}");
    let authority = build(&address);
    let running = server(listener, service, authority.clone(), settings).unwrap();
    tokio::spawn(running);
    let token = authority
        .issue_for("test-full", &ScopeSet::parse(FULL_SCOPES).unwrap(), 300)
        .unwrap()
        .access_token;
    TestApp {
        address,
        client: client_with_token(&token),
        store,
        authority,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A token for `client` with exactly `scopes` (not checked against its registration).
    pub fn token(&self, client: &str, scopes: &str) -> String {
        self.authority
            .issue_for(client, &ScopeSet::parse(scopes).unwrap(), 300)
            .unwrap()
            .access_token
    }

    /// A client whose requests carry a token for `client` with `scopes`.
    pub fn client_for(&self, client: &str, scopes: &str) -> reqwest::Client {
        client_with_token(&self.token(client, scopes))
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

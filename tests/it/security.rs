//! Security (issue 5): the SMART Backend Services token flow and each way it refuses, access
//! tokens and each way they are refused, the scope every interaction needs (one table), the
//! audit trail (written for allowed and refused requests, none lost under concurrency, no
//! access when it cannot be written), consent to share (withheld, and the audited override),
//! key rotation, an external identity provider, a client's `jwks_uri`, rate limits, security
//! headers, CORS and TLS.

use std::sync::Arc;

use acp_fhir::audit::AuditQuery;
use acp_fhir::auth::{AuthSettings, Authority, ExternalIssuer, PrivateKey, RegistryHandle};
use acp_fhir::clock::FixedClock;
use acp_fhir::commands::auth::client_assertion;
use acp_fhir::domain::PlanId;
use acp_fhir::fhir::ids::PlanIds;
use acp_fhir::http::{ServerSettings, TlsFiles};
use acp_fhir::store::{self, PlanStore, SqliteStore, StoreOptions};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::helpers::{
    client_with_token, fixture_key, minimal_plan, registration, spawn_app, spawn_app_on,
    spawn_app_with, spawn_app_with_authority, spawn_app_with_store, test_nhs_numbers, test_now,
    test_registry, TestApp, FULL_SCOPES,
};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn now() -> i64 {
    test_now().timestamp()
}

fn nhs(n: usize) -> String {
    test_nhs_numbers().nth(4000 + n).unwrap()
}

fn settings() -> ServerSettings {
    ServerSettings {
        workers: Some(1),
        shutdown_timeout_secs: 1,
        rate_limit_per_second: 100_000,
        ..ServerSettings::default()
    }
}

/// Signs `claims` with `key` (its algorithm and kid).
fn sign(key: &PrivateKey, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, claims, key.encoding_key()).unwrap()
}

fn assertion_claims(app: &TestApp, client: &str) -> Value {
    json!({
        "iss": client,
        "sub": client,
        "aud": app.url("/auth/token"),
        "exp": now() + 240,
        "iat": now(),
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// HS256 "signed" with the public key as the HMAC secret: the algorithm-confusion attack.
fn hmac_with_public_key(key: &PrivateKey, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    let secret = serde_json::to_vec(key.public_jwk()).unwrap();
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap()
}

async fn exchange(app: &TestApp, assertion: &str, scope: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    (status, response.json().await.unwrap())
}

async fn plan_in(app: &TestApp, nhs_number: &str) -> (String, String) {
    plan_in_with(app, &minimal_plan(nhs_number)).await
}

async fn outcome_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    body["issue"][0]["code"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// The token endpoint
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_token_flow_works_with_rs384_and_es384() {
    let app = spawn_app().await;
    let (id, _) = plan_in(&app, &nhs(0)).await;
    for (client, key) in [
        ("test-rs384", "test-client-rs384.key.pem"),
        ("test-full", "test-client-es384.key.pem"),
    ] {
        let key = fixture_key(key);
        let assertion = client_assertion(&key, client, &app.url("/auth/token"), now()).unwrap();
        let (status, body) = exchange(&app, &assertion, "system/CarePlan.rs").await;
        assert_eq!(status, 200, "{client}: {body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["scope"], "system/CarePlan.rs");
        assert_eq!(body["expires_in"], 300);
        let token = body["access_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES384);
        let client = client_with_token(token);
        let read = client
            .get(app.url(&format!("/fhir/CarePlan/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status().as_u16(), 200);
        let other = client
            .get(app.url(&format!("/api/v1/plans/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status().as_u16(), 403, "only CarePlan was granted");
    }
}

#[tokio::test]
async fn requested_scopes_are_cut_to_the_registered_ones() {
    let app = spawn_app().await;
    let key = fixture_key("test-client-rs384.key.pem");
    let assertion = client_assertion(&key, "test-rs384", &app.url("/auth/token"), now()).unwrap();
    let (status, body) = exchange(&app, &assertion, "system/*.cruds system/AuditEvent.rs").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"], "system/*.rs",
        "write and audit are not registered"
    );
}

#[tokio::test]
async fn every_bad_assertion_is_refused() {
    let app = spawn_app().await;
    let es = fixture_key("test-client-es384.key.pem");
    let other = fixture_key("test-other-es384.key.pem");
    let good = assertion_claims(&app, "test-full");
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        claims
    };
    // A key no client registers, presenting the registered key's kid.
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
    forged_header.kid = Some(es.kid().to_owned());
    let forged = jsonwebtoken::encode(&forged_header, &good, other.encoding_key()).unwrap();
    let cases: Vec<(&str, String, &str, u16, &str)> = vec![
        (
            "bad signature",
            forged,
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "wrong aud",
            sign(
                &es,
                &with("aud", json!("https://elsewhere.example/auth/token")),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "expired",
            sign(&es, &with("exp", json!(now() - 120))),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "exp more than five minutes ahead",
            sign(&es, &with("exp", json!(now() + 600))),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "no jti",
            sign(&es, &with("jti", Value::Null)),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "sub is not the client",
            sign(&es, &with("sub", json!("someone-else"))),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "unknown client",
            sign(&es, &{
                let mut claims = with("iss", json!("nobody"));
                claims["sub"] = json!("nobody");
                claims
            }),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "scope not registered",
            sign(&fixture_key("test-client-rs384.key.pem"), &{
                let mut claims = assertion_claims(&app, "test-rs384");
                claims["jti"] = json!("scope-case");
                claims
            }),
            "system/AuditEvent.rs",
            400,
            "invalid_scope",
        ),
        (
            "malformed scope",
            sign(&es, &good),
            "patient/*.read",
            400,
            "invalid_scope",
        ),
        (
            "alg none",
            unsigned(&good),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "HS256 signed with the public key",
            hmac_with_public_key(&es, &good),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "not a JWT",
            "abc.def".into(),
            "system/*.rs",
            401,
            "invalid_client",
        ),
    ];
    for (name, assertion, scope, status, error) in cases {
        let (got, body) = exchange(&app, &assertion, scope).await;
        assert_eq!(got, status, "{name}: {body}");
        assert_eq!(body["error"], error, "{name}: {body}");
        assert!(body.get("access_token").is_none(), "{name}");
    }
    // The good assertion itself still works (none of the above consumed its jti)…
    let (status, body) = exchange(&app, &sign(&es, &good), "system/*.rs").await;
    assert_eq!(status, 200, "{body}");
    // …once: a replayed jti is refused.
    let (status, body) = exchange(&app, &sign(&es, &good), "system/*.rs").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("replay"),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_token_requests_get_oauth_errors() {
    let app = spawn_app().await;
    let es = fixture_key("test-client-es384.key.pem");
    let assertion = sign(&es, &assertion_claims(&app, "test-full"));
    let post = |form: Vec<(&'static str, String)>| {
        reqwest::Client::new()
            .post(app.url("/auth/token"))
            .form(&form)
            .send()
    };
    let wrong_grant = post(vec![
        ("grant_type", "password".into()),
        ("scope", "system/*.rs".into()),
        ("client_assertion_type", ASSERTION_TYPE.into()),
        ("client_assertion", assertion.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(wrong_grant.status().as_u16(), 400);
    assert_eq!(
        wrong_grant.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let no_type = post(vec![
        ("grant_type", "client_credentials".into()),
        ("scope", "system/*.rs".into()),
        ("client_assertion", assertion.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(no_type.status().as_u16(), 400);
    assert_eq!(
        no_type.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let json_body = reqwest::Client::new()
        .post(app.url("/auth/token"))
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status().as_u16(), 400);
    let get = reqwest::get(app.url("/auth/token")).await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
}

#[tokio::test]
async fn discovery_and_public_keys_are_published() {
    let app = spawn_app().await;
    let config: Value = reqwest::get(app.url("/.well-known/smart-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["token_endpoint"], app.url("/auth/token"));
    assert_eq!(config["jwks_uri"], app.url("/auth/jwks.json"));
    assert_eq!(
        config["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS384", "ES384"])
    );
    assert!(config["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("client-confidential-asymmetric")));
    let keys: Value = reqwest::get(app.url("/auth/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = keys["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], fixture_key("test-service-1.key.pem").kid());
    assert!(keys[0].get("d").is_none(), "no private part is published");
}

// ---------------------------------------------------------------------------------------------
// Access tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_bad_access_token_is_401_with_www_authenticate_and_an_outcome() {
    let app = spawn_app().await;
    let (id, _) = plan_in(&app, &nhs(1)).await;
    let service = fixture_key("test-service-1.key.pem");
    let stranger = fixture_key("test-service-2.key.pem");
    let good = json!({
        "iss": app.address, "sub": "test-full", "aud": app.address, "client_id": "test-full",
        "exp": now() + 60, "iat": now(), "scope": "system/*.rs", "jti": "t",
    });
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        claims
    };
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
    forged_header.kid = Some(service.kid().to_owned());
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "login"),
        ("not a JWT", Some("abc".into()), "login"),
        (
            "expired",
            Some(sign(&service, &with("exp", json!(now() - 1)))),
            "expired",
        ),
        (
            "wrongly signed",
            Some(jsonwebtoken::encode(&forged_header, &good, stranger.encoding_key()).unwrap()),
            "login",
        ),
        (
            "signed by a key the service does not hold",
            Some(sign(&stranger, &good)),
            "login",
        ),
        (
            "wrong audience",
            Some(sign(&service, &with("aud", json!("https://other.example")))),
            "login",
        ),
        (
            "unknown issuer",
            Some(sign(&service, &with("iss", json!("https://other.example")))),
            "login",
        ),
        (
            "client no longer registered",
            Some(sign(&service, &with("client_id", json!("removed")))),
            "login",
        ),
        ("alg none", Some(unsigned(&good)), "login"),
        (
            "HS256 with the public key",
            Some(hmac_with_public_key(&service, &good)),
            "login",
        ),
    ];
    // The good token is accepted, so each refusal is about the one thing changed.
    let accepted = client_with_token(&sign(&service, &good))
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 200);
    for (name, token, code) in cases {
        for path in [
            format!("/fhir/CarePlan/{id}"),
            format!("/api/v1/plans/{id}"),
        ] {
            let mut request = reqwest::Client::new().get(app.url(&path));
            if let Some(token) = &token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401, "{name} {path}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
            if path.starts_with("/fhir") {
                assert_eq!(outcome_code(response).await, code, "{name}");
            } else {
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
            }
        }
    }
}

#[tokio::test]
async fn only_the_documented_endpoints_are_open() {
    let app = spawn_app().await;
    for path in [
        "/fhir/metadata",
        "/fhir/OperationDefinition/Patient-summary",
        "/fhir/StructureDefinition?url=https://acp-fhir.example.org/fhir/StructureDefinition/acp-patient",
        "/fhir/ValueSet/cpr-decision",
        "/fhir/CodeSystem/acp-local",
        "/health/live",
        "/.well-known/smart-configuration",
        "/auth/jwks.json",
    ] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    for path in [
        "/fhir/CarePlan",
        "/fhir/Patient/x/$summary",
        "/fhir/StructureDefinition/acp-patient/_history",
        "/fhir/AuditEvent",
        "/fhir/NoSuchType",
        "/api/v1/schema",
        "/api/v1/plans/x",
    ] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Scopes: one table, every interaction
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_interaction_needs_its_scope() {
    let app = spawn_app().await;
    let number = nhs(2);
    let (id, created) = app.create_plan(&minimal_plan(&number)).await;
    let patient = PlanIds::new(PlanId::parse(&id).unwrap()).patient();
    let identifier = format!("{NHS_SYSTEM}|{number}");
    let encoded: String = url::form_urlencoded::byte_serialize(identifier.as_bytes()).collect();
    let summary_types = "system/CarePlan.r system/Consent.r system/Goal.r system/Patient.r \
                         system/RelatedPerson.r system/Practitioner.r system/Organization.r";
    let with_composition = format!("{summary_types} system/Composition.r");
    let new_plan = minimal_plan(&nhs(3));
    let other_plan = minimal_plan(&nhs(4));
    let mut revised = created["plan"].clone();
    revised["special_note"] = json!("changed");
    let table: Vec<(&str, String, Option<Value>, &str, u16)> = vec![
        (
            "GET",
            format!("/fhir/CarePlan/{id}"),
            None,
            "system/CarePlan.r",
            200,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}"),
            None,
            "system/CarePlan.s",
            403,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}"),
            None,
            "system/Consent.rs",
            403,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}"),
            None,
            "system/*.read",
            200,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}"),
            None,
            "system/CarePlan.read",
            200,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}"),
            None,
            "system/*.write",
            403,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}/_history"),
            None,
            "system/CarePlan.r",
            200,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}/_history"),
            None,
            "system/CarePlan.s",
            403,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}/_history/1"),
            None,
            "system/CarePlan.r",
            200,
        ),
        (
            "GET",
            format!("/fhir/CarePlan/{id}/_history/1"),
            None,
            "system/Goal.r",
            403,
        ),
        (
            "GET",
            format!("/fhir/CarePlan?patient:identifier={encoded}"),
            None,
            "system/CarePlan.s",
            200,
        ),
        (
            "GET",
            format!("/fhir/CarePlan?patient:identifier={encoded}"),
            None,
            "system/CarePlan.r",
            403,
        ),
        (
            "GET",
            format!("/fhir/Consent?patient:identifier={encoded}&_include=Consent:patient"),
            None,
            "system/Consent.s",
            403,
        ),
        (
            "GET",
            format!("/fhir/Consent?patient:identifier={encoded}&_include=Consent:patient"),
            None,
            "system/Consent.s system/Patient.r",
            200,
        ),
        (
            "GET",
            format!("/fhir/Patient/$summary?identifier={encoded}"),
            None,
            "system/*.rs",
            200,
        ),
        (
            "GET",
            format!("/fhir/Patient/$summary?identifier={encoded}"),
            None,
            summary_types,
            403,
        ),
        (
            "GET",
            format!("/fhir/Patient/$summary?identifier={encoded}"),
            None,
            &with_composition,
            200,
        ),
        (
            "GET",
            format!("/fhir/Patient/{patient}/$summary"),
            None,
            "system/Patient.r",
            403,
        ),
        (
            "GET",
            format!("/fhir/Patient/%24summary?identifier={encoded}"),
            None,
            "system/Patient.r",
            403,
        ),
        (
            "GET",
            format!("/fhir/Patient/{patient}/%24summary"),
            None,
            "system/Patient.r",
            403,
        ),
        (
            "GET",
            "/fhir/AuditEvent".into(),
            None,
            "system/*.cruds",
            403,
        ),
        (
            "GET",
            "/fhir/AuditEvent".into(),
            None,
            "system/AuditEvent.s",
            200,
        ),
        (
            "GET",
            "/fhir/AuditEvent".into(),
            None,
            "system/AuditEvent.r",
            403,
        ),
        (
            "GET",
            "/fhir/OperationDefinition/Patient-summary".into(),
            None,
            "system/*.r",
            200,
        ),
        // Conformance resources are open (no patient data): any token, or none, reads them.
        (
            "GET",
            "/fhir/OperationDefinition/Patient-summary".into(),
            None,
            "system/CarePlan.r",
            200,
        ),
        (
            "GET",
            format!("/api/v1/plans/{id}"),
            None,
            "system/*.r",
            200,
        ),
        (
            "GET",
            format!("/api/v1/plans/{id}"),
            None,
            "system/CarePlan.r",
            403,
        ),
        (
            "GET",
            format!("/api/v1/plans/{id}/history"),
            None,
            "system/*.r",
            200,
        ),
        (
            "GET",
            format!("/api/v1/plans/{id}/history/1"),
            None,
            "system/*.s",
            403,
        ),
        (
            "GET",
            format!("/api/v1/plans?nhs_number={number}"),
            None,
            "system/*.r",
            403,
        ),
        (
            "GET",
            format!("/api/v1/plans?nhs_number={number}"),
            None,
            "system/*.rs",
            200,
        ),
        ("GET", "/api/v1/schema".into(), None, "system/Goal.r", 200),
        (
            "POST",
            "/api/v1/plans".into(),
            Some(new_plan.clone()),
            "system/*.rs",
            403,
        ),
        (
            "POST",
            "/api/v1/plans".into(),
            Some(new_plan),
            "system/*.c",
            201,
        ),
        (
            "POST",
            "/api/v1/plans".into(),
            Some(other_plan),
            "system/CarePlan.c",
            403,
        ),
        (
            "PUT",
            format!("/api/v1/plans/{id}"),
            Some(revised.clone()),
            "system/*.crds",
            403,
        ),
        (
            "POST",
            format!("/api/v1/plans/{id}/$revoke"),
            Some(json!({"reason": "x"})),
            "system/*.rds",
            403,
        ),
        (
            "POST",
            format!("/api/v1/plans/{id}/$entered-in-error"),
            Some(json!({"reason": "x"})),
            "system/*.u",
            403,
        ),
        (
            "PUT",
            format!("/api/v1/plans/{id}"),
            Some(revised),
            "system/*.u",
            200,
        ),
    ];
    for (method, path, body, scopes, expected) in table {
        let client = app.client_for("test-full", scopes);
        let mut request = match method {
            "GET" => client.get(app.url(&path)),
            "POST" => client.post(app.url(&path)),
            _ => client.put(app.url(&path)).header("If-Match", "\"1\""),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(status, expected, "{method} {path} with `{scopes}`");
        if status == 403 {
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("insufficient_scope"), "{challenge}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The audit trail
// ---------------------------------------------------------------------------------------------

async fn audit_search(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/fhir/AuditEvent?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{query}");
    let bundle: Value = response.json().await.unwrap();
    bundle["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

fn detail(event: &Value, kind: &str) -> Option<String> {
    event["entity"].as_array()?.iter().find_map(|entity| {
        entity["detail"].as_array()?.iter().find_map(|d| {
            (d["type"] == kind).then(|| d["valueString"].as_str().unwrap().to_owned())
        })
    })
}

#[tokio::test]
async fn reads_and_refusals_are_audited_and_searchable() {
    let app = spawn_app().await;
    let number = nhs(5);
    let (id, patient) = plan_in(&app, &number).await;

    let read = app
        .client
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .header("X-Request-ID", "audit-read-1")
        .header("X-Request-User", "Paramedic Pat Example")
        .header("X-Request-User-Organisation", "Y09872")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let refused = app
        .client_for("test-full", "system/Goal.r")
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .header("X-Request-ID", "audit-refused-1")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let anonymous = reqwest::Client::new()
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .header("X-Request-ID", "audit-anonymous-1")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // An untrusted client's end-user header is not believed.
    let untrusted = app
        .client_for("test-rs384", "system/*.rs")
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .header("X-Request-ID", "audit-untrusted-1")
        .header("X-Request-User", "Somebody Claimed")
        .send()
        .await
        .unwrap();
    assert_eq!(untrusted.status().as_u16(), 200);

    let events = audit_search(&app, &format!("entity=CarePlan/{id}")).await;
    let by_request = |rid: &str| {
        events
            .iter()
            .find(|e| detail(e, "request-id").as_deref() == Some(rid))
            .unwrap_or_else(|| panic!("no audit for {rid}: {events:#?}"))
            .clone()
    };
    let allowed = by_request("audit-read-1");
    assert_eq!(allowed["action"], "R");
    assert_eq!(allowed["outcome"], "0");
    assert_eq!(allowed["subtype"][0]["code"], "read");
    assert_eq!(allowed["recorded"], "2026-11-23T12:00:00Z");
    assert_eq!(
        allowed["agent"][0]["who"]["identifier"]["value"],
        "test-full"
    );
    assert_eq!(
        allowed["agent"][0]["location"]["identifier"]["value"],
        "Y09871"
    );
    assert_eq!(allowed["agent"][1]["name"], "Paramedic Pat Example");
    assert_eq!(allowed["agent"][1]["altId"], "Y09872");
    let patient_entity = allowed["entity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["role"]["code"] == "1")
        .unwrap();
    assert_eq!(
        patient_entity["what"]["reference"],
        format!("Patient/{patient}")
    );
    assert_eq!(patient_entity["what"]["identifier"]["value"], number);

    let forbidden = by_request("audit-refused-1");
    assert_eq!(forbidden["outcome"], "4");
    assert!(forbidden["outcomeDesc"].as_str().unwrap().contains("403"));
    let unauthenticated = by_request("audit-anonymous-1");
    assert_eq!(unauthenticated["outcome"], "4");
    assert_eq!(
        unauthenticated["agent"][0]["who"]["identifier"]["value"],
        "(unauthenticated)"
    );
    let untrusted = by_request("audit-untrusted-1");
    assert_eq!(untrusted["agent"].as_array().unwrap().len(), 1);

    // A search sent as a form is recorded with its parameters, and the patients it returned.
    let form_search = app
        .client
        .post(app.url("/fhir/Consent/_search"))
        .header("X-Request-ID", "audit-form-search-1")
        .form(&[("patient:identifier", format!("{NHS_SYSTEM}|{number}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(form_search.status().as_u16(), 200);
    let searches = audit_search(&app, &format!("patient=Patient/{patient}")).await;
    let recorded = searches
        .iter()
        .find(|e| detail(e, "request-id").as_deref() == Some("audit-form-search-1"))
        .unwrap_or_else(|| panic!("{searches:#?}"));
    assert_eq!(recorded["subtype"][0]["code"], "search-type");
    let query = recorded["entity"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["query"].as_str())
        .unwrap();
    let query = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(query)
            .unwrap(),
    )
    .unwrap();
    assert!(query.contains(&number), "{query}");

    // Search by patient, agent and date.
    let for_patient = audit_search(&app, &format!("patient=Patient/{patient}")).await;
    assert!(for_patient
        .iter()
        .any(|e| detail(e, "request-id").as_deref() == Some("audit-read-1")));
    let by_nhs = audit_search(&app, &format!("patient:identifier={NHS_SYSTEM}|{number}")).await;
    assert_eq!(by_nhs.len(), for_patient.len());
    let by_agent = audit_search(&app, "agent=test-rs384").await;
    assert!(by_agent
        .iter()
        .all(|e| e["agent"][0]["who"]["identifier"]["value"] == "test-rs384"));
    assert!(!by_agent.is_empty());
    let by_user = audit_search(&app, "agent=Paramedic Pat Example").await;
    assert_eq!(by_user.len(), 1);
    assert!(!audit_search(&app, "date=2026-11-23").await.is_empty());
    assert!(audit_search(&app, "date=lt2026-11-23").await.is_empty());
    assert!(audit_search(&app, "date=gt2026-11-23T12:00:00Z")
        .await
        .is_empty());
    // Paging goes through everything exactly once.
    let all = app
        .store
        .search_audit(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let mut seen = 0;
    let mut next = Some(app.url("/fhir/AuditEvent?_count=2"));
    while let Some(url) = next {
        let bundle: Value = app
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen += bundle["entry"].as_array().map_or(0, Vec::len);
        next = bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
    }
    assert!(seen >= all.len(), "{seen} of {}", all.len());
}

#[tokio::test]
async fn writes_record_their_audit_in_the_same_transaction() {
    let app = spawn_app().await;
    let (id, patient) = plan_in(&app, &nhs(6)).await;
    let events = app
        .store
        .search_audit(&AuditQuery {
            entity: Some(("CarePlan".into(), id.clone())),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let create = events
        .iter()
        .find(|e| e.interaction == "create")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(create.status, 201);
    assert_eq!(create.action, "C");
    assert_eq!(create.patients[0].patient_id, patient);
    assert_eq!(events.len(), 1, "the create is recorded once: {events:#?}");
}

/// A file database in a new temporary directory (kept while the returned guard lives).
fn file_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("audited.db").display());
    (dir, url)
}

#[tokio::test]
async fn no_access_without_an_audit_record() {
    expect_no_access_without_an_audit_record("sqlite::memory:").await;
}

/// A file database writes request audit records on a connection and thread of their own
/// (`store::sqlite_audit`): the same rule holds there.
#[tokio::test]
async fn no_access_without_an_audit_record_on_a_file_database() {
    let (_dir, url) = file_database();
    expect_no_access_without_an_audit_record(&url).await;
}

/// A store on `database_url` and the pools of every file holding its audit trail: the plans
/// file's (writes' records) and, for a file database, the audit file's (requests' records).
async fn store_and_audit_pools(database_url: &str) -> (SqliteStore, Vec<sqlx::SqlitePool>) {
    let sqlite = SqliteStore::connect(database_url, &StoreOptions::default())
        .await
        .unwrap();
    let pools = std::iter::once(sqlite.pool().clone())
        .chain(sqlite.audit_pool().cloned())
        .collect();
    (sqlite, pools)
}

async fn expect_no_access_without_an_audit_record(database_url: &str) {
    let (sqlite, pools) = store_and_audit_pools(database_url).await;
    let store: Arc<dyn PlanStore> = Arc::new(sqlite);
    let app = spawn_app_with_store(store.clone(), acp_fhir::http::DEFAULT_BODY_LIMIT);
    let mut plan = minimal_plan(&nhs(7));
    plan["person"]["family_name"] = json!("Unauditedson");
    let (id, _) = app.create_plan(&plan).await;
    for pool in &pools {
        sqlx::query(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events \
             BEGIN SELECT RAISE(ABORT, 'audit store down'); END",
        )
        .execute(pool)
        .await
        .unwrap();
    }

    let read = app.get(&format!("/fhir/CarePlan/{id}")).await;
    assert_eq!(read.status().as_u16(), 503);
    let body = read.text().await.unwrap();
    assert!(!body.contains("Unauditedson"), "{body}");
    let api = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(api.status().as_u16(), 503);
    assert!(!api.text().await.unwrap().contains("Unauditedson"));

    let mut revised = plan.clone();
    revised["special_note"] = json!("never stored");
    let write = app.put_plan(&id, Some("\"1\""), &revised).await;
    assert!(write.status().is_server_error(), "{}", write.status());
    let stored = store.get(PlanId::parse(&id).unwrap()).await.unwrap();
    assert_eq!(
        stored.version, 1,
        "nothing is stored without its audit record"
    );
    // Open endpoints do not depend on the audit trail.
    let live = reqwest::get(app.url("/health/live")).await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_audit_record_is_lost_under_200_concurrent_reads() {
    expect_every_one_of_200_concurrent_reads_audited(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_audit_record_is_lost_under_200_concurrent_reads_on_a_file_database() {
    let (_dir, url) = file_database();
    let app = spawn_app_on(&url, acp_fhir::http::DEFAULT_BODY_LIMIT).await;
    expect_every_one_of_200_concurrent_reads_audited(app).await;
}

async fn expect_every_one_of_200_concurrent_reads_audited(app: TestApp) {
    let (id, _) = plan_in(&app, &nhs(8)).await;
    let url = app.url(&format!("/fhir/CarePlan/{id}"));
    let reads = (0..200).map(|_| {
        let client = app.client.clone();
        let url = url.clone();
        tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
    });
    let statuses = futures_util::future::join_all(reads).await;
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(200))),
        "{statuses:?}"
    );
    let recorded = app
        .store
        .search_audit(&AuditQuery {
            entity: Some(("CarePlan".into(), id.clone())),
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let reads = recorded.iter().filter(|r| r.interaction == "read").count();
    assert_eq!(reads, 200);
    let mut ids: Vec<_> = recorded.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), recorded.len());
}

#[tokio::test]
async fn the_audit_trail_is_append_only() {
    expect_an_append_only_audit_trail("sqlite::memory:").await;
}

/// Both files of a file database: the plans file's (writes' records) and the audit file's
/// (requests' records).
#[tokio::test]
async fn the_audit_trail_is_append_only_on_a_file_database() {
    let (_dir, url) = file_database();
    expect_an_append_only_audit_trail(&url).await;
}

async fn expect_an_append_only_audit_trail(database_url: &str) {
    let (sqlite, pools) = store_and_audit_pools(database_url).await;
    let app = spawn_app_with_store(Arc::new(sqlite), acp_fhir::http::DEFAULT_BODY_LIMIT);
    let (id, _) = plan_in(&app, &nhs(9)).await;
    assert_eq!(app.get(&format!("/fhir/CarePlan/{id}")).await.status(), 200);
    for pool in &pools {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_event_patients")
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(stored > 0, "each file holds records to protect");
        for sql in [
            "UPDATE audit_events SET client_id = 'someone-else'",
            "DELETE FROM audit_events",
            "DELETE FROM audit_event_patients",
        ] {
            assert!(sqlx::query(sql).execute(pool).await.is_err(), "{sql}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Consent to share
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_withdrawn_consent_to_share_hides_the_plan_except_by_audited_override() {
    let app = spawn_app().await;
    let number = nhs(10);
    let mut plan = minimal_plan(&number);
    plan["consent_to_share"]["status"] = json!("withdrawn");
    plan["person"]["family_name"] = json!("Withheldsworth");
    let (id, patient) = plan_in_with(&app, &plan).await;
    let identifier = format!("{NHS_SYSTEM}|{number}");
    let encoded: String = url::form_urlencoded::byte_serialize(identifier.as_bytes()).collect();
    let reads = [
        format!("/fhir/CarePlan/{id}"),
        format!("/fhir/CarePlan/{id}/_history"),
        format!("/fhir/CarePlan/{id}/_history/1"),
        format!("/fhir/Patient/{patient}"),
        format!("/fhir/Patient/{patient}/$summary"),
        format!("/fhir/Patient/$summary?identifier={encoded}"),
        format!("/api/v1/plans/{id}"),
        format!("/api/v1/plans/{id}/history"),
        format!("/api/v1/plans?nhs_number={number}"),
    ];
    for path in &reads {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 404, "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("Withheldsworth"), "{path}: {body}");
        assert!(
            body.contains("withdrawn consent to share"),
            "{path}: {body}"
        );
        if path.starts_with("/fhir") {
            let outcome: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(outcome["issue"][0]["code"], "suppressed", "{path}");
        }
    }
    // Searches leave it out and say so.
    let search: Value = app
        .get(&format!("/fhir/Consent?patient:identifier={encoded}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 0);
    let outcome = &search["entry"][0];
    assert_eq!(outcome["search"]["mode"], "outcome");
    assert_eq!(outcome["resource"]["issue"][0]["code"], "suppressed");
    assert!(!search.to_string().contains("Withheldsworth"));

    // A client not registered for override is refused outright.
    let not_permitted = app
        .client
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .header("X-Emergency-Override", "cardiac arrest, crew on scene")
        .send()
        .await
        .unwrap();
    assert_eq!(not_permitted.status().as_u16(), 403);
    // A permitted client without a reason gets the same 404 as anyone.
    let overrider = app.client_for("test-override", "system/*.rs");
    let no_reason = overrider
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(no_reason.status().as_u16(), 404);
    let empty_reason = overrider
        .get(app.url(&format!("/fhir/CarePlan/{id}")))
        .header("X-Emergency-Override", " ")
        .send()
        .await
        .unwrap();
    assert_eq!(empty_reason.status().as_u16(), 400);
    // With a reason, every read works…
    for path in &reads {
        let response = overrider
            .get(app.url(path))
            .header("X-Emergency-Override", "cardiac arrest, crew on scene")
            .header("X-Request-ID", "override-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert!(
            response.text().await.unwrap().contains("Withheldsworth"),
            "{path}"
        );
    }
    // …and each is in the audit trail with the reason.
    let events = audit_search(&app, "_count=500").await;
    let overrides: Vec<&Value> = events
        .iter()
        .filter(|e| {
            detail(e, "emergency-override-reason").as_deref()
                == Some("cardiac arrest, crew on scene")
        })
        .collect();
    assert_eq!(overrides.len(), reads.len() + 1, "the 403 too: {events:#?}");
    let withheld = events
        .iter()
        .filter(|e| {
            e["outcomeDesc"]
                .as_str()
                .unwrap_or_default()
                .contains("withheld")
        })
        .count();
    assert!(withheld >= reads.len(), "{events:#?}");
}

/// A search across everyone mentions a withheld plan only when that plan held a match.
#[tokio::test]
async fn a_search_across_everyone_mentions_only_withheld_plans_that_matched() {
    let app = spawn_app().await;
    let mut shared = minimal_plan(&nhs(11));
    shared["person"]["family_name"] = json!("Sharington");
    let (_, shared_patient) = plan_in_with(&app, &shared).await;
    let mut hidden = minimal_plan(&nhs(12));
    hidden["consent_to_share"]["status"] = json!("withdrawn");
    hidden["person"]["family_name"] = json!("Hiddenham");
    plan_in_with(&app, &hidden).await;
    let outcomes = |bundle: &Value| -> usize {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["search"]["mode"] == "outcome")
            .count()
    };
    let only_shared: Value = app
        .get(&format!("/fhir/Patient?_id={shared_patient}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only_shared["total"], 1);
    assert_eq!(outcomes(&only_shared), 0, "{only_shared}");
    let by_name: Value = app
        .get("/fhir/Patient?family=Hiddenham")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["total"], 0);
    assert_eq!(outcomes(&by_name), 1, "{by_name}");
}

async fn plan_in_with(app: &TestApp, plan: &Value) -> (String, String) {
    let (id, _) = app.create_plan(plan).await;
    let patient = PlanIds::new(PlanId::parse(&id).unwrap()).patient();
    (id, patient)
}

// ---------------------------------------------------------------------------------------------
// Keys, identity providers, client key URIs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signing_keys_rotate_without_refusing_tokens_of_the_previous_key() {
    let store = store::connect("sqlite::memory:").await.unwrap();
    let rotated = spawn_app_with(
        store.clone(),
        &settings(),
        &["test-service-2.key.pem", "test-service-1.key.pem"],
        test_registry(),
    );
    let (id, _) = plan_in(&rotated, &nhs(11)).await;
    let keys: Value = reqwest::get(rotated.url("/auth/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let new = fixture_key("test-service-2.key.pem");
    let old = fixture_key("test-service-1.key.pem");
    assert_eq!(kids, [new.kid(), old.kid()]);
    // New tokens are signed with the new key.
    let assertion = client_assertion(
        &fixture_key("test-client-es384.key.pem"),
        "test-full",
        &rotated.url("/auth/token"),
        now(),
    )
    .unwrap();
    let (status, body) = exchange(&rotated, &assertion, "system/*.rs").await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(fresh).unwrap().kid.as_deref(),
        Some(new.kid())
    );
    // A token the previous key signed is still good.
    let claims = json!({
        "iss": rotated.address, "aud": rotated.address, "sub": "test-full",
        "client_id": "test-full", "exp": now() + 60, "scope": "system/*.rs",
    });
    let before_rotation = sign(&old, &claims);
    for token in [fresh, before_rotation.as_str()] {
        let response = client_with_token(token)
            .get(rotated.url(&format!("/fhir/CarePlan/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    // Once the old key is retired, its tokens are refused.
    let retired = spawn_app_with(
        store,
        &settings(),
        &["test-service-2.key.pem"],
        test_registry(),
    );
    let claims = json!({
        "iss": retired.address, "aud": retired.address, "sub": "test-full",
        "client_id": "test-full", "exp": now() + 60, "scope": "system/*.rs",
    });
    let response = client_with_token(&sign(&old, &claims))
        .get(retired.url(&format!("/fhir/CarePlan/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

/// A loopback server answering every request with `body` as JSON (an identity provider's or a
/// client's key set).
async fn serve_json(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let mut read = 0;
                while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/jwks.json")
}

#[tokio::test]
async fn tokens_of_a_configured_identity_provider_are_accepted_beside_ours() {
    let idp_key = fixture_key("test-other-es384.key.pem");
    let jwks_uri = serve_json(json!({ "keys": [idp_key.public_jwk()] }).to_string()).await;
    let store = store::connect("sqlite::memory:").await.unwrap();
    let issuer = "https://idp.example.nhs.uk";
    let app = spawn_app_with_authority(store.clone(), &settings(), |address| {
        let settings = AuthSettings {
            public_url: address.to_owned(),
            signing_keys: vec![fixture_key("test-service-1.key.pem")],
            registry: RegistryHandle::fixed(test_registry()),
            token_lifetime_secs: 300,
            external: Some(ExternalIssuer {
                issuer: issuer.into(),
                audience: "acp-fhir-test".into(),
                jwks_uri,
            }),
            jwks_cache_lifetime: std::time::Duration::from_secs(300),
        };
        Arc::new(Authority::new(settings, store, Arc::new(FixedClock(test_now()))).unwrap())
    });
    plan_in(&app, &nhs(12)).await;
    let claims = json!({
        "iss": issuer, "aud": ["acp-fhir-test"], "sub": "ooh-provider-7",
        "azp": "ooh-provider-7", "exp": now() + 300, "iat": now(),
        "scope": "openid system/Consent.rs",
    });
    let token = sign(&idp_key, &claims);
    let client = client_with_token(&token);
    let consents = client
        .get(app.url("/fhir/Consent?_count=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(consents.status().as_u16(), 200);
    let careplans = client
        .get(app.url("/fhir/CarePlan?_count=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(careplans.status().as_u16(), 403, "only Consent was granted");
    // Recorded under the provider's client id.
    let events = app
        .store
        .search_audit(&AuditQuery {
            agent: Some("ooh-provider-7".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("someone-else");
    let mut unknown_issuer = claims.clone();
    unknown_issuer["iss"] = json!("https://idp.example.org");
    for bad in [
        sign(&idp_key, &wrong_audience),
        sign(&idp_key, &unknown_issuer),
        // The provider's kid, someone else's key.
        {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
            header.kid = Some(idp_key.kid().to_owned());
            jsonwebtoken::encode(
                &header,
                &claims,
                fixture_key("test-client-es384.key.pem").encoding_key(),
            )
            .unwrap()
        },
    ] {
        let response = client_with_token(&bad)
            .get(app.url("/fhir/Consent?_count=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
}

#[tokio::test]
async fn a_client_can_publish_its_keys_at_a_jwks_uri() {
    let key = fixture_key("test-other-es384.key.pem");
    let jwks_uri = serve_json(json!({ "keys": [key.public_jwk()] }).to_string()).await;
    let mut registry = test_registry();
    let mut remote = registration("remote-cad", &key, "system/*.rs");
    remote.jwks = None;
    remote.jwks_uri = Some(jwks_uri);
    let scopes = acp_fhir::auth::ScopeSet::parse_all(&remote.scopes).unwrap();
    registry.insert(acp_fhir::auth::Client {
        registration: remote,
        scopes,
    });
    let app = spawn_app_with(
        store::connect("sqlite::memory:").await.unwrap(),
        &settings(),
        &["test-service-1.key.pem"],
        registry,
    );
    let assertion = client_assertion(&key, "remote-cad", &app.url("/auth/token"), now()).unwrap();
    let (status, body) = exchange(&app, &assertion, "system/*.rs").await;
    assert_eq!(status, 200, "{body}");
    // A key that is not at the URI does not authenticate the client.
    let impostor = client_assertion(
        &fixture_key("test-client-es384.key.pem"),
        "remote-cad",
        &app.url("/auth/token"),
        now(),
    )
    .unwrap();
    let (status, _) = exchange(&app, &impostor, "system/*.rs").await;
    assert_eq!(status, 401);
}

// ---------------------------------------------------------------------------------------------
// Hardening
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let app = spawn_app().await;
    let limited = app.client_for("test-limited", "system/Consent.rs");
    let mut throttled = None;
    for _ in 0..20 {
        let response = limited
            .get(app.url("/fhir/Consent?_count=1"))
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 429 {
            throttled = Some(response);
            break;
        }
        assert_eq!(response.status().as_u16(), 200);
    }
    let response = throttled.expect("20 requests at once never hit a 2/s limit");
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(outcome_code(response).await, "throttled");
    // Other clients are not affected.
    let other = app.get("/fhir/Consent?_count=1").await;
    assert_eq!(other.status().as_u16(), 200);
}

#[tokio::test]
async fn security_headers_are_set_and_cors_is_off_unless_configured() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/fhir/Consent?_count=1"))
        .header("Origin", "https://somewhere.example")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(headers.get("access-control-allow-origin").is_none());
    assert!(headers.get("strict-transport-security").is_none());

    let mut with_cors = settings();
    with_cors.cors_origins = vec!["https://ehr.example".into()];
    let cors_app = spawn_app_with(
        store::connect("sqlite::memory:").await.unwrap(),
        &with_cors,
        &["test-service-1.key.pem"],
        test_registry(),
    );
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, cors_app.url("/fhir/Consent"))
        .header("Origin", "https://ehr.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://ehr.example"
    );
    let stranger = cors_app
        .client
        .get(cors_app.url("/fhir/Consent?_count=1"))
        .header("Origin", "https://somewhere.example")
        .send()
        .await
        .unwrap();
    assert!(stranger
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn tls_serves_https_with_the_configured_certificate() {
    let fixtures = format!("{}/fixtures/auth", env!("CARGO_MANIFEST_DIR"));
    let mut tls = settings();
    tls.tls = Some(TlsFiles {
        certificate: format!("{fixtures}/test-tls.cert.pem").into(),
        key: format!("{fixtures}/test-tls.key.pem").into(),
    });
    let app = spawn_app_with(
        store::connect("sqlite::memory:").await.unwrap(),
        &tls,
        &["test-service-1.key.pem"],
        test_registry(),
    );
    assert!(app.address.starts_with("https://"));
    let certificate = std::fs::read(format!("{fixtures}/test-tls-ca.cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&certificate).unwrap())
        .build()
        .unwrap();
    let response = client.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let token = app.token("test-full", FULL_SCOPES);
    let response = client
        .get(app.url("/fhir/Consent?_count=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = reqwest::get(app.url("/health/live").replacen("https", "http", 1)).await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
}

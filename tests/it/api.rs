//! The internal API under `/api/v1` over HTTP: every endpoint with its success and error paths,
//! the safety rules it must keep (H1 current decision, H2 no default, H3 right person, H4 no lost
//! update, H5 history, H7 overdue review), and the operational surface (health, request ids,
//! problem+json for unknown routes and methods).

use std::io::{Read, Write};

use reqwest::header::{CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION};
use reqwest::Response;
use serde_json::{json, Value};

use super::helpers::{minimal_plan, spawn_app, spawn_app_with_limit, test_nhs_numbers, TestApp};

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// The `n`th valid test NHS number (the first is 9990000018).
fn nhs(n: usize) -> String {
    test_nhs_numbers().nth(n).unwrap()
}

/// `Last-Modified` for the fixed test clock, 2026-11-23T12:00:00Z.
const TEST_NOW_HTTP_DATE: &str = "Mon, 23 Nov 2026 12:00:00 GMT";

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Asserts the status and the problem+json content type, and returns the problem body.
async fn expect_problem(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let content_type = header(&response, "content-type");
    let body = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "not problem+json; body: {body}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], json!(status), "{problem}");
    assert_eq!(problem["type"], "about:blank", "{problem}");
    problem
}

/// The `errors[].path` of a problem.
fn paths(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_path(problem: &Value, path: &str) {
    let found = paths(problem);
    assert!(
        found.iter().any(|p| p == path),
        "expected an error at `{path}`, got {found:?} in {problem}"
    );
}

/// Asserts status 200 and returns the JSON body.
async fn ok_json(response: Response) -> Value {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn find_by_nhs(app: &TestApp, nhs_number: &str) -> Response {
    app.get(&format!("/api/v1/plans?nhs_number={nhs_number}"))
        .await
}

/// Asserts that no plan of record exists for the person (nothing was stored).
async fn assert_nothing_stored(app: &TestApp, nhs_number: &str) {
    let response = find_by_nhs(app, nhs_number).await;
    expect_problem(response, 404).await;
    let listed = app.store.list(None, 100, true).await.unwrap();
    assert!(listed.is_empty(), "something was stored: {listed:?}");
}

async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> Response {
    app.client
        .post(app.url(path))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// POSTs `$revoke` or `$entered-in-error`.
async fn end_plan(
    app: &TestApp,
    id: &str,
    operation: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/plans/{id}/{operation}")))
        .json(body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    request.send().await.unwrap()
}

async fn read_plan(app: &TestApp, id: &str) -> Value {
    ok_json(app.get(&format!("/api/v1/plans/{id}")).await).await
}

/// PUTs `plan` at `version` and returns the new view, asserting success.
async fn revise(app: &TestApp, id: &str, version: u64, plan: &Value) -> Value {
    let response = app
        .put_plan(id, Some(&format!("\"{version}\"")), plan)
        .await;
    ok_json(response).await
}

/// A plan for `nhs_number` whose special note makes the JSON body at least `size` bytes.
fn plan_of_size(nhs_number: &str, size: usize) -> Value {
    let mut plan = minimal_plan(nhs_number);
    plan["special_note"] = json!("x".repeat(size));
    plan
}

/// A raw HTTP/1.1 POST with `Transfer-Encoding: chunked` (no `Content-Length`), over a plain
/// socket: reqwest here is built without its `stream` feature. Returns the status, the response
/// head (lower-cased) and the response body.
fn chunked_post_blocking(
    address: &str,
    token: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    // A guard against a hung test, not an assertion about speed.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in body.chunks(256) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a failed write is expected.
    let _ = stream.write_all(&request);
    let _ = stream.flush();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(error) if response.is_empty() => panic!("no response: {error}"),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    (status, head.to_ascii_lowercase(), rest.to_owned())
}

// ---------------------------------------------------------------------------------------------
// POST /api/v1/plans
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_returns_201_with_location_etag_last_modified_and_derived_answers() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let response = app.post_plan(&minimal_plan(&nhs_number)).await;

    assert_eq!(response.status().as_u16(), 201);
    let location = header(&response, "location").unwrap();
    assert_eq!(header(&response, "etag").as_deref(), Some("\"1\""));
    assert_eq!(
        header(&response, "last-modified").as_deref(),
        Some(TEST_NOW_HTTP_DATE)
    );
    assert!(header(&response, "content-type")
        .unwrap()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();

    let id = body["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id is not a UUID: {id}");
    assert_eq!(location, format!("/api/v1/plans/{id}"));
    assert_eq!(body["version"], 1);
    assert_eq!(body["status"], "active");
    assert!(body.get("status_reason").is_none());
    assert_eq!(body["created"], "2026-11-23T12:00:00Z");
    assert_eq!(body["last_updated"], "2026-11-23T12:00:00Z");
    // The authenticated client is recorded as the author.
    assert_eq!(body["last_updated_by"], "test-full");

    let plan = &body["plan"];
    assert_eq!(plan["person"]["nhs_number"], nhs_number.as_str());
    assert_eq!(plan["person"]["family_name"], "Testperson");
    let decision = &plan["resuscitation_decisions"][0];
    let decision_id = decision["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(decision_id).is_ok());
    assert_eq!(decision["status"], "current");
    assert_eq!(decision["form_location"], "purple form on the fridge");

    let derived = &body["derived"];
    assert_eq!(derived["resuscitation"], "not-for-cpr");
    assert_eq!(derived["current_resuscitation_decision"], decision_id);
    assert_eq!(derived["review_overdue"], json!([]));

    // The Location is where the plan can be read.
    let read = app.get(&location).await;
    assert_eq!(read.status().as_u16(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["id"], body["id"]);
    assert_eq!(read["plan"], body["plan"]);
}

#[tokio::test]
async fn create_accepts_an_nhs_number_written_with_spaces_and_stores_it_without() {
    let app = spawn_app().await;
    let (_, created) = app.create_plan(&minimal_plan("999 000 0018")).await;
    assert_eq!(created["plan"]["person"]["nhs_number"], "9990000018");
    let found = ok_json(find_by_nhs(&app, "9990000018").await).await;
    assert_eq!(found["id"], created["id"]);
}

#[tokio::test]
async fn malformed_json_is_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let body = format!("{{\"person\": {{\"nhs_number\": \"{nhs_number}\", ");
    let response = post_raw(&app, "/api/v1/plans", "application/json", body.into_bytes()).await;
    let problem = expect_problem(response, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON"),
        "{problem}"
    );
    assert_eq!(paths(&problem).len(), 1, "{problem}");
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn trailing_content_after_the_json_document_is_400() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let body = format!("{} {{}}", minimal_plan(&nhs_number));
    let response = post_raw(&app, "/api/v1/plans", "application/json", body.into_bytes()).await;
    let problem = expect_problem(response, 400).await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn unknown_top_level_field_is_400_naming_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["bogus"] = json!(true);
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert_path(&problem, "bogus");
    assert!(
        problem["detail"].as_str().unwrap().contains("bogus"),
        "{problem}"
    );
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn unknown_nested_field_is_400_with_its_full_path_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["person"]["bogus"] = json!("x");
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert_path(&problem, "person.bogus");
    assert_nothing_stored(&app, &nhs_number).await;

    let mut plan = minimal_plan(&nhs_number);
    plan["resuscitation_decisions"][0]["decided_by"]["grade"] = json!("ST3");
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert_path(&problem, "resuscitation_decisions[0].decided_by.grade");
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn wrong_type_is_400_with_the_path_of_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["person"]["given_names"] = json!("Alma");
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert_eq!(paths(&problem), vec!["person.given_names".to_owned()]);
    assert_nothing_stored(&app, &nhs_number).await;

    let mut plan = minimal_plan(&nhs_number);
    plan["resuscitation_decisions"][0]["decision"] = json!("maybe");
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert_eq!(
        paths(&problem),
        vec!["resuscitation_decisions[0].decision".to_owned()]
    );
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn missing_mandatory_field_is_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan.as_object_mut().unwrap().remove("consent_to_share");
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("consent_to_share"),
        "{problem}"
    );
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn invalid_nhs_number_check_digit_is_400_at_person_nhs_number_and_nothing_is_stored() {
    let app = spawn_app().await;
    let plan = minimal_plan("9990000019");
    let problem = expect_problem(app.post_plan(&plan).await, 400).await;
    assert_eq!(paths(&problem), vec!["person.nhs_number".to_owned()]);
    assert!(problem["detail"].as_str().unwrap().contains("check digit"));
    assert_nothing_stored(&app, "9990000018").await;
    assert!(app.store.list(None, 10, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn domain_rule_failures_are_422_listing_every_offending_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["person"]["family_name"] = json!("   ");
    let second = json!({
        "decision": "for-cpr",
        "decision_date": "2026-11-01",
        "review": "indefinite",
        "decided_by": { "name": "Dr Ben Okafor" }
    });
    plan["resuscitation_decisions"]
        .as_array_mut()
        .unwrap()
        .push(second);

    let problem = expect_problem(app.post_plan(&plan).await, 422).await;
    assert_path(&problem, "person.family_name");
    assert_path(&problem, "resuscitation_decisions[1].status");
    assert_eq!(paths(&problem).len(), 2, "{problem}");
    for error in problem["errors"].as_array().unwrap() {
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn a_future_decision_date_and_review_before_decision_are_422() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["resuscitation_decisions"][0]["decision_date"] = json!("2026-12-25");
    plan["resuscitation_decisions"][0]["review"] = json!("2026-12-01");
    let problem = expect_problem(app.post_plan(&plan).await, 422).await;
    assert_path(&problem, "resuscitation_decisions[0].decision_date");
    assert_path(&problem, "resuscitation_decisions[0].review");
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn a_body_within_the_limit_is_accepted() {
    let app = spawn_app_with_limit(2048).await;
    let nhs_number = nhs(0);
    let plan = minimal_plan(&nhs_number);
    assert!(serde_json::to_vec(&plan).unwrap().len() < 2048);
    app.create_plan(&plan).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_nothing_is_stored() {
    let app = spawn_app_with_limit(2048).await;
    let nhs_number = nhs(0);
    let plan = plan_of_size(&nhs_number, 4096);
    let problem = expect_problem(app.post_plan(&plan).await, 413).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("2048"),
        "{problem}"
    );
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn a_body_without_content_length_over_the_limit_is_413_and_nothing_is_stored() {
    let app = spawn_app_with_limit(2048).await;
    let nhs_number = nhs(0);
    let body = serde_json::to_vec(&plan_of_size(&nhs_number, 8192)).unwrap();
    let address = app.address.clone();
    let token = app.token("test-full", super::helpers::FULL_SCOPES);
    let (status, head, body) = tokio::task::spawn_blocking(move || {
        chunked_post_blocking(&address, &token, "/api/v1/plans", &body)
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{head}\n{body}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(head.contains("x-request-id: "), "{head}");
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn a_chunked_body_within_the_limit_is_accepted() {
    let app = spawn_app_with_limit(2048).await;
    let nhs_number = nhs(0);
    let body = serde_json::to_vec(&minimal_plan(&nhs_number)).unwrap();
    let address = app.address.clone();
    let token = app.token("test-full", super::helpers::FULL_SCOPES);
    let (status, head, body) = tokio::task::spawn_blocking(move || {
        chunked_post_blocking(&address, &token, "/api/v1/plans", &body)
    })
    .await
    .unwrap();
    assert_eq!(status, 201, "{head}\n{body}");
    ok_json(find_by_nhs(&app, &nhs_number).await).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_nothing_is_stored() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let body = serde_json::to_vec(&minimal_plan(&nhs_number)).unwrap();
    let response = post_raw(&app, "/api/v1/plans", "text/plain", body).await;
    expect_problem(response, 415).await;
    assert_nothing_stored(&app, &nhs_number).await;

    // No content type at all is refused the same way.
    let body = serde_json::to_vec(&minimal_plan(&nhs_number)).unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/plans"))
        .body(body)
        .send()
        .await
        .unwrap();
    expect_problem(response, 415).await;
    assert_nothing_stored(&app, &nhs_number).await;
}

#[tokio::test]
async fn json_with_a_charset_or_a_plus_json_type_is_accepted() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&minimal_plan(&nhs(0))).unwrap();
    let response = post_raw(
        &app,
        "/api/v1/plans",
        "application/json; charset=utf-8",
        body,
    )
    .await;
    assert_eq!(response.status().as_u16(), 201);
    let body = serde_json::to_vec(&minimal_plan(&nhs(1))).unwrap();
    let response = post_raw(&app, "/api/v1/plans", "application/merge+json", body).await;
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn an_empty_body_is_400() {
    let app = spawn_app().await;
    let response = post_raw(&app, "/api/v1/plans", "application/json", Vec::new()).await;
    let problem = expect_problem(response, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("empty"),
        "{problem}"
    );
    assert!(app.store.list(None, 10, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_second_plan_for_the_same_person_is_409_naming_the_existing_plan() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (first_id, _) = app.create_plan(&minimal_plan(&nhs_number)).await;

    // Also when the number is written with spaces.
    for written in [nhs_number.clone(), "999 000 0018".to_owned()] {
        let problem = expect_problem(app.post_plan(&minimal_plan(&written)).await, 409).await;
        assert_eq!(problem["existing_plan"], first_id.as_str(), "{problem}");
    }
    let found = ok_json(find_by_nhs(&app, &nhs_number).await).await;
    assert_eq!(found["id"], first_id.as_str());
    assert_eq!(found["version"], 1);
    assert_eq!(app.store.list(None, 10, true).await.unwrap().len(), 1);
}

#[tokio::test]
async fn after_revoking_a_plan_a_new_plan_can_be_created_for_the_person() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (first_id, _) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let revoked = end_plan(
        &app,
        &first_id,
        "$revoke",
        None,
        &json!({ "reason": "left the register" }),
    )
    .await;
    assert_eq!(revoked.status().as_u16(), 200);

    let response = app.post_plan(&minimal_plan(&nhs_number)).await;
    assert_eq!(response.status().as_u16(), 201);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["id"], first_id.as_str());
    let found = ok_json(find_by_nhs(&app, &nhs_number).await).await;
    assert_eq!(found["id"], second["id"]);
    // The revoked plan is still readable.
    let first = read_plan(&app, &first_id).await;
    assert_eq!(first["status"], "revoked");
}

#[tokio::test]
async fn after_marking_a_plan_entered_in_error_a_new_plan_can_be_created_for_the_person() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (first_id, _) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let ended = end_plan(
        &app,
        &first_id,
        "$entered-in-error",
        Some("\"1\""),
        &json!({ "reason": "wrong person" }),
    )
    .await;
    assert_eq!(ended.status().as_u16(), 200);
    let (second_id, _) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let found = ok_json(find_by_nhs(&app, &nhs_number).await).await;
    assert_eq!(found["id"], second_id.as_str());
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/plans/{id}
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn read_returns_the_current_version_with_its_etag() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let response = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "etag").as_deref(), Some("\"1\""));
    assert_eq!(
        header(&response, "last-modified").as_deref(),
        Some(TEST_NOW_HTTP_DATE)
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, created);
}

#[tokio::test]
async fn read_of_an_unknown_plan_is_404() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();
    expect_problem(app.get(&format!("/api/v1/plans/{unknown}")).await, 404).await;
}

#[tokio::test]
async fn read_with_a_malformed_id_is_404() {
    let app = spawn_app().await;
    for id in ["not-a-uuid", "123", "9990000018"] {
        expect_problem(app.get(&format!("/api/v1/plans/{id}")).await, 404).await;
    }
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/plans?nhs_number=…
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn find_by_nhs_number_returns_the_current_plan() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let response = find_by_nhs(&app, &nhs_number).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "etag").as_deref(), Some("\"1\""));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body, created);
}

#[tokio::test]
async fn find_by_nhs_number_written_with_url_encoded_spaces_works() {
    let app = spawn_app().await;
    let (id, _) = app.create_plan(&minimal_plan("9990000018")).await;
    let body = ok_json(app.get("/api/v1/plans?nhs_number=999%20000%200018").await).await;
    assert_eq!(body["id"], id.as_str());
    // The form encoding of a space works too.
    let response = app
        .client
        .get(app.url("/api/v1/plans"))
        .query(&[("nhs_number", "999 000 0018")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(response).await["id"], id.as_str());
}

#[tokio::test]
async fn find_with_an_invalid_check_digit_is_400_at_nhs_number() {
    let app = spawn_app().await;
    app.create_plan(&minimal_plan("9990000018")).await;
    for bad in [
        "9990000019",
        "999000001",
        "99900000180",
        "999-000-0018",
        "abcdefghij",
        "",
    ] {
        let problem = expect_problem(find_by_nhs(&app, bad).await, 400).await;
        assert_eq!(
            paths(&problem),
            vec!["nhs_number".to_owned()],
            "{bad}: {problem}"
        );
    }
}

#[tokio::test]
async fn find_without_nhs_number_is_400() {
    let app = spawn_app().await;
    app.create_plan(&minimal_plan(&nhs(0))).await;
    let problem = expect_problem(app.get("/api/v1/plans").await, 400).await;
    assert_eq!(paths(&problem), vec!["nhs_number".to_owned()]);
}

#[tokio::test]
async fn find_with_an_unknown_query_parameter_is_400_naming_it() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    app.create_plan(&minimal_plan(&nhs_number)).await;
    let problem = expect_problem(
        app.get(&format!("/api/v1/plans?nhs={nhs_number}")).await,
        400,
    )
    .await;
    assert_eq!(paths(&problem), vec!["nhs".to_owned()]);
    let problem = expect_problem(
        app.get(&format!(
            "/api/v1/plans?nhs_number={nhs_number}&family_name=Testperson"
        ))
        .await,
        400,
    )
    .await;
    assert_eq!(paths(&problem), vec!["family_name".to_owned()]);
}

#[tokio::test]
async fn find_with_nhs_number_given_twice_is_400_never_a_guess() {
    let app = spawn_app().await;
    let (first, second) = (nhs(0), nhs(1));
    app.create_plan(&minimal_plan(&first)).await;
    app.create_plan(&minimal_plan(&second)).await;
    let problem = expect_problem(
        app.get(&format!(
            "/api/v1/plans?nhs_number={first}&nhs_number={second}"
        ))
        .await,
        400,
    )
    .await;
    assert_eq!(paths(&problem), vec!["nhs_number".to_owned()]);
}

#[tokio::test]
async fn find_for_a_person_without_a_plan_is_404() {
    let app = spawn_app().await;
    app.create_plan(&minimal_plan(&nhs(0))).await;
    expect_problem(find_by_nhs(&app, &nhs(1)).await, 404).await;
}

#[tokio::test]
async fn each_lookup_returns_only_its_own_persons_plan() {
    let app = spawn_app().await;
    let (alma_nhs, bert_nhs) = (nhs(0), nhs(1));
    let (alma_id, _) = app.create_plan(&minimal_plan(&alma_nhs)).await;
    let mut bert = minimal_plan(&bert_nhs);
    bert["person"]["family_name"] = json!("Otherperson");
    bert["person"]["given_names"] = json!(["Bert"]);
    bert["resuscitation_decisions"][0]["decision"] = json!("for-cpr");
    let (bert_id, _) = app.create_plan(&bert).await;
    assert_ne!(alma_id, bert_id);

    let alma = ok_json(find_by_nhs(&app, &alma_nhs).await).await;
    assert_eq!(alma["id"], alma_id.as_str());
    assert_eq!(alma["plan"]["person"]["nhs_number"], alma_nhs.as_str());
    assert_eq!(alma["plan"]["person"]["given_names"], json!(["Alma"]));
    assert_eq!(alma["derived"]["resuscitation"], "not-for-cpr");

    let bert = ok_json(find_by_nhs(&app, &bert_nhs).await).await;
    assert_eq!(bert["id"], bert_id.as_str());
    assert_eq!(bert["plan"]["person"]["nhs_number"], bert_nhs.as_str());
    assert_eq!(bert["plan"]["person"]["given_names"], json!(["Bert"]));
    assert_eq!(bert["derived"]["resuscitation"], "for-cpr");
}

// ---------------------------------------------------------------------------------------------
// PUT /api/v1/plans/{id}
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_with_the_current_etag_is_200_and_makes_version_2() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["special_note"] = json!("Dog in the kitchen; knock loudly.");

    let response = app.put_plan(&id, Some("\"1\""), &plan).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "etag").as_deref(), Some("\"2\""));
    assert!(header(&response, "last-modified").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["version"], 2);
    assert_eq!(body["status"], "active");
    assert_eq!(body["created"], created["created"]);
    assert_eq!(
        body["plan"]["special_note"],
        "Dog in the kitchen; knock loudly."
    );
    assert_eq!(body["derived"], created["derived"]);

    let read = app.get(&format!("/api/v1/plans/{id}")).await;
    assert_eq!(header(&read, "etag").as_deref(), Some("\"2\""));
    let read: Value = read.json().await.unwrap();
    assert_eq!(read, body);
}

#[tokio::test]
async fn update_accepts_a_weak_etag_as_fhir_clients_send_it() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["lives_alone"] = json!(true);
    let response = app.put_plan(&id, Some("W/\"1\""), &plan).await;
    let body = ok_json(response).await;
    assert_eq!(body["version"], 2);
    assert_eq!(body["plan"]["lives_alone"], true);
}

#[tokio::test]
async fn update_with_a_stale_etag_is_412_with_the_current_version() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["special_note"] = json!("first change");
    revise(&app, &id, 1, &plan).await;

    plan["special_note"] = json!("second change from a stale copy");
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 412).await;
    assert_eq!(problem["current_version"], 2, "{problem}");
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 2);
    assert_eq!(read["plan"]["special_note"], "first change");

    // A version from the future is just as stale.
    let problem = expect_problem(app.put_plan(&id, Some("\"7\""), &plan).await, 412).await;
    assert_eq!(problem["current_version"], 2);
}

#[tokio::test]
async fn update_without_if_match_is_428_and_changes_nothing() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["special_note"] = json!("blind write");
    expect_problem(app.put_plan(&id, None, &plan).await, 428).await;
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 1);
    assert!(read["plan"].get("special_note").is_none());
}

#[tokio::test]
async fn update_with_if_match_star_or_garbage_is_400_at_if_match() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["special_note"] = json!("blind write");
    for tag in ["*", "1", "\"one\"", "W/1", ""] {
        let problem = expect_problem(app.put_plan(&id, Some(tag), &plan).await, 400).await;
        assert_eq!(
            paths(&problem),
            vec!["If-Match".to_owned()],
            "{tag:?}: {problem}"
        );
    }
    assert_eq!(read_plan(&app, &id).await["version"], 1);
}

#[tokio::test]
async fn update_breaking_domain_rules_is_422_and_the_version_is_unchanged() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["person"]["family_name"] = json!("");
    plan["usual_gp"]["practice_name"] = json!(" ");
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 422).await;
    assert_path(&problem, "person.family_name");
    assert_path(&problem, "usual_gp.practice_name");
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["plan"], created["plan"]);
    let history = ok_json(app.get(&format!("/api/v1/plans/{id}/history")).await).await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn update_with_an_unparsable_body_is_400_and_the_version_is_unchanged() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["usual_gp"]["fax"] = json!("none");
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 400).await;
    assert_path(&problem, "usual_gp.fax");
    assert_eq!(read_plan(&app, &id).await["version"], 1);
}

#[tokio::test]
async fn update_changing_the_nhs_number_is_422_at_person_nhs_number() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["person"]["nhs_number"] = json!(nhs(1));
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 422).await;
    assert_path(&problem, "person.nhs_number");
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["plan"]["person"]["nhs_number"], nhs(0).as_str());
    expect_problem(find_by_nhs(&app, &nhs(1)).await, 404).await;
}

#[tokio::test]
async fn update_of_a_revoked_plan_is_409() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let revoked = end_plan(
        &app,
        &id,
        "$revoke",
        Some("\"1\""),
        &json!({ "reason": "moved away" }),
    )
    .await;
    assert_eq!(revoked.status().as_u16(), 200);
    let mut plan = created["plan"].clone();
    plan["special_note"] = json!("too late");
    expect_problem(app.put_plan(&id, Some("\"2\""), &plan).await, 409).await;
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 2);
    assert_eq!(read["status"], "revoked");
}

#[tokio::test]
async fn update_of_an_unknown_or_malformed_plan_id_is_404() {
    let app = spawn_app().await;
    let plan = minimal_plan(&nhs(0));
    let unknown = uuid::Uuid::new_v4().to_string();
    expect_problem(app.put_plan(&unknown, Some("\"1\""), &plan).await, 404).await;
    expect_problem(app.put_plan("not-a-uuid", Some("\"1\""), &plan).await, 404).await;
    assert!(app.store.list(None, 10, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_updates_with_the_same_version_give_one_success_and_one_412() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut left = created["plan"].clone();
    left["special_note"] = json!("written by the GP");
    let mut right = created["plan"].clone();
    right["special_note"] = json!("written by the hospice");

    let (a, b) = tokio::join!(
        app.put_plan(&id, Some("\"1\""), &left),
        app.put_plan(&id, Some("\"1\""), &right)
    );
    let (a_status, b_status) = (a.status().as_u16(), b.status().as_u16());
    let mut statuses = [a_status, b_status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "got {a_status} and {b_status}");

    let (winner, loser, winning_note) = if a_status == 200 {
        (a, b, "written by the GP")
    } else {
        (b, a, "written by the hospice")
    };
    let winner: Value = winner.json().await.unwrap();
    assert_eq!(winner["version"], 2);
    let loser = expect_problem(loser, 412).await;
    assert_eq!(loser["current_version"], 2);

    let history = ok_json(app.get(&format!("/api/v1/plans/{id}/history")).await).await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["plan"]["special_note"], winning_note);
    assert_eq!(
        read_plan(&app, &id).await["plan"]["special_note"],
        winning_note
    );
}

// ---------------------------------------------------------------------------------------------
// H1, H2, H7 through the API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_new_current_cpr_decision_supersedes_the_stored_one() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let old_id = created["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut plan = created["plan"].clone();
    plan["resuscitation_decisions"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "decision": "for-cpr",
            "decision_date": "2026-11-20",
            "review": "2027-02-20",
            "decided_by": { "name": "Dr Ben Okafor", "role": "Consultant in palliative medicine" },
            "reason": "Treatment response; wishes to be for CPR"
        }));
    let updated = revise(&app, &id, 1, &plan).await;

    let decisions = updated["plan"]["resuscitation_decisions"]
        .as_array()
        .unwrap();
    assert_eq!(decisions.len(), 2);
    let old = decisions
        .iter()
        .find(|d| d["id"] == old_id.as_str())
        .unwrap();
    assert_eq!(old["status"], "superseded");
    assert_eq!(old["ended"]["by"], "Dr Ben Okafor");
    assert!(!old["ended"]["reason"].as_str().unwrap().trim().is_empty());
    assert!(old["ended"]["at"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-23T12:00:00"));
    assert_eq!(old["decision"], "not-for-cpr");
    let new = decisions
        .iter()
        .find(|d| d["id"] != old_id.as_str())
        .unwrap();
    let new_id = new["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(new_id).is_ok());
    assert_eq!(new["status"], "current");
    assert!(new.get("ended").is_none());
    let current: Vec<_> = decisions
        .iter()
        .filter(|d| d["status"] == "current")
        .collect();
    assert_eq!(current.len(), 1, "exactly one current decision");

    assert_eq!(updated["derived"]["resuscitation"], "for-cpr");
    assert_eq!(updated["derived"]["current_resuscitation_decision"], new_id);

    // The person lookup says the same.
    let found = ok_json(find_by_nhs(&app, &nhs_number).await).await;
    assert_eq!(found["derived"]["current_resuscitation_decision"], new_id);
    assert_eq!(found["derived"]["resuscitation"], "for-cpr");

    // The earlier version still shows the old decision as it was (H5).
    let v1 = ok_json(app.get(&format!("/api/v1/plans/{id}/history/1")).await).await;
    assert_eq!(
        v1["plan"]["resuscitation_decisions"][0]["status"],
        "current"
    );
    assert_eq!(
        v1["plan"]["resuscitation_decisions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Sending the new version back unchanged keeps it as it is.
    let again = revise(&app, &id, 2, &updated["plan"]).await;
    assert_eq!(again["plan"], updated["plan"]);
    assert_eq!(again["derived"]["current_resuscitation_decision"], new_id);
}

#[tokio::test]
async fn an_update_that_drops_a_recorded_decision_is_422() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["resuscitation_decisions"] = json!([]);
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 422).await;
    assert_path(&problem, "resuscitation_decisions");
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["derived"]["resuscitation"], "not-for-cpr");

    // Leaving the field out entirely is the same as dropping it.
    plan.as_object_mut()
        .unwrap()
        .remove("resuscitation_decisions");
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 422).await;
    assert_path(&problem, "resuscitation_decisions");
    assert_eq!(read_plan(&app, &id).await["version"], 1);
}

#[tokio::test]
async fn an_update_that_changes_a_recorded_decision_is_422() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["resuscitation_decisions"][0]["decision"] = json!("for-cpr");
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 422).await;
    assert_path(&problem, "resuscitation_decisions[0]");

    let mut plan = created["plan"].clone();
    plan["resuscitation_decisions"][0]["form_location"] = json!("in the hall drawer");
    let problem = expect_problem(app.put_plan(&id, Some("\"1\""), &plan).await, 422).await;
    assert_path(&problem, "resuscitation_decisions[0]");

    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["plan"], created["plan"]);
}

#[tokio::test]
async fn a_plan_without_cpr_decisions_says_no_decision_recorded() {
    let app = spawn_app().await;
    let mut plan = minimal_plan(&nhs(0));
    plan.as_object_mut()
        .unwrap()
        .remove("resuscitation_decisions");
    let (id, created) = app.create_plan(&plan).await;
    assert_eq!(created["derived"]["resuscitation"], "no-decision-recorded");
    assert!(created["derived"]
        .get("current_resuscitation_decision")
        .is_none());
    let read = read_plan(&app, &id).await;
    assert_eq!(read["derived"]["resuscitation"], "no-decision-recorded");

    // An explicitly empty list is the same.
    let mut plan = minimal_plan(&nhs(1));
    plan["resuscitation_decisions"] = json!([]);
    let (_, created) = app.create_plan(&plan).await;
    assert_eq!(created["derived"]["resuscitation"], "no-decision-recorded");
}

#[tokio::test]
async fn a_plan_whose_only_decision_has_ended_says_no_decision_recorded() {
    let app = spawn_app().await;
    let mut plan = minimal_plan(&nhs(0));
    plan["resuscitation_decisions"][0]["status"] = json!("revoked");
    plan["resuscitation_decisions"][0]["ended"] = json!({
        "at": "2026-10-20T09:30:00+01:00",
        "by": "Dr Ada Hale",
        "reason": "Person regained capacity and asked for CPR to be attempted"
    });
    let (_, created) = app.create_plan(&plan).await;
    assert_eq!(created["derived"]["resuscitation"], "no-decision-recorded");
    assert!(created["derived"]
        .get("current_resuscitation_decision")
        .is_none());
    // The ending time keeps its offset (H6).
    assert_eq!(
        created["plan"]["resuscitation_decisions"][0]["ended"]["at"],
        "2026-10-20T09:30:00+01:00"
    );
}

#[tokio::test]
async fn a_plan_past_its_review_date_is_flagged_overdue() {
    let app = spawn_app().await;
    let mut plan = minimal_plan(&nhs(0));
    plan["review_date"] = json!("2026-11-22");
    let (id, created) = app.create_plan(&plan).await;
    assert_eq!(
        created["derived"]["review_overdue"],
        json!([{ "item": "plan", "due": "2026-11-22" }])
    );
    let read = read_plan(&app, &id).await;
    assert_eq!(
        read["derived"]["review_overdue"],
        created["derived"]["review_overdue"]
    );

    // Due today is not yet overdue.
    let mut plan = minimal_plan(&nhs(1));
    plan["review_date"] = json!("2026-11-23");
    let (_, created) = app.create_plan(&plan).await;
    assert_eq!(created["derived"]["review_overdue"], json!([]));
}

#[tokio::test]
async fn a_current_decision_past_its_review_date_is_flagged_overdue() {
    let app = spawn_app().await;
    let mut plan = minimal_plan(&nhs(0));
    plan["review_date"] = json!("2026-11-01");
    plan["resuscitation_decisions"][0]["review"] = json!("2026-11-15");
    let (_, created) = app.create_plan(&plan).await;
    let overdue = created["derived"]["review_overdue"].as_array().unwrap();
    assert_eq!(overdue.len(), 2, "{overdue:?}");
    assert!(overdue.contains(&json!({ "item": "plan", "due": "2026-11-01" })));
    assert!(overdue.contains(&json!({ "item": "resuscitation_decisions[0]", "due": "2026-11-15" })));
    // The decision still stands: overdue is flagged, not hidden.
    assert_eq!(created["derived"]["resuscitation"], "not-for-cpr");
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_version_stays_readable_after_twenty_updates() {
    const UPDATES: u64 = 20;
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    for n in 1..=UPDATES {
        plan["special_note"] = json!(format!("note of update {n}"));
        let updated = revise(&app, &id, n, &plan).await;
        assert_eq!(updated["version"], n + 1);
        plan = updated["plan"].clone();
    }

    let response = app.get(&format!("/api/v1/plans/{id}/history")).await;
    assert_eq!(response.status().as_u16(), 200);
    let history: Value = response.json().await.unwrap();
    assert_eq!(history["plan_id"], id.as_str());
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), usize::try_from(UPDATES + 1).unwrap());
    for (index, entry) in versions.iter().enumerate() {
        let expected = UPDATES + 1 - u64::try_from(index).unwrap();
        assert_eq!(entry["version"], expected, "newest first");
        assert_eq!(entry["id"], id.as_str());
    }

    for version in 1..=UPDATES + 1 {
        let response = app
            .get(&format!("/api/v1/plans/{id}/history/{version}"))
            .await;
        assert_eq!(response.status().as_u16(), 200, "version {version}");
        assert_eq!(
            header(&response, "etag").as_deref(),
            Some(format!("\"{version}\"").as_str())
        );
        let record: Value = response.json().await.unwrap();
        assert_eq!(record["id"], id.as_str());
        assert_eq!(record["version"], version);
        if version == 1 {
            assert!(record["plan"].get("special_note").is_none());
            assert_eq!(record["plan"], created["plan"]);
        } else {
            assert_eq!(
                record["plan"]["special_note"],
                format!("note of update {}", version - 1)
            );
        }
        let listed = &versions[usize::try_from(UPDATES + 1 - version).unwrap()];
        assert_eq!(&record, listed);
    }
}

#[tokio::test]
async fn a_version_that_does_not_exist_is_404() {
    let app = spawn_app().await;
    let (id, _) = app.create_plan(&minimal_plan(&nhs(0))).await;
    for version in ["0", "2", "999", "-1", "abc", "4294967296"] {
        expect_problem(
            app.get(&format!("/api/v1/plans/{id}/history/{version}"))
                .await,
            404,
        )
        .await;
    }
    ok_json(app.get(&format!("/api/v1/plans/{id}/history/1")).await).await;
}

#[tokio::test]
async fn history_of_an_unknown_or_malformed_plan_is_404() {
    let app = spawn_app().await;
    app.create_plan(&minimal_plan(&nhs(0))).await;
    let unknown = uuid::Uuid::new_v4();
    expect_problem(
        app.get(&format!("/api/v1/plans/{unknown}/history")).await,
        404,
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/plans/{unknown}/history/1")).await,
        404,
    )
    .await;
    expect_problem(app.get("/api/v1/plans/not-a-uuid/history").await, 404).await;
    expect_problem(app.get("/api/v1/plans/not-a-uuid/history/1").await, 404).await;
}

// ---------------------------------------------------------------------------------------------
// $revoke and $entered-in-error
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_makes_a_new_revoked_version_and_ends_the_plan_of_record() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let response = end_plan(
        &app,
        &id,
        "$revoke",
        Some("\"1\""),
        &json!({ "reason": "Moved out of area" }),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "etag").as_deref(), Some("\"2\""));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], 2);
    assert_eq!(body["status"], "revoked");
    assert_eq!(body["status_reason"], "Moved out of area");
    assert_eq!(
        body["plan"], created["plan"],
        "the content is kept as it was"
    );
    assert_eq!(body["derived"]["resuscitation"], "plan-not-current");
    assert!(body["derived"]
        .get("current_resuscitation_decision")
        .is_none());

    // No plan of record for the person any more.
    expect_problem(find_by_nhs(&app, &nhs_number).await, 404).await;
    // The plan itself and its history stay readable.
    let read = read_plan(&app, &id).await;
    assert_eq!(read["status"], "revoked");
    assert_eq!(read["derived"]["resuscitation"], "plan-not-current");
    let v1 = ok_json(app.get(&format!("/api/v1/plans/{id}/history/1")).await).await;
    assert_eq!(v1["status"], "active");
    assert!(v1.get("status_reason").is_none());
    let history = ok_json(app.get(&format!("/api/v1/plans/{id}/history")).await).await;
    let statuses: Vec<&Value> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["status"])
        .collect();
    assert_eq!(statuses, [&json!("revoked"), &json!("active")]);
}

#[tokio::test]
async fn entered_in_error_makes_a_new_version_and_ends_the_plan_of_record() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (id, _) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let response = end_plan(
        &app,
        &id,
        "$entered-in-error",
        None,
        &json!({ "reason": "Recorded against the wrong person" }),
    )
    .await;
    let body = ok_json(response).await;
    assert_eq!(body["version"], 2);
    assert_eq!(body["status"], "entered-in-error");
    assert_eq!(body["status_reason"], "Recorded against the wrong person");
    assert_eq!(body["derived"]["resuscitation"], "plan-not-current");
    assert_eq!(body["derived"]["review_overdue"], json!([]));
    expect_problem(find_by_nhs(&app, &nhs_number).await, 404).await;
    let v1 = ok_json(app.get(&format!("/api/v1/plans/{id}/history/1")).await).await;
    assert_eq!(v1["status"], "active");
}

#[tokio::test]
async fn ending_a_plan_requires_a_non_blank_reason() {
    let app = spawn_app().await;
    let (id, _) = app.create_plan(&minimal_plan(&nhs(0))).await;
    for operation in ["$revoke", "$entered-in-error"] {
        for blank in ["", "   "] {
            let response = end_plan(&app, &id, operation, None, &json!({ "reason": blank })).await;
            let problem = expect_problem(response, 422).await;
            assert_eq!(paths(&problem), vec!["reason".to_owned()], "{operation}");
        }
        // Missing reason, unknown field, wrong type: unparsable requests.
        let response = end_plan(&app, &id, operation, None, &json!({})).await;
        let problem = expect_problem(response, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("reason"),
            "{problem}"
        );
        let response = end_plan(
            &app,
            &id,
            operation,
            None,
            &json!({ "reason": "moved", "comment": "x" }),
        )
        .await;
        let problem = expect_problem(response, 400).await;
        assert_path(&problem, "comment");
        let response = end_plan(&app, &id, operation, None, &json!({ "reason": 5 })).await;
        let problem = expect_problem(response, 400).await;
        assert_path(&problem, "reason");
        // No body at all.
        let response = post_raw(
            &app,
            &format!("/api/v1/plans/{id}/{operation}"),
            "application/json",
            Vec::new(),
        )
        .await;
        expect_problem(response, 400).await;
    }
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["status"], "active");
}

#[tokio::test]
async fn revoke_with_a_stale_etag_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let (id, created) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let mut plan = created["plan"].clone();
    plan["special_note"] = json!("changed");
    revise(&app, &id, 1, &plan).await;

    let response = end_plan(
        &app,
        &id,
        "$revoke",
        Some("\"1\""),
        &json!({ "reason": "x" }),
    )
    .await;
    let problem = expect_problem(response, 412).await;
    assert_eq!(problem["current_version"], 2);
    let response = end_plan(
        &app,
        &id,
        "$entered-in-error",
        Some("W/\"1\""),
        &json!({ "reason": "x" }),
    )
    .await;
    expect_problem(response, 412).await;
    let response = end_plan(&app, &id, "$revoke", Some("*"), &json!({ "reason": "x" })).await;
    let problem = expect_problem(response, 400).await;
    assert_eq!(paths(&problem), vec!["If-Match".to_owned()]);

    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 2);
    assert_eq!(read["status"], "active");
}

#[tokio::test]
async fn entered_in_error_on_a_plan_already_entered_in_error_is_409() {
    let app = spawn_app().await;
    let (id, _) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let first = end_plan(
        &app,
        &id,
        "$entered-in-error",
        None,
        &json!({ "reason": "wrong person" }),
    )
    .await;
    assert_eq!(first.status().as_u16(), 200);
    let again = end_plan(
        &app,
        &id,
        "$entered-in-error",
        None,
        &json!({ "reason": "again" }),
    )
    .await;
    expect_problem(again, 409).await;
    // Nor can it be revoked.
    let revoke = end_plan(&app, &id, "$revoke", None, &json!({ "reason": "tidy up" })).await;
    expect_problem(revoke, 409).await;
    let read = read_plan(&app, &id).await;
    assert_eq!(read["version"], 2);
    assert_eq!(read["status_reason"], "wrong person");
}

#[tokio::test]
async fn a_revoked_plan_can_be_marked_entered_in_error_but_not_revoked_again() {
    let app = spawn_app().await;
    let (id, _) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let revoked = end_plan(
        &app,
        &id,
        "$revoke",
        None,
        &json!({ "reason": "left the area" }),
    )
    .await;
    assert_eq!(revoked.status().as_u16(), 200);
    let again = end_plan(&app, &id, "$revoke", None, &json!({ "reason": "again" })).await;
    expect_problem(again, 409).await;
    let response = end_plan(
        &app,
        &id,
        "$entered-in-error",
        Some("\"2\""),
        &json!({ "reason": "was the wrong person all along" }),
    )
    .await;
    let body = ok_json(response).await;
    assert_eq!(body["version"], 3);
    assert_eq!(body["status"], "entered-in-error");
    let v2 = ok_json(app.get(&format!("/api/v1/plans/{id}/history/2")).await).await;
    assert_eq!(v2["status"], "revoked");
    assert_eq!(v2["status_reason"], "left the area");
}

#[tokio::test]
async fn ending_an_unknown_or_malformed_plan_is_404() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for operation in ["$revoke", "$entered-in-error"] {
        for id in [unknown.as_str(), "not-a-uuid"] {
            let response = end_plan(&app, id, operation, None, &json!({ "reason": "x" })).await;
            expect_problem(response, 404).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/schema
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn schema_is_a_json_schema_of_the_plan() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/schema").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/schema+json")
    );
    let schema: Value = response.json().await.unwrap();
    assert!(schema["$schema"]
        .as_str()
        .unwrap()
        .contains("json-schema.org"));
    let properties = schema["properties"].as_object().unwrap();
    for property in [
        "resuscitation_decisions",
        "person",
        "consent_to_share",
        "usual_gp",
    ] {
        assert!(properties.contains_key(property), "missing {property}");
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"person"), "{required:?}");
    assert!(required.contains(&"consent_to_share"), "{required:?}");
    assert!(
        !required.contains(&"resuscitation_decisions"),
        "{required:?}"
    );
    assert_eq!(schema["additionalProperties"], false);
}

// ---------------------------------------------------------------------------------------------
// Operations: health, request ids, unknown routes and methods
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn liveness_and_readiness_are_200() {
    let app = spawn_app().await;
    let live = ok_json(app.get("/health/live").await).await;
    assert_eq!(live["status"], "live");
    let ready = ok_json(app.get("/health/ready").await).await;
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let created = app.post_plan(&minimal_plan(&nhs_number)).await;
    let mut responses = vec![created];
    responses.push(app.post_plan(&minimal_plan(&nhs_number)).await); // 409
    responses.push(app.get("/health/live").await);
    responses.push(app.get("/health/ready").await);
    responses.push(app.get("/api/v1/schema").await);
    responses.push(find_by_nhs(&app, &nhs_number).await);
    responses.push(find_by_nhs(&app, "9990000019").await); // 400
    responses.push(app.get("/api/v1/plans/not-a-uuid").await); // 404
    responses.push(app.get("/nowhere").await); // 404
    responses.push(
        app.client
            .delete(app.url("/api/v1/plans"))
            .send()
            .await
            .unwrap(),
    ); // 405
    responses.push(post_raw(&app, "/api/v1/plans", "text/plain", b"{}".to_vec()).await); // 415

    let mut seen = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        let id = header(&response, "x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on a {status} response"));
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(!seen.contains(&id), "request ids repeat: {id}");
        seen.push(id);
    }
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_echoed_back() {
    let app = spawn_app().await;
    for (path, status) in [("/health/live", 200), ("/api/v1/plans/not-a-uuid", 404)] {
        let response = app
            .client
            .get(app.url(path))
            .header("X-Request-ID", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            header(&response, "x-request-id").as_deref(),
            Some("abc-123")
        );
    }
    let sixty_four = "a".repeat(64);
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("X-Request-ID", &sixty_four)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "x-request-id"), Some(sixty_four));
}

#[tokio::test]
async fn an_insane_incoming_request_id_is_replaced_by_a_fresh_uuid() {
    let app = spawn_app().await;
    let too_long = "a".repeat(100);
    for insane in [too_long.as_str(), "abc 123", "abc/123", "<script>", "ab\"c"] {
        let response = app
            .client
            .get(app.url("/health/live"))
            .header("X-Request-ID", insane)
            .send()
            .await
            .unwrap();
        let id = header(&response, "x-request-id").unwrap();
        assert_ne!(id, insane);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "{insane:?} became {id:?}"
        );
    }
}

#[tokio::test]
async fn a_method_an_endpoint_does_not_support_is_405_problem_json() {
    let app = spawn_app().await;
    let (id, _) = app.create_plan(&minimal_plan(&nhs(0))).await;
    let cases = [
        (
            reqwest::Method::DELETE,
            format!("/api/v1/plans/{id}"),
            "GET, PUT",
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/plans/{id}"),
            "GET, PUT",
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/plans".to_owned(),
            "GET, POST",
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/plans".to_owned(),
            "GET, POST",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/plans/{id}/history"),
            "GET",
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/plans/{id}/$revoke"),
            "POST",
        ),
        (reqwest::Method::POST, "/api/v1/schema".to_owned(), "GET"),
    ];
    for (method, path, allow) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["allow"].to_str().unwrap(),
            allow,
            "RFC 9110: a 405 lists what is allowed ({method} {path})"
        );
        let problem = expect_problem(response, 405).await;
        assert!(
            !problem["detail"].as_str().unwrap().is_empty(),
            "{method} {path}"
        );
    }
    // The DELETE deleted nothing.
    assert_eq!(read_plan(&app, &id).await["version"], 1);
}

#[tokio::test]
async fn an_unknown_path_is_404_problem_json() {
    let app = spawn_app().await;
    for path in [
        "/nowhere",
        "/api/v1",
        "/api/v2/plans",
        "/api/v1/plans/x/y/z",
        "/health",
    ] {
        let problem = expect_problem(app.get(path).await, 404).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn create_response_headers_name_the_created_plan() {
    // Location, ETag and Last-Modified agree with what a later read returns.
    let app = spawn_app().await;
    let response = app.post_plan(&minimal_plan(&nhs(0))).await;
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
    let modified = response.headers()[LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let read = app.get(&location).await;
    assert_eq!(read.headers()[ETAG].to_str().unwrap(), etag);
    assert_eq!(read.headers()[LAST_MODIFIED].to_str().unwrap(), modified);
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413() {
    const LIMIT: usize = 2048;
    let app = spawn_app_with_limit(LIMIT).await;
    // Pad the special note so that the body is exactly `size` bytes.
    let body_of = |nhs_number: &str, size: usize| {
        let base = serde_json::to_vec(&plan_of_size(nhs_number, 0))
            .unwrap()
            .len();
        let body = serde_json::to_vec(&plan_of_size(nhs_number, size - base)).unwrap();
        assert_eq!(body.len(), size);
        body
    };
    let over = body_of(&nhs(1), LIMIT + 1);
    let response = post_raw(&app, "/api/v1/plans", "application/json", over).await;
    expect_problem(response, 413).await;
    expect_problem(find_by_nhs(&app, &nhs(1)).await, 404).await;

    let exact = body_of(&nhs(0), LIMIT);
    let response = post_raw(&app, "/api/v1/plans", "application/json", exact).await;
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn long_text_and_non_ascii_text_are_kept_exactly() {
    let app = spawn_app().await;
    let mut plan = minimal_plan(&nhs(0));
    let note = format!(
        "{}\nZoë's daughter: ring first.\t«Не реанімувати» — 不要心肺复苏 🕊️ end",
        "Long note. ".repeat(20_000)
    );
    plan["special_note"] = json!(note);
    plan["what_matters_most"] = json!("  leading and trailing spaces stay  ");
    let (id, created) = app.create_plan(&plan).await;
    assert_eq!(created["plan"]["special_note"], note.as_str());
    let read = read_plan(&app, &id).await;
    assert_eq!(read["plan"]["special_note"], note.as_str());
    assert_eq!(
        read["plan"]["what_matters_most"],
        "  leading and trailing spaces stay  "
    );
    let v1 = ok_json(app.get(&format!("/api/v1/plans/{id}/history/1")).await).await;
    assert_eq!(v1["plan"]["special_note"], note.as_str());
}

#[tokio::test]
async fn revoking_the_current_decision_by_update_leaves_no_decision_recorded() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let mut plan = created["plan"].clone();
    plan["resuscitation_decisions"][0]["status"] = json!("revoked");
    plan["resuscitation_decisions"][0]["ended"] = json!({
        "by": "Dr Ada Hale",
        "reason": "Discussed again with the person, who now wishes CPR to be attempted"
    });
    let updated = revise(&app, &id, 1, &plan).await;
    let decision = &updated["plan"]["resuscitation_decisions"][0];
    assert_eq!(decision["status"], "revoked");
    assert_eq!(decision["ended"]["at"], "2026-11-23T12:00:00Z");
    assert_eq!(updated["derived"]["resuscitation"], "no-decision-recorded");
    assert!(updated["derived"]
        .get("current_resuscitation_decision")
        .is_none());
    let found = ok_json(find_by_nhs(&app, &nhs_number).await).await;
    assert_eq!(found["derived"]["resuscitation"], "no-decision-recorded");

    // A revoked decision cannot be brought back to current.
    let mut plan = updated["plan"].clone();
    plan["resuscitation_decisions"][0]["status"] = json!("current");
    plan["resuscitation_decisions"][0]
        .as_object_mut()
        .unwrap()
        .remove("ended");
    let problem = expect_problem(app.put_plan(&id, Some("\"2\""), &plan).await, 422).await;
    assert_path(&problem, "resuscitation_decisions[0].status");
    assert_eq!(read_plan(&app, &id).await["version"], 2);
}

#[tokio::test]
async fn a_superseded_decision_past_its_review_is_not_flagged_but_the_new_one_is() {
    let app = spawn_app().await;
    let mut plan = minimal_plan(&nhs(0));
    plan["resuscitation_decisions"][0]["review"] = json!("2026-11-01");
    let (id, created) = app.create_plan(&plan).await;
    assert_eq!(
        created["derived"]["review_overdue"],
        json!([{ "item": "resuscitation_decisions[0]", "due": "2026-11-01" }])
    );

    let mut plan = created["plan"].clone();
    plan["resuscitation_decisions"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "decision": "not-for-cpr",
            "decision_date": "2026-11-10",
            "review": "2026-11-20",
            "decided_by": { "name": "Dr Ben Okafor" }
        }));
    let updated = revise(&app, &id, 1, &plan).await;
    assert_eq!(
        updated["derived"]["review_overdue"],
        json!([{ "item": "resuscitation_decisions[1]", "due": "2026-11-20" }])
    );
}

#[tokio::test]
async fn recording_a_death_completes_the_plan_which_stays_the_plan_of_record() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["review_date"] = json!("2026-11-01");
    let (id, created) = app.create_plan(&plan).await;
    assert_eq!(
        created["derived"]["review_overdue"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let mut plan = created["plan"].clone();
    plan["death"] = json!({ "date": "2026-11-22", "place": "home" });
    let updated = revise(&app, &id, 1, &plan).await;
    assert_eq!(updated["status"], "completed");
    assert_eq!(updated["derived"]["review_overdue"], json!([]));

    let found = ok_json(find_by_nhs(&app, &nhs_number).await).await;
    assert_eq!(found["id"], id.as_str());
    assert_eq!(found["status"], "completed");
    let problem = expect_problem(app.post_plan(&minimal_plan(&nhs_number)).await, 409).await;
    assert_eq!(problem["existing_plan"], id.as_str());
}

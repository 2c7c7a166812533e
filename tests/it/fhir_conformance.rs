//! The conformance resources of `profiles/` over FHIR: read by id, searched by url, name and
//! version, open without a token, listed in the CapabilityStatement; and every `meta.profile`
//! the projection writes resolves to a served StructureDefinition.

use std::collections::BTreeSet;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Response;
use serde_json::Value;

use crate::helpers::{minimal_plan, spawn_app, test_nhs_numbers, TestApp};

const BASE: &str = "https://acp-fhir.example.org/fhir";

/// Conformance resources need no token: a client without one.
async fn open_get(app: &TestApp, path: &str) -> Response {
    reqwest::Client::new()
        .get(app.url(path))
        .header(ACCEPT, "application/fhir+json")
        .send()
        .await
        .unwrap()
}

async fn json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let kind = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(kind.starts_with("application/fhir+json"), "{kind}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The (resourceType, id) pairs of a searchset's entries, checking each entry's shape.
fn found(bundle: &Value) -> Vec<(String, String)> {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(bundle["total"].as_u64(), Some(entries.len() as u64));
    entries
        .iter()
        .map(|entry| {
            let resource = &entry["resource"];
            let kind = resource["resourceType"].as_str().unwrap().to_owned();
            let id = resource["id"].as_str().unwrap().to_owned();
            assert!(entry["fullUrl"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/fhir/{kind}/{id}")));
            assert_eq!(entry["search"]["mode"], "match");
            (kind, id)
        })
        .collect()
}

/// The profile files of the repository: (resourceType, id, url, name, version).
fn profile_files() -> Vec<(String, String, String, String, String)> {
    let dir = format!("{}/profiles", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let value: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
            (
                text("resourceType"),
                text("id"),
                text("url"),
                text("name"),
                text("version"),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_profile_file_is_read_by_id_without_a_token() {
    let app = spawn_app().await;
    let files = profile_files();
    assert!(files.len() > 50, "profiles/ holds {} files", files.len());
    for (kind, id, url, _, _) in &files {
        let body = json(open_get(&app, &format!("/fhir/{kind}/{id}")).await, 200).await;
        assert_eq!(&body["resourceType"], kind.as_str());
        assert_eq!(&body["id"], id.as_str());
        assert_eq!(&body["url"], url.as_str());
        assert!(url.starts_with(BASE), "{url}");
    }
    // A StructureDefinition is served whole: differential and snapshot.
    let patient = json(
        open_get(&app, "/fhir/StructureDefinition/acp-patient").await,
        200,
    )
    .await;
    assert!(patient["snapshot"]["element"].as_array().unwrap().len() > 10);
    assert!(!patient["differential"]["element"]
        .as_array()
        .unwrap()
        .is_empty());
    // And in XML, when asked.
    let xml = reqwest::Client::new()
        .get(app.url("/fhir/ValueSet/cpr-decision"))
        .header(ACCEPT, "application/fhir+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status().as_u16(), 200);
    let text = xml.text().await.unwrap();
    assert!(text.contains("<ValueSet"), "{text}");
    assert!(text.contains("450476008"), "{text}");
}

#[tokio::test]
async fn an_unknown_id_is_a_404_operation_outcome() {
    let app = spawn_app().await;
    for path in [
        "/fhir/StructureDefinition/no-such-profile",
        "/fhir/ValueSet/acp-patient",
        "/fhir/CodeSystem/cpr-decision",
        "/fhir/OperationDefinition/Patient-everything",
    ] {
        let outcome = json(open_get(&app, path).await, 404).await;
        assert_eq!(outcome["resourceType"], "OperationOutcome", "{path}");
        assert_eq!(outcome["issue"][0]["code"], "not-found", "{path}");
    }
}

#[tokio::test]
async fn search_by_url_name_and_version() {
    let app = spawn_app().await;
    let files = profile_files();

    // By url: exactly the one resource, for every file.
    for (kind, id, url, name, version) in &files {
        let by_url = json(
            open_get(&app, &format!("/fhir/{kind}?url={url}")).await,
            200,
        )
        .await;
        assert_eq!(found(&by_url), [(kind.clone(), id.clone())], "{url}");
        let by_name = json(
            open_get(&app, &format!("/fhir/{kind}?name:exact={name}")).await,
            200,
        )
        .await;
        assert_eq!(found(&by_name), [(kind.clone(), id.clone())], "{name}");
        if !version.is_empty() {
            let pinned = json(
                open_get(&app, &format!("/fhir/{kind}?url={url}|{version}")).await,
                200,
            )
            .await;
            assert_eq!(found(&pinned).len(), 1, "{url}|{version}");
        }
    }

    // By version: every StructureDefinition of this release, none of another.
    let structure_definitions = files
        .iter()
        .filter(|f| f.0 == "StructureDefinition")
        .count();
    let all = json(
        open_get(&app, "/fhir/StructureDefinition?version=0.1.0").await,
        200,
    )
    .await;
    assert_eq!(found(&all).len(), structure_definitions);
    let none = json(
        open_get(&app, "/fhir/StructureDefinition?version=9.9.9").await,
        200,
    )
    .await;
    assert!(found(&none).is_empty());

    // By name: a case-insensitive prefix; parameters combine with AND.
    let consents = json(
        open_get(&app, "/fhir/StructureDefinition?name=acpc").await,
        200,
    )
    .await;
    let ids: BTreeSet<String> = found(&consents).into_iter().map(|(_, id)| id).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "acp-consent-to-share".to_owned(),
            "acp-cpr-decision-consent".to_owned()
        ])
    );
    let both = json(
        open_get(
            &app,
            "/fhir/StructureDefinition?name=acpc&url=https://acp-fhir.example.org/fhir/StructureDefinition/acp-consent-to-share",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found(&both).len(), 1);

    // An unsupported parameter is a 400, not a silent match-all.
    let outcome = json(
        open_get(&app, "/fhir/StructureDefinition?publisher=x").await,
        400,
    )
    .await;
    assert_eq!(outcome["resourceType"], "OperationOutcome");
}

#[tokio::test]
async fn the_capability_statement_lists_them_and_our_profiles() {
    let app = spawn_app().await;
    let statement = json(open_get(&app, "/fhir/metadata").await, 200).await;
    let resources = statement["rest"][0]["resource"].as_array().unwrap();
    let entry = |kind: &str| {
        resources
            .iter()
            .find(|r| r["type"] == kind)
            .unwrap_or_else(|| panic!("{kind} is not in the CapabilityStatement"))
            .clone()
    };
    for kind in [
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "OperationDefinition",
    ] {
        let resource = entry(kind);
        let interactions: BTreeSet<&str> = resource["interaction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            interactions,
            BTreeSet::from(["read", "search-type"]),
            "{kind}"
        );
        let params: BTreeSet<&str> = resource["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, BTreeSet::from(["url", "name", "version"]), "{kind}");
    }
    let profiles = |kind: &str| -> BTreeSet<String> {
        entry(kind)["supportedProfile"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    };
    let sd = |id: &str| format!("{BASE}/StructureDefinition/{id}");
    assert_eq!(
        profiles("Consent"),
        BTreeSet::from([
            sd("acp-cpr-decision-consent"),
            sd("acp-adrt-consent"),
            sd("acp-consent-to-share")
        ])
    );
    for (kind, id) in [
        ("CarePlan", "acp-end-of-life-careplan"),
        ("Goal", "acp-preference-goal"),
        ("Patient", "acp-patient"),
        ("RelatedPerson", "acp-relatedperson"),
        ("Practitioner", "acp-practitioner"),
        ("Organization", "acp-organization"),
    ] {
        assert_eq!(profiles(kind), BTreeSet::from([sd(id)]), "{kind}");
    }
}

/// Every `meta.profile` in `value` (recursively: Bundles hold resources).
fn claimed_profiles(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for profile in map
                .get("meta")
                .and_then(|m| m["profile"].as_array())
                .into_iter()
                .flatten()
            {
                into.insert(profile.as_str().unwrap().to_owned());
            }
            for child in map.values() {
                claimed_profiles(child, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| claimed_profiles(i, into)),
        _ => {}
    }
}

#[tokio::test]
async fn every_projected_meta_profile_resolves_to_a_served_structure_definition() {
    let app = spawn_app().await;
    let mut claimed = BTreeSet::new();

    // What the projection writes for the fixtures (tests/it/fhir_golden.rs proves the equality).
    let dir = format!("{}/fixtures/fhir", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        claimed_profiles(&serde_json::from_str(&text).unwrap(), &mut claimed);
    }
    // And what this server answers for a plan made here.
    let nhs_number = test_nhs_numbers().next().unwrap();
    let (plan, _) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let summary = app
        .get(&format!(
            "/fhir/Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs_number}"
        ))
        .await;
    let mut answered = BTreeSet::new();
    claimed_profiles(&json(summary, 200).await, &mut answered);
    assert!(answered.len() >= 6, "{answered:?}");
    claimed.extend(answered);
    // And the Provenance of that plan's first version.
    let provenance = app.get(&format!("/fhir/Provenance/{plan}-v1")).await;
    claimed_profiles(&json(provenance, 200).await, &mut claimed);

    assert_eq!(claimed.len(), 12, "{claimed:?}");
    for url in &claimed {
        let bundle = json(
            open_get(&app, &format!("/fhir/StructureDefinition?url={url}")).await,
            200,
        )
        .await;
        let matches = found(&bundle);
        assert_eq!(matches.len(), 1, "{url} does not resolve");
        let definition = &bundle["entry"][0]["resource"];
        assert_eq!(definition["url"], url.as_str());
        assert_eq!(definition["kind"], "resource");
        assert_eq!(definition["derivation"], "constraint");
        assert!(definition["snapshot"]["element"].is_array(), "{url}");
    }
}

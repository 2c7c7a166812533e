//! The store contract: every backend keeps every version (H5), refuses stale updates (H4),
//! holds one plan of record per person, and returns exactly what it was given (H6). The same
//! checks run on every backend: SQLite in memory and on disk always, PostgreSQL when
//! `ACP_TEST_POSTGRES_URL` is set (CI sets it), each test in a schema of its own.

use std::sync::Arc;

use acp_fhir::audit::{AuditQuery, AuditRecord, AuditedPatient, DateBound};
use acp_fhir::domain::{PlanContent, PlanEnd, PlanId, PlanRecord, PlanStatus};
use acp_fhir::store::{self, ImportedPlan, PlanStore, ResourceKey, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::helpers::{minimal_plan, postgres_url, test_nhs_numbers, test_now};

fn content(nhs_number: &str) -> PlanContent {
    serde_json::from_value(minimal_plan(nhs_number)).unwrap()
}

fn new_record(nhs_number: &str, now: DateTime<Utc>) -> PlanRecord {
    PlanRecord::create(PlanId::new_random(), content(nhs_number), now, "contract").unwrap()
}

fn revised(record: &PlanRecord, note: &str, now: DateTime<Utc>) -> PlanRecord {
    let mut next = record.plan.clone();
    next.special_note = Some(note.to_owned());
    record.revise(next, now, "contract").unwrap()
}

async fn create_then_read_returns_exactly_what_was_stored(store: Arc<dyn PlanStore>) {
    let record = new_record("9990000018", test_now());
    store.create(&record, &[]).await.unwrap();
    assert_eq!(store.get(record.id).await.unwrap(), record);
    assert_eq!(store.get_version(record.id, 1).await.unwrap(), record);
    let found = store
        .find_current(&record.plan.person.nhs_number)
        .await
        .unwrap();
    assert_eq!(found, Some(record));
}

async fn unknown_plans_and_versions_are_not_found(store: Arc<dyn PlanStore>) {
    let record = new_record("9990000018", test_now());
    store.create(&record, &[]).await.unwrap();
    let missing = PlanId::new_random();
    assert!(matches!(
        store.get(missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.history(missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_version(record.id, 2).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_version(record.id, 0).await,
        Err(StoreError::NotFound)
    ));
    let nobody = "9990000026".parse().unwrap();
    assert_eq!(store.find_current(&nobody).await.unwrap(), None);
}

async fn update_with_the_right_version_adds_a_version(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    store.create(&first, &[]).await.unwrap();
    let second = revised(&first, "key safe 4321", test_now() + Duration::minutes(5));
    store.update(1, &second, &[]).await.unwrap();
    assert_eq!(store.get(first.id).await.unwrap(), second);
    assert_eq!(store.get_version(first.id, 1).await.unwrap(), first);
    assert_eq!(store.get_version(first.id, 2).await.unwrap(), second);
}

async fn update_with_a_stale_version_is_a_conflict_and_writes_nothing(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    store.create(&first, &[]).await.unwrap();
    let second = revised(&first, "one", test_now());
    store.update(1, &second, &[]).await.unwrap();
    // A second writer that also read version 1 (H4).
    let rival = revised(&first, "two", test_now());
    match store.update(1, &rival, &[]).await {
        Err(StoreError::VersionConflict { current }) => assert_eq!(current, 2),
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(store.get(first.id).await.unwrap(), second);
    assert_eq!(store.history(first.id).await.unwrap().len(), 2);
}

async fn update_of_an_unknown_plan_is_not_found(store: Arc<dyn PlanStore>) {
    let ghost = new_record("9990000018", test_now());
    let next = revised(&ghost, "x", test_now());
    assert!(matches!(
        store.update(1, &next, &[]).await,
        Err(StoreError::NotFound)
    ));
}

async fn history_stays_intact_after_many_updates(store: Arc<dyn PlanStore>) {
    let mut record = new_record("9990000018", test_now());
    store.create(&record, &[]).await.unwrap();
    let mut written = vec![record.clone()];
    for n in 1..=60 {
        let next = revised(
            &record,
            &format!("note {n}"),
            test_now() + Duration::seconds(n),
        );
        store.update(record.version, &next, &[]).await.unwrap();
        written.push(next.clone());
        record = next;
    }
    let history = store.history(record.id).await.unwrap();
    assert_eq!(history.len(), 61);
    written.reverse();
    assert_eq!(history, written, "history is every version, newest first");
    for version in [1u32, 17, 61] {
        let stored = store.get_version(record.id, version).await.unwrap();
        assert_eq!(stored.version, version);
        let expected_note = (version > 1).then(|| format!("note {}", version - 1));
        assert_eq!(stored.plan.special_note, expected_note);
    }
}

async fn one_plan_of_record_per_person(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    store.create(&first, &[]).await.unwrap();
    let second = new_record("9990000018", test_now());
    match store.create(&second, &[]).await {
        Err(StoreError::DuplicatePerson { existing }) => assert_eq!(existing, first.id),
        other => panic!("expected a duplicate-person conflict, got {other:?}"),
    }
    assert!(matches!(
        store.get(second.id).await,
        Err(StoreError::NotFound)
    ));
    // Once revoked, the person may get a new plan; the revoked one stays readable.
    let revoked = first
        .end(PlanEnd::Revoke, "left the register", test_now(), "contract")
        .unwrap();
    store.update(1, &revoked, &[]).await.unwrap();
    store.create(&second, &[]).await.unwrap();
    let current = store
        .find_current(&second.plan.person.nhs_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.id, second.id);
    assert_eq!(
        store.get(first.id).await.unwrap().status,
        PlanStatus::Revoked
    );
}

async fn a_second_plan_with_the_same_id_is_refused(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    store.create(&first, &[]).await.unwrap();
    let mut clash = new_record("9990000026", test_now());
    clash.id = first.id;
    assert!(matches!(
        store.create(&clash, &[]).await,
        Err(StoreError::DuplicateId)
    ));
    assert_eq!(store.get(first.id).await.unwrap(), first);
}

async fn revoke_and_entered_in_error_keep_history(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    store.create(&first, &[]).await.unwrap();
    let revoked = first
        .end(PlanEnd::Revoke, "moved out of area", test_now(), "contract")
        .unwrap();
    store.update(1, &revoked, &[]).await.unwrap();
    let erroneous = revoked
        .end(
            PlanEnd::EnteredInError,
            "wrong person",
            test_now(),
            "contract",
        )
        .unwrap();
    store.update(2, &erroneous, &[]).await.unwrap();
    let history = store.history(first.id).await.unwrap();
    let statuses: Vec<PlanStatus> = history.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![
            PlanStatus::EnteredInError,
            PlanStatus::Revoked,
            PlanStatus::Active
        ]
    );
    assert_eq!(store.get_version(first.id, 1).await.unwrap(), first);
    assert_eq!(
        store
            .find_current(&first.plan.person.nhs_number)
            .await
            .unwrap(),
        None
    );
}

async fn list_pages_in_id_order_and_filters_ended_plans(store: Arc<dyn PlanStore>) {
    let mut ids = Vec::new();
    for nhs in test_nhs_numbers().take(25) {
        let record = new_record(&nhs, test_now());
        store.create(&record, &[]).await.unwrap();
        ids.push(record.id);
    }
    ids.sort();
    let ended = store.get(ids[3]).await.unwrap();
    let ended = ended
        .end(PlanEnd::EnteredInError, "duplicate", test_now(), "contract")
        .unwrap();
    store.update(1, &ended, &[]).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(after, 10, true).await.unwrap();
        seen.extend(page.iter().map(|r| r.id));
        match page.last() {
            Some(last) if page.len() == 10 => after = Some(last.id),
            _ => break,
        }
    }
    assert_eq!(seen, ids, "every plan once, in id order");
    let current: Vec<PlanId> = store
        .list(None, 100, false)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(current.len(), 24);
    assert!(!current.contains(&ids[3]));
}

async fn text_and_time_zones_come_back_exactly(store: Arc<dyn PlanStore>) {
    let mut plan = minimal_plan("9990000018");
    let long_note = "Très important — ключ под ковриком. ".repeat(3000);
    plan["special_note"] = json!(long_note);
    plan["resuscitation_decisions"] = json!([
        {
            "status": "revoked",
            "decision": "not-for-cpr",
            "decision_date": "2026-03-01",
            "review": "2026-06-01",
            "decided_by": { "name": "Dr Old" },
            "ended": { "at": "2026-05-01T23:30:15.123456+01:00", "by": "Dr New", "reason": "patient changed mind" }
        },
        {
            "decision": "for-cpr",
            "decision_date": "2026-05-01",
            "review": "indefinite",
            "decided_by": { "name": "Dr New" }
        }
    ]);
    let content: PlanContent = serde_json::from_value(plan).unwrap();
    let record = PlanRecord::create(PlanId::new_random(), content, test_now(), "contract").unwrap();
    store.create(&record, &[]).await.unwrap();
    let stored = store.get(record.id).await.unwrap();
    assert_eq!(
        stored.plan.special_note.as_deref(),
        Some(long_note.as_str())
    );
    let ended_at = stored.plan.resuscitation_decisions[0]
        .ended
        .as_ref()
        .and_then(|e| e.at)
        .unwrap();
    assert_eq!(ended_at.to_rfc3339(), "2026-05-01T23:30:15.123456+01:00");
    assert_eq!(stored, record);
}

async fn concurrent_updates_of_one_version_give_one_winner(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    store.create(&first, &[]).await.unwrap();
    let a = revised(&first, "writer a", test_now());
    let b = revised(&first, "writer b", test_now());
    let (ra, rb) = tokio::join!(store.update(1, &a, &[]), store.update(1, &b, &[]));
    let outcomes = [ra.is_ok(), rb.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "{ra:?} {rb:?}"
    );
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(matches!(
        loser,
        Err(StoreError::VersionConflict { current: 2 })
    ));
    assert_eq!(store.history(first.id).await.unwrap().len(), 2);
}

async fn resources_are_located_by_type_and_id(store: Arc<dyn PlanStore>) {
    let first = new_record("9990000018", test_now());
    let key = |t: &'static str, id: &str| ResourceKey {
        resource_type: t,
        id: id.to_owned(),
    };
    store
        .create(&first, &[key("Consent", "c-1"), key("Goal", "g-1")])
        .await
        .unwrap();
    let second = revised(&first, "x", test_now());
    // A resource seen again keeps its plan; a new one is added with the version.
    store
        .update(1, &second, &[key("Consent", "c-1"), key("Goal", "g-2")])
        .await
        .unwrap();
    for (t, id) in [("Consent", "c-1"), ("Goal", "g-1"), ("Goal", "g-2")] {
        assert_eq!(
            store.locate(t, id).await.unwrap(),
            Some(first.id),
            "{t}/{id}"
        );
    }
    assert_eq!(store.locate("Goal", "c-1").await.unwrap(), None);
    assert_eq!(store.locate("Consent", "nope").await.unwrap(), None);
    // A stale update indexes nothing.
    let rival = revised(&first, "y", test_now());
    assert!(store
        .update(1, &rival, &[key("Goal", "g-rival")])
        .await
        .is_err());
    assert_eq!(store.locate("Goal", "g-rival").await.unwrap(), None);
}

fn keys(kind: &'static str, ids: &[&str]) -> Vec<ResourceKey> {
    ids.iter()
        .map(|id| ResourceKey {
            resource_type: kind,
            id: (*id).to_owned(),
        })
        .collect()
}

/// An import batch's resources are found by id as soon as the batch is stored (a backend may
/// keep them pending until the import ends), and after `finish_import` just the same; a
/// resource already indexed keeps its plan.
async fn imported_resources_are_located_before_and_after_the_import_ends(
    store: Arc<dyn PlanStore>,
) {
    let existing = new_record("9990000018", test_now());
    store
        .create(&existing, &keys("Consent", &["shared"]))
        .await
        .unwrap();
    let first = new_record("9990000026", test_now());
    let second = revised(&first, "v2", test_now());
    let other = new_record("9990000034", test_now());
    let batch = vec![
        ImportedPlan {
            stored_version: None,
            versions: vec![
                (first.clone(), keys("Goal", &["g-a", "g-b"])),
                (second.clone(), keys("Goal", &["g-a", "g-c"])),
            ],
        },
        ImportedPlan {
            stored_version: None,
            versions: vec![(other.clone(), keys("Consent", &["c-other", "shared"]))],
        },
    ];
    store.import_batch(&batch).await.unwrap();
    let located: Vec<(&str, &str, PlanId)> = vec![
        ("Goal", "g-a", first.id),
        ("Goal", "g-b", first.id),
        ("Goal", "g-c", first.id),
        ("Consent", "c-other", other.id),
        ("Consent", "shared", existing.id),
    ];
    for (kind, id, plan) in &located {
        assert_eq!(
            store.locate(kind, id).await.unwrap(),
            Some(*plan),
            "{kind}/{id} before finish"
        );
    }
    assert_eq!(store.locate("Goal", "g-none").await.unwrap(), None);
    store.finish_import().await.unwrap();
    for (kind, id, plan) in &located {
        assert_eq!(
            store.locate(kind, id).await.unwrap(),
            Some(*plan),
            "{kind}/{id} after finish"
        );
    }
    // A second run adds a version to a stored plan; finishing twice changes nothing.
    let third = revised(&second, "v3", test_now());
    store
        .import_batch(&[ImportedPlan {
            stored_version: Some(2),
            versions: vec![(third.clone(), keys("Goal", &["g-a", "g-d"]))],
        }])
        .await
        .unwrap();
    store.finish_import().await.unwrap();
    store.finish_import().await.unwrap();
    assert_eq!(store.locate("Goal", "g-d").await.unwrap(), Some(first.id));
    assert_eq!(store.locate("Goal", "g-a").await.unwrap(), Some(first.id));
    assert_eq!(store.get(first.id).await.unwrap(), third);
    assert_eq!(store.history(first.id).await.unwrap().len(), 3);
}

async fn ping_answers(store: Arc<dyn PlanStore>) {
    store.ping().await.unwrap();
}

fn audit(client: &str, patient: Option<(&str, &str)>, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        id: uuid::Uuid::new_v4(),
        recorded: at,
        interaction: "read".into(),
        action: "R".into(),
        status: 200,
        client_id: Some(client.into()),
        client_name: None,
        organisation: Some("Y09871".into()),
        end_user: (client == "cad").then(|| "Crew Member".to_owned()),
        end_user_organisation: None,
        resource_type: Some("CarePlan".into()),
        resource_id: Some(format!("plan-of-{client}")),
        patients: patient
            .map(|(id, nhs)| {
                vec![AuditedPatient {
                    patient_id: id.into(),
                    nhs_number: nhs.into(),
                }]
            })
            .unwrap_or_default(),
        query: Some("identifier=x|y".into()),
        request_id: format!("req-{client}"),
        emergency_override: Some("cardiac arrest — “quoted”".into()),
        detail: None,
    }
}

async fn audit_records_are_found_by_each_criterion_newest_first(store: Arc<dyn PlanStore>) {
    let t0 = test_now();
    let first = audit("cad", Some(("p1", "9990000018")), t0);
    let second = audit("ooh", Some(("p2", "9990000026")), t0 + Duration::seconds(1));
    let third = audit("ooh", None, t0 + Duration::days(1));
    for record in [&first, &second, &third] {
        store.append_audit(record).await.unwrap();
    }
    let find = |query: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .search_audit(&AuditQuery { limit: 10, ..query })
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.request_id.clone() + "@" + &r.recorded.to_rfc3339())
                .collect::<Vec<_>>()
        }
    };
    let all = store
        .search_audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all, vec![third.clone(), second.clone(), first.clone()]);
    assert_eq!(
        store.get_audit(first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_audit(uuid::Uuid::new_v4()).await.unwrap(), None);
    let only = |r: &AuditRecord| vec![r.request_id.clone() + "@" + &r.recorded.to_rfc3339()];
    assert_eq!(
        find(AuditQuery {
            patient_id: Some("p1".into()),
            ..AuditQuery::default()
        })
        .await,
        only(&first)
    );
    // With the Patient's NHS number known, by the index of NHS numbers: the same record.
    assert_eq!(
        find(AuditQuery {
            patient_id: Some("p1".into()),
            patient_nhs_number: Some("9990000018".into()),
            ..AuditQuery::default()
        })
        .await,
        only(&first)
    );
    assert_eq!(
        find(AuditQuery {
            nhs_number: Some("9990000026".into()),
            ..AuditQuery::default()
        })
        .await,
        only(&second)
    );
    assert_eq!(
        find(AuditQuery {
            agent: Some("Crew Member".into()),
            ..AuditQuery::default()
        })
        .await,
        only(&first)
    );
    assert_eq!(
        find(AuditQuery {
            agent: Some("ooh".into()),
            dates: vec![DateBound::Before(t0 + Duration::hours(1))],
            ..AuditQuery::default()
        })
        .await,
        only(&second)
    );
    assert_eq!(
        find(AuditQuery {
            entity: Some(("CarePlan".into(), "plan-of-cad".into())),
            dates: vec![DateBound::From(t0)],
            ..AuditQuery::default()
        })
        .await,
        only(&first)
    );
    // Paging: after the newest, the rest.
    let page = store
        .search_audit(&AuditQuery {
            before: Some((third.recorded, third.id)),
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page, vec![second]);
}

async fn an_audit_record_is_written_with_its_write_or_not_at_all(store: Arc<dyn PlanStore>) {
    let now = test_now();
    let record = new_record("9990000034", now);
    let created = audit("writer", Some(("p3", "9990000034")), now);
    store
        .create_audited(&record, &[], Some(&created))
        .await
        .unwrap();
    assert_eq!(store.get_audit(created.id).await.unwrap(), Some(created));
    let next = revised(&record, "later", now);
    let refused = audit("writer", Some(("p3", "9990000034")), now);
    let error = store
        .update_audited(7, &next, &[], Some(&refused))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::VersionConflict { current: 1 }));
    assert_eq!(store.get_audit(refused.id).await.unwrap(), None);
}

/// Many updates at once (a backend may write them as one group): each gets the answer it would
/// have had alone. Every plan moves once; a stale update is a conflict that writes nothing,
/// not even its audit record; an unknown plan is not found; resources of the winners are
/// indexed.
async fn concurrent_updates_of_many_plans_each_get_their_own_answer(store: Arc<dyn PlanStore>) {
    let now = test_now();
    let numbers: Vec<String> = test_nhs_numbers().skip(200).take(24).collect();
    let mut plans = Vec::new();
    for number in &numbers {
        let record = new_record(number, now);
        store.create(&record, &[]).await.unwrap();
        plans.push(record);
    }
    let mut tasks = Vec::new();
    for (n, plan) in plans.iter().enumerate() {
        let next = revised(plan, &format!("update {n}"), now);
        let expected = if n % 3 == 0 { 9 } else { 1 };
        let recorded = audit(
            "group",
            Some(("p", plan.plan.person.nhs_number.as_str())),
            now,
        );
        let resource = keys("Goal", &[&format!("group-goal-{n}")]);
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let answer = store
                .update_audited(expected, &next, &resource, Some(&recorded))
                .await;
            (n, expected, recorded.id, answer)
        }));
    }
    let unknown = revised(&new_record("9990000018", now), "nobody", now);
    let lost = {
        let store = store.clone();
        tokio::spawn(async move { store.update(1, &unknown, &[]).await })
    };
    for task in tasks {
        let (n, expected, audit_id, answer) = task.await.unwrap();
        let plan = &plans[n];
        let stored = store.get(plan.id).await.unwrap();
        let located = store
            .locate("Goal", &format!("group-goal-{n}"))
            .await
            .unwrap();
        let audited = store.get_audit(audit_id).await.unwrap();
        if expected == 1 {
            answer.unwrap();
            assert_eq!(stored.version, 2, "plan {n}");
            assert_eq!(
                stored.plan.special_note.as_deref(),
                Some(format!("update {n}").as_str())
            );
            assert_eq!(located, Some(plan.id), "plan {n}");
            assert!(audited.is_some(), "plan {n}");
        } else {
            assert!(
                matches!(answer, Err(StoreError::VersionConflict { current: 1 })),
                "plan {n}: {answer:?}"
            );
            assert_eq!(stored.version, 1, "plan {n}");
            assert_eq!(located, None, "plan {n}");
            assert!(audited.is_none(), "plan {n}");
        }
        assert_eq!(
            store.history(plan.id).await.unwrap().len(),
            stored.version as usize
        );
    }
    assert!(matches!(lost.await.unwrap(), Err(StoreError::NotFound)));
}

async fn an_assertion_id_is_accepted_once_within_its_lifetime(store: Arc<dyn PlanStore>) {
    let t0 = test_now();
    let expires = t0 + Duration::seconds(60);
    assert!(store
        .remember_assertion("cad", "j-1", expires, t0)
        .await
        .unwrap());
    assert!(!store
        .remember_assertion("cad", "j-1", expires, t0 + Duration::seconds(30))
        .await
        .unwrap());
    assert!(store
        .remember_assertion("ooh", "j-1", expires, t0)
        .await
        .unwrap());
    // Once expired it is forgotten (an expired assertion is refused before this anyway).
    assert!(store
        .remember_assertion(
            "cad",
            "j-1",
            t0 + Duration::seconds(300),
            t0 + Duration::seconds(120)
        )
        .await
        .unwrap());
}

/// Runs each contract check against a fresh store from `$open`.
macro_rules! contract_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            contract_suite!(@tests $open;
                create_then_read_returns_exactly_what_was_stored,
                unknown_plans_and_versions_are_not_found,
                update_with_the_right_version_adds_a_version,
                update_with_a_stale_version_is_a_conflict_and_writes_nothing,
                update_of_an_unknown_plan_is_not_found,
                history_stays_intact_after_many_updates,
                one_plan_of_record_per_person,
                a_second_plan_with_the_same_id_is_refused,
                revoke_and_entered_in_error_keep_history,
                list_pages_in_id_order_and_filters_ended_plans,
                text_and_time_zones_come_back_exactly,
                concurrent_updates_of_one_version_give_one_winner,
                resources_are_located_by_type_and_id,
                imported_resources_are_located_before_and_after_the_import_ends,
                ping_answers,
                audit_records_are_found_by_each_criterion_newest_first,
                an_audit_record_is_written_with_its_write_or_not_at_all,
                an_assertion_id_is_accepted_once_within_its_lifetime,
                concurrent_updates_of_many_plans_each_get_their_own_answer
            );
        }
    };
    (@tests $open:expr; $($name:ident),+) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some((store, _guard)) = $open.await else {
                    eprintln!("skipped: ACP_TEST_POSTGRES_URL is not set");
                    return;
                };
                super::$name(store).await;
            }
        )+
    };
}

async fn sqlite_memory() -> Option<(Arc<dyn PlanStore>, ())> {
    Some((store::connect("sqlite::memory:").await.unwrap(), ()))
}

async fn sqlite_file() -> Option<(Arc<dyn PlanStore>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("contract.db").display());
    Some((store::connect(&url).await.unwrap(), dir))
}

async fn postgres() -> Option<(Arc<dyn PlanStore>, ())> {
    let url = postgres_url().await?;
    Some((store::connect(&url).await.unwrap(), ()))
}

contract_suite!(on_sqlite_memory, sqlite_memory());
contract_suite!(on_sqlite_file, sqlite_file());
contract_suite!(on_postgres, postgres());

/// CI must not silently skip the PostgreSQL half of the suite.
#[test]
fn ci_runs_the_postgres_suite() {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(
            std::env::var("ACP_TEST_POSTGRES_URL").is_ok(),
            "CI=true but ACP_TEST_POSTGRES_URL is not set: the PostgreSQL contract would be skipped"
        );
    }
}

/// Defence in depth for H5 on PostgreSQL: triggers refuse to rewrite or delete history.
#[tokio::test]
async fn postgres_history_rows_cannot_be_rewritten_or_deleted() {
    let Some(url) = postgres_url().await else {
        eprintln!("skipped: ACP_TEST_POSTGRES_URL is not set");
        return;
    };
    let store = store::connect(&url).await.unwrap();
    let record = new_record("9990000018", test_now());
    store.create(&record, &[]).await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    store
        .append_audit(&audit("cad", Some(("p1", "9990000018")), test_now()))
        .await
        .unwrap();
    for statement in [
        "UPDATE plan_versions SET document = '{}'",
        "DELETE FROM plan_versions",
        "DELETE FROM plans",
        "UPDATE audit_events SET client_id = 'x'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_event_patients",
    ] {
        let error = sqlx::query(statement).execute(&pool).await.err();
        assert!(error.is_some(), "{statement} must be refused");
    }
    assert_eq!(store.get(record.id).await.unwrap(), record);
}

/// Defence in depth for H5: the SQLite schema itself refuses to rewrite or delete history.
#[tokio::test]
async fn sqlite_history_rows_cannot_be_rewritten_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("h5.db").display());
    let store = store::connect(&url).await.unwrap();
    let record = new_record("9990000018", test_now());
    store.create(&record, &[]).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for statement in [
        "UPDATE plan_versions SET document = '{}'",
        "DELETE FROM plan_versions",
        "DELETE FROM plans",
        // A second copy of a stored version.
        "INSERT INTO plan_versions (plan_id, version, status, last_updated, last_updated_by, \
         document) SELECT plan_id, version, status, last_updated, 'x', '{}' FROM plan_versions",
    ] {
        let error = sqlx::query(statement).execute(&pool).await.err();
        assert!(error.is_some(), "{statement} must be refused");
    }
    assert_eq!(store.get(record.id).await.unwrap(), record);
}

/// Migration 0004 moves plan versions to a compact table: a database made before it keeps every
/// version of every plan, the rules of H5 still hold, and plans are found as before.
#[tokio::test]
async fn sqlite_versions_made_before_the_compact_table_survive_its_migration() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("earlier-migrations");
    std::fs::create_dir(&earlier).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for name in [
        "0001_plans.sql",
        "0002_resource_index.sql",
        "0003_audit.sql",
    ] {
        std::fs::copy(all.join(name), earlier.join(name)).unwrap();
    }
    let url = format!("sqlite:{}", dir.path().join("old.db").display());
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let first = new_record("9990000018", test_now());
    let second = revised(&first, "second", test_now() + Duration::minutes(5));
    let other = new_record("9990000026", test_now());
    let at = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    for (plan, versions) in [(&second, vec![&first, &second]), (&other, vec![&other])] {
        sqlx::query("INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?)")
            .bind(plan.id.to_string())
            .bind(plan.plan.person.nhs_number.as_str())
            .bind(plan.status.as_str())
            .bind(i64::from(plan.version))
            .bind(at(&plan.created))
            .bind(at(&plan.last_updated))
            .execute(&pool)
            .await
            .unwrap();
        for version in versions {
            sqlx::query("INSERT INTO plan_versions VALUES (?, ?, ?, ?, ?, ?)")
                .bind(version.id.to_string())
                .bind(i64::from(version.version))
                .bind(version.status.as_str())
                .bind(at(&version.last_updated))
                .bind(&version.last_updated_by)
                .bind(serde_json::to_string(version).unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    pool.close().await;

    let store = store::connect(&url).await.unwrap();
    assert_eq!(store.get(second.id).await.unwrap(), second);
    assert_eq!(store.get_version(second.id, 1).await.unwrap(), first);
    assert_eq!(
        store.history(second.id).await.unwrap(),
        vec![second.clone(), first]
    );
    assert_eq!(
        store
            .find_current(&other.plan.person.nhs_number)
            .await
            .unwrap(),
        Some(other)
    );
    let third = revised(&second, "third", test_now() + Duration::minutes(9));
    store.update(2, &third, &[]).await.unwrap();
    assert_eq!(store.history(second.id).await.unwrap().len(), 3);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for statement in [
        "UPDATE plan_versions SET document = '{}'",
        "DELETE FROM plan_versions",
    ] {
        let error = sqlx::query(statement).execute(&pool).await.err();
        assert!(
            error.is_some(),
            "{statement} must be refused after the migration"
        );
    }
}

/// An import stopped before it ended leaves resource index rows pending; opening the database
/// merges them, and every resource is still found by id.
#[tokio::test]
async fn sqlite_index_rows_left_by_a_stopped_import_are_merged_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("stopped.db").display());
    let plan = new_record("9990000018", test_now());
    {
        let store = store::connect(&url).await.unwrap();
        store
            .import_batch(&[ImportedPlan {
                stored_version: None,
                versions: vec![(plan.clone(), keys("Goal", &["g-1", "g-2"]))],
            }])
            .await
            .unwrap();
    }
    let pending = |pool: sqlx::SqlitePool| async move {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM resource_index_pending")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        count
    };
    assert_eq!(
        pending(sqlx::SqlitePool::connect(&url).await.unwrap()).await,
        2
    );
    let store = store::connect(&url).await.unwrap();
    // The merged index is checkpointed into the database: the write-ahead log is emptied.
    let wal = dir.path().join("stopped.db-wal");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    assert_eq!(
        pending(sqlx::SqlitePool::connect(&url).await.unwrap()).await,
        0
    );
    for id in ["g-1", "g-2"] {
        assert_eq!(store.locate("Goal", id).await.unwrap(), Some(plan.id));
    }
    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM resource_index")
        .fetch_one(&sqlx::SqlitePool::connect(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(indexed, 2);
}

/// The merge of an import's resource index rows skips foreign key checks on its connection
/// (every row's plan was written with it); the connection goes back to the pool checking them.
#[tokio::test]
async fn sqlite_foreign_keys_are_checked_again_after_an_import_ends() {
    let store = store::SqliteStore::connect("sqlite::memory:", &Default::default())
        .await
        .unwrap();
    let plan = new_record("9990000018", test_now());
    store
        .import_batch(&[ImportedPlan {
            stored_version: None,
            versions: vec![(plan.clone(), keys("Goal", &["g-1"]))],
        }])
        .await
        .unwrap();
    store.finish_import().await.unwrap();
    assert_eq!(store.locate("Goal", "g-1").await.unwrap(), Some(plan.id));
    let checked: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(checked, 1);
    let orphan =
        sqlx::query("INSERT INTO resource_index VALUES ('Goal', 'g-2', 'no-such-plan', 1)")
            .execute(store.pool())
            .await;
    assert!(orphan.is_err(), "a row without its plan was accepted");
}

/// On a SQLite file, the summary's lookup, reads by id and resource lookups are answered on the
/// calling thread, not through the pool: they answer while every pooled connection is taken
/// and a write transaction is open, show only what was committed (an uncommitted revocation
/// is not seen, H1), and see each commit by the very next read (a revision, then a
/// revocation: no longer the plan of record).
#[tokio::test]
async fn sqlite_file_reads_answer_without_the_pool_and_see_only_commits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("direct.db").display());
    let options = store::StoreOptions {
        pool_size: 1,
        acquire_timeout: std::time::Duration::from_millis(300),
    };
    let store = store::SqliteStore::connect(&url, &options).await.unwrap();
    let first = new_record("9990000018", test_now());
    let number = first.plan.person.nhs_number.clone();
    store.create(&first, &keys("Goal", &["g-1"])).await.unwrap();

    // The pool's only connection holds an open write transaction revoking the plan.
    let mut writing = store.pool().begin().await.unwrap();
    sqlx::query("UPDATE plans SET status = 'revoked' WHERE id = ?")
        .bind(first.id.to_string())
        .execute(&mut *writing)
        .await
        .unwrap();
    assert_eq!(
        store.find_current(&number).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get(first.id).await.unwrap(), first);
    assert_eq!(store.locate("Goal", "g-1").await.unwrap(), Some(first.id));
    // The pooled path really is blocked: a read that needs it times out.
    assert!(store.get_version(first.id, 1).await.is_err());
    writing.rollback().await.unwrap();

    let second = revised(&first, "key safe 1234", test_now() + Duration::minutes(1));
    store.update(1, &second, &[]).await.unwrap();
    assert_eq!(store.get(first.id).await.unwrap(), second);
    assert_eq!(
        store.find_current(&number).await.unwrap(),
        Some(second.clone())
    );

    let ended = second
        .end(
            PlanEnd::Revoke,
            "moved away",
            test_now() + Duration::minutes(2),
            "contract",
        )
        .unwrap();
    store.update(2, &ended, &[]).await.unwrap();
    assert_eq!(store.find_current(&number).await.unwrap(), None);
    assert_eq!(
        store.get(first.id).await.unwrap().status,
        PlanStatus::Revoked
    );
}

/// A file database's commits never checkpoint the write-ahead log (the store's own thread
/// does, off the commit path); an in-memory database has no log to checkpoint and keeps
/// SQLite's default.
#[tokio::test]
async fn sqlite_commits_leave_checkpoints_to_the_store_thread() {
    let dir = tempfile::tempdir().unwrap();
    let automatic = |store: store::SqliteStore| async move {
        sqlx::query_scalar::<_, i64>("PRAGMA wal_autocheckpoint")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let (_, file) = file_store(dir.path(), "log.db").await;
    assert_eq!(automatic(file).await, 0);
    let memory = store::SqliteStore::connect("sqlite::memory:", &Default::default())
        .await
        .unwrap();
    assert_eq!(automatic(memory).await, 1000);
}

/// A SQLite store on a new file `name` in `dir`, with default options, and its URL.
/// The audit records naming the NHS number `nhs`, newest first (at most 10).
async fn audit_trail_of(store: &impl PlanStore, nhs: &str) -> Vec<AuditRecord> {
    store
        .search_audit(&AuditQuery {
            nhs_number: Some(nhs.into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

async fn file_store(dir: &std::path::Path, name: &str) -> (String, store::SqliteStore) {
    let url = format!("sqlite:{}", dir.join(name).display());
    let store = store::SqliteStore::connect(&url, &Default::default())
        .await
        .unwrap();
    (url, store)
}

/// Closing a SQLite file store (the service does once it has stopped serving) empties both
/// files' write-ahead logs, so the next process finds none to copy and empty, and loses
/// nothing: a store opened again on the files reads the plan and both audit records.
#[tokio::test]
async fn closing_a_sqlite_file_store_empties_both_logs_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = file_store(dir.path(), "closing.db").await;
    let t0 = test_now();
    let record = new_record("9990000018", t0);
    let written = audit("writer", Some(("p1", "9990000018")), t0);
    store
        .create_audited(&record, &[], Some(&written))
        .await
        .unwrap();
    let viewed = audit("cad", Some(("p1", "9990000018")), t0 + Duration::seconds(1));
    store.append_audit(&viewed).await.unwrap();
    let log = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |f| f.len());
    // The commits are in the logs (no checkpoint has copied and emptied them yet).
    assert!(log("closing.db-wal") > 0);
    assert!(log("closing.audit.db-wal") > 0);
    store.close().await.unwrap();
    assert_eq!(log("closing.db-wal"), 0);
    assert_eq!(log("closing.audit.db-wal"), 0);
    drop(store);
    let again = store::SqliteStore::connect(&url, &Default::default())
        .await
        .unwrap();
    assert_eq!(again.get(record.id).await.unwrap().version, 1);
    assert_eq!(
        audit_trail_of(&again, "9990000018").await,
        vec![viewed, written]
    );
}

/// A file database keeps request audit records in a file of its own beside the plans'
/// (`plans.db` → `plans.audit.db`), so that a read's audit record does not touch the plans
/// file: SQLite empties every other connection's page cache on each commit to a file, and a
/// commit a few milliseconds had every plan read start cold. The plans file changes with a
/// plan write (and its audit record, in the same transaction), not with a request's record.
#[tokio::test]
async fn sqlite_request_audit_records_leave_the_plans_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = file_store(dir.path(), "plans.db").await;
    assert!(dir.path().join("plans.audit.db").exists());
    use sqlx::Connection as _;
    let mut watcher = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut version = async || {
        sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(&mut watcher)
            .await
            .unwrap()
    };
    let before = version().await;
    let now = test_now();
    store
        .append_audits(&[
            audit("cad", Some(("p1", "9990000018")), now),
            audit("ooh", None, now),
        ])
        .await
        .unwrap();
    assert_eq!(
        version().await,
        before,
        "a request's record changed the plans file"
    );
    let record = new_record("9990000018", now);
    let written = audit("writer", Some(("p1", "9990000018")), now);
    store
        .create_audited(&record, &[], Some(&written))
        .await
        .unwrap();
    assert_ne!(
        version().await,
        before,
        "the watcher sees commits to the plans file"
    );

    let count = |pool: sqlx::SqlitePool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_events")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count(store.pool().clone()).await, 1, "the write's record");
    assert_eq!(
        count(store.audit_pool().unwrap().clone()).await,
        2,
        "the requests' records"
    );
}

/// SQLite's plan for `sql` with its two parameters bound: the `detail` lines, joined.
async fn query_plan(pool: &sqlx::SqlitePool, sql: &str, binds: [&str; 2]) -> String {
    use sqlx::Row as _;
    let sql = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(&sql);
    for value in binds {
        query = query.bind(value);
    }
    query
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The request audit file links each record to its patients in one B-tree only: the links
/// table, keyed by NHS number first (migrations/sqlite-audit/0004), whose entries hold the
/// Patient id too. A separate index, of Patient ids or of NHS numbers, cost every record another
/// page written at a random place. A search by Patient id with the Patient's NHS number, or by
/// NHS number alone, reads the key's prefix; without the NHS number (a Patient the service does
/// not hold) it reads the whole table, and finds the same records (the contract test above).
#[tokio::test]
async fn sqlite_the_audit_file_finds_a_patients_records_by_nhs_number_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = file_store(dir.path(), "trail.db").await;
    let audit_pool = store.audit_pool().unwrap().clone();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_event_patients' \
         AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&audit_pool)
    .await
    .unwrap();
    assert!(indexes.is_empty(), "{indexes:?}");
    for (sql, binds) in [
        (
            "SELECT audit_id FROM audit_event_patients WHERE patient_id = ?1 AND nhs_number = ?2",
            ["p1", "9990000018"],
        ),
        (
            "SELECT audit_id FROM audit_event_patients WHERE nhs_number = ?1 AND ?2 = ?2",
            ["9990000018", "unused"],
        ),
    ] {
        let plan = query_plan(&audit_pool, sql, binds).await;
        assert!(plan.contains("PRIMARY KEY (nhs_number=?)"), "{sql}: {plan}");
    }
    // The plans file's audit tables (writes' records, at a plan write's rate) keep both indexes.
    let plans_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_event_patients'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(
        plans_indexes.contains(&"audit_event_patients_by_patient".to_owned()),
        "{plans_indexes:?}"
    );
}

/// An audit file made by an earlier version (its links keyed by audit id, with an index of NHS
/// numbers) keeps every link when migration 0004 rebuilds the table keyed by NHS number: the
/// records are found by NHS number and by Patient id afterwards, the table is still
/// append-only, and the next record's links go in beside them.
#[tokio::test]
async fn sqlite_an_older_audit_file_keeps_its_patient_links_when_they_are_keyed_by_nhs_number() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("older.audit.db");
    let old = audit("cad", Some(("p1", "9990000018")), test_now());
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&audit_path)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let mut earlier = sqlx::migrate!("migrations/sqlite-audit");
        earlier.migrations = earlier
            .migrations
            .iter()
            .filter(|migration| migration.version <= 3)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        earlier.run(&pool).await.unwrap();
        let old_index: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE name = 'audit_event_patients_by_nhs_number'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(old_index, 1, "not the earlier schema");
        let document = serde_json::to_string(&old).unwrap();
        sqlx::query(
            "INSERT INTO audit_events (id, recorded, client_id, document) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(old.id.to_string())
        .bind(old.recorded.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .bind("cad")
        .bind(document)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO audit_event_patients VALUES (?1, 'p1', '9990000018')")
            .bind(old.id.to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let (_, store) = file_store(dir.path(), "older.db").await;
    let newer = audit(
        "ooh",
        Some(("p1", "9990000018")),
        test_now() + Duration::seconds(1),
    );
    store
        .append_audits(std::slice::from_ref(&newer))
        .await
        .unwrap();
    let by_nhs = audit_trail_of(&store, "9990000018").await;
    assert_eq!(
        by_nhs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [newer.id, old.id]
    );
    let by_patient = store
        .search_audit(&AuditQuery {
            patient_id: Some("p1".into()),
            patient_nhs_number: Some("9990000018".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_patient.len(), 2);
    let audit_pool = store.audit_pool().unwrap().clone();
    let key: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_index_xinfo('sqlite_autoindex_audit_event_patients_1') WHERE key = 1 ORDER BY seqno")
            .fetch_all(&audit_pool)
            .await
            .unwrap();
    assert_eq!(key, ["nhs_number", "audit_id", "patient_id"]);
    let refused = sqlx::query("DELETE FROM audit_event_patients")
        .execute(&audit_pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
}

/// The request audit file indexes records by end user and by entity only where a record names
/// one (migrations/sqlite-audit/0003): a system client's summary, with neither, writes no entry
/// to either index. A search by agent or by entity still goes through them: it asks for a value,
/// which cannot be NULL. Fails if the indexes are full again, or if a search stops using them.
#[tokio::test]
async fn sqlite_the_audit_file_indexes_users_and_entities_only_where_a_record_names_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = file_store(dir.path(), "partial.db").await;
    let audit_pool = store.audit_pool().unwrap().clone();
    for (index, condition) in [
        ("audit_events_by_user", "WHERE end_user IS NOT NULL"),
        ("audit_events_by_entity", "WHERE entity_id IS NOT NULL"),
    ] {
        let sql: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
                .bind(index)
                .fetch_one(&audit_pool)
                .await
                .unwrap();
        assert!(sql.contains(condition), "{index}: {sql}");
    }
    // The clauses of `audit::search_sql` for an agent and for an entity.
    let by_agent = query_plan(
        &audit_pool,
        "SELECT e.document FROM audit_events e WHERE (e.client_id = ?1 OR e.end_user = ?2) \
         ORDER BY e.recorded DESC, e.id DESC LIMIT 50",
        ["crew-7", "crew-7"],
    )
    .await;
    assert!(by_agent.contains("audit_events_by_user"), "{by_agent}");
    let by_entity = query_plan(
        &audit_pool,
        "SELECT e.document FROM audit_events e \
         WHERE (e.entity_type = ?1 AND e.entity_id = ?2) \
         ORDER BY e.recorded DESC, e.id DESC LIMIT 50",
        ["CarePlan", "cp-1"],
    )
    .await;
    assert!(by_entity.contains("audit_events_by_entity"), "{by_entity}");

    // Records with and without a user and an entity: the indexes hold only the named ones, and
    // searches find them.
    let now = test_now();
    let mut named = audit("ems-cad", Some(("p1", "9990000018")), now);
    named.end_user = Some("crew-7".into());
    named.resource_type = Some("CarePlan".into());
    named.resource_id = Some("cp-1".into());
    let mut unnamed = audit("ems-cad", Some(("p1", "9990000018")), now);
    unnamed.resource_id = None;
    store
        .append_audits(&[named.clone(), unnamed])
        .await
        .unwrap();
    let indexed = |sql: &'static str| {
        let pool = audit_pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        indexed("SELECT count(*) FROM audit_events INDEXED BY audit_events_by_user WHERE end_user IS NOT NULL").await,
        1
    );
    assert_eq!(
        indexed("SELECT count(*) FROM audit_events INDEXED BY audit_events_by_entity WHERE entity_id IS NOT NULL").await,
        1
    );
    let by_user = store
        .search_audit(&AuditQuery {
            agent: Some("crew-7".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_user.iter().map(|r| r.id).collect::<Vec<_>>(), [named.id]);
    let by_resource = store
        .search_audit(&AuditQuery {
            entity: Some(("CarePlan".into(), "cp-1".into())),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_resource.iter().map(|r| r.id).collect::<Vec<_>>(),
        [named.id]
    );
}

/// Searches read both files of a SQLite file database (request records in the audit file;
/// write records, and request records written before the audit file existed, in the plans
/// file) as one trail: every criterion, newest first, paged across the two, by id in either.
#[tokio::test]
async fn sqlite_audit_searches_merge_both_files_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = file_store(dir.path(), "trail.db").await;
    let t0 = test_now();
    // Oldest: a request record from before the audit file, in the plans file.
    let older = audit("cad", Some(("p1", "9990000018")), t0);
    sqlx::query(
        "INSERT INTO audit_events (id, recorded, client_id, end_user, entity_type, entity_id, \
         document) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(older.id.to_string())
    .bind(older.recorded.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    .bind(&older.client_id)
    .bind(&older.end_user)
    .bind(&older.resource_type)
    .bind(&older.resource_id)
    .bind(serde_json::to_string(&older).unwrap())
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO audit_event_patients VALUES (?, 'p1', '9990000018')")
        .bind(older.id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    let viewed = audit("cad", Some(("p1", "9990000018")), t0 + Duration::seconds(1));
    store.append_audit(&viewed).await.unwrap();
    let record = new_record("9990000018", t0);
    let written = audit(
        "writer",
        Some(("p1", "9990000018")),
        t0 + Duration::seconds(2),
    );
    store
        .create_audited(&record, &[], Some(&written))
        .await
        .unwrap();
    let latest = audit("cad", Some(("p1", "9990000018")), t0 + Duration::seconds(3));
    store.append_audit(&latest).await.unwrap();

    let search = |query: AuditQuery| {
        let store = store.clone();
        async move { store.search_audit(&query).await.unwrap() }
    };
    let everything = vec![
        latest.clone(),
        written.clone(),
        viewed.clone(),
        older.clone(),
    ];
    let requests = vec![latest.clone(), viewed.clone(), older.clone()];
    for (query, expected) in [
        (
            AuditQuery {
                nhs_number: Some("9990000018".into()),
                ..AuditQuery::default()
            },
            &everything,
        ),
        (
            AuditQuery {
                patient_id: Some("p1".into()),
                ..AuditQuery::default()
            },
            &everything,
        ),
        (
            AuditQuery {
                agent: Some("cad".into()),
                ..AuditQuery::default()
            },
            &requests,
        ),
    ] {
        let found = search(AuditQuery {
            limit: 10,
            ..query.clone()
        })
        .await;
        assert_eq!(&found, expected, "{query:?}");
    }
    // Pages of two: the limit holds over both files, and the next page continues from the
    // last record of the one before, whichever file it came from.
    let first = search(AuditQuery {
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(first, vec![latest.clone(), written.clone()]);
    let second = search(AuditQuery {
        before: Some((written.recorded, written.id)),
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(second, vec![viewed.clone(), older.clone()]);
    for record in [&older, &viewed, &written, &latest] {
        assert_eq!(
            store.get_audit(record.id).await.unwrap().as_ref(),
            Some(record)
        );
    }
}

//! Practitioner: everyone the plan names as a professional, once each. In order of first
//! appearance: who recorded consent to share, who made each CPR decision (any status), the
//! ReSPECT clinician, the named GP, the key worker, the other professionals involved. The id
//! comes from the name and registration number ([`PlanIds::practitioner`]), so the same person
//! in several roles is one Practitioner with every role listed.
//!
//! Each role is a `practitioner-involvement` extension (complex, repeated, in plan order):
//! `context` (valueCode, see [`Context`]), `role` and `organisation` (valueString, as recorded),
//! `phone` (valueString, the key worker's or professional's number), `decision`
//! (valueReference to the CPR decision's Consent) and `position` (valueInteger, the index in
//! `care_team.professionals`). Together with `name.text`, the registration identifier and
//! `telecom` this rebuilds every [`Clinician`], [`Professional`] and the GP's name exactly.

use fhirbolt::model::r4::resources::Practitioner;
use fhirbolt::model::r4::types::{ContactPoint, Extension, ExtensionValue, HumanName, Identifier};

use super::codes::{self, profile};
use super::ids::PlanIds;
use super::support;
use crate::domain::{Clinician, PlanRecord, Professional};

/// The part a practitioner plays in the plan (`context` of the involvement extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    ConsentRecorder,
    CprDecisionMaker,
    RespectClinician,
    UsualGp,
    KeyWorker,
    Professional,
}

impl Context {
    fn code(self) -> &'static str {
        match self {
            Self::ConsentRecorder => "consent-to-share-recorder",
            Self::CprDecisionMaker => "cpr-decision-maker",
            Self::RespectClinician => "respect-clinician",
            Self::UsualGp => "usual-gp",
            Self::KeyWorker => "key-worker",
            Self::Professional => "care-team-professional",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::ConsentRecorder => "Recorded consent to share",
            Self::CprDecisionMaker => "Made a CPR decision",
            Self::RespectClinician => "Completed the ReSPECT form",
            Self::UsualGp => "Usual GP",
            Self::KeyWorker => "Key worker",
            Self::Professional => "Professional involved",
        }
    }
}

/// One role of one practitioner.
struct Involvement<'a> {
    context: Context,
    role: Option<&'a str>,
    organisation: Option<&'a str>,
    phone: Option<&'a str>,
    /// The CPR decision's Consent id and the decision date.
    decision: Option<(String, String)>,
    position: Option<usize>,
}

/// One practitioner, merged over every role.
struct Entry<'a> {
    id: String,
    name: &'a str,
    registration_number: Option<&'a str>,
    phones: Vec<&'a str>,
    involvements: Vec<Involvement<'a>>,
}

/// Every practitioner of a plan version, once each, in order of first appearance.
pub fn practitioners(record: &PlanRecord, ids: &PlanIds) -> Vec<Practitioner> {
    collect(record, ids)
        .into_iter()
        .map(|entry| practitioner(record, entry))
        .collect()
}

fn collect<'a>(record: &'a PlanRecord, ids: &PlanIds) -> Vec<Entry<'a>> {
    let plan = &record.plan;
    let mut entries: Vec<Entry<'a>> = Vec::new();
    let mut add = |name: &'a str, registration: Option<&'a str>, involvement: Involvement<'a>| {
        let id = ids.practitioner(name, registration);
        let index = match entries.iter().position(|e| e.id == id) {
            Some(index) => index,
            None => {
                entries.push(Entry {
                    id,
                    name,
                    registration_number: registration.filter(|r| !r.trim().is_empty()),
                    phones: Vec::new(),
                    involvements: Vec::new(),
                });
                entries.len() - 1
            }
        };
        let entry = &mut entries[index];
        if let Some(phone) = involvement.phone {
            if !entry.phones.contains(&phone) {
                entry.phones.push(phone);
            }
        }
        entry.involvements.push(involvement);
    };
    let clinician = |c: &'a Clinician, context: Context| Involvement {
        context,
        role: c.role.as_deref(),
        organisation: c.organisation.as_deref(),
        phone: None,
        decision: None,
        position: None,
    };
    let professional =
        |p: &'a Professional, context: Context, position: Option<usize>| Involvement {
            context,
            role: Some(p.role.as_str()),
            organisation: p.organisation.as_deref(),
            phone: p.phone.as_deref(),
            decision: None,
            position,
        };

    let recorder = &plan.consent_to_share.recorded_by;
    add(
        &recorder.name,
        recorder.registration_number.as_deref(),
        clinician(recorder, Context::ConsentRecorder),
    );
    for decision in &plan.resuscitation_decisions {
        let by = &decision.decided_by;
        let mut involvement = clinician(by, Context::CprDecisionMaker);
        involvement.decision = decision
            .id
            .map(|id| (ids.cpr_decision(id), support::date(decision.decision_date)));
        add(&by.name, by.registration_number.as_deref(), involvement);
    }
    if let Some(respect) = &plan.respect {
        let c = &respect.clinician;
        add(
            &c.name,
            c.registration_number.as_deref(),
            clinician(c, Context::RespectClinician),
        );
    }
    if let Some(name) = &plan.usual_gp.gp_name {
        add(
            name,
            None,
            Involvement {
                context: Context::UsualGp,
                role: None,
                organisation: Some(plan.usual_gp.practice_name.as_str()),
                phone: None,
                decision: None,
                position: None,
            },
        );
    }
    if let Some(key_worker) = &plan.care_team.key_worker {
        add(
            &key_worker.name,
            None,
            professional(key_worker, Context::KeyWorker, None),
        );
    }
    for (position, p) in plan.care_team.professionals.iter().enumerate() {
        add(
            &p.name,
            None,
            professional(p, Context::Professional, Some(position)),
        );
    }
    entries
}

fn string_part(url: &str, value: &str) -> Extension {
    support::extension(url, ExtensionValue::String(value.into()))
}

fn involvement_extension(involvement: &Involvement<'_>) -> Extension {
    let mut parts = vec![support::extension(
        "context",
        ExtensionValue::Code(support::code(involvement.context.code())),
    )];
    if let Some(role) = involvement.role {
        parts.push(string_part("role", role));
    }
    if let Some(organisation) = involvement.organisation {
        parts.push(string_part("organisation", organisation));
    }
    if let Some(phone) = involvement.phone {
        parts.push(string_part("phone", phone));
    }
    if let Some((consent, _)) = &involvement.decision {
        parts.push(support::extension(
            "decision",
            ExtensionValue::Reference(Box::new(support::reference("Consent", consent, None))),
        ));
    }
    if let Some(position) = involvement.position {
        // Care teams are far shorter than i32::MAX; saturate rather than panic.
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        parts.push(support::extension(
            "position",
            ExtensionValue::Integer(position.into()),
        ));
    }
    support::complex_extension(codes::PRACTITIONER_INVOLVEMENT_EXTENSION, parts)
}

fn involvement_text(involvement: &Involvement<'_>) -> String {
    let mut text = involvement.context.label().to_owned();
    if let Some((_, date)) = &involvement.decision {
        text.push_str(&format!(" ({date})"));
    }
    let details: Vec<&str> = involvement
        .role
        .into_iter()
        .chain(involvement.organisation)
        .collect();
    if !details.is_empty() {
        text.push_str(": ");
        text.push_str(&details.join(", "));
    }
    text
}

fn practitioner(record: &PlanRecord, entry: Entry<'_>) -> Practitioner {
    let mut rows: Vec<(&str, String)> = vec![("Name", entry.name.to_owned())];
    if let Some(registration) = entry.registration_number {
        rows.push(("Registration number", registration.to_owned()));
    }
    if !entry.phones.is_empty() {
        rows.push(("Phone", entry.phones.join("; ")));
    }
    for involvement in &entry.involvements {
        rows.push(("Role in this plan", involvement_text(involvement)));
    }

    Practitioner {
        id: Some(entry.id.as_str().into()),
        meta: Some(support::meta(record, profile::PRACTITIONER)),
        text: Some(support::narrative("Practitioner", &rows)),
        extension: entry
            .involvements
            .iter()
            .map(involvement_extension)
            .collect(),
        identifier: entry
            .registration_number
            .map(|registration| Identifier {
                system: Some(codes::PROFESSIONAL_REGISTRATION.into()),
                value: Some(registration.into()),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        name: vec![HumanName {
            text: Some(entry.name.into()),
            ..Default::default()
        }],
        telecom: entry
            .phones
            .iter()
            .map(|phone| ContactPoint {
                system: Some(support::code("phone")),
                value: Some((*phone).into()),
                r#use: Some(support::code("work")),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use fhirbolt::model::r4::Resource;
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::{PlanContent, PlanId};
    use crate::fhir::to_json;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn dr_patel() -> Value {
        json!({
            "name": "Dr Amy Patel",
            "role": "GP",
            "registration_number": "GMC 1234567",
            "organisation": "Mill Lane Surgery"
        })
    }

    fn content() -> Value {
        json!({
            "consent_to_share": {"status": "given", "date": "2026-11-01", "recorded_by": dr_patel()},
            "person": {
                "nhs_number": "9434765919",
                "family_name": "Kowalski",
                "given_names": ["Jan"],
                "birth_date": "1941-03-05",
                "gender": "male"
            },
            "usual_gp": {
                "gp_name": "Dr Amy Patel",
                "practice_name": "Mill Lane Surgery",
                "practice_ods_code": "Y01234"
            },
            "care_team": {
                "key_worker": {
                    "name": "Sam Jones",
                    "role": "District nurse",
                    "organisation": "Borsetshire Community Trust",
                    "phone": "01632 960200"
                },
                "professionals": [
                    {"name": "Dr Lee Chan", "role": "Palliative care consultant", "phone": "01632 960300"},
                    {"name": "Sam Jones", "role": "Continence nurse", "phone": "07700 900200"}
                ]
            },
            "resuscitation_decisions": [{
                "decision": "not-for-cpr",
                "decision_date": "2026-11-01",
                "review": "indefinite",
                "decided_by": dr_patel()
            }],
            "diagnosis": {"primary": {"text": "Lung cancer"}}
        })
    }

    fn record(value: Value) -> PlanRecord {
        let content: PlanContent = serde_json::from_value(value).unwrap();
        PlanRecord::create(PlanId::new_random(), content, now(), "t").unwrap()
    }

    fn json_of(practitioner: &Practitioner) -> Value {
        to_json(&Resource::Practitioner(Box::new(practitioner.clone()))).unwrap()
    }

    fn involvements(json: &Value) -> Vec<Value> {
        json["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == codes::PRACTITIONER_INVOLVEMENT_EXTENSION)
            .map(|e| {
                let mut parts = serde_json::Map::new();
                for part in e["extension"].as_array().unwrap() {
                    let value = part
                        .as_object()
                        .unwrap()
                        .iter()
                        .find(|(k, _)| k.starts_with("value"))
                        .unwrap()
                        .1
                        .clone();
                    parts.insert(part["url"].as_str().unwrap().to_owned(), value);
                }
                Value::Object(parts)
            })
            .collect()
    }

    #[test]
    fn one_practitioner_per_person_with_every_role() {
        let record = record(content());
        let ids = PlanIds::new(record.id);
        let all = practitioners(&record, &ids);
        let json: Vec<Value> = all.iter().map(json_of).collect();
        // Dr Patel (registered: consent + decision), Dr Patel as the named GP (no registration
        // number, so a different id), Sam Jones (key worker + professional), Dr Chan.
        assert_eq!(json.len(), 4, "{json:#?}");
        let patel = &json[0];
        assert_eq!(
            patel["id"],
            ids.practitioner("Dr Amy Patel", Some("GMC 1234567"))
        );
        assert_eq!(patel["meta"]["profile"][0], profile::PRACTITIONER);
        assert_eq!(patel["name"], json!([{"text": "Dr Amy Patel"}]));
        assert_eq!(
            patel["identifier"],
            json!([{"system": codes::PROFESSIONAL_REGISTRATION, "value": "GMC 1234567"}])
        );
        let decision = record.plan.resuscitation_decisions[0].id.unwrap();
        assert_eq!(
            involvements(patel),
            vec![
                json!({"context": "consent-to-share-recorder", "role": "GP", "organisation": "Mill Lane Surgery"}),
                json!({
                    "context": "cpr-decision-maker", "role": "GP", "organisation": "Mill Lane Surgery",
                    "decision": {"reference": format!("Consent/{}", ids.cpr_decision(decision))}
                }),
            ]
        );
        let div = patel["text"]["div"].as_str().unwrap();
        assert!(
            div.contains("Recorded consent to share: GP, Mill Lane Surgery"),
            "{div}"
        );
        assert!(div.contains("Made a CPR decision (2026-11-01)"), "{div}");

        let gp = &json[1];
        assert_eq!(gp["id"], ids.practitioner("Dr Amy Patel", None));
        assert!(gp.get("identifier").is_none());
        assert_eq!(
            involvements(gp),
            vec![json!({"context": "usual-gp", "organisation": "Mill Lane Surgery"})]
        );

        let sam = &json[2];
        assert_eq!(sam["id"], ids.practitioner("Sam Jones", None));
        assert_eq!(
            sam["telecom"],
            json!([
                {"system": "phone", "value": "01632 960200", "use": "work"},
                {"system": "phone", "value": "07700 900200", "use": "work"}
            ])
        );
        assert_eq!(
            involvements(sam),
            vec![
                json!({"context": "key-worker", "role": "District nurse",
                       "organisation": "Borsetshire Community Trust", "phone": "01632 960200"}),
                json!({"context": "care-team-professional", "role": "Continence nurse",
                       "phone": "07700 900200", "position": 1}),
            ]
        );
        assert_eq!(json[3]["name"][0]["text"], "Dr Lee Chan");
        assert_eq!(involvements(&json[3])[0]["position"], 0);
    }

    #[test]
    fn respect_clinician_and_ended_decisions_are_included() {
        let mut value = content();
        value["resuscitation_decisions"] = json!([
            {
                "status": "superseded",
                "decision": "for-cpr",
                "decision_date": "2026-06-01",
                "review": "2026-09-01",
                "decided_by": {"name": "Dr Old", "registration_number": "GMC 7654321"},
                "ended": {"at": "2026-11-01T10:00:00Z", "by": "Dr Amy Patel", "reason": "superseded"}
            },
            {
                "decision": "not-for-cpr",
                "decision_date": "2026-11-01",
                "review": "indefinite",
                "decided_by": dr_patel()
            }
        ]);
        value["respect"] = json!({
            "priority": 80,
            "focus_of_care": "comfort",
            "completed_date": "2026-11-02",
            "clinician": {"name": "Dr Lee Chan", "role": "Consultant"}
        });
        let record = record(value);
        let ids = PlanIds::new(record.id);
        let json: Vec<Value> = practitioners(&record, &ids).iter().map(json_of).collect();
        let names: Vec<&str> = json
            .iter()
            .map(|p| p["name"][0]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Dr Amy Patel",
                "Dr Old",
                "Dr Lee Chan",
                "Dr Amy Patel",
                "Sam Jones"
            ]
        );
        let chan = involvements(&json[2]);
        assert_eq!(
            chan[0],
            json!({"context": "respect-clinician", "role": "Consultant"})
        );
        assert_eq!(chan[1]["context"], "care-team-professional");
    }

    #[test]
    fn fixtures_have_unique_practitioners_without_empty_arrays() {
        for (name, record) in crate::fhir::tests::fixture_records() {
            let ids = PlanIds::new(record.id);
            let all = practitioners(&record, &ids);
            let mut seen: Vec<String> = all
                .iter()
                .map(|p| p.id.as_ref().unwrap().value.clone().unwrap())
                .collect();
            let count = seen.len();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), count, "{name}");
            let recorder = &record.plan.consent_to_share.recorded_by;
            assert_eq!(
                seen.iter()
                    .filter(|id| **id
                        == ids
                            .practitioner(&recorder.name, recorder.registration_number.as_deref()))
                    .count(),
                1,
                "{name}"
            );
            for p in &all {
                let json = json_of(p);
                assert!(!json.to_string().contains("[]"), "{name}: {json}");
            }
        }
    }
}

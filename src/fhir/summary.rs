//! The one-call emergency summary: a `document` Bundle whose Composition (SCT
//! 861421000000109) has the sections of domain.md §5 in reading order. Section entries point
//! only at what is current (H1); the CPR section says "No decision recorded" when there is none
//! (H2); overdue reviews are flagged in the CPR and provenance sections (H7); the Composition's
//! date is when the data last changed.

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::resources::{Bundle, BundleEntry, Composition, CompositionSection};
use fhirbolt::model::r4::types::{Identifier, Reference};
use fhirbolt::model::r4::Resource;

use super::codes::{self, profile};
use super::ids::PlanIds;
use super::support::{code, coding_of, concept, concept_of, instant, narrative, reference, yes_no};
use super::{project, type_and_id, Projection};
use crate::domain::{
    AdrtStatus, PlacePreference, PlanRecord, PrognosisPeriod, ResuscitationStatus, ReviewDue,
};

const LIST_EMPTY_REASON: &str = "http://terminology.hl7.org/CodeSystem/list-empty-reason";
const SECTION_SYSTEM: &str = "https://acp-fhir.example.org/fhir/CodeSystem/summary-section";

/// The sections in reading order: (code, title).
pub const SECTIONS: [(&str, &str); 11] = [
    ("identity", "Identity"),
    ("cpr-decision", "CPR decision"),
    ("respect", "ReSPECT recommendations"),
    ("adrt", "Advance decision to refuse treatment"),
    ("lpa", "Lasting power of attorney for health and welfare"),
    ("contacts", "Contacts"),
    ("preferred-places", "Preferred place of care and of death"),
    ("anticipatory-medicines", "Anticipatory medicines"),
    ("diagnosis-prognosis", "Diagnosis and prognosis"),
    ("notes", "Special note, access and what matters most"),
    ("provenance", "Provenance"),
];

fn id_text(resource: &Resource) -> Option<(String, String)> {
    type_and_id(resource).map(|(t, id)| (t.to_owned(), id.to_owned()))
}

struct Section {
    code: &'static str,
    title: &'static str,
    rows: Vec<(&'static str, String)>,
    entries: Vec<Reference>,
    empty: Option<&'static str>,
}

fn section(code: &'static str, title: &'static str) -> Section {
    Section {
        code,
        title,
        rows: Vec::new(),
        entries: Vec::new(),
        empty: None,
    }
}

fn into_fhir(section: Section) -> CompositionSection {
    let mut rows = section.rows;
    if rows.is_empty() {
        rows.push(("", section.empty.unwrap_or("Nothing recorded").to_owned()));
    }
    CompositionSection {
        title: Some(section.title.into()),
        code: Some(Box::new(concept_of(
            vec![coding_of(SECTION_SYSTEM, section.code, Some(section.title))],
            None,
        ))),
        text: Some(narrative(section.title, &rows)),
        empty_reason: (section.entries.is_empty()).then(|| {
            Box::new(concept_of(
                vec![coding_of(LIST_EMPTY_REASON, "nilknown", Some("Nil Known"))],
                Some(section.empty.unwrap_or("Nothing recorded")),
            ))
        }),
        entry: section.entries,
        ..Default::default()
    }
}

fn place_text(preference: Option<&PlacePreference>) -> String {
    let describe = |p: &crate::domain::PreferredPlace| {
        let mut text = format!("{:?}", p.kind)
            .to_lowercase()
            .replace("otherprivateresidence", "other private residence")
            .replace("carehome", "care home");
        if let Some(org) = &p.organisation {
            text.push_str(&format!(" ({org})"));
        }
        if p.is_usual_residence {
            text.push_str(", usual residence");
        }
        text
    };
    match preference {
        None => "not recorded".into(),
        Some(PlacePreference::Stated { first, second }) => match second {
            Some(second) => format!("1st {}; 2nd {}", describe(first), describe(second)),
            None => format!("1st {}", describe(first)),
        },
        Some(PlacePreference::Undecided {}) => "undecided".into(),
        Some(PlacePreference::DeclinedToDiscuss {}) => "declined to discuss".into(),
        Some(PlacePreference::NotAppropriate {}) => "discussion not appropriate".into(),
        Some(PlacePreference::UnableToExpress {}) => "unable to express a preference".into(),
    }
}

fn phones(list: &[crate::domain::Phone]) -> String {
    list.iter()
        .map(|p| p.number.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary document for `record`, generated at `now`; `base` is the server's FHIR base URL
/// (entries' `fullUrl`).
pub fn summary(record: &PlanRecord, base: &str, now: DateTime<Utc>) -> Bundle {
    let ids = PlanIds::new(record.id);
    let projection = project(record);
    let plan = &record.plan;
    let person = &plan.person;
    let name = format!("{} {}", person.given_names.join(" "), person.family_name);
    let patient_ref = || reference("Patient", &ids.patient(), Some(&name));
    let care_plan_ref = || reference("CarePlan", &ids.care_plan(), Some("End of life care plan"));
    let today = now.date_naive();
    let overdue = record.overdue_reviews(today);

    let mut sections = Vec::new();

    // 1. Identity.
    let mut identity = section(SECTIONS[0].0, SECTIONS[0].1);
    identity.rows.push(("Name", name.clone()));
    identity
        .rows
        .push(("Date of birth", person.birth_date.to_string()));
    identity
        .rows
        .push(("NHS number", person.nhs_number.to_string()));
    if let Some(address) = &person.address {
        let mut parts = address.lines.clone();
        parts.extend(address.city.clone());
        parts.extend(address.postcode.clone());
        identity.rows.push(("Address", parts.join(", ")));
    }
    if let Some(death) = &plan.death {
        identity.rows.push(("Died", death.date.to_string()));
    }
    identity.entries.push(patient_ref());
    sections.push(identity);

    // 2. CPR decision.
    let mut cpr = section(SECTIONS[1].0, SECTIONS[1].1);
    match record.resuscitation_status() {
        ResuscitationStatus::Decided(decision) => {
            let heading = match decision.decision {
                crate::domain::CprDecision::NotForCpr => "NOT for attempted CPR (DNACPR)",
                crate::domain::CprDecision::ForCpr => "For attempted CPR",
            };
            cpr.rows.push(("Decision", heading.to_owned()));
            cpr.rows
                .push(("Decision date", decision.decision_date.to_string()));
            cpr.rows.push((
                "Review",
                match decision.review {
                    ReviewDue::Indefinite => "indefinite".to_owned(),
                    ReviewDue::On(date) if date < today => format!("{date} — REVIEW OVERDUE"),
                    ReviewDue::On(date) => date.to_string(),
                },
            ));
            let mut who = decision.decided_by.name.clone();
            if let Some(role) = &decision.decided_by.role {
                who.push_str(&format!(", {role}"));
            }
            cpr.rows.push(("Decided by", who));
            cpr.rows.push((
                "Original form",
                decision
                    .form_location
                    .clone()
                    .unwrap_or_else(|| "not recorded".into()),
            ));
            cpr.rows
                .push(("Person aware", yes_no(decision.person_aware)));
            cpr.rows
                .push(("Family informed", yes_no(decision.family_informed)));
            if let Some(id) = decision.id {
                cpr.entries
                    .push(reference("Consent", &ids.cpr_decision(id), Some(heading)));
            }
        }
        ResuscitationStatus::NoDecisionRecorded | ResuscitationStatus::PlanNotCurrent(_) => {
            cpr.empty = Some("No decision recorded");
            cpr.rows
                .push(("Decision", "No decision recorded".to_owned()));
        }
    }
    sections.push(cpr);

    // 3. ReSPECT.
    let mut respect = section(SECTIONS[2].0, SECTIONS[2].1);
    respect.empty = Some("No ReSPECT form recorded");
    if let Some(form) = &plan.respect {
        respect.rows.push((
            "Priority (0 sustain life – 100 comfort)",
            form.priority.to_string(),
        ));
        respect
            .rows
            .push(("Focus of care", format!("{:?}", form.focus_of_care)));
        for recommendation in &form.recommendations {
            let verdict = if recommendation.recommended {
                "recommended"
            } else {
                "NOT recommended"
            };
            let mut text = format!("{}: {verdict}", recommendation.treatment.text);
            if let Some(note) = &recommendation.note {
                text.push_str(&format!(" ({note})"));
            }
            respect.rows.push(("Recommendation", text));
        }
        respect.entries.push(care_plan_ref());
    }
    sections.push(respect);

    // 4. ADRT.
    let mut adrt = section(SECTIONS[3].0, SECTIONS[3].1);
    adrt.empty = Some("No ADRT recorded");
    for item in plan.adrts.iter().filter(|a| a.status == AdrtStatus::Active) {
        let refused: Vec<String> = item
            .refused_treatments
            .iter()
            .map(|t| t.text.clone())
            .collect();
        adrt.rows.push(("Refuses", refused.join(", ")));
        adrt.rows.push((
            "Refuses life-sustaining treatment",
            if item.refuses_life_sustaining_treatment {
                "YES"
            } else {
                "no"
            }
            .to_owned(),
        ));
        adrt.rows.push((
            "Document",
            item.document_location
                .clone()
                .unwrap_or_else(|| "location not recorded".into()),
        ));
        if let Some(id) = item.id {
            adrt.entries
                .push(reference("Consent", &ids.adrt(id), Some("ADRT")));
        }
    }
    sections.push(adrt);

    // 5. LPA.
    let mut lpa = section(SECTIONS[4].0, SECTIONS[4].1);
    lpa.empty = Some("No LPA for health and welfare recorded");
    for (index, attorney) in plan.lpas.iter().enumerate() {
        let authority = if attorney.life_sustaining_authority {
            "WITH authority over life-sustaining treatment"
        } else {
            "without authority over life-sustaining treatment"
        };
        lpa.rows.push((
            "Attorney",
            format!(
                "{} ({}) {authority}",
                attorney.name,
                phones(&attorney.phones)
            ),
        ));
        lpa.entries.push(reference(
            "RelatedPerson",
            &ids.lpa(index),
            Some(&attorney.name),
        ));
    }
    sections.push(lpa);

    // 6. Contacts.
    let mut contacts = section(SECTIONS[5].0, SECTIONS[5].1);
    contacts.empty = Some("No contacts recorded");
    for (index, contact) in plan.contacts.iter().enumerate() {
        let mut roles = Vec::new();
        if contact.nominated_contact {
            roles.push("single nominated contact");
        }
        if contact.main_carer {
            roles.push("main carer");
        }
        if roles.is_empty() {
            continue;
        }
        contacts.rows.push((
            "Contact",
            format!(
                "{} ({}, {}): {}",
                contact.name,
                contact.relationship,
                roles.join(", "),
                phones(&contact.phones)
            ),
        ));
        contacts.entries.push(reference(
            "RelatedPerson",
            &ids.contact(index),
            Some(&contact.name),
        ));
    }
    if let Some(worker) = &plan.care_team.key_worker {
        contacts.rows.push((
            "Key worker",
            format!(
                "{} ({}): {}",
                worker.name,
                worker.role,
                worker.phone.clone().unwrap_or_default()
            ),
        ));
        contacts.entries.push(reference(
            "Practitioner",
            &ids.practitioner(&worker.name, None),
            Some(&worker.name),
        ));
    }
    sections.push(contacts);

    // 7. Preferred places.
    let mut places = section(SECTIONS[6].0, SECTIONS[6].1);
    places.empty = Some("No preferences recorded");
    places.rows.push((
        "Preferred place of care",
        place_text(plan.preferred_place_of_care.as_ref()),
    ));
    places.rows.push((
        "Preferred place of death",
        place_text(plan.preferred_place_of_death.as_ref()),
    ));
    let place_goals: Vec<String> = ["place-of-care", "place-of-death"]
        .into_iter()
        .flat_map(|kind| (0..=2u8).map(move |rank| ids.place_goal(kind, rank)))
        .collect();
    for goal in &projection.goals {
        let goal_id = goal
            .id
            .as_ref()
            .and_then(|i| i.value.as_deref())
            .unwrap_or_default();
        if place_goals.iter().any(|place| place == goal_id) {
            places.entries.push(reference("Goal", goal_id, None));
        }
    }
    sections.push(places);

    // 8. Anticipatory medicines.
    let mut medicines = section(SECTIONS[7].0, SECTIONS[7].1);
    medicines.empty = Some("No anticipatory medicines recorded");
    if let Some(jic) = &plan.anticipatory_medicines {
        medicines.rows.push((
            "Just-in-case box issued",
            if jic.box_issued { "yes" } else { "no" }.to_owned(),
        ));
        if let Some(location) = &jic.location {
            medicines.rows.push(("Kept", location.clone()));
        }
        medicines
            .rows
            .push(("Syringe driver", yes_no(jic.syringe_driver)));
        if let Some(equipment) = &jic.equipment {
            medicines
                .rows
                .push(("Oxygen / equipment", equipment.clone()));
        }
        medicines.entries.push(care_plan_ref());
    }
    sections.push(medicines);

    // 9. Diagnosis and prognosis.
    let mut diagnosis = section(SECTIONS[8].0, SECTIONS[8].1);
    diagnosis
        .rows
        .push(("Primary diagnosis", plan.diagnosis.primary.text.clone()));
    if let Some(prognosis) = &plan.prognosis {
        let expected = match prognosis.expected {
            PrognosisPeriod::LastDays => "last days of life",
            PrognosisPeriod::LastWeeks => "last weeks of life",
            PrognosisPeriod::LastMonths => "last months of life",
            PrognosisPeriod::Unknown => "unknown",
        };
        diagnosis.rows.push(("Prognosis", expected.to_owned()));
        diagnosis
            .rows
            .push(("Person aware", yes_no(prognosis.person_aware)));
        diagnosis
            .rows
            .push(("Carer aware", yes_no(prognosis.carer_aware)));
    }
    diagnosis.entries.push(care_plan_ref());
    sections.push(diagnosis);

    // 10. Special note, access, what matters most.
    let mut notes = section(SECTIONS[9].0, SECTIONS[9].1);
    notes.empty = Some("Nothing recorded");
    for (label, value) in [
        ("Special note", &plan.special_note),
        ("Access information", &plan.access_information),
        ("What matters most", &plan.what_matters_most),
    ] {
        if let Some(text) = value {
            notes.rows.push((label, text.clone()));
        }
    }
    if !notes.rows.is_empty() {
        notes.entries.push(care_plan_ref());
    }
    if plan.what_matters_most.is_some() {
        notes.entries.push(reference(
            "Goal",
            &ids.what_matters_goal(),
            Some("What matters most"),
        ));
    }
    sections.push(notes);

    // 11. Provenance.
    let mut provenance = section(SECTIONS[10].0, SECTIONS[10].1);
    provenance
        .rows
        .push(("Last updated", instant(&record.last_updated)));
    provenance
        .rows
        .push(("Updated by", record.last_updated_by.clone()));
    provenance
        .rows
        .push(("Plan version", record.version.to_string()));
    if overdue.is_empty() {
        provenance.rows.push(("Review", "not overdue".to_owned()));
    }
    for item in &overdue {
        let what = if item.item == "plan" {
            "Plan review"
        } else {
            "CPR decision review"
        };
        provenance
            .rows
            .push(("REVIEW OVERDUE", format!("{what} was due {}", item.due)));
    }
    provenance.entries.push(care_plan_ref());
    sections.push(provenance);

    let summary_id = super::ids::v5(
        &record.id.as_uuid(),
        format!("summary/{}", record.version).as_bytes(),
    );
    let composition_id = super::ids::v5(
        &record.id.as_uuid(),
        format!("summary-composition/{}", record.version).as_bytes(),
    );
    let composition = Composition {
        id: Some(composition_id.clone().into()),
        meta: Some(super::support::meta(record, profile::SUMMARY_COMPOSITION)),
        text: Some(narrative(
            "End of life care coordination summary",
            &[
                ("Person", name.clone()),
                ("Last updated", instant(&record.last_updated)),
            ],
        )),
        status: code("final"),
        r#type: Box::new(concept(codes::EOL_COORDINATION_SUMMARY)),
        subject: Some(Box::new(patient_ref())),
        date: instant(&record.last_updated).into(),
        author: vec![Reference {
            display: Some("acp-fhir".into()),
            ..Default::default()
        }],
        title: "End of life care coordination summary".into(),
        section: sections.into_iter().map(into_fhir).collect(),
        ..Default::default()
    };

    // The Composition has no endpoint of its own, but its fullUrl shares the server's base so
    // that its relative references resolve within the document.
    let mut entries = vec![BundleEntry {
        full_url: Some(format!("{base}/Composition/{composition_id}").into()),
        resource: Some(Resource::Composition(Box::new(composition))),
        ..Default::default()
    }];
    entries.extend(
        document_resources(projection)
            .into_iter()
            .map(|r| entry(base, r)),
    );
    Bundle {
        id: Some(summary_id.clone().into()),
        meta: Some(Box::new(fhirbolt::model::r4::types::Meta {
            profile: vec![profile::SUMMARY_BUNDLE.into()],
            ..Default::default()
        })),
        identifier: Some(Box::new(Identifier {
            system: Some("urn:ietf:rfc:3986".into()),
            value: Some(format!("urn:uuid:{summary_id}").into()),
            ..Default::default()
        })),
        r#type: code("document"),
        timestamp: Some(instant(&now).into()),
        entry: entries,
        ..Default::default()
    }
}

/// Every resource of the plan the document carries: all of them, so every reference resolves;
/// only the sections decide what is current.
fn document_resources(projection: Projection) -> Vec<Resource> {
    projection.into_resources()
}

fn entry(base: &str, resource: Resource) -> BundleEntry {
    let full_url = id_text(&resource).map(|(t, id)| format!("{base}/{t}/{id}"));
    BundleEntry {
        full_url: full_url.map(Into::into),
        resource: Some(resource),
        ..Default::default()
    }
}

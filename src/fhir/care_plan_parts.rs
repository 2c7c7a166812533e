//! The CarePlan's narrative and its plan-level extensions (a child module of `care_plan`, kept
//! apart for size). The extensions carry, losslessly, the plan items no other resource holds:
//! review date, ReSPECT priority, focus and form, diagnoses, prognosis, death, status reason.
//!
//! The narrative is readable alone, in the order of the emergency summary (domain.md §5),
//! escaped and never truncated (H6). The CPR line comes from
//! [`PlanRecord::resuscitation_status`] only: the current decision, "No decision recorded"
//! (H2), or that a revoked plan's decisions do not stand (H1); ended decisions are counted,
//! never described.

use fhirbolt::model::r4::types::{Extension, ExtensionValue, Narrative};

use super::{
    boolean, codeable, coded, cpr_words, focus_concept, not_current_words, plan_status,
    prognosis_concepts, string, DEATH_EXTENSION, DIAGNOSES_EXTENSION, NOTE_ACCESS,
    NOTE_LIVES_ALONE, NOTE_ORGAN_DONATION, NOTE_RELIGIOUS, NOTE_SPECIAL, PROGNOSIS_EXTENSION,
    RESPECT_FORM_EXTENSION, STATUS_REASON_EXTENSION,
};
use crate::domain::{
    Adrt, AdrtStatus, AnticipatoryMedicines, Clinician, DecisionStatus, LastingPowerOfAttorney,
    Phone, PlanContent, PlanRecord, Professional, Respect, ResuscitationStatus,
};
use crate::fhir::codes;
use crate::fhir::goal::{person_name, place_kind_label, preference_text};
use crate::fhir::ids::PlanIds;
use crate::fhir::support::{
    code, coding, coding_of, complex_extension, concept, concept_of, date, escape, extension,
    instant, reference, yes_no,
};

const NONE: &str = "none recorded";

fn clinician_text(clinician: &Clinician) -> String {
    let details: Vec<&str> = [
        &clinician.role,
        &clinician.registration_number,
        &clinician.organisation,
    ]
    .into_iter()
    .filter_map(|v| v.as_deref())
    .collect();
    if details.is_empty() {
        clinician.name.clone()
    } else {
        format!("{} ({})", clinician.name, details.join(", "))
    }
}

fn professional_text(p: &Professional) -> String {
    let mut text = format!("{} ({}", p.name, p.role);
    for part in [&p.organisation, &p.phone].into_iter().flatten() {
        text.push_str(", ");
        text.push_str(part);
    }
    text.push(')');
    text
}

/// The CPR statement of the narrative: the one place that answers "is there a decision?".
fn cpr_statement(record: &PlanRecord) -> String {
    match record.resuscitation_status() {
        ResuscitationStatus::Decided(d) => {
            let mut text = format!(
                "CPR decision: {}, decided {} by {}, review {}",
                cpr_words(d.decision),
                date(d.decision_date),
                clinician_text(&d.decided_by),
                d.review
            );
            text.push_str(", original form: ");
            text.push_str(
                d.form_location
                    .as_deref()
                    .unwrap_or("location not recorded"),
            );
            text.push_str(&format!(
                "; person aware: {}; family informed: {}",
                yes_no(d.person_aware),
                yes_no(d.family_informed)
            ));
            for (label, value) in [
                ("had capacity", d.had_capacity),
                ("person involved", d.person_involved),
            ] {
                if value.is_some() {
                    text.push_str(&format!("; {label}: {}", yes_no(value)));
                }
            }
            if let Some(reason) = &d.reason {
                text.push_str("; reason: ");
                text.push_str(reason);
            }
            text
        }
        ResuscitationStatus::NoDecisionRecorded => "CPR decision: No decision recorded".into(),
        ResuscitationStatus::PlanNotCurrent(status) => format!(
            "This plan is {}: none of its decisions stand; see the person's current plan",
            not_current_words(status)
        ),
    }
}

pub(super) fn medicines_text(m: &AnticipatoryMedicines) -> String {
    let mut text = match (m.box_issued, m.issued_date) {
        (true, Some(day)) => format!("just-in-case box issued {}", date(day)),
        (true, None) => "just-in-case box issued".into(),
        (false, _) => "just-in-case box not issued".into(),
    };
    text.push_str(&format!(
        "; kept: {}; syringe driver: {}; equipment: {}",
        m.location.as_deref().unwrap_or("not recorded"),
        yes_no(m.syringe_driver),
        m.equipment.as_deref().unwrap_or("not recorded")
    ));
    text
}

fn respect_text(r: &Respect) -> String {
    let recommendations: Vec<String> = r
        .recommendations
        .iter()
        .map(|rec| {
            let verdict = if rec.recommended {
                "recommended"
            } else {
                "NOT recommended"
            };
            match &rec.note {
                Some(note) => format!("{}: {verdict} ({note})", rec.treatment.text),
                None => format!("{}: {verdict}", rec.treatment.text),
            }
        })
        .collect();
    format!(
        "priority {} of 100 (0 prioritise sustaining life, 100 prioritise comfort); {}; \
         recommendations: {}; completed {} by {}; form: {}",
        r.priority,
        focus_concept(r.focus_of_care).display,
        if recommendations.is_empty() {
            "none".into()
        } else {
            recommendations.join("; ")
        },
        date(r.completed_date),
        clinician_text(&r.clinician),
        r.form_location
            .as_deref()
            .unwrap_or("location not recorded")
    )
}

fn adrt_text(adrts: &[Adrt]) -> String {
    let active: Vec<String> = adrts
        .iter()
        .filter(|a| a.status == AdrtStatus::Active)
        .map(|a| {
            let refused: Vec<&str> = a
                .refused_treatments
                .iter()
                .map(|t| t.text.as_str())
                .collect();
            let mut text = format!("made {}, refuses: {}", date(a.date), refused.join(", "));
            if a.refuses_life_sustaining_treatment {
                text.push_str(" (including life-sustaining treatment)");
            }
            for (label, value) in [
                ("circumstances", &a.circumstances),
                ("document", &a.document_location),
            ] {
                if let Some(value) = value {
                    text.push_str(&format!("; {label}: {value}"));
                }
            }
            text
        })
        .collect();
    let mut text = if active.is_empty() {
        NONE.to_owned()
    } else {
        format!("yes: {}", active.join(" | "))
    };
    let inactive = adrts.len() - active.len();
    if inactive > 0 {
        text.push_str(&format!(
            " ({inactive} withdrawn or entered in error, not in force)"
        ));
    }
    text
}

fn lpa_text(lpa: &LastingPowerOfAttorney) -> String {
    format!(
        "{} (authority over life-sustaining treatment: {}; phone: {}; document: {})",
        lpa.name,
        yes_no(Some(lpa.life_sustaining_authority)),
        phones_text(&lpa.phones),
        lpa.document_location.as_deref().unwrap_or("not recorded")
    )
}

fn phones_text(phones: &[Phone]) -> String {
    if phones.is_empty() {
        return "not recorded".into();
    }
    phones
        .iter()
        .map(|p| p.number.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn care_team_text(plan: &PlanContent) -> String {
    let mut team: Vec<String> = plan
        .care_team
        .key_worker
        .iter()
        .map(|k| format!("key worker {}", professional_text(k)))
        .collect();
    team.extend(plan.care_team.professionals.iter().map(professional_text));
    let gp = &plan.usual_gp;
    if let Some(name) = &gp.gp_name {
        team.push(format!("usual GP {name}"));
    }
    let phone = gp
        .phone
        .as_deref()
        .map(|p| format!(", {p}"))
        .unwrap_or_default();
    team.push(format!(
        "GP practice {} ({}{phone})",
        gp.practice_name,
        gp.practice_ods_code.as_str()
    ));
    team.join("; ")
}

fn joined<T>(items: &[T], text: impl Fn(&T) -> String) -> String {
    items.iter().map(text).collect::<Vec<_>>().join("; ")
}

/// The human-readable rows of the narrative, in the order of the emergency summary (§5).
fn narrative_rows(record: &PlanRecord) -> Vec<(&'static str, String)> {
    let plan = &record.plan;
    let or_none = |text: Option<String>| text.unwrap_or_else(|| NONE.to_owned());
    let mut status = plan_status(record.status).to_owned();
    if let Some(reason) = &record.status_reason {
        status.push_str(&format!(": {reason}"));
    }
    let mut rows: Vec<(&'static str, String)> = vec![("Plan status", status)];
    let ended = plan
        .resuscitation_decisions
        .iter()
        .filter(|d| d.status != DecisionStatus::Current)
        .count();
    if ended > 0 && record.status.is_current() {
        let text = format!(
            "{ended} no longer in force (superseded, revoked or entered in error); not shown"
        );
        rows.push(("Earlier CPR decisions", text));
    }
    rows.push(("ReSPECT", or_none(plan.respect.as_ref().map(respect_text))));
    rows.push(("ADRT", adrt_text(&plan.adrts)));
    let lpas = (!plan.lpas.is_empty()).then(|| joined(&plan.lpas, lpa_text));
    rows.push(("LPA for health and welfare", or_none(lpas)));
    for (label, contact) in [
        (
            "Nominated contact",
            plan.contacts.iter().find(|c| c.nominated_contact),
        ),
        ("Main carer", plan.contacts.iter().find(|c| c.main_carer)),
    ] {
        if let Some(c) = contact {
            rows.push((
                label,
                format!(
                    "{} ({}), phone: {}",
                    c.name,
                    c.relationship,
                    phones_text(&c.phones)
                ),
            ));
        }
    }
    rows.push(("Care team", care_team_text(plan)));
    rows.push((
        "Preferred place of care",
        or_none(plan.preferred_place_of_care.as_ref().map(preference_text)),
    ));
    rows.push((
        "Preferred place of death",
        or_none(plan.preferred_place_of_death.as_ref().map(preference_text)),
    ));
    rows.push((
        "Anticipatory medicines",
        or_none(plan.anticipatory_medicines.as_ref().map(medicines_text)),
    ));
    let diagnosis = &plan.diagnosis;
    rows.push(("Primary diagnosis", diagnosis.primary.text.clone()));
    for (label, list) in [
        ("Other diagnoses", &diagnosis.other),
        ("Disabilities", &diagnosis.disabilities),
        ("Allergies", &diagnosis.allergies),
    ] {
        if !list.is_empty() {
            rows.push((label, joined(list, |c| c.text.clone())));
        }
    }
    if let Some(status) = &diagnosis.functional_status {
        rows.push(("Functional status", status.clone()));
    }
    if let Some(p) = &plan.prognosis {
        let text = format!(
            "{}; person aware: {}; carer aware: {}",
            prognosis_concepts(p.expected).0.display,
            yes_no(p.person_aware),
            yes_no(p.carer_aware)
        );
        rows.push(("Prognosis", text));
    }
    for (label, value) in [
        (NOTE_SPECIAL, &plan.special_note),
        (NOTE_ACCESS, &plan.access_information),
        ("What matters most", &plan.what_matters_most),
        (NOTE_RELIGIOUS, &plan.religious_or_cultural_needs),
        (NOTE_ORGAN_DONATION, &plan.organ_donation_wishes),
    ] {
        if let Some(value) = value {
            rows.push((label, value.clone()));
        }
    }
    if !plan.advance_statements.is_empty() {
        let text = joined(&plan.advance_statements, |s| {
            format!("{} ({})", s.text, date(s.date))
        });
        rows.push(("Advance statements", text));
    }
    if plan.lives_alone.is_some() {
        rows.push((NOTE_LIVES_ALONE, yes_no(plan.lives_alone)));
    }
    if let Some(death) = &plan.death {
        let mut text = format!("died {}", date(death.date));
        if let Some(place) = death.place {
            text.push_str(&format!(", place: {}", place_kind_label(place)));
        }
        if let Some(detail) = &death.place_detail {
            text.push_str(&format!(" ({detail})"));
        }
        rows.push(("Death", text));
    }
    let review = plan.review_date.map_or_else(|| "not recorded".into(), date);
    rows.push(("Plan review date", review));
    let updated = format!(
        "{} by {}",
        instant(&record.last_updated),
        record.last_updated_by
    );
    rows.push(("Last updated", updated));
    rows
}

pub(super) fn narrative_of(record: &PlanRecord) -> Box<Narrative> {
    let person = &record.plan.person;
    let mut div = String::from("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
    div.push_str(&format!(
        "<p><b>End of life care plan: {} (born {}, NHS number {})</b></p>",
        escape(&person_name(record)),
        date(person.birth_date),
        escape(person.nhs_number.as_str())
    ));
    div.push_str(&format!("<p><b>{}</b></p>", escape(&cpr_statement(record))));
    if !record.status.is_current() {
        div.push_str("<p>Content as recorded in this plan, not in force:</p>");
    }
    div.push_str("<table><tbody>");
    for (label, value) in narrative_rows(record) {
        div.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(label),
            escape(&value)
        ));
    }
    div.push_str("</tbody></table></div>");
    Box::new(Narrative {
        status: code("generated"),
        div: div.into(),
        ..Default::default()
    })
}

/// The CarePlan's extensions: every plan item no other resource or element holds.
pub(super) fn extensions(record: &PlanRecord, ids: &PlanIds) -> Vec<Extension> {
    let plan = &record.plan;
    let mut all = Vec::new();
    if let Some(review) = plan.review_date {
        all.push(extension(
            codes::extension::REVIEW_DATE,
            ExtensionValue::Date(date(review).into()),
        ));
    }
    if let Some(r) = &plan.respect {
        let priority = i32::try_from(r.priority).unwrap_or(if r.priority < 0 { 0 } else { 100 });
        all.push(extension(
            codes::extension::RESPECT_PRIORITY,
            ExtensionValue::Integer(priority.into()),
        ));
        all.push(extension(
            codes::extension::RESPECT_FOCUS,
            codeable(concept(focus_concept(r.focus_of_care))),
        ));
        let c = &r.clinician;
        let mut clinician = reference(
            "Practitioner",
            &ids.practitioner(&c.name, c.registration_number.as_deref()),
            Some(&c.name),
        );
        let details: Vec<Extension> = [
            ("role", &c.role),
            ("registration-number", &c.registration_number),
            ("organisation", &c.organisation),
        ]
        .into_iter()
        .filter_map(|(url, value)| value.as_deref().map(|v| extension(url, string(v))))
        .collect();
        if !details.is_empty() {
            clinician.extension = vec![complex_extension(
                codes::CLINICIAN_DETAILS_EXTENSION,
                details,
            )];
        }
        let mut parts = vec![extension(
            "completed",
            ExtensionValue::Date(date(r.completed_date).into()),
        )];
        if let Some(location) = &r.form_location {
            parts.push(extension("location", string(location)));
        }
        parts.push(extension(
            "clinician",
            ExtensionValue::Reference(Box::new(clinician)),
        ));
        all.push(complex_extension(RESPECT_FORM_EXTENSION, parts));
    }
    let d = &plan.diagnosis;
    let mut parts = vec![extension("primary", codeable(coded(&d.primary)))];
    for (url, list) in [
        ("other", &d.other),
        ("disability", &d.disabilities),
        ("allergy", &d.allergies),
    ] {
        parts.extend(list.iter().map(|c| extension(url, codeable(coded(c)))));
    }
    if let Some(status) = &d.functional_status {
        parts.push(extension("functional-status", string(status)));
    }
    all.push(complex_extension(DIAGNOSES_EXTENSION, parts));
    if let Some(p) = &plan.prognosis {
        let (own, national) = prognosis_concepts(p.expected);
        let codings = std::iter::once(own).chain(national).map(coding).collect();
        let mut parts = vec![extension(
            "expected",
            codeable(concept_of(codings, Some(own.display))),
        )];
        for (url, value) in [
            ("person-aware", p.person_aware),
            ("carer-aware", p.carer_aware),
        ] {
            parts.extend(value.map(|v| extension(url, boolean(v))));
        }
        all.push(complex_extension(PROGNOSIS_EXTENSION, parts));
    }
    if let Some(death) = &plan.death {
        let mut parts = vec![extension(
            "date",
            ExtensionValue::Date(date(death.date).into()),
        )];
        if let Some(place) = death.place {
            let label = place_kind_label(place);
            let place = coding_of(
                codes::DEATH_LOCATION,
                place.data_dictionary_code(),
                Some(label),
            );
            parts.push(extension(
                "place",
                codeable(concept_of(vec![place], Some(label))),
            ));
        }
        if let Some(detail) = &death.place_detail {
            parts.push(extension("place-detail", string(detail)));
        }
        all.push(complex_extension(DEATH_EXTENSION, parts));
    }
    if let Some(reason) = &record.status_reason {
        all.push(extension(STATUS_REASON_EXTENSION, string(reason)));
    }
    all
}

#[cfg(test)]
#[path = "care_plan_parts_tests.rs"]
mod tests;

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

/// The ids of [`practitioners`], in the same order, without building the resources.
pub(crate) fn practitioner_ids(record: &PlanRecord, ids: &PlanIds) -> Vec<String> {
    collect(record, ids)
        .into_iter()
        .map(|entry| entry.id)
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
#[path = "practitioner_tests.rs"]
mod tests;

//! The CarePlan's contained CareTeam (key worker, professionals, usual GP, practice), its
//! activities (anticipatory medicines, ReSPECT recommendations) and its labelled notes, read
//! back (a child module of the inverse `care_plan`).

use fhirbolt::model::r4::resources::{
    CarePlanActivity, CarePlanActivityDetail, CareTeam as FhirCareTeam, CareTeamParticipant,
};
use fhirbolt::model::r4::types::{Annotation, CodeableConcept, Reference};
use fhirbolt::model::r4::Resource;

use super::CarePlanRead;
use crate::domain::{AnticipatoryMedicines, Professional, TreatmentRecommendation};
use crate::fhir::care_plan::{
    ANTICIPATORY_MEDICINES_EXTENSION, GP_PRACTICE, KEY_WORKER, NOTE_ACCESS, NOTE_LIVES_ALONE,
    NOTE_ORGAN_DONATION, NOTE_RELIGIOUS, NOTE_SPECIAL, PARTICIPANT_PHONE_EXTENSION, USUAL_GP,
};
use crate::fhir::codes;
use crate::fhir::inverse::practitioner::{no_extensions_on, Set};
use crate::fhir::inverse::read::{
    absent, absent_list, at, at_index, coded_text, concept, extensions, no_element_id,
    no_extensions, no_modifiers, only_systems, prim, reference, single, text, ConceptRead, Cx,
};

/// The labelled notes.
#[derive(Debug, Default)]
pub(in crate::fhir::inverse) struct Notes {
    pub special_note: Option<String>,
    pub access_information: Option<String>,
    pub religious_or_cultural_needs: Option<String>,
    pub organ_donation_wishes: Option<String>,
    pub lives_alone: Option<bool>,
}

/// The part a care team member plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    KeyWorker,
    UsualGp,
    Practice,
}

/// Reads the contained CareTeam and `CarePlan.careTeam`.
pub(super) fn care_team(
    cx: &mut Cx<'_>,
    set: &Set<'_>,
    contained: &[Resource],
    care_team: &[Reference],
    out: &mut CarePlanRead,
) {
    let mut team_ids = Vec::new();
    for (index, resource) in contained.iter().enumerate() {
        let path = at_index("CarePlan", "contained", index);
        match resource {
            Resource::CareTeam(team) if team_ids.is_empty() => {
                team_ids.extend(super::logical_id(&team.id).map(str::to_owned));
                read_team(cx, set, &path, team, out);
            }
            _ => cx.not_supported(path),
        }
    }
    for (index, item) in care_team.iter().enumerate() {
        let path = at_index("CarePlan", "careTeam", index);
        let Reference {
            id,
            extension,
            reference: target,
            r#type,
            identifier,
            display,
        } = item;
        no_element_id(cx, &path, id);
        no_extensions(cx, &path, extension);
        absent(cx, at(&path, "type"), r#type);
        absent(cx, at(&path, "identifier"), identifier);
        let _ = text(cx, &at(&path, "display"), display.as_ref());
        let target = text(cx, &at(&path, "reference"), target.as_ref());
        let resolves = target
            .as_deref()
            .and_then(|t| t.strip_prefix('#'))
            .is_some_and(|id| team_ids.iter().any(|t| t == id));
        if !resolves || index > 0 {
            cx.error(
                "not-found",
                path,
                "the care team is the CareTeam contained in this CarePlan (`#id`)",
            );
        }
    }
}

fn read_team(
    cx: &mut Cx<'_>,
    set: &Set<'_>,
    base: &str,
    team: &FhirCareTeam,
    out: &mut CarePlanRead,
) {
    let FhirCareTeam {
        id: _,
        meta,
        implicit_rules,
        language,
        text: narrative,
        contained,
        extension,
        modifier_extension,
        identifier,
        status,
        category,
        name,
        subject,
        encounter,
        period,
        participant,
        reason_code,
        reason_reference,
        managing_organization,
        telecom,
        note,
    } = team;
    let _ = (meta, narrative);
    absent(cx, at(base, "implicitRules"), implicit_rules);
    absent(cx, at(base, "language"), language);
    absent_list(cx, base, "contained", contained);
    no_extensions(cx, base, extension);
    no_modifiers(cx, base, modifier_extension);
    absent_list(cx, base, "identifier", identifier);
    absent_list(cx, base, "category", category);
    absent(cx, at(base, "encounter"), encounter);
    absent(cx, at(base, "period"), period);
    absent_list(cx, base, "reasonCode", reason_code);
    absent_list(cx, base, "reasonReference", reason_reference);
    absent_list(cx, base, "managingOrganization", managing_organization);
    absent_list(cx, base, "telecom", telecom);
    absent_list(cx, base, "note", note);
    // The team's status and name restate the plan's.
    let _ = text(cx, &at(base, "status"), status.as_ref());
    let _ = text(cx, &at(base, "name"), name.as_ref());
    if let Some(subject) = subject {
        let read = reference(cx, &at(base, "subject"), subject);
        set.patient(cx, &read);
    }
    for (index, member) in participant.iter().enumerate() {
        read_participant(cx, set, &at_index(base, "participant", index), member, out);
    }
}

fn read_participant(
    cx: &mut Cx<'_>,
    set: &Set<'_>,
    path: &str,
    member: &CareTeamParticipant,
    out: &mut CarePlanRead,
) {
    let CareTeamParticipant {
        id,
        extension,
        modifier_extension,
        role,
        member: who,
        on_behalf_of,
        period,
    } = member;
    no_element_id(cx, path, id);
    no_modifiers(cx, path, modifier_extension);
    absent(cx, at(path, "period"), period);
    let roles: Vec<ConceptRead<'_>> = role
        .iter()
        .enumerate()
        .map(|(index, r)| concept(cx, &at_index(path, "role", index), r))
        .collect();
    let mut part = None;
    let mut role_text = None;
    for read in &roles {
        if read.codings.is_empty() {
            if role_text.is_some() {
                cx.not_supported(&read.path);
            }
            role_text = role_text.or(read.text.clone());
            continue;
        }
        only_systems(cx, read, &[codes::LOCAL]);
        let found = read.pick(
            cx,
            codes::LOCAL,
            &[
                (KEY_WORKER.code, Part::KeyWorker),
                (USUAL_GP.code, Part::UsualGp),
                (GP_PRACTICE.code, Part::Practice),
            ],
        );
        if part.is_some() && found.is_some() {
            cx.not_supported(&read.path);
        }
        part = part.or(found);
    }
    let exts = extensions(cx, path, extension, &[PARTICIPANT_PHONE_EXTENSION]);
    let phone = single(cx, &exts, PARTICIPANT_PHONE_EXTENSION).and_then(|e| e.phone(cx));
    let member_path = at(path, "member");
    let Some(who) = who else {
        cx.required(
            member_path,
            "who the member is (a Practitioner or Organization of this plan)",
        );
        return;
    };
    let who = reference(cx, &member_path, who);
    no_extensions_on(cx, &who);
    let behalf = on_behalf_of
        .as_ref()
        .map(|o| reference(cx, &at(path, "onBehalfOf"), o));
    if let Some(behalf) = &behalf {
        no_extensions_on(cx, behalf);
    }
    match part {
        Some(Part::Practice) | Some(Part::UsualGp) => {
            for read in roles.iter().filter(|r| r.codings.is_empty()) {
                cx.not_supported(&read.path);
            }
            for ext in &exts {
                cx.not_supported(&ext.path);
            }
            if part == Some(Part::Practice) {
                let _ = set.resolve(cx, &who, &["Organization"]);
                if let Some(behalf) = &behalf {
                    cx.not_supported(&behalf.path);
                }
            } else {
                let name = set.practitioner_name(cx, &who);
                if let Some(behalf) = &behalf {
                    let _ = set.resolve(cx, behalf, &["Organization"]);
                }
                out.gp_name = out.gp_name.take().or(name);
            }
        }
        Some(Part::KeyWorker) | None => {
            let name = set.practitioner_name(cx, &who);
            let organisation = behalf.and_then(|b| {
                if b.target.is_some() {
                    cx.not_supported(at(&b.path, "reference"));
                }
                if b.display.is_none() {
                    cx.required(at(&b.path, "display"), "the organisation's name");
                }
                b.display
            });
            if role_text.is_none() {
                cx.required(at(path, "role"), "the professional's role, as text");
            }
            let (Some(name), Some(role)) = (name, role_text) else {
                return;
            };
            let professional = Professional {
                name,
                role,
                organisation,
                phone: phone.map(|p| p.number),
            };
            if part == Some(Part::KeyWorker) {
                if out.care_team.key_worker.is_some() {
                    cx.error("business-rule", path, "a second key worker");
                }
                out.care_team.key_worker = Some(professional);
            } else {
                out.care_team.professionals.push(professional);
            }
        }
    }
}

/// Reads the activities: the anticipatory medicines (into `out`) and the ReSPECT
/// recommendations (returned, in order).
pub(super) fn activities(
    cx: &mut Cx<'_>,
    activities: &[CarePlanActivity],
    out: &mut CarePlanRead,
) -> Vec<TreatmentRecommendation> {
    let mut recommendations = Vec::new();
    for (index, activity) in activities.iter().enumerate() {
        let path = at_index("CarePlan", "activity", index);
        let CarePlanActivity {
            id,
            extension,
            modifier_extension,
            outcome_codeable_concept,
            outcome_reference,
            progress,
            reference: planned,
            detail,
        } = activity;
        no_element_id(cx, &path, id);
        no_extensions(cx, &path, extension);
        no_modifiers(cx, &path, modifier_extension);
        absent_list(
            cx,
            &path,
            "outcomeCodeableConcept",
            outcome_codeable_concept,
        );
        absent_list(cx, &path, "outcomeReference", outcome_reference);
        absent_list(cx, &path, "progress", progress);
        absent(cx, at(&path, "reference"), planned);
        let Some(detail) = detail else {
            cx.required(at(&path, "detail"), "the activity's detail is missing");
            continue;
        };
        let detail_path = at(&path, "detail");
        match read_detail(cx, &detail_path, detail) {
            Some(Activity::Medicines(medicines)) => {
                if out.anticipatory_medicines.is_some() {
                    cx.error(
                        "business-rule",
                        &path,
                        "a second anticipatory-medicines activity",
                    );
                }
                out.anticipatory_medicines = Some(medicines);
            }
            Some(Activity::Recommendation(recommendation)) => recommendations.push(recommendation),
            None => {}
        }
    }
    recommendations
}

enum Activity {
    Medicines(AnticipatoryMedicines),
    Recommendation(TreatmentRecommendation),
}

fn is_respect(reason_code: &[CodeableConcept]) -> bool {
    reason_code.iter().any(|c| {
        c.coding.iter().any(|coding| {
            coding.system.as_ref().and_then(|s| s.value.as_deref()) == Some(codes::SCT)
                && coding.code.as_ref().and_then(|s| s.value.as_deref())
                    == Some(codes::RESPECT_FORM.code)
        })
    })
}

fn read_detail(cx: &mut Cx<'_>, path: &str, detail: &CarePlanActivityDetail) -> Option<Activity> {
    let CarePlanActivityDetail {
        id,
        extension,
        modifier_extension,
        kind,
        instantiates_canonical,
        instantiates_uri,
        code,
        reason_code,
        reason_reference,
        goal,
        status,
        status_reason,
        do_not_perform,
        scheduled,
        location,
        performer,
        product,
        daily_amount,
        quantity,
        description,
    } = detail;
    no_element_id(cx, path, id);
    no_modifiers(cx, path, modifier_extension);
    absent(cx, at(path, "kind"), kind);
    absent_list(cx, path, "instantiatesCanonical", instantiates_canonical);
    absent_list(cx, path, "instantiatesUri", instantiates_uri);
    absent_list(cx, path, "reasonReference", reason_reference);
    absent_list(cx, path, "goal", goal);
    absent(cx, at(path, "statusReason"), status_reason);
    absent(cx, at(path, "scheduled"), scheduled);
    absent(cx, at(path, "location"), location);
    absent_list(cx, path, "performer", performer);
    absent(cx, at(path, "product"), product);
    absent(cx, at(path, "dailyAmount"), daily_amount);
    absent(cx, at(path, "quantity"), quantity);
    // The status restates the plan's (recommendations) or whether the box is issued.
    let _ = prim(cx, &at(path, "status"), status);
    let reasons: Vec<ConceptRead<'_>> = reason_code
        .iter()
        .enumerate()
        .map(|(index, r)| concept(cx, &at_index(path, "reasonCode", index), r))
        .collect();
    let description = text(cx, &at(path, "description"), description.as_ref());
    let code = code.as_ref().map(|c| concept(cx, &at(path, "code"), c));

    if extension
        .iter()
        .any(|e| e.url == ANTICIPATORY_MEDICINES_EXTENSION)
    {
        for read in &reasons {
            cx.not_supported(&read.path);
        }
        absent(cx, at(path, "doNotPerform"), do_not_perform);
        if let Some(code) = &code {
            only_systems(cx, code, &[codes::SCT]);
            let _ = code.pick(cx, codes::SCT, &[(codes::JUST_IN_CASE_BOX.code, ())]);
        }
        let _restated = description;
        let exts = extensions(cx, path, extension, &[ANTICIPATORY_MEDICINES_EXTENSION]);
        let ext = single(cx, &exts, ANTICIPATORY_MEDICINES_EXTENSION)?;
        let parts = ext.complex(
            cx,
            &[
                "box-issued",
                "issued-date",
                "location",
                "syringe-driver",
                "equipment",
            ],
        );
        let box_issued = single(cx, &parts, "box-issued").and_then(|p| p.boolean(cx));
        if box_issued.is_none() && !parts.iter().any(|p| p.url == "box-issued") {
            cx.required(
                at(&ext.path, "extension"),
                "whether a just-in-case box was issued (`box-issued`)",
            );
        }
        return Some(Activity::Medicines(AnticipatoryMedicines {
            box_issued: box_issued?,
            issued_date: single(cx, &parts, "issued-date").and_then(|p| p.date(cx)),
            location: single(cx, &parts, "location").and_then(|p| p.string(cx)),
            syringe_driver: single(cx, &parts, "syringe-driver").and_then(|p| p.boolean(cx)),
            equipment: single(cx, &parts, "equipment").and_then(|p| p.string(cx)),
        }));
    }
    if is_respect(reason_code) {
        no_extensions(cx, path, extension);
        for read in &reasons {
            only_systems(cx, read, &[codes::SCT]);
            let _ = read.pick(cx, codes::SCT, &[(codes::RESPECT_FORM.code, ())]);
        }
        let dnp_path = at(path, "doNotPerform");
        let recommended = match do_not_perform.as_ref().and_then(|d| prim(cx, &dnp_path, d)) {
            Some(dnp) => Some(!dnp),
            None => {
                cx.required(
                    &dnp_path,
                    "whether the treatment is recommended (false) or not (true)",
                );
                None
            }
        };
        let treatment = match &code {
            Some(code) => coded_text(cx, code),
            None => {
                cx.required(at(path, "code"), "the treatment is missing");
                None
            }
        };
        return Some(Activity::Recommendation(TreatmentRecommendation {
            treatment: treatment?,
            recommended: recommended?,
            note: description,
        }));
    }
    cx.error(
        "not-supported",
        path,
        "an activity is either the anticipatory medicines (with their extension) or a ReSPECT recommendation (reasonCode the ReSPECT form)",
    );
    None
}

/// Reads the notes: each `"{label}: {value}"` with one of the projection's labels.
pub(super) fn notes(cx: &mut Cx<'_>, notes: &[Annotation]) -> Notes {
    let mut out = Notes::default();
    for (index, note) in notes.iter().enumerate() {
        let path = at_index("CarePlan", "note", index);
        let Annotation {
            id,
            extension,
            author,
            time,
            text: words,
        } = note;
        no_element_id(cx, &path, id);
        no_extensions(cx, &path, extension);
        absent(cx, at(&path, "author"), author);
        absent(cx, at(&path, "time"), time);
        let text_path = at(&path, "text");
        let Some(words) = prim(cx, &text_path, words) else {
            continue;
        };
        let labelled = [
            NOTE_SPECIAL,
            NOTE_ACCESS,
            NOTE_RELIGIOUS,
            NOTE_ORGAN_DONATION,
            NOTE_LIVES_ALONE,
        ]
        .into_iter()
        .find_map(|label| {
            words
                .strip_prefix(label)
                .and_then(|rest| rest.strip_prefix(": "))
                .map(|value| (label, value.to_owned()))
        });
        let Some((label, value)) = labelled else {
            cx.error(
                "not-supported",
                &text_path,
                format!(
                    "a note starts with one of the labels `{NOTE_SPECIAL}: `, `{NOTE_ACCESS}: `, `{NOTE_RELIGIOUS}: `, `{NOTE_ORGAN_DONATION}: `, `{NOTE_LIVES_ALONE}: `"
                ),
            );
            continue;
        };
        let slot = match label {
            NOTE_SPECIAL => &mut out.special_note,
            NOTE_ACCESS => &mut out.access_information,
            NOTE_RELIGIOUS => &mut out.religious_or_cultural_needs,
            NOTE_ORGAN_DONATION => &mut out.organ_donation_wishes,
            _ => {
                let known = match value.as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => {
                        cx.error("value", &text_path, "lives alone is `yes` or `no`");
                        None
                    }
                };
                if out.lives_alone.is_some() {
                    cx.error("business-rule", &path, "a second note of this kind");
                }
                out.lives_alone = out.lives_alone.or(known);
                continue;
            }
        };
        if slot.is_some() {
            cx.error("business-rule", &path, "a second note of this kind");
        }
        *slot = Some(value);
    }
    out
}

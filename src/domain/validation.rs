//! Validation of a plan's content: every problem at once, each with the path of the field
//! (`resuscitation_decisions[0].review: before the decision date`), never just the first.
//! "Today" is passed in; nothing here reads the clock.

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::decisions::{AdrtStatus, DecisionStatus, ReviewDue};
use super::plan::{
    Address, Clinician, CodedText, Phone, PlacePreference, PlanContent, PreferredPlace,
};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as a path into the JSON document.
    pub path: String,
    /// What is wrong, in words a sender can act on.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A collector of field errors.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems found.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// Ok when nothing was found.
    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Dates may be up to a day ahead of the service's UTC date: a decision made just after
/// midnight in the UK during summer time is still "yesterday" in UTC.
fn latest_allowed(today: NaiveDate) -> NaiveDate {
    today.checked_add_days(Days::new(1)).unwrap_or(today)
}

struct Checker<'a> {
    problems: &'a mut Problems,
    latest: NaiveDate,
}

impl Checker<'_> {
    fn required_text(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.problems.push(path, "must not be empty");
        }
    }

    fn optional_text(&mut self, path: &str, value: Option<&String>) {
        if let Some(value) = value {
            if value.trim().is_empty() {
                self.problems
                    .push(path, "must not be empty (leave the field out instead)");
            }
        }
    }

    fn not_future(&mut self, path: &str, date: NaiveDate) {
        if date > self.latest {
            self.problems.push(path, "is in the future");
        }
    }

    fn phones(&mut self, path: &str, phones: &[Phone]) {
        for (index, phone) in phones.iter().enumerate() {
            self.phone_number(&format!("{path}[{index}].number"), &phone.number);
        }
    }

    fn phone_number(&mut self, path: &str, number: &str) {
        let digits = number.chars().filter(char::is_ascii_digit).count();
        let allowed = number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-'));
        if !allowed || !(3..=20).contains(&digits) {
            self.problems.push(
                path,
                "a telephone number has 3 to 20 digits and only spaces, +, - and brackets",
            );
        }
    }

    fn clinician(&mut self, path: &str, clinician: &Clinician) {
        self.required_text(&format!("{path}.name"), &clinician.name);
        self.optional_text(&format!("{path}.role"), clinician.role.as_ref());
        self.optional_text(
            &format!("{path}.organisation"),
            clinician.organisation.as_ref(),
        );
        self.optional_text(
            &format!("{path}.registration_number"),
            clinician.registration_number.as_ref(),
        );
    }

    fn coded(&mut self, path: &str, concept: &CodedText) {
        self.required_text(&format!("{path}.text"), &concept.text);
    }

    fn address(&mut self, path: &str, address: &Address) {
        if address.lines.is_empty() {
            self.problems
                .push(format!("{path}.lines"), "needs at least one line");
        }
        for (index, line) in address.lines.iter().enumerate() {
            self.required_text(&format!("{path}.lines[{index}]"), line);
        }
        self.optional_text(&format!("{path}.city"), address.city.as_ref());
        self.optional_text(&format!("{path}.district"), address.district.as_ref());
        self.optional_text(&format!("{path}.postcode"), address.postcode.as_ref());
    }

    fn place(&mut self, path: &str, place: &PreferredPlace) {
        self.optional_text(&format!("{path}.organisation"), place.organisation.as_ref());
        if let Some(address) = &place.address {
            self.address(&format!("{path}.address"), address);
        }
    }

    fn place_preference(&mut self, path: &str, preference: Option<&PlacePreference>) {
        if let Some(PlacePreference::Stated { first, second }) = preference {
            self.place(&format!("{path}.first"), first);
            if let Some(second) = second {
                self.place(&format!("{path}.second"), second);
                if **second == **first {
                    self.problems
                        .push(format!("{path}.second"), "is the same as the first choice");
                }
            }
        }
    }
}

fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Checks a plan's content against the domain rules, adding every problem to `problems`.
pub fn validate_content(content: &PlanContent, today: NaiveDate, problems: &mut Problems) {
    let mut check = Checker {
        problems,
        latest: latest_allowed(today),
    };

    // Consent to share.
    check.not_future("consent_to_share.date", content.consent_to_share.date);
    check.clinician(
        "consent_to_share.recorded_by",
        &content.consent_to_share.recorded_by,
    );

    // Person.
    let person = &content.person;
    check.required_text("person.family_name", &person.family_name);
    if person.given_names.is_empty() {
        check
            .problems
            .push("person.given_names", "needs at least one given name");
    }
    for (index, name) in person.given_names.iter().enumerate() {
        check.required_text(&format!("person.given_names[{index}]"), name);
    }
    check.optional_text("person.preferred_name", person.preferred_name.as_ref());
    check.not_future("person.birth_date", person.birth_date);
    if let Some(address) = &person.address {
        check.address("person.address", address);
    }
    check.phones("person.phones", &person.phones);
    if let Some(language) = &person.preferred_language {
        if !is_language_tag(language) {
            check.problems.push(
                "person.preferred_language",
                "must be a BCP 47 language tag such as `en`, `pl` or `pa-IN`",
            );
        }
    }
    if person.interpreter_needed && person.preferred_language.is_none() {
        check.problems.push(
            "person.preferred_language",
            "is required when an interpreter is needed",
        );
    }

    // Usual GP.
    check.optional_text("usual_gp.gp_name", content.usual_gp.gp_name.as_ref());
    check.required_text("usual_gp.practice_name", &content.usual_gp.practice_name);
    if let Some(phone) = &content.usual_gp.phone {
        check.phone_number("usual_gp.phone", phone);
    }

    // Care team.
    let professionals = content
        .care_team
        .key_worker
        .iter()
        .map(|p| ("care_team.key_worker".to_owned(), p))
        .chain(
            content
                .care_team
                .professionals
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("care_team.professionals[{i}]"), p)),
        );
    for (path, professional) in professionals {
        check.required_text(&format!("{path}.name"), &professional.name);
        check.required_text(&format!("{path}.role"), &professional.role);
        check.optional_text(
            &format!("{path}.organisation"),
            professional.organisation.as_ref(),
        );
        if let Some(phone) = &professional.phone {
            check.phone_number(&format!("{path}.phone"), phone);
        }
    }

    // Contacts: zero or one nominated contact, zero or one main carer.
    for (index, contact) in content.contacts.iter().enumerate() {
        check.required_text(&format!("contacts[{index}].name"), &contact.name);
        check.required_text(
            &format!("contacts[{index}].relationship"),
            &contact.relationship,
        );
        check.phones(&format!("contacts[{index}].phones"), &contact.phones);
    }
    for (flag, what) in [
        ("nominated_contact", "single nominated contact"),
        ("main_carer", "main carer"),
    ] {
        let marked: Vec<usize> = content
            .contacts
            .iter()
            .enumerate()
            .filter(|(_, c)| match flag {
                "nominated_contact" => c.nominated_contact,
                _ => c.main_carer,
            })
            .map(|(i, _)| i)
            .collect();
        for index in marked.iter().skip(1) {
            check.problems.push(
                format!("contacts[{index}].{flag}"),
                format!(
                    "only one person may be the {what} (contacts[{}] already is)",
                    marked[0]
                ),
            );
        }
    }

    // LPAs.
    for (index, lpa) in content.lpas.iter().enumerate() {
        check.required_text(&format!("lpas[{index}].name"), &lpa.name);
        check.phones(&format!("lpas[{index}].phones"), &lpa.phones);
        check.optional_text(
            &format!("lpas[{index}].document_location"),
            lpa.document_location.as_ref(),
        );
    }

    // Diagnoses.
    check.coded("diagnosis.primary", &content.diagnosis.primary);
    check.optional_text(
        "diagnosis.functional_status",
        content.diagnosis.functional_status.as_ref(),
    );
    for (field, list) in [
        ("other", &content.diagnosis.other),
        ("disabilities", &content.diagnosis.disabilities),
        ("allergies", &content.diagnosis.allergies),
    ] {
        for (index, concept) in list.iter().enumerate() {
            check.coded(&format!("diagnosis.{field}[{index}]"), concept);
        }
    }

    // CPR decisions.
    let mut current = Vec::new();
    for (index, decision) in content.resuscitation_decisions.iter().enumerate() {
        let path = format!("resuscitation_decisions[{index}]");
        check.not_future(&format!("{path}.decision_date"), decision.decision_date);
        if let ReviewDue::On(review) = decision.review {
            if review < decision.decision_date {
                check
                    .problems
                    .push(format!("{path}.review"), "is before the decision date");
            }
        }
        check.clinician(&format!("{path}.decided_by"), &decision.decided_by);
        check.optional_text(
            &format!("{path}.form_location"),
            decision.form_location.as_ref(),
        );
        check.optional_text(&format!("{path}.reason"), decision.reason.as_ref());
        match (decision.status, &decision.ended) {
            (DecisionStatus::Current, Some(_)) => check.problems.push(
                format!("{path}.ended"),
                "a current decision has not ended: remove `ended` or change `status`",
            ),
            (DecisionStatus::Current, None) => current.push(index),
            (_, None) => check.problems.push(
                format!("{path}.ended"),
                "is required when a decision is no longer current (who ended it and why)",
            ),
            (_, Some(ending)) => {
                check.required_text(&format!("{path}.ended.by"), &ending.by);
                check.required_text(&format!("{path}.ended.reason"), &ending.reason);
            }
        }
    }
    for index in current.iter().skip(1) {
        check.problems.push(
            format!("resuscitation_decisions[{index}].status"),
            format!(
                "only one CPR decision may be current (resuscitation_decisions[{}] is too)",
                current[0]
            ),
        );
    }

    // ReSPECT.
    if let Some(respect) = &content.respect {
        if !(0..=100).contains(&respect.priority) {
            check
                .problems
                .push("respect.priority", "must be between 0 and 100");
        }
        check.not_future("respect.completed_date", respect.completed_date);
        check.clinician("respect.clinician", &respect.clinician);
        check.optional_text("respect.form_location", respect.form_location.as_ref());
        for (index, recommendation) in respect.recommendations.iter().enumerate() {
            check.coded(
                &format!("respect.recommendations[{index}].treatment"),
                &recommendation.treatment,
            );
            check.optional_text(
                &format!("respect.recommendations[{index}].note"),
                recommendation.note.as_ref(),
            );
        }
    }

    // ADRTs.
    for (index, adrt) in content.adrts.iter().enumerate() {
        let path = format!("adrts[{index}]");
        if adrt.refused_treatments.is_empty() {
            check.problems.push(
                format!("{path}.refused_treatments"),
                "an ADRT refuses at least one treatment",
            );
        }
        for (t, treatment) in adrt.refused_treatments.iter().enumerate() {
            check.coded(&format!("{path}.refused_treatments[{t}]"), treatment);
        }
        if adrt.refuses_life_sustaining_treatment && !adrt.witnessed_and_signed {
            check.problems.push(
                format!("{path}.witnessed_and_signed"),
                "an ADRT refusing life-sustaining treatment is valid only when signed and witnessed",
            );
        }
        check.not_future(&format!("{path}.date"), adrt.date);
        check.optional_text(
            &format!("{path}.circumstances"),
            adrt.circumstances.as_ref(),
        );
        check.optional_text(
            &format!("{path}.document_location"),
            adrt.document_location.as_ref(),
        );
        match (adrt.status, &adrt.ended) {
            (AdrtStatus::Active, Some(_)) => check.problems.push(
                format!("{path}.ended"),
                "an active ADRT has not ended: remove `ended` or change `status`",
            ),
            (AdrtStatus::Active, None) => {}
            (_, None) => check.problems.push(
                format!("{path}.ended"),
                "is required when an ADRT is withdrawn (who recorded it and why)",
            ),
            (_, Some(ending)) => {
                check.required_text(&format!("{path}.ended.by"), &ending.by);
                check.required_text(&format!("{path}.ended.reason"), &ending.reason);
            }
        }
    }

    // Advance statements.
    for (index, statement) in content.advance_statements.iter().enumerate() {
        check.required_text(
            &format!("advance_statements[{index}].text"),
            &statement.text,
        );
        check.not_future(&format!("advance_statements[{index}].date"), statement.date);
    }
    check.optional_text("what_matters_most", content.what_matters_most.as_ref());

    // Preferred places.
    check.place_preference(
        "preferred_place_of_care",
        content.preferred_place_of_care.as_ref(),
    );
    check.place_preference(
        "preferred_place_of_death",
        content.preferred_place_of_death.as_ref(),
    );

    // Anticipatory medicines.
    if let Some(medicines) = &content.anticipatory_medicines {
        if let Some(issued) = medicines.issued_date {
            check.not_future("anticipatory_medicines.issued_date", issued);
            if !medicines.box_issued {
                check.problems.push(
                    "anticipatory_medicines.issued_date",
                    "is set but `box_issued` is false",
                );
            }
        }
        check.optional_text(
            "anticipatory_medicines.location",
            medicines.location.as_ref(),
        );
        check.optional_text(
            "anticipatory_medicines.equipment",
            medicines.equipment.as_ref(),
        );
    }

    // Other free text.
    for (path, value) in [
        ("special_note", &content.special_note),
        ("access_information", &content.access_information),
        (
            "religious_or_cultural_needs",
            &content.religious_or_cultural_needs,
        ),
        ("organ_donation_wishes", &content.organ_donation_wishes),
    ] {
        check.optional_text(path, value.as_ref());
    }

    // Death.
    if let Some(death) = &content.death {
        check.not_future("death.date", death.date);
        check.optional_text("death.place_detail", death.place_detail.as_ref());
        if death.date < person.birth_date {
            check
                .problems
                .push("death.date", "is before the date of birth");
        }
    }
}

//! Consent back into the consent to share, the CPR decisions and the ADRTs. A Consent is told by
//! its scope (`patient-privacy`, `treatment`, `adr`), never by its id. The elements every kind
//! shares are read here (patient, status, policy, dateTime, performer, source, provision); the
//! CPR decision and the ADRT are read in [`decisions`].
//!
//! `Consent.status` restates the decision's own status and the plan's: it is checked against
//! them (a Consent presented as active that is not the one current decision is refused, H1).

use chrono::NaiveDate;
use fhirbolt::model::r4::resources::{Consent, ConsentPolicy, ConsentProvision, ConsentSource};
use fhirbolt::model::r4::types::Attachment;

use super::practitioner::Set;
use super::read::{
    absent, absent_list, at, at_index, concept, extensions, logical_id, no_element_id,
    no_extensions, no_modifiers, no_resource_extras, only_systems, prim, reference, server_managed,
    text, ConceptRead, Cx, ExtRead,
};
use super::FhirIssue;
use crate::domain::{
    Adrt, Clinician, ConsentToShare, ConsentToShareStatus, PlanStatus, ResuscitationDecision,
};
use crate::fhir::codes;

#[path = "consent_decisions.rs"]
mod decisions;

/// What the Consents say.
#[derive(Debug, Default)]
pub(super) struct Consents {
    pub share: Option<ConsentToShare>,
    pub decisions: Vec<ResuscitationDecision>,
    pub adrts: Vec<Adrt>,
}

/// The kinds of Consent, by scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Share,
    Cpr,
    Adrt,
}

/// The elements every kind reads, already checked for what no kind carries.
pub(super) struct Common<'a> {
    pub status: Option<String>,
    pub categories: Vec<ConceptRead<'a>>,
    pub date: Option<NaiveDate>,
    pub performer: Option<Clinician>,
    pub source_title: Option<String>,
    pub provision: Option<&'a ConsentProvision>,
    pub extensions: Vec<ExtRead<'a>>,
}

/// A Consent's status as the projection would write it, to compare with the one sent.
pub(super) struct StatusCheck {
    pub id: Option<String>,
    pub sent: Option<String>,
    pub expected: &'static str,
}

/// Reads every Consent. `plan_status` is the CarePlan's, for the status checks.
pub(super) fn read_all(
    issues: &mut Vec<FhirIssue>,
    set: &Set<'_>,
    resources: &[Consent],
    plan_status: Option<PlanStatus>,
) -> Consents {
    let mut consents = Consents::default();
    let mut checks: Vec<StatusCheck> = Vec::new();
    let mut cpr_checks: Vec<(StatusCheck, bool)> = Vec::new();
    for resource in resources {
        let mut cx = Cx::new(issues, "Consent", logical_id(&resource.id));
        let Some((kind, common)) = read_common(&mut cx, set, resource) else {
            continue;
        };
        let id = logical_id(&resource.id);
        match kind {
            Kind::Share => {
                let status = common.status.clone();
                if let Some(share) = read_share(&mut cx, common) {
                    if consents.share.is_some() {
                        cx.error(
                            "business-rule",
                            "Consent",
                            "a plan has one consent to share; this is a second one",
                        );
                    }
                    consents.share = Some(share);
                }
                if let Some(plan) = plan_status {
                    checks.push(StatusCheck {
                        id: id.map(str::to_owned),
                        sent: status,
                        expected: match plan {
                            PlanStatus::Active | PlanStatus::Completed => "active",
                            PlanStatus::Revoked => "inactive",
                            PlanStatus::EnteredInError => "entered-in-error",
                        },
                    });
                }
            }
            Kind::Cpr => {
                let status = common.status.clone();
                if let Some(decision) = decisions::read_cpr(&mut cx, id, common) {
                    if let Some(plan) = plan_status {
                        let (expected, current) = decisions::cpr_expected_status(&decision, plan);
                        cpr_checks.push((
                            StatusCheck {
                                id: id.map(str::to_owned),
                                sent: status,
                                expected,
                            },
                            current,
                        ));
                    }
                    consents.decisions.push(decision);
                }
            }
            Kind::Adrt => {
                let status = common.status.clone();
                if let Some(adrt) = decisions::read_adrt(&mut cx, id, common) {
                    if let Some(plan) = plan_status {
                        checks.push(StatusCheck {
                            id: id.map(str::to_owned),
                            sent: status,
                            expected: decisions::adrt_expected_status(&adrt, plan),
                        });
                    }
                    consents.adrts.push(adrt);
                }
            }
        }
    }
    // More than one decision marked current is left to the plan's lifecycle rules: a new one
    // supersedes the stored one it replaces, and two new ones are refused there (H1).
    for (check, _current) in cpr_checks {
        checks.push(check);
    }
    for check in checks {
        if let Some(sent) = &check.sent {
            if sent != check.expected {
                Cx::new(issues, "Consent", check.id.as_deref()).error(
                    "invariant",
                    "Consent.status",
                    format!(
                        "`{sent}` contradicts the decision's own status and the plan's status, \
                         which give `{}`",
                        check.expected
                    ),
                );
            }
        }
    }
    consents
}

fn read_common<'a>(
    cx: &mut Cx<'_>,
    set: &Set<'_>,
    resource: &'a Consent,
) -> Option<(Kind, Common<'a>)> {
    let Consent {
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
        scope,
        category,
        patient,
        date_time,
        performer,
        organization,
        source,
        policy,
        policy_rule,
        verification,
        provision,
    } = resource;
    let root = "Consent";
    server_managed(meta, narrative);
    no_resource_extras(cx, implicit_rules, language);
    absent_list(cx, root, "contained", contained);
    no_modifiers(cx, root, modifier_extension);
    absent_list(cx, root, "identifier", identifier);
    absent_list(cx, root, "organization", organization);
    absent(cx, at(root, "policyRule"), policy_rule);
    absent_list(cx, root, "verification", verification);

    let scope = concept(cx, &at(root, "scope"), scope);
    only_systems(cx, &scope, &[codes::CONSENT_SCOPE]);
    let kind = scope.pick(
        cx,
        codes::CONSENT_SCOPE,
        &[
            (codes::scope::PATIENT_PRIVACY, Kind::Share),
            (codes::scope::TREATMENT, Kind::Cpr),
            (codes::scope::ADR, Kind::Adrt),
        ],
    );
    let Some(kind) = kind else {
        if scope.of_system(codes::CONSENT_SCOPE).is_empty() {
            cx.required(
                at(root, "scope"),
                "the scope (patient-privacy, treatment or adr) says what this Consent is",
            );
        }
        return None;
    };

    match patient {
        Some(patient) => {
            let read = reference(cx, &at(root, "patient"), patient);
            set.patient(cx, &read);
        }
        None => cx.required(
            at(root, "patient"),
            "the Consent must name the plan's Patient",
        ),
    }
    let expected_policy = match kind {
        Kind::Share => codes::policy::DATA_PROTECTION_ACT,
        Kind::Cpr | Kind::Adrt => codes::policy::MENTAL_CAPACITY_ACT,
    };
    read_policy(cx, policy, expected_policy);

    let categories = category
        .iter()
        .enumerate()
        .map(|(index, c)| concept(cx, &at_index(root, "category", index), c))
        .collect();
    let date_path = at(root, "dateTime");
    let date = match date_time {
        Some(value) => super::read::date(cx, &date_path, value),
        None => {
            cx.required(&date_path, "the date of the decision or consent is missing");
            None
        }
    };
    let mut clinician = None;
    for (index, item) in performer.iter().enumerate() {
        let read = reference(cx, &at_index(root, "performer", index), item);
        if index > 0 || kind == Kind::Adrt {
            cx.not_supported(&read.path);
            continue;
        }
        clinician = set.clinician(cx, &read);
    }
    if performer.is_empty() && kind != Kind::Adrt {
        cx.required(
            at(root, "performer"),
            "who made the decision or recorded the consent (a Practitioner of this plan) is missing",
        );
    }
    let source_title = match source {
        None => None,
        Some(ConsentSource::Attachment(attachment)) if kind != Kind::Share => {
            source_attachment(cx, attachment)
        }
        Some(_) => {
            cx.not_supported(at(root, "source"));
            None
        }
    };
    let known: &[&str] = match kind {
        Kind::Share => &[],
        Kind::Cpr => &[
            codes::DECISION_STATUS_EXTENSION,
            codes::extension::REVIEW_DATE,
            codes::extension::REVIEW_INDEFINITE,
            codes::extension::DECISION_AWARENESS,
            codes::extension::DECISION_CAPACITY,
            codes::DECISION_REASON_EXTENSION,
            codes::extension::DECISION_ENDED,
        ],
        Kind::Adrt => &[
            codes::DECISION_STATUS_EXTENSION,
            codes::ADRT_REFUSES_LST_EXTENSION,
            codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION,
            codes::ADRT_CIRCUMSTANCES_EXTENSION,
            codes::extension::DECISION_ENDED,
        ],
    };
    let status_path = at(root, "status");
    let status = prim(cx, &status_path, status).cloned();
    if let Some(code) = &status {
        if !["active", "inactive", "entered-in-error"].contains(&code.as_str()) {
            cx.error(
                "code-invalid",
                &status_path,
                format!("a recorded decision or consent is active, inactive or entered-in-error, not `{code}`"),
            );
        }
    }
    let common = Common {
        status,
        categories,
        date,
        performer: clinician,
        source_title,
        provision: provision.as_ref(),
        extensions: extensions(cx, root, extension, known),
    };
    if provision.is_none() {
        cx.required(
            at(root, "provision"),
            "the provision (permit or deny) is missing",
        );
    }
    Some((kind, common))
}

fn read_policy(cx: &mut Cx<'_>, policies: &[ConsentPolicy], expected: &str) {
    for (index, item) in policies.iter().enumerate() {
        let path = at_index("Consent", "policy", index);
        let ConsentPolicy {
            id,
            extension,
            modifier_extension,
            authority,
            uri,
        } = item;
        no_element_id(cx, &path, id);
        no_extensions(cx, &path, extension);
        no_modifiers(cx, &path, modifier_extension);
        absent(cx, at(&path, "authority"), authority);
        let uri_path = at(&path, "uri");
        match text(cx, &uri_path, uri.as_ref()) {
            Some(uri) if uri == expected && index == 0 => {}
            _ => cx.error(
                "not-supported",
                uri_path,
                format!("the legal basis of this kind of Consent is {expected}; another policy would be lost"),
            ),
        }
    }
}

fn source_attachment(cx: &mut Cx<'_>, attachment: &Attachment) -> Option<String> {
    let path = "Consent.source";
    let Attachment {
        id,
        extension,
        content_type,
        language,
        data,
        url,
        size,
        hash,
        title,
        creation,
    } = attachment;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    for (name, present) in [
        ("contentType", content_type.is_some()),
        ("language", language.is_some()),
        ("data", data.is_some()),
        ("url", url.is_some()),
        ("size", size.is_some()),
        ("hash", hash.is_some()),
        ("creation", creation.is_some()),
    ] {
        if present {
            cx.not_supported(at(path, name));
        }
    }
    let title_path = at(path, "title");
    let title = text(cx, &title_path, title.as_ref());
    if title.is_none() {
        cx.required(
            title_path,
            "where the original document is kept, in `title`",
        );
    }
    title
}

/// The parts of a provision, after refusing what the projection never writes there.
pub(super) struct ProvisionRead<'a> {
    pub r#type: Option<String>,
    pub code: &'a [fhirbolt::model::r4::types::CodeableConcept],
    pub nested: &'a [ConsentProvision],
}

/// Reads a provision at `path`.
pub(super) fn provision<'a>(
    cx: &mut Cx<'_>,
    path: &str,
    value: &'a ConsentProvision,
) -> ProvisionRead<'a> {
    let ConsentProvision {
        id,
        extension,
        modifier_extension,
        r#type,
        period,
        actor,
        action,
        security_label,
        purpose,
        class,
        code,
        data_period,
        data,
        provision: nested,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    no_modifiers(cx, path, modifier_extension);
    absent(cx, at(path, "period"), period);
    absent_list(cx, path, "actor", actor);
    absent_list(cx, path, "action", action);
    absent_list(cx, path, "securityLabel", security_label);
    absent_list(cx, path, "purpose", purpose);
    absent_list(cx, path, "class", class);
    absent(cx, at(path, "dataPeriod"), data_period);
    absent_list(cx, path, "data", data);
    let type_path = at(path, "type");
    let kind = text(cx, &type_path, r#type.as_ref());
    if let Some(kind) = &kind {
        if kind != "permit" && kind != "deny" {
            cx.error(
                "code-invalid",
                &type_path,
                format!("`{kind}` is not permit or deny"),
            );
        }
    }
    ProvisionRead {
        r#type: kind,
        code,
        nested,
    }
}

fn read_share(cx: &mut Cx<'_>, common: Common<'_>) -> Option<ConsentToShare> {
    let mut status = None;
    for category in &common.categories {
        only_systems(cx, category, &[codes::LOINC, codes::SCT]);
        let _ = category.pick(cx, codes::LOINC, &[(codes::loinc::PATIENT_CONSENT, ())]);
        let found = category.pick(
            cx,
            codes::SCT,
            &[
                (codes::SHARE_GIVEN.code, ConsentToShareStatus::Given),
                (codes::SHARE_WITHDRAWN.code, ConsentToShareStatus::Withdrawn),
                (
                    codes::SHARE_BEST_INTERESTS.code,
                    ConsentToShareStatus::GivenInBestInterests,
                ),
                (codes::SHARE_BY_LPA.code, ConsentToShareStatus::GivenByLpa),
            ],
        );
        if let (Some(first), Some(found)) = (status, found) {
            if first != found {
                cx.error(
                    "invariant",
                    &category.path,
                    "a second, different consent-to-share status",
                );
            }
        }
        status = status.or(found);
    }
    if status.is_none() {
        cx.required(
            "Consent.category",
            "the consent-to-share status (a SNOMED CT code: given, withdrawn, best interests, by LPA) is missing",
        );
    }
    if let Some(value) = common.provision {
        let read = provision(cx, "Consent.provision", value);
        absent_list(cx, "Consent.provision", "code", read.code);
        absent_list(cx, "Consent.provision", "provision", read.nested);
        let expected = match status {
            Some(ConsentToShareStatus::Withdrawn) => Some("deny"),
            Some(_) => Some("permit"),
            None => None,
        };
        match (read.r#type.as_deref(), expected) {
            (Some(sent), Some(expected)) if sent != expected => cx.error(
                "invariant",
                "Consent.provision.type",
                format!(
                    "`{sent}` contradicts the consent-to-share status, which means `{expected}`"
                ),
            ),
            (None, _) => cx.required("Consent.provision.type", "permit or deny is missing"),
            _ => {}
        }
    }
    Some(ConsentToShare {
        status: status?,
        date: common.date?,
        recorded_by: common.performer?,
    })
}

//! CarePlan back into the plan's own items: status and its reason, created, who last updated it,
//! and the plan-level extensions (review date, ReSPECT priority, focus and form, diagnoses,
//! prognosis, death). The contained CareTeam, the activities and the notes are read in
//! [`parts`]. References to Consents, Goals and LPA RelatedPersons must resolve inside the set;
//! `subject` must be the set's Patient (H3). `title`, `description`, `period` and the
//! displays restate what is read elsewhere.

use chrono::{DateTime, NaiveDate, Utc};
use fhirbolt::model::r4::resources::CarePlan;

use super::practitioner::{no_extensions_on, Set};
use super::read::{
    absent, absent_list, at, at_index, coded_text, concept, extensions, logical_id, no_modifiers,
    no_resource_extras, only_systems, parse_instant, prim, reference, server_managed, single, text,
    ConceptRead, Cx, ExtRead,
};
use super::FhirIssue;
use crate::domain::{
    AnticipatoryMedicines, CareTeam, Death, Diagnoses, FocusOfCare, PlaceKind, PlanStatus,
    Prognosis, PrognosisPeriod, Respect, TreatmentRecommendation,
};
use crate::fhir::care_plan::{
    focus_concept, prognosis_concepts, DEATH_EXTENSION, DIAGNOSES_EXTENSION, PROGNOSIS_EXTENSION,
    RESPECT_FORM_EXTENSION, STATUS_REASON_EXTENSION,
};
use crate::fhir::codes::{self, extension as ext};

#[path = "care_plan_parts.rs"]
mod parts;

/// What the CarePlan says.
#[derive(Debug, Default)]
pub(super) struct CarePlanRead {
    pub status: Option<PlanStatus>,
    pub status_reason: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub last_updated_by: Option<String>,
    pub review_date: Option<NaiveDate>,
    pub diagnosis: Option<Diagnoses>,
    pub prognosis: Option<Prognosis>,
    pub respect: Option<Respect>,
    pub anticipatory_medicines: Option<AnticipatoryMedicines>,
    pub notes: parts::Notes,
    pub death: Option<Death>,
    pub care_team: CareTeam,
    /// The usual GP's name as the CareTeam gives it.
    pub gp_name: Option<String>,
}

/// The place kinds by their death-location code.
const PLACE_KINDS: [PlaceKind; 6] = [
    PlaceKind::Home,
    PlaceKind::OtherPrivateResidence,
    PlaceKind::Hospice,
    PlaceKind::Hospital,
    PlaceKind::CareHome,
    PlaceKind::Other,
];

/// The kind of place of a concept's death-location coding (`None` when it has none).
pub(super) fn place_kind(cx: &mut Cx<'_>, read: &ConceptRead<'_>) -> Option<PlaceKind> {
    let table: Vec<(&str, PlaceKind)> = PLACE_KINDS
        .iter()
        .map(|k| (k.data_dictionary_code(), *k))
        .collect();
    read.pick(cx, codes::DEATH_LOCATION, &table)
}

fn plan_status(code: &str) -> Option<PlanStatus> {
    PlanStatus::parse(code)
}

/// Reads the CarePlan.
pub(super) fn read(
    issues: &mut Vec<FhirIssue>,
    set: &Set<'_>,
    resource: &CarePlan,
) -> CarePlanRead {
    let CarePlan {
        id,
        meta,
        implicit_rules,
        language,
        text: narrative,
        contained,
        extension,
        modifier_extension,
        identifier,
        instantiates_canonical,
        instantiates_uri,
        based_on,
        replaces,
        part_of,
        status,
        intent,
        category,
        title,
        description,
        subject,
        encounter,
        period,
        created,
        author,
        contributor,
        care_team,
        addresses,
        supporting_info,
        goal,
        activity,
        note,
    } = resource;
    let mut cx = Cx::new(issues, "CarePlan", logical_id(id));
    let cx = &mut cx;
    let root = "CarePlan";
    server_managed(meta, narrative);
    no_resource_extras(cx, implicit_rules, language);
    no_modifiers(cx, root, modifier_extension);
    absent_list(cx, root, "identifier", identifier);
    absent_list(cx, root, "instantiatesCanonical", instantiates_canonical);
    absent_list(cx, root, "instantiatesUri", instantiates_uri);
    absent_list(cx, root, "basedOn", based_on);
    absent_list(cx, root, "replaces", replaces);
    absent_list(cx, root, "partOf", part_of);
    absent(cx, at(root, "encounter"), encounter);
    absent_list(cx, root, "contributor", contributor);
    absent_list(cx, root, "addresses", addresses);
    // Restated from the plan's other items: read for their shape only.
    let _title = text(cx, &at(root, "title"), title.as_ref());
    let _description = text(cx, &at(root, "description"), description.as_ref());
    if let Some(period) = period {
        let fhirbolt::model::r4::types::Period {
            id,
            extension,
            start,
            end,
        } = period.as_ref();
        let path = at(root, "period");
        super::read::no_element_id(cx, &path, id);
        super::read::no_extensions(cx, &path, extension);
        let _ = text(cx, &at(&path, "start"), start.as_ref());
        let _ = text(cx, &at(&path, "end"), end.as_ref());
    }

    let mut read_out = CarePlanRead::default();
    let status_path = at(root, "status");
    if let Some(code) = prim(cx, &status_path, status) {
        read_out.status = plan_status(code);
        if read_out.status.is_none() {
            cx.error(
                "code-invalid",
                &status_path,
                format!("a plan is active, completed, revoked or entered-in-error, not `{code}`"),
            );
        }
    }
    let intent_path = at(root, "intent");
    if let Some(code) = prim(cx, &intent_path, intent) {
        if code != "plan" {
            cx.error(
                "code-invalid",
                &intent_path,
                "the intent of an end of life care plan is `plan`",
            );
        }
    }
    let mut end_of_life = false;
    for (index, item) in category.iter().enumerate() {
        let read = concept(cx, &at_index(root, "category", index), item);
        only_systems(cx, &read, &[codes::SCT]);
        let kind = read.pick(
            cx,
            codes::SCT,
            &[
                (codes::END_OF_LIFE_CARE_PLAN.code, true),
                (codes::ADVANCE_CARE_PLAN.code, false),
            ],
        );
        end_of_life |= kind == Some(true);
    }
    if !end_of_life {
        cx.required(
            at(root, "category"),
            format!(
                "an end of life care plan (SCT {}) is expected",
                codes::END_OF_LIFE_CARE_PLAN.code
            ),
        );
    }
    let subject = reference(cx, &at(root, "subject"), subject);
    set.patient(cx, &subject);
    let created_path = at(root, "created");
    read_out.created = text(cx, &created_path, created.as_ref())
        .and_then(|t| parse_instant(cx, &created_path, &t));
    if let Some(author) = author {
        let read = reference(cx, &at(root, "author"), author);
        no_extensions_on(cx, &read);
        if read.target.is_some() {
            cx.not_supported(at(&read.path, "reference"));
        }
        read_out.last_updated_by = read.display;
    }

    for (index, item) in supporting_info.iter().enumerate() {
        let read = reference(cx, &at_index(root, "supportingInfo", index), item);
        no_extensions_on(cx, &read);
        let _ = set.resolve(cx, &read, &["Consent", "RelatedPerson"]);
    }
    for (index, item) in goal.iter().enumerate() {
        let read = reference(cx, &at_index(root, "goal", index), item);
        no_extensions_on(cx, &read);
        let _ = set.resolve(cx, &read, &["Goal"]);
    }
    parts::care_team(cx, set, contained, care_team, &mut read_out);
    let recommendations = parts::activities(cx, activity, &mut read_out);
    read_out.notes = parts::notes(cx, note);

    let exts = extensions(
        cx,
        root,
        extension,
        &[
            ext::REVIEW_DATE,
            ext::RESPECT_PRIORITY,
            ext::RESPECT_FOCUS,
            RESPECT_FORM_EXTENSION,
            DIAGNOSES_EXTENSION,
            PROGNOSIS_EXTENSION,
            DEATH_EXTENSION,
            STATUS_REASON_EXTENSION,
        ],
    );
    read_out.review_date = single(cx, &exts, ext::REVIEW_DATE).and_then(|e| e.date(cx));
    read_out.status_reason = single(cx, &exts, STATUS_REASON_EXTENSION).and_then(|e| e.string(cx));
    read_out.diagnosis = diagnoses(cx, &exts);
    read_out.prognosis = single(cx, &exts, PROGNOSIS_EXTENSION).and_then(|e| prognosis(cx, e));
    read_out.death = single(cx, &exts, DEATH_EXTENSION).and_then(|e| death(cx, e));
    read_out.respect = respect(cx, set, &exts, recommendations);
    read_out
}

fn diagnoses(cx: &mut Cx<'_>, exts: &[ExtRead<'_>]) -> Option<Diagnoses> {
    let Some(ext) = single(cx, exts, DIAGNOSES_EXTENSION) else {
        cx.required(
            "CarePlan.extension",
            format!("the diagnoses ({DIAGNOSES_EXTENSION}), with the primary end-of-life diagnosis, are missing"),
        );
        return None;
    };
    let parts = ext.complex(
        cx,
        &[
            "primary",
            "other",
            "disability",
            "allergy",
            "functional-status",
        ],
    );
    let coded =
        |cx: &mut Cx<'_>, part: &ExtRead<'_>| part.concept(cx).and_then(|c| coded_text(cx, &c));
    let primary = single(cx, &parts, "primary").and_then(|p| coded(cx, p));
    if !parts.iter().any(|p| p.url == "primary") {
        cx.required(
            at(&ext.path, "extension"),
            "the primary end-of-life diagnosis is missing",
        );
    }
    let list = |cx: &mut Cx<'_>, name: &str| {
        super::read::all(&parts, name)
            .filter_map(|p| coded(cx, p))
            .collect::<Vec<_>>()
    };
    let other = list(cx, "other");
    let disabilities = list(cx, "disability");
    let allergies = list(cx, "allergy");
    let functional_status = single(cx, &parts, "functional-status").and_then(|p| p.string(cx));
    Some(Diagnoses {
        primary: primary?,
        other,
        disabilities,
        functional_status,
        allergies,
    })
}

fn prognosis(cx: &mut Cx<'_>, ext: &ExtRead<'_>) -> Option<Prognosis> {
    let parts = ext.complex(cx, &["expected", "person-aware", "carer-aware"]);
    let periods = [
        PrognosisPeriod::LastDays,
        PrognosisPeriod::LastWeeks,
        PrognosisPeriod::LastMonths,
        PrognosisPeriod::Unknown,
    ];
    let expected = single(cx, &parts, "expected")
        .and_then(|p| p.concept(cx))
        .and_then(|read| {
            only_systems(cx, &read, &[codes::LOCAL, codes::SCT]);
            let own: Vec<(&str, PrognosisPeriod)> = periods
                .iter()
                .map(|p| (prognosis_concepts(*p).0.code, *p))
                .collect();
            let national: Vec<(&str, PrognosisPeriod)> = periods
                .iter()
                .filter_map(|p| prognosis_concepts(*p).1.map(|c| (c.code, *p)))
                .collect();
            let a = read.pick(cx, codes::LOCAL, &own);
            let b = read.pick(cx, codes::SCT, &national);
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    cx.error("invariant", &read.path, "the prognosis codes disagree");
                }
            }
            let found = a.or(b);
            if found.is_none() && read.codings.is_empty() {
                cx.required(
                    &read.path,
                    "the prognosis is coded (last days, weeks, months or unknown)",
                );
            }
            found
        });
    if !parts.iter().any(|p| p.url == "expected") {
        cx.required(
            at(&ext.path, "extension"),
            "the expected prognosis is missing",
        );
    }
    let person_aware = single(cx, &parts, "person-aware").and_then(|p| p.boolean(cx));
    let carer_aware = single(cx, &parts, "carer-aware").and_then(|p| p.boolean(cx));
    Some(Prognosis {
        expected: expected?,
        person_aware,
        carer_aware,
    })
}

fn death(cx: &mut Cx<'_>, ext: &ExtRead<'_>) -> Option<Death> {
    let parts = ext.complex(cx, &["date", "place", "place-detail"]);
    let date = single(cx, &parts, "date").and_then(|p| p.date(cx));
    if !parts.iter().any(|p| p.url == "date") {
        cx.required(at(&ext.path, "extension"), "the date of death is missing");
    }
    let place = single(cx, &parts, "place")
        .and_then(|p| p.concept(cx))
        .and_then(|read| {
            only_systems(cx, &read, &[codes::DEATH_LOCATION]);
            let kind = place_kind(cx, &read);
            if kind.is_none() && read.codings.is_empty() {
                cx.required(
                    &read.path,
                    format!("the place of death is coded ({})", codes::DEATH_LOCATION),
                );
            }
            kind
        });
    let place_detail = single(cx, &parts, "place-detail").and_then(|p| p.string(cx));
    Some(Death {
        date: date?,
        place,
        place_detail,
    })
}

fn respect(
    cx: &mut Cx<'_>,
    set: &Set<'_>,
    exts: &[ExtRead<'_>],
    recommendations: Vec<TreatmentRecommendation>,
) -> Option<Respect> {
    let priority_ext = single(cx, exts, ext::RESPECT_PRIORITY);
    let focus_ext = single(cx, exts, ext::RESPECT_FOCUS);
    let form_ext = single(cx, exts, RESPECT_FORM_EXTENSION);
    if priority_ext.is_none() && focus_ext.is_none() && form_ext.is_none() {
        if !recommendations.is_empty() {
            cx.required(
                "CarePlan.extension",
                "ReSPECT recommendations without the ReSPECT form (priority, focus of care, form)",
            );
        }
        return None;
    }
    let priority = priority_ext.and_then(|e| {
        let value = e.integer(cx)?;
        if !(0..=100).contains(&value) {
            cx.error(
                "value",
                at(&e.path, "value"),
                "the ReSPECT priority is 0 to 100",
            );
            return None;
        }
        Some(i64::from(value))
    });
    let foci = [
        FocusOfCare::LifeSustaining,
        FocusOfCare::Selective,
        FocusOfCare::Comfort,
    ];
    let focus = focus_ext.and_then(|e| e.concept(cx)).and_then(|read| {
        only_systems(cx, &read, &[codes::LOCAL]);
        let table: Vec<(&str, FocusOfCare)> =
            foci.iter().map(|f| (focus_concept(*f).code, *f)).collect();
        let found = read.pick(cx, codes::LOCAL, &table);
        if found.is_none() && read.codings.is_empty() {
            cx.required(&read.path, "the focus of care is coded");
        }
        found
    });
    let mut completed = None;
    let mut form_location = None;
    let mut clinician = None;
    if let Some(form) = form_ext {
        let parts = form.complex(cx, &["completed", "location", "clinician"]);
        completed = single(cx, &parts, "completed").and_then(|p| p.date(cx));
        form_location = single(cx, &parts, "location").and_then(|p| p.string(cx));
        clinician = single(cx, &parts, "clinician")
            .and_then(|p| p.reference(cx))
            .and_then(|r| set.clinician(cx, &r));
        for (name, found) in [
            ("completed", completed.is_some()),
            ("clinician", clinician.is_some()),
        ] {
            if !found && !parts.iter().any(|p| p.url == name) {
                cx.required(
                    at(&form.path, "extension"),
                    format!("the ReSPECT form's `{name}` is missing"),
                );
            }
        }
    }
    for (url, present) in [
        (ext::RESPECT_PRIORITY, priority_ext.is_some()),
        (ext::RESPECT_FOCUS, focus_ext.is_some()),
        (RESPECT_FORM_EXTENSION, form_ext.is_some()),
    ] {
        if !present {
            cx.required("CarePlan.extension", format!("a ReSPECT form needs {url}"));
        }
    }
    Some(Respect {
        priority: priority?,
        focus_of_care: focus?,
        recommendations,
        form_location,
        completed_date: completed?,
        clinician: clinician?,
    })
}

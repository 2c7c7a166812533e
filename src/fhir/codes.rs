//! Code systems, codes and canonical URLs of the projection, as constants in one place
//! (domain.md §3). Nothing else in `fhir/` spells a system URI or a code.

/// SNOMED CT.
pub const SCT: &str = "http://snomed.info/sct";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// HL7 consent scopes.
pub const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
/// HL7 consent category codes.
pub const CONSENT_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/consentcategorycodes";
/// HL7 v3 RoleCode.
pub const V3_ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
/// HL7 goal priority.
pub const GOAL_PRIORITY: &str = "http://terminology.hl7.org/CodeSystem/goal-priority";
/// HL7 v3 ActCode (consent-to-share category).
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// ODS organisation codes.
pub const ODS_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// BCP 47 language tags.
pub const BCP47: &str = "urn:ietf:bcp:47";
/// NHS Data Dictionary place of death (the project's CodeSystem of those codes).
pub const DEATH_LOCATION: &str = "https://acp-fhir.example.org/fhir/CodeSystem/death-location";
/// The project's own codes where no national code exists.
pub const LOCAL: &str = "https://acp-fhir.example.org/fhir/CodeSystem/acp-local";

/// The base of every canonical URL the project owns.
pub const CANONICAL_BASE: &str = "https://acp-fhir.example.org/fhir";

/// `meta.profile` of each projected resource.
pub mod profile {
    /// End-of-life CarePlan.
    pub const CARE_PLAN: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-end-of-life-careplan";
    /// CPR-decision Consent.
    pub const CPR_CONSENT: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-cpr-decision-consent";
    /// ADRT Consent.
    pub const ADRT_CONSENT: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-adrt-consent";
    /// Consent to share.
    pub const SHARE_CONSENT: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-consent-to-share";
    /// Preference Goal.
    pub const GOAL: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-preference-goal";
    /// Patient.
    pub const PATIENT: &str = "https://acp-fhir.example.org/fhir/StructureDefinition/acp-patient";
    /// RelatedPerson (contacts and LPAs).
    pub const RELATED_PERSON: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-relatedperson";
    /// Practitioner.
    pub const PRACTITIONER: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-practitioner";
    /// Organization.
    pub const ORGANIZATION: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-organization";
    /// Summary Composition.
    pub const SUMMARY_COMPOSITION: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-summary-composition";
    /// Summary Bundle.
    pub const SUMMARY_BUNDLE: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-summary-bundle";
    /// The audit record of a request.
    pub const AUDIT_EVENT: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-audit-event";
    /// The Provenance of a plan change.
    pub const PROVENANCE: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/acp-provenance";
}

/// Extension URLs.
pub mod extension {
    /// ReSPECT priority (0 sustain life … 100 comfort), valueInteger.
    pub const RESPECT_PRIORITY: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/respect-priority";
    /// ReSPECT focus of care, valueCodeableConcept.
    pub const RESPECT_FOCUS: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/respect-focus-of-care";
    /// Review date of a decision, valueDate; absent with `review-indefinite` true.
    pub const REVIEW_DATE: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/decision-review-date";
    /// The decision stands until changed, valueBoolean.
    pub const REVIEW_INDEFINITE: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/decision-review-indefinite";
    /// Who is aware of a CPR decision (complex: person-aware, family-informed).
    pub const DECISION_AWARENESS: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/decision-awareness";
    /// Capacity and involvement in a decision (complex: had-capacity, person-involved).
    pub const DECISION_CAPACITY: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/decision-capacity";
    /// Why, by whom and when a decision ended (complex: by, reason, at).
    pub const DECISION_ENDED: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/decision-ended";
    /// LPA authority over life-sustaining treatment, valueBoolean.
    pub const LPA_LIFE_SUSTAINING: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/lpa-life-sustaining-authority";
    /// Where a document is kept (LPA, ADRT), valueString.
    pub const DOCUMENT_LOCATION: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/document-location";
    /// Interpreter required (as UK Core), valueBoolean.
    pub const INTERPRETER_REQUIRED: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/interpreter-required";
    /// Contact roles (main carer, nominated contact, involve in decisions), valueCode.
    pub const CONTACT_ROLE: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/contact-role";
    /// Awareness of prognosis, valueBoolean.
    pub const AWARE_OF_PROGNOSIS: &str =
        "https://acp-fhir.example.org/fhir/StructureDefinition/aware-of-prognosis";
}

/// A SNOMED CT concept the projection uses, with its display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concept {
    /// The system URI.
    pub system: &'static str,
    /// The code.
    pub code: &'static str,
    /// Its display.
    pub display: &'static str,
}

const fn sct(code: &'static str, display: &'static str) -> Concept {
    Concept {
        system: SCT,
        code,
        display,
    }
}

/// End of life care plan (CarePlan.category).
pub const END_OF_LIFE_CARE_PLAN: Concept = sct("736373009", "End of life care plan");
/// Advance care plan.
pub const ADVANCE_CARE_PLAN: Concept = sct("736366004", "Advance care plan");
/// End of life care coordination summary (Composition.type).
pub const EOL_COORDINATION_SUMMARY: Concept =
    sct("861421000000109", "End of life care coordination summary");
/// ReSPECT form.
pub const RESPECT_FORM: Concept = sct(
    "1382601000000107",
    "Recommended summary plan for emergency care and treatment form",
);
/// For attempted CPR.
pub const FOR_CPR: Concept = sct("450475007", "For cardiopulmonary resuscitation");
/// Not for attempted CPR.
pub const NOT_FOR_CPR: Concept = sct("450476008", "Not for cardiopulmonary resuscitation");
/// Older synonyms accepted on input.
pub const FOR_RESUSCITATION_OLD: &str = "304252001";
/// Older synonym of [`NOT_FOR_CPR`].
pub const NOT_FOR_RESUSCITATION_OLD: &str = "304253006";
/// Cardiopulmonary resuscitation (the procedure).
pub const CPR_PROCEDURE: Concept = sct("89666000", "Cardiopulmonary resuscitation");
/// Has ADRT.
pub const HAS_ADRT: Concept = sct(
    "816301000000100",
    "Has advance decision to refuse treatment (Mental Capacity Act 2005)",
);
/// ADRT refusing life-sustaining treatment.
pub const ADRT_REFUSES_LST: Concept = sct(
    "816321000000109",
    "Has advance decision to refuse life-sustaining treatment (Mental Capacity Act 2005)",
);
/// Has advance statement.
pub const HAS_ADVANCE_STATEMENT: Concept = sct(
    "816281000000101",
    "Has advance statement (Mental Capacity Act 2005)",
);
/// LPA without life-sustaining authority.
pub const LPA_WITHOUT_LST: Concept = sct(
    "816361000000101",
    "Has lasting power of attorney for personal welfare without authority for life sustaining treatment decisions",
);
/// LPA with life-sustaining authority.
pub const LPA_WITH_LST: Concept = sct(
    "816381000000105",
    "Has lasting power of attorney for personal welfare with authority for life sustaining treatment decisions",
);
/// Consent given for sharing end of life care coordination record.
pub const SHARE_GIVEN: Concept = sct(
    "882921000000109",
    "Consent given for sharing end of life care coordination record",
);
/// Consent withdrawn.
pub const SHARE_WITHDRAWN: Concept = sct(
    "882941000000102",
    "Consent withdrawn for sharing end of life care coordination record",
);
/// Shared in best interests.
pub const SHARE_BEST_INTERESTS: Concept = sct(
    "882961000000101",
    "End of life care coordination record shared in best interests (Mental Capacity Act 2005)",
);
/// Consent given by an LPA.
pub const SHARE_BY_LPA: Concept = sct(
    "883001000000106",
    "Consent given for sharing end of life care coordination record by personal welfare lasting power of attorney",
);
/// Preferred place of death (observable).
pub const PREFERRED_PLACE_OF_DEATH: Concept = sct("395091006", "Preferred place of death");
/// Prognosis: last days of life.
pub const LAST_DAYS: Concept = sct("511401000000102", "Last days of life");
/// Prognosis: last weeks of life.
pub const LAST_WEEKS: Concept = sct("955231000000109", "Last weeks of life");
/// Anticipatory medicines box issued.
pub const JUST_IN_CASE_BOX: Concept = sct(
    "376201000000102",
    "Issue of palliative care anticipatory medication box",
);
/// Place: home.
pub const PLACE_HOME: Concept = sct("264362003", "Home");
/// Place: hospice.
pub const PLACE_HOSPICE: Concept = sct("284546000", "Hospice");
/// Place: hospital.
pub const PLACE_HOSPITAL: Concept = sct("22232009", "Hospital");
/// PPD undecided.
pub const PLACE_UNDECIDED: Concept = sct("517161000000101", "Preferred place of death undecided");
/// PPD declined to discuss.
pub const PLACE_DECLINED: Concept = sct(
    "766391000000108",
    "Declined to discuss preferred place of death",
);
/// PPD discussion not appropriate.
pub const PLACE_NOT_APPROPRIATE: Concept = sct(
    "517131000000106",
    "Discussion about preferred place of death not appropriate",
);
/// PPD unable to express.
pub const PLACE_UNABLE: Concept = sct(
    "517111000000103",
    "Unable to express preferred place of death",
);

/// Consent scopes.
pub mod scope {
    /// CPR decision.
    pub const TREATMENT: &str = "treatment";
    /// ADRT.
    pub const ADR: &str = "adr";
    /// Consent to share.
    pub const PATIENT_PRIVACY: &str = "patient-privacy";
}

/// Consent category codes (consentcategorycodes).
pub mod category {
    /// Do not resuscitate.
    pub const DNR: &str = "dnr";
    /// Advance care directive.
    pub const ACD: &str = "acd";
}

/// LOINC codes.
pub mod loinc {
    /// Patient consent.
    pub const PATIENT_CONSENT: &str = "59284-0";
    /// Advance directives section.
    pub const ADVANCE_DIRECTIVES: &str = "42348-3";
}

/// Legal bases cited in `Consent.policy` (R4 ppc-1 needs a policy or policyRule).
pub mod policy {
    /// Mental Capacity Act 2005 (CPR decisions, ADRTs).
    pub const MENTAL_CAPACITY_ACT: &str = "https://www.legislation.gov.uk/ukpga/2005/9/contents";
    /// Data Protection Act 2018 (consent to share).
    pub const DATA_PROTECTION_ACT: &str = "https://www.legislation.gov.uk/ukpga/2018/12/contents";
}

// Consent (CPR decision, ADRT, consent to share): extensions that carry the rest of a recorded
// decision, so the inverse mapping can rebuild it exactly.
/// The clinical reason for a CPR decision, valueString.
pub const DECISION_REASON_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/decision-reason";
/// A recorded decision's own lifecycle status, valueCode (CPR: current, superseded, revoked,
/// entered-in-error; ADRT: active, withdrawn, entered-in-error), independent of the plan's.
pub const DECISION_STATUS_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/decision-status";
/// On a performer Reference: the clinician's role, registration number and organisation as
/// recorded (complex: role, registration-number, organisation, each valueString).
pub const CLINICIAN_DETAILS_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/clinician-details";
/// ADRT: whether it refuses life-sustaining treatment, valueBoolean.
pub const ADRT_REFUSES_LST_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/adrt-refuses-life-sustaining-treatment";
/// ADRT: whether the document is witnessed and signed, valueBoolean.
pub const ADRT_WITNESSED_AND_SIGNED_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/adrt-witnessed-and-signed";
/// ADRT: the circumstances in which the refusals apply, valueString.
pub const ADRT_CIRCUMSTANCES_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/adrt-circumstances";
/// Professional registration numbers as written (GMC, NMC, HCPC…), the project's identifier
/// system (Practitioner.identifier).
pub const PROFESSIONAL_REGISTRATION: &str =
    "https://acp-fhir.example.org/fhir/Id/professional-registration";
/// HL7 organization type (Organization.type `prov`).
pub const ORGANIZATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";
/// On a Practitioner, repeated: one part the person plays in this plan (complex: context
/// valueCode, role, organisation, phone valueString, decision valueReference, position
/// valueInteger).
pub const PRACTITIONER_INVOLVEMENT_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/practitioner-involvement";

/// Preferred place of care (local: no national code; Goal.category).
pub const PREFERRED_PLACE_OF_CARE: Concept = Concept {
    system: LOCAL,
    code: "preferred-place-of-care",
    display: "Preferred place of care",
};
/// What matters most to the person (local; Goal.category).
pub const WHAT_MATTERS_MOST: Concept = Concept {
    system: LOCAL,
    code: "what-matters-most",
    display: "What matters most to the person",
};

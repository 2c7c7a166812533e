//! The internal end-of-life care plan: every data item of domain.md §2 as Rust types. This is
//! the source of truth; the FHIR projection and the store are views of it. Field names are the
//! JSON names of the internal API; unknown fields are refused everywhere.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decisions::{Adrt, ResuscitationDecision};
use super::ids::{NhsNumber, OdsCode, SnomedCode};

/// The clinical content of one person's plan (what an author sends; the store adds identity,
/// version and dates, see [`super::PlanRecord`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanContent {
    /// Consent to share this record (mandatory).
    pub consent_to_share: ConsentToShare,
    /// Planned review date of the whole plan (normally within 3 months).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_date: Option<NaiveDate>,
    /// The person the plan is about.
    pub person: Person,
    /// The person's registered GP and practice.
    pub usual_gp: UsualGp,
    /// Key worker and other professionals involved.
    #[serde(default)]
    pub care_team: CareTeam,
    /// Carers, the single nominated contact, people to involve in decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Lasting powers of attorney for health and welfare.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lpas: Vec<LastingPowerOfAttorney>,
    /// Diagnoses, disabilities, functional status and allergies.
    pub diagnosis: Diagnoses,
    /// Prognosis and who is aware of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prognosis: Option<Prognosis>,
    /// Every CPR decision ever recorded in this plan; at most one is `current`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resuscitation_decisions: Vec<ResuscitationDecision>,
    /// The ReSPECT form's recommendations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respect: Option<Respect>,
    /// Advance decisions to refuse treatment, including withdrawn ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adrts: Vec<Adrt>,
    /// Advance statements of wishes and preferences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advance_statements: Vec<AdvanceStatement>,
    /// What matters most to the person (also the ReSPECT form's section on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_matters_most: Option<String>,
    /// Preferred place of care.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_place_of_care: Option<PlacePreference>,
    /// Preferred place of death.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_place_of_death: Option<PlacePreference>,
    /// Just-in-case medicines and equipment at home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anticipatory_medicines: Option<AnticipatoryMedicines>,
    /// Special note for out-of-hours staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_note: Option<String>,
    /// How to get in (key safe code location, door entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_information: Option<String>,
    /// Religious or cultural needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub religious_or_cultural_needs: Option<String>,
    /// Organ and tissue donation wishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organ_donation_wishes: Option<String>,
    /// Whether the person lives alone (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lives_alone: Option<bool>,
    /// Date and place of death; recording it completes the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub death: Option<Death>,
}

/// Consent to share the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentToShare {
    /// The consent status.
    pub status: ConsentToShareStatus,
    /// When it was given or withdrawn.
    pub date: NaiveDate,
    /// Who recorded it.
    pub recorded_by: Clinician,
}

/// The four consent-to-share states of EPaCCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentToShareStatus {
    /// The person consented.
    Given,
    /// The person withdrew consent: the record must not be shared.
    Withdrawn,
    /// Shared in the person's best interests under the Mental Capacity Act.
    GivenInBestInterests,
    /// Consent given by a personal-welfare LPA.
    GivenByLpa,
}

/// A clinician or professional who made or recorded something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Clinician {
    /// Full name.
    pub name: String,
    /// Role, e.g. "GP", "Consultant in palliative medicine".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Professional registration number (GMC, NMC, HCPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    /// Organisation the clinician acted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

/// The person the plan is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// NHS number, the primary identifier.
    pub nhs_number: NhsNumber,
    /// Family name.
    pub family_name: String,
    /// Given names, in order (at least one).
    pub given_names: Vec<String>,
    /// The name the person likes to be called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_name: Option<String>,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Administrative gender.
    pub gender: Gender,
    /// Usual address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Telephone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// Whether an interpreter is needed.
    #[serde(default)]
    pub interpreter_needed: bool,
    /// Preferred language as a BCP 47 tag (e.g. `en`, `pl`, `pa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
}

/// Administrative gender (the FHIR value set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Other.
    Other,
    /// Unknown.
    Unknown,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street lines.
    pub lines: Vec<String>,
    /// Town or city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// County or district.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// Postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
}

/// A telephone number and what kind it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    /// The number as dialled.
    pub number: String,
    /// Home, work, mobile or temporary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PhoneKind>,
}

/// Kind of telephone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PhoneKind {
    /// Home.
    Home,
    /// Work.
    Work,
    /// Mobile.
    Mobile,
    /// Temporary.
    Temp,
}

/// The usual GP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsualGp {
    /// The named GP, where the practice names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gp_name: Option<String>,
    /// The practice.
    pub practice_name: String,
    /// The practice's ODS code.
    pub practice_ods_code: OdsCode,
    /// The practice's telephone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The care team.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CareTeam {
    /// The key worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_worker: Option<Professional>,
    /// Other professionals involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub professionals: Vec<Professional>,
}

/// A professional involved in the person's care.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Professional {
    /// Name.
    pub name: String,
    /// Role, e.g. "District nurse".
    pub role: String,
    /// Organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// Telephone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A carer, relative or friend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Relationship to the person, e.g. "daughter".
    pub relationship: String,
    /// Telephone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// This person is the main carer (at most one).
    #[serde(default)]
    pub main_carer: bool,
    /// This person is the single nominated contact for advice (at most one).
    #[serde(default)]
    pub nominated_contact: bool,
    /// Involve this person in decisions.
    #[serde(default)]
    pub involve_in_decisions: bool,
    /// Whether this person is aware of the prognosis (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aware_of_prognosis: Option<bool>,
}

/// A lasting power of attorney for health and welfare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LastingPowerOfAttorney {
    /// The attorney's name.
    pub name: String,
    /// Telephone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// Whether the attorney may give or refuse consent to life-sustaining treatment.
    pub life_sustaining_authority: bool,
    /// Where the registered LPA document is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_location: Option<String>,
}

/// A coded or free-text clinical concept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodedText {
    /// Human-readable text (always present).
    pub text: String,
    /// SNOMED CT concept id, when coded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snomed: Option<SnomedCode>,
}

/// Diagnoses and related findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diagnoses {
    /// The primary end-of-life diagnosis (mandatory).
    pub primary: CodedText,
    /// Other diagnoses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<CodedText>,
    /// Disabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabilities: Vec<CodedText>,
    /// Functional status, e.g. "bed-bound" or a performance score in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functional_status: Option<String>,
    /// Allergies and adverse reactions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allergies: Vec<CodedText>,
}

/// Prognosis and awareness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prognosis {
    /// Expected time left.
    pub expected: PrognosisPeriod,
    /// Whether the person is aware (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_aware: Option<bool>,
    /// Whether the carer is aware (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carer_aware: Option<bool>,
}

/// Prognosis bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PrognosisPeriod {
    /// Last days of life.
    LastDays,
    /// Last weeks of life.
    LastWeeks,
    /// Last months of life.
    LastMonths,
    /// Unknown.
    Unknown,
}

/// The ReSPECT form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Respect {
    /// 0 = prioritise sustaining life … 100 = prioritise comfort.
    #[schemars(range(min = 0, max = 100))]
    pub priority: i64,
    /// Focus of care.
    pub focus_of_care: FocusOfCare,
    /// Specific treatment recommendations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommendations: Vec<TreatmentRecommendation>,
    /// Where the original form is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_location: Option<String>,
    /// When the form was completed.
    pub completed_date: NaiveDate,
    /// The clinician who completed it.
    pub clinician: Clinician,
}

/// ReSPECT focus of care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FocusOfCare {
    /// Life-sustaining treatment.
    LifeSustaining,
    /// Selective treatment.
    Selective,
    /// Comfort care.
    Comfort,
}

/// One ReSPECT recommendation about a treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TreatmentRecommendation {
    /// The treatment, e.g. hospital admission (SCT 32485007).
    pub treatment: CodedText,
    /// Whether it is recommended (false: recommended against).
    pub recommended: bool,
    /// Detail, e.g. "only if symptoms cannot be controlled at home".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An advance statement of wishes and preferences (not legally binding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceStatement {
    /// The statement in the person's words.
    pub text: String,
    /// When it was made.
    pub date: NaiveDate,
}

/// A preferred place of care or of death. The variants without places are written with
/// braces so that a stray `first` under `"status": "undecided"` is refused, not dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PlacePreference {
    /// The person stated a first and possibly a second choice.
    Stated {
        /// First choice.
        first: Box<PreferredPlace>,
        /// Second choice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        second: Option<Box<PreferredPlace>>,
    },
    /// The person has not decided.
    Undecided {},
    /// The person declined to discuss it.
    DeclinedToDiscuss {},
    /// Discussion was not appropriate.
    NotAppropriate {},
    /// The person is unable to express a preference.
    UnableToExpress {},
}

/// A place the person would like to be cared for or to die.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferredPlace {
    /// The kind of place (NHS Data Dictionary death-location categories).
    pub kind: PlaceKind,
    /// The organisation (hospice, care home, hospital) by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// The address, where it is not the usual residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Whether this place is the person's usual residence.
    #[serde(default)]
    pub is_usual_residence: bool,
}

/// Place kinds, after the NHS Data Dictionary death-location codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PlaceKind {
    /// Own home (21).
    Home,
    /// Another private residence, e.g. a relative's home (22).
    OtherPrivateResidence,
    /// Hospice (30).
    Hospice,
    /// Hospital (10).
    Hospital,
    /// Care home (40).
    CareHome,
    /// Elsewhere (50).
    Other,
}

impl PlaceKind {
    /// The NHS Data Dictionary death-location code.
    pub fn data_dictionary_code(self) -> &'static str {
        match self {
            Self::Hospital => "10",
            Self::Home => "21",
            Self::OtherPrivateResidence => "22",
            Self::Hospice => "30",
            Self::CareHome => "40",
            Self::Other => "50",
        }
    }
}

/// Anticipatory ("just in case") medicines and equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnticipatoryMedicines {
    /// Whether a just-in-case box has been issued.
    pub box_issued: bool,
    /// When it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_date: Option<NaiveDate>,
    /// Where the medicines are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Whether a syringe driver is in place (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syringe_driver: Option<bool>,
    /// Oxygen or other equipment at home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment: Option<String>,
}

/// The person's death.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Death {
    /// Date of death.
    pub date: NaiveDate,
    /// Actual place of death.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<PlaceKind>,
    /// Detail of the place (e.g. the hospice's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_detail: Option<String>,
}

// The three kinds of Consent: a CPR decision, an ADRT, consent to share the record.

RuleSet: AcpConsent(scope, policy)
* insert AcpProfile
* contained 0..0
* insert ClosedExtensions
* identifier 0..0
* scope = $consentscope#{scope}
* patient 1..1
* patient only Reference(AcpPatient)
* insert PlainReference(patient)
* dateTime 1..1
* organization 0..0
* sourceReference 0..0
* sourceAttachment.contentType 0..0
* sourceAttachment.language 0..0
* sourceAttachment.data 0..0
* sourceAttachment.url 0..0
* sourceAttachment.size 0..0
* sourceAttachment.hash 0..0
* sourceAttachment.creation 0..0
* sourceAttachment.title 1..1
* policy 1..1
* policy.authority 0..0
* policy.uri 1..1
* policy.uri = "{policy}"
* policyRule 0..0
* verification 0..0
* provision 1..1
* provision.type 1..1
* provision.period 0..0
* provision.actor 0..0
* provision.action 0..0
* provision.securityLabel 0..0
* provision.purpose 0..0
* provision.class 0..0
* provision.dataPeriod 0..0
* provision.data 0..0

Profile: AcpCprDecisionConsent
Parent: Consent
Id: acp-cpr-decision-consent
Title: "CPR decision"
Description: "A decision for or not for attempted cardiopulmonary resuscitation (DNACPR). The coded decision sits in Consent.category (searchable in R4) and matches provision.type: not for CPR = deny (with consentcategorycodes dnr), for CPR = permit. Status active, inactive when revoked or superseded, entered-in-error; the decision's own lifecycle is in decision-status."
* insert AcpConsent(treatment, https://www.legislation.gov.uk/ukpga/2005/9/contents)
* extension contains
    DecisionStatusExtension named decisionStatus 1..1 and
    DecisionReasonExtension named reason 0..1 and
    DecisionReviewDateExtension named reviewDate 0..1 and
    DecisionReviewIndefiniteExtension named reviewIndefinite 0..1 and
    DecisionAwarenessExtension named awareness 0..1 and
    DecisionCapacityExtension named capacity 0..1 and
    DecisionEndedExtension named ended 0..1
* extension[decisionStatus].url 1..1
* extension[reason].url 1..1
* extension[reviewDate].url 1..1
* extension[reviewIndefinite].url 1..1
* extension[awareness].url 1..1
* extension[capacity].url 1..1
* extension[ended].url 1..1
* category 1..2
* category from CprConsentCategory (required)
* performer 1..1
* performer only Reference(AcpPractitioner)
* insert PlainReference(performer)
* performer.extension contains ClinicianDetailsExtension named clinicianDetails 0..1
* performer.extension[clinicianDetails].url 1..1
* sourceAttachment 0..1
* provision.code 1..1
* provision.code = $sct#89666000
* provision.provision 0..0
* obeys acp-cpr-1 and acp-cpr-2 and acp-cpr-3 and acp-cpr-4

Invariant: acp-cpr-1
Description: "Exactly one CPR decision code (for / not for attempted CPR, or an older synonym) in category."
Severity: #error
Expression: "category.coding.where(system = 'http://snomed.info/sct' and (code = '450475007' or code = '450476008' or code = '304252001' or code = '304253006')).count() = 1"

Invariant: acp-cpr-2
Description: "Not for attempted CPR is a deny provision with category dnr; for attempted CPR is a permit provision without dnr."
Severity: #error
Expression: "iif(category.coding.where(system = 'http://snomed.info/sct' and (code = '450476008' or code = '304253006')).exists(), provision.type = 'deny' and category.coding.where(system = 'http://terminology.hl7.org/CodeSystem/consentcategorycodes' and code = 'dnr').exists(), provision.type = 'permit' and category.coding.where(code = 'dnr').empty())"

Invariant: acp-cpr-3
Description: "A review date and 'review indefinite' exclude each other."
Severity: #error
Expression: "extension.where(url = 'https://acp-fhir.example.org/fhir/StructureDefinition/decision-review-date').empty() or extension.where(url = 'https://acp-fhir.example.org/fhir/StructureDefinition/decision-review-indefinite').empty()"

Invariant: acp-cpr-4
Description: "The provision is about cardiopulmonary resuscitation (SNOMED CT 89666000)."
Severity: #error
Expression: "provision.code.coding.where(system = 'http://snomed.info/sct' and code = '89666000').exists()"

Profile: AcpAdrtConsent
Parent: Consent
Id: acp-adrt-consent
Title: "Advance decision to refuse treatment"
Description: "An advance decision to refuse treatment (Mental Capacity Act 2005): a deny provision with one nested deny provision per refused treatment (coded or text)."
* insert AcpConsent(adr, https://www.legislation.gov.uk/ukpga/2005/9/contents)
* extension contains
    DecisionStatusExtension named decisionStatus 1..1 and
    AdrtRefusesLifeSustainingTreatmentExtension named refusesLifeSustainingTreatment 1..1 and
    AdrtWitnessedAndSignedExtension named witnessedAndSigned 1..1 and
    AdrtCircumstancesExtension named circumstances 0..1 and
    DecisionEndedExtension named ended 0..1
* extension[decisionStatus].url 1..1
* extension[refusesLifeSustainingTreatment].url 1..1
* extension[witnessedAndSigned].url 1..1
* extension[circumstances].url 1..1
* extension[ended].url 1..1
* insert PatternSlicing(category, closed)
* category 2..3
* category from AdrtConsentCategory (required)
* category contains acd 1..1 and hasAdrt 1..1 and refusesLifeSustaining 0..1
* category[acd] = $consentcategory#acd
* category[hasAdrt] = $sct#816301000000100
* category[refusesLifeSustaining] = $sct#816321000000109
* performer 0..0
* sourceAttachment 0..1
* provision.type = #deny
* provision.code 0..0
* provision.provision 1..*
* provision.provision.type 1..1
* provision.provision.type = #deny
* provision.provision.code 1..1
* provision.provision.provision 0..0
* obeys acp-adrt-1 and acp-adrt-2

Invariant: acp-adrt-1
Description: "Every refused treatment is a deny provision with a code (coded or text)."
Severity: #error
Expression: "provision.provision.exists() and provision.provision.all(type = 'deny' and code.exists())"

Invariant: acp-adrt-2
Description: "An ADRT refusing life-sustaining treatment carries the SNOMED CT category 816321000000109, and only then."
Severity: #error
Expression: "extension.where(url = 'https://acp-fhir.example.org/fhir/StructureDefinition/adrt-refuses-life-sustaining-treatment').value = category.coding.where(system = 'http://snomed.info/sct' and code = '816321000000109').exists()"

Profile: AcpConsentToShare
Parent: Consent
Id: acp-consent-to-share
Title: "Consent to share"
Description: "Consent to share the end of life care coordination record: given, withdrawn, given in best interests (Mental Capacity Act) or given by a personal welfare LPA; who recorded it and when."
* insert AcpConsent(patient-privacy, https://www.legislation.gov.uk/ukpga/2018/12/contents)
* extension 0..0
* insert PatternSlicing(category, closed)
* category 2..2
* category from ConsentToShareCategory (required)
* category contains patientConsent 1..1 and given 0..1 and withdrawn 0..1 and bestInterests 0..1 and givenByLpa 0..1
* category[patientConsent] = $loinc#59284-0
* category[given] = $sct#882921000000109
* category[withdrawn] = $sct#882941000000102
* category[bestInterests] = $sct#882961000000101
* category[givenByLpa] = $sct#883001000000106
* performer 0..1
* performer only Reference(AcpPractitioner)
* insert PlainReference(performer)
* performer.extension contains ClinicianDetailsExtension named clinicianDetails 0..1
* performer.extension[clinicianDetails].url 1..1
* sourceAttachment 0..0
* provision.code 0..0
* provision.provision 0..0
* obeys acp-share-1

Invariant: acp-share-1
Description: "Exactly one consent-to-share status code; withdrawn is a deny provision, the others permit."
Severity: #error
Expression: "category.coding.where(system = 'http://snomed.info/sct' and (code = '882921000000109' or code = '882941000000102' or code = '882961000000101' or code = '883001000000106')).count() = 1 and iif(category.coding.where(system = 'http://snomed.info/sct' and code = '882941000000102').exists(), provision.type = 'deny', provision.type = 'permit')"

// The emergency summary ($summary): a document Bundle whose Composition has the sections of
// domain.md §5, in that order, each with entries or an empty reason.

RuleSet: Section(name, code)
* section[{name}].code = $summary-section#{code}

Profile: AcpSummaryComposition
Parent: Composition
Id: acp-summary-composition
Title: "End of life care coordination summary"
Description: "The Composition of the emergency summary: eleven sections in reading order (identity, CPR decision, ReSPECT, ADRT, LPA, contacts, preferred places, anticipatory medicines, diagnosis and prognosis, notes, provenance); an empty section says why (no decision recorded is never left out)."
* insert AcpProfile
* contained 0..0
* extension 0..0
* identifier 0..0
* status = #final
* type = $sct#861421000000109
* category 0..0
* subject 1..1
* subject only Reference(AcpPatient)
* insert PlainReference(subject)
* encounter 0..0
* author 1..1
* author.display 1..1
* confidentiality 0..0
* attester 0..0
* custodian 0..0
* relatesTo 0..0
* event 0..0
* section 11..11
* section ^slicing.discriminator.type = #pattern
* section ^slicing.discriminator.path = "code"
* section ^slicing.rules = #closed
* section ^slicing.ordered = true
* section contains
    identity 1..1 and
    cprDecision 1..1 and
    respect 1..1 and
    adrt 1..1 and
    lpa 1..1 and
    contacts 1..1 and
    preferredPlaces 1..1 and
    anticipatoryMedicines 1..1 and
    diagnosisPrognosis 1..1 and
    notes 1..1 and
    provenance 1..1
* insert Section(identity, identity)
* insert Section(cprDecision, cpr-decision)
* insert Section(respect, respect)
* insert Section(adrt, adrt)
* insert Section(lpa, lpa)
* insert Section(contacts, contacts)
* insert Section(preferredPlaces, preferred-places)
* insert Section(anticipatoryMedicines, anticipatory-medicines)
* insert Section(diagnosisPrognosis, diagnosis-prognosis)
* insert Section(notes, notes)
* insert Section(provenance, provenance)
* section.title 1..1
* section.code 1..1
* section.code from SummarySection (required)
* section.author 0..0
* section.focus 0..0
* section.text 1..1
* section.mode 0..0
* section.orderedBy 0..0
* section.emptyReason = http://terminology.hl7.org/CodeSystem/list-empty-reason#nilknown
* section.section 0..0
* obeys acp-sum-1

Invariant: acp-sum-1
Description: "The sections follow the reading order of the emergency summary (domain.md §5)."
Severity: #error
Expression: "section.code.coding.code.join(',') = 'identity,cpr-decision,respect,adrt,lpa,contacts,preferred-places,anticipatory-medicines,diagnosis-prognosis,notes,provenance'"

Profile: AcpSummaryBundle
Parent: Bundle
Id: acp-summary-bundle
Title: "Emergency summary document"
Description: "The emergency summary as a FHIR document: the summary Composition first, then every resource it references (Patient, CarePlan, Consents, Goals, RelatedPersons, Practitioners, Organizations)."
* meta 1..1
* meta.profile 1..*
* implicitRules 0..0
* language 0..0
* identifier 1..1
* identifier.system 1..1
* identifier.system = "urn:ietf:rfc:3986"
* identifier.value 1..1
* type = #document
* timestamp 1..1
* total 0..0
* link 0..0
* entry 1..*
* entry.link 0..0
* entry.fullUrl 1..1
* entry.resource 1..1
* entry.search 0..0
* entry.request 0..0
* entry.response 0..0
* signature 0..0
* obeys acp-bdl-1

Invariant: acp-bdl-1
Description: "The first entry is the summary Composition (acp-summary-composition)."
Severity: #error
Expression: "entry.first().resource.meta.profile.where($this = 'https://acp-fhir.example.org/fhir/StructureDefinition/acp-summary-composition').exists()"

// The project's own code systems. Every code the projection writes under these systems is here
// (src/fhir/codes.rs and the projection files name them); nothing else may be sent.

CodeSystem: AcpLocalCodes
Id: acp-local
Title: "acp-fhir local codes"
Description: "Codes of the acp-fhir project where no national (SNOMED CT, LOINC, HL7) code exists: care team roles, ReSPECT focus of care, prognosis periods, preference kinds, contact roles, a practitioner's part in a plan and the lifecycle of a recorded decision."
* ^url = "https://acp-fhir.example.org/fhir/CodeSystem/acp-local"
* ^status = #active
* ^caseSensitive = true
* ^content = #complete
// Care team roles (CareTeam.participant.role) and a practitioner's part in a plan
* #key-worker "Key worker" "The person's key worker for end of life care."
* #usual-gp "Usual GP" "The person's usual general practitioner."
* #gp-practice "Registered GP practice" "The GP practice the person is registered with."
* #cpr-decision-maker "Made a CPR decision" "The clinician who made a CPR decision of this plan."
* #respect-clinician "Completed the ReSPECT form" "The clinician who completed the ReSPECT form."
* #consent-to-share-recorder "Recorded consent to share" "The person who recorded consent to share the record."
* #care-team-professional "Professional involved" "Another professional involved in the person's care."
// ReSPECT focus of care
* #focus-life-sustaining-treatment "Focus of care: life-sustaining treatment" "ReSPECT: prioritise sustaining life."
* #focus-selective-treatment "Focus of care: selective treatment" "ReSPECT: selective treatment."
* #focus-comfort-care "Focus of care: comfort care" "ReSPECT: prioritise comfort."
// Prognosis
* #prognosis-last-days "Last days of life" "Expected prognosis: last days of life."
* #prognosis-last-weeks "Last weeks of life" "Expected prognosis: last weeks of life."
* #prognosis-last-months "Last months of life" "Expected prognosis: last months of life."
* #prognosis-unknown "Prognosis unknown" "The expected prognosis is not known."
// Kinds of preference (Goal.category)
* #preferred-place-of-care "Preferred place of care" "The place where the person would prefer to be cared for."
* #what-matters-most "What matters most to the person" "What matters most to the person, in their words."
// Preferred place of care without a place (SNOMED CT has these for place of death only)
* #place-of-care-undecided "Preferred place of care undecided" "The person has not decided where they would prefer to be cared for."
* #place-of-care-declined-to-discuss "Declined to discuss preferred place of care" "The person declined to discuss their preferred place of care."
* #place-of-care-not-appropriate "Discussion about preferred place of care not appropriate" "A discussion about the preferred place of care was not appropriate."
* #place-of-care-unable-to-express "Unable to express preferred place of care" "The person is unable to express a preferred place of care."
// Contact roles (RelatedPerson)
* #main-carer "Main carer" "The person's main carer."
* #nominated-contact "Single nominated contact for advice" "The one person to contact for advice (at most one per plan)."
* #involve-in-decisions "Involve in decisions" "A person to involve in decisions."
// Lifecycle of a recorded decision (CPR decision, ADRT), independent of the plan's status
* #current "Current" "CPR decision: the decision in force."
* #superseded "Superseded" "CPR decision: replaced by a later decision."
* #revoked "Revoked" "CPR decision: revoked; no longer in force."
* #active "Active" "ADRT: in force."
* #withdrawn "Withdrawn" "ADRT: withdrawn by the person."
* #entered-in-error "Entered in error" "Recorded in error; never valid."

CodeSystem: DeathLocationCodes
Id: death-location
Title: "Place of death (NHS Data Dictionary)"
Description: "The NHS Data Dictionary death-location codes, used for preferred places and the actual place of death."
* ^url = "https://acp-fhir.example.org/fhir/CodeSystem/death-location"
* ^status = #active
* ^caseSensitive = true
* ^content = #complete
* #10 "Hospital" "Hospital."
* #21 "Own home" "The person's own home."
* #22 "Other private residence" "Another private residence (e.g. a relative's home)."
* #30 "Hospice" "Hospice."
* #40 "Care home" "Care home."
* #50 "Other place" "Any other place."

CodeSystem: SummarySectionCodes
Id: summary-section
Title: "Emergency summary sections"
Description: "The sections of the end of life care coordination summary, in reading order (domain.md §5)."
* ^url = "https://acp-fhir.example.org/fhir/CodeSystem/summary-section"
* ^status = #active
* ^caseSensitive = true
* ^content = #complete
* #identity "Identity" "Name, birth date, NHS number, address."
* #cpr-decision "CPR decision" "The current CPR decision or no decision recorded."
* #respect "ReSPECT recommendations" "ReSPECT priority, focus of care and recommendations."
* #adrt "Advance decision to refuse treatment" "Advance decisions to refuse treatment."
* #lpa "Lasting power of attorney for health and welfare" "Lasting powers of attorney for health and welfare."
* #contacts "Contacts" "Single nominated contact, main carer, key worker."
* #preferred-places "Preferred place of care and of death" "Preferred place of care and of death, first and second choice."
* #anticipatory-medicines "Anticipatory medicines" "Anticipatory medicines, syringe driver, equipment."
* #diagnosis-prognosis "Diagnosis and prognosis" "Diagnoses, prognosis and awareness."
* #notes "Special note, access and what matters most" "Special note, access information, what matters most."
* #provenance "Provenance" "Last updated, by whom, review overdue or not."

// Every extension the projection writes (src/fhir/codes.rs, care_plan.rs, goal.rs). The
// contexts are where the projection puts them; a value type is the one it writes.

RuleSet: AcpExtension
* ^status = #active
* ^experimental = false

RuleSet: SimpleValue(type)
* value[x] 1..1
* value[x] only {type}
* extension 0..0

RuleSet: ComplexOnly
* value[x] 0..0

RuleSet: Part(name, type, min, max)
* extension[{name}] {min}..{max}
* extension[{name}].value[x] 1..1
* extension[{name}].value[x] only {type}

// ---------------------------------------------------------------------------------------------
// CarePlan

Extension: RespectPriorityExtension
Id: respect-priority
Title: "ReSPECT priority"
Description: "ReSPECT priority scale: 0 = prioritise sustaining life … 100 = prioritise comfort."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert SimpleValue(integer)
* obeys acp-respect-1

Invariant: acp-respect-1
Description: "The ReSPECT priority is between 0 and 100."
Severity: #error
Expression: "value.ofType(integer).all($this >= 0 and $this <= 100)"

Extension: RespectFocusOfCareExtension
Id: respect-focus-of-care
Title: "ReSPECT focus of care"
Description: "The focus of care recorded on the ReSPECT form."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert SimpleValue(CodeableConcept)
* valueCodeableConcept from FocusOfCare (required)
* valueCodeableConcept.coding 1..1

Extension: RespectFormExtension
Id: respect-form
Title: "ReSPECT form"
Description: "The ReSPECT form: when it was completed, where it is, and the clinician who completed it."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert ComplexOnly
* extension contains completed 1..1 and location 0..1 and clinician 1..1
* insert Part(completed, date, 1, 1)
* insert Part(location, string, 0, 1)
* insert Part(clinician, Reference(Practitioner\), 1, 1)

Extension: PlanDiagnosesExtension
Id: plan-diagnoses
Title: "Diagnoses"
Description: "The primary end of life diagnosis, other diagnoses, disabilities, allergies (each coded or text) and functional status."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert ComplexOnly
* extension contains primary 1..1 and other 0..* and disability 0..* and allergy 0..* and functional-status 0..1
* insert Part(primary, CodeableConcept, 1, 1)
* insert Part(other, CodeableConcept, 0, *)
* insert Part(disability, CodeableConcept, 0, *)
* insert Part(allergy, CodeableConcept, 0, *)
* insert Part(functional-status, string, 0, 1)

Extension: PlanPrognosisExtension
Id: plan-prognosis
Title: "Prognosis"
Description: "The expected prognosis and whether the person and the carer are aware of it."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert ComplexOnly
* extension contains expected 1..1 and person-aware 0..1 and carer-aware 0..1
* insert Part(expected, CodeableConcept, 1, 1)
* extension[expected].valueCodeableConcept from Prognosis (required)
* insert Part(person-aware, boolean, 0, 1)
* insert Part(carer-aware, boolean, 0, 1)

Extension: PlanDeathExtension
Id: plan-death
Title: "Death"
Description: "Date of death and the actual place of death."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert ComplexOnly
* extension contains date 1..1 and place 0..1 and place-detail 0..1
* insert Part(date, date, 1, 1)
* insert Part(place, CodeableConcept, 0, 1)
* extension[place].valueCodeableConcept from DeathLocation (required)
* insert Part(place-detail, string, 0, 1)

Extension: PlanStatusReasonExtension
Id: plan-status-reason
Title: "Why the plan ended"
Description: "Why the plan was revoked or entered in error."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan"
* insert SimpleValue(string)

Extension: AnticipatoryMedicinesExtension
Id: anticipatory-medicines
Title: "Anticipatory medicines"
Description: "Just-in-case box issued (and when), where the medicines are kept, syringe driver in place, oxygen or equipment at home."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CarePlan.activity.detail"
* insert ComplexOnly
* extension contains box-issued 1..1 and issued-date 0..1 and location 0..1 and syringe-driver 0..1 and equipment 0..1
* insert Part(box-issued, boolean, 1, 1)
* insert Part(issued-date, date, 0, 1)
* insert Part(location, string, 0, 1)
* insert Part(syringe-driver, boolean, 0, 1)
* insert Part(equipment, string, 0, 1)

Extension: CareTeamParticipantPhoneExtension
Id: care-team-participant-phone
Title: "Care team member's phone"
Description: "A phone number of a care team member, as recorded in the plan."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "CareTeam.participant"
* insert SimpleValue(ContactPoint)
* valueContactPoint.system 1..1
* valueContactPoint.system = #phone
* valueContactPoint.value 1..1

// ---------------------------------------------------------------------------------------------
// Decisions (Consent) and their review

Extension: DecisionReviewDateExtension
Id: decision-review-date
Title: "Review date"
Description: "When a decision (or the plan) is to be reviewed. Absent when the decision stands until changed (decision-review-indefinite)."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* ^context[1].type = #element
* ^context[1].expression = "CarePlan"
* insert SimpleValue(date)

Extension: DecisionReviewIndefiniteExtension
Id: decision-review-indefinite
Title: "Review: indefinite"
Description: "The decision stands until changed: no review date."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert SimpleValue(boolean)

Extension: DecisionReasonExtension
Id: decision-reason
Title: "Reason for the decision"
Description: "The clinical reason for a CPR decision."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert SimpleValue(string)

Extension: DecisionStatusExtension
Id: decision-status
Title: "Recorded decision status"
Description: "A recorded decision's own lifecycle status, independent of the plan's (CPR: current, superseded, revoked, entered-in-error; ADRT: active, withdrawn, entered-in-error)."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert SimpleValue(code)
* valueCode from DecisionStatus (required)

Extension: DecisionAwarenessExtension
Id: decision-awareness
Title: "Awareness of a CPR decision"
Description: "Whether the person is aware of the CPR decision and whether the family has been informed."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert ComplexOnly
* extension contains person-aware 0..1 and family-informed 0..1
* insert Part(person-aware, boolean, 0, 1)
* insert Part(family-informed, boolean, 0, 1)

Extension: DecisionCapacityExtension
Id: decision-capacity
Title: "Capacity and involvement"
Description: "Whether the person had capacity for the decision and was involved in it."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert ComplexOnly
* extension contains had-capacity 0..1 and person-involved 0..1
* insert Part(had-capacity, boolean, 0, 1)
* insert Part(person-involved, boolean, 0, 1)

Extension: DecisionEndedExtension
Id: decision-ended
Title: "How a decision ended"
Description: "Who ended a decision (revoked, superseded, withdrawn or entered in error), why and when."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert ComplexOnly
* extension contains by 1..1 and reason 1..1 and at 0..1
* insert Part(by, string, 1, 1)
* insert Part(reason, string, 1, 1)
* insert Part(at, dateTime, 0, 1)

Extension: ClinicianDetailsExtension
Id: clinician-details
Title: "Clinician details as recorded"
Description: "On a Reference to a clinician: the role, professional registration number and organisation as recorded with the decision."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Reference"
* insert ComplexOnly
* extension contains role 0..1 and registration-number 0..1 and organisation 0..1
* insert Part(role, string, 0, 1)
* insert Part(registration-number, string, 0, 1)
* insert Part(organisation, string, 0, 1)

Extension: AdrtRefusesLifeSustainingTreatmentExtension
Id: adrt-refuses-life-sustaining-treatment
Title: "ADRT refuses life-sustaining treatment"
Description: "Whether the advance decision refuses life-sustaining treatment (then it must be witnessed and signed)."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert SimpleValue(boolean)

Extension: AdrtWitnessedAndSignedExtension
Id: adrt-witnessed-and-signed
Title: "ADRT witnessed and signed"
Description: "Whether the advance decision document is witnessed and signed."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert SimpleValue(boolean)

Extension: AdrtCircumstancesExtension
Id: adrt-circumstances
Title: "ADRT circumstances"
Description: "The circumstances in which the refusals apply."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Consent"
* insert SimpleValue(string)

// ---------------------------------------------------------------------------------------------
// People

Extension: InterpreterRequiredExtension
Id: interpreter-required
Title: "Interpreter required"
Description: "Whether the person needs an interpreter (as UK Core)."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Patient"
* insert SimpleValue(boolean)

Extension: ContactRoleExtension
Id: contact-role
Title: "Contact role"
Description: "A part the related person plays: main carer, single nominated contact for advice, involve in decisions."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "RelatedPerson"
* insert SimpleValue(code)
* valueCode from ContactRole (required)

Extension: AwareOfPrognosisExtension
Id: aware-of-prognosis
Title: "Aware of prognosis"
Description: "Whether the carer is aware of the prognosis."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "RelatedPerson"
* insert SimpleValue(boolean)

Extension: LpaLifeSustainingAuthorityExtension
Id: lpa-life-sustaining-authority
Title: "LPA authority over life-sustaining treatment"
Description: "Whether the personal welfare LPA has authority over life-sustaining treatment."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "RelatedPerson"
* insert SimpleValue(boolean)

Extension: DocumentLocationExtension
Id: document-location
Title: "Where the document is"
Description: "Where a document (the registered LPA) is kept."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "RelatedPerson"
* insert SimpleValue(string)

Extension: PractitionerInvolvementExtension
Id: practitioner-involvement
Title: "Practitioner's part in a plan"
Description: "One part a practitioner plays in this plan: what (context), with the role, organisation and phone as recorded, the decision it concerns and its position among the care team's professionals."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Practitioner"
* insert ComplexOnly
* extension contains context 1..1 and role 0..1 and organisation 0..1 and phone 0..1 and decision 0..1 and position 0..1
* insert Part(context, code, 1, 1)
* extension[context].valueCode from PractitionerInvolvement (required)
* insert Part(role, string, 0, 1)
* insert Part(organisation, string, 0, 1)
* insert Part(phone, string, 0, 1)
* insert Part(decision, Reference(Consent\), 0, 1)
* insert Part(position, integer, 0, 1)

// ---------------------------------------------------------------------------------------------
// Goal

Extension: PreferredPlaceExtension
Id: preferred-place
Title: "Preferred place as recorded"
Description: "A preferred place as recorded: organisation, address, and whether it is the person's usual residence."
* insert AcpExtension
* ^context[0].type = #element
* ^context[0].expression = "Goal"
* insert ComplexOnly
* extension contains organisation 0..1 and address 0..1 and usual-residence 1..1
* insert Part(organisation, string, 0, 1)
* insert Part(address, Address, 0, 1)
* insert Part(usual-residence, boolean, 1, 1)

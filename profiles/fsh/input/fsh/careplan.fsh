Profile: AcpEndOfLifeCarePlan
Parent: CarePlan
Id: acp-end-of-life-careplan
Title: "End of life care plan"
Description: "The person's end of life care plan (EPaCCS core content): status, the care team, preferences (Goals), the decisions (Consents), ReSPECT recommendations and anticipatory medicines as activities, diagnoses, prognosis and notes. One per person; the internal plan is the source of truth."
* insert AcpProfile
* insert ClosedExtensions
// Extensions are unfolded (their .url named) so that validators matching slices on url see the
// fixed url of each slice in the snapshot.
* extension contains
    PlanDiagnosesExtension named diagnoses 1..1 and
    PlanPrognosisExtension named prognosis 0..1 and
    DecisionReviewDateExtension named reviewDate 0..1 and
    RespectPriorityExtension named respectPriority 0..1 and
    RespectFocusOfCareExtension named respectFocusOfCare 0..1 and
    RespectFormExtension named respectForm 0..1 and
    PlanDeathExtension named death 0..1 and
    PlanStatusReasonExtension named statusReason 0..1
* extension[diagnoses].url 1..1
* extension[prognosis].url 1..1
* extension[reviewDate].url 1..1
* extension[respectPriority].url 1..1
* extension[respectFocusOfCare].url 1..1
* extension[respectForm].url 1..1
* extension[death].url 1..1
* extension[statusReason].url 1..1
// The care team travels with the plan, contained.
* contained 1..1
* contained only CareTeam
* identifier 0..0
* instantiatesCanonical 0..0
* instantiatesUri 0..0
* basedOn 0..0
* replaces 0..0
* partOf 0..0
* status from http://hl7.org/fhir/ValueSet/request-status (required)
* intent = #plan
* insert PatternSlicing(category, closed)
* category 1..2
* category from CarePlanCategory (required)
* category contains endOfLife 1..1 and advanceCarePlan 0..1
* category[endOfLife] = $sct#736373009
* category[advanceCarePlan] = $sct#736366004
* title 1..1
* description 1..1
* subject 1..1
* subject only Reference(AcpPatient)
* insert PlainReference(subject)
* encounter 0..0
* period 1..1
* period.start 1..1
* created 1..1
* author 1..1
* author.display 1..1
* contributor 0..0
* careTeam 1..1
* careTeam.reference = "#careteam"
* addresses 0..0
* supportingInfo 1..*
* supportingInfo only Reference(AcpCprDecisionConsent or AcpAdrtConsent or AcpConsentToShare)
* insert PlainReference(supportingInfo)
* goal only Reference(AcpPreferenceGoal)
* insert PlainReference(goal)
* activity.outcomeCodeableConcept 0..0
* activity.outcomeReference 0..0
* activity.progress 0..0
* activity.reference 0..0
* activity.detail 1..1
* activity.detail.kind 0..0
* activity.detail.instantiatesCanonical 0..0
* activity.detail.instantiatesUri 0..0
* activity.detail.code 1..1
* activity.detail.code from CarePlanActivity (extensible)
* activity.detail.reasonCode from CarePlanReasonRespect (required)
* activity.detail.reasonReference 0..0
* activity.detail.goal 0..0
* activity.detail.statusReason 0..0
* activity.detail.scheduled[x] 0..0
* activity.detail.location 0..0
* activity.detail.performer 0..0
* activity.detail.product[x] 0..0
* activity.detail.dailyAmount 0..0
* activity.detail.quantity 0..0
* activity.detail.extension contains AnticipatoryMedicinesExtension named anticipatoryMedicines 0..1
* activity.detail.extension[anticipatoryMedicines].url 1..1
* note.author[x] 0..0
* note.time 0..0
* obeys acp-cp-1 and acp-cp-2

ValueSet: CarePlanReasonRespect
Id: careplan-reason-respect
Title: "ReSPECT as the reason for an activity"
Description: "CarePlan.activity.detail.reasonCode: the ReSPECT form a recommendation comes from."
* ^status = #active
* ^experimental = false
* $sct#1382601000000107 "Recommended summary plan for emergency care and treatment form"

Invariant: acp-cp-1
Description: "A ReSPECT recommendation (an activity with reason ReSPECT) says whether the treatment is recommended (doNotPerform)."
Severity: #error
Expression: "activity.detail.where(reasonCode.coding.where(system = 'http://snomed.info/sct' and code = '1382601000000107').exists()).all(doNotPerform.exists())"

Invariant: acp-cp-2
Description: "The contained CareTeam is the one careTeam references, about the same patient."
Severity: #error
Expression: "contained.ofType(CareTeam).where(id = 'careteam').exists() and contained.ofType(CareTeam).subject.reference = subject.reference"

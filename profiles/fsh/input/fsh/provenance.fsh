// Who changed a plan, when, and what: one Provenance per plan version, derived from the
// version and the one before it (src/fhir/provenance.rs).

Alias: $v3-DataOperation = http://terminology.hl7.org/CodeSystem/v3-DataOperation
Alias: $provenance-participant-type = http://terminology.hl7.org/CodeSystem/provenance-participant-type

ValueSet: PlanChangeActivity
Id: plan-change-activity
Title: "Plan change activity"
Description: "What a plan version did: created the plan, revised it, or marked it entered in error (v3 DataOperation)."
* insert AcpValueSet
* $v3-DataOperation#CREATE "create"
* $v3-DataOperation#UPDATE "revise"
* $v3-DataOperation#NULLIFY "nullify"

Profile: AcpProvenance
Parent: Provenance
Id: acp-provenance
Title: "Provenance of a care plan change"
Description: "One plan version: the plan's resources it wrote (version-specific targets), the versions it replaced (entity revision) or took out of the plan (entity removal), when it was recorded, and who wrote it (the authenticated client and the end user it named, as the plan records them). Id {plan id}-v{version}; never changes (meta.versionId 1)."
* insert AcpProfile
* contained 0..0
* extension 0..0
* target 1..*
* target.reference 1..1
* target.identifier 0..0
* target.display 0..0
* occurred[x] 0..0
* recorded 1..1
* policy 0..0
* location 0..0
* reason 0..0
* activity 1..1
* activity from PlanChangeActivity (required)
* agent 1..1
* agent.type 1..1
* agent.type = $provenance-participant-type#author "Author"
* agent.role 0..0
* agent.who.display 1..1
* agent.who.reference 0..0
* agent.onBehalfOf 0..0
* entity.what.reference 1..1
* entity.what.identifier 0..0
* entity.what.display 0..0
* entity.agent 0..0
* signature 0..0
* obeys acp-prov-1

Invariant: acp-prov-1
Description: "Every target and entity is a version-specific reference to a resource of the plan: Type/id/_history/version."
Severity: #error
Expression: "target.all(reference.matches('^[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}/_history/[0-9]+$')) and entity.all(what.reference.matches('^[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}/_history/[0-9]+$'))"

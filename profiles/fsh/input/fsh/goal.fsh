Profile: AcpPreferenceGoal
Parent: Goal
Id: acp-preference-goal
Title: "Preference"
Description: "A preference the person expressed: preferred place of care or of death (1st choice high priority, 2nd medium; the place coded with the NHS Data Dictionary death-location code, or why there is none), an advance statement, or what matters most."
* insert AcpProfile
* contained 0..0
* insert ClosedExtensions
* extension contains PreferredPlaceExtension named preferredPlace 0..1
* extension[preferredPlace].url 1..1
* identifier 0..0
* achievementStatus 0..0
* category 1..1
* category.coding 1..1
* category from PreferenceCategory (required)
* priority from http://hl7.org/fhir/ValueSet/goal-priority (required)
* description.coding from PreferredPlace (required)
* description.text 1..1
* subject only Reference(AcpPatient)
* insert PlainReference(subject)
* start[x] only date
* target 0..0
* statusDate 0..0
* statusReason 0..0
* expressedBy 1..1
* expressedBy only Reference(AcpPatient)
* insert PlainReference(expressedBy)
* addresses 0..0
* note 0..0
* outcomeCode 0..0
* outcomeReference 0..0
* obeys acp-goal-1

Invariant: acp-goal-1
Description: "Only a preferred place of care or of death has a priority, a coded place and the preferred-place extension."
Severity: #error
Expression: "category.coding.where(code = '395091006' or code = 'preferred-place-of-care').empty() implies (priority.empty() and description.coding.empty() and extension.where(url = 'https://acp-fhir.example.org/fhir/StructureDefinition/preferred-place').empty())"

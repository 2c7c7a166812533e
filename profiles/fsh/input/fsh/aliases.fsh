// Code systems and identifier systems (domain.md §3); the project's own live under
// https://acp-fhir.example.org/fhir.
Alias: $sct = http://snomed.info/sct
Alias: $loinc = http://loinc.org
Alias: $consentscope = http://terminology.hl7.org/CodeSystem/consentscope
Alias: $consentcategory = http://terminology.hl7.org/CodeSystem/consentcategorycodes
Alias: $v3-RoleCode = http://terminology.hl7.org/CodeSystem/v3-RoleCode
Alias: $goal-priority = http://terminology.hl7.org/CodeSystem/goal-priority
Alias: $organization-type = http://terminology.hl7.org/CodeSystem/organization-type
Alias: $list-empty-reason = http://terminology.hl7.org/CodeSystem/list-empty-reason
Alias: $bcp47 = urn:ietf:bcp:47
Alias: $nhs-number = https://fhir.nhs.uk/Id/nhs-number
Alias: $ods = https://fhir.nhs.uk/Id/ods-organization-code
Alias: $registration = https://acp-fhir.example.org/fhir/Id/professional-registration
Alias: $local = https://acp-fhir.example.org/fhir/CodeSystem/acp-local
Alias: $death-location = https://acp-fhir.example.org/fhir/CodeSystem/death-location
Alias: $summary-section = https://acp-fhir.example.org/fhir/CodeSystem/summary-section

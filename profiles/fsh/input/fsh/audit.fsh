// The audit trail as FHIR: one AuditEvent per request (src/fhir/audit_event.rs).

Alias: $audit-event-type = http://terminology.hl7.org/CodeSystem/audit-event-type

Profile: AcpAuditEvent
Parent: AuditEvent
Id: acp-audit-event
Title: "Audit record of a request"
Description: "One request to acp-fhir (every view, search, summary and change, refused ones too): the RESTful interaction as subtype, the action and outcome, the client (by client id, with its organisation's ODS code) and the end user a trusted client named, the service as source, and as entities the resource addressed, each patient whose data was returned or changed (Patient reference with the NHS number), and the request (its query, request id and any emergency-override reason)."
* ^status = #active
* ^experimental = false
* meta 1..1
* meta.lastUpdated 1..1
* meta.profile 1..*
* implicitRules 0..0
* language 0..0
* text 1..1
* text.status = #generated
* contained 0..0
* modifierExtension 0..0
* extension 0..0
* type = $audit-event-type#rest "RESTful Operation"
* subtype 1..1
* subtype.system 1..1
* action 1..1
* period 0..0
* outcome 1..1
* outcomeDesc 1..1
* purposeOfEvent 0..0
* agent 1..2
* agent.type 1..1
* agent.who 1..1
* agent.who.identifier 1..1
* agent.who.identifier.system 1..1
* agent.who.identifier.value 1..1
* agent.requestor 1..1
* source.site 1..1
* source.observer.identifier 1..1
* source.type 1..1
* entity 1..*

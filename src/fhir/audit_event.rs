//! AuditEvent: an audit record as FHIR R4 (`rest` events, with the RESTful interaction as
//! subtype). The client is the requesting agent (its client id as identifier, its organisation
//! by ODS code), a trusted client's end user a second agent; the service is the source; the
//! resource addressed, each patient whose data was returned, and a search's query are entities.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use fhirbolt::model::r4::resources::{
    AuditEvent, AuditEventAgent, AuditEventEntity, AuditEventEntityDetail,
    AuditEventEntityDetailValue, AuditEventSource,
};
use fhirbolt::model::r4::types::{Identifier, Meta, Reference};

use super::support::{code, coding_of, concept_of, instant, narrative, nhs_number};
use crate::audit::AuditRecord;

/// The identifier system of our client ids.
pub const CLIENT_ID_SYSTEM: &str = "https://acp-fhir.example.org/Id/client-id";
/// The ODS organisation code system.
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// The identifier system of end users named by trusted clients.
pub const END_USER_SYSTEM: &str = "https://acp-fhir.example.org/Id/end-user";

const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const PARTICIPATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const SECURITY_SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const RESOURCE_TYPES_SYSTEM: &str = "http://hl7.org/fhir/resource-types";

fn identifier(system: &str, value: &str) -> Identifier {
    Identifier {
        system: Some(system.to_owned().into()),
        value: Some(value.to_owned().into()),
        ..Default::default()
    }
}

fn by_identifier(resource_type: &str, id: Identifier, display: Option<&str>) -> Box<Reference> {
    Box::new(Reference {
        r#type: Some(resource_type.to_owned().into()),
        identifier: Some(Box::new(id)),
        display: display.map(|d| d.to_owned().into()),
        ..Default::default()
    })
}

fn subtype(interaction: &str) -> String {
    match interaction {
        "summary" => "operation".into(),
        other => other.into(),
    }
}

/// The AuditEvent of a record.
pub fn audit_event(record: &AuditRecord, service_base: &str) -> AuditEvent {
    let client = record.client_id.as_deref().unwrap_or("(unauthenticated)");
    let mut agents = vec![AuditEventAgent {
        // AuditEvent.agent.type: the application that asked.
        r#type: Some(Box::new(concept_of(
            vec![coding_of(
                PARTICIPATION_TYPE,
                "AUT",
                Some("author (originator)"),
            )],
            None,
        ))),
        who: Some(by_identifier(
            "Device",
            identifier(CLIENT_ID_SYSTEM, client),
            record.client_name.as_deref(),
        )),
        name: record.client_name.clone().map(Into::into),
        requestor: (record.end_user.is_none()).into(),
        location: record
            .organisation
            .as_deref()
            .map(|ods| by_identifier("Location", identifier(ODS_SYSTEM, ods), None)),
        ..Default::default()
    }];
    if let Some(user) = &record.end_user {
        agents.push(AuditEventAgent {
            r#type: Some(Box::new(concept_of(
                vec![coding_of(
                    PARTICIPATION_TYPE,
                    "IRCP",
                    Some("information recipient"),
                )],
                None,
            ))),
            who: Some(by_identifier(
                "Practitioner",
                identifier(END_USER_SYSTEM, user),
                None,
            )),
            alt_id: record.end_user_organisation.clone().map(Into::into),
            name: Some(user.clone().into()),
            requestor: true.into(),
            ..Default::default()
        });
    }

    let mut entities = Vec::new();
    if let (Some(resource_type), Some(id)) = (&record.resource_type, &record.resource_id) {
        entities.push(AuditEventEntity {
            what: Some(Box::new(super::support::reference(resource_type, id, None))),
            r#type: Some(Box::new(coding_of(
                RESOURCE_TYPES_SYSTEM,
                resource_type,
                None,
            ))),
            role: Some(Box::new(coding_of(
                OBJECT_ROLE,
                "4",
                Some("Domain Resource"),
            ))),
            ..Default::default()
        });
    }
    for patient in &record.patients {
        let mut reference = super::support::reference("Patient", &patient.patient_id, None);
        reference.identifier = Some(Box::new(nhs_number(&patient.nhs_number)));
        entities.push(AuditEventEntity {
            what: Some(Box::new(reference)),
            r#type: Some(Box::new(coding_of(RESOURCE_TYPES_SYSTEM, "Patient", None))),
            role: Some(Box::new(coding_of(OBJECT_ROLE, "1", Some("Patient")))),
            ..Default::default()
        });
    }
    let mut details = vec![AuditEventEntityDetail {
        r#type: "request-id".into(),
        value: AuditEventEntityDetailValue::String(record.request_id.clone().into()),
        ..Default::default()
    }];
    if let Some(reason) = &record.emergency_override {
        details.push(AuditEventEntityDetail {
            r#type: "emergency-override-reason".into(),
            value: AuditEventEntityDetailValue::String(reason.clone().into()),
            ..Default::default()
        });
    }
    entities.push(AuditEventEntity {
        r#type: Some(Box::new(coding_of(
            "http://terminology.hl7.org/CodeSystem/audit-entity-type",
            "2",
            Some("System Object"),
        ))),
        role: Some(Box::new(coding_of(OBJECT_ROLE, "24", Some("Query")))),
        description: Some(format!("{} {}", record.action, record.interaction).into()),
        query: record
            .query
            .as_ref()
            .map(|q| STANDARD.encode(q.as_bytes()).into()),
        detail: details,
        ..Default::default()
    });

    let outcome_text = match (&record.detail, record.status) {
        (Some(detail), status) => format!("HTTP {status}: {detail}"),
        (None, status) => format!("HTTP {status}"),
    };
    AuditEvent {
        id: Some(record.id.to_string().into()),
        meta: Some(Box::new(Meta {
            last_updated: Some(instant(&record.recorded).into()),
            profile: vec![super::codes::profile::AUDIT_EVENT.into()],
            ..Default::default()
        })),
        text: Some(narrative(
            "Audit event",
            &[
                ("When", instant(&record.recorded)),
                ("Client", client.to_owned()),
                ("Interaction", record.interaction.clone()),
                ("Outcome", outcome_text.clone()),
            ],
        )),
        r#type: Box::new(coding_of(EVENT_TYPE, "rest", Some("RESTful Operation"))),
        subtype: vec![coding_of(
            RESTFUL_INTERACTION,
            &subtype(&record.interaction),
            None,
        )],
        action: Some(code(&record.action)),
        recorded: instant(&record.recorded).into(),
        outcome: Some(code(record.outcome())),
        outcome_desc: Some(outcome_text.into()),
        agent: agents,
        source: AuditEventSource {
            site: Some(service_base.to_owned().into()),
            observer: by_identifier(
                "Device",
                identifier(CLIENT_ID_SYSTEM, "acp-fhir"),
                Some("acp-fhir"),
            ),
            r#type: vec![coding_of(
                SECURITY_SOURCE_TYPE,
                "4",
                Some("Application Server"),
            )],
            ..Default::default()
        },
        entity: entities,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditedPatient;

    fn record() -> AuditRecord {
        AuditRecord {
            id: uuid::Uuid::nil(),
            recorded: "2026-11-23T12:00:00Z".parse().unwrap(),
            interaction: "summary".into(),
            action: "R".into(),
            status: 200,
            client_id: Some("cad".into()),
            client_name: Some("Ambulance CAD".into()),
            organisation: Some("Y09871".into()),
            end_user: Some("crew-42".into()),
            end_user_organisation: Some("Y09872".into()),
            resource_type: Some("Patient".into()),
            resource_id: None,
            patients: vec![AuditedPatient {
                patient_id: "p1".into(),
                nhs_number: "9990000018".into(),
            }],
            query: Some("identifier=x".into()),
            request_id: "req-1".into(),
            emergency_override: Some("cardiac arrest".into()),
            detail: None,
        }
    }

    #[test]
    fn says_who_what_when_and_the_outcome() {
        let event = audit_event(&record(), "http://localhost/fhir");
        let json = serde_json::to_value(
            fhirbolt::serde::json::to_string(
                &fhirbolt::model::r4::Resource::AuditEvent(Box::new(event)),
                None,
            )
            .map(|s| serde_json::from_str::<serde_json::Value>(&s).unwrap())
            .unwrap(),
        )
        .unwrap();
        assert_eq!(json["type"]["code"], "rest");
        assert_eq!(
            json["meta"]["profile"][0],
            super::super::codes::profile::AUDIT_EVENT
        );
        assert_eq!(json["subtype"][0]["code"], "operation");
        assert_eq!(json["action"], "R");
        assert_eq!(json["outcome"], "0");
        assert_eq!(json["recorded"], "2026-11-23T12:00:00Z");
        assert_eq!(json["agent"][0]["who"]["identifier"]["value"], "cad");
        assert_eq!(json["agent"][0]["requestor"], false);
        assert_eq!(json["agent"][1]["who"]["identifier"]["value"], "crew-42");
        assert_eq!(json["agent"][1]["requestor"], true);
        assert_eq!(json["entity"][0]["what"]["reference"], "Patient/p1");
        assert_eq!(
            json["entity"][0]["what"]["identifier"]["value"],
            "9990000018"
        );
        let last = &json["entity"][1];
        assert_eq!(last["query"], STANDARD.encode("identifier=x"));
        assert_eq!(last["detail"][1]["valueString"], "cardiac arrest");
    }
}

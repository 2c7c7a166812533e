//! Organization: the person's registered GP practice (domain.md §2 "usual GP"), identified by
//! its ODS code, with its name and telephone number. The named GP is a Practitioner (see
//! [`super::practitioner`]); the Patient's `generalPractitioner` points at both.

use fhirbolt::model::r4::resources::Organization;
use fhirbolt::model::r4::types::{ContactPoint, Identifier};

use super::codes::{self, profile};
use super::ids::PlanIds;
use super::support;
use crate::domain::PlanRecord;

/// HL7 organization-type `prov`: healthcare provider.
const HEALTHCARE_PROVIDER: &str = "prov";
const HEALTHCARE_PROVIDER_DISPLAY: &str = "Healthcare Provider";

/// The plan's organisations: the GP practice.
pub fn organizations(record: &PlanRecord, ids: &PlanIds) -> Vec<Organization> {
    let gp = &record.plan.usual_gp;
    let ods = gp.practice_ods_code.as_str();

    let mut rows: Vec<(&str, String)> = vec![
        ("GP practice", gp.practice_name.clone()),
        ("ODS code", ods.to_owned()),
    ];
    if let Some(phone) = &gp.phone {
        rows.push(("Phone", phone.clone()));
    }
    if let Some(name) = &gp.gp_name {
        rows.push(("Named GP", name.clone()));
    }

    vec![Organization {
        id: Some(ids.gp_practice().into()),
        meta: Some(support::meta(record, profile::ORGANIZATION)),
        text: Some(support::narrative("GP practice", &rows)),
        identifier: vec![Identifier {
            system: Some(codes::ODS_CODE.into()),
            value: Some(ods.into()),
            ..Default::default()
        }],
        r#type: vec![support::concept_of(
            vec![support::coding_of(
                codes::ORGANIZATION_TYPE,
                HEALTHCARE_PROVIDER,
                Some(HEALTHCARE_PROVIDER_DISPLAY),
            )],
            None,
        )],
        name: Some(gp.practice_name.as_str().into()),
        telecom: gp
            .phone
            .iter()
            .map(|phone| ContactPoint {
                system: Some(support::code("phone")),
                value: Some(phone.as_str().into()),
                r#use: Some(support::code("work")),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }]
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use fhirbolt::model::r4::Resource;
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::{PlanContent, PlanId};
    use crate::fhir::to_json;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn record(usual_gp: Value) -> PlanRecord {
        let content: PlanContent = serde_json::from_value(json!({
            "consent_to_share": {
                "status": "given",
                "date": "2026-11-01",
                "recorded_by": {"name": "Dr Amy Patel"}
            },
            "person": {
                "nhs_number": "9434765919",
                "family_name": "Kowalski",
                "given_names": ["Jan"],
                "birth_date": "1941-03-05",
                "gender": "male"
            },
            "usual_gp": usual_gp,
            "diagnosis": {"primary": {"text": "Lung cancer"}}
        }))
        .unwrap();
        PlanRecord::create(PlanId::new_random(), content, now(), "t").unwrap()
    }

    fn json_of(organization: &Organization) -> Value {
        to_json(&Resource::Organization(Box::new(organization.clone()))).unwrap()
    }

    #[test]
    fn gp_practice_with_ods_code() {
        let record = record(json!({
            "gp_name": "Dr Amy Patel",
            "practice_name": "Mill Lane Surgery",
            "practice_ods_code": "y01234",
            "phone": "01632 960100"
        }));
        let ids = PlanIds::new(record.id);
        let all = organizations(&record, &ids);
        assert_eq!(all.len(), 1);
        let json = json_of(&all[0]);
        assert_eq!(json["id"], ids.gp_practice());
        assert_eq!(json["meta"]["profile"][0], profile::ORGANIZATION);
        assert_eq!(json["meta"]["versionId"], "1");
        assert_eq!(
            json["identifier"],
            json!([{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y01234"}])
        );
        assert_eq!(json["name"], "Mill Lane Surgery");
        assert_eq!(
            json["telecom"],
            json!([{"system": "phone", "value": "01632 960100", "use": "work"}])
        );
        assert_eq!(json["type"][0]["coding"][0]["code"], "prov");
        let div = json["text"]["div"].as_str().unwrap();
        assert!(
            div.contains("Mill Lane Surgery") && div.contains("Y01234"),
            "{div}"
        );
    }

    #[test]
    fn no_phone_means_no_telecom() {
        let record = record(json!({
            "practice_name": "Mill Lane Surgery",
            "practice_ods_code": "Y01234"
        }));
        let json = json_of(&organizations(&record, &PlanIds::new(record.id))[0]);
        assert!(json.get("telecom").is_none());
        assert!(!json.to_string().contains("[]"), "{json}");
    }
}

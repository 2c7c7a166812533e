//! `AuditEvent` read and search under `/fhir` (the guard requires an AuditEvent scope, which
//! the `*` wildcard does not grant). Searches: `patient` (reference or `:identifier` NHS
//! number), `agent` (client id or end user), `entity` (a resource reference), `date` (with
//! `eq`, `ge`, `gt`, `le`, `lt` prefixes, repeatable), newest first, `_count` per page with a
//! `next` link.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use fhirbolt::model::r4::resources::{Bundle, BundleEntry, BundleEntrySearch, BundleLink};
use fhirbolt::model::r4::Resource;
use uuid::Uuid;

use super::fhir::{base_url, fail, query_pairs, rendering, respond};
use crate::audit::{AuditQuery, DateBound};
use crate::error::{Error, FhirError};
use crate::fhir::audit_event::audit_event;
use crate::fhir::codes;
use crate::fhir::format::render;
use crate::fhir::support::code;
use crate::service::PlanService;

const DEFAULT_COUNT: u32 = 50;
const MAX_COUNT: u32 = 500;

/// `GET /fhir/AuditEvent/{id}`.
pub async fn read(
    service: web::Data<PlanService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let missing = || fail(rendering)(Error::NotFound(format!("AuditEvent/{id} is not known")));
    let uuid = Uuid::parse_str(&id).map_err(|_| missing())?;
    let record = service
        .get_audit(uuid)
        .await
        .map_err(fail(rendering))?
        .ok_or_else(missing)?;
    let event = audit_event(&record, &base_url(&request));
    respond(
        &request,
        rendering,
        &Resource::AuditEvent(Box::new(event)),
        None,
    )
}

fn date_bounds(raw: &str) -> Result<Vec<DateBound>, Error> {
    let bad = || {
        Error::bad_field(
            "date",
            "expected [eq|ge|gt|le|lt]YYYY-MM-DD or a dateTime with a time zone",
        )
    };
    let (prefix, value) = match raw.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &raw[2..]),
        _ => ("eq", raw),
    };
    let (start, step) = if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).ok_or_else(bad)?);
        (start, Duration::days(1))
    } else {
        let at = DateTime::parse_from_rfc3339(value).map_err(|_| bad())?;
        (at.with_timezone(&Utc), Duration::seconds(1))
    };
    let end = start + step;
    Ok(match prefix {
        "ge" => vec![DateBound::From(start)],
        "gt" => vec![DateBound::From(end)],
        "lt" => vec![DateBound::Before(start)],
        "le" => vec![DateBound::Before(end)],
        _ => vec![DateBound::From(start), DateBound::Before(end)],
    })
}

fn cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid), Error> {
    let bad = || Error::bad_field("_cursor", "use the next link as given");
    let (at, id) = raw.split_once('_').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Ok((
        at.with_timezone(&Utc),
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

fn parse(params: &[(String, String)]) -> Result<AuditQuery, Error> {
    let mut query = AuditQuery {
        limit: DEFAULT_COUNT,
        ..AuditQuery::default()
    };
    for (name, value) in params {
        match name.as_str() {
            "patient" => {
                let id = value.strip_prefix("Patient/").unwrap_or(value);
                query.patient_id = Some(id.to_owned());
            }
            "patient:identifier" => {
                let number = match value.split_once('|') {
                    Some((system, number)) if system == codes::NHS_NUMBER || system.is_empty() => {
                        number
                    }
                    Some(_) => {
                        return Err(Error::bad_field(
                            name,
                            format!("the identifier system must be {}", codes::NHS_NUMBER),
                        ))
                    }
                    None => value.as_str(),
                };
                let nhs = crate::domain::NhsNumber::parse(number)
                    .map_err(|e| Error::bad_field(name, e.to_string()))?;
                query.nhs_number = Some(nhs.as_str().to_owned());
            }
            "agent" | "agent:identifier" => {
                let id = value
                    .strip_prefix("Device/")
                    .or_else(|| value.split_once('|').map(|(_, v)| v))
                    .unwrap_or(value);
                query.agent = Some(id.to_owned());
            }
            "entity" => {
                // `Type/id`, or an absolute URL ending in it.
                let mut parts = value.rsplit('/');
                let (id, resource_type) = match (parts.next(), parts.next()) {
                    (Some(id), Some(t)) if !id.is_empty() && !t.is_empty() => (id, t),
                    _ => return Err(Error::bad_field(name, "expected Type/id")),
                };
                query.entity = Some((resource_type.to_owned(), id.to_owned()));
            }
            "date" => query.dates.extend(date_bounds(value)?),
            "_count" => {
                let count: u32 = value
                    .parse()
                    .map_err(|_| Error::bad_field(name, "a whole number"))?;
                query.limit = count.clamp(1, MAX_COUNT);
            }
            "_cursor" => query.before = Some(cursor(value)?),
            "_format" | "_pretty" => {}
            other => {
                return Err(Error::bad_field(
                    other,
                    "not a search parameter of AuditEvent here (patient, patient:identifier, \
                     agent, entity, date, _count)",
                ))
            }
        }
    }
    Ok(query)
}

/// The NHS number of the plan whose Patient is `patient_id`, if the service holds that plan (a
/// plan's NHS number never changes, and the audit trail names each Patient with it).
async fn nhs_number_of_patient(
    service: &PlanService,
    patient_id: Option<&str>,
) -> Result<Option<String>, Error> {
    let Some(id) = patient_id else {
        return Ok(None);
    };
    let Some(plan) = service.locate("Patient", id).await? else {
        return Ok(None);
    };
    let record = service.get(plan).await?;
    Ok(Some(record.plan.person.nhs_number.as_str().to_owned()))
}

/// `GET /fhir/AuditEvent?…`.
pub async fn search(
    service: web::Data<PlanService>,
    request: HttpRequest,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let params = query_pairs(&request);
    let mut query = parse(&params).map_err(fail(rendering))?;
    query.patient_nhs_number = nhs_number_of_patient(&service, query.patient_id.as_deref())
        .await
        .map_err(fail(rendering))?;
    let records = service
        .search_audit(&query)
        .await
        .map_err(fail(rendering))?;
    let base = base_url(&request);
    let self_query: Vec<(String, String)> = params
        .iter()
        .filter(|(n, _)| n != "_cursor")
        .cloned()
        .collect();
    let encode = |pairs: &[(String, String)]| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            serializer.append_pair(name, value);
        }
        format!("{base}/AuditEvent?{}", serializer.finish())
    };
    let mut links = vec![BundleLink {
        relation: "self".into(),
        url: encode(&params).into(),
        ..Default::default()
    }];
    if records.len() == query.limit as usize {
        if let Some(last) = records.last() {
            let mut next = self_query.clone();
            next.push((
                "_cursor".into(),
                format!(
                    "{}_{}",
                    crate::fhir::support::instant(&last.recorded),
                    last.id
                ),
            ));
            links.push(BundleLink {
                relation: "next".into(),
                url: encode(&next).into(),
                ..Default::default()
            });
        }
    }
    let entries = records
        .iter()
        .map(|record| BundleEntry {
            full_url: Some(format!("{base}/AuditEvent/{}", record.id).into()),
            resource: Some(Resource::AuditEvent(Box::new(audit_event(record, &base)))),
            search: Some(BundleEntrySearch {
                mode: Some(code("match")),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let bundle = Resource::Bundle(Box::new(Bundle {
        r#type: code("searchset"),
        link: links,
        entry: entries,
        ..Default::default()
    }));
    let body = render(&bundle, rendering).map_err(fail(rendering))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, rendering.format.content_type()))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_become_criteria() {
        let query = parse(&pairs(&[
            ("patient", "Patient/abc"),
            (
                "patient:identifier",
                "https://fhir.nhs.uk/Id/nhs-number|9990000018",
            ),
            ("agent", "cad"),
            ("entity", "CarePlan/123"),
            ("date", "ge2026-11-01"),
            ("date", "lt2026-11-24T00:00:00Z"),
            ("_count", "10000"),
        ]))
        .unwrap();
        assert_eq!(query.patient_id.as_deref(), Some("abc"));
        assert_eq!(query.nhs_number.as_deref(), Some("9990000018"));
        assert_eq!(query.agent.as_deref(), Some("cad"));
        assert_eq!(query.entity, Some(("CarePlan".into(), "123".into())));
        assert_eq!(query.dates.len(), 2);
        assert_eq!(query.limit, MAX_COUNT);
    }

    #[test]
    fn a_plain_date_is_that_whole_day() {
        let bounds = date_bounds("2026-11-23").unwrap();
        assert_eq!(
            bounds,
            vec![
                DateBound::From("2026-11-23T00:00:00Z".parse().unwrap()),
                DateBound::Before("2026-11-24T00:00:00Z".parse().unwrap()),
            ]
        );
        assert_eq!(
            date_bounds("le2026-11-23").unwrap(),
            vec![DateBound::Before("2026-11-24T00:00:00Z".parse().unwrap())]
        );
    }

    #[test]
    fn bad_parameters_name_the_field() {
        for bad in [
            ("patient:identifier", "9990000019"),
            ("date", "yesterday"),
            ("_count", "many"),
            ("subtype", "read"),
            ("_cursor", "x"),
        ] {
            let error = parse(&pairs(&[bad])).unwrap_err();
            assert!(
                matches!(&error, Error::BadRequest { errors, .. } if errors[0].path == bad.0),
                "{bad:?}: {error:?}"
            );
        }
    }
}

//! The project's conformance resources: the StructureDefinitions, ValueSets, CodeSystems and
//! OperationDefinitions of `profiles/`, embedded at compile time (`build.rs`), parsed once, and
//! found by id or searched by `url`, `name` and `version`. They hold no patient data.

use std::sync::OnceLock;

use fhirbolt::model::r4::Resource;
use serde_json::Value;

use crate::error::Error;

mod files {
    include!(concat!(env!("OUT_DIR"), "/conformance_files.rs"));
}

/// The conformance resource types served, read-only.
pub const TYPES: [&str; 4] = [
    "StructureDefinition",
    "ValueSet",
    "CodeSystem",
    "OperationDefinition",
];

/// The search parameters of every conformance type: (name, FHIR type).
pub const SEARCH_PARAMETERS: [(&str, &str); 3] =
    [("url", "uri"), ("name", "string"), ("version", "token")];

/// One conformance resource and what it is found by.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// `resourceType`.
    pub resource_type: String,
    /// `id`.
    pub id: String,
    /// The canonical `url`.
    pub url: String,
    /// The computer-friendly `name`.
    pub name: String,
    /// The business `version`, if any.
    pub version: Option<String>,
    /// For a StructureDefinition that profiles a resource type: that type.
    pub profiled_type: Option<String>,
    /// The resource itself.
    pub resource: Resource,
}

/// Every conformance resource of `profiles/`.
#[derive(Debug)]
pub struct Catalogue {
    artifacts: Vec<Artifact>,
}

/// The catalogue of the embedded files, parsed on first use.
pub fn catalogue() -> Result<&'static Catalogue, Error> {
    static CATALOGUE: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| Catalogue::load(files::FILES))
        .as_ref()
        .map_err(|e| Error::Internal(format!("conformance resources: {e}")))
}

impl Catalogue {
    /// Parses (file name, JSON) pairs; files of other resource types are left out.
    pub fn load(files: &[(&str, &str)]) -> Result<Self, String> {
        let mut artifacts = Vec::new();
        for (name, json) in files {
            let value: Value =
                serde_json::from_str(json).map_err(|e| format!("{name}: not JSON: {e}"))?;
            let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
            let Some(resource_type) = text("resourceType") else {
                return Err(format!("{name}: no resourceType"));
            };
            if !TYPES.contains(&resource_type.as_str()) {
                continue;
            }
            let (Some(id), Some(url), Some(title)) = (text("id"), text("url"), text("name")) else {
                return Err(format!("{name}: id, url and name are required"));
            };
            let profiled_type = (resource_type == "StructureDefinition"
                && text("kind").as_deref() == Some("resource")
                && text("derivation").as_deref() == Some("constraint"))
            .then(|| text("type"))
            .flatten();
            let resource = fhirbolt::json::from_str::<Resource>(json, None)
                .map_err(|e| format!("{name}: not FHIR R4: {e}"))?;
            if artifacts
                .iter()
                .any(|a: &Artifact| a.resource_type == resource_type && a.id == id)
            {
                return Err(format!("{name}: {resource_type}/{id} is defined twice"));
            }
            artifacts.push(Artifact {
                resource_type,
                id,
                url,
                name: title,
                version: text("version"),
                profiled_type,
                resource,
            });
        }
        Ok(Self { artifacts })
    }

    /// Every artifact, in file order.
    pub fn all(&self) -> impl Iterator<Item = &Artifact> {
        self.artifacts.iter()
    }

    /// The artifact `resource_type/id`.
    pub fn read(&self, resource_type: &str, id: &str) -> Option<&Artifact> {
        self.artifacts
            .iter()
            .find(|a| a.resource_type == resource_type && a.id == id)
    }

    /// The canonical URLs of the profiles on `resource_type` (CapabilityStatement
    /// `supportedProfile`).
    pub fn profiles_of(&self, resource_type: &str) -> Vec<&str> {
        self.artifacts
            .iter()
            .filter(|a| a.profiled_type.as_deref() == Some(resource_type))
            .map(|a| a.url.as_str())
            .collect()
    }

    /// The artifacts of `resource_type` that match every parameter of `query` (a repeated
    /// parameter is an AND, a comma inside a value an OR). `_format` and `_pretty` are about the
    /// response and skipped; any other parameter is a bad request.
    pub fn search(
        &self,
        resource_type: &str,
        query: &[(String, String)],
    ) -> Result<Vec<&Artifact>, Error> {
        let mut criteria = Vec::new();
        for (key, value) in query {
            let (name, modifier) = key
                .split_once(':')
                .map_or((key.as_str(), None), |(n, m)| (n, Some(m)));
            let criterion = match (name, modifier) {
                ("_format" | "_pretty", None) => continue,
                ("url", None) => Criterion::Url,
                ("name", None) => Criterion::Name { exact: false },
                ("name", Some("exact")) => Criterion::Name { exact: true },
                ("version", None) => Criterion::Version,
                _ => {
                    return Err(Error::bad_field(
                        key.clone(),
                        format!(
                            "search parameter `{key}` is not supported on {resource_type} \
                             (url, name, name:exact, version)"
                        ),
                    ))
                }
            };
            if value.is_empty() {
                return Err(Error::bad_field(
                    key.clone(),
                    format!("`{key}` has no value"),
                ));
            }
            criteria.push((
                criterion,
                value.split(',').map(str::to_owned).collect::<Vec<_>>(),
            ));
        }
        Ok(self
            .artifacts
            .iter()
            .filter(|a| a.resource_type == resource_type)
            .filter(|a| {
                criteria
                    .iter()
                    .all(|(criterion, values)| values.iter().any(|v| criterion.matches(a, v)))
            })
            .collect())
    }
}

#[derive(Debug, Clone, Copy)]
enum Criterion {
    /// `url`: the canonical URL, exactly; `url|version` also pins the version.
    Url,
    /// `name`: case-insensitive prefix (string search), or the whole name with `:exact`.
    Name { exact: bool },
    /// `version`: exactly.
    Version,
}

impl Criterion {
    fn matches(self, artifact: &Artifact, value: &str) -> bool {
        match self {
            Self::Url => match value.split_once('|') {
                Some((url, version)) => {
                    artifact.url == url && artifact.version.as_deref() == Some(version)
                }
                None => artifact.url == value,
            },
            Self::Name { exact: true } => artifact.name == value,
            Self::Name { exact: false } => artifact
                .name
                .to_lowercase()
                .starts_with(&value.to_lowercase()),
            Self::Version => artifact.version.as_deref() == Some(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn ids<'a>(found: &[&'a Artifact]) -> Vec<&'a str> {
        found.iter().map(|a| a.id.as_str()).collect()
    }

    #[test]
    fn every_embedded_file_loads_and_every_projected_profile_is_there() {
        let catalogue = catalogue().unwrap();
        assert!(catalogue.all().count() >= files::FILES.len() - 1); // README.md is not JSON
        for url in [
            crate::fhir::codes::profile::CARE_PLAN,
            crate::fhir::codes::profile::CPR_CONSENT,
            crate::fhir::codes::profile::ADRT_CONSENT,
            crate::fhir::codes::profile::SHARE_CONSENT,
            crate::fhir::codes::profile::GOAL,
            crate::fhir::codes::profile::PATIENT,
            crate::fhir::codes::profile::RELATED_PERSON,
            crate::fhir::codes::profile::PRACTITIONER,
            crate::fhir::codes::profile::ORGANIZATION,
            crate::fhir::codes::profile::SUMMARY_COMPOSITION,
            crate::fhir::codes::profile::SUMMARY_BUNDLE,
        ] {
            let found = catalogue
                .search("StructureDefinition", &query(&[("url", url)]))
                .unwrap();
            assert_eq!(found.len(), 1, "{url}");
        }
    }

    #[test]
    fn search_by_url_name_and_version() {
        let catalogue = catalogue().unwrap();
        let patient = "https://acp-fhir.example.org/fhir/StructureDefinition/acp-patient";
        let by_url = catalogue
            .search("StructureDefinition", &query(&[("url", patient)]))
            .unwrap();
        assert_eq!(ids(&by_url), ["acp-patient"]);
        let pinned = format!("{patient}|0.1.0");
        let by_pinned = catalogue
            .search("StructureDefinition", &query(&[("url", &pinned)]))
            .unwrap();
        assert_eq!(ids(&by_pinned), ["acp-patient"]);
        let other_version = format!("{patient}|9.9.9");
        assert!(catalogue
            .search("StructureDefinition", &query(&[("url", &other_version)]))
            .unwrap()
            .is_empty());
        let by_name = catalogue
            .search("StructureDefinition", &query(&[("name", "acpcpr")]))
            .unwrap();
        assert_eq!(ids(&by_name), ["acp-cpr-decision-consent"]);
        assert!(catalogue
            .search("StructureDefinition", &query(&[("name:exact", "acpcpr")]))
            .unwrap()
            .is_empty());
        let either = catalogue
            .search(
                "CodeSystem",
                &query(&[("name", "DeathLocationCodes,SummarySectionCodes")]),
            )
            .unwrap();
        assert_eq!(ids(&either), ["death-location", "summary-section"]);
        let none = catalogue
            .search("ValueSet", &query(&[("version", "0.0.0")]))
            .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let catalogue = catalogue().unwrap();
        assert!(catalogue
            .search("ValueSet", &query(&[("title", "x")]))
            .is_err());
        assert!(catalogue
            .search("ValueSet", &query(&[("url", "")]))
            .is_err());
    }

    #[test]
    fn profiles_of_a_type_are_its_constraints() {
        let catalogue = catalogue().unwrap();
        assert_eq!(
            catalogue.profiles_of("Consent"),
            [
                crate::fhir::codes::profile::ADRT_CONSENT,
                crate::fhir::codes::profile::SHARE_CONSENT,
                crate::fhir::codes::profile::CPR_CONSENT,
            ]
        );
        assert!(catalogue.profiles_of("Extension").is_empty());
    }

    #[test]
    fn a_file_that_is_not_fhir_is_an_error() {
        assert!(Catalogue::load(&[("x.json", "{")]).is_err());
        assert!(Catalogue::load(&[(
            "x.json",
            r#"{"resourceType":"ValueSet","id":"a","url":"u","name":"N","status":5}"#
        )])
        .is_err());
    }
}

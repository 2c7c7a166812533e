//! The integration tests: one binary, each test with its own app on port 0 and its own database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod backends;
mod cli;
mod compose;
mod fhir_agreement;
mod fhir_api;
mod fhir_conformance;
mod fhir_dump;
mod fhir_golden;
mod fhir_provenance;
mod fhir_search;
mod fhir_write;
mod fixtures;
mod helpers;
mod load;
mod on_postgres;
mod security;
mod store_contract;

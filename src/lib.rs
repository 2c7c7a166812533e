//! acp-fhir: end-of-life care plans (consent to share, CPR decisions, ReSPECT, ADRTs, LPAs,
//! preferences) kept with their full history and served to whoever arrives at 3 a.m.
//!
//! Data flows one way: HTTP ([`http`]) → service ([`service`]) → store ([`store`]), with the
//! plan and its safety rules in [`domain`]. [`commands`] holds the CLI's jobs.

pub mod audit;
pub mod auth;
pub mod clock;
pub mod commands;
pub mod config;
pub mod domain;
pub mod error;
pub mod fhir;
pub mod generate;
pub mod http;
pub mod ndjson;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod writes;

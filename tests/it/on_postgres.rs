//! The HTTP integration tests of `api.rs` again, on PostgreSQL (a schema per test) when
//! `ACP_TEST_POSTGRES_URL` is set: `api.rs` takes its helpers from `super::helpers`, which here
//! start the app on PostgreSQL.

pub mod helpers {
    pub use crate::helpers::*;

    pub async fn spawn_app() -> TestApp {
        spawn_app_on_postgres(acp_fhir::http::DEFAULT_BODY_LIMIT).await
    }

    pub async fn spawn_app_with_limit(body_limit: usize) -> TestApp {
        spawn_app_on_postgres(body_limit).await
    }
}

// The same file as `crate::api`, deliberately: one battery, two backends.
#[allow(clippy::duplicate_mod)]
#[path = "api.rs"]
mod api;

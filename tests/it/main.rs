//! The integration tests: one binary, each test with its own app on port 0 and its own database.

mod fixtures;

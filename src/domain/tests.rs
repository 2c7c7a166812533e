//! Validation and lifecycle rules, each with a case that passes and one that fails.

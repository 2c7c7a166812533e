//! Error paths of the inverse mapping.

//! The synthetic fixtures parse, validate and cover every safety scenario.

//! Identifiers with rules of their own, parsed once at the edge: the NHS number (Modulus 11
//! check digit), the ODS organisation code, SNOMED CT concept ids (Verhoeff check digit) and the
//! plan's own ids.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an NHS number is exactly 10 digits (spaces allowed between groups)")]
    NhsNumberFormat,
    #[error("the NHS number's check digit is wrong")]
    NhsNumberCheckDigit,
    #[error("an ODS code is 3 to 10 letters and digits")]
    OdsCodeFormat,
    #[error("a SNOMED CT concept id is 6 to 18 digits with a valid Verhoeff check digit")]
    SnomedCode,
    #[error("not a UUID")]
    Uuid,
}

/// A 10-digit NHS number whose Modulus 11 check digit is valid. Stored without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber(String);

impl NhsNumber {
    /// Parses `9990000018` or `999 000 0018`; anything else is refused.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let trimmed = input.trim();
        let digits: String = if trimmed.len() == 12 {
            // The NHS writes numbers as 3-3-4 groups; accept exactly that spacing.
            let bytes = trimmed.as_bytes();
            if bytes[3] != b' ' || bytes[7] != b' ' {
                return Err(IdError::NhsNumberFormat);
            }
            trimmed.chars().filter(|c| *c != ' ').collect()
        } else {
            trimmed.to_owned()
        };
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::NhsNumberFormat);
        }
        let values: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = values[..9]
            .iter()
            .zip((2..=10).rev())
            .map(|(digit, weight)| digit * weight)
            .sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            10 => return Err(IdError::NhsNumberCheckDigit),
            other => other,
        };
        if check != values[9] {
            return Err(IdError::NhsNumberCheckDigit);
        }
        Ok(Self(digits))
    }

    /// The 10 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Organisation Data Service code (GP practices are one letter and five digits, e.g.
/// `A81001`; other organisations differ, so only the general shape is enforced).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OdsCode(String);

impl OdsCode {
    /// Parses an ODS code, upper-casing it.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let code = input.trim().to_ascii_uppercase();
        if !(3..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdError::OdsCodeFormat);
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SNOMED CT concept id: 6–18 digits, no leading zero, Verhoeff check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnomedCode(String);

impl SnomedCode {
    /// Parses a SNOMED CT concept id.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let code = input.trim();
        if !(6..=18).contains(&code.len())
            || !code.bytes().all(|b| b.is_ascii_digit())
            || code.starts_with('0')
            || !verhoeff_valid(code)
        {
            return Err(IdError::SnomedCode);
        }
        Ok(Self(code.to_owned()))
    }

    /// The concept id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

fn verhoeff_valid(digits: &str) -> bool {
    let mut check = 0u8;
    for (position, byte) in digits.bytes().rev().enumerate() {
        let digit = usize::from(byte - b'0');
        check = VERHOEFF_D[usize::from(check)][usize::from(VERHOEFF_P[position % 8][digit])];
    }
    check == 0
}

macro_rules! string_newtype_serde {
    ($ty:ident, $name:literal, $pattern:literal, $description:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = Cow::<str>::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $description })
            }
        }
    };
}

string_newtype_serde!(
    NhsNumber,
    "NhsNumber",
    "^[0-9]{10}$",
    "NHS number: 10 digits with a valid Modulus 11 check digit"
);
string_newtype_serde!(
    OdsCode,
    "OdsCode",
    "^[A-Za-z0-9]{3,10}$",
    "ODS organisation code"
);
string_newtype_serde!(
    SnomedCode,
    "SnomedCode",
    "^[1-9][0-9]{5,17}$",
    "SNOMED CT concept id (Verhoeff check digit)"
);

macro_rules! uuid_id {
    ($ty:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $ty(Uuid);

        impl $ty {
            /// A new random id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            /// Parses the hyphenated UUID form.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                Uuid::parse_str(input).map(Self).map_err(|_| IdError::Uuid)
            }
            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }
        impl From<Uuid> for $ty {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "format": "uuid" })
            }
        }
    };
}

uuid_id!(
    PlanId,
    "The identity of one person's care plan, stable across its versions."
);
uuid_id!(
    DecisionId,
    "The identity of one decision (CPR decision or ADRT) inside a plan."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_number_accepts_valid_test_range_numbers() {
        for valid in ["9990000018", "999 000 0018", " 9990000026 "] {
            assert!(NhsNumber::parse(valid).is_ok(), "{valid}");
        }
        assert_eq!(
            NhsNumber::parse("999 000 0018").map(|n| n.as_str().to_owned()),
            Ok("9990000018".to_owned())
        );
    }

    #[test]
    fn nhs_number_rejects_bad_check_digit() {
        assert_eq!(
            NhsNumber::parse("9990000017"),
            Err(IdError::NhsNumberCheckDigit)
        );
    }

    #[test]
    fn nhs_number_rejects_when_check_would_be_ten() {
        // 999000000x: weights give remainder 1, so the check digit would be 10: never issued.
        let all_invalid = (0..10).all(|d| NhsNumber::parse(&format!("999000000{d}")).is_err());
        let sum: u32 = [9, 9, 9, 0, 0, 0, 0, 0, 0]
            .iter()
            .zip((2..=10).rev())
            .map(|(d, w)| d * w)
            .sum();
        assert_eq!(11 - sum % 11, 10);
        assert!(all_invalid);
    }

    #[test]
    fn nhs_number_rejects_wrong_shapes() {
        for bad in [
            "",
            "999000001",
            "99900000180",
            "999-000-0018",
            "99 9000 0018",
            "999000001a",
            "９９９０００００１８",
        ] {
            assert_eq!(
                NhsNumber::parse(bad),
                Err(IdError::NhsNumberFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn nhs_number_deserialises_through_parse() {
        let ok: Result<NhsNumber, _> = serde_json::from_str("\"9990000018\"");
        assert!(ok.is_ok());
        let bad: Result<NhsNumber, _> = serde_json::from_str("\"9990000017\"");
        assert!(bad.is_err());
    }

    #[test]
    fn ods_code_parsing() {
        assert_eq!(
            OdsCode::parse("a81001").map(|c| c.0),
            Ok("A81001".to_owned())
        );
        assert!(OdsCode::parse("RX1").is_ok());
        for bad in ["", "A8", "A81-001", "ABCDEFGHIJK", "A81 001"] {
            assert_eq!(OdsCode::parse(bad), Err(IdError::OdsCodeFormat), "{bad}");
        }
    }

    #[test]
    fn snomed_codes_from_domain_reference_pass_verhoeff() {
        for code in [
            "736373009",
            "450475007",
            "450476008",
            "89666000",
            "816301000000100",
            "861421000000109",
            "1382601000000107",
            "32485007",
            "281789004",
        ] {
            assert!(SnomedCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn snomed_code_rejects_bad_check_digit_and_shape() {
        for bad in ["736373008", "450476009", "12345", "0736373009", "73637300x"] {
            assert_eq!(SnomedCode::parse(bad), Err(IdError::SnomedCode), "{bad}");
        }
    }
}

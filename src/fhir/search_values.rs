//! The value syntaxes of search (R4 search.html): escaped comma lists, tokens
//! (`[system]|[code]`), dates as ranges with a precision, references, and the case- and
//! accent-folding of string search. Pure functions; the parser turns their failures into 400s.

use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;

use crate::domain::NhsNumber;
use crate::fhir::codes;

/// Splits `input` at the `separator`s not escaped by `\`, leaving escapes in the parts (for a
/// further split at an inner separator, then [`unescape`]).
pub(crate) fn split_raw(input: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if escaped {
        current.push('\\');
    }
    parts.push(current);
    parts
}

/// Removes the R4 escapes `\,` `\|` `\$` `\\`; other backslashes stay.
pub(crate) fn unescape(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(next @ (',' | '|' | '$' | '\\')) => out.push(next),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The system part of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SystemMatch {
    /// `code`: any system.
    Any,
    /// `|code`: no system.
    Absent,
    /// `system|code` or `system|`.
    Is(String),
}

/// A token search value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenValue {
    /// The system part.
    pub(crate) system: SystemMatch,
    /// The code (`None` for `system|`: any code of the system).
    pub(crate) code: Option<String>,
}

impl TokenValue {
    /// Parses one (already comma-split) token value; `None` when it says nothing (`|`).
    pub(crate) fn parse(input: &str) -> Option<Self> {
        let parts = split_raw(input, '|');
        let (system, code) = match parts.as_slice() {
            [code] => (SystemMatch::Any, unescape(code)),
            [system, code] if system.is_empty() => (SystemMatch::Absent, unescape(code)),
            [system, code] => (SystemMatch::Is(unescape(system)), unescape(code)),
            _ => return None,
        };
        let code = (!code.is_empty()).then_some(code);
        if code.is_none() && !matches!(system, SystemMatch::Is(_)) {
            return None;
        }
        Some(Self { system, code })
    }

    fn system_matches(&self, system: Option<&str>) -> bool {
        match &self.system {
            SystemMatch::Any => true,
            SystemMatch::Absent => system.is_none(),
            SystemMatch::Is(wanted) => system == Some(wanted.as_str()),
        }
    }

    fn code_matches(&self, code: Option<&str>) -> bool {
        match (&self.code, code) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(wanted), Some(code)) => wanted == code,
        }
    }

    /// Against a Coding (`system`, `code`) or an Identifier (`system`, `value`).
    pub(crate) fn matches_pair(&self, object: &Value, code_key: &str) -> bool {
        self.system_matches(object.get("system").and_then(Value::as_str))
            && self.code_matches(object.get(code_key).and_then(Value::as_str))
    }

    /// Against a CodeableConcept: any of its codings.
    pub(crate) fn matches_concept(&self, concept: &Value) -> bool {
        match concept.get("coding") {
            Some(Value::Array(codings)) => codings.iter().any(|c| self.matches_pair(c, "code")),
            _ => false,
        }
    }

    /// Against a plain code. A code element has no system of its own (its code system is
    /// implied by its binding), so the system part is not compared.
    pub(crate) fn matches_code(&self, code: &Value) -> bool {
        self.code_matches(code.as_str())
    }
}

/// Lower-cases and removes accents (Latin letters; combining marks are dropped), for string
/// search and `:text`.
pub(crate) fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars().flat_map(char::to_lowercase) {
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        match base_letter(c) {
            Some(base) => out.push_str(base),
            None => out.push(c),
        }
    }
    out
}

fn base_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' | 'ǎ' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ð' | 'ď' | 'đ' => "d",
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ǒ' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ǔ' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// A date range in milliseconds since the epoch, half open: `[start, end)`; `i64::MIN` and
/// `i64::MAX` stand for open ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    /// Inclusive start.
    pub(crate) start: i64,
    /// Exclusive end.
    pub(crate) end: i64,
}

/// A date prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// A date search value: prefix and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateValue {
    /// The comparison.
    pub(crate) prefix: Prefix,
    /// The range the value stands for.
    pub(crate) range: Range,
}

/// How far `ap` reaches either side of the search range: one day. (R4 suggests 10% of the gap
/// between the value and now; a fixed day keeps results independent of the clock.)
pub(crate) const APPROXIMATE_MS: i64 = 24 * 60 * 60 * 1000;

impl DateValue {
    /// Parses `[prefix]value`; `None` when malformed.
    pub(crate) fn parse(input: &str) -> Option<Self> {
        let prefixes = [
            ("eq", Prefix::Eq),
            ("ne", Prefix::Ne),
            ("gt", Prefix::Gt),
            ("lt", Prefix::Lt),
            ("ge", Prefix::Ge),
            ("le", Prefix::Le),
            ("sa", Prefix::Sa),
            ("eb", Prefix::Eb),
            ("ap", Prefix::Ap),
        ];
        let (prefix, rest) = prefixes
            .iter()
            .find_map(|(text, prefix)| input.strip_prefix(text).map(|rest| (*prefix, rest)))
            .unwrap_or((Prefix::Eq, input));
        Some(Self {
            prefix,
            range: parse_range(rest, true)?,
        })
    }

    /// Whether a resource value's range meets this value (R4 search.html, date prefixes).
    pub(crate) fn matches(&self, target: Range) -> bool {
        let s = self.range;
        let within = s.start <= target.start && target.end <= s.end;
        let above = target.end > s.end;
        let below = target.start < s.start;
        match self.prefix {
            Prefix::Eq => within,
            Prefix::Ne => !within,
            Prefix::Gt => above,
            Prefix::Lt => below,
            Prefix::Ge => above || within,
            Prefix::Le => below || within,
            Prefix::Sa => target.start >= s.end,
            Prefix::Eb => target.end <= s.start,
            Prefix::Ap => {
                let start = s.start.saturating_sub(APPROXIMATE_MS);
                let end = s.end.saturating_add(APPROXIMATE_MS);
                target.start < end && start < target.end
            }
        }
    }
}

/// The range of a resource's date element: a date, dateTime or instant string, or a Period
/// (open ends reach to infinity).
pub(crate) fn value_range(value: &Value) -> Option<Range> {
    match value {
        Value::String(text) => parse_range(text, false),
        Value::Object(period) => {
            let start = period.get("start").and_then(Value::as_str);
            let end = period.get("end").and_then(Value::as_str);
            let start = match start {
                Some(text) => parse_range(text, false)?.start,
                None => i64::MIN,
            };
            let end = match end {
                Some(text) => parse_range(text, false)?.end,
                None => i64::MAX,
            };
            Some(Range { start, end })
        }
        _ => None,
    }
}

fn number(text: &str, from: usize, len: usize) -> Option<u32> {
    let part = text.get(from..from + len)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

fn day_start(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]` into the range
/// its precision covers. Dates and, in search values, dateTimes without a zone are taken as
/// UTC; a space before the offset (an unencoded `+` in a query) reads as `+`.
pub(crate) fn parse_range(text: &str, search_value: bool) -> Option<Range> {
    let year = number(text, 0, 4).filter(|y| *y >= 1)?;
    let year = i32::try_from(year).ok()?;
    match text.len() {
        4 => {
            let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
            let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
            return Some(Range {
                start: day_start(start),
                end: day_start(end),
            });
        }
        7 if text.as_bytes().get(4) == Some(&b'-') => {
            let month = number(text, 5, 2)?;
            let start = NaiveDate::from_ymd_opt(year, month, 1)?;
            let end = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)?
            };
            return Some(Range {
                start: day_start(start),
                end: day_start(end),
            });
        }
        _ => {}
    }
    let bytes = text.as_bytes();
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, number(text, 5, 2)?, number(text, 8, 2)?)?;
    if text.len() == 10 {
        let start = day_start(date);
        let end = day_start(date.succ_opt()?);
        return Some(Range { start, end });
    }
    if bytes.get(10) != Some(&b'T') || bytes.get(13) != Some(&b':') || bytes.get(16) != Some(&b':')
    {
        return None;
    }
    let time = NaiveTime::from_hms_opt(
        number(text, 11, 2)?,
        number(text, 14, 2)?,
        number(text, 17, 2)?,
    )?;
    let mut rest = text.get(19..)?;
    let mut width = 1000_i64;
    let mut millis = 0_i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &fraction[..digits.min(3)];
        let scale = 10_i64.pow(u32::try_from(3 - kept.len()).ok()?);
        millis = kept.parse::<i64>().ok()? * scale;
        width = scale;
        rest = &fraction[digits..];
    }
    let offset_minutes: i64 = match rest {
        "Z" => 0,
        "" if search_value => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') | Some(b' ') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return None;
            }
            let hours = i64::from(number(rest, 1, 2)?);
            let minutes = i64::from(number(rest, 4, 2)?);
            if hours > 14 || minutes > 59 {
                return None;
            }
            sign * (hours * 60 + minutes)
        }
    };
    let local = date.and_time(time).and_utc().timestamp_millis() + millis;
    let start = local - offset_minutes * 60_000;
    Some(Range {
        start,
        end: start + width,
    })
}

/// A reference search value (or a resource's reference), split into type and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefValue {
    /// The type, when the value says (`Patient/123`, an absolute URL) or the modifier does.
    pub(crate) resource_type: Option<String>,
    /// The logical id.
    pub(crate) id: String,
    /// The version, for a version-specific reference (`…/_history/n`).
    pub(crate) version: Option<String>,
}

impl RefValue {
    /// Parses `Type/id`, `id`, `[base]/Type/id` or any of them with `/_history/n`; `None` for
    /// contained (`#x`) or empty references.
    pub(crate) fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        if input.is_empty() || input.starts_with('#') {
            return None;
        }
        let mut segments: Vec<&str> = input.split('/').collect();
        let mut version = None;
        if segments.len() >= 4 && segments.get(segments.len() - 2) == Some(&"_history") {
            version = segments.last().map(|v| (*v).to_owned());
            segments.truncate(segments.len() - 2);
        }
        let id = (*segments.last()?).to_owned();
        if id.is_empty() {
            return None;
        }
        let resource_type = match segments.len() {
            0 | 1 => None,
            n => {
                let named = segments.get(n - 2).copied().unwrap_or_default();
                let valid = named.starts_with(|c: char| c.is_ascii_uppercase())
                    && named.chars().all(|c| c.is_ascii_alphanumeric());
                if !valid {
                    return None;
                }
                Some(named.to_owned())
            }
        };
        Some(Self {
            resource_type,
            id,
            version,
        })
    }

    /// Whether the resource's reference `other` points where this value does. A value without
    /// a version matches every version of the resource; one with a version does not match a
    /// version-specific reference to another version (a reference without one may be to any).
    pub(crate) fn matches(&self, other: &Self) -> bool {
        self.id == other.id
            && match (&self.resource_type, &other.resource_type) {
                (Some(wanted), Some(found)) => wanted == found,
                _ => true,
            }
            && match (&self.version, &other.version) {
                (Some(wanted), Some(found)) => wanted == found,
                _ => true,
            }
    }
}

/// A reference search value, of the implied type when it names none.
pub(crate) fn reference_value(
    value: &str,
    implied: Option<&str>,
    targets: &[&str],
) -> Result<RefValue, String> {
    let mut parsed = RefValue::parse(value)
        .ok_or_else(|| format!("`{value}` is not a reference (Type/id, id or a URL)"))?;
    match (&parsed.resource_type, implied) {
        (Some(given), _) if !targets.contains(&given.as_str()) => {
            Err(format!("`{given}` is not a type this parameter refers to"))
        }
        (Some(given), Some(implied)) if given != implied => {
            Err(format!("`{value}` is not a {implied}"))
        }
        (None, Some(implied)) => {
            parsed.resource_type = Some(implied.to_owned());
            Ok(parsed)
        }
        _ => Ok(parsed),
    }
}

/// An identifier token that names an NHS number (the NHS system, or no system and ten digits)
/// must have a valid check digit (H3: never a best guess); it is kept in its 10-digit form.
pub(crate) fn nhs_checked(token: TokenValue) -> Result<TokenValue, String> {
    let Some(code) = token.code.as_deref() else {
        return Ok(token);
    };
    let applies = match &token.system {
        SystemMatch::Is(system) => system == codes::NHS_NUMBER,
        SystemMatch::Any => {
            let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())
        }
        SystemMatch::Absent => false,
    };
    if !applies {
        return Ok(token);
    }
    match NhsNumber::parse(code) {
        Ok(number) => Ok(TokenValue {
            code: Some(number.as_str().to_owned()),
            ..token
        }),
        Err(error) => Err(format!("the NHS number is not valid ({error})")),
    }
}

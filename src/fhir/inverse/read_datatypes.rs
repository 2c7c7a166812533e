//! Telephone numbers, addresses, names and identifiers as the inverse mapping reads them (a
//! child module of `read`).

use fhirbolt::model::r4::types::{Address, ContactPoint, HumanName, Identifier};

use super::{absent, absent_list, at, at_index, no_element_id, no_extensions, prim, text, Cx};
use crate::domain::{Phone, PhoneKind};

fn phone_kind(code: &str) -> Option<PhoneKind> {
    match code {
        "home" => Some(PhoneKind::Home),
        "work" => Some(PhoneKind::Work),
        "mobile" => Some(PhoneKind::Mobile),
        "temp" => Some(PhoneKind::Temp),
        _ => None,
    }
}

/// A ContactPoint that must be a telephone number (system `phone`); `use` is its kind.
pub(in crate::fhir::inverse) fn phone(
    cx: &mut Cx<'_>,
    path: &str,
    value: &ContactPoint,
) -> Option<Phone> {
    let ContactPoint {
        id,
        extension,
        system,
        value: number,
        r#use,
        rank,
        period,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "rank"), rank);
    absent(cx, at(path, "period"), period);
    let system_path = at(path, "system");
    match system.as_ref().and_then(|s| prim(cx, &system_path, s)) {
        Some(system) if system == "phone" => {}
        Some(other) => cx.error(
            "not-supported",
            system_path,
            format!("only telephone numbers are kept here, not `{other}`"),
        ),
        None => cx.required(system_path, "say `phone`"),
    }
    let use_path = at(path, "use");
    let kind = match r#use.as_ref().and_then(|u| prim(cx, &use_path, u)) {
        None => None,
        Some(code) => match phone_kind(code) {
            Some(kind) => Some(kind),
            None => {
                cx.error(
                    "code-invalid",
                    use_path,
                    format!("`{code}` is not a telephone kind the plan keeps (home, work, mobile, temp)"),
                );
                None
            }
        },
    };
    let number_path = at(path, "value");
    let number = text(cx, &number_path, number.as_ref());
    if number.is_none() {
        cx.required(number_path, "the telephone number is missing");
    }
    number.map(|number| Phone { number, kind })
}

/// Telephone numbers of a `telecom` list.
pub(in crate::fhir::inverse) fn phones(
    cx: &mut Cx<'_>,
    base: &str,
    list: &[ContactPoint],
) -> Vec<Phone> {
    list.iter()
        .enumerate()
        .filter_map(|(index, c)| phone(cx, &at_index(base, "telecom", index), c))
        .collect()
}

/// An Address: lines, city, district, postcode; `use` may only be `expected_use`.
pub(in crate::fhir::inverse) fn address(
    cx: &mut Cx<'_>,
    path: &str,
    value: &Address,
    expected_use: Option<&str>,
) -> Option<crate::domain::Address> {
    let Address {
        id,
        extension,
        r#use,
        r#type,
        text: words,
        line,
        city,
        district,
        state,
        postal_code,
        country,
        period,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "type"), r#type);
    absent(cx, at(path, "text"), words);
    absent(cx, at(path, "state"), state);
    absent(cx, at(path, "country"), country);
    absent(cx, at(path, "period"), period);
    let use_path = at(path, "use");
    match (
        r#use.as_ref().and_then(|u| prim(cx, &use_path, u)),
        expected_use,
    ) {
        (None, _) => {}
        (Some(found), Some(expected)) if found == expected => {}
        (Some(found), _) => cx.error(
            "code-invalid",
            use_path,
            format!("an address of use `{found}` is not kept here"),
        ),
    }
    let lines = line
        .iter()
        .enumerate()
        .filter_map(|(index, l)| prim(cx, &at_index(path, "line", index), l).cloned())
        .collect();
    Some(crate::domain::Address {
        lines,
        city: text(cx, &at(path, "city"), city.as_ref()),
        district: text(cx, &at(path, "district"), district.as_ref()),
        postcode: text(cx, &at(path, "postalCode"), postal_code.as_ref()),
    })
}

/// A HumanName as read.
#[derive(Debug, Clone, Default)]
pub(in crate::fhir::inverse) struct NameRead {
    pub r#use: Option<String>,
    pub text: Option<String>,
    pub family: Option<String>,
    pub given: Vec<String>,
}

/// Reads a HumanName: use, text, family, given; prefix, suffix and period are refused.
pub(in crate::fhir::inverse) fn human_name(
    cx: &mut Cx<'_>,
    path: &str,
    value: &HumanName,
) -> NameRead {
    let HumanName {
        id,
        extension,
        r#use,
        text: words,
        family,
        given,
        prefix,
        suffix,
        period,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent_list(cx, path, "prefix", prefix);
    absent_list(cx, path, "suffix", suffix);
    absent(cx, at(path, "period"), period);
    NameRead {
        r#use: text(cx, &at(path, "use"), r#use.as_ref()),
        text: text(cx, &at(path, "text"), words.as_ref()),
        family: text(cx, &at(path, "family"), family.as_ref()),
        given: given
            .iter()
            .enumerate()
            .filter_map(|(index, g)| prim(cx, &at_index(path, "given", index), g).cloned())
            .collect(),
    }
}

/// The one name of a person known only by `name.text` (RelatedPerson, Practitioner).
pub(in crate::fhir::inverse) fn name_text(cx: &mut Cx<'_>, names: &[HumanName]) -> Option<String> {
    let root = cx.root();
    let mut found = None;
    for (index, name) in names.iter().enumerate() {
        let path = at_index(root, "name", index);
        if index > 0 {
            cx.not_supported(path);
            continue;
        }
        let read = human_name(cx, &path, name);
        absent(cx, at(&path, "use"), &read.r#use);
        absent(cx, at(&path, "family"), &read.family);
        absent_list(cx, &path, "given", &read.given);
        if read.text.is_none() {
            cx.required(at(&path, "text"), "the person's name is kept as text");
        }
        found = read.text;
    }
    if names.is_empty() {
        cx.required(at(root, "name"), "the person's name is missing");
    }
    found
}

/// An Identifier as read: system and value (use, type, period, assigner refused).
pub(in crate::fhir::inverse) fn identifier(
    cx: &mut Cx<'_>,
    path: &str,
    value: &Identifier,
) -> (Option<String>, Option<String>) {
    let Identifier {
        id,
        extension,
        r#use,
        r#type,
        system,
        value: v,
        period,
        assigner,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "use"), r#use);
    absent(cx, at(path, "type"), r#type);
    absent(cx, at(path, "period"), period);
    absent(cx, at(path, "assigner"), assigner);
    (
        text(cx, &at(path, "system"), system.as_ref()),
        text(cx, &at(path, "value"), v.as_ref()),
    )
}

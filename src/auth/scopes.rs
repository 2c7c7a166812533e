//! SMART on FHIR system scopes as typed values: v2 (`system/Consent.rs`,
//! `system/CarePlan.cruds`, `system/*.rs`) and v1 (`system/*.read`, `system/*.write`,
//! `system/Goal.*`), the permission an interaction needs, and the intersection of what a client
//! asks for with what it is registered for.
//!
//! The wildcard `*` covers every clinical resource type but never `AuditEvent`: reading the
//! audit trail takes a scope that names it (`system/AuditEvent.rs`).

use std::fmt;

/// The resource type the audit trail is served as; never covered by `*`.
pub const AUDIT_EVENT: &str = "AuditEvent";

/// One SMART permission letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `c`: create.
    Create,
    /// `r`: read, vread, history.
    Read,
    /// `u`: update.
    Update,
    /// `d`: delete.
    Delete,
    /// `s`: search.
    Search,
}

impl Permission {
    /// The interaction's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Search => "search",
        }
    }

    const ALL: [Self; 5] = [
        Self::Create,
        Self::Read,
        Self::Update,
        Self::Delete,
        Self::Search,
    ];

    fn bit(self) -> u8 {
        match self {
            Self::Create => 1,
            Self::Read => 2,
            Self::Update => 4,
            Self::Delete => 8,
            Self::Search => 16,
        }
    }

    /// The SMART v2 letter.
    pub fn letter(self) -> char {
        match self {
            Self::Create => 'c',
            Self::Read => 'r',
            Self::Update => 'u',
            Self::Delete => 'd',
            Self::Search => 's',
        }
    }
}

/// A set of permissions (the `cruds` part of a scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u8);

impl Permissions {
    /// Whether `permission` is in the set.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses SMART v2 letters, which must appear in the order `c r u d s`, each at most once.
    fn from_v2(text: &str) -> Option<Self> {
        let mut bits = 0u8;
        let mut next = 0usize;
        for letter in text.chars() {
            let position = Permission::ALL.iter().position(|p| p.letter() == letter)?;
            if position < next {
                return None;
            }
            bits |= Permission::ALL[position].bit();
            next = position + 1;
        }
        (bits != 0).then_some(Self(bits))
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for permission in Permission::ALL {
            if self.contains(permission) {
                write!(f, "{}", permission.letter())?;
            }
        }
        Ok(())
    }
}

/// What a scope is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeResource {
    /// `*`: every clinical type (not `AuditEvent`).
    Any,
    /// One resource type.
    Type(String),
}

impl ScopeResource {
    fn covers(&self, resource_type: &str) -> bool {
        match self {
            Self::Any => resource_type != AUDIT_EVENT,
            Self::Type(name) => name == resource_type,
        }
    }

    fn intersect(&self, other: &Self) -> Option<Self> {
        match (self, other) {
            (Self::Any, Self::Any) => Some(Self::Any),
            (Self::Any, Self::Type(name)) | (Self::Type(name), Self::Any) => {
                (name != AUDIT_EVENT).then(|| Self::Type(name.clone()))
            }
            (Self::Type(a), Self::Type(b)) => (a == b).then(|| Self::Type(a.clone())),
        }
    }
}

/// One parsed `system/…` scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The resource type, or any.
    pub resource: ScopeResource,
    /// What may be done.
    pub permissions: Permissions,
}

/// Why a scope string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope `{scope}`: {reason}")]
pub struct ScopeError {
    /// The scope as given.
    pub scope: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Scope {
    /// Parses one scope: `system/<Type|*>.<cruds subset | read | write | *>`.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let fail = |reason| ScopeError {
            scope: text.chars().take(100).collect(),
            reason,
        };
        let rest = text
            .strip_prefix("system/")
            .ok_or_else(|| fail("only system/ scopes are granted to backend services"))?;
        let (resource, access) = rest
            .split_once('.')
            .ok_or_else(|| fail("expected system/<resource>.<permissions>"))?;
        let resource = match resource {
            "*" => ScopeResource::Any,
            name if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric())
                && name.starts_with(|c: char| c.is_ascii_uppercase()) =>
            {
                ScopeResource::Type(name.to_owned())
            }
            _ => return Err(fail("the resource must be `*` or a FHIR resource type")),
        };
        // A v2 scope may carry search-parameter constraints (`?category=…`); this server does
        // not grant constrained access, so it refuses them rather than widen them.
        if access.contains('?') {
            return Err(fail("constrained scopes (with `?`) are not supported"));
        }
        let permissions = match access {
            "read" => Permissions(Permission::Read.bit() | Permission::Search.bit()),
            "write" => Permissions(
                Permission::Create.bit() | Permission::Update.bit() | Permission::Delete.bit(),
            ),
            "*" => Permissions(0b1_1111),
            letters => Permissions::from_v2(letters).ok_or_else(|| {
                fail("permissions must be read, write, * or letters from `cruds` in that order")
            })?,
        };
        Ok(Self {
            resource,
            permissions,
        })
    }

    /// Whether this scope grants `permission` on `resource_type`.
    pub fn allows(&self, resource_type: &str, permission: Permission) -> bool {
        self.resource.covers(resource_type) && self.permissions.contains(permission)
    }

    fn intersect(&self, other: &Self) -> Option<Self> {
        let resource = self.resource.intersect(&other.resource)?;
        let permissions = self.permissions.intersect(other.permissions);
        (!permissions.is_empty()).then_some(Self {
            resource,
            permissions,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            ScopeResource::Any => write!(f, "system/*.{}", self.permissions),
            ScopeResource::Type(name) => write!(f, "system/{name}.{}", self.permissions),
        }
    }
}

/// The scopes a token carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-separated list; every scope must parse.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        text.split_ascii_whitespace()
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Parses a list of scopes; every one must parse.
    pub fn parse_all<S: AsRef<str>>(scopes: &[S]) -> Result<Self, ScopeError> {
        scopes
            .iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Parses what a token says, dropping what this server does not grant (an identity
    /// provider's token may carry `openid` or `user/` scopes that mean nothing here).
    pub fn parse_lenient(text: &str) -> Self {
        Self(
            text.split_ascii_whitespace()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
        )
    }

    /// Whether any scope grants `permission` on `resource_type`.
    pub fn allows(&self, resource_type: &str, permission: Permission) -> bool {
        self.0.iter().any(|s| s.allows(resource_type, permission))
    }

    /// What both sets grant: each requested scope cut down to what a registered one allows.
    pub fn intersect(&self, registered: &Self) -> Self {
        let mut granted: Vec<Scope> = Vec::new();
        for wanted in &self.0 {
            for allowed in &registered.0 {
                if let Some(scope) = wanted.intersect(allowed) {
                    if !granted.contains(&scope) {
                        granted.push(scope);
                    }
                }
            }
        }
        Self(granted)
    }

    /// Whether no scope is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes, in order.
    pub fn scopes(&self) -> &[Scope] {
        &self.0
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            write!(f, "{scope}")?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn set(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap()
    }

    #[test]
    fn v2_letters_in_order() {
        let scope = Scope::parse("system/Consent.rs").unwrap();
        assert_eq!(scope.resource, ScopeResource::Type("Consent".into()));
        assert!(scope.allows("Consent", Read));
        assert!(scope.allows("Consent", Search));
        assert!(!scope.allows("Consent", Create));
        assert!(!scope.allows("CarePlan", Read));
        assert_eq!(scope.to_string(), "system/Consent.rs");
        assert_eq!(
            Scope::parse("system/CarePlan.cruds").unwrap().to_string(),
            "system/CarePlan.cruds"
        );
    }

    #[test]
    fn v1_forms_map_to_v2() {
        assert_eq!(
            Scope::parse("system/*.read").unwrap().to_string(),
            "system/*.rs"
        );
        assert_eq!(
            Scope::parse("system/Goal.write").unwrap().to_string(),
            "system/Goal.cud"
        );
        assert_eq!(
            Scope::parse("system/Goal.*").unwrap().to_string(),
            "system/Goal.cruds"
        );
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for bad in [
            "",
            "system/",
            "system/Consent",
            "system/Consent.",
            "system/Consent.sr",
            "system/Consent.rr",
            "system/Consent.x",
            "system/consent.rs",
            "system/Con sent.rs",
            "patient/Consent.rs",
            "user/*.read",
            "openid",
            "system/Consent.rs?category=x",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn wildcard_never_covers_the_audit_trail() {
        let all = set("system/*.cruds");
        assert!(all.allows("CarePlan", Delete));
        assert!(!all.allows(AUDIT_EVENT, Read));
        assert!(set("system/AuditEvent.rs").allows(AUDIT_EVENT, Search));
    }

    #[test]
    fn requested_scopes_are_cut_to_the_registered_ones() {
        let registered = set("system/CarePlan.rs system/Consent.r system/AuditEvent.rs");
        assert_eq!(
            set("system/*.cruds").intersect(&registered).to_string(),
            "system/CarePlan.rs system/Consent.r"
        );
        assert_eq!(
            set("system/Consent.rs system/Goal.rs")
                .intersect(&registered)
                .to_string(),
            "system/Consent.r"
        );
        assert!(set("system/Goal.rs").intersect(&registered).is_empty());
        assert_eq!(
            set("system/AuditEvent.read")
                .intersect(&registered)
                .to_string(),
            "system/AuditEvent.rs"
        );
        assert_eq!(
            set("system/*.rs")
                .intersect(&set("system/*.read"))
                .to_string(),
            "system/*.rs"
        );
    }

    #[test]
    fn lenient_parsing_keeps_only_what_is_granted_here() {
        let scopes = ScopeSet::parse_lenient("openid system/Consent.rs user/*.read");
        assert_eq!(scopes.to_string(), "system/Consent.rs");
    }
}

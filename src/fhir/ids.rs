//! Stable logical ids: every resource projected from a plan has an id derived from the plan's id
//! (UUID v5 in the plan's namespace) or from the decision it shows, so the same resource keeps
//! its id across the plan's versions and `meta.versionId` can follow the plan's version.

use sha1::{Digest, Sha1};
use uuid::{Builder, Uuid};

use crate::domain::{DecisionId, PlanId};

/// The UUID v5 (RFC 9562 §5.5) of `name` in `namespace`, the same id as `Uuid::new_v5`, as
/// text. uuid's own v5 hashes with `sha1_smol`, in software: an emergency summary derives
/// about forty ids, and that hashing was 5% of the instructions a summary costs (BENCHMARKS.md,
/// fifteenth round). The `sha1` crate uses the CPU's SHA instructions where it has them.
pub(crate) fn v5(namespace: &Uuid, name: &[u8]) -> String {
    let digest = Sha1::new()
        .chain_update(namespace.as_bytes())
        .chain_update(name)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let mut text = Uuid::encode_buffer();
    Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// The ids of one plan's resources.
#[derive(Debug, Clone, Copy)]
pub struct PlanIds {
    plan: Uuid,
}

impl PlanIds {
    /// Ids for `plan`.
    pub fn new(plan: PlanId) -> Self {
        Self {
            plan: plan.as_uuid(),
        }
    }

    fn derived(&self, name: &str) -> String {
        v5(&self.plan, name.as_bytes())
    }

    /// The CarePlan: the plan's own id.
    pub fn care_plan(&self) -> String {
        self.plan.to_string()
    }

    /// The Patient the plan is about.
    pub fn patient(&self) -> String {
        self.derived("Patient")
    }

    /// The consent-to-share Consent.
    pub fn consent_to_share(&self) -> String {
        self.derived("Consent/consent-to-share")
    }

    /// A CPR decision's Consent: the decision's own id.
    pub fn cpr_decision(&self, decision: DecisionId) -> String {
        decision.to_string()
    }

    /// An ADRT's Consent: the ADRT's own id.
    pub fn adrt(&self, adrt: DecisionId) -> String {
        adrt.to_string()
    }

    /// A preferred-place Goal: `kind` is `place-of-care` or `place-of-death`, `rank` 1 or 2 (0
    /// for a preference without a place: undecided, declined…).
    pub fn place_goal(&self, kind: &str, rank: u8) -> String {
        self.derived(&format!("Goal/{kind}/{rank}"))
    }

    /// The "what matters most" Goal.
    pub fn what_matters_goal(&self) -> String {
        self.derived("Goal/what-matters-most")
    }

    /// An advance statement's Goal, by its position in the plan.
    pub fn advance_statement_goal(&self, index: usize) -> String {
        self.derived(&format!("Goal/advance-statement/{index}"))
    }

    /// A contact's RelatedPerson, by position.
    pub fn contact(&self, index: usize) -> String {
        self.derived(&format!("RelatedPerson/contact/{index}"))
    }

    /// An LPA's RelatedPerson, by position.
    pub fn lpa(&self, index: usize) -> String {
        self.derived(&format!("RelatedPerson/lpa/{index}"))
    }

    /// A Practitioner, by name and registration number (the same person in several roles is
    /// one Practitioner).
    pub fn practitioner(&self, name: &str, registration_number: Option<&str>) -> String {
        self.derived(&format!(
            "Practitioner/{}/{}",
            name.trim(),
            registration_number.unwrap_or_default().trim()
        ))
    }

    /// The GP practice's Organization.
    pub fn gp_practice(&self) -> String {
        self.derived("Organization/gp-practice")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids are stored and cited by other systems: the fast derivation must give exactly
    /// uuid's `new_v5`, for names of every length around SHA-1's 64-byte blocks.
    #[test]
    fn v5_is_uuids_v5() {
        let plans = [
            Uuid::nil(),
            Uuid::max(),
            Uuid::parse_str("00000000-0000-4000-8000-000000010100").unwrap(),
            Uuid::NAMESPACE_URL,
        ];
        for plan in plans {
            for length in 0..200 {
                let name: String = (0..length)
                    .map(|i| char::from(b'!' + ((i * 7 + length) % 90) as u8))
                    .collect();
                assert_eq!(
                    v5(&plan, name.as_bytes()),
                    Uuid::new_v5(&plan, name.as_bytes()).to_string(),
                    "{plan} {name:?}"
                );
            }
        }
        assert_eq!(
            PlanIds::new(PlanId::parse("00000000-0000-4000-8000-000000010100").unwrap()).patient(),
            Uuid::new_v5(
                &Uuid::parse_str("00000000-0000-4000-8000-000000010100").unwrap(),
                b"Patient"
            )
            .to_string()
        );
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let plan = PlanId::parse("00000000-0000-4000-8000-000000010100").unwrap();
        let ids = PlanIds::new(plan);
        assert_eq!(ids.patient(), PlanIds::new(plan).patient());
        assert_eq!(ids.care_plan(), "00000000-0000-4000-8000-000000010100");
        let all = [
            ids.patient(),
            ids.consent_to_share(),
            ids.place_goal("place-of-death", 1),
            ids.place_goal("place-of-death", 2),
            ids.place_goal("place-of-care", 1),
            ids.what_matters_goal(),
            ids.advance_statement_goal(0),
            ids.contact(0),
            ids.lpa(0),
            ids.practitioner("Dr A", Some("1")),
            ids.practitioner("Dr A", None),
            ids.gp_practice(),
        ];
        let mut unique = all.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
        let other = PlanIds::new(PlanId::new_random());
        assert_ne!(other.patient(), ids.patient());
    }
}

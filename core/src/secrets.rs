//! Generated credentials: one value per secret the plan declares, drawn from a CSPRNG the
//! caller passes in, and never replaced while a value exists. Pure: where the values are kept
//! (a `.env` file, a Kubernetes Secret) is the caller's business.

use std::collections::BTreeMap;

use rand::distr::{Alphanumeric, SampleString};
use rand::{CryptoRng, Rng};

use crate::plan::StackPlan;

/// The plan's secret values by id: values already in `existing` (non-empty) are kept, the rest
/// are generated from `rng` with the length the plan asks for. Ids the plan does not declare are
/// not returned (the caller decides whether to keep them).
pub fn fill<R: Rng + CryptoRng + ?Sized>(
    plan: &StackPlan,
    existing: &BTreeMap<String, String>,
    rng: &mut R,
) -> BTreeMap<String, String> {
    plan.secrets
        .iter()
        .map(|def| {
            let value = existing
                .get(def.id.as_str())
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| Alphanumeric.sample_string(rng, def.length));
            (def.id.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::test_support::plan_spec;

    fn demo_plan() -> StackPlan {
        plan_spec("services:\n  db: {type: postgres}\n  cache: {type: redis}\n")
    }

    #[test]
    fn generates_every_declared_secret_with_its_length() {
        let plan = demo_plan();
        let values = fill(&plan, &BTreeMap::new(), &mut StdRng::seed_from_u64(1));
        assert_eq!(values.len(), plan.secrets.len());
        for def in &plan.secrets {
            let value = &values[def.id.as_str()];
            assert_eq!(value.len(), def.length, "{}", def.id);
            assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn keeps_existing_values_and_replaces_empty_ones() {
        let plan = demo_plan();
        let first = fill(&plan, &BTreeMap::new(), &mut StdRng::seed_from_u64(1));
        let mut existing = first.clone();
        let emptied = plan.secrets[0].id.to_string();
        existing.insert(emptied.clone(), String::new());
        existing.insert("NOT_DECLARED".into(), "x".into());
        let second = fill(&plan, &existing, &mut StdRng::seed_from_u64(2));
        assert!(!second.contains_key("NOT_DECLARED"));
        assert_ne!(second[&emptied], "", "an empty value is regenerated");
        for (id, value) in &first {
            if *id != emptied {
                assert_eq!(&second[id], value, "{id} kept");
            }
        }
    }
}

//! Generated credentials: one value per secret the plan declares, drawn from a CSPRNG the
//! caller passes in, and never replaced while a value exists. Pure: where the values are kept
//! (a `.env` file, a Kubernetes Secret) is the caller's business.

use std::collections::BTreeMap;

use rand::distr::{Alphanumeric, SampleString};
use rand::{CryptoRng, Rng};

use crate::app::Alphabet;
use crate::plan::{SecretDef, StackPlan};

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
                .unwrap_or_else(|| generate(def, rng));
            (def.id.to_string(), value)
        })
        .collect()
}

/// A new value for `def`: its length, from its alphabet.
pub fn generate<R: Rng + CryptoRng + ?Sized>(def: &SecretDef, rng: &mut R) -> String {
    let pick = |chars: &[u8], rng: &mut R| -> String {
        (0..def.length)
            .map(|_| char::from(chars[rng.random_range(0..chars.len())]))
            .collect()
    };
    match def.alphabet {
        Alphabet::Alphanumeric => Alphanumeric.sample_string(rng, def.length),
        Alphabet::Hex => pick(b"0123456789abcdef", rng),
        Alphabet::Lowercase => pick(b"abcdefghijklmnopqrstuvwxyz0123456789", rng),
    }
}

/// `values` with the app secrets `targets` selects replaced by new ones (`None`: every app
/// secret of the plan; `Some("svc.NAME")`: that one). Catalog credentials are never replaced:
/// they protect data created with them. Returns the ids replaced; an unknown target is an
/// error naming the app secrets there are.
pub fn rotate<R: Rng + CryptoRng + ?Sized>(
    plan: &StackPlan,
    values: &mut BTreeMap<String, String>,
    target: Option<&str>,
    rng: &mut R,
) -> Result<Vec<String>, String> {
    Ok(rotation(plan, target)?
        .into_iter()
        .map(|def| {
            values.insert(def.id.to_string(), generate(def, rng));
            def.id.to_string()
        })
        .collect())
}

/// The app secrets `target` selects (`None`: all; `Some("svc.NAME")`: that one); an unknown
/// target is an error naming the app secrets there are.
pub fn rotation<'p>(
    plan: &'p StackPlan,
    target: Option<&str>,
) -> Result<Vec<&'p SecretDef>, String> {
    let app: Vec<&SecretDef> = plan.secrets.iter().filter(|d| d.app).collect();
    let chosen: Vec<&SecretDef> = match target {
        None => app.clone(),
        Some(t) => app
            .iter()
            .copied()
            .filter(|d| format!("{}.{}", d.service, d.name) == t)
            .collect(),
    };
    if let (Some(t), true) = (target, chosen.is_empty()) {
        let known: Vec<String> = app
            .iter()
            .map(|d| format!("{}.{}", d.service, d.name))
            .collect();
        return Err(format!(
            "{t:?} is not an app secret of the stack{}; app secrets: {} (catalog credentials are not rotated: they protect data created with them)",
            crate::error::did_you_mean(t, known.iter().map(String::as_str)),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ));
    }
    Ok(chosen)
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

    #[test]
    fn app_secrets_follow_their_alphabet_and_only_they_rotate() {
        let plan = plan_spec(
            "services:\n  db: {type: postgres}\n  api: {image: a:1, secrets: {K: {length: 40, alphabet: hex}, L: {alphabet: lowercase}}}\n",
        );
        let mut values = fill(&plan, &BTreeMap::new(), &mut StdRng::seed_from_u64(3));
        let k = values["DEVSTACK_API_K"].clone();
        assert_eq!(k.len(), 40);
        assert!(k
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(values["DEVSTACK_API_L"]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        let before = values.clone();
        let rotated = rotate(
            &plan,
            &mut values,
            Some("api.K"),
            &mut StdRng::seed_from_u64(4),
        );
        assert_eq!(rotated, Ok(vec!["DEVSTACK_API_K".to_string()]));
        assert_ne!(values["DEVSTACK_API_K"], k);
        assert_eq!(values["DEVSTACK_API_L"], before["DEVSTACK_API_L"]);
        let all = rotate(&plan, &mut values, None, &mut StdRng::seed_from_u64(5)).unwrap();
        assert_eq!(all, ["DEVSTACK_API_K", "DEVSTACK_API_L"]);
        assert_eq!(
            values["DEVSTACK_DB_PASSWORD"],
            before["DEVSTACK_DB_PASSWORD"]
        );
        let err = rotate(
            &plan,
            &mut values,
            Some("db.password"),
            &mut StdRng::seed_from_u64(6),
        )
        .unwrap_err();
        assert!(err.contains("catalog credentials are not rotated"), "{err}");
        let err = rotate(
            &plan,
            &mut values,
            Some("api.k"),
            &mut StdRng::seed_from_u64(6),
        )
        .unwrap_err();
        assert!(err.contains("did you mean \"api.K\""), "{err}");
    }
}

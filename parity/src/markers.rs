//! Secrets as markers: parity compares renderings and live readings with every credential
//! replaced by `@@secret:ID@@`, so no real value is ever compared, printed or stored.

use std::collections::BTreeMap;

use devstack_core::plan::StackPlan;

/// The marker a secret is rendered as for comparison.
pub fn secret_marker(id: &str) -> String {
    format!("@@secret:{id}@@")
}

/// Every secret of `plan` mapped to its marker: the values both renderings are given, so
/// secrets compare without real credentials.
pub fn secret_markers(plan: &StackPlan) -> BTreeMap<String, String> {
    plan.secrets
        .iter()
        .map(|s| (s.id.to_string(), secret_marker(s.id.as_str())))
        .collect()
}

/// `text` with every secret value of `secrets` (id → value) replaced by `spell(id)`, the
/// longest values first (a value inside a longer one is not split); empty values are left.
/// The live checks read credentials back this way: as markers from the cluster, as
/// interpolations from the containers.
pub fn replace_secret_values(
    text: &str,
    secrets: &BTreeMap<String, String>,
    spell: impl Fn(&str) -> String,
) -> String {
    let mut by_length: Vec<(&String, &String)> =
        secrets.iter().filter(|(_, v)| !v.is_empty()).collect();
    by_length.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for (id, secret) in by_length {
        out = out.replace(secret.as_str(), &spell(id));
    }
    out
}

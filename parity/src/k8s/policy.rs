//! Which pairs of services the rendered NetworkPolicies let talk.

use std::collections::BTreeSet;

use devstack_core::conventions::{LABEL_SERVICE, LABEL_STACK};
use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicySpec};

use super::Objects;
use crate::{pair, Normalized};

pub(super) fn reachability(
    objects: &Objects,
    normalized: &Normalized,
    stack: &str,
) -> BTreeSet<(String, String)> {
    // A policy without policyTypes is an Ingress policy (plus Egress when it has egress rules).
    let types = |spec: &NetworkPolicySpec| {
        spec.policy_types.clone().unwrap_or_else(|| {
            let mut t = vec!["Ingress".to_string()];
            if spec.egress.is_some() {
                t.push("Egress".to_string());
            }
            t
        })
    };
    let denies = |kind: &str| {
        objects
            .policies
            .iter()
            .filter_map(|p| p.spec.as_ref())
            .any(|spec| {
                let selects_stack = spec
                    .pod_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(|l| {
                        l.get(LABEL_STACK).map(String::as_str) == Some(stack)
                            && !l.contains_key(LABEL_SERVICE)
                    });
                let no_rules = if kind == "Ingress" {
                    spec.ingress.as_ref().is_none_or(|i| i.is_empty())
                } else {
                    spec.egress.as_ref().is_none_or(|e| e.is_empty())
                };
                selects_stack && no_rules && types(spec).iter().any(|t| t == kind)
            })
    };
    // Directed (from, to) edges the ingress and the egress rules allow.
    let mut ingress = BTreeSet::new();
    let mut egress = BTreeSet::new();
    for spec in objects.policies.iter().filter_map(|p| p.spec.as_ref()) {
        let target = spec
            .pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .and_then(|l| l.get(LABEL_SERVICE));
        let Some(target) = target else { continue };
        let froms = spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.from.iter().flatten());
        for source in froms.flat_map(peer_services) {
            ingress.insert((source, target.clone()));
        }
        let tos = spec
            .egress
            .iter()
            .flatten()
            .flat_map(|r| r.to.iter().flatten());
        for destination in tos.flat_map(peer_services) {
            egress.insert((target.clone(), destination));
        }
    }
    let (deny_in, deny_out) = (denies("Ingress"), denies("Egress"));
    let allowed = |from: &String, to: &String| {
        let edge = (from.clone(), to.clone());
        (!deny_in || ingress.contains(&edge)) && (!deny_out || egress.contains(&edge))
    };
    let active: Vec<&String> = normalized.services.keys().collect();
    let mut pairs = BTreeSet::new();
    for (i, a) in active.iter().enumerate() {
        for b in &active[i + 1..] {
            if allowed(a, b) || allowed(b, a) {
                pairs.insert(pair(a, b));
            }
        }
    }
    pairs
}

/// The services of the stack a policy peer selects by pod labels.
fn peer_services(peer: &NetworkPolicyPeer) -> Vec<String> {
    let Some(selector) = &peer.pod_selector else {
        return Vec::new();
    };
    let mut services: Vec<String> = selector
        .match_expressions
        .iter()
        .flatten()
        .filter(|e| e.key == LABEL_SERVICE && e.operator == "In")
        .flat_map(|e| e.values.iter().flatten().cloned())
        .collect();
    services.extend(
        selector
            .match_labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE))
            .cloned(),
    );
    services
}

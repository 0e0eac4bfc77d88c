//! The dependency graph: `dependsOn` edges checked (known, not duplicated, not the service
//! itself, active when the dependent is, no cycles), then recorded on both ends.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Dependency, ServicePlan, WaitFor};
use crate::error::{did_you_mean, ValidationErrors};
use crate::types::DevStackSpec;

/// Checks every `dependsOn` edge of `spec`; `active` tells which planned services run.
pub(super) fn check(
    spec: &DevStackSpec,
    active: &BTreeMap<String, bool>,
    errors: &mut ValidationErrors,
) {
    for (name, service) in &spec.services {
        let mut seen = BTreeSet::new();
        for (i, dep) in service.depends_on.iter().enumerate() {
            let path = format!("spec.services.{name}.dependsOn[{i}]");
            if !seen.insert(dep) {
                errors.push(
                    &path,
                    format!("{dep:?} is listed twice; remove the duplicate"),
                );
                continue;
            }
            if dep == name {
                errors.push(
                    &path,
                    format!("{name:?} depends on itself; remove it from dependsOn"),
                );
                continue;
            }
            let Some(dependency) = spec.services.get(dep) else {
                let others = spec
                    .services
                    .keys()
                    .map(String::as_str)
                    .filter(|k| k != name);
                errors.push(
                    &path,
                    format!("unknown service {dep:?}{}", did_you_mean(dep, others)),
                );
                continue;
            };
            if active.get(name) == Some(&true) && active.get(dep) == Some(&false) {
                errors.push(
                    &path,
                    format!(
                        "{dep:?} is not active under the selected profiles; activate one of its profiles ({}) or give {name:?} a profile that excludes it",
                        dependency.profiles.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(cycle) = find_cycle(spec) {
        errors.push(
            format!("spec.services.{}.dependsOn", cycle[0]),
            format!(
                "dependency cycle {}; remove one of these dependsOn edges",
                cycle.join(" -> ")
            ),
        );
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    Open,
    Done,
}

/// A dependency cycle (first node repeated at the end), if there is one. Self-edges are
/// reported separately and ignored here.
fn find_cycle(spec: &DevStackSpec) -> Option<Vec<String>> {
    let mut marks: BTreeMap<&str, Mark> = spec
        .services
        .keys()
        .map(|k| (k.as_str(), Mark::New))
        .collect();
    for name in spec.services.keys() {
        if marks.get(name.as_str()) == Some(&Mark::New) {
            if let Some(cycle) = visit(name, spec, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

/// Depth-first search from `node`; `stack` holds the open path.
fn visit<'a>(
    node: &'a str,
    spec: &'a DevStackSpec,
    marks: &mut BTreeMap<&'a str, Mark>,
    stack: &mut Vec<&'a str>,
) -> Option<Vec<String>> {
    marks.insert(node, Mark::Open);
    stack.push(node);
    let deps = spec
        .services
        .get(node)
        .map(|s| s.depends_on.as_slice())
        .unwrap_or_default();
    for dep in deps {
        if dep == node || !spec.services.contains_key(dep) {
            continue;
        }
        match marks.get(dep.as_str()).copied() {
            Some(Mark::Open) => {
                let start = stack.iter().position(|n| n == dep).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(dep.clone());
                return Some(cycle);
            }
            Some(Mark::New) => {
                if let Some(cycle) = visit(dep, spec, marks, stack) {
                    return Some(cycle);
                }
            }
            _ => {}
        }
    }
    stack.pop();
    marks.insert(node, Mark::Done);
    None
}

/// Records both ends of every edge of checked `spec`: each service's dependencies (with what
/// Compose waits for) and its dependents (sorted).
pub(super) fn record(spec: &DevStackSpec, services: &mut BTreeMap<String, ServicePlan>) {
    let healthy: BTreeSet<String> = services
        .values()
        .filter(|s| s.container_health().is_some())
        .map(|s| s.name.clone())
        .collect();
    let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, service) in services.iter_mut() {
        let deps = spec
            .services
            .get(name)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default();
        service.depends_on = deps
            .iter()
            .map(|dep| Dependency {
                service: dep.clone(),
                wait_for: if healthy.contains(dep) {
                    WaitFor::Healthy
                } else {
                    WaitFor::Started
                },
            })
            .collect();
        for dep in deps {
            dependents
                .entry(dep.clone())
                .or_default()
                .push(name.clone());
        }
    }
    for (name, mut list) in dependents {
        if let Some(service) = services.get_mut(&name) {
            list.sort();
            service.dependents = list;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{errors_of, plan_of};

    #[test]
    fn cycles_are_found_with_their_path() {
        let errors = errors_of("a: {image: a:1, dependsOn: [b]}\nb: {image: b:1, dependsOn: [c]}\nc: {image: c:1, dependsOn: [a]}\n");
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path, "spec.services.a.dependsOn");
        assert!(errors.0[0].message.contains("a -> b -> c -> a"));
    }

    #[test]
    fn bad_edges_name_their_index() {
        let errors = errors_of(
            "a: {image: a:1, dependsOn: [a, bb, b, b]}\nb: {image: b:1}\nc: {image: c:1, profiles: [x], dependsOn: [a]}\n",
        );
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.services.a.dependsOn[0]",
                "spec.services.a.dependsOn[1]",
                "spec.services.a.dependsOn[3]"
            ]
        );
        assert!(errors.0[1].message.contains("did you mean \"b\""));
    }

    #[test]
    fn edges_are_recorded_on_both_ends() {
        let plan = plan_of(
            "db: {type: postgres}\nweb: {image: w:1}\napi: {image: a:1, dependsOn: [web, db]}\nworker: {image: k:1, dependsOn: [db]}\n",
        );
        let api = &plan.services["api"];
        assert_eq!(
            api.depends_on,
            [
                Dependency {
                    service: "web".into(),
                    wait_for: WaitFor::Started
                },
                Dependency {
                    service: "db".into(),
                    wait_for: WaitFor::Healthy
                }
            ]
        );
        assert_eq!(plan.services["db"].dependents, ["api", "worker"]);
        assert!(plan.services["worker"].dependents.is_empty());
    }
}

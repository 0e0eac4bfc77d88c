//! The one start order of a stack: every active service after the active services it depends
//! on. The Docker driver starts containers in this order (independent ones concurrently) and
//! the operator holds a dependent's workload back until its dependencies are Ready in the same
//! order, so `dependsOn` means the same in both runtimes.

use std::collections::BTreeSet;

use super::model::StackPlan;

impl StackPlan {
    /// The active services, each after every active service it depends on, in passes over
    /// the services in name order (a service freed in a pass is placed at once, so a later
    /// one in the same pass may follow it). A dependency that is not active under the
    /// selected profiles does not hold a service back. A validated plan has no cycles; were
    /// there one, its services would be appended in name order, so each is still reported.
    pub fn start_order(&self) -> Vec<String> {
        let active: BTreeSet<&str> = self.active_services().map(|s| s.name.as_str()).collect();
        let mut order: Vec<String> = Vec::new();
        let mut remaining: Vec<_> = self.active_services().collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|service| {
                let free = service
                    .dependency_names()
                    .all(|d| !active.contains(d) || order.iter().any(|o| o == d));
                if free {
                    order.push(service.name.clone());
                }
                !free
            });
            if remaining.len() == before {
                order.extend(remaining.iter().map(|s| s.name.clone()));
                break;
            }
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{plan_spec, plan_yaml};

    const CHAIN: &str = "services:
  web: {image: web:1, dependsOn: [api, cache]}
  api: {image: api:1, dependsOn: [db]}
  db: {type: postgres}
  cache: {type: redis}
  tool: {image: tool:1}
";

    #[test]
    fn dependencies_come_first() {
        let plan = plan_spec(CHAIN);
        assert_eq!(plan.start_order(), ["cache", "db", "tool", "api", "web"]);
        // The operator's own case (controller::reconcile `dependency_order`).
        let plan = plan_spec(
            "services:\n  api: {image: 'a:1', dependsOn: [db, cache]}\n  cache: {type: redis}\n  db: {type: postgres}\n  web: {image: 'w:1', dependsOn: [api]}\n",
        );
        assert_eq!(plan.start_order(), ["cache", "db", "api", "web"]);
    }

    #[test]
    fn a_dependent_freed_in_the_same_pass_follows_at_once() {
        let plan = plan_spec(
            "services:\n  a: {image: a:1}\n  b: {image: b:1, dependsOn: [a]}\n  c: {image: c:1}\n",
        );
        assert_eq!(plan.start_order(), ["a", "b", "c"]);
    }

    #[test]
    fn inactive_services_neither_start_nor_hold_back() {
        let plan = plan_yaml(&crate::test_support::manifest(
            "demo",
            "profiles: [core]
services:
  api: {image: api:1, profiles: [core], dependsOn: [db]}
  db: {type: postgres, profiles: [core]}
  search: {type: qdrant, profiles: [search]}
  worker: {image: w:1, profiles: [search], dependsOn: [search]}
",
        ));
        assert_eq!(plan.start_order(), ["db", "api"]);
    }

    #[test]
    fn a_dependency_outside_the_active_profiles_does_not_hold_a_service() {
        let mut plan = plan_spec(CHAIN);
        if let Some(db) = plan.services.get_mut("db") {
            db.active = false;
        }
        assert_eq!(plan.start_order(), ["api", "cache", "tool", "web"]);
    }
}

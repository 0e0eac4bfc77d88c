//! Stack-wide checks on what the plan hands out: every connection key comes from one active
//! service (the connections Secret and a dependent's env are flat maps, so `ch`'s `HTTP_URL`
//! and `ch-http`'s `URL`, both `CH_HTTP_URL`, would hand one service's password to the other's
//! dependents), and the connections Secret fits what the API server stores.

use std::collections::BTreeMap;

use super::model::{SecretDef, ServicePlan};
use crate::conventions::k8s_host;
use crate::error::ValidationErrors;
use crate::limits::MAX_SECRET_BYTES;
use crate::template::Segment;

/// The longest namespace name: a host name in the Secret is at most `<service>.<63>.svc`.
const LONGEST_NAMESPACE: &str = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";

/// Reports a connection key produced by two active services, naming both.
pub(super) fn check_unique(
    services: &BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for service in services.values().filter(|s| s.active) {
        for key in service.connection.keys() {
            match owner.get(key.as_str()) {
                Some(other) => errors.push(
                    format!("spec.services.{}", service.name),
                    format!(
                        "connection key {key} is produced by both {other:?} and {:?}, so their dependents could get each other's settings; rename one of the services",
                        service.name
                    ),
                ),
                None => {
                    owner.insert(key, &service.name);
                }
            }
        }
    }
}

/// Reports a connections Secret larger than the API server stores (counted with the longest
/// host names and the generated secrets' lengths, so the real one is never larger).
pub(super) fn check_secret_size(
    services: &BTreeMap<String, ServicePlan>,
    secrets: &[SecretDef],
    errors: &mut ValidationErrors,
) {
    let length: BTreeMap<&str, usize> = secrets.iter().map(|s| (s.id.as_str(), s.length)).collect();
    let mut sizes: Vec<(usize, &str)> = services
        .values()
        .filter(|s| s.active)
        .map(|service| {
            let size = service
                .connection
                .iter()
                .map(|(key, value)| {
                    key.len()
                        + value
                            .0
                            .iter()
                            .map(|segment| match segment {
                                Segment::Lit(text) => text.len(),
                                Segment::Secret(id) => {
                                    length.get(id.as_str()).copied().unwrap_or(0)
                                }
                                Segment::Host(name) => k8s_host(name, LONGEST_NAMESPACE).len(),
                            })
                            .sum::<usize>()
                })
                .sum();
            (size, service.name.as_str())
        })
        .collect();
    let total: usize = sizes.iter().map(|(size, _)| size).sum();
    if total <= MAX_SECRET_BYTES {
        return;
    }
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let (largest, name) = sizes[0];
    errors.push(
        format!("spec.services.{name}"),
        format!(
            "the stack's connections Secret would hold {total} bytes, over the {MAX_SECRET_BYTES} bytes (1 MiB) a Secret may hold; {name:?} contributes {largest}: shorten the env values that go into its connection settings (user and database names) or split the stack"
        ),
    );
}

#[cfg(test)]
mod tests {
    use crate::plan::tests::errors_of;

    #[test]
    fn two_services_with_one_connection_key_are_an_error_naming_both() {
        let errors = errors_of("ch: {type: clickhouse}\nch-http: {type: postgres}\n");
        let hits: Vec<_> = errors
            .0
            .iter()
            .filter(|e| e.message.contains("CH_HTTP_URL"))
            .collect();
        assert_eq!(hits.len(), 1, "{errors}");
        assert_eq!(hits[0].path, "spec.services.ch-http");
        assert!(hits[0].message.contains("\"ch\""), "{}", hits[0].message);
        assert!(
            hits[0].message.contains("\"ch-http\""),
            "{}",
            hits[0].message
        );
        // An inactive one produces nothing.
        assert!(
            errors_of("ch: {type: clickhouse}\nch-http: {type: postgres, profiles: [x]}\n")
                .is_empty()
        );
    }

    #[test]
    fn a_connections_secret_over_one_mebibyte_is_an_error() {
        let user = "u".repeat(400_000);
        let errors = errors_of(&format!(
            "db: {{type: postgres, env: {{POSTGRES_USER: {user}}}}}\n"
        ));
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(errors.0[0].path, "spec.services.db");
        assert!(
            errors.0[0].message.contains("1 MiB"),
            "{}",
            errors.0[0].message
        );
        let user = "u".repeat(100_000);
        assert!(errors_of(&format!(
            "db: {{type: postgres, env: {{POSTGRES_USER: {user}}}}}\n"
        ))
        .is_empty());
    }
}

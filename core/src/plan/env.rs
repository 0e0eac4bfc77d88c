//! The environment of a container: the entry's contract and the user's `env`, every secret in
//! a container field tied to the env var that carries it, and the connection settings each
//! dependency hands its dependents (`POSTGRES_URL`, …).

use std::collections::BTreeMap;

use super::model::{EnvSource, EnvVar, ServicePlan};
use crate::catalog::EnvValue;
use crate::conventions::connection_key;
use crate::error::ValidationErrors;
use crate::template::{CarriedSecret, ContainerTemplate, SecretId, Template};

/// Secrets first (Kubernetes expands `$(VAR)` only from earlier variables), then connection
/// settings, then the rest; each group by key.
pub(super) fn order(env: BTreeMap<String, EnvSource>) -> Vec<EnvVar> {
    let rank = |s: &EnvSource| match s {
        EnvSource::Secret(_) => 0,
        EnvSource::Connection { .. } => 1,
        EnvSource::Template(_) => 2,
    };
    let mut vars: Vec<EnvVar> = env
        .into_iter()
        .map(|(key, source)| EnvVar { key, source })
        .collect();
    vars.sort_by(|a, b| {
        rank(&a.source)
            .cmp(&rank(&b.source))
            .then_with(|| a.key.cmp(&b.key))
    });
    vars
}

/// Ties the secrets of container-field templates to the env vars carrying them.
pub(super) struct Carriers {
    by_secret: BTreeMap<SecretId, String>,
}

impl Carriers {
    /// The carriers among `env`: variables whose whole value is one secret.
    pub(super) fn of(env: &BTreeMap<String, EnvValue>) -> Self {
        let mut by_secret = BTreeMap::new();
        for (key, value) in env {
            if let EnvValue::Secret(id) = value {
                by_secret.entry(id.clone()).or_insert_with(|| key.clone());
            }
        }
        Carriers { by_secret }
    }

    /// `template` with each secret tied to its carrier; an uncarried secret (a catalog bug:
    /// Kubernetes could not expand it) is reported at `field`.
    pub(super) fn tie(
        &self,
        template: &Template,
        field: &str,
        errors: &mut ValidationErrors,
    ) -> Option<ContainerTemplate> {
        template
            .try_map_secrets(|id| match self.by_secret.get(id) {
                Some(env) => Ok(CarriedSecret {
                    id: id.clone(),
                    env: env.clone(),
                }),
                None => Err(id.clone()),
            })
            .map_err(|id| {
                errors.push(
                    field,
                    format!("secret {id} is used here but no env var of the container carries it (a catalog bug)"),
                )
            })
            .ok()
    }

    /// Every template of a list tied (see [`Carriers::tie`]).
    pub(super) fn tie_all(
        &self,
        list: Option<&Vec<Template>>,
        field: &str,
        errors: &mut ValidationErrors,
    ) -> Option<Option<Vec<ContainerTemplate>>> {
        let Some(list) = list else {
            return Some(None);
        };
        let tied: Vec<_> = list
            .iter()
            .enumerate()
            .map(|(i, t)| self.tie(t, &format!("{field}[{i}]"), errors))
            .collect();
        tied.into_iter().collect::<Option<Vec<_>>>().map(Some)
    }

    /// The env of a container, ordered, with secrets tied.
    pub(super) fn env(
        &self,
        env: BTreeMap<String, EnvValue>,
        path: &str,
        errors: &mut ValidationErrors,
    ) -> Vec<EnvVar> {
        let sources = env
            .into_iter()
            .filter_map(|(key, value)| {
                let source = match value {
                    EnvValue::Secret(id) => EnvSource::Secret(id),
                    EnvValue::Template(t) => {
                        EnvSource::Template(self.tie(&t, &format!("{path}.env.{key}"), errors)?)
                    }
                };
                Some((key, source))
            })
            .collect();
        order(sources)
    }
}

/// The connection outputs of a service by key: the entry's suffixes prefixed with the service
/// name (`URL` of `postgres` → `POSTGRES_URL`).
pub(super) fn connection_outputs(
    service: &str,
    by_suffix: &BTreeMap<String, Template>,
) -> BTreeMap<String, Template> {
    by_suffix
        .iter()
        .map(|(suffix, t)| (connection_key(service, suffix), t.clone()))
        .collect()
}

/// Gives every service its dependencies' connection settings. A key that the service already
/// has (its own env, or another dependency) is an error naming both sources.
pub(super) fn wire_connections(
    services: &mut BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) {
    let edges: Vec<(String, String)> = services
        .values()
        .flat_map(|s| {
            s.dependency_names()
                .map(|d| (s.name.clone(), d.to_string()))
        })
        .collect();
    for (dependent, dependency) in &edges {
        let outputs: BTreeMap<String, Template> = services
            .get(dependency)
            .map(|d| d.connection.clone())
            .unwrap_or_default();
        let Some(service) = services.get_mut(dependent) else {
            continue;
        };
        let mut env: BTreeMap<String, EnvSource> =
            service.env.drain(..).map(|v| (v.key, v.source)).collect();
        for (key, value) in outputs {
            if let Some(existing) = env.get(&key) {
                let what = match existing {
                    EnvSource::Connection { service, .. } => {
                        format!("the connection settings of {service:?}")
                    }
                    _ => "its own env".to_string(),
                };
                errors.push(
                    format!("spec.services.{dependent}.env.{key}"),
                    format!("{key} comes from dependsOn {dependency:?} and also from {what}; remove one"),
                );
                continue;
            }
            env.insert(
                key.clone(),
                EnvSource::Connection {
                    service: dependency.clone(),
                    key,
                    value,
                },
            );
        }
        service.env = order(env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{errors_of, plan_of};

    #[test]
    fn secrets_come_first_then_connections_then_the_rest() {
        let plan = plan_of(
            "db: {type: postgres}\napi: {image: a:1, dependsOn: [db], env: {A: x, Z: y}}\n",
        );
        let keys: Vec<&str> = plan.services["api"]
            .env
            .iter()
            .map(|v| v.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "DB_DB",
                "DB_HOST",
                "DB_PASSWORD",
                "DB_PORT",
                "DB_URL",
                "DB_USER",
                "A",
                "Z"
            ]
        );
        let db = &plan.services["db"];
        assert!(matches!(db.env[0].source, EnvSource::Secret(_)));
        let EnvSource::Connection { service, value, .. } = &plan.services["api"].env[4].source
        else {
            panic!("DB_URL is a connection setting");
        };
        assert_eq!(service, "db");
        assert_eq!(value, &db.connection["DB_URL"]);
    }

    #[test]
    fn a_connection_key_has_one_source() {
        let errors = errors_of(
            "db: {type: postgres}\napi: {image: a:1, dependsOn: [db], env: {DB_URL: mine}}\n",
        );
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path, "spec.services.api.env.DB_URL");
        assert!(errors.0[0].message.contains("its own env"));
    }

    #[test]
    fn uncarried_secrets_are_reported() {
        let id = SecretId::new("db", "password");
        let carriers = Carriers::of(&BTreeMap::new());
        let mut errors = ValidationErrors::default();
        let t = Template::lit("x").push_secret(id.clone());
        assert!(carriers.tie(&t, "s.args[0]", &mut errors).is_none());
        assert_eq!(errors.0[0].path, "s.args[0]");
        let carriers = Carriers::of(&BTreeMap::from([("PW".to_string(), EnvValue::Secret(id))]));
        let tied = carriers.tie(&t, "s.args[0]", &mut errors).expect("carried");
        assert_eq!(tied.secrets().next().map(|s| s.env.as_str()), Some("PW"));
    }
}

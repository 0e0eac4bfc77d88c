//! What a team's own program reads: generated app secrets (`secrets`, set as env vars of those
//! names) and connection values under the program's own names (`connectionEnv`: `DB_NAME:
//! db.DB`). Both work on any service, catalog or custom.

use std::collections::BTreeMap;

use super::model::{EnvSource, EnvVar, SecretDef, ServicePlan};
use crate::app::{
    Alphabet, DEFAULT_SECRET_LENGTH, MAX_APP_SECRETS, MAX_SECRET_LENGTH, MIN_SECRET_LENGTH,
};
use crate::catalog::EnvValue;
use crate::conventions::{is_env_key, upper_snake};
use crate::error::{did_you_mean, ValidationErrors};
use crate::template::SecretId;
use crate::types::{DevStackSpec, ServiceSpec};

/// Adds the app secrets of `spec` to a service's `env` (each an env var of its name carrying
/// the secret) and returns their definitions. A name that is not an env key, that the service
/// already sets, or a length out of range is an error.
pub(super) fn secrets(
    spec: &ServiceSpec,
    service: &str,
    path: &str,
    env: &mut BTreeMap<String, EnvValue>,
    declared: &[SecretDef],
    errors: &mut ValidationErrors,
) -> Vec<SecretDef> {
    let Some(app) = &spec.secrets else {
        return Vec::new();
    };
    let entries = app.entries();
    if entries.len() > MAX_APP_SECRETS {
        errors.push(
            format!("{path}.secrets"),
            format!(
                "{} secrets: at most {MAX_APP_SECRETS} per service",
                entries.len()
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, (name, options)) in entries.into_iter().enumerate() {
        let field = match app {
            crate::app::AppSecrets::Names(_) => format!("{path}.secrets[{i}]"),
            crate::app::AppSecrets::Options(_) => format!("{path}.secrets.{name}"),
        };
        if !is_env_key(&name) {
            errors.push(
                field,
                format!("{name:?} is not an environment variable name (letters, digits and '_', not starting with a digit), for example JWT_SECRET"),
            );
            continue;
        }
        if env.contains_key(&name) {
            errors.push(
                field,
                format!("{name} is already set by env or the catalog; rename the secret or remove the env entry"),
            );
            continue;
        }
        let length = options.length.unwrap_or(DEFAULT_SECRET_LENGTH);
        if !(MIN_SECRET_LENGTH..=MAX_SECRET_LENGTH).contains(&length) {
            errors.push(
                format!("{field}.length"),
                format!("{length} is out of range: use {MIN_SECRET_LENGTH}-{MAX_SECRET_LENGTH}"),
            );
            continue;
        }
        let id = SecretId::new(service, &name);
        if declared.iter().chain(&out).any(|d: &SecretDef| d.id == id) {
            errors.push(
                field,
                format!("{name} would be stored as {id}, which another secret of this service already uses; rename it"),
            );
            continue;
        }
        env.insert(name.clone(), EnvValue::Secret(id.clone()));
        out.push(SecretDef {
            id,
            service: service.to_string(),
            name,
            length: usize::try_from(length).unwrap_or(32),
            alphabet: options.alphabet.unwrap_or(Alphabet::Alphanumeric),
            app: true,
        });
    }
    out
}

/// Sets each service's `connectionEnv` entries: env key -> a dependency's connection value
/// (`db.DB` is what `DB_DB` carries). Unknown services and outputs are errors with a guess;
/// the service must be a dependency (connection values only flow along `dependsOn`).
pub(super) fn wire_connection_env(
    spec: &DevStackSpec,
    services: &mut BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) {
    for (name, service_spec) in &spec.services {
        let mut added = Vec::new();
        for (key, reference) in &service_spec.connection_env {
            let field = format!("spec.services.{name}.connectionEnv.{key}");
            if let Some(var) = resolve(services, name, key, reference, &field, errors) {
                added.push(var);
            }
        }
        let Some(service) = services.get_mut(name) else {
            continue;
        };
        let mut env: BTreeMap<String, EnvSource> =
            service.env.drain(..).map(|v| (v.key, v.source)).collect();
        for var in added {
            env.insert(var.key, var.source);
        }
        service.env = super::env::order(env);
    }
}

/// The env var `key` of service `name` set to `reference` (`<service>.<OUTPUT>`).
fn resolve(
    services: &BTreeMap<String, ServicePlan>,
    name: &str,
    key: &str,
    reference: &str,
    field: &str,
    errors: &mut ValidationErrors,
) -> Option<EnvVar> {
    let service = services.get(name)?;
    if !is_env_key(key) {
        errors.push(
            field,
            "not an environment variable name (letters, digits, '_', not starting with a digit)",
        );
        return None;
    }
    if service.env.iter().any(|v| v.key == key) {
        errors.push(
            field,
            format!("{key} is already set (by env, secrets, the catalog or a dependency's connection settings); pick another name"),
        );
        return None;
    }
    let Some((target, output)) = reference.split_once('.') else {
        errors.push(
            field,
            format!(
                "{reference:?} is not <service>.<OUTPUT>; write it like db.DB or jaeger.GRPC_URL"
            ),
        );
        return None;
    };
    let deps: Vec<&str> = service.dependency_names().collect();
    if !deps.contains(&target) {
        let hint = if services.contains_key(target) {
            format!("; add {target:?} to dependsOn")
        } else {
            did_you_mean(target, deps.iter().copied())
        };
        errors.push(
            field,
            format!("{target:?} is not a dependency of {name:?}{hint}"),
        );
        return None;
    }
    let dependency = services.get(target)?;
    let prefix = format!("{}_", upper_snake(target));
    let connection_key = format!("{prefix}{output}");
    let Some(value) = dependency.connection.get(&connection_key) else {
        let outputs: Vec<&str> = dependency
            .connection
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .collect();
        errors.push(
            field,
            format!(
                "{target:?} has no connection output {output:?}{}; its outputs: {}",
                did_you_mean(output, outputs.iter().copied()),
                if outputs.is_empty() {
                    "none".to_string()
                } else {
                    outputs.join(", ")
                }
            ),
        );
        return None;
    };
    Some(EnvVar {
        key: key.to_string(),
        source: EnvSource::Connection {
            service: target.to_string(),
            key: connection_key,
            value: value.clone(),
        },
    })
}

#[cfg(test)]
mod tests;

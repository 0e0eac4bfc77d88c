//! A service with a catalog `type`: the entry decides image, ports, env contract, health,
//! data paths and connection outputs; the spec may pick the version, publish ports, size the
//! storage and add env.

use std::collections::{BTreeMap, BTreeSet};

use super::files::PlannedFile;
use super::model::{SecretDef, SecurityPlan, VolumePlan, Workload};
use super::shape::{self, ServiceInput, Shape};
use super::{env, health, names, ports, resources, storage};
use crate::catalog::{Budget, CatalogEntry, DataPath, EntryContext, EntryParts, EnvValue};
use crate::error::ValidationErrors;
use crate::template::{SecretId, Template};

/// The shape of a catalog service of type `entry`.
pub(super) fn shape(
    input: &ServiceInput,
    entry: &CatalogEntry,
    budget: &Budget,
    errors: &mut ValidationErrors,
) -> Option<Shape> {
    let spec = input.spec;
    let path = input.path.as_str();
    let type_name = entry.type_name;
    let replicas = check_catalog_owned_fields(input, entry, errors);
    let version = spec
        .version
        .clone()
        .unwrap_or_else(|| entry.default_version.to_string());
    names::version(&version, path, errors);
    let published = ports::published(&spec.host_ports);
    let ctx = EntryContext {
        stack: input.stack,
        service: input.name,
        version: &version,
        user_env: &spec.env,
        memory_limit_bytes: budget.limit_memory_bytes,
        host_ports: &published,
    };
    let parts: EntryParts = (entry.build)(&ctx);
    let ports = ports::catalog(entry, &spec.host_ports, path, errors);
    let env = merged_env(&parts, input, errors);
    let size_bytes = resources::storage_bytes(spec, path, errors);
    let secrets: Vec<SecretDef> = entry
        .secrets
        .iter()
        .map(|def| SecretDef {
            id: ctx.secret_id(def.name),
            service: input.name.to_string(),
            name: def.name.to_string(),
            length: def.length,
            alphabet: crate::app::Alphabet::Alphanumeric,
            app: false,
        })
        .collect();
    check_declared(&parts, &secrets, path, errors);
    let health = match &parts.health {
        Some(h) => Some(health::catalog(h, &ports, type_name, path, errors)?),
        None => None,
    };
    let image = input
        .options
        .image_overrides
        .get(type_name)
        .cloned()
        .unwrap_or_else(|| names::apply_registry(&entry.image(&version), input.registry));
    Some(Shape {
        type_name: Some(type_name.to_string()),
        image,
        workload: workload(input, entry, &parts, replicas, size_bytes),
        command: parts.command,
        args: parts.args,
        env,
        ports,
        health,
        // Writable paths exist to make a read-only root work; on a writable root they are moot.
        writable_paths: if entry.read_only_root {
            entry.writable_paths.iter().map(|p| p.to_string()).collect()
        } else {
            Vec::new()
        },
        security: security(entry),
        connection: env::connection_outputs(input.name, &parts.connection),
        secrets,
        files: parts
            .files
            .iter()
            .map(|(path, text)| PlannedFile::catalog(path, text))
            .collect(),
    })
}

/// Refuses the fields the catalog decides for `entry` (ports, health check, replicas of a
/// stateful type, storage of a stateless one); the replicas the spec asks for.
fn check_catalog_owned_fields(
    input: &ServiceInput,
    entry: &CatalogEntry,
    errors: &mut ValidationErrors,
) -> u32 {
    let (spec, path, type_name) = (input.spec, input.path.as_str(), entry.type_name);
    if spec.ports.is_some() {
        let names: Vec<&str> = entry.ports.iter().map(|p| p.name).collect();
        errors.push(
            format!("{path}.ports"),
            format!(
                "the catalog defines the ports of {type_name}; publish them with hostPorts ({})",
                names.join(", ")
            ),
        );
    }
    if spec.healthcheck.is_some() {
        errors.push(
            format!("{path}.healthcheck"),
            format!("the catalog defines the health check of {type_name}; remove healthcheck"),
        );
    }
    let replicas = shape::replicas(spec, path, errors);
    if entry.stateful && replicas != 1 {
        errors.push(
            format!("{path}.replicas"),
            format!("{type_name} is stateful: it runs exactly one replica; remove replicas"),
        );
    }
    storage::catalog_only_sizes(spec, type_name, path, errors);
    if spec.storage.is_some() && !entry.stateful {
        errors.push(
            format!("{path}.storage"),
            format!("{type_name} keeps no data; remove storage"),
        );
    }
    replicas
}

/// The entry's env with the spec's `env` added; a generated (secret) key is not overridable.
fn merged_env(
    parts: &EntryParts,
    input: &ServiceInput,
    errors: &mut ValidationErrors,
) -> BTreeMap<String, EnvValue> {
    let path = input.path.as_str();
    let mut env = parts.env.clone();
    for (key, value) in &input.spec.env {
        if matches!(parts.env.get(key), Some(EnvValue::Secret(_))) {
            errors.push(
                format!("{path}.env.{key}"),
                format!("{key} is generated by devstack (a secret); remove it from env"),
            );
        } else {
            env.insert(
                key.clone(),
                EnvValue::Template(Template::lit(value.clone())),
            );
        }
    }
    env
}

/// A stateful entry's data paths as claims of `size_bytes` (kept on delete unless the spec
/// says otherwise); a stateless entry's replicas.
fn workload(
    input: &ServiceInput,
    entry: &CatalogEntry,
    parts: &EntryParts,
    replicas: u32,
    size_bytes: u64,
) -> Workload {
    if !entry.stateful {
        return Workload::Stateless { replicas };
    }
    Workload::Stateful {
        volumes: parts
            .data_paths
            .iter()
            .map(|DataPath { name, path }| VolumePlan {
                name: name.clone(),
                mount_path: path.clone(),
                size_bytes,
            })
            .collect(),
        retain_on_delete: input
            .spec
            .storage
            .as_ref()
            .and_then(|s| s.retain_on_delete)
            .unwrap_or(true),
    }
}

/// The user, root file system and capabilities the entry's image runs with.
fn security(entry: &CatalogEntry) -> SecurityPlan {
    SecurityPlan {
        uid: Some(entry.uid),
        gid: Some(entry.gid),
        run_as_non_root: entry.uid != 0,
        read_only_root: entry.read_only_root,
        add_capabilities: entry
            .add_capabilities
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

/// Every secret the entry's parts use must be one it declares (a catalog bug otherwise: no
/// value would ever be generated for it).
fn check_declared(
    parts: &EntryParts,
    declared: &[SecretDef],
    path: &str,
    errors: &mut ValidationErrors,
) {
    let declared: BTreeSet<&SecretId> = declared.iter().map(|d| &d.id).collect();
    let carried = parts.env.values().filter_map(|v| match v {
        EnvValue::Secret(id) => Some(id),
        EnvValue::Template(_) => None,
    });
    let in_templates = parts
        .env
        .values()
        .filter_map(|v| match v {
            EnvValue::Template(t) => Some(t),
            EnvValue::Secret(_) => None,
        })
        .chain(parts.command.iter().flatten())
        .chain(parts.args.iter().flatten())
        .chain(parts.connection.values())
        .flat_map(|t| t.secrets());
    let undeclared: BTreeSet<&SecretId> = carried
        .chain(in_templates)
        .filter(|id| !declared.contains(id))
        .collect();
    for id in undeclared {
        errors.push(
            path,
            format!("the catalog entry uses secret {id} without declaring it (a catalog bug)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::model::Workload;
    use crate::plan::tests::{errors_of, plan_of};

    #[test]
    fn stateful_types_keep_data_in_one_instance() {
        let plan = plan_of("db: {type: postgres, storage: {size: 2Gi, retainOnDelete: false}}\n");
        let db = &plan.services["db"];
        let Workload::Stateful {
            volumes,
            retain_on_delete,
        } = &db.workload
        else {
            panic!("postgres is stateful");
        };
        assert_eq!(volumes.len(), 1);
        assert_eq!(volumes[0].size_bytes, 2 << 30);
        assert!(!retain_on_delete);
        assert_eq!(db.replicas(), 1);
        assert_eq!(plan.secrets.len(), 1);
    }

    #[test]
    fn replicas_other_than_one_on_a_stateful_type_are_errors() {
        for replicas in [0, 2] {
            let errors = errors_of(&format!("db: {{type: postgres, replicas: {replicas}}}\n"));
            assert_eq!(errors.0.len(), 1, "{errors}");
            assert_eq!(errors.0[0].path, "spec.services.db.replicas");
        }
        assert!(errors_of("db: {type: postgres, replicas: 1}\n").is_empty());
        let errors = errors_of("db: {type: postgres, replicas: -1}\n");
        assert_eq!(errors.0[0].message, "must not be negative");
    }

    #[test]
    fn spec_fields_a_catalog_type_does_not_take() {
        let errors = errors_of(
            "db: {type: postgres, version: 'a b', ports: [{name: x, containerPort: 1}], healthcheck: {tcp: {port: x}}, env: {POSTGRES_PASSWORD: x}}\ntraces: {type: jaeger, storage: {size: 1Gi}, replicas: 2}\n",
        );
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"spec.services.db.ports"), "{paths:?}");
        assert!(paths.contains(&"spec.services.db.healthcheck"));
        assert!(paths.contains(&"spec.services.db.version"));
        assert!(paths.contains(&"spec.services.db.env.POSTGRES_PASSWORD"));
        assert!(paths.contains(&"spec.services.traces.storage"));
        assert!(
            !paths.contains(&"spec.services.traces.replicas"),
            "stateless types scale"
        );
    }
}

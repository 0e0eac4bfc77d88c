//! One service: what catalog and custom services share (profiles, the choice of kind, env
//! keys, resources, GPUs, command and args), with the kind deciding the rest as a [`Shape`](super::shape::Shape).

use super::model::{SecretDef, ServicePlan, Validated, Workload};
pub(super) use super::shape::ServiceInput;
use super::{
    app, catalog_service, custom_service, devloop, env::Carriers, files, names, resources, text,
};
use crate::catalog;
use crate::conventions::is_env_key;
use crate::error::{did_you_mean, ValidationErrors};
use crate::template::Template;
use crate::types::ServiceSpec;

/// The plan of one service and its generated secrets; `None` when it has an error (every
/// problem is in `errors`).
pub(super) fn plan(
    input: &ServiceInput,
    errors: &mut ValidationErrors,
) -> Option<(ServicePlan, Vec<SecretDef>)> {
    errors.scope(|errors| {
        let spec = input.spec;
        let path = input.path.as_str();
        names::profiles(&spec.profiles, path, errors);
        let entry = kind(spec, path, errors)?;
        for key in spec.env.keys().filter(|k| !is_env_key(k)) {
            errors.push(
                format!("{path}.env.{key}"),
                "not a valid environment variable name (letters, digits, '_', not starting with a digit)",
            );
        }
        text::no_nul(spec, path, errors);
        let budget = resources::budget(spec, entry, path, errors);
        let gpu = resources::gpu(spec, path, errors);
        let mut shape = match entry {
            Some(entry) => catalog_service::shape(input, entry, &budget, errors),
            None => custom_service::shape(input, errors),
        }?;
        let literals = |list: &Option<Vec<String>>| {
            list.as_ref()
                .map(|l| l.iter().map(|s| Template::lit(s.clone())).collect())
        };
        let command = literals(&spec.command).or(shape.command);
        let args = literals(&spec.args).or(shape.args);
        let app_secrets = app::secrets(spec, input.group, path, &mut shape.env, &shape.secrets, errors);
        shape.secrets.extend(app_secrets);
        let carriers = Carriers::of(&shape.env);
        let command = carriers.tie_all(command.as_ref(), &format!("{path}.command"), errors)?;
        let args = carriers.tie_all(args.as_ref(), &format!("{path}.args"), errors)?;
        let env = carriers.env(shape.env, path, errors);
        let data_paths: Vec<&str> = match &shape.workload {
            Workload::Stateful { volumes, .. } => {
                volumes.iter().map(|v| v.mount_path.as_str()).collect()
            }
            Workload::Stateless { .. } => Vec::new(),
        };
        let files = files::plan(
            &spec.files,
            shape.files,
            input.options.file_sources.as_ref(),
            &data_paths,
            path,
            errors,
        );
        let dev = devloop::plan(input, &shape.image, &shape.workload, errors);
        let planned = ServicePlan {
            name: input.name.to_string(),
            active: input.active,
            profiles: spec.profiles.clone(),
            type_name: shape.type_name,
            image: shape.image,
            workload: shape.workload,
            command,
            args,
            env,
            ports: shape.ports,
            health: shape.health,
            depends_on: Vec::new(),
            dependents: Vec::new(),
            writable_paths: shape.writable_paths,
            files,
            security: shape.security,
            resources: budget,
            gpu,
            gpu_required: spec.gpu_required.unwrap_or(false),
            connection: shape.connection,
            build: dev.build,
            mounts: dev.mounts,
            sync: dev.sync,
            metrics: Vec::new(),
            validated: Validated::new(),
        };
        Some((planned, shape.secrets))
    })
}

/// The catalog entry of a typed service (`Some(None)` for a custom image); `None` when the
/// spec sets both or neither of `type` and `image`, or an unknown type.
fn kind(
    spec: &ServiceSpec,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<Option<&'static catalog::CatalogEntry>> {
    // With `build`, `image` is optional: the repository defaults to `<stack>/<service>`.
    let image = spec
        .image
        .as_ref()
        .or(spec.build.as_ref().map(|b| &b.context));
    match (&spec.type_, image) {
        (Some(_), Some(_)) if spec.image.is_none() => Some(catalog_entry(spec, path, errors)?),
        (Some(_), Some(_)) => {
            errors.push(path, "set exactly one of type (a catalog service) or image (your own container), not both");
            None
        }
        (None, None) => {
            errors.push(path, "set exactly one of type (a catalog service, see `devstack catalog`) or image (your own container)");
            None
        }
        (Some(_), None) => Some(catalog_entry(spec, path, errors)?),
        (None, Some(_)) => Some(None),
    }
}

/// The catalog entry `spec.type` names; `None` (with the error) for an unknown type.
fn catalog_entry(
    spec: &ServiceSpec,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<Option<&'static catalog::CatalogEntry>> {
    let type_name = spec.type_.as_deref().unwrap_or_default();
    match catalog::lookup(type_name) {
        Some(entry) => Some(Some(entry)),
        None => {
            errors.push(
                format!("{path}.type"),
                format!(
                    "unknown catalog type {type_name:?}{}; `devstack catalog` lists the types",
                    did_you_mean(type_name, catalog::type_names())
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::tests::{errors_of, plan_of};
    use crate::template::Segment;

    #[test]
    fn spec_command_and_args_replace_the_entry_defaults() {
        let plan =
            plan_of("cache: {type: redis}\ncache2: {type: redis, args: ['--port', '7000']}\n");
        let default_args = plan.services["cache"]
            .args
            .as_ref()
            .expect("redis has args");
        // No password on the command line: the shell reads it from the env var.
        assert!(default_args
            .iter()
            .all(|t| t.0.iter().all(|s| !matches!(s, Segment::Secret(_)))));
        assert!(default_args.iter().any(|t| t
            .as_literal()
            .is_some_and(|w| w.contains("\"$REDIS_PASSWORD\""))));
        let args = plan.services["cache2"].args.as_ref().expect("args");
        let words: Vec<_> = args.iter().filter_map(|t| t.as_literal()).collect();
        assert_eq!(words, ["--port", "7000"]);
    }

    #[test]
    fn kind_and_env_keys_are_checked_first() {
        let errors = errors_of("a: {type: postgres, image: x:1}\nb: {}\nc: {type: postgress}\nd: {image: x:1, env: {1X: y}}\n");
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.services.a",
                "spec.services.b",
                "spec.services.c.type",
                "spec.services.d.env.1X"
            ]
        );
        assert!(errors.0[2].message.contains("did you mean \"postgres\""));
    }
}

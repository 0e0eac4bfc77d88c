//! Literal credentials of image services and Compose `secrets` → app `secrets` and
//! `connectionEnv` (issue 18). With the whole project in view:
//!
//! - a value equal to the literal password of a catalog dependency (`DB_PASSWORD: example`
//!   where the `db` service had `POSTGRES_PASSWORD: example`) becomes `connectionEnv:
//!   {DB_PASSWORD: db.PASSWORD}`: the dependency's password is generated now, and this keeps the
//!   two equal; a value that embeds it (a URL) becomes `<dep>.URL`;
//! - any other password or secret (`JWT_SECRET`, `SESSION_SECRET`) becomes a generated app
//!   secret of that name; a key or token of an outside service (`OPENAI_API_KEY`) cannot be
//!   generated and stays a literal, reported; so does a password another service's env holds too
//!   (a non-catalog database and its client: a generated value would break the pair);
//! - a Compose secret (a file under `/run/secrets`) becomes an env var of its name in capitals:
//!   the dependency's password when a catalog dependency used the same secret for its own
//!   password, a generated app secret otherwise. Files become env vars, so each is reported.

use std::collections::BTreeMap;

use devstack_core::app::AppSecrets;
use devstack_core::conventions::connection_key;
use devstack_core::plan::{plan, PlanOptions, StackPlan};
use devstack_core::types::{DevStack, ServiceSpec};
use serde_json::Value;

use crate::env::looks_secret;
use crate::loss::LossReport;
use crate::model::{Project, Service};

/// Words of a credential devstack can generate (the program and its peers only need to agree).
const GENERATED: &[&str] = &["PASSWORD", "PASSWD", "PASS", "SECRET"];

/// What a catalog dependency's literal credentials were in the file.
struct Dependency {
    name: String,
    passwords: Vec<String>,
    secret_files: Vec<String>,
}

/// Maps the credentials of every image service of `stack`; `names` maps Compose names to
/// stack names.
pub fn map(
    project: &Project,
    stack: &mut DevStack,
    names: &BTreeMap<String, String>,
    report: &mut LossReport,
) {
    let planned = bare_plan(stack);
    let mut changes = Vec::new();
    for (compose_name, svc) in &project.services {
        let Some(name) = names.get(compose_name) else {
            continue;
        };
        let Some(spec) = stack.spec.services.get(name) else {
            continue;
        };
        if spec.type_.is_some() {
            continue;
        }
        let typed = |d: &String| {
            names
                .get(d)
                .and_then(|n| stack.spec.services.get(n))
                .is_some_and(|s| s.type_.is_some())
        };
        let deps: Vec<Dependency> = svc
            .depends_on
            .keys()
            .filter(|d| typed(d))
            .filter_map(|d| dependency(project, d, names.get(d)?))
            .collect();
        changes.push((compose_name.clone(), name.clone(), deps));
    }
    for (compose_name, name, deps) in changes {
        let svc = &project.services[&compose_name];
        let Some(spec) = stack.spec.services.get_mut(&name) else {
            continue;
        };
        let has_output = |dep: &str, suffix: &str| {
            planned.as_ref().is_some_and(|p| {
                p.services
                    .get(dep)
                    .is_some_and(|d| d.connection.contains_key(&connection_key(dep, suffix)))
            })
        };
        let service = Mapped {
            project,
            compose_name: &compose_name,
            deps: &deps,
            has_output: &has_output,
        };
        let mut generated = service.env(spec, report);
        service.compose_secrets(svc, spec, &mut generated, report);
        if !generated.is_empty() {
            let mut all = match spec.secrets.take() {
                Some(AppSecrets::Names(names)) => names,
                _ => Vec::new(),
            };
            all.extend(generated);
            spec.secrets = Some(AppSecrets::Names(all));
        }
    }
}

/// One image service being mapped, with its catalog dependencies.
struct Mapped<'a> {
    project: &'a Project,
    compose_name: &'a str,
    deps: &'a [Dependency],
    has_output: &'a dyn Fn(&str, &str) -> bool,
}

impl Mapped<'_> {
    /// Its literal credentials in `environment`; the app secrets to generate.
    fn env(&self, spec: &mut ServiceSpec, report: &mut LossReport) -> Vec<String> {
        let (project, deps, has_output) = (self.project, self.deps, self.has_output);
        let compose_name = self.compose_name.to_string();
        let mut generated: Vec<String> = Vec::new();
        let env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, value) in env {
            if value.is_empty() {
                continue;
            }
            let field = format!("environment.{key}");
            let same = deps.iter().find(|d| d.passwords.contains(&value));
            let within = deps.iter().find(|d| {
                d.passwords
                    .iter()
                    .any(|p| p.len() >= 4 && value.contains(p.as_str()))
            });
            if let Some(dep) = same.filter(|d| has_output(&d.name, "PASSWORD")) {
                spec.env.remove(&key);
                // dependsOn already sets <DEP>_PASSWORD: nothing to add under that name.
                if key != connection_key(&dep.name, "PASSWORD") {
                    spec.connection_env
                        .insert(key.clone(), format!("{}.PASSWORD", dep.name));
                }
                report.changed(&compose_name, &field, &format!("the literal password of {}: connectionEnv {key}: {}.PASSWORD (that password is generated now)", dep.name, dep.name), "nothing to do");
            } else if let Some(dep) = within.filter(|d| has_output(&d.name, "URL")) {
                spec.env.remove(&key);
                spec.connection_env
                    .insert(key.clone(), format!("{}.URL", dep.name));
                report.changed(&compose_name, &field, &format!("a value with the literal password of {} in it: connectionEnv {key}: {}.URL (its generated password, host and port; the database name and options are the connection URL's)", dep.name, dep.name), &format!("check the URL suits the program (`devstack env --service {}`)", dep.name));
            } else if let Some(other) = generates(&key)
                .then(|| shared_with(project, &compose_name, &value))
                .flatten()
            {
                report.changed(&compose_name, &field, &format!("a literal credential that {other} holds too: kept as a literal in env (a generated value would no longer match there), so the stack file holds it (mode 0600)"), "make one service a catalog type so connectionEnv can carry its generated password, or keep the stack file out of version control");
            } else if generates(&key) {
                spec.env.remove(&key);
                generated.push(key.clone());
                report.changed(&compose_name, &field, &format!("a literal credential: secrets [{key}], generated once per stack (the file's value is not kept)"), "`devstack env --show-secrets` prints it; rotate with `devstack secrets rotate`");
            } else if looks_secret(&key) {
                report.changed(&compose_name, &field, "a credential of an outside service: kept as a literal in env (devstack cannot generate it), so the stack file holds it (mode 0600)", "keep the stack file out of version control, or set the value by hand where it runs");
            }
        }
        generated
    }

    /// Its Compose `secrets` (files under /run/secrets) as env vars.
    fn compose_secrets(
        &self,
        svc: &Service,
        spec: &mut ServiceSpec,
        generated: &mut Vec<String>,
        report: &mut LossReport,
    ) {
        let (deps, has_output) = (self.deps, self.has_output);
        let compose_name = self.compose_name.to_string();
        for reference in &svc.secrets {
            let source = reference
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("");
            let key = source.to_uppercase().replace(['-', '.'], "_");
            let field = format!("secrets.{source}");
            let shared = deps
                .iter()
                .find(|d| d.secret_files.iter().any(|s| s == source));
            if let Some(dep) = shared.filter(|d| has_output(&d.name, "PASSWORD")) {
                // dependsOn already sets <DEP>_PASSWORD: nothing to add under that name.
                if key != connection_key(&dep.name, "PASSWORD") {
                    spec.connection_env
                        .insert(key.clone(), format!("{}.PASSWORD", dep.name));
                }
                report.changed(&compose_name, &field, &format!("secret {source} is {}'s password: connectionEnv {key}: {}.PASSWORD, an env var, not a file under /run/secrets", dep.name, dep.name), &format!("read ${key} in the program instead of /run/secrets/{source}"));
            } else if !generated.contains(&key) && !spec.env.contains_key(&key) {
                generated.push(key.clone());
                report.changed(&compose_name, &field, &format!("secret {source}: secrets [{key}], a generated env var, not a file under /run/secrets (the file's value is not kept)"), &format!("read ${key} in the program instead of /run/secrets/{source}"));
            }
        }
    }
}

/// `<service>.environment.<KEY>` of another service whose env holds `value` (alone or inside
/// a longer value, such as a URL), if any.
fn shared_with(project: &Project, compose_name: &str, value: &str) -> Option<String> {
    if value.len() < 4 {
        return None;
    }
    project
        .services
        .iter()
        .filter(|(name, _)| name.as_str() != compose_name)
        .find_map(|(name, svc)| {
            svc.environment.iter().find_map(|(key, other)| {
                other
                    .as_deref()
                    .is_some_and(|o| o.contains(value))
                    .then(|| format!("{name}.environment.{key}"))
            })
        })
}

fn generates(key: &str) -> bool {
    let upper = key.to_uppercase();
    upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| GENERATED.contains(&word))
        && !["API_KEY", "APIKEY", "TOKEN", "ACCESS_KEY", "PRIVATE_KEY"]
            .iter()
            .any(|w| upper.contains(w))
}

/// A catalog dependency's literal passwords and password files, when it is a catalog service.
fn dependency(project: &Project, compose_name: &str, name: &str) -> Option<Dependency> {
    let svc: &Service = project.services.get(compose_name)?;
    crate::image::recognise(svc.image.as_deref()?)?;
    let passwords = svc
        .environment
        .iter()
        .filter(|(k, _)| k.contains("PASSWORD") && !k.ends_with("_FILE"))
        .filter_map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .collect();
    let secret_files = svc
        .secrets
        .iter()
        .filter_map(|s| s.get("source").and_then(Value::as_str).map(String::from))
        .collect();
    Some(Dependency {
        name: name.to_string(),
        passwords,
        secret_files,
    })
}

/// The plan of `stack` without env and files (connection outputs do not depend on them).
fn bare_plan(stack: &DevStack) -> Option<StackPlan> {
    let mut bare = stack.clone();
    for spec in bare.spec.services.values_mut() {
        spec.env.clear();
        spec.files.clear();
        spec.connection_env.clear();
        spec.secrets = None;
    }
    plan(&bare, &PlanOptions::default()).ok()
}

//! One test per mapping rule, on projects written as `docker compose config --format json`
//! prints them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use devstack_core::plan::{plan, PlanOptions};
use devstack_core::types::{Isolation, ServiceSpec};
use serde_json::{json, Value};

use super::*;

fn import_json(project: Value) -> Imported {
    import_with(project, &ImportOptions::default())
}

fn import_with(project: Value, options: &ImportOptions) -> Imported {
    let imported = import(&project.to_string(), options).unwrap();
    // Every import must validate: the stack is usable as written (file sources read as "x").
    let sources = devstack_core::plan::file_sources(&imported.stack)
        .into_iter()
        .map(|s| (s, Ok(b"x".to_vec())))
        .collect();
    let plan_options = PlanOptions {
        file_sources: Some(sources),
        ..PlanOptions::default()
    };
    if let Err(errors) = plan(&imported.stack, &plan_options) {
        panic!("imported stack does not validate:\n{errors}");
    }
    imported
}

fn one(service: Value) -> Imported {
    import_json(json!({"name": "demo", "services": {"svc": service}}))
}

fn svc<'a>(imported: &'a Imported, name: &str) -> &'a ServiceSpec {
    &imported.stack.spec.services[name]
}

fn keys(imported: &Imported) -> Vec<String> {
    imported
        .report
        .losses
        .iter()
        .map(|l| {
            format!(
                "{}:{}:{}",
                l.service.as_deref().unwrap_or("*"),
                l.key,
                l.kind.label()
            )
        })
        .collect()
}

fn has(imported: &Imported, wanted: &str) -> bool {
    keys(imported).iter().any(|k| k == wanted)
}

mod devloop;
mod services;
mod values;

//! Every check recorded; one result file per type and runtime under
//! `CARGO_TARGET_TMPDIR/catalog-conformance/` (`e2e/catalog-table.sh` turns them into the table of
//! docs/catalog.md); the test fails, after recording, when a check failed.

use std::path::PathBuf;
use std::time::Instant;

use devstack_core::plan::Probe;

use crate::CatalogFacts;

/// The expectations, from the plan of a stack with only the type (catalog defaults).
pub fn catalog_facts(type_name: &str) -> CatalogFacts {
    let yaml = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: facts}}\nspec:\n  services:\n    svc: {{type: {type_name}}}\n"
    );
    let stack = devstack_core::parse::parse_devstack(&yaml).expect("parse the facts stack");
    let plan = devstack_core::plan(&stack, &devstack_core::PlanOptions::default())
        .expect("plan the facts stack");
    let svc = &plan.services["svc"];
    let health = svc.health.as_ref().and_then(|h| match &h.probe {
        Probe::Exec(argv) if h.in_container => Some(argv.words().to_vec()),
        _ => None,
    });
    let http_probe = svc.health.as_ref().and_then(|h| match &h.probe {
        Probe::Http { path, port } if !h.in_container => Some((port.number, path.clone())),
        _ => None,
    });
    CatalogFacts {
        uid: svc
            .security
            .uid
            .and_then(|u| u64::try_from(u).ok())
            .unwrap_or(0),
        read_only_root: svc.security.read_only_root,
        health,
        http_probe,
        stateful: svc.is_stateful(),
        image: svc.image.clone(),
    }
}

pub struct Report {
    type_name: String,
    runtime: String,
    lines: Vec<String>,
    failures: Vec<String>,
    started: Instant,
}

fn results_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("catalog-conformance")
}

impl Report {
    pub fn new(type_name: &str, runtime: &str, pinned: &str, local: &str) -> Report {
        Report {
            type_name: type_name.to_string(),
            runtime: runtime.to_string(),
            lines: vec![format!("pinned\t{pinned}"), format!("local\t{local}")],
            failures: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Records one check (and prints it, so a failing run shows every result).
    pub fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                eprintln!(
                    "[{} {} {:>3}s] ok: {name}",
                    self.type_name,
                    self.runtime,
                    self.started.elapsed().as_secs()
                );
                self.lines.push(format!("check\t{name}\tpass"));
            }
            Err(e) => {
                eprintln!(
                    "[{} {} {:>3}s] FAILED: {name}: {e}",
                    self.type_name,
                    self.runtime,
                    self.started.elapsed().as_secs()
                );
                self.lines.push(format!("check\t{name}\tfail"));
                self.failures.push(format!("{name}: {e}"));
            }
        }
    }

    /// Writes the result file; `Err` lists the failed checks.
    pub fn finish(mut self) -> Result<(), String> {
        let seconds = self.started.elapsed().as_secs();
        self.lines.push(format!("seconds\t{seconds}"));
        let dir = results_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("results dir: {e}"))?;
        let file = dir.join(format!("{}-{}.tsv", self.type_name, self.runtime));
        std::fs::write(&file, self.lines.join("\n") + "\n")
            .map_err(|e| format!("write {}: {e}", file.display()))?;
        if self.failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} check(s) failed:\n  {}",
                self.failures.len(),
                self.failures.join("\n  ")
            ))
        }
    }
}

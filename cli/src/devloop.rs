//! The I/O edge of the inner loop: paths of `build`, `mounts` and `sync` are resolved against
//! the stack file's directory and must exist; each build context is hashed into the content
//! tag the plan then carries. A missing path is invalid input naming the field (exit 2).

use std::path::Path;

use devstack_core::plan::{PlanOptions, StackPlan};
use devstack_core::ValidationErrors;
use devstack_docker::context::BuildContext;

use crate::load::{load_plan, LoadError};

/// Reads and plans the stack in `file` with `options`, its paths resolved against `base_dir`
/// and its build images tagged by content.
pub fn plan_file(
    file: &Path,
    base_dir: &Path,
    mut options: PlanOptions,
) -> Result<StackPlan, LoadError> {
    let shown = file.display().to_string();
    options.base_dir = Some(base_dir.to_path_buf());
    let plan = load_plan(file, &options)?;
    let mut errors = ValidationErrors::default();
    check_host_paths(&plan, &mut errors);
    for service in plan.active_services() {
        let Some(build) = &service.build else {
            continue;
        };
        let tag = BuildContext::open(build).and_then(|context| context.tag(build));
        match tag {
            Ok(tag) => {
                options.build_tags.insert(service.name.clone(), tag);
            }
            Err(e) => errors.push(
                format!("spec.services.{}.build.{}", service.name, e.field()),
                e.to_string(),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(LoadError::Invalid {
            path: shown,
            errors,
        });
    }
    if options.build_tags.is_empty() {
        return Ok(plan);
    }
    // Planned again with the tags (the file is read again: the stack is small).
    load_plan(file, &options)
}

/// Mount sources must exist; sync sources must be directories.
fn check_host_paths(plan: &StackPlan, errors: &mut ValidationErrors) {
    for service in plan.active_services() {
        for (i, mount) in service.mounts.iter().enumerate() {
            if !Path::new(&mount.source).exists() {
                errors.push(
                    format!("spec.services.{}.mounts[{i}].source", service.name),
                    format!(
                        "{} does not exist; create it or fix the path (relative to the stack file)",
                        mount.source
                    ),
                );
            }
        }
        for (i, sync) in service.sync.iter().enumerate() {
            if !Path::new(&sync.source).is_dir() {
                errors.push(
                    format!("spec.services.{}.sync[{i}].source", service.name),
                    format!("{} is not a directory; sync copies a directory (relative to the stack file)", sync.source),
                );
            }
        }
    }
}

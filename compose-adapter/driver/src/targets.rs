//! Whether each service's metrics are scraped: asks the stack's prometheus (its first active
//! one) for `/api/v1/targets`, from inside its container (no published port needed), and reads
//! the answer back per service.

use std::collections::BTreeMap;

use devstack_core::plan::observability::{parse_targets, TargetHealth, PROMETHEUS};
use devstack_core::plan::StackPlan;

use crate::api::DockerApi;
use crate::ops::project_containers;
use crate::wait::exec;

/// The scrape health of every scraped service, by service; `None` when the stack has no
/// running prometheus or it does not answer.
pub async fn metrics_health<D: DockerApi>(
    docker: &D,
    plan: &StackPlan,
) -> Option<BTreeMap<String, TargetHealth>> {
    let prometheus = plan
        .active_services()
        .find(|s| s.type_name.as_deref() == Some(PROMETHEUS))?;
    let port = prometheus.port("http")?.container_port;
    let containers = project_containers(docker, &plan.name).await.ok()?;
    let container = containers
        .iter()
        .find(|c| c.service == prometheus.name && c.state == "running")?;
    let url = format!("http://127.0.0.1:{port}/api/v1/targets?state=active");
    let argv = ["wget", "-q", "-O", "-", url.as_str()].map(String::from);
    let (code, output) = exec(docker, &container.id, &argv).await.ok()?;
    if code != 0 {
        return None;
    }
    parse_targets(&output)
}

//! Health checks: the plan's health check as a Compose `healthcheck`, with the same command
//! and timing the Kubernetes probes use. The command's spelling is
//! [`CheckForm::compose_test`], which parity reads back.

use devstack_core::conventions::health::CheckForm;
use devstack_core::plan::ServicePlan;

use crate::model::Healthcheck;
use crate::spelling::Seconds;
use crate::text::escape;

/// The Compose health check of `service`, if it has one that runs in the container.
pub fn healthcheck(service: &ServicePlan) -> Option<Healthcheck> {
    let health = service.container_health()?;
    Some(Healthcheck {
        test: CheckForm::of(&health.probe)
            .compose_test()
            .iter()
            .map(|word| escape(word))
            .collect(),
        interval: Seconds(health.interval_seconds),
        timeout: Seconds(health.timeout_seconds),
        retries: health.retries,
        start_period: Seconds(health.start_period_seconds),
    })
}

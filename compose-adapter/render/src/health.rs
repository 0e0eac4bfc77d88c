//! Health checks: the plan's health check as a Compose `healthcheck`, with the same command
//! and timing the Kubernetes probes use. The command's spelling is
//! [`CheckForm::compose_test`], which parity reads back.

use devstack_core::conventions::health::{CheckForm, STARTING_CHECK_PERIOD_SECONDS};
use devstack_core::plan::ServicePlan;

use crate::model::{Healthcheck, Project};
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
        start_interval: None,
    })
}

/// The health checks of `project` for an engine with `start_interval` (Docker Engine 25 and
/// later): during its start period a service is checked every
/// [`STARTING_CHECK_PERIOD_SECONDS`] until its first success, then every `interval` — the
/// cadence of the Kubernetes startup probe, so a ready dependency is found within about a
/// second on both sides. The failure window is unchanged (failures in the start period do not
/// count, with or without it). Older engines refuse the key (Compose: "requires Docker Engine
/// v25 or later"), so the plain rendering leaves it out.
pub fn with_start_interval(project: &mut Project) {
    for service in project.services.values_mut() {
        if let Some(check) = &mut service.healthcheck {
            let faster = check.interval.0 > STARTING_CHECK_PERIOD_SECONDS;
            if check.start_period.0 > 0 && faster {
                check.start_interval = Some(Seconds(STARTING_CHECK_PERIOD_SECONDS));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use devstack_core::test_support::plan_spec;

    use super::*;
    use crate::render::project;

    #[test]
    fn a_start_period_is_checked_every_second_only_for_engines_that_can() {
        let plan = plan_spec(
            "services:\n  db: {type: postgres}\n  quick:\n    image: busybox\n    healthcheck: {exec: {command: [\"true\"]}, startPeriodSeconds: 0}\n  busy:\n    image: busybox\n    healthcheck: {exec: {command: [\"true\"]}, intervalSeconds: 1, startPeriodSeconds: 5}\n",
        );
        let plain = project(&plan);
        let text = crate::to_text(&plain).unwrap();
        assert!(!text.contains("start_interval"), "{text}");

        let mut newer = plain.clone();
        with_start_interval(&mut newer);
        let check = |name: &str| newer.services[name].healthcheck.clone().unwrap();
        let db = check("db");
        assert_eq!(db.start_interval, Some(Seconds(1)));
        let plain_db = plain.services["db"].healthcheck.clone().unwrap();
        assert_eq!(
            (db.interval, db.retries, db.start_period),
            (plain_db.interval, plain_db.retries, plain_db.start_period),
            "the failure window stays"
        );
        assert_eq!(check("quick").start_interval, None, "no start period");
        assert_eq!(check("busy").start_interval, None, "already every second");
        assert!(crate::to_text(&newer)
            .unwrap()
            .contains("start_interval: 1s"));
    }
}

//! Probes from the plan's [`HealthPlan`]: the same check and timing as the Compose healthcheck.
//!
//! Readiness and liveness run the check every `interval` seconds and give up after `retries`
//! failures. Compose's `start_period` (failures do not count while the service starts) has no
//! direct Kubernetes equivalent; a startup probe gives the same start window of
//! `(retries + ceil(start_period / interval)) × interval` seconds before liveness takes over.
//!
//! The startup probe runs every [`STARTUP_PERIOD`] second, its failure threshold scaled to keep
//! that window: a service is found ready within about a second of being ready (the kubelet runs
//! the readiness probe as soon as the startup probe succeeds), instead of up to `interval`
//! seconds later per dependency level, which a dependent on a real node waited before.

use devstack_core::plan::{self, HealthPlan};
use k8s_openapi::api::core::v1::{ExecAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The startup probe's period in seconds.
pub(crate) const STARTUP_PERIOD: u32 =
    devstack_core::conventions::health::STARTING_CHECK_PERIOD_SECONDS;

/// The readiness, liveness and startup probes of a container.
pub(crate) struct Probes {
    pub readiness: Probe,
    pub liveness: Probe,
    pub startup: Probe,
}

fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn check(probe: Probe, check: &plan::Probe) -> Probe {
    match check {
        plan::Probe::Exec(argv) => Probe {
            exec: Some(ExecAction {
                command: Some(argv.words().to_vec()),
            }),
            ..probe
        },
        plan::Probe::Http { path, port } => Probe {
            http_get: Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::String(port.name.clone()),
                ..HTTPGetAction::default()
            }),
            ..probe
        },
        plan::Probe::Tcp { port } => Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String(port.name.clone()),
                ..TCPSocketAction::default()
            }),
            ..probe
        },
    }
}

/// Probes for `health`.
pub(crate) fn probes(health: &HealthPlan) -> Probes {
    let interval = health.interval_seconds.max(1);
    let timed = |period: u32, failure_threshold: u32| {
        check(
            Probe {
                period_seconds: Some(int(period)),
                timeout_seconds: Some(int(health.timeout_seconds)),
                failure_threshold: Some(int(failure_threshold)),
                ..Probe::default()
            },
            &health.probe,
        )
    };
    let grace = health.start_period_seconds.div_ceil(interval);
    let window = health
        .retries
        .saturating_add(grace)
        .saturating_mul(interval);
    Probes {
        readiness: timed(interval, health.retries),
        liveness: timed(interval, health.retries),
        startup: timed(STARTUP_PERIOD, window.div_ceil(STARTUP_PERIOD)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::plan::{Argv, NamedPort};

    fn health(probe: plan::Probe) -> HealthPlan {
        HealthPlan {
            probe,
            interval_seconds: 10,
            timeout_seconds: 3,
            retries: 5,
            start_period_seconds: 10,
            in_container: true,
        }
    }

    fn port(name: &str) -> NamedPort {
        NamedPort {
            name: name.into(),
            number: 1,
        }
    }

    #[test]
    fn exec_check_is_the_same_argv() {
        let argv = ["sh", "-c", "pg_isready -U \"$POSTGRES_USER\""].map(String::from);
        let p = probes(&health(plan::Probe::Exec(
            Argv::new(argv.to_vec()).expect("a program"),
        )));
        let argv = p.liveness.exec.unwrap().command.unwrap();
        assert_eq!(argv, ["sh", "-c", "pg_isready -U \"$POSTGRES_USER\""]);
    }

    #[test]
    fn timing_and_startup_grace() {
        let mut health = health(plan::Probe::Tcp { port: port("db") });
        health.interval_seconds = 10;
        health.timeout_seconds = 3;
        health.retries = 5;
        health.start_period_seconds = 25;
        let p = probes(&health);
        for probe in [&p.readiness, &p.liveness] {
            assert_eq!(probe.period_seconds, Some(10));
            assert_eq!(probe.timeout_seconds, Some(3));
            assert_eq!(probe.failure_threshold, Some(5));
        }
        assert_eq!(
            p.startup.period_seconds,
            Some(1),
            "finds a ready service within 1 s"
        );
        assert_eq!(p.startup.timeout_seconds, Some(3));
        assert_eq!(
            p.startup.failure_threshold,
            Some((5 + 3) * 10),
            "the same window: (5 retries + ceil(25 / 10) = 3) x 10 s, tried every second"
        );
        assert_eq!(
            p.startup.tcp_socket.unwrap().port,
            IntOrString::String("db".into())
        );
        health.start_period_seconds = 0;
        assert_eq!(probes(&health).startup.failure_threshold, Some(50));
        health.start_period_seconds = 20;
        assert_eq!(probes(&health).startup.failure_threshold, Some(70));
    }

    #[test]
    fn http_check_uses_the_port_name() {
        let p = probes(&health(plan::Probe::Http {
            path: "/healthz".into(),
            port: port("http"),
        }));
        let get = p.readiness.http_get.unwrap();
        assert_eq!(get.path.as_deref(), Some("/healthz"));
        assert_eq!(get.port, IntOrString::String("http".into()));
        assert!(p.readiness.exec.is_none());
    }
}

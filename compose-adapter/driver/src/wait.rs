//! Readiness: a service is ready when its health check passes. Docker runs the check only
//! every `interval` (Compose waits for that); the driver also runs the same check itself
//! inside the container as often as it likes while the service starts, so dependents start
//! as soon as the service answers.

use std::path::Path;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;

use devstack_render_compose::model::Healthcheck;

use super::DriverError;
use crate::api::DockerApi;
use crate::listen::{listening, tcp_ports, Listening};

/// Pause between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// Pause between two probes while the container listens on none of its ports (the engine's
/// own cadence in the fair Compose file): a service that is not listening is rarely ready.
const QUIET_PROBE_EVERY: Duration = Duration::from_secs(1);
/// How often the host's `/proc` is read for a listener while none is seen (no Engine call).
const LISTEN_POLL: Duration = Duration::from_millis(25);
/// The longest one probe may run (less when the deadline is nearer): a hung check never holds
/// `up` past its `--timeout`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most output of one probe that is kept; reading stops there (a chatty check never fills
/// the memory).
pub const PROBE_OUTPUT_MAX: usize = 64 * 1024;
/// Log lines shown when a service fails.
const LOG_TAIL: &str = "20";

/// The command the health check runs, as an exec argv.
pub fn probe_argv(health: &Healthcheck) -> Option<Vec<String>> {
    test_argv(&health.test)
}

/// Whether the container's own health check `test` (as the engine holds it) passes when run
/// once now, within a short timeout (`VERIFY_TIMEOUT`): `devstack status` while the engine still says
/// `starting` (it runs the check only every `interval`), so status never contradicts `up`.
pub async fn verify_once<D: DockerApi>(docker: &D, container: &str, test: &[String]) -> bool {
    let Some(argv) = test_argv(test) else {
        return false;
    };
    matches!(
        tokio::time::timeout(VERIFY_TIMEOUT, exec(docker, container, &argv)).await,
        Ok(Ok((0, _)))
    )
}

/// The longest `devstack status` waits for one verifying check.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);

fn test_argv(test: &[String]) -> Option<Vec<String>> {
    let (kind, rest) = test.split_first()?;
    match kind.as_str() {
        "CMD" if !rest.is_empty() => Some(rest.to_vec()),
        "CMD-SHELL" => Some(vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            rest.join(" "),
        ]),
        _ => None,
    }
}

/// Waits until `container` of `service` is ready (health check passing, or running when it
/// has none) or `deadline` passes.
pub async fn wait_ready<D: DockerApi>(
    docker: &D,
    service: &str,
    container: &str,
    probe: Option<&[String]>,
    deadline: Instant,
) -> Result<(), DriverError> {
    let mut last_output = String::new();
    let mut last_probe = Instant::now();
    let mut probed = false;
    loop {
        let inspect = docker
            .inspect_container(container, None)
            .await
            .map_err(|e| DriverError::docker(format!("inspecting {container}"), e))?;
        let pace = Pace::of(&inspect);
        let state = inspect.state.unwrap_or_default();
        let health = state.health.clone().unwrap_or_default();
        let docker_output = health
            .log
            .as_ref()
            .and_then(|l| l.last())
            .and_then(|r| r.output.clone())
            .unwrap_or_default();
        if let Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) =
            state.status
        {
            let code = state.exit_code.unwrap_or_default();
            let reason = format!("the container exited with code {code}");
            return Err(failure(docker, service, container, reason, &last_output).await);
        }
        match health.status {
            Some(HealthStatusEnum::HEALTHY) => return Ok(()),
            Some(HealthStatusEnum::UNHEALTHY) => {
                let output = if docker_output.is_empty() {
                    last_output
                } else {
                    docker_output
                };
                let reason = "Docker's health check reports it unhealthy".to_string();
                return Err(failure(docker, service, container, reason, &output).await);
            }
            _ => {}
        }
        let running = state.running == Some(true);
        match probe {
            None if running => return Ok(()),
            Some(argv) if running && (!probed || pace.due(last_probe)) => {
                (probed, last_probe) = (true, Instant::now());
                match probe_once(docker, container, argv, deadline).await {
                    Ok(()) => return Ok(()),
                    Err(output) => last_output = output,
                }
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            let output = if last_output.is_empty() {
                docker_output
            } else {
                last_output
            };
            let reason = "timed out waiting for the health check to pass".to_string();
            return Err(failure(docker, service, container, reason, &output).await);
        }
        pace.pause().await;
    }
}

/// The cadence of the driver's checks of one container: every [`PROBE_EVERY`], or every
/// [`QUIET_PROBE_EVERY`] while this host sees it listen on none of its ports (and at once
/// when it starts to).
struct Pace {
    id: String,
    pid: i64,
    ports: Vec<u16>,
}

impl Pace {
    fn of(inspect: &ContainerInspectResponse) -> Pace {
        Pace {
            id: inspect.id.clone().unwrap_or_default(),
            pid: inspect
                .state
                .as_ref()
                .and_then(|s| s.pid)
                .unwrap_or_default(),
            ports: inspect
                .config
                .as_ref()
                .and_then(|c| c.exposed_ports.as_deref())
                .map(tcp_ports)
                .unwrap_or_default(),
        }
    }

    fn listening(&self) -> Listening {
        listening(Path::new("/proc"), self.pid, &self.id, &self.ports)
    }

    /// Whether a check is due, the last one having run at `last`.
    fn due(&self, last: Instant) -> bool {
        self.listening() != Listening::No || last.elapsed() >= QUIET_PROBE_EVERY
    }

    /// Waits until the next round: [`PROBE_EVERY`], cut short when the container starts to
    /// listen.
    async fn pause(&self) {
        if self.listening() != Listening::No {
            tokio::time::sleep(PROBE_EVERY).await;
            return;
        }
        let until = Instant::now() + PROBE_EVERY;
        while Instant::now() < until && self.listening() == Listening::No {
            tokio::time::sleep(LISTEN_POLL).await;
        }
    }
}

/// Runs the health check once, within what is left until `deadline` (bounded): `Err` with
/// what it said when it fails.
async fn probe_once<D: DockerApi>(
    docker: &D,
    container: &str,
    argv: &[String],
    deadline: Instant,
) -> Result<(), String> {
    let limit = deadline
        .saturating_duration_since(Instant::now())
        .clamp(PROBE_EVERY, PROBE_TIMEOUT);
    match tokio::time::timeout(limit, exec(docker, container, argv)).await {
        Ok(Ok((0, _))) => Ok(()),
        Ok(Ok((code, output))) => Err(format!("exit code {code}: {}", output.trim())),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the health check did not finish within {:.1}s",
            limit.as_secs_f64()
        )),
    }
}

/// Runs `argv` in `container` as its configured user; the exit code and combined output, at
/// most [`PROBE_OUTPUT_MAX`] bytes of it (a check still running then counts as failed).
pub(crate) async fn exec<D: DockerApi>(
    docker: &D,
    container: &str,
    argv: &[String],
) -> Result<(i64, String), bollard::errors::Error> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(argv.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..CreateExecOptions::default()
            },
        )
        .await?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = docker.start_exec(&created.id, None).await?
    {
        while let Some(chunk) = stream.next().await {
            output.push_str(&chunk?.to_string());
            if output.len() > PROBE_OUTPUT_MAX {
                let mut end = PROBE_OUTPUT_MAX;
                while !output.is_char_boundary(end) {
                    end -= 1;
                }
                output.truncate(end);
                output.push_str("\n(output cut at 64 KiB)");
                break;
            }
        }
    }
    let inspect = docker.inspect_exec(&created.id).await?;
    Ok((inspect.exit_code.unwrap_or(-1), output))
}

async fn failure<D: DockerApi>(
    docker: &D,
    service: &str,
    container: &str,
    reason: String,
    health_output: &str,
) -> DriverError {
    let logs = log_tail(docker, container).await;
    DriverError::Unhealthy {
        service: service.to_string(),
        reason,
        health: indent(if health_output.trim().is_empty() {
            "(none)"
        } else {
            health_output
        }),
        logs: indent(if logs.trim().is_empty() {
            "(none)"
        } else {
            &logs
        }),
    }
}

/// The last lines the container logged (both streams).
pub async fn log_tail<D: DockerApi>(docker: &D, container: &str) -> String {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail(LOG_TAIL)
        .build();
    let mut stream = docker.logs(container, Some(options));
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&chunk.to_string());
    }
    text
}

fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

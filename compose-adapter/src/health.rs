//! Health checks: the plan's [`Health`] as a Compose `healthcheck`, with the same command and
//! timing the Kubernetes probes use.

use devstack_crds::catalog::{Check, Health};
use devstack_crds::plan::ServicePlan;

use crate::model::Healthcheck;
use crate::text::escape;
use crate::RenderError;

/// The Compose health check of `service`, if it has one.
pub fn healthcheck(service: &ServicePlan) -> Result<Option<Healthcheck>, RenderError> {
    let Some(health) = service.container_health() else {
        return Ok(None);
    };
    Ok(Some(Healthcheck {
        test: test(service, health)?,
        interval: seconds(health.interval_seconds),
        timeout: seconds(health.timeout_seconds),
        retries: health.retries,
        start_period: seconds(health.start_period_seconds),
    }))
}

fn seconds(n: u32) -> String {
    format!("{n}s")
}

fn container_port(service: &ServicePlan, name: &str) -> Result<u16, RenderError> {
    service
        .port(name)
        .map(|p| p.container_port)
        .ok_or_else(|| RenderError::UnknownPort {
            service: service.name.clone(),
            port: name.to_string(),
        })
}

fn test(service: &ServicePlan, health: &Health) -> Result<Vec<String>, RenderError> {
    let mut test = Vec::new();
    match &health.check {
        Check::Exec(argv) => {
            if argv.is_empty() {
                return Err(RenderError::EmptyHealthCommand {
                    service: service.name.clone(),
                });
            }
            test.push("CMD".to_string());
            test.extend(argv.iter().map(|a| escape(a)));
        }
        Check::Http { path, port } => {
            let port = container_port(service, port)?;
            let url = shell_word(&format!("http://127.0.0.1:{port}{path}"));
            test.push("CMD-SHELL".to_string());
            test.push(escape(&format!(
                "wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url}"
            )));
        }
        Check::Tcp { port } => {
            let port = container_port(service, port)?;
            test.extend(
                [
                    "CMD",
                    "bash",
                    "-c",
                    &format!(":> /dev/tcp/127.0.0.1/{port}"),
                ]
                .map(String::from),
            );
        }
    }
    Ok(test)
}

/// `word` as one shell word: unchanged when it has no shell-special characters (the usual
/// URL), single-quoted otherwise (`/a?b&c`).
fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._~%+=,:@-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_word("http://127.0.0.1:80/healthz"),
            "http://127.0.0.1:80/healthz"
        );
        assert_eq!(shell_word("http://h/a?b&c"), "'http://h/a?b&c'");
        assert_eq!(shell_word("/it's"), r"'/it'\''s'");
    }
}

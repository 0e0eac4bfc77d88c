//! Health checks: the plan's [`HealthPlan`] as a Compose `healthcheck`, with the same command
//! and timing the Kubernetes probes use.

use devstack_crds::plan::{HealthPlan, Probe, ServicePlan};

use crate::model::Healthcheck;
use crate::text::escape;

/// The Compose health check of `service`, if it has one that runs in the container.
pub fn healthcheck(service: &ServicePlan) -> Option<Healthcheck> {
    let health = service.container_health()?;
    Some(Healthcheck {
        test: test(health),
        interval: seconds(health.interval_seconds),
        timeout: seconds(health.timeout_seconds),
        retries: health.retries,
        start_period: seconds(health.start_period_seconds),
    })
}

fn seconds(n: u32) -> String {
    format!("{n}s")
}

fn test(health: &HealthPlan) -> Vec<String> {
    let mut test = Vec::new();
    match &health.probe {
        Probe::Exec(argv) => {
            test.push("CMD".to_string());
            test.extend(argv.words().iter().map(|a| escape(a)));
        }
        Probe::Http { path, port } => {
            let url = shell_word(&format!("http://127.0.0.1:{}{path}", port.number));
            test.push("CMD-SHELL".to_string());
            test.push(escape(&format!(
                "wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url}"
            )));
        }
        Probe::Tcp { port } => {
            test.extend(
                [
                    "CMD",
                    "bash",
                    "-c",
                    &format!(":> /dev/tcp/127.0.0.1/{}", port.number),
                ]
                .map(String::from),
            );
        }
    }
    test
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

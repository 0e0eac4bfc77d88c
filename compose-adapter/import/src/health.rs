//! Health checks: `CMD` → exec, `CMD-SHELL` → exec through `sh -c`, and a `curl`/`wget` of a
//! local URL → an HTTP check only where the two mean exactly the same (a GET on one of the
//! service's own ports that fails on 4xx/5xx). Timing is carried over exactly, with Compose's
//! own defaults (30s / 30s / 3 / 0s) written out where the file left them unset, so the stack's
//! defaults (10s / 3s / 5 / 10s) never change a check silently.

use std::collections::BTreeMap;

use devstack_core::types::{ExecCheck, HealthcheckSpec, HttpCheck};

use crate::loss::LossReport;
use crate::model::Healthcheck;

/// Compose's defaults: interval, timeout, retries, start period.
pub const COMPOSE_DEFAULTS: [u32; 4] = [30, 30, 3, 0];

/// Seconds of a Go duration (`1m30s`, `500ms`, `2h`), rounded up to whole seconds.
pub fn seconds(text: &str) -> Option<u32> {
    let mut total_ms: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_ms += (number * factor).ceil() as u64;
    }
    u32::try_from(total_ms.div_ceil(1000)).ok()
}

/// The DevStack health check of a custom service, or `None` (no check, or disabled).
/// `port_names` maps container ports to the port names the import gave them.
pub fn map(
    service: &str,
    check: &Healthcheck,
    port_names: &BTreeMap<u16, String>,
    report: &mut LossReport,
) -> Option<HealthcheckSpec> {
    if check.disable == Some(true) || check.test.first().map(String::as_str) == Some("NONE") {
        return None;
    }
    let (kind, argv) = check.test.split_first()?;
    let mut spec = HealthcheckSpec::default();
    let command: Vec<String> = match kind.as_str() {
        "CMD" => argv.to_vec(),
        "CMD-SHELL" => {
            let script = argv.join(" ");
            vec!["sh".into(), "-c".into(), script]
        }
        other => {
            report.dropped(
                service,
                "healthcheck.test",
                &format!("test starts with {other:?}, not CMD or CMD-SHELL"),
                "write the check as [\"CMD\", …] or [\"CMD-SHELL\", \"…\"]",
            );
            return None;
        }
    };
    match http_check(kind, argv, port_names) {
        Some(http) => spec.http = Some(http),
        None => spec.exec = Some(ExecCheck { command }),
    }
    timing(service, check, &mut spec, report);
    Some(spec)
}

fn timing(service: &str, check: &Healthcheck, spec: &mut HealthcheckSpec, report: &mut LossReport) {
    let limit = devstack_core::limits::MAX_SECONDS as u32;
    let mut read = |key: &str, text: &Option<String>, default: u32, min: u32| -> i32 {
        let value = text.as_deref().and_then(seconds).unwrap_or(default);
        let clamped = value.clamp(min, limit);
        if clamped != value {
            report.changed(
                service,
                &format!("healthcheck.{key}"),
                &format!("{value}s is outside {min}..{limit}s: {clamped}s"),
                "choose a value in range",
            );
        }
        clamped as i32
    };
    let [di, dt, dr, ds] = COMPOSE_DEFAULTS;
    spec.interval_seconds = Some(read("interval", &check.interval, di, 1));
    spec.timeout_seconds = Some(read("timeout", &check.timeout, dt, 1));
    spec.start_period_seconds = Some(read("start_period", &check.start_period, ds, 0));
    let retries = check.retries.unwrap_or(u64::from(dr));
    spec.retries = Some(retries.clamp(1, devstack_core::limits::MAX_RETRIES as u64) as i32);
    if check.start_interval.is_some() {
        report.dropped(
            service,
            "healthcheck.start_interval",
            "no DevStack meaning: checks run every interval, also during the start period",
            "shorten interval if the service must be seen healthy sooner",
        );
    }
}

/// An HTTP check when the test is exactly a GET of `http://localhost:PORT/PATH` (or
/// 127.0.0.1) by `curl -f` or `wget --spider`, on one of the service's ports.
fn http_check(
    kind: &str,
    argv: &[String],
    port_names: &BTreeMap<u16, String>,
) -> Option<HttpCheck> {
    let words: Vec<String> = if kind == "CMD-SHELL" {
        let script = argv.join(" ");
        let script = script
            .trim()
            .trim_end_matches("|| exit 1")
            .trim_end_matches("||exit 1")
            .trim();
        if script.contains(['|', '&', ';', '$', '`', '>', '<', '"', '\'']) {
            return None;
        }
        script.split_whitespace().map(str::to_string).collect()
    } else {
        argv.to_vec()
    };
    let (tool, args) = words.split_first()?;
    let (url, flags): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| a.starts_with("http://"));
    let [url] = url.as_slice() else {
        return None;
    };
    let flags: Vec<&str> = flags.iter().map(|f| f.as_str()).collect();
    let exact = match tool.as_str() {
        "curl" => {
            let fail = flags.iter().any(|f| {
                *f == "--fail" || (f.starts_with('-') && !f.starts_with("--") && f.contains('f'))
            });
            fail && flags.iter().all(|f| {
                matches!(*f, "--fail" | "--silent" | "--show-error")
                    || (f.starts_with('-')
                        && !f.starts_with("--")
                        && f[1..].chars().all(|c| "fsS".contains(c)))
            })
        }
        "wget" => {
            flags.contains(&"--spider")
                && flags
                    .iter()
                    .all(|f| matches!(*f, "--spider" | "-q" | "--quiet" | "--no-verbose"))
        }
        _ => false,
    };
    if !exact {
        return None;
    }
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (authority, 80),
    };
    if !matches!(host, "localhost" | "127.0.0.1") {
        return None;
    }
    Some(HttpCheck {
        path: path.to_string(),
        port: port_names.get(&port)?.clone(),
    })
}

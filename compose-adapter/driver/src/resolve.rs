//! The rendered compose model as Compose itself reads it: interpolations filled from the
//! `.env` values (`${ID:?…}` → the secret, `$$` → `$`). Ports, durations, CPUs and memory
//! are typed in the model (`devstack_render_compose::spelling`), so nothing is parsed back.
//! The driver starts from this resolved model, so what it creates is what `docker compose up`
//! creates from the rendered file.

use std::collections::BTreeMap;

use devstack_render_compose::model::{Healthcheck, OrderedMap, Service};
pub use devstack_render_compose::spelling::PublishedPort;

use super::DriverError;

/// `service` with every interpolation resolved against `secrets`.
pub fn resolve_service(
    name: &str,
    service: &Service,
    secrets: &BTreeMap<String, String>,
) -> Result<Service, DriverError> {
    let text = |value: &str| resolve_text(name, value, secrets);
    let list = |values: &[String]| -> Result<Vec<String>, DriverError> {
        values.iter().map(|v| text(v)).collect()
    };
    let mut out = service.clone();
    out.image = text(&service.image)?;
    out.user = service.user.as_deref().map(text).transpose()?;
    out.entrypoint = service.entrypoint.as_deref().map(list).transpose()?;
    out.command = service.command.as_deref().map(list).transpose()?;
    out.environment = OrderedMap(
        service
            .environment
            .0
            .iter()
            .map(|(k, v)| Ok((k.clone(), text(v)?)))
            .collect::<Result<_, DriverError>>()?,
    );
    out.healthcheck = service
        .healthcheck
        .as_ref()
        .map(|h| -> Result<Healthcheck, DriverError> {
            Ok(Healthcheck {
                test: list(&h.test)?,
                ..h.clone()
            })
        })
        .transpose()?;
    for mount in &mut out.volumes {
        mount.target = text(&mount.target)?;
        if mount.kind == "bind" {
            mount.source = text(&mount.source)?;
        }
    }
    out.tmpfs = list(&service.tmpfs)?;
    out.cap_add = list(&service.cap_add)?;
    Ok(out)
}

/// Resolves Compose interpolation as the renderer writes it: `$$` is a literal `$`,
/// `${ID:?message}` (or `${ID}`) is the value of secret `ID`.
pub fn resolve_text(
    service: &str,
    text: &str,
    secrets: &BTreeMap<String, String>,
) -> Result<String, DriverError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| DriverError::Interpolation {
                service: service.to_string(),
                text: text.to_string(),
            })?;
            let id = body[..end].split(':').next().unwrap_or_default();
            let value = secrets.get(id).ok_or_else(|| DriverError::MissingSecret {
                service: service.to_string(),
                id: id.to_string(),
            })?;
            out.push_str(value);
            rest = &body[end + 1..];
        } else {
            return Err(DriverError::Interpolation {
                service: service.to_string(),
                text: text.to_string(),
            });
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_resolved_like_compose() {
        let secrets = BTreeMap::from([("PW".to_string(), "s3cret".to_string())]);
        assert_eq!(
            resolve_text("db", "a$$b ${PW:?missing: run x} $${PW}", &secrets).unwrap(),
            "a$b s3cret ${PW}"
        );
        assert!(matches!(
            resolve_text("db", "${NOPE:?x}", &secrets),
            Err(DriverError::MissingSecret { .. })
        ));
    }
}

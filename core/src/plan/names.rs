//! Names the spec gives: the stack, services, profiles, images and image tags; and the
//! registry mirror rewrite of image references.

use crate::conventions::is_dns_label;
use crate::error::ValidationErrors;
use crate::types::DevStack;

/// The stack name (`metadata.name`), checked: required, a DNS label of at most 53 characters
/// (room for the `-credentials` / `-connections` suffixes).
pub(super) fn stack_name(stack: &DevStack, errors: &mut ValidationErrors) -> String {
    let name = stack.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        errors.push(
            "metadata.name",
            "required: the stack name (also the Compose project name)",
        );
    } else if !is_dns_label(&name, 53) {
        errors.push(
            "metadata.name",
            format!("{name:?} is not a DNS label of at most 53 characters (lowercase letters, digits, '-')"),
        );
    }
    name
}

/// Checks a service name (a key of `spec.services`).
pub(super) fn service_name(name: &str, path: &str, errors: &mut ValidationErrors) {
    if !is_dns_label(name, 63) {
        errors.push(
            path,
            format!("service name {name:?} is not a DNS label (lowercase letters, digits and '-', starting with a letter)"),
        );
    }
}

/// Checks the profile names of one service.
pub(super) fn profiles(profiles: &[String], path: &str, errors: &mut ValidationErrors) {
    for (i, profile) in profiles.iter().enumerate() {
        if !is_dns_label(profile, 63) {
            errors.push(
                format!("{path}.profiles[{i}]"),
                format!("{profile:?} is not a valid profile name (lowercase letters, digits, '-')"),
            );
        }
    }
}

/// Checks a custom image reference.
pub(super) fn image(image: &str, path: &str, errors: &mut ValidationErrors) {
    if image.trim().is_empty() || image.contains(char::is_whitespace) {
        errors.push(
            format!("{path}.image"),
            format!("{image:?} is not an image reference (for example ghcr.io/acme/api:1.4.2)"),
        );
    }
}

/// Checks a catalog service's version (the image tag).
pub(super) fn version(version: &str, path: &str, errors: &mut ValidationErrors) {
    if version.is_empty() || version.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') {
        errors.push(
            format!("{path}.version"),
            format!("{version:?} is not an image tag"),
        );
    }
}

/// `a, b, c`, or `none`.
pub(super) fn list_or_none<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<_> = items.collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Rewrites `image` onto a registry mirror (`spec.imageRegistry`): the original registry host
/// (if any) is replaced, the path and tag stay.
pub fn apply_registry(image: &str, registry: Option<&str>) -> String {
    let Some(registry) = registry
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty())
    else {
        return image.to_string();
    };
    let path = match image.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => image,
    };
    format!("{registry}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_rewrite_replaces_only_the_registry_host() {
        let mirror = Some("mirror.local:5000/");
        assert_eq!(
            apply_registry("postgres:18.1", mirror),
            "mirror.local:5000/postgres:18.1"
        );
        assert_eq!(
            apply_registry("bitnami/redis:8", mirror),
            "mirror.local:5000/bitnami/redis:8"
        );
        assert_eq!(
            apply_registry("ghcr.io/acme/api:1", mirror),
            "mirror.local:5000/acme/api:1"
        );
        assert_eq!(
            apply_registry("localhost/api:1", mirror),
            "mirror.local:5000/api:1"
        );
        assert_eq!(
            apply_registry("registry:5000/api:1", mirror),
            "mirror.local:5000/api:1"
        );
        assert_eq!(apply_registry("api:1", None), "api:1");
        assert_eq!(apply_registry("api:1", Some("/")), "api:1");
    }

    #[test]
    fn names_are_checked_with_their_path() {
        let mut errors = ValidationErrors::default();
        service_name("Api", "spec.services.Api", &mut errors);
        profiles(&["ok".into(), "Not_ok".into()], "p", &mut errors);
        image("a b", "p", &mut errors);
        version("1.0/x", "p", &mut errors);
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.services.Api", "p.profiles[1]", "p.image", "p.version"]
        );
        assert_eq!(list_or_none(["a", "b"].into_iter()), "a, b");
        assert_eq!(list_or_none(std::iter::empty()), "none");
    }
}

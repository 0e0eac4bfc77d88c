//! Text the spec hands on verbatim: to a process (env values, command, args) or to the engine
//! and the registry (image references, the registry mirror, tags). No NUL byte reaches a
//! process (none accepts one), and references hold only the characters a reference may have,
//! so no space, newline, quote or `$(...)` reaches a command line, a compose file or a pull.

use crate::error::ValidationErrors;
use crate::types::ServiceSpec;

/// Whether `text` is made of the characters of an image reference (`registry:5000/org/app:1.2`
/// or `app@sha256:…`): ASCII letters, digits and `._-/:@`, and not empty.
pub(super) fn is_reference(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
}

/// Whether `text` is an image tag: a letter, digit or `_`, then up to 127 letters, digits,
/// `_`, `.` or `-` (the registry's grammar).
pub(super) fn is_tag(text: &str) -> bool {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok
        && text.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Reports every env value, command word and argument of `spec` that holds a NUL byte.
pub(super) fn no_nul(spec: &ServiceSpec, path: &str, errors: &mut ValidationErrors) {
    for (key, value) in &spec.env {
        if value.contains('\0') {
            errors.push(
                format!("{path}.env.{key}"),
                "holds a NUL character, which no process accepts in its environment; remove it",
            );
        }
    }
    for (field, list) in [("command", &spec.command), ("args", &spec.args)] {
        for (i, word) in list.iter().flatten().enumerate() {
            if word.contains('\0') {
                errors.push(
                    format!("{path}.{field}[{i}]"),
                    "holds a NUL character, which no process accepts on its command line; remove it",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_tags_hold_only_their_characters() {
        for ok in ["postgres:18.1", "registry.local:5000/mirror", "a@sha256:0f"] {
            assert!(is_reference(ok), "{ok}");
        }
        for bad in ["", "a b", "a\nb", "$(id)", "a;b", "`x`", "a'b"] {
            assert!(!is_reference(bad), "{bad:?}");
        }
        for ok in ["18.1", "v1.2.3-alpine", "_x", "latest"] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".x",
            "1 2",
            "$(id)",
            "1\n",
            "a/b",
            "a:b",
            &"x".repeat(129),
        ] {
            assert!(!is_tag(bad), "{bad:?}");
        }
    }
}

//! Text in a Compose file, both ways: literal `$` written `$$`, secrets as `${ID:?…}`
//! interpolations from the `.env` file ([`escape`], [`interpolation`]); [`unescape`] undoes both
//! (parity reads renderings back with it).

/// The message Compose prints when a secret is missing from the `.env` file.
pub const MISSING_SECRET_HINT: &str = "secret missing: run devstack render compose -o DIR";

/// Escapes literal text for Compose interpolation: every `$` becomes `$$`.
pub fn escape(text: &str) -> String {
    text.replace('$', "$$")
}

/// The interpolation that reads secret `id` from the environment / `.env`, failing loudly
/// when it is absent.
pub fn interpolation(id: &str) -> String {
    format!("${{{id}:?{MISSING_SECRET_HINT}}}")
}

/// Undoes Compose escaping and interpolation: `$$` → `$`, `${NAME…}` → `variable(NAME)`.
pub fn unescape(text: &str, mut variable: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').unwrap_or(after.len());
            let inner = &after[..end];
            let name = inner.split([':', '-', '?']).next().unwrap_or(inner);
            out.push_str(&variable(name));
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_dollar() {
        assert_eq!(escape("a$b$$c${D}"), "a$$b$$$$c$${D}");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn interpolation_has_the_guard() {
        assert_eq!(
            interpolation("DEVSTACK_PG_PASSWORD"),
            "${DEVSTACK_PG_PASSWORD:?secret missing: run devstack render compose -o DIR}"
        );
    }

    #[test]
    fn unescape_undoes_escape_and_interpolation() {
        let marker = |name: &str| format!("<{name}>");
        for text in ["a$b", "$$(HOME)", "${X}", "plain", "$"] {
            assert_eq!(unescape(&escape(text), marker), text);
        }
        let written = format!("pw={}@db", interpolation("DEVSTACK_DB_PASSWORD"));
        assert_eq!(unescape(&written, marker), "pw=<DEVSTACK_DB_PASSWORD>@db");
        assert_eq!(unescape("${A:-x}${B}", marker), "<A><B>");
    }
}

//! User values inside connection URLs: a user name, database or vhost is one URL component,
//! percent-encoded, so `u:x@attacker.example:5432/db?a=` stays a user name and the URL still
//! points at the service (the plain `_USER` / `_DB` outputs keep the value as written).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (letters, digits, `-._~`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one URL component (user info, path segment or query value).
pub fn component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_encoded_and_plain_names_kept() {
        assert_eq!(component("soma_app-1.x~"), "soma_app-1.x~");
        assert_eq!(
            component("u:x@attacker.example:5432/db?a="),
            "u%3Ax%40attacker.example%3A5432%2Fdb%3Fa%3D"
        );
        assert_eq!(component("/"), "%2F");
        assert_eq!(component("a%b #é"), "a%25b%20%23%C3%A9");
    }
}

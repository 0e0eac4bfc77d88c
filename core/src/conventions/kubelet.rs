//! Kubernetes' `$(VAR)` expansion in container fields (command, args, env values), both ways:
//! [`escape`] is what the Kubernetes renderer writes so literal text survives, [`expand`] is
//! what the kubelet does with it (parity reads renderings back with it).

/// Escapes literal text for a container field given the character that follows it in the
/// rendered value. The kubelet reads `$$` as `$` and `$(` as a reference, so a `$` followed by
/// `(` or `$` is doubled; any other `$` stays as it is (`$HOME` is left alone by the kubelet).
pub fn escape(text: &str, next: Option<char>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek().copied().or(next), Some('$' | '(')) {
            out.push('$');
        }
    }
    out
}

/// Kubernetes' expansion (k8s.io/kubernetes third_party/forked/golang/expansion): `$$` → `$`,
/// `$(NAME)` → `lookup(NAME)` or left as written when unknown, anything else unchanged.
pub fn expand(input: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("$(") {
            match after.find(')') {
                Some(end) => {
                    let name = &after[..end];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = after;
                }
            }
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
    use std::collections::BTreeMap;

    use super::*;

    fn expand_with(input: &str, env: &BTreeMap<&str, &str>) -> String {
        expand(input, |name| env.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn expansion_follows_the_kubelet() {
        let env = BTreeMap::from([("A", "a")]);
        assert_eq!(expand_with("$(A)-$$(A)-$(B)-$-$", &env), "a-$(A)-$(B)-$-$");
        assert_eq!(expand_with("x$(A", &env), "x$(A");
        assert_eq!(expand_with("€$(A)é", &env), "€aé");
    }

    #[test]
    fn escapes_only_what_the_kubelet_would_expand() {
        assert_eq!(escape("$(HOME)", None), "$$(HOME)");
        assert_eq!(escape("echo $HOME", None), "echo $HOME");
        assert_eq!(escape("a$$b", None), "a$$$b");
        assert_eq!(escape("cost: 5$", None), "cost: 5$");
        assert_eq!(escape("cost: 5$", Some('(')), "cost: 5$$");
        let env = BTreeMap::from([("HOME", "/root"), ("X", "x"), ("A", "a")]);
        for text in [
            "$(HOME)", "$$(X)", "a$$b", "$", "$$", "x$(", "${A}", "$(A)$(B)", "€$(é)",
        ] {
            let escaped = escape(text, None);
            assert_eq!(expand_with(&escaped, &env), text, "{escaped}");
        }
    }

    proptest::proptest! {
        /// Whatever the literal text and whatever hole follows it (a secret reference, a host
        /// name, nothing), the kubelet expands the rendering back to the intended value.
        #[test]
        fn escaped_literals_expand_to_themselves(
            text in "[a-z$()A-Z_ ]{0,24}",
            hole in proptest::sample::select(vec![("", ""), ("$(K)", "v"), ("db.ns.svc", "db.ns.svc")]),
        ) {
            let (rendered, value) = hole;
            let escaped = escape(&text, rendered.chars().next());
            let env = BTreeMap::from([("K", "v"), ("A", "a")]);
            proptest::prop_assert_eq!(expand_with(&format!("{escaped}{rendered}"), &env), format!("{text}{value}"));
        }
    }
}

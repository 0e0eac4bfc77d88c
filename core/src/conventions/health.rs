//! A health check in the words both modes share. The Compose renderer writes a check as a
//! Compose `test` ([`CheckForm::compose_test`]); parity reads it back
//! ([`CheckForm::from_compose_test`]) and compares it with the Kubernetes probe, both printed
//! the same way (`Display`).

use std::fmt;

use crate::plan::Probe;

/// How often a starting service is checked, in seconds, where the runtime can check a starting
/// service more often than a running one: the Kubernetes startup probe's period (the smallest
/// the kubelet takes) and Compose's `start_interval` on Docker Engine 25 and later. A service
/// is then found ready within about a second of being ready, on both sides.
pub const STARTING_CHECK_PERIOD_SECONDS: u32 = 1;

/// What a health check does, ports as numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckForm {
    /// A command in the container.
    Exec(Vec<String>),
    /// HTTP GET `path` on local port `port`, healthy on a 2xx/3xx answer.
    Http {
        /// Request path.
        path: String,
        /// Container port.
        port: u16,
    },
    /// TCP connect to local port `port`.
    Tcp {
        /// Container port.
        port: u16,
    },
}

const HTTP_GET: &str = "wget -q -O /dev/null ";
const HTTP_FALLBACK: &str = " || curl -fsS -o /dev/null ";
const LOCAL_URL: &str = "http://127.0.0.1:";
const TCP_CONNECT: &str = ":> /dev/tcp/127.0.0.1/";

impl CheckForm {
    /// The form of a planned probe.
    pub fn of(probe: &Probe) -> Self {
        match probe {
            Probe::Exec(argv) => CheckForm::Exec(argv.words().to_vec()),
            Probe::Http { path, port } => CheckForm::Http {
                path: path.clone(),
                port: port.number,
            },
            Probe::Tcp { port } => CheckForm::Tcp { port: port.number },
        }
    }

    /// The Compose healthcheck `test`, before Compose escaping: `CMD` with the argv for exec
    /// checks, wget-or-curl in a shell for HTTP (images have one or the other), bash's
    /// `/dev/tcp` for TCP.
    pub fn compose_test(&self) -> Vec<String> {
        match self {
            CheckForm::Exec(argv) => std::iter::once("CMD".to_string())
                .chain(argv.iter().cloned())
                .collect(),
            CheckForm::Http { path, port } => {
                let url = shell_word(&format!("{LOCAL_URL}{port}{path}"));
                vec![
                    "CMD-SHELL".to_string(),
                    format!("{HTTP_GET}{url}{HTTP_FALLBACK}{url}"),
                ]
            }
            CheckForm::Tcp { port } => ["CMD", "bash", "-c", &format!("{TCP_CONNECT}{port}")]
                .map(String::from)
                .to_vec(),
        }
    }

    /// The form of a Compose `test` (unescaped) that [`CheckForm::compose_test`] wrote; `None`
    /// for anything else (a `CMD-SHELL` script of someone else's).
    pub fn from_compose_test(test: &[String]) -> Option<Self> {
        let form = match test.first().map(String::as_str)? {
            "CMD" => {
                let argv = &test[1..];
                match argv {
                    [bash, c, script] if bash == "bash" && c == "-c" => {
                        match script.strip_prefix(TCP_CONNECT).map(str::parse) {
                            Some(Ok(port)) => CheckForm::Tcp { port },
                            _ => CheckForm::Exec(argv.to_vec()),
                        }
                    }
                    _ => CheckForm::Exec(argv.to_vec()),
                }
            }
            "CMD-SHELL" => {
                let script = test.get(1)?.strip_prefix(HTTP_GET)?;
                let (word, _) = script.split_once(HTTP_FALLBACK)?;
                let url = unquote(word)?;
                let rest = url.strip_prefix(LOCAL_URL)?;
                let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                CheckForm::Http {
                    path: path.to_string(),
                    port: port.parse().ok()?,
                }
            }
            _ => return None,
        };
        // Only an exact rendering counts: a look-alike script is not this check.
        (form.compose_test() == test).then_some(form)
    }
}

impl fmt::Display for CheckForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckForm::Exec(argv) => write!(f, "exec {argv:?}"),
            CheckForm::Http { path, port } => write!(f, "http {path} :{port}"),
            CheckForm::Tcp { port } => write!(f, "tcp :{port}"),
        }
    }
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

/// The word [`shell_word`] quoted.
fn unquote(word: &str) -> Option<String> {
    match word.strip_prefix('\'') {
        Some(inner) => Some(inner.strip_suffix('\'')?.replace(r"'\''", "'")),
        None => Some(word.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_word("http://127.0.0.1:80/healthz"),
            "http://127.0.0.1:80/healthz"
        );
        assert_eq!(shell_word("http://h/a?b&c"), "'http://h/a?b&c'");
        assert_eq!(shell_word("/it's"), r"'/it'\''s'");
        assert_eq!(unquote(&shell_word("/it's")).as_deref(), Some("/it's"));
    }

    #[test]
    fn compose_tests_read_back_to_their_form() {
        for form in [
            CheckForm::Exec(words(&["pg_isready", "-q"])),
            CheckForm::Exec(words(&["bash", "-c", "echo ok"])),
            CheckForm::Http {
                path: "/health".into(),
                port: 8000,
            },
            CheckForm::Http {
                path: "/a?b&it's".into(),
                port: 80,
            },
            CheckForm::Tcp { port: 6333 },
        ] {
            assert_eq!(
                CheckForm::from_compose_test(&form.compose_test()),
                Some(form.clone())
            );
        }
        assert_eq!(
            CheckForm::Tcp { port: 6333 }.compose_test(),
            ["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"]
        );
        assert_eq!(
            CheckForm::Http {
                path: "/health".into(),
                port: 8000
            }
            .compose_test()[1],
            "wget -q -O /dev/null http://127.0.0.1:8000/health || curl -fsS -o /dev/null http://127.0.0.1:8000/health"
        );
        let foreign = words(&[
            "CMD-SHELL",
            "wget -q -O /dev/null http://127.0.0.1:80/ && true",
        ]);
        assert_eq!(CheckForm::from_compose_test(&foreign), None);
        assert_eq!(CheckForm::from_compose_test(&words(&["NONE"])), None);
    }

    #[test]
    fn forms_print_the_same_in_both_modes() {
        assert_eq!(CheckForm::Tcp { port: 1 }.to_string(), "tcp :1");
        assert_eq!(
            CheckForm::Http {
                path: "/h".into(),
                port: 2
            }
            .to_string(),
            "http /h :2"
        );
        assert_eq!(
            CheckForm::Exec(words(&["a", "b"])).to_string(),
            r#"exec ["a", "b"]"#
        );
    }
}

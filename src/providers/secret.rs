//! API keys as a type that cannot be printed by accident.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::KeySource;

/// An API key. `Debug` and `Display` print `***`; only [`Secret::expose`] reads it, and the
/// only callers are the places that put it on the wire (a header) or scrub it out of text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Longest provider error body echoed into a message; the rest is cut with `…`.
pub const MAX_ECHO_CHARS: usize = 300;

/// Makes text that came back from a server safe to show and log: the key (and anything that
/// looks like a key or a bearer token) replaced by `***`, folded to one line, truncated.
pub fn scrub(text: &str, key: Option<&Secret>) -> String {
    let mut out = text.to_string();
    if let Some(key) = key
        && key.expose().len() >= 4
    {
        out = out.replace(key.expose(), "***");
    }
    out = mask_key_shapes(&out);
    let one_line: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&one_line, MAX_ECHO_CHARS)
}

/// Replaces tokens shaped like provider keys (`sk-…`, `Bearer …`) even when we do not know
/// the key, e.g. a proxy echoing some other credential back.
fn mask_key_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut mask_next = false;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let looks_like_key = word.len() >= 20
            && (word.starts_with("sk-") || word.starts_with("sk_") || word.starts_with("key-"));
        if mask_next && !word.is_empty() || looks_like_key {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        mask_next = word.eq_ignore_ascii_case("bearer");
    }
    out
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// How long a key command may run (it may wait on a password manager's agent).
pub const KEY_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a configured key could not be read. Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("api_key_command `{command}` could not start: {reason}")]
    CommandStart { command: String, reason: String },
    #[error("api_key_command `{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("api_key_command `{command}` did not finish within {}s", KEY_COMMAND_TIMEOUT.as_secs())]
    CommandTimeout { command: String },
    #[error("api_key_command `{command}` printed nothing on stdout")]
    CommandEmpty { command: String },
}

/// Reads a key from its configured source: the key command when one is set, else the named
/// environment variable, else the key written in the config file. `Ok(None)`: no key
/// configured (fine for local endpoints, and the offline coach needs none).
/// Blocks while a key command runs (at most [`KEY_COMMAND_TIMEOUT`]).
pub fn resolve_key(source: &KeySource<'_>) -> Result<Option<Secret>, KeyError> {
    let command = source.api_key_command.trim();
    if !command.is_empty() {
        return run_key_command(command).map(Some);
    }
    let env_name = source.api_key_env.trim();
    if !env_name.is_empty()
        && let Ok(value) = std::env::var(env_name)
        && !value.trim().is_empty()
    {
        return Ok(Some(Secret::new(value.trim())));
    }
    let inline = source.api_key.trim();
    Ok((!inline.is_empty()).then(|| Secret::new(inline)))
}

fn run_key_command(command: &str) -> Result<Secret, KeyError> {
    let mut shell = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.args(["/C", command]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", command]);
        c
    };
    let mut child = shell
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| KeyError::CommandStart {
            command: command.to_string(),
            reason: e.to_string(),
        })?;
    let deadline = Instant::now() + KEY_COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(KeyError::CommandTimeout {
                    command: command.to_string(),
                });
            }
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let key = stdout.lines().next().unwrap_or("").trim().to_string();
    if !status.success() {
        // stderr is shown, scrubbed of whatever stdout held, in case the tool echoes it.
        let printed = Secret::new(key);
        return Err(KeyError::CommandFailed {
            command: command.to_string(),
            status: status.to_string(),
            stderr: scrub(&stderr, Some(&printed)),
        });
    }
    if key.is_empty() {
        return Err(KeyError::CommandEmpty {
            command: command.to_string(),
        });
    }
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_key() {
        let s = Secret::new("sk-ant-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "sk-ant-very-secret");
    }

    #[test]
    fn scrub_removes_key_folds_lines_and_truncates() {
        let key = Secret::new("my-fake-key-123");
        let text = format!(
            "bad key my-fake-key-123\nsecond line Bearer abc {}",
            "x".repeat(400)
        );
        let out = scrub(&text, Some(&key));
        assert!(!out.contains("my-fake-key-123"));
        assert!(!out.contains("abc"));
        assert!(!out.contains('\n'));
        assert!(out.chars().count() <= MAX_ECHO_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn scrub_masks_key_shapes_it_was_not_told_about() {
        let out = scrub("key sk-proj-abcdefghijklmnopqrstuvwxyz is wrong", None);
        assert_eq!(out, "key *** is wrong");
    }

    fn source<'a>(env: &'a str, command: &'a str, inline: &'a str) -> KeySource<'a> {
        KeySource {
            api_key_env: env,
            api_key_command: command,
            api_key: inline,
        }
    }

    #[test]
    fn resolves_command_then_env_then_inline() {
        assert_eq!(resolve_key(&source("", "", "")).unwrap(), None);
        assert_eq!(
            resolve_key(&source("", "", " inline-key ")).unwrap(),
            Some(Secret::new("inline-key"))
        );
        // PATH is set in any test environment and stands in for a key variable.
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(
            resolve_key(&source("PATH", "", "inline-key")).unwrap(),
            Some(Secret::new(path.trim()))
        );
        assert_eq!(
            resolve_key(&source("GROW_TEST_SURELY_UNSET_VAR", "", "inline-key")).unwrap(),
            Some(Secret::new("inline-key"))
        );
        #[cfg(unix)]
        assert_eq!(
            resolve_key(&source("PATH", "printf 'cmd-key\\n'", "inline")).unwrap(),
            Some(Secret::new("cmd-key"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn failing_key_commands_explain_without_the_key() {
        let err = resolve_key(&source(
            "",
            "echo leaked-$((1+1))key; echo oops >&2; exit 3",
            "",
        ))
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, KeyError::CommandFailed { .. }), "{text}");
        assert!(
            text.contains("oops") && !text.contains("leaked-2key"),
            "{text}"
        );
        assert!(matches!(
            resolve_key(&source("", "true", "")).unwrap_err(),
            KeyError::CommandEmpty { .. }
        ));
    }
}

//! API keys: from the environment variable a config names, or from a command that prints
//! the key (a password manager). Read once at start; never logged, stored or exported.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::config::KeySource;
use crate::providers::Secret;

const KEY_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a key was found, for `grow config check` and the first-start hint (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Env(String),
    Command,
    ConfigFile,
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Env(var) => write!(f, "${var}"),
            KeyOrigin::Command => f.write_str("api_key_command"),
            KeyOrigin::ConfigFile => f.write_str("the config file"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("api_key_command `{command}` failed: {detail}")]
    CommandFailed { command: String, detail: String },
}

/// Resolves a key: env var, then the key command, then a key written in the config file.
pub fn resolve(
    source: KeySource<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Secret, KeyOrigin)>, KeyError> {
    if !source.api_key_env.is_empty() {
        if let Some(v) = env(source.api_key_env)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            return Ok(Some((
                Secret::new(v),
                KeyOrigin::Env(source.api_key_env.to_string()),
            )));
        }
    }
    if !source.api_key_command.trim().is_empty() {
        let key = run_key_command(source.api_key_command)?;
        return Ok(Some((Secret::new(key), KeyOrigin::Command)));
    }
    if !source.api_key.trim().is_empty() {
        return Ok(Some((
            Secret::new(source.api_key.trim().to_string()),
            KeyOrigin::ConfigFile,
        )));
    }
    Ok(None)
}

fn run_key_command(command: &str) -> Result<String, KeyError> {
    let fail = |detail: String| KeyError::CommandFailed {
        command: command.to_string(),
        detail,
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let started = std::time::Instant::now();
    loop {
        match child.try_wait().map_err(|e| fail(e.to_string()))? {
            Some(status) if status.success() => break,
            Some(status) => return Err(fail(format!("exited with {status}"))),
            None if started.elapsed() > KEY_COMMAND_TIMEOUT => {
                let _ = child.kill();
                return Err(fail(format!(
                    "no answer within {} s",
                    KEY_COMMAND_TIMEOUT.as_secs()
                )));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        stdout
            .read_to_string(&mut out)
            .map_err(|e| fail(e.to_string()))?;
    }
    let key = out.lines().next().unwrap_or("").trim().to_string();
    if key.is_empty() {
        return Err(fail("printed nothing".into()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(env: &'a str, cmd: &'a str, key: &'a str) -> KeySource<'a> {
        KeySource {
            api_key_env: env,
            api_key_command: cmd,
            api_key: key,
        }
    }

    #[test]
    fn env_wins_then_command_then_file() {
        let env = |k: &str| (k == "MY_KEY").then(|| "from-env".to_string());
        let (k, o) = resolve(source("MY_KEY", "echo from-cmd", "from-file"), &env)
            .unwrap()
            .unwrap();
        assert_eq!(
            (k.expose(), o),
            ("from-env", KeyOrigin::Env("MY_KEY".into()))
        );
        let none = |_: &str| None;
        let (k, o) = resolve(source("MY_KEY", "echo from-cmd", "from-file"), &none)
            .unwrap()
            .unwrap();
        assert_eq!((k.expose(), o), ("from-cmd", KeyOrigin::Command));
        let (k, _) = resolve(source("", "", "from-file"), &none)
            .unwrap()
            .unwrap();
        assert_eq!(k.expose(), "from-file");
        assert!(resolve(source("", "", ""), &none).unwrap().is_none());
    }

    #[test]
    fn failing_command_is_a_clear_error_without_output() {
        let none = |_: &str| None;
        // The command's output may be (part of) a key: it never reaches the message.
        let err = resolve(source("", "printf 'sk-%s' leaked; exit 3", ""), &none).unwrap_err();
        assert!(err.to_string().contains("exited with"), "{err}");
        assert!(!err.to_string().contains("sk-leaked"), "{err}");
    }
}

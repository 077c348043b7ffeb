//! Slash commands typed in the input: `/new`, `/model <id>`, `/auto`, `/upgrade`,
//! `/compare <text>`, `/export [md|json]`, `/commit <text> [by <date>]`, `/done N`,
//! `/missed N`, `/commitments`, `/propose`, `/consult`, `/finish`, `/help`, `/quit`.

use crate::coach::api::{CommitmentStatus, CommitmentView, ExportFormat, Resolution};
use crate::source_error::nearest;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    New,
    /// Pin a model for the following turns of this conversation.
    Model(String),
    /// Show which model is pinned (`/model` without an id).
    ShowModel,
    Auto,
    Upgrade,
    /// `/compare` alone reopens the last comparison.
    Compare(Option<String>),
    Export(ExportFormat),
    /// `/commit <text> [by <date>]`: the coach reads the date (it knows today).
    Commit(String),
    /// `/done N`, `/missed N`.
    Resolve(i64, Resolution),
    Commitments,
    /// Ask the coach to read the last exchange for a commitment to propose.
    Propose,
    /// Open the intake consultation (turning it on first shows its cost).
    Consult,
    /// End the consultation now and prepare the personal coach.
    Finish,
    Help,
    Quit,
}

/// Name, argument synopsis and one-line help of every command, for `/help` and suggestions.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("/new", "", "start a new conversation in a new tab"),
    ("/model", "<id>", "pin a model for the following turns"),
    ("/auto", "", "unpin: let routing choose again"),
    ("/upgrade", "", "use the upgrade model for the next turn"),
    (
        "/compare",
        "<text>",
        "send to default and upgrade model side by side",
    ),
    ("/export", "[md|json]", "export this conversation to a file"),
    (
        "/commit",
        "<text> [by …]",
        "note a commitment (by friday, 2026-12-01, in 3 days…)",
    ),
    ("/done", "<N>", "mark commitment N as done"),
    ("/missed", "<N>", "mark commitment N as missed"),
    ("/commitments", "", "list your commitments"),
    (
        "/propose",
        "",
        "let the coach propose a commitment from the last exchange",
    ),
    (
        "/consult",
        "",
        "the intake consultation: start, or resume where you paused",
    ),
    (
        "/finish",
        "",
        "end the consultation and prepare your personal coach",
    ),
    ("/help", "", "show keys and commands"),
    ("/quit", "", "leave grow"),
];

#[derive(Debug, Clone, PartialEq)]
pub enum CommandError {
    Unknown {
        name: String,
        suggestion: Option<&'static str>,
    },
    BadArgument {
        usage: &'static str,
        got: String,
    },
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Unknown {
                name,
                suggestion: Some(s),
            } => write!(
                f,
                "unknown command {name}: did you mean {s}? (/help lists all)"
            ),
            CommandError::Unknown {
                name,
                suggestion: None,
            } => write!(f, "unknown command {name} (/help lists all)"),
            CommandError::BadArgument { usage, got } => {
                write!(f, "cannot use `{got}` here; usage: {usage}")
            }
        }
    }
}

/// Parses a submitted input. `None` when it is a message, not a command; `//text` is the
/// message `/text`.
pub fn parse(input: &str) -> Option<Result<Command, CommandError>> {
    let trimmed = input.trim_start();
    if !trimmed.starts_with('/') || trimmed.starts_with("//") {
        return None;
    }
    let (name, arg) = match trimmed.find(char::is_whitespace) {
        Some(i) => (&trimmed[..i], trimmed[i..].trim()),
        None => (trimmed.trim_end(), ""),
    };
    let no_arg = |cmd: Command, usage: &'static str| {
        if arg.is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::BadArgument {
                usage,
                got: arg.to_string(),
            })
        }
    };
    Some(match name {
        "/new" => no_arg(Command::New, "/new"),
        "/model" if arg.is_empty() => Ok(Command::ShowModel),
        "/model" if arg.contains(char::is_whitespace) => Err(CommandError::BadArgument {
            usage: "/model <id>",
            got: arg.to_string(),
        }),
        "/model" => Ok(Command::Model(arg.to_string())),
        "/auto" => no_arg(Command::Auto, "/auto"),
        "/upgrade" => no_arg(Command::Upgrade, "/upgrade"),
        "/compare" if arg.is_empty() => Ok(Command::Compare(None)),
        "/compare" => Ok(Command::Compare(Some(arg.to_string()))),
        "/export" => match arg {
            "" | "md" | "markdown" => Ok(Command::Export(ExportFormat::Markdown)),
            "json" => Ok(Command::Export(ExportFormat::Json)),
            other => Err(CommandError::BadArgument {
                usage: "/export [md|json]",
                got: other.to_string(),
            }),
        },
        "/commit" if arg.is_empty() => Err(CommandError::BadArgument {
            usage: "/commit <text> [by <date>]",
            got: String::new(),
        }),
        "/commit" => Ok(Command::Commit(arg.to_string())),
        "/done" => {
            commitment_number(arg, "/done <N>").map(|n| Command::Resolve(n, Resolution::Done))
        }
        "/missed" => {
            commitment_number(arg, "/missed <N>").map(|n| Command::Resolve(n, Resolution::Missed))
        }
        "/commitments" => no_arg(Command::Commitments, "/commitments"),
        "/propose" => no_arg(Command::Propose, "/propose"),
        "/consult" | "/consultation" => no_arg(Command::Consult, "/consult"),
        "/finish" => no_arg(Command::Finish, "/finish"),
        "/help" | "/?" => Ok(Command::Help),
        "/quit" | "/exit" => no_arg(Command::Quit, "/quit"),
        other => Err(CommandError::Unknown {
            name: other.to_string(),
            suggestion: nearest(other, COMMANDS.iter().map(|(n, _, _)| *n)),
        }),
    })
}

/// The `N` of `/done N` and `/missed N`; `#3` reads as 3, as the list shows it.
fn commitment_number(arg: &str, usage: &'static str) -> Result<i64, CommandError> {
    arg.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CommandError::BadArgument {
            usage,
            got: arg.to_string(),
        })
}

/// The answer to `/commitments` for the status line: open ones first with their numbers
/// (overdue marked), then how many were done and missed.
pub fn commitments_summary(list: &[CommitmentView]) -> String {
    if list.is_empty() {
        return "no commitments yet: /commit <text> [by <date>] notes one".to_string();
    }
    let open: Vec<String> = list
        .iter()
        .filter(|c| c.status == CommitmentStatus::Open)
        .map(|c| {
            let text = crate::sanitize::strip_controls(&c.text);
            match (c.due, c.overdue) {
                (Some(d), true) => format!("#{} {text} (overdue since {d})", c.id),
                (Some(d), false) => format!("#{} {text} (by {d})", c.id),
                (None, _) => format!("#{} {text}", c.id),
            }
        })
        .collect();
    let count = |s: CommitmentStatus| list.iter().filter(|c| c.status == s).count();
    let (done, missed) = (
        count(CommitmentStatus::Done),
        count(CommitmentStatus::Missed),
    );
    let head = if open.is_empty() {
        "no open commitments".to_string()
    } else {
        format!("open: {}", open.join(" · "))
    };
    format!("{head} — {done} done, {missed} missed (/done N, /missed N)")
}

/// Strips the escape of a message that starts with a slash (`//etc` sends `/etc`).
pub fn unescape_message(input: &str) -> &str {
    match input.trim_start().strip_prefix("//") {
        Some(_) => {
            let start = input.len() - input.trim_start().len();
            &input[start + 1..]
        }
        None => input,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_not_commands() {
        assert_eq!(parse("hello /new"), None);
        assert_eq!(parse("//etc/hosts is a file"), None);
        assert_eq!(unescape_message("//etc/hosts"), "/etc/hosts");
        assert_eq!(unescape_message("plain"), "plain");
    }

    #[test]
    fn commands_with_arguments() {
        assert_eq!(parse("/new"), Some(Ok(Command::New)));
        assert_eq!(
            parse("/model claude-opus-4-5"),
            Some(Ok(Command::Model("claude-opus-4-5".into())))
        );
        assert_eq!(parse("/model"), Some(Ok(Command::ShowModel)));
        assert_eq!(
            parse("/compare should I move?"),
            Some(Ok(Command::Compare(Some("should I move?".into()))))
        );
        assert_eq!(
            parse("/export json"),
            Some(Ok(Command::Export(ExportFormat::Json)))
        );
        assert_eq!(
            parse("/export"),
            Some(Ok(Command::Export(ExportFormat::Markdown)))
        );
    }

    #[test]
    fn commitment_commands() {
        assert_eq!(
            parse("/commit finish the draft by friday"),
            Some(Ok(Command::Commit("finish the draft by friday".into())))
        );
        assert!(matches!(
            parse("/commit"),
            Some(Err(CommandError::BadArgument { .. }))
        ));
        assert_eq!(
            parse("/done 3"),
            Some(Ok(Command::Resolve(3, Resolution::Done)))
        );
        assert_eq!(
            parse("/missed #12"),
            Some(Ok(Command::Resolve(12, Resolution::Missed)))
        );
        for bad in ["/done", "/done x", "/done 0", "/missed -2", "/done 1 2"] {
            assert!(
                matches!(parse(bad), Some(Err(CommandError::BadArgument { .. }))),
                "{bad}"
            );
        }
        assert_eq!(parse("/commitments"), Some(Ok(Command::Commitments)));
        assert_eq!(parse("/propose"), Some(Ok(Command::Propose)));
        assert_eq!(parse("/consult"), Some(Ok(Command::Consult)));
        assert_eq!(parse("/finish"), Some(Ok(Command::Finish)));
        assert!(matches!(
            parse("/finish now"),
            Some(Err(CommandError::BadArgument { .. }))
        ));
        assert!(matches!(
            parse("/commitments all"),
            Some(Err(CommandError::BadArgument { .. }))
        ));
        let err = parse("/comit x").and_then(Result::err);
        assert!(matches!(
            err,
            Some(CommandError::Unknown {
                suggestion: Some("/commit"),
                ..
            })
        ));
    }

    fn view(id: i64, text: &str, status: CommitmentStatus, overdue: bool) -> CommitmentView {
        CommitmentView {
            id,
            text: text.into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 11, 27),
            status,
            overdue,
            conversation_id: None,
            created_at: 0,
            resolved_at: None,
        }
    }

    #[test]
    fn commitments_summary_lists_open_ones_with_numbers() {
        assert!(commitments_summary(&[]).starts_with("no commitments yet"));
        let list = [
            view(3, "send the draft", CommitmentStatus::Open, true),
            view(4, "call Anna", CommitmentStatus::Open, false),
            view(1, "walk", CommitmentStatus::Done, false),
        ];
        assert_eq!(
            commitments_summary(&list),
            "open: #3 send the draft (overdue since 2026-11-27) · #4 call Anna (by 2026-11-27) \
             — 1 done, 0 missed (/done N, /missed N)"
        );
    }

    #[test]
    fn unknown_command_suggests_the_nearest() {
        let err = parse("/modle x").and_then(Result::err);
        assert_eq!(
            err,
            Some(CommandError::Unknown {
                name: "/modle".into(),
                suggestion: Some("/model")
            })
        );
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("did you mean /model"), "{msg}");
        assert!(matches!(
            parse("/export pdf"),
            Some(Err(CommandError::BadArgument { .. }))
        ));
    }
}

//! Drives the real `grow` binary in tmux: empty data dir, no API key, one message answered by
//! the offline coach with the routing panel showing what it would use, Review finds the
//! message by search, Ctrl+Q quits with status 0 and leaves the terminal as it was.
//!
//! Skipped (with a message, not a failure) when tmux is not installed; `.ci/run` installs it.
//!
//! With a fake Anthropic server on 127.0.0.1: the consultation turned on after its cost is
//! shown, chatted, paused (tab closed) and resumed, completed (the marker never on screen)
//! with the personal coach prepared; a commitment proposal confirmed with y; the profile
//! screen with the commitment, the trend and the diff between versions 1 and 2.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::fake_server::wire::{sonnet_answer, words};

/// How long one expected screen may take to appear (a cold debug binary on a busy machine).
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// A tmux server of our own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running tmux {args:?}: {e}"))
    }

    /// Runs `script` in a detached 100×30 session named `e2e`.
    fn start(&self, script: &str) {
        let out = self.cmd(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "100",
            "-y",
            "30",
            "sh",
            "-c",
            script,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {out:?}");
    }

    /// Types text literally (no key-name lookup).
    fn type_text(&self, text: &str) {
        let out = self.cmd(&["send-keys", "-t", "e2e", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text:?}: {out:?}");
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["display", "-p", "-t", "e2e", format]).stdout)
            .trim()
            .to_string()
    }

    /// Polls the pane until `ok` holds for its text; panics with the last screen on timeout.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > WAIT {
                panic!("timed out waiting for {what}; the screen was:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Single-quotes `s` for sh.
fn sh_quote(s: &Path) -> String {
    format!("'{}'", s.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn offline_turn_review_search_and_clean_quit() {
    if !Tmux::available() {
        eprintln!("SKIPPED tui_e2e: tmux is not installed (`.ci/run` installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("empty config");
    let bin = Path::new(env!("CARGO_BIN_EXE_grow"));
    let tmux = Tmux {
        socket: format!("grow-e2e-{}", std::process::id()),
    };
    // The shell prints grow's exit status and stays, so the pane shows what the person's
    // shell would show after quitting.
    let script = format!(
        "env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u ANTHROPIC_BASE_URL -u OPENAI_BASE_URL \
         -u GROW_DB -u NO_COLOR GROW_DATA_DIR={data} GROW_CONFIG={config} TERM=xterm-256color \
         {bin}; echo \"grow exited with status $?\"; sleep 600",
        data = sh_quote(&data),
        config = sh_quote(&config),
        bin = sh_quote(bin),
    );
    tmux.start(&script);

    // First start with no key: the offline coach greets.
    tmux.wait_for("the offline greeting", |s| s.contains("offline coach"));
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "grow uses the full screen"
    );
    assert_eq!(
        tmux.display("#{mouse_any_flag}"),
        "1",
        "grow captures the mouse"
    );

    tmux.type_text("I keep postponing my portfolio review");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the offline answer and the routing decision", |s| {
        s.contains("would use") && s.contains("routing") && s.contains("offline-coach")
    });
    assert!(
        screen.contains("portfolio"),
        "the message is in the chat:\n{screen}"
    );

    // Review lists the conversation; search finds the message by one of its words.
    tmux.send(&["F5"]);
    tmux.wait_for("the review list", |s| {
        s.contains("1 conversations") || s.contains("conversations, newest first")
    });
    tmux.send(&["/"]);
    tmux.type_text("portfolio");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("search results", |s| s.contains("found for"));
    assert!(
        screen.contains("messages found for “portfolio”")
            || screen.contains("message found for “portfolio”"),
        "the search reports hits:\n{screen}"
    );
    assert!(
        screen.contains("I keep postponing my portfolio review"),
        "the hit shows the message:\n{screen}"
    );

    // Open the hit read-only: its routing decision is there.
    tmux.send(&["Enter"]);
    tmux.wait_for("the read-only conversation", |s| {
        s.contains("read-only") && s.contains("routing ")
    });

    tmux.send(&["C-q"]);
    let screen = tmux.wait_for("grow to exit", |s| s.contains("grow exited with status"));
    assert!(
        screen.contains("grow exited with status 0"),
        "grow exits with status 0:\n{screen}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the terminal left the alternate screen"
    );
    // Mouse capture off and the cursor shown again.
    assert_eq!(tmux.display("#{mouse_any_flag} #{cursor_flag}"), "0 1");
    assert!(
        !screen.contains("Review F5"),
        "no TUI remains on the normal screen:\n{screen}"
    );
}

#[test]
fn consultation_proposal_and_profile_screen() {
    if !Tmux::available() {
        eprintln!("SKIPPED tui_e2e: tmux is not installed (`.ci/run` installs it)");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let server = runtime.block_on(support::fake_server::FakeServer::start(vec![
        sonnet_answer("Welcome! What would you like to change right now?"),
        sonnet_answer("Thank you, I have what I need.\nCONSULTATION_COMPLETE"),
        sonnet_answer(&words("ProfileFinal", 200)),
        sonnet_answer(&words("Zephyrine", 650)),
        sonnet_answer("Good plan. What exactly will you send, and to whom?"),
        sonnet_answer(
            r#"{"commitments": [{"text": "Send the portfolio to two studios", "due": null, "confirmed": true, "evidence": "I'll send the portfolio"}]}"#,
        ),
        sonnet_answer(&words("Revisedine", 620)),
    ]));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[retry]\nmax_retries = 0\n\n[timeouts]\nconnect_secs = 2\nfirst_byte_secs = 10\nidle_secs = 10\n",
    )
    .expect("config");
    let bin = Path::new(env!("CARGO_BIN_EXE_grow"));
    let env = format!(
        "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u GROW_DB -u NO_COLOR \
         ANTHROPIC_API_KEY={key} ANTHROPIC_BASE_URL={url} GROW_DATA_DIR={data} \
         GROW_CONFIG={config} TERM=xterm-256color",
        key = support::coach_harness::KEY,
        url = server.url(),
        data = sh_quote(&data),
        config = sh_quote(&config),
    );
    let tmux = Tmux {
        socket: format!("grow-e2e-consult-{}", std::process::id()),
    };
    let script = format!(
        "{env} {bin}; echo \"grow exited with status $?\"; sleep 600",
        bin = sh_quote(bin)
    );
    tmux.start(&script);
    tmux.wait_for("the start screen", |s| s.contains("Message the coach"));

    // Turning the consultation on shows its cost first.
    tmux.type_text("/consult");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the cost confirmation", |s| s.contains("Turn it on? [y/n]"));
    assert!(
        screen.contains("Turn on the consultation?") && screen.contains("about $"),
        "{screen}"
    );
    tmux.send(&["y"]);
    tmux.wait_for("the consultation tab", |s| {
        s.contains("Say hello to begin") && s.contains("◆ consultation")
    });
    tmux.type_text("Hi, I want to change jobs.");
    tmux.send(&["Enter"]);
    tmux.wait_for("the interviewer's first question", |s| {
        s.contains("change right now?")
    });

    // Pause: close the tab. /consult resumes with the conversation so far.
    tmux.send(&["C-w"]);
    tmux.wait_for("the tab closed", |s| !s.contains("◆ consultation"));
    tmux.type_text("/consult");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the resumed consultation", |s| {
        s.contains("Resuming your consultation (1") && s.contains("change right now?")
    });
    assert!(screen.contains("Hi, I want to change jobs."), "{screen}");

    // The interviewer completes it: the marker never shows, the personal coach is prepared.
    tmux.type_text("That's everything.");
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the consultation complete", |s| {
        s.contains("The consultation is complete")
    });
    assert!(screen.contains("I have what I need"), "{screen}");
    assert!(!screen.contains("CONSULTATION_COMPLETE"), "{screen}");
    tmux.wait_for("the personal coach ready", |s| {
        s.contains("your personal coach is ready (prompt version 1)")
    });

    // A coaching turn at the will step: the coach proposes, y commits.
    tmux.send(&["C-t"]);
    tmux.type_text("OK, I'll send the portfolio this week.");
    tmux.send(&["Enter"]);
    tmux.wait_for("the proposal", |s| {
        s.contains("◆ Commit to: Send the portfolio to two studios? [y/n]")
    });
    tmux.send(&["y"]);
    tmux.wait_for("the commitment saved", |s| {
        s.contains("commitment #1 saved: Send the portfolio to two studios")
    });

    // A second prompt version, written from the command line while the TUI runs.
    let regenerate = Command::new("sh")
        .args(["-c", &format!("{env} {} profile regenerate", sh_quote(bin))])
        .output()
        .expect("grow profile regenerate");
    assert!(
        regenerate.status.success(),
        "regenerate: {}",
        String::from_utf8_lossy(&regenerate.stderr)
    );

    // The profile: consultation done, two versions, the trend, the commitment.
    tmux.send(&["F6"]);
    let screen = tmux.wait_for("the profile screen", |s| {
        s.contains("Prompt versions") && s.contains("v2")
    });
    assert!(screen.contains("completed"), "{screen}");
    tmux.send(&["G"]);
    for _ in 0..6 {
        tmux.send(&["PageDown"]);
    }
    let screen = tmux.wait_for("trend and commitments", |s| {
        s.contains("Trend · 2 snapshot(s)") && s.contains("Commitments · 1 open")
    });
    assert!(
        screen.contains("#1 Send the portfolio to two studios"),
        "{screen}"
    );
    // D: version 1 against the newest.
    tmux.send(&["D"]);
    let screen = tmux.wait_for("the diff", |s| s.contains("Prompt version 1 → 2"));
    assert!(screen.contains("- Zephyrine word1"), "{screen}");
    for _ in 0..4 {
        tmux.send(&["PageDown"]);
    }
    tmux.wait_for("the new version's lines", |s| {
        s.contains("+ Revisedine word1")
    });

    tmux.send(&["C-q"]);
    let screen = tmux.wait_for("grow to exit", |s| s.contains("grow exited with status"));
    assert!(screen.contains("grow exited with status 0"), "{screen}");
    assert_eq!(server.hits(), 7, "no model call beyond the scripted ones");
}

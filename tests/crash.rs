//! Crash safety: `grow ask` killed with SIGKILL mid-stream loses nothing but the unsent
//! rest of the answer, and leaves a healthy, usable database.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grow::store::{MessageStatus, Role, Store};
use support::fake_server::wire::{AnthropicUsage, anthropic_stream};
use support::fake_server::{FakeServer, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_keeps_the_user_message_and_the_partial_answer() {
    let deltas: Vec<String> = (0..200).map(|i| format!("word{i} ")).collect();
    let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
    let stream = anthropic_stream(
        "claude-sonnet-4-6",
        &refs,
        AnthropicUsage {
            input: 10,
            cache_write: 0,
            cache_read: 0,
            output: 200,
        },
    );
    let server = FakeServer::start(vec![
        Reply::sse(&stream)
            .pieces_of(40)
            .delay(Duration::from_millis(50)),
    ])
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_grow"))
        .args(["ask", "Tell me a long story about habits"])
        .env("GROW_CONFIG", &config)
        .env("GROW_DATA_DIR", dir.path())
        .env("ANTHROPIC_API_KEY", "sk-ant-test-key")
        .env("ANTHROPIC_BASE_URL", server.url())
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("grow starts");

    // Wait until some of the answer has been printed (and so streamed and saved).
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&seen).matches("word").count() >= 30 {
                break;
            }
        }
        seen
    });
    let printed = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("join");
    assert!(
        String::from_utf8_lossy(&printed).contains("word29"),
        "the answer was streaming"
    );
    // The answer is saved every 250 ms while it streams: give the last flush time to land.
    tokio::time::sleep(Duration::from_millis(400)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    let store =
        Store::open(&dir.path().join("grow.db")).expect("the database opens cleanly after SIGKILL");
    assert!(
        store.integrity_check().expect("check").is_empty(),
        "no corruption"
    );
    let history = store.history(1).expect("history");
    let user = history
        .iter()
        .find(|m| m.role == Role::User)
        .expect("user message kept");
    assert_eq!(user.content, "Tell me a long story about habits");
    let partial = history
        .iter()
        .find(|m| m.role == Role::Assistant)
        .expect("partial answer kept");
    assert_eq!(partial.status, MessageStatus::Partial);
    assert!(
        partial.content.starts_with("word0 word1 "),
        "{}",
        partial.content
    );
    assert!(!partial.content.contains("word199"), "the stream was cut");
    drop(store);

    // The conversation is usable: continue it (offline now).
    let out = Command::new(env!("CARGO_BIN_EXE_grow"))
        .args(["ask", "--conversation", "1", "and then?"])
        .env("GROW_CONFIG", &config)
        .env("GROW_DATA_DIR", dir.path())
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("grow runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&dir.path().join("grow.db")).expect("open");
    assert_eq!(store.history(1).expect("history").len(), 4);
}

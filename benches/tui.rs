//! TUI frame costs: `cargo bench --bench tui`.
//!
//! - `frame_10k_messages_200x50`: one full frame of a 10,000-message conversation on a
//!   200×50 TestBackend (target: median under 2 ms).
//! - `keystroke_to_frame`: one typed character handled and the frame drawn.
//! - `delta_to_frame`: one streamed delta appended to a long answer (only its unsettled last
//!   paragraph is laid out again) and the frame drawn.
//! - `resize_to_frame`: a width change (re-wrap of what is visible) and the frame drawn.
//! - `startup_100k_to_first_frame`: with a 100,000-message database, everything `grow` does
//!   before its first frame except touching the terminal: load the config, build the coach
//!   (providers, router, prompts, open and check the database), build the app state, draw
//!   at 100×30 (target: median under 150 ms).
//! - `store_open_100k`: the database part of that alone (`Store::open`: `PRAGMA quick_check`
//!   of the whole file, migrations).
//! - `review_open_100k`: opening Review on that database: list every conversation with its
//!   model mix and cost, hand it to the app, draw.
//! - Resident memory (target under 60 MB): printed, not timed. The real binary is started on
//!   the same database in tmux and its VmRSS read from /proc after the first frame (the
//!   bench process itself holds the fixture, so its own RSS would overstate it).

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use grow::coach::api::Event;
use grow::tui::conversation::{Message, Role};
use grow::tui::{App, TuiOptions, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const MESSAGES: usize = 10_000;

fn history() -> Vec<Message> {
    (0..MESSAGES)
        .map(|i| {
            if i % 2 == 0 {
                Message::new(
                    Role::User,
                    format!(
                        "Message {i}: I keep postponing the hard conversation with my manager."
                    ),
                )
            } else {
                Message::coach(
                    "claude-haiku-4-5",
                    format!(
                        "## Turn {i}\n\nLet's look at **what** makes it hard:\n\n1. the fear of \
                         *conflict*\n2. not knowing what to ask for\n\n```text\nnext step: write \
                         one sentence\n```\n\nWhat would a good outcome look like?"
                    ),
                )
            }
        })
        .collect()
}

fn setup(w: u16, h: u16) -> (App, Terminal<TestBackend>) {
    let mut app = App::new(TuiOptions::default(), Instant::now());
    app.handle_resize(w, h);
    app.open_conversation(1, "bench", history());
    let terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    (app, terminal)
}

fn frame(c: &mut Criterion) {
    let (app, mut terminal) = setup(200, 50);
    c.bench_function("frame_10k_messages_200x50", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, black_box(&app))).expect("draw");
        })
    });
}

fn keystroke(c: &mut Criterion) {
    let (mut app, mut terminal) = setup(200, 50);
    let now = Instant::now();
    c.bench_function("keystroke_to_frame", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                app.handle_key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE), now);
                terminal.draw(|f| draw(f, &app)).expect("draw");
                total += start.elapsed();
                // Untimed: keep the input from growing without bound.
                app.handle_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE), now);
            }
            total
        })
    });
}

fn delta(c: &mut Criterion) {
    let (mut app, mut terminal) = setup(200, 50);
    let now = Instant::now();
    for c in "a long question".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), now);
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), now);
    app.handle_coach_event(
        Event::TurnStarted {
            turn: 1,
            conversation_id: 1,
            user_message_id: 1,
            compare_lane: None,
        },
        now,
    );
    // A long answer already streamed: each delta re-lays out this one message only.
    let para = "Here is a thought about **your goal** and what gets in the way of it. ";
    for _ in 0..60 {
        app.handle_coach_event(
            Event::Delta {
                turn: 1,
                text: para.into(),
            },
            now,
        );
    }
    // Deltas of one word, a paragraph break every 40 words, like a real answer.
    let mut n = 0u64;
    c.bench_function("delta_to_frame", |b| {
        b.iter(|| {
            n += 1;
            let text = if n % 40 == 0 { "word.\n\n" } else { "word " };
            app.handle_coach_event(
                Event::Delta {
                    turn: 1,
                    text: text.into(),
                },
                now,
            );
            terminal.draw(|f| draw(f, &app)).expect("draw");
        })
    });
}

fn resize(c: &mut Criterion) {
    let (mut app, _) = setup(200, 50);
    let mut wide = Terminal::new(TestBackend::new(200, 50)).expect("test backend");
    let mut narrow = Terminal::new(TestBackend::new(160, 50)).expect("test backend");
    let mut flip = false;
    c.bench_function("resize_to_frame", |b| {
        b.iter(|| {
            flip = !flip;
            if flip {
                app.handle_resize(160, 50);
                narrow.draw(|f| draw(f, &app)).expect("draw");
            } else {
                app.handle_resize(200, 50);
                wide.draw(|f| draw(f, &app)).expect("draw");
            }
        })
    });
}

// ----- start-up and memory with a 100,000-message database -----

mod fixture {
    use grow::catalog::Usage;
    use grow::store::{
        Conversation, ConversationKind, Decision, EXPORT_FORMAT, EXPORT_VERSION, ExportDoc,
        Message, MessageStatus, Profile, Role, SCHEMA_VERSION, UsageRecord, usage_kind,
    };

    pub const CONVERSATIONS: i64 = 2_000;
    /// Two messages a turn: 100,000 messages.
    const TURNS: i64 = 25;
    const DAY: i64 = 86_400_000;
    /// 2026-06-01 UTC.
    const START: i64 = 1_780_272_000_000;
    const WORDS: &[&str] = &[
        "I", "want", "to", "the", "career", "goal", "team", "manager", "feel", "about", "next",
        "year", "plan", "habit", "focus", "energy", "decide", "because", "offer", "family",
    ];
    const ZH: &[&str] = &[
        "我", "想", "工作", "目标", "压力", "家人", "决定", "计划", "明年",
    ];

    fn sentence(rng: &mut fastrand::Rng, chinese: bool, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            if chinese {
                s.push_str(ZH[rng.usize(0..ZH.len())]);
            } else {
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(WORDS[rng.usize(0..WORDS.len())]);
            }
        }
        s
    }

    pub fn doc() -> ExportDoc {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut doc = ExportDoc {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            schema_version: SCHEMA_VERSION,
            profiles: vec![Profile {
                id: 1,
                name: "me".into(),
                tier: "standard".into(),
                settings_json: "{}".into(),
                created_at: START,
            }],
            prompt_versions: Vec::new(),
            behaviour_snapshots: Vec::new(),
            checkins: Vec::new(),
            conversations: Vec::new(),
            messages: Vec::new(),
            route_decisions: Vec::new(),
            attempts: Vec::new(),
            usage: Vec::new(),
            commitments: Vec::new(),
        };
        let mut id = 0i64;
        for c in 1..=CONVERSATIONS {
            let chinese = c % 3 == 0;
            let created = START + rng.i64(0..150 * DAY);
            let mut at = created;
            for _ in 0..TURNS {
                at += rng.i64(30_000..600_000);
                id += 1;
                let user = id;
                doc.messages.push(Message {
                    id: user,
                    conversation_id: c,
                    role: Role::User,
                    content: sentence(&mut rng, chinese, 25),
                    status: MessageStatus::Complete,
                    model: None,
                    compare_lane: None,
                    system_prompt_version_used: None,
                    created_at: at,
                });
                let upgraded = rng.u8(0..10) == 0;
                let model = if upgraded {
                    "claude-sonnet-4-5"
                } else {
                    "claude-haiku-4-5"
                };
                doc.route_decisions.push(Decision {
                    id: user,
                    conversation_id: c,
                    user_message_id: user,
                    model: model.into(),
                    provider: "anthropic".into(),
                    tier: 1,
                    upgraded,
                    safety: "none".into(),
                    interaction: None,
                    signals_json: if upgraded {
                        r#"[{"kind":"complex_decision","score":0.8,"evidence":"offer"}]"#.into()
                    } else {
                        "[]".into()
                    },
                    reasons_json: "[]".into(),
                    plan_json: "[]".into(),
                    signal_origin: "deterministic".into(),
                    estimated_input_tokens: 1_500,
                    estimated_cost_usd: 0.002,
                    created_at: at + 1,
                });
                id += 1;
                doc.messages.push(Message {
                    id,
                    conversation_id: c,
                    role: Role::Assistant,
                    content: sentence(&mut rng, chinese, 80),
                    status: MessageStatus::Complete,
                    model: Some(model.into()),
                    compare_lane: None,
                    system_prompt_version_used: None,
                    created_at: at + 3_000,
                });
                doc.usage.push(UsageRecord {
                    id: doc.usage.len() as i64 + 1,
                    conversation_id: Some(c),
                    message_id: Some(id),
                    decision_id: Some(user),
                    kind: usage_kind::COACHING.into(),
                    model: model.into(),
                    usage: Usage {
                        input_tokens: 1_500,
                        output_tokens: 200,
                        cache_creation_input_tokens: 0,
                        cache_read_input_tokens: 0,
                    },
                    cost_usd: if upgraded { 0.02 } else { 0.002 },
                    upgrade_equiv_cost_usd: 0.02,
                    no_cache_cost_usd: 0.002,
                    estimated: false,
                    created_at: at + 3_001,
                });
            }
            doc.conversations.push(Conversation {
                id: c,
                profile_id: 1,
                title: Some(sentence(&mut rng, chinese, 4)),
                kind: ConversationKind::Chat,
                system_prompt_version_used: None,
                created_at: created,
                updated_at: at + 3_000,
            });
        }
        doc
    }
}

/// A data dir with an empty config and a 100,000-message database.
struct BigData {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    config: PathBuf,
}

fn big_data() -> BigData {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("config");
    let store = grow::store::Store::open(&data_dir.join("grow.db")).expect("open store");
    let imported = store.import(&fixture::doc()).expect("import fixture");
    assert_eq!(imported, 100_000);
    BigData {
        _dir: dir,
        data_dir,
        config,
    }
}

/// What `grow` does before its first frame, minus the terminal itself.
fn start_to_first_frame(big: &BigData) -> (Arc<grow::coach::engine::Coach>, App) {
    let data_dir = big.data_dir.display().to_string();
    let env = move |name: &str| (name == "GROW_DATA_DIR").then(|| data_dir.clone());
    let config = grow::config::Config::load(&grow::config::LoadOptions {
        config_path: Some(big.config.clone()),
        db_override: None,
        env: &env,
    })
    .expect("config");
    let opts = TuiOptions {
        default_model: config.settings.models.default.clone(),
        upgrade_model: config.settings.models.upgrade.clone(),
        ..TuiOptions::default()
    };
    let coach = Arc::new(grow::coach::engine::Coach::from_config(config, &env).expect("coach"));
    let mut app = App::new(opts, Instant::now());
    app.handle_resize(100, 30);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("test backend");
    terminal.draw(|f| draw(f, &app)).expect("draw");
    (coach, app)
}

fn startup(c: &mut Criterion) {
    let big = big_data();
    let mut g = c.benchmark_group("startup");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    g.bench_function("startup_100k_to_first_frame", |b| {
        b.iter(|| black_box(start_to_first_frame(&big)))
    });
    let db = big.data_dir.join("grow.db");
    g.bench_function("store_open_100k", |b| {
        b.iter(|| black_box(grow::store::Store::open(&db).expect("open")))
    });
    let (coach, mut app) = start_to_first_frame(&big);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("test backend");
    app.handle_key(
        KeyEvent::new(KeyCode::F(5), KeyModifiers::NONE),
        Instant::now(),
    );
    g.bench_function("review_open_100k", |b| {
        b.iter(|| {
            let list = coach
                .with_store(|s| s.list_conversations(&grow::store::ListFilter::default()))
                .expect("list");
            app.handle_coach_event(Event::Conversations(list), Instant::now());
            terminal.draw(|f| draw(f, &app)).expect("draw");
        })
    });
    g.finish();
    report_memory(&big);
}

/// VmRSS of a process in kB.
fn rss_kb(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Starts the real binary on the big database in tmux, waits for its first frame, opens
/// Review (the whole list in memory), and prints its resident memory.
fn report_memory(big: &BigData) {
    let bin = Path::new(env!("CARGO_BIN_EXE_grow"));
    let socket = format!("grow-bench-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
    };
    let script = format!(
        "exec env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY GROW_DATA_DIR='{}' GROW_CONFIG='{}' '{}'",
        big.data_dir.display(),
        big.config.display(),
        bin.display()
    );
    let started = Instant::now();
    let ok = tmux(&[
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "100",
        "-y",
        "30",
        "sh",
        "-c",
        &script,
    ])
    .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("memory: skipped (tmux is not available)");
        return;
    }
    let screen = || {
        tmux(&["capture-pane", "-p", "-t", "b"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let wait = |needle: &str| {
        let t = Instant::now();
        while !screen().contains(needle) {
            if t.elapsed() > Duration::from_secs(20) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    };
    if wait("Message the coach") {
        let first_frame = started.elapsed();
        let pid = tmux(&["display", "-p", "-t", "b", "#{pane_pid}"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let at_start = rss_kb(&pid);
        let _ = tmux(&["send-keys", "-t", "b", "F5"]);
        let listed = wait("2000 conversations");
        let in_review = rss_kb(&pid);
        eprintln!(
            "real binary, 100,000-message database: first frame seen after {:.0} ms \
             (tmux start + polling included); VmRSS {} kB at start, {} kB with Review open \
             (list loaded: {listed})",
            first_frame.as_secs_f64() * 1000.0,
            at_start.map_or("?".into(), |k| k.to_string()),
            in_review.map_or("?".into(), |k| k.to_string()),
        );
    } else {
        eprintln!("memory: the first frame never appeared:\n{}", screen());
    }
    let _ = tmux(&["kill-server"]);
}

criterion_group!(benches, frame, keystroke, delta, resize, startup);
criterion_main!(benches);

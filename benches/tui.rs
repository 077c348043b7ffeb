//! TUI frame costs: `cargo bench --bench tui`.
//!
//! - `frame_10k_messages_200x50`: one full frame of a 10,000-message conversation on a
//!   200×50 TestBackend (target: median under 2 ms).
//! - `keystroke_to_frame`: one typed character handled and the frame drawn.
//! - `delta_to_frame`: one streamed delta appended to a long answer (only its unsettled last
//!   paragraph is laid out again) and the frame drawn.
//! - `resize_to_frame`: a width change (re-wrap of what is visible) and the frame drawn.

use std::hint::black_box;
use std::time::{Duration, Instant};

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

criterion_group!(benches, frame, keystroke, delta, resize);
criterion_main!(benches);

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::catalog::{ProviderKind, Usage};
use crate::coach::api::{TurnStatus, TurnSummary};
use crate::routing::types::{Signal, SignalKind, SignalSource};
use crate::tui::views::chat::visible_lines;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}
fn with(code: KeyCode, m: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, m)
}
fn ctrl(c: char) -> KeyEvent {
    with(KeyCode::Char(c), KeyModifiers::CONTROL)
}

struct Clock(Instant);
impl Clock {
    fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

fn app() -> (App, Clock) {
    let t0 = Instant::now();
    let opts = TuiOptions {
        default_model: "claude-haiku-4-5".into(),
        upgrade_model: "claude-sonnet-4-5".into(),
        ..TuiOptions::default()
    };
    let mut a = App::new(opts, t0);
    a.handle_resize(100, 30);
    (a, Clock(t0))
}

fn type_str(a: &mut App, s: &str, now: Instant) {
    for c in s.chars() {
        a.handle_key(key(KeyCode::Char(c)), now);
    }
}

fn decision(model: &str, safety: Safety) -> RouteDecision {
    RouteDecision {
        model: model.into(),
        provider: ProviderKind::Anthropic,
        tier: 2,
        upgraded: false,
        signals: vec![Signal {
            kind: SignalKind::ComplexDecision,
            score: 0.8,
            evidence: "two offers".into(),
            source: SignalSource::Deterministic,
        }],
        safety,
        reasons: vec!["default model".into()],
        estimated_input_tokens: 1200,
        estimated_cost_usd: 0.001,
        plan: vec![],
        pinned: false,
        affinity: false,
        signal_origin: Default::default(),
        budget_tokens: 170_000,
        analyzer: None,
    }
}

fn summary(model: &str, status: TurnStatus, offline: bool) -> TurnSummary {
    TurnSummary {
        conversation_id: 7,
        assistant_message_id: Some(2),
        model: model.into(),
        status,
        offline,
        usage: Usage {
            input_tokens: 100,
            output_tokens: 50,
            ..Usage::default()
        },
        cost_usd: 0.0012,
        costs: CostSnapshot {
            turn: 0.0012,
            conversation: 0.0012,
            today: 0.01,
            month: 0.5,
            month_if_all_upgrade: 2.0,
            month_cache_savings: 0.1,
            monthly_budget: None,
        },
        notice: None,
    }
}

/// Sends `text` and starts its turn as `turn`.
fn start_turn(a: &mut App, text: &str, turn: TurnId, now: Instant) {
    type_str(a, text, now);
    a.handle_key(key(KeyCode::Enter), now);
    a.take_intents();
    a.handle_coach_event(
        Event::TurnStarted {
            turn,
            conversation_id: 7,
            user_message_id: 1,
            compare_lane: None,
        },
        now,
    );
}

#[test]
fn enter_sends_and_clears_the_input() {
    let (mut a, c) = app();
    type_str(&mut a, "hi coach", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(10));
    let intents = a.take_intents();
    assert_eq!(
        intents,
        vec![Intent::Send(SendRequest {
            conversation_id: None,
            text: "hi coach".into(),
            pin: None,
            force_upgrade: false,
        })]
    );
    assert_eq!(a.input_text(), "");
    assert_eq!(a.tab().messages.len(), 1);
    assert_eq!(a.tab().messages[0].role, Role::User);
    assert!(a.tab().is_busy());
}

#[test]
fn shift_or_alt_enter_and_ctrl_j_insert_newlines() {
    let (mut a, c) = app();
    type_str(&mut a, "a", c.at(0));
    a.handle_key(with(KeyCode::Enter, KeyModifiers::SHIFT), c.at(0));
    type_str(&mut a, "b", c.at(0));
    a.handle_key(with(KeyCode::Enter, KeyModifiers::ALT), c.at(0));
    type_str(&mut a, "c", c.at(0));
    a.handle_key(ctrl('j'), c.at(0));
    type_str(&mut a, "d", c.at(0));
    assert_eq!(a.input_text(), "a\nb\nc\nd");
    assert!(a.take_intents().is_empty());
}

#[test]
fn empty_input_is_not_sent() {
    let (mut a, c) = app();
    type_str(&mut a, "   ", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert!(a.take_intents().is_empty());
}

#[test]
fn ctrl_c_cancels_while_streaming_and_quits_when_idle() {
    let (mut a, c) = app();
    start_turn(&mut a, "hello", 41, c.at(0));
    a.handle_coach_event(
        Event::Delta {
            turn: 41,
            text: "Partial ans".into(),
        },
        c.at(100),
    );
    a.handle_key(ctrl('c'), c.at(200));
    assert_eq!(a.take_intents(), vec![Intent::Cancel { turn: 41 }]);
    assert!(!a.should_quit());
    let answer = &a.tab().messages[1];
    assert_eq!(answer.status, MessageStatus::Interrupted);
    assert_eq!(answer.raw(), "Partial ans");
    // Late deltas of a cancelled turn are dropped; the partial stays as it was.
    a.handle_coach_event(
        Event::Delta {
            turn: 41,
            text: "wer".into(),
        },
        c.at(250),
    );
    assert_eq!(a.tab().messages[1].raw(), "Partial ans");
    a.handle_coach_event(
        Event::TurnFinished {
            turn: 41,
            summary: summary("claude-haiku-4-5", TurnStatus::Partial, false),
        },
        c.at(300),
    );
    assert_eq!(a.tab().messages[1].status, MessageStatus::Interrupted);
    let header = a.tab().messages[1].layout(&a.render_ctx())[0].to_string();
    assert!(header.contains("interrupted"), "{header}");
    // Idle now: Ctrl+C quits.
    a.handle_key(ctrl('c'), c.at(400));
    assert!(a.should_quit());
    assert_eq!(a.take_intents(), vec![Intent::Shutdown]);
}

#[test]
fn esc_stops_a_streaming_answer() {
    let (mut a, c) = app();
    start_turn(&mut a, "hello", 5, c.at(0));
    a.handle_key(key(KeyCode::Esc), c.at(10));
    assert_eq!(a.take_intents(), vec![Intent::Cancel { turn: 5 }]);
    assert!(!a.tab().is_busy());
}

#[test]
fn ctrl_q_quits_even_while_streaming() {
    let (mut a, c) = app();
    start_turn(&mut a, "hello", 5, c.at(0));
    a.handle_key(ctrl('q'), c.at(10));
    assert!(a.should_quit());
    assert_eq!(
        a.take_intents(),
        vec![Intent::Cancel { turn: 5 }, Intent::Shutdown]
    );
}

#[test]
fn letters_go_to_the_input_while_it_has_focus() {
    let (mut a, c) = app();
    type_str(&mut a, "jkgG?[]q", c.at(0));
    assert_eq!(a.input_text(), "jkgG?[]q");
    assert!(!a.show_help());
    assert!(!a.should_quit());
    assert_eq!(a.focus(), Focus::Input);
}

#[test]
fn message_pane_keys_scroll_and_other_letters_return_to_input() {
    let (mut a, c) = app();
    let long: Vec<Message> = (0..60)
        .map(|i| Message::coach("m", format!("line {i}")))
        .collect();
    a.open_conversation(1, "t", long);
    a.handle_key(key(KeyCode::Tab), c.at(0));
    assert_eq!(a.focus(), Focus::Messages);
    a.handle_key(key(KeyCode::Char('k')), c.at(0));
    assert_eq!(a.tab().scroll, 1);
    a.handle_key(key(KeyCode::Char('g')), c.at(0));
    let top = a.tab().scroll;
    assert!(top > 100, "{top}");
    a.handle_key(key(KeyCode::Char('j')), c.at(0));
    assert_eq!(a.tab().scroll, top - 1);
    a.handle_key(key(KeyCode::Char('G')), c.at(0));
    assert_eq!(a.tab().scroll, 0);
    a.handle_key(key(KeyCode::Char('?')), c.at(0));
    assert!(a.show_help());
    a.handle_key(key(KeyCode::Esc), c.at(0));
    assert!(!a.show_help());
    a.handle_key(key(KeyCode::Char('x')), c.at(0));
    assert_eq!(a.focus(), Focus::Input);
    assert_eq!(a.input_text(), "x");
}

fn top_line(a: &App) -> String {
    let ctx = a.render_ctx();
    let lines = visible_lines(a.tab(), &ctx, a.message_rows(), None);
    lines.first().map(|l| l.to_string()).unwrap_or_default()
}

#[test]
fn auto_scroll_follows_the_stream_only_at_the_bottom() {
    let (mut a, c) = app();
    let history: Vec<Message> = (0..40)
        .map(|i| Message::coach("m", format!("old answer {i}")))
        .collect();
    a.open_conversation(7, "t", history);
    start_turn(&mut a, "go on", 9, c.at(0));
    for i in 0..5 {
        a.handle_coach_event(
            Event::Delta {
                turn: 9,
                text: format!("para {i}\n\n"),
            },
            c.at(10),
        );
    }
    // At the bottom: still at the bottom.
    assert_eq!(a.tab().scroll, 0);

    a.handle_key(key(KeyCode::PageUp), c.at(20));
    let scrolled = a.tab().scroll;
    assert!(scrolled > 0);
    let before = top_line(&a);
    for i in 5..15 {
        a.handle_coach_event(
            Event::Delta {
                turn: 9,
                text: format!("para {i}\n\n"),
            },
            c.at(30),
        );
    }
    // Scrolled up: the view stays on the same text while the answer grows below it.
    assert!(a.tab().scroll > scrolled);
    assert_eq!(top_line(&a), before);

    a.handle_key(key(KeyCode::PageDown), c.at(40));
    a.handle_key(key(KeyCode::PageDown), c.at(40));
    a.handle_key(key(KeyCode::PageDown), c.at(40));
    a.handle_key(key(KeyCode::PageDown), c.at(40));
    assert_eq!(a.tab().scroll, 0);
}

#[test]
fn mouse_wheel_scrolls() {
    let (mut a, _c) = app();
    let history: Vec<Message> = (0..40)
        .map(|i| Message::coach("m", format!("answer {i}")))
        .collect();
    a.open_conversation(1, "t", history);
    let wheel = |kind| MouseEvent {
        kind,
        column: 5,
        row: 5,
        modifiers: KeyModifiers::NONE,
    };
    a.handle_mouse(wheel(MouseEventKind::ScrollUp));
    assert_eq!(a.tab().scroll, 3);
    a.handle_mouse(wheel(MouseEventKind::ScrollDown));
    assert_eq!(a.tab().scroll, 0);
}

#[test]
fn preview_is_debounced_and_shown_as_would_use() {
    let (mut a, c) = app();
    type_str(&mut a, "two job offers", c.at(0));
    assert!(!a.handle_tick(c.at(100)) || a.take_intents().is_empty());
    assert!(a.take_intents().is_empty());
    a.handle_tick(c.at(160));
    assert_eq!(
        a.take_intents(),
        vec![Intent::Preview {
            conversation_id: None,
            text: "two job offers".into()
        }]
    );
    // Same text again: no second request.
    a.handle_tick(c.at(400));
    assert!(a.take_intents().is_empty());
    a.handle_coach_event(
        Event::Preview {
            decision: decision("claude-sonnet-4-5", Safety::None),
        },
        c.at(450),
    );
    assert!(a.panel_shows_preview());
    // Typing more restarts the debounce.
    type_str(&mut a, "!", c.at(500));
    a.handle_tick(c.at(600));
    assert!(a.take_intents().is_empty());
    a.handle_tick(c.at(660));
    assert_eq!(a.take_intents().len(), 1);
    assert!(a.next_wakeup().is_none());
}

#[test]
fn commands_pin_unpin_upgrade_and_export() {
    let (mut a, c) = app();
    type_str(&mut a, "/model claude-opus-4-5", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert_eq!(a.tab().pin.as_deref(), Some("claude-opus-4-5"));
    type_str(&mut a, "/upgrade", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    type_str(&mut a, "hello", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    match a.take_intents().as_slice() {
        [Intent::Send(r)] => {
            assert_eq!(r.pin.as_deref(), Some("claude-opus-4-5"));
            assert!(r.force_upgrade);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!a.tab().upgrade_next);
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 1,
            conversation_id: 7,
            user_message_id: 1,
            compare_lane: None,
        },
        c.at(0),
    );
    a.handle_coach_event(
        Event::TurnFinished {
            turn: 1,
            summary: summary("claude-opus-4-5", TurnStatus::Complete, false),
        },
        c.at(0),
    );
    type_str(&mut a, "/auto", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert_eq!(a.tab().pin, None);
    type_str(&mut a, "/export json", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert_eq!(
        a.take_intents(),
        vec![Intent::Export {
            conversation_id: 7,
            format: ExportFormat::Json
        }]
    );
}

#[test]
fn unknown_command_is_reported_and_kept_in_the_input() {
    let (mut a, c) = app();
    type_str(&mut a, "/modle x", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    let status = a.status().map(|s| s.text.clone()).unwrap_or_default();
    assert!(status.contains("unknown command /modle"), "{status}");
    assert!(status.contains("/model"), "{status}");
    assert_eq!(a.input_text(), "/modle x");
    assert!(a.take_intents().is_empty());
}

#[test]
fn export_before_any_turn_explains_why_not() {
    let (mut a, c) = app();
    type_str(&mut a, "/export", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert!(a.take_intents().is_empty());
    assert_eq!(a.status().map(|s| s.kind), Some(StatusKind::Warn));
}

#[test]
fn paste_goes_to_the_input_sanitised_and_is_not_sent() {
    let (mut a, c) = app();
    let big = format!(
        "line one\r\nline two \x1b]52;c;AAAA\x07end\n{}",
        "x".repeat(5000)
    );
    a.handle_paste(&big, c.at(0));
    assert!(a.take_intents().is_empty());
    let text = a.input_text();
    assert!(text.starts_with("line one\nline two end\n"));
    assert!(!text.contains('\x1b'));
    assert_eq!(text.len(), "line one\nline two end\n".len() + 5000);
}

#[test]
fn tabs_open_close_and_switch() {
    let (mut a, c) = app();
    a.handle_key(ctrl('t'), c.at(0));
    a.handle_key(ctrl('t'), c.at(0));
    assert_eq!(a.tabs().len(), 3);
    assert_eq!(a.active_index(), 2);
    a.handle_key(with(KeyCode::Char('1'), KeyModifiers::ALT), c.at(0));
    assert_eq!(a.active_index(), 0);
    a.handle_key(with(KeyCode::Left, KeyModifiers::CONTROL), c.at(0));
    assert_eq!(a.active_index(), 2);
    a.handle_key(ctrl('w'), c.at(0));
    assert_eq!(a.tabs().len(), 2);
    type_str(&mut a, "/new", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert_eq!(a.tabs().len(), 3);
    a.handle_key(ctrl('w'), c.at(0));
    a.handle_key(ctrl('w'), c.at(0));
    a.handle_key(ctrl('w'), c.at(0));
    assert_eq!(a.tabs().len(), 1, "closing the last tab leaves a fresh one");
}

#[test]
fn turns_of_two_new_conversations_land_in_their_tabs() {
    let (mut a, c) = app();
    type_str(&mut a, "first", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    a.handle_key(ctrl('t'), c.at(0));
    type_str(&mut a, "second", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    for (turn, cid) in [(1, 100), (2, 200)] {
        a.handle_coach_event(
            Event::TurnStarted {
                turn,
                conversation_id: cid,
                user_message_id: 1,
                compare_lane: None,
            },
            c.at(1),
        );
        a.handle_coach_event(
            Event::Delta {
                turn,
                text: format!("answer {turn}"),
            },
            c.at(2),
        );
    }
    assert_eq!(a.tabs()[0].conversation_id, Some(100));
    assert_eq!(a.tabs()[0].messages[1].raw(), "answer 1");
    assert_eq!(a.tabs()[1].conversation_id, Some(200));
    assert_eq!(a.tabs()[1].messages[1].raw(), "answer 2");
}

#[test]
fn crisis_decision_shows_the_safety_notice() {
    let (mut a, c) = app();
    start_turn(&mut a, "I want to end it", 3, c.at(0));
    a.handle_coach_event(
        Event::Decision {
            turn: 3,
            decision: decision("claude-sonnet-4-5", Safety::Crisis),
        },
        c.at(5),
    );
    let lines = a.tab().messages[1].layout(&a.render_ctx());
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    assert!(text[1].contains("⚠ SAFETY"), "{text:?}");
    assert!(text.iter().any(|l| l.contains("988")));
    assert_eq!(a.status().map(|s| s.kind), Some(StatusKind::Warn));
}

#[test]
fn offline_answers_are_labelled() {
    let (mut a, c) = app();
    start_turn(&mut a, "hello", 3, c.at(0));
    a.handle_coach_event(
        Event::Delta {
            turn: 3,
            text: "Let's set a goal.".into(),
        },
        c.at(5),
    );
    a.handle_coach_event(
        Event::TurnFinished {
            turn: 3,
            summary: summary(OFFLINE_MODEL, TurnStatus::Complete, true),
        },
        c.at(6),
    );
    let header = a.tab().messages[1].layout(&a.render_ctx())[0].to_string();
    assert!(header.contains("offline coach"), "{header}");
    assert!((a.costs().month - 0.5).abs() < 1e-9);
    assert_eq!(a.tab().cost_per_turn, vec![0.0012]);
}

#[test]
fn model_output_escape_sequences_never_reach_the_screen() {
    let (mut a, c) = app();
    start_turn(&mut a, "hello", 3, c.at(0));
    for part in ["safe \x1b]52;c;ZXZp", "bA==\x07 text \x1b[2J", "done"] {
        a.handle_coach_event(
            Event::Delta {
                turn: 3,
                text: part.into(),
            },
            c.at(5),
        );
    }
    let lines = a.tab().messages[1].layout(&a.render_ctx());
    for l in &lines {
        for s in &l.spans {
            assert!(!s.content.chars().any(|ch| ch.is_control()), "{s:?}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("safe  text done"))
    );
}

#[test]
fn an_error_before_the_turn_starts_gives_the_text_back() {
    let (mut a, c) = app();
    type_str(&mut a, "precious words", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    a.handle_coach_event(Event::Error("database is locked".into()), c.at(10));
    assert!(!a.tab().is_busy());
    assert_eq!(a.input_text(), "precious words");
    assert_eq!(a.status().map(|s| s.kind), Some(StatusKind::Error));
}

#[test]
fn a_second_send_while_streaming_is_refused() {
    let (mut a, c) = app();
    start_turn(&mut a, "first", 1, c.at(0));
    type_str(&mut a, "second", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert!(a.take_intents().is_empty());
    assert_eq!(a.input_text(), "second");
}

#[test]
fn compare_runs_two_lanes() {
    let (mut a, c) = app();
    type_str(&mut a, "/compare should I move?", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    match a.take_intents().as_slice() {
        [Intent::Compare(r)] => assert_eq!(r.text, "should I move?"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(a.tab().show_compare);
    for lane in 0..2u8 {
        a.handle_coach_event(
            Event::TurnStarted {
                turn: 10 + u64::from(lane),
                conversation_id: 7,
                user_message_id: 1,
                compare_lane: Some(lane),
            },
            c.at(1),
        );
    }
    assert!(a.tab().pending.is_none());
    a.handle_coach_event(
        Event::Delta {
            turn: 11,
            text: "deep".into(),
        },
        c.at(2),
    );
    assert_eq!(
        a.tab().lane_turn(1).map(|t| t.lane_text.as_str()),
        Some("deep")
    );
    a.handle_key(key(KeyCode::Esc), c.at(3));
    assert_eq!(
        a.take_intents(),
        vec![Intent::Cancel { turn: 10 }, Intent::Cancel { turn: 11 }]
    );
    a.handle_key(key(KeyCode::Esc), c.at(4));
    assert!(!a.tab().show_compare);
}

#[test]
fn worker_gone_fails_live_turns_and_refuses_sends() {
    let (mut a, c) = app();
    start_turn(&mut a, "hello", 1, c.at(0));
    a.handle_worker_gone();
    assert!(!a.tab().is_busy());
    assert_eq!(a.tab().messages[1].status, MessageStatus::Failed);
    type_str(&mut a, "again", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert!(a.take_intents().is_empty());
}

#[test]
fn spinner_wakes_the_loop_only_while_waiting() {
    let (mut a, c) = app();
    assert!(a.next_wakeup().is_none());
    type_str(&mut a, "x", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    assert!(a.next_wakeup().is_some());
    assert!(a.handle_tick(c.at(250)));
}

#[test]
fn routing_panel_selects_past_turns() {
    let (mut a, c) = app();
    for turn in 1..=3 {
        start_turn(&mut a, "msg", turn, c.at(0));
        a.handle_coach_event(
            Event::TurnFinished {
                turn,
                summary: summary("m", TurnStatus::Complete, false),
            },
            c.at(1),
        );
    }
    assert_eq!(a.panel_turn().map(|(i, _)| i), Some(2));
    a.handle_key(key(KeyCode::Tab), c.at(0));
    a.handle_key(key(KeyCode::Char('[')), c.at(0));
    a.handle_key(key(KeyCode::Char('[')), c.at(0));
    assert_eq!(a.panel_turn().map(|(i, _)| i), Some(0));
    a.handle_key(key(KeyCode::Char(']')), c.at(0));
    a.handle_key(key(KeyCode::Char(']')), c.at(0));
    assert_eq!(a.tab().selected_turn, None);
}

#[test]
fn a_send_stopped_before_it_started_does_not_capture_the_next_one() {
    let (mut a, c) = app();
    type_str(&mut a, "first", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    a.handle_key(key(KeyCode::Esc), c.at(10));
    assert!(!a.tab().is_busy());
    type_str(&mut a, "second", c.at(20));
    a.handle_key(key(KeyCode::Enter), c.at(20));
    a.take_intents();
    // The first send's turn starts late: it is cancelled, not shown.
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 1,
            conversation_id: 5,
            user_message_id: 1,
            compare_lane: None,
        },
        c.at(30),
    );
    assert_eq!(a.take_intents(), vec![Intent::Cancel { turn: 1 }]);
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 2,
            conversation_id: 6,
            user_message_id: 2,
            compare_lane: None,
        },
        c.at(40),
    );
    a.handle_coach_event(
        Event::Delta {
            turn: 2,
            text: "for the second".into(),
        },
        c.at(50),
    );
    assert!(a.take_intents().is_empty());
    let last = a.tab().messages.last().map(|m| m.raw().to_string());
    assert_eq!(last.as_deref(), Some("for the second"));
}

#[test]
fn closing_a_tab_cancels_its_turn_when_it_starts() {
    let (mut a, c) = app();
    type_str(&mut a, "first", c.at(0));
    a.handle_key(key(KeyCode::Enter), c.at(0));
    a.handle_key(ctrl('w'), c.at(5));
    a.take_intents();
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 1,
            conversation_id: 5,
            user_message_id: 1,
            compare_lane: None,
        },
        c.at(30),
    );
    assert_eq!(a.take_intents(), vec![Intent::Cancel { turn: 1 }]);
}

// ----- Review, Dashboard, lazy history -----

fn stored(id: i64, role: crate::store::Role, text: &str) -> crate::store::Message {
    crate::store::Message {
        id,
        conversation_id: 7,
        role,
        content: text.into(),
        status: crate::store::MessageStatus::Complete,
        model: (role == crate::store::Role::Assistant).then(|| "claude-haiku-4-5".to_string()),
        compare_lane: None,
        system_prompt_version_used: None,
        created_at: id * 1000,
    }
}

fn page(from: i64, to: i64, complete: bool) -> Event {
    let messages = (from..to)
        .map(|i| {
            let role = if i % 2 == 0 {
                crate::store::Role::User
            } else {
                crate::store::Role::Assistant
            };
            stored(i, role, &format!("message {i}"))
        })
        .collect();
    Event::History(HistoryPage {
        conversation_id: 7,
        messages,
        complete,
    })
}

#[test]
fn resumed_conversation_loads_older_pages_at_the_top() {
    let (mut a, c) = app();
    a.resume_conversation(7, "career");
    assert_eq!(
        a.take_intents(),
        vec![Intent::LoadHistory {
            conversation_id: 7,
            loaded: 0,
            page: HISTORY_PAGE
        }]
    );
    // The fresh empty tab is reused, not left behind.
    assert_eq!(a.tabs().len(), 1);
    a.handle_coach_event(page(100, 200, false), c.at(1));
    assert_eq!(a.tab().messages.len(), 100);
    assert!(
        a.take_intents().is_empty(),
        "nothing more until the top is reached"
    );

    // Scrolling up a little does not load; reaching the top does, once.
    a.handle_key(key(KeyCode::PageUp), c.at(2));
    assert!(a.take_intents().is_empty());
    a.handle_key(key(KeyCode::Tab), c.at(3));
    a.handle_key(key(KeyCode::Char('g')), c.at(4));
    a.handle_key(key(KeyCode::Char('g')), c.at(5));
    assert_eq!(
        a.take_intents(),
        vec![Intent::LoadHistory {
            conversation_id: 7,
            loaded: 100,
            page: HISTORY_PAGE
        }]
    );
    let scroll_before = a.tab().scroll;
    a.handle_coach_event(page(0, 100, true), c.at(6));
    let tab = a.tab();
    assert_eq!(tab.messages.len(), 200);
    assert_eq!(tab.messages[0].raw(), "message 0");
    assert_eq!(tab.messages[199].raw(), "message 199");
    // The view stays on what the person was reading (offset from the bottom unchanged).
    assert_eq!(tab.scroll, scroll_before);
    // Everything is loaded: the top asks for nothing more.
    a.handle_key(key(KeyCode::Char('g')), c.at(7));
    assert!(a.take_intents().is_empty());
}

#[test]
fn older_history_keeps_live_turns_pointing_at_their_answers() {
    let (mut a, c) = app();
    a.resume_conversation(7, "career");
    a.take_intents();
    a.handle_coach_event(page(100, 110, false), c.at(1));
    type_str(&mut a, "next step", c.at(2));
    a.handle_key(key(KeyCode::Enter), c.at(3));
    a.take_intents();
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 1,
            conversation_id: 7,
            user_message_id: 500,
            compare_lane: None,
        },
        c.at(4),
    );
    // Older messages arrive while the answer streams.
    a.handle_key(key(KeyCode::Tab), c.at(5));
    a.handle_key(key(KeyCode::Char('g')), c.at(6));
    a.take_intents();
    a.handle_coach_event(page(90, 100, false), c.at(7));
    a.handle_coach_event(
        Event::Delta {
            turn: 1,
            text: "streamed answer".into(),
        },
        c.at(8),
    );
    let last = a.tab().messages.last().map(|m| m.raw().to_string());
    assert_eq!(last.as_deref(), Some("streamed answer"));
}

#[test]
fn review_and_dashboard_open_close_and_ask_the_worker() {
    let (mut a, c) = app();
    a.handle_key(ctrl('o'), c.at(1));
    assert_eq!(a.screen(), Screen::Review);
    assert_eq!(a.take_intents(), vec![Intent::ListConversations]);
    // Letters in Review are commands, not chat input.
    a.handle_key(key(KeyCode::Char('/')), c.at(2));
    type_str(&mut a, "goal", c.at(3));
    assert_eq!(a.input_text(), "");
    a.handle_key(key(KeyCode::Enter), c.at(4));
    assert_eq!(
        a.take_intents(),
        vec![Intent::Search {
            query: "goal".into(),
            limit: review::SEARCH_LIMIT
        }]
    );
    // Esc clears the results, a second Esc goes back to the chat.
    a.handle_coach_event(
        Event::SearchResults {
            query: "goal".into(),
            hits: Vec::new(),
        },
        c.at(5),
    );
    a.handle_key(key(KeyCode::Esc), c.at(6));
    assert_eq!(a.screen(), Screen::Review);
    a.handle_key(key(KeyCode::Esc), c.at(7));
    assert_eq!(a.screen(), Screen::Chat);

    a.handle_key(key(KeyCode::F(4)), c.at(8));
    assert_eq!(a.screen(), Screen::Dashboard);
    assert_eq!(a.take_intents(), vec![Intent::Dashboard { months_back: 0 }]);
    a.handle_key(key(KeyCode::Char('[')), c.at(9));
    assert_eq!(a.take_intents(), vec![Intent::Dashboard { months_back: 1 }]);
    a.handle_key(key(KeyCode::Char(']')), c.at(10));
    a.handle_key(key(KeyCode::Char(']')), c.at(11));
    assert_eq!(a.take_intents(), vec![Intent::Dashboard { months_back: 0 }]);
    a.handle_key(key(KeyCode::F(4)), c.at(12));
    assert_eq!(a.screen(), Screen::Chat);
    // Ctrl+Q quits from any screen.
    a.handle_key(key(KeyCode::F(5)), c.at(13));
    a.handle_key(ctrl('q'), c.at(14));
    assert!(a.should_quit());
}

fn open_consultation_tab(a: &mut App, c: &Clock) {
    a.request_consultation();
    a.handle_coach_event(
        Event::Consultation(Box::new(ConsultationInfo {
            state: ConsultationState::NotStarted,
            estimate: crate::coach::api::CostEstimate {
                lines: Vec::new(),
                total_usd: 0.1,
            },
            has_model: true,
        })),
        c.at(1),
    );
    a.take_intents();
    assert!(a.tab().consultation);
}

#[test]
fn a_consultation_send_stopped_before_it_is_queued_is_cancelled_when_it_is() {
    let (mut a, c) = app();
    open_consultation_tab(&mut a, &c);
    type_str(&mut a, "hello", c.at(10));
    a.handle_key(key(KeyCode::Enter), c.at(10));
    assert_eq!(
        a.take_intents(),
        vec![Intent::ConsultationTurn {
            text: "hello".into()
        }]
    );
    // Stopped before the worker said which turn it is.
    a.handle_key(key(KeyCode::Esc), c.at(20));
    assert!(!a.tab().is_busy());
    a.handle_coach_event(Event::ConsultationTurnQueued { turn: 5 }, c.at(30));
    assert_eq!(a.take_intents(), vec![Intent::Cancel { turn: 5 }]);
    // Its start is not taken for a chat send waiting in another tab.
    a.new_tab();
    type_str(&mut a, "a chat message", c.at(40));
    a.handle_key(key(KeyCode::Enter), c.at(40));
    a.take_intents();
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 5,
            conversation_id: 40,
            user_message_id: 1,
            compare_lane: None,
        },
        c.at(50),
    );
    assert_eq!(a.take_intents(), vec![Intent::Cancel { turn: 5 }]);
    assert!(
        a.tab().pending.is_some(),
        "the chat send still waits for its turn"
    );
    a.handle_coach_event(
        Event::TurnStarted {
            turn: 6,
            conversation_id: 41,
            user_message_id: 2,
            compare_lane: None,
        },
        c.at(60),
    );
    assert_eq!(a.tab().conversation_id, Some(41));
}

#[test]
fn a_consultation_tab_refuses_compare() {
    let (mut a, c) = app();
    open_consultation_tab(&mut a, &c);
    type_str(&mut a, "/compare which job?", c.at(10));
    a.handle_key(key(KeyCode::Enter), c.at(10));
    assert!(a.take_intents().is_empty());
    assert!(
        a.status()
            .is_some_and(|s| s.text.contains("/compare works in a chat tab"))
    );
}

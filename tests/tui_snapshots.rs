//! Snapshots of every TUI screen at 100×30 and 60×16, driven through the same `App::handle_*`
//! calls the event loop makes, with fixed data. Review changes with `cargo insta review`.
//! `cargo test --test tui_snapshots -- --nocapture` also prints each screen.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use grow::catalog::{ProviderKind, Usage};
use grow::coach::api::{
    AttemptReport, CommitmentStatus, CommitmentView, ConsultationInfo, ConsultationState,
    CostEstimate, CostSnapshot, EstimateLine, Event, HistoryPage, Intent, PersonalStatus,
    ProfileData, PromptVersion, Proposal, StoredMessage, StoredRole, StoredStatus, TurnStatus,
    TurnSummary,
};
use grow::coach::behaviour;
use grow::coach::profile::{VersionDiff, diff_lines};
use grow::routing::analyzer::{AnalyzerReport, AnalyzerStatus};
use grow::routing::types::{
    PlanRole, PlanStep, RouteDecision, Safety, Signal, SignalKind, SignalOrigin, SignalSource,
};
use grow::tui::conversation::Message;
use grow::tui::{App, ThemeKind, TuiOptions, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

struct Script {
    app: App,
    t0: Instant,
}

impl Script {
    fn new(w: u16, h: u16) -> Script {
        Script::with_options(w, h, options())
    }

    fn with_options(w: u16, h: u16, opts: TuiOptions) -> Script {
        let t0 = Instant::now();
        let mut app = App::new(opts, t0);
        app.handle_resize(w, h);
        Script { app, t0 }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn key(&mut self, code: KeyCode, mods: KeyModifiers, ms: u64) {
        let now = self.at(ms);
        self.app.handle_key(KeyEvent::new(code, mods), now);
    }

    fn type_text(&mut self, s: &str, ms: u64) {
        for c in s.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE, ms);
        }
    }

    fn send(&mut self, s: &str, ms: u64) {
        self.type_text(s, ms);
        self.key(KeyCode::Enter, KeyModifiers::NONE, ms);
        self.app.take_intents();
    }

    fn ev(&mut self, e: Event, ms: u64) {
        let now = self.at(ms);
        self.app.handle_coach_event(e, now);
    }

    fn tick(&mut self, ms: u64) {
        let now = self.at(ms);
        self.app.handle_tick(now);
    }

    /// A whole turn: started, decided, attempts, streamed in pieces, finished.
    #[allow(clippy::too_many_arguments)]
    fn turn(
        &mut self,
        turn: u64,
        text: &str,
        decision: RouteDecision,
        attempts: Vec<AttemptReport>,
        answer: &str,
        summary: Option<TurnSummary>,
        ms: u64,
    ) {
        self.send(text, ms);
        self.ev(
            Event::TurnStarted {
                turn,
                conversation_id: 42,
                user_message_id: i64::try_from(turn * 2).unwrap_or(0),
                compare_lane: None,
            },
            ms + 5,
        );
        self.ev(Event::Decision { turn, decision }, ms + 10);
        for a in attempts {
            self.ev(Event::AttemptFinished { turn, attempt: a }, ms + 20);
        }
        self.ev(
            Event::FirstToken {
                turn,
                after_ms: 640,
            },
            ms + 640,
        );
        for chunk in answer.split_inclusive(' ') {
            self.ev(
                Event::Delta {
                    turn,
                    text: chunk.to_string(),
                },
                ms + 700,
            );
        }
        if let Some(s) = summary {
            self.ev(Event::TurnFinished { turn, summary: s }, ms + 900);
        }
    }

    fn render(&self) -> Terminal<TestBackend> {
        let (w, h) = self.app.size();
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        terminal
            .draw(|f| draw(f, &self.app))
            .expect("drawing to a test backend");
        terminal
    }
}

fn options() -> TuiOptions {
    TuiOptions {
        theme: ThemeKind::Dark,
        default_model: "claude-haiku-4-5".into(),
        upgrade_model: "claude-sonnet-4-5".into(),
        monthly_budget: Some(20.0),
        log_hint: "~/.local/share/grow/grow.log".into(),
        ..TuiOptions::default()
    }
}

fn signal(kind: SignalKind, score: f32, evidence: &str, source: SignalSource) -> Signal {
    Signal {
        kind,
        score,
        evidence: evidence.into(),
        source,
    }
}

fn upgraded_decision() -> RouteDecision {
    RouteDecision {
        model: "claude-sonnet-4-5".into(),
        provider: ProviderKind::Anthropic,
        tier: 1,
        upgraded: true,
        signals: vec![
            signal(
                SignalKind::ComplexDecision,
                0.86,
                "two companies want me and I can't pick",
                SignalSource::Deterministic,
            ),
            signal(
                SignalKind::StrategicPlanning,
                0.62,
                "where I want to be in five years",
                SignalSource::Merged,
            ),
            signal(
                SignalKind::Distress,
                0.31,
                "I'm exhausted",
                SignalSource::Analyzer,
            ),
        ],
        safety: Safety::None,
        reasons: vec!["complex_decision 0.86 ≥ 0.60: upgrade".into()],
        estimated_input_tokens: 2_310,
        estimated_cost_usd: 0.0189,
        plan: vec![
            PlanStep {
                model: "claude-sonnet-4-5".into(),
                provider: ProviderKind::Anthropic,
                role: PlanRole::Primary,
            },
            PlanStep {
                model: "gpt-5".into(),
                provider: ProviderKind::Openai,
                role: PlanRole::SameTier,
            },
            PlanStep {
                model: "offline-coach".into(),
                provider: ProviderKind::Offline,
                role: PlanRole::Offline,
            },
        ],
        pinned: false,
        affinity: false,
        signal_origin: SignalOrigin::Analyzer,
        budget_tokens: 170_000,
        analyzer: Some(analyzer_report(AnalyzerStatus::Used)),
    }
}

fn analyzer_report(status: AnalyzerStatus) -> AnalyzerReport {
    AnalyzerReport {
        status,
        model: "gpt-4.1-mini".into(),
        latency_ms: if status == AnalyzerStatus::TimedOut {
            1_500
        } else {
            312
        },
        cost_usd: if status == AnalyzerStatus::Used {
            0.0002
        } else {
            0.0
        },
        cached: status == AnalyzerStatus::Cached,
        added_ms: 120,
    }
}

fn default_decision() -> RouteDecision {
    RouteDecision {
        model: "claude-haiku-4-5".into(),
        provider: ProviderKind::Anthropic,
        tier: 3,
        upgraded: false,
        signals: vec![],
        safety: Safety::None,
        reasons: vec!["no upgrade signal: default model".into()],
        estimated_input_tokens: 480,
        estimated_cost_usd: 0.0011,
        plan: vec![],
        pinned: false,
        affinity: false,
        signal_origin: SignalOrigin::Deterministic,
        budget_tokens: 170_000,
        analyzer: None,
    }
}

fn fallback_attempts() -> Vec<AttemptReport> {
    vec![
        AttemptReport {
            model: "claude-sonnet-4-5".into(),
            provider: "anthropic".into(),
            outcome: "overloaded".into(),
            http_status: Some(529),
            first_byte_ms: None,
            duration_ms: 1_204,
            note: Some("retried twice".into()),
        },
        AttemptReport {
            model: "gpt-5".into(),
            provider: "openai".into(),
            outcome: "ok".into(),
            http_status: Some(200),
            first_byte_ms: Some(410),
            duration_ms: 3_921,
            note: None,
        },
    ]
}

fn summary(model: &str, status: TurnStatus, cost: f64, month: f64) -> TurnSummary {
    TurnSummary {
        conversation_id: 42,
        assistant_message_id: Some(9),
        model: model.into(),
        status,
        offline: model == "offline-coach",
        usage: Usage {
            input_tokens: 310,
            output_tokens: 412,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 2_000,
        },
        cost_usd: cost,
        costs: CostSnapshot {
            turn: cost,
            conversation: 0.0231,
            today: 0.118,
            month,
            month_if_all_upgrade: month * 2.9,
            month_cache_savings: 0.42,
            monthly_budget: Some(20.0),
        },
        notice: None,
    }
}

const ANSWER: &str = "## Two good options\n\nYou have **two offers** and feel *torn*. Let's look at:\n\n1. what each role gives you in five years\n2. what it costs you now\n   - money\n   - time with family\n\n```python\nscore = pay * 0.4 + growth * 0.6  # weigh it\n```\n\nWhich matters more to you, `growth` or stability?";

/// A conversation with a routine turn and an upgraded turn that fell back.
fn career_chat(w: u16, h: u16) -> Script {
    let mut s = Script::new(w, h);
    s.turn(
        1,
        "hi, I want to think about my job",
        default_decision(),
        vec![],
        "Happy to. What is on your mind about your job?",
        Some(summary(
            "claude-haiku-4-5",
            TurnStatus::Complete,
            0.0009,
            3.1,
        )),
        0,
    );
    s.turn(
        2,
        "two companies want me and I can't pick; I'm exhausted",
        upgraded_decision(),
        fallback_attempts(),
        ANSWER,
        Some(summary("gpt-5", TurnStatus::Complete, 0.0222, 3.4)),
        2_000,
    );
    s
}

fn snapshot(name: &str, s: &Script) {
    let terminal = s.render();
    let screen = terminal.backend().to_string();
    println!("{name}\n{screen}");
    insta::assert_snapshot!(name, screen);
}

#[test]
fn chat_with_routing_panel_and_fallback() {
    snapshot("chat_100x30", &career_chat(100, 30));
    snapshot("chat_60x16", &career_chat(60, 16));
}

#[test]
fn routing_panel_overlay_on_small_terminal() {
    let mut s = career_chat(60, 16);
    s.key(KeyCode::F(2), KeyModifiers::NONE, 5_000);
    snapshot("routing_overlay_60x16", &s);
}

#[test]
fn routing_panel_scrolled_to_fallback_attempts() {
    let mut s = career_chat(100, 30);
    for _ in 0..8 {
        s.key(KeyCode::Down, KeyModifiers::ALT, 5_000);
    }
    snapshot("routing_attempts_100x30", &s);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("overloaded 529"));
    assert!(screen.contains("gpt-5 ok 200"));
}

#[test]
fn routing_panel_past_turn_selected() {
    let mut s = career_chat(100, 30);
    s.key(KeyCode::Tab, KeyModifiers::NONE, 5_000);
    s.key(KeyCode::Char('['), KeyModifiers::NONE, 5_000);
    snapshot("routing_past_turn_100x30", &s);
}

#[test]
fn routing_panel_shows_the_analyzer_outcome() {
    let mut s = Script::new(100, 30);
    let mut decision = default_decision();
    decision.signal_origin = SignalOrigin::Fallback;
    decision.analyzer = Some(analyzer_report(AnalyzerStatus::TimedOut));
    s.turn(
        1,
        "should I take the offer?",
        decision,
        vec![],
        "Let us look at what matters most to you.",
        Some(summary(
            "claude-haiku-4-5",
            TurnStatus::Complete,
            0.0009,
            3.1,
        )),
        0,
    );
    snapshot("routing_analyzer_timed_out_100x30", &s);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("analyzer  timed out · gpt-4.1-mini"));
    let chat = career_chat(100, 30).render().backend().to_string();
    assert!(chat.contains("analyzer  used · gpt-4.1-mini · 312 ms"));
}

#[test]
fn personal_coach_preparing_shows_in_the_status_bar() {
    let mut s = Script::new(100, 30);
    s.ev(Event::PersonalCoach(PersonalStatus::Preparing), 0);
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("preparing your personal coach…"),
        "{screen}"
    );
    s.ev(Event::PersonalCoach(PersonalStatus::Ready(3)), 3_000);
    let screen = s.render().backend().to_string();
    assert!(
        !screen.contains("preparing your personal coach…"),
        "{screen}"
    );
    assert!(
        screen.contains("your personal coach is ready (prompt version 3)"),
        "{screen}"
    );
    // A coach that was ready when grow started is not news.
    let mut s = Script::new(100, 30);
    s.ev(Event::PersonalCoach(PersonalStatus::Ready(3)), 0);
    let screen = s.render().backend().to_string();
    assert!(!screen.contains("personal coach"), "{screen}");
}

fn profile_data() -> ProfileData {
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default();
    let checkins: Vec<NaiveDate> = [2, 3, 4, 6, 9, 10, 11, 12, 16, 17, 18, 19, 20]
        .into_iter()
        .map(day)
        .collect();
    let behaviour = [
        behaviour::Commitment {
            id: 1,
            created: day(2),
            due: Some(day(6)),
            status: behaviour::CommitmentStatus::Done { on: day(5) },
        },
        behaviour::Commitment {
            id: 2,
            created: day(9),
            due: Some(day(14)),
            status: behaviour::CommitmentStatus::Missed { on: day(15) },
        },
        behaviour::Commitment {
            id: 3,
            created: day(16),
            due: Some(day(19)),
            status: behaviour::CommitmentStatus::Open,
        },
    ];
    let at = |today: u32| {
        behaviour::compute_metrics(
            &checkins,
            &behaviour,
            day(today),
            &behaviour::MetricsConfig::default(),
        )
    };
    let metrics = at(21);
    // Weekly snapshots before today: the trend.
    let history = [7, 14]
        .into_iter()
        .map(|d| (1_793_534_400_000 + i64::from(d) * 86_400_000, at(d)))
        .collect();
    let version = |n: i64, reason: &str, text: &str, day_ms: i64| PromptVersion {
        id: n,
        profile_id: 1,
        version: n,
        prompt: format!("You coach Mei (version {n})."),
        profile_text: text.into(),
        reason: reason.into(),
        metrics_json: "{}".into(),
        model: Some("claude-sonnet-4-5".into()),
        cost_usd: 0.0123,
        created_at: 1_793_534_400_000 + day_ms * 86_400_000,
    };
    let open = |id: i64, text: &str, due: Option<NaiveDate>, overdue: bool| CommitmentView {
        id,
        text: text.into(),
        due,
        status: CommitmentStatus::Open,
        overdue,
        conversation_id: Some(42),
        created_at: 0,
        resolved_at: None,
    };
    ProfileData {
        status: PersonalStatus::Ready(2),
        versions: vec![
            version(1, "first consultation", "Mei, product designer.", 0),
            version(
                2,
                "weekly update: adherence fell below 60%",
                "Mei, product designer weighing two job offers; values growth and family time.",
                14,
            ),
        ],
        metrics,
        history,
        commitments: vec![
            open(3, "send the portfolio draft", Some(day(19)), true),
            open(4, "ask Anna about the team", None, false),
            CommitmentView {
                status: CommitmentStatus::Done,
                resolved_at: Some(1_793_534_400_000 + 86_400_000),
                ..open(1, "book the portfolio review", Some(day(6)), false)
            },
            CommitmentView {
                status: CommitmentStatus::Missed,
                resolved_at: Some(1_793_534_400_000 + 9 * 86_400_000),
                ..open(2, "write to the recruiter", Some(day(14)), false)
            },
        ],
        consultation: ConsultationState::Completed {
            conversation_id: 40,
            at: 1_793_534_400_000,
        },
    }
}

#[test]
fn profile_screen() {
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = Script::new(w, h);
        s.key(KeyCode::F(6), KeyModifiers::NONE, 0);
        assert!(s.app.take_intents().contains(&Intent::Profile));
        s.ev(Event::Profile(Box::new(profile_data())), 100);
        snapshot(&format!("profile_{w}x{h}"), &s);
    }
    let mut s = Script::new(100, 30);
    s.key(KeyCode::F(6), KeyModifiers::NONE, 0);
    s.ev(Event::Profile(Box::new(profile_data())), 100);
    let screen = s.render().backend().to_string();
    for needle in [
        "ready · prompt version 2",
        "v2",
        "weekly update: adherence fell below 60%",
        "logging consistency",
        "#3 send the portfolio draft · overdue since 2026-11-19",
        "#4 ask Anna about the team",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    s.key(KeyCode::Esc, KeyModifiers::NONE, 200);
    let screen = s.render().backend().to_string();
    assert!(!screen.contains("Prompt versions"));
}

#[test]
fn profile_diff_between_the_last_two_versions() {
    let mut s = Script::new(100, 30);
    s.key(KeyCode::F(6), KeyModifiers::NONE, 0);
    s.ev(Event::Profile(Box::new(profile_data())), 100);
    s.app.take_intents();
    s.key(KeyCode::Char('d'), KeyModifiers::NONE, 200);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::DiffVersions { from: 1, to: 2 }]
    );
    let old = "Mei, product designer.\n\n---\n\nYou coach Mei.\nAsk one question.\nKeep it short.\nEnd with a step.\n";
    let new = "Mei, product designer weighing two job offers.\n\n---\n\nYou coach Mei.\nAsk one question.\nKeep it short.\nName the commitment she missed.\n";
    let lines = diff_lines(old, new);
    let diff = VersionDiff {
        from: 1,
        to: 2,
        added: lines.iter().filter(|l| l.sign == '+').count(),
        removed: lines.iter().filter(|l| l.sign == '-').count(),
        lines,
    };
    s.ev(Event::VersionDiff(Box::new(diff)), 300);
    snapshot("profile_diff_100x30", &s);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("Prompt version 1 → 2 · +2 −2"), "{screen}");
    assert!(
        screen.contains("+ Name the commitment she missed."),
        "{screen}"
    );
    assert!(screen.contains("- End with a step."), "{screen}");
    s.key(KeyCode::Char('d'), KeyModifiers::NONE, 400);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("Prompt versions"), "{screen}");
}

fn consultation_info(state: ConsultationState, has_model: bool) -> ConsultationInfo {
    let line = |interaction, model: &str, calls, cost_usd| EstimateLine {
        interaction,
        model: model.into(),
        calls,
        input_tokens: 1000,
        output_tokens: 100,
        cost_usd,
    };
    ConsultationInfo {
        state,
        estimate: CostEstimate {
            lines: vec![
                line("CONSULTATION", "claude-sonnet-4-6", 12, 0.0738),
                line("PROFILE_GENERATION", "claude-sonnet-4-6", 1, 0.0123),
                line("PERSONA_GENERATION", "claude-sonnet-4-6", 1, 0.0267),
            ],
            total_usd: 0.1128,
        },
        has_model,
    }
}

/// One consultation turn as the worker reports it: queued, started, streamed, finished.
/// The worker reports the consultation's state, with the standard cost estimate.
fn consultation_state(s: &mut Script, state: ConsultationState, has_model: bool, ms: u64) {
    s.ev(
        Event::Consultation(Box::new(consultation_info(state, has_model))),
        ms,
    );
}

fn consultation_turn(s: &mut Script, turn: u64, conversation_id: i64, answer: &str, ms: u64) {
    s.ev(Event::ConsultationTurnQueued { turn }, ms);
    consultation_stream(s, turn, conversation_id, answer, ms);
}

/// A consultation turn after it was queued: started, streamed, finished.
fn consultation_stream(s: &mut Script, turn: u64, conversation_id: i64, answer: &str, ms: u64) {
    s.ev(
        Event::TurnStarted {
            turn,
            conversation_id,
            user_message_id: 1,
            compare_lane: None,
        },
        ms + 5,
    );
    for chunk in answer.split_inclusive(' ') {
        s.ev(
            Event::Delta {
                turn,
                text: chunk.to_string(),
            },
            ms + 300,
        );
    }
    let mut done = summary("claude-sonnet-4-6", TurnStatus::Complete, 0.006, 3.4);
    done.conversation_id = conversation_id;
    s.ev(
        Event::TurnFinished {
            turn,
            summary: done,
        },
        ms + 400,
    );
    s.ev(
        Event::ConsultationStep {
            turn,
            conversation_id,
            finished: false,
        },
        ms + 410,
    );
}

#[test]
fn consultation_is_turned_on_after_its_cost_is_shown() {
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = Script::new(w, h);
        s.send("/consult", 0);
        consultation_state(&mut s, ConsultationState::Disabled, true, 100);
        snapshot(&format!("consultation_confirm_{w}x{h}"), &s);
    }
    let mut s = Script::new(100, 30);
    s.type_text("/consult", 0);
    s.key(KeyCode::Enter, KeyModifiers::NONE, 0);
    assert_eq!(s.app.take_intents(), vec![Intent::Consultation]);
    consultation_state(&mut s, ConsultationState::Disabled, true, 100);
    let screen = s.render().backend().to_string();
    for needle in [
        "Turn on the consultation?",
        "interview",
        "about $0.11",
        "Turn it on? [y/n]",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    // Other keys do nothing while the question is open; n leaves it off.
    s.type_text("x", 200);
    assert!(s.app.confirm().is_some() && s.app.input_text().is_empty());
    s.key(KeyCode::Char('n'), KeyModifiers::NONE, 300);
    assert!(s.app.confirm().is_none());
    assert!(s.app.take_intents().is_empty());
    // Asked again, y turns it on; the answer opens the consultation tab.
    s.send("/consult", 400);
    consultation_state(&mut s, ConsultationState::Disabled, true, 500);
    s.key(KeyCode::Char('y'), KeyModifiers::NONE, 600);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::EnableConsultation { enabled: true }]
    );
    consultation_state(&mut s, ConsultationState::NotStarted, true, 700);
    assert!(s.app.tab().consultation);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("◆ consultation"), "{screen}");
    assert!(screen.contains("Say hello to begin"), "{screen}");
}

#[test]
fn consultation_chat_pauses_and_resumes() {
    let mut s = Script::new(100, 30);
    s.send("/consult", 0);
    consultation_state(&mut s, ConsultationState::NotStarted, true, 100);
    s.type_text("Hi, I want to change jobs.", 200);
    s.key(KeyCode::Enter, KeyModifiers::NONE, 200);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::ConsultationTurn {
            text: "Hi, I want to change jobs.".into()
        }]
    );
    consultation_turn(
        &mut s,
        1,
        40,
        "Welcome! What would you like to be different a year from now?",
        300,
    );
    snapshot("consultation_tab_100x30", &s);
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("consultation · /finish ends it"),
        "{screen}"
    );

    // Pause: close the tab. A chat send and a consultation send in flight at once still
    // land in their own tabs, whatever order their turns start in.
    s.key(KeyCode::Char('w'), KeyModifiers::CONTROL, 1_000);
    assert!(!s.app.tab().consultation);
    s.send("/consult", 1_100);
    consultation_state(
        &mut s,
        ConsultationState::InProgress {
            conversation_id: 40,
            exchanges: 1,
        },
        true,
        1_200,
    );
    assert!(s.app.take_intents().contains(&Intent::LoadHistory {
        conversation_id: 40,
        loaded: 0,
        page: 100,
    }));
    let stored = |id: i64, role: StoredRole, content: &str| StoredMessage {
        id,
        conversation_id: 40,
        role,
        content: content.into(),
        model: Some("claude-sonnet-4-6".into()),
        status: StoredStatus::Complete,
        compare_lane: None,
        created_at: 1_793_534_400_000,
        system_prompt_version_used: None,
    };
    s.ev(
        Event::History(HistoryPage {
            conversation_id: 40,
            messages: vec![
                stored(1, StoredRole::User, "Hi, I want to change jobs."),
                stored(
                    2,
                    StoredRole::Assistant,
                    "Welcome! What would you like to be different a year from now?",
                ),
            ],
            complete: true,
        }),
        1_300,
    );
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("Resuming your consultation (1 exchange(s)"),
        "{screen}"
    );
    assert!(screen.contains("year from now?"), "{screen}");
    assert!(s.app.tab().consultation);

    s.type_text("A job with more design ownership.", 1_400);
    s.key(KeyCode::Enter, KeyModifiers::NONE, 1_400);
    s.key(KeyCode::Char('t'), KeyModifiers::CONTROL, 1_500);
    s.type_text("hello coach", 1_500);
    s.key(KeyCode::Enter, KeyModifiers::NONE, 1_500);
    let intents = s.app.take_intents();
    assert!(intents.contains(&Intent::ConsultationTurn {
        text: "A job with more design ownership.".into()
    }));
    assert!(
        intents
            .iter()
            .any(|i| matches!(i, Intent::Send(r) if r.text == "hello coach"))
    );
    // The worker queues the consultation turn as 7; the chat turn 8 starts first.
    s.ev(Event::ConsultationTurnQueued { turn: 7 }, 1_600);
    s.ev(
        Event::TurnStarted {
            turn: 8,
            conversation_id: 41,
            user_message_id: 9,
            compare_lane: None,
        },
        1_610,
    );
    assert_eq!(
        s.app.tab().conversation_id,
        Some(41),
        "the chat tab got its turn"
    );
    consultation_stream(
        &mut s,
        7,
        40,
        "What does ownership look like for you?",
        1_700,
    );
    let consultation = s
        .app
        .tabs()
        .iter()
        .find(|t| t.consultation)
        .expect("consultation tab");
    assert!(
        consultation
            .messages
            .iter()
            .any(|m| m.raw().contains("ownership look like")),
        "the interviewer's reply is in the consultation tab"
    );

    // The interviewer ends it: the tab says so and the personal coach is being prepared.
    s.ev(
        Event::ConsultationStep {
            turn: 7,
            conversation_id: 40,
            finished: true,
        },
        1_800,
    );
    s.ev(Event::PersonalCoach(PersonalStatus::Preparing), 1_810);
    s.key(KeyCode::Char('1'), KeyModifiers::ALT, 1_900);
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("preparing your personal coach…"),
        "{screen}"
    );
    assert!(screen.contains("The consultation is complete"), "{screen}");
    assert!(screen.contains("◆ consultation ✓"), "{screen}");
}

#[test]
fn finish_command_ends_the_consultation() {
    let mut s = Script::new(100, 30);
    s.send("/consult", 0);
    consultation_state(&mut s, ConsultationState::NotStarted, true, 10);
    s.send("Hi", 20);
    consultation_turn(&mut s, 1, 40, "Welcome! What brings you here?", 30);
    s.type_text("/finish", 500);
    s.key(KeyCode::Enter, KeyModifiers::NONE, 500);
    assert_eq!(s.app.take_intents(), vec![Intent::FinishConsultation]);
    consultation_state(
        &mut s,
        ConsultationState::Completed {
            conversation_id: 40,
            at: 1_793_534_400_000,
        },
        true,
        600,
    );
    s.ev(Event::PersonalCoach(PersonalStatus::Preparing), 610);
    snapshot("consultation_finished_100x30", &s);
    let screen = s.render().backend().to_string();
    for needle in [
        "The consultation is complete",
        "consultation complete",
        "preparing your personal coach…",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }

    // Without a model the consultation does not open, and says why.
    let mut s = Script::new(100, 30);
    s.send("/consult", 100);
    consultation_state(&mut s, ConsultationState::NotStarted, false, 200);
    assert!(!s.app.tab().consultation);
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("the consultation needs a model"),
        "{screen}"
    );
}

fn proposal() -> Proposal {
    Proposal {
        text: "Send the portfolio to two studios".into(),
        due: NaiveDate::from_ymd_opt(2026, 11, 27),
        confirmed: true,
        evidence: "I'll send it by Friday".into(),
        model: "claude-haiku-4-5".into(),
        cost_usd: 0.0011,
    }
}

#[test]
fn commitment_proposal_asks_yes_or_no() {
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = career_chat(w, h);
        s.ev(
            Event::CommitmentProposal {
                conversation_id: 42,
                proposal: proposal(),
            },
            3_000,
        );
        snapshot(&format!("proposal_{w}x{h}"), &s);
    }
    let mut s = career_chat(100, 30);
    s.ev(
        Event::CommitmentProposal {
            conversation_id: 42,
            proposal: proposal(),
        },
        3_000,
    );
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("◆ Commit to: Send the portfolio to two studios by Fri 27 Nov? [y/n]"),
        "{screen}"
    );
    s.key(KeyCode::Char('y'), KeyModifiers::NONE, 3_100);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::AcceptProposal {
            conversation_id: Some(42),
            proposal: proposal(),
        }]
    );
    assert!(s.app.proposal().is_none());

    // While the person types, y and n are text; Alt+N says no, and that one is not asked again.
    let other = Proposal {
        text: "Ask Anna about the team".into(),
        due: None,
        ..proposal()
    };
    s.ev(
        Event::CommitmentProposal {
            conversation_id: 42,
            proposal: other.clone(),
        },
        3_200,
    );
    s.type_text("maybe, not yet", 3_300);
    assert_eq!(s.app.input_text(), "maybe, not yet");
    assert!(s.app.proposal().is_some());
    let screen = s.render().backend().to_string();
    assert!(
        screen.contains("Commit to: Ask Anna about the team? [y/n]  Alt+Y/Alt+N"),
        "{screen}"
    );
    s.key(KeyCode::Char('n'), KeyModifiers::ALT, 3_400);
    assert!(s.app.proposal().is_none());
    assert!(
        s.app
            .take_intents()
            .iter()
            .all(|i| !matches!(i, Intent::AcceptProposal { .. }))
    );
    s.ev(
        Event::CommitmentProposal {
            conversation_id: 42,
            proposal: other,
        },
        3_500,
    );
    assert!(
        s.app.proposal().is_none(),
        "a dismissed proposal is not asked again"
    );

    // /propose asks the coach for the current conversation.
    for _ in 0.."maybe, not yet".len() {
        s.key(KeyCode::Backspace, KeyModifiers::NONE, 3_600);
    }
    s.type_text("/propose", 3_700);
    s.key(KeyCode::Enter, KeyModifiers::NONE, 3_700);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::ProposeCommitment {
            conversation_id: 42
        }]
    );
}

#[test]
fn profile_diff_between_any_two_versions() {
    let mut data = profile_data();
    let mut v3 = data.versions[1].clone();
    v3.version = 3;
    v3.reason = "weekly update: streak up 9 days".into();
    data.versions.push(v3);
    let mut s = Script::new(100, 30);
    s.key(KeyCode::F(6), KeyModifiers::NONE, 0);
    s.ev(Event::Profile(Box::new(data)), 100);
    s.app.take_intents();
    s.key(KeyCode::Char('D'), KeyModifiers::SHIFT, 200);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::DiffVersions { from: 1, to: 3 }]
    );
    let diff = |from, to| {
        let lines = diff_lines(
            "Mei.\nAsk one question.\n",
            "Mei, designer.\nAsk one question.\n",
        );
        VersionDiff {
            from,
            to,
            added: 1,
            removed: 1,
            lines,
        }
    };
    s.ev(Event::VersionDiff(Box::new(diff(1, 3))), 300);
    snapshot("profile_diff_any_100x30", &s);
    // ] moves version A forward, { moves version B back (skipping A): any pair.
    s.key(KeyCode::Char(']'), KeyModifiers::NONE, 400);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::DiffVersions { from: 2, to: 3 }]
    );
    s.ev(Event::VersionDiff(Box::new(diff(2, 3))), 500);
    s.key(KeyCode::Char(']'), KeyModifiers::NONE, 600);
    assert!(
        s.app.take_intents().is_empty(),
        "3 is B: nothing newer for A"
    );
    s.key(KeyCode::Char('{'), KeyModifiers::NONE, 700);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::DiffVersions { from: 2, to: 1 }]
    );
    let screen = s.render().backend().to_string();
    assert!(screen.contains("Prompt version 2 → 3"), "{screen}");
    // c on the profile asks for the consultation.
    s.key(KeyCode::Char('d'), KeyModifiers::NONE, 800);
    s.key(KeyCode::Char('c'), KeyModifiers::NONE, 900);
    assert_eq!(s.app.take_intents(), vec![Intent::Consultation]);
}

#[test]
fn live_preview_while_typing() {
    let mut s = career_chat(100, 30);
    s.type_text("should I move to Berlin for", 5_000);
    s.tick(5_200);
    s.ev(
        Event::Preview {
            decision: upgraded_decision(),
        },
        5_250,
    );
    snapshot("preview_100x30", &s);
}

#[test]
fn partial_answer_and_spinner() {
    let mut s = Script::new(100, 30);
    s.turn(
        1,
        "I keep putting off my thesis",
        default_decision(),
        vec![],
        "Let's look at what happens right before you put it off. When you sit down",
        None,
        0,
    );
    s.key(KeyCode::Esc, KeyModifiers::NONE, 1_500);
    s.ev(
        Event::TurnFinished {
            turn: 1,
            summary: summary("claude-haiku-4-5", TurnStatus::Partial, 0.0004, 3.1),
        },
        1_600,
    );
    // The next message is on its way, nothing streamed yet: the spinner shows elapsed time.
    s.send("why do I do that?", 2_000);
    s.ev(
        Event::TurnStarted {
            turn: 2,
            conversation_id: 42,
            user_message_id: 3,
            compare_lane: None,
        },
        2_010,
    );
    s.ev(
        Event::AttemptStarted {
            turn: 2,
            model: "claude-haiku-4-5".into(),
        },
        2_020,
    );
    s.tick(3_300);
    snapshot("partial_and_spinner_100x30", &s);
}

fn chinese_chat(w: u16, h: u16) -> Script {
    let mut s = Script::new(w, h);
    s.turn(
        1,
        "我想换工作，但是很害怕失败。",
        default_decision(),
        vec![],
        "我听到了你的担心。**害怕失败**很常见。\n\n- 你最想要的新工作是什么样的？\n- 如果不换，一年后会怎样？\n\n我们先从目标开始：你希望三个月后有什么不同？",
        Some(summary("claude-haiku-4-5", TurnStatus::Complete, 0.0007, 3.1)),
        0,
    );
    s
}

#[test]
fn chinese_conversation_is_aligned() {
    for (name, w, h) in [("chinese_100x30", 100, 30), ("chinese_60x16", 60, 16)] {
        let s = chinese_chat(w, h);
        let terminal = s.render();
        let buf = terminal.backend().buffer();
        // Walking each row by the width of what is drawn ends exactly at the right edge:
        // no wide character straddles a border or the edge of the screen.
        for y in 0..h {
            let mut x = 0u16;
            while x < w {
                let cell_w = unicode_width::UnicodeWidthStr::width(buf[(x, y)].symbol()).max(1);
                x += u16::try_from(cell_w).unwrap_or(1);
            }
            assert_eq!(x, w, "{name} row {y} overflows");
        }
        snapshot(name, &s);
    }
}

fn compare_script(w: u16, h: u16) -> Script {
    let mut s = Script::new(w, h);
    s.send("/compare should I take the job in Berlin?", 0);
    for lane in 0..2u8 {
        s.ev(
            Event::TurnStarted {
                turn: 10 + u64::from(lane),
                conversation_id: 42,
                user_message_id: 1,
                compare_lane: Some(lane),
            },
            10,
        );
    }
    s.ev(
        Event::Decision {
            turn: 10,
            decision: default_decision(),
        },
        20,
    );
    s.ev(
        Event::Decision {
            turn: 11,
            decision: upgraded_decision(),
        },
        20,
    );
    s.ev(
        Event::Delta {
            turn: 10,
            text: "What draws you to **Berlin**? List two reasons.".into(),
        },
        500,
    );
    s.ev(
        Event::TurnFinished {
            turn: 10,
            summary: summary("claude-haiku-4-5", TurnStatus::Complete, 0.0006, 3.2),
        },
        900,
    );
    s.ev(
        Event::Delta {
            turn: 11,
            text: "Let's separate the *move* from the *job*.\n\n1. Would you want this job in your city?\n2. Would you move to Berlin without it?".into(),
        },
        1_200,
    );
    s
}

#[test]
fn compare_two_lanes() {
    snapshot("compare_100x30", &compare_script(100, 30));
    snapshot("compare_60x16", &compare_script(60, 16));
}

#[test]
fn help_overlay() {
    for (name, w, h) in [("help_100x30", 100, 30), ("help_60x16", 60, 16)] {
        let mut s = career_chat(w, h);
        s.key(KeyCode::F(1), KeyModifiers::NONE, 5_000);
        snapshot(name, &s);
    }
}

#[test]
fn tiny_terminal_notice() {
    let s = career_chat(50, 12);
    snapshot("tiny_50x12", &s);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("need 60×16, have 50×12"));
}

#[test]
fn first_start_offline_with_budget_warning() {
    let opts = TuiOptions {
        offline_greeting: Some(
            "Hi, I'm the offline coach. Set ANTHROPIC_API_KEY or add an Ollama endpoint in config to talk to a model.".into(),
        ),
        ..options()
    };
    let mut s = Script::with_options(100, 30, opts);
    s.turn(
        1,
        "I want to plan my week",
        default_decision(),
        vec![],
        "What is the one thing that would make this week a good one?",
        Some(summary("offline-coach", TurnStatus::Complete, 0.0, 17.2)),
        0,
    );
    snapshot("offline_budget_warning_100x30", &s);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("offline coach"));
    assert!(screen.contains("⚠86%"));
}

#[test]
fn crisis_notice_is_prominent() {
    let mut s = Script::new(100, 30);
    let mut d = upgraded_decision();
    d.safety = Safety::Crisis;
    d.signals = vec![signal(
        SignalKind::Crisis,
        0.97,
        "I don't want to be alive anymore",
        SignalSource::Deterministic,
    )];
    s.turn(
        1,
        "I don't want to be alive anymore",
        d,
        vec![],
        "I'm really glad you told me. You matter.",
        None,
        0,
    );
    snapshot("crisis_100x30", &s);
    let terminal = s.render();
    let buf = terminal.backend().buffer();
    let banner = (0..30u16).find(|&y| {
        (0..100u16)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect::<String>()
            .contains("⚠ SAFETY")
    });
    let y = banner.expect("the safety banner is on screen");
    let styled = (0..100u16).any(|x| buf[(x, y)].bg == Color::Red);
    assert!(styled, "the banner stands out");
}

#[test]
fn no_color_uses_no_colours() {
    let opts = TuiOptions {
        no_color: true,
        ..options()
    };
    let mut s = Script::with_options(100, 30, opts);
    s.turn(
        1,
        "two companies want me and I can't pick",
        upgraded_decision(),
        fallback_attempts(),
        ANSWER,
        Some(summary("gpt-5", TurnStatus::Complete, 0.0222, 17.0)),
        0,
    );
    let terminal = s.render();
    let buf = terminal.backend().buffer();
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "coloured cell {cell:?}"
        );
    }
}

#[test]
fn light_theme_renders() {
    let opts = TuiOptions {
        theme: ThemeKind::Light,
        ..options()
    };
    let mut s = Script::with_options(100, 30, opts);
    s.send("hello", 0);
    let screen = s.render().backend().to_string();
    assert!(screen.contains("hello"));
}

#[test]
fn long_history_scrolled_up_shows_indicator() {
    let mut s = Script::new(100, 30);
    let history: Vec<Message> = (0..500)
        .map(|i| Message::coach("claude-haiku-4-5", format!("Answer number {i}.")))
        .collect();
    s.app.open_conversation(7, "history", history);
    s.key(KeyCode::PageUp, KeyModifiers::NONE, 0);
    s.key(KeyCode::PageUp, KeyModifiers::NONE, 0);
    snapshot("scrolled_100x30", &s);
}

/// The real event loop against a scripted worker, for looking at the TUI in a terminal:
/// `cargo test --test tui_snapshots interactive -- --ignored` inside a terminal (or tmux).
/// Ignored by default: it needs a TTY and a person (or `tmux send-keys`) to quit it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interactive: needs a terminal"]
async fn interactive_demo_with_scripted_worker() -> anyhow::Result<()> {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc::unbounded_channel;

    let (intent_tx, mut intent_rx) = unbounded_channel::<Intent>();
    let (event_tx, event_rx) = unbounded_channel::<Event>();
    let cancelled: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let worker = tokio::spawn(async move {
        let mut next_turn = 1u64;
        let mut month = 3.0;
        while let Some(intent) = intent_rx.recv().await {
            match intent {
                Intent::Send(req) | Intent::Compare(req) if req.text.is_empty() => {}
                Intent::Send(req) => {
                    let turn = next_turn;
                    next_turn += 1;
                    month += 0.02;
                    let decision = if req.text.contains("offer") || req.force_upgrade {
                        upgraded_decision()
                    } else {
                        default_decision()
                    };
                    let tx = event_tx.clone();
                    let cancelled = Arc::clone(&cancelled);
                    tokio::spawn(stream_turn(
                        tx,
                        cancelled,
                        turn,
                        None,
                        decision,
                        ANSWER.to_string(),
                        month,
                    ));
                }
                Intent::Compare(_) => {
                    for lane in 0..2u8 {
                        let turn = next_turn;
                        next_turn += 1;
                        let (d, text) = if lane == 0 {
                            (
                                default_decision(),
                                "What matters most to you here?".to_string(),
                            )
                        } else {
                            (upgraded_decision(), ANSWER.to_string())
                        };
                        tokio::spawn(stream_turn(
                            event_tx.clone(),
                            Arc::clone(&cancelled),
                            turn,
                            Some(lane),
                            d,
                            text,
                            month,
                        ));
                    }
                }
                Intent::Cancel { turn } => {
                    if let Ok(mut c) = cancelled.lock() {
                        c.insert(turn);
                    }
                }
                Intent::Preview { text, .. } => {
                    let decision = if text.contains("offer") {
                        upgraded_decision()
                    } else {
                        default_decision()
                    };
                    let _ = event_tx.send(Event::Preview { decision });
                }
                Intent::Export { format, .. } => {
                    let _ = event_tx.send(Event::Notice(format!(
                        "exported as {} (scripted worker: no file written)",
                        format.as_str()
                    )));
                }
                Intent::ListConversations
                | Intent::Search { .. }
                | Intent::OpenConversation { .. }
                | Intent::LoadHistory { .. }
                | Intent::Dashboard { .. }
                | Intent::Commit { .. }
                | Intent::ResolveCommitment { .. }
                | Intent::ListCommitments
                | Intent::Profile
                | Intent::DiffVersions { .. }
                | Intent::Consultation
                | Intent::EnableConsultation { .. }
                | Intent::ConsultationTurn { .. }
                | Intent::FinishConsultation
                | Intent::ProposeCommitment { .. }
                | Intent::AcceptProposal { .. } => {
                    let _ = event_tx.send(Event::Notice(
                        "scripted worker: no saved history in this demo".into(),
                    ));
                }
                Intent::Shutdown => break,
            }
        }
    });
    grow::tui::run(options(), intent_tx, event_rx).await?;
    worker.abort();
    Ok(())
}

async fn stream_turn(
    tx: tokio::sync::mpsc::UnboundedSender<Event>,
    cancelled: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
    turn: u64,
    lane: Option<u8>,
    decision: RouteDecision,
    answer: String,
    month: f64,
) {
    let sleep = |ms| tokio::time::sleep(Duration::from_millis(ms));
    let model = decision.model.clone();
    let _ = tx.send(Event::TurnStarted {
        turn,
        conversation_id: 42,
        user_message_id: 1,
        compare_lane: lane,
    });
    let _ = tx.send(Event::Decision { turn, decision });
    let _ = tx.send(Event::AttemptStarted {
        turn,
        model: model.clone(),
    });
    sleep(900).await;
    let _ = tx.send(Event::FirstToken {
        turn,
        after_ms: 900,
    });
    let mut status = TurnStatus::Complete;
    for word in answer.split_inclusive(' ') {
        if cancelled.lock().map(|c| c.contains(&turn)).unwrap_or(false) {
            status = TurnStatus::Partial;
            break;
        }
        let _ = tx.send(Event::Delta {
            turn,
            text: word.to_string(),
        });
        sleep(40).await;
    }
    let _ = tx.send(Event::TurnFinished {
        turn,
        summary: summary(&model, status, 0.0123, month),
    });
}

/// Panics inside full-screen mode: the terminal must come back (raw mode off, main screen,
/// mouse and paste modes off) with the panic message printed on it.
/// `cargo test --test tui_snapshots panic_restores -- --ignored` in a terminal (or tmux).
#[test]
#[ignore = "interactive: needs a terminal"]
#[should_panic(expected = "deliberate panic inside the TUI")]
fn panic_restores_the_terminal() {
    let entered = grow::tui::terminal::TerminalGuard::enter();
    assert!(entered.is_ok(), "needs a terminal");
    panic!("deliberate panic inside the TUI");
}

#[test]
fn many_tabs_keep_the_active_one_visible() {
    let mut s = Script::new(60, 16);
    for i in 0..8 {
        if i > 0 {
            s.key(KeyCode::Char('t'), KeyModifiers::CONTROL, 0);
        }
        s.send(&format!("conversation number {i}"), 0);
    }
    snapshot("many_tabs_60x16", &s);
    let screen = s.render().backend().to_string();
    let first_row = screen.lines().next().unwrap_or_default().to_string();
    assert!(first_row.contains("8:conversatio"), "{first_row}");
}

// ----- Review and Dashboard, fed from a real in-memory store with fixed data -----

mod history {
    use grow::catalog::Usage;
    use grow::coach::api::{DashboardData, Diagnostics, SNIPPET_CLOSE, SNIPPET_OPEN, SearchHit};
    use grow::coach::interactions::LatencySummary;
    use grow::store::{
        ConversationDetail, ConversationKind, ConversationSummary, ListFilter, MessageStatus,
        NewAttempt, NewConversation, NewDecision, NewMessage, NewUsage, SnippetStyle, Store,
        usage_kind,
    };

    /// 2026-11-01 00:00 UTC.
    pub const NOV_1: i64 = 1_793_491_200_000;
    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;

    pub struct Fixture {
        pub store: Store,
        pub berlin: i64,
        pub chinese: i64,
    }

    struct Turn<'a> {
        user: &'a str,
        model: &'a str,
        upgraded: bool,
        signals: &'a str,
        reasons: &'a str,
        fallback: bool,
        answer: &'a str,
        status: MessageStatus,
        cost: f64,
        upgrade_cost: f64,
    }

    fn add_turn(store: &Store, conversation_id: i64, at: i64, t: &Turn<'_>) {
        let user = store
            .insert_message(&NewMessage::user(conversation_id, t.user, at))
            .expect("user message");
        let decision = store
            .insert_decision(&NewDecision {
                conversation_id,
                user_message_id: user,
                model: t.model.into(),
                provider: "anthropic".into(),
                tier: if t.upgraded { 2 } else { 1 },
                upgraded: t.upgraded,
                safety: "none".into(),
                interaction: Some("coaching".into()),
                signals_json: t.signals.into(),
                reasons_json: t.reasons.into(),
                plan_json: "[]".into(),
                signal_origin: "deterministic".into(),
                estimated_input_tokens: 1_840,
                estimated_cost_usd: t.cost,
                created_at: at,
            })
            .expect("decision");
        let answered_by = if t.fallback { "gpt-5" } else { t.model };
        let reply = store
            .insert_message(&NewMessage::assistant(
                conversation_id,
                answered_by,
                t.answer,
                t.status,
                at + 2_000,
            ))
            .expect("reply");
        let mut attempts = Vec::new();
        if t.fallback {
            attempts.push((t.model, "anthropic", "rate_limited", Some(429), 310));
            attempts.push(("gpt-5", "openai", "ok", Some(200), 2_400));
        } else {
            attempts.push((t.model, "anthropic", "ok", Some(200), 1_900));
        }
        for (model, provider, outcome, status, ms) in attempts {
            store
                .insert_attempt(&NewAttempt {
                    decision_id: decision,
                    assistant_message_id: (outcome == "ok").then_some(reply),
                    model: model.into(),
                    provider: provider.into(),
                    outcome: outcome.into(),
                    http_status: status,
                    first_byte_ms: (outcome == "ok").then_some(640),
                    duration_ms: ms,
                    note: None,
                    created_at: at + 1_000,
                })
                .expect("attempt");
        }
        store
            .insert_usage(&NewUsage {
                conversation_id: Some(conversation_id),
                message_id: Some(reply),
                decision_id: Some(decision),
                kind: usage_kind::COACHING.into(),
                model: answered_by.into(),
                usage: Usage {
                    input_tokens: 1_800,
                    output_tokens: 240,
                    cache_creation_input_tokens: 0,
                    cache_read_input_tokens: 0,
                },
                cost_usd: t.cost,
                upgrade_equiv_cost_usd: t.upgrade_cost,
                no_cache_cost_usd: t.cost,
                estimated: false,
                created_at: at + 2_000,
            })
            .expect("usage");
    }

    fn conversation(store: &Store, profile: i64, title: &str, at: i64) -> i64 {
        store
            .create_conversation(&NewConversation {
                profile_id: profile,
                title: Some(title.into()),
                kind: ConversationKind::Chat,
                system_prompt_version_used: None,
                created_at: at,
            })
            .expect("conversation")
    }

    const DECISION_SIGNALS: &str = r#"[{"kind":"complex_decision","score":0.82,"evidence":"Berlin or Lisbon"},{"kind":"strategic_planning","score":0.64,"evidence":"next five years"}]"#;
    const DECISION_REASONS: &str =
        r#"["upgrade: complex_decision (0.82)","upgrade: strategic_planning (0.64)"]"#;

    pub fn fixture() -> Fixture {
        let store = Store::open_in_memory().expect("store");
        let profile = store.ensure_profile("me", NOV_1).expect("profile");
        let routine = |user, answer, cost| Turn {
            user,
            model: "claude-haiku-4-5",
            upgraded: false,
            signals: "[]",
            reasons: r#"["routine coaching: default model"]"#,
            fallback: false,
            answer,
            status: MessageStatus::Complete,
            cost,
            upgrade_cost: cost * 3.0,
        };

        let checkin = conversation(
            &store,
            profile,
            "Weekly check-in",
            NOV_1 + 2 * DAY + 8 * HOUR,
        );
        add_turn(
            &store,
            checkin,
            NOV_1 + 2 * DAY + 8 * HOUR,
            &routine(
                "Quick check-in: I shipped the draft.",
                "Well done. What will you do with the feedback?\n\n```text\nnext: ask Ana for review\n```",
                0.0031,
            ),
        );

        let chinese = conversation(&store, profile, "如何表达自己", NOV_1 + 5 * DAY + 20 * HOUR);
        add_turn(
            &store,
            chinese,
            NOV_1 + 5 * DAY + 20 * HOUR,
            &routine(
                "我不知道怎么表达自己的想法，开会时总是不敢说话。",
                "我听到了。开会时不敢说话，常常是因为担心别人的看法。\n\n- 你最想表达的是什么？\n- 什么时候你觉得说话最自在？",
                0.0042,
            ),
        );

        let berlin = conversation(
            &store,
            profile,
            "Job offer: Berlin or Lisbon",
            NOV_1 + 9 * DAY + 9 * HOUR,
        );
        add_turn(
            &store,
            berlin,
            NOV_1 + 9 * DAY + 9 * HOUR,
            &Turn {
                user: "I have two offers, Berlin or Lisbon, and I need to think about the next five years.",
                model: "claude-sonnet-4-5",
                upgraded: true,
                signals: DECISION_SIGNALS,
                reasons: DECISION_REASONS,
                fallback: true,
                answer: "## Two paths\n\nLet's weigh them:\n\n1. **Berlin**: higher salary, known team\n2. **Lisbon**: new domain, closer to family\n\nWhat matters most to you in five years?",
                status: MessageStatus::Complete,
                cost: 0.0222,
                upgrade_cost: 0.0222,
            },
        );
        add_turn(
            &store,
            berlin,
            NOV_1 + 9 * DAY + 10 * HOUR,
            &Turn {
                answer: "Family matters a lot to you. If you picture",
                status: MessageStatus::Partial,
                ..routine("Family, probably. But the money…", "", 0.0019)
            },
        );
        Fixture {
            store,
            berlin,
            chinese,
        }
    }

    pub fn list(f: &Fixture) -> Vec<ConversationSummary> {
        f.store
            .list_conversations(&ListFilter::default())
            .expect("list")
    }

    pub fn search(f: &Fixture, query: &str) -> Vec<SearchHit> {
        let style = SnippetStyle {
            open: SNIPPET_OPEN.to_string(),
            close: SNIPPET_CLOSE.to_string(),
            max_chars: 120,
            ..SnippetStyle::default()
        };
        f.store.search_with(query, 100, &style).expect("search")
    }

    pub fn detail(f: &Fixture, id: i64) -> ConversationDetail {
        f.store.conversation_detail(id).expect("detail")
    }

    pub fn dashboard(f: &Fixture) -> DashboardData {
        let end = NOV_1 + 30 * DAY;
        let mut diagnostics = Diagnostics::default();
        diagnostics.resolve.resolutions = 42;
        diagnostics.resolve.lookup_latency = LatencySummary {
            count: 42,
            mean_ns: 900,
            p50_ns_at_most: 1_024,
            p99_ns_at_most: 4_096,
            max_ns: 3_900,
        };
        diagnostics.resolve.fallbacks.to_default = 3;
        diagnostics.templates.renders = 40;
        diagnostics.templates.cache_hits = 38;
        diagnostics.templates.compiles = 2;
        diagnostics.templates.hit_rate = 0.95;
        DashboardData {
            month: "2026-11".into(),
            months_back: 0,
            days_in_month: 30,
            stats: f.store.stats_in_zone(NOV_1, end, 0).expect("stats"),
            escalations: f.store.escalation_stats(NOV_1, end).expect("escalations"),
            diagnostics,
        }
    }
}

fn review_options() -> TuiOptions {
    TuiOptions {
        utc_offset_minutes: 0,
        ..options()
    }
}

fn plain(s: &mut Script, code: KeyCode) {
    s.key(code, KeyModifiers::NONE, 100);
}

fn review_list(w: u16, h: u16, f: &history::Fixture) -> Script {
    let mut s = Script::with_options(w, h, review_options());
    plain(&mut s, KeyCode::F(5));
    assert_eq!(s.app.take_intents(), vec![Intent::ListConversations]);
    s.ev(Event::Conversations(history::list(f)), 100);
    s
}

#[test]
fn review_conversation_list() {
    let f = history::fixture();
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = review_list(w, h, &f);
        plain(&mut s, KeyCode::Down);
        snapshot(&format!("review_list_{w}x{h}"), &s);
    }
}

#[test]
fn review_search_with_a_chinese_hit() {
    let f = history::fixture();
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = review_list(w, h, &f);
        plain(&mut s, KeyCode::Char('/'));
        s.type_text("表达", 100);
        plain(&mut s, KeyCode::Enter);
        assert_eq!(
            s.app.take_intents(),
            vec![Intent::Search {
                query: "表达".into(),
                limit: grow::tui::review::SEARCH_LIMIT
            }]
        );
        let hits = history::search(&f, "表达");
        assert!(
            hits.iter().any(|h| h.conversation_id == f.chinese),
            "the Chinese conversation is found"
        );
        s.ev(
            Event::SearchResults {
                query: "表达".into(),
                hits,
            },
            100,
        );
        snapshot(&format!("review_search_zh_{w}x{h}"), &s);
    }
}

#[test]
fn review_read_only_conversation_with_decisions() {
    let f = history::fixture();
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = review_list(w, h, &f);
        // The Berlin conversation is the newest: first in the list.
        plain(&mut s, KeyCode::Enter);
        assert_eq!(
            s.app.take_intents(),
            vec![Intent::OpenConversation { id: f.berlin }]
        );
        s.ev(
            Event::Conversation(Box::new(history::detail(&f, f.berlin))),
            100,
        );
        snapshot(&format!("review_detail_{w}x{h}"), &s);
    }
}

#[test]
fn review_copy_writes_the_selected_message() {
    let f = history::fixture();
    let mut s = review_list(100, 30, &f);
    plain(&mut s, KeyCode::Enter);
    s.app.take_intents();
    s.ev(
        Event::Conversation(Box::new(history::detail(&f, f.berlin))),
        100,
    );
    // Select the first answer (the second message) and copy it, then its code-free check.
    plain(&mut s, KeyCode::Char('n'));
    plain(&mut s, KeyCode::Char('y'));
    let copied = s.app.take_clipboard();
    assert_eq!(copied.len(), 1);
    assert!(copied[0].starts_with("## Two paths"), "{copied:?}");
    plain(&mut s, KeyCode::Char('b'));
    assert!(
        s.app.take_clipboard().is_empty(),
        "no code block in that answer"
    );
    // `c` continues the conversation in a chat tab, loading its newest messages.
    plain(&mut s, KeyCode::Char('c'));
    assert_eq!(s.app.screen(), grow::tui::app::Screen::Chat);
    assert_eq!(
        s.app.take_intents(),
        vec![Intent::LoadHistory {
            conversation_id: f.berlin,
            loaded: 0,
            page: grow::tui::app::HISTORY_PAGE
        }]
    );
}

#[test]
fn dashboard_charts() {
    let f = history::fixture();
    for (w, h) in [(100, 30), (60, 16)] {
        let mut s = Script::with_options(w, h, review_options());
        plain(&mut s, KeyCode::F(4));
        assert_eq!(
            s.app.take_intents(),
            vec![Intent::Dashboard { months_back: 0 }]
        );
        s.ev(Event::Dashboard(Box::new(history::dashboard(&f))), 100);
        snapshot(&format!("dashboard_{w}x{h}"), &s);
    }
}

//! Store behaviour on fixture databases built here with fixed timestamps.

use std::path::Path;

use grow::catalog::Usage;
use grow::store::{
    CommitmentStatus, ConversationKind, ListFilter, MessageStatus, NewAttempt, NewCommitment,
    NewConversation, NewDecision, NewMessage, NewProfile, NewPromptVersion, NewSnapshot, NewUsage,
    Role, SCHEMA_VERSION, SnippetStyle, Stats, Store, StoreError, usage_kind,
};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const OCT_30: i64 = 1_793_318_400_000;
const NOV_1: i64 = 1_793_491_200_000;
const NOV_2: i64 = 1_793_577_600_000;
const NOV_3: i64 = 1_793_664_000_000;
const DEC_1: i64 = 1_796_083_200_000;

const HAIKU: &str = "claude-haiku-4-5";
const SONNET: &str = "claude-sonnet-4-5";
const OPUS: &str = "claude-opus-4-5";
const OFFLINE: &str = "offline-coach";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
    }};
}

fn profile(store: &Store, name: &str) -> i64 {
    store
        .create_profile(&NewProfile {
            name: name.into(),
            tier: None,
            settings_json: None,
            created_at: OCT_30 - HOUR,
        })
        .unwrap()
}

fn conversation(store: &Store, profile_id: i64, title: &str, at: i64) -> i64 {
    store
        .create_conversation(&NewConversation {
            profile_id,
            title: Some(title.into()),
            kind: ConversationKind::Chat,
            system_prompt_version_used: None,
            created_at: at,
        })
        .unwrap()
}

struct TurnSpec<'a> {
    conversation_id: i64,
    at: i64,
    text: &'a str,
    chosen: (&'a str, &'a str),
    upgraded: bool,
    signals: &'a [&'a str],
    safety: &'a str,
    interaction: Option<&'a str>,
    origin: &'a str,
    /// (model, provider, outcome, http status)
    attempts: &'a [(&'a str, &'a str, &'a str, Option<u16>)],
    answer: &'a str,
    status: MessageStatus,
    /// (cost, upgrade equivalent, no-cache cost)
    cost: (f64, f64, f64),
    analyzer_cost: Option<f64>,
}

/// Writes one turn the way the coach does: user message first, then decision, attempts,
/// answer and usage. Returns (user message id, decision id, assistant message id).
fn turn(store: &Store, t: &TurnSpec<'_>) -> (i64, i64, i64) {
    let user = store
        .insert_message(&NewMessage::user(t.conversation_id, t.text, t.at))
        .unwrap();
    let signals: Vec<serde_json::Value> = t
        .signals
        .iter()
        .map(|k| serde_json::json!({"kind": k, "score": 0.8, "evidence": "fixture"}))
        .collect();
    let decision = store
        .insert_decision(&NewDecision {
            conversation_id: t.conversation_id,
            user_message_id: user,
            model: t.chosen.0.into(),
            provider: t.chosen.1.into(),
            tier: if t.upgraded { 1 } else { 3 },
            upgraded: t.upgraded,
            safety: t.safety.into(),
            interaction: t.interaction.map(str::to_owned),
            signals_json: serde_json::to_string(&signals).unwrap(),
            reasons_json: r#"["fixture reason"]"#.into(),
            plan_json: format!(r#"[{{"model":"{}","role":"primary"}}]"#, t.chosen.0),
            signal_origin: t.origin.into(),
            estimated_input_tokens: 1200,
            estimated_cost_usd: 0.002,
            created_at: t.at + 1,
        })
        .unwrap();
    let answered_by = t
        .attempts
        .iter()
        .find(|a| a.2 == "ok")
        .map_or(t.chosen.0, |a| a.0);
    let answer = store
        .insert_message(&NewMessage::assistant(
            t.conversation_id,
            answered_by,
            t.answer,
            t.status,
            t.at + 2_000,
        ))
        .unwrap();
    for (i, (model, provider, outcome, status)) in t.attempts.iter().enumerate() {
        store
            .insert_attempt(&NewAttempt {
                decision_id: decision,
                assistant_message_id: (*outcome == "ok").then_some(answer),
                model: (*model).into(),
                provider: (*provider).into(),
                outcome: (*outcome).into(),
                http_status: *status,
                first_byte_ms: (*outcome == "ok").then_some(350),
                duration_ms: 900,
                note: None,
                created_at: t.at + 10 + i as i64,
            })
            .unwrap();
    }
    if let Some(cost) = t.analyzer_cost {
        store
            .insert_usage(&NewUsage {
                conversation_id: Some(t.conversation_id),
                message_id: Some(user),
                decision_id: Some(decision),
                kind: usage_kind::ANALYZER.into(),
                model: HAIKU.into(),
                usage: Usage {
                    input_tokens: 300,
                    output_tokens: 40,
                    ..Usage::default()
                },
                cost_usd: cost,
                upgrade_equiv_cost_usd: 0.0,
                no_cache_cost_usd: cost,
                estimated: false,
                created_at: t.at + 5,
            })
            .unwrap();
    }
    store
        .insert_usage(&NewUsage {
            conversation_id: Some(t.conversation_id),
            message_id: Some(answer),
            decision_id: Some(decision),
            kind: usage_kind::COACHING.into(),
            model: answered_by.into(),
            usage: Usage {
                input_tokens: 1000,
                output_tokens: 200,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 800,
            },
            cost_usd: t.cost.0,
            upgrade_equiv_cost_usd: t.cost.1,
            no_cache_cost_usd: t.cost.2,
            estimated: false,
            created_at: t.at + 2_500,
        })
        .unwrap();
    (user, decision, answer)
}

struct Ids {
    job: i64,
    burnout: i64,
    chinese: i64,
    partial_answer: i64,
}

/// Two profiles, three conversations in November and one in October (outside the range).
fn fixture() -> (Store, Ids) {
    let store = Store::open_in_memory().unwrap();
    let ids = fill(&store);
    (store, ids)
}

fn fill(store: &Store) -> Ids {
    let ana = profile(store, "ana");
    let bo = profile(store, "bo");

    let old = conversation(store, ana, "October", OCT_30);
    turn(
        store,
        &TurnSpec {
            conversation_id: old,
            at: OCT_30 + HOUR,
            text: "an old conversation about long-term plans",
            chosen: (OPUS, "anthropic"),
            upgraded: true,
            signals: &["long_context"],
            safety: "none",
            interaction: None,
            origin: "deterministic",
            attempts: &[(OPUS, "anthropic", "ok", Some(200))],
            answer: "Let's look at the long view.",
            status: MessageStatus::Complete,
            cost: (1.0, 1.0, 1.5),
            analyzer_cost: None,
        },
    );

    let job = conversation(store, ana, "Job offer", NOV_2);
    turn(
        store,
        &TurnSpec {
            conversation_id: job,
            at: NOV_2 + HOUR,
            text: "I have two job offers and I can't decide between them.",
            chosen: (HAIKU, "anthropic"),
            upgraded: false,
            signals: &[],
            safety: "none",
            interaction: None,
            origin: "deterministic",
            attempts: &[(HAIKU, "anthropic", "ok", Some(200))],
            answer: "What matters most to you in a job?",
            status: MessageStatus::Complete,
            cost: (0.001, 0.005, 0.0012),
            analyzer_cost: None,
        },
    );
    turn(
        store,
        &TurnSpec {
            conversation_id: job,
            at: NOV_2 + 2 * HOUR,
            text: "Should I move to Berlin for the offer or stay near my family?",
            chosen: (OPUS, "anthropic"),
            upgraded: true,
            signals: &["complex_decision", "strategic_planning"],
            safety: "none",
            interaction: Some("decision"),
            origin: "analyzer",
            attempts: &[
                (OPUS, "anthropic", "overloaded", Some(529)),
                (SONNET, "anthropic", "ok", Some(200)),
            ],
            answer: "Let's weigh both options: what would each choice give you?",
            status: MessageStatus::Complete,
            cost: (0.004, 0.006, 0.005),
            analyzer_cost: Some(0.0002),
        },
    );

    let burnout = conversation(store, bo, "Burnout", NOV_3);
    let (_, _, partial_answer) = turn(
        store,
        &TurnSpec {
            conversation_id: burnout,
            at: NOV_3 + HOUR,
            text: "I feel burned out. Why do I always do this to myself?",
            chosen: (OPUS, "anthropic"),
            upgraded: true,
            signals: &["deep_reflection", "distress"],
            safety: "distress",
            interaction: None,
            origin: "deterministic",
            attempts: &[
                (OPUS, "anthropic", "rate_limited", Some(429)),
                (OPUS, "anthropic", "timeout", None),
                (OFFLINE, "offline", "ok", None),
            ],
            answer: "That sounds exhausting. When did you first notice",
            status: MessageStatus::Partial,
            cost: (0.0, 0.003, 0.0),
            analyzer_cost: None,
        },
    );

    // Messages without decisions, for search (written like a chat the coach saved).
    let chinese = conversation(store, bo, "表达", NOV_3 + 2 * HOUR);
    for (i, text) in [
        "我不知道怎么表达自己",
        "我想换工作，但是很害怕",
        "goal goal goal",
        "Today I want to set a goal for the quarter and write down the first small step \
         that would move me toward it, even if the step is tiny and the plan is vague.",
    ]
    .iter()
    .enumerate()
    {
        store
            .insert_message(&NewMessage::user(
                chinese,
                *text,
                NOV_3 + 2 * HOUR + i as i64,
            ))
            .unwrap();
    }

    Ids {
        job,
        burnout,
        chinese,
        partial_answer,
    }
}

// ---------------------------------------------------------------- stats

#[test]
fn stats_match_hand_computed_numbers() {
    let (store, ids) = fixture();
    let s = store.stats(NOV_1, DEC_1).unwrap();

    assert_eq!(s.requests, 3);
    assert_eq!(s.upgrades, 2);
    assert_close!(s.upgrade_rate, 2.0 / 3.0);
    let models: Vec<(&str, u64)> = s
        .requests_by_model
        .iter()
        .map(|m| (m.model.as_str(), m.requests))
        .collect();
    assert_eq!(models, [(OPUS, 2), (HAIKU, 1)]);
    assert_close!(s.requests_by_model[0].share, 2.0 / 3.0);

    let triggers: Vec<(&str, u64)> = s
        .top_triggers
        .iter()
        .map(|t| (t.signal.as_str(), t.count))
        .collect();
    assert_eq!(
        triggers,
        [
            ("complex_decision", 1),
            ("deep_reflection", 1),
            ("distress", 1),
            ("strategic_planning", 1)
        ]
    );
    assert_close!(s.top_triggers[0].share_of_upgrades, 0.5);
    assert_close!(s.top_triggers[0].share_of_triggers, 0.25);

    // Usage in November: 0.001 + 0.004 + 0.0002 (analyzer) + 0.0 (offline).
    assert_eq!(s.costs.calls, 4);
    assert_close!(s.costs.cost_usd, 0.0052);
    assert_close!(s.costs.upgrade_equiv_cost_usd, 0.014);
    assert_close!(s.costs.no_cache_cost_usd, 0.0064);
    assert_close!(s.savings_vs_all_upgrade_usd, 0.0088);
    assert_close!(s.savings_vs_all_upgrade_share, 0.0088 / 0.014);
    assert_close!(s.cache_savings_usd, 0.0012);
    assert_eq!(s.costs.usage.cache_read_input_tokens, 3 * 800);

    let days: Vec<(&str, u64)> = s
        .cost_per_day
        .iter()
        .map(|d| (d.day.as_str(), d.calls))
        .collect();
    assert_eq!(days, [("2026-11-02", 3), ("2026-11-03", 1)]);
    assert_close!(s.cost_per_day[0].cost_usd, 0.0052);
    assert_close!(s.cost_per_day[1].cost_usd, 0.0);

    assert_eq!(s.cost_per_conversation.len(), 2);
    assert_eq!(s.cost_per_conversation[0].conversation_id, ids.job);
    assert_close!(s.cost_per_conversation[0].cost_usd, 0.0052);
    assert_eq!(s.cost_per_conversation[1].conversation_id, ids.burnout);
    assert_close!(s.avg_cost_per_conversation, 0.0026);

    // 3 routed turns + 4 chat messages in the 表达 conversation = 7 user messages.
    assert_eq!(s.turns, 7);
    assert_eq!(s.conversations, 3);
    assert_eq!(s.active_profiles, 2);
    assert_close!(s.cost_per_active_profile, 0.0026);
    assert_close!(s.avg_turns_per_conversation, 7.0 / 3.0);
    assert_close!(s.avg_conversations_per_profile, 1.5);
    assert_close!(s.avg_cost_per_turn, 0.0052 / 7.0);
    assert_close!(s.avg_upgrade_cost_per_turn, 0.014 / 7.0);

    assert_eq!(s.attempts, 6);
    assert_eq!(s.fallbacks, 2);
    assert_eq!(s.offline_answers, 1);
    assert_eq!(s.failed_requests, 0);
    let errors: Vec<(&str, u64)> = s
        .errors_by_class
        .iter()
        .map(|e| (e.class.as_str(), e.count))
        .collect();
    assert_eq!(
        errors,
        [("overloaded", 1), ("rate_limited", 1), ("timeout", 1)]
    );

    assert_eq!(s.analyzer.calls, 1);
    assert_close!(s.analyzer.cost_usd, 0.0002);
    assert_eq!(s.analyzer.usage.input_tokens, 300);
    let origins: Vec<(&str, u64)> = s
        .signal_origins
        .iter()
        .map(|e| (e.class.as_str(), e.count))
        .collect();
    assert_eq!(origins, [("deterministic", 2), ("analyzer", 1)]);

    let (u, se, t) = Stats::DEFAULT_PROJECTION;
    let p = s.projection(u, se, t);
    assert_eq!(p.turns, 120_000);
    assert_close!(p.monthly_cost_usd, 120_000.0 * 0.0052 / 7.0);
    assert_close!(p.cost_per_user_usd, 120.0 * 0.0052 / 7.0);
    assert_close!(p.all_upgrade_cost_usd, 120_000.0 * 0.014 / 7.0);
}

#[test]
fn stats_respect_the_range_and_the_time_zone() {
    let (store, _) = fixture();
    let october = store.stats(OCT_30, NOV_1).unwrap();
    assert_eq!(october.requests, 1);
    assert_close!(october.costs.cost_usd, 1.0);
    assert_eq!(october.top_triggers[0].signal, "long_context");

    let empty = store.stats(DEC_1, DEC_1 + 30 * 24 * HOUR).unwrap();
    assert_eq!(empty.requests, 0);
    assert_close!(empty.upgrade_rate, 0.0);
    assert_close!(empty.avg_cost_per_turn, 0.0);

    // The Nov 2 turns happen at 01:00 and 02:00 UTC: still Nov 1 at UTC−3.
    let west = store.stats_in_zone(NOV_1, DEC_1, -180).unwrap();
    assert_eq!(west.cost_per_day[0].day, "2026-11-01");
}

#[test]
fn costs_between_and_per_conversation() {
    let (store, ids) = fixture();
    let nov = store.costs_between(NOV_1, DEC_1).unwrap();
    assert_close!(nov.cost_usd, 0.0052);
    assert_close!(nov.savings_vs_upgrade_usd(), 0.0088);
    assert_close!(nov.cache_savings_usd(), 0.0012);
    let all = store.costs_between(0, i64::MAX).unwrap();
    assert_close!(all.cost_usd, 1.0052);
    let job = store.conversation_costs(ids.job).unwrap();
    assert_eq!(job.calls, 3);
    assert_close!(job.cost_usd, 0.0052);
}

#[test]
fn escalation_stats_find_signals_interactions_and_pairs() {
    let (store, _) = fixture();
    let e = store.escalation_stats(NOV_1, DEC_1).unwrap();
    assert_eq!((e.decisions, e.upgraded), (3, 2));
    assert_eq!(e.signals.len(), 4);
    assert!(e.signals.iter().all(|s| s.fired == 1 && s.escalated == 1));
    let pairs: Vec<(&str, &str, u64)> = e
        .pairs
        .iter()
        .map(|p| (p.a.as_str(), p.b.as_str(), p.count))
        .collect();
    assert_eq!(
        pairs,
        [
            ("complex_decision", "strategic_planning", 1),
            ("deep_reflection", "distress", 1)
        ]
    );
    let interactions: Vec<(&str, u64, u64)> = e
        .interactions
        .iter()
        .map(|i| (i.interaction.as_str(), i.decisions, i.upgraded))
        .collect();
    assert_eq!(interactions, [("(none)", 2, 1), ("decision", 1, 1)]);
    let safety: Vec<(&str, u64)> = e
        .safety
        .iter()
        .map(|s| (s.class.as_str(), s.count))
        .collect();
    assert_eq!(safety, [("none", 2), ("distress", 1)]);
}

// ---------------------------------------------------------------- review

#[test]
fn list_conversations_newest_first_with_filters() {
    let (store, ids) = fixture();
    let all = store.list_conversations(&ListFilter::default()).unwrap();
    let order: Vec<i64> = all.iter().map(|c| c.conversation.id).collect();
    assert_eq!(order[..3], [ids.chinese, ids.burnout, ids.job]);
    assert_eq!(all.len(), 4);

    let job = &all[2];
    assert_eq!(job.conversation.title.as_deref(), Some("Job offer"));
    assert_eq!(job.turns, 2);
    assert_eq!(job.upgrades, 1);
    assert_close!(job.cost_usd, 0.0052);
    let mix: Vec<(&str, u64)> = job
        .model_mix
        .iter()
        .map(|m| (m.model.as_str(), m.count))
        .collect();
    assert_eq!(mix, [(HAIKU, 1), (SONNET, 1)]);

    let since = store
        .list_conversations(&ListFilter {
            since_ms: Some(NOV_1),
            limit: Some(2),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(since.len(), 2);
    let sonnet = store
        .list_conversations(&ListFilter {
            model: Some(SONNET.into()),
            ..ListFilter::default()
        })
        .unwrap();
    assert_eq!(sonnet.len(), 1);
    assert_eq!(sonnet[0].conversation.id, ids.job);
}

#[test]
fn conversation_detail_has_every_turn_with_decision_attempts_and_cost() {
    let (store, ids) = fixture();
    let d = store.conversation_detail(ids.job).unwrap();
    assert_eq!(d.turns.len(), 2);
    let second = &d.turns[1];
    assert_eq!(second.index, 2);
    assert!(second.user.as_ref().unwrap().content.contains("Berlin"));
    assert_eq!(second.replies.len(), 1);
    assert_eq!(second.replies[0].model.as_deref(), Some(SONNET));
    assert_eq!(second.decisions.len(), 1);
    let decision = &second.decisions[0];
    assert!(decision.decision.upgraded);
    assert_eq!(
        decision.decision.signal_kinds(),
        ["complex_decision", "strategic_planning"]
    );
    let outcomes: Vec<&str> = decision
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["overloaded", "ok"]);
    assert_eq!(decision.attempts[0].http_status, Some(529));
    assert_eq!(second.usage.len(), 2);
    assert_close!(second.cost_usd, 0.0042);
    assert_close!(d.totals.cost_usd, 0.0052);
    assert!(d.other_usage.is_empty());

    assert!(matches!(
        store.conversation_detail(9_999),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn history_and_size_for_prompt_building() {
    let (store, ids) = fixture();
    let h = store.history(ids.job).unwrap();
    let roles: Vec<Role> = h.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    let size = store.conversation_size(ids.job).unwrap();
    assert_eq!(size.turns, 2);
    assert_eq!(size.messages, 4);
    let chars: u64 = h.iter().map(|m| m.content.chars().count() as u64).sum();
    assert_eq!(size.content_chars, chars);
    let recent = store.recent_messages(ids.job, 2).unwrap();
    assert_eq!(recent, h[2..]);
}

// ---------------------------------------------------------------- search

fn snippets(store: &Store, q: &str) -> Vec<String> {
    store
        .search(q, 20)
        .unwrap()
        .into_iter()
        .map(|h| h.snippet)
        .collect()
}

#[test]
fn search_finds_english_words_with_highlights() {
    let (store, ids) = fixture();
    let hits = store.search("offers", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].conversation_id, ids.job);
    assert_eq!(hits[0].conversation_title.as_deref(), Some("Job offer"));
    assert!(hits[0].snippet.contains("[offers]"), "{}", hits[0].snippet);
    // Words match as prefixes too: "offer" finds "offer" and "offers".
    assert_eq!(store.search("offer", 10).unwrap().len(), 2);
    // Case-insensitive, every word must match.
    assert_eq!(store.search("BERLIN family", 10).unwrap().len(), 1);
    assert!(store.search("berlin parking", 10).unwrap().is_empty());
}

#[test]
fn search_finds_chinese_words_inside_running_text() {
    let (store, _) = fixture();
    assert_eq!(snippets(&store, "表达"), ["我不知道怎么[表达]自己"]);
    // A single character.
    let me = snippets(&store, "我");
    assert_eq!(me.len(), 2);
    assert!(me.iter().all(|s| s.contains("[我]")), "{me:?}");
    // A four-character phrase, only where the characters stand together.
    assert_eq!(
        snippets(&store, "怎么表达"),
        ["我不知道怎么[表达]自己".replace("怎么[表达]", "[怎么表达]")]
    );
    assert!(snippets(&store, "表达怎么").is_empty());
    assert_eq!(snippets(&store, "换工作"), ["我想[换工作]，但是很害怕"]);
    // Mixed scripts in one query.
    assert!(snippets(&store, "工作 offer").is_empty());
}

#[test]
fn search_ranks_by_bm25_and_uses_face_markers() {
    let (store, _) = fixture();
    let hits = store.search("goal", 10).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].snippet, "[goal] [goal] [goal]");
    assert!(hits[0].score < hits[1].score);
    let style = SnippetStyle {
        open: "\u{E000}".into(),
        close: "\u{E001}".into(),
        ellipsis: "...".into(),
        max_chars: 40,
    };
    let hits = store.search_with("step", 10, &style).unwrap();
    assert_eq!(hits.len(), 1);
    let s = &hits[0].snippet;
    assert!(s.contains("\u{E000}step\u{E001}"), "{s}");
    assert!(s.starts_with("...") && s.ends_with("..."), "{s}");
}

#[test]
fn search_never_errors_on_typed_syntax() {
    let (store, _) = fixture();
    for q in [
        "\"",
        "\"unbalanced",
        "AND",
        "OR NOT",
        "(",
        "*",
        "goal*",
        "NEAR(goal, 2)",
        "col:goal",
        "^goal",
        "'",
        "-goal",
        "goal\"; DROP TABLE messages; --",
        "",
        "   ",
        "表达\"",
        "{words}",
    ] {
        let result = store.search(q, 10);
        assert!(result.is_ok(), "query {q:?}: {result:?}");
    }
    assert_eq!(store.search("\"goal\"", 10).unwrap().len(), 2);
}

#[test]
fn search_follows_message_updates() {
    let (store, ids) = fixture();
    store
        .update_message(
            ids.partial_answer,
            "That sounds exhausting. Let's find one restful evening.",
            MessageStatus::Complete,
        )
        .unwrap();
    assert_eq!(store.search("restful", 10).unwrap().len(), 1);
    assert!(store.search("notice", 10).unwrap().is_empty());
}

// ---------------------------------------------------------------- export

#[test]
fn json_export_round_trips_everything() {
    let (store, ids) = fixture();
    let pid = store.ensure_profile("ana", 0).unwrap();
    store
        .insert_prompt_version(&NewPromptVersion {
            profile_id: pid,
            prompt: "You are Ana's coach.".into(),
            profile_text: "Ana values family.".into(),
            reason: "consultation".into(),
            metrics_json: r#"{"turns": 3}"#.into(),
            model: Some(OPUS.into()),
            cost_usd: 0.0123456789,
            created_at: NOV_2,
        })
        .unwrap();
    store
        .insert_snapshot(&NewSnapshot {
            profile_id: pid,
            metrics_json: r#"{"follow_through": 0.5}"#.into(),
            created_at: NOV_3,
        })
        .unwrap();
    store
        .insert_commitment(&NewCommitment {
            profile_id: pid,
            conversation_id: Some(ids.job),
            text: "Ask Berlin about remote days".into(),
            due_date: Some("2026-11-10".into()),
            created_at: NOV_2,
        })
        .unwrap();
    store
        .insert_checkin(&grow::store::Checkin {
            profile_id: pid,
            day: "2026-11-02".into(),
        })
        .unwrap();

    let json = store.export_json(None).unwrap();
    let copy = Store::open_in_memory().unwrap();
    assert_eq!(copy.import_json(&json).unwrap(), 12);
    assert_eq!(copy.export(None).unwrap(), store.export(None).unwrap());
    assert_eq!(copy.export_json(None).unwrap(), json);
    // The index is rebuilt: search works in the copy.
    assert_eq!(snippets(&copy, "表达"), ["我不知道怎么[表达]自己"]);
    assert_eq!(
        copy.stats(NOV_1, DEC_1).unwrap(),
        store.stats(NOV_1, DEC_1).unwrap()
    );

    // Importing twice is refused rather than merged.
    assert!(matches!(
        copy.import_json(&json),
        Err(StoreError::NotEmpty(_))
    ));
    assert!(matches!(
        Store::open_in_memory()
            .unwrap()
            .import_json("{\"format\": 1}"),
        Err(StoreError::BadExport(_))
    ));
}

#[test]
fn one_conversation_exports_with_its_profile() {
    let (store, ids) = fixture();
    let json = store.export_json(Some(ids.job)).unwrap();
    let copy = Store::open_in_memory().unwrap();
    assert_eq!(copy.import_json(&json).unwrap(), 4);
    assert_eq!(
        copy.export(Some(ids.job)).unwrap(),
        store.export(Some(ids.job)).unwrap()
    );
    assert_eq!(
        copy.conversation_detail(ids.job).unwrap(),
        store.conversation_detail(ids.job).unwrap()
    );
}

#[test]
fn markdown_export_reads_well() {
    let (store, ids) = fixture();
    let md = store.export_markdown(Some(ids.job)).unwrap();
    assert!(md.starts_with("# Job offer\n"), "{md}");
    assert!(md.contains("## Turn 1 · 2026-11-02 01:00 UTC"), "{md}");
    assert!(md.contains("## Turn 2 · 2026-11-02 02:00 UTC"), "{md}");
    assert!(md.contains("> Should I move to Berlin"), "{md}");
    assert!(
        md.contains(
            "<sub>model claude-haiku-4-5 · 1000 in / 200 out tokens / 800 cached · $0.0010</sub>"
        ),
        "{md}"
    );
    assert!(md.contains("model claude-sonnet-4-5 · upgraded: complex_decision, strategic_planning · fallback from claude-opus-4-5"), "{md}");
    assert!(md.contains("2 turns · $0.0052"), "{md}");

    let partial = store.export_markdown(Some(ids.burnout)).unwrap();
    assert!(
        partial.contains("*(partial: the answer was cut off here)*"),
        "{partial}"
    );

    let all = store.export_markdown(None).unwrap();
    assert_eq!(all.matches("\n---\n").count(), 3);
}

// ---------------------------------------------------------------- files

#[test]
fn corrupt_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();

    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("grow db backup") && msg.contains("move it aside"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    assert!(!dir.path().join("grow.db-wal").exists());
}

#[test]
fn damaged_sqlite_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    {
        let store = Store::open(&path).unwrap();
        fill(&store);
    }
    let mut bytes = std::fs::read(&path).unwrap();
    // Keep the header, wreck the schema page.
    for b in &mut bytes[100..4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn open_creates_directories_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/grow.db");
    let ids = {
        let store = Store::open(&path).unwrap();
        fill(&store)
    };
    let again = Store::open(&path).unwrap();
    assert_eq!(again.conversation_size(ids.job).unwrap().turns, 2);
    assert!(again.integrity_check().unwrap().is_empty());
    drop(again);
    let third = Store::open(&path).unwrap();
    assert_eq!(
        third
            .list_conversations(&ListFilter::default())
            .unwrap()
            .len(),
        4
    );
    assert_eq!(third.path(), Some(path.as_path()));
    drop(third);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite_user_version(&path, 999);
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err:?}"
    );
}

/// Sets `user_version` with a raw connection, as a newer grow would have.
fn rusqlite_user_version(path: &Path, v: i64) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", v).unwrap();
    conn
}

#[test]
fn partial_status_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    let (conversation, answer) = {
        let store = Store::open(&path).unwrap();
        let p = profile(&store, "ana");
        let c = conversation(&store, p, "cut", NOV_2);
        store
            .insert_message(&NewMessage::user(c, "hello", NOV_2))
            .unwrap();
        let a = store
            .insert_message(&NewMessage::assistant(
                c,
                HAIKU,
                "",
                MessageStatus::Partial,
                NOV_2 + 1,
            ))
            .unwrap();
        store
            .update_message(a, "Hello! What would", MessageStatus::Partial)
            .unwrap();
        (c, a)
        // dropped here, as if the process died after the last partial save
    };
    let store = Store::open(&path).unwrap();
    let m = store.message(answer).unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Partial);
    assert_eq!(m.content, "Hello! What would");
    assert_eq!(store.history(conversation).unwrap().len(), 2);
}

#[test]
fn two_connections_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.db");
    let (p, c) = {
        let store = Store::open(&path).unwrap();
        let p = profile(&store, "ana");
        (p, conversation(&store, p, "busy", NOV_2))
    };
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                for i in 0..150 {
                    store
                        .insert_message(&NewMessage::user(
                            c,
                            format!("writer {w} message {i}"),
                            NOV_2 + i,
                        ))
                        .unwrap();
                    if i % 10 == 0 {
                        store.stats(NOV_1, DEC_1).unwrap();
                        store
                            .insert_checkin(&grow::store::Checkin {
                                profile_id: p,
                                day: format!("2026-11-{:02}", 1 + (i / 10) % 28),
                            })
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.conversation_size(c).unwrap().messages, 300);
    assert_eq!(store.search("writer", 1000).unwrap().len(), 300);
    assert!(store.integrity_check().unwrap().is_empty());
}

#[test]
fn backup_writes_a_consistent_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = fixture();
    let dest = dir.path().join("backups/grow-2026-11.db");
    store.backup(&dest).unwrap();
    let copy = Store::open(&dest).unwrap();
    assert_eq!(copy.export(None).unwrap(), store.export(None).unwrap());
    assert_eq!(snippets(&copy, "表达").len(), 1);
    assert_eq!(copy.conversation_size(ids.job).unwrap().turns, 2);
    assert!(matches!(
        store.backup(&dest),
        Err(StoreError::Backup { .. })
    ));
}

// ---------------------------------------------------------------- profile data

#[test]
fn prompt_versions_are_numbered_and_kept() {
    let store = Store::open_in_memory().unwrap();
    let p = store.ensure_profile("ana", NOV_1).unwrap();
    assert_eq!(store.ensure_profile("ana", NOV_2).unwrap(), p);
    assert!(store.latest_prompt_version(p).unwrap().is_none());
    for (i, reason) in ["consultation", "behaviour drift"].iter().enumerate() {
        let (_, version) = store
            .insert_prompt_version(&NewPromptVersion {
                profile_id: p,
                prompt: format!("prompt {i}"),
                profile_text: "profile".into(),
                reason: (*reason).into(),
                metrics_json: "{}".into(),
                model: None,
                cost_usd: 0.0,
                created_at: NOV_1 + i as i64,
            })
            .unwrap();
        assert_eq!(version, i as i64 + 1);
    }
    let all = store.prompt_versions(p).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        store.latest_prompt_version(p).unwrap().unwrap().prompt,
        "prompt 1"
    );
    assert!(matches!(
        store.insert_snapshot(&NewSnapshot {
            profile_id: p,
            metrics_json: "not json".into(),
            created_at: NOV_1,
        }),
        Err(StoreError::InvalidJson { .. })
    ));
}

#[test]
fn commitments_and_checkins() {
    let store = Store::open_in_memory().unwrap();
    let p = store.ensure_profile("ana", NOV_1).unwrap();
    let a = store
        .insert_commitment(&NewCommitment {
            profile_id: p,
            conversation_id: None,
            text: "Send the email".into(),
            due_date: Some("2026-11-05".into()),
            created_at: NOV_1,
        })
        .unwrap();
    store
        .insert_commitment(&NewCommitment {
            profile_id: p,
            conversation_id: None,
            text: "Run twice".into(),
            due_date: None,
            created_at: NOV_1 + 1,
        })
        .unwrap();
    store
        .resolve_commitment(a, CommitmentStatus::Done, NOV_3)
        .unwrap();
    let open = store.commitments(p, Some(CommitmentStatus::Open)).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].text, "Run twice");
    let all = store.commitments(p, None).unwrap();
    assert_eq!(all[0].resolved_at, Some(NOV_3));

    let day = grow::store::Checkin {
        profile_id: p,
        day: "2026-11-02".into(),
    };
    assert!(store.insert_checkin(&day).unwrap());
    assert!(!store.insert_checkin(&day).unwrap());
    assert_eq!(store.checkin_days(p, "2026-11-01").unwrap(), ["2026-11-02"]);
}

#[test]
fn invalid_decision_json_is_rejected_before_writing() {
    let (store, ids) = fixture();
    let user = store
        .insert_message(&NewMessage::user(ids.job, "again", NOV_3))
        .unwrap();
    let bad = NewDecision {
        conversation_id: ids.job,
        user_message_id: user,
        model: HAIKU.into(),
        provider: "anthropic".into(),
        tier: 3,
        upgraded: false,
        safety: "none".into(),
        interaction: None,
        signals_json: r#"{"kind": "distress"}"#.into(),
        reasons_json: "[]".into(),
        plan_json: "[]".into(),
        signal_origin: "deterministic".into(),
        estimated_input_tokens: 0,
        estimated_cost_usd: 0.0,
        created_at: NOV_3,
    };
    assert!(matches!(
        store.insert_decision(&bad),
        Err(StoreError::InvalidJson { .. })
    ));
    assert_eq!(store.stats(NOV_1, DEC_1).unwrap().requests, 3);
}

#[test]
fn very_common_words_rank_the_newest_matches() {
    let store = Store::open_in_memory().unwrap();
    let p = profile(&store, "ana");
    let c = conversation(&store, p, "many", NOV_1);
    let total = grow::store::RANK_WINDOW as i64 + 10;
    for i in 0..total {
        // The oldest messages are the best bm25 matches, but lie outside the window.
        let text = if i < 5 {
            "window window window window".to_string()
        } else {
            format!("message {i} with one window and other words to make it longer")
        };
        store
            .insert_message(&NewMessage::user(c, text, NOV_1 + i))
            .unwrap();
    }
    let hits = store.search("window", 20).unwrap();
    assert_eq!(hits.len(), 20);
    let oldest_in_window = store.history(c).unwrap()[10].id;
    assert!(hits.iter().all(|h| h.message_id >= oldest_in_window));
}

#[test]
fn store_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    let store = Store::open_in_memory().unwrap();
    let handle = std::thread::spawn(move || store.profiles().unwrap().len());
    assert_eq!(handle.join().unwrap(), 0);
}

#[test]
fn unopenable_paths_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::Read { .. } | StoreError::Open { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever a person types, search answers (possibly with nothing) and never errors.
        #[test]
        fn any_query_is_safe(q in "\\PC{0,24}") {
            let store = Store::open_in_memory().unwrap();
            let p = profile(&store, "ana");
            let c = conversation(&store, p, "t", NOV_1);
            store.insert_message(&NewMessage::user(c, "我不知道怎么表达自己 goal", NOV_1)).unwrap();
            prop_assert!(store.search(&q, 10).is_ok());
        }

        /// Any run of Chinese characters inside a message finds that message, highlighted.
        #[test]
        fn any_chinese_substring_is_found(
            text in "[一-龥]{1,20}",
            start in 0usize..20,
            len in 1usize..6,
        ) {
            let chars: Vec<char> = text.chars().collect();
            let start = start % chars.len();
            let end = (start + len).min(chars.len());
            let needle: String = chars[start..end].iter().collect();
            let store = Store::open_in_memory().unwrap();
            let p = profile(&store, "ana");
            let c = conversation(&store, p, "t", NOV_1);
            let id = store
                .insert_message(&NewMessage::user(c, format!("前言 {text} 结尾"), NOV_1))
                .unwrap();
            let hits = store.search(&needle, 10).unwrap();
            prop_assert!(hits.iter().any(|h| h.message_id == id), "{needle} in {text}");
            prop_assert!(hits[0].snippet.contains('['), "{}", hits[0].snippet);
        }
    }
}

//! Store query speed on a realistic file: 100,000 messages in 2,000 conversations over six
//! months, with a decision, an attempt and usage for every turn.
//!
//! Run: `cargo bench --bench store`. Targets: `search` median < 20 ms, `stats` for one
//! month < 100 ms.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use grow::catalog::Usage;
use grow::store::{
    Attempt, Conversation, ConversationKind, Decision, EXPORT_FORMAT, EXPORT_VERSION, ExportDoc,
    ListFilter, Message, MessageStatus, NewMessage, Profile, Role, SCHEMA_VERSION, Store,
    UsageRecord, usage_kind,
};

const CONVERSATIONS: i64 = 2_000;
const TURNS_PER_CONVERSATION: i64 = 25; // 2 messages a turn: 100,000 messages
const DAY: i64 = 86_400_000;
const START: i64 = 1_780_272_000_000; // 2026-06-01 UTC
const MONTH_START: i64 = START + 91 * DAY; // 2026-08-31, a 30-day window in the middle
const MONTH_END: i64 = MONTH_START + 30 * DAY;

const EN: &[&str] = &[
    "I",
    "want",
    "to",
    "the",
    "a",
    "and",
    "my",
    "feel",
    "about",
    "work",
    "career",
    "goal",
    "team",
    "manager",
    "time",
    "family",
    "decide",
    "because",
    "really",
    "think",
    "should",
    "change",
    "job",
    "offer",
    "stress",
    "sleep",
    "plan",
    "next",
    "year",
    "month",
    "week",
    "progress",
    "habit",
    "focus",
    "energy",
    "confidence",
    "promotion",
    "salary",
    "move",
    "city",
    "friends",
    "partner",
    "study",
    "course",
    "degree",
    "health",
    "running",
    "write",
    "project",
    "deadline",
    "meeting",
    "feedback",
    "afraid",
    "excited",
    "stuck",
    "again",
    "always",
    "never",
    "why",
    "how",
    "what",
    "option",
    "choice",
    "value",
    "priority",
    "balance",
    "burnout",
    "reflection",
    "pattern",
    "commitment",
    "accountable",
    "small",
    "step",
    "tomorrow",
    "today",
    "morning",
    "evening",
    "weekend",
    "budget",
    "savings",
    "startup",
    "freelance",
    "mentor",
    "interview",
    "resume",
    "portfolio",
    "skills",
    "learning",
    "growth",
    "purpose",
    "meaning",
    "motivation",
    "procrastinate",
    "overwhelmed",
    "calm",
    "grateful",
    "anxious",
    "boundaries",
];

const ZH: &[&str] = &[
    "我",
    "想",
    "工作",
    "觉得",
    "不知道",
    "怎么",
    "表达",
    "自己",
    "压力",
    "目标",
    "计划",
    "家人",
    "时间",
    "选择",
    "未来",
    "职业",
    "焦虑",
    "害怕",
    "改变",
    "机会",
    "老板",
    "同事",
    "学习",
    "成长",
    "习惯",
    "睡眠",
    "健康",
    "决定",
    "问题",
    "希望",
    "但是",
    "因为",
    "所以",
    "还是",
    "已经",
    "一直",
    "总是",
    "真的",
    "可能",
    "应该",
    "需要",
    "喜欢",
    "开始",
    "放弃",
    "坚持",
    "努力",
    "方向",
    "意义",
    "价值",
    "情绪",
    "沟通",
    "关系",
    "朋友",
    "城市",
    "搬家",
    "升职",
    "薪水",
    "面试",
    "创业",
    "反思",
];

/// Zipf-like pick: low indices (common words) come up far more often.
fn pick<'a>(rng: &mut fastrand::Rng, words: &[&'a str]) -> &'a str {
    let x = rng.f64();
    words[((x * x * x) * words.len() as f64) as usize % words.len()]
}

fn sentence(rng: &mut fastrand::Rng, chinese: bool, len: std::ops::Range<usize>) -> String {
    let words = rng.usize(len);
    let mut s = String::new();
    for i in 0..words {
        if chinese {
            s.push_str(pick(rng, ZH));
            if i % 7 == 6 {
                s.push('，');
            }
        } else {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(pick(rng, EN));
        }
    }
    s.push(if chinese { '。' } else { '.' });
    s
}

const SIGNALS: &[&str] = &[
    "long_context",
    "complex_decision",
    "deep_reflection",
    "strategic_planning",
    "escalation_prep",
    "distress",
];

fn fixture() -> ExportDoc {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut doc = ExportDoc {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        schema_version: SCHEMA_VERSION,
        profiles: Vec::new(),
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
    for p in 1..=20 {
        doc.profiles.push(Profile {
            id: p,
            name: format!("person-{p}"),
            tier: "standard".into(),
            settings_json: "{}".into(),
            created_at: START,
        });
    }
    let (mut message_id, mut decision_id) = (0i64, 0i64);
    for c in 1..=CONVERSATIONS {
        let chinese = c % 3 == 0;
        let created = START + rng.i64(0..180 * DAY);
        let mut at = created;
        for _ in 0..TURNS_PER_CONVERSATION {
            at += rng.i64(30_000..600_000);
            message_id += 1;
            let user_id = message_id;
            doc.messages.push(Message {
                id: user_id,
                conversation_id: c,
                role: Role::User,
                content: sentence(&mut rng, chinese, 6..40),
                status: MessageStatus::Complete,
                model: None,
                compare_lane: None,
                system_prompt_version_used: None,
                created_at: at,
            });
            let upgraded = rng.u8(0..10) == 0;
            let model = if upgraded {
                "claude-opus-4-5"
            } else {
                "claude-haiku-4-5"
            };
            let signals: Vec<String> = if upgraded {
                (0..rng.usize(1..3))
                    .map(|_| {
                        format!(
                            r#"{{"kind":"{}","score":0.8,"evidence":"…"}}"#,
                            pick(&mut rng, SIGNALS)
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            decision_id += 1;
            doc.route_decisions.push(Decision {
                id: decision_id,
                conversation_id: c,
                user_message_id: user_id,
                model: model.into(),
                provider: "anthropic".into(),
                tier: if upgraded { 1 } else { 3 },
                upgraded,
                safety: "none".into(),
                interaction: Some(["chat", "check_in", "decision"][rng.usize(0..3)].into()),
                signals_json: format!("[{}]", signals.join(",")),
                reasons_json: r#"["fixture"]"#.into(),
                plan_json: "[]".into(),
                signal_origin: "deterministic".into(),
                estimated_input_tokens: 1500,
                estimated_cost_usd: 0.002,
                created_at: at + 1,
            });
            message_id += 1;
            let failed_first = rng.u8(0..50) == 0;
            if failed_first {
                doc.attempts.push(Attempt {
                    id: doc.attempts.len() as i64 + 1,
                    decision_id,
                    assistant_message_id: None,
                    model: model.into(),
                    provider: "anthropic".into(),
                    outcome: "overloaded".into(),
                    http_status: Some(529),
                    first_byte_ms: None,
                    duration_ms: 300,
                    note: None,
                    created_at: at + 2,
                });
            }
            let answered = if failed_first {
                "claude-sonnet-4-5"
            } else {
                model
            };
            doc.attempts.push(Attempt {
                id: doc.attempts.len() as i64 + 1,
                decision_id,
                assistant_message_id: Some(message_id),
                model: answered.into(),
                provider: "anthropic".into(),
                outcome: "ok".into(),
                http_status: Some(200),
                first_byte_ms: Some(400),
                duration_ms: 3000,
                note: None,
                created_at: at + 3,
            });
            doc.messages.push(Message {
                id: message_id,
                conversation_id: c,
                role: Role::Assistant,
                content: sentence(&mut rng, chinese, 20..80),
                status: MessageStatus::Complete,
                model: Some(answered.into()),
                compare_lane: None,
                system_prompt_version_used: None,
                created_at: at + 3000,
            });
            let cost = if upgraded { 0.02 } else { 0.002 };
            doc.usage.push(UsageRecord {
                id: doc.usage.len() as i64 + 1,
                conversation_id: Some(c),
                message_id: Some(message_id),
                decision_id: Some(decision_id),
                kind: usage_kind::COACHING.into(),
                model: answered.into(),
                usage: Usage {
                    input_tokens: 500,
                    output_tokens: 200,
                    cache_creation_input_tokens: 100,
                    cache_read_input_tokens: 1000,
                },
                cost_usd: cost,
                upgrade_equiv_cost_usd: 0.02,
                no_cache_cost_usd: cost * 1.5,
                estimated: false,
                created_at: at + 3001,
            });
        }
        doc.conversations.push(Conversation {
            id: c,
            profile_id: 1 + c % 20,
            title: Some(sentence(&mut rng, chinese, 3..6)),
            kind: ConversationKind::Chat,
            system_prompt_version_used: None,
            created_at: created,
            updated_at: at + 3000,
        });
    }
    doc.conversations.sort_by_key(|c| c.id);
    doc
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let store = Store::open(&path).expect("open");
    let imported = store.import(&fixture()).expect("import fixture");
    assert_eq!(imported, 100_000);

    let mut g = c.benchmark_group("store");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    for (name, query) in [
        ("search_en_word", "career"),
        ("search_en_two_words", "promotion salary"),
        ("search_en_rare_word", "boundaries"),
        ("search_zh_word", "表达"),
        ("search_zh_char", "我"),
        ("search_zh_phrase", "怎么表达"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(store.search(black_box(query), 20).expect("search")))
        });
    }
    g.bench_function("stats_month", |b| {
        b.iter(|| black_box(store.stats(MONTH_START, MONTH_END).expect("stats")))
    });
    g.bench_function("escalation_stats_month", |b| {
        b.iter(|| {
            black_box(
                store
                    .escalation_stats(MONTH_START, MONTH_END)
                    .expect("escalations"),
            )
        })
    });
    g.bench_function("list_conversations_50", |b| {
        let filter = ListFilter {
            limit: Some(50),
            ..ListFilter::default()
        };
        b.iter(|| black_box(store.list_conversations(&filter).expect("list")))
    });
    g.bench_function("conversation_detail", |b| {
        b.iter(|| black_box(store.conversation_detail(1_000).expect("detail")))
    });
    g.bench_function("insert_message", |b| {
        let mut at = START + 200 * DAY;
        b.iter(|| {
            at += 1;
            black_box(
                store
                    .insert_message(&NewMessage::user(7, "我想换工作 and plan my week", at))
                    .expect("insert"),
            )
        })
    });
    g.finish();
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);

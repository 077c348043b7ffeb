//! `grow review`, `grow stats` and `grow db` run as the real binary against fixture databases
//! built here with the store's write API and fixed timestamps (November 2026, TZ=UTC).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use grow::catalog::{Catalog, Usage};
use grow::config::LoadOptions;
use grow::store::{
    ConversationKind, MessageStatus, NewAttempt, NewConversation, NewDecision, NewMessage,
    NewProfile, NewUsage, Store, usage_kind,
};
use serde_json::Value;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const NOV_3: i64 = 1_793_664_000_000;
const NOV_5: i64 = NOV_3 + 48 * HOUR;

/// Set in the binary's environment: no output may ever contain it.
const SECRET: &str = "sk-ant-test-DO-NOT-LEAK-4f1c";

struct Env {
    dir: tempfile::TempDir,
    config_file: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        std::fs::write(&config_file, "").unwrap();
        Env { dir, config_file }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The models an empty config routes to, and the catalog pricing them.
    fn models(&self) -> (String, String, Catalog) {
        let env = |_: &str| None;
        let config = grow::coach::settings::load(&LoadOptions {
            config_path: Some(self.config_file.clone()),
            db_override: None,
            env: &env,
        })
        .unwrap();
        (
            config.settings.models.default.clone(),
            config.settings.models.upgrade.clone(),
            config.catalog.clone(),
        )
    }

    fn grow(&self, db: &Path, args: &[&str]) -> Output {
        self.grow_in("UTC", db, args)
    }

    /// Runs in the time zone `tz` (months and days are local).
    fn grow_in(&self, tz: &str, db: &Path, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_grow"))
            .arg("--db")
            .arg(db)
            .args(args)
            .env("GROW_CONFIG", &self.config_file)
            .env("GROW_DATA_DIR", self.dir.path())
            .env("NO_COLOR", "1")
            .env("TZ", tz)
            .env("ANTHROPIC_API_KEY", SECRET)
            .env_remove("OPENAI_API_KEY")
            .env_remove("GROW_DB")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(SECRET), "the key leaked: {all}");
        out
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, db: &Path, args: &[&str]) -> String {
        let out = self.grow(db, args);
        assert!(
            out.status.success(),
            "grow {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, db: &Path, args: &[&str]) -> Value {
        self.json_in("UTC", db, args)
    }

    fn json_in(&self, tz: &str, db: &Path, args: &[&str]) -> Value {
        let out = self.grow_in(tz, db, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"))
    }
}

/// One usage row priced the way the coach prices it.
struct Priced {
    usage: Usage,
    cost: f64,
    upgrade_equiv: f64,
    no_cache: f64,
}

fn price(catalog: &Catalog, model: &str, upgrade: &str, usage: Usage) -> Priced {
    let m = catalog.get(model).unwrap();
    let cost = m.cost(&usage);
    Priced {
        usage,
        cost,
        upgrade_equiv: catalog.get(upgrade).unwrap().cost(&usage),
        no_cache: m.cost_without_cache(&usage),
    }
}

fn usage(input: u64, output: u64, cache_write: u64, cache_read: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_creation_input_tokens: cache_write,
        cache_read_input_tokens: cache_read,
    }
}

/// What the fixture wrote, for hand-computed expectations.
struct Fixture {
    db: PathBuf,
    default: String,
    upgrade: String,
    english: i64,
    chinese: i64,
    /// Every usage row: (cost, upgrade equivalent, no-cache cost).
    rows: Vec<(f64, f64, f64)>,
    analyzer_cost: f64,
}

struct TurnSpec<'a> {
    conversation: i64,
    at: i64,
    text: &'a str,
    chosen: &'a str,
    upgraded: bool,
    /// (kind, score, evidence)
    signals: &'a [(&'a str, f64, &'a str)],
    safety: &'a str,
    interaction: &'a str,
    /// (model, outcome, http status)
    attempts: &'a [(&'a str, &'a str, Option<u16>)],
    answer: &'a str,
    usage: Usage,
}

fn write_turn(store: &Store, fx: &mut Fixture, catalog: &Catalog, t: &TurnSpec<'_>) -> i64 {
    let user = store
        .insert_message(&NewMessage::user(t.conversation, t.text, t.at))
        .unwrap();
    let signals: Vec<Value> = t
        .signals
        .iter()
        .map(|(k, s, e)| {
            serde_json::json!({"kind": k, "score": s, "evidence": e, "source": "deterministic"})
        })
        .collect();
    let reasons: Vec<String> = t
        .signals
        .iter()
        .map(|(k, s, _)| format!("{k} scored {s:.2}"))
        .collect();
    let decision = store
        .insert_decision(&NewDecision {
            conversation_id: t.conversation,
            user_message_id: user,
            model: t.chosen.into(),
            provider: "anthropic".into(),
            tier: if t.upgraded { 1 } else { 2 },
            upgraded: t.upgraded,
            safety: t.safety.into(),
            interaction: Some(t.interaction.into()),
            signals_json: serde_json::to_string(&signals).unwrap(),
            reasons_json: serde_json::to_string(&reasons).unwrap(),
            plan_json: format!(r#"[{{"model":"{}","role":"primary"}}]"#, t.chosen),
            signal_origin: "deterministic".into(),
            estimated_input_tokens: 1_200,
            estimated_cost_usd: 0.01,
            created_at: t.at + 1,
        })
        .unwrap();
    let answered_by = t
        .attempts
        .iter()
        .find(|a| a.1 == "ok")
        .map(|a| a.0)
        .unwrap();
    let answer = store
        .insert_message(&NewMessage::assistant(
            t.conversation,
            answered_by,
            t.answer,
            MessageStatus::Complete,
            t.at + 5_000,
        ))
        .unwrap();
    for (i, (model, outcome, status)) in t.attempts.iter().enumerate() {
        store
            .insert_attempt(&NewAttempt {
                decision_id: decision,
                assistant_message_id: (*outcome == "ok").then_some(answer),
                model: (*model).into(),
                provider: "anthropic".into(),
                outcome: (*outcome).into(),
                http_status: *status,
                first_byte_ms: (*outcome == "ok").then_some(420),
                duration_ms: 1_500,
                note: None,
                created_at: t.at + 1_000 + i as i64,
            })
            .unwrap();
    }
    let p = price(catalog, answered_by, &fx.upgrade, t.usage);
    store
        .insert_usage(&NewUsage {
            conversation_id: Some(t.conversation),
            message_id: Some(answer),
            decision_id: Some(decision),
            kind: usage_kind::COACHING.into(),
            model: answered_by.into(),
            usage: p.usage,
            cost_usd: p.cost,
            upgrade_equiv_cost_usd: p.upgrade_equiv,
            no_cache_cost_usd: p.no_cache,
            estimated: false,
            created_at: t.at + 5_000,
        })
        .unwrap();
    fx.rows.push((p.cost, p.upgrade_equiv, p.no_cache));
    decision
}

/// Two conversations (English with a fallback and an analyzer call, Chinese with distress).
fn fixture(env: &Env) -> Fixture {
    let (default, upgrade, catalog) = env.models();
    let db = env.path("grow.sqlite");
    let store = Store::open(&db).unwrap();
    let profile = store
        .create_profile(&NewProfile {
            name: "me".into(),
            tier: None,
            settings_json: None,
            created_at: NOV_3 - HOUR,
        })
        .unwrap();
    let conversation = |title: &str, at: i64| {
        store
            .create_conversation(&NewConversation {
                profile_id: profile,
                title: Some(title.into()),
                kind: ConversationKind::Chat,
                system_prompt_version_used: None,
                created_at: at,
            })
            .unwrap()
    };
    let english = conversation("Two job offers", NOV_3 + 9 * HOUR);
    let chinese = conversation("表达自己", NOV_5 + 20 * HOUR);
    let mut fx = Fixture {
        db: db.clone(),
        default: default.clone(),
        upgrade: upgrade.clone(),
        english,
        chinese,
        rows: Vec::new(),
        analyzer_cost: 0.0,
    };
    let first = write_turn(
        &store,
        &mut fx,
        &catalog,
        &TurnSpec {
            conversation: english,
            at: NOV_3 + 9 * HOUR,
            text: "I have two job offers and I keep asking why I always freeze on big choices",
            chosen: &upgrade,
            upgraded: true,
            signals: &[
                ("complex_decision", 0.82, "two job offers"),
                ("deep_reflection", 0.74, "why I always freeze"),
            ],
            safety: "none",
            interaction: "decision",
            attempts: &[
                (&upgrade, "overloaded", Some(529)),
                (&default, "ok", Some(200)),
            ],
            answer: "Let's lay both offers side by side. What matters most to you?",
            usage: usage(1_000, 200, 0, 3_000),
        },
    );
    // The analyzer scored the first message: its cost counts, it has no upgrade equivalent.
    let analyzer = price(&catalog, &default, &upgrade, usage(500, 50, 0, 0));
    store
        .insert_usage(&NewUsage {
            conversation_id: Some(english),
            message_id: None,
            decision_id: Some(first),
            kind: usage_kind::ANALYZER.into(),
            model: default.clone(),
            usage: analyzer.usage,
            cost_usd: analyzer.cost,
            upgrade_equiv_cost_usd: 0.0,
            no_cache_cost_usd: analyzer.cost,
            estimated: false,
            created_at: NOV_3 + 9 * HOUR + 500,
        })
        .unwrap();
    fx.rows.push((analyzer.cost, 0.0, analyzer.cost));
    fx.analyzer_cost = analyzer.cost;
    write_turn(
        &store,
        &mut fx,
        &catalog,
        &TurnSpec {
            conversation: english,
            at: NOV_3 + 9 * HOUR + 10 * MIN,
            text: "Thanks. What should I ask the recruiter?",
            chosen: &default,
            upgraded: false,
            signals: &[],
            safety: "none",
            interaction: "decision",
            attempts: &[(&default, "ok", Some(200))],
            answer: "Ask about the team you would join and how success is measured.",
            usage: usage(1_500, 300, 2_000, 0),
        },
    );
    write_turn(
        &store,
        &mut fx,
        &catalog,
        &TurnSpec {
            conversation: chinese,
            at: NOV_5 + 20 * HOUR,
            text: "我不知道怎么表达自己的感受，总是压抑着，最近很累",
            chosen: &upgrade,
            upgraded: true,
            signals: &[
                ("deep_reflection", 0.71, "总是压抑着"),
                ("distress", 0.66, "最近很累"),
            ],
            safety: "distress",
            interaction: "reflection",
            attempts: &[(&upgrade, "ok", Some(200))],
            answer: "谢谢你愿意说出来。我们可以先从一个小场景开始：最近一次你想表达却没说出口的是什么？",
            usage: usage(800, 400, 0, 1_000),
        },
    );
    fx
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{} = {a}, expected {b}",
            stringify!($a)
        );
    }};
}

#[test]
fn review_list_json_and_filters() {
    let env = Env::new();
    let fx = fixture(&env);
    let list = env.json(&fx.db, &["review", "list", "--json"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Newest first.
    assert_eq!(u(&items[0]["id"]), fx.chinese as u64);
    assert_eq!(u(&items[1]["id"]), fx.english as u64);
    let en = &items[1];
    assert_eq!(en["title"], "Two job offers");
    assert_eq!(u(&en["turns"]), 2);
    assert_eq!(u(&en["upgrades"]), 1);
    assert_eq!(en["model_mix"][0]["model"], fx.default.as_str());
    assert_eq!(u(&en["model_mix"][0]["count"]), 2);
    let en_cost: f64 = fx.rows[..3].iter().map(|r| r.0).sum();
    assert_close!(f(&en["cost_usd"]), en_cost);

    let since = env.json(
        &fx.db,
        &["review", "list", "--since", "2026-11-04", "--json"],
    );
    assert_eq!(since.as_array().unwrap().len(), 1);
    assert_eq!(u(&since[0]["id"]), fx.chinese as u64);
    let by_model = env.json(
        &fx.db,
        &["review", "list", "--model", &fx.default, "--json"],
    );
    assert_eq!(by_model.as_array().unwrap().len(), 1);
    assert_eq!(u(&by_model[0]["id"]), fx.english as u64);
    let limited = env.json(&fx.db, &["review", "list", "--limit", "1", "--json"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);

    let text = env.ok(&fx.db, &["review", "list"]);
    assert!(
        text.contains("Two job offers") && text.contains("表达自己"),
        "{text}"
    );
    assert!(text.contains("2026-11-05 20:00"), "{text}");
    assert!(!text.contains('\x1b'), "colour without a terminal: {text}");
}

#[test]
fn review_show_has_decisions_signals_attempts_and_cost() {
    let env = Env::new();
    let fx = fixture(&env);
    let id = fx.english.to_string();
    let doc = env.json(&fx.db, &["review", "show", &id, "--json"]);
    assert_eq!(doc["conversation"]["title"], "Two job offers");
    let turns = doc["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    let d = &turns[0]["decisions"][0]["decision"];
    assert_eq!(d["model"], fx.upgrade.as_str());
    assert_eq!(d["upgraded"], true);
    assert_eq!(d["signals"][0]["kind"], "complex_decision");
    assert_close!(f(&d["signals"][0]["score"]), 0.82);
    assert_eq!(d["signals"][0]["evidence"], "two job offers");
    assert_eq!(d["reasons"][0], "complex_decision scored 0.82");
    assert!(d.get("signals_json").is_none());
    let attempts = turns[0]["decisions"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["outcome"], "overloaded");
    assert_eq!(u(&attempts[0]["http_status"]), 529);
    assert_eq!(attempts[1]["model"], fx.default.as_str());
    assert_eq!(turns[0]["replies"][0]["model"], fx.default.as_str());
    // Turn 1 carries its answer and the analyzer call.
    assert_eq!(turns[0]["usage"].as_array().unwrap().len(), 2);
    assert_close!(f(&turns[0]["cost_usd"]), fx.rows[0].0 + fx.rows[1].0);
    let coaching = turns[0]["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "coaching")
        .unwrap();
    assert_eq!(u(&coaching["usage"]["cache_read_input_tokens"]), 3_000);
    let total: f64 = fx.rows[..3].iter().map(|r| r.0).sum();
    assert_close!(f(&doc["totals"]["cost_usd"]), total);

    let text = env.ok(&fx.db, &["review", "show", &id]);
    for needle in [
        "Two job offers",
        "── Turn 1",
        "── Turn 2",
        "upgraded",
        "complex_decision",
        "0.82",
        "“two job offers”",
        "overloaded",
        "529",
        "3,000 cached",
        "analyzer",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn unknown_conversation_is_one_clear_line_and_exit_1() {
    let env = Env::new();
    let fx = fixture(&env);
    for args in [
        &["review", "show", "999"][..],
        &["review", "export", "999", "--format", "md"][..],
    ] {
        let out = env.grow(&fx.db, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("conversation 999 does not exist"), "{err}");
    }
}

#[test]
fn bad_dates_say_the_expected_format() {
    let env = Env::new();
    let fx = fixture(&env);
    let out = env.grow(&fx.db, &["stats", "--month", "Nov"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected YYYY-MM"));
    let out = env.grow(&fx.db, &["review", "list", "--since", "last week"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
}

#[test]
fn empty_database_is_friendly() {
    let env = Env::new();
    let db = env.path("none.sqlite");
    for args in [
        &["review", "list"][..],
        &["review", "search", "goal"][..],
        &["stats"][..],
    ] {
        let text = env.ok(&db, args);
        assert!(text.contains("no conversations yet"), "{args:?}: {text}");
    }
    assert_eq!(
        env.json(&db, &["review", "list", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        u(&env.json(&db, &["stats", "--json"])["stats"]["requests"]),
        0
    );
    assert!(!db.exists(), "a review must not create the database");
}

#[test]
fn search_finds_english_and_chinese_inside_running_text() {
    let env = Env::new();
    let fx = fixture(&env);
    let hits = env.json(&fx.db, &["review", "search", "offers", "--json"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| u(&h["conversation_id"]) == fx.english as u64)
    );
    assert!(
        hits.iter()
            .any(|h| h["snippet"].as_str().unwrap().contains("two job [offers]"))
    );

    let hits = env.json(&fx.db, &["review", "search", "表达", "--json"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 2, "user message and answer: {hits:?}");
    assert!(
        hits.iter()
            .all(|h| u(&h["conversation_id"]) == fx.chinese as u64)
    );
    assert!(
        hits.iter()
            .any(|h| h["snippet"].as_str().unwrap().contains("怎么[表达]自己"))
    );
    assert!(hits[0]["created_at"].is_i64() && hits[0]["score"].is_f64());

    let text = env.ok(&fx.db, &["review", "search", "表达"]);
    assert!(text.contains("[表达]"), "{text}");
    assert!(
        text.contains(&format!("conversation {}", fx.chinese)),
        "{text}"
    );
    assert!(text.contains("2026-11-05"), "{text}");
    let none = env.ok(&fx.db, &["review", "search", "zebra"]);
    assert!(none.contains("no messages match"), "{none}");
}

#[test]
fn stats_match_hand_computed_numbers() {
    let env = Env::new();
    let fx = fixture(&env);
    let doc = env.json(&fx.db, &["stats", "--month", "2026-11", "--json"]);
    assert_eq!(doc["month"]["label"], "2026-11");
    assert_eq!(doc["upgrade_model"], fx.upgrade.as_str());
    let s = &doc["stats"];
    // 3 decisions: two chose the upgrade model, one the default.
    assert_eq!(u(&s["requests"]), 3);
    assert_eq!(s["requests_by_model"][0]["model"], fx.upgrade.as_str());
    assert_eq!(u(&s["requests_by_model"][0]["requests"]), 2);
    assert_close!(f(&s["requests_by_model"][0]["share"]), 2.0 / 3.0);
    assert_close!(f(&s["requests_by_model"][1]["share"]), 1.0 / 3.0);
    assert_eq!(u(&s["upgrades"]), 2);
    assert_close!(f(&s["upgrade_rate"]), 2.0 / 3.0);
    // deep_reflection fired in both upgrades; complex_decision and distress in one each.
    let t = &s["top_triggers"];
    assert_eq!(t[0]["signal"], "deep_reflection");
    assert_eq!(u(&t[0]["count"]), 2);
    assert_close!(f(&t[0]["share_of_upgrades"]), 1.0);
    assert_close!(f(&t[0]["share_of_triggers"]), 0.5);
    assert_eq!(t[1]["signal"], "complex_decision");
    assert_eq!(t[2]["signal"], "distress");
    assert_close!(f(&t[2]["share_of_triggers"]), 0.25);

    let cost: f64 = fx.rows.iter().map(|r| r.0).sum();
    let upgrade_equiv: f64 = fx.rows.iter().map(|r| r.1).sum();
    let no_cache: f64 = fx.rows.iter().map(|r| r.2).sum();
    assert_close!(f(&s["costs"]["cost_usd"]), cost);
    assert_eq!(u(&s["costs"]["calls"]), 4);
    assert_close!(f(&s["savings_vs_all_upgrade_usd"]), upgrade_equiv - cost);
    assert!(f(&s["savings_vs_all_upgrade_usd"]) > 0.0);
    assert_close!(f(&s["cache_savings_usd"]), no_cache - cost);
    assert!(f(&s["cache_savings_usd"]) > 0.0);
    assert_close!(f(&s["analyzer"]["cost_usd"]), fx.analyzer_cost);
    assert_eq!(u(&s["analyzer"]["calls"]), 1);
    // Per conversation and per active user.
    assert_eq!(u(&s["turns"]), 3);
    assert_eq!(u(&s["conversations"]), 2);
    assert_eq!(u(&s["active_profiles"]), 1);
    assert_close!(f(&s["cost_per_active_profile"]), cost);
    assert_close!(f(&s["avg_cost_per_conversation"]), cost / 2.0);
    // Fallbacks and errors.
    assert_eq!(u(&s["attempts"]), 4);
    assert_eq!(u(&s["fallbacks"]), 1);
    assert_eq!(s["errors_by_class"][0]["class"], "overloaded");
    assert_eq!(u(&s["errors_by_class"][0]["count"]), 1);
    // Per local day: every day of November up to today (the test may run during the month),
    // zero days included; costs on the 3rd and the 5th.
    let days = s["cost_per_day"].as_array().unwrap();
    assert!((5..=30).contains(&days.len()), "{days:?}");
    assert_eq!(days[0]["day"], "2026-11-01");
    assert_eq!(days[2]["day"], "2026-11-03");
    assert_close!(
        f(&days[2]["cost_usd"]),
        fx.rows[..3].iter().map(|r| r.0).sum()
    );
    assert_close!(f(&days[4]["cost_usd"]), fx.rows[3].0);
    assert_eq!(u(&days[3]["calls"]), 0);
    // Projection at the defaults: 1,000 × 4 × 30 turns at this month's cost per turn.
    let p = &doc["projection"];
    assert_eq!(u(&p["turns"]), 120_000);
    assert_close!(f(&p["monthly_cost_usd"]), 120_000.0 * cost / 3.0);
    assert_close!(
        f(&p["all_upgrade_cost_usd"]),
        120_000.0 * upgrade_equiv / 3.0
    );
    assert_close!(f(&p["cost_per_user_usd"]), 120.0 * cost / 3.0);

    let p = env.json(
        &fx.db,
        &[
            "stats",
            "--month",
            "2026-11",
            "--json",
            "--users",
            "10",
            "--sessions",
            "2",
            "--turns",
            "5",
        ],
    );
    assert_eq!(u(&p["projection"]["turns"]), 100);
    assert_close!(f(&p["projection"]["monthly_cost_usd"]), 100.0 * cost / 3.0);

    let text = env.ok(&fx.db, &["stats", "--month", "2026-11"]);
    for needle in [
        "November 2026",
        "66.7%",
        "deep_reflection",
        &format!("all on {}", fx.upgrade),
        "routing saved",
        "prompt caching",
        "2026-11-03",
        "█",
        "overloaded",
        "1,000 users × 4 sessions × 30 turns",
        "120,000",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let other = env.ok(&fx.db, &["stats", "--month", "2026-10"]);
    assert!(
        other.contains("nothing recorded in October 2026"),
        "{other}"
    );
}

#[test]
fn months_and_days_are_local_time() {
    let env = Env::new();
    let fx = fixture(&env);
    // New York leaves daylight saving time on 2026-11-01: November starts at 04:00 UTC
    // (EDT) and ends at 05:00 UTC (EST).
    let ny = env.json_in(
        "America/New_York",
        &fx.db,
        &["stats", "--month", "2026-11", "--json"],
    );
    let nov_1: i64 = 1_793_491_200_000;
    let dec_1: i64 = 1_796_083_200_000;
    assert_eq!(ny["month"]["start_ms"].as_i64(), Some(nov_1 + 4 * HOUR));
    assert_eq!(ny["month"]["end_ms"].as_i64(), Some(dec_1 + 5 * HOUR));
    // Shanghai is UTC+8: the Chinese conversation (2026-11-05 20:00 UTC) is on the 6th.
    let sh = env.json_in(
        "Asia/Shanghai",
        &fx.db,
        &["stats", "--month", "2026-11", "--json"],
    );
    let days = sh["stats"]["cost_per_day"].as_array().unwrap();
    assert_eq!(days[5]["day"], "2026-11-06");
    assert_close!(f(&days[5]["cost_usd"]), fx.rows[3].0);
    assert_eq!(u(&days[4]["calls"]), 0);
    let list = env.grow_in("Asia/Shanghai", &fx.db, &["review", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("2026-11-06 04:00"));
}

#[test]
fn escalations_show_signals_interactions_and_pairs() {
    let env = Env::new();
    let fx = fixture(&env);
    let doc = env.json(
        &fx.db,
        &["stats", "escalations", "--month", "2026-11", "--json"],
    );
    let e = &doc["escalations"];
    assert_eq!(u(&e["decisions"]), 3);
    assert_eq!(u(&e["upgraded"]), 2);
    assert_eq!(e["signals"][0]["signal"], "deep_reflection");
    assert_eq!(u(&e["signals"][0]["escalated"]), 2);
    let pairs = e["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    assert!(
        pairs
            .iter()
            .any(|p| p["a"] == "complex_decision" && p["b"] == "deep_reflection")
    );
    assert!(
        pairs
            .iter()
            .any(|p| p["a"] == "deep_reflection" && p["b"] == "distress")
    );
    let decision = e["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["interaction"] == "decision")
        .unwrap();
    assert_eq!(u(&decision["decisions"]), 2);
    assert_close!(f(&decision["upgrade_rate"]), 0.5);

    let text = env.ok(&fx.db, &["stats", "escalations", "--month", "2026-11"]);
    assert!(text.contains("deep_reflection + distress"), "{text}");
    assert!(text.contains("reflection"), "{text}");
}

#[test]
fn json_export_round_trips_through_import() {
    let env = Env::new();
    let fx = fixture(&env);
    let out = env.path("all.json");
    env.ok(
        &fx.db,
        &[
            "review",
            "export",
            "--all",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let fresh = env.path("fresh.sqlite");
    let msg = env.ok(&fresh, &["review", "import", out.to_str().unwrap()]);
    assert!(msg.contains("imported 6 messages"), "{msg}");
    let again = env.ok(&fresh, &["review", "export", "--all", "--format", "json"]);
    let original = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&again).unwrap(),
        serde_json::from_str::<Value>(&original).unwrap()
    );
    // Search works on the imported copy too.
    let hits = env.json(&fresh, &["review", "search", "表达", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 2);
    // A second import into a non-empty database is refused clearly.
    let refused = env.grow(&fresh, &["review", "import", out.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds"));
    // --out never overwrites silently.
    let again = env.grow(
        &fx.db,
        &[
            "review",
            "export",
            "--all",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn markdown_export_has_turn_headings_and_no_key() {
    let env = Env::new();
    let fx = fixture(&env);
    let md = env.ok(
        &fx.db,
        &[
            "review",
            "export",
            &fx.english.to_string(),
            "--format",
            "md",
        ],
    );
    assert!(md.starts_with("# Two job offers"), "{md}");
    assert!(md.contains("## Turn 1") && md.contains("## Turn 2"), "{md}");
    assert!(md.contains("> I have two job offers"), "{md}");
    assert!(
        md.contains(&format!("fallback from {}", fx.upgrade)),
        "{md}"
    );
    assert!(!md.contains(SECRET));
    let all = env.ok(&fx.db, &["review", "export", "--all", "--format", "md"]);
    assert!(
        all.contains("# 表达自己") && all.contains("# Two job offers"),
        "{all}"
    );
}

#[test]
fn backup_then_check_passes_and_a_corrupted_copy_fails() {
    let env = Env::new();
    let fx = fixture(&env);
    let copy = env.path("backup.sqlite");
    let msg = env.ok(&fx.db, &["db", "backup", copy.to_str().unwrap()]);
    assert!(msg.contains("backed up to"), "{msg}");
    let ok = env.ok(&copy, &["db", "check"]);
    assert!(ok.contains("passed"), "{ok}");
    // The copy is a full database.
    let list = env.json(&copy, &["review", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Refuses to overwrite unless --force.
    let again = env.grow(&fx.db, &["db", "backup", copy.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    env.ok(&fx.db, &["db", "backup", "--force", copy.to_str().unwrap()]);
    env.ok(&copy, &["db", "check"]);

    // Scribble over the pages after the schema page.
    let mut bytes = std::fs::read(&copy).unwrap();
    assert!(bytes.len() > 4 * 4096);
    for b in &mut bytes[4096..4 * 4096] {
        *b = 0xA5;
    }
    let broken = env.path("broken.sqlite");
    std::fs::write(&broken, &bytes).unwrap();
    let out = env.grow(&broken, &["db", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database check failed"), "{err}");
}

#[test]
fn db_path_prints_the_database_in_use() {
    let env = Env::new();
    let db = env.path("where.sqlite");
    let out = env.ok(&db, &["db", "path"]);
    assert_eq!(out.trim(), db.display().to_string());
}

//! The analyzer contract: merge policy, strict validation, schema, presets and cache.

use std::num::NonZeroUsize;

use grow::catalog::Catalog;
use grow::coach::analyzer_cache::{AnalyzerCache, cache_key, normalise};
use grow::routing::analyzer::{
    AnalyzerPresets, AnalyzerSettings, AnalyzerVerdict, BUILTIN_PRESETS, BUILTIN_PRESETS_FILE,
    GrowStage, MergePolicy, SignalScores, json_schema, merge, parse_verdict,
};
use grow::routing::health::{HealthBook, HealthState, Outcome};
use grow::routing::selector::{Findings, RouteInput, RoutingPolicy, select};
use grow::routing::types::{
    EscalationRisk, Safety, Signal, SignalKind, SignalOrigin, SignalSource,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use SignalKind::*;

// ---------------------------------------------------------------------------------------
// helpers

fn det(kind: SignalKind, score: f32, evidence: &str) -> Signal {
    Signal {
        kind,
        score,
        evidence: evidence.into(),
        source: SignalSource::Deterministic,
    }
}

fn verdict(scores: &[(SignalKind, f32)]) -> AnalyzerVerdict {
    let mut s = SignalScores::default();
    for &(k, v) in scores {
        s.set(k, v);
    }
    AnalyzerVerdict {
        scores: s,
        escalation_risk: EscalationRisk::None,
        crisis: false,
        grow_stage: GrowStage::Options,
        topic: "job offers".into(),
        rationale: "The person is weighing two job offers with different trade-offs.".into(),
    }
}

fn find(signals: &[Signal], kind: SignalKind) -> Option<&Signal> {
    signals.iter().find(|s| s.kind == kind)
}

fn valid_json() -> Value {
    json!({
        "signals": {
            "long_context": 0.0, "complex_decision": 0.8, "deep_reflection": 0.1,
            "strategic_planning": 0.0, "escalation_prep": 0.0, "distress": 0.0, "crisis": 0.0
        },
        "escalation_risk": "none",
        "crisis": false,
        "grow_stage": "options",
        "topic": "job offers",
        "rationale": "The person is weighing two job offers."
    })
}

/// The valid answer with one field path replaced (or removed, with `None`).
fn with(path: &[&str], value: Option<Value>) -> Value {
    let mut v = valid_json();
    let (last, parents) = path.split_last().unwrap();
    let mut target = &mut v;
    for p in parents {
        target = target.get_mut(*p).unwrap();
    }
    let obj = target.as_object_mut().unwrap();
    match value {
        Some(x) => {
            obj.insert(last.to_string(), x);
        }
        None => {
            obj.remove(*last);
        }
    }
    v
}

fn problems_of(v: &Value) -> Vec<String> {
    parse_verdict(v)
        .unwrap_err()
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// merge policy

#[test]
fn analyzer_says_no_crisis_detector_says_crisis_crisis_stays_at_its_score() {
    let policy = MergePolicy::default();
    let signals = vec![det(Crisis, 0.95, "want to end my life")];
    // The analyzer is confident there is nothing: every score 0, crisis false.
    let v = verdict(&[]);
    let merged = merge(&signals, &v, &policy);
    let crisis = find(&merged, Crisis).expect("a deterministic crisis is never removed");
    assert_eq!(crisis.score, 0.95);
    assert_eq!(crisis.evidence, "want to end my life");
    assert_eq!(crisis.source, SignalSource::Deterministic);

    // Even a policy that would let the analyzer lower anything leaves crisis alone.
    let permissive = MergePolicy {
        lower_below_confidence: 1.0,
        min_analyzer_score: 1.0,
        ..MergePolicy::default()
    };
    let merged = merge(&[det(Crisis, 0.6, "kill myself")], &v, &permissive);
    assert_eq!(find(&merged, Crisis).map(|s| s.score), Some(0.6));
}

#[test]
fn analyzer_raises_a_deterministic_signal_to_its_score() {
    let merged = merge(
        &[det(ComplexDecision, 0.55, "two offers")],
        &verdict(&[(ComplexDecision, 0.8)]),
        &MergePolicy::default(),
    );
    let s = find(&merged, ComplexDecision).unwrap();
    assert_eq!(s.score, 0.8);
    assert_eq!(s.source, SignalSource::Merged);
    assert_eq!(s.evidence, "two offers", "the detector's phrase is kept");
}

#[test]
fn analyzer_adds_a_signal_the_detectors_missed() {
    let merged = merge(
        &[],
        &verdict(&[(DeepReflection, 0.7)]),
        &MergePolicy::default(),
    );
    assert_eq!(merged.len(), 1);
    let s = &merged[0];
    assert_eq!(
        (s.kind, s.score, s.source),
        (DeepReflection, 0.7, SignalSource::Analyzer)
    );
    assert_eq!(
        s.evidence,
        "job offers: The person is weighing two job offers with different trade-offs."
    );
}

#[test]
fn analyzer_only_signals_below_the_minimum_are_not_reported() {
    let merged = merge(
        &[],
        &verdict(&[(StrategicPlanning, 0.29), (Distress, 0.3)]),
        &MergePolicy::default(),
    );
    assert_eq!(
        merged.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [Distress]
    );
}

#[test]
fn analyzer_evidence_is_abbreviated() {
    let mut v = verdict(&[(DeepReflection, 0.7)]);
    v.rationale = format!(
        "The person {} keeps returning to the same doubt.",
        "really ".repeat(30)
    );
    let merged = merge(&[], &v, &MergePolicy::default());
    let evidence = &merged[0].evidence;
    assert!(evidence.chars().count() <= 80, "{evidence}");
    assert!(evidence.starts_with("job offers: The person really"));
    assert!(evidence.ends_with('…'));
}

#[test]
fn analyzer_lowers_only_below_the_confidence_bound() {
    let policy = MergePolicy::default(); // lower below 0.2, report from 0.3
    let signals = [det(StrategicPlanning, 0.6, "long-term")];
    let run = |score| merge(&signals, &verdict(&[(StrategicPlanning, score)]), &policy);

    let lowered = run(0.1);
    let s = find(&lowered, StrategicPlanning).unwrap();
    assert_eq!((s.score, s.source), (0.1, SignalSource::Merged));
    assert_eq!(s.evidence, "long-term", "the detector's phrase is kept");

    // Not confident enough to lower, not high enough to confirm: untouched.
    let kept = run(0.25);
    let s = find(&kept, StrategicPlanning).unwrap();
    assert_eq!((s.score, s.source), (0.6, SignalSource::Deterministic));

    // Exactly at the bound is not below it.
    assert_eq!(find(&run(0.2), StrategicPlanning).unwrap().score, 0.6);

    // Agreeing but lower: confirmed, score kept.
    let confirmed = run(0.4);
    let s = find(&confirmed, StrategicPlanning).unwrap();
    assert_eq!((s.score, s.source), (0.6, SignalSource::Merged));
}

#[test]
fn long_context_and_escalation_prep_are_never_lowered() {
    let merged = merge(
        &[
            det(LongContext, 0.8, "52 prior turns"),
            det(EscalationPrep, 0.7, "escalation risk: medium"),
            det(Distress, 0.6, "dying to"),
        ],
        &verdict(&[]),
        &MergePolicy::default(),
    );
    assert_eq!(find(&merged, LongContext).map(|s| s.score), Some(0.8));
    assert_eq!(find(&merged, EscalationPrep).map(|s| s.score), Some(0.7));
    // Other kinds are lowered by a confident zero, and still reported.
    assert_eq!(find(&merged, Distress).map(|s| s.score), Some(0.0));
}

#[test]
fn escalation_risk_medium_and_high_add_escalation_prep() {
    let policy = MergePolicy::default();
    for (risk, expect) in [
        (EscalationRisk::None, None),
        (EscalationRisk::Low, None),
        (EscalationRisk::Medium, Some(0.7)),
        (EscalationRisk::High, Some(0.9)),
    ] {
        let mut v = verdict(&[]);
        v.escalation_risk = risk;
        let merged = merge(&[], &v, &policy);
        let s = find(&merged, EscalationPrep);
        assert_eq!(s.map(|s| s.score), expect, "{risk:?}");
        if let Some(s) = s {
            assert_eq!(s.source, SignalSource::Analyzer);
            assert_eq!(
                s.evidence,
                format!("escalation risk {}: job offers", risk.as_str())
            );
        }
    }
    // A stronger deterministic escalation keeps its score.
    let mut v = verdict(&[]);
    v.escalation_risk = EscalationRisk::Medium;
    let merged = merge(&[det(EscalationPrep, 0.95, "see a therapist")], &v, &policy);
    let s = find(&merged, EscalationPrep).unwrap();
    assert_eq!((s.score, s.source), (0.95, SignalSource::Merged));
}

#[test]
fn crisis_flag_adds_or_raises_crisis_to_at_least_0_9() {
    let policy = MergePolicy::default();
    let mut v = verdict(&[]);
    v.crisis = true;
    let added = merge(&[], &v, &policy);
    let s = find(&added, Crisis).unwrap();
    assert_eq!((s.score, s.source), (0.9, SignalSource::Analyzer));
    assert!(s.evidence.starts_with("acute risk: job offers"));

    let raised = merge(&[det(Crisis, 0.6, "no way out")], &v, &policy);
    let s = find(&raised, Crisis).unwrap();
    assert_eq!((s.score, s.source), (0.9, SignalSource::Merged));
    assert_eq!(s.evidence, "no way out");

    let mut v = verdict(&[(Crisis, 0.97)]);
    v.crisis = true;
    let higher = merge(&[], &v, &policy);
    assert_eq!(find(&higher, Crisis).map(|s| s.score), Some(0.97));
}

#[test]
fn one_signal_per_kind_sorted_by_score() {
    let signals = [
        det(Distress, 0.5, "burned out"),
        det(Distress, 0.7, "panic attacks"),
        det(ComplexDecision, 0.6, "two offers"),
        det(Distress, 0.6, "exhausted"),
    ];
    let merged = merge(
        &signals,
        &verdict(&[
            (ComplexDecision, 0.9),
            (StrategicPlanning, 0.4),
            (Distress, 0.25),
        ]),
        &MergePolicy::default(),
    );
    let kinds: Vec<_> = merged.iter().map(|s| (s.kind, s.score)).collect();
    assert_eq!(
        kinds,
        [
            (ComplexDecision, 0.9),
            (Distress, 0.7),
            (StrategicPlanning, 0.4)
        ]
    );
    assert_eq!(find(&merged, Distress).unwrap().evidence, "panic attacks");
}

#[test]
fn merged_signals_drive_the_selector_and_record_their_origin() {
    let catalog = Catalog::builtin().unwrap();
    // 0.25: neither confident enough to lower distress nor high enough to confirm it.
    let mut v = verdict(&[(DeepReflection, 0.8), (Distress, 0.25)]);
    v.crisis = true;
    let merged = merge(
        &[det(Distress, 0.4, "so tired")],
        &v,
        &MergePolicy::default(),
    );
    let decision = select(
        &catalog,
        &RoutingPolicy::default(),
        &RouteInput::default(),
        Findings {
            signals: merged,
            origin: SignalOrigin::Analyzer,
            message_tokens: 20,
        },
        &HealthBook::default(),
    )
    .unwrap();
    assert!(decision.upgraded);
    assert_eq!(decision.safety, Safety::Crisis);
    assert_eq!(decision.signal_origin, SignalOrigin::Analyzer);
    let sources: Vec<_> = decision
        .signals
        .iter()
        .map(|s| (s.kind, s.source))
        .collect();
    assert_eq!(
        sources,
        [
            (Crisis, SignalSource::Analyzer),
            (DeepReflection, SignalSource::Analyzer),
            (Distress, SignalSource::Deterministic),
        ]
    );
}

fn kind_strategy() -> impl Strategy<Value = SignalKind> {
    (0..7usize).prop_map(|i| SignalKind::ALL[i])
}

proptest! {
    #[test]
    fn merge_never_removes_or_lowers_what_it_must_not(
        dets in proptest::collection::vec((kind_strategy(), 0.0f32..=1.0), 0..10),
        scores in proptest::array::uniform7(0.0f32..=1.0),
        crisis in any::<bool>(),
        risk in 0..4usize,
    ) {
        let signals: Vec<Signal> = dets.iter().map(|&(k, s)| det(k, s, "x")).collect();
        let mut v = verdict(&[]);
        v.scores = SignalScores::new(scores);
        v.crisis = crisis;
        v.escalation_risk = [EscalationRisk::None, EscalationRisk::Low, EscalationRisk::Medium, EscalationRisk::High][risk];
        let merged = merge(&signals, &v, &MergePolicy::default());

        for w in merged.windows(2) {
            prop_assert!(w[0].score >= w[1].score, "sorted by score");
        }
        for kind in SignalKind::ALL {
            prop_assert!(merged.iter().filter(|s| s.kind == kind).count() <= 1);
        }
        for s in &merged {
            prop_assert!((0.0..=1.0).contains(&s.score));
        }
        for d in &signals {
            let out = find(&merged, d.kind);
            prop_assert!(out.is_some(), "{:?} removed", d.kind);
        }
        let det_crisis = signals.iter().filter(|s| s.kind == Crisis).map(|s| s.score).fold(None, |a: Option<f32>, s| Some(a.map_or(s, |a| a.max(s))));
        if let Some(d) = det_crisis {
            prop_assert!(find(&merged, Crisis).unwrap().score >= d, "crisis lowered");
        }
        if crisis {
            prop_assert!(find(&merged, Crisis).unwrap().score >= 0.9);
        }
    }
}

// ---------------------------------------------------------------------------------------
// strict parsing and validation

#[test]
fn valid_verdict_parses_from_text_and_value_and_round_trips() {
    let text = valid_json().to_string();
    let v = parse_verdict(text.as_str()).unwrap();
    assert_eq!(v.scores.get(ComplexDecision), 0.8);
    assert_eq!(v.scores.get(DeepReflection), 0.1);
    assert_eq!(v.escalation_risk, EscalationRisk::None);
    assert!(!v.crisis);
    assert_eq!(v.grow_stage, GrowStage::Options);
    assert_eq!(v.topic, "job offers");
    assert_eq!(parse_verdict(&valid_json()).unwrap(), v);

    // Serializes with the contract's field names, signals in contract order.
    let back = serde_json::to_value(&v).unwrap();
    let signal_keys: Vec<&str> = back["signals"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: Vec<&str> = SignalKind::ALL.iter().map(|k| k.as_str()).collect();
    expected.sort_unstable(); // serde_json's map is sorted unless preserve_order
    let mut got = signal_keys.clone();
    got.sort_unstable();
    assert_eq!(got, expected);
    assert_eq!(parse_verdict(&back).unwrap(), v);
    assert_eq!(serde_json::from_value::<AnalyzerVerdict>(back).unwrap(), v);

    // Whitespace around the object is fine; integers 0 and 1 are numbers in range.
    let spaced = format!("\n  {text}  \n");
    assert!(parse_verdict(spaced.as_str()).is_ok());
    assert!(parse_verdict(&with(&["signals", "crisis"], Some(json!(1)))).is_ok());
    // Chinese topic and rationale.
    let zh = with(&["topic"], Some(json!("工作机会")));
    let zh = {
        let mut z = zh;
        z["rationale"] = json!("用户在两个工作机会之间权衡利弊。");
        z
    };
    assert_eq!(parse_verdict(&zh).unwrap().topic, "工作机会");
}

#[test]
fn each_invalid_field_is_named_with_its_path() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&["signals", "distress"], Some(json!(1.4))),
            "signals.distress: 1.4 is out of range 0..1",
        ),
        (
            with(&["signals", "crisis"], Some(json!(-0.1))),
            "signals.crisis: -0.1 is out of range 0..1",
        ),
        (
            with(&["signals", "distress"], Some(json!("high"))),
            "signals.distress: expected a number in 0..1, got string \"high\"",
        ),
        (
            with(&["signals", "distress"], Some(Value::Null)),
            "signals.distress: expected a number in 0..1, got null",
        ),
        (
            with(&["grow_stage"], Some(json!("planning"))),
            "grow_stage: \"planning\" is not one of goal, reality, options, will, other",
        ),
        (
            with(&["grow_stage"], Some(json!(2))),
            "grow_stage: expected one of goal, reality, options, will, other, got number 2",
        ),
        (
            with(&["escalation_risk"], Some(json!("severe"))),
            "escalation_risk: \"severe\" is not one of none, low, medium, high",
        ),
        (
            with(&["escalation_risk"], Some(json!("High"))),
            "escalation_risk: \"High\" is not one of none, low, medium, high",
        ),
        (
            with(&["crisis"], Some(json!("no"))),
            "crisis: expected true or false, got string \"no\"",
        ),
        (
            with(&["crisis"], Some(json!(0))),
            "crisis: expected true or false, got number 0",
        ),
        (with(&["topic"], Some(json!("   "))), "topic: is empty"),
        (
            with(&["topic"], Some(json!("t".repeat(81)))),
            "topic: has 81 characters, at most 80",
        ),
        (
            with(&["topic"], Some(json!(["job"]))),
            "topic: expected a string, got an array",
        ),
        (with(&["rationale"], Some(json!(""))), "rationale: is empty"),
        (
            with(&["rationale"], Some(json!(format!("{}.", "a".repeat(300))))),
            "rationale: has 301 characters, at most 300",
        ),
        (
            with(
                &["rationale"],
                Some(json!("They weigh two offers. They also feel stuck.")),
            ),
            "rationale: has 2 sentences, expected one",
        ),
        (
            with(&["rationale"], Some(json!("用户在权衡。还有压力。"))),
            "rationale: has 2 sentences, expected one",
        ),
        (
            with(&["rationale"], Some(json!("two offers\nand doubt"))),
            "rationale: contains a line break or control character; write one plain line",
        ),
        (
            with(&["signals"], Some(json!([0.1, 0.2]))),
            "signals: expected an object with a score for each of the seven signals, got an array",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(problems_of(&value), [expected], "for {value}");
    }
}

#[test]
fn unknown_keys_are_rejected_at_both_levels() {
    let v = with(&["mood"], Some(json!("calm")));
    assert_eq!(
        problems_of(&v),
        [
            "mood: unknown key (allowed: signals, escalation_risk, crisis, grow_stage, topic, rationale)"
        ]
    );
    let v = with(&["signals", "anxiety"], Some(json!(0.4)));
    assert_eq!(
        problems_of(&v),
        [
            "signals.anxiety: unknown key (the seven signals are long_context, complex_decision, deep_reflection, strategic_planning, escalation_prep, distress, crisis)"
        ]
    );
    // A key that is not an identifier is quoted, so it cannot break the line.
    let v = with(&["signals", "a b\n"], Some(json!(0.4)));
    assert!(problems_of(&v)[0].starts_with("signals.\"a b\\n\": unknown key"));
}

#[test]
fn missing_signal_and_missing_fields_are_named() {
    assert_eq!(
        problems_of(&with(&["signals", "crisis"], None)),
        ["signals.crisis: missing"]
    );
    assert_eq!(problems_of(&with(&["topic"], None)), ["topic: missing"]);
    assert_eq!(
        problems_of(&json!({})),
        [
            "signals: missing",
            "escalation_risk: missing",
            "crisis: missing",
            "grow_stage: missing",
            "topic: missing",
            "rationale: missing"
        ]
    );
}

#[test]
fn every_problem_is_listed_and_the_clarification_names_them() {
    let mut v = with(&["signals", "distress"], Some(json!(1.4)));
    v["grow_stage"] = json!("planning");
    v["extra"] = json!(true);
    let err = parse_verdict(&v).unwrap_err();
    assert_eq!(
        err.problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "extra: unknown key (allowed: signals, escalation_risk, crisis, grow_stage, topic, rationale)",
            "signals.distress: 1.4 is out of range 0..1",
            "grow_stage: \"planning\" is not one of goal, reality, options, will, other",
        ]
    );
    assert_eq!(
        err.clarification(),
        "Your previous answer was invalid: extra: unknown key (allowed: signals, escalation_risk, \
         crisis, grow_stage, topic, rationale); signals.distress: 1.4 is out of range 0..1; \
         grow_stage: \"planning\" is not one of goal, reality, options, will, other. \
         Answer again with only JSON matching the schema."
    );
    assert!(
        err.to_string()
            .starts_with("invalid analyzer verdict: extra: unknown key")
    );
}

#[test]
fn a_long_list_of_problems_is_cut_in_the_clarification() {
    let mut v = json!({});
    for i in 0..12 {
        v[format!("k{i:02}")] = json!(i);
    }
    let err = parse_verdict(&v).unwrap_err();
    assert_eq!(err.problems().len(), 18);
    assert!(
        err.clarification().contains("; and 10 more. Answer again"),
        "{}",
        err.clarification()
    );
}

#[test]
fn nan_and_infinite_scores_are_rejected() {
    // JSON has no NaN: a model writing one produces invalid JSON.
    let text = valid_json()
        .to_string()
        .replace("\"distress\":0.0", "\"distress\":NaN");
    assert!(text.contains("NaN"));
    let err = parse_verdict(text.as_str()).unwrap_err();
    assert!(
        err.problems()[0]
            .message
            .starts_with("the answer is not valid JSON"),
        "{err}"
    );
    let huge = valid_json()
        .to_string()
        .replace("\"distress\":0.0", "\"distress\":1e400");
    assert!(parse_verdict(huge.as_str()).is_err());

    // A verdict built in code is held to the same rule.
    let mut v = verdict(&[]);
    v.scores.set(Distress, f32::NAN);
    v.scores.set(Crisis, f32::INFINITY);
    let err = v.validate().unwrap_err();
    assert_eq!(
        err.problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "signals.distress: NaN is not a finite number",
            "signals.crisis: inf is not a finite number"
        ]
    );
    assert!(verdict(&[(Distress, 0.5)]).validate().is_ok());
}

#[test]
fn text_that_is_not_one_json_object_is_rejected() {
    for (text, expected) in [
        ("", "the answer is empty"),
        (
            "```json\n{}\n```",
            "the answer is wrapped in a Markdown code fence; send the bare JSON object",
        ),
        ("[1, 2]", "expected a JSON object, got an array"),
        ("\"hello\"", "expected a JSON object, got string \"hello\""),
    ] {
        let err = parse_verdict(text).unwrap_err();
        assert_eq!(err.problems()[0].to_string(), expected, "{text}");
    }
    let prose = format!("Here is my analysis: {}", valid_json());
    assert!(
        parse_verdict(prose.as_str()).unwrap_err().problems()[0]
            .message
            .starts_with("the answer is not valid JSON")
    );
    // A repeated key is ambiguous: refused, not resolved silently.
    let twice = valid_json()
        .to_string()
        .replace("\"crisis\":false", "\"crisis\":true,\"crisis\":false");
    assert!(
        twice.contains("\"crisis\":true,\"crisis\":false"),
        "{twice}"
    );
    let err = parse_verdict(twice.as_str()).unwrap_err();
    assert!(
        err.problems()[0]
            .message
            .starts_with("the answer has a duplicate key `crisis` at line 1"),
        "{err}"
    );
    let trailing = format!("{} and more", valid_json());
    assert!(parse_verdict(trailing.as_str()).is_err());
    let big = " ".repeat(10) + &"x".repeat(20_000);
    assert!(
        parse_verdict(big.as_str()).unwrap_err().problems()[0]
            .message
            .contains("far more than a verdict")
    );
}

#[test]
fn deserializing_a_verdict_applies_the_same_validation() {
    let bad = with(&["signals", "distress"], Some(json!(2.0))).to_string();
    let err = serde_json::from_str::<AnalyzerVerdict>(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("signals.distress: 2.0 is out of range 0..1"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// schema

fn walk_objects(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    if let Some(obj) = v.as_object() {
        if obj.get("type") == Some(&json!("object")) {
            out.push((path.to_string(), v.clone()));
        }
        for (k, child) in obj {
            walk_objects(child, &format!("{path}/{k}"), out);
        }
    }
}

#[test]
fn schema_is_strict_and_lists_every_field_and_signal() {
    let schema = json_schema();
    let mut objects = Vec::new();
    walk_objects(&schema, "", &mut objects);
    assert_eq!(objects.len(), 2, "the verdict and its signals");
    for (path, obj) in &objects {
        assert_eq!(obj["additionalProperties"], json!(false), "at {path}");
        let props: Vec<&String> = obj["properties"].as_object().unwrap().keys().collect();
        let mut required: Vec<String> = obj["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        required.sort();
        let mut props: Vec<String> = props.into_iter().cloned().collect();
        props.sort();
        assert_eq!(required, props, "every property is required at {path}");
    }
    let signals = &schema["properties"]["signals"];
    assert_eq!(
        signals["required"],
        json!([
            "long_context",
            "complex_decision",
            "deep_reflection",
            "strategic_planning",
            "escalation_prep",
            "distress",
            "crisis"
        ])
    );
    for kind in SignalKind::ALL {
        assert_eq!(
            signals["properties"][kind.as_str()]["type"],
            json!("number")
        );
    }
    assert_eq!(
        schema["required"],
        json!([
            "signals",
            "escalation_risk",
            "crisis",
            "grow_stage",
            "topic",
            "rationale"
        ])
    );
    assert_eq!(
        schema["properties"]["grow_stage"]["enum"],
        json!(["goal", "reality", "options", "will", "other"])
    );
    assert_eq!(
        schema["properties"]["escalation_risk"]["enum"],
        json!(["none", "low", "medium", "high"])
    );
    // Keywords some strict modes reject are left out; the validator enforces them.
    let text = schema.to_string();
    for keyword in ["minimum", "maximum", "maxLength", "minLength", "pattern"] {
        assert!(!text.contains(&format!("\"{keyword}\"")), "{keyword}");
    }
    // The valid example's keys are exactly the schema's.
    let example = valid_json();
    let mut keys: Vec<&String> = example.as_object().unwrap().keys().collect();
    keys.sort();
    let mut schema_keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    schema_keys.sort();
    assert_eq!(keys, schema_keys);
}

// ---------------------------------------------------------------------------------------
// presets and settings

fn line_of(src: &str, needle: &str) -> usize {
    src.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle} not in presets"))
}

/// Replaces the `n`th line containing `from` after `[presets.<table>]` with `to`.
fn edit(table: &str, from: &str, to: &str) -> String {
    let header = format!("[presets.{table}]");
    let start = BUILTIN_PRESETS.find(&header).unwrap();
    let offset = start + BUILTIN_PRESETS[start..].find(from).unwrap();
    let mut src = BUILTIN_PRESETS.to_string();
    src.replace_range(offset..offset + from.len(), to);
    src
}

#[test]
fn builtin_presets_load_with_the_five_presets() {
    let presets = AnalyzerPresets::builtin().unwrap();
    let names: Vec<&str> = presets.presets().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["off", "fast", "cheap", "balanced", "reliable"]);
    assert_eq!(presets.default_preset(), "off");
    assert_eq!(presets.merge_policy(), MergePolicy::default());
    let catalog = Catalog::builtin().unwrap();
    for p in presets.presets() {
        match p.name.as_str() {
            "off" => assert!(p.model.is_none()),
            _ => {
                let model = p.model.as_deref().unwrap();
                let spec = catalog.get(model).unwrap();
                assert!(!spec.is_offline());
                assert!((0..=1).contains(&p.retries));
                assert!(p.budget_ms >= 100);
            }
        }
    }
    assert_eq!(presets.get("balanced").unwrap().budget_ms, 1_500);
    assert_eq!(presets.get("balanced").unwrap().failure_threshold, 3);
    assert_eq!(presets.get("balanced").unwrap().cooldown_secs, 30);
}

#[test]
fn each_invalid_preset_field_names_file_and_line() {
    let catalog = Catalog::builtin().unwrap();
    let cases = [
        (
            edit("fast", "model = \"gpt-4o-mini\"", "model = \"gpt-4o-mni\""),
            "model = \"gpt-4o-mni\"",
            "presets.fast.model",
            "unknown model `gpt-4o-mni`",
        ),
        (
            edit(
                "fast",
                "model = \"gpt-4o-mini\"",
                "model = \"offline-coach\"",
            ),
            "model = \"offline-coach\"",
            "presets.fast.model",
            "`offline-coach` is the offline coach and cannot analyze messages",
        ),
        (
            edit("cheap", "budget_ms = 1500", "budget_ms = 50"),
            "budget_ms = 50",
            "presets.cheap.budget_ms",
            "50 is out of range 100..=30000 (milliseconds)",
        ),
        (
            edit("balanced", "retries = 1", "retries = 2"),
            "retries = 2",
            "presets.balanced.retries",
            "2 is out of range 0..=1 (the analyzer is retried at most once)",
        ),
        (
            edit("balanced", "cache_size = 1024", "cache_size = 0"),
            "cache_size = 0",
            "presets.balanced.cache_size",
            "0 is out of range 1..=1000000 (verdicts)",
        ),
        (
            edit("reliable", "failure_threshold = 5", "failure_threshold = 0"),
            "failure_threshold = 0",
            "presets.reliable.failure_threshold",
            "0 is out of range 1..=100 (consecutive failures)",
        ),
        (
            edit("reliable", "cooldown_secs = 20", "cooldown_secs = 0"),
            "cooldown_secs = 0",
            "presets.reliable.cooldown_secs",
            "0 is out of range 1..=3600 (seconds)",
        ),
        (
            edit("reliable", "context_turns = 6", "context_turns = 50"),
            "context_turns = 50",
            "presets.reliable.context_turns",
            "50 is out of range 0..=20 (turns)",
        ),
        (
            edit(
                "off",
                "enabled = false",
                "enabled = false\nmodel = \"gpt-4o\"",
            ),
            "model = \"gpt-4o\"",
            "presets.off.model",
            "preset `off` is disabled and runs no model",
        ),
        (
            BUILTIN_PRESETS.replace("crisis_floor = 0.9", "crisis_floor = 0.3"),
            "crisis_floor = 0.3",
            "merge.crisis_floor",
            "0.3 is out of range 0.5..=1 (signal score)",
        ),
        (
            BUILTIN_PRESETS.replace(
                "lower_below_confidence = 0.2",
                "lower_below_confidence = 0.5",
            ),
            "lower_below_confidence = 0.5",
            "merge.lower_below_confidence",
            "0.5 is above min_analyzer_score 0.3: the analyzer could lower a signal it would itself report",
        ),
        (
            BUILTIN_PRESETS.replace("default = \"off\"", "default = \"balancd\""),
            "default = \"balancd\"",
            "default",
            "unknown preset `balancd`",
        ),
        (
            BUILTIN_PRESETS.replace("[presets.cheap]", "[presets.thrifty]"),
            "[presets.off]",
            "presets",
            "preset `cheap` is missing",
        ),
    ];
    for (src, line_text, key, message) in cases {
        let err = AnalyzerPresets::parse(BUILTIN_PRESETS_FILE, &src, &catalog).unwrap_err();
        let line = line_of(&src, line_text);
        assert_eq!(
            (err.line, err.key.as_str(), err.message.as_str()),
            (line, key, message),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("assets/analyzer_presets.toml:{line}:")),
            "{err}"
        );
    }
    // Hints: the nearest model, the nearest preset.
    let src = edit("fast", "model = \"gpt-4o-mini\"", "model = \"gpt-4o-mni\"");
    let err = AnalyzerPresets::parse(BUILTIN_PRESETS_FILE, &src, &catalog).unwrap_err();
    assert!(err.hint.unwrap().contains("did you mean `gpt-4o-mini`"));
    let src = BUILTIN_PRESETS.replace("default = \"off\"", "default = \"balancd\"");
    let err = AnalyzerPresets::parse(BUILTIN_PRESETS_FILE, &src, &catalog).unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `balanced`?"));
}

#[test]
fn syntax_unknown_keys_and_wrong_types_are_located() {
    let catalog = Catalog::builtin().unwrap();
    for (src, line_text, message_part) in [
        (
            edit("fast", "retries = 0", "retries = 0\nbudget = 5"),
            "budget = 5",
            "unknown field `budget`",
        ),
        (
            edit("cheap", "budget_ms = 1500", "budget_ms = \"fast\""),
            "budget_ms = \"fast\"",
            "invalid type",
        ),
        (
            edit(
                "cheap",
                "description = \"Lowest cost",
                "description = Lowest cost",
            ),
            "description = Lowest cost",
            "",
        ),
        (
            edit("fast", "retries = 0", "retries = 0\nretries = 1"),
            "retries = 1",
            "",
        ),
    ] {
        let err = AnalyzerPresets::parse(BUILTIN_PRESETS_FILE, &src, &catalog).unwrap_err();
        assert_eq!(err.line, line_of(&src, line_text), "{err}");
        assert!(err.message.contains(message_part), "{err}");
    }
    // A preset with no model that is not disabled.
    let src = edit("fast", "model = \"gpt-4o-mini\"\n", "");
    let err = AnalyzerPresets::parse(BUILTIN_PRESETS_FILE, &src, &catalog).unwrap_err();
    assert_eq!(err.key, "presets.fast.model");
    assert_eq!(err.line, line_of(&src, "[presets.fast]"), "{err}");
    assert_eq!(err.message, "preset `fast` needs a `model`");
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDoc {
    #[serde(default)]
    analyzer: AnalyzerSettings,
}

fn settings(src: &str) -> AnalyzerSettings {
    toml::from_str::<ConfigDoc>(src).unwrap().analyzer
}

#[test]
fn settings_resolve_presets_and_overrides() {
    let presets = AnalyzerPresets::builtin().unwrap();
    let catalog = Catalog::builtin().unwrap();

    let off = AnalyzerSettings::default()
        .resolve(&presets, &catalog)
        .unwrap();
    assert_eq!(off.preset, "off");
    assert!(!off.is_enabled());

    let balanced = settings("[analyzer]\npreset = \"balanced\"\n")
        .resolve(&presets, &catalog)
        .unwrap();
    assert_eq!(balanced.model.as_deref(), Some("gpt-4.1-mini"));
    assert_eq!(balanced.budget_ms, 1_500);
    assert_eq!(balanced.retries, 1);
    assert_eq!(balanced.cache_size, NonZeroUsize::new(1_024));
    assert_eq!(balanced.cooldown_ms, 30_000);
    assert_eq!(balanced.merge, MergePolicy::default());

    let tuned = settings(
        "[analyzer]\npreset = \"fast\"\nmodel = \"claude-haiku-4-5\"\nbudget_ms = 800\ncache = false\n\
         failure_threshold = 2\ncooldown_secs = 10\nlower_below_confidence = 0.1\n",
    )
    .resolve(&presets, &catalog)
    .unwrap();
    assert_eq!(tuned.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(tuned.budget_ms, 800);
    assert_eq!(tuned.retries, 0, "from the preset");
    assert_eq!(tuned.cache_size, None);
    assert_eq!(tuned.merge.lower_below_confidence, 0.1);
    assert_eq!(tuned.merge.min_analyzer_score, 0.3);
    assert_eq!(tuned.health_policy().failure_threshold, 2);
    assert_eq!(tuned.health_policy().cooldown_ms, 10_000);

    // Unknown keys in [analyzer] are refused by the config parser.
    assert!(toml::from_str::<ConfigDoc>("[analyzer]\npreset = \"fast\"\nbudget = 1\n").is_err());
}

#[test]
fn bad_settings_name_the_key_and_locate_in_the_config() {
    let presets = AnalyzerPresets::builtin().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let cases = [
        (
            "[analyzer]\npreset = \"balancd\"\n",
            "preset",
            2,
            "unknown analyzer preset `balancd`",
            Some("did you mean `balanced`?"),
        ),
        (
            "[analyzer]\npreset = \"off\"\nmodel = \"gpt-4o-mini\"\n",
            "model",
            3,
            "preset `off` runs no analyzer, so it takes no model",
            None,
        ),
        (
            "[analyzer]\npreset = \"fast\"\nmodel = \"gpt-4o-mni\"\n",
            "model",
            3,
            "unknown model `gpt-4o-mni`",
            None,
        ),
        (
            "[analyzer]\npreset = \"cheap\"\n\nretries = 3\n",
            "retries",
            4,
            "3 is out of range 0..=1 (the analyzer is retried at most once)",
            None,
        ),
        (
            "[analyzer]\npreset = \"cheap\"\nmin_analyzer_score = 1.5\n",
            "min_analyzer_score",
            3,
            "1.5 is out of range 0..=1 (signal score)",
            None,
        ),
    ];
    for (src, field, line, message, hint) in cases {
        let err = settings(src).resolve(&presets, &catalog).unwrap_err();
        assert_eq!((err.field, err.message.as_str()), (field, message));
        if let Some(hint) = hint {
            assert_eq!(err.hint.as_deref(), Some(hint));
        }
        let located = err.locate("config.toml", src);
        assert_eq!(located.line, line, "{located}");
        assert_eq!(located.key, format!("analyzer.{field}"));
        assert!(
            located
                .to_string()
                .starts_with(&format!("config.toml:{line}:"))
        );
    }
}

#[test]
fn analyzer_circuit_opens_after_consecutive_failures_and_recovers() {
    let presets = AnalyzerPresets::builtin().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let resolved = settings("[analyzer]\npreset = \"balanced\"\n")
        .resolve(&presets, &catalog)
        .unwrap();
    let key = grow::routing::analyzer::ANALYZER_HEALTH_KEY;
    let mut book = HealthBook::new(resolved.health_policy());
    let fail = Outcome::Failure {
        retry_after_ms: None,
    };
    // Consecutive failures count however far apart they are.
    let hour = 3_600_000;
    book.record(key, fail, 0);
    book.record(key, fail, hour);
    assert_eq!(book.state(key, hour), HealthState::Closed);
    book.record(key, fail, 2 * hour);
    assert_eq!(
        book.state(key, 2 * hour),
        HealthState::Open {
            remaining_ms: 30_000
        }
    );
    assert_eq!(book.state(key, 2 * hour + 30_000), HealthState::HalfOpen);
    book.begin_call(key, 2 * hour + 30_000);
    book.record(key, Outcome::Success, 2 * hour + 30_100);
    assert_eq!(book.state(key, 2 * hour + 30_100), HealthState::Closed);
}

// ---------------------------------------------------------------------------------------
// cache

fn cache(capacity: usize, turns: usize) -> AnalyzerCache {
    AnalyzerCache::new(NonZeroUsize::new(capacity).unwrap(), turns)
}

#[test]
fn cache_counts_hits_and_misses() {
    let mut c = cache(4, 2);
    let key = c.key_for("Should I take the offer?", &[]);
    assert_eq!(c.get(&key), None);
    c.put(key, verdict(&[(ComplexDecision, 0.8)]));
    assert_eq!(
        c.get(&key).map(|v| v.scores.get(ComplexDecision)),
        Some(0.8)
    );
    assert_eq!((c.hits(), c.misses(), c.len()), (1, 1, 1));
    assert!(!c.is_empty());
}

#[test]
fn cache_evicts_the_least_recently_used() {
    let mut c = cache(2, 0);
    let (a, b, d) = (
        cache_key("a", &[]),
        cache_key("b", &[]),
        cache_key("d", &[]),
    );
    c.put(a, verdict(&[]));
    c.put(b, verdict(&[]));
    assert!(c.get(&a).is_some(), "a is now the most recent");
    c.put(d, verdict(&[]));
    assert_eq!(c.len(), 2);
    assert!(c.get(&b).is_none(), "b was least recently used");
    assert!(c.get(&a).is_some());
    assert!(c.get(&d).is_some());
    assert_eq!(c.capacity().get(), 2);
}

#[test]
fn cache_key_normalises_the_message_and_turns() {
    assert_eq!(
        normalise("  Should I\t\ttake  the\nOFFER? "),
        "should i take the offer?"
    );
    assert_eq!(normalise("要不要\u{3000}\u{3000}换工作"), "要不要 换工作");
    assert_eq!(
        cache_key("  Should I\t take the OFFER? ", &["I got Two offers"]),
        cache_key("should i take the offer?", &["i got two   offers"])
    );
    assert_ne!(
        cache_key("should i take the offer?", &[]),
        cache_key("should i take the offer", &[])
    );
    // Context matters, and so do the boundaries between parts.
    assert_ne!(
        cache_key("take it?", &["offer a"]),
        cache_key("take it?", &["offer b"])
    );
    assert_ne!(cache_key("x", &["ab", "c"]), cache_key("x", &["a", "bc"]));
    assert_ne!(cache_key("x", &["y"]), cache_key("x y", &[]));
}

#[test]
fn cache_key_uses_only_the_last_context_turns() {
    let c = cache(8, 2);
    let k1 = c.key_for("and now?", &["old one", "t2", "t3"]);
    let k2 = c.key_for("and now?", &["old two", "t2", "t3"]);
    assert_eq!(k1, k2, "turns older than the last two do not count");
    assert_eq!(k1, cache_key("and now?", &["t2", "t3"]));
    assert_ne!(k1, c.key_for("and now?", &["t2", "t4"]));
    let none = cache(8, 0);
    assert_eq!(none.key_for("m", &["a", "b"]), cache_key("m", &[]));
    assert_eq!(c.key_for("m", &["a"]), cache_key("m", &["a"]));
}

#[test]
fn cache_follows_the_resolved_settings() {
    let presets = AnalyzerPresets::builtin().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let resolve = |src: &str| settings(src).resolve(&presets, &catalog).unwrap();

    let cheap = AnalyzerCache::for_settings(&resolve("[analyzer]\npreset = \"cheap\"\n")).unwrap();
    assert_eq!((cheap.capacity().get(), cheap.context_turns()), (4_096, 2));
    assert!(AnalyzerCache::for_settings(&resolve("[analyzer]\npreset = \"off\"\n")).is_none());
    let no_cache = resolve("[analyzer]\npreset = \"fast\"\ncache = false\n");
    assert!(AnalyzerCache::for_settings(&no_cache).is_none());
}

#[test]
fn schema_snapshot() {
    // The exact schema sent to providers; a change here is a contract change.
    let pretty = serde_json::to_string_pretty(&json_schema()).unwrap();
    insta::assert_snapshot!("verdict_schema", pretty);
}

#[test]
fn analyzer_status_maps_to_signal_origin() {
    use grow::routing::analyzer::AnalyzerStatus::*;
    for (status, origin, failure, text) in [
        (Off, SignalOrigin::Deterministic, false, "off"),
        (Used, SignalOrigin::Analyzer, false, "used"),
        (Cached, SignalOrigin::Analyzer, false, "cached"),
        (TimedOut, SignalOrigin::Fallback, true, "timed_out"),
        (CircuitOpen, SignalOrigin::Fallback, false, "circuit_open"),
        (Invalid, SignalOrigin::Fallback, true, "invalid"),
        (Failed, SignalOrigin::Fallback, true, "failed"),
    ] {
        assert_eq!(status.signal_origin(), origin, "{status}");
        assert_eq!(status.is_failure(), failure, "{status}");
        assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
    }
}

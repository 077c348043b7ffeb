//! Routing accuracy on the labelled set `tests/data/routing_cases.jsonl`.
//!
//! Runs every case through the deterministic detectors (upgrade = any signal scoring at least
//! `DEFAULT_UPGRADE_THRESHOLD`, `long_context_turns` = 40), prints a report and fails below
//! the floors of issue 2. Run `cargo test --test routing_accuracy -- --nocapture` to see it.
//!
//! `predict` is the only function that knows about the detectors: swap it for the full Router
//! and the metrics stay as they are.

use std::collections::BTreeSet;

use grow::routing::lexicon::Lexicon;
use grow::routing::signals::{DEFAULT_UPGRADE_THRESHOLD, detect, safety_of};
use grow::routing::types::{EscalationRisk, Safety, SignalContext, SignalKind};
use serde::Deserialize;

const CASES: &str = include_str!("data/routing_cases.jsonl");
const LONG_CONTEXT_TURNS: u32 = 40;

const MIN_ACCURACY: f64 = 0.90;
const MAX_FALSE_UPGRADE: f64 = 0.05;
const MIN_CRISIS_RECALL: f64 = 1.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    lang: String,
    message: String,
    #[serde(default)]
    turns: Option<u32>,
    #[serde(default)]
    escalation_risk: Option<EscalationRisk>,
    expect_upgrade: bool,
    expect_signals: Vec<SignalKind>,
    expect_safety: Safety,
    #[serde(default)]
    #[allow(dead_code)] // documents the case for readers of the data file
    note: Option<String>,
}

/// What the routing core decided for one case.
#[derive(Debug)]
struct Prediction {
    upgraded: bool,
    fired: BTreeSet<SignalKind>,
    safety: Safety,
}

fn load_cases() -> Vec<Case> {
    CASES
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("routing_cases.jsonl line {}: {e}", i + 1))
        })
        .collect()
}

fn predict(lexicon: &Lexicon, case: &Case) -> Prediction {
    let ctx = SignalContext {
        message: &case.message,
        prior_turns: case.turns.unwrap_or(0),
        escalation_risk: case.escalation_risk.unwrap_or_default(),
        long_context_turns: LONG_CONTEXT_TURNS,
    };
    let signals = detect(lexicon, &ctx);
    let fired: BTreeSet<SignalKind> = signals
        .iter()
        .filter(|s| s.score >= DEFAULT_UPGRADE_THRESHOLD)
        .map(|s| s.kind)
        .collect();
    Prediction {
        upgraded: !fired.is_empty(),
        safety: safety_of(&signals, DEFAULT_UPGRADE_THRESHOLD),
        fired,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// `num / den`, or 1.0 when there is nothing to measure.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

fn upgrade_accuracy(cases: &[Case], preds: &[Prediction]) -> f64 {
    let right = cases
        .iter()
        .zip(preds)
        .filter(|(c, p)| c.expect_upgrade == p.upgraded)
        .count();
    ratio(right, cases.len())
}

/// Share of messages that should stay on the default model but were upgraded.
fn false_upgrade_rate(cases: &[Case], preds: &[Prediction]) -> f64 {
    let routine: Vec<_> = cases
        .iter()
        .zip(preds)
        .filter(|(c, _)| !c.expect_upgrade)
        .collect();
    let wrong = routine.iter().filter(|(_, p)| p.upgraded).count();
    if routine.is_empty() {
        0.0
    } else {
        wrong as f64 / routine.len() as f64
    }
}

fn crisis_recall(cases: &[Case], preds: &[Prediction]) -> f64 {
    let crisis: Vec<_> = cases
        .iter()
        .zip(preds)
        .filter(|(c, _)| c.expect_safety == Safety::Crisis)
        .collect();
    let caught = crisis
        .iter()
        .filter(|(_, p)| p.safety == Safety::Crisis)
        .count();
    ratio(caught, crisis.len())
}

fn per_signal(cases: &[Case], preds: &[Prediction]) -> Vec<(SignalKind, Counts)> {
    SignalKind::ALL
        .into_iter()
        .map(|kind| {
            let mut c = Counts::default();
            for (case, pred) in cases.iter().zip(preds) {
                let expected = case.expect_signals.contains(&kind);
                let got = pred.fired.contains(&kind);
                match (expected, got) {
                    (true, true) => c.tp += 1,
                    (false, true) => c.fp += 1,
                    (true, false) => c.fn_ += 1,
                    (false, false) => {}
                }
            }
            (kind, c)
        })
        .collect()
}

fn kinds(set: impl IntoIterator<Item = SignalKind>) -> String {
    let names: Vec<&str> = set.into_iter().map(|k| k.as_str()).collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(",")
    }
}

fn report(cases: &[Case], preds: &[Prediction]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let en = cases.iter().filter(|c| c.lang == "en").count();
    let routine = cases.iter().filter(|c| !c.expect_upgrade).count();
    let _ = writeln!(
        out,
        "routing accuracy on {} cases ({} en, {} zh; {} routine)",
        cases.len(),
        en,
        cases.len() - en,
        routine
    );
    let _ = writeln!(
        out,
        "  upgrade accuracy   {:.3}",
        upgrade_accuracy(cases, preds)
    );
    let _ = writeln!(
        out,
        "  false-upgrade rate {:.3}",
        false_upgrade_rate(cases, preds)
    );
    let _ = writeln!(
        out,
        "  crisis recall      {:.3}",
        crisis_recall(cases, preds)
    );
    for lang in ["en", "zh"] {
        let (c, p): (Vec<&Case>, Vec<&Prediction>) = cases
            .iter()
            .zip(preds)
            .filter(|(c, _)| c.lang == lang)
            .unzip();
        let right = c
            .iter()
            .zip(&p)
            .filter(|(c, p)| c.expect_upgrade == p.upgraded)
            .count();
        let _ = writeln!(
            out,
            "  {lang} upgrade accuracy {:.3}",
            ratio(right, c.len())
        );
    }
    let _ = writeln!(
        out,
        "  {:<20} {:>5} {:>5} {:>5}   tp/fp/fn",
        "signal", "P", "R", "F1"
    );
    for (kind, c) in per_signal(cases, preds) {
        let _ = writeln!(
            out,
            "  {:<20} {:>5.2} {:>5.2} {:>5.2}   {}/{}/{}",
            kind.as_str(),
            c.precision(),
            c.recall(),
            c.f1(),
            c.tp,
            c.fp,
            c.fn_
        );
    }
    let _ = writeln!(out, "  misclassified upgrade decisions:");
    for (case, pred) in cases.iter().zip(preds) {
        if case.expect_upgrade != pred.upgraded {
            let _ = writeln!(
                out,
                "    {} expected {} got {} [{}]: {}",
                case.id,
                case.expect_upgrade,
                pred.upgraded,
                kinds(pred.fired.iter().copied()),
                case.message
            );
        }
    }
    let _ = writeln!(out, "  signal-set mismatches (upgrade decision right):");
    for (case, pred) in cases.iter().zip(preds) {
        let expected: BTreeSet<SignalKind> = case.expect_signals.iter().copied().collect();
        if case.expect_upgrade == pred.upgraded && expected != pred.fired {
            let _ = writeln!(
                out,
                "    {} expected [{}] got [{}]",
                case.id,
                kinds(expected),
                kinds(pred.fired.iter().copied())
            );
        }
    }
    out
}

#[test]
fn dataset_is_well_formed() {
    let cases = load_cases();
    assert!(cases.len() >= 220, "only {} cases", cases.len());
    let mut ids = BTreeSet::new();
    for c in &cases {
        assert!(ids.insert(c.id.as_str()), "duplicate id {}", c.id);
        assert!(
            c.lang == "en" || c.lang == "zh",
            "{}: lang {}",
            c.id,
            c.lang
        );
        assert_eq!(c.expect_upgrade, !c.expect_signals.is_empty(), "{}", c.id);
        let safety = if c.expect_signals.contains(&SignalKind::Crisis) {
            Safety::Crisis
        } else if c.expect_signals.contains(&SignalKind::Distress) {
            Safety::Distress
        } else {
            Safety::None
        };
        assert_eq!(c.expect_safety, safety, "{}", c.id);
    }
    let en = cases.iter().filter(|c| c.lang == "en").count();
    assert!(
        en * 10 >= cases.len() * 4 && en * 10 <= cases.len() * 6,
        "en {en}"
    );
    for kind in SignalKind::ALL {
        let n = cases
            .iter()
            .filter(|c| c.expect_signals.contains(&kind))
            .count();
        assert!(n >= 5, "only {n} cases for {kind}");
    }
}

#[test]
fn routing_accuracy_meets_floors() {
    let lexicon = Lexicon::builtin().unwrap_or_else(|e| panic!("{e}"));
    let cases = load_cases();
    let preds: Vec<Prediction> = cases.iter().map(|c| predict(&lexicon, c)).collect();
    println!("{}", report(&cases, &preds));

    let accuracy = upgrade_accuracy(&cases, &preds);
    let false_upgrade = false_upgrade_rate(&cases, &preds);
    let crisis = crisis_recall(&cases, &preds);
    assert!(
        accuracy >= MIN_ACCURACY,
        "upgrade accuracy {accuracy:.3} < {MIN_ACCURACY}"
    );
    assert!(
        false_upgrade <= MAX_FALSE_UPGRADE,
        "false-upgrade rate {false_upgrade:.3} > {MAX_FALSE_UPGRADE}"
    );
    assert!(
        crisis >= MIN_CRISIS_RECALL,
        "crisis recall {crisis:.3} < {MIN_CRISIS_RECALL}"
    );
}

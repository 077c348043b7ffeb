//! The analyzer's answer and its strict validation.
//!
//! Model output is untrusted: every field is checked (type, range, enum, length, shape) and
//! every problem is reported with its field path, so the one retry can tell the model exactly
//! what to fix and the log shows exactly what was wrong.

use std::fmt;
use std::str::FromStr;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::routing::types::{EscalationRisk, SignalKind};

/// The top-level fields of a verdict, in schema order.
pub(crate) const FIELDS: [&str; 6] = [
    "signals",
    "escalation_risk",
    "crisis",
    "grow_stage",
    "topic",
    "rationale",
];
pub const TOPIC_MAX_CHARS: usize = 80;
pub const RATIONALE_MAX_CHARS: usize = 300;
/// A verdict is a few hundred bytes; anything far larger is not one and is not parsed.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// The clarification lists this many problems, then counts the rest.
const MAX_LISTED_PROBLEMS: usize = 8;

/// Where the person is in the GROW model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowStage {
    Goal,
    Reality,
    Options,
    Will,
    #[default]
    Other,
}

impl GrowStage {
    pub const ALL: [GrowStage; 5] = [
        GrowStage::Goal,
        GrowStage::Reality,
        GrowStage::Options,
        GrowStage::Will,
        GrowStage::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrowStage::Goal => "goal",
            GrowStage::Reality => "reality",
            GrowStage::Options => "options",
            GrowStage::Will => "will",
            GrowStage::Other => "other",
        }
    }
}

impl fmt::Display for GrowStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrowStage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GrowStage::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not one of {}",
                    names(GrowStage::ALL.map(|g| g.as_str()))
                )
            })
    }
}

const RISKS: [EscalationRisk; 4] = [
    EscalationRisk::None,
    EscalationRisk::Low,
    EscalationRisk::Medium,
    EscalationRisk::High,
];

fn names<const N: usize>(all: [&str; N]) -> String {
    all.join(", ")
}

/// One score per signal kind. Serialized as a map keyed by kind name, in contract order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SignalScores([f32; 7]);

impl SignalScores {
    /// Scores in `SignalKind::ALL` order.
    pub fn new(scores: [f32; 7]) -> Self {
        SignalScores(scores)
    }

    pub fn get(&self, kind: SignalKind) -> f32 {
        self.0[slot(kind)]
    }

    pub fn set(&mut self, kind: SignalKind, score: f32) {
        self.0[slot(kind)] = score;
    }

    pub fn iter(&self) -> impl Iterator<Item = (SignalKind, f32)> + '_ {
        SignalKind::ALL.into_iter().map(|k| (k, self.get(k)))
    }

    pub fn as_array(&self) -> [f32; 7] {
        self.0
    }
}

fn slot(kind: SignalKind) -> usize {
    match kind {
        SignalKind::LongContext => 0,
        SignalKind::ComplexDecision => 1,
        SignalKind::DeepReflection => 2,
        SignalKind::StrategicPlanning => 3,
        SignalKind::EscalationPrep => 4,
        SignalKind::Distress => 5,
        SignalKind::Crisis => 6,
    }
}

impl Serialize for SignalScores {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(7))?;
        for (kind, score) in self.iter() {
            map.serialize_entry(kind.as_str(), &score)?;
        }
        map.end()
    }
}

/// What the analyzer says about one message (with its recent context).
///
/// Deserializing goes through [`parse_verdict`], so a verdict read back from anywhere (a cache
/// row, a log) is held to the same rules as a fresh answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct AnalyzerVerdict {
    /// A score in 0..=1 for each of the seven signal kinds.
    #[serde(rename = "signals")]
    pub scores: SignalScores,
    pub escalation_risk: EscalationRisk,
    /// Acute risk (self-harm, suicidal intent).
    pub crisis: bool,
    pub grow_stage: GrowStage,
    /// A few words: what the message is about.
    pub topic: String,
    /// One sentence: why these scores.
    pub rationale: String,
}

impl TryFrom<Value> for AnalyzerVerdict {
    type Error = VerdictError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        parse_verdict(&value)
    }
}

impl AnalyzerVerdict {
    /// Checks the value rules (ranges, finite scores, text lengths, one sentence) on a verdict
    /// built in code; a parsed verdict has passed them already.
    pub fn validate(&self) -> Result<(), VerdictError> {
        let mut problems = Vec::new();
        for (kind, score) in self.scores.iter() {
            problems.extend(score_problem(kind, f64::from(score), &score));
        }
        problems.extend(topic_problems(&self.topic));
        problems.extend(rationale_problems(&self.rationale));
        VerdictError::from_problems(problems)
    }
}

/// One thing wrong with an answer: the field path (`signals.distress`, or empty for the
/// answer as a whole) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one answer (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictError {
    problems: Vec<Problem>,
}

impl VerdictError {
    fn from_problems(problems: Vec<Problem>) -> Result<(), VerdictError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(VerdictError { problems })
        }
    }

    fn single(path: &str, message: impl Into<String>) -> Self {
        VerdictError {
            problems: vec![Problem::new(path, message)],
        }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems as one line, the first few listed and the rest counted.
    fn listed(&self) -> String {
        let mut text = self
            .problems
            .iter()
            .take(MAX_LISTED_PROBLEMS)
            .map(Problem::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let rest = self.problems.len().saturating_sub(MAX_LISTED_PROBLEMS);
        if rest > 0 {
            text.push_str(&format!("; and {rest} more"));
        }
        text
    }

    /// The user-turn text of the one retry: names what was wrong and asks for bare JSON.
    pub fn clarification(&self) -> String {
        format!(
            "Your previous answer was invalid: {}. Answer again with only JSON matching the schema.",
            self.listed()
        )
    }
}

impl fmt::Display for VerdictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid analyzer verdict: {}", self.listed())
    }
}

impl std::error::Error for VerdictError {}

/// An answer as received: the text of a message (OpenAI `response_format`) or an already
/// parsed value (the input of an Anthropic forced tool call).
#[derive(Debug, Clone, Copy)]
pub enum VerdictInput<'a> {
    Text(&'a str),
    Value(&'a Value),
}

impl<'a> From<&'a str> for VerdictInput<'a> {
    fn from(text: &'a str) -> Self {
        VerdictInput::Text(text)
    }
}

impl<'a> From<&'a String> for VerdictInput<'a> {
    fn from(text: &'a String) -> Self {
        VerdictInput::Text(text)
    }
}

impl<'a> From<&'a Value> for VerdictInput<'a> {
    fn from(value: &'a Value) -> Self {
        VerdictInput::Value(value)
    }
}

/// Parses and validates an analyzer answer. Text must be exactly one JSON object (no prose,
/// no code fence, no repeated key); every field is checked and every problem is reported.
pub fn parse_verdict<'a>(
    input: impl Into<VerdictInput<'a>>,
) -> Result<AnalyzerVerdict, VerdictError> {
    match input.into() {
        VerdictInput::Value(value) => from_value(value),
        VerdictInput::Text(text) => from_value(&parse_text(text)?),
    }
}

fn parse_text(text: &str) -> Result<Value, VerdictError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(VerdictError::single("", "the answer is empty"));
    }
    if trimmed.len() > MAX_ANSWER_BYTES {
        return Err(VerdictError::single(
            "",
            format!(
                "the answer is {} bytes, far more than a verdict (at most {MAX_ANSWER_BYTES})",
                trimmed.len()
            ),
        ));
    }
    if trimmed.starts_with("```") {
        return Err(VerdictError::single(
            "",
            "the answer is wrapped in a Markdown code fence; send the bare JSON object",
        ));
    }
    super::strict_json::parse(trimmed).map_err(|e| {
        let message = if e.is_data() {
            format!("the answer has a {e}")
        } else {
            format!("the answer is not valid JSON ({e})")
        };
        VerdictError::single("", message)
    })
}

/// Collects every problem of a JSON value; builds the verdict only when there are none.
fn from_value(value: &Value) -> Result<AnalyzerVerdict, VerdictError> {
    let Some(obj) = value.as_object() else {
        return Err(VerdictError::single(
            "",
            format!("expected a JSON object, got {}", shown(value)),
        ));
    };
    let mut problems = Vec::new();
    for key in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        problems.push(Problem::new(
            key_path("", key),
            format!("unknown key (allowed: {})", FIELDS.join(", ")),
        ));
    }
    let scores = field(obj, "signals", &mut problems).and_then(|v| signals(v, &mut problems));
    let escalation_risk = field(obj, "escalation_risk", &mut problems).and_then(|v| {
        enumerated(
            v,
            "escalation_risk",
            RISKS.map(EscalationRisk::as_str),
            &mut problems,
        )
        .map(|i| RISKS[i])
    });
    let crisis = field(obj, "crisis", &mut problems).and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        other => {
            problems.push(Problem::new(
                "crisis",
                format!("expected true or false, got {}", shown(other)),
            ));
            None
        }
    });
    let grow_stage = field(obj, "grow_stage", &mut problems).and_then(|v| {
        enumerated(
            v,
            "grow_stage",
            GrowStage::ALL.map(GrowStage::as_str),
            &mut problems,
        )
        .map(|i| GrowStage::ALL[i])
    });
    let topic = field(obj, "topic", &mut problems)
        .and_then(|v| text(v, "topic", topic_problems, &mut problems));
    let rationale = field(obj, "rationale", &mut problems)
        .and_then(|v| text(v, "rationale", rationale_problems, &mut problems));
    VerdictError::from_problems(problems)?;
    match (
        scores,
        escalation_risk,
        crisis,
        grow_stage,
        topic,
        rationale,
    ) {
        (
            Some(scores),
            Some(escalation_risk),
            Some(crisis),
            Some(grow_stage),
            Some(topic),
            Some(rationale),
        ) => Ok(AnalyzerVerdict {
            scores,
            escalation_risk,
            crisis,
            grow_stage,
            topic: topic.to_string(),
            rationale: rationale.to_string(),
        }),
        // Every `None` above pushed a problem, so this arm is never reached; it stays an
        // error rather than a panic all the same.
        _ => Err(VerdictError::single("", "the answer is incomplete")),
    }
}

fn field<'v>(
    obj: &'v Map<String, Value>,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<&'v Value> {
    let v = obj.get(name);
    if v.is_none() {
        problems.push(Problem::new(name, "missing"));
    }
    v
}

fn signals(value: &Value, problems: &mut Vec<Problem>) -> Option<SignalScores> {
    let Some(obj) = value.as_object() else {
        problems.push(Problem::new(
            "signals",
            format!(
                "expected an object with a score for each of the seven signals, got {}",
                shown(value)
            ),
        ));
        return None;
    };
    let known = SignalKind::ALL.map(SignalKind::as_str);
    for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
        problems.push(Problem::new(
            key_path("signals", key),
            format!("unknown key (the seven signals are {})", known.join(", ")),
        ));
    }
    let mut scores = SignalScores::default();
    let mut complete = true;
    for kind in SignalKind::ALL {
        let path = format!("signals.{kind}");
        let found = match obj.get(kind.as_str()) {
            None => Err(Problem::new(path, "missing")),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) => match score_problem(kind, x, n) {
                    Some(p) => Err(p),
                    None => Ok(x as f32),
                },
                None => Err(Problem::new(path, format!("{n} is not a finite number"))),
            },
            Some(other) => Err(Problem::new(
                path,
                format!("expected a number in 0..1, got {}", shown(other)),
            )),
        };
        match found {
            Ok(score) => scores.set(kind, score),
            Err(p) => {
                problems.push(p);
                complete = false;
            }
        }
    }
    complete.then_some(scores)
}

fn score_problem(kind: SignalKind, value: f64, shown: &dyn fmt::Display) -> Option<Problem> {
    let path = format!("signals.{kind}");
    if !value.is_finite() {
        Some(Problem::new(
            path,
            format!("{shown} is not a finite number"),
        ))
    } else if !(0.0..=1.0).contains(&value) {
        Some(Problem::new(path, format!("{shown} is out of range 0..1")))
    } else {
        None
    }
}

/// Index of the allowed name `value` is, or a problem naming the allowed ones.
fn enumerated<const N: usize>(
    value: &Value,
    path: &str,
    allowed: [&str; N],
    problems: &mut Vec<Problem>,
) -> Option<usize> {
    match value {
        Value::String(s) => {
            let found = allowed.iter().position(|a| a == s);
            if found.is_none() {
                problems.push(Problem::new(
                    path,
                    format!("{} is not one of {}", quoted(s), names(allowed)),
                ));
            }
            found
        }
        other => {
            problems.push(Problem::new(
                path,
                format!("expected one of {}, got {}", names(allowed), shown(other)),
            ));
            None
        }
    }
}

/// A string field that passes `rules`; anything else is recorded as problems.
fn text<'v>(
    value: &'v Value,
    path: &str,
    rules: fn(&str) -> Vec<Problem>,
    problems: &mut Vec<Problem>,
) -> Option<&'v str> {
    match value {
        Value::String(s) => {
            let found = rules(s);
            let ok = found.is_empty();
            problems.extend(found);
            ok.then_some(s.as_str())
        }
        other => {
            problems.push(Problem::new(
                path,
                format!("expected a string, got {}", shown(other)),
            ));
            None
        }
    }
}

/// Rules shared by `topic` and `rationale`: not blank, one line, no control characters,
/// at most `max` characters.
fn line_problems(path: &str, text: &str, max: usize) -> Vec<Problem> {
    let mut problems = Vec::new();
    if text.trim().is_empty() {
        problems.push(Problem::new(path, "is empty"));
        return problems;
    }
    let chars = text.chars().count();
    if chars > max {
        problems.push(Problem::new(
            path,
            format!("has {chars} characters, at most {max}"),
        ));
    }
    if text.chars().any(char::is_control) {
        problems.push(Problem::new(
            path,
            "contains a line break or control character; write one plain line",
        ));
    }
    problems
}

fn topic_problems(topic: &str) -> Vec<Problem> {
    line_problems("topic", topic, TOPIC_MAX_CHARS)
}

fn rationale_problems(rationale: &str) -> Vec<Problem> {
    let mut problems = line_problems("rationale", rationale, RATIONALE_MAX_CHARS);
    let sentences = sentence_count(rationale);
    if sentences > 1 {
        problems.push(Problem::new(
            "rationale",
            format!("has {sentences} sentences, expected one"),
        ));
    }
    problems
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // kana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // hangul
        | '\u{F900}'..='\u{FAFF}')
}

/// Counts sentences the way a reader would: a new one starts after `.`, `!` or `?` followed
/// by a space and a capital (or CJK) letter, or after `。！？` followed by more text.
/// Lower-case continuations ("e.g. salary", "vs. staying") do not start a sentence.
pub(crate) fn sentence_count(text: &str) -> usize {
    let chars: Vec<char> = text.trim().chars().collect();
    let closing = |c: char| matches!(c, '"' | '\'' | ')' | ']' | '”' | '’' | '」' | '』' | '）');
    let ascii_end = |c: char| matches!(c, '.' | '!' | '?');
    let cjk_end = |c: char| matches!(c, '。' | '！' | '？');
    let mut count = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !(ascii_end(c) || cjk_end(c)) {
            i += 1;
            continue;
        }
        // The end of a run like "?!" or "..." and any closing quotes after it.
        let mut j = i + 1;
        let mut cjk = cjk_end(c);
        while j < chars.len() && (ascii_end(chars[j]) || cjk_end(chars[j])) {
            cjk |= cjk_end(chars[j]);
            j += 1;
        }
        while j < chars.len() && closing(chars[j]) {
            j += 1;
        }
        let spaced = j < chars.len() && chars[j].is_whitespace();
        let mut k = j;
        while k < chars.len() && chars[k].is_whitespace() {
            k += 1;
        }
        if let Some(&next) = chars.get(k) {
            let starts_sentence = if cjk {
                true
            } else {
                spaced && (next.is_uppercase() || is_cjk(next))
            };
            if starts_sentence {
                count += 1;
            }
        }
        i = k.max(i + 1);
    }
    count
}

/// A JSON value as named in a message: its type and, for scalars, a short rendering.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", quoted(s)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A model-supplied string, quoted, escaped and cut short: it goes back into a prompt and
/// into logs, so it must stay one short line.
fn quoted(s: &str) -> String {
    const MAX: usize = 40;
    let cut: String = s.chars().take(MAX).collect();
    let mut out = format!("{cut:?}");
    if s.chars().count() > MAX {
        out.insert(out.len() - 1, '…');
    }
    out
}

/// `parent.key`, with a key that is not a plain identifier quoted.
fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if plain { key.to_string() } else { quoted(key) };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_contract_order() {
        for (i, kind) in SignalKind::ALL.into_iter().enumerate() {
            assert_eq!(slot(kind), i, "{kind}");
        }
    }

    #[test]
    fn sentence_counting() {
        for (text, n) in [
            ("The person weighs two job offers.", 1),
            ("Weighing offers, e.g. salary vs. location.", 1),
            ("They weigh offers. They also feel stuck.", 2),
            ("Is this a decision? Yes!", 2),
            ("They said \"I can't decide.\" Then paused.", 2),
            ("用户在两个工作机会之间权衡。", 1),
            ("用户在权衡。还有压力。", 2),
            ("The user compares offers... and hesitates.", 1),
            ("Version 2.5 of the plan is discussed.", 1),
        ] {
            assert_eq!(sentence_count(text), n, "{text}");
        }
    }

    #[test]
    fn quoted_strings_are_short_and_escaped() {
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(100);
        let q = quoted(&long);
        assert_eq!(q.chars().count(), 40 + 3);
        assert!(q.ends_with("…\""));
    }
}

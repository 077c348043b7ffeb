//! The JSON Schema of a verdict, for the providers' structured-output mechanisms: OpenAI
//! `response_format: {type: "json_schema", json_schema: {name, strict: true, schema}}` and the
//! `input_schema` of the Anthropic forced tool.
//!
//! It keeps to the subset every strict mode accepts: every property required,
//! `additionalProperties: false` on every object, enums, and no numeric or length keywords
//! (`minimum`, `maxLength`, …), which some strict modes reject. Ranges and lengths are stated
//! in the descriptions and enforced by [`super::parse_verdict`].
//!
//! Properties come out in alphabetical order (`serde_json` without `preserve_order`). Models
//! tend to answer in schema order, which puts `rationale` before `signals`: the reason is
//! written before the scores, not made up after them.

use serde_json::{Map, Value, json};

use super::verdict::{FIELDS, GrowStage, RATIONALE_MAX_CHARS, TOPIC_MAX_CHARS};
use crate::routing::types::{EscalationRisk, SignalKind};

/// The schema's name (OpenAI `json_schema.name`, the Anthropic tool's name).
pub const SCHEMA_NAME: &str = "grow_analyzer_verdict";

/// What each signal means, for the model reading the schema (DESIGN.md, routing contract).
fn signal_description(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::LongContext => "the conversation is long and its history matters",
        SignalKind::ComplexDecision => {
            "weighing several options with real trade-offs (job offers, moves, study vs work)"
        }
        SignalKind::DeepReflection => {
            "recurring self-defeating patterns, 'why do I always...' (not a pattern already overcome)"
        }
        SignalKind::StrategicPlanning => "career pivots, multi-year plans, long-range strategy",
        SignalKind::EscalationPrep => "the person may need a human professional, or asks for one",
        SignalKind::Distress => "severe but not acute distress: burnout, panic, hopelessness",
        SignalKind::Crisis => "acute risk: self-harm or suicidal intent",
    }
}

/// The verdict schema; `additionalProperties: false` on every object.
pub fn json_schema() -> Value {
    let signal_props: Map<String, Value> = SignalKind::ALL
        .into_iter()
        .map(|kind| {
            (
                kind.as_str().to_string(),
                json!({
                    "type": "number",
                    "description": format!(
                        "how strongly this applies, 0 to 1: {}",
                        signal_description(kind)
                    ),
                }),
            )
        })
        .collect();
    let risks = [
        EscalationRisk::None,
        EscalationRisk::Low,
        EscalationRisk::Medium,
        EscalationRisk::High,
    ]
    .map(EscalationRisk::as_str);
    json!({
        "type": "object",
        "properties": {
            "signals": {
                "type": "object",
                "description": "a score from 0 to 1 for each of the seven signals",
                "properties": signal_props,
                "required": SignalKind::ALL.map(SignalKind::as_str),
                "additionalProperties": false,
            },
            "escalation_risk": {
                "type": "string",
                "enum": risks,
                "description": "how much the person may need a human professional",
            },
            "crisis": {
                "type": "boolean",
                "description": "true only for acute risk: self-harm or suicidal intent",
            },
            "grow_stage": {
                "type": "string",
                "enum": GrowStage::ALL.map(GrowStage::as_str),
                "description": "the GROW stage of the message: goal, reality, options, will, or other",
            },
            "topic": {
                "type": "string",
                "description": format!("what the message is about, a few words, at most {TOPIC_MAX_CHARS} characters"),
            },
            "rationale": {
                "type": "string",
                "description": format!("one sentence, at most {RATIONALE_MAX_CHARS} characters: why these scores"),
            },
        },
        "required": FIELDS,
        "additionalProperties": false,
    })
}

/// The OpenAI `response_format` value that constrains an answer to a verdict.
pub fn openai_response_format() -> Value {
    json!({
        "type": "json_schema",
        "json_schema": {
            "name": SCHEMA_NAME,
            "strict": true,
            "schema": json_schema(),
        },
    })
}

/// The Anthropic tool whose input is a verdict; force it with [`anthropic_tool_choice`] and
/// read the `tool_use` block's `input` with `parse_verdict(&input)`.
pub fn anthropic_tool() -> Value {
    json!({
        "name": SCHEMA_NAME,
        "description": "Record your analysis of the person's latest message as scores and labels.",
        "input_schema": json_schema(),
    })
}

/// The Anthropic `tool_choice` that forces [`anthropic_tool`].
pub fn anthropic_tool_choice() -> Value {
    json!({ "type": "tool", "name": SCHEMA_NAME })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_wrappers_carry_the_schema() {
        let rf = openai_response_format();
        assert_eq!(rf["type"], "json_schema");
        assert_eq!(rf["json_schema"]["strict"], true);
        assert_eq!(rf["json_schema"]["name"], SCHEMA_NAME);
        assert_eq!(rf["json_schema"]["schema"], json_schema());
        let tool = anthropic_tool();
        assert_eq!(tool["input_schema"], json_schema());
        assert_eq!(anthropic_tool_choice()["name"], tool["name"]);
    }
}

//! The intake consultation: a conversation of kind `consultation`, run turn by turn through
//! the ordinary coaching turn (routing, streaming `Event`s, fallbacks, crisis notice) with
//! the CONSULTATION prompt instead of the coaching one.
//!
//! State is the database: the newest consultation conversation of the profile is the open
//! one until it is completed (the interviewer ended with `CONSULTATION_COMPLETE`, or the
//! person finished it explicitly), so pausing is simply stopping and resuming is the next
//! `consultation_turn`. Completion is recorded in the profile's settings JSON; the
//! profile and prompt are then generated (`Coach::spawn_personal_generation`).

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::catalog::Usage;
use crate::store::{ConversationKind, ListFilter, MessageStatus};

use super::api::{Event, SendRequest, TurnId, TurnStatus, TurnSummary};
use super::engine::{CancelSignal, Coach};
use super::interactions::{Interaction, ModelChoice};
use super::profile::{CompletedConsultation, PersonalAssets};
use super::reload::Prepared;

/// The line the interviewer ends a finished consultation with.
pub const MARKER: &str = "CONSULTATION_COMPLETE";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsultationError {
    #[error(
        "the consultation is off: turn it on with `grow profile enable-consultation` (it shows the cost first)"
    )]
    NotEnabled,
    #[error("there is no consultation in progress to finish")]
    NothingToFinish,
    #[error(
        "the consultation needs a model: set ANTHROPIC_API_KEY or OPENAI_API_KEY (or enable a local endpoint); the offline coach cannot interview you"
    )]
    NoModel,
}

/// Where the person is with the consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConsultationState {
    /// `consultation_enabled` is off.
    Disabled,
    NotStarted,
    /// Paused or under way: the next turn continues it.
    InProgress {
        conversation_id: i64,
        exchanges: u64,
    },
    Completed {
        conversation_id: i64,
        at: i64,
    },
}

/// One consultation turn's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationStep {
    pub conversation_id: i64,
    /// The interviewer's reply without the completion marker.
    pub reply: String,
    /// The interviewer ended the consultation: generate the personal coach now.
    pub finished: bool,
    pub summary: TurnSummary,
}

/// One line of the cost estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateLine {
    pub interaction: &'static str,
    pub model: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// What a consultation and its generation are expected to cost, from catalog prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostEstimate {
    pub lines: Vec<EstimateLine>,
    pub total_usd: f64,
}

/// Whether a reply carries the completion marker (on its own line, or ending the text).
pub fn has_marker(text: &str) -> bool {
    text.lines().any(|l| l.trim() == MARKER) || text.trim_end().ends_with(MARKER)
}

/// The reply without the completion marker.
pub fn strip_marker(text: &str) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| l.trim() != MARKER).collect();
    let joined = kept.join("\n");
    joined
        .trim_end()
        .strip_suffix(MARKER)
        .unwrap_or(joined.trim_end())
        .trim_end()
        .to_string()
}

/// Hides the completion marker from streamed deltas, even when it arrives split across
/// several of them: `push` returns what can be shown now (a possible start of the marker is
/// held back), `finish` what is left at the end of the stream.
#[derive(Debug, Default, Clone)]
pub struct MarkerFilter {
    held: String,
}

impl MarkerFilter {
    pub fn push(&mut self, delta: &str) -> String {
        self.held.push_str(delta);
        if self.held.contains(MARKER) {
            self.held = self.held.replace(MARKER, "");
        }
        let keep = (1..MARKER.len())
            .rev()
            .find(|&n| self.held.ends_with(&MARKER[..n]))
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let shown = self.held[..cut].to_string();
        self.held.drain(..cut);
        shown
    }

    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// The system prompt and settings of a consultation turn (called by the turn engine).
pub fn prepare_turn(coach: &Coach, text: &str) -> anyhow::Result<Prepared> {
    let ctx = coach.prompts().context(text);
    coach.prompts().prepare(Interaction::Consultation, &ctx)
}

impl Coach {
    /// The consultation's state for this profile.
    pub fn consultation_state(&self) -> anyhow::Result<ConsultationState> {
        let settings = self.personal_settings()?;
        if !settings.consultation_enabled {
            return Ok(ConsultationState::Disabled);
        }
        let newest = self
            .with_store(|s| {
                s.list_conversations(&ListFilter {
                    profile_id: Some(self.profile_id()),
                    ..ListFilter::default()
                })
            })?
            .into_iter()
            .find(|c| c.conversation.kind == ConversationKind::Consultation);
        let Some(newest) = newest else {
            return Ok(ConsultationState::NotStarted);
        };
        let id = newest.conversation.id;
        Ok(
            match settings
                .completed_consultations
                .iter()
                .find(|c| c.conversation_id == id)
            {
                Some(done) => ConsultationState::Completed {
                    conversation_id: id,
                    at: done.at,
                },
                None => ConsultationState::InProgress {
                    conversation_id: id,
                    exchanges: newest.turns,
                },
            },
        )
    }

    /// Turns the consultation on or off (`consultation_enabled` in the profile settings).
    pub fn set_consultation_enabled(&self, enabled: bool) -> anyhow::Result<()> {
        self.update_personal_settings(|s| s.consultation_enabled = enabled)
    }

    /// The estimated cost of a consultation plus generating the profile and prompt, from the
    /// catalog prices of the models the interactions resolve to for this tier and the typical
    /// token counts in `assets/personalization.toml`. A routed interaction is priced on the
    /// default model.
    pub fn consultation_estimate(&self) -> anyhow::Result<CostEstimate> {
        let snapshot = self.prompts().live().current();
        let catalog = self.router().catalog();
        let assets = PersonalAssets::builtin()?;
        let lines: Vec<EstimateLine> = assets
            .estimate
            .iter()
            .filter_map(|e| Some((PersonalAssets::interaction(e)?, e)))
            .map(|(interaction, e)| {
                let model = match snapshot.resolve(interaction, self.prompts().tier()).model {
                    ModelChoice::Model(id) => id,
                    ModelChoice::Route => self.router().policy().default_model.clone(),
                };
                let usage = Usage {
                    input_tokens: e.calls * e.input_tokens,
                    output_tokens: e.calls * e.output_tokens,
                    ..Usage::default()
                };
                EstimateLine {
                    interaction: interaction.as_code(),
                    cost_usd: catalog.cost(&model, &usage),
                    model,
                    calls: e.calls,
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                }
            })
            .collect();
        Ok(CostEstimate {
            total_usd: lines.iter().map(|l| l.cost_usd).sum(),
            lines,
        })
    }

    /// One consultation turn: continues the open consultation (or starts one), streaming
    /// through `events` like a coaching turn. When the interviewer completes it, the marker
    /// is removed from the stored reply and the consultation is recorded as completed; the
    /// caller then starts `Coach::spawn_personal_generation` (or awaits
    /// `generate_personal_prompt`).
    pub async fn consultation_turn(
        &self,
        turn: TurnId,
        text: &str,
        events: &UnboundedSender<Event>,
        cancel: CancelSignal,
    ) -> anyhow::Result<ConsultationStep> {
        let conversation_id = match self.consultation_state()? {
            ConsultationState::Disabled => return Err(ConsultationError::NotEnabled.into()),
            ConsultationState::InProgress {
                conversation_id, ..
            } => Some(conversation_id),
            ConsultationState::NotStarted | ConsultationState::Completed { .. } => None,
        };
        if !self.has_remote_provider() {
            return Err(ConsultationError::NoModel.into());
        }
        let req = SendRequest {
            conversation_id,
            text: text.to_string(),
            ..SendRequest::default()
        };
        let (conversation_id, user_message_id) =
            self.begin_turn(&req, ConversationKind::Consultation)?;
        let _ = events.send(Event::TurnStarted {
            turn,
            conversation_id,
            user_message_id,
            compare_lane: None,
        });
        let summary = self
            .run_turn(
                turn,
                &req,
                conversation_id,
                user_message_id,
                None,
                events,
                cancel,
            )
            .await?;
        let content = summary
            .assistant_message_id
            .map(|id| self.with_store(|s| s.message(id)))
            .transpose()?
            .flatten()
            .map(|m| m.content)
            .unwrap_or_default();
        let finished = summary.status == TurnStatus::Complete && has_marker(&content);
        let reply = strip_marker(&content);
        if finished {
            if let Some(id) = summary.assistant_message_id {
                self.with_store(|s| s.update_message(id, &reply, MessageStatus::Complete))?;
            }
            self.mark_consultation_completed(conversation_id)?;
        }
        Ok(ConsultationStep {
            conversation_id,
            reply,
            finished,
            summary,
        })
    }

    /// Ends the consultation in progress now (the person has said enough); returns its
    /// conversation id. Generation follows as after a natural end.
    pub fn finish_consultation(&self) -> anyhow::Result<i64> {
        match self.consultation_state()? {
            ConsultationState::InProgress {
                conversation_id,
                exchanges,
            } if exchanges > 0 => {
                self.mark_consultation_completed(conversation_id)?;
                Ok(conversation_id)
            }
            ConsultationState::Disabled => Err(ConsultationError::NotEnabled.into()),
            _ => Err(ConsultationError::NothingToFinish.into()),
        }
    }

    fn mark_consultation_completed(&self, conversation_id: i64) -> anyhow::Result<()> {
        let now = self.now_ms();
        self.update_personal_settings(|s| {
            if !s
                .completed_consultations
                .iter()
                .any(|c| c.conversation_id == conversation_id)
            {
                s.completed_consultations.push(CompletedConsultation {
                    conversation_id,
                    at: now,
                    version: None,
                });
            }
        })?;
        tracing::info!(conversation_id, "consultation completed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_found_and_removed() {
        let reply = "Thank you! Your coach is being prepared.\nCONSULTATION_COMPLETE\n";
        assert!(has_marker(reply));
        assert_eq!(
            strip_marker(reply),
            "Thank you! Your coach is being prepared."
        );
        assert!(has_marker("Thanks. CONSULTATION_COMPLETE"));
        assert_eq!(strip_marker("Thanks. CONSULTATION_COMPLETE"), "Thanks.");
        assert!(!has_marker("What would you like to change?"));
    }

    #[test]
    fn a_split_marker_never_reaches_the_screen() {
        let mut f = MarkerFilter::default();
        let mut shown = String::new();
        for delta in ["Thanks — 谢谢!\nCONSULT", "ATION_COMP", "LETE"] {
            shown.push_str(&f.push(delta));
        }
        shown.push_str(&f.finish());
        assert_eq!(shown, "Thanks — 谢谢!\n");
        let mut f = MarkerFilter::default();
        assert_eq!(f.push("Is that C"), "Is that ");
        assert_eq!(f.push("orrect?"), "Correct?");
    }
}

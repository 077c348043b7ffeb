//! The personalised coach: the profile and prompt generated from a finished consultation
//! (PROFILE_GENERATION, PERSONA_GENERATION), revisions (PERSONA_UPDATE), the status faces
//! show while it is prepared, the version history and the diff between two versions.
//!
//! Prompt versions are append-only: every generation adds a version with its reason, model,
//! cost and the behaviour snapshot it was written from; nothing is overwritten or deleted.
//!
//! Generation state lives in the profile's settings JSON (`personal_generation`), so a
//! status survives a restart and a generation interrupted by a crash is picked up again by
//! the next `run_jobs` (its lease expires after [`GENERATION_LEASE_MS`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

use crate::providers::ChatMessage;
use crate::source_error::{SourceError, nearest};
use crate::store::{self, NewPromptVersion, NewSnapshot, PromptVersion, Role};
use crate::toml_path;

use super::behaviour::Metrics;
use super::engine::Coach;
use super::interactions::Interaction;
use super::oneshot::OneShot;
use super::safety::is_mostly_cjk;

/// A generation that has not finished after this long is considered dead (the process
/// was killed) and may be started again.
pub const GENERATION_LEASE_MS: i64 = 15 * 60 * 1000;

/// Where the personalisation data lives in the source tree (for error messages).
pub const ASSET_FILE: &str = "assets/personalization.toml";
const ASSET_SRC: &str = include_str!("../../assets/personalization.toml");

/// The length a generated text must have: words, or characters for Chinese text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthRule {
    pub min_words: usize,
    pub max_words: usize,
    pub min_cjk_chars: usize,
    pub max_cjk_chars: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lengths {
    /// The ~200-word conversational profile.
    pub profile: LengthRule,
    /// The 500–800-word personalised system prompt.
    pub prompt: LengthRule,
}

/// Typical calls and tokens of one interaction, for the consultation's cost estimate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateEntry {
    pub interaction: String,
    pub calls: u64,
    /// Per call.
    pub input_tokens: u64,
    /// Per call.
    pub output_tokens: u64,
}

/// `assets/personalization.toml`: length rules and the cost estimate's token counts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalAssets {
    pub lengths: Lengths,
    pub estimate: Vec<EstimateEntry>,
    #[serde(default)]
    pub proposals: ProposalCues,
}

/// When a coaching turn is read for a commitment to propose (`[proposals]`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalCues {
    /// Propose after coaching turns at all (`/propose` works either way).
    #[serde(default)]
    pub auto: bool,
    /// Lowercase phrases that mark the GROW "will" step.
    #[serde(default)]
    pub cues: Vec<String>,
}

impl ProposalCues {
    /// Whether any of `texts` reaches the will step (and proposals are on).
    pub fn reached(&self, texts: &[&str]) -> bool {
        self.auto
            && texts.iter().any(|t| {
                let t = t.to_lowercase().replace('’', "'");
                self.cues.iter().any(|c| t.contains(c.as_str()))
            })
    }
}

impl PersonalAssets {
    /// The shipped file.
    pub fn builtin() -> Result<PersonalAssets, SourceError> {
        PersonalAssets::parse(ASSET_FILE, ASSET_SRC)
    }

    /// Parses and validates; errors name file, line and key.
    pub fn parse(file: &str, src: &str) -> Result<PersonalAssets, SourceError> {
        let assets: PersonalAssets =
            toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
        for (key, rule) in [
            ("profile", &assets.lengths.profile),
            ("prompt", &assets.lengths.prompt),
        ] {
            for (field, lo, hi) in [
                ("min_words", rule.min_words, rule.max_words),
                ("min_cjk_chars", rule.min_cjk_chars, rule.max_cjk_chars),
            ] {
                if lo == 0 || lo > hi {
                    return Err(SourceError::at_path(
                        file,
                        src,
                        &toml_path!["lengths", key, field],
                        format!("{field} {lo} must be at least 1 and at most the maximum ({hi})"),
                        None,
                    ));
                }
            }
        }
        for (i, cue) in assets.proposals.cues.iter().enumerate() {
            if cue.trim().is_empty() || *cue != cue.to_lowercase() {
                return Err(SourceError::at_path(
                    file,
                    src,
                    &toml_path!["proposals", "cues", i],
                    format!("cue `{cue}` must be non-empty and lowercase"),
                    None,
                ));
            }
        }
        for (i, e) in assets.estimate.iter().enumerate() {
            if Interaction::ALL
                .iter()
                .all(|x| x.as_code() != e.interaction)
            {
                let hint = nearest(&e.interaction, Interaction::ALL.iter().map(|x| x.as_code()))
                    .map(|n| format!("did you mean `{n}`?"));
                return Err(SourceError::at_path(
                    file,
                    src,
                    &toml_path!["estimate", i, "interaction"],
                    format!("unknown interaction `{}`", e.interaction),
                    hint,
                ));
            }
        }
        Ok(assets)
    }

    pub fn interaction(entry: &EstimateEntry) -> Option<Interaction> {
        Interaction::ALL
            .into_iter()
            .find(|x| x.as_code() == entry.interaction)
    }
}

/// The measured length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TextLength {
    pub words: usize,
    pub cjk_chars: usize,
    /// Chinese text: measured in characters.
    pub cjk: bool,
}

impl TextLength {
    pub fn of(text: &str) -> TextLength {
        let cjk_chars = text.chars().filter(|&c| is_cjk_char(c)).count();
        let words = text
            .split(|c: char| c.is_whitespace() || is_cjk_char(c))
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count();
        TextLength {
            words,
            cjk_chars,
            cjk: is_mostly_cjk(text),
        }
    }

    /// How far outside the rule this length is (0 inside).
    pub fn distance(&self, rule: &LengthRule) -> usize {
        let (n, lo, hi) = if self.cjk {
            (self.cjk_chars, rule.min_cjk_chars, rule.max_cjk_chars)
        } else {
            (self.words, rule.min_words, rule.max_words)
        };
        lo.saturating_sub(n) + n.saturating_sub(hi)
    }

    pub fn describe(&self) -> String {
        if self.cjk {
            format!("{} characters", self.cjk_chars)
        } else {
            format!("{} words", self.words)
        }
    }
}

fn is_cjk_char(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn rule_text(rule: &LengthRule, cjk: bool) -> String {
    if cjk {
        format!(
            "between {} and {} characters",
            rule.min_cjk_chars, rule.max_cjk_chars
        )
    } else {
        format!("between {} and {} words", rule.min_words, rule.max_words)
    }
}

/// What the personalised coach is doing, for a status line ("preparing your personal
/// coach…").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum PersonalStatus {
    /// No personalised prompt and none being prepared: the generic GROW coach answers.
    None,
    /// A finished consultation is being turned into a profile and prompt.
    Preparing,
    /// The latest personalised prompt version, used by every coaching turn.
    Ready(i64),
    /// The last generation failed (why); `grow profile regenerate` or the next job retries.
    Failed(String),
}

/// A coaching turn refused because the generic prompt may not be used
/// (`ENABLE_GENERIC_FALLBACK=false`) and no personalised prompt is ready. The message says
/// why chat is waiting and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChatWaiting(pub String);

/// The personalisation keys of the profile's settings JSON (other keys are kept as they are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonalSettings {
    #[serde(default)]
    pub consultation_enabled: bool,
    /// Consultation conversations that were completed, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed_consultations: Vec<CompletedConsultation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_generation: Option<GenerationState>,
    /// A scheduled prompt update under way since (lease, like the generation's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_update_started_at: Option<i64>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedConsultation {
    pub conversation_id: i64,
    pub at: i64,
    /// The prompt version generated from it, once there is one.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GenerationState {
    Preparing {
        started_at: i64,
        conversation_id: i64,
    },
    Failed {
        at: i64,
        error: String,
    },
}

/// What a generation stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationReport {
    pub version: i64,
    pub reason: String,
    /// Models used (profile, prompt), in order.
    pub models: Vec<String>,
    pub cost_usd: f64,
    /// Model calls made, including the one regeneration allowed per text.
    pub calls: u32,
    pub profile_length: TextLength,
    pub prompt_length: TextLength,
}

/// One line of a version diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `+`, `-` or ` `.
    pub sign: char,
    pub text: String,
}

/// The line diff between two prompt versions (profile text first, then the prompt).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDiff {
    pub from: i64,
    pub to: i64,
    pub lines: Vec<DiffLine>,
    pub added: usize,
    pub removed: usize,
}

/// A line diff with `similar` (+ added, - removed, ' ' kept).
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            sign: match c.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            },
            text: c.value().trim_end_matches(['\n', '\r']).to_string(),
        })
        .collect()
}

/// The flat metrics map the prompt templates list (`metrics`, `previous_metrics`).
pub fn metrics_summary(m: &Metrics) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    out.insert(
        "logging_consistency".into(),
        format!(
            "{} ({} of {} days with a session)",
            pct(m.logging_consistency),
            m.checkin_days,
            m.observed_days
        )
        .into(),
    );
    out.insert("current_streak_days".into(), m.current_streak.into());
    out.insert("best_streak_days".into(), m.best_streak.into());
    let c = &m.commitments;
    out.insert(
        "commitment_adherence".into(),
        match m.adherence {
            Some(a) => format!(
                "{} ({} kept on time of {} due; {} late, {} missed, {} overdue)",
                pct(a),
                c.kept,
                c.due,
                c.late,
                c.missed,
                c.overdue
            ),
            None => "nothing was due in the window".to_string(),
        }
        .into(),
    );
    out.insert("open_commitments".into(), c.open.into());
    if !m.patterns.is_empty() {
        let sentences: Vec<&str> = m.patterns.iter().map(|p| p.summary.as_str()).collect();
        out.insert("patterns".into(), sentences.join("; ").into());
    }
    out.insert("window_days".into(), m.window_days.into());
    out
}

/// Consultation messages as a transcript for the generation prompts.
fn transcript(messages: &[store::Message]) -> String {
    messages
        .iter()
        .filter(|m| !m.content.trim().is_empty())
        .map(|m| {
            let who = if m.role == Role::User {
                "Person"
            } else {
                "Interviewer"
            };
            format!(
                "{who}: {}",
                super::consultation::strip_marker(&m.content).trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Called by the coaching turn when there is no personalised prompt: the generic prompt is
/// fine unless `ENABLE_GENERIC_FALLBACK` is off.
pub fn ensure_generic_allowed(coach: &Coach) -> Result<(), ChatWaiting> {
    if coach
        .config
        .settings
        .personalization
        .enable_generic_fallback
    {
        return Ok(());
    }
    let why = match coach.personal_status() {
        Ok(PersonalStatus::Preparing) => "Your personal coach is still being prepared; chat will start as soon as it is ready (the generic coach is off: ENABLE_GENERIC_FALLBACK=false).".to_string(),
        Ok(PersonalStatus::Failed(e)) => format!("Preparing your personal coach failed ({e}); run `grow profile regenerate` to try again. Chat waits because the generic coach is off (ENABLE_GENERIC_FALLBACK=false)."),
        _ => match coach.personal_settings() {
            Ok(s) if s.consultation_enabled => "Chat is waiting for your consultation: finish it first (`grow profile consult \"…\"`, or the consultation in the app) so your personal coach can be prepared. The generic coach is off (ENABLE_GENERIC_FALLBACK=false).".to_string(),
            _ => "Chat is waiting: there is no personal coach yet and the generic coach is off (ENABLE_GENERIC_FALLBACK=false). Run `grow profile enable-consultation` and complete the consultation, or set ENABLE_GENERIC_FALLBACK=true.".to_string(),
        },
    };
    Err(ChatWaiting(why))
}

impl Coach {
    /// The personalisation part of the profile's settings JSON.
    pub fn personal_settings(&self) -> anyhow::Result<PersonalSettings> {
        let profile = self
            .with_store(|s| s.profile(self.profile_id()))?
            .ok_or_else(|| anyhow::anyhow!("profile {} is missing", self.profile_id()))?;
        Ok(
            serde_json::from_str(&profile.settings_json).unwrap_or_else(|e| {
                tracing::warn!("profile settings are not what grow expects ({e}); using defaults");
                PersonalSettings::default()
            }),
        )
    }

    /// Read-modify-write of the settings JSON under the store lock (one writer at a time).
    pub(crate) fn update_personal_settings<T>(
        &self,
        f: impl FnOnce(&mut PersonalSettings) -> T,
    ) -> anyhow::Result<T> {
        self.with_store(|s| {
            let profile = s
                .profile(self.profile_id())?
                .ok_or_else(|| anyhow::anyhow!("profile {} is missing", self.profile_id()))?;
            let mut settings: PersonalSettings =
                serde_json::from_str(&profile.settings_json).unwrap_or_default();
            let out = f(&mut settings);
            s.set_profile_settings(self.profile_id(), &serde_json::to_string(&settings)?)?;
            Ok(out)
        })
    }

    /// Whether a live generation from a consultation holds the lease.
    pub fn generation_in_progress(&self) -> anyhow::Result<bool> {
        let now = self.now_ms();
        Ok(matches!(
            self.personal_settings()?.personal_generation,
            Some(GenerationState::Preparing { started_at, .. }) if now - started_at < GENERATION_LEASE_MS
        ))
    }

    /// What the personalised coach is doing now.
    pub fn personal_status(&self) -> anyhow::Result<PersonalStatus> {
        let settings = self.personal_settings()?;
        match settings.personal_generation {
            Some(GenerationState::Preparing { .. }) => return Ok(PersonalStatus::Preparing),
            Some(GenerationState::Failed { error, .. }) => {
                return Ok(PersonalStatus::Failed(error));
            }
            None => {}
        }
        let latest = self.with_store(|s| s.latest_prompt_version(self.profile_id()))?;
        if let Some(v) = latest {
            return Ok(PersonalStatus::Ready(v.version));
        }
        // A completed consultation without a version: generation is pending (the next job
        // or `grow profile regenerate` runs it).
        Ok(if settings.completed_consultations.is_empty() {
            PersonalStatus::None
        } else {
            PersonalStatus::Preparing
        })
    }

    /// Behaviour snapshots (one per job run and per version), oldest first, at most `limit`
    /// of the newest: the trend the profile screen shows. Unreadable rows are skipped.
    pub fn behaviour_history(&self, limit: usize) -> anyhow::Result<Vec<(i64, Metrics)>> {
        let mut rows: Vec<(i64, Metrics)> = self
            .with_store(|s| s.snapshots(self.profile_id(), limit))?
            .into_iter()
            .filter_map(|s| Some((s.created_at, serde_json::from_str(&s.metrics_json).ok()?)))
            .collect();
        rows.reverse();
        Ok(rows)
    }

    /// Every prompt version, oldest first.
    pub fn prompt_history(&self) -> anyhow::Result<Vec<PromptVersion>> {
        Ok(self.with_store(|s| s.prompt_versions(self.profile_id()))?)
    }

    /// One prompt version by number.
    pub fn prompt_version(&self, version: i64) -> anyhow::Result<PromptVersion> {
        self.prompt_history()?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "there is no prompt version {version} (see `grow profile versions`)"
                )
            })
    }

    /// The line diff between versions `a` and `b` (profile, then prompt).
    pub fn diff_versions(&self, a: i64, b: i64) -> anyhow::Result<VersionDiff> {
        let (old, new) = (self.prompt_version(a)?, self.prompt_version(b)?);
        let text = |v: &PromptVersion| format!("{}\n\n---\n\n{}\n", v.profile_text, v.prompt);
        let lines = diff_lines(&text(&old), &text(&new));
        Ok(VersionDiff {
            from: a,
            to: b,
            added: lines.iter().filter(|l| l.sign == '+').count(),
            removed: lines.iter().filter(|l| l.sign == '-').count(),
            lines,
        })
    }

    /// Starts generating the personalised coach from the last completed consultation in the
    /// background (chat keeps working meanwhile). `None` when one is already under way or
    /// there is nothing to generate from.
    pub fn spawn_personal_generation(
        coach: &Arc<Coach>,
    ) -> Option<tokio::task::JoinHandle<anyhow::Result<GenerationReport>>> {
        let conversation_id = match coach.claim_generation() {
            Ok(Some(id)) => id,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("could not start preparing the personal coach: {e:#}");
                return None;
            }
        };
        let coach = Arc::clone(coach);
        Some(tokio::spawn(async move {
            coach.run_claimed_generation(conversation_id).await
        }))
    }

    /// Generates the profile and prompt from the last completed consultation, now (for the
    /// CLI and tests; the TUI uses `spawn_personal_generation`).
    pub async fn generate_personal_prompt(&self) -> anyhow::Result<GenerationReport> {
        let Some(conversation_id) = self.claim_generation()? else {
            anyhow::bail!(
                "nothing to generate: complete a consultation first, or wait for the one being prepared"
            );
        };
        self.run_claimed_generation(conversation_id).await
    }

    /// Marks a generation as under way and returns the consultation to generate from, or
    /// `None` when another (live) generation holds the lease or nothing was completed.
    fn claim_generation(&self) -> anyhow::Result<Option<i64>> {
        let now = self.now_ms();
        self.update_personal_settings(|s| {
            if let Some(GenerationState::Preparing { started_at, .. }) = &s.personal_generation
                && now - started_at < GENERATION_LEASE_MS
            {
                return None;
            }
            let id = s.completed_consultations.last()?.conversation_id;
            s.personal_generation = Some(GenerationState::Preparing {
                started_at: now,
                conversation_id: id,
            });
            Some(id)
        })
    }

    async fn run_claimed_generation(
        &self,
        conversation_id: i64,
    ) -> anyhow::Result<GenerationReport> {
        let result = self.generate_from_consultation(conversation_id).await;
        let now = self.now_ms();
        let state = match &result {
            Ok(report) => {
                tracing::info!(
                    version = report.version,
                    cost_usd = report.cost_usd,
                    "personal coach ready"
                );
                None
            }
            Err(e) => {
                tracing::error!("preparing the personal coach failed: {e:#}");
                Some(GenerationState::Failed {
                    at: now,
                    error: format!("{e:#}"),
                })
            }
        };
        let version = result.as_ref().ok().map(|r| r.version);
        self.update_personal_settings(|s| {
            s.personal_generation = state;
            if let Some(c) = s
                .completed_consultations
                .iter_mut()
                .rev()
                .find(|c| c.conversation_id == conversation_id)
                && version.is_some()
            {
                c.version = version;
            }
        })?;
        result
    }

    /// PROFILE_GENERATION then PERSONA_GENERATION over the consultation transcript, each
    /// length-checked and asked once more when out of range; stored as the next version.
    async fn generate_from_consultation(
        &self,
        conversation_id: i64,
    ) -> anyhow::Result<GenerationReport> {
        let messages = self.with_store(|s| s.history(conversation_id))?;
        let assets = PersonalAssets::builtin()?;
        let transcript = transcript(&messages);
        if transcript.is_empty() {
            anyhow::bail!("consultation {conversation_id} has no messages");
        }
        let person_text: String = messages
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let ctx = self.prompts().context(&person_text);
        let (profile, p_calls, p_cost, p_model) = self
            .generate_checked(
                Interaction::ProfileGeneration,
                &ctx,
                &transcript,
                Some(conversation_id),
                &assets.lengths.profile,
            )
            .await?;
        let ctx = ctx.with_profile(profile.clone());
        let (prompt, g_calls, g_cost, g_model) = self
            .generate_checked(
                Interaction::PersonaGeneration,
                &ctx,
                &transcript,
                Some(conversation_id),
                &assets.lengths.prompt,
            )
            .await?;
        let metrics = self.behaviour_metrics()?;
        let reason = format!("initial personalised prompt from consultation {conversation_id}");
        let cost = p_cost + g_cost;
        let version = self.store_version(&prompt, &profile, &reason, &metrics, &g_model, cost)?;
        Ok(GenerationReport {
            version,
            reason,
            models: vec![p_model, g_model],
            cost_usd: cost,
            calls: p_calls + g_calls,
            profile_length: TextLength::of(&profile),
            prompt_length: TextLength::of(&prompt),
        })
    }

    /// Runs `interaction` and checks the answer's length; out of range, asks once more
    /// (showing the model its first answer and the count) and keeps the answer closer to the
    /// range. Returns (text, calls, cost, model of the kept answer).
    pub(crate) async fn generate_checked(
        &self,
        interaction: Interaction,
        ctx: &super::templates::PromptContext,
        input: &str,
        conversation_id: Option<i64>,
        rule: &LengthRule,
    ) -> anyhow::Result<(String, u32, f64, String)> {
        let first_messages = vec![ChatMessage::user(input.to_string())];
        let first: OneShot = self
            .run_interaction(
                interaction,
                ctx,
                first_messages.clone(),
                conversation_id,
                store::usage_kind::PROFILE,
            )
            .await?;
        let text = first.text.trim().to_string();
        let len = TextLength::of(&text);
        if len.distance(rule) == 0 {
            return Ok((text, 1, first.cost_usd, first.model));
        }
        tracing::info!(%interaction, length = %len.describe(), wanted = %rule_text(rule, len.cjk), "generated text out of range; asking once more");
        let mut messages = first_messages;
        messages.push(ChatMessage::assistant(text.clone()));
        messages.push(ChatMessage::user(format!(
            "That text is {}; it must be {}. Rewrite it to that length, keeping everything else the same. Reply with the text only.",
            len.describe(),
            rule_text(rule, len.cjk)
        )));
        let second = self
            .run_interaction(
                interaction,
                ctx,
                messages,
                conversation_id,
                store::usage_kind::PROFILE,
            )
            .await?;
        let second_text = second.text.trim().to_string();
        let second_len = TextLength::of(&second_text);
        let cost = first.cost_usd + second.cost_usd;
        if second_len.distance(rule) <= len.distance(rule) && !second_text.is_empty() {
            if second_len.distance(rule) > 0 {
                tracing::warn!(%interaction, length = %second_len.describe(), "regenerated text still out of range; keeping it as the closer one");
            }
            Ok((second_text, 2, cost, second.model))
        } else {
            tracing::warn!(%interaction, length = %len.describe(), "regenerated text further out of range; keeping the first");
            Ok((text, 2, cost, first.model))
        }
    }

    /// Appends a prompt version and the behaviour snapshot it was written from.
    pub(crate) fn store_version(
        &self,
        prompt: &str,
        profile_text: &str,
        reason: &str,
        metrics: &Metrics,
        model: &str,
        cost_usd: f64,
    ) -> anyhow::Result<i64> {
        let metrics_json = serde_json::to_string(metrics)?;
        let now = self.now_ms();
        let (_, version) = self.with_store(|s| {
            let v = s.insert_prompt_version(&NewPromptVersion {
                profile_id: self.profile_id(),
                prompt: prompt.to_string(),
                profile_text: profile_text.to_string(),
                reason: reason.to_string(),
                metrics_json: metrics_json.clone(),
                model: Some(model.to_string()),
                cost_usd,
                created_at: now,
            })?;
            s.insert_snapshot(&NewSnapshot {
                profile_id: self.profile_id(),
                metrics_json: metrics_json.clone(),
                created_at: now,
            })?;
            Ok::<_, store::StoreError>(v)
        })?;
        Ok(version)
    }

    /// PERSONA_UPDATE of the latest version with `reason` and the current metrics (compared
    /// with the metrics the latest version was written from); stores the next version.
    pub async fn revise_prompt(
        &self,
        reason: &str,
        metrics: &Metrics,
    ) -> anyhow::Result<GenerationReport> {
        let latest = self
            .with_store(|s| s.latest_prompt_version(self.profile_id()))?
            .ok_or_else(|| anyhow::anyhow!("there is no personalised prompt to revise yet"))?;
        let previous: Option<Metrics> = serde_json::from_str(&latest.metrics_json).ok();
        let mut ctx = self
            .prompts()
            .context(&latest.profile_text)
            .with_profile(latest.profile_text.clone())
            .with_metrics(metrics_summary(metrics))
            .with_param("current_prompt", latest.prompt.clone())
            .with_param("reason", reason.to_string());
        if let Some(prev) = &previous {
            ctx = ctx.with_param(
                "previous_metrics",
                serde_json::Value::Object(metrics_summary(prev).into_iter().collect()),
            );
        }
        let ask = "Please revise the prompt as described.";
        let (prompt, calls, cost, model) = self
            .generate_checked(
                Interaction::PersonaUpdate,
                &ctx,
                ask,
                None,
                &PersonalAssets::builtin()?.lengths.prompt,
            )
            .await?;
        let version =
            self.store_version(&prompt, &latest.profile_text, reason, metrics, &model, cost)?;
        Ok(GenerationReport {
            version,
            reason: reason.to_string(),
            models: vec![model],
            cost_usd: cost,
            calls,
            profile_length: TextLength::of(&latest.profile_text),
            prompt_length: TextLength::of(&prompt),
        })
    }

    /// `grow profile regenerate`: a new version now, whatever the schedule and change
    /// detection say — from the last consultation when there is no version yet, else a
    /// revision against the current metrics.
    pub async fn regenerate_prompt(&self) -> anyhow::Result<GenerationReport> {
        let has_version = self
            .with_store(|s| s.latest_prompt_version(self.profile_id()))?
            .is_some();
        if !has_version {
            return self.generate_personal_prompt().await;
        }
        let metrics = self.behaviour_metrics()?;
        self.revise_prompt("regenerated on request", &metrics).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_counted_in_words_and_chinese_in_characters() {
        let en = TextLength::of("She wants to run a marathon — and finish it, in 2027.");
        assert_eq!((en.words, en.cjk), (11, false));
        let zh = TextLength::of("她想在明年跑完一场马拉松，并且坚持每周训练三次。");
        assert!(zh.cjk);
        assert_eq!(zh.cjk_chars, 22);
        let rule = LengthRule {
            min_words: 5,
            max_words: 8,
            min_cjk_chars: 10,
            max_cjk_chars: 20,
        };
        assert_eq!(en.distance(&rule), 3);
        assert_eq!(zh.distance(&rule), 2);
    }

    #[test]
    fn shipped_assets_are_valid_and_bad_ones_are_located() {
        let a = PersonalAssets::builtin().unwrap();
        assert_eq!(
            (a.lengths.profile.min_words, a.lengths.prompt.max_words),
            (170, 800)
        );
        assert!(
            a.estimate
                .iter()
                .all(|e| PersonalAssets::interaction(e).is_some())
        );
        let bad = ASSET_SRC.replace(
            "interaction = \"PROFILE_GENERATION\"",
            "interaction = \"PROFILE_GENERATON\"",
        );
        let e = PersonalAssets::parse(ASSET_FILE, &bad).unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean `PROFILE_GENERATION`?")
        );
        assert!(e.key.contains("estimate"), "{}", e.key);
        let bad = ASSET_SRC.replace("min_words = 500", "min_words = 900");
        let e = PersonalAssets::parse(ASSET_FILE, &bad).unwrap_err();
        assert_eq!(e.key, "lengths.prompt.min_words");
    }

    #[test]
    fn diff_marks_added_and_removed_lines() {
        let lines = diff_lines("a\nb\nc\n", "a\nc\nd\n");
        let signs: String = lines.iter().map(|l| l.sign).collect();
        assert_eq!(signs, " - +");
        assert_eq!(lines[1].text, "b");
    }

    #[test]
    fn settings_keep_unknown_keys() {
        let s: PersonalSettings =
            serde_json::from_str(r#"{"theme":"x","consultation_enabled":true}"#).unwrap();
        assert!(s.consultation_enabled);
        let back = serde_json::to_string(&s).unwrap();
        assert!(back.contains(r#""theme":"x""#), "{back}");
    }

    #[test]
    fn proposal_cues_mark_the_will_step() {
        let cues = PersonalAssets::builtin().expect("assets").proposals;
        assert!(cues.reached(&["OK. I’ll send the portfolio by Friday."]));
        assert!(cues.reached(&["好的，我会在周五之前把作品集发出去"]));
        assert!(cues.reached(&["", "Would you like to commit to that?"]));
        assert!(!cues.reached(&["I keep postponing my portfolio review"]));
        let off = ProposalCues {
            auto: false,
            ..cues
        };
        assert!(!off.reached(&["I will run tomorrow"]));
    }

    #[test]
    fn an_uppercase_cue_is_refused_with_its_place() {
        let src = "estimate = []\n[lengths.profile]\nmin_words = 1\nmax_words = 2\nmin_cjk_chars = 1\nmax_cjk_chars = 2\n[lengths.prompt]\nmin_words = 1\nmax_words = 2\nmin_cjk_chars = 1\nmax_cjk_chars = 2\n[proposals]\nauto = true\ncues = [\"I will\"]\n";
        let err = PersonalAssets::parse("p.toml", src).expect_err("uppercase cue");
        assert!(
            err.to_string().contains("must be non-empty and lowercase"),
            "{err}"
        );
    }
}

//! The scheduled prompt update (issue 6): run at TUI start, hourly while it runs, and by
//! `grow jobs run` for cron/systemd.
//!
//! Per run: a generation left pending by a finished consultation (or killed mid-way) is
//! resumed first. Otherwise, when the update is due (`is_update_due`, or `force`), the
//! metrics are computed and compared with the snapshot the *current prompt version* was
//! written from (`detect_change`); only a real change pays for PERSONA_UPDATE (a new
//! version with its reason, the triggering metrics and cost). Without one, the snapshot is
//! stored (it also marks the check as done for the schedule) and the skip is logged.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::store::NewSnapshot;

use super::behaviour::{self, Metrics, is_update_due};
use super::engine::Coach;
use super::profile::{GENERATION_LEASE_MS, GenerationReport, PersonalStatus};

/// What a job run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum JobOutcome {
    /// Not due (or automatic updates off); nothing computed, no model call.
    NotDue { reason: String },
    /// No personalised prompt exists to update.
    NoPrompt { reason: String },
    /// Behaviour did not move enough: snapshot stored, no model call.
    Skipped { reasons: Vec<String> },
    /// A new prompt version was written.
    Regenerated {
        version: i64,
        reasons: Vec<String>,
        model: String,
        cost_usd: f64,
    },
    /// The personal coach from a finished consultation was (re)generated.
    Generated { version: i64, cost_usd: f64 },
    /// A model call failed; nothing was stored.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    pub forced: bool,
    /// Why the update was (not) due.
    pub due_reason: String,
    pub outcome: JobOutcome,
    /// The metrics computed this run (when it got that far).
    pub metrics: Option<Metrics>,
}

impl JobReport {
    /// One or two lines for `grow jobs run` and logs.
    pub fn describe(&self) -> String {
        match &self.outcome {
            JobOutcome::NotDue { reason } => format!("prompt update not due: {reason}"),
            JobOutcome::NoPrompt { reason } => format!("no prompt update: {reason}"),
            JobOutcome::Skipped { reasons } => format!(
                "regeneration skipped, behaviour snapshot stored: {}",
                reasons.join("; ")
            ),
            JobOutcome::Regenerated {
                version,
                reasons,
                model,
                cost_usd,
            } => format!(
                "prompt version {version} written by {model} (${cost_usd:.4}): {}",
                reasons.join("; ")
            ),
            JobOutcome::Generated { version, cost_usd } => format!(
                "personal coach prepared from the consultation: prompt version {version} (${cost_usd:.4})"
            ),
            JobOutcome::Failed { error } => format!("prompt update failed: {error}"),
        }
    }
}

fn local_time(ms: i64) -> Option<NaiveDateTime> {
    behaviour::system_local_datetime(ms)
}

/// Runs the scheduled prompt update once. `force` ignores the schedule (not change
/// detection) and `ENABLE_AUTOMATIC_UPDATES`.
pub async fn run_jobs(coach: &Coach, force: bool) -> anyhow::Result<JobReport> {
    let policy = coach.config.settings.personalization.clone();
    let report = |due_reason: String, outcome: JobOutcome, metrics: Option<Metrics>| JobReport {
        forced: force,
        due_reason,
        outcome,
        metrics,
    };

    let latest = coach.with_store(|s| s.latest_prompt_version(coach.profile_id()))?;
    let Some(latest) = latest else {
        if coach.generation_in_progress()? {
            let reason = "your personal coach is being prepared from the consultation";
            return Ok(report(
                reason.into(),
                JobOutcome::NoPrompt {
                    reason: reason.into(),
                },
                None,
            ));
        }
        // A finished consultation whose generation never ran (or died): run it now.
        if coach.personal_status()? == PersonalStatus::Preparing
            || matches!(coach.personal_status()?, PersonalStatus::Failed(_))
        {
            return Ok(match coach.generate_personal_prompt().await {
                Ok(GenerationReport {
                    version, cost_usd, ..
                }) => report(
                    "a completed consultation had no personalised prompt yet".into(),
                    JobOutcome::Generated { version, cost_usd },
                    None,
                ),
                Err(e) => report(
                    "a completed consultation had no personalised prompt yet".into(),
                    JobOutcome::Failed {
                        error: format!("{e:#}"),
                    },
                    None,
                ),
            });
        }
        let reason = "there is no personalised prompt yet (complete a consultation first)";
        return Ok(report(
            reason.into(),
            JobOutcome::NoPrompt {
                reason: reason.into(),
            },
            None,
        ));
    };

    let now_ms = coach.now_ms();
    // The last update is the last check (a stored snapshot) or version, whichever is later.
    let last_snapshot = coach
        .with_store(|s| s.snapshots(coach.profile_id(), 1))?
        .first()
        .map(|s| s.created_at);
    let last_ms = last_snapshot.map_or(latest.created_at, |s| s.max(latest.created_at));
    let now = local_time(now_ms).ok_or_else(|| anyhow::anyhow!("the clock is out of range"))?;
    let due = is_update_due(&policy, local_time(last_ms), now);
    let due_reason = if force {
        format!("forced ({})", due.reason)
    } else {
        due.reason.clone()
    };
    if !due.due && !force {
        tracing::debug!(reason = %due.reason, "prompt update not due");
        return Ok(report(
            due_reason,
            JobOutcome::NotDue { reason: due.reason },
            None,
        ));
    }

    let metrics = coach.behaviour_metrics()?;
    let baseline: Option<Metrics> = serde_json::from_str(&latest.metrics_json).ok();
    let verdict = behaviour::detect_change(&policy, baseline.as_ref(), &metrics);
    if !verdict.regenerate {
        coach.with_store(|s| {
            s.insert_snapshot(&NewSnapshot {
                profile_id: coach.profile_id(),
                metrics_json: serde_json::to_string(&metrics)?,
                created_at: now_ms,
            })
            .map_err(anyhow::Error::from)
        })?;
        tracing::info!(
            version = latest.version,
            reasons = %verdict.reasons.join("; "),
            "prompt regeneration skipped: behaviour did not change enough; snapshot stored"
        );
        return Ok(report(
            due_reason,
            JobOutcome::Skipped {
                reasons: verdict.reasons,
            },
            Some(metrics),
        ));
    }

    // One update at a time across processes (the TUI's hourly check and a cron job), and
    // none when another one wrote a version since `latest` was read.
    let claimed = coach.update_personal_settings(|s| match s.prompt_update_started_at {
        Some(t) if now_ms - t < GENERATION_LEASE_MS => false,
        _ => {
            s.prompt_update_started_at = Some(now_ms);
            true
        }
    })?;
    let current = coach
        .with_store(|s| s.latest_prompt_version(coach.profile_id()))?
        .map(|v| v.version);
    if !claimed || current != Some(latest.version) {
        if claimed {
            coach.update_personal_settings(|s| s.prompt_update_started_at = None)?;
        }
        let reason = "another prompt update is running or has just written a version".to_string();
        return Ok(report(
            due_reason,
            JobOutcome::NotDue { reason },
            Some(metrics),
        ));
    }
    let reason = format!("behaviour changed: {}", verdict.reasons.join("; "));
    let revised = coach.revise_prompt(&reason, &metrics).await;
    coach.update_personal_settings(|s| s.prompt_update_started_at = None)?;
    let outcome = match revised {
        Ok(r) => {
            tracing::info!(version = r.version, cost_usd = r.cost_usd, %reason, "prompt regenerated");
            JobOutcome::Regenerated {
                version: r.version,
                reasons: verdict.reasons,
                model: r.models.first().cloned().unwrap_or_default(),
                cost_usd: r.cost_usd,
            }
        }
        Err(e) => {
            tracing::error!("prompt update failed: {e:#}");
            JobOutcome::Failed {
                error: format!("{e:#}"),
            }
        }
    };
    Ok(report(due_reason, outcome, Some(metrics)))
}

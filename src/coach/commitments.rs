//! Behaviour tracking as the person sees it: check-ins (a local day with a coaching
//! session), commitments (`/commit <text> [by <date>]`, `/done N`, `/missed N`), commitments
//! the coach proposes from the last exchange, and the behaviour metrics over the window.
//!
//! Days are the person's local calendar days (the machine's time zone): a commitment "by
//! friday" made at 23:30 on a Thursday is due tomorrow, whatever UTC says.

use chrono::{Datelike, Days, Local, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::providers::ChatMessage;
use crate::store::{self, CommitmentStatus, NewCommitment, Role};

use super::behaviour::{self, Metrics};
use super::engine::Coach;
use super::interactions::Interaction;

/// Why a due date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DueDateError {
    #[error(
        "`{0}` is not a date: use YYYY-MM-DD, today, tomorrow, a weekday (friday), next week, end of month or in N days"
    )]
    Unreadable(String),
    #[error("{0} is in the past: a commitment needs a date from today on")]
    InPast(NaiveDate),
}

/// Errors of the commitment commands that a face shows as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    #[error("a commitment needs some text: /commit <what you will do> [by <date>]")]
    Empty,
    #[error("there is no commitment #{0} (see the commitments list)")]
    NotFound(i64),
    #[error(transparent)]
    Due(#[from] DueDateError),
}

/// One commitment as faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitmentView {
    /// The number `/done N` and `/missed N` take.
    pub id: i64,
    pub text: String,
    pub due: Option<NaiveDate>,
    pub status: CommitmentStatus,
    /// Open and past its due date (local time).
    pub overdue: bool,
    pub conversation_id: Option<i64>,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// A commitment the coach read in the last exchange; nothing is stored until the person
/// confirms it (`Coach::accept_proposal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub text: String,
    pub due: Option<NaiveDate>,
    /// The person stated or agreed to it (false: the coach suggested it).
    pub confirmed: bool,
    /// The person's own words.
    pub evidence: String,
    pub model: String,
    pub cost_usd: f64,
}

/// `/done` or `/missed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Done,
    Missed,
}

/// The person's local calendar day at `ts_ms` (the machine's time zone).
pub fn local_day(ts_ms: i64) -> NaiveDate {
    behaviour::local_date_in(ts_ms, &Local).unwrap_or_default()
}

/// Reads a due date relative to `today` (the person's local day). English and Chinese:
/// `2026-12-01`, `today`/`今天`, `tomorrow`/`明天`, `后天`, a weekday (`friday`, `fri`,
/// `周五`, `星期五`: the next one after today), `next week` / `下周` (Friday of next week),
/// `end of month` / `月底`, `in 3 days`, `in 2 weeks`.
pub fn parse_due(input: &str, today: NaiveDate) -> Result<NaiveDate, DueDateError> {
    let raw = input.trim();
    let t = raw
        .trim_end_matches(['.', '!', '。', '！'])
        .to_lowercase()
        .replace(['之', '前'], "");
    let t = t.trim();
    let t = t.strip_prefix("the ").unwrap_or(t);
    let add = |days: u64| today.checked_add_days(Days::new(days));
    let date = if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Some(d)
    } else if matches!(t, "today" | "tonight" | "今天" | "今晚") {
        Some(today)
    } else if matches!(t, "tomorrow" | "明天") {
        add(1)
    } else if matches!(t, "后天" | "the day after tomorrow") {
        add(2)
    } else if matches!(
        t,
        "next week" | "下周" | "下星期" | "end of next week" | "end of the week" | "end of week"
    ) {
        let friday = next_weekday(today, Weekday::Fri);
        if t.contains("of") && t.contains("the week") || t == "end of week" {
            friday
        } else {
            // Friday of next week: the week after the one today is in.
            let monday_next = next_weekday(today, Weekday::Mon);
            monday_next.and_then(|m| m.checked_add_days(Days::new(4)))
        }
    } else if matches!(t, "end of month" | "end of the month" | "月底") {
        last_of_month(today)
    } else if let Some(n) = t.strip_prefix("in ") {
        let mut parts = n.split_whitespace();
        match (
            parts.next().and_then(|x| x.parse::<u64>().ok()),
            parts.next(),
        ) {
            (Some(n), Some("day" | "days")) => add(n),
            (Some(n), Some("week" | "weeks")) => add(n * 7),
            _ => None,
        }
    } else {
        let name = t.strip_prefix("next ").unwrap_or(t);
        weekday_of(name).and_then(|w| next_weekday(today, w))
    };
    let date = date.ok_or_else(|| DueDateError::Unreadable(raw.to_string()))?;
    if date < today {
        return Err(DueDateError::InPast(date));
    }
    Ok(date)
}

/// Splits `/commit` input into the text and its due date: the part after the last " by "
/// is the date when it reads as one ("finish the draft by friday"); otherwise the whole
/// input is the text ("stand by my decision"). Chinese: a trailing "…前" date is not split.
pub fn parse_commit(
    input: &str,
    today: NaiveDate,
) -> Result<(String, Option<NaiveDate>), CommitmentError> {
    let input = input.trim();
    let lower = input.to_lowercase();
    if let Some(at) = lower.rfind(" by ") {
        let (text, rest) = (&input[..at], &input[at + 4..]);
        match parse_due(rest, today) {
            Ok(date) if !text.trim().is_empty() => {
                return Ok((text.trim().to_string(), Some(date)));
            }
            Err(e @ DueDateError::InPast(_)) => return Err(e.into()),
            _ => {}
        }
    }
    if input.is_empty() {
        return Err(CommitmentError::Empty);
    }
    Ok((input.to_string(), None))
}

fn weekday_of(name: &str) -> Option<Weekday> {
    let zh = |c: &str| match c {
        "一" => Some(Weekday::Mon),
        "二" => Some(Weekday::Tue),
        "三" => Some(Weekday::Wed),
        "四" => Some(Weekday::Thu),
        "五" => Some(Weekday::Fri),
        "六" => Some(Weekday::Sat),
        "日" | "天" => Some(Weekday::Sun),
        _ => None,
    };
    for prefix in ["星期", "礼拜", "周"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return zh(rest);
        }
    }
    if name.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    name.parse::<Weekday>().ok()
}

/// The first `weekday` strictly after `today`.
fn next_weekday(today: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let ahead = (7 + weekday.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    let ahead = if ahead == 0 { 7 } else { ahead };
    today.checked_add_days(Days::new(u64::from(ahead)))
}

fn last_of_month(day: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt())
}

fn view(c: store::Commitment, today: NaiveDate) -> CommitmentView {
    let due = c
        .due_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    CommitmentView {
        id: c.id,
        overdue: c.status == CommitmentStatus::Open && due.is_some_and(|d| d < today),
        text: c.text,
        due,
        status: c.status,
        conversation_id: c.conversation_id,
        created_at: c.created_at,
        resolved_at: c.resolved_at,
    }
}

/// The behaviour core's view of a stored commitment (local days).
pub fn to_behaviour(c: &store::Commitment) -> behaviour::Commitment {
    let due = c
        .due_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let on = local_day(c.resolved_at.unwrap_or(c.created_at));
    behaviour::Commitment {
        id: c.id,
        created: local_day(c.created_at),
        due,
        status: match c.status {
            CommitmentStatus::Open => behaviour::CommitmentStatus::Open,
            CommitmentStatus::Done => behaviour::CommitmentStatus::Done { on },
            CommitmentStatus::Missed => behaviour::CommitmentStatus::Missed { on },
        },
    }
}

/// Records today's check-in after a coaching turn; a failure is logged, never fatal (the
/// answer matters more than the bookkeeping).
pub fn record_checkin(coach: &Coach, now_ms: i64) {
    let day = local_day(now_ms).format("%Y-%m-%d").to_string();
    let checkin = store::Checkin {
        profile_id: coach.profile_id(),
        day,
    };
    if let Err(e) = coach.with_store(|s| s.insert_checkin(&checkin)) {
        tracing::warn!("could not record today's check-in: {e}");
    }
}

/// The answer of COMMITMENT_EXTRACTION.
#[derive(Debug, Deserialize)]
struct Extracted {
    commitments: Vec<ExtractedItem>,
}

#[derive(Debug, Deserialize)]
struct ExtractedItem {
    text: String,
    due: Option<String>,
    #[serde(default)]
    confirmed: bool,
    #[serde(default)]
    evidence: String,
}

/// The JSON object in a model answer (models sometimes wrap it in a code fence).
fn json_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start).then(|| &text[start..=end])
}

impl Coach {
    /// The person's local calendar day now.
    pub fn today(&self) -> NaiveDate {
        local_day(self.now_ms())
    }

    /// `/commit <text> [by <date>]`: stores an open commitment.
    pub fn commit(
        &self,
        input: &str,
        conversation_id: Option<i64>,
    ) -> anyhow::Result<CommitmentView> {
        let (text, due) = parse_commit(input, self.today())?;
        self.add_commitment(&text, due, conversation_id)
    }

    /// Stores an open commitment with an already known due date.
    pub fn add_commitment(
        &self,
        text: &str,
        due: Option<NaiveDate>,
        conversation_id: Option<i64>,
    ) -> anyhow::Result<CommitmentView> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CommitmentError::Empty.into());
        }
        let id = self.with_store(|s| {
            s.insert_commitment(&NewCommitment {
                profile_id: self.profile_id(),
                conversation_id,
                text: text.to_string(),
                due_date: due.map(|d| d.format("%Y-%m-%d").to_string()),
                created_at: self.now_ms(),
            })
        })?;
        self.commitment(id)
    }

    /// One commitment of this person.
    pub fn commitment(&self, id: i64) -> anyhow::Result<CommitmentView> {
        self.commitments_list()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| CommitmentError::NotFound(id).into())
    }

    /// All commitments: by due date (undated last), then creation.
    pub fn commitments_list(&self) -> anyhow::Result<Vec<CommitmentView>> {
        let today = self.today();
        let rows = self.with_store(|s| s.commitments(self.profile_id(), None))?;
        Ok(rows.into_iter().map(|c| view(c, today)).collect())
    }

    /// `/done N` and `/missed N` (a second call changes the resolution; nothing is deleted).
    pub fn resolve_commitment(
        &self,
        id: i64,
        resolution: Resolution,
    ) -> anyhow::Result<CommitmentView> {
        self.commitment(id)?;
        let status = match resolution {
            Resolution::Done => CommitmentStatus::Done,
            Resolution::Missed => CommitmentStatus::Missed,
        };
        self.with_store(|s| s.resolve_commitment(id, status, self.now_ms()))?;
        self.commitment(id)
    }

    /// Check-in days (local), oldest first.
    pub fn checkin_dates(&self) -> anyhow::Result<Vec<NaiveDate>> {
        let days = self.with_store(|s| s.checkin_days(self.profile_id(), "0000-00-00"))?;
        Ok(days
            .iter()
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect())
    }

    /// Behaviour metrics today over the configured window (`BEHAVIORAL_ANALYSIS_DAYS`).
    pub fn behaviour_metrics(&self) -> anyhow::Result<Metrics> {
        let checkins = self.checkin_dates()?;
        let commitments: Vec<behaviour::Commitment> = self
            .with_store(|s| s.commitments(self.profile_id(), None))?
            .iter()
            .map(to_behaviour)
            .collect();
        let config = self.config.settings.personalization.metrics_config();
        Ok(behaviour::compute_metrics(
            &checkins,
            &commitments,
            self.today(),
            &config,
        ))
    }

    /// Reads the last exchange of a conversation for a commitment (COMMITMENT_EXTRACTION):
    /// the first one that is not already an open commitment, for the person to confirm.
    pub async fn propose_commitment(
        &self,
        conversation_id: i64,
    ) -> anyhow::Result<Option<Proposal>> {
        let recent = self.with_store(|s| s.recent_messages(conversation_id, 2))?;
        if !recent.iter().any(|m| m.role == Role::User) {
            return Ok(None);
        }
        let transcript = recent
            .iter()
            .map(|m| {
                let who = if m.role == Role::User {
                    "Person"
                } else {
                    "Coach"
                };
                format!("{who}: {}", m.content)
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let ctx = self.prompts().context(&transcript);
        let answer = self
            .run_interaction(
                Interaction::CommitmentExtraction,
                &ctx,
                vec![ChatMessage::user(transcript)],
                Some(conversation_id),
                store::usage_kind::PROFILE,
            )
            .await?;
        let parsed: Extracted = match json_object(&answer.text)
            .map(serde_json::from_str)
            .transpose()
        {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => {
                tracing::warn!(
                    model = %answer.model,
                    "commitment extraction answered without valid JSON; no proposal"
                );
                return Ok(None);
            }
        };
        let open: Vec<String> = self
            .commitments_list()?
            .into_iter()
            .filter(|c| c.status == CommitmentStatus::Open)
            .map(|c| c.text.to_lowercase())
            .collect();
        let today = self.today();
        Ok(parsed
            .commitments
            .into_iter()
            .filter(|c| !c.text.trim().is_empty() && !open.contains(&c.text.trim().to_lowercase()))
            .map(|c| Proposal {
                text: c.text.trim().to_string(),
                // A date the model got wrong (past, unreadable) becomes no date, not an error.
                due: c.due.as_deref().and_then(|d| parse_due(d, today).ok()),
                confirmed: c.confirmed,
                evidence: c.evidence,
                model: answer.model.clone(),
                cost_usd: answer.cost_usd,
            })
            .next())
    }

    /// Stores a proposal the person confirmed.
    pub fn accept_proposal(
        &self,
        proposal: &Proposal,
        conversation_id: Option<i64>,
    ) -> anyhow::Result<CommitmentView> {
        self.add_commitment(&proposal.text, proposal.due, conversation_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    // Thursday 2026-11-26.
    const TODAY: (i32, u32, u32) = (2026, 11, 26);

    fn today() -> NaiveDate {
        d(TODAY.0, TODAY.1, TODAY.2)
    }

    #[test]
    fn absolute_and_relative_dates() {
        let t = today();
        assert_eq!(parse_due("2026-12-01", t), Ok(d(2026, 12, 1)));
        assert_eq!(parse_due("today", t), Ok(t));
        assert_eq!(parse_due("Tomorrow", t), Ok(d(2026, 11, 27)));
        assert_eq!(parse_due("friday", t), Ok(d(2026, 11, 27)));
        assert_eq!(parse_due("Fri", t), Ok(d(2026, 11, 27)));
        // The same weekday as today means next week's.
        assert_eq!(parse_due("thursday", t), Ok(d(2026, 12, 3)));
        assert_eq!(parse_due("next monday", t), Ok(d(2026, 11, 30)));
        assert_eq!(parse_due("next week", t), Ok(d(2026, 12, 4)));
        assert_eq!(parse_due("end of month", t), Ok(d(2026, 11, 30)));
        assert_eq!(parse_due("in 3 days", t), Ok(d(2026, 11, 29)));
        assert_eq!(parse_due("in 2 weeks", t), Ok(d(2026, 12, 10)));
    }

    #[test]
    fn chinese_dates() {
        let t = today();
        assert_eq!(parse_due("明天", t), Ok(d(2026, 11, 27)));
        assert_eq!(parse_due("后天", t), Ok(d(2026, 11, 28)));
        assert_eq!(parse_due("周五", t), Ok(d(2026, 11, 27)));
        assert_eq!(parse_due("星期日", t), Ok(d(2026, 11, 29)));
        assert_eq!(parse_due("下周", t), Ok(d(2026, 12, 4)));
        assert_eq!(parse_due("月底前", t), Ok(d(2026, 11, 30)));
    }

    #[test]
    fn month_and_year_ends() {
        assert_eq!(
            parse_due("end of month", d(2026, 12, 15)),
            Ok(d(2026, 12, 31))
        );
        assert_eq!(parse_due("tomorrow", d(2026, 12, 31)), Ok(d(2027, 1, 1)));
        assert_eq!(parse_due("end of month", d(2028, 2, 3)), Ok(d(2028, 2, 29)));
        // Saturday 2026-12-26 → next Friday is in the new year.
        assert_eq!(parse_due("friday", d(2026, 12, 26)), Ok(d(2027, 1, 1)));
    }

    #[test]
    fn bad_and_past_dates_are_refused() {
        let t = today();
        assert_eq!(
            parse_due("2026-11-01", t),
            Err(DueDateError::InPast(d(2026, 11, 1)))
        );
        assert!(matches!(
            parse_due("fryday", t),
            Err(DueDateError::Unreadable(_))
        ));
        assert!(matches!(
            parse_due("2026-13-01", t),
            Err(DueDateError::Unreadable(_))
        ));
    }

    #[test]
    fn commit_splits_text_and_date() {
        let t = today();
        assert_eq!(
            parse_commit("Send the portfolio to two studios by friday", t),
            Ok((
                "Send the portfolio to two studios".into(),
                Some(d(2026, 11, 27))
            ))
        );
        assert_eq!(
            parse_commit("call mum BY 2026-12-01", t),
            Ok(("call mum".into(), Some(d(2026, 12, 1))))
        );
        // "by" that is not followed by a date belongs to the text.
        assert_eq!(
            parse_commit("stand by my decision", t),
            Ok(("stand by my decision".into(), None))
        );
        assert_eq!(parse_commit("   ", t), Err(CommitmentError::Empty));
        assert_eq!(
            parse_commit("run by 2026-01-01", t),
            Err(CommitmentError::Due(DueDateError::InPast(d(2026, 1, 1))))
        );
    }
}

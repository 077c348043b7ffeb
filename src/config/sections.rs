//! Config sections whose behaviour lives in upper layers (the analyzer, the personalised
//! coach's update schedule). Their shapes are settings, so they are defined here, at the
//! bottom; `routing::analyzer` and `coach::behaviour` implement what they mean.

use chrono::Weekday;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `[analyzer]` config section: a preset and optional overrides of its fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyzerSettings {
    /// `off`, `fast`, `cheap`, `balanced` or `reliable`; unset: the presets file's default.
    pub preset: Option<String>,
    /// Overrides the preset's model (a catalog id).
    pub model: Option<String>,
    pub budget_ms: Option<u64>,
    pub retries: Option<u32>,
    pub cache: Option<bool>,
    pub cache_size: Option<usize>,
    /// Prior turns sent along with the message and hashed into the cache key.
    pub context_turns: Option<usize>,
    pub failure_threshold: Option<u32>,
    pub cooldown_secs: Option<u64>,
    /// Overrides `[merge] lower_below_confidence` of the presets file.
    pub lower_below_confidence: Option<f32>,
    /// Overrides `[merge] min_analyzer_score` of the presets file.
    pub min_analyzer_score: Option<f32>,
}

/// When personalised prompts are regenerated, and how much behaviour must move first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdatePolicy {
    /// `MIN_DAYS_BETWEEN_UPDATES`: calendar days between two updates (default 7).
    pub min_days_between_updates: u32,
    /// `PROMPT_UPDATE_DAY`: weekday of the update slot, e.g. "sunday" or "sun" (default Sunday).
    #[serde(
        serialize_with = "serialize_weekday",
        deserialize_with = "deserialize_weekday"
    )]
    pub update_day: Weekday,
    /// `PROMPT_UPDATE_HOUR`: local hour 0..23 of the update slot (default 3).
    pub update_hour: u32,
    /// `ADHERENCE_CHANGE_THRESHOLD`: regenerate when adherence moved more than this (0.10).
    pub adherence_change_threshold: f64,
    /// `LOGGING_CHANGE_THRESHOLD`: regenerate when logging consistency moved more than this (0.10).
    pub logging_change_threshold: f64,
    /// `STREAK_CHANGE_THRESHOLD`: regenerate when the current streak moved by at least this
    /// many days (7).
    pub streak_change_threshold: u32,
    /// `ENABLE_AUTOMATIC_UPDATES`: run the scheduled update at all (default on).
    pub enable_automatic_updates: bool,
    /// `ENABLE_CHANGE_DETECTION`: off → every due update regenerates (default on).
    pub enable_change_detection: bool,
    /// `ENABLE_GENERIC_FALLBACK`: chat on the generic GROW prompt while no personalised
    /// prompt is ready (default on); off → the person is told why chat waits.
    pub enable_generic_fallback: bool,
    /// `BEHAVIORAL_ANALYSIS_DAYS`: days in the metrics window, today included (default 30).
    pub analysis_window_days: u32,
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        UpdatePolicy {
            min_days_between_updates: 7,
            update_day: Weekday::Sun,
            update_hour: 3,
            adherence_change_threshold: 0.10,
            logging_change_threshold: 0.10,
            streak_change_threshold: 7,
            enable_automatic_updates: true,
            enable_change_detection: true,
            enable_generic_fallback: true,
            analysis_window_days: 30,
        }
    }
}

/// "sun", "Sunday", "SUN" → Sunday. Numbers are refused: 0 means Sunday to cron and Monday
/// to ISO, so either reading would surprise someone.
pub fn parse_weekday(v: &str) -> Result<Weekday, String> {
    let t = v.trim();
    if t.parse::<u32>().is_ok() {
        return Err(format!(
            "`{t}` is ambiguous: name the day, e.g. sun or sunday"
        ));
    }
    t.parse::<Weekday>()
        .map_err(|_| format!("`{t}` is not a weekday: use mon, tue, wed, thu, fri, sat or sun"))
}

pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn serialize_weekday<S: Serializer>(d: &Weekday, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(weekday_name(*d))
}

fn deserialize_weekday<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
    let s = String::deserialize(d)?;
    parse_weekday(&s).map_err(serde::de::Error::custom)
}

//! Retries like the official SDKs: a couple of quick retries with exponential backoff and
//! jitter for transient failures, honouring the server's `retry-after`, and never once text
//! has reached the person.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use super::error::ProviderError;
use super::{ChatRequest, Completion, Provider};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// First backoff; doubles each retry.
    pub base: Duration,
    /// Longest computed backoff.
    pub cap: Duration,
    /// Longest server-requested wait we accept; beyond it we fall back to our own backoff
    /// (a minute-long stall is worse than trying the next model).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (e.g. for the analyzer, which has its own deadline).
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// How long to wait before retry number `retry_index` (0-based) after `err`, or `None`
    /// when the call must not be retried.
    pub fn delay_for(&self, retry_index: u32, err: &ProviderError) -> Option<Duration> {
        if retry_index >= self.max_retries || !err.class.is_retryable() || err.has_partial() {
            return None;
        }
        if let Some(wait) = err.retry_after
            && wait <= self.max_retry_after
        {
            return Some(wait);
        }
        Some(self.backoff(retry_index, fastrand::f64()))
    }

    /// `min(base·2^n, cap)`, reduced by up to 25 % by `jitter` in [0, 1) so that many
    /// clients failing together do not come back together.
    pub fn backoff(&self, retry_index: u32, jitter: f64) -> Duration {
        let factor = 2f64.powi(i32::try_from(retry_index.min(30)).unwrap_or(30));
        let raw = (self.base.as_secs_f64() * factor).min(self.cap.as_secs_f64());
        Duration::from_secs_f64(raw * (1.0 - 0.25 * jitter.clamp(0.0, 1.0)))
    }
}

/// Runs `provider.stream` with retries per `policy`; `on_retry` hears of each failed try and
/// the wait before the next one. The last error is returned when retries run out.
pub async fn stream_with_retry(
    provider: &Provider,
    req: &ChatRequest,
    policy: &RetryPolicy,
    on_delta: &mut (dyn FnMut(&str) + Send),
    on_retry: &mut (dyn FnMut(&ProviderError, Duration) + Send),
) -> Result<Completion, ProviderError> {
    let mut retry_index = 0;
    loop {
        let err = match provider.stream(req, on_delta).await {
            Ok(done) => return Ok(done),
            Err(err) => err,
        };
        let Some(wait) = policy.delay_for(retry_index, &err) else {
            return Err(err);
        };
        tracing::info!(
            provider = provider.name(),
            model = %req.model,
            class = err.class.as_str(),
            status = err.status,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            retry = retry_index + 1,
            error = %err.message,
            "retrying"
        );
        on_retry(&err, wait);
        tokio::time::sleep(wait).await;
        retry_index += 1;
    }
}

/// The wait a response asks for: `retry-after-ms` (Anthropic, OpenAI) first, then
/// `retry-after` as seconds or an HTTP date.
pub fn retry_after_from_headers(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    parse_retry_after(get("retry-after-ms"), get("retry-after"), Utc::now())
}

pub fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let non_negative = |v: f64| v.is_finite() && v >= 0.0;
    if let Some(ms) = retry_after_ms
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| non_negative(*v))
    {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = retry_after?.trim();
    if let Some(secs) = value.parse::<f64>().ok().filter(|v| non_negative(*v)) {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::error::{ErrorClass, TimeoutKind};

    fn err(class: ErrorClass) -> ProviderError {
        ProviderError::new(class, "x")
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_down() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(10, 0.0), Duration::from_secs(8));
        assert_eq!(p.backoff(0, 1.0), Duration::from_millis(375));
        let d = p.delay_for(0, &err(ErrorClass::Overloaded)).unwrap();
        assert!(d <= Duration::from_millis(500) && d >= Duration::from_millis(375));
    }

    #[test]
    fn stops_after_max_retries_and_for_permanent_errors() {
        let p = RetryPolicy::default();
        assert!(p.delay_for(1, &err(ErrorClass::ServerError)).is_some());
        assert!(p.delay_for(2, &err(ErrorClass::ServerError)).is_none());
        for class in [
            ErrorClass::SpendLimit,
            ErrorClass::Auth,
            ErrorClass::BadRequest,
            ErrorClass::ContextTooLong,
            ErrorClass::MalformedStream,
        ] {
            assert_eq!(p.delay_for(0, &err(class)), None, "{class}");
        }
        assert!(
            p.delay_for(0, &ProviderError::timeout(TimeoutKind::FirstByte, "t"))
                .is_some()
        );
        assert!(p.delay_for(0, &err(ErrorClass::Connect)).is_some());
    }

    #[test]
    fn never_retries_after_text_streamed() {
        let mut e = err(ErrorClass::StreamCut);
        assert!(RetryPolicy::default().delay_for(0, &e).is_some());
        e.partial = Some("Hello".into());
        assert_eq!(RetryPolicy::default().delay_for(0, &e), None);
    }

    #[test]
    fn honours_retry_after_up_to_the_limit() {
        let p = RetryPolicy::default();
        let mut e = err(ErrorClass::RateLimited);
        e.retry_after = Some(Duration::from_secs(20));
        assert_eq!(p.delay_for(0, &e), Some(Duration::from_secs(20)));
        e.retry_after = Some(Duration::from_secs(3600));
        assert!(p.delay_for(0, &e).unwrap() <= Duration::from_millis(500));
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after(Some("1500"), Some("9"), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(None, Some("2"), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(Some("-5"), Some("soon"), now), None);
        assert_eq!(parse_retry_after(None, None, now), None);
    }
}

//! Bounds on what a plugin hands back: its failures, observations and log
//! lines are checked here before anyone stores them.
//!
//! Decisions, per field:
//!
//! - a **reason** (observation or failure) must be CamelCase
//!   (`[A-Z][A-Za-z0-9]*`) of at most [`MAX_REASON`] characters, the
//!   `failure_reason varchar(128)` column on PostgreSQL. An observation with
//!   a bad reason is refused ([`CallError::InvalidObservation`]); a failure
//!   with one stays a failure of the plugin (its `retryable` kept) under the
//!   reason `PluginFailed`, the bad reason moved into the message, because
//!   the plugin did say no and that should not be lost;
//! - a **message** is truncated to [`MAX_MESSAGE`] characters: free text,
//!   cutting it loses nothing that matters;
//! - **URLs** (`storefront-url`, `admin-url`) must parse as absolute `http`
//!   or `https` URLs with a host, at most [`MAX_URL`] characters, or the
//!   observation is refused: the dashboard renders them as links, and a
//!   `javascript:` URL must never be stored;
//! - **credentials-secret** must be a DNS-1123 subdomain, or the
//!   observation is refused (it is later read from the cluster by name);
//! - **log lines**: each is truncated to [`MAX_LOG_LINE`] characters; at
//!   most [`MAX_LOUD_LINES`] warn/error lines per call reach the backend
//!   (each becomes a timeline row), at most [`MAX_QUIET_LINES`] lines of the
//!   other levels, then one summary line says how many were dropped;
//! - **field problems** from `validate`: at most [`MAX_PROBLEMS`], field
//!   paths cut to 256 and messages to [`MAX_MESSAGE`] characters.

use crate::{
    error::CallError,
    guest,
    host::{FieldProblem, JobReport, Observed},
    policy,
};

/// Longest reason: the database column is `varchar(128)`.
pub const MAX_REASON: usize = 128;
/// Longest message kept (characters).
pub const MAX_MESSAGE: usize = 1024;
/// Longest URL accepted.
pub const MAX_URL: usize = 2048;
/// Longest log line kept (characters).
pub const MAX_LOG_LINE: usize = 1024;
/// Warn and error lines per call that reach the backend.
pub const MAX_LOUD_LINES: u32 = 20;
/// Trace, debug and info lines per call that reach the backend.
pub const MAX_QUIET_LINES: u32 = 200;
/// Field problems kept from one `validate`.
pub const MAX_PROBLEMS: usize = 100;

/// `text` cut to `max` characters (not bytes), with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => {
            let mut cut = text[..end].to_owned();
            cut.pop();
            cut.push('…');
            cut
        }
    }
}

/// Whether `reason` is a CamelCase reason that fits the database.
pub fn is_reason(reason: &str) -> bool {
    reason.len() <= MAX_REASON
        && reason.starts_with(|c: char| c.is_ascii_uppercase())
        && reason.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A plugin's failure as a [`CallError::Plugin`], bounded.
pub(crate) fn failure(f: guest::Failure) -> CallError {
    let (reason, message) = if f.reason.is_empty() {
        ("PluginFailed".to_owned(), f.message)
    } else if is_reason(&f.reason) {
        (f.reason, f.message)
    } else {
        (
            "PluginFailed".to_owned(),
            format!(
                "(invalid reason {:?}) {}",
                truncate(&f.reason, MAX_REASON),
                f.message
            ),
        )
    };
    CallError::Plugin {
        reason,
        message: truncate(&message, MAX_MESSAGE),
        retryable: f.retryable,
    }
}

/// An observation, checked and bounded; refused with
/// [`CallError::InvalidObservation`] when a field cannot be stored safely.
pub(crate) fn observation(plugin: &str, o: guest::Observation) -> Result<Observed, CallError> {
    let invalid = |problem: String| CallError::InvalidObservation {
        plugin: plugin.to_owned(),
        problem,
    };
    if !o.reason.is_empty() && !is_reason(&o.reason) {
        return Err(invalid(format!(
            "reason {:?} is not a CamelCase word of at most {MAX_REASON} characters",
            truncate(&o.reason, MAX_REASON)
        )));
    }
    for (field, url) in [
        ("storefront-url", &o.storefront_url),
        ("admin-url", &o.admin_url),
    ] {
        if let Some(url) = url
            && let Err(why) = check_url(url)
        {
            return Err(invalid(format!("{field} {:?} {why}", truncate(url, 200))));
        }
    }
    if let Some(secret) = &o.credentials_secret
        && !policy::is_dns1123_subdomain(secret)
    {
        return Err(invalid(format!(
            "credentials-secret {:?} is not a DNS-1123 name",
            truncate(secret, 100)
        )));
    }
    Ok(Observed {
        phase: o.phase,
        message: truncate(&o.message, MAX_MESSAGE),
        reason: o.reason,
        storefront_url: o.storefront_url,
        admin_url: o.admin_url,
        credentials_secret: o.credentials_secret,
    })
}

/// A backup's or restore's status, checked like an observation: a reason
/// that is not CamelCase or a checksum that is not SHA-256 hex is refused.
pub(crate) fn job_status(plugin: &str, s: guest::JobStatus) -> Result<JobReport, CallError> {
    let invalid = |problem: String| CallError::InvalidObservation {
        plugin: plugin.to_owned(),
        problem,
    };
    if !s.reason.is_empty() && !is_reason(&s.reason) {
        return Err(invalid(format!(
            "reason {:?} is not a CamelCase word of at most {MAX_REASON} characters",
            truncate(&s.reason, MAX_REASON)
        )));
    }
    if let Some(sum) = &s.sha256
        && !(sum.len() == 64 && sum.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        return Err(invalid(format!(
            "sha256 {:?} is not 64 lowercase hex digits",
            truncate(sum, 80)
        )));
    }
    Ok(JobReport {
        phase: s.phase,
        message: truncate(&s.message, MAX_MESSAGE),
        reason: s.reason,
        size_bytes: s.size_bytes,
        sha256: s.sha256,
    })
}

fn check_url(text: &str) -> Result<(), String> {
    if text.len() > MAX_URL {
        return Err(format!("is longer than {MAX_URL} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme {}; only http and https are allowed",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(())
}

/// `validate`'s field problems, bounded.
pub(crate) fn problems(found: Vec<guest::FieldError>) -> Vec<FieldProblem> {
    let total = found.len();
    let mut kept: Vec<FieldProblem> = found
        .into_iter()
        .take(MAX_PROBLEMS)
        .map(|p| FieldProblem {
            field: truncate(&p.field, 256),
            message: truncate(&p.message, MAX_MESSAGE),
        })
        .collect();
    if total > MAX_PROBLEMS
        && let Some(last) = kept.last_mut()
    {
        last.message = format!(
            "{} (and {} more problems)",
            last.message,
            total - MAX_PROBLEMS
        );
    }
    kept
}

/// Counts one call's log lines against the limits.
#[derive(Debug, Default)]
pub(crate) struct LogBudget {
    loud: u32,
    quiet: u32,
    dropped: u32,
}

impl LogBudget {
    /// Whether a line may be sent; counts it either way.
    pub fn admit(&mut self, loud: bool) -> bool {
        let (used, limit) = if loud {
            (&mut self.loud, MAX_LOUD_LINES)
        } else {
            (&mut self.quiet, MAX_QUIET_LINES)
        };
        if *used < limit {
            *used += 1;
            true
        } else {
            self.dropped = self.dropped.saturating_add(1);
            false
        }
    }

    /// The summary line for dropped lines, if any were dropped.
    pub fn summary(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "{} more log lines from this call were dropped (at most {MAX_LOUD_LINES} warnings and errors and {MAX_QUIET_LINES} other lines per call)",
                self.dropped
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // A failed expectation is the test failing.
mod tests {
    use super::*;

    fn observation_with(f: impl FnOnce(&mut guest::Observation)) -> Result<Observed, CallError> {
        let mut o = guest::Observation {
            phase: crate::host::ObservedPhase::Ready,
            message: "ready".into(),
            reason: String::new(),
            storefront_url: Some("https://shop.example.com/".into()),
            admin_url: Some("http://shop.localhost:8080/wp-admin/".into()),
            credentials_secret: Some("shop-admin".into()),
        };
        f(&mut o);
        observation("p", o)
    }

    fn problem(result: Result<Observed, CallError>) -> String {
        match result {
            Err(CallError::InvalidObservation { problem, .. }) => problem,
            other => panic!("expected InvalidObservation, got {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_observation_passes_unchanged() {
        let observed = observation_with(|_| {}).expect("valid");
        assert_eq!(observed.phase, crate::host::ObservedPhase::Ready);
        assert_eq!(
            observed.storefront_url.as_deref(),
            Some("https://shop.example.com/")
        );
    }

    #[test]
    fn urls_must_be_http_or_https() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,<script>",
            "ftp://shop.example.com/",
            "/relative",
            "https://user:pw@shop.example.com/",
        ] {
            let text = problem(observation_with(|o| o.admin_url = Some(bad.into())));
            assert!(text.starts_with("admin-url"), "{bad}: {text}");
        }
        let long = format!("https://shop.example.com/{}", "a".repeat(MAX_URL));
        assert!(problem(observation_with(|o| o.storefront_url = Some(long))).contains("longer"));
    }

    #[test]
    fn an_observed_reason_must_fit_the_database() {
        let long = format!("A{}", "b".repeat(MAX_REASON));
        assert!(problem(observation_with(|o| o.reason = long)).starts_with("reason"));
        assert!(problem(observation_with(|o| o.reason = "not camel".into())).starts_with("reason"));
        assert!(observation_with(|o| o.reason = "SetupJobFailed".into()).is_ok());
        let err = observation_with(|o| o.reason = "x y".into()).unwrap_err();
        assert_eq!(err.reason(), "InvalidObservation");
        assert!(!err.is_retryable());
    }

    #[test]
    fn credentials_secret_must_be_a_name() {
        let text = problem(observation_with(|o| {
            o.credentials_secret = Some("../secrets/x".into())
        }));
        assert!(text.starts_with("credentials-secret"), "{text}");
    }

    #[test]
    fn long_messages_are_truncated() {
        let observed = observation_with(|o| o.message = "é".repeat(5000)).expect("valid");
        assert_eq!(observed.message.chars().count(), MAX_MESSAGE);
        assert!(observed.message.ends_with('…'));
    }

    #[test]
    fn a_failure_with_a_bad_reason_keeps_its_meaning_under_plugin_failed() {
        let err = failure(guest::Failure {
            reason: "x".repeat(500),
            message: "m".repeat(5000),
            retryable: true,
        });
        let CallError::Plugin {
            reason,
            message,
            retryable,
        } = err
        else {
            panic!("a plugin failure")
        };
        assert_eq!(reason, "PluginFailed");
        assert!(retryable);
        assert!(message.starts_with("(invalid reason"));
        assert_eq!(message.chars().count(), MAX_MESSAGE);
    }

    #[test]
    fn the_log_budget_admits_twenty_loud_lines_then_summarises() {
        let mut budget = LogBudget::default();
        let admitted = (0..50).filter(|_| budget.admit(true)).count();
        assert_eq!(admitted, MAX_LOUD_LINES as usize);
        assert!(budget.admit(false), "quiet lines have their own budget");
        assert!(budget.summary().is_some_and(|s| s.starts_with("30 more")));
        assert_eq!(LogBudget::default().summary(), None);
    }

    #[test]
    fn field_problems_are_bounded() {
        let many = (0..150)
            .map(|i| guest::FieldError {
                field: format!("f{i}{}", "x".repeat(300)),
                message: "m".repeat(2000),
            })
            .collect();
        let kept = problems(many);
        assert_eq!(kept.len(), MAX_PROBLEMS);
        assert!(kept.iter().all(|p| p.field.chars().count() <= 256));
        assert!(kept[0].message.chars().count() <= MAX_MESSAGE);
        assert!(
            kept[MAX_PROBLEMS - 1]
                .message
                .ends_with("(and 50 more problems)")
        );
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééé", 2), "é…");
    }
}

//! TLS upstream certificates that expired or expire soon, from the notAfter the probe read
//! (`ProbeResult::cert_not_after`).

use super::event::{Event, EventKind};

/// How close to its end a certificate is worth an event.
pub const WARN_WITHIN: i64 = 7 * 24 * 3600;
/// The source of every certificate event: the probe's TLS handshake.
pub const SOURCE: &str = "tls";

/// A cert_expiry event when `not_after` is past or within WARN_WITHIN of `now`: "certificate of
/// <upstream> expired 2026-11-30 12:00:00 UTC" / "certificate of <upstream> expires 2026-12-05
/// ... (in 3 days)"; `at` = not_after when past, else now. None otherwise.
///
/// Valid through its notAfter second, as rustls checks it: expired only once `now` is past it.
pub fn cert_event(upstream: &str, not_after: i64, now: i64) -> Option<Event> {
    let left = not_after.saturating_sub(now);
    if left > WARN_WITHIN {
        return None;
    }
    let when = utc(not_after);
    if left < 0 {
        let text = format!("certificate of {upstream} expired {when}");
        return Some(Event::new(not_after, EventKind::CertExpiry, SOURCE, &text));
    }
    let text = format!(
        "certificate of {upstream} expires {when} ({})",
        in_words(left)
    );
    Some(Event::new(now, EventKind::CertExpiry, SOURCE, &text))
}

/// "2026-11-30 12:00:00 UTC"; a time past jiff's range (year 9999) as raw unix seconds.
fn utc(secs: i64) -> String {
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => format!("@{secs} (unix)"),
    }
}

/// "in 3 days", "in 36 hours", "in 12 minutes": rounded, in the largest unit that still
/// leaves at least two of it (so a day and a half is not "in 1 day").
fn in_words(left: i64) -> String {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    let (n, unit) = match left {
        l if l >= 2 * DAY => ((l + DAY / 2) / DAY, "day"),
        l if l >= 2 * HOUR => ((l + HOUR / 2) / HOUR, "hour"),
        l if l >= MINUTE => ((l + MINUTE / 2) / MINUTE, "minute"),
        _ => return "in less than a minute".into(),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("in {n} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-02 12:00:00 UTC.
    const NOW: i64 = 1_796_212_800;
    const DAY: i64 = 24 * 3600;

    #[test]
    fn an_expired_certificate_is_an_event_at_its_end() {
        let event = cert_event("shop-api", NOW - 2 * DAY, NOW).expect("an event");
        assert_eq!(event.kind, EventKind::CertExpiry);
        assert_eq!(event.at, NOW - 2 * DAY);
        assert_eq!(event.source, "tls");
        assert_eq!(
            event.text,
            "certificate of shop-api expired 2026-11-30 12:00:00 UTC"
        );
        // One second past its end is expired already.
        let event = cert_event("shop-api", NOW - 1, NOW).expect("an event");
        assert_eq!(event.at, NOW - 1);
        assert!(event.text.contains(" expired 2026-12-02 11:59:59 UTC"));
    }

    #[test]
    fn a_certificate_ending_within_a_week_is_an_event_now() {
        let event = cert_event("shop-api", NOW + 3 * DAY, NOW).expect("an event");
        assert_eq!(event.at, NOW);
        assert_eq!(
            event.text,
            "certificate of shop-api expires 2026-12-05 12:00:00 UTC (in 3 days)"
        );
        let text = |left| cert_event("a", NOW + left, NOW).expect("an event").text;
        assert!(text(WARN_WITHIN).ends_with("(in 7 days)"));
        assert!(text(3 * DAY - 5).ends_with("(in 3 days)"));
        assert!(text(DAY + DAY / 2).ends_with("(in 36 hours)"));
        assert!(text(3600).ends_with("(in 60 minutes)"));
        assert!(text(90).ends_with("(in 2 minutes)"));
        assert!(text(60).ends_with("(in 1 minute)"));
        // Valid through its last second.
        assert!(text(0).ends_with("expires 2026-12-02 12:00:00 UTC (in less than a minute)"));
    }

    #[test]
    fn a_certificate_valid_for_longer_is_no_event() {
        assert_eq!(cert_event("a", NOW + WARN_WITHIN + 1, NOW), None);
        assert_eq!(cert_event("a", NOW + 365 * DAY, NOW), None);
        assert_eq!(cert_event("a", i64::MAX, NOW), None);
    }

    #[test]
    fn hostile_names_and_extreme_times_stay_printable() {
        let event = cert_event("evil\x1b[2J\nname", NOW - DAY, NOW).expect("an event");
        assert!(!event.text.chars().any(char::is_control), "{}", event.text);
        assert!(event.text.contains("evil\\x1b[2J"), "{}", event.text);
        let event = cert_event("a", i64::MIN, NOW).expect("an event");
        assert_eq!(event.at, i64::MIN);
        assert!(event.text.ends_with(" (unix)"), "{}", event.text);
        let long = "n".repeat(10_000);
        let event = cert_event(&long, NOW - DAY, NOW).expect("an event");
        assert!(event.text.chars().count() <= super::super::event::MAX_TEXT_CHARS + 1);
    }
}

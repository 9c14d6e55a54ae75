//! How bad a log's window is: the one rule every front end uses (the per-log finding, `check`,
//! the report, the dashboard), so a count means the same wherever it is shown.

use super::WindowCounts;
use crate::status::Status;

/// Bad-gateway events in the window ([`WindowCounts::events`]) from which a log warns: any one
/// means requests are failing upstream right now.
pub const WARNING_EVENTS: u64 = 1;
/// ... and from which it is critical: a sustained failure, not a blip (5 a minute over the
/// default 10-minute window).
pub const CRITICAL_EVENTS: u64 = 50;
/// A share of failed requests (see [`super::is_gateway_failure`]) from which a log is critical
/// however few events that is: a quiet site failing one request in ten is an outage to its users.
pub const CRITICAL_SHARE_PERCENT: u64 = 10;
/// ... counted only over at least this many requests, so two requests with one 502 are a warning.
pub const SHARE_MIN_REQUESTS: u64 = 5;
/// ... and this many failed ones, so one blip among a quiet minute's requests is a warning.
pub const SHARE_MIN_FAILED: u64 = 3;
/// An upstream with at least this many requests ...
pub const UPSTREAM_MIN_REQUESTS: u64 = 3;
/// ... failing at least this share of them is down for whoever it serves (one path, one app),
/// even when the site's other upstreams dilute the overall share.
pub const UPSTREAM_CRITICAL_PERCENT: u64 = 50;

/// Critical for many events, a high share of failed requests, or one upstream failing half its
/// requests; a warning for any event; ok otherwise. A 503 or 504 alone is no event (nginx logs
/// the cause of its 504 in the error log, where it counts), but it does count in the shares.
pub fn severity(counts: &WindowCounts) -> Status {
    let events = counts.events();
    let (failed, requests) = (counts.failed_requests, counts.requests);
    // A tenth of a real amount of traffic, or half of even a little: the whole site may be
    // one quiet endpoint.
    let share_critical = (requests >= SHARE_MIN_REQUESTS
        && failed >= SHARE_MIN_FAILED
        && at_least(failed, requests, CRITICAL_SHARE_PERCENT))
        || (requests >= UPSTREAM_MIN_REQUESTS
            && at_least(failed, requests, UPSTREAM_CRITICAL_PERCENT));
    let upstream_critical = counts.upstream_requests.iter().any(|(upstream, total)| {
        let failed = counts.upstream_share(upstream).map_or(0, |(f, _)| f);
        *total >= UPSTREAM_MIN_REQUESTS && at_least(failed, *total, UPSTREAM_CRITICAL_PERCENT)
    });
    if events >= CRITICAL_EVENTS || share_critical || upstream_critical {
        Status::Critical
    } else if events >= WARNING_EVENTS {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// `part` is at least `percent`% of `whole` (integers only: no rounding at the boundary).
fn at_least(part: u64, whole: u64, percent: u64) -> bool {
    whole > 0 && part.saturating_mul(100) >= whole.saturating_mul(percent)
}

/// `part` of `whole` as a whole percentage, rounded to nearest: `86` for 12 of 14.
pub fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    (part.saturating_mul(100) + whole / 2) / whole
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(events: u64, requests: u64, failed: u64) -> WindowCounts {
        WindowCounts {
            status_502: events,
            requests,
            failed_requests: failed,
            ..WindowCounts::default()
        }
    }

    #[test]
    fn events_alone_warn_then_turn_critical() {
        assert_eq!(severity(&WindowCounts::default()), Status::Ok);
        assert_eq!(severity(&counts(1, 0, 0)), Status::Warning);
        assert_eq!(
            severity(&counts(CRITICAL_EVENTS - 1, 0, 0)),
            Status::Warning
        );
        assert_eq!(severity(&counts(CRITICAL_EVENTS, 0, 0)), Status::Critical);
    }

    #[test]
    fn a_high_share_of_few_requests_is_critical() {
        // 3 of 30 is 10%: critical; 3 of 31 is not, nor is one blip among 9.
        assert_eq!(severity(&counts(3, 30, 3)), Status::Critical);
        assert_eq!(severity(&counts(3, 31, 3)), Status::Warning);
        assert_eq!(severity(&counts(1, 9, 1)), Status::Warning);
        // Half of a few requests: a quiet endpoint that fails.
        assert_eq!(severity(&counts(2, 4, 2)), Status::Critical);
        assert_eq!(severity(&counts(3, 3, 3)), Status::Critical);
        // Too few requests to speak of a share.
        assert_eq!(severity(&counts(1, 2, 1)), Status::Warning);
        // A 504 is a failed request but not an event (its error-log line is the event).
        assert_eq!(severity(&counts(0, 100, 1)), Status::Ok);
        assert_eq!(severity(&counts(0, 100, 10)), Status::Critical);
    }

    #[test]
    fn one_upstream_failing_half_its_requests_is_critical() {
        let mut c = counts(2, 1000, 2);
        c.upstream_requests = vec![("10.0.0.1:80".into(), 997), ("10.0.0.9:80".into(), 3)];
        c.upstream_failed = vec![("10.0.0.9:80".into(), 2)];
        assert_eq!(severity(&c), Status::Critical);
        assert_eq!(c.upstream_share("10.0.0.9:80"), Some((2, 3)));
        assert_eq!(c.upstream_share("10.0.0.1:80"), Some((0, 997)));
        assert_eq!(c.upstream_share("nope"), None);
        // Two requests are too few to call it.
        c.upstream_requests[1].1 = 2;
        assert_eq!(severity(&c), Status::Warning);
    }

    #[test]
    fn percentages_round_to_nearest() {
        assert_eq!(percent(12, 14), 86);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(0, 0), 0);
    }
}

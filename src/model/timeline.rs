//! The incident timeline as the model keeps it: the events from every source, each log's
//! per-minute history over the span (the scan of its past, then the follower's minutes), and
//! the changes gatewatch sees itself (DNS answers, upstream states).

use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::dns::{DnsRound, DriftTracker};
use crate::logs::{MinuteCounts, Tally, earlier};
use crate::timeline::history::{History, Minute};
use crate::timeline::story::{self, Judged};
use crate::timeline::{Event, EventKind, Events};
use crate::upstream::State;

/// Where the changes gatewatch sees itself say they came from.
pub const PROBE_SOURCE: &str = "gatewatch probe";
pub const DNS_SOURCE: &str = "gatewatch DNS";
/// Unreadable sources remembered.
pub const PROBLEMS_KEPT: usize = 20;

#[derive(Debug)]
pub struct Timeline {
    events: Events,
    /// `events` as of its last change, shared by every assessment made since.
    shown: Arc<[Event]>,
    /// One per log source, by its index in the log book.
    histories: Vec<History>,
    span: Duration,
    /// Sources that could not be read ("/dev/kmsg: permission denied"), each once.
    pub problems: Vec<String>,
    /// The certificate end each upstream (by index) was last warned about: one event per
    /// certificate, not one per probe.
    certs_warned: std::collections::HashMap<usize, i64>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new(0, crate::config::Timeline::default().span)
    }
}

impl Timeline {
    pub fn new(sources: usize, span: Duration) -> Self {
        Timeline {
            events: Events::default(),
            shown: Arc::from(Vec::new()),
            histories: vec![History::default(); sources],
            span,
            problems: Vec::new(),
            certs_warned: Default::default(),
        }
    }

    /// Adds events read at `now` (unix seconds); returns whether the list changed.
    pub fn add(&mut self, events: impl IntoIterator<Item = Event>, now: i64) -> bool {
        let before = (self.events.len(), self.events.dropped);
        let mut pushed = false;
        for event in events {
            self.events.push(event, now);
            pushed = true;
        }
        // A push that folded into an equal event leaves the list as it was.
        let changed = pushed && (self.events.len(), self.events.dropped) != before;
        if changed {
            self.shown = self.events.as_slice().into();
        }
        changed
    }

    /// Keeps what a source could not be read for, once each (at most [`PROBLEMS_KEPT`]).
    pub fn note_problems(&mut self, problems: Vec<String>) {
        for p in problems {
            if self.problems.len() < PROBLEMS_KEPT && !self.problems.contains(&p) {
                self.problems.push(p);
            }
        }
    }

    /// Events, oldest first.
    pub fn events(&self) -> &[Event] {
        self.events.as_slice()
    }

    /// Takes the scan of a log's past: its minutes (merged with what was followed meanwhile:
    /// the same lines, so the larger count of each minute) and its proxy notices.
    pub fn apply_history(&mut self, index: usize, history: History, now: i64) {
        let Some(kept) = self.histories.get_mut(index) else {
            return;
        };
        for (&minute, &m) in &history.minutes {
            kept.merge_max(minute, m);
        }
        kept.covered_from = history.covered_from;
        kept.error = history.error;
        kept.bytes_read = history.bytes_read;
        self.add(history.notices, now);
        self.prune(now);
    }

    /// Copies a followed (or scanned) source's minutes into its history, which outlives the
    /// tally's last hour.
    pub fn follow(&mut self, index: usize, tally: &Tally) {
        let Some(kept) = self.histories.get_mut(index) else {
            return;
        };
        for (&minute, counts) in &tally.per_minute {
            kept.merge_max(minute, as_minute(counts));
        }
    }

    /// Events for the answers that changed in `round` (DNS answers move under nginx, which
    /// keeps what it resolved at start).
    pub fn dns_round(&mut self, drift: &DriftTracker, round: &DnsRound, now: i64) {
        let changes = drift.changes_in(round.seq).map(|(name, change)| {
            let at = crate::model::unix_seconds(change.at);
            let text = format!(
                "{name} via {}: {} -> {}",
                change.nameserver,
                addresses(&change.before),
                addresses(&change.after)
            );
            Event::new(at, EventKind::DnsChange, DNS_SOURCE, &text)
        });
        let changes: Vec<Event> = changes.collect();
        self.add(changes, now);
    }

    /// An event for an upstream whose state changed between two known states ("shop
    /// (127.0.0.1:8080): up -> down: connection refused").
    pub fn upstream_state(
        &mut self,
        label: &str,
        before: State,
        after: State,
        detail: &str,
        now: i64,
    ) {
        let text = format!(
            "{label}: {} -> {}: {detail}",
            before.as_str(),
            after.as_str()
        );
        let event = Event::new(now, EventKind::UpstreamChange, PROBE_SOURCE, &text);
        self.add([event], now);
    }

    /// A cert_expiry event for an upstream whose certificate (ending at `not_after`) has
    /// expired or ends within a week, once per certificate.
    pub fn certificate(&mut self, index: usize, label: &str, not_after: i64, now: i64) {
        if self.certs_warned.get(&index) == Some(&not_after) {
            return;
        }
        if let Some(event) = crate::timeline::cert_event(label, not_after, now) {
            self.certs_warned.insert(index, not_after);
            self.add([event], now);
        }
    }

    /// The timeline judged as of `now`: the logs' minutes over the span summed, the onset, the
    /// sentence.
    pub fn judge(&self, now: i64, tz: &TimeZone) -> Judged {
        let oldest = self.oldest(now);
        let mut summed: std::collections::BTreeMap<i64, Minute> = Default::default();
        for history in &self.histories {
            for (&t, m) in history.minutes.range(oldest..) {
                let sum = summed.entry(t).or_default();
                sum.events += m.events;
                sum.status_5xx += m.status_5xx;
                sum.requests += m.requests;
                sum.first_event = earlier(sum.first_event, m.first_event);
                sum.earliest = earlier(sum.earliest, m.earliest);
            }
        }
        // The counts are whole only after the latest point a scan budget stopped at.
        let covered_from = self.histories.iter().filter_map(|h| h.covered_from).max();
        story::judge(
            summed.into_iter().collect(),
            self.shown.clone(),
            covered_from,
            (oldest, now),
            tz,
        )
    }

    /// What each log's history scan said went wrong, by source index.
    pub fn scan_errors(&self) -> impl Iterator<Item = (usize, &str)> {
        self.histories
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.error.as_deref().map(|e| (i, e)))
    }

    fn oldest(&self, now: i64) -> i64 {
        let span = i64::try_from(self.span.as_secs()).unwrap_or(i64::MAX);
        let t = now.saturating_sub(span);
        t - t.rem_euclid(60)
    }

    /// Minutes older than the span go: a dashboard left running for days keeps 6 hours.
    fn prune(&mut self, now: i64) {
        let oldest = self.oldest(now);
        for history in &mut self.histories {
            history.minutes = history.minutes.split_off(&oldest);
        }
    }

    /// [`Timeline::prune`] at most once a minute, for callers that run often.
    pub fn prune_now_and_then(&mut self, now: i64) {
        let stale = self.histories.iter().any(|h| {
            h.minutes
                .first_key_value()
                .is_some_and(|(&t, _)| t < self.oldest(now) - 60)
        });
        if stale {
            self.prune(now);
        }
    }
}

/// A tally's minute as the timeline counts it: bad-gateway events as [`crate::logs::WindowCounts::events`]
/// counts them (every cause, every 502).
pub fn as_minute(counts: &MinuteCounts) -> Minute {
    Minute {
        events: counts.causes() + counts.status_502,
        status_5xx: counts.status_5xx,
        requests: counts.requests,
        first_event: counts.first_event,
        earliest: counts.earliest,
    }
}

fn addresses(list: &[std::net::IpAddr]) -> String {
    if list.is_empty() {
        return "no address".into();
    }
    let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn changes_seen_by_gatewatch_are_events_once() {
        let mut t = Timeline::new(1, Duration::from_secs(6 * 3600));
        t.upstream_state(
            "shop (127.0.0.1:8080)",
            State::Up,
            State::Down,
            "connection refused",
            NOW,
        );
        // The same certificate is warned about once, however many probes read it.
        for _ in 0..3 {
            t.certificate(0, "shop", NOW + 3 * 86_400, NOW);
        }
        t.certificate(1, "api", NOW + 400 * 86_400, NOW);
        let texts: Vec<(EventKind, &str)> = t
            .events()
            .iter()
            .map(|e| (e.kind, e.text.as_str()))
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert_eq!(
            texts[0],
            (
                EventKind::UpstreamChange,
                "shop (127.0.0.1:8080): up -> down: connection refused"
            )
        );
        assert_eq!(texts[1].0, EventKind::CertExpiry);
        // The judged list is shared, not copied per assessment.
        let a = t.judge(NOW, &TimeZone::UTC);
        let b = t.judge(NOW, &TimeZone::UTC);
        assert!(Arc::ptr_eq(&a.events, &b.events));
    }

    #[test]
    fn a_long_session_keeps_the_span_and_merges_what_two_readers_saw() {
        let mut t = Timeline::new(1, Duration::from_secs(3600));
        let mut history = History::default();
        for i in 0..300 {
            let m = Minute {
                events: 1,
                requests: 10,
                ..Minute::default()
            };
            history.minutes.insert(NOW - 300 * 60 + i * 60, m);
        }
        t.apply_history(0, history, NOW);
        // Only the last hour is kept.
        let judged = t.judge(NOW, &TimeZone::UTC);
        assert!(judged.minutes.len() <= 61, "{}", judged.minutes.len());
        // The follower's count of a minute the scan saw too: the larger, never the sum.
        let mut tally = Tally::default();
        for s in 0..5 {
            let line = crate::logs::LogLine {
                text: String::new(),
                format: None,
                cause: None,
                status: Some(502),
                upstream: None,
                time: Some(NOW - 120 + s),
            };
            tally.add_line(&line);
        }
        t.follow(0, &tally);
        let judged = t.judge(NOW, &TimeZone::UTC);
        let minute = judged
            .minutes
            .iter()
            .find(|(m, _)| *m == NOW - 120 - (NOW - 120).rem_euclid(60))
            .map(|(_, m)| *m)
            .expect("the minute");
        assert_eq!((minute.events, minute.requests), (5, 10));
        assert_eq!(minute.first_event, Some(NOW - 120));
    }
}

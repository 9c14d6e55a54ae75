//! One thing that happened on the host at a known second, and the bounded list of them.

use serde::Serialize;

use crate::sanitize::sanitize;

/// Characters of an event's text (and source) kept; the rest is cut with an ellipsis.
pub const MAX_TEXT_CHARS: usize = 300;
/// Events kept by default: the newest, since the incident is at the end.
pub const DEFAULT_CAP: usize = 500;
/// How far ahead of our clock an event may be before it is treated as clock skew.
pub const DEFAULT_SKEW: i64 = 120;
/// Two events of the same kind, source and text this close together are one (the kernel
/// reports one OOM kill on two lines, HAProxy one start per proxy section).
pub const FOLD_SECONDS: i64 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ProxyStart,
    ProxyReload,
    ProxyStop,
    WorkerCrash,
    ConfigChange,
    ServiceRestart,
    ServiceExit,
    OomKill,
    PackageChange,
    DnsChange,
    UpstreamChange,
    CertExpiry,
    /// A container started, or was restarted, by its engine.
    ContainerStart,
    /// A container's main process ended (with its exit code), or the container was stopped.
    ContainerExit,
    /// A container's health check changed its verdict.
    ContainerHealth,
}

impl EventKind {
    pub const ALL: [EventKind; 15] = [
        EventKind::ProxyStart,
        EventKind::ProxyReload,
        EventKind::ProxyStop,
        EventKind::WorkerCrash,
        EventKind::ConfigChange,
        EventKind::ServiceRestart,
        EventKind::ServiceExit,
        EventKind::OomKill,
        EventKind::PackageChange,
        EventKind::DnsChange,
        EventKind::UpstreamChange,
        EventKind::CertExpiry,
        EventKind::ContainerStart,
        EventKind::ContainerExit,
        EventKind::ContainerHealth,
    ];

    /// The name `check --json` uses (the serde name).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::ProxyStart => "proxy_start",
            EventKind::ProxyReload => "proxy_reload",
            EventKind::ProxyStop => "proxy_stop",
            EventKind::WorkerCrash => "worker_crash",
            EventKind::ConfigChange => "config_change",
            EventKind::ServiceRestart => "service_restart",
            EventKind::ServiceExit => "service_exit",
            EventKind::OomKill => "oom_kill",
            EventKind::PackageChange => "package_change",
            EventKind::DnsChange => "dns_change",
            EventKind::UpstreamChange => "upstream_change",
            EventKind::CertExpiry => "cert_expiry",
            EventKind::ContainerStart => "container_start",
            EventKind::ContainerExit => "container_exit",
            EventKind::ContainerHealth => "container_health",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Unix seconds.
    pub at: i64,
    pub kind: EventKind,
    /// Where it was read: a file path, `kernel`, `systemd`...
    pub source: String,
    pub text: String,
    /// The event claimed a time further ahead of our clock than the allowed skew; `at` was
    /// clamped to the time it was recorded (see [`Events::push`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub clock_ahead: bool,
}

impl Event {
    /// An event whose `source` and `text` are sanitised and capped: both may come from a log.
    pub fn new(at: i64, kind: EventKind, source: &str, text: &str) -> Event {
        Event {
            at,
            kind,
            source: clean(source),
            text: clean(text),
            clock_ahead: false,
        }
    }
}

/// Sanitised, trimmed, and at most [`MAX_TEXT_CHARS`] characters (cut before sanitising, so
/// a line of escapes cannot grow past the cap by much: each escape is at most 9 characters).
fn clean(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", sanitize(&s[..cut])),
        None => sanitize(s).into_owned(),
    }
}

/// Events in time order, at most `cap` of them (the newest are kept), same-kind repeats folded.
#[derive(Clone, Debug)]
pub struct Events {
    cap: usize,
    skew: i64,
    items: Vec<Event>,
    /// Older events dropped to stay within the cap.
    pub dropped: usize,
}

impl Default for Events {
    fn default() -> Self {
        Events::new(DEFAULT_CAP, DEFAULT_SKEW)
    }
}

impl Events {
    pub fn new(cap: usize, skew: i64) -> Events {
        Events {
            cap: cap.max(1),
            skew: skew.max(0),
            items: Vec::new(),
            dropped: 0,
        }
    }

    /// Adds `event`, read at `now` (unix seconds). An event more than the skew ahead of `now`
    /// is clamped to `now` and flagged `clock_ahead` rather than dropped: a host whose clock
    /// jumped still changed something, and sorting it at its claimed time would put it after
    /// everything real. Inserted in time order (stable: equal times keep arrival order).
    pub fn push(&mut self, mut event: Event, now: i64) {
        if event.at > now.saturating_add(self.skew) {
            event.at = now;
            event.clock_ahead = true;
        }
        let at = self.items.partition_point(|e| e.at <= event.at);
        let folds = |e: &Event| {
            e.kind == event.kind
                && e.source == event.source
                && e.text == event.text
                && (e.at - event.at).abs() <= FOLD_SECONDS
        };
        let near = at.saturating_sub(4)..(at + 4).min(self.items.len());
        if self.items[near].iter().any(folds) {
            return;
        }
        self.items.insert(at, event);
        if self.items.len() > self.cap {
            let excess = self.items.len() - self.cap;
            self.items.drain(..excess);
            self.dropped += excess;
        }
    }

    /// Oldest first.
    pub fn as_slice(&self) -> &[Event] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Newest first, as the event list shows them.
    pub fn newest_first(&self) -> impl Iterator<Item = &Event> {
        self.items.iter().rev()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn ev(at: i64, text: &str) -> Event {
        Event::new(at, EventKind::ProxyReload, "error.log", text)
    }

    #[test]
    fn kinds_serialise_as_the_issue_names_them() {
        for kind in EventKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.name().into())
            );
        }
        let json = serde_json::to_value(Event::new(5, EventKind::OomKill, "kernel", "x")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"at": 5, "kind": "oom_kill", "source": "kernel", "text": "x"})
        );
    }

    #[test]
    fn text_and_source_are_sanitised_and_capped() {
        let e = Event::new(
            1,
            EventKind::ProxyStart,
            "a\x1b[2Jb",
            &format!("\x1b]0;t\x07{}", "x".repeat(20_000)),
        );
        assert_eq!(e.source, "a\\x1b[2Jb");
        assert!(e.text.starts_with("\\x1b]0;t\\x07xxx"));
        assert!(e.text.ends_with('…'));
        assert!(e.text.chars().count() <= MAX_TEXT_CHARS + 20);
        assert!(!e.text.chars().any(char::is_control));
    }

    #[test]
    fn events_are_kept_in_time_order_whatever_the_arrival_order() {
        let mut events = Events::default();
        for at in [30, 10, 20, 10] {
            events.push(ev(at, &format!("at {at}")), 1000);
        }
        let times: Vec<i64> = events.as_slice().iter().map(|e| e.at).collect();
        assert_eq!(times, [10, 20, 30]);
        let newest: Vec<i64> = events.newest_first().map(|e| e.at).collect();
        assert_eq!(newest, [30, 20, 10]);
    }

    #[test]
    fn the_cap_keeps_the_newest() {
        let mut events = Events::new(3, 60);
        for at in (0..10).rev() {
            events.push(ev(at * 10, &format!("{at}")), 1000);
        }
        let times: Vec<i64> = events.as_slice().iter().map(|e| e.at).collect();
        assert_eq!(times, [70, 80, 90]);
        assert_eq!(events.dropped, 7);
    }

    #[test]
    fn future_events_are_clamped_to_now_and_flagged_small_skew_is_not() {
        let mut events = Events::new(10, 120);
        events.push(ev(1_100, "a little ahead"), 1_000);
        events.push(ev(90_000, "far ahead"), 1_000);
        let far = events
            .as_slice()
            .iter()
            .find(|e| e.text == "far ahead")
            .unwrap();
        assert_eq!((far.at, far.clock_ahead), (1_000, true));
        let near = events
            .as_slice()
            .iter()
            .find(|e| e.text == "a little ahead")
            .unwrap();
        assert_eq!((near.at, near.clock_ahead), (1_100, false));
        assert_eq!(events.as_slice()[0].text, "far ahead");
    }

    #[test]
    fn repeats_within_two_seconds_fold_others_do_not() {
        let mut events = Events::default();
        events.push(ev(100, "same"), 1000);
        events.push(ev(101, "same"), 1000);
        events.push(ev(110, "same"), 1000);
        events.push(ev(100, "other"), 1000);
        assert_eq!(events.len(), 3);
    }
}

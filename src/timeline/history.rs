//! TEMPORARY interface copy while helper 16a builds the scan; replaced at merge.
use std::collections::BTreeMap;

use serde::Serialize;

use super::Event;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Minute {
    pub events: u64,
    pub status_5xx: u64,
    pub requests: u64,
    pub first_event: Option<i64>,
    pub earliest: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub minutes: BTreeMap<i64, Minute>,
    pub notices: Vec<Event>,
    pub covered_from: Option<i64>,
    pub bytes_read: u64,
    pub error: Option<String>,
}

impl History {
    pub fn merge_max(&mut self, minute: i64, m: Minute) {
        let e = self.minutes.entry(minute).or_default();
        e.events = e.events.max(m.events);
        e.status_5xx = e.status_5xx.max(m.status_5xx);
        e.requests = e.requests.max(m.requests);
        e.first_event = crate::logs::earlier(e.first_event, m.first_event);
        e.earliest = crate::logs::earlier(e.earliest, m.earliest);
    }
}

#[derive(Clone, Debug)]
pub struct HistorySpan {
    pub span: std::time::Duration,
    pub max_bytes: u64,
    pub max_time: std::time::Duration,
    pub now: i64,
    pub tz: jiff::tz::TimeZone,
}
impl HistorySpan {
    pub fn recent(now: i64) -> Self {
        HistorySpan {
            span: std::time::Duration::from_secs(6 * 3600),
            max_bytes: 256 << 20,
            max_time: std::time::Duration::from_secs(3),
            now,
            tz: jiff::tz::TimeZone::system(),
        }
    }
}
pub fn scan_history(
    _label: &str,
    _path: &std::path::Path,
    _kind: Option<crate::config::LogKind>,
    _span: &HistorySpan,
) -> History {
    History::default()
}

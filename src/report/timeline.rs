//! The incident timeline as `check --json`, `check`'s text and the Markdown report write it:
//! times in RFC 3339 (UTC) for machines, local clock times for people.

use jiff::tz::TimeZone;
use serde::Serialize;

use crate::timeline::story::{Judged, clock};
use crate::timeline::{EventKind, OnsetState};

/// Events the text and the Markdown report list (the newest); JSON carries them all.
pub const SHOWN_EVENTS: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct TimelineReport {
    /// When the current failure began, RFC 3339; `null` when there is none or it began before
    /// what the logs' scan covered.
    pub onset: Option<String>,
    pub state: OnsetState,
    /// "502s began 14:02:10, 12 s after nginx reloaded with a changed ...".
    pub story: Option<String>,
    /// When a scan budget stopped short of the span: the counts cover only from here.
    pub covered_from: Option<String>,
    /// Oldest first.
    pub events: Vec<EventReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventReport {
    pub at: String,
    pub kind: EventKind,
    pub source: String,
    pub text: String,
    /// The source claimed a time ahead of our clock; `at` is when it was read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub clock_ahead: bool,
}

impl TimelineReport {
    pub fn new(judged: &Judged) -> Self {
        TimelineReport {
            onset: judged.onset.at.map(rfc3339),
            state: judged.onset.state,
            story: judged.story.clone(),
            covered_from: judged.covered_from.map(rfc3339),
            events: judged
                .events
                .iter()
                .map(|e| EventReport {
                    at: rfc3339(e.at),
                    kind: e.kind,
                    source: e.source.clone(),
                    text: e.text.clone(),
                    clock_ahead: e.clock_ahead,
                })
                .collect(),
        }
    }

    /// One line per event, newest first, at most [`SHOWN_EVENTS`]: "14:02:10 proxy_reload
    /// nginx: reconfiguring (/var/log/nginx/error.log)".
    pub fn lines(judged: &Judged, now: i64, tz: &TimeZone) -> Vec<String> {
        judged
            .events
            .iter()
            .rev()
            .take(SHOWN_EVENTS)
            .map(|e| {
                format!(
                    "{} {} {} ({})",
                    clock(e.at, now, tz),
                    e.kind.name(),
                    e.text,
                    e.source
                )
            })
            .collect()
    }
}

/// `2026-12-01T14:02:10Z`; a time out of jiff's range (a hostile line) as its number.
pub fn rfc3339(at: i64) -> String {
    jiff::Timestamp::from_second(at).map_or_else(|_| at.to_string(), |t| t.to_string())
}

//! The incident snapshot: the time, the host, the verdict and the checklist, the upstreams, DNS,
//! the firewall, the last log lines that matter and the actions taken. The dashboard (`e`) and
//! `gatewatch report` fill it the same way, from the model and its assessment.

use std::time::SystemTime;

use super::{HostReport, Report, UpstreamReport};
use crate::diagnosis::Diagnosis;
use crate::dns::DnsRow;
use crate::logs::LogLine;
use crate::model::{Assessment, Model};
use crate::status::{Finding, Status};

/// Log lines a report carries at most.
pub const LOG_LINES: usize = crate::logs::RECENT_LINES;

/// One log line worth showing: a 502 cause or a 5xx answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    /// The source's label (its path, or the command).
    pub source: String,
    /// Sanitised.
    pub text: String,
    /// Unix seconds from the line's own timestamp, for ordering across sources.
    pub time: Option<i64>,
}

/// Everything a report shows, plain data.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub time: jiff::Zoned,
    pub hostname: String,
    pub status: Status,
    pub diagnosis: Diagnosis,
    pub findings: Vec<Finding>,
    pub host: Option<HostReport>,
    pub upstreams: Vec<UpstreamReport>,
    pub dns: Vec<DnsRow>,
    /// What each firewall tool said, then the rules in an upstream's way.
    pub firewall: Vec<String>,
    /// Oldest first, at most [`LOG_LINES`].
    pub log_lines: Vec<ReportLine>,
    /// Pre-formatted, oldest first: "14:02:11 restart web: exit 0 in 1.2 s".
    pub actions: Vec<String>,
    /// Each proxy API read for its own view of the upstreams: "haproxy unix:/run/h.sock: 4 servers".
    pub proxy_apis: Vec<String>,
    pub timeline: super::TimelineReport,
    /// The newest events as people read them (see [`super::SHOWN_EVENTS`]).
    pub timeline_lines: Vec<String>,
}

impl Snapshot {
    /// The model as judged at `time`, with this session's actions (pre-formatted).
    pub fn new(
        model: &Model,
        judged: &Assessment,
        time: jiff::Zoned,
        actions: Vec<String>,
    ) -> Self {
        let report = Report::new(model, judged, SystemTime::from(time.timestamp()));
        Snapshot {
            hostname: report.host.hostname.clone(),
            status: report.status,
            diagnosis: judged.diagnosis.clone(),
            findings: report.findings,
            host: model.host.is_some().then_some(report.host),
            upstreams: report.upstreams,
            dns: report.dns,
            firewall: report.firewall.lines(),
            log_lines: recent_lines(model),
            proxy_apis: report.proxy_apis.iter().map(|a| a.line(a.kind)).collect(),
            timeline: report.timeline,
            timeline_lines: report.timeline_lines,
            actions,
            time,
        }
    }
}

/// The newest lines with a 502 cause or a 5xx status over every source the model holds (the
/// followed rings, or what `check`'s scan kept).
fn recent_lines(model: &Model) -> Vec<ReportLine> {
    let mut all = Vec::new();
    for src in &model.logs.sources {
        let mut mine: Vec<ReportLine> = src
            .lines()
            .iter()
            .rev()
            .filter(|l| relevant(l))
            .take(LOG_LINES)
            .map(|l| ReportLine {
                source: src.label.clone(),
                text: l.text.clone(),
                time: l.time,
            })
            .collect();
        mine.reverse();
        all.extend(mine);
    }
    newest(all, LOG_LINES)
}

/// Whether a line belongs in a report: a 502 cause, or a 5xx answer.
pub fn relevant(line: &LogLine) -> bool {
    line.cause.is_some() || line.status.is_some_and(|s| (500..=599).contains(&s))
}

/// Keeps the newest `n` of `lines` (from any number of sources), oldest first: ordered by the
/// lines' own time, each source's order kept for equal times.
pub fn newest(mut lines: Vec<ReportLine>, n: usize) -> Vec<ReportLine> {
    lines.sort_by_key(|l| l.time.unwrap_or(i64::MIN));
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_lines_across_sources_are_ordered_by_their_time() {
        let line = |source: &str, text: &str, time| ReportLine {
            source: source.into(),
            text: text.into(),
            time: Some(time),
        };
        let lines = vec![
            line("a", "a1", 10),
            line("a", "a2", 30),
            line("b", "b1", 20),
            line("b", "b2", 40),
        ];
        let kept: Vec<String> = newest(lines, 3).into_iter().map(|l| l.text).collect();
        assert_eq!(kept, ["b1", "a2", "b2"]);
    }
}

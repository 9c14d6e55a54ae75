//! The dashboard's state as a report [`Snapshot`] (for `e`, which writes it to the state dir).

use super::App;
use crate::check;
use crate::dns;
use crate::firewall::PathKind;
use crate::report::{self, ReportLine, Snapshot};

impl App {
    /// Everything the panes show now, for [`report::markdown`], with this session's actions.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            time: self.clock.clone(),
            hostname: self.hostname.clone(),
            status: self.overall(),
            diagnosis: self.diagnosis(),
            findings: self.findings(),
            host: self.host.sample.as_ref().map(check::host_report),
            upstreams: check::upstream_reports(&self.upstreams),
            dns: self
                .dns
                .round
                .as_ref()
                .map(dns::report::rows)
                .unwrap_or_default(),
            firewall: self.firewall_lines(),
            log_lines: self.report_lines(),
            actions: self.actions.history_lines(self.clock.time_zone()),
        }
    }

    fn firewall_lines(&self) -> Vec<String> {
        let Some(fw) = &self.firewall else {
            return Vec::new();
        };
        let mut lines: Vec<String> = fw.summary.tools.iter().map(|t| t.note()).collect();
        for m in &fw.matches {
            let (Some(rule), Some(target)) =
                (fw.summary.rules.get(m.rule), fw.targets.get(m.target))
            else {
                continue;
            };
            let name = self
                .upstreams
                .rows
                .get(target.id)
                .map_or("?", |r| r.entry.upstream.name.as_str());
            let path = match m.path {
                PathKind::Outbound => "outbound",
                PathKind::Reply => "reply path",
            };
            lines.push(format!("{} (upstream {name}, {path})", rule.describe()));
        }
        lines
    }

    /// The newest lines with a 502 cause or a 5xx status over every followed source.
    fn report_lines(&self) -> Vec<ReportLine> {
        let mut all = Vec::new();
        for src in &self.logs.book.sources {
            let mut mine: Vec<ReportLine> = src
                .lines()
                .iter()
                .rev()
                .filter(|l| report::relevant(l))
                .take(report::LOG_LINES)
                .map(|l| ReportLine {
                    source: src.label.clone(),
                    text: l.text.clone(),
                    time: l.time,
                })
                .collect();
            mine.reverse();
            all.extend(mine);
        }
        report::newest(all, report::LOG_LINES)
    }
}

#[cfg(test)]
mod tests {
    use crate::app::App;
    use crate::app::Event;
    use crate::logs::{Cause, Format, LogBatch, LogLine, SourceSpec, SourceStatus};
    use crate::report;

    #[test]
    fn the_snapshot_carries_the_verdict_and_the_newest_failing_lines() {
        let clock = jiff::Timestamp::from_second(1_800_000_000)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC);
        let mut a = App::new(clock, (120, 40));
        a.hostname = "proxy-1".into();
        a.logs =
            crate::app::logs::LogView::new(&[SourceSpec::file("/var/log/nginx/error.log", None)]);
        let line = |i: i64, cause: Option<Cause>| LogLine {
            text: format!("line {i} ```"),
            format: Some(Format::NginxError),
            cause,
            status: None,
            upstream: None,
            time: Some(1_800_000_000 - 1000 + i),
        };
        let lines = (0..120)
            .map(|i| line(i, (i % 2 == 0).then_some(Cause::Reset)))
            .collect();
        a.update(Event::Log(Box::new(LogBatch {
            source: 0,
            skipped: Default::default(),
            lines,
            status: SourceStatus::Following,
            events: vec![],
        })));
        let s = a.snapshot();
        assert_eq!(s.log_lines.len(), report::LOG_LINES);
        assert_eq!(s.log_lines[0].text, "line 20 ```");
        assert_eq!(s.log_lines[49].text, "line 118 ```");
        assert!(s.actions.is_empty(), "no action was taken");
        let md = report::markdown(&s);
        assert!(
            md.starts_with("# gatewatch incident report: proxy-1\n"),
            "{md}"
        );
        assert!(md.contains("\n````text\nline 20 ```\n"), "{md}");
        assert!(md.contains("## Checklist\n\n1. "), "{md}");
    }
}

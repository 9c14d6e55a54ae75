//! The dashboard's state as a report [`Snapshot`] (for `e`, which writes it to the state dir).

use super::App;
use crate::report::Snapshot;

impl App {
    /// Everything the panes show now, for [`crate::report::markdown`], with this session's
    /// actions: the same snapshot `gatewatch report` writes, from the same model and judgement.
    pub fn snapshot(&self) -> Snapshot {
        let actions = self.actions.history_lines(self.clock.time_zone());
        let mut s = Snapshot::new(&self.model, &self.judged, self.clock.clone(), actions);
        // Known before the first sample arrives.
        s.hostname.clone_from(&self.hostname);
        s
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
        a.model.logs = crate::logs::LogBook::new(
            &[SourceSpec::file("/var/log/nginx/error.log", None)],
            crate::logs::RingLimits::default(),
        );
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
        a.settle();
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

//! The model in the Prometheus text format (or OpenMetrics when the scraper asks for it).
//!
//! A minimal body with the agreed API, so `serve` builds and is tested; the full exposition (every
//! family of the metrics table, caps) replaces this file at merge.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::model::{Assessment, Model};
use crate::upstream::State;

/// Who renders: `serve` has counters since it started, `check` one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Check,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// OpenMetrics only when the scraper's `Accept` names it (Prometheus does), else the text format.
pub fn format_for_accept(accept: Option<&str>) -> Format {
    match accept {
        Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
        _ => Format::Text,
    }
}

pub fn render(
    model: &Model,
    judged: &Assessment,
    mode: Mode,
    _now: SystemTime,
    format: Format,
) -> String {
    let mut out = String::new();
    family(&mut out, "gatewatch_up", "gauge", "1: the exporter runs.");
    out.push_str("gatewatch_up 1\n");
    family(
        &mut out,
        "gatewatch_status",
        "gauge",
        "0 ok, 1 warning, 2 critical, 3 unknown, as check's exit code.",
    );
    let _ = writeln!(out, "gatewatch_status {}", judged.status.exit_code());

    family(
        &mut out,
        "gatewatch_upstream_up",
        "gauge",
        "1 up (or degraded), 0 down; absent before the first probe.",
    );
    for row in &model.upstreams.rows {
        let Some(state) = row.history.state() else {
            continue;
        };
        let up = u8::from(state != State::Down);
        let _ = writeln!(
            out,
            "gatewatch_upstream_up{{upstream=\"{}\",target=\"{}\"}} {up}",
            escape(&row.entry.upstream.name),
            escape(&row.entry.upstream.url.to_string()),
        );
    }

    if mode == Mode::Serve {
        // OpenMetrics names a counter's family without `_total`; the text format by the sample.
        let name = match format {
            Format::OpenMetrics => "gatewatch_log_502",
            Format::Text => "gatewatch_log_502_total",
        };
        family(
            &mut out,
            name,
            "counter",
            "502s answered since start, from the logs.",
        );
        for source in &model.logs.sources {
            let _ = writeln!(
                out,
                "gatewatch_log_502_total{{log=\"{}\"}} {}",
                escape(&source.label),
                source.tally.status_502
            );
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format requires: backslash, quote and newline escaped, every other
/// control byte made visible first.
fn escape(value: &str) -> String {
    value
        .split('\n')
        .map(|part| {
            crate::sanitize::sanitize(part)
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        })
        .collect::<Vec<_>>()
        .join("\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_format_requires() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape("x\u{1b}[2Jy"), "x\\\\x1b[2Jy");
    }

    #[test]
    fn openmetrics_only_when_asked() {
        assert_eq!(format_for_accept(None), Format::Text);
        assert_eq!(format_for_accept(Some("text/plain")), Format::Text);
        assert_eq!(
            format_for_accept(Some(
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.1"
            )),
            Format::OpenMetrics
        );
    }
}

//! The verdict line, the checklist strip under it, and the checklist view (`v`) with every step's
//! evidence.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::status_style;
use crate::diagnosis::{Diagnosis, StepId};
use crate::status::Status;
use crate::theme::Theme;

pub fn mark(status: Status) -> &'static str {
    match status {
        Status::Ok => "✓",
        Status::Warning => "▲",
        Status::Critical => "✖",
        Status::Unknown => "?",
    }
}

pub fn draw_verdict(frame: &mut Frame, area: Rect, d: &Diagnosis, theme: &Theme) {
    let v = &d.verdict;
    // The next step matters more than the evidence (the checklist view has that) when it all
    // does not fit.
    let room = usize::from(area.width).saturating_sub(4);
    // All the evidence with when it began (the timeline's sentence), then fewer items with
    // it, then without it, then no evidence at all.
    let with_since = |line: String| match &v.since {
        Some(since) => format!("{line} · {since}"),
        None => line,
    };
    let counts = (1..=v.evidence.len()).rev();
    let text = counts
        .clone()
        .map(|n| with_since(v.line_with(true, n)))
        .chain(counts.map(|n| v.line_with(true, n)))
        .chain([with_since(v.line_with(true, 0))])
        .find(|t| t.chars().count() <= room)
        .unwrap_or_else(|| v.line_with(true, 0));
    let line = Line::from(vec![
        Span::styled(
            format!(" {} ", mark(v.status)),
            status_style(theme, v.status),
        ),
        Span::styled(text, status_style(theme, v.status)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// `1 ✓ gateway  2 ▲ host load  ...`: the steps in order, each coloured by its status; shorter
/// names on a narrow screen so all six stay visible.
pub fn draw_strip(frame: &mut Frame, area: Rect, d: &Diagnosis, theme: &Theme) {
    let long = strip(d, theme, true);
    let line = if long.width() <= usize::from(area.width) {
        long
    } else {
        strip(d, theme, false)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn strip<'a>(d: &Diagnosis, theme: &Theme, long: bool) -> Line<'a> {
    let mut spans = Vec::new();
    if long {
        spans.push(Span::styled(" checklist ", theme.dim));
    }
    for (i, step) in d.steps.iter().enumerate() {
        let text = if long {
            format!(" {} {} {} ", i + 1, mark(step.status), step.step.title())
        } else {
            format!(" {} {}", mark(step.status), short_title(step.step))
        };
        spans.push(Span::styled(text, status_style(theme, step.status)));
    }
    if long {
        spans.push(Span::styled("  v details", theme.dim));
    }
    Line::from(spans)
}

fn short_title(step: StepId) -> &'static str {
    match step {
        StepId::Network => "network",
        StepId::Host => "host",
        other => other.title(),
    }
}

/// The full checklist over the panes: the verdict, then each step with its evidence.
pub fn draw_view(frame: &mut Frame, area: Rect, d: &Diagnosis, scroll: u16, theme: &Theme) {
    let rect = super::full_popup(area);
    let mut lines = vec![
        Line::from(Span::styled("Verdict", theme.accent)),
        Line::from(vec![
            Span::styled(
                format!("{} ", mark(d.verdict.status)),
                status_style(theme, d.verdict.status),
            ),
            Span::styled(d.verdict.headline.clone(), theme.text),
        ]),
    ];
    for e in &d.verdict.evidence {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<17} ", e.source), theme.dim),
            Span::styled(e.text.clone(), theme.text),
        ]));
    }
    if let Some(since) = &d.verdict.since {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<17} ", "since (t)"), theme.accent),
            Span::styled(since.clone(), theme.text),
        ]));
    }
    let next = d.verdict.next_step_keyed();
    if !next.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<17} ", "next"), theme.accent),
            Span::styled(next, theme.text),
        ]));
    }
    lines.extend([
        Line::default(),
        Line::from(Span::styled("Checklist", theme.accent)),
    ]);
    for (i, step) in d.steps.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {} {:<17}", i + 1, mark(step.status), step.step.title()),
                status_style(theme, step.status),
            ),
            Span::styled(step.evidence.clone(), theme.text),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!("Where to look: {}", where_to_look(d)),
        theme.dim,
    )));
    let block = super::actions::popup(" Checklist ".into(), theme).title_bottom(
        super::actions::key_hint(&[("j/k", "scroll"), ("Esc", "close")], theme),
    );
    let inner = block.inner(rect);
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        inner,
    );
}

/// The panes that hold the evidence of the failing steps.
fn where_to_look(d: &Diagnosis) -> String {
    let panes: Vec<&str> = d
        .steps
        .iter()
        .filter(|s| matches!(s.status, Status::Warning | Status::Critical))
        .map(|s| match s.step {
            StepId::Gateway | StepId::Logs => "4 Logs",
            StepId::Host => "1 Host",
            StepId::Dns => "3 DNS",
            StepId::Network | StepId::Upstreams => "2 Upstreams",
        })
        .fold(Vec::new(), |mut acc, p| {
            if !acc.contains(&p) {
                acc.push(p);
            }
            acc
        });
    if panes.is_empty() {
        "every step is ok or unknown".into()
    } else {
        panes.join(", ")
    }
}

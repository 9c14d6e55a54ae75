//! The incident timeline view (`t`): the sentence, a per-minute sparkline of bad-gateway events
//! over the span with a row of event marks under it, and the events, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};

use crate::theme::Theme;
use crate::timeline::story::{Judged, clock};
use crate::timeline::{Event, EventKind, OnsetState};

/// The mark an event leaves under the sparkline, and the legend's word for it.
pub fn mark(kind: EventKind) -> (char, &'static str) {
    match kind {
        EventKind::ProxyStart => ('S', "start"),
        EventKind::ProxyReload => ('R', "reload"),
        EventKind::ProxyStop => ('X', "stop"),
        EventKind::WorkerCrash => ('W', "worker"),
        EventKind::ConfigChange => ('C', "config"),
        EventKind::ServiceRestart => ('s', "restart"),
        EventKind::ServiceExit => ('x', "exit"),
        EventKind::OomKill => ('K', "OOM"),
        EventKind::PackageChange => ('P', "package"),
        EventKind::DnsChange => ('D', "DNS"),
        EventKind::UpstreamChange => ('U', "upstream"),
        EventKind::CertExpiry => ('T', "cert"),
        EventKind::ContainerStart => ('c', "container start"),
        EventKind::ContainerExit => ('e', "container exit"),
        EventKind::ContainerHealth => ('h', "health"),
    }
}

/// What the view shows, beside the judged timeline.
pub struct View<'a> {
    pub judged: &'a Judged,
    /// Sources that could not be read.
    pub problems: &'a [String],
    pub scroll: usize,
    pub kind: Option<EventKind>,
    pub now: &'a jiff::Zoned,
}

pub fn draw(frame: &mut Frame, area: Rect, view: &View<'_>, theme: &Theme) {
    let rect = super::full_popup(area);
    let title = match view.kind {
        Some(kind) => format!(" Timeline: {} ", kind.name()),
        None => " Timeline ".to_owned(),
    };
    let block = super::actions::popup(title, theme).title_bottom(super::actions::key_hint(
        &[("j/k", "scroll"), ("f", "kind"), ("Esc", "close")],
        theme,
    ));
    let inner = block.inner(rect);
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    // The legend takes a second row on a narrow screen, never more.
    let mut legend_lines = legend_rows(usize::from(inner.width));
    legend_lines.truncate(2);
    let legend_rows = u16::try_from(legend_lines.len()).unwrap_or(2);
    let [head, spark, marks, axis, legend, list] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(legend_rows),
        Constraint::Min(0),
    ])
    .areas(inner);
    let j = view.judged;
    let now = view.now.timestamp().as_second();
    let tz = view.now.time_zone();
    frame.render_widget(
        Paragraph::new(headline(j, now, tz, theme)).wrap(Wrap { trim: false }),
        head,
    );
    let width = usize::from(spark.width);
    frame.render_widget(
        Sparkline::default()
            .data(columns(j, now, width))
            .style(theme.critical),
        spark,
    );
    frame.render_widget(Paragraph::new(mark_row(j, now, width, theme)), marks);
    frame.render_widget(Paragraph::new(axis_row(j, now, tz, width, theme)), axis);
    let legend_lines: Vec<Line> = legend_lines
        .into_iter()
        .map(|row| Line::from(Span::styled(row, theme.dim)))
        .collect();
    frame.render_widget(Paragraph::new(legend_lines), legend);
    frame.render_widget(Paragraph::new(event_lines(view, now, tz, theme)), list);
}

/// Every kind's mark and word, "S start  R reload ...", in rows of at most `width` characters
/// (an entry is never split).
fn legend_rows(width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for &kind in &EventKind::ALL {
        let (c, word) = mark(kind);
        let entry = format!("{c} {word}");
        match rows.last_mut() {
            Some(row) if row.chars().count() + 2 + entry.chars().count() <= width => {
                row.push_str("  ");
                row.push_str(&entry);
            }
            _ => rows.push(entry),
        }
    }
    rows
}

/// The sentence (or the state), then the onset's numbers and how far back the logs were read.
fn headline<'a>(j: &Judged, now: i64, tz: &jiff::tz::TimeZone, theme: &Theme) -> Vec<Line<'a>> {
    let (text, style) = match (&j.story, j.onset.state) {
        (Some(story), _) => (story.clone(), theme.critical),
        (None, _) => (
            "No 502s above the usual in the logs read".to_owned(),
            theme.ok,
        ),
    };
    let mut facts = vec![j.onset.state.name().to_owned()];
    if j.onset.state != OnsetState::None {
        facts.push(format!("a rise: over {} a minute", j.onset.threshold));
    }
    match j.covered_from {
        Some(t) => facts.push(format!("logs read back to {} only", clock(t, now, tz))),
        None => facts.push(format!("logs read back to {}", clock(j.from, now, tz))),
    }
    facts.push(format!("{} events", j.events.len()));
    vec![
        Line::from(Span::styled(text, style)),
        Line::from(Span::styled(facts.join(" · "), theme.dim)),
    ]
}

/// The column of the sparkline (of `width`) a time falls in; `None` outside the span.
fn column(t: i64, from: i64, now: i64, width: usize) -> Option<usize> {
    if width == 0 || t < from || now <= from {
        return None;
    }
    let span = u128::try_from(now - from).ok()?;
    let at = u128::try_from(t.min(now) - from).ok()?;
    usize::try_from(at * width as u128 / span)
        .ok()
        .map(|c| c.min(width - 1))
}

/// Bad-gateway events per column (each a few minutes at 6 hours over 100 columns).
fn columns(j: &Judged, now: i64, width: usize) -> Vec<u64> {
    let mut cols = vec![0u64; width];
    for (t, m) in &j.minutes {
        if let Some(c) = column(*t, j.from, now, width) {
            cols[c] = cols[c].saturating_add(m.events);
        }
    }
    cols
}

/// The span's first time at the left, `now` at the right, and `▲` where the failure began.
fn axis_row<'a>(
    j: &Judged,
    now: i64,
    tz: &jiff::tz::TimeZone,
    width: usize,
    theme: &Theme,
) -> Line<'a> {
    let left = clock(j.from, now, tz);
    let right = "now";
    let mut row: Vec<char> = format!(
        "{left}{}{right}",
        " ".repeat(width.saturating_sub(left.chars().count() + right.len()))
    )
    .chars()
    .collect();
    let onset = j.onset.at.and_then(|t| column(t, j.from, now, width));
    let Some(c) = onset.filter(|&c| c < row.len()) else {
        return Line::from(Span::styled(row.into_iter().collect::<String>(), theme.dim));
    };
    // An onset in the last columns moves `now` to its left rather than cutting it.
    let label = row.len().saturating_sub(right.len());
    if c >= label && c >= right.len() {
        row[label..].fill(' ');
        for (slot, ch) in row[c - right.len()..c].iter_mut().zip(right.chars()) {
            *slot = ch;
        }
    }
    row[c] = '▲';
    let before: String = row[..c].iter().collect();
    let after: String = row[c + 1..].iter().collect();
    Line::from(vec![
        Span::styled(before, theme.dim),
        Span::styled("▲", theme.critical),
        Span::styled(after, theme.dim),
    ])
}

/// One mark per column that had an event (the newest event's, when several share it).
fn mark_row<'a>(j: &Judged, now: i64, width: usize, theme: &Theme) -> Line<'a> {
    let mut row: Vec<(char, Style)> = vec![(' ', theme.dim); width];
    for e in j.events.iter() {
        if let Some(c) = column(e.at, j.from, now, width) {
            row[c] = (mark(e.kind).0, theme.warning);
        }
    }
    Line::from(
        row.into_iter()
            .map(|(c, style)| Span::styled(c.to_string(), style))
            .collect::<Vec<_>>(),
    )
}

/// The events shown, newest first from `scroll` on; the sources that could not be read last.
fn event_lines<'a>(
    view: &View<'_>,
    now: i64,
    tz: &jiff::tz::TimeZone,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let shown: Vec<&Event> = view
        .judged
        .events
        .iter()
        .rev()
        .filter(|e| view.kind.is_none_or(|k| e.kind == k))
        .collect();
    let mut lines = Vec::new();
    if shown.is_empty() {
        lines.push(Line::from(Span::styled(
            match view.kind {
                Some(kind) => format!("No {} events.", kind.name()),
                None => "No events recorded in the span.".to_owned(),
            },
            theme.dim,
        )));
    }
    for e in shown.into_iter().skip(view.scroll) {
        let onset = view.judged.onset.at;
        let style = if onset.is_some_and(|o| e.at <= o) {
            theme.text
        } else {
            theme.dim
        };
        let ahead = if e.clock_ahead { " (clock ahead)" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("{:>8} ", clock(e.at, now, tz)), theme.dim),
            Span::styled(format!("{} ", mark(e.kind).0), theme.warning),
            Span::styled(format!("{:<16} ", e.kind.name()), theme.accent),
            Span::styled(format!("{}{ahead}", e.text), style),
            Span::styled(format!("  {}", e.source), theme.dim),
        ]));
    }
    for p in view.problems {
        lines.push(Line::from(Span::styled(
            format!("not read: {p}"),
            theme.dim,
        )));
    }
    lines
}

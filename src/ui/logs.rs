//! The Logs pane: a strip of 502 causes with their per-minute rates and the upstreams most named,
//! then the live lines, coloured by level, tagged with their cause, search matches highlighted.
//! Every line was sanitised when it was read: nothing here can reach the terminal as a control.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::app::App;
use crate::app::log_search::Pattern;
use crate::app::logs::Level;
use crate::logs::{Cause, FollowEvent, LogLine, SourceStatus};
use crate::pane::PaneId;
use crate::theme::Theme;

/// Minutes shown in each cause's rate sparkline.
const SPARK_MINUTES: i64 = 10;

pub fn decorate<'a>(block: Block<'a>, app: &App, theme: &Theme) -> Block<'a> {
    let v = &app.logs;
    let Some(src) = app.model.logs.sources.get(v.current) else {
        return block;
    };
    let mut text = if v.merged {
        super::log_merge::title(&app.model.logs)
    } else {
        format!(
            " [{}/{}] {} · ",
            v.current + 1,
            app.model.logs.sources.len(),
            src.label
        )
    };
    text.push_str(if v.follow { "following" } else { "paused" });
    if !v.merged {
        text.push_str(&format!(" · {} lines", src.total_lines()));
    }
    if v.hscroll > 0 && !v.wrap {
        text.push_str(&format!(" · →{}", v.hscroll));
    }
    if let Some(l) = v.level {
        text.push_str(&format!(" · {}+", l.name()));
    }
    if let Some(c) = v.cause {
        text.push_str(&format!(" · {}", c.name()));
    }
    if let Some(u) = &v.upstream {
        text.push_str(&format!(
            " · upstream {}",
            crate::sanitize::sanitize(&u.name)
        ));
    }
    text.push(' ');
    let block = block.title_bottom(Span::styled(text, theme.dim));
    // The search, its counter and the filters on the top border's right, where a narrow pane
    // has room left.
    let find = super::log_search::title(app, theme);
    if find.is_empty() {
        return block;
    }
    block.title(Line::from(find).right_aligned())
}

fn level_style(theme: &Theme, level: Option<Level>) -> Style {
    match level {
        Some(Level::Crit | Level::Error) => theme.critical,
        Some(Level::Warn) => theme.warning,
        Some(Level::Debug) => theme.dim,
        _ => theme.text,
    }
}

fn spark(counts: &BTreeMap<i64, u64>, now_minute: i64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<u64> = (0..SPARK_MINUTES)
        .map(|i| {
            counts
                .get(&(now_minute - (SPARK_MINUTES - 1 - i) * 60))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                BARS[((v * 7).div_ceil(max) as usize).min(7)]
            }
        })
        .collect()
}

fn strip(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let v = &app.logs;
    let Some(src) = app.model.logs.sources.get(v.current) else {
        return vec![];
    };
    let mut lines = Vec::new();
    let sources = &app.model.logs.sources;
    let polled = sources
        .iter()
        .filter(|s| s.status == SourceStatus::Polled)
        .count();
    if polled > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "{} of {} logs followed, the rest polled (open-file limit)",
                sources.len() - polled,
                sources.len()
            ),
            theme.dim,
        )));
    }
    match &src.status {
        SourceStatus::Following | SourceStatus::Starting | SourceStatus::Polled => {}
        SourceStatus::Waiting(why) => lines.push(Line::from(Span::styled(
            format!("waiting: {why}"),
            theme.warning,
        ))),
        SourceStatus::Failed(why) => lines.push(Line::from(Span::styled(
            format!("cannot read: {why}"),
            theme.critical,
        ))),
        SourceStatus::Ended(why) => lines.push(Line::from(Span::styled(
            format!("ended: {why}"),
            theme.warning,
        ))),
    }
    if let Some(event) = src.events.back().filter(|e| **e != FollowEvent::Opened) {
        let what = match event {
            FollowEvent::Rotated => "rotated: finished the old file, following the new one",
            FollowEvent::Truncated => "truncated: reading again from the start",
            FollowEvent::Opened => "",
        };
        lines.push(Line::from(Span::styled(what.to_string(), theme.dim)));
    }
    let now_minute = app
        .now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let now_minute = now_minute - now_minute.rem_euclid(60);
    let mut causes: Vec<(Cause, u64)> = src.tally.causes.iter().map(|(c, n)| (*c, *n)).collect();
    causes.sort_by_key(|(c, n)| (std::cmp::Reverse(*n), *c));
    let mut spans = Vec::new();
    for (cause, n) in causes {
        let per_min: BTreeMap<i64, u64> = src
            .tally
            .per_minute
            .iter()
            .filter_map(|(m, c)| Some((*m, *c.by_cause.get(&cause)?)))
            .collect();
        let sparkline = spark(&per_min, now_minute);
        spans.push(Span::styled(
            format!("{} {n} ", cause.name()),
            theme.critical,
        ));
        spans.push(Span::styled(format!("{sparkline}  "), theme.accent));
    }
    if src.tally.status_5xx > 0 {
        let per_min: BTreeMap<i64, u64> = src
            .tally
            .per_minute
            .iter()
            .map(|(m, c)| (*m, c.status_502))
            .collect();
        spans.push(Span::styled(
            format!("5xx {} 502 {} ", src.tally.status_5xx, src.tally.status_502),
            theme.critical,
        ));
        spans.push(Span::styled(
            format!("{}  ", spark(&per_min, now_minute)),
            theme.accent,
        ));
    }
    if spans.is_empty() && src.tally.lines > 0 {
        spans.push(Span::styled("no 502 signature in these lines", theme.ok));
    }
    if !spans.is_empty() {
        lines.push(Line::from(spans));
    }
    if let Some(u) = &v.upstream {
        lines.push(Line::from(Span::styled(
            format!(
                "only the lines of upstream {}",
                crate::sanitize::sanitize(&u.name)
            ),
            theme.accent,
        )));
    }
    let top = src.tally.top_upstreams(3);
    if !top.is_empty() {
        let list: Vec<String> = top
            .iter()
            .map(|(u, n)| format!("{} ×{n}", app.model.logged_upstream_label(u)))
            .collect();
        lines.push(Line::from(vec![
            Span::styled("failing upstreams: ", theme.dim),
            Span::styled(list.join("  "), theme.warning),
        ]));
    }
    lines
}

fn render_line(
    line: &LogLine,
    search: Option<&Pattern>,
    current: bool,
    narrow: bool,
    theme: &Theme,
) -> Line<'static> {
    let mut spans = Vec::new();
    if let Some(cause) = line.cause {
        spans.push(Span::styled(
            format!("[{}] ", cause.name()),
            theme.critical.reversed(),
        ));
    }
    // A line whose match would be in the part compacting drops is shown whole, so the match
    // the counter counts is the one the eye finds.
    let compacted = narrow
        .then(|| super::log_compact::compact(&line.text))
        .flatten()
        .filter(|short| search.is_none_or(|p| p.is_match(short) || !p.is_match(&line.text)));
    spans.extend(super::log_search::highlighted(
        compacted.as_deref().unwrap_or(&line.text),
        search,
        level_style(theme, Level::of(line)),
        current,
        theme,
    ));
    Line::from(spans)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = &app.logs;
    if app.model.logs.sources.is_empty() {
        let msg = "no logs configured: add [[log]] to the config or point --nginx-conf at the proxy's config";
        let mut lines = vec![Line::default(), Line::from(Span::styled(msg, theme.dim))];
        // Logs sent to syslog or stderr: say where they are instead.
        for note in &app.model.upstreams.log_elsewhere {
            lines.push(Line::from(Span::styled(note.clone(), theme.dim)));
        }
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).centered(),
            area,
        );
        return;
    }
    let mut head = strip(app, theme);
    head.truncate(usize::from(area.height) / 3);
    let marker = super::log_search::new_lines_marker(app, theme);
    let body_height = usize::from(area.height)
        .saturating_sub(head.len())
        .saturating_sub(usize::from(marker.is_some()));
    let width = usize::from(area.width.max(1));
    // Narrow, error lines lose their date and ids so the message shows (Enter has them all).
    let narrow = width < super::log_compact::NARROW;
    let visible = v.tagged(&app.model.logs);
    let names = super::log_merge::short_names(&app.model.logs, v.merged);
    let selected = app.focus == PaneId::Logs;
    let end = visible
        .len()
        .saturating_sub(app.scroll[PaneId::Logs.index()]);
    // Typing a new search: the old one's highlights would mislead.
    let search = v.find.search().filter(|_| app.log_prompt().is_none());
    let current = search
        .and_then(|_| v.counter(&app.model.logs, super::log_search::bottom(app)))
        .and_then(|c| c.line);
    // Each line as the rows it is drawn in: wrapped here, by display width, so the rows counted
    // are the rows drawn; a huge line is capped so the lines around it stay in view.
    let cap = (body_height / 2).max(MIN_LINE_ROWS);
    let rows_of = |i: usize| {
        let (source, l) = visible[i];
        let mut line = render_line(l, search, current == Some(i), narrow, theme);
        if let Some(name) = names.get(source) {
            line.spans
                .insert(0, Span::styled(name.clone(), theme.accent));
        }
        // The selected line (Enter opens it, y copies it): the pane's bottom line.
        if selected && i + 1 == end {
            line = line.style(theme.selection);
        }
        if v.wrap {
            capped(super::wrap::rows(&line, width), cap, theme)
        } else {
            vec![line]
        }
    };
    // Walk up from the bottom line until the pane is full.
    let mut older: Vec<Vec<Line<'static>>> = Vec::new();
    let mut used = 0;
    let mut start = end;
    while start > 0 {
        let rows = rows_of(start - 1);
        if used + rows.len() > body_height {
            // The newest line alone is taller than the pane: its beginning, as much as fits. An
            // older line that does not fit whole fills the rows left with its end.
            let room = body_height - used;
            let shown: Vec<Line<'static>> = if older.is_empty() {
                rows.into_iter().take(room).collect()
            } else {
                let skip = rows.len() - room;
                rows.into_iter().skip(skip).collect()
            };
            if !shown.is_empty() {
                older.push(shown);
                used = body_height;
            }
            break;
        }
        used += rows.len();
        older.push(rows);
        start -= 1;
    }
    older.reverse();
    // Scrolled back with room to spare: fill it with the newer lines rather than leave it blank.
    let mut newer: Vec<Vec<Line<'static>>> = Vec::new();
    let mut next = end;
    while next < visible.len() {
        let rows = rows_of(next);
        if used + rows.len() > body_height {
            break;
        }
        used += rows.len();
        newer.push(rows);
        next += 1;
    }
    let head_rows = u16::try_from(head.len()).unwrap_or(u16::MAX);
    let mut lines = Vec::new();
    if visible.is_empty() {
        let why = if v.level.is_some()
            || v.cause.is_some()
            || v.upstream.is_some()
            || v.find.has_filters()
        {
            "no line passes the filters"
        } else {
            "no lines yet"
        };
        lines.push(Line::from(Span::styled(why, theme.dim)));
    }
    lines.extend(older.into_iter().chain(newer).flatten());
    frame.render_widget(Paragraph::new(head), area);
    let body = Rect {
        y: area.y + head_rows.min(area.height),
        height: area.height.saturating_sub(head_rows),
        ..area
    };
    // Unwrapped lines scroll sideways; the strip above them stays.
    let sideways = if v.wrap {
        0
    } else {
        u16::try_from(v.hscroll).unwrap_or(u16::MAX)
    };
    frame.render_widget(Paragraph::new(lines).scroll((0, sideways)), body);
    if let Some(marker) = marker {
        let row = Rect {
            y: area.bottom().saturating_sub(1),
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(Line::from(marker)).right_aligned(), row);
    }
}

/// Rows a wrapped line may take at least, however short the pane.
const MIN_LINE_ROWS: usize = 3;

/// A wrapped line of more than `cap` rows: its first rows, then "… +K KiB" for the rest.
fn capped(mut rows: Vec<Line<'static>>, cap: usize, theme: &Theme) -> Vec<Line<'static>> {
    if rows.len() <= cap {
        return rows;
    }
    let bytes = |rows: &[Line<'_>]| -> usize {
        rows.iter()
            .flat_map(|r| r.spans.iter())
            .map(|s| s.content.len())
            .sum()
    };
    let kept = cap.saturating_sub(1).max(1);
    let rest = bytes(&rows[kept..]);
    rows.truncate(kept);
    rows.push(Line::from(Span::styled(
        format!("… +{} KiB", kib(rest)),
        theme.dim,
    )));
    rows
}

/// "2.3" below 10 KiB, "15" above, rounded up: never "+0".
fn kib(bytes: usize) -> String {
    if bytes < 10 * 1024 {
        let tenths = (bytes * 10).div_ceil(1024);
        format!("{}.{}", tenths / 10, tenths % 10)
    } else {
        bytes.div_ceil(1024).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_has_one_cell_per_minute() {
        let counts: BTreeMap<i64, u64> = [(600, 1), (1140, 8)].into_iter().collect();
        let s = spark(&counts, 1140);
        assert_eq!(s.chars().count(), SPARK_MINUTES as usize);
        assert!(s.ends_with('█'));
    }
}

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
    if let Some(input) = app.search_input() {
        text.push_str(&format!(" · /{input}█"));
    } else if !v.search.is_empty() {
        text.push_str(&format!(" · /{}", v.search));
    }
    text.push(' ');
    block.title_bottom(Span::styled(text, theme.dim))
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

/// The line's text with every case-insensitive match of `needle` reversed.
fn highlighted(text: &str, needle: &str, style: Style) -> Vec<Span<'static>> {
    if needle.is_empty() {
        return vec![Span::styled(text.to_string(), style)];
    }
    let lower = text.to_lowercase();
    let needle = needle.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII; highlight only when offsets line up.
    if lower.len() != text.len() {
        return vec![Span::styled(text.to_string(), style)];
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (i, _) in lower.match_indices(&needle) {
        if i < at {
            continue;
        }
        spans.push(Span::styled(text[at..i].to_string(), style));
        spans.push(Span::styled(
            text[i..i + needle.len()].to_string(),
            style.reversed(),
        ));
        at = i + needle.len();
    }
    spans.push(Span::styled(text[at..].to_string(), style));
    spans
}

fn render_line(line: &LogLine, search: &str, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if let Some(cause) = line.cause {
        spans.push(Span::styled(
            format!("[{}] ", cause.name()),
            theme.critical.reversed(),
        ));
    }
    spans.extend(highlighted(
        &line.text,
        search,
        level_style(theme, Level::of(line)),
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
    let body_height = usize::from(area.height).saturating_sub(head.len());
    let width = usize::from(area.width.max(1));
    let visible = v.tagged(&app.model.logs);
    let names = super::log_merge::short_names(&app.model.logs, v.merged);
    let selected = app.focus == PaneId::Logs;
    let end = visible
        .len()
        .saturating_sub(app.scroll[PaneId::Logs.index()]);
    let search = if app.search_input().is_some() {
        ""
    } else {
        v.search.as_str()
    };
    // Each line as the rows it is drawn in: wrapped here, by display width, so the rows counted
    // are the rows drawn.
    let rows_of = |i: usize| {
        let (source, l) = visible[i];
        let mut line = render_line(l, search, theme);
        if let Some(name) = names.get(source) {
            line.spans
                .insert(0, Span::styled(name.clone(), theme.accent));
        }
        // The selected line (Enter opens it, y copies it): the pane's bottom line.
        if selected && i + 1 == end {
            line = line.style(theme.selection);
        }
        if v.wrap {
            super::wrap::rows(&line, width)
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
        let why = if v.level.is_some() || v.cause.is_some() || v.upstream.is_some() {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_split_out_case_insensitively() {
        let spans = highlighted("GET /Login and /login", "LOGIN", Style::default());
        let texts: Vec<&str> = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(texts, ["GET /", "Login", " and /", "login", ""]);
    }

    #[test]
    fn sparkline_has_one_cell_per_minute() {
        let counts: BTreeMap<i64, u64> = [(600, 1), (1140, 8)].into_iter().collect();
        let s = spark(&counts, 1140);
        assert_eq!(s.chars().count(), SPARK_MINUTES as usize);
        assert!(s.ends_with('█'));
    }
}

//! The Upstreams pane: which upstream is failing and how, failing first, with latency history;
//! Enter opens the last results of one upstream with their full error text.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::format::fit;
use super::status_style;
use super::upstream_columns::{LATENCY_W, Longest, RESULT_W, middle, plan};
use crate::app::App;
use crate::model::upstreams::{UpstreamRow, address_text};
use crate::pane::PaneId;
use crate::proxy_view::{self, ViewState};
use crate::status::Status;
use crate::theme::Theme;
use crate::upstream::{Outcome, ProbeResult, State, format_age};

/// How many show of how many, how many are down, the sort, the filter and where the targets
/// come from, in the bottom border. Counted when results arrive, not here: 10,000 rows.
pub fn decorate<'a>(block: Block<'a>, app: &App, theme: &Theme) -> Block<'a> {
    let v = &app.model.upstreams;
    if v.rows.is_empty() {
        return block;
    }
    let view = &app.upstreams;
    let (shown, total) = (view.visible.len(), v.rows.len());
    let mut text = if shown == total {
        format!(" {total} upstreams")
    } else {
        format!(" {shown} of {total} upstreams")
    };
    if view.down > 0 {
        text.push_str(&format!(", {} down", view.down));
    }
    text.push_str(&format!(" · sort: {}", view.sort.as_str()));
    match app.filter_input() {
        Some((PaneId::Upstreams, editing)) => text.push_str(&format!(" · filter: {editing}█")),
        _ if !view.filter.is_empty() => text.push_str(&format!(" · filter: {}", view.filter)),
        _ => {}
    }
    let from = if view.all_from_config {
        "config".to_string()
    } else {
        v.read_from.join(", ")
    };
    text.push_str(&format!(" · from {from} "));
    block.title_bottom(Span::styled(text, theme.dim))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = &app.model.upstreams;
    match app.upstream_detail.and_then(|i| v.rows.get(i)) {
        Some(row) => detail(frame, area, app, row, theme),
        None => table(frame, area, app, theme),
    }
}

fn state_mark(state: Option<State>, theme: &Theme) -> Span<'static> {
    match state {
        Some(State::Down) => Span::styled("✖ ", theme.critical),
        Some(State::Degraded) => Span::styled("▲ ", theme.warning),
        Some(State::Up) => Span::styled("● ", theme.ok),
        None => Span::styled("… ", theme.dim),
    }
}

fn state_style(state: Option<State>, theme: &Theme) -> Style {
    match state {
        Some(State::Down) => status_style(theme, Status::Critical),
        Some(State::Degraded) => status_style(theme, Status::Warning),
        Some(State::Up) => theme.text,
        None => theme.dim,
    }
}

/// The status code when there was an answer, else the outcome.
fn result_text(r: &ProbeResult) -> String {
    sample_text(r.status_code, r.outcome)
}

fn sample_text(status_code: Option<u16>, outcome: Outcome) -> String {
    match (status_code, outcome) {
        (Some(code), _) => code.to_string(),
        (None, Outcome::InvalidResponse) => "not http".to_string(),
        (None, o) => o.as_str().to_string(),
    }
}

fn proxy_style(state: &ViewState, theme: &Theme) -> Style {
    match state {
        ViewState::Up | ViewState::NoCheck => theme.text,
        ViewState::Down => theme.critical,
        _ => theme.warning,
    }
}

fn latency_text(d: Option<Duration>) -> String {
    match d {
        None => "-".to_string(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.1}ms", d.as_secs_f64() * 1000.0),
        Some(d) if d < Duration::from_secs(1) => format!("{}ms", d.as_millis()),
        Some(d) => format!("{:.1}s", d.as_secs_f64()),
    }
}

/// Latency history, one cell per probe, scaled to the window's slowest answer; a failure is a
/// red ×, so a flapping upstream shows as a broken line.
fn sparkline(row: &UpstreamRow, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let points: Vec<Option<Duration>> = row.history.latencies(width).collect();
    let max = points
        .iter()
        .flatten()
        .max()
        .copied()
        .unwrap_or_default()
        .max(Duration::from_millis(1));
    let mut spans: Vec<Span> = vec![Span::raw(" ".repeat(width.saturating_sub(points.len())))];
    let mut run = String::new();
    let mut run_failed = false;
    for p in points {
        let (c, failed) = match p {
            Some(l) => {
                let level = (l.as_secs_f64() / max.as_secs_f64() * 7.0).round() as usize;
                (BARS[level.min(7)], false)
            }
            None => ('×', true),
        };
        if failed != run_failed && !run.is_empty() {
            let style = if run_failed {
                theme.critical
            } else {
                theme.accent
            };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_failed = failed;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(
            run,
            if run_failed {
                theme.critical
            } else {
                theme.accent
            },
        ));
    }
    spans
}

fn table(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = &app.model.upstreams;
    if v.rows.is_empty() {
        return empty(frame, area, app, theme);
    }
    let width = usize::from(area.width);
    let longest = Longest {
        name: v.longest_name,
        target: v.longest_target,
        address: v.longest_address,
    };
    let c = plan(width, longest, app.upstreams.any_proxy);
    let mut header = format!("  {} ", fit("NAME", c.name));
    if c.target > 0 {
        header.push_str(&format!("{} ", fit("TARGET", c.target)));
    }
    header.push_str(&fit("RESULT", RESULT_W));
    if c.latency {
        header.push_str(&format!(" {:>LATENCY_W$}", "LAT"));
    }
    if c.history > 0 {
        header.push_str(&format!(" {}", fit("HISTORY", c.history)));
    }
    if c.proxy > 0 {
        header.push_str(&format!(" {}", fit("PROXY'S VIEW", c.proxy)));
    }
    if c.ok {
        header.push_str("   OK%");
    }
    if c.since {
        header.push_str("     FOR");
    }
    let mut lines = vec![Line::from(Span::styled(
        fit(&header, width),
        theme.accent.reversed(),
    ))];

    let notes = notes(app, theme);
    let room = usize::from(area.height).saturating_sub(1);
    let table_rows = room
        .saturating_sub(notes.len().min(room / 3))
        .max(1.min(room));
    let cursor = app.scroll[PaneId::Upstreams.index()];
    let offset = cursor.saturating_sub(table_rows.saturating_sub(1));
    let now = app.now();
    let focused = app.focus == PaneId::Upstreams;
    if app.upstreams.visible.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no upstream matches the filter",
            theme.dim,
        )));
    }
    for (pos, &i) in app
        .upstreams
        .visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(table_rows)
    {
        let row = &v.rows[i];
        let state = row.history.state();
        let last = row.history.last();
        let mut spans = vec![state_mark(state, theme)];
        let shared = |of: &[usize]| of.get(i).copied().unwrap_or(0);
        spans.push(Span::styled(
            format!(
                "{} ",
                middle(&row.entry.upstream.name, c.name, shared(&v.name_shared))
            ),
            theme.text,
        ));
        if c.target > 0 {
            // A URL that does not fit gives up its scheme and path before any of its address.
            let url = &row.entry.upstream.url;
            let full = url.to_string();
            let text = if full.chars().count() <= c.target {
                full
            } else {
                middle(&address_text(url), c.target, shared(&v.address_shared))
            };
            spans.push(Span::styled(
                format!("{} ", middle(&text, c.target, 0)),
                theme.dim,
            ));
        }
        let result = last.map_or("…".to_string(), result_text);
        spans.push(Span::styled(
            fit(&result, RESULT_W),
            state_style(state, theme),
        ));
        if c.latency {
            let latency = latency_text(last.and_then(|r| r.latency));
            spans.push(Span::styled(format!(" {latency:>LATENCY_W$}"), theme.text));
        }
        if c.history > 0 {
            spans.push(Span::raw(" "));
            spans.extend(sparkline(row, c.history, theme));
        }
        if c.proxy > 0 {
            let (text, style) = match &row.proxy {
                Some(p) => (p.compact(), proxy_style(&p.view.state, theme)),
                None => ("-".to_string(), theme.dim),
            };
            spans.push(Span::styled(format!(" {}", fit(&text, c.proxy)), style));
        }
        if c.ok {
            let ok = row
                .history
                .success_percent()
                .map_or("-".to_string(), |p| format!("{p:.0}%"));
            spans.push(Span::styled(format!(" {ok:>5}"), theme.text));
        }
        if c.since {
            let age = row
                .history
                .state_age(now)
                .map_or("-".to_string(), format_age);
            spans.push(Span::styled(format!(" {age:>7}"), theme.dim));
        }
        let mut line = Line::from(spans);
        if focused && pos == cursor {
            line = line.style(theme.selection);
        }
        lines.push(line);
    }
    let used = lines.len();
    lines.extend(
        notes
            .into_iter()
            .take(usize::from(area.height).saturating_sub(used)),
    );
    frame.render_widget(Paragraph::new(lines), area);
}

/// What discovery could not probe or read: shown under the table, never hidden.
fn notes(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let v = &app.model.upstreams;
    let mut out = Vec::new();
    for f in &v.discovery {
        out.push(Line::from(Span::styled(
            format!("▲ {}", f.message),
            status_style(theme, f.status),
        )));
    }
    for view in &app.model.proxy_views.views {
        if let Some(e) = &view.error {
            out.push(Line::from(Span::styled(
                format!("· {} {}: {e}", proxy_view::api_name(view.api), view.at),
                theme.dim,
            )));
        }
    }
    for u in &v.unprobeable {
        out.push(Line::from(Span::styled(
            format!("· not probe-able: {u}"),
            theme.dim,
        )));
    }
    out
}

fn empty(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = &app.model.upstreams;
    let message = if v.read_from.is_empty() {
        "no upstreams configured: add [[upstream]] to the config or point --nginx-conf at the proxy's config"
            .to_string()
    } else {
        format!(
            "no upstreams found in {}: add [[upstream]] to the config",
            v.read_from.join(", ")
        )
    };
    let mut lines = vec![
        Line::default(),
        Line::from(Span::styled(message, theme.dim)),
    ];
    lines.push(Line::default());
    lines.extend(notes(app, theme));
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).centered(),
        area,
    );
}

fn detail(frame: &mut Frame, area: Rect, app: &App, row: &UpstreamRow, theme: &Theme) {
    let u = &row.entry.upstream;
    let state = row.history.state();
    let mut head = vec![
        state_mark(state, theme),
        Span::styled(u.name.clone(), theme.title_focused),
        Span::styled(format!("  {}", u.url), theme.text),
    ];
    if let Some(g) = &row.entry.group {
        head.push(Span::styled(format!("  group {g}"), theme.dim));
    }
    if !row.entry.flags.is_empty() {
        head.push(Span::styled(
            format!("  {}", row.entry.flags.join(" ")),
            theme.warning,
        ));
    }
    let mut lines = vec![Line::from(head)];
    lines.push(Line::from(Span::styled(
        format!("  from {}", row.entry.source),
        theme.dim,
    )));
    for note in &row.entry.notes {
        lines.push(Line::from(Span::styled(format!("  {note}"), theme.dim)));
    }
    let age = row
        .history
        .state_age(app.now())
        .map(format_age)
        .unwrap_or_default();
    let ok = row
        .history
        .success_percent()
        .map_or("-".to_string(), |p| format!("{p:.0}%"));
    lines.push(Line::from(vec![
        Span::styled(
            format!("  {} ", state.map_or("not probed yet", |s| s.as_str())),
            state_style(state, theme),
        ),
        Span::styled(
            format!(
                "for {age} · {ok} ok over {} probes · every {}, timeout {}, expect {}",
                row.history.len(),
                humantime::format_duration(u.interval),
                humantime::format_duration(u.timeout),
                u.expect
            ),
            theme.dim,
        ),
    ]));
    lines.extend(phases(row, theme));
    if let Some(p) = &row.proxy {
        lines.push(Line::from(Span::styled(
            format!("  {}", p.summary()),
            proxy_style(&p.view.state, theme),
        )));
    }
    if let Some(fail) = row.history.last_failure() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  last failure {} ", clock(app, fail.at)),
                theme.accent,
            ),
            Span::styled(fail.detail.clone(), theme.text),
        ]));
    }
    lines.push(Line::default());
    let width = usize::from(area.width);
    let header = format!(
        "{:<9}{:<12}{:>8}  {:<22}DETAIL",
        "TIME", "RESULT", "LATENCY", "ADDRESS"
    );
    lines.push(Line::from(Span::styled(
        fit(&header, width),
        theme.accent.reversed(),
    )));
    let head_rows = lines.len();
    let mut body: Vec<Line> = row
        .recent_results()
        .rev()
        .map(|(s, text)| {
            let style = if s.outcome.is_ok() {
                theme.text
            } else {
                theme.critical
            };
            Line::from(vec![
                Span::styled(format!("{:<9}", clock(app, s.at)), theme.dim),
                Span::styled(
                    format!("{:<12}", fit(&sample_text(s.status_code, s.outcome), 11)),
                    style,
                ),
                Span::styled(format!("{:>8}  ", latency_text(s.latency)), theme.text),
                Span::styled(
                    format!("{:<22}", fit(text.addr.as_deref().unwrap_or("-"), 21)),
                    theme.dim,
                ),
                Span::styled(text.detail.to_string(), theme.text),
            ])
        })
        .collect();
    body.truncate(usize::from(area.height).saturating_sub(head_rows));
    lines.extend(body);
    // The header lines wrap so a long error is read in full; the table lines are cut at the edge.
    let w = usize::from(area.width.max(1));
    let wrapped: usize = lines[..head_rows]
        .iter()
        .map(|l| l.width().max(1).div_ceil(w))
        .sum();
    let top_height = u16::try_from(wrapped).unwrap_or(u16::MAX).min(area.height);
    let top = Paragraph::new(lines[..head_rows].to_vec()).wrap(Wrap { trim: false });
    let [top_area, rest] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(top_height),
        ratatui::layout::Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(top, top_area);
    frame.render_widget(Paragraph::new(lines[head_rows..].to_vec()), rest);
}

/// The last probe's phases and, under them, the proxy's own limits for this upstream: a connect
/// that takes as long as `proxy_connect_timeout` is told from a first byte slower than
/// `proxy_read_timeout`.
fn phases(row: &UpstreamRow, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let summary = row.phases.summary();
    if !summary.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("  last probe   ", theme.accent),
            Span::styled(summary, theme.text),
        ]));
    }
    if let Some(limits) = &row.entry.limits {
        let text = crate::sanitize::sanitize(&limits.to_string()).into_owned();
        lines.push(Line::from(vec![
            Span::styled("  nginx limits ", theme.accent),
            Span::styled(text, theme.dim),
        ]));
    }
    lines
}

fn clock(app: &App, at: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| {
            t.to_zoned(app.clock.time_zone().clone())
                .strftime("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

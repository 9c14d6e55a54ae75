//! The actions menu, the confirm dialog and the action output view: popups over the panes.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::status_style;
use crate::actions::{ServiceState, ServiceStatus};
use crate::app::App;
use crate::app::actions::{ActionsView, Confirm};
use crate::status::Status;
use crate::theme::Theme;

/// History lines shown under the menu.
const MENU_HISTORY: usize = 5;

/// A popup of at most `width` x `height`, centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width.saturating_sub(2)).max(1);
    let height = height.min(area.height.saturating_sub(2)).max(1);
    Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    }
}

/// A popup's frame: its title, the focused border, the popup background.
pub(super) fn popup<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .title(Span::styled(title, theme.title_focused))
        .border_style(theme.border_focused)
        .style(theme.popup)
}

/// ` j/k scroll  Esc close `: a popup's keys, for its bottom border.
pub(super) fn key_hint<'a>(pairs: &[(&'a str, &'a str)], theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    for (key, what) in pairs {
        spans.push(Span::styled(format!(" {key}"), theme.footer_key));
        spans.push(Span::styled(format!(" {what} "), theme.footer_text));
    }
    Line::from(spans)
}

fn clock_time(app: &App, at: SystemTime) -> String {
    crate::app::actions::clock_time(at, app.clock.time_zone())
}

pub fn state_mark(state: ServiceState) -> (&'static str, Status) {
    match state {
        ServiceState::Running => ("●", Status::Ok),
        ServiceState::Stopped => ("✖", Status::Critical),
        ServiceState::Unknown => ("?", Status::Unknown),
    }
}

fn status_spans<'a>(status: Option<&ServiceStatus>, theme: &Theme) -> Vec<Span<'a>> {
    let Some(s) = status else {
        return vec![Span::styled("status not checked yet", theme.dim)];
    };
    let (mark, level) = state_mark(s.state);
    vec![
        Span::styled(
            format!("{mark} {}", s.state.name()),
            status_style(theme, level),
        ),
        Span::styled(format!(": {}", s.detail), theme.dim),
    ]
}

pub fn draw_menu(frame: &mut Frame, area: Rect, app: &App, selected: usize, theme: &Theme) {
    let view = &app.actions;
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    let mut last_service = None;
    for (i, item) in view.items.iter().enumerate() {
        if last_service != Some(item.service) {
            if last_service.is_some() {
                lines.push(Line::default());
            }
            last_service = Some(item.service);
            let mut header = vec![Span::styled(
                format!("{}  ", view.name(item.service)),
                theme.accent,
            )];
            match view.notes.get(item.service).and_then(Option::as_ref) {
                Some(note) => header.push(Span::styled(note.clone(), theme.dim)),
                None => header.extend(status_spans(
                    app.model
                        .services
                        .statuses
                        .get(item.service)
                        .and_then(Option::as_ref),
                    theme,
                )),
            }
            lines.push(Line::from(header));
        }
        let greyed = view.read_only && item.verb != crate::actions::Verb::Status;
        let style = if greyed { theme.dim } else { theme.text };
        let marker = if i == selected { "▶ " } else { "  " };
        let mut spans = vec![
            Span::styled(format!("{marker}{:<8} ", item.verb.name()), style),
            Span::styled(item.command.clone(), style),
        ];
        if item.guard.is_some() {
            spans.push(Span::styled("  (tests first)", theme.dim));
        }
        let mut line = Line::from(spans);
        if i == selected {
            selected_line = lines.len();
            line = line.style(theme.selection);
        }
        lines.push(line);
    }
    if !view.history.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("This session", theme.accent)));
        for r in view.history.iter().rev().take(MENU_HISTORY) {
            let (mark, level) = if r.success() {
                ("✓", Status::Ok)
            } else {
                ("✖", Status::Critical)
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", clock_time(app, r.started)), theme.dim),
                Span::styled(format!("{mark} "), status_style(theme, level)),
                Span::styled(r.summary(), theme.text),
            ]));
        }
    }
    let title = if view.read_only {
        format!(" Actions (read-only: {}) ", view.read_only_why)
    } else {
        " Actions ".to_string()
    };
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let rect = centered(area, width.max(50), lines.len() as u16 + 3);
    let block = popup(title, theme).title_bottom(key_hint(
        &[("j/k", "move"), ("Enter", "choose"), ("Esc", "close")],
        theme,
    ));
    let inner = block.inner(rect);
    // Keep the highlighted row in view on a short terminal.
    let scroll = selected_line.saturating_sub(usize::from(inner.height).saturating_sub(1));
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    frame.render_widget(
        Paragraph::new(lines).scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        inner,
    );
}

pub fn draw_confirm(frame: &mut Frame, area: Rect, app: &App, confirm: Confirm, theme: &Theme) {
    let view = &app.actions;
    let Some(item) = view.items.get(confirm.item) else {
        return;
    };
    let mut lines = vec![Line::from(Span::styled(
        format!("Runs, without a shell, for at most {}:", item.timeout_label),
        theme.text,
    ))];
    lines.push(Line::from(Span::styled(
        format!("  {}", item.command),
        theme.warning,
    )));
    if let Some(test) = &item.guard {
        lines.push(Line::from(Span::styled(
            "after this test, and only if it passes:",
            theme.text,
        )));
        lines.push(Line::from(Span::styled(format!("  {test}"), theme.accent)));
    }
    lines.push(Line::default());
    let button = |label: &'static str, on: bool| {
        let style = if on { theme.selection } else { theme.dim };
        Span::styled(format!("[ {label} ]"), style)
    };
    lines.push(Line::from(vec![
        Span::raw("   "),
        button("Cancel", !confirm.run_selected),
        Span::raw("   "),
        button("Run", confirm.run_selected),
    ]));
    let title = format!(" Confirm: {} {} ", item.verb, view.name(item.service));
    let block = popup(title, theme).title_bottom(key_hint(
        &[("y", "run"), ("n/Esc", "cancel"), ("←/→", "choose")],
        theme,
    ));
    let want = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let width = want.clamp(46, area.width.saturating_sub(4).max(1));
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    // The command must be readable in full: wrapped lines count towards the height.
    let height: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_width).max(1))
        .sum();
    let rect = centered(area, width, height as u16 + 2);
    let inner = block.inner(rect);
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// `scroll`: lines up from the newest.
pub fn draw_output(frame: &mut Frame, area: Rect, app: &App, scroll: usize, theme: &Theme) {
    let view: &ActionsView = &app.actions;
    let Some(label) = &view.shown else { return };
    let state = match &view.running {
        Some(r) => format!("running since {}", clock_time(app, r.started)),
        None => view
            .history
            .back()
            .map(|r| r.outcome_text())
            .unwrap_or_default(),
    };
    let result_style: Style = match (&view.running, view.history.back()) {
        (Some(_), _) => theme.accent,
        (None, Some(r)) if r.success() => theme.ok,
        (None, Some(_)) => theme.critical,
        _ => theme.text,
    };
    let rect = super::full_popup(area);
    let block = Block::bordered()
        .title(Span::styled(
            format!(" Output: {label} "),
            theme.title_focused,
        ))
        .title(Span::styled(format!(" {state} "), result_style))
        .border_style(theme.border_focused)
        .style(theme.popup)
        .title_bottom(key_hint(
            &[
                ("j/k", "scroll"),
                ("g/G", "top/end"),
                ("Esc", "close"),
                ("a", "actions"),
            ],
            theme,
        ));
    let inner = block.inner(rect);
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    let rows = usize::from(inner.height);
    let total = view.output.len();
    let end = total.saturating_sub(scroll.min(total));
    let start = end.saturating_sub(rows);
    let mut lines: Vec<Line> = Vec::new();
    if start == 0 && view.output_dropped > 0 {
        lines.push(Line::from(Span::styled(
            format!("({} earlier lines dropped)", view.output_dropped),
            theme.dim,
        )));
    }
    for text in view.output.range(start..end) {
        let style = if text.starts_with("$ ") {
            theme.accent
        } else if text.starts_with("── ") {
            result_style
        } else {
            theme.text
        };
        lines.push(Line::from(Span::styled(text.clone(), style)));
    }
    let skip = lines.len().saturating_sub(rows);
    frame.render_widget(Paragraph::new(lines.split_off(skip)), inner);
}

/// Chunks for the Host pane: each service's polled state.
pub fn service_chunks(app: &App, theme: &Theme) -> Vec<Vec<Span<'static>>> {
    let view = &app.actions;
    let mut chunks = Vec::new();
    for (i, name) in view.names.iter().enumerate() {
        let Some(Some(status)) = app.model.services.statuses.get(i) else {
            continue;
        };
        let (mark, level) = state_mark(status.state);
        let mut chunk = vec![Span::styled(format!("{name} "), theme.text)];
        chunk.push(Span::styled(
            format!("{mark} {}", status.state.name()),
            status_style(theme, level),
        ));
        if status.state != ServiceState::Running {
            chunk.push(Span::styled(format!(" ({})", status.detail), theme.dim));
        }
        chunk.push(Span::raw("  "));
        chunks.push(chunk);
    }
    if !chunks.is_empty() {
        chunks.insert(0, vec![Span::styled("services ", theme.dim)]);
    }
    chunks
}

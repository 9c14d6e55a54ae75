//! Drawing: a pure function of the app state. No I/O, no clocks: what is drawn is what `App` holds,
//! which is what makes the snapshot tests deterministic.

pub mod actions;
mod bars;
pub mod checklist;
mod dns;
mod empty;
mod format;
mod help;
mod host;
mod host_containers;
pub mod layout;
mod log_compact;
mod log_detail;
mod log_merge;
mod log_search;
mod logs;
mod timeline;
mod upstream_columns;
mod upstreams;
mod wrap;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::App;
use crate::app::modal::Modal;
use crate::diagnosis::Diagnosis;
use crate::keymap;
use crate::pane::PaneId;
use crate::status::Status;
use crate::theme::Theme;

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    let screen = layout::screen(area, app.zoomed, app.focus);
    if screen.too_small {
        let msg = format!(
            "terminal too small: {}x{}, need {}x{}",
            area.width,
            area.height,
            layout::MIN_WIDTH,
            layout::MIN_HEIGHT
        );
        frame.render_widget(
            Paragraph::new(msg)
                .style(theme.warning)
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    header(frame, screen.header, app, theme);
    let diagnosis = &app.judged.diagnosis;
    if let Some(rect) = screen.verdict {
        checklist::draw_verdict(frame, rect, diagnosis, theme);
    }
    if let Some(rect) = screen.checklist {
        checklist::draw_strip(frame, rect, diagnosis, theme);
    }
    if let Some(tabs) = screen.tabs {
        draw_tabs(frame, tabs, app, theme);
    }
    for pane in PaneId::ALL {
        if let Some(rect) = screen.pane(pane) {
            draw_pane(frame, rect, app, pane, theme);
        }
    }
    footer(frame, screen.footer, app, theme);
    if let Some(modal) = &app.modal {
        draw_modal(frame, area, app, modal, diagnosis, theme);
    }
}

/// The popup on top of everything; the text inputs show in their pane's border instead.
fn draw_modal(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    modal: &Modal,
    diagnosis: &Diagnosis,
    theme: &Theme,
) {
    match modal {
        Modal::Help { scroll } => help::draw(frame, area, *scroll, theme),
        Modal::Filter { .. } | Modal::Search(_) => {}
        Modal::Checklist { scroll } => checklist::draw_view(frame, area, diagnosis, *scroll, theme),
        Modal::Timeline { scroll, kind } => {
            let view = timeline::View {
                judged: &app.judged.timeline,
                problems: &app.model.timeline.problems,
                scroll: *scroll,
                kind: *kind,
                now: &app.clock,
            };
            timeline::draw(frame, area, &view, theme);
        }
        Modal::Menu { at } => actions::draw_menu(frame, area, app, *at, theme),
        Modal::Confirm(confirm) => {
            actions::draw_menu(frame, area, app, confirm.item, theme);
            actions::draw_confirm(frame, area, app, *confirm, theme);
        }
        Modal::Output { scroll } => actions::draw_output(frame, area, app, *scroll, theme),
        Modal::LogDetail { detail, scroll } => {
            log_detail::draw(frame, area, detail, *scroll, theme)
        }
    }
}

/// A popup that takes the body of the screen: all of `area` but two columns each side and a row
/// above and below, which [`clear_popup`] blanks.
pub(super) fn full_popup(area: Rect) -> Rect {
    Rect {
        x: area.x + 2,
        y: area.y + 1,
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(2),
    }
}

/// Blanks a popup's rectangle and a margin around it (a row above and below, two columns each
/// side), so pane text never runs up to its border and reads as part of it. The header and
/// footer rows stay: the footer shows the popup's keys.
pub(super) fn clear_popup(frame: &mut Frame, rect: Rect) {
    let screen = frame.area();
    let top = rect.y.saturating_sub(1).max(screen.y + 1);
    let bottom = rect
        .bottom()
        .saturating_add(1)
        .min(screen.bottom().saturating_sub(1))
        .max(top);
    let left = rect.x.saturating_sub(2).max(screen.x);
    let right = rect.right().saturating_add(2).min(screen.right()).max(left);
    let margin = Rect::new(left, top, right - left, bottom - top);
    frame.render_widget(Clear, margin.union(rect).intersection(screen));
}

pub fn status_style(theme: &Theme, status: Status) -> Style {
    match status {
        Status::Ok => theme.ok,
        Status::Warning => theme.warning,
        Status::Critical => theme.critical,
        Status::Unknown => theme.unknown,
    }
}

fn header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let status = app.judged.status;
    // Frozen, the screen says so first; on a narrow one in the name's place, so the status
    // still fits.
    let mut spans = match (app.freeze.is_frozen(), area.width >= 80) {
        (false, _) => vec![Span::styled(" gatewatch ", theme.title_focused)],
        (true, true) => vec![
            Span::styled(" gatewatch ", theme.title_focused),
            Span::styled(" FROZEN (Z thaws) ", theme.warning.reversed()),
        ],
        (true, false) => vec![Span::styled(" FROZEN ", theme.warning.reversed())],
    };
    if !app.hostname.is_empty() {
        spans.push(Span::styled(format!(" {} ", app.hostname), theme.header));
    }
    spans.push(Span::styled(
        format!(" {} ", status.label()),
        status_style(theme, status).reversed(),
    ));
    // The assessment's one line: the verdict's story when it names a cause.
    let summary = &app.judged.headline;
    let clock = format!(" {} ", app.clock.strftime(crate::app::CLOCK_FORMAT));
    let clock_width = clock.chars().count() as u16;
    // The clock gives way first on a narrow terminal; the status never does.
    let (left, right) = if area.width >= clock_width + 40 {
        let left = Rect {
            width: area.width - clock_width,
            ..area
        };
        (
            left,
            Some(Rect {
                x: left.right(),
                width: clock_width,
                ..area
            }),
        )
    } else {
        (area, None)
    };
    let used: usize = spans.iter().map(Span::width).sum();
    let room = usize::from(left.width).saturating_sub(used + 2);
    spans.push(Span::styled(
        format!(" {} ", ellipsize(summary, room)),
        theme.header,
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.header), left);
    if let Some(right) = right {
        frame.render_widget(
            Paragraph::new(clock)
                .style(theme.header)
                .alignment(Alignment::Right),
            right,
        );
    }
}

/// Cuts `text` to `max` characters, marking the cut.
fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let spans: Vec<Span> = PaneId::ALL
        .iter()
        .map(|p| {
            let style = if *p == app.focus {
                theme.title_focused.reversed()
            } else {
                theme.dim
            };
            Span::styled(format!(" {} {} ", p.index() + 1, p.title()), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_pane(frame: &mut Frame, area: Rect, app: &App, pane: PaneId, theme: &Theme) {
    let focused = pane == app.focus;
    let (border, title_style) = if focused {
        (theme.border_focused, theme.title_focused)
    } else {
        (theme.border, theme.title)
    };
    let mut title = format!(" {} {} ", pane.index() + 1, pane.title());
    if app.zoomed {
        title.push_str("[zoom] ");
    }
    let mut block = Block::bordered()
        .border_style(border)
        .title(Span::styled(title, title_style));
    block = match pane {
        PaneId::Host => host::decorate(block, area, app, theme),
        PaneId::Upstreams => upstreams::decorate(block, app, theme),
        PaneId::Dns => dns::decorate(block, app, theme),
        PaneId::Logs => logs::decorate(block, app, theme),
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match pane {
        PaneId::Host if app.model.host.is_some() => host::draw(frame, inner, app, theme),
        PaneId::Upstreams => upstreams::draw(frame, inner, app, theme),
        PaneId::Dns => dns::draw(frame, inner, app, theme),
        PaneId::Logs => logs::draw(frame, inner, app, theme),
        PaneId::Host => empty::draw(frame, inner, theme),
    }
}

/// The open popup's keys, or the focused pane's; both from the key table. What does not fit
/// leaves by the table's footer ranks, so an 80-column footer still has q, ?, v, a and r.
fn footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    if let Some(msg) = &app.message {
        spans.push(Span::styled(format!(" {msg} "), theme.accent.reversed()));
    }
    if let Some((_, text)) = app.filter_input() {
        spans.push(Span::styled(" filter: ", theme.footer_key));
        spans.push(Span::styled(format!("{text}█ "), theme.text));
    }
    // While a log prompt is open its hint (regex, smartcase, the live count) comes before the
    // keys, so a narrow footer drops keys rather than the hint.
    spans.extend(log_search::prompt_hint(app, theme));
    let hints = match app.modal_kind() {
        Some(kind) => keymap::modal_footer_hints(kind),
        None => keymap::footer_hints(app.focus),
    };
    let used: usize = spans.iter().map(Span::width).sum();
    let room = usize::from(area.width).saturating_sub(used);
    for hint in keymap::fit_footer(hints, room) {
        spans.push(Span::styled(format!(" {}", hint.keys), theme.footer_key));
        spans.push(Span::styled(format!(" {} ", hint.word), theme.footer_text));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.footer_text),
        area,
    );
}

#[cfg(test)]
mod host_containers_tests;
#[cfg(test)]
mod log_detail_tests;
#[cfg(test)]
mod log_search_tests;
#[cfg(test)]
mod small_terminal_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timeline_tests;
#[cfg(test)]
mod upstream_links_tests;

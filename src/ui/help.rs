//! The help popup, generated from the key map that handles the keys. Two columns when the
//! terminal is wide enough (global keys left, pane keys right, each popup's keys under the
//! shorter one), one scrolling column otherwise.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::keymap::{BINDINGS, Scope};
use crate::pane::PaneId;
use crate::popup::ModalKind;
use crate::theme::Theme;

/// Width of one column of the help.
const COLUMN: u16 = 57;

fn section(title: &str, scope: Scope, theme: &Theme, out: &mut Vec<Line<'static>>) {
    if !out.is_empty() {
        out.push(Line::default());
    }
    out.push(Line::from(Span::styled(title.to_string(), theme.accent)));
    for b in BINDINGS.iter().filter(|b| b.scope == scope) {
        out.push(Line::from(vec![
            Span::styled(format!("  {:<9} ", b.keys_label()), theme.footer_key),
            Span::styled(b.help.to_string(), theme.text),
        ]));
    }
}

fn global_lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    section("Everywhere", Scope::Global, theme, &mut out);
    out.push(Line::default());
    out.push(Line::from(Span::styled(
        "With --mouse: click focuses a pane, the wheel scrolls it.",
        theme.dim,
    )));
    out
}

fn pane_lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for p in PaneId::ALL {
        if BINDINGS.iter().any(|b| b.scope == Scope::Pane(p)) {
            section(
                &format!("{} pane", p.title()),
                Scope::Pane(p),
                theme,
                &mut out,
            );
        }
    }
    out
}

/// One section per popup: while a popup is open only its own keys work.
fn modal_sections(theme: &Theme) -> Vec<Vec<Line<'static>>> {
    ModalKind::ALL
        .into_iter()
        .map(|kind| {
            let mut out = Vec::new();
            section(kind.title(), Scope::Modal(kind), theme, &mut out);
            out
        })
        .collect()
}

/// Every line of the help in one column.
pub fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut all = global_lines(theme);
    all.push(Line::default());
    all.extend(pane_lines(theme));
    for s in modal_sections(theme) {
        all.push(Line::default());
        all.extend(s);
    }
    all
}

fn two_columns(theme: &Theme) -> Vec<Vec<Line<'static>>> {
    let mut columns = [global_lines(theme), pane_lines(theme)];
    for s in modal_sections(theme) {
        let shorter = usize::from(columns[1].len() < columns[0].len());
        columns[shorter].push(Line::default());
        columns[shorter].extend(s);
    }
    columns.into()
}

pub fn draw(frame: &mut Frame, area: Rect, scroll: u16, theme: &Theme) {
    let wide = area.width >= 2 * COLUMN + 6;
    let columns: Vec<Vec<Line>> = if wide {
        two_columns(theme)
    } else {
        vec![lines(theme)]
    };
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let width = area
        .width
        .saturating_sub(4)
        .min(COLUMN * columns.len() as u16 + 2);
    let height = area.height.saturating_sub(2).min(tallest + 2);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = Block::bordered()
        .title(Span::styled(" Keys ", theme.title_focused))
        .border_style(theme.border_focused)
        .style(theme.popup);
    let inner = block.inner(popup);
    super::clear_popup(frame, popup);
    frame.render_widget(block, popup);
    let max_scroll = tallest.saturating_sub(inner.height);
    let areas = Layout::horizontal(vec![
        Constraint::Ratio(1, columns.len() as u32);
        columns.len()
    ])
    .split(inner);
    for (column, rect) in columns.into_iter().zip(areas.iter()) {
        frame.render_widget(
            Paragraph::new(column).scroll((scroll.min(max_scroll), 0)),
            *rect,
        );
    }
}

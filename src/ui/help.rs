//! The help popup, generated from the key map that handles the keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::App;
use crate::keymap::{BINDINGS, Scope};
use crate::pane::PaneId;
use crate::theme::Theme;

pub fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut sections: Vec<(String, Scope)> = vec![("Everywhere".into(), Scope::Global)];
    for p in PaneId::ALL {
        if BINDINGS.iter().any(|b| b.scope == Scope::Pane(p)) {
            sections.push((format!("{} pane", p.title()), Scope::Pane(p)));
        }
    }
    for (title, scope) in sections {
        if !out.is_empty() {
            out.push(Line::default());
        }
        out.push(Line::from(Span::styled(title, theme.accent)));
        for b in BINDINGS.iter().filter(|b| b.scope == scope) {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<12}", b.keys_label()), theme.footer_key),
                Span::styled(b.help.to_string(), theme.text),
            ]));
        }
    }
    out.push(Line::default());
    out.push(Line::from(Span::styled(
        "With --mouse: click focuses a pane, the wheel scrolls it.",
        theme.dim,
    )));
    out
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let body = lines(theme);
    let width = area.width.saturating_sub(4).min(84);
    let height = area.height.saturating_sub(2).min(body.len() as u16 + 2);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let max_scroll = (body.len() as u16 + 2).saturating_sub(height);
    let block = Block::bordered()
        .title(Span::styled(" Keys ", theme.title_focused))
        .border_style(theme.border_focused)
        .style(theme.popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(body)
            .block(block)
            .scroll((app.help_scroll.min(max_scroll), 0)),
        popup,
    );
}

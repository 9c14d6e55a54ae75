//! A log line's detail: the whole line wrapped to the popup's width, then its fields and its file.
//! Everything shown was sanitised when the line was read (see `app::log_detail`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::actions::{key_hint, popup};
use crate::app::log_detail::{FIELD_NAMES, LogDetail};
use crate::theme::Theme;

/// Columns of the field names: the longest name and a space.
fn name_width() -> usize {
    FIELD_NAMES.iter().map(|n| n.len()).max().unwrap_or(0) + 1
}

/// The rows the detail fills at `width` columns.
fn rows(detail: &LogDetail, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut rows = super::wrap::rows(
        &Line::from(Span::styled(detail.text.clone(), theme.text)),
        width,
    );
    rows.push(Line::default());
    let names = name_width();
    let field = |name: &str, value: &str| {
        Line::from(vec![
            Span::styled(format!("{name:<names$}"), theme.dim),
            Span::styled(value.to_string(), theme.accent),
        ])
    };
    for (name, value) in &detail.fields {
        rows.extend(super::wrap::rows(&field(name, value), width));
    }
    rows.extend(super::wrap::rows(&field("file", &detail.source), width));
    rows
}

pub fn draw(frame: &mut Frame, area: Rect, detail: &LogDetail, scroll: u16, theme: &Theme) {
    let rect = Rect {
        x: area.x + 2,
        y: area.y + 1,
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(2),
    };
    let block = popup(" Log line ".to_string(), theme).title_bottom(key_hint(
        &[("j/k", "scroll"), ("y", "copy"), ("Esc", "close")],
        theme,
    ));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let all = rows(detail, usize::from(inner.width), theme);
    let height = usize::from(inner.height);
    // Scrolled no further than the last row at the bottom.
    let skip = usize::from(scroll).min(all.len().saturating_sub(height));
    let shown: Vec<Line> = all.into_iter().skip(skip).take(height).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

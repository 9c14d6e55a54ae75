//! A log line's detail: the whole line wrapped to the popup's width, then its fields and its file.
//! Everything shown was sanitised when the line was read (see `app::log_detail`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

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
    // A long value wraps under itself, its name alone on the left.
    let mut field = |name: &str, value: &str| {
        let value = Line::from(Span::styled(value.to_string(), theme.accent));
        let room = width.saturating_sub(names).max(1);
        for (i, row) in super::wrap::rows(&value, room).into_iter().enumerate() {
            let label = if i == 0 { name } else { "" };
            let mut spans = vec![Span::styled(format!("{label:<names$}"), theme.dim)];
            spans.extend(row.spans);
            rows.push(Line::from(spans));
        }
    };
    for (name, value) in &detail.fields {
        field(name, value);
    }
    field("file", &detail.source);
    rows
}

pub fn draw(frame: &mut Frame, area: Rect, detail: &LogDetail, scroll: u16, theme: &Theme) {
    let rect = super::full_popup(area);
    let block = popup(" Log line ".to_string(), theme).title_bottom(key_hint(
        &[("j/k", "scroll"), ("y", "copy"), ("Esc", "close")],
        theme,
    ));
    let inner = block.inner(rect);
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    let all = rows(detail, usize::from(inner.width), theme);
    let height = usize::from(inner.height);
    // Scrolled no further than the last row at the bottom.
    let skip = usize::from(scroll).min(all.len().saturating_sub(height));
    let shown: Vec<Line> = all.into_iter().skip(skip).take(height).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

//! The Host pane before its first sample (the first takes a fifth of a second: CPU usage is a
//! difference between two readings).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Wrap};

use crate::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = Text::from(vec![
        Line::default(),
        Line::from("waiting for the first host sample"),
    ])
    .style(theme.dim);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).centered(),
        area,
    );
}

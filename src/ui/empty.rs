//! The panes whose collectors are not running: they say what is true and what to do about it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::App;
use crate::pane::PaneId;
use crate::theme::Theme;

pub fn message(app: &App, pane: PaneId) -> String {
    let s = &app.sources;
    match pane {
        PaneId::Host => "waiting for the first host sample".into(),
        // The Upstreams pane draws its own empty state (it knows what discovery read).
        PaneId::Upstreams => String::new(),
        // The DNS pane draws its own empty and pending states.
        PaneId::Dns => String::new(),
        PaneId::Logs if s.logs == 0 => "no logs configured: add [[log]] to the config or point \
             --nginx-conf at the proxy's config"
            .into(),
        PaneId::Logs => format!(
            "{} log source(s) configured in {}; log following is not part of this build yet",
            s.logs, s.config
        ),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, pane: PaneId, theme: &Theme) {
    let text = Text::from(vec![Line::default(), Line::from(message(app, pane))]).style(theme.dim);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).centered(),
        area,
    );
}

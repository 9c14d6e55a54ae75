//! Scroll offsets, pages and the mouse: the one part of the state that knows the screen's
//! layout, because a page and a click depend on where the panes are drawn.

use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::App;
use crate::pane::PaneId;
use crate::ui::layout;

impl App {
    pub(super) fn on_mouse(&mut self, m: MouseEvent) -> bool {
        let at = Position::new(m.column, m.row);
        let screen = layout::screen(self.area(), self.zoomed, self.focus);
        let under = PaneId::ALL
            .into_iter()
            .find(|p| screen.pane(*p).is_some_and(|r| r.contains(at)));
        let Some(pane) = under else { return false };
        match m.kind {
            MouseEventKind::Down(_) => self.focus = pane,
            MouseEventKind::ScrollDown => {
                self.focus = pane;
                self.scroll_by(3);
            }
            MouseEventKind::ScrollUp => {
                self.focus = pane;
                self.scroll_by(-3);
            }
            _ => return false,
        }
        self.clamp_scroll();
        true
    }

    pub fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    pub(super) fn scroll_by(&mut self, delta: isize) {
        // The Logs pane keeps its offset from the newest line, so down means towards it.
        let delta = if self.focus == PaneId::Logs {
            -delta
        } else {
            delta
        };
        let s = &mut self.scroll[self.focus.index()];
        *s = s.saturating_add_signed(delta);
        if self.focus == PaneId::Logs {
            self.logs.follow = *s == 0;
        }
    }

    /// Rows of list content the focused pane shows at once: the unit of PgUp/PgDn.
    pub(super) fn page_rows(&self) -> usize {
        let screen = layout::screen(self.area(), self.zoomed, self.focus);
        let height = screen.pane(self.focus).map_or(1, |r| r.height);
        usize::from(height.saturating_sub(2)).max(1)
    }

    /// Number of scrollable rows in a pane; later panes add their own content here.
    pub(super) fn content_rows(&self, pane: PaneId) -> usize {
        match pane {
            PaneId::Host => self.host.visible.len(),
            PaneId::Upstreams => self.upstreams.visible.len(),
            PaneId::Dns => self.model.dns.order.len(),
            PaneId::Logs => self.logs.visible_len(&self.model.logs),
        }
    }

    /// Keeps every offset inside its content so `G` and resizes never leave a pane scrolled into nothing.
    pub(super) fn clamp_scroll(&mut self) {
        for pane in PaneId::ALL {
            self.clamp(pane);
        }
    }

    /// One pane only: collector results touch one pane, and counting another pane's rows (the
    /// Logs pane filters thousands of lines) on every result would be wasted work.
    pub(super) fn clamp(&mut self, pane: PaneId) {
        let max = self.content_rows(pane).saturating_sub(1);
        let s = &mut self.scroll[pane.index()];
        *s = (*s).min(max);
    }
}

#[cfg(test)]
mod tests {
    use crate::app::Event;
    use crate::app::fixtures::{app, press, sample};
    use crossterm::event::KeyCode;

    #[test]
    fn scrolling_is_clamped_to_content() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        press(&mut a, KeyCode::Char('G'));
        assert_eq!(a.scroll[0], 2);
        press(&mut a, KeyCode::PageDown);
        assert_eq!(a.scroll[0], 2);
        press(&mut a, KeyCode::Char('g'));
        press(&mut a, KeyCode::Up);
        assert_eq!(a.scroll[0], 0);
    }
}

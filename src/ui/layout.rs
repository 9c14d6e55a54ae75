//! Screen geometry, shared by drawing and by mouse hit-testing so both agree on where panes are.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::pane::PaneId;

/// Smallest screen that can show one pane with its header, tabs and footer.
pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 6;
/// Smallest screen for all four panes at once; below it one pane is shown at a time.
pub const GRID_WIDTH: u16 = 80;
pub const GRID_HEIGHT: u16 = 20;
/// Below this height the verdict line gives its row back to the panes (the header still has the
/// worst finding).
pub const VERDICT_HEIGHT: u16 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screen {
    pub header: Rect,
    /// The verdict, and under it the checklist strip, when the screen is tall enough.
    pub verdict: Option<Rect>,
    pub checklist: Option<Rect>,
    pub footer: Rect,
    /// A row of pane names, shown when only one pane fits.
    pub tabs: Option<Rect>,
    panes: [Option<Rect>; 4],
    pub too_small: bool,
}

impl Screen {
    pub fn pane(&self, p: PaneId) -> Option<Rect> {
        self.panes[p.index()]
    }
}

pub fn screen(area: Rect, zoomed: bool, focus: PaneId) -> Screen {
    let mut s = Screen {
        header: Rect::default(),
        verdict: None,
        checklist: None,
        footer: Rect::default(),
        tabs: None,
        panes: [None; 4],
        too_small: area.width < MIN_WIDTH || area.height < MIN_HEIGHT,
    };
    if s.too_small {
        return s;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    s.header = header;
    s.footer = footer;
    let strips = match area.height {
        h if h >= GRID_HEIGHT => 2,
        h if h >= VERDICT_HEIGHT => 1,
        _ => 0,
    };
    let [verdict, checklist, body] = Layout::vertical([
        Constraint::Length(u16::from(strips >= 1)),
        Constraint::Length(u16::from(strips >= 2)),
        Constraint::Min(0),
    ])
    .areas(body);
    s.verdict = Some(verdict).filter(|_| strips >= 1);
    s.checklist = Some(checklist).filter(|_| strips >= 2);
    let grid = area.width >= GRID_WIDTH && area.height >= GRID_HEIGHT;
    if zoomed || !grid {
        if grid {
            s.panes[focus.index()] = Some(body);
        } else {
            let [tabs, pane] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(body);
            s.tabs = Some(tabs);
            s.panes[focus.index()] = Some(pane);
        }
        return s;
    }
    // Host and Upstreams hold the numbers that change the diagnosis; they get the larger half.
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let [host, upstreams] = Layout::horizontal([Constraint::Percentage(50); 2]).areas(top);
    let [dns, logs] = Layout::horizontal([Constraint::Percentage(50); 2]).areas(bottom);
    s.panes = [Some(host), Some(upstreams), Some(dns), Some(logs)];
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_at_80x24_single_pane_below_and_nothing_when_tiny() {
        let grid = screen(Rect::new(0, 0, 80, 24), false, PaneId::Dns);
        assert!(PaneId::ALL.iter().all(|p| grid.pane(*p).is_some()));
        let small = screen(Rect::new(0, 0, 40, 12), false, PaneId::Dns);
        assert!(small.tabs.is_some());
        assert_eq!(
            PaneId::ALL
                .iter()
                .filter(|p| small.pane(**p).is_some())
                .count(),
            1
        );
        assert!(small.pane(PaneId::Dns).is_some());
        for (w, h) in [(1, 1), (0, 0), (10, 3), (19, 40)] {
            assert!(screen(Rect::new(0, 0, w, h), false, PaneId::Host).too_small);
        }
    }

    #[test]
    fn zoom_gives_the_focused_pane_the_whole_body() {
        let s = screen(Rect::new(0, 0, 120, 40), true, PaneId::Logs);
        assert_eq!(s.verdict, Some(Rect::new(0, 1, 120, 1)));
        assert_eq!(s.checklist, Some(Rect::new(0, 2, 120, 1)));
        assert_eq!(s.pane(PaneId::Logs), Some(Rect::new(0, 3, 120, 36)));
        assert!(s.pane(PaneId::Host).is_none());
    }
}

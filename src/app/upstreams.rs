//! The Upstreams pane's table: which upstreams show, and in what order. At 10,000 upstreams the
//! list is rebuilt when a batch of results arrives or the filter or sort changes, never per
//! frame: drawing reads `visible` and touches only the rows on screen.

use std::cmp::Reverse;

use crate::model::upstreams::{UpstreamRow, Upstreams};
use crate::upstream::State;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpstreamSort {
    /// Worst first (down, degraded, not probed, up), then by name: the model's own order.
    #[default]
    State,
    Name,
    /// Slowest last answer first; rows without one (failed, not probed) after.
    Latency,
    /// Lowest success rate over the kept history first; rows without one after.
    Failures,
}

impl UpstreamSort {
    pub fn next(self) -> Self {
        match self {
            UpstreamSort::State => UpstreamSort::Name,
            UpstreamSort::Name => UpstreamSort::Latency,
            UpstreamSort::Latency => UpstreamSort::Failures,
            UpstreamSort::Failures => UpstreamSort::State,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamSort::State => "state",
            UpstreamSort::Name => "name",
            UpstreamSort::Latency => "latency",
            UpstreamSort::Failures => "failures",
        }
    }
}

/// The operator's view of the upstreams; the rows themselves are the model's.
#[derive(Debug, Default)]
pub struct UpstreamView {
    pub sort: UpstreamSort,
    pub filter: String,
    /// Indices into `rows`, filtered and sorted.
    pub visible: Vec<usize>,
    /// Whether each row matches `filter`, by row; worked out when the filter changes, so a
    /// batch of results only re-sorts.
    matches: Vec<bool>,
    /// Rows down, of all rows (the border shows it).
    pub down: usize,
    /// Some row has the proxy's own view (the table gives it a column).
    pub any_proxy: bool,
    /// Every row comes from gatewatch's own config, none from a proxy's (the border says so).
    pub all_from_config: bool,
}

impl UpstreamView {
    /// The row shown at `position`.
    pub fn at(&self, position: usize) -> Option<usize> {
        self.visible.get(position).copied()
    }

    pub fn position_of(&self, row: usize) -> Option<usize> {
        self.visible.iter().position(|&r| r == row)
    }

    /// The filter changed: which rows match it, then the order.
    pub(super) fn refilter(&mut self, upstreams: &Upstreams) {
        self.all_from_config = upstreams.rows.iter().all(|r| r.entry.source == "config");
        let needle = self.filter.to_lowercase();
        self.matches.clear();
        if !needle.is_empty() {
            self.matches
                .extend(upstreams.rows.iter().map(|r| row_matches(r, &needle)));
        }
        self.rebuild(upstreams);
    }

    /// Results arrived, or the sort changed: the order again, under the same filter.
    pub(super) fn rebuild(&mut self, upstreams: &Upstreams) {
        let rows = &upstreams.rows;
        if !self.filter.is_empty() && self.matches.len() != rows.len() {
            // The rows were replaced since the filter was set.
            return self.refilter(upstreams);
        }
        let shown = |i: &usize| self.matches.get(*i).copied().unwrap_or(true);
        // The model keeps its rows worst first; the other orders start from it, so rows that
        // tie stay worst first.
        self.visible.clear();
        self.visible
            .extend(upstreams.order.iter().copied().filter(shown));
        match self.sort {
            UpstreamSort::State => {}
            UpstreamSort::Name => self.visible.sort_by(|&a, &b| {
                rows[a]
                    .entry
                    .upstream
                    .name
                    .cmp(&rows[b].entry.upstream.name)
            }),
            UpstreamSort::Latency => self.visible.sort_by_cached_key(|&i| {
                let latency = rows[i].history.last().and_then(|r| r.latency);
                (latency.is_none(), Reverse(latency))
            }),
            UpstreamSort::Failures => self.visible.sort_by_cached_key(|&i| {
                // Tenths of a percent: a total order without floats.
                let ok = rows[i].history.success_percent().map(|p| (p * 10.0) as u32);
                (ok.is_none(), ok)
            }),
        }
        self.down = rows
            .iter()
            .filter(|r| r.history.state() == Some(State::Down))
            .count();
        self.any_proxy = rows.iter().any(|r| r.proxy.is_some());
    }
}

/// Case-insensitive substring of the name, the target, the group or where it was found.
fn row_matches(row: &UpstreamRow, needle_lower: &str) -> bool {
    let e = &row.entry;
    let has = |s: &str| s.to_lowercase().contains(needle_lower);
    has(&e.upstream.name)
        || has(&e.upstream.url.to_string())
        || e.group.as_deref().is_some_and(has)
        || has(&e.source)
}

#[cfg(test)]
mod tests {
    use super::UpstreamSort;
    use crate::app::fixtures::{app, press};
    use crate::app::{App, Event};
    use crate::model::upstreams::Upstreams;
    use crate::model::upstreams::tests::{entry, result};
    use crate::pane::PaneId;
    use crate::upstream::Outcome;
    use crate::upstream::catalog::Catalog;
    use crossterm::event::KeyCode;
    use std::time::Duration;

    /// Five upstreams in two groups; `db-2` is down, `web-1` slow, `web-3` never probed.
    fn fleet() -> App {
        let mut entries = vec![
            entry("web-1", 8001),
            entry("web-2", 8002),
            entry("web-3", 8003),
            entry("db-1", 5432),
            entry("db-2", 5433),
        ];
        for e in &mut entries[..3] {
            e.group = Some("Frontend".into());
        }
        let catalog = Catalog {
            entries,
            ..Catalog::default()
        };
        let mut a = app();
        a.set_upstreams(Upstreams::new(&catalog));
        let mut batch = vec![];
        let mut seq = 0;
        for (i, ms, outcome) in [
            (0, 90, Outcome::Ok),
            (1, 5, Outcome::Ok),
            (3, 20, Outcome::Ok),
            (4, 0, Outcome::Refused),
            (4, 0, Outcome::Ok),
            (4, 0, Outcome::Refused),
        ] {
            seq += 1;
            let mut r = result(i, seq, outcome);
            r.latency = outcome.is_ok().then(|| Duration::from_millis(ms));
            batch.push(r);
        }
        a.update(Event::Probes(batch));
        a.focus = PaneId::Upstreams;
        a
    }

    fn names(a: &App) -> Vec<&str> {
        let rows = &a.model.upstreams.rows;
        a.upstreams
            .visible
            .iter()
            .map(|&i| rows[i].entry.upstream.name.as_str())
            .collect()
    }

    fn type_text(a: &mut App, text: &str) {
        for c in text.chars() {
            press(a, KeyCode::Char(c));
        }
    }

    #[test]
    fn slash_filters_live_over_name_target_and_group_enter_keeps_esc_clears() {
        let mut a = fleet();
        assert_eq!(names(&a), ["db-2", "web-3", "db-1", "web-1", "web-2"]);
        press(&mut a, KeyCode::Char('/'));
        type_text(&mut a, "DB");
        assert_eq!(names(&a), ["db-2", "db-1"], "narrowed as it is typed");
        assert_eq!(a.filter_input(), Some((PaneId::Upstreams, "DB")));
        press(&mut a, KeyCode::Backspace);
        press(&mut a, KeyCode::Backspace);
        type_text(&mut a, "frontend");
        assert_eq!(names(&a), ["web-3", "web-1", "web-2"], "by group");
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.modal, None);
        assert_eq!(a.upstreams.filter, "frontend");
        press(&mut a, KeyCode::Char('/'));
        assert_eq!(a.filter_input(), Some((PaneId::Upstreams, "frontend")));
        press(&mut a, KeyCode::Esc);
        assert_eq!(names(&a).len(), 5);
        press(&mut a, KeyCode::Char('/'));
        type_text(&mut a, ":8002");
        assert_eq!(names(&a), ["web-2"], "by target");
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.upstreams.filter, "");
        assert_eq!(names(&a).len(), 5);
        assert!(
            a.host.filter.is_empty(),
            "the Host pane's filter is its own"
        );
    }

    #[test]
    fn s_cycles_the_sorts_and_back_to_worst_first() {
        let mut a = fleet();
        press(&mut a, KeyCode::Char('s'));
        assert_eq!(a.upstreams.sort, UpstreamSort::Name);
        assert_eq!(names(&a), ["db-1", "db-2", "web-1", "web-2", "web-3"]);
        press(&mut a, KeyCode::Char('s'));
        assert_eq!(a.upstreams.sort, UpstreamSort::Latency);
        assert_eq!(names(&a)[..3], ["web-1", "db-1", "web-2"], "slowest first");
        press(&mut a, KeyCode::Char('s'));
        assert_eq!(a.upstreams.sort, UpstreamSort::Failures);
        assert_eq!(names(&a)[..2], ["db-2", "db-1"], "db-2 failed 2 of 3");
        assert_eq!(names(&a)[4], "web-3", "never probed: no rate, last");
        press(&mut a, KeyCode::Char('s'));
        assert_eq!(a.upstreams.sort, UpstreamSort::State);
        assert_eq!(names(&a)[0], "db-2");
        // The Host pane's s is still the process sort.
        a.focus = PaneId::Host;
        press(&mut a, KeyCode::Char('s'));
        assert_eq!(a.upstreams.sort, UpstreamSort::State);
    }

    #[test]
    fn a_narrowing_filter_clamps_the_cursor_and_enter_opens_the_visible_row() {
        let mut a = fleet();
        press(&mut a, KeyCode::Char('G'));
        assert_eq!(a.scroll[1], 4);
        press(&mut a, KeyCode::Char('/'));
        type_text(&mut a, "web-2");
        assert_eq!(a.scroll[1], 0, "on the one row left");
        press(&mut a, KeyCode::Enter);
        press(&mut a, KeyCode::Char('G'));
        assert_eq!(a.scroll[1], 0, "G stays inside the filtered rows");
        press(&mut a, KeyCode::Enter);
        assert_eq!(
            a.upstream_detail,
            Some(1),
            "web-2's detail, not the worst row's"
        );
        press(&mut a, KeyCode::Esc);
        press(&mut a, KeyCode::Char('/'));
        type_text(&mut a, "nothing matches");
        assert!(a.upstreams.visible.is_empty());
        press(&mut a, KeyCode::Enter);
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.upstream_detail, None, "no row, no detail");
    }

    #[test]
    fn results_keep_the_filter_and_the_cursor_on_its_upstream() {
        let mut a = fleet();
        press(&mut a, KeyCode::Char('/'));
        type_text(&mut a, "web");
        press(&mut a, KeyCode::Enter);
        press(&mut a, KeyCode::Down);
        let on = a.upstreams.at(a.scroll[1]);
        assert_eq!(on, Some(0), "web-1");
        // web-2 goes down: it moves to the top, the cursor stays on web-1.
        a.update(Event::Probes(vec![result(1, 99, Outcome::Refused)]));
        assert_eq!(names(&a), ["web-2", "web-3", "web-1"]);
        assert_eq!(a.upstreams.at(a.scroll[1]), Some(0));
        assert_eq!(a.upstreams.down, 2);
    }
}

//! From one piece of evidence to the next: an upstream to its log lines (`L`), the verdict to the
//! upstream it names and that upstream's lines (Enter in the checklist), a DNS name to the
//! upstreams written with it (`U`). Each says in the status line what it did.

use super::App;
use crate::diagnosis::StepId;
use crate::pane::PaneId;
use crate::sanitize::sanitize;
use crate::status::Status;

impl App {
    /// `L` in the Upstreams pane or its detail: the Logs pane, showing only the lines of the
    /// upstream under the cursor.
    pub(super) fn show_upstream_logs(&mut self) {
        let cursor = self.scroll[PaneId::Upstreams.index()];
        match self.upstream_detail.or_else(|| self.upstreams.at(cursor)) {
            Some(row) => {
                let said = self.filter_logs_by(row);
                self.focus = PaneId::Logs;
                self.message = Some(said);
            }
            None => self.message = Some("no upstream under the cursor".into()),
        }
    }

    /// Enter in the checklist: the upstream the verdict names, selected in the Upstreams pane,
    /// and its lines in the Logs pane; without one, the pane of the first failing step. Returns
    /// whether the checklist closes (it stays open when there is nowhere to go).
    pub(super) fn show_evidence(&mut self) -> bool {
        if let Some(row) = self.verdict_upstream() {
            self.select_upstream(row);
            let said = self.filter_logs_by(row);
            self.focus = PaneId::Upstreams;
            self.message = Some(format!("the verdict's evidence: {said}"));
            return true;
        }
        let d = &self.judged.diagnosis;
        let failing = d
            .steps
            .iter()
            .find(|s| matches!(s.status, Status::Critical | Status::Warning));
        let pane = failing.and_then(|s| match s.step {
            StepId::Host => Some(PaneId::Host),
            StepId::Dns => Some(PaneId::Dns),
            StepId::Logs => Some(PaneId::Logs),
            StepId::Network | StepId::Upstreams => Some(PaneId::Upstreams),
            StepId::Gateway => None,
        });
        match (failing, pane) {
            (Some(step), Some(pane)) => {
                self.message = Some(format!(
                    "the {} step's evidence is in the {} pane",
                    step.step.title(),
                    pane.title()
                ));
                self.focus = pane;
                true
            }
            _ => {
                self.message = Some("the verdict names no upstream or pane to go to".into());
                false
            }
        }
    }

    /// `U` in the DNS pane: the Upstreams pane filtered to the upstreams written with the name
    /// under the cursor.
    pub(super) fn show_name_upstreams(&mut self) {
        let cursor = self.dns_detail.unwrap_or(self.scroll[PaneId::Dns.index()]);
        let Some(name) = self.model.dns.order.get(cursor).cloned() else {
            self.message = Some("no name under the cursor".into());
            return;
        };
        let using = self.model.upstreams_using_name(&name);
        let shown = sanitize(&name).into_owned();
        if using.is_empty() {
            self.message = Some(format!("no upstream is written with the name {shown}"));
            return;
        }
        self.upstreams.filter = name;
        self.upstreams.refilter(&self.model.upstreams);
        self.upstream_detail = None;
        self.focus = PaneId::Upstreams;
        self.scroll[PaneId::Upstreams.index()] = 0;
        self.clamp(PaneId::Upstreams);
        self.message = Some(format!(
            "{} upstream(s) use {shown} (/ then Esc clears the filter)",
            using.len()
        ));
    }

    /// The upstream the verdict names: the one it blames (`Verdict::upstream`, the same one the
    /// header and the upstreams step name); for a verdict that blames none, the longest upstream
    /// name its headline, then its evidence, then the upstreams step's evidence holds as a word
    /// (so "shop" is not found in "shop-admin"), worst first among equals.
    pub fn verdict_upstream(&self) -> Option<usize> {
        let d = &self.judged.diagnosis;
        let v = &self.model.upstreams;
        let blamed = d.verdict.upstream.as_deref();
        let named = |&i: &usize| Some(v.rows[i].entry.upstream.name.as_str()) == blamed;
        if let Some(i) = v.order.iter().copied().find(named) {
            return Some(i);
        }
        let texts = std::iter::once(d.verdict.headline.as_str())
            .chain(d.verdict.evidence.iter().map(|e| e.text.as_str()))
            .chain(d.step(StepId::Upstreams).map(|s| s.evidence.as_str()));
        for text in texts {
            let mut best: Option<(usize, usize)> = None;
            for &i in &v.order {
                let name = &v.rows[i].entry.upstream.name;
                let longer = best.is_none_or(|(_, len)| name.len() > len);
                if longer && names_word(text, name) {
                    best = Some((i, name.len()));
                }
            }
            if let Some((i, _)) = best {
                return Some(i);
            }
        }
        None
    }

    /// Puts the Upstreams cursor on `row`, clearing a filter that hides it.
    fn select_upstream(&mut self, row: usize) {
        if self.upstreams.position_of(row).is_none() {
            self.upstreams.filter.clear();
            self.upstreams.refilter(&self.model.upstreams);
        }
        if let Some(pos) = self.upstreams.position_of(row) {
            self.scroll[PaneId::Upstreams.index()] = pos;
        }
        if self.upstream_detail.is_some() {
            self.upstream_detail = Some(row);
        }
    }

    /// Sets the Logs pane's upstream filter to `row`, on the source with most of its lines when
    /// the current one has none, following the newest; returns what the status line says.
    fn filter_logs_by(&mut self, row: usize) -> String {
        let Some(lines) = self.model.upstream_lines(row) else {
            return "no such upstream".into();
        };
        let name = sanitize(&lines.name).into_owned();
        self.logs.upstream = Some(lines);
        let count = |source: usize| {
            self.model.logs.sources.get(source).map_or(0, |s| {
                s.lines().iter().filter(|l| self.logs.shows(l)).count()
            })
        };
        let here = count(self.logs.current);
        let (best, most) = (0..self.model.logs.sources.len())
            .map(|s| (s, count(s)))
            .max_by_key(|&(s, n)| (n, std::cmp::Reverse(s)))
            .unwrap_or((self.logs.current, 0));
        // Following a link is a choice of source: the busiest one must not take the pane back.
        self.logs.show_source(if here == 0 && most > 0 {
            best
        } else {
            self.logs.current
        });
        self.logs.follow = true;
        self.scroll[PaneId::Logs.index()] = 0;
        match here.max(most) {
            0 => format!("upstream {name}: no log line names it yet (the Logs filter stays on)"),
            n => format!(
                "upstream {name}: {} of its log lines in {}",
                if here > 0 { here } else { n },
                self.model
                    .logs
                    .sources
                    .get(self.logs.current)
                    .map_or("-".to_string(), |s| sanitize(&s.label).into_owned())
            ),
        }
    }
}

/// Whether `name` occurs in `text` with no name character either side.
fn names_word(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let part = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut rest = text[at + name.len()..].chars();
        // A full stop ends a sentence; a dot before more of a name continues it.
        let after = match rest.next() {
            Some('.') => rest.next().filter(|c| c.is_alphanumeric()),
            c => c,
        };
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

#[cfg(test)]
#[path = "cross_links_tests.rs"]
mod tests;

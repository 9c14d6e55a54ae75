//! The Logs pane's finding keys: the one prompt behind `/`, `&`, `x` and `:` (what Enter does
//! depends on which opened it), Esc peeling off the search then the filters, and the jumps to
//! a match, an error or a time. A jump puts the line found at the pane's bottom and pauses.

use super::App;
use super::log_search::{Filter, FilterKind, Pattern, line_time, parse_time};
use super::logs::Level;
use super::modal::Modal;
use crate::keymap::Action;
use crate::logs::TimeParser;
use crate::pane::PaneId;

/// What the Logs prompt was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    FilterIn,
    FilterOut,
    GotoTime,
}

impl PromptKind {
    /// How the title shows the text being typed.
    pub fn lead(self) -> &'static str {
        match self {
            PromptKind::Search => "/",
            PromptKind::FilterIn => "& ",
            PromptKind::FilterOut => "x ",
            PromptKind::GotoTime => "go to time: ",
        }
    }
}

/// The Logs prompt being typed, with what it would do right now (redone at each key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPrompt {
    pub kind: PromptKind,
    pub text: String,
    /// Lines the pattern matches among those shown, or the time read; or why it cannot apply.
    pub preview: Result<String, String>,
}

impl App {
    /// Opens the Logs prompt; a search starts from the one in effect.
    pub(super) fn open_log_prompt(&mut self, kind: PromptKind) {
        let text = match kind {
            PromptKind::Search => self
                .logs
                .find
                .search()
                .map(|p| p.text().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let preview = self.log_prompt_preview(kind, &text);
        self.modal = Some(Modal::Search(LogPrompt {
            kind,
            text,
            preview,
        }));
    }

    fn log_prompt_preview(&self, kind: PromptKind, text: &str) -> Result<String, String> {
        if text.is_empty() {
            return Ok(String::new());
        }
        if kind == PromptKind::GotoTime {
            let at = parse_time(text, &self.clock)?;
            let at = jiff::Timestamp::from_second(at)
                .map(|t| t.to_zoned(self.clock.time_zone().clone()))
                .map_err(|e| e.to_string())?;
            return Ok(at.strftime("%Y-%m-%d %H:%M:%S").to_string());
        }
        let pattern = Pattern::compile(text)?;
        let n = self
            .logs
            .visible(&self.model.logs)
            .iter()
            .filter(|l| pattern.is_match(&l.text))
            .count();
        Ok(format!("{n} {}", if n == 1 { "match" } else { "matches" }))
    }

    /// A key in the Logs prompt: Enter applies (an invalid pattern or time keeps the prompt open
    /// with the error), Esc cancels leaving everything as it was, other keys type.
    pub(super) fn on_log_prompt_key(
        &mut self,
        mut prompt: LogPrompt,
        action: Option<Action>,
        typed: Option<char>,
    ) {
        match action {
            Some(Action::Accept) => {
                if let Err(why) = self.apply_log_prompt(&prompt) {
                    prompt.preview = Err(why);
                    self.modal = Some(Modal::Search(prompt));
                }
                return;
            }
            Some(Action::Clear) => return,
            Some(Action::DeleteChar) => {
                prompt.text.pop();
            }
            _ => match typed {
                Some(c) if prompt.text.chars().count() < super::log_search::PATTERN_MAX => {
                    prompt.text.push(c);
                }
                _ => {
                    self.modal = Some(Modal::Search(prompt));
                    return;
                }
            },
        }
        prompt.preview = self.log_prompt_preview(prompt.kind, &prompt.text);
        self.modal = Some(Modal::Search(prompt));
    }

    fn apply_log_prompt(&mut self, prompt: &LogPrompt) -> Result<(), String> {
        let pane = PaneId::Logs.index();
        match prompt.kind {
            PromptKind::Search if prompt.text.is_empty() => self.logs.find.set_search(None),
            PromptKind::Search => {
                let pattern = Pattern::compile(&prompt.text)?;
                self.logs.find.set_search(Some(pattern));
                self.first_match();
            }
            PromptKind::FilterIn | PromptKind::FilterOut if prompt.text.is_empty() => {}
            PromptKind::FilterIn | PromptKind::FilterOut => {
                let kind = if prompt.kind == PromptKind::FilterIn {
                    FilterKind::In
                } else {
                    FilterKind::Out
                };
                let pattern = Pattern::compile(&prompt.text)?;
                self.logs.find.add_filter(Filter { kind, pattern });
                self.scroll[pane] = 0;
                self.logs.follow = true;
            }
            PromptKind::GotoTime => {
                let at = parse_time(&prompt.text, &self.clock)?;
                self.goto_time(at);
            }
        }
        self.clamp(PaneId::Logs);
        Ok(())
    }

    /// Visible index of the pane's bottom line, and how many lines are visible.
    fn logs_bottom(&self) -> (usize, usize) {
        let len = self.logs.visible_len(&self.model.logs);
        let bottom = len
            .saturating_sub(1)
            .saturating_sub(self.scroll[PaneId::Logs.index()]);
        (bottom, len)
    }

    /// Puts visible line `at` at the pane's bottom; following again only when it is the newest.
    fn show_at_bottom(&mut self, at: usize, len: usize) {
        let pane = PaneId::Logs.index();
        self.scroll[pane] = len.saturating_sub(1).saturating_sub(at);
        self.logs.follow = self.scroll[pane] == 0;
    }

    /// After Enter: the first match from the top of what the pane shows (lnav's way), or else
    /// the newest match above it.
    fn first_match(&mut self) {
        let matches = self.logs.matches(&self.model.logs);
        let (bottom, len) = self.logs_bottom();
        let top = (bottom + 1).saturating_sub(self.page_rows());
        let target = matches
            .iter()
            .copied()
            .find(|&m| m >= top)
            .or_else(|| matches.last().copied());
        match target {
            Some(m) => self.show_at_bottom(m, len),
            None => {
                let text = self.logs.find.search().map(|p| p.text().to_string());
                self.message = Some(format!("no line matches /{}", text.unwrap_or_default()));
            }
        }
    }

    /// `n` (newer) and `N` (older): the next match past the bottom line.
    pub(super) fn jump_to_match(&mut self, newer: bool) {
        if self.logs.find.search().is_none() {
            self.message = Some("no search: press / in the Logs pane".into());
            return;
        }
        let matches = self.logs.matches(&self.model.logs);
        self.jump(newer, &matches, "line matches");
    }

    /// `>` and `<`: the next error-level line (error, crit and above) past the bottom line.
    pub(super) fn jump_to_error(&mut self, newer: bool) {
        let errors: Vec<usize> = self
            .logs
            .visible(&self.model.logs)
            .iter()
            .enumerate()
            .filter(|(_, l)| Level::of(l).is_some_and(|v| v >= Level::Error))
            .map(|(i, _)| i)
            .collect();
        self.jump(newer, &errors, "error line");
    }

    fn jump(&mut self, newer: bool, hits: &[usize], what: &str) {
        let (bottom, len) = self.logs_bottom();
        // From the newest line, "older" starts with the newest line itself.
        let following = self.scroll[PaneId::Logs.index()] == 0;
        let target = if newer {
            hits.iter().copied().find(|&m| m > bottom)
        } else if following {
            hits.last().copied()
        } else {
            hits.iter().rev().copied().find(|&m| m < bottom)
        };
        match target {
            Some(m) => self.show_at_bottom(m, len),
            None => {
                let which = if newer { "newer" } else { "older" };
                self.message = Some(format!("no {which} {what}"));
            }
        }
        // A jump pauses, even one that lands on the newest line: the reader is looking.
        if target.is_some() {
            self.logs.follow = false;
        }
    }

    /// The first visible line written at or after `at` (unix seconds) goes to the bottom, paused.
    fn goto_time(&mut self, at: i64) {
        let mut parser = TimeParser::new(self.clock.time_zone().clone());
        let visible = self.logs.visible(&self.model.logs);
        let len = visible.len();
        let found = visible
            .iter()
            .position(|l| line_time(l, &mut parser).is_some_and(|t| t >= at));
        let shown = jiff::Timestamp::from_second(at)
            .map(|t| {
                t.to_zoned(self.clock.time_zone().clone())
                    .strftime("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        match found {
            Some(i) => {
                self.show_at_bottom(i, len);
                self.logs.follow = false;
                self.message = Some(format!("at {shown}: the first line written then or later"));
            }
            None => self.message = Some(format!("no line written at {shown} or later")),
        }
    }

    /// Esc in the Logs pane: the search goes first, then the filters, newest first, then the
    /// upstream filter a cross-link set.
    pub(super) fn clear_log_find(&mut self) {
        let upstream = self.logs.upstream.as_ref().map(|u| u.name.clone());
        self.message = Some(match self.logs.find.clear_one() {
            Some(what) => format!("cleared the {what}"),
            None if self.logs.clear_upstream() => format!(
                "cleared the upstream filter {}",
                crate::sanitize::sanitize(&upstream.unwrap_or_default())
            ),
            None => "no search or filter to clear".into(),
        });
        self.clamp(PaneId::Logs);
    }
}

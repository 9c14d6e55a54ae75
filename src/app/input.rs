//! The dashboard's own keys: a key press looked up in the key table for the focused pane and
//! carried out. While a popup is open its keys go to `modal_input` instead.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::host::ProcSort;
use super::log_search_input::PromptKind;
use super::modal::Modal;
use super::{App, Effect};
use crate::keymap::{self, Action};
use crate::pane::PaneId;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> (bool, Vec<Effect>) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            return (false, vec![Effect::Quit]);
        }
        self.message = None;
        let armed = std::mem::take(&mut self.quit_armed);
        if let Some(modal) = self.modal.take() {
            return self.on_modal_key(modal, key);
        }
        let Some(binding) = keymap::lookup(&key, self.focus) else {
            return (false, vec![]);
        };
        self.quit_armed = armed && binding.action == Action::Quit;
        let page = self.page_rows();
        let mut effects = vec![];
        match binding.action {
            // Quitting kills a running action, so that takes a second q.
            Action::Quit => match &self.actions.running {
                Some(r) if !self.quit_armed => {
                    self.quit_armed = true;
                    self.message = Some(format!(
                        "{} is still running: q again quits and kills it",
                        r.label
                    ));
                    return (true, vec![]);
                }
                _ => effects.push(Effect::Quit),
            },
            Action::Help => self.modal = Some(Modal::Help { scroll: 0 }),
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::FocusDigit => {
                if let KeyCode::Char(c) = key.code
                    && let Some(p) = PaneId::from_digit(c)
                {
                    self.focus = p;
                }
            }
            Action::Zoom => self.zoomed = !self.zoomed,
            Action::ScrollUp => self.scroll_by(-1),
            Action::ScrollDown => self.scroll_by(1),
            Action::PageUp => self.scroll_by(-(page as isize)),
            Action::PageDown => self.scroll_by(page as isize),
            // The Logs pane counts from the newest line: its "top" is the far end.
            Action::Top if self.focus == PaneId::Logs => {
                self.logs.follow = false;
                self.scroll[PaneId::Logs.index()] = usize::MAX;
            }
            Action::Bottom if self.focus == PaneId::Logs => {
                self.logs.follow = true;
                self.scroll[PaneId::Logs.index()] = 0;
            }
            Action::Top => self.scroll[self.focus.index()] = 0,
            Action::Bottom => self.scroll[self.focus.index()] = usize::MAX,
            Action::Rerun => {
                self.message = Some("rerunning checks".into());
                effects.push(Effect::RerunAll);
            }
            Action::Suspend => effects.push(Effect::Suspend),
            Action::SortProcesses => {
                self.host.sort = Some(match self.host.sort() {
                    ProcSort::Cpu => ProcSort::Mem,
                    ProcSort::Mem => ProcSort::Cpu,
                });
                self.host.rebuild(self.model.host.as_ref());
                self.scroll[PaneId::Host.index()] = 0;
            }
            Action::SortUpstreams => {
                self.upstreams.sort = self.upstreams.sort.next();
                self.upstreams.rebuild(&self.model.upstreams);
                self.scroll[PaneId::Upstreams.index()] = 0;
            }
            Action::FilterProcesses | Action::FilterUpstreams => {
                let (pane, text) = if binding.action == Action::FilterUpstreams {
                    (PaneId::Upstreams, &self.upstreams.filter)
                } else {
                    (PaneId::Host, &self.host.filter)
                };
                self.modal = Some(Modal::Filter {
                    pane,
                    text: text.clone(),
                });
            }
            Action::OpenDetail if self.focus == PaneId::Dns => {
                let rows = self.model.dns.order.len();
                self.dns_detail = match self.dns_detail {
                    Some(_) => None,
                    None => Some(self.scroll[PaneId::Dns.index()]).filter(|&i| i < rows),
                };
                if self.dns_detail.is_some() {
                    effects.push(Effect::RerunDns);
                }
            }
            Action::OpenDetail => {
                let cursor = self.scroll[PaneId::Upstreams.index()];
                if self.upstream_detail.is_some() {
                    self.upstream_detail = None;
                } else if let Some(row) = self.upstreams.at(cursor) {
                    self.upstream_detail = Some(row);
                    effects.push(Effect::RerunUpstream(row));
                }
            }
            Action::ToggleFollow => {
                self.logs.follow = !self.logs.follow;
                if self.logs.follow {
                    self.scroll[PaneId::Logs.index()] = 0;
                }
            }
            Action::SearchLogs => self.open_log_prompt(PromptKind::Search),
            // Log search, filters and jumps (issue 19): see log_search_input.
            Action::FilterIn => self.open_log_prompt(PromptKind::FilterIn),
            Action::FilterOut => self.open_log_prompt(PromptKind::FilterOut),
            Action::GotoTime => self.open_log_prompt(PromptKind::GotoTime),
            Action::ClearSearch => self.clear_log_find(),
            Action::NextError => self.jump_to_error(true),
            Action::PrevError => self.jump_to_error(false),
            Action::NextMatch => self.jump_to_match(true),
            Action::PrevMatch => self.jump_to_match(false),
            Action::CycleLevel => self.logs.cycle_level(),
            Action::CycleCause => self.logs.cycle_cause(&self.model.logs),
            Action::ToggleWrap => self.logs.wrap = !self.logs.wrap,
            Action::NextSource | Action::PrevSource => {
                self.logs.switch_source(
                    binding.action == Action::NextSource,
                    self.model.logs.sources.len(),
                );
                self.scroll[PaneId::Logs.index()] = 0;
                self.logs.follow = true;
            }
            Action::OpenActions => self.open_actions(),
            Action::WriteReport => effects.push(Effect::WriteReport),
            Action::Freeze => effects.extend(self.toggle_freeze()),
            Action::Checklist => self.modal = Some(Modal::Checklist { scroll: 0 }),
            Action::Timeline => {
                self.modal = Some(Modal::Timeline {
                    scroll: 0,
                    kind: None,
                });
            }
            Action::ShowOutput => {
                if self.actions.shown.is_some() {
                    self.modal = Some(Modal::Output { scroll: 0 });
                } else {
                    self.message = Some("no action has run yet: a opens the actions".into());
                }
            }
            Action::ShowUpstreamLogs => self.show_upstream_logs(),
            Action::ShowNameUpstreams => self.show_name_upstreams(),
            Action::CloseDetail => {
                self.upstream_detail = None;
                self.dns_detail = None;
            }
            Action::OpenLogDetail => self.open_log_detail(),
            Action::ScrollLeft | Action::ScrollRight => {
                self.logs
                    .scroll_sideways(binding.action == Action::ScrollRight);
            }
            Action::CopyLine => effects.extend(self.copy_selected()),
            Action::ToggleMerged => {
                self.logs.toggle_merged();
                self.scroll[PaneId::Logs.index()] = 0;
                self.logs.follow = true;
            }
            // Popup keys: no main scope binds them (a keymap test checks).
            Action::Close
            | Action::Accept
            | Action::Clear
            | Action::DeleteChar
            | Action::Choose
            | Action::Run
            | Action::Cancel
            | Action::PressButton
            | Action::SwitchButton
            | Action::CycleKind
            | Action::ShowEvidence => {}
        }
        self.clamp_scroll();
        if self.focus == PaneId::Upstreams && self.upstream_detail.is_some() {
            let cursor = self.scroll[PaneId::Upstreams.index()];
            self.upstream_detail = self.upstreams.at(cursor);
        }
        if self.focus == PaneId::Dns && self.dns_detail.is_some() {
            self.dns_detail = Some(self.scroll[PaneId::Dns.index()]);
        }
        (true, effects)
    }
}

#[cfg(test)]
mod tests {
    use crate::app::fixtures::{app, press};
    use crate::app::{Effect, Event};
    use crate::pane::PaneId;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn tab_and_digits_move_focus_and_wrap() {
        let mut a = app();
        press(&mut a, KeyCode::Tab);
        assert_eq!(a.focus, PaneId::Upstreams);
        press(&mut a, KeyCode::BackTab);
        press(&mut a, KeyCode::BackTab);
        assert_eq!(a.focus, PaneId::Logs);
        press(&mut a, KeyCode::Char('3'));
        assert_eq!(a.focus, PaneId::Dns);
        press(&mut a, KeyCode::Char('9'));
        assert_eq!(a.focus, PaneId::Dns);
    }

    #[test]
    fn q_and_ctrl_c_quit_even_from_help_or_filter() {
        let mut a = app();
        assert_eq!(press(&mut a, KeyCode::Char('q')), vec![Effect::Quit]);
        press(&mut a, KeyCode::Char('/'));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(a.update(Event::Key(ctrl_c)).1, vec![Effect::Quit]);
    }

    #[test]
    fn enter_and_z_toggle_zoom() {
        let mut a = app();
        press(&mut a, KeyCode::Enter);
        assert!(a.zoomed);
        press(&mut a, KeyCode::Char('z'));
        assert!(!a.zoomed);
    }

    #[test]
    fn rerun_and_suspend_become_effects() {
        let mut a = app();
        assert_eq!(press(&mut a, KeyCode::Char('r')), vec![Effect::RerunAll]);
        let ctrl_z = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
        assert_eq!(a.update(Event::Key(ctrl_z)).1, vec![Effect::Suspend]);
    }

    #[test]
    fn enter_opens_a_rows_detail_and_reruns_it_esc_closes() {
        use crate::model::upstreams::tests::view;
        let mut a = app();
        a.set_upstreams(view());
        press(&mut a, KeyCode::Char('2'));
        assert_eq!(
            press(&mut a, KeyCode::Enter),
            vec![Effect::RerunUpstream(0)]
        );
        assert_eq!(a.upstream_detail, Some(0));
        assert!(
            !a.zoomed,
            "Enter in the Upstreams pane opens a row, it does not zoom"
        );
        press(&mut a, KeyCode::Down);
        assert_eq!(a.upstream_detail, Some(1), "the detail follows the cursor");
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.upstream_detail, None);
        press(&mut a, KeyCode::Char('z'));
        assert!(a.zoomed);
    }

    #[test]
    fn logs_keys_pause_search_and_switch_sources() {
        use crate::logs::{LogBatch, LogLine, SourceSpec, SourceStatus};
        let mut a = app();
        a.model.logs = crate::logs::LogBook::new(
            &[
                SourceSpec::file("/a.log", None),
                SourceSpec::file("/b.log", None),
            ],
            crate::logs::RingLimits::default(),
        );
        let lines = |n: usize| LogBatch {
            source: 0,
            skipped: Default::default(),
            lines: (0..n)
                .map(|i| LogLine {
                    text: format!("line {i} {}", if i % 10 == 0 { "needle" } else { "hay" }),
                    format: None,
                    cause: None,
                    status: None,
                    upstream: None,
                    time: None,
                })
                .collect(),
            status: SourceStatus::Following,
            events: vec![],
        };
        a.update(Event::Log(Box::new(lines(100))));
        press(&mut a, KeyCode::Char('4'));
        assert!(a.logs.follow);
        press(&mut a, KeyCode::Char('f'));
        assert!(!a.logs.follow);
        a.update(Event::Log(Box::new(lines(5))));
        assert_eq!(a.scroll[3], 5, "a paused view stays on the lines it showed");
        press(&mut a, KeyCode::Char('G'));
        assert!(a.logs.follow && a.scroll[3] == 0);
        press(&mut a, KeyCode::Char('/'));
        for c in "needle".chars() {
            press(&mut a, KeyCode::Char(c));
        }
        press(&mut a, KeyCode::Enter);
        // 105 lines, a match every 10: the first match from the top of the pane goes to its
        // bottom.
        let first = (105 - a.page_rows()).div_ceil(10) * 10;
        assert_eq!(a.scroll[3], 104 - first);
        press(&mut a, KeyCode::Char('N'));
        assert_eq!(a.scroll[3], 114 - first, "the previous (older) match");
        press(&mut a, KeyCode::Char('n'));
        assert_eq!(a.scroll[3], 104 - first);
        press(&mut a, KeyCode::Char(']'));
        assert_eq!(a.logs.current, 1);
        press(&mut a, KeyCode::Char('['));
        assert_eq!(a.logs.current, 0);
    }
}

//! Keys and runner events for service actions: menu, confirm dialog and output view are modal,
//! so while one is open every key goes to it.

use crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect};
use crate::actions::ActionEvent;

impl App {
    pub(super) fn open_actions(&mut self) {
        if self.actions.items.is_empty() {
            self.message = Some(
                "no services to act on: add a [[service]] to the config (nginx is offered when discovered)"
                    .into(),
            );
            return;
        }
        self.actions.menu = Some(self.actions.menu.unwrap_or(0));
    }

    pub(super) fn on_menu_key(&mut self, key: KeyEvent) {
        let Some(at) = self.actions.menu else { return };
        let last = self.actions.items.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('a') => self.actions.menu = None,
            KeyCode::Char('j') | KeyCode::Down => self.actions.menu = Some((at + 1).min(last)),
            KeyCode::Char('k') | KeyCode::Up => self.actions.menu = Some(at.saturating_sub(1)),
            KeyCode::Char('g') | KeyCode::Home => self.actions.menu = Some(0),
            KeyCode::Char('G') | KeyCode::End => self.actions.menu = Some(last),
            KeyCode::Enter => {
                if self.actions.read_only {
                    self.message = Some("read-only: actions are disabled (--read-only)".into());
                } else if let Some(running) = &self.actions.running {
                    self.message = Some(format!(
                        "wait: {} is still running (o shows it)",
                        running.label
                    ));
                } else {
                    self.actions.confirm = Some(super::actions::Confirm {
                        item: at,
                        run_selected: false,
                    });
                }
            }
            _ => {}
        }
    }

    /// Enter alone activates the highlighted button, which starts on Cancel: a stray Enter
    /// never restarts anything. `y` runs, `n` and Esc cancel.
    pub(super) fn on_confirm_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(confirm) = self.actions.confirm.as_mut() else {
            return vec![];
        };
        let run = match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => true,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => false,
            KeyCode::Enter => confirm.run_selected,
            KeyCode::Left
            | KeyCode::Right
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Char('h')
            | KeyCode::Char('l') => {
                confirm.run_selected = !confirm.run_selected;
                return vec![];
            }
            _ => return vec![],
        };
        let item = confirm.item;
        self.actions.confirm = None;
        if !run {
            self.message = Some("cancelled: nothing was run".into());
            return vec![];
        }
        self.actions.menu = None;
        let Some(request) = self.actions.start(item, self.now()) else {
            return vec![];
        };
        self.actions.output_open = true;
        vec![Effect::RunAction(request)]
    }

    /// Returns whether anything changed.
    pub(super) fn on_output_key(&mut self, key: KeyEvent) -> bool {
        let page = usize::from(self.size.1.saturating_sub(6)).max(1);
        let len = self.actions.output.len();
        let scroll = &mut self.actions.output_scroll;
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('o') => {
                self.actions.output_open = false
            }
            KeyCode::Char('k') | KeyCode::Up => *scroll = (*scroll + 1).min(len),
            KeyCode::Char('j') | KeyCode::Down => *scroll = scroll.saturating_sub(1),
            KeyCode::PageUp => *scroll = (*scroll + page).min(len),
            KeyCode::PageDown => *scroll = scroll.saturating_sub(page),
            KeyCode::Char('g') | KeyCode::Home => *scroll = len,
            KeyCode::Char('G') | KeyCode::End => *scroll = 0,
            KeyCode::Char('a') => {
                self.actions.output_open = false;
                self.open_actions();
            }
            _ => return false,
        }
        true
    }

    pub(super) fn on_action_event(&mut self, event: ActionEvent) -> (bool, Vec<Effect>) {
        match event {
            ActionEvent::Started { id, command } => {
                let shown = self.actions.push_output(id, [format!("$ {command}")]);
                (shown && self.actions.output_open, vec![])
            }
            ActionEvent::Output { id, lines } => {
                let shown = self.actions.push_output(id, lines);
                (shown && self.actions.output_open, vec![])
            }
            ActionEvent::Finished(result) => {
                let summary = result.summary();
                if !self.actions.finish(*result) {
                    return (false, vec![]);
                }
                self.message = Some(summary);
                // What the action changed shows at once: probes, DNS, services' status.
                (true, vec![Effect::RerunAll])
            }
            ActionEvent::Status(status) => {
                let changed = self.model.apply_service(*status);
                if changed {
                    self.reassess();
                }
                (changed, vec![])
            }
        }
    }
}

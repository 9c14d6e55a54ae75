//! Keys and runner events for service actions: menu, confirm dialog and output view are modal,
//! so while one is open every key goes to it.

use crossterm::event::{KeyCode, KeyEvent};

use super::actions::Confirm;
use super::modal::Modal;
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
        self.modal = Some(Modal::Menu { at: 0 });
    }

    pub(super) fn on_menu_key(&mut self, at: usize, key: KeyEvent) {
        let last = self.actions.items.len().saturating_sub(1);
        let at = match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('a') => return,
            KeyCode::Char('j') | KeyCode::Down => (at + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => at.saturating_sub(1),
            KeyCode::Char('g') | KeyCode::Home => 0,
            KeyCode::Char('G') | KeyCode::End => last,
            KeyCode::Enter => {
                if self.actions.read_only {
                    self.message = Some("read-only: actions are disabled (--read-only)".into());
                } else if let Some(running) = &self.actions.running {
                    self.message = Some(format!(
                        "wait: {} is still running (o shows it)",
                        running.label
                    ));
                } else {
                    self.modal = Some(Modal::Confirm(Confirm {
                        item: at,
                        run_selected: false,
                    }));
                    return;
                }
                at
            }
            _ => at,
        };
        self.modal = Some(Modal::Menu { at });
    }

    /// Enter alone activates the highlighted button, which starts on Cancel: a stray Enter
    /// never restarts anything. `y` runs, `n` and Esc cancel.
    pub(super) fn on_confirm_key(&mut self, mut confirm: Confirm, key: KeyEvent) -> Vec<Effect> {
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
                self.modal = Some(Modal::Confirm(confirm));
                return vec![];
            }
            _ => {
                self.modal = Some(Modal::Confirm(confirm));
                return vec![];
            }
        };
        if !run {
            self.message = Some("cancelled: nothing was run".into());
            self.modal = Some(Modal::Menu { at: confirm.item });
            return vec![];
        }
        let Some(request) = self.actions.start(confirm.item, self.now()) else {
            return vec![];
        };
        self.modal = Some(Modal::Output { scroll: 0 });
        vec![Effect::RunAction(request)]
    }

    /// Returns whether anything changed.
    pub(super) fn on_output_key(&mut self, scroll: usize, key: KeyEvent) -> bool {
        let page = usize::from(self.size.1.saturating_sub(6)).max(1);
        let len = self.actions.output.len();
        let scroll = match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('o') => return true,
            KeyCode::Char('k') | KeyCode::Up => (scroll + 1).min(len),
            KeyCode::Char('j') | KeyCode::Down => scroll.saturating_sub(1),
            KeyCode::PageUp => (scroll + page).min(len),
            KeyCode::PageDown => scroll.saturating_sub(page),
            KeyCode::Char('g') | KeyCode::Home => len,
            KeyCode::Char('G') | KeyCode::End => 0,
            KeyCode::Char('a') => {
                self.open_actions();
                return true;
            }
            _ => {
                self.modal = Some(Modal::Output { scroll });
                return false;
            }
        };
        self.modal = Some(Modal::Output { scroll });
        true
    }

    /// Appends an action's output; an open output view scrolled back keeps showing the same lines.
    fn show_output(&mut self, id: u64, lines: impl IntoIterator<Item = String>) -> bool {
        let Some(added) = self.actions.push_output(id, lines) else {
            return false;
        };
        let len = self.actions.output.len();
        let Some(Modal::Output { scroll }) = &mut self.modal else {
            return false;
        };
        if *scroll > 0 {
            *scroll += added;
        }
        *scroll = (*scroll).min(len);
        true
    }

    pub(super) fn on_action_event(&mut self, event: ActionEvent) -> (bool, Vec<Effect>) {
        match event {
            ActionEvent::Started { id, command } => {
                (self.show_output(id, [format!("$ {command}")]), vec![])
            }
            ActionEvent::Output { id, lines } => (self.show_output(id, lines), vec![]),
            ActionEvent::Finished(result) => {
                let summary = result.summary();
                if !self.actions.finish(*result) {
                    return (false, vec![]);
                }
                self.message = Some(summary);
                // What the action changed shows at once: probes, DNS, services' status.
                (true, vec![Effect::RerunAll])
            }
            ActionEvent::Status(status) => (self.actions.set_status(*status), vec![]),
        }
    }
}

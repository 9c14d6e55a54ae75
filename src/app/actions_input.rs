//! Keys and runner events for service actions: menu, confirm dialog and output view are popups,
//! so while one is open every key goes to it, as the key table's scope for it names it.

use super::actions::Confirm;
use super::modal::Modal;
use super::{App, Effect};
use crate::actions::ActionEvent;
use crate::keymap::Action;

impl App {
    pub(super) fn open_actions(&mut self) {
        if self.actions.items.is_empty() {
            self.message = Some(
                "no services to act on: add a [[service]] to the config (nginx is offered when discovered, proxies in containers when the engine lists them)"
                    .into(),
            );
            return;
        }
        self.modal = Some(Modal::Menu { at: 0 });
    }

    pub(super) fn on_menu_key(&mut self, at: usize, action: Option<Action>) {
        let last = self.actions.items.len().saturating_sub(1);
        let at = match action {
            Some(Action::Close) => return,
            Some(Action::ScrollDown) => (at + 1).min(last),
            Some(Action::ScrollUp) => at.saturating_sub(1),
            Some(Action::Top) => 0,
            Some(Action::Bottom) => last,
            Some(Action::Choose) => {
                if self.actions.read_only {
                    self.message = Some(format!(
                        "read-only: actions are disabled ({})",
                        self.actions.read_only_why
                    ));
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

    /// Enter alone presses the highlighted button, which starts on Cancel: a stray Enter
    /// never restarts anything. `y` runs, `n` and Esc cancel.
    pub(super) fn on_confirm_key(
        &mut self,
        mut confirm: Confirm,
        action: Option<Action>,
    ) -> Vec<Effect> {
        let run = match action {
            Some(Action::Run) => true,
            Some(Action::Cancel) => false,
            Some(Action::PressButton) => confirm.run_selected,
            Some(Action::SwitchButton) => {
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

    /// `scroll` counts lines up from the newest. Returns whether anything changed.
    pub(super) fn on_output_key(&mut self, scroll: usize, action: Option<Action>) -> bool {
        let page = usize::from(self.size.1.saturating_sub(6)).max(1);
        let len = self.actions.output.len();
        let scroll = match action {
            Some(Action::Close) => return true,
            Some(Action::ScrollUp) => (scroll + 1).min(len),
            Some(Action::ScrollDown) => scroll.saturating_sub(1),
            Some(Action::PageUp) => (scroll + page).min(len),
            Some(Action::PageDown) => scroll.saturating_sub(page),
            Some(Action::Top) => len,
            Some(Action::Bottom) => 0,
            Some(Action::OpenActions) => {
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
            ActionEvent::Status(status) => {
                let changed = self.model.apply_service(*status);
                if changed {
                    self.model_changed();
                }
                (changed, vec![])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::app::actions;
    use crate::app::fixtures::{app, press};
    use crate::app::modal::Modal;
    use crate::app::{App, Event};
    use crossterm::event::KeyCode;

    fn menu_app() -> App {
        let mut a = app();
        a.actions.items = (0..3)
            .map(|i| actions::MenuItem {
                service: 0,
                verb: crate::actions::Verb::Status,
                command: format!("check {i}"),
                guard: None,
                timeout_label: "30s".into(),
            })
            .collect();
        a
    }

    #[test]
    fn a_cancelled_confirm_returns_to_the_menu_on_its_row() {
        let mut a = menu_app();
        press(&mut a, KeyCode::Char('a'));
        press(&mut a, KeyCode::Down);
        press(&mut a, KeyCode::Enter);
        let confirm = actions::Confirm {
            item: 1,
            run_selected: false,
        };
        assert_eq!(a.modal, Some(Modal::Confirm(confirm)));
        assert_eq!(a.menu_row(), Some(1), "the menu shows under the dialog");
        press(&mut a, KeyCode::Char('n'));
        assert_eq!(a.modal, Some(Modal::Menu { at: 1 }));
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.modal, None);
    }

    #[test]
    fn a_scrolled_back_output_view_keeps_showing_the_same_lines() {
        use crate::actions::ActionEvent;
        let mut a = menu_app();
        let id = a.actions.start(0, a.now()).map_or(0, |r| r.id);
        a.modal = Some(Modal::Output { scroll: 0 });
        let output = |n: usize| {
            Event::Action(Box::new(ActionEvent::Output {
                id,
                lines: (0..n).map(|i| format!("line {i}")).collect(),
            }))
        };
        assert!(a.update(output(3)).0);
        assert_eq!(a.modal, Some(Modal::Output { scroll: 0 }), "following");
        press(&mut a, KeyCode::Char('k'));
        a.update(output(2));
        assert_eq!(a.modal, Some(Modal::Output { scroll: 3 }));
        press(&mut a, KeyCode::Esc);
        assert!(!a.update(output(1)).0, "a closed view does not redraw");
    }
}

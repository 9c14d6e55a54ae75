//! Keys while a popup is open: each popup's scope of the key table names them, and nothing else
//! applies. Text prompts (a pane's filter, log search) type every other key. The actions popups'
//! keys are in `actions_input`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::modal::Modal;
use super::{App, Effect};
use crate::keymap::{self, Action};
use crate::pane::PaneId;
use crate::timeline::EventKind;

impl App {
    /// Every key while a popup is open goes here, as the popup's scope of the key table names
    /// it. `modal` has been taken out of `self`; the handler puts it back unless it closed.
    pub(super) fn on_modal_key(&mut self, modal: Modal, key: KeyEvent) -> (bool, Vec<Effect>) {
        let action = keymap::lookup_modal(&key, modal.kind()).map(|b| b.action);
        match modal {
            Modal::Filter { pane, text } => {
                self.on_filter_key(pane, text, action, &key);
                (true, vec![])
            }
            Modal::Search(prompt) => {
                self.on_log_prompt_key(prompt, action, typed(&key));
                (true, vec![])
            }
            Modal::Help { scroll } => {
                self.on_help_key(scroll, action);
                (true, vec![])
            }
            Modal::Confirm(confirm) => (true, self.on_confirm_key(confirm, action)),
            Modal::Menu { at } => {
                self.on_menu_key(at, action);
                (true, vec![])
            }
            Modal::Output { scroll } => (self.on_output_key(scroll, action), vec![]),
            Modal::Checklist { scroll } => (self.on_checklist_key(scroll, action), vec![]),
            Modal::Timeline { scroll, kind } => {
                (self.on_timeline_key(scroll, kind, action), vec![])
            }
            Modal::LogDetail { detail, scroll } => self.on_log_detail_key(detail, scroll, action),
        }
    }

    /// One handler for every pane's filter: the text is the pane's filter as typed, and the
    /// pane narrows at each key.
    fn on_filter_key(
        &mut self,
        pane: PaneId,
        mut text: String,
        action: Option<Action>,
        key: &KeyEvent,
    ) {
        match action {
            Some(Action::Accept) => return,
            Some(Action::Clear) => text.clear(),
            Some(Action::DeleteChar) => {
                text.pop();
                self.modal = Some(Modal::Filter {
                    pane,
                    text: text.clone(),
                });
            }
            _ => {
                // A pasted megabyte must not become a megabyte filter.
                let c = typed(key).filter(|_| text.chars().count() < 64);
                let changed = c.is_some();
                text.extend(c);
                self.modal = Some(Modal::Filter {
                    pane,
                    text: text.clone(),
                });
                if !changed {
                    return;
                }
            }
        }
        match pane {
            PaneId::Upstreams => {
                self.upstreams.filter = text;
                self.upstreams.refilter(&self.model.upstreams);
            }
            _ => {
                self.host.filter = text;
                self.host.rebuild(self.model.host.as_ref());
            }
        }
        self.scroll[pane.index()] = 0;
        self.clamp(pane);
    }

    /// Returns whether anything changed.
    fn on_checklist_key(&mut self, scroll: u16, action: Option<Action>) -> bool {
        let scroll = match action {
            Some(Action::Close) => return true,
            Some(Action::ScrollDown) => scroll.saturating_add(1).min(40),
            Some(Action::ScrollUp) => scroll.saturating_sub(1),
            Some(Action::OpenActions) => {
                self.open_actions();
                return true;
            }
            Some(Action::ShowEvidence) => {
                if !self.show_evidence() {
                    self.modal = Some(Modal::Checklist { scroll });
                }
                return true;
            }
            _ => {
                self.modal = Some(Modal::Checklist { scroll });
                return false;
            }
        };
        self.modal = Some(Modal::Checklist { scroll });
        true
    }

    /// Returns whether anything changed. The scroll is clamped to the events shown.
    fn on_timeline_key(
        &mut self,
        scroll: usize,
        kind: Option<EventKind>,
        action: Option<Action>,
    ) -> bool {
        let shown = |kind: Option<EventKind>| {
            self.judged
                .timeline
                .events
                .iter()
                .filter(|e| kind.is_none_or(|k| e.kind == k))
                .count()
        };
        let (scroll, kind) = match action {
            Some(Action::Close) => return true,
            Some(Action::ScrollDown) => (scroll + 1, kind),
            Some(Action::ScrollUp) => (scroll.saturating_sub(1), kind),
            Some(Action::Top) => (0, kind),
            Some(Action::Bottom) => (usize::MAX, kind),
            Some(Action::CycleKind) => (0, next_kind(kind)),
            _ => {
                self.modal = Some(Modal::Timeline { scroll, kind });
                return false;
            }
        };
        let scroll = scroll.min(shown(kind).saturating_sub(1));
        self.modal = Some(Modal::Timeline { scroll, kind });
        true
    }

    fn on_help_key(&mut self, scroll: u16, action: Option<Action>) {
        let scroll = match action {
            Some(Action::Close) => return,
            Some(Action::ScrollDown) => scroll.saturating_add(1),
            Some(Action::ScrollUp) => scroll.saturating_sub(1),
            _ => scroll,
        };
        self.modal = Some(Modal::Help { scroll });
    }
}

/// The character a key types into a text prompt, if it types one.
fn typed(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) && !c.is_control() => {
            Some(c)
        }
        _ => None,
    }
}

/// The timeline's kind filter after `kind`: every kind in turn, then all again.
fn next_kind(kind: Option<EventKind>) -> Option<EventKind> {
    match kind {
        None => EventKind::ALL.first().copied(),
        Some(k) => EventKind::ALL
            .iter()
            .skip_while(|&&x| x != k)
            .nth(1)
            .copied(),
    }
}

#[cfg(test)]
mod tests {
    use crate::app::Event;
    use crate::app::fixtures::{app, press, sample};
    use crate::app::modal::{Modal, ModalKind};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn help_opens_and_closes_and_swallows_keys() {
        let mut a = app();
        press(&mut a, KeyCode::Char('?'));
        assert_eq!(a.modal, Some(Modal::Help { scroll: 0 }));
        assert!(
            press(&mut a, KeyCode::Char('q')).is_empty(),
            "q closes help, does not quit"
        );
        assert_eq!(a.modal, None);
    }

    #[test]
    fn filter_narrows_processes_and_esc_clears_it() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        press(&mut a, KeyCode::Char('/'));
        for c in "NGINX".chars() {
            press(&mut a, KeyCode::Char(c));
        }
        assert_eq!(
            a.host.visible.len(),
            2,
            "case-insensitive match on the command"
        );
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.modal, None);
        assert_eq!(a.host.filter, "NGINX");
        press(&mut a, KeyCode::Char('/'));
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.host.visible.len(), 3);
    }

    #[test]
    fn every_key_the_checklist_and_output_declare_reaches_their_handler() {
        use crate::keymap::{BINDINGS, Scope};
        // These two handlers report the keys they ignore; none of their own may be one.
        let popups = [
            (ModalKind::Checklist, Modal::Checklist { scroll: 0 }),
            (ModalKind::Output, Modal::Output { scroll: 0 }),
        ];
        for (kind, open) in popups {
            for b in BINDINGS.iter().filter(|b| b.scope == Scope::Modal(kind)) {
                for k in b.keys {
                    let mut a = app();
                    a.modal = Some(open.clone());
                    let (redraw, _) =
                        a.update(Event::Key(KeyEvent::new(k.code, KeyModifiers::NONE)));
                    assert!(redraw, "{} in {kind:?}", k.label());
                }
            }
        }
    }
}

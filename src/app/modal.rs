//! The popups. At most one is open and it takes every key, so it is one value rather than a
//! flag per popup: two popups can never both think they are on top, and input, drawing and the
//! footer all ask the same question ("which popup?") instead of each walking its own chain.

use super::App;
use super::actions::Confirm;
use super::log_search_input::{LogPrompt, PromptKind};
use crate::pane::PaneId;
pub use crate::popup::ModalKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modal {
    /// The key help (`?`), scrolled down this many lines.
    Help { scroll: u16 },
    /// A filter being typed; its pane (Host or Upstreams) narrows as it changes.
    Filter { pane: PaneId, text: String },
    /// The Logs prompt (search, filter in or out, go to time) being typed; it takes effect on Enter.
    Search(LogPrompt),
    /// The checklist view (`v`), scrolled down this many lines.
    Checklist { scroll: u16 },
    /// The incident timeline (`t`): the event list scrolled down this many events, showing
    /// only one kind when `kind` is set.
    Timeline {
        scroll: usize,
        kind: Option<crate::timeline::EventKind>,
    },
    /// The actions menu with its highlighted row.
    Menu { at: usize },
    /// The confirm dialog. It is drawn over the menu, which it cannot move, so the menu row is
    /// the confirmed item and a cancel returns to it.
    Confirm(Confirm),
    /// The action output view, this many lines up from the newest.
    Output { scroll: usize },
    /// A log line's detail (Enter in the Logs pane), scrolled down this many rows.
    LogDetail {
        detail: Box<super::log_detail::LogDetail>,
        scroll: u16,
    },
}

impl Modal {
    pub fn kind(&self) -> ModalKind {
        match self {
            Modal::Help { .. } => ModalKind::Help,
            Modal::Filter { .. } => ModalKind::Filter,
            Modal::Search(_) => ModalKind::Search,
            Modal::Checklist { .. } => ModalKind::Checklist,
            Modal::Timeline { .. } => ModalKind::Timeline,
            Modal::Menu { .. } => ModalKind::Menu,
            Modal::Confirm(_) => ModalKind::Confirm,
            Modal::Output { .. } => ModalKind::Output,
            Modal::LogDetail { .. } => ModalKind::LogDetail,
        }
    }
}

impl App {
    pub fn modal_kind(&self) -> Option<ModalKind> {
        self.modal.as_ref().map(Modal::kind)
    }

    /// The filter being typed and the pane it filters, if one is.
    pub fn filter_input(&self) -> Option<(PaneId, &str)> {
        match &self.modal {
            Some(Modal::Filter { pane, text }) => Some((*pane, text)),
            _ => None,
        }
    }

    /// The log search being typed, if it is.
    pub fn search_input(&self) -> Option<&str> {
        self.log_prompt()
            .filter(|p| p.kind == PromptKind::Search)
            .map(|p| p.text.as_str())
    }

    /// The Logs prompt being typed, whichever it is.
    pub fn log_prompt(&self) -> Option<&LogPrompt> {
        match &self.modal {
            Some(Modal::Search(prompt)) => Some(prompt),
            _ => None,
        }
    }

    /// The actions menu's highlighted row, also while the confirm dialog sits over it.
    pub fn menu_row(&self) -> Option<usize> {
        match &self.modal {
            Some(Modal::Menu { at }) => Some(*at),
            Some(Modal::Confirm(c)) => Some(c.item),
            _ => None,
        }
    }

    pub fn confirm(&self) -> Option<Confirm> {
        match &self.modal {
            Some(Modal::Confirm(c)) => Some(*c),
            _ => None,
        }
    }

    pub fn output_open(&self) -> bool {
        matches!(self.modal, Some(Modal::Output { .. }))
    }
}

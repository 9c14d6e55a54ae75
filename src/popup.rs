//! The dashboard's popups by kind, as `pane.rs` names its panes: what the key table scopes its
//! popup keys by and the help lists them under. The popups' state is `app::modal::Modal`.

/// Which popup, without its state: the key table's scopes and the help's sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModalKind {
    Help,
    Filter,
    Search,
    Checklist,
    Timeline,
    Menu,
    Confirm,
    Output,
    LogDetail,
}

impl ModalKind {
    pub const ALL: [ModalKind; 9] = [
        ModalKind::Help,
        ModalKind::Filter,
        ModalKind::Search,
        ModalKind::Checklist,
        ModalKind::Timeline,
        ModalKind::Menu,
        ModalKind::Confirm,
        ModalKind::Output,
        ModalKind::LogDetail,
    ];

    /// The popup's name in the help.
    pub fn title(self) -> &'static str {
        match self {
            ModalKind::Help => "In this help",
            ModalKind::Filter => "Typing a filter (processes, upstreams)",
            ModalKind::Search => "Typing a log search, filter or time",
            ModalKind::Checklist => "In the checklist",
            ModalKind::Timeline => "In the timeline",
            ModalKind::Menu => "In the actions menu",
            ModalKind::Confirm => "In the confirm dialog",
            ModalKind::Output => "In the action output",
            ModalKind::LogDetail => "In a log line's detail",
        }
    }
}

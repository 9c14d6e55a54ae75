//! The one table of key bindings. The handler, the footer and the help screen all read it, so the
//! help can never describe a key that does something else. Popups have a scope of their own each:
//! while one is open only its keys count.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::modal::ModalKind;
use crate::pane::PaneId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    /// The pane is taken from the digit that was pressed.
    FocusDigit,
    Zoom,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Rerun,
    Suspend,
    SortProcesses,
    FilterProcesses,
    OpenDetail,
    CloseDetail,
    ToggleFollow,
    SearchLogs,
    NextMatch,
    PrevMatch,
    CycleLevel,
    CycleCause,
    ToggleWrap,
    NextSource,
    PrevSource,
    OpenActions,
    ShowOutput,
    Checklist,
    WriteReport,
    // Popup keys from here on.
    /// Closes the popup.
    Close,
    /// Enter in a text prompt: keep the filter, or search.
    Accept,
    /// Esc in a text prompt: drop the text and what it did.
    Clear,
    DeleteChar,
    /// The actions menu's Enter: ask to run the highlighted command.
    Choose,
    Run,
    Cancel,
    PressButton,
    SwitchButton,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Pane(PaneId),
    /// Only while this popup is open, and then nothing else applies.
    Modal(ModalKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    /// Works, and the help lists it, but the footer leaves it out to stay one line: the
    /// Shift and arrow twins of a key it shows.
    pub quiet: bool,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
        quiet: false,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
        quiet: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        ctrl: false,
        quiet: false,
    }
}

const fn quiet(k: Key) -> Key {
    Key { quiet: true, ..k }
}

pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// Short word for the footer; `None` keeps the binding out of the footer (help still lists it).
    pub footer: Option<&'static str>,
    pub help: &'static str,
    pub scope: Scope,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[key('q'), ctrl('c')],
        action: Action::Quit,
        footer: Some("quit"),
        help: "quit gatewatch",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('?')],
        action: Action::Help,
        footer: Some("help"),
        help: "show or hide this help",
        scope: Scope::Global,
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        action: Action::FocusNext,
        footer: Some("next pane"),
        help: "focus the next pane",
        scope: Scope::Global,
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        action: Action::FocusPrev,
        footer: None,
        help: "focus the previous pane",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('1'), key('2'), key('3'), key('4')],
        action: Action::FocusDigit,
        footer: Some("pane"),
        help: "focus Host, Upstreams, DNS or Logs",
        scope: Scope::Global,
    },
    Binding {
        keys: &[code(KeyCode::Enter), key('z')],
        action: Action::Zoom,
        footer: Some("zoom"),
        help: "zoom the focused pane to full screen and back",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('k'), code(KeyCode::Up)],
        action: Action::ScrollUp,
        footer: None,
        help: "scroll up one line",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('j'), code(KeyCode::Down)],
        action: Action::ScrollDown,
        footer: Some("scroll"),
        help: "scroll down one line",
        scope: Scope::Global,
    },
    Binding {
        keys: &[code(KeyCode::PageUp)],
        action: Action::PageUp,
        footer: None,
        help: "scroll up one page",
        scope: Scope::Global,
    },
    Binding {
        keys: &[code(KeyCode::PageDown)],
        action: Action::PageDown,
        footer: None,
        help: "scroll down one page",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('g'), code(KeyCode::Home)],
        action: Action::Top,
        footer: None,
        help: "jump to the top",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('G'), code(KeyCode::End)],
        action: Action::Bottom,
        footer: None,
        help: "jump to the bottom",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('r')],
        action: Action::Rerun,
        footer: Some("rerun"),
        help: "rerun every check now",
        scope: Scope::Global,
    },
    Binding {
        keys: &[ctrl('z')],
        action: Action::Suspend,
        footer: None,
        help: "suspend to the shell (resume with fg)",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('a')],
        action: Action::OpenActions,
        footer: Some("actions"),
        help: "service actions: test, reload, restart",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('v')],
        action: Action::Checklist,
        footer: Some("verdict"),
        help: "the checklist: every step and its evidence",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('e')],
        action: Action::WriteReport,
        footer: None,
        help: "write an incident report (Markdown)",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('o')],
        action: Action::ShowOutput,
        footer: None,
        help: "output and result of the last action",
        scope: Scope::Global,
    },
    Binding {
        keys: &[key('s')],
        action: Action::SortProcesses,
        footer: Some("sort"),
        help: "sort processes by CPU or memory",
        scope: Scope::Pane(PaneId::Host),
    },
    Binding {
        keys: &[key('/')],
        action: Action::FilterProcesses,
        footer: Some("filter"),
        help: "filter processes (Enter keeps, Esc clears)",
        scope: Scope::Pane(PaneId::Host),
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::OpenDetail,
        footer: Some("detail"),
        help: "open/close the upstream's last results",
        scope: Scope::Pane(PaneId::Upstreams),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::CloseDetail,
        footer: None,
        help: "close the detail view",
        scope: Scope::Pane(PaneId::Upstreams),
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::OpenDetail,
        footer: Some("detail"),
        help: "open/close each nameserver's answer",
        scope: Scope::Pane(PaneId::Dns),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::CloseDetail,
        footer: None,
        help: "close the name's detail view",
        scope: Scope::Pane(PaneId::Dns),
    },
    Binding {
        keys: &[key('f')],
        action: Action::ToggleFollow,
        footer: Some("follow"),
        help: "follow the newest lines, or pause",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('/')],
        action: Action::SearchLogs,
        footer: Some("search"),
        help: "search; Enter jumps to the newest, Esc clears",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('n')],
        action: Action::NextMatch,
        footer: None,
        help: "next (newer) match",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('N')],
        action: Action::PrevMatch,
        footer: None,
        help: "previous (older) match",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('l')],
        action: Action::CycleLevel,
        footer: Some("level"),
        help: "all lines, or warn / error / crit and above",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('c')],
        action: Action::CycleCause,
        footer: Some("cause"),
        help: "show one 502 cause only (cycles those seen)",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('w')],
        action: Action::ToggleWrap,
        footer: Some("wrap"),
        help: "wrap long lines or cut them at the edge",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key(']')],
        action: Action::NextSource,
        footer: None,
        help: "next log source",
        scope: Scope::Pane(PaneId::Logs),
    },
    Binding {
        keys: &[key('[')],
        action: Action::PrevSource,
        footer: Some("source"),
        help: "previous log source",
        scope: Scope::Pane(PaneId::Logs),
    },
    // The help popup.
    Binding {
        keys: &[code(KeyCode::Esc), key('?'), key('q')],
        action: Action::Close,
        footer: Some("close help"),
        help: "close the help",
        scope: Scope::Modal(ModalKind::Help),
    },
    Binding {
        keys: &[key('j'), quiet(code(KeyCode::Down))],
        action: Action::ScrollDown,
        footer: Some("scroll"),
        help: "scroll the help down",
        scope: Scope::Modal(ModalKind::Help),
    },
    Binding {
        keys: &[key('k'), quiet(code(KeyCode::Up))],
        action: Action::ScrollUp,
        footer: Some("scroll"),
        help: "scroll the help up",
        scope: Scope::Modal(ModalKind::Help),
    },
    // Typing a process filter: other keys type.
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::Accept,
        footer: Some("keep"),
        help: "keep the filter",
        scope: Scope::Modal(ModalKind::Filter),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::Clear,
        footer: Some("clear"),
        help: "clear the filter",
        scope: Scope::Modal(ModalKind::Filter),
    },
    Binding {
        keys: &[code(KeyCode::Backspace)],
        action: Action::DeleteChar,
        footer: None,
        help: "delete the last character",
        scope: Scope::Modal(ModalKind::Filter),
    },
    // Typing a log search: other keys type.
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::Accept,
        footer: Some("search"),
        help: "search, from the newest line back",
        scope: Scope::Modal(ModalKind::Search),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::Clear,
        footer: Some("clear"),
        help: "clear the search",
        scope: Scope::Modal(ModalKind::Search),
    },
    Binding {
        keys: &[code(KeyCode::Backspace)],
        action: Action::DeleteChar,
        footer: None,
        help: "delete the last character",
        scope: Scope::Modal(ModalKind::Search),
    },
    // The checklist view.
    Binding {
        keys: &[key('j'), quiet(code(KeyCode::Down))],
        action: Action::ScrollDown,
        footer: Some("scroll"),
        help: "scroll the checklist down",
        scope: Scope::Modal(ModalKind::Checklist),
    },
    Binding {
        keys: &[key('k'), quiet(code(KeyCode::Up))],
        action: Action::ScrollUp,
        footer: Some("scroll"),
        help: "scroll the checklist up",
        scope: Scope::Modal(ModalKind::Checklist),
    },
    Binding {
        keys: &[code(KeyCode::Esc), quiet(key('q')), quiet(key('v'))],
        action: Action::Close,
        footer: Some("close"),
        help: "close the checklist",
        scope: Scope::Modal(ModalKind::Checklist),
    },
    Binding {
        keys: &[key('a')],
        action: Action::OpenActions,
        footer: Some("actions"),
        help: "go to the actions menu",
        scope: Scope::Modal(ModalKind::Checklist),
    },
    // The actions menu.
    Binding {
        keys: &[key('j'), quiet(code(KeyCode::Down))],
        action: Action::ScrollDown,
        footer: Some("move"),
        help: "highlight the next command",
        scope: Scope::Modal(ModalKind::Menu),
    },
    Binding {
        keys: &[key('k'), quiet(code(KeyCode::Up))],
        action: Action::ScrollUp,
        footer: Some("move"),
        help: "highlight the previous command",
        scope: Scope::Modal(ModalKind::Menu),
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::Choose,
        footer: Some("choose"),
        help: "choose the highlighted command (asks first)",
        scope: Scope::Modal(ModalKind::Menu),
    },
    Binding {
        keys: &[code(KeyCode::Esc), quiet(key('q')), quiet(key('a'))],
        action: Action::Close,
        footer: Some("close"),
        help: "close the menu",
        scope: Scope::Modal(ModalKind::Menu),
    },
    Binding {
        keys: &[key('g'), code(KeyCode::Home)],
        action: Action::Top,
        footer: None,
        help: "highlight the first command",
        scope: Scope::Modal(ModalKind::Menu),
    },
    Binding {
        keys: &[key('G'), code(KeyCode::End)],
        action: Action::Bottom,
        footer: None,
        help: "highlight the last command",
        scope: Scope::Modal(ModalKind::Menu),
    },
    // The confirm dialog.
    Binding {
        keys: &[key('y'), quiet(key('Y'))],
        action: Action::Run,
        footer: Some("run"),
        help: "run the command",
        scope: Scope::Modal(ModalKind::Confirm),
    },
    Binding {
        keys: &[
            key('n'),
            quiet(key('N')),
            code(KeyCode::Esc),
            quiet(key('q')),
        ],
        action: Action::Cancel,
        footer: Some("cancel"),
        help: "cancel: nothing runs",
        scope: Scope::Modal(ModalKind::Confirm),
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::PressButton,
        footer: Some("press the highlighted button"),
        help: "press the highlighted button (Cancel first)",
        scope: Scope::Modal(ModalKind::Confirm),
    },
    Binding {
        keys: &[
            code(KeyCode::Left),
            code(KeyCode::Right),
            code(KeyCode::Tab),
            code(KeyCode::BackTab),
            key('h'),
            key('l'),
        ],
        action: Action::SwitchButton,
        footer: None,
        help: "move between Cancel and Run",
        scope: Scope::Modal(ModalKind::Confirm),
    },
    // The action output view.
    Binding {
        keys: &[key('j'), quiet(code(KeyCode::Down))],
        action: Action::ScrollDown,
        footer: Some("scroll"),
        help: "scroll towards the newest line",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[key('k'), quiet(code(KeyCode::Up))],
        action: Action::ScrollUp,
        footer: Some("scroll"),
        help: "scroll back to older lines",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[code(KeyCode::Esc), quiet(key('q')), quiet(key('o'))],
        action: Action::Close,
        footer: Some("close"),
        help: "close the output",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[key('a')],
        action: Action::OpenActions,
        footer: Some("actions"),
        help: "go to the actions menu",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[code(KeyCode::PageUp)],
        action: Action::PageUp,
        footer: None,
        help: "scroll back one page",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[code(KeyCode::PageDown)],
        action: Action::PageDown,
        footer: None,
        help: "scroll one page towards the newest line",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[key('g'), code(KeyCode::Home)],
        action: Action::Top,
        footer: None,
        help: "jump to the first line",
        scope: Scope::Modal(ModalKind::Output),
    },
    Binding {
        keys: &[key('G'), code(KeyCode::End)],
        action: Action::Bottom,
        footer: None,
        help: "jump to the newest line",
        scope: Scope::Modal(ModalKind::Output),
    },
];

impl Key {
    fn matches(&self, ev: &KeyEvent) -> bool {
        // Terminals report Shift with upper-case letters and Back-Tab; the character already says it.
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        !alt && ctrl == self.ctrl && ev.code == self.code
    }

    pub fn label(&self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("^{}", name.to_uppercase())
        } else {
            name
        }
    }
}

impl Binding {
    /// Whether the binding works with no popup open and `focus` focused.
    pub fn applies_to(&self, focus: PaneId) -> bool {
        match self.scope {
            Scope::Global => true,
            Scope::Pane(p) => p == focus,
            Scope::Modal(_) => false,
        }
    }

    /// Every key, quiet ones too: the help's label.
    pub fn keys_label(&self) -> String {
        keys_label(self.keys)
    }

    fn matches(&self, ev: &KeyEvent) -> bool {
        self.keys.iter().any(|k| k.matches(ev))
    }
}

/// The binding a key press triggers with `focus` focused, pane bindings first.
pub fn lookup(ev: &KeyEvent, focus: PaneId) -> Option<&'static Binding> {
    let hit = |b: &&Binding| b.applies_to(focus) && b.matches(ev);
    BINDINGS
        .iter()
        .filter(|b| b.scope != Scope::Global)
        .find(hit)
        .or_else(|| {
            BINDINGS
                .iter()
                .filter(|b| b.scope == Scope::Global)
                .find(hit)
        })
}

/// The binding a key press triggers while the popup `kind` is open: its own keys only.
pub fn lookup_modal(ev: &KeyEvent, kind: ModalKind) -> Option<&'static Binding> {
    in_scope(Scope::Modal(kind)).find(|b| b.matches(ev))
}

fn in_scope(scope: Scope) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.scope == scope)
}

/// The footer while the popup `kind` is open, in table order.
pub fn modal_footer(kind: ModalKind) -> impl Iterator<Item = (String, &'static str)> {
    let shown = in_scope(Scope::Modal(kind)).filter_map(|b| {
        let keys: Vec<Key> = b.keys.iter().copied().filter(|k| !k.quiet).collect();
        b.footer.map(|word| (keys_label(&keys), word))
    });
    merge_alike(shown).into_iter()
}

/// Neighbours with the same word share one hint: "j/k scroll" for down and up.
fn merge_alike(hints: impl Iterator<Item = (String, &'static str)>) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for (keys, word) in hints {
        match out.last_mut() {
            Some((shown, last)) if *last == word => {
                shown.push('/');
                shown.push_str(&keys);
            }
            _ => out.push((keys, word)),
        }
    }
    out
}

/// Bindings shown in the footer for the focused pane: the pane's own first, then global ones
/// without the keys the pane takes over (Enter opens a row where a pane has rows).
pub fn footer(focus: PaneId) -> impl Iterator<Item = (String, &'static str)> {
    let pane: Vec<&'static Binding> = BINDINGS
        .iter()
        .filter(|b| b.scope == Scope::Pane(focus))
        .collect();
    let taken: Vec<Key> = pane.iter().flat_map(|b| b.keys.iter().copied()).collect();
    let global = BINDINGS
        .iter()
        .filter(|b| b.scope == Scope::Global)
        .filter_map(move |b| {
            let keys: Vec<Key> = b
                .keys
                .iter()
                .copied()
                .filter(|k| !taken.contains(k))
                .collect();
            (!keys.is_empty()).then(|| (keys_label(&keys), b))
        });
    pane.into_iter()
        .map(|b| (b.keys_label(), b))
        .chain(global)
        .filter_map(|(label, b)| b.footer.map(|f| (label, f)))
}

/// "j/↓", or "1-4" for a run of consecutive digits.
fn keys_label(keys: &[Key]) -> String {
    let digits: Vec<char> = keys
        .iter()
        .filter_map(|k| match k.code {
            KeyCode::Char(c) if c.is_ascii_digit() && !k.ctrl => Some(c),
            _ => None,
        })
        .collect();
    if digits.len() == keys.len() && digits.len() > 2 {
        let consecutive = digits.windows(2).all(|w| w[1] as u32 == w[0] as u32 + 1);
        if let (true, Some(first), Some(last)) = (consecutive, digits.first(), digits.last()) {
            return format!("{first}-{last}");
        }
    }
    keys.iter().map(Key::label).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn scopes() -> impl Iterator<Item = Scope> {
        std::iter::once(Scope::Global)
            .chain(PaneId::ALL.map(Scope::Pane))
            .chain(ModalKind::ALL.map(Scope::Modal))
    }

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        for scope in scopes() {
            // A quiet key is the same key: compare what is pressed.
            let mut seen: Vec<(KeyCode, bool)> = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.scope == scope) {
                for k in b.keys {
                    let pressed = (k.code, k.ctrl);
                    assert!(
                        !seen.contains(&pressed),
                        "{} bound twice in {scope:?}",
                        k.label()
                    );
                    seen.push(pressed);
                }
            }
        }
    }

    #[test]
    fn every_popup_has_keys_and_esc_leaves_it() {
        let esc = press(KeyCode::Esc, KeyModifiers::NONE);
        for kind in ModalKind::ALL {
            let action = lookup_modal(&esc, kind).map(|b| b.action);
            assert!(
                matches!(action, Some(Action::Close | Action::Clear | Action::Cancel)),
                "Esc in {kind:?} does {action:?}"
            );
        }
    }

    #[test]
    fn popup_keys_apply_only_while_their_popup_is_open() {
        let y = press(KeyCode::Char('y'), KeyModifiers::NONE);
        assert_eq!(
            lookup_modal(&y, ModalKind::Confirm).map(|b| b.action),
            Some(Action::Run)
        );
        assert!(lookup_modal(&y, ModalKind::Menu).is_none());
        assert!(lookup(&y, PaneId::Host).is_none());
        // No global key leaks into a popup: `r` reruns on the dashboard only.
        let r = press(KeyCode::Char('r'), KeyModifiers::NONE);
        assert!(lookup_modal(&r, ModalKind::Output).is_none());
        let esc = press(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(
            lookup(&esc, PaneId::Upstreams).map(|b| b.action),
            Some(Action::CloseDetail)
        );
    }

    #[test]
    fn popup_actions_are_bound_in_popups_only() {
        let popup_only = [
            Action::Close,
            Action::Accept,
            Action::Clear,
            Action::DeleteChar,
            Action::Choose,
            Action::Run,
            Action::Cancel,
            Action::PressButton,
            Action::SwitchButton,
        ];
        for b in BINDINGS {
            if popup_only.contains(&b.action) {
                assert!(
                    matches!(b.scope, Scope::Modal(_)),
                    "{:?} bound in {:?}",
                    b.action,
                    b.scope
                );
            }
        }
    }

    #[test]
    fn a_footer_binding_shows_at_least_one_key() {
        for b in BINDINGS.iter().filter(|b| b.footer.is_some()) {
            assert!(b.keys.iter().any(|k| !k.quiet), "{:?}", b.help);
        }
    }

    #[test]
    fn popup_footers_name_the_shown_keys_and_merge_up_and_down() {
        let labels = |kind| {
            modal_footer(kind)
                .map(|(k, w)| format!("{k} {w}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(ModalKind::Help),
            ["Esc/?/q close help", "j/k scroll"]
        );
        assert_eq!(labels(ModalKind::Filter), ["Enter keep", "Esc clear"]);
        assert_eq!(labels(ModalKind::Search), ["Enter search", "Esc clear"]);
        assert_eq!(
            labels(ModalKind::Menu),
            ["j/k move", "Enter choose", "Esc close"]
        );
        assert_eq!(
            labels(ModalKind::Confirm),
            [
                "y run",
                "n/Esc cancel",
                "Enter press the highlighted button"
            ]
        );
        for kind in [ModalKind::Checklist, ModalKind::Output] {
            assert_eq!(labels(kind), ["j/k scroll", "Esc close", "a actions"]);
        }
    }

    #[test]
    fn quiet_keys_still_work() {
        let down = press(KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(
            lookup_modal(&down, ModalKind::Menu).map(|b| b.action),
            Some(Action::ScrollDown)
        );
        let shift_y = press(KeyCode::Char('Y'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup_modal(&shift_y, ModalKind::Confirm).map(|b| b.action),
            Some(Action::Run)
        );
    }

    #[test]
    fn a_pane_key_shadows_the_global_one_in_lookup_and_footer() {
        let enter = press(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(
            lookup(&enter, PaneId::Upstreams).map(|b| b.action),
            Some(Action::OpenDetail)
        );
        assert_eq!(
            lookup(&enter, PaneId::Host).map(|b| b.action),
            Some(Action::Zoom)
        );
        let footer: Vec<String> = footer(PaneId::Upstreams)
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
        assert!(footer.contains(&"Enter detail".to_string()), "{footer:?}");
        assert!(footer.contains(&"z zoom".to_string()), "{footer:?}");
    }

    #[test]
    fn shift_letters_and_ctrl_are_told_apart() {
        let g = lookup(
            &press(KeyCode::Char('G'), KeyModifiers::SHIFT),
            PaneId::Host,
        );
        assert_eq!(g.map(|b| b.action), Some(Action::Bottom));
        let c = lookup(
            &press(KeyCode::Char('c'), KeyModifiers::CONTROL),
            PaneId::Host,
        );
        assert_eq!(c.map(|b| b.action), Some(Action::Quit));
        assert!(lookup(&press(KeyCode::Char('c'), KeyModifiers::NONE), PaneId::Host).is_none());
        let back = lookup(&press(KeyCode::BackTab, KeyModifiers::SHIFT), PaneId::Dns);
        assert_eq!(back.map(|b| b.action), Some(Action::FocusPrev));
    }

    #[test]
    fn pane_keys_only_apply_in_their_pane() {
        let s = press(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(
            lookup(&s, PaneId::Host).map(|b| b.action),
            Some(Action::SortProcesses)
        );
        assert!(lookup(&s, PaneId::Logs).is_none());
    }

    #[test]
    fn labels_are_readable() {
        let labels: Vec<String> = footer(PaneId::Host)
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
        assert_eq!(
            labels,
            [
                "s sort",
                "/ filter",
                "q/^C quit",
                "? help",
                "Tab next pane",
                "1-4 pane",
                "Enter/z zoom",
                "j/↓ scroll",
                "r rerun",
                "a actions",
                "v verdict"
            ]
        );
    }
}

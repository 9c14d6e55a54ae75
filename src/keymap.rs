//! The one table of key bindings. The handler, the footer and the help screen all read it, so the
//! help can never describe a key that does something else.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Pane(PaneId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
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
    pub fn applies_to(&self, focus: PaneId) -> bool {
        match self.scope {
            Scope::Global => true,
            Scope::Pane(p) => p == focus,
        }
    }

    pub fn keys_label(&self) -> String {
        keys_label(self.keys)
    }
}

/// The binding a key press triggers with `focus` focused, pane bindings first.
pub fn lookup(ev: &KeyEvent, focus: PaneId) -> Option<&'static Binding> {
    let hit = |b: &&Binding| b.applies_to(focus) && b.keys.iter().any(|k| k.matches(ev));
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

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        let scopes = std::iter::once(Scope::Global).chain(PaneId::ALL.map(Scope::Pane));
        for scope in scopes {
            let mut seen: Vec<Key> = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.scope == scope) {
                for k in b.keys {
                    assert!(!seen.contains(k), "{} bound twice in {scope:?}", k.label());
                    seen.push(*k);
                }
            }
        }
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

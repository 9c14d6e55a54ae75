//! The one table of key bindings. The handler, the footer and the help screen all read it, so the
//! help can never describe a key that does something else. Popups have a scope of their own each:
//! while one is open only its keys count.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::pane::PaneId;
use crate::popup::ModalKind;

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
    SortUpstreams,
    FilterUpstreams,
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
    Timeline,
    WriteReport,
    // The Logs pane's filters and jumps (lnav-style search, issue 19).
    FilterIn,
    FilterOut,
    /// Esc in the Logs pane: the search, then each filter.
    ClearSearch,
    NextError,
    PrevError,
    GotoTime,
    // Cross-links between panes (issue 19).
    /// `L`: the Logs pane, only the lines of the upstream under the cursor.
    ShowUpstreamLogs,
    /// `U`: the Upstreams pane, only the upstreams written with the DNS name under the cursor.
    ShowNameUpstreams,
    // The log line detail, sideways scroll, copy and merged view (issue 19: logview).
    OpenLogDetail,
    ScrollLeft,
    ScrollRight,
    /// `y`: the selected log line to the clipboard (OSC 52); also in the line's detail.
    CopyLine,
    ToggleMerged,
    /// Freeze (small terminals, htop habits): the whole screen stops changing until pressed again.
    Freeze,
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
    /// The timeline's filter: the next event kind (then all again).
    CycleKind,
    /// Cross-links: the checklist's Enter, to the upstream the verdict names and its lines.
    ShowEvidence,
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

pub(super) const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
        quiet: false,
    }
}

pub(super) const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
        quiet: false,
    }
}

pub(super) const fn code(code: KeyCode) -> Key {
    Key {
        code,
        ctrl: false,
        quiet: false,
    }
}

pub(super) const fn quiet(k: Key) -> Key {
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

pub mod docs;
mod footer;
mod table;

pub use footer::{Hint, fit_footer, footer_rank, hint_width};
pub use table::BINDINGS;

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
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::F(n) => format!("F{n}"),
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
    modal_footer_hints(kind)
        .into_iter()
        .map(|h| (h.keys, h.word))
}

/// [`modal_footer`] with the action of each hint, for [`fit_footer`].
pub fn modal_footer_hints(kind: ModalKind) -> Vec<Hint> {
    let shown = in_scope(Scope::Modal(kind)).filter_map(|b| {
        b.footer
            .map(|word| Hint::new(loud_label(b.keys.iter().copied()), word, b.action))
    });
    merge_alike(shown)
}

/// Neighbours with the same word share one hint: "j/k scroll" for down and up.
fn merge_alike(hints: impl Iterator<Item = Hint>) -> Vec<Hint> {
    let mut out: Vec<Hint> = Vec::new();
    for hint in hints {
        match out.last_mut() {
            Some(last) if last.word == hint.word => {
                last.keys.push('/');
                last.keys.push_str(&hint.keys);
                last.rank = last.rank.min(hint.rank);
            }
            _ => out.push(hint),
        }
    }
    out
}

/// Bindings shown in the footer for the focused pane: the pane's own first, then global ones
/// without the keys the pane takes over (Enter opens a row where a pane has rows).
pub fn footer(focus: PaneId) -> impl Iterator<Item = (String, &'static str)> {
    footer_hints(focus).into_iter().map(|h| (h.keys, h.word))
}

/// [`footer`] with the action of each hint, for [`fit_footer`].
pub fn footer_hints(focus: PaneId) -> Vec<Hint> {
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
                .filter(|k| !k.quiet && !taken.contains(k))
                .collect();
            (!keys.is_empty()).then(|| (keys_label(&keys), b))
        });
    pane.into_iter()
        .map(|b| (loud_label(b.keys.iter().copied()), b))
        .chain(global)
        .filter_map(|(label, b)| b.footer.map(|f| Hint::new(label, f, b.action)))
        .collect()
}

/// The footer's label: the keys that are not quiet.
fn loud_label(keys: impl Iterator<Item = Key>) -> String {
    let keys: Vec<Key> = keys.filter(|k| !k.quiet).collect();
    keys_label(&keys)
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
    let labels: Vec<String> = keys.iter().map(Key::label).collect();
    // "/ F3 F4", not "//F3/F4", where `/` is one of the keys.
    let sep = if labels.iter().any(|l| l == "/") {
        " "
    } else {
        "/"
    };
    labels.join(sep)
}

#[cfg(test)]
mod tests;

//! The key table's invariants: no key twice in a scope, every popup leavable, footers that name
//! the keys they show.

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
    assert_eq!(labels(ModalKind::Search), ["Enter apply", "Esc cancel"]);
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
    assert_eq!(
        labels(ModalKind::Checklist),
        ["Enter evidence", "j/k scroll", "Esc close", "a actions"]
    );
    assert_eq!(
        labels(ModalKind::Output),
        ["j/k scroll", "Esc close", "a actions"]
    );
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
            "v verdict",
            "t timeline",
            "Z freeze"
        ]
    );
    // htop's function keys work but stay out of the footer; the help names them.
    let help = BINDINGS.iter().find(|b| b.action == Action::Help);
    assert_eq!(help.map(Binding::keys_label).as_deref(), Some("?/F1"));
}

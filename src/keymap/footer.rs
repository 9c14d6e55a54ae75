//! Which hints the footer keeps when it is narrower than all of them. The table's order says
//! where a hint shows; its rank here says what gives way first: on an 80-column terminal the
//! way out, the help and the keys that act on the diagnosis stay, moving around goes.

use super::Action;

/// One footer hint: the keys as shown, the word, and what it does (for its rank).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub keys: String,
    pub word: &'static str,
    pub rank: u8,
}

impl Hint {
    pub fn new(keys: String, word: &'static str, action: Action) -> Self {
        Hint {
            keys,
            word,
            rank: footer_rank(action),
        }
    }
}

/// Lower is kept longer. Quit and help first (htop's F1 and F10 habit: never hidden), then the
/// verdict, the actions and a rerun (what an on-call engineer came for), then the focused
/// pane's own keys and popups' keys, then moving around, which the help and the tabs also tell.
pub fn footer_rank(action: Action) -> u8 {
    match action {
        Action::Quit | Action::Close | Action::Cancel | Action::Clear => 0,
        Action::Help | Action::Run | Action::Accept => 1,
        Action::Checklist | Action::Choose | Action::PressButton | Action::ShowEvidence => 2,
        Action::OpenActions => 3,
        Action::Rerun => 4,
        Action::SortProcesses
        | Action::FilterProcesses
        | Action::SortUpstreams
        | Action::FilterUpstreams
        | Action::OpenDetail
        | Action::SearchLogs
        | Action::ToggleFollow
        | Action::CycleKind
        | Action::OpenLogDetail
        | Action::ShowUpstreamLogs
        | Action::ShowNameUpstreams => 5,
        Action::Timeline | Action::Freeze => 6,
        Action::CycleLevel
        | Action::CycleCause
        | Action::ToggleWrap
        | Action::FilterIn
        | Action::FilterOut
        | Action::ToggleMerged
        | Action::CopyLine => 7,
        Action::NextSource | Action::PrevSource | Action::Zoom => 8,
        Action::ScrollDown
        | Action::ScrollUp
        | Action::PageDown
        | Action::PageUp
        | Action::ScrollLeft
        | Action::ScrollRight => 9,
        Action::FocusNext | Action::FocusPrev | Action::FocusDigit => 10,
        Action::Top
        | Action::Bottom
        | Action::CloseDetail
        | Action::NextMatch
        | Action::PrevMatch
        | Action::NextError
        | Action::PrevError
        | Action::GotoTime
        | Action::ClearSearch
        | Action::Suspend
        | Action::ShowOutput
        | Action::WriteReport
        | Action::DeleteChar
        | Action::SwitchButton => 11,
    }
}

/// Cells a hint takes as the footer draws it: " keys" then " word ".
pub fn hint_width(hint: &Hint) -> usize {
    1 + hint.keys.chars().count() + 1 + hint.word.chars().count() + 1
}

/// The hints that fit in `width` cells, in their table order: the highest rank leaves first,
/// the later of two equal ranks before the earlier.
pub fn fit_footer(mut hints: Vec<Hint>, width: usize) -> Vec<Hint> {
    let mut used: usize = hints.iter().map(hint_width).sum();
    while used > width {
        let Some((drop, _)) = hints.iter().enumerate().max_by_key(|(i, h)| (h.rank, *i)) else {
            break;
        };
        used -= hint_width(&hints[drop]);
        hints.remove(drop);
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymap::{footer_hints, modal_footer_hints};
    use crate::pane::PaneId;
    use crate::popup::ModalKind;

    fn words(hints: &[Hint]) -> Vec<&str> {
        hints.iter().map(|h| h.word).collect()
    }

    #[test]
    fn at_80_columns_every_pane_keeps_quit_help_verdict_actions_and_rerun() {
        for pane in PaneId::ALL {
            let all = footer_hints(pane);
            let total: usize = all.iter().map(hint_width).sum();
            assert!(
                total > 80,
                "{pane:?}: the test needs a footer that overflows"
            );
            let kept = fit_footer(all, 80);
            let shown: usize = kept.iter().map(hint_width).sum();
            assert!(shown <= 80, "{pane:?}: {shown} cells");
            for word in ["quit", "help", "verdict", "actions", "rerun"] {
                assert!(words(&kept).contains(&word), "{pane:?}: {:?}", words(&kept));
            }
        }
    }

    #[test]
    fn hints_keep_their_table_order_and_the_least_important_leave_first() {
        let all = footer_hints(PaneId::Host);
        let kept = fit_footer(all.clone(), 50);
        let order: Vec<usize> = kept
            .iter()
            .map(|h| all.iter().position(|a| a == h).unwrap_or(usize::MAX))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        let worst_kept = kept.iter().map(|h| h.rank).max().unwrap_or(0);
        for dropped in all.iter().filter(|h| !kept.contains(h)) {
            assert!(
                dropped.rank >= worst_kept,
                "{dropped:?} left before a rank {worst_kept}"
            );
        }
        assert_eq!(fit_footer(footer_hints(PaneId::Host), 0), vec![]);
    }

    #[test]
    fn a_popup_footer_keeps_its_way_out() {
        for kind in ModalKind::ALL {
            let kept = fit_footer(modal_footer_hints(kind), 20);
            assert!(
                kept.iter().any(|h| h.rank == 0),
                "{kind:?}: {:?}",
                words(&kept)
            );
        }
    }
}

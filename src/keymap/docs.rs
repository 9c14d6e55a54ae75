//! The key table as documentation: docs/keys.md and the man page's KEYS section are rendered from
//! [`BINDINGS`] here, so neither can describe a key that does something else.

use crossterm::event::KeyCode;

use super::{BINDINGS, Binding, Key, Scope};
use crate::pane::PaneId;
use crate::popup::ModalKind;

/// Where a group of bindings applies, in the order the documents list them: everywhere, each
/// pane, then each popup.
pub fn scopes() -> Vec<(Scope, String)> {
    let mut out = vec![(Scope::Global, "Everywhere".to_string())];
    out.extend(
        PaneId::ALL
            .iter()
            .map(|p| (Scope::Pane(*p), format!("In the {} pane", p.title()))),
    );
    out.extend(
        ModalKind::ALL
            .iter()
            .map(|k| (Scope::Modal(*k), k.title().to_string())),
    );
    out
}

/// The bindings of one scope, in table order.
pub fn bindings_in(scope: Scope) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.scope == scope)
}

/// A key as the documents spell it: `Ctrl-C`, `Shift-Tab`, `Enter`, `q`.
pub fn key_name(k: &Key) -> String {
    match k.code {
        KeyCode::BackTab => "Shift-Tab".into(),
        // htop's function keys: `F1`, not the `F(1)` a debug print gives.
        KeyCode::F(n) if !k.ctrl => format!("F{n}"),
        // Arrows alike: ↑ ↓ are the labels the help shows, so ← → too.
        KeyCode::Left if !k.ctrl => "←".into(),
        KeyCode::Right if !k.ctrl => "→".into(),
        _ if k.ctrl => format!("Ctrl-{}", k.label().trim_start_matches('^')),
        _ => k.label(),
    }
}

/// The names of every key a binding answers to, quiet ones too.
pub fn key_names(b: &Binding) -> Vec<String> {
    b.keys.iter().map(key_name).collect()
}

/// docs/keys.md: every binding, grouped by where it applies.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Keys\n\n\
         <!-- Generated from src/keymap/table.rs by keymap::docs::markdown(); do not edit.\n     \
         Regenerate: GATEWATCH_BLESS=1 cargo test --test docs keys_doc -->\n\n\
         The footer, the `?` help screen, this page and the man page's KEYS section all come from\n\
         the one key table that handles the keys. While a popup is open only its own keys work\n\
         (and `Ctrl-C`, which always quits).\n",
    );
    for (scope, title) in scopes() {
        let rows: Vec<&Binding> = bindings_in(scope).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n## {title}\n\n| keys | what they do |\n|---|---|\n"
        ));
        for b in rows {
            let keys: Vec<String> = key_names(b).iter().map(|k| code_span(k)).collect();
            out.push_str(&format!(
                "| {} | {} |\n",
                keys.join(" "),
                b.help.replace('|', "\\|")
            ));
        }
    }
    out
}

/// A Markdown code span that holds any key name, a backtick included.
fn code_span(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_is_listed_once_under_its_scope() {
        let doc = markdown();
        for b in BINDINGS {
            assert!(doc.contains(b.help), "{:?} missing", b.help);
        }
        let listed: usize = scopes().iter().map(|(s, _)| bindings_in(*s).count()).sum();
        assert_eq!(
            listed,
            BINDINGS.len(),
            "a binding in a scope no section lists"
        );
    }

    #[test]
    fn keys_are_spelled_for_people() {
        assert_eq!(key_name(&super::super::ctrl('c')), "Ctrl-C");
        assert_eq!(key_name(&super::super::code(KeyCode::BackTab)), "Shift-Tab");
        assert_eq!(key_name(&super::super::key('/')), "/");
        assert_eq!(key_name(&super::super::code(KeyCode::F(10))), "F10");
        assert_eq!(code_span("`"), "`` ` ``");
    }
}

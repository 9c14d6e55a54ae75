//! Makes hostile text safe to put on the operator's terminal.
//!
//! Log lines, process command lines, DNS answers and command output can carry attacker-controlled
//! bytes. Anything that a terminal could interpret (C0 controls, ESC, DEL, the C1 range including the
//! 8-bit CSI U+009B) is replaced by a visible escape, so an OSC or CSI sequence can never retitle,
//! clear or reconfigure the terminal. Bidi overrides are escaped too: they cannot drive the terminal
//! but they can make a line read differently from what it says.

use std::borrow::Cow;

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Returns `s` with every control character made visible; borrows when nothing needed changing.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    // Fast path for the usual printable-ASCII line (log floods): a byte test the compiler
    // vectorises, instead of decoding chars.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Decodes bytes lossily (invalid UTF-8 becomes U+FFFD) and sanitises the result.
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(bytes)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(sanitize("GET /index.html"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_become_visible() {
        let hostile = "GET /\x1b]0;pwned\x07\x1b[2J\u{9b}31m\0\x7f";
        let clean = sanitize(hostile);
        assert_eq!(clean, "GET /\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m\\x00\\x7f");
        assert!(!clean.chars().any(|c| c.is_control()));
    }

    #[test]
    fn tabs_become_spaces_and_bidi_overrides_are_escaped() {
        assert_eq!(sanitize("a\tb\u{202e}c"), "a b\\u{202e}c");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        assert_eq!(sanitize_bytes(b"ok\xff\xfe\x1b"), "ok\u{fffd}\u{fffd}\\x1b");
    }
}

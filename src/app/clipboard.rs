//! Copying a log line to the operator's clipboard the way terminal tools do over SSH: an OSC 52
//! sequence the terminal turns into a clipboard write. Only sent to terminals known to honour it;
//! elsewhere it would be ignored at best and print garbage at worst, so `y` says why it did not
//! copy instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Forces the decision: `on` or `off`.
pub const OSC52_ENV: &str = "GATEWATCH_OSC52";

/// The most text one copy carries: terminals cap OSC 52 payloads (xterm at 100,000 bytes of
/// base64), and a log line is capped below this anyway.
pub const MAX_COPY: usize = 64 * 1024;

/// `TERM` values (or their prefixes) of terminals that write the clipboard on OSC 52.
const TERMS: [&str; 5] = [
    "xterm-kitty",
    "alacritty",
    "foot",
    "wezterm",
    "xterm-ghostty",
];
/// `TERM_PROGRAM` values of terminals that do, whatever `TERM` they claim.
const PROGRAMS: [&str; 2] = ["iTerm.app", "WezTerm"];

/// Whether `y` may copy through the terminal, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clipboard {
    Osc52,
    Off(String),
}

impl Default for Clipboard {
    fn default() -> Self {
        Clipboard::Off("the terminal's clipboard support is not known".into())
    }
}

/// Decides from the environment (`var` reads one variable): [`OSC52_ENV`] first, then tmux
/// (which drops an application's OSC 52 unless `set-clipboard on`), then the terminal's names.
pub fn decide(var: impl Fn(&str) -> Option<String>) -> Clipboard {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    match set(OSC52_ENV).as_deref().map(str::trim) {
        Some("on") => return Clipboard::Osc52,
        Some("off") => return Clipboard::Off(format!("{OSC52_ENV}=off")),
        Some(other) => {
            let other = crate::sanitize::sanitize(other);
            return Clipboard::Off(format!("{OSC52_ENV}={other:?}: use on or off"));
        }
        None => {}
    }
    if set("TMUX").is_some() {
        return Clipboard::Off(format!(
            "inside tmux, which needs `set -g set-clipboard on`; then {OSC52_ENV}=on"
        ));
    }
    let program = set("TERM_PROGRAM").unwrap_or_default();
    if PROGRAMS.contains(&program.as_str()) {
        return Clipboard::Osc52;
    }
    match set("TERM") {
        Some(term) if TERMS.iter().any(|t| term.starts_with(t)) => Clipboard::Osc52,
        Some(term) if term == "linux" => {
            Clipboard::Off("the Linux console has no clipboard".into())
        }
        Some(term) => {
            let term = crate::sanitize::sanitize(&term);
            Clipboard::Off(format!(
                "TERM={term} is not known to take OSC 52 copies; {OSC52_ENV}=on forces them"
            ))
        }
        None => Clipboard::Off("TERM is not set".into()),
    }
}

/// The OSC 52 sequence that puts `text` (at most [`MAX_COPY`] bytes of it, cut at a character)
/// in the clipboard, and whether it was cut. The text is sanitised again: whatever it holds, the
/// terminal receives base64 only between the sequence's ends.
pub fn osc52(text: &str) -> (Vec<u8>, bool) {
    let text = crate::sanitize::sanitize(text);
    let mut end = text.len().min(MAX_COPY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = b"\x1b]52;c;".to_vec();
    out.extend_from_slice(STANDARD.encode(&text.as_bytes()[..end]).as_bytes());
    out.push(0x07);
    (out, end < text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn known_terminals_copy_and_others_say_why_not() {
        for term in ["xterm-kitty", "alacritty", "foot", "foot-extra", "wezterm"] {
            assert_eq!(decide(env(&[("TERM", term)])), Clipboard::Osc52, "{term}");
        }
        assert_eq!(
            decide(env(&[
                ("TERM", "xterm-256color"),
                ("TERM_PROGRAM", "iTerm.app")
            ])),
            Clipboard::Osc52
        );
        assert_eq!(
            decide(env(&[
                ("TERM", "xterm-256color"),
                ("TERM_PROGRAM", "WezTerm")
            ])),
            Clipboard::Osc52
        );
        assert_eq!(
            decide(env(&[("TERM", "linux")])),
            Clipboard::Off("the Linux console has no clipboard".into())
        );
        let Clipboard::Off(why) = decide(env(&[("TERM", "xterm-256color")])) else {
            panic!("plain xterm needs allowWindowOps: not known");
        };
        assert!(why.contains("TERM=xterm-256color") && why.contains("GATEWATCH_OSC52=on"));
        assert_eq!(decide(env(&[])), Clipboard::Off("TERM is not set".into()));
    }

    #[test]
    fn tmux_is_off_unless_forced_and_the_override_wins() {
        let Clipboard::Off(why) = decide(env(&[("TERM", "xterm-kitty"), ("TMUX", "/tmp/t,1,0")]))
        else {
            panic!("tmux drops OSC 52 by default");
        };
        assert!(why.contains("set-clipboard on"), "{why}");
        assert_eq!(
            decide(env(&[("TMUX", "/tmp/t,1,0"), (OSC52_ENV, "on")])),
            Clipboard::Osc52
        );
        assert_eq!(
            decide(env(&[("TERM", "xterm-kitty"), (OSC52_ENV, "off")])),
            Clipboard::Off("GATEWATCH_OSC52=off".into())
        );
        let Clipboard::Off(why) = decide(env(&[("TERM", "xterm-kitty"), (OSC52_ENV, "\x1b[2J")]))
        else {
            panic!("an unknown value is refused");
        };
        assert!(!why.contains('\x1b'), "sanitised: {why:?}");
    }

    #[test]
    fn the_sequence_is_base64_between_osc_52_and_bel() {
        let (bytes, cut) = osc52("upstream: \"http://127.0.0.1:8080/\"");
        assert!(!cut);
        assert_eq!(
            bytes,
            b"\x1b]52;c;dXBzdHJlYW06ICJodHRwOi8vMTI3LjAuMC4xOjgwODAvIg==\x07".to_vec()
        );
        // A control byte never travels raw, even inside the payload.
        let (bytes, _) = osc52("a\x07b");
        let payload = &bytes[7..bytes.len() - 1];
        let decoded = STANDARD.decode(payload).expect("base64");
        assert_eq!(decoded, b"a\\x07b");
    }

    #[test]
    fn long_text_is_cut_at_a_character_within_the_cap() {
        let text = "é".repeat(MAX_COPY);
        let (bytes, cut) = osc52(&text);
        assert!(cut);
        let payload = &bytes[7..bytes.len() - 1];
        let decoded = STANDARD.decode(payload).expect("base64");
        assert_eq!(decoded.len(), MAX_COPY);
        assert!(String::from_utf8(decoded).is_ok(), "cut at a character");
    }
}

//! The man page the binary prints: every section, every key and config key, every environment
//! variable the code reads, and no page it points to that does not exist.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::Sandbox;
use gatewatch::keymap::BINDINGS;
use gatewatch::keymap::docs::key_names;

fn man_roff() -> String {
    let out = Sandbox::new().run(&["man"]);
    assert!(out.status.success(), "gatewatch man: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The page as `man` shows it, through groff; warnings (bad macros, bad escapes) fail the test.
fn man_text(roff: &str) -> String {
    let groff = common::require_tool(&["groff"], "apt-get install groff-base");
    let mut child = Command::new(groff)
        // -k: preconv first, as man(1) does, so UTF-8 (the arrow keys) is read as such.
        .args(["-k", "-man", "-Tutf8", "-ww", "-rLL=200n"])
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(roff.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("groff output");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "groff warns: {warnings}");
    // Drop overstrike (bold, underline) so plain text can be searched.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("\n{name}\n"))
        .unwrap_or_else(|| panic!("no {name} section"));
    let rest = &text[start + name.len() + 2..];
    // The next section heading starts at the left margin in capitals.
    let end = rest
        .lines()
        .scan(0, |pos, line| {
            let at = *pos;
            *pos += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, l)| {
            !l.is_empty()
                && !l.starts_with(' ')
                && l.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
        })
        .map_or(rest.len(), |(at, _)| at);
    &rest[..end]
}

#[test]
fn the_man_page_has_every_section() {
    let text = man_text(&man_roff());
    for name in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "KEYS",
        "CONFIGURATION",
        "EXIT STATUS",
        "FILES",
        "ENVIRONMENT",
    ] {
        assert!(!section(&text, name).trim().is_empty(), "{name} is empty");
    }
    assert!(
        !text.contains("gatewatch-check(1)") && !text.contains("gatewatch-"),
        "a page that does not exist is referred to"
    );
    let commands = section(&text, "COMMANDS");
    for sub in ["check", "report", "serve", "demo", "completions", "man"] {
        assert!(commands.contains(&format!("gatewatch {sub}")), "{sub}");
    }
    assert!(commands.contains("--format") && commands.contains("--listen"));
    assert!(
        !commands.contains("container-logs"),
        "hidden commands stay hidden"
    );
}

#[test]
fn every_binding_and_config_key_is_in_the_man_page() {
    let text = man_text(&man_roff());
    let keys = section(&text, "KEYS");
    for b in BINDINGS {
        // groff may break a long line: compare words.
        let flat: String = keys.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(b.help), "KEYS lacks {:?}", b.help);
        for k in key_names(b) {
            assert!(keys.contains(&k), "KEYS lacks the key {k:?}");
        }
    }
    let config = section(&text, "CONFIGURATION");
    for key in gatewatch::config::KEYS {
        assert!(
            config.lines().any(
                |l| l.trim_start().starts_with(&format!("{} ", key.key)) || l.trim() == key.key
            ),
            "CONFIGURATION lacks {}",
            key.key
        );
    }
    let exit = section(&text, "EXIT STATUS");
    for (code, word) in [(0, "ok"), (1, "warning"), (2, "critical"), (3, "unknown")] {
        assert!(
            exit.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.first() == Some(&code.to_string().as_str())
                    && words
                        .get(1)
                        .is_some_and(|w| w.trim_end_matches(':') == word)
            }),
            "EXIT STATUS lacks {code} {word}: {exit}"
        );
    }
    let files = section(&text, "FILES");
    for name in [
        gatewatch::config::SYSTEM_CONFIG_DIR,
        gatewatch::diagnostics::LOG_FILE,
        gatewatch::actions::AUDIT_FILE,
        "0700",
    ] {
        assert!(files.contains(name), "FILES lacks {name}");
    }
}

/// Every `GATEWATCH_*` name in the program's sources, and the other variables it reads, are
/// described under ENVIRONMENT.
#[test]
fn every_environment_variable_the_code_reads_is_described() {
    let text = man_text(&man_roff());
    let env = section(&text, "ENVIRONMENT");
    let mut names = std::collections::BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            for (i, _) in source.match_indices("\"GATEWATCH_") {
                let name: String = source[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                names.insert(name);
            }
            // Any other variable read by name: `var("TERM")`, `var_os("TMUX")`, `set("X")`.
            for call in ["var(\"", "var_os(\"", "set(\""] {
                for (i, _) in source.match_indices(call) {
                    let name: String = source[i + call.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if name.len() > 2 && source[i + call.len() + name.len()..].starts_with('"') {
                        names.insert(name);
                    }
                }
            }
            for var in [
                "NO_COLOR",
                "COLORTERM",
                "XDG_STATE_HOME",
                "XDG_CONFIG_HOME",
                "DOCKER_HOST",
                "SUDO_USER",
            ] {
                if source.contains(&format!("\"{var}\"")) {
                    names.insert(var.to_string());
                }
            }
        }
    }
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(env.contains(&name), "ENVIRONMENT lacks {name}");
    }
}

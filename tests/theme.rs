//! Themes as a user meets them: built-ins at every colour depth, user files, and their errors.

use std::fs;
use std::path::{Path, PathBuf};

use gatewatch::theme::{self, ColorDepth, Theme, ThemeError};
use ratatui::style::{Color, Modifier, Style};

const DEPTHS: [ColorDepth; 4] = [
    ColorDepth::TrueColor,
    ColorDepth::Ansi256,
    ColorDepth::Ansi16,
    ColorDepth::Monochrome,
];

fn builtin(name: &str, depth: ColorDepth) -> Theme {
    theme::load(name, None, depth).expect("built-in theme should load")
}

fn roles(theme: &Theme) -> Vec<(&'static str, Style)> {
    vec![
        ("text", theme.text),
        ("dim", theme.dim),
        ("accent", theme.accent),
        ("border", theme.border),
        ("border-focused", theme.border_focused),
        ("title", theme.title),
        ("title-focused", theme.title_focused),
        ("header", theme.header),
        ("footer-key", theme.footer_key),
        ("footer-text", theme.footer_text),
        ("selection", theme.selection),
        ("ok", theme.ok),
        ("warning", theme.warning),
        ("critical", theme.critical),
        ("unknown", theme.unknown),
        ("gauge-low", theme.gauge_low),
        ("gauge-mid", theme.gauge_mid),
        ("gauge-high", theme.gauge_high),
        ("popup", theme.popup),
    ]
}

fn colors(theme: &Theme) -> Vec<Color> {
    roles(theme)
        .into_iter()
        .flat_map(|(_, style)| [style.fg, style.bg])
        .flatten()
        .collect()
}

/// A config dir holding `themes/NAME.toml` files.
fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("themes")).expect("mkdir");
    for (name, text) in files {
        fs::write(dir.path().join("themes").join(format!("{name}.toml")), text).expect("write");
    }
    dir
}

fn theme_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("themes").join(format!("{name}.toml"))
}

#[test]
fn builtin_names_are_sorted() {
    assert_eq!(
        theme::builtin_names(),
        ["default", "high-contrast", "light", "monochrome"]
    );
}

#[test]
fn every_builtin_theme_loads_at_every_depth() {
    for name in theme::builtin_names() {
        for depth in DEPTHS {
            let theme = builtin(name, depth);
            let expected_name = if depth == ColorDepth::Monochrome {
                "monochrome"
            } else {
                name
            };
            assert_eq!(theme.name, expected_name);
            for color in colors(&theme) {
                match depth {
                    ColorDepth::TrueColor => {}
                    ColorDepth::Ansi256 => {
                        assert!(!matches!(color, Color::Rgb(..)), "{name}: {color:?} at 256")
                    }
                    ColorDepth::Ansi16 => assert!(
                        !matches!(color, Color::Rgb(..) | Color::Indexed(_)),
                        "{name}: {color:?} at 16"
                    ),
                    ColorDepth::Monochrome => panic!("{name}: colour {color:?} in monochrome"),
                }
            }
        }
    }
}

#[test]
fn themes_keep_states_and_focus_apart_at_every_depth() {
    for name in theme::builtin_names() {
        for depth in DEPTHS {
            let t = builtin(name, depth);
            let context = format!("theme {name} at {depth:?}");
            assert_ne!(t.ok, t.critical, "{context}: ok vs critical");
            assert_ne!(t.ok, t.warning, "{context}: ok vs warning");
            assert_ne!(t.warning, t.critical, "{context}: warning vs critical");
            assert_ne!(t.unknown, t.ok, "{context}: unknown vs ok");
            assert_ne!(t.border, t.border_focused, "{context}: border focus");
            assert_ne!(t.title, t.title_focused, "{context}: title focus");
            assert_ne!(t.selection, t.text, "{context}: selection vs text");
            assert_ne!(t.gauge_low, t.gauge_high, "{context}: gauge ends");
        }
    }
}

#[test]
fn default_theme_loses_nothing_in_16_colours() {
    let full = builtin("default", ColorDepth::TrueColor);
    let ansi16 = builtin("default", ColorDepth::Ansi16);
    assert_eq!(roles(&full), roles(&ansi16));
    // Selection must not depend on a background colour.
    assert!(full.selection.add_modifier.contains(Modifier::REVERSED));
    assert_eq!(full.selection.bg, None);
    assert_eq!(full.critical, Style::new().fg(Color::LightRed).bold());
}

#[test]
fn monochrome_has_no_colours_and_uses_emphasis() {
    for name in ["default", "light", "no-such-theme"] {
        let t = theme::load(name, None, ColorDepth::Monochrome).expect("monochrome");
        assert_eq!(t.name, "monochrome");
        assert!(
            colors(&t).is_empty(),
            "colours in monochrome: {:?}",
            colors(&t)
        );
        assert!(t.critical.add_modifier.contains(Modifier::REVERSED));
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
        assert!(t.border_focused.add_modifier.contains(Modifier::BOLD));
        assert_eq!(t.ok, Style::new());
    }
    // Asking for it by name at any depth gives the same colourless theme.
    assert!(colors(&builtin("monochrome", ColorDepth::TrueColor)).is_empty());
}

#[test]
fn light_theme_colours_follow_the_depth() {
    let critical = |depth| builtin("light", depth).critical.fg;
    assert_eq!(
        critical(ColorDepth::TrueColor),
        Some(Color::Rgb(0xd7, 0, 0))
    );
    assert_eq!(critical(ColorDepth::Ansi256), Some(Color::Indexed(160)));
    assert_eq!(critical(ColorDepth::Ansi16), Some(Color::Red));
    assert_eq!(
        builtin("light", ColorDepth::Ansi16).warning.fg,
        Some(Color::Yellow)
    );
}

#[test]
fn depth_mapping_of_user_colours() {
    let dir = user_dir(&[(
        "mine",
        "[styles]\ncritical = { fg = \"#ff0000\", bg = \"196\" }\nok = { fg = \"light-green\" }\n",
    )]);
    let load = |depth| theme::load("mine", Some(dir.path()), depth).expect("user theme");
    let t = load(ColorDepth::TrueColor);
    assert_eq!(t.critical.fg, Some(Color::Rgb(255, 0, 0)));
    assert_eq!(t.critical.bg, Some(Color::Indexed(196)));
    assert_eq!(t.ok.fg, Some(Color::LightGreen));
    let t = load(ColorDepth::Ansi256);
    assert_eq!(t.critical.fg, Some(Color::Indexed(196)));
    assert_eq!(t.critical.bg, Some(Color::Indexed(196)));
    let t = load(ColorDepth::Ansi16);
    assert!(matches!(t.critical.fg, Some(Color::Red | Color::LightRed)));
    assert!(matches!(t.critical.bg, Some(Color::Red | Color::LightRed)));
    assert_eq!(t.ok.fg, Some(Color::LightGreen));
}

#[test]
fn user_file_overrides_a_builtin_role_by_role() {
    let dir = user_dir(&[(
        "default",
        "# mine\n[styles]\ncritical = { fg = \"magenta\", underlined = true }\n",
    )]);
    let t = theme::load("default", Some(dir.path()), ColorDepth::TrueColor).expect("override");
    let stock = builtin("default", ColorDepth::TrueColor);
    assert_eq!(t.critical, Style::new().fg(Color::Magenta).underlined());
    assert_eq!(t.ok, stock.ok);
    assert_eq!(t.selection, stock.selection);
}

#[test]
fn partial_override_of_light_keeps_the_rest_of_light() {
    let dir = user_dir(&[("light", "[styles]\nok = { fg = \"blue\" }\n")]);
    let t = theme::load("light", Some(dir.path()), ColorDepth::TrueColor).expect("override");
    let light = builtin("light", ColorDepth::TrueColor);
    assert_eq!(t.ok, Style::new().fg(Color::Blue));
    assert_eq!(t.critical, light.critical);
    assert_eq!(t.dim, light.dim);
}

#[test]
fn new_user_theme_falls_back_to_default_for_missing_roles() {
    let dir = user_dir(&[("solarized", "[styles]\naccent = { fg = \"#268bd2\" }\n")]);
    let t = theme::load("solarized", Some(dir.path()), ColorDepth::TrueColor).expect("user theme");
    let stock = builtin("default", ColorDepth::TrueColor);
    assert_eq!(t.name, "solarized");
    assert_eq!(t.accent, Style::new().fg(Color::Rgb(0x26, 0x8b, 0xd2)));
    assert_eq!(t.critical, stock.critical);
    assert_eq!(t.popup, stock.popup);
    // An empty file is a valid theme too: all default.
    let dir = user_dir(&[("empty", "")]);
    let t = theme::load("empty", Some(dir.path()), ColorDepth::TrueColor).expect("empty theme");
    assert_eq!(roles(&t), roles(&stock));
}

#[test]
fn false_removes_a_modifier() {
    let dir = user_dir(&[("plain", "[styles]\nheader = { bold = false }\n")]);
    let t = theme::load("plain", Some(dir.path()), ColorDepth::TrueColor).expect("theme");
    assert_eq!(t.header, Style::new().not_bold());
    let patched = Style::new().bold().patch(t.header);
    assert!(!patched.add_modifier.contains(Modifier::BOLD));
}

#[test]
fn unknown_theme_lists_what_is_available() {
    let err = theme::load("solarised", None, ColorDepth::Ansi256).expect_err("unknown");
    assert!(matches!(err, ThemeError::Unknown { .. }));
    assert_eq!(
        err.to_string(),
        "unknown theme \"solarised\": available themes are default, high-contrast, light, monochrome"
    );
    let dir = user_dir(&[("solarized", ""), ("zenburn", "")]);
    fs::write(dir.path().join("themes/notes.txt"), "not a theme").expect("write");
    let err = theme::load("solarised", Some(dir.path()), ColorDepth::Ansi256).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown theme \"solarised\": available themes are default, high-contrast, light, \
         monochrome, solarized, zenburn"
    );
    // A config dir without a themes/ directory is fine.
    let empty = tempfile::tempdir().expect("tempdir");
    let err = theme::load("x", Some(empty.path()), ColorDepth::Ansi16).expect_err("unknown");
    assert!(
        err.to_string()
            .ends_with("are default, high-contrast, light, monochrome")
    );
}

#[test]
fn theme_names_cannot_escape_the_themes_directory() {
    let err = theme::load("../config", None, ColorDepth::Ansi16).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "invalid theme name \"../config\": use letters, digits, '-' and '_'"
    );
}

#[test]
fn user_theme_syntax_error() {
    let dir = user_dir(&[("broken", "[styles]\nok = { fg = \"green\" \n")]);
    let err = theme::load("broken", Some(dir.path()), ColorDepth::Ansi16).expect_err("broken");
    assert!(matches!(err, ThemeError::Invalid(_)));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:20: unclosed inline table, expected `}}`\n  |\n2 | ok = {{ fg = \"green\" \n  |                    ^",
            theme_path(dir.path(), "broken").display()
        )
    );
}

#[test]
fn user_theme_unknown_role() {
    let dir = user_dir(&[("typo", "[styles]\ncritcal = { fg = \"red\" }\n")]);
    let err = theme::load("typo", Some(dir.path()), ColorDepth::Ansi16).expect_err("typo");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:1: unknown field `critcal`, expected one of `text`, `dim`, `accent`, `border`, \
             `border-focused`, `title`, `title-focused`, `header`, `footer-key`, `footer-text`, \
             `selection`, `ok`, `warning`, `critical`, `unknown`, `gauge-low`, `gauge-mid`, \
             `gauge-high`, `popup`\n  |\n2 | critcal = {{ fg = \"red\" }}\n  | ^^^^^^^",
            theme_path(dir.path(), "typo").display()
        )
    );
}

#[test]
fn user_theme_unknown_style_key_and_section() {
    let dir = user_dir(&[
        ("key", "[styles]\nok = { fg = \"red\", colour = \"x\" }\n"),
        ("section", "[colors]\nok = \"red\"\n"),
    ]);
    let err = theme::load("key", Some(dir.path()), ColorDepth::Ansi16).expect_err("bad key");
    assert!(err.to_string().contains(
        ":2:20: unknown field `colour`, expected one of `fg`, `bg`, `bold`, `dim`, `italic`, \
         `underlined`, `reversed`\n"
    ));
    let err = theme::load("section", Some(dir.path()), ColorDepth::Ansi16).expect_err("bad");
    assert!(
        err.to_string()
            .contains(":1:2: unknown field `colors`, expected `styles`\n")
    );
}

#[test]
fn user_theme_bad_colour() {
    let dir = user_dir(&[(
        "bad",
        "[styles]\n\nwarning = { fg = \"orangeish\", bold = true }\n",
    )]);
    let err = theme::load("bad", Some(dir.path()), ColorDepth::Ansi16).expect_err("bad colour");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:18: invalid colour \"orangeish\" for `warning.fg`: expected a name like \"red\" \
             or \"lightblue\", \"reset\", \"#rrggbb\" or an index 0-255\n  |\n\
             3 | warning = {{ fg = \"orangeish\", bold = true }}\n  |                  ^^^^^^^^^^^",
            theme_path(dir.path(), "bad").display()
        )
    );
    let dir = user_dir(&[("bad", "[styles]\npopup = { bg = \"#12345\" }\n")]);
    let err = theme::load("bad", Some(dir.path()), ColorDepth::Ansi16).expect_err("bad colour");
    assert!(
        err.to_string()
            .contains(":2:16: invalid colour \"#12345\" for `popup.bg`")
    );
}

#[test]
fn unreadable_user_theme_is_an_error() {
    let dir = user_dir(&[]);
    fs::create_dir(theme_path(dir.path(), "default")).expect("mkdir");
    let err = theme::load("default", Some(dir.path()), ColorDepth::Ansi16).expect_err("dir");
    assert!(matches!(err, ThemeError::Read { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot read theme: a directory, not a regular file",
            theme_path(dir.path(), "default").display()
        )
    );
}

#[test]
fn user_monochrome_override_stays_colourless() {
    let dir = user_dir(&[(
        "monochrome",
        "[styles]\ncritical = { fg = \"red\", bold = true, underlined = true }\n",
    )]);
    let t = theme::load("default", Some(dir.path()), ColorDepth::Monochrome).expect("mono");
    assert_eq!(t.critical, Style::new().bold().underlined());
    assert!(colors(&t).is_empty());
}

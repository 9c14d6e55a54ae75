//! Themes: named sets of styles for every UI role, from `themes/*.toml` built into the binary or
//! from `<config dir>/themes/NAME.toml`, fitted to the terminal's colour depth at load.

mod background;
mod color;

use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use crate::config::{is_valid_theme_name, read_optional};
use crate::source_error::SourceError;
pub use background::{Background, chosen, pick, query as query_background};
pub use color::{ColorChoice, ColorDepth, detect_depth};

const DEFAULT_THEME: &str = include_str!("../../themes/default.toml");

/// Built-in themes, sorted by name. Embedded so the binary works wherever it is copied.
const BUILTIN: [(&str, &str); 4] = [
    ("default", DEFAULT_THEME),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("light", include_str!("../../themes/light.toml")),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

/// Declares the roles once, so `Theme` and the file format cannot drift apart.
macro_rules! roles {
    ($($(#[$doc:meta])* $role:ident),* $(,)?) => {
        /// The style of every UI role, ready to use at the terminal's colour depth.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct Theme {
            pub name: String,
            $($(#[$doc])* pub $role: Style,)*
        }

        /// Field order is the order serde lists the roles in "unknown field" errors.
        #[derive(Default, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct RawStyles {
            $($role: Option<RawStyle>,)*
        }

        /// A theme file's styles; `None` for roles the file leaves out.
        #[derive(Debug)]
        struct Styles {
            $($role: Option<Style>,)*
        }

        impl RawStyles {
            fn resolve(self, path: &Path, text: &str) -> Result<Styles, SourceError> {
                Ok(Styles {
                    $($role: self.$role
                        .map(|raw| raw.resolve(&role_key(stringify!($role)), path, text))
                        .transpose()?,)*
                })
            }
        }

        impl Styles {
            /// Roles this file sets win; the rest come from `base`.
            fn over(self, base: Styles) -> Styles {
                Styles { $($role: self.$role.or(base.$role),)* }
            }

            #[cfg(test)]
            fn missing(&self) -> Vec<String> {
                let mut missing = Vec::new();
                $(if self.$role.is_none() { missing.push(role_key(stringify!($role))); })*
                missing
            }

            fn into_theme(self, name: &str, depth: ColorDepth) -> Theme {
                Theme {
                    name: name.to_string(),
                    $($role: color::fit_style(self.$role.unwrap_or_default(), depth),)*
                }
            }
        }
    };
}

roles! {
    text,
    /// Secondary text: timestamps, units, hints.
    dim,
    accent,
    border,
    border_focused,
    title,
    title_focused,
    /// Table column headers.
    header,
    footer_key,
    footer_text,
    selection,
    ok,
    warning,
    critical,
    unknown,
    gauge_low,
    gauge_mid,
    gauge_high,
    popup,
}

fn role_key(field: &str) -> String {
    field.replace('_', "-")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    styles: RawStyles,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyle {
    fg: Option<Spanned<String>>,
    bg: Option<Spanned<String>>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
}

impl RawStyle {
    fn resolve(self, role: &str, path: &Path, text: &str) -> Result<Style, SourceError> {
        let color = |value: Option<Spanned<String>>, key: &str| {
            value
                .map(|value| {
                    value.get_ref().parse::<Color>().map_err(|_| {
                        SourceError::new(
                            path,
                            text,
                            Some(value.span()),
                            format!(
                                "invalid colour {:?} for `{role}.{key}`: expected a name like \
                                 \"red\" or \"lightblue\", \"reset\", \"#rrggbb\" or an index 0-255",
                                value.get_ref()
                            ),
                        )
                    })
                })
                .transpose()
        };
        let mut style = Style {
            fg: color(self.fg, "fg")?,
            bg: color(self.bg, "bg")?,
            ..Style::default()
        };
        for (flag, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ] {
            // `false` removes the modifier, so it also wins when this style is patched over another.
            style = match flag {
                Some(true) => style.add_modifier(modifier),
                Some(false) => style.remove_modifier(modifier),
                None => style,
            };
        }
        Ok(style)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("unknown theme {name:?}: available themes are {}", available.join(", "))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
    #[error("invalid theme name {name:?}: use letters, digits, '-' and '_'")]
    InvalidName { name: String },
    /// The io error is in the message and deliberately not a `source()`, to avoid printing it twice.
    #[error("{}: cannot read theme: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// Loads theme `name` for a terminal with `depth` colours.
///
/// `user_dir` is the config dir: `user_dir/themes/NAME.toml` replaces the built-in theme of that
/// name or adds a new one. Roles a user file leaves out come from the built-in theme of the same
/// name when there is one (so a file can tweak a few roles), else from `default`. Monochrome
/// ignores `name`: colour choices make no sense without colour.
pub fn load(name: &str, user_dir: Option<&Path>, depth: ColorDepth) -> Result<Theme, ThemeError> {
    let name = if depth == ColorDepth::Monochrome {
        "monochrome"
    } else {
        name
    };
    if !is_valid_theme_name(name) {
        return Err(ThemeError::InvalidName {
            name: name.to_string(),
        });
    }
    let user_file = user_dir.map(|dir| dir.join("themes").join(format!("{name}.toml")));
    let user_text = match &user_file {
        Some(path) => read_optional(path)
            .map_err(|error| ThemeError::Read {
                path: path.clone(),
                error,
            })?
            .map(|(text, _)| text),
        None => None,
    };
    let builtin = BUILTIN
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, text)| parse_builtin(name, text))
        .transpose()?;
    let styles = match (user_file.zip(user_text), builtin) {
        (Some((path, text)), Some(builtin)) => parse(&path, &text)?.over(builtin),
        (Some((path, text)), None) => parse(&path, &text)?,
        (None, Some(builtin)) => builtin,
        (None, None) => {
            return Err(ThemeError::Unknown {
                name: name.to_string(),
                available: available(user_dir),
            });
        }
    };
    // Whatever a theme leaves out comes from default, so every role always has a style.
    let styles = styles.over(parse_builtin("default", DEFAULT_THEME)?);
    Ok(styles.into_theme(name, depth))
}

fn parse_builtin(name: &str, text: &str) -> Result<Styles, SourceError> {
    parse(
        &PathBuf::from(format!("(built-in) themes/{name}.toml")),
        text,
    )
}

fn parse(path: &Path, text: &str) -> Result<Styles, SourceError> {
    let file: ThemeFile =
        toml::from_str(text).map_err(|err| SourceError::from_toml(path, text, &err))?;
    file.styles.resolve(path, text)
}

/// Built-in and user theme names, sorted, for the "unknown theme" message.
fn available(user_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = builtin_names().into_iter().map(String::from).collect();
    let user_files = user_dir
        .and_then(|dir| std::fs::read_dir(dir.join("themes")).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path());
    for path in user_files {
        if path.extension().is_some_and(|ext| ext == "toml")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            && is_valid_theme_name(stem)
        {
            names.push(stem.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_set_every_role() {
        // Otherwise a role would silently come from `default`, which may not suit the theme.
        for (name, text) in BUILTIN {
            let styles = parse_builtin(name, text).expect("built-in theme parses");
            assert_eq!(styles.missing(), Vec::<String>::new(), "theme {name}");
        }
    }

    #[test]
    fn missing_roles_are_reported_by_their_file_key() {
        let styles = parse(
            Path::new("t.toml"),
            "[styles]
text = {}
",
        )
        .expect("parses");
        let missing = styles.missing();
        assert_eq!(missing.len(), 18);
        assert!(missing.contains(&"border-focused".to_string()));
    }

    #[test]
    fn builtin_errors_name_the_embedded_file() {
        let err = parse_builtin(
            "x",
            "[styles]
ok = 1
",
        )
        .expect_err("invalid");
        assert!(
            err.to_string()
                .starts_with("(built-in) themes/x.toml:2:6: invalid type")
        );
    }
}

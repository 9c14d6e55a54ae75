//! Light or dark: with no theme chosen, a terminal with a light background gets the light theme.
//! The terminal is asked for its colours (OSC 10 and 11) through terminal-colorsaurus, which
//! tells a terminal that does not answer from one that is slow (it asks for the device
//! attributes too, which every terminal answers), restores the tty however it ends, and sends
//! nothing to TERM=dumb.

use std::io::IsTerminal;
use std::time::Duration;

use terminal_colorsaurus::QueryOptions;

/// The theme every other choice falls back to, for a dark (or unknown) background.
pub const DEFAULT_NAME: &str = "default";
/// The built-in theme for light backgrounds.
pub const LIGHT_NAME: &str = "light";

/// Enough for a local terminal or SSH within a region; a slower answer (SSH across an ocean)
/// falls back to the default theme rather than hold up the first frame. A terminal that does
/// not answer colour queries is known sooner, by its answer to the attributes query.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Background {
    Dark,
    Light,
    /// Not asked (no terminal on stdout) or no answer.
    Unknown,
}

impl Background {
    /// From the background's perceived lightness (0 black, 1 white): above the middle grey
    /// is light. The foreground is not asked: terminals that answer for the background (tmux
    /// with a `window-style`) may not for the foreground.
    pub fn of_lightness(lightness: Option<f32>) -> Self {
        match lightness {
            Some(l) if l > 0.5 => Background::Light,
            Some(_) => Background::Dark,
            None => Background::Unknown,
        }
    }
}

/// The theme a person chose: `--theme`, else the config's `theme` unless it is the default
/// (a config that names "default" cannot be told from one that names nothing).
pub fn chosen<'a>(flag: Option<&'a str>, config: &'a str) -> Option<&'a str> {
    flag.or(Some(config).filter(|name| *name != DEFAULT_NAME))
}

/// The theme to load: the chosen one, else light on a light background, else the default.
/// The terminal is asked only when nothing was chosen.
pub fn pick(chosen: Option<&str>, background: impl FnOnce() -> Background) -> String {
    match chosen {
        Some(name) => name.to_string(),
        None if background() == Background::Light => LIGHT_NAME.to_string(),
        None => DEFAULT_NAME.to_string(),
    }
}

/// Asks the terminal for its background, before the dashboard takes the screen. Never when
/// stdout or stdin is not a terminal (the answer would be about some other terminal, or never
/// come), nor when keys are already waiting: reading the answer consumes what was typed
/// ahead, and a person's first keys matter more than the theme.
///
/// A terminal that says its colours in `COLORFGBG` (rxvt, Konsole, and what a person or a test
/// sets) is believed without asking.
pub fn query() -> Background {
    let said = std::env::var("COLORFGBG").ok();
    if let Some(background) = said.as_deref().and_then(from_colorfgbg) {
        return background;
    }
    let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    ask(terminal && !typed_ahead())
}

/// `COLORFGBG` is "fg;bg" (or "fg;default;bg"), ANSI colour numbers: the background is the
/// last. As vim reads it: 0-6 and 8 are dark, the other numbers light; anything else (empty,
/// "default") says nothing.
pub fn from_colorfgbg(value: &str) -> Option<Background> {
    let bg: u8 = value.rsplit(';').next()?.trim().parse().ok()?;
    Some(match bg {
        0..=6 | 8 => Background::Dark,
        _ => Background::Light,
    })
}

/// Whether keys wait on stdin. Raw mode for the look: a terminal in line mode shows nothing
/// to read until Enter. The keys stay where they are for the dashboard.
fn typed_ahead() -> bool {
    if crossterm::terminal::enable_raw_mode().is_err() {
        return true;
    }
    let waiting = input_waiting();
    // Back to the mode the dashboard enters raw mode from; a failure here would show there.
    let _ = crossterm::terminal::disable_raw_mode();
    waiting
}

/// Whether stdin has bytes to read now.
fn input_waiting() -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: std::io::stdin().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a zero timeout: poll only reads and writes `pfd`.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}

fn ask(may_ask: bool) -> Background {
    if !may_ask {
        return Background::Unknown;
    }
    let mut options = QueryOptions::default();
    options.timeout = QUERY_TIMEOUT;
    let colour = terminal_colorsaurus::background_color(options);
    if let Err(e) = &colour {
        tracing::debug!(error = %e, "the terminal did not tell its background");
    }
    Background::of_lightness(colour.ok().map(|c| c.perceived_lightness()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_theme_wins_whatever_the_background() {
        for bg in [Background::Dark, Background::Light, Background::Unknown] {
            assert_eq!(pick(Some("monochrome"), || bg), "monochrome");
            assert_eq!(pick(Some("default"), || bg), "default");
        }
    }

    #[test]
    fn with_none_chosen_only_a_light_background_gets_the_light_theme() {
        assert_eq!(pick(None, || Background::Light), "light");
        assert_eq!(pick(None, || Background::Dark), "default");
        assert_eq!(pick(None, || Background::Unknown), "default");
    }

    #[test]
    fn the_terminal_is_not_asked_when_a_theme_was_chosen() {
        let mut asked = false;
        pick(Some("light"), || {
            asked = true;
            Background::Dark
        });
        assert!(!asked);
    }

    #[test]
    fn the_flag_then_a_config_that_names_a_theme_count_as_chosen() {
        assert_eq!(chosen(Some("light"), "monochrome"), Some("light"));
        assert_eq!(chosen(None, "monochrome"), Some("monochrome"));
        assert_eq!(chosen(None, DEFAULT_NAME), None);
        assert_eq!(chosen(Some(DEFAULT_NAME), DEFAULT_NAME), Some("default"));
    }

    #[test]
    fn the_answer_maps_to_a_background() {
        use terminal_colorsaurus::Color;
        let of =
            |r, g, b| Background::of_lightness(Some(Color::rgb(r, g, b).perceived_lightness()));
        assert_eq!(of(0xffff, 0xffff, 0xffff), Background::Light);
        // Solarized light's base3, a light background that is not white.
        assert_eq!(of(0xfdfd, 0xf6f6, 0xe3e3), Background::Light);
        assert_eq!(of(0, 0, 0), Background::Dark);
        // Solarized dark's base03.
        assert_eq!(of(0x0000, 0x2b2b, 0x3636), Background::Dark);
        assert_eq!(Background::of_lightness(None), Background::Unknown);
    }

    #[test]
    fn colorfgbg_tells_the_background_without_a_query() {
        assert_eq!(from_colorfgbg("15;0"), Some(Background::Dark));
        assert_eq!(from_colorfgbg("0;15"), Some(Background::Light));
        assert_eq!(from_colorfgbg("0;default;7"), Some(Background::Light));
        assert_eq!(from_colorfgbg("7;8"), Some(Background::Dark));
        assert_eq!(from_colorfgbg("15;default"), None);
        assert_eq!(from_colorfgbg(""), None);
    }

    #[test]
    fn no_terminal_on_stdout_is_never_asked() {
        let started = std::time::Instant::now();
        assert_eq!(ask(false), Background::Unknown);
        assert!(
            started.elapsed() < QUERY_TIMEOUT,
            "answered without waiting"
        );
    }
}

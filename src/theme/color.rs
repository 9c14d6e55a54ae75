//! How many colours the terminal can show, and fitting theme colours into that.

use ratatui::style::{Color, Style};

/// The `--color` flag.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Never,
    #[value(name = "16")]
    Ansi16,
    #[value(name = "256")]
    Ansi256,
    Truecolor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorDepth {
    Monochrome,
    Ansi16,
    Ansi256,
    TrueColor,
}

/// Picks the colour depth from the flag, else from the environment. Guesses low when unsure:
/// tmux or screen over SSH (`TERM=screen`, no `COLORTERM`) gets 16 colours, which always work.
pub fn detect_depth(choice: ColorChoice, env: &dyn Fn(&str) -> Option<String>) -> ColorDepth {
    match choice {
        ColorChoice::Never => return ColorDepth::Monochrome,
        ColorChoice::Ansi16 => return ColorDepth::Ansi16,
        ColorChoice::Ansi256 => return ColorDepth::Ansi256,
        ColorChoice::Truecolor => return ColorDepth::TrueColor,
        ColorChoice::Auto => {}
    }
    // https://no-color.org: set and non-empty means no colour, whatever its value.
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return ColorDepth::Monochrome;
    }
    let term = env("TERM").unwrap_or_default();
    if term == "dumb" {
        return ColorDepth::Monochrome;
    }
    let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
    if colorterm == "truecolor" || colorterm == "24bit" {
        ColorDepth::TrueColor
    } else if term.contains("256color") {
        ColorDepth::Ansi256
    } else {
        ColorDepth::Ansi16
    }
}

/// Rewrites a style's colours so the terminal can show them; monochrome drops them all.
pub(super) fn fit_style(style: Style, depth: ColorDepth) -> Style {
    let fit = |color: Option<Color>| match depth {
        ColorDepth::Monochrome => None,
        _ => color.map(|c| fit_color(c, depth)),
    };
    Style {
        fg: fit(style.fg),
        bg: fit(style.bg),
        ..style
    }
}

pub(super) fn fit_color(color: Color, depth: ColorDepth) -> Color {
    match (depth, color) {
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256(r, g, b)),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_16(r, g, b),
        (ColorDepth::Ansi16, Color::Indexed(i)) => match ANSI16.get(usize::from(i)) {
            Some(&named) => named,
            None => {
                let (r, g, b) = indexed_rgb(i);
                nearest_16(r, g, b)
            }
        },
        _ => color,
    }
}

/// The 16 named colours in index order (Gray is ANSI 7, DarkGray is ANSI 8).
const ANSI16: [Color; 16] = [
    Color::Black,
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::Gray,
    Color::DarkGray,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightCyan,
    Color::White,
];

/// Levels of the 6x6x6 colour cube in the xterm 256-colour palette.
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// Nearest entry of the cube (16-231) or the grey ramp (232-255). The first 16 are skipped:
/// every terminal theme redefines them, so their real colour is unknown.
fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    let level = |v: u8| -> usize {
        match v {
            0..48 => 0,
            48..115 => 1,
            _ => usize::from((v - 35) / 40),
        }
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube = (CUBE[ri], CUBE[gi], CUBE[bi]);
    let cube_index = 16 + 36 * ri + 6 * gi + bi;

    let mean = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let grey_step = (mean.saturating_sub(3) / 10).min(23);
    let grey = (8 + 10 * grey_step) as u8;
    let grey_index = 232 + grey_step;

    let index = if distance((r, g, b), (grey, grey, grey)) < distance((r, g, b), cube) {
        usize::from(grey_index)
    } else {
        cube_index
    };
    u8::try_from(index).unwrap_or(u8::MAX)
}

/// Nearest named colour, keeping the hue: an orange warning must stay yellowish rather than
/// become the grey that plain RGB distance would often pick for a muted colour.
fn nearest_16(r: u8, g: u8, b: u8) -> Color {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let chroma = max - min;
    if chroma < 64 {
        let luma = (u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114) / 1000;
        return match luma {
            0..64 => Color::Black,
            64..178 => Color::DarkGray,
            178..242 => Color::Gray,
            _ => Color::White,
        };
    }
    let (rf, gf, bf, c) = (f32::from(r), f32::from(g), f32::from(b), f32::from(chroma));
    let hue = if max == r {
        ((gf - bf) / c).rem_euclid(6.0)
    } else if max == g {
        (bf - rf) / c + 2.0
    } else {
        (rf - gf) / c + 4.0
    };
    // Sectors of 60 degrees centred on red, yellow, green, cyan, blue, magenta.
    let sector = (hue.round() as usize) % 6;
    let bright = max >= 240 || (u16::from(max) + u16::from(min)) / 2 >= 170;
    let (normal, light) = [
        (Color::Red, Color::LightRed),
        (Color::Yellow, Color::LightYellow),
        (Color::Green, Color::LightGreen),
        (Color::Cyan, Color::LightCyan),
        (Color::Blue, Color::LightBlue),
        (Color::Magenta, Color::LightMagenta),
    ][sector];
    if bright { light } else { normal }
}

/// The xterm RGB value of a palette index from 16 up.
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        16..=231 => {
            let i = usize::from(i - 16);
            (CUBE[i / 36], CUBE[(i / 6) % 6], CUBE[i % 6])
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
        // The first 16 are themed per terminal; these are xterm's defaults.
        _ => [
            (0, 0, 0),
            (205, 0, 0),
            (0, 205, 0),
            (205, 205, 0),
            (0, 0, 238),
            (205, 0, 205),
            (0, 205, 205),
            (229, 229, 229),
            (127, 127, 127),
            (255, 0, 0),
            (0, 255, 0),
            (255, 255, 0),
            (92, 92, 255),
            (255, 0, 255),
            (0, 255, 255),
            (255, 255, 255),
        ][usize::from(i)],
    }
}

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> i32 {
    let d = |x: u8, y: u8| i32::from(x) - i32::from(y);
    let (dr, dg, db) = (d(a.0, b.0), d(a.1, b.1), d(a.2, b.2));
    // Weighted like the eye: green differences show most, blue least.
    2 * dr * dr + 4 * dg * dg + 3 * db * db
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn explicit_choice_wins_over_environment() {
        let e = env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")]);
        assert_eq!(
            detect_depth(ColorChoice::Truecolor, &e),
            ColorDepth::TrueColor
        );
        assert_eq!(detect_depth(ColorChoice::Ansi256, &e), ColorDepth::Ansi256);
        assert_eq!(detect_depth(ColorChoice::Ansi16, &e), ColorDepth::Ansi16);
        let e = env(&[("COLORTERM", "truecolor")]);
        assert_eq!(detect_depth(ColorChoice::Never, &e), ColorDepth::Monochrome);
    }

    #[test]
    fn auto_reads_the_environment() {
        let depth = |vars: &[(&str, &str)]| detect_depth(ColorChoice::Auto, &env(vars));
        assert_eq!(
            depth(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")]),
            ColorDepth::Monochrome
        );
        assert_eq!(
            depth(&[("NO_COLOR", ""), ("TERM", "xterm-256color")]),
            ColorDepth::Ansi256
        );
        assert_eq!(
            depth(&[("TERM", "dumb"), ("COLORTERM", "truecolor")]),
            ColorDepth::Monochrome
        );
        assert_eq!(
            depth(&[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")]),
            ColorDepth::TrueColor
        );
        assert_eq!(
            depth(&[("TERM", "xterm"), ("COLORTERM", "24bit")]),
            ColorDepth::TrueColor
        );
        assert_eq!(depth(&[("TERM", "tmux-256color")]), ColorDepth::Ansi256);
        assert_eq!(depth(&[("TERM", "screen")]), ColorDepth::Ansi16);
        assert_eq!(depth(&[("TERM", "linux")]), ColorDepth::Ansi16);
        assert_eq!(depth(&[]), ColorDepth::Ansi16);
    }

    #[test]
    fn choice_names_match_the_flag_values() {
        use clap::ValueEnum;
        let names: Vec<_> = ColorChoice::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(names, ["auto", "never", "16", "256", "truecolor"]);
    }

    #[test]
    fn rgb_maps_to_the_256_palette() {
        assert_eq!(nearest_256(255, 0, 0), 196);
        assert_eq!(nearest_256(0, 0, 0), 16);
        assert_eq!(nearest_256(255, 255, 255), 231);
        assert_eq!(nearest_256(0x5f, 0x87, 0xaf), 67);
        assert_eq!(nearest_256(0x80, 0x80, 0x80), 244);
        assert_eq!(nearest_256(0x30, 0x30, 0x30), 236);
        // Every palette colour maps back to itself (greys may land on an equal cube grey).
        for i in 16..=255u8 {
            let (r, g, b) = indexed_rgb(i);
            assert_eq!(indexed_rgb(nearest_256(r, g, b)), (r, g, b), "index {i}");
        }
    }

    #[test]
    fn rgb_maps_to_16_keeping_the_hue() {
        assert_eq!(nearest_16(255, 0, 0), Color::LightRed);
        assert_eq!(nearest_16(0xd7, 0, 0), Color::Red);
        assert_eq!(nearest_16(0xaf, 0x5f, 0), Color::Yellow);
        assert_eq!(nearest_16(0, 0x87, 0), Color::Green);
        assert_eq!(nearest_16(0x87, 0, 0xaf), Color::Magenta);
        assert_eq!(nearest_16(0x87, 0xd7, 0xff), Color::LightCyan);
        assert_eq!(nearest_16(0x00, 0x5f, 0xd7), Color::Blue);
        assert_eq!(nearest_16(0x1c, 0x1c, 0x1c), Color::Black);
        assert_eq!(nearest_16(0x76, 0x76, 0x76), Color::DarkGray);
        assert_eq!(nearest_16(0xd0, 0xd0, 0xd0), Color::Gray);
        assert_eq!(nearest_16(0xff, 0xff, 0xff), Color::White);
    }

    #[test]
    fn fitting_by_depth() {
        let red = Color::Rgb(255, 0, 0);
        assert_eq!(fit_color(red, ColorDepth::TrueColor), red);
        assert_eq!(fit_color(red, ColorDepth::Ansi256), Color::Indexed(196));
        assert_eq!(fit_color(red, ColorDepth::Ansi16), Color::LightRed);
        assert_eq!(
            fit_color(Color::Indexed(196), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(fit_color(Color::Indexed(1), ColorDepth::Ansi16), Color::Red);
        assert_eq!(
            fit_color(Color::Indexed(8), ColorDepth::Ansi16),
            Color::DarkGray
        );
        assert_eq!(
            fit_color(Color::Indexed(100), ColorDepth::Ansi256),
            Color::Indexed(100)
        );
        assert_eq!(fit_color(Color::Blue, ColorDepth::Ansi16), Color::Blue);
        assert_eq!(fit_color(Color::Reset, ColorDepth::Ansi16), Color::Reset);
        let style = Style::new().fg(red).bg(Color::Blue).bold();
        assert_eq!(
            fit_style(style, ColorDepth::Monochrome),
            Style::new().bold()
        );
    }
}

//! Compact number formatting for narrow panes, htop style.

use std::time::Duration;

/// Bytes with a binary suffix: "512B", "12.3M", "1.20G".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n}B"),
        _ if v < 10.0 => format!("{v:.2}{}", UNITS[unit]),
        _ if v < 100.0 => format!("{v:.1}{}", UNITS[unit]),
        _ => format!("{v:.0}{}", UNITS[unit]),
    }
}

/// Counts with an SI suffix so a kernel's 9223372036854775807 file-max stays short: "9.2E", "21k".
pub fn count(n: u64) -> String {
    const UNITS: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    if n < 10_000 {
        return n.to_string();
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// Uptime like htop: "3d 04:12", "04:12:09".
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

/// `text` padded to `width` characters, or cut to it with a trailing `…`. Sanitised first, as a
/// last guard: the engine cleans what it reads, and a control character that slipped through
/// shows as `\x1b` rather than vanishing in the terminal backend.
pub fn fit(text: &str, width: usize) -> String {
    let text = crate::sanitize::sanitize(text);
    let n = text.chars().count();
    if n <= width {
        format!("{text:<width$}")
    } else if width > 0 {
        let cut: String = text.chars().take(width - 1).collect();
        format!("{cut}…")
    } else {
        String::new()
    }
}

pub fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (part / whole * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_shows_control_characters_escaped() {
        assert_eq!(fit("a\x1b[2J", 8), "a\\x1b[2J");
        assert_eq!(fit("a\x1b[2J", 4), "a\\x…");
    }

    #[test]
    fn formats_are_short() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536 * 1024), "1.50M");
        assert_eq!(bytes(24 * (1 << 30)), "24.0G");
        assert_eq!(count(1184), "1184");
        assert_eq!(count(20_950), "21k");
        assert_eq!(count(9_223_372_036_854_775_807), "9.2E");
        assert_eq!(count(28_232_000), "28M");
        assert_eq!(
            uptime(Duration::from_secs(3 * 86_400 + 4 * 3600 + 12 * 60)),
            "3d 04:12"
        );
        assert_eq!(
            uptime(Duration::from_secs(4 * 3600 + 12 * 60 + 9)),
            "04:12:09"
        );
        assert_eq!(percent(1.0, 0.0), 0.0);
    }
}

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

/// Uptime to the minute: "12m", "4h 12m", "3d 04:12". Seconds would change the line at every
/// sample and repaint it on an idle screen for a figure nobody reads to the second.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (days, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m:02}m"),
        _ => format!("{days}d {h:02}:{m:02}"),
    }
}

/// How old figures are, in steps a person would notice: nothing under `fresh` (figures that
/// recent are as current as the screen needs, and a count of seconds would repaint at every
/// sample), then "30s", whole minutes and whole hours. Changes at most once a minute.
pub fn stale_age(age: Duration, fresh: Duration) -> Option<String> {
    let s = age.as_secs();
    if age < fresh {
        None
    } else if s < 60 {
        Some(format!("{}s", s / 30 * 30))
    } else if s < 3600 {
        Some(format!("{}m", s / 60))
    } else {
        Some(format!("{}h", s / 3600))
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
            "4h 12m"
        );
        assert_eq!(uptime(Duration::from_secs(12 * 60 + 59)), "12m");
        assert_eq!(percent(1.0, 0.0), 0.0);
    }

    #[test]
    fn uptime_changes_once_a_minute() {
        let shown: std::collections::BTreeSet<String> = (0..60)
            .map(|s| uptime(Duration::from_secs(5 * 3600 + 52 * 60 + s)))
            .collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
    }

    #[test]
    fn stale_ages_are_hidden_while_fresh_then_coarse() {
        let fresh = Duration::from_secs(30);
        let age = |s| stale_age(Duration::from_secs(s), fresh);
        assert_eq!(age(0), None);
        assert_eq!(age(29), None);
        assert_eq!(age(30).as_deref(), Some("30s"));
        assert_eq!(age(59).as_deref(), Some("30s"));
        assert_eq!(age(61).as_deref(), Some("1m"));
        assert_eq!(age(3599).as_deref(), Some("59m"));
        assert_eq!(age(7300).as_deref(), Some("2h"));
        // A minute of samples two seconds apart shows at most two different labels.
        let shown: std::collections::BTreeSet<_> = (60..120).step_by(2).map(age).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
    }
}

//! Package changes from dpkg's and apt's own logs:
//!
//! - `/var/log/dpkg.log`: one line per action, `2026-12-01 14:02:03 upgrade nginx:amd64 1.22.1-9
//!   1.22.1-9+deb12u1` (also `install`, `remove`, `purge`); the `status`, `configure`,
//!   `trigproc` and `startup` lines around each action are the same change again, left out.
//! - `/var/log/apt/history.log`: one block per apt run, `Start-Date:`, `Commandline:`, then
//!   `Install:`/`Upgrade:`/`Remove:`... lists, `End-Date:`; one event per block.
//!
//! Both are local time. Read them with [`super::read_tail`]: a years-old dpkg.log is megabytes,
//! and the incident is at its end.

use crate::logs::{Format, TimeParser};

use super::event::{Event, EventKind};

/// Packages named in one history event's text; the rest are counted.
const NAMED_PACKAGES: usize = 5;

/// The events of a dpkg.log text, oldest first; `source` names the file.
pub fn dpkg_events(text: &str, source: &str, times: &mut TimeParser) -> Vec<Event> {
    text.lines()
        .filter_map(|line| dpkg_line(line, source, times))
        .collect()
}

fn dpkg_line(line: &str, source: &str, times: &mut TimeParser) -> Option<Event> {
    let stamp = line.get(..19)?;
    let b = stamp.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || b[10] != b' ' {
        return None;
    }
    let at = times.parse(Format::NginxError, stamp)?;
    let mut words = line[19..].split_ascii_whitespace();
    let action = words.next()?;
    if !matches!(action, "install" | "upgrade" | "remove" | "purge") {
        return None;
    }
    let package = words.next()?;
    let old = words.next()?;
    let new = words.next()?;
    if words.next().is_some() {
        return None;
    }
    let text = match (old, new) {
        ("<none>", new) => format!("{action} {package} {new}"),
        (old, "<none>") => format!("{action} {package} {old}"),
        (old, new) => format!("{action} {package} {old} -> {new}"),
    };
    Some(Event::new(at, EventKind::PackageChange, source, &text))
}

/// The events of an apt history.log text, one per block with a start date and at least one
/// change, oldest first.
pub fn history_events(text: &str, source: &str, times: &mut TimeParser) -> Vec<Event> {
    let mut events = Vec::new();
    let mut block = Block::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let value = value.trim();
        match key {
            "Start-Date" => {
                block.finish(source, &mut events);
                block = Block {
                    at: history_time(value, times),
                    ..Block::default()
                };
            }
            "Commandline" => block.command = Some(value.to_string()),
            "Install" | "Upgrade" | "Downgrade" | "Remove" | "Purge" | "Reinstall" => {
                let verb = key.to_ascii_lowercase();
                for package in packages(value) {
                    block.changes += 1;
                    if block.named.len() < NAMED_PACKAGES {
                        block.named.push(format!("{verb} {package}"));
                    }
                }
            }
            "End-Date" => block.finish(source, &mut events),
            _ => {}
        }
    }
    block.finish(source, &mut events);
    events
}

#[derive(Default)]
struct Block {
    at: Option<i64>,
    command: Option<String>,
    named: Vec<String>,
    changes: usize,
}

impl Block {
    fn finish(&mut self, source: &str, events: &mut Vec<Event>) {
        let block = std::mem::take(self);
        let Some(at) = block.at else { return };
        if block.changes == 0 {
            return;
        }
        let mut text = block.named.join(", ");
        if block.changes > block.named.len() {
            text.push_str(&format!(" and {} more", block.changes - block.named.len()));
        }
        if let Some(command) = block.command {
            text = format!("{command}: {text}");
        }
        events.push(Event::new(at, EventKind::PackageChange, source, &text));
    }
}

/// `2026-12-01  14:02:01` (apt pads with two spaces).
fn history_time(value: &str, times: &mut TimeParser) -> Option<i64> {
    let mut parts = value.split_ascii_whitespace();
    let stamp = format!("{} {}", parts.next()?, parts.next()?);
    if stamp.len() != 19 || stamp.as_bytes()[4] != b'-' {
        return None;
    }
    times.parse(Format::NginxError, &stamp)
}

/// `nginx:amd64 (1.22.1-9, 1.22.1-9+deb12u1), libfoo:amd64 (2.0, automatic)` as `nginx:amd64
/// 1.22.1-9 -> 1.22.1-9+deb12u1`, `libfoo:amd64 2.0`: commas split packages only outside
/// parentheses.
fn packages(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut from = 0;
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(package(&list[from..i]));
                from = i + 1;
            }
            _ => {}
        }
    }
    if !list[from..].trim().is_empty() {
        out.push(package(&list[from..]));
    }
    out
}

fn package(entry: &str) -> String {
    let entry = entry.trim();
    let Some((name, versions)) = entry.split_once(" (") else {
        return entry.to_string();
    };
    let versions: Vec<&str> = versions
        .trim_end_matches(')')
        .split(", ")
        .filter(|v| *v != "automatic")
        .collect();
    match versions.as_slice() {
        [old, new] => format!("{name} {old} -> {new}"),
        [one] => format!("{name} {one}"),
        _ => name.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    /// 2026-12-01 14:02:03 UTC.
    const T: i64 = 1_796_133_723;

    fn utc() -> TimeParser {
        TimeParser::new(TimeZone::UTC)
    }

    const DPKG: &str = "\
2026-12-01 14:02:01 startup archives unpack
2026-12-01 14:02:03 upgrade nginx:amd64 1.22.1-9 1.22.1-9+deb12u1
2026-12-01 14:02:03 status half-configured nginx:amd64 1.22.1-9
2026-12-01 14:02:04 configure nginx:amd64 1.22.1-9+deb12u1 <none>
2026-12-01 14:02:04 status installed nginx:amd64 1.22.1-9+deb12u1
2026-12-01 14:02:05 install jq:amd64 <none> 1.6-2.1
2026-12-01 14:02:06 remove php8.2-fpm:amd64 8.2.20-1 <none>
2026-12-01 14:02:07 purge php8.2-fpm:amd64 8.2.20-1 <none>
2026-12-01 14:02:08 trigproc man-db:amd64 2.11.2-2 <none>
";

    #[test]
    fn dpkg_actions_are_events_and_the_status_noise_is_not() {
        let events = dpkg_events(DPKG, "/var/log/dpkg.log", &mut utc());
        let got: Vec<(i64, &str)> = events.iter().map(|e| (e.at - T, e.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (0, "upgrade nginx:amd64 1.22.1-9 -> 1.22.1-9+deb12u1"),
                (2, "install jq:amd64 1.6-2.1"),
                (3, "remove php8.2-fpm:amd64 8.2.20-1"),
                (4, "purge php8.2-fpm:amd64 8.2.20-1"),
            ]
        );
        assert!(events.iter().all(|e| e.kind == EventKind::PackageChange));
        assert_eq!(events[0].source, "/var/log/dpkg.log");
    }

    #[test]
    fn dpkg_near_misses_hostile_and_truncated_lines() {
        let text = "2026-12-01 14:02:03 upgrade\n2026/12/01 14:02:03 upgrade a 1 2\n2026-12-01 14:02:03 upgradex a 1 2\n2026-12-01 14:02:03 upgrade a 1 2 3\nupgrade nginx 1 2\n\u{fffd}\u{fffd}\n";
        assert!(dpkg_events(text, "d", &mut utc()).is_empty());
        let hostile = format!(
            "2026-12-01 14:02:03 install \x1b[2J{}:amd64 <none> 1\n",
            "p".repeat(16 * 1024)
        );
        let events = dpkg_events(&hostile, "d", &mut utc());
        assert_eq!(events.len(), 1);
        assert!(!events[0].text.chars().any(char::is_control));
        assert!(events[0].text.chars().count() < 400);
        let line = DPKG.lines().nth(1).unwrap();
        for cut in 0..line.len() {
            let _ = dpkg_events(&line[..cut], "d", &mut utc());
        }
        assert!(dpkg_events("ééééééééééééééééééééé", "d", &mut utc()).is_empty());
    }

    const HISTORY: &str = "
Start-Date: 2026-12-01  14:02:01
Commandline: apt-get upgrade
Requested-By: admin (1000)
Upgrade: nginx:amd64 (1.22.1-9, 1.22.1-9+deb12u1), nginx-common:amd64 (1.22.1-9, 1.22.1-9+deb12u1)
Install: libfoo1:amd64 (2.0-1, automatic)
End-Date: 2026-12-01  14:02:09

Start-Date: 2026-12-01  15:00:00
Commandline: apt-get install --reinstall nothing
End-Date: 2026-12-01  15:00:01

Start-Date: 2026-12-01  16:00:00
Commandline: apt-get remove a b c d e f g
Remove: a:amd64 (1), b:amd64 (1), c:amd64 (1), d:amd64 (1), e:amd64 (1), f:amd64 (1), g:amd64 (1)
End-Date: 2026-12-01  16:00:01
";

    #[test]
    fn history_blocks_are_one_event_each() {
        let events = history_events(HISTORY, "history.log", &mut utc());
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].at, T - 2);
        assert_eq!(
            events[0].text,
            "apt-get upgrade: upgrade nginx:amd64 1.22.1-9 -> 1.22.1-9+deb12u1, upgrade nginx-common:amd64 1.22.1-9 -> 1.22.1-9+deb12u1, install libfoo1:amd64 2.0-1"
        );
        assert_eq!(events[1].at, T + 7077);
        assert!(
            events[1].text.ends_with("remove e:amd64 1 and 2 more"),
            "{}",
            events[1].text
        );
    }

    #[test]
    fn history_without_end_date_or_start_date_and_truncated() {
        // Cut mid-run (apt still running, or the budget cut the start): a block without a
        // start date is dropped, one without an end date still counts.
        let text = "Upgrade: x:amd64 (1, 2)\nEnd-Date: 2026-12-01  14:00:00\nStart-Date: 2026-12-01  14:02:03\nInstall: y:amd64 (3)\n";
        let events = history_events(text, "h", &mut utc());
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].at, events[0].text.as_str()),
            (T, "install y:amd64 3")
        );
        for cut in 0..HISTORY.len() {
            let _ = history_events(&HISTORY[..cut], "h", &mut utc());
        }
        let hostile =
            "Start-Date: 2026-12-01  14:02:03\nCommandline: \x1b]0;x\x07\nInstall: (((,,)\n";
        let events = history_events(hostile, "h", &mut utc());
        assert!(!events[0].text.chars().any(char::is_control));
    }
}

//! nginx time values: "30", "10s", "500ms", "1m30s", "1h 30m".

use std::time::Duration;

/// Parses an nginx time; a bare number is seconds. `None` when invalid or absurdly large.
pub(super) fn parse_time(s: &str) -> Option<Duration> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    let mut any = false;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = s[i..i + digits].parse().ok()?;
        i += digits;
        let rest = &s[i..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.bytes().next() {
                None | Some(b' ') => (1000, 0),
                Some(b's') => (1000, 1),
                Some(b'm') => (60_000, 1),
                Some(b'h') => (3_600_000, 1),
                Some(b'd') => (86_400_000, 1),
                Some(b'w') => (604_800_000, 1),
                Some(b'M') => (2_592_000_000, 1),
                Some(b'y') => (31_536_000_000, 1),
                Some(_) => return None,
            }
        };
        i += len;
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
        any = true;
    }
    any.then(|| Duration::from_millis(total_ms))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn nginx_times() {
        assert_eq!(parse_time("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_time("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("10x"), None);
        assert_eq!(parse_time("s"), None);
        assert_eq!(parse_time("99999999999999999999y"), None);
    }
}

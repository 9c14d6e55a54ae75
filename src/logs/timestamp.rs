//! Timestamps as each format writes them, to unix seconds. Hand-split digits (cheap, no regex)
//! and jiff for the calendar and time-zone arithmetic. Formats without an offset are in the
//! host's local time zone, which is where the proxy writing them runs.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::Format;

/// Parses line timestamps, remembering the last one: consecutive lines almost always share their
/// second, so the time-zone lookup runs once per second of log rather than once per line.
pub struct TimeParser {
    tz: TimeZone,
    last_text: String,
    last_value: Option<i64>,
}

impl Default for TimeParser {
    fn default() -> Self {
        Self::new(TimeZone::system())
    }
}

impl TimeParser {
    pub fn new(tz: TimeZone) -> Self {
        TimeParser {
            tz,
            last_text: String::new(),
            last_value: None,
        }
    }

    /// `text` is the timestamp field as [`super::classify`] found it for a line of `format`.
    pub fn parse(&mut self, format: Format, text: &str) -> Option<i64> {
        if !text.is_empty() && text == self.last_text {
            return self.last_value;
        }
        let value = parse_uncached(&self.tz, format, text);
        self.last_text.clear();
        self.last_text.push_str(text);
        self.last_value = value;
        value
    }
}

fn parse_uncached(tz: &TimeZone, format: Format, text: &str) -> Option<i64> {
    let b = text.as_bytes();
    match format {
        // 2024/05/01 12:00:00
        Format::NginxError => {
            let dt = civil(
                num(b, 0, 4)?,
                num(b, 5, 2)?,
                num(b, 8, 2)?,
                num(b, 11, 2)?,
                num(b, 14, 2)?,
                num(b, 17, 2)?,
            )?;
            local(tz, dt)
        }
        // 01/May/2024:12:00:00 +0200
        Format::Access => {
            let dt = civil(
                num(b, 7, 4)?,
                month(b.get(3..6)?)?,
                num(b, 0, 2)?,
                num(b, 12, 2)?,
                num(b, 15, 2)?,
                num(b, 18, 2)?,
            )?;
            let sign = match b.get(21)? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let seconds = sign * (num(b, 22, 2)? * 3600 + num(b, 24, 2)? * 60);
            let offset = Offset::from_seconds(i32::try_from(seconds).ok()?).ok()?;
            offset.to_timestamp(dt).ok().map(|t| t.as_second())
        }
        // 01/May/2024:12:00:00.123 (accept date, local time)
        Format::Haproxy => {
            let dt = civil(
                num(b, 7, 4)?,
                month(b.get(3..6)?)?,
                num(b, 0, 2)?,
                num(b, 12, 2)?,
                num(b, 15, 2)?,
                num(b, 18, 2)?,
            )?;
            local(tz, dt)
        }
        // Wed May 01 12:00:00.123456 2024 (2.4) or Wed May 01 12:00:00 2024 (2.2)
        Format::ApacheError => {
            let year_at = text.rfind(' ')? + 1;
            let dt = civil(
                num(b, year_at, 4)?,
                month(b.get(4..7)?)?,
                num(b, 8, 2)?,
                num(b, 11, 2)?,
                num(b, 14, 2)?,
                num(b, 17, 2)?,
            )?;
            local(tz, dt)
        }
        // 2024-09-27T02:33:25.123Z, 2024-09-27T04:33:25+02:00, or unix seconds (1727404405.1).
        Format::Traefik | Format::TraefikAccess | Format::Envoy => rfc3339_or_unix(text),
        Format::Caddy | Format::CaddyAccess => caddy(tz, text),
    }
}

fn rfc3339_or_unix(text: &str) -> Option<i64> {
    let whole = text.split_once('.').map_or(text, |(whole, _)| whole);
    if !whole.is_empty() && whole.len() <= 12 && whole.bytes().all(|b| b.is_ascii_digit()) {
        return whole.parse().ok();
    }
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Caddy writes `ts` as float seconds by default, or as its `time_format` says: RFC 3339, or the
/// console's wall clock `2024/05/01 12:00:00.123` (local); Caddy 1 wrote the access log's date.
fn caddy(tz: &TimeZone, text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.get(2) == Some(&b'/') {
        return parse_uncached(tz, Format::Access, text);
    }
    if b.get(4) == Some(&b'/') {
        return parse_uncached(tz, Format::NginxError, text.get(..19)?);
    }
    rfc3339_or_unix(text)
}

fn local(tz: &TimeZone, dt: DateTime) -> Option<i64> {
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .ok()
        .map(|t| t.as_second())
}

fn civil(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        // A leap second (60) is clamped rather than rejected.
        i8::try_from(second.min(59)).ok()?,
        0,
    )
    .ok()
}

fn num(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let digits = b.get(at..at + len)?;
    digits.iter().try_fold(0i64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

fn month(name: &[u8]) -> Option<i64> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.as_slice() == name)
        .and_then(|i| i64::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> TimeParser {
        TimeParser::new(TimeZone::UTC)
    }

    #[test]
    fn every_format_parses_to_the_same_instant() {
        let expected = 1_714_564_800; // 2024-05-01T12:00:00Z
        let mut p = utc();
        assert_eq!(
            p.parse(Format::NginxError, "2024/05/01 12:00:00"),
            Some(expected)
        );
        assert_eq!(
            p.parse(Format::Access, "01/May/2024:14:00:00 +0200"),
            Some(expected)
        );
        assert_eq!(
            p.parse(Format::Access, "01/May/2024:07:30:00 -0430"),
            Some(expected)
        );
        assert_eq!(
            p.parse(Format::Haproxy, "01/May/2024:12:00:00.123"),
            Some(expected)
        );
        assert_eq!(
            p.parse(Format::ApacheError, "Wed May 01 12:00:00.123456 2024"),
            Some(expected)
        );
        assert_eq!(
            p.parse(Format::ApacheError, "Wed May 01 12:00:00 2024"),
            Some(expected)
        );
        for (format, text) in [
            (Format::Envoy, "2024-05-01T12:00:00.123Z"),
            (Format::Traefik, "2024-05-01T14:00:00+02:00"),
            (Format::TraefikAccess, "2024-05-01T12:00:00.123456789Z"),
            (Format::Traefik, "1714564800"),
            (Format::Traefik, "1714564800.75"),
        ] {
            assert_eq!(p.parse(format, text), Some(expected), "{text}");
        }
        for text in [
            "2024-05-01 12:00",
            "12345678901234",
            ".5",
            "2024-13-01T12:00:00Z",
        ] {
            assert_eq!(p.parse(Format::Envoy, text), None, "{text}");
        }
    }

    #[test]
    fn caddy_times() {
        let expected = 1_714_564_800;
        let mut p = utc();
        for text in [
            "1714564800.5",
            "2024-05-01T12:00:00.5Z",
            "2024-05-01T14:00:00+02:00",
            "2024/05/01 12:00:00.123",
            "01/May/2024:12:00:00 +0000",
            "2024/05/01 12:00:00",
        ] {
            assert_eq!(p.parse(Format::Caddy, text), Some(expected), "{text}");
        }
        assert_eq!(p.parse(Format::CaddyAccess, "yesterday"), None);
        assert_eq!(p.parse(Format::CaddyAccess, "."), None);
    }

    #[test]
    fn garbage_is_none_and_the_cache_does_not_lie() {
        let mut p = utc();
        assert_eq!(p.parse(Format::NginxError, "2024/13/01 12:00:00"), None);
        assert_eq!(p.parse(Format::NginxError, "yesterday"), None);
        assert_eq!(p.parse(Format::Access, "01/Foo/2024:14:00:00 +0200"), None);
        assert_eq!(p.parse(Format::Access, ""), None);
        assert!(p.parse(Format::NginxError, "2024/05/01 12:00:01").is_some());
        assert_eq!(
            p.parse(Format::NginxError, "2024/05/01 12:00:01"),
            Some(1_714_564_801)
        );
    }
}

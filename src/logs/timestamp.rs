//! Timestamps as each format writes them, to unix seconds. Hand-split digits (cheap, no regex)
//! and jiff for the calendar and time-zone arithmetic. Formats without an offset are in the
//! host's local time zone, which is where the proxy writing them runs.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::Format;

/// How a timestamp is written: a format's own stamp, or a prefix's (see [`super::prefix`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Clock {
    NginxError,
    Access,
    Haproxy,
    ApacheError,
    /// `2024-09-27T02:33:25.123456789Z` or with an offset (`+02:00`, `+0200`): `docker logs -t`,
    /// RFC 5424 syslog, journald's short-iso.
    Rfc3339,
    /// `Sep 27 02:33:25` (RFC 3164 syslog, the journal's short format): no year, local time.
    Syslog,
    /// RFC 3339 or unix seconds with a fraction (Traefik, Envoy).
    Rfc3339OrUnix,
    /// Caddy's `ts`, in any of the forms its `time_format` allows.
    Caddy,
}

impl From<Format> for Clock {
    fn from(format: Format) -> Self {
        match format {
            Format::NginxError => Clock::NginxError,
            Format::Access => Clock::Access,
            Format::Haproxy => Clock::Haproxy,
            Format::ApacheError => Clock::ApacheError,
            Format::Traefik | Format::TraefikAccess | Format::Envoy => Clock::Rfc3339OrUnix,
            Format::Caddy | Format::CaddyAccess => Clock::Caddy,
        }
    }
}

/// A syslog stamp more than this far ahead of now is from last year (it has no year of its
/// own); the slack covers clocks a little apart.
const SYSLOG_FUTURE_SLACK: i64 = 2 * 86_400;

/// Parses line timestamps, remembering the last one: consecutive lines almost always share their
/// second, so the time-zone lookup runs once per second of log rather than once per line.
pub struct TimeParser {
    tz: TimeZone,
    /// Unix seconds that a year-less syslog stamp is judged against; `None` is the clock now.
    now: Option<i64>,
    last_clock: Option<Clock>,
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
            now: None,
            last_clock: None,
            last_text: String::new(),
            last_value: None,
        }
    }

    /// A parser that places year-less syslog stamps in the year before `now` (unix seconds).
    pub fn at(tz: TimeZone, now: i64) -> Self {
        TimeParser {
            now: Some(now),
            ..Self::new(tz)
        }
    }

    /// `text` is the timestamp field as [`super::classify`] found it, written the `clock` way
    /// (a [`Format`] for a line's own stamp).
    pub fn parse(&mut self, clock: impl Into<Clock>, text: &str) -> Option<i64> {
        let clock = clock.into();
        if !text.is_empty() && text == self.last_text && self.last_clock == Some(clock) {
            return self.last_value;
        }
        let value = match clock {
            Clock::Syslog => self.syslog(text),
            _ => parse_uncached(&self.tz, clock, text),
        };
        self.last_clock = Some(clock);
        self.last_text.clear();
        self.last_text.push_str(text);
        self.last_value = value;
        value
    }

    /// `Sep 27 02:33:25` (the day may be space-padded): the latest such instant not in the future.
    fn syslog(&self, text: &str) -> Option<i64> {
        let b = text.as_bytes();
        if b.len() != 15 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
            return None;
        }
        let day = match b[4] {
            b' ' => num(b, 5, 1)?,
            _ => num(b, 4, 2)?,
        };
        let now = self
            .now
            .unwrap_or_else(|| jiff::Timestamp::now().as_second());
        let year = jiff::Timestamp::from_second(now)
            .ok()?
            .to_zoned(self.tz.clone())
            .year();
        let at = |year: i16| {
            let dt = civil(
                i64::from(year),
                month(b.get(0..3)?)?,
                day,
                num(b, 7, 2)?,
                num(b, 10, 2)?,
                num(b, 13, 2)?,
            )?;
            local(&self.tz, dt)
        };
        match at(year) {
            Some(t) if t <= now + SYSLOG_FUTURE_SLACK => Some(t),
            // Dec 31 read on Jan 1, or Feb 29 of a leap year read the year after.
            _ => at(year - 1),
        }
    }
}

fn parse_uncached(tz: &TimeZone, clock: Clock, text: &str) -> Option<i64> {
    let b = text.as_bytes();
    match clock {
        // 2024/05/01 12:00:00
        Clock::NginxError => local(tz, date_then_time(b)?),
        // 01/May/2024:12:00:00 +0200
        Clock::Access => {
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
        Clock::Haproxy => {
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
        Clock::ApacheError => {
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
        Clock::Rfc3339 => rfc3339(b),
        Clock::Syslog => None,
        // 2024-09-27T02:33:25.123Z, 2024-09-27T04:33:25+02:00, or unix seconds (1727404405.1).
        Clock::Rfc3339OrUnix => rfc3339_or_unix(text),
        Clock::Caddy => caddy(tz, text),
    }
}

/// `2024-09-27T02:33:25`, an optional fraction (dropped), then `Z`, `+HH:MM` or `+HHMM`.
fn rfc3339(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let dt = date_then_time(b)?;
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1 + b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
    }
    let seconds = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let sign = if *sign == b'+' { 1 } else { -1 };
            let minutes_at = match zone {
                [_, _, b':', _, _] => 3,
                [_, _, _, _] => 2,
                _ => return None,
            };
            sign * (num(zone, 0, 2)? * 3600 + num(zone, minutes_at, 2)? * 60)
        }
        _ => return None,
    };
    let offset = Offset::from_seconds(i32::try_from(seconds).ok()?).ok()?;
    offset.to_timestamp(dt).ok().map(|t| t.as_second())
}

fn rfc3339_or_unix(text: &str) -> Option<i64> {
    let whole = text.split_once('.').map_or(text, |(whole, _)| whole);
    if !whole.is_empty() && whole.len() <= 12 && whole.bytes().all(|b| b.is_ascii_digit()) {
        return whole.parse().ok();
    }
    rfc3339(text.as_bytes()).or_else(|| text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second()))
}

/// Caddy writes `ts` as float seconds by default, or as its `time_format` says: RFC 3339, or the
/// console's wall clock `2024/05/01 12:00:00.123` (local); Caddy 1 wrote the access log's date.
fn caddy(tz: &TimeZone, text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.get(2) == Some(&b'/') {
        return parse_uncached(tz, Clock::Access, text);
    }
    if b.get(4) == Some(&b'/') {
        return parse_uncached(tz, Clock::NginxError, text.get(..19)?);
    }
    rfc3339_or_unix(text)
}

/// The digits of `YYYY?MM?DD?HH?MM?SS` whatever the separators (nginx's `2024/05/01 12:00:00`,
/// RFC 3339's `2024-05-01T12:00:00`); the caller checks those it needs.
fn date_then_time(b: &[u8]) -> Option<DateTime> {
    civil(
        num(b, 0, 4)?,
        num(b, 5, 2)?,
        num(b, 8, 2)?,
        num(b, 11, 2)?,
        num(b, 14, 2)?,
        num(b, 17, 2)?,
    )
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
    fn prefix_stamps_parse() {
        let expected = 1_727_404_405; // 2024-09-27T02:33:25Z
        let mut p = TimeParser::at(TimeZone::UTC, expected + 3600);
        for text in [
            "2024-09-27T02:33:25.123456789Z",
            "2024-09-27T02:33:25Z",
            "2024-09-27T04:33:25+02:00",
            "2024-09-27T04:33:25.5+0200",
            "2024-09-26T23:33:25-03:00",
        ] {
            assert_eq!(p.parse(Clock::Rfc3339, text), Some(expected), "{text}");
        }
        assert_eq!(p.parse(Clock::Syslog, "Sep 27 02:33:25"), Some(expected));
        assert_eq!(
            p.parse(Clock::Syslog, "Sep  7 02:33:25"),
            Some(expected - 20 * 86_400)
        );
        for bad in [
            "2024-09-27T02:33:25",
            "2024-09-27T02:33:25+2",
            "2024-13-27T02:33:25Z",
        ] {
            assert_eq!(p.parse(Clock::Rfc3339, bad), None, "{bad}");
        }
        assert_eq!(p.parse(Clock::Syslog, "Foo 27 02:33:25"), None);
        assert_eq!(p.parse(Clock::Syslog, "Sep 27 02:33"), None);
    }

    #[test]
    fn a_syslog_stamp_ahead_of_now_is_last_year() {
        let new_year = 1_704_067_200; // 2024-01-01T00:00:00Z
        let mut p = TimeParser::at(TimeZone::UTC, new_year + 60);
        // Dec 31 23:59:00 of 2023, not of 2024.
        assert_eq!(
            p.parse(Clock::Syslog, "Dec 31 23:59:00"),
            Some(new_year - 60)
        );
        assert_eq!(
            p.parse(Clock::Syslog, "Jan  1 00:00:30"),
            Some(new_year + 30)
        );
    }

    #[test]
    fn the_cache_is_per_clock() {
        let mut p = TimeParser::at(TimeZone::UTC, 1_727_404_405);
        assert!(p.parse(Clock::Rfc3339, "2024-09-27T02:33:25Z").is_some());
        assert_eq!(p.parse(Clock::Syslog, "2024-09-27T02:33:25Z"), None);
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

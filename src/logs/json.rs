//! Log lines that are one JSON object each (Traefik, Envoy, ...): parsed once, then each dialect
//! looks for its own keys. Values stay borrowed from the line, as written, so a dialect hands back
//! slices of it like the text formats do. Nested values are skipped as raw text (no recursion) and
//! the line is already capped by the splitter, so a hostile line costs one bounded parse.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::classify::Classified;
use super::{envoy, traefik};

/// One line's top-level keys and their values as written. A line whose keys hold escapes is not
/// one (no dialect's key does).
pub struct Object<'a>(BTreeMap<&'a str, &'a RawValue>);

/// A dialect: the line's reading when `object` is one of its lines, else `None`.
type Dialect = for<'a> fn(&Object<'a>) -> Option<Classified<'a>>;

/// Tried in order, the most particular keys first: Envoy's `response_flags` and Traefik's
/// `DownstreamStatus` decide alone; Traefik's own log (`level`, `time`, `msg`) is the most
/// generic, so a dialect with a more particular claim on such lines (`logger`, `ts`) goes before it.
const DIALECTS: [Dialect; 2] = [envoy::from_json, traefik::from_json];

/// The reading of a `{...}` line by the first dialect that claims it.
pub fn classify(line: &str) -> Option<Classified<'_>> {
    let object = Object::parse(line)?;
    DIALECTS.iter().find_map(|dialect| dialect(&object))
}

impl<'a> Object<'a> {
    pub fn parse(line: &'a str) -> Option<Self> {
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str(line).ok().map(Object)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A string value between its quotes, escapes left in: enough to search for words that hold
    /// no character JSON escapes (`connection refused`), and borrowed from the line.
    pub fn raw_str(&self, key: &str) -> Option<&'a str> {
        let raw = self.0.get(key)?.get();
        raw.strip_prefix('"')?.strip_suffix('"')
    }

    /// A string value that holds no escape, so it is its own text (addresses, times).
    pub fn plain_str(&self, key: &str) -> Option<&'a str> {
        self.raw_str(key).filter(|s| !s.contains('\\'))
    }

    /// A number as written (`3000000`, `1727404405.1`), or a plain string: timestamps and
    /// statuses come as either.
    pub fn scalar(&self, key: &str) -> Option<&'a str> {
        let raw = self.0.get(key)?.get();
        if raw.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(raw);
        }
        self.plain_str(key)
    }

    /// A whole number, written as a number or as a string of digits.
    pub fn number(&self, key: &str) -> Option<u64> {
        self.scalar(key)?.parse().ok()
    }

    /// A nested object.
    pub fn object(&self, key: &str) -> Option<Object<'a>> {
        Object::parse(self.0.get(key)?.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{Cause, LineSplitter, TimeParser, make_line};

    /// Raw bytes as the follower reads them: capped at 16 KiB, decoded, sanitised, classified.
    fn follow(raw: &[u8]) -> crate::logs::LogLine {
        let mut out = Vec::new();
        let mut splitter = LineSplitter::new(16 * 1024);
        splitter.push(raw, |line, cut| out.push((line.to_vec(), cut)));
        splitter.flush(|line, cut| out.push((line.to_vec(), cut)));
        assert_eq!(out.len(), 1);
        let (line, cut) = &out[0];
        make_line(line, *cut, None, &mut TimeParser::default())
    }

    #[test]
    fn hostile_bytes_through_the_follower_path() {
        // A megabyte of message: cut, so no longer an object; nothing is read from it.
        let huge = format!(
            "{{\"level\":\"debug\",\"msg\":\"'502 Bad Gateway' caused by: EOF {}\",\"time\":\"2024-09-27T02:33:25Z\"}}\n",
            "x".repeat(1 << 20)
        );
        let l = follow(huge.as_bytes());
        assert!(l.text.ends_with("bytes]") && l.text.len() < 17 * 1024);
        assert_eq!((l.format, l.cause), (None, None));
        // Invalid UTF-8 in a value: replaced, the rest still read.
        let l = follow(b"{\"level\":\"debug\",\"path\":\"/\xff\xfe\",\"msg\":\"'502 Bad Gateway' caused by: EOF\",\"time\":\"2024-09-27T02:33:25Z\"}\n");
        assert_eq!(l.cause, Some(Cause::PrematureClose), "{}", l.text);
        assert!(l.text.contains('\u{fffd}'));
        // A raw escape byte (invalid JSON, never written by Traefik): made visible, not read.
        let l = follow(b"{\"level\":\"debug\",\"msg\":\"\x1b]0;owned\x07'502 Bad Gateway' caused by: EOF\",\"time\":\"2024-09-27T02:33:25Z\"}\n");
        assert!(
            !l.text.contains('\u{1b}') && !l.text.contains('\u{7}'),
            "{}",
            l.text
        );
        assert_eq!(l.cause, None);
        // The same in the text forms, which have no JSON to break: the cause is still read.
        let l = follow(b"time=\"2024-09-27T02:33:25Z\" level=debug msg=\"\x1b[2J'502 Bad Gateway' caused by: dial tcp 10.0.0.5:80: connect: connection refused\xff\"\n");
        assert_eq!(
            (l.cause, l.upstream.as_deref()),
            (Some(Cause::Refused), Some("10.0.0.5:80"))
        );
        assert!(!l.text.contains('\u{1b}'));
        let l = follow(b"[2024-09-27T02:33:25.123Z] \"GET /\x1b[2J\xff HTTP/1.1\" 503 UF 0 91 2 - \"-\" \"\x9b\" \"id\" \"shop\" \"10.0.0.5:80\"\n");
        assert_eq!(
            (l.cause, l.status, l.upstream.as_deref()),
            (Some(Cause::Refused), Some(503), Some("10.0.0.5:80"))
        );
        assert!(!l.text.contains('\u{1b}'));
    }

    #[test]
    fn values_are_borrowed_as_written() {
        let o = Object::parse(
            r#"{"a":"x\"y","b":"10.0.0.5:80","n":502,"s":"503","t":1727404405.5,"o":{"Host":"h:1"},"f":true}"#,
        )
        .expect("an object");
        assert_eq!(o.raw_str("a"), Some(r#"x\"y"#));
        assert_eq!(o.plain_str("a"), None);
        assert_eq!(o.plain_str("b"), Some("10.0.0.5:80"));
        assert_eq!(o.number("n"), Some(502));
        assert_eq!(o.number("s"), Some(503));
        assert_eq!(o.number("b"), None);
        assert_eq!(o.scalar("t"), Some("1727404405.5"));
        assert_eq!(o.scalar("f"), None);
        assert_eq!(o.raw_str("n"), None);
        assert_eq!(o.object("o").and_then(|o| o.plain_str("Host")), Some("h:1"));
        assert!(o.has("f") && !o.has("g"));
    }

    #[test]
    fn hostile_objects_are_refused_without_harm() {
        // Nested values are skipped as raw text, never built: depth costs no stack.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Object::parse(&deep).is_some());
        assert!(classify(&deep).is_none());
        let deep_url = format!(
            "{{\"DownstreamStatus\":502,\"ServiceURL\":{}1{}}}",
            "{\"Host\":".repeat(50_000),
            "}".repeat(50_000)
        );
        let c = classify(&deep_url).expect("a Traefik access line");
        assert_eq!((c.status, c.upstream), (Some(502), None));
        let wide = format!(
            "{{{}\"level\":\"error\"}}",
            (0..20_000)
                .map(|i| format!("\"k{i}\":{i},"))
                .collect::<String>()
        );
        assert!(Object::parse(&wide).is_some());
        for line in [
            "{",
            "{}",
            "{\"a\":1",
            "{\"a\":1}}",
            "[1,2]",
            "{\"\\u0061\":1}",
            "{\"msg\":\"\u{fffd}\"}",
            "{\"level\":\"error\",\"msg\":\"\\u001b[2J\"}",
        ] {
            assert_eq!(classify(line).and_then(|c| c.cause), None, "{line}");
        }
    }
}

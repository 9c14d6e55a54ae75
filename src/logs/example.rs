//! The newest line of a cause, in the proxy's own words, so a verdict can quote what was logged
//! (`(2: No such file or directory)`) and say where (file, line, time, upstream).

use serde::Serialize;

use super::text::{self, finders};
use super::{Cause, Format, apache, caddy, envoy, nginx, traefik};

finders! {
    NOT_RESOLVED = " could not be resolved";
    NO_RESOLVER = "no resolver defined to resolve ";
    DNS_FAILURE = "DNS lookup failure for: ";
}

/// Bytes of a line's message kept in an example: enough for nginx's message with its errno and
/// the names in it, short enough to quote in one line of a verdict.
pub const EXAMPLE_BYTES: usize = 200;

/// Marks a message cut to [`EXAMPLE_BYTES`].
const CUT: &str = "…";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The message as logged, sanitised: for nginx error lines the part before `, client:`
    /// (errno and its text kept), for Apache the part after the bracketed prefix, for Traefik
    /// the message (its error), for Envoy the status and response flags, for other formats the
    /// line's start; at most [`EXAMPLE_BYTES`] bytes, ending with `…` when cut.
    pub text: String,
    /// The upstream the line names (nginx: the server of `upstream: "https://127.0.0.1:8443/"`).
    pub upstream: Option<String>,
    /// Unix seconds, from the line's own timestamp.
    pub time: Option<i64>,
    /// 1-based line number in the file, when it was cheap to know.
    pub line: Option<u64>,
}

/// A line with a cause, borrowed, as the counters see it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen<'a> {
    pub cause: Cause,
    /// The whole line, sanitised.
    pub text: &'a str,
    pub format: Option<Format>,
    pub upstream: Option<&'a str>,
    pub time: i64,
    pub line: Option<u64>,
}

impl Example {
    pub(super) fn of(seen: &Seen<'_>) -> Example {
        let mut example = Example {
            text: String::new(),
            upstream: None,
            time: None,
            line: None,
        };
        example.set(seen);
        example
    }

    /// Becomes `seen`, reusing the text buffer.
    pub(super) fn set(&mut self, seen: &Seen<'_>) {
        let message = message_of(seen.text, seen.format);
        let end = floor_char_boundary(message, EXAMPLE_BYTES);
        self.text.clear();
        self.text.push_str(&message[..end]);
        if end < message.len() {
            self.text.push_str(CUT);
        }
        match (&mut self.upstream, seen.upstream) {
            (Some(kept), Some(new)) => {
                kept.clear();
                kept.push_str(new);
            }
            (kept, new) => *kept = new.map(str::to_owned),
        }
        self.time = Some(seen.time);
        self.line = seen.line;
    }

    /// The name a resolution failure is about, as logged: `shop.internal` in nginx's
    /// `shop.internal could not be resolved (3: Host not found)` or `no resolver defined to
    /// resolve shop.internal`, Apache's `DNS lookup failure for: shop.internal`.
    pub fn unresolved_name(&self) -> Option<&str> {
        let t = self.text.as_str();
        let name = if let Some(at) = text::find(t, &NOT_RESOLVED) {
            t[..at].rsplit(' ').next()?
        } else if let Some(at) = text::find(t, &NO_RESOLVER) {
            t[at + NO_RESOLVER.needle().len()..]
                .split([' ', ','])
                .next()?
        } else {
            let at = text::find(t, &DNS_FAILURE)?;
            t[at + DNS_FAILURE.needle().len()..]
                .split([' ', ','])
                .next()?
        };
        // nginx quotes nothing here, but a name never holds these; reject what is not one.
        let name = name.trim_matches(|c| c == '"' || c == '\'');
        let plausible = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
        plausible.then_some(name)
    }
}

/// The part of a line worth quoting.
fn message_of(line: &str, format: Option<Format>) -> &str {
    let message = match format {
        Some(Format::NginxError) => nginx::parse(line).map(|e| e.message),
        Some(Format::ApacheError) => apache::parse(line).map(|e| e.message),
        Some(Format::Traefik) => traefik::message(line),
        Some(Format::Envoy) => envoy::message(line),
        Some(Format::Caddy) => caddy::parse(line).map(|e| e.msg),
        _ => None,
    };
    message.unwrap_or(line).trim()
}

/// The largest index at most `max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(line: &str, format: Format, upstream: Option<&str>) -> Example {
        Example::of(&Seen {
            cause: Cause::NoSocket,
            text: line,
            format: Some(format),
            upstream,
            time: 60,
            line: Some(7),
        })
    }

    #[test]
    fn nginx_examples_keep_the_message_with_its_errno_and_drop_the_client_fields() {
        let line = r#"2024/05/01 12:00:01 [crit] 12#12: *51 connect() to unix:/run/php/x.sock failed (2: No such file or directory) while connecting to upstream, client: 10.0.0.1, server: shop, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/x.sock:", host: "shop""#;
        let e = example(
            line,
            Format::NginxError,
            Some("fastcgi://unix:/run/php/x.sock"),
        );
        assert_eq!(
            e.text,
            "connect() to unix:/run/php/x.sock failed (2: No such file or directory) while connecting to upstream"
        );
        assert_eq!(
            e.upstream.as_deref(),
            Some("fastcgi://unix:/run/php/x.sock")
        );
        assert_eq!((e.time, e.line), (Some(60), Some(7)));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let line = format!(
            "2024/05/01 12:00:01 [error] 1#1: *1 {} upstream",
            "é".repeat(300)
        );
        let e = example(&line, Format::NginxError, None);
        assert!(e.text.ends_with(CUT));
        assert!(e.text.len() <= EXAMPLE_BYTES + CUT.len());
        let mut reused = e.clone();
        reused.set(&Seen {
            cause: Cause::Tls,
            text: "short",
            format: None,
            upstream: Some("https://127.0.0.1:8443"),
            time: 120,
            line: None,
        });
        assert_eq!(reused.text, "short");
        assert_eq!(reused.upstream.as_deref(), Some("https://127.0.0.1:8443"));
        assert_eq!(reused.line, None);
    }

    #[test]
    fn resolution_failures_name_what_could_not_be_resolved() {
        let name = |line: &str, format| {
            example(line, format, None)
                .unresolved_name()
                .map(str::to_owned)
        };
        let nginx = |msg: &str| {
            format!(
                "2024/05/01 12:00:01 [error] 1#1: *1 {msg}, client: 10.0.0.1, server: shop, request: \"GET /x.internal could not be resolved HTTP/1.1\""
            )
        };
        assert_eq!(
            name(
                &nginx("shop.internal could not be resolved (3: Host not found)"),
                Format::NginxError
            ),
            Some("shop.internal".into())
        );
        assert_eq!(
            name(
                &nginx("api.svc could not be resolved (110: Operation timed out)"),
                Format::NginxError
            ),
            Some("api.svc".into())
        );
        assert_eq!(
            name(
                &nginx("no resolver defined to resolve backend.local"),
                Format::NginxError
            ),
            Some("backend.local".into())
        );
        let apache = "[Wed May 01 12:00:00.1 2024] [proxy:error] [pid 1:tid 2] [client 10.0.0.1:5] AH00898: DNS lookup failure for: db.internal returned by /x";
        assert_eq!(
            name(apache, Format::ApacheError),
            Some("db.internal".into())
        );
        assert_eq!(
            name(
                &nginx("connect() failed (111: Connection refused)"),
                Format::NginxError
            ),
            None
        );
        // Hostile text where the name would be is not passed on as one.
        assert_eq!(
            name(
                &nginx("a\\x1b[2J could not be resolved (3: Host not found)"),
                Format::NginxError
            ),
            None
        );
    }
}

//! What log collectors put in front of a proxy's own line, peeled off so the line underneath is
//! read as if it were bare:
//!
//! - `docker logs -t`, journald's short-iso, rsyslog's high-precision files: an RFC 3339 stamp,
//!   `2024-09-27T02:33:25.123456789Z `, possibly followed by `HOST TAG: `;
//! - RFC 3164 syslog and the journal's short format: `Sep 27 02:33:25 web1 nginx[123]: `,
//!   possibly after a `<PRI>`;
//! - RFC 5424 syslog: `<11>1 2024-09-27T02:33:25Z web1 nginx - - - `;
//! - Docker Compose (`web-1  | `, v1's `web_1  | `, its colours escaped or not), forego
//!   (`nginx.1 | `) and goreman (`12:00:01 nginx.1 | `).
//!
//! Layers stack (`web-1  | 2024-09-27T02:33:25Z ...` from `docker compose logs -t`). Peeling
//! stops at the first layer under which a proxy line begins, and only ever looks at the start:
//! text that looks like a prefix inside a message is never searched for.

use super::timestamp::Clock;

/// Layers peeled at most; more is not a collector's prefix.
const MAX_LAYERS: usize = 4;
/// Bytes of prefix at most (a long host or container name, an RFC 5424 structured element).
const MAX_PREFIX: usize = 512;
/// A Compose service, forego process or syslog tag name, at most.
const MAX_NAME: usize = 128;

/// A line with its collector prefix removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peeled<'a> {
    /// The line underneath, starting where the last prefix ended.
    pub body: &'a str,
    /// The innermost prefix stamp (the one nearest the line), for a line without a stamp of its
    /// own.
    pub stamp: Option<(Clock, &'a str)>,
}

/// Peels prefixes off `line` until `is_body` accepts what is left; `None` when no prefix was
/// peeled or no body was accepted. `is_body` is asked before each layer, so a proxy line that
/// happens to look like a prefix is never cut.
pub fn peel<'a>(line: &'a str, is_body: impl Fn(&str) -> bool) -> Option<Peeled<'a>> {
    let mut rest = line;
    let mut stamp = None;
    for _ in 0..MAX_LAYERS {
        let (after, found) = layer(rest)?;
        if line.len() - after.len() > MAX_PREFIX {
            return None;
        }
        rest = after;
        stamp = found.or(stamp);
        if is_body(rest) {
            return Some(Peeled { body: rest, stamp });
        }
    }
    None
}

/// The RFC 3339 stamp that starts `line` (`docker logs -t`), followed by a space.
pub fn leading_rfc3339(line: &[u8]) -> Option<&str> {
    let len = rfc3339_len(line)?;
    if line.get(len) != Some(&b' ') {
        return None;
    }
    std::str::from_utf8(&line[..len]).ok()
}

/// One prefix layer at the start of `s`: what follows it, and its stamp if it has one.
fn layer(s: &str) -> Option<(&str, Option<(Clock, &str)>)> {
    let b = s.as_bytes();
    match b.first()? {
        b'0'..=b'9' => rfc3339_layer(s)
            .or_else(|| clock_name_layer(s))
            .or_else(|| name_layer(s).map(|rest| (rest, None))),
        b'<' => syslog_pri_layer(s),
        b'A'..=b'Z' if syslog_stamp_len(b).is_some() => syslog_layer(s),
        _ => name_layer(s).map(|rest| (rest, None)),
    }
}

/// `2024-09-27T02:33:25.123Z ` then, optionally, syslog's `HOST TAG: `.
fn rfc3339_layer(s: &str) -> Option<(&str, Option<(Clock, &str)>)> {
    let len = rfc3339_len(s.as_bytes())?;
    let rest = s[len..].strip_prefix(' ')?;
    let stamp = Some((Clock::Rfc3339, &s[..len]));
    Some((host_tag(rest).unwrap_or(rest), stamp))
}

/// The length of an RFC 3339 stamp at the start of `b`.
fn rfc3339_len(b: &[u8]) -> Option<usize> {
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)?
            .iter()
            .all(u8::is_ascii_digit)
            .then_some(())
    };
    digits(0, 4)?;
    (b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') && b.get(10) == Some(&b'T'))
        .then_some(())?;
    (b.get(13) == Some(&b':') && b.get(16) == Some(&b':')).then_some(())?;
    digits(5, 2)?;
    digits(8, 2)?;
    digits(11, 2)?;
    digits(14, 2)?;
    digits(17, 2)?;
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let fraction = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if fraction == 0 || fraction > 9 {
            return None;
        }
        at += 1 + fraction;
    }
    match b.get(at)? {
        b'Z' => Some(at + 1),
        b'+' | b'-' => {
            digits(at + 1, 2)?;
            if b.get(at + 3) == Some(&b':') {
                digits(at + 4, 2)?;
                Some(at + 6)
            } else {
                digits(at + 3, 2)?;
                Some(at + 5)
            }
        }
        _ => None,
    }
}

/// `<11>` then either RFC 5424's `1 STAMP HOST APP PROCID MSGID SD ` or RFC 3164's stamp.
fn syslog_pri_layer(s: &str) -> Option<(&str, Option<(Clock, &str)>)> {
    let close = s.as_bytes().iter().take(5).position(|&c| c == b'>')?;
    let pri = &s[1..close];
    if pri.is_empty() || !pri.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = &s[close + 1..];
    match rest.strip_prefix("1 ") {
        Some(v1) => rfc5424(v1),
        None if syslog_stamp_len(rest.as_bytes()).is_some() => syslog_layer(rest),
        None => None,
    }
}

/// After `<PRI>1 `: `STAMP HOST APP PROCID MSGID SD ` (each `-` when absent).
fn rfc5424(s: &str) -> Option<(&str, Option<(Clock, &str)>)> {
    let (stamp, rest) = s.split_once(' ')?;
    let stamp = match stamp {
        "-" => None,
        _ if rfc3339_len(stamp.as_bytes()) == Some(stamp.len()) => Some((Clock::Rfc3339, stamp)),
        _ => return None,
    };
    let mut rest = rest;
    for _ in 0..4 {
        let (field, after) = rest.split_once(' ')?;
        if field.is_empty() || field.len() > 255 {
            return None;
        }
        rest = after;
    }
    let rest = match rest.strip_prefix('-') {
        Some(after) => after,
        None => structured_data(rest)?,
    };
    // The message may be empty; a BOM-less message follows one space.
    Some((rest.strip_prefix(' ').unwrap_or(rest), stamp))
}

/// Skips RFC 5424 structured data (`[id k="v"]...`), honouring `\"` and `\]` in values.
fn structured_data(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut at = 0;
    while b.get(at) == Some(&b'[') {
        let (mut quoted, mut escaped) = (false, false);
        at += 1;
        loop {
            let c = *b.get(at)?;
            at += 1;
            match c {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
        }
    }
    (at > 0).then(|| &s[at..])
}

/// The length of `Sep 27 02:33:25` (day space-padded or not) at the start of `b`.
fn syslog_stamp_len(b: &[u8]) -> Option<usize> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let head = b.get(..15)?;
    let day_ok = (head[4] == b' ' || head[4].is_ascii_digit()) && head[5].is_ascii_digit();
    let ok = MONTHS.iter().any(|m| &head[..3] == m.as_slice())
        && head[3] == b' '
        && day_ok
        && head[6] == b' '
        && head[9] == b':'
        && head[12] == b':'
        && [7, 8, 10, 11, 13, 14]
            .iter()
            .all(|&i| head[i].is_ascii_digit());
    ok.then_some(15)
}

/// `Sep 27 02:33:25 HOST TAG: ` (RFC 3164, the journal's short format).
fn syslog_layer(s: &str) -> Option<(&str, Option<(Clock, &str)>)> {
    let len = syslog_stamp_len(s.as_bytes())?;
    let rest = s[len..].strip_prefix(' ')?;
    Some((host_tag(rest)?, Some((Clock::Syslog, &s[..len]))))
}

/// `HOST TAG: ` or `HOST TAG[PID]: `: what follows it.
fn host_tag(s: &str) -> Option<&str> {
    let (host, rest) = s.split_once(' ')?;
    if host.is_empty() || host.len() > 255 || !host.bytes().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    let b = rest.as_bytes();
    let name = b
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|&&c| is_name_byte(c) || c == b'/')
        .count();
    if name == 0 || name > MAX_NAME {
        return None;
    }
    let mut at = name;
    if b.get(at) == Some(&b'[') {
        let pid = b[at + 1..]
            .iter()
            .take(11)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if pid == 0 || b.get(at + 1 + pid) != Some(&b']') {
            return None;
        }
        at += pid + 2;
    }
    rest[at..].strip_prefix(": ")
}

/// goreman's `12:00:01 nginx.1 | `.
fn clock_name_layer(s: &str) -> Option<(&str, Option<(Clock, &str)>)> {
    let b = s.as_bytes();
    let clock = b.get(..9)?;
    let ok = clock[2] == b':'
        && clock[5] == b':'
        && clock[8] == b' '
        && [0, 1, 3, 4, 6, 7]
            .iter()
            .all(|&i| clock[i].is_ascii_digit());
    // A time of day without a date: no stamp to go by.
    ok.then(|| name_layer(&s[9..]).map(|rest| (rest, None)))?
}

/// `web-1  | `, `web_1 | `, `nginx.1 | ` (a Compose service or Procfile process): a name, one or
/// more spaces, a bar. Compose colours the name and bar; sanitised, an SGR sequence reads
/// `\x1b[36m`, and is skipped wherever it appears in the prefix.
fn name_layer(s: &str) -> Option<&str> {
    let s = skip_sgr(s);
    let b = s.as_bytes();
    let name = b
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|&&c| is_name_byte(c))
        .count();
    if name == 0 || name > MAX_NAME || !b[0].is_ascii_alphanumeric() {
        return None;
    }
    let rest = skip_sgr(&s[name..]);
    let spaces = rest.bytes().take_while(|&c| c == b' ').count();
    if spaces == 0 {
        return None;
    }
    let rest = skip_sgr(rest[spaces..].strip_prefix('|')?);
    match rest.strip_prefix(' ') {
        Some(after) => Some(skip_sgr(after)),
        None if rest.is_empty() => Some(rest),
        None => None,
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'@')
}

/// Skips SGR sequences as sanitising writes them (`\x1b[0m`, `\x1b[1;36m`).
fn skip_sgr(mut s: &str) -> &str {
    while let Some(after) = s.strip_prefix("\\x1b[") {
        let params = after
            .bytes()
            .take(16)
            .take_while(|c| c.is_ascii_digit() || *c == b';')
            .count();
        match after[params..].strip_prefix('m') {
            Some(rest) => s = rest,
            None => break,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX: &str = "2024/09/27 02:33:25 [error] 7#7: *3 connect() failed";

    fn nginx_body(s: &str) -> bool {
        s.starts_with("2024/09/27 ")
    }

    fn peeled(line: &str) -> Option<(&str, Option<(Clock, &str)>)> {
        peel(line, nginx_body).map(|p| (p.body, p.stamp))
    }

    #[test]
    fn every_collector_prefix_is_peeled() {
        let cases: [(String, Option<(Clock, &str)>); 14] = [
            (
                format!("2024-09-27T02:33:25.123456789Z {NGINX}"),
                Some((Clock::Rfc3339, "2024-09-27T02:33:25.123456789Z")),
            ),
            (format!("web-1  | {NGINX}"), None),
            (format!("web_1  | {NGINX}"), None),
            (format!("\\x1b[36mweb-1  |\\x1b[0m {NGINX}"), None),
            (format!("\\x1b[36mweb-1  | \\x1b[0m{NGINX}"), None),
            (format!("nginx.1 | {NGINX}"), None),
            (format!("12:00:01 nginx.1 | {NGINX}"), None),
            (
                format!("Sep 27 02:33:25 web1 nginx: {NGINX}"),
                Some((Clock::Syslog, "Sep 27 02:33:25")),
            ),
            (
                format!("Sep  7 02:33:25 web1 nginx[123]: {NGINX}"),
                Some((Clock::Syslog, "Sep  7 02:33:25")),
            ),
            (
                format!("<11>Sep 27 02:33:25 web1 nginx: {NGINX}"),
                Some((Clock::Syslog, "Sep 27 02:33:25")),
            ),
            (
                format!("<11>1 2024-09-27T02:33:25Z web1 nginx - - - {NGINX}"),
                Some((Clock::Rfc3339, "2024-09-27T02:33:25Z")),
            ),
            (
                format!(
                    r#"<11>1 2024-09-27T02:33:25+02:00 web1 nginx 12 ID7 [x@1 a="b\"]"][y@1] {NGINX}"#
                ),
                Some((Clock::Rfc3339, "2024-09-27T02:33:25+02:00")),
            ),
            (
                format!("2024-09-27T02:33:25+0000 web1 nginx[123]: {NGINX}"),
                Some((Clock::Rfc3339, "2024-09-27T02:33:25+0000")),
            ),
            (
                format!("web-1  | 2024-09-27T02:33:25.1Z {NGINX}"),
                Some((Clock::Rfc3339, "2024-09-27T02:33:25.1Z")),
            ),
        ];
        for (line, stamp) in cases {
            assert_eq!(peeled(&line), Some((NGINX, stamp)), "{line}");
        }
    }

    #[test]
    fn prefix_like_text_is_not_a_prefix() {
        for line in [
            // Nothing peeled: the body must come after a prefix.
            NGINX.to_owned(),
            format!("GET /web-1 | {NGINX}"),
            format!("10.0.0.1 - - {NGINX}"),
            format!("web-1| {NGINX}"),
            format!("-web | {NGINX}"),
            format!("2024-09-27T02:33:25 {NGINX}"),
            format!("2024-09-27T02:33:25.Z {NGINX}"),
            format!("Sep 27 02:33:25 {NGINX}"),
            format!("Sep 27 02:33:25 web1 nginx[x]: {NGINX}"),
            format!("<1x>1 - a b c d - {NGINX}"),
            format!("12:00:01 {NGINX}"),
            format!("{} | {NGINX}", "a".repeat(200)),
            // Five layers: more than a collector stacks.
            format!("a | b | c | d | e | {NGINX}"),
        ] {
            assert_eq!(peeled(&line), None, "{line}");
        }
    }

    #[test]
    fn peeling_stops_at_the_first_body() {
        // The body is an nginx line whose message itself holds a prefix and another line.
        let inner = format!("2024/09/27 02:33:25 [info] 1#1: web-1  | {NGINX}");
        let line = format!("web-1  | {inner}");
        assert_eq!(peeled(&line), Some((inner.as_str(), None)));
    }
}

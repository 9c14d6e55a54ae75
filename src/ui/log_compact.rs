//! A log line as a narrow Logs pane shows it. An nginx or Apache error line spends its first
//! 30-60 columns on the date and on worker, thread and connection ids; in the 38 columns an 80x24
//! terminal gives the pane, the message never shows. Narrow, the pane shows the time, the level
//! and the message. The whole line stays what search counts, `y` copies and Enter shows.

/// Below this many columns the pane shows error lines compacted.
pub const NARROW: usize = 100;

/// `time [level] message` for an nginx or Apache error line; `None` for any other line, which is
/// shown as written.
pub fn compact(text: &str) -> Option<String> {
    nginx(text).or_else(|| apache(text))
}

/// `2027/01/15 07:58:01 [error] 12#12: *3 connect() failed ...`: the date, `pid#tid:` and the
/// connection number `*N` go.
fn nginx(text: &str) -> Option<String> {
    let (date, rest) = text.split_once(' ')?;
    if !shape(date, "dddd/dd/dd") {
        return None;
    }
    let (time, rest) = rest.split_once(' ')?;
    if !shape(time, "dd:dd:dd") {
        return None;
    }
    let (level, rest) = bracketed(rest)?;
    let rest = rest.strip_prefix(' ')?;
    let (ids, message) = rest.split_once(": ")?;
    let (pid, tid) = ids.split_once('#')?;
    if !digits(pid) || !digits(tid) {
        return None;
    }
    let message = match message.strip_prefix('*') {
        Some(conn) => match conn.split_once(' ') {
            Some((n, after)) if digits(n) => after,
            _ => message,
        },
        None => message,
    };
    Some(format!("{time} [{level}] {message}"))
}

/// `[Wed Jan 15 07:58:01.123456 2027] [proxy:error] [pid 12:tid 34] [client 10.0.0.1:5] AH01114:
/// ...`: the date, the pid and tid and the client go (Enter shows them).
fn apache(text: &str) -> Option<String> {
    let (stamp, rest) = bracketed(text)?;
    let mut words = stamp.split(' ').filter(|w| !w.is_empty());
    let (_day, _month, _date, clock, _year) = (
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
    );
    let time = clock.get(..8).filter(|t| shape(t, "dd:dd:dd"))?;
    let (level, mut rest) = bracketed(rest.strip_prefix(' ')?)?;
    for tag in ["pid ", "client ", "remote "] {
        if let Some((inside, after)) = rest.strip_prefix(' ').and_then(bracketed)
            && inside.starts_with(tag)
        {
            rest = after;
        }
    }
    Some(format!("{time} [{level}] {}", rest.trim_start()))
}

/// `[inside] rest` -> (`inside`, ` rest`).
fn bracketed(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some((&inner[..end], &inner[end + 1..]))
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is `pattern` with each `d` a digit and every other character itself.
fn shape(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| {
            if p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nginx_error_line_keeps_its_time_level_and_message() {
        let line = "2027/01/15 07:58:01 [error] 12#12: *3 connect() failed (111: Connection refused) \
                    while connecting to upstream, client: 10.0.0.1";
        assert_eq!(
            compact(line).as_deref(),
            Some(
                "07:58:01 [error] connect() failed (111: Connection refused) while connecting to \
                 upstream, client: 10.0.0.1"
            )
        );
        // No connection number (a startup line).
        assert_eq!(
            compact("2027/01/15 07:58:01 [notice] 1#1: signal process started").as_deref(),
            Some("07:58:01 [notice] signal process started")
        );
    }

    #[test]
    fn an_apache_error_line_keeps_its_time_level_and_message() {
        let line = "[Wed Jan 15 07:58:01.123456 2027] [proxy:error] [pid 12:tid 34] (111)Connection \
                    refused: AH00957: http: attempt to connect to 127.0.0.1:8080 (*) failed";
        assert_eq!(
            compact(line).as_deref(),
            Some(
                "07:58:01 [proxy:error] (111)Connection refused: AH00957: http: attempt to connect \
                 to 127.0.0.1:8080 (*) failed"
            )
        );
        let with_client = "[Wed Jan 15 07:58:01 2027] [proxy_http:error] [pid 7] [client 10.0.0.1:5] \
                           AH01102: error reading status line";
        assert_eq!(
            compact(with_client).as_deref(),
            Some("07:58:01 [proxy_http:error] AH01102: error reading status line")
        );
    }

    #[test]
    fn other_lines_and_hostile_ones_are_left_as_they_are() {
        for line in [
            "",
            "10.0.0.1 - - [15/Jan/2027:07:58:01 +0000] \"GET / HTTP/1.1\" 502 157",
            "2027/01/15 07:58:01 [error]",
            "2027/01/15 07:58:01 [error] x#y: message",
            "2027/01/15 07:58:01 [error 12#12: never closed",
            "[",
            "[Wed Jan] [error]",
            "[\u{1b}]0;pwned\u{7} Jan 15 07:58:01 2027] [error] x",
            "2027/01/15 07:58:0\u{e9} [error] 1#1: é",
        ] {
            assert_eq!(compact(line), None, "{line:?}");
        }
        // Multi-byte text after a valid prefix is kept whole.
        assert_eq!(
            compact("2027/01/15 07:58:01 [warn] 1#1: *9 ünïcode ✖").as_deref(),
            Some("07:58:01 [warn] ünïcode ✖")
        );
    }
}

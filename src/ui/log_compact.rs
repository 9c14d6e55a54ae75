//! A log line as a narrow Logs pane shows it. An nginx or Apache error line spends its first
//! 30-60 columns on the date and on worker, thread and connection ids; in the 38 columns an 80x24
//! terminal gives the pane, the message never shows. Narrow, the pane shows the time, the level
//! and the message. The whole line stays what search counts, `y` copies and Enter shows.

/// Below this many columns the pane shows error lines compacted.
pub const NARROW: usize = 100;

/// `time [level] message` for an nginx or Apache error line, read by the parsers that classify
/// it (so the two cannot disagree on what an error line is); `None` for any other line, which is
/// shown as written.
pub fn compact(text: &str) -> Option<String> {
    nginx(text).or_else(|| apache(text))
}

/// `2027/01/15 07:58:01 [error] 12#12: *3 connect() failed ...`: the date, `pid#tid:` and the
/// connection number `*N` go; the message and its fields stay.
fn nginx(text: &str) -> Option<String> {
    let e = crate::logs::parse_nginx_error(text)?;
    // The stderr form (`nginx: [emerg] ...`) has no stamp and nothing to drop.
    let clock = clock_of(e.time.rsplit(' ').next()?)?;
    let from = offset_in(text, e.message)?;
    Some(format!("{clock} [{}] {}", e.level, &text[from..]))
}

/// `[Wed Jan 15 07:58:01.123456 2027] [proxy:error] [pid 12:tid 34] [client 10.0.0.1:5] AH01114:
/// ...`: the date, the pid and tid and the client go (Enter shows them).
fn apache(text: &str) -> Option<String> {
    let e = crate::logs::parse_apache_error(text)?;
    let clock = clock_of(e.time.split(' ').filter(|w| !w.is_empty()).nth(3)?)?;
    let message = match e.message.strip_prefix("[client ") {
        Some(rest) => rest.split_once("] ").map_or(e.message, |(_, after)| after),
        None => e.message,
    };
    let level = match e.module {
        Some(module) => format!("{module}:{}", e.level),
        None => e.level.to_string(),
    };
    Some(format!("{clock} [{level}] {}", message.trim_start()))
}

/// `07:58:01` from `07:58:01` or `07:58:01.123456`.
fn clock_of(time: &str) -> Option<&str> {
    let clock = time.get(..8)?;
    let shape = clock.bytes().enumerate().all(|(i, b)| {
        if i % 3 == 2 {
            b == b':'
        } else {
            b.is_ascii_digit()
        }
    });
    shape.then_some(clock)
}

/// Where `part`, a slice of `whole`, starts in it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (at <= whole.len() && whole.is_char_boundary(at)).then_some(at)
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
            "[",
            "[Wed Jan] [error]",
            "[\u{1b}]0;pwned\u{7} Jan 15 07:58:01 2027] [error] x",
            "2027/01/15 07:58:0\u{e9} [error] 1#1: é",
            "nginx: [emerg] unknown directive \"x\"",
        ] {
            assert_eq!(compact(line), None, "{line:?}");
        }
        // Cut short or odd, as the classifying parser reads them: never longer, never a panic.
        for line in [
            "2027/01/15 07:58:01 [error]",
            "2027/01/15 07:58:01 [error] x#y: message",
            "2027/01/15 07:58:01 [error 12#12: never closed",
            "[Wed Jan 15 07:58:01 2027] [error] [client 1.2.3.4",
        ] {
            if let Some(short) = compact(line) {
                assert!(short.len() <= line.len(), "{line:?} -> {short:?}");
            }
        }
        // Multi-byte text after a valid prefix is kept whole.
        assert_eq!(
            compact("2027/01/15 07:58:01 [warn] 1#1: *9 ünïcode ✖").as_deref(),
            Some("07:58:01 [warn] ünïcode ✖")
        );
    }
}

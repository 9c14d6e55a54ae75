//! Small byte-level helpers shared by the parsers: substring search with prebuilt finders
//! (memchr's SIMD memmem) instead of regex, so classification stays far above 1M lines/s.

use memchr::memmem::Finder;

/// Declares lazily built `memmem` finders: `finders! { NAME = "needle"; ... }`.
macro_rules! finders {
    ($($name:ident = $needle:literal;)*) => {
        $(
            static $name: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
                std::sync::LazyLock::new(|| memchr::memmem::Finder::new($needle));
        )*
    };
}
pub(crate) use finders;

/// Every byte is printable ASCII: what sanitising leaves as it is, and valid UTF-8. Checked 16
/// bytes at a time by folds without early exit, which the compiler turns into vector compares;
/// the last 16 bytes overlap the whole chunks rather than take a byte-by-byte remainder.
#[inline]
pub fn is_printable(bytes: &[u8]) -> bool {
    #[inline(always)]
    fn chunk_ok(chunk: &[u8; 16]) -> bool {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
    }
    let (chunks, rest) = bytes.as_chunks::<16>();
    let Some(last) = bytes.last_chunk::<16>() else {
        return rest.iter().all(|&b| b.wrapping_sub(0x20) < 0x5f);
    };
    chunks.iter().all(chunk_ok) && chunk_ok(last)
}

/// `bytes` as text when every byte is printable ASCII ([`is_printable`]): what sanitising would
/// return unchanged, in one pass instead of that check plus UTF-8 validation.
#[inline]
pub fn printable_str(bytes: &[u8]) -> Option<&str> {
    if !is_printable(bytes) {
        return None;
    }
    // SAFETY: every byte is in 0x20..=0x7e, so `bytes` is ASCII, which is valid UTF-8.
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

pub fn find(hay: &str, finder: &Finder<'_>) -> Option<usize> {
    finder.find(hay.as_bytes())
}

pub fn has(hay: &str, finder: &Finder<'_>) -> bool {
    finder.find(hay.as_bytes()).is_some()
}

/// The first `(NNN` errno in `text` followed by `:` (nginx: `(111: Connection refused)`) or by a
/// letter (Apache: `(111)Connection refused`).
pub fn errno(text: &str) -> Option<u32> {
    let b = text.as_bytes();
    for open in memchr::memchr_iter(b'(', b) {
        let digits = b[open + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 6 {
            continue;
        }
        let after = b.get(open + 1 + digits).copied();
        if matches!(after, Some(b':') | Some(b')')) {
            return text[open + 1..open + 1 + digits].parse().ok();
        }
    }
    None
}

/// The value of a `key: "value"` field that starts at `from` (the `"` after the key), ending at
/// the next `"` that is followed by `, ` or the end of the line. Lenient: an unterminated value
/// runs to the end.
pub fn quoted_from(text: &str, from: usize) -> &str {
    let rest = &text[from..];
    let b = rest.as_bytes();
    for close in memchr::memchr_iter(b'"', b) {
        let next = &b[close + 1..];
        if next.is_empty() || next.starts_with(b", ") {
            return &rest[..close];
        }
    }
    rest
}

/// Reduces an upstream URL to the server it names (`http://10.0.0.5:8080/api?x` becomes
/// `http://10.0.0.5:8080`): the path and query come from the client, and counting by them would
/// split one backend into thousands of keys.
pub fn upstream_server(url: &str) -> &str {
    // Byte searches (memchr) for ASCII characters: what `str::find` would give, without its
    // generic searchers, on every failing line of a flood.
    let b = url.as_bytes();
    let scheme_end = memchr::memchr_iter(b':', b).find(|&i| b[i + 1..].starts_with(b"//"));
    let Some(scheme_end) = scheme_end else {
        return &url[..memchr::memchr2(b'/', b' ', b).unwrap_or(b.len())];
    };
    let authority_from = scheme_end + 3;
    let rest = &b[authority_from..];
    let len = if let Some(socket) = rest.strip_prefix(b"unix:") {
        // http://unix:/run/app.sock:/uri: the socket path runs to the next ':'.
        5 + memchr::memchr(b':', socket).unwrap_or(socket.len())
    } else {
        memchr::memchr3(b'/', b'?', b' ', rest).unwrap_or(rest.len())
    };
    &url[..authority_from + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_in_both_styles() {
        assert_eq!(
            errno("connect() failed (111: Connection refused) while"),
            Some(111)
        );
        assert_eq!(errno("(104)Connection reset by peer: AH01102"), Some(104));
        assert_eq!(errno("[pid 12:tid 3] (70007)The timeout"), Some(70007));
        assert_eq!(errno("connect() (x) failed"), None);
        assert_eq!(errno("f(1, 2)"), None);
    }

    #[test]
    fn upstream_servers() {
        assert_eq!(
            upstream_server("http://127.0.0.1:8080/api?x=1"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(upstream_server("https://[::1]:8443/"), "https://[::1]:8443");
        assert_eq!(
            upstream_server("fastcgi://unix:/run/php/php8.2-fpm.sock:"),
            "fastcgi://unix:/run/php/php8.2-fpm.sock"
        );
        assert_eq!(
            upstream_server("http://unix:/tmp/app.sock:/x/y"),
            "http://unix:/tmp/app.sock"
        );
        assert_eq!(upstream_server("10.0.0.1:80"), "10.0.0.1:80");
    }

    #[test]
    fn quoted_values_end_at_a_quote_before_a_comma() {
        let s = r#"request: "GET /a"b HTTP/1.1", upstream: "http://x/""#;
        let from = s.find('"').unwrap() + 1;
        assert_eq!(quoted_from(s, from), r#"GET /a"b HTTP/1.1"#);
        let up = s.rfind("upstream: \"").unwrap() + 11;
        assert_eq!(quoted_from(s, up), "http://x/");
    }
}

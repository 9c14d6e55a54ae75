//! A systemd unit's journal as a log: `journalctl -f -o json -n 1000 -u UNIT --no-pager`, one
//! JSON object per entry (see systemd's "Journal JSON Format" page). Each entry becomes text
//! lines `STAMP MESSAGE`, STAMP being the entry's `__REALTIME_TIMESTAMP` in RFC 3339, which the
//! prefix reader ([`super::prefix`]) peels off again: a message with a stamp of its own (nginx's
//! `2024/09/27 02:33:25 [error] ...`) keeps it, one without (`nginx: [emerg] ...`) gets the
//! journal's.
//!
//! Entries are hostile input: `MESSAGE` is a string, an array of bytes (journald's form for a
//! message that is not UTF-8 or holds control bytes), or null (journalctl's form for a field over
//! 4096 bytes without `--all`). An entry that cannot be read becomes a note line saying so, never
//! a panic; the bytes of a message are written as they are and made safe by the line reader
//! like any other log line.

use serde::Deserialize;

/// A message longer than this is cut (journald itself keeps up to 48 KiB by default).
const MESSAGE_MAX: usize = 64 * 1024;
/// What starts a line that is not from the journal but about it.
pub const NOTE: &str = "gatewatch: journal entry skipped: ";

/// A cursor longer than this is not journald's (they are about 100 bytes).
const CURSOR_MAX: usize = 512;

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "__CURSOR")]
    cursor: Option<String>,
    #[serde(rename = "MESSAGE")]
    message: Option<Message>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<Micros>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Text(String),
    Bytes(Vec<u8>),
}

/// journalctl writes numbers as strings (64-bit values do not survive every JSON reader).
#[derive(Deserialize)]
#[serde(untagged)]
enum Micros {
    Text(String),
    Number(u64),
}

impl Micros {
    fn stamp(&self) -> Option<String> {
        let micros: i64 = match self {
            Micros::Text(text) => text.parse().ok()?,
            Micros::Number(n) => i64::try_from(*n).ok()?,
        };
        // Display is RFC 3339 in UTC: `2024-09-27T02:33:25.123456Z`.
        jiff::Timestamp::from_microsecond(micros)
            .ok()
            .map(|t| t.to_string())
    }
}

/// Appends the text lines of one journal entry (a line of `journalctl -o json`, `cut` bytes
/// past the reader's cap dropped) to `out`, each ending with a newline. Returns the entry's
/// cursor (for `journalctl --after-cursor`) when it has a plausible one.
pub fn render(entry: &[u8], cut: u64, out: &mut Vec<u8>) -> Option<String> {
    if entry.trim_ascii().is_empty() {
        return None;
    }
    if cut > 0 {
        note(out, &format!("longer than {} bytes", entry.len()));
        return None;
    }
    let parsed: Entry = match serde_json::from_slice(entry) {
        Ok(parsed) => parsed,
        Err(e) => {
            // The error says where, never what: the entry's text could be anything.
            let what = if e.is_syntax() || e.is_eof() {
                "not valid JSON"
            } else {
                "not a journal entry (MESSAGE is neither text nor bytes)"
            };
            note(out, &format!("{what}, at column {}", e.column()));
            return None;
        }
    };
    let cursor = parsed.cursor.filter(|c| {
        !c.is_empty() && c.len() <= CURSOR_MAX && c.bytes().all(|b| b.is_ascii_graphic())
    });
    let message = match &parsed.message {
        Some(Message::Text(text)) => text.as_bytes(),
        Some(Message::Bytes(bytes)) => bytes.as_slice(),
        None => {
            note(
                out,
                "no MESSAGE (journalctl shows one over 4096 bytes as null)",
            );
            return cursor;
        }
    };
    let message = &message[..message.len().min(MESSAGE_MAX)];
    let stamp = parsed.realtime.as_ref().and_then(Micros::stamp);
    // A message of several lines is several log lines, each with the entry's stamp.
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() && message.len() > 1 {
            continue;
        }
        if let Some(stamp) = &stamp {
            out.extend_from_slice(stamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    cursor
}

fn note(out: &mut Vec<u8>, why: &str) {
    out.extend_from_slice(NOTE.as_bytes());
    out.extend_from_slice(why.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(entry: &str) -> String {
        let mut out = Vec::new();
        render(entry.as_bytes(), 0, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn the_cursor_is_kept_when_it_is_plausible() {
        let mut out = Vec::new();
        let entry = r#"{"__CURSOR":"s=1;i=2","MESSAGE":"m"}"#;
        assert_eq!(
            render(entry.as_bytes(), 0, &mut out).as_deref(),
            Some("s=1;i=2")
        );
        let hostile = r#"{"__CURSOR":"s=1\n--x","MESSAGE":"m"}"#;
        assert_eq!(render(hostile.as_bytes(), 0, &mut out), None);
        let long = format!(r#"{{"__CURSOR":"{}","MESSAGE":"m"}}"#, "c".repeat(600));
        assert_eq!(render(long.as_bytes(), 0, &mut out), None);
    }

    #[test]
    fn a_text_message_gets_the_entry_stamp() {
        let entry = r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1727404405123456","_PID":"123","SYSLOG_IDENTIFIER":"nginx","MESSAGE":"nginx: [emerg] host not found in upstream \"backend:8080\" in /etc/nginx/conf.d/app.conf:12"}"#;
        assert_eq!(
            rendered(entry),
            "2024-09-27T02:33:25.123456Z nginx: [emerg] host not found in upstream \"backend:8080\" in /etc/nginx/conf.d/app.conf:12\n"
        );
    }

    #[test]
    fn a_byte_array_message_is_written_as_bytes() {
        // "ok \x1b[2J\xff" as journald writes a message that is not clean UTF-8 text.
        let entry =
            r#"{"__REALTIME_TIMESTAMP":1727404405000000,"MESSAGE":[111,107,32,27,91,50,74,255]}"#;
        let mut out = Vec::new();
        render(entry.as_bytes(), 0, &mut out);
        assert_eq!(out, b"2024-09-27T02:33:25Z ok \x1b[2J\xff\n");
    }

    #[test]
    fn several_lines_share_the_stamp_and_no_stamp_is_no_prefix() {
        assert_eq!(
            rendered(r#"{"__REALTIME_TIMESTAMP":"0","MESSAGE":"a\nb\r\n"}"#),
            "1970-01-01T00:00:00Z a\n1970-01-01T00:00:00Z b\n"
        );
        assert_eq!(rendered(r#"{"MESSAGE":"bare"}"#), "bare\n");
        assert_eq!(
            rendered(r#"{"__REALTIME_TIMESTAMP":"soon","MESSAGE":"x"}"#),
            "x\n"
        );
    }

    #[test]
    fn hostile_entries_become_notes() {
        for (entry, why) in [
            ("{\"MESSAGE\":\"unterminated", "not valid JSON"),
            ("not json at all", "not valid JSON"),
            (r#"{"MESSAGE":[300,1]}"#, "not a journal entry"),
            (r#"{"MESSAGE":{"a":1}}"#, "not a journal entry"),
            (r#"[1,2]"#, "not a journal entry"),
            (r#"{"MESSAGE":null}"#, "no MESSAGE"),
            (r#"{"PRIORITY":"3"}"#, "no MESSAGE"),
        ] {
            let got = rendered(entry);
            assert!(got.starts_with(NOTE) && got.contains(why), "{entry}: {got}");
            assert!(!got.contains("unterminated"), "the note quotes nothing");
        }
        let deep = "[".repeat(10_000);
        assert!(rendered(&deep).starts_with(NOTE));
        let mut out = Vec::new();
        render(b"{\"MESSAGE\":\"aaaa", 99, &mut out);
        assert!(String::from_utf8_lossy(&out).contains("longer than"));
        assert!(rendered("  ").is_empty());
    }

    #[test]
    fn a_huge_message_is_capped() {
        let entry = format!(r#"{{"MESSAGE":"{}"}}"#, "x".repeat(MESSAGE_MAX * 2));
        assert_eq!(rendered(&entry).len(), MESSAGE_MAX + 1);
    }
}

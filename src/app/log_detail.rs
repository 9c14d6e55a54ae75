//! The log line detail (Enter in the Logs pane): the whole line, however long, and its fields as
//! the log parsers read them; `y` copies the line (see `clipboard`). The detail is a copy taken
//! when it opens, so a ring that drops the line meanwhile cannot change what is read.

use super::clipboard::{Clipboard, MAX_COPY, osc52};
use super::logs::Level;
use super::modal::Modal;
use super::{App, Effect};
use crate::keymap::Action;
use crate::logs::{self, Format, LogLine};
use crate::pane::PaneId;

/// One line opened: its source's name, its text and its fields in reading order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDetail {
    pub source: String,
    pub text: String,
    /// `(name, value)`, the names from [`FIELD_NAMES`]; values are parts of the sanitised line.
    pub fields: Vec<(&'static str, String)>,
}

/// Every field name a detail can show, in the order shown: the error log's first, then the
/// access log's and the formats' own.
pub const FIELD_NAMES: [&str; 21] = [
    "time",
    "level",
    "cause",
    "upstream",
    "client",
    "request",
    "server",
    "host",
    "status",
    "upstream status",
    "upstream addr",
    "request time",
    "upstream time",
    "bytes",
    "referer",
    "user agent",
    "frontend",
    "timers",
    "termination",
    "code",
    "format",
];

/// Keys of the access log extras that hold the request's and the upstream's times, as the
/// common `log_format`s name them (`rt=$request_time urt=$upstream_response_time`).
const REQUEST_TIME_KEYS: [&str; 3] = ["rt", "request_time", "reqtime"];
const UPSTREAM_TIME_KEYS: [&str; 4] = ["urt", "upstream_response_time", "uct", "upstream_time"];

impl LogDetail {
    pub fn of(source: &str, line: &LogLine) -> LogDetail {
        LogDetail {
            source: source.to_string(),
            text: line.text.clone(),
            fields: fields(line),
        }
    }

    /// The value of field `name`, if the line has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The line's fields, read by the parser of its format (the one the follower detected, else the
/// one its shape says), then what the follower itself found (cause, status, upstream).
pub fn fields(line: &LogLine) -> Vec<(&'static str, String)> {
    let text = line.text.as_str();
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let mut put = |name: &'static str, value: Option<&str>| {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty() && *v != "-")
            && !found.iter().any(|(n, _)| *n == name)
        {
            found.push((name, v.to_string()));
        }
    };
    let format = line.format.or_else(|| logs::detect(text));
    match format {
        Some(Format::NginxError) => {
            if let Some(e) = logs::parse_nginx_error(text) {
                put("time", Some(e.time));
                put("level", Some(e.level));
                put("upstream", e.upstream);
                put("client", e.client);
                put("request", e.request);
                put("server", e.server);
                put("host", e.host);
            }
        }
        Some(Format::Access) => {
            if let Some(a) = logs::parse_access(text) {
                put("time", Some(a.time));
                put("client", Some(a.client));
                put("request", Some(a.request));
                put("status", Some(&a.status.to_string()));
                put("upstream status", a.upstream_status);
                put("upstream addr", a.upstream_addr);
                put("request time", keyed(text, &REQUEST_TIME_KEYS));
                put("upstream time", keyed(text, &UPSTREAM_TIME_KEYS));
                put("bytes", a.bytes.map(|b| b.to_string()).as_deref());
                put("referer", a.referer);
                put("user agent", a.user_agent);
            }
        }
        Some(Format::ApacheError) => {
            if let Some(e) = logs::parse_apache_error(text) {
                put("time", Some(e.time));
                let level = match e.module {
                    Some(m) => format!("{m}:{}", e.level),
                    None => e.level.to_string(),
                };
                put("level", Some(&level));
                put("client", e.client);
                put("code", e.code);
            }
        }
        Some(Format::Haproxy) => {
            if let Some(h) = logs::parse_haproxy(text) {
                put("time", Some(h.time));
                put("client", h.client);
                put("request", h.request);
                put("status", h.status.map(|s| s.to_string()).as_deref());
                put("upstream", Some(&format!("{}/{}", h.backend, h.server)));
                put("frontend", Some(h.frontend));
                put("timers", Some(h.timers));
                put("termination", Some(h.termination));
                put("bytes", h.bytes.map(|b| b.to_string()).as_deref());
            }
        }
        _ => {}
    }
    // What the follower found, for every format (Traefik, Envoy, Caddy ...) and where the
    // parser above had nothing.
    put("time", logs::classify(text, None).time);
    put(
        "time",
        line.time
            .and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
            .as_deref(),
    );
    put("level", Level::of(line).map(Level::name));
    put("cause", line.cause.map(|c| c.name()));
    put("upstream", line.upstream.as_deref());
    put("status", line.status.map(|s| s.to_string()).as_deref());
    put("format", format.map(Format::name));
    found.sort_by_key(|(name, _)| FIELD_NAMES.iter().position(|n| n == name));
    found
}

/// The value of the first `key=value` token whose key is one of `keys`.
fn keyed<'a>(text: &'a str, keys: &[&str]) -> Option<&'a str> {
    text.split_ascii_whitespace().find_map(|token| {
        let (k, v) = token.split_once('=')?;
        keys.contains(&k).then(|| v.trim_matches('"'))
    })
}

impl App {
    /// Enter in the Logs pane: the selected line's detail.
    pub(super) fn open_log_detail(&mut self) {
        let book = &self.model.logs;
        match self.logs.selected(book, self.scroll[PaneId::Logs.index()]) {
            Some((source, line)) => {
                let label = book.sources.get(source).map_or("", |s| s.label.as_str());
                self.modal = Some(Modal::LogDetail {
                    detail: Box::new(LogDetail::of(label, line)),
                    scroll: 0,
                });
            }
            None => self.message = Some("no log line to open".into()),
        }
    }

    /// `y` in the Logs pane: the selected line.
    pub(super) fn copy_selected(&mut self) -> Vec<Effect> {
        let selected = self
            .logs
            .selected(&self.model.logs, self.scroll[PaneId::Logs.index()])
            .map(|(_, l)| l.text.clone());
        match selected {
            Some(text) => self.copy(&text),
            None => {
                self.message = Some("no log line to copy".into());
                vec![]
            }
        }
    }

    /// Copies `text` through the terminal when it takes OSC 52; otherwise says why not.
    pub(super) fn copy(&mut self, text: &str) -> Vec<Effect> {
        match &self.clipboard {
            Clipboard::Osc52 => {
                let (bytes, cut) = osc52(text);
                self.message = Some(if cut {
                    format!("copied the first {} KiB of the line", MAX_COPY / 1024)
                } else {
                    format!("copied the line ({} bytes)", text.len())
                });
                vec![Effect::Copy(bytes)]
            }
            Clipboard::Off(why) => {
                self.message = Some(format!("not copied: {why}"));
                vec![]
            }
        }
    }

    /// Keys while the detail is open. Returns whether anything changed, and the copy to send.
    pub(super) fn on_log_detail_key(
        &mut self,
        detail: Box<LogDetail>,
        scroll: u16,
        action: Option<Action>,
    ) -> (bool, Vec<Effect>) {
        // The rows the popup holds, from the terminal's size (its border and margins off): the
        // line wrapped, a blank, the fields and the file. Drawing stops at the real end; this
        // keeps `j` from counting far past it, so `k` answers at once.
        let (width, height) = self.size;
        let inner = usize::from(width.saturating_sub(6)).max(1);
        let rows = detail.text.chars().count().div_ceil(inner) + 2 + detail.fields.len();
        let shown = usize::from(height.saturating_sub(8));
        let most = u16::try_from(rows.saturating_sub(shown)).unwrap_or(u16::MAX);
        let (scroll, effects) = match action {
            Some(Action::Close) => return (true, vec![]),
            Some(Action::ScrollDown) => (scroll.saturating_add(1).min(most), vec![]),
            Some(Action::ScrollUp) => (scroll.saturating_sub(1), vec![]),
            Some(Action::CopyLine) => {
                let effects = self.copy(&detail.text);
                (scroll, effects)
            }
            _ => {
                self.modal = Some(Modal::LogDetail { detail, scroll });
                return (false, vec![]);
            }
        };
        self.modal = Some(Modal::LogDetail { detail, scroll });
        (true, effects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::classify;

    /// A line as the follower makes it: sanitised, classified.
    fn followed(raw: &str) -> LogLine {
        let text = crate::sanitize::sanitize(raw).into_owned();
        let c = classify(&text, None);
        LogLine {
            format: c.format,
            cause: c.cause,
            status: c.status,
            upstream: c.upstream.map(str::to_owned),
            time: None,
            text,
        }
    }

    fn detail(raw: &str) -> LogDetail {
        LogDetail::of("/var/log/nginx/error.log", &followed(raw))
    }

    #[test]
    fn an_nginx_error_line_gives_every_field() {
        let d = detail(
            "2027/01/15 08:00:01 [error] 12#12: *3 connect() failed (111: Connection refused) while \
             connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET /pay HTTP/1.1\", \
             upstream: \"http://127.0.0.1:35073/pay\", host: \"shop.example\"",
        );
        let names: Vec<&str> = d.fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "time", "level", "cause", "upstream", "client", "request", "server", "host",
                "format"
            ]
        );
        assert_eq!(d.field("time"), Some("2027/01/15 08:00:01"));
        assert_eq!(d.field("level"), Some("error"));
        assert_eq!(d.field("cause"), Some("refused"));
        assert_eq!(d.field("upstream"), Some("http://127.0.0.1:35073/pay"));
        assert_eq!(d.field("client"), Some("10.0.0.1"));
        assert_eq!(d.field("request"), Some("GET /pay HTTP/1.1"));
        assert_eq!(d.field("server"), Some("shop"));
        assert_eq!(d.field("host"), Some("shop.example"));
        assert_eq!(d.field("format"), Some("nginx_error"));
        assert_eq!(d.source, "/var/log/nginx/error.log");
    }

    #[test]
    fn an_access_line_gives_status_upstream_and_times() {
        let d = detail(
            "203.0.113.7 - - [15/Jan/2027:08:00:01 +0000] \"GET /api/items?id=4 HTTP/1.1\" 502 157 \
             \"https://shop/\" \"Mozilla/5.0\" us=502 ua=10.0.0.9:8080 rt=0.004 urt=0.003",
        );
        assert_eq!(d.field("time"), Some("15/Jan/2027:08:00:01 +0000"));
        assert_eq!(d.field("client"), Some("203.0.113.7"));
        assert_eq!(d.field("request"), Some("GET /api/items?id=4 HTTP/1.1"));
        assert_eq!(d.field("status"), Some("502"));
        assert_eq!(d.field("level"), Some("error"));
        assert_eq!(d.field("upstream status"), Some("502"));
        assert_eq!(d.field("upstream addr"), Some("10.0.0.9:8080"));
        assert_eq!(d.field("upstream"), Some("10.0.0.9:8080"));
        assert_eq!(d.field("request time"), Some("0.004"));
        assert_eq!(d.field("upstream time"), Some("0.003"));
        assert_eq!(d.field("bytes"), Some("157"));
        assert_eq!(d.field("referer"), Some("https://shop/"));
        assert_eq!(d.field("user agent"), Some("Mozilla/5.0"));
        // The plain combined format: no upstream fields to show.
        let d = detail(
            "203.0.113.7 - - [15/Jan/2027:08:00:01 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"",
        );
        assert_eq!(d.field("status"), Some("200"));
        assert_eq!(d.field("upstream addr"), None);
        assert_eq!(d.field("referer"), None, "a `-` is no value");
    }

    #[test]
    fn an_apache_error_line_gives_module_level_client_and_code() {
        let d = detail(
            "[Fri Jan 15 08:00:01.123456 2027] [proxy:error] [pid 812:tid 7] (111)Connection \
             refused: [client 10.0.0.1:5555] AH00957: HTTP: attempt to connect to 127.0.0.1:8080 \
             (127.0.0.1) failed",
        );
        assert_eq!(d.field("level"), Some("proxy:error"));
        assert_eq!(d.field("client"), Some("10.0.0.1:5555"));
        assert_eq!(d.field("code"), Some("AH00957"));
        assert_eq!(d.field("cause"), Some("refused"));
        assert_eq!(d.field("format"), Some("apache_error"));
        assert!(d.field("time").is_some_and(|t| t.contains("2027")));
    }

    #[test]
    fn a_haproxy_line_gives_backend_server_termination_and_request() {
        let d = detail(
            "haproxy[1234]: 10.0.0.1:56789 [15/Jan/2027:08:00:01.123] fe be/srv1 0/0/-1/-1/3002 503 212 \
             - - SC-- 1/1/0/0/3 0/0 \"GET /x HTTP/1.1\"",
        );
        assert_eq!(d.field("time"), Some("15/Jan/2027:08:00:01.123"));
        assert_eq!(d.field("client"), Some("10.0.0.1:56789"));
        assert_eq!(d.field("frontend"), Some("fe"));
        assert_eq!(d.field("upstream"), Some("be/srv1"));
        assert_eq!(d.field("status"), Some("503"));
        assert_eq!(d.field("termination"), Some("SC--"));
        assert_eq!(d.field("timers"), Some("0/0/-1/-1/3002"));
        assert_eq!(d.field("request"), Some("GET /x HTTP/1.1"));
        assert_eq!(d.field("format"), Some("haproxy"));
    }

    #[test]
    fn y_copies_the_selected_line_where_the_terminal_takes_it_and_says_why_not_elsewhere() {
        use crate::app::Event;
        use crate::app::fixtures::{app, press};
        use crate::logs::{LogBatch, LogBook, RingLimits, SourceSpec};
        use crossterm::event::KeyCode;
        let mut a = app();
        a.model.logs = LogBook::new(
            &[SourceSpec::file("/logs/error.log", None)],
            RingLimits::default(),
        );
        let lines = ["first line", "newest line"].map(followed).to_vec();
        a.update(Event::Log(Box::new(LogBatch::following(0, lines))));
        press(&mut a, KeyCode::Char('4'));
        a.clipboard = Clipboard::Off("TERM=dumb is not known".into());
        assert!(press(&mut a, KeyCode::Char('y')).is_empty());
        assert_eq!(
            a.message.as_deref(),
            Some("not copied: TERM=dumb is not known")
        );
        a.clipboard = Clipboard::Osc52;
        press(&mut a, KeyCode::Char('k'));
        assert_eq!(
            press(&mut a, KeyCode::Char('y')),
            vec![Effect::Copy(b"\x1b]52;c;Zmlyc3QgbGluZQ==\x07".to_vec())],
            "the selected line, one up from the newest"
        );
        assert_eq!(a.message.as_deref(), Some("copied the line (10 bytes)"));
        // In the detail, y copies the line it shows.
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.modal_kind(), Some(crate::popup::ModalKind::LogDetail));
        assert_eq!(
            press(&mut a, KeyCode::Char('y')),
            vec![Effect::Copy(osc52("first line").0)]
        );
        assert_eq!(a.modal_kind(), Some(crate::popup::ModalKind::LogDetail));
        // A detail that fits does not scroll: `j` past its end is not counted for `k` to undo.
        for _ in 0..5 {
            press(&mut a, KeyCode::Char('j'));
        }
        assert!(
            matches!(a.modal, Some(Modal::LogDetail { scroll: 0, .. })),
            "{:?}",
            a.modal
        );
        press(&mut a, KeyCode::Char('q'));
        assert_eq!(
            a.modal_kind(),
            None,
            "q closes the detail, it does not quit"
        );
    }

    #[test]
    fn hostile_lines_give_safe_fields_and_no_panic() {
        let d = detail(
            "2027/01/15 08:00:01 [error] 12#12: *3 connect() failed (111: Connection refused), client: \
             10.0.0.1\x1b]0;pwned\x07, server: s\u{9b}31m, request: \"GET /\x1b[2J HTTP/1.1\", \
             upstream: \"http://127.0.0.1:1/\x07\", host: \"h\"",
        );
        for (name, value) in &d.fields {
            assert!(
                !value.chars().any(char::is_control),
                "{name} holds a control: {value:?}"
            );
        }
        assert!(!d.text.chars().any(char::is_control));
        assert_eq!(d.field("client"), Some("10.0.0.1\\x1b]0;pwned\\x07"));
        assert_eq!(d.field("upstream"), Some("http://127.0.0.1:1/\\x07"));
        // A 16 KiB line, as capped by the follower: read whole, fields still found.
        let long = format!(
            "2027/01/15 08:00:01 [error] 12#12: *3 upstream timed out (110: Connection timed out), \
             client: 10.0.0.1, server: shop, request: \"GET /{} HTTP/1.1\", upstream: \
             \"http://127.0.0.1:9/\", host: \"shop\"",
            "a".repeat(16 * 1024)
        );
        let d = detail(&long);
        assert_eq!(d.text.len(), long.len());
        assert_eq!(d.field("upstream"), Some("http://127.0.0.1:9/"));
        assert_eq!(d.field("cause"), Some("timeout"));
        // Nothing recognisable: the text alone, no invented field.
        let d = detail(&"\x00\x01\u{202e}".repeat(6000));
        assert!(d.fields.is_empty(), "{:?}", d.fields);
    }
}

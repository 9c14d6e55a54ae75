//! The Logs pane's line detail, sideways scroll and merged view, drawn from two logs fed as the
//! follower feeds them (sanitised, classified lines), at 80x24 and 120x40.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tests::{app, render};
use crate::app::modal::ModalKind;
use crate::app::{App, Event};
use crate::logs::{LogBatch, LogBook, LogLine, RingLimits, SourceSpec, classify};

/// 2027-01-15 08:00:00 UTC, the snapshots' clock.
const NOW: i64 = 1_800_000_000;

fn followed(raw: &str, time: i64) -> LogLine {
    let text = crate::sanitize::sanitize(raw).into_owned();
    let c = classify(&text, None);
    LogLine {
        format: c.format,
        cause: c.cause,
        status: c.status,
        upstream: c.upstream.map(str::to_owned),
        time: Some(time),
        text,
    }
}

fn error_line(second: i64, port: u16) -> LogLine {
    followed(
        &format!(
            "2027/01/15 07:59:{second:02} [error] 12#12: *{second} connect() failed (111: Connection \
             refused) while connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET \
             /checkout/payment/confirm?order=12345 HTTP/1.1\", upstream: \
             \"http://127.0.0.1:{port}/checkout/payment/confirm?order=12345\", host: \"shop.example\""
        ),
        NOW - 60 + second,
    )
}

fn access_line(second: i64, status: u16) -> LogLine {
    followed(
        &format!(
            "203.0.113.7 - - [15/Jan/2027:07:59:{second:02} +0000] \"GET /api/items HTTP/1.1\" \
             {status} 157 \"-\" \"curl/8\" us={status} ua=127.0.0.1:35073 rt=0.004"
        ),
        NOW - 60 + second,
    )
}

fn batch(source: usize, lines: Vec<LogLine>) -> Event {
    Event::Log(Box::new(LogBatch::following(source, lines)))
}

/// An access log with no failure first, then the error log with the 502s' causes.
fn logs_app(size: (u16, u16)) -> App {
    let mut a = app(size);
    a.model.logs = LogBook::new(
        &[
            SourceSpec::file("/var/log/nginx/access.log", None),
            SourceSpec::file("/var/log/nginx/error.log", None),
        ],
        RingLimits::default(),
    );
    a.update(batch(
        0,
        (0..6)
            .map(|s| access_line(s * 2, if s == 5 { 502 } else { 200 }))
            .collect(),
    ));
    a.update(batch(
        1,
        (0..4).map(|s| error_line(s * 2 + 1, 35073)).collect(),
    ));
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char('4'),
        KeyModifiers::NONE,
    )));
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char('z'),
        KeyModifiers::NONE,
    )));
    a
}

fn press(a: &mut App, code: KeyCode) {
    a.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

/// The popup's inner columns of every row, joined: a wrapped line reads whole.
fn popup_text(screen: &str, width: usize) -> String {
    screen
        .lines()
        // Each row is quoted: the quote, the pane's border and margin, the popup's border.
        .flat_map(|r| r.chars().skip(4).take(width.saturating_sub(6)))
        .collect()
}

fn screen(a: &mut App, w: u16, h: u16) -> String {
    render(a, w, h).backend().to_string()
}

#[test]
fn the_pane_opens_on_the_log_with_the_most_502_class_lines() {
    let mut a = logs_app((120, 40));
    assert_eq!(a.logs.current, 1, "4 causes beat one 502");
    let term = render(&mut a, 120, 40);
    let s = term.backend().to_string();
    assert!(s.contains("[2/2] /var/log/nginx/error.log"), "{s}");
    // The selected line, the newest, is marked; the others are not.
    let buffer = term.backend().buffer();
    let row_of = |needle: &str| {
        s.lines()
            .position(|r| r.contains(needle))
            .and_then(|y| u16::try_from(y).ok())
            .unwrap_or_else(|| panic!("{needle}:\n{s}"))
    };
    let reversed = |y: u16| {
        buffer[(30, y)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(reversed(row_of("*7 connect()")), "the newest is selected");
    assert!(!reversed(row_of("*5 connect()")));
    press(&mut a, KeyCode::Char('k'));
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("paused"), "{s}");
    let buffer = render(&mut a, 120, 40);
    let buffer = buffer.backend().buffer();
    let y = s
        .lines()
        .position(|r| r.contains("*5 connect()"))
        .and_then(|y| u16::try_from(y).ok())
        .unwrap_or_else(|| panic!("{s}"));
    assert!(
        buffer[(30, y)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED),
        "k moved the selection up"
    );
}

#[test]
fn the_detail_shows_the_whole_line_and_its_fields() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut a = logs_app((w, h));
        let s = screen(&mut a, w, h);
        assert!(
            !s.contains("order=12345\", host"),
            "the pane cuts the line:\n{s}"
        );
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.modal_kind(), Some(ModalKind::LogDetail));
        assert!(
            a.zoomed,
            "Enter opened the line, it did not unzoom the pane"
        );
        let s = screen(&mut a, w, h);
        // The wrapped text holds the whole upstream, whatever the width.
        let joined = popup_text(&s, usize::from(w));
        assert!(
            joined.contains(
                "upstream: \"http://127.0.0.1:35073/checkout/payment/confirm?order=12345\""
            ),
            "{s}"
        );
        assert!(s.contains("refused"), "{s}");
        assert!(s.contains("/var/log/nginx/error.log"), "{s}");
        insta::assert_snapshot!(format!("detail_{w}x{h}"), s);
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.modal_kind(), None);
    }
}

#[test]
fn left_and_right_scroll_unwrapped_lines_and_the_title_says_how_far() {
    let mut a = logs_app((120, 40));
    press(&mut a, KeyCode::Right);
    press(&mut a, KeyCode::Right);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("→40"), "{s}");
    assert!(
        !s.contains("2027/01/15 07:59:07"),
        "the start scrolled away:\n{s}"
    );
    // 40 columns in: past "[refused] 2027/01/15 07:59:07 [error] 12".
    assert!(s.contains("│#12: *7 connect() failed"), "{s}");
    press(&mut a, KeyCode::Left);
    press(&mut a, KeyCode::Left);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("[refused] 2027/01/15 07:59:07 [error]"), "{s}");
    assert!(!s.contains('→'), "{s}");
}

#[test]
fn the_merged_view_interleaves_both_logs_by_time_with_their_names() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut a = logs_app((w, h));
        press(&mut a, KeyCode::Char('m'));
        let s = screen(&mut a, w, h);
        assert!(s.contains("all 2 logs"), "{s}");
        let rows: Vec<&str> = s
            .lines()
            .filter(|r| r.contains("access.log ") || r.contains("error.log "))
            .collect();
        let names: Vec<&str> = rows
            .iter()
            .map(|r| if r.contains("access.log ") { "a" } else { "e" })
            .collect();
        assert_eq!(
            names,
            ["a", "e", "a", "e", "a", "e", "a", "e", "a", "a"],
            "by time, alternating:\n{s}"
        );
        insta::assert_snapshot!(format!("merged_{w}x{h}"), s);
        // Enter opens the merged view's selected line: the newest, from the access log.
        press(&mut a, KeyCode::Enter);
        let s = screen(&mut a, w, h);
        assert!(s.contains("/var/log/nginx/access.log"), "{s}");
        assert!(s.contains("upstream addr"), "{s}");
    }
}

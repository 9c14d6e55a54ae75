//! The Logs pane's finding as drawn: the counter and filters in the title, the current match
//! apart from the others, the prompt's hint in the footer, the "new lines" marker, and wrap mode
//! with a huge line and a long cause strip. At 80x24 and 120x40.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;

use super::tests::{app, render};
use crate::app::{App, Event};
use crate::logs::{Cause, Format, LogBatch, LogLine, RingLimits, SourceSpec};

const T: i64 = 1_800_000_000 - 300;

fn line(text: &str, cause: Option<Cause>, upstream: Option<&str>) -> LogLine {
    LogLine {
        text: text.into(),
        format: Some(Format::NginxError),
        cause,
        status: None,
        upstream: upstream.map(str::to_string),
        time: Some(T),
    }
}

fn batch(lines: Vec<LogLine>) -> Event {
    Event::Log(Box::new(LogBatch::following(0, lines)))
}

fn refused(n: u32, upstream: &str) -> LogLine {
    line(
        &format!(
            "2027/01/15 07:55:0{n} [error] 12#12: *{n} connect() failed (111: Connection refused) \
             while connecting to upstream, upstream: \"{upstream}\""
        ),
        Some(Cause::Refused),
        Some(upstream),
    )
}

fn logs_app(size: (u16, u16)) -> App {
    let mut a = app(size);
    a.model.logs = crate::logs::LogBook::new(
        &[SourceSpec::file("/var/log/nginx/error.log", None)],
        RingLimits::default(),
    );
    a.update(batch(vec![
        line(
            "2027/01/15 07:55:00 [notice] 1#1: start worker processes",
            None,
            None,
        ),
        refused(1, "http://10.0.0.5:8080/"),
        line(
            "2027/01/15 07:55:02 [info] 12#12: *2 client closed keepalive connection",
            None,
            None,
        ),
        line(
            "2027/01/15 07:55:03 [error] 12#12: *3 upstream timed out (110: Connection timed out)",
            Some(Cause::Timeout),
            Some("http://10.0.0.6:8080/"),
        ),
        line(
            "2027/01/15 07:55:04 [info] 12#12: *4 GET /health 200",
            None,
            None,
        ),
        refused(5, "http://10.0.0.7:8080/"),
        line(
            "2027/01/15 07:55:06 [warn] 12#12: *6 an upstream response is buffered",
            None,
            None,
        ),
    ]));
    key(&mut a, KeyCode::Char('4'));
    key(&mut a, KeyCode::Char('z'));
    a
}

fn key(a: &mut App, code: KeyCode) {
    a.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn type_in(a: &mut App, text: &str) {
    for c in text.chars() {
        key(a, KeyCode::Char(c));
    }
}

fn rows(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

/// `x` filter, `/` search, one `n`: the title names both with the counter, and the current
/// match is drawn apart from the other.
fn searched(size: (u16, u16)) -> Terminal<TestBackend> {
    let mut a = logs_app(size);
    key(&mut a, KeyCode::Char('x'));
    type_in(&mut a, "health");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Char('/'));
    type_in(&mut a, r"\*\d connect");
    key(&mut a, KeyCode::Enter);
    let term = render(&mut a, size.0, size.1);
    let screen = rows(&term).join("\n");
    assert!(screen.contains("x health"), "{screen}");
    assert!(screen.contains(r"/\*\d connect 1/2"), "{screen}");
    assert!(!screen.contains("GET /health"), "filtered out:\n{screen}");
    key(&mut a, KeyCode::Char('n'));
    let term = render(&mut a, size.0, size.1);
    let screen = rows(&term).join("\n");
    assert!(screen.contains(r"/\*\d connect 2/2"), "{screen}");

    // The match in each line: the current one (*5) is underlined, the other not.
    let buf = term.backend().buffer();
    let styles: Vec<(u16, bool)> = rows(&term)
        .iter()
        .enumerate()
        .filter_map(|(y, r)| {
            let at = r.find(" connect() failed")?;
            let x = r[..at].chars().count() + 1;
            let cell = &buf[(x as u16, y as u16)];
            Some((y as u16, cell.modifier.contains(Modifier::UNDERLINED)))
        })
        .collect();
    assert_eq!(styles.len(), 2, "{screen}");
    assert!(!styles[0].1 && styles[1].1, "{styles:?}\n{screen}");
    term
}

#[test]
fn search_counter_and_filters_in_the_title_80x24() {
    insta::assert_snapshot!(searched((80, 24)).backend());
}

#[test]
fn search_counter_and_filters_in_the_title_120x40() {
    insta::assert_snapshot!(searched((120, 40)).backend());
}

fn prompting(size: (u16, u16)) -> Terminal<TestBackend> {
    let mut a = logs_app(size);
    key(&mut a, KeyCode::Char('&'));
    type_in(&mut a, "connect");
    let term = render(&mut a, size.0, size.1);
    let screen = rows(&term).join("\n");
    let footer = rows(&term).last().cloned().unwrap_or_default();
    assert!(footer.contains("Enter apply"), "{footer}");
    assert!(footer.contains("Esc cancel"), "{footer}");
    assert!(footer.contains("regex, smartcase"), "{footer}");
    assert!(footer.contains("4 matches"), "{footer}");
    assert!(screen.contains("& connect█"), "{screen}");
    term
}

#[test]
fn the_prompt_hints_in_the_footer_with_the_live_count_80x24() {
    insta::assert_snapshot!(prompting((80, 24)).backend());
}

#[test]
fn the_prompt_hints_in_the_footer_with_the_live_count_120x40() {
    insta::assert_snapshot!(prompting((120, 40)).backend());
}

#[test]
fn an_invalid_regex_is_shown_in_the_prompt() {
    let mut a = logs_app((120, 40));
    key(&mut a, KeyCode::Char('/'));
    type_in(&mut a, "a[b");
    key(&mut a, KeyCode::Enter);
    let screen = rows(&render(&mut a, 120, 40)).join("\n");
    assert!(
        screen.contains("/a[b█ invalid regex: unclosed character class"),
        "{screen}"
    );
}

#[test]
fn paused_lines_arriving_show_a_new_lines_marker_until_f() {
    let mut a = logs_app((80, 24));
    // A full pane: what arrives while paused is below it.
    a.update(batch(
        (0..30)
            .map(|i| {
                line(
                    &format!("2027/01/15 07:55:06 [info] filler {i}"),
                    None,
                    None,
                )
            })
            .collect(),
    ));
    key(&mut a, KeyCode::Char('f'));
    a.update(batch(vec![
        line("2027/01/15 07:55:07 [info] later one", None, None),
        line("2027/01/15 07:55:08 [info] later two", None, None),
    ]));
    let screen = rows(&render(&mut a, 80, 24)).join("\n");
    assert!(screen.contains("▼ 2 new lines (f follows)"), "{screen}");
    assert!(!screen.contains("later two"), "paused:\n{screen}");
    key(&mut a, KeyCode::Char('f'));
    let screen = rows(&render(&mut a, 80, 24)).join("\n");
    assert!(!screen.contains("new lines"), "{screen}");
    assert!(screen.contains("later two"), "{screen}");
}

#[test]
fn in_wrap_mode_a_16_kib_line_is_capped_and_the_others_stay_in_view() {
    let mut a = logs_app((120, 40));
    let huge = format!(
        "2027/01/15 07:55:07 [error] HUGE-START {} HUGE-END",
        "y".repeat(16 * 1024)
    );
    a.update(batch(vec![
        line(&huge, None, None),
        line("2027/01/15 07:55:08 [info] the newest line", None, None),
    ]));
    key(&mut a, KeyCode::Char('w'));
    let term = render(&mut a, 120, 40);
    let screen = rows(&term).join("\n");
    assert!(screen.contains("HUGE-START"), "{screen}");
    assert!(!screen.contains("HUGE-END"), "{screen}");
    assert!(screen.contains("the newest line"), "{screen}");
    assert!(
        screen.contains("*6 an upstream response"),
        "older lines too:\n{screen}"
    );
    let marker = rows(&term)
        .iter()
        .find(|r| r.contains("… +"))
        .cloned()
        .unwrap_or_else(|| panic!("no cap marker:\n{screen}"));
    // Of 16 KiB and some, half a pane of 118-column rows is shown: the rest is 15 KiB.
    assert!(marker.contains("… +15 KiB"), "{marker}");
    // Scrolled so the huge line is the bottom one, still capped.
    key(&mut a, KeyCode::Char('k'));
    let screen = rows(&render(&mut a, 120, 40)).join("\n");
    assert!(
        screen.contains("HUGE-START") && screen.contains("… +"),
        "{screen}"
    );
    assert!(screen.contains("*6 an upstream response"), "{screen}");
}

#[test]
fn in_wrap_mode_the_cause_strip_keeps_one_row_each() {
    let mut a = logs_app((80, 24));
    // Many failing upstreams make the strip's upstream row far wider than 80 columns.
    let many: Vec<LogLine> = (0..6)
        .map(|i| {
            refused(
                i,
                &format!("http://payments-backend-number-{i}.internal:8080/"),
            )
        })
        .collect();
    a.update(batch(many));
    let unwrapped = rows(&render(&mut a, 80, 24));
    key(&mut a, KeyCode::Char('w'));
    let wrapped = rows(&render(&mut a, 80, 24));
    // The cause row, then the upstreams row right under it, and no other row of the strip.
    for rows in [&unwrapped, &wrapped] {
        let screen = rows.join("\n");
        let causes = rows
            .iter()
            .position(|r| r.contains("refused 8"))
            .unwrap_or_else(|| panic!("{screen}"));
        assert!(rows[causes + 1].contains("failing upstreams:"), "{screen}");
        let named = rows.iter().filter(|r| r.contains('×')).count();
        assert_eq!(named, 1, "{screen}");
    }
}

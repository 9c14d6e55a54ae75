//! The Logs pane's finding, through the keys an operator presses: regex smartcase, invalid
//! patterns, the counter, stacked filters, Esc's order, jumps to errors and to a time, the
//! count of lines that arrived while paused, and the cache against a ring that moves on.

use crossterm::event::KeyCode;

use super::*;
use crate::app::fixtures::{app, press};
use crate::app::log_search_input::PromptKind;
use crate::app::modal::Modal;
use crate::app::{App, Event};
use crate::logs::{Format, LogBatch, RingLimits, SourceSpec};
use crate::pane::PaneId;

/// The fixtures' clock: 2027-01-15 08:00:00 UTC.
const NOW: i64 = 1_800_000_000;

fn line(text: &str, time: Option<i64>) -> LogLine {
    LogLine {
        text: text.into(),
        format: Some(Format::NginxError),
        cause: None,
        status: None,
        upstream: None,
        time,
    }
}

fn batch(lines: Vec<LogLine>) -> Event {
    Event::Log(Box::new(LogBatch::following(0, lines)))
}

/// Ten lines a minute apart from 07:50, only some with a parsed time (as the reader gives
/// them: failures only); the others' stamps are read when asked.
fn lines() -> Vec<LogLine> {
    let texts = [
        "[notice] 1#1: start worker processes",
        "[info] 12#12: *1 client closed keepalive connection",
        "[error] 12#12: *2 connect() failed (111: Connection refused) while connecting to upstream",
        "[warn] 12#12: *3 an upstream response is buffered to a temporary file",
        "[info] 12#12: *4 GET /health 200",
        "[error] 12#12: *5 upstream timed out (110: Connection timed out)",
        "[info] 12#12: *6 GET /Health 200",
        "[crit] 12#12: *7 SSL_do_handshake() failed",
        "[info] 12#12: *8 client closed keepalive connection",
        "[notice] 12#12: *9 signal process started",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = NOW - 600 + 60 * i as i64;
            let stamp = jiff::Timestamp::from_second(at)
                .map(|s| s.strftime("%Y/%m/%d %H:%M:%S").to_string())
                .unwrap_or_default();
            let parsed = t.starts_with("[error]").then_some(at);
            line(&format!("{stamp} {t}"), parsed)
        })
        .collect()
}

fn logs_app() -> App {
    let mut a = app();
    a.model.logs = LogBook::new(&[SourceSpec::file("/a.log", None)], RingLimits::default());
    a.update(batch(lines()));
    press(&mut a, KeyCode::Char('4'));
    press(&mut a, KeyCode::Char('z'));
    a
}

fn typed(a: &mut App, lead: char, text: &str) {
    press(a, KeyCode::Char(lead));
    for c in text.chars() {
        press(a, KeyCode::Char(c));
    }
    press(a, KeyCode::Enter);
}

fn bottom_text(a: &App) -> String {
    let visible = a.logs.visible(&a.model.logs);
    let i = visible.len() - 1 - a.scroll[PaneId::Logs.index()];
    visible[i].text.clone()
}

fn counter(a: &App) -> Option<(usize, usize)> {
    let len = a.logs.visible_len(&a.model.logs);
    let bottom = len - 1 - a.scroll[PaneId::Logs.index()];
    a.logs
        .counter(&a.model.logs, bottom)
        .map(|c| (c.current, c.total))
}

#[test]
fn smartcase_lower_case_ignores_case_an_upper_case_letter_does_not() {
    let p = Pattern::compile("health").expect("valid");
    assert!(p.is_match("GET /Health") && p.is_match("GET /health"));
    let p = Pattern::compile("Health").expect("valid");
    assert!(p.is_match("GET /Health") && !p.is_match("GET /health"));
    // The letter of an escape is not an upper-case letter of the pattern.
    let p = Pattern::compile(r"get\S+").expect("valid");
    assert!(p.is_match("GET/x"));
    assert_eq!(p.ranges("a GET/x b"), vec![(2..7)]);
}

#[test]
fn an_invalid_or_huge_regex_is_an_error_of_one_line_and_applies_nothing() {
    let err = Pattern::compile("conn(ect").expect_err("unclosed group");
    assert_eq!(err, "invalid regex: unclosed group");
    let err = Pattern::compile(r"(\w{1000}){1000}").expect_err("too big");
    assert!(err.starts_with("invalid regex"), "{err}");
    assert!(!err.contains('\n'));

    let mut a = logs_app();
    typed(&mut a, '/', "timed");
    typed(&mut a, '/', "conn(ect");
    // The prompt stays open, saying why, and the search in effect is the old one.
    let Some(Modal::Search(p)) = &a.modal else {
        panic!("prompt closed: {:?}", a.modal);
    };
    assert_eq!(p.preview, Err("invalid regex: unclosed group".into()));
    assert_eq!(a.logs.find.search().map(Pattern::text), Some("timed"));
    press(&mut a, KeyCode::Esc);
    assert!(a.modal.is_none());
    assert_eq!(a.logs.find.search().map(Pattern::text), Some("timed"));
}

#[test]
fn the_counter_numbers_matches_oldest_first_and_n_moves_it() {
    let mut a = logs_app();
    // "closed" is in lines 1 and 8, "health" (smartcase) in 4 and 6.
    typed(&mut a, '/', "closed|health");
    assert_eq!(
        counter(&a),
        Some((1, 4)),
        "all on screen: the first from the top"
    );
    assert!(bottom_text(&a).contains("*1 client closed"));
    assert!(!a.logs.follow, "a jump pauses");
    press(&mut a, KeyCode::Char('n'));
    assert_eq!(counter(&a), Some((2, 4)));
    assert!(bottom_text(&a).contains("GET /health"));
    press(&mut a, KeyCode::Char('n'));
    press(&mut a, KeyCode::Char('n'));
    assert_eq!(counter(&a), Some((4, 4)));
    press(&mut a, KeyCode::Char('n'));
    assert_eq!(a.message.as_deref(), Some("no newer line matches"));
    assert_eq!(counter(&a), Some((4, 4)));
    press(&mut a, KeyCode::Char('N'));
    assert_eq!(counter(&a), Some((3, 4)));
    // New matching lines count at once; the current one stays.
    a.update(batch(vec![line("GET /health 200", None)]));
    assert_eq!(counter(&a), Some((3, 5)));
}

#[test]
fn filters_in_and_out_stack_and_esc_clears_search_then_newest_filter() {
    let mut a = logs_app();
    typed(&mut a, '&', "info|error");
    assert_eq!(a.logs.visible_len(&a.model.logs), 6);
    typed(&mut a, 'x', "closed");
    let texts: Vec<String> = a
        .logs
        .visible(&a.model.logs)
        .iter()
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts.iter().all(|t| !t.contains("closed")));
    typed(&mut a, '/', "GET");
    assert_eq!(counter(&a), Some((1, 2)));
    // Lines arriving pass the same filters.
    a.update(batch(vec![
        line("[info] closed again", None),
        line("[info] GET /x", None),
        line("[warn] GET /y", None),
    ]));
    assert_eq!(a.logs.visible_len(&a.model.logs), 5);
    assert_eq!(counter(&a).map(|c| c.1), Some(3));

    press(&mut a, KeyCode::Esc);
    assert_eq!(a.message.as_deref(), Some("cleared the search /GET"));
    assert!(a.logs.find.search().is_none());
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.message.as_deref(), Some("cleared the filter x closed"));
    assert_eq!(a.logs.visible_len(&a.model.logs), 8);
    press(&mut a, KeyCode::Esc);
    assert_eq!(
        a.message.as_deref(),
        Some("cleared the filter & info|error")
    );
    assert_eq!(a.logs.visible_len(&a.model.logs), 13);
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.message.as_deref(), Some("no search or filter to clear"));
}

#[test]
fn past_the_limit_a_new_filter_replaces_the_oldest() {
    let mut f = Finder::default();
    for p in ["a", "b", "c", "d"] {
        let pattern = Pattern::compile(p).expect("valid");
        f.add_filter(Filter {
            kind: FilterKind::Out,
            pattern,
        });
    }
    let labels: Vec<String> = f.filters().iter().map(Filter::label).collect();
    assert_eq!(labels, ["x b", "x c", "x d"]);
    assert!(f.keeps("a") && !f.keeps("b"));
}

#[test]
fn the_prompt_previews_the_matches_and_the_time_as_typed() {
    let mut a = logs_app();
    press(&mut a, KeyCode::Char('/'));
    for c in "connect".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    let prompt = a.log_prompt().expect("open").clone();
    assert_eq!(prompt.kind, PromptKind::Search);
    assert_eq!(
        prompt.preview,
        Ok("4 matches".into()),
        "keepalive connection too"
    );
    press(&mut a, KeyCode::Char('('));
    let prompt = a.log_prompt().expect("open").clone();
    assert_eq!(prompt.preview, Err("invalid regex: unclosed group".into()));
    press(&mut a, KeyCode::Esc);
    press(&mut a, KeyCode::Char(':'));
    for c in "07:55".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    let prompt = a.log_prompt().expect("open").clone();
    assert_eq!(prompt.preview, Ok("2027-01-15 07:55:00".into()));
}

#[test]
fn goto_time_reads_clock_times_and_relative_ones_and_refuses_garbage() {
    let now = crate::app::fixtures::clock();
    assert_eq!(parse_time("07:55", &now), Ok(NOW - 300));
    assert_eq!(parse_time("7:55:30", &now), Ok(NOW - 270));
    assert_eq!(parse_time(" -5m ", &now), Ok(NOW - 300));
    assert_eq!(parse_time("-90s", &now), Ok(NOW - 90));
    assert_eq!(parse_time("-2h", &now), Ok(NOW - 7200));
    // Later than now today: yesterday's.
    assert_eq!(parse_time("09:00", &now), Ok(NOW + 3600 - 86_400));
    for garbage in [
        "",
        "25:00",
        "07:60",
        "7",
        "07:55:61",
        "-5",
        "-5d",
        "--5m",
        "-m",
        "07:55:00:00",
        "ab:cd",
        "-99999999999999999999m",
        "-9999999h",
        "+07:55",
        "07:5x",
    ] {
        let err = parse_time(garbage, &now).expect_err(garbage);
        assert!(err.starts_with("cannot read"), "{garbage}: {err}");
    }
}

#[test]
fn goto_time_goes_to_the_first_line_then_or_later_and_pauses() {
    let mut a = logs_app();
    // 07:55 is line 5's minute: an [error] line with a parsed time.
    typed(&mut a, ':', "07:55");
    assert!(
        bottom_text(&a).contains("*5 upstream timed out"),
        "{}",
        bottom_text(&a)
    );
    assert!(!a.logs.follow);
    // 07:53:30 falls between lines: the next one, whose stamp is read from its text.
    typed(&mut a, ':', "07:53:30");
    assert!(
        bottom_text(&a).contains("*4 GET /health"),
        "{}",
        bottom_text(&a)
    );
    typed(&mut a, ':', "-8m");
    assert!(bottom_text(&a).contains("*2 connect() failed"));
    typed(&mut a, ':', "-1s");
    assert_eq!(
        a.message.as_deref(),
        Some("no line written at 07:59:59 or later")
    );
    typed(&mut a, ':', "soon");
    assert!(
        matches!(&a.modal, Some(Modal::Search(p)) if p.preview.as_ref().is_err_and(|e| e.starts_with("cannot read"))),
        "{:?}",
        a.modal
    );
}

#[test]
fn next_and_previous_error_jump_to_error_and_crit_lines() {
    let mut a = logs_app();
    press(&mut a, KeyCode::Char('<'));
    assert!(
        bottom_text(&a).contains("[crit]"),
        "the newest error-level line"
    );
    assert!(!a.logs.follow);
    press(&mut a, KeyCode::Char('<'));
    assert!(bottom_text(&a).contains("*5 upstream timed out"));
    press(&mut a, KeyCode::Char('<'));
    assert!(bottom_text(&a).contains("*2 connect() failed"));
    press(&mut a, KeyCode::Char('<'));
    assert_eq!(a.message.as_deref(), Some("no older error line"));
    press(&mut a, KeyCode::Char('>'));
    assert!(bottom_text(&a).contains("*5 upstream timed out"));
    press(&mut a, KeyCode::Char('>'));
    press(&mut a, KeyCode::Char('>'));
    assert_eq!(a.message.as_deref(), Some("no newer error line"));
    assert!(bottom_text(&a).contains("[crit]"));
}

#[test]
fn lines_arriving_while_paused_are_counted_until_f_follows() {
    let mut a = logs_app();
    a.update(batch(vec![line("[info] while following", None)]));
    assert_eq!(a.logs.unseen, 0);
    press(&mut a, KeyCode::Char('f'));
    a.update(batch(vec![
        line("[info] one", None),
        line("[info] two", None),
    ]));
    a.update(batch(vec![line("[info] three", None)]));
    assert_eq!(a.logs.unseen, 3);
    // A new filter goes back to the newest line, following; filtered out is not counted.
    typed(&mut a, 'x', "hidden");
    assert!(a.logs.follow);
    press(&mut a, KeyCode::Char('f'));
    assert!(!a.logs.follow);
    assert_eq!(a.logs.unseen, 0, "a new pause counts from zero");
    a.update(batch(vec![
        line("[info] hidden", None),
        line("[info] shown", None),
    ]));
    assert_eq!(a.logs.unseen, 1);
    press(&mut a, KeyCode::Char('f'));
    assert!(a.logs.follow);
    a.update(batch(vec![line("[info] after", None)]));
    assert_eq!(a.logs.unseen, 0);
}

#[test]
fn the_cache_follows_a_ring_that_drops_its_oldest_lines() {
    let mut book = LogBook::new(
        &[SourceSpec::file("/a.log", None)],
        RingLimits {
            lines: 10,
            bytes: 1 << 20,
        },
    );
    let mut v = LogView::default();
    v.find.add_filter(Filter {
        kind: FilterKind::Out,
        pattern: Pattern::compile("skip").expect("valid"),
    });
    v.find.set_search(Pattern::compile("hit").ok());
    let mut n = 0;
    for round in 0..7 {
        let lines: Vec<LogLine> = (0..round + 1)
            .map(|_| {
                n += 1;
                let kind = ["hit", "miss", "skip"][n % 3];
                line(&format!("{n} {kind}"), None)
            })
            .collect();
        let _ = book.apply(LogBatch::following(0, lines));
        // What the cache says is what reading the ring from scratch says.
        let fresh = LogView::default();
        let expected: Vec<&str> = book.sources[0]
            .lines()
            .iter()
            .filter(|l| fresh.shows(l) && !l.text.contains("skip"))
            .map(|l| l.text.as_str())
            .collect();
        let got: Vec<&str> = v.visible(&book).iter().map(|l| l.text.as_str()).collect();
        assert_eq!(got, expected, "round {round}");
        let hits: Vec<usize> = expected
            .iter()
            .enumerate()
            .filter(|(_, t)| t.contains("hit"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(v.matches(&book), hits, "round {round}");
    }
}

#[test]
fn in_the_merged_view_filters_and_the_counter_span_every_source() {
    let mut book = LogBook::new(
        &[
            SourceSpec::file("/a.log", None),
            SourceSpec::file("/b.log", None),
        ],
        RingLimits::default(),
    );
    for (source, texts) in [(0, ["a hit", "a miss"]), (1, ["b hit", "b skip"])] {
        let _ = book.apply(LogBatch::following(
            source,
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| line(t, Some(NOW + 10 * i as i64 + source as i64)))
                .collect(),
        ));
    }
    let mut v = LogView::default();
    v.toggle_merged();
    v.find.add_filter(Filter {
        kind: FilterKind::Out,
        pattern: Pattern::compile("skip").expect("valid"),
    });
    v.find.set_search(Pattern::compile("hit").ok());
    let texts: Vec<&str> = v.visible(&book).iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["a hit", "b hit", "a miss"]);
    assert_eq!(v.visible_len(&book), 3);
    assert_eq!(v.matches(&book), [0, 1]);
    let c = v.counter(&book, 2).expect("a search");
    assert_eq!((c.current, c.total, c.line), (2, 2, Some(1)));
}

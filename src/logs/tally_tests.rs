//! Tests of the tallies: counts per minute, cause, status and upstream, and their examples.

use super::*;

fn line(cause: Option<Cause>, status: Option<u16>, up: Option<&str>, t: i64) -> LogLine {
    LogLine {
        text: String::new(),
        format: None,
        cause,
        status,
        upstream: up.map(str::to_owned),
        time: Some(t),
    }
}

#[test]
fn counts_causes_statuses_upstreams_and_minutes() {
    let mut t = Tally::default();
    t.add_line(&line(Some(Cause::Refused), None, Some("a"), 60));
    t.add_line(&line(Some(Cause::Refused), None, Some("a"), 119));
    t.add_line(&line(None, Some(502), Some("b"), 120));
    t.add_line(&line(None, Some(504), None, 130));
    t.add_line(&line(None, Some(200), Some("ignored"), 130));
    assert_eq!(t.lines, 5);
    assert_eq!(t.causes.get(&Cause::Refused), Some(&2));
    assert_eq!((t.status_5xx, t.status_502), (2, 1));
    assert_eq!(t.top_upstreams(5), vec![("a".into(), 2), ("b".into(), 1)]);
    assert_eq!(t.per_minute[&60].causes(), 2);
    assert_eq!(t.per_minute[&120].status_5xx, 2);
    assert_eq!(t.per_minute[&120].status_502, 1);
}

#[test]
fn alike_consecutive_marks_merge_and_count_as_many_lines() {
    let mut skipped = Skipped::default();
    let mut one_by_one = Tally::default();
    let storm = [
        (502, "a", 60),
        (502, "a", 60),
        (502, "a", 60),
        (502, "b", 60),
        (502, "a", 61),
    ];
    for (status, up, t) in storm {
        skipped.mark(None, Some(status), Some(up), Some(t));
        one_by_one.add_line(&line(None, Some(status), Some(up), t));
    }
    assert_eq!(skipped.marks.len(), 3);
    assert_eq!(skipped.marks[0].lines, 3);
    assert_eq!(skipped.lines(), 5);
    let mut merged = Tally::default();
    merged.add_skipped(&skipped);
    assert_eq!(merged, one_by_one);
    assert_eq!((merged.status_502, merged.upstreams["a"]), (5, 4));
}

#[test]
fn requests_count_per_minute_and_upstream_whatever_their_status() {
    let mut t = Tally::default();
    for (status, up, time) in [
        (200, Some("a"), 60),
        (200, Some("a"), 61),
        (502, Some("a"), 62),
        (504, Some("b"), 62),
        (500, Some("b"), 63),
        (301, None, 120),
    ] {
        t.add_line(&line(None, Some(status), up, time));
    }
    // A request without a timestamp counts in the total only; an error line is no request.
    t.add_line(&LogLine {
        time: None,
        ..line(None, Some(200), Some("a"), 0)
    });
    t.add_line(&line(Some(Cause::Refused), None, Some("a"), 60));
    assert_eq!(t.requests, 7);
    let w = t.window(0, 200);
    assert_eq!((w.requests, w.failed_requests, w.status_5xx), (6, 2, 3));
    assert_eq!(w.upstream_requests, vec![("a".into(), 3), ("b".into(), 2)]);
    assert_eq!(w.upstream_share("a"), Some((1, 3)));
    assert_eq!(w.upstream_share("b"), Some((1, 2)));
    assert_eq!(t.window(120, 200).requests, 1);
}

#[test]
fn skipped_quiet_requests_count_like_built_lines() {
    let mut skipped = Skipped::default();
    let mut built = Tally::default();
    for (status, up, time) in [
        (200, Some("a"), Some(60)),
        (304, Some("a"), Some(61)),
        (404, Some("b"), Some(125)),
        (200, None, None),
    ] {
        skipped.quiet(Some(status), up, time);
        built.add_line(&LogLine {
            time,
            ..line(None, Some(status), up, 0)
        });
    }
    skipped.quiet(None, None, None);
    built.add_line(&line(None, None, None, 0));
    let mut counted = Tally::default();
    counted.add_skipped(&skipped);
    assert_eq!(counted, built);
    assert_eq!((counted.lines, counted.requests), (5, 4));
    // Only timestamped requests fall in a minute, so the window's classes miss the last 200.
    let w = counted.window(0, 200);
    let classes: Vec<_> = w.classes.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(classes, [("2xx", 1), ("3xx", 1), ("4xx", 1)]);
    assert_eq!(w.classes.total(), w.requests);
}

fn failure(text: &str, t: i64) -> LogLine {
    LogLine {
        text: text.into(),
        format: Some(crate::logs::Format::NginxError),
        ..line(Some(Cause::NoSocket), None, Some("up"), t)
    }
}

#[test]
fn the_newest_example_of_a_window_wins() {
    let mut t = Tally::default();
    t.add_numbered(&failure("first", 60), Some(1));
    t.add_numbered(&failure("second", 70), Some(2));
    t.add_numbered(&failure("third", 130), None);
    let w = t.window(0, 200);
    assert_eq!(w.examples[&Cause::NoSocket].text, "third");
    assert_eq!(w.examples[&Cause::NoSocket].line, None);
    let w = t.window(0, 119);
    let e = &w.examples[&Cause::NoSocket];
    assert_eq!(
        (e.text.as_str(), e.line, e.time),
        ("second", Some(2), Some(70))
    );
    assert_eq!(e.upstream.as_deref(), Some("up"));
    // A backward scan sees the newest first and keeps it.
    let mut scanned = Tally::default();
    for (text, time) in [("newest", 70), ("older", 65)] {
        let c = Classified {
            cause: Some(Cause::Tls),
            ..Classified::default()
        };
        scanned.add(&c, Some(time));
        let seen = Seen {
            cause: Cause::Tls,
            text,
            format: None,
            upstream: None,
            time,
            line: None,
        };
        scanned.keep_example(&seen, false);
    }
    assert_eq!(scanned.window(0, 200).examples[&Cause::Tls].text, "newest");
}

#[test]
fn a_run_of_alike_lines_counts_as_the_lines_one_by_one() {
    let lines = [
        (Some(Cause::Refused), None, Some("a"), Some(60)),
        (Some(Cause::Refused), None, Some("a"), Some(61)),
        (Some(Cause::Refused), None, Some("a"), Some(119)),
        // Same minute, another upstream; then none; then a new minute.
        (Some(Cause::Refused), None, Some("b"), Some(119)),
        (Some(Cause::Refused), None, None, Some(119)),
        (Some(Cause::Refused), None, None, Some(120)),
        (None, Some(502), Some("b"), Some(120)),
        (None, Some(200), Some("b"), Some(120)),
        (None, Some(200), Some("b"), None),
        (None, None, None, None),
        (Some(Cause::Timeout), None, Some("a"), Some(30)),
        (Some(Cause::Timeout), None, Some("a"), Some(30)),
    ];
    let (mut one_by_one, mut summed) = (Tally::default(), Tally::default());
    let mut run = Run::default();
    for (cause, status, up, time) in lines {
        one_by_one.add_line(&LogLine {
            time,
            ..line(cause, status, up, 0)
        });
        run.add(&mut summed, cause, status, up, time);
    }
    run.flush(&mut summed);
    // A run counts; examples are the caller's (see `add_lines`).
    assert_eq!(summed, one_by_one.without_examples());
    assert_eq!(summed.lines, lines.len() as u64);
    assert_eq!(summed.per_minute[&60].by_upstream["a"], 3);
}

#[test]
fn a_batch_of_lines_counts_and_keeps_examples_as_one_by_one() {
    let texts = ["a1", "a2", "b1", "a3", "c1", "a4"];
    let mut lines: Vec<LogLine> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| LogLine {
            text: (*text).into(),
            format: None,
            cause: Some(if text.starts_with('b') {
                Cause::Timeout
            } else {
                Cause::Refused
            }),
            status: None,
            upstream: Some(if i % 2 == 0 { "x" } else { "y" }.into()),
            time: Some(if text.starts_with('c') {
                130
            } else {
                60 + i as i64
            }),
        })
        .collect();
    lines.push(line(None, Some(502), Some("x"), 61));
    lines.push(line(None, Some(200), None, 62));
    let (mut one_by_one, mut batched) = (Tally::default(), Tally::default());
    for (i, l) in lines.iter().enumerate() {
        one_by_one.add_numbered(l, Some(10 + i as u64));
    }
    batched.add_lines(&lines, Some(10));
    assert_eq!(batched, one_by_one);
    let w = batched.window(0, 200);
    let refused = &w.examples[&Cause::Refused];
    assert_eq!((refused.text.as_str(), refused.line), ("c1", Some(14)));
    assert_eq!(batched.window(0, 119).examples[&Cause::Refused].text, "a4");
    assert_eq!(
        batched.window(0, 119).examples[&Cause::Timeout].line,
        Some(12)
    );
}

#[test]
fn memory_is_bounded() {
    let mut t = Tally::default();
    for i in 0..(MAX_UPSTREAMS as i64 + 10) {
        t.add_line(&line(
            Some(Cause::Reset),
            None,
            Some(&format!("u{i}")),
            i * 60,
        ));
    }
    assert_eq!(t.upstreams.len(), MAX_UPSTREAMS + 1);
    assert_eq!(t.upstreams[OTHER_UPSTREAMS], 10);
    assert_eq!(t.per_minute.len(), MINUTES_KEPT);
}

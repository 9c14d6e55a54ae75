//! Classification of a corpus of real-looking nginx, Apache and HAProxy lines: one fixture row
//! per message shape, every cause covered.

// Helpers outside #[test] fns panic to report a failure, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use gatewatch::logs::{Cause, Format, classify, detect};

const CORPUS: &str = include_str!("fixtures/logs/causes.tsv");

fn rows() -> Vec<(Option<Cause>, Option<&'static str>, &'static str)> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut cols = l.splitn(3, '\t');
            let cause = cols.next().unwrap();
            let upstream = cols.next().unwrap();
            let line = cols.next().unwrap();
            let cause = (cause != "-")
                .then(|| Cause::from_name(cause).unwrap_or_else(|| panic!("bad cause {cause}")));
            (cause, (upstream != "-").then_some(upstream), line)
        })
        .collect()
}

#[test]
fn every_fixture_line_gets_its_cause_and_upstream() {
    let mut failures = Vec::new();
    for (cause, upstream, line) in rows() {
        let got = classify(line, None);
        if got.cause != cause || got.upstream != upstream {
            failures.push(format!(
                "expected {cause:?} {upstream:?}, got {:?} {:?}\n  {line}",
                got.cause, got.upstream
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_covers_every_cause_in_every_format_it_can() {
    let mut seen = BTreeSet::new();
    let mut formats = BTreeSet::new();
    for (cause, _, line) in rows() {
        seen.extend(cause);
        formats.insert(detect(line).expect("every fixture line has a format"));
    }
    assert_eq!(seen, Cause::ALL.into_iter().collect());
    assert_eq!(
        formats,
        [Format::NginxError, Format::ApacheError, Format::Haproxy]
            .into_iter()
            .collect()
    );
}

#[test]
fn access_lines_give_status_and_upstream_but_no_cause() {
    // Every request names its upstream, failed or not: the per-upstream failure share needs both.
    let line = r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /api HTTP/1.1" 502 157 "-" "curl/8.5.0" us=502 ua=127.0.0.1:8080"#;
    let c = classify(line, None);
    assert_eq!(c.format, Some(Format::Access));
    assert_eq!(c.cause, None);
    assert_eq!(c.status, Some(502));
    assert_eq!(c.upstream, Some("127.0.0.1:8080"));
    let ok = r#"10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" us=200 ua=127.0.0.1:8080"#;
    assert_eq!(classify(ok, None).upstream, Some("127.0.0.1:8080"));
}

#[test]
fn hostile_text_does_not_panic_the_parsers() {
    let nasty = [
        "",
        "[",
        "2024/05/01 12:00:00 [",
        "2024/05/01 12:00:00 [error]",
        "2024/05/01 12:00:00 [error] 1#1: *",
        "2024/05/01 12:00:00 [error] 1#1: *5 x, client: ",
        "2024/05/01 12:00:00 [error] 1#1: *5 x, client: a, request: \"",
        "2024/05/01 12:00:00 [error] 1#1: *5 x, client: a, upstream: \"",
        "[Wed May 01 12:00:00.1 2024] [",
        "[Wed May 01 12:00:00.1 2024] [proxy:error] [pid ",
        "[Wed May 01 12:00:00.1 2024] [proxy:error] AH0",
        "x [01/May/2024:12:00:00.123]",
        "x [01/May/2024:12:00:00.123] fe be/s 1/2/3/4/5",
        "x [01/May/2024:12:00:00 +0000] \"",
        "x [01/May/2024:12:00:00 +0000] \"GET\" 502 1 \"a\" \"b\" x= =y , : ,",
        "\u{fffd}\u{fffd}(((((111:",
    ];
    for line in nasty {
        let _ = classify(line, None);
    }
}

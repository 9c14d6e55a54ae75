//! The flood's fast path against the full parser: `classify_with` (which remembers the last
//! nginx message's cause) and `make_line_with` must read every line of the corpus exactly as
//! `classify` and `make_line` do, whatever came before it (the same line again, a line of
//! another format, a hostile line). Differential: any disagreement is listed.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::fs;
use std::path::Path;

use gatewatch::config::LogKind;
use gatewatch::logs::{
    ClassifyMemo, TimeParser, classify, classify_with, make_line, make_line_with,
};

/// Every raw line of `tests/corpus/logs/*.txt` (`EXPECT<TAB>LINE`) and of the causes fixture
/// (`CAUSE<TAB>UPSTREAM<TAB>LINE`).
fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut lines = Vec::new();
    let mut files: Vec<_> = fs::read_dir(root.join("corpus/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "the log corpus is missing: {files:?}");
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (_, raw) = line.split_once('\t').unwrap();
            lines.push(raw.as_bytes().to_vec());
        }
    }
    let causes = fs::read_to_string(root.join("fixtures/logs/causes.tsv")).unwrap();
    for line in causes
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        lines.push(line.splitn(3, '\t').nth(2).unwrap().as_bytes().to_vec());
    }
    lines
}

/// The corpus, then each line twice in a row (the memo's hit), then backwards, then each line
/// after a refused line and a hostile one (the memo's miss after another message).
fn sequence() -> Vec<Vec<u8>> {
    let corpus = corpus();
    let refused = b"2025/03/14 09:10:01 [error] 812#812: *101 connect() failed (111: Connection refused) while connecting to upstream, client: 192.0.2.10, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"s\"".to_vec();
    let mut long = b"2025/03/14 09:10:01 [error] 812#812: *9 upstream timed out (110: x) while reading upstream, client: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 16 * 1024));
    let hostile: Vec<Vec<u8>> = vec![
        b"2025/03/14 09:10:01 [error] 1#1: *1 connect() failed (111: Connection \x1b[2Jrefused) while connecting to upstream".to_vec(),
        b"2025/03/14 09:10:01 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://\xff\xfe/\"".to_vec(),
        long,
    ];
    let mut seq = corpus.clone();
    for line in &corpus {
        seq.push(line.clone());
        seq.push(line.clone());
    }
    seq.extend(corpus.iter().rev().cloned());
    for (i, line) in corpus.iter().enumerate() {
        seq.push(refused.clone());
        seq.push(line.clone());
        seq.push(hostile[i % hostile.len()].clone());
        seq.push(line.clone());
    }
    seq
}

#[test]
fn the_memo_reads_every_corpus_line_as_the_full_parser_does() {
    let seq = sequence();
    let mut failures = Vec::new();
    let mut causes = 0;
    for kind in LogKind::ANY {
        let mut memo = ClassifyMemo::default();
        for raw in &seq {
            let Ok(line) = std::str::from_utf8(raw) else {
                continue;
            };
            let full = classify(line, kind);
            let fast = classify_with(line, kind, &mut memo);
            causes += usize::from(full.cause.is_some());
            if fast != full {
                failures.push(format!(
                    "{kind:?}: full {full:?}\n  fast {fast:?}\n  {line}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus has failures of every format: a fast path that found none would agree vacuously.
    assert!(causes > 500, "only {causes} lines with a cause");
}

#[test]
fn lines_built_with_the_memo_are_the_lines_built_without() {
    let seq = sequence();
    let mut failures = Vec::new();
    for kind in LogKind::ANY {
        let mut memo = ClassifyMemo::default();
        let (mut t1, mut t2) = (TimeParser::default(), TimeParser::default());
        for (i, raw) in seq.iter().enumerate() {
            let cut = (i % 3) as u64;
            let full = make_line(raw, cut, kind, &mut t1);
            let fast = make_line_with(raw, cut, kind, &mut t2, &mut memo);
            if fast != full {
                failures.push(format!("{kind:?}: full {full:?}\n  fast {fast:?}"));
            }
            assert!(
                !fast.text.bytes().any(|b| b.is_ascii_control()),
                "{:?}",
                fast.text
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! `check`'s look at a journal or container source: its program run once without `-f`, for the
//! window's lines only (`journalctl --since @CUTOFF`, `docker logs --since CUTOFF`), its output
//! capped and its run time limited, each line counted as the follower counts it.

use std::time::{Duration, Instant};

use super::command::CommandReader;
use super::follow::Read;
use super::lines::{LineSplitter, make_line};
use super::scan::{RECENT_LINES, SCAN_MAX_BYTES, ScanSpan};
use super::{Origin, SourceLog, SourceStatus, Tally, TimeParser};
use crate::config::LogKind;

/// How long the program may run; what it printed by then is counted.
pub const STREAM_SCAN_TIME: Duration = Duration::from_secs(3);
/// Lines longer than this are cut, as in a file scan.
const MAX_LINE: usize = 16 * 1024;
const READ_SIZE: usize = 64 * 1024;

/// Counts the lines a journal or container source wrote in `span`'s window.
pub fn scan_stream(
    label: String,
    origin: &Origin,
    kind: Option<LogKind>,
    span: &ScanSpan,
) -> SourceLog {
    let window = i64::try_from(span.window.as_secs()).unwrap_or(i64::MAX);
    let cutoff = span.now.saturating_sub(window);
    let (Some(argv), Some(output)) = (origin.scan_argv(cutoff), origin.stream_output()) else {
        let why = "not a journal or container source".to_owned();
        return SourceLog::scanned(label, None, Some(why), Tally::default(), vec![]);
    };
    let mut reader = CommandReader::spawn_with(&argv, output);
    let mut counter = Counter {
        kind,
        cutoff,
        now: span.now,
        times: TimeParser::new(span.tz.clone()),
        tally: Tally::default(),
        recent: Vec::new(),
    };
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut buf = vec![0; READ_SIZE];
    let (started, mut total, mut error) = (Instant::now(), 0usize, None);
    loop {
        match reader.read(&mut buf) {
            Read::Data(n) => {
                total += n;
                splitter.push(&buf[..n], |raw, cut| counter.add(raw, cut));
                if total >= SCAN_MAX_BYTES as usize {
                    error = Some(format!("stopped after {total} bytes: counted those"));
                    break;
                }
            }
            Read::EndOfFile => {
                splitter.flush(|raw, cut| counter.add(raw, cut));
                break;
            }
            Read::Idle if reader.has_ended() => break,
            Read::Idle if started.elapsed() >= STREAM_SCAN_TIME => {
                error = Some(format!(
                    "still running after {} s: counted what it printed",
                    STREAM_SCAN_TIME.as_secs()
                ));
                break;
            }
            Read::Idle => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    match &reader.status {
        SourceStatus::Failed(why) => error = Some(why.clone()),
        SourceStatus::Ended(why) if reader.exit_success == Some(false) => error = Some(why.clone()),
        _ => {}
    }
    // Dropping the reader kills a program still running.
    drop(reader);
    let format = counter.recent.iter().rev().find_map(|l| l.format);
    let mut recent = counter.recent;
    let keep_from = recent.len().saturating_sub(RECENT_LINES);
    recent.drain(..keep_from);
    SourceLog::scanned(label, format, error, counter.tally, recent)
}

struct Counter {
    kind: Option<LogKind>,
    cutoff: i64,
    now: i64,
    times: TimeParser,
    tally: Tally,
    recent: Vec<super::LogLine>,
}

impl Counter {
    fn add(&mut self, raw: &[u8], cut: u64) {
        let mut line = make_line(raw, cut, self.kind, &mut self.times);
        if line.time.is_some_and(|t| t < self.cutoff) {
            return;
        }
        let relevant =
            line.cause.is_some() || line.status.is_some_and(|s| (500..=599).contains(&s));
        if relevant && line.time.is_none() {
            // As a followed line without a stamp: counted when it was read.
            line.time = Some(self.now);
        }
        self.tally.add_line(&line);
        if relevant {
            self.recent.push(line);
            if self.recent.len() >= 2 * RECENT_LINES {
                self.recent.drain(..RECENT_LINES);
            }
        }
    }
}

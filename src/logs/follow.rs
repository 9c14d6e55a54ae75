//! The follower thread: polls every source in turn, turns bytes into classified lines and hands
//! them to the caller in capped batches.
//!
//! Why polling rather than inotify: an idle pass costs one `read` returning 0 and one `stat` per
//! file every 250 ms (a few syscalls a second, unmeasurable CPU); it needs no extra crate; it works
//! on every filesystem, including NFS and overlay mounts where inotify misses changes; and
//! rotation is detected by comparing inodes, which inotify would not spare us. The cost is up to
//! one poll interval of latency, which a person watching an incident cannot see. During a flood
//! the thread does not sleep at all: it keeps reading while any source has data.
//!
//! Descriptors are budgeted ([`FollowOptions::open_files`]): past the budget, files are polled
//! (see [`super::file`]): opened only to read what they grew, closed after each pass. The files
//! that had data most recently are the ones kept open.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::command::CommandReader;
use super::count::{count_line, count_lines};
use super::file::FileReader;
use super::lines::{LineSplitter, make_line, make_line_with};
use super::nginx::Memo;
use super::restart::RestartingReader;
use super::{
    FollowEvent, LogBatch, LogLine, Origin, RingLimits, Skipped, SourceSpec, SourceStatus,
    TimeParser,
};
use crate::config::LogKind;
use crate::open_files;

use crate::outbox::Outbox;
pub use crate::worker::STOP_GRACE;
use crate::worker::Worker;

const THREAD_NAME: &str = "gatewatch-logs";
/// Reads per source per pass before moving to the next source, so one flooding log cannot
/// starve the others (8 x 64 KiB = 512 KiB).
const READS_PER_PASS: usize = 8;
/// During a flood (a file's backlog held more lines than the ring keeps), the idle sleep is this
/// many polls: every catch-up builds a ring's worth of lines however many arrived, so fewer,
/// larger catch-ups build fewer lines that the next one evicts. With the default poll this is
/// 750 ms: the flood's last line is on screen within a second of its end (this sleep, the
/// catch-up and a frame), which 1 s (`tail -F`'s interval) could not promise.
const FLOOD_POLLS: u32 = 3;
/// How often a glob that matched nothing is expanded again.
const GLOB_RETRY: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowOptions {
    /// Lines of history to show from each file that exists at start.
    pub initial_lines: usize,
    /// Longer lines are cut (with a marker) to this many bytes.
    pub max_line: usize,
    /// Lines per delivered batch, at most.
    pub batch_lines: usize,
    /// Bytes read per batch, at most.
    pub batch_bytes: usize,
    /// Sleep between passes when no source had data.
    pub poll: Duration,
    /// How far back from the end the initial lines may be looked for.
    pub max_backlog: u64,
    /// Lines the consumer's ring keeps per source. When a file's backlog holds more, the lines
    /// before its last `ring_lines` are only counted (see [`LogBatch::skipped`]): they would be
    /// evicted on arrival, and building them is most of a flood's cost.
    pub ring_lines: usize,
    /// Files kept open at most; the rest are polled. Defaults to the share of the open-file
    /// limit in force that [`crate::open_files::log_budget`] gives.
    pub open_files: usize,
    /// How long a journal or container source waits before its ended program is started again.
    pub restart_after: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            initial_lines: 500,
            max_line: 16 * 1024,
            batch_lines: 2000,
            batch_bytes: 64 * 1024,
            poll: Duration::from_millis(250),
            max_backlog: 8 * 1024 * 1024,
            ring_lines: RingLimits::default().lines,
            open_files: open_files::log_budget(open_files::soft_limit().unwrap_or(1024)),
            restart_after: Duration::from_secs(5),
        }
    }
}

/// What one read of a source gave.
pub(super) enum Read {
    Data(usize),
    /// Nothing more for now.
    Idle,
    /// The current file or stream ended (rotated, truncated, exited): flush any partial line.
    EndOfFile,
}

enum Reader {
    File(FileReader),
    Glob(GlobReader),
    Command(CommandReader),
    Stream(RestartingReader),
}

impl Reader {
    fn new(spec: &SourceSpec, options: &FollowOptions) -> Self {
        match &spec.origin {
            Origin::File(path) => Reader::File(FileReader::new(path.clone(), options, false)),
            Origin::Glob(pattern) => Reader::Glob(GlobReader {
                pattern: pattern.clone(),
                options: options.clone(),
                inner: None,
                next_try: Instant::now(),
                status: SourceStatus::Starting,
            }),
            Origin::Command(argv) => Reader::Command(CommandReader::spawn(argv)),
            Origin::Journal { .. } | Origin::Container { .. } => {
                Reader::Stream(RestartingReader::spawn(&spec.origin, options.restart_after))
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Read {
        match self {
            Reader::File(r) => r.read(buf),
            Reader::Glob(r) => r.read(buf),
            Reader::Command(r) => r.read(buf),
            Reader::Stream(r) => r.read(buf),
        }
    }

    /// Leading bytes of the last read whose lines only need counting.
    fn skippable(&self) -> usize {
        match self {
            Reader::File(r) => r.skippable,
            Reader::Glob(r) => r.inner.as_ref().map_or(0, |f| f.skippable),
            Reader::Command(_) | Reader::Stream(_) => 0,
        }
    }

    /// Whether reading began anew in a file since the last call, and at its start (see
    /// [`FileReader::restarted`]).
    fn take_restart(&mut self) -> Option<bool> {
        match self {
            Reader::File(r) => r.restarted.take(),
            Reader::Glob(r) => r.inner.as_mut().and_then(|f| f.restarted.take()),
            Reader::Command(_) | Reader::Stream(_) => None,
        }
    }

    fn status(&self) -> &SourceStatus {
        match self {
            Reader::File(r) => &r.status,
            Reader::Glob(r) => r.inner.as_ref().map_or(&r.status, |f| &f.status),
            Reader::Command(r) => &r.status,
            Reader::Stream(r) => &r.inner.status,
        }
    }

    /// The reader of a plain file: the one kind the descriptor budget closes and opens.
    fn file(&mut self) -> Option<&mut FileReader> {
        match self {
            Reader::File(r) => Some(r),
            Reader::Glob(_) | Reader::Command(_) | Reader::Stream(_) => None,
        }
    }

    fn take_events(&mut self) -> Vec<FollowEvent> {
        match self {
            Reader::File(r) => std::mem::take(&mut r.events),
            Reader::Glob(r) => r
                .inner
                .as_mut()
                .map(|f| std::mem::take(&mut f.events))
                .unwrap_or_default(),
            Reader::Command(r) => std::mem::take(&mut r.events),
            Reader::Stream(r) => std::mem::take(&mut r.inner.events),
        }
    }
}

/// A glob with no match yet: expanded every [`GLOB_RETRY`]; the first match is followed from
/// its start.
struct GlobReader {
    pattern: String,
    options: FollowOptions,
    inner: Option<FileReader>,
    next_try: Instant,
    status: SourceStatus,
}

impl GlobReader {
    fn read(&mut self, buf: &mut [u8]) -> Read {
        if let Some(inner) = &mut self.inner {
            return inner.read(buf);
        }
        if Instant::now() < self.next_try {
            return Read::Idle;
        }
        self.next_try = Instant::now() + GLOB_RETRY;
        let first: Option<PathBuf> = glob::glob(&self.pattern)
            .ok()
            .and_then(|mut paths| paths.find_map(|p| p.ok().filter(|p| p.is_file())));
        match first {
            Some(path) => {
                let inner = self
                    .inner
                    .insert(FileReader::new(path, &self.options, true));
                inner.read(buf)
            }
            None => {
                self.status = SourceStatus::Waiting("no file matches yet".into());
                Read::Idle
            }
        }
    }
}

/// One source's reading state on the follower thread.
struct FollowedSource {
    index: usize,
    kind: Option<LogKind>,
    reader: Reader,
    splitter: LineSplitter,
    times: TimeParser,
    /// The last nginx message's cause (a flood repeats one).
    memo: Memo,
    /// Lines counted but not built since the last batch.
    skipped: Skipped,
    /// Lines were only counted since the last idle sleep.
    flooded: bool,
    /// The number in its file of the next line to complete, when the file was read from its
    /// start (new, rotated in, truncated); `None` when following began at its last lines.
    next_line: Option<u64>,
    /// Status last delivered; a change is delivered even without lines.
    delivered: Option<SourceStatus>,
    /// The follower's pass in which this source last had data (0: never).
    last_data: u64,
}

/// The receiver is gone.
struct Stop;

impl FollowedSource {
    /// Reads up to [`READS_PER_PASS`] times; returns whether the source may have more right now.
    fn pass(
        &mut self,
        pass_number: u64,
        buf: &mut [u8],
        options: &FollowOptions,
        deliver: &mut dyn FnMut(LogBatch) -> bool,
    ) -> Result<bool, Stop> {
        let mut lines: Vec<LogLine> = Vec::new();
        let mut more = true;
        for _ in 0..READS_PER_PASS {
            match self.reader.read(buf) {
                Read::Data(n) => {
                    self.last_data = pass_number;
                    // The data may be a new file's (opened in this read).
                    self.restart(&mut lines, deliver)?;
                    let (kind, times) = (self.kind, &mut self.times);
                    let data = &buf[..n];
                    // Cut after the last newline before the horizon: the lines up to there are
                    // certain to leave the ring, so they are only counted.
                    let skip = self.reader.skippable().min(n);
                    let counted = memchr::memrchr(b'\n', &data[..skip]).map_or(0, |i| i + 1);
                    self.flooded |= counted > 0;
                    let skipped = &mut self.skipped;
                    let block = self.splitter.push_bulk(&data[..counted], |raw, _| {
                        count_line(raw, kind, times, skipped)
                    });
                    count_lines(block, options.max_line, kind, times, skipped);
                    let memo = &mut self.memo;
                    let mut emit = |raw: &[u8], cut| {
                        lines.push(make_line_with(raw, cut, kind, times, memo));
                    };
                    self.splitter.push(&data[counted..], &mut emit);
                }
                Read::EndOfFile => {
                    // The pending line is the old file's last; then a truncated file restarts.
                    let (kind, times) = (self.kind, &mut self.times);
                    self.splitter
                        .flush(|raw, cut| lines.push(make_line(raw, cut, kind, times)));
                    self.restart(&mut lines, deliver)?;
                }
                Read::Idle => {
                    more = false;
                    break;
                }
            }
            // A read is at most batch_bytes, so only the line count needs splitting here.
            while lines.len() >= options.batch_lines {
                let rest = lines.split_off(options.batch_lines);
                self.send(std::mem::replace(&mut lines, rest), deliver)?;
            }
            if !lines.is_empty() {
                self.send(std::mem::take(&mut lines), deliver)?;
            }
        }
        // Counts alone wait for the end of the pass: one batch instead of one per read.
        let events_pending = self.delivered.as_ref() != Some(self.reader.status());
        if events_pending || self.skipped.lines() > 0 {
            self.send(Vec::new(), deliver)?;
        }
        Ok(more)
    }

    /// Restarts line numbering when reading began anew in a file, after delivering what the
    /// old numbering covers.
    fn restart(
        &mut self,
        lines: &mut Vec<LogLine>,
        deliver: &mut dyn FnMut(LogBatch) -> bool,
    ) -> Result<(), Stop> {
        let Some(at_start) = self.reader.take_restart() else {
            return Ok(());
        };
        if !lines.is_empty() || self.skipped.lines() > 0 {
            self.send(std::mem::take(lines), deliver)?;
        }
        self.next_line = at_start.then_some(1);
        Ok(())
    }

    fn send(
        &mut self,
        lines: Vec<LogLine>,
        deliver: &mut dyn FnMut(LogBatch) -> bool,
    ) -> Result<(), Stop> {
        let status = self.reader.status().clone();
        self.delivered = Some(status.clone());
        let mut skipped = std::mem::take(&mut self.skipped);
        skipped.first_line = self.next_line;
        let covered = skipped.lines() + lines.len() as u64;
        self.next_line = self.next_line.map(|n| n + covered);
        let batch = LogBatch {
            source: self.index,
            skipped,
            lines,
            status,
            events: self.reader.take_events(),
        };
        if deliver(batch) { Ok(()) } else { Err(Stop) }
    }
}

/// Swaps at most one polled file that had data in this pass with the followed file idle
/// longest, if that one has been idle longer: over a few passes the busiest files are the ones
/// kept open, at one walk over the sources per pass.
fn keep_busiest_open(followed: &mut [FollowedSource], pass_number: u64) {
    let mut busy_polled: Option<usize> = None;
    let mut idlest_open: Option<(usize, u64)> = None;
    for (i, source) in followed.iter_mut().enumerate() {
        let last_data = source.last_data;
        let Some(file) = source.reader.file() else {
            continue;
        };
        if file.polled() {
            if last_data == pass_number {
                busy_polled.get_or_insert(i);
            }
        } else if idlest_open.is_none_or(|(_, t)| last_data < t) {
            idlest_open = Some((i, last_data));
        }
    }
    let (Some(promote), Some((demote, idle_since))) = (busy_polled, idlest_open) else {
        return;
    };
    if idle_since >= pass_number {
        return;
    }
    if let Some(file) = followed[demote].reader.file() {
        file.set_polled(true);
        file.close();
    }
    if let Some(file) = followed[promote].reader.file() {
        file.set_polled(false);
    }
}

/// Follows sources on its own OS thread (file reads can block on a sick host; the UI must keep
/// drawing). Dropping it stops the thread and kills command sources.
pub struct LogFollower {
    /// Never sent on: dropping it wakes the thread from its poll sleep at once.
    control: Option<SyncSender<()>>,
    worker: Worker,
}

impl LogFollower {
    /// Starts following `sources`; the follower thread ends when the receiver is gone or the
    /// follower is dropped. Every source gets a first batch with its status even if it has no
    /// lines. A full channel makes the follower wait, so memory stays bounded.
    pub fn spawn(
        sources: Vec<SourceSpec>,
        options: FollowOptions,
        outbox: Outbox<LogBatch>,
    ) -> io::Result<LogFollower> {
        let (control, wake) = mpsc::sync_channel::<()>(1);
        let worker = Worker::spawn(THREAD_NAME, "log follower", move |stopped| {
            let mut deliver = |batch| outbox.blocking_send(batch).is_ok();
            let mut followed: Vec<FollowedSource> = sources
                .iter()
                .enumerate()
                .map(|(index, spec)| FollowedSource {
                    index,
                    kind: spec.kind,
                    reader: Reader::new(spec, &options),
                    splitter: LineSplitter::new(options.max_line),
                    times: TimeParser::default(),
                    memo: Memo::default(),
                    skipped: Skipped::default(),
                    flooded: false,
                    next_line: None,
                    delivered: None,
                    last_data: 0,
                })
                .collect();
            followed
                .iter_mut()
                .filter_map(|s| s.reader.file())
                .skip(options.open_files)
                .for_each(|f| f.set_polled(true));
            let mut buf = vec![0u8; options.batch_bytes.max(1)];
            for pass_number in 1u64.. {
                let mut more = false;
                for source in &mut followed {
                    if stopped.load(Ordering::Acquire) {
                        return;
                    }
                    match source.pass(pass_number, &mut buf, &options, &mut deliver) {
                        Ok(m) => more |= m,
                        Err(Stop) => return,
                    }
                    if let Some(file) = source.reader.file().filter(|f| f.polled()) {
                        file.close();
                    }
                }
                keep_busiest_open(&mut followed, pass_number);
                if !more {
                    let flood = followed
                        .iter_mut()
                        .fold(false, |any, r| any | std::mem::take(&mut r.flooded));
                    let sleep = if flood {
                        options.poll.saturating_mul(FLOOD_POLLS)
                    } else {
                        options.poll
                    };
                    match wake.recv_timeout(sleep) {
                        Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                if stopped.load(Ordering::Acquire) {
                    return;
                }
            }
        })?;
        Ok(LogFollower {
            control: Some(control),
            worker,
        })
    }

    /// False once the thread has ended (the receiver is gone, or it panicked).
    pub fn is_running(&self) -> bool {
        self.worker.is_running()
    }
}

impl Drop for LogFollower {
    fn drop(&mut self) {
        self.control = None;
        self.worker.stop();
    }
}

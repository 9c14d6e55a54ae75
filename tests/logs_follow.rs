//! The log follower against real files in temp dirs and real child processes: appends, every
//! kind of rotation, late and unreadable files, hostile bytes, huge lines, floods, commands.

// Helpers outside #[test] fns panic to report a failure, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatewatch::logs::{
    Cause, FollowEvent, FollowOptions, LogBatch, LogBook, LogFollower, RingLimits, SourceSpec,
    SourceStatus,
};
use gatewatch::outbox::Outbox;
use tokio::sync::mpsc::{self, error::TryRecvError};

const PATIENCE: Duration = Duration::from_secs(20);

fn fast() -> FollowOptions {
    FollowOptions {
        poll: Duration::from_millis(20),
        ..FollowOptions::default()
    }
}

struct Harness {
    _follower: LogFollower,
    rx: mpsc::Receiver<LogBatch>,
    book: LogBook,
    /// Every line text of source 0, in delivery order (the ring keeps only the newest).
    texts: Vec<String>,
    events: Vec<FollowEvent>,
    largest_batch: usize,
}

impl Harness {
    fn new(specs: Vec<SourceSpec>, options: FollowOptions) -> Self {
        let (tx, rx) = mpsc::channel(16);
        let book = LogBook::new(&specs, RingLimits::default());
        let follower = LogFollower::spawn(specs, options, Outbox::new(tx)).unwrap();
        Harness {
            _follower: follower,
            rx,
            book,
            texts: Vec::new(),
            events: Vec::new(),
            largest_batch: 0,
        }
    }

    fn file(path: &Path) -> Self {
        Self::new(vec![SourceSpec::file(path, None)], fast())
    }

    fn status(&self) -> &SourceStatus {
        &self.book.sources[0].status
    }

    fn wait(&mut self, what: &str, done: impl Fn(&Harness) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status {:?}, events {:?}, last lines {:?}",
                self.status(),
                self.events,
                self.texts.iter().rev().take(5).collect::<Vec<_>>()
            );
            match self.rx.try_recv() {
                Ok(batch) => {
                    self.largest_batch = self.largest_batch.max(batch.lines.len());
                    if batch.source == 0 {
                        self.texts
                            .extend(batch.lines.iter().map(|l| l.text.clone()));
                        self.events.extend(batch.events.iter().copied());
                    }
                    assert!(self.book.apply(batch));
                }
                Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(5)),
                Err(TryRecvError::Disconnected) => panic!("follower ended"),
            }
        }
    }

    fn wait_lines(&mut self, n: usize) {
        self.wait(&format!("{n} lines"), |h| h.texts.len() >= n);
    }
}

fn append(path: &Path, text: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text).unwrap();
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix}{i}\n")).collect()
}

#[test]
fn starts_with_the_last_lines_then_follows_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    fs::write(&path, numbered("old", 0..1000)).unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(500);
    assert_eq!(h.texts[0], "old500");
    assert_eq!(h.texts[499], "old999");
    assert_eq!(h.status(), &SourceStatus::Following);
    append(&path, b"new1\nnew2\npartial");
    h.wait_lines(502);
    assert_eq!(&h.texts[500..], ["new1", "new2"]);
    // The unterminated line waits for its newline.
    std::thread::sleep(Duration::from_millis(100));
    h.wait("no partial line", |h| h.texts.len() == 502);
    append(&path, b" done\n");
    h.wait_lines(503);
    assert_eq!(h.texts[502], "partial done");
}

#[test]
fn rename_rotation_finishes_the_old_file_then_reads_the_new_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    fs::write(&path, numbered("a", 0..3)).unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(3);
    fs::rename(&path, dir.path().join("error.log.1")).unwrap();
    // The writer has not reopened yet: it still appends to the renamed file.
    append(&dir.path().join("error.log.1"), b"a3\na4\n");
    fs::write(&path, numbered("b", 0..2)).unwrap();
    h.wait_lines(7);
    assert_eq!(h.texts, ["a0", "a1", "a2", "a3", "a4", "b0", "b1"]);
    assert!(h.events.contains(&FollowEvent::Rotated), "{:?}", h.events);
    append(&path, b"b2\n");
    h.wait_lines(8);
    assert_eq!(h.texts[7], "b2");
}

#[test]
fn copytruncate_restarts_from_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    fs::write(&path, numbered("line-before-truncation-", 0..20)).unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(20);
    fs::copy(&path, dir.path().join("access.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    append(&path, b"after1\nafter2\n");
    h.wait_lines(22);
    assert_eq!(&h.texts[20..], ["after1", "after2"]);
    assert!(h.events.contains(&FollowEvent::Truncated), "{:?}", h.events);
}

#[test]
fn delete_and_recreate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    fs::write(&path, "first\n").unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(1);
    fs::remove_file(&path).unwrap();
    h.wait("the deletion to be noticed", |h| {
        matches!(h.status(), SourceStatus::Waiting(_))
    });
    fs::write(&path, "second\nthird\n").unwrap();
    h.wait_lines(3);
    assert_eq!(h.texts, ["first", "second", "third"]);
    h.wait("following again", |h| {
        h.status() == &SourceStatus::Following
    });
}

#[test]
fn a_file_that_does_not_exist_yet_is_waited_for_and_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let mut h = Harness::file(&path);
    h.wait("waiting status", |h| {
        h.status() == &SourceStatus::Waiting("does not exist yet".into())
    });
    fs::write(&path, numbered("l", 0..800)).unwrap();
    // A new file is read from its start, not from its last 500 lines.
    h.wait_lines(800);
    assert_eq!(h.texts[0], "l0");
}

/// Waits for a permission error on `path` (mode 000, owned by the running user), then makes it
/// readable and expects its lines. Run by whoever cannot read a 000 file: not root.
fn unreadable_scenario(path: &Path) {
    let mut h = Harness::file(path);
    h.wait(
        "permission denied",
        |h| matches!(h.status(), SourceStatus::Failed(why) if why.contains("Permission denied")),
    );
    assert!(h.texts.is_empty());
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    h.wait_lines(2);
    assert_eq!(h.texts, ["secret 1", "secret 2"]);
    assert_eq!(h.status(), &SourceStatus::Following);
}

const UNREADABLE_ENV: &str = "GATEWATCH_TEST_UNREADABLE";
const NOBODY: u32 = 65534;

#[test]
fn unreadable_file_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("error.log");
    fs::write(&path, "secret 1\nsecret 2\n").unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
        unreadable_scenario(&path);
        return;
    }
    // Root reads anything, so the scenario runs in a copy of this test binary as nobody, which
    // owns the file (and so may chmod it) but cannot read it at mode 000.
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; chown has no other preconditions.
    assert_eq!(unsafe { libc::chown(c_path.as_ptr(), NOBODY, NOBODY) }, 0);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(&exe)
        .args([
            "--exact",
            "unreadable_file_helper_run_as_nobody",
            "--ignored",
            "--nocapture",
        ])
        .env(UNREADABLE_ENV, &path)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "helper failed as nobody:\n{text}");
    assert!(text.contains("1 passed"), "the helper did not run:\n{text}");
}

use std::os::unix::process::CommandExt as _;

#[test]
#[ignore = "helper: run as nobody by unreadable_file_is_reported_and_retried"]
fn unreadable_file_helper_run_as_nobody() {
    let path = PathBuf::from(std::env::var_os(UNREADABLE_ENV).expect("run by the parent test"));
    // SAFETY: geteuid has no preconditions.
    assert_ne!(unsafe { libc::geteuid() }, 0, "must not run as root");
    unreadable_scenario(&path);
}

#[test]
fn invalid_utf8_and_nul_bytes_do_not_stop_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut bytes = b"ok \xff\xfe\xc3 end\n".to_vec();
    bytes.extend_from_slice(&[0u8; 64]);
    bytes.extend_from_slice(b"\nraw 8-bit csi \x9b31m\nnext\n");
    fs::write(&path, bytes).unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(4);
    assert_eq!(h.texts[0], "ok \u{fffd}\u{fffd}\u{fffd} end");
    assert_eq!(h.texts[1], "\\x00".repeat(64));
    assert_eq!(h.texts[2], "raw 8-bit csi \u{fffd}31m");
    assert_eq!(h.texts[3], "next");
}

#[test]
fn escape_sequences_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let hostile = "10.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET /\x1b]0;owned\x07\x1b[2J\x1b[?1049h\u{9b}6n\u{85}\x08\x7f\r\x0c HTTP/1.1\" 502 0 \"-\" \"\x1bP+q\x1b\\\"\n";
    fs::write(&path, hostile).unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(1);
    let text = &h.texts[0];
    assert!(!text.contains('\x1b'), "{text}");
    assert!(!text.contains('\x07'), "{text}");
    assert!(
        !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "{text}"
    );
    assert!(!text.chars().any(char::is_control), "{text}");
    assert!(text.contains("\\x1b]0;owned\\x07"), "{text}");
    assert!(text.contains("\\u{9b}6n"), "{text}");
    // Still understood: the status counts.
    h.wait("the 502 counted", |h| {
        h.book.sources[0].tally.status_502 == 1
    });
}

#[test]
fn a_one_megabyte_line_is_cut_with_a_marker_and_the_next_line_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    fs::write(&path, "before\n").unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(1);
    // Written in pieces without a newline first: the follower must not buffer it all.
    let big = vec![b'A'; 1024 * 1024];
    for piece in big.chunks(256 * 1024) {
        append(&path, piece);
        std::thread::sleep(Duration::from_millis(30));
    }
    append(&path, b"\nafter\n");
    h.wait_lines(3);
    let cap = FollowOptions::default().max_line;
    let cut = 1024 * 1024 - cap;
    assert_eq!(h.texts[1], format!("{}…[cut {cut} bytes]", "A".repeat(cap)));
    assert_eq!(h.texts[2], "after");
}

#[test]
fn a_flood_is_all_counted_in_capped_batches_with_a_bounded_ring() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    File::create(&path).unwrap();
    let mut h = Harness::file(&path);
    h.wait("following", |h| h.status() == &SourceStatus::Following);
    let total = 200_000;
    let mut w = BufWriter::new(OpenOptions::new().append(true).open(&path).unwrap());
    for i in 0..total {
        let status = if i % 10 == 0 { 502 } else { 200 };
        writeln!(
            w,
            "10.0.0.{} - - [01/May/2024:12:{:02}:00 +0000] \"GET /item/{i} HTTP/1.1\" {status} 512 \"-\" \"bench\"",
            i % 250,
            (i / 5000) % 60
        )
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    h.wait(&format!("{total} lines"), |h| {
        h.book.sources[0].total_lines() >= total
    });
    let source = &h.book.sources[0];
    assert_eq!(source.total_lines(), total);
    assert_eq!(source.tally.status_502, total / 10);
    assert_eq!(source.lines().len(), RingLimits::default().lines);
    assert!(h.largest_batch <= FollowOptions::default().batch_lines);
    assert_eq!(
        h.texts.last().unwrap().split(' ').nth(6),
        Some("/item/199999")
    );
}

#[test]
fn a_command_is_a_streaming_source() {
    let mut h = Harness::new(
        vec![SourceSpec::command(
            vec!["printf".into(), "a\\nb\\nno newline".into()],
            None,
        )],
        fast(),
    );
    h.wait("the command to end", |h| {
        matches!(h.status(), SourceStatus::Ended(_))
    });
    assert_eq!(h.texts, ["a", "b", "no newline"]);
    let SourceStatus::Ended(why) = h.status() else {
        unreachable!()
    };
    assert!(why.contains("exit status: 0"), "{why}");
}

#[test]
fn cat_of_a_file_and_a_missing_program() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    fs::write(&path, numbered("c", 0..3000)).unwrap();
    let mut h = Harness::new(
        vec![
            SourceSpec::command(vec!["cat".into(), path.display().to_string()], None),
            SourceSpec::command(vec!["/nonexistent/gatewatch-nope".into()], None),
        ],
        fast(),
    );
    h.wait_lines(3000);
    assert_eq!(h.texts[2999], "c2999");
    h.wait("the missing program's status", |h| {
        matches!(&h.book.sources[1].status, SourceStatus::Failed(why) if why.contains("cannot run"))
    });
}

/// Children of this process whose command line is exactly `argv`.
fn children_running(argv: &[&str]) -> usize {
    let me = std::process::id().to_string();
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let dir = e.path();
            let stat = fs::read_to_string(dir.join("stat")).unwrap_or_default();
            let ppid = stat.rsplit(") ").next().and_then(|r| r.split(' ').nth(1));
            ppid == Some(me.as_str()) && fs::read(dir.join("cmdline")).ok() == Some(wanted.clone())
        })
        .count()
}

#[test]
fn a_command_is_killed_when_the_follower_drops() {
    let argv = ["sleep", "1234.5"];
    let h = Harness::new(
        vec![SourceSpec::command(
            argv.iter().map(|s| s.to_string()).collect(),
            None,
        )],
        fast(),
    );
    let deadline = Instant::now() + PATIENCE;
    while children_running(&argv) == 0 {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(h);
    assert_eq!(
        children_running(&argv),
        0,
        "the child outlived the follower"
    );
}

#[test]
fn a_huge_file_starts_at_its_last_lines_without_being_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    // 64 GiB of hole: reading it whole would take minutes, reading back to a limit takes ms.
    File::create(&path).unwrap().set_len(64 << 30).unwrap();
    append(&path, b"\nx1\nx2\nx3\n");
    let started = Instant::now();
    let mut h = Harness::file(&path);
    h.wait_lines(3);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(h.texts, ["x1", "x2", "x3"]);
}

fn no_socket_line(second: u32) -> String {
    format!(
        "2024/05/01 12:00:{second:02} [crit] 7#7: *1 connect() to unix:/run/php/x.sock failed (2: No such file or directory) while connecting to upstream, client: 10.0.0.1, server: s, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/x.sock:\", host: \"s\"\n"
    )
}

fn example_line(h: &Harness) -> Option<u64> {
    let w = h.book.sources[0].tally.window(0, i64::MAX);
    w.examples.get(&Cause::NoSocket).and_then(|e| e.line)
}

/// Examples carry their line number when the follower read the file from its start (a file
/// that appeared, and the one that replaced it), counting the lines it only counted in a flood.
#[test]
fn examples_are_numbered_in_files_read_from_their_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    let options = FollowOptions {
        ring_lines: 100,
        ..fast()
    };
    let mut h = Harness::new(vec![SourceSpec::file(&path, None)], options);
    h.wait("waiting", |h| {
        matches!(h.status(), SourceStatus::Waiting(_))
    });
    // A flood of 5000 lines, all but the ring's last 100 only counted, with a failure at line
    // 4950 (a line only counted would give no example).
    let mut text = numbered("quiet", 0..4949);
    text += &no_socket_line(1);
    text += &numbered("quiet", 0..50);
    append(&path, text.as_bytes());
    h.wait("5000 lines", |h| h.book.sources[0].total_lines() >= 5000);
    assert_eq!(example_line(&h), Some(4950));
    // Rotated: the new file is read from its start and numbered from 1.
    fs::rename(&path, dir.path().join("error.log.1")).unwrap();
    append(&path, format!("one\ntwo\n{}", no_socket_line(2)).as_bytes());
    h.wait("the new file", |h| h.book.sources[0].total_lines() >= 5003);
    assert_eq!(example_line(&h), Some(3));
}

#[test]
fn examples_of_a_file_followed_from_its_last_lines_have_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error.log");
    fs::write(&path, numbered("old", 0..1000)).unwrap();
    let mut h = Harness::file(&path);
    h.wait_lines(500);
    append(&path, no_socket_line(3).as_bytes());
    h.wait_lines(501);
    let w = h.book.sources[0].tally.window(0, i64::MAX);
    let example = &w.examples[&Cause::NoSocket];
    assert_eq!(example.line, None);
    assert!(example.text.contains("(2: No such file or directory)"));
}

/// Whether this process holds `path` open (the follower runs on a thread of the test's own).
fn holds_open(path: &Path) -> bool {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// With no descriptor to spare, a file is polled: read where it grew, closed between reads,
/// through appends, a partial line, truncation and rename rotation.
#[test]
fn a_polled_file_is_read_without_holding_it_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    fs::write(&path, numbered("a", 0..3)).unwrap();
    let options = FollowOptions {
        open_files: 0,
        ..fast()
    };
    let mut h = Harness::new(vec![SourceSpec::file(&path, None)], options);
    h.wait_lines(3);
    h.wait("polled", |h| h.status() == &SourceStatus::Polled);
    // Closed at the end of the pass that read it.
    h.wait("closed when idle", |_| !holds_open(&path));
    append(&path, b"a3\npart");
    h.wait_lines(4);
    append(&path, b"ial\n");
    h.wait_lines(5);
    assert_eq!(h.texts[3..], ["a3", "partial"]);

    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    append(&path, b"t0\n");
    h.wait_lines(6);
    assert_eq!(h.texts[5], "t0");
    assert!(h.events.contains(&FollowEvent::Truncated), "{:?}", h.events);

    fs::rename(&path, dir.path().join("access.log.1")).unwrap();
    fs::write(&path, numbered("b", 0..2)).unwrap();
    h.wait_lines(8);
    assert_eq!(h.texts[6..], ["b0", "b1"]);
    assert!(h.events.contains(&FollowEvent::Rotated), "{:?}", h.events);
    assert_eq!(h.status(), &SourceStatus::Polled);
    h.wait("closed when idle", |_| !holds_open(&path));
}

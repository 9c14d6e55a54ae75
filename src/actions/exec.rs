//! Runs one command: argv, stdin closed, its own process group, a hard time limit, and its
//! output handed over in sanitised, capped lines as it arrives.

use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Argv;
use crate::sanitize::sanitize_bytes;

/// Longer output lines are cut here, with a marker (the same cap as log lines).
pub const MAX_LINE: usize = 16 * 1024;
/// Lines are handed over at least this often while a command runs.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_LINES: usize = 256;
/// After SIGTERM at the time limit, how long the group gets before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// A command that exited but left a daemonised child holding its stdout open: stop reading after
/// this long instead of waiting for the child.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Outlived its time limit and was killed.
    TimedOut(Duration),
    /// gatewatch was quitting, so the command was killed.
    Cancelled,
    /// Could not be started at all (not found, not executable...).
    NotStarted(String),
    /// A container engine call that has no exit status (a restart, a signal) succeeded.
    Done,
    /// The container engine failed the call or did not report how the command ended.
    Engine(String),
}

impl Exit {
    pub fn success(&self) -> bool {
        matches!(self, Exit::Code(0) | Exit::Done)
    }

    pub fn code(&self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(*c),
            _ => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut(t) => write!(
                f,
                "timed out after {} (killed)",
                humantime::format_duration(*t)
            ),
            Exit::Cancelled => f.write_str("cancelled (gatewatch quit)"),
            Exit::NotStarted(why) => write!(f, "could not start: {why}"),
            Exit::Done => f.write_str("done"),
            Exit::Engine(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Runs `argv`, calling `on_lines` with batches of sanitised output lines (stdout and stderr
/// interleaved as they arrive). Never blocks longer than `timeout` plus the kill grace periods;
/// raising `stop` kills the command early.
pub fn run(
    argv: &Argv,
    timeout: Duration,
    stop: &AtomicBool,
    on_lines: &mut dyn FnMut(Vec<String>),
) -> (Exit, Duration) {
    let started = Instant::now();
    let mut child = match spawn(argv) {
        Ok(c) => c,
        Err(e) => return (Exit::NotStarted(not_started(argv, &e)), started.elapsed()),
    };
    // Bounded: a command spewing output is slowed down by its own pipe, not buffered here.
    let (tx, rx) = mpsc::sync_channel::<String>(1024);
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        readers += usize::from(spawn_reader(out, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers += usize::from(spawn_reader(err, tx.clone()));
    }
    drop(tx);
    let exit = supervise(&mut child, &rx, readers, timeout, stop, on_lines);
    (exit, started.elapsed())
}

fn spawn(argv: &Argv) -> io::Result<Child> {
    let mut command = Command::new(argv.program());
    command
        .args(argv.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so the time limit kills what it started too (sudo's child, a script's).
        .process_group(0);
    // ETXTBSY: the program is being written at this instant (a package upgrade replacing it, or
    // a process forked while it was open for writing). It passes within moments; try again
    // a few times rather than report a command that never ran.
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => {
                tries += 1;
                thread::sleep(Duration::from_millis(20 * tries));
            }
            spawned => return spawned,
        }
    }
}

fn not_started(argv: &Argv, e: &io::Error) -> String {
    let program = sanitize_bytes(argv.program().as_bytes());
    match e.kind() {
        io::ErrorKind::NotFound => format!("{program}: command not found"),
        io::ErrorKind::PermissionDenied => format!("{program}: permission denied"),
        _ => format!("{program}: {e}"),
    }
}

/// Returns whether a reader thread was started.
fn spawn_reader(pipe: impl Read + Send + 'static, tx: SyncSender<String>) -> bool {
    thread::Builder::new()
        .name("gatewatch-cmd-out".into())
        .spawn(move || read_lines(pipe, &tx))
        .map_err(|e| tracing::error!("cannot start an output reader: {e}"))
        .is_ok()
}

fn read_lines(mut pipe: impl Read, tx: &SyncSender<String>) {
    let mut buf = [0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for chunk in buf[..n].split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match chunk.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (chunk, false),
            };
            let room = MAX_LINE.saturating_sub(line.len());
            line.extend_from_slice(&body[..body.len().min(room)]);
            cut |= body.len() > room;
            if ends && tx.send(finish_line(&mut line, &mut cut)).is_err() {
                return;
            }
        }
    }
    if !line.is_empty() {
        let _ = tx.send(finish_line(&mut line, &mut cut));
    }
}

fn finish_line(line: &mut Vec<u8>, cut: &mut bool) -> String {
    let bytes = line.strip_suffix(b"\r").unwrap_or(line);
    let mut text = sanitize_bytes(bytes);
    if std::mem::take(cut) {
        text.push_str(" [… line cut at 16 KiB]");
    }
    line.clear();
    text
}

fn supervise(
    child: &mut Child,
    rx: &Receiver<String>,
    readers: usize,
    timeout: Duration,
    stop: &AtomicBool,
    on_lines: &mut dyn FnMut(Vec<String>),
) -> Exit {
    let deadline = Instant::now() + timeout;
    let mut pending = Vec::new();
    let mut last_flush = Instant::now();
    let mut open_readers = readers > 0;
    let mut ended: Option<(Exit, Instant)> = None;
    loop {
        let wait = match ended {
            Some(_) => Duration::from_millis(20),
            None => FLUSH_EVERY.min(deadline.saturating_duration_since(Instant::now())),
        };
        if open_readers {
            match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                Ok(line) => pending.push(line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open_readers = false,
            }
        } else {
            thread::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(20)));
        }
        if !pending.is_empty()
            && (pending.len() >= FLUSH_LINES || last_flush.elapsed() >= FLUSH_EVERY)
        {
            on_lines(std::mem::take(&mut pending));
            last_flush = Instant::now();
        }
        if ended.is_none() {
            if let Ok(Some(status)) = child.try_wait() {
                let exit = match (status.code(), status.signal()) {
                    (Some(c), _) => Exit::Code(c),
                    (None, Some(s)) => Exit::Signal(s),
                    (None, None) => Exit::Code(-1),
                };
                ended = Some((exit, Instant::now()));
            } else if stop.load(Ordering::Acquire) {
                kill_group(child);
                ended = Some((Exit::Cancelled, Instant::now()));
            } else if Instant::now() >= deadline {
                kill_group(child);
                ended = Some((Exit::TimedOut(timeout), Instant::now()));
            }
        }
        if let Some((exit, at)) = &ended
            && (!open_readers || at.elapsed() >= PIPE_GRACE)
        {
            pending.extend(rx.try_iter());
            if !pending.is_empty() {
                on_lines(pending);
            }
            return exit.clone();
        }
    }
}

/// SIGTERM to the whole group, SIGKILL to it after a grace period, then reaps the child.
fn kill_group(child: &mut Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    // SAFETY: plain syscalls on the group we created for this child; no memory is shared.
    unsafe { libc::killpg(pgid, libc::SIGTERM) };
    let until = Instant::now() + KILL_GRACE;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; anything left in its group still gets the hard kill below.
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
    let _ = child.wait();
}

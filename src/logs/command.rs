//! A command's stdout as a log (`journalctl -fu nginx -o cat`): run as an argv without a shell,
//! stdin closed, killed when the source is dropped. Reader threads block on the pipes so the
//! follower never does; a bounded channel between them pushes back on a flood.
//!
//! Two sources read more than raw stdout ([`Output`]): a container's log has the container's
//! stderr on `docker logs`' stderr, so both pipes are the log, each cut into whole lines before
//! they meet (a line of one never splits a line of the other); the journal's JSON entries are
//! turned into text lines ([`super::journal`]) as they arrive.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

use super::follow::Read;
use super::lines::{LineSplitter, cut_marker};
use super::{FollowEvent, SourceStatus, journal, prefix};
use crate::sanitize::sanitize_bytes;

/// Chunks in flight per command: with 64 KiB reads, at most 256 KiB buffered.
const CHANNEL_DEPTH: usize = 4;
const READ_SIZE: usize = 64 * 1024;
/// Characters of the last stderr line kept for the status.
const STDERR_KEPT: usize = 200;
/// A line cut into whole lines by a pipe thread keeps this much at most (the follower cuts it
/// again to its own cap); a journal entry longer than this is skipped with a note.
const PIPE_LINE_MAX: usize = 256 * 1024;

/// What a command's pipes hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Stdout is the log; stderr only explains an exit.
    Stdout,
    /// Both pipes are the log (`docker logs`), merged line by line; stderr also explains an exit.
    Both,
    /// Stdout holds `journalctl -o json` entries, one per line.
    Journal,
}

enum Chunk {
    Out(Vec<u8>),
    Err(Vec<u8>),
    /// Log lines from stderr, which may also say why the command ended.
    ErrLines(Vec<u8>),
    /// How far the lines sent so far reach (see [`CommandReader::position`]).
    Position(String),
    Closed,
}

/// How a pipe thread turns what it reads into chunks.
#[derive(Clone, Copy)]
enum Pipe {
    /// As read.
    Raw(fn(Vec<u8>) -> Chunk),
    /// Whole lines only.
    Lines(fn(Vec<u8>) -> Chunk),
    /// Journal entries rendered as text lines.
    Journal,
}

pub struct CommandReader {
    program: String,
    child: Option<Child>,
    rx: Option<Receiver<Chunk>>,
    pending: Vec<u8>,
    pending_at: usize,
    streams_open: u8,
    last_stderr: String,
    ended: bool,
    /// Where the lines read so far end, for a stream to resume from when it is started again:
    /// the last journal entry's cursor, or the last `docker logs -t` stamp.
    pub position: Option<String>,
    /// Whether the program exited successfully, once it has.
    pub exit_success: Option<bool>,
    pub status: SourceStatus,
    pub events: Vec<FollowEvent>,
}

impl CommandReader {
    pub fn spawn(argv: &[String]) -> Self {
        Self::spawn_with(argv, Output::Stdout)
    }

    pub fn spawn_with(argv: &[String], output: Output) -> Self {
        let program = argv.first().cloned().unwrap_or_default();
        let mut reader = CommandReader {
            program: program.clone(),
            child: None,
            rx: None,
            pending: Vec::new(),
            pending_at: 0,
            streams_open: 0,
            last_stderr: String::new(),
            ended: false,
            position: None,
            exit_success: None,
            status: SourceStatus::Starting,
            events: Vec::new(),
        };
        let spawned = Command::new(&program)
            .args(argv.iter().skip(1))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                reader.ended = true;
                reader.status = SourceStatus::Failed(format!(
                    "cannot run {}: {}",
                    sanitize_bytes(program.as_bytes()),
                    super::file::describe(&e)
                ));
                return reader;
            }
        };
        let (tx, rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        let (out_pipe, err_pipe) = match output {
            Output::Stdout => (Pipe::Raw(Chunk::Out), Pipe::Raw(Chunk::Err)),
            Output::Both => (Pipe::Lines(Chunk::Out), Pipe::Lines(Chunk::ErrLines)),
            Output::Journal => (Pipe::Journal, Pipe::Raw(Chunk::Err)),
        };
        if let Some(out) = child.stdout.take() {
            reader.streams_open += u8::from(pipe_thread(out, tx.clone(), out_pipe));
        }
        if let Some(err) = child.stderr.take() {
            reader.streams_open += u8::from(pipe_thread(err, tx, err_pipe));
        }
        reader.child = Some(child);
        reader.rx = Some(rx);
        reader.status = SourceStatus::Following;
        reader.events.push(FollowEvent::Opened);
        reader
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        loop {
            if self.pending_at < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.pending_at);
                buf[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                return Read::Data(n);
            }
            let Some(rx) = &self.rx else {
                return Read::Idle;
            };
            match rx.try_recv() {
                Ok(Chunk::Out(bytes)) => {
                    self.pending = bytes;
                    self.pending_at = 0;
                }
                Ok(Chunk::Err(bytes)) => self.note_stderr(&bytes),
                Ok(Chunk::ErrLines(bytes)) => {
                    self.note_stderr(&bytes);
                    self.pending = bytes;
                    self.pending_at = 0;
                }
                Ok(Chunk::Position(at)) => self.position = Some(at),
                Ok(Chunk::Closed) => self.streams_open = self.streams_open.saturating_sub(1),
                Err(TryRecvError::Empty) if self.streams_open > 0 => return Read::Idle,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return self.finish(),
            }
        }
    }

    /// Whether the command has ended (or never started): nothing more will be read.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// Both pipes are closed: report how the command ended, once its exit status is known.
    fn finish(&mut self) -> Read {
        if self.ended {
            return Read::Idle;
        }
        let Some(child) = self.child.as_mut() else {
            return Read::Idle;
        };
        match child.try_wait() {
            Ok(Some(exit)) => {
                self.ended = true;
                self.exit_success = Some(exit.success());
                self.rx = None;
                let mut reason = format!("{} exited ({exit})", self.program);
                if !self.last_stderr.is_empty() {
                    reason.push_str(": ");
                    reason.push_str(&self.last_stderr);
                }
                self.status = SourceStatus::Ended(sanitize_bytes(reason.as_bytes()));
                Read::EndOfFile
            }
            // Closed its output but still running: check again next poll.
            Ok(None) => Read::Idle,
            Err(e) => {
                self.ended = true;
                self.status = SourceStatus::Ended(format!(
                    "cannot wait for the command: {}",
                    super::file::describe(&e)
                ));
                Read::EndOfFile
            }
        }
    }

    fn note_stderr(&mut self, bytes: &[u8]) {
        let last = bytes
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .rfind(|l| !l.is_empty());
        if let Some(line) = last {
            self.last_stderr = sanitize_bytes(line).chars().take(STDERR_KEPT).collect();
        }
    }
}

impl Drop for CommandReader {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine; kill then reap so no zombie is left behind.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies one pipe into the channel until it closes or the receiver goes away. Returns whether
/// the thread started.
fn pipe_thread<R: std::io::Read + Send + 'static>(
    mut pipe: R,
    tx: SyncSender<Chunk>,
    how: Pipe,
) -> bool {
    thread::Builder::new()
        .name("gatewatch-logcmd".into())
        .spawn(move || {
            let mut lines = LineSplitter::new(PIPE_LINE_MAX);
            loop {
                let mut buf = vec![0; READ_SIZE];
                let mut position = None;
                let chunk = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        match how {
                            Pipe::Raw(wrap) => wrap(buf),
                            Pipe::Lines(wrap) => wrap(whole_lines(&mut lines, &buf, &mut position)),
                            Pipe::Journal => {
                                Chunk::Out(journal_lines(&mut lines, &buf, &mut position))
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let empty = matches!(&chunk, Chunk::Out(b) | Chunk::ErrLines(b) if b.is_empty());
                if !empty && tx.send(chunk).is_err() {
                    return;
                }
                if let Some(at) = position
                    && tx.send(Chunk::Position(at)).is_err()
                {
                    return;
                }
            }
            // A last line without a newline is still a line.
            let mut rest = Vec::new();
            match how {
                Pipe::Raw(_) => {}
                Pipe::Lines(_) => lines.flush(|line, cut| push_line(&mut rest, line, cut)),
                Pipe::Journal => lines.flush(|entry, cut| {
                    journal::render(entry, cut, &mut rest);
                }),
            }
            let wrap = match how {
                Pipe::Lines(wrap) => wrap,
                Pipe::Raw(_) | Pipe::Journal => Chunk::Out,
            };
            if !rest.is_empty() && tx.send(wrap(rest)).is_err() {
                return;
            }
            let _ = tx.send(Chunk::Closed);
        })
        .is_ok()
}

/// The lines completed by `data`, each ending with a newline; a line cut at
/// [`PIPE_LINE_MAX`] is marked. `position` becomes the last line's `docker logs -t` stamp.
fn whole_lines(lines: &mut LineSplitter, data: &[u8], position: &mut Option<String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    // Where in `out` the last stamp is: copied once per read, not once per line.
    let mut last_stamp = None;
    lines.push(data, |line, cut| {
        if let Some(stamp) = prefix::leading_rfc3339(line) {
            last_stamp = Some(out.len()..out.len() + stamp.len());
        }
        push_line(&mut out, line, cut);
    });
    if let Some(stamp) = last_stamp {
        *position = Some(String::from_utf8_lossy(&out[stamp]).into_owned());
    }
    out
}

fn push_line(out: &mut Vec<u8>, line: &[u8], cut: u64) {
    out.extend_from_slice(line);
    if cut > 0 {
        out.extend_from_slice(cut_marker(cut).as_bytes());
    }
    out.push(b'\n');
}

/// The text lines of the journal entries completed by `data`; `position` becomes the last
/// entry's cursor.
fn journal_lines(lines: &mut LineSplitter, data: &[u8], position: &mut Option<String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2);
    lines.push(data, |entry, cut| {
        if let Some(cursor) = journal::render(entry, cut, &mut out) {
            *position = Some(cursor);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_is_the_last_stamped_line_s_stamp() {
        let mut lines = LineSplitter::new(PIPE_LINE_MAX);
        let mut position = None;
        let out = whole_lines(
            &mut lines,
            b"2024-09-27T02:33:25.1Z a\n2024-09-27T02:33:26.2Z b\nno stamp\npart",
            &mut position,
        );
        assert_eq!(
            out,
            b"2024-09-27T02:33:25.1Z a\n2024-09-27T02:33:26.2Z b\nno stamp\n"
        );
        assert_eq!(position.as_deref(), Some("2024-09-27T02:33:26.2Z"));
        // A read without a stamped line keeps the position it had.
        whole_lines(&mut lines, b"ial\nplain\n", &mut position);
        assert_eq!(position.as_deref(), Some("2024-09-27T02:33:26.2Z"));
        whole_lines(&mut lines, b"2024-09-27T02:33:27Z c\n", &mut position);
        assert_eq!(position.as_deref(), Some("2024-09-27T02:33:27Z"));
    }
}

//! A command's stdout as a log (`journalctl -fu nginx -o cat`): run as an argv without a shell,
//! stdin closed, killed when the source is dropped. Reader threads block on the pipes so the
//! follower never does; a bounded channel between them pushes back on a flood.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

use super::follow::Read;
use super::{FollowEvent, SourceStatus};
use crate::sanitize::sanitize_bytes;

/// Chunks in flight per command: with 64 KiB reads, at most 256 KiB buffered.
const CHANNEL_DEPTH: usize = 4;
const READ_SIZE: usize = 64 * 1024;
/// Characters of the last stderr line kept for the status.
const STDERR_KEPT: usize = 200;

enum Chunk {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Closed,
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
    pub status: SourceStatus,
    pub events: Vec<FollowEvent>,
}

impl CommandReader {
    pub fn spawn(argv: &[String]) -> Self {
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
        if let Some(out) = child.stdout.take() {
            reader.streams_open += u8::from(pipe_thread(out, tx.clone(), Chunk::Out));
        }
        if let Some(err) = child.stderr.take() {
            reader.streams_open += u8::from(pipe_thread(err, tx, Chunk::Err));
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
                Ok(Chunk::Closed) => self.streams_open = self.streams_open.saturating_sub(1),
                Err(TryRecvError::Empty) if self.streams_open > 0 => return Read::Idle,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return self.finish(),
            }
        }
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
    wrap: fn(Vec<u8>) -> Chunk,
) -> bool {
    thread::Builder::new()
        .name("gatewatch-logcmd".into())
        .spawn(move || {
            loop {
                let mut buf = vec![0; READ_SIZE];
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(wrap(buf)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(Chunk::Closed);
        })
        .is_ok()
}

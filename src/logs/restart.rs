//! A journal or container source that is started again when its program exits (a container
//! restarted, journald restarted, `docker logs` lost the daemon), resuming where it stopped:
//! after the last entry's cursor (`journalctl --after-cursor`) or the last line's stamp (`docker
//! logs --since`), so no line is shown twice and none is skipped. A plain command is never
//! started again: nothing says where its output left off.

use std::time::{Duration, Instant};

use super::command::{CommandReader, Output};
use super::follow::Read;
use super::{Origin, SourceStatus};

pub struct RestartingReader {
    origin: Origin,
    every: Duration,
    pub inner: CommandReader,
    /// When the ended program is started again.
    next_start: Option<Instant>,
}

impl RestartingReader {
    /// `origin` must be a journal or container source; `every` is the wait before each restart.
    pub fn spawn(origin: &Origin, every: Duration) -> Self {
        let argv = origin.stream_argv(None).unwrap_or_default();
        RestartingReader {
            origin: origin.clone(),
            every,
            inner: CommandReader::spawn_with(&argv, output(origin)),
            next_start: None,
        }
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        if let Some(at) = self.next_start {
            if Instant::now() < at {
                return Read::Idle;
            }
            self.next_start = None;
            let position = self.inner.position.take();
            let argv = self
                .origin
                .stream_argv(position.as_deref())
                .unwrap_or_default();
            self.inner = CommandReader::spawn_with(&argv, output(&self.origin));
            // A run that reads nothing resumes from the same place next time.
            self.inner.position = position;
        }
        let read = self.inner.read(buf);
        if self.inner.has_ended() && self.next_start.is_none() {
            self.next_start = Some(Instant::now() + self.every);
            let again = format!("; started again in {} s", self.every.as_secs().max(1));
            if let SourceStatus::Ended(why) | SourceStatus::Failed(why) = &mut self.inner.status {
                why.push_str(&again);
            }
        }
        read
    }
}

/// How `origin`'s program writes its log (stdout alone for a source that is none of them).
fn output(origin: &Origin) -> Output {
    origin.stream_output().unwrap_or(Output::Stdout)
}

//! A container's log stream through the API: stdout and stderr apart (bollard undoes the
//! engine's framing), each line with the engine's own timestamp, raw bytes for the log pipeline
//! to sanitise and classify like a file's lines.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::{Stream, StreamExt};

use super::engine::{CALL_TIMEOUT, Engine, EngineError, checked_id};

/// Bytes of one line kept (Docker itself splits log entries at 16 KiB).
pub const MAX_LOG_LINE: usize = 16 * 1024;

/// Lines one non-follow read returns at most (the newest are the ones cut).
const MAX_LOGS_SINCE: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLogLine {
    pub stream: StreamKind,
    /// When the engine received the line; None when it sent no readable timestamp.
    pub at: Option<jiff::Timestamp>,
    /// The line without its newline, at most [`MAX_LOG_LINE`] bytes; not sanitised.
    pub line: Vec<u8>,
}

/// The lines of one frame: `TIMESTAMP SP text`, usually one line, several for a TTY's output.
fn lines_of(output: LogOutput) -> Vec<ContainerLogLine> {
    let stream = match output {
        LogOutput::StdErr { .. } => StreamKind::Stderr,
        LogOutput::StdOut { .. } | LogOutput::Console { .. } => StreamKind::Stdout,
        LogOutput::StdIn { .. } => return Vec::new(),
    };
    let bytes = output.into_bytes();
    let (at, text) = split_timestamp(&bytes);
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.split(|&b| b == b'\n')
        .map(|line| ContainerLogLine {
            stream,
            at,
            line: line.get(..MAX_LOG_LINE).unwrap_or(line).to_vec(),
        })
        .collect()
}

fn split_timestamp(bytes: &[u8]) -> (Option<jiff::Timestamp>, &[u8]) {
    // RFC 3339 with nanoseconds is 30 bytes; anything much longer is not a timestamp.
    let Some(space) = bytes.iter().take(48).position(|&b| b == b' ') else {
        return (None, bytes);
    };
    let stamp = std::str::from_utf8(&bytes[..space])
        .ok()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok());
    match stamp {
        Some(at) => (Some(at), &bytes[space + 1..]),
        None => (None, bytes),
    }
}

fn options(follow: bool, since: i64, tail: String) -> LogsOptions {
    LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        since: i32::try_from(since).unwrap_or(0),
        until: 0,
        timestamps: true,
        tail,
    }
}

impl Engine {
    /// The last `tail_lines` lines, then every new one as the container writes it (`tail -F`
    /// for a container). The stream ends when the container's log ends (it was removed) or the
    /// connection breaks; an error is its last item.
    pub fn follow_logs(
        &self,
        id: &str,
        tail_lines: usize,
    ) -> Result<
        impl Stream<Item = Result<ContainerLogLine, EngineError>> + Send + 'static,
        EngineError,
    > {
        self.follow_logs_since(id, 0, Some(tail_lines))
    }

    /// [`Engine::follow_logs`] from the lines written since `since_unix` (0: from the first),
    /// the last `tail_lines` of them when given: what resuming a broken follow asks.
    pub fn follow_logs_since(
        &self,
        id: &str,
        since_unix: i64,
        tail_lines: Option<usize>,
    ) -> Result<
        impl Stream<Item = Result<ContainerLogLine, EngineError>> + Send + 'static,
        EngineError,
    > {
        let id = checked_id(id)?;
        let engine = self.clone();
        let tail = tail_lines.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let frames = self.docker.logs(id, Some(options(true, since_unix, tail)));
        Ok(frames.flat_map(move |frame| {
            let lines: Vec<Result<ContainerLogLine, EngineError>> = match frame {
                Ok(frame) => lines_of(frame).into_iter().map(Ok).collect(),
                Err(e) => vec![Err(engine.api_error("logs", &e))],
            };
            futures_util::stream::iter(lines)
        }))
    }

    /// The lines written since `since_unix` up to now, oldest first, at most 20 000 (for `check`).
    pub async fn logs_since(
        &self,
        id: &str,
        since_unix: i64,
    ) -> Result<Vec<ContainerLogLine>, EngineError> {
        let id = checked_id(id)?;
        let frames = self
            .docker
            .logs(id, Some(options(false, since_unix.max(1), "all".into())));
        let collect = async {
            let mut kept = Vec::new();
            let mut frames = std::pin::pin!(frames);
            while let Some(frame) = frames.next().await {
                kept.extend(lines_of(frame?));
                if kept.len() >= MAX_LOGS_SINCE {
                    kept.truncate(MAX_LOGS_SINCE);
                    break;
                }
            }
            Ok(kept)
        };
        self.call_within("logs", CALL_TIMEOUT, collect).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Bytes;

    #[test]
    fn a_frame_gives_its_timestamp_and_lines() {
        let frame = LogOutput::StdErr {
            message: Bytes::from_static(b"2026-12-02T14:02:11.5Z upstream timed out\n"),
        };
        let lines = lines_of(frame);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].stream, StreamKind::Stderr);
        assert_eq!(lines[0].line, b"upstream timed out");
        assert_eq!(
            lines[0].at.map(|t| t.to_string()).as_deref(),
            Some("2026-12-02T14:02:11.5Z")
        );
    }

    #[test]
    fn hostile_frames_are_bounded_and_kept_raw() {
        let mut long = b"not-a-time \x1b[2J".to_vec();
        long.extend(vec![b'a'; MAX_LOG_LINE * 2]);
        let lines = lines_of(LogOutput::Console {
            message: Bytes::from(long),
        });
        assert_eq!(lines[0].at, None);
        assert_eq!(lines[0].stream, StreamKind::Stdout);
        assert_eq!(lines[0].line.len(), MAX_LOG_LINE);
        assert!(lines[0].line.starts_with(b"not-a-time \x1b[2J"));
        let stdin = LogOutput::StdIn {
            message: Bytes::from_static(b"x\n"),
        };
        assert!(lines_of(stdin).is_empty());
    }
}

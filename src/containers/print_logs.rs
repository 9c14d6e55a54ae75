//! `gatewatch container-logs`: a container's log read through the engine's API and written as
//! `docker logs -t` writes it (an RFC 3339 stamp, a space, the line; the container's stderr to
//! stderr). The log follower runs it for a proxy in a container that logs to its stdout, so the
//! follower's restarts, resumption and classification serve it unchanged, and no docker CLI is
//! needed.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use futures_util::StreamExt;
use jiff::Timestamp;

use super::{ContainerLogLine, Engine, EngineError, StreamKind};

/// What to read, as `docker logs` takes it.
#[derive(Clone, Debug, Default)]
pub struct LogsAsk {
    pub follow: bool,
    pub tail: Option<usize>,
    /// Unix seconds, or an RFC 3339 stamp (a resumed follow: only lines after it).
    pub since: Option<String>,
}

/// Reads `container`'s log through the engine at `socket` onto stdout and stderr; 0 when the log
/// ended (or the reader went away), 1 with a message on error.
pub fn print_logs(socket: &Path, container: &str, ask: &LogsAsk) -> ExitCode {
    let since = match ask.since.as_deref().map(parse_since).transpose() {
        Ok(since) => since,
        Err(e) => return fail(&e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("no async runtime: {e}")),
    };
    match rt.block_on(copy(socket, container, ask, since)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!(
        "gatewatch container-logs: {}",
        crate::sanitize::sanitize(message)
    );
    ExitCode::FAILURE
}

/// A `--since` value: whole seconds for the API, and the exact instant lines must follow.
fn parse_since(text: &str) -> Result<Timestamp, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return Timestamp::from_second(secs).map_err(|e| format!("--since {text}: {e}"));
    }
    text.parse::<Timestamp>()
        .map_err(|e| format!("--since {text:?}: not unix seconds or RFC 3339: {e}"))
}

async fn copy(
    socket: &Path,
    container: &str,
    ask: &LogsAsk,
    since: Option<Timestamp>,
) -> Result<(), EngineError> {
    let engine = Engine::connect(Some(socket)).await?;
    let whole_seconds = since.map_or(0, |t| t.as_second());
    let after = |line: &ContainerLogLine| match (since, line.at) {
        (Some(since), Some(at)) => at > since,
        _ => true,
    };
    if ask.follow {
        let mut lines =
            std::pin::pin!(engine.follow_logs_since(container, whole_seconds, ask.tail)?);
        while let Some(line) = lines.next().await {
            let line = line?;
            if after(&line) && !write(&line) {
                return Ok(());
            }
        }
    } else {
        let mut lines = engine.logs_since(container, whole_seconds).await?;
        lines.retain(after);
        if let Some(tail) = ask.tail {
            let cut = lines.len().saturating_sub(tail);
            lines.drain(..cut);
        }
        for line in &lines {
            if !write(line) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Writes one line as `docker logs -t` does; false once the reader is gone.
fn write(line: &ContainerLogLine) -> bool {
    let mut out: Vec<u8> = Vec::with_capacity(line.line.len() + 40);
    if let Some(at) = line.at {
        out.extend_from_slice(at.to_string().as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&line.line);
    out.push(b'\n');
    let written = match line.stream {
        StreamKind::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out).and_then(|()| stdout.flush())
        }
        StreamKind::Stderr => std::io::stderr().lock().write_all(&out),
    };
    written.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_unix_seconds_or_rfc3339_and_nothing_else() {
        assert_eq!(
            parse_since("1796220131").expect("secs").as_second(),
            1_796_220_131
        );
        let exact = parse_since("2026-12-02T14:02:11.000000001Z").expect("rfc3339");
        assert_eq!(exact.subsec_nanosecond(), 1);
        assert!(parse_since("yesterday\x1b[2J").is_err());
    }
}

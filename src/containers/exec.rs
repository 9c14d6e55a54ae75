//! Runs a command inside a container through the API (argv only, never a shell string): how the
//! reload action checks a config with `nginx -t` where it lives, then reloads.

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use bollard::query_parameters::KillContainerOptions;

use super::engine::{CALL_TIMEOUT, Engine, EngineError, checked_id};
use crate::sanitize::sanitize_bytes;

/// Bytes of a command's output kept (stdout and stderr together, in order).
pub const MAX_EXEC_OUTPUT: usize = 64 * 1024;

/// How long the exit code may take to show once the output has ended.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutcome {
    /// None when the command timed out or the engine did not say.
    pub exit_code: Option<i64>,
    /// Stdout and stderr as they came, at most [`MAX_EXEC_OUTPUT`] bytes of input, each line
    /// sanitised on its own: `\n` separates lines and is the only control character left.
    pub output: String,
    /// The command outlived `timeout`; it may still be running in the container.
    pub timed_out: bool,
}

impl Engine {
    /// Runs `argv` in container `id` and waits at most `timeout` for it to finish.
    pub async fn exec(
        &self,
        id: &str,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<ExecOutcome, EngineError> {
        let id = checked_id(id)?;
        if argv.is_empty() {
            return Err(EngineError::EmptyCommand);
        }
        let create = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv.iter().map(|a| a.to_string()).collect()),
            ..Default::default()
        };
        let created = self
            .call("create exec", self.docker.create_exec(id, create))
            .await?;
        let exec_id = checked_id(&created.id)?.to_string();
        let started = self
            .call("start exec", self.docker.start_exec(&exec_id, None))
            .await?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Err(EngineError::Api {
                socket: self.socket_text(),
                call: "start exec",
                message: "the engine detached the command".into(),
            });
        };
        let mut raw = Vec::new();
        let read = async {
            while let Some(chunk) = output.next().await {
                let chunk = chunk.map_err(|e| self.api_error("exec output", &e))?;
                let bytes = chunk.into_bytes();
                let room = MAX_EXEC_OUTPUT.saturating_sub(raw.len());
                raw.extend_from_slice(bytes.get(..room).unwrap_or(&bytes));
            }
            Ok::<(), EngineError>(())
        };
        let timed_out = match tokio::time::timeout(timeout, read).await {
            Ok(result) => {
                result?;
                false
            }
            Err(_) => true,
        };
        let exit_code = if timed_out {
            None
        } else {
            self.exit_code(&exec_id).await?
        };
        Ok(ExecOutcome {
            exit_code,
            output: sanitize_lines(&raw),
            timed_out,
        })
    }

    /// Sends `signal` (`SIGUSR2`, `HUP`) to the container's main process.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        let id = checked_id(id)?;
        let options = KillContainerOptions {
            signal: signal.to_owned(),
        };
        self.call(
            "kill container",
            self.docker.kill_container(id, Some(options)),
        )
        .await
    }

    /// The exit code once the engine has noted the end (it may lag the output's end a little).
    async fn exit_code(&self, exec_id: &str) -> Result<Option<i64>, EngineError> {
        let deadline = Instant::now() + EXIT_CODE_WAIT;
        loop {
            let state = self
                .call_within(
                    "inspect exec",
                    CALL_TIMEOUT,
                    self.docker.inspect_exec(exec_id),
                )
                .await?;
            if state.running != Some(true) || Instant::now() >= deadline {
                return Ok(state.exit_code.filter(|_| state.running != Some(true)));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Each line sanitised on its own, joined by `\n` (a trailing newline is dropped, CRs before it too).
fn sanitize_lines(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.split(|&b| b == b'\n')
        .map(|line| sanitize_bytes(line.strip_suffix(b"\r").unwrap_or(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_survive_and_nothing_else_does() {
        assert_eq!(sanitize_lines(b"a\r\nb\x1b[2J\n"), "a\nb\\x1b[2J");
        assert_eq!(sanitize_lines(b""), "");
    }
}

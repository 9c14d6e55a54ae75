//! Runs one read-only firewall command: argv (never a shell), stdin closed, `LC_ALL=C` so the
//! output is the untranslated one the parsers know, a time limit after which the whole process
//! group is killed, and a cap on what is kept of its output.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long one tool may take; `ufw` is a Python program that needs a good part of a second on a
/// busy host.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Output kept per stream; the rest is read and thrown away so the tool never blocks on a full
/// pipe.
pub const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;
/// After the process ends, how long its output readers are waited for (a grandchild that kept
/// the pipe open must not hold us).
const READER_GRACE: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(10);

/// Firewall tools live in sbin, which is not in an ordinary user's PATH.
const SBIN: [&str; 2] = ["/usr/sbin", "/sbin"];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("not installed")]
    Absent,
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("timed out after {} ms", .0.as_millis())]
    TimedOut(Duration),
    #[error("{0}")]
    Failed(String),
}

/// The first executable `program` in PATH, then /usr/sbin and /sbin.
pub fn locate(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `argv` and returns its standard output (lossily decoded, not yet sanitised: the parsers
/// sanitise what they keep). A non-zero exit is an error carrying the tool's own first line.
pub fn run(argv: &[String], timeout: Duration) -> Result<String, RunError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| RunError::Failed("empty command".into()))?;
    let mut child = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills whatever it started too.
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RunError::Absent,
            std::io::ErrorKind::PermissionDenied => RunError::NotPermitted(e.to_string()),
            _ => RunError::Failed(format!("cannot start {program}: {e}")),
        })?;
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::TimedOut(timeout));
            }
            Ok(None) => thread::sleep(POLL),
            Err(e) => return Err(RunError::Failed(format!("waiting for {program}: {e}"))),
        }
    };
    let out = stdout.map(collect).unwrap_or_default();
    let err = stderr.map(collect).unwrap_or_default();
    if status.success() {
        return Ok(out);
    }
    let message = first_line(&err)
        .or_else(|| first_line(&out))
        .unwrap_or_else(|| format!("exited with {status}"));
    let lower = format!("{err}\n{out}").to_ascii_lowercase();
    let denied = [
        "permission denied",
        "operation not permitted",
        "must be root",
        "need to be root",
    ];
    if denied.iter().any(|d| lower.contains(d)) {
        Err(RunError::NotPermitted(message))
    } else {
        Err(RunError::Failed(message))
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

fn reader(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

fn collect(rx: mpsc::Receiver<Vec<u8>>) -> String {
    rx.recv_timeout(READER_GRACE)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The first non-empty line, sanitised and capped: what a note shows of a tool's complaint.
fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(super::clean_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn output_of_a_real_command() {
        assert_eq!(
            run(&argv(&["printf", "a\\nb\\n"]), DEFAULT_TIMEOUT),
            Ok("a\nb\n".into())
        );
    }

    #[test]
    fn a_failing_command_carries_its_first_line() {
        let err = run(
            &argv(&["sh", "-c", "echo; echo 'bad thing' >&2; exit 4"]),
            DEFAULT_TIMEOUT,
        );
        assert_eq!(err, Err(RunError::Failed("bad thing".into())));
        let err = run(
            &argv(&[
                "sh",
                "-c",
                "echo 'Could not fetch rule set: Permission denied (you must be root)' >&2; exit 4",
            ]),
            DEFAULT_TIMEOUT,
        );
        assert!(matches!(err, Err(RunError::NotPermitted(m)) if m.contains("you must be root")));
        assert_eq!(
            run(&argv(&["/nonexistent/iptables"]), DEFAULT_TIMEOUT),
            Err(RunError::Absent)
        );
    }

    #[test]
    fn a_command_past_its_time_is_killed_with_its_children() {
        let started = Instant::now();
        // The shell's child sleep holds the pipe: only killing the group ends the read.
        let err = run(
            &argv(&["sh", "-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(200),
        );
        assert_eq!(err, Err(RunError::TimedOut(Duration::from_millis(200))));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn output_is_capped_and_stdin_is_closed() {
        let out = run(
            &argv(&["sh", "-c", "cat; head -c 6000000 /dev/zero | tr '\\0' x"]),
            Duration::from_secs(10),
        )
        .expect("runs");
        assert_eq!(out.len(), MAX_OUTPUT_BYTES);
    }

    #[test]
    fn tools_are_found_in_sbin_too() {
        assert!(locate("sh").is_some());
        assert!(locate("no-such-program-gatewatch").is_none());
    }
}

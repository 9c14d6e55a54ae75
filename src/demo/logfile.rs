//! The demo's nginx error and access logs: appended one whole line per write (O_APPEND), as nginx
//! does, and rotated like logrotate (rename, then a new file) so a demo left running for days stays
//! small and shows the follower's rotation handling too.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::Scratch;
use super::nginx_log::{self, Request, Worker};
use super::traffic::Exchange;

/// Rotate past this size; one old generation is kept (`.1`).
pub const ROTATE_BYTES: u64 = 4 * 1024 * 1024;

struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
}

impl LogFile {
    fn open(path: PathBuf) -> io::Result<LogFile> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogFile { path, file, size })
    }

    fn append(&mut self, line: &str, scratch: &Scratch) -> io::Result<()> {
        if self.size >= ROTATE_BYTES {
            self.rotate(scratch)?;
        }
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.size += text.len() as u64;
        Ok(())
    }

    /// New files only while the scratch dir still exists (see [`Scratch::with_dir`]).
    fn rotate(&mut self, scratch: &Scratch) -> io::Result<()> {
        let reopened = scratch.with_dir(|_| {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, &old)?;
            LogFile::open(self.path.clone())
        });
        match reopened {
            Some(Ok(fresh)) => *self = fresh,
            Some(Err(e)) => return Err(e),
            // The demo is ending: keep writing to the (unlinked) old file.
            None => self.size = 0,
        }
        Ok(())
    }
}

struct Files {
    error: LogFile,
    access: LogFile,
}

/// The two logs of one demo nginx.
pub struct NginxLogs {
    files: Mutex<Files>,
    scratch: Arc<Scratch>,
    pid: u32,
    connections: AtomicU64,
}

impl NginxLogs {
    /// The two logs, with the scene's past in them (see [`nginx_log::past_lines`]): its
    /// requests answered by `upstream`.
    pub fn create(
        scratch: Arc<Scratch>,
        error: &Path,
        access: &Path,
        upstream: SocketAddr,
    ) -> io::Result<NginxLogs> {
        let pid = std::process::id();
        let logs = NginxLogs {
            files: Mutex::new(Files {
                error: LogFile::open(error.to_path_buf())?,
                access: LogFile::open(access.to_path_buf())?,
            }),
            scratch,
            pid,
            connections: AtomicU64::new(1),
        };
        let (errors, requests) = nginx_log::past_lines(&jiff::Zoned::now(), pid, upstream);
        let mut files = logs.lock();
        for line in errors {
            files.error.append(&line, &logs.scratch)?;
        }
        for line in requests {
            files.access.append(&line, &logs.scratch)?;
        }
        drop(files);
        Ok(logs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs one proxied request: its error line (if it failed), then its access line, as nginx
    /// writes them (the error when it happens, the access line when the request ends).
    pub fn record(&self, req: &Request<'_>, upstream: SocketAddr, exchange: &Exchange) {
        let now = jiff::Zoned::now();
        let worker = Worker {
            pid: self.pid,
            connection: self.connections.fetch_add(1, Ordering::Relaxed),
        };
        let error = nginx_log::error_line(&now, worker, req, upstream, exchange);
        let access = nginx_log::access_line(&now, req, upstream, exchange);
        let mut files = self.lock();
        let written = error
            .map_or(Ok(()), |line| files.error.append(&line, &self.scratch))
            .and_then(|()| files.access.append(&access, &self.scratch));
        if let Err(e) = written {
            tracing::debug!("demo log write failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::traffic::Failure;

    #[test]
    fn logs_rotate_past_their_cap_and_keep_one_generation() {
        let scratch = Arc::new(Scratch::new().expect("scratch"));
        let dir = scratch.path().to_path_buf();
        let (error, access) = (dir.join("error.log"), dir.join("access.log"));
        let upstream = "127.0.0.1:9".parse().expect("addr");
        let logs =
            NginxLogs::create(Arc::clone(&scratch), &error, &access, upstream).expect("logs");
        let req = Request {
            client: "192.0.2.1",
            method: "GET",
            path: &"/x".repeat(400),
            host: "shop.demo.internal",
            user_agent: "curl/8.5.0",
        };
        let started = std::fs::read_to_string(&error).expect("error log");
        assert!(started.contains("[notice]") && started.contains("start worker processes"));
        let ex = Exchange {
            result: Err(Failure::Refused),
            elapsed: std::time::Duration::ZERO,
        };
        let line = nginx_log::access_line(&jiff::Zoned::now(), &req, upstream, &ex).len() as u64;
        for _ in 0..(ROTATE_BYTES / line + 2) {
            logs.record(&req, upstream, &ex);
        }
        let rotated = dir.join("access.log.1");
        assert!(rotated.exists(), "rotated");
        assert!(std::fs::metadata(&rotated).expect("meta").len() >= ROTATE_BYTES);
        assert!(std::fs::metadata(&access).expect("meta").len() < ROTATE_BYTES);
        // Error lines are longer than access lines: that log rotated too.
        assert!(dir.join("error.log.1").exists());
        let text = std::fs::read_to_string(&error).expect("error log");
        assert!(
            text.lines().all(|l| l.contains("Connection refused")),
            "{}",
            &text[..200]
        );

        scratch.remove();
        assert!(!dir.exists(), "removed");
        // Writing after the end neither fails loudly nor brings the directory back.
        for _ in 0..(ROTATE_BYTES / line + 2) {
            logs.record(&req, upstream, &ex);
        }
        assert!(!dir.exists());
    }
}

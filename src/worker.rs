//! A collector's own OS thread, stopped without letting a sick host hang the dashboard's exit.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a stopping collector thread is waited for.
pub const STOP_GRACE: Duration = Duration::from_millis(500);

pub struct Worker {
    stop: Arc<AtomicBool>,
    /// Never sent on; disconnects when the thread exits, so stopping can wait with a timeout.
    done: Receiver<()>,
    handle: Option<JoinHandle<()>>,
    what: &'static str,
}

impl Worker {
    /// Runs `body` on a thread named `name`; `body` gets the flag that [`Worker::stop`] raises.
    pub fn spawn(
        name: &str,
        what: &'static str,
        body: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> io::Result<Worker> {
        let (done_tx, done) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Declared first so it drops last, after everything `body` owns.
                let _done = done_tx;
                body(stopped);
            })?;
        Ok(Worker {
            stop,
            done,
            handle: Some(handle),
            what,
        })
    }

    /// False once the thread has ended (its work was done, or it panicked).
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Raises the stop flag and waits up to [`STOP_GRACE`] for the thread, then joins it. One
    /// still busy, say in a /proc or NFS read that hangs, is left to finish on its own: the exit
    /// must not wait on it. Callers first drop whatever the thread sleeps on, to wake it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let Some(handle) = self.handle.take() else {
            return;
        };
        match self.done.recv_timeout(STOP_GRACE) {
            Err(RecvTimeoutError::Disconnected) => {
                if handle.join().is_err() {
                    tracing::error!("{} thread panicked", self.what);
                }
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    "{} still busy after {STOP_GRACE:?}; leaving it to finish alone",
                    self.what
                );
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Stopping a collector thread without letting a sick host hang the dashboard's exit.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a stopping collector thread is waited for.
pub const STOP_GRACE: Duration = Duration::from_millis(500);

/// Waits up to [`STOP_GRACE`] for the thread to end (its end of `done` disconnects when it
/// exits), then joins it. One still busy, say in a /proc or NFS read that hangs, is left to finish
/// on its own: the exit must not wait on it.
pub fn join_within_grace(handle: JoinHandle<()>, done: &Receiver<()>, what: &str) {
    match done.recv_timeout(STOP_GRACE) {
        Err(RecvTimeoutError::Disconnected) => {
            if handle.join().is_err() {
                tracing::error!("{what} thread panicked");
            }
        }
        Ok(()) | Err(RecvTimeoutError::Timeout) => {
            tracing::warn!("{what} still busy after {STOP_GRACE:?}; leaving it to finish alone");
        }
    }
}

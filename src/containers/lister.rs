//! Lists the engine's running containers now, then every interval or when asked, on the caller's
//! tokio runtime: the model's view of which container holds which address follows a recreated
//! container within one probe interval, so a stale address is judged while it happens.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{CALL_TIMEOUT, ContainerList, Engine, EngineError};
use crate::outbox::Outbox;
use crate::periodic::PeriodicTask;
use crate::sanitize::sanitize;

/// One listing takes at most this long, connection included: every call has its own
/// [`CALL_TIMEOUT`], but a sick engine answering each inspect just in time must not hold the
/// next listing back for minutes.
pub const LIST_DEADLINE: Duration = Duration::from_secs(CALL_TIMEOUT.as_secs() * 3);

/// What one listing found.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    /// Unix seconds when it was asked for.
    pub at: i64,
    /// The running containers, or why the engine did not list them: "container engine at …: …".
    pub outcome: Result<ContainerList, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the container lister needs a tokio runtime to run on")]
    NoRuntime,
}

/// Stops its task when dropped; a listing in flight is only futures, and dropping them closes
/// the socket.
pub struct ContainerLister(PeriodicTask);

impl ContainerLister {
    /// Lists the containers behind `socket` now, then every `interval` after a listing ends;
    /// each listing waits for room in the outbox, so none is dropped. Ends when the receiver is
    /// gone or the lister drops.
    pub fn spawn(
        socket: PathBuf,
        interval: Duration,
        outbox: Outbox<Listing>,
    ) -> Result<ContainerLister, SpawnError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        let task = PeriodicTask::spawn(&runtime, |doorbell| async move {
            let mut engine: Option<Engine> = None;
            let mut due = Instant::now();
            loop {
                doorbell.wait_until(due).await;
                let at = crate::model::unix_seconds(SystemTime::now());
                let outcome = list(&socket, &mut engine).await;
                if outbox.send(Listing { at, outcome }).await.is_err() {
                    return;
                }
                due = Instant::now() + interval;
            }
        });
        Ok(ContainerLister(task))
    }

    /// Lists now instead of at the next interval; coalesced with a rerun already pending.
    pub fn rerun(&self) {
        self.0.rerun();
    }

    /// False once the lister stopped (the receiver is gone).
    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }
}

/// One listing within [`LIST_DEADLINE`], reusing the connection of the last one that worked;
/// after a failure the next listing connects again (the engine may have restarted).
async fn list(socket: &Path, engine: &mut Option<Engine>) -> Result<ContainerList, String> {
    let attempt = async {
        let connected = match engine.take() {
            Some(e) => e,
            None => Engine::connect(Some(socket)).await?,
        };
        let listed = connected.containers().await?;
        *engine = Some(connected);
        Ok::<_, EngineError>(listed)
    };
    match tokio::time::timeout(LIST_DEADLINE, attempt).await {
        Ok(Ok(list)) => Ok(list),
        Ok(Err(e)) => Err(failure(socket, &e)),
        Err(_) => Err(format!(
            "container engine at {}: did not list its containers within {} s",
            sanitize(&socket.display().to_string()),
            LIST_DEADLINE.as_secs()
        )),
    }
}

/// Every failure as one sentence that names the engine: the API's errors already do.
fn failure(socket: &Path, e: &EngineError) -> String {
    match e {
        EngineError::Timeout { .. } | EngineError::Api { .. } => e.to_string(),
        _ => format!(
            "container engine at {}: {e}",
            sanitize(&socket.display().to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use tokio::sync::mpsc;

    #[tokio::test(flavor = "current_thread")]
    async fn a_missing_socket_is_a_failure_that_names_the_engine_and_listing_goes_on() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join("docker.sock");
        let (tx, mut rx) = mpsc::channel(4);
        let lister =
            ContainerLister::spawn(socket.clone(), Duration::from_millis(50), Outbox::new(tx))
                .expect("spawn");
        for _ in 0..2 {
            let listing: Listing = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .ok()
                .flatten()
                .expect("a listing");
            let why = listing.outcome.expect_err("no engine there");
            assert!(
                why.starts_with(&format!("container engine at {}: ", socket.display())),
                "{why}"
            );
            assert!(listing.at > 0);
        }
        assert!(lister.is_running());
        drop(rx);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!lister.is_running(), "a closed channel ends it");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_engine_that_never_answers_fails_within_the_call_timeout() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join("mute.sock");
        // Accepts connections (the kernel's backlog does) but never answers.
        let _listener = UnixListener::bind(&socket).expect("bind");
        let started = std::time::Instant::now();
        let why = list(&socket, &mut None).await.expect_err("no answer");
        assert!(why.contains("did not answer within 3 s"), "{why}");
        assert!(started.elapsed() < CALL_TIMEOUT * 2);
    }
}

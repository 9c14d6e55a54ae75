//! Services' `status` commands, run periodically so the Host pane shows whether each is running.

use std::io;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Exit, ServiceSpec, exec};
use crate::outbox::Outbox;
use crate::periodic::{Periodic, Round};

/// Each check is a process (`systemctl is-active`, `pgrep`: about 4 ms of CPU): every 10 s that
/// alone would cost an idle dashboard more than htop's whole footprint. Actions and `r` check at
/// once anyway.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(30);
/// A status command is a quick question; one that hangs must not hold up the next round.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// Status output kept as evidence: the first lines say it all (`systemctl status` prints dozens).
const DETAIL_LINES: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// The status command exited 0.
    Running,
    /// It exited non-zero (`systemctl is-active` says inactive/failed this way).
    Stopped,
    /// It could not tell: no status command, not started, timed out.
    Unknown,
}

impl ServiceState {
    pub fn name(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Stopped => "stopped",
            ServiceState::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceStatus {
    #[serde(skip)]
    pub service: usize,
    pub name: String,
    #[serde(rename = "status")]
    pub state: ServiceState,
    /// The command's first output line, or how it ended.
    pub detail: String,
    pub command: Option<String>,
    #[serde(skip)]
    pub at: SystemTime,
}

/// Runs the status command of `spec` once.
pub fn check(index: usize, spec: &ServiceSpec, stop: &AtomicBool) -> ServiceStatus {
    let mut status = ServiceStatus {
        service: index,
        name: spec.name.clone(),
        state: ServiceState::Unknown,
        detail: "no status command".into(),
        command: spec.status.as_ref().map(|a| a.to_string()),
        at: SystemTime::now(),
    };
    let Some(argv) = &spec.status else {
        return status;
    };
    let mut first = Vec::new();
    let (exit, _) = exec::run(argv, STATUS_TIMEOUT.min(spec.timeout), stop, &mut |lines| {
        let room = DETAIL_LINES.saturating_sub(first.len());
        first.extend(
            lines
                .into_iter()
                .filter(|l| !l.trim().is_empty())
                .take(room),
        );
    });
    let said = first
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" / ");
    (status.state, status.detail) = match &exit {
        Exit::Code(0) if said.is_empty() => (ServiceState::Running, exit.to_string()),
        Exit::Code(0) => (ServiceState::Running, said),
        Exit::Code(_) | Exit::Signal(_) if said.is_empty() => {
            (ServiceState::Stopped, exit.to_string())
        }
        Exit::Code(_) | Exit::Signal(_) => (ServiceState::Stopped, format!("{said} ({exit})")),
        _ => (ServiceState::Unknown, exit.to_string()),
    };
    status.at = SystemTime::now();
    status
}

/// Every service's status at once (for `check`), each on its own thread.
pub fn check_all(specs: &[ServiceSpec]) -> Vec<ServiceStatus> {
    let stop = &AtomicBool::new(false);
    std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| s.spawn(move || check(i, spec, stop)))
            .collect();
        handles
            .into_iter()
            .zip(specs)
            .enumerate()
            .map(|(i, (h, spec))| {
                h.join().unwrap_or_else(|_| ServiceStatus {
                    service: i,
                    name: spec.name.clone(),
                    state: ServiceState::Unknown,
                    detail: "status check panicked".into(),
                    command: None,
                    at: SystemTime::now(),
                })
            })
            .collect()
    })
}

/// Polls every service's status on its own thread, every [`STATUS_INTERVAL`] and on request.
pub struct StatusPoller(Periodic);

impl StatusPoller {
    /// Checks every service now, then every [`STATUS_INTERVAL`], each status sent as soon as it
    /// is known; ends when the receiver is gone or the poller drops.
    pub fn spawn(
        services: Vec<ServiceSpec>,
        outbox: Outbox<ServiceStatus>,
    ) -> io::Result<StatusPoller> {
        let what = "service status";
        let periodic =
            Periodic::spawn("gatewatch-services", what, STATUS_INTERVAL, outbox, || {
                move |round: &Round<'_, ServiceStatus>| {
                    let mut specs = services.iter().enumerate();
                    specs.all(|(i, spec)| round.deliver(check(i, spec, round.stop)))
                }
            })?;
        Ok(StatusPoller(periodic))
    }

    /// Checks every service now (coalesced with any check already asked for).
    pub fn rerun(&self) {
        self.0.rerun();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Argv;
    use crate::outbox::recv_within;
    use crate::worker::STOP_GRACE;
    use std::time::Instant;
    use tokio::sync::mpsc;

    fn service(name: &str, script: &str) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            status: Some(Argv(vec!["sh".into(), "-c".into(), script.into()])),
            test: None,
            reload: None,
            restart: None,
            timeout: Duration::from_secs(10),
            origin: "test".into(),
        }
    }

    #[test]
    fn checks_every_service_at_once_and_again_on_rerun() {
        let (tx, mut rx) = mpsc::channel::<ServiceStatus>(1);
        let services = vec![service("up", "echo active"), service("down", "exit 3")];
        let poller = StatusPoller::spawn(services, Outbox::new(tx)).unwrap();
        let wait = Duration::from_secs(5);
        for _ in 0..2 {
            let up = recv_within(&mut rx, wait).unwrap();
            assert_eq!((up.name.as_str(), up.state), ("up", ServiceState::Running));
            assert_eq!(up.detail, "active");
            let down = recv_within(&mut rx, wait).unwrap();
            assert_eq!(
                (down.name.as_str(), down.state),
                ("down", ServiceState::Stopped)
            );
            poller.rerun();
        }
    }

    #[test]
    fn dropping_the_poller_kills_a_hanging_status_command() {
        let (tx, mut rx) = mpsc::channel::<ServiceStatus>(1);
        let poller =
            StatusPoller::spawn(vec![service("hung", "sleep 30")], Outbox::new(tx)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let dropped = Instant::now();
        drop(poller);
        assert!(dropped.elapsed() < STOP_GRACE + Duration::from_millis(300));
        // The command is killed on the stop, and the status it leaves is not sent.
        assert!(recv_within(&mut rx, Duration::from_secs(2)).is_none());
        assert!(rx.is_closed(), "the poller's thread outlived it");
    }
}

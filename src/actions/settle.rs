//! A service's status, checked again right after a reload or restart, and a few times more
//! while it comes up, instead of at the poller's next round (up to
//! [`super::STATUS_INTERVAL`] away): the Host pane kept "✖ stopped" that long after a restart
//! that worked, because the one check made at once ran before the service was up (systemd's
//! "activating", a pid file written late).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::runner::{ActionEvent, ActionResult, Request};
use super::status::{self, ServiceState};
use super::{ServiceSpec, Target};

/// The waits before each check: at once, then after 0.5, 1.5, 3.5 and 7.5 s in all.
pub const CHECKS: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How following a service's status ended.
#[derive(Debug)]
pub enum Settled {
    /// It runs, or the checks ran out.
    Done,
    /// A new action was asked for meanwhile: it comes first.
    Interrupted(Request),
    /// The runner is stopping, or nobody receives the statuses any more.
    Stop,
}

/// The service to follow after `request` ended with `result`: one with a status command that a
/// reload or restart was run on (whatever its exit: a failed restart changes the status too),
/// with its index. Containers are followed by the container lister, which the dashboard reruns
/// after every action.
pub fn to_follow<'a>(
    targets: &'a [Target],
    request: Request,
    result: &ActionResult,
) -> Option<(usize, &'a ServiceSpec)> {
    let ran = matches!(result.outcome, super::Outcome::Ran(_));
    if !ran || !request.verb.changes_service() {
        return None;
    }
    // Services come first among the targets, so a service's index is its index here.
    match targets.get(request.service)? {
        Target::Service(spec) if spec.status.is_some() => Some((request.service, spec)),
        _ => None,
    }
}

/// Checks `spec` (service number `index`) at once and again after each of [`CHECKS`] until it
/// runs, handing each status to `deliver`. A request that arrives meanwhile ends it.
pub fn follow(
    index: usize,
    spec: &ServiceSpec,
    requests: &Receiver<Request>,
    stop: &AtomicBool,
    deliver: &mut dyn FnMut(ActionEvent) -> bool,
) -> Settled {
    for wait in CHECKS {
        if !wait.is_zero() {
            match requests.recv_timeout(wait) {
                Ok(request) => return Settled::Interrupted(request),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Settled::Stop,
            }
        }
        if stop.load(Ordering::Acquire) {
            return Settled::Stop;
        }
        let status = status::check(index, spec, stop);
        let running = status.state == ServiceState::Running;
        if !deliver(ActionEvent::Status(Box::new(status))) {
            return Settled::Stop;
        }
        if running {
            return Settled::Done;
        }
    }
    Settled::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{ActionRunner, RunnerOptions, Verb};
    use crate::config::Argv;
    use crate::outbox::{Outbox, recv_within};
    use std::path::Path;
    use std::time::Instant;

    fn argv(parts: &[&str]) -> Argv {
        Argv(parts.iter().map(|p| p.to_string()).collect())
    }

    /// Like the demo's app: `restart` only leaves a flag; `status` says whether it is up.
    fn service(dir: &Path) -> ServiceSpec {
        ServiceSpec {
            name: "inventory".into(),
            status: Some(argv(&["test", "-e", &dir.join("up").to_string_lossy()])),
            test: None,
            reload: None,
            restart: Some(argv(&["touch", &dir.join("restart").to_string_lossy()])),
            timeout: Duration::from_secs(5),
            origin: "test".into(),
        }
    }

    /// The service comes up `delay` after the restart flag appears, after the restart command
    /// has ended.
    fn comes_up(dir: &Path, delay: Duration) -> std::thread::JoinHandle<()> {
        let (flag, up) = (dir.join("restart"), dir.join("up"));
        std::thread::spawn(move || {
            let given_up = Instant::now() + Duration::from_secs(10);
            while !flag.exists() && Instant::now() < given_up {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(delay);
            std::fs::write(&up, "").unwrap();
        })
    }

    #[test]
    fn a_restarted_service_is_seen_running_within_seconds_not_at_the_next_poll() {
        let dir = tempfile::tempdir().unwrap();
        let spec = service(dir.path());
        let app = comes_up(dir.path(), Duration::from_millis(700));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ActionEvent>(16);
        let runner = ActionRunner::spawn(
            [Target::Service(spec)],
            RunnerOptions::default(),
            Outbox::new(tx),
        )
        .unwrap();
        runner
            .submit(Request {
                id: 1,
                service: 0,
                verb: Verb::Restart,
            })
            .unwrap();
        let mut finished = None;
        let mut states = Vec::new();
        while let Some(event) = recv_within(&mut rx, Duration::from_secs(10)) {
            match event {
                ActionEvent::Finished(r) => {
                    assert!(r.success(), "{}", r.summary());
                    finished = Some(Instant::now());
                }
                ActionEvent::Status(s) => {
                    assert!(finished.is_some(), "a status before the action ended");
                    assert_eq!((s.service, s.name.as_str()), (0, "inventory"));
                    states.push(s.state);
                    if s.state == ServiceState::Running {
                        break;
                    }
                }
                _ => {}
            }
        }
        let finished = finished.expect("the action finished");
        // Checked at once (still down: it comes up 0.7 s after the restart command), then again
        // until it runs, well before the poller's next round.
        assert_eq!(states.first(), Some(&ServiceState::Stopped));
        assert_eq!(states.last(), Some(&ServiceState::Running));
        assert!(finished.elapsed() < Duration::from_secs(3));
        // Once it runs, no more checks.
        assert!(recv_within(&mut rx, Duration::from_millis(700)).is_none());
        app.join().unwrap();
    }

    #[test]
    fn a_new_request_is_not_held_up_by_the_follow_up_checks() {
        let dir = tempfile::tempdir().unwrap();
        // Never comes up: every follow-up check says stopped.
        let spec = service(dir.path());
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ActionEvent>(16);
        let runner = ActionRunner::spawn(
            [Target::Service(spec)],
            RunnerOptions::default(),
            Outbox::new(tx),
        )
        .unwrap();
        let restart = |id| Request {
            id,
            service: 0,
            verb: Verb::Restart,
        };
        runner.submit(restart(1)).unwrap();
        let mut first_status = None;
        while let Some(event) = recv_within(&mut rx, Duration::from_secs(5)) {
            if let ActionEvent::Status(_) = event {
                first_status = Some(Instant::now());
                break;
            }
        }
        let first_status = first_status.expect("a status after the action");
        runner.submit(restart(2)).unwrap();
        let mut second = None;
        while let Some(event) = recv_within(&mut rx, Duration::from_secs(5)) {
            if let ActionEvent::Finished(r) = event {
                second = Some(r.id);
                break;
            }
        }
        assert_eq!(second, Some(2));
        // Taken as soon as it came, not after the 7.5 s of follow-up checks.
        assert!(first_status.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn only_a_ran_reload_or_restart_of_a_service_with_a_status_command_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let spec = service(dir.path());
        let mut no_status = spec.clone();
        no_status.status = None;
        let targets = [Target::Service(spec), Target::Service(no_status)];
        let result = |verb, outcome| ActionResult {
            id: 1,
            service: "inventory".into(),
            verb,
            outcome,
            started: std::time::SystemTime::now(),
            elapsed: Duration::ZERO,
            audit_error: None,
        };
        let ran = || super::super::Outcome::Ran(super::super::Exit::Code(0));
        let request = |service, verb| Request {
            id: 1,
            service,
            verb,
        };
        for (service, verb, outcome, followed) in [
            (0, Verb::Restart, ran(), true),
            (0, Verb::Reload, ran(), true),
            (0, Verb::Status, ran(), false),
            (0, Verb::Test, ran(), false),
            (
                0,
                Verb::Restart,
                super::super::Outcome::Denied("ro".into()),
                false,
            ),
            (1, Verb::Restart, ran(), false),
            (7, Verb::Restart, ran(), false),
        ] {
            let r = result(verb, outcome);
            let got = to_follow(&targets, request(service, verb), &r).map(|(i, _)| i);
            assert_eq!(got.is_some(), followed, "{service} {verb}");
            if followed {
                assert_eq!(got, Some(service));
            }
        }
    }
}

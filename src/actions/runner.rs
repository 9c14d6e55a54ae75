//! The actions thread: runs the operator's confirmed requests one at a time, guard first, and
//! reports every step back as [`ActionEvent`]s.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use super::status::ServiceStatus;
use super::{AuditLog, AuditRecord, Exit, ServiceSpec, Verb, exec};
use crate::config::Argv;
use crate::outbox::Outbox;
use crate::worker::Worker;

/// One confirmed action: `verb` on `services[service]`. `id` ties its events together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: u64,
    pub service: usize,
    pub verb: Verb,
}

#[derive(Debug)]
pub enum ActionEvent {
    /// A command of action `id` started: the guard test, then the action itself.
    Started {
        id: u64,
        command: String,
    },
    Output {
        id: u64,
        lines: Vec<String>,
    },
    Finished(Box<ActionResult>),
    Status(Box<ServiceStatus>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ran(Exit),
    /// The guard test failed, so the reload or restart was not run.
    Refused {
        test: String,
        exit: Exit,
    },
    /// Not run at all (read-only mode, no such command).
    Denied(String),
}

#[derive(Clone, Debug)]
pub struct ActionResult {
    pub id: u64,
    pub service: String,
    pub verb: Verb,
    pub outcome: Outcome,
    pub started: SystemTime,
    pub elapsed: Duration,
    /// The audit line could not be written (the action itself ran).
    pub audit_error: Option<String>,
}

impl ActionResult {
    pub fn success(&self) -> bool {
        matches!(&self.outcome, Outcome::Ran(exit) if exit.success())
    }

    /// `restart web: exit 0 in 1.2 s`.
    pub fn summary(&self) -> String {
        format!("{} {}: {}", self.verb, self.service, self.outcome_text())
    }

    /// The summary without the action's name: `exit 0 in 1.2 s`.
    pub fn outcome_text(&self) -> String {
        let took = format!("{:.1} s", self.elapsed.as_secs_f64());
        match &self.outcome {
            Outcome::Ran(exit) => format!("{exit} in {took}"),
            Outcome::Refused { test, exit } => format!("refused, `{test}` failed ({exit})"),
            Outcome::Denied(why) => format!("not run: {why}"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct RunnerOptions {
    /// Refuse everything but `status` (the UI greys actions out too; this is the backstop).
    pub read_only: bool,
    pub audit: Option<AuditLog>,
    pub user: String,
}

pub struct ActionRunner {
    /// Capacity 1: one action waits behind the running one at most, never a queue of restarts.
    requests: Option<SyncSender<Request>>,
    worker: Worker,
}

impl ActionRunner {
    pub fn spawn(
        services: Vec<ServiceSpec>,
        options: RunnerOptions,
        outbox: Outbox<ActionEvent>,
    ) -> io::Result<ActionRunner> {
        let (tx, rx) = mpsc::sync_channel::<Request>(1);
        let worker = Worker::spawn("gatewatch-actions", "actions runner", move |stop| {
            let mut deliver = |event| outbox.blocking_send(event).is_ok();
            while let Ok(request) = rx.recv() {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let result = perform(&services, &options, request, &stop, &mut deliver);
                if !deliver(ActionEvent::Finished(Box::new(result))) {
                    return;
                }
            }
        })?;
        Ok(ActionRunner {
            requests: Some(tx),
            worker,
        })
    }

    /// Queues `request`; refused while another action is already waiting.
    pub fn submit(&self, request: Request) -> Result<(), String> {
        let Some(tx) = &self.requests else {
            return Err("the actions runner has stopped".into());
        };
        match tx.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err("another action is already waiting".into()),
            Err(TrySendError::Disconnected(_)) => Err("the actions runner has stopped".into()),
        }
    }
}

impl Drop for ActionRunner {
    fn drop(&mut self) {
        // Closing the queue wakes the idle thread; a running command sees the stop flag.
        self.requests = None;
        self.worker.stop();
    }
}

/// Runs one request to completion (guard, then the command), auditing every command run.
pub fn perform(
    services: &[ServiceSpec],
    options: &RunnerOptions,
    request: Request,
    stop: &AtomicBool,
    deliver: &mut dyn FnMut(ActionEvent) -> bool,
) -> ActionResult {
    let started = SystemTime::now();
    let clock = std::time::Instant::now();
    let Some(spec) = services.get(request.service) else {
        let mut r = result(
            request,
            "?",
            Outcome::Denied("no such service".into()),
            started,
        );
        r.elapsed = clock.elapsed();
        return r;
    };
    let finish = |outcome, audit_error| ActionResult {
        audit_error,
        elapsed: clock.elapsed(),
        ..result(request, &spec.name, outcome, started)
    };
    if options.read_only && request.verb != Verb::Status {
        return finish(
            Outcome::Denied("gatewatch runs with --read-only".into()),
            None,
        );
    }
    let Some(argv) = spec.command(request.verb) else {
        let why = format!("no {} command is configured", request.verb);
        return finish(Outcome::Denied(why), None);
    };
    let mut audit_errors = Vec::new();
    if let Some(test) = spec.guard(request.verb) {
        let exit = noted(
            step(spec, options, request, Verb::Test, test, stop, deliver),
            &mut audit_errors,
        );
        if !exit.success() {
            let outcome = Outcome::Refused {
                test: test.to_string(),
                exit,
            };
            return finish(outcome, audit_errors.pop());
        }
    }
    let exit = noted(
        step(spec, options, request, request.verb, argv, stop, deliver),
        &mut audit_errors,
    );
    finish(Outcome::Ran(exit), audit_errors.pop())
}

fn noted(ran: Result<Exit, (Exit, String)>, audit_errors: &mut Vec<String>) -> Exit {
    ran.unwrap_or_else(|(exit, why)| {
        audit_errors.push(why);
        exit
    })
}

fn result(request: Request, service: &str, outcome: Outcome, started: SystemTime) -> ActionResult {
    ActionResult {
        id: request.id,
        service: service.to_owned(),
        verb: request.verb,
        outcome,
        started,
        elapsed: Duration::ZERO,
        audit_error: None,
    }
}

/// Runs one command of an action. `Err` carries the exit too, with the audit write's failure.
#[allow(clippy::too_many_arguments)]
fn step(
    spec: &ServiceSpec,
    options: &RunnerOptions,
    request: Request,
    step: Verb,
    argv: &Argv,
    stop: &AtomicBool,
    deliver: &mut dyn FnMut(ActionEvent) -> bool,
) -> Result<Exit, (Exit, String)> {
    let command = crate::sanitize::sanitize(&argv.to_string()).into_owned();
    deliver(ActionEvent::Started {
        id: request.id,
        command,
    });
    let at = SystemTime::now();
    let (exit, elapsed) = exec::run(argv, spec.timeout, stop, &mut |lines| {
        deliver(ActionEvent::Output {
            id: request.id,
            lines,
        });
    });
    let Some(audit) = &options.audit else {
        return Ok(exit);
    };
    let record = AuditRecord::new(
        at,
        &options.user,
        &spec.name,
        request.verb,
        step,
        &argv.0,
        &exit,
        elapsed,
    );
    match audit.append(&record) {
        Ok(()) => Ok(exit),
        Err(e) => {
            tracing::warn!(path = %audit.path().display(), "cannot write the audit trail: {e}");
            let why = format!("audit trail {}: {e}", audit.path().display());
            Err((exit, why))
        }
    }
}

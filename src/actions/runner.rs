//! The actions thread: runs the operator's confirmed requests one at a time, guard first, and
//! reports every step back as [`ActionEvent`]s.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use super::containers::{self, ContainerCommand};
use super::settle;
use super::status::ServiceStatus;
use super::{AuditLog, AuditRecord, ContainerSpec, Exit, Target, Verb, exec};
use crate::config::Argv;
use crate::outbox::Outbox;
use crate::worker::Worker;

/// One confirmed action: `verb` on `targets[service]` (the host's services come first, so a
/// service's index is the same in both lists). `id` ties its events together.
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
        targets: impl IntoIterator<Item = impl Into<Target>>,
        options: RunnerOptions,
        outbox: Outbox<ActionEvent>,
    ) -> io::Result<ActionRunner> {
        let services: Vec<Target> = targets.into_iter().map(Into::into).collect();
        let (tx, rx) = mpsc::sync_channel::<Request>(1);
        let worker = Worker::spawn("gatewatch-actions", "actions runner", move |stop| {
            let mut deliver = |event| outbox.blocking_send(event).is_ok();
            // A request that arrived while a service's status was being followed.
            let mut waiting = None;
            while let Some(request) = waiting.take().or_else(|| rx.recv().ok()) {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let result = perform(&services, &options, request, &stop, &mut deliver);
                let follow = settle::to_follow(&services, request, &result);
                if !deliver(ActionEvent::Finished(Box::new(result))) {
                    return;
                }
                let Some((index, spec)) = follow else {
                    continue;
                };
                match settle::follow(index, spec, &rx, &stop, &mut deliver) {
                    settle::Settled::Done => {}
                    settle::Settled::Interrupted(next) => waiting = Some(next),
                    settle::Settled::Stop => return,
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
    targets: &[Target],
    options: &RunnerOptions,
    request: Request,
    stop: &AtomicBool,
    deliver: &mut dyn FnMut(ActionEvent) -> bool,
) -> ActionResult {
    let started = SystemTime::now();
    let clock = std::time::Instant::now();
    let Some(target) = targets.get(request.service) else {
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
        ..result(request, target.name(), outcome, started)
    };
    if options.read_only && request.verb != Verb::Status {
        return finish(
            Outcome::Denied("gatewatch runs with --read-only".into()),
            None,
        );
    }
    let steps = match target {
        Target::Service(spec) => spec
            .command(request.verb)
            .map(|argv| (spec.guard(request.verb).map(Step::Host), Step::Host(argv))),
        Target::Container(spec) => spec.command(request.verb).map(|command| {
            let guard = spec.guard(request.verb).map(|t| Step::Container(spec, t));
            (guard, Step::Container(spec, command))
        }),
    };
    let Some((guard, action)) = steps else {
        let why = format!("no {} command is configured", request.verb);
        return finish(Outcome::Denied(why), None);
    };
    let mut audit_errors = Vec::new();
    let mut run = |verb, what: &Step<'_>| step(target, options, request, verb, what, stop, deliver);
    if let Some(test) = guard {
        let exit = noted(run(Verb::Test, &test), &mut audit_errors);
        if !exit.success() {
            let outcome = Outcome::Refused {
                test: test.shown(),
                exit,
            };
            return finish(outcome, audit_errors.pop());
        }
    }
    let exit = noted(run(request.verb, &action), &mut audit_errors);
    finish(Outcome::Ran(exit), audit_errors.pop())
}

/// One command of an action: an argv on this host, or a command in or on a container.
enum Step<'a> {
    Host(&'a Argv),
    Container(&'a ContainerSpec, &'a ContainerCommand),
}

impl Step<'_> {
    /// The command as the output view and a refusal show it.
    fn shown(&self) -> String {
        match self {
            Step::Host(argv) => crate::sanitize::sanitize(&argv.to_string()).into_owned(),
            Step::Container(spec, command) => command.describe(&spec.container),
        }
    }
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
    target: &Target,
    options: &RunnerOptions,
    request: Request,
    step: Verb,
    what: &Step<'_>,
    stop: &AtomicBool,
    deliver: &mut dyn FnMut(ActionEvent) -> bool,
) -> Result<Exit, (Exit, String)> {
    deliver(ActionEvent::Started {
        id: request.id,
        command: what.shown(),
    });
    let at = SystemTime::now();
    let clock = std::time::Instant::now();
    let mut on_lines = |lines| {
        deliver(ActionEvent::Output {
            id: request.id,
            lines,
        });
    };
    let exit = match what {
        Step::Host(argv) => exec::run(argv, target.timeout(), stop, &mut on_lines).0,
        Step::Container(spec, command) => containers::run(spec, command, stop, &mut on_lines),
    };
    let elapsed = clock.elapsed();
    let Some(audit) = &options.audit else {
        return Ok(exit);
    };
    let argv: &[String] = match what {
        Step::Host(argv) => &argv.0,
        Step::Container(_, command) => command.argv().map_or(&[], |a| &a.0),
    };
    let mut record = AuditRecord::new(
        at,
        &options.user,
        target.name(),
        request.verb,
        step,
        argv,
        &exit,
        elapsed,
    );
    if let Step::Container(spec, command) = what {
        record = record.in_container(spec.audit_name(), command.engine_call());
    }
    match audit.append(&record) {
        Ok(()) => Ok(exit),
        Err(e) => {
            tracing::warn!(path = %audit.path().display(), "cannot write the audit trail: {e}");
            let why = format!("audit trail {}: {e}", audit.path().display());
            Err((exit, why))
        }
    }
}

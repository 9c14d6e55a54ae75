//! What the dashboard knows about service actions: the menu, the confirm dialog, the running
//! action's output, this session's history and each service's polled status.

use std::collections::VecDeque;
use std::time::SystemTime;

use crate::actions::{ActionResult, Request, ServiceSpec, Target, Verb};

/// Output lines kept for the output view (the current or last action).
pub const OUTPUT_LINES: usize = 2000;
/// Finished actions kept for the history.
pub const HISTORY: usize = 50;

/// `14:02:11` in `tz`.
pub fn clock_time(at: SystemTime, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M:%S").to_string())
        .unwrap_or_else(|_| "--:--:--".into())
}

/// One line of the actions menu: a service and something it can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenuItem {
    pub service: usize,
    pub verb: Verb,
    /// The command line exactly as it will run (sanitised for display).
    pub command: String,
    /// The test run first, for a reload or restart.
    pub guard: Option<String>,
    /// "30s": how long the command may run before it is killed.
    pub timeout_label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirm {
    pub item: usize,
    /// The highlighted button; Cancel until the operator moves to Run.
    pub run_selected: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Running {
    pub id: u64,
    pub label: String,
    pub started: SystemTime,
}

#[derive(Debug, Default)]
pub struct ActionsView {
    pub names: Vec<String>,
    /// Shown beside a target's name instead of a polled status (a container's).
    pub notes: Vec<Option<String>>,
    pub items: Vec<MenuItem>,
    pub read_only: bool,
    /// Why: `--read-only`, or why the audit trail cannot be written.
    pub read_only_why: String,
    pub output: VecDeque<String>,
    /// Lines dropped from the front of `output` because it was full.
    pub output_dropped: u64,
    pub running: Option<Running>,
    /// The action whose output is shown, while running and after.
    pub shown: Option<String>,
    pub history: VecDeque<ActionResult>,
    next_id: u64,
}

impl ActionsView {
    pub fn new(services: &[ServiceSpec], read_only: bool) -> Self {
        let targets: Vec<Target> = services.iter().cloned().map(Target::Service).collect();
        Self::for_targets(&targets, read_only)
    }

    /// The menu of every target, in the runner's order (services first, then containers).
    pub fn for_targets(targets: &[Target], read_only: bool) -> Self {
        let items = targets
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                let timeout_label = humantime::format_duration(t.timeout()).to_string();
                t.verbs().into_iter().map(move |(verb, command)| MenuItem {
                    service: i,
                    verb,
                    command,
                    guard: t.describe_guard(verb),
                    timeout_label: timeout_label.clone(),
                })
            })
            .collect();
        ActionsView {
            names: targets
                .iter()
                .map(|t| crate::sanitize::sanitize(t.name()).into_owned())
                .collect(),
            notes: targets.iter().map(Target::note).collect(),
            items,
            read_only,
            read_only_why: "--read-only".into(),
            ..ActionsView::default()
        }
    }

    pub fn name(&self, service: usize) -> &str {
        self.names.get(service).map_or("?", String::as_str)
    }

    /// Starts the confirmed item: returns the request for the runner.
    pub fn start(&mut self, item: usize, now: SystemTime) -> Option<Request> {
        let it = self.items.get(item)?;
        self.next_id += 1;
        let label = format!("{} {}", it.verb, self.name(it.service));
        self.running = Some(Running {
            id: self.next_id,
            label: label.clone(),
            started: now,
        });
        self.shown = Some(label);
        self.output.clear();
        self.output_dropped = 0;
        Some(Request {
            id: self.next_id,
            service: it.service,
            verb: it.verb,
        })
    }

    fn is_current(&self, id: u64) -> bool {
        self.running.as_ref().is_some_and(|r| r.id == id)
    }

    /// How many lines were added; `None` for a stale action's output.
    pub fn push_output(
        &mut self,
        id: u64,
        lines: impl IntoIterator<Item = String>,
    ) -> Option<usize> {
        if !self.is_current(id) {
            return None;
        }
        let mut added = 0;
        for line in lines {
            if self.output.len() == OUTPUT_LINES {
                self.output.pop_front();
                self.output_dropped += 1;
            }
            self.output.push_back(line);
            added += 1;
        }
        Some(added)
    }

    pub fn finish(&mut self, result: ActionResult) -> bool {
        if !self.is_current(result.id) {
            return false;
        }
        self.running = None;
        if let Some(why) = &result.audit_error {
            self.output.push_back(format!("(not audited: {why})"));
        }
        self.output.push_back(format!("── {}", result.summary()));
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(result);
        true
    }

    /// This session's actions, oldest first: `14:02:11 restart web: exit 0 in 1.2 s`.
    pub fn history_lines(&self, tz: &jiff::tz::TimeZone) -> Vec<String> {
        self.history
            .iter()
            .map(|r| format!("{} {}", clock_time(r.started, tz), r.summary()))
            .collect()
    }
}

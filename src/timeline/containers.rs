//! Container lifecycle events on the timeline: what the container engine's API recorded (start,
//! stop, exit with its code, OOM kill, restart, health), polled each round from where the last
//! poll stopped.
//!
//! One event's text names its container and short id, "container app: exited with code 137
//! (4f2a9c0d1e3b)", so the story can tell a restart (same id) from a recreation (a new one).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Event, EventKind};
use crate::containers::{ContainerAction, ContainerEvent, Engine, MAX_EVENTS};
use crate::sanitize::sanitize;

/// Characters of a container id the text keeps (what `docker ps` shows).
const SHORT_ID: usize = 12;

/// The timeline event for one engine event, read from `source` (the engine's socket).
pub fn event_of(e: &ContainerEvent, source: &str) -> Event {
    let kind = match e.action {
        ContainerAction::Start | ContainerAction::Restart => EventKind::ContainerStart,
        ContainerAction::Stop | ContainerAction::Die { .. } => EventKind::ContainerExit,
        ContainerAction::Oom => EventKind::OomKill,
        ContainerAction::Health(_) => EventKind::ContainerHealth,
    };
    let id: String = e.id.chars().take(SHORT_ID).collect();
    let text = format!("container {}: {} ({id})", e.container, what(&e.action));
    Event::new(e.at, kind, source, &text)
}

/// The action as the end of "container app: ...".
fn what(action: &ContainerAction) -> String {
    match action {
        ContainerAction::Start => "started".into(),
        ContainerAction::Restart => "restarted".into(),
        ContainerAction::Stop => "stopped".into(),
        ContainerAction::Die {
            exit_code: Some(code),
        } => format!("exited with code {code}"),
        ContainerAction::Die { exit_code: None } => "exited".into(),
        ContainerAction::Oom => OOM_WHAT.into(),
        ContainerAction::Health(status) => format!("turned {status}"),
    }
}

const OOM_WHAT: &str = "a process was OOM-killed";

/// A container event's text taken apart again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Said<'a> {
    pub container: &'a str,
    pub id: &'a str,
    /// "exited with code 137".
    pub what: &'a str,
}

impl<'a> Said<'a> {
    /// The parts of an event [`event_of`] made; `None` for any other event (a kernel OOM kill).
    pub fn of(event: &'a Event) -> Option<Said<'a>> {
        if !matches!(
            event.kind,
            EventKind::ContainerStart
                | EventKind::ContainerExit
                | EventKind::ContainerHealth
                | EventKind::OomKill
        ) {
            return None;
        }
        let rest = event.text.strip_prefix("container ")?;
        let (rest, id) = rest.strip_suffix(')')?.rsplit_once(" (")?;
        let (container, what) = rest.split_once(": ")?;
        Some(Said {
            container,
            id,
            what,
        })
    }

    /// The action in a word or two, as a story lists them: "exit 137", "OOM kill", "start".
    pub fn brief(&self) -> String {
        match self.what {
            "started" => "start".into(),
            "restarted" => "restart".into(),
            "stopped" => "stop".into(),
            "exited" => "exit".into(),
            OOM_WHAT => "OOM kill".into(),
            other => match other.strip_prefix("exited with code ") {
                Some(code) => format!("exit {code}"),
                None => other.into(),
            },
        }
    }
}

/// How far apart a container's events may be and still be one change ("die, stop, start").
pub const EPISODE: i64 = 60;

/// What happened to the container of `latest` (an event of `events`), as the end of "1 s after
/// ...": its events up to `latest`, each within [`EPISODE`] of the next, told as one change:
/// "container app was recreated (exit 137, stop, start)". `None` for an event that is not a
/// container's.
pub fn episode(events: &[Event], latest: &Event) -> Option<String> {
    let last = Said::of(latest)?;
    let name = last.container;
    if latest.kind == EventKind::ContainerHealth {
        return Some(format!("container {name} {}", last.what));
    }
    let before = events
        .iter()
        .position(|e| std::ptr::eq(e, latest))
        .map_or(&[][..], |i| &events[..i]);
    let mut steps = vec![(latest.kind, last)];
    let mut t = latest.at;
    for e in before.iter().rev() {
        if t - e.at > EPISODE {
            break;
        }
        if let Some(said) = Said::of(e).filter(|s| s.container == name)
            && e.kind != EventKind::ContainerHealth
        {
            steps.push((e.kind, said));
            t = e.at;
        }
    }
    steps.reverse();
    let mut words: Vec<String> = Vec::new();
    for (_, said) in &steps {
        let word = said.brief();
        if words.last() != Some(&word) {
            words.push(word);
        }
    }
    let went_down = |k: &EventKind| matches!(k, EventKind::ContainerExit | EventKind::OomKill);
    let down = steps.iter().any(|(k, _)| went_down(k));
    let how = if words.len() > 1 {
        format!(" ({})", words.join(", "))
    } else {
        String::new()
    };
    let told = if latest.kind == EventKind::ContainerStart && down {
        let verb = if steps.iter().any(|(_, s)| s.id != last.id) {
            "recreated"
        } else {
            "restarted"
        };
        format!("container {name} was {verb}{how}")
    } else if latest.kind == EventKind::ContainerStart {
        format!("container {name} {}", last.what)
    } else if steps.iter().any(|(k, _)| *k == EventKind::OomKill) {
        format!("container {name} was OOM-killed{how}")
    } else if steps.iter().any(|(_, s)| s.what == "stopped") {
        format!("container {name} was stopped{how}")
    } else {
        format!("container {name} {}", last.what)
    };
    Some(told)
}

/// The collector's source of container events: a connection to the engine, and where the last
/// poll stopped.
pub struct ContainerFeed {
    socket: PathBuf,
    source: String,
    runtime: Option<tokio::runtime::Runtime>,
    engine: Option<Engine>,
    /// Where the next poll starts (unix seconds); `None` before the first.
    next_since: Option<i64>,
    /// (time, id, text) of the events delivered at or after `next_since`: a poll starts at a
    /// whole second the last one already read part of.
    seen: HashSet<(i64, String, String)>,
}

impl ContainerFeed {
    pub fn new(socket: &Path) -> ContainerFeed {
        ContainerFeed {
            socket: socket.to_path_buf(),
            source: sanitize(&socket.display().to_string()).into_owned(),
            runtime: None,
            engine: None,
            next_since: None,
            seen: HashSet::new(),
        }
    }

    /// The events the engine recorded since the last poll (from `oldest` at the first, and
    /// never from before it), up to the end of the second `now`; each once. The error is a
    /// sentence.
    ///
    /// The engine compares its events' nanoseconds with whole seconds: a poll up to `now` would
    /// leave out the events of `now`'s own second, which a single round (`check`) never reads
    /// again. So the poll waits for the next second to begin (under a second).
    pub fn poll(&mut self, oldest: i64, now: i64) -> Result<Vec<ContainerEvent>, String> {
        let since = self.since(oldest, now);
        let until = now + 1;
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("no async runtime for the container events: {e}"))?;
            self.runtime = Some(rt);
        }
        let Some(rt) = &self.runtime else {
            return Ok(Vec::new());
        };
        let polled = rt.block_on(async {
            let engine = match &self.engine {
                Some(engine) => engine.clone(),
                None => Engine::connect(Some(&self.socket)).await?,
            };
            let polled = engine.events_between(since, until).await;
            Ok::<_, crate::containers::EngineError>((engine, polled))
        });
        let polled = match polled {
            Ok((engine, Ok(polled))) => {
                self.engine = Some(engine);
                polled
            }
            Ok((_, Err(e))) | Err(e) => {
                // Connect again next time: the engine may have restarted.
                self.engine = None;
                return Err(sanitize(&e.to_string()).into_owned());
            }
        };
        Ok(self.take(polled, since, until))
    }

    /// Where this poll starts: where the last stopped, but not before `oldest` (a collector
    /// that was stopped for hours reads the span, not what came before it).
    fn since(&self, oldest: i64, now: i64) -> i64 {
        self.next_since.unwrap_or(oldest).max(oldest).min(now)
    }

    /// The events of a poll over `since..=until` not delivered before; moves the next poll on.
    /// A poll cut at [`MAX_EVENTS`] goes on from its last event's second, so the rest is read
    /// next time rather than skipped.
    fn take(&mut self, polled: Vec<ContainerEvent>, since: i64, until: i64) -> Vec<ContainerEvent> {
        let next = match polled.last() {
            Some(last) if polled.len() >= MAX_EVENTS => {
                // A second holding more than a poll's worth is left behind rather than read forever.
                if last.at <= since { since + 1 } else { last.at }
            }
            _ => until,
        };
        let mut fresh = Vec::new();
        for e in polled {
            if self.seen.insert(key(&e)) {
                fresh.push(e);
            }
        }
        self.seen.retain(|(at, _, _)| *at >= next);
        self.next_since = Some(next);
        fresh
    }

    /// The socket's path as an event's source.
    pub fn source(&self) -> &str {
        &self.source
    }
}

fn key(e: &ContainerEvent) -> (i64, String, String) {
    (e.at, e.id.clone(), what(&e.action))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const ID: &str = "4f2a9c0d1e3b5a6c7d8e9f00";

    fn ce(at: i64, name: &str, action: ContainerAction) -> ContainerEvent {
        ContainerEvent {
            at,
            container: name.into(),
            id: ID.into(),
            action,
        }
    }

    fn feed() -> ContainerFeed {
        ContainerFeed::new(Path::new("/run/docker.sock"))
    }

    #[test]
    fn each_action_has_its_kind_and_text_and_the_text_comes_apart_again() {
        let cases = [
            (
                ContainerAction::Start,
                EventKind::ContainerStart,
                "started",
                "start",
            ),
            (
                ContainerAction::Restart,
                EventKind::ContainerStart,
                "restarted",
                "restart",
            ),
            (
                ContainerAction::Stop,
                EventKind::ContainerExit,
                "stopped",
                "stop",
            ),
            (
                ContainerAction::Die {
                    exit_code: Some(137),
                },
                EventKind::ContainerExit,
                "exited with code 137",
                "exit 137",
            ),
            (
                ContainerAction::Die { exit_code: None },
                EventKind::ContainerExit,
                "exited",
                "exit",
            ),
            (
                ContainerAction::Oom,
                EventKind::OomKill,
                OOM_WHAT,
                "OOM kill",
            ),
            (
                ContainerAction::Health("unhealthy".into()),
                EventKind::ContainerHealth,
                "turned unhealthy",
                "turned unhealthy",
            ),
        ];
        for (action, kind, text, brief) in cases {
            let event = event_of(&ce(7, "app", action), "/run/docker.sock");
            assert_eq!(event.kind, kind);
            assert_eq!(event.text, format!("container app: {text} (4f2a9c0d1e3b)"));
            let said = Said::of(&event).unwrap();
            assert_eq!(
                (said.container, said.id, said.what),
                ("app", "4f2a9c0d1e3b", text)
            );
            assert_eq!(said.brief(), brief);
        }
        let kernel = Event::new(
            7,
            EventKind::OomKill,
            "kernel",
            "Killed process 12 (python3)",
        );
        assert_eq!(Said::of(&kernel), None);
    }

    #[test]
    fn overlapping_polls_deliver_each_event_once() {
        let mut f = feed();
        assert_eq!(
            f.since(1_000, 5_000),
            1_000,
            "the first poll reads the span"
        );
        let first = f.take(
            vec![
                ce(4_990, "app", ContainerAction::Die { exit_code: Some(1) }),
                ce(5_000, "app", ContainerAction::Start),
            ],
            1_000,
            5_000,
        );
        assert_eq!(first.len(), 2);
        assert_eq!(
            f.since(1_000, 5_005),
            5_000,
            "the next goes on from the last"
        );
        // The engine answers the boundary second again, and what came after it.
        let second = f.take(
            vec![
                ce(5_000, "app", ContainerAction::Start),
                ce(5_000, "app", ContainerAction::Health("healthy".into())),
                ce(5_004, "app", ContainerAction::Stop),
            ],
            5_000,
            5_005,
        );
        let actions: Vec<ContainerAction> = second.into_iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                ContainerAction::Health("healthy".into()),
                ContainerAction::Stop
            ]
        );
        // Only the boundary's keys are kept between polls.
        assert!(f.seen.iter().all(|(at, _, _)| *at >= 5_005), "{:?}", f.seen);
    }

    #[test]
    fn a_full_poll_goes_on_from_its_last_event_and_a_long_pause_reads_only_the_span() {
        let mut f = feed();
        let polled: Vec<ContainerEvent> = (0..MAX_EVENTS)
            .map(|i| {
                let at = 1_000 + i64::try_from(i / 100).unwrap();
                ce(at, "loop", ContainerAction::Start)
            })
            .collect();
        let last = polled.last().unwrap().at;
        // Several events of one second share a key: each key is delivered once.
        let fresh = f.take(polled, 1_000, 9_000);
        assert_eq!(fresh.len(), MAX_EVENTS / 100);
        assert_eq!(f.since(1_000, 9_000), last, "the rest is read next time");
        // A second with more than a poll's worth is not read forever.
        let mut g = feed();
        let stuck: Vec<ContainerEvent> = (0..MAX_EVENTS)
            .map(|_| ce(2_000, "loop", ContainerAction::Start))
            .collect();
        g.take(stuck, 2_000, 9_000);
        assert_eq!(g.since(0, 9_000), 2_001);
        // After a long pause the poll starts at the span, not where it stopped.
        assert_eq!(g.since(50_000, 60_000), 50_000);
    }
}

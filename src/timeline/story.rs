//! The timeline judged: the onset of the current failure, to the second, and the sentence that
//! ties it to what changed just before ("502s began 14:02:10, 12 s after nginx reloaded with a
//! changed /etc/nginx/conf.d/app.conf").

use std::sync::Arc;

use super::history::Minute;
use super::{Event, EventKind, Onset, OnsetState, onset};
use jiff::tz::TimeZone;

/// How long before the onset a change is still named as the one just before it.
pub const LOOKBACK: i64 = 15 * 60;
/// A change this long after the first failure of the onset's minute is still "before" it:
/// the two clocks (the proxy's log, the file's mtime) are read to the second.
pub const AFTER_SLACK: i64 = 2;
/// A reload names the config files changed this long before it ("reloaded with a changed ...").
pub const RELOAD_CHANGES: i64 = 10 * 60;

/// What every front end shows of the timeline.
#[derive(Clone, Debug)]
pub struct Judged {
    /// When the current failure began (`at` to the second where a log line says so).
    pub onset: Onset,
    /// Per minute over the span, oldest first, summed over every log: the sparkline. Minutes
    /// without a line are left out.
    pub minutes: Vec<(i64, Minute)>,
    /// Where the span starts (unix seconds): the sparkline's left end.
    pub from: i64,
    /// Oldest first, shared: an assessment is made often, the list changes rarely.
    pub events: Arc<[Event]>,
    /// When a scan budget stopped short of the span: the counts start here.
    pub covered_from: Option<i64>,
    /// "502s began 14:02:10, 12 s after nginx reloaded": `None` without a failure.
    pub story: Option<String>,
}

impl Default for Judged {
    fn default() -> Self {
        Judged {
            onset: onset(&[], 0),
            minutes: Vec::new(),
            from: 0,
            events: Arc::from(Vec::new()),
            covered_from: None,
            story: None,
        }
    }
}

/// Judges `minutes` (summed over the logs, any order) and `events` as of `now` (unix seconds);
/// times in the sentence are written in `tz`.
pub fn judge(
    minutes: Vec<(i64, Minute)>,
    events: Arc<[Event]>,
    covered_from: Option<i64>,
    (from, now): (i64, i64),
    tz: &TimeZone,
) -> Judged {
    let counts: Vec<(i64, u64)> = minutes.iter().map(|(t, m)| (*t, m.events)).collect();
    let mut found = onset(&counts, now);
    let minute = |at: i64| minutes.iter().find(|(t, _)| *t == at).map(|(_, m)| m);
    // The onset's minute, refined to its first failing second when a log line gave it.
    if let Some(at) = found.at
        && let Some(first) = minute(at).and_then(|m| m.first_event)
    {
        found.at = Some(first.max(at));
    }
    // A failure from the logs' first minute on began before them, unless that minute's lines
    // began before its first failure: the proxy was working until then (a fresh log).
    if found.at.is_none()
        && let Some(m) = found.first.and_then(minute)
        && let (Some(line), Some(event)) = (m.earliest, m.first_event)
        && line < event
    {
        found.at = Some(event);
    }
    let story = story(&found, &events, covered_from, now, tz);
    Judged {
        onset: found,
        minutes,
        from,
        events,
        covered_from,
        story,
    }
}

/// The sentence, or `None` when nothing is failing.
fn story(
    onset: &Onset,
    events: &[Event],
    covered_from: Option<i64>,
    now: i64,
    tz: &TimeZone,
) -> Option<String> {
    let verb = match onset.state {
        OnsetState::None => return None,
        OnsetState::Over => "502s came",
        OnsetState::Ongoing | OnsetState::Intermittent => "502s began",
    };
    let Some(at) = onset.at else {
        let since = covered_from.map_or_else(
            || "before the logs' oldest line read".to_owned(),
            |t| {
                format!(
                    "before {}, as far back as the logs were read",
                    clock(t, now, tz)
                )
            },
        );
        return Some(format!("{verb} {since}"));
    };
    let began = match onset.state {
        OnsetState::Over => format!(
            "502s came from {} to {}",
            clock(at, now, tz),
            clock(onset.last.map_or(at, |l| l + 59), now, tz)
        ),
        _ => format!("{verb} {}", clock(at, now, tz)),
    };
    let Some(change) = change_before(events, at) else {
        return Some(format!(
            "{began}; nothing the host recorded changed in the {} minutes before",
            LOOKBACK / 60
        ));
    };
    let gap = (at - change.at).max(0);
    let mut what = super::containers::episode(events, change).unwrap_or_else(|| phrase(change));
    if matches!(change.kind, EventKind::ProxyReload | EventKind::ProxyStart)
        && let Some(config) = events.iter().rev().find(|e| {
            e.kind == EventKind::ConfigChange
                && e.at <= change.at + AFTER_SLACK
                && change.at - e.at <= RELOAD_CHANGES
        })
    {
        what = format!("{what} with a changed {}", changed_path(config));
    }
    Some(format!("{began}, {} after {what}", seconds(gap)))
}

/// The latest change recorded at most [`LOOKBACK`] before `at` (or just after it, within
/// [`AFTER_SLACK`]). Upstream state changes seen by gatewatch are the failure itself, not
/// what caused it, and are left out. A config file saved within [`AFTER_SLACK`] of a reload
/// is that reload's change (the proxy logs whole seconds, a file's time is finer), so the
/// reload is named, with the file.
fn change_before(events: &[Event], at: i64) -> Option<&Event> {
    let mut candidates = events.iter().rev().filter(|e| {
        e.kind != EventKind::UpstreamChange && e.at <= at + AFTER_SLACK && at - e.at <= LOOKBACK
    });
    let latest = candidates.next()?;
    if latest.kind != EventKind::ConfigChange {
        return Some(latest);
    }
    let reload = candidates
        .take_while(|e| latest.at - e.at <= AFTER_SLACK)
        .find(|e| matches!(e.kind, EventKind::ProxyReload | EventKind::ProxyStart));
    Some(reload.unwrap_or(latest))
}

/// What the change was, as the end of "12 s after ...".
fn phrase(event: &Event) -> String {
    let proxy = event
        .text
        .split_once(": ")
        .map_or("the proxy", |(who, _)| who);
    match event.kind {
        EventKind::ProxyReload => format!("{proxy} reloaded"),
        EventKind::ProxyStart => format!("{proxy} started"),
        EventKind::ProxyStop => format!("{proxy} stopped"),
        EventKind::WorkerCrash => format!("a {proxy} worker crashed ({})", event.text),
        EventKind::ConfigChange => format!("{} changed", changed_path(event)),
        EventKind::OomKill => format!("an OOM kill ({})", event.text),
        EventKind::PackageChange => format!("a package change ({})", event.text),
        EventKind::ServiceRestart
        | EventKind::ServiceExit
        | EventKind::DnsChange
        | EventKind::UpstreamChange
        | EventKind::CertExpiry
        | EventKind::ContainerStart
        | EventKind::ContainerExit
        | EventKind::ContainerHealth => event.text.clone(),
    }
}

/// The file a config change names: its source, which is the path.
fn changed_path(event: &Event) -> &str {
    &event.source
}

/// "12 s", "3 min 05 s".
fn seconds(s: i64) -> String {
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// "14:02:10", with the date when it is not today in `tz`.
pub fn clock(at: i64, now: i64, tz: &TimeZone) -> String {
    let (Ok(at), Ok(now)) = (
        jiff::Timestamp::from_second(at),
        jiff::Timestamp::from_second(now),
    ) else {
        return at.to_string();
    };
    let (at, now) = (at.to_zoned(tz.clone()), now.to_zoned(tz.clone()));
    if at.date() == now.date() {
        at.strftime("%H:%M:%S").to_string()
    } else {
        at.strftime("%Y-%m-%d %H:%M:%S").to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// 2026-12-01 14:00:00 UTC.
    const M0: i64 = 1_796_133_600;

    fn quiet_then_failing(first_failure: i64) -> Vec<(i64, Minute)> {
        let mut minutes: Vec<(i64, Minute)> =
            (0..30).map(|i| (M0 + 60 * i, Minute::default())).collect();
        for i in 30..33 {
            let t = M0 + 60 * i;
            let m = Minute {
                events: 40,
                first_event: Some(if i == 30 { first_failure } else { t }),
                ..Minute::default()
            };
            minutes.push((t, m));
        }
        minutes
    }

    /// [`judge`] with times written in UTC.
    fn judge_utc(
        minutes: Vec<(i64, Minute)>,
        events: Arc<[Event]>,
        covered_from: Option<i64>,
        span: (i64, i64),
    ) -> Judged {
        judge(minutes, events, covered_from, span, &TimeZone::UTC)
    }

    fn events(list: &[(i64, EventKind, &str, &str)]) -> Arc<[Event]> {
        list.iter()
            .map(|(at, kind, source, text)| Event::new(*at, *kind, source, text))
            .collect()
    }

    #[test]
    fn the_onset_is_the_first_failing_second_and_names_the_reload_and_its_config() {
        let onset_at = M0 + 30 * 60 + 10;
        let events = events(&[
            (
                M0 + 20 * 60,
                EventKind::ConfigChange,
                "/etc/nginx/conf.d/old.conf",
                "modified",
            ),
            (
                onset_at - 40,
                EventKind::ConfigChange,
                "/etc/nginx/conf.d/app.conf",
                "modified",
            ),
            (
                onset_at - 12,
                EventKind::ProxyReload,
                "/var/log/nginx/error.log",
                "nginx: reconfiguring",
            ),
            (
                onset_at + 30,
                EventKind::UpstreamChange,
                "probe",
                "app: up -> down",
            ),
        ]);
        let now = M0 + 33 * 60 - 1;
        let judged = judge_utc(quiet_then_failing(onset_at), events, None, (M0 - 3600, now));
        assert_eq!(judged.onset.at, Some(onset_at));
        assert_eq!(judged.onset.state, OnsetState::Ongoing);
        assert_eq!(
            judged.story.as_deref(),
            Some(
                "502s began 14:30:10, 12 s after nginx reloaded with a changed \
                 /etc/nginx/conf.d/app.conf"
            )
        );
    }

    #[test]
    fn without_a_change_before_it_the_sentence_says_so_and_without_a_failure_there_is_none() {
        let onset_at = M0 + 30 * 60 + 5;
        let old = events(&[(
            M0,
            EventKind::PackageChange,
            "/var/log/dpkg.log",
            "upgrade nginx",
        )]);
        let now = M0 + 33 * 60 - 1;
        let judged = judge_utc(quiet_then_failing(onset_at), old, None, (M0, now));
        assert_eq!(
            judged.story.as_deref(),
            Some("502s began 14:30:05; nothing the host recorded changed in the 15 minutes before")
        );
        let quiet = vec![(M0, Minute::default())];
        let judged = judge(
            quiet,
            Arc::from(Vec::new()),
            None,
            (M0, now),
            &TimeZone::UTC,
        );
        assert_eq!(judged.onset.state, OnsetState::None);
        assert_eq!(judged.story, None);
    }

    #[test]
    fn a_file_saved_in_the_second_of_a_reload_is_that_reloads_change() {
        let onset_at = M0 + 30 * 60 + 10;
        let events = events(&[
            (
                onset_at - 3,
                EventKind::ProxyReload,
                "/var/log/nginx/error.log",
                "nginx: reconfiguring",
            ),
            (
                onset_at - 2,
                EventKind::ConfigChange,
                "/etc/nginx/conf.d/app.conf",
                "changed while watched",
            ),
        ]);
        let judged = judge_utc(
            quiet_then_failing(onset_at),
            events,
            None,
            (M0 - 3600, M0 + 33 * 60 - 1),
        );
        assert_eq!(
            judged.story.as_deref(),
            Some(
                "502s began 14:30:10, 3 s after nginx reloaded with a changed \
                 /etc/nginx/conf.d/app.conf"
            )
        );
    }

    #[test]
    fn a_fresh_log_that_worked_before_its_first_failure_knows_the_onset() {
        let first = Minute {
            events: 30,
            requests: 40,
            first_event: Some(M0 + 31),
            earliest: Some(M0 + 2),
            ..Minute::default()
        };
        let now = M0 + 50;
        let judged = judge(
            vec![(M0, first)],
            Arc::from(Vec::new()),
            None,
            (M0 - 3600, now),
            &TimeZone::UTC,
        );
        assert_eq!(judged.onset.at, Some(M0 + 31));
        assert_eq!(judged.onset.state, OnsetState::Ongoing);
        // Failing from its first line: it began before the log did.
        let failing = Minute {
            earliest: Some(M0 + 31),
            ..first
        };
        let judged = judge(
            vec![(M0, failing)],
            Arc::from(Vec::new()),
            None,
            (M0 - 3600, now),
            &TimeZone::UTC,
        );
        assert_eq!(judged.onset.at, None);
    }

    fn container(at: i64, id: &str, action: crate::containers::ContainerAction) -> Event {
        let e = crate::containers::ContainerEvent {
            at,
            container: "app".into(),
            id: id.into(),
            action,
        };
        super::super::containers::event_of(&e, "/run/docker.sock")
    }

    #[test]
    fn a_container_recreated_or_oom_killed_just_before_the_onset_is_the_change_named() {
        use crate::containers::ContainerAction::{Die, Oom, Start, Stop};
        let onset_at = M0 + 30 * 60 + 12;
        let (old, new) = ("aaaaaaaaaaaa1111", "bbbbbbbbbbbb2222");
        let recreated: Arc<[Event]> = Arc::from(vec![
            container(M0, old, Start),
            container(
                onset_at - 3,
                old,
                Die {
                    exit_code: Some(137),
                },
            ),
            container(onset_at - 2, old, Stop),
            container(onset_at - 1, new, Start),
        ]);
        let span = (M0 - 3600, M0 + 33 * 60 - 1);
        let judged = judge_utc(quiet_then_failing(onset_at), recreated, None, span);
        assert_eq!(
            judged.story.as_deref(),
            Some(
                "502s began 14:30:12, 1 s after container app was recreated (exit 137, stop, start)"
            )
        );
        let restarted: Arc<[Event]> = Arc::from(vec![
            container(onset_at - 2, old, Die { exit_code: Some(0) }),
            container(onset_at - 1, old, Start),
        ]);
        let judged = judge_utc(quiet_then_failing(onset_at), restarted, None, span);
        assert_eq!(
            judged.story.as_deref(),
            Some("502s began 14:30:12, 1 s after container app was restarted (exit 0, start)")
        );
        // Killed and still down; the start two minutes before is another change.
        let killed: Arc<[Event]> = Arc::from(vec![
            container(onset_at - 120, old, Start),
            container(onset_at - 5, old, Oom),
            container(
                onset_at - 5,
                old,
                Die {
                    exit_code: Some(137),
                },
            ),
        ]);
        let judged = judge_utc(quiet_then_failing(onset_at), killed, None, span);
        assert_eq!(
            judged.story.as_deref(),
            Some(
                "502s began 14:30:12, 5 s after container app was OOM-killed (OOM kill, exit 137)"
            )
        );
    }

    #[test]
    fn a_failure_older_than_what_was_read_says_so() {
        let minutes: Vec<(i64, Minute)> = (0..10)
            .map(|i| {
                let m = Minute {
                    events: 50,
                    ..Minute::default()
                };
                (M0 + 60 * i, m)
            })
            .collect();
        let judged = judge(
            minutes,
            Arc::from(Vec::new()),
            Some(M0),
            (M0, M0 + 599),
            &TimeZone::UTC,
        );
        assert_eq!(judged.onset.at, None);
        assert_eq!(
            judged.story.as_deref(),
            Some("502s began before 14:00:00, as far back as the logs were read")
        );
    }
}

//! The timeline view drawn from a model fed as the collectors feed it: a log's past with a
//! quiet baseline then a rise, and the events before it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::{App, Event};
use crate::logs::SourceSpec;
use crate::model::{Model, Watch};
use crate::theme::{self, ColorDepth};
use crate::timeline::collect::Round;
use crate::timeline::history::{History, Minute};
use crate::timeline::{Event as TimelineEvent, EventKind};
use crate::upstream::catalog::Catalog;

/// 2027-01-15 08:00:00 UTC, as the other snapshots.
const NOW: i64 = 1_800_000_000;

fn app() -> App {
    let clock = jiff::Timestamp::from_second(NOW)
        .expect("valid timestamp")
        .to_zoned(jiff::tz::TimeZone::UTC);
    let logs = [SourceSpec::file("/var/log/nginx/error.log", None)];
    let model = Model::new(&Watch {
        catalog: &Catalog::default(),
        names: vec![],
        logs: &logs,
        services: &[],
        gateway: None,
        span: crate::config::Timeline::default().span,
    });
    App::new(clock, (120, 40)).with_model(model)
}

/// Six hours of one 502 every few minutes, then 40 a minute for the last ten minutes, the first
/// at 07:50:07; a config change and a reload just before, a package change hours before.
fn round() -> Round {
    let rise = NOW - 10 * 60;
    let mut history = History::default();
    for minute in (0..360).map(|i| NOW - 6 * 3600 + 60 * i) {
        let m = if minute >= rise {
            Minute {
                events: 40,
                status_5xx: 40,
                requests: 200,
                first_event: Some(minute + if minute == rise { 7 } else { 0 }),
                earliest: Some(minute),
            }
        } else {
            Minute {
                events: u64::from(minute % 300 == 0),
                requests: 180,
                ..Minute::default()
            }
        };
        history.minutes.insert(minute, m);
    }
    let event = |at, kind, source: &str, text: &str| TimelineEvent::new(at, kind, source, text);
    Round {
        histories: vec![(0, history)],
        events: vec![
            event(
                NOW - 4 * 3600,
                EventKind::PackageChange,
                "/var/log/dpkg.log",
                "upgrade libssl3:amd64 3.0.15-1 -> 3.0.17-1",
            ),
            event(
                rise - 60,
                EventKind::ConfigChange,
                "/etc/nginx/conf.d/app.conf",
                "modified /etc/nginx/conf.d/app.conf",
            ),
            event(
                rise - 5,
                EventKind::ProxyReload,
                "/var/log/nginx/error.log",
                "nginx: reconfiguring",
            ),
        ],
        containers: vec![],
        problems: vec![],
    }
}

fn render(app: &mut App) -> Terminal<TestBackend> {
    app.settle();
    let theme = theme::load("default", None, ColorDepth::TrueColor).expect("embedded theme");
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    term.draw(|f| super::draw(f, app, &theme)).expect("draw");
    term
}

fn key(app: &mut App, c: char) {
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
}

#[test]
fn the_timeline_view_shows_the_onset_the_rise_and_the_events_before_it() {
    let mut a = app();
    a.update(Event::Timeline(Box::new(round())));
    key(&mut a, 't');
    let term = render(&mut a);
    let screen = term.backend().to_string();
    assert!(
        screen.contains("502s began 07:50:07, 12 s after nginx reloaded with a changed"),
        "{screen}"
    );
    insta::assert_snapshot!(term.backend());
    // One kind at a time: the first kind with none says so; cycling on reaches the reload.
    key(&mut a, 'f');
    let screen = render(&mut a).backend().to_string();
    assert!(screen.contains("Timeline: proxy_start"), "{screen}");
    assert!(screen.contains("No proxy_start events."), "{screen}");
    key(&mut a, 'f');
    let screen = render(&mut a).backend().to_string();
    assert!(screen.contains("nginx: reconfiguring"), "{screen}");
    assert!(!screen.contains("upgrade libssl3"), "{screen}");
    key(&mut a, 'q');
    assert!(a.modal_kind().is_none());
}

#[test]
fn the_verdict_says_when_it_began() {
    let mut a = app();
    a.update(Event::Timeline(Box::new(round())));
    a.settle();
    assert_eq!(
        a.judged.timeline.story.as_deref(),
        Some(
            "502s began 07:50:07, 12 s after nginx reloaded with a changed \
             /etc/nginx/conf.d/app.conf"
        )
    );
}

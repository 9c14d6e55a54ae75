//! The Host pane's containers beside the processes, at the sizes people use: a table with every
//! column where there is room, one line where there is not, and the unhealthy one marked.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tests::{app, clock, render};
use crate::app::{App, Event};
use crate::containers::{ContainerProxy, ProxyContainer};
use crate::diagnosis::NamedUpstream;
use crate::model::containers::{Containers, running};

/// `web` runs nginx proxying to `app`, `api` and `db`: `app` was recreated 3 minutes ago, `api`
/// is unhealthy after 4 restarts, and no container answers to `db`.
fn with_containers(size: (u16, u16)) -> App {
    let now = clock().timestamp().as_second();
    let mut web = running("web", "172.18.0.3", now - 3 * 3600 - 12 * 60);
    web.health = Some("healthy".into());
    let app_ = running("app", "172.18.0.5", now - 3 * 60);
    let mut api = running("api", "172.18.0.7", now - 50 * 60);
    api.health = Some("unhealthy".into());
    api.restart_count = 4;
    let proxy = ProxyContainer {
        name: "web".into(),
        kind: ContainerProxy::Nginx,
        pid: web.pid.unwrap_or(1),
        info: Some(web.clone()),
    };
    let named = ["app", "api", "db"]
        .map(|name| NamedUpstream {
            name: name.into(),
            port: 8000,
            proxy: "web".into(),
            resolves_at_runtime: false,
        })
        .to_vec();
    let mut a = app(size);
    a.model.containers = Containers::new(named, vec![api, app_, web], now)
        .with_proxies(std::slice::from_ref(&proxy));
    a
}

#[test]
fn host_containers_120x40() {
    let mut a = with_containers((120, 40));
    let term = render(&mut a, 120, 40);
    let screen = term.backend().to_string();
    assert!(screen.contains("CONTAINER"), "{screen}");
    insta::assert_snapshot!(term.backend());
}

#[test]
fn host_containers_80x24() {
    let mut a = with_containers((80, 24));
    let term = render(&mut a, 80, 24);
    let screen = term.backend().to_string();
    assert!(screen.contains("Containers"), "{screen}");
    assert!(screen.contains("Containers ✖api ✖db web app"), "{screen}");
    insta::assert_snapshot!(term.backend());
}

#[test]
fn host_containers_zoomed_80x24() {
    let mut a = with_containers((80, 24));
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char('z'),
        KeyModifiers::NONE,
    )));
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

#[test]
fn the_unhealthy_container_is_drawn_as_a_problem() {
    let mut a = with_containers((120, 40));
    let term = render(&mut a, 120, 40);
    let buffer = term.backend().buffer();
    let critical = super::status_style(&super::tests::theme(), crate::status::Status::Critical);
    let area = buffer.area;
    let row = (0..area.height)
        .find(|&y| {
            let line: String = (0..area.width)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect();
            line.contains("unhealthy")
        })
        .expect("a row says unhealthy");
    let line: String = (0..area.width)
        .map(|x| buffer[(x, row)].symbol().to_owned())
        .collect();
    let x = u16::try_from(
        line.find("unhealthy")
            .map_or(0, |b| line[..b].chars().count()),
    )
    .expect("column");
    assert_eq!(buffer[(x, row)].fg, critical.fg.expect("a colour"));
}

#[test]
fn narrow_panes_drop_columns_and_keep_a_bad_health_in_the_state() {
    for (w, h) in [(1, 1), (10, 3), (20, 6), (30, 8), (40, 12), (60, 20)] {
        let mut a = with_containers((w, h));
        a.update(Event::Key(KeyEvent::new(
            KeyCode::Char('z'),
            KeyModifiers::NONE,
        )));
        render(&mut a, w, h);
    }
    let mut a = with_containers((26, 24));
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char('z'),
        KeyModifiers::NONE,
    )));
    let screen = render(&mut a, 26, 24).backend().to_string();
    let api = screen
        .lines()
        .find(|l| l.contains("api "))
        .unwrap_or_else(|| panic!("no api row: {screen}"));
    assert!(api.contains("unhealthy"), "{screen}");
    assert!(!screen.contains("RESTARTS"), "{screen}");
    assert!(!screen.contains("HEALTH"), "{screen}");
}

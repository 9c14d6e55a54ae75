//! After an action, the service's status is asked for at once and what comes back shows at
//! once: the Host pane and the header do not keep "stopped" after a restart that worked.

use std::time::{Duration, SystemTime};

use super::fixtures::{app, sample};
use super::{App, Effect, Event};
use crate::actions::{
    ActionEvent, ActionResult, Exit, Outcome, ServiceSpec, ServiceState, ServiceStatus, Verb,
};
use crate::config::Argv;
use crate::status::Status;

fn inventory() -> ServiceSpec {
    let argv = |parts: &[&str]| Some(Argv(parts.iter().map(|p| p.to_string()).collect()));
    ServiceSpec {
        name: "inventory".into(),
        status: argv(&["systemctl", "is-active", "inventory"]),
        test: None,
        reload: None,
        restart: argv(&["systemctl", "restart", "inventory"]),
        timeout: Duration::from_secs(30),
        origin: "config".into(),
    }
}

fn status(state: ServiceState, detail: &str) -> Event {
    Event::Action(Box::new(ActionEvent::Status(Box::new(ServiceStatus {
        service: 0,
        name: "inventory".into(),
        state,
        detail: detail.into(),
        command: None,
        at: SystemTime::UNIX_EPOCH,
    }))))
}

fn stopped_inventory() -> App {
    let mut a = app();
    a.actions = super::actions::ActionsView::new(&[inventory()], false);
    a.model.services = crate::model::services::Services::new(&[inventory()]);
    a.update(Event::Host(Box::new(sample(0.1))));
    a.update(status(ServiceState::Stopped, "failed"));
    a.settle();
    a
}

#[test]
fn a_finished_action_asks_for_every_status_at_once_and_the_answer_shows_at_once() {
    let mut a = stopped_inventory();
    assert_eq!(a.judged.status, Status::Critical);
    assert!(
        a.judged.headline.contains("inventory"),
        "{}",
        a.judged.headline
    );

    let restart = a
        .actions
        .items
        .iter()
        .position(|i| i.verb == Verb::Restart)
        .unwrap();
    let request = a.actions.start(restart, SystemTime::UNIX_EPOCH).unwrap();
    let (changed, effects) = a.update(Event::Action(Box::new(ActionEvent::Finished(Box::new(
        ActionResult {
            id: request.id,
            service: "inventory".into(),
            verb: Verb::Restart,
            outcome: Outcome::Ran(Exit::Code(0)),
            started: SystemTime::UNIX_EPOCH,
            elapsed: Duration::from_millis(300),
            audit_error: None,
        },
    )))));
    assert!(changed);
    // RerunAll reruns the status poller (and the probes, DNS, containers) now.
    assert_eq!(effects, vec![Effect::RerunAll]);

    // The runner's follow-up check says it runs: the next frame shows it.
    let (changed, _) = a.update(status(ServiceState::Running, "active"));
    assert!(changed);
    a.settle();
    assert_eq!(a.judged.status, Status::Ok, "{:?}", a.judged.findings);
    assert!(
        !a.judged.headline.contains("inventory"),
        "{}",
        a.judged.headline
    );
    let running = a.model.services.statuses[0].as_ref().map(|s| s.state);
    assert_eq!(running, Some(ServiceState::Running));
}

#[test]
fn a_stale_actions_end_asks_for_nothing() {
    let mut a = stopped_inventory();
    let (changed, effects) = a.update(Event::Action(Box::new(ActionEvent::Finished(Box::new(
        ActionResult {
            id: 99,
            service: "inventory".into(),
            verb: Verb::Restart,
            outcome: Outcome::Ran(Exit::Code(0)),
            started: SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
            audit_error: None,
        },
    )))));
    assert!(!changed);
    assert!(effects.is_empty());
}

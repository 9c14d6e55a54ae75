//! The container lister's listings through the app: a relist that shows `app` recreated at a new
//! address turns the failures the logs still show at its old one into the stale-address verdict.

use super::{App, Event};
use crate::containers::{ContainerList, Listing};
use crate::diagnosis::{Cause, NamedUpstream};
use crate::model::Model;
use crate::model::containers::{Containers, proxy_facts, refused_log, running};
use crate::status::Status;

/// 2026-12-02 14:02:11 UTC: `app` recreated.
const RECREATED: i64 = 1_796_220_131;
const NOW: i64 = RECREATED + 30;

fn at(unix: i64) -> jiff::Zoned {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .unwrap_or_default()
}

/// nginx in `web` connects to `app:8000`; `app` ran at 172.18.0.2 when the engine was last
/// listed, and the error log shows 48 refused connections to that address in the last minute.
fn app_before_the_relist() -> App {
    let named = vec![NamedUpstream {
        name: "app".into(),
        port: 8000,
        proxy: "web".into(),
        resolves_at_runtime: false,
    }];
    let before = vec![
        running("app", "172.18.0.2", RECREATED - 3600),
        running("web", "172.18.0.3", RECREATED - 3600),
    ];
    let model = Model {
        containers: Containers::new(named, before, NOW - 40)
            .with_facts(vec![proxy_facts("web", "/logs/error.log")]),
        logs: refused_log(&["/logs/error.log"], "172.18.0.2:8000", 48, NOW - 5),
        ..Model::default()
    };
    App::new(at(NOW), (120, 40)).with_model(model)
}

fn relisted(containers: Vec<crate::containers::ContainerInfo>) -> Event {
    Event::Containers(Box::new(Listing {
        at: NOW,
        outcome: Ok(ContainerList {
            containers,
            ..ContainerList::default()
        }),
    }))
}

#[test]
fn a_relist_that_moves_app_makes_its_old_address_the_verdict() {
    let mut a = app_before_the_relist();
    assert_ne!(
        a.judged.diagnosis.verdict.cause,
        Cause::Dns,
        "app still holds the logged address: nginx connects where it should"
    );

    let (redraw, effects) = a.update(relisted(vec![
        running("app", "172.18.0.5", RECREATED),
        running("web", "172.18.0.3", RECREATED - 3600),
    ]));
    assert!(redraw && effects.is_empty());
    assert_eq!(a.model.containers.listed_at, Some(NOW));
    assert!(a.settle(), "the relist is judged before the next frame");
    let v = &a.judged.diagnosis.verdict;
    assert_eq!(v.cause, Cause::Dns);
    assert_eq!(v.status, Status::Critical);
    assert_eq!(
        v.headline,
        "nginx still connects to 172.18.0.2 for `app`, which is now 172.18.0.5 \
         (recreated 14:02:11)"
    );
    assert_eq!(a.judged.status, Status::Critical);

    // The same list again changes nothing to judge or draw.
    let (redraw, _) = a.update(relisted(vec![
        running("app", "172.18.0.5", RECREATED),
        running("web", "172.18.0.3", RECREATED - 3600),
    ]));
    assert!(!redraw);
    assert!(!a.settle());
}

#[test]
fn a_failed_listing_keeps_the_verdict_and_adds_a_finding() {
    let mut a = app_before_the_relist();
    a.update(relisted(vec![running("app", "172.18.0.5", RECREATED)]));
    let why = "container engine at /run/docker.sock: list containers did not answer within 3 s";
    let (redraw, _) = a.update(Event::Containers(Box::new(Listing {
        at: NOW + 2,
        outcome: Err(why.into()),
    })));
    assert!(redraw);
    // Ages and windows as of the failed listing.
    a.set_clock(at(NOW + 2));
    a.settle();
    assert_eq!(a.judged.diagnosis.verdict.cause, Cause::Dns);
    assert!(
        a.judged
            .findings
            .iter()
            .any(|f| f.message == why && f.status == Status::Warning),
        "{:?}",
        a.judged.findings
    );
}

//! A stale container address as the verdict: over "upstream down", in the checklist and the
//! findings, as history once it stops, and through the model to `check`'s text and JSON.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use jiff::tz::TimeZone;

use super::*;
use crate::logs::{Cause as LogCause, Format, WindowCounts};
use crate::upstream::{Outcome, State};

/// 2026-12-02 14:02:11 UTC: `app` recreated.
const RECREATED: i64 = 1_796_220_131;
const NOW: i64 = RECREATED + 300;

const SENTENCE: &str = "nginx still connects to 172.18.0.2 for `app`, which is now 172.18.0.5 \
                        (recreated 14:02:11)";
const FIX: &str = "reload nginx in `web`, or resolve at run time (`resolver 127.0.0.11 \
                   valid=10s` and a variable in `proxy_pass`)";

fn stale(last_seen: i64) -> StaleAddress {
    let found = stale_addresses(
        &[NamedUpstream {
            name: "app".into(),
            port: 8000,
            proxy: "/web".into(),
            resolves_at_runtime: false,
        }],
        &[CurrentContainer {
            name: "/app".into(),
            aliases: vec!["app".into()],
            addresses: vec!["172.18.0.5".parse().expect("ip")],
            started_at: Some(RECREATED),
        }],
        &[LoggedAddress {
            addr: "172.18.0.2:8000".parse().expect("addr"),
            failures: 48,
            last_seen,
        }],
    );
    found.into_iter().next().expect("a stale address")
}

/// The old address refuses: the probes of the logged address and the error log say so, which
/// alone reads as "upstream down".
fn refused_at_old_address() -> Inputs {
    let url: crate::config::Target = "http://172.18.0.2:8000/".parse().expect("url");
    let mut u = UpstreamInput::new("app", &url, Duration::from_secs(2));
    u.state = Some(State::Down);
    u.outcome = Some(Outcome::Refused);
    u.detail = "connection refused".into();
    u.since = Some(Duration::from_secs(120));
    u.addr = Some("172.18.0.2:8000".into());
    let counts = WindowCounts {
        causes: BTreeMap::from([(LogCause::Refused, 48)]),
        upstreams: vec![("http://172.18.0.2:8000/".into(), 48)],
        ..WindowCounts::default()
    };
    Inputs {
        upstreams: vec![u],
        logs: vec![LogInput::fresh(
            "/var/log/nginx/error.log",
            Some(Format::NginxError),
            counts,
        )],
        clock: Clock {
            now: NOW,
            tz: TimeZone::UTC,
        },
        ..Inputs::default()
    }
}

#[test]
fn a_stale_address_outranks_upstream_down_with_cause_dns() {
    let mut inputs = refused_at_old_address();
    assert_eq!(diagnose(&inputs).verdict.cause, Cause::UpstreamDown);

    inputs.stale_addresses = vec![stale(NOW - 5)];
    let d = diagnose(&inputs);
    let v = &d.verdict;
    assert_eq!(v.cause, Cause::Dns);
    assert_eq!(v.status, Status::Critical);
    assert_eq!(v.headline, SENTENCE);
    assert_eq!(v.next_step, FIX);
    assert_eq!(
        v.evidence,
        [Evidence::new(
            "logs",
            "48 failed connections to 172.18.0.2:8000"
        )]
    );
    assert_eq!(
        v.text,
        format!("{SENTENCE} (48 failed connections to 172.18.0.2:8000): {FIX}")
    );
    assert_eq!(
        stale(NOW - 5).sentence(NOW, &TimeZone::UTC),
        format!("{SENTENCE}: {FIX}"),
        "the verdict says the sentence"
    );
    let step = d.step(StepId::Dns).expect("dns step");
    assert_eq!(
        (step.status, step.evidence.as_str()),
        (Status::Critical, SENTENCE)
    );
    assert_eq!(
        findings(&inputs),
        [crate::status::Finding::new(
            Status::Critical,
            format!("{SENTENCE}: {FIX}")
        )]
    );
}

#[test]
fn several_stale_addresses_name_the_most_failing_and_count_the_rest() {
    let mut inputs = refused_at_old_address();
    let mut other = stale(NOW - 5);
    other.upstream = "api".into();
    other.failures = 3;
    inputs.stale_addresses = vec![stale(NOW - 5), other.clone(), other];
    let v = diagnose(&inputs).verdict;
    assert_eq!(v.headline, SENTENCE);
    assert_eq!(
        v.evidence[1],
        Evidence::new("containers", "2 more stale addresses")
    );
}

#[test]
fn a_stale_address_that_stopped_failing_is_history() {
    // Reloaded ten minutes ago: the old address's failures are in the window, none now, and
    // the upstream answers at its new address.
    let mut inputs = refused_at_old_address();
    inputs.stale_addresses = vec![stale(NOW - 600)];
    let u = &mut inputs.upstreams[0];
    u.state = Some(State::Up);
    u.outcome = Some(Outcome::Ok);
    u.addr = Some("172.18.0.5:8000".into());
    let log = &mut inputs.logs[0];
    log.recent = WindowCounts::default();
    log.quiet_for = Some(Duration::from_secs(540));
    let d = diagnose(&inputs);
    assert_eq!(d.verdict.cause, Cause::NoCause);
    assert_eq!(
        d.verdict.evidence[0].text,
        format!("earlier: {SENTENCE} (48 failed connections to 172.18.0.2:8000); none for 9 min")
    );
    assert!(findings(&inputs).is_empty(), "nothing fails now");
    assert_ne!(
        d.step(StepId::Dns).map(|s| s.status),
        Some(Status::Critical)
    );
}

#[test]
fn without_containers_nothing_changes() {
    let inputs = refused_at_old_address();
    assert!(inputs.stale_addresses.is_empty());
    let d = diagnose(&inputs);
    assert_eq!(d.verdict.cause, Cause::UpstreamDown);
    assert!(findings(&inputs).is_empty());
}

#[test]
fn check_text_and_json_say_the_same_verdict_through_the_model() {
    // The model judges the containers it knows with its logs: `app` moved, and the error log
    // shows 48 refused connections to its old address in the last minute.
    let app = crate::containers::ContainerInfo {
        id: "a".repeat(64),
        name: "app".into(),
        image: "app:1".into(),
        pid: Some(4242),
        state: "running".into(),
        restart_count: 0,
        health: None,
        started_at: Some(RECREATED),
        command: vec!["/app".into()],
        networks: vec![crate::containers::ContainerNetwork {
            name: "shop".into(),
            ip: Some("172.18.0.5".parse().expect("ip")),
            ipv6: None,
            aliases: vec!["app".into()],
        }],
    };
    let named = vec![NamedUpstream {
        name: "app".into(),
        port: 8000,
        proxy: "web".into(),
        resolves_at_runtime: false,
    }];
    let model = crate::model::Model {
        containers: crate::model::containers::Containers::new(named, vec![app], NOW).with_facts(
            vec![crate::model::containers::proxy_facts(
                "web",
                "/logs/error.log",
            )],
        ),
        logs: crate::model::containers::refused_log(
            &["/logs/error.log"],
            "172.18.0.2:8000",
            48,
            NOW - 5,
        ),
        ..crate::model::Model::default()
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW.unsigned_abs());
    let judged = crate::model::assess_in(&model, now, &TimeZone::UTC);
    let report = crate::report::Report::new(&model, &judged, now);

    let v: serde_json::Value =
        serde_json::from_str(&crate::report::to_json(&report)).expect("json");
    assert_eq!(v["status"], "critical");
    assert_eq!(v["verdict"]["cause"], "dns");
    assert_eq!(v["verdict"]["status"], "critical");
    assert_eq!(v["verdict"]["next_step"], FIX);
    assert_eq!(
        v["verdict"]["text"],
        format!("{SENTENCE} (48 failed connections to 172.18.0.2:8000): {FIX}")
    );
    assert_eq!(v["verdict"]["evidence"][0]["source"], "logs");
    assert_eq!(
        v["verdict"]["evidence"][0]["text"],
        "48 failed connections to 172.18.0.2:8000"
    );

    let text = crate::report::to_text(&report);
    assert!(
        text.contains(&format!(
            "\nverdict: {SENTENCE} (48 failed connections to 172.18.0.2:8000): {FIX}\n"
        )),
        "{text}"
    );
}

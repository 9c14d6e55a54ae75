use crossterm::event::KeyCode;

use super::names_word;
use crate::app::fixtures::{app, press};
use crate::app::{App, Event};
use crate::logs::{Cause, LogBatch, LogBook, LogLine, RingLimits, SourceSpec};
use crate::model::dns::Dns;
use crate::model::upstreams::Upstreams;
use crate::model::upstreams::tests::{entry, result};
use crate::pane::PaneId;
use crate::upstream::Outcome;
use crate::upstream::catalog::{Catalog, Entry};

fn at(name: &str, url: &str) -> Entry {
    let mut e = entry(name, 1);
    e.upstream.url = url.parse().expect("valid target");
    e
}

fn catalog() -> Catalog {
    Catalog {
        entries: vec![
            at("payments_backend_v2_primary", "http://127.0.0.1:35073/"),
            at("payments_backend_v2_canary", "http://[::1]:35074/"),
            at("shop", "http://shop.internal:8080/"),
            at("shop-admin", "tcp://shop.internal:9000"),
        ],
        ..Catalog::default()
    }
}

fn line(upstream: Option<&str>, text: &str) -> LogLine {
    LogLine {
        text: text.into(),
        format: None,
        cause: upstream.map(|_| Cause::Refused),
        status: None,
        upstream: upstream.map(str::to_owned),
        time: None,
    }
}

/// The primary refuses; an access log with nothing of it and an error log whose lines name
/// both payments upstreams.
fn fleet() -> App {
    let mut a = app();
    a.set_upstreams(Upstreams::new(&catalog()));
    a.model.logs = LogBook::new(
        &[
            SourceSpec::file("/logs/access.log", None),
            SourceSpec::file("/logs/error.log", None),
        ],
        RingLimits::default(),
    );
    let batch = |source, lines| Event::Log(Box::new(LogBatch::following(source, lines)));
    a.update(batch(0, vec![line(None, "GET / 200")]));
    a.update(batch(
        1,
        vec![
            line(Some("http://127.0.0.1:35073/pay"), "primary refused 1"),
            line(Some("http://[::1]:35074/pay"), "canary refused"),
            line(None, "a notice"),
            line(Some("127.0.0.1:35073"), "primary refused 2"),
        ],
    ));
    let refused: Vec<_> = (1..=3).map(|s| result(0, s, Outcome::Refused)).collect();
    let ok: Vec<_> = (4..=6).map(|s| result(1, s, Outcome::Ok)).collect();
    a.update(Event::Probes(refused));
    a.update(Event::Probes(ok));
    a.settle();
    a
}

fn shown(a: &App) -> Vec<&str> {
    a.logs
        .visible(&a.model.logs)
        .iter()
        .map(|l| l.text.as_str())
        .collect()
}

fn cursor_row(a: &App) -> Option<usize> {
    a.upstreams.at(a.scroll[PaneId::Upstreams.index()])
}

#[test]
fn l_shows_only_the_upstreams_lines_on_the_source_that_has_them() {
    let mut a = fleet();
    press(&mut a, KeyCode::Char('2'));
    assert_eq!(
        cursor_row(&a),
        Some(0),
        "the refusing primary is worst, first"
    );
    press(&mut a, KeyCode::Char('L'));
    assert_eq!(a.focus, PaneId::Logs);
    assert_eq!(a.logs.current, 1, "the access log has none of its lines");
    assert_eq!(shown(&a), ["primary refused 1", "primary refused 2"]);
    assert_eq!(a.logs.visible_len(&a.model.logs), 2);
    let said = a.message.clone().unwrap_or_default();
    assert!(
        said.contains("payments_backend_v2_primary") && said.contains("2 of its log lines"),
        "{said}"
    );
    assert!(a.logs.clear_upstream());
    assert!(!a.logs.clear_upstream(), "nothing left to clear");
    assert_eq!(shown(&a).len(), 4);

    // From the detail view: the row it shows.
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('G'));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.upstream_detail, Some(1), "the canary is up: last");
    press(&mut a, KeyCode::Char('L'));
    assert_eq!(shown(&a), ["canary refused"], "IPv6 [::1]:35074");
}

#[test]
fn an_upstream_no_line_names_keeps_the_filter_and_says_so() {
    let mut a = fleet();
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Down);
    let row = cursor_row(&a).expect("a row");
    assert_eq!(a.model.upstreams.rows[row].entry.upstream.name, "shop");
    press(&mut a, KeyCode::Char('L'));
    assert!(a.logs.upstream.as_ref().is_some_and(|u| u.row == row));
    assert!(shown(&a).is_empty());
    let said = a.message.clone().unwrap_or_default();
    assert!(said.contains("no log line names it yet"), "{said}");
}

#[test]
fn enter_in_the_checklist_lands_on_the_verdicts_upstream_and_its_lines() {
    let mut a = fleet();
    let headline = a.judged.diagnosis.verdict.headline.clone();
    assert!(
        headline.contains("payments_backend_v2_primary"),
        "{headline}"
    );
    assert_eq!(a.verdict_upstream(), Some(0));
    // A filter hiding it and the cursor elsewhere first.
    press(&mut a, KeyCode::Char('2'));
    press(&mut a, KeyCode::Char('/'));
    for c in "shop".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Char('v'));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.modal, None, "the checklist closed");
    assert_eq!(a.focus, PaneId::Upstreams);
    assert_eq!(a.upstreams.filter, "", "the filter hid it");
    assert_eq!(cursor_row(&a), Some(0));
    assert_eq!(shown(&a), ["primary refused 1", "primary refused 2"]);
    let said = a.message.clone().unwrap_or_default();
    assert!(said.starts_with("the verdict's evidence: upstream payments_backend_v2_primary"));
}

#[test]
fn enter_in_a_calm_checklist_stays_and_says_why() {
    let mut a = app();
    a.settle();
    press(&mut a, KeyCode::Char('v'));
    press(&mut a, KeyCode::Enter);
    assert!(a.modal.is_some(), "nowhere to go: the checklist stays open");
    assert!(a.message.is_some());
}

#[test]
fn u_on_a_dns_name_filters_the_upstreams_to_those_using_it() {
    let mut a = fleet();
    a.model.dns = Dns::new(
        vec!["shop.internal".into(), "unused.internal".into()],
        &catalog(),
    );
    press(&mut a, KeyCode::Char('3'));
    press(&mut a, KeyCode::Char('U'));
    assert_eq!(a.focus, PaneId::Upstreams);
    let rows = &a.model.upstreams.rows;
    let names: Vec<&str> = a
        .upstreams
        .visible
        .iter()
        .map(|&i| rows[i].entry.upstream.name.as_str())
        .collect();
    assert_eq!(names, ["shop", "shop-admin"]);
    assert!(
        a.message
            .as_deref()
            .is_some_and(|m| m.starts_with("2 upstream(s) use shop.internal"))
    );
    press(&mut a, KeyCode::Char('3'));
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Char('U'));
    assert_eq!(a.focus, PaneId::Dns, "no upstream uses it: stay");
    assert_eq!(
        a.message.as_deref(),
        Some("no upstream is written with the name unused.internal")
    );
}

#[test]
fn names_are_found_as_words_only() {
    assert!(names_word("upstream shop refused", "shop"));
    assert!(names_word("upstream shop.", "shop"));
    assert!(names_word("(shop)", "shop"));
    assert!(!names_word("upstream shop-admin refused", "shop"));
    assert!(!names_word("upstream shop.internal refused", "shop"));
    assert!(!names_word("workshop", "shop"));
    assert!(!names_word("anything", ""));
}

#[test]
fn a_followed_link_keeps_its_source_when_another_log_grows_busier() {
    let mut a = fleet();
    press(&mut a, KeyCode::Char('2'));
    // The access log has none of the primary's lines: L goes to the error log. Then the access
    // log fills with causes that would make it the busiest.
    press(&mut a, KeyCode::Char('L'));
    assert_eq!(a.logs.current, 1);
    let lines = (0..10)
        .map(|i| line(Some("http://10.9.9.9/"), &format!("other refused {i}")))
        .collect();
    a.update(Event::Log(Box::new(LogBatch::following(0, lines))));
    assert_eq!(a.logs.current, 1, "the link's source stays");
    assert_eq!(shown(&a), ["primary refused 1", "primary refused 2"]);
}

//! Three upstreams whose long names differ only at the end, at the sizes people use: names,
//! targets and results stay whole or keep what tells them apart; the log strip names the
//! upstream of the address it counts; `L` leaves the Logs pane with that upstream's lines only.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tests::{clock, render};
use crate::app::{App, Event};
use crate::logs::{Cause, LogBatch, LogBook, LogLine, RingLimits, SourceSpec};
use crate::model::upstreams::Upstreams;
use crate::model::upstreams::tests::{entry, result};
use crate::pane::PaneId;
use crate::upstream::Outcome;
use crate::upstream::catalog::{Catalog, Entry};

const NOW: i64 = 1_800_000_000;

fn at(name: &str, url: &str) -> Entry {
    let mut e = entry(name, 1);
    e.upstream.url = url.parse().expect("valid target");
    e
}

fn refused(port: u16, seconds_ago: i64) -> LogLine {
    let at = jiff::Timestamp::from_second(NOW - seconds_ago)
        .expect("valid timestamp")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y/%m/%d %H:%M:%S")
        .to_string();
    LogLine {
        text: format!(
            "{at} [error] 12#12: *{seconds_ago} connect() failed (111: Connection refused) while \
             connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET /pay HTTP/1.1\", \
             upstream: \"http://127.0.0.1:{port}/pay\", host: \"shop\""
        ),
        format: Some(crate::logs::Format::NginxError),
        cause: Some(Cause::Refused),
        status: None,
        upstream: Some(format!("http://127.0.0.1:{port}")),
        time: Some(NOW - seconds_ago),
    }
}

/// The primary refuses (and its log lines say so, 13 of them), the canary answers slowly, the
/// replica answers; a fourth upstream with a short name.
fn app(size: (u16, u16)) -> App {
    let mut a = App::new(clock(), size);
    a.set_upstreams(Upstreams::new(&Catalog {
        entries: vec![
            at(
                "payments_backend_v2_primary",
                "http://127.0.0.1:35073/health",
            ),
            at(
                "payments_backend_v2_canary",
                "http://127.0.0.1:35074/health",
            ),
            at(
                "payments_backend_v2_replica",
                "http://127.0.0.1:35075/health",
            ),
            at("inventory", "tcp://127.0.0.1:5432"),
        ],
        ..Catalog::default()
    }));
    let mut probes = Vec::new();
    for seq in 1..=12u64 {
        let mut primary = result(0, seq, Outcome::Refused);
        primary.detail = "connection refused".into();
        probes.push(primary);
        let mut canary = result(1, seq, Outcome::Ok);
        canary.status_code = Some(200);
        canary.latency = Some(std::time::Duration::from_millis(400 + 40 * seq));
        probes.push(canary);
        let mut replica = result(2, seq, Outcome::Ok);
        replica.status_code = Some(200);
        probes.push(replica);
        probes.push(result(3, seq, Outcome::Ok));
    }
    a.update(Event::Probes(probes));
    a.model.logs = LogBook::new(
        &[SourceSpec::file("/var/log/nginx/error.log", None)],
        RingLimits::default(),
    );
    let mut lines: Vec<LogLine> = (0..13).map(|i| refused(35073, 60 - 4 * i)).collect();
    lines.insert(6, refused(35074, 30));
    a.update(Event::Log(Box::new(LogBatch::following(0, lines))));
    a.focus = PaneId::Upstreams;
    a
}

fn key(a: &mut App, c: char) {
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
}

#[test]
fn long_upstream_names_80x24() {
    insta::assert_snapshot!(render(&mut app((80, 24)), 80, 24).backend());
}

#[test]
fn long_upstream_names_120x40() {
    insta::assert_snapshot!(render(&mut app((120, 40)), 120, 40).backend());
}

#[test]
fn long_upstream_names_160x40() {
    insta::assert_snapshot!(render(&mut app((160, 40)), 160, 40).backend());
}

#[test]
fn long_upstream_names_200x50() {
    insta::assert_snapshot!(render(&mut app((200, 50)), 200, 50).backend());
}

#[test]
fn long_upstream_names_zoomed_80x24() {
    let mut a = app((80, 24));
    key(&mut a, 'z');
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

#[test]
fn l_filters_the_logs_by_the_upstream_120x40() {
    let mut a = app((120, 40));
    key(&mut a, 'L');
    let term = render(&mut a, 120, 40);
    let screen = term.backend().to_string();
    assert!(
        screen.contains("upstream payments_backend_v2_primary"),
        "{screen}"
    );
    assert!(
        !screen.contains("127.0.0.1:35074/pay"),
        "the canary's line is hidden"
    );
    insta::assert_snapshot!(term.backend());
}

/// shop.internal resolves to 10.0.0.5, and two upstreams are written with it; the error log
/// names the resolved address, which nothing in the config says.
fn shop() -> App {
    use crate::dns::{Answer, DnsResult, DnsRound, Nameserver, Rcode, Source};
    use std::time::{Duration, SystemTime};
    let mut a = App::new(clock(), (120, 40));
    let catalog = Catalog {
        entries: vec![
            at("shop", "http://shop.internal:8080/"),
            at("shop-admin", "tcp://shop.internal:9000"),
            at("inventory", "tcp://127.0.0.1:5432"),
        ],
        ..Catalog::default()
    };
    a.set_upstreams(Upstreams::new(&catalog));
    a.model.dns = crate::model::dns::Dns::new(vec!["shop.internal".into()], &catalog);
    a.update(Event::Dns(Box::new(DnsRound {
        seq: 1,
        finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(NOW as u64 - 10),
        elapsed: Duration::from_millis(3),
        nameservers: vec![Nameserver::System],
        results: vec![DnsResult {
            name: "shop.internal".into(),
            nameserver: Nameserver::System,
            answers: vec![Answer {
                addr: "10.0.0.5".parse().expect("ip"),
                ttl: Some(300),
            }],
            cname_chain: vec![],
            rcode: Some(Rcode::NoError),
            latency: Duration::from_millis(2),
            error: None,
            source: Source::Dns,
        }],
        problems: vec![],
        family: vec![],
    })));
    a.model.logs = LogBook::new(
        &[SourceSpec::file("/var/log/nginx/error.log", None)],
        RingLimits::default(),
    );
    let mut line = refused(35073, 5);
    line.text = line.text.replace("127.0.0.1:35073", "10.0.0.5:8080");
    line.upstream = Some("http://10.0.0.5:8080".into());
    a.update(Event::Log(Box::new(LogBatch::following(0, vec![line]))));
    a
}

#[test]
fn a_names_detail_lists_the_upstreams_that_use_it_120x40() {
    let mut a = shop();
    a.focus = PaneId::Dns;
    a.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let term = render(&mut a, 120, 40);
    let screen = term.backend().to_string();
    assert!(
        screen.contains("used by shop, shop-admin  (U shows them)"),
        "{screen}"
    );
    assert!(
        screen.contains("failing upstreams: shop 10.0.0.5:8080 ×1"),
        "an address it resolved to names it:\n{screen}"
    );
    insta::assert_snapshot!(term.backend());
}

//! The stale-address rules on hand-made containers and logged addresses.

use super::*;
use crate::logs::{Cause, LogLine};

/// 2026-12-02 14:02:11 UTC.
const RECREATED: i64 = 1_796_220_131;
const NOW: i64 = RECREATED + 300;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn upstream(name: &str, port: u16) -> NamedUpstream {
    NamedUpstream {
        name: name.into(),
        port,
        proxy: "web".into(),
        resolves_at_runtime: false,
    }
}

fn container(name: &str, addresses: &[&str], started_at: Option<i64>) -> CurrentContainer {
    CurrentContainer {
        name: name.into(),
        aliases: vec![],
        addresses: addresses.iter().map(|a| ip(a)).collect(),
        started_at,
    }
}

fn logged(addr: &str, failures: u64) -> LoggedAddress {
    LoggedAddress {
        addr: addr.parse().expect("socket address"),
        failures,
        last_seen: NOW - 5,
    }
}

/// The compose setup: nginx in `web`, `app` recreated at 172.18.0.5.
fn setup() -> (Vec<NamedUpstream>, Vec<CurrentContainer>) {
    (
        vec![upstream("app", 8000)],
        vec![
            container("/web", &["172.18.0.3"], Some(RECREATED - 3600)),
            container("/app", &["172.18.0.5"], Some(RECREATED)),
        ],
    )
}

#[test]
fn a_failing_old_address_of_a_recreated_container_is_stale() {
    let (ups, containers) = setup();
    let found = stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 12)]);
    assert_eq!(
        found,
        [StaleAddress {
            upstream: "app".into(),
            proxy: "web".into(),
            old: ip("172.18.0.2"),
            port: 8000,
            new: vec![ip("172.18.0.5")],
            recreated_at: Some(RECREATED),
            now_held_by: None,
            failures: 12,
            last_seen: NOW - 5,
        }]
    );
    let s = &found[0];
    assert_eq!(
        s.sentence(NOW, &TimeZone::UTC),
        "nginx still connects to 172.18.0.2 for `app`, which is now 172.18.0.5 (recreated \
         14:02:11): reload nginx in `web`, or resolve at run time (`resolver 127.0.0.11 \
         valid=10s` and a variable in `proxy_pass`)"
    );
    assert_eq!(s.evidence(), "12 failed connections to 172.18.0.2:8000");
    // Another zone writes another clock; another day adds the date.
    let tz = TimeZone::fixed(jiff::tz::offset(2));
    assert!(s.headline(NOW, &tz).ends_with("(recreated 16:02:11)"));
    assert!(
        s.headline(NOW + 86_400, &TimeZone::UTC)
            .ends_with("(recreated 2026-12-02 14:02:11)")
    );
}

#[test]
fn the_current_address_or_a_quiet_one_is_no_finding() {
    let (ups, containers) = setup();
    assert!(stale_addresses(&ups, &containers, &[logged("172.18.0.5:8000", 40)]).is_empty());
    assert!(
        stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 0)]).is_empty(),
        "never failed"
    );
    assert!(
        stale_addresses(&ups, &containers, &[logged("172.18.0.2:9000", 9)]).is_empty(),
        "another port"
    );
}

#[test]
fn an_old_address_now_held_by_another_container_says_whose() {
    let (ups, mut containers) = setup();
    containers.push(container("/other", &["172.18.0.2"], Some(RECREATED + 1)));
    let found = stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 3)]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].now_held_by.as_deref(), Some("other"));
    assert_eq!(
        found[0].headline(NOW, &TimeZone::UTC),
        "nginx still connects to 172.18.0.2, which now belongs to `other`, for `app`, which is \
         now 172.18.0.5 (recreated 14:02:11)"
    );
}

#[test]
fn no_container_by_that_name_is_no_finding() {
    let ups = vec![upstream("app", 8000)];
    let containers = vec![container("/web", &["172.18.0.3"], None)];
    assert!(stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 5)]).is_empty());
    // A container with the name but no address on the network: not an address question.
    let gone = vec![container("/app", &[], Some(RECREATED))];
    assert!(stale_addresses(&ups, &gone, &[logged("172.18.0.2:8000", 5)]).is_empty());
}

#[test]
fn an_alias_names_the_container() {
    let ups = vec![upstream("app", 8000)];
    let mut c = container("/project-app-1", &["172.18.0.5"], None);
    c.aliases = vec!["App".into(), "3f2a9c".into()];
    let found = stale_addresses(&ups, &[c], &[logged("172.18.0.2:8000", 7)]);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].sentence(NOW, &TimeZone::UTC),
        "nginx still connects to 172.18.0.2 for `app`, which is now 172.18.0.5: reload nginx in \
         `web`, or resolve at run time (`resolver 127.0.0.11 valid=10s` and a variable in \
         `proxy_pass`)",
        "no start time, no parenthesis"
    );
}

#[test]
fn replicas_of_a_scaled_service_are_all_the_names_addresses() {
    let ups = vec![upstream("app", 8000)];
    let mut one = container("/project-app-1", &["172.18.0.6"], Some(RECREATED - 60));
    let mut two = container("/project-app-2", &["172.18.0.5"], Some(RECREATED));
    one.aliases = vec!["app".into()];
    two.aliases = vec!["app".into()];
    let found = stale_addresses(
        &ups,
        &[one.clone(), two.clone()],
        &[logged("172.18.0.2:8000", 3)],
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].new, [ip("172.18.0.5"), ip("172.18.0.6")]);
    assert_eq!(found[0].recreated_at, Some(RECREATED), "the newest replica");
    // An address one replica still has is current.
    let current = stale_addresses(&ups, &[one, two], &[logged("172.18.0.6:8000", 3)]);
    assert!(current.is_empty());
}

#[test]
fn an_upstream_resolved_at_run_time_has_no_stale_address() {
    let (mut ups, containers) = setup();
    ups[0].resolves_at_runtime = true;
    assert!(stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 12)]).is_empty());
}

#[test]
fn of_several_names_on_one_port_only_the_changed_container_is_blamed() {
    let ups = vec![upstream("app", 8000), upstream("api", 8000)];
    let mut containers = vec![
        container("/app", &["172.18.0.5"], Some(RECREATED)),
        container("/api", &["172.18.0.4"], Some(RECREATED - 7200)),
    ];
    let found = stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 4)]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].upstream, "app");
    // The logged address is api's current one: nginx connects where it should.
    let at_api = stale_addresses(&ups, &containers, &[logged("172.18.0.4:8000", 4)]);
    assert!(at_api.is_empty());
    // When nothing tells which changed, nobody is blamed.
    for c in &mut containers {
        c.started_at = None;
    }
    assert!(stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 4)]).is_empty());
}

#[test]
fn hostile_names_reach_no_sentence_raw() {
    let ups = vec![NamedUpstream {
        name: "app\u{1b}]0;owned\u{7}".into(),
        port: 8000,
        proxy: "/web\u{1b}[2J".into(),
        resolves_at_runtime: false,
    }];
    let containers = vec![
        container("/app\u{1b}]0;owned\u{7}", &["172.18.0.5"], Some(RECREATED)),
        container("/evil\u{9b}31m\u{202e}", &["172.18.0.2"], None),
    ];
    let found = stale_addresses(&ups, &containers, &[logged("172.18.0.2:8000", 1)]);
    assert_eq!(found.len(), 1);
    let text = found[0].sentence(NOW, &TimeZone::UTC);
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(!text.contains('\u{202e}'), "{text:?}");
    assert!(text.contains("`app\\x1b]0;owned\\x07`"), "{text}");
    assert!(text.contains("`evil\\u{9b}31m\\u{202e}`"), "{text}");
    assert!(text.contains("reload nginx in `web\\x1b[2J`"), "{text}");
    assert_eq!(
        found[0].evidence(),
        "1 failed connection to 172.18.0.2:8000"
    );
}

#[test]
fn both_logged_forms_and_ipv6_parse() {
    let v4: SocketAddr = "172.18.0.2:8000".parse().expect("addr");
    assert_eq!(parse_logged("172.18.0.2:8000"), Some(v4));
    assert_eq!(parse_logged("http://172.18.0.2:8000/"), Some(v4));
    assert_eq!(parse_logged("http://172.18.0.2:8000/cart?x=1"), Some(v4));
    assert_eq!(
        parse_logged("172.18.0.9:8000, 172.18.0.2:8000"),
        Some(v4),
        "a retried request: the last answered"
    );
    assert_eq!(parse_logged("172.18.0.9:8000 : 172.18.0.2:8000"), Some(v4));
    let v6: SocketAddr = "[fd00::2]:8000".parse().expect("addr");
    assert_eq!(parse_logged("[fd00::2]:8000"), Some(v6));
    assert_eq!(parse_logged("http://[fd00::2]:8000/"), Some(v6));
    for hostile in [
        "",
        "app:8000",
        "http://app:8000/",
        "unix:/run/php.sock",
        "be_app/app1",
        "(other)",
        "172.18.0.2",
        "172.18.0.2:99999",
        "http://",
        "[fd00::2",
        "\u{1b}[2J172.18.0.2:8000",
        ", , ,",
        &"1".repeat(100_000),
    ] {
        assert_eq!(parse_logged(hostile), None, "{hostile:?}");
    }
}

#[test]
fn an_ipv6_old_address_is_stale_and_bracketed_with_its_port() {
    let ups = vec![upstream("app", 8000)];
    let containers = vec![container(
        "app",
        &["fd00::5", "172.18.0.5"],
        Some(RECREATED),
    )];
    let found = stale_addresses(&ups, &containers, &[logged("[fd00::2]:8000", 2)]);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].evidence(),
        "2 failed connections to [fd00::2]:8000"
    );
    assert_eq!(
        found[0].headline(NOW, &TimeZone::UTC),
        "nginx still connects to fd00::2 for `app`, which is now 172.18.0.5, fd00::5 (recreated \
         14:02:11)"
    );
}

#[test]
fn one_address_in_several_logs_is_one_finding_with_the_most_failures() {
    let (ups, containers) = setup();
    let mut access = logged("172.18.0.2:8000", 9);
    access.last_seen = NOW;
    let found = stale_addresses(
        &ups,
        &containers,
        &[
            logged("172.18.0.2:8000", 12),
            access,
            logged("172.18.0.7:8000", 30),
        ],
    );
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].old, found[0].failures), (ip("172.18.0.7"), 30));
    assert_eq!(
        (found[1].failures, found[1].last_seen),
        (12, NOW),
        "most failures, newest time"
    );
}

#[test]
fn a_tally_gives_each_failing_address_its_failures_and_newest_minute() {
    let line = |cause: Option<Cause>, status: Option<u16>, up: &str, t: i64| LogLine {
        text: String::new(),
        format: None,
        cause,
        status,
        upstream: Some(up.to_owned()),
        time: Some(t),
    };
    let mut t = Tally::default();
    // The error log's form, twice in one minute, once in the next.
    t.add_line(&line(
        Some(Cause::Unreachable),
        None,
        "http://172.18.0.2:8000/",
        600,
    ));
    t.add_line(&line(
        Some(Cause::Refused),
        None,
        "http://172.18.0.2:8000/cart",
        610,
    ));
    t.add_line(&line(
        Some(Cause::Refused),
        None,
        "http://172.18.0.2:8000/",
        665,
    ));
    // The access log's form: a 502 counts as a failure naming it and as a failed request.
    t.add_line(&line(None, Some(502), "172.18.0.9:8000", 700));
    // Answered requests are no failures; names and junk are no addresses.
    t.add_line(&line(None, Some(200), "172.18.0.5:8000", 700));
    t.add_line(&line(Some(Cause::Refused), None, "app:8000", 700));
    t.add_line(&line(Some(Cause::Refused), None, "\u{1b}[2J", 700));
    let got = from_tally(&t, 600, 720);
    assert_eq!(
        got,
        [
            LoggedAddress {
                addr: "172.18.0.2:8000".parse().expect("addr"),
                failures: 3,
                last_seen: 660,
            },
            LoggedAddress {
                addr: "172.18.0.9:8000".parse().expect("addr"),
                failures: 1,
                last_seen: 660,
            },
        ]
    );
    assert_eq!(from_tally(&t, 0, 599), [], "before the lines");
    assert_eq!(
        from_tally(&t, 661, 720).len(),
        2,
        "from the minute 661 falls in"
    );
}

#[test]
fn recent_means_this_minute_or_the_one_before() {
    let (ups, containers) = setup();
    let mut l = logged("172.18.0.2:8000", 1);
    l.last_seen = 1_200; // 00:20:00
    let s = stale_addresses(&ups, &containers, &[l]).remove(0);
    assert!(s.is_recent(1_200));
    assert!(s.is_recent(1_319), "the minute before");
    assert!(!s.is_recent(1_320), "two minutes on");
}

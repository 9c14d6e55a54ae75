//! The DNS engine against real DNS servers on loopback (hickory-server, UDP and TCP), real temp
//! resolv.conf and hosts files, and the real tokio runtime.

mod dns_server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use dns_server::{TestDns, ip, silent_server, unused_port};
use gatewatch::dns::{
    self, DnsCollector, DnsLookups, DnsResult, DnsRound, DnsSettings, DriftTracker, Nameserver,
    Rcode, Source, SpawnError,
};
use gatewatch::outbox::Outbox;
use gatewatch::status::Status;
use hickory_server::proto::op::ResponseCode;

const TIMEOUT: Duration = Duration::from_secs(1);

/// Only the given servers, each on its own: no system configuration.
fn settings(dir: &Path, names: &[&str], servers: &[SocketAddr]) -> DnsSettings {
    DnsSettings {
        names: names.iter().map(|s| s.to_string()).collect(),
        nameservers: servers.iter().map(|a| Nameserver::Addr(*a)).collect(),
        extra_nameservers: Vec::new(),
        timeout: TIMEOUT,
        interval: Duration::from_secs(60),
        hosts_file: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
        resolv_conf_port: 53,
        ports: Vec::new(),
    }
}

/// The system configuration from temp files, its nameservers on `port`.
fn system_settings(dir: &Path, names: &[&str], port: u16) -> DnsSettings {
    DnsSettings {
        nameservers: vec![Nameserver::System],
        resolv_conf_port: port,
        ..settings(dir, names, &[])
    }
}

async fn one_round(settings: DnsSettings) -> DnsRound {
    DnsLookups::new(settings).round().await
}

fn only(round: &DnsRound) -> &DnsResult {
    assert_eq!(round.results.len(), 1, "{:#?}", round.results);
    &round.results[0]
}

fn addrs(r: &DnsResult) -> Vec<String> {
    r.addresses().map(|a| a.to_string()).collect()
}

#[tokio::test]
async fn answers_a_and_aaaa_with_their_ttls() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1", "10.0.0.2"], &["fd00::1"], 300);
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(dir.path(), &["app.test"], &[server.addr])).await;

    assert_eq!(round.seq, 1);
    assert_eq!(round.nameservers, [Nameserver::Addr(server.addr)]);
    let r = only(&round);
    assert_eq!(r.error, None);
    assert_eq!(r.rcode, Some(Rcode::NoError));
    assert_eq!(r.source, Source::Dns);
    assert_eq!(addrs(r), ["10.0.0.1", "10.0.0.2", "fd00::1"]);
    assert!(
        r.answers.iter().all(|a| a.ttl == Some(300)),
        "{:?}",
        r.answers
    );
    assert!(r.latency < TIMEOUT, "{:?}", r.latency);
    assert!(r.cname_chain.is_empty());
    assert_eq!(dns::assess(&round), vec![]);

    let rows = serde_json::to_value(dns::report::rows(&round)).unwrap();
    assert_eq!(
        rows[0]["answers"],
        serde_json::json!(["10.0.0.1", "10.0.0.2", "fd00::1"])
    );
    assert_eq!(rows[0]["ttl"], 300);
    assert_eq!(rows[0]["rcode"], "NOERROR");
    assert_eq!(rows[0]["nameserver"], server.addr.to_string());
    assert_eq!(rows[0]["source"], "dns");
}

#[tokio::test]
async fn a_cname_chain_is_shown_in_order() {
    let server = TestDns::start().await;
    server.set_cname("www.test", "edge.test", 600);
    server.set_cname("edge.test", "origin.test", 600);
    server.set_addrs("origin.test", &["10.0.0.7"], &[], 30);
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(dir.path(), &["www.test"], &[server.addr])).await;
    let r = only(&round);
    assert_eq!(r.error, None);
    assert_eq!(r.cname_chain, ["edge.test", "origin.test"]);
    assert_eq!(addrs(r), ["10.0.0.7"]);
    assert_eq!(r.min_ttl(), Some(30));
}

#[tokio::test]
async fn nxdomain_is_a_failing_row_and_critical_when_it_is_the_only_answer() {
    let server = TestDns::start().await;
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(dir.path(), &["gone.test"], &[server.addr])).await;
    let r = only(&round);
    assert_eq!(r.rcode, Some(Rcode::NxDomain));
    assert_eq!(r.error.as_deref(), Some("NXDOMAIN: no such name"));
    assert!(r.answers.is_empty());
    let findings = dns::assess(&round);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].status, Status::Critical);
    let row = serde_json::to_value(&dns::report::rows(&round)[0]).unwrap();
    assert_eq!(row["rcode"], "NXDOMAIN");
    assert_eq!(row["ttl"], serde_json::Value::Null);
}

/// Judged per family: A answering while AAAA fails is a name that resolves, a warning, not
/// "does not resolve through any nameserver".
#[tokio::test]
async fn a_name_whose_aaaa_fails_while_its_a_answers_still_resolves() {
    let server = TestDns::start().await;
    server.set_addrs("half.test", &["10.0.0.7"], &[], 30);
    server.set_type_rcode(
        "half.test",
        hickory_server::proto::rr::RecordType::AAAA,
        hickory_server::proto::op::ResponseCode::ServFail,
    );
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(dir.path(), &["half.test"], &[server.addr])).await;
    let r = only(&round);
    assert_eq!(addrs(r), ["10.0.0.7"]);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.starts_with("AAAA: SERVFAIL")),
        "{:?}",
        r.error
    );
    let findings = dns::assess(&round);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].status, Status::Warning, "{findings:?}");
    assert!(
        findings[0]
            .message
            .starts_with("half.test resolves only in part through every nameserver"),
        "{}",
        findings[0].message
    );
}

#[tokio::test]
async fn servfail_and_refused_come_through_as_rcodes() {
    let server = TestDns::start().await;
    server.set_rcode("broken.test", ResponseCode::ServFail);
    server.set_rcode("private.test", ResponseCode::Refused);
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(
        dir.path(),
        &["broken.test", "private.test"],
        &[server.addr],
    ))
    .await;
    let [broken, private] = &round.results[..] else {
        panic!("{:#?}", round.results)
    };
    assert_eq!(broken.rcode, Some(Rcode::ServFail));
    assert_eq!(
        broken.error.as_deref(),
        Some("SERVFAIL: the server failed to answer")
    );
    assert_eq!(private.rcode, Some(Rcode::Refused));
    assert_eq!(
        private.error.as_deref(),
        Some("REFUSED: the server refused the query")
    );
}

#[tokio::test]
async fn a_port_with_no_server_and_a_silent_server_fail_within_the_timeout() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    let nobody = unused_port();
    let silent = silent_server();
    let silent_addr = silent.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();

    let started = Instant::now();
    let round = one_round(settings(
        dir.path(),
        &["app.test"],
        &[nobody, silent_addr, server.addr],
    ))
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < TIMEOUT + Duration::from_secs(1),
        "round took {elapsed:?}"
    );

    let [refused, hung, good] = &round.results[..] else {
        panic!("{:#?}", round.results)
    };
    assert_eq!(refused.nameserver, Nameserver::Addr(nobody));
    let refused_error = refused.error.as_deref().unwrap();
    assert!(
        refused_error == "connection refused" || refused_error == "timed out after 1s",
        "{refused_error}"
    );
    assert_eq!(refused.rcode, None);
    assert_eq!(hung.error.as_deref(), Some("timed out after 1s"));
    assert_eq!(hung.rcode, None);
    assert!(
        hung.latency < TIMEOUT + Duration::from_millis(500),
        "{:?}",
        hung.latency
    );
    assert_eq!(good.error, None);
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let mut datagrams = 0;
    while silent.recv(&mut buf).is_ok() {
        datagrams += 1;
    }
    // hickory resends within the timeout (UDP loss); what matters is that it was asked and
    // that no second attempt outlived the timeout (the elapsed check above).
    assert!(
        datagrams >= 2,
        "A and AAAA reached the silent server: {datagrams}"
    );

    let findings = dns::assess(&round);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        findings[0].status,
        Status::Warning,
        "one nameserver still answers"
    );
    assert!(
        findings[0].message.contains("2 of 3"),
        "{}",
        findings[0].message
    );
}

#[tokio::test]
async fn a_changed_answer_between_rounds_is_drift() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    let dir = tempfile::tempdir().unwrap();
    let mut runner = DnsLookups::new(settings(dir.path(), &["app.test"], &[server.addr]));
    let mut drift = DriftTracker::new();

    let first = runner.round().await;
    assert_eq!(drift.observe(&first), 0);
    server.set_addrs("app.test", &["10.0.0.2"], &[], 60);
    let second = runner.round().await;
    assert_eq!(second.seq, first.seq + 1);
    assert_eq!(drift.observe(&second), 1);

    let findings = drift.findings();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].status, Status::Warning);
    assert!(
        findings[0].message.contains("may still be using 10.0.0.1"),
        "{}",
        findings[0].message
    );
    let change = drift.history("app.test").next().unwrap();
    assert_eq!(
        (change.before.clone(), change.after.clone()),
        (vec![ip("10.0.0.1")], vec![ip("10.0.0.2")])
    );
    assert_eq!(change.seq, second.seq);
}

#[tokio::test]
async fn two_servers_that_disagree_are_found() {
    let (one, two) = (TestDns::start().await, TestDns::start().await);
    one.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    two.set_addrs("app.test", &["10.0.0.9"], &[], 60);
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(dir.path(), &["app.test"], &[one.addr, two.addr])).await;
    let findings = dns::assess(&round);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].status, Status::Warning);
    assert_eq!(
        findings[0].message,
        format!(
            "nameservers disagree on app.test: {} says 10.0.0.1; {} says 10.0.0.9",
            one.addr, two.addr
        )
    );
}

#[tokio::test]
async fn the_hosts_file_overrides_dns_for_the_system_configuration() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    server.set_addrs("other.test", &["10.0.0.3"], &[], 60);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    std::fs::write(dir.path().join("hosts"), "192.0.2.5 app.test\n").unwrap();
    let round = one_round(system_settings(
        dir.path(),
        &["app.test", "other.test"],
        server.addr.port(),
    ))
    .await;

    assert_eq!(
        round.nameservers,
        [Nameserver::System, Nameserver::Addr(server.addr)]
    );
    let [sys, direct, other_sys, other_direct] = &round.results[..] else {
        panic!("{:#?}", round.results)
    };
    assert_eq!(
        (sys.nameserver, sys.source),
        (Nameserver::System, Source::Hosts)
    );
    assert_eq!(addrs(sys), ["192.0.2.5"]);
    assert_eq!((sys.rcode, sys.min_ttl(), &sys.error), (None, None, &None));
    assert_eq!(
        (direct.source, addrs(direct)),
        (Source::Dns, vec!["10.0.0.1".to_string()])
    );
    // Not in the hosts file: the system configuration asks DNS.
    assert_eq!(
        (other_sys.source, addrs(other_sys)),
        (Source::Dns, vec!["10.0.0.3".to_string()])
    );
    assert_eq!(addrs(other_direct), ["10.0.0.3"]);

    let rows = serde_json::to_value(dns::report::rows(&round)).unwrap();
    assert_eq!(rows[0]["source"], "hosts");
    assert_eq!(rows[0]["nameserver"], "system");
    let findings = dns::assess(&round);
    assert!(
        findings
            .iter()
            .any(|f| f.message.contains("system says 192.0.2.5 (hosts file)")),
        "{findings:?}"
    );
}

#[tokio::test]
async fn localhost_comes_from_the_hosts_file_or_the_resolver_never_a_nameserver() {
    let server = TestDns::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    std::fs::write(dir.path().join("hosts"), "::1 localhost\n").unwrap();
    let mut runner = DnsLookups::new(system_settings(
        dir.path(),
        &["localhost"],
        server.addr.port(),
    ));

    let round = runner.round().await;
    let r = only(&round);
    assert_eq!(
        (r.nameserver, r.source),
        (Nameserver::System, Source::Hosts)
    );
    assert_eq!(addrs(r), ["::1"]);

    std::fs::write(dir.path().join("hosts"), "# nothing\n").unwrap();
    let round = runner.round().await;
    let r = only(&round);
    assert_eq!(
        (r.source, addrs(r)),
        (
            Source::Dns,
            vec!["127.0.0.1".to_string(), "::1".to_string()]
        )
    );
    assert_eq!(r.min_ttl(), None);
    assert_eq!(server.queries(), 0);
}

#[tokio::test]
async fn a_resolv_conf_change_is_picked_up_without_a_restart() {
    let v4 = TestDns::start().await;
    let v6_addr: SocketAddr = format!("[::1]:{}", v4.addr.port()).parse().unwrap();
    let v6 = TestDns::start_at(v6_addr)
        .await
        .expect("this test needs ::1 on the loopback interface, on the port 127.0.0.1 got");
    v4.set_addrs("app.test", &["10.0.0.4"], &[], 3600);
    v6.set_addrs("app.test", &["10.0.0.6"], &[], 3600);
    v6.set_addrs("app.corp.test", &["10.0.0.66"], &[], 3600);
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
    let mut runner = DnsLookups::new(system_settings(
        dir.path(),
        &["app.test", "app"],
        v4.addr.port(),
    ));

    let before = runner.round().await;
    assert_eq!(
        before.nameservers,
        [Nameserver::System, Nameserver::Addr(v4.addr)]
    );
    assert_eq!(addrs(&before.results[0]), ["10.0.0.4"]);
    assert!(
        before.results[2].error.is_some(),
        "no search domain yet: {:?}",
        before.results[2]
    );

    // Replaced the way resolvconf and NetworkManager do it: a new file renamed over the old.
    let new = dir.path().join("resolv.conf.new");
    std::fs::write(&new, "search corp.test\nnameserver ::1\n").unwrap();
    std::fs::rename(&new, &resolv).unwrap();
    let after = runner.round().await;
    assert_eq!(
        after.nameservers,
        [Nameserver::System, Nameserver::Addr(v6.addr)]
    );
    assert_eq!(addrs(&after.results[0]), ["10.0.0.6"]);
    let short = &after.results[2];
    assert_eq!(
        (short.nameserver, addrs(short)),
        (Nameserver::System, vec!["10.0.0.66".to_string()])
    );
    // Asked on its own, a nameserver gets the name as written: no search list (as nginx asks).
    assert_eq!(after.results[3].rcode, Some(Rcode::NxDomain));
}

#[tokio::test]
async fn names_that_are_not_dns_names_get_an_error_row_and_the_rest_resolve() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(300);
    let names = [
        "has space.test",
        long.as_str(),
        "a..b",
        "evil\x1b]0;pwned\x07.test",
        "",
        "app.test",
        "127.0.0.1",
    ];
    let before = server.queries();
    let round = one_round(settings(dir.path(), &names, &[server.addr])).await;

    let errors: Vec<&str> = round
        .results
        .iter()
        .map(|r| r.error.as_deref().unwrap_or("ok"))
        .collect();
    assert_eq!(
        errors,
        [
            "invalid DNS name: ' ' is not allowed (letters, digits, '-', '_' and dots only)",
            "invalid DNS name: 300 characters, more than the 253 a name can have",
            "invalid DNS name: empty label (a leading dot or two dots in a row)",
            "invalid DNS name: '\\u{1b}' is not allowed (letters, digits, '-', '_' and dots only)",
            "invalid DNS name: empty",
            "ok",
        ],
        "the IP literal is not looked up"
    );
    for r in &round.results {
        assert!(!r.name.chars().any(char::is_control), "{:?}", r.name);
    }
    assert_eq!(
        server.queries() - before,
        2,
        "only app.test was asked (A and AAAA)"
    );
    let critical = dns::assess(&round)
        .iter()
        .filter(|f| f.status == Status::Critical)
        .count();
    assert_eq!(critical, 5);
}

#[tokio::test]
async fn nothing_is_cached_between_rounds_whatever_the_ttl() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 86_400);
    let dir = tempfile::tempdir().unwrap();
    let mut runner = DnsLookups::new(settings(dir.path(), &["app.test"], &[server.addr]));
    assert_eq!(addrs(only(&runner.round().await)), ["10.0.0.1"]);
    let after_first = server.queries();
    server.set_addrs("app.test", &["10.0.0.2"], &[], 86_400);
    assert_eq!(addrs(only(&runner.round().await)), ["10.0.0.2"]);
    assert_eq!(server.queries() - after_first, 2, "A and AAAA asked again");
}

#[tokio::test]
async fn a_slow_answer_is_a_warning() {
    let server = TestDns::start().await;
    server.set_addrs("slow.test", &["10.0.0.1"], &[], 60);
    server.delay("slow.test", Duration::from_millis(600));
    let dir = tempfile::tempdir().unwrap();
    let round = one_round(settings(dir.path(), &["slow.test"], &[server.addr])).await;
    let r = only(&round);
    assert_eq!(r.error, None);
    assert!(r.latency >= Duration::from_millis(600), "{:?}", r.latency);
    let findings = dns::assess(&round);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].message.starts_with("slow DNS for slow.test"),
        "{}",
        findings[0].message
    );
}

#[tokio::test]
async fn the_collector_delivers_rounds_and_reruns_coalesce() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DnsRound>(4);
    let engine = DnsCollector::spawn(
        settings(dir.path(), &["app.test"], &[server.addr]),
        Outbox::new(tx),
    )
    .unwrap();
    let wait = Duration::from_secs(5);
    let first = tokio::time::timeout(wait, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(addrs(only(&first)), ["10.0.0.1"]);

    // The interval is a minute: anything that arrives now was a rerun.
    for _ in 0..5 {
        engine.rerun();
    }
    let second = tokio::time::timeout(wait, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.seq, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "five reruns made one round");
    assert!(engine.is_running());

    // A gone receiver stops the collector after its next round.
    drop(rx);
    engine.rerun();
    let deadline = Instant::now() + wait;
    while engine.is_running() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!engine.is_running());
}

#[tokio::test]
async fn a_full_channel_holds_rounds_back_and_drops_none() {
    let server = TestDns::start().await;
    server.set_addrs("app.test", &["10.0.0.1"], &[], 60);
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DnsRound>(1);
    let collector = DnsCollector::spawn(
        settings(dir.path(), &["app.test"], &[server.addr]),
        Outbox::new(tx),
    )
    .unwrap();
    // Nobody reads yet: the first round fills the channel, the second waits for room, and the
    // third rerun joins the one pending behind it.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        collector.rerun();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seqs = Vec::new();
    while let Ok(Some(round)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
        seqs.push(round.seq);
    }
    assert_eq!(seqs, [1, 2, 3], "a round was dropped or reruns piled up");
}

#[test]
fn the_collector_needs_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel::<DnsRound>(1);
    let result = DnsCollector::spawn(settings(dir.path(), &[], &[]), Outbox::new(tx));
    assert!(matches!(result, Err(SpawnError::NoRuntime)));
}

#[test]
fn family_mismatch_takes_what_the_probes_found() {
    let addrs = [ip("::1"), ip("127.0.0.1")];
    let accepting = HashMap::from([(addrs[0], false), (addrs[1], true)]);
    let finding = dns::family_mismatch("localhost", 8080, &addrs, &accepting).unwrap();
    assert_eq!(finding.status, Status::Warning);
}

/// 640 nameservers that never answer (one silent socket on 0.0.0.0, reached at 640 loopback
/// addresses): ten waves of lookups would take ten timeouts; the round ends after
/// `ROUND_TIMEOUTS` of them, every lookup left over with an error row saying why.
#[tokio::test]
async fn a_round_ends_in_bounded_time_however_many_nameservers_are_dead() {
    let silent = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let servers: Vec<SocketAddr> = (0..640u32)
        .map(|i| SocketAddr::from(([127, 1, (i / 250) as u8, (i % 250 + 1) as u8], port)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let round = one_round(DnsSettings {
        timeout,
        ..settings(dir.path(), &["dead.test"], &servers)
    })
    .await;
    let took = started.elapsed();
    let bound = timeout * gatewatch::dns::ROUND_TIMEOUTS;
    assert!(
        took < bound + Duration::from_millis(700),
        "the round took {took:?} (bound {bound:?})"
    );
    assert_eq!(round.results.len(), 640);
    assert!(round.results.iter().all(|r| r.error.is_some()));
    let late = round
        .results
        .iter()
        .filter(|r| {
            r.error
                .as_deref()
                .is_some_and(|e| e.starts_with("not asked in time"))
        })
        .count();
    assert!(late > 300, "{late} lookups cut by the deadline");
    drop(silent);
}

//! One judgement, two front ends: the same collected inputs go through the dashboard's update
//! path (`App::update`, event by event) and through `check`'s (`check::judge`, one round), and
//! both must reach the same status, findings, checklist and verdict.
//!
//! The inputs are real: probes of loopback ports that listen or refuse, a DNS round against a
//! DNS server of the test's own, service status commands that run, a log file on disk (scanned
//! backwards by `check`, turned into lines by the follower's own line builder for the dashboard).
//! Only the host sample is fixed, so the build machine's load cannot change the verdict, and the
//! firewall summary is parsed from a rule text, so the host's own rules play no part.

mod dns_server;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, SystemTime};

use dns_server::TestDns;
use gatewatch::actions::{self, ActionEvent, ServiceSpec};
use gatewatch::app::{App, Event};
use gatewatch::check::{self, Collected, Round};
use gatewatch::config::{Argv, HttpMethod, StatusRange, Target, Upstream};
use gatewatch::diagnosis::Cause as Blame;
use gatewatch::dns::{DnsLookups, DnsSettings, Nameserver};
use gatewatch::firewall::{self, Tool};
use gatewatch::host::{EphemeralPorts, FileHandles, HostSample, TcpStates};
use gatewatch::logs::{self, LogBatch, SourceSpec, SourceStatus, TimeParser};
use gatewatch::model::{Assessment, Model, Watch};
use gatewatch::status::Status;
use gatewatch::upstream::catalog::{Catalog, Entry};
use gatewatch::upstream::{self, Outcome, ProbeResult};
use hickory_server::proto::op::ResponseCode;

/// A quiet host: no host finding can mask the cause under test.
fn healthy_host() -> HostSample {
    HostSample {
        hostname: "proxy-1".into(),
        uptime: Duration::from_secs(3600),
        cores: 4,
        cpu_total: 5.0,
        cpu_per_core: vec![5.0; 4],
        load: [0.2, 0.2, 0.2],
        mem_used: 1 << 30,
        mem_total: 8 << 30,
        swap_used: 0,
        swap_total: 0,
        processes: vec![],
        sockets: Ok(TcpStates::default()),
        ports: Ok(EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 10,
            ..Default::default()
        }),
        sockets_age: Duration::ZERO,
        files: Ok(FileHandles {
            used: 1000,
            max: 100_000,
        }),
    }
}

fn entry(name: &str, host: &str, port: u16) -> Entry {
    Entry {
        upstream: Upstream {
            name: name.into(),
            url: Target::Tcp {
                host: host.into(),
                port,
            },
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(5),
            expect: StatusRange::DEFAULT,
            method: HttpMethod::Get,
            host: None,
            tls_verify: true,
            slow: Duration::from_millis(500),
            from: None,
        },
        group: None,
        source: "config".into(),
        flags: vec![],
        notes: vec![],
        limits: None,
    }
}

/// A loopback port nothing listens on: bound, then closed.
fn refusing_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn service(name: &str, status: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        status: Some(Argv(vec![status.into()])),
        test: None,
        reload: None,
        restart: None,
        timeout: Duration::from_secs(5),
        origin: "config".into(),
    }
}

fn dns_settings(dir: &Path, names: &[&str], server: SocketAddr) -> DnsSettings {
    DnsSettings {
        names: names.iter().map(|s| s.to_string()).collect(),
        nameservers: vec![Nameserver::Addr(server)],
        extra_nameservers: Vec::new(),
        timeout: Duration::from_secs(2),
        interval: Duration::from_secs(60),
        hosts_file: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
        resolv_conf_port: 53,
        ports: Vec::new(),
    }
}

/// `now` in whole seconds, as both paths see it.
fn now() -> SystemTime {
    let secs = jiff::Timestamp::now().as_second();
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"))
}

/// An access line answered `status` by `upstream` at `at`, in nginx's combined format plus the
/// upstream address.
fn access_line(at: SystemTime, status: u16, upstream: &str) -> String {
    let t = jiff::Timestamp::try_from(at).expect("time");
    format!(
        "127.0.0.1 - - [{}] \"GET /cart HTTP/1.1\" {status} 157 \"-\" \"curl/8\" \"{upstream}\"",
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%d/%b/%Y:%H:%M:%S %z")
    )
}

/// What one scenario watches and what its collectors found.
struct Case {
    catalog: Catalog,
    dns: DnsSettings,
    logs: Vec<SourceSpec>,
    services: Vec<ServiceSpec>,
    collected: Collected,
    /// The log file's lines, which the dashboard receives as a follower batch.
    log_text: String,
    /// Nothing: this judgement is of the given inputs only.
    timeline: gatewatch::timeline::collect::Sources,
}

impl Case {
    /// Runs the real collectors (probes, DNS, services, the log scan) once.
    async fn collect(
        catalog: Catalog,
        dns: DnsSettings,
        log: (&Path, &str),
        services: Vec<ServiceSpec>,
        firewall_rules: &str,
        now: SystemTime,
    ) -> Case {
        let (path, text) = log;
        std::fs::write(path, text).expect("write the log");
        let logs = vec![SourceSpec::file(path, None)];
        let probes = upstream::probe_all(&catalog.upstreams()).await;
        let round = DnsLookups::new(dns.clone()).round().await;
        let specs = services.clone();
        let statuses = tokio::task::spawn_blocking(move || actions::check_all(&specs))
            .await
            .expect("status checks");
        let span = logs::ScanSpan {
            tz: jiff::tz::TimeZone::UTC,
            ..logs::ScanSpan::recent(gatewatch::model::unix_seconds(now))
        };
        let scanned = logs::scan_source(logs[0].label(), path, None, &span);
        let summary =
            firewall::summarise(now, vec![(Tool::Iptables, Ok(firewall_rules.to_string()))]);
        Case {
            catalog,
            dns,
            logs,
            services,
            collected: Collected {
                sample: Some(healthy_host()),
                probes,
                not_probed: Vec::new(),
                dns: Some(round),
                firewall: Some(summary),
                gateway: None,
                services: statuses,
                logs: vec![(0, scanned)],
                histories: Vec::new(),
                proxy_views: Vec::new(),
                timeline: None,
                unfinished: Vec::new(),
            },
            log_text: text.to_string(),
            timeline: gatewatch::timeline::collect::Sources::nothing(),
        }
    }

    fn round(&self) -> Round<'_> {
        Round {
            catalog: &self.catalog,
            dns: &self.dns,
            timeline: &self.timeline,
            logs: &self.logs,
            gateway: None,
            services: &self.services,
            lines_past_window: false,
            notices: &[],
        }
    }

    /// `check`'s path: one round filed and judged.
    fn check(&self, now: SystemTime) -> Assessment {
        check::judge(&self.round(), self.collected.clone(), now).1
    }

    /// The dashboard's path: the same results as the events its collectors send.
    fn dashboard(&self, now: SystemTime) -> Assessment {
        let clock = jiff::Timestamp::try_from(now)
            .expect("time")
            .to_zoned(jiff::tz::TimeZone::UTC);
        let model = Model::new(&Watch {
            catalog: &self.catalog,
            names: self.dns.names.clone(),
            logs: &self.logs,
            services: &self.services,
            gateway: None,
            span: gatewatch::config::Timeline::default().span,
        });
        let mut app = App::new(clock, (120, 40)).with_model(model);
        let c = self.collected.clone();
        if let Some(sample) = c.sample {
            app.update(Event::Host(Box::new(sample)));
        }
        for r in c.probes {
            app.update(Event::Probes(vec![r]));
        }
        if let Some(round) = c.dns {
            app.update(Event::Dns(Box::new(round)));
        }
        if let Some(summary) = c.firewall {
            app.update(Event::Firewall(Box::new(summary)));
        }
        for s in c.services {
            app.update(Event::Action(Box::new(ActionEvent::Status(Box::new(s)))));
        }
        let mut times = TimeParser::new(jiff::tz::TimeZone::UTC);
        let lines = self
            .log_text
            .lines()
            .map(|l| logs::make_line(l.as_bytes(), 0, None, &mut times))
            .collect();
        app.update(Event::Log(Box::new(LogBatch {
            source: 0,
            skipped: Default::default(),
            lines,
            status: SourceStatus::Following,
            events: vec![],
        })));
        app.settle();
        app.judged.clone()
    }

    /// Both paths, compared; returns the one judgement.
    fn judged_alike(&self, now: SystemTime) -> Assessment {
        let dashboard = self.dashboard(now);
        let check = self.check(now);
        assert_eq!(dashboard.status, check.status, "status");
        assert_eq!(dashboard.findings, check.findings, "findings");
        assert_eq!(
            dashboard.diagnosis.steps, check.diagnosis.steps,
            "checklist"
        );
        assert_eq!(
            dashboard.diagnosis.verdict, check.diagnosis.verdict,
            "verdict"
        );
        check
    }
}

/// Six incidents, one healthy baseline; each judged alike by both paths, and judged right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_check_judge_the_same_inputs_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let dns = TestDns::start().await;
    dns.set_addrs("shop.test", &["127.0.0.1"], &[], 300);
    dns.set_rcode("gone.test", ResponseCode::NXDomain);
    let up = TcpListener::bind("127.0.0.1:0").expect("bind");
    let up_port = up.local_addr().expect("addr").port();
    let down_port = refusing_port();
    let now = now();
    let quiet_log = format!("{}\n", access_line(now, 200, "127.0.0.1:1"));
    let names = |n: &[&str]| dns_settings(dir.path(), n, dns.addr);
    let shop = || entry("shop", "127.0.0.1", up_port);

    let healthy = Case::collect(
        Catalog {
            entries: vec![shop()],
            ..Catalog::default()
        },
        names(&["shop.test"]),
        (&log, &quiet_log),
        vec![service("shop", "true")],
        "",
        now,
    )
    .await;
    let j = healthy.judged_alike(now);
    assert_eq!(j.status, Status::Ok, "{:?}", j.findings);
    assert_eq!(j.diagnosis.verdict.cause, Blame::NoCause);

    let refusing = Case::collect(
        Catalog {
            entries: vec![shop(), entry("api", "127.0.0.1", down_port)],
            ..Catalog::default()
        },
        names(&["shop.test"]),
        (&log, &quiet_log),
        vec![],
        "",
        now,
    )
    .await;
    let j = refusing.judged_alike(now);
    assert_eq!(j.status, Status::Critical);
    assert_eq!(j.diagnosis.verdict.cause, Blame::UpstreamDown, "{:?}", j);

    // 60 502s in the last minute: a flood, critical by the same count in both.
    let flood: String = (0..60)
        .map(|i| access_line(now - Duration::from_secs(i), 502, "127.0.0.1:9000") + "\n")
        .collect();
    let flooded = Case::collect(
        Catalog {
            entries: vec![shop()],
            ..Catalog::default()
        },
        names(&["shop.test"]),
        (&log, &flood),
        vec![],
        "",
        now,
    )
    .await;
    let j = flooded.judged_alike(now);
    assert_eq!(j.status, Status::Critical, "{:?}", j.findings);
    assert!(
        j.findings
            .iter()
            .any(|f| f.message.contains("60 of 60 requests failed (100%)")),
        "{:?}",
        j.findings
    );

    let nxdomain = Case::collect(
        Catalog {
            entries: vec![shop()],
            ..Catalog::default()
        },
        names(&["shop.test", "gone.test"]),
        (&log, &quiet_log),
        vec![],
        "",
        now,
    )
    .await;
    let j = nxdomain.judged_alike(now);
    assert_eq!(j.status, Status::Critical, "{:?}", j.findings);
    assert!(
        j.findings.iter().any(|f| f.message.contains("gone.test")),
        "{:?}",
        j.findings
    );

    let blocked = Case::collect(
        Catalog {
            entries: vec![entry("api", "127.0.0.1", down_port)],
            ..Catalog::default()
        },
        names(&["shop.test"]),
        (&log, &quiet_log),
        vec![],
        &format!("-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport {down_port} -j DROP\n"),
        now,
    )
    .await;
    let j = blocked.judged_alike(now);
    assert_eq!(j.diagnosis.verdict.cause, Blame::Firewall, "{:?}", j);

    let stopped = Case::collect(
        Catalog {
            entries: vec![shop()],
            ..Catalog::default()
        },
        names(&["shop.test"]),
        (&log, &quiet_log),
        vec![service("shop", "true"), service("inventory", "false")],
        "",
        now,
    )
    .await;
    let j = stopped.judged_alike(now);
    assert_eq!(j.status, Status::Critical);
    assert_eq!(j.diagnosis.verdict.cause, Blame::ServiceDown, "{:?}", j);
    drop(up);
}

/// A flood batch merges alike lines into one mark; every line of it counts, in the findings and
/// in the checklist's "most at upstream X" alike (a mark of 40 lines once counted as 1 there).
#[test]
fn a_merged_flood_mark_counts_all_its_lines() {
    let now = now();
    let t = gatewatch::model::unix_seconds(now);
    let specs = vec![SourceSpec::file("/var/log/nginx/error.log", None)];
    let catalog = Catalog::default();
    let model = Model::new(&Watch {
        catalog: &catalog,
        names: vec![],
        logs: &specs,
        services: &[],
        gateway: None,
        span: gatewatch::config::Timeline::default().span,
    });
    let clock = jiff::Timestamp::try_from(now)
        .expect("time")
        .to_zoned(jiff::tz::TimeZone::UTC);
    let mut app = App::new(clock, (120, 40)).with_model(model);
    let mut skipped = logs::Skipped::default();
    for _ in 0..40 {
        skipped.mark(
            Some(logs::Cause::Refused),
            None,
            Some("http://127.0.0.1:8080/"),
            Some(t),
        );
    }
    assert_eq!(skipped.marks.len(), 1, "alike lines merge into one mark");
    app.update(Event::Host(Box::new(healthy_host())));
    app.update(Event::Log(Box::new(LogBatch {
        source: 0,
        skipped,
        lines: vec![],
        status: SourceStatus::Following,
        events: vec![],
    })));
    app.settle();
    let logs_step = app
        .judged
        .diagnosis
        .step(gatewatch::diagnosis::StepId::Logs)
        .expect("logs step");
    assert!(
        logs_step
            .evidence
            .contains("most at http://127.0.0.1:8080/ (40)"),
        "{}",
        logs_step.evidence
    );
    assert!(
        app.judged
            .findings
            .iter()
            .any(|f| f.message.contains("40 upstream failures")),
        "{:?}",
        app.judged.findings
    );
}

/// Probe results are what they are whatever the path; a sanity check that the refusing port
/// really refuses here, so the scenarios above test what they say.
#[tokio::test]
async fn the_refusing_port_refuses() {
    let r: ProbeResult =
        upstream::probe_once(&entry("x", "127.0.0.1", refusing_port()).upstream).await;
    assert_eq!(r.outcome, Outcome::Refused);
}

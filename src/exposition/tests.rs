use std::time::{Duration, SystemTime};

use super::*;
use crate::model::assess;
use crate::model::upstreams::tests::{entry, result};
use crate::upstream::Outcome;
use crate::upstream::catalog::Catalog;

fn model_of(names: &[&str]) -> Model {
    let catalog = Catalog {
        entries: names
            .iter()
            .enumerate()
            .map(|(i, n)| entry(n, 1000 + i as u16))
            .collect(),
        ..Catalog::default()
    };
    let mut model = Model::default();
    model.upstreams = crate::model::upstreams::Upstreams::new(&catalog);
    model
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn render_both(model: &Model) -> [String; 2] {
    let judged = assess(model, now());
    [Format::Text, Format::OpenMetrics].map(|f| render(model, &judged, Mode::Serve, now(), f))
}

#[test]
fn hostile_names_come_out_escaped() {
    let hostile = "evil\"}\n\\ 1\u{1b}[2J\u{7}";
    let mut model = model_of(&[hostile, "fine"]);
    model.upstreams.apply(result(0, 1, Outcome::Refused));
    let mut ok = result(1, 2, Outcome::Ok);
    ok.status_code = Some(200);
    model.upstreams.apply(ok);
    for out in render_both(&model) {
        let escaped = r#"evil\"}\n\\ 1\\x1b[2J\\x07"#;
        assert!(
            out.contains(&format!(
                "gatewatch_upstream_up{{upstream=\"{escaped}\",target=\"tcp://127.0.0.1:1000\"}} 0\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "gatewatch_upstream_probe_failures_total{{upstream=\"{escaped}\",outcome=\"refused\"}} 1\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(
                "gatewatch_upstream_up{upstream=\"fine\",target=\"tcp://127.0.0.1:1001\"} 1\n"
            ),
            "{out}"
        );
        assert!(out.contains("gatewatch_upstream_status_code{upstream=\"fine\"} 200\n"));
        assert!(out.contains(
            "gatewatch_upstream_probe_duration_seconds{upstream=\"fine\",phase=\"total\"} 0.003\n"
        ));
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out}");
        // Every line is a comment or a sample: a raw newline in a value would break one.
        for line in out.lines() {
            assert!(
                line.starts_with("# ") || line.starts_with("gatewatch_"),
                "{line:?}"
            );
        }
    }
}

#[test]
fn openmetrics_ends_with_eof_and_names_counter_families_without_total() {
    let mut model = model_of(&["a"]);
    model.upstreams.apply(result(0, 1, Outcome::Timeout));
    let [text, om] = render_both(&model);
    assert!(om.ends_with("\n# EOF\n"), "{om}");
    assert!(!text.contains("# EOF"));
    assert!(om.contains("# TYPE gatewatch_upstream_probe_failures counter\n"));
    assert!(text.contains("# TYPE gatewatch_upstream_probe_failures_total counter\n"));
    assert!(om.contains(
        "gatewatch_upstream_probe_failures_total{upstream=\"a\",outcome=\"timeout\"} 1\n"
    ));
    for out in [&text, &om] {
        assert!(out.starts_with("# HELP gatewatch_up "), "{out}");
        assert!(out.contains("\ngatewatch_up 1\n"));
        assert!(out.contains("\ngatewatch_verdict_info{cause=\""));
    }
}

#[test]
fn the_cap_keeps_the_worst_upstreams_and_counts_the_rest() {
    let names: Vec<String> = (0..MAX_UPSTREAMS + 7).map(|i| format!("u{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut model = model_of(&refs);
    // All up but the last three, which are down: they must be among those exported.
    let results = (0..refs.len()).map(|i| {
        let outcome = if i >= refs.len() - 3 {
            Outcome::Refused
        } else {
            Outcome::Ok
        };
        result(i, i as u64 + 1, outcome)
    });
    model.upstreams.apply_all(results);
    let [text, _] = render_both(&model);
    assert!(
        text.contains("\ngatewatch_upstreams_not_exported 7\n"),
        "cap"
    );
    assert_eq!(
        text.matches("\ngatewatch_upstream_up{").count(),
        MAX_UPSTREAMS
    );
    for name in &names[names.len() - 3..] {
        assert!(
            text.contains(&format!(
                "gatewatch_upstream_up{{upstream=\"{name}\",target="
            )),
            "{name} is down: exported first"
        );
    }
}

#[test]
fn check_leaves_out_counters_that_need_time() {
    let mut model = model_of(&["a"]);
    model.upstreams.apply(result(0, 1, Outcome::Refused));
    let mut source = crate::logs::SourceLog::new("/var/log/nginx/error.log", Default::default());
    source.tally.lines = 12;
    model.logs.sources.push(source);
    let judged = assess(&model, now());
    let serve = render(&model, &judged, Mode::Serve, now(), Format::Text);
    let check = render(&model, &judged, Mode::Check, now(), Format::Text);
    assert!(serve.contains("gatewatch_log_lines_total{log=\"/var/log/nginx/error.log\"} 12\n"));
    assert!(!check.contains("gatewatch_log_lines_total"));
    assert!(!check.contains("gatewatch_log_502_total"));
    assert!(check.contains("gatewatch_log_502_window{log=\"/var/log/nginx/error.log\"} 0\n"));
    assert!(check.contains(
        "gatewatch_upstream_probe_failures_total{upstream=\"a\",outcome=\"refused\"} 1\n"
    ));
}

#[test]
fn duplicate_names_get_distinct_series() {
    let mut model = model_of(&["same", "same"]);
    model.upstreams.apply(result(0, 1, Outcome::Ok));
    model.upstreams.apply(result(1, 2, Outcome::Ok));
    let [text, _] = render_both(&model);
    assert!(text.contains("{upstream=\"same (tcp://127.0.0.1:1000)\",phase=\"total\"}"));
    assert!(
        text.contains("{upstream=\"same (tcp://127.0.0.1:1001)\",phase=\"total\"}"),
        "{text}"
    );
}

#[test]
fn accept_picks_openmetrics_only_when_asked() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(format_for_accept(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(
        format_for_accept(Some("text/plain;version=0.0.4")),
        Format::Text
    );
    assert_eq!(format_for_accept(Some("*/*")), Format::Text);
    assert_eq!(format_for_accept(None), Format::Text);
    assert_eq!(
        format_for_accept(Some("application/openmetrics-text;q=0,text/plain")),
        Format::Text
    );
    assert_eq!(Format::OpenMetrics.content_type(), OPENMETRICS_CONTENT_TYPE);
}

fn lookup(name: &str, addr: &str, rcode: Option<crate::dns::Rcode>) -> crate::dns::DnsResult {
    use crate::dns::{Answer, DnsResult, Nameserver, Source};
    let failed = rcode.is_some_and(|c| c != crate::dns::Rcode::NoError);
    DnsResult {
        name: name.into(),
        nameserver: Nameserver::Addr("127.0.0.53:53".parse().unwrap()),
        answers: if failed {
            vec![]
        } else {
            vec![Answer {
                addr: addr.parse().unwrap(),
                ttl: Some(30),
            }]
        },
        cname_chain: vec![],
        rcode,
        latency: Duration::from_millis(12),
        error: failed.then(|| "SERVFAIL".to_owned()),
        source: Source::Dns,
    }
}

fn round(seq: u64, results: Vec<crate::dns::DnsResult>) -> crate::dns::DnsRound {
    crate::dns::DnsRound {
        seq,
        finished_at: now(),
        elapsed: Duration::from_millis(20),
        nameservers: vec![],
        results,
        problems: vec![],
        family: vec![],
    }
}

#[test]
fn dns_lookups_failures_and_answer_changes_since_start() {
    use crate::dns::Rcode;
    let mut model = model_of(&[]);
    model.apply_dns(
        round(
            1,
            vec![
                lookup("app.internal", "10.0.0.1", Some(Rcode::NoError)),
                lookup("db.internal", "", Some(Rcode::ServFail)),
            ],
        ),
        now(),
    );
    model.apply_dns(
        round(
            2,
            vec![
                lookup("app.internal", "10.0.0.2", Some(Rcode::NoError)),
                lookup("db.internal", "", Some(Rcode::ServFail)),
            ],
        ),
        now(),
    );
    let judged = assess(&model, now());
    let serve = render(&model, &judged, Mode::Serve, now(), Format::Text);
    assert!(serve.contains(
        "gatewatch_dns_lookup_duration_seconds{name=\"app.internal\",nameserver=\"127.0.0.53:53\"} 0.012\n"
    ), "{serve}");
    assert!(
        serve.contains("gatewatch_dns_lookup_failures_total{name=\"db.internal\",nameserver=\"127.0.0.53:53\",rcode=\"SERVFAIL\"} 2\n"),
        "two rounds, two failures: {serve}"
    );
    assert!(
        serve.contains("gatewatch_dns_answer_changes_total{name=\"app.internal\"} 1\n"),
        "{serve}"
    );
    let check = render(&model, &judged, Mode::Check, now(), Format::Text);
    assert!(
        !check.contains("gatewatch_dns_answer_changes_total"),
        "{check}"
    );
    assert!(check.contains("gatewatch_dns_lookup_failures_total{"));
}

#[test]
fn host_and_services_as_the_report_converts_them() {
    use crate::actions::{ServiceState, ServiceStatus};
    use crate::host::{EphemeralPorts, HostSample, TcpState, TcpStates};
    let mut model = model_of(&[]);
    model.apply_host(HostSample {
        hostname: "proxy-1".into(),
        uptime: Duration::from_secs(100),
        cores: 2,
        cpu_total: 1.0,
        cpu_per_core: vec![1.0, 1.0],
        load: [0.1, 0.1, 0.1],
        mem_used: 1,
        mem_total: 4,
        swap_used: 0,
        swap_total: 0,
        processes: vec![],
        sockets: Ok(TcpStates {
            counts: [(TcpState::Established, 3), (TcpState::TimeWait, 7)]
                .into_iter()
                .collect(),
            malformed_lines: 0,
        }),
        ports: Ok(EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 5,
            ..Default::default()
        }),
        sockets_age: Duration::ZERO,
        files: Err("/proc/sys/fs/file-nr: Permission denied".into()),
    });
    let status = |name: &str, state| ServiceStatus {
        service: 0,
        name: name.into(),
        state,
        detail: String::new(),
        command: None,
        at: now(),
    };
    model.services.statuses = vec![
        Some(status("nginx", ServiceState::Running)),
        Some(status("php-fpm", ServiceState::Stopped)),
        Some(status("mystery", ServiceState::Unknown)),
    ];
    let [text, _] = render_both(&model);
    for line in [
        "gatewatch_host_ephemeral_ports_used 5\n",
        "gatewatch_host_ephemeral_ports_available 28232\n",
        "gatewatch_host_sockets{state=\"ESTABLISHED\"} 3\n",
        "gatewatch_host_sockets{state=\"TIME_WAIT\"} 7\n",
        "gatewatch_service_up{service=\"nginx\"} 1\n",
        "gatewatch_service_up{service=\"php-fpm\"} 0\n",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(!text.contains("mystery"), "an unknown state is no sample");
    assert!(
        !text.contains("gatewatch_host_file_handles"),
        "unreadable: absent, not 0"
    );
}

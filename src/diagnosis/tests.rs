//! The verdict rules and the checklist on fixed inputs: each rule, the priority between them, and
//! the exact evidence text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::firewall::{self, Tool};
use crate::logs::{Cause as LogCause, Format, WindowCounts};
use crate::upstream::{Outcome, State};

fn upstream(name: &str, url: &str) -> UpstreamInput {
    let url: crate::config::Target = url.parse().expect("url");
    let mut u = UpstreamInput::new(name, &url, Duration::from_secs(2));
    u.state = Some(State::Up);
    u.outcome = Some(Outcome::Ok);
    u.latency = Some(Duration::from_millis(4));
    if let (Some(a), Some(p)) = (u.addrs.first(), u.port) {
        u.addr = Some(format!("{a}:{p}"));
    }
    u
}

fn down(name: &str, url: &str, outcome: Outcome) -> UpstreamInput {
    let mut u = upstream(name, url);
    u.state = Some(State::Down);
    u.outcome = Some(outcome);
    u.latency = None;
    u.since = Some(Duration::from_secs(90));
    u
}

fn error_log(causes: &[(LogCause, u64)], upstreams: &[(&str, u64)]) -> LogInput {
    LogInput::fresh(
        "/var/log/nginx/error.log",
        Some(Format::NginxError),
        WindowCounts {
            causes: causes.iter().copied().collect::<BTreeMap<_, _>>(),
            upstreams: upstreams.iter().map(|(u, n)| (u.to_string(), *n)).collect(),
            ..WindowCounts::default()
        },
    )
}

fn access_log(status_502: u64) -> LogInput {
    LogInput::fresh(
        "/var/log/nginx/access.log",
        Some(Format::Access),
        WindowCounts {
            status_5xx: status_502,
            status_502,
            ..WindowCounts::default()
        },
    )
}

fn host(load1: f64) -> HostInput {
    let mut h = HostInput {
        load1,
        cores: 2,
        cpu_percent: 20.0,
        mem_used_percent: 40.0,
        files: Some((1000, 100_000)),
        ports: Some(inputs::default_range(100)),
        busiest: vec![],
        findings: vec![],
    };
    if load1 > 2.0 {
        h.findings.push(crate::status::Finding::new(
            if load1 > 4.0 {
                Status::Critical
            } else {
                Status::Warning
            },
            format!("load {load1:.2} is above 2 cores"),
        ));
    }
    h
}

fn iptables(inputs: &mut Inputs, rules: &str) {
    let summary = firewall::summarise(
        SystemTime::UNIX_EPOCH,
        vec![(Tool::Iptables, Ok(rules.to_owned()))],
    );
    inputs.firewall = Some(Arc::new(FirewallInput::new(summary, &inputs.upstreams)));
}

fn shop_refused() -> Inputs {
    Inputs {
        host: Some(host(0.3)),
        upstreams: vec![
            down("shop", "http://10.0.0.5:8080/", Outcome::Refused),
            upstream("api", "http://10.0.0.6:9000/"),
        ],
        logs: vec![
            error_log(&[(LogCause::Refused, 32)], &[("http://10.0.0.5:8080", 32)]),
            access_log(30),
        ],
        ..Inputs::default()
    }
}

fn verdict(inputs: &Inputs) -> Verdict {
    diagnose(inputs).verdict
}

#[test]
fn a_refusing_upstream_is_named_with_its_log_lines_and_the_next_step() {
    let v = verdict(&shop_refused());
    assert_eq!(v.cause, Cause::UpstreamDown);
    assert_eq!(v.status, Status::Critical);
    assert_eq!(
        v.text,
        "upstream shop 10.0.0.5:8080 refuses connections (32 × \"connect() failed (111)\" in \
         error.log, last 2 min; down for 1m30s; probe: refused): is its process running? \
         restart it"
    );
    let mut with_service = shop_refused();
    with_service.services.push(ServiceInput {
        name: "shop".into(),
        status: Status::Critical,
        state: "inactive".into(),
    });
    assert_eq!(
        verdict(&with_service).next_step_keyed(),
        "is its process running? restart shop (a)"
    );
}

#[test]
fn lines_blamed_on_another_upstream_are_not_the_evidence() {
    let mut inputs = shop_refused();
    inputs.logs.push(LogInput {
        source: "/var/log/nginx/legacy-error.log".into(),
        ..error_log(&[(LogCause::Refused, 60)], &[("http://10.9.9.9:80", 60)])
    });
    let v = verdict(&inputs);
    assert!(
        v.text
            .contains("(32 × \"connect() failed (111)\" in error.log, last 2 min; down for 1m30s; probe: refused)"),
        "{}",
        v.text
    );
    // A format that names no upstream counts whole.
    inputs.logs = vec![LogInput {
        format: Some(Format::ApacheError),
        ..error_log(&[(LogCause::Refused, 7)], &[])
    }];
    assert!(
        verdict(&inputs)
            .text
            .contains("(7 × \"refused\" in error.log, last 2 min;")
    );
}

#[test]
fn the_upstream_the_logs_blame_most_is_named_first() {
    let mut inputs = shop_refused();
    inputs.upstreams[1] = down("api", "http://10.0.0.6:9000/", Outcome::Refused);
    inputs.upstreams[1].since = Some(Duration::from_secs(3600));
    let v = verdict(&inputs);
    assert!(
        v.text.starts_with("upstream shop 10.0.0.5:8080"),
        "{}",
        v.text
    );
    assert!(v.text.contains("1 more upstream down"), "{}", v.text);
}

#[test]
fn a_firewall_rule_naming_the_upstream_comes_before_the_upstream_itself() {
    let mut inputs = shop_refused();
    inputs.upstreams[0].outcome = Some(Outcome::Timeout);
    iptables(
        &mut inputs,
        "-P OUTPUT ACCEPT\n-A OUTPUT -d 10.0.0.5/32 -p tcp -m tcp --dport 8080 -j DROP\n",
    );
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::Firewall);
    assert_eq!(v.status, Status::Critical);
    assert_eq!(
        v.text,
        "the firewall blocks upstream shop 10.0.0.5:8080 (iptables OUTPUT: -A OUTPUT -d \
         10.0.0.5/32 -p tcp -m tcp --dport 8080 -j DROP; probes: does not answer within 2s): \
         remove or narrow that rule, or ACCEPT 10.0.0.5 port 8080 before it; then rerun the checks"
    );
    let f = findings(&inputs);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].status, Status::Critical);
    assert!(f[0].message.starts_with("firewall blocks upstream shop"));
}

#[test]
fn a_reject_rule_explains_refused_connections() {
    let mut inputs = shop_refused();
    iptables(
        &mut inputs,
        "-A OUTPUT -d 10.0.0.5/32 -j REJECT --reject-with icmp-port-unreachable\n",
    );
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::Firewall);
    assert!(
        v.text.contains("a REJECT makes connects look refused"),
        "{}",
        v.text
    );
}

#[test]
fn a_reply_path_rule_blocks_too_unless_replies_are_accepted_first() {
    let mut inputs = shop_refused();
    inputs.upstreams[0].outcome = Some(Outcome::Timeout);
    iptables(
        &mut inputs,
        "-P INPUT ACCEPT\n-A INPUT -s 10.0.0.5/32 -j DROP\n",
    );
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::Firewall);
    assert!(v.text.contains("(drops the replies)"), "{}", v.text);
    iptables(
        &mut inputs,
        "-P INPUT ACCEPT\n-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n\
         -A INPUT -s 10.0.0.5/32 -j DROP\n",
    );
    assert_eq!(verdict(&inputs).cause, Cause::UpstreamDown);
}

#[test]
fn a_default_drop_policy_only_may_explain_timeouts() {
    let mut inputs = shop_refused();
    inputs.upstreams[0].outcome = Some(Outcome::Timeout);
    iptables(&mut inputs, "-P OUTPUT DROP\n");
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::Firewall);
    assert_eq!(v.status, Status::Warning);
    assert!(
        v.text
            .starts_with("the firewall may block upstream shop 10.0.0.5:8080"),
        "{}",
        v.text
    );
    assert!(
        v.next_step.contains("an ACCEPT in OUTPUT"),
        "{}",
        v.next_step
    );
    // A DROP policy does not make connects refused: the upstream is to blame then.
    inputs.upstreams[0].outcome = Some(Outcome::Refused);
    assert_eq!(verdict(&inputs).cause, Cause::UpstreamDown);
    // And a rule naming a healthy upstream is a warning finding, not the verdict.
    let mut healthy = shop_refused();
    healthy.upstreams[0] = upstream("shop", "http://10.0.0.5:8080/");
    iptables(&mut healthy, "-A OUTPUT -d 10.0.0.5/32 -j DROP\n");
    let f = findings(&healthy);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].status, Status::Warning);
    assert!(
        f[0].message.starts_with("firewall names upstream shop"),
        "{}",
        f[0].message
    );
}

#[test]
fn dns_failures_and_drift_of_an_upstream_name() {
    let mut inputs = Inputs {
        host: Some(host(0.3)),
        upstreams: vec![down("db", "tcp://db.internal:5432", Outcome::Dns)],
        dns: DnsInput {
            watched: vec!["db.internal".into()],
            names: vec![DnsNameInput {
                name: "db.internal".into(),
                resolves: Resolves::Nowhere,
                error: Some("system: NXDOMAIN: no such name".into()),
                moved_from: None,
                addresses: vec![],
            }],
            findings: vec![],
            proxy_resolvers: vec![],
        },
        ..Inputs::default()
    };
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::Dns);
    assert_eq!(
        v.text,
        "upstream db's name db.internal does not resolve (system: NXDOMAIN: no such name): \
         check the record and the nameservers (dig db.internal @NAMESERVER)"
    );
    inputs.upstreams[0] = upstream("db", "tcp://db.internal:5432");
    inputs.dns.names[0] = DnsNameInput {
        name: "db.internal".into(),
        resolves: Resolves::Everywhere,
        error: None,
        moved_from: Some(vec!["10.0.0.7".parse().unwrap()]),
        addresses: vec!["10.0.0.8".parse().unwrap()],
    };
    inputs.services.push(ServiceInput {
        name: "nginx".into(),
        status: Status::Ok,
        state: "active".into(),
    });
    let v = verdict(&inputs);
    assert_eq!((v.cause, v.status), (Cause::Dns, Status::Warning));
    assert_eq!(
        v.text,
        "upstream db's name db.internal moved: the proxy may still send to 10.0.0.7 (now \
         10.0.0.8): reload nginx so it resolves the name again"
    );
}

#[test]
fn timeouts_on_an_overloaded_host_blame_the_host() {
    let mut inputs = Inputs {
        host: Some(host(5.2)),
        upstreams: vec![
            down("shop", "http://10.0.0.5:8080/", Outcome::Timeout),
            down("api", "http://10.0.0.6:9000/", Outcome::Timeout),
        ],
        logs: vec![error_log(&[(LogCause::Timeout, 12)], &[])],
        ..Inputs::default()
    };
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::HostOverloaded);
    assert_eq!(v.status, Status::Critical);
    assert_eq!(
        v.text,
        "the proxy host is overloaded (load 5.20 is above 2 cores; 12 × \"upstream timed out \
         (110)\" in error.log, last 2 min; probes of shop, api time out): find what is busy: \
         sort the processes by CPU or memory"
    );
    assert_eq!(v.key, Some("s"));
    // One upstream that stops answering while the host is busy is its own fault.
    inputs.upstreams.pop();
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::UpstreamDown);
    assert!(v.text.contains("the host is busy"), "{}", v.text);
    inputs.host = Some(host(0.5));
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::UpstreamDown);
    assert!(v.text.contains("does not answer within 2s"), "{}", v.text);
}

#[test]
fn out_of_descriptors_or_ports_is_a_host_limit() {
    let inputs = Inputs {
        host: Some(host(0.3)),
        logs: vec![error_log(
            &[(LogCause::FdLimit, 3), (LogCause::Tls, 9)],
            &[],
        )],
        ..Inputs::default()
    };
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::HostLimits, "host limits come before tls");
    assert_eq!(
        v.text,
        "the proxy runs out of file descriptors (3 × \"(24: Too many open files)\" in error.log, \
         last 2 min; file handles 1000 of 100000): raise worker_rlimit_nofile and the service's \
         LimitNOFILE, then reload the proxy"
    );
    let mut ports = Inputs {
        host: Some(host(0.3)),
        ..Inputs::default()
    };
    if let Some(h) = ports.host.as_mut() {
        h.ports = Some(inputs::default_range(27000));
    }
    let v = verdict(&ports);
    assert_eq!(v.cause, Cause::HostLimits);
    assert!(
        v.text.starts_with(
            "the proxy host is running out of local ports (27,000 of 28,232 ephemeral ports in use)"
        ),
        "{}",
        v.text
    );
}

#[test]
fn log_only_causes_each_have_their_rule_in_priority_order() {
    let ordered = [
        (
            LogCause::Tls,
            Cause::Tls,
            "the TLS handshake with upstream shop 10.0.0.5:8080 fails",
        ),
        (
            LogCause::TooBigHeader,
            Cause::ProxyConfig,
            "upstream shop 10.0.0.5:8080's response headers do not fit the proxy's buffers",
        ),
        (
            LogCause::InvalidHeader,
            Cause::ProxyConfig,
            "upstream shop 10.0.0.5:8080 sends an invalid HTTP response",
        ),
        (
            LogCause::Unavailable,
            Cause::Backlog,
            "upstream shop 10.0.0.5:8080's listen backlog is full",
        ),
        (
            LogCause::Permission,
            Cause::Permission,
            "the proxy is denied access to upstream shop 10.0.0.5:8080",
        ),
        (
            LogCause::PrematureClose,
            Cause::UpstreamCrash,
            "upstream shop 10.0.0.5:8080 closes connections mid-response",
        ),
        (
            LogCause::Timeout,
            Cause::UpstreamSlow,
            "upstream shop 10.0.0.5:8080 is too slow for some requests",
        ),
    ];
    for (i, (log_cause, cause, headline)) in ordered.iter().enumerate() {
        // This cause and every later one at once: this one must win.
        let causes: Vec<(LogCause, u64)> = ordered[i..].iter().map(|(c, _, _)| (*c, 5)).collect();
        let inputs = Inputs {
            host: Some(host(0.3)),
            upstreams: vec![upstream("shop", "http://10.0.0.5:8080/")],
            logs: vec![error_log(&causes, &[("http://10.0.0.5:8080", 5)])],
            ..Inputs::default()
        };
        let v = verdict(&inputs);
        assert_eq!(v.cause, *cause, "{log_cause:?}: {}", v.text);
        assert_eq!(v.status, Status::Warning, "5 lines are not yet critical");
        assert!(v.text.starts_with(headline), "{log_cause:?}: {}", v.text);
        let sig = evidence::signature(*log_cause, Some(Format::NginxError));
        assert!(v.text.contains(sig), "{log_cause:?}: {}", v.text);
    }
}

#[test]
fn refused_lines_without_a_failing_probe_say_recently() {
    let inputs = Inputs {
        upstreams: vec![upstream("shop", "http://10.0.0.5:8080/")],
        logs: vec![error_log(
            &[(LogCause::Refused, 60)],
            &[("http://10.0.0.5:8080", 60)],
        )],
        ..Inputs::default()
    };
    let v = verdict(&inputs);
    assert_eq!((v.cause, v.status), (Cause::UpstreamDown, Status::Warning));
    assert!(
        v.text.starts_with(
            "upstream shop 10.0.0.5:8080 refused connections recently but answers now"
        ),
        "{}",
        v.text
    );
    let unknown = Inputs {
        logs: vec![error_log(
            &[(LogCause::Refused, 60)],
            &[("http://10.9.9.9:80", 60)],
        )],
        ..Inputs::default()
    };
    let v = verdict(&unknown);
    assert_eq!(v.status, Status::Critical, "60 lines in 10 min");
    assert!(
        v.text
            .starts_with("upstream http://10.9.9.9:80 refuses connections"),
        "{}",
        v.text
    );
}

#[test]
fn a_flapping_upstream_and_a_slow_one() {
    let mut u = upstream("shop", "http://10.0.0.5:8080/");
    u.state = Some(State::Degraded);
    u.flapping = true;
    let inputs = Inputs {
        upstreams: vec![u],
        ..Inputs::default()
    };
    let v = verdict(&inputs);
    assert_eq!(v.cause, Cause::UpstreamSlow);
    assert!(
        v.text
            .starts_with("upstream shop 10.0.0.5:8080 is flapping")
    );
}

#[test]
fn five_hundred_twos_without_a_cause_send_the_reader_to_the_error_log() {
    let mut inputs = Inputs {
        logs: vec![access_log(80)],
        ..Inputs::default()
    };
    let v = verdict(&inputs);
    assert_eq!(
        (v.cause, v.status),
        (Cause::Unexplained502, Status::Critical)
    );
    assert_eq!(
        v.text,
        "the gateway answers 502 but no cause is visible (80 × 502 in access.log, last 2 min): \
         follow the proxy's error log too ([[log]] with kind = \"error\"): it says why"
    );
    inputs.logs.push(error_log(&[], &[]));
    assert!(verdict(&inputs).next_step.starts_with("read the error log"));
}

#[test]
fn the_gateway_probe_feeds_step_one_and_the_findings() {
    let inputs = Inputs {
        gateway: Some(GatewayInput {
            url: "http://127.0.0.1/".into(),
            outcome: Some(Outcome::BadStatus),
            status_code: Some(502),
            latency: Some(Duration::from_millis(2)),
            detail: "HTTP 502 Bad Gateway, expected 100-499".into(),
        }),
        ..Inputs::default()
    };
    let d = diagnose(&inputs);
    let step = d.step(StepId::Gateway).unwrap();
    assert_eq!(step.status, Status::Critical);
    assert_eq!(step.evidence, "gateway http://127.0.0.1/ answers 502 now");
    assert_eq!(d.verdict.cause, Cause::Unexplained502);
    assert_eq!(findings(&inputs).len(), 1);
}

#[test]
fn all_quiet_is_no_cause_and_nothing_known_is_no_data() {
    let v = verdict(&Inputs::default());
    assert_eq!((v.cause, v.status), (Cause::NoData, Status::Unknown));
    let inputs = Inputs {
        host: Some(host(0.3)),
        upstreams: vec![upstream("shop", "http://10.0.0.5:8080/")],
        logs: vec![error_log(&[], &[]), access_log(0)],
        firewall: Some(Arc::new(FirewallInput::new(
            firewall::summarise(
                SystemTime::UNIX_EPOCH,
                vec![(Tool::Iptables, Ok(String::new()))],
            ),
            &[],
        ))),
        ..Inputs::default()
    };
    let d = diagnose(&inputs);
    assert_eq!(
        (d.verdict.cause, d.verdict.status),
        (Cause::NoCause, Status::Ok)
    );
    assert_eq!(d.verdict.text, "no 502 cause found (every step is ok)");
    for step in &d.steps {
        assert_eq!(step.status, Status::Ok, "{step:?}");
    }
    let text: Vec<String> = d.steps.iter().map(|s| s.evidence.clone()).collect();
    assert_eq!(
        text,
        [
            "no 502s in access.log (10 min, 0 other 5xx)",
            "load 0.30 on 2 cores, memory 40%, file handles 1000 of 100000, ephemeral ports 100 of 28232",
            "no names to resolve: every upstream is an address",
            "no 502 signatures in 10 min (error.log, access.log)",
            "1 of 1 upstreams reachable; firewall: no DROP/REJECT rules (iptables)",
            "1 of 1 up (slowest shop 4 ms)",
        ]
    );
}

#[test]
fn the_checklist_shows_each_problem_where_it_belongs() {
    let mut inputs = shop_refused();
    inputs
        .upstreams
        .push(down("edge", "http://10.0.0.9:80/", Outcome::Unreachable));
    inputs.logs.push(LogInput {
        error: Some("cannot open: Permission denied".into()),
        ..error_log(&[], &[])
    });
    let d = diagnose(&inputs);
    let get = |id| d.step(id).unwrap();
    assert_eq!(
        get(StepId::Gateway).status,
        Status::Warning,
        "30 502s: warning"
    );
    assert_eq!(
        get(StepId::Gateway).evidence,
        "30 502s in access.log (10 min, 3.0/min)"
    );
    assert_eq!(get(StepId::Logs).status, Status::Warning);
    assert_eq!(
        get(StepId::Logs).evidence,
        "error.log: 32 refused in 10 min; most at http://10.0.0.5:8080 (32) (+2 more logs)"
    );
    assert_eq!(get(StepId::Network).status, Status::Critical);
    assert_eq!(
        get(StepId::Network).evidence,
        "no route to edge 10.0.0.9:80; firewall not read yet"
    );
    assert_eq!(get(StepId::Upstreams).status, Status::Critical);
    assert_eq!(
        get(StepId::Upstreams).evidence,
        "shop 10.0.0.5:8080 refuses connections for 1m30s (+1 more down)"
    );
    assert_eq!(get(StepId::Host).status, Status::Ok);
}

#[test]
fn the_rules_table_is_complete_and_documented() {
    assert_eq!(RULES.len(), 14);
    assert_eq!(RULES[0].cause, Cause::Firewall);
    assert_eq!(RULES[RULES.len() - 1].cause, Cause::NoCause);
    let readme = include_str!("../../docs/verdicts.md");
    for rule in &RULES {
        assert!(
            readme.contains(&format!("`{}`", rule.cause.name())),
            "docs/verdicts.md's verdict table lacks {}",
            rule.cause.name()
        );
    }
}

#[test]
fn a_stopped_service_is_the_verdict_when_nothing_explains_more() {
    use super::ServiceInput;
    let inputs = Inputs {
        services: vec![
            ServiceInput {
                name: "nginx".into(),
                status: Status::Critical,
                state: "inactive (exit 3)".into(),
            },
            ServiceInput {
                name: "app".into(),
                status: Status::Ok,
                state: "active".into(),
            },
        ],
        ..Inputs::default()
    };
    let v = diagnose(&inputs).verdict;
    assert_eq!(v.cause, Cause::ServiceDown);
    assert_eq!(v.status, Status::Critical);
    assert_eq!(
        v.text,
        "service nginx is not running (its status check says: inactive (exit 3)): read why in its \
         log (journalctl -u nginx), then restart nginx"
    );
}

/// The upstream the upstreams step names first: the word its evidence starts with.
fn step6_names(d: &Diagnosis) -> String {
    d.step(StepId::Upstreams)
        .and_then(|s| s.evidence.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_upstreams_step_names_the_upstream_the_verdict_blames_first() {
    // Three down, each differently; the log blames the third: before, the step named the first
    // in config order while the verdict named the third.
    let inputs = Inputs {
        host: Some(host(0.3)),
        upstreams: vec![
            down("alpha", "http://10.0.0.4:8080/", Outcome::BadStatus),
            down("beta", "http://10.0.0.5:8080/", Outcome::Timeout),
            down("gamma", "http://10.0.0.6:8080/", Outcome::Refused),
        ],
        logs: vec![error_log(
            &[(LogCause::Refused, 40)],
            &[("http://10.0.0.6:8080", 40)],
        )],
        ..Inputs::default()
    };
    let d = diagnose(&inputs);
    assert_eq!(
        d.verdict.upstream.as_deref(),
        Some("gamma"),
        "{}",
        d.verdict.text
    );
    assert!(d.verdict.headline.starts_with("upstream gamma "));
    assert_eq!(step6_names(&d), "gamma");
    let step = d.step(StepId::Upstreams).unwrap();
    assert!(
        step.evidence.ends_with("(+2 more down)"),
        "{}",
        step.evidence
    );
    // The JSON carries which upstream it is.
    let json = serde_json::to_value(&d.verdict).unwrap();
    assert_eq!(json["upstream"], "gamma");

    // Without log lines, the verdict and the step agree on the first.
    let mut quiet = inputs.clone();
    quiet.logs.clear();
    let d = diagnose(&quiet);
    assert_eq!(d.verdict.upstream.as_deref(), Some("alpha"));
    assert_eq!(step6_names(&d), "alpha");
}

#[test]
fn a_slow_upstream_beside_a_failing_one_leaves_the_story_on_the_failing_one() {
    let mut slow = upstream("images", "http://10.0.0.7:8080/");
    slow.state = Some(State::Degraded);
    slow.latency = Some(Duration::from_millis(2500));
    let inputs = Inputs {
        host: Some(host(0.3)),
        upstreams: vec![
            slow,
            down("orders", "http://10.0.0.8:8080/", Outcome::Refused),
        ],
        ..Inputs::default()
    };
    let d = diagnose(&inputs);
    assert_eq!(d.verdict.upstream.as_deref(), Some("orders"));
    assert_eq!(step6_names(&d), "orders");

    // With nothing down, the slow one is the story everywhere.
    let mut only_slow = inputs.clone();
    only_slow.upstreams.truncate(1);
    let d = diagnose(&only_slow);
    assert_eq!(d.verdict.upstream.as_deref(), Some("images"));
    assert_eq!(step6_names(&d), "images");
}

#[test]
fn the_dns_step_is_never_ok_while_the_logs_say_names_could_not_be_resolved() {
    let mut inputs = shop_refused();
    inputs.upstreams = vec![upstream("api", "http://api.internal:9000/")];
    inputs.dns = DnsInput {
        watched: vec!["api.internal".into()],
        names: vec![DnsNameInput {
            name: "api.internal".into(),
            resolves: Resolves::Everywhere,
            addresses: vec!["10.0.0.6".parse().unwrap()],
            moved_from: None,
            error: None,
        }],
        findings: vec![],
        proxy_resolvers: vec!["127.0.0.53:53".parse().unwrap()],
    };
    inputs.logs = vec![];
    let ok = diagnose(&inputs);
    assert_eq!(ok.step(StepId::Dns).unwrap().status, Status::Ok);

    inputs.logs = vec![error_log(&[(LogCause::Dns, 3)], &[])];
    let d = diagnose(&inputs);
    let step = d.step(StepId::Dns).unwrap();
    assert_eq!(step.status, Status::Warning, "{}", step.evidence);
    assert!(
        step.evidence
            .starts_with("the proxy's log through its resolver 127.0.0.53:53 (3 × "),
        "{}",
        step.evidence
    );
    assert!(
        step.evidence
            .contains("our own lookups: 1 of 1 names resolve"),
        "{}",
        step.evidence
    );

    // Many lines: critical.
    inputs.logs = vec![error_log(
        &[(LogCause::Dns, crate::logs::CRITICAL_EVENTS)],
        &[],
    )];
    let d = diagnose(&inputs);
    assert_eq!(d.step(StepId::Dns).unwrap().status, Status::Critical);
}

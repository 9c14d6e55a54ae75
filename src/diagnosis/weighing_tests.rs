//! The verdict in the incidents that fooled it: evidence weighed by time and volume, a proxy
//! still using an old address, the proxy host's own limits, load from unrelated processes, and
//! next steps that each front end words for itself.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::logs::{Cause as LogCause, Example, Format, WindowCounts};
use crate::upstream::{Outcome, State};

fn up(name: &str, url: &str) -> UpstreamInput {
    let url: crate::config::Target = url.parse().expect("url");
    let mut u = UpstreamInput::new(name, &url, Duration::from_secs(2));
    u.state = Some(State::Up);
    u.outcome = Some(Outcome::Ok);
    u.latency = Some(Duration::from_millis(3));
    u
}

fn failing(name: &str, url: &str, outcome: Outcome, detail: &str) -> UpstreamInput {
    let mut u = up(name, url);
    u.state = Some(State::Down);
    u.outcome = Some(outcome);
    u.detail = detail.into();
    u.latency = None;
    u
}

fn counts(causes: &[(LogCause, u64)], upstreams: &[(&str, u64)]) -> WindowCounts {
    WindowCounts {
        causes: causes.iter().copied().collect::<BTreeMap<_, _>>(),
        upstreams: upstreams.iter().map(|(u, n)| (u.to_string(), *n)).collect(),
        ..WindowCounts::default()
    }
}

/// An nginx error log whose window holds `window` and whose last 2 min holds `now`.
fn error_log(window: WindowCounts, now: WindowCounts) -> LogInput {
    let mut log = LogInput::fresh("/var/log/nginx/error.log", Some(Format::NginxError), window);
    log.recent = now;
    if log.recent.events() == 0 {
        log.quiet_for = Some(Duration::from_secs(360));
    }
    log
}

fn calm_host() -> HostInput {
    HostInput {
        load1: 0.2,
        cores: 2,
        cpu_percent: 5.0,
        mem_used_percent: 30.0,
        files: Some((900, 100_000)),
        ports: Some(super::inputs::default_range(40)),
        findings: vec![],
        busiest: vec![],
    }
}

fn busy_host() -> HostInput {
    HostInput {
        load1: 7.5,
        cpu_percent: 100.0,
        findings: vec![crate::status::Finding::new(
            Status::Warning,
            "load 7.50 is above 2 cores",
        )],
        busiest: vec![("stress".into(), 48.0), ("yes".into(), 47.5)],
        ..calm_host()
    }
}

/// A calm host, upstream shop at `url` answering its probes, and an error log whose last minute
/// (and window) hold `causes`, every line naming shop.
fn shop_logging(url: &str, causes: &[(LogCause, u64)]) -> Inputs {
    let total = causes.iter().map(|(_, n)| n).sum();
    let now = counts(causes, &[(url, total)]);
    Inputs {
        host: Some(calm_host()),
        upstreams: vec![up("shop", url)],
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    }
}

/// DNS that answers `addr` for app.test through every nameserver.
fn app_test_answers(addr: &str) -> DnsInput {
    DnsInput {
        watched: vec!["app.test".into()],
        names: vec![DnsNameInput {
            name: "app.test".into(),
            resolves: Resolves::Everywhere,
            error: None,
            moved_from: None,
            addresses: vec![addr.parse().unwrap()],
        }],
        ..DnsInput::default()
    }
}

fn judge(inputs: &Inputs) -> Verdict {
    diagnose(inputs).verdict
}

fn with_example(mut c: WindowCounts, cause: LogCause, text: &str, line: u64) -> WindowCounts {
    c.examples.insert(
        cause,
        Example {
            text: text.into(),
            upstream: c.upstreams.first().map(|(u, _)| u.clone()),
            time: None,
            line: Some(line),
        },
    );
    c
}

#[test]
fn one_refused_line_from_a_restart_does_not_outweigh_many_tls_errors() {
    let inputs = shop_logging(
        "http://10.0.0.5:8443/",
        &[(LogCause::Refused, 1), (LogCause::Tls, 167)],
    );
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::Tls, "{}", v.text);
    assert_eq!(v.status, Status::Critical, "167 lines");
    assert!(v.headline.contains("10.0.0.5:8443"), "{}", v.headline);
}

#[test]
fn one_refused_line_does_not_outweigh_timeouts_or_too_big_headers() {
    for (cause, want) in [
        (LogCause::Timeout, Cause::UpstreamSlow),
        (LogCause::TooBigHeader, Cause::ProxyConfig),
    ] {
        let now = counts(
            &[(LogCause::Refused, 1), (cause, 42)],
            &[("http://10.0.0.5:8080/", 43)],
        );
        let inputs = Inputs {
            host: Some(calm_host()),
            upstreams: vec![up("shop", "http://10.0.0.5:8080/")],
            logs: vec![error_log(now.clone(), now)],
            ..Inputs::default()
        };
        assert_eq!(judge(&inputs).cause, want, "{cause:?}");
    }
}

#[test]
fn a_cause_that_stopped_is_history_not_the_verdict() {
    let window = counts(&[(LogCause::Refused, 40)], &[("http://10.0.0.5:8080/", 40)]);
    let mut inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![up("shop", "http://10.0.0.5:8080/")],
        logs: vec![error_log(window, WindowCounts::default())],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::NoCause, "{}", v.text);
    assert_eq!(v.status, Status::Ok);
    assert!(
        v.evidence[0].text.starts_with("earlier: upstream shop")
            && v.evidence[0].text.ends_with("none for 6 min"),
        "{:?}",
        v.evidence
    );
    // Nothing shows it stopped (no probe answers): it stands, as a warning.
    inputs.upstreams.clear();
    let v = judge(&inputs);
    assert_eq!(
        (v.cause, v.status),
        (Cause::UpstreamDown, Status::Warning),
        "{}",
        v.text
    );
    assert!(v.text.contains("none for 6 min"), "{}", v.text);
}

#[test]
fn nginx_still_connecting_to_an_old_address_is_stale_dns_even_in_one_shot() {
    let now = counts(
        &[(LogCause::Refused, 12)],
        &[("http://127.0.0.2:8080/", 12)],
    );
    let mut app = up("app", "http://app.test:8080/");
    app.add_addr("127.0.0.3".parse().unwrap());
    app.source = "/etc/nginx/sites-enabled/app:14".into();
    let mut inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![app],
        dns: app_test_answers("127.0.0.3"),
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!((v.cause, v.status), (Cause::Dns, Status::Critical));
    assert_eq!(
        v.headline,
        "nginx still connects to 127.0.0.2 for app.test (from \
         /etc/nginx/sites-enabled/app:14); DNS now answers 127.0.0.3"
    );
    assert!(
        v.next_step
            .starts_with("reload the proxy so it resolves the name again")
    );
    let sources: Vec<&str> = v.evidence.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(sources, ["error.log", "dns", "probe"]);
    // With nginx as a service, the dashboard offers the reload; `check` never says "(a)".
    inputs.services.push(ServiceInput {
        name: "nginx".into(),
        status: Status::Ok,
        state: "active".into(),
    });
    let v = judge(&inputs);
    assert!(
        v.next_step.starts_with("reload nginx so"),
        "{}",
        v.next_step
    );
    assert!(!v.text.contains("(a)"), "{}", v.text);
    assert!(
        v.next_step_keyed().ends_with("(a)"),
        "{}",
        v.next_step_keyed()
    );
}

#[test]
fn the_hosts_own_limits_are_never_an_upstream_down() {
    let ports = failing(
        "shop",
        "http://10.0.0.5:8080/",
        Outcome::LocalLimit,
        "no local port free (99: Cannot assign requested address)",
    );
    let inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![ports],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!((v.cause, v.status), (Cause::HostLimits, Status::Critical));
    assert_eq!(v.headline, "the proxy host has run out of local ports");
    assert!(
        v.next_step.contains("ip_local_port_range"),
        "{}",
        v.next_step
    );
    assert!(v.next_step.contains("tcp_tw_reuse"), "{}", v.next_step);

    // Too many open files: a few lines beat many timeouts.
    let inputs = shop_logging(
        "http://10.0.0.5:8080/",
        &[(LogCause::FdLimit, 5), (LogCause::Timeout, 42)],
    );
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::HostLimits, "{}", v.text);
    assert_eq!(v.headline, "the proxy runs out of file descriptors");
}

#[test]
fn a_saturated_pool_is_a_full_backlog_not_a_restart() {
    let php = failing(
        "php",
        "unix:/run/php/php8.2-fpm.sock",
        Outcome::Busy,
        "listen queue full (11: Resource temporarily unavailable)",
    );
    let now = with_example(
        counts(
            &[(LogCause::Unavailable, 2000)],
            &[("fastcgi://unix:/run/php/php8.2-fpm.sock:", 2000)],
        ),
        LogCause::Unavailable,
        "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily \
         unavailable) while connecting to upstream",
        981,
    );
    let inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![php],
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::Backlog, "{}", v.text);
    assert!(v.next_step.contains("pm.max_children"), "{}", v.next_step);
    assert!(!v.text.contains("restart"), "{}", v.text);
    assert_eq!(v.evidence[1].source, "error.log:981");
    assert!(
        v.evidence[1]
            .text
            .contains("\"connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable)\""),
        "{:?}",
        v.evidence
    );
}

#[test]
fn a_missing_socket_is_said_in_nginx_words() {
    let now = with_example(
        counts(
            &[(LogCause::NoSocket, 9)],
            &[("fastcgi://unix:/run/php/php8.2-fpm.sock:", 9)],
        ),
        LogCause::NoSocket,
        "connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) \
         while connecting to upstream",
        77,
    );
    let inputs = Inputs {
        host: Some(calm_host()),
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::UpstreamDown, "{}", v.text);
    assert!(
        v.headline.contains("socket file is missing"),
        "{}",
        v.headline
    );
    assert!(
        v.text.contains("(2: No such file or directory)"),
        "{}",
        v.text
    );
    assert!(!v.text.contains("111"), "{}", v.text);
}

#[test]
fn load_is_a_cause_only_with_timeouts_and_never_for_one_frozen_upstream() {
    // A healthy proxy on a busy host: no cause.
    let inputs = Inputs {
        host: Some(busy_host()),
        upstreams: vec![up("shop", "http://10.0.0.5:8080/")],
        ..Inputs::default()
    };
    assert_eq!(judge(&inputs).cause, Cause::NoCause);

    // One upstream frozen while another answers: the upstream's own fault.
    let frozen = failing(
        "shop",
        "http://10.0.0.5:8080/",
        Outcome::Timeout,
        "timed out",
    );
    let inputs = Inputs {
        host: Some(busy_host()),
        upstreams: vec![frozen, up("api", "http://10.0.0.6:8080/")],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::UpstreamDown, "{}", v.text);
    assert!(v.headline.contains("does not answer"), "{}", v.headline);

    // Requests time out while probes pass and the host is busy: the host, naming who is busy.
    let now = counts(&[(LogCause::Timeout, 30)], &[("http://10.0.0.5:8080/", 30)]);
    let mut slow = up("shop", "http://10.0.0.5:8080/");
    slow.state = Some(State::Degraded);
    slow.latency = Some(Duration::from_millis(1800));
    let inputs = Inputs {
        host: Some(busy_host()),
        upstreams: vec![slow],
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::HostOverloaded, "{}", v.text);
    assert!(
        v.text.contains("busiest: stress 48.0%, yes 47.5%"),
        "{}",
        v.text
    );
}

#[test]
fn next_steps_carry_their_key_apart_from_their_words() {
    let inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![failing(
            "shop",
            "http://10.0.0.5:8080/",
            Outcome::Refused,
            "connection refused",
        )],
        services: vec![ServiceInput {
            name: "shop".into(),
            status: Status::Ok,
            state: "active".into(),
        }],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.next_step, "is its process running? restart shop");
    assert_eq!(v.key, Some("a"));
    assert_eq!(
        v.next_step_keyed(),
        "is its process running? restart shop (a)"
    );
    assert!(v.line(true).ends_with("restart shop (a)"));
    assert!(v.text.ends_with("restart shop"));
    let json = serde_json::to_value(&v).expect("json");
    assert_eq!(json["evidence"][0]["source"], "probe");
    assert!(json.get("key").is_none());
}

#[test]
fn an_address_written_in_the_config_is_never_taken_for_a_stale_one() {
    // 10.0.0.5:8080 is its own upstream, written as an address; app.test shares the port.
    let now = counts(&[(LogCause::Refused, 12)], &[("http://10.0.0.5:8080/", 12)]);
    let mut app = up("app", "http://app.test:8080/");
    app.add_addr("10.0.0.9".parse().unwrap());
    let inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![
            failing("shop", "http://10.0.0.5:8080/", Outcome::Refused, ""),
            app,
        ],
        dns: app_test_answers("10.0.0.9"),
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::UpstreamDown, "{}", v.text);
    assert!(v.headline.starts_with("upstream shop"), "{}", v.headline);
}

#[test]
fn a_name_the_proxy_cannot_resolve_is_named_with_its_resolver() {
    let now = with_example(
        counts(&[(LogCause::Dns, 7)], &[]),
        LogCause::Dns,
        "api.internal could not be resolved (110: Operation timed out)",
        40,
    );
    let mut inputs = Inputs {
        host: Some(calm_host()),
        logs: vec![error_log(now.clone(), now)],
        ..Inputs::default()
    };
    inputs.dns.proxy_resolvers = vec!["127.0.0.53:53".parse().unwrap()];
    let d = diagnose(&inputs);
    let v = &d.verdict;
    assert_eq!(v.cause, Cause::Dns);
    assert_eq!(v.headline, "the proxy cannot resolve api.internal");
    assert!(v.text.contains("(110: Operation timed out)"), "{}", v.text);
    assert!(
        v.text.contains("the proxy asks 127.0.0.53:53"),
        "{}",
        v.text
    );
    assert_eq!(v.evidence[0].source, "error.log:40");
    // The DNS step does not say all is well while the log says a name failed.
    let step = d.step(StepId::Dns).unwrap();
    assert_eq!(step.status, Status::Warning);
    assert!(
        step.evidence.contains("api.internal could not be resolved"),
        "{}",
        step.evidence
    );
}

#[test]
fn resets_while_fresh_probes_pass_point_at_keepalive() {
    let inputs = shop_logging(
        "http://10.0.0.5:8080/",
        &[(LogCause::PrematureClose, 6), (LogCause::Reset, 2)],
    );
    let v = judge(&inputs);
    assert_eq!(v.cause, Cause::UpstreamCrash, "{}", v.text);
    assert!(v.next_step.contains("keepalive timeout"), "{}", v.next_step);
    assert!(v.text.contains("answers fresh connections"), "{}", v.text);
    // Without fresh connections that pass, it is crashing.
    let mut crashing = inputs.clone();
    crashing.upstreams.clear();
    let v = judge(&crashing);
    assert!(v.next_step.contains("crashes"), "{}", v.next_step);
}

#[test]
fn an_upstream_this_host_cannot_probe_is_not_waiting_for_probes() {
    let mut shop = up("shop", "http://10.0.0.5:8080/");
    shop.state = None;
    shop.outcome = Some(Outcome::LocalLimit);
    shop.detail = "no local port free (99: Cannot assign requested address)".into();
    let inputs = Inputs {
        host: Some(calm_host()),
        upstreams: vec![shop],
        ..Inputs::default()
    };
    let d = diagnose(&inputs);
    let step = d.step(StepId::Upstreams).unwrap();
    assert_eq!(step.status, Status::Unknown);
    assert_eq!(
        step.evidence,
        "shop 10.0.0.5:8080 cannot be probed from this host: no local port free (99: Cannot \
         assign requested address)"
    );
    assert_eq!(d.verdict.cause, Cause::HostLimits);
}

#[test]
fn requests_served_now_make_a_stopped_cause_history_too() {
    let window = counts(&[(LogCause::TooBigHeader, 30)], &[]);
    let mut access = LogInput::fresh(
        "/var/log/nginx/access.log",
        Some(Format::Access),
        WindowCounts {
            requests: 40,
            failed_requests: 30,
            status_502: 30,
            status_5xx: 30,
            ..WindowCounts::default()
        },
    );
    access.recent = WindowCounts {
        requests: 10,
        ..WindowCounts::default()
    };
    let inputs = Inputs {
        host: Some(calm_host()),
        logs: vec![error_log(window, WindowCounts::default()), access],
        ..Inputs::default()
    };
    let v = judge(&inputs);
    assert_eq!(
        (v.cause, v.status),
        (Cause::NoCause, Status::Ok),
        "{}",
        v.text
    );
    assert!(
        v.evidence[0]
            .text
            .starts_with("earlier: an upstream's response headers do not fit"),
        "{:?}",
        v.evidence
    );
}

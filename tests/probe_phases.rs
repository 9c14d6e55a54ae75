//! Per-phase probe timings against real loopback servers: a slow answer shows in `first_byte`, not
//! in `connect`; an https upstream has a `tls` phase; a refused connect has no phase after it;
//! tcp:// and unix: targets have only the phases they go through.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::time::Duration;

use gatewatch::upstream::{Outcome, Phases, ProbeResult, probe_once};
use servers::{Behaviour, Server, refusing_port};

fn upstream(url: &str) -> gatewatch::config::Upstream {
    let mut u = common::upstream("shop-api", url, Duration::from_secs(3));
    u.tls_verify = false;
    u
}

/// Phases never add up to more than the whole probe.
fn assert_within_total(result: &ProbeResult) {
    let p = result.phases;
    let sum: Duration = [p.resolve, p.connect, p.tls, p.first_byte]
        .iter()
        .flatten()
        .sum();
    let total = p.total.expect("a total");
    assert_eq!(total, result.elapsed, "{result:#?}");
    assert!(sum <= total, "{result:#?}");
}

#[tokio::test]
async fn a_slow_answer_is_a_long_first_byte_after_a_quick_connect() {
    let server = Server::start(Behaviour::slow(Duration::from_secs(1))).await;
    // `localhost` comes from /etc/hosts: a lookup without any DNS traffic.
    let url = format!("http://localhost:{}/", server.port());
    let result = probe_once(&upstream(&url)).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let p = result.phases;
    assert!(p.resolve.is_some(), "{result:#?}");
    let connect = p.connect.expect("a connect phase");
    assert!(connect < Duration::from_millis(500), "{result:#?}");
    assert_eq!(p.tls, None, "plain http has no handshake: {result:#?}");
    let first_byte = p.first_byte.expect("a first byte");
    assert!(first_byte >= Duration::from_secs(1), "{result:#?}");
    assert!(first_byte < Duration::from_secs(3), "{result:#?}");
    assert_within_total(&result);

    // An IP literal needs no lookup.
    let literal = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_eq!(literal.phases.resolve, None, "{literal:#?}");
    assert!(literal.phases.connect.is_some(), "{literal:#?}");

    // The JSON carries them for scripts, in milliseconds.
    let json = serde_json::to_value(&result).expect("serialises");
    let ms = json["phases"]["first_byte_ms"]
        .as_f64()
        .expect("first_byte_ms");
    assert!(ms >= 1000.0, "{json}");
    assert!(json["phases"].get("tls_ms").is_none(), "{json}");
}

#[tokio::test]
async fn an_https_upstream_has_a_handshake_between_connect_and_first_byte() {
    let server = Server::start_tls(Behaviour::status(200)).await;
    let result = probe_once(&upstream(&server.url("https", "/"))).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let p = result.phases;
    assert!(p.connect.is_some(), "{result:#?}");
    assert!(p.tls.is_some_and(|t| t > Duration::ZERO), "{result:#?}");
    assert!(p.first_byte.is_some(), "{result:#?}");
    assert_within_total(&result);

    // Verified, the self-signed certificate fails the handshake: its time is still the handshake's,
    // and no request was sent.
    let mut verified = upstream(&server.url("https", "/"));
    verified.tls_verify = true;
    let rejected = probe_once(&verified).await;
    assert_eq!(rejected.outcome, Outcome::Tls, "{rejected:#?}");
    assert!(rejected.phases.connect.is_some(), "{rejected:#?}");
    assert!(rejected.phases.tls.is_some(), "{rejected:#?}");
    assert_eq!(rejected.phases.first_byte, None, "{rejected:#?}");
}

#[tokio::test]
async fn a_refused_connect_has_no_phase_after_it() {
    let port = refusing_port();
    for url in [
        format!("http://127.0.0.1:{}/", port.port),
        format!("https://127.0.0.1:{}/", port.port),
        format!("tcp://127.0.0.1:{}", port.port),
    ] {
        let result = probe_once(&upstream(&url)).await;
        assert_eq!(result.outcome, Outcome::Refused, "{url}: {result:#?}");
        let p = result.phases;
        assert!(p.connect.is_some(), "{url}: {result:#?}");
        assert_eq!((p.tls, p.first_byte), (None, None), "{url}: {result:#?}");
        assert_within_total(&result);
    }
}

#[tokio::test]
async fn tcp_targets_resolve_and_connect_and_unix_ones_only_connect() {
    let server = Server::start(Behaviour::status(200)).await;
    let result = probe_once(&upstream(&format!("tcp://localhost:{}", server.port()))).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let p = result.phases;
    assert!(p.resolve.is_some() && p.connect.is_some(), "{result:#?}");
    assert_eq!((p.tls, p.first_byte), (None, None), "{result:#?}");
    assert_within_total(&result);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.sock");
    let _listener = tokio::net::UnixListener::bind(&path).expect("bind unix socket");
    let result = probe_once(&upstream(&format!("unix:{}", path.display()))).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let expected = Phases {
        connect: result.phases.connect,
        total: result.phases.total,
        ..Phases::default()
    };
    assert_eq!(result.phases, expected, "{result:#?}");
    assert!(result.phases.connect.is_some(), "{result:#?}");
    assert_within_total(&result);
}

/// A real nginx gives up on a slow upstream after its `proxy_read_timeout` (504); discovery reads
/// that limit from nginx's own config, and the probe's `first_byte` shows the upstream is slower
/// than it, while its connect is well within `proxy_connect_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_gives_up_at_its_read_timeout_and_the_phases_say_why() {
    use common::nginx::Nginx;

    let server = Server::start(Behaviour::slow(Duration::from_millis(1500))).await;
    let port = server.port();
    let nginx = tokio::task::spawn_blocking(move || {
        Nginx::start(
            "  proxy_connect_timeout 2s;\n",
            &format!(
                "    location / {{\n      proxy_pass http://127.0.0.1:{port};\n      \
                 proxy_read_timeout 1s;\n    }}\n"
            ),
        )
    })
    .await
    .expect("nginx started");
    let (status, nginx) = tokio::task::spawn_blocking(move || (nginx.get("/report").0, nginx))
        .await
        .expect("a request through nginx");
    assert_eq!(status, 504, "{}", nginx.error_log());

    let found = gatewatch::discover::nginx(&nginx.conf);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let target = found
        .targets
        .iter()
        .find(|t| t.name == format!("127.0.0.1:{port}"))
        .expect("the proxied server");
    let limits = target.limits.as_ref().expect("nginx's limits");
    assert_eq!(limits.connect_timeout.value, Duration::from_secs(2));
    assert_eq!(limits.read_timeout.value, Duration::from_secs(1));
    let text = std::fs::read_to_string(&nginx.conf).expect("conf");
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    let read_at = limits
        .read_timeout
        .from
        .as_ref()
        .expect("set in the config");
    assert_eq!(Some(read_at.line), line_of("proxy_read_timeout 1s"));
    assert_eq!(read_at.file, nginx.conf);

    let result = probe_once(&upstream(&server.url("http", "/report"))).await;
    let p = result.phases;
    assert!(
        p.first_byte.expect("a first byte") > limits.read_timeout.value,
        "{result:#?}"
    );
    assert!(
        p.connect.expect("a connect") < limits.connect_timeout.value,
        "{result:#?}"
    );
}
